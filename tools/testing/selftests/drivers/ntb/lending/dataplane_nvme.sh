#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The data plane of device lending over a two-host ntb_sim fabric, driven
# by the lending_dataplane test client with direct calls in place of the
# control protocol: host A lends the VM's nvme to host B, where the stock
# nvme driver runs it on a virtual host bridge; fio verifies data written
# through it; its interrupts are doorbells the device itself writes, and
# none reaches the lender; the return gives A's nvme driver the device back
# with the data B wrote; a link loss removes it from B without a hang.
# vm-devices: nvme edu edu
# vm-timeout: 1200
. "$(dirname "$0")/lib.sh"

DP=/sys/kernel/debug/lending_dataplane

ktap_print_header
ktap_set_plan 24

NVME=$(pci_find 0x010802)
# The lender's IOMMU, or none (run with intel_iommu=off for that path).
IOMMU=no
[ -e "/sys/bus/pci/devices/$NVME/iommu_group" ] && IOMMU=yes
# Without one, lending needs ntb_lending's opt-in (admin-guide.rst).
[ "$IOMMU" = yes ] ||
	echo "options ntb_lending allow_unsafe_noiommu=1" >>/etc/modprobe.d/ntb_lending-tests.conf
RAM_END=$(grep 'System RAM' /proc/iomem | tail -n 1 | sed 's/^ *[0-9a-f]*-\([0-9a-f]*\) .*/\1/')
RAM_SIZE=$(((0x$RAM_END + 4096) / 4096 * 4096))
echo "# lent function $NVME (IOMMU: $IOMMU); host B exposes $RAM_SIZE bytes of memory"

# Two 4 MiB patterns: P1 written by the lender before it lends, read by the
# borrower; P2 written by the borrower, read by the lender after the return.
P1_MIB=200
P2_MIB=220
head -c 4194304 /dev/urandom >/tmp/p1
head -c 4194304 /dev/urandom >/tmp/p2

lender_writes_pattern() {
	modprobe nvme && wait_for 40 has_disk "$NVME" || return 1
	dd if=/tmp/p1 of="$(disk_of "$NVME")" bs=1M seek=$P1_MIB conv=fsync 2>/dev/null
}
ktap_test_result "lender_nvme_up_and_pattern_written" lender_writes_pattern

fabric_up() {
	dataplane_fabric "$NVME" "$RAM_SIZE"
}
ktap_test_result "two_host_intel_32g_fabric_bound_to_test_client" fabric_up

borrow() {
	echo 1 >"$DP/borrow" || return 1
	VBDF=$(cat "$DP/borrow")
	echo "# borrowed as $VBDF"
	[ -d "/sys/bus/pci/devices/$VBDF" ] && [ "${VBDF%%:*}" != 0000 ]
}
ktap_test_result "borrow_hot_adds_function_in_a_new_pci_domain" borrow

lender_function_owned() {
	[ "$(driver_of "$NVME")" = ntb_lending ] &&
		[ "$(override_of "$NVME")" = ntb_lending ]
}
ktap_test_result "lender_function_owned_by_ntb_lending" lender_function_owned

stock_driver_binds() {
	wait_for 60 has_disk "$VBDF" || return 1
	DISK=$(disk_of "$VBDF")
	echo "# $VBDF: driver $(driver_of "$VBDF"), disk $DISK"
	[ "$(driver_of "$VBDF")" = nvme ]
}
ktap_test_result "stock_nvme_driver_binds_borrowed_function" stock_driver_binds

# What the control plane would carry. With an IOMMU the lender puts the
# window into B's memory at device address 0 and B's doorbells at the top
# of the function's domain; without one the function uses the physical
# addresses (the window's and the doorbell register's), and says so.
device_addresses() {
	sed 's/^/# /' "$DP/info"
	db0=$(sed -n 's/^db0 addr \(0x[0-9a-f]*\) .*/\1/p' "$DP/info")
	raise=$(($(head -n 1 "/sys/bus/pci/devices/$B/resource" | cut -d' ' -f1) + 0x60))
	[ -n "$db0" ] || return 1
	if [ "$IOMMU" = yes ]; then
		grep -q '^memory 0x0* size .* dev_addr 0x0$' "$DP/info" &&
			[ $((db0)) -ne $raise ] && [ $((db0)) -gt "$RAM_SIZE" ]
	else
		[ $((db0)) -eq $raise ] &&
			[ "$(kernel_log_count "$NVME: no IOMMU")" -ge 1 ]
	fi
}
ktap_test_result "device_addresses_as_the_lender_iommu_maps_them" device_addresses

# The borrower's view of config space: BAR 0 where the lender has it (the
# windows are address-transparent), no ROM, no INTx, no FLR, MSI-X on.
config_virtualized() {
	out=$(lspci -vvv -s "$VBDF") || return 1
	echo "$out" | grep -E 'Region|Expansion|Interrupt:|Capabilities:|DevCap:|MSI-X:' |
		sed 's/^[[:space:]]*/# /'
	lender_bar=$(lspci -s "$NVME" -vv | sed -n 's/.*Region 0: Memory at \([0-9a-f]*\).*/\1/p')
	echo "$out" | grep -q "Region 0: Memory at $lender_bar (64-bit" &&
		! echo "$out" | grep -qE 'Expansion ROM|Interrupt: pin|FLReset\+' &&
		echo "$out" | grep -q 'MSI-X: Enable+'
}
ktap_test_result "borrower_sees_virtualized_config_space" config_virtualized

borrower_reads_lender_data() {
	dd if="$DISK" of=/tmp/got bs=1M skip=$P1_MIB count=4 2>/dev/null &&
		cmp /tmp/p1 /tmp/got
}
ktap_test_result "borrower_reads_what_the_lender_wrote" borrower_reads_lender_data

A_IRQS0=$(named_irqs "$A")
B_IRQS0=$(named_irqs "$B")
V_IRQS0=$(vector_irqs "$VBDF")

ktap_test_result "fio_randwrite_4k_4jobs_crc32c_verified" fio_verified "$DISK" rand4k randwrite 4k
ktap_test_result "fio_seqwrite_128k_4jobs_crc32c_verified" fio_verified "$DISK" seq128k write 128k
ktap_test_result "fio_randwrite_128k_4jobs_crc32c_verified" fio_verified "$DISK" rand128k randwrite 128k
ktap_test_result "fio_seqwrite_4k_4jobs_crc32c_verified" fio_verified "$DISK" seq4k write 4k

interrupts_are_doorbells() {
	v=$(($(vector_irqs "$VBDF") - V_IRQS0))
	b=$(($(named_irqs "$B") - B_IRQS0))
	a=$(($(named_irqs "$A") - A_IRQS0))
	l=$(named_irqs "$NVME")
	echo "# during fio: borrower's vectors $v, B's doorbell interrupts $b, A's adapter $a, lender's nvme $l"
	grep -E "NTB-VBUS|$NVME" /proc/interrupts | sed 's/^/# /'
	[ "$v" -gt 0 ] && [ "$b" -gt 0 ] && [ "$a" -eq 0 ] && [ "$l" -eq 0 ] &&
		[ ! -d "/sys/bus/pci/devices/$NVME/msi_irqs" ]
}
ktap_test_result "interrupts_arrive_as_doorbells_lender_takes_none" interrupts_are_doorbells

devcap_flr() {
	lspci -vv -s "$1" | grep -A1 'DevCap:' | grep -o 'FLReset[+-]'
}

# Config writes from the borrower, filtered by the lender: INTx stays off
# on the function, the ROM reads 0, a BAR cannot move (the window cannot
# follow it), power states are the borrower's only, FLR is hidden.
config_writes_filtered() {
	real_cmd=$(setpci -s "$NVME" COMMAND)
	echo "# function's COMMAND $real_cmd; borrower's $(setpci -s "$VBDF" COMMAND)"
	[ $((0x$real_cmd & 0x400)) -ne 0 ] || return 1
	setpci -s "$VBDF" ROM_ADDRESS=fffff800 &&
		[ "$(setpci -s "$VBDF" ROM_ADDRESS)" = 00000000 ] || return 1
	bar=$(setpci -s "$VBDF" BASE_ADDRESS_0)
	setpci -s "$VBDF" BASE_ADDRESS_0=10000000 &&
		[ "$(setpci -s "$VBDF" BASE_ADDRESS_0)" = "$bar" ] || return 1
	setpci -s "$VBDF" CAP_PM+4.w=0003:0003 || return 1
	virt=$(setpci -s "$VBDF" CAP_PM+4.w)
	real=$(setpci -s "$NVME" CAP_PM+4.w)
	setpci -s "$VBDF" CAP_PM+4.w=0000:0003
	echo "# PMCSR after the borrower's D3hot: borrower's $virt, function's $real"
	[ $((0x$virt & 3)) -eq 3 ] && [ $((0x$real & 3)) -eq 0 ] || return 1
	echo "# DevCap FLR: function's $(devcap_flr "$NVME"), borrower's $(devcap_flr "$VBDF")"
	[ "$(devcap_flr "$VBDF")" = FLReset- ]
}
ktap_test_result "borrower_config_writes_filtered_by_lender" config_writes_filtered

# The device still works after all that.
ktap_test_result "fio_verified_after_config_writes" fio_verified "$DISK" recheck randwrite 4k

borrower_writes_pattern() {
	dd if=/tmp/p2 of="$DISK" bs=1M seek=$P2_MIB conv=fsync 2>/dev/null
}
ktap_test_result "borrower_writes_pattern" borrower_writes_pattern

returned() {
	echo 0 >"$DP/borrow" || return 1
	[ -z "$(cat "$DP/borrow")" ] && [ ! -e "/sys/bus/pci/devices/$VBDF" ]
}
ktap_test_result "return_hot_removes_function_and_bus" returned

lender_driver_back() {
	wait_for 60 has_disk "$NVME" || return 1
	echo "# $NVME: driver $(driver_of "$NVME"), disk $(disk_of "$NVME")"
	[ "$(driver_of "$NVME")" = nvme ] &&
		[ -z "$(override_of "$NVME")" ]
}
ktap_test_result "lender_nvme_driver_rebinds" lender_driver_back

lender_reads_borrower_data() {
	dd if="$(disk_of "$NVME")" of=/tmp/got bs=1M skip=$P2_MIB count=4 2>/dev/null &&
		cmp /tmp/p2 /tmp/got
}
ktap_test_result "lender_reads_what_the_borrower_wrote" lender_reads_borrower_data

# Two doorbell bits for three vectors: the admin queue's vector 0 and the
# second I/O queue's vector 2 share bit 0, and both still run.
shared_doorbell_bits() {
	echo 2 >/sys/module/lending_dataplane/parameters/db_bits &&
		echo 1 >"$DP/borrow" || return 1
	VBDF=$(cat "$DP/borrow")
	wait_for 60 has_disk "$VBDF" || return 1
	DISK=$(disk_of "$VBDF")
	fio_verified "$DISK" shared randwrite 4k || return 1
	grep -E "NTB-VBUS" /proc/interrupts | sed 's/^/# /'
	n=0
	for irq in /sys/bus/pci/devices/"$VBDF"/msi_irqs/*; do
		c=$(awk -v irq="${irq##*/}:" '$1 == irq { print $2 + $3 }' /proc/interrupts)
		[ "$c" -gt 0 ] && n=$((n + 1))
	done
	echo 0 >"$DP/borrow" && echo 0 >/sys/module/lending_dataplane/parameters/db_bits &&
		[ "$n" -ge 3 ] && [ "$(kernel_log_count 'nobody cared')" -eq 0 ]
}
ktap_test_result "vectors_sharing_doorbell_bits_all_run" shared_doorbell_bits

# Between two borrowers the lender can keep the function: a reset instead
# of a release, its own driver never sees it, and the next borrow works.
kept_function_borrowed_again() {
	echo 1 >/sys/module/lending_dataplane/parameters/keep_lent &&
		echo 1 >"$DP/borrow" || return 1
	VBDF=$(cat "$DP/borrow")
	wait_for 60 has_disk "$VBDF" && echo 0 >"$DP/borrow" || return 1
	echo "# after a return with keep_lent: $NVME is bound to $(driver_of "$NVME")"
	[ "$(driver_of "$NVME")" = ntb_lending ] && echo 1 >"$DP/borrow" || return 1
	VBDF=$(cat "$DP/borrow")
	wait_for 60 has_disk "$VBDF" || return 1
	DISK=$(disk_of "$VBDF")
	fio_verified "$DISK" kept randwrite 4k || return 1
	echo 0 >/sys/module/lending_dataplane/parameters/keep_lent &&
		echo 0 >"$DP/borrow" && wait_for 60 has_disk "$NVME" &&
		[ "$(driver_of "$NVME")" = nvme ]
}
ktap_test_result "function_kept_and_reset_between_borrowers" kept_function_borrowed_again

# A link loss in the middle of I/O: the lender stops the function, the
# borrower removes it by surprise; fio ends with errors, nothing hangs.
link_loss_mid_io() {
	echo 1 >"$DP/borrow" || return 1
	VBDF=$(cat "$DP/borrow")
	wait_for 60 has_disk "$VBDF" || return 1
	fio --name=loss --filename="$(disk_of "$VBDF")" --rw=randread --bs=4k \
		--direct=1 --ioengine=libaio --iodepth=16 --numjobs=2 \
		--time_based --runtime=60 >/tmp/loss.out 2>&1 &
	pid=$!
	sleep 3
	t0=$(date +%s)
	echo 1 >"$DP/lost" || return 1
	wait $pid
	rc=$?
	echo "# fio exited $rc $(($(date +%s) - t0)) s after the link loss"
	[ $rc -ne 0 ] && [ ! -e "/sys/bus/pci/devices/$VBDF" ]
}
ktap_test_result "link_loss_mid_io_removes_function_without_hang" link_loss_mid_io

lender_back_after_loss() {
	wait_for 60 has_disk "$NVME" &&
		dd if="$(disk_of "$NVME")" of=/tmp/got bs=1M skip=$P2_MIB count=4 2>/dev/null &&
		cmp /tmp/p2 /tmp/got
}
ktap_test_result "lender_nvme_works_after_link_loss" lender_back_after_loss

teardown() {
	rmmod lending_dataplane && echo 0 >"$SIM_SYSFS/del_fabric" &&
		echo 1 >/sys/bus/ntb/drivers_autoprobe && unload_ntb_modules
}
ktap_test_result "test_client_and_fabric_unload" teardown

ktap_finished
