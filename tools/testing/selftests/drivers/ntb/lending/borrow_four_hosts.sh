#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Four hosts on two fabrics, each host lending and borrowing at once: on
# fabric 0 A lends an nvme to B and B an e1000e to A; on fabric 1 C and D
# do the same with the other pair. fio verifies data on both borrowed
# drives while the two borrowed NICs, each borrowed over its own fabric,
# ping each other. Nothing of one fabric leaks into the other. Then a
# borrow on B races the lender's unavailable on A, round after round:
# exactly one of the two wins each time, and the loser changes nothing.
# vm-devices: nvme nvme e1000e e1000e edu edu edu edu
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending

ktap_print_header
ktap_set_plan 8

NVME0=$(pci_find_all 0x010802 | sed -n 1p)
NVME1=$(pci_find_all 0x010802 | sed -n 2p)
NIC0=$(pci_find_all 0x020000 | sed -n 1p)
NIC1=$(pci_find_all 0x020000 | sed -n 2p)

four_hosts_lend() {
	modprobe nvme && modprobe e1000e && wait_for 40 has_disk "$NVME0" &&
		wait_for 40 has_disk "$NVME1" && sim_two_hosts intel-32g &&
		sim_fabric 1 intel-32g 2 && C=$(sim_host_dev 1 0) && D=$(sim_host_dev 1 1) &&
		modprobe ntb_lending || return 1
	echo "# fabric 0: A $A, B $B; fabric 1: C $C, D $D"
	wait_for 20 file_is "$CFS/$B/peers" "0 up $PROTO" &&
		wait_for 20 file_is "$CFS/$D/peers" "0 up $PROTO" &&
		lend_to "$A" 1 "$NVME0" && lend_to "$B" 0 "$NIC0" &&
		lend_to "$C" 1 "$NVME1" && lend_to "$D" 0 "$NIC1" &&
		wait_for 20 offered "$B" 00000 && wait_for 20 offered "$A" 10000 &&
		wait_for 20 offered "$D" 00000 && wait_for 20 offered "$C" 10000
}
ktap_test_result "four_hosts_on_two_fabrics_each_lend" four_hosts_lend

# Each fabric sees its own offers only, under the same Ids.
fabrics_apart() {
	[ "$(ls "$CFS/$B/offers")" = 00000 ] && [ "$(ls "$CFS/$D/offers")" = 00000 ] &&
		[ "$(cat "$CFS/$B/offers/00000/bdf")" = "$NVME0" ] &&
		[ "$(cat "$CFS/$D/offers/00000/bdf")" = "$NVME1" ] &&
		[ "$(cat "$CFS/$A/offers/10000/bdf")" = "$NIC0" ] &&
		[ "$(cat "$CFS/$C/offers/10000/bdf")" = "$NIC1" ]
}
ktap_test_result "each_fabric_sees_only_its_own_offers" fabrics_apart

four_borrows() {
	mkdir "$CFS/$B/borrows/00000" "$CFS/$A/borrows/10000" \
		"$CFS/$D/borrows/00000" "$CFS/$C/borrows/10000" || return 1
	VD0=$(cat "$CFS/$B/borrows/00000/local_bdf")
	VN0=$(cat "$CFS/$A/borrows/10000/local_bdf")
	VD1=$(cat "$CFS/$D/borrows/00000/local_bdf")
	VN1=$(cat "$CFS/$C/borrows/10000/local_bdf")
	echo "# B has $VD0, A $VN0, D $VD1, C $VN1"
	[ "$(printf '%s\n' "${VD0%%:*}" "${VN0%%:*}" "${VD1%%:*}" "${VN1%%:*}" | sort -u | wc -l)" -eq 4 ] &&
		wait_for 60 has_disk "$VD0" && wait_for 60 has_disk "$VD1" &&
		wait_for 40 has_netdev "$VN0" && wait_for 40 has_netdev "$VN1" &&
		[ "$(driver_of "$VD0")" = nvme ] && [ "$(driver_of "$VD1")" = nvme ] &&
		[ "$(driver_of "$VN0")" = e1000e ] && [ "$(driver_of "$VN1")" = e1000e ]
}
ktap_test_result "four_borrows_in_four_pci_domains_under_stock_drivers" four_borrows

# The NICs borrowed by A and C share QEMU's hub: they ping each other
# while fio runs on the drives borrowed by B and D.
io_everywhere() {
	adev=$(netdev_of "$VN0") && cdev=$(netdev_of "$VN1") &&
		into_netns a "$VN0" 1 && into_netns c "$VN1" 2 &&
		wait_for 40 carrier a "$adev" && wait_for 40 carrier c "$cdev" || return 1
	ip netns exec a ping -6 -c 20 -i 0.2 -W 5 "fe80::2%$adev" >/tmp/ping 2>&1 &
	ping_pid=$!
	fio_verified "$(disk_of "$VD0")" b randwrite 4k >/tmp/fio_b &
	fio_b=$!
	fio_verified "$(disk_of "$VD1")" d randwrite 4k >/tmp/fio_d || return 1
	wait "$fio_b" || return 1
	wait "$ping_pid" || return 1
	sed 's/^# /# B: /' /tmp/fio_b
	sed 's/^# /# D: /' /tmp/fio_d
	tail -n 2 /tmp/ping | sed 's/^/# /'
	grep -q ' 0% packet loss' /tmp/ping
}
ktap_test_result "fio_on_two_borrowed_drives_and_ping_between_two_borrowed_nics" io_everywhere

all_returned() {
	ip netns del a && ip netns del c &&
		rmdir "$CFS/$B/borrows/00000" "$CFS/$A/borrows/10000" \
			"$CFS/$D/borrows/00000" "$CFS/$C/borrows/10000" || return 1
	for h in "$A" "$B" "$C" "$D"; do
		[ "$(cat "$CFS/$h/lends/"*/state)" = available ] || return 1
		[ -z "$(cat "$CFS/$h/windows")" ] || return 1
	done
}
ktap_test_result "all_four_returned_and_windows_closed" all_returned

# A borrow on B and an unavailable on A at the same moment: either B
# borrows the drive and A's write gets EBUSY, or A takes the drive back
# and B's mkdir fails; never both, never neither.
race_rounds() {
	L=$CFS/$A/lends/$NVME0
	borrows=0 withdraws=0 round=0
	while [ $round -lt 12 ]; do
		# One or the other starts first, by 0 to 30 ms: both can win.
		lead=0.0$((round / 2 % 4 * 1))
		da=0 db=$lead && [ $((round % 2)) -eq 1 ] && da=$lead db=0
		(sleep "$db" && mkdir "$CFS/$B/borrows/00000" 2>/dev/null && echo b >/tmp/won_b) &
		p=$!
		(sleep "$da" && echo 0 >"$L/available" 2>/dev/null && echo a >/tmp/won_a) &
		wait "$p" $!
		if [ -e /tmp/won_b ] && [ ! -e /tmp/won_a ]; then
			[ "$(cat "$L/state")" = borrowed ] &&
				wait_for 60 has_disk "$(cat "$CFS/$B/borrows/00000/local_bdf")" &&
				rmdir "$CFS/$B/borrows/00000" || return 1
			borrows=$((borrows + 1))
		elif [ -e /tmp/won_a ] && [ ! -e /tmp/won_b ]; then
			[ "$(cat "$L/state")" = local ] && [ -z "$(ls "$CFS/$B/borrows")" ] &&
				[ "$(driver_of "$NVME0")" = nvme ] || return 1
			withdraws=$((withdraws + 1))
		else
			echo "# round $round: borrow $(cat /tmp/won_b 2>/dev/null), unavailable $(cat /tmp/won_a 2>/dev/null)"
			return 1
		fi
		rm -f /tmp/won_a /tmp/won_b
		[ "$(cat "$L/state")" = available ] || echo 1 >"$L/available" || return 1
		wait_for 20 offered "$B" 00000 || return 1
		round=$((round + 1))
	done
	echo "# $round rounds: the borrow won $borrows, the unavailable $withdraws"
}
ktap_test_result "borrow_racing_unavailable_has_exactly_one_winner" race_rounds

# The other fabric went on unharmed: D borrows C's drive again.
other_fabric_unharmed() {
	wait_for 20 offered "$D" 00000 && mkdir "$CFS/$D/borrows/00000" &&
		wait_for 60 has_disk "$(cat "$CFS/$D/borrows/00000/local_bdf")" &&
		rmdir "$CFS/$D/borrows/00000"
}
ktap_test_result "the_other_fabric_goes_on_unharmed" other_fabric_unharmed

all_undone() {
	for h in "$A" "$B" "$C" "$D"; do
		for d in "$CFS/$h"/lends/* "$CFS/$h"/connections/*; do
			[ ! -e "$d" ] || rmdir "$d" || return 1
		done
	done
	wait_for 60 has_disk "$NVME0" && wait_for 60 has_disk "$NVME1" &&
		wait_for 40 has_netdev "$NIC0" && wait_for 40 has_netdev "$NIC1" &&
		rmmod ntb_lending && rmmod ntb_sim
}
ktap_test_result "everything_undone_and_module_unloads" all_undone

ktap_finished
