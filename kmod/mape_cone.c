// SPDX-License-Identifier: GPL-2.0
/*
 * Endpoint-independent filtering on request ("fullcone", RFC 4787 REQ-8):
 * a UDP packet from anywhere to an external port that an internal endpoint
 * holds is delivered to that endpoint while its mapping lives.
 *
 *   postrouting  snat to ADDR:mape a/k/psid fullcone   notes the mappings
 *   prerouting   the same with fullcone                delivers to them
 *   (never input: there the "endpoint" would be a remote host)
 *
 * Rules of one namespace with the same port set share one cone table:
 * one slot per port of the set (so the state is bounded by the set, never
 * by the flows), whichever rule noted it; a reload that replaces the
 * rules keeps the table, as the new rules take it before the old ones let
 * it go. No conntrack event is used: a mapping is alive while
 * MAPE_CONE_KEEP_S (cone_keep_s) have not passed since its endpoint's
 * last new outbound flow, or while that flow's conntrack entry lives, or
 * that of the oldest flow that still lived when it came. Only outbound
 * flows note anything: new inbound flows, delivered or not, never keep
 * a mapping alive.
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

/*
 * Two of the endpoint's outbound flows keep its mapping alive after
 * cone_keep_s: its newest, and the oldest that was still alive when the
 * newest came (a game's long flow to its server, say, while short STUN
 * queries come and go).
 */
enum { MAPE_CONE_OLDEST, MAPE_CONE_NEWEST, MAPE_CONE_FLOWS };

struct mape_cone_slot {
	u32 seq;		/* odd while a writer fills the slot */
	__be32 int_addr;	/* 0: never noted */
	__be32 ext_addr;
	u32 noted;		/* ktime_get_seconds() of the newest flow */
	__be32 remote_addr[MAPE_CONE_FLOWS];	/* the flows' destinations, as sent */
	__be16 remote_port[MAPE_CONE_FLOWS];
	__be16 int_port;
	u16 zone;		/* the flows' conntrack zone id */
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

/*
 * A copy of the slot as one writer left it; false if empty or if none
 * could be had. A writer holds a slot for a few stores with bottom halves
 * off, so a reader on another CPU waits for it; only one interrupted at
 * length (a guest's vCPU preempted) gives up.
 */
static bool mape_cone_read(const struct mape_cone_slot *slot, struct mape_cone_slot *copy)
{
	int tries, i;

	for (tries = 0; tries < 256; tries++) {
		/* the fields after the sequence: pairs with the writer's release */
		u32 seq = smp_load_acquire(&slot->seq);

		if (seq & 1) {
			cpu_relax();
			continue;
		}
		copy->int_addr = READ_ONCE(slot->int_addr);
		copy->ext_addr = READ_ONCE(slot->ext_addr);
		copy->noted = READ_ONCE(slot->noted);
		for (i = 0; i < MAPE_CONE_FLOWS; i++) {
			copy->remote_addr[i] = READ_ONCE(slot->remote_addr[i]);
			copy->remote_port[i] = READ_ONCE(slot->remote_port[i]);
		}
		copy->int_port = READ_ONCE(slot->int_port);
		copy->zone = READ_ONCE(slot->zone);
		/* the fields before the sequence again: a writer since changed it */
		smp_rmb();
		if (READ_ONCE(slot->seq) == seq)
			return copy->int_addr != 0;
	}
	return false;
}

/*
 * Does flow @i of the mapping in @s (external port @ext_port) live, and
 * still as ours? Found by its original tuple, its reply going to the
 * mapping's external address and port. Its conntrack entry lives as any
 * does: packets either way keep it, those of its own remote included
 * (RFC 4787 REQ-6 lets inbound refresh); packets to the mapping from
 * other remotes make entries of their own, which never count.
 */
static bool mape_cone_flow_alive(struct net *net, const struct mape_cone_slot *s,
				 int i, __be16 ext_port)
{
	struct nf_conntrack_tuple t = {
		.src.l3num = NFPROTO_IPV4,
		.src.u3.ip = s->int_addr,
		.src.u.udp.port = s->int_port,
		.dst.u3.ip = s->remote_addr[i],
		.dst.u.udp.port = s->remote_port[i],
		.dst.protonum = IPPROTO_UDP,
		.dst.dir = IP_CT_DIR_ORIGINAL,
	};
	const struct nf_conntrack_tuple *reply;
	const struct nf_conntrack_tuple_hash *h;
	struct nf_conntrack_zone zone;
	struct nf_conn *ct;
	bool alive;

	nf_ct_zone_init(&zone, s->zone, NF_CT_DEFAULT_ZONE_DIR, 0);
	h = nf_conntrack_find_get(net, &zone, &t);
	if (!h)
		return false;
	ct = nf_ct_tuplehash_to_ctrack(h);
	reply = &ct->tuplehash[IP_CT_DIR_REPLY].tuple;
	alive = NF_CT_DIRECTION(h) == IP_CT_DIR_ORIGINAL &&
		reply->dst.u3.ip == s->ext_addr && reply->dst.u.udp.port == ext_port;
	nf_ct_put(ct);
	return alive;
}

/* Young enough, or one of its two flows alive. */
static bool mape_cone_alive(struct net *net, const struct mape_cone_slot *s, __be16 ext_port)
{
	bool one_flow = s->remote_addr[MAPE_CONE_OLDEST] == s->remote_addr[MAPE_CONE_NEWEST] &&
			s->remote_port[MAPE_CONE_OLDEST] == s->remote_port[MAPE_CONE_NEWEST];

	if ((u32)ktime_get_seconds() - s->noted < READ_ONCE(cone_keep_s))
		return true;
	if (mape_cone_flow_alive(net, s, MAPE_CONE_NEWEST, ext_port))
		return true;
	return !one_flow && mape_cone_flow_alive(net, s, MAPE_CONE_OLDEST, ext_port);
}

static bool mape_cone_same_endpoint(const struct mape_cone_slot *s,
				    const struct nf_conntrack_tuple *orig)
{
	return s->int_addr == orig->src.u3.ip && s->int_port == orig->src.u.udp.port;
}

/*
 * Would port @idx give the flow of @s a port whose cone another endpoint
 * holds (at any address: one slot per port)? The search then prefers
 * another port, among the endpoint's own candidates and on the walk: a
 * flow given it would have no mapping of its own to be reached at.
 */
bool mape_cone_taken(const struct mape_search *s, u32 idx)
{
	const struct nf_conntrack_tuple *orig = &s->ct->tuplehash[IP_CT_DIR_ORIGINAL].tuple;
	struct mape_cone_slot cur;
	__be16 port = htons(mape_portset_port(&s->rule->ps, idx));

	if (orig->dst.protonum != IPPROTO_UDP ||
	    !mape_cone_read(&s->rule->cone->slot[idx], &cur))
		return false;
	return !mape_cone_same_endpoint(&cur, orig) &&
	       mape_cone_alive(nf_ct_net(s->ct), &cur, port);
}

/*
 * What the slot becomes for the new flow of @orig: the endpoint's, with
 * this flow as the newest, and as the oldest too unless the slot's
 * oldest flow of the same endpoint still lives. False: another
 * endpoint's mapping lives there, the slot stays as it is.
 */
static bool mape_cone_next(const struct mape_search *s, const struct mape_cone_slot *slot,
			   struct mape_cone_slot *next)
{
	const struct nf_conntrack_tuple *orig = &s->ct->tuplehash[IP_CT_DIR_ORIGINAL].tuple;
	struct net *net = nf_ct_net(s->ct);
	__be16 port = s->tuple.src.u.udp.port;
	struct mape_cone_slot cur;
	bool held = mape_cone_read(slot, &cur);
	int i;

	if (held && !mape_cone_same_endpoint(&cur, orig) && mape_cone_alive(net, &cur, port))
		return false;
	next->int_addr = orig->src.u3.ip;
	next->int_port = orig->src.u.udp.port;
	next->ext_addr = s->tuple.src.u3.ip;
	next->zone = nf_ct_zone_id(nf_ct_zone(s->ct), IP_CT_DIR_ORIGINAL);
	next->noted = (u32)ktime_get_seconds();
	for (i = 0; i < MAPE_CONE_FLOWS; i++) {
		next->remote_addr[i] = orig->dst.u3.ip;
		next->remote_port[i] = orig->dst.u.udp.port;
	}
	if (held && mape_cone_same_endpoint(&cur, orig) && cur.ext_addr == next->ext_addr &&
	    mape_cone_flow_alive(net, &cur, MAPE_CONE_OLDEST, port)) {
		next->remote_addr[MAPE_CONE_OLDEST] = cur.remote_addr[MAPE_CONE_OLDEST];
		next->remote_port[MAPE_CONE_OLDEST] = cur.remote_port[MAPE_CONE_OLDEST];
	}
	return true;
}

/*
 * A UDP flow of an endpoint was given port s->idx: the slot becomes the
 * endpoint's unless another endpoint's mapping there is alive. The claim
 * by compare-and-exchange keeps two writers out of one slot (the loser
 * leaves its note out); bottom halves stay off meanwhile, so that a
 * reader on this CPU never meets the slot half written.
 */
void mape_cone_note(const struct mape_search *s)
{
	const struct nf_conntrack_tuple *orig = &s->ct->tuplehash[IP_CT_DIR_ORIGINAL].tuple;
	struct mape_cone_slot *slot = &s->rule->cone->slot[s->idx];
	struct mape_cone_slot next;
	u32 seq;
	int i;

	if (orig->dst.protonum != IPPROTO_UDP)
		return;
	/* the slot as of this sequence; the cmpxchg below fails if it moved */
	seq = smp_load_acquire(&slot->seq);
	if ((seq & 1) || !mape_cone_next(s, slot, &next))
		return;
	local_bh_disable();
	if (cmpxchg(&slot->seq, seq, seq + 1) == seq) {
		WRITE_ONCE(slot->int_addr, next.int_addr);
		WRITE_ONCE(slot->int_port, next.int_port);
		WRITE_ONCE(slot->ext_addr, next.ext_addr);
		WRITE_ONCE(slot->zone, next.zone);
		WRITE_ONCE(slot->noted, next.noted);
		for (i = 0; i < MAPE_CONE_FLOWS; i++) {
			WRITE_ONCE(slot->remote_addr[i], next.remote_addr[i]);
			WRITE_ONCE(slot->remote_port[i], next.remote_port[i]);
		}
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
	    cur.zone != nf_ct_zone_id(nf_ct_zone(ct), IP_CT_DIR_ORIGINAL) ||
	    !mape_cone_alive(nf_ct_net(ct), &cur, t->dst.u.udp.port))
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
 * line per noted port: external address and port, endpoint, its newest
 * and oldest flows' destinations, the newest's age. Empty when no rule
 * asks for fullcone: nothing else is kept. Like /proc/net/nf_conntrack,
 * for the namespace's root only: it names LAN hosts and their peers.
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
			seq_printf(seq, "udp %pI4:%u %pI4:%u last %pI4:%u oldest %pI4:%u age %u\n",
				   &cur.ext_addr, mape_portset_port(&c->ps, i),
				   &cur.int_addr, ntohs(cur.int_port),
				   &cur.remote_addr[MAPE_CONE_NEWEST],
				   ntohs(cur.remote_port[MAPE_CONE_NEWEST]),
				   &cur.remote_addr[MAPE_CONE_OLDEST],
				   ntohs(cur.remote_port[MAPE_CONE_OLDEST]), now - cur.noted);
		}
	}
	mutex_unlock(&cn->lock);
	return 0;
}

static int __net_init mape_cone_net_init(struct net *net)
{
	struct mape_cone_net *cn = mape_cone_net(net);

	kuid_t uid = make_kuid(net->user_ns, 0);
	kgid_t gid = make_kgid(net->user_ns, 0);
	struct proc_dir_entry *pde;

	mutex_init(&cn->lock);
	INIT_LIST_HEAD(&cn->tables);
	pde = proc_create_net_single("nf_nat_mape_cones", 0440, net->proc_net,
				     mape_cones_show, NULL);
	if (!pde)
		return -ENOMEM;
	if (uid_valid(uid) && gid_valid(gid))
		proc_set_user(pde, uid, gid);
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
