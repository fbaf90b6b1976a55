// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the mapecalc library (parsing, the rule table, RFC 7597
 * 5.2/6 arithmetic).
 *
 * Expected values are either the published examples (RFC 7597 Appendix A,
 * REFERENCE.md) or, for the table-wide test, computed here with a separate
 * code path: the CSV is read with its own parser, addresses are handled
 * as unsigned __int128 and split with shifts, never with mapecalc_bits().
 *
 * Usage: lib_test [TABLE.csv]   (default: ./jp-mape-rules.csv)
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mapecalc.h"

typedef unsigned __int128 u128;

static const char *table_path = "jp-mape-rules.csv";

/* ---- independent helpers ---- */

static u128 to_u128(const struct in6_addr *a)
{
	u128 v = 0;
	int i;

	for (i = 0; i < 16; i++)
		v = (v << 8) | a->s6_addr[i];
	return v;
}

static struct in6_addr from_u128(u128 v)
{
	struct in6_addr a;
	int i;

	for (i = 15; i >= 0; i--) {
		a.s6_addr[i] = (uint8_t)v;
		v >>= 8;
	}
	return a;
}

static void assert_a6(const struct in6_addr *got, const char *want)
{
	char buf[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, got, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void assert_a4(struct in_addr got, const char *want)
{
	char buf[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &got, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;	/* fixed seed */

static uint64_t rng(void)
{
	/* xorshift64*: reproducible, no libc rand() state */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static struct mapecalc_prefix pfx(const char *s)
{
	char err[MAPECALC_ERRLEN];
	struct mapecalc_prefix p;

	if (mapecalc_parse_prefix6(s, &p, err))
		fail_msg("parse %s: %s", s, err);
	return p;
}

static struct mapecalc_rule rule(const char *r6, const char *r4,
				 unsigned int o, unsigned int a)
{
	char err[MAPECALC_ERRLEN];
	struct mapecalc_rule r;

	memset(&r, 0, sizeof(r));
	r.psid_len = -1;
	assert_int_equal(mapecalc_parse_rule6(r6, &r.ip6, &r.ip6_len, err), 0);
	assert_int_equal(mapecalc_parse_rule4(r4, &r.ip4, &r.ip4_len, err), 0);
	r.ea_len = o;
	r.psid_offset = a;
	return r;
}

static void load_table(struct mapecalc_table *t)
{
	char err[MAPECALC_ERRLEN];
	FILE *f = fopen(table_path, "r");

	if (!f)
		fail_msg("cannot open %s", table_path);
	if (mapecalc_table_load(t, f, table_path, err))
		fail_msg("%s", err);
	fclose(f);
}

/* Table lookup then compute with the default interface id. */
static void from_table(const char *prefix, struct mapecalc_result *res)
{
	char err[MAPECALC_ERRLEN];
	struct mapecalc_table t;
	const struct mapecalc_rule *r;
	struct mapecalc_prefix p = pfx(prefix);

	load_table(&t);
	r = mapecalc_table_lookup(&t, &p, err);
	if (!r)
		fail_msg("%s: %s", prefix, err);
	if (mapecalc_compute(r, &p, MAPECALC_IID_DEFAULT, res, err))
		fail_msg("%s: %s", prefix, err);
	mapecalc_table_free(&t);
}

/* ---- parsing ---- */

static void test_parse_u32(void **state)
{
	uint32_t v;

	(void)state;
	assert_int_equal(mapecalc_parse_u32("0", 15, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(mapecalc_parse_u32("15", 15, &v), 0);
	assert_int_equal(v, 15);
	assert_int_equal(mapecalc_parse_u32("4294967295", 0xffffffffu, &v), 0);
	assert_int_equal(v, 0xffffffffu);
	assert_int_equal(mapecalc_parse_u32("16", 15, &v), -1);
	assert_int_equal(mapecalc_parse_u32("", 15, &v), -1);
	assert_int_equal(mapecalc_parse_u32(NULL, 15, &v), -1);
	assert_int_equal(mapecalc_parse_u32("-1", 15, &v), -1);
	assert_int_equal(mapecalc_parse_u32("+1", 15, &v), -1);
	assert_int_equal(mapecalc_parse_u32(" 1", 15, &v), -1);
	assert_int_equal(mapecalc_parse_u32("1 ", 15, &v), -1);
	assert_int_equal(mapecalc_parse_u32("0x1", 15, &v), -1);
	assert_int_equal(mapecalc_parse_u32("4294967296", 0xffffffffu, &v), -1);
	assert_int_equal(mapecalc_parse_u32("99999999999999999999999", 0xffffffffu, &v), -1);
}

static void test_parse_prefix(void **state)
{
	char err[MAPECALC_ERRLEN];
	struct mapecalc_prefix p;
	struct in6_addr a;
	struct in_addr a4;
	unsigned int len;
	static const char *const bad[] = {
		"garbage", "", "/56", "2001:db8::/", "2001:db8::/129",
		"2001:db8::/5x", "2001:db8::/-1", "2001:db8::%eth0", "192.0.2.1",
		"2001:db8:::/56", "2001:db8::/56/7", "2001:db8::/ 56",
	};
	size_t i;

	(void)state;
	p = pfx("240b:10:abcd:ef00::/56");
	assert_true(p.len_given);
	assert_int_equal(p.len, 56);
	assert_a6(&p.addr, "240b:10:abcd:ef00::");

	p = pfx("240b:10:abcd:ef12:3456::1");	/* an address: no length */
	assert_false(p.len_given);
	assert_int_equal(p.len, 128);
	assert_a6(&p.addr, "240b:10:abcd:ef12:3456::1");

	p = pfx("240b:10:abcd:ef12:3456::1/56");	/* bits after /56 dropped */
	assert_a6(&p.addr, "240b:10:abcd:ef00::");
	p = pfx("::/0");
	assert_int_equal(p.len, 0);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (mapecalc_parse_prefix6(bad[i], &p, err) != -1)
			fail_msg("'%s' accepted", bad[i]);
		assert_true(strlen(err) > 0);
	}

	assert_int_equal(mapecalc_parse_rule6("2001:db8::/40", &a, &len, err), 0);
	assert_int_equal(len, 40);
	assert_int_equal(mapecalc_parse_rule6("2001:db8::", &a, &len, err), -1);
	assert_int_equal(mapecalc_parse_rule6("2001:db8::1/40", &a, &len, err), -1);
	assert_non_null(strstr(err, "bits set after /40"));
	assert_int_equal(mapecalc_parse_rule4("192.0.2.0/24", &a4, &len, err), 0);
	assert_int_equal(len, 24);
	assert_int_equal(mapecalc_parse_rule4("192.0.2.0/33", &a4, &len, err), -1);
	assert_int_equal(mapecalc_parse_rule4("192.0.2.1/24", &a4, &len, err), -1);
	assert_int_equal(mapecalc_parse_rule4("192.0.2.1/32", &a4, &len, err), 0);
	assert_int_equal(mapecalc_parse_rule4("192.0.2/24", &a4, &len, err), -1);
	assert_int_equal(mapecalc_parse_rule4("0.0.0.0/0", &a4, &len, err), 0);

	assert_int_equal(mapecalc_check_ifname("mape0", "--tunnel", err), 0);
	assert_int_equal(mapecalc_check_ifname("eth0.10", "--wan", err), 0);
	assert_int_equal(mapecalc_check_ifname("", "--wan", err), -1);
	assert_int_equal(mapecalc_check_ifname("a;rm -rf", "--wan", err), -1);
	assert_int_equal(mapecalc_check_ifname("0123456789abcdef", "--wan", err), -1);
}

/* mapecalc_bits against shifts of the 128-bit value. */
static void test_bits(void **state)
{
	struct in6_addr a;
	unsigned int start, n, i;
	u128 v;

	(void)state;
	for (i = 0; i < 200; i++) {
		v = ((u128)rng() << 64) | rng();
		a = from_u128(v);
		start = (unsigned int)(rng() % 128);
		n = (unsigned int)(rng() % 65);
		if (start + n > 128)
			n = 128 - start;
		assert_true(mapecalc_bits(&a, start, n) ==
			    (uint64_t)(n ? (v << start) >> (128 - n) : 0));
	}
}

/* ---- the published examples ---- */

/* RFC 7597 Appendix A, example 1. */
static void test_rfc7597_example(void **state)
{
	char err[MAPECALC_ERRLEN];
	struct mapecalc_rule r = rule("2001:db8::/40", "192.0.2.0/24", 16, 6);
	struct mapecalc_prefix p = pfx("2001:db8:0012:3400::/56");
	struct mapecalc_result res;
	uint16_t lo, hi;

	(void)state;
	assert_int_equal(mapecalc_compute(&r, &p, MAPECALC_IID_DEFAULT, &res, err), 0);
	assert_a4(res.ip4, "192.0.2.18");
	assert_int_equal(res.ip4_len, 32);
	assert_true(res.shared);
	assert_int_equal(res.psid, 0x34);
	assert_int_equal(res.ps.psid_len, 8);
	assert_int_equal(res.ps.offset, 6);
	assert_int_equal(res.ps.size, 252);
	assert_int_equal(mape_portset_nblocks(&res.ps), 63);
	mape_portset_block(&res.ps, 0, &lo, &hi);
	assert_int_equal(lo, 1232);
	assert_int_equal(hi, 1235);
	mape_portset_block(&res.ps, 1, &lo, &hi);
	assert_int_equal(lo, 2256);
	assert_int_equal(hi, 2259);
	mape_portset_block(&res.ps, 62, &lo, &hi);
	assert_int_equal(lo, 64720);
	assert_int_equal(hi, 64723);
	/* an explicit rule defaults to the RFC layout */
	assert_int_equal(res.iid, MAPECALC_IID_RFC);
	assert_a6(&res.ce, "2001:db8:12:3400:0:c000:212:34");

	assert_int_equal(mapecalc_compute(&r, &p, MAPECALC_IID_LEGACY, &res, err), 0);
	assert_a6(&res.ce, "2001:db8:12:3400:c0:2:1200:3400");
}

static void test_v6plus_example(void **state)
{
	struct mapecalc_result res;

	(void)state;
	from_table("240b:10:abcd:ef00::/56", &res);
	assert_string_equal(res.rule.service, "v6plus");
	assert_a6(&res.rule.ip6, "240b:10::");
	assert_int_equal(res.rule.ip6_len, 31);
	assert_a4(res.rule.ip4, "106.72.0.0");
	assert_int_equal(res.rule.ip4_len, 15);
	assert_int_equal(res.rule.ea_len, 25);
	assert_int_equal(res.rule.psid_offset, 4);
	assert_a4(res.ip4, "106.72.171.205");
	assert_int_equal(res.psid, 0xef);
	assert_int_equal(res.ps.psid_len, 8);
	assert_int_equal(res.ps.size, 240);
	assert_int_equal(res.iid, MAPECALC_IID_LEGACY);
	assert_a6(&res.ce, "240b:10:abcd:ef00:6a:48ab:cd00:ef00");
	assert_a6(&res.rule.br, "2404:9200:225:100::64");
}

static void test_ocn_example(void **state)
{
	struct mapecalc_result res;
	uint16_t lo, hi;

	(void)state;
	from_table("2400:4050:1234:5600::/56", &res);
	assert_string_equal(res.rule.service, "ocn-virtual-connect");
	assert_a4(res.ip4, "153.240.72.209");
	assert_int_equal(res.psid, 0x16);
	assert_int_equal(res.ps.offset, 6);
	assert_int_equal(res.ps.psid_len, 6);
	assert_int_equal(res.ps.size, 1008);
	mape_portset_block(&res.ps, 0, &lo, &hi);
	assert_int_equal(lo, 1376);	/* 1 << 10 | 0x16 << 4 */
	assert_int_equal(hi, 1391);
	assert_a6(&res.ce, "2400:4050:1234:5600:99:f048:d100:1600");
	assert_a6(&res.rule.br, "2001:380:a120::9");
}

/* ---- every rule of the shipped table ---- */

struct csv_rule {
	char service[64];
	u128 ip6;
	unsigned int r6, o, a, k;
	uint32_t ip4;
	unsigned int r4;
};

/* Deliberately simple: sscanf over the fixed column order. */
static size_t read_csv(const char *path, struct csv_rule **out)
{
	char line[512], v6[64], v4[32], br[64];
	struct csv_rule *rs = NULL, c;
	struct in6_addr a;
	struct in_addr b;
	size_t n = 0;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || !strncmp(line, "service,", 8) || line[0] == '\n')
			continue;
		memset(&c, 0, sizeof(c));
		if (sscanf(line, "%63[^,],%63[^/]/%u,%31[^/]/%u,%u,%u,%u,%63s",
			   c.service, v6, &c.r6, v4, &c.r4, &c.o, &c.a, &c.k, br) != 9)
			fail_msg("test parser: bad line %s", line);
		assert_int_equal(inet_pton(AF_INET6, v6, &a), 1);
		assert_int_equal(inet_pton(AF_INET, v4, &b), 1);
		c.ip6 = to_u128(&a);
		c.ip4 = ntohl(b.s_addr);
		rs = realloc(rs, (n + 1) * sizeof(*rs));
		assert_non_null(rs);
		rs[n++] = c;
	}
	fclose(f);
	*out = rs;
	return n;
}

static void check_rule_sample(const struct mapecalc_table *t,
			      const struct csv_rule *c, uint64_t ea)
{
	char err[MAPECALC_ERRLEN], txt[INET6_ADDRSTRLEN];
	unsigned int plen = c->r6 + c->o, v4bits = 32 - c->r4;
	uint32_t want4, want_psid, mask4;
	u128 prefix, want_ce;
	struct mapecalc_prefix p;
	const struct mapecalc_rule *r;
	struct mapecalc_result res;

	/* the table must be self-consistent: k = o - (32 - r4) */
	assert_int_equal(c->k, c->o - v4bits);

	prefix = c->ip6 | ((u128)ea << (128 - plen));
	want4 = c->ip4 | (uint32_t)(ea >> c->k);
	want_psid = (uint32_t)(ea & ((1ull << c->k) - 1));
	mask4 = c->r4 ? 0xffffffffu << (32 - c->r4) : 0;
	/* legacy interface id: 0x00 | IPv4 | PSID(16) | 0x00 */
	want_ce = prefix | ((u128)want4 << 24) | ((u128)want_psid << 8);

	p.addr = from_u128(prefix);
	p.len = plen;
	p.len_given = true;
	inet_ntop(AF_INET6, &p.addr, txt, sizeof(txt));

	r = mapecalc_table_lookup(t, &p, err);
	if (!r)
		fail_msg("%s/%u: %s", txt, plen, err);
	if (to_u128(&r->ip6) != c->ip6 || r->ip6_len != c->r6)
		fail_msg("%s/%u: longest match picked line %u", txt, plen, r->line);
	if (mapecalc_compute(r, &p, MAPECALC_IID_DEFAULT, &res, err))
		fail_msg("%s/%u: %s", txt, plen, err);

	if (ntohl(res.ip4.s_addr) != want4 || (ntohl(res.ip4.s_addr) & mask4) != c->ip4)
		fail_msg("%s/%u: IPv4 %08x, want %08x in %08x/%u", txt, plen,
			 ntohl(res.ip4.s_addr), want4, c->ip4, c->r4);
	if (res.psid != want_psid || res.ps.psid_len != c->k ||
	    res.ps.offset != c->a)
		fail_msg("%s/%u: PSID %u/%u/%u, want %u/%u/%u", txt, plen,
			 res.ps.offset, res.ps.psid_len, res.psid, c->a, c->k,
			 want_psid);
	if (to_u128(&res.ce) != want_ce)
		fail_msg("%s/%u: CE address wrong", txt, plen);
}

static void test_every_rule(void **state)
{
	struct mapecalc_table t;
	struct csv_rule *rs;
	size_t n, i;
	int j;

	(void)state;
	load_table(&t);
	n = read_csv(table_path, &rs);
	assert_int_equal(n, t.n);
	assert_true(n > 600);
	for (i = 0; i < n; i++) {
		uint64_t all = (1ull << rs[i].o) - 1;

		check_rule_sample(&t, &rs[i], 0);
		check_rule_sample(&t, &rs[i], all);
		for (j = 0; j < 16; j++)
			check_rule_sample(&t, &rs[i], rng() & all);
	}
	free(rs);
	mapecalc_table_free(&t);
}

/* ---- other arithmetic cases ---- */

static u128 mask128(unsigned int len)
{
	return len ? ~(u128)0 << (128 - len) : 0;
}

/*
 * Random rules over the whole accepted space (k up to 16, r4 0..32, o
 * below and above 32 - r4, a = 0 included), random delegated prefixes
 * longer than needed: IPv4, PSID and both CE layouts against shifts.
 */
static void check_random_rule(void)
{
	char err[MAPECALC_ERRLEN];
	unsigned int r4 = rng() % 33, v4bits = 32 - r4, o, r6, a, k, plen;
	uint32_t want4, want_psid, rule4;
	uint64_t ea;
	u128 rule6, prefix, iid;
	struct mapecalc_rule r;
	struct mapecalc_prefix p;
	struct mapecalc_result res;
	bool empty;
	int layout;

	o = rng() % (v4bits + 17 > 49 ? 49 : v4bits + 17);	/* k <= 16, o <= 48 */
	r6 = rng() % (65 - o);					/* r6 + o <= 64 */
	k = o > v4bits ? o - v4bits : 0;
	a = rng() % (17 - k > 16 ? 16 : 17 - k);		/* a <= 15, a + k <= 16 */
	plen = r6 + o + rng() % (65 - r6 - o);

	rule6 = (((u128)rng() << 64) | rng()) & mask128(r6);
	rule4 = (uint32_t)rng() & (r4 ? 0xffffffffu << (32 - r4) : 0);
	ea = o ? rng() >> (64 - o) : 0;
	/* bits after r6 + o are part of a longer delegated prefix */
	prefix = (rule6 | (o ? (u128)ea << (128 - r6 - o) : 0) |
		  ((((u128)rng() << 64) | rng()) & ~mask128(r6 + o))) & mask128(plen);

	if (o >= v4bits) {
		want4 = rule4 | (uint32_t)(ea >> k);
		want_psid = (uint32_t)(ea & ((1ull << k) - 1));
	} else {
		want4 = rule4 | (uint32_t)(ea << (v4bits - o));
		want_psid = 0;
	}
	/* a = 0: the PSID's one block must reach past port 1023 */
	empty = a == 0 && k > 0 &&
		((uint32_t)(want_psid + 1) << (16 - k)) <= 1024;

	memset(&r, 0, sizeof(r));
	r.ip6 = from_u128(rule6);
	r.ip6_len = r6;
	r.ip4.s_addr = htonl(rule4);
	r.ip4_len = r4;
	r.ea_len = o;
	r.psid_offset = a;
	r.psid_len = -1;
	p.addr = from_u128(prefix);
	p.len = plen;
	p.len_given = true;

	for (layout = MAPECALC_IID_RFC; layout <= MAPECALC_IID_LEGACY; layout++) {
		int rc = mapecalc_compute(&r, &p, (enum mapecalc_iid)layout, &res, err);

		if (empty) {
			if (rc != -1 || !strstr(err, "empty"))
				fail_msg("r6=%u r4=%u o=%u a=%u psid=%u: want empty set",
					 r6, r4, o, a, want_psid);
			return;
		}
		if (rc)
			fail_msg("r6=%u r4=%u o=%u a=%u: %s", r6, r4, o, a, err);
		if (ntohl(res.ip4.s_addr) != want4 || res.psid != want_psid ||
		    res.ps.psid_len != k || res.shared != (k > 0) ||
		    res.ip4_len != (o >= v4bits ? 32 : r4 + o))
			fail_msg("r6=%u r4=%u o=%u a=%u: %08x/%u psid %u, want %08x psid %u",
				 r6, r4, o, a, ntohl(res.ip4.s_addr), res.ip4_len,
				 res.psid, want4, want_psid);
		iid = layout == MAPECALC_IID_LEGACY ?
		      ((u128)want4 << 24) | ((u128)want_psid << 8) :
		      ((u128)want4 << 16) | want_psid;
		if (to_u128(&res.ce) != (prefix | iid))
			fail_msg("r6=%u r4=%u o=%u a=%u plen=%u: CE wrong (layout %d)",
				 r6, r4, o, a, plen, layout);
	}
}

static void test_random_rules(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 20000; i++)
		check_random_rule();
}

/* Nested rules: the longest rule IPv6 prefix wins, in either file order. */
static void test_longest_match(void **state)
{
	static const char *const tables[] = {
		"wide,2001:db8::/32,198.51.0.0/16,24,4,8,\n"
		"narrow,2001:db8:100::/40,192.0.2.0/24,16,6,8,\n",
		"narrow,2001:db8:100::/40,192.0.2.0/24,16,6,8,\n"
		"wide,2001:db8::/32,198.51.0.0/16,24,4,8,\n",
	};
	char err[MAPECALC_ERRLEN];
	struct mapecalc_table t;
	struct mapecalc_prefix p;
	const struct mapecalc_rule *r;
	size_t i;
	FILE *f;

	(void)state;
	for (i = 0; i < 2; i++) {
		f = fmemopen((void *)tables[i], strlen(tables[i]), "r");
		assert_non_null(f);
		assert_int_equal(mapecalc_table_load(&t, f, "t.csv", err), 0);
		fclose(f);

		p = pfx("2001:db8:1ff:ff00::/56");
		r = mapecalc_table_lookup(&t, &p, err);
		assert_non_null(r);
		assert_string_equal(r->service, "narrow");
		p = pfx("2001:db8:200:ff00::/56");
		r = mapecalc_table_lookup(&t, &p, err);
		assert_non_null(r);
		assert_string_equal(r->service, "wide");
		mapecalc_table_free(&t);
	}
}


/* o < 32 - r4: an IPv4 prefix, no PSID, nothing shared. */
static void test_ipv4_prefix(void **state)
{
	char err[MAPECALC_ERRLEN];
	struct mapecalc_rule r = rule("2001:db8::/40", "192.0.2.0/24", 4, 6);
	struct mapecalc_prefix p = pfx("2001:db8:a0::/44");
	struct mapecalc_result res;

	(void)state;
	assert_int_equal(mapecalc_compute(&r, &p, MAPECALC_IID_RFC, &res, err), 0);
	assert_a4(res.ip4, "192.0.2.160");
	assert_int_equal(res.ip4_len, 28);
	assert_false(res.shared);
	assert_int_equal(res.psid, 0);
	assert_int_equal(res.ps.psid_len, 0);
	assert_a6(&res.ce, "2001:db8:a0::c000:2a0:0");

	/* o = 32 - r4: one full, unshared address */
	r = rule("2001:db8::/40", "192.0.2.0/24", 8, 6);
	p = pfx("2001:db8:a0::/48");
	assert_int_equal(mapecalc_compute(&r, &p, MAPECALC_IID_RFC, &res, err), 0);
	assert_a4(res.ip4, "192.0.2.160");
	assert_int_equal(res.ip4_len, 32);
	assert_false(res.shared);
}

/* The CE address keeps a longer delegated prefix; an address assumes r6 + o. */
static void test_prefix_lengths(void **state)
{
	struct mapecalc_result res;

	(void)state;
	from_table("240b:10:abcd:ef10::/60", &res);
	assert_false(res.eu_len_assumed);
	assert_int_equal(res.eu_len, 60);
	assert_a6(&res.ce, "240b:10:abcd:ef10:6a:48ab:cd00:ef00");

	from_table("240b:10:abcd:ef12:3456::1", &res);
	assert_true(res.eu_len_assumed);
	assert_int_equal(res.eu_len, 56);
	assert_a6(&res.ce, "240b:10:abcd:ef00:6a:48ab:cd00:ef00");

	from_table("240b:10:abcd:ef12::1/128", &res);	/* past /64: an address */
	assert_true(res.eu_len_assumed);
	assert_a6(&res.ce, "240b:10:abcd:ef00:6a:48ab:cd00:ef00");
}

static void test_lookup_errors(void **state)
{
	char err[MAPECALC_ERRLEN];
	struct mapecalc_table t;
	struct mapecalc_prefix p;
	struct mapecalc_result res;
	const struct mapecalc_rule *r;

	(void)state;
	load_table(&t);

	p = pfx("2001:db8:12:3400::/56");
	assert_null(mapecalc_table_lookup(&t, &p, err));
	assert_non_null(strstr(err, "matches no rule"));

	/* /40 under the /31 v6plus rule: found, but too short to compute */
	p = pfx("240b:10::/40");
	r = mapecalc_table_lookup(&t, &p, err);
	assert_non_null(r);
	assert_int_equal(mapecalc_compute(r, &p, MAPECALC_IID_DEFAULT, &res, err), -1);
	assert_string_equal(err, "prefix /40 too short for this rule: needs /56");

	/* shorter than the /38 OCN rules it spans */
	p = pfx("2400:4050::/36");
	assert_null(mapecalc_table_lookup(&t, &p, err));
	assert_non_null(strstr(err, "too short"));
	assert_non_null(strstr(err, "needs /56"));

	mapecalc_table_free(&t);
}

static void test_rule_errors(void **state)
{
	char err[MAPECALC_ERRLEN];
	struct mapecalc_prefix p = pfx("2001:db8:12:3400::/56");
	struct mapecalc_result res;
	struct mapecalc_rule r;

	(void)state;
	r = rule("2001:db8::/40", "192.0.2.0/24", 16, 6);
	p = pfx("2001:db9::/56");
	assert_int_equal(mapecalc_compute(&r, &p, MAPECALC_IID_RFC, &res, err), -1);
	assert_non_null(strstr(err, "not inside"));

	p = pfx("2001:db8:12:3400::/56");
	r = rule("2001:db8::/40", "192.0.2.0/24", 16, 16);	/* a > 15 */
	assert_int_equal(mapecalc_compute(&r, &p, MAPECALC_IID_RFC, &res, err), -1);
	r = rule("2001:db8::/40", "192.0.2.0/24", 16, 10);	/* a + k = 18 */
	assert_int_equal(mapecalc_compute(&r, &p, MAPECALC_IID_RFC, &res, err), -1);
	assert_non_null(strstr(err, "exceed 16 bits"));
	r = rule("2001:db8::/40", "192.0.2.0/24", 30, 0);	/* k = 22 */
	assert_int_equal(mapecalc_compute(&r, &p, MAPECALC_IID_RFC, &res, err), -1);
	r = rule("2001:db8::/48", "192.0.2.0/24", 24, 0);	/* EA past bit 64 */
	assert_int_equal(mapecalc_compute(&r, &p, MAPECALC_IID_RFC, &res, err), -1);
	r = rule("2001:db8::/40", "192.0.2.0/24", 16, 6);
	r.psid_len = 7;						/* table says 7, is 8 */
	assert_int_equal(mapecalc_compute(&r, &p, MAPECALC_IID_RFC, &res, err), -1);
	assert_non_null(strstr(err, "disagrees"));

	/* a = 0, k = 8: PSID 3 holds ports 768-1023 only, all cut: empty */
	r = rule("2001:db8::/40", "192.0.2.0/24", 16, 0);
	p = pfx("2001:db8:12:300::/56");
	assert_int_equal(mapecalc_compute(&r, &p, MAPECALC_IID_RFC, &res, err), -1);
	assert_non_null(strstr(err, "empty"));
}

/* ---- the table loader ---- */

static int load_string(const char *text, char *err)
{
	struct mapecalc_table t;
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int rc;

	assert_non_null(f);
	rc = mapecalc_table_load(&t, f, "t.csv", err);
	fclose(f);
	if (!rc) {
		assert_int_equal(t.n, 1);
		mapecalc_table_free(&t);
	}
	return rc;
}

static void test_table_load(void **state)
{
	char err[MAPECALC_ERRLEN];
	static const char ok[] =
		"# comment\n"
		"service,rule_ipv6_prefix,rule_ipv4_prefix,ea_len,psid_offset,psid_len,br_ipv6\n"
		"\n"
		"test,2001:db8::/40,192.0.2.0/24,16,6,8,2001:db8::1\n";
	static const struct { const char *text, *why; } bad[] = {
		{ "x,2001:db8::/40,192.0.2.0/24,16,6,8\n", "fields" },
		{ "x,2001:db8::/40,192.0.2.0/24,16,6,8,2001:db8::1,9\n", "fields" },
		{ "x,2001:db8::1/40,192.0.2.0/24,16,6,8,\n", "bits set" },
		{ "x,2001:db8::/40,192.0.2.1/24,16,6,8,\n", "bits set" },
		{ "x,2001:db8::/40,192.0.2.0/24,16,6,7,\n", "disagrees" },
		{ "x,2001:db8::/40,192.0.2.0/24,16,16,8,\n", "psid_offset" },
		{ "x,2001:db8::/40,192.0.2.0/24,sixteen,6,8,\n", "ea_len" },
		{ "x,2001:db8::/40,192.0.2.0/24,16,6,8,nope\n", "IPv6 address" },
		{ "x y,2001:db8::/40,192.0.2.0/24,16,6,8,\n", "service" },
		{ "x,2001:db8::/40,192.0.2.0/24,16,6,8,\n"
		  "y,2001:db8::/40,198.51.100.0/24,16,6,8,\n", "repeats line 1" },
		{ "# nothing\n", "no rules" },
	};
	char longline[2048];
	size_t i;

	(void)state;
	assert_int_equal(load_string(ok, err), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (load_string(bad[i].text, err) != -1)
			fail_msg("accepted: %s", bad[i].text);
		if (!strstr(err, bad[i].why) || strncmp(err, "t.csv", 5))
			fail_msg("'%s' for: %s", err, bad[i].text);
	}
	memset(longline, 'x', sizeof(longline) - 2);
	longline[sizeof(longline) - 2] = '\n';
	longline[sizeof(longline) - 1] = '\0';
	assert_int_equal(load_string(longline, err), -1);
	assert_non_null(strstr(err, "longer than"));
}

static void test_service_layout(void **state)
{
	(void)state;
	assert_true(mapecalc_service_is_legacy("v6plus"));
	assert_true(mapecalc_service_is_legacy("ocn-virtual-connect"));
	assert_true(mapecalc_service_is_legacy("ipv6-option"));
	assert_false(mapecalc_service_is_legacy("test"));
	assert_false(mapecalc_service_is_legacy(""));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_u32),
		cmocka_unit_test(test_parse_prefix),
		cmocka_unit_test(test_bits),
		cmocka_unit_test(test_rfc7597_example),
		cmocka_unit_test(test_v6plus_example),
		cmocka_unit_test(test_ocn_example),
		cmocka_unit_test(test_every_rule),
		cmocka_unit_test(test_random_rules),
		cmocka_unit_test(test_longest_match),
		cmocka_unit_test(test_ipv4_prefix),
		cmocka_unit_test(test_prefix_lengths),
		cmocka_unit_test(test_lookup_errors),
		cmocka_unit_test(test_rule_errors),
		cmocka_unit_test(test_table_load),
		cmocka_unit_test(test_service_layout),
	};

	if (argc > 1)
		table_path = argv[1];
	return cmocka_run_group_tests_name("mapecalc", tests, NULL, NULL);
}
