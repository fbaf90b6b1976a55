// SPDX-License-Identifier: GPL-2.0
/*
 * libxt_MAPE: the iptables side of the xtables target MAPE (nf_nat_mape).
 *
 *   iptables -t nat -A POSTROUTING -o mape0 -j MAPE \
 *	--to-source ADDR[-ADDR] --psid a/k/psid [--random|--random-fully] [--persistent]
 *	[--fullcone]
 *   iptables -t nat -A PREROUTING -i mape0 -j MAPE \
 *	--to-source ADDR[-ADDR] --psid a/k/psid --fullcone
 *
 * The port-set checks are include/mape_portset.h's, the payload is
 * include/uapi/nf_nat_mape.h's: the kernel refuses what this refuses, with
 * the same words. A bad value ends iptables with status 2 and a message
 * naming the option before anything reaches the kernel.
 *
 * xlate prints the rule in the syntax of the nft that nft-expr/ builds,
 * "snat to ADDR:mape a/k/psid": Debian's nft shows an iptables-nft rule
 * through it. Stock nft refuses that text when read back (at ":mape"),
 * which is the honest outcome for a rule it cannot express; save such a
 * ruleset with iptables-save, not with "nft list ruleset".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xtables.h>

#include "mape_portset.h"
#include "nf_nat_mape.h"

enum {
	O_TO_SRC = 0,
	O_PSID,
	O_RANDOM,
	O_RANDOM_FULLY,
	O_PERSISTENT,
	O_FULLCONE,
};

static void mape_help(void)
{
	printf(
"MAPE target options (source NAT into a MAP-E port set, RFC 7597):\n"
"  --to-source ADDR[-ADDR]   IPv4 address (or range) to translate to\n"
"  --psid A/K/PSID           PSID offset, PSID length and PSID of the set\n"
"  --random                  no original port kept, even one in the set\n"
"  --random-fully            the same (both flags are kept as given)\n"
"  --persistent              one address per source, not per flow\n"
"  --fullcone                UDP: endpoint-independent filtering; in POSTROUTING\n"
"                            the rule notes each endpoint's mapping, in PREROUTING\n"
"                            (same --psid) it delivers inbound flows to it\n");
}

static const struct xt_option_entry mape_opts[] = {
	{ .name = "to-source", .id = O_TO_SRC, .type = XTTYPE_STRING,
	  .flags = XTOPT_MAND },
	{ .name = "psid", .id = O_PSID, .type = XTTYPE_STRING, .flags = XTOPT_MAND },
	{ .name = "random", .id = O_RANDOM, .type = XTTYPE_NONE },
	{ .name = "random-fully", .id = O_RANDOM_FULLY, .type = XTTYPE_NONE },
	{ .name = "persistent", .id = O_PERSISTENT, .type = XTTYPE_NONE },
	{ .name = "fullcone", .id = O_FULLCONE, .type = XTTYPE_NONE },
	XTOPT_TABLEEND,
};

static __attribute__((noreturn)) void mape_bad(const char *opt, const char *arg,
					       const char *why)
{
	xtables_error(PARAMETER_PROBLEM, "MAPE: --%s \"%s\": %s", opt, arg, why);
}

/* Dotted quads only: inet_aton's "192.0.2" would be 192.0.0.2. */
static __be32 mape_parse_addr(const char *s, const char *whole)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		mape_bad("to-source", whole, "not an IPv4 address (ADDR or ADDR-ADDR, no port)");
	return a.s_addr;
}

static void mape_parse_to(struct xt_mape_tginfo *info, const char *arg)
{
	char *s = xtables_strdup(arg), *dash = strchr(s, '-');

	if (dash)
		*dash = '\0';
	info->addr_min = mape_parse_addr(s, arg);
	info->addr_max = dash ? mape_parse_addr(dash + 1, arg) : info->addr_min;
	free(s);
	if (ntohl(info->addr_min) > ntohl(info->addr_max))
		mape_bad("to-source", arg, "the range is reversed");
}

/* One decimal number ending at @end (or the string's end when NULL). */
static uint32_t mape_parse_num(const char *s, const char *end, const char *arg)
{
	unsigned long long v;
	char *stop;

	if (*s < '0' || *s > '9')
		mape_bad("psid", arg, "expected A/K/PSID, three decimal numbers");
	errno = 0;
	v = strtoull(s, &stop, 10);
	if (errno || v > UINT32_MAX || (end ? stop != end : *stop != '\0'))
		mape_bad("psid", arg, "expected A/K/PSID, three decimal numbers");
	return (uint32_t)v;
}

static void mape_parse_psid(struct xt_mape_tginfo *info, const char *arg)
{
	const char *s1 = strchr(arg, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
	struct mape_portset ps;
	int err;

	if (!s2)
		mape_bad("psid", arg, "expected A/K/PSID, three decimal numbers");
	info->psid_offset = mape_parse_num(arg, s1, arg);
	info->psid_len = mape_parse_num(s1 + 1, s2, arg);
	info->psid = mape_parse_num(s2 + 1, NULL, arg);
	err = mape_portset_init(&ps, info->psid_offset, info->psid_len, info->psid);
	if (err != MAPE_OK)
		mape_bad("psid", arg, mape_portset_strerror(err));
}

static void mape_parse(struct xt_option_call *cb)
{
	struct xt_mape_tginfo *info = cb->data;

	xtables_option_parse(cb);
	switch (cb->entry->id) {
	case O_TO_SRC:
		mape_parse_to(info, cb->arg);
		break;
	case O_PSID:
		mape_parse_psid(info, cb->arg);
		break;
	case O_RANDOM:
		info->flags |= NF_NAT_RANGE_PROTO_RANDOM;
		break;
	case O_RANDOM_FULLY:
		info->flags |= NF_NAT_RANGE_PROTO_RANDOM_FULLY;
		break;
	case O_PERSISTENT:
		info->flags |= NF_NAT_RANGE_PERSISTENT;
		break;
	case O_FULLCONE:
		info->flags |= NFT_MAPE_F_FULLCONE;
		break;
	}
}

/* One writer for print, save and xlate: they differ in words only. */
enum { W_RANDOM, W_FULLY, W_PERSISTENT, W_FULLCONE, W_FLAGS };

struct mape_words {
	const char *to, *range, *psid, *flag[W_FLAGS], *sep;
};

/* The flags in the order all three write them. */
static const uint32_t mape_flag_bits[W_FLAGS] = {
	[W_RANDOM]	= NF_NAT_RANGE_PROTO_RANDOM,
	[W_FULLY]	= NF_NAT_RANGE_PROTO_RANDOM_FULLY,
	[W_PERSISTENT]	= NF_NAT_RANGE_PERSISTENT,
	[W_FULLCONE]	= NFT_MAPE_F_FULLCONE,
};

static const struct mape_words print_words = {
	" to:", "-", " psid:",
	{ " random", " random-fully", " persistent", " fullcone" }, "",
};
static const struct mape_words save_words = {
	" --to-source ", "-", " --psid ",
	{ " --random", " --random-fully", " --persistent", " --fullcone" }, "",
};
static const struct mape_words xlate_words = {
	"snat to ", "-", ":mape ",
	{ "random", "fully-random", "persistent", "fullcone" }, ",",
};

static void mape_write(const struct xt_mape_tginfo *info, const struct mape_words *w,
		       void (*out)(void *ctx, const char *fmt, ...), void *ctx)
{
	struct in_addr a = { .s_addr = info->addr_min };
	const char *sep = w == &xlate_words ? " " : "";
	int i;

	out(ctx, "%s%s", w->to, xtables_ipaddr_to_numeric(&a));
	if (info->addr_max != info->addr_min) {
		a.s_addr = info->addr_max;
		out(ctx, "%s%s", w->range, xtables_ipaddr_to_numeric(&a));
	}
	out(ctx, "%s%u/%u/%u", w->psid, info->psid_offset, info->psid_len, info->psid);
	for (i = 0; i < W_FLAGS; i++) {
		if (!(info->flags & mape_flag_bits[i]))
			continue;
		out(ctx, "%s%s", sep, w->flag[i]);
		sep = w->sep;
	}
}

static void mape_out_stdout(void *ctx, const char *fmt, ...)
{
	va_list ap;

	(void)ctx;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

static void mape_out_xlate(void *ctx, const char *fmt, ...)
{
	char buf[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	xt_xlate_add(ctx, "%s", buf);
}

static void mape_print(const void *ip, const struct xt_entry_target *target, int numeric)
{
	(void)ip;
	(void)numeric;
	mape_write((const void *)target->data, &print_words, mape_out_stdout, NULL);
}

static void mape_save(const void *ip, const struct xt_entry_target *target)
{
	(void)ip;
	mape_write((const void *)target->data, &save_words, mape_out_stdout, NULL);
}

static int mape_xlate(struct xt_xlate *xl, const struct xt_xlate_tg_params *params)
{
	mape_write((const void *)params->target->data, &xlate_words, mape_out_xlate, xl);
	return 1;
}

static struct xtables_target mape_tg_reg = {
	.name		= XT_MAPE_NAME,
	.revision	= 0,
	.version	= XTABLES_VERSION,
	.family		= NFPROTO_IPV4,
	.size		= XT_ALIGN(sizeof(struct xt_mape_tginfo)),
	.userspacesize	= offsetof(struct xt_mape_tginfo, rule),
	.help		= mape_help,
	.x6_parse	= mape_parse,
	.x6_options	= mape_opts,
	.print		= mape_print,
	.save		= mape_save,
	.xlate		= mape_xlate,
};

static void __attribute__((constructor)) mape_init(void)
{
	xtables_register_target(&mape_tg_reg);
}
