/* SPDX-License-Identifier: GPL-2.0 */
/* Internal interface between the parts of nf_nat_mape. */
#ifndef MAPE_H
#define MAPE_H

#include <linux/percpu.h>
#include <net/net_namespace.h>
#include <net/netfilter/nf_conntrack.h>

#include "mape_portset.h"

/*
 * Most ports the search may look at for one packet. Sets up to this size
 * are searched whole, so a flow fails only when every port is taken toward
 * its destination; larger sets (only k <= 3 or a = 0) get a window of this
 * many distinct ports. Each probe is one conntrack hash lookup.
 */
#define MAPE_MAX_PROBES		4096

/* Per-netns, per-CPU counters: /proc/net/stat/nf_nat_mape. */
enum mape_stat {
	MAPE_STAT_TRANSLATED,	/* flows given an address and port/id */
	MAPE_STAT_KEPT,		/* ... that kept their original port */
	MAPE_STAT_TAKEOVER,	/* ... that took a closing TCP flow's port */
	MAPE_STAT_EXHAUSTED,	/* drops: no free port toward that destination */
	MAPE_STAT_PORTLESS,	/* drops: protocol without ports and k > 0 */
	MAPE_STAT_LOOKUPS,	/* conntrack lookups made by the search */
	MAPE_STAT_MAX
};

void mape_stat_add(const struct net *net, enum mape_stat stat, u32 n);

/* What one search needs; tuple is edited in place. */
struct mape_search {
	struct nf_conn *ct;
	struct nf_conntrack_tuple tuple;	/* original, source rewritten */
	const struct mape_portset *ps;
	bool keep_original;			/* try the flow's own port first */
	u32 lookups;
	bool took_over;
	bool kept;
};

bool mape_find_port(struct mape_search *s);
bool mape_proto_has_ports(u8 protonum);

int nft_mape_module_init(void);
void nft_mape_module_exit(void);

#endif /* MAPE_H */
