#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ntb_tool across a four-host IDT-like switch, between every ordered pair
# of hosts: a message arrives with its sender's port, a doorbell rings, and
# bytes written through the sender's window read back from the receiver's
# buffer. Then the scarce "tiny" profile: its four doorbells, scratchpads
# and one 64 KiB window.
# vm-devices: edu edu edu edu arena
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"

HOSTS=4
TOOL=/sys/kernel/debug/ntb_tool
MW_SIZE=65536

ktap_print_header
ktap_set_plan $((HOSTS * (HOSTS - 1) * 3 + 4))

sim_prepare_adapters
modprobe ntb_sim
sim_fabric 0 idt $HOSTS
modprobe ntb_tool

# ntb_tool directory of the host on port $2 of fabric $1.
tool_dir() {
	echo "$TOOL/$(sim_host_dev "$1" "$2")"
}

# Index under which host $1 sees port $2.
pidx() {
	if [ "$2" -lt "$1" ]; then echo "$2"; else echo $(($2 - 1)); fi
}

# Enable the links of fabric $1 with $2 hosts through ntb_tool and wait
# until every host sees all its links up.
links_up() {
	for p in $(seq 0 $(($2 - 1))); do
		echo Y >"$(tool_dir "$1" "$p")/link"
	done
	i=0
	while [ $i -lt 50 ]; do
		down=0
		for p in $(seq 0 $(($2 - 1))); do
			for l in "$(tool_dir "$1" "$p")"/peer*/link; do
				[ "$(cat "$l")" = Y ] || down=1
			done
		done
		[ $down -eq 0 ] && return 0
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

message_arrives() {	# fabric, from, to
	from=$(tool_dir "$1" "$2")
	to=$(tool_dir "$1" "$3")
	val=$((0x5a0000 + $2 * 256 + $3))
	echo "$val" >"$from/peer$(pidx "$2" "$3")/msg0" || return 1
	got=$(cat "$to/msg0")	# "0x<value><-<sender's index>"
	# Read, it still fills the register until its status bit is cleared:
	# cleared first, so that a mismatch does not fail the tests after it.
	echo "c $(cat "$to/msg_inbits")" >"$to/msg_sts"
	if [ $((${got%%<-*})) -ne $val ] || [ "${got##*<-}" != "$(pidx "$3" "$2")" ]; then
		echo "# port $2 -> $3: sent $val, read $got"
		return 1
	fi
}

# Whether message status bits $2 are set in ntb_tool directory $1.
msg_sts_has() {
	[ $(($(cat "$1/msg_sts") & $2)) -ne 0 ]
}

# As on IDT, a message that was read keeps its register until the
# receiver clears its status bit: a second one fails (the sender's
# outbound bit) and lands after the clear. ntb_perf reads its three
# registers before it clears them; a register freed by the read let a
# sender's next command in between, to be cleared unread, and ntb_perf's
# handshake hung (issue 13).
register_full_until_cleared() {	# fabric, from, to
	from=$(tool_dir "$1" "$2")
	to=$(tool_dir "$1" "$3")
	msg0=$from/peer$(pidx "$2" "$3")/msg0
	out=$(cat "$from/msg_outbits")
	echo "c $out" >"$from/msg_sts" && echo 0x11 >"$msg0" &&
		cat "$to/msg0" >/dev/null && echo 0x22 >"$msg0" &&
		msg_sts_has "$from" "$out" || return 1
	got=$(cat "$to/msg0")
	[ $((${got%%<-*})) -eq $((0x11)) ] || return 1
	echo "c $(cat "$to/msg_inbits")" >"$to/msg_sts" &&
		echo "c $out" >"$from/msg_sts" && echo 0x22 >"$msg0" &&
		! msg_sts_has "$from" "$out" || return 1
	got=$(cat "$to/msg0")
	echo "c $(cat "$to/msg_inbits")" >"$to/msg_sts"
	[ $((${got%%<-*})) -eq $((0x22)) ]
}

db_has_bit() {	# tool dir, bit
	[ $(($(cat "$1/db") & (1 << $2))) -ne 0 ]
}

# The ring arrives by interrupt, which a loaded host may hold back a while.
doorbell_rings() {	# fabric, from, to, bit
	from=$(tool_dir "$1" "$2")
	to=$(tool_dir "$1" "$3")
	echo "c $(cat "$to/db_valid_mask")" >"$to/db"
	echo "s $((1 << $4))" >"$from/peer_db"
	wait_for 10 db_has_bit "$to" "$4"
}

window_carries_bytes() {	# fabric, from, to
	from=$(tool_dir "$1" "$2")/peer$(pidx "$2" "$3")
	to=$(tool_dir "$1" "$3")/peer$(pidx "$3" "$2")
	echo $MW_SIZE >"$to/mw_trans0" || return 1
	addr=$(sed -n 's/^DMA Address[ \t]*\(0x[0-9a-f]*\).*/\1/p' "$to/mw_trans0")
	echo "$addr:$MW_SIZE" >"$from/peer_mw_trans0" || return 1
	dd if=/dev/urandom of=/tmp/pattern bs=$MW_SIZE count=1 2>/dev/null
	dd if=/tmp/pattern of="$from/peer_mw0" bs=$MW_SIZE count=1 2>/dev/null
	cmp -n $MW_SIZE /tmp/pattern "$to/mw0"
	ok=$?
	echo "$addr:0" >"$from/peer_mw_trans0"
	echo 0 >"$to/mw_trans0"
	return $ok
}

links_up 0 $HOSTS || grep . "$TOOL"/*/peer*/link | sed 's/^/# link down: /'

for a in $(seq 0 $((HOSTS - 1))); do
	for b in $(seq 0 $((HOSTS - 1))); do
		[ "$a" -eq "$b" ] && continue
		ktap_test_result "idt_message_port${a}_to_port${b}" message_arrives 0 "$a" "$b"
		ktap_test_result "idt_doorbell_port${a}_to_port${b}" doorbell_rings 0 "$a" "$b" "$b"
		ktap_test_result "idt_window_port${a}_to_port${b}" window_carries_bytes 0 "$a" "$b"
	done
done
ktap_test_result "idt_message_register_full_until_cleared" register_full_until_cleared 0 0 1
rmmod ntb_tool
echo 0 >"$SIM_SYSFS/del_fabric"

# The tiny profile, where receivers translate (Intel-like).
sim_fabric 1 tiny 2
modprobe ntb_tool
links_up 1 2 || echo "# tiny links did not come up"

tiny_doorbells() {
	[ "$(cat "$(tool_dir 1 0)/db_valid_mask")" = 0xf ] &&
		doorbell_rings 1 0 1 3 && doorbell_rings 1 1 0 0
}
tiny_scratchpads() {
	echo 1234 >"$(tool_dir 1 0)/peer0/spad7" || return 1
	[ $(($(cat "$(tool_dir 1 1)/spad7"))) -eq 1234 ]
}
ktap_test_result "tiny_four_doorbells_ring" tiny_doorbells
ktap_test_result "tiny_scratchpads_cross" tiny_scratchpads
ktap_test_result "tiny_single_64k_window_carries_bytes" window_carries_bytes 1 0 1

rmmod ntb_tool
echo 1 >"$SIM_SYSFS/del_fabric"
unload_ntb_modules
ktap_finished
