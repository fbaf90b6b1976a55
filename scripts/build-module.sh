#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# build-module.sh KVER: build kmod/ for one kernel into build/KVER/ (a
# per-kernel directory of links, so kernels never share objects), log to
# build/KVER/build.log, and for a bootable kernel also the module index the
# VM tests copy in (depmod over the whole tree is too slow under TCG).
# build-module.sh --index KVER: only that index, for a module already in
# build/KVER/ (built by another toolchain: tests/debs/trixie.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=selftests/vm/lib.sh
. "$ROOT/selftests/vm/lib.sh"
build=1
[ "${1:-}" != --index ] || { build=0; shift; }
kver=${1:?usage: build-module.sh [--index] KVER}
out=$ROOT/build/$kver
# KDIR: a kernel build tree not installed here (scripts/debug-kernel.sh)
kdir=${KDIR:-/lib/modules/$kver/build}

if [ $build = 1 ]; then
	[ -e "$kdir/Makefile" ] || { echo "no headers for $kver in $kdir (make deps)" >&2; exit 1; }
	mkdir -p "$out"
	for f in "$ROOT"/kmod/*; do
		ln -sfn "$f" "$out/$(basename "$f")"
	done
	make -C "$kdir" M="$out" MAPE_ROOT="$ROOT" modules 2>&1 | tee "$out/build.log"
fi

kroot=$(vm_kroot "$kver") || exit 0	# not bootable here
idx=$out/modroot/lib/modules/$kver
rm -rf "$out/modroot"
mkdir -p "$idx/updates"
ln -s "$kroot/lib/modules/$kver/kernel" "$idx/kernel"
cp "$kroot/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$idx/"
cp "$out/nf_nat_mape.ko" "$idx/updates/"
depmod -b "$out/modroot" "$kver"
