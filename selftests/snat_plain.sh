#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Plain nft snat through three namespaces, as the baseline the mape
# expression will be measured against. The receiver reports the source
# address and port it sees; the test checks them against the rule's range.
#
#   client                  router                              server
#   192.0.2.2/24 ---veth--- 192.0.2.1/24 | 198.51.100.1/24 ---veth--- 198.51.100.2/24
#                           nft: oif to server: snat to 198.51.100.1:40000-40009
. "$(dirname "$0")/lib.sh"
require_vm

NAT_ADDR=198.51.100.1
LO=40000
HI=40009
SERVER=198.51.100.2

trap ns_cleanup EXIT
setup() {
	topo_crs $NAT_ADDR $SERVER &&
	ip netns exec "$router" nft add rule ip nat post \
		oifname wan0 meta l4proto { tcp, udp } snat to $NAT_ADDR:$LO-$HI
}

# Each server echoes "peer-address peer-port" of what it received; the TCP
# one then holds the connection a while, so the test's flows overlap. A
# UDP child has read its one datagram at once and then waits only -t for
# its answer (0.5 s by default, less than a debug kernel takes to fork
# the shell: "echo: I/O error" and no answer).
start_servers() {
	ip netns exec "$server" socat TCP-LISTEN:8080,reuseaddr,fork \
		SYSTEM:'echo $SOCAT_PEERADDR $SOCAT_PEERPORT; sleep 4' &
	ip netns exec "$server" socat -t "$(slow 2)" UDP-RECVFROM:5353,fork \
		SYSTEM:'echo $SOCAT_PEERADDR $SOCAT_PEERPORT' &
	wait_listen "$server" t 8080 && wait_listen "$server" u 5353
}

# flow PROTO SPORT: one flow from source port SPORT; prints what the
# server saw (a UDP query resent as udp_ask does: CI once lost one of
# three under two VMs' load). The TCP client only reads ("-u"): an EOF
# from it would give the server socat 0.5 s to finish, less than a debug
# kernel takes to fork its answer.
flow() {
	case "$1" in
	tcp) ip netns exec "$client" socat -u -T6 \
		TCP:$SERVER:8080,sourceport=$2,connect-timeout=3 - ;;
	udp) udp_ask "$client" $SERVER 5353 "$2" ;;
	esac
}

# Three flows at once from ports outside the range: each must arrive from
# NAT_ADDR with a port inside LO..HI, and no two live flows on one port.
# (Ports of closed TCP flows may be reused: kernels since 6.5 take over a
# TIME_WAIT holder's port.)
check_proto() {
	local proto=$1 sport addr port ports="" dir pids=""
	dir=$(mktemp -d)
	for sport in 5555 5556 5557; do
		flow "$proto" $sport > "$dir/$sport" &
		pids="$pids $!"
	done
	wait $pids
	for sport in 5555 5556 5557; do
		read -r addr port < "$dir/$sport"
		ktap_note "$proto from :$sport arrived as $addr:$port"
		[ "$addr" = "$NAT_ADDR" ] || return 1
		[ -n "$port" ] && [ "$port" -ge $LO ] && [ "$port" -le $HI ] || return 1
		case " $ports " in *" $port "*) return 1 ;; esac
		ports="$ports $port"
	done
	rm -rf "$dir"
}

ktap_plan 4
ktap_test "netns_topology_with_snat_rule" setup
ktap_test "servers_listening" start_servers
ktap_test "tcp_source_translated_into_range" check_proto tcp
ktap_test "udp_source_translated_into_range" check_proto udp
ktap_finish
