#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# build.sh: build an nft that knows the "mape" expression, from Debian 12's
# own nftables and libnftnl sources with the patches of this directory, into
# build/nft/sbin/nft. The system's nft and libraries are left alone:
# libnftnl and libnftables are linked statically into that one binary.
#
#   nft-expr/build.sh            fetch, patch and build what is out of date
#   nft-expr/build.sh --deps     only list the apt packages the build needs
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

# The upstream versions the patches are written against (Debian 12).
NFTNL_VERSION=1.2.4
NFT_VERSION=1.0.6

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

inputs_digest() {
	cat "$HERE/$1"/*.patch | sha256sum | cut -d' ' -f1
}

# prepare PKG VERSION: (re)create $WORK/PKG from the pristine tree when the
# patches changed, apply them and regenerate the autotools files.
prepare() {
	local pkg=$1 ver=$2 tree=$WORK/$1 digest p

	digest=$(inputs_digest "$pkg")
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
	esac
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
	local tree=$WORK/libnftnl

	cd "$tree"
	configure_once --prefix="$OUT" --enable-static --disable-shared \
		CPPFLAGS="$MAPE_CPPFLAGS"
	make -s -j"$JOBS" > make.log 2>&1 ||
		{ tail -30 make.log; die "libnftnl build failed, see $tree/make.log"; }
	if [ src/.libs/libnftnl.a -nt "$OUT/lib/libnftnl.a" ]; then
		make -s install > /dev/null
	fi
}

build_nftables() {
	local tree=$WORK/nftables

	cd "$tree"
	configure_once --prefix="$OUT" --enable-static --disable-shared \
		--disable-man-doc --disable-python --without-xtables \
		--with-json --with-cli=readline \
		PKG_CONFIG_PATH="$OUT/lib/pkgconfig" CPPFLAGS="$MAPE_CPPFLAGS"
	# make cannot see a library outside the tree change: relink by hand
	if [ -e src/nft ] && [ "$OUT/lib/libnftnl.a" -nt src/nft ]; then
		rm -f src/nft
	fi
	make -s -j"$JOBS" > make.log 2>&1 ||
		{ tail -30 make.log; die "nftables build failed, see $tree/make.log"; }
	if [ src/nft -nt "$OUT/sbin/nft" ]; then
		make -s install > /dev/null
	fi
}

ensure_deps
fetch_source libnftnl "$NFTNL_VERSION"
fetch_source nftables "$NFT_VERSION"
prepare libnftnl "$NFTNL_VERSION"
prepare nftables "$NFT_VERSION"
build_libnftnl
build_nftables
"$OUT/sbin/nft" --version > /dev/null
say "$OUT/sbin/nft is up to date"
