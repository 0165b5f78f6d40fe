#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A peer that lies: ntb_sim's hostile hook writes raw frames into the
# lending channel of each host (bad checksums, another protocol version,
# a false NodeId, a flood of hellos, malformed and unknown messages, stray
# fragments and replies, config requests for nothing, then random
# frames). Nothing
# oopses, each lie is refused with its message, the adapters' status
# attributes say what happened, and after a link flap the pair lends
# and borrows the nvme as before, with its windows, doorbells, IOMMU
# confinement and filtered config space showing in configfs.
# vm-devices: nvme edu edu
# vm-timeout: 900
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
FAB=/sys/kernel/debug/ntb_sim/fabric0

ktap_print_header
ktap_set_plan 14

NVME=$(pci_find 0x010802)
pair_up() {
	wait_for 20 file_is "$CFS/$A/peers" "1 up $PROTO" &&
		wait_for 20 file_is "$CFS/$B/peers" "0 up $PROTO"
}

offer_is() {
	[ "$(cat "$CFS/$B/offers/00000/state" 2>/dev/null)" = "$1" ]
}

status_before_any_lending() {
	sim_two_hosts intel-32g && modprobe nvme && modprobe ntb_lending &&
		pair_up || return 1
	L=$CFS/$A/lends/$NVME
	[ "$(cat "$CFS/$A/doorbells")" = "0x3 control
0x4 config" ] && [ -z "$(cat "$CFS/$A/windows")" ] &&
		[ -z "$(cat "$CFS/$B/windows")" ] &&
		mkdir "$CFS/$A/connections/1" "$L" && [ -z "$(cat "$L/iommu")" ] &&
		! cat "$L/config" >/dev/null 2>&1 &&
		[ "$(kernel_log_count "lends/$NVME/config: the device is in local use; make it available first")" -eq 1 ] &&
		echo 1 >"$L/available" && wait_for 20 offer_is available
}
ktap_test_result "status_attributes_before_lending" status_before_any_lending

# An offer whose first fragment is spoiled: its second has no first.
bad_checksum_dropped() {
	frame "$A" 2 0 0 3 9 0 0 bad && frame "$A" 2 1 1 3 0x80861234 0x20000 0xffffffff &&
		frame "$B" 2 0 0 3 9 0 0 bad && frame "$B" 2 1 1 3 0x80861234 0x20000 0xffffffff &&
		sleep 1 && [ ! -e "$CFS/$B/offers/00009" ] && [ ! -e "$CFS/$A/offers/10009" ] &&
		pair_up && offer_is available
}
ktap_test_result "frames_with_a_bad_checksum_are_dropped" bad_checksum_dropped

# An OFFER short of words, one of a state that does not exist, and a type
# nobody knows: each logged, none taken.
malformed_refused() {
	n=$(kernel_log_count "node 0 sent a malformed message")
	frame "$A" 2 0 1 2 7 0 && frame "$A" 2 0 0 3 8 5 0 &&
		frame "$A" 2 1 1 3 0x12341234 0x10802 0xffffffff && frame "$A" 99 0 1 1 0 &&
		wait_for 10 log_count_is $((n + 3)) "node 0 sent a malformed message" &&
		[ ! -e "$CFS/$B/offers/00007" ] && [ ! -e "$CFS/$B/offers/00008" ] &&
		pair_up && offer_is available
}
ktap_test_result "malformed_and_unknown_messages_are_refused" malformed_refused

# A second fragment with no first, a first that never ends and replies
# nobody waits for are dropped; then the channel carries a whole offer of
# a device the peer does not have, and borrowing it fails on the lender.
offer_of() {
	frame "$A" 2 0 0 3 "$1" 0 0 && frame "$A" 2 1 1 3 0x80861234 0x20000 0xffffffff
}
stray_fragments_and_replies() {
	frame "$A" 2 3 1 3 6 0 0 && frame "$A" 2 0 0 3 6 0 0 &&
		frame "$A" 133 0 1 3 1 2 3 && frame "$B" 134 0 1 3 1 2 3 &&
		offer_of 6 && wait_for 10 file_is "$CFS/$B/offers/00006/vendor" 0x8086 &&
		[ "$(mkdir_err "$CFS/$B/borrows/00006")" = "No such file or directory" ] &&
		[ -z "$(ls "$CFS/$B/borrows")" ] && [ -z "$(cat "$CFS/$B/windows")" ] &&
		frame "$A" 3 0 1 1 6 && wait_for 10 gone "$CFS/$B/offers/00006" &&
		pair_up && offer_is available
}
ktap_test_result "stray_fragments_dropped_and_a_false_offer_cannot_be_borrowed" stray_fragments_and_replies

# Config requests for a device the peer does not borrow, raw into the
# request scratchpads: refused, the lender's device untouched.
config_requests_for_nothing() {
	for v in 0 0x1000004 0xffffffff; do
		echo "spad 0 5 $v" >"$FAB/$B/hostile" &&
			echo "spad 0 6 $v" >"$FAB/$B/hostile" &&
			echo "spad 0 7 $v" >"$FAB/$B/hostile" &&
			echo "db 0x4" >"$FAB/$B/hostile" || return 1
		sleep 0.1
	done
	[ "$(driver_of "$NVME")" = ntb_lending ] && [ "$(cat "$L/state")" = available ]
}
ktap_test_result "config_requests_for_nothing_are_refused" config_requests_for_nothing

incompatible_version() {
	frame "$A" 1 0 1 3 $((PROTO + 1)) 0 0 &&
		wait_for 10 file_is "$CFS/$B/peers" "0 incompatible $((PROTO + 1))" &&
		[ "$(kernel_log_count "node 0 speaks lending protocol $((PROTO + 1)), this host $PROTO: not using it")" -ge 1 ] &&
		wait_for 10 gone "$CFS/$B/offers/00000"
}
ktap_test_result "another_protocol_version_is_not_used" incompatible_version

false_node_id() {
	echo "0 1 1" >"$FAB/link_down" && wait_for 10 file_is "$CFS/$B/peers" "0 down -" &&
		echo "0 1 0" >"$FAB/link_down" && pair_up && wait_for 20 offer_is available &&
		frame "$A" 1 0 1 3 "$PROTO" 5 0 &&
		wait_for 10 file_is "$CFS/$B/peers" "0 link $PROTO" &&
		[ "$(kernel_log_count "peer on port 0 calls itself node 5: not using it")" -ge 1 ]
}
ktap_test_result "a_peer_with_a_false_node_id_is_not_used" false_node_id

# A peer that says hello over and over, in turns in another protocol
# version and in ours asking for an answer: each brings B's peer down or
# up, but the lines about the peer are limited to 10 in 5 s, and the first
# line after says how many were held back (ntbl_peer_log()).
hello_flood() {
	log_mark
	t0=$(uptime_ms)
	FRAME_GAP=0.002
	i=0
	while [ $i -lt 40 ]; do
		frame "$A" 1 0 1 3 $((PROTO + 1)) 0 0 &&
			frame "$A" 1 0 1 3 "$PROTO" 0 1 || return 1
		i=$((i + 1))
	done
	FRAME_GAP=
	ms=$(($(uptime_ms) - t0))
	sleep 1
	lines=$(logged_since_mark "node 0 (speaks lending protocol|is up|is down)")
	allowed=$((10 * (ms / 5000 + 2)))
	echo "# $((i * 2)) hellos in $ms ms, half of another version: $lines lines about node 0 (at most $allowed)"
	[ "$lines" -ge 1 ] && [ "$lines" -le "$allowed" ] || return 1
	sleep 5
	echo "0 1 1" >"$FAB/link_down" && wait_for 10 file_is "$CFS/$B/peers" "0 down -" &&
		echo "0 1 0" >"$FAB/link_down" && pair_up && wait_for 20 offer_is available &&
		lines_since_mark "lines about node 0 held back" | sed 's/^/# /' | grep -q .
}
ktap_test_result "a_hello_flood_is_ratelimited_per_peer" hello_flood

# Random frames with good checksums both ways, half of them whole
# one-frame messages of any type but hello (a bad hello stops the peer's
# messages from being read), then random doorbells.
fuzz() {
	i=0 n=$(kernel_log_count "sent a malformed message")
	while [ $i -lt 200 ]; do
		# shellcheck disable=SC2046 # four random words, split on purpose
		set -- $(od -An -N16 -tu4 /dev/urandom)
		t=$(($1 % 12)) && [ $((i % 7)) -eq 0 ] && t=$(($1 % 256))
		[ $t -eq 1 ] && t=0
		frag=$(($2 % 16)) last=$(($2 >> 4 & 1))
		[ $((i % 4)) -lt 2 ] && frag=0 last=1
		h=$A && [ $((i % 2)) -eq 0 ] && h=$B
		frame "$h" "$t" "$frag" "$last" $(($2 >> 5 & 3)) "$2" "$3" "$4" || return 1
		i=$((i + 1))
	done
	for bits in 0x7 0xffff 0x5 0x3; do
		echo "db $bits" >"$FAB/$A/hostile" && echo "db $bits" >"$FAB/$B/hostile" || return 1
	done
	n=$(($(kernel_log_count "sent a malformed message") - n))
	echo "# $i random frames; $n malformed messages logged (rate-limited)"
	[ "$n" -gt 0 ] && [ "$(driver_of "$NVME")" = ntb_lending ]
}
ktap_test_result "random_frames_and_doorbells_break_nothing" fuzz

recovers_after_link_flap() {
	echo "0 1 1" >"$FAB/link_down" && wait_for 10 file_is "$CFS/$A/peers" "1 down -" &&
		echo "0 1 0" >"$FAB/link_down" && pair_up &&
		[ "$(cat "$L/state")" = available ] && wait_for 20 offer_is available
}
ktap_test_result "link_flap_restores_the_pair" recovers_after_link_flap

status_while_borrowed() {
	mkdir "$CFS/$B/borrows/00000" || return 1
	VBDF=$(cat "$CFS/$B/borrows/00000/local_bdf")
	wait_for 60 has_disk "$VBDF" || return 1
	echo "# lender windows: $(cat "$CFS/$A/windows")"
	echo "# borrower windows: $(cat "$CFS/$B/windows")"
	echo "# borrower doorbells: $(tr '\n' ';' <"$CFS/$B/doorbells")"
	grep -qx "0 1 device [1-9][0-9]*" "$CFS/$A/windows" &&
		grep -qx "1 0 memory [1-9][0-9]*" "$CFS/$B/windows" &&
		[ "$(sed -n 3p "$CFS/$B/doorbells")" = "0x78 vectors 00000" ] &&
		[ "$(cat "$L/iommu")" = confined ]
}
ktap_test_result "windows_doorbells_and_iommu_while_borrowed" status_while_borrowed

# The lender's filtered config space is what the borrower's kernel reads:
# same ids, class and capability list; BARs are the borrower's own.
dword() {
	od -An -tx4 -j "$2" -N4 "$1" | tr -d ' '
}
config_as_the_borrower_sees_it() {
	cp "$L/config" /tmp/lent_config && cp "/sys/bus/pci/devices/$VBDF/config" /tmp/vcfg &&
		[ "$(stat -c %s /tmp/lent_config)" -eq 4096 ] || return 1
	for off in 0 8 52; do
		[ "$(dword /tmp/lent_config $off)" = "$(dword /tmp/vcfg $off)" ] || return 1
	done
	[ "$(dword /tmp/lent_config 0)" = "$(dword "/sys/bus/pci/devices/$NVME/config" 0)" ] &&
		[ "$(dword /tmp/lent_config 16)" = 00000000 ]
}
ktap_test_result "lender_config_attribute_matches_the_borrowers_view" config_as_the_borrower_sees_it

# The lender's offer says 00000 is available again (a lie, or its news of
# our own borrow not in yet): borrowing it once more is refused here (its
# one name is taken, and "0" is not how offers/ names it), and does not
# return the borrow of 00000 to the lender.
second_borrow_of_the_same_id() {
	frame "$A" 2 0 0 3 0 0 0 && frame "$A" 2 1 1 3 0x80861234 0x10802 0xffffffff &&
		wait_for 10 offer_is available || return 1
	err=$(mkdir_err "$CFS/$B/borrows/0")
	echo "# mkdir borrows/0: $err; lender: $(cat "$L/state")"
	[ "$err" = "Invalid argument" ] && [ ! -e "$CFS/$B/borrows/0" ] &&
		[ "$(kernel_log_count "borrows/0: name it after an Id in offers/")" -eq 1 ] &&
		[ "$(mkdir_err "$CFS/$B/borrows/00000")" = "File exists" ] &&
		[ "$(cat "$L/state")" = borrowed ] &&
		dd if="$(disk_of "$VBDF")" of=/dev/null bs=64k count=16 iflag=direct 2>/dev/null
}
ktap_test_result "a_second_borrow_of_a_borrowed_id_does_not_return_it" second_borrow_of_the_same_id

returned_and_cleared() {
	rmdir "$CFS/$B/borrows/00000" && wait_for 20 offer_is available &&
		[ -z "$(cat "$CFS/$A/windows")" ] && [ -z "$(cat "$CFS/$B/windows")" ] &&
		[ "$(wc -l <"$CFS/$B/doorbells")" -eq 2 ] &&
		echo 0 >"$L/available" && [ -z "$(cat "$L/iommu")" ] &&
		wait_for 40 has_disk "$NVME" && rmdir "$L" "$CFS/$A/connections/1" &&
		rmmod ntb_lending && rmmod ntb_sim
}
ktap_test_result "return_clears_windows_and_doorbells" returned_and_cleared

ktap_finished
