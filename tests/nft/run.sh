#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Userspace tests of the patched nft (build/nft/sbin/nft, "make nft"):
# the "snat to ADDR:mape a/k/psid" syntax, its errors, the netlink it
# sends, how it lists, and that ordinary rulesets still work. No kernel
# support for mape is needed:
#
#   - bad rules must be refused by nft itself, with the message and the
#     caret under the offending token, before the kernel is asked;
#   - good rules are checked in the expressions nft --debug=netlink shows
#     (nft -c still sends the batch: a kernel without the module answers
#     ENOENT, which is the only error allowed);
#   - the listing comes from tests/nft/roundtrip.c, which takes each rule
#     through nft's own linearize, netlink message, delinearize and print,
#     as "nft list ruleset" would after the kernel echoed it;
#   - a plain snat ruleset is loaded for real and listed;
#   - where the kernel has the module (the test VM), mape rules too.
#
# Everything touching netfilter runs in a new network namespace
# (unshare -n, so: root). TAP output; exit status 1 on any failure.
#
#   tests/nft/run.sh            NFT=/path/to/nft tests/nft/run.sh
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$ROOT/build/nft
NFT=${NFT:-$OUT/sbin/nft}
NFT_TREE=$OUT/work/nftables
ROUNDTRIP=$OUT/roundtrip
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

n=0
failed=0
skipped=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n $1"; }
diag() { sed 's/^/# /' "$@"; }

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root for unshare -n"
	exit 0
fi
if [ ! -x "$NFT" ]; then
	echo "Bail out! no $NFT: run make nft"
	exit 1
fi

netns() { unshare -n "$@"; }

# ruleset FAMILY RULE...: one nat table, one postrouting chain, the rules.
ruleset() {
	local family=$1 r
	shift
	printf 'table %s nat {\n' "$family"
	printf '\tchain postrouting {\n'
	printf '\t\ttype nat hook postrouting priority srcnat; policy accept;\n'
	for r in "$@"; do
		printf '\t\t%s\n' "$r"
	done
	printf '\t}\n}\n'
}

# The text above the carets of nft's first error message.
caret_text() {
	awk '/^[ \t]*\^+[ \t]*$/ && prev != "" {
		s = index($0, "^"); t = $0; gsub(/[^^]/, "", t)
		print substr(prev, s, length(t)); exit
	} { prev = $0 }' "$1"
}

# The expression lines nft --debug=netlink printed, indentation dropped.
netlink_exprs() {
	sed -n 's/^ *\(\[ .* \]\)$/\1/p' "$1"
}

# --- refused with a message and the caret at the right token ------------

# bad NAME FAMILY RULE MESSAGE TOKEN
bad() {
	local name=$1 family=$2 rule=$3 msg=$4 token=$5 f=$TMP/bad.nft got

	ruleset "$family" "$rule" > "$f"
	netns "$NFT" -c -f "$f" > "$TMP/out" 2>&1
	got=$(caret_text "$TMP/out")
	if grep -qF "Error: $msg" "$TMP/out" && [ "$got" = "$token" ] &&
	   ! grep -q 'Could not process rule' "$TMP/out"; then
		ok "rejects $name"
	else
		not_ok "rejects $name (want \"$msg\" under \"$token\", caret under \"$got\")"
		diag "$TMP/out"
	fi
}

A=192.0.2.1
bad "PSID offset > 15" ip "snat to $A:mape 16/0/0" \
	"PSID offset must be 0..15" "16/0/0"
bad "PSID length > 16" ip "snat to $A:mape 0/17/0" \
	"PSID length must be 0..16" "0/17/0"
bad "offset + length > 16" ip "snat to $A:mape 4/14/3" \
	"PSID offset + PSID length exceed 16 bits" "4/14/3"
bad "PSID >= 2^length" ip "snat to $A:mape 4/8/256" \
	"PSID does not fit in PSID length bits" "4/8/256"
bad "hex PSID >= 2^length" ip "snat to $A:mape 6/6/0x40" \
	"PSID does not fit in PSID length bits" "6/6/0x40"
bad "a value past 32 bits, not wrapped" ip "snat to $A:mape 4294967300/8/1" \
	"PSID offset must be 0..15" "4294967300/8/1"
bad "empty set (offset 0, PSID below port 1024)" ip "snat to $A:mape 0/6/0" \
	"port set is empty (PSID offset 0 excludes ports 0-1023)" "0/6/0"
bad "empty set in a range of addresses" ip "snat to $A-192.0.2.4:mape 0/8/3" \
	"port set is empty (PSID offset 0 excludes ports 0-1023)" "0/8/3"
bad "dnat" ip "dnat to $A:mape 4/8/20" \
	"mape is only valid with snat" "dnat"
bad "masquerade" ip "masquerade to :mape 4/8/20" \
	"syntax error, unexpected mape" "mape"
bad "an ip6 table" ip6 "snat to $A:mape 4/8/20" \
	"mape translates IPv4 only" "snat"
bad "snat ip6 in inet" inet "snat ip6 to [2001:db8::1]:mape 4/8/20" \
	"mape translates IPv4 only" "snat"
bad "inet without snat ip" inet "snat to $A:mape 4/8/20" \
	"mape translates IPv4 only: use \"snat ip to\" in inet tables" "snat"
bad "fullcone without a port set" ip "snat to $A fullcone" \
	"fullcone needs a MAP-E port set: snat to ADDR:mape a/k/psid fullcone" "snat"
bad "masquerade fullcone" ip "masquerade fullcone" \
	"fullcone needs a MAP-E port set: snat to ADDR:mape a/k/psid fullcone" "masquerade"
bad "a map of addresses" ip "snat to ip saddr map { 10.0.0.1 : $A }:mape 4/8/20" \
	"mape takes an IPv4 address or range ADDR-ADDR" \
	"ip saddr map { 10.0.0.1 : $A }"

# --- good rules: netlink, listing, listing loads again --------------------

# Does the tree expand a table block before evaluating it? (roundtrip.c)
expand_first() {
	sed -n '/^static int nft_evaluate(/,/^}/p' "$NFT_TREE/src/libnftables.c" |
		grep -m1 -o 'nft_cmd_expand\|cmd_evaluate' | grep -qx nft_cmd_expand &&
		echo 1 || echo 0
}

if [ -f "$NFT_TREE/src/.libs/libnftables.a" ]; then
	if ${CC:-cc} -O1 -g -Wall -I"$NFT_TREE" -I"$NFT_TREE/include" \
		-DEXPAND_FIRST="$(expand_first)" \
		-I"$ROOT/include" -I"$ROOT/include/uapi" -I"$OUT/include" \
		"$HERE/roundtrip.c" "$NFT_TREE/src/.libs/libnftables.a" \
		"$OUT/lib/libnftnl.a" -lmnl -lgmp -ljansson \
		-o "$ROUNDTRIP" 2> "$TMP/cc.log"; then
		ok "roundtrip helper builds"
	else
		not_ok "roundtrip helper builds"
		diag "$TMP/cc.log"
	fi
else
	not_ok "roundtrip helper builds (no $NFT_TREE: run make nft)"
fi

# netlink_check FILE EXPECTED: nft sends these expressions; the kernel may
# only object that it has no "mape" expression.
netlink_check() {
	netns "$NFT" --debug=netlink -c -f "$1" > "$TMP/nl" 2> "$TMP/nl.err"
	netlink_exprs "$TMP/nl" > "$TMP/nl.got"
	grep 'Error:' "$TMP/nl.err" | grep -v 'Could not process rule: No such file or directory' > "$TMP/nl.bad"
	[ "$(cat "$TMP/nl.got")" = "$2" ] && [ ! -s "$TMP/nl.bad" ]
}

# good NAME FAMILY RULE EXPECTED_EXPRESSIONS LISTED [JSON]
good() {
	local name=$1 family=$2 rule=$3 want=$4 listed=$5 json=${6:-}
	local f=$TMP/good.nft

	ruleset "$family" "$rule" > "$f"
	if netlink_check "$f" "$want"; then
		ok "$name: netlink"
	else
		not_ok "$name: netlink"
		diag "$TMP/nl.got" "$TMP/nl.err"
		echo "# want:"; echo "$want" | diag
	fi

	[ -x "$ROUNDTRIP" ] || return
	netns "$ROUNDTRIP" "$f" > "$TMP/rt" 2>&1
	if [ "$(sed -n 's/^rule: //p' "$TMP/rt")" = "$listed" ]; then
		ok "$name: lists as '$listed'"
	else
		not_ok "$name: lists as '$listed'"
		diag "$TMP/rt"
	fi
	if [ -n "$json" ]; then
		if sed -n 's/^json: //p' "$TMP/rt" | grep -qF "$json"; then
			ok "$name: JSON has $json"
		else
			not_ok "$name: JSON has $json"
			diag "$TMP/rt"
		fi
	fi

	ruleset "$family" "$listed" > "$f"
	if netlink_check "$f" "$want"; then
		ok "$name: the listing loads to the same netlink"
	else
		not_ok "$name: the listing loads to the same netlink"
		diag "$f" "$TMP/nl.got" "$TMP/nl.err"
	fi
}

# 192.0.2.1 and 192.0.2.4 as libnftnl prints registers on little-endian
IMM1='[ immediate reg 1 0x010200c0 ]'
IMM4='[ immediate reg 2 0x040200c0 ]'

good "ip, one address" ip 'oifname "mape0" snat to 192.0.2.1:mape 4/8/20' \
"[ meta load oifname => reg 1 ]
[ cmp eq reg 1 0x6570616d 0x00000030 0x00000000 0x00000000 ]
$IMM1
[ mape addr_min reg 1 psid_offset 4 psid_len 8 psid 20 ]" \
	'oifname "mape0" snat to 192.0.2.1:mape 4/8/20' \
	'{"snat":{"addr":"192.0.2.1","mape":{"offset":4,"length":8,"psid":20}}}'

good "ip, address range, hex PSID, all flags" ip \
	'snat to 192.0.2.1-192.0.2.4:mape 6/8/0x34 persistent,random,fully-random' \
"$IMM1
$IMM4
[ mape addr_min reg 1 addr_max reg 2 psid_offset 6 psid_len 8 psid 52 flags 0x1c ]" \
	'snat to 192.0.2.1-192.0.2.4:mape 6/8/52 random,fully-random,persistent' \
	'"flags":["random","fully-random","persistent"]'

good "ip, prefix becomes a range" ip 'snat to 192.0.2.0/30:mape 4/8/20' \
"[ immediate reg 1 0x000200c0 ]
[ immediate reg 2 0x030200c0 ]
[ mape addr_min reg 1 addr_max reg 2 psid_offset 4 psid_len 8 psid 20 ]" \
	'snat to 192.0.2.0-192.0.2.3:mape 4/8/20'

good "ip, no sharing (0/0/0)" ip 'snat to 192.0.2.1:mape 0/0/0' \
"$IMM1
[ mape addr_min reg 1 psid_offset 0 psid_len 0 psid 0 ]" \
	'snat to 192.0.2.1:mape 0/0/0'

good "ip, offset 0 with a PSID above port 1024" ip 'snat to 192.0.2.1:mape 0/6/1' \
"$IMM1
[ mape addr_min reg 1 psid_offset 0 psid_len 6 psid 1 ]" \
	'snat to 192.0.2.1:mape 0/6/1'

good "inet, snat ip" inet 'meta nfproto ipv4 snat ip to 192.0.2.1:mape 6/6/41 random' \
"[ meta load nfproto => reg 1 ]
[ cmp eq reg 1 0x00000002 ]
$IMM1
[ mape addr_min reg 1 psid_offset 6 psid_len 6 psid 41 flags 0x4 ]" \
	'meta nfproto ipv4 snat ip to 192.0.2.1:mape 6/6/41 random' \
	'{"snat":{"family":"ip","addr":"192.0.2.1","mape":{"offset":6,"length":6,"psid":41},"flags":"random"}}'

good "inet, family from meta nfproto" inet 'meta nfproto ipv4 snat to 192.0.2.1:mape 6/6/41' \
"[ meta load nfproto => reg 1 ]
[ cmp eq reg 1 0x00000002 ]
$IMM1
[ mape addr_min reg 1 psid_offset 6 psid_len 6 psid 41 ]" \
	'meta nfproto ipv4 snat ip to 192.0.2.1:mape 6/6/41'

good "ip, fullcone" ip 'oifname "mape0" snat to 192.0.2.1:mape 4/8/20 fullcone' \
"[ meta load oifname => reg 1 ]
[ cmp eq reg 1 0x6570616d 0x00000030 0x00000000 0x00000000 ]
$IMM1
[ mape addr_min reg 1 psid_offset 4 psid_len 8 psid 20 flags 0x10000 ]" \
	'oifname "mape0" snat to 192.0.2.1:mape 4/8/20 fullcone' \
	'"flags":"fullcone"'

good "ip, fullcone among other flags" ip 'snat to 192.0.2.1:mape 4/8/20 fullcone,random' \
"$IMM1
[ mape addr_min reg 1 psid_offset 4 psid_len 8 psid 20 flags 0x10004 ]" \
	'snat to 192.0.2.1:mape 4/8/20 random,fullcone' \
	'"flags":["random","fullcone"]'

# --- JSON input -------------------------------------------------------------

json_ruleset() {
	cat <<-EOF
	{"nftables": [
	 {"table": {"family": "ip", "name": "nat"}},
	 {"chain": {"family": "ip", "table": "nat", "name": "postrouting",
	            "type": "nat", "hook": "postrouting", "prio": 100,
	            "policy": "accept"}},
	 {"rule": {"family": "ip", "table": "nat", "chain": "postrouting",
	           "expr": [{"snat": {"addr": "192.0.2.1", "flags": ["persistent"],
	                              "mape": $1}}]}}
	]}
	EOF
}

json_ruleset '{"offset": 4, "length": 8, "psid": 20}' > "$TMP/good.json"
netns "$NFT" -j --debug=netlink -c -f "$TMP/good.json" > "$TMP/nl" 2> "$TMP/nl.err"
if [ "$(netlink_exprs "$TMP/nl")" = "$IMM1
[ mape addr_min reg 1 psid_offset 4 psid_len 8 psid 20 flags 0x8 ]" ]; then
	ok "JSON input: netlink"
else
	not_ok "JSON input: netlink"
	diag "$TMP/nl" "$TMP/nl.err"
fi

json_ruleset '{"offset": 4, "length": 14, "psid": 3}' > "$TMP/bad.json"
netns "$NFT" -j -c -f "$TMP/bad.json" > "$TMP/out" 2>&1
if grep -qF 'Error: PSID offset + PSID length exceed 16 bits' "$TMP/out" &&
   ! grep -q 'Could not process rule' "$TMP/out"; then
	ok "JSON input: bad port set refused by nft"
else
	not_ok "JSON input: bad port set refused by nft"
	diag "$TMP/out"
fi

# --- with the module loaded (the test VM): the kernel's own listing ----------

cat > "$TMP/mape.nft" <<'EOF'
table ip nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "mape0" snat to 192.0.2.1:mape 4/8/20
		oifname "mape1" snat to 192.0.2.1-192.0.2.4:mape 6/8/52 random,fully-random,persistent
	}
}
table inet nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		meta nfproto ipv4 snat ip to 192.0.2.1:mape 6/6/41 random
	}
}
table ip cone {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "mape0" snat to 192.0.2.1:mape 4/8/20 fullcone
	}

	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "mape0" snat to 192.0.2.1:mape 4/8/20 fullcone
	}
}
EOF
cat > "$TMP/mape.sh" <<EOF
set -e
"$NFT" -f "$TMP/mape.nft"
"$NFT" list ruleset > "$TMP/mape.list"
"$NFT" -j list ruleset > "$TMP/mape.json"
"$NFT" flush ruleset
"$NFT" -f "$TMP/mape.list"
"$NFT" list ruleset > "$TMP/mape.list2"
"$NFT" flush ruleset
"$NFT" -j -f "$TMP/mape.json"
"$NFT" list ruleset > "$TMP/mape.list3"
EOF
ruleset ip 'snat to 192.0.2.1:mape 4/8/20' > "$TMP/probe.nft"
have_module=
! netns "$NFT" -c -f "$TMP/probe.nft" > /dev/null 2>&1 || have_module=1
if [ -z "$have_module" ]; then
	skipped=$((skipped + 1))
	echo "ok $((n += 1)) kernel lists mape rules as written # SKIP kernel has no mape expression"
elif netns bash "$TMP/mape.sh" > "$TMP/out" 2>&1 &&
     diff -u "$TMP/mape.nft" "$TMP/mape.list" > "$TMP/diff" &&
     cmp -s "$TMP/mape.list" "$TMP/mape.list2" &&
     cmp -s "$TMP/mape.list" "$TMP/mape.list3" &&
     grep -qF '"mape": {"offset": 6, "length": 6, "psid": 41}' "$TMP/mape.json"; then
	ok "kernel lists mape rules as written, text and JSON reload"
else
	not_ok "kernel lists mape rules as written, text and JSON reload"
	diag "$TMP/out" "$TMP/diff" 2>/dev/null
fi

# --- nft -o keeps mape rules apart --------------------------------------------

# nft -o optimizes only after a check of the file as written passed, so
# only where the kernel takes mape rules. The plain rules merge; the mape
# ones, whose port sets a map of addresses would lose, do not. nft prints
# the check's expressions, the merge, then the optimized rules' ones.
ruleset ip 'ip saddr 10.0.0.1 snat to 192.0.2.1:mape 4/8/20' \
	   'ip saddr 10.0.0.2 snat to 192.0.2.2:mape 4/8/21' \
	   'ip saddr 10.0.0.3 snat to 192.0.2.9' \
	   'ip saddr 10.0.0.4 snat to 192.0.2.10' > "$TMP/opt.nft"
# the merged rule (a sed address: 1.1 prints the family, 1.0 does not)
OPT_MERGED='snat \(ip \)\{0,1\}to ip saddr map { 10.0.0.3 : 192.0.2.9, 10.0.0.4 : 192.0.2.10 }'
if [ -z "$have_module" ]; then
	skipped=$((skipped + 1))
	echo "ok $((n += 1)) nft -o merges around mape rules # SKIP kernel has no mape expression"
elif netns "$NFT" -o --debug=netlink -c -f "$TMP/opt.nft" > "$TMP/nl" 2>&1 &&
     [ "$(grep -c '^Merging:' "$TMP/nl")" = 1 ] &&
     ! sed -n '/^Merging:/,/^into:/p' "$TMP/nl" | grep -q mape &&
     [ "$(sed -n "/$OPT_MERGED/,\$p" "$TMP/nl" | grep -c '\[ mape ')" = 2 ]; then
	ok "nft -o merges around mape rules"
else
	not_ok "nft -o merges around mape rules"
	diag "$TMP/nl"
fi

# --- ordinary rulesets, for real, in a namespace ------------------------------

cat > "$TMP/plain.nft" <<'EOF'
table ip nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "eth0" ip protocol udp snat to 192.0.2.1:1024-65535 random,persistent
		oifname "eth1" snat to 192.0.2.1-192.0.2.4
		masquerade
	}
}
table inet filter {
	set allowed {
		type ipv4_addr
		elements = { 198.51.100.1, 203.0.113.7 }
	}

	chain input {
		type filter hook input priority filter; policy accept;
		ip saddr @allowed counter packets 0 bytes 0 accept
	}
}
table inet nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		meta nfproto ipv6 meta l4proto tcp snat ip6 to [2001:db8::1]:1024-65535
	}
}
EOF

cat > "$TMP/plain.sh" <<EOF
set -e
"$NFT" -f "$TMP/plain.nft"
"$NFT" list ruleset > "$TMP/plain.list"
/usr/sbin/nft list ruleset > "$TMP/plain.syslist" 2>/dev/null || cp "$TMP/plain.list" "$TMP/plain.syslist"
"$NFT" -j list ruleset > "$TMP/plain.json"
"$NFT" flush ruleset
"$NFT" -f "$TMP/plain.list"
"$NFT" list ruleset > "$TMP/plain.list2"
"$NFT" flush ruleset
"$NFT" -j -f "$TMP/plain.json"
"$NFT" list ruleset > "$TMP/plain.list3"
EOF
if netns bash "$TMP/plain.sh" > "$TMP/out" 2>&1 &&
   diff -u "$TMP/plain.nft" "$TMP/plain.list" > "$TMP/diff" &&
   cmp -s "$TMP/plain.list" "$TMP/plain.list2" &&
   cmp -s "$TMP/plain.list" "$TMP/plain.list3"; then
	ok "plain ruleset loads, lists unchanged, reloads from text and JSON"
else
	not_ok "plain ruleset loads, lists unchanged, reloads from text and JSON"
	diag "$TMP/out" "$TMP/diff" 2>/dev/null
fi
if cmp -s "$TMP/plain.list" "$TMP/plain.syslist"; then
	ok "plain ruleset lists as the system nft lists it"
else
	not_ok "plain ruleset lists as the system nft lists it"
fi
if jq -e '.nftables | map(select(.rule)) | length == 5' "$TMP/plain.json" > /dev/null 2>&1 ||
   python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if sum("rule" in o for o in d["nftables"]) == 5 else 1)' "$TMP/plain.json"; then
	ok "plain ruleset lists as JSON"
else
	not_ok "plain ruleset lists as JSON"
	diag "$TMP/plain.json"
fi

echo "1..$n"
echo "# $((n - failed - skipped)) passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
