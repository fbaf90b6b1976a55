# SPDX-License-Identifier: GPL-2.0
# Shared by the selftests: KTAP output, network namespaces, module install.
# A test sources this, calls ktap_plan, runs its cases, ends in ktap_finish.

KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

ktap_n=0
ktap_failed=0
ktap_passed=0

ktap_plan() {
	echo "KTAP version 1"
	echo "1..$1"
}

ktap_note() { echo "# $*"; }

ktap_ok() {
	ktap_n=$((ktap_n + 1))
	ktap_passed=$((ktap_passed + 1))
	echo "ok $ktap_n $1"
}

ktap_fail() {
	ktap_n=$((ktap_n + 1))
	ktap_failed=$((ktap_failed + 1))
	echo "not ok $ktap_n $1${2:+ # $2}"
}

ktap_skip() {
	ktap_n=$((ktap_n + 1))
	echo "ok $ktap_n $1 # SKIP $2"
}

# ktap_test NAME CMD...: one case, passing when CMD succeeds. A failing
# case prints the drop counters of the namespaces in $HOPS (hop_report),
# so that a lost packet can be placed. A case of 10 s or more says how
# long it took: CI's budget is spent in a few of them.
HOPS=""
ktap_test() {
	local name=$1 t0=$SECONDS rc=0
	shift
	"$@" || rc=1
	[ $((SECONDS - t0)) -lt 10 ] || ktap_note "$name took $((SECONDS - t0)) s"
	if [ $rc = 0 ]; then
		ktap_ok "$name"
	else
		[ -z "$HOPS" ] || hop_report $HOPS
		ktap_fail "$name"
	fi
}

# slow N: N (seconds) times MAPE_SLOW, for a wait that must cover the
# kernel's work.
slow() { echo $(( $1 * ${MAPE_SLOW:-1} )); }

# time_bound CMD...: CMD checks a bound on time or rate. On a kernel
# MAPE_SLOW times slower (make check-debug's) a miss is noted, not failed:
# that run is for the sanitizers, and the code under the bound still runs.
time_bound() {
	"$@" && return 0
	[ "${MAPE_SLOW:-1}" -gt 1 ] || return 1
	ktap_note "missed a time bound ($*) on a kernel ${MAPE_SLOW} times slower: noted only"
}

ktap_finish() {
	if [ "$ktap_failed" -gt 0 ]; then
		exit $KSFT_FAIL
	elif [ "$ktap_passed" -eq 0 ]; then
		exit $KSFT_SKIP
	fi
	exit $KSFT_PASS
}

# Skip the whole file unless we are root inside the test VM: the tests load
# modules and rewrite /lib/modules, which only the VM's overlay may absorb.
require_vm() {
	if [ "$(id -u)" != 0 ] || [ "${MAPE_VM:-}" != 1 ]; then
		ktap_plan 1
		ktap_skip "$(basename "$0")" "needs root in the test VM (selftests/vm/run.sh)"
		exit $KSFT_SKIP
	fi
}

# test_workdir: OUT, a directory of the test's own; at exit the test's
# background jobs, namespaces and OUT go.
test_workdir() {
	OUT=$(mktemp -d)
	trap test_cleanup EXIT
}

test_cleanup() {
	jobs -p | xargs -r kill 2>/dev/null
	ns_cleanup
	rm -rf "$OUT"
}

# run_flows NAME PROTO PORT STEP...: "flows run" from $client toward
# $SERVER, its output in $OUT/NAME and its step lines as notes; the status
# is flows' own (0: every flow answered).
run_flows() {
	local name=$1 proto=$2 port=$3 rc
	shift 3
	ip netns exec "$client" "$MAPE_ROOT/build/tools/flows" run "$proto" "$SERVER" "$port" "$@" \
		> "$OUT/$name"
	rc=$?
	grep -v '^seen' "$OUT/$name" | sed 's/^/# /'
	return $rc
}

# Namespaces get random names so concurrent or leftover runs never collide.
NS_LIST=""
ns_create() {
	local var=$1 name
	name="$1-$(mktemp -u XXXXXX)"
	ip netns add "$name" || return 1
	ip -n "$name" link set lo up
	NS_LIST="$NS_LIST $name"
	eval "$var=\$name"
	ns_slow_conntrack "$name"
}

# ns_slow_conntrack NS: on a kernel MAPE_SLOW times slower (make
# check-debug's), NS keeps an unanswered UDP flow 30 s times MAPE_SLOW:
# a test's steps there outlast the default 30 s (held flows expired
# while mape_search.sh filled a set; a fullcone mapping's flow while
# mape_nattype.sh asked about it). At MAPE_SLOW 1 nothing changes.
ns_slow_conntrack() {
	[ "${MAPE_SLOW:-1}" -gt 1 ] || return 0
	modprobe -q nf_conntrack &&
	ip netns exec "$1" sysctl -qw net.netfilter.nf_conntrack_udp_timeout="$(slow 30)"
}

# ns_delete NS: kill what runs inside NS, delete it, forget it.
ns_delete() {
	ip netns pids "$1" 2>/dev/null | xargs -r kill 2>/dev/null
	NS_LIST=${NS_LIST/$1/}
	ip netns del "$1" 2>/dev/null
}

# Delete every namespace the test made.
ns_cleanup() {
	local ns
	for ns in $NS_LIST; do
		ns_delete "$ns"
	done
	NS_LIST=""
}

# veth_link NS1 IF1 ADDR1/LEN NS2 IF2 ADDR2/LEN
veth_link() {
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4" || return 1
	ip -n "$1" addr add "$3" dev "$2"
	ip -n "$4" addr add "$6" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}

# wait_listen NS PROTO PORT: bounded wait for a listener (t = tcp, u = udp).
wait_listen() {
	local i
	for i in $(seq 1 100); do
		ip netns exec "$1" ss -Hln"$2" "sport = :$3" | grep -q . && return 0
		sleep 0.1
	done
	echo "# no listener on $2 port $3 in $1"
	return 1
}

# The iptables plugin where a user's "make install" puts it, in the VM's
# overlay of Debian's xtables directory.
mape_install_plugin() {
	install -D -m 644 "$MAPE_ROOT/build/xtables/libxt_MAPE.so" \
		/usr/lib/x86_64-linux-gnu/xtables/libxt_MAPE.so
}

# mape_unload: the module out, waiting for namespaces and rules that are
# still being released (nf_tables and netns teardown release it late).
mape_unload() {
	local i
	for i in $(seq 1 50); do
		modprobe -r nf_nat_mape 2>/dev/null && return 0
		sleep 0.1
	done
	echo "# nf_nat_mape stays in use"
	return 1
}

# Put the freshly built module where modprobe finds it. depmod over the
# whole tree takes over a minute under TCG, so "make" computed the index on
# the host (build/KVER/modroot); copy it over the VM's writable overlay.
mape_install_module() {
	local kver src
	kver=$(uname -r)
	src="$MAPE_ROOT/build/$kver/modroot/lib/modules/$kver"
	[ -r "$src/updates/nf_nat_mape.ko" ] || {
		echo "# $src has no module index: run make KVER=$kver"
		return 1
	}
	mkdir -p "/lib/modules/$kver/updates"
	cp "$src/updates/nf_nat_mape.ko" "/lib/modules/$kver/updates/"
	cp "$src"/modules.* "/lib/modules/$kver/"
}

MAPE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# topo_crs: client -- router -- server, the router forwarding between them.
#   client 192.0.2.2/24 = lan0 192.0.2.1/24 (router) wan0 $1/24 = server $2/24
# Sets $client, $router, $server; the router has an empty nat table
# "table ip nat { chain post }" at postrouting for the test's rules.
topo_crs() {
	local wan=$1 srv=$2
	ns_create client && ns_create router && ns_create server &&
	veth_link "$client" eth0 192.0.2.2/24 "$router" lan0 192.0.2.1/24 &&
	veth_link "$router" wan0 "$wan/24" "$server" eth0 "$srv/24" &&
	ip -n "$client" route add default via 192.0.2.1 &&
	ip netns exec "$router" sysctl -qw net.ipv4.ip_forward=1 &&
	ip netns exec "$router" nft -f - <<-NFT
	table ip nat {
		chain post {
			type nat hook postrouting priority srcnat;
		}
	}
	NFT
}

# --- MAP-E CE and BR pieces shared by the end-to-end test and the demo ---

# mape_wan_link CE BR IF: the CE's IPv6 uplink wan0 to interface IF of the
# BR (link-local fe80::c and fe80::b, no duplicate address detection, so
# that mapecalc's CE address on wan0 is usable at once), the CE's IPv6
# default route, and forwarding on the CE.
mape_wan_link() {
	ip link add wan0 netns "$1" type veth peer name "$3" netns "$2" &&
	ip netns exec "$1" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv6.conf.wan0.accept_dad=0 &&
	ip -n "$1" addr add fe80::c/64 dev wan0 nodad &&
	ip -n "$2" addr add fe80::b/64 dev "$3" nodad &&
	ip -n "$1" link set wan0 up && ip -n "$2" link set "$3" up &&
	ip -n "$1" -6 route add default via fe80::b dev wan0
}

# mape_br_inet SRV: namespaces $br and $inet: the BR forwarding, with
# $MAPE_BR on its lo, and the Internet host at SRV/24 behind its inet0
# (203.0.113.1, inet's default route).
mape_br_inet() {
	ns_create br && ns_create inet &&
	ip netns exec "$br" sysctl -qw net.ipv4.ip_forward=1 &&
	ip -n "$br" -6 addr add "$MAPE_BR/128" dev lo &&
	veth_link "$br" inet0 203.0.113.1/24 "$inet" eth0 "$1/24" &&
	ip -n "$inet" route add default via 203.0.113.1
}

# mape_br_tunnel BR TUN IF CE_ADDR BR_ADDR IPV4 MTU [TABLE]: the BR's end
# of one CE's tunnel: the CE's /128 via IF, ip6tnl TUN, and IPV4 routed
# into it (in routing table TABLE, default main).
mape_br_tunnel() {
	ip -n "$1" -6 route add "$4/128" via fe80::c dev "$3" &&
	ip -n "$1" -6 tunnel add "$2" mode ipip6 local "$5" remote "$4" encaplimit none &&
	ip -n "$1" link set "$2" mtu "$7" addrgenmode none &&
	ip -n "$1" link set "$2" up &&
	ip -n "$1" route add "$6/32" dev "$2" table "${8:-main}"
}

# mape_stock_ruleset NS FILE: mapecalc's ruleset FILE (-f nft) loaded in NS
# by Debian's nft, which cannot parse its line 'oifname "mape0" snat to
# ...:mape'; that line is left out (and must be there), for
# mape_snat_netlink to put back.
mape_stock_ruleset() {
	grep -q '^[[:space:]]*oifname "mape0" snat to .*:mape ' "$2" || {
		echo "# no mape line in $2"
		return 1
	}
	sed '/oifname "mape0" snat to /d' "$2" | ip netns exec "$1" nft -f -
}

# mape_snat_netlink NS IPV4 A K PSID: what mapecalc's snat line does,
# appended to NS's chain "ip mape postrouting": other interfaces pass, the
# rest gets the mape expression (by netlink, tools/mape_rule).
mape_snat_netlink() {
	ip netns exec "$1" nft add rule ip mape postrouting oifname != "mape0" accept &&
	ip netns exec "$1" "$MAPE_ROOT/build/tools/mape_rule" mape postrouting "$2" "$3" "$4" "$5"
}

# mape_stat NS FIELD: a /proc/net/stat/nf_nat_mape column summed over
# CPUs; fails, printing nothing, if there is no such column.
mape_stat() {
	ip netns exec "$1" awk -v f="$2" '
		NR == 1 { for (i = 2; i <= NF; i++) if ($i == f) c = i; next }
		c { s += $c }
		END { if (!c) { print "# no column " f > "/dev/stderr"; exit 1 }
		      print s + 0 }' /proc/net/stat/nf_nat_mape
}

# mape_cones NS: NS's fullcone tables (/proc/net/nf_nat_mape_cones)
# without the ages, which tick while a test reads them twice.
mape_cones() {
	ip netns exec "$1" sed 's/ age [0-9]*$//' /proc/net/nf_nat_mape_cones
}

# ct_stat NS FIELD: a conntrack statistic (conntrack -S) summed over CPUs;
# fails, printing nothing, if there is no such field.
ct_stat() {
	ip netns exec "$1" conntrack -S 2>/dev/null | awk -v f="$2" '
		{ for (i = 1; i <= NF; i++) if (split($i, kv, "=") == 2 && kv[1] == f) {
			s += kv[2]; c = 1 } }
		END { if (!c) { print "# no conntrack statistic " f > "/dev/stderr"; exit 1 }
		      print s + 0 }'
}

# What the NAT of a namespace did to new flows: clashes at conntrack
# confirm (insert_failed), conntrack drops, mape's refusals (exhausted)
# and its searches cut short (remembered full, capped by the budget),
# "-" where the module is not in use; last, conntrack's clash_resolve.
nat_facts() {
	local m
	m=$(mape_stat "$1" exhausted 2>/dev/null) &&
		m="$m $(mape_stat "$1" remembered) $(mape_stat "$1" capped)" || m="- - -"
	echo "$(ct_stat "$1" insert_failed) $(ct_stat "$1" drop) $m $(ct_stat "$1" clash_resolve)"
}

# nat_mark NS...: remember their nat_facts for nat_expect.
declare -A NAT_MARK
nat_mark() {
	local ns
	for ns; do
		NAT_MARK[$ns]=$(nat_facts "$ns")
	done
}

# nat_expect NS REFUSED: since nat_mark, NS's conntrack confirmed every
# entry its NAT made (insert_failed +0, drop +0) and mape refused REFUSED
# packets: a number, or "+" for at least one.
#
# One exception, counted apart: when a flow's resend reaches the CE while
# its first packet still waits in a backlog (250 ms and more under TCG),
# both get a port; conntrack keeps the loser's for up to a second so that
# its answer finds the way (clash_resolve). Toward a destination that
# needs its whole set, a search meanwhile finds it full. So with
# clash_resolve grown, more refusals than REFUSED are reported, not failed.
nat_expect() {
	local ns=$1 want=$2 c0 d0 e0 r0 p0 x0 c d e r p x
	read -r c0 d0 e0 r0 p0 x0 <<< "${NAT_MARK[$ns]:?nat_mark $ns first}"
	read -r c d e r p x <<< "$(nat_facts "$ns")"
	ktap_note "${ns%-*}: insert_failed +$((c - c0)), drop +$((d - d0)), exhausted +$((e - e0))" \
		"(searches cut short: remembered full +$((r - r0)), capped +$((p - p0)));" \
		"clash_resolve +$((x - x0))"
	[ "$c" = "$c0" ] && [ "$d" = "$d0" ] || return 1
	case $want in
	+) [ "$e" -gt "$e0" ] ;;
	*) [ "$e" = $((e0 + want)) ] || { [ "$x" -gt "$x0" ] && [ "$e" -gt $((e0 + want)) ]; } ;;
	esac
}

# ns_drops: run inside a namespace: its interfaces' drops and errors (an
# ip6tnl counts a transmit its lower device refused as an error), its UDP
# errors and datagrams to no socket (an answer that met no conntrack entry
# lands there), those that are not zero.
ns_drops() {
	local d rx tx rxe txe
	for d in /sys/class/net/*; do
		read -r rx < "$d/statistics/rx_dropped"
		read -r tx < "$d/statistics/tx_dropped"
		read -r rxe < "$d/statistics/rx_errors"
		read -r txe < "$d/statistics/tx_errors"
		[ "$rx$tx$rxe$txe" = 0000 ] ||
			printf ' %s rx_dropped %s tx_dropped %s rx_errors %s tx_errors %s;' \
				"${d##*/}" "$rx" "$tx" "$rxe" "$txe"
	done
	awk '/^Udp:/ && !named { split($0, name); named = 1; next }
	     /^Udp:/ { for (i = 2; i <= NF; i++) if (name[i] ~ /Errors|NoPorts/ && $i) printf " udp %s %s;", name[i], $i }
	' /proc/net/snmp
	# who reset or gave up on TCP connections
	awk '$1 ~ /^(Tcp|TcpExt):$/ && !(($1) in named) { split($0, n); named[$1] = 1
		for (i in n) name[$1, i] = n[i]; next }
	     $1 ~ /^(Tcp|TcpExt):$/ { for (i = 2; i <= NF; i++)
		if (name[$1, i] ~ /^(EstabResets|OutRsts|AttemptFails|TCPAbortOn|TCPTimeouts)/ && $i)
			printf " tcp %s %s;", name[$1, i], $i }
	' /proc/net/snmp /proc/net/netstat
}

# ns_drops_in NS: ns_drops, read in NS.
ns_drops_in() { ip netns exec "$1" bash -c "$(declare -f ns_drops); ns_drops"; }

# tcp_stat NS NAME: a TCP counter of nstat in NS.
tcp_stat() {
	ip netns exec "$1" nstat -saz "$2" 2>/dev/null | awk -v n="$2" '$1 == n { print $2 }'
}

# hop_report NS...: every counter of a dropped packet, hop by hop: the
# vCPUs' input backlogs (softnet_stat: dropped, squeezed), and per
# namespace its interfaces' drops, UDP errors, conntrack and mape.
hop_report() {
	local ns total drop squeeze rest cpu=0 line=""
	while read -r total drop squeeze rest; do
		line="$line cpu$cpu dropped $((16#$drop)) squeezed $((16#$squeeze));"
		cpu=$((cpu + 1))
	done < /proc/net/softnet_stat
	ktap_note "backlog:$line"
	for ns; do
		ktap_note "${ns%-*}:$(ns_drops_in "$ns")" \
			"ct insert_failed/drop, mape exhausted/remembered/capped, ct clash_resolve: $(nat_facts "$ns")," \
			"early_drop $(ct_stat "$ns" early_drop), invalid $(ct_stat "$ns" invalid)"
	done
}

# udp_ask NS ADDR PORT [SADDR:]SPORT: one UDP query from SPORT (of SADDR)
# in NS to ADDR:PORT; prints the answer. Sent again from the same port
# (the same conntrack entry and translated port) until answered, 3 sends
# at most, as a real client resends: the emulated network may lose one.
# A resend is noted on stderr, so that a run shows how often it was needed.
udp_ask() {
	local ns=$1 addr=$2 port=$3 src=sourceport=$4 out i
	case $4 in *:*) src=bind=$4 ;; esac
	for i in 1 2 3; do
		[ "$i" = 1 ] || echo "# udp_ask: send $i to $addr:$port from $4" >&2
		out=$(echo q | ip netns exec "$ns" socat -T "$(slow 3)" -t "$(slow 1)" - \
			UDP:"$addr:$port,$src")
		[ -n "$out" ] && { echo "$out"; return 0; }
	done
	return 1
}

# udp_listen NS SPORT DEST: an application socket on SPORT in NS asks
# DEST (ADDR:PORT, a flows server) once, then takes whatever comes to it,
# one datagram per line, into $OUT/listen-SPORT, until NS goes (ns_delete
# kills it). Prints the port the server saw (the mapping) once its answer
# came. (Twice in CI a knock that followed met no socket, udp NoPorts 1
# on the client. Blamed first on the socket's end, it was the module: its
# walk gave the flow a port whose mapping another endpoint held, and the
# knock went to that endpoint.)
udp_listen() {
	local f=$OUT/listen-$2 i
	: > "$f"
	echo q | ip netns exec "$1" socat -t 86400 - \
		UDP-DATAGRAM:"$3",bind=:"$2" > "$f" 2> /dev/null &
	for ((i = 0; i < $(slow 50); i++)); do
		[ -s "$f" ] && { head -n 1 "$f"; return 0; }
		sleep 0.1
	done
	echo "# :$2 had no answer from $3" >&2
	return 1
}

# udp_knock NS SADDR:SPORT ADDR:PORT: one datagram "knock-SPORT" from
# SADDR:SPORT in NS to ADDR:PORT.
udp_knock() {
	echo "knock-${2#*:}" | ip netns exec "$1" socat -u - UDP-SENDTO:"$3",bind="$2"
}

# udp_heard SPORT WORD: udp_listen's socket on SPORT has received WORD
# (waiting up to $(slow 2) s for it).
udp_heard() {
	local i
	for ((i = 0; i < $(slow 20); i++)); do
		grep -qx "$2" "$OUT/listen-$1" && return 0
		sleep 0.1
	done
	return 1
}

# not_in_set A K PSID: print the ports read from stdin that are NOT in the
# port set, and any line that is not a port (quoted: an empty one is no
# port either). Written from RFC 7597 5.1 by taking each port apart, on
# purpose unlike include/mape_portset.h, which builds ports up.
not_in_set() {
	awk -v a="$1" -v k="$2" -v psid="$3" '
		$0 !~ /^[0-9]+$/ || $0 > 65535 { print "\"" $0 "\""; next }
		{
			p = $1; m = 16 - a - k
			bad = (int(p / 2 ^ m) % 2 ^ k) != psid
			if (a > 0 && int(p / 2 ^ (16 - a)) == 0) bad = 1
			if (a == 0 && p < 1024) bad = 1
			if (bad) print p
		}'
}

# echo_line TEXT: a line sent on the test's coproc connection comes back
# (the server end echoes).
echo_line() {
	local line
	echo "$1" >&"${COPROC[1]}" && read -r -t 5 line <&"${COPROC[0]}" &&
	[ "$line" = "$1" ]
}

# seen_ports FILE: the ports a "flows run" output says the server saw.
seen_ports() { awk '$1 == "seen" { print $2 }' "$1"; }

# entries_toward NS ADDR: the TCP conntrack entries in NS translated to ADDR.
entries_toward() {
	ip netns exec "$1" conntrack -L -p tcp --reply-dst "$2" 2>/dev/null | wc -l
}

# entries_gone NS ADDR SECS: the entries toward ADDR left after at most
# SECS (the module drops them from a work item, after the address went).
entries_gone() {
	local n i
	for ((i = 0; i < $3 * 5; i++)); do
		n=$(entries_toward "$1" "$2")
		[ "$n" = 0 ] && break
		sleep 0.2
	done
	echo "$n"
}

# all_in_set FILE A K PSID: every seen port in the set (and at least one).
all_in_set() {
	local bad
	[ -n "$(seen_ports "$1")" ] || { echo "# no port seen"; return 1; }
	bad=$(seen_ports "$1" | not_in_set "$2" "$3" "$4" | head -5)
	[ -z "$bad" ] || { echo "# outside $2/$3/$4:" $bad; return 1; }
}

# opened FILE N: the last "open" step of FILE opened exactly N flows.
opened() {
	awk -v n="$2" '$1 == "open" { ok = $4 } END { exit !(ok == n) }' "$1" && return
	echo "# $(basename "$1"): wanted $2, got:" $(grep -E '^(open|close)' "$1" | tail -3)
	return 1
}

# set_ranges A K PSID: the port set as "lo-hi, lo-hi, ..." for an nft set,
# one range per block A (RFC 7597 5.1), written in awk so that a BR or CE
# witness built from it does not share code with the module.
set_ranges() {
	awk -v a="$1" -v k="$2" -v psid="$3" 'BEGIN {
		m = 16 - a - k; sep = ""
		if (a == 0) { lo = psid * 2 ^ m; hi = lo + 2 ^ m - 1
			if (lo < 1024) lo = 1024
			if (lo <= hi) printf "%d-%d", lo, hi
			print ""; exit }
		for (A = 1; A < 2 ^ a; A++) {
			lo = A * 2 ^ (16 - a) + psid * 2 ^ m
			printf "%s%d-%d", sep, lo, lo + 2 ^ m - 1; sep = ", "
		}
		print ""
	}'
}

# nft_packets NS NAME: the packet count of named counter NAME (any table).
nft_packets() {
	ip netns exec "$1" nft list counters |
		awk -v n="$2" '$1 == "counter" { c = ($2 == n) }
			c && $1 == "packets" { print $2; exit }'
}

