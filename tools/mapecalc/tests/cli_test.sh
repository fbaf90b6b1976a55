#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Black-box tests of the mapecalc binary: the published examples, every
# error path (exit 2, one line on stderr, nothing on stdout) and every
# output format read back by its consumer (sh, python3 json, nft -c).
# Port ranges are checked by decomposing each port with awk, not by
# asking the tool. TAP output; exit 1 if any case fails.
#
# Usage: tests/cli_test.sh [path/to/mapecalc]
#
# Cases are written as check NAME eval '...': the single quotes defer the
# expansion to eval on purpose (so variables set only for eval look unused),
# and $RFC_RULE / $ranges are split on purpose.
# shellcheck disable=SC2016,SC2086,SC2034

HERE=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$HERE/mapecalc}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
TABLE=$HERE/jp-mape-rules.csv
TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n $1"; }
skip() { n=$((n + 1)); echo "ok $n $1 # SKIP $2"; }
check() { # NAME CMD...: the case passes when CMD succeeds
	name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}
diag() { sed 's/^/# /' "$@"; }

RFC_RULE="--rule-ipv6 2001:db8::/40 --rule-ipv4 192.0.2.0/24 --ea-len 16 --psid-offset 6"

# run ARGS...: stdout to $TMP/out, stderr to $TMP/err, status in $rc
run() {
	"$BIN" "$@" > "$TMP/out" 2> "$TMP/err"
	rc=$?
}

# has TEXT: $TMP/out contains the fixed string TEXT
has() {
	grep -qF -- "$1" "$TMP/out" || { echo "# missing: $1"; return 1; }
}

# vars FILE: source shell-format output in a fresh sh, print NAME=value
# lines for the given names so that quoting is exercised by sh itself.
shvar() { # FILE NAME -> value
	sh -c '. "$1" && eval "printf %s \"\${$2}\""' sh "$1" "$2"
}

expect_var() { # FILE NAME VALUE
	v=$(shvar "$1" "$2")
	[ "$v" = "$3" ] || { echo "# $2='$v', want '$3'"; return 1; }
}

# Every port of every range must belong to (a, k, psid) by the RFC 7597
# 5.1 bit layout, A > 0, and the ranges must add up to the port count.
ranges_ok() { # A K PSID COUNT RANGES...
	a=$1 k=$2 psid=$3 count=$4
	shift 4
	echo "$*" | tr ' ' '\n' | awk -F- -v a="$a" -v k="$k" -v psid="$psid" \
		-v count="$count" '
	function pow2(e) { return 2 ^ e }
	{
		for (p = $1; p <= $2; p++) {
			m = 16 - a - k
			if (a > 0 && int(p / pow2(16 - a)) == 0) bad++
			if (int(p / pow2(m)) % pow2(k) != psid) bad++
			if (p <= last) bad++
			last = p
			total++
		}
	}
	END {
		if (bad || total != count) {
			printf "# ranges: %d bad ports, %d ports, want %d\n", bad, total, count
			exit 1
		}
	}'
}

# ---- the published examples ----

run $RFC_RULE 2001:db8:0012:3400::/56 -f shell
cp "$TMP/out" "$TMP/rfc.sh"
check "rfc7597 example: exit 0" [ "$rc" = 0 ]
check "rfc7597 example: IPv4 192.0.2.18" expect_var "$TMP/rfc.sh" MAPE_IPV4 192.0.2.18
check "rfc7597 example: PSID 0x34, k=8, a=6" eval \
	'expect_var "$TMP/rfc.sh" MAPE_PSID_HEX 0x34 &&
	 expect_var "$TMP/rfc.sh" MAPE_PSID 52 &&
	 expect_var "$TMP/rfc.sh" MAPE_PSID_LEN 8 &&
	 expect_var "$TMP/rfc.sh" MAPE_PSID_OFFSET 6'
check "rfc7597 example: 252 ports" expect_var "$TMP/rfc.sh" MAPE_PORTS 252
ranges=$(shvar "$TMP/rfc.sh" MAPE_PORT_RANGES)
check "rfc7597 example: ranges 1232-1235 2256-2259 ... 64720-64723" eval \
	'case "$ranges" in "1232-1235 2256-2259 "*" 64720-64723") true ;; *) false ;; esac'
check "rfc7597 example: every listed port is in 6/8/0x34" ranges_ok 6 8 52 252 $ranges
check "rfc7597 example: CE (RFC layout)" \
	expect_var "$TMP/rfc.sh" MAPE_CE 2001:db8:12:3400:0:c000:212:34
check "rfc7597 example: explicit rule defaults to the RFC layout" \
	expect_var "$TMP/rfc.sh" MAPE_IID rfc7597

run $RFC_RULE 2001:db8:0012:3400::/56
check "rfc7597 example text: addresses, PSID, ports" eval \
	'has "IPv4 address     192.0.2.18" && has "PSID 52 (0x34)" &&
	 has "252 in 63 blocks of 4" && has "1232-1235" && has "64720-64723" &&
	 has "CE IPv6 address  2001:db8:12:3400:0:c000:212:34"'

run 240b:10:abcd:ef00::/56 --rules "$TABLE" -f shell
cp "$TMP/out" "$TMP/v6plus.sh"
check "v6plus example: exit 0" [ "$rc" = 0 ]
check "v6plus example: rule 240b:10::/31 106.72.0.0/15 o=25 a=4" eval \
	'expect_var "$TMP/v6plus.sh" MAPE_RULE_IPV6 240b:10::/31 &&
	 expect_var "$TMP/v6plus.sh" MAPE_RULE_IPV4 106.72.0.0/15 &&
	 expect_var "$TMP/v6plus.sh" MAPE_EA_LEN 25 &&
	 expect_var "$TMP/v6plus.sh" MAPE_PSID_OFFSET 4'
check "v6plus example: IPv4 106.72.171.205 PSID 0xef" eval \
	'expect_var "$TMP/v6plus.sh" MAPE_IPV4 106.72.171.205 &&
	 expect_var "$TMP/v6plus.sh" MAPE_PSID_HEX 0xef'
check "v6plus example: legacy CE" eval \
	'expect_var "$TMP/v6plus.sh" MAPE_CE 240b:10:abcd:ef00:6a:48ab:cd00:ef00 &&
	 expect_var "$TMP/v6plus.sh" MAPE_IID legacy &&
	 expect_var "$TMP/v6plus.sh" MAPE_SERVICE v6plus'
ranges=$(shvar "$TMP/v6plus.sh" MAPE_PORT_RANGES)
check "v6plus example: every listed port is in 4/8/0xef" ranges_ok 4 8 239 240 $ranges

# the default table, from another directory
(cd "$TMP" && "$BIN" 2400:4050:1234:5600::/56 > "$TMP/out" 2> "$TMP/err")
rc=$?
cp "$TMP/out" "$TMP/ocn.txt"
check "ocn: default table found from another cwd" [ "$rc" = 0 ]
check "ocn: IPv4 153.240.72.209" has "IPv4 address     153.240.72.209"
check "ocn: PSID 0x16, offset 6 length 6" has "offset 6, length 6, PSID 22 (0x16)"
check "ocn: 1008 ports" has "ports            1008 in 63 blocks of 16"
check "ocn: CE 2400:4050:1234:5600:99:f048:d100:1600" \
	has "CE IPv6 address  2400:4050:1234:5600:99:f048:d100:1600"
check "ocn: BR 2001:380:a120::9" has "BR               2001:380:a120::9"
check "ocn: service and legacy layout named" eval \
	'has "ocn-virtual-connect" && has "interface id     legacy"'
check "ocn: MTU 1460 and ipip6" eval 'has "MTU              1460" && has "ipip6"'
check "ocn text: no trailing blanks" eval '! grep -q "[[:blank:]]$" "$TMP/ocn.txt"'
check "ocn text: all 63 blocks listed, first and last" eval \
	'has "1376-1391" && has "64864-64879" &&
	 [ "$(grep -E "^    [0-9]" "$TMP/ocn.txt" | tr -s " " "\n" | grep -c -- -)" = 63 ]'
run 2400:4050:1234:5600::/56 --rules "$TABLE" -f shell
ranges=$(shvar "$TMP/out" MAPE_PORT_RANGES)
check "ocn: every listed port is in 6/6/0x16" ranges_ok 6 6 22 1008 $ranges

run 240b:10:abcd:ef12:3456::1 --rules "$TABLE"
check "address without /len: assumed /56, said so" eval \
	'[ "$rc" = 0 ] && has "assuming the delegated prefix is /56" &&
	 has "240b:10:abcd:ef00:6a:48ab:cd00:ef00"'
run 240b:10:abcd:ef00::/56 --rules "$TABLE" --rfc -f shell
check "--rfc overrides the service layout" \
	expect_var "$TMP/out" MAPE_CE 240b:10:abcd:ef00:0:6a48:abcd:ef
run $RFC_RULE --legacy 2001:db8:12:3400::/56 -f shell
check "--legacy on an explicit rule" \
	expect_var "$TMP/out" MAPE_CE 2001:db8:12:3400:c0:2:1200:3400
run $RFC_RULE --br 2001:db8::1 2001:db8:12:3400::/56 -f shell
check "--br sets the BR" expect_var "$TMP/out" MAPE_BR 2001:db8::1
run --rule-ipv6 2001:db8::/40 --rule-ipv4 192.0.2.0/24 --ea-len 4 \
	--psid-offset 6 2001:db8:a0::/44
check "o < 32 - r4: IPv4 prefix, no PSID, said so" eval \
	'[ "$rc" = 0 ] && has "IPv4 prefix      192.0.2.160/28" && has "no PSID"'

# ---- errors: exit 2, one line on stderr, nothing on stdout ----

err_case() { # NAME PATTERN ARGS...
	name=$1 pat=$2
	shift 2
	run "$@"
	if [ "$rc" = 2 ] && [ ! -s "$TMP/out" ] &&
	   [ "$(wc -l < "$TMP/err")" = 1 ] &&
	   grep -q "^mapecalc: .*$pat" "$TMP/err"; then
		ok "error: $name"
	else
		not_ok "error: $name (rc=$rc)"
		diag "$TMP/err"
	fi
}

err_case "garbage prefix" "not an IPv6" garbage --rules "$TABLE"
err_case "IPv4 instead of a prefix" "not an IPv6" 192.0.2.1 --rules "$TABLE"
err_case "prefix length 129" "prefix length" 2001:db8::/129 --rules "$TABLE"
err_case "prefix matching no rule" "matches no rule" 2001:db8:12:3400::/56 --rules "$TABLE"
err_case "/40 under the /31 o=25 rule" \
	"prefix /40 too short for this rule: needs /56\$" 240b:10::/40 --rules "$TABLE"
err_case "/36 spanning /38 rules" "too short for this rule: needs /56" \
	2400:4050::/36 --rules "$TABLE"
err_case "explicit rule: prefix too short" "prefix /48 too short for this rule: needs /56" \
	$RFC_RULE 2001:db8:12::/48
err_case "explicit rule: prefix outside" "not inside the rule" $RFC_RULE 2001:db9::/56
err_case "--psid-offset 16" "bad --psid-offset '16'" \
	--rule-ipv6 2001:db8::/40 --rule-ipv4 192.0.2.0/24 --ea-len 16 --psid-offset 16 2001:db8::/56
err_case "--psid-offset -1" "bad --psid-offset" \
	--rule-ipv6 2001:db8::/40 --rule-ipv4 192.0.2.0/24 --ea-len 16 --psid-offset -1 2001:db8::/56
err_case "--psid-offset x" "bad --psid-offset" \
	--rule-ipv6 2001:db8::/40 --rule-ipv4 192.0.2.0/24 --ea-len 16 --psid-offset x 2001:db8::/56
err_case "--psid-offset 10 with k=8" "exceed 16 bits" \
	--rule-ipv6 2001:db8::/40 --rule-ipv4 192.0.2.0/24 --ea-len 16 --psid-offset 10 2001:db8::/56
err_case "--ea-len 49" "bad --ea-len" \
	--rule-ipv6 2001:db8::/40 --rule-ipv4 192.0.2.0/24 --ea-len 49 --psid-offset 6 2001:db8::/56
err_case "missing --rule-ipv4" "missing --rule-ipv4" \
	--rule-ipv6 2001:db8::/40 --ea-len 16 --psid-offset 6 2001:db8::/56
err_case "missing --ea-len" "missing --ea-len" \
	--rule-ipv6 2001:db8::/40 --rule-ipv4 192.0.2.0/24 --psid-offset 6 2001:db8::/56
err_case "missing --psid-offset" "missing --psid-offset" \
	--rule-ipv6 2001:db8::/40 --rule-ipv4 192.0.2.0/24 --ea-len 16 2001:db8::/56
err_case "missing --rule-ipv6" "missing --rule-ipv6" \
	--rule-ipv4 192.0.2.0/24 --ea-len 16 --psid-offset 6 2001:db8::/56
err_case "rule IPv6 prefix without length" "needs a prefix length" \
	--rule-ipv6 2001:db8:: --rule-ipv4 192.0.2.0/24 --ea-len 16 --psid-offset 6 2001:db8::/56
err_case "rule with host bits" "bits set after" \
	--rule-ipv6 2001:db8::/40 --rule-ipv4 192.0.2.1/24 --ea-len 16 --psid-offset 6 2001:db8::/56
err_case "--rules with an explicit rule" "exclude each other" \
	--rules "$TABLE" $RFC_RULE 2001:db8::/56
err_case "unknown --format" "unknown --format 'xml'" -f xml 240b:10:abcd:ef00::/56
err_case "-f networkd without --output-dir" "give --output-dir" --format networkd 240b:10:abcd:ef00::/56
err_case "--output-dir without -f networkd" "goes with --format networkd" \
	--output-dir "$TMP" 240b:10:abcd:ef00::/56
err_case "-f networkd into a missing directory" "cannot write" \
	-f networkd --output-dir "$TMP/missing" 240b:10:abcd:ef00::/56
err_case "-f networkd without a BR" "needs the BR" \
	-f networkd --output-dir "$TMP" $RFC_RULE 2001:db8:12:3400::/56
err_case "-f ip without --wan" "needs --wan" -f ip --rules "$TABLE" 240b:10:abcd:ef00::/56
err_case "-f ip without a BR" "needs the BR" -f ip --wan eth0 $RFC_RULE 2001:db8:12:3400::/56
err_case "bad --br" "--br" --br 2001:db8::zz --rules "$TABLE" 240b:10:abcd:ef00::/56
err_case "bad --tunnel" "bad --tunnel" --tunnel 'a;b' 240b:10:abcd:ef00::/56
err_case "bad --wan" "bad --wan" --wan 'eth0 x' 240b:10:abcd:ef00::/56
err_case "bad --link-mtu" "bad --link-mtu" --link-mtu 1500x 240b:10:abcd:ef00::/56
# Below 1320 the tunnel's MTU is below IPv6's 1280: the kernel takes its
# IPv6 state away, and with it the CE address and addrgenmode none.
err_case "--link-mtu 1319: tunnel below 1280" "want 1320" --link-mtu 1319 240b:10:abcd:ef00::/56
run --rules "$TABLE" -f ip --wan eth1 --link-mtu 1320 240b:10:abcd:ef00::/56
check "--link-mtu 1320: tunnel MTU 1280" eval '[ "$rc" = 0 ] && has "mtu 1280 addrgenmode none"'
err_case "--legacy with --rfc" "exclude each other" --legacy --rfc 240b:10:abcd:ef00::/56
err_case "unknown option" "unknown option '--bogus'" --bogus 240b:10:abcd:ef00::/56
err_case "option without its value" "needs a value" 240b:10:abcd:ef00::/56 --tunnel
err_case "no prefix" "missing the delegated prefix"
err_case "two prefixes" "one prefix only" 240b:10:abcd:ef00::/56 240b:10:abcd:ef00::/56
err_case "missing table file" "cannot open rule table" --rules "$TMP/none.csv" 240b:10::/56
printf 'x,2001:db8::/40,192.0.2.0/24,16,6,7,\n' > "$TMP/bad.csv"
err_case "inconsistent table line" "bad.csv:1: psid_len 7 disagrees" \
	--rules "$TMP/bad.csv" 2001:db8:12:3400::/56
err_case "newline in an argument stays one line" "not an IPv6" "$(printf 'a\nb')"

# ---- formats read back by their consumers ----

run 2400:4050:1234:5600::/56 --rules "$TABLE" -f shell --tunnel wan6 --wan eth1
check "shell: sh -n accepts it" sh -n "$TMP/out"
check "shell: sourced values" eval \
	'expect_var "$TMP/out" MAPE_IPV4 153.240.72.209 &&
	 expect_var "$TMP/out" MAPE_PSID 22 &&
	 expect_var "$TMP/out" MAPE_PORTS 1008 &&
	 expect_var "$TMP/out" MAPE_BR 2001:380:a120::9 &&
	 expect_var "$TMP/out" MAPE_CE 2400:4050:1234:5600:99:f048:d100:1600 &&
	 expect_var "$TMP/out" MAPE_TUNNEL wan6 &&
	 expect_var "$TMP/out" MAPE_WAN eth1 &&
	 expect_var "$TMP/out" MAPE_MTU 1460 &&
	 expect_var "$TMP/out" MAPE_SERVICE ocn-virtual-connect'
check "shell: only MAPE_ assignments" eval \
	'! grep -qv "^MAPE_[A-Z0-9_]*=" "$TMP/out"'

run 2400:4050:1234:5600::/56 --rules "$TABLE" -f json
if command -v python3 > /dev/null 2>&1; then
	check "json: python3 -m json.tool parses it" \
		eval 'python3 -m json.tool "$TMP/out" > /dev/null'
	check "json: values" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ipv4_address"] == "153.240.72.209", d
assert d["psid"] == 0x16 and d["psid_len"] == 6 and d["psid_offset"] == 6
assert d["ports"] == 1008 and len(d["port_ranges"]) == 63
assert sum(hi - lo + 1 for lo, hi in d["port_ranges"]) == 1008
assert d["ce_ipv6"] == "2400:4050:1234:5600:99:f048:d100:1600"
assert d["br"] == "2001:380:a120::9" and d["interface_id"] == "legacy"
assert d["service"] == "ocn-virtual-connect" and d["tunnel"]["mtu"] == 1460
' "$TMP/out"
	run $RFC_RULE 2001:db8:12:3400::1 -f json
	check "json: explicit rule, no BR, address input" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["br"] is None and d["service"] is None
assert d["prefix_length_assumed"] is True
assert d["delegated_prefix"] == "2001:db8:12:3400::/56"
' "$TMP/out"
else
	skip "json: python3 -m json.tool parses it" "no python3"
	skip "json: values" "no python3"
	skip "json: explicit rule, no BR, address input" "no python3"
fi

run 2400:4050:1234:5600::/56 --rules "$TABLE" -f nft --tunnel wan6
cp "$TMP/out" "$TMP/rules.nft"
check "nft: snat to ADDR:mape a/k/psid on the tunnel" \
	has 'oifname "wan6" snat to 153.240.72.209:mape 6/6/22'
check "nft: MSS clamp" \
	has 'oifname "wan6" tcp flags syn tcp option maxseg size set rt mtu'
# conntrack leaves packets it calls invalid untranslated: with their LAN
# port they would reach the BR outside the set.
check "nft: invalid packets never leave untranslated" \
	has 'oifname "wan6" ct state invalid drop'
check "nft: braces balance" eval \
	'[ "$(tr -cd "{" < "$TMP/rules.nft" | wc -c)" = "$(tr -cd "}" < "$TMP/rules.nft" | wc -c)" ]'
# Stock nft does not know ":mape a/k/psid" (nft-expr/ teaches it): check
# the rest of the ruleset with that part cut, where nft -c can run here.
printf 'table ip t {\n}\n' > "$TMP/probe.nft"
if command -v nft > /dev/null 2>&1 && nft -c -f "$TMP/probe.nft" > /dev/null 2>&1; then
	sed 's/:mape [0-9]*\/[0-9]*\/[0-9]*//' "$TMP/rules.nft" > "$TMP/plain.nft"
	check "nft: nft -c accepts the ruleset (mape part cut)" \
		eval 'nft -c -f "$TMP/plain.nft" 2> "$TMP/nfterr" || { diag "$TMP/nfterr"; false; }'
else
	skip "nft: nft -c accepts the ruleset (mape part cut)" "nft -c unavailable"
fi

run 2400:4050:1234:5600::/56 --rules "$TABLE" -f ip --wan eth1 --link-mtu 1454
cat > "$TMP/ip.want" <<'EOF'
ip -6 addr add 2400:4050:1234:5600:99:f048:d100:1600/128 dev eth1
ip -6 tunnel add mape0 mode ipip6 local 2400:4050:1234:5600:99:f048:d100:1600 remote 2001:380:a120::9 encaplimit none
tc qdisc add dev mape0 clsact
tc filter add dev mape0 egress pref 1 protocol ip u32 match ip src 153.240.72.209/32 action ok
tc filter add dev mape0 egress pref 2 matchall action drop
ip link set mape0 mtu 1414 addrgenmode none
ip link set mape0 up
ip addr add 192.0.0.2/32 dev mape0
ip route add default dev mape0
ip rule add iif mape0 to 153.240.72.209/32 blackhole
EOF
check "ip: the commands (MTU from --link-mtu)" eval \
	'grep -v "^#" "$TMP/out" | diff "$TMP/ip.want" - > "$TMP/diff" || { diag "$TMP/diff"; false; }'
check "ip: sh -n accepts it" sh -n "$TMP/out"
# An address of its own (no PSID) stays on the tunnel, with no blackhole.
run --rule-ipv6 2001:db8::/40 --rule-ipv4 192.0.2.0/24 --ea-len 8 --psid-offset 6 \
	--br 2001:db8::1 -f ip --wan eth1 2001:db8:a0::/48
check "ip: an unshared address on the tunnel itself, no rule" eval \
	'[ "$rc" = 0 ] && has "ip addr add 192.0.2.160/32 dev mape0" && ! has "ip rule"'
run 240b:10:abcd:ef00::/56 --rules "$TABLE" -f shell
check "shell: MAPE_TUNNEL_IPV4 is 192.0.0.2 when shared" \
	expect_var "$TMP/out" MAPE_TUNNEL_IPV4 192.0.0.2

# The same ruleset for iptables-restore: a whole rules.v4 of two tables.
run 2400:4050:1234:5600::/56 --rules "$TABLE" -f iptables --tunnel wan6
cat > "$TMP/ipt.want" <<'EOF'
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A FORWARD -o wan6 -m conntrack --ctstate INVALID -j DROP
-A FORWARD -o wan6 -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o wan6 -j MAPE --to-source 153.240.72.209 --psid 6/6/22
COMMIT
EOF
check "iptables: the rules.v4 (MAPE on the tunnel, MSS clamp, invalid drop)" eval \
	'grep -v "^#" "$TMP/out" | diff "$TMP/ipt.want" - > "$TMP/diff" || { diag "$TMP/diff"; false; }'
run $RFC_RULE 2001:db8:0012:3400::/56 -f iptables --ea-len 8
check "iptables: an unshared address gets plain SNAT" has "-A POSTROUTING -o mape0 -j SNAT --to-source 192.0.2.18"
run 2400:4050:1234:5600::/56 --rules "$TABLE" -f iptables --fullcone
check "iptables --fullcone: MAPE --fullcone in PREROUTING and POSTROUTING, nothing else" eval \
	'[ "$(grep -c -- "-j MAPE" "$TMP/out")" = 2 ] &&
	 has "-A PREROUTING -i mape0 -j MAPE --to-source 153.240.72.209 --psid 6/6/22 --fullcone" &&
	 has "-A POSTROUTING -o mape0 -j MAPE --to-source 153.240.72.209 --psid 6/6/22 --fullcone"'
run 2400:4050:1234:5600::/56 --rules "$TABLE" -f nft --fullcone
check "nft --fullcone: the mape rule with fullcone in prerouting and postrouting" eval \
	'[ "$rc" = 0 ] && [ "$(grep -c "snat to" "$TMP/out")" = 2 ] &&
	 has "iifname \"mape0\" snat to 153.240.72.209:mape 6/6/22 fullcone" &&
	 has "oifname \"mape0\" snat to 153.240.72.209:mape 6/6/22 fullcone" &&
	 has "type nat hook prerouting priority dstnat"'
err_case "--fullcone with -f ip" "--fullcone goes with --format iptables or nft" \
	2400:4050:1234:5600::/56 --rules "$TABLE" -f ip --wan eth0 --fullcone
err_case "--fullcone on an unshared address" "--fullcone needs a shared address" \
	$RFC_RULE 2001:db8:0012:3400::/56 -f iptables --ea-len 8 --fullcone

# The same tunnel as systemd-networkd files (the VM test brings it up).
mkdir -p "$TMP/nd"
run 2400:4050:1234:5600::/56 --rules "$TABLE" -f networkd --output-dir "$TMP/nd" --link-mtu 1454
cat > "$TMP/nd.want" <<'EOF'
[NetDev]
Name=mape0
Kind=ip6tnl
MTUBytes=1414
[Tunnel]
Mode=ipip6
Local=2400:4050:1234:5600:99:f048:d100:1600
Remote=2001:380:a120::9
EncapsulationLimit=none
Independent=yes
[Match]
Name=mape0
[Network]
Address=2400:4050:1234:5600:99:f048:d100:1600/128
Address=192.0.0.2/32
DefaultRouteOnDevice=yes
ConfigureWithoutCarrier=yes
LinkLocalAddressing=no
IPv6AcceptRA=no
[RoutingPolicyRule]
IncomingInterface=mape0
To=153.240.72.209/32
Type=blackhole
EOF
printf '%s\n' "$TMP/nd/mape0.netdev" "$TMP/nd/mape0.network" > "$TMP/nd.paths"
check "networkd: prints the two paths it wrote" eval \
	'[ "$rc" = 0 ] && cmp -s "$TMP/nd.paths" "$TMP/out"'
check "networkd: .netdev and .network (MTU from --link-mtu)" eval \
	'cat "$TMP/nd/mape0.netdev" "$TMP/nd/mape0.network" | grep -v -e "^#" -e "^\$" |
	 diff "$TMP/nd.want" - > "$TMP/diff" || { diag "$TMP/diff"; false; }'

# PPPoE beside MAP-E: three files, the paths printed; the nft table read
# back by nft -c, the ip-up.d script by sh -n (selftests/mape_pppoe.sh
# runs them with a real PPPoE session).
mkdir -p "$TMP/pp"
run 2400:4050:1234:5600::/56 --rules "$TABLE" -f pppoe --output-dir "$TMP/pp" \
	--via-pppoe 192.168.1.20 --via-pppoe 192.168.2.0/24 --pppoe-port 8443 --pppoe-port 50000-50100
printf '%s\n' "$TMP/pp/mape-pppoe.nft" "$TMP/pp/50-mape-pppoe" "$TMP/pp/60-mape-pppoe.conf" > "$TMP/pp.paths"
check "pppoe: prints the three paths it wrote" eval \
	'[ "$rc" = 0 ] && cmp -s "$TMP/pp.paths" "$TMP/out" || diag "$TMP/out" "$TMP/err"'
cp "$TMP/pp/mape-pppoe.nft" "$TMP/out"
check "pppoe: hosts, networks and ports chosen, inbound on ppp0 too, replies follow" eval \
	'has "elements = { 192.168.1.20, 192.168.2.0/24 }" && has "elements = { 8443, 50000-50100 }" &&
	 has "ct state new iifname \"ppp0\" ct mark set 0x64" &&
	 has "ct state new iifname != { \"ppp0\", \"mape0\" } ip saddr @via_pppoe ct mark set 0x64" &&
	 has "type route hook output priority mangle" && has "ct mark 0x64 meta mark set ct mark" &&
	 has "oifname \"ppp0\" masquerade" && has "oifname \"ppp0\" tcp flags syn tcp option maxseg size set rt mtu"'
check "pppoe: falls back to MAP-E by default, never with PPPoE's own flows" eval \
	'has "oifname \"mape0\" ct state new ct mark 0x64 ct mark set 0" && has "oifname \"mape0\" ct mark 0x64 drop"'
if command -v nft > /dev/null 2>&1 && nft -c -f "$TMP/probe.nft" > /dev/null 2>&1; then
	check "pppoe: nft -c accepts the table" \
		eval 'nft -c -f "$TMP/pp/mape-pppoe.nft" 2> "$TMP/nfterr" || { diag "$TMP/nfterr"; false; }'
else
	skip "pppoe: nft -c accepts the table" "nft -c unavailable"
fi
check "pppoe: ip-up.d script, executable, parses, only for ppp0" eval \
	'[ -x "$TMP/pp/50-mape-pppoe" ] && sh -n "$TMP/pp/50-mape-pppoe" &&
	 grep -qx "ip route replace default dev ppp0 table 100" "$TMP/pp/50-mape-pppoe" &&
	 grep -qx "	ip rule add pref 1000 fwmark 0x64 lookup main suppress_prefixlength 0" "$TMP/pp/50-mape-pppoe" &&
	 grep -qx "	ip rule add pref 1001 fwmark 0x64 lookup 100" "$TMP/pp/50-mape-pppoe" &&
	 [ "$(tail -n 1 "$TMP/pp/50-mape-pppoe")" = "ip route replace default dev ppp0 table 100" ] &&
	 grep -qx "\[ \"\${PPP_IFACE:-\$1}\" = \"ppp0\" \] || exit 0" "$TMP/pp/50-mape-pppoe"'
check "pppoe: strict rp_filter with the marks" eval \
	'grep -qx "net.ipv4.conf.all.rp_filter = 1" "$TMP/pp/60-mape-pppoe.conf" &&
	 grep -qx "net.ipv4.conf.all.src_valid_mark = 1" "$TMP/pp/60-mape-pppoe.conf"'
run 2400:4050:1234:5600::/56 --rules "$TABLE" -f pppoe --output-dir "$TMP/pp" --pppoe ppp7 \
	--pppoe-table 7 --no-fallback --tunnel ocn0
cp "$TMP/pp/mape-pppoe.nft" "$TMP/out"
check "pppoe: --pppoe, --pppoe-table, --tunnel, --no-fallback" eval \
	'[ "$rc" = 0 ] && has "oifname \"ocn0\" ct mark 0x7 drop" &&
	 ! grep -qF -e "ct state new ct mark" -e via_pppoe -e pppoe_ports "$TMP/out" && has "iifname \"ppp7\"" &&
	 grep -qx "	ip rule add pref 1001 fwmark 0x7 lookup 7" "$TMP/pp/50-mape-pppoe"'
err_case "-f pppoe without --output-dir" "give --output-dir" -f pppoe 240b:10:abcd:ef00::/56
err_case "--via-pppoe without -f pppoe" "go with --format pppoe" \
	--via-pppoe 192.168.1.2 240b:10:abcd:ef00::/56
err_case "--via-pppoe not an address" "bad --via-pppoe 'lan'" \
	-f pppoe --output-dir "$TMP/pp" --via-pppoe lan 240b:10:abcd:ef00::/56
err_case "--via-pppoe with host bits" "bits set after /24" \
	-f pppoe --output-dir "$TMP/pp" --via-pppoe 192.168.1.1/24 240b:10:abcd:ef00::/56
err_case "--pppoe-port 0" "bad --pppoe-port '0'" \
	-f pppoe --output-dir "$TMP/pp" --pppoe-port 0 240b:10:abcd:ef00::/56
err_case "--pppoe-port backwards" "bad --pppoe-port '90-80'" \
	-f pppoe --output-dir "$TMP/pp" --pppoe-port 90-80 240b:10:abcd:ef00::/56
err_case "--pppoe-table main" "bad --pppoe-table '254'" \
	-f pppoe --output-dir "$TMP/pp" --pppoe-table 254 240b:10:abcd:ef00::/56
err_case "--pppoe with a shell character" "--pppoe" \
	-f pppoe --output-dir "$TMP/pp" --pppoe 'ppp0;x' 240b:10:abcd:ef00::/56
err_case "-f pppoe into a missing directory" "cannot write" \
	-f pppoe --output-dir "$TMP/missing" 240b:10:abcd:ef00::/56

# The same tunnel as an ifupdown stanza (the VM test runs ifup/ifdown).
run 2400:4050:1234:5600::/56 --rules "$TABLE" -f ifupdown --link-mtu 1454
cat > "$TMP/ifupdown.want" <<'EOF'
auto mape0
iface mape0 inet manual
	pre-up ip -6 tunnel add mape0 mode ipip6 local 2400:4050:1234:5600:99:f048:d100:1600 remote 2001:380:a120::9 encaplimit none
	pre-up tc qdisc add dev mape0 clsact
	pre-up tc filter add dev mape0 egress pref 1 protocol ip u32 match ip src 153.240.72.209/32 action ok
	pre-up tc filter add dev mape0 egress pref 2 matchall action drop
	pre-up ip link set mape0 mtu 1414 addrgenmode none
	pre-up ip -6 addr add 2400:4050:1234:5600:99:f048:d100:1600/128 dev mape0
	pre-up ip addr add 192.0.0.2/32 dev mape0
	up ip link set mape0 up
	up ip route add default dev mape0
	up ip rule add iif mape0 to 153.240.72.209/32 blackhole
	down ip rule del iif mape0 to 153.240.72.209/32 blackhole
	post-down ip -6 tunnel del mape0
EOF
check "ifupdown: the stanza (MTU from --link-mtu)" eval \
	'[ "$rc" = 0 ] && grep -v "^#" "$TMP/out" | diff "$TMP/ifupdown.want" - > "$TMP/diff" || { diag "$TMP/diff"; false; }'
run 2400:4050:1234:5600::/56 --rules "$TABLE" -f ifupdown --tunnel v6plus0
check "ifupdown: --tunnel names the stanza and every command" eval \
	'[ "$rc" = 0 ] && has "iface v6plus0 inet manual" && ! grep -v "^#" "$TMP/out" | grep -q mape0'
err_case "-f ifupdown without a BR" "needs the BR" \
	-f ifupdown $RFC_RULE 2001:db8:12:3400::/56

# ---- help, version, install ----

run --help
check "--help: exit 0, formats and options" eval \
	'[ "$rc" = 0 ] && has "Usage: mapecalc" && has "networkd" && has "--output-dir"'
run --version
check "--version" eval '[ "$rc" = 0 ] && has "mapecalc "'

if make -s -C "$HERE" install DESTDIR="$TMP/root" > "$TMP/inst" 2>&1; then
	inst=$(find "$TMP/root" -type f | sed "s|^$TMP/root||" | sort | tr '\n' ' ')
	check "make install DESTDIR: binary, man page, table" eval \
		'case "$inst" in *"/bin/mapecalc "*"/share/man/man1/mapecalc.1 "*"/share/mapecalc/jp-mape-rules.csv "*) true ;; *) echo "# $inst"; false ;; esac'
	check "make install: table header (attribution) intact" \
		cmp "$TABLE" "$(find "$TMP/root" -name jp-mape-rules.csv)"
else
	not_ok "make install DESTDIR"
	diag "$TMP/inst"
fi

if command -v groff > /dev/null 2>&1; then
	check "man page renders without warnings" eval \
		'groff -man -Tutf8 -ww -z "$HERE/mapecalc.1" 2> "$TMP/man" && [ ! -s "$TMP/man" ] || { diag "$TMP/man"; false; }'
else
	skip "man page renders without warnings" "no groff"
fi

echo "1..$n"
[ "$failed" = 0 ]
