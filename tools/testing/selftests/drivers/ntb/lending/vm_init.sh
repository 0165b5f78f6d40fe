#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the test VM (see vm.sh): mount what the tests need, run the test
# named by ntbtest= on the kernel command line with its KTAP output on
# ttyS1, then put the kernel log on ttyS2 and power off.
export PATH=/usr/sbin:/usr/bin
export HOME=/root

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug
modprobe configfs
mount -t configfs configfs /sys/kernel/config

test=
args=
read -r cmdline </proc/cmdline
for word in $cmdline; do
	case $word in
	ntbtest=*) test=${word#ntbtest=} ;;
	ntbtest.args=*) args=$(echo "${word#ntbtest.args=}" | tr , ' ') ;;
	esac
done

cd /tests || exit 1
echo "# vm-start" >/dev/ttyS1
# shellcheck disable=SC2086 # args is a word list
"./$test" $args >/dev/ttyS1 2>&1
echo "# vm-exit: $?" >/dev/ttyS1

# Two scans: kmemleak reports an object only once it has been seen twice.
leaks=/sys/kernel/debug/kmemleak
if [ -w "$leaks" ]; then
	echo scan >"$leaks"
	sleep 6
	echo scan >"$leaks"
	cat "$leaks" >/dev/ttyS2
fi
dmesg >/dev/ttyS2
sync
poweroff -f
