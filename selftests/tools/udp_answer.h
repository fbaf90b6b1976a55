/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the test servers and clients share (selftests/tools/flows,
 * bench/gen): their answers, their socket buffers, the resend schedule of
 * UDP queries and their descriptor limit.
 *
 * The answer to a new flow is one line with the source port it arrived
 * from, so the client learns what its NAT chose.
 *
 * A UDP answer leaves from the address the datagram was sent to
 * (IP_PKTINFO), as DNS servers answer: on a host with several addresses
 * the routing table would otherwise pick the source, and the client's NAT
 * would not recognise the answer as part of its flow.
 *
 * Under QEMU/TCG the emulated network drops datagrams under bursts (a
 * vCPU's input backlog overflows; see REFERENCE.md). Real UDP clients
 * resend, so ours do, on the same socket: the same conntrack entry and the
 * same translated port, so a resend never hides a NAT failure, only the
 * network's. Servers never lose an answer silently: a send that fails even
 * after waiting for room is reported to the caller.
 */
#ifndef MAPE_TOOLS_UDP_ANSWER_H
#define MAPE_TOOLS_UDP_ANSWER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A failed system call: the tools' exit 2, "cannot test". */
static inline void die(const char *what)
{
	perror(what);
	exit(2);
}

static inline long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Resends of an unanswered UDP query: after 250 ms, then doubling. */
#define UDP_RESEND_FIRST_MS	250

/*
 * MAPE_SLOW: how many times slower than usual the kernel is (make
 * check-debug's), 1 unless set to 2-100. Waits for answers grow by it,
 * and so do the gaps between resends: resent sooner than a slow kernel can
 * answer, queries only lengthen the queue the answers wait in (a debug
 * run: 6,048 queries and 19,000 resends, 40 % unanswered after 80 s,
 * with no packet dropped anywhere).
 */
static inline long udp_slow_factor(void)
{
	const char *s = getenv("MAPE_SLOW");
	long n = s ? strtol(s, NULL, 10) : 1;

	return n > 1 && n <= 100 ? n : 1;
}

/*
 * Milliseconds from one send of a query to the next, after @sends sends:
 * the schedule's gap, drawn from half to one and a half of it, as real
 * resolvers randomise theirs. Unjittered, queries sent in one burst are
 * resent in one burst, in the same order, and the same tail of it is lost
 * at the same overflowing backlog every time (CI: 228 of 1008 flows lost
 * five sends in a row while the other 780 were answered).
 */
static inline long udp_resend_gap_ms(unsigned int sends)
{
	long gap = udp_slow_factor() * UDP_RESEND_FIRST_MS << (sends > 4 ? 4 : sends - 1);

	return gap / 2 + random() % gap;
}

static inline int answer_line(char *line, size_t size, const struct sockaddr_in *from)
{
	return snprintf(line, size, "%u\n", ntohs(from->sin_port));
}

/*
 * A burst of answers can fill the send buffer (EAGAIN) or the first hop
 * (ENOBUFS): wait for room, up to about a second, rather than drop one.
 */
static inline int udp_send_patiently(int fd, const struct msghdr *m)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int tries;

	for (tries = 0; tries < 100; tries++) {
		if (sendmsg(fd, m, MSG_DONTWAIT) >= 0)
			return 0;
		if (errno == EAGAIN)
			poll(&p, 1, 10);
		else if (errno == ENOBUFS)
			poll(NULL, 0, 1);	/* POLLOUT says nothing of the hop */
		else
			return -1;
	}
	return -1;
}

/*
 * Answer one datagram of @fd. Returns 0 when answered, -1 when there was
 * none to read (recvmsg failed), 1 when the answer could not be sent
 * (errno says why, *@to says to whom).
 */
static inline int udp_answer_port(int fd, int flags, struct sockaddr_in *to)
{
	char buf[256], cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))], line[16];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr m = {
		.msg_name = to, .msg_namelen = sizeof(*to),
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;

	if (recvmsg(fd, &m, flags) < 0)
		return -1;
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo *pi = (struct in_pktinfo *)CMSG_DATA(c);

			pi->ipi_spec_dst = pi->ipi_addr;
			pi->ipi_ifindex = 0;
		}
	}
	iov.iov_len = answer_line(line, sizeof(line), to);
	iov.iov_base = line;
	return udp_send_patiently(fd, &m) ? 1 : 0;
}

/* Report an answer udp_answer_port() could not send, on stderr. */
static inline void udp_report_unsent(const char *who, const struct sockaddr_in *to)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &to->sin_addr, a, sizeof(a));
	fprintf(stderr, "%s: answer to %s:%u not sent: %m\n", who, a, ntohs(to->sin_port));
}

/*
 * A UDP server socket: IP_PKTINFO for the answers' source, and buffers
 * for thousands of first datagrams arriving at once, and their answers.
 */
static inline void udp_server_opts(int fd)
{
	int one = 1, buf = 16 << 20;

	setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
}

/* Answer the TCP connection @fd just accepted from @from. */
static inline void tcp_answer_port(int fd, const struct sockaddr_in *from)
{
	char line[16];

	(void)!write(fd, line, answer_line(line, sizeof(line), from));
}

/* Thousands of sockets: @n descriptors, or as many as we may have. */
static inline void raise_fd_limit(rlim_t n)
{
	struct rlimit r = { n, n };

	if (setrlimit(RLIMIT_NOFILE, &r) && !getrlimit(RLIMIT_NOFILE, &r)) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

#endif
