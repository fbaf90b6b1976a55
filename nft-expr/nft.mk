# SPDX-License-Identifier: GPL-2.0
# nft that knows "snat to ADDR:mape a/k/psid": Debian's nftables and
# libnftnl (12's or 13's) with the patches of nft-expr/, built by nft-expr/build.sh.
# Included by the top-level Makefile (paths are relative to the top).
#
#   make nft          build/nft/sbin/nft (apt-get source and build deps on first use)
#   make nft-check    tests/nft/run.sh: syntax, errors, netlink, listing (root)
#
# NFT_BUILD_DEPS: the apt packages the build needs; build.sh holds the list
# and installs what is missing itself.

NFT_BUILD_DEPS := $(shell nft-expr/build.sh --deps)
NFT_BIN := build/nft/sbin/nft
NFT_INPUTS := $(wildcard nft-expr/build.sh nft-expr/libnftnl/* \
			 nft-expr/nftables/* include/*.h include/uapi/*.h)

.PHONY: nft nft-check

nft: $(NFT_BIN)

# build.sh decides what is out of date inside; the touch keeps make from
# calling it again when an input changed nothing in the binary.
$(NFT_BIN): $(NFT_INPUTS)
	nft-expr/build.sh
	@touch $@

nft-check: nft
	tests/nft/run.sh
