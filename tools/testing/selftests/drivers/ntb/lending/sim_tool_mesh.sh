#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ntb_tool across a four-host IDT-like switch, between every ordered pair
# of hosts: a message arrives with its sender's port, a doorbell rings, and
# bytes written through the sender's window read back from the receiver's
# buffer, and idt's 24 lookup-table windows of exactly 1 MiB after its two
# direct ones. Then the scarce "tiny" profile: its four doorbells, scratchpads
# and one 64 KiB window. Last the "switchtec" profile: its 65 windows, two
# direct ones and 63 lookup-table windows of 64 KiB, each with its own
# alignment and size limits, a translation a window cannot take refused
# with EINVAL, and doorbells (also written by a device), scratchpads and
# bytes through its lookup-table windows.
# vm-devices: edu edu edu edu arena
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"

HOSTS=4
TOOL=/sys/kernel/debug/ntb_tool
MW_SIZE=65536

ktap_print_header
ktap_set_plan $((HOSTS * (HOSTS - 1) * 3 + 4 + 3 + 10))

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

# Field $2 of ntb_tool's mw_trans file $1 ("DMA Address", "Size Max"...).
mw_field() {
	sed -n "s/^$2[ \t]*\(0x[0-9a-f]*\).*/\1/p" "$1"
}

window_carries_bytes() {	# fabric, from, to[, window[, bytes]]
	from=$(tool_dir "$1" "$2")/peer$(pidx "$2" "$3")
	to=$(tool_dir "$1" "$3")/peer$(pidx "$3" "$2")
	w=${4:-0}
	sz=${5:-$MW_SIZE}
	echo "$sz" >"$to/mw_trans$w" || return 1
	addr=$(mw_field "$to/mw_trans$w" "DMA Address")
	echo "$addr:$sz" >"$from/peer_mw_trans$w" || return 1
	dd if=/dev/urandom of=/tmp/pattern bs="$sz" count=1 2>/dev/null
	dd if=/tmp/pattern of="$from/peer_mw$w" bs="$sz" count=1 2>/dev/null
	cmp -n "$sz" /tmp/pattern "$to/mw$w"
	ok=$?
	echo "$addr:0" >"$from/peer_mw_trans$w"
	echo 0 >"$to/mw_trans$w"
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

# Port 3's window $1 from port 0 has alignment $2, size alignment $3 and
# size_max $4, as ntb_tool reads them through mw_get_align().
idt_window_shape_is() {
	f=$(tool_dir 0 3)/peer0/mw_trans$1
	if [ $(($(mw_field "$f" Alignment))) -ne $(($2)) ] ||
		[ $(($(mw_field "$f" "Size Alignment"))) -ne $(($3)) ] ||
		[ $(($(mw_field "$f" "Size Max"))) -ne $(($4)) ]; then
		sed "s/^/# window $1: /" "$f"
		return 1
	fi
}
idt_windows() {
	n=0
	for f in "$(tool_dir 0 0)"/peer2/peer_mw_trans*; do n=$((n + 1)); done
	[ $n -eq 26 ] && idt_window_shape_is 1 4096 4096 $((1 << 20)) &&
		idt_window_shape_is 2 4096 $((1 << 20)) $((1 << 20)) &&
		idt_window_shape_is 25 4096 $((1 << 20)) $((1 << 20))
}
# A lookup-table entry translates its whole 1 MiB or nothing.
idt_lut_refuses_part() {
	to=$(tool_dir 0 1)/peer0
	from=$(tool_dir 0 0)/peer0
	echo $((1 << 20)) >"$to/mw_trans25" || return 1
	addr=$(mw_field "$to/mw_trans25" "DMA Address")
	out=$(sh -c "echo $addr:$MW_SIZE >$from/peer_mw_trans25" 2>&1)
	echo 0 >"$to/mw_trans25"
	case $out in
	*"Invalid argument"*) ;;
	*) echo "# a 64 KiB translation of a 1 MiB entry: '$out'"; return 1 ;;
	esac
}
ktap_test_result "idt_26_windows_24_lut_of_1m_after_2_direct" idt_windows
ktap_test_result "idt_lut_window_refuses_partial_translation_EINVAL" idt_lut_refuses_part
ktap_test_result "idt_last_lut_window_carries_1m_port0_to_port3" \
	window_carries_bytes 0 0 3 25 $((1 << 20))
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

# The switchtec profile: ntb_hw_switchtec with use_lut_mws=1, receivers
# translate. Windows 0 and 1 are direct, 2 to 64 lookup-table windows.
sim_fabric 2 switchtec 2
modprobe ntb_tool
links_up 2 2 || echo "# switchtec links did not come up"
S0=$(tool_dir 2 0)
S1=$(tool_dir 2 1)
SIM2=/sys/kernel/debug/ntb_sim/fabric2
LUT_FIRST=2
LUT_LAST=64

switchtec_window_count() {
	n=0
	for f in "$S1"/peer0/mw_trans*; do n=$((n + 1)); done
	m=0
	for f in "$S0"/peer0/peer_mw_trans*; do m=$((m + 1)); done
	echo "# $n inbound, $m outbound windows"
	[ $n -eq 65 ] && [ $m -eq 65 ]
}

# Window $1 of port 1, from port 0, has alignment $2, size alignment $3
# and size_max $4, as ntb_tool reads them through mw_get_align().
window_shape_is() {
	f=$S1/peer0/mw_trans$1
	if [ $(($(mw_field "$f" Alignment))) -ne $(($2)) ] ||
		[ $(($(mw_field "$f" "Size Alignment"))) -ne $(($3)) ] ||
		[ $(($(mw_field "$f" "Size Max"))) -ne $(($4)) ]; then
		sed "s/^/# window $1: /" "$f"
		return 1
	fi
}
switchtec_direct_shapes() {
	window_shape_is 0 4096 4096 $((4 << 20)) &&
		window_shape_is 1 4096 4096 $((32 << 30))
}
switchtec_lut_shapes() {
	window_shape_is $LUT_FIRST 65536 65536 65536 &&
		window_shape_is $LUT_LAST 65536 65536 65536
}

# Port 1 sets translation "ADDR SIZE" of its window $2 from port 0 (SIZE 0
# clears it) through the hostile hook: $1 is EINVAL if the write must fail
# so, ok if it must succeed.
xlat_is() {
	out=$(sh -c "echo 'xlat 0 $2 $3 $4' >$SIM2/$(sim_host_dev 2 1)/hostile" 2>&1)
	case $1:$out in
	EINVAL:*"Invalid argument"* | ok:) return 0 ;;
	esac
	echo "# xlat window $2 $3 $4: '$out', expected $1"
	return 1
}
lut_refuses_what_it_cannot_take() {
	xlat_is EINVAL $LUT_FIRST 0x10001000 0x10000 &&	# 4 KiB aligned
		xlat_is EINVAL $LUT_FIRST 0x10000000 0x20000 &&	# beyond 64 KiB
		xlat_is EINVAL $LUT_FIRST 0x10000000 0x1000 &&	# not 64 KiB
		xlat_is ok $LUT_FIRST 0x10000000 0x10000 &&
		xlat_is ok $LUT_FIRST 0 0
}
direct_wants_size_aligned_address() {
	xlat_is EINVAL 1 0x10001000 0x200000 &&
		xlat_is ok 1 0x10200000 0x200000 && xlat_is ok 1 0 0
}
switchtec_doorbells() {
	[ "$(cat "$S0/db_valid_mask")" = 0xfffffff ] &&
		doorbell_rings 2 0 1 27 && doorbell_rings 2 1 0 0
}
# A device's write at port 1's peer_db_addr() rings port 0, as a lent
# device's MSI-X write would.
switchtec_device_rings() {
	echo "c $(cat "$S0/db_valid_mask")" >"$S0/db"
	echo "device 27" >"$SIM2/$(sim_host_dev 2 1)/ring" &&
		wait_for 10 db_has_bit "$S0" 27
}
switchtec_scratchpads_no_messages() {
	echo 4321 >"$S0/peer0/spad127" || return 1
	[ $(($(cat "$S1/spad127"))) -eq 4321 ] && [ ! -e "$S1/spad128" ] &&
		[ ! -e "$S1/msg0" ] && [ ! -e "$S0/peer0/msg0" ]
}

ktap_test_result "switchtec_65_windows_2_direct_then_63_lut" switchtec_window_count
ktap_test_result "switchtec_direct_windows_4m_and_32g_4k_aligned" switchtec_direct_shapes
ktap_test_result "switchtec_lut_windows_64k_size_max_64k_aligned" switchtec_lut_shapes
ktap_test_result "switchtec_lut_window_refuses_bad_translation_EINVAL" \
	lut_refuses_what_it_cannot_take
ktap_test_result "switchtec_direct_window_wants_size_aligned_translation" \
	direct_wants_size_aligned_address
ktap_test_result "switchtec_28_doorbells_ring" switchtec_doorbells
ktap_test_result "switchtec_device_written_doorbell_rings_peer" switchtec_device_rings
ktap_test_result "switchtec_128_scratchpads_cross_no_messages" \
	switchtec_scratchpads_no_messages
ktap_test_result "switchtec_first_lut_window_carries_bytes" \
	window_carries_bytes 2 0 1 $LUT_FIRST
ktap_test_result "switchtec_last_lut_window_carries_bytes" \
	window_carries_bytes 2 1 0 $LUT_LAST

rmmod ntb_tool
echo 2 >"$SIM_SYSFS/del_fabric"
unload_ntb_modules
ktap_finished
