#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# smartio_tool on the real module: what lend_offers.sh does through raw
# configfs, done only through the tool on a two-host ntb_sim fabric. The
# lender (node 0) connects node 1 and lends the VM's NIC; the borrower sees
# it in list, list --json and show; every refusal the kernel makes is
# reported with its exit code and one line; a missing module and an
# unmounted configfs are handled by the tool. The root port is a bridge
# to refuse.
# vm-devices: e1000e edu edu
# vm-qemu: -device pcie-root-port,id=rp0,chassis=1,slot=1
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending

ktap_print_header
ktap_set_plan 17

sim_two_hosts intel
NIC=$(pci_find 0x020000)
BRIDGE=$(pci_find 0x060400)
modprobe e1000e
# The tool takes BDFs as lspci prints them, without the domain.
SHORT=${NIC#0000:}
# The NIC as lspci -vmm names it from the same pci.ids.
NAME="$(lspci -vmm -s "$SHORT" | sed -n 's/^Vendor:[[:space:]]*//p') $(lspci -vmm -s "$SHORT" | sed -n 's/^Device:[[:space:]]*//p')"
# What list prints when there is nothing to list.
HEADER="ID  LENDER  BDF  DESCRIPTION  STATE"

nic_driver_is_e1000e() {
	[ "$(driver_of "$NIC")" = e1000e ]
}

# row N: line N of the tool's last output as "ID LENDER BDF STATE|DESCRIPTION";
# the description is the only field with blanks.
row() {
	printf '%s\n' "$out" | sed -n "$1p" |
		sed 's/^\([^ ]*\)  *\([^ ]*\)  *\([^ ]*\)  *\(.*[^ ]\)  *\([^ ]*\)$/\1 \2 \3 \5|\4/'
}

# The borrower's list shows the NIC offered by node 0, and nothing else.
borrower_lists_the_offer() {
	tool list &&
		[ "$(printf '%s\n' "$out" | wc -l)" -eq 2 ] &&
		[ "$(row 2)" = "00000 0 $NIC available|$NAME" ]
}

borrower_lists_nothing() {
	tool list && [ "$out" = "$HEADER" ]
}

# As on a host where ntb_lending was never installed: not in modules.dep.
missing_module_is_reported_with_how_to_load_it() {
	ko=$(modinfo -n ntb_lending) && mv "$ko" /tmp/ntb_lending.ko && depmod || return 1
	refused 6 "ntb_lending is not loaded and modprobe ntb_lending failed (Module ntb_lending not found*): install it (make install: Documentation/ntb-lending/admin-guide.rst) or insmod ntb_lending.ko" \
		--adapter "$A" connect 1
	ret=$?
	mv /tmp/ntb_lending.ko "$ko" && depmod && [ "$ret" -eq 0 ] &&
		! module_loaded ntb_lending
}
ktap_test_result "missing_module_is_reported_with_how_to_load_it" \
	missing_module_is_reported_with_how_to_load_it

list_loads_the_module() {
	succeeds --adapter "$B" list && [ "$out" = "$HEADER" ] &&
		module_loaded ntb_lending
}
ktap_test_result "list_loads_the_module_and_shows_an_empty_table" list_loads_the_module

list_mounts_configfs() {
	umount /sys/kernel/config && ! configfs_mounted &&
		succeeds --adapter "$B" list && [ "$out" = "$HEADER" ] &&
		configfs_mounted
}
ktap_test_result "list_mounts_configfs_when_it_is_not" list_mounts_configfs

several_adapters_need_a_choice() {
	refused 2 "several NTB adapters (*): choose one with --adapter NAME or SMARTIO_ADAPTER=NAME; see smartio_tool help" \
		list &&
		case $err in *"$A"*) ;; *) false ;; esac &&
		case $err in *"$B"*) ;; *) false ;; esac
}
ktap_test_result "two_adapters_need_a_choice_and_are_named" several_adapters_need_a_choice

# From here on the borrower's adapter comes from the environment, and the
# lender's from --adapter, which overrides it.
export SMARTIO_ADAPTER="$B"

connect_and_again() {
	succeeds --adapter "$A" connect 1 && [ -z "$out" ] &&
		[ -d "$CFS/$A/connections/1" ] &&
		succeeds --adapter "$A" connect 01 && [ -z "$out" ] &&
		[ "$(ls "$CFS/$A/connections")" = 1 ]
}
ktap_test_result "connect_makes_the_connection_and_again_changes_nothing" connect_and_again

bad_connects_refused() {
	refused 3 "cannot connect node 5: there is no node 5 on the fabric of $A (Invalid argument)" \
		--adapter "$A" connect 5 &&
		refused 2 "0 is this host's own NodeId on $A; see smartio_tool help" \
			--adapter "$A" connect 0 &&
		refused 2 "'x1' is not a NodeId: *" --adapter "$A" connect x1 &&
		[ "$(ls "$CFS/$A/connections")" = 1 ]
}
ktap_test_result "connect_to_a_node_not_on_the_fabric_or_to_itself_is_refused" bad_connects_refused

add_prints_the_id() {
	L=$CFS/$A/lends/$NIC
	succeeds --adapter "$A" add "$SHORT" && [ "$out" = 00000 ] &&
		[ "$(cat "$L/state")" = local ] && nic_driver_is_e1000e &&
		succeeds --adapter "$A" add "$NIC" && [ "$out" = 00000 ] &&
		[ "$(ls "$CFS/$A/lends")" = "$NIC" ]
}
ktap_test_result "add_prints_the_id_and_the_device_stays_local" add_prints_the_id

add_unknown_bdf_not_found() {
	refused 3 "cannot add 0000:00:1d.7: this host has no PCI function 0000:00:1d.7; lspci -D lists them (No such device)" \
		--adapter "$A" add 00:1d.7
}
ktap_test_result "add_of_a_bdf_with_no_pci_function_is_not_found" add_unknown_bdf_not_found

add_not_permitted() {
	[ -n "$BRIDGE" ] &&
		refused 5 "cannot add $BRIDGE: bridges, NTB adapters and borrowed devices cannot be lent (Operation not permitted)" \
			--adapter "$A" add "${BRIDGE#0000:}" &&
		refused 5 "cannot add $A: bridges, NTB adapters and borrowed devices cannot be lent (Operation not permitted)" \
			--adapter "$A" add "${A#0000:}" &&
		refused 5 "cannot add $B: bridges, NTB adapters and borrowed devices cannot be lent (Operation not permitted)" \
			--adapter "$A" add "${B#0000:}" &&
		[ "$(ls "$CFS/$A/lends")" = "$NIC" ]
}
ktap_test_result "add_of_a_bridge_or_an_ntb_adapter_is_not_permitted" add_not_permitted

add_lent_elsewhere_busy() {
	refused 4 "cannot add $NIC: it has a lend entry on another adapter; remove it there first (File exists)" \
		--adapter "$B" add "$SHORT" &&
		[ -z "$(ls "$CFS/$B/lends")" ]
}
ktap_test_result "add_of_a_device_lent_through_the_other_adapter_is_busy" add_lent_elsewhere_busy

bad_available_refused() {
	refused 2 "'00:02' is not a PCI address: *" --adapter "$A" available 00:02 &&
		refused 2 "'nic' is not a PCI address: *" --adapter "$A" available nic &&
		refused 3 "0000:00:1d.7 has no lend entry on $A: smartio_tool add 0000:00:1d.7 first" \
			--adapter "$A" available 00:1d.7 &&
		[ "$(cat "$CFS/$A/lends/$NIC/state")" = local ]
}
ktap_test_result "available_with_a_bad_or_unlent_bdf_is_refused" bad_available_refused

available_offers() {
	succeeds --adapter "$A" available "$SHORT" && [ -z "$out" ] &&
		[ "$(cat "$CFS/$A/lends/$NIC/state")" = available ] &&
		! nic_driver_is_e1000e &&
		await borrower_lists_the_offer &&
		succeeds --adapter "$A" list &&
		[ "$(row 2)" = "00000 0 $NIC available|$NAME" ]
}
ktap_test_result "available_shows_the_device_to_the_borrower_with_its_pci_ids_name" available_offers

list_json_fields() {
	succeeds list --json && json=$out &&
		[ "$(printf '%s\n' "$json" | head -n 1)" = "[" ] &&
		[ "$(printf '%s\n' "$json" | tail -n 1)" = "]" ] &&
		[ "$(printf '%s\n' "$json" | grep -c '"id": ')" -eq 1 ] &&
		for field in '"id": "00000"' '"lender": 0,' "\"bdf\": \"$NIC\"" \
			'"vendor": "0x8086"' "\"device\": \"$(cat "/sys/bus/pci/devices/$NIC/device")\"" \
			'"class": "0x020000"' "\"description\": \"$NAME\"" \
			'"state": "available"' '"borrower": null' '"local_bdf": null'; do
			printf '%s\n' "$json" | grep -qF "$field" || return 1
		done
}
ktap_test_result "list_json_has_every_field_of_the_offer" list_json_fields

show_fields() {
	succeeds show 0x0 &&
		[ "$out" = "$(printf '%-12s %s\n' id: 00000 lender: 0 bdf: "$NIC" \
			vendor: 0x8086 device: "$(cat "/sys/bus/pci/devices/$NIC/device")" \
			class: 0x020000 description: "$NAME" state: available)" ] &&
		refused 3 "no device 00001 on $B: smartio_tool list shows the Ids" show 1
}
ktap_test_result "show_prints_every_field_and_an_unknown_id_is_not_found" show_fields

unavailable_gives_back() {
	succeeds --adapter "$A" unavailable "$SHORT" && [ -z "$out" ] &&
		[ "$(cat "$CFS/$A/lends/$NIC/state")" = local ] &&
		await nic_driver_is_e1000e &&
		await borrower_lists_nothing &&
		succeeds --adapter "$A" unavailable "$SHORT" && [ -z "$out" ]
}
ktap_test_result "unavailable_gives_the_device_back_and_the_borrower_lists_nothing" \
	unavailable_gives_back

remove_and_disconnect() {
	succeeds --adapter "$A" remove "$SHORT" && [ -z "$out" ] &&
		succeeds --adapter "$A" disconnect 1 && [ -z "$out" ] &&
		refused 3 "node 1 is not connected on $A" --adapter "$A" disconnect 1 &&
		refused 3 "0000:00:1d.7 has no lend entry on $A: smartio_tool add 0000:00:1d.7 first" \
			--adapter "$A" remove 00:1d.7 &&
		nic_driver_is_e1000e &&
		ip link set "$(ls "/sys/bus/pci/devices/$NIC/net")" up
}
ktap_test_result "remove_and_disconnect_leave_the_nic_working" remove_and_disconnect

ktap_test_result "module_unloads_when_the_tool_has_undone_everything" rmmod ntb_lending

ktap_finished
