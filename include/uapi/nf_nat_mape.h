/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The one definition of the nf_tables "mape" expression's netlink
 * attributes and of the xtables target MAPE's payload, shared by kmod/
 * (kernel), nft-expr/ (libnftnl, nftables) and xtables/ (the iptables
 * plugin). Numbers and layouts here are ABI: append, never renumber.
 */
#ifndef _UAPI_NF_NAT_MAPE_H
#define _UAPI_NF_NAT_MAPE_H

#include <linux/netfilter/nf_nat.h>
#include <linux/types.h>

#define NFT_MAPE_EXPR_NAME	"mape"

/*
 * The expression translates IPv4 only: in an inet table it lets other
 * families pass untouched (NFT_BREAK), as "snat ip to" does.
 *
 * All numeric attributes are NLA_U32 in network byte order, like nft_nat's,
 * so the kernel sees out-of-range values instead of silently truncated ones.
 * REG_ADDR_MIN, PSID_OFFSET, PSID_LEN and PSID are required; REG_ADDR_MAX
 * defaults to REG_ADDR_MIN's register; FLAGS defaults to 0.
 */
enum nft_mape_attributes {
	NFTA_MAPE_UNSPEC,
	NFTA_MAPE_REG_ADDR_MIN,	/* register with the lowest IPv4 address */
	NFTA_MAPE_REG_ADDR_MAX,	/* register with the highest (ADDR-ADDR) */
	NFTA_MAPE_PSID_OFFSET,	/* a: 0..15 */
	NFTA_MAPE_PSID_LEN,	/* k: 0..16 - a */
	NFTA_MAPE_PSID,		/* psid: 0..2^k - 1 */
	NFTA_MAPE_FLAGS,	/* NFT_MAPE_FLAGS_ALL subset */
	__NFTA_MAPE_MAX
};
#define NFTA_MAPE_MAX		(__NFTA_MAPE_MAX - 1)

/*
 * snat's flags, same bits and meaning, and one of our own, above the
 * NF_NAT_RANGE_* bits: fullcone, endpoint-independent filtering for UDP.
 * A rule with it in postrouting notes each endpoint's mapping; one with
 * it (and the same port set) in prerouting delivers a new inbound flow
 * to the mapping's endpoint, from any remote address and port.
 */
#define NFT_MAPE_F_FULLCONE	(1U << 16)
#define NFT_MAPE_FLAGS_ALL	(NF_NAT_RANGE_PERSISTENT | \
				 NF_NAT_RANGE_PROTO_RANDOM | \
				 NF_NAT_RANGE_PROTO_RANDOM_FULLY | \
				 NFT_MAPE_F_FULLCONE)

/*
 * The xtables target MAPE, revision 0 (iptables -t nat -j MAPE): IPv4 nat
 * table, POSTROUTING and INPUT, and PREROUTING with NFT_MAPE_F_FULLCONE. Numbers are u32 for the same reason as
 * the attributes above; addresses in network order, min <= max (one
 * address: both the same). The pointer after them is the kernel's own
 * (userspace leaves it 0 and never sees it filled in: usersize).
 */
#define XT_MAPE_NAME		"MAPE"

struct mape_rule;

struct xt_mape_tginfo {
	__u32	flags;		/* NFT_MAPE_FLAGS_ALL subset */
	__u32	psid_offset;	/* a: 0..15 */
	__u32	psid_len;	/* k: 0..16 - a */
	__u32	psid;		/* psid: 0..2^k - 1 */
	__be32	addr_min;
	__be32	addr_max;

	/* used internally by the kernel */
	struct mape_rule *rule __attribute__((aligned(8)));
};

#endif /* _UAPI_NF_NAT_MAPE_H */
