#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# debug-kernel.sh: build (once) the kernel of "make check-debug": Debian's
# linux-source-6.12 with selftests/vm/debug.config (KASAN, lockdep, RCU and
# atomic-sleep checks, kmemleak, object and list debugging), and print its
# release. The VM runner boots it like any kernel unpacked under
# build/kernels/; its build tree (for the module) is build/debug-kernel/obj.
#
#   build/debug-kernel/linux-source-VER/   the unpacked source package
#   build/debug-kernel/obj/                O= build tree; .mape-key: the inputs
#                                          built, .mape-configured: configured
#   build/kernels/KVER/{boot,lib/modules}  what the VM boots
#
# A second run rebuilds nothing unless the source version or the config
# inputs (debug.config, Debian's netfilter choices, this script) changed.
# Progress goes to stderr, the release alone to stdout.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build/debug-kernel
OBJ=$OUT/obj
FRAGMENT=$ROOT/selftests/vm/debug.config
PKG=linux-source-6.12
DEPS=(bc bison flex libelf-dev libssl-dev cpio kmod xz-utils make gcc)
unset MAKEFLAGS MFLAGS MAKELEVEL

say() { echo "debug-kernel: $*" >&2; }
die() { say "$*"; exit 1; }

ensure_deps() {
	local p missing=()
	for p in "${DEPS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} = 0 ] && return
	say "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# source: the unpacked tree of the candidate linux-source-6.12, once.
source_tree() {
	local ver deb dir
	ver=$(apt-cache policy "$PKG" | sed -n 's/^ *Candidate: *//p')
	[ -n "$ver" ] && [ "$ver" != "(none)" ] || die "apt has no $PKG"
	dir=$OUT/$PKG-$ver
	if [ ! -f "$dir/Makefile" ]; then
		mkdir -p "$OUT"
		say "downloading $PKG $ver"
		(cd "$OUT" && apt-get download -qq "$PKG=$ver" 2>/dev/null) || die "apt-get download $PKG failed"
		deb=$(ls "$OUT/${PKG}_"*.deb | tail -1)
		rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
		dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards './usr/src/linux-source-6.12.tar.xz' |
			tar -xJ -C "$dir.tmp" --strip-components=1
		mv "$dir.tmp" "$dir"
		rm -f "$deb"
	fi
	echo "$dir"
}

# Debian's own netfilter, conntrack and NAT choices, from the installed
# 6.12 kernel the other VM runs use: the debug kernel then offers what the
# selftests find on Debian's.
debian_netfilter() {
	local cfg
	cfg=$(ls /boot/config-6.12.* 2>/dev/null | sort -V | tail -1)
	[ -n "$cfg" ] || die "no /boot/config-6.12.*: install a Debian 6.12 kernel (make deps)"
	grep -E '^CONFIG_(NETFILTER|NF|NFT|IP_NF|IP6_NF|IP_SET|NETFILTER_XT)[A-Z0-9_]*=' "$cfg"
}

# The symbols the run is for must survive olddefconfig's dependency checks.
check_config() {
	local s
	for s in KASAN PROVE_LOCKING PROVE_RCU DEBUG_ATOMIC_SLEEP DEBUG_KMEMLEAK \
		 DEBUG_OBJECTS_RCU_HEAD PVH NET_9P_VIRTIO 9P_FS OVERLAY_FS \
		 NF_TABLES NFT_NAT NF_CONNTRACK_FTP IP_NF_NAT VETH IPV6_TUNNEL PPPOE PPP_ASYNC \
		 NET_SCH_INGRESS NET_CLS_U32 NET_CLS_MATCHALL NET_ACT_GACT; do
		grep -qE "^CONFIG_$s=(y|m)" "$OBJ/.config" || die "CONFIG_$s did not survive olddefconfig"
	done
}

# A new .config over an old build tree: Kbuild rebuilds only what the
# changed symbols reach.
configure() {
	local src=$1
	mkdir -p "$OBJ"
	make -s -C "$src" O="$OBJ" x86_64_defconfig >&2
	make -s -C "$src" O="$OBJ" kvm_guest.config >&2
	debian_netfilter > "$OBJ/debian-netfilter.config"
	"$src/scripts/kconfig/merge_config.sh" -m -O "$OBJ" "$OBJ/.config" \
		"$OBJ/debian-netfilter.config" "$FRAGMENT" > "$OBJ/merge.log" 2>&1
	make -s -C "$src" O="$OBJ" olddefconfig >&2
	check_config
}

ensure_deps
src=$(source_tree)
key=$( { basename "$src"; cat "$FRAGMENT" "$0"; debian_netfilter; } | sha256sum | cut -d' ' -f1)
if [ "$(cat "$OBJ/.mape-key" 2>/dev/null)" != "$key" ]; then
	# an interrupted build of the same inputs resumes where it stopped
	if [ "$(cat "$OBJ/.mape-configured" 2>/dev/null)" != "$key" ]; then
		say "configuring $(basename "$src")"
		configure "$src"
		echo "$key" > "$OBJ/.mape-configured"
	fi
	start=$(date +%s)
	say "building (this takes a while: $(nproc) CPUs)"
	make -s -C "$src" O="$OBJ" -j"${JOBS:-$(nproc)}" bzImage modules > "$OBJ/build.log" 2>&1 ||
		{ tail -30 "$OBJ/build.log" >&2; die "kernel build failed, see $OBJ/build.log"; }
	kver=$(make -s -C "$src" O="$OBJ" kernelrelease)
	kroot=$ROOT/build/kernels/$kver
	rm -rf "$kroot" && mkdir -p "$kroot/boot"
	make -s -C "$src" O="$OBJ" INSTALL_MOD_PATH="$kroot" INSTALL_MOD_STRIP=1 \
		modules_install > "$OBJ/install.log" 2>&1
	cp "$OBJ/arch/x86/boot/bzImage" "$kroot/boot/vmlinuz-$kver"
	echo "$key" > "$OBJ/.mape-key"
	say "built $kver in $(( $(date +%s) - start )) s"
fi
make -s -C "$src" O="$OBJ" kernelrelease
