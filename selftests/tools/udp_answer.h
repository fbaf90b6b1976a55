/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the test servers share (selftests/tools/flows, bench/gen): their
 * answers and their descriptor limit.
 *
 * The answer to a new flow is one line with the source port it arrived
 * from, so the client learns what its NAT chose.
 *
 * A UDP answer leaves from the address the datagram was sent to
 * (IP_PKTINFO), as DNS servers answer: on a host with several addresses
 * the routing table would otherwise pick the source, and the client's NAT
 * would not recognise the answer as part of its flow. The socket needs
 * IP_PKTINFO.
 */
#ifndef MAPE_TOOLS_UDP_ANSWER_H
#define MAPE_TOOLS_UDP_ANSWER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static inline int answer_line(char *line, size_t size, const struct sockaddr_in *from)
{
	return snprintf(line, size, "%u\n", ntohs(from->sin_port));
}

/* Answer one datagram of @fd; < 0 when none could be read (recvmsg). */
static inline int udp_answer_port(int fd, int flags)
{
	char buf[256], cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))], line[16];
	struct sockaddr_in from;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr m = {
		.msg_name = &from, .msg_namelen = sizeof(from),
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
	iov.iov_len = answer_line(line, sizeof(line), &from);
	iov.iov_base = line;
	(void)!sendmsg(fd, &m, 0);
	return 0;
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
