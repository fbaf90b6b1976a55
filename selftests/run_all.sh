#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run every kernel selftest (inside the VM) as one KTAP document: each
# script's cases nested under one line for the script. A script that fails
# without reporting a failing case gets one synthetic failing case, so the
# case counts always show the failure.
#
#   run_all.sh [SCRIPT[:ARG]...]    default: all of them, in the order below
#   run_all.sh --e2e | --no-e2e     the end-to-end scenarios, or all but them
#				    (half the time each: two VMs share it)
cd "$(dirname "$0")" || exit 1
# SCRIPT:ARG runs SCRIPT with one argument (the end-to-end scenarios).
e2e="mape_e2e.sh:v6plus mape_e2e.sh:ocn mape_e2e.sh:rfc"
all="module.sh snat_plain.sh mape_rules.sh mape_nat.sh mape_nattype.sh mape_search.sh mape_netns.sh nft_mape.sh
       xt_mape.sh:legacy xt_mape.sh:nft
       $e2e mape_pppoe.sh"
case ${1:-} in
--e2e) tests=$e2e ;;
--no-e2e) tests=$(printf '%s\n' $all | grep -vxF "$(printf '%s\n' $e2e)") ;;
*) tests=${*:-$all} ;;
esac

# MAPE_SLOW=N: a kernel N times slower (the debug kernel) gets N times the
# time per script.
limit=$((600 * ${MAPE_SLOW:-1}))

# A kernel with kmemleak (make check-debug) forgets what boot left behind
# and gets one more case after the scripts: no leak reported.
kmemleak=/sys/kernel/debug/kmemleak
[ -e /sys/kernel/debug/tracing ] || mount -t debugfs none /sys/kernel/debug 2> /dev/null
[ -w $kmemleak ] && echo clear > $kmemleak || kmemleak=

set -- $tests ${kmemleak:+kmemleak}
echo "KTAP version 1"
echo "1..$#"
n=0
failed=0
for t in $tests; do
	n=$((n + 1))
	arg=""
	case $t in *:*) arg=${t#*:} ;; esac
	t0=$SECONDS
	out=$(timeout $limit ./"${t%%:*}" $arg 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/  /'
	echo "  # $t took $((SECONDS - t0)) s (limit $limit s)"
	if [ $rc = 0 ]; then
		echo "ok $n $t"
		continue
	elif [ $rc = 4 ]; then
		echo "ok $n $t # SKIP"
		continue
	fi
	printf '%s\n' "$out" | grep -q '^not ok ' ||
		echo "  not ok 999 $t exited with status $rc"
	echo "not ok $n $t"
	failed=1
done

# After the last script, with the module unloaded, two scans: kmemleak
# reports an object only once a scan found it unreferenced and older than
# 5 s.
if [ -n "$kmemleak" ]; then
	n=$((n + 1))
	modprobe -r nf_nat_mape 2> /dev/null
	sleep 6; echo scan > $kmemleak; sleep 6; echo scan > $kmemleak
	leaks=$(grep -c '^unreferenced object' $kmemleak)
	echo "  KTAP version 1"
	echo "  1..1"
	head -60 $kmemleak | sed 's/^/  # /'
	echo "  # kmemleak: $leaks unreferenced objects"
	if [ "$leaks" = 0 ]; then
		echo "  ok 1 no_leak_after_the_suite"
		echo "ok $n kmemleak"
	else
		echo "  not ok 1 no_leak_after_the_suite"
		echo "not ok $n kmemleak"
		failed=1
	fi
fi
exit $failed
