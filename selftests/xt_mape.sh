#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The xtables target MAPE with Debian's own iptables, one backend per run
# (legacy: ip_tables; nft: iptables-nft through nft_compat), and the
# plugin installed where a user's "make install" puts it. The server
# reports the ports it saw; the router's counters say what the NAT did.
#
#   client                  router                                 server
#   192.0.2.2/24 ---veth--- 192.0.2.1/24 | 198.51.100.1/24 ---veth--- 198.51.100.2/24
#                           iptables -t nat -A POSTROUTING -o wan0 -j MAPE
#                              --to-source 198.51.100.1 --psid a/k/psid
#
# Usage: xt_mape.sh legacy|nft
. "$(dirname "$0")/lib.sh"
require_vm

case "${1:-}" in
legacy|nft) IPT=iptables-$1 ;;
*) echo "usage: $0 legacy|nft" >&2; exit 2 ;;
esac
NAT_ADDR=198.51.100.1
SERVER=198.51.100.2
RULE=$MAPE_ROOT/build/tools/mape_rule
FLOWS=$MAPE_ROOT/build/tools/flows
MAPECALC=$MAPE_ROOT/tools/mapecalc/mapecalc
EINVAL=22
ERANGE=34
test_workdir

ipt() { ip netns exec "$router" "$IPT" "$@"; }
stat() { mape_stat "$router" "$1"; }

UDP_PORTS="5360 5361 5362 5363 5364"
setup() {
	local p
	mape_install_module && mape_install_plugin && topo_crs $NAT_ADDR $SERVER || return 1
	# the router's NAT is iptables' here, not the nft table topo_crs makes
	ip netns exec "$router" nft delete table ip nat || return 1
	HOPS="$client $router $server"
	for p in $UDP_PORTS; do
		ip netns exec "$server" "$FLOWS" serve udp "$p" &
	done
	ip netns exec "$server" "$FLOWS" serve tcp 8080 &
	ip netns exec "$server" nft -f - <<-NFT || return 1
	table ip seen {
		counter leaked {}
		chain c {
			type filter hook prerouting priority 0;
			ip saddr != $NAT_ADDR counter name leaked
		}
	}
	NFT
	for p in $UDP_PORTS; do wait_listen "$server" u "$p" || return 1; done
	wait_listen "$server" t 8080
}

# The first MAPE rule loads nf_nat_mape through its alias ipt_MAPE.
autoload() {
	mape_unload && set_rule 4/8/20 && grep -q "^nf_nat_mape " /proc/modules
}

# set_rule A/K/PSID [OPTIONS...]: the router's only nat rule.
set_rule() {
	local psid=$1
	shift
	ipt -t nat -F POSTROUTING &&
	ipt -t nat -A POSTROUTING -o wan0 -j MAPE --to-source $NAT_ADDR --psid "$psid" "$@"
}

flows_in_set() {
	set_rule 4/8/20 && nat_mark "$router" &&
	run_flows "$1" "$1" "$2" open:100 && opened "$OUT/$1" 100 &&
	all_in_set "$OUT/$1" 4 8 20 && nat_expect "$router" 0
}

# Exactly P flows toward one destination, then one more that is refused
# and never answered, nor leaves untranslated.
exhaustion() {
	local a=$1 k=$2 psid=$3 size=$4 port=$5 l0
	set_rule "$a/$k/$psid" && nat_mark "$router" && l0=$(leaked) &&
	run_flows "full-$port" udp "$port" open:"$size" wait:2000 open:1
	grep -q "^open $size ok $size failed 0" "$OUT/full-$port" &&
	opened "$OUT/full-$port" 0 && all_in_set "$OUT/full-$port" "$a" "$k" "$psid" &&
	nat_expect "$router" + && [ "$(leaked)" = "$l0" ]
}

leaked() { nft_packets "$server" leaked; }

# udp_from SPORT: one UDP flow from SPORT; prints the port the server saw.
udp_from() {
	udp_ask "$client" $SERVER 5364 "$1"
}

keeps_original() {
	local seen
	set_rule 4/8/20 && seen=$(udp_from 4420) &&
	ktap_note "from :4420 (in the set) arrived as :$seen" && [ "$seen" = 4420 ]
}

# --random: three flows from ports of the set, not all three kept (the
# chance that a random choice keeps all three is 240^-3).
random_does_not_keep() {
	local sport seen kept=0
	set_rule 4/8/20 --random || return 1
	for sport in 4421 4422 4423; do
		seen=$(udp_from $sport) || return 1
		[ -z "$(echo "$seen" | not_in_set 4 8 20)" ] || return 1
		[ "$seen" != "$sport" ] || kept=$((kept + 1))
	done
	ktap_note "--random kept $kept of 3 ports"
	[ "$kept" -lt 3 ]
}

# refused_by_iptables WHAT ARGS...: iptables refuses the rule with status
# 2 and a message naming WHAT, and the table is as it was.
refused_by_iptables() {
	local what=$1 before err rc
	shift
	before=$(ipt -t nat -S POSTROUTING)
	err=$(ipt -t nat -A POSTROUTING -o wan0 -j MAPE "$@" 2>&1)
	rc=$?
	ktap_note "$*: $(echo "$err" | head -n 1)"
	[ "$rc" = 2 ] && echo "$err" | grep -q -- "$what" &&
	[ "$(ipt -t nat -S POSTROUTING)" = "$before" ]
}

bad_options() {
	local rc=0
	set_rule 4/8/20 || return 1
	refused_by_iptables '--psid "4/13/0": PSID offset + PSID length exceed 16 bits' \
		--to-source $NAT_ADDR --psid 4/13/0 || rc=1
	refused_by_iptables '--psid "16/0/0": PSID offset must be 0..15' \
		--to-source $NAT_ADDR --psid 16/0/0 || rc=1
	refused_by_iptables '--psid "4/8/256": PSID does not fit' \
		--to-source $NAT_ADDR --psid 4/8/256 || rc=1
	refused_by_iptables '--psid "0/6/0": port set is empty' \
		--to-source $NAT_ADDR --psid 0/6/0 || rc=1
	refused_by_iptables '--psid "4/8": expected A/K/PSID' \
		--to-source $NAT_ADDR --psid 4/8 || rc=1
	refused_by_iptables '--to-source "198.51.100.1:80": not an IPv4 address' \
		--to-source $NAT_ADDR:80 --psid 4/8/20 || rc=1
	refused_by_iptables '--to-source "198.51.100.9-198.51.100.1": the range is reversed' \
		--to-source 198.51.100.9-198.51.100.1 --psid 4/8/20 || rc=1
	refused_by_iptables 'option "--psid" must be specified' --to-source $NAT_ADDR || rc=1
	refused_by_iptables 'option "--to-source" must be specified' --psid 4/8/20 || rc=1
	return $rc
}

# iptables-restore is all or nothing: a good rule before a bad one is not
# applied either.
restore_all_or_nothing() {
	local before
	set_rule 4/8/20 && before=$(ipt -t nat -S POSTROUTING) || return 1
	printf '%s\n' '*nat' \
		"-A POSTROUTING -o wan0 -j MAPE --to-source $NAT_ADDR --psid 6/6/41" \
		"-A POSTROUTING -o wan0 -j MAPE --to-source $NAT_ADDR --psid 6/11/41" \
		COMMIT > "$OUT/bad.rules"
	! ip netns exec "$router" "$IPT-restore" --noflush < "$OUT/bad.rules" 2> "$OUT/err" &&
	grep -q -- '--psid "6/11/41"' "$OUT/err" &&
	[ "$(ipt -t nat -S POSTROUTING)" = "$before" ]
}

# kernel_refuses ERRNO ADDR A K PSID [FLAGS] LOG: a payload iptables would
# not send, given to the kernel as iptables-nft gives it (mape_rule -x):
# refused with ERRNO and one log line naming the values.
kernel_refuses() {
	local want=$1 log=${*: -1} args=("${@:2:$#-2}") rc
	ip netns exec "$router" "$RULE" -x nat POSTROUTING "${args[@]}" 2> /dev/null
	rc=$?
	ktap_note "${args[*]}: errno $rc"
	[ "$rc" = "$want" ] && dmesg | grep -q "nf_nat_mape: rule rejected: $log"
}

bad_payloads() {
	local rc=0
	ipt -t nat -F POSTROUTING || return 1
	kernel_refuses $ERANGE $NAT_ADDR 16 0 0 "PSID offset must be 0..15 (16/0/0)" || rc=1
	kernel_refuses $ERANGE $NAT_ADDR 0 17 0 "PSID length must be 0..16 (0/17/0)" || rc=1
	kernel_refuses $EINVAL $NAT_ADDR 4 13 0 "PSID offset + PSID length exceed 16 bits (4/13/0)" || rc=1
	kernel_refuses $EINVAL $NAT_ADDR 4 8 256 "PSID does not fit in PSID length bits (4/8/256)" || rc=1
	kernel_refuses $EINVAL $NAT_ADDR 0 6 0 "port set is empty" || rc=1
	kernel_refuses $EINVAL $NAT_ADDR 4 8 20 0x40 "unknown flags 0x40" || rc=1
	kernel_refuses $EINVAL 198.51.100.9-$NAT_ADDR 4 8 20 "address range 198.51.100.9-198.51.100.1 is reversed" || rc=1
	[ -z "$(ipt -t nat -S POSTROUTING | grep MAPE)" ] || rc=1
	return $rc
}

# iptables-save | iptables-restore | iptables-save: the same text. The
# fullcone rules' mapping survives the restore (the new rules take the
# cone table before the old ones let it go).
save_restore_round_trip() {
	local cone="-j MAPE --to-source $NAT_ADDR --psid 6/6/41 --fullcone" before
	set_rule 4/8/20 --random --persistent || return 1
	ipt -t nat -A POSTROUTING -o wan0 -j MAPE --to-source $NAT_ADDR-198.51.100.4 --psid 6/6/41 &&
	ipt -t nat -I POSTROUTING -o wan0 -p udp $cone &&
	ipt -t nat -A PREROUTING -i wan0 $cone &&
	udp_from 40700 > /dev/null || return 1
	before=$(cones)
	ip netns exec "$router" "$IPT-save" -t nat > "$OUT/s1" &&
	ip netns exec "$router" "$IPT-restore" < "$OUT/s1" &&
	ip netns exec "$router" "$IPT-save" -t nat > "$OUT/s2" || return 1
	grep -- '-j MAPE' "$OUT/s1" | sed 's/^/# /'
	ktap_note "cones before the restore: $(echo "$before" | tr '\n' ';')"
	grep -q -- "-A POSTROUTING -o wan0 -j MAPE --to-source $NAT_ADDR --psid 4/8/20 --random --persistent" "$OUT/s1" &&
	grep -q -- "-j MAPE --to-source $NAT_ADDR-198.51.100.4 --psid 6/6/41\$" "$OUT/s1" &&
	grep -q -- "-A PREROUTING -i wan0 $cone\$" "$OUT/s1" &&
	diff <(saved "$OUT/s1") <(saved "$OUT/s2") &&
	echo "$before" | grep -q "^udp $NAT_ADDR:[0-9]* 192.0.2.2:40700 " &&
	[ "$(cones)" = "$before" ]
}

# saved FILE: iptables-save's FILE without comments and chain counters.
saved() { sed '/^#/d; s/ \[[0-9]*:[0-9]*\]$//' "$1"; }

cones() { mape_cones "$router"; }

# MAPE in PREROUTING delivers to fullcone mappings only: without
# --fullcone the kernel refuses it, with EINVAL and a line naming why.
# (Counted: both backends' runs share one kernel log.)
prerouting_needs_fullcone() {
	local why="nf_nat_mape: rule rejected: hooks 0x1: prerouting needs --fullcone" n0
	n0=$(dmesg | grep -c "$why")
	ipt -t nat -F PREROUTING &&
	! ipt -t nat -A PREROUTING -j MAPE --to-source $NAT_ADDR --psid 4/8/20 2> "$OUT/pre" &&
	[ "$(dmesg | grep -c "$why")" = $((n0 + 1)) ] &&
	[ -z "$(ipt -t nat -S PREROUTING | grep MAPE)" ] ||
		{ sed 's/^/# /' "$OUT/pre"; dmesg | grep 'rule rejected' | tail -3 | sed 's/^/# /'; return 1; }
}

# netfilter-persistent (Debian's iptables-persistent) saves the rule to
# /etc/iptables/rules.v4 and brings it back.
persistent_round_trip() {
	set_rule 4/8/20 || return 1
	ip netns exec "$router" netfilter-persistent save > /dev/null 2>&1 &&
	grep -q -- "-j MAPE --to-source $NAT_ADDR --psid 4/8/20" /etc/iptables/rules.v4 || return 1
	ipt -t nat -F POSTROUTING &&
	ip netns exec "$router" netfilter-persistent start > /dev/null 2>&1 &&
	ipt -t nat -S POSTROUTING | grep -q -- "-j MAPE --to-source $NAT_ADDR --psid 4/8/20"
}

# Debian's nft shows an iptables-nft rule through the plugin's xlate.
nft_lists_it() {
	local line
	set_rule 4/8/20 || return 1
	line=$(ip netns exec "$router" nft list chain ip nat POSTROUTING | grep 'mape')
	ktap_note "nft list: $(echo $line)"
	echo "$line" | grep -q "oifname \"wan0\" .*snat to $NAT_ADDR:mape 4/8/20"
}

# mapecalc's rules.v4 for a tunnel named wan0, restored whole.
mapecalc_rules() {
	local a k psid
	"$MAPECALC" -f iptables --tunnel wan0 --rule-ipv6 2001:db8::/40 \
		--rule-ipv4 198.51.100.0/24 --ea-len 16 --psid-offset 6 "$@" \
		2001:db8:0012:3400::/56 > "$OUT/rules.v4" || return 1
	grep -- '-j MAPE' "$OUT/rules.v4" | sed 's/^/# /'
	# the rule's own address may differ from wan0's: use wan0's
	sed -i "s/--to-source [0-9.]*/--to-source $NAT_ADDR/" "$OUT/rules.v4"
	ip netns exec "$router" "$IPT-restore" < "$OUT/rules.v4" || return 1
	read -r a k psid <<< "$(sed -n 's|.*--psid \([0-9]*\)/\([0-9]*\)/\([0-9]*\).*|\1 \2 \3|p' "$OUT/rules.v4")"
	run_flows rules udp 5363 open:50 && opened "$OUT/rules" 50 &&
	all_in_set "$OUT/rules" "$a" "$k" "$psid"
}

# The same with --fullcone: the server reaches a client endpoint's
# mapping from another port, through the MAPE target in PREROUTING.
# PREROUTING is flushed again whatever happened, for the cases after.
mapecalc_fullcone() {
	local rc
	ipt -t nat -F PREROUTING && mapecalc_rules --fullcone && fullcone_knock
	rc=$?
	ipt -t nat -F PREROUTING
	return $rc
}

fullcone_knock() {
	local p c0
	p=$(udp_listen "$client" 40720 $SERVER:5364) && c0=$(stat cone_in) || return 1
	udp_knock "$server" $SERVER:4720 $NAT_ADDR:"$p" && udp_heard 40720 knock-4720 ||
		{ echo "# :40720 mapped to :$p did not hear the knock"; return 1; }
	ktap_note ":40720 mapped to :$p heard a knock from :4720; cone_in +$(( $(stat cone_in) - c0 ))"
	[ "$(stat cone_in)" = $((c0 + 1)) ]
}

rmmod_refused_while_a_rule_uses_it() {
	set_rule 4/8/20 && ! modprobe -r nf_nat_mape 2>/dev/null &&
	grep -q "^nf_nat_mape " /proc/modules
}

rmmod_after_flush() {
	ipt -t nat -F POSTROUTING && mape_unload
}

ktap_plan 20
ktap_test "setup" setup
ktap_test "first_rule_autoloads_the_module" autoload
ktap_test "udp_ports_in_set" flows_in_set udp 5360
ktap_test "tcp_ports_in_set" flows_in_set tcp 8080
ktap_test "v6plus_4_8_exactly_240_then_refused" exhaustion 4 8 20 240 5361
ktap_test "ocn_6_6_exactly_1008_then_refused" exhaustion 6 6 41 1008 5362
ktap_test "original_port_kept_when_in_set" keeps_original
ktap_test "random_does_not_keep_original" random_does_not_keep
ktap_test "iptables_refuses_bad_options_exit_2" bad_options
ktap_test "iptables_restore_all_or_nothing" restore_all_or_nothing
if [ "$1" = nft ]; then
	ktap_test "kernel_refuses_bad_payloads_with_errno_and_log" bad_payloads
	ktap_test "netfilter_persistent_save_and_start" persistent_round_trip
	ktap_test "debian_nft_lists_the_rule" nft_lists_it
else
	ktap_skip "kernel_refuses_bad_payloads_with_errno_and_log" "the nft backend's run sends them"
	ktap_skip "netfilter_persistent_save_and_start" "Debian's iptables is the nft backend"
	ktap_skip "debian_nft_lists_the_rule" "a legacy table is not nft's"
fi
ktap_test "save_restore_round_trip_identical" save_restore_round_trip
ktap_test "prerouting_refused_without_fullcone" prerouting_needs_fullcone
ktap_test "mapecalc_rules_v4_restored_and_working" mapecalc_rules
ktap_test "mapecalc_fullcone_rules_deliver" mapecalc_fullcone
ktap_test "rmmod_refused_while_a_rule_uses_it" rmmod_refused_while_a_rule_uses_it
ktap_test "rmmod_after_rules_flushed" rmmod_after_flush
ktap_test "nothing_reached_the_server_untranslated" [ "$(leaked)" = 0 ]
ktap_finish
