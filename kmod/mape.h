/* SPDX-License-Identifier: GPL-2.0 */
/* Internal interface between the parts of nf_nat_mape. */
#ifndef MAPE_H
#define MAPE_H

#include <linux/netdevice.h>
#include <linux/percpu.h>
#include <net/net_namespace.h>
#include <net/netfilter/nf_conntrack.h>

#include "mape_portset.h"

/*
 * Most ports one search may look at. Sets up to this size are searched
 * whole, so a flow fails only when every port is taken toward its
 * destination; larger sets (only k <= 3 or a = 0) get a window of this
 * many distinct ports. Each probe is one conntrack hash lookup.
 */
#define MAPE_MAX_PROBES		4096

/*
 * Refused packets are kept cheap (the stock NAT caps its search after
 * soft lockups; a LAN host can send new-flow packets toward a destination
 * whose ports are all held, each of which would walk the whole set):
 * - a destination found full is remembered for MAPE_MEMO_TTL_MS, and a
 *   packet toward it meanwhile makes MAPE_MEMO_PROBES probes only; so a
 *   port freed there is found by a full walk within that time;
 * - each CPU may spend MAPE_BUDGET_LOOKUPS lookups per MAPE_BUDGET_MS on
 *   a rule's searches that found nothing, beyond which a search makes
 *   MAPE_CAPPED_PROBES; only floods toward many full destinations at once
 *   reach it. Searches that find a port, however long, cost it nothing:
 *   filling a set is what the set is for.
 * Either limit counts the walk only: a search first asks for the ports
 * that keep the endpoint's mapping (up to 3 lookups, mape_port.c).
 */
#define MAPE_MEMO_SLOTS		64
#define MAPE_MEMO_TTL_MS	50
#define MAPE_MEMO_PROBES	4
#define MAPE_BUDGET_MS		100
#define MAPE_BUDGET_LOOKUPS	20000
#define MAPE_CAPPED_PROBES	64

/* Closing TCP flows a search may try to take a port from, in turn. */
#define MAPE_TAKEOVER_TRIES	4

/*
 * Endpoint-independent mapping (RFC 4787 REQ-1, through RFC 7597 section
 * 9): each rule remembers, per internal endpoint (zone, address, port or
 * ICMP id, protocol), the port its flows got, so that its next flow toward
 * any destination asks for that port first. Two slots per port of the set
 * (at most MAPE_HINT_MAX_SLOTS), two ways per bucket, lossy: a lost hint
 * costs only the mapping's stability, never a port's validity. A hint
 * younger than MAPE_HINT_KEEP_S is the endpoint's mapping: a flow that had
 * to take another port (the mapped one was in use toward its destination)
 * does not replace it. 120 s: RFC 4787 REQ-5's least UDP mapping lifetime.
 */
#define MAPE_HINT_MAX_SLOTS	8192
#define MAPE_HINT_KEEP_S	120

/*
 * A fullcone mapping lives at least this long after its endpoint's last
 * new flow (RFC 4787 REQ-5: 2 minutes for UDP), and longer while that
 * flow does (mape_cone.c; module parameter cone_keep_s).
 */
#define MAPE_CONE_KEEP_S	120

/* Per-netns, per-CPU counters: /proc/net/stat/nf_nat_mape. */
enum mape_stat {
	MAPE_STAT_TRANSLATED,	/* flows given an address and port/id */
	MAPE_STAT_KEPT,		/* ... that kept their original port */
	MAPE_STAT_TAKEOVER,	/* ... that took a closing TCP flow's port */
	MAPE_STAT_EXHAUSTED,	/* drops: no free port toward that destination */
	MAPE_STAT_PORTLESS,	/* drops: protocol without ports and k > 0 */
	MAPE_STAT_LOOKUPS,	/* conntrack lookups made by the search */
	MAPE_STAT_REMEMBERED,	/* searches cut short: destination known full */
	MAPE_STAT_CAPPED,	/* searches cut short: CPU's lookup budget spent */
	MAPE_STAT_MAPPED,	/* flows that got their endpoint's earlier port */
	MAPE_STAT_CONE_IN,	/* inbound flows delivered to a fullcone mapping */
	MAPE_STAT_MAX
};

void mape_stat_add(const struct net *net, enum mape_stat stat, u32 n);
void mape_net_rules_add(const struct net *net, int n);
bool mape_net_has_rules(const struct net *net);

/* Dropping the flows of an address that leaves its interface. */
int mape_addr_init(void);
void mape_addr_exit(void);

/*
 * A destination a full walk found without a free port, and until when:
 * the memo key in the high 32 bits, jiffies (low 32 bits) in the low, so
 * that one READ_ONCE sees a slot whole (on a 64-bit CPU; a torn read
 * elsewhere only changes how long a search looks). 0: empty.
 */
typedef u64 mape_memo_slot_t;

struct mape_budget {
	unsigned long window_start;	/* jiffies */
	u32 spent;
};

/*
 * An endpoint's hint: its 32-bit name (never 0: 0 is an empty slot) in the
 * high half, the port's index in the set in bits 16-31, and the second
 * (monotonic, low 16 bits) a new flow last set or confirmed it in bits
 * 0-15: its age counts from the endpoint's last new flow, not its last
 * packet (packets never touch the table). Read whole on a 64-bit CPU; a
 * torn read elsewhere names a wrong port, which is still checked free.
 */
typedef u64 mape_hint_slot_t;

/*
 * What a rule of either front end (nft expression, xtables target) holds:
 * the set and flags given by the user, and the search's lossy memory.
 * The memo and budget decide how hard to look; the hints which port to
 * ask for first. Neither ever makes a port valid: conntrack decides that.
 */
struct mape_rule {
	struct mape_portset ps;
	u32 flags;				/* NF_NAT_RANGE_* subset */
	mape_memo_slot_t *memo;			/* MAPE_MEMO_SLOTS */
	struct mape_budget __percpu *budget;
	mape_hint_slot_t *hints;		/* hint_mask + 1; NULL: random maps nothing */
	u32 hint_mask;
	struct mape_cone *cone;			/* fullcone only, shared (mape_cone.c) */
};

int mape_rule_init(struct mape_rule *rule, const struct net *net,
		   u32 a, u32 k, u32 psid, u32 flags);
unsigned int mape_rule_hooks(const struct mape_rule *rule);
void mape_rule_destroy(struct mape_rule *rule, const struct net *net);
unsigned int mape_translate(const struct mape_rule *rule, struct nf_conn *ct,
			    const struct net_device *out,
			    __be32 addr_min, __be32 addr_max);

/*
 * Expression and target init get no netlink extack on these kernels, so
 * a rejected rule gets a distinct errno (ERANGE: a value out of range,
 * EINVAL: values that do not fit together) and one ratelimited kernel log
 * line naming the values.
 */
#define mape_reject(err, fmt, ...) ({					\
	pr_info_ratelimited("rule rejected: " fmt "\n", ##__VA_ARGS__);	\
	err;								\
})

/* What one search needs; tuple is edited in place. */
struct mape_search {
	struct nf_conn *ct;
	struct nf_conntrack_tuple tuple;	/* as sent, source rewritten */
	const struct mape_rule *rule;
	u32 idx;				/* index of tuple's port in the set */
	u64 endpoint;				/* mape_endpoint_hash() */
	u32 lookups;
	u32 quiet;				/* of the last closing holder probed */
	bool took_over;
	bool kept;
	bool mapped;				/* got the endpoint's hinted port */
	bool remembered;			/* cut short by the memo */
	bool capped;				/* cut short by the budget */
};

bool mape_find_port(struct mape_search *s);

int mape_cone_init(void);
void mape_cone_exit(void);
struct mape_cone *mape_cone_get(const struct net *net, const struct mape_portset *ps);
void mape_cone_put(const struct net *net, struct mape_cone *c);
bool mape_cone_taken(const struct mape_search *s, u32 idx);
void mape_cone_note(const struct mape_search *s);
bool mape_cone_deliver(const struct mape_rule *rule, struct nf_conn *ct,
		       __be32 addr_min, __be32 addr_max, unsigned int *verdict);
void mape_hint_note(const struct mape_search *s);
bool mape_proto_has_ports(u8 protonum);

int nft_mape_module_init(void);
void nft_mape_module_exit(void);
int xt_mape_module_init(void);
void xt_mape_module_exit(void);

#endif /* MAPE_H */
