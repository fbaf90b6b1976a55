// SPDX-License-Identifier: GPL-2.0
/*
 * The nf_tables "mape" expression: IPv4 source NAT whose ports and ICMP
 * ids come only from a MAP-E port set (RFC 7597 section 5.1).
 *
 *   snat to ADDR[-ADDR]:mape a/k/psid [persistent,random,fully-random]
 *
 * The port search and the checks of the parameters are mape_nat.c's,
 * shared with the xtables target; nft checks the same rules first and
 * points at the token.
 *
 * One expression type serves ip and inet tables (nft_masq registers one
 * per family because its work differs per family; ours is IPv4 in both):
 * init then refuses other families with a log line that says why, where a
 * missing per-family type would only give "No such file or directory".
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <net/netfilter/nf_nat.h>
#include <net/netfilter/nf_tables.h>

#include "compat.h"
#include "mape.h"
#include "nf_nat_mape.h"

struct nft_mape {
	struct mape_rule	rule;
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

static int nft_mape_init_rule(const struct nft_ctx *ctx, struct nft_mape *priv,
			      const struct nlattr * const tb[])
{
	u32 flags = 0;

	if (!tb[NFTA_MAPE_PSID_OFFSET] || !tb[NFTA_MAPE_PSID_LEN] ||
	    !tb[NFTA_MAPE_PSID])
		return mape_reject(-EINVAL, "PSID offset, length and PSID are required");
	if (tb[NFTA_MAPE_FLAGS])
		flags = ntohl(nla_get_be32(tb[NFTA_MAPE_FLAGS]));
	return mape_rule_init(&priv->rule, ctx->net,
			      ntohl(nla_get_be32(tb[NFTA_MAPE_PSID_OFFSET])),
			      ntohl(nla_get_be32(tb[NFTA_MAPE_PSID_LEN])),
			      ntohl(nla_get_be32(tb[NFTA_MAPE_PSID])), flags);
}

static int nft_mape_init_regs(const struct nft_ctx *ctx, struct nft_mape *priv,
			      const struct nlattr * const tb[])
{
	const unsigned int alen = sizeof_field(struct nf_nat_range2, min_addr.ip);
	int err;

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
	return 0;
}

/* Conntrack for IPv4 only, also in inet tables: the expression is IPv4's. */
static int nft_mape_init(const struct nft_ctx *ctx, const struct nft_expr *expr,
			 const struct nlattr * const tb[])
{
	struct nft_mape *priv = nft_expr_priv(expr);
	int err;

	if (ctx->family != NFPROTO_IPV4 && ctx->family != NFPROTO_INET)
		return mape_reject(-EOPNOTSUPP, "mape translates IPv4 only");

	err = nft_mape_init_rule(ctx, priv, tb);
	if (err)
		return err;
	err = nft_mape_init_regs(ctx, priv, tb);
	if (!err)
		err = nf_ct_netns_get(ctx->net, NFPROTO_IPV4);
	if (err)
		mape_rule_destroy(&priv->rule, ctx->net);
	return err;
}

static void nft_mape_destroy(const struct nft_ctx *ctx, const struct nft_expr *expr)
{
	struct nft_mape *priv = nft_expr_priv(expr);

	nf_ct_netns_put(ctx->net, NFPROTO_IPV4);
	mape_rule_destroy(&priv->rule, ctx->net);
}

static void nft_mape_eval(const struct nft_expr *expr, struct nft_regs *regs,
			  const struct nft_pktinfo *pkt)
{
	const struct nft_mape *priv = nft_expr_priv(expr);
	__be32 addr_min = (__force __be32)regs->data[priv->sreg_addr_min];
	__be32 addr_max = (__force __be32)regs->data[priv->sreg_addr_max];
	bool in = nft_hook(pkt) == NF_INET_PRE_ROUTING;	/* fullcone's half */
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(pkt->skb, &ctinfo);
	unsigned int verdict;

	/*
	 * inet tables: IPv6 flows go on to the rule's next expression (as
	 * with "snat ip to"); a flow already translated (a second rule) too,
	 * and in prerouting one that no mapping takes.
	 */
	if (nft_pf(pkt) != NFPROTO_IPV4 || !ct ||
	    nf_nat_initialized(ct, in ? NF_NAT_MANIP_DST : NF_NAT_MANIP_SRC))
		regs->verdict.code = NFT_BREAK;
	else if (in)
		regs->verdict.code = mape_cone_deliver(&priv->rule, ct, addr_min, addr_max,
						       &verdict) ? verdict : NFT_BREAK;
	else
		regs->verdict.code = mape_translate(&priv->rule, ct, nft_out(pkt),
						    addr_min, addr_max);
}

static int nft_mape_dump(MAPE_DUMP_ARGS)
{
	const struct nft_mape *priv = nft_expr_priv(expr);
	const struct mape_portset *ps = &priv->rule.ps;

	if (nft_dump_register(skb, NFTA_MAPE_REG_ADDR_MIN, priv->sreg_addr_min) ||
	    nft_dump_register(skb, NFTA_MAPE_REG_ADDR_MAX, priv->sreg_addr_max) ||
	    nla_put_be32(skb, NFTA_MAPE_PSID_OFFSET, htonl(ps->offset)) ||
	    nla_put_be32(skb, NFTA_MAPE_PSID_LEN, htonl(ps->psid_len)) ||
	    nla_put_be32(skb, NFTA_MAPE_PSID, htonl(ps->psid)))
		return -1;
	if (priv->rule.flags &&
	    nla_put_be32(skb, NFTA_MAPE_FLAGS, htonl(priv->rule.flags)))
		return -1;
	return 0;
}

/* Where snat is valid: NAT chains at postrouting and input (and more, mape_rule_hooks()). */
static int nft_mape_validate(MAPE_VALIDATE_ARGS)
{
	const struct nft_mape *priv = nft_expr_priv(expr);
	int err;

	err = nft_chain_validate_dependency(ctx->chain, NFT_CHAIN_T_NAT);
	if (err < 0)
		return err;
	return nft_chain_validate_hooks(ctx->chain, mape_rule_hooks(&priv->rule));
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
