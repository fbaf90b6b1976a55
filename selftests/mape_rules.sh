#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The kernel's side of rule insertion, by raw netlink (tools/mape_rule), so
# that the values nft would refuse to send reach the kernel too:
#  - the first mape rule autoloads nf_nat_mape;
#  - every class of bad parameter is refused with its errno and a log line;
#  - mape is refused outside NAT postrouting/input chains and for ip6;
#  - the module cannot go while a rule uses it, and goes after a flush.
# One namespace, no traffic.
. "$(dirname "$0")/lib.sh"
require_vm

RULE=$MAPE_ROOT/build/tools/mape_rule
EINVAL=22
ERANGE=34
EOPNOTSUPP=95

trap ns_cleanup EXIT

loaded() { grep -q "^nf_nat_mape " /proc/modules; }

setup() {
	mape_install_module && ns_create fw &&
	ip netns exec "$fw" nft -f - <<-NFT
	table ip nat {
		chain c_post { type nat hook postrouting priority srcnat; }
		chain c_in { type nat hook input priority 100; }
		chain c_pre { type nat hook prerouting priority dstnat; }
	}
	table ip filter {
		chain c_fwd { type filter hook forward priority 0; }
	}
	table ip6 nat {
		chain c_post { type nat hook postrouting priority srcnat; }
	}
	NFT
}

# rule_errno WANT ARGS...: mape_rule ARGS fails with errno WANT.
rule_errno() {
	local want=$1 rc
	shift
	ip netns exec "$fw" "$RULE" "$@" 2>/dev/null
	rc=$?
	[ "$rc" = "$want" ] || { echo "# mape_rule $*: errno $rc, want $want"; return 1; }
}

rule_ok() { ip netns exec "$fw" "$RULE" "$@"; }

autoload() { ! loaded && rule_ok nat c_post 192.0.2.1 4 8 20 && loaded; }

# The kernel log names the rejected value for the administrator.
logged() { dmesg | grep -q "nf_nat_mape: rule rejected: $1"; }


busy_while_in_use() { ! modprobe -r nf_nat_mape 2>/dev/null && loaded; }

# The kernel dumps the rules back as they were given (mape_rule -l reads
# the dump, as the demo does where Debian's nft cannot).
dumped_back() {
	local got
	got=$(rule_ok -l nat c_post | sed 's/^handle [0-9]*: //') &&
	[ "$got" = "snat to 192.0.2.1:mape 4/8/20
snat to 192.0.2.1-192.0.2.4:mape 4/8/20 random" ] || { echo "# dumped: $got"; return 1; }
}

unloads_after_flush() {
	ip netns exec "$fw" nft flush ruleset && modprobe -r nf_nat_mape && ! loaded
}

ktap_plan 21
ktap_test "setup" setup
ktap_test "first_rule_autoloads_module" autoload
ktap_test "input_chain_accepted" rule_ok nat c_in 192.0.2.1 6 6 41
ktap_test "address_range_accepted" rule_ok nat c_post 192.0.2.1-192.0.2.4 4 8 20 4
ktap_test "rules_dumped_back_as_given" dumped_back
ktap_test "offset_16_is_erange" rule_errno $ERANGE nat c_post 192.0.2.1 16 0 0
ktap_test "length_17_is_erange" rule_errno $ERANGE nat c_post 192.0.2.1 0 17 0
ktap_test "huge_offset_is_erange" rule_errno $ERANGE nat c_post 192.0.2.1 4294967295 8 0
ktap_test "offset_plus_length_over_16_is_einval" rule_errno $EINVAL nat c_post 192.0.2.1 4 13 0
ktap_test "psid_too_big_for_length_is_einval" rule_errno $EINVAL nat c_post 192.0.2.1 4 8 256
ktap_test "empty_set_is_einval" rule_errno $EINVAL nat c_post 192.0.2.1 0 6 0
ktap_test "unknown_flag_is_einval" rule_errno $EINVAL nat c_post 192.0.2.1 4 8 20 0x40
ktap_test "missing_psid_is_einval" rule_errno $EINVAL -o psid nat c_post 192.0.2.1 4 8 20
ktap_test "missing_address_is_einval" rule_errno $EINVAL -o reg_addr_min nat c_post 192.0.2.1 4 8 20
ktap_test "bad_register_is_refused" rule_errno $ERANGE -s reg_addr_min=4096 nat c_post 192.0.2.1 4 8 20
ktap_test "prerouting_is_eopnotsupp" rule_errno $EOPNOTSUPP nat c_pre 192.0.2.1 4 8 20
ktap_test "filter_chain_is_eopnotsupp" rule_errno $EOPNOTSUPP filter c_fwd 192.0.2.1 4 8 20
ktap_test "ip6_family_is_eopnotsupp" rule_errno $EOPNOTSUPP -f ip6 nat c_post 192.0.2.1 4 8 20
ktap_test "rejection_logged_with_values" logged "PSID offset + PSID length exceed 16 bits (4/13/0)"
ktap_test "rmmod_refused_while_rules_use_it" busy_while_in_use
ktap_test "rmmod_after_flush" unloads_after_flush
ktap_finish
