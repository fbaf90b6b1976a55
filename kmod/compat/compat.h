/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel API drift between the kernels nf_nat_mape builds for. The
 * MAPE_HAVE_* flags come from compat/detect.sh at build time; each choice
 * is checked below against the real struct nft_expr_ops, so a detection
 * that goes wrong fails the build instead of producing a broken module.
 */
#ifndef MAPE_COMPAT_H
#define MAPE_COMPAT_H

#include <linux/build_bug.h>
#include <net/netfilter/nf_tables.h>

#ifdef MAPE_COMPAT_NO_HEADER
#error "compat/detect.sh found no include/net/netfilter/nf_tables.h in the kernel tree"
#endif

/* Older 6.1.y (Debian's 6.1.176) took no nft_ctx; 6.1.192 and 6.12 do. */
#ifdef MAPE_HAVE_REGLOAD_CTX
#define mape_parse_register_load(ctx, attr, sreg, len) \
	nft_parse_register_load(ctx, attr, sreg, len)
#else
#define mape_parse_register_load(ctx, attr, sreg, len) \
	nft_parse_register_load(attr, sreg, len)
#endif

/* "reset" came with the reset-rule support backported to 6.1.y. */
#ifdef MAPE_HAVE_DUMP_RESET
#define MAPE_DUMP_ARGS	struct sk_buff *skb, const struct nft_expr *expr, bool reset
#else
#define MAPE_DUMP_ARGS	struct sk_buff *skb, const struct nft_expr *expr
#endif

/* The unused "data" argument was dropped from ->validate. */
#ifdef MAPE_HAVE_VALIDATE_DATA
#define MAPE_VALIDATE_ARGS \
	const struct nft_ctx *ctx, const struct nft_expr *expr, \
	const struct nft_data **data
#else
#define MAPE_VALIDATE_ARGS \
	const struct nft_ctx *ctx, const struct nft_expr *expr
#endif

/* ->reduce exists from 5.18 until its removal before 6.12. */
#ifdef MAPE_HAVE_REDUCE
#define MAPE_OPS_REDUCE		.reduce = NFT_REDUCE_READONLY,
#else
#define MAPE_OPS_REDUCE
#endif

/* mape_nat.c ties flows to their interface through the NAT extension. */
#if !IS_ENABLED(CONFIG_NF_NAT_MASQUERADE)
#error "nf_nat_mape needs CONFIG_NF_NAT_MASQUERADE (struct nf_conn_nat's masq_index)"
#endif

#define MAPE_MEMBER_TYPE(type, member)	typeof(((type *)0)->member)

static_assert(__builtin_types_compatible_p(
	MAPE_MEMBER_TYPE(struct nft_expr_ops, dump), int (*)(MAPE_DUMP_ARGS)),
	"compat: ->dump prototype detection is wrong");
static_assert(__builtin_types_compatible_p(
	MAPE_MEMBER_TYPE(struct nft_expr_ops, validate), int (*)(MAPE_VALIDATE_ARGS)),
	"compat: ->validate prototype detection is wrong");

#endif /* MAPE_COMPAT_H */
