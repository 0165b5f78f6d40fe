#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ntb_perf's handshake, again and again: make bench once hung in it on idt
# (issue 13). Each cycle makes a two-host fabric, loads ntb_perf, waits
# for both hosts to hold their peer's buffer (the sizes and addresses sent
# both ways: message registers on idt, scratchpads and doorbells on
# intel), copies 4 MiB each way, unloads ntb_perf and removes the fabric.
# CYCLES (default 50) idt cycles, a fifth as many on intel. A handshake
# not done in 20 s fails, with what each host's ntb_perf knew and its
# debug trace (its "CMD send/recv/exec" lines); every step is bounded.
# CYCLES is the first argument, or a kernel command line word.
# vm-devices: edu edu arena
# vm-timeout: 900
# shellcheck disable=SC2317 # steps are called by name, through step
. "$(dirname "$0")/lib.sh"

CYCLES=${1:-${CYCLES:-50}}
HANDSHAKE_S=20

ktap_print_header
ktap_set_plan 2

perf_dir() {	# fabric, port
	echo "/sys/kernel/debug/ntb_perf/$(sim_host_dev "$1" "$2")"
}

# Whether ntb_perf of debugfs directory $1 has its peer's buffer address
# and its own buffer.
perf_ready() {
	grep -q 'Out buffer xlat 0x0*[1-9a-f]' "$1/info" &&
		! grep -q 'In buffer addr: unallocated' "$1/info"
}

both_ready() {	# fabric
	perf_ready "$(perf_dir "$1" 0)" && perf_ready "$(perf_dir "$1" 1)"
}

perf_runs() {	# fabric
	for port in 0 1; do
		dir=$(perf_dir "$1" "$port")
		echo 0 >"$dir/run" && grep -q copied "$dir/run" || return 1
	done
}

# ntb_perf retries a command into a full register every 1-2 s, up to
# 1000 times, in the work its removal flushes: a link down ends that.
give_up() {	# fabric
	for port in 0 1; do
		sed "s/^/# port $port: /" "$(perf_dir "$1" "$port")/info"
	done
	lines_since_mark ntb_perf | sed 's/^/# /'
	echo "0 1 1" >"/sys/kernel/debug/ntb_sim/fabric$1/link_down"
}

del_fabric() {	# fabric
	echo "$1" >"$SIM_SYSFS/del_fabric"
}

# Cycles $2 on profile $1; true if every handshake was done in time.
cycles() {
	profile=$1 cycles=$2 i=0 passed=0 slowest=0
	while [ "$i" -lt "$cycles" ]; do
		i=$((i + 1)) id=$((id + 1))
		step "$profile cycle $i: make a fabric" 30 sim_fabric $id "$profile" 2 || break
		log_mark
		step "$profile cycle $i: load ntb_perf" 30 \
			modprobe ntb_perf total_order=22 dyndbg=+p || break
		t0=$(uptime_ms)
		if wait_for $((HANDSHAKE_S * 2)) both_ready $id; then
			ms=$(($(uptime_ms) - t0))
			[ "$ms" -le "$slowest" ] || slowest=$ms
			step "$profile cycle $i: ntb_perf runs" 60 perf_runs $id &&
				passed=$((passed + 1))
		else
			echo "# $profile cycle $i: ntb_perf's handshake not done within $HANDSHAKE_S s"
			give_up $id
		fi
		step "$profile cycle $i: unload ntb_perf" 30 rmmod ntb_perf || break
		step "$profile cycle $i: remove the fabric" 30 del_fabric $id || break
		[ "$passed" -eq "$i" ] || break
	done
	echo "# $profile: $passed of $cycles handshakes and runs done, the slowest handshake in $slowest ms"
	[ "$passed" -eq "$cycles" ]
}

sim_prepare_adapters
modprobe ntb_sim
id=0
ktap_test_result "ntb_perf_handshake_${CYCLES}_times_on_idt" cycles idt "$CYCLES"
ktap_test_result "ntb_perf_handshake_$((CYCLES / 5))_times_on_intel" cycles intel $((CYCLES / 5))
step "unload the NTB modules" 30 unload_ntb_modules
ktap_finished
