#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# QEMU's ivshmem-doorbell as a multi-vector NTB adapter: a write to its
# DOORBELL register (BAR0 + 12) of (peer ID << 16 | vector), by a device
# through the IOMMU as a lent device's MSI-X write would be, raises that
# vector of that peer, on the CPU the vector's affinity names.
#
# P0 and P1 are one server group (IDs 0 and 1), S is alone in its own
# (ID 0); all three have 32 vectors (vm.sh). The edu, in the translating
# IOMMU domain Linux gives it, writes to a doorbell register mapped for it
# with dma_map_resource(), by its DMA engine (any 32-bit value) or by its
# MSI (a 16-bit data word: peer 0 only). The ivshmem_ring module
# (modules/ivshmem_ring.c) counts every vector's interrupts per CPU.
# vm-devices: ivshmem-peers ivshmem-peers ivshmem edu
# vm-timeout: 180
. "$(dirname "$0")/lib.sh"

DBG=/sys/kernel/debug/ivshmem_ring

ktap_print_header
ktap_set_plan 10

bind_ring() {
	echo ivshmem_ring >"/sys/bus/pci/devices/$1/driver_override" &&
		echo "$1" >/sys/bus/pci/drivers_probe &&
		[ "$(driver_of "$1")" = ivshmem_ring ]
}

# ivshmem-doorbell functions (ivshmem with a BAR1, for MSI-X), in order.
doorbells() {
	for dev in /sys/bus/pci/devices/*; do
		[ "$(cat "$dev/vendor"):$(cat "$dev/device")" = 0x1af4:0x1110 ] || continue
		[ "$(sed -n 2p "$dev/resource" | cut -d' ' -f1)" != 0x0000000000000000 ] &&
			basename "$dev"
	done
}

id_of() {
	sed -n "s/^$1 id \([0-9]*\) .*/\1/p" "$DBG/counts"
}

irq_of() {
	sed -n "s/^$1 vector $2 irq \([0-9]*\).*/\1/p" "$DBG/counts"
}

# Interrupts of vector $2 of ivshmem $1 on CPU $3.
count_of() {
	n=$(sed -n "s/^$1 vector $2 irq [0-9]*.* cpu$3 \([0-9]*\).*/\1/p" "$DBG/counts")
	echo "${n:-0}"
}

affine() {
	echo "$3" >"/proc/irq/$(irq_of "$1" "$2")/smp_affinity_list"
}

# Ring with "$@" (HOW EDU IVSHMEM VALUE) and wait until vector $6 of $5
# has one more interrupt on CPU $7; print what the kernel logged.
rings() {
	before=$(count_of "$5" "$6" "$7")
	log_mark
	echo "$1 $2 $3 $4" >"$DBG/ring" || return 1
	wait_for 10 count_is "$5" "$6" "$7" $((before + 1)) || {
		echo "# no interrupt; counts:"
		grep cpu "$DBG/counts" | sed 's/^/#   /'
		return 1
	}
	lines_since_mark "ivshmem_ring" | sed 's/^/# /'
}

count_is() {
	[ "$(count_of "$1" "$2" "$3")" -eq "$4" ]
}

# Ring with "$@" and check that no vector anywhere interrupts.
rings_nothing() {
	before=$(cat "$DBG/counts")
	echo "$1 $2 $3 $4" >"$DBG/ring" || return 1
	sleep 1
	[ "$(cat "$DBG/counts")" = "$before" ]
}

modprobe ivshmem_ring
# shellcheck disable=SC2046 # PCI names have no spaces
set -- $(doorbells)
P0=$1 P1=$2 S=$3
EDU=$(pci_find_all 0x00ff00 | head -n 1)
echo "# ivshmem-doorbell P0=$P0 P1=$P1 S=$S, edu $EDU"
for f in "$P0" "$P1" "$S"; do
	echo "# $f BAR0 $(head -n 1 "/sys/bus/pci/devices/$f/resource")"
done

all_bound() {
	for f in "$P0" "$P1" "$S" "$EDU"; do
		bind_ring "$f" || return 1
	done
	echo "# IDs: P0 $(id_of "$P0"), P1 $(id_of "$P1"), S $(id_of "$S");" \
		"the edu's IOMMU domain: $(cat "/sys/bus/pci/devices/$EDU/iommu_group/type")"
	[ "$(id_of "$P0")" = 0 ] && [ "$(id_of "$P1")" = 1 ] && [ "$(id_of "$S")" = 0 ] &&
		grep -q "^$P1 id 1 vectors 32$" "$DBG/counts"
}
ktap_test_result "ivshmem_doorbells_bound_with_ids" all_bound

affine "$P1" 3 1
affine "$P1" 4 0
affine "$P1" 5 1
affine "$S" 6 1
affine "$P0" 7 0
ktap_test_result "cpu_write_rings_peer_vector" \
	rings cpu - "$P0" $((1 << 16 | 3)) "$P1" 3 1
ktap_test_result "device_dma_rings_peer_vector_on_cpu1" \
	rings dma "$EDU" "$P0" $((1 << 16 | 3)) "$P1" 3 1
ktap_test_result "device_dma_rings_peer_vector_on_cpu0" \
	rings dma "$EDU" "$P0" $((1 << 16 | 4)) "$P1" 4 0

moved() {
	affine "$P1" 3 0 && rings dma "$EDU" "$P0" $((1 << 16 | 3)) "$P1" 3 0
}
ktap_test_result "device_dma_follows_a_changed_affinity" moved

ktap_test_result "device_dma_rings_own_id_at_own_register" \
	rings dma "$EDU" "$P1" $((1 << 16 | 5)) "$P1" 5 1
ktap_test_result "device_msi_rings_lone_device_vector" \
	rings msi "$EDU" "$S" 6 "$S" 6 1
ktap_test_result "device_msi_rings_peer0_vector" \
	rings msi "$EDU" "$P0" 7 "$P0" 7 0

# Nothing for a peer ID nobody has, a vector beyond the 32, or a peer of
# another group: S's group has no ID 1.
ktap_test_result "unknown_peer_or_vector_rings_nothing" \
	rings_nothing dma "$EDU" "$P0" $((2 << 16 | 3))
other_group() {
	rings_nothing dma "$EDU" "$S" $((1 << 16 | 3)) &&
		rings_nothing dma "$EDU" "$P0" $((1 << 16 | 40))
}
ktap_test_result "groups_are_apart" other_group

ktap_finished
