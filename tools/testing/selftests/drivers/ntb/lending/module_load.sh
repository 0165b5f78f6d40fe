#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ntb_lending and ntb_sim load, announce themselves, register where they
# should and unload; the upstream NTB core and clients built beside them
# load and unload too.
# vm-devices: edu
. "$(dirname "$0")/lib.sh"

ktap_print_header
ktap_set_plan 7

ktap_test_result "ntb_lending_loads_with_ntb_core" modprobe ntb_lending
ktap_test_result "smartio_initializing_logged_once" \
	[ "$(kernel_log_count 'ntb_lending: smartio initializing$')" -eq 1 ]
ktap_test_result "ntb_lending_registered_as_ntb_client" \
	[ -d /sys/bus/ntb/drivers/ntb_lending ]
ktap_test_result "ntb_sim_loads" modprobe ntb_sim

upstream_clients_load() {
	for m in ntb_tool ntb_perf ntb_pingpong ntb_transport ntb_msi_test; do
		modprobe "$m" || return 1
		[ -d "/sys/bus/ntb/drivers/$m" ] || {
			echo "# $m is not an NTB client"
			return 1
		}
	done
}
ktap_test_result "upstream_ntb_clients_load" upstream_clients_load

# ntb_netdev attaches to ntb_transport devices; with no NTB device there are
# none, and upstream refuses the load with ENODEV.
netdev_refused_without_ntb_device() {
	! modprobe ntb_netdev 2>/tmp/err && grep -q 'No such device' /tmp/err
}
ktap_test_result "upstream_ntb_netdev_refuses_without_ntb_device" \
	netdev_refused_without_ntb_device

all_unloaded() {
	unload_ntb_modules || return 1
	for m in $NTB_MODULES; do
		! module_loaded "$m" || return 1
	done
}
ktap_test_result "all_ntb_modules_unload" all_unloaded

ktap_finished
