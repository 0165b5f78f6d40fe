#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A peer that lies on a switch, where the protocol travels in message
# registers: ntb_sim's hostile hook writes raw words into a host's four
# registers as node 2 (a packet mixing two senders, a head with no claim,
# spoiled frames, config requests for nothing, random packets, a claim
# that never gets its head). Nothing oopses, nothing a lie says is taken,
# what a lie leaves half written is dropped, and after a link flap node 1
# borrows node 0's nvme and reads it.
# vm-devices: nvme edu edu edu
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
FAB=/sys/kernel/debug/ntb_sim/fabric0

ktap_print_header
ktap_set_plan 6

NVME=$(pci_find 0x010802)

all_up() {
	for h in "$A" "$B" "$C"; do
		[ "$(grep -c " up $PROTO\$" "$CFS/$h/peers")" -eq 2 ] || return 1
	done
}

offer_is() {
	[ "$(cat "$CFS/$B/offers/$1/state" 2>/dev/null)" = "$2" ]
}

# Words $2.. into registers 1, 3, 2, 0 of node 1 (pidx 0 of host C is
# node 0, 1 is node 1), written raw by host C, node 2.
packet() {
	for m in 1 3 2 0; do
		eval "w=\${$((m + 1))}"
		echo "msg 1 $m $w" >"$FAB/$C/hostile" || return 1
	done
	sleep 0.05
}

up() {
	sim_prepare_adapters && modprobe ntb_sim && sim_fabric 0 idt-32g 3 &&
		A=$(sim_host_dev 0 0) && B=$(sim_host_dev 0 1) && C=$(sim_host_dev 0 2) &&
		modprobe nvme && modprobe ntb_lending && wait_for 20 all_up || return 1
	L=$CFS/$A/lends/$NVME
	mkdir "$CFS/$A/connections/1" "$L" && echo 1 >"$L/available" &&
		wait_for 20 offer_is 00000 available
}
ktap_test_result "three_hosts_up_and_node_0_offers_its_nvme" up

# A hello of the next protocol from node 2, whose claim word node 0
# wrote: words of two senders are no packet, and node 2 stays up. The same
# hello, all node 2's, makes it incompatible.
NEXT=$((PROTO + 1))
HELLO2=$(frame_header 1 77 0 1 3 "$NEXT" 2 0)
mixed_senders_dropped() {
	echo "msg 0 1 $NEXT" >"$FAB/$A/hostile" && echo "msg 1 3 0" >"$FAB/$C/hostile" &&
		echo "msg 1 2 2" >"$FAB/$C/hostile" && echo "msg 1 0 $HELLO2" >"$FAB/$C/hostile" &&
		sleep 0.5 && grep -qx "2 up $PROTO" "$CFS/$B/peers" &&
		packet "$HELLO2" "$NEXT" 2 0 && wait_for 10 grep -qx "2 incompatible $NEXT" "$CFS/$B/peers"
}
ktap_test_result "words_of_two_senders_are_no_packet" mixed_senders_dropped

# A spoiled frame (an offer of index 7), a config request with a bad
# check and one for a device node 2 does not borrow, an answer nobody
# asked for, an ack of nothing: each dropped or refused.
lies_refused() {
	echo "1 2 1" >"$FAB/link_down" && sleep 0.5 && echo "1 2 0" >"$FAB/link_down" &&
		wait_for 20 all_up || return 1
	packet "$(frame_header 2 78 0 1 3 7 0 0 bad)" 7 0 0 &&
		packet 0x7e000000 0x01000004 0 0 && packet 0x7e000000 0x01010000 0 0xfeffffff &&
		packet 0x7f000000 0x01000000 5 0 && packet 0x00990000 0 0 0 &&
		sleep 0.5 && [ ! -e "$CFS/$B/offers/20007" ] &&
		[ "$(cat "$L/state")" = available ] && offer_is 00000 available && all_up
}
ktap_test_result "spoiled_frames_and_stray_requests_change_nothing" lies_refused

# Random packets from node 2 to node 1 and to node 0, every other one a
# whole one-frame message of any type but hello, with a good checksum.
fuzz() {
	i=0 n=$(kernel_log_count "node 2 sent a malformed message")
	while [ $i -lt 200 ]; do
		# shellcheck disable=SC2046 # four random words, split on purpose
		set -- $(od -An -N16 -tu4 /dev/urandom)
		t=$(($1 % 12)) && [ $t -eq 1 ] && t=0
		[ $((i % 2)) -eq 0 ] &&
			set -- "$(frame_header $t $((i & 255)) 0 1 $(($1 >> 8 & 3)) "$2" "$3" "$4")" "$2" "$3" "$4"
		p=$((i / 2 % 2))
		for m in 1 3 2 0; do
			eval "w=\${$((m + 1))}"
			echo "msg $p $m $w" >"$FAB/$C/hostile" || return 1
		done
		i=$((i + 1))
	done
	sleep 1
	n=$(($(kernel_log_count "node 2 sent a malformed message") - n))
	echo "# $i random packets; $n malformed messages logged (rate-limited)"
	[ "$n" -gt 0 ] && [ "$(cat "$L/state")" = available ] && [ "$(driver_of "$NVME")" = ntb_lending ]
}
ktap_test_result "random_packets_break_nothing" fuzz

# A claim with no head would block every sender to node 1: node 1 drops
# it within a second, with no link change, and node 0's withdrawal and
# new offer reach it.
no_offer() {
	[ ! -e "$CFS/$B/offers/$1" ]
}
half_packet_dropped() {
	warned=$(kernel_log_count "node 2 left a message half written")
	echo "msg 1 1 0xdead" >"$FAB/$C/hostile" &&
		echo 0 >"$L/available" && wait_for 10 no_offer 00000 &&
		echo 1 >"$L/available" && wait_for 10 offer_is 00000 available &&
		[ "$(kernel_log_count "node 2 left a message half written")" -gt "$warned" ]
}
ktap_test_result "a_claim_without_its_head_is_dropped" half_packet_dropped

still_lends() {
	echo "0 1 1" >"$FAB/link_down" && sleep 0.5 && echo "0 1 0" >"$FAB/link_down" &&
		wait_for 20 all_up && wait_for 20 offer_is 00000 available &&
		mkdir "$CFS/$B/borrows/00000" || return 1
	v=$(cat "$CFS/$B/borrows/00000/local_bdf")
	wait_for 60 has_disk "$v" && dd if="$(disk_of "$v")" of=/dev/null bs=1M count=4 iflag=direct 2>/dev/null &&
		rmdir "$CFS/$B/borrows/00000" && rmdir "$L" "$CFS/$A/connections/1" &&
		wait_for 40 has_disk "$NVME" && rmmod ntb_lending && rmmod ntb_sim
}
ktap_test_result "after_a_link_flap_node_1_borrows_and_reads_the_nvme" still_lends

ktap_finished
