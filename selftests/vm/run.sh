#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run a command as root inside a QEMU/TCG guest booting one of the Debian
# kernels installed on this machine, with the host root filesystem as the
# guest's (read-only 9p, under a throw-away tmpfs overlay).
#
#   selftests/vm/run.sh [--kernel KVER] [--timeout SECS] [--keep] -- CMD [ARGS...]
#
# KVER is a full release (6.1.0-56-amd64) or a prefix (6.1, 6.12): the
# newest installed match wins; default: the newest installed kernel.
# CMD runs in the repository directory. Exit status: CMD's, or
#   1   CMD passed but the guest kernel log shows a splat (BUG, WARNING, ...)
#   124 the guest timed out       125 the guest died before CMD finished
# The guest console streams to stdout; --keep keeps the run directory.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
VMDIR=$REPO/selftests/vm
kernel=""
timeout=900
keep=0

usage() { sed -n '4,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	--) shift; break ;;
	-h|--help) usage ;;
	*) usage ;;
	esac
done
[ $# -gt 0 ] || usage

# shellcheck source=selftests/vm/lib.sh
. "$VMDIR/lib.sh"

kver=$(vm_resolve_kernel "$kernel") || {
	echo "run.sh: no installed kernel matches '${kernel:-any}' (make deps)" >&2
	exit 2
}
cache=$REPO/build/vm/$kver
vm_prepare "$kver" "$cache"

run=$(mktemp -d "${TMPDIR:-/tmp}/mape-vm.XXXXXX")
cleanup() { [ "$keep" = 1 ] && echo "run.sh: kept $run" >&2 || rm -rf "$run"; }
trap cleanup EXIT

{
	# an unpacked kernel's modules appear where modprobe looks for them
	kroot=$(vm_kroot "$kver")
	[ -z "$kroot" ] || printf 'ln -sfn %q /lib/modules/%q\n' "$kroot/lib/modules/$kver" "$kver"
	echo "cd $(printf '%q' "$REPO") || exit 125"
	printf '%q ' "$@"
	echo
} > "$run/cmd.sh"

echo "run.sh: booting $kver: $*" >&2
# thread=single: with one host thread per vCPU, QEMU 7.2 lets a vCPU run
# stale code while the kernel patches text (static keys, flipped at boot
# and whenever netfilter hooks come and go), seen here as "Oops: int3" in
# sched_clock_cpu. Two vCPUs on one thread are still SMP to the guest.
set +e
timeout -k 5 "$timeout" qemu-system-x86_64 \
	-M pc -accel tcg,thread=single -cpu max -smp 2 -m 2048 \
	-nodefaults -no-user-config -display none -no-reboot \
	-kernel "$cache/vmlinux" -initrd "$cache/initrd.cpio" \
	-append "console=ttyS0 loglevel=5 panic=-1 oops=panic mitigations=off rdinit=/init mape.init=$VMDIR/guest-init.sh" \
	-chardev stdio,id=con,signal=off,logfile="$run/console.log" \
	-serial chardev:con \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs local,path="$run",mount_tag=mapeout,security_model=none,multidevs=remap \
	< /dev/null
qrc=$?
set -e

if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "run.sh: guest timed out after ${timeout}s" >&2
	exit 124
fi
if [ ! -s "$run/rc" ]; then
	echo "run.sh: guest died before the command finished (qemu exit $qrc)" >&2
	vm_splats "$run/console.log" >&2 || true
	exit 125
fi
rc=$(cat "$run/rc")
if vm_splats "$run/console.log" "$run/dmesg" >&2; then
	echo "run.sh: guest kernel log shows the report above: failing the run" >&2
	[ "$rc" = 0 ] && rc=1
fi
exit "$rc"
