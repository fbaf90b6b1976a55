#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Print the -D flags that describe the nf_tables API of the kernel tree $1.
# Version numbers cannot tell these apart (Debian's 6.1.176 and 6.1.192
# differ), so look at the prototypes themselves, whitespace folded.
hdr="$1/include/net/netfilter/nf_tables.h"
if [ ! -r "$hdr" ]; then
	echo "-DMAPE_COMPAT_NO_HEADER"
	exit 0
fi
flat=$(tr -s ' \t\n' ' ' < "$hdr")
has() { case "$flat" in *"$1"*) return 0 ;; esac; return 1; }

has 'int nft_parse_register_load(const struct nft_ctx *ctx,' &&
	printf ' -DMAPE_HAVE_REGLOAD_CTX'
has 'int (*dump)(struct sk_buff *skb, const struct nft_expr *expr, bool reset);' &&
	printf ' -DMAPE_HAVE_DUMP_RESET'
has 'int (*validate)(const struct nft_ctx *ctx, const struct nft_expr *expr, const struct nft_data **data);' &&
	printf ' -DMAPE_HAVE_VALIDATE_DATA'
has 'bool (*reduce)(struct nft_regs_track *track,' &&
	printf ' -DMAPE_HAVE_REDUCE'
echo
