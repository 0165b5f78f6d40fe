#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of harness.bats: what a TCG flags fault prints, a single-step
# WARNING with RFLAGS bits no CPU sets, and the double fault that can
# follow it, then a failing test. With "double", the double fault alone,
# as when the garbage flags hold no trap flag. vm.sh must run it once
# more, then fail it on the first report.
# vm-devices: edu
[ "${1:-}" = double ] ||
	printf '<4>WARNING: CPU: 0 PID: 1 at arch/x86/kernel/traps.c:1120 exc_debug_kernel (planted)\n' >/dev/kmsg
printf '<4>RSP: 0018:ffffcf3940f0b840 EFLAGS: c470db02 (planted)\n' >/dev/kmsg
printf '<0>Oops: double fault: 0000 [#1] PREEMPT SMP NOPTI (planted)\n' >/dev/kmsg
echo "not ok 1 emulator_fault_planted"
