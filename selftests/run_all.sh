#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run every kernel selftest (inside the VM) as one KTAP document: each
# script's cases nested under one line for the script. A script that fails
# without reporting a failing case gets one synthetic failing case, so the
# case counts always show the failure.
cd "$(dirname "$0")" || exit 1
# SCRIPT:ARG runs SCRIPT with one argument (the end-to-end scenarios).
tests="module.sh snat_plain.sh mape_rules.sh mape_nat.sh mape_search.sh mape_netns.sh nft_mape.sh
       xt_mape.sh:legacy xt_mape.sh:nft
       mape_e2e.sh:v6plus mape_e2e.sh:ocn mape_e2e.sh:rfc"

set -- $tests
echo "KTAP version 1"
echo "1..$#"
n=0
failed=0
for t in $tests; do
	n=$((n + 1))
	arg=""
	case $t in *:*) arg=${t#*:} ;; esac
	out=$(timeout 600 ./"${t%%:*}" $arg 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/  /'
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
exit $failed
