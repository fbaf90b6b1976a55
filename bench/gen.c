// SPDX-License-Identifier: GPL-2.0
/*
 * gen: the benchmark's traffic generator. One process opens thousands of
 * TCP or UDP flows toward one server and holds them, so that the NAT's
 * port set fills up, and times what it does.
 *
 *   gen serve [-C CPU] tcp|udp PORTS [tcp|udp PORTS]...
 *	Answer every new flow with the source port it arrived from
 *	("PORT\n"); UDP answers every datagram, from the address it was
 *	sent to. PORTS is PORT or LO-HI.
 *
 *   gen run [options] ADDR STEP...
 *	-p tcp|udp	protocol (udp)
 *	-C CPU		pin to CPU
 *	-w N		flows in flight at once (32)
 *	-t MS		a flow fails when its answer is not in after MS (1000)
 *	-T SECS		time limit of one step (30; churn 2x, util and the
 *			flood's fill 3x + 20 ms per flow)
 *	-P N		size of the port set (needed by level, churn, flood)
 *	-s A/K/PSID|LO-HI  count flows whose port seen by the server is
 *			outside this set (decomposed here, on purpose without
 *			the project's port-set code); client ports in it are
 *			never used
 *	-R NETNS	path of the router's netns (/run/netns/NAME): conntrack
 *			entries are deleted there, timeouts, counts and the
 *			flood's counters read
 *	-u SECS		UDP churn: the router's UDP conntrack timeouts during
 *			churn steps (and until the next to:), so that idle
 *			flows free their ports while the step runs (whole
 *			seconds, as the sysctl takes them; 0: unchanged)
 *	-S SEED		random seed (1)
 *
 *   Steps, run in order, one output line each ("NAME key=value..."):
 *	to:PORT|LO-HI	close every flow; new flows go to PORT (round robin
 *			over LO-HI, at most 64 ports)
 *	burst:N		open N flows, -w in flight; rate = ok / wall time
 *	util:MAX	open flows one at a time until the first failure, then
 *			stop after 2 failures in a row or MAX attempts:
 *			first_fail_at = flows held at the first failure
 *	level:PCT:B	hold PCT % of the set (filling, or freeing flows and
 *			deleting their conntrack entries), then B times: open
 *			one flow, and when it succeeds free a random held one,
 *			so that every new flow meets exactly that occupancy.
 *			rate = ok / time the answered flows took (a failure
 *			costs its timeout, which is the client's choice: it is
 *			counted in the success rate instead)
 *	churn:H:A	hold H flows; A times, -w in flight: close a random
 *			held flow the ordinary way (TCP: the client closes
 *			first, TIME_WAIT; UDP: the flow goes idle, its entry
 *			stays until its timeout) and open a new one.
 *			UDP does not start a flow while held and idle flows
 *			fill the set (by an estimate that errs late), and TCP
 *			holds at most H + -w, so with H <= P - w every failure
 *			had a port free or only in TIME_WAIT: one the NAT
 *			could have avoided
 *	flood:N:R	UDP, needs -R: hold the whole set toward the destination
 *			(-w in flight until P are held or 2 x -w failed), then
 *			send N new-flow datagrams toward it at R per second
 *			from a raw socket, each from a client port of its own
 *			(the cycle below), never answered; stops after
 *			2 N / R + -T seconds. The router's counters are read
 *			before and after (after: once they stop moving, at
 *			most 1 s): refused = mape's exhausted + conntrack's
 *			insert_failed, rate = refused / seconds from the first
 *			datagram until the counters stopped; taken = entries
 *			the flood added (datagrams that got a port); and
 *			mape's counters' changes where the module is loaded
 *	snap		kernel memory, every slab cache shrunk first: Slab
 *			and SUnreclaim, the router's conntrack count; from the
 *			second snap on also a line "slabs flows=N
 *			CACHE=OBJS:OBJSIZE...": the caches of /proc/slabinfo
 *			whose active objects changed since the previous snap,
 *			by OBJS, while the flows held changed by N
 *
 * Held UDP flows send a keepalive every 10 s (a third of the timeout
 * during churn), so that the router keeps their entries.
 * A pending UDP flow sends its query again on the same socket after
 * 250 ms, then 500 ms (udp_answer.h), as real clients do: the emulated
 * network drops bursts. A resend meets the NAT again only where the first
 * query was dropped before its entry was confirmed (refused or clashed),
 * as a real client's would. Step lines count them (resent=).
 *
 * The server reports the port each flow arrived with; a flow succeeds when
 * that answer is back. Exit status 0, or 2 on usage or system errors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctnl.h"		/* selftests/tools/ */
#include "udp_answer.h"

#define MAX_FLOWS	65536
#define MAX_DESTS	64
#define RING		(1 << 17)
#define SLOW_SECS	0.9	/* a TCP answer this late needed a SYN retransmit */
#define MARGIN		0.5	/* seconds added to every idle-expiry estimate */

enum { F_FREE, F_PENDING, F_LIVE };

struct flow {
	int fd;
	unsigned int gen;
	unsigned char state;
	unsigned char dest;
	uint16_t lport;		/* the client's own address and port */
	uint16_t nport;		/* the port the server saw */
	uint32_t laddr;
	int pos;		/* index in live[] while F_LIVE */
	double t0;		/* first packet sent */
	double resend_at;	/* pending UDP: when to send the query again */
	unsigned int sends;	/* pending UDP: queries sent so far */
	double last;		/* latest packet in either direction, or later */
};

struct dest {
	uint16_t port;
	int nlive;
	int nidle;		/* ports only closed UDP flows still hold */
	uint8_t held[65536];	/* live flows per NAT port */
	float idle_until[65536];/* estimate: closed UDP flow's entry expires */
};

/* Idle UDP entries in order of expiry, one queue per conntrack timeout. */
struct idle_ent {
	uint8_t dest;
	uint16_t port;
	float until;
};

struct stats {
	long attempts, ok, fail, slow, outside, dup, resent;
	long lerr, ctdel_err, first_fail_at, inuse_at_fail;
	double busy;		/* seconds from first packet to answer, answered flows */
};

static int proto_tcp;
static struct sockaddr_in server;
static struct flow flows[MAX_FLOWS];
static int free_slots[MAX_FLOWS], nfree;
static int live[MAX_FLOWS], nlive;
static struct { int idx; unsigned int gen; } ring[RING];
static unsigned int ring_head, ring_tail;
static int npending;
static struct dest *dests[MAX_DESTS];
static int ndests, next_dest;
static int ep;
static double timeout_s = 1.0, step_limit = 30, keepalive_s = 10, next_ka;
static double udp_to = 30, udp_stream_to = 120;
static int conc = 32, setsize;
static double churn_idle;	/* -u: UDP conntrack timeout during churn */
static long saved_to = -1, saved_stream_to = -1;
static double saved_ka;
#define UDP_TO		"/proc/sys/net/netfilter/nf_conntrack_udp_timeout"
#define UDP_STREAM_TO	"/proc/sys/net/netfilter/nf_conntrack_udp_timeout_stream"

static struct stats st;
static struct idle_ent idleq[2][RING];
static unsigned int idle_head[2], idle_tail[2];
static double t_start;

/* -s: the port set a translated port must lie in */
static int chk_mode;		/* 0 none, 1 MAP-E a/k/psid, 2 range */
static unsigned int chk_a, chk_k, chk_psid, chk_lo, chk_hi;

static int rt_ns = -1, own_ns = -1, ct_fd = -1;

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity");
}

static int parse_range(const char *s, unsigned int *lo, unsigned int *hi)
{
	int n = sscanf(s, "%u-%u", lo, hi);

	if (n == 1)
		*hi = *lo;
	return n >= 1 && *lo <= *hi && *hi <= 65535;
}

/*
 * RFC 7597 5.1, read backwards: take the port apart into A, PSID and j
 * instead of building the set up, so that this check shares nothing with
 * the module's arithmetic.
 */
static int port_ok(unsigned int port)
{
	unsigned int m;

	if (chk_mode == 2)
		return port >= chk_lo && port <= chk_hi;
	if (chk_mode != 1)
		return 1;
	m = 16 - chk_a - chk_k;
	if (((port >> m) & ((1u << chk_k) - 1)) != chk_psid)
		return 0;
	if (chk_a > 0 && (port >> (16 - chk_a)) == 0)
		return 0;
	if (chk_a == 0 && port < 1024)
		return 0;
	return 1;
}

/* --- the router's netns: conntrack deletion and counters --- */

static int enter_router(void)
{
	if (rt_ns < 0)
		return -1;
	if (setns(rt_ns, CLONE_NEWNET))
		die("setns router");
	return 0;
}

static void leave_router(void)
{
	if (setns(own_ns, CLONE_NEWNET))
		die("setns back");
}

/* Write a /proc number inside the router's netns. */
static int router_write(const char *path, long v)
{
	FILE *f;
	int rc = -1;

	if (enter_router())
		return -1;
	f = fopen(path, "w");
	if (f) {
		rc = fprintf(f, "%ld\n", v) > 0 ? 0 : -1;
		if (fclose(f))
			rc = -1;
	}
	leave_router();
	return rc;
}

/* A /proc number read inside the router's netns; -1 if unreadable. */
static long router_proc(const char *path)
{
	long v = -1;
	FILE *f;

	if (enter_router())
		return -1;
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	leave_router();
	return v;
}

/*
 * Columns @names of a /proc/net/stat file of the router (a header line of
 * names, then one line per CPU, numbers in @base), summed over the CPUs
 * into @sum; -1 where the file or the column is missing.
 */
static void router_stat(const char *path, int base, const char *const *names, int n,
			long long *sum)
{
	char line[1024], *tok, *save;
	int col[8], i, c;
	FILE *f;

	if (n > 8)
		n = 8;
	for (i = 0; i < n; i++)
		sum[i] = col[i] = -1;
	if (enter_router())
		return;
	f = fopen(path, "r");
	if (f && fgets(line, sizeof(line), f)) {
		for (c = 0, tok = strtok_r(line, " \t\n", &save); tok;
		     c++, tok = strtok_r(NULL, " \t\n", &save))
			for (i = 0; i < n; i++)
				if (!strcmp(tok, names[i]))
					col[i] = c, sum[i] = 0;
		while (fgets(line, sizeof(line), f))
			for (c = 0, tok = strtok_r(line, " \t\n", &save); tok;
			     c++, tok = strtok_r(NULL, " \t\n", &save))
				for (i = 0; i < n; i++)
					if (col[i] == c)
						sum[i] += strtoll(tok, NULL, base);
	}
	if (f)
		fclose(f);
	leave_router();
}

static void open_router(const char *path)
{
	rt_ns = open(path, O_RDONLY);
	own_ns = open("/proc/self/ns/net", O_RDONLY);
	if (rt_ns < 0 || own_ns < 0)
		die(path);
	enter_router();
	/* a netlink socket stays in the netns it was made in */
	ct_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	leave_router();
	if (ct_fd < 0)
		die("netlink");
}

/* Delete the router's conntrack entry whose original tuple is the flow's. */
static int ct_delete(const struct flow *f)
{
	if (ct_fd < 0)
		return -1;
	return ct_delete_tuple(ct_fd, CTA_TUPLE_ORIG, proto_tcp ? IPPROTO_TCP : IPPROTO_UDP,
			       f->laddr, htons(f->lport), server.sin_addr.s_addr,
			       htons(dests[f->dest]->port));
}

/* --- flows --- */

static struct flow *slot_get(void)
{
	struct flow *f;

	if (!nfree)
		return NULL;
	f = &flows[free_slots[--nfree]];
	f->gen++;
	return f;
}

static void slot_put(struct flow *f)
{
	f->state = F_FREE;
	free_slots[nfree++] = f - flows;
}

/* Ports held, in flight or (UDP) idle toward @d: does the set look full? */
static int inuse(struct dest *d, double t)
{
	float ft = t - t_start;
	int q;

	for (q = 0; q < 2; q++) {
		while (idle_head[q] != idle_tail[q]) {
			struct idle_ent *e = &idleq[q][idle_head[q] % RING];
			struct dest *x = dests[e->dest];

			if (e->until > ft)
				break;
			if (x && x->idle_until[e->port] == e->until) {
				x->idle_until[e->port] = 0;
				x->nidle--;
			}
			idle_head[q]++;
		}
	}
	return d->nlive + npending + d->nidle;
}

/*
 * Every flow gets the next client port of a cycle over 1024-65535 rather
 * than an ephemeral one: the kernel may hand a UDP flow the port of one
 * that just went idle, whose router entry still lives, and the "new" flow
 * would then be the old one to conntrack. Ports inside the checked set
 * (-s) are skipped: a NAT keeps a client port that is already in its set,
 * and only some contenders' sets overlap the ephemeral range, so that
 * would be a shortcut for some and not others. A flood's datagrams take
 * their ports from the same cycle, so none is a held flow's.
 */
static unsigned int next_port(void)
{
	static unsigned int next;
	unsigned int port;

	while (next < 64 * 65536u) {
		port = 1024 + next++ % (65536 - 1024);
		if (!chk_mode || !port_ok(port))
			return port;
	}
	return 0;	/* the cycle is spent */
}

static int bind_next_port(int fd)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	unsigned int port, tries;

	for (tries = 0; tries < 1024 && (port = next_port()); tries++) {
		a.sin_port = htons(port);
		if (!bind(fd, (struct sockaddr *)&a, sizeof(a)))
			return 0;
		if (errno != EADDRINUSE)
			break;
	}
	return -1;
}

static int start_flow(void)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct sockaddr_in to = server;
	struct flow *f = slot_get();
	int fd;

	if (!f)
		return -1;
	fd = socket(AF_INET, (proto_tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		slot_put(f);
		st.lerr++;
		return -1;
	}
	if (bind_next_port(fd)) {
		close(fd);
		slot_put(f);
		st.lerr++;
		return -1;
	}
	f->fd = fd;
	f->dest = next_dest;
	next_dest = (next_dest + 1) % ndests;
	to.sin_port = htons(dests[f->dest]->port);
	f->t0 = now();
	f->sends = 1;
	f->resend_at = f->t0 + udp_resend_gap_ms(1) / 1000.0;
	if ((connect(fd, (struct sockaddr *)&to, sizeof(to)) && errno != EINPROGRESS) ||
	    (!proto_tcp && send(fd, "?", 1, 0) != 1)) {
		close(fd);
		slot_put(f);
		st.lerr++;
		return -1;
	}
	f->state = F_PENDING;
	ev.data.u64 = (uint64_t)f->gen << 32 | (uint32_t)(f - flows);
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	ring[ring_tail % RING].idx = f - flows;
	ring[ring_tail % RING].gen = f->gen;
	ring_tail++;
	npending++;
	st.attempts++;
	return 0;
}

static void flow_failed(struct flow *f, double t)
{
	struct dest *d = dests[f->dest];

	epoll_ctl(ep, EPOLL_CTL_DEL, f->fd, NULL);
	close(f->fd);
	npending--;
	st.fail++;
	if (st.first_fail_at < 0) {
		st.first_fail_at = d->nlive;
		st.inuse_at_fail = inuse(d, t);
	}
	slot_put(f);
}

static void flow_answered(struct flow *f, double t)
{
	struct dest *d = dests[f->dest];
	struct sockaddr_in me;
	socklen_t sl = sizeof(me);
	char buf[32];
	ssize_t r = read(f->fd, buf, sizeof(buf) - 1);
	unsigned int port;

	if (r <= 0 || (buf[r] = '\0', sscanf(buf, "%u", &port) != 1) || port > 65535) {
		flow_failed(f, t);
		return;
	}
	epoll_ctl(ep, EPOLL_CTL_DEL, f->fd, NULL);
	npending--;
	getsockname(f->fd, (struct sockaddr *)&me, &sl);
	f->lport = ntohs(me.sin_port);
	f->laddr = me.sin_addr.s_addr;
	f->nport = port;
	f->last = t;
	f->state = F_LIVE;
	f->pos = nlive;
	live[nlive++] = f - flows;
	st.ok++;
	st.busy += t - f->t0;
	if (t - f->t0 >= SLOW_SECS)
		st.slow++;
	if (!port_ok(port))
		st.outside++;
	/*
	 * Two live flows, one NAT tuple: conntrack confirms no such pair, so
	 * this means a held flow lost its router entry (a bench fault).
	 */
	if (d->held[port])
		st.dup++;
	if (d->held[port] < 255)
		d->held[port]++;
	d->nlive++;
	if (d->idle_until[port] > 0) {
		/* its entry expired sooner than estimated; no longer idle */
		d->idle_until[port] = 0;
		d->nidle--;
	}
}

/* Take a live flow out of the books; @how: 0 close, 1 reset + delete entry. */
static void flow_close(struct flow *f, int how)
{
	struct dest *d = dests[f->dest];
	int last = live[--nlive];

	live[f->pos] = last;
	flows[last].pos = f->pos;
	if (d->held[f->nport])
		d->held[f->nport]--;
	d->nlive--;
	if (how) {
		struct linger l = { 1, 0 };

		if (proto_tcp)
			setsockopt(f->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		close(f->fd);
		if (ct_delete(f))
			st.ctdel_err++;
	} else {
		close(f->fd);
		if (!proto_tcp && !d->held[f->nport] && !d->idle_until[f->nport]) {
			/* the entry outlives the socket: 30 s, or 120 s once
			 * the flow was active 2 s after its first packet */
			int q = f->last - f->t0 >= 2;
			struct idle_ent *e = &idleq[q][idle_tail[q]++ % RING];

			e->dest = f->dest;
			e->port = f->nport;
			e->until = f->last - t_start + (q ? udp_stream_to : udp_to) + MARGIN;
			d->idle_until[f->nport] = e->until;
			d->nidle++;
		}
	}
	slot_put(f);
}

static void close_random(int how)
{
	if (nlive)
		flow_close(&flows[live[random() % nlive]], how);
}

static void keepalive(double t)
{
	int i;

	if (proto_tcp || t < next_ka)
		return;
	for (i = 0; i < nlive; i++) {
		struct flow *f = &flows[live[i]];

		if (send(f->fd, "k", 1, MSG_DONTWAIT) == 1)
			f->last = t + MARGIN;	/* its answer comes later */
	}
	next_ka = t + keepalive_s;
}

/*
 * UDP churn: idle entries must expire while the step runs, or the set just
 * fills with them; the router's UDP timeouts are shortened from the
 * churn's first flow until the next to: (or the end of the run).
 */
static void short_udp_timeouts(void)
{
	if (proto_tcp || churn_idle <= 0 || rt_ns < 0 || saved_to >= 0)
		return;
	saved_to = router_proc(UDP_TO);
	saved_stream_to = router_proc(UDP_STREAM_TO);
	if (saved_to < 0 || saved_stream_to < 0 ||
	    router_write(UDP_TO, churn_idle) || router_write(UDP_STREAM_TO, churn_idle)) {
		/* the estimates keep the timeouts in force: still sound, slower */
		fprintf(stderr, "gen: cannot set the router's UDP timeouts\n");
		if (saved_to > 0)
			router_write(UDP_TO, saved_to);
		if (saved_stream_to > 0)
			router_write(UDP_STREAM_TO, saved_stream_to);
		saved_to = -1;
		churn_idle = 0;
		return;
	}
	udp_to = udp_stream_to = churn_idle;
	saved_ka = keepalive_s;
	keepalive_s = churn_idle / 3;
	next_ka = 0;
}

static void restore_udp_timeouts(void)
{
	if (saved_to < 0)
		return;
	router_write(UDP_TO, saved_to);
	router_write(UDP_STREAM_TO, saved_stream_to);
	udp_to = saved_to;
	udp_stream_to = saved_stream_to;
	keepalive_s = saved_ka;
	saved_to = -1;
}

/*
 * Send again the UDP queries still unanswered whose time has come (the
 * ring holds every pending flow, oldest first); at most every 50 ms.
 */
static void resend_due(double t)
{
	static double next_scan;
	unsigned int i;

	if (proto_tcp || t < next_scan)
		return;
	next_scan = t + 0.05;
	for (i = ring_head; i != ring_tail; i++) {
		struct flow *f = &flows[ring[i % RING].idx];

		if (f->gen != ring[i % RING].gen || f->state != F_PENDING ||
		    t < f->resend_at)
			continue;
		if (send(f->fd, "?", 1, MSG_DONTWAIT) == 1)
			st.resent++;
		f->sends++;
		f->resend_at = t + udp_resend_gap_ms(f->sends) / 1000.0;
	}
}

/* Collect answers for up to @ms, fail flows past their time. */
static void pump(int ms)
{
	struct epoll_event evs[256];
	double t;
	int n, i;

	n = epoll_wait(ep, evs, 256, ms);
	t = now();
	for (i = 0; i < n; i++) {
		struct flow *f = &flows[(uint32_t)evs[i].data.u64];

		if (f->gen == evs[i].data.u64 >> 32 && f->state == F_PENDING)
			flow_answered(f, t);
	}
	while (ring_head != ring_tail) {
		struct flow *f = &flows[ring[ring_head % RING].idx];

		if (f->gen == ring[ring_head % RING].gen && f->state == F_PENDING) {
			if (t - f->t0 < timeout_s)
				break;
			flow_failed(f, t);
		}
		ring_head++;
	}
	resend_due(t);
	keepalive(t);
}

static void drain(void)
{
	while (npending)
		pump(10);
}

/* --- steps --- */

static void out(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("%s proto=%s dport=%u", name, proto_tcp ? "tcp" : "udp",
	       ndests ? dests[0]->port : 0);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" attempts=%ld ok=%ld fail=%ld slow=%ld outside=%ld dup=%ld lerr=%ld resent=%ld\n",
	       st.attempts, st.ok, st.fail, st.slow, st.outside, st.dup, st.lerr, st.resent);
	fflush(stdout);
}

static void reset_stats(void)
{
	memset(&st, 0, sizeof(st));
	st.first_fail_at = -1;
	st.inuse_at_fail = -1;
}

static void close_all(void)
{
	drain();
	while (nlive)
		flow_close(&flows[live[nlive - 1]], 0);
}

static int step_to(const char *arg)
{
	unsigned int lo, hi, p;
	int i;

	if (!parse_range(arg, &lo, &hi) || hi - lo >= MAX_DESTS)
		return -1;
	close_all();
	restore_udp_timeouts();
	for (i = 0; i < ndests; i++) {
		free(dests[i]);
		dests[i] = NULL;
	}
	ndests = 0;
	memset(idle_head, 0, sizeof(idle_head));
	memset(idle_tail, 0, sizeof(idle_tail));
	next_dest = 0;
	for (p = lo; p <= hi; p++) {
		dests[ndests] = calloc(1, sizeof(struct dest));
		if (!dests[ndests])
			die("calloc");
		dests[ndests++]->port = p;
	}
	return 0;
}

/* Open flows, @w in flight, until @held are live or @max attempts made. */
static void open_until(int held, long max, int w, double limit)
{
	double end = now() + limit;

	while (nlive < held && st.attempts < max && now() < end) {
		while (npending < w && nlive + npending < held && st.attempts < max)
			if (start_flow())
				break;
		pump(npending ? 5 : 0);
	}
	drain();
}

static void step_burst(long n)
{
	double t0 = now(), dt;

	reset_stats();
	open_until(MAX_FLOWS, n, conc, step_limit);
	dt = now() - t0;
	out("burst", " dests=%d secs=%.4f rate=%.1f", ndests, dt, dt > 0 ? st.ok / dt : 0);
}

static void step_util(long max)
{
	/*
	 * P flows one at a time, then failures that each wait out a
	 * timeout: the one step whose result needs the whole set, so it
	 * also gets 20 ms per flow (a slow TCG guest)
	 */
	double t0 = now(), end = t0 + 3 * step_limit + 0.02 * max;
	long fails_in_row = 0, f0, ok0;

	reset_stats();
	while (st.attempts < max && fails_in_row < 2 && now() < end) {
		if (!npending)
			start_flow();	/* a local error counts in lerr */
		f0 = st.fail;
		ok0 = st.ok;
		pump(npending ? 5 : 0);
		if (st.ok > ok0)
			fails_in_row = 0;
		fails_in_row += st.fail - f0;
	}
	drain();
	out("util", " held=%d first_fail_at=%ld inuse_at_fail=%ld secs=%.4f stop=%s",
	    nlive, st.first_fail_at, st.inuse_at_fail, now() - t0,
	    fails_in_row >= 2 ? "fail" : st.attempts >= max ? "max" : "time");
}

static void step_level(double pct, long b)
{
	int want = (int)(pct * setsize / 100 + 0.5), held;
	long fill_ok, fill_fail;
	double end;

	if (want >= setsize)
		want = setsize - 1;
	reset_stats();
	while (nlive > want)
		close_random(1);
	open_until(want, 4L * want + 64, conc, step_limit);
	fill_ok = st.ok;
	fill_fail = st.fail;
	held = nlive;
	reset_stats();
	end = now() + step_limit;
	while (st.attempts < b && now() < end) {
		long ok0 = st.ok;

		if (start_flow())
			break;
		drain();
		if (st.ok > ok0)
			close_random(1);	/* back to exactly @held */
	}
	out("level", " pct=%g held=%d occ=%.4f fill_ok=%ld fill_fail=%ld busy=%.4f rate=%.1f ctdel_err=%ld",
	    pct, held, setsize ? (double)held / setsize : 0, fill_ok, fill_fail,
	    st.busy, st.busy > 0 ? st.ok / st.busy : 0, st.ctdel_err);
}

static void step_churn(int h, long a)
{
	double t0, end, dt;

	reset_stats();
	short_udp_timeouts();
	open_until(h, 4L * h + 64, conc, step_limit);
	reset_stats();
	t0 = now();
	/* UDP waits for idle entries to expire: give it time to see some */
	end = t0 + 2 * step_limit;
	while (st.attempts < a && now() < end) {
		while (npending < conc && st.attempts < a) {
			/*
			 * Idle UDP entries hold the set until they expire:
			 * wait for one (by an estimate that errs late), so
			 * that every failure is the NAT's. Closing moves a
			 * port from held to idle: check first.
			 */
			if (!proto_tcp && inuse(dests[0], now()) >= setsize)
				break;
			if (nlive + npending >= h)
				close_random(0);
			if (start_flow())
				break;
		}
		pump(npending ? 5 : 1);
	}
	drain();
	dt = now() - t0;
	out("churn", " held=%d target=%d secs=%.4f rate=%.1f per10k=%.1f",
	    nlive, h, dt, dt > 0 ? st.ok / dt : 0,
	    st.attempts ? 1e4 * st.fail / st.attempts : 0);
}

/* --- flood: refused packets toward a full destination --- */

/*
 * What the router did with a flood: conntrack's statistics (hexadecimal)
 * and nf_nat_mape's (decimal, absent without the module), summed over the
 * CPUs, and the conntrack table's size. The first key of each is what
 * refused() counts.
 */
static const char *const ct_keys[] = { "insert_failed", "drop" };
static const char *const mape_keys[] = { "exhausted", "lookups", "remembered", "capped", "translated" };
#define NCT	2
#define NMAPE	5

struct counts {
	long long ct[NCT], mape[NMAPE];
	long entries;
};

static void read_counts(struct counts *c)
{
	router_stat("/proc/net/stat/nf_conntrack", 16, ct_keys, NCT, c->ct);
	router_stat("/proc/net/stat/nf_nat_mape", 10, mape_keys, NMAPE, c->mape);
	c->entries = router_proc("/proc/sys/net/netfilter/nf_conntrack_count");
}

/*
 * Packets refused: mape drops them itself (exhausted); the stock NAT hands
 * over a tuple in use and conntrack drops the packet at confirm, counting
 * it in insert_failed and in drop both (nf_ct_resolve_clash), so drop is
 * not added.
 */
static long long refused(const struct counts *c)
{
	long long exhausted = c->mape[0], insert_failed = c->ct[0];

	return (exhausted > 0 ? exhausted : 0) + (insert_failed > 0 ? insert_failed : 0);
}

/*
 * Hold the whole set toward the destination, as far as the NAT gives it:
 * -w in flight until P are held, or until 2 x -w failed (the stock NAT's
 * bounded search misses the last free ports now and then).
 */
static void fill_set(double limit)
{
	double end = now() + limit;

	while (nlive < setsize && st.fail < 2L * conc && st.attempts < 4L * setsize + 64 &&
	       now() < end) {
		while (npending < conc && nlive + npending < setsize)
			if (start_flow())
				break;
		pump(npending ? 5 : 0);
	}
	drain();
}

/* One new-flow datagram from client port @sport to the destination. */
static int flood_one(int raw, unsigned int sport)
{
	struct { uint16_t sport, dport, len, csum; char q; } __attribute__((packed)) d = {
		htons(sport), htons(dests[0]->port), htons(sizeof(d)), 0, '?'	/* no checksum */
	};

	return sendto(raw, &d, sizeof(d), 0, (struct sockaddr *)&server, sizeof(server)) ==
	       sizeof(d) ? 0 : -1;
}

static void sleep_until(double t)
{
	struct timespec ts = { .tv_sec = (time_t)t };

	ts.tv_nsec = (long)((t - ts.tv_sec) * 1e9);
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/*
 * @n datagrams at @rate per second (paced in tens) from a raw socket, no
 * socket to hold and nothing to answer; returns those sent. The router's
 * softirq runs on this CPU, so a NAT slower than @rate slows the sender.
 */
static long flood_send(long n, long rate, double limit)
{
	int raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP);
	double t0 = now(), end = t0 + limit;
	unsigned int port;
	long i, sent = 0;

	if (raw < 0)
		die("raw socket");
	for (i = 0; i < n && now() < end && (port = next_port()); i++) {
		if (flood_one(raw, port))
			st.lerr++;
		else
			sent++;
		if (i % 10 == 9)
			sleep_until(t0 + (i + 1.0) / rate);
	}
	close(raw);
	return sent;
}

/*
 * Wait until the router's counters stop moving (a guest may still work
 * through its input backlog), at most a second; returns when they last
 * moved, or @done if they had stopped by then.
 */
static double settle(struct counts *c, double done)
{
	double give_up = now() + 1;
	long long was;

	read_counts(c);
	do {
		was = refused(c) + c->entries;
		usleep(10000);
		read_counts(c);
		if (refused(c) + c->entries != was)
			done = now();
	} while (refused(c) + c->entries != was && now() < give_up);
	return done;
}

static void step_flood(long n, long rate)
{
	struct counts c0, c1;
	double t0 = now(), fill_secs, send_secs, secs;
	char mape[256] = "";
	long sent;
	int held, i, len = 0;

	reset_stats();
	fill_set(3 * step_limit + 0.02 * setsize);
	held = nlive;
	fill_secs = now() - t0;
	read_counts(&c0);
	t0 = now();
	sent = flood_send(n, rate, 2.0 * n / rate + step_limit);
	send_secs = now() - t0;
	secs = settle(&c1, now()) - t0;
	for (i = 0; i < NMAPE && c0.mape[i] >= 0 && c1.mape[i] >= 0; i++)
		len += snprintf(mape + len, sizeof(mape) - len, " %s=%lld", mape_keys[i],
				c1.mape[i] - c0.mape[i]);
	out("flood", " held=%d occ=%.4f fill_secs=%.4f sent=%ld send_secs=%.4f secs=%.4f"
	    " refused=%lld rate=%.1f taken=%ld insert_failed=%lld ct_drop=%lld%s",
	    held, setsize ? (double)held / setsize : 0, fill_secs, sent, send_secs, secs,
	    refused(&c1) - refused(&c0), secs > 0 ? (refused(&c1) - refused(&c0)) / secs : 0,
	    c1.entries - c0.entries, c1.ct[0] - c0.ct[0], c1.ct[1] - c0.ct[1], mape);
}

static long meminfo(const char *key)
{
	char line[256];
	long v = -1;
	size_t kl = strlen(key);
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = atol(line + kl + 1);
	fclose(f);
	return v;
}

#define MAX_CACHES	1024

/* the slab caches' active objects at the previous snap */
static struct { char name[64]; long act; } slab_prev[MAX_CACHES];
static int nslab_prev, live_prev = -1;

static long slab_prev_act(const char *name)
{
	int i;

	for (i = 0; i < nslab_prev; i++)
		if (!strcmp(slab_prev[i].name, name))
			return slab_prev[i].act;
	return 0;
}

/*
 * SLUB counts the free objects of per-CPU slabs as active: shrinking every
 * cache first puts them back, so that /proc/slabinfo and Slab count what
 * is in use, not which slabs the CPUs happened to be filling.
 */
static void shrink_slabs(void)
{
	DIR *dir = opendir("/sys/kernel/slab");
	char path[300];
	struct dirent *e;
	int fd;

	if (!dir)
		return;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", e->d_name);
		fd = open(path, O_WRONLY);
		if (fd >= 0) {
			(void)!write(fd, "1", 1);
			close(fd);
		}
	}
	closedir(dir);
}

static void step_snap(void)
{
	char line[512], name[64];
	long act, num, size;
	FILE *f;
	int n = 0;

	/* RCU frees conntrack objects a grace period late */
	usleep(200000);
	shrink_slabs();
	printf("snap live=%d slab_kB=%ld sunreclaim_kB=%ld ct_count=%ld\n",
	       nlive, meminfo("Slab"), meminfo("SUnreclaim"),
	       router_proc("/proc/sys/net/netfilter/nf_conntrack_count"));
	f = fopen("/proc/slabinfo", "r");
	if (f) {
		if (live_prev >= 0)
			printf("slabs flows=%d", nlive - live_prev);
		while (fgets(line, sizeof(line), f) && n < MAX_CACHES) {
			if (sscanf(line, "%63s %ld %ld %ld", name, &act, &num, &size) != 4)
				continue;
			if (live_prev >= 0 && act != slab_prev_act(name))
				printf(" %s=%ld:%ld", name, act - slab_prev_act(name), size);
			strcpy(slab_prev[n].name, name);
			slab_prev[n++].act = act;
		}
		fclose(f);
		if (live_prev >= 0)
			printf("\n");
		nslab_prev = n;
		live_prev = nlive;
	}
	fflush(stdout);
}

static int run(char **steps, int n)
{
	long x, y;
	double p;
	char junk;
	int i;

	for (i = 0; i < n; i++) {
		const char *s = steps[i];

		if (!strncmp(s, "to:", 3)) {
			if (step_to(s + 3))
				goto bad;
			continue;
		}
		if (!strcmp(s, "snap")) {
			step_snap();
			continue;
		}
		if (!ndests) {
			fprintf(stderr, "gen: %s before any to:PORT\n", s);
			return 2;
		}
		if (sscanf(s, "burst:%ld%c", &x, &junk) == 1)
			step_burst(x);
		else if (sscanf(s, "util:%ld%c", &x, &junk) == 1)
			step_util(x);
		else if (sscanf(s, "level:%lf:%ld%c", &p, &x, &junk) == 2 && setsize > 0)
			step_level(p, x);
		else if (sscanf(s, "churn:%ld:%ld%c", &x, &y, &junk) == 2 && setsize > 0)
			step_churn(x, y);
		else if (sscanf(s, "flood:%ld:%ld%c", &x, &y, &junk) == 2 && setsize > 0 &&
			 !proto_tcp && y > 0 && rt_ns >= 0)
			step_flood(x, y);
		else
			goto bad;
	}
	return 0;
bad:
	fprintf(stderr, "gen: bad step %s (level, churn, flood need -P; flood: UDP, -R)\n",
		steps[i]);
	return 2;
}

/* --- server --- */

static void answer_udp(int fd)
{
	struct sockaddr_in to;
	int i, rc;

	/* several datagrams per wakeup: the client sends in bursts */
	for (i = 0; i < 64; i++) {
		rc = udp_answer_port(fd, MSG_DONTWAIT, &to);
		if (rc < 0)
			return;
		if (rc > 0)
			udp_report_unsent("gen serve", &to);
	}
}

#define LISTENER	(1ULL << 32)
#define UDP_SOCK	(1ULL << 33)

static void serve_listen(int tcp, unsigned int lo, unsigned int hi)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int one = 1;
	unsigned int p;

	for (p = lo; p <= hi; p++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(p) };
		int fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK, 0);

		if (fd < 0)
			die("socket");
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!tcp)
			udp_server_opts(fd);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
			die("bind");
		if (tcp && listen(fd, 4096))
			die("listen");
		ev.data.u64 = (tcp ? LISTENER : UDP_SOCK) | (uint32_t)fd;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	}
}

static __attribute__((noreturn)) void serve(void)
{
	struct epoll_event evs[256], ev = { .events = EPOLLIN };
	struct sockaddr_in from;
	socklen_t len;
	char buf[256];
	int n, i, c, fd;

	for (;;) {
		n = epoll_wait(ep, evs, 256, -1);
		for (i = 0; i < n; i++) {
			fd = (uint32_t)evs[i].data.u64;
			if (evs[i].data.u64 & UDP_SOCK) {
				answer_udp(fd);
			} else if (evs[i].data.u64 & LISTENER) {
				len = sizeof(from);
				while ((c = accept4(fd, (struct sockaddr *)&from, &len,
						    SOCK_NONBLOCK)) >= 0) {
					tcp_answer_port(c, &from);
					ev.data.u64 = (uint32_t)c;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
					len = sizeof(from);
				}
			} else if (read(fd, buf, sizeof(buf)) <= 0) {
				close(fd);	/* the client closed or reset */
			}
		}
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: gen serve [-C CPU] tcp|udp PORTS [tcp|udp PORTS]...\n"
		"       gen run [-p tcp|udp] [-C CPU] [-w N] [-t MS] [-T SECS] [-P N]\n"
		"               [-s A/K/PSID|LO-HI] [-R NETNS] [-u SECS] [-S SEED]\n"
		"               ADDR STEP...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned int lo, hi;
	int opt, i, cpu = -1;
	long v;

	if (argc < 2)
		usage();
	raise_fd_limit(MAX_FLOWS + 256);
	ep = epoll_create1(0);
	if (ep < 0)
		die("epoll");
	optind = 2;
	if (!strcmp(argv[1], "serve")) {
		while ((opt = getopt(argc, argv, "+C:")) != -1)
			if (opt == 'C')
				cpu = atoi(optarg);
			else
				usage();
		if (cpu >= 0)
			pin(cpu);
		if (optind >= argc || (argc - optind) % 2)
			usage();
		for (i = optind; i < argc; i += 2) {
			if (strcmp(argv[i], "tcp") && strcmp(argv[i], "udp"))
				usage();
			if (!parse_range(argv[i + 1], &lo, &hi) || !lo)
				usage();
			serve_listen(!strcmp(argv[i], "tcp"), lo, hi);
		}
		serve();
	}
	if (strcmp(argv[1], "run"))
		usage();
	srandom(1);
	while ((opt = getopt(argc, argv, "+p:C:w:t:T:P:s:R:u:S:")) != -1) {
		switch (opt) {
		case 'p':
			proto_tcp = !strcmp(optarg, "tcp");
			if (!proto_tcp && strcmp(optarg, "udp"))
				usage();
			break;
		case 'C': cpu = atoi(optarg); break;
		case 'w': conc = atoi(optarg); break;
		case 't': timeout_s = atoi(optarg) / 1000.0; break;
		case 'T': step_limit = atof(optarg); break;
		case 'P': setsize = atoi(optarg); break;
		case 'u': churn_idle = atoi(optarg); break;	/* whole seconds, as the sysctl */
		case 'S': srandom(atoi(optarg)); break;
		case 'R': open_router(optarg); break;
		case 's':
			if (sscanf(optarg, "%u/%u/%u", &chk_a, &chk_k, &chk_psid) == 3 &&
			    chk_a <= 15 && chk_a + chk_k <= 16 && chk_psid < (1u << chk_k))
				chk_mode = 1;
			else if (parse_range(optarg, &chk_lo, &chk_hi))
				chk_mode = 2;
			else
				usage();
			break;
		default:
			usage();
		}
	}
	if (conc < 1 || timeout_s <= 0 || optind + 2 > argc)
		usage();
	server.sin_family = AF_INET;
	if (inet_pton(AF_INET, argv[optind], &server.sin_addr) != 1)
		usage();
	if (cpu >= 0)
		pin(cpu);
	/* what the router's conntrack keeps an idle UDP entry for */
	if ((v = router_proc("/proc/sys/net/netfilter/nf_conntrack_udp_timeout")) > 0)
		udp_to = v;
	if ((v = router_proc("/proc/sys/net/netfilter/nf_conntrack_udp_timeout_stream")) > 0)
		udp_stream_to = v;
	for (i = MAX_FLOWS - 1; i >= 0; i--)
		free_slots[nfree++] = i;
	t_start = now();
	next_ka = t_start + keepalive_s;
	setvbuf(stdout, NULL, _IOLBF, 0);
	i = run(argv + optind + 1, argc - optind - 1);
	restore_udp_timeouts();
	return i;
}
