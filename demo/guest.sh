#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo, inside the VM: one MAP-E CE behind an emulated Border Relay,
# a few hundred connections from its LAN, and a report of the ports they
# left with. Run by demo/run.sh; prints the report and exits 0 when every
# connection was answered from a port inside the set.
#
#   lan 192.168.1.2 -- ce ==mape0 (IPv4 in IPv6)== br -- server 203.0.113.2
#                      snat to IPV4:mape a/k/psid      drops ports outside the set
#
# The CE is set up exactly as README says: the ip commands and the ruleset
# mapecalc prints for the delegated prefix. The BR's set comes from
# set_ranges (awk), not from the module's code.
#
#   demo/guest.sh [MAPECALC-OPTION...] PREFIX
. "$(dirname "$0")/../selftests/lib.sh"

FLOWS=$MAPE_ROOT/build/tools/flows
RULE=$MAPE_ROOT/build/tools/mape_rule
MAPECALC=$MAPE_ROOT/tools/mapecalc/mapecalc
PNFT=$MAPE_ROOT/build/nft/sbin/nft	# the patched nft, when make nft could build it
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

ce_nft() { ip netns exec "$ce" "${NFT:-nft}" "$@"; }

# The BR decapsulates, routes replies for the CE's address back into the
# tunnel, and drops (and counts) what leaves the CE from another port.
br_setup() {
	local own
	own=$(set_ranges $A $K $PSID)
	ns_create br && ns_create inet &&
	ip netns exec "$br" sysctl -qw net.ipv4.ip_forward=1 &&
	ip -n "$br" -6 addr add "$MAPE_BR/128" dev lo &&
	veth_link "$br" inet0 203.0.113.1/24 "$inet" eth0 $SRV/24 &&
	ip -n "$inet" route add default via 203.0.113.1 || return 1
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

# The tunnel drops what it is given while its local address is still
# tentative (duplicate address detection, about a second).
dad_done() {
	local i
	for i in $(seq 1 100); do
		[ -z "$(ip -n "$ce" -6 addr show dev wan0 tentative)" ] && return 0
		sleep 0.1
	done
	echo "demo: the CE address stayed tentative" >&2
	return 1
}

# README's recipe: mapecalc -f ip, then mapecalc -f nft.
ce_setup() {
	ns_create ce && ns_create lan || return 1
	veth_link "$lan" eth0 $LAN_HOST/24 "$ce" lan0 192.168.1.1/24 &&
	ip -n "$lan" route add default via 192.168.1.1 &&
	ip link add wan0 netns "$ce" type veth peer name ce netns "$br" &&
	ip netns exec "$ce" sysctl -qw net.ipv4.ip_forward=1 &&
	ip -n "$ce" addr add fe80::c/64 dev wan0 nodad &&
	ip -n "$br" addr add fe80::b/64 dev ce nodad &&
	ip -n "$ce" link set wan0 up && ip -n "$br" link set ce up &&
	ip -n "$ce" -6 route add default via fe80::b dev wan0 &&
	"$MAPECALC" -f ip --wan wan0 "$@" > "$OUT/tunnel.sh" &&
	ip netns exec "$ce" sh -e "$OUT/tunnel.sh" &&
	"$MAPECALC" -f nft "$@" > "$OUT/mape.nft" &&
	dad_done || return 1
	ip -n "$br" -6 route add "$MAPE_CE/128" via fe80::c dev ce &&
	ip -n "$br" -6 tunnel add tun mode ipip6 local "$MAPE_BR" \
		remote "$MAPE_CE" encaplimit none &&
	ip -n "$br" link set tun mtu "$MAPE_MTU" up &&
	ip -n "$br" route add "$MAPE_IPV4/32" dev tun
}

# With the patched nft the ruleset loads as mapecalc wrote it. Debian's
# nft does not know "snat to ...:mape", so then the same rule is added by
# netlink (build/tools/mape_rule) in the place of mapecalc's line.
ce_rules() {
	if "$PNFT" --version > /dev/null 2>&1; then
		NFT=$PNFT ce_nft -f "$OUT/mape.nft"
		return
	fi
	sed '/oifname "mape0" snat to /d' "$OUT/mape.nft" > "$OUT/stock.nft" &&
	ce_nft -f "$OUT/stock.nft" &&
	ce_nft add rule ip mape postrouting oifname != "mape0" accept &&
	ip netns exec "$ce" "$RULE" mape postrouting "$MAPE_IPV4" $A $K $PSID
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

# Flows per block of the set, from the ports the server saw, taken apart
# in awk; more than 16 blocks (a <= 4 has at most 15) are summed up.
per_block() {
	cat "$OUT"/tcp1 "$OUT"/tcp2 "$OUT"/udp | seen_ports |
		awk -v a=$A -v k=$K '{ m = 16 - a - k; b = int($1 / 2 ^ (16 - a)); n[b]++
				lo[b] = b * 2 ^ (16 - a) + int($1 / 2 ^ m) % 2 ^ k * 2 ^ m }
			END { for (b in n) printf "%d-%d %d\n", lo[b], lo[b] + 2 ^ m - 1, n[b] }' |
		sort -n | awk '{ r[NR] = $1; n[NR] = $2
				if (NR == 1 || $2 < min) min = $2; if ($2 > max) max = $2 }
			END { if (NR > 16) { printf "        %d blocks used, %d to %d flows each\n", NR, min, max; exit }
				for (i = 1; i <= NR; i++) printf "        %-12s %4d flows\n", r[i], n[i] }'
}

stat_line() {
	local f out=""
	for f in translated kept takeover exhausted portless; do
		out="$out $f $(mape_stat "$ce" $f),"
	done
	echo "${out%,}"
}

report() {
	local ports outside distinct
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

	The rule, as nft list shows it:
	$(ce_nft list chain ip mape postrouting | sed 's/^/    /')
	REPORT
	"$PNFT" --version > /dev/null 2>&1 || cat <<-REPORT
	    Debian's nft leaves out a rule whose expression it does not know (the
	    patched one, make nft, prints it). The kernel's dump of the chain,
	    read by build/tools/mape_rule -l mape postrouting:
	$(ip netns exec "$ce" "$RULE" -l mape postrouting | sed 's/^/        /')
	REPORT
	cat <<-REPORT

	Traffic from the LAN host $LAN_HOST to $SRV, all open at once:
	    TCP   $((2 * N_TCP)) connections to ports 8080 and 8081: $(answered "$OUT"/tcp1 "$OUT"/tcp2)
	    UDP   $N_UDP flows to port 5000: $(answered "$OUT"/udp)
	    ICMP  10 echo requests: $(grep -o "[0-9]* received" "$OUT/ping" | cut -d" " -f1) answered
	    CE conntrack entries while held: $CT_HELD
	Source ports the server saw: $(echo "$ports" | wc -l) flows on $distinct distinct ports, $outside outside the set
	    flows per block of the set:
	$(per_block)

	Counters
	    CE /proc/net/stat/nf_nat_mape:$(stat_line)
	    BR packets from a port or ICMP id outside the set: $OUTSIDE_AT_BR
	REPORT
	[ "$outside" = 0 ] && [ "$OUTSIDE_AT_BR" = 0 ] &&
		[ "$(echo "$ports" | wc -l)" = $((2 * N_TCP + N_UDP)) ]
}

mape_install_module && modprobe nf_nat_mape || die "cannot load nf_nat_mape"
br_setup || die "BR setup failed"
servers || die "servers did not start"
ce_setup "$@" || die "CE setup failed"
ce_rules || die "CE ruleset failed"
traffic
if report; then
	echo "Result      PASS: every flow was answered, from a port inside the set"
else
	echo "Result      FAIL: see above"
	exit 1
fi
