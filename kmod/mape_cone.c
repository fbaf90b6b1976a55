// SPDX-License-Identifier: GPL-2.0
/*
 * Endpoint-independent filtering on request ("fullcone", RFC 4787 REQ-8):
 * a UDP packet from anywhere to an external port that an internal endpoint
 * holds is delivered to that endpoint while its mapping lives.
 *
 *   postrouting  snat to ADDR:mape a/k/psid fullcone   notes the mappings
 *   prerouting   the same with fullcone                delivers to them
 *
 * Rules of one namespace with the same port set share one cone table:
 * one slot per port of the set (so the state is bounded by the set, never
 * by the flows), whichever rule noted it; a reload that replaces the
 * rules keeps the table, as the new rules take it before the old ones let
 * it go. No conntrack event is used: a mapping is alive while
 * MAPE_CONE_KEEP_S (cone_keep_s) have not passed since its endpoint's
 * last new outbound flow, or while that flow's conntrack lives. Inbound
 * packets never note anything, so they alone never keep it alive.
 *
 * Slots are read without locks (a per-slot sequence, as a seqcount's) and
 * written without waiting: a writer that meets another one on the same
 * slot leaves its note out, which costs that endpoint's filtering until
 * its next new flow, never a wrong delivery: every delivery is checked
 * against the slot as read whole.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <net/netns/generic.h>
#include <net/netfilter/nf_conntrack_core.h>
#include <net/netfilter/nf_conntrack_zones.h>
#include <net/netfilter/nf_nat.h>

#include "mape.h"

static unsigned int cone_keep_s __read_mostly = MAPE_CONE_KEEP_S;
module_param(cone_keep_s, uint, 0644);
MODULE_PARM_DESC(cone_keep_s,
		 "seconds a fullcone mapping lives after its endpoint's last new flow at least (120)");

struct mape_cone_slot {
	u32 seq;		/* odd while a writer fills the slot */
	__be32 int_addr;	/* 0: never noted */
	__be32 ext_addr;
	__be32 remote_addr;	/* the last new flow's destination, as sent */
	__be16 int_port;
	__be16 remote_port;
	u32 noted;		/* ktime_get_seconds() of that flow */
};

struct mape_cone {
	struct list_head list;	/* the namespace's tables, under its mutex */
	unsigned int users;	/* rules, under the same mutex */
	struct mape_portset ps;
	struct rcu_head rcu;
	struct mape_cone_slot slot[];	/* ps.size */
};

struct mape_cone_net {
	struct mutex lock;		/* the list and each table's users */
	struct list_head tables;
};

static unsigned int mape_cone_net_id __read_mostly;

static struct mape_cone_net *mape_cone_net(const struct net *net)
{
	return net_generic(net, mape_cone_net_id);
}

static bool mape_ps_equal(const struct mape_portset *x, const struct mape_portset *y)
{
	return x->offset == y->offset && x->psid_len == y->psid_len && x->psid == y->psid;
}

struct mape_cone *mape_cone_get(const struct net *net, const struct mape_portset *ps)
{
	struct mape_cone_net *cn = mape_cone_net(net);
	struct mape_cone *c;

	mutex_lock(&cn->lock);
	list_for_each_entry(c, &cn->tables, list)
		if (mape_ps_equal(&c->ps, ps))
			goto found;
	c = kvzalloc(struct_size(c, slot, ps->size), GFP_KERNEL_ACCOUNT);
	if (!c)
		goto out;
	c->ps = *ps;
	list_add(&c->list, &cn->tables);
found:
	c->users++;
out:
	mutex_unlock(&cn->lock);
	return c;
}

/* Packets may still be reading the slots of a rule being removed. */
void mape_cone_put(const struct net *net, struct mape_cone *c)
{
	struct mape_cone_net *cn = mape_cone_net(net);

	mutex_lock(&cn->lock);
	if (--c->users == 0) {
		list_del(&c->list);
		kvfree_rcu(c, rcu);
	}
	mutex_unlock(&cn->lock);
}

/* A copy of the slot as one writer left it; false if none could be had. */
static bool mape_cone_read(const struct mape_cone_slot *slot, struct mape_cone_slot *copy)
{
	int tries;

	for (tries = 0; tries < 3; tries++) {
		/* the fields after the sequence: pairs with the writer's release */
		u32 seq = smp_load_acquire(&slot->seq);

		if (seq & 1)
			continue;
		copy->int_addr = READ_ONCE(slot->int_addr);
		copy->ext_addr = READ_ONCE(slot->ext_addr);
		copy->remote_addr = READ_ONCE(slot->remote_addr);
		copy->int_port = READ_ONCE(slot->int_port);
		copy->remote_port = READ_ONCE(slot->remote_port);
		copy->noted = READ_ONCE(slot->noted);
		/* the fields before the sequence again: a writer since changed it */
		smp_rmb();
		if (READ_ONCE(slot->seq) == seq)
			return copy->int_addr != 0;
	}
	return false;
}

/*
 * Is the mapping in @s (external port @ext_port) alive? Young enough, or
 * the flow that last noted it still tracked, and still ours: found by its
 * original tuple, its reply going to the mapping's external address and
 * port.
 */
static bool mape_cone_alive(struct net *net, const struct nf_conntrack_zone *zone,
			    const struct mape_cone_slot *s, __be16 ext_port)
{
	struct nf_conntrack_tuple t = {
		.src.l3num = NFPROTO_IPV4,
		.src.u3.ip = s->int_addr,
		.src.u.udp.port = s->int_port,
		.dst.u3.ip = s->remote_addr,
		.dst.u.udp.port = s->remote_port,
		.dst.protonum = IPPROTO_UDP,
		.dst.dir = IP_CT_DIR_ORIGINAL,
	};
	const struct nf_conntrack_tuple *reply;
	const struct nf_conntrack_tuple_hash *h;
	struct nf_conn *ct;
	bool alive;

	if ((u32)ktime_get_seconds() - s->noted < READ_ONCE(cone_keep_s))
		return true;
	h = nf_conntrack_find_get(net, zone, &t);
	if (!h)
		return false;
	ct = nf_ct_tuplehash_to_ctrack(h);
	reply = &ct->tuplehash[IP_CT_DIR_REPLY].tuple;
	alive = NF_CT_DIRECTION(h) == IP_CT_DIR_ORIGINAL &&
		reply->dst.u3.ip == s->ext_addr && reply->dst.u.udp.port == ext_port;
	nf_ct_put(ct);
	return alive;
}

static bool mape_cone_same_endpoint(const struct mape_cone_slot *s,
				    const struct nf_conntrack_tuple *orig)
{
	return s->int_addr == orig->src.u3.ip && s->int_port == orig->src.u.udp.port;
}

/*
 * Would port @idx (at s->tuple's address) give the flow of @s a port
 * whose cone another endpoint holds? The search then prefers another
 * port while it asks for the endpoint's own candidates.
 */
bool mape_cone_taken(const struct mape_search *s, u32 idx)
{
	const struct nf_conntrack_tuple *orig = &s->ct->tuplehash[IP_CT_DIR_ORIGINAL].tuple;
	struct mape_cone_slot cur;
	__be16 port = htons(mape_portset_port(&s->rule->ps, idx));

	if (orig->dst.protonum != IPPROTO_UDP ||
	    !mape_cone_read(&s->rule->cone->slot[idx], &cur))
		return false;
	return !mape_cone_same_endpoint(&cur, orig) && cur.ext_addr == s->tuple.src.u3.ip &&
	       mape_cone_alive(nf_ct_net(s->ct), nf_ct_zone(s->ct), &cur, port);
}

/*
 * A UDP flow of an endpoint was given port s->idx: the slot becomes the
 * endpoint's unless another endpoint's mapping there is alive. The claim
 * by compare-and-exchange keeps two writers out of one slot; bottom
 * halves stay off meanwhile, so that a reader on this CPU never meets
 * the slot half written.
 */
void mape_cone_note(const struct mape_search *s)
{
	const struct nf_conntrack_tuple *orig = &s->ct->tuplehash[IP_CT_DIR_ORIGINAL].tuple;
	struct mape_cone_slot *slot = &s->rule->cone->slot[s->idx];
	struct mape_cone_slot cur;
	u32 seq;

	if (orig->dst.protonum != IPPROTO_UDP)
		return;
	/* the slot as of this sequence; the cmpxchg below fails if it moved */
	seq = smp_load_acquire(&slot->seq);
	if ((seq & 1) || (mape_cone_read(slot, &cur) && !mape_cone_same_endpoint(&cur, orig) &&
			  mape_cone_alive(nf_ct_net(s->ct), nf_ct_zone(s->ct), &cur,
					  s->tuple.src.u.udp.port)))
		return;
	local_bh_disable();
	if (cmpxchg(&slot->seq, seq, seq + 1) == seq) {
		WRITE_ONCE(slot->int_addr, orig->src.u3.ip);
		WRITE_ONCE(slot->int_port, orig->src.u.udp.port);
		WRITE_ONCE(slot->ext_addr, s->tuple.src.u3.ip);
		WRITE_ONCE(slot->remote_addr, orig->dst.u3.ip);
		WRITE_ONCE(slot->remote_port, orig->dst.u.udp.port);
		WRITE_ONCE(slot->noted, (u32)ktime_get_seconds());
		/* the fields before the even sequence that readers wait for */
		smp_store_release(&slot->seq, seq + 2);
	}
	local_bh_enable();
}

/*
 * A new inbound flow: if it is UDP to a port of the set at an address of
 * [addr_min, addr_max] whose mapping is alive, its destination becomes
 * the mapping's endpoint (*verdict set, true); otherwise false, and the
 * packet goes on to the next rule untouched. A rule without fullcone
 * never gets here from a base chain (mape_rule_hooks()), but may from a
 * chain that prerouting jumps to: it delivers nothing.
 */
bool mape_cone_deliver(const struct mape_rule *rule, struct nf_conn *ct,
		       __be32 addr_min, __be32 addr_max, unsigned int *verdict)
{
	const struct nf_conntrack_tuple *t = &ct->tuplehash[IP_CT_DIR_ORIGINAL].tuple;
	struct nf_nat_range2 range = {
		.flags = NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED,
	};
	struct mape_cone_slot cur;
	u32 daddr = ntohl(t->dst.u3.ip), idx;

	if (!rule->cone || t->dst.protonum != IPPROTO_UDP ||
	    daddr < ntohl(addr_min) || daddr > ntohl(addr_max) ||
	    !mape_portset_index(&rule->ps, ntohs(t->dst.u.udp.port), &idx) ||
	    !mape_cone_read(&rule->cone->slot[idx], &cur) ||
	    cur.ext_addr != t->dst.u3.ip ||
	    !mape_cone_alive(nf_ct_net(ct), nf_ct_zone(ct), &cur, t->dst.u.udp.port))
		return false;
	range.min_addr.ip = cur.int_addr;
	range.max_addr.ip = cur.int_addr;
	range.min_proto.udp.port = cur.int_port;
	range.max_proto.udp.port = cur.int_port;
	*verdict = nf_nat_setup_info(ct, &range, NF_NAT_MANIP_DST);
	if (*verdict == NF_ACCEPT)
		mape_stat_add(nf_ct_net(ct), MAPE_STAT_CONE_IN, 1);
	return true;
}

/*
 * /proc/net/nf_nat_mape_cones: per table, its set and users, then one
 * line per noted port: external address and port, endpoint, the last
 * new flow's destination and its age. Empty when no rule asks for
 * fullcone: nothing else is kept.
 */
static int mape_cones_show(struct seq_file *seq, void *v)
{
	struct mape_cone_net *cn = mape_cone_net(seq_file_single_net(seq));
	u32 now = (u32)ktime_get_seconds(), i;
	struct mape_cone_slot cur;
	struct mape_cone *c;

	mutex_lock(&cn->lock);
	list_for_each_entry(c, &cn->tables, list) {
		seq_printf(seq, "set %u/%u/%u ports %u rules %u\n", c->ps.offset,
			   c->ps.psid_len, c->ps.psid, c->ps.size, c->users);
		for (i = 0; i < c->ps.size; i++) {
			if (!mape_cone_read(&c->slot[i], &cur))
				continue;
			seq_printf(seq, "udp %pI4:%u %pI4:%u last %pI4:%u age %u\n",
				   &cur.ext_addr, mape_portset_port(&c->ps, i),
				   &cur.int_addr, ntohs(cur.int_port),
				   &cur.remote_addr, ntohs(cur.remote_port), now - cur.noted);
		}
	}
	mutex_unlock(&cn->lock);
	return 0;
}

static int __net_init mape_cone_net_init(struct net *net)
{
	struct mape_cone_net *cn = mape_cone_net(net);

	mutex_init(&cn->lock);
	INIT_LIST_HEAD(&cn->tables);
	if (!proc_create_net_single("nf_nat_mape_cones", 0444, net->proc_net,
				    mape_cones_show, NULL))
		return -ENOMEM;
	return 0;
}

/*
 * nf_tables and x_tables release a dying namespace's rules after this
 * (their pernet exits run later); the list and its lock live on until
 * every exit has run, so the rules' mape_cone_put() still finds them.
 */
static void __net_exit mape_cone_net_exit(struct net *net)
{
	remove_proc_entry("nf_nat_mape_cones", net->proc_net);
}

static struct pernet_operations mape_cone_net_ops = {
	.init	= mape_cone_net_init,
	.exit	= mape_cone_net_exit,
	.id	= &mape_cone_net_id,
	.size	= sizeof(struct mape_cone_net),
};

int mape_cone_init(void)
{
	return register_pernet_subsys(&mape_cone_net_ops);
}

void mape_cone_exit(void)
{
	unregister_pernet_subsys(&mape_cone_net_ops);
}
