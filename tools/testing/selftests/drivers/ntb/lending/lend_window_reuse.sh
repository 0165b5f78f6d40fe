#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A lender gives the window of a device that left its PCI tree to another
# device only once the borrower let go of the first: until then the
# borrower's driver of the first still reaches through it. Host B borrows
# drive 0 of A through A's one window for devices (intel-32g) and asks
# for drive 1 as drive 0 is removed on A: A lends drive 1 through that
# window only after B's drive 0 left B's tree (-ENOSPC before), and B
# reads it.
# vm-devices: nvme nvme edu edu
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
FAB=/sys/kernel/debug/ntb_sim/fabric0

ktap_print_header
ktap_set_plan 3

# shellcheck disable=SC2046 # two PCI names, split on purpose
set -- $(pci_find_all 0x010802)
N0=$1 N1=$2

lent_and_borrowed() {
	modprobe nvme && wait_for 40 has_disk "$N0" && wait_for 40 has_disk "$N1" &&
		sim_two_hosts intel-32g && modprobe ntb_lending &&
		wait_for 20 file_set "$CFS/$B/node_id" &&
		mkdir "$CFS/$A/connections/1" "$CFS/$A/lends/$N0" "$CFS/$A/lends/$N1" &&
		echo 1 >"$CFS/$A/lends/$N0/available" &&
		echo 1 >"$CFS/$A/lends/$N1/available" &&
		wait_for 40 file_is "$CFS/$B/offers/00001/state" available &&
		borrow_nvme_offer && grep -qx "0 1 device [0-9]*" "$CFS/$A/windows"
}
ktap_test_result "drive_0_lent_and_borrowed" lent_and_borrowed

# Line number of the first line matching $1 in the kernel log since the mark.
line_of() {
	dmesg | sed -n "/$LOG_MARK/,\$p" | grep -n -m1 -E "$1" | cut -d: -f1
}

# B asks for drive 1 while A has no window for it, with every ring of the
# fabric 0.8 s late: the request reaches A just after drive 0 left A's
# tree, A's revocation reaches B later. Asked again while refused.
window_passed_on_after_release() {
	log_mark
	echo 800 >"$FAB/delay_ms" || return 1
	mkdir "$CFS/$B/borrows/00001" 2>/dev/null &
	mk_pid=$!
	sleep 2
	echo 1 >"/sys/bus/pci/devices/$N0/remove" &
	rm_pid=$!
	sleep 0.7
	echo 0 >"$FAB/delay_ms"
	wait "$rm_pid" || return 1
	n=1
	if ! wait "$mk_pid"; then
		# Rings still late then would overtake the new ones.
		sleep 1
		until mkdir "$CFS/$B/borrows/00001" 2>/dev/null; do
			n=$((n + 1))
			[ $n -lt 100 ] || return 1
			sleep 0.1
		done
	fi
	released=$(line_of "pci_bus 10000:00: busn_res: \\[bus 00\\] is released")
	lent=$(line_of "$N1: lent to node 1")
	echo "# try $n borrowed drive 1; B let go of drive 0 at log line ${released:-none}, A lent drive 1 at ${lent:-none}"
	[ -n "$released" ] && [ -n "$lent" ] && [ "$released" -lt "$lent" ]
}
ktap_test_result "the_window_passes_on_once_the_borrower_let_go" window_passed_on_after_release

drive_1_works() {
	V1=$(cat "$CFS/$B/borrows/00001/local_bdf") && wait_for 60 has_disk "$V1" &&
		dd if="$(disk_of "$V1")" of=/dev/null bs=1M count=4 iflag=direct 2>/dev/null &&
		rmdir "$CFS/$B/borrows/00001" "$CFS/$B/borrows/00000" &&
		rmdir "$CFS/$A/lends/$N1" "$CFS/$A/lends/$N0" "$CFS/$A/connections/1" &&
		rmmod ntb_lending
}
ktap_test_result "drive_1_borrowed_and_read_then_all_undone" drive_1_works

ktap_finished
