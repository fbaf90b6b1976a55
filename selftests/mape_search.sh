#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The port search where it is hard: after a DNAT, under a flood toward a
# destination whose ports are all held, with a port freed during that
# flood, from both vCPUs near a full set (against stock snat in the same
# run), and when the translated address goes away. The server reports the
# ports it saw; the router's own counters (conntrack, nf_nat_mape) say
# what the NAT did.
#
#   client                  router                                 server
#   192.0.2.2/24 ---veth--- 192.0.2.1/24 | 198.51.100.1/24 ---veth--- 198.51.100.2/24
#                           nft: snat to 198.51.100.1:mape a/k/psid
#                           (one rule at a time), DNATs toward .2 where asked
. "$(dirname "$0")/lib.sh"
require_vm

NAT_ADDR=198.51.100.1
SERVER=198.51.100.2
ELSEWHERE=198.51.100.9		# no host: only DNATs make it the server
RULE=$MAPE_ROOT/build/tools/mape_rule
FLOWS=$MAPE_ROOT/build/tools/flows
CT_FREE=$MAPE_ROOT/build/tools/ct_free
test_workdir

# One destination (UDP port) per case, so that no case sees another's flows.
UDP_PORTS=$(seq 5360 5379)
setup() {
	local p
	mape_install_module && topo_crs $NAT_ADDR $SERVER || return 1
	HOPS="$client $router $server"
	for p in $UDP_PORTS; do
		ip netns exec "$server" "$FLOWS" serve udp "$p" &
	done
	ip netns exec "$server" "$FLOWS" serve tcp 8080 &
	ip netns exec "$server" "$FLOWS" serve tcp 20000 &
	# an FTP server: its banner (the ftp helper reads a server's lines only
	# after a first one), then its answer to PASV: data on .2:20000
	printf '%s\n' 'printf "220 ready\r\n"' 'read l' \
		'printf "227 Entering Passive Mode (198,51,100,2,78,32).\r\n"' 'sleep 10' \
		> "$OUT/pasv.sh"
	ip netns exec "$server" socat TCP-LISTEN:21,reuseaddr,fork EXEC:"sh $OUT/pasv.sh" &
	# freed_port reads the router's log lines: namespaces may log (the VM's)
	sysctl -qw net.netfilter.nf_log_all_netns=1 || return 1
	ip netns exec "$router" nft -f - <<-NFT || return 1
	table ip portmap {
		chain pre { type nat hook prerouting priority dstnat; }
		chain out { type nat hook output priority -100; }
	}
	table ip took {
		chain post { type filter hook postrouting priority srcnat + 10; }
	}
	table ip helpers {
		ct helper ftp-std { type "ftp" protocol tcp; }
		chain pre { type filter hook prerouting priority filter; }
	}
	NFT
	for p in $UDP_PORTS; do wait_listen "$server" u "$p" || return 1; done
	wait_listen "$server" t 8080 && wait_listen "$server" t 20000 &&
	wait_listen "$server" t 21
}

# set_rule A K PSID [FLAGS]: the router's only rule.
set_rule() {
	ip netns exec "$router" nft flush chain ip nat post &&
	ip netns exec "$router" "$RULE" nat post $NAT_ADDR "$@"
}

stat() { mape_stat "$router" "$1"; }

# hold NAME PORT N: N UDP flows from the client toward PORT, opened 1,000
# at a time and held in the background (HELD is the holder's pid) until
# unhold; returns once they are open (or failed).
hold() {
	local name=$1 port=$2 n=$3 steps="" left i
	for ((left = n; left > 0; left -= 1000)); do
		steps="$steps open:$((left > 1000 ? 1000 : left))"
	done
	# shellcheck disable=SC2086
	ip netns exec "$client" "$FLOWS" run udp $SERVER "$port" $steps hold:600 \
		> "$OUT/$name" &
	HELD=$!
	for i in $(seq 1 900); do
		grep -q '^hold' "$OUT/$name" && break
		sleep 0.1
	done
	ktap_note "$name:" $(awk '$1 == "open" { printf "%s ok %s, ", $2, $4 }' "$OUT/$name")
	[ "$(awk '$1 == "open" { ok += $4 } END { print ok + 0 }' "$OUT/$name")" = "$n" ] &&
	all_in_set "$OUT/$name" "$A" "$K" "$PSID"
}

unhold() { kill "$HELD" 2>/dev/null; wait "$HELD" 2>/dev/null; }

A=4 K=8 PSID=20		# 240 ports unless a case says otherwise

# --- a DNAT before the translation ---

# dnat_case HOW PORT: 200 flows held toward the server's PORT, then 40
# that reach it through a DNAT: from the LAN to .9 (prerouting), from the
# LAN to the router's own address (a port forward, reached from inside),
# or the router's own flows to .9 (output). 240 - 200 = 40 ports are left
# toward the server, and the search must count from the tuple after the
# DNAT to find exactly them: all 40 answered, no clash at confirm.
dnat_case() {
	local how=$1 port=$2 to=$ELSEWHERE from=$client chain=pre
	case $how in
	forward) to=$NAT_ADDR ;;
	output) from=$router chain=out ;;
	esac
	set_rule $A $K $PSID &&
	ip netns exec "$router" nft add rule ip portmap $chain \
		ip daddr "$to" udp dport "$port" dnat to $SERVER || return 1
	nat_mark "$router"
	hold "held-$port" "$port" 200 || { unhold; return 1; }
	ip netns exec "$from" "$FLOWS" run udp "$to" "$port" open:40 > "$OUT/dnat-$port"
	unhold
	ktap_note "$how: 40 flows to $to:$port, $(grep '^open' "$OUT/dnat-$port")"
	opened "$OUT/dnat-$port" 40 && all_in_set "$OUT/dnat-$port" $A $K $PSID &&
	nat_expect "$router" 0
}

# --- refused packets stay cheap ---

# flood_case A K PSID SIZE PORT MAX: the whole set held toward PORT, then
# 6,000 new-flow packets toward it at 3,000 per second: each is refused,
# at MAX conntrack lookups per refused packet on average at most (a full
# walk of the set at most every MAPE_MEMO_TTL_MS, a few probes between).
flood_case() {
	local a=$1 k=$2 psid=$3 size=$4 port=$5 max=$6 l0 e0 r0 l e r ms
	A=$a K=$k PSID=$psid
	set_rule $a $k $psid && hold "full-$port" "$port" "$size" || { unhold; return 1; }
	l0=$(stat lookups) e0=$(stat exhausted) r0=$(stat remembered)
	ip netns exec "$client" "$FLOWS" run udp $SERVER "$port" flood:6000:3000 > "$OUT/flood-$port"
	sleep 0.5
	l=$(( $(stat lookups) - l0 )) e=$(( $(stat exhausted) - e0 )) r=$(( $(stat remembered) - r0 ))
	ms=$(awk '$1 == "flood" { print $4 }' "$OUT/flood-$port")
	unhold
	ktap_note "P = $size: $e refused in $ms ms ($((e * 1000 / (ms > 0 ? ms : 1)))/s)," \
		"$l lookups, $((l / (e > 0 ? e : 1))).$(( (l * 10 / (e > 0 ? e : 1)) % 10 )) per refused packet" \
		"(at most $max), $r cut short as remembered full"
	time_bound [ "$e" -ge 5000 ] && time_bound [ "$l" -le $((max * e)) ]
}

# freed_port A K PSID SIZE PORT: during such a flood a held flow's entry
# is deleted at a random moment (ct_free marks it in the kernel log); the
# port goes to a flood packet within 100 ms (the router logs the packet
# that took it: the kernel log's own clock on both ends; at debug level,
# which dmesg reads and the VM's console, CI's log, leaves out).
freed_port() {
	local a=$1 k=$2 psid=$3 size=$4 port=$5 freed flood lat
	A=$a K=$k PSID=$psid
	set_rule $a $k $psid && hold "free-$port" "$port" "$size" || { unhold; return 1; }
	freed=$(seen_ports "$OUT/free-$port" | shuf -n 1)
	ip netns exec "$router" nft add rule ip took post \
		udp dport "$port" ct status snat log prefix \"took-$port: \" level debug || return 1
	ip netns exec "$client" "$FLOWS" run udp $SERVER "$port" flood:9000:3000 > /dev/null &
	flood=$!
	sleep "0.$((RANDOM % 9 + 1))"
	ip netns exec "$router" "$CT_FREE" udp $SERVER "$port" $NAT_ADDR "$freed"
	wait $flood
	unhold
	# Only a freed port can be taken: a "took" line may precede the marker,
	# written just after the deletion; that counts as 0 ms.
	lat=$(dmesg | awk -v f="ct_free: freed $freed\$" -v t="took-$port: .*DPT=$port " '
		{ ts = $0; sub(/^\[ */, "", ts); sub(/\].*/, "", ts); ts += 0 }
		$0 ~ f { t0 = ts } $0 ~ t && !t1 { t1 = ts }
		END { if (t0 && t1) { d = t1 - t0; if (d < 0) d = 0; printf "%d\n", d * 1000 } }')
	ktap_note "port $freed freed during a flood: taken again after ${lat:-never} ms"
	[ -n "$lat" ] || dmesg | grep -E "ct_free|took-" | tail -3 | sed 's/^/# /'
	[ -n "$lat" ] && time_bound [ "$lat" -le 100 ]
}

# --- two CPUs near a full set, against stock snat ---

# clashes RULE PORT PCT: fill PCT % of 240 ports toward PORT from two
# generators pinned to the two vCPUs at once; prints "answered clashes".
clashes() {
	local port=$2 each=$((240 * $3 / 200)) c0 c1 pid0
	ip netns exec "$router" nft flush chain ip nat post || return 1
	if [ "$1" = mape ]; then
		ip netns exec "$router" "$RULE" nat post $NAT_ADDR 4 8 20
	else
		ip netns exec "$router" nft add rule ip nat post \
			meta l4proto udp snat to $NAT_ADDR:20000-20239
	fi || return 1
	c0=$(ct_stat "$router" insert_failed)
	ip netns exec "$client" taskset -c 0 "$FLOWS" run udp $SERVER "$port" open:$each > "$OUT/c0-$port" &
	pid0=$!
	ip netns exec "$client" taskset -c 1 "$FLOWS" run udp $SERVER "$port" open:$each > "$OUT/c1-$port"
	wait $pid0
	c1=$(ct_stat "$router" insert_failed)
	echo "$(cat "$OUT/c0-$port" "$OUT/c1-$port" | awk '$1 == "open" { ok += $4 } END { print ok + 0 }')" \
		$((c1 - c0))
}

# Both contenders at 50 % and 95 % occupancy, interleaved: every mape flow
# is answered (a packet that lost a race at confirm is resent and searched
# again) and nothing is refused; the clash counts are reported side by side.
smp_against_snat() {
	local pct port=5370 m s e0 rc=0
	for pct in 50 95; do
		e0=$(stat exhausted)
		m=$(clashes mape $port "$pct") && s=$(clashes snat $((port + 1)) "$pct") || return 1
		ktap_note "$pct %: mape answered/clashes $m, snat $s, of $((240 * pct / 200 * 2)) flows"
		[ "${m% *}" = $((240 * pct / 200 * 2)) ] && [ "$(stat exhausted)" = "$e0" ] || rc=1
		port=$((port + 2))
	done
	return $rc
}

# --- the translated address goes ---

# 40 TCP connections held through mape; the router's address leaves wan0
# and comes back: their entries are dropped (as masquerade's are), and new
# connections get through. Those go to another port of the server: toward
# 8080 the server still holds the 40 old connections, and a new one whose
# port meets a stale socket gets through only once the client has reset
# it, a matter of timing and chance (kmod/mape_port.c, mape_try_mapped).
address_removed() {
	local n after rc
	set_rule 4 8 20 || return 1
	ip netns exec "$client" "$FLOWS" run tcp $SERVER 8080 open:40 hold:600 > "$OUT/tcp-held" &
	HELD=$!
	sleep 3
	opened "$OUT/tcp-held" 40 || { unhold; return 1; }
	n=$(entries_toward "$router" $NAT_ADDR)
	ip -n "$router" addr del $NAT_ADDR/24 dev wan0 &&
	after=$(entries_gone "$router" $NAT_ADDR "$(slow 1)") &&
	ip -n "$router" addr add $NAT_ADDR/24 dev wan0
	rc=$?
	ktap_note "entries toward $NAT_ADDR: $n before, $after after the address went"
	# counted before the holder goes: its sockets' FINs would make new entries
	ip netns exec "$client" "$FLOWS" run tcp $SERVER 20000 open:20 > "$OUT/tcp-after"
	unhold
	[ "$rc" = 0 ] && [ "$n" -ge 40 ] && [ "$after" = 0 ] && opened "$OUT/tcp-after" 20
}

# --- conntrack helpers ---

# ftp_passive HELPER SPORT: a passive FTP exchange from the client (the
# server's 227 reply names 198.51.100.2:20000), then the data connection
# from SPORT (outside the set); prints the source port the data server saw. HELPER yes: the router assigns the
# ftp helper to port 21 and has nf_nat_ftp (as a router that NATs FTP
# does), so the data connection is an expected one with its NAT preset.
ftp_passive() {
	local ctl
	set_rule 4 8 20 || return 1
	ip netns exec "$router" nft flush chain ip helpers pre
	[ "$1" = yes ] && { modprobe nf_nat_ftp && ip netns exec "$router" nft add rule ip helpers pre \
		tcp dport 21 ct helper set ftp-std || return 1; }
	coproc ctl { ip netns exec "$client" socat - TCP:$SERVER:21; }
	read -r -t 5 line <&"${ctl[0]}" || { echo "# no banner"; return 1; }
	echo "PASV" >&"${ctl[1]}"
	read -r -t 5 line <&"${ctl[0]}" || { echo "# no 227 reply"; return 1; }
	ip netns exec "$client" socat -T3 - TCP:$SERVER:20000,sourceport="$2" < /dev/null
	kill "$ctl_PID" 2>/dev/null
}

# Without a helper the data connection is a flow like any other: its port
# comes from the set.
ftp_without_helper() {
	local port
	port=$(ftp_passive no 30001) && ktap_note "data connection from port $port" &&
	[ -n "$port" ] && [ -z "$(echo "$port" | not_in_set 4 8 20)" ]
}

# With the ftp helper and nf_nat_ftp, the NAT core sets up the expected
# data connection itself (nf_nat_follow_master) before any NAT rule runs,
# keeping the client's own port, outside the set. The limit README
# documents; this case fails once that changes.
ftp_helper_known_limit() {
	local port
	port=$(ftp_passive yes 30000) && ktap_note "data connection from port $port" &&
	[ "$port" = 30000 ]
}

ktap_plan 14
ktap_test "setup" setup
ktap_test "dnat_prerouting_40_of_40_free_ports_found" dnat_case prerouting 5360
ktap_test "dnat_port_forward_from_lan_40_of_40" dnat_case forward 5361
ktap_test "dnat_output_40_of_40" dnat_case output 5362
ktap_test "flood_p240_refused_cheaply" flood_case 4 8 20 240 5363 32
ktap_test "flood_p1008_at_most_32_lookups_per_refusal" flood_case 6 6 41 1008 5364 32
ktap_test "flood_p4032_at_most_64_lookups_per_refusal" flood_case 6 4 9 4032 5365 64
ktap_test "freed_port_taken_within_100ms_p1008" freed_port 6 6 41 1008 5366
ktap_test "freed_port_taken_within_100ms_p240" freed_port 4 8 20 240 5367
ktap_test "smp_50_and_95_pct_against_snat" smp_against_snat
ktap_test "address_removed_flows_dropped" address_removed
ktap_test "ftp_data_without_helper_from_the_set" ftp_without_helper
ktap_test "ftp_helper_expected_flow_outside_set_known_limit" ftp_helper_known_limit
ktap_test "no_stray_counts_in_init_netns" [ "$(awk 'NR > 1 { s += $2 } END { print s + 0 }' /proc/net/stat/nf_nat_mape)" = 0 ]
ktap_finish
