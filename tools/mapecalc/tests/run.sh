#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make check: the cmocka unit tests and the command-line tests, both TAP.
# Prints each case, then "N passed, N failed"; exits 1 on any failure.
cd "$(dirname "$0")/.." || exit 1
log=$(mktemp) || exit 1
trap 'rm -f "$log"' EXIT
rc=0

echo "# unit tests (tests/lib_test)"
CMOCKA_MESSAGE_OUTPUT=TAP tests/lib_test jp-mape-rules.csv > "$log" 2>&1 || rc=1
cat "$log"
p=$(grep -c '^ok ' "$log")
f=$(grep -c '^not ok ' "$log")

echo "# command-line tests (tests/cli_test.sh)"
sh tests/cli_test.sh ./mapecalc > "$log" 2>&1 || rc=1
cat "$log"
p=$((p + $(grep -c '^ok ' "$log")))
f=$((f + $(grep -c '^not ok ' "$log")))

# a crash before any TAP line must fail too
[ "$rc" = 0 ] || [ "$f" -gt 0 ] || f=$((f + 1))
echo "$p passed, $f failed"
[ "$rc" = 0 ] && [ "$f" = 0 ]
