#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The VM harness checks itself: a run must fail on a kernel WARN, on a guest
# that does not finish, and on a failing test, and must pass a clean one; a
# test's declarations and extra QEMU arguments must reach the guest; a kernel
# that dies before the test starts is booted once more, and no more; so is a
# run that shows the emulator's flags fault.

VM=$BATS_TEST_DIRNAME/vm.sh
H=$BATS_TEST_DIRNAME/harness

@test "vm_run_fails_on_planted_warn" {
	run "$VM" -o "$BATS_TEST_TMPDIR/out" "$H/planted_warn.sh"
	echo "$output"
	[ "$status" -eq 1 ]
	# The guest's test itself passed: only the kernel log can fail the run.
	[[ "$output" == *"ok 1 planted_warn_loaded"* ]]
	[[ "$output" == *"guest kernel log reports a problem"* ]]
	[[ "$output" == *"WARNING:"*"harness_warn"* ]]
}

@test "vm_run_fails_on_guest_timeout" {
	run "$VM" -o "$BATS_TEST_TMPDIR/out" "$H/guest_hangs.sh"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"guest did not finish within 30s"* ]]
	[[ "$output" == *"guest_hangs.sh still runs after 10s; tasks on the console"* ]]
	# Where the hanging test waits: its sleep, with its kernel stack.
	grep -A1 '^# vm: task [0-9]* sleep 1000 , S' <<<"$output" | grep -q '^# vm:   \[<0>\] .*nanosleep'
}

@test "vm_run_sends_a_guest_still_running_near_its_limit_an_nmi" {
	run "$VM" -o "$BATS_TEST_TMPDIR/out" -t 60 "$H/guest_hangs.sh"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"guest stopped before the test finished"* ]]
	[[ "$output" == *"Kernel panic - not syncing: NMI: Not continuing"* ]]
	# Every CPU's backtrace, which a guest spinning with interrupts off
	# could give no other way.
	grep -q 'NMI backtrace for cpu 1' "$BATS_TEST_TMPDIR/out/console.log"
}

@test "vm_run_fails_when_guest_test_fails" {
	run "$VM" -o "$BATS_TEST_TMPDIR/out" "$H/test_fails.sh"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"test exited with 1"* ]]
}

@test "vm_run_passes_and_delivers_declared_devices_mem_cmdline_and_extras" {
	run "$VM" -o "$BATS_TEST_TMPDIR/out" -q "-device edu" "$H/devices.sh" a1 b2
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"nvme=2"* ]]
	[[ "$output" == *"e1000e=1"* ]]
	# One edu from the script's vm-qemu line, one from -q.
	[[ "$output" == *"edu=2"* ]]
	mem=$(echo "$output" | sed -n 's/^memtotal_mib=//p')
	[ "$mem" -gt 1300 ] && [ "$mem" -le 1536 ]
	[[ "$output" == *"ntbtest.marker=declared"* ]]
	[[ "$output" == *"args=a1 b2"* ]]
	[[ "$output" == *"guest kernel log clean"* ]]
	[[ "$output" != *"running again"* ]]
	[ -s "$BATS_TEST_TMPDIR/out/console.log" ]
	grep -q 'Linux version' "$BATS_TEST_TMPDIR/out/dmesg.log"
}

@test "vm_run_boots_once_more_when_the_kernel_dies_before_the_test" {
	run "$VM" -o "$BATS_TEST_TMPDIR/out" -c "rdinit=/nonexistent" "$H/test_fails.sh"
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(echo "$output" | grep -c 'guest died before the test started, booting again')" -eq 1 ]
	[[ "$output" == *"Kernel panic"* ]]
	[ -s "$BATS_TEST_TMPDIR/out/console.first-boot.log" ]
}

@test "vm_run_runs_once_more_after_an_emulator_flags_fault_and_no_more" {
	run "$VM" -o "$BATS_TEST_TMPDIR/out" "$H/emulator_fault.sh"
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(echo "$output" | grep -c 'the emulator set RFLAGS bits no CPU has')" -eq 1 ]
	[[ "$output" == *"WARNING:"*"exc_debug_kernel (planted)"* ]]
	grep -q 'EFLAGS: c470db02 (planted)' "$BATS_TEST_TMPDIR/out/console.emulator-fault.log"
}

@test "vm_run_runs_once_more_after_an_emulator_double_fault_and_no_more" {
	run "$VM" -o "$BATS_TEST_TMPDIR/out" "$H/emulator_fault.sh" double
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(echo "$output" | grep -c 'the emulator set RFLAGS bits no CPU has')" -eq 1 ]
	[[ "$output" == *"Oops: double fault"*"(planted)"* ]]
	[[ "$output" != *"exc_debug_kernel"* ]]
}
