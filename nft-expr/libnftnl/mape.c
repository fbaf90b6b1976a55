// SPDX-License-Identifier: GPL-2.0
/*
 * The "mape" expression of the out-of-tree nf_nat_mape module: IPv4 source
 * NAT into a MAP-E port set (RFC 7597). nft-expr/build.sh links this file
 * into libnftnl as src/expr/mape.c.
 *
 * Every attribute is a u32, so the expression keeps one array indexed by
 * the NFTNL_EXPR_MAPE_* number and one table maps those to the netlink
 * attributes of the project's uapi header, the single definition shared
 * with the kernel module.
 */

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <endian.h>
#include <errno.h>
#include <arpa/inet.h>	/* before linux/netfilter.h, which nf_nat_mape.h pulls in */

#include <linux/netfilter/nf_tables.h>
#include <nf_nat_mape.h>

#include "internal.h"
#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#define MAPE_NATTR	(__NFTNL_EXPR_MAPE_MAX - NFTNL_EXPR_BASE)

static const struct {
	uint16_t	nla;	/* NFTA_MAPE_* */
	const char	*name;	/* in the debug output */
	bool		hex;
} mape_attr[MAPE_NATTR] = {
	[NFTNL_EXPR_MAPE_REG_ADDR_MIN - NFTNL_EXPR_BASE] = {
		NFTA_MAPE_REG_ADDR_MIN,	"addr_min reg" },
	[NFTNL_EXPR_MAPE_REG_ADDR_MAX - NFTNL_EXPR_BASE] = {
		NFTA_MAPE_REG_ADDR_MAX,	"addr_max reg" },
	[NFTNL_EXPR_MAPE_PSID_OFFSET - NFTNL_EXPR_BASE] = {
		NFTA_MAPE_PSID_OFFSET,	"psid_offset" },
	[NFTNL_EXPR_MAPE_PSID_LEN - NFTNL_EXPR_BASE] = {
		NFTA_MAPE_PSID_LEN,	"psid_len" },
	[NFTNL_EXPR_MAPE_PSID - NFTNL_EXPR_BASE] = {
		NFTA_MAPE_PSID,		"psid" },
	[NFTNL_EXPR_MAPE_FLAGS - NFTNL_EXPR_BASE] = {
		NFTA_MAPE_FLAGS,	"flags", true },
};

struct nftnl_expr_mape {
	uint32_t	val[MAPE_NATTR];
};

static uint32_t *mape_slot(const struct nftnl_expr *e, uint16_t type)
{
	struct nftnl_expr_mape *mape = nftnl_expr_data(e);

	if (type < NFTNL_EXPR_BASE || type >= __NFTNL_EXPR_MAPE_MAX)
		return NULL;
	return &mape->val[type - NFTNL_EXPR_BASE];
}

static int nftnl_expr_mape_set(struct nftnl_expr *e, uint16_t type,
			       const void *data, uint32_t data_len)
{
	uint32_t *slot = mape_slot(e, type);

	if (!slot)
		return -1;
	memcpy(slot, data, sizeof(*slot));
	return 0;
}

static const void *nftnl_expr_mape_get(const struct nftnl_expr *e,
				       uint16_t type, uint32_t *data_len)
{
	uint32_t *slot = mape_slot(e, type);

	if (slot)
		*data_len = sizeof(*slot);
	return slot;
}

static int nftnl_expr_mape_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	/* attributes of a newer kernel module are skipped, not fatal */
	if (mnl_attr_type_valid(attr, NFTA_MAPE_MAX) < 0)
		return MNL_CB_OK;

	if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
		abi_breakage();

	tb[type] = attr;
	return MNL_CB_OK;
}

static void nftnl_expr_mape_build(struct nlmsghdr *nlh,
				  const struct nftnl_expr *e)
{
	struct nftnl_expr_mape *mape = nftnl_expr_data(e);
	int i;

	for (i = 0; i < MAPE_NATTR; i++) {
		if (e->flags & (1 << (NFTNL_EXPR_BASE + i)))
			mnl_attr_put_u32(nlh, mape_attr[i].nla,
					 htobe32(mape->val[i]));
	}
}

static int nftnl_expr_mape_parse(struct nftnl_expr *e, struct nlattr *attr)
{
	struct nftnl_expr_mape *mape = nftnl_expr_data(e);
	struct nlattr *tb[NFTA_MAPE_MAX + 1] = {};
	int i;

	if (mnl_attr_parse_nested(attr, nftnl_expr_mape_cb, tb) < 0)
		return -1;

	for (i = 0; i < MAPE_NATTR; i++) {
		if (!tb[mape_attr[i].nla])
			continue;
		mape->val[i] = be32toh(mnl_attr_get_u32(tb[mape_attr[i].nla]));
		e->flags |= (1 << (NFTNL_EXPR_BASE + i));
	}
	return 0;
}

static int nftnl_expr_mape_snprintf(char *buf, size_t remain,
				    uint32_t flags, const struct nftnl_expr *e)
{
	struct nftnl_expr_mape *mape = nftnl_expr_data(e);
	int offset = 0, ret, i;

	for (i = 0; i < MAPE_NATTR; i++) {
		if (!(e->flags & (1 << (NFTNL_EXPR_BASE + i))))
			continue;
		ret = snprintf(buf + offset, remain,
			       mape_attr[i].hex ? "%s 0x%x " : "%s %u ",
			       mape_attr[i].name, mape->val[i]);
		SNPRINTF_BUFFER_SIZE(ret, remain, offset);
	}
	return offset;
}

/*
 * libnftnl 1.2.7 on checks attributes in nftnl_expr_set() itself: numbers
 * up to nftnl_max_attr, lengths up to the policy's (and none without a
 * policy). build.sh defines MAPE_NFTNL_ATTR_POLICY when the tree's
 * expr_ops.h has them; earlier trees take the netlink maximum instead.
 */
#ifdef MAPE_NFTNL_ATTR_POLICY
static struct attr_policy mape_attr_policy[__NFTNL_EXPR_MAPE_MAX] = {
	[NFTNL_EXPR_MAPE_REG_ADDR_MIN ... NFTNL_EXPR_MAPE_FLAGS] = {
		.maxlen = sizeof(uint32_t) },
};
#define MAPE_OPS_LIMITS	.nftnl_max_attr = __NFTNL_EXPR_MAPE_MAX - 1, \
			.attr_policy = mape_attr_policy
#else
#define MAPE_OPS_LIMITS	.max_attr = NFTA_MAPE_MAX
#endif

struct expr_ops expr_ops_mape = {
	.name		= NFT_MAPE_EXPR_NAME,
	.alloc_len	= sizeof(struct nftnl_expr_mape),
	MAPE_OPS_LIMITS,
	.set		= nftnl_expr_mape_set,
	.get		= nftnl_expr_mape_get,
	.parse		= nftnl_expr_mape_parse,
	.build		= nftnl_expr_mape_build,
	.output		= nftnl_expr_mape_snprintf,
};
