// SPDX-License-Identifier: GPL-2.0
/*
 * ct_free: free a NAT port at a moment the kernel log records.
 *
 *   ct_free udp|tcp SRC PORT DST NATPORT
 *	Delete the conntrack entry of this netns whose reply tuple is
 *	SRC:PORT -> DST:NATPORT (the server answering a translated flow),
 *	then write "ct_free: freed NATPORT" to /dev/kmsg, so that the kernel
 *	log's clock dates the deletion to within the time of one write.
 *	Exit status 0 when the entry was deleted.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctnl.h"

int main(int argc, char **argv)
{
	struct in_addr src, dst;
	char line[64];
	int fd, kmsg, err, n;

	if (argc != 6 || (strcmp(argv[1], "udp") && strcmp(argv[1], "tcp")) ||
	    inet_pton(AF_INET, argv[2], &src) != 1 || inet_pton(AF_INET, argv[4], &dst) != 1) {
		fprintf(stderr, "usage: ct_free udp|tcp SRC PORT DST NATPORT\n");
		return 2;
	}
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	kmsg = open("/dev/kmsg", O_WRONLY);
	if (fd < 0 || kmsg < 0) {
		perror("ct_free");
		return 2;
	}
	err = ct_delete_tuple(fd, CTA_TUPLE_REPLY,
			      argv[1][0] == 'u' ? IPPROTO_UDP : IPPROTO_TCP,
			      src.s_addr, htons(atoi(argv[3])), dst.s_addr, htons(atoi(argv[5])));
	if (err) {
		fprintf(stderr, "ct_free: %s\n", err < 0 ? strerror(-err) : "no answer");
		return 1;
	}
	n = snprintf(line, sizeof(line), "ct_free: freed %s\n", argv[5]);
	return write(kmsg, line, n) == n ? 0 : 1;
}
