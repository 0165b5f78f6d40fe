#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The uevents of device lending (Documentation/ntb-lending/uevents.rst),
# as a netlink listener sees them: adapter once its group is in configfs,
# node-up and node-down, offer and
# withdraw with the device's ids, an offer sent again by replay_offers,
# borrow and return with its address here.
# vm-devices: nvme edu edu
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
FAB=/sys/kernel/debug/ntb_sim/fabric0
LOG=/tmp/uevents

ktap_print_header
ktap_set_plan 10

NVME=$(pci_find 0x010802)

# busybox uevent runs the logger, with the event's variables in its
# environment, for every uevent: one line per lending event.
cat >/tmp/log_uevent <<'EOF'
#!/bin/sh
[ -n "$NTB_LENDING_EVENT" ] || exit 0
echo "$SUBSYSTEM $ACTION ${DEVPATH##*/} $(env | grep '^NTB_LENDING_' | sort | tr '\n' ' ')" >>/tmp/uevents
EOF
chmod +x /tmp/log_uevent
: >"$LOG"
busybox uevent /tmp/log_uevent &

# Wait for a logged event with every word of $@ in it.
logged() {
	wait_for 20 grep -q -- "$(echo "$*" | sed 's/ /.*/g')" "$LOG"
}

nodes_up() {
	sim_two_hosts intel-32g &&
		modprobe nvme && modprobe ntb_lending || return 1
	logged "ntb change $A NTB_LENDING_EVENT=node-up NTB_LENDING_NODE=1" &&
		logged "ntb change $B NTB_LENDING_EVENT=node-up NTB_LENDING_NODE=0"
}
ktap_test_result "node_up_on_both_adapters" nodes_up

# True if adapter $1 sent the "adapter" uevent $2 times.
adapter_events() {
	[ "$(grep -c "^ntb change $1 NTB_LENDING_EVENT=adapter " "$LOG")" -eq "$2" ]
}

# Once per binding, with the group there (the last result binds anew).
adapter_announced() {
	wait_for 20 adapter_events "$A" 1 && wait_for 20 adapter_events "$B" 1 &&
		[ -d "$CFS/$A" ] && [ -d "$CFS/$B" ]
}
ktap_test_result "adapter_once_its_group_is_there" adapter_announced

offer() {
	L=$CFS/$A/lends/$NVME
	mkdir "$CFS/$A/connections/1" "$L" && echo 1 >"$L/available" &&
		logged "ntb change $B NTB_LENDING_BDF=$NVME NTB_LENDING_CLASS=0x010802" \
			"NTB_LENDING_DEVICE=$(cat "$L/device") NTB_LENDING_EVENT=offer" \
			"NTB_LENDING_ID=00000 NTB_LENDING_NODE=0 NTB_LENDING_VENDOR=$(cat "$L/vendor")"
}
ktap_test_result "offer_with_the_device_ids" offer

# The lines of the log for offer 00000 on B: sent again (REPLAY=1) or not.
offer_lines() {
	grep "^ntb change $B .*NTB_LENDING_EVENT=offer NTB_LENDING_ID=00000 " "$LOG" |
		grep "$1" "NTB_LENDING_REPLAY=1"
}

# A write of 1 sends the uevent of every offer again, its variables those
# of the first and NTB_LENDING_REPLAY=1; once per write. A has no offer:
# its write sends nothing.
replay() {
	first=$(offer_lines -v) &&
		echo 1 >"$CFS/$B/replay_offers" && echo 1 >"$CFS/$A/replay_offers" &&
		wait_for 20 offer_lines -q && sleep 1 || return 1
	again=$(offer_lines -e)
	echo "# $again"
	[ "$(echo "$again" | wc -l)" -eq 1 ] && [ "$(echo "$first" | wc -l)" -eq 1 ] &&
		[ "$(echo "$again" | sed 's/NTB_LENDING_REPLAY=1 //')" = "$first" ] &&
		! grep -q "^ntb change $A .*NTB_LENDING_EVENT=offer" "$LOG"
}
ktap_test_result "replay_offers_sends_the_offer_again_marked_replay" replay

# The errno message of writing the line $2 to $1, or "ok".
write_err() {
	printf '%s\n' "$2" | dd of="$1" 2>/tmp/err && echo ok && return 0
	sed -n 's/.*: //p' /tmp/err | head -n 1
}

# Anything but 1 is refused with EINVAL and a line saying what to write,
# and sends nothing; the attribute cannot be read.
replay_bad_input() {
	F=$CFS/$B/replay_offers
	n=$(wc -l <"$LOG")
	log_mark
	for v in 0 2 11 yes ""; do
		err=$(write_err "$F" "$v")
		echo "# '$v': $err"
		[ "$err" = "Invalid argument" ] || return 1
	done
	! cat "$F" 2>/dev/null && [ "$(wc -l <"$LOG")" -eq "$n" ] &&
		[ "$(logged_since_mark "ntb_lending: $B/replay_offers: write 1 to have the offer uevent of every offer sent again")" -eq 5 ]
}
ktap_test_result "replay_offers_refuses_anything_but_1" replay_bad_input

borrow() {
	mkdir "$CFS/$B/borrows/00000" &&
		VBDF=$(cat "$CFS/$B/borrows/00000/local_bdf") &&
		logged "$B NTB_LENDING_EVENT=borrow NTB_LENDING_ID=00000" \
			"NTB_LENDING_LOCAL_BDF=$VBDF NTB_LENDING_NODE=0"
}
ktap_test_result "borrow_with_the_local_address" borrow

return_it() {
	rmdir "$CFS/$B/borrows/00000" &&
		logged "$B NTB_LENDING_EVENT=return NTB_LENDING_ID=00000" \
			"NTB_LENDING_LOCAL_BDF=$VBDF"
}
ktap_test_result "return" return_it

withdraw() {
	echo 0 >"$L/available" &&
		logged "$B NTB_LENDING_BDF=$NVME .*NTB_LENDING_EVENT=withdraw NTB_LENDING_ID=00000"
}
ktap_test_result "withdraw" withdraw

node_down() {
	echo "0 1 1" >"$FAB/link_down" &&
		logged "$A NTB_LENDING_EVENT=node-down NTB_LENDING_NODE=1" &&
		logged "$B NTB_LENDING_EVENT=node-down NTB_LENDING_NODE=0" &&
		echo "0 1 0" >"$FAB/link_down" && rmdir "$L" "$CFS/$A/connections/1"
}
ktap_test_result "node_down_on_both_adapters" node_down

adapter_again_when_bound_anew() {
	echo "$A" >/sys/bus/ntb/drivers/ntb_lending/unbind &&
		echo "$A" >/sys/bus/ntb/drivers/ntb_lending/bind &&
		wait_for 20 adapter_events "$A" 2 && adapter_events "$B" 1 &&
		sed 's/^/# /' "$LOG" && rmmod ntb_lending
}
ktap_test_result "adapter_again_when_bound_anew" adapter_again_when_bound_anew

kill %1 2>/dev/null
ktap_finished
