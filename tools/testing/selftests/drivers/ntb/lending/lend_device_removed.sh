#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A lent drive is removed from the lender's PCI tree while borrowed, as a
# surprise hot-unplug would (sysfs remove), idle and in the middle of the
# borrower's I/O. Each time, the lender does not oops: the borrower loses
# the drive, the lender closes the window onto its old BARs and withdraws
# the offer, its lend entry goes back to local and refuses to offer a
# device that is gone; after a rescan the drive binds its own driver with
# no window onto it, and a new lend entry lends it again with the data
# written before intact. $1 removals, alternating idle and mid-I/O, by
# default 10, or 4 on the debug kernel, where a cycle takes twice as long
# and its kmemleak scan 5 s more (make soak runs 100); the per-cycle
# time, the slab delta and, on the debug kernel, the kmemleak reports
# since the first are printed.
# vm-devices: nvme edu edu
# vm-timeout: 1500
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
if [ -e /proc/lockdep ]; then
	CYCLES=${1:-4}
else
	CYCLES=${1:-10}
fi

ktap_print_header
ktap_set_plan $((CYCLES + 3))

NVME=$(pci_find 0x010802)
head -c 1048576 /dev/urandom >/tmp/pattern

# A fresh lend entry for the drive, offered to B.
lend() {
	L=$CFS/$A/lends/$NVME
	mkdir "$L" && echo 1 >"$L/available"
}

lent_borrowed_and_written() {
	modprobe nvme && wait_for 40 has_disk "$NVME" &&
		sim_two_hosts intel-32g && modprobe ntb_lending &&
		wait_for 20 file_set "$CFS/$B/node_id" &&
		mkdir "$CFS/$A/connections/1" && lend && borrow_nvme_offer &&
		dd if=/tmp/pattern of="$DISK" bs=1M seek=100 oflag=direct 2>/dev/null
}

# The lender's window onto the device, as its windows attribute lists it.
device_window_open() {
	grep -q ' device ' "$CFS/$A/windows"
}

# Remove the borrowed drive on A, with fio running on B if $1 is "mid_io".
# Everything must end as the header says; the borrow is removed on B after.
removed() {
	if [ "$1" = mid_io ]; then
		fio --name=removed --filename="$DISK" --rw=randread --bs=4k \
			--direct=1 --ioengine=psync --numjobs=2 --time_based \
			--runtime=60 >/tmp/fio-removed 2>&1 &
		pid=$!
		sleep 1
	fi
	echo 1 >"/sys/bus/pci/devices/$NVME/remove" || return 1
	# Closed by the time the removal returns, before any rescan could
	# hand the old BARs to a driver of the lender's.
	! device_window_open || return 1
	wait_for 60 gone "/sys/bus/pci/devices/$VBDF" &&
		wait_for 20 file_is "$CFS/$B/borrows/00000/state" lost &&
		wait_for 20 file_is "$L/state" local || return 1
	if [ "$1" = mid_io ]; then
		wait_for 60 fio_done "$pid" || return 1
		wait "$pid"
		echo "# fio after the removal exited $?, reporting EIO $(grep -c 'Input/output error' /tmp/fio-removed) times"
	fi
	! device_window_open && file_is "$L/available" 0 &&
		[ -z "$(cat "$L/borrower")" ] &&
		wait_for 20 gone "$CFS/$B/offers/00000" &&
		rmdir "$CFS/$B/borrows/00000"
}

# A lend entry whose device is gone refuses to offer it, and says why.
gone_refused() {
	log_mark
	! echo 1 2>/tmp/err >"$L/available" &&
		grep -q 'No such device' /tmp/err && file_is "$L/state" local &&
		[ "$(logged_since_mark 'was removed from the PCI tree')" -eq 1 ] || return 1
	status=0
	smartio_tool --adapter "$A" available "$NVME" 2>/tmp/err || status=$?
	[ "$status" -eq 3 ] && [ "$(wc -l </tmp/err)" -eq 1 ] &&
		grep -q 'removed from the PCI tree' /tmp/err
}

# After a rescan the drive is A's again, with nothing of B's reaching it;
# a new entry lends it, and B reads back what it wrote before.
back_and_lent_again() {
	echo 1 >/sys/bus/pci/rescan && wait_for 60 has_disk "$NVME" &&
		[ "$(driver_of "$NVME")" = nvme ] && ! device_window_open &&
		rmdir "$L" && lend && borrow_nvme_offer &&
		dd if="$DISK" of=/tmp/got bs=1M skip=100 count=1 iflag=direct 2>/dev/null &&
		cmp /tmp/pattern /tmp/got
}

cycle() {
	t0=$(uptime_ms)
	for step in "removed $1" gone_refused back_and_lent_again; do
		# shellcheck disable=SC2086 # a function and its argument
		$step || { echo "# cycle $2: $step failed" && return 1; }
	done
	echo "# lent_device_removed cycle $2 ($1): $(cycle_figures "$t0")"
}

ktap_test_result "nvme_lent_borrowed_and_written" lent_borrowed_and_written
cycle_figures_start
i=1
failed=
while [ "$i" -le "$CYCLES" ]; do
	how=idle
	[ $((i % 2)) -eq 0 ] && how=mid_io
	name=lent_drive_removed_${how}_borrower_told_window_closed_lent_again_$i
	if [ -n "$failed" ]; then
		# Without its device back the next cycle cannot start.
		ktap_test_skip "$name (cycle $failed failed)"
	elif cycle "$how" "$i"; then
		ktap_test_pass "$name"
	else
		ktap_test_fail "$name"
		failed=$i
	fi
	i=$((i + 1))
done

# No task hung, and every borrower's region was where its driver freed it.
no_hung_task_no_region_lost() {
	[ "$(kernel_log_count 'blocked for more than')" -eq 0 ] &&
		[ "$(kernel_log_count 'Trying to free nonexistent resource')" -eq 0 ]
}
ktap_test_result "no_task_hung_no_region_lost" no_hung_task_no_region_lost

all_undone() {
	rmdir "$CFS/$B/borrows/00000" "$L" "$CFS/$A/connections/1" &&
		wait_for 60 has_disk "$NVME" && [ "$(driver_of "$NVME")" = nvme ] &&
		rmmod ntb_lending
}
ktap_test_result "everything_undone_and_module_unloads" all_undone

ktap_finished
