// SPDX-License-Identifier: GPL-2.0
/*
 * Parsing of numbers, prefixes and interface names, and the bit helpers
 * the MAP-E arithmetic needs. Input comes from users and from a table of
 * unofficial provenance, so every parser rejects rather than guesses.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mapecalc.h"

/*
 * Format a one-line reason into err. Control characters (a newline in an
 * argument, say) are replaced so the message stays one line on stderr.
 */
int mapecalc_fail(char *err, const char *fmt, ...)
{
	va_list ap;
	char *c;

	va_start(ap, fmt);
	vsnprintf(err, MAPECALC_ERRLEN, fmt, ap);
	va_end(ap);
	for (c = err; *c; c++)
		if (iscntrl((unsigned char)*c))
			*c = '?';
	return -1;
}

/*
 * Decimal only: strtoul alone would accept leading blanks, a sign ("-1"
 * wraps to ULONG_MAX), "0x" with base 0 and trailing garbage.
 */
int mapecalc_parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	unsigned long v;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* Split "addr/len" into buf (the address) and the length text, if any. */
static int split_prefix(const char *s, char *buf, size_t bufsz,
			const char **len)
{
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);

	if (alen == 0 || alen >= bufsz)
		return -1;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	*len = slash ? slash + 1 : NULL;
	return 0;
}

int mapecalc_parse_prefix6(const char *s, struct mapecalc_prefix *p,
			   char *err)
{
	char buf[INET6_ADDRSTRLEN];
	const char *len_s;
	uint32_t len = 128;

	if (split_prefix(s, buf, sizeof(buf), &len_s) ||
	    inet_pton(AF_INET6, buf, &p->addr) != 1)
		return mapecalc_fail(err, "'%.80s' is not an IPv6 prefix or address", s);
	if (len_s && mapecalc_parse_u32(len_s, 128, &len))
		return mapecalc_fail(err, "'%.80s': prefix length must be 0..128", s);
	p->len = len;
	p->len_given = len_s != NULL;
	/* "240b:10:abcd:ef12::1/56" as ip(8) prints it means the /56 */
	mapecalc_mask6(&p->addr, len);
	return 0;
}

/*
 * Rule prefixes are stricter than the user's: a rule with bits set after
 * its length is a typo or a corrupted table line, not something to mask.
 */
int mapecalc_parse_rule6(const char *s, struct in6_addr *a, unsigned int *len,
			 char *err)
{
	struct in6_addr m;
	char buf[INET6_ADDRSTRLEN];
	const char *len_s;
	uint32_t l;

	if (split_prefix(s, buf, sizeof(buf), &len_s) ||
	    inet_pton(AF_INET6, buf, a) != 1)
		return mapecalc_fail(err, "'%.80s' is not an IPv6 prefix", s);
	if (!len_s || mapecalc_parse_u32(len_s, 128, &l))
		return mapecalc_fail(err, "'%.80s': needs a prefix length /0../128", s);
	m = *a;
	mapecalc_mask6(&m, l);
	if (memcmp(&m, a, sizeof(m)))
		return mapecalc_fail(err, "'%.80s' has bits set after /%u", s, l);
	*len = l;
	return 0;
}

int mapecalc_parse_rule4(const char *s, struct in_addr *a, unsigned int *len,
			 char *err)
{
	char buf[INET_ADDRSTRLEN];
	const char *len_s;
	uint32_t l, host;

	if (split_prefix(s, buf, sizeof(buf), &len_s) ||
	    inet_pton(AF_INET, buf, a) != 1)
		return mapecalc_fail(err, "'%.80s' is not an IPv4 prefix", s);
	if (!len_s || mapecalc_parse_u32(len_s, 32, &l))
		return mapecalc_fail(err, "'%.80s': needs a prefix length /0../32", s);
	host = l == 32 ? 0 : 0xffffffffu >> l;
	if (ntohl(a->s_addr) & host)
		return mapecalc_fail(err, "'%.80s' has bits set after /%u", s, l);
	*len = l;
	return 0;
}

int mapecalc_parse_addr6(const char *s, struct in6_addr *a, char *err)
{
	if (inet_pton(AF_INET6, s, a) != 1)
		return mapecalc_fail(err, "'%.80s' is not an IPv6 address", s);
	return 0;
}

/*
 * Names end up in commands meant to be run by a shell, so allow only what
 * needs no quoting, within the kernel's IFNAMSIZ - 1.
 */
int mapecalc_check_ifname(const char *s, const char *what, char *err)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 15)
		return mapecalc_fail(err, "bad %s '%.80s': 1..15 characters", what, s);
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return mapecalc_fail(err,
					     "bad %s '%.80s': use letters, digits, '.', '_', '-'",
					     what, s);
	return 0;
}

/* Bits start .. start+n-1 of a (bit 0 = most significant), n <= 64. */
uint64_t mapecalc_bits(const struct in6_addr *a, unsigned int start,
		       unsigned int n)
{
	uint64_t v = 0;
	unsigned int i, bit;

	for (i = 0; i < n; i++) {
		bit = start + i;
		v = (v << 1) | ((a->s6_addr[bit / 8] >> (7 - bit % 8)) & 1);
	}
	return v;
}

/* Clear every bit after the first len. */
void mapecalc_mask6(struct in6_addr *a, unsigned int len)
{
	unsigned int i;

	for (i = 0; i < 16; i++) {
		if (len >= 8 * (i + 1))
			continue;
		if (len <= 8 * i)
			a->s6_addr[i] = 0;
		else
			a->s6_addr[i] &= (uint8_t)(0xff00 >> (len - 8 * i));
	}
}

bool mapecalc_match6(const struct in6_addr *a, const struct in6_addr *b,
		     unsigned int len)
{
	struct in6_addr x = *a, y = *b;

	mapecalc_mask6(&x, len);
	mapecalc_mask6(&y, len);
	return memcmp(&x, &y, sizeof(x)) == 0;
}

void mapecalc_ntop6(const struct in6_addr *a, char *buf)
{
	inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN);
}

void mapecalc_ntop4(struct in_addr a, char *buf)
{
	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}
