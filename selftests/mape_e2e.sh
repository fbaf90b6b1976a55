#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# MAP-E end to end: two CEs share one IPv4 address behind an emulated BR,
# and real clients and servers talk across it.
#
#  lan1 192.168.1.2 -- ce1 ==mape0 (IPv4 in IPv6)==\
#                      PSID p1    wan0 fe80::c      \  IPv6 only
#                                                    br -------- inet
#                      PSID p2    wan0 fe80::c      /  203.0.113.1  .2 .3 .4
#  lan2 192.168.1.2 -- ce2 ==mape0=================/   (HTTP, iperf3, UDP)
#
# Each CE is configured with what mapecalc prints for its delegated prefix,
# each of the documented ways: ce1's tunnel by systemd-networkd running the
# files of -f networkd and its NAT by Debian's iptables-restore loading
# -f iptables (the MAPE target), ce2's tunnel by the ip(8) commands of
# -f ip (ocn: by ifup from the stanza of -f ifupdown; both with the egress
# guard) and its NAT from -f nft (the mape expression); ce1 also gets port
# forwards, in nft. Both CEs get the same
# IPv4 address with PSIDs p1 and p2.
#
# The BR has one ip6tnl per CE. It routes IPv4 replies for the shared
# address to the CE whose port set holds the destination port (fwmark from
# an nft set, policy routing), records every source port a CE sends from,
# and drops and counts anything from a port or ICMP id outside that CE's
# set. Its sets are computed in awk from (a, k, psid), not by the module's
# code: they are the independent witness. The CEs' own counters (conntrack
# clashes, mape refusals) are checked against what each step expects, and
# a failing step prints the drop counters of every hop (lib.sh hop_report).
#
# Usage: mape_e2e.sh v6plus|ocn|rfc
. "$(dirname "$0")/lib.sh"
require_vm

FLOWS=$MAPE_ROOT/build/tools/flows
PUNCH=$MAPE_ROOT/build/tools/punch
MAPECALC=$MAPE_ROOT/tools/mapecalc/mapecalc
SRV=203.0.113.2
LAN_HOST=192.168.1.2
OUT=$(mktemp -d)

case "${1:-}" in
v6plus)	# legacy interface id; rule 240b:10::/31 -> 106.72.0.0/15, 4/8
	CALC=""
	PREFIX1=240b:10:abcd:ef00::/56 PREFIX2=240b:10:abcd:ee00::/56 ;;
ocn)	# legacy interface id; rule 2400:4050:1000::/38 -> 153.240.64.0/20, 6/6
	CALC="" TUNNEL2=ifupdown
	PREFIX1=2400:4050:1234:5600::/56 PREFIX2=2400:4050:1234:5700::/56 ;;
rfc)	# RFC 7597 Appendix A rule, section 6 interface id, 6/8
	CALC="--rule-ipv6 2001:db8::/40 --rule-ipv4 192.0.2.0/24 --ea-len 16
	      --psid-offset 6 --br 2001:db8:ffff::1"
	PREFIX1=2001:db8:12:3400::/56 PREFIX2=2001:db8:12:3500::/56 ;;
*)
	echo "usage: $0 v6plus|ocn|rfc" >&2
	exit 2 ;;
esac

cleanup() {
	[ -n "${COPROC_PID:-}" ] && kill "$COPROC_PID" 2>/dev/null
	jobs -p | xargs -r kill 2>/dev/null
	[ -n "${ce1:-}" ] && rm -rf "/etc/netns/$ce1"
	ns_cleanup
	rm -rf "$OUT"
}
trap cleanup EXIT

# CE1_IPV4, CE1_PSID, CE1_CE, CE1_BR... from mapecalc for PREFIXn.
# shellcheck disable=SC2086
calc() {
	local vars
	vars=$("$MAPECALC" -f shell $CALC "$2") || return 1
	eval "$(echo "$vars" | sed "s/^MAPE_/CE$1_/")"
}

# p NAME N: the value of CE<N>_NAME.
p() { eval "echo \"\$CE$2_$1\""; }

ranges() { set_ranges "$(p PSID_OFFSET "$1")" "$(p PSID_LEN "$1")" "$(p PSID "$1")"; }

# in_set N FILE: every port "flows" saw is in CE N's set.
in_set() { all_in_set "$2" "$(p PSID_OFFSET "$1")" "$(p PSID_LEN "$1")" "$(p PSID "$1")"; }

# --- the BR and the Internet host ---

br_setup() {
	ns_create br && ns_create inet || return 1
	ip netns exec "$br" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 &&
	ip -n "$br" -6 addr add "$(p BR 1)/128" dev lo &&
	veth_link "$br" inet0 203.0.113.1/24 "$inet" eth0 $SRV/24 &&
	ip -n "$inet" addr add 203.0.113.3/24 dev eth0 &&
	ip -n "$inet" addr add 203.0.113.4/24 dev eth0 &&
	ip -n "$inet" route add default via 203.0.113.1
}

# br_rules: route by port set, police source ports, remember what came.
br_rules() {
	local v4 n
	v4=$(p IPV4 1)
	{
		echo "table ip br {"
		for n in 1 2; do
			echo "set own$n { type inet_service; flags interval; elements = { $(ranges $n) } }"
			echo "set own${n}i { typeof icmp id; flags interval; elements = { $(ranges $n) } }"
			echo "set seen$n { type inet_service; size 65535; flags dynamic; }"
			echo "counter viol$n {}"
			echo "counter syn$n {}"
			echo "counter loop$n {}"
		done
		echo "counter unowned {}"
		echo "chain pre {"
		echo "type filter hook prerouting priority mangle; policy accept;"
		for n in 1 2; do
			echo "ip daddr $v4 meta l4proto { tcp, udp } th dport @own$n meta mark set $n"
			echo "ip daddr $v4 icmp type echo-reply icmp id @own${n}i meta mark set $n"
		done
		echo "ip daddr $v4 meta mark 0 meta l4proto { tcp, udp } counter name unowned drop"
		echo "}"
		echo "chain relay {"
		echo "type filter hook forward priority filter; policy accept;"
		for n in 1 2; do
			echo "iifname tun$n meta l4proto { tcp, udp } add @seen$n { th sport }"
			echo "iifname tun$n tcp flags & (syn | ack) == syn counter name syn$n"
			echo "iifname tun$n ip daddr $v4 th dport @own$n counter name loop$n"
			echo "iifname tun$n meta l4proto { tcp, udp } th sport != @own$n counter name viol$n drop"
			echo "iifname tun$n icmp type echo-request icmp id != @own${n}i counter name viol$n drop"
		done
		echo "}"
		echo "}"
	} | ip netns exec "$br" nft -f -
}

# nginx: an event-driven server with a deep accept queue, so that the
# server is not what limits hundreds of concurrent fetches (busybox httpd,
# one fork per connection and a backlog of 9, overflowed its queue 7,000
# times in one run under TCG).
web_server() {
	local d=$OUT/nginx
	mkdir -p "$d" && cat > "$d/nginx.conf" <<-CONF
	user root;
	worker_processes 2;
	pid $d/pid;
	error_log $d/error.log;
	events { worker_connections 4096; }
	http {
		access_log off;
		client_body_temp_path $d/body;
		proxy_temp_path $d/proxy;
		fastcgi_temp_path $d/fastcgi;
		uwsgi_temp_path $d/uwsgi;
		scgi_temp_path $d/scgi;
		server { listen 80 backlog=4096; root $1; }
	}
	CONF
	ip netns exec "$inet" nginx -c "$d/nginx.conf" -e "$d/error.log" -g 'daemon off;' &
}

inet_servers() {
	local www=$OUT/www
	mkdir -p "$www" && echo "hello from the IPv4 Internet" > "$www/index.html" &&
	head -c 1048576 /dev/urandom > "$www/1m" || return 1
	web_server "$www" || return 1
	ip netns exec "$inet" iperf3 -s -p 5201 > /dev/null 2>&1 &	# killed at the end
	ip netns exec "$inet" "$FLOWS" serve udp 53 &
	ip netns exec "$inet" "$FLOWS" serve udp 5000 &
	ip netns exec "$inet" "$FLOWS" serve udp 5001 &
	ip netns exec "$inet" "$FLOWS" serve udp 5002 &
	ip netns exec "$inet" "$FLOWS" serve udp 5100 &
	ip netns exec "$inet" "$FLOWS" serve tcp 8080 &
	ip netns exec "$inet" socat TCP-LISTEN:9000,reuseaddr,fork EXEC:cat &
	ip netns exec "$inet" "$PUNCH" meet 3478 &	# the rendezvous
	# The MSS every SYN from the CEs arrives with.
	ip netns exec "$inet" nft -f - <<-NFT
	table ip host {
		counter mss_big {}
		counter mss_ok {}
		chain in {
			type filter hook input priority 0; policy accept;
			tcp flags & (syn | ack) == syn tcp option maxseg size > 1420 counter name mss_big
			tcp flags & (syn | ack) == syn tcp option maxseg size <= 1420 counter name mss_ok
		}
	}
	NFT
	wait_listen "$inet" t 80 && wait_listen "$inet" t 5201 &&
	wait_listen "$inet" u 5100 && wait_listen "$inet" t 8080 &&
	wait_listen "$inet" t 9000 && wait_listen "$inet" u 3478
}

# --- the CEs ---

# ce_setup N: LAN, IPv6 link to the BR, then mapecalc's own commands.
ce_setup() {
	local n=$1 ce lan
	ns_create ce$n && ns_create lan$n || return 1
	eval "ce=\$ce$n lan=\$lan$n"
	veth_link "$lan" eth0 $LAN_HOST/24 "$ce" lan0 192.168.1.1/24 &&
	ip -n "$lan" route add default via 192.168.1.1 &&
	mape_wan_link "$ce" "$br" ce$n || return 1
	if [ "$n" = 1 ]; then
		tunnel_networkd "$ce" "$(p PREFIX $n)" || return 1
	else
		tunnel_"${TUNNEL2:-ip}" "$ce" "$(p PREFIX $n)" || return 1
	fi
	ce_rules $n && br_tunnel $n
}

# tunnel_ip NS PREFIX: run the commands of mapecalc -f ip.
# shellcheck disable=SC2086
tunnel_ip() {
	"$MAPECALC" -f ip --wan wan0 $CALC "$2" > "$OUT/$1.sh" &&
	ip netns exec "$1" sh -e "$OUT/$1.sh"
}

# tunnel_ifupdown NS PREFIX: Debian's ifup brings up the stanza of
# mapecalc -f ifupdown in NS (its own interfaces file and state dir).
# shellcheck disable=SC2086
tunnel_ifupdown() {
	"$MAPECALC" -f ifupdown $CALC "$2" > "$OUT/interfaces" &&
	mkdir -p "$OUT/ifstate" && ifupdown "$1" ifup
}

# ifupdown NS ifup|ifdown: mape0 of the stanza, up or down.
ifupdown() {
	ip netns exec "$1" "$2" -i "$OUT/interfaces" --state-dir="$OUT/ifstate" mape0
}

# ifdown takes away all that ifup made (the tunnel and with it its
# addresses, route, rule and guard), and with the tunnel's last address
# the flows translated there (kmod/mape_addr.c: the shared address itself
# is on no interface); ifup again, and traffic flows as before.
ifdown_then_ifup() {
	local left out held before after drops
	ip netns exec "$lan2" "$FLOWS" run tcp $SRV 8080 open:20 hold:"$(slow 30)" > "$OUT/held2" &
	held=$!
	sleep "$(slow 2)"
	before=$(entries_toward "$ce2" "$(p IPV4 2)")
	out=$(ifupdown "$ce2" ifdown 2>&1) || { echo "$out" | sed 's/^/# ifdown: /'; kill $held; return 1; }
	after=$(entries_gone "$ce2" "$(p IPV4 2)" "$(slow 1)")
	kill $held
	ktap_note "ce2's entries toward $(p IPV4 2): $before before ifdown, $after after"
	left=$(ip -n "$ce2" link show mape0 2>&1 | grep -v 'does not exist'
	       ip -n "$ce2" route show default; ip -n "$ce2" -6 addr show | grep "$(p CE 2)"
	       ip -n "$ce2" rule show | grep blackhole)
	[ -z "$left" ] || { echo "$left" | head -5 | sed 's/^/# after ifdown: /'; return 1; }
	[ "$before" -ge 20 ] && [ "$after" = 0 ] || return 1
	out=$(ifupdown "$ce2" ifup 2>&1) || { echo "$out" | sed 's/^/# ifup: /'; return 1; }
	drops="ce2:$(ns_drops_in "$ce2") br:$(ns_drops_in "$br") guard:$(guard_drops "$ce2")"
	ip netns exec "$lan2" "$FLOWS" run udp $SRV 5100 open:20 > "$OUT/reup"
	opened "$OUT/reup" 20 || { reup_report "$drops"; return 1; }
	in_set 2 "$OUT/reup" && [ -n "$(guard_drops "$ce2")" ]
}

# reup_report DROPS: where the flows that failed after ifup went: the
# drops before them (the hop report gives them after), the guard's after
# them, and ce2's entries for them.
reup_report() {
	ktap_note "before the flows: $1; guard after: $(guard_drops "$ce2")"
	ip netns exec "$ce2" conntrack -L -p udp --dport 5100 2>/dev/null |
		head -25 | sed 's/^/# ce2: /'
}

# tunnel_networkd NS PREFIX: systemd-networkd in NS, given only the files
# of mapecalc -f networkd (ip netns exec shows /etc/netns/NS/systemd as
# /etc/systemd), with a /run/systemd of its own and, as in a container, a
# read-only /sys, which tells it there is no udev to wait for.
# shellcheck disable=SC2086
tunnel_networkd() {
	local ce=$1 dir=/etc/netns/$1/systemd/network i
	mkdir -p "$dir" &&
	"$MAPECALC" -f networkd --output-dir "$dir" $CALC "$2" > /dev/null || return 1
	ip netns exec "$ce" unshare -m sh -c 'mkdir -p /run/systemd && mount -t tmpfs tmpfs /run/systemd &&
		mkdir -p /run/systemd/netif && chown systemd-network: /run/systemd/netif &&
		mount -o remount,bind,ro /sys &&
		exec /lib/systemd/systemd-networkd' > "$OUT/networkd.log" 2>&1 &
	for i in $(seq 1 100); do
		ip -n "$ce" route show default dev mape0 2>/dev/null | grep -q . &&
			ip -n "$ce" -4 addr show dev mape0 | grep -q "$(p TUNNEL_IPV4 1)/32" && return 0
		sleep 0.1
	done
	echo "# networkd did not bring mape0 up:"
	sed 's/^/# /' "$OUT/networkd.log" | tail -5
	return 1
}

br_tunnel() {
	local n=$1
	mape_br_tunnel "$br" tun$n ce$n "$(p CE "$n")" "$(p BR "$n")" \
		"$(p IPV4 "$n")" "$(p MTU "$n")" $((100 + n)) &&
	ip -n "$br" rule add fwmark $n lookup $((100 + n))
}

# Port forwards: FWD_IN is the second port of this CE's set; FWD_OUT are
# a port of the other CE's set and a port of nobody's (PSID of neither).
fwd_ports() {
	local a k other
	a=$(p PSID_OFFSET 1) k=$(p PSID_LEN 1)
	for other in 0 1 2; do	# the first PSID of neither CE
		[ "$other" != "$(p PSID 1)" ] && [ "$other" != "$(p PSID 2)" ] && break
	done
	FWD_IN=$(set_ranges $a $k "$(p PSID 1)" | cut -d- -f1)
	FWD_IN=$((FWD_IN + 1))
	FWD_OTHER=$(set_ranges $a $k "$(p PSID 2)" | cut -d- -f1)
	FWD_NOBODY=$(set_ranges $a $k $other | cut -d- -f1)
}

# ce1's ruleset is mapecalc's -f iptables, restored by Debian's
# iptables-restore as netfilter-persistent would; ce2's is -f nft, loaded
# by the stock nft without its "snat to ...:mape" line, whose place
# mape_on takes, so the test needs no patched nft.
ce_rules() {
	local n=$1 ce
	eval "ce=\$ce$n"
	if [ "$n" = 1 ]; then
		# shellcheck disable=SC2086
		"$MAPECALC" -f iptables $CALC "$(p PREFIX 1)" > "$OUT/ce1.rules.v4" &&
		grep -q -- '-j MAPE ' "$OUT/ce1.rules.v4" &&
		ip netns exec "$ce" iptables-restore < "$OUT/ce1.rules.v4" &&
		ip netns exec "$ce" iptables -t nat -I POSTROUTING 1 -p udp --dport 9 -j ACCEPT
		return
	fi
	# shellcheck disable=SC2086
	"$MAPECALC" -f nft $CALC "$(p PREFIX $n)" > "$OUT/ce$n.mapecalc.nft" &&
	mape_stock_ruleset "$ce" "$OUT/ce$n.mapecalc.nft" && mape_on $n
}

# Port forwards on ce1 only: one inside its set, and the same forward for
# ports it does not own, to show they never arrive.
ce1_forwards() {
	ip netns exec "$ce1" nft -f - <<-NFT &&
	table ip mape {
		counter fwd_out {}
		chain prerouting {
			type nat hook prerouting priority dstnat; policy accept;
			iifname "mape0" tcp dport $FWD_IN dnat to $LAN_HOST:8080
			iifname "mape0" tcp dport { $FWD_OTHER, $FWD_NOBODY } counter name fwd_out dnat to $LAN_HOST:8080
		}
	}
	NFT
	ip netns exec "$lan1" "$FLOWS" serve tcp 8080 &
	wait_listen "$lan1" t 8080
}

# mape_off: ce1's nat POSTROUTING chain empty (iptables).
mape_off() {
	ip netns exec "$ce1" iptables -t nat -F POSTROUTING
}

# mape_on N: CE N's translation back in an empty chain. udp/9 is left
# untranslated on purpose (br_witness_counts). ce1: mapecalc's MAPE line,
# by iptables; ce2: what replaces mapecalc's line "oifname mape0 snat to
# ...:mape": other interfaces are left alone, the rest gets the mape
# expression, appended by netlink.
mape_on() {
	local ce
	eval "ce=\$ce$1"
	if [ "$1" = 1 ]; then
		ip netns exec "$ce" iptables -t nat -A POSTROUTING -p udp --dport 9 -j ACCEPT &&
		ip netns exec "$ce" iptables -t nat -A POSTROUTING \
			$(grep -o -- '-o mape0 -j MAPE .*' "$OUT/ce1.rules.v4")
		return
	fi
	ip netns exec "$ce" nft add rule ip mape postrouting udp dport 9 accept &&
	mape_snat_netlink "$ce" "$(p IPV4 "$1")" \
		"$(p PSID_OFFSET "$1")" "$(p PSID_LEN "$1")" "$(p PSID "$1")"
}

setup() {
	calc 1 "$PREFIX1" && calc 2 "$PREFIX2" && fwd_ports || return 1
	[ "$(p IPV4 1)" = "$(p IPV4 2)" ] && [ "$(p PSID 1)" != "$(p PSID 2)" ] || {
		echo "# the two prefixes must share an IPv4 address"
		return 1
	}
	ktap_note "$1: $(p IPV4 1) a/k $(p PSID_OFFSET 1)/$(p PSID_LEN 1)," \
		"PSIDs $(p PSID 1) and $(p PSID 2), $(p PORTS 1) ports each"
	mape_install_module && mape_install_plugin && br_setup && br_rules && inet_servers &&
	ce_setup 1 && ce_setup 2 && ce1_forwards || return 1
	HOPS="$lan1 $ce1 $lan2 $ce2 $br $inet"
}

# --- the checks ---

# The CE address a real CE would have, rebuilt here from IPv4 and PSID.
ce_address_layout() {
	local n want got
	for n in 1 2; do
		want=$(awk -v v4="$(p IPV4 $n)" -v psid="$(p PSID $n)" -v iid="$(p IID $n)" '
			BEGIN { split(v4, b, ".")
				if (iid == "legacy")
					printf "%x:%x:%x:%x\n", b[1], b[2] * 256 + b[3], b[4] * 256, psid * 256
				else
					printf "0:%x:%x:%x\n", b[1] * 256 + b[2], b[3] * 256 + b[4], psid }')
		got=$(ip -n "$(eval "echo \$ce$n")" -6 -o addr show scope global |
			awk '{ sub("/.*", "", $4); print $2, $4 }')
		ktap_note "ce$n $got"
		got=${got#* }
		case "$got" in
		*:"$want") ;;
		*) echo "# ce$n: $got does not end in $want"; return 1 ;;
		esac
	done
}

# An ipip6 tunnel carries IPv4 only. Given a link-local address of its
# own, a host that does not forward IPv6 sends router solicitations from
# it (at once, then at intervals doubling from 4 s to an hour), and the tunnel
# counts each as a transmit error: a router owner's monitoring shows a
# tunnel that keeps failing. mapecalc's tunnels (-f ip, ifupdown and
# networkd), and the BR's here, have none.
tunnels_quiet() {
	local t ns dev ll err bad=0
	for t in ce1:mape0 ce2:mape0 br:tun1 br:tun2; do
		eval "ns=\$${t%:*}"
		dev=${t#*:}
		ll=$(ip -n "$ns" -6 -o addr show dev "$dev" scope link | awk '{ printf " %s", $4 }')
		err=$(ip netns exec "$ns" cat "/sys/class/net/$dev/statistics/tx_errors")
		ktap_note "$t tx_errors $err${ll:+, link-local$ll}"
		[ -z "$ll" ] && [ "$err" = 0 ] || bad=1
	done
	return $bad
}

# mapecalc's printed ranges equal the witness's own computation.
mapecalc_ranges_match() {
	local n
	for n in 1 2; do
		[ "$(p PORT_RANGES $n)" = "$(ranges $n | tr -d ',')" ] || return 1
	done
}

# ab_ok FILE N: ab completed N requests, none failed.
ab_ok() {
	grep -q "^Complete requests: *$2\$" "$1" && grep -q '^Failed requests: *0$' "$1" &&
	! grep -q '^Non-2xx' "$1"
}

# A page's worth of fetches: N per CE spread over the three Internet
# hosts, CONC at once. ab gives up on the whole run when one response
# takes over its 30 s (the debug kernel: 43 of 167 done, no backlog drop,
# nothing exhausted), so it waits MAPE_SLOW times as long. (Toward ONE
# host, more fetches than P need the TIME_WAIT takeover; see README
# "Known limits" for what 6.1 does there.)
http_fetches() {
	local n=$1 conc=$2 pids="" c d
	nat_mark "$ce1" "$ce2"
	for c in 1 2; do
		for d in 2 3 4; do
			ip netns exec "$(eval "echo \$lan$c")" ab -q -r -s "$(slow 30)" -n $((n / 3)) \
				-c $((conc / 3)) http://203.0.113.$d/ > "$OUT/ab$c.$d" 2>&1 &
			pids="$pids $!"
		done
	done
	wait $pids
	ktap_note "ce1: $(grep -h '^Time taken' "$OUT/ab1.2")" \
		"exhausted: ce1 $(mape_stat "$ce1" exhausted), ce2 $(mape_stat "$ce2" exhausted)"
	ok=0
	for c in 1 2; do
		for d in 2 3 4; do
			ab_ok "$OUT/ab$c.$d" $((n / 3)) && continue
			ktap_note "lan$c to .$d:"
			grep -hE -A1 '^(Complete|Failed)' "$OUT/ab$c.$d" | sed 's/^/# /'
			tail -n 2 "$OUT/ab$c.$d" | sed 's/^/# /'
			ok=1
		done
	done
	nat_expect "$ce1" 0 && nat_expect "$ce2" 0 && return $ok
}

# 500 fetches from lan1 toward ONE host, CONC at once: past P, new
# connections must take over ports the server holds in TIME_WAIT (nginx
# closes first). All complete (what a user sees); the server's
# TIME_WAIT may refuse a taken-over port's SYN by its
# timestamp check (PAWS: conntrack tracks no timestamps, so the CE cannot
# tell), the client resets it and its SYN retransmission connects:
# reported. So are clashes at confirm (two new endpoints hashed to one
# port, searched at once on two CPUs: 1 in P per such pair; and with the
# set nearly all TIME_WAIT both CPUs search beyond their stripes and may
# pick one port at once; CI, two VMs side by side: 1 in 500) and SYNs
# refused while every port is held by a flow that may not be taken over
# yet (6.1, CI: a few in 500):
# each costs the client one SYN retransmission. Still known to fail on
# 6.1 under load (1 run in 10 beside a CPU hog): reordered challenge ACKs
# that leave conntrack ignoring a connection (README "Known limits").
http_one_host() {
	local t0 p0 r0 c0 e0
	t0=$(mape_stat "$ce1" takeover) c0=$(ct_stat "$ce1" insert_failed)
	e0=$(mape_stat "$ce1" exhausted) p0=$(tcp_stat "$inet" TcpExtPAWSEstab) r0=$(tcp_stat "$lan1" TcpExtTCPSynRetrans)
	ip netns exec "$lan1" ab -q -r -s "$(slow 30)" -n 500 -c "$1" http://$SRV/ > "$OUT/ab-one" 2>&1
	ktap_note "takeovers +$(( $(mape_stat "$ce1" takeover) - t0 )), SYNs refused by the" \
		"server's PAWS +$(( $(tcp_stat "$inet" TcpExtPAWSEstab) - p0 )), SYN" \
		"retransmissions +$(( $(tcp_stat "$lan1" TcpExtTCPSynRetrans) - r0 ))"
	ab_ok "$OUT/ab-one" 500 || { grep -hE -A1 '^(Complete|Failed)' "$OUT/ab-one" | sed 's/^/# /'; return 1; }
	ktap_note "clashes at confirm (insert_failed) +$(( $(ct_stat "$ce1" insert_failed) - c0 )), SYNs" \
		"refused for want of a port +$(( $(mape_stat "$ce1" exhausted) - e0 ))"
}

# DNS-like: one datagram out, one back, 200 clients per LAN at once.
udp_request_response() {
	local pids
	nat_mark "$ce1" "$ce2"
	ip netns exec "$lan1" "$FLOWS" run udp $SRV 53 open:200 > "$OUT/dns1" &
	pids=$!
	ip netns exec "$lan2" "$FLOWS" run udp $SRV 53 open:200 > "$OUT/dns2" &
	wait $pids $!
	streams_ok 200 "$OUT/dns1" 1 "$OUT/dns2" 2 &&
	nat_expect "$ce1" 0 && nat_expect "$ce2" 0
}

# streams_ok N FILE CE [FILE CE]...: each "flows run" output opened N
# flows, all from ports in CE's set. Every stream is reported, failing or
# not, with what resends recovered.
streams_ok() {
	local n=$1 rc=0
	shift
	while [ $# -gt 1 ]; do
		ktap_note "$(basename "$1"): $(grep '^open' "$1" | tail -n 1)"
		{ opened "$1" "$n" && in_set "$2" "$1"; } || rc=1
		shift 2
	done
	return $rc
}

# 20 ping processes per LAN at once: 20 ICMP ids each to translate. Each
# needs 2 replies within 5 s and sends on until it has them (-w), on its
# one id, as the UDP clients resend: an echo the emulated network dropped
# under the burst (CI, two VMs side by side: one of the 40 pings failed
# the old check, 0 % loss of -c 2) is sent again; an id the NAT got wrong
# never answers.
pings() {
	local n i pids="" rc=0
	for n in 1 2; do
		for i in $(seq 1 20); do
			ip netns exec "$(eval "echo \$lan$n")" ping -q -c 2 -i 0.2 -w 5 $SRV \
				> "$OUT/ping$n.$i" 2>&1 &
			pids="$pids $!"
		done
	done
	for i in $pids; do
		wait "$i" || rc=1
	done
	ktap_note "echoes sent/answered: $(cat "$OUT"/ping* | awk '/transmitted/ { t += $1; r += $4 }
		END { print t "/" r }')"
	return $rc
}

iperf_bulk() {
	local bps
	ip netns exec "$lan1" iperf3 -c $SRV -p 5201 -t 3 -J > "$OUT/iperf" || return 1
	bps=$(awk '/"sum_received"/ { r = 1 } r && /"bits_per_second"/ {
		gsub(/[^0-9.e+]/, "", $2); print int($2); exit }' "$OUT/iperf")
	ktap_note "iperf3 through the tunnel: $((bps / 1000000)) Mbit/s"
	[ "${bps:-0}" -gt 1000000 ]
}

# The LAN host has MTU 1500 (MSS 1460); the download's SYN reaches the
# Internet host clamped to the tunnel's 1460 - 40, and 1 MB arrives whole.
mss_clamped() {
	local big0 ok0 big ok
	big0=$(nft_packets "$inet" mss_big) ok0=$(nft_packets "$inet" mss_ok)
	ip netns exec "$lan1" busybox wget -q -O "$OUT/1m.got" http://$SRV/1m &&
	cmp -s "$OUT/1m.got" "$OUT/www/1m" || { echo "# download"; return 1; }
	big=$(( $(nft_packets "$inet" mss_big) - big0 ))
	ok=$(( $(nft_packets "$inet" mss_ok) - ok0 ))
	ktap_note "the download's SYNs at the server: $ok with MSS <= 1420, $big above"
	[ "$big" = 0 ] && [ "$ok" -ge 1 ]
}

# 1500 bytes with DF does not fit the tunnel: the CE says so (mtu 1460),
# and 1460 bytes do get through.
df_ping() {
	ip -n "$lan1" route flush cache	# forget what earlier transfers learned
	ip netns exec "$lan1" ping -c 1 -W 3 -M do -s 1472 $SRV > "$OUT/df" 2>&1
	grep -q 'mtu = 1460' "$OUT/df" || { sed 's/^/# /' "$OUT/df"; return 1; }
	ip netns exec "$lan1" ping -c 1 -W 3 -M do -s 1432 $SRV > /dev/null
}

# Three times P flows from each LAN, held at once, toward three hosts.
port_reuse() {
	local n size d pids="" rc=0
	size=$(p PORTS 1)
	nat_mark "$ce1" "$ce2"
	for n in 1 2; do
		for d in 2 3 4; do
			ip netns exec "$(eval "echo \$lan$n")" "$FLOWS" run udp 203.0.113.$d 5000 \
				open:"$size" hold:2 > "$OUT/reuse$n.$d" &
			pids="$pids $!"
		done
	done
	wait $pids
	for n in 1 2; do
		for d in 2 3 4; do
			streams_ok "$size" "$OUT/reuse$n.$d" $n || rc=1
		done
	done
	ktap_note "$((6 * size)) flows held at once over $((2 * size)) ports"
	nat_expect "$ce1" 0 && nat_expect "$ce2" 0 && return $rc
}

# Both CEs at once toward one destination: P flows each, then one more,
# which is never answered (its resends are refused too).
exhaustion() {
	local size n pids="" rc=0
	size=$(p PORTS 1)
	nat_mark "$ce1" "$ce2"
	for n in 1 2; do
		ip netns exec "$(eval "echo \$lan$n")" "$FLOWS" run udp $SRV 5001 \
			open:"$size" wait:2000 open:1 > "$OUT/full$n" &
		pids="$pids $!"
	done
	wait $pids
	for n in 1 2; do
		ktap_note "ce$n: $(grep '^open' "$OUT/full$n" | tr '\n' ' ')"
		grep -q "^open $size ok $size failed 0" "$OUT/full$n" &&
			opened "$OUT/full$n" 0 && in_set $n "$OUT/full$n" || rc=1
	done
	nat_expect "$ce1" + && nat_expect "$ce2" + && return $rc
}

# Generators pinned to each vCPU fill 95 % of the set toward one
# destination at once: two searches can meet only where both CPUs work
# near a full set. Every flow is answered (a query that lost a race at
# conntrack confirm is resent and searched again, as a real client's),
# none is refused, and the clashes are counted (the port-search issue
# compares them with stock snat in mape_nat.sh).
smp() {
	local each pid0
	each=$(( $(p PORTS 1) * 95 / 200 ))
	nat_mark "$ce1"
	ip netns exec "$lan1" taskset -c 0 "$FLOWS" run udp $SRV 5002 open:$each > "$OUT/cpu0" &
	pid0=$!
	ip netns exec "$lan1" taskset -c 1 "$FLOWS" run udp $SRV 5002 open:$each > "$OUT/cpu1" &
	wait $pid0 $!
	streams_ok $each "$OUT/cpu0" 1 "$OUT/cpu1" 1 && nat_expect_smp "$ce1"
}

# nat_expect_smp NS: nothing refused, and nothing dropped but the first
# packet of a clash at confirm (kmod/mape_port.c: two endpoints whose
# hashed ports meet, on two CPUs at once), which conntrack counts in both
# insert_failed and drop, and whose client resends.
nat_expect_smp() {
	local c0 d0 e0 c d e
	read -r c0 d0 e0 _ <<< "${NAT_MARK[$1]}"
	read -r c d e _ <<< "$(nat_facts "$1")"
	ktap_note "${1%-*}: clashes at confirm (insert_failed) +$((c - c0)), drop +$((d - d0)), exhausted +$((e - e0))"
	[ $((d - d0)) = $((c - c0)) ] && [ "$e" = "$e0" ]
}

# From the Internet host to the shared address at FWD_IN: reaches lan1.
port_forward_in() {
	ip netns exec "$inet" "$FLOWS" run tcp "$(p IPV4 1)" "$FWD_IN" open:1 > "$OUT/fwd" &&
	opened "$OUT/fwd" 1
}

# The same forward exists on ce1 for FWD_OTHER (ce2's set) and FWD_NOBODY
# (nobody's): neither may reach ce1, the BR drops the second.
port_forward_out() {
	local u0
	u0=$(nft_packets "$br" unowned)
	ip netns exec "$inet" "$FLOWS" run tcp "$(p IPV4 1)" "$FWD_OTHER" open:1 > "$OUT/o1"
	ip netns exec "$inet" "$FLOWS" run tcp "$(p IPV4 1)" "$FWD_NOBODY" open:1 > "$OUT/o2"
	opened "$OUT/o1" 0 && opened "$OUT/o2" 0 &&
	[ "$(nft_packets "$ce1" fwd_out)" = 0 ] &&
	[ "$(nft_packets "$br" unowned)" -gt "$u0" ]
}

# A datagram from the Internet to a port of ce1's set that no flow or
# forward holds. The shared address is on no interface of ce1: rather than
# route it back into the tunnel, to the BR, which would send it back, ce1
# drops it (mapecalc's blackhole rule, here made by systemd-networkd). The
# BR counts it on its way to ce1 (sent again if the emulated network lost
# it), and nothing coming back.
unsolicited_dropped() {
	local l0 i sent port=$((FWD_IN + 1))
	ip netns exec "$br" nft add counter ip br knock1 &&
	ip netns exec "$br" nft add rule ip br relay oifname tun1 udp dport $port counter name knock1 &&
	l0=$(nft_packets "$br" loop1) || return 1
	for i in 1 2 3; do
		echo x | ip netns exec "$inet" socat -u - UDP:"$(p IPV4 1)":$port &&
		sleep "$(slow 1)" || return 1
		sent=$(nft_packets "$br" knock1)
		[ "$sent" -gt 0 ] && break
	done
	ktap_note "to :$port, $i sent, the BR passed $sent to ce1, ce1 sent back $(( $(nft_packets "$br" loop1) - l0 ))"
	[ "$sent" -gt 0 ] && [ "$(nft_packets "$br" loop1)" = "$l0" ]
}

# UDP hole punching between lan1 and lan2, whose CEs share one address:
# each learns the other's mapping from the rendezvous on inet, then both
# send to it. Neither CE holds the shared address, so what lan1 sends to
# it leaves by the tunnel, and the BR hands it to ce2, which lets it in
# once lan2 has sent the other way: endpoint-independent mapping gives
# each the same port toward the rendezvous and toward the peer.
hole_punch() {
	local pid rc1 rc2 n
	ip netns exec "$lan1" "$PUNCH" peer $SRV 3478 4000 > "$OUT/punch1" &
	pid=$!
	ip netns exec "$lan2" "$PUNCH" peer $SRV 3478 4000 > "$OUT/punch2"
	rc2=$?
	wait $pid
	rc1=$?
	for n in 1 2; do ktap_note "lan$n: $(cat "$OUT/punch$n")"; done
	[ "$rc1" = 0 ] && [ "$rc2" = 0 ] && punched 1 2 && punched 2 1
}

# punched N M: lan N is at the shared address with a port of CE N's set,
# its peer at one of CE M's, and it heard the peer from there.
punched() {
	local you yport peer pport heard hport
	read -r _ you yport _ peer pport _ heard hport < "$OUT/punch$1"
	[ "$you" = "$(p IPV4 1)" ] && [ "$peer" = "$you" ] &&
	[ "$heard $hport" = "$peer $pport" ] &&
	[ -z "$(echo "$yport" | not_in_set "$(p PSID_OFFSET $1)" "$(p PSID_LEN $1)" "$(p PSID $1)")" ] &&
	[ -z "$(echo "$pport" | not_in_set "$(p PSID_OFFSET $2)" "$(p PSID_LEN $2)" "$(p PSID $2)")" ]
}

# seen_at_br N: the source ports the BR has seen from CE N.
seen_at_br() {
	ip netns exec "$br" nft list set ip br seen$1 |
		awk '/elements/ { e = 1 } e' | tr -s ' ,{}=\t' '\n' | grep -E '^[0-9]+$'
}

no_violations() {
	local n v seen bad
	for n in 1 2; do
		v=$(nft_packets "$br" viol$n)
		seen=$(seen_at_br $n | wc -l)
		bad=$(seen_at_br $n | not_in_set "$(p PSID_OFFSET $n)" "$(p PSID_LEN $n)" "$(p PSID $n)" | head -3)
		ktap_note "ce$n: $(nft_packets "$br" syn$n) TCP connections," \
			"$seen distinct source ports at the BR, $v violations"
		[ "$v" = 0 ] && [ "$seen" -gt 0 ] && [ -z "$bad" ] || { echo "# outside:" $bad; return 1; }
	done
}

# The witnesses can fail: a datagram the CE leaves untranslated (udp/9 is
# exempt in its ruleset) from a port outside the set is dropped and counted.
br_witness_counts() {
	local v0
	v0=$(nft_packets "$br" viol1)
	echo x | ip netns exec "$ce1" socat -u - UDP:$SRV:9,sourceport=7 &&
	sleep 0.3 && [ "$(nft_packets "$br" viol1)" = $((v0 + 1)) ]
}

# The guard of mapecalc -f ip (ce2's tunnel): with the NAT rule gone,
# LAN traffic is forwarded untranslated, and mape0's egress filter drops
# it before it reaches the BR; the BR counts no violation.
guard_drops_untranslated() {
	local v0 g0 g gone
	v0=$(nft_packets "$br" viol2) g0=$(guard_drops "$ce2")
	ip netns exec "$ce2" nft flush chain ip mape postrouting || return 1
	ip netns exec "$lan2" "$FLOWS" run udp $SRV 5100 wait:2000 open:20 > "$OUT/unnat"
	mape_on 2 || return 1
	g=$(guard_drops "$ce2") gone=$(untranslated_gone)
	ktap_note "ce2 without its NAT rule: 20 flows, $(grep '^open' "$OUT/unnat")," \
		"guard drops +$((g - g0)), BR violations +$(( $(nft_packets "$br" viol2) - v0 ))," \
		"${gone:-?} untranslated entries then deleted"
	opened "$OUT/unnat" 0 && [ "$g" -ge $((g0 + 20)) ] && [ "$gone" = 20 ] &&
	[ "$(nft_packets "$br" viol2)" = "$v0" ]
}

# untranslated_gone: delete the entries of the flows ce2 forwarded without
# its NAT rule, and say how many. Each keeps its null binding, so every
# later packet of it is dropped by the guard again, and each resend renews
# it: a flow of a later case that happens to reuse one of those source
# ports toward the same server never gets through (CI, once, on 6.1: the
# ifup case's flows, 1 of 20 unanswered after 5 resends).
untranslated_gone() {
	ip netns exec "$ce2" conntrack -D -p udp --dport 5100 --reply-dst $LAN_HOST 2>&1 |
		sed -n 's/.* \([0-9]*\) flow entries have been deleted.*/\1/p'
}

# guard_drops NS: packets mape0's egress guard dropped in NS.
guard_drops() {
	tc -n "$1" -s filter show dev mape0 egress |
		awk '/gact action drop/ { d = 1 } d && $1 == "Sent" { print $4; exit }'
}

# witness_mark: what the BR has counted before the lifecycle checks (the
# deliberate fault included); witness_unchanged: ce1, whose rule and
# module came and went under traffic, and ce2, whose namespace was deleted
# under traffic, sent nothing more outside their sets. During that
# deletion nf_tables, and with it the NAT hooks, leaves before the devices
# do, so packets still arriving from lan2 are forwarded untranslated:
# mape0's egress guard (mapecalc -f ip) drops them.
witness_mark() {
	MARK="$(nft_packets "$br" viol1) $(nft_packets "$br" viol2)"
}

witness_unchanged() {
	local now
	now="$(nft_packets "$br" viol1) $(nft_packets "$br" viol2)"
	ktap_note "BR violations from ce1, ce2: before $MARK, after $now"
	[ "$now" = "$MARK" ]
}

# Flush and re-add ce1's rules while 100 TCP flows are held and a long
# connection is open: all survive, and new flows after the re-add are
# in the set.
flush_readd() {
	coproc ip netns exec "$lan1" socat - TCP:$SRV:9000
	sleep 0.5
	echo_line before || { echo "# long connection"; return 1; }
	local held
	ip netns exec "$lan1" "$FLOWS" run tcp $SRV 8080 open:100 hold:4 > "$OUT/held" &
	held=$!
	sleep 1
	mape_off && mape_on 1 || return 1
	wait $held || { echo "# held flows"; return 1; }
	ip netns exec "$lan1" "$FLOWS" run udp $SRV 5100 open:50 > "$OUT/after" &&
	opened "$OUT/held" 100 && in_set 1 "$OUT/held" && in_set 1 "$OUT/after" &&
	echo_line after
}

# ce2 goes away while an iperf3 transfer and 100 TCP flows run through it.
netns_deleted_live() {
	ip netns exec "$lan2" iperf3 -c $SRV -p 5201 -t 8 > /dev/null 2>&1 &
	ip netns exec "$lan2" "$FLOWS" run tcp $SRV 8080 open:100 hold:"$(slow 10)" > "$OUT/live2" &
	sleep "$(slow 2)"
	opened "$OUT/live2" 100 || { echo "# flows through ce2"; return 1; }
	ns_delete "$ce2" && ns_delete "$lan2" && sleep 1 &&
	! ip netns list | grep -q "$ce2"
}

# Ten rounds of: rule out, module out, module in, rule in, a burst.
module_loop() {
	local round
	for round in $(seq 1 10); do
		mape_off && mape_unload && modprobe nf_nat_mape && mape_on 1 ||
			{ echo "# round $round: rule or module"; return 1; }
		ip netns exec "$lan1" "$FLOWS" run udp 203.0.113.$((2 + round % 3)) 5100 \
			open:20 > "$OUT/burst"
		opened "$OUT/burst" 20 && in_set 1 "$OUT/burst" ||
			{ echo "# round $round: burst"; return 1; }
	done
}

ktap_plan 26
ktap_test "setup" setup "$1"
[ "$ktap_failed" = 0 ] || { ktap_note "no topology: the other checks cannot run"; exit $KSFT_FAIL; }
# Half the set at once (at most 200): the other half is for connections
# still closing, which hold their port until they reach TIME_WAIT.
CONC=$(( $(p PORTS 1) / 2 > 200 ? 200 : $(p PORTS 1) / 2 ))
ktap_test "ce_ipv6_address_layout_$(p IID 1)" ce_address_layout
ktap_test "mapecalc_ranges_equal_witness_ranges" mapecalc_ranges_match
ktap_test "tunnels_no_link_local_no_tx_errors" tunnels_quiet
ktap_test "http_501_fetches_per_ce_to_3_hosts_${CONC}_concurrent" http_fetches 501 "$CONC"
ktap_test "http_500_fetches_to_one_host_${CONC}_concurrent" http_one_host "$CONC"
ktap_test "udp_request_response_200_per_ce" udp_request_response
ktap_test "icmp_ping_20_ids_per_ce" pings
ktap_test "iperf3_bulk_tcp_through_tunnel" iperf_bulk
ktap_test "mss_clamped_for_1500_mtu_client" mss_clamped
ktap_test "df_ping_gets_frag_needed_mtu_1460" df_ping
ktap_test "port_reuse_3P_flows_over_3_destinations" port_reuse
ktap_test "exhaustion_exactly_P_then_refused_per_ce" exhaustion
ktap_test "smp_two_cpus_fill_95pct_nothing_refused" smp
ktap_test "port_forward_inside_set_reaches_lan" port_forward_in
ktap_test "port_forward_outside_set_never_reaches_ce" port_forward_out
ktap_test "unsolicited_to_shared_address_not_sent_back" unsolicited_dropped
ktap_test "udp_hole_punching_between_the_two_ces" hole_punch
ktap_test "br_zero_port_set_violations" no_violations
ktap_test "br_witness_counts_an_outside_port" br_witness_counts
ktap_test "guard_drops_untranslated_when_nat_rule_is_gone" guard_drops_untranslated
if [ "${TUNNEL2:-}" = ifupdown ]; then
	ktap_test "ifdown_takes_ce2_tunnel_away_ifup_restores_it" ifdown_then_ifup
else
	ktap_skip "ifdown_takes_ce2_tunnel_away_ifup_restores_it" "ce2 is set up by ip(8) here (ocn: ifupdown)"
fi
witness_mark
ktap_test "rule_flushed_and_readded_under_traffic" flush_readd
ktap_test "ce_netns_deleted_with_live_flows" netns_deleted_live
ktap_test "rmmod_modprobe_10_rounds_between_bursts" module_loop
ktap_test "no_violations_during_lifecycle_and_netns_deletion" witness_unchanged
ktap_finish
