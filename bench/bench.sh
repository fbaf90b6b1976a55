#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The benchmark's in-guest driver: nf_nat_mape against stock SNAT and the
# nft recipes users run today, same traffic, same set size P. Run as root,
# normally inside the test VM by bench/run.sh; on a machine without the
# module (or without ip6tnl) the parts needing it are skipped with a note.
#
#   client                  router                                 server
#   192.0.2.2/24 ---veth--- 192.0.2.1/24 | 198.51.100.1/24 ---veth--- 198.51.100.2/24
#   bench/gen run           one contender's rules at a time        bench/gen serve
#
# Contenders (P ports each):
#   snat    snat to ADDR:LO-HI, a contiguous range of P ports (not MAP-E valid)
#   mape    snat to ADDR:mape a/k/psid (added by build/tools/mape_rule)
#   numgen  snat ip to ADDR : numgen inc mod P map { 0 : port0, ... }, one per protocol
#   block   one rule per block of the set, chosen the iptables statistic-nth way
#           (rule i: numgen inc mod (N - i) 0 snat to ADDR:block_i)
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
#   BENCH_PROTOS="udp tcp"      BENCH_ROUNDS=3    BENCH_TESTS="flows tput"
#   BENCH_BURST=600 flows       BENCH_LEVELS="5 50 90 99"  BENCH_LEVEL_B=50
#   BENCH_CHURN_HELD=50 (% of P)  BENCH_CHURN_ATT=1000
#   BENCH_STEP_SECS=2 (time cap of a step; churn 2x, utilisation 3x + 20 ms a flow)
#   BENCH_W=32 (flows in flight)  BENCH_TMO_UDP=300  BENCH_TMO_TCP=1200 (ms)
#   BENCH_UDP_IDLE=1 (s, the router's UDP timeout during UDP churn)
#   BENCH_TPUT_SECS=3           BENCH_KERNEL_LABEL (default uname -r)
set -uo pipefail
. "$(dirname "$0")/../selftests/lib.sh"
ROOT=$MAPE_ROOT

OUT=${BENCH_OUT:-/run/mape-vm/bench}
SETS=${BENCH_SETS:-4/8/20 6/6/41}
CONTENDERS=${BENCH_CONTENDERS:-snat mape numgen block}
PROTOS=${BENCH_PROTOS:-udp tcp}
ROUNDS=${BENCH_ROUNDS:-3}
TESTS=${BENCH_TESTS:-flows tput}
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
KLABEL=${BENCH_KERNEL_LABEL:-$(uname -r)}

GEN=${BENCH_GEN:-$ROOT/build/bench/gen}
RULE=$ROOT/build/tools/mape_rule
NAT_ADDR=198.51.100.1
SERVER=198.51.100.2
SNAT_LO=10000		# contender snat: SNAT_LO .. SNAT_LO + P - 1
PORT_BASE=20000		# server ports PORT_BASE .. PORT_BASE + 99, tcp and udp
CLIENT_CPU=0
SERVER_CPU=$(( $(nproc) > 1 ? 1 : 0 ))

die() { echo "bench.sh: $*" >&2; exit 1; }
note() { echo "bench.sh: $*" >&2; }

[ "$(id -u)" = 0 ] || die "needs root"
[ -x "$GEN" ] || die "$GEN missing: make bench-gen"
mkdir -p "$OUT/rules" || die "cannot write $OUT"
: > "$OUT/raw.tsv"
: > "$OUT/commands.txt"

# logged CMD...: run CMD, and write it to commands.txt exactly as run.
logged() {
	printf '%q ' "$@" >> "$OUT/commands.txt"
	echo >> "$OUT/commands.txt"
	"$@"
}

# record SET CONTENDER PROTO ROUND: raw.tsv lines from stdin.
record() {
	awk -v k="$KLABEL" -v s="$1" -v c="$2" -v p="$3" -v r="$4" \
		'{ printf "%s\t%s\t%s\t%s\t%s\t%s\n", k, s, c, p, r, $0 }' >> "$OUT/raw.tsv"
}

server_pid=""
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
	jobs -p | xargs -r kill 2>/dev/null
	ns_cleanup
}
trap cleanup EXIT

# --- the port set, written here from RFC 7597 5.1, apart from the module ---

# set_size A K: P
set_size() { echo $(( ((1 << $1) - 1) * (1 << (16 - $1 - $2)) )); }

# set_ports A K PSID: the ports of the set, ascending, one a line.
set_ports() {
	awk -v a="$1" -v k="$2" -v psid="$3" 'BEGIN {
		m = 16 - a - k
		for (A = 1; A < 2 ^ a; A++)
			for (j = 0; j < 2 ^ m; j++)
				print A * 2 ^ (16 - a) + psid * 2 ^ m + j
	}'
}

# --- contenders ---

# rules CONTENDER A K PSID: the router's nat table with the contender's rules.
rules() {
	local c=$1 a=$2 k=$3 psid=$4 p m n i proto
	p=$(set_size "$a" "$k")
	m=$((16 - a - k))
	n=$(( (1 << a) - 1 ))
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
			set_ports "$a" "$k" "$psid" | awk '{ printf "%s%d : %d", (NR > 1 ? ", " : ""), NR - 1, $1 }'
			echo " }"
		done ;;
	block)
		# iptables -m statistic --mode nth --every (N - i) --packet 0
		for proto in tcp udp; do
			for i in $(seq 0 $((n - 1))); do
				lo=$(( (i + 1) * (1 << (16 - a)) + psid * (1 << m) ))
				echo "		meta l4proto $proto numgen inc mod $((n - i)) 0 snat to $NAT_ADDR:$lo-$((lo + (1 << m) - 1))"
			done
		done ;;
	mape) ;;	# added by mape_rule below
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
	if [ "$1" = mape ]; then
		logged ip netns exec "$router" "$RULE" nat post $NAT_ADDR "$2" "$3" "$4" || return 1
	fi
}

# check_arg CONTENDER A K PSID: the set a seen port must lie in.
check_arg() {
	if [ "$1" = snat ]; then
		echo "$SNAT_LO-$((SNAT_LO + $(set_size "$2" "$3") - 1))"
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

mapestat() {
	[ -r "/proc/net/stat/nf_nat_mape" ] || return 0
	# shellcheck disable=SC2016
	ip netns exec "$router" awk 'NR == 1 { n = split($0, h); next }
		{ for (i = 2; i <= n; i++) s[i] += $i }
		END { printf "mapestat"; for (i = 2; i <= n; i++) printf " %s=%.0f", h[i], s[i]; print "" }' \
		/proc/net/stat/nf_nat_mape
}

# mapestat_delta BEFORE AFTER: the counters one generator run moved.
mapestat_delta() {
	[ -n "$1" ] && [ -n "$2" ] || return 0
	printf '%s\n%s\n' "$1" "$2" | awk '{
		for (i = 2; i <= NF; i++) { split($i, kv, "="); if (NR == 1) b[kv[1]] = kv[2]; else { d[i] = kv[1]; a[kv[1]] = kv[2] } }
		n = NF }
		END { printf "mapestat"; for (i = 2; i <= n; i++) printf " %s=%.0f", d[i], a[d[i]] - b[d[i]]; print "" }'
}

# --- flows: setup rate, occupancy, utilisation, churn, memory ---

topo_nat() {
	ns_create client && ns_create router && ns_create server &&
	veth_link "$client" eth0 192.0.2.2/24 "$router" lan0 192.0.2.1/24 &&
	veth_link "$router" wan0 $NAT_ADDR/24 "$server" eth0 $SERVER/24 &&
	ip -n "$client" route add default via 192.0.2.1 &&
	ip netns exec "$router" sysctl -qw net.ipv4.ip_forward=1 || return 1
	{
		echo "# client $client 192.0.2.2/24 -- router $router 192.0.2.1/24 | $NAT_ADDR/24 -- server $server $SERVER/24"
		echo "# (veth pairs; client default route via the router; router ip_forward=1)"
	} >> "$OUT/commands.txt"
	logged ip netns exec "$server" "$GEN" serve -C $SERVER_CPU \
		tcp $PORT_BASE-$((PORT_BASE + 99)) udp $PORT_BASE-$((PORT_BASE + 99)) &
	server_pid=$!
	wait_listen "$server" t $((PORT_BASE + 99)) && wait_listen "$server" u $((PORT_BASE + 99))
}

# flows_run A K PSID CONTENDER PROTO ROUND: one generator run, all steps.
flows_run() {
	local a=$1 k=$2 psid=$3 c=$4 proto=$5 round=$6 p d tmo steps l h before
	p=$(set_size "$a" "$k")
	tmo=$TMO_UDP
	[ "$proto" = tcp ] && tmo=$TMO_TCP
	# burst: BURST flows spread so that no destination passes 10 % of P
	d=$(( (BURST * 10 + p - 1) / p ))
	[ $d -gt 60 ] && d=60
	steps="to:$PORT_BASE-$((PORT_BASE + d - 1)) burst:$BURST"
	# utilisation, with the kernel's memory read before and while P are held
	steps="$steps to:$((PORT_BASE + 90)) snap util:$((p + 16)) snap"
	steps="$steps to:$((PORT_BASE + 91))"
	for l in $LEVELS; do steps="$steps level:$l:$LEVEL_B"; done
	h=$((p * CHURN_HELD / 100))
	steps="$steps to:$((PORT_BASE + 92)) churn:$h:$CHURN_ATT util:$((p + 16))"
	logged ip netns exec "$router" conntrack -F > /dev/null 2>&1
	before=$(mapestat)
	# shellcheck disable=SC2086
	logged ip netns exec "$client" "$GEN" run -p "$proto" -C $CLIENT_CPU -w "$W" \
		-t "$tmo" -T "$STEP_SECS" -P "$p" -s "$(check_arg "$c" "$a" "$k" "$psid")" \
		-R "/run/netns/$router" -u "$UDP_IDLE" -S "$round" $SERVER $steps > "$OUT/last.out"
	local rc=$?
	tee /dev/stderr < "$OUT/last.out" | record "$a/$k/$psid" "$c" "$proto" "$round"
	[ "$c" = mape ] && mapestat_delta "$before" "$(mapestat)" | record "$a/$k/$psid" "$c" "$proto" "$round"
	ip netns exec "$router" conntrack -F > /dev/null 2>&1
	return $rc
}

bench_flows() {
	local round set a k psid c proto
	topo_nat || die "topology"
	for round in $(seq 1 "$ROUNDS"); do
		for set in $SETS; do
			IFS=/ read -r a k psid <<< "$set"
			for c in $CONTENDERS; do
				[ "$c" = mape ] && [ $have_mape = 0 ] && continue
				set_rules "$c" "$a" "$k" "$psid" || { note "rules for $c failed"; continue; }
				for proto in $PROTOS; do
					note "round $round $set $c $proto"
					flows_run "$a" "$k" "$psid" "$c" "$proto" "$round" ||
						note "generator exited $? ($set $c $proto)"
				done
			done
		done
	done
	ns_cleanup
	server_pid=""
}

# --- throughput through ip6tnl ---

# shellcheck disable=SC2154 # ns_create sets tclient, ce, br, tserver
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
		chain fwd {
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

tput_rule() {
	local f="$OUT/rules/tput-$1.nft"
	{
		echo "table ip nat {"
		echo "	chain post {"
		echo "		type nat hook postrouting priority srcnat;"
		[ "$1" = snat ] && echo "		oifname \"mape0\" meta l4proto { tcp, udp } snat to $NAT_ADDR:$SNAT_LO-$((SNAT_LO + 239))"
		echo "	}"
		echo "}"
	} > "$f"
	ip netns exec "$ce" nft delete table ip nat 2>/dev/null
	logged ip netns exec "$ce" nft -f "$f" || return 1
	[ "$1" = mape ] && { logged ip netns exec "$ce" "$RULE" nat post $NAT_ADDR 4 8 20 || return 1; }
	return 0
}

bench_tput() {
	local round c order bps rc
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
		# alternate the order, so that drift does not favour one
		order="snat mape"
		[ $((round % 2)) = 0 ] && order="mape snat"
		for c in $order; do
			[ "$c" = mape ] && [ $have_mape = 0 ] && continue
			tput_rule "$c" || { note "tput rule $c failed"; continue; }
			ip netns exec "$ce" conntrack -F > /dev/null 2>&1
			logged ip netns exec "$tclient" iperf3 -c 203.0.113.2 -A $CLIENT_CPU \
				-t "$TPUT_SECS" -J > "$OUT/iperf-$c-$round.json" || { note "iperf3 $c failed"; continue; }
			bps=$(awk '/"sum_received"/ { r = 1 } r && /"bits_per_second"/ {
				gsub(/[^0-9.e+]/, "", $2); printf "%.0f", $2; exit }' "$OUT/iperf-$c-$round.json")
			echo "tput proto=tcp bps=$bps secs=$TPUT_SECS" | tee /dev/stderr |
				record 4/8/20 "$c" tcp "$round"
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
		echo "gen: $(sha256sum "$GEN" | cut -c1-16) sha256"
		echo "conntrack buckets/max: $(cat /proc/sys/net/netfilter/nf_conntrack_buckets 2>/dev/null)/$(cat /proc/sys/net/netfilter/nf_conntrack_max 2>/dev/null)"
		echo "parameters: SETS='$SETS' CONTENDERS='$CONTENDERS' PROTOS='$PROTOS' ROUNDS=$ROUNDS TESTS='$TESTS'"
		echo "  BURST=$BURST LEVELS='$LEVELS' LEVEL_B=$LEVEL_B CHURN_HELD=$CHURN_HELD% CHURN_ATT=$CHURN_ATT"
		echo "  UDP_IDLE=${UDP_IDLE}s STEP_SECS=$STEP_SECS W=$W TMO_UDP=${TMO_UDP}ms TMO_TCP=${TMO_TCP}ms TPUT_SECS=$TPUT_SECS"
		echo "  generator on CPU $CLIENT_CPU, server on CPU $SERVER_CPU"
	} > "$OUT/versions.txt"
}

t0=$(date +%s)
load_module
versions
case " $TESTS " in *" flows "*) bench_flows ;; esac
case " $TESTS " in *" tput "*) bench_tput ;; esac
echo "elapsed: $(( $(date +%s) - t0 )) s" >> "$OUT/versions.txt"
note "done in $(( $(date +%s) - t0 )) s: $OUT"
