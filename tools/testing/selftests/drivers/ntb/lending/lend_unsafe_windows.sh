#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# What a borrower can reach through a lent function beyond the function,
# refused by default, allowed with a warning by ntb_lending's opt-ins
# (which the other tests' VMs set; this one clears them):
# - a window onto the BARs of the VM's e1000e, which q35 spreads among
#   other functions' BARs, reaches those: making it available is refused
#   with EPERM and one line naming them, before its driver lets go; with
#   allow_unsafe_neighbours=1 it is lent with a warning. A borrow of it
#   once the opt-in is cleared again is refused the same way, by the
#   lender (which checks the span as the window aligns it) with EPERM on
#   the borrower;
# - an edu adapter's doorbell register shares its page with the edu's DMA
#   registers, which the lent function would be free to write: a borrow of
#   the nvme through edu adapters is refused with EPERM and the lender's
#   line; with allow_unsafe_doorbells=1 it is borrowed with a warning;
# - an ivshmem-doorbell adapter's page holds nothing else that matters:
#   the nvme is borrowed through ivshmem adapters with both opt-ins clear,
#   with no warning, and read back.
# vm-devices: nvme e1000e ivshmem ivshmem edu edu
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
PARAMS=/sys/module/ntb_lending/parameters

ktap_print_header
ktap_set_plan 6

NVME=$(pci_find 0x010802)
NIC=$(pci_find 0x020000)

# Fabric 0 on the ivshmem adapters (X lends, Y borrows), fabric 1 on the
# edu ones (A lends, B borrows), both intel-32g; the opt-ins cleared.
fabrics_up() {
	modprobe nvme && modprobe e1000e && wait_for 40 has_disk "$NVME" &&
		sim_prepare_adapters && modprobe ntb_sim &&
		sim_fabric 0 intel-32g 2 && sim_fabric 1 intel-32g 2 &&
		X=$(sim_host_dev 0 0) && Y=$(sim_host_dev 0 1) &&
		A=$(sim_host_dev 1 0) && B=$(sim_host_dev 1 1) &&
		modprobe ntb_lending &&
		file_is "$PARAMS/allow_unsafe_doorbells" Y &&
		file_is "$PARAMS/allow_unsafe_neighbours" Y &&
		echo 0 >"$PARAMS/allow_unsafe_doorbells" &&
		echo 0 >"$PARAMS/allow_unsafe_neighbours" &&
		wait_for 20 file_set "$CFS/$B/node_id" &&
		wait_for 20 file_set "$CFS/$Y/node_id" &&
		mkdir "$CFS/$A/connections/1" "$CFS/$X/connections/1" &&
		echo "# X $X, Y $Y (ivshmem); A $A, B $B (edu); nvme $NVME, e1000e $NIC"
}
ktap_test_result "two_fabrics_and_the_opt_ins_cleared" fabrics_up

E=$CFS/$A/lends/$NIC

driver_is() {
	[ "$(driver_of "$1")" = "$2" ]
}

nic_refused() {
	log_mark
	mkdir "$E" || return 1
	! echo 1 2>/tmp/err >"$E/available" &&
		grep -q 'Operation not permitted' /tmp/err || return 1
	lines_since_mark "would also reach" | sed 's/^/# /'
	[ "$(logged_since_mark "$NIC: the window onto its BARs .* would also reach 0000:")" -eq 1 ] &&
		file_is "$E/state" local && driver_is "$NIC" e1000e &&
		[ -z "$(ls "$CFS/$B/offers")" ] &&
		refused 5 "cannot make $NIC available: lending it would let a borrower reach more of this host than the device*" \
			--adapter "$A" available "$NIC" &&
		file_is "$E/state" local && driver_is "$NIC" e1000e
}
ktap_test_result "e1000e_offer_refused_for_the_functions_its_window_reaches" nic_refused

# Lent with the warning; the opt-in cleared again, B's borrow is refused
# by the lender's own check, and everything stays as it was.
nic_borrow_refused() {
	log_mark
	echo 1 >"$PARAMS/allow_unsafe_neighbours" && echo 1 >"$E/available" &&
		[ "$(logged_since_mark "$NIC: lent with unsafe neighbours")" -eq 1 ] &&
		echo 0 >"$PARAMS/allow_unsafe_neighbours" &&
		wait_for 20 offered "$B" 00000 || return 1
	err=$(mkdir_err "$CFS/$B/borrows/00000")
	echo "# borrow: $err"
	{ lines_since_mark "would also reach" && lines_since_mark "refused to lend"; } |
		sed 's/^/# /'
	[ "$err" = "Operation not permitted" ] &&
		[ "$(logged_since_mark "$NIC: the window onto its BARs .* would also reach")" -eq 1 ] &&
		[ "$(logged_since_mark "borrows/00000: node 0 refused to lend the device: lending it would let")" -eq 1 ] &&
		file_is "$E/state" available && offered "$B" 00000 &&
		[ ! -e "$CFS/$B/borrows/00000" ] &&
		echo 0 >"$E/available" && rmdir "$E" &&
		wait_for 20 driver_is "$NIC" e1000e
}
ktap_test_result "e1000e_borrow_refused_by_the_lender_with_eperm" nic_borrow_refused

L=$CFS/$A/lends/$NVME

nvme_edu_refused() {
	log_mark
	mkdir "$L" && echo 1 >"$L/available" && wait_for 20 offered "$B" 00000 ||
		return 1
	err=$(mkdir_err "$CFS/$B/borrows/00000")
	echo "# borrow: $err"
	lines_since_mark "doorbell" | sed 's/^/# /'
	# ntb_sim's two-port doorbell register is the peer adapter's.
	[ "$err" = "Operation not permitted" ] &&
		[ "$(logged_since_mark "$NVME: the page of the doorbell at .* holds other registers \(of ($A|$B)\) the function could write")" -eq 1 ] &&
		refused 5 "cannot borrow 00000: its lender refuses: lending it would let this host reach more of the lender than the device*" \
			--adapter "$B" borrow 00000 &&
		file_is "$L/state" available && offered "$B" 00000 &&
		[ ! -e "$CFS/$B/borrows/00000" ]
}
ktap_test_result "nvme_borrow_through_edu_refused_for_its_doorbell_page" nvme_edu_refused

nvme_edu_allowed() {
	log_mark
	echo 1 >"$PARAMS/allow_unsafe_doorbells" && borrow_nvme_offer &&
		[ "$(logged_since_mark "$NVME: lent with unsafe doorbells")" -eq 1 ] &&
		dd if="$DISK" of=/dev/null bs=1M count=4 iflag=direct 2>/dev/null &&
		rmdir "$CFS/$B/borrows/00000" &&
		wait_for 20 file_is "$L/state" available &&
		echo 0 >"$PARAMS/allow_unsafe_doorbells" &&
		echo 0 >"$L/available" && rmdir "$L" &&
		wait_for 40 has_disk "$NVME"
}
ktap_test_result "nvme_borrowed_through_edu_with_allow_unsafe_doorbells" nvme_edu_allowed

# Through the ivshmem adapters, both opt-ins clear: borrowed, no warning,
# and a pattern written on the lender reads back on the borrower.
nvme_ivshmem() {
	log_mark
	B=$Y
	dd if=/dev/urandom of=/tmp/pattern bs=64k count=16 2>/dev/null &&
		dd if=/tmp/pattern of="$(disk_of "$NVME")" bs=64k oflag=direct 2>/dev/null &&
		lend_to "$X" 1 "$NVME" && wait_for 20 offered "$Y" 00000 &&
		borrow_nvme_offer || return 1
	dd if="$DISK" of=/tmp/back bs=64k count=16 iflag=direct 2>/dev/null &&
		cmp /tmp/pattern /tmp/back &&
		[ "$(logged_since_mark "unsafe|would also reach|holds other registers")" -eq 0 ] &&
		rmdir "$CFS/$Y/borrows/00000"
}
ktap_test_result "nvme_borrowed_through_ivshmem_with_no_opt_in_and_read_back" nvme_ivshmem

ktap_finished
