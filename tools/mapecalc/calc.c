// SPDX-License-Identifier: GPL-2.0
/*
 * RFC 7597 section 5.2 (EA bits -> IPv4 address and PSID) and section 6
 * (the CE IPv6 address). The port set itself comes from
 * include/mape_portset.h only; this file never composes a port.
 */
#include <arpa/inet.h>
#include <string.h>

#include "mapecalc.h"

/* Is p inside rule r, and long enough to hold all of its EA bits? */
static int check_prefix(const struct mapecalc_rule *r,
			const struct mapecalc_prefix *p, char *err)
{
	char p6[INET6_ADDRSTRLEN], r6[INET6_ADDRSTRLEN];
	unsigned int need = r->ip6_len + r->ea_len;
	unsigned int common = p->len < r->ip6_len ? p->len : r->ip6_len;

	if (!mapecalc_match6(&p->addr, &r->ip6, common)) {
		mapecalc_ntop6(&p->addr, p6);
		mapecalc_ntop6(&r->ip6, r6);
		return mapecalc_fail(err, "%s is not inside the rule IPv6 prefix %s/%u",
				     p6, r6, r->ip6_len);
	}
	if (p->len_given && p->len < need)
		return mapecalc_fail(err, "prefix /%u too short for this rule: needs /%u",
				     p->len, need);
	return 0;
}

/*
 * The o EA bits: the first 32 - r4 complete the IPv4 address, the rest
 * (k of them) are the PSID. Fewer than 32 - r4 bits give an IPv4 prefix
 * and no PSID: the address is not shared.
 */
static void split_ea(struct mapecalc_result *res)
{
	const struct mapecalc_rule *r = &res->rule;
	unsigned int v4bits = 32 - r->ip4_len;
	unsigned int k = mapecalc_psid_len(r);
	uint32_t base = ntohl(r->ip4.s_addr);
	uint64_t suffix;

	if (r->ea_len >= v4bits) {
		suffix = res->ea >> k;
		res->psid = (uint32_t)(res->ea & ((1u << k) - 1));
		res->ip4_len = 32;
	} else {
		/* section 6: an IPv4 prefix is right-padded with zeros */
		suffix = res->ea << (v4bits - r->ea_len);
		res->psid = 0;
		res->ip4_len = r->ip4_len + r->ea_len;
	}
	res->ip4.s_addr = htonl(base | (uint32_t)suffix);
	res->shared = k > 0;
}

static enum mapecalc_iid pick_iid(const struct mapecalc_rule *r,
				  enum mapecalc_iid asked)
{
	if (asked != MAPECALC_IID_DEFAULT)
		return asked;
	/* only the table says which service a rule belongs to */
	if (r->line && mapecalc_service_is_legacy(r->service))
		return MAPECALC_IID_LEGACY;
	return MAPECALC_IID_RFC;
}

/*
 * End-user prefix with subnet-id 0, then the interface id:
 *   RFC 7597:  bytes 8-9 zero, 10-13 IPv4, 14-15 PSID
 *   legacy:    byte 8 zero, 9-12 IPv4, 13-14 PSID, 15 zero
 * (the PSID right-aligned in 16 bits; an IPv4 prefix zero-padded).
 */
static void build_ce(struct mapecalc_result *res)
{
	const uint8_t *v4 = (const uint8_t *)&res->ip4.s_addr;
	unsigned int at = res->iid == MAPECALC_IID_LEGACY ? 9 : 10;
	uint8_t *b;

	res->ce = res->prefix.addr;
	mapecalc_mask6(&res->ce, res->eu_len);
	b = res->ce.s6_addr;
	memset(b + 8, 0, 8);
	memcpy(b + at, v4, 4);
	b[at + 4] = (uint8_t)(res->psid >> 8);
	b[at + 5] = (uint8_t)res->psid;
}

int mapecalc_compute(const struct mapecalc_rule *r,
		     const struct mapecalc_prefix *p, enum mapecalc_iid iid,
		     struct mapecalc_result *res, char *err)
{
	unsigned int need = r->ip6_len + r->ea_len;
	int rc;

	if (mapecalc_rule_check(r, err) || check_prefix(r, p, err))
		return -1;

	memset(res, 0, sizeof(*res));
	res->rule = *r;
	res->prefix = *p;
	/*
	 * The CE address keeps the delegated prefix (RFC 7597 section 6).
	 * Without a length, or with one past /64 (an address), only the
	 * rule's r6 + o bits are known to be prefix.
	 */
	if (p->len_given && p->len <= MAPECALC_IID_BITS) {
		res->eu_len = p->len;
	} else {
		res->eu_len = need;
		res->eu_len_assumed = true;
	}

	res->ea = mapecalc_bits(&p->addr, r->ip6_len, r->ea_len);
	split_ea(res);

	/* validates a and a + k for the unshared case too */
	rc = mape_portset_init(&res->ps, r->psid_offset,
			       mapecalc_psid_len(r), res->psid);
	if (rc != MAPE_OK)
		return mapecalc_fail(err, "PSID %u (offset %u, length %u): %s",
				     res->psid, r->psid_offset,
				     mapecalc_psid_len(r),
				     mape_portset_strerror(rc));

	res->iid = pick_iid(r, iid);
	res->iid_default = iid == MAPECALC_IID_DEFAULT;
	build_ce(res);
	return 0;
}
