#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The uevents of device lending (Documentation/ntb-lending/uevents.rst),
# as a netlink listener sees them: node-up and node-down, offer and
# withdraw with the device's ids, borrow and return with its address here.
# vm-devices: nvme edu edu
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
FAB=/sys/kernel/debug/ntb_sim/fabric0
LOG=/tmp/uevents

ktap_print_header
ktap_set_plan 6

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

offer() {
	L=$CFS/$A/lends/$NVME
	mkdir "$CFS/$A/connections/1" "$L" && echo 1 >"$L/available" &&
		logged "ntb change $B NTB_LENDING_BDF=$NVME NTB_LENDING_CLASS=0x010802" \
			"NTB_LENDING_DEVICE=$(cat "$L/device") NTB_LENDING_EVENT=offer" \
			"NTB_LENDING_ID=00000 NTB_LENDING_NODE=0 NTB_LENDING_VENDOR=$(cat "$L/vendor")"
}
ktap_test_result "offer_with_the_device_ids" offer

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
		sed 's/^/# /' "$LOG" && echo "0 1 0" >"$FAB/link_down" &&
		rmdir "$L" "$CFS/$A/connections/1" && rmmod ntb_lending
}
ktap_test_result "node_down_on_both_adapters" node_down

kill %1 2>/dev/null
ktap_finished
