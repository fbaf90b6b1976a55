#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo: from a fresh Debian 12 machine to a MAP-E CE at work. Installs
# what is missing (apt, as root; scripts/deps.sh --demo: compiler,
# libxtables-dev, QEMU, busybox, nft, iptables, conntrack, kernel image and
# headers), builds the module, the iptables plugin and the tools, boots the newest kernel that has headers in QEMU and runs
# demo/guest.sh there:
# a CE, an emulated BR and a server, a few hundred connections, and a
# report of the ports they used. Exit status 0 when every flow was answered
# from a port inside the set.
#
#   demo/run.sh [MAPECALC-OPTION...] [PREFIX]
#
# PREFIX is the delegated IPv6 prefix (default 240b:10:abcd:ef00::/56, a
# v6plus line); options are mapecalc's, e.g. for a line outside its table:
#   demo/run.sh --rule-ipv6 2001:db8::/40 --rule-ipv4 192.0.2.0/24 \
#       --ea-len 16 --psid-offset 6 --br 2001:db8:ffff::1 2001:db8:12:3400::/56
# The guest's whole console is kept in build/demo/console.log.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
case "${*: -1}" in	# no IPv6 prefix last: the default one
*:*/*) ;;
*) set -- "$@" 240b:10:abcd:ef00::/56 ;;
esac
LOG=build/demo
mkdir -p "$LOG"

step() { echo "demo: $*" >&2; }

step "installing what is missing (scripts/deps.sh --demo)"
scripts/deps.sh --demo > "$LOG/deps.log" 2>&1 || { tail "$LOG/deps.log"; exit 1; }
kver=$(scripts/kernels.sh newest)
[ -n "$kver" ] || { step "no kernel headers after make deps"; exit 1; }
step "building the module for $kver and the tools"
make -s module KVER="$kver" xt selftest-tools mapecalc > "$LOG/build.log" 2>&1 ||
	{ tail -20 "$LOG/build.log"; exit 1; }
tools/mapecalc/mapecalc "$@" > /dev/null || exit 1

step "booting $kver in QEMU"
selftests/vm/run.sh --kernel "$kver" -- demo/guest.sh "$@" > "$LOG/console.log" 2>&1
rc=$?
# The report is what the guest printed from its first line on.
tr -d '\r' < "$LOG/console.log" | sed -n '/^==== nf_nat_mape demo/,/^Result /p'
if [ $rc != 0 ]; then
	grep -E '^(demo|run\.sh):|^# ' "$LOG/console.log" >&2
	step "failed ($rc); the guest's console: $LOG/console.log"
fi
exit $rc
