#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The iptables plugin without a kernel: Debian's iptables-translate loads
# build/xtables/libxt_MAPE.so and runs its parser and xlate; every bad value
# must end iptables with status 2 and a message naming the option and the
# value. TAP output; the kernel side is selftests/xt_mape.sh's.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export XTABLES_LIBDIR=$ROOT/build/xtables:$(pkg-config --variable=xtlibdir xtables 2>/dev/null ||
	echo /usr/lib/x86_64-linux-gnu/xtables)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# shellcheck source=tests/tap.sh
. "$ROOT/tests/tap.sh"

check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# xlate WANT ARGS...: iptables-translate prints WANT for -j MAPE ARGS.
xlate() {
	local want=$1 got
	shift
	got=$(iptables-translate -t nat -A POSTROUTING -o mape0 -j MAPE "$@" 2>&1)
	[ "$got" = "nft 'add rule ip nat POSTROUTING oifname \"mape0\" counter $want'" ] ||
		{ echo "# got: $got"; return 1; }
}

# refused MESSAGE ARGS...: status 2 and MESSAGE on stderr.
refused() {
	local want=$1 rc
	shift
	iptables-translate -t nat -A POSTROUTING -j MAPE "$@" > "$TMP/out" 2> "$TMP/err"
	rc=$?
	[ "$rc" = 2 ] && grep -qF -- "$want" "$TMP/err" ||
		{ echo "# status $rc:"; sed 's/^/# /' "$TMP/err"; return 1; }
}

if ! command -v iptables-translate > /dev/null || [ ! -r "$ROOT/build/xtables/libxt_MAPE.so" ]; then
	echo "1..1"
	echo "ok 1 - iptables plugin # SKIP no iptables-translate or no build/xtables (make deps xt)"
	exit 0
fi

check "xlate: one address" xlate "snat to 192.0.2.1:mape 4/8/20" \
	--to-source 192.0.2.1 --psid 4/8/20
check "xlate: a range and every flag" \
	xlate "snat to 192.0.2.1-192.0.2.4:mape 6/6/41 random,fully-random,persistent,fullcone" \
	--to-source 192.0.2.1-192.0.2.4 --psid 6/6/41 --random --random-fully --persistent --fullcone
check "xlate: fullcone" xlate "snat to 192.0.2.1:mape 4/8/20 fullcone" \
	--to-source 192.0.2.1 --psid 4/8/20 --fullcone
check "help names every option" eval \
	'iptables -j MAPE -h 2>/dev/null | grep -q -- "--to-source ADDR\[-ADDR\]" &&
	 iptables -j MAPE -h 2>/dev/null | grep -q -- "--psid A/K/PSID"'

check "psid 4/13/0: offset + length" refused \
	'MAPE: --psid "4/13/0": PSID offset + PSID length exceed 16 bits' --to-source 192.0.2.1 --psid 4/13/0
check "psid 16/0/0: offset" refused \
	'MAPE: --psid "16/0/0": PSID offset must be 0..15' --to-source 192.0.2.1 --psid 16/0/0
check "psid 0/17/0: length" refused \
	'MAPE: --psid "0/17/0": PSID length must be 0..16' --to-source 192.0.2.1 --psid 0/17/0
check "psid 4/8/256: PSID too big" refused \
	'MAPE: --psid "4/8/256": PSID does not fit in PSID length bits' --to-source 192.0.2.1 --psid 4/8/256
check "psid 0/6/0: empty set" refused \
	'MAPE: --psid "0/6/0": port set is empty' --to-source 192.0.2.1 --psid 0/6/0
for bad in 4/8 4/8/20/1 x/8/20 4//20 -1/8/20 4/8/20x 4/8/99999999999 " 4/8/20" ""; do
	check "psid \"$bad\": not A/K/PSID" refused \
		"MAPE: --psid \"$bad\": expected A/K/PSID, three decimal numbers" \
		--to-source 192.0.2.1 --psid "$bad"
done
for bad in 192.0.2.1:80 192.0.2 192.0.2.1- -192.0.2.1 example.org 192.0.2.1/24; do
	check "to-source \"$bad\": not an address" refused \
		"MAPE: --to-source \"$bad\": not an IPv4 address" --to-source "$bad" --psid 4/8/20
done
check "to-source reversed range" refused \
	'MAPE: --to-source "192.0.2.9-192.0.2.1": the range is reversed' \
	--to-source 192.0.2.9-192.0.2.1 --psid 4/8/20
check "psid is required" refused 'MAPE: option "--psid" must be specified' --to-source 192.0.2.1
check "to-source is required" refused 'MAPE: option "--to-source" must be specified' --psid 4/8/20
check "psid once only" refused 'MAPE: option "--psid" can only be used once' \
	--to-source 192.0.2.1 --psid 4/8/20 --psid 4/8/21

if command -v groff > /dev/null 2>&1; then
	check "man page renders without warnings" eval \
		'groff -man -Tutf8 -ww -z "$ROOT/xtables/iptables-mape.8" 2> "$TMP/man" && [ ! -s "$TMP/man" ] ||
		 { sed "s/^/# /" "$TMP/man"; false; }'
fi

finish
