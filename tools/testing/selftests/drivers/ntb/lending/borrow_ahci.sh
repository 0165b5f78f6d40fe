#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A device with one plain MSI vector and no MSI-X: an ich9-ahci controller
# with a disk, lent by host A to host B over a two-port intel-32g fabric,
# then over the idt-32g switch, where a device rings its lender's
# doorbell bits through the lender's adapter. On each, B's stock ahci
# driver binds the borrowed controller, its disk appears, reads what A
# wrote before lending it and passes fio verify, its one vector firing as
# a doorbell; the return gives the controller back to A's ahci driver,
# whose disk then reads what B wrote.
# vm-devices: ahci edu edu edu edu
# vm-timeout: 900
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending

ktap_print_header
ktap_set_plan 8

# The VM's ahci entry: q35's own controller at 00:1f.2 has no disk.
AHCI=$(pci_find_all 0x010601 | grep -v '^0000:00:1f\.2$' | sed -n 1p)

# The disk behind the AHCI function $1, once it is there.
ahci_disk_of() {
	for blk in /sys/bus/pci/devices/"$1"/ata*/host*/target*/*/block/*; do
		[ -e "$blk" ] && [ -b "/dev/${blk##*/}" ] && echo "/dev/${blk##*/}" &&
			return 0
	done
	return 1
}

has_ahci_disk() {
	ahci_disk_of "$1" >/dev/null
}

# Write 4 MiB of random data, kept in /tmp/$2, at MiB 200 of disk $1
# (beyond what fio_verified writes), and read it back.
write_pattern() {
	dd if=/dev/urandom of="/tmp/$2" bs=1M count=4 2>/dev/null &&
		dd if="/tmp/$2" of="$1" bs=1M seek=200 oflag=direct conv=fsync 2>/dev/null &&
		reads_pattern "$1" "$2"
}

# True if disk $1 holds /tmp/$2 at MiB 200.
reads_pattern() {
	dd if="$1" bs=1M skip=200 count=4 iflag=direct 2>/dev/null | cmp - "/tmp/$2"
}

lender_disk_up() {
	modprobe ahci && modprobe sd_mod && wait_for 40 has_ahci_disk "$AHCI" &&
		write_pattern "$(ahci_disk_of "$AHCI")" lender || return 1
	echo "# lent controller $AHCI, disk $(ahci_disk_of "$AHCI");" \
		"IOMMU group of 00:1f.2: $(echo /sys/bus/pci/devices/0000:00:1f.2/iommu_group/devices/*)"
	sim_prepare_adapters && modprobe ntb_sim &&
		sim_fabric 0 intel-32g 2 && sim_fabric 1 idt-32g 2 &&
		modprobe ntb_lending
}
ktap_test_result "ahci_disk_written_and_two_fabrics_up" lender_disk_up

# Fabric $1's host A lends the controller to its host B, which borrows it.
borrowed() {
	A=$(sim_host_dev "$1" 0) && B=$(sim_host_dev "$1" 1) || return 1
	L=$CFS/$A/lends/$AHCI
	wait_for 20 file_set "$CFS/$B/node_id" &&
		mkdir "$CFS/$A/connections/1" "$L" && echo 1 >"$L/available" &&
		wait_for 20 file_is "$CFS/$B/offers/00000/state" available &&
		mkdir "$CFS/$B/borrows/00000" || return 1
	VBDF=$(cat "$CFS/$B/borrows/00000/local_bdf")
	echo "# borrowed as $VBDF, driver $(driver_of "$VBDF"); $(tr '\n' ';' <"$CFS/$B/doorbells")"
	wait_for 60 has_ahci_disk "$VBDF" || return 1
	DISK=$(ahci_disk_of "$VBDF")
	echo "# disk $DISK, MSI $(setpci -s "$VBDF" CAP_MSI+2.w 2>/dev/null)"
	[ "$(driver_of "$VBDF")" = ahci ]
}

# B reads what A wrote, fio verifies, B writes for A; the one vector fired.
data_through_borrowed_disk() {
	reads_pattern "$DISK" lender && fio_verified "$DISK" ahci randwrite 4k &&
		write_pattern "$DISK" borrower || return 1
	irqs=$(vector_irqs "$VBDF")
	echo "# the borrowed controller's vector fired $irqs times"
	set -- "/sys/bus/pci/devices/$VBDF"/msi_irqs/*
	[ $# -eq 1 ] && [ -e "$1" ] && [ "$irqs" -gt 0 ]
}

# The return gives A's ahci driver its disk, with what B wrote.
returned() {
	rmdir "$CFS/$B/borrows/00000" && [ ! -e "/sys/bus/pci/devices/$VBDF" ] &&
		rmdir "$L" "$CFS/$A/connections/1" &&
		wait_for 40 has_ahci_disk "$AHCI" && [ "$(driver_of "$AHCI")" = ahci ] &&
		reads_pattern "$(ahci_disk_of "$AHCI")" borrower &&
		cp /tmp/borrower /tmp/lender
}

for fabric in 0 1; do
	profile=$(cat "/sys/kernel/debug/ntb_sim/fabric$fabric/profile")
	ktap_test_result "stock_ahci_driver_binds_the_controller_borrowed_over_$profile" borrowed "$fabric"
	ktap_test_result "borrowed_disk_reads_lenders_data_and_passes_fio_verify_over_$profile" data_through_borrowed_disk
	ktap_test_result "return_gives_the_lender_its_disk_with_borrowers_data_over_$profile" returned
done

unloaded() {
	rmmod ntb_lending && rmmod ntb_sim
}
ktap_test_result "modules_unload" unloaded

ktap_finished
