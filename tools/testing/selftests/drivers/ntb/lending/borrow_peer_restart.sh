#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A peer's ntb_lending goes away in the middle of borrowed I/O, as when its
# module is reloaded or its adapter unbound: first the borrower's, then the
# lender's. Each time the unbind returns, the borrowed drive leaves the
# borrower's tree without a hung task, fio ends with errors, the lender
# takes its device back, and once the adapter is bound again the drive is
# offered and borrowed again with the data written before still on it.
# On a two-port profile (scratchpads) and on a switch (message registers).
# Then the link is cut while the borrower's nvme driver probes the drive,
# and while it removes it on a return and on a revocation.
# Last, the borrower's adapter is hot-removed from the PCI tree mid-I/O (the
# PCI core then holds its rescan lock, which the borrow's own removal also
# needs): the removal completes, and the lender takes its device back.
# vm-devices: nvme edu edu
# vm-timeout: 900
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
DRV=/sys/bus/ntb/drivers/ntb_lending

ktap_print_header
ktap_set_plan 20

NVME=$(pci_find 0x010802)
head -c 1048576 /dev/urandom >/tmp/pattern

lent_and_borrowed() {
	modprobe nvme && wait_for 40 has_disk "$NVME" &&
		sim_two_hosts "$PROFILE" && modprobe ntb_lending &&
		wait_for 20 file_set "$CFS/$B/node_id" || return 1
	L=$CFS/$A/lends/$NVME
	mkdir "$CFS/$A/connections/1" "$L" && echo 1 >"$L/available" && borrow_nvme_offer &&
		dd if=/tmp/pattern of="$DISK" bs=1M seek=100 oflag=direct 2>/dev/null
}

unbind_adapter() {
	echo "$1" >"$DRV/unbind"
}

# Unbind ntb_lending from adapter $1 while fio reads the borrowed drive;
# true if the unbind returns, the drive leaves B and fio ends.
unbind_mid_io() {
	struck_mid_io unbind_adapter "$1"
}

# The lender has its device back, ready to lend again.
lender_has_it_back() {
	wait_for 60 file_is "$L/state" available && [ "$(driver_of "$NVME")" = ntb_lending ]
}

# The borrow of the drive B lost stays, says so, until it is removed.
borrow_lost() {
	[ "$(cat "$CFS/$B/borrows/00000/state")" = lost ] &&
		[ -z "$(cat "$CFS/$B/borrows/00000/local_bdf")" ]
}

# Adapter $1 bound again: the drive is borrowed again and holds the pattern.
rebound_and_borrowed_again() {
	echo "$1" >"$DRV/bind" && wait_for 20 file_set "$CFS/$B/node_id" &&
		rmdir "$CFS/$B/borrows/00000" && borrow_nvme_offer &&
		dd if="$DISK" of=/tmp/got bs=1M skip=100 count=1 iflag=direct 2>/dev/null &&
		cmp /tmp/pattern /tmp/got
}

borrower_restarts() {
	unbind_mid_io "$B" && [ -z "$(cat "$CFS/$B/node_id")" ] && borrow_lost &&
		lender_has_it_back
}

lender_restarts() {
	unbind_mid_io "$A" && [ -z "$(cat "$CFS/$A/node_id")" ] && borrow_lost &&
		lender_has_it_back
}

no_hung_task() {
	[ "$(kernel_log_count 'blocked for more than')" -eq 0 ]
}

all_undone() {
	rmdir "$CFS/$B/borrows/00000" "$L" "$CFS/$A/connections/1" &&
		wait_for 60 has_disk "$NVME" && [ "$(driver_of "$NVME")" = nvme ] &&
		rmmod ntb_lending
}

for PROFILE in intel-32g idt-32g; do
	ktap_test_result "nvme_lent_borrowed_and_written_on_$PROFILE" lent_and_borrowed
	ktap_test_result "borrower_unbound_mid_io_drops_the_drive_and_the_lender_takes_it_back_on_$PROFILE" borrower_restarts
	ktap_test_result "borrower_bound_again_borrows_the_drive_again_on_$PROFILE" rebound_and_borrowed_again "$B"
	ktap_test_result "lender_unbound_mid_io_drops_the_drive_and_takes_it_back_on_$PROFILE" lender_restarts
	ktap_test_result "lender_bound_again_lends_the_drive_again_on_$PROFILE" rebound_and_borrowed_again "$A"
	ktap_test_result "no_task_hung_on_$PROFILE" no_hung_task
	ktap_test_result "everything_undone_and_module_unloads_on_$PROFILE" all_undone
	echo 0 >"$SIM_SYSFS/del_fabric"
done

PROFILE=intel-32g
FAB=/sys/kernel/debug/ntb_sim/fabric0
ADMIN_TIMEOUT=/sys/module/nvme_core/parameters/admin_timeout

# B's nvme driver has begun to probe a borrowed drive.
probing() {
	[ "$(logged_since_mark "nvme nvme[0-9]+: pci function [0-9a-f]{5}:")" -ge 1 ]
}

background_done() {
	! running "$BG_PID"
}

# After a link cut: the borrow is gone from B, A has its drive back, and
# with the link back B borrows it again and reads what was written
# before; then everything is undone.
back_after_the_cut() {
	gone "$CFS/$B/borrows/00000" && lender_has_it_back &&
		echo "0 1 0" >"$FAB/link_down" && borrow_nvme_offer &&
		dd if="$DISK" of=/tmp/got bs=1M skip=100 count=1 iflag=direct 2>/dev/null &&
		cmp /tmp/pattern /tmp/got && no_hung_task && all_undone &&
		echo 0 >"$SIM_SYSFS/del_fabric"
}

# The link is cut while the borrower's nvme driver probes the drive, on
# idt-32g, where the lender's adapter forwards the doorbells the drive
# rings: ntb_sim drops them all (drop_db), so each admin command of the
# probe waits for nvme's admin timeout (4 s here) before the driver polls
# its completion, and the cut comes as soon as the driver's "pci function"
# line does. B marks node 0 down at once, not once the probe ends: the
# driver probes without the adapter's lock, and config requests to a link
# that went fail at once. The driver gives up at its timeout (as for a
# local drive surprise-removed mid-probe), the mkdir fails with ENOLINK
# and a line that says why, A has its drive back, and once the link is
# back the drive is borrowed again with the data written before.
link_lost_while_the_driver_probes() {
	PROFILE=idt-32g
	lent_and_borrowed && rmdir "$CFS/$B/borrows/00000" &&
		wait_for 40 offered "$B" 00000 || return 1
	timeout=$(cat "$ADMIN_TIMEOUT")
	echo 4 >"$ADMIN_TIMEOUT" && echo 1000000 >"$FAB/drop_db" && log_mark ||
		return 1
	t0=$(uptime_ms)
	mkdir "$CFS/$B/borrows/00000" 2>/tmp/mkdir-err &
	BG_PID=$!
	while ! probing && ! background_done; do
		sleep 0.05
	done
	t1=$(uptime_ms)
	echo "0 1 1" >"$FAB/link_down"
	wait_for 10 file_is "$CFS/$B/peers" "0 down -"
	t2=$(uptime_ms)
	echo 0 >"$FAB/drop_db"
	wait_for 240 background_done
	wait "$BG_PID"
	rc=$?
	t3=$(uptime_ms)
	echo "$timeout" >"$ADMIN_TIMEOUT"
	PROFILE=intel-32g
	echo "# link cut $((t1 - t0)) ms after the mkdir, the driver probing: node 0 down on B $((t2 - t1)) ms later, the mkdir exited $rc $((t3 - t1)) ms later: $(cat /tmp/mkdir-err)"
	[ $((t2 - t1)) -lt 5000 ] && [ "$rc" -ne 0 ] && grep -q severed /tmp/mkdir-err &&
		[ "$(logged_since_mark "borrows/00000: node 0 went away, or took the device back, while its driver probed")" -eq 1 ] &&
		back_after_the_cut
}

node_down_logged() {
	[ "$(logged_since_mark "node 0 is down")" -ge 1 ]
}

# The drive borrowed on idt-32g with nvme's admin timeout at 2 s and its
# I/O timeout at 4 s, fio $1 reading it, and then its doorbells dropped,
# so that a removal of the drive waits for the driver's timeouts (the
# cut comes 1 s after the drop, while the read then in flight waits);
# slow_removal_done undoes it, on a failure here too. The I/O timeout is
# the disk queue's own: nvme's io_timeout parameter reaches only queues
# made after it is set, and this one was made by the borrow (admin
# commands read admin_timeout each time).
slow_removal_under_fio() {
	PROFILE=idt-32g
	FIO_PID=
	lent_and_borrowed || return 1
	admin_timeout=$(cat "$ADMIN_TIMEOUT")
	if echo 2 >"$ADMIN_TIMEOUT" && echo 4000 >"/sys/block/${DISK#/dev/}/queue/io_timeout"; then
		fio --name="$1" --filename="$DISK" --rw=randread --bs=4k --direct=1 \
			--ioengine=psync --time_based --runtime=120 >"/tmp/fio-$1" 2>&1 &
		FIO_PID=$!
		sleep 2
		echo 1000000 >"$FAB/drop_db" && log_mark && return 0
	fi
	slow_removal_done
	return 1
}

# How long such a removal may take after the cut: what is left of the
# read's 4 s I/O timeout (the block layer rounds it up to a second), a
# 2 s admin one for the driver's shutdown, and slack for a slow machine;
# a 10 s wait for a lost lender on top of it would show.
REMOVAL_MS=10000

slow_removal_done() {
	echo 0 >"$FAB/drop_db"
	echo "$admin_timeout" >"$ADMIN_TIMEOUT"
	[ -z "$FIO_PID" ] || wait_for 240 fio_done "$FIO_PID"
	PROFILE=intel-32g
}

# The link is cut while B's nvme driver removes the borrowed drive on its
# return (rmdir), fio reading it, on idt-32g with the drive's doorbells
# dropped as above, so that the driver's removal waits for its timeouts
# (2 and 4 s here: the rmdir holds configfs' mutex throughout, which the
# offers work waits for, and the guest reports a task blocked 30 s). The
# cut comes while the return is under way. B logs node 0 down at once,
# not once the removal ends: the driver's removal runs without the
# adapter's lock. The rmdir completes within REMOVAL_MS of the cut, A has
# its drive back, and with the link back it is borrowed again.
link_lost_while_the_borrowed_drive_is_returned() {
	slow_removal_under_fio returned || return 1
	rmdir "$CFS/$B/borrows/00000" &
	BG_PID=$!
	sleep 1
	t1=$(uptime_ms)
	echo "0 1 1" >"$FAB/link_down"
	wait_for 240 node_down_logged
	t2=$(uptime_ms)
	returning=no
	running "$BG_PID" && returning=yes
	wait_for 240 background_done
	wait "$BG_PID"
	rc=$?
	t3=$(uptime_ms)
	slow_removal_done
	echo "# link cut 1 s into the return: node 0 down on B $((t2 - t1)) ms later (the return still under way: $returning), the rmdir exited $rc $((t3 - t1)) ms after the cut"
	[ "$returning" = yes ] && [ $((t2 - t1)) -lt 5000 ] && [ "$rc" -eq 0 ] &&
		[ $((t3 - t1)) -lt "$REMOVAL_MS" ] && back_after_the_cut
}

# B has begun to remove the drive A revokes.
revoking() {
	[ "$(logged_since_mark "node 0 takes back $VBDF, borrowed from it: removing it")" -eq 1 ]
}

# The link is cut while B's nvme driver removes the borrowed drive A
# revokes (rmdir of A's connections/1), fio reading it, the doorbells
# dropped and the timeouts as above; the cut comes while the drive is
# still being removed. B logs node 0 down at once, not once the removal
# ends: the removal runs on a work queue of its own, without the
# adapter's lock, and B's adapter work goes on. The drive is gone within
# REMOVAL_MS of the cut, the borrow is lost, A has its drive back, and
# with the link back it is borrowed again.
link_lost_while_the_borrowed_drive_is_revoked() {
	slow_removal_under_fio revoked || return 1
	rmdir "$CFS/$A/connections/1" &
	BG_PID=$!
	wait_for 20 revoking
	sleep 1
	t1=$(uptime_ms)
	echo "0 1 1" >"$FAB/link_down"
	wait_for 240 node_down_logged
	t2=$(uptime_ms)
	removing=no
	[ -e "/sys/bus/pci/devices/$VBDF" ] && removing=yes
	wait_for 240 gone "/sys/bus/pci/devices/$VBDF"
	t3=$(uptime_ms)
	wait_for 240 background_done
	wait "$BG_PID"
	rc=$?
	slow_removal_done
	echo "# link cut 1 s into the revocation: node 0 down on B $((t2 - t1)) ms later (the drive still being removed: $removing), the drive gone $((t3 - t1)) ms after the cut; A's rmdir exited $rc"
	[ "$removing" = yes ] && [ $((t2 - t1)) -lt 5000 ] && [ "$rc" -eq 0 ] &&
		[ $((t3 - t1)) -lt "$REMOVAL_MS" ] && borrow_lost &&
		rmdir "$CFS/$B/borrows/00000" && mkdir "$CFS/$A/connections/1" &&
		back_after_the_cut
}

# The adapter's PCI function removed as a hot-unplug would: from sysfs.
borrower_adapter_hot_removed() {
	fio --name=hotremove --filename="$DISK" --rw=randread --bs=4k --direct=1 \
		--ioengine=psync --time_based --runtime=60 >/tmp/fio-remove 2>&1 &
	pid=$!
	sleep 2
	echo 1 >"/sys/bus/pci/devices/$B/remove" &
	remover=$!
	wait_for 60 gone "/sys/bus/pci/devices/$B" && wait_for 60 fio_done "$remover" &&
		wait_for 60 gone "/sys/bus/pci/devices/$VBDF" && wait_for 60 fio_done "$pid" || return 1
	wait "$pid"
	echo "# fio after the hot-removal exited $?"
	borrow_lost && lender_has_it_back && no_hung_task
}

adapter_back_after_rescan() {
	echo 1 >/sys/bus/pci/rescan && wait_for 20 [ -e "/sys/bus/pci/devices/$B" ] &&
		rmdir "$CFS/$B/borrows/00000" "$L" "$CFS/$A/connections/1" &&
		wait_for 60 has_disk "$NVME" && rmmod ntb_lending
}

ktap_test_result "link_lost_while_the_borrowed_drive_probes" link_lost_while_the_driver_probes
ktap_test_result "link_lost_while_the_borrowed_drive_is_returned" link_lost_while_the_borrowed_drive_is_returned
ktap_test_result "link_lost_while_the_borrowed_drive_is_revoked" link_lost_while_the_borrowed_drive_is_revoked
ktap_test_result "nvme_lent_borrowed_and_written_again" lent_and_borrowed
ktap_test_result "borrower_adapter_hot_removed_mid_io" borrower_adapter_hot_removed
ktap_test_result "adapter_back_after_a_rescan_and_module_unloads" adapter_back_after_rescan

ktap_finished
