#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of harness.bats: prints what the harness gave the guest, and
# checks it got the memory and command line this header declares.
# vm-devices: nvme nvme e1000e
# vm-qemu: -device edu
# vm-mem: 1536M
# vm-cmdline: ntbtest.marker=declared
echo "nvme=$(lspci -n | grep -c ' 0108: ')"
echo "e1000e=$(lspci -n | grep -c ' 8086:10d3')"
echo "edu=$(lspci -n | grep -c ' 1234:11e8')"
echo "memtotal_mib=$(($(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo) / 1024))"
grep -o 'ntbtest.marker=declared' /proc/cmdline
echo "args=$*"
