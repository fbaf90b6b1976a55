#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The module as a user gets it, built by DKMS from the Debian packages,
# with nothing copied in by the test, and the router's rules from the
# packaged mapecalc (rules.v4), loaded by iptables-restore through the
# packaged plugin:
#   deb        the packages installed on the host (tests/debs/run.sh): the
#              module loaded with plain modprobe from the index DKMS wrote,
#              Debian 12's iptables;
#   root DIR   installed by the packages in another Debian root (Debian 13,
#              tests/debs/trixie.sh): its DKMS's module, loaded after its
#              dependencies from this kernel's tree, and that root's
#              mapecalc, iptables-restore and plugin, run with chroot.
#
#   selftests/dkms_load.sh deb | root DIR
#
#   client 192.0.2.2 -- router (198.51.100.1:mape 4/8/20) -- server 198.51.100.2
. "$(dirname "$0")/lib.sh"
require_vm

FLOWS=$MAPE_ROOT/build/tools/flows
NAT_ADDR=198.51.100.1
SERVER=198.51.100.2
FROM=${1:-}
case "$FROM" in
deb)	IN_ROOT=() ;;
root)	[ -d "${2:-}" ] || { echo "usage: dkms_load.sh root DIR" >&2; exit 2; }
	IN_ROOT=(chroot "$2") ;;
*)	echo "usage: dkms_load.sh deb | root DIR" >&2; exit 2 ;;
esac
ROOTDIR=${2:-}
test_workdir

# Where DKMS put the module for this kernel, in the root it was built in.
dkms_module() {
	ls "$ROOTDIR/lib/modules/$(uname -r)/updates/dkms/"nf_nat_mape.ko* 2>/dev/null
}

from_dkms() {
	local path
	path=$(dkms_module) || { echo "# DKMS built no nf_nat_mape for $(uname -r)"; return 1; }
	ktap_note "module: $path"
	[ -n "$ROOTDIR" ] || [ "$(modinfo -n nf_nat_mape)" = "$path" ]
}

version_is_the_tree_s() {
	local want got
	want=$("$MAPE_ROOT"/scripts/version.sh) got=$(modinfo -F version "$(dkms_module)")
	ktap_note "version $got, tree $want"
	[ -n "$want" ] && [ "$got" = "$want" ]
}

# From another root: modinfo's "depends" from this kernel's tree, then it.
loads() {
	local dep
	if [ -z "$ROOTDIR" ]; then
		modprobe nf_nat_mape
	else
		for dep in $(modinfo -F depends "$(dkms_module)" | tr , ' '); do
			modprobe "$dep" || return 1
		done
		insmod "$(dkms_module)"
	fi && grep -q '^nf_nat_mape ' /proc/modules
}

# The rule as the packages write it: their mapecalc's rules.v4 for
# a prefix whose EA bits give 198.51.100.1 and PSID 20 under a 4/8 rule,
# with wan0 for the tunnel, through iptables-restore, which finds the
# packaged plugin in its xtables directory on its own.
packaged_rule() {
	local rules=$OUT/rules.v4 plugin=/usr/lib/x86_64-linux-gnu/xtables/libxt_MAPE.so
	[ -z "$ROOTDIR" ] || mount -t proc proc "$ROOTDIR/proc" || return 1
	ktap_note "$("${IN_ROOT[@]}" iptables --version), $("${IN_ROOT[@]}" mapecalc --version)"
	[ "$("${IN_ROOT[@]}" dpkg -S $plugin | cut -d: -f1)" = nf-nat-mape-tools ] &&
	"${IN_ROOT[@]}" mapecalc -f iptables --tunnel wan0 --rule-ipv6 2001:db8::/40 \
		--rule-ipv4 198.51.100.0/24 --ea-len 16 --psid-offset 4 2001:db8:1:1400::/56 > "$rules" &&
	grep -q -- '-j MAPE --to-source 198.51.100.1 --psid 4/8/20$' "$rules" &&
	ip netns exec "$router" nft delete table ip nat &&	# topo_crs's, iptables' now
	ip netns exec "$router" "${IN_ROOT[@]}" iptables-restore < "$rules" &&
	ip netns exec "$router" "${IN_ROOT[@]}" iptables-save -t nat |
		grep -q -- '-j MAPE --to-source 198.51.100.1 --psid 4/8/20$'
}

# 100 UDP flows through the rule: every port the server saw is in 4/8/20.
translates_into_the_set() {
	topo_crs $NAT_ADDR $SERVER && packaged_rule || return 1
	ip netns exec "$server" "$FLOWS" serve udp 5000 &
	wait_listen "$server" u 5000 &&
	ip netns exec "$client" "$FLOWS" run udp $SERVER 5000 open:100 > "$OUT/flows" &&
	opened "$OUT/flows" 100 && all_in_set "$OUT/flows" 4 8 20
}

# nft flush ruleset takes iptables-nft's tables too.
unloads_after_flush() {
	ip netns exec "$router" nft flush ruleset && rmmod nf_nat_mape
}

ktap_plan 5
ktap_test "dkms_built_the_module_for_this_kernel" from_dkms
ktap_test "module_version_is_dkms_conf_version" version_is_the_tree_s
ktap_test "module_loads" loads
ktap_test "${FROM}_module_translates_into_4_8_20" translates_into_the_set
ktap_test "rmmod_after_rule_flush" unloads_after_flush
ktap_finish
