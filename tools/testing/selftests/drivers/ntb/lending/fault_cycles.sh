#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Faults over and over while host B borrows host A's nvme and reads it:
# the link to the lender lost, the lender's ntb_lending unbound (as a
# module reload does), the lender's and the borrower's adapter hot-removed
# from the PCI tree (sysfs remove: the PCI core holds its rescan lock), and
# the borrower's host taken away by ntb_sim without a word. Each cycle
# asserts recovery: B's drive is gone and its borrow lost, fio ended, A has
# the nvme back, and once the fault is undone (a rescan brings a removed
# adapter back) B borrows it again and reads back what it wrote before the
# first cycle. $1 cycles of each fault, by default 10, or 2 on the debug
# kernel, where a cycle takes twice as long and its kmemleak scan 5 s
# more (make soak runs 100); each cycle's time, the slab delta and, on
# the debug kernel, the kmemleak reports since the first are printed.
# vm-devices: nvme edu edu
# vm-timeout: 1500
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
FAB=/sys/kernel/debug/ntb_sim/fabric0
DRV=/sys/bus/ntb/drivers/ntb_lending
if [ -e /proc/lockdep ]; then
	CYCLES=${1:-2}
else
	CYCLES=${1:-10}
fi
FAULTS="link_lost lender_unbound lender_adapter_removed borrower_adapter_removed borrower_host_gone"

ktap_print_header
ktap_set_plan $((5 * CYCLES + 1))

NVME=$(pci_find 0x010802)
head -c 1048576 /dev/urandom >/tmp/pattern

lent_borrowed_and_written() {
	nvme_lend_entry && echo 1 >"$L/available" && borrow_nvme_offer &&
		dd if=/tmp/pattern of="$DISK" bs=1M seek=100 oflag=direct 2>/dev/null
}

# The fault ($1) strikes while B reads the borrowed drive; then B's drive
# is gone, fio ended and A has the nvme back, ready to lend.
struck() {
	struck_mid_io "$1" || return 1
	wait_for 60 file_is "$L/state" available &&
		[ "$(driver_of "$NVME")" = ntb_lending ] && return 0
	echo "# A's entry: $(cat "$L/state"), $(driver_of "$NVME")"
	return 1
}

link_lost() {
	echo "0 1 1" >"$FAB/link_down"
}

link_lost_undone() {
	echo "0 1 0" >"$FAB/link_down"
}

lender_unbound() {
	echo "$A" >"$DRV/unbind"
}

lender_unbound_undone() {
	echo "$A" >"$DRV/bind" && wait_for 20 file_set "$CFS/$A/node_id"
}

lender_adapter_removed() {
	echo 1 >"/sys/bus/pci/devices/$A/remove"
}

# Adapter $1 back on port $2: a rescan finds it, ntb_sim (which the new
# IOMMU group's translating domain refused) binds it in an identity one,
# and the fabric gets its host again.
adapter_rescanned() {
	echo 1 >/sys/bus/pci/rescan && wait_for 20 [ -e "/sys/bus/pci/devices/$1" ] &&
		sim_prepare_adapters && echo "$1" >"$SIM_SYSFS/bind" &&
		echo "0 $2" >"$SIM_SYSFS/new_host" && wait_for 20 file_set "$CFS/$1/node_id"
}

lender_adapter_removed_undone() {
	adapter_rescanned "$A" 0
}

borrower_adapter_removed() {
	echo 1 >"/sys/bus/pci/devices/$B/remove"
}

borrower_adapter_removed_undone() {
	adapter_rescanned "$B" 1
}

borrower_host_gone() {
	echo "0 1" >"$SIM_SYSFS/del_host"
}

# Host B back on the same adapter: its borrow was lost with it.
borrower_host_gone_undone() {
	echo "0 1" >"$SIM_SYSFS/new_host" && wait_for 20 file_set "$CFS/$B/node_id"
}

# B's borrow, lost, is forgotten; B borrows again and reads the pattern.
borrowed_again_data_intact() {
	file_is "$CFS/$B/borrows/00000/state" lost &&
		rmdir "$CFS/$B/borrows/00000" && borrow_nvme_offer &&
		dd if="$DISK" of=/tmp/got bs=1M skip=100 count=1 iflag=direct 2>/dev/null &&
		cmp /tmp/pattern /tmp/got
}

cycle() {
	t0=$(uptime_ms)
	for step in "struck $1" "${1}_undone" borrowed_again_data_intact; do
		# shellcheck disable=SC2086 # a function and its argument
		$step || { echo "# $1 cycle $2: $step failed" && return 1; }
	done
	echo "# $1 cycle $2: $(cycle_figures "$t0")"
}

ktap_test_result "nvme_lent_borrowed_and_written" lent_borrowed_and_written
cycle_figures_start
failed=
i=1
while [ "$i" -le "$CYCLES" ]; do
	for fault in $FAULTS; do
		name=${fault}_mid_io_recovered_$i
		if [ -n "$failed" ]; then
			ktap_test_skip "$name (the $failed cycle failed)"
		elif cycle "$fault" "$i"; then
			ktap_test_pass "$name"
		else
			ktap_test_fail "$name"
			failed="$fault $i"
		fi
	done
	i=$((i + 1))
done

ktap_finished
