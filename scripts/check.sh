#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The whole test run behind "make check": unit tests, the module build for
# every kernel with headers (zero warnings), mapecalc's tests, and the
# kernel selftests in a VM of every bootable kernel. Every case counts once;
# the last line is "N passed, N failed" and the exit status is non-zero on
# any failure.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
LOG=$ROOT/build/check
mkdir -p "$LOG"
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; }
verdict() { if [ "$2" = 0 ]; then ok "$1"; else not_ok "$1"; fi; }

# tally FILE PREFIX: count the TAP case lines that start with PREFIX.
tally() {
	local p f
	p=$(grep -cE "^$2ok " "$1" | tr -d ' ')
	p=$((p - $(grep -cE "^$2ok .*# SKIP" "$1")))
	f=$(grep -cE "^$2not ok " "$1")
	passed=$((passed + p))
	failed=$((failed + f))
	echo "# $(basename "$1"): $p passed, $f failed"
	[ "$f" = 0 ]
}

# suite NAME LOG CMD...: a test program of TAP lines and its own summary
# ("N passed, N failed", which is not the last word here): its cases count,
# and its exit status when no case says why it failed.
suite() {
	local name=$1 log=$2 rc
	shift 2
	"$@" > "$log" 2>&1
	rc=$?
	grep -v ' passed, ' "$log"
	tally "$log" "" || rc=0
	[ "$rc" = 0 ] || not_ok "$name exited with $rc"
}

# Each section says how long the one before it took (CI's budget).
SECTION_T0=$SECONDS
section() {
	echo "# (that took $((SECONDS - SECTION_T0)) s)"
	SECTION_T0=$SECONDS
	echo; echo "# ==== $* ===="
}

# vm_suites KVER[/PART]...: every selftest in a VM per kernel, side by
# side (a guest is one TCG thread and this machine has two cores); their
# logs follow each other once all are done. PART e2e or no-e2e runs that
# part of a kernel's suite (run_all.sh). MAPE_SLOW scales the time allowed.
# A whole suite took 1,000-1,100 s on 6.1 and 6.12 side by side, and
# 1,130-1,180 s on trixie-backports' 7.3 alone (run_all.sh prints each
# script's time); the timeout only bounds a hung guest.
MAPE_SLOW=1
VM_TIMEOUT=1500
vm_suites() {
	local job k part name rc
	for job; do
		k=${job%/*} part=${job#*/} name=${job//\//-}
		[ "$part" != "$job" ] || part=""
		rm -f "$LOG/vm-$name.rc"
		if [ ! -r "build/$k/modroot/lib/modules/$k/updates/nf_nat_mape.ko" ]; then
			not_ok "$job: module and index built for the VM"
			continue
		fi
		{ selftests/vm/run.sh --kernel "$k" --timeout "$VM_TIMEOUT" -- \
			env MAPE_SLOW="$MAPE_SLOW" selftests/run_all.sh ${part:+--$part} \
			> "$LOG/vm-$name.log" 2>&1
		  echo $? > "$LOG/vm-$name.rc"; } &
	done
	wait
	for job; do
		name=${job//\//-}
		[ -r "$LOG/vm-$name.rc" ] || continue
		echo "# ---- $job ----"
		cat "$LOG/vm-$name.log"
		rc=$(cat "$LOG/vm-$name.rc")
		tally "$LOG/vm-$name.log" "  "
		verdict "$job: VM suite exited 0 with a kernel log free of reports (got $rc)" $rc
	done
}

# make check-debug: the whole VM suite once more, on a kernel with KASAN,
# lockdep, kmemleak and friends (scripts/debug-kernel.sh), nothing else.
check_debug() {
	local kver rc t0=$SECONDS

	section "debug kernel"
	kver=$(scripts/debug-kernel.sh 2> "$LOG/debug-kernel.log")
	rc=$?
	grep -E '^debug-kernel: (built|building|config)' "$LOG/debug-kernel.log"
	verdict "debug kernel ${kver:-?} built or cached from Debian's linux-source-6.12 ($((SECONDS - t0)) s)" $rc
	[ $rc = 0 ] || return
	make -s selftest-tools xt > "$LOG/tools.log" 2>&1
	verdict "selftest tools and the iptables plugin build" $?
	KDIR=$ROOT/build/debug-kernel/obj scripts/build-module.sh "$kver" > "$LOG/build-$kver.log" 2>&1
	verdict "module builds for $kver" $?
	! grep -i 'warning:' "$LOG/build-$kver.log"
	verdict "module build for $kver has no warnings" $?
	section "kernel selftests on $kver"
	MAPE_SLOW=10 VM_TIMEOUT=$((6 * 3600)) vm_suites "$kver"
}

if [ "${1:-}" = --debug ]; then
	check_debug
	echo "# (that took $((SECONDS - SECTION_T0)) s; make check-debug: $SECONDS s in all)"
	echo
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
	exit
fi

section "unit tests"
make -s unit > "$LOG/unit.log" 2>&1
rc=$?
cat "$LOG/unit.log"
tally "$LOG/unit.log" "" || rc=0	# failing cases counted already
[ "$rc" = 0 ] || not_ok "unit test binary exited with $rc"

section "selftest tools"
make -s selftest-tools > "$LOG/tools.log" 2>&1
rc=$?
cat "$LOG/tools.log"
verdict "selftest tools and the bench generator build (mape_rule, flows, gen)" $rc

section "iptables plugin"
make -s xt > "$LOG/xt-build.log" 2>&1
rc=$?
cat "$LOG/xt-build.log"
verdict "the iptables plugin libxt_MAPE.so builds without warnings" $rc
suite "plugin tests" "$LOG/xt.log" tests/xt/run.sh

section "mapecalc"
suite "mapecalc tests" "$LOG/mapecalc.log" make -s -C tools/mapecalc check

section "patched nft"
# Built before the VM runs so that selftests/nft_mape.sh can use it.
nft-expr/build.sh > "$LOG/nft-build.log" 2>&1
rc=$?
tail -3 "$LOG/nft-build.log"
if [ $rc = 3 ]; then
	echo "ok - nft built # SKIP Debian's nftables/libnftnl sources are not downloadable here"
else
	verdict "nft built with the mape patches" $rc
	if [ $rc = 0 ]; then
		suite "nft tests" "$LOG/nft.log" tests/nft/run.sh
	fi
fi

section "module builds"
for k in $(scripts/kernels.sh headers); do
	make -s module KVER="$k" > "$LOG/build-$k.log" 2>&1
	rc=$?
	verdict "module builds for $k" $rc
	if [ $rc != 0 ]; then
		tail -20 "$LOG/build-$k.log"
	elif grep -i 'warning:' "$LOG/build-$k.log"; then
		not_ok "module build for $k has no warnings"
	else
		ok "module build for $k has no warnings"
	fi
done

section "kernel selftests on" $(scripts/kernels.sh boot)
vm_suites $(scripts/kernels.sh boot)

# README's first command, as a user runs it; the report is short enough to show.
section "make demo"
demo/run.sh > "$LOG/demo.log" 2>&1
rc=$?
cat "$LOG/demo.log"
verdict "make demo: every flow answered from a port inside the set (got $rc)" $rc

# What a user's "make dkms-install" does, on this machine for real (it is
# undone at the end). The same sources, built by the same DKMS, are loaded
# in each VM by the package tests below (selftests/dkms_load.sh deb); a
# DKMS registration that was here before is left alone.
section "DKMS"
if [ -n "$(scripts/dkms.sh status 2>/dev/null)" ]; then
	echo "ok - DKMS install # SKIP nf_nat_mape is already registered with DKMS here"
else
	# An interrupted run must not leave its registration behind: the next
	# make check would take it for the user's and skip this section.
	trap 'scripts/dkms.sh uninstall > /dev/null 2>&1' EXIT
	scripts/dkms.sh install > "$LOG/dkms.log" 2>&1
	rc=$?
	tail -n 5 "$LOG/dkms.log"
	verdict "make dkms-install builds and installs for every kernel with headers" $rc
	for k in $(scripts/kernels.sh headers); do
		modinfo -k "$k" -n nf_nat_mape 2>/dev/null | grep -q "/updates/dkms/"
		verdict "$k: DKMS put nf_nat_mape in updates/dkms" $?
	done
	scripts/dkms.sh uninstall > "$LOG/dkms-uninstall.log" 2>&1
	rc=$?
	trap - EXIT
	for k in $(scripts/kernels.sh headers); do
		! modinfo -k "$k" -n nf_nat_mape > /dev/null 2>&1 || rc=1
	done
	verdict "make dkms-uninstall leaves no nf_nat_mape behind" $rc
fi

# The packages as a router owner installs them (after the DKMS section has
# removed its registration), then the same on Debian 13 in a debootstrap
# root. Both print TAP lines and their own summary.
section "Debian packages"
suite "package tests" "$LOG/debs-test.log" tests/debs/run.sh

section "Debian 13 packages"
suite "Debian 13 package tests" "$LOG/trixie-test.log" tests/debs/trixie.sh

# The kernel a Debian 13 router gets from trixie-backports, unpacked and
# given the module its DKMS built in the trixie root (just above). Its
# suite alone would leave a core idle for 20 minutes: two VMs share it.
section "kernel selftests on trixie-backports' kernel"
if [ -s "$LOG/trixie-kernels" ]; then
	vm_suites $(sed '/^$/d; s|.*|&/e2e &/no-e2e|' "$LOG/trixie-kernels")
else
	not_ok "trixie-backports' kernel prepared for the VM (see the section above)"
fi

echo "# (that took $((SECONDS - SECTION_T0)) s; make check: $SECONDS s in all)"
echo
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
