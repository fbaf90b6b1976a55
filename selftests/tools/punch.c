// SPDX-License-Identifier: GPL-2.0
/*
 * punch: UDP hole punching between two hosts behind NATs, for the
 * selftests, as peer-to-peer games and calls do it.
 *
 *   punch meet PORT
 *	The rendezvous server: it pairs the last two addresses that said
 *	"hello" and answers each hello of a pair with "you ADDR PORT peer
 *	ADDR PORT": the sender's address as it saw it, and the other's.
 *   punch peer ADDR PORT LPORT
 *	From local port LPORT, say hello to the server at ADDR PORT until it
 *	names a peer; then send "punch" to that peer until a datagram from
 *	it says "ack" (the peer heard us) and one has come from it at all
 *	(we heard the peer), answering each "punch" with "ack". Prints
 *	"you ADDR PORT peer ADDR PORT heard ADDR PORT", where heard is the
 *	source of the first datagram from the peer, and keeps answering a
 *	while for a peer still waiting for its ack. Exit status 0 when both
 *	ways worked, 1 when they did not within the wait, 2 on usage or
 *	system errors.
 *
 * Every wait grows with MAPE_SLOW, as udp_answer.h's do: the server's
 * answers and the first punches are lost on purpose by the NATs until
 * both sides have sent (that is the technique), so peers resend.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <string.h>

#include "udp_answer.h"

#define HELLO_GAP_MS	500
#define PUNCH_GAP_MS	200
#define MEET_WAIT_MS	20000
#define PUNCH_WAIT_MS	20000
#define LINGER_MS	3000

static int udp_socket(unsigned int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		die("socket");
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
		die("bind");
	return fd;
}

static bool same(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

static const char *str(const struct sockaddr_in *a)
{
	static char buf[2][INET_ADDRSTRLEN + 8];
	static int i;

	i ^= 1;
	snprintf(buf[i], sizeof(buf[i]), "%s %u", inet_ntoa(a->sin_addr), ntohs(a->sin_port));
	return buf[i];
}

static void send_text(int fd, const struct sockaddr_in *to, const char *text)
{
	if (sendto(fd, text, strlen(text), 0, (const struct sockaddr *)to, sizeof(*to)) < 0 &&
	    errno != EPERM && errno != ECONNREFUSED)
		die("sendto");
}

/* One datagram within @ms, NUL-terminated in @buf; its length, or -1. */
static int recv_within(int fd, char *buf, size_t size, struct sockaddr_in *from, long ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	socklen_t len = sizeof(*from);
	ssize_t n;

	if (ms < 0 || poll(&p, 1, ms) <= 0)
		return -1;
	n = recvfrom(fd, buf, size - 1, 0, (struct sockaddr *)from, &len);
	if (n < 0)
		return -1;	/* an ICMP error of an earlier send */
	buf[n] = '\0';
	return n;
}

static __attribute__((noreturn)) void meet(unsigned int port)
{
	struct sockaddr_in pair[2] = { 0 }, from;
	int fd = udp_socket(port), i;
	char buf[256], line[128];

	for (;;) {
		if (recv_within(fd, buf, sizeof(buf), &from, 60000) < 0 || strcmp(buf, "hello"))
			continue;
		if (!same(&from, &pair[1]) && !same(&from, &pair[0])) {
			pair[0] = pair[1];
			pair[1] = from;
		}
		if (!pair[0].sin_port)
			continue;
		i = same(&from, &pair[0]);
		snprintf(line, sizeof(line), "you %s peer %s", str(&from), str(&pair[i]));
		send_text(fd, &from, line);
	}
}

/* "ADDR PORT" at @s into @a. */
static bool parse_addr(const char *s, struct sockaddr_in *a)
{
	char ip[INET_ADDRSTRLEN];
	unsigned int port;

	if (sscanf(s, "%15s %u", ip, &port) != 2 || port > 65535 ||
	    inet_pton(AF_INET, ip, &a->sin_addr) != 1)
		return false;
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	return true;
}

/* Hello to @server until it names us and a peer. */
static bool ask_peer(int fd, const struct sockaddr_in *server, char *you, size_t size,
		     struct sockaddr_in *peer)
{
	long end = now_ms() + MEET_WAIT_MS * udp_slow_factor(), next = 0;
	struct sockaddr_in from;
	char buf[256], *p;

	while (now_ms() < end) {
		if (now_ms() >= next) {
			send_text(fd, server, "hello");
			next = now_ms() + HELLO_GAP_MS * udp_slow_factor();
		}
		if (recv_within(fd, buf, sizeof(buf), &from, next - now_ms()) < 0 ||
		    !same(&from, server) || strncmp(buf, "you ", 4))
			continue;
		p = strstr(buf, " peer ");
		if (!p || !parse_addr(p + 6, peer))
			continue;
		*p = '\0';
		if (strlen(buf + 4) >= size)
			continue;
		memcpy(you, buf + 4, strlen(buf + 4) + 1);
		return true;
	}
	return false;
}

/* Punch toward @peer until each side has heard the other. */
static bool punch(int fd, const struct sockaddr_in *peer, struct sockaddr_in *heard)
{
	long end = now_ms() + PUNCH_WAIT_MS * udp_slow_factor(), next = 0, linger = -1;
	bool acked = false;
	struct sockaddr_in from;
	char buf[256];

	while (now_ms() < (linger >= 0 ? linger : end)) {
		if (!acked && now_ms() >= next) {
			send_text(fd, peer, "punch");
			next = now_ms() + PUNCH_GAP_MS * udp_slow_factor();
		}
		if (recv_within(fd, buf, sizeof(buf), &from, PUNCH_GAP_MS) < 0 ||
		    !same(&from, peer))
			continue;
		if (!heard->sin_port)
			*heard = from;
		if (!strcmp(buf, "punch"))
			send_text(fd, peer, "ack");
		else if (!strcmp(buf, "ack"))
			acked = true;
		if (acked && linger < 0)
			linger = now_ms() + LINGER_MS * udp_slow_factor();
	}
	return acked;
}

static int peer_side(const char *addr, unsigned int port, unsigned int lport)
{
	struct sockaddr_in server = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in peer, heard = { 0 };
	int fd = udp_socket(lport);
	char you[64];
	bool ok;

	if (inet_pton(AF_INET, addr, &server.sin_addr) != 1)
		return 2;
	if (!ask_peer(fd, &server, you, sizeof(you), &peer)) {
		printf("no peer from the server\n");
		return 1;
	}
	ok = punch(fd, &peer, &heard);
	printf("you %s peer %s heard %s%s\n", you, str(&peer),
	       heard.sin_port ? str(&heard) : "nothing", ok ? "" : " (no ack)");
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "meet"))
		meet(atoi(argv[2]));
	if (argc == 5 && !strcmp(argv[1], "peer"))
		return peer_side(argv[2], atoi(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: punch meet PORT | punch peer ADDR PORT LPORT\n");
	return 2;
}
