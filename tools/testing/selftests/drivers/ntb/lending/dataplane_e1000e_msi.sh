#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The data plane with plain MSI and a second device class: host A lends the
# VM's e1000e to host B over ntb_sim through the lending_dataplane test
# client. Driven with MSI (IntMode=1), its message travels in config space,
# so the lender sees it: the function is programmed, and its MSI enabled,
# only with a doorbell address of its own IOMMU domain, and a message to any
# other address (even beside the doorbell, in its page) or value leaves it
# off. Seen by B with 32-bit MSI addresses only, it cannot reach the
# doorbells at the top of the lender's IOMMU domain: B refuses the borrow.
# QEMU's e1000e fails the driver's MSI self-test at open even when it is
# not lent, so traffic runs with MSI-X: the NIC comes up under the stock
# driver on B, its vectors fire as it sends, the lender takes no
# interrupt; each return gives the NIC back to A's e1000e.
# vm-devices: e1000e edu edu
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"

DP=/sys/kernel/debug/lending_dataplane

ktap_print_header
ktap_set_plan 13

# The MSI registers of function $1 as its config space has them: "ctrl
# address data" in hex.
msi_regs() {
	ctrl=$(setpci -s "$1" CAP_MSI+2.w)
	lo=$(setpci -s "$1" CAP_MSI+4.l)
	if [ $((0x$ctrl & 0x80)) -ne 0 ]; then
		echo "$ctrl $(setpci -s "$1" CAP_MSI+8.l)$lo $(setpci -s "$1" CAP_MSI+c.w)"
	else
		echo "$ctrl $lo $(setpci -s "$1" CAP_MSI+8.w)"
	fi
}

NIC=$(pci_find 0x020000)
RAM_END=$(grep 'System RAM' /proc/iomem | tail -n 1 | sed 's/^ *[0-9a-f]*-\([0-9a-f]*\) .*/\1/')
RAM_SIZE=$(((0x$RAM_END + 4096) / 4096 * 4096))
echo "# lent function $NIC; host B exposes $RAM_SIZE bytes of memory"

lender_nic_up() {
	modprobe e1000e IntMode=1,1,1,1 && wait_for 40 has_netdev "$NIC"
}
ktap_test_result "lender_e1000e_up_with_msi" lender_nic_up

fabric_up() {
	dataplane_fabric "$NIC" "$RAM_SIZE"
}
ktap_test_result "two_host_intel_32g_fabric_bound_to_test_client" fabric_up

# Borrow and wait for the stock driver's netdev: sets VBDF and IF.
borrow() {
	echo 1 >"$DP/borrow" || return 1
	VBDF=$(cat "$DP/borrow")
	wait_for 40 has_netdev "$VBDF" || return 1
	IF=$(netdev_of "$VBDF")
	echo "# borrowed as $VBDF: driver $(driver_of "$VBDF"), netdev $IF"
	[ "$(driver_of "$VBDF")" = e1000e ]
}

# Return and wait for the lender's e1000e to take the NIC back.
give_back() {
	echo 0 >"$DP/borrow" || return 1
	wait_for 40 has_netdev "$NIC" || return 1
	echo "# $NIC: driver $(driver_of "$NIC"), netdev $(netdev_of "$NIC")"
	[ ! -e "/sys/bus/pci/devices/$VBDF" ] && [ "$(driver_of "$NIC")" = e1000e ]
}

# Capabilities by offset and name, without their state.
caps_of() {
	lspci -vv -s "$1" | sed -n 's/^[[:space:]]*Capabilities: \(\[[0-9a-f]* *[v0-9]*\]\) \([A-Za-z -]*\).*/\1 \2/p'
}

# The borrower sees the function's capabilities, extended ones included
# (none of the e1000e's is hidden), and MSI on.
borrowed_with_msi() {
	borrow || return 1
	grep -E '^(span|bar|window|db0 )' "$DP/info" | sed 's/^/# /'
	caps_of "$VBDF" | sed 's/^/# borrower sees /'
	[ "$(caps_of "$VBDF")" = "$(caps_of "$NIC")" ] &&
		lspci -vv -s "$VBDF" | grep -q 'MSI: Enable+'
}
ktap_test_result "stock_e1000e_binds_borrowed_function_with_msi" borrowed_with_msi

# The function's own MSI registers hold doorbell 0 of the borrower, as the
# lender's IOMMU domain places it, and are enabled.
lender_programmed_doorbell() {
	read -r ctrl addr data <<-EOF
	$(msi_regs "$NIC")
	EOF
	db_addr=$(sed -n 's/^db0 addr \(0x[0-9a-f]*\) .*/\1/p' "$DP/info")
	db_data=$(sed -n 's/^db0 .* data \(0x[0-9a-f]*\)$/\1/p' "$DP/info")
	echo "# function's MSI: control $ctrl address $addr data $data; doorbell 0: $db_addr $db_data"
	[ $((0x$ctrl & 1)) -eq 1 ] && [ $((0x$addr)) -eq $((db_addr)) ] &&
		[ $((0x$data)) -eq $((db_data)) ]
}
ktap_test_result "lender_programs_function_msi_with_a_doorbell" lender_programmed_doorbell

# The borrower points its MSI elsewhere, at address $1 (high half $2),
# with data $3 (default: the doorbell's): the lender keeps the function's
# MSI off; the doorbell again turns it back on.
# The borrower's MSI message: lo, hi (empty for 32-bit MSI), data, and
# dataoff, where the data is in the capability.
borrower_msi() {
	lo=$(setpci -s "$VBDF" CAP_MSI+4.l)
	hi=
	dataoff=8
	if [ $((0x$(setpci -s "$VBDF" CAP_MSI+2.w) & 0x80)) -ne 0 ]; then
		hi=$(setpci -s "$VBDF" CAP_MSI+8.l)
		dataoff=c
	fi
	data=$(setpci -s "$VBDF" CAP_MSI+$dataoff.w)
}

msi_elsewhere_refused() {
	borrower_msi
	setpci -s "$VBDF" CAP_MSI+4.l="$1" ${hi:+CAP_MSI+8.l="$2"} \
		CAP_MSI+$dataoff.w="${3:-$data}" || return 1
	off=$(setpci -s "$NIC" CAP_MSI+2.w)
	setpci -s "$VBDF" CAP_MSI+4.l="$lo" ${hi:+CAP_MSI+8.l="$hi"} \
		CAP_MSI+$dataoff.w="$data" || return 1
	on=$(setpci -s "$NIC" CAP_MSI+2.w)
	echo "# function's MSI control after a message to $2$1: $off; after the doorbell again: $on"
	[ $((0x$off & 1)) -eq 0 ] && [ $((0x$on & 1)) -eq 1 ] &&
		[ "$(kernel_log_count "MSI address 0x$(printf %x $((0x$2$1))) is not a doorbell")" -ge 1 ]
}
ktap_test_result "msi_to_a_non_doorbell_address_left_disabled" msi_elsewhere_refused fee00000 0

# The register after the doorbell, in the doorbell's page (on Intel gen3
# that page holds the adapter's translations): refused all the same.
msi_beside_the_doorbell() {
	borrower_msi
	msi_elsewhere_refused "$(printf %08x $((0x$lo + 4)))" "${hi:-0}"
}
ktap_test_result "msi_beside_the_doorbell_in_its_page_left_disabled" msi_beside_the_doorbell

# The doorbell's address with another value: it would ring other bits.
msi_with_other_data() {
	borrower_msi
	msi_elsewhere_refused "$lo" "${hi:-0}" "$(printf %04x $((0x$data ^ 0x6)))"
}
ktap_test_result "msi_with_another_value_left_disabled" msi_with_other_data

ktap_test_result "return_gives_nic_back_to_lender_e1000e" give_back

# The test client clears the 64-bit bit of MSI control as B reads it;
# the lender's IOMMU has the doorbells above 4 GiB.
msi_32bit_borrow_refused() {
	param=/sys/module/lending_dataplane/parameters/msi_32bit
	echo 1 >"$param" || return 1
	err=$(echo 1 2>&1 >"$DP/borrow" | sed 's/.*: //')
	echo 0 >"$param"
	echo "# borrow with 32-bit MSI: $err"
	dmesg | grep 'its MSI takes 32-bit' | sed 's/^/# /'
	[ "$err" = "Operation not supported" ] &&
		[ "$(kernel_log_count "its MSI takes 32-bit addresses only")" -eq 1 ] &&
		wait_for 40 has_netdev "$NIC" && [ "$(driver_of "$NIC")" = e1000e ]
}
t=borrow_refused_when_32bit_msi_cannot_reach_doorbells
if [ -e "/sys/bus/pci/devices/$NIC/iommu_group" ]; then
	ktap_test_result "$t" msi_32bit_borrow_refused
else
	ktap_test_skip "$t (no IOMMU: the doorbells are where the adapter has them)"
fi

borrowed_with_msix() {
	rmmod e1000e && modprobe e1000e && wait_for 40 has_netdev "$NIC" &&
		borrow && lspci -vv -s "$VBDF" | grep -q 'MSI-X: Enable+'
}
ktap_test_result "stock_e1000e_binds_borrowed_function_with_msix" borrowed_with_msix

nic_interrupts() {
	ip link set "$IF" up && ip addr add 10.0.2.15/24 dev "$IF" || return 1
	wait_for 20 grep -q 1 "/sys/class/net/$IF/carrier" || return 1
	v0=$(vector_irqs "$VBDF")
	ping -c 3 -W 1 10.0.2.2 >/dev/null
	v=$(($(vector_irqs "$VBDF") - v0))
	l=$(named_irqs "$NIC")
	echo "# carrier up; while sending: borrower's vectors $v, lender's e1000e $l"
	grep -F "NTB-VBUS" /proc/interrupts | sed 's/^/# /'
	[ "$v" -gt 0 ] && [ "$l" -eq 0 ]
}
ktap_test_result "vectors_fire_as_the_nic_sends_lender_takes_none" nic_interrupts

ktap_test_result "second_return_gives_nic_back_to_lender_e1000e" give_back

teardown() {
	rmmod lending_dataplane && echo 0 >"$SIM_SYSFS/del_fabric" &&
		echo 1 >/sys/bus/ntb/drivers_autoprobe && unload_ntb_modules
}
ktap_test_result "test_client_and_fabric_unload" teardown

ktap_finished
