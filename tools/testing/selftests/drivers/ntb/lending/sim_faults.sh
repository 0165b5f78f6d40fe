#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ntb_sim's fault injection, hostile-peer hook, device-written doorbells,
# host unplug under traffic and refused commands, each with its outcome
# checked through ntb_tool or the sysfs write's errno.
# vm-devices: edu edu edu edu arena
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"

FAB=/sys/kernel/debug/ntb_sim/fabric0
TOOL=/sys/kernel/debug/ntb_tool

ktap_print_header
ktap_set_plan 18

sim_prepare_adapters
modprobe ntb_sim
sim_fabric 0 intel 2
modprobe ntb_tool
A=$(sim_host_dev 0 0)
B=$(sim_host_dev 0 1)
for d in "$TOOL"/*/link; do echo Y >"$d"; done
sleep 1

db_of_b() {
	echo $(($(cat "$TOOL/$B/db")))
}
clear_db_b() {
	echo "c $(cat "$TOOL/$B/db_valid_mask")" >"$TOOL/$B/db"
}

device_rings_peer_without_writer_irq() {
	clear_db_b
	before=$(named_irqs "$A")
	echo "device 5" >"$FAB/$A/ring" || return 1
	echo "# $(cat "$FAB/$A/ring") ns from the device write to the peer's interrupt"
	[ "$(db_of_b)" -eq 32 ] && [ "$(named_irqs "$A")" -eq "$before" ]
}
ktap_test_result "device_written_doorbell_rings_peer_no_writer_irq" \
	device_rings_peer_without_writer_irq

concurrent_writers_lose_no_bit() {
	clear_db_b
	for bit in 0 1 2 3 4 5 6 7; do
		echo "cpu $bit" >"$FAB/$A/ring" &
	done
	echo "device 9" >"$FAB/$A/ring" &
	echo "db 0x7000" >"$FAB/$A/hostile" &
	wait
	[ "$(db_of_b)" -eq $((0x72ff)) ]
}
ktap_test_result "concurrent_doorbell_writers_lose_no_bit" concurrent_writers_lose_no_bit

link_held_down_and_released() {
	echo "0 1 1" >"$FAB/link_down"
	sleep 0.5
	[ "$(cat "$TOOL/$A/peer0/link")" = N ] && [ "$(cat "$TOOL/$B/peer0/link")" = N ] || return 1
	echo "0 1 0" >"$FAB/link_down"
	sleep 0.5
	[ "$(cat "$TOOL/$A/peer0/link")" = Y ] && [ "$(cat "$TOOL/$B/peer0/link")" = Y ]
}
ktap_test_result "link_down_fault_seen_by_both_and_released" link_held_down_and_released

# Rings arrive by interrupt, which a loaded host may hold back a while.
db_is() {
	[ "$(db_of_b)" -eq "$1" ]
}

dropped_doorbell() {
	clear_db_b
	echo 1 >"$FAB/drop_db"
	echo "s 0x1" >"$TOOL/$A/peer_db"
	sleep 0.2
	[ "$(db_of_b)" -eq 0 ] || return 1
	echo "s 0x1" >"$TOOL/$A/peer_db"
	wait_for 10 db_is 1 && [ "$(cat "$FAB/drop_db")" -eq 0 ]
}
ktap_test_result "drop_db_drops_exactly_one_ring" dropped_doorbell

delayed_and_corrupted_doorbells() {
	clear_db_b
	echo 500 >"$FAB/delay_ms"
	echo "s 0x4" >"$TOOL/$A/peer_db"
	early=$(db_of_b)
	wait_for 10 db_is 4 || return 1
	echo 0 >"$FAB/delay_ms"
	[ "$early" -eq 0 ] || return 1
	clear_db_b
	echo 1 >"$FAB/corrupt_db"
	echo "s 0x2" >"$TOOL/$A/peer_db"
	wait_for 10 db_is 3
}
ktap_test_result "delay_ms_holds_a_ring_and_corrupt_db_flips_bit0" \
	delayed_and_corrupted_doorbells

delayed_write_lost_with_the_link() {
	echo 300 >"$FAB/delay_ms"
	echo 200 >"$TOOL/$A/peer0/spad4"
	echo "0 1 1" >"$FAB/link_down"
	sleep 0.6
	echo "0 1 0" >"$FAB/link_down"
	echo 0 >"$FAB/delay_ms"
	sleep 0.5
	[ $(($(cat "$TOOL/$B/spad4"))) -ne 200 ]
}
ktap_test_result "delayed_write_in_flight_is_lost_when_the_link_drops" \
	delayed_write_lost_with_the_link

spad_faults() {
	echo 1 >"$FAB/drop_spad"
	echo 100 >"$TOOL/$A/peer0/spad2"
	[ $(($(cat "$TOOL/$B/spad2"))) -ne 100 ] || return 1
	echo 1 >"$FAB/corrupt_spad"
	echo 100 >"$TOOL/$A/peer0/spad2"
	[ $(($(cat "$TOOL/$B/spad2"))) -eq 101 ] || return 1
	echo 100 >"$TOOL/$A/peer0/spad2"
	[ $(($(cat "$TOOL/$B/spad2"))) -eq 100 ]
}
ktap_test_result "drop_and_corrupt_spad_hit_one_write_each" spad_faults

failed_window() {
	echo 1 >"$FAB/fail_mw"
	! echo 65536 >"$TOOL/$B/peer0/mw_trans0" 2>/dev/null || return 1
	echo 65536 >"$TOOL/$B/peer0/mw_trans0" &&
		grep -q 'DMA Address' "$TOOL/$B/peer0/mw_trans0" &&
		echo 0 >"$TOOL/$B/peer0/mw_trans0"
}
ktap_test_result "fail_mw_fails_one_translation" failed_window

hostile_writes() {
	echo "spad 0 3 0xdeadbeef" >"$FAB/$A/hostile" &&
		[ $(($(cat "$TOOL/$B/spad3"))) -eq $((0xdeadbeef)) ] &&
		! echo "spad 0 99 1" >"$FAB/$A/hostile" 2>/dev/null &&
		! echo "bogus" >"$FAB/$A/hostile" 2>/dev/null
}
ktap_test_result "hostile_peer_writes_raw_scratchpads" hostile_writes

# Host unplug and replug while ntb_pingpong keeps doorbells and
# scratchpads busy between the two hosts.
rmmod ntb_tool
modprobe ntb_pingpong
sleep 2
pp_count() {
	cat "/sys/kernel/debug/ntb_pingpong/$(sim_host_dev 0 0)/count"
}
unplug_replug_under_traffic() {
	before=$(pp_count)
	echo "0 1" >"$SIM_SYSFS/del_host" || return 1
	sleep 1
	echo "0 1" >"$SIM_SYSFS/new_host" || return 1
	sleep 5
	[ "$(pp_count)" -gt "$before" ]
}
ktap_test_result "host_unplug_and_replug_under_pingpong_traffic" unplug_replug_under_traffic
rmmod ntb_pingpong

# A message fabric: messages dropped and corrupted.
sim_fabric 1 idt 2
modprobe ntb_tool
for d in "$TOOL"/*/link; do echo Y >"$d"; done
sleep 1
F1=/sys/kernel/debug/ntb_sim/fabric1
C=$(sim_host_dev 1 0)
D=$(sim_host_dev 1 1)
msg_faults() {
	echo 1 >"$F1/drop_msg"
	echo 0x40 >"$TOOL/$C/peer0/msg1"
	# Message 1's inbound status bit, where IDT (and ntb_sim) has it.
	[ $(($(cat "$TOOL/$D/msg_sts") & (2 << 16))) -eq 0 ] || return 1
	echo 1 >"$F1/corrupt_msg"
	echo 0x40 >"$TOOL/$C/peer0/msg1"
	got=$(cat "$TOOL/$D/msg1")
	[ $((${got%%<-*})) -eq $((0x41)) ]
}
ktap_test_result "drop_and_corrupt_msg_hit_one_message_each" msg_faults
rmmod ntb_tool

# Refused commands: precise errno, nothing changed.
refused() {	# ERRNO FILE WORD...: writing the words to FILE fails so
	errno=$1
	file=$2
	shift 2
	case $errno in
	EEXIST) text="File exists" ;;
	EINVAL) text="Invalid argument" ;;
	ENODEV) text="No such device" ;;
	ENOENT) text="No such file" ;;
	esac
	out=$(sh -c "echo '$*' >$SIM_SYSFS/$file" 2>&1)
	case $out in
	*"$text"*) return 0 ;;
	*) echo "# '$*' >$file: $out"; return 1 ;;
	esac
}
ktap_test_result "new_host_on_taken_port_is_EEXIST" refused EEXIST new_host 0 0
ktap_test_result "new_host_port_out_of_range_is_EINVAL" refused EINVAL new_host 0 5
echo "2 intel" >"$SIM_SYSFS/new_fabric"
ktap_test_result "new_host_without_free_adapter_is_ENODEV" refused ENODEV new_host 2 1
ktap_test_result "new_fabric_unknown_profile_is_EINVAL" refused EINVAL new_fabric 3 nosuch
ktap_test_result "new_fabric_existing_id_is_EEXIST" refused EEXIST new_fabric 0 intel
ktap_test_result "del_fabric_unknown_is_ENOENT" refused ENOENT del_fabric 9
hosts_unchanged() {
	[ "$(sim_host_dev 0 0)" = "$A" ] && [ -n "$(sim_host_dev 0 1)" ] &&
		! sim_host_dev 2 1 >/dev/null 2>&1
}
ktap_test_result "hosts_unchanged_after_refusals" hosts_unchanged

for f in 2 1 0; do echo $f >"$SIM_SYSFS/del_fabric"; done
unload_ntb_modules
ktap_finished
