#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The module as a user gets it: installed by "make dkms-install" on the
# host (scripts/dkms.sh), or with "deb" by the Debian packages, loaded here
# with plain modprobe from the module index DKMS wrote, with nothing copied
# in by the test. With "deb" the router's rules are the packaged mapecalc's,
# loaded by Debian's iptables-restore through the packaged plugin.
#
#   selftests/dkms_load.sh [deb]
#
#   client 192.0.2.2 -- router (198.51.100.1:mape 4/8/20) -- server 198.51.100.2
. "$(dirname "$0")/lib.sh"
require_vm

FLOWS=$MAPE_ROOT/build/tools/flows
RULE=$MAPE_ROOT/build/tools/mape_rule
NAT_ADDR=198.51.100.1
SERVER=198.51.100.2
FROM=${1:-dkms}
test_workdir

from_dkms() {
	local path
	path=$(modinfo -n nf_nat_mape) || { echo "# modinfo finds no nf_nat_mape"; return 1; }
	ktap_note "modinfo: $path"
	case "$path" in
	/lib/modules/"$(uname -r)"/updates/dkms/nf_nat_mape.ko*) ;;
	*) return 1 ;;
	esac
}

version_is_the_tree_s() {
	local want got
	want=$("$MAPE_ROOT"/scripts/version.sh) got=$(modinfo -F version nf_nat_mape)
	ktap_note "version $got, tree $want"
	[ -n "$want" ] && [ "$got" = "$want" ]
}

plain_modprobe() {
	modprobe nf_nat_mape && grep -q '^nf_nat_mape ' /proc/modules
}

# The rule as the packages write it: the packaged mapecalc's rules.v4 for
# a prefix whose EA bits give 198.51.100.1 and PSID 20 under a 4/8 rule,
# with wan0 for the tunnel, through Debian's iptables-restore, which finds
# the packaged plugin in its xtables directory on its own.
packaged_rule() {
	local rules=$OUT/rules.v4
	[ "$(dpkg -S /usr/lib/x86_64-linux-gnu/xtables/libxt_MAPE.so | cut -d: -f1)" = nf-nat-mape-tools ] &&
	/usr/bin/mapecalc -f iptables --tunnel wan0 --rule-ipv6 2001:db8::/40 \
		--rule-ipv4 198.51.100.0/24 --ea-len 16 --psid-offset 4 2001:db8:1:1400::/56 > "$rules" &&
	grep -q -- '-j MAPE --to-source 198.51.100.1 --psid 4/8/20$' "$rules" &&
	ip netns exec "$router" nft delete table ip nat &&	# topo_crs's, iptables' now
	ip netns exec "$router" iptables-restore < "$rules" &&
	ip netns exec "$router" iptables-save -t nat | grep -q -- '-j MAPE --to-source 198.51.100.1 --psid 4/8/20$'
}

# 100 UDP flows through the rule: every port the server saw is in 4/8/20.
translates_into_the_set() {
	topo_crs $NAT_ADDR $SERVER || return 1
	if [ "$FROM" = deb ]; then
		packaged_rule || return 1
	else
		ip netns exec "$router" nft add rule ip nat post oifname != wan0 accept &&
		ip netns exec "$router" "$RULE" nat post $NAT_ADDR 4 8 20 || return 1
	fi
	ip netns exec "$server" "$FLOWS" serve udp 5000 &
	wait_listen "$server" u 5000 &&
	ip netns exec "$client" "$FLOWS" run udp $SERVER 5000 open:100 > "$OUT/flows" &&
	opened "$OUT/flows" 100 && all_in_set "$OUT/flows" 4 8 20
}

unloads_after_flush() {
	ip netns exec "$router" nft flush ruleset && modprobe -r nf_nat_mape
}

case "$FROM" in dkms|deb) ;; *) echo "usage: dkms_load.sh [deb]" >&2; exit 2 ;; esac

ktap_plan 5
ktap_test "modinfo_finds_the_dkms_module" from_dkms
ktap_test "module_version_is_dkms_conf_version" version_is_the_tree_s
ktap_test "plain_modprobe_loads_it" plain_modprobe
ktap_test "${FROM}_module_translates_into_4_8_20" translates_into_the_set
ktap_test "rmmod_after_rule_flush" unloads_after_flush
ktap_finish
