#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Five hosts on a switch (ntb_sim's idt-32g: message registers, sender-set
# windows, doorbells that reach every peer). Host A lends its nvme to
# nodes 1-3 and not to node 4; host C lends an e1000e to node 3. B, C
# and D race to borrow the nvme, round after round: exactly one wins,
# the others get EBUSY. While B's stock nvme driver runs fio, D's
# borrowed NIC pings a local one: two borrows from two lenders on one
# switch, each device's vectors on a doorbell bit of its lender's share.
# A lender then lends to two nodes and a node borrows from two lenders,
# each device on a window and a bit of its own; a link loss mid-I/O
# removes the drive from B alone, and another node borrows it next.
# vm-devices: nvme e1000e e1000e edu edu edu edu edu
# vm-timeout: 1200
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
FAB=/sys/kernel/debug/ntb_sim/fabric0

ktap_print_header
ktap_set_plan 9

NVME=$(pci_find 0x010802)
NIC=$(pci_find_all 0x020000 | sed -n 1p)
PEER_NIC=$(pci_find_all 0x020000 | sed -n 2p)

host() {
	sim_host_dev 0 "$1"
}

offer_is() {
	[ "$(cat "$CFS/$(host "$1")/offers/$2/state" 2>/dev/null)" = "$3" ]
}

all_up() {
	for p in 0 1 2 3 4; do
		[ "$(grep -c " up $PROTO\$" "$CFS/$(host $p)/peers")" -eq 4 ] || return 1
	done
}

five_hosts_up() {
	modprobe nvme && modprobe e1000e && wait_for 40 has_disk "$NVME" &&
		sim_prepare_adapters && modprobe ntb_sim && sim_fabric 0 idt-32g 5 &&
		modprobe ntb_lending && wait_for 20 all_up || return 1
	A=$(host 0) C=$(host 2)
	L=$CFS/$A/lends/$NVME
	echo "# $(host 0) peers: $(tr '\n' ';' <"$CFS/$A/peers")"
}
ktap_test_result "five_hosts_on_a_switch_speak_the_protocol" five_hosts_up

offered_to_connected_nodes() {
	mkdir "$CFS/$A/connections/1" "$CFS/$A/connections/2" \
		"$CFS/$A/connections/3" "$L" && echo 1 >"$L/available" &&
		wait_for 20 offer_is 1 00000 available && wait_for 20 offer_is 2 00000 available &&
		wait_for 20 offer_is 3 00000 available || return 1
	sleep 1
	[ -z "$(ls "$CFS/$(host 4)/offers")" ] &&
		[ "$(mkdir_err "$CFS/$(host 4)/borrows/00000")" = "No such file or directory" ]
}
ktap_test_result "offered_to_connected_nodes_only" offered_to_connected_nodes

# Nodes 1, 2 and 3 mkdir the same borrow at once, the first of them
# ahead by 0, 5 or 10 ms, changing with round $1; print the winners.
race() {
	for p in 1 2 3; do
		lag=$((($1 + p) % 3 * 5))
		(sleep "0.0$((lag / 10))$((lag % 10))" &&
			mkdir "$CFS/$(host $p)/borrows/00000" 2>"/tmp/race$p" && echo "$p" >"/tmp/won$p") &
	done
	wait
	cat /tmp/won* 2>/dev/null
}
race_rounds() {
	round=0 tally=
	while [ $round -lt 6 ]; do
		rm -f /tmp/won* /tmp/race*
		won=$(race $round)
		tally="$tally $won"
		[ "$(echo "$won" | wc -w)" -eq 1 ] && [ "$(cat "$L/borrower")" = "$won" ] || return 1
		for p in 1 2 3; do
			[ "$p" = "$won" ] || grep -q "Device or resource busy" "/tmp/race$p" || return 1
		done
		V=$(cat "$CFS/$(host "$won")/borrows/00000/local_bdf")
		wait_for 60 has_disk "$V" || return 1
		for p in 1 2 3; do
			wait_for 20 offer_is "$p" 00000 borrowed || return 1
		done
		[ $round -eq 5 ] && break
		rmdir "$CFS/$(host "$won")/borrows/00000" && wait_for 20 offer_is 1 00000 available || return 1
		round=$((round + 1))
	done
	WINNER=$won
	echo "# winners of 6 rounds:$tally"
}
ktap_test_result "three_nodes_race_for_the_drive_and_one_wins" race_rounds

second_lender() {
	D=$(host 3)
	mkdir "$CFS/$C/connections/3" "$CFS/$C/lends/$NIC" &&
		echo 1 >"$CFS/$C/lends/$NIC/available" && wait_for 20 offer_is 3 20000 available &&
		mkdir "$CFS/$D/borrows/20000" || return 1
	VNIC=$(cat "$CFS/$D/borrows/20000/local_bdf")
	echo "# node 3 borrows the NIC as $VNIC; $(tr '\n' ';' <"$CFS/$D/doorbells")"
	wait_for 40 has_netdev "$VNIC" && [ "$(driver_of "$VNIC")" = e1000e ]
}
# With the drive out, node 3 may not hold it: give it to node 1 first.
give_drive_to_node1() {
	[ "$WINNER" = 1 ] && return 0
	rmdir "$CFS/$(host "$WINNER")/borrows/00000" && wait_for 20 offer_is 1 00000 available &&
		mkdir "$CFS/$(host 1)/borrows/00000" && WINNER=1 &&
		wait_for 60 has_disk "$(cat "$CFS/$(host 1)/borrows/00000/local_bdf")"
}
two_lenders() {
	give_drive_to_node1 && second_lender
}
ktap_test_result "a_second_lender_lends_a_nic_on_the_same_switch" two_lenders

io_on_both() {
	B=$(host 1)
	V=$(cat "$CFS/$B/borrows/00000/local_bdf")
	ndev=$(netdev_of "$VNIC") && pdev=$(netdev_of "$PEER_NIC") || return 1
	into_netns d "$VNIC" 1 && into_netns peer "$PEER_NIC" 2 &&
		wait_for 40 carrier d "$ndev" && wait_for 40 carrier peer "$pdev" || return 1
	a_irqs=$(named_irqs "$A") b_irqs=$(named_irqs "$B")
	ip netns exec d ping -6 -c 20 -i 0.2 -W 5 "fe80::2%$ndev" >/tmp/ping 2>&1 &
	ping_pid=$!
	fio_verified "$(disk_of "$V")" sw randwrite 4k || return 1
	wait "$ping_pid" || return 1
	tail -n 2 /tmp/ping | sed 's/^/# /'
	# On a switch ntb_sim's adapter forwards the device's doorbell writes
	# to the peers, which a switch does in hardware.
	echo "# interrupts during fio: lender's adapter (forwarding) $(($(named_irqs "$A") - a_irqs)), borrower's adapter $(($(named_irqs "$B") - b_irqs))"
	grep -q ' 0% packet loss' /tmp/ping && [ $(($(named_irqs "$B") - b_irqs)) -gt 0 ]
}
ktap_test_result "fio_on_the_borrowed_drive_while_the_borrowed_nic_pings" io_on_both

# Synchronous jobs: on a switch the lost link stops the drive's doorbells
# at once (on the two-port profiles ntb_sim still delivers those the
# device writes), and fio's libaio jobs in flight then loop in fio itself,
# making no system call, until their runtime ends; a psync read gets EIO.
link_loss_mid_io() {
	fio --name=loss --filename="$(disk_of "$V")" --rw=randread --bs=4k --direct=1 \
		--ioengine=psync --numjobs=4 --time_based --runtime=60 >/tmp/fio_loss 2>&1 &
	fio_pid=$!
	sleep 2
	echo "0 1 1" >"$FAB/link_down"
	wait_for 60 fio_done "$fio_pid" || return 1
	wait "$fio_pid"
	echo "# fio after the link loss exited $?, reporting EIO $(grep -c 'Input/output error' /tmp/fio_loss) times"
	wait_for 20 file_is "$CFS/$(host 1)/borrows/00000/state" lost &&
		wait_for 20 file_is "$L/state" available && [ -z "$(cat "$L/borrower")" ] &&
		wait_for 20 offer_is 2 00000 available &&
		[ "$(cat "$CFS/$D/borrows/20000/state")" = borrowed ] &&
		ip netns exec d ping -6 -c 3 -W 5 "fe80::2%$ndev" >/dev/null
}
ktap_test_result "link_loss_mid_io_takes_the_drive_from_node_1_alone" link_loss_mid_io

borrowed_by_another() {
	mkdir "$CFS/$(host 2)/borrows/00000" &&
		wait_for 60 has_disk "$(cat "$CFS/$(host 2)/borrows/00000/local_bdf")" &&
		echo "0 1 0" >"$FAB/link_down" && wait_for 20 all_up &&
		rmdir "$CFS/$(host 1)/borrows/00000" &&
		fio_verified "$(disk_of "$(cat "$CFS/$(host 2)/borrows/00000/local_bdf")")" after randwrite 4k
}
ktap_test_result "node_2_borrows_it_next_and_the_link_comes_back" borrowed_by_another

# A lends a second device while node 2 holds its drive, to node 3, which
# borrows C's NIC: A lends to two nodes, node 3 borrows from two lenders.
# Each lent device rings a bit of A's share of its own, A opens a window
# onto each borrower's memory, node 3 one onto each device.
two_by_two() {
	ip netns del peer && wait_for 40 has_netdev "$PEER_NIC" &&
		mkdir "$CFS/$A/lends/$PEER_NIC" && echo 1 >"$CFS/$A/lends/$PEER_NIC/available" &&
		wait_for 20 offer_is 3 00001 available &&
		mkdir "$CFS/$D/borrows/00001" || return 1
	V2=$(cat "$CFS/$D/borrows/00001/local_bdf")
	echo "# $A doorbells: $(tr '\n' ';' <"$CFS/$A/doorbells") windows: $(tr '\n' ';' <"$CFS/$A/windows")"
	echo "# $D windows: $(tr '\n' ';' <"$CFS/$D/windows")"
	bits=$(awk '$2 == "lent" { print $1 }' "$CFS/$A/doorbells" | sort -u | wc -l)
	[ "$bits" -eq 2 ] &&
		[ "$(grep -cE '^[0-9]+ [23] memory ' "$CFS/$A/windows")" -eq 2 ] &&
		[ "$(grep -cE '^[0-9]+ [02] device ' "$CFS/$D/windows")" -eq 2 ] &&
		wait_for 40 has_netdev "$V2" && [ "$(driver_of "$V2")" = e1000e ] &&
		[ "$(cat "$CFS/$D/borrows/20000/state")" = borrowed ] &&
		fio_verified "$(disk_of "$(cat "$CFS/$(host 2)/borrows/00000/local_bdf")")" two randwrite 4k &&
		rmdir "$CFS/$D/borrows/00001" && wait_for 20 offer_is 3 00001 available &&
		[ "$(grep -c ' lent ' "$CFS/$A/doorbells")" -eq 1 ] &&
		[ "$(grep -c ' memory ' "$CFS/$A/windows")" -eq 1 ] &&
		rmdir "$CFS/$A/lends/$PEER_NIC" && wait_for 40 has_netdev "$PEER_NIC"
}
ktap_test_result "a_lender_lends_to_two_nodes_and_a_node_borrows_from_two" two_by_two

all_undone() {
	ip netns del d &&
		rmdir "$CFS/$(host 2)/borrows/00000" "$CFS/$D/borrows/20000" || return 1
	for p in 0 1 2 3 4; do
		for d in "$CFS/$(host $p)"/lends/* "$CFS/$(host $p)"/connections/*; do
			[ ! -e "$d" ] || rmdir "$d" || return 1
		done
		[ -z "$(cat "$CFS/$(host $p)/windows")" ] || return 1
	done
	wait_for 60 has_disk "$NVME" && wait_for 40 has_netdev "$NIC" &&
		rmmod ntb_lending && rmmod ntb_sim
}
ktap_test_result "everything_undone_and_module_unloads" all_undone

ktap_finished
