// SPDX-License-Identifier: GPL-2.0
/*
 * mape_rule: add a rule with the "mape" expression by raw netlink, with
 * any attribute left out or set to any value, so tests can reach the
 * kernel's own validation with input nft would refuse to send.
 *
 *   mape_rule [-f ip|inet|ip6|arp] [-o ATTR] [-s ATTR=VAL]... TABLE CHAIN ADDR[-ADDR] A K PSID [FLAGS]
 *
 * ATTR is an NFTA_MAPE_* name without the prefix (psid_offset, flags,
 * reg_addr_min...) or a number. The address is loaded into 32-bit
 * registers 0 and 1 by an immediate expression first, as nft does.
 * Exit status: 0 when the kernel accepted the rule, else the errno it
 * answered (EINVAL 22, ERANGE 34, EOPNOTSUPP 95...).
 *
 *   mape_rule -x TABLE CHAIN ADDR[-ADDR] A K PSID [FLAGS]
 *
 * adds the xtables target MAPE instead, as iptables-nft does (an
 * nft_compat "target" expression with struct xt_mape_tginfo), every field
 * as given, so tests can reach the target's checkentry with payloads
 * iptables would refuse to send (a reversed range, a PSID too big...).
 *
 *   mape_rule -l [-f FAMILY] TABLE CHAIN
 *
 * prints each rule of CHAIN that holds a mape expression as the kernel
 * dumps it, in nft's words ("handle 4: snat to 192.0.2.1:mape 4/8/20"):
 * Debian's nft skips a rule with an expression it does not know, so
 * without the patched nft this is the way to see it.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nf_nat_mape.h"

#define BUFSZ 8192

struct msg {
	char buf[BUFSZ];
	size_t len;
};

static const char * const attr_names[NFTA_MAPE_MAX + 1] = {
	[NFTA_MAPE_REG_ADDR_MIN]	= "reg_addr_min",
	[NFTA_MAPE_REG_ADDR_MAX]	= "reg_addr_max",
	[NFTA_MAPE_PSID_OFFSET]		= "psid_offset",
	[NFTA_MAPE_PSID_LEN]		= "psid_len",
	[NFTA_MAPE_PSID]		= "psid",
	[NFTA_MAPE_FLAGS]		= "flags",
};

static int omit[NFTA_MAPE_MAX + 2];
static int overridden[NFTA_MAPE_MAX + 2];
static uint32_t override[NFTA_MAPE_MAX + 2];

static void die(const char *what)
{
	fprintf(stderr, "mape_rule: %s\n", what);
	exit(2);
}

static void *put(struct msg *m, const void *data, size_t len)
{
	void *at = m->buf + m->len;

	if (m->len + NLA_ALIGN(len) > BUFSZ)
		die("message too long");
	memset(at, 0, NLA_ALIGN(len));
	if (data)
		memcpy(at, data, len);
	m->len += NLA_ALIGN(len);
	return at;
}

static struct nlattr *nest_start(struct msg *m, int type)
{
	struct nlattr a = { .nla_type = type | NLA_F_NESTED };

	return put(m, &a, sizeof(a));
}

static void nest_end(struct msg *m, struct nlattr *a)
{
	a->nla_len = (char *)(m->buf + m->len) - (char *)a;
}

static void attr(struct msg *m, int type, const void *data, size_t len)
{
	struct nlattr a = { .nla_len = NLA_HDRLEN + len, .nla_type = type };

	put(m, &a, sizeof(a));
	put(m, data, len);
}

static void attr_be32(struct msg *m, int type, uint32_t v)
{
	uint32_t be = htonl(v);

	attr(m, type, &be, sizeof(be));
}

static struct nlmsghdr *msg_start(struct msg *m, int type, int flags,
				  int family, int res_id, int seq)
{
	struct nlmsghdr h = { .nlmsg_type = type, .nlmsg_flags = NLM_F_REQUEST | flags,
			      .nlmsg_seq = seq };
	struct nfgenmsg g = { .nfgen_family = family, .version = NFNETLINK_V0,
			      .res_id = htons(res_id) };
	struct nlmsghdr *at = put(m, &h, sizeof(h));

	put(m, &g, sizeof(g));
	return at;
}

static void msg_end(struct msg *m, struct nlmsghdr *h)
{
	h->nlmsg_len = (char *)(m->buf + m->len) - (char *)h;
}

static int attr_by_name(const char *s)
{
	char *end;
	long n;
	int i;

	for (i = 1; i <= NFTA_MAPE_MAX; i++)
		if (!strcasecmp(s, attr_names[i]))
			return i;
	n = strtol(s, &end, 0);
	if (*end || n < 1 || n > NFTA_MAPE_MAX + 1)
		die("unknown attribute");
	return (int)n;
}

/* The mape attribute @type with value @v, unless told otherwise. */
static void mape_attr(struct msg *m, int type, uint32_t v)
{
	if (omit[type])
		return;
	attr_be32(m, type, overridden[type] ? override[type] : v);
}

static void expr_immediate(struct msg *m, int reg, uint32_t addr_be)
{
	struct nlattr *e = nest_start(m, NFTA_LIST_ELEM), *d, *v;

	attr(m, NFTA_EXPR_NAME, "immediate", sizeof("immediate"));
	d = nest_start(m, NFTA_EXPR_DATA);
	attr_be32(m, NFTA_IMMEDIATE_DREG, reg);
	v = nest_start(m, NFTA_IMMEDIATE_DATA);
	attr(m, NFTA_DATA_VALUE, &addr_be, sizeof(addr_be));
	nest_end(m, v);
	nest_end(m, d);
	nest_end(m, e);
}

static uint32_t parse_u32(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (*s == '\0' || *end || v > UINT32_MAX)
		die("bad number");
	return (uint32_t)v;
}

static int parse_family(const char *s)
{
	if (!strcmp(s, "ip"))
		return NFPROTO_IPV4;
	if (!strcmp(s, "inet"))
		return NFPROTO_INET;
	if (!strcmp(s, "ip6"))
		return NFPROTO_IPV6;
	if (!strcmp(s, "arp"))
		return NFPROTO_ARP;
	die("unknown family");
	return 0;
}

/* Send the batch; the errno of the first error answered, or 0. */
static int talk(struct msg *m)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char rbuf[BUFSZ];
	int fd, err = 0;
	ssize_t n;

	fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER);
	if (fd < 0)
		die("socket");
	if (sendto(fd, m->buf, m->len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("sendto");
	for (;;) {
		struct nlmsghdr *h = (struct nlmsghdr *)rbuf;

		n = recv(fd, rbuf, sizeof(rbuf), 0);
		if (n < 0)
			die("recv");
		for (; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			struct nlmsgerr *e = NLMSG_DATA(h);

			if (h->nlmsg_type != NLMSG_ERROR)
				continue;
			if (e->error && !err)
				err = -e->error;
			/* the rule's ack (seq 2) ends the exchange */
			if (h->nlmsg_seq == 2 || e->error) {
				close(fd);
				return err;
			}
		}
	}
}

/* --- -l: the kernel's dump of a chain, mape rules only --- */

#define for_each_attr(a, start, len)					\
	for (a = (struct nlattr *)(start);				\
	     (char *)a + NLA_HDRLEN <= (char *)(start) + (len) &&	\
	     a->nla_len >= NLA_HDRLEN &&				\
	     (char *)a + a->nla_len <= (char *)(start) + (len);		\
	     a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len)))

#define ATTR_DATA(a)	((char *)(a) + NLA_HDRLEN)
#define ATTR_LEN(a)	((a)->nla_len - NLA_HDRLEN)
#define ATTR_TYPE(a)	((a)->nla_type & NLA_TYPE_MASK)

static uint32_t attr_get_be32(const struct nlattr *a)
{
	uint32_t v = 0;

	memcpy(&v, ATTR_DATA(a), ATTR_LEN(a) < 4 ? ATTR_LEN(a) : 4);
	return ntohl(v);
}

/* 32-bit registers 0..15 as immediates loaded them, and where. */
static uint32_t regs[16];

/*
 * The kernel dumps a register that starts a 128-bit one by that one's
 * number (NFT_REG32_00 comes back as NFT_REG_1), any other by its 32-bit
 * number: both name the same 32-bit register index here.
 */
static int reg32_index(uint32_t reg)
{
	if (reg >= NFT_REG_1 && reg <= NFT_REG_4)
		return (int)(reg - NFT_REG_1) * 4;
	return reg >= NFT_REG32_00 && reg < NFT_REG32_00 + 16 ? (int)(reg - NFT_REG32_00) : -1;
}

static void note_immediate(const struct nlattr *data)
{
	const struct nlattr *a, *v;
	int reg = -1;

	for_each_attr(a, ATTR_DATA(data), ATTR_LEN(data))
		if (ATTR_TYPE(a) == NFTA_IMMEDIATE_DREG)
			reg = reg32_index(attr_get_be32(a));
	for_each_attr(a, ATTR_DATA(data), ATTR_LEN(data))
		if (ATTR_TYPE(a) == NFTA_IMMEDIATE_DATA && reg >= 0)
			for_each_attr(v, ATTR_DATA(a), ATTR_LEN(a))
				if (ATTR_TYPE(v) == NFTA_DATA_VALUE && ATTR_LEN(v) >= 4)
					memcpy(&regs[reg], ATTR_DATA(v), 4);
}

static void print_addr(int reg)
{
	char s[INET_ADDRSTRLEN] = "?";

	if (reg >= 0)
		inet_ntop(AF_INET, &regs[reg], s, sizeof(s));
	fputs(s, stdout);
}

/* "snat to ADDR[-ADDR]:mape a/k/psid[ flags]", nft's order of the flags. */
static void print_mape(const struct nlattr *data)
{
	static const struct { uint32_t bit; const char *name; } flag[] = {
		{ NF_NAT_RANGE_PROTO_RANDOM, "random" },
		{ NF_NAT_RANGE_PROTO_RANDOM_FULLY, "fully-random" },
		{ NF_NAT_RANGE_PERSISTENT, "persistent" },
		{ NFT_MAPE_F_FULLCONE, "fullcone" },
	};
	uint32_t v[NFTA_MAPE_MAX + 1] = { 0 };
	const struct nlattr *a;
	const char *sep = " ";
	unsigned int i;
	int lo, hi;

	v[NFTA_MAPE_REG_ADDR_MAX] = UINT32_MAX;
	for_each_attr(a, ATTR_DATA(data), ATTR_LEN(data))
		if (ATTR_TYPE(a) >= 1 && ATTR_TYPE(a) <= NFTA_MAPE_MAX)
			v[ATTR_TYPE(a)] = attr_get_be32(a);
	lo = reg32_index(v[NFTA_MAPE_REG_ADDR_MIN]);
	hi = v[NFTA_MAPE_REG_ADDR_MAX] == UINT32_MAX ? lo : reg32_index(v[NFTA_MAPE_REG_ADDR_MAX]);
	fputs("snat to ", stdout);
	print_addr(lo);
	if (hi != lo) {
		putchar('-');
		print_addr(hi);
	}
	printf(":mape %u/%u/%u", v[NFTA_MAPE_PSID_OFFSET], v[NFTA_MAPE_PSID_LEN], v[NFTA_MAPE_PSID]);
	for (i = 0; i < sizeof(flag) / sizeof(flag[0]); i++)
		if (v[NFTA_MAPE_FLAGS] & flag[i].bit) {
			printf("%s%s", sep, flag[i].name);
			sep = ",";
		}
}

static void print_rule(const struct nlmsghdr *h)
{
	const char *start = (const char *)NLMSG_DATA(h) + NLMSG_ALIGN(sizeof(struct nfgenmsg));
	size_t len, hdr = NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct nfgenmsg)));
	const struct nlattr *a, *el, *f, *name, *data;
	uint64_t handle = 0;

	if (h->nlmsg_len < hdr)
		return;
	len = h->nlmsg_len - hdr;
	memset(regs, 0, sizeof(regs));	/* registers are per rule */
	for_each_attr(a, start, len) {
		if (ATTR_TYPE(a) == NFTA_RULE_HANDLE && ATTR_LEN(a) == 8) {
			memcpy(&handle, ATTR_DATA(a), 8);
			handle = be64toh(handle);
		}
		if (ATTR_TYPE(a) != NFTA_RULE_EXPRESSIONS)
			continue;
		for_each_attr(el, ATTR_DATA(a), ATTR_LEN(a)) {
			name = data = NULL;
			for_each_attr(f, ATTR_DATA(el), ATTR_LEN(el)) {
				if (ATTR_TYPE(f) == NFTA_EXPR_NAME)
					name = f;
				else if (ATTR_TYPE(f) == NFTA_EXPR_DATA)
					data = f;
			}
			if (!name || !data)
				continue;
			if (!strcmp(ATTR_DATA(name), "immediate"))
				note_immediate(data);
			if (!strcmp(ATTR_DATA(name), NFT_MAPE_EXPR_NAME)) {
				printf("handle %llu: ", (unsigned long long)handle);
				print_mape(data);
				putchar('\n');
			}
		}
	}
}

/* The compat "target" expression iptables-nft would send for -j MAPE. */
static void expr_xt_mape(struct msg *m, uint32_t lo, uint32_t hi, char **arg, int nargs)
{
	struct xt_mape_tginfo info = {
		.addr_min = lo,
		.addr_max = hi,
		.psid_offset = parse_u32(arg[0]),
		.psid_len = parse_u32(arg[1]),
		.psid = parse_u32(arg[2]),
		.flags = nargs > 3 ? parse_u32(arg[3]) : 0,
	};
	char buf[XT_ALIGN(sizeof(info))] = { 0 };
	struct nlattr *e, *d;

	memcpy(buf, &info, sizeof(info));
	e = nest_start(m, NFTA_LIST_ELEM);
	attr(m, NFTA_EXPR_NAME, "target", sizeof("target"));
	d = nest_start(m, NFTA_EXPR_DATA);
	attr(m, NFTA_TARGET_NAME, XT_MAPE_NAME, sizeof(XT_MAPE_NAME));
	attr_be32(m, NFTA_TARGET_REV, 0);
	attr(m, NFTA_TARGET_INFO, buf, sizeof(buf));
	nest_end(m, d);
	nest_end(m, e);
}

/* Dump CHAIN's rules; 0, or the errno the kernel answered. */
static int list_rules(int family, const char *table, const char *chain)
{
	static struct msg m;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	static char rbuf[65536];
	struct nlmsghdr *h;
	int fd;
	ssize_t n;

	h = msg_start(&m, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETRULE, NLM_F_DUMP,
		      family, 0, 1);
	attr(&m, NFTA_RULE_TABLE, table, strlen(table) + 1);
	attr(&m, NFTA_RULE_CHAIN, chain, strlen(chain) + 1);
	msg_end(&m, h);
	fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER);
	if (fd < 0)
		die("socket");
	if (sendto(fd, m.buf, m.len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("sendto");
	for (;;) {
		n = recv(fd, rbuf, sizeof(rbuf), 0);
		if (n < 0)
			die("recv");
		for (h = (struct nlmsghdr *)rbuf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				close(fd);
				return 0;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				close(fd);
				return -((struct nlmsgerr *)NLMSG_DATA(h))->error;
			}
			if ((h->nlmsg_type & 0xff) == NFT_MSG_NEWRULE)
				print_rule(h);
		}
	}
}

int main(int argc, char **argv)
{
	static struct msg m;
	struct nlattr *exprs, *e, *d;
	struct nlmsghdr *h;
	uint32_t lo, hi;
	char *dash;
	int family = NFPROTO_IPV4, opt, t, err, list = 0, xt = 0;

	while ((opt = getopt(argc, argv, "lxf:o:s:")) != -1) {
		switch (opt) {
		case 'l':
			list = 1;
			break;
		case 'x':
			xt = 1;
			break;
		case 'f':
			family = parse_family(optarg);
			break;
		case 'o':
			omit[attr_by_name(optarg)] = 1;
			break;
		case 's':
			if (!strchr(optarg, '='))
				die("-s wants ATTR=VALUE");
			*strchr(optarg, '=') = '\0';
			t = attr_by_name(optarg);
			overridden[t] = 1;
			override[t] = parse_u32(optarg + strlen(optarg) + 1);
			break;
		default:
			die("usage: mape_rule [-x | [-f FAMILY] [-o ATTR] [-s ATTR=VAL]] TABLE CHAIN ADDR[-ADDR] A K PSID [FLAGS]");
		}
	}
	if (list) {
		if (argc - optind != 2)
			die("usage: mape_rule -l [-f FAMILY] TABLE CHAIN");
		err = list_rules(family, argv[optind], argv[optind + 1]);
		if (err)
			fprintf(stderr, "mape_rule: kernel said: %s\n", strerror(err));
		return err;
	}
	if (argc - optind < 6)
		die("usage: mape_rule [-x | [-f FAMILY] [-o ATTR] [-s ATTR=VAL]] TABLE CHAIN ADDR[-ADDR] A K PSID [FLAGS]");

	dash = strchr(argv[optind + 2], '-');
	if (dash)
		*dash = '\0';
	if (inet_pton(AF_INET, argv[optind + 2], &lo) != 1 ||
	    (dash && inet_pton(AF_INET, dash + 1, &hi) != 1))
		die("bad address");
	if (!dash)
		hi = lo;

	h = msg_start(&m, NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES, 1);
	msg_end(&m, h);
	h = msg_start(&m, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE,
		      NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, family, 0, 2);
	attr(&m, NFTA_RULE_TABLE, argv[optind], strlen(argv[optind]) + 1);
	attr(&m, NFTA_RULE_CHAIN, argv[optind + 1], strlen(argv[optind + 1]) + 1);
	exprs = nest_start(&m, NFTA_RULE_EXPRESSIONS);
	if (xt) {
		expr_xt_mape(&m, lo, hi, argv + optind + 3, argc - optind - 3);
		goto done;
	}
	expr_immediate(&m, NFT_REG32_00, lo);
	if (dash)
		expr_immediate(&m, NFT_REG32_01, hi);
	e = nest_start(&m, NFTA_LIST_ELEM);
	attr(&m, NFTA_EXPR_NAME, NFT_MAPE_EXPR_NAME, sizeof(NFT_MAPE_EXPR_NAME));
	d = nest_start(&m, NFTA_EXPR_DATA);
	mape_attr(&m, NFTA_MAPE_REG_ADDR_MIN, NFT_REG32_00);
	if (dash || overridden[NFTA_MAPE_REG_ADDR_MAX])
		mape_attr(&m, NFTA_MAPE_REG_ADDR_MAX, NFT_REG32_01);
	mape_attr(&m, NFTA_MAPE_PSID_OFFSET, parse_u32(argv[optind + 3]));
	mape_attr(&m, NFTA_MAPE_PSID_LEN, parse_u32(argv[optind + 4]));
	mape_attr(&m, NFTA_MAPE_PSID, parse_u32(argv[optind + 5]));
	if (argc - optind > 6 || overridden[NFTA_MAPE_FLAGS])
		mape_attr(&m, NFTA_MAPE_FLAGS, argc - optind > 6 ? parse_u32(argv[optind + 6]) : 0);
	if (overridden[NFTA_MAPE_MAX + 1])	/* one the kernel does not know */
		attr_be32(&m, NFTA_MAPE_MAX + 1, override[NFTA_MAPE_MAX + 1]);
	nest_end(&m, d);
	nest_end(&m, e);
done:
	nest_end(&m, exprs);
	msg_end(&m, h);
	h = msg_start(&m, NFNL_MSG_BATCH_END, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES, 3);
	msg_end(&m, h);

	err = talk(&m);
	if (err)
		fprintf(stderr, "mape_rule: kernel said: %s\n", strerror(err));
	return err;
}
