#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A peer that lies at volume while a device is borrowed and busy: host B
# borrows host A's nvme and fio writes and verifies it (crc32c) over and
# over, while ntb_sim's hostile hook sends 50,000 random and mutated
# frames from each host into the other's lending channel (random words,
# garbage under good checksums, flipped bits, wrong lengths, duplicate
# sequence numbers, fragments out of step, wrong checksums, replays).
# fio sees no error, the borrow stays borrowed, both peers stay up, the
# refusals are logged (rate-limited), and the drive still reads back and
# verifies after the storm. Argument: the seed (default: a random one,
# printed), which replays a run's frames.
# vm-devices: nvme edu edu
# vm-timeout: 1200
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
FAB=/sys/kernel/debug/ntb_sim/fabric0
SEED=${1:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
FRAMES=50000

ktap_print_header
ktap_set_plan 5

NVME=$(pci_find 0x010802)
head -c 4194304 /dev/urandom >/tmp/pattern

pair_up() {
	[ "$(cat "$CFS/$A/peers")" = "1 up $PROTO" ] &&
		[ "$(cat "$CFS/$B/peers")" = "0 up $PROTO" ]
}

borrowed() {
	nvme_lend_entry && echo 1 >"$L/available" && borrow_nvme_offer &&
		[ "$(driver_of "$VBDF")" = nvme ] &&
		dd if=/tmp/pattern of="$DISK" bs=1M seek=100 oflag=direct 2>/dev/null &&
		[ "$(cat "$CFS/$B/borrows/00000/state")" = borrowed ] &&
		[ "$(cat "$L/state")" = borrowed ] && pair_up
}
ktap_test_result "nvme_borrowed_by_host_b" borrowed

# Frames of the types whose whole, well-formed messages end a borrow by
# the protocol's own rules are not sent: a HELLO from either host (a peer
# that restarted or speaks another version loses what it lent and
# borrowed), a REVOKE from the lender, a RETURN from the borrower. Bit N
# of the mask is type N (wire.h): A avoids 1 and 6, B 1 and 5; every other
# type goes both ways, replies included.
send_frames() {
	echo "frames $SEED $FRAMES 0x42" >"$FAB/$A/hostile" &
	a=$!
	echo "frames $((SEED + 1)) $FRAMES 0x22" >"$FAB/$B/hostile" &
	b=$!
	wait "$a" && wait "$b"
}

# The number of frames host $1's hostile hook sent since the mark.
frames_sent() {
	lines_since_mark "$1: hostile:" |
		sed -n 's/.*hostile: \([0-9]*\) frames sent.*/\1/p' | tail -n 1
}

# fio write+verify passes on the borrowed drive, one after another until
# /tmp/stop exists; each pass's lines and result go to /tmp/passes.
fio_passes() {
	i=0
	until [ -e /tmp/stop ]; do
		if fio_verified "$DISK" "pass$i" randwrite 4k; then
			echo "pass $i ok"
		else
			echo "pass $i FAILED"
		fi
		i=$((i + 1))
	done >/tmp/passes 2>&1
}

# True if a fio process runs.
fio_runs() {
	grep -qx fio /proc/[0-9]*/comm 2>/dev/null
}

# The frames go while fio runs: they start once its first pass does, and
# fio goes on, pass after pass, until they are all sent.
frames_under_io() {
	echo "# seed $SEED ($(basename "$0") $SEED replays it); $FRAMES frames each way"
	rm -f /tmp/stop /tmp/passes
	log_mark
	fio_passes &
	pid=$!
	wait_for 20 fio_runs && sleep 1
	t0=$(uptime_ms)
	send_frames
	rc=$?
	t=$(($(uptime_ms) - t0))
	during=$(grep -c '^pass' /tmp/passes)
	touch /tmp/stop
	wait "$pid"
	na=$(frames_sent "$A") nb=$(frames_sent "$B")
	sed 's/^\(# \)*/# /' /tmp/passes
	echo "# frames sent: A to B ${na:-none}, B to A ${nb:-none}, $((${na:-0} + ${nb:-0})) in all (>= 10000 wanted), in $t ms, while fio pass $during ran"
	lines_since_mark ": hostile:" | sed 's/^/# /'
	[ "$rc" -eq 0 ] && [ "${na:-0}" -ge "$FRAMES" ] &&
		[ "${nb:-0}" -ge "$FRAMES" ] &&
		grep -q '^pass 0 ok' /tmp/passes && ! grep -q FAILED /tmp/passes
}
ktap_test_result "fio_verifies_while_hostile_frames_go_each_way" frames_under_io

still_borrowed() {
	echo "# borrow $(cat "$CFS/$B/borrows/00000/state"), lend entry $(cat "$L/state"), peers: $(cat "$CFS/$A/peers"); $(cat "$CFS/$B/peers")"
	[ "$(cat "$CFS/$B/borrows/00000/state")" = borrowed ] &&
		[ "$(cat "$L/state")" = borrowed ] && [ "$(cat "$L/borrower")" = 1 ] &&
		pair_up && [ "$(driver_of "$VBDF")" = nvme ] &&
		[ "$(logged_since_mark "node [01] is down|takes back|returned by")" -eq 0 ]
}
ktap_test_result "the_borrow_stays_and_the_peers_stay_up" still_borrowed

refusals_logged() {
	m=$(logged_since_mark "sent a malformed message")
	s=$(logged_since_mark "callbacks suppressed")
	echo "# logged since the frames: $m malformed messages, $s lines of suppressed callbacks; ntb_lending's lines, numbers as N:"
	dmesg | sed -n "/$LOG_MARK/,\$p" | grep ntb_lending | sed -e 's/^\[[ 0-9.]*\] //' \
		-e 's/[0-9][0-9]*/N/g' | sort | uniq -c | sed 's/^/# /'
	[ "$m" -gt 0 ]
}
ktap_test_result "refusals_logged_rate_limited" refusals_logged

# True if neither host's channel holds a message to send or to take.
queues_drained() {
	! grep -vq ' tx 0 rx 0 ' /sys/kernel/debug/ntb_lending/*/queues
}

# The channel and the drive are as before: the queues drain, what was
# written before the frames reads back, and fio verifies once more.
intact_after() {
	wait_for 20 queues_drained || return 1
	dd if="$DISK" of=/tmp/got bs=1M skip=100 count=4 iflag=direct 2>/dev/null &&
		cmp /tmp/pattern /tmp/got && fio_verified "$DISK" after randwrite 4k
}
ktap_test_result "the_drive_reads_back_and_verifies_after" intact_after

ktap_finished
