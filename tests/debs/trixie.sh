#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The packages on Debian 13: a trixie root made with debootstrap builds
# them with its own toolchain (make debs, trixie's lintian), installs them
# with its apt, and its DKMS builds the module for the 6.12 kernel the VM
# boots (that kernel's headers are bound in read-only; Debian's 6.12 headers
# want gcc-12, which trixie has). Then the 6.12 VM runs a CE from that root
# (chroot): trixie's mapecalc, iptables 1.8.11 and plugin, the module DKMS
# built there. The root also has the headers of the kernels a Debian 13
# router runs, its own 6.12 and trixie-backports' newest: its DKMS must
# build the module for both, and the backports kernel, unpacked from its
# packages into build/kernels (not installed here), gets the module for
# scripts/check.sh to run every selftest on it (listed in
# build/check/trixie-kernels). TAP lines, then "N passed, N failed".
#
#   tests/debs/trixie.sh [ROOTFS]   (default build/trixie, kept for reruns)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
R=$(realpath -m "${1:-$ROOT/build/trixie}")
LOG=$ROOT/build/check
MIRROR=${MIRROR:-http://deb.debian.org/debian}
VERSION=$(scripts/version.sh)
PKGS="build-essential gcc-12 dwarves debhelper dh-dkms dkms libxtables-dev
      libcmocka-dev pkgconf iptables kmod lintian"
mkdir -p "$LOG"
rm -f "$LOG/trixie-kernels"
# shellcheck source=tests/tap.sh
. "$ROOT/tests/tap.sh"

K=$(scripts/kernels.sh boot | grep -m1 '^6\.12\.')
[ -n "$K" ] || { not_ok "a 6.12 kernel to build for and boot (make deps)"; finish; }
KBASE=${K%-amd64}

# in_root CMD...: CMD in the trixie root, with /proc, /dev and the 6.12
# headers (read-only) mounted in a mount namespace of its own, so that
# nothing stays mounted whatever happens.
in_root() {
	unshare -m bash -e -c '
		R=$1 K=$2 KB=$3; shift 3
		mount -t proc proc "$R/proc"
		mount --rbind /dev "$R/dev"
		for d in /usr/src/linux-headers-$K /usr/src/linux-headers-$KB-common \
			 /usr/lib/linux-kbuild-$KB; do
			mkdir -p "$R$d"
			mount --bind "$d" "$R$d"
			mount -o remount,bind,ro "$R$d"
		done
		exec chroot "$R" "$@"' in_root "$R" "$K" "$KBASE" "$@"
}

# A minimal trixie, then what building and running need, from its apt
# (again when the list below or a kernel changes). The 6.12 headers of
# the VM's kernel come from the host: what they need to run comes from
# trixie (gcc-12, pahole). DKMS builds for every kernel with headers.
make_root() {
	local want
	if [ ! -e "$R/.debootstrapped" ]; then
		rm -rf "$R"
		debootstrap --variant=minbase trixie "$R" "$MIRROR" &&
		touch "$R/.debootstrapped" || return 1
	fi
	mkdir -p "$R/etc/dkms/framework.conf.d" &&
	echo 'autoinstall_all_kernels="yes"' > "$R/etc/dkms/framework.conf.d/all-kernels.conf" &&
	echo "deb $MIRROR trixie-backports main" > "$R/etc/apt/sources.list.d/backports.list" &&
	in_root apt-get update -qq || return 1
	K13=$(debian_kernel trixie) && KBPO=$(debian_kernel trixie-backports) || return 1
	want="$(echo $PKGS) $K13 $KBPO"
	[ "$(cat "$R/.ready" 2>/dev/null)" = "$want" ] && return 0
	in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		$PKGS "linux-headers-$K13" "linux-headers-$KBPO" &&
	echo "$want" > "$R/.ready"
}

# debian_kernel SUITE: the release linux-headers-amd64 stands for there.
debian_kernel() {
	in_root apt-cache depends "linux-headers-amd64/$1" |
		sed -n 's/^ *Depends: linux-headers-\([0-9].*-amd64\)$/\1/p' | grep -m1 .
}

# unpack_kernel KVER: its image and modules from its packages (7.x: the
# linux-binary/-modules split; earlier: linux-image) into
# build/kernels/KVER/boot and lib/modules, indexed, for the VM runner
# (linux-base has the module lists depmod reads).
unpack_kernel() {
	local k=$1 d=$ROOT/build/kernels/$1 deb
	rm -rf "$d" "$R/out/kernel" && mkdir -p "$R/out/kernel" "$d/boot" "$d/lib/modules" &&
	in_root sh -c "cd /out/kernel && { apt-get download -qq linux-base-$k linux-binary-$k linux-modules-$k ||
		apt-get download -qq linux-image-$k; }" || return 1
	for deb in "$R"/out/kernel/*.deb; do
		dpkg-deb -x "$deb" "$d/unpacked" || return 1
	done
	mv "$(find "$d/unpacked" -type d -path "*/modules/$k" | head -n 1)" "$d/lib/modules/" &&
	mv "$(find "$d/unpacked" "$d/lib/modules/$k" -name "vmlinuz*" | head -n 1)" "$d/boot/vmlinuz-$k" &&
	rm -rf "$d/unpacked" && depmod -b "$d" "$k"
}

# The kernel's module directory as DKMS wants it: a build link to the
# bound headers and the index files depmod reads.
prepare_kernel_dir() {
	local m=$R/lib/modules/$K
	mkdir -p "$m" &&
	ln -sfn "/usr/src/linux-headers-$K" "$m/build" &&
	cp /lib/modules/"$K"/modules.{order,builtin,builtin.modinfo} "$m/"
}

echo "# trixie root in $R from $MIRROR"
make_root > "$LOG/trixie-root.log" 2>&1
rc=$?
[ $rc = 0 ] || tail -20 "$LOG/trixie-root.log"
verdict "debootstrap trixie and apt install the build tools there" $rc
[ $rc = 0 ] || finish
echo "# $(in_root sh -c '. /etc/os-release; echo "$PRETTY_NAME"'), $(in_root iptables --version)"
echo "# Debian 13's kernel $K13, trixie-backports' newest $KBPO"

# a fresh copy of the sources, as make debs copies them
rm -rf "$R/src" "$R/out"
mkdir -p "$R/src"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$R/src"
in_root sh -c 'cd /src && scripts/debs.sh /out' > "$LOG/trixie-debs.log" 2>&1
rc=$?
grep -E '^(debs.sh|[EWIPXO]: |\./)' "$LOG/trixie-debs.log"
[ $rc = 0 ] || tail -20 "$LOG/trixie-debs.log"
verdict "trixie: make debs with its debhelper, dh-dkms and lintian (pedantic: nothing)" $rc
[ $rc = 0 ] || finish

# an earlier run's packages go first: this is a fresh install each time
in_root apt-get purge -y nf-nat-mape-dkms nf-nat-mape-tools > /dev/null 2>&1
prepare_kernel_dir &&
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	/out/nf-nat-mape-dkms_"${VERSION}"_all.deb /out/nf-nat-mape-tools_"${VERSION}"_amd64.deb \
	> "$LOG/trixie-install.log" 2>&1
rc=$?
grep -E '^(Building for|Setting up nf|E:)' "$LOG/trixie-install.log"
verdict "trixie: apt install ./nf-nat-mape-dkms_${VERSION}_all.deb ./nf-nat-mape-tools_${VERSION}_amd64.deb" $rc
for k in "$K" "$K13" "$KBPO"; do
	ls "$R/lib/modules/$k/updates/dkms/"nf_nat_mape.ko* > /dev/null 2>&1
	verdict "trixie: its DKMS built nf_nat_mape for $k" $?
done
for k in "$K13" "$KBPO"; do
	! grep -i 'warning:' "$R/var/lib/dkms/nf_nat_mape/$VERSION/$k/x86_64/log/make.log"
	verdict "trixie: the DKMS build for $k (gcc $(in_root gcc -dumpversion)) has no warnings" $?
done

# The backports kernel for the VM, with the module its DKMS built.
unpack_kernel "$KBPO" > "$LOG/trixie-kernel.log" 2>&1 &&
mkdir -p "build/$KBPO" && cp "$R/lib/modules/$KBPO/updates/dkms/nf_nat_mape.ko" "build/$KBPO/" &&
scripts/build-module.sh --index "$KBPO" >> "$LOG/trixie-kernel.log" 2>&1 &&
echo "$KBPO" > "$LOG/trixie-kernels"
rc=$?
[ $rc = 0 ] || tail -5 "$LOG/trixie-kernel.log"
verdict "$KBPO unpacked into build/kernels for the VM, with that module and its index" $rc

selftests/vm/run.sh --kernel "$K" -- selftests/dkms_load.sh root "$R" > "$LOG/trixie-vm.log" 2>&1
rc=$?
grep -E '^(ok|not ok|#) ' "$LOG/trixie-vm.log"
verdict "$K: a CE run from the trixie root passes traffic, kernel log clean (got $rc)" $rc
finish
