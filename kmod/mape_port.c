// SPDX-License-Identifier: GPL-2.0
/*
 * Choosing a source port (or ICMP id) from the MAP-E port set.
 *
 * The tuple a flow gets must be free: nf_nat_setup_info() takes a single
 * port on trust, and a clash would only surface at conntrack confirm as a
 * dropped packet. nf_nat_used_tuple() is not exported, so ask conntrack
 * directly about the reply tuple, as it does.
 *
 * Work per packet is bounded: at most 1 lookup for the original port,
 * min(P, MAPE_MAX_PROBES) for the walk, and 1 to re-check a takeover
 * candidate. No locks are taken; conntrack lookups are RCU.
 */
#include <linux/random.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/netfilter/nf_conntrack_core.h>
#include <net/netfilter/nf_conntrack_tuple.h>
#include <net/netfilter/nf_conntrack_zones.h>

#include "mape.h"

bool mape_proto_has_ports(u8 protonum)
{
	switch (protonum) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
	case IPPROTO_SCTP:
	case IPPROTO_DCCP:
	case IPPROTO_ICMP:	/* the echo id plays the port's part */
		return true;
	}
	return false;
}

enum probe_result { PROBE_FREE, PROBE_TAKEN, PROBE_CLOSING };

/*
 * The server may have its own TIME_WAIT for the old flow only if it sent
 * the first FIN. There it accepts a new SYN on the same tuple only as a
 * new connection whose sequence is past the old one (RFC 1122 4.2.2.13);
 * any other SYN it may take for an old segment. When the client closed
 * first, or the flow was reset, the server holds nothing of it.
 */
static bool mape_server_may_linger(const struct nf_conn *old)
{
	return READ_ONCE(old->proto.tcp.seen[IP_CT_DIR_REPLY].flags) &
	       IP_CT_TCP_FLAG_CLOSE_INIT;
}

/*
 * A TCP flow that is over on our side (TIME_WAIT/CLOSE) may hand its port
 * to a new connection toward the same destination, as the kernel's own
 * NAT allows since 6.5: only flows we source-NATed, never offloaded or
 * fixed ones. The kernel also demands that the new SYN's sequence be past
 * everything the old flow sent; with random initial sequence numbers that
 * holds for about half of the holders, which leaves a set of TIME_WAIT
 * ports part unusable. We demand it only where the server may linger.
 */
static bool mape_may_take_over(const struct nf_conn *old,
			       const struct nf_conn *new)
{
	unsigned long status = READ_ONCE(old->status);
	u8 state = READ_ONCE(old->proto.tcp.state);

	if (state != TCP_CONNTRACK_TIME_WAIT && state != TCP_CONNTRACK_CLOSE)
		return false;
	if (status & (IPS_FIXED_TIMEOUT | IPS_DYING | IPS_OFFLOAD | IPS_HW_OFFLOAD))
		return false;
	if (!(status & IPS_SRC_NAT))
		return false;
	if (!mape_server_may_linger(old))
		return true;
	return (s32)(new->proto.tcp.seen[0].td_end -
		     old->proto.tcp.seen[0].td_end) > 0;
}

static bool mape_is_new_tcp(const struct nf_conn *ct)
{
	return nf_ct_protonum(ct) == IPPROTO_TCP &&
	       READ_ONCE(ct->proto.tcp.state) == TCP_CONNTRACK_SYN_SENT;
}

/*
 * Does another conntrack hold the reply tuple of s->tuple? For a new TCP
 * flow the same single lookup also tells whether the holder may be
 * evicted, and with @kill, evicts it.
 */
static enum probe_result mape_probe(struct mape_search *s, bool kill)
{
	const struct nf_conntrack_tuple_hash *h;
	struct nf_conntrack_tuple reply;
	enum probe_result res = PROBE_TAKEN;
	struct nf_conn *holder;

	s->lookups++;
	nf_ct_invert_tuple(&reply, &s->tuple);
	if (!mape_is_new_tcp(s->ct))
		return nf_conntrack_tuple_taken(&reply, s->ct) ? PROBE_TAKEN : PROBE_FREE;

	h = nf_conntrack_find_get(nf_ct_net(s->ct), nf_ct_zone(s->ct), &reply);
	if (!h)
		return PROBE_FREE;
	holder = nf_ct_tuplehash_to_ctrack(h);
	/* same flow seen twice (as nf_conntrack_tuple_taken() lets pass) */
	if (nf_ct_tuple_equal(&holder->tuplehash[IP_CT_DIR_ORIGINAL].tuple,
			      &s->ct->tuplehash[IP_CT_DIR_ORIGINAL].tuple))
		res = PROBE_FREE;
	else if (NF_CT_DIRECTION(h) == IP_CT_DIR_REPLY &&
		 mape_may_take_over(holder, s->ct))
		res = PROBE_CLOSING;
	if (res == PROBE_CLOSING && kill)
		res = nf_ct_kill(holder) ? PROBE_FREE : PROBE_TAKEN;
	nf_ct_put(holder);
	return res;
}

static void mape_set_port(struct mape_search *s, u32 idx)
{
	s->tuple.src.u.all = htons(mape_portset_port(s->ps, idx));
}

/*
 * Walk the set in a random order; a random order, unlike a linear walk,
 * does not grow runs of taken ports that make later searches longer.
 * Free ports win; failing that, the first closing TCP holder seen is
 * evicted. On success s->tuple carries the chosen port.
 */
static bool mape_walk(struct mape_search *s)
{
	u32 size = s->ps->size, n = min_t(u32, size, MAPE_MAX_PROBES);
	u32 idx = get_random_u32_below(size);
	u32 step = mape_walk_step(size, get_random_u32());
	u32 closing = U32_MAX, i;

	for (i = 0; i < n; i++) {
		mape_set_port(s, idx);
		switch (mape_probe(s, false)) {
		case PROBE_FREE:
			return true;
		case PROBE_CLOSING:
			if (closing == U32_MAX)
				closing = idx;
			break;
		case PROBE_TAKEN:
			break;
		}
		idx = mape_walk_next(idx, step, size);
	}
	if (closing == U32_MAX)
		return false;
	mape_set_port(s, closing);
	s->took_over = mape_probe(s, true) == PROBE_FREE;
	return s->took_over;
}

bool mape_find_port(struct mape_search *s)
{
	if (s->keep_original &&
	    mape_portset_contains(s->ps, ntohs(s->tuple.src.u.all)) &&
	    mape_probe(s, false) == PROBE_FREE) {
		s->kept = true;
		return true;
	}
	return mape_walk(s);
}
