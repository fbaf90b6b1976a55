// SPDX-License-Identifier: GPL-2.0
/*
 * flows: many TCP or UDP flows from one process, for the selftests.
 *
 *   flows serve tcp|udp PORT
 *	Answer every new flow with the source port it arrived from ("PORT\n").
 *	UDP answers leave from the address the datagram was sent to.
 *	TCP connections stay open until the client closes them.
 *   flows run tcp|udp ADDR PORT STEP...
 *	Run the steps in order, printing one line per step:
 *	  open:N    open N new flows at once; each must get its answer
 *	  close:N   close the N oldest open flows (the client closes first)
 *	  hold:S    keep everything open S seconds
 *	  wait:MS   later "open" steps wait for their answers until MS
 *		    pass without one (default 4000 for TCP, 8000 for UDP,
 *		    times MAPE_SLOW when set): for flows that must go
 *		    unanswered, whose answer, if any, would come at once
 *	  flood:N:R UDP only: N datagrams at R per second, each from a port
 *		    of its own (1024-32767, never an ephemeral one), sent
 *		    from a raw socket and never answered: N new flows for
 *		    the NAT, and no sockets to hold
 *	"open" prints "seen PORT from LOCALPORT" for each answered flow, then
 *	"open N ok X failed Y resent R late L": an unanswered UDP query is
 *	sent again on its socket (udp_answer.h), R resends in all, L flows
 *	answered only after one. Exit status 0 when no flow failed, 1 if any
 *	did, 2 on usage or system errors.
 *
 * The server reports what it saw on the wire, so a test can check the
 * translated ports independently of the code that chose them.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "udp_answer.h"

#define MAX_FLOWS	70000
#define ANSWER_MS	4000	/* covers one TCP SYN retransmission */
/*
 * Six sends of a UDP query (udp_answer.h's schedule): with two test VMs
 * side by side, CI saw one flow of 6048 lose all five sends of 4 s.
 */
#define UDP_ANSWER_MS	8000

static long answer_ms;		/* wait:MS, or 0 for the default */

/* A flow of the current "open" step, until its answer is in. */
struct pending {
	int fd;			/* -1 once answered */
	unsigned int sends;
	long next_ms;		/* when to send the query again (UDP) */
};

static int proto_tcp;
static struct sockaddr_in peer;
static int flows[MAX_FLOWS];
static int nflows, first_open;

static int new_socket(void)
{
	int fd = socket(AF_INET, (proto_tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK, 0);

	if (fd < 0)
		die("socket");
	return fd;
}

/* --- server --- */

static void answer_udp(int fd)
{
	struct sockaddr_in to;

	if (udp_answer_port(fd, 0, &to) > 0)
		udp_report_unsent("flows serve", &to);
}

static void serve_event(int ep, int lfd, int fd)
{
	struct sockaddr_in from;
	socklen_t len = sizeof(from);
	struct epoll_event ev = { .events = EPOLLIN };
	char buf[256];
	int c;

	if (!proto_tcp) {
		answer_udp(lfd);
		return;
	}
	if (fd != lfd) {	/* data or EOF from a client: close on EOF */
		if (read(fd, buf, sizeof(buf)) <= 0)
			close(fd);
		return;
	}
	while ((c = accept4(lfd, (struct sockaddr *)&from, &len, SOCK_NONBLOCK)) >= 0) {
		tcp_answer_port(c, &from);
		ev.data.fd = c;
		epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
		len = sizeof(from);
	}
}

static __attribute__((noreturn)) void serve(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct epoll_event ev = { .events = EPOLLIN }, evs[256];
	int lfd = new_socket(), ep = epoll_create1(0), one = 1, n, i;

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (!proto_tcp)
		udp_server_opts(lfd);
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)))
		die("bind");
	if (proto_tcp && listen(lfd, 4096))
		die("listen");
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, 256, -1);
		for (i = 0; i < n; i++)
			serve_event(ep, lfd, evs[i].data.fd);
	}
}

/* --- client --- */

/* Start one flow (index @i of the step); wait_answers() collects it. */
static int start_flow(int ep, uint32_t i)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
	int fd = new_socket();

	if (connect(fd, (struct sockaddr *)&peer, sizeof(peer)) && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	if (!proto_tcp && send(fd, "?", 1, 0) != 1) {
		close(fd);
		return -1;
	}
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	return fd;
}

static unsigned int local_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	return getsockname(fd, (struct sockaddr *)&a, &len) ? 0 : ntohs(a.sin_port);
}

/* Send the UDP queries still unanswered whose time has come; count them. */
static int resend_due(struct pending *p, int n, long t)
{
	int i, sent = 0;

	for (i = 0; i < n; i++) {
		if (p[i].fd < 0 || t < p[i].next_ms)
			continue;
		if (send(p[i].fd, "?", 1, 0) == 1)
			sent++;
		p[i].sends++;
		p[i].next_ms = t + udp_resend_gap_ms(p[i].sends);
	}
	return sent;
}

/* Read the answers epoll has for us within @ms; count them (*late too). */
static int read_answers(int ep, struct pending *p, int ms, int *late, int *more)
{
	struct epoll_event evs[256];
	int got = 0, k, i;
	char buf[32];

	k = epoll_wait(ep, evs, 256, ms);
	for (i = 0; i < k; i++) {
		struct pending *f = &p[evs[i].data.u32];
		ssize_t r = read(f->fd, buf, sizeof(buf) - 1);

		epoll_ctl(ep, EPOLL_CTL_DEL, f->fd, NULL);
		if (r > 0) {
			buf[r] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			printf("seen %s from %u\n", buf, local_port(f->fd));
			got++;
			*late += f->sends > 1;
		}
		f->fd = -1;
	}
	*more = k == 256;
	return got;
}

/* The default wait: answers from a slower kernel are late, not lost. */
static long default_answer_ms(void)
{
	return udp_slow_factor() * (proto_tcp ? ANSWER_MS : UDP_ANSWER_MS);
}

/*
 * Read answers until every flow of @p has one or the wait
 * (default_answer_ms(), or wait:MS) passed without an answer, resending
 * UDP queries meanwhile, but only once every answer already waiting has
 * been read: a query whose answer sits unread is no loss. The wait counts
 * from the last answer: thousands of queries at once on a slow kernel
 * are answered from a queue that drains for minutes (the debug kernel's
 * e2e burst: half its answers after 80 s), and a drain is not a loss.
 * Returns the flows answered; *late counts those answered only after a
 * resend, *resent the resends.
 */
static int wait_answers(int ep, struct pending *p, int n, int *late, int *resent)
{
	long wait = answer_ms ? answer_ms : default_answer_ms();
	long deadline = now_ms() + wait;
	int got = 0, waiting = 0, more, i, k;

	for (i = 0; i < n; i++)
		waiting += p[i].fd >= 0;
	while (got < waiting && now_ms() < deadline) {
		k = read_answers(ep, p, 20, late, &more);
		while (more)
			k += read_answers(ep, p, 0, late, &more);
		if (k)
			deadline = now_ms() + wait;
		got += k;
		if (!proto_tcp)
			*resent += resend_due(p, n, now_ms());
	}
	return got;
}

static int step_open(int n)
{
	int ep = epoll_create1(0), i, got, late = 0, resent = 0;
	struct pending *p;

	if (nflows + n > MAX_FLOWS)
		n = MAX_FLOWS - nflows;
	p = calloc(n ? n : 1, sizeof(*p));
	if (!p)
		die("calloc");
	for (i = 0; i < n; i++) {
		p[i].fd = start_flow(ep, i);
		p[i].sends = 1;
		p[i].next_ms = now_ms() + udp_resend_gap_ms(1);
		if (p[i].fd >= 0)
			flows[nflows++] = p[i].fd;
	}
	got = wait_answers(ep, p, n, &late, &resent);
	close(ep);
	free(p);
	printf("open %d ok %d failed %d resent %d late %d\n", n, got, n - got, resent, late);
	return n - got;
}

/* One UDP datagram from @sport to the peer, through a raw socket. */
static void flood_one(int raw, uint16_t sport)
{
	struct { uint16_t sport, dport, len, csum; char q; } __attribute__((packed)) d = {
		htons(sport), peer.sin_port, htons(sizeof(d)), 0, '?'	/* no checksum */
	};

	(void)!sendto(raw, &d, sizeof(d), 0, (struct sockaddr *)&peer, sizeof(peer));
}

static void step_flood(int n, int rate)
{
	int raw = socket(AF_INET, SOCK_RAW, IPPROTO_UDP), i;
	long t0 = now_ms();
	struct timespec next;

	if (raw < 0)
		die("raw socket");
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (i = 0; i < n; i++) {
		flood_one(raw, 1024 + i % (32768 - 1024));
		if (rate > 0 && i % 10 == 9) {	/* pace in tens */
			next.tv_nsec += 10 * 1000000000L / rate;
			while (next.tv_nsec >= 1000000000L) {
				next.tv_nsec -= 1000000000L;
				next.tv_sec++;
			}
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		}
	}
	close(raw);
	printf("flood %d ms %ld\n", n, now_ms() - t0);
}

static void step_close(int n)
{
	int i;

	for (i = 0; i < n && first_open < nflows; i++)
		close(flows[first_open++]);
	printf("close %d\n", i);
}

static int run(char **steps, int nsteps)
{
	int failed = 0, i, n, r;

	for (i = 0; i < nsteps; i++) {
		if (!proto_tcp && sscanf(steps[i], "flood:%d:%d", &n, &r) == 2)
			step_flood(n, r);
		else if (sscanf(steps[i], "open:%d", &n) == 1)
			failed += step_open(n);
		else if (sscanf(steps[i], "close:%d", &n) == 1)
			step_close(n);
		else if (sscanf(steps[i], "wait:%d", &n) == 1 && n > 0)
			answer_ms = n;
		else if (sscanf(steps[i], "hold:%d", &n) == 1) {
			printf("hold %d\n", n);	/* before, so that others know */
			fflush(stdout);
			sleep(n);
		}
		else {
			fprintf(stderr, "flows: unknown step %s\n", steps[i]);
			return 2;
		}
		fflush(stdout);
	}
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		goto usage;
	proto_tcp = !strcmp(argv[2], "tcp");
	if (!proto_tcp && strcmp(argv[2], "udp"))
		goto usage;
	raise_fd_limit(MAX_FLOWS + 64);
	if (!strcmp(argv[1], "serve"))
		serve(atoi(argv[3]));
	if (strcmp(argv[1], "run") || argc < 6)
		goto usage;
	peer.sin_family = AF_INET;
	peer.sin_port = htons(atoi(argv[4]));
	if (inet_pton(AF_INET, argv[3], &peer.sin_addr) != 1)
		goto usage;
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	return run(argv + 5, argc - 5);
usage:
	fprintf(stderr, "usage: flows serve tcp|udp PORT | flows run tcp|udp ADDR PORT STEP...\n");
	return 2;
}
