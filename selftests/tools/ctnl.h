/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Deleting one conntrack entry by netlink, for the test tools (bench/gen
 * frees held flows; selftests/tools/ct_free frees a port at a moment the
 * kernel log records).
 */
#ifndef MAPE_TOOLS_CTNL_H
#define MAPE_TOOLS_CTNL_H

#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

static inline struct nlattr *ctnl_put(char *buf, size_t *len, int type,
				      const void *data, int dlen)
{
	struct nlattr *a = (struct nlattr *)(buf + *len);

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + dlen;
	if (dlen)
		memcpy((char *)a + NLA_HDRLEN, data, dlen);
	*len += NLA_ALIGN(a->nla_len);
	return a;
}

static inline void ctnl_end(char *buf, size_t len, struct nlattr *a)
{
	a->nla_len = buf + len - (char *)a;
}

/*
 * Delete the entry of @fd's netns whose @dir tuple (CTA_TUPLE_ORIG or
 * CTA_TUPLE_REPLY) is the given IPv4 one (addresses and ports in network
 * order). Returns 0, or a negative errno from the kernel, or -1.
 */
static inline int ct_delete_tuple(int fd, int dir, uint8_t proto,
				  uint32_t saddr, uint16_t sport,
				  uint32_t daddr, uint16_t dport)
{
	char buf[256] __attribute__((aligned(4))) = { 0 };
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	struct nfgenmsg *g = (struct nfgenmsg *)NLMSG_DATA(nh);
	size_t len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*g));
	struct nlattr *t, *ip, *pr;
	struct nlmsgerr *e;
	ssize_t r;

	nh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
	nh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	g->nfgen_family = AF_INET;
	g->version = NFNETLINK_V0;
	t = ctnl_put(buf, &len, dir | NLA_F_NESTED, NULL, 0);
	ip = ctnl_put(buf, &len, CTA_TUPLE_IP | NLA_F_NESTED, NULL, 0);
	ctnl_put(buf, &len, CTA_IP_V4_SRC, &saddr, 4);
	ctnl_put(buf, &len, CTA_IP_V4_DST, &daddr, 4);
	ctnl_end(buf, len, ip);
	pr = ctnl_put(buf, &len, CTA_TUPLE_PROTO | NLA_F_NESTED, NULL, 0);
	ctnl_put(buf, &len, CTA_PROTO_NUM, &proto, 1);
	ctnl_put(buf, &len, CTA_PROTO_SRC_PORT, &sport, 2);
	ctnl_put(buf, &len, CTA_PROTO_DST_PORT, &dport, 2);
	ctnl_end(buf, len, pr);
	ctnl_end(buf, len, t);
	nh->nlmsg_len = len;
	if (send(fd, buf, len, 0) != (ssize_t)len)
		return -1;
	r = recv(fd, buf, sizeof(buf), 0);
	if (r < (ssize_t)(NLMSG_HDRLEN + sizeof(*e)) || nh->nlmsg_type != NLMSG_ERROR)
		return -1;
	e = (struct nlmsgerr *)NLMSG_DATA(nh);
	return e->error;
}

#endif
