// SPDX-License-Identifier: GPL-2.0
/*
 * The Basic Mapping Rule table: a CSV file
 *
 *   service,rule_ipv6_prefix,rule_ipv4_prefix,ea_len,psid_offset,psid_len,br_ipv6
 *
 * with '#' comment lines and that header line. The shipped table is
 * community-compiled, so a line that does not add up (psid_len against
 * ea_len and the IPv4 prefix, bits after a prefix length, a duplicated
 * rule prefix) stops the load instead of producing a wrong address later.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mapecalc.h"

#define NFIELDS		7
#define LINE_MAX_LEN	1024

static const char csv_header[] =
	"service,rule_ipv6_prefix,rule_ipv4_prefix,ea_len,psid_offset,psid_len,br_ipv6";

/*
 * Services known to use the legacy (draft-ietf-softwire-map-03) interface
 * id: the Japanese IPoE MAP-E services of the shipped table.
 */
static const char *const legacy_services[] = {
	"v6plus", "ocn-virtual-connect", "ocn", "ipv6-option",
};

bool mapecalc_service_is_legacy(const char *service)
{
	size_t i;

	for (i = 0; i < sizeof(legacy_services) / sizeof(legacy_services[0]); i++)
		if (!strcasecmp(service, legacy_services[i]))
			return true;
	return false;
}

unsigned int mapecalc_psid_len(const struct mapecalc_rule *r)
{
	unsigned int v4bits = 32 - r->ip4_len;

	return r->ea_len > v4bits ? r->ea_len - v4bits : 0;
}

/* Limits that make the rule computable at all, whatever the prefix. */
int mapecalc_rule_check(const struct mapecalc_rule *r, char *err)
{
	char p6[INET6_ADDRSTRLEN];
	unsigned int k;

	mapecalc_ntop6(&r->ip6, p6);
	if (r->ip4_len > 32)
		return mapecalc_fail(err, "rule IPv4 prefix length /%u: at most /32",
				     r->ip4_len);
	if (r->ea_len > MAPECALC_EA_MAX)
		return mapecalc_fail(err, "EA-bits length %u: at most %u",
				     r->ea_len, MAPECALC_EA_MAX);
	if (r->ip6_len + r->ea_len > MAPECALC_IID_BITS)
		return mapecalc_fail(err,
				     "rule %s/%u with %u EA bits needs a /%u end-user prefix; the EA bits must end by bit 64",
				     p6, r->ip6_len, r->ea_len, r->ip6_len + r->ea_len);
	if (r->psid_offset > MAPE_PSID_OFFSET_MAX)
		return mapecalc_fail(err, "PSID offset %u: must be 0..%u",
				     r->psid_offset, MAPE_PSID_OFFSET_MAX);
	k = mapecalc_psid_len(r);
	if (k > MAPE_PORT_BITS)
		return mapecalc_fail(err,
				     "%u EA bits with an IPv4 /%u leave a %u-bit PSID: at most 16",
				     r->ea_len, r->ip4_len, k);
	if (r->psid_offset + k > MAPE_PORT_BITS)
		return mapecalc_fail(err,
				     "PSID offset %u + PSID length %u exceed 16 bits",
				     r->psid_offset, k);
	if (r->psid_len >= 0 && (unsigned int)r->psid_len != k)
		return mapecalc_fail(err,
				     "psid_len %d disagrees with ea_len - (32 - IPv4 prefix length) = %u",
				     r->psid_len, k);
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
			 e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* Service names reach shell and JSON output: keep them plain. */
static int check_service(const char *s, char *err)
{
	size_t i, n = strlen(s);

	if (n == 0 || n >= MAPECALC_SERVICE_MAX)
		return mapecalc_fail(err, "service name must be 1..%d characters",
				     MAPECALC_SERVICE_MAX - 1);
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._+-", s[i]))
			return mapecalc_fail(err, "service name '%.60s': use letters, digits, '.', '_', '+', '-'",
					     s);
	return 0;
}

static int parse_line(char *line, struct mapecalc_rule *r, char *err)
{
	char *f[NFIELDS], *p = line, *c;
	uint32_t v;
	int n = 0;

	for (;;) {
		if (n == NFIELDS)
			return mapecalc_fail(err, "want %d comma-separated fields, not more",
					     NFIELDS);
		f[n++] = p;
		c = strchr(p, ',');
		if (!c)
			break;
		*c = '\0';
		p = c + 1;
	}
	if (n != NFIELDS)
		return mapecalc_fail(err, "want %d comma-separated fields, got %d",
				     NFIELDS, n);
	for (n = 0; n < NFIELDS; n++)
		f[n] = trim(f[n]);

	memset(r, 0, sizeof(*r));
	if (check_service(f[0], err))
		return -1;
	strcpy(r->service, f[0]);
	if (mapecalc_parse_rule6(f[1], &r->ip6, &r->ip6_len, err) ||
	    mapecalc_parse_rule4(f[2], &r->ip4, &r->ip4_len, err))
		return -1;
	if (mapecalc_parse_u32(f[3], MAPECALC_EA_MAX, &v))
		return mapecalc_fail(err, "ea_len '%.20s': want 0..%u", f[3],
				     MAPECALC_EA_MAX);
	r->ea_len = v;
	if (mapecalc_parse_u32(f[4], MAPE_PSID_OFFSET_MAX, &v))
		return mapecalc_fail(err, "psid_offset '%.20s': want 0..%u", f[4],
				     MAPE_PSID_OFFSET_MAX);
	r->psid_offset = v;
	if (mapecalc_parse_u32(f[5], MAPE_PORT_BITS, &v))
		return mapecalc_fail(err, "psid_len '%.20s': want 0..16", f[5]);
	r->psid_len = (int)v;
	if (f[6][0]) {
		if (mapecalc_parse_addr6(f[6], &r->br, err))
			return -1;
		r->has_br = true;
	}
	return mapecalc_rule_check(r, err);
}

static int table_add(struct mapecalc_table *t, const struct mapecalc_rule *r)
{
	struct mapecalc_rule *n;
	size_t cap;

	if (t->n == t->cap) {
		cap = t->cap ? 2 * t->cap : 256;
		n = realloc(t->rules, cap * sizeof(*n));
		if (!n)
			return -1;
		t->rules = n;
		t->cap = cap;
	}
	t->rules[t->n++] = *r;
	return 0;
}

/* Two lines for one rule prefix would make the lookup order-dependent. */
static const struct mapecalc_rule *find_same(const struct mapecalc_table *t,
					     const struct mapecalc_rule *r)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->rules[i].ip6_len == r->ip6_len &&
		    !memcmp(&t->rules[i].ip6, &r->ip6, sizeof(r->ip6)))
			return &t->rules[i];
	return NULL;
}

int mapecalc_table_load(struct mapecalc_table *t, FILE *f, const char *name,
			char *err)
{
	char buf[LINE_MAX_LEN], why[MAPECALC_ERRLEN], *s;
	const struct mapecalc_rule *dup;
	struct mapecalc_rule r;
	unsigned int lineno = 0;
	bool header_seen = false;

	memset(t, 0, sizeof(*t));
	while (fgets(buf, sizeof(buf), f)) {
		lineno++;
		if (!strchr(buf, '\n') && !feof(f))
			goto bad_long;
		s = trim(buf);
		if (!*s || *s == '#')
			continue;
		if (!header_seen && !t->n && !strcmp(s, csv_header)) {
			header_seen = true;
			continue;
		}
		if (parse_line(s, &r, why)) {
			mapecalc_fail(err, "%s:%u: %s", name, lineno, why);
			goto fail;
		}
		r.line = lineno;
		dup = find_same(t, &r);
		if (dup) {
			mapecalc_fail(err, "%s:%u: rule prefix repeats line %u",
				      name, lineno, dup->line);
			goto fail;
		}
		if (table_add(t, &r)) {
			mapecalc_fail(err, "%s: out of memory", name);
			goto fail;
		}
	}
	if (ferror(f)) {
		mapecalc_fail(err, "%s: read error", name);
		goto fail;
	}
	if (!t->n) {
		mapecalc_fail(err, "%s: no rules in the file", name);
		goto fail;
	}
	return 0;

bad_long:
	mapecalc_fail(err, "%s:%u: line longer than %d characters", name,
		      lineno, LINE_MAX_LEN - 2);
fail:
	mapecalc_table_free(t);
	return -1;
}

void mapecalc_table_free(struct mapecalc_table *t)
{
	free(t->rules);
	memset(t, 0, sizeof(*t));
}

/*
 * Longest match of the rule IPv6 prefix. A prefix shorter than the rules
 * it spans gets a message naming one of them: "matches no rule" would
 * send the user looking for a missing table entry instead.
 */
const struct mapecalc_rule *
mapecalc_table_lookup(const struct mapecalc_table *t,
		      const struct mapecalc_prefix *p, char *err)
{
	const struct mapecalc_rule *best = NULL, *inside = NULL, *r;
	char p6[INET6_ADDRSTRLEN], r6[INET6_ADDRSTRLEN];
	size_t i;

	for (i = 0; i < t->n; i++) {
		r = &t->rules[i];
		if (r->ip6_len <= p->len) {
			if (mapecalc_match6(&p->addr, &r->ip6, r->ip6_len) &&
			    (!best || r->ip6_len > best->ip6_len))
				best = r;
		} else if (!inside && mapecalc_match6(&p->addr, &r->ip6, p->len)) {
			inside = r;
		}
	}
	if (best)
		return best;

	mapecalc_ntop6(&p->addr, p6);
	if (inside) {
		mapecalc_ntop6(&inside->ip6, r6);
		mapecalc_fail(err,
			      "prefix /%u too short for this rule: needs /%u (%s/%u is shorter than rule %s/%u, %s)",
			      p->len, inside->ip6_len + inside->ea_len, p6, p->len,
			      r6, inside->ip6_len, inside->service);
	} else if (p->len_given) {
		mapecalc_fail(err, "%s/%u matches no rule in the table", p6, p->len);
	} else {
		mapecalc_fail(err, "%s matches no rule in the table", p6);
	}
	return NULL;
}
