/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the patches need that differs between the nftables releases they
 * apply to (1.0.6 of Debian 12, 1.1.3 of Debian 13). build.sh looks for
 * each interface in the tree and defines the MAPE_NFT_* switch; the
 * patches use only the names below. Linked into the tree's include/.
 */
#ifndef MAPE_COMPAT_H
#define MAPE_COMPAT_H

/*
 * 1.0.7 on: a protocol context per header level (eval_proto_ctx()), and
 * the NAT family passed by reference to stmt_evaluate_addr().
 */
#ifdef MAPE_NFT_EVAL_PROTO_CTX
#define mape_table_family(ctx)		(eval_proto_ctx(ctx)->family)
#define mape_nat_family_arg(stmt)	(&(stmt)->nat.family)
#else
#define mape_table_family(ctx)		((ctx)->pctx.family)
#define mape_nat_family_arg(stmt)	((stmt)->nat.family)
#endif

/*
 * 1.1.0 on: a statement carries its type; its ops are looked up from it.
 * The optimizer's placeholder for what it cannot merge is a statement of
 * type STMT_INVALID (before: one with optimize.c's unsupported_stmt_ops).
 */
#ifdef MAPE_NFT_STMT_TYPE
#define mape_stmt_type(stmt)		((stmt)->type)
#define mape_stmt_ops(stmt)		stmt_ops(stmt)
#define mape_stmt_unsupported(stmt)	((stmt)->type = STMT_INVALID)
#else
#define mape_stmt_type(stmt)		((stmt)->ops->type)
#define mape_stmt_ops(stmt)		((stmt)->ops)
#define mape_stmt_unsupported(stmt)	((stmt)->ops = &unsupported_stmt_ops)
#endif

#endif
