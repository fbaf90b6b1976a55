// SPDX-License-Identifier: GPL-2.0
/*
 * The xtables target MAPE: the same source NAT as the nf_tables "mape"
 * expression, for iptables (legacy and nft backends alike):
 *
 *   iptables -t nat -A POSTROUTING -o mape0 -j MAPE --to-source ADDR --psid a/k/psid
 *   iptables -t nat -A PREROUTING -i mape0 -j MAPE --to-source ADDR --psid a/k/psid --fullcone
 *
 * It lives in nf_nat_mape, not a module of its own: the port search, the
 * per-namespace counters and the address notifier are there, and one
 * module keeps them from being loaded twice or exported. The kernel loads
 * it for the first rule through the alias ipt_MAPE.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/netfilter.h>
#include <linux/netfilter/x_tables.h>
#include <linux/slab.h>
#include <net/netfilter/nf_nat.h>

#include "mape.h"
#include "nf_nat_mape.h"

/* The same layout for 32-bit iptables on a 64-bit kernel: no compat code. */
static_assert(sizeof(struct xt_mape_tginfo) == 32);
static_assert(offsetof(struct xt_mape_tginfo, rule) == 24);

static int mape_tg_check(const struct xt_tgchk_param *par)
{
	struct xt_mape_tginfo *info = par->targinfo;
	struct mape_rule *rule;
	int err;

	if (ntohl(info->addr_min) > ntohl(info->addr_max))
		return mape_reject(-EINVAL, "address range %pI4-%pI4 is reversed",
				   &info->addr_min, &info->addr_max);
	rule = kzalloc(sizeof(*rule), GFP_KERNEL_ACCOUNT);
	if (!rule)
		return -ENOMEM;
	err = mape_rule_init(rule, par->net, info->psid_offset, info->psid_len,
			     info->psid, info->flags);
	if (err)
		goto err_free;
	if (par->hook_mask & ~mape_rule_hooks(rule)) {
		err = mape_reject(-EINVAL, "hooks 0x%x: prerouting needs --fullcone, input refuses it",
				  par->hook_mask);
		goto err_rule;
	}
	err = nf_ct_netns_get(par->net, par->family);
	if (err)
		goto err_rule;
	info->rule = rule;
	return 0;

err_rule:
	mape_rule_destroy(rule, par->net);
err_free:
	kfree(rule);
	return err;
}

static void mape_tg_destroy(const struct xt_tgdtor_param *par)
{
	struct xt_mape_tginfo *info = par->targinfo;

	nf_ct_netns_put(par->net, par->family);
	mape_rule_destroy(info->rule, par->net);
	kfree(info->rule);
}

/*
 * The nat table calls its targets only for tracked flows without NAT yet;
 * a packet without conntrack cannot be translated, so it cannot leave.
 * In prerouting (fullcone) a flow no mapping takes goes on to the next
 * rule.
 */
static unsigned int mape_tg(struct sk_buff *skb, const struct xt_action_param *par)
{
	const struct xt_mape_tginfo *info = par->targinfo;
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(skb, &ctinfo);
	unsigned int verdict;

	if (!ct)
		return NF_DROP;
	if (xt_hooknum(par) == NF_INET_PRE_ROUTING)
		return mape_cone_deliver(info->rule, ct, info->addr_min, info->addr_max,
					 &verdict) ? verdict : XT_CONTINUE;
	return mape_translate(info->rule, ct, xt_out(par), info->addr_min, info->addr_max);
}

static struct xt_target mape_tg_reg __read_mostly = {
	.name		= XT_MAPE_NAME,
	.revision	= 0,
	.family		= NFPROTO_IPV4,
	.table		= "nat",
	.hooks		= (1 << NF_INET_POST_ROUTING) | (1 << NF_INET_LOCAL_IN) |
			  (1 << NF_INET_PRE_ROUTING),
	.target		= mape_tg,
	.checkentry	= mape_tg_check,
	.destroy	= mape_tg_destroy,
	.targetsize	= sizeof(struct xt_mape_tginfo),
	.usersize	= offsetof(struct xt_mape_tginfo, rule),
	.me		= THIS_MODULE,
};

int xt_mape_module_init(void)
{
	return xt_register_target(&mape_tg_reg);
}

void xt_mape_module_exit(void)
{
	xt_unregister_target(&mape_tg_reg);
}

MODULE_ALIAS("ipt_" XT_MAPE_NAME);
