#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Lend and borrow a NIC end to end through configfs: host A lends one of
# the VM's two e1000e (both on one QEMU hub, nothing else on it), host B
# borrows it and the stock e1000e driver brings it up; the borrowed NIC and
# the local one, each in its own network namespace, ping each other over
# IPv6 link-local addresses, with the borrowed NIC's interrupts arriving
# as doorbells and none at the lender; the return gives the NIC back to
# A's e1000e driver.
# vm-devices: e1000e e1000e edu edu
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending

ktap_print_header
ktap_set_plan 7

LENT=$(pci_find_all 0x020000 | sed -n 1p)
LOCAL=$(pci_find_all 0x020000 | sed -n 2p)

fabric_up() {
	modprobe e1000e && wait_for 20 has_netdev "$LENT" &&
		sim_two_hosts intel-32g &&
		modprobe ntb_lending || return 1
	L=$CFS/$A/lends/$LENT
	wait_for 20 file_set "$CFS/$B/node_id" &&
		mkdir "$CFS/$A/connections/1" "$L" && echo 1 >"$L/available" &&
		wait_for 20 [ -d "$CFS/$B/offers/00000" ] &&
		[ "$(cat "$CFS/$B/offers/00000/class")" = 0x020000 ]
}
ktap_test_result "nic_lent_and_offered" fabric_up

borrowed_nic_up() {
	mkdir "$CFS/$B/borrows/00000" || return 1
	VBDF=$(cat "$CFS/$B/borrows/00000/local_bdf")
	wait_for 40 has_netdev "$VBDF" || return 1
	echo "# borrowed as $VBDF: $(netdev_of "$VBDF"), driver $(driver_of "$VBDF")"
	[ "$(driver_of "$VBDF")" = e1000e ]
}
ktap_test_result "stock_e1000e_driver_binds_the_borrowed_nic" borrowed_nic_up

links_up() {
	BDEV=$(netdev_of "$VBDF")
	ADEV=$(netdev_of "$LOCAL")
	into_netns b "$VBDF" 2 && into_netns a "$LOCAL" 1 &&
		wait_for 40 carrier a "$ADEV" && wait_for 40 carrier b "$BDEV"
}
ktap_test_result "borrowed_and_local_nics_up_in_their_namespaces" links_up

A_IRQS0=$(named_irqs "$A")

pings() {
	ip netns exec a ping -6 -c 5 -W 5 "fe80::2%$ADEV" >/tmp/ping_a &&
		ip netns exec b ping -6 -c 5 -W 5 "fe80::1%$BDEV" >/tmp/ping_b || return 1
	tail -n 2 /tmp/ping_a /tmp/ping_b | sed 's/^/# /'
}
ktap_test_result "borrowed_and_local_nics_ping_both_ways" pings

interrupts_as_doorbells() {
	a=$(($(named_irqs "$A") - A_IRQS0))
	echo "# lender's adapter $a, lender's NIC $(named_irqs "$LENT"), borrower's adapter $(named_irqs "$B")"
	[ "$a" -eq 0 ] && [ "$(named_irqs "$LENT")" -eq 0 ] &&
		[ "$(named_irqs "$B")" -gt 0 ]
}
ktap_test_result "nic_interrupts_are_doorbells_lender_takes_none" interrupts_as_doorbells

returned() {
	ip netns del b && rmdir "$CFS/$B/borrows/00000" &&
		[ ! -e "/sys/bus/pci/devices/$VBDF" ] &&
		[ "$(cat "$L/state")" = available ]
}
ktap_test_result "return_removes_the_nic" returned

lender_nic_back() {
	rmdir "$L" "$CFS/$A/connections/1" && wait_for 20 has_netdev "$LENT" &&
		[ "$(driver_of "$LENT")" = e1000e ] && rmmod ntb_lending
}
ktap_test_result "lender_e1000e_driver_takes_the_nic_back" lender_nic_back

ktap_finished
