#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# On a lender whose IOMMU does not remap interrupts, a borrower could aim
# the lent function's MSI-X entries (which it writes through the BAR) at
# any of the lender's interrupts. Offering a function is refused there
# with EPERM and one line saying what to do, before its driver lets go;
# with ntb_lending's allow_unsafe_interrupts=1 it is lent, with a warning,
# and borrowed as usual.
# vm-devices: nvme edu edu
# vm-iommu: intremap=off,caching-mode=on
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
PARAM=/sys/module/ntb_lending/parameters/allow_unsafe_interrupts
REFUSAL='does not isolate its interrupts \(no interrupt remapping\)'

ktap_print_header
ktap_set_plan 4

NVME=$(pci_find 0x010802)

lend_entry_made() {
	nvme_lend_entry && file_is "$PARAM" N
}
ktap_test_result "no_interrupt_remapping_and_a_lend_entry" lend_entry_made

# Refused before the nvme driver lets go: it never probes the drive again.
offer_refused() {
	probes=$(kernel_log_count "pci function $NVME")
	! echo 1 2>/tmp/err >"$L/available" &&
		grep -q 'Operation not permitted' /tmp/err &&
		log_count_is 1 "$REFUSAL" && file_is "$L/state" local &&
		[ "$(driver_of "$NVME")" = nvme ] && has_disk "$NVME" &&
		log_count_is "$probes" "pci function $NVME" &&
		[ -z "$(ls "$CFS/$B/offers")" ]
}
ktap_test_result "offer_refused_with_eperm_and_nothing_changes" offer_refused

wrapper_refuses() {
	status=0
	smartio_tool --adapter "$A" available "$NVME" 2>/tmp/err || status=$?
	echo "# smartio_tool available: exit $status: $(cat /tmp/err)"
	[ "$status" -eq 5 ] && [ "$(wc -l </tmp/err)" -eq 1 ] &&
		[ "$(driver_of "$NVME")" = nvme ]
}
ktap_test_result "smartio_tool_available_exits_5_with_one_line" wrapper_refuses

lent_when_allowed() {
	echo 1 >"$PARAM" && echo 1 >"$L/available" &&
		log_count_is 1 'lent with unsafe interrupts' && borrow_nvme_offer &&
		read_returned_and_unloaded
}
ktap_test_result "lent_and_borrowed_with_allow_unsafe_interrupts" lent_when_allowed

ktap_finished
