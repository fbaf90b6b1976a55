#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Namespaces and lifecycle: two routers with different PSIDs at once, each
# counting only its own flows; a translated connection outliving its rule
# and the module; a router namespace deleted under live flows.
#
#   client1 -- router1 (snat to 198.51.100.1:mape 4/8/20) --\
#                                                            server
#   client2 -- router2 (snat to 203.0.113.1:mape 4/8/21) ---/  .2 on both
. "$(dirname "$0")/lib.sh"
require_vm

RULE=$MAPE_ROOT/build/tools/mape_rule
FLOWS=$MAPE_ROOT/build/tools/flows
OUT=$(mktemp -d)

cleanup() {
	[ -n "${COPROC_PID:-}" ] && kill "$COPROC_PID" 2>/dev/null
	ns_cleanup
	rm -rf "$OUT"
}
trap cleanup EXIT

# side N WAN_NET: clientN and routerN, routerN's WAN on WAN_NET.0/24.
side() {
	local n=$1 net=$2 c r
	ns_create c$n && ns_create r$n || return 1
	eval "c=\$c$n r=\$r$n"
	veth_link "$c" eth0 192.0.2.2/24 "$r" lan0 192.0.2.1/24 &&
	veth_link "$r" wan0 $net.1/24 "$server" eth$n $net.2/24 &&
	ip -n "$c" route add default via 192.0.2.1 &&
	ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1 &&
	ip netns exec "$r" nft add table ip nat &&
	ip netns exec "$r" nft add chain ip nat post \
		'{ type nat hook postrouting priority srcnat; }' &&
	ip netns exec "$r" nft add table ip filter &&
	ip netns exec "$r" nft add chain ip filter forward \
		'{ type filter hook forward priority 0; }' &&
	ip netns exec "$r" nft add rule ip filter forward ct state established,related accept
}

setup() {
	mape_install_module && ns_create server &&
	side 1 198.51.100 && side 2 203.0.113 || return 1
	ip netns exec "$server" "$FLOWS" serve udp 5353 &
	ip netns exec "$server" "$FLOWS" serve tcp 8080 &
	ip netns exec "$server" socat TCP-LISTEN:9000,reuseaddr,fork EXEC:cat &
	wait_listen "$server" u 5353 && wait_listen "$server" t 8080 &&
	wait_listen "$server" t 9000
}

add_rules() {
	ip netns exec "$r1" "$RULE" nat post 198.51.100.1 4 8 20 &&
	ip netns exec "$r2" "$RULE" nat post 203.0.113.1 4 8 21
}

two_psids_at_once() {
	add_rules || return 1
	ip netns exec "$c1" "$FLOWS" run udp 198.51.100.2 5353 open:200 > "$OUT/1" &
	ip netns exec "$c2" "$FLOWS" run udp 203.0.113.2 5353 open:200 > "$OUT/2" &
	wait $!
	wait %-
	opened "$OUT/1" 200 && opened "$OUT/2" 200 &&
	all_in_set "$OUT/1" 4 8 20 && all_in_set "$OUT/2" 4 8 21
}

counters_per_netns() {
	[ "$(mape_stat "$r1" translated)" = 200 ] &&
	[ "$(mape_stat "$r2" translated)" = 200 ] &&
	[ "$(mape_stat "$server" translated)" = 0 ]
}

open_long_connection() {
	coproc ip netns exec "$c1" socat - TCP:198.51.100.2:9000
	sleep 0.5
	echo_line before
}

# The rules go (the chains stay, and the forward chain's ct rule keeps
# conntrack on, as on any router), then the module: the connection's
# translation lives in conntrack, not in nf_nat_mape.
survives_rule_and_module_removal() {
	ip netns exec "$r1" nft flush chain ip nat post || { echo "# flush 1"; return 1; }
	ip netns exec "$r2" nft flush chain ip nat post || { echo "# flush 2"; return 1; }
	modprobe -r nf_nat_mape || { echo "# modprobe -r"; lsmod | grep mape; return 1; }
	! grep -q "^nf_nat_mape " /proc/modules || { echo "# still loaded"; return 1; }
	echo_line after || { echo "# echo after failed"; return 1; }
}

# Delete a router namespace while 100 TCP flows through it are open.
netns_teardown_with_live_flows() {
	local i
	add_rules || return 1
	ip netns exec "$c2" "$FLOWS" run tcp 203.0.113.2 8080 open:100 hold:20 > "$OUT/live" &
	for i in $(seq 1 100); do
		grep -q '^open' "$OUT/live" && break
		sleep 0.1
	done
	opened "$OUT/live" 100 || return 1
	ns_delete "$r2" || return 1
	sleep 1
	kill %?"$FLOWS" 2>/dev/null
	ip netns exec "$r1" nft flush chain ip nat post && modprobe -r nf_nat_mape
}

ktap_plan 6
ktap_test "setup" setup
ktap_test "two_namespaces_two_psids_at_once" two_psids_at_once
ktap_test "counters_are_per_netns" counters_per_netns
ktap_test "long_connection_open" open_long_connection
ktap_test "connection_survives_rule_and_module_removal" survives_rule_and_module_removal
ktap_test "netns_deleted_under_live_flows_then_rmmod" netns_teardown_with_live_flows
ktap_finish
