#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make demo: what an operator sees when the subsystem comes up in a host.
# vm-devices: nvme e1000e edu edu
set -e

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

step "Unload"
rmmod ntb_lending ntb
echo "done"
