#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A revocation whose borrower never answers: the lender waits up to ten
# seconds for it without the adapter's lock. Meanwhile configfs reads go
# on at once, and an operator who takes the device back (available = 0)
# waits for the revocation and then succeeds, instead of being refused as
# if the device were still borrowed. Once the revocation gave up, a link
# flap clears the borrower, and the lender's drive works again. With two
# drives borrowed (over switchtec, which has a window for each), the
# lender waits for the first revocation only: the rmdir that revokes both
# ends in ten seconds, not twenty.
# vm-devices: nvme nvme edu edu
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
FAB=/sys/kernel/debug/ntb_sim/fabric0

ktap_print_header
ktap_set_plan 4

NVME=$(pci_find 0x010802)
NVME2=$(pci_find_all 0x010802 | sed -n 2p)

# switchtec: a window for each drive (intel-32g has one for devices).
lent_and_borrowed() {
	modprobe nvme && wait_for 40 has_disk "$NVME" &&
		sim_two_hosts switchtec && modprobe ntb_lending &&
		wait_for 20 file_set "$CFS/$B/node_id" || return 1
	L=$CFS/$A/lends/$NVME
	L2=$CFS/$A/lends/$NVME2
	mkdir "$CFS/$A/connections/1" "$L" && echo 1 >"$L/available" &&
		borrow_nvme_offer && mkdir "$L2" && echo 1 >"$L2/available" &&
		wait_for 40 file_is "$CFS/$B/offers/00001/state" available &&
		mkdir "$CFS/$B/borrows/00001" &&
		wait_for 60 has_disk "$(cat "$CFS/$B/borrows/00001/local_bdf")"
}
ktap_test_result "two_nvmes_lent_and_borrowed" lent_and_borrowed

# No doorbell gets through: B never hears of the revocation nor answers.
unanswered_revocation() {
	log_mark
	echo 100000 >"$FAB/drop_db"
	rmdir "$CFS/$A/connections/1" &
	revoker=$!
	sleep 2
	t0=$(uptime_ms)
	cat "$CFS/$A/peers" "$CFS/$A/windows" "$CFS/$A/doorbells" \
	    "$L/state" >/dev/null
	t1=$(uptime_ms)
	ktap_print_msg "configfs reads during the revocation took $((t1 - t0)) ms"
	echo 0 >"$L/available" &
	taker=$!
	sleep 1
	kill -0 "$taker" 2>/dev/null && taking_waited=1
	wait "$revoker" || return 1
	wait "$taker" || return 1
	t2=$(uptime_ms)
	ktap_print_msg "the revocation of both ended $((t2 - t0 + 2000)) ms after it began"
	echo 0 >"$FAB/drop_db"
	[ $((t1 - t0)) -lt 1000 ] && [ "${taking_waited:-0}" = 1 ] &&
		[ $((t2 - t0 + 2000)) -lt 15000 ] &&
		file_is "$L/state" local && file_is "$L2/state" available &&
		[ "$(logged_since_mark "did not confirm the revocation")" -eq 1 ] &&
		[ "$(logged_since_mark "left a revocation unconfirmed: not waiting for this one")" -eq 1 ] &&
		[ "$(logged_since_mark "must return the device first")" -eq 0 ]
}
ktap_test_result "reads_go_on_and_taking_back_waits_while_a_revocation_waits" \
	unanswered_revocation

# B still holds a device it never heard was taken: a link flap ends that,
# and the lender's drive binds its driver again with its data.
lender_drive_back() {
	echo "0 1 1" >"$FAB/link_down"
	sleep 1
	echo "0 1 0" >"$FAB/link_down"
	wait_for 40 file_is "$CFS/$A/peers" "1 up $PROTO" &&
		wait_for 20 sh -c "[ ! -e $CFS/$B/borrows/00000 ] ||
			grep -qx lost $CFS/$B/borrows/00000/state" &&
		wait_for 20 sh -c "[ ! -e $CFS/$B/borrows/00001 ] ||
			grep -qx lost $CFS/$B/borrows/00001/state" || return 1
	[ "$(driver_of "$NVME")" = nvme ] ||
		echo "$NVME" >/sys/bus/pci/drivers/nvme/bind 2>/dev/null
	wait_for 60 has_disk "$NVME" &&
		dd if="$(disk_of "$NVME")" of=/dev/null bs=4096 count=16 2>/dev/null
}
ktap_test_result "lender_drive_works_after_the_borrower_is_cleared" \
	lender_drive_back

all_undone() {
	rmdir "$CFS/$B/borrows/00000" "$CFS/$B/borrows/00001" 2>/dev/null
	rmdir "$L" "$L2" && rmmod ntb_lending
}
ktap_test_result "everything_undone_and_module_unloads" all_undone

ktap_finished
