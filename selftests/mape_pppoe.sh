#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# PPPoE beside MAP-E on one router, set up with what mapecalc prints, over
# a real PPPoE session: Debian's pppoe-server at the ISP, Debian's pppd with
# the kernel's PPPoE on the CE, and Debian's /etc/ppp/ip-up running the
# ip-up.d script of mapecalc -f pppoe.
#
#  lan1 192.168.1.2 --- lan0 \          wan0 ==mape0 (IPv4 in IPv6)== br --- 203.0.113.1
#                             ce                                               inet 203.0.113.2
#  lan2 192.168.2.2 --- lan1 /          wan1 -- PPPoE -- isp 198.18.0.1 ------ 198.18.0.2
#                             ppp0 198.51.100.2    (pppoe-server, 198.51.100.1)
#
# lan2 is chosen for PPPoE (--via-pppoe 192.168.2.2), and so is TCP port
# 8443 for every LAN host (--pppoe-port 8443); lan1 leaves by MAP-E. The
# CE forwards TCP 8081 on the PPPoE address, and a port of its set on the
# MAP-E address, to lan1:8080, and serves TCP 2222 itself. inet counts
# what reaches it per source address and the MSS of SYNs; the BR counts
# what it relays from the CE and drops (and counts) any port outside the
# CE's set or any other source address: its set comes from awk (lib.sh
# set_ranges), not from the module.
. "$(dirname "$0")/lib.sh"
require_vm

FLOWS=$MAPE_ROOT/build/tools/flows
MAPECALC=$MAPE_ROOT/tools/mapecalc/mapecalc
PREFIX=240b:10:abcd:ef00::/56
SRV=203.0.113.2
PPP_ADDR=198.51.100.2
PPP_PEER=198.51.100.1
LAN1=192.168.1.2
LAN2=192.168.2.2
test_workdir

eval "$("$MAPECALC" -f shell "$PREFIX")" || exit 1
A=$MAPE_PSID_OFFSET K=$MAPE_PSID_LEN PSID=$MAPE_PSID
FWD_MAPE=$(( $(set_ranges $A $K $PSID | cut -d- -f1) + 1 ))

cleanup() {
	test_cleanup
	rm -rf "/etc/netns/$ce" "/etc/netns/$isp"
}
trap cleanup EXIT

# --- the Internet: inet, the BR, the ISP ---

br_setup() {
	mape_br_inet $SRV && ns_create isp || return 1
	ip netns exec "$br" nft -f - <<-NFT
	table ip br {
		set own { type inet_service; flags interval; elements = { $(set_ranges $A $K $PSID) } }
		counter relayed {}
		counter outside {}
		chain relay {
			type filter hook forward priority filter; policy accept;
			iifname "tun" counter name relayed
			iifname "tun" ip saddr != $MAPE_IPV4 counter name outside drop
			iifname "tun" meta l4proto { tcp, udp } th sport != @own counter name outside drop
		}
	}
	NFT
}

isp_setup() {
	veth_link "$isp" inet0 198.18.0.1/30 "$inet" isp0 198.18.0.2/30 &&
	ip -n "$isp" route add default via 198.18.0.2 &&
	ip -n "$inet" route add 198.51.100.0/24 via 198.18.0.1 &&
	ip netns exec "$isp" sysctl -qw net.ipv4.ip_forward=1 || return 1
	# what inet sees: per source address, and SYNs' MSS
	ip netns exec "$inet" nft -f - <<-NFT
	table ip seen {
		counter from_ppp {}
		counter from_mape {}
		counter syn_ppp {}
		counter mss_ppp_big {}
		chain in {
			type filter hook input priority filter; policy accept;
			ip saddr $PPP_ADDR counter name from_ppp
			ip saddr $MAPE_IPV4 counter name from_mape
			ip saddr $PPP_ADDR tcp flags & (syn | ack) == syn counter name syn_ppp
			ip saddr $PPP_ADDR tcp flags & (syn | ack) == syn tcp option maxseg size > 1452 counter name mss_ppp_big
		}
	}
	NFT
}

# pppoe-server in user mode (Debian 12's has no kernel mode), with PAP:
# its pppd reads the namespace's own /etc/ppp (ip netns exec mounts
# /etc/netns/ISP/ppp there).
pppoe_server() {
	local etc=/etc/netns/$isp/ppp
	mkdir -p "$etc" &&
	printf 'require-pap\nifname isp0\nlcp-echo-interval 1\nlcp-echo-failure %s\nlogfile %s\n' \
		"$(slow 3)" "$OUT/isp-pppd.log" > "$etc/pppoe-server-options" &&
	printf '"ce" * "secret" *\n' > "$etc/pap-secrets" && chmod 600 "$etc/pap-secrets" &&
	ip link add wan1 netns "$ce" type veth peer name ce0 netns "$isp" &&
	ip -n "$ce" link set wan1 up && ip -n "$isp" link set ce0 up || return 1
	ip netns exec "$isp" pppoe-server -F -I ce0 -L $PPP_PEER -R $PPP_ADDR -N 1 \
		-O /etc/ppp/pppoe-server-options > "$OUT/pppoe-server.log" 2>&1 &
}

# --- the CE: MAP-E as README says, then mapecalc -f pppoe ---

ce_setup() {
	ns_create ce && ns_create lan1 && ns_create lan2 || return 1
	veth_link "$lan1" eth0 $LAN1/24 "$ce" lan0 192.168.1.1/24 &&
	veth_link "$lan2" eth0 $LAN2/24 "$ce" lan1 192.168.2.1/24 &&
	ip -n "$lan1" route add default via 192.168.1.1 &&
	ip -n "$lan2" route add default via 192.168.2.1 &&
	mape_wan_link "$ce" "$br" ce &&
	"$MAPECALC" -f ip --wan wan0 "$PREFIX" > "$OUT/tunnel.sh" &&
	ip netns exec "$ce" sh -e "$OUT/tunnel.sh" &&
	"$MAPECALC" -f iptables "$PREFIX" > "$OUT/rules.v4" &&
	ip netns exec "$ce" iptables-restore < "$OUT/rules.v4" &&
	mape_br_tunnel "$br" tun ce "$MAPE_CE" "$MAPE_BR" "$MAPE_IPV4" "$MAPE_MTU"
}

# The three files, installed where a user puts them: the sysctls and the
# table in the CE's namespace, the script in its own copy of Debian's
# /etc/ppp (ip-up runs ip-up.d).
pppoe_config() {
	mkdir -p "$OUT/pppoe" &&
	"$MAPECALC" -f pppoe --output-dir "$OUT/pppoe" --via-pppoe $LAN2 --pppoe-port 8443 \
		"$@" "$PREFIX" > /dev/null &&
	ip netns exec "$ce" sysctl -q -p "$OUT/pppoe/60-mape-pppoe.conf" > /dev/null &&
	ip netns exec "$ce" nft -f "$OUT/pppoe/mape-pppoe.nft" &&
	mkdir -p "/etc/netns/$ce" && rm -rf "/etc/netns/$ce/ppp" &&
	cp -a /etc/ppp "/etc/netns/$ce/ppp" &&
	install -m 755 "$OUT/pppoe/50-mape-pppoe" "/etc/netns/$ce/ppp/ip-up.d/"
}

# The user's own forwards and the router's own service.
ce_services() {
	ip netns exec "$ce" nft -f - <<-NFT || return 1
	table ip forwards {
		chain pre {
			type nat hook prerouting priority dstnat; policy accept;
			iifname "ppp0" tcp dport 8081 dnat to $LAN1:8080
			iifname "mape0" tcp dport $FWD_MAPE dnat to $LAN1:8080
		}
	}
	NFT
	ip netns exec "$ce" "$FLOWS" serve tcp 2222 &
	ip netns exec "$lan1" "$FLOWS" serve tcp 8080 &
	ip netns exec "$inet" "$FLOWS" serve tcp 8080 &
	ip netns exec "$inet" "$FLOWS" serve tcp 8443 &
	ip netns exec "$inet" "$FLOWS" serve udp 5000 &
	ip netns exec "$inet" socat TCP-LISTEN:7,fork,reuseaddr EXEC:cat &
	wait_listen "$inet" t 7 && wait_listen "$ce" t 2222 && wait_listen "$lan1" t 8080 && wait_listen "$inet" t 8080 &&
	wait_listen "$inet" t 8443 && wait_listen "$inet" u 5000
}

# pppd_start: the CE's PPPoE session (kernel PPPoE, pppd's plugin), up
# once ip-up has run the generated script: table 100 has its route. pppd
# keeps trying, as a router's does (persist); LCP echoes and the wait
# grow with MAPE_SLOW.
PPPD=""
pppd_start() {
	local end=$((SECONDS + $(slow 30)))
	ip netns exec "$ce" pppd plugin pppoe.so nic-wan1 user ce password secret noauth \
		ifname ppp0 noipdefault nodefaultroute mtu 1492 mru 1492 persist holdoff 1 \
		maxfail 0 lcp-echo-interval 1 lcp-echo-failure "$(slow 3)" nodetach \
		logfile "$OUT/ce-pppd.log" > /dev/null 2>&1 &
	PPPD=$!
	while [ $SECONDS -lt $end ]; do
		ip -n "$ce" route show table 100 2>/dev/null | grep -q "^default dev ppp0" && return 0
		sleep 0.2
	done
	echo "# no PPPoE session after $(slow 30) s:"
	tail -n 5 "$OUT/ce-pppd.log" "$OUT/isp-pppd.log" "$OUT/pppoe-server.log" 2>&1 | sed 's/^/# /'
	return 1
}

# pppd_stop: pppd ends the session and takes ppp0 away; the ISP's end
# goes too, and pppoe-server frees its one session slot.
pppd_stop() {
	local i
	kill -TERM "$PPPD" 2>/dev/null
	wait "$PPPD" 2>/dev/null
	for ((i = 0; i < $(slow 100); i++)); do
		ip -n "$isp" link show isp0 > /dev/null 2>&1 || break
		sleep 0.1
	done
	sleep 1
	! ip -n "$ce" link show ppp0 > /dev/null 2>&1 && ! ip -n "$isp" link show isp0 > /dev/null 2>&1
}

setup() {
	mape_install_module && mape_install_plugin && modprobe pppoe && modprobe ppp_async &&
	br_setup && ce_setup && isp_setup && pppoe_server && pppoe_config &&
	ce_services && pppd_start || return 1
	ktap_note "MAP-E $MAPE_IPV4 ports $A/$K/$PSID; PPPoE" \
		"$(ip -n "$ce" -4 -o addr show dev ppp0 | awk '{ print $4, $5, $6 }')"
}

count() { nft_packets "$1" "$2"; }

# span FILE...: the lowest and highest port the server saw, and how many.
span() { cat "$@" | seen_ports | sort -n | awk 'NR == 1 { lo = $1 } END { printf "%d-%d (%d)", lo, $1, NR }'; }

# --- the checks ---

# run NS NAME PROTO ADDR PORT N: N flows from NS, all answered.
run() {
	ip netns exec "$1" "$FLOWS" run "$3" "$4" "$5" open:"$6" > "$OUT/$2" && opened "$OUT/$2" "$6"
}

# lan2's flows leave from the PPPoE address, with its own ports (the
# whole range: some outside the MAP-E set); the BR relays none of them.
chosen_host_by_pppoe() {
	local p0 m0 r0 outside
	p0=$(count "$inet" from_ppp) m0=$(count "$inet" from_mape) r0=$(count "$br" relayed)
	run "$lan2" ppp_tcp tcp $SRV 8080 50 && run "$lan2" ppp_udp udp $SRV 5000 50 || return 1
	outside=$(cat "$OUT/ppp_tcp" "$OUT/ppp_udp" | seen_ports | not_in_set $A $K $PSID | wc -l)
	ktap_note "from lan2: inet saw $(( $(count "$inet" from_ppp) - p0 )) packets from $PPP_ADDR," \
		"$(( $(count "$inet" from_mape) - m0 )) from $MAPE_IPV4; ports $(span "$OUT/ppp_tcp" "$OUT/ppp_udp")," \
		"$outside of 100 outside the set; the BR relayed $(( $(count "$br" relayed) - r0 ))"
	[ "$(count "$inet" from_ppp)" -gt "$p0" ] && [ "$(count "$inet" from_mape)" = "$m0" ] &&
	[ "$outside" -gt 0 ] && [ "$(count "$br" relayed)" = "$r0" ]
}

# lan1's flows leave by MAP-E, every port in the set; port 8443 by PPPoE.
others_by_mape() {
	local p0 m0
	p0=$(count "$inet" from_ppp) m0=$(count "$inet" from_mape)
	run "$lan1" mape_tcp tcp $SRV 8080 50 && run "$lan1" mape_udp udp $SRV 5000 50 &&
	[ "$(count "$inet" from_ppp)" = "$p0" ] && [ "$(count "$inet" from_mape)" -gt "$m0" ] &&
	all_in_set "$OUT/mape_tcp" $A $K $PSID && all_in_set "$OUT/mape_udp" $A $K $PSID || return 1
	p0=$(count "$inet" from_ppp)
	run "$lan1" port_tcp tcp $SRV 8443 5 &&
	ktap_note "lan1: 100 flows by MAP-E, ports $(span "$OUT/mape_tcp" "$OUT/mape_udp"), all in" \
		"$A/$K/$PSID; to :8443, $(( $(count "$inet" from_ppp) - p0 )) packets by PPPoE"
	[ "$(count "$inet" from_ppp)" -gt "$p0" ]
}

# A connection to the PPPoE address, forwarded to lan1, is answered by
# PPPoE: the BR sees none of it. One to the MAP-E address on a port of
# the set still works.
forwards() {
	local r0
	r0=$(count "$br" relayed)
	run "$inet" fwd_ppp tcp $PPP_ADDR 8081 5 || return 1
	[ "$(count "$br" relayed)" = "$r0" ] || { echo "# the BR relayed part of it"; return 1; }
	run "$inet" fwd_mape tcp "$MAPE_IPV4" "$FWD_MAPE" 5 &&
	ktap_note "to $PPP_ADDR:8081 and $MAPE_IPV4:$FWD_MAPE: 5 and 5 answered by lan1"
}

# The router's own service on the PPPoE address answers by PPPoE.
router_service() {
	local r0
	r0=$(count "$br" relayed)
	run "$inet" own tcp $PPP_ADDR 2222 5 && [ "$(count "$br" relayed)" = "$r0" ]
}

# SYNs by PPPoE carry an MSS that fits its 1492 bytes (lan2 offers 1460).
mss_fits() {
	ktap_note "SYNs from $PPP_ADDR: $(count "$inet" syn_ppp), with MSS over 1452: $(count "$inet" mss_ppp_big)"
	[ "$(count "$inet" syn_ppp)" -gt 0 ] && [ "$(count "$inet" mss_ppp_big)" = 0 ]
}

# PPPoE down: lan2's new flows leave by MAP-E, ports in the set. A
# connection lan2 opens meanwhile (an echo on inet, COPROC) stays for the
# next case.
down_falls_back() {
	local m0
	pppd_stop || { echo "# ppp0 or isp0 still there"; return 1; }
	m0=$(count "$inet" from_mape)
	run "$lan2" down_udp udp $SRV 5000 20 && all_in_set "$OUT/down_udp" $A $K $PSID &&
	[ "$(count "$inet" from_mape)" -gt "$m0" ] || return 1
	coproc ip netns exec "$lan2" socat - TCP:$SRV:7
	echo_line down || { echo "# no echo while PPPoE is down"; return 1; }
	ktap_note "PPPoE down: lan2's 20 new flows by MAP-E, ports in $A/$K/$PSID"
}

# PPPoE back: lan2's new flows go by PPPoE again, and the connection it
# opened while PPPoE was down still works, by MAP-E.
up_again() {
	local p0 m0
	pppd_start || return 1
	p0=$(count "$inet" from_ppp) m0=$(count "$inet" from_mape)
	run "$lan2" up_udp udp $SRV 5000 20 && [ "$(count "$inet" from_ppp)" -gt "$p0" ] || return 1
	echo_line up || { echo "# the connection opened while PPPoE was down broke"; return 1; }
	[ "$(ip -n "$ce" rule show | grep -c '^100[01]:')" = 2 ] ||
		{ echo "# ip-up run twice left:"; ip -n "$ce" rule show | sed 's/^/# /'; return 1; }
	ktap_note "PPPoE up: lan2's 20 new flows by PPPoE; the older connection" \
		"by MAP-E ($(( $(count "$inet" from_mape) - m0 )) packets)"
	[ "$(count "$inet" from_mape)" -gt "$m0" ]
}

# With --no-fallback, lan2's flows are dropped while PPPoE is down: none
# is answered, none reaches inet or the BR. Then the default again.
no_fallback() {
	local r0 m0 rc=0
	kill "$COPROC_PID" 2>/dev/null
	pppoe_config --no-fallback && pppd_stop || return 1
	r0=$(count "$br" relayed) m0=$(count "$inet" from_mape)
	ip netns exec "$lan2" "$FLOWS" run udp $SRV 5000 wait:1000 open:5 > "$OUT/nofb"
	opened "$OUT/nofb" 0 && [ "$(count "$br" relayed)" = "$r0" ] &&
	[ "$(count "$inet" from_mape)" = "$m0" ] || rc=1
	ktap_note "--no-fallback, PPPoE down: lan2 $(grep '^open' "$OUT/nofb");" \
		"the BR relayed $(( $(count "$br" relayed) - r0 ))"
	pppoe_config && pppd_start && return $rc
}

# Through all of it, nothing reached the BR from another address than the
# CE's or from a port outside its set.
nothing_leaked() {
	ktap_note "the BR dropped $(count "$br" outside) packets from another address or port;" \
		"relayed $(count "$br" relayed)"
	[ "$(count "$br" outside)" = 0 ]
}

ktap_plan 11
ktap_test "setup" setup
[ "$ktap_failed" = 0 ] || { ktap_note "no topology: the other checks cannot run"; exit $KSFT_FAIL; }
ktap_test "chosen_lan_host_leaves_by_pppoe_whole_port_range" chosen_host_by_pppoe
ktap_test "other_hosts_by_mape_in_set_chosen_port_by_pppoe" others_by_mape
ktap_test "forward_on_pppoe_answered_by_pppoe_mape_forward_works" forwards
ktap_test "router_service_on_pppoe_address_answers_by_pppoe" router_service
ktap_test "pppoe_syn_mss_fits" mss_fits
ktap_test "pppoe_down_chosen_host_falls_back_to_mape" down_falls_back
ktap_test "pppoe_up_again_new_flows_by_pppoe_old_stay" up_again
ktap_test "no_fallback_drops_chosen_flows_while_down" no_fallback
ktap_test "chosen_host_by_pppoe_after_all_that" chosen_host_by_pppoe
ktap_test "nothing_reached_the_br_from_another_address_or_port" nothing_leaked
ktap_finish
