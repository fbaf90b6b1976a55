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
 *	"open" prints "seen PORT from LOCALPORT" for each answered flow, then
 *	"open N ok X failed Y". Exit status 0 when no flow failed, 1 if any
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

static int proto_tcp;
static struct sockaddr_in peer;
static int flows[MAX_FLOWS];
static int nflows, first_open;

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

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
	udp_answer_port(fd, 0);
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
	int rcvbuf = 16 << 20;

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(lfd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	/* thousands of first datagrams arrive at once: keep them all */
	if (setsockopt(lfd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
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

/* Start one flow; its answer is collected by wait_answers(). */
static int start_flow(int ep)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int fd = new_socket();

	if (connect(fd, (struct sockaddr *)&peer, sizeof(peer)) && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	if (!proto_tcp && send(fd, "?", 1, 0) != 1) {
		close(fd);
		return -1;
	}
	ev.data.fd = fd;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	return fd;
}

static unsigned int local_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	return getsockname(fd, (struct sockaddr *)&a, &len) ? 0 : ntohs(a.sin_port);
}

/* Read answers until @want arrived or ANSWER_MS passed; count them. */
static int wait_answers(int ep, int want)
{
	struct epoll_event evs[256];
	long deadline = now_ms() + ANSWER_MS;
	int got = 0, n, i;
	char buf[32];

	while (got < want && now_ms() < deadline) {
		n = epoll_wait(ep, evs, 256, 50);
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			ssize_t r = read(fd, buf, sizeof(buf) - 1);

			epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
			if (r <= 0)
				continue;
			buf[r] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			printf("seen %s from %u\n", buf, local_port(fd));
			got++;
		}
	}
	return got;
}

static int step_open(int n)
{
	int ep = epoll_create1(0), i, got, started = 0;

	if (nflows + n > MAX_FLOWS)
		n = MAX_FLOWS - nflows;
	for (i = 0; i < n; i++) {
		int fd = start_flow(ep);

		if (fd >= 0) {
			flows[nflows++] = fd;
			started++;
		}
	}
	got = wait_answers(ep, started);
	close(ep);
	printf("open %d ok %d failed %d\n", n, got, n - got);
	return n - got;
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
	int failed = 0, i, n;

	for (i = 0; i < nsteps; i++) {
		if (sscanf(steps[i], "open:%d", &n) == 1)
			failed += step_open(n);
		else if (sscanf(steps[i], "close:%d", &n) == 1)
			step_close(n);
		else if (sscanf(steps[i], "hold:%d", &n) == 1)
			sleep(n);
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
