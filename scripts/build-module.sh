#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# build-module.sh KVER: build kmod/ for one kernel into build/KVER/ (a
# per-kernel directory of links, so kernels never share objects), log to
# build/KVER/build.log, and for a bootable kernel also the module index the
# VM tests copy in (depmod over the whole tree is too slow under TCG).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
kver=${1:?usage: build-module.sh KVER}
out=$ROOT/build/$kver
kdir=/lib/modules/$kver/build

[ -e "$kdir/Makefile" ] || { echo "no headers for $kver in $kdir (make deps)" >&2; exit 1; }
mkdir -p "$out"
for f in "$ROOT"/kmod/*; do
	ln -sfn "$f" "$out/$(basename "$f")"
done
make -C "$kdir" M="$out" MAPE_ROOT="$ROOT" modules 2>&1 | tee "$out/build.log"

[ -d "/lib/modules/$kver/kernel" ] || exit 0
idx=$out/modroot/lib/modules/$kver
rm -rf "$out/modroot"
mkdir -p "$idx/updates"
ln -s "/lib/modules/$kver/kernel" "$idx/kernel"
cp /lib/modules/"$kver"/modules.{order,builtin,builtin.modinfo} "$idx/"
cp "$out/nf_nat_mape.ko" "$idx/updates/"
depmod -b "$out/modroot" "$kver"
