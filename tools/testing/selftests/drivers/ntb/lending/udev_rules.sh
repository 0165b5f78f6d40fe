#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The udev rules of udev/ (Documentation/ntb-lending/udev.rst) under the
# real systemd-udevd, on a two-host ntb_sim fabric in one kernel: host A
# lends, host B borrows. Installed without an operator's opt-in they do
# nothing; with the two example opt-ins (A offers its NVMe drive to node
# 1, B borrows any NVMe drive offered) the drive coming back after a PCI
# remove and rescan is offered, borrowed by B, and named
# /dev/disk/by-lending/0-<its BDF on A> there (its partition -part1), as
# it is when borrowed by hand. The rules leave borrowed functions, bridges
# and adapters alone, borrow nothing not opted in, take a return as final,
# offer the drive again when ntb_lending binds the adapters anew, as at
# boot, borrow at the boot's udevadm trigger what was offered before udevd
# ran, and make udevd complain of nothing.
# vm-devices: nvme e1000e edu edu
# vm-timeout: 900
# vm-cmdline: printk.devkmsg=on
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
RULES=/etc/udev/rules.d
SHIPPED=$(dirname "$0")/udev
UDEVD=/usr/lib/systemd/systemd-udevd

ktap_print_header
ktap_set_plan 14

NVME=$(pci_find 0x010802)
NIC=$(pci_find 0x020000)
LINK=/dev/disk/by-lending/0-$NVME

settled() {
	udevadm settle --timeout=120
}

# smartio_tool ARG...: the tool as an operator runs it, its messages in
# the log.
tool() {
	out=$(smartio_tool "$@" 2>&1)
	rc=$?
	[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/# /'
	return "$rc"
}

lend_state() {
	cat "$CFS/$A/lends/$NVME/state" 2>/dev/null
}

# Offered or, by now, borrowed.
nvme_offered() {
	case $(lend_state) in
	available | borrowed) ;;
	*) return 1 ;;
	esac
}

borrowed_on_b() {
	[ "$(cat "$CFS/$B/borrows/00000/state" 2>/dev/null)" = borrowed ]
}

# The smartio_tool commands the rules would RUN for an "add" of PCI
# function $1, one a line, as udevadm test prints them.
would_run() {
	udevadm test --action=add "/sys/bus/pci/devices/$1" 2>&1 |
		sed -n "s|^run: '/usr/sbin/smartio_tool \\(.*\\)'\$|\\1|p"
}

# One MBR partition, sectors 2048 to 10239, on disk $1, so that the
# borrowed drive has a partition to name too.
partition() {
	printf '\000\000\000\000\203\000\000\000\000\010\000\000\000\040\000\000' |
		dd of="$1" bs=1 seek=446 conv=notrunc,fsync 2>/dev/null &&
		printf '\125\252' | dd of="$1" bs=1 seek=510 conv=notrunc,fsync 2>/dev/null
}

empty_dir() {
	[ -z "$(ls "$1")" ]
}

# udevd, which logs to the kernel log here, said nothing of our rules:
# a line it cannot parse names the file, and a RUN that fails is a warning
# naming the command. printk.devkmsg=on: no line is lost to ratelimiting.
no_complaint() {
	dmesg | grep -q 'systemd-udevd.*Starting systemd-udevd' || return 1
	said=$(dmesg | grep -E 'systemd-udevd.*(ntb-lending|smartio_tool|udevadm)')
	[ -z "$said" ] || { echo "$said" | sed 's/^/# /' && return 1; }
}

udevd_starts_inert() {
	sim_prepare_adapters && modprobe ntb_sim && sim_fabric 0 intel-32g 2 &&
		modprobe nvme && modprobe e1000e && modprobe ntb_lending || return 1
	A=$(sim_host_dev 0 0) && B=$(sim_host_dev 0 1) || return 1
	wait_for 40 has_disk "$NVME" && partition "$(disk_of "$NVME")" || return 1
	cp "$SHIPPED"/*.rules "$RULES/" &&
		cp "$SHIPPED/ntb-lending-id" /usr/lib/udev/ &&
		SYSTEMD_LOG_TARGET=kmsg "$UDEVD" --daemon && udevadm control --ping &&
		udevadm trigger --action=add && settled || return 1
	echo "# udevd $(udevadm --version), rules: $(cd "$RULES" && echo *)"
	no_complaint && empty_dir "$CFS/$A/lends" && empty_dir "$CFS/$B/lends" &&
		empty_dir "$CFS/$A/connections" && empty_dir "$CFS/$B/borrows" &&
		[ "$(driver_of "$NVME")" = nvme ]
}
ktap_test_result "udevd_runs_the_rules_and_without_opt_in_they_do_nothing" udevd_starts_inert

# The operator's part, as the examples say: the offer example with this
# VM's drive and lender adapter filled in, the borrow example as it is.
opt_in() {
	sed -e "s|KERNEL==\"0000:03:00.0\"|KERNEL==\"$NVME\"|" \
		-e "s|ENV{SMARTIO_ADAPTER}=\"\"|ENV{SMARTIO_ADAPTER}=\"$A\"|" \
		"$SHIPPED/70-ntb-lending-auto-offer.rules.example" \
		>"$RULES/70-ntb-lending-auto-offer.rules" &&
		grep -q "KERNEL==\"$NVME\"" "$RULES/70-ntb-lending-auto-offer.rules" &&
		grep -q "SMARTIO_ADAPTER}=\"$A\"" "$RULES/70-ntb-lending-auto-offer.rules" &&
		cp "$SHIPPED/70-ntb-lending-auto-borrow.rules.example" \
			"$RULES/70-ntb-lending-auto-borrow.rules" &&
		udevadm control --reload
}

offered_when_it_appears() {
	opt_in && settled && empty_dir "$CFS/$A/lends" || return 1
	echo 1 >"/sys/bus/pci/devices/$NVME/remove" &&
		echo 1 >/sys/bus/pci/rescan || return 1
	wait_for 120 nvme_offered && [ -d "$CFS/$A/connections/1" ] &&
		[ "$(ls "$CFS/$A/lends")" = "$NVME" ] &&
		[ "$(cat "$CFS/$A/lends/$NVME/id")" = 00000 ] &&
		[ "$(driver_of "$NVME")" = ntb_lending ]
}
ktap_test_result "auto_offer_offers_the_nvme_when_it_reappears" offered_when_it_appears

borrowed_by_b() {
	wait_for 120 borrowed_on_b || return 1
	VBDF=$(cat "$CFS/$B/borrows/00000/local_bdf")
	echo "# B borrowed 00000 as $VBDF"
	[ "${VBDF%%:*}" != 0000 ] && [ "$(lend_state)" = borrowed ] &&
		[ "$(cat "$CFS/$A/lends/$NVME/borrower")" = 1 ] &&
		wait_for 120 has_disk "$VBDF" && [ "$(driver_of "$VBDF")" = nvme ]
}
ktap_test_result "auto_borrow_borrows_the_offer_on_the_other_host" borrowed_by_b

link_names_the_borrowed_disk() {
	wait_for 60 [ -L "$LINK" ] && wait_for 20 [ -L "$LINK-part1" ] || return 1
	DISK=$(disk_of "$VBDF")
	echo "# $LINK -> $(readlink "$LINK"), -part1 -> $(readlink "$LINK-part1")"
	[ "$(readlink -f "$LINK")" = "$DISK" ] &&
		[ "$(readlink -f "$LINK-part1")" = "${DISK}p1" ] &&
		dd if="$LINK" of=/dev/null bs=4k count=16 2>/dev/null &&
		udevadm info -q property "/sys/bus/pci/devices/$VBDF" >/tmp/props &&
		grep -qx "NTB_LENDING_ADAPTER=$B" /tmp/props &&
		grep -qx "NTB_LENDING_ID=00000" /tmp/props &&
		grep -qx "NTB_LENDING_NODE=0" /tmp/props &&
		grep -qx "NTB_LENDING_BDF=$NVME" /tmp/props
}
ktap_test_result "by_lending_links_point_at_the_borrowed_disk_and_partition" link_names_the_borrowed_disk

# With every PCI function opted in (before the example's adapter and node
# lines), udevadm test shows what the rules would run: for the NIC, the
# offer; for the borrowed drive (domain above ffff), the two adapters and
# the host bridge, nothing.
skips_what_it_must() {
	echo 'SUBSYSTEM=="pci", ENV{NTB_LENDING_AUTO_OFFER}="1"' \
		>"$RULES/69-test-offer-everything.rules" || return 1
	nic=$(would_run "$NIC" | tr '\n' ,)
	echo "# NIC: $nic"
	ret=0
	[ "$nic" = "connect 1,add $NIC,available $NIC," ] || ret=1
	for dev in "$VBDF" "$A" "$B" 0000:00:00.0; do
		out=$(would_run "$dev")
		[ -z "$out" ] || { echo "# $dev: $(echo "$out" | tr '\n' ,)" && ret=1; }
	done
	rm "$RULES/69-test-offer-everything.rules" && return "$ret"
}
ktap_test_result "auto_offer_skips_borrowed_functions_adapters_and_bridges" skips_what_it_must

returned_for_good() {
	tool --adapter "$B" return 00000 && wait_for 60 gone "$LINK" &&
		[ ! -e "/sys/bus/pci/devices/$VBDF" ] && settled &&
		empty_dir "$CFS/$B/borrows" && [ "$(lend_state)" = available ]
}
ktap_test_result "return_removes_the_link_and_nothing_borrows_it_again" returned_for_good

# The names do not depend on auto-borrow: the operator's own borrow, whose
# first uevents come while its mkdir is still running, gets them too.
by_hand() {
	tool --adapter "$B" borrow 00000 &&
		VBDF=$(cat "$CFS/$B/borrows/00000/local_bdf") &&
		wait_for 120 has_disk "$VBDF" && wait_for 60 [ -L "$LINK" ] &&
		[ "$(readlink -f "$LINK")" = "$(disk_of "$VBDF")" ] &&
		udevadm info -q property "/sys/bus/pci/devices/$VBDF" |
		grep -qx "NTB_LENDING_BDF=$NVME" &&
		tool --adapter "$B" return 00000 && wait_for 60 gone "$LINK"
}
ktap_test_result "by_lending_names_a_drive_borrowed_by_hand" by_hand

offer_not_opted_in() {
	tool --adapter "$A" add "$NIC" && tool --adapter "$A" available "$NIC" &&
		wait_for 40 [ -d "$CFS/$B/offers/00001" ] && settled &&
		empty_dir "$CFS/$B/borrows" &&
		tool --adapter "$A" remove "$NIC" &&
		wait_for 40 gone "$CFS/$B/offers/00001"
}
ktap_test_result "an_offer_not_opted_in_is_not_borrowed" offer_not_opted_in

# As at boot: the drive is there before ntb_lending binds the adapters.
offered_again_on_bind() {
	tool --adapter "$A" remove "$NVME" && tool --adapter "$A" disconnect 1 &&
		settled && wait_for 60 has_disk "$NVME" && rmmod ntb_lending &&
		modprobe ntb_lending || return 1
	wait_for 120 nvme_offered && wait_for 120 borrowed_on_b || return 1
	VBDF=$(cat "$CFS/$B/borrows/00000/local_bdf")
	wait_for 120 has_disk "$VBDF" && wait_for 60 [ -L "$LINK" ] &&
		[ "$(readlink -f "$LINK")" = "$(disk_of "$VBDF")" ]
}
ktap_test_result "auto_offer_offers_again_when_ntb_lending_binds_the_adapter" offered_again_on_bind

# The examples parsed, and every command the rules ran exited 0: each
# runs only when it can succeed.
ktap_test_result "udevd_parsed_every_rule_and_no_command_failed" no_complaint

# The kernel's uevents of the adapters, one line each with the lending
# variables, as udevadm monitor (which needs no udevd) saw them.
monitored() {
	awk -v RS= '/NTB_LENDING_EVENT=offer/ {
		line = $2 " " $3
		for (i = 3; i <= NF; i++)
			if ($i ~ /^NTB_LENDING_/)
				line = line " " $i
		print line
	}' "$MONITORED"
}

replays() {
	monitored | grep -c 'NTB_LENDING_REPLAY=1'
}

# More than $1 replays seen (for wait_for).
replays_over() {
	[ "$(replays)" -gt "$1" ]
}

udevd_down() {
	! udevadm control --ping --timeout=2 2>/dev/null
}

# As at a boot where ntb_lending runs before udevd: B's offer comes while
# no udevd listens. The drive goes back to A, udevd stops, ntb_lending is
# loaded anew and A offers the drive by hand.
offered_while_udevd_is_down() {
	rm "$RULES"/70-ntb-lending-*.rules && udevadm control --reload &&
		tool --adapter "$B" return 00000 && wait_for 60 gone "$LINK" &&
		tool --adapter "$A" remove "$NVME" && tool --adapter "$A" disconnect 1 &&
		settled && wait_for 60 has_disk "$NVME" && udevadm control --exit &&
		wait_for 20 udevd_down && rmmod ntb_lending || return 1
	MONITORED=/tmp/monitored
	udevadm monitor --kernel --property --subsystem-match=ntb >"$MONITORED" 2>&1 &
	MONITOR=$!
	sleep 1
	modprobe ntb_lending && tool --adapter "$A" connect 1 &&
		tool --adapter "$A" add "$NVME" && tool --adapter "$A" available "$NVME" &&
		wait_for 60 [ -d "$CFS/$B/offers/00000" ] && sleep 2 || return 1
	monitored | sed 's/^/# /'
	[ "$(monitored | wc -l)" -eq 1 ] && [ "$(replays)" -eq 0 ] &&
		empty_dir "$CFS/$B/borrows"
}
ktap_test_result "an_offer_made_before_udevd_runs_is_not_borrowed_yet" offered_while_udevd_is_down

# udevd starts with the borrow opt-in in place, and the boot's coldplug
# has ntb_lending send the offer again, which the rule borrows.
borrowed_at_coldplug() {
	cp "$SHIPPED/70-ntb-lending-auto-borrow.rules.example" \
		"$RULES/70-ntb-lending-auto-borrow.rules" &&
		SYSTEMD_LOG_TARGET=kmsg "$UDEVD" --daemon && udevadm control --ping &&
		udevadm trigger --action=add && settled || return 1
	wait_for 120 borrowed_on_b || return 1
	VBDF=$(cat "$CFS/$B/borrows/00000/local_bdf")
	echo "# B borrowed 00000 as $VBDF at the trigger"
	monitored | sed 's/^/# /'
	wait_for 120 has_disk "$VBDF" && [ "$(driver_of "$VBDF")" = nvme ] &&
		wait_for 60 [ -L "$LINK" ] &&
		dd if="$LINK" of=/dev/null bs=4k count=16 2>/dev/null &&
		[ "$(monitored | sed 's/ NTB_LENDING_REPLAY=1//' | sort -u | wc -l)" -eq 1 ]
}
ktap_test_result "coldplug_trigger_replays_the_offer_and_auto_borrow_takes_it" borrowed_at_coldplug

# Another trigger replays the offer again and changes nothing: the same
# borrow, at the same address, and no command failed.
second_trigger() {
	n=$(replays)
	udevadm trigger --action=add && wait_for 60 replays_over "$n" &&
		settled || return 1
	echo "# replays seen: $(replays)"
	[ "$(ls "$CFS/$B/borrows")" = 00000 ] && borrowed_on_b &&
		[ "$(cat "$CFS/$B/borrows/00000/local_bdf")" = "$VBDF" ] &&
		[ "$(driver_of "$VBDF")" = nvme ] && no_complaint
}
ktap_test_result "a_second_trigger_changes_nothing_and_logs_no_error" second_trigger

all_undone() {
	rm "$RULES"/70-ntb-lending-*.rules && udevadm control --reload &&
		tool --adapter "$B" return 00000 && wait_for 60 gone "$LINK" &&
		tool --adapter "$A" remove "$NVME" && tool --adapter "$A" disconnect 1 &&
		settled && udevadm control --exit && rmmod ntb_lending &&
		wait_for 60 has_disk "$NVME" && kill "$MONITOR"
}
ktap_test_result "everything_undone_and_module_unloads" all_undone

ktap_finished
