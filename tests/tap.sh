# SPDX-License-Identifier: GPL-2.0
# TAP for the userspace test programs under tests/ (sourced): numbered
# cases, then from finish the plan, the summary "N passed, N failed" that
# scripts/check.sh reads, and the exit status.
n=0 passed=0 failed=0

ok() { n=$((n + 1)) passed=$((passed + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)) failed=$((failed + 1)); echo "not ok $n - $1"; }
verdict() { if [ "$2" = 0 ]; then ok "$1"; else not_ok "$1"; fi; }
finish() { echo "1..$n"; echo "$passed passed, $failed failed"; [ "$failed" = 0 ]; exit; }
