#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# On a lender without an IOMMU nothing confines a lent function's DMA: the
# borrower could have it read and write any of the lender's memory. Making
# a function available is refused there with EPERM and one line saying
# what to do, before its driver lets go; with ntb_lending's
# allow_unsafe_noiommu=1 it is lent, with a warning, and borrowed as usual.
# vm-devices: nvme edu edu
# vm-cmdline: intel_iommu=off
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
PARAM=/sys/module/ntb_lending/parameters/allow_unsafe_noiommu
REFUSAL='has no IOMMU to confine its DMA to its borrower.s window'

ktap_print_header
ktap_set_plan 4

NVME=$(pci_find 0x010802)

lend_entry_made() {
	[ ! -e "/sys/bus/pci/devices/$NVME/iommu_group" ] &&
		nvme_lend_entry && file_is "$PARAM" N
}
ktap_test_result "no_iommu_and_a_lend_entry" lend_entry_made

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
	refused 5 "cannot make $NVME available: lending it would let a borrower reach more of this host than the device: this host has no IOMMU*" \
		--adapter "$A" available "$NVME" &&
		[ "$(driver_of "$NVME")" = nvme ]
}
ktap_test_result "smartio_tool_available_exits_5_with_one_line" wrapper_refuses

lent_when_allowed() {
	echo 1 >"$PARAM" && echo 1 >"$L/available" &&
		log_count_is 1 'lent with unsafe DMA: no IOMMU' && borrow_nvme_offer &&
		read_returned_and_unloaded
}
ktap_test_result "lent_and_borrowed_with_allow_unsafe_noiommu" lent_when_allowed

ktap_finished
