#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A CE run from a Debian 13 root (tests/debs/trixie.sh made it and
# installed the packages there): the module its DKMS built, loaded with
# its dependencies from this kernel; the router's rules from its mapecalc,
# loaded by its iptables-restore (1.8.11) through its plugin.
#
#   selftests/trixie_ce.sh ROOT
#
#   client 192.0.2.2 -- router (198.51.100.1:mape 4/8/20) -- server 198.51.100.2
. "$(dirname "$0")/lib.sh"
require_vm

R=${1:?usage: trixie_ce.sh ROOT}
FLOWS=$MAPE_ROOT/build/tools/flows
NAT_ADDR=198.51.100.1
SERVER=198.51.100.2
test_workdir

in_root() { chroot "$R" "$@"; }

# modinfo's "depends" first, from this kernel's own tree, then the module.
load_root_module() {
	local ko dep
	ko=$(ls "$R/lib/modules/$(uname -r)/updates/dkms/"nf_nat_mape.ko*) || return 1
	ktap_note "$ko: version $(modinfo -F version "$ko")"
	[ "$(modinfo -F version "$ko")" = "$("$MAPE_ROOT"/scripts/version.sh)" ] || return 1
	for dep in $(modinfo -F depends "$ko" | tr , ' '); do
		modprobe "$dep" || return 1
	done
	insmod "$ko" && grep -q '^nf_nat_mape ' /proc/modules
}

# The same prefix and rule as selftests/dkms_load.sh deb.
root_rules() {
	mount -t proc proc "$R/proc" || return 1
	ktap_note "$(in_root iptables --version), $(in_root mapecalc --version)"
	in_root mapecalc -f iptables --tunnel wan0 --rule-ipv6 2001:db8::/40 \
		--rule-ipv4 198.51.100.0/24 --ea-len 16 --psid-offset 4 \
		2001:db8:1:1400::/56 > "$OUT/rules.v4" &&
	topo_crs $NAT_ADDR $SERVER &&
	ip netns exec "$router" nft delete table ip nat &&
	ip netns exec "$router" chroot "$R" iptables-restore < "$OUT/rules.v4" &&
	ip netns exec "$router" chroot "$R" iptables-save -t nat |
		grep -- '-j MAPE --to-source 198.51.100.1 --psid 4/8/20$'
}

# 100 UDP flows through the rule: every port the server saw is in 4/8/20.
translates_into_the_set() {
	ip netns exec "$server" "$FLOWS" serve udp 5000 &
	wait_listen "$server" u 5000 &&
	ip netns exec "$client" "$FLOWS" run udp $SERVER 5000 open:100 > "$OUT/flows" &&
	opened "$OUT/flows" 100 && all_in_set "$OUT/flows" 4 8 20
}

unloads_after_flush() {
	ip netns exec "$router" chroot "$R" iptables -t nat -F &&
	ip netns exec "$router" nft flush ruleset && rmmod nf_nat_mape
}

ktap_plan 4
ktap_test "module_built_by_trixie_dkms_loads" load_root_module
ktap_test "trixie_mapecalc_rules_load_with_its_iptables" root_rules
ktap_test "trixie_ce_translates_into_4_8_20" translates_into_the_set
ktap_test "rmmod_after_rule_flush" unloads_after_flush
ktap_finish
