#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# nf_nat_mape loads with its dependencies through plain modprobe, and
# unloads again leaving nothing behind.
. "$(dirname "$0")/lib.sh"
require_vm

loaded() { grep -q "^nf_nat_mape " /proc/modules; }
not_loaded() { ! loaded; }

ktap_plan 4
ktap_test "module_installs_for_modprobe" mape_install_module
ktap_test "modprobe_loads_module" modprobe nf_nat_mape
ktap_test "module_listed_after_load" loaded
modprobe -r nf_nat_mape
ktap_test "modprobe_r_unloads_module" not_loaded
ktap_finish
