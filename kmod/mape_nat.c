// SPDX-License-Identifier: GPL-2.0
/*
 * The translation both front ends share (the nf_tables expression and the
 * xtables target): validate a rule, choose an address and a port from the
 * set for a new flow, and hand them to the NAT core.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jhash.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <net/netfilter/nf_conntrack_core.h>
#include <net/netfilter/nf_nat.h>

#include "mape.h"
#include "nf_nat_mape.h"

static void mape_rule_free(struct mape_rule *rule, const struct net *net)
{
	if (rule->cone)
		mape_cone_put(net, rule->cone);
	rule->cone = NULL;
	kfree(rule->memo);
	free_percpu(rule->budget);
	kvfree(rule->hints);
	rule->memo = NULL;
	rule->budget = NULL;
	rule->hints = NULL;
}

/* Two hint slots per port of the set, a power of two, capped. */
static u32 mape_hint_slots(const struct mape_portset *ps)
{
	return roundup_pow_of_two(min_t(u32, 2 * ps->size, MAPE_HINT_MAX_SLOTS));
}

int mape_rule_init(struct mape_rule *rule, const struct net *net,
		   u32 a, u32 k, u32 psid, u32 flags)
{
	bool maps = !(flags & NF_NAT_RANGE_PROTO_RANDOM_ALL);	/* random maps nothing */
	int err = mape_portset_init(&rule->ps, a, k, psid);

	switch (err) {
	case MAPE_OK:
		break;
	case MAPE_E_OFFSET:
	case MAPE_E_LENGTH:
		return mape_reject(-ERANGE, "%s (%u/%u/%u)",
				   mape_portset_strerror(err), a, k, psid);
	default:
		return mape_reject(-EINVAL, "%s (%u/%u/%u)",
				   mape_portset_strerror(err), a, k, psid);
	}
	if (flags & ~NFT_MAPE_FLAGS_ALL)
		return mape_reject(-EINVAL, "unknown flags 0x%x", flags);
	rule->flags = flags;

	rule->memo = kcalloc(MAPE_MEMO_SLOTS, sizeof(*rule->memo), GFP_KERNEL_ACCOUNT);
	rule->budget = alloc_percpu_gfp(struct mape_budget, GFP_KERNEL_ACCOUNT);
	rule->hints = NULL;
	rule->cone = NULL;
	if (flags & NFT_MAPE_F_FULLCONE)
		rule->cone = mape_cone_get(net, &rule->ps);
	if (maps) {
		rule->hint_mask = mape_hint_slots(&rule->ps) - 1;
		rule->hints = kvcalloc(rule->hint_mask + 1, sizeof(*rule->hints),
				       GFP_KERNEL_ACCOUNT);
	}
	if (!rule->memo || !rule->budget || (maps && !rule->hints) ||
	    ((flags & NFT_MAPE_F_FULLCONE) && !rule->cone)) {
		mape_rule_free(rule, net);
		return -ENOMEM;
	}
	mape_net_rules_add(net, 1);
	return 0;
}

void mape_rule_destroy(struct mape_rule *rule, const struct net *net)
{
	mape_rule_free(rule, net);
	mape_net_rules_add(net, -1);
}

/*
 * The hooks a rule may be at: postrouting and input, as snat. A fullcone
 * rule notes mappings in postrouting and delivers to them in prerouting
 * (mape_cone_deliver()); never in input, where the "internal endpoint"
 * it would note is a remote host, and the cone a relay to it.
 */
unsigned int mape_rule_hooks(const struct mape_rule *rule)
{
	if (rule->flags & NFT_MAPE_F_FULLCONE)
		return (1 << NF_INET_POST_ROUTING) | (1 << NF_INET_PRE_ROUTING);
	return (1 << NF_INET_POST_ROUTING) | (1 << NF_INET_LOCAL_IN);
}

/*
 * One address of ADDR-ADDR per flow, from a hash of the source address:
 * an endpoint's mapping is one address and port toward every destination.
 * Only "random" and "fully-random", which give up that mapping, hash the
 * destination too (unless "persistent"), as snat does.
 */
static __be32 mape_pick_addr(const struct mape_rule *rule,
			     const struct nf_conntrack_tuple *t,
			     __be32 addr_min, __be32 addr_max)
{
	static u32 seed __read_mostly;
	u32 lo = ntohl(addr_min), hi = ntohl(addr_max), dst, h;

	if (hi <= lo)
		return addr_min;
	net_get_random_once(&seed, sizeof(seed));
	dst = 0;
	if ((rule->flags & NF_NAT_RANGE_PROTO_RANDOM_ALL) &&
	    !(rule->flags & NF_NAT_RANGE_PERSISTENT))
		dst = (__force u32)t->dst.u3.ip;
	h = jhash_2words((__force u32)t->src.u3.ip, dst, seed);
	return htonl(lo + reciprocal_scale(h, hi - lo + 1));
}

static void mape_count_search(const struct net *net, const struct mape_search *s)
{
	mape_stat_add(net, MAPE_STAT_LOOKUPS, s->lookups);
	mape_stat_add(net, MAPE_STAT_REMEMBERED, s->remembered);
	mape_stat_add(net, MAPE_STAT_CAPPED, s->capped);
}

/*
 * Hand the choice to the NAT core; count it only once it took. The flow
 * is tied to the interface it leaves by (masq_index), as masquerade ties
 * its flows, so that it is dropped when that interface loses the address
 * (mape_addr.c): after a prefix change no flow keeps an old address and
 * port set. The NAT core then treats it as masquerade's in two more ways,
 * both wanted here: a packet of the flow leaving by another interface
 * (a route change, a fallback) drops the flow, whose address and ports
 * mean nothing there; and while masquerade is loaded, its notifiers drop
 * the flow when the tunnel goes down (and, when nft_masq or xt_MASQUERADE
 * is unloaded, which replays that event for every device, all of them).
 */
static unsigned int mape_setup(struct nf_conn *ct, const struct net_device *out,
			       const struct nf_nat_range2 *range,
			       const struct mape_search *s)
{
	const struct net *net = nf_ct_net(ct);
	struct nf_conn_nat *nat;
	unsigned int verdict;

	if (out) {
		nat = nf_ct_nat_ext_add(ct);
		if (nat)
			nat->masq_index = out->ifindex;
	}
	verdict = nf_nat_setup_info(ct, range, NF_NAT_MANIP_SRC);
	if (verdict != NF_ACCEPT)
		return verdict;
	mape_stat_add(net, MAPE_STAT_TRANSLATED, 1);
	if (s) {
		mape_stat_add(net, MAPE_STAT_KEPT, s->kept);
		mape_stat_add(net, MAPE_STAT_MAPPED, s->mapped);
		mape_stat_add(net, MAPE_STAT_TAKEOVER, s->took_over);
		if (s->rule->hints)
			mape_hint_note(s);
		if (s->rule->cone)
			mape_cone_note(s);
	}
	return verdict;
}

/*
 * Source NAT for a new IPv4 flow. The search starts from the tuple as it
 * is now, the inverse of the reply tuple, as the NAT core's does: a DNAT
 * done before us (a port forward, a redirect) has changed the destination
 * that the translated tuple must be unique toward.
 */
unsigned int mape_translate(const struct mape_rule *rule, struct nf_conn *ct,
			    const struct net_device *out,
			    __be32 addr_min, __be32 addr_max)
{
	struct nf_nat_range2 range = { .flags = NF_NAT_RANGE_MAP_IPS };
	struct net *net = nf_ct_net(ct);
	struct mape_search s = {
		.ct = ct,
		.rule = rule,
	};
	bool found;

	nf_ct_invert_tuple(&s.tuple, &ct->tuplehash[IP_CT_DIR_REPLY].tuple);
	range.min_addr.ip = mape_pick_addr(rule, &s.tuple, addr_min, addr_max);
	range.max_addr.ip = range.min_addr.ip;

	if (!mape_proto_has_ports(s.tuple.dst.protonum)) {
		/* The BR routes replies by port: only k = 0 can do without. */
		if (rule->ps.psid_len) {
			mape_stat_add(net, MAPE_STAT_PORTLESS, 1);
			return NF_DROP;
		}
		return mape_setup(ct, out, &range, NULL);
	}

	s.tuple.src.u3.ip = range.min_addr.ip;
	found = mape_find_port(&s);
	mape_count_search(net, &s);
	if (!found) {
		mape_stat_add(net, MAPE_STAT_EXHAUSTED, 1);
		return NF_DROP;
	}
	range.flags |= NF_NAT_RANGE_PROTO_SPECIFIED;
	range.min_proto.all = s.tuple.src.u.all;
	range.max_proto.all = s.tuple.src.u.all;
	return mape_setup(ct, out, &range, &s);
}
