#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The NAT type the mape expression gives, seen from outside: Debian's STUN
# client classifies it against Debian's STUN server (RFC 3489 tests), and
# one client endpoint asks several flows servers which port its flows
# arrived from. The ports are checked against the set computed apart
# from the module (not_in_set in lib.sh).
#
#   client                  router                                  server
#   192.0.2.2/24 ---veth--- 192.0.2.1/24 | 198.51.100.1/24 ---veth--- 198.51.100.2/24
#   192.0.2.3/24            snat to 198.51.100.1:mape 4/8/20 [flags]   198.51.100.3/24
#                           (one rule at a time, set by each case)     stund on .2 and .3,
#                           fullcone: the same in prerouting too       flows serve udp :3500-3503
#
# Endpoint-independent mapping (RFC 4787 REQ-1) is the default: an
# endpoint (address, port, protocol) of the client keeps one external port
# toward every destination where that port is free. random and
# fully-random give every flow a port of its own (a symmetric NAT).
# fullcone adds endpoint-independent filtering (RFC 4787 REQ-8) for UDP:
# a held port is open to every remote while its mapping lives; hairpinning
# (REQ-9) takes a postrouting rule for flows turned back into the LAN.
. "$(dirname "$0")/lib.sh"
require_vm

NAT_ADDR=198.51.100.1
SERVER=198.51.100.2
SERVER2=198.51.100.3
CLIENT2=192.0.2.3
RULE=$MAPE_ROOT/build/tools/mape_rule
FLOWS=$MAPE_ROOT/build/tools/flows
SERVER_PORTS="3500 3501 3502 3503"
test_workdir

setup() {
	local p
	mape_install_module && topo_crs $NAT_ADDR $SERVER &&
	ip -n "$server" addr add $SERVER2/24 dev eth0 &&
	ip -n "$client" addr add $CLIENT2/24 dev eth0 || return 1
	HOPS="$client $router $server"
	ip netns exec "$server" stund -h $SERVER -a $SERVER2 > "$OUT/stund" 2>&1 &
	for p in $SERVER_PORTS; do
		ip netns exec "$server" "$FLOWS" serve udp "$p" &
	done
	wait_listen "$server" u 3478 && wait_listen "$server" u 3503 &&
	ip netns exec "$router" nft add chain ip nat pre \
		'{ type nat hook prerouting priority dstnat; }'
}

stat() { mape_stat "$router" "$1"; }

# set_rule A K PSID [FLAGS]: the router's only rule, and no flows: a new
# rule starts with no memory of earlier mappings.
set_rule() {
	ip netns exec "$router" nft flush chain ip nat post &&
	ip netns exec "$router" nft flush chain ip nat pre &&
	ip netns exec "$router" conntrack -F > /dev/null 2>&1 &&
	ip netns exec "$router" "$RULE" nat post $NAT_ADDR "$@"
}

# stun_type SPORT "A K PSID" WANT: the STUN client from SPORT (and SPORT +
# 1, its second socket) classifies the NAT as WANT (the start of its
# "Primary:" line). Both mapping tests (I, and I(2) toward the server's
# second address) must have been answered, or it cannot tell a mapping;
# every address it was told of is NAT_ADDR with a port of the set.
stun_type() {
	local f=$OUT/stun-$1 got ports bad
	ip netns exec "$client" timeout "$(slow 30)" stun $SERVER -v -p "$1" > "$f" 2>&1
	got=$(sed -n 's/^Primary: *//p' "$f" | tr -d '\t')
	ports=$(sed -n "s/^MappedAddress = ${NAT_ADDR//./\\.}:\([0-9]*\)$/\1/p" "$f" | sort -un)
	ktap_note "from :$1: \"$got\", mapped ports:" $ports
	grep -q '^test I = 1' "$f" && grep -q '^test I(2) = 1' "$f" ||
		{ echo "# a mapping test went unanswered"; return 1; }
	! grep '^MappedAddress = ' "$f" | grep -qv " $NAT_ADDR:" || { echo "# mapped elsewhere"; return 1; }
	# shellcheck disable=SC2086
	bad=$(echo "$ports" | not_in_set $2)
	[ -z "$bad" ] || { echo "# outside $2:" $bad; return 1; }
	case $got in "$3"*) ;; *) return 1 ;; esac
}

# map [SADDR:]SPORT DEST...: from SPORT (of SADDR), one query to each DEST
# (ADDR:PORT, a flows server, which answers with the port it saw) in turn;
# prints the ports seen, one per line. Queries from one port are one
# endpoint to the NAT, as one application socket's would be.
map() {
	local src=$1 d
	shift
	for d; do
		udp_ask "$client" "${d%:*}" "${d#*:}" "$src" ||
			{ echo "# $d: no answer to :$src" >&2; return 1; }
	done
}

# in_set PORT...: each port in 4/8/20.
in_set() { [ $# -gt 0 ] && [ -z "$(printf '%s\n' "$@" | not_in_set 4 8 20)" ]; }

# --- what the STUN client says ---

# 40000 is outside 4/8/20: the NAT picks a port, and keeps it toward the
# STUN server's second address.
stun_default() {
	set_rule 4 8 20 && nat_mark "$router" &&
	stun_type 40000 "4 8 20" "Independent Mapping, Port Dependent Filter, random port" &&
	nat_expect "$router" 0
}

# 37184 = 9 << 12 | 20 << 4: in the set, kept, as the kernel's NAT keeps it.
stun_default_in_set() {
	set_rule 4 8 20 &&
	stun_type 37184 "4 8 20" "Independent Mapping, Port Dependent Filter, preserves ports"
}

# With random, the port toward the server's second address meets the
# first one's by chance, once in the size of the CPU's stripe the walk
# starts in (mape_walk): 1 in 120 with 4/8/20, so the set here is 0/1/1,
# 32,768 ports, 1 in 16,384 on two CPUs.
stun_random() {
	set_rule 0 1 1 "$1" && stun_type 40010 "0 1 1" "Dependent Mapping"
}

# --- one endpoint, many destinations ---

DESTS="$SERVER:3500 $SERVER:3501 $SERVER:3502 $SERVER:3503
       $SERVER2:3500 $SERVER2:3501 $SERVER2:3502 $SERVER2:3503"

# One endpoint toward 8 destinations: one external port, in the set. The
# first flow makes one lookup, each later one one more (its mapped port is
# free there), and 7 count as mapped.
one_port_many_destinations() {
	local ports t0 l0 m0
	set_rule 4 8 20 || return 1
	t0=$(stat translated) l0=$(stat lookups) m0=$(stat mapped)
	# shellcheck disable=SC2086
	ports=$(map 40100 $DESTS) || return 1
	ktap_note "from :40100 toward 8 destinations:" $ports "(translated" \
		"+$(( $(stat translated) - t0 )), lookups +$(( $(stat lookups) - l0 )), mapped +$(( $(stat mapped) - m0 )))"
	# shellcheck disable=SC2086
	in_set $ports && [ "$(echo "$ports" | wc -l)" = 8 ] &&
	[ "$(echo "$ports" | sort -u | wc -l)" = 1 ] &&
	[ "$(stat translated)" = $((t0 + 8)) ] && [ "$(stat lookups)" = $((l0 + 8)) ] &&
	[ "$(stat mapped)" = $((m0 + 7)) ]
}

# An endpoint's port P taken toward one destination by another client
# endpoint's flow (from P itself, which the NAT keeps): toward there the endpoint gets another port
# of the set, and toward a third destination its mapping P again: the
# flow that had to move does not move the mapping (P is also the
# endpoint's hashed port, so this catches a hint overwritten, no more).
mapping_kept_when_taken_once() {
	local p q r
	set_rule 4 8 20 && p=$(map 40200 $SERVER:3500) || return 1
	map "$p" $SERVER:3501 > /dev/null && q=$(map 40200 $SERVER:3501) &&
	r=$(map 40200 $SERVER:3502) || return 1
	ktap_note ":40200 arrived as :$p; toward .2:3501, where :$p was taken, as :$q; then as :$r"
	in_set "$p" "$q" "$r" && [ "$q" != "$p" ] && [ "$r" = "$p" ]
}

# The router forgets every flow (conntrack flushed), the rule stays: the
# endpoint's next flow gets the port its flows had, even one that was not
# its first choice. Its first choice H (seen under a rule of its own) is
# held toward .2:3500 by a flow from port H (kept: H is in the set), so
# there the endpoint gets W; after the flush, toward .3:3501, W again.
mapping_kept_after_flush() {
	local h w q
	set_rule 4 8 20 && h=$(map 40300 $SERVER:3500) || return 1
	set_rule 4 8 20 && map "$h" $SERVER:3500 > /dev/null &&
	w=$(map 40300 $SERVER:3500) || return 1
	ip netns exec "$router" conntrack -F > /dev/null 2>&1 || return 1
	q=$(map 40300 $SERVER2:3501) || return 1
	ktap_note ":40300 arrived as :$h first, as :$w where :$h was taken, after a flush as :$q"
	in_set "$h" "$w" "$q" && [ "$w" != "$h" ] && [ "$q" = "$w" ]
}

# An endpoint whose own port (37190, in the set) a flow from another
# client address holds toward .2:3500 gets another port W there, and
# keeps W toward .2:3501 instead of going back to its own port: one
# mapping, not two.
mapping_not_split_by_own_port() {
	local w r
	set_rule 4 8 20 && map $CLIENT2:37190 $SERVER:3500 > /dev/null &&
	w=$(map 37190 $SERVER:3500) && r=$(map 37190 $SERVER:3501) || return 1
	ktap_note ":37190, held by $CLIENT2 toward .2:3500, arrived there as :$w, then as :$r"
	in_set "$w" "$r" && [ "$w" != 37190 ] && [ "$r" = "$w" ]
}

# A new rule has no memory of mappings; the port an endpoint gets first is
# still its own (a keyed hash of the endpoint), so a reloaded ruleset
# gives it the same port again.
same_port_after_reload() {
	local p q
	set_rule 4 8 20 && p=$(map 40400 $SERVER:3500) || return 1
	set_rule 4 8 20 && q=$(map 40400 $SERVER:3501) || return 1
	ktap_note ":40400 arrived as :$p, after a reload as :$q"
	in_set "$p" "$q" && [ "$q" = "$p" ]
}

# random: a port per flow, never the endpoint's mapping. 8 flows on one
# port by chance: 120^-7 (each walk starts in its CPU's 120-port stripe).
random_maps_nothing() {
	local ports m0
	set_rule 4 8 20 "$1" && m0=$(stat mapped) || return 1
	# shellcheck disable=SC2086
	ports=$(map 40500 $DESTS) || return 1
	ktap_note "flags $1: from :40500 toward 8 destinations:" $ports
	# shellcheck disable=SC2086
	in_set $ports && [ "$(echo "$ports" | sort -u | wc -l)" -gt 1 ] &&
	[ "$(stat mapped)" = "$m0" ]
}

# --- fullcone: endpoint-independent filtering ---

CONE=65536	# NFT_MAPE_F_FULLCONE
KEEP=/sys/module/nf_nat_mape/parameters/cone_keep_s

# set_cone A K PSID: the rule with fullcone for flows leaving by wan0 (a
# flow it delivers to the LAN keeps its remote source), and its
# delivering half in prerouting, on no earlier flows.
set_cone() {
	set_rule "$@" $CONE &&
	ip netns exec "$router" nft insert rule ip nat post oifname != wan0 accept &&
	ip netns exec "$router" "$RULE" nat pre $NAT_ADDR "$@" $CONE
}

cones() { mape_cones "$router"; }

# knock SADDR:SPORT PORT: a datagram from the server's SADDR:SPORT to
# the router's NAT_ADDR:PORT.
knock() { udp_knock "$server" "$1" $NAT_ADDR:"$2"; }

# Debian's STUN client: the second address and port of the server reach
# the client's mapping too.
stun_fullcone() {
	set_cone 4 8 20 &&
	stun_type 40020 "4 8 20" "Independent Mapping, Independent Filter, random port"
}

# A port the endpoint holds is open to every remote address and port, and
# only that port: a knock on a port of the set nobody holds goes nowhere
# (the router answers it, as any closed port of its own).
cone_from_any_remote() {
	local p c0 other
	set_cone 4 8 20 && p=$(udp_listen "$client" 40600 $SERVER:3500) && c0=$(stat cone_in) || return 1
	other=$(( p == 37184 ? 37185 : 37184 ))
	knock $SERVER2:4444 "$p" && knock $SERVER:4445 "$p" && knock $SERVER2:4446 $other &&
	udp_heard 40600 knock-4444 && udp_heard 40600 knock-4445 || { sed 's/^/# got /' "$OUT/listen-40600"; return 1; }
	ktap_note ":40600 mapped to :$p heard $(grep -c knock "$OUT/listen-40600") knocks;" \
		"cone_in +$(( $(stat cone_in) - c0 )); $(cones | grep -c '^udp') noted"
	in_set "$p" && ! grep -q knock-4446 "$OUT/listen-40600" &&
	[ "$(stat cone_in)" = $((c0 + 2)) ] &&
	cones | grep -q "^udp $NAT_ADDR:$p 192.0.2.2:40600 last $SERVER:3500 "
}

# A new endpoint gets a port no other endpoint's mapping holds while one
# is free, whatever port it hashes to. 4/12/20 has 15 ports, one per
# block: 13 endpoints hold 13 of them toward :3500, two more endpoints
# get the 2 left toward :3501 (where the 13 are free too), and each hears
# a knock at its own. A third still gets a port, one that is held: the
# whole set stays usable.
cone_new_endpoint_avoids_held_ports() {
	local i p q r held=""
	set_cone 4 12 20 || return 1
	for i in $(seq 41001 41013); do
		p=$(map "$i" $SERVER:3500) || return 1
		held="$held $p"
	done
	p=$(udp_listen "$client" 41021 $SERVER:3501) && q=$(udp_listen "$client" 41022 $SERVER:3501) &&
	r=$(map 41023 $SERVER:3501) || return 1
	ktap_note "held:$held; :41021 got :$p, :41022 :$q, then :41023 :$r"
	knock $SERVER2:4460 "$p" && knock $SERVER2:4461 "$q" &&
	udp_heard 41021 knock-4460 && udp_heard 41022 knock-4461 ||
		{ echo "# a knock went elsewhere"; return 1; }
	# shellcheck disable=SC2086
	[ -z "$(printf '%s\n' $held "$p" "$q" "$r" | not_in_set 4 12 20)" ] &&
	[ "$(printf '%s\n' $held "$p" "$q" | sort -u | wc -l)" = 15 ] &&
	case " $held " in *" $r "*) ;; *) false ;; esac
}

# keep_2 CMD...: CMD with cone_keep_s 2, so that the time alone lets a
# mapping go quickly; 120 again after it.
keep_2() {
	local rc
	echo 2 > $KEEP || return 1
	"$@"
	rc=$?
	echo 120 > $KEEP
	return $rc
}

# (keep_2) The mapping still lives while its flow's conntrack does (30 s),
# its port is not given to another endpoint meanwhile, and once that
# conntrack is gone a knock goes nowhere and another endpoint gets the
# port.
mapping_expiry() {
	local p q r c0
	set_cone 4 8 20 && p=$(udp_listen "$client" 40620 $SERVER:3500) &&
	q=$(map $CLIENT2:"$p" $SERVER:3501) || return 1
	sleep 3
	c0=$(stat cone_in)
	knock $SERVER2:4447 "$p" && udp_heard 40620 knock-4447 || { echo "# no knock while the flow lives"; return 1; }
	ip netns exec "$router" conntrack -D -p udp --orig-src 192.0.2.2 --sport 40620 > /dev/null 2>&1
	knock $SERVER2:4448 "$p" && ! udp_heard 40620 knock-4448 && r=$(map "$p" $SERVER:3502) || return 1
	ktap_note ":40620 mapped to :$p; $CLIENT2:$p got :$q meanwhile; after the flow," \
		"192.0.2.2:$p got :$r; cone_in +$(( $(stat cone_in) - c0 ))"
	in_set "$p" "$q" "$r" && [ "$q" != "$p" ] && [ "$r" = "$p" ] &&
	[ "$(stat cone_in)" = $((c0 + 1)) ] &&
	cones | grep -q "^udp $NAT_ADDR:$p 192.0.2.2:$p "
}

# (keep_2) After cone_keep_s, the endpoint's oldest flow still alive
# keeps its mapping as well as its newest: a short flow that came and
# went since (a STUN query, say) does not end a long one's mapping. Once
# neither lives, it goes.
mapping_lives_with_oldest_flow() {
	local p q
	set_cone 4 8 20 && p=$(map 40660 $SERVER:3500) && q=$(map 40660 $SERVER:3501) || return 1
	ip netns exec "$router" conntrack -D -p udp --orig-src 192.0.2.2 --sport 40660 \
		--dport 3501 > /dev/null 2>&1 || return 1
	sleep 3
	: > "$OUT/listen-40660"
	ip netns exec "$client" socat -u UDP-RECV:40660 - >> "$OUT/listen-40660" &
	wait_listen "$client" u 40660 || return 1
	knock $SERVER2:4450 "$p" && udp_heard 40660 knock-4450 ||
		{ echo "# :$p not open with its oldest flow alive"; return 1; }
	ip netns exec "$router" conntrack -D -p udp --orig-src 192.0.2.2 --sport 40660 > /dev/null 2>&1
	knock $SERVER2:4451 "$p" && ! udp_heard 40660 knock-4451 || { echo "# :$p open with no flow"; return 1; }
	ktap_note ":40660 mapped to :$p toward .2:3500, :$q toward .2:3501; open after that one went, closed after both"
	in_set "$p" && [ "$q" = "$p" ]
}

# Hairpinning (RFC 4787 REQ-9): a LAN endpoint B reaches endpoint A's
# mapping at the public address, and A sees B's mapping as the source:
# the router's NAT_ADDR is local here, so prerouting takes B's flow, and
# postrouting NATs flows from the LAN turned back into it (chain hairpin,
# the same rule). A is a flows server, which answers with the port it
# saw; its mapping is made before it listens.
hairpin() {
	local rc
	set_rule 4 8 20 $CONE &&
	ip netns exec "$router" nft add chain ip nat hairpin &&
	ip netns exec "$router" "$RULE" nat hairpin $NAT_ADDR 4 8 20 $CONE &&
	ip netns exec "$router" nft insert rule ip nat post oifname lan0 accept &&
	ip netns exec "$router" nft insert rule ip nat post oifname lan0 \
		ip saddr 192.0.2.0/24 ct status dnat goto hairpin &&
	ip netns exec "$router" "$RULE" nat pre $NAT_ADDR 4 8 20 $CONE || return 1
	hairpin_steps
	rc=$?
	ip netns exec "$router" nft flush chain ip nat post &&
	ip netns exec "$router" nft delete chain ip nat hairpin && return $rc
}

hairpin_steps() {
	local pa pb got rc=0
	pa=$(map 40630 $SERVER:3500) && pb=$(map $CLIENT2:40631 $SERVER:3501) || return 1
	ip netns exec "$client" "$FLOWS" serve udp 40630 &
	wait_listen "$client" u 40630 && got=$(map $CLIENT2:40631 $NAT_ADDR:"$pa") || rc=1
	kill $! 2> /dev/null
	ktap_note "A :40630 mapped to :$pa, B $CLIENT2:40631 to :$pb; A saw B's flow from :$got"
	[ $rc = 0 ] && in_set "$pa" "$pb" && [ "$got" = "$pb" ]
}

# Every rule with fullcone gone, no per-port state is left.
state_freed_on_flush() {
	local before
	set_cone 4 8 20 && udp_listen "$client" 40640 $SERVER:3500 > /dev/null || return 1
	before=$(cones | head -n 1)
	ip netns exec "$router" nft flush chain ip nat post &&
	ip netns exec "$router" nft flush chain ip nat pre || return 1
	ktap_note "before: \"$before\", after: $(cones | wc -l) lines"
	[ "$before" = "set 4/8/20 ports 240 rules 2" ] && [ -z "$(cones)" ]
}

# The router's namespace goes with its fullcone rules and live mappings
# (nf_tables releases them after this module's namespace exit has run),
# then the module: both clean (a debug kernel would report a leak or a
# use after free). Last: the router is gone.
unload_with_live_mappings() {
	set_cone 4 8 20 && udp_listen "$client" 40650 $SERVER:3500 > /dev/null &&
	[ "$(cones | grep -c '^udp')" = 1 ] || return 1
	HOPS=""
	ns_delete "$router" && mape_unload && ! grep -q '^nf_nat_mape ' /proc/modules
}

ktap_plan 20
ktap_test "setup" setup
ktap_test "stun_default_independent_mapping" stun_default
ktap_test "stun_default_in_set_preserves_port" stun_default_in_set
ktap_test "stun_random_dependent_mapping" stun_random 4
ktap_test "stun_fully_random_dependent_mapping" stun_random 16
ktap_test "one_port_toward_8_destinations" one_port_many_destinations
ktap_test "mapping_kept_when_taken_toward_one" mapping_kept_when_taken_once
ktap_test "mapping_not_split_by_own_port" mapping_not_split_by_own_port
ktap_test "mapping_kept_after_conntrack_flush" mapping_kept_after_flush
ktap_test "same_port_after_rule_reload" same_port_after_reload
ktap_test "random_maps_nothing" random_maps_nothing 4
ktap_test "fully_random_maps_nothing" random_maps_nothing 16
ktap_test "stun_fullcone_independent_filter" stun_fullcone
ktap_test "fullcone_open_to_any_remote_on_held_port_only" cone_from_any_remote
ktap_test "fullcone_new_endpoint_avoids_held_ports" cone_new_endpoint_avoids_held_ports
ktap_test "fullcone_mapping_lives_with_its_flow_then_goes" keep_2 mapping_expiry
ktap_test "fullcone_mapping_lives_with_oldest_flow_too" keep_2 mapping_lives_with_oldest_flow
ktap_test "hairpin_b_reaches_a_and_a_sees_b_mapping" hairpin
ktap_test "fullcone_state_freed_on_flush" state_freed_on_flush
ktap_test "netns_and_module_gone_with_live_mappings" unload_with_live_mappings
ktap_finish
