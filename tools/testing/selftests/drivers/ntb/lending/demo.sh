#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make demo: what an operator sees. Two hosts on a simulated NTB fabric
# (ntb_sim, in this one VM): host A lends its NVMe drive with the
# application note's commands, host B borrows it, its stock nvme driver
# runs it and reads what A wrote, B writes, returns it, and A's own driver
# reads what B wrote. The adapters are ivshmem-doorbells, whose doorbell
# page a lent device may have, so ntb_lending lends with none of the
# opt-ins that the test VMs set.
# vm-devices: nvme ivshmem ivshmem
set -e
. "$(dirname "$0")/lib.sh"

step() {
	echo
	echo "### $*"
}

# Milliseconds since boot.
now_ms() {
	awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime
}

# Run smartio_tool as host $1 (A or B), echoing the command.
on() {
	host=$1
	shift
	echo "host $host\$ smartio_tool $*"
	if [ "$host" = A ]; then adapter=$ADAPTER_A; else adapter=$ADAPTER_B; fi
	SMARTIO_ADAPTER=$adapter smartio_tool "$@"
}

NVME=$(pci_find 0x010802)
MSG=300000	# the sector of the messages, beyond fio's 16 MiB

step "This VM's devices; the drive at $NVME is host A's"
lspci
modprobe nvme
wait_for 40 has_disk "$NVME"
DISK=$(disk_of "$NVME")
echo "host A writes a message on $DISK"
echo "written by host A before lending" | dd of="$DISK" bs=512 seek=$MSG conv=sync,fsync 2>/dev/null

step "A simulated two-host NTB fabric (32 GiB windows), and device lending"
sim_prepare_adapters
modprobe ntb_sim
sim_fabric 0 intel-32g 2
ADAPTER_A=$(sim_host_dev 0 0)
ADAPTER_B=$(sim_host_dev 0 1)
echo "host A: adapter $ADAPTER_A, node 0; host B: adapter $ADAPTER_B, node 1"
modprobe ntb_lending
for opt_in in allow_unsafe_doorbells allow_unsafe_neighbours; do
	echo 0 >"/sys/module/ntb_lending/parameters/$opt_in"
done
wait_for 20 file_set "/sys/kernel/config/ntb_lending/$ADAPTER_B/node_id"
dmesg | grep -E 'smartio initializing|ntb_lending' | sed 's/^\[[^]]*\] //'

step "Host A lends its drive to node 1"
on A connect 1
on A add "${NVME#0000:}"
on A available "${NVME#0000:}"
echo "driver of $NVME on host A now: $(driver_of "$NVME")"
sleep 1

step "Host B sees the offer and borrows it"
on B list
start=$(now_ms)
VBDF=$(on B borrow 00000 | tail -n 1)
wait_for 60 has_disk "$VBDF"
echo "block device ready $(($(now_ms) - start)) ms after the borrow command"
lspci -s "$VBDF"
echo "driver of $VBDF on host B: $(driver_of "$VBDF"), disk $(disk_of "$VBDF")"
on B list

step "Host B's stock nvme driver reads what A wrote, and writes"
BDISK=$(disk_of "$VBDF")
dd if="$BDISK" bs=512 skip=$MSG count=1 2>/dev/null | tr -d '\0'
echo "written by host B through the fabric" | dd of="$BDISK" bs=512 seek=$((MSG + 1)) conv=sync,fsync 2>/dev/null
a0=$(named_irqs "$ADAPTER_A")
b0=$(named_irqs "$ADAPTER_B")
fio --name=demo --filename="$BDISK" --rw=randrw --bs=4k --direct=1 \
	--ioengine=libaio --iodepth=16 --size=16M --verify=crc32c \
	--group_reporting 2>&1 | grep -E 'IOPS=|err='
echo "interrupts during fio: host A's adapter $(($(named_irqs "$ADAPTER_A") - a0))," \
	"host B's (the drive's vectors, as doorbells) $(($(named_irqs "$ADAPTER_B") - b0))"

step "Host B returns it; host A takes it back for local use"
on B return 00000
on A unavailable "${NVME#0000:}"
wait_for 60 has_disk "$NVME"
echo "driver of $NVME on host A: $(driver_of "$NVME")"
dd if="$(disk_of "$NVME")" bs=512 skip=$((MSG + 1)) count=1 2>/dev/null | tr -d '\0'

step "Unload"
on A remove "${NVME#0000:}"
on A disconnect 1
unload_ntb_modules
echo "done"
