#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The benchmark's in-guest driver: nf_nat_mape against stock SNAT and the
# nft recipes users run today, same traffic, same set size P. Run as root,
# normally inside the test VM by bench/run.sh; on a machine without the
# module (or without ip6tnl) the parts needing it are skipped with a note.
#
#   client                 router                                    server
#   eth0 192.0.2.2/24 --- lan0 192.0.2.1/24 | wan0 198.51.100.1/24 --- eth0 198.51.100.2/24
#   bench/gen run          one contender's rules at a time           bench/gen serve
#   (selftests/lib.sh topo_crs)
#
# Contenders (P ports each; the set is selftests/lib.sh set_ranges A K PSID):
#   snat    snat to ADDR:LO-HI, a contiguous range of P ports (not MAP-E valid)
#   mape    snat to ADDR:mape a/k/psid (added by build/tools/mape_rule)
#   mape-prev  the same rule on an earlier build of the module
#           (BENCH_PREV_KO, bench/run.sh --prev REV): swapped in and out
#           around its runs, so it is paired with mape round by round
#   numgen  snat ip to ADDR : numgen inc mod P map { 0 : port0, ... }, one per protocol
#   block   one rule per range (block) of the set, chosen the iptables
#           statistic-nth way (rule i: numgen inc mod (N - i) 0 snat to ADDR:range_i)
#
# Flood (test "flood", UDP): per set of BENCH_FLOOD_SETS and contender of
# BENCH_FLOOD_CONTENDERS, the whole set held toward one destination, then
# new-flow datagrams toward it from a raw socket (gen's flood step): what
# the router refused per second, and mape's lookups per refused packet.
#
# Throughput (mape vs snat): iperf3 through an ip6tnl (IPv4 in IPv6), as a CE:
#   tclient --- ce ==mape0 ip6tnl== br --- tserver
#
# Raw results go to $BENCH_OUT (default /run/mape-vm/bench, the VM's share
# with the host): raw.tsv (one line per measurement), commands.txt,
# versions.txt, rules/. bench/report.sh turns them into tables and plots.
#
# Knobs (environment):
#   BENCH_SETS="4/8/20 6/6/41"  BENCH_CONTENDERS="snat mape numgen block"
#   BENCH_PROTOS="udp tcp"      BENCH_ROUNDS=3    BENCH_TESTS="flows flood tput"
#   BENCH_BURST=600 flows       BENCH_LEVELS="5 50 90 99"  BENCH_LEVEL_B=50
#   BENCH_CHURN_HELD=50 (% of P)  BENCH_CHURN_ATT=1000
#   BENCH_STEP_SECS=2 (time cap of a step; churn 2x, utilisation and the
#     flood's fill 3x + 20 ms a flow)
#   BENCH_W=32 (flows in flight)  BENCH_TMO_UDP=300  BENCH_TMO_TCP=1200 (ms)
#   BENCH_UDP_IDLE=1 (s, the router's UDP timeout during UDP churn)
#   BENCH_FLOOD_SETS="4/8/20 6/6/41 6/4/9"  BENCH_FLOOD_CONTENDERS="snat mape"
#   BENCH_FLOOD=6000:3000 (datagrams : per second)
#   BENCH_TPUT_SECS=3 (throughput: the first set of BENCH_SETS)
#   BENCH_KERNEL_LABEL (default uname -r)
#   BENCH_PREV_KO (contender mape-prev's module), BENCH_PREV_REV (its name)
#
# shellcheck disable=SC2154 # ns_create and topo_crs set client, router, server, ...
set -uo pipefail
# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/../selftests/lib.sh"
ROOT=$MAPE_ROOT

OUT=${BENCH_OUT:-/run/mape-vm/bench}
SETS=${BENCH_SETS:-4/8/20 6/6/41}
PREV_KO=${BENCH_PREV_KO:-}
CONTENDERS=${BENCH_CONTENDERS:-snat mape numgen block${PREV_KO:+ mape-prev}}
PROTOS=${BENCH_PROTOS:-udp tcp}
ROUNDS=${BENCH_ROUNDS:-3}
TESTS=${BENCH_TESTS:-flows flood tput}
BURST=${BENCH_BURST:-600}
LEVELS=${BENCH_LEVELS:-5 50 90 99}
LEVEL_B=${BENCH_LEVEL_B:-50}
CHURN_HELD=${BENCH_CHURN_HELD:-50}
CHURN_ATT=${BENCH_CHURN_ATT:-1000}
STEP_SECS=${BENCH_STEP_SECS:-2}
W=${BENCH_W:-32}
TMO_UDP=${BENCH_TMO_UDP:-300}
TMO_TCP=${BENCH_TMO_TCP:-1200}
TPUT_SECS=${BENCH_TPUT_SECS:-3}
UDP_IDLE=${BENCH_UDP_IDLE:-1}
FLOOD_SETS=${BENCH_FLOOD_SETS:-4/8/20 6/6/41 6/4/9}
FLOOD_CONTENDERS=${BENCH_FLOOD_CONTENDERS:-snat mape}
FLOOD=${BENCH_FLOOD:-6000:3000}
KLABEL=${BENCH_KERNEL_LABEL:-$(uname -r)}

GEN=${BENCH_GEN:-$ROOT/build/bench/gen}
RULE=$ROOT/build/tools/mape_rule
NAT_ADDR=198.51.100.1
SERVER=198.51.100.2
SNAT_LO=10000		# contender snat: SNAT_LO .. SNAT_LO + P - 1
# Server ports, tcp and udp: the burst's (at most BURST_DESTS from PORT_BASE),
# then one each for utilisation, the occupancy levels, churn and the flood.
PORT_BASE=20000
BURST_DESTS=60
UTIL_PORT=$((PORT_BASE + BURST_DESTS))
LEVEL_PORT=$((UTIL_PORT + 1))
CHURN_PORT=$((UTIL_PORT + 2))
FLOOD_PORT=$((UTIL_PORT + 3))
MAPE_FIELDS="translated kept takeover exhausted portless lookups"
CLIENT_CPU=0
SERVER_CPU=$(( $(nproc) > 1 ? 1 : 0 ))

die() { echo "bench.sh: $*" >&2; exit 1; }
note() { echo "bench.sh: $*" >&2; }

[ "$(id -u)" = 0 ] || die "needs root"
[ -x "$GEN" ] || die "$GEN missing: make bench-gen"
command -v conntrack > /dev/null || die "needs conntrack (apt-get install conntrack)"
mkdir -p "$OUT/rules" || die "cannot write $OUT"
: > "$OUT/raw.tsv"
: > "$OUT/commands.txt"

# logged CMD...: run CMD, and write it to commands.txt exactly as run.
logged() {
	printf '%q ' "$@" >> "$OUT/commands.txt"
	echo >> "$OUT/commands.txt"
	"$@"
}

# record SET P CONTENDER PROTO ROUND: raw.tsv lines from stdin, with P=
# (the set's size) appended.
record() {
	awk -v k="$KLABEL" -v s="$1" -v P="$2" -v c="$3" -v p="$4" -v r="$5" \
		'{ printf "%s\t%s\t%s\t%s\t%s\t%s P=%s\n", k, s, c, p, r, $0, P }' >> "$OUT/raw.tsv"
}

# The servers (gen serve, iperf3 -s) run in the namespaces: ns_cleanup ends them.
trap ns_cleanup EXIT

# ct_flush NS: empty the conntrack table of NS; a failure ends the bench
# (the next measurement would start on a router that is not clean).
ct_flush() {
	local err
	err=$(logged ip netns exec "$1" conntrack -F 2>&1) || die "conntrack -F in $1 failed: $err"
}

# --- the port set: selftests/lib.sh set_ranges, apart from the module ---

# ranges A K PSID: the set's ranges (blocks), "LO-HI" one a line, ascending.
ranges() { set_ranges "$@" | tr -d ' ' | tr ',' '\n' | grep .; }

# set_size A K PSID: P, the number of ports in the set.
set_size() { ranges "$@" | awk -F- '{ p += $2 - $1 + 1 } END { print p + 0 }'; }

# --- contenders ---

# rules CONTENDER A K PSID: the router's nat table with the contender's rules.
rules() {
	local c=$1 p i proto rs
	shift
	p=$(set_size "$@")
	mapfile -t rs < <(ranges "$@")
	echo "table ip nat {"
	echo "	chain post {"
	echo "		type nat hook postrouting priority srcnat;"
	case $c in
	snat)
		echo "		meta l4proto { tcp, udp } snat to $NAT_ADDR:$SNAT_LO-$((SNAT_LO + p - 1))" ;;
	numgen)
		# stock nft wants the protocol known before a port map
		for proto in tcp udp; do
			printf '		meta l4proto %s snat ip to %s : numgen inc mod %d map { ' \
				$proto $NAT_ADDR "$p"
			# the ports of the ranges, numbered 0 .. P-1
			printf '%s\n' "${rs[@]}" | awk -F- '{
				for (x = $1; x <= $2; x++) { printf "%s%d : %d", (i ? ", " : ""), i, x; i++ } }'
			echo " }"
		done ;;
	block)
		# iptables -m statistic --mode nth --every (N - i) --packet 0
		for proto in tcp udp; do
			for i in "${!rs[@]}"; do
				echo "		meta l4proto $proto numgen inc mod $((${#rs[@]} - i)) 0 snat to $NAT_ADDR:${rs[i]}"
			done
		done ;;
	mape|mape-prev) ;;	# added by mape_rule below
	esac
	echo "	}"
	echo "}"
}

# set_rules CONTENDER A K PSID: replace the router's ruleset.
set_rules() {
	local f="$OUT/rules/$1-$2-$3-$4.nft"
	rules "$@" > "$f"
	logged ip netns exec "$router" nft flush ruleset &&
	logged ip netns exec "$router" nft -f "$f" || return 1
	case $1 in
	mape|mape-prev)
		use_module "$1" &&
		logged ip netns exec "$router" "$RULE" nat post $NAT_ADDR "$2" "$3" "$4" || return 1 ;;
	esac
}

# check_arg CONTENDER A K PSID: the set a seen port must lie in.
check_arg() {
	if [ "$1" = snat ]; then
		echo "$SNAT_LO-$((SNAT_LO + $(set_size "$2" "$3" "$4") - 1))"
	else
		echo "$2/$3/$4"
	fi
}

have_mape=0
load_module() {
	if [ "${MAPE_VM:-}" = 1 ] && mape_install_module && modprobe nf_nat_mape; then
		have_mape=1
		return
	fi
	if grep -q '^nf_nat_mape ' /proc/modules 2>/dev/null; then
		have_mape=1
		return
	fi
	note "SKIP contender mape: the nf_nat_mape module cannot be loaded here (run in the VM: bench/run.sh)"
}

# use_module mape|mape-prev: that contender's build of the module loaded.
# Only between runs, with the router's ruleset flushed: nothing holds it.
loaded=mape
use_module() {
	[ "$1" = "$loaded" ] && return 0
	logged rmmod nf_nat_mape || return 1
	if [ "$1" = mape-prev ]; then
		logged insmod "$PREV_KO"
	else
		logged modprobe nf_nat_mape
	fi || return 1
	loaded=$1
}

# have CONTENDER: its module (if it needs one) can be loaded here.
have() {
	case $1 in
	mape) [ $have_mape = 1 ] ;;
	mape-prev) [ $have_mape = 1 ] && [ -n "$PREV_KO" ] && [ -r "$PREV_KO" ] ;;
	*) true ;;
	esac
}

# mape_counts: the router's nf_nat_mape counters, MAPE_FIELDS order, one a line.
mape_counts() {
	local f
	for f in $MAPE_FIELDS; do mape_stat "$router" "$f"; done
}

# --- flows: setup rate, occupancy, utilisation, churn, memory ---

UDP_SYSCTLS="net.netfilter.nf_conntrack_udp_timeout net.netfilter.nf_conntrack_udp_timeout_stream"
udp_defaults=""

topo_nat() {
	local s
	topo_crs $NAT_ADDR $SERVER || return 1
	udp_defaults=""
	{
		echo "# selftests/lib.sh topo_crs $NAT_ADDR $SERVER:"
		echo "# client $client eth0 192.0.2.2/24 -- lan0 192.0.2.1/24 router $router wan0 $NAT_ADDR/24 -- eth0 $SERVER/24 server $server"
		echo "# (veth pairs; client default route via the router; router ip_forward=1)"
	} >> "$OUT/commands.txt"
	# gen shortens them during UDP churn; one that died would leave them so
	for s in $UDP_SYSCTLS; do
		udp_defaults="$udp_defaults $s=$(ip netns exec "$router" sysctl -n "$s")" || return 1
	done
	logged ip netns exec "$server" "$GEN" serve -C $SERVER_CPU \
		tcp $PORT_BASE-$FLOOD_PORT udp $PORT_BASE-$FLOOD_PORT &
	wait_listen "$server" t $FLOOD_PORT && wait_listen "$server" u $FLOOD_PORT
}

# flows_run A K PSID CONTENDER PROTO ROUND: one generator run, all steps.
flows_run() {
	local a=$1 k=$2 psid=$3 c=$4 proto=$5 round=$6 p d tmo steps l h f i line rc
	local -a before after
	p=$(set_size "$a" "$k" "$psid")
	tmo=$TMO_UDP
	[ "$proto" = tcp ] && tmo=$TMO_TCP
	# utilisation, the kernel's memory read on the clean router (before
	# any flow of this run) and again while P are held
	steps="snap to:$UTIL_PORT util:$((p + 16)) snap"
	# burst: BURST flows spread so that no destination passes 10 % of P
	d=$(( (BURST * 10 + p - 1) / p ))
	[ $d -gt $BURST_DESTS ] && d=$BURST_DESTS
	steps="$steps to:$PORT_BASE-$((PORT_BASE + d - 1)) burst:$BURST"
	steps="$steps to:$LEVEL_PORT"
	for l in $LEVELS; do steps="$steps level:$l:$LEVEL_B"; done
	h=$((p * CHURN_HELD / 100))
	steps="$steps to:$CHURN_PORT churn:$h:$CHURN_ATT util:$((p + 16))"
	# shellcheck disable=SC2086
	logged ip netns exec "$router" sysctl -qw $udp_defaults || die "cannot reset the router's UDP timeouts"
	ct_flush "$router"
	[ "$c" = mape ] && mapfile -t before < <(mape_counts)
	# shellcheck disable=SC2086
	logged ip netns exec "$client" "$GEN" run -p "$proto" -C $CLIENT_CPU -w "$W" \
		-t "$tmo" -T "$STEP_SECS" -P "$p" -s "$(check_arg "$c" "$a" "$k" "$psid")" \
		-R "/run/netns/$router" -u "$UDP_IDLE" -S "$round" $SERVER $steps > "$OUT/last.out"
	rc=$?
	cat "$OUT/last.out" >&2
	record "$a/$k/$psid" "$p" "$c" "$proto" "$round" < "$OUT/last.out"
	if [ "$c" = mape ]; then
		mapfile -t after < <(mape_counts)
		line=mapestat
		i=0
		for f in $MAPE_FIELDS; do
			line="$line $f=$((after[i] - before[i]))"
			i=$((i + 1))
		done
		echo "$line" | record "$a/$k/$psid" "$p" "$c" "$proto" "$round"
	fi
	return $rc
}

# flood_run A K PSID CONTENDER ROUND: one generator run, the flood step; gen
# reads the router's counters around the flood itself (the fill before it
# makes lookups and refusals of its own).
flood_run() {
	local a=$1 k=$2 psid=$3 c=$4 round=$5 p rc
	p=$(set_size "$a" "$k" "$psid")
	# shellcheck disable=SC2086
	logged ip netns exec "$router" sysctl -qw $udp_defaults || die "cannot reset the router's UDP timeouts"
	ct_flush "$router"
	logged ip netns exec "$client" "$GEN" run -p udp -C $CLIENT_CPU -w "$W" \
		-t "$TMO_UDP" -T "$STEP_SECS" -P "$p" -s "$(check_arg "$c" "$a" "$k" "$psid")" \
		-R "/run/netns/$router" -S "$round" $SERVER to:$FLOOD_PORT "flood:$FLOOD" > "$OUT/last.out"
	rc=$?
	cat "$OUT/last.out" >&2
	record "$a/$k/$psid" "$p" "$c" udp "$round" < "$OUT/last.out"
	return $rc
}

# rotate N WORD...: the words, the list started at word N (cyclic), so that
# over the rounds no contender always runs first on a fresh router.
rotate() {
	local n=$1
	shift
	[ $# -gt 0 ] || return 0
	n=$(( (n - 1) % $# ))
	echo "${@:n+1}" "${@:1:n}"
}

# testing NAME: NAME is one of BENCH_TESTS.
testing() { case " $TESTS " in *" $1 "*) return 0 ;; esac; return 1; }

# flood_contenders: those of FLOOD_CONTENDERS that are in CONTENDERS too.
flood_contenders() {
	local c
	for c in $FLOOD_CONTENDERS; do
		case " $CONTENDERS " in *" $c "*) echo "$c" ;; esac
	done
}

# flows_round ROUND: every set, contender and protocol once.
flows_round() {
	local round=$1 set a k psid c proto
	for set in $SETS; do
		IFS=/ read -r a k psid <<< "$set"
		[ "$(set_size "$a" "$k" "$psid")" -gt 0 ] || { note "set $set has no port: skipped"; continue; }
		for c in $(rotate "$round" $CONTENDERS); do
			have "$c" || continue
			set_rules "$c" "$a" "$k" "$psid" || { note "rules for $c failed"; continue; }
			for proto in $PROTOS; do
				note "round $round $set $c $proto"
				flows_run "$a" "$k" "$psid" "$c" "$proto" "$round" ||
					note "generator exited $? ($set $c $proto)"
			done
		done
	done
}

# flood_round ROUND: the flood, every flood set and contender once; the
# contenders take turns, so that mape / snat can be taken per round.
flood_round() {
	local round=$1 set a k psid c
	for set in $FLOOD_SETS; do
		IFS=/ read -r a k psid <<< "$set"
		[ "$(set_size "$a" "$k" "$psid")" -gt 0 ] || { note "set $set has no port: skipped"; continue; }
		# shellcheck disable=SC2046
		for c in $(rotate "$round" $(flood_contenders)); do
			have "$c" || continue
			set_rules "$c" "$a" "$k" "$psid" || { note "rules for $c failed"; continue; }
			note "round $round $set $c flood"
			flood_run "$a" "$k" "$psid" "$c" "$round" || note "generator exited $? ($set $c flood)"
		done
	done
}

bench_flows() {
	local round
	topo_nat || die "topology"
	for round in $(seq 1 "$ROUNDS"); do
		testing flows && flows_round "$round"
		testing flood && flood_round "$round"
	done
	ns_cleanup
}

# --- throughput through ip6tnl ---

topo_tunnel() {
	ns_create tclient && ns_create ce && ns_create br && ns_create tserver || return 1
	veth_link "$tclient" eth0 192.0.2.2/24 "$ce" lan0 192.0.2.1/24 &&
	ip -n "$tclient" route add default via 192.0.2.1 &&
	ip link add wan0 netns "$ce" type veth peer name ce0 netns "$br" &&
	ip -n "$ce" addr add 2001:db8:6::c/64 dev wan0 nodad &&
	ip -n "$br" addr add 2001:db8:6::b/64 dev ce0 nodad &&
	ip -n "$ce" link set wan0 up && ip -n "$br" link set ce0 up &&
	veth_link "$br" inet0 203.0.113.1/24 "$tserver" eth0 203.0.113.2/24 &&
	ip -n "$tserver" route add default via 203.0.113.1 &&
	ip netns exec "$ce" sysctl -qw net.ipv4.ip_forward=1 &&
	ip netns exec "$br" sysctl -qw net.ipv4.ip_forward=1 || return 1
	ip -n "$ce" -6 tunnel add mape0 mode ipip6 local 2001:db8:6::c remote 2001:db8:6::b \
		encaplimit none 2>/dev/null || return 2
	ip -n "$br" -6 tunnel add tun0 mode ipip6 local 2001:db8:6::b remote 2001:db8:6::c \
		encaplimit none &&
	ip -n "$ce" link set mape0 mtu 1460 up && ip -n "$br" link set tun0 up &&
	ip -n "$ce" addr add $NAT_ADDR/32 dev mape0 &&
	ip -n "$ce" route add default dev mape0 &&
	ip -n "$br" route add $NAT_ADDR/32 dev tun0 || return 1
	ip netns exec "$ce" nft -f - <<-NFT || return 1
	table inet mss {
		chain forward {
			type filter hook forward priority mangle;
			oifname "mape0" tcp flags syn tcp option maxseg size set rt mtu
		}
	}
	NFT
	{
		echo "# tclient $tclient 192.0.2.2/24 -- ce $ce 192.0.2.1/24 | wan0 2001:db8:6::c/64 -- br $br ce0 2001:db8:6::b/64 | 203.0.113.1/24 -- tserver $tserver 203.0.113.2/24"
		echo "# ce: ip -6 tunnel add mape0 mode ipip6 local 2001:db8:6::c remote 2001:db8:6::b encaplimit none; mtu 1460; $NAT_ADDR/32 on mape0; default dev mape0; MSS clamped to the route MTU"
		echo "# br: ip -6 tunnel add tun0 mode ipip6 local 2001:db8:6::b remote 2001:db8:6::c encaplimit none; $NAT_ADDR/32 dev tun0"
	} >> "$OUT/commands.txt"
	logged ip netns exec "$tserver" iperf3 -s -A $SERVER_CPU > /dev/null &
	wait_listen "$tserver" t 5201
}

# tput_rule CONTENDER A K PSID: the CE's nat table.
tput_rule() {
	local f="$OUT/rules/tput-$1.nft" p
	p=$(set_size "$2" "$3" "$4")
	{
		echo "table ip nat {"
		echo "	chain post {"
		echo "		type nat hook postrouting priority srcnat;"
		[ "$1" = snat ] && echo "		oifname \"mape0\" meta l4proto { tcp, udp } snat to $NAT_ADDR:$SNAT_LO-$((SNAT_LO + p - 1))"
		echo "	}"
		echo "}"
	} > "$f"
	ip netns exec "$ce" nft delete table ip nat 2>/dev/null
	logged ip netns exec "$ce" nft -f "$f" || return 1
	[ "$1" = mape ] && { use_module mape &&
		logged ip netns exec "$ce" "$RULE" nat post $NAT_ADDR "$2" "$3" "$4" || return 1; }
	return 0
}

bench_tput() {
	local round c bps rc set a k psid p line
	set=${SETS%% *}
	IFS=/ read -r a k psid <<< "$set"
	p=$(set_size "$a" "$k" "$psid")
	topo_tunnel
	rc=$?
	if [ $rc = 2 ]; then
		note "SKIP throughput: no ip6tnl here (the VM has it)"
		ns_cleanup
		return 0
	fi
	[ $rc = 0 ] || die "tunnel topology"
	[ $have_mape = 1 ] || note "SKIP throughput of mape: no module"
	for round in $(seq 1 "$ROUNDS"); do
		for c in $(rotate "$round" snat mape); do
			have "$c" || continue
			tput_rule "$c" "$a" "$k" "$psid" || { note "tput rule $c failed"; continue; }
			ct_flush "$ce"
			logged ip netns exec "$tclient" iperf3 -c 203.0.113.2 -A $CLIENT_CPU \
				-t "$TPUT_SECS" -J > "$OUT/iperf-$c-$round.json" || { note "iperf3 $c failed"; continue; }
			bps=$(awk '/"sum_received"/ { r = 1 } r && /"bits_per_second"/ {
				gsub(/[^0-9.e+]/, "", $2); printf "%.0f", $2; exit }' "$OUT/iperf-$c-$round.json")
			line="tput proto=tcp bps=$bps secs=$TPUT_SECS"
			echo "$line" >&2
			echo "$line" | record "$set" "$p" "$c" tcp "$round"
		done
	done
	ns_cleanup
}

versions() {
	{
		echo "kernel: $(uname -r) ($(uname -v))"
		echo "cpu: $(nproc) x $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
		echo "nft: $(nft --version 2>&1)"
		echo "conntrack: $(conntrack --version 2>&1 | head -1)"
		echo "iperf3: $(iperf3 --version 2>&1 | head -1)"
		echo "nf_nat_mape: $(cat /sys/module/nf_nat_mape/srcversion 2>/dev/null || echo 'not loaded') srcversion"
		[ -z "$PREV_KO" ] || echo "mape-prev: ${BENCH_PREV_REV:-$PREV_KO}, $(modinfo -F srcversion "$PREV_KO" 2>/dev/null) srcversion"
		echo "gen: $(sha256sum "$GEN" | cut -c1-16) sha256"
		echo "conntrack buckets/max: $(cat /proc/sys/net/netfilter/nf_conntrack_buckets 2>/dev/null)/$(cat /proc/sys/net/netfilter/nf_conntrack_max 2>/dev/null)"
		echo "parameters: SETS='$SETS' CONTENDERS='$CONTENDERS' PROTOS='$PROTOS' ROUNDS=$ROUNDS TESTS='$TESTS'"
		echo "  BURST=$BURST LEVELS='$LEVELS' LEVEL_B=$LEVEL_B CHURN_HELD=$CHURN_HELD% CHURN_ATT=$CHURN_ATT"
		echo "  UDP_IDLE=${UDP_IDLE}s STEP_SECS=$STEP_SECS W=$W TMO_UDP=${TMO_UDP}ms TMO_TCP=${TMO_TCP}ms TPUT_SECS=$TPUT_SECS"
		echo "  FLOOD_SETS='$FLOOD_SETS' FLOOD_CONTENDERS='$FLOOD_CONTENDERS' FLOOD=$FLOOD (datagrams:per second)"
		echo "  generator on CPU $CLIENT_CPU, server on CPU $SERVER_CPU"
	} > "$OUT/versions.txt"
}

t0=$(date +%s)
load_module
versions
if testing flows || testing flood; then bench_flows; fi
testing tput && bench_tput
echo "elapsed: $(( $(date +%s) - t0 )) s" >> "$OUT/versions.txt"
note "done in $(( $(date +%s) - t0 )) s: $OUT"
