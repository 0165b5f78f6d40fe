#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A peer that floods and never acknowledges: with ntb_lending unbound on
# host B and ntb_tool holding its link up (nothing there takes A's
# messages), ntb_sim's hostile hook sends A 1500 hellos that each ask for
# an answer, and A answers each with a hello and its offer. A holds at
# most NTBL_CHAN_TXQ_MAX (514) of them (ntb_lending's debugfs queues file
# shows how many) and says it dropped the rest; once B is bound again the
# pair lends and borrows as before.
# vm-devices: nvme edu edu
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
FAB=/sys/kernel/debug/ntb_sim/fabric0
DRV=/sys/bus/ntb/drivers/ntb_lending
DROPPED='node 1 leaves 514 messages untaken: dropped one'

ktap_print_header
ktap_set_plan 3

NVME=$(pci_find 0x010802)

lent_to_b() {
	nvme_lend_entry && echo 1 >"$L/available" &&
		wait_for 40 file_is "$CFS/$B/offers/00000/state" available
}
ktap_test_result "nvme_lent_and_offered_to_b" lent_to_b

dropped_logged() {
	[ "$(kernel_log_count "$DROPPED")" -ge 1 ]
}

# Hellos of our version from node 1 that ask for an answer.
hello_flood_bounded() {
	echo "$B" >"$DRV/unbind" && modprobe ntb_tool &&
		echo Y >"/sys/kernel/debug/ntb_tool/$B/link" &&
		wait_for 20 file_is "$CFS/$A/peers" "1 link -" || return 1
	QUEUES=/sys/kernel/debug/ntb_lending/$A/queues
	slab0=$(slab_kb)
	sent=0
	while [ "$sent" -lt 1500 ]; do
		FRAME_GAP=0.01 frame "$B" 1 0 1 3 "$PROTO" 1 1 || return 1
		sent=$((sent + 1))
	done
	wait_for 20 dropped_logged || return 1
	queued=$(awk '$1 == 1 { print $3 }' "$QUEUES")
	echo "# $sent hellos sent; $queued messages queued to node 1; slab grew $(($(slab_kb) - slab0)) kB; $(kernel_log_count "$DROPPED") drops logged (rate-limited)"
	# Full but for the few sent (two seconds each) since it filled.
	[ "$queued" -le 514 ] && [ "$queued" -ge 500 ] &&
		[ "$(driver_of "$NVME")" = ntb_lending ]
}
ktap_test_result "a_peer_that_never_acknowledges_cannot_grow_the_send_queue" hello_flood_bounded

lends_again_once_bound() {
	rmmod ntb_tool && echo "$B" >"$DRV/bind" && borrow_nvme_offer &&
		read_returned_and_unloaded
}
ktap_test_result "b_bound_again_borrows_the_nvme" lends_again_once_bound

ktap_finished
