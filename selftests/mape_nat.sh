#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Traffic through the mape expression. The server reports the source port
# each flow arrived with (tools/flows), or its own conntrack shows the ICMP
# id and address; the test checks them against the port set computed apart
# from the module (not_in_set in lib.sh).
#
#   client                  router                                 server
#   192.0.2.2/24 ---veth--- 192.0.2.1/24 | 198.51.100.1/24 ---veth--- 198.51.100.2/24
#                           nft: snat to 198.51.100.1:mape a/k/psid
#                           (one rule at a time, set by each case)
. "$(dirname "$0")/lib.sh"
require_vm

NAT_ADDR=198.51.100.1
SERVER=198.51.100.2
RULE=$MAPE_ROOT/build/tools/mape_rule
FLOWS=$MAPE_ROOT/build/tools/flows
test_workdir

# Servers: one destination (protocol, port) per case, so that the cases'
# flows never share a destination; the server's conntrack is on, for the
# ICMP ids and portless packets it saw.
TCP_PORTS="8080 8081 8082"
UDP_PORTS="5353 5354 5355 5356 5357 5358 5359"
setup() {
	local p
	mape_install_module && topo_crs $NAT_ADDR $SERVER || return 1
	HOPS="$client $router $server"
	for p in $TCP_PORTS; do
		ip netns exec "$server" "$FLOWS" serve tcp $p &
	done
	for p in $UDP_PORTS; do
		ip netns exec "$server" "$FLOWS" serve udp $p &
	done
	# the server's conntrack shows ICMP ids; "leaked" counts what arrives
	# untranslated (any other source than the NAT address)
	ip netns exec "$server" nft -f - <<-NFT || return 1
	table ip seen {
		counter leaked {}
		chain c {
			type filter hook prerouting priority 0;
			ct state new counter
			ip saddr != $NAT_ADDR counter name leaked
		}
	}
	NFT
	for p in $TCP_PORTS; do wait_listen "$server" t $p || return 1; done
	for p in $UDP_PORTS; do wait_listen "$server" u $p || return 1; done
}

# set_rule A K PSID [FLAGS]: the router's only rule.
set_rule() {
	ip netns exec "$router" nft flush chain ip nat post &&
	ip netns exec "$router" "$RULE" nat post $NAT_ADDR "$@"
}

stat() { mape_stat "$router" "$1"; }

flows_in_set() {
	local proto=$1 port=$2
	set_rule 4 8 20 && nat_mark "$router" &&
	run_flows "$proto-$port" "$proto" "$port" open:100 &&
	opened "$OUT/$proto-$port" 100 && all_in_set "$OUT/$proto-$port" 4 8 20 &&
	nat_expect "$router" 0
}

# Five pings (five ids); the ids the server's conntrack saw are in the set.
icmp_ids_in_set() {
	local i ids bad
	set_rule 4 8 20 || return 1
	for i in 1 2 3 4 5; do
		ip netns exec "$client" ping -c1 -W2 $SERVER > /dev/null || return 1
	done
	ids=$(ip netns exec "$server" conntrack -L -p icmp 2>/dev/null |
		sed -n 's/.*src=\([0-9.]*\) .* id=\([0-9]*\) src=.*/\1 \2/p')
	ktap_note "icmp ids seen at the server: $(echo $ids)"
	[ "$(echo "$ids" | awk '$1 == "'$NAT_ADDR'"' | wc -l)" = 5 ] || return 1
	bad=$(echo "$ids" | awk '{ print $2 }' | not_in_set 4 8 20)
	[ -z "$bad" ]
}

# udp_from SPORT PORT: one UDP flow from SPORT; prints the port seen. A
# port outside the set is first replaced by the one its endpoint had, else
# by the one the endpoint hashes to (mapping, mape_nattype.sh).
udp_from() {
	udp_ask "$client" $SERVER "$2" "$1"
}

# A flow whose port is outside the set, tried again once the router has
# lost its entry (a reboot, an address that came back; the client and the
# server still hold theirs): the retry gets the same translated port, so
# the server sees the same flow. A port drawn anew would match with
# probability 1/120 (from the CPU's stripe of the set, mape_walk).
same_port_for_each_try() {
	local first again
	set_rule 4 8 20 && first=$(udp_from 30002 5359) || return 1
	ip netns exec "$router" conntrack -D -p udp --orig-port-src 30002 > /dev/null 2>&1
	again=$(udp_from 30002 5359) || return 1
	ktap_note "from :30002 (outside the set) arrived as :$first, then as :$again"
	[ -n "$first" ] && [ -z "$(echo "$first" | not_in_set 4 8 20)" ] && [ "$first" = "$again" ]
}

keeps_original_port() {
	local k0 seen
	set_rule 4 8 20 && k0=$(stat kept) && seen=$(udp_from 4420 5358) &&
	ktap_note "from :4420 (in the set) arrived as :$seen" &&
	[ "$seen" = 4420 ] && [ "$(stat kept)" = $((k0 + 1)) ]
}

# random / fully-random: even a port already in the set is not kept.
# Three flows from three ports of the set: a random choice lands on its
# own client port with probability 1/240 each, on all three (240^-3)
# never in practice.
random_does_not_keep() {
	local flags=$1 sport seen kept=0
	set_rule 4 8 20 "$flags" || return 1
	for sport in $2 $(($2 + 1)) $(($2 + 2)); do
		seen=$(udp_from $sport 5358) || return 1
		ktap_note "flags $flags: from :$sport arrived as :$seen"
		[ -z "$(echo "$seen" | not_in_set 4 8 20)" ] || return 1
		[ "$seen" != "$sport" ] || kept=$((kept + 1))
	done
	[ "$kept" -lt 3 ]
}

# Exactly P flows toward one destination get ports, in the set; flow P+1
# is never answered (nor its resends) and is counted as refused. Flow P+1
# is opened while the first P sockets are still held, so the client cannot
# reuse one of their 5-tuples (which would be an old flow, not a new one).
exhaustion() {
	local a=$1 k=$2 psid=$3 size=$4 port=$5 l0
	set_rule $a $k $psid && nat_mark "$router" && l0=$(leaked) &&
	run_flows "full-$port" udp $port open:$size wait:2000 open:1
	grep -q "^open $size ok $size failed 0" "$OUT/full-$port" &&
	opened "$OUT/full-$port" 0 &&
	all_in_set "$OUT/full-$port" $a $k $psid && nat_expect "$router" + &&
	[ "$(leaked)" = "$l0" ]
}

# Packets that reached the server untranslated.
leaked() { nft_packets "$server" leaked; }

second_destination_served() {
	run_flows other udp 5355 open:1 && opened "$OUT/other" 1 &&
	all_in_set "$OUT/other" 4 8 20
}

# 200 connections through 240 ports, 150 closed by the client (TIME_WAIT
# on the router), 150 new ones: all must connect.
tcp_churn() {
	local t0
	set_rule 4 8 20 && t0=$(stat takeover) &&
	run_flows churn tcp 8081 open:200 close:150 hold:1 open:150 &&
	opened "$OUT/churn" 150 && all_in_set "$OUT/churn" 4 8 20 || return 1
	ktap_note "closing holders taken over: $(( $(stat takeover) - t0 ))"
}

# Every port of the set in TIME_WAIT, closed by the client: the server
# holds nothing of those flows, so each new connection may take one over
# whatever its sequence number. All P new ones must connect.
tcp_churn_whole_set() {
	local t0
	set_rule 4 8 20 && t0=$(stat takeover) &&
	run_flows churn-all tcp 8082 open:240 close:240 hold:1 open:240 &&
	opened "$OUT/churn-all" 240 && all_in_set "$OUT/churn-all" 4 8 20 || return 1
	ktap_note "closing holders taken over: $(( $(stat takeover) - t0 ))"
	[ "$(stat takeover)" -ge $((t0 + 240)) ]
}

# 20 flows, each toward a destination port of its own (bash's /dev/udp,
# one new socket each): each search finds its first port free, so exactly
# one conntrack lookup per flow (a flow keeping its own port costs one too).
counters_match() {
	local t0 l0 e0 p0
	set_rule 4 8 20 || return 1
	t0=$(stat translated) l0=$(stat lookups) e0=$(stat exhausted) p0=$(stat portless)
	ip netns exec "$client" bash -c \
		"for p in \$(seq 7001 7020); do echo q > /dev/udp/$SERVER/\$p; done" || return 1
	sleep 0.5
	ktap_note "20 flows: translated +$(( $(stat translated) - t0 )), lookups +$(( $(stat lookups) - l0 ))"
	[ "$(stat translated)" = $((t0 + 20)) ] && [ "$(stat lookups)" = $((l0 + 20)) ] &&
	[ "$(stat exhausted)" = "$e0" ] && [ "$(stat portless)" = "$p0" ]
}

# A protocol without ports: the BR could not route it back when k > 0.
send_proto_253() {
	echo x | ip netns exec "$client" socat -u - IP4-SENDTO:$SERVER:253
}

portless_dropped() {
	local p0
	set_rule 4 8 20 && p0=$(stat portless) && send_proto_253 &&
	[ "$(stat portless)" = $((p0 + 1)) ]
}

portless_address_only_with_k0() {
	set_rule 6 0 0 && send_proto_253 && sleep 0.2 &&
	ip netns exec "$server" conntrack -L 2>/dev/null |
		grep -q "^unknown .* 253 .*src=$NAT_ADDR dst=$SERVER"
}

ktap_plan 18
ktap_test "setup" setup
ktap_test "tcp_ports_in_set_and_distinct" flows_in_set tcp 8080
ktap_test "udp_ports_in_set_and_distinct" flows_in_set udp 5353
ktap_test "icmp_ids_in_set" icmp_ids_in_set
ktap_test "original_port_kept_when_in_set" keeps_original_port
ktap_test "same_port_for_each_try_of_a_flow" same_port_for_each_try
ktap_test "random_does_not_keep_original" random_does_not_keep 4 4421
ktap_test "fully_random_does_not_keep_original" random_does_not_keep 16 4424
ktap_test "v6plus_4_8_exactly_240_then_drop" exhaustion 4 8 20 240 5354
ktap_test "second_destination_still_served" second_destination_served
ktap_test "ocn_6_6_exactly_1008_then_drop" exhaustion 6 6 41 1008 5356
ktap_test "tcp_churn_200_close_150_open_150" tcp_churn
ktap_test "tcp_client_closed_whole_set_taken_over" tcp_churn_whole_set
ktap_test "counters_match_flows" counters_match
ktap_test "portless_dropped_when_k_over_0" portless_dropped
ktap_test "portless_address_only_when_k_0" portless_address_only_with_k0
ktap_test "nothing_reached_the_server_untranslated" [ "$(leaked)" = 0 ]
ktap_test "no_stray_counts_in_init_netns" [ "$(awk 'NR > 1 { s += $2 } END { print s + 0 }' /proc/net/stat/nf_nat_mape)" = 0 ]
ktap_finish
