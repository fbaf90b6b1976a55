// SPDX-License-Identifier: GPL-2.0
/*
 * udp_peer: what a NAT's mapping looks like from outside, for the
 * NAT-type selftests. Each mode uses one UDP socket, as the applications
 * that need an endpoint-independent mapping (games, P2P, VoIP) do.
 *
 *   udp_peer echo PORT...
 *	Answer every datagram with "seen ADDR PORT" (where it came from),
 *	from the address it was sent to.
 *   udp_peer map [SADDR:]SPORT ADDR:PORT...
 *	From port SPORT (of address SADDR), ask each ADDR:PORT in turn what
 *	it saw, resending an unanswered query (udp_answer.h); print
 *	"ADDR:PORT saw ADDR PORT", or "ADDR:PORT unanswered" and exit 1.
 *   udp_peer rendezvous PORT
 *	Introduce the first two clients that say "hello" to each other:
 *	answer each hello with "peer ADDR PORT", the other's address as
 *	seen here, once both are known.
 *   udp_peer punch ADDR:PORT SPORT SECONDS
 *	From port SPORT, say hello to the rendezvous at ADDR:PORT until it
 *	names the peer, then send "punch" to the peer's public address
 *	every 200 ms; answer each datagram from it with "ack". Done when
 *	the peer was heard and it acked (it heard us): "reached ADDR PORT",
 *	exit 0; else after SECONDS "unreached ADDR PORT", exit 1. A
 *	datagram from anywhere else is reported ("stray ADDR PORT").
 *
 * Waits scale with MAPE_SLOW, as flows' do.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "udp_answer.h"

#define QUERY_MS	8000
#define MAX_PORTS	64

static long slow(long ms)
{
	return udp_slow_factor() * ms;
}

/* A port 1-65535, or exit 2 naming the argument. */
static int parse_port(const char *arg, const char *whole)
{
	char *end;
	long port = strtol(arg, &end, 10);

	if (end == arg || *end || port < 1 || port > 65535) {
		fprintf(stderr, "udp_peer: %s: not a port\n", whole);
		exit(2);
	}
	return port;
}

static void parse_addr(const char *arg, struct sockaddr_in *a)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strchr(arg, ':');

	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	if (!colon || colon - arg >= (long)sizeof(host)) {
		fprintf(stderr, "udp_peer: %s: want ADDR:PORT\n", arg);
		exit(2);
	}
	memcpy(host, arg, colon - arg);
	host[colon - arg] = 0;
	a->sin_port = htons(parse_port(colon + 1, arg));
	if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
		fprintf(stderr, "udp_peer: %s: want ADDR:PORT\n", arg);
		exit(2);
	}
}

/*
 * A socket bound to @addr:@port. Only a server (@reuse) may share its
 * port: a client bound where another socket is would hide the mistake.
 */
static int bound_socket_at(struct in_addr addr, int port, bool reuse)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = addr,
	};
	int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1;

	if (fd < 0)
		die("socket");
	if (reuse)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	udp_server_opts(fd);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
		die("bind");
	return fd;
}

static int server_socket(const char *port)
{
	return bound_socket_at((struct in_addr){ INADDR_ANY }, parse_port(port, port), true);
}

static int client_socket(const char *port)
{
	return bound_socket_at((struct in_addr){ INADDR_ANY }, parse_port(port, port), false);
}

static const char *addr_str(const struct sockaddr_in *a)
{
	static char buf[2][INET_ADDRSTRLEN + 8];
	static int i;
	char *b = buf[i ^= 1];

	inet_ntop(AF_INET, &a->sin_addr, b, INET_ADDRSTRLEN);
	sprintf(b + strlen(b), " %u", ntohs(a->sin_port));
	return b;
}

static bool same_addr(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

/* One datagram: its text, where it came from and the address it was sent to. */
struct dgram {
	char text[256];
	struct sockaddr_in from;
	struct in_addr to;
};

/* Milliseconds to the earlier of @next and @deadline (now_ms() based). */
static long wait_ms(long next, long deadline)
{
	return (next < deadline ? next : deadline) - now_ms();
}

/* Receive one datagram within @ms (0 or less: only one already waiting). */
static int recv_dgram(int fd, long ms, struct dgram *d)
{
	char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))];
	struct iovec iov = { d->text, sizeof(d->text) - 1 };
	struct msghdr m = {
		.msg_name = &d->from, .msg_namelen = sizeof(d->from),
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct cmsghdr *c;
	ssize_t n;

	if (poll(&p, 1, ms < 0 ? 0 : ms) <= 0)
		return -1;
	n = recvmsg(fd, &m, 0);
	if (n < 0)
		return -1;
	d->text[n] = 0;
	d->to.s_addr = INADDR_ANY;
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
			d->to = ((struct in_pktinfo *)CMSG_DATA(c))->ipi_addr;
	return 0;
}

/*
 * Send @text to @to from address @src (INADDR_ANY: the bound one): a
 * server with several addresses answers from the one it was asked at, or
 * the client's NAT would not take the answer for its flow's.
 */
static void send_from(int fd, const struct sockaddr_in *to, struct in_addr src,
		      const char *text)
{
	char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))] = { 0 };
	struct iovec iov = { (void *)text, strlen(text) };
	struct msghdr m = {
		.msg_name = (void *)to, .msg_namelen = sizeof(*to),
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
	((struct in_pktinfo *)CMSG_DATA(c))->ipi_spec_dst = src;
	if (src.s_addr == INADDR_ANY) {		/* it would override bind() */
		m.msg_control = NULL;
		m.msg_controllen = 0;
	}
	if (udp_send_patiently(fd, &m))
		fprintf(stderr, "udp_peer: send to %s: %m\n", addr_str(to));
}

static void send_text(int fd, const struct sockaddr_in *to, const char *text)
{
	send_from(fd, to, (struct in_addr){ INADDR_ANY }, text);
}

/* --- echo --- */

static __attribute__((noreturn)) void echo(int nports, char **ports)
{
	struct pollfd p[MAX_PORTS];
	struct dgram d;
	char line[64];
	int i;

	if (nports > MAX_PORTS)
		nports = MAX_PORTS;
	for (i = 0; i < nports; i++) {
		p[i].fd = server_socket(ports[i]);
		p[i].events = POLLIN;
	}
	for (;;) {
		if (poll(p, nports, -1) < 0)
			die("poll");
		for (i = 0; i < nports; i++) {
			if (!(p[i].revents & POLLIN) || recv_dgram(p[i].fd, 0, &d))
				continue;
			snprintf(line, sizeof(line), "seen %s\n", addr_str(&d.from));
			send_from(p[i].fd, &d.from, d.to, line);
		}
	}
}

/* --- map --- */

/* Ask @to what it saw, resending on the schedule; 0 when answered. */
static int map_one(int fd, const struct sockaddr_in *to)
{
	long deadline = now_ms() + slow(QUERY_MS), next = 0;
	struct sockaddr_in seen = { .sin_family = AF_INET };
	unsigned int sends = 0;
	char a[INET_ADDRSTRLEN];
	struct dgram d;
	int port;

	while (now_ms() < deadline) {
		if (now_ms() >= next) {
			send_text(fd, to, "query\n");
			next = now_ms() + udp_resend_gap_ms(++sends);
		}
		if (recv_dgram(fd, wait_ms(next, deadline), &d) || !same_addr(&d.from, to))
			continue;
		if (sscanf(d.text, "seen %15s %d", a, &port) != 2 ||
		    inet_pton(AF_INET, a, &seen.sin_addr) != 1)
			continue;
		seen.sin_port = htons(port);
		printf("%s:%u saw %s\n", inet_ntop(AF_INET, &to->sin_addr, a, sizeof(a)),
		       ntohs(to->sin_port), addr_str(&seen));
		return 0;
	}
	printf("%s:%u unanswered\n", inet_ntop(AF_INET, &to->sin_addr, a, sizeof(a)),
	       ntohs(to->sin_port));
	return 1;
}

static int map(const char *src, int ndst, char **dsts)
{
	struct sockaddr_in from = { .sin_family = AF_INET }, to;
	int fd, i, failed = 0;

	if (strchr(src, ':'))
		parse_addr(src, &from);
	else
		from.sin_port = htons(parse_port(src, src));
	fd = bound_socket_at(from.sin_addr, ntohs(from.sin_port), false);

	for (i = 0; i < ndst; i++) {
		parse_addr(dsts[i], &to);
		failed |= map_one(fd, &to);
		fflush(stdout);
	}
	return failed;
}

/* --- rendezvous --- */

static __attribute__((noreturn)) void rendezvous(const char *port)
{
	struct sockaddr_in peer[2];
	int fd = server_socket(port), known = 0, i;
	struct dgram d;
	char line[64];

	for (;;) {
		if (recv_dgram(fd, 1000, &d) || strncmp(d.text, "hello", 5))
			continue;
		for (i = 0; i < known && !same_addr(&peer[i], &d.from); i++)
			;
		if (i == known && known < 2) {
			peer[known++] = d.from;
			printf("hello from %s\n", addr_str(&d.from));
		}
		if (known == 2 && i < 2) {
			snprintf(line, sizeof(line), "peer %s\n", addr_str(&peer[!i]));
			send_from(fd, &d.from, d.to, line);
		}
	}
}

/* --- punch --- */

/* Say hello until the rendezvous names the peer. */
static int learn_peer(int fd, const struct sockaddr_in *rz, long deadline,
		      struct sockaddr_in *peer)
{
	unsigned int sends = 0;
	char a[INET_ADDRSTRLEN];
	struct dgram d;
	long next = 0;
	int port;

	while (now_ms() < deadline) {
		if (now_ms() >= next) {
			send_text(fd, rz, "hello\n");
			next = now_ms() + udp_resend_gap_ms(++sends);
		}
		if (recv_dgram(fd, wait_ms(next, deadline), &d) || !same_addr(&d.from, rz) ||
		    sscanf(d.text, "peer %15s %d", a, &port) != 2)
			continue;
		memset(peer, 0, sizeof(*peer));
		peer->sin_family = AF_INET;
		peer->sin_port = htons(port);
		if (inet_pton(AF_INET, a, &peer->sin_addr) == 1)
			return 0;
	}
	return -1;
}

static int punch(const char *rz_arg, const char *sport, int secs)
{
	long deadline = now_ms() + slow(secs * 1000L), next = 0;
	struct sockaddr_in rz, peer;
	int fd = client_socket(sport);
	bool heard = false, acked = false;
	struct dgram d;

	parse_addr(rz_arg, &rz);
	if (learn_peer(fd, &rz, deadline, &peer)) {
		printf("no peer from the rendezvous\n");
		return 1;
	}
	printf("peer %s\n", addr_str(&peer));
	while (now_ms() < deadline && !(heard && acked)) {
		if (now_ms() >= next) {
			send_text(fd, &peer, "punch\n");
			next = now_ms() + 200;
		}
		if (recv_dgram(fd, wait_ms(next, deadline), &d))
			continue;
		if (!same_addr(&d.from, &peer)) {
			if (!same_addr(&d.from, &rz))
				printf("stray %s\n", addr_str(&d.from));
			continue;
		}
		if (!strncmp(d.text, "punch", 5)) {
			heard = true;
			send_text(fd, &peer, "ack\n");
		} else if (!strncmp(d.text, "ack", 3)) {
			acked = true;
		}
	}
	/* the peer may still need our ack of its later punches */
	for (deadline = now_ms() + slow(1000); heard && acked && now_ms() < deadline;)
		if (!recv_dgram(fd, deadline - now_ms(), &d) &&
		    same_addr(&d.from, &peer) && !strncmp(d.text, "punch", 5))
			send_text(fd, &peer, "ack\n");
	printf("%s %s\n", heard && acked ? "reached" : "unreached", addr_str(&peer));
	return !(heard && acked);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	srandom(getpid() ^ now_ms());
	if (argc >= 3 && !strcmp(argv[1], "echo"))
		echo(argc - 2, argv + 2);
	if (argc >= 4 && !strcmp(argv[1], "map"))
		return map(argv[2], argc - 3, argv + 3);
	if (argc == 3 && !strcmp(argv[1], "rendezvous"))
		rendezvous(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "punch"))
		return punch(argv[2], argv[3], atoi(argv[4]));
	fprintf(stderr, "usage: udp_peer echo PORT... | map [SADDR:]SPORT ADDR:PORT... |\n"
		"       rendezvous PORT | punch ADDR:PORT SPORT SECONDS\n");
	return 2;
}
