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

# The tests' hosts share one VM: an edu adapter's doorbell page holds its
# DMA registers, and q35's root bus packs functions' BARs side by side.
# They lend with ntb_lending's opt-ins for both (testing.rst, "Opt-ins");
# lend_unsafe_windows.sh clears them to show the refusals.
mkdir -p /etc/modprobe.d
echo "options ntb_lending allow_unsafe_doorbells=1 allow_unsafe_neighbours=1" \
	>/etc/modprobe.d/ntb_lending-tests.conf

test=
args=
read -r cmdline </proc/cmdline
for word in $cmdline; do
	case $word in
	ntbtest=*) test=${word#ntbtest=} ;;
	ntbtest.args=*) args=$(echo "${word#ntbtest.args=}" | tr , ' ') ;;
	ntbtest.deadline=*) deadline=${word#ntbtest.deadline=} ;;
	esac
done

# Where every task waits, on the console: the kernel's blocked tasks and
# CPUs (sysrq w and l), then each user process's kernel stack.
report_hang() {
	echo w >/proc/sysrq-trigger
	echo l >/proc/sysrq-trigger
	for p in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' <"$p/cmdline" | cut -c1-80)
		[ -n "$cmd" ] || continue # a kernel thread
		echo "# vm: task ${p#/proc/} $cmd, $(sed -n 's/^State:[[:space:]]*//p' "$p/status")"
		sed 's/^/# vm:   /' "$p/stack"
	done
}

cd /tests || exit 1
# The guest uptime it starts at, for vm.sh to tell a stopped guest clock.
echo "# vm-start $(cut -d' ' -f1 /proc/uptime)" >/dev/ttyS1
# A test still running near vm.sh's time limit leaves a report of where it
# hangs: a hang that the hung-task detector cannot see (a wait that wakes
# now and then, an interruptible one) says nothing otherwise.
if [ -n "${deadline:-}" ]; then
	(sleep "$deadline" &&
		echo "# vm: $test still runs after ${deadline}s; tasks on the console" >/dev/ttyS1 &&
		report_hang >/dev/console 2>&1) &
	watchdog=$!
fi
# shellcheck disable=SC2086 # args is a word list
"./$test" $args >/dev/ttyS1 2>&1
status=$?
[ -z "${watchdog:-}" ] || kill "$watchdog" 2>/dev/null
echo "# vm-exit: $status" >/dev/ttyS1

# Two scans: kmemleak reports an object only once it has been seen twice.
leaks=/sys/kernel/debug/kmemleak
if [ -w "$leaks" ]; then
	echo scan >"$leaks"
	sleep 6
	echo scan >"$leaks"
	cat "$leaks" >/dev/ttyS2
fi
dmesg >/dev/ttyS2
# A device that died under I/O (a task of the test oopsed holding its
# queue) can hold sync for good: power off after 30 s all the same, not
# when vm.sh's limit runs out.
sync &
n=300
while [ "$n" -gt 0 ] && kill -0 $! 2>/dev/null; do
	sleep 0.1
	n=$((n - 1))
done
poweroff -f
