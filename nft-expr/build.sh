#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# build.sh: build an nft that knows the "mape" expression, from Debian's own
# nftables and libnftnl sources (Debian 12's or 13's: the release apt has)
# with the patches of this directory, into build/nft/sbin/nft. The system's
# nft and libraries are left alone: libnftnl and libnftables are linked
# statically into that one binary.
#
#   nft-expr/build.sh            fetch, patch and build what is out of date
#   nft-expr/build.sh --deps     only list the apt packages the build needs
#   NFT_VERSION=1.1.3 nft-expr/build.sh   that release, not apt's candidate
#
#   build/nft/src/<pkg>-<ver>/   pristine sources from apt-get source
#   build/nft/work/<pkg>/        patched copy, configured and built in place
#   build/nft/{include,lib}/     the static libnftnl nftables links against
#   build/nft/sbin/nft           the result
#
# Exit status: 0 built, 1 a build or patch failure, 3 the Debian sources
# could not be downloaded (some mirrors serve .dsc files but not every
# .orig tarball), which make check reports as a skip.
#
# A re-run rebuilds only what changed: a new or edited patch recreates that
# package's work tree; mape.c and include/ are linked in, so editing them
# only recompiles; a new libnftnl relinks nft.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=$ROOT/build/nft
SRC=$OUT/src
WORK=$OUT/work
JOBS=$(nproc 2>/dev/null || echo 2)
# Called from make: the outer make's flags (-n, -k, jobserver) are not ours.
unset MAKEFLAGS MFLAGS MAKELEVEL

# The upstream releases the one patch series applies to, as Debian ships
# them together (nftables:libnftnl): Debian 12, Debian 13.
RELEASES="1.0.6:1.2.4 1.1.3:1.2.9"

DEPS=(dpkg-dev patch autoconf automake libtool pkg-config make gcc bison
      flex libmnl-dev libgmp-dev libjansson-dev libreadline-dev)

say() { echo "nft-expr: $*"; }
die() { echo "nft-expr: $*" >&2; exit 1; }

if [ "${1:-}" = --deps ]; then
	echo "${DEPS[*]}"
	exit 0
fi

# --- apt: deb-src entries and build dependencies --------------------------

apt_updated=
apt_update() {
	[ -n "$apt_updated" ] && return
	apt-get update -qq
	apt_updated=1
}

have_deb_src() {
	grep -qsE '^[[:space:]]*(deb-src[[:space:]]|Types:.*deb-src)' \
		/etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources
}

# Mirror the binary entries of debian.sources as source entries, so
# apt-get source takes the same suites and mirror as apt-get install.
ensure_deb_src() {
	local from=/etc/apt/sources.list.d/debian.sources
	local to=/etc/apt/sources.list.d/nf-nat-mape-src.sources

	have_deb_src && return
	[ -r "$from" ] || die "no deb-src entry and no $from to derive one from"
	say "adding $to"
	sed 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb-src/' "$from" > "$to"
	apt_updated=	# an update made before this entry existed does not count
	apt_update
}

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

ensure_deps() {
	local p missing=()
	for p in "${DEPS[@]}"; do
		installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} = 0 ] && return
	say "installing ${missing[*]}"
	apt_update
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${missing[@]}"
}

# --- versions --------------------------------------------------------------

# The nftables release apt would install, which apt-get source brings from
# the same suite: the candidate's upstream part (no epoch, no revision).
apt_nft_version() {
	apt-cache policy nftables 2>/dev/null |
		sed -n 's/^ *Candidate: *\([0-9]*:\)\{0,1\}\([^-]*\).*/\2/p'
}

# choose_versions: NFT_VERSION (or apt's), and libnftnl's release beside it.
choose_versions() {
	local pair

	NFT_VERSION=${NFT_VERSION:-$(apt_nft_version)}
	for pair in $RELEASES; do
		[ "${pair%%:*}" = "$NFT_VERSION" ] || continue
		NFTNL_VERSION=${pair#*:}
		return
	done
	echo "nft-expr: nftables '${NFT_VERSION:-?}': the patches are for" \
	     "$(echo "$RELEASES" | sed 's/:[^ ]*//g; s/ / and /');" \
	     "set NFT_VERSION to one of them" >&2
	exit 1
}

# --- sources ---------------------------------------------------------------

# fetch_source PKG VERSION: unpack the Debian source package (Debian's own
# patches applied) as $SRC/PKG-VERSION, once.
fetch_source() {
	local pkg=$1 ver=$2 dir=$SRC/$1-$2

	[ -f "$dir/configure.ac" ] && return
	ensure_deb_src
	mkdir -p "$SRC"
	say "apt-get source $pkg"
	(cd "$SRC" && apt-get source -qq "$pkg") || {
		echo "nft-expr: apt-get source $pkg failed (can the mirror serve sources?)" >&2
		echo "nft-expr: an unpacked $pkg $ver tree placed at $dir is used as it is" >&2
		exit 3
	}
	[ -f "$dir/configure.ac" ] ||
		die "apt-get source $pkg did not give $pkg $ver in $dir:" \
		    "the patches in nft-expr/ are for $ver"
}

# --- patching --------------------------------------------------------------

# The work tree is rebuilt when the patches or the release change.
inputs_digest() {
	{ echo "$2"; cat "$HERE/$1"/*.patch; } | sha256sum | cut -d' ' -f1
}

# prepare PKG VERSION: (re)create $WORK/PKG from the pristine tree when the
# patches changed, apply them and regenerate the autotools files.
prepare() {
	local pkg=$1 ver=$2 tree=$WORK/$1 digest p

	digest=$(inputs_digest "$pkg" "$ver")
	if [ "$(cat "$tree/.nf-nat-mape-inputs" 2>/dev/null)" = "$digest" ]; then
		return
	fi
	say "preparing $pkg $ver"
	rm -rf "$tree"
	mkdir -p "$WORK"
	cp -a "$SRC/$pkg-$ver" "$tree"
	for p in "$HERE/$pkg"/*.patch; do
		patch -d "$tree" -p1 -s --batch < "$p" ||
			die "$(basename "$p") does not apply to $pkg $ver"
	done
	link_files "$pkg"
	(cd "$tree" && autoreconf -fi > autoreconf.log 2>&1) ||
		die "autoreconf failed in $tree, see autoreconf.log"
	echo "$digest" > "$tree/.nf-nat-mape-inputs"
}

# New whole files are symlinked, not copied: editing them only recompiles.
link_files() {
	case $1 in
	libnftnl) ln -sfn "$HERE/libnftnl/mape.c" "$WORK/libnftnl/src/expr/mape.c" ;;
	nftables) ln -sfn "$HERE/nftables/mape_compat.h" "$WORK/nftables/include/mape_compat.h" ;;
	esac
}

# compat_flags PKG: in PKG's work tree, the switches of libnftnl/mape.c and
# nftables/mape_compat.h, one per interface the supported releases differ in.
compat_flags() {
	case $1 in
	libnftnl)
		# 1.2.7 on: attributes checked against a policy
		defined_if nftnl_max_attr include/expr_ops.h MAPE_NFTNL_ATTR_POLICY ;;
	nftables)
		# 1.0.7 on: a protocol context per header level
		defined_if eval_proto_ctx include/proto.h MAPE_NFT_EVAL_PROTO_CTX
		# 1.1.0 on: a statement's type in the statement
		defined_if 'stmt_ops(const struct stmt' include/statement.h MAPE_NFT_STMT_TYPE ;;
	esac
}

defined_if() {
	! grep -qF "$1" "$2" || printf ' -D%s' "$3"
}

# --- building --------------------------------------------------------------

# The uapi header and the port-set arithmetic, from the one place they live.
MAPE_CPPFLAGS="-I$ROOT/include -I$ROOT/include/uapi"

# configure_once ARGS...: run ./configure unless it already ran with ARGS.
configure_once() {
	local args="$*"

	if [ -f config.status ] &&
	   [ "$(cat .nf-nat-mape-configure 2>/dev/null)" = "$args" ]; then
		return
	fi
	say "configuring $(basename "$PWD")"
	./configure -q "$@" > configure.log ||
		die "configure failed in $PWD, see config.log"
	echo "$args" > .nf-nat-mape-configure
}

build_libnftnl() {
	local tree=$WORK/libnftnl flags

	cd "$tree"
	flags="$MAPE_CPPFLAGS$(compat_flags libnftnl)"
	configure_once --prefix="$OUT" --enable-static --disable-shared \
		CPPFLAGS="$flags"
	make -s -j"$JOBS" > make.log 2>&1 ||
		{ tail -30 make.log; die "libnftnl build failed, see $tree/make.log"; }
	# cmp, not -nt: going back to a release built earlier must install it
	cmp -s src/.libs/libnftnl.a "$OUT/lib/libnftnl.a" ||
		make -s install > /dev/null
}

build_nftables() {
	local tree=$WORK/nftables flags nopy=

	cd "$tree"
	flags="$MAPE_CPPFLAGS$(compat_flags nftables)"
	# the python binding moved out of nftables' configure after 1.0.6
	if grep -q enable-python configure.ac; then
		nopy=--disable-python
	fi
	configure_once --prefix="$OUT" --enable-static --disable-shared \
		--disable-man-doc $nopy --without-xtables \
		--with-json --with-cli=readline \
		PKG_CONFIG_PATH="$OUT/lib/pkgconfig" CPPFLAGS="$flags"
	# make cannot see a library outside the tree change: relink by hand
	if [ -e src/nft ] && [ "$OUT/lib/libnftnl.a" -nt src/nft ]; then
		rm -f src/nft
	fi
	make -s -j"$JOBS" > make.log 2>&1 ||
		{ tail -30 make.log; die "nftables build failed, see $tree/make.log"; }
	cmp -s src/nft "$OUT/sbin/nft" || make -s install > /dev/null
}

choose_versions
ensure_deps
fetch_source libnftnl "$NFTNL_VERSION"
fetch_source nftables "$NFT_VERSION"
prepare libnftnl "$NFTNL_VERSION"
prepare nftables "$NFT_VERSION"
build_libnftnl
build_nftables
"$OUT/sbin/nft" --version > /dev/null
say "$OUT/sbin/nft ($NFT_VERSION, libnftnl $NFTNL_VERSION) is up to date"
