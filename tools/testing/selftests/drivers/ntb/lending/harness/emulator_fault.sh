#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of harness.bats: a test that passes while the kernel log shows
# what a TCG flags fault prints, a single-step WARNING with RFLAGS bits no
# CPU sets. vm.sh must run it once more, then fail it on the WARNING.
# vm-devices: edu
printf '<4>WARNING: CPU: 0 PID: 1 at arch/x86/kernel/traps.c:1120 exc_debug_kernel (planted)\n' >/dev/kmsg
printf '<4>RSP: 0018:ffffcf3940f0b840 EFLAGS: c470db02 (planted)\n' >/dev/kmsg
echo "ok 1 emulator_fault_planted"
