// SPDX-License-Identifier: GPL-2.0
/*
 * nf_nat_mape: MAP-E (RFC 7597) port-set source NAT for nf_tables and iptables.
 *
 * Module glue and the per-network-namespace counters. Everything a
 * namespace sees is its own: counters live in net_generic() storage and
 * are shown in that namespace's /proc/net/stat/nf_nat_mape, one row per
 * CPU like /proc/net/stat/nf_conntrack (but in decimal).
 */
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/netns/generic.h>

#include "mape.h"

/*
 * One CPU's counters. A struct, not a bare array: 7.2 puts per-CPU data
 * in the gs address space, and a pointer to an array in it no longer
 * converts to a plain pointer to its row.
 */
struct mape_stats {
	u64 n[MAPE_STAT_MAX];
};

struct mape_net {
	struct mape_stats __percpu *stats;
	atomic_t rules;		/* mape rules in this namespace */
};

static unsigned int mape_net_id __read_mostly;

/* Column names of the proc file, in enum mape_stat order. */
static const char * const mape_stat_names[MAPE_STAT_MAX] = {
	[MAPE_STAT_TRANSLATED]	= "translated",
	[MAPE_STAT_KEPT]	= "kept",
	[MAPE_STAT_TAKEOVER]	= "takeover",
	[MAPE_STAT_EXHAUSTED]	= "exhausted",
	[MAPE_STAT_PORTLESS]	= "portless",
	[MAPE_STAT_LOOKUPS]	= "lookups",
	[MAPE_STAT_REMEMBERED]	= "remembered",
	[MAPE_STAT_CAPPED]	= "capped",
	[MAPE_STAT_MAPPED]	= "mapped",
	[MAPE_STAT_CONE_IN]	= "cone_in",
};

void mape_stat_add(const struct net *net, enum mape_stat stat, u32 n)
{
	struct mape_net *mn = net_generic(net, mape_net_id);

	if (n)
		this_cpu_add(mn->stats->n[stat], n);
}

void mape_net_rules_add(const struct net *net, int n)
{
	struct mape_net *mn = net_generic(net, mape_net_id);

	atomic_add(n, &mn->rules);
}

bool mape_net_has_rules(const struct net *net)
{
	struct mape_net *mn = net_generic(net, mape_net_id);

	return atomic_read(&mn->rules) > 0;
}

static int mape_stats_show(struct seq_file *seq, void *v)
{
	struct mape_net *mn = net_generic(seq_file_single_net(seq), mape_net_id);
	int cpu, i;

	seq_puts(seq, "cpu");
	for (i = 0; i < MAPE_STAT_MAX; i++)
		seq_printf(seq, " %s", mape_stat_names[i]);
	seq_putc(seq, '\n');
	for_each_possible_cpu(cpu) {
		const u64 *row = per_cpu_ptr(mn->stats, cpu)->n;

		seq_printf(seq, "%d", cpu);
		for (i = 0; i < MAPE_STAT_MAX; i++)
			seq_printf(seq, " %llu", row[i]);
		seq_putc(seq, '\n');
	}
	return 0;
}

static int __net_init mape_net_init(struct net *net)
{
	struct mape_net *mn = net_generic(net, mape_net_id);

	mn->stats = alloc_percpu(struct mape_stats);
	if (!mn->stats)
		return -ENOMEM;
	if (!proc_create_net_single("nf_nat_mape", 0444, net->proc_net_stat,
				    mape_stats_show, NULL)) {
		free_percpu(mn->stats);
		return -ENOMEM;
	}
	return 0;
}

static void __net_exit mape_net_exit(struct net *net)
{
	struct mape_net *mn = net_generic(net, mape_net_id);

	remove_proc_entry("nf_nat_mape", net->proc_net_stat);
	free_percpu(mn->stats);
}

static struct pernet_operations mape_net_ops = {
	.init	= mape_net_init,
	.exit	= mape_net_exit,
	.id	= &mape_net_id,
	.size	= sizeof(struct mape_net),
};

static int __init nf_nat_mape_init(void)
{
	int err;

	err = register_pernet_subsys(&mape_net_ops);
	if (err)
		return err;
	err = mape_cone_init();
	if (err)
		goto err_pernet;
	err = mape_addr_init();
	if (err)
		goto err_cone;
	err = nft_mape_module_init();
	if (err)
		goto err_addr;
	err = xt_mape_module_init();
	if (err)
		goto err_nft;
	return 0;

err_nft:
	nft_mape_module_exit();
err_addr:
	mape_addr_exit();
err_cone:
	mape_cone_exit();
err_pernet:
	unregister_pernet_subsys(&mape_net_ops);
	return err;
}

static void __exit nf_nat_mape_exit(void)
{
	xt_mape_module_exit();
	nft_mape_module_exit();
	mape_addr_exit();
	mape_cone_exit();
	unregister_pernet_subsys(&mape_net_ops);
}

module_init(nf_nat_mape_init);
module_exit(nf_nat_mape_exit);

MODULE_LICENSE("GPL");
MODULE_VERSION(MAPE_VERSION);
MODULE_DESCRIPTION("MAP-E (RFC 7597) port-set source NAT for nf_tables and iptables");
