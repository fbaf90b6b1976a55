#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo, inside the VM: one MAP-E CE behind an emulated Border Relay,
# a few hundred connections from its LAN, and a report of the ports they
# left with. Run by demo/run.sh; prints the report and exits 0 when every
# connection was answered from a port inside the set.
#
#   lan 192.168.1.2 -- ce ==mape0 (IPv4 in IPv6)== br -- server 203.0.113.2
#                      -j MAPE --psid a/k/psid         drops ports outside the set
#
# The CE is set up exactly as README says: the ip commands and the
# iptables ruleset mapecalc prints for the delegated prefix, loaded by
# Debian's own iptables-restore with the plugin installed. The BR's set
# comes from set_ranges (awk), not from the module's code.
#
#   demo/guest.sh [MAPECALC-OPTION...] PREFIX
. "$(dirname "$0")/../selftests/lib.sh"

FLOWS=$MAPE_ROOT/build/tools/flows
MAPECALC=$MAPE_ROOT/tools/mapecalc/mapecalc
SRV=203.0.113.2
LAN_HOST=192.168.1.2
OUT=$(mktemp -d)

cleanup() { jobs -p | xargs -r kill 2>/dev/null; ns_cleanup; rm -rf "$OUT"; }
trap cleanup EXIT

die() { echo "demo: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] && [ "${MAPE_VM:-}" = 1 ] || die "runs in the test VM: make demo"
vars=$("$MAPECALC" -f shell "$@") || die "mapecalc $* failed"
eval "$vars"
A=$MAPE_PSID_OFFSET K=$MAPE_PSID_LEN PSID=$MAPE_PSID
N_TCP=$((MAPE_PORTS < 150 ? MAPE_PORTS : 150))
N_UDP=$((MAPE_PORTS < 200 ? MAPE_PORTS : 200))

# The BR decapsulates, routes replies for the CE's address back into the
# tunnel, and drops (and counts) what leaves the CE from another port.
br_setup() {
	local own
	own=$(set_ranges $A $K $PSID)
	mape_br_inet $SRV || return 1
	ip netns exec "$br" nft -f - <<-NFT
	table ip br {
		set own { type inet_service; flags interval; elements = { $own } }
		set owni { typeof icmp id; flags interval; elements = { $own } }
		counter outside {}
		chain relay {
			type filter hook forward priority filter; policy accept;
			iifname "tun" meta l4proto { tcp, udp } th sport != @own counter name outside drop
			iifname "tun" icmp type echo-request icmp id != @owni counter name outside drop
		}
	}
	NFT
}

servers() {
	ip netns exec "$inet" "$FLOWS" serve tcp 8080 &
	ip netns exec "$inet" "$FLOWS" serve tcp 8081 &
	ip netns exec "$inet" "$FLOWS" serve udp 5000 &
	wait_listen "$inet" t 8080 && wait_listen "$inet" t 8081 && wait_listen "$inet" u 5000
}

# README's recipe: mapecalc -f ip, then mapecalc -f iptables.
ce_setup() {
	ns_create ce && ns_create lan || return 1
	veth_link "$lan" eth0 $LAN_HOST/24 "$ce" lan0 192.168.1.1/24 &&
	ip -n "$lan" route add default via 192.168.1.1 &&
	mape_wan_link "$ce" "$br" ce &&
	"$MAPECALC" -f ip --wan wan0 "$@" > "$OUT/tunnel.sh" &&
	ip netns exec "$ce" sh -e "$OUT/tunnel.sh" &&
	"$MAPECALC" -f iptables "$@" > "$OUT/rules.v4" &&
	mape_br_tunnel "$br" tun ce "$MAPE_CE" "$MAPE_BR" "$MAPE_IPV4" "$MAPE_MTU"
}

# Debian's iptables-restore, as netfilter-persistent loads rules.v4.
ce_rules() {
	ip netns exec "$ce" iptables-restore < "$OUT/rules.v4"
}

# 300 TCP connections over two server ports and 200 UDP flows, all open
# at once (500 flows on P ports: a port serves one flow per destination),
# and 10 pings. A set smaller than that gets P flows per destination.
traffic() {
	local pids=""
	ip netns exec "$lan" "$FLOWS" run tcp $SRV 8080 open:$N_TCP hold:4 > "$OUT/tcp1" &
	pids="$pids $!"
	ip netns exec "$lan" "$FLOWS" run tcp $SRV 8081 open:$N_TCP hold:4 > "$OUT/tcp2" &
	pids="$pids $!"
	ip netns exec "$lan" "$FLOWS" run udp $SRV 5000 open:$N_UDP hold:4 > "$OUT/udp" &
	pids="$pids $!"
	sleep 2
	CT_HELD=$(ip netns exec "$ce" conntrack -C)
	ip netns exec "$lan" ping -q -c 10 -i 0.2 -W 2 $SRV > "$OUT/ping"
	# shellcheck disable=SC2086
	wait $pids	# not the servers
}

answered() { awk '$1 == "open" { ok += $4; n += $2 } END { printf "%d of %d answered", ok, n }' "$@"; }

# Flows per block of the set: the ports the server saw, counted in the
# ranges of set_ranges; more than 16 blocks (a <= 4 has at most 15) are
# summed up.
per_block() {
	cat "$OUT"/tcp1 "$OUT"/tcp2 "$OUT"/udp | seen_ports |
		awk -v ranges="$(set_ranges $A $K $PSID)" '
			BEGIN { nb = split(ranges, r, ", ")
				for (i = 1; i <= nb; i++) { split(r[i], x, "-"); lo[i] = x[1]; hi[i] = x[2] } }
			{ for (i = 1; i <= nb; i++) if ($1 >= lo[i] && $1 <= hi[i]) { n[i]++; break } }
			END { min = max = n[1] + 0
				for (i = 2; i <= nb; i++) { if (n[i] < min) min = n[i] + 0; if (n[i] > max) max = n[i] }
				if (nb > 16) { printf "        %d blocks, %d to %d flows each\n", nb, min, max; exit }
				for (i = 1; i <= nb; i++) printf "        %-12s %4d flows\n", r[i], n[i] }'
}

stat_line() {
	local f out=""
	for f in translated kept takeover exhausted portless; do
		out="$out $f $(mape_stat "$ce" $f),"
	done
	echo "${out%,}"
}

report() {
	local ports outside distinct pings
	pings=$(grep -o "[0-9]* received" "$OUT/ping" | cut -d" " -f1)
	ports=$(cat "$OUT"/tcp1 "$OUT"/tcp2 "$OUT"/udp | seen_ports)
	outside=$(echo "$ports" | not_in_set $A $K $PSID | wc -l)
	distinct=$(echo "$ports" | sort -u | wc -l)
	OUTSIDE_AT_BR=$(nft_packets "$br" outside)
	cat <<-REPORT
	==== nf_nat_mape demo ====
	Kernel      $(uname -r) (QEMU guest), module $(cat /sys/module/nf_nat_mape/version)
	Line        $MAPE_PREFIX ($MAPE_SERVICE): BR $MAPE_BR
	CE          IPv4 $MAPE_IPV4, PSID $PSID, a/k = $A/$K: $MAPE_PORTS ports
	Port set    $MAPE_PORT_RANGES

	The rule, as Debian's iptables -t nat -S POSTROUTING shows it:
	$(ip netns exec "$ce" iptables -t nat -S POSTROUTING | grep -- '^-A ' | sed 's/^/    /')
	and as Debian's nft list table ip nat shows it (iptables' nft backend):
	$(ip netns exec "$ce" nft list table ip nat | grep snat | sed 's/^[[:space:]]*/    /')

	Traffic from the LAN host $LAN_HOST to $SRV, all open at once:
	    TCP   $((2 * N_TCP)) connections to ports 8080 and 8081: $(answered "$OUT"/tcp1 "$OUT"/tcp2)
	    UDP   $N_UDP flows to port 5000: $(answered "$OUT"/udp)
	    ICMP  10 echo requests: $pings answered
	    CE conntrack entries while held: $CT_HELD
	Source ports the server saw: $(echo "$ports" | wc -l) flows on $distinct distinct ports, $outside outside the set
	    flows per block of the set:
	$(per_block)

	Counters
	    CE /proc/net/stat/nf_nat_mape:$(stat_line)
	    BR packets from a port or ICMP id outside the set: $OUTSIDE_AT_BR
	REPORT
	[ "$outside" = 0 ] && [ "$OUTSIDE_AT_BR" = 0 ] && [ "$pings" = 10 ] &&
		[ "$(echo "$ports" | wc -l)" = $((2 * N_TCP + N_UDP)) ]
}

mape_install_module && mape_install_plugin || die "cannot install nf_nat_mape and its plugin"
br_setup || die "BR setup failed"
servers || die "servers did not start"
ce_setup "$@" || die "CE setup failed"
ce_rules || die "CE ruleset failed"
traffic
if report; then
	echo "Result      PASS: every flow and ping was answered, from a port or id inside the set"
else
	echo "Result      FAIL: see above"
	exit 1
fi
