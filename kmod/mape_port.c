// SPDX-License-Identifier: GPL-2.0
/*
 * Choosing a source port (or ICMP id) from the MAP-E port set.
 *
 * The tuple a flow gets must be free: nf_nat_setup_info() takes a single
 * port on trust, and a clash would only surface at conntrack confirm as a
 * dropped packet. nf_nat_used_tuple() is not exported, so ask conntrack
 * directly about the reply tuple, as it does.
 *
 * Work per search is bounded: at most 3 lookups for the ports that keep
 * the flow's mapping (its endpoint's earlier, its own, its hashed), at most
 * min(P, MAPE_MAX_PROBES) for the walk (fewer when the destination is
 * remembered full or the CPU's budget is spent, see mape.h), and at most
 * MAPE_TAKEOVER_TRIES to evict closing TCP holders. A UDP flow of a
 * fullcone rule also reads the cone slot of each free port it meets (two
 * lookups more for a slot noted over cone_keep_s ago), never of a taken
 * one: a refused packet costs no more. No locks are taken; conntrack
 * lookups are RCU, the memo, budget and hints are read and written
 * without locks (a lost entry changes how long we look or which free port
 * we ask for first, never which port is valid).
 */
#include <linux/jhash.h>
#include <linux/random.h>
#include <linux/siphash.h>
#include <linux/ktime.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/netfilter/nf_conntrack_core.h>
#include <net/netfilter/nf_conntrack_l4proto.h>
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

enum probe_result { PROBE_FREE, PROBE_TAKEN, PROBE_CLOSING, PROBE_EVICTED };

/*
 * The server may have its own TIME_WAIT for the old flow only if it sent
 * the first FIN. There it accepts a new SYN on the same tuple only as a
 * new connection whose sequence is past the old one (RFC 1122 4.2.2.13);
 * any other SYN it may take for an old segment. When the client closed
 * first, or an established flow was reset, the server holds nothing of it.
 */
static bool mape_server_may_linger(const struct nf_conn *old)
{
	return READ_ONCE(old->proto.tcp.seen[IP_CT_DIR_REPLY].flags) &
	       IP_CT_TCP_FLAG_CLOSE_INIT;
}

/*
 * Conntrack enters TIME_WAIT on any segment of the server's after the
 * client's FIN, whether it acks that FIN or not (the server's resent FIN
 * will do, and under load it often comes first). Until the server acks
 * the client's FIN it holds the flow in FIN_WAIT, not TIME_WAIT, and the
 * client resends its FIN: a new SYN on the tuple would meet a live socket
 * and the old client's segments would find no conntrack entry.
 */
static bool mape_server_acked_all(const struct nf_conn *old)
{
	return (s32)(READ_ONCE(old->proto.tcp.seen[IP_CT_DIR_REPLY].td_maxack) -
		     READ_ONCE(old->proto.tcp.seen[IP_CT_DIR_ORIGINAL].td_end)) >= 0;
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
	/*
	 * Reset before its handshake completed: most often a new SYN met the
	 * server's TIME_WAIT of the flow before, the client answered the
	 * challenge ACK with a reset, and it resends the SYN on this tuple
	 * within a second. Taking the port would strand that connection with
	 * no conntrack entry (its later segments find no free port).
	 */
	if (state == TCP_CONNTRACK_CLOSE && !(status & IPS_ASSURED))
		return false;
	if (status & (IPS_FIXED_TIMEOUT | IPS_DYING | IPS_OFFLOAD | IPS_HW_OFFLOAD))
		return false;
	if (!(status & IPS_SRC_NAT))
		return false;
	if (!mape_server_may_linger(old))
		return true;
	return mape_server_acked_all(old) &&
	       (s32)(new->proto.tcp.seen[0].td_end -
		     old->proto.tcp.seen[0].td_end) > 0;
}

/*
 * How long a closing holder has been quiet: its state's timeout less what
 * is left of it, as every packet restarts the timeout. The longer, the
 * less likely a late segment of the old flow (a resent FIN, the server's
 * ACK of it) is still on its way to meet the new one: the client would
 * answer it with a reset that conntrack takes as the end of the new flow.
 */
static u32 mape_quiet(const struct nf_conn *ct)
{
	const unsigned int *timeouts = nf_tcp_pernet(nf_ct_net(ct))->timeouts;
	u32 full = timeouts[READ_ONCE(ct->proto.tcp.state)];
	u32 left = nf_ct_expires(ct);

	return full > left ? full - left : 0;
}

static bool mape_is_new_tcp(const struct nf_conn *ct)
{
	return nf_ct_protonum(ct) == IPPROTO_TCP &&
	       READ_ONCE(ct->proto.tcp.state) == TCP_CONNTRACK_SYN_SENT;
}

/*
 * Does another conntrack hold the reply tuple of s->tuple? For a new TCP
 * flow the same single lookup also tells whether the holder may be
 * evicted, and with @kill, evicts it (PROBE_EVICTED: by this call).
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
		 mape_may_take_over(holder, s->ct)) {
		res = PROBE_CLOSING;
		s->quiet = mape_quiet(holder);
	}
	if (res == PROBE_CLOSING && kill)
		res = nf_ct_kill(holder) ? PROBE_EVICTED : PROBE_TAKEN;
	nf_ct_put(holder);
	return res;
}

static void mape_set_port(struct mape_search *s, u32 idx)
{
	s->idx = idx;
	s->tuple.src.u.all = htons(mape_portset_port(&s->rule->ps, idx));
}

/* --- the memo of full destinations, and the per-CPU budget --- */

/* Everything of the tuple but our own port: one destination, one address. */
static u32 mape_memo_key(const struct mape_search *s)
{
	static u32 seed __read_mostly;
	const struct nf_conntrack_tuple *t = &s->tuple;

	u32 zone = nf_ct_zone_id(nf_ct_zone(s->ct), IP_CT_DIR_ORIGINAL);

	net_get_random_once(&seed, sizeof(seed));
	return jhash_3words((__force u32)t->dst.u3.ip, (__force u32)t->src.u3.ip ^ zone,
			    (u32)(__force u16)t->dst.u.all << 8 | t->dst.protonum, seed);
}

/*
 * Remembered full until the slot's time, and for at most the TTL from
 * now: a slot left alone for 2^31 jiffies must not come back to life
 * when the 32-bit time wraps around.
 */
static bool mape_memo_full(const struct mape_search *s, u32 key)
{
	u64 slot = READ_ONCE(s->rule->memo[key % MAPE_MEMO_SLOTS]);
	u32 left = (u32)slot - (u32)jiffies;

	return slot && (u32)(slot >> 32) == key &&
	       left - 1 < msecs_to_jiffies(MAPE_MEMO_TTL_MS);
}

static void mape_memo_remember(const struct mape_search *s, u32 key)
{
	u32 until = (u32)jiffies + msecs_to_jiffies(MAPE_MEMO_TTL_MS);

	WRITE_ONCE(s->rule->memo[key % MAPE_MEMO_SLOTS], (u64)key << 32 | until);
}

/*
 * This CPU's budget; raw: a search that migrates only mis-accounts. The
 * window is measured from its start, so a CPU idle for longer than
 * jiffies can count starts a new one, whatever the wrap.
 */
static bool mape_budget_spent(const struct mape_rule *rule)
{
	struct mape_budget *b = raw_cpu_ptr(rule->budget);
	unsigned long now = jiffies;

	if (now - READ_ONCE(b->window_start) >= msecs_to_jiffies(MAPE_BUDGET_MS)) {
		WRITE_ONCE(b->window_start, now);
		WRITE_ONCE(b->spent, 0);
		return false;
	}
	return READ_ONCE(b->spent) >= MAPE_BUDGET_LOOKUPS;
}

static void mape_budget_charge(const struct mape_rule *rule, u32 lookups)
{
	struct mape_budget *b = raw_cpu_ptr(rule->budget);

	WRITE_ONCE(b->spent, READ_ONCE(b->spent) + lookups);
}

/* --- the walk --- */

/*
 * What the search met that it may still give if no port is free: the
 * quietest closing TCP holders, quietest first, tried in turn; and for a
 * UDP flow of a fullcone rule, a free port whose mapping another endpoint
 * holds, given only if no other is free: there the flow gets no mapping
 * of its own, and what comes in for its port goes to the holder.
 */
struct mape_fallbacks {
	u32 idx[MAPE_TAKEOVER_TRIES];
	u32 quiet[MAPE_TAKEOVER_TRIES];
	u32 n;
	u32 cone_held;		/* its index + 1; 0: none met */
};

static void mape_closing_add(struct mape_fallbacks *c, u32 idx, u32 quiet)
{
	u32 i;

	for (i = 0; i < c->n; i++)	/* asked for before the walk, met again */
		if (c->idx[i] == idx)
			return;
	i = c->n;
	if (i == MAPE_TAKEOVER_TRIES) {
		if (c->quiet[i - 1] >= quiet)
			return;
		i--;			/* the least quiet makes room */
	} else {
		c->n++;
	}
	for (; i > 0 && c->quiet[i - 1] < quiet; i--) {
		c->idx[i] = c->idx[i - 1];
		c->quiet[i] = c->quiet[i - 1];
	}
	c->idx[i] = idx;
	c->quiet[i] = quiet;
}

/*
 * Probe up to @n indices of the circular range [base, base + len) of the
 * set, in a random order: a random order, unlike a linear walk, does not
 * grow runs of taken ports that make later searches longer. Returns the
 * probes made; s->tuple holds a free port when *found.
 */
static u32 mape_walk_range(struct mape_search *s, u32 base, u32 len, u32 n,
			   struct mape_fallbacks *c, bool *found)
{
	u32 size = s->rule->ps.size, pos, step, i;

	if (!len || !n)
		return 0;
	pos = get_random_u32_below(len);
	step = mape_walk_step(len, get_random_u32());
	n = min(n, len);
	for (i = 0; i < n; i++) {
		u32 idx = base + pos;

		idx = idx >= size ? idx - size : idx;
		mape_set_port(s, idx);
		switch (mape_probe(s, false)) {
		case PROBE_FREE:
			if (s->rule->cone && mape_cone_taken(s, idx)) {
				c->cone_held = c->cone_held ?: idx + 1;
				break;
			}
			*found = true;
			return i + 1;
		case PROBE_CLOSING:
			mape_closing_add(c, idx, s->quiet);
			break;
		default:
			break;
		}
		pos = mape_walk_next(pos, step, len);
	}
	return n;
}

/* This CPU's stripe of the set: indices [*lo, *lo + *len). */
static void mape_stripe(const struct mape_search *s, u32 *lo, u32 *len)
{
	u32 size = s->rule->ps.size, stripes = min_t(u32, nr_cpu_ids, size);
	u32 cpu = raw_smp_processor_id() % stripes;

	*lo = size * cpu / stripes;		/* size < 2^16, stripes <= size */
	*len = size * (cpu + 1) / stripes - *lo;
}

/*
 * Each CPU walks its own stripe of the set first, then the rest: two CPUs
 * searching toward one destination at once then pick the same free port
 * (and one loses its packet at confirm) only once a stripe is full,
 * instead of with a chance of one in the number of free ports.
 */
static bool mape_walk(struct mape_search *s, u32 limit,
		      struct mape_fallbacks *c)
{
	u32 size = s->rule->ps.size, lo, len, done;
	bool found = false;

	mape_stripe(s, &lo, &len);

	done = mape_walk_range(s, lo, len, limit, c, &found);
	if (!found)
		mape_walk_range(s, lo + len, size - len, limit - done, c, &found);
	if (!found && c->cone_held) {
		mape_set_port(s, c->cone_held - 1);
		found = true;
	}
	return found;
}

/* No free port: evict a closing holder, the quietest that can still be. */
static bool mape_take_over(struct mape_search *s,
			   const struct mape_fallbacks *c)
{
	u32 i;

	for (i = 0; i < c->n; i++) {
		mape_set_port(s, c->idx[i]);
		switch (mape_probe(s, true)) {
		case PROBE_EVICTED:
			s->took_over = true;
			return true;
		case PROBE_FREE:	/* it went away on its own meanwhile */
			return true;
		default:
			break;
		}
	}
	return false;
}

/* How many ports this search may probe, and why not all. */
static u32 mape_limit(struct mape_search *s, u32 key)
{
	u32 full = min_t(u32, s->rule->ps.size, MAPE_MAX_PROBES);

	if (mape_memo_full(s, key)) {
		s->remembered = true;
		return min_t(u32, full, MAPE_MEMO_PROBES);
	}
	if (mape_budget_spent(s->rule)) {
		s->capped = true;
		return min_t(u32, full, MAPE_CAPPED_PROBES);
	}
	return full;
}

/* --- endpoint-independent mapping --- */

/*
 * The internal endpoint (zone, address, port or ICMP id, protocol) under
 * a boot-time secret: the high 32 bits name it in the hint table, the low
 * 32 bits pick its own index in the whole set: the same on every CPU and
 * toward every destination, and unguessable from outside.
 */
static u64 mape_endpoint_hash(const struct mape_search *s)
{
	static siphash_key_t key __read_mostly;
	const struct nf_conntrack_tuple *t = &s->ct->tuplehash[IP_CT_DIR_ORIGINAL].tuple;
	u32 zone = nf_ct_zone_id(nf_ct_zone(s->ct), IP_CT_DIR_ORIGINAL);

	net_get_random_once(&key, sizeof(key));
	return siphash_3u32((__force u32)t->src.u3.ip,
			    (u32)(__force u16)t->src.u.all << 8 | t->dst.protonum,
			    zone, &key);
}

static u32 mape_endpoint_name(u64 endpoint)
{
	return (u32)(endpoint >> 32) ?: 1;
}

static mape_hint_slot_t *mape_hint_bucket(const struct mape_rule *rule, u32 name)
{
	return &rule->hints[name & rule->hint_mask & ~1u];
}

static u16 mape_hint_now(void)
{
	return (u16)ktime_get_seconds();
}

/* The index the endpoint's earlier flows got, if remembered. */
static bool mape_hint_find(const struct mape_search *s, u32 *idx)
{
	u32 name = mape_endpoint_name(s->endpoint);
	mape_hint_slot_t *b = mape_hint_bucket(s->rule, name);
	int i;

	for (i = 0; i < 2; i++) {
		u64 slot = READ_ONCE(b[i]);

		if ((u32)(slot >> 32) != name)
			continue;
		*idx = (u16)(slot >> 16);
		return *idx < s->rule->ps.size;	/* never ask outside the set */
	}
	return false;
}

/*
 * A flow of the endpoint got s->idx: that becomes its hint unless it
 * still has a younger one for another port (its mapping, in use toward
 * this flow's destination). A new endpoint takes the older way of the
 * bucket. Written only when something changes, so that flows of mapped
 * endpoints leave the cache line alone most of the second.
 */
void mape_hint_note(const struct mape_search *s)
{
	u32 name = mape_endpoint_name(s->endpoint);
	mape_hint_slot_t *b = mape_hint_bucket(s->rule, name);
	u16 now = mape_hint_now(), age[2];
	u64 slot[2], hint = (u64)name << 32 | s->idx << 16 | now;
	int i, way;

	for (i = 0; i < 2; i++) {
		slot[i] = READ_ONCE(b[i]);
		age[i] = now - (u16)slot[i];
	}
	for (i = 0; i < 2; i++) {
		if ((u32)(slot[i] >> 32) != name)
			continue;
		if ((u16)(slot[i] >> 16) != s->idx && age[i] < MAPE_HINT_KEEP_S)
			return;
		if (slot[i] != hint)
			WRITE_ONCE(b[i], hint);
		return;
	}
	way = !slot[0] ? 0 : !slot[1] ? 1 : age[1] > age[0];
	WRITE_ONCE(b[way], hint);
}

/* Append @idx to the @n candidates unless it is one of them already. */
static u32 mape_candidate_add(u32 *cand, u32 n, u32 idx)
{
	u32 i;

	for (i = 0; i < n; i++)
		if (cand[i] == idx)
			return n;
	cand[n] = idx;
	return n + 1;
}

/*
 * The ports a flow asks for before the walk, in this order: the port its
 * endpoint's earlier flows got (the hint), its own source port when the
 * set has it (as the kernel's NAT keeps it), the endpoint's hashed index.
 * The hint comes first: an endpoint whose own port was taken toward one
 * destination keeps the port it got instead toward the next. None depends
 * on the destination, so an endpoint keeps one external port toward every
 * destination where that port is free; and each try of one connection
 * asks for the same port first. That matters once our state is lost while
 * the server's is not (an address that went and came back): the client's
 * SYN meets a stale socket, the server's challenge ACK makes the client
 * reset it and resend at once, and a port drawn anew would send that
 * resend into the next stale socket (200 stale sockets of 240 ports, 40
 * new connections one at a time, measured with a per-connection hashed
 * port: 16.5 met per run, 38 with a port drawn anew).
 *
 * Unlike the walk's first port (mape_walk), the hashed one is the same on
 * every CPU: two new endpoints whose hashes meet, starting on two CPUs in
 * the same instant toward one destination, ask for one port and one of
 * them loses its first packet at confirm (insert_failed), as under the
 * kernel's own NAT. Its client resends and the resend finds the port
 * taken, and takes another toward that destination only: the hint, noted
 * before confirm, keeps the lost port as the endpoint's mapping elsewhere.
 * A per-CPU hashed port would give each endpoint a mapping per CPU.
 */
static bool mape_try_mapped(struct mape_search *s, struct mape_fallbacks *c)
{
	u32 cand[3], n = 0, hint = 0, own_idx = 0, i;
	bool own, hinted;

	s->endpoint = mape_endpoint_hash(s);
	hinted = mape_hint_find(s, &hint);
	if (hinted)
		cand[n++] = hint;
	own = mape_portset_index(&s->rule->ps, ntohs(s->tuple.src.u.all), &own_idx);
	if (own)
		n = mape_candidate_add(cand, n, own_idx);
	n = mape_candidate_add(cand, n, reciprocal_scale((u32)s->endpoint,
							 s->rule->ps.size));
	for (i = 0; i < n; i++) {
		if (s->rule->cone && mape_cone_taken(s, cand[i]))
			continue;
		mape_set_port(s, cand[i]);
		switch (mape_probe(s, false)) {
		case PROBE_FREE:
			s->kept = own && cand[i] == own_idx;
			s->mapped = hinted && cand[i] == hint;
			return true;
		case PROBE_CLOSING:
			mape_closing_add(c, cand[i], s->quiet);
			break;
		default:
			break;
		}
	}
	return false;
}

bool mape_find_port(struct mape_search *s)
{
	struct mape_fallbacks fallbacks = {};
	u32 key, limit;
	bool found;

	if (s->rule->hints && mape_try_mapped(s, &fallbacks))
		return true;
	key = mape_memo_key(s);
	limit = mape_limit(s, key);
	found = mape_walk(s, limit, &fallbacks) || mape_take_over(s, &fallbacks);
	if (found)
		return true;
	if (!s->remembered && !s->capped)
		mape_memo_remember(s, key);
	mape_budget_charge(s->rule, s->lookups);
	return false;
}
