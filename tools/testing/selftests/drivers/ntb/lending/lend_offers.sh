#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The lender's side of the configfs ABI and the offers it sends: lend
# entries, connections, availability, refused commands with their errno,
# and offers appearing and vanishing on the peer as the lender, the link
# and the peer change, over a channel that loses and corrupts messages.
# vm-devices: e1000e edu edu
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
FAB=/sys/kernel/debug/ntb_sim/fabric0

ktap_print_header
ktap_set_plan 17

sim_two_hosts intel
NIC=$(pci_find 0x020000)
modprobe e1000e
modprobe ntb_lending

nic_driver_is_e1000e() {
	[ "$(driver_of "$NIC")" = e1000e ]
}

both_said_hello() {
	[ "$(kernel_log_count "0000:00:03.0: node 1 is up")" -ge 1 ] &&
		[ "$(kernel_log_count "0000:00:04.0: node 0 is up")" -ge 1 ]
}

b_unbound() {
	[ -z "$(cat "$CFS/$B/node_id")" ]
}

adapters_appear_with_node_ids() {
	[ "$(cat "$CFS/$A/node_id")" = 0 ] && [ "$(cat "$CFS/$B/node_id")" = 1 ] &&
		[ -d "$CFS/$A/connections" ] && [ -d "$CFS/$A/lends" ] &&
		[ -d "$CFS/$B/offers" ]
}
ktap_test_result "adapter_groups_appear_with_node_ids" await adapters_appear_with_node_ids
ktap_test_result "peers_say_hello" await both_said_hello

lend_entry_made_in_local_use() {
	mkdir "$CFS/$A/lends/$NIC" || return 1
	L=$CFS/$A/lends/$NIC
	[ "$(cat "$L/state")" = local ] && [ "$(cat "$L/available")" = 0 ] &&
		[ "$(cat "$L/vendor")" = 0x8086 ] && [ "$(cat "$L/class")" = 0x020000 ] &&
		[ "$(cat "$L/id")" = 00000 ] && [ -z "$(cat "$L/borrower")" ] &&
		[ "$(driver_of "$NIC")" = e1000e ]
}
ktap_test_result "lend_entry_made_in_local_use" lend_entry_made_in_local_use
L=$CFS/$A/lends/$NIC

bad_lend_entries_refused() {
	[ "$(mkdir_err "$CFS/$A/lends/garbage")" = "Invalid argument" ] &&
		[ "$(mkdir_err "$CFS/$A/lends/00:02.0")" = "Invalid argument" ] &&
		[ "$(mkdir_err "$CFS/$A/lends/0000:00:1d.7")" = "No such device" ] &&
		[ "$(mkdir_err "$CFS/$A/lends/$B")" = "Operation not permitted" ] &&
		[ "$(mkdir_err "$CFS/$A/lends/0000:00:00.0")" = "Operation not permitted" ] &&
		[ "$(mkdir_err "$CFS/$A/lends/0000:00:1f.0")" = "Operation not permitted" ] &&
		[ "$(mkdir_err "$CFS/$B/lends/$NIC")" = "File exists" ] &&
		[ -z "$(ls "$CFS/$B/lends")" ] &&
		[ "$(kernel_log_count "lends/garbage: name the device as lspci -D does")" -eq 1 ]
}
ktap_test_result "bad_lend_entries_refused_with_errno_and_message" bad_lend_entries_refused

bad_connections_refused() {
	[ "$(mkdir_err "$CFS/$A/connections/x1")" = "Invalid argument" ] &&
		[ "$(mkdir_err "$CFS/$A/connections/0")" = "Invalid argument" ] &&
		[ "$(mkdir_err "$CFS/$A/connections/5")" = "Invalid argument" ] &&
		[ "$(mkdir_err "$CFS/$A/connections/01")" = "Invalid argument" ] &&
		[ "$(mkdir_err "$CFS/$A/connections/+1")" = "Invalid argument" ] &&
		[ -z "$(ls "$CFS/$A/connections")" ]
}
ktap_test_result "bad_connections_refused" bad_connections_refused

bad_available_refused() {
	! echo maybe >"$L/available" 2>/dev/null && ! echo yes >"$L/available" 2>/dev/null &&
		! echo 10 >"$L/available" 2>/dev/null && [ "$(cat "$L/state")" = local ]
}
ktap_test_result "bad_available_value_refused_and_nothing_changes" bad_available_refused

offer_not_seen_before_connect() {
	echo 1 >"$L/available" && [ "$(cat "$L/state")" = available ] &&
		[ "$(driver_of "$NIC")" != e1000e ] &&
		sleep 1 && [ -z "$(ls "$CFS/$B/offers")" ]
}
ktap_test_result "available_unbinds_driver_and_unconnected_node_sees_nothing" offer_not_seen_before_connect

O=$CFS/$B/offers/00000
offer_seen() {
	[ -d "$O" ] && [ "$(cat "$O/lender")" = 0 ] && [ "$(cat "$O/bdf")" = "$NIC" ] &&
		[ "$(cat "$O/vendor")" = 0x8086 ] && [ "$(cat "$O/device")" = "$(cat "$L/device")" ] &&
		[ "$(cat "$O/class")" = 0x020000 ] && [ "$(cat "$O/state")" = available ]
}
connect_shows_offer() {
	mkdir "$CFS/$A/connections/1" && await offer_seen
}
ktap_test_result "connect_shows_the_offer_with_its_attributes" connect_shows_offer

unavailable_withdraws() {
	echo 0 >"$L/available" && [ "$(cat "$L/state")" = local ] &&
		await nic_driver_is_e1000e && await gone "$O" &&
		echo 1 >"$L/available" && await offer_seen
}
ktap_test_result "unavailable_rebinds_driver_and_withdraws_offer" unavailable_withdraws

link_flap() {
	echo "0 1 1" >"$FAB/link_down" && await gone "$O" &&
		echo "0 1 0" >"$FAB/link_down" && await offer_seen
}
ktap_test_result "offer_vanishes_on_link_down_and_returns_on_link_up" link_flap

peer_restart() {
	echo "$B" >/sys/bus/ntb/drivers/ntb_lending/unbind && await b_unbound &&
		await gone "$O" && echo "$B" >/sys/bus/ntb/drivers/ntb_lending/bind && await offer_seen
}
ktap_test_result "borrower_adapter_rebound_sees_the_offer_again" peer_restart

lender_restart() {
	echo "$A" >/sys/bus/ntb/drivers/ntb_lending/unbind && await gone "$O" &&
		[ "$(cat "$L/state")" = available ] &&
		echo "$A" >/sys/bus/ntb/drivers/ntb_lending/bind && await offer_seen
}
ktap_test_result "lender_adapter_rebound_keeps_its_configuration" lender_restart

lossy_channel() {
	echo 0 >"$L/available" && await gone "$O" &&
		echo 3 >"$FAB/drop_db" && echo 3 >"$FAB/corrupt_spad" &&
		echo 1 >"$L/available" && await offer_seen &&
		[ "$(cat "$FAB/drop_db")" = 0 ] && [ "$(cat "$FAB/corrupt_spad")" = 0 ]
}
ktap_test_result "offers_arrive_through_dropped_doorbells_and_corrupted_scratchpads" lossy_channel

disconnect_withdraws() {
	rmdir "$CFS/$A/connections/1" && await gone "$O" &&
		[ "$(cat "$L/state")" = available ]
}
ktap_test_result "disconnect_withdraws_the_offer" disconnect_withdraws

module_pinned() {
	! rmmod ntb_lending 2>/dev/null && module_loaded ntb_lending
}
ktap_test_result "module_stays_while_configured" module_pinned

rmdir_gives_device_back() {
	rmdir "$L" && await nic_driver_is_e1000e &&
		ip link set "$(ls "/sys/bus/pci/devices/$NIC/net")" up
}
ktap_test_result "rmdir_lend_entry_gives_the_device_back_working" rmdir_gives_device_back

ktap_test_result "module_unloads_when_unconfigured" rmmod ntb_lending

ktap_finished
