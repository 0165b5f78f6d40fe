#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make demo: what an operator sees when the subsystem comes up in a host.
# vm-devices: nvme e1000e edu edu arena
set -e
. "$(dirname "$0")/lib.sh"

step() {
	echo
	echo "### $*"
}

step "The devices of this host"
lspci -nn

step "Load device lending: modprobe ntb_lending"
modprobe ntb_lending
dmesg | grep -E 'ntb_lending|^\[[^]]*\] ntb' || true

step "The application note's check: 'smartio initializing' in the kernel log"
dmesg | grep 'smartio initializing'

step "ntb_lending is an NTB client, waiting for NTB adapters"
ls -d /sys/bus/ntb/drivers/ntb_lending
lsmod | grep '^ntb'

# An NTB device takes one client; ntb_tool stands in for lending below.
rmmod ntb_lending

step "A simulated NTB fabric: two hosts on the edu adapters (ntb_sim)"
sim_prepare_adapters
modprobe ntb_sim hosts=2 profile=intel
fabric=/sys/kernel/debug/ntb_sim/fabric0
echo "profile: $(cat $fabric/profile)"
for port in 0 1; do
	echo "host on port $port: adapter $(sim_host_dev 0 $port)"
done
ls /sys/bus/ntb/devices

step "Host 0 rings doorbell 3 of host 1, as a device would (edu DMA engine)"
modprobe ntb_tool
tool=/sys/kernel/debug/ntb_tool
for d in "$tool"/*/link; do echo Y >"$d"; done
sleep 1
echo "link seen by host 0: $(cat "$tool/$(sim_host_dev 0 0)/peer0/link")"
echo "device 3" >"$fabric/$(sim_host_dev 0 0)/ring"
echo "host 1 doorbell register: $(cat "$tool/$(sim_host_dev 0 1)/db")" \
	"($(cut -d' ' -f2 "$fabric/$(sim_host_dev 0 0)/ring") ns, QEMU's edu DMA timer included)"

step "Unload"
unload_ntb_modules
echo "done"
