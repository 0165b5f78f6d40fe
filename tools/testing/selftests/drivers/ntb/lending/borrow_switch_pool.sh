#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A switch port's devices are a pool too. Four hosts on ntb_sim's idt-32g
# switch, whose 14 doorbell bits give each port a share of three. Host A
# lends three nvme drives to nodes 1, 2 and 3 at once, which borrow them
# at the same moment; each drive rings a bit of A's share of its own, A
# translates a window onto each borrower's memory, and fio verifies the
# three drives together. A fourth drive finds A's bits all taken: node 1's
# borrow is refused with ENOSPC and a line naming the devices that ring
# them, and nothing changes. The drives are returned in neither the
# borrow's order nor its reverse, and the fourth borrowed once a bit is
# free. Then every host lends a drive to the next and borrows one from the
# one before, all at once, fio verify on all four.
# vm-devices: nvme nvme nvme nvme edu edu edu edu
# vm-timeout: 900
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending

ktap_print_header
ktap_set_plan 6

N0=$(pci_find_all 0x010802 | sed -n 1p)
N1=$(pci_find_all 0x010802 | sed -n 2p)
N2=$(pci_find_all 0x010802 | sed -n 3p)
N3=$(pci_find_all 0x010802 | sed -n 4p)

host() {
	sim_host_dev 0 "$1"
}

local_bdf() {
	cat "$CFS/$(host "$1")/borrows/$2/local_bdf"
}

all_up() {
	for p in 0 1 2 3; do
		[ "$(grep -c " up $PROTO\$" "$CFS/$(host $p)/peers")" -eq 3 ] || return 1
	done
}

# Borrow offers at once: arguments NODE:ID ...; true if every mkdir was.
borrow_at_once() {
	rm -f /tmp/borrowed.*
	for b in "$@"; do
		(mkdir "$CFS/$(host "${b%%:*}")/borrows/${b#*:}" && touch "/tmp/borrowed.$b") &
	done
	wait
	for b in "$@"; do
		[ -e "/tmp/borrowed.$b" ] || return 1
	done
	for b in "$@"; do
		wait_for 60 has_disk "$(local_bdf "${b%%:*}" "${b#*:}")" || return 1
	done
}

# fio verify at once on the drives borrowed as NODE:ID ...
fio_at_once() {
	pids=
	for b in "$@"; do
		fio_verified "$(disk_of "$(local_bdf "${b%%:*}" "${b#*:}")")" "n${b%%:*}" randwrite 4k \
			>"/tmp/fio.$b" 2>&1 &
		pids="$pids $!"
	done
	rc=0
	for p in $pids; do
		wait "$p" || rc=1
	done
	for b in "$@"; do
		sed "s/^# /# node ${b%%:*} ${b#*:}: /" "/tmp/fio.$b"
	done
	return $rc
}

four_hosts_up() {
	modprobe nvme && wait_for 40 has_disk "$N0" && wait_for 40 has_disk "$N1" &&
		wait_for 40 has_disk "$N2" && wait_for 40 has_disk "$N3" &&
		sim_prepare_adapters && modprobe ntb_sim && sim_fabric 0 idt-32g 4 &&
		modprobe ntb_lending && wait_for 20 all_up || return 1
	A=$(host 0)
	echo "# $A peers: $(tr '\n' ';' <"$CFS/$A/peers")"
}
ktap_test_result "four_hosts_on_a_switch_speak_the_protocol" four_hosts_up

one_lender_three_borrowers() {
	lend_to "$A" 1 "$N0" "$N1" "$N2" && mkdir "$CFS/$A/connections/2" "$CFS/$A/connections/3" &&
		wait_for 20 offered "$(host 1)" 00000 && wait_for 20 offered "$(host 2)" 00001 &&
		wait_for 20 offered "$(host 3)" 00002 &&
		borrow_at_once 1:00000 2:00001 3:00002 || return 1
	echo "# $A doorbells: $(tr '\n' ';' <"$CFS/$A/doorbells")"
	echo "# $A windows: $(tr '\n' ';' <"$CFS/$A/windows")"
	[ "$(awk '$2 == "lent" { print $1 }' "$CFS/$A/doorbells" | sort -u | wc -l)" -eq 3 ] &&
		[ "$(grep -cE '^[0-9]+ [123] memory ' "$CFS/$A/windows")" -eq 3 ] &&
		[ "$(grep -c ' device ' "$CFS/$(host 2)/windows")" -eq 1 ] &&
		[ "$(grep -c ' vectors 00001$' "$CFS/$(host 2)/doorbells")" -eq 1 ] &&
		fio_at_once 1:00000 2:00001 3:00002
}
ktap_test_result "one_lender_lends_three_drives_to_three_borrowers_at_once" one_lender_three_borrowers

bits_run_out() {
	B=$(host 1)
	mkdir "$CFS/$A/lends/$N3" && echo 1 >"$CFS/$A/lends/$N3/available" &&
		wait_for 20 offered "$B" 00003 || return 1
	before_a="$(cat "$CFS/$A/doorbells" "$CFS/$A/windows")"
	before_b="$(cat "$CFS/$B/doorbells" "$CFS/$B/windows")"
	log_mark
	err=$(mkdir_err "$CFS/$B/borrows/00003")
	echo "# mkdir borrows/00003: $err"
	lines_since_mark "cannot be lent" | sed 's/^/# A: /'
	lines_since_mark "borrows/00003" | sed 's/^/# B: /'
	[ "$err" = "No space left on device" ] &&
		[ "$(lines_since_mark "$N3: cannot be lent to node 1: the 3 doorbell bits of this host's share it may take are all rung by other devices ($N0 to node 1, $N1 to node 2, $N2 to node 3)" | wc -l)" -eq 1 ] &&
		[ "$(lines_since_mark "borrows/00003: node 0 has no room left for the device" | wc -l)" -eq 1 ] &&
		[ ! -e "$CFS/$B/borrows/00003" ] && offered "$B" 00003 &&
		[ "$(cat "$CFS/$A/doorbells" "$CFS/$A/windows")" = "$before_a" ] &&
		[ "$(cat "$CFS/$B/doorbells" "$CFS/$B/windows")" = "$before_b" ] &&
		fio_at_once 1:00000
}
ktap_test_result "a_fourth_drive_finds_the_bits_taken_enospc_and_nothing_changes" bits_run_out

# Returned 2, 1, 3; the fourth drive borrowed by node 1 once a bit is free.
returned_in_any_order() {
	rmdir "$CFS/$(host 2)/borrows/00001" && wait_for 20 offered "$(host 2)" 00001 &&
		fio_at_once 1:00000 3:00002 &&
		rmdir "$CFS/$(host 1)/borrows/00000" && wait_for 20 offered "$(host 1)" 00000 &&
		borrow_at_once 1:00003 && fio_at_once 3:00002 1:00003 &&
		rmdir "$CFS/$(host 3)/borrows/00002" "$CFS/$(host 1)/borrows/00003" || return 1
	for f in "$N0" "$N1" "$N2" "$N3"; do
		rmdir "$CFS/$A/lends/$f" || return 1
	done
	rmdir "$CFS/$A/connections/1" "$CFS/$A/connections/2" "$CFS/$A/connections/3" &&
		[ -z "$(cat "$CFS/$A/windows")" ] && [ -z "$(cat "$CFS/$A/doorbells")" ] &&
		wait_for 60 has_disk "$N0" && wait_for 60 has_disk "$N3"
}
ktap_test_result "returned_in_any_order_and_a_freed_bit_lends_the_fourth" returned_in_any_order

# Host p lends drive Np to node p+1 (mod 4) and borrows from node p-1.
every_host_lends_and_borrows() {
	lend_to "$(host 0)" 1 "$N0" && lend_to "$(host 1)" 2 "$N1" &&
		lend_to "$(host 2)" 3 "$N2" && lend_to "$(host 3)" 0 "$N3" &&
		wait_for 20 offered "$(host 1)" 00000 && wait_for 20 offered "$(host 2)" 10000 &&
		wait_for 20 offered "$(host 3)" 20000 && wait_for 20 offered "$(host 0)" 30000 &&
		borrow_at_once 1:00000 2:10000 3:20000 0:30000 || return 1
	for p in 0 1 2 3; do
		h=$(host $p)
		echo "# node $p windows: $(tr '\n' ';' <"$CFS/$h/windows") doorbells: $(tr '\n' ';' <"$CFS/$h/doorbells")"
		[ "$(grep -c ' memory ' "$CFS/$h/windows")" -eq 1 ] &&
			[ "$(grep -c ' device ' "$CFS/$h/windows")" -eq 1 ] &&
			[ "$(grep -c ' lent ' "$CFS/$h/doorbells")" -eq 1 ] &&
			[ "$(grep -c ' vectors ' "$CFS/$h/doorbells")" -eq 1 ] || return 1
	done
	fio_at_once 1:00000 2:10000 3:20000 0:30000
}
ktap_test_result "every_host_lends_a_drive_and_borrows_one_at_once" every_host_lends_and_borrows

all_undone() {
	rmdir "$CFS/$(host 1)/borrows/00000" "$CFS/$(host 2)/borrows/10000" \
		"$CFS/$(host 3)/borrows/20000" "$CFS/$(host 0)/borrows/30000" || return 1
	for p in 0 1 2 3; do
		for d in "$CFS/$(host $p)"/lends/* "$CFS/$(host $p)"/connections/*; do
			[ ! -e "$d" ] || rmdir "$d" || return 1
		done
		[ -z "$(cat "$CFS/$(host $p)/windows")" ] || return 1
	done
	for f in "$N0" "$N1" "$N2" "$N3"; do
		wait_for 60 has_disk "$f" || return 1
	done
	rmmod ntb_lending && rmmod ntb_sim
}
ktap_test_result "everything_undone_and_module_unloads" all_undone

ktap_finished
