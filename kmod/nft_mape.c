// SPDX-License-Identifier: GPL-2.0
/*
 * The nf_tables "mape" expression: IPv4 source NAT whose ports and ICMP
 * ids come only from a MAP-E port set (RFC 7597 section 5.1).
 *
 *   snat to ADDR[-ADDR]:mape a/k/psid [persistent,random,fully-random]
 *
 * Expression init gets no netlink extack on these kernels (struct nft_ctx
 * has none), so a rejected rule gets a distinct errno (ERANGE: a value out
 * of range, EINVAL: values that do not fit together) and one ratelimited
 * kernel log line naming the value; nft checks the same rules first and
 * points at the token.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jhash.h>
#include <linux/module.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <net/netfilter/nf_nat.h>
#include <net/netfilter/nf_tables.h>

#include "compat.h"
#include "mape.h"
#include "nf_nat_mape.h"

struct nft_mape {
	struct mape_portset	ps;
	u32			flags;
	u8			sreg_addr_min;
	u8			sreg_addr_max;
};

static const struct nla_policy nft_mape_policy[NFTA_MAPE_MAX + 1] = {
	[NFTA_MAPE_REG_ADDR_MIN]	= { .type = NLA_U32 },
	[NFTA_MAPE_REG_ADDR_MAX]	= { .type = NLA_U32 },
	[NFTA_MAPE_PSID_OFFSET]		= { .type = NLA_U32 },
	[NFTA_MAPE_PSID_LEN]		= { .type = NLA_U32 },
	[NFTA_MAPE_PSID]		= { .type = NLA_U32 },
	[NFTA_MAPE_FLAGS]		= { .type = NLA_U32 },
};

#define mape_reject(err, fmt, ...) ({					\
	pr_info_ratelimited("rule rejected: " fmt "\n", ##__VA_ARGS__);	\
	err;								\
})

static int nft_mape_init_portset(struct nft_mape *priv,
				 const struct nlattr * const tb[])
{
	u32 a, k, psid;
	int err;

	if (!tb[NFTA_MAPE_PSID_OFFSET] || !tb[NFTA_MAPE_PSID_LEN] ||
	    !tb[NFTA_MAPE_PSID])
		return mape_reject(-EINVAL, "PSID offset, length and PSID are required");

	a = ntohl(nla_get_be32(tb[NFTA_MAPE_PSID_OFFSET]));
	k = ntohl(nla_get_be32(tb[NFTA_MAPE_PSID_LEN]));
	psid = ntohl(nla_get_be32(tb[NFTA_MAPE_PSID]));
	err = mape_portset_init(&priv->ps, a, k, psid);
	switch (err) {
	case MAPE_OK:
		return 0;
	case MAPE_E_OFFSET:
	case MAPE_E_LENGTH:
		return mape_reject(-ERANGE, "%s (%u/%u/%u)",
				   mape_portset_strerror(err), a, k, psid);
	default:
		return mape_reject(-EINVAL, "%s (%u/%u/%u)",
				   mape_portset_strerror(err), a, k, psid);
	}
}

static int nft_mape_init(const struct nft_ctx *ctx, const struct nft_expr *expr,
			 const struct nlattr * const tb[])
{
	struct nft_mape *priv = nft_expr_priv(expr);
	const unsigned int alen = sizeof_field(struct nf_nat_range2, min_addr.ip);
	int err;

	if (ctx->family != NFPROTO_IPV4 && ctx->family != NFPROTO_INET)
		return mape_reject(-EOPNOTSUPP, "mape translates IPv4 only");

	err = nft_mape_init_portset(priv, tb);
	if (err)
		return err;

	priv->flags = tb[NFTA_MAPE_FLAGS] ? ntohl(nla_get_be32(tb[NFTA_MAPE_FLAGS])) : 0;
	if (priv->flags & ~NFT_MAPE_FLAGS_ALL)
		return mape_reject(-EINVAL, "unknown flags 0x%x", priv->flags);

	if (!tb[NFTA_MAPE_REG_ADDR_MIN])
		return mape_reject(-EINVAL, "an IPv4 address is required");
	err = mape_parse_register_load(ctx, tb[NFTA_MAPE_REG_ADDR_MIN],
				       &priv->sreg_addr_min, alen);
	if (err)
		return mape_reject(err, "bad address register");
	priv->sreg_addr_max = priv->sreg_addr_min;
	if (tb[NFTA_MAPE_REG_ADDR_MAX]) {
		err = mape_parse_register_load(ctx, tb[NFTA_MAPE_REG_ADDR_MAX],
					       &priv->sreg_addr_max, alen);
		if (err)
			return mape_reject(err, "bad address register");
	}
	return nf_ct_netns_get(ctx->net, ctx->family);
}

static void nft_mape_destroy(const struct nft_ctx *ctx, const struct nft_expr *expr)
{
	nf_ct_netns_put(ctx->net, ctx->family);
}

/*
 * One address of ADDR-ADDR per flow, chosen as snat chooses: a hash of the
 * source, and of the destination unless "persistent".
 */
static __be32 nft_mape_pick_addr(const struct nft_mape *priv,
				 const struct nft_regs *regs,
				 const struct nf_conntrack_tuple *t)
{
	static u32 seed __read_mostly;
	u32 lo = ntohl((__force __be32)regs->data[priv->sreg_addr_min]);
	u32 hi = ntohl((__force __be32)regs->data[priv->sreg_addr_max]);
	u32 dst, h;

	if (hi <= lo)
		return htonl(lo);
	net_get_random_once(&seed, sizeof(seed));
	dst = priv->flags & NF_NAT_RANGE_PERSISTENT ? 0 : (__force u32)t->dst.u3.ip;
	h = jhash_2words((__force u32)t->src.u3.ip, dst, seed);
	return htonl(lo + reciprocal_scale(h, hi - lo + 1));
}

/* Hand the choice to the NAT core; count it only once it took. */
static unsigned int nft_mape_setup(struct nf_conn *ct,
				   const struct nf_nat_range2 *range,
				   const struct mape_search *s)
{
	const struct net *net = nf_ct_net(ct);
	unsigned int verdict = nf_nat_setup_info(ct, range, NF_NAT_MANIP_SRC);

	if (verdict != NF_ACCEPT)
		return verdict;
	mape_stat_add(net, MAPE_STAT_TRANSLATED, 1);
	if (s) {
		mape_stat_add(net, MAPE_STAT_KEPT, s->kept);
		mape_stat_add(net, MAPE_STAT_TAKEOVER, s->took_over);
	}
	return verdict;
}

static unsigned int nft_mape_translate(const struct nft_mape *priv,
				       const struct nft_regs *regs,
				       struct nf_conn *ct)
{
	const struct nf_conntrack_tuple *orig = &ct->tuplehash[IP_CT_DIR_ORIGINAL].tuple;
	struct net *net = nf_ct_net(ct);
	struct nf_nat_range2 range = { .flags = NF_NAT_RANGE_MAP_IPS };
	struct mape_search s = {
		.ct = ct,
		.tuple = *orig,
		.ps = &priv->ps,
		.keep_original = !(priv->flags & NF_NAT_RANGE_PROTO_RANDOM_ALL),
	};
	bool found;

	range.min_addr.ip = nft_mape_pick_addr(priv, regs, orig);
	range.max_addr.ip = range.min_addr.ip;

	if (!mape_proto_has_ports(orig->dst.protonum)) {
		/* The BR routes replies by port: only k = 0 can do without. */
		if (priv->ps.psid_len) {
			mape_stat_add(net, MAPE_STAT_PORTLESS, 1);
			return NF_DROP;
		}
		return nft_mape_setup(ct, &range, NULL);
	}

	s.tuple.src.u3.ip = range.min_addr.ip;
	found = mape_find_port(&s);
	mape_stat_add(net, MAPE_STAT_LOOKUPS, s.lookups);
	if (!found) {
		mape_stat_add(net, MAPE_STAT_EXHAUSTED, 1);
		return NF_DROP;
	}
	range.flags |= NF_NAT_RANGE_PROTO_SPECIFIED;
	range.min_proto.all = s.tuple.src.u.all;
	range.max_proto.all = s.tuple.src.u.all;
	return nft_mape_setup(ct, &range, &s);
}

static void nft_mape_eval(const struct nft_expr *expr, struct nft_regs *regs,
			  const struct nft_pktinfo *pkt)
{
	const struct nft_mape *priv = nft_expr_priv(expr);
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(pkt->skb, &ctinfo);

	/* inet tables: IPv6 flows are left to later rules, as "snat ip" does */
	if (nft_pf(pkt) != NFPROTO_IPV4 || !ct ||
	    nf_nat_initialized(ct, NF_NAT_MANIP_SRC)) {
		regs->verdict.code = NFT_BREAK;
		return;
	}
	regs->verdict.code = nft_mape_translate(priv, regs, ct);
}

static int nft_mape_dump(MAPE_DUMP_ARGS)
{
	const struct nft_mape *priv = nft_expr_priv(expr);

	if (nft_dump_register(skb, NFTA_MAPE_REG_ADDR_MIN, priv->sreg_addr_min) ||
	    nft_dump_register(skb, NFTA_MAPE_REG_ADDR_MAX, priv->sreg_addr_max) ||
	    nla_put_be32(skb, NFTA_MAPE_PSID_OFFSET, htonl(priv->ps.offset)) ||
	    nla_put_be32(skb, NFTA_MAPE_PSID_LEN, htonl(priv->ps.psid_len)) ||
	    nla_put_be32(skb, NFTA_MAPE_PSID, htonl(priv->ps.psid)))
		return -1;
	if (priv->flags && nla_put_be32(skb, NFTA_MAPE_FLAGS, htonl(priv->flags)))
		return -1;
	return 0;
}

/* Where snat is valid: NAT chains at postrouting and input. */
static int nft_mape_validate(MAPE_VALIDATE_ARGS)
{
	int err;

	err = nft_chain_validate_dependency(ctx->chain, NFT_CHAIN_T_NAT);
	if (err < 0)
		return err;
	return nft_chain_validate_hooks(ctx->chain, (1 << NF_INET_POST_ROUTING) |
						    (1 << NF_INET_LOCAL_IN));
}

static struct nft_expr_type nft_mape_type;
static const struct nft_expr_ops nft_mape_ops = {
	.type		= &nft_mape_type,
	.size		= NFT_EXPR_SIZE(sizeof(struct nft_mape)),
	.eval		= nft_mape_eval,
	.init		= nft_mape_init,
	.destroy	= nft_mape_destroy,
	.dump		= nft_mape_dump,
	.validate	= nft_mape_validate,
	MAPE_OPS_REDUCE
};

static struct nft_expr_type nft_mape_type __read_mostly = {
	.name		= NFT_MAPE_EXPR_NAME,
	.ops		= &nft_mape_ops,
	.policy		= nft_mape_policy,
	.maxattr	= NFTA_MAPE_MAX,
	.owner		= THIS_MODULE,
};

int nft_mape_module_init(void)
{
	return nft_register_expr(&nft_mape_type);
}

void nft_mape_module_exit(void)
{
	nft_unregister_expr(&nft_mape_type);
}

MODULE_ALIAS_NFT_EXPR(NFT_MAPE_EXPR_NAME);
