#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The user's view: rules written in nft syntax with the patched nft
# (build/nft/sbin/nft, "make nft"), traffic through them, the listing, and
# the listing loaded back.
#
#   client                  router                                 server
#   192.0.2.2/24 ---veth--- 192.0.2.1/24 | 198.51.100.1/24 ---veth--- 198.51.100.2/24
#                           ip nat:   snat to 198.51.100.1:mape 4/8/20
#                           inet nat: snat ip to 198.51.100.1:mape 6/6/41 random
. "$(dirname "$0")/lib.sh"
require_vm

NFT=$MAPE_ROOT/build/nft/sbin/nft
FLOWS=$MAPE_ROOT/build/tools/flows
MAPECALC=$MAPE_ROOT/tools/mapecalc/mapecalc
NAT_ADDR=198.51.100.1
SERVER=198.51.100.2
OUT=$(mktemp -d)

if [ ! -x "$NFT" ]; then
	ktap_plan 1
	ktap_skip "nft_mape.sh" "no patched nft: make nft"
	exit $KSFT_SKIP
fi

cleanup() { ns_cleanup; rm -rf "$OUT"; }
trap cleanup EXIT

rnft() { ip netns exec "$router" "$NFT" "$@"; }

setup() {
	mape_install_module && topo_crs $NAT_ADDR $SERVER || return 1
	ip netns exec "$server" "$FLOWS" serve tcp 8080 &
	ip netns exec "$server" "$FLOWS" serve tcp 8081 &
	ip netns exec "$server" "$FLOWS" serve udp 3500 &
	wait_listen "$server" t 8080 && wait_listen "$server" t 8081 &&
	wait_listen "$server" u 3500
}

flows_in() {
	local name=$1 port=$2
	shift 2
	ip netns exec "$client" "$FLOWS" run tcp $SERVER $port open:50 > "$OUT/$name" &&
	all_in_set "$OUT/$name" "$@"
}

listed() { rnft list ruleset | grep -qF "$1" || { rnft list ruleset | sed 's/^/# /'; return 1; }; }

# The listing, flushed and loaded again, lists the same.
reloads() {
	rnft list ruleset > "$OUT/before" && rnft flush ruleset &&
	rnft -f "$OUT/before" && rnft list ruleset > "$OUT/after" &&
	diff -u "$OUT/before" "$OUT/after"
}

to_inet() {
	rnft delete table ip nat && rnft -f - <<-NFT
	table inet nat {
		chain post {
			type nat hook postrouting priority srcnat;
			meta nfproto ipv4 snat ip to $NAT_ADDR:mape 6/6/41 random
		}
	}
	NFT
}

json_shows_mape() { rnft -j list ruleset | grep -q '"mape": *{ *"offset": *6, *"length": *6, *"psid": *41'; }

random_kept_nothing() { [ "$(mape_stat "$router" kept)" = "$1" ]; }

# nft refuses bad parameters itself, naming the problem, and the kernel
# never sees them (no new "rule rejected" line in its log).
nft_refuses() {
	local rule=$1 want=$2 before after
	before=$(dmesg | grep -c 'rule rejected')
	rnft add rule inet nat post meta nfproto ipv4 snat ip to $rule 2> "$OUT/err" && return 1
	sed 's/^/# /' "$OUT/err"
	after=$(dmesg | grep -c 'rule rejected')
	grep -qF "$want" "$OUT/err" && [ "$before" = "$after" ]
}

# Full cone written in nft, as mapecalc -f nft --fullcone writes it for
# this router (wan0 as the tunnel; the rule's prefix gives 198.51.100.1
# and 4/8/20): the same rule in prerouting and postrouting. The client's
# socket asks the server once, and then a datagram from another port of
# the server reaches it at the port it was mapped to.
fullcone_in_nft_syntax() {
	local p c0
	"$MAPECALC" -f nft --fullcone --tunnel wan0 --rule-ipv6 2001:db8::/40 \
		--rule-ipv4 198.51.100.0/24 --ea-len 16 --psid-offset 4 \
		2001:db8:1:1400::/56 > "$OUT/cone.nft" &&
	rnft flush ruleset && rnft -f "$OUT/cone.nft" || return 1
	listed "iifname \"wan0\" snat to $NAT_ADDR:mape 4/8/20 fullcone" || return 1
	c0=$(mape_stat "$router" cone_in)
	p=$(udp_listen "$client" 40700 $SERVER:3500) &&
	udp_knock "$server" $SERVER:4460 $NAT_ADDR:"$p" && udp_heard 40700 knock-4460 || return 1
	ktap_note ":40700 mapped to :$p heard the knock; cone_in +$(( $(mape_stat "$router" cone_in) - c0 ))"
	[ "$(mape_stat "$router" cone_in)" = $((c0 + 1)) ] &&
	[ -z "$(echo "$p" | not_in_set 4 8 20)" ]
}

# tests/nft/run.sh once more, now that the kernel takes mape rules: the
# kernel's own listing and nft -o, which it skips elsewhere, run here.
nft_tests_with_module() {
	local rc

	"$MAPE_ROOT/tests/nft/run.sh" > "$OUT/nft-tests" 2>&1
	rc=$?
	grep -E '^not ok|# SKIP|^# [0-9]+ passed' "$OUT/nft-tests" | sed 's/^/# /'
	[ $rc = 0 ] && ! grep -q '# SKIP' "$OUT/nft-tests"
}

ktap_plan 17
ktap_test "setup" setup
ktap_test "ip_rule_in_nft_syntax" rnft add rule ip nat post oifname wan0 snat to $NAT_ADDR:mape 4/8/20
ktap_test "ip_rule_listed_back" listed "oifname \"wan0\" snat to $NAT_ADDR:mape 4/8/20"
ktap_test "ip_rule_translates_into_set" flows_in ip 8080 4 8 20
ktap_test "listing_loads_back_identically" reloads
k0=$(mape_stat "$router" kept)
ktap_test "inet_rule_with_random" to_inet
ktap_test "inet_rule_listed_back" listed "meta nfproto ipv4 snat ip to $NAT_ADDR:mape 6/6/41 random"
ktap_test "inet_rule_translates_into_set" flows_in inet 8081 6 6 41
ktap_test "random_kept_no_original_port" random_kept_nothing "$k0"
ktap_test "inet_listing_loads_back_identically" reloads
ktap_test "json_listing_shows_mape" json_shows_mape
ktap_test "nft_refuses_offset_plus_length_over_16" nft_refuses "$NAT_ADDR:mape 4/14/3" "PSID offset + PSID length exceed 16 bits"
ktap_test "nft_refuses_psid_too_big" nft_refuses "$NAT_ADDR:mape 4/8/256" "PSID does not fit"
ktap_test "nft_refuses_empty_set" nft_refuses "$NAT_ADDR:mape 0/6/0" "port set is empty"
ktap_test "nft_refuses_fullcone_without_a_set" nft_refuses "$NAT_ADDR fullcone" "fullcone needs a MAP-E port set"
ktap_test "mapecalc_fullcone_nft_rules_deliver" fullcone_in_nft_syntax
ktap_test "nft_tests_with_the_module" nft_tests_with_module
ktap_finish
