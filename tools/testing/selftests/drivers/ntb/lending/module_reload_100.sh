#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# 100 load/unload cycles of ntb_lending and ntb_sim leave nothing behind:
# every cycle loads and unloads, and on a kernel with kmemleak (KERNEL=debug)
# the harness's scan at the end of the run finds no leak.
# vm-devices: edu
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"

CYCLES=100

ktap_print_header
ktap_set_plan 4

cycle() {
	i=0
	while [ $i -lt $CYCLES ]; do
		modprobe ntb_lending || return 1
		modprobe ntb_sim || return 1
		unload_ntb_modules || return 1
		i=$((i + 1))
	done
}
ktap_test_result "load_unload_${CYCLES}_cycles" cycle
ktap_test_result "smartio_initializing_once_per_load" \
	[ "$(kernel_log_count 'ntb_lending: smartio initializing$')" -eq $CYCLES ]
no_ntb_module_loaded() {
	! lsmod | grep -q '^ntb'
}
ktap_test_result "no_ntb_module_left_loaded" no_ntb_module_loaded
if have_kmemleak; then
	ktap_test_pass "kmemleak_armed_for_the_end_of_run_scan"
else
	ktap_test_skip "kmemleak_armed_for_the_end_of_run_scan (no kmemleak in this kernel; KERNEL=debug has it)"
fi

ktap_finished
