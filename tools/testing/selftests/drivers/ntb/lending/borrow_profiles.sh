#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Lending on the ntb_sim profiles that cannot carry a borrow: the device
# is offered on each, and the borrow is refused with the errno and the
# message that say why, leaving the offer, the lender and the device as
# they were. intel's 1 MiB windows cannot reach the borrower's memory,
# nor can idt's (a switch, here two hosts on four ports, which carries
# the protocol in message registers: there the lender picks the window
# and refuses); tiny lacks the scratchpads and doorbells.
# vm-devices: nvme e1000e edu edu edu edu edu edu
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending

ktap_print_header
ktap_set_plan 5

NVME=$(pci_find 0x010802)

fabrics_up() {
	sim_prepare_adapters && modprobe ntb_sim &&
		sim_fabric 0 intel 2 && sim_fabric 1 tiny 2 && sim_fabric 2 idt 2 4 &&
		modprobe nvme && modprobe ntb_lending
}
ktap_test_result "intel_tiny_and_idt_fabrics_up" fabrics_up

# Lend the nvme on fabric $1's port 0; borrow it on port 1; print the errno.
borrow_errno() {
	a=$(sim_host_dev "$1" 0) && b=$(sim_host_dev "$1" 1) || return 1
	l=$CFS/$a/lends/$NVME
	wait_for 20 file_set "$CFS/$b/node_id" &&
		mkdir "$CFS/$a/connections/1" "$l" && echo 1 >"$l/available" &&
		wait_for 20 [ -d "$CFS/$b/offers/00000" ] || return 1
	mkdir_err "$CFS/$b/borrows/00000"
	[ "$(cat "$l/state")" = available ] &&
		[ "$(cat "$CFS/$b/offers/00000/state")" = available ] &&
		[ -z "$(ls "$CFS/$b/borrows")" ] || echo "state changed"
	echo 0 >"$l/available"
	rmdir "$l" "$CFS/$a/connections/1"
}

intel_memory_window_too_small() {
	err=$(borrow_errno 0)
	echo "# intel: $err"
	[ "$err" = "Argument list too long" ] &&
		[ "$(kernel_log_count "window 1 reaches 1048576 bytes, this host's memory ends at")" -eq 1 ] &&
		wait_for 40 has_disk "$NVME"
}
ktap_test_result "intel_borrow_refused_memory_beyond_window" intel_memory_window_too_small

tiny_lacks_scratchpads() {
	err=$(borrow_errno 1)
	echo "# tiny: $err"
	[ "$err" = "Operation not supported" ] &&
		[ "$(kernel_log_count "borrowing needs 11 scratchpads and 4 doorbell bits, the adapter has 8 and 4")" -eq 1 ] &&
		wait_for 40 has_disk "$NVME"
}
ktap_test_result "tiny_borrow_refused_lacking_scratchpads" tiny_lacks_scratchpads

# tiny's one 64 KiB window cannot hold the e1000e's 128 KiB BAR 0.
tiny_window_too_small_to_lend() {
	nic=$(pci_find 0x020000)
	modprobe e1000e && wait_for 20 has_netdev "$nic" || return 1
	l=$CFS/$(sim_host_dev 1 0)/lends/$nic
	mkdir "$l" || return 1
	err=$(echo 1 2>&1 >"$l/available" | sed 's/.*: //')
	echo "# tiny, e1000e: $err"
	[ "$err" = "Argument list too long" ] && [ "$(cat "$l/state")" = local ] &&
		[ "$(driver_of "$nic")" = e1000e ] &&
		[ "$(kernel_log_count "its BARs need a window of .* bytes; the largest window of .* toward node 1 holds 65536")" -eq 1 ] &&
		rmdir "$l"
}
ktap_test_result "tiny_refuses_to_offer_a_device_its_window_cannot_hold" tiny_window_too_small_to_lend

idt_memory_window_too_small() {
	a=$(sim_host_dev 2 0) && b=$(sim_host_dev 2 1) || return 1
	wait_for 20 file_is "$CFS/$a/peers" "1 up $PROTO
2 down -
3 down -" || return 1
	err=$(borrow_errno 2)
	echo "# idt: $err"
	[ "$err" = "Argument list too long" ] &&
		[ "$(kernel_log_count "node 1's memory needs a window of [0-9]+ bytes; the largest of .* holds 1048576: it cannot borrow through this fabric")" -eq 1 ] &&
		wait_for 40 has_disk "$NVME" && rmmod ntb_lending
}
ktap_test_result "idt_borrow_refused_memory_beyond_window" idt_memory_window_too_small

ktap_finished
