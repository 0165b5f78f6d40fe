#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A host's devices are a pool. On an Intel-like pair (two windows: one to
# the borrower's memory, one to a device) a second device lent to the
# same borrower is refused with ENOSPC and a line naming the window and
# the device that holds it, and the refusal changes nothing: the first
# borrow goes on. On a Switchtec-like pair (a direct window and 64 KiB LUT
# windows for devices) one lender lends four devices, three nvme drives
# and an e1000e NIC, to one borrower at once: each through a window of its
# own, each with doorbell bits of its own; fio verifies the three drives
# while the NIC pings the VM's other e1000e, and they are returned one by
# one in an order that is neither the borrow's nor its reverse, the others
# running on meanwhile. Then doorbell bits run out: with twelve bits a
# borrow, the fourth device is refused with ENOSPC and a line naming the
# borrows that hold them, and nothing changes.
# vm-devices: nvme nvme nvme e1000e e1000e edu edu edu edu
# vm-timeout: 900
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending

ktap_print_header
ktap_set_plan 9

NVME0=$(pci_find_all 0x010802 | sed -n 1p)
NVME1=$(pci_find_all 0x010802 | sed -n 2p)
NVME2=$(pci_find_all 0x010802 | sed -n 3p)
NIC=$(pci_find_all 0x020000 | sed -n 1p)
PEER_NIC=$(pci_find_all 0x020000 | sed -n 2p)
PARAM=/sys/module/ntb_lending/parameters/vectors_per_borrow

local_bdf() {
	cat "$CFS/$1/borrows/$2/local_bdf"
}

# Fabric 0, intel-32g: C lends both drives to D, which borrows the first.
intel_pair_lends_two() {
	modprobe nvme && modprobe e1000e && wait_for 40 has_disk "$NVME0" &&
		wait_for 40 has_disk "$NVME1" && wait_for 40 has_disk "$NVME2" &&
		sim_two_hosts intel-32g &&
		C=$A D=$B && modprobe ntb_lending || return 1
	wait_for 20 file_is "$CFS/$D/peers" "0 up $PROTO" &&
		lend_to "$C" 1 "$NVME0" "$NVME1" &&
		wait_for 20 offered "$D" 00000 && wait_for 20 offered "$D" 00001 &&
		mkdir "$CFS/$D/borrows/00000" &&
		wait_for 60 has_disk "$(local_bdf "$D" 00000)"
}
ktap_test_result "intel_pair_lends_two_drives_and_one_is_borrowed" intel_pair_lends_two

# The second drive needs a second device window, which the pair lacks.
windows_run_out() {
	before_c=$(cat "$CFS/$C/windows") before_d=$(cat "$CFS/$D/doorbells")
	log_mark
	err=$(mkdir_err "$CFS/$D/borrows/00001")
	echo "# mkdir borrows/00001: $err"
	lines_since_mark "cannot be lent" | sed 's/^/# C: /'
	lines_since_mark "borrows/00001" | sed 's/^/# D: /'
	[ "$err" = "No space left on device" ] &&
		[ "$(lines_since_mark "$NVME1: cannot be lent to node 1: all 1 windows of $C that would hold its BARs are in use (window 0: $NVME0)" | wc -l)" -eq 1 ] &&
		[ "$(lines_since_mark "borrows/00001: node 0 has no room left for the device" | wc -l)" -eq 1 ] &&
		[ ! -e "$CFS/$D/borrows/00001" ] &&
		[ "$(cat "$CFS/$C/lends/$NVME1/state")" = available ] &&
		[ "$(cat "$CFS/$C/lends/$NVME0/state")" = borrowed ] &&
		[ "$(cat "$CFS/$C/windows")" = "$before_c" ] &&
		[ "$(cat "$CFS/$D/doorbells")" = "$before_d" ] && offered "$D" 00001 &&
		fio_verified "$(disk_of "$(local_bdf "$D" 00000)")" first randwrite 4k
}
ktap_test_result "a_second_device_window_is_refused_with_enospc_and_nothing_changes" windows_run_out

intel_pair_undone() {
	rmdir "$CFS/$D/borrows/00000" "$CFS/$C/lends/$NVME0" "$CFS/$C/lends/$NVME1" \
		"$CFS/$C/connections/1" && wait_for 60 has_disk "$NVME0" &&
		wait_for 60 has_disk "$NVME1" && rmmod ntb_lending &&
		echo 0 >"$SIM_SYSFS/del_fabric"
}
ktap_test_result "the_intel_pair_is_undone" intel_pair_undone

# Fabric 1, switchtec: A lends three drives and a NIC to B, which
# borrows them all.
four_lent_four_borrowed() {
	sim_fabric 1 switchtec 2 && A=$(sim_host_dev 1 0) && B=$(sim_host_dev 1 1) &&
		modprobe ntb_lending || return 1
	wait_for 20 file_is "$CFS/$B/peers" "0 up $PROTO" &&
		lend_to "$A" 1 "$NVME0" "$NVME1" "$NVME2" "$NIC" || return 1
	for id in 00000 00001 00002 00003; do
		wait_for 20 offered "$B" "$id" && mkdir "$CFS/$B/borrows/$id" || return 1
	done
	D0=$(local_bdf "$B" 00000) D1=$(local_bdf "$B" 00001)
	D2=$(local_bdf "$B" 00002) VNIC=$(local_bdf "$B" 00003)
	echo "# B borrows the drives as $D0, $D1 and $D2, the NIC as $VNIC"
	sed 's/^/# A windows: /' "$CFS/$A/windows"
	sed 's/^/# B windows: /' "$CFS/$B/windows"
	sed 's/^/# B doorbells: /' "$CFS/$B/doorbells"
	wait_for 60 has_disk "$D0" && wait_for 60 has_disk "$D1" &&
		wait_for 60 has_disk "$D2" && wait_for 40 has_netdev "$VNIC" &&
		[ "$(driver_of "$D0")" = nvme ] && [ "$(driver_of "$D1")" = nvme ] &&
		[ "$(driver_of "$D2")" = nvme ] && [ "$(driver_of "$VNIC")" = e1000e ]
}
ktap_test_result "four_devices_lent_to_one_borrower_run_under_stock_drivers" four_lent_four_borrowed

# Four device windows on A, each its own; one memory window on B; four
# runs of doorbell bits on B, none shared.
own_windows_and_bits() {
	[ "$(grep -c ' 1 device ' "$CFS/$A/windows")" -eq 4 ] &&
		[ "$(cut -d' ' -f1 "$CFS/$A/windows" | sort -u | wc -l)" -eq 4 ] &&
		[ "$(grep -c ' 0 memory ' "$CFS/$B/windows")" -eq 1 ] &&
		[ "$(grep -c ' device ' "$CFS/$B/windows")" -eq 0 ] || return 1
	all=0 n=0
	masks=$(awk '$2 == "vectors" { print $1 }' "$CFS/$B/doorbells")
	for m in $masks; do
		[ $((all & m)) -eq 0 ] || return 1
		all=$((all | m)) n=$((n + 1))
	done
	[ "$n" -eq 4 ]
}
ktap_test_result "each_device_has_its_own_window_and_doorbell_bits" own_windows_and_bits

# fio verifies the three drives while the borrowed NIC pings the other.
io_on_all_four() {
	vdev=$(netdev_of "$VNIC") pdev=$(netdev_of "$PEER_NIC")
	into_netns a "$VNIC" 1 && into_netns peer "$PEER_NIC" 2 &&
		wait_for 40 carrier a "$vdev" && wait_for 40 carrier peer "$pdev" || return 1
	ip netns exec a ping -6 -c 20 -i 0.2 -W 5 "fe80::2%$vdev" >/tmp/ping 2>&1 &
	ping_pid=$!
	fio_verified "$(disk_of "$D0")" d0 randwrite 4k >/tmp/fio0 2>&1 &
	fio0=$!
	fio_verified "$(disk_of "$D1")" d1 randwrite 4k >/tmp/fio1 2>&1 &
	fio1=$!
	fio_verified "$(disk_of "$D2")" d2 randwrite 4k || return 1
	if ! wait "$fio0" || ! wait "$fio1"; then
		cat /tmp/fio0 /tmp/fio1
		return 1
	fi
	cat /tmp/fio0 /tmp/fio1
	wait "$ping_pid"
	tail -n 2 /tmp/ping | sed 's/^/# /'
	grep -q ' 0% packet loss' /tmp/ping
}
ktap_test_result "fio_on_three_drives_and_ping_on_the_nic_at_once" io_on_all_four

# Returned in the order NIC, drive 0, drive 2, drive 1; after each return
# the drives still borrowed do I/O and A's windows shrink by one.
returned_one_by_one() {
	ip netns del a && ip netns del peer || return 1
	left=4
	for id in 00003 00000 00002 00001; do
		rmdir "$CFS/$B/borrows/$id" || return 1
		left=$((left - 1))
		[ "$(grep -c ' device ' "$CFS/$A/windows")" -eq "$left" ] || return 1
		for still in 00000 00001 00002; do
			[ -e "$CFS/$B/borrows/$still" ] || continue
			dd if="$(disk_of "$(local_bdf "$B" "$still")")" of=/dev/null bs=1M count=8 \
				iflag=direct 2>/dev/null || return 1
		done
	done
	[ -z "$(cat "$CFS/$B/windows")" ] && [ -z "$(cat "$CFS/$A/windows")" ] &&
		[ -z "$(awk '$2 == "vectors"' "$CFS/$B/doorbells")" ]
}
ktap_test_result "returned_one_by_one_the_others_running_on" returned_one_by_one

# With twelve bits a borrow, the drives take 12, 12 and the last one, and
# the NIC finds none; bad values of the parameter are refused.
doorbells_run_out() {
	! echo 0 2>/dev/null >"$PARAM" && ! echo 16 2>/dev/null >"$PARAM" &&
		[ "$(cat "$PARAM")" = 4 ] && echo 12 >"$PARAM" || return 1
	for id in 00000 00001 00002; do
		mkdir "$CFS/$B/borrows/$id" || return 1
	done
	sed 's/^/# B doorbells: /' "$CFS/$B/doorbells"
	before=$(cat "$CFS/$B/doorbells") before_a=$(cat "$CFS/$A/windows")
	log_mark
	err=$(mkdir_err "$CFS/$B/borrows/00003")
	echo "# mkdir borrows/00003: $err"
	lines_since_mark "borrows/00003" | sed 's/^/# B: /'
	[ "$err" = "No space left on device" ] &&
		[ "$(lines_since_mark "borrows/00003: no doorbell bits left for its interrupts: all 25 that devices may ring are held (by 00000, 00001, 00002)" | wc -l)" -eq 1 ] &&
		[ ! -e "$CFS/$B/borrows/00003" ] && offered "$B" 00003 &&
		[ "$(cat "$CFS/$A/lends/$NIC/state")" = available ] &&
		[ "$(cat "$CFS/$B/doorbells")" = "$before" ] &&
		[ "$(cat "$CFS/$A/windows")" = "$before_a" ] &&
		wait_for 60 has_disk "$(local_bdf "$B" 00002)" &&
		fio_verified "$(disk_of "$(local_bdf "$B" 00002)")" last randwrite 4k &&
		rmdir "$CFS/$B/borrows/00000" "$CFS/$B/borrows/00001" "$CFS/$B/borrows/00002" &&
		echo 4 >"$PARAM"
}
ktap_test_result "doorbell_bits_run_out_with_enospc_and_nothing_changes" doorbells_run_out

all_undone() {
	for d in "$CFS/$A"/lends/* "$CFS/$A"/connections/*; do
		rmdir "$d" || return 1
	done
	wait_for 60 has_disk "$NVME0" && wait_for 60 has_disk "$NVME1" &&
		wait_for 60 has_disk "$NVME2" && wait_for 40 has_netdev "$NIC" &&
		rmmod ntb_lending && rmmod ntb_sim
}
ktap_test_result "everything_undone_and_module_unloads" all_undone

ktap_finished
