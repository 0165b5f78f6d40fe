#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Each host lends and borrows at once: host A lends its nvme to B while B
# lends an e1000e to A. Both devices run under their stock drivers on the
# borrowing side at the same time: fio verifies data on B's borrowed
# drive while A's borrowed NIC pings the VM's other e1000e; both are
# returned and go back to their own drivers. A borrow made while the lender
# takes in the borrower's new offer does not wait for it.
# vm-devices: nvme e1000e e1000e edu edu
# vm-timeout: 900
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
FAB=/sys/kernel/debug/ntb_sim/fabric0

ktap_print_header
ktap_set_plan 7

NVME=$(pci_find 0x010802)
NIC=$(pci_find_all 0x020000 | sed -n 1p)
PEER_NIC=$(pci_find_all 0x020000 | sed -n 2p)

lent_both_ways() {
	modprobe nvme && modprobe e1000e && wait_for 40 has_disk "$NVME" &&
		sim_two_hosts intel-32g &&
		modprobe ntb_lending || return 1
	wait_for 20 file_set "$CFS/$B/node_id" &&
		mkdir "$CFS/$A/connections/1" "$CFS/$A/lends/$NVME" &&
		echo 1 >"$CFS/$A/lends/$NVME/available" &&
		mkdir "$CFS/$B/connections/0" "$CFS/$B/lends/$NIC" &&
		wait_for 20 offered "$B" 00000
}
ktap_test_result "a_lends_nvme_to_b_and_b_adds_its_nic" lent_both_ways

# B offers its NIC and borrows A's nvme at once, the offer first (a 20 ms
# delay on every fabric write keeps that order): A shows the new offer in
# configfs while B's mkdir holds configfs' mutex waiting for A's answer,
# which must not wait for that (it did: the mkdir failed, timed out, after
# 21 s).
borrow_while_offering() {
	echo 20 >"$FAB/delay_ms" && echo 1 >"$CFS/$B/lends/$NIC/available" || return 1
	(sleep 1 && echo 0 >"$FAB/delay_ms") &
	t0=$(cut -d' ' -f1 /proc/uptime)
	mkdir "$CFS/$B/borrows/00000" || return 1
	t1=$(cut -d' ' -f1 /proc/uptime)
	wait
	echo "# the borrow took $(echo "$t0 $t1" | awk '{ printf "%.1f", $2 - $1 }') s"
	wait_for 20 offered "$A" 10000
}
ktap_test_result "b_borrows_while_a_takes_in_its_offer" borrow_while_offering

borrowed_both_ways() {
	mkdir "$CFS/$A/borrows/10000" || return 1
	VDISK_BDF=$(cat "$CFS/$B/borrows/00000/local_bdf")
	VNIC_BDF=$(cat "$CFS/$A/borrows/10000/local_bdf")
	echo "# B borrows the nvme as $VDISK_BDF, A the NIC as $VNIC_BDF"
	wait_for 60 has_disk "$VDISK_BDF" && wait_for 40 has_netdev "$VNIC_BDF" &&
		[ "$(driver_of "$VDISK_BDF")" = nvme ] &&
		[ "$(driver_of "$VNIC_BDF")" = e1000e ]
}
ktap_test_result "both_borrowed_under_their_stock_drivers" borrowed_both_ways

# fio on B's borrowed drive and pings from A's borrowed NIC, side by side.
io_both_ways() {
	adev=$(netdev_of "$VNIC_BDF")
	pdev=$(netdev_of "$PEER_NIC")
	into_netns a "$VNIC_BDF" 1 && into_netns peer "$PEER_NIC" 2 &&
		wait_for 40 carrier a "$adev" && wait_for 40 carrier peer "$pdev" || return 1
	ip netns exec a ping -6 -c 20 -i 0.2 -W 5 "fe80::2%$adev" >/tmp/ping 2>&1 &
	ping_pid=$!
	fio_verified "$(disk_of "$VDISK_BDF")" both randwrite 4k || return 1
	wait "$ping_pid" || return 1
	tail -n 2 /tmp/ping | sed 's/^/# /'
	grep -q ' 0% packet loss' /tmp/ping
}
ktap_test_result "fio_on_borrowed_drive_and_ping_on_borrowed_nic_at_once" io_both_ways

# A returns the NIC first: its window to the drive it lends B stays open
# (each host translates one window as lender, the other as borrower).
returned_both_ways() {
	ip netns del a && rmdir "$CFS/$A/borrows/10000" &&
		grep -qx "0 1 device [1-9][0-9]*" "$CFS/$A/windows" &&
		! grep -q memory "$CFS/$A/windows" &&
		dd if="$(disk_of "$VDISK_BDF")" of=/dev/null bs=1M count=4 iflag=direct 2>/dev/null &&
		rmdir "$CFS/$B/borrows/00000" &&
		[ ! -e "/sys/bus/pci/devices/$VDISK_BDF" ] &&
		[ ! -e "/sys/bus/pci/devices/$VNIC_BDF" ] &&
		[ "$(cat "$CFS/$A/lends/$NVME/state")" = available ] &&
		[ "$(cat "$CFS/$B/lends/$NIC/state")" = available ]
}
ktap_test_result "both_returned" returned_both_ways

own_drivers_back() {
	rmdir "$CFS/$A/lends/$NVME" "$CFS/$B/lends/$NIC" &&
		wait_for 60 has_disk "$NVME" && wait_for 40 has_netdev "$NIC" &&
		[ "$(driver_of "$NVME")" = nvme ] && [ "$(driver_of "$NIC")" = e1000e ]
}
ktap_test_result "both_devices_back_with_their_own_drivers" own_drivers_back

unloads() {
	rmdir "$CFS/$A/connections/1" "$CFS/$B/connections/0" && rmmod ntb_lending
}
ktap_test_result "module_unloads" unloads

ktap_finished
