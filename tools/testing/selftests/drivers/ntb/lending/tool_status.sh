#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# smartio_tool status, diag and lspci on the real module, on a two-host
# intel-32g ntb_sim fabric: host A (node 0) lends the VM's nvme to host B
# (node 1) through the tool. diag finds the module missing and configfs
# unmounted; once loaded, status shows both peers up with our protocol and
# diag is clean; during the borrow the lender has a device window and a
# confined lend, the borrower a memory window, the borrowed device's
# doorbells and the borrow; lspci shows the nvme as the borrower's driver
# sees it on both hosts and as it is on the lender, and refuses --raw on
# the borrower; a link held down makes diag fail, saying what to do.
# vm-devices: nvme edu edu
# vm-timeout: 900
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
FAB=/sys/kernel/debug/ntb_sim/fabric0

ktap_print_header
ktap_set_plan 17

NVME=$(pci_find 0x010802)
modprobe nvme
sim_two_hosts intel-32g

# has LINE: the tool's last output has the line LINE, blanks between
# fields as many as alignment takes (a basic regexp, anchored).
has() {
	printf '%s\n' "$out" | grep -qx "$1"
}

# col WORD...: a regexp of a table row of WORDs (regexps), indented and
# aligned by blanks.
col() {
	row=
	for word; do
		row="$row  *$word"
	done
	echo "$row"
}

# nvme_ids: the last output's first line is lspci's of an nvme of QEMU's
# at $1, by class and ids.
nvme_ids() {
	first=$(printf '%s\n' "$out" | head -n 1)
	case $first in
	"$1 Non-Volatile memory controller [0108]: "*"[1b36:0010]"*) ;;
	*) return 1 ;;
	esac
}

diag_without_the_module() {
	tool diag
	[ "$status" -eq 1 ] && [ -z "$err" ] &&
		has "module: problem: ntb_lending is not loaded: modprobe ntb_lending, or run smartio_tool list as root, which loads it" &&
		refused 6 "ntb_lending is not loaded (*): modprobe ntb_lending, or run smartio_tool list as root; smartio_tool diag says more" \
			status && ! module_loaded ntb_lending
}
ktap_test_result "diag_finds_the_module_missing_and_status_fails_with_6" \
	diag_without_the_module

diag_without_configfs() {
	modprobe ntb_lending || return 1
	! configfs_mounted || umount /sys/kernel/config || return 1
	tool diag
	ret=0
	[ "$status" -eq 1 ] && has "module: ok (ntb_lending loaded)" &&
		has "configfs: problem: configfs is not mounted on /sys/kernel/config: mount -t configfs none /sys/kernel/config" ||
		ret=1
	mount -t configfs none /sys/kernel/config && return $ret
}
ktap_test_result "diag_finds_configfs_unmounted" diag_without_configfs

# peers_up: both adapters see the other up, speaking our protocol.
peers_up() {
	succeeds --adapter "$A" status && has "$(col 1 up "$PROTO")" &&
		succeeds --adapter "$B" status && has "$(col 0 up "$PROTO")"
}

status_peers() {
	await peers_up &&
		has "adapter $B: node 1, IOMMU group type identity" &&
		has "IOMMU: dmar0" && has "ntb_lending: loaded" &&
		has "$(col PEER STATE PROTOCOL)" && has "$(col 0x3 control -)" &&
		has "$(col 0x4 config -)"
}
ktap_test_result "status_shows_the_peer_up_with_protocol_1_on_both_hosts" status_peers

# diag_clean: diag of both adapters exits 0 with every check ok.
diag_clean() {
	succeeds diag && ! printf '%s\n' "$out" | grep -q problem &&
		has "iommu: ok (dmar0)" &&
		has "$A peers: ok (node 1 up)" && has "$B peers: ok (node 0 up)" &&
		has "$A protocol: ok (no peer speaks another)" &&
		has "$B borrows: ok (none lost)"
}
ktap_test_result "diag_exits_0_when_all_is_well" diag_clean

offer_only_not_found() {
	succeeds --adapter "$A" connect 1 && succeeds --adapter "$A" add "$NVME" &&
		[ "$out" = 00000 ] || return 1
	refused 4 "$NVME is with its local driver, and a borrower's view of it exists only while it is lent: make it available first (smartio_tool available $NVME), or see it as it is with --raw" \
		--adapter "$A" lspci --emulated 0 &&
		succeeds --adapter "$A" available "$NVME" &&
		await file_is "$CFS/$B/offers/00000/state" available &&
		refused 3 "00000 is only offered to node 1: borrow it first (smartio_tool borrow 00000), or ask its lender, node 0, to run smartio_tool lspci 00000" \
			--adapter "$B" lspci 00000
}
ktap_test_result "lspci_of_a_local_lend_is_busy_and_of_an_offer_not_found" offer_only_not_found

borrowed() {
	succeeds --adapter "$B" borrow 00000 && VBDF=$out && [ "${VBDF%%:*}" != 0000 ] &&
		wait_for 60 has_disk "$VBDF"
}
ktap_test_result "nvme_borrowed_through_the_tool" borrowed

# A number of bytes, not zero.
SIZE='[1-9][0-9]*'

lender_status() {
	succeeds --adapter "$A" status &&
		has "$(col '[0-9]*' 1 device "$SIZE")" &&
		has "$(col "$NVME" 00000 borrowed 1 confined)" &&
		[ "$(cat "$CFS/$A/lends/$NVME/iommu")" = confined ]
}
ktap_test_result "lender_status_shows_a_device_window_and_the_lend_confined" lender_status

borrower_status() {
	succeeds --adapter "$B" status &&
		has "$(col '[0-9]*' 0 memory "$SIZE")" &&
		has "$(col '0x[0-9a-f]*' vectors 00000)" &&
		has "$(col 00000 0 "$VBDF" borrowed)" &&
		! printf '%s\n' "$out" | grep -q ' device '
}
ktap_test_result "borrower_status_shows_a_memory_window_the_vectors_and_the_borrow" \
	borrower_status

status_json() {
	succeeds --adapter "$B" status --json &&
		printf '%s\n' "$out" | grep -qF "\"peers\": [{\"node_id\": 0, \"state\": \"up\", \"protocol\": $PROTO}]" &&
		printf '%s\n' "$out" | grep -qF "\"borrows\": [{\"id\": \"00000\", \"lender\": 0, \"local_bdf\": \"$VBDF\", \"state\": \"borrowed\"}]" &&
		printf '%s\n' "$out" | grep -q '"windows": \[{"window": [0-9]*, "node_id": 0, "use": "memory", "size": [1-9][0-9]*}\]' &&
		succeeds --adapter "$A" status --json &&
		printf '%s\n' "$out" | grep -qF "{\"bdf\": \"$NVME\", \"id\": \"00000\", \"state\": \"borrowed\", \"borrower\": 1, \"iommu\": \"confined\"}"
}
ktap_test_result "status_json_has_the_same_values" status_json

ktap_test_result "diag_exits_0_during_the_borrow" diag_clean

# capabilities: the last output decodes the nvme's MSI-X and Express
# capabilities, as QEMU's nvme has them.
capabilities() {
	has "	Capabilities: \[40\] MSI-X: Enable+ Count=65 Masked-" &&
		has "	Capabilities: \[80\] Express (v2) .*"
}

# BROKEN_VIEWS: how many of the borrower's lspci lacked the capabilities.
BROKEN_VIEWS=0

# borrower_view ARG...: lspci on the borrower shows the nvme, its driver
# and its ids in the hex dump; counts a view without the capabilities.
borrower_view() {
	succeeds --adapter "$B" lspci "$@" && nvme_ids "$VBDF" &&
		has "	Kernel driver in use: nvme" && has "00: 36 1b 10 00 .*" || return 1
	capabilities || BROKEN_VIEWS=$((BROKEN_VIEWS + 1))
}

borrower_lspci() {
	borrower_view 00000 && borrower_view --emulated 0x0
}
ktap_test_result "lspci_on_the_borrower_shows_the_nvme_as_its_driver_sees_it" borrower_lspci

# Both views show the whole capability list, and no config read timed
# out: user reads run with interrupts off, and the borrower answers them
# from its copy of the config space (rpc.c) rather than ask the lender.
borrower_views_whole() {
	ktap_print_msg "$BROKEN_VIEWS of 2 views lacked capabilities; $(kernel_log_count 'does not answer config requests') config timeouts logged"
	[ "$BROKEN_VIEWS" -eq 0 ] && log_count_is 0 'does not answer config requests'
}
ktap_test_result "lspci_on_the_borrower_shows_every_capability" borrower_views_whole

raw_refused_on_the_borrower() {
	refused 5 "the lender never hands out 00000's own config space, only the filtered view borrowers get: run smartio_tool lspci --raw 00000 on node 0, where it is $NVME" \
		--adapter "$B" lspci --raw 00000
}
ktap_test_result "lspci_raw_on_the_borrower_is_refused_naming_the_lender" \
	raw_refused_on_the_borrower

# no_scratch_left: the tool removed its temporary directory.
no_scratch_left() {
	for scratch in /tmp/tmp.*; do
		[ ! -e "$scratch" ] || return 1
	done
}

lender_lspci_emulated() {
	succeeds --adapter "$A" lspci --emulated 00000 && nvme_ids "$NVME" &&
		has "00: 36 1b 10 00 .*" && capabilities &&
		! has "	Kernel driver in use: .*" &&
		[ "$(printf '%s\n' "$out" | grep -c '^[0-9a-f]*0: ')" -eq 256 ] &&
		no_scratch_left
}
ktap_test_result "lspci_emulated_on_the_lender_shows_the_borrowers_view" lender_lspci_emulated

lender_lspci_raw() {
	succeeds --adapter "$A" lspci 00000 && nvme_ids "$NVME" &&
		has "	Kernel driver in use: ntb_lending" && capabilities &&
		succeeds --adapter "$A" lspci --raw 00000 && nvme_ids "$NVME"
}
ktap_test_result "lspci_raw_on_the_lender_shows_the_real_device" lender_lspci_raw

# borrow_lost: the borrower has lost the nvme.
borrow_lost() {
	file_is "$CFS/$B/borrows/00000/state" lost
}

diag_link_down() {
	echo "0 1 1" >"$FAB/link_down" && wait_for 60 borrow_lost || return 1
	tool diag
	[ "$status" -eq 1 ] && [ -z "$err" ] &&
		has "$B peers: problem: no peer is up: check the cables, and that ntb_lending is loaded on the other hosts" &&
		has "$A peers: problem: no peer is up: check the cables, and that ntb_lending is loaded on the other hosts" &&
		has "$B borrows: problem: 00000 was lost when its lender, node 0, became unreachable: smartio_tool return 00000 forgets it, then borrow it again" &&
		has "$(col 0 down -)" && has "$(col 00000 0 - lost)"
}
ktap_test_result "diag_exits_1_saying_what_to_do_when_the_link_is_down" diag_link_down

all_undone() {
	echo "0 1 0" >"$FAB/link_down" && succeeds --adapter "$B" return 00000 &&
		wait_for 40 peers_up && diag_clean &&
		succeeds --adapter "$A" remove "$NVME" &&
		succeeds --adapter "$A" disconnect 1 && rmmod ntb_lending
}
ktap_test_result "everything_undone_diag_clean_again_and_module_unloads" all_undone

ktap_finished
