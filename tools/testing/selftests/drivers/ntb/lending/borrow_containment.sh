#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# IOMMU containment of a borrowed device: host A lends a spare edu (an
# adapter no host uses) to host B through configfs, and B programs the
# edu's DMA engine to write beyond its window, onto a canary in ivshmem
# memory that no driver claims. The write faults in A's IOMMU, naming the
# lent function, and the canary is unchanged. The same DMA from the edu
# before it is lent, and again after it is given back, lands on the
# canary: the test would see a write that got through. The borrow is
# returned and the edu goes back to ntb_sim afterwards.
#
# The edu's DMA engine (QEMU hw/misc/edu.c): BAR0 + 0x80 source, 0x88
# destination, 0x90 count, 0x98 command (bit 0 start, bit 1 from its
# buffer to the bus), done when bit 0 clears, 100 ms after the start.
# Its 4 KiB buffer is at 0x40000 as the engine sees it and cannot be
# reached through BAR0, so a DMA from the bus fills it.
# vm-devices: edu edu edu arena
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
EDU_BUFFER=0x40000
EDU_DMA_START=1
EDU_DMA_TO_BUS=2

ktap_print_header
ktap_set_plan 10

# The ivshmem device holds the canary and is kept from ntb_sim, whose
# arena it would be (lending needs none): undriven, its memory is neither
# RAM nor busy, which the kernel's strict /dev/mem needs to let devmem at
# it. The pattern at its start is what the edu carries, the canary a MiB
# in is where the edu's stray write is aimed.
IVSH=$(pci_find 0x050000)
IVSH_MEM=$(sed -n 3p "/sys/bus/pci/devices/$IVSH/resource" | cut -d' ' -f1)
PATTERN=$((IVSH_MEM))
CANARY=$((IVSH_MEM + 0x100000))
# The DMA's 32 bytes land in the middle of the canary's 64.
TARGET=$((CANARY + 0x10))
DMA_BYTES=32

# Word $2 (0..7) of the canary ("CANARY" and the index), or of the
# pattern ("DMADMA" and the index) if $1 is "pattern".
word() {
	case $1 in
	pattern) printf '0x%016X' $((0x444d41444d410000 + $2)) ;;
	*) printf '0x%016X' $((0x43414e4152590000 + $2)) ;;
	esac
}

# The canary's eight words as devmem reads them.
canary_now() {
	for i in 0 1 2 3 4 5 6 7; do
		devmem $((CANARY + 8 * i)) 64
	done | tr '\n' ' '
}

# The canary's words as they should read: intact, or with the pattern
# where the DMA aims if $1 is "hit".
canary_expected() {
	for i in 0 1 2 3 4 5 6 7; do
		if [ "${1:-}" = hit ] && [ "$i" -ge 2 ] && [ "$i" -le 5 ]; then
			word pattern $((i - 2))
		else
			word canary "$i"
		fi
		echo
	done | tr '\n' ' '
}

canary_write() {
	for i in 0 1 2 3 4 5 6 7; do
		devmem $((CANARY + 8 * i)) 64 "$(word canary "$i")" || return 1
	done
}

canary_intact() {
	now=$(canary_now)
	echo "# canary: $now"
	[ "$now" = "$(canary_expected)" ]
}

canary_hit() {
	now=$(canary_now)
	echo "# canary: $now"
	[ "$now" = "$(canary_expected hit)" ]
}

# Run one DMA of the edu whose BAR0 is at physical address $1: $2 bytes
# from $3 to $4, command $5; wait for the engine to finish.
edu_dma() {
	devmem $(($1 + 0x80)) 64 $(($3)) && devmem $(($1 + 0x88)) 64 $(($4)) &&
		devmem $(($1 + 0x90)) 64 $(($2)) &&
		devmem $(($1 + 0x98)) 64 $((EDU_DMA_START | $5)) &&
		wait_for 10 edu_idle "$1"
}

edu_idle() {
	[ $(($(devmem $(($1 + 0x98)) 64) & EDU_DMA_START)) -eq 0 ]
}

bar0() {
	sed -n 1p "/sys/bus/pci/devices/$1/resource" | cut -d' ' -f1
}

# Run "$@" on a CPU where the doorbell interrupt of the lender's adapter
# $1 is not due. User config accesses to a borrowed function wait for
# the lender's answer with interrupts off (protocol.rst); on ntb_sim this
# kernel is the lender, and on the waiting CPU its answer would wait too.
away_from_lender() {
	irq=$(ls "/sys/bus/pci/devices/$1/msi_irqs") &&
		echo 0 >"/proc/irq/$irq/smp_affinity_list" || return 1
	shift
	taskset -c 1 "$@"
}

# The end of B's memory (on ntb_sim, the VM's): the lent function's
# IOMMU domain maps [0, end) onto it, and doorbell pages at its top.
ram_end() {
	sed -n 's/^\([0-9a-f]*\)-\([0-9a-f]*\) : System RAM$/0x\2/p' /proc/iomem | tail -n 1
}

canary_set_up() {
	echo none >"/sys/bus/pci/devices/$IVSH/driver_override" || return 1
	echo "# canary at $(printf '%#x' "$CANARY") in $IVSH memory;" \
		"memory ends at $(ram_end)"
	[ "$CANARY" -gt $(($(ram_end))) ] &&
		for i in 0 1 2 3; do
			devmem $((PATTERN + 8 * i)) 64 "$(word pattern "$i")" || return 1
		done && canary_write && canary_intact
}
ktap_test_result "canary_in_ivshmem_that_no_driver_claims" canary_set_up

# The edu no host stands on stays in ntb_sim's pool of free adapters.
spare_edu_found() {
	sim_two_hosts intel-32g && [ -z "$(driver_of "$IVSH")" ] || return 1
	for dev in /sys/bus/pci/devices/*; do
		[ "$(cat "$dev/vendor"):$(cat "$dev/device")" = 0x1234:0x11e8 ] || continue
		[ "${dev##*/}" = "$A" ] || [ "${dev##*/}" = "$B" ] || EDU=${dev##*/}
	done
	echo "# hosts on $A and $B; spare edu $EDU, BAR0 at $(bar0 "$EDU")"
	[ -n "$EDU" ] && [ "$(driver_of "$EDU")" = ntb_sim ] &&
		[ "$(cat "/sys/bus/pci/devices/$EDU/iommu_group/type")" = identity ]
}
ktap_test_result "spare_edu_is_a_free_adapter_of_ntb_sim" spare_edu_found

# The edu on its own (no driver, identity domain: no IOMMU confines it)
# takes the pattern into its buffer and writes it onto the canary.
unconfined_dma_lands() {
	echo "$EDU" >/sys/bus/pci/drivers/ntb_sim/unbind &&
		setpci -s "$EDU" COMMAND=0006 || return 1
	E0=$(bar0 "$EDU")
	edu_dma "$E0" "$DMA_BYTES" "$PATTERN" "$EDU_BUFFER" 0 &&
		edu_dma "$E0" "$DMA_BYTES" "$EDU_BUFFER" "$TARGET" "$EDU_DMA_TO_BUS" &&
		canary_hit || return 1
	canary_write && canary_intact &&
		echo "$EDU" >/sys/bus/pci/drivers/ntb_sim/bind &&
		[ "$(driver_of "$EDU")" = ntb_sim ]
}
ktap_test_result "unconfined_edu_dma_lands_on_the_canary" unconfined_dma_lands

offer_available() {
	[ "$(cat "$CFS/$B/offers/00000/state" 2>/dev/null)" = available ]
}

# ntb_sim, the edu's stock driver, binds it on B too, as a free adapter;
# unbound, its BAR (what B's window reaches) is free for devmem, and the
# test drives the edu itself.
edu_borrowed() {
	modprobe ntb_lending || return 1
	L=$CFS/$A/lends/$EDU
	wait_for 20 file_set "$CFS/$B/node_id" &&
		mkdir "$CFS/$A/connections/1" "$L" && echo 1 >"$L/available" &&
		[ "$(driver_of "$EDU")" = ntb_lending ] && wait_for 20 offer_available &&
		mkdir "$CFS/$B/borrows/00000" || return 1
	VBDF=$(cat "$CFS/$B/borrows/00000/local_bdf")
	echo "# borrowed as $VBDF, driver $(driver_of "$VBDF"), BAR0 at $(bar0 "$VBDF")"
	[ "$(cat "$L/state")" = borrowed ] &&
		echo "$VBDF" >/sys/bus/pci/drivers/ntb_sim/unbind &&
		[ -z "$(driver_of "$VBDF")" ]
}
ktap_test_result "spare_edu_lent_to_and_borrowed_by_b" edu_borrowed

# Seen in the lent function itself, on A.
bus_master_from_b() {
	before=$(setpci -s "$EDU" COMMAND)
	away_from_lender "$A" setpci -s "$VBDF" COMMAND=0006 || return 1
	after=$(setpci -s "$EDU" COMMAND)
	echo "# lent function's COMMAND $before before, $after after"
	[ $((0x$before & 4)) -eq 0 ] && [ $((0x$after & 6)) -eq 6 ]
}
ktap_test_result "borrower_turns_on_bus_mastering" bus_master_from_b

# A DMA fault is logged with the page of the faulting address.
FAULT="Request device \[${EDU#*:}\] fault addr $(printf '%#x' $((TARGET & ~0xfff)))"
faults0=$(kernel_log_count "DMAR: \[DMA Write")

stray_dma_faults() {
	edu_dma "$(bar0 "$VBDF")" "$DMA_BYTES" "$EDU_BUFFER" "$TARGET" "$EDU_DMA_TO_BUS" &&
		wait_for 10 log_count_is 1 "$FAULT" || return 1
	dmesg | grep -E "$FAULT" | sed 's/^/# /'
	[ "$(kernel_log_count "DMAR: \[DMA Write")" -eq $((faults0 + 1)) ]
}
ktap_test_result "dma_beyond_the_window_faults_in_the_lenders_iommu" stray_dma_faults
ktap_test_result "canary_unchanged_after_the_stray_dma" canary_intact

returned_and_released() {
	rmdir "$CFS/$B/borrows/00000" && [ ! -e "/sys/bus/pci/devices/$VBDF" ] &&
		wait_for 20 offer_available && echo 0 >"$L/available" &&
		rmdir "$L" "$CFS/$A/connections/1" || return 1
	echo "# edu back with $(driver_of "$EDU")," \
		"$(cat "/sys/bus/pci/devices/$EDU/iommu_group/type") domain"
	[ "$(driver_of "$EDU")" = ntb_sim ] &&
		[ "$(cat "/sys/bus/pci/devices/$EDU/iommu_group/type")" = identity ]
}
ktap_test_result "borrow_returned_and_edu_back_with_ntb_sim" returned_and_released

# The buffer still holds the pattern: the stray DMA carried it too.
released_dma_lands() {
	echo "$EDU" >/sys/bus/pci/drivers/ntb_sim/unbind &&
		setpci -s "$EDU" COMMAND=0006 &&
		edu_dma "$E0" "$DMA_BYTES" "$EDU_BUFFER" "$TARGET" "$EDU_DMA_TO_BUS" &&
		canary_hit && canary_write && canary_intact &&
		echo "$EDU" >/sys/bus/pci/drivers/ntb_sim/bind
}
ktap_test_result "released_edu_dma_lands_on_the_canary_again" released_dma_lands

ktap_test_result "everything_undone_and_modules_unload" unload_ntb_modules

ktap_finished
