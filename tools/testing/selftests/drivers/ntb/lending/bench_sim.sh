#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make bench: figures of the simulated fabric, not pass/fail. ntb_perf
# throughput through a window on each profile that carries it, and
# doorbell delivery latency from the write to the peer's interrupt, for
# CPU writes and for device (edu DMA engine) writes.
#
# Every step runs in a process group of its own, for a bounded time (step,
# lib.sh): one that fails or hangs says so by name, the steps after it
# still run, and the script exits 1.
# vm-devices: edu edu arena
# vm-timeout: 900
# shellcheck disable=SC2317 # steps are called by name, through step
. "$(dirname "$0")/lib.sh"

RINGS=200
PERF_READY_S=30	# ntb_perf's handshake; a peer's full register costs 1-2 s
PERF_STEP_S=90	# the handshake and one 16 MiB run each way
RING_STEP_S=120	# the doorbell rings
CLEANUP_S=30

# Whether the ntb_perf of debugfs directory $1 has finished its handshake
# with its peer: it has the peer's buffer address and its own buffer.
perf_ready() {
	grep -q 'Out buffer xlat 0x0*[1-9a-f]' "$1/info" &&
		! grep -q 'In buffer addr: unallocated' "$1/info"
}

# ntb_perf both ways between the two hosts of fabric $1, profile $2.
perf_run() {
	for port in 0 1; do
		dir=/sys/kernel/debug/ntb_perf/$(sim_host_dev "$1" "$port") || return 1
		if ! wait_for $((PERF_READY_S * 2)) perf_ready "$dir"; then
			echo "# bench_sim: $2: ntb_perf's handshake on port $port not done within ${PERF_READY_S} s"
			return 1
		fi
	done
	for port in 0 1; do
		dir=/sys/kernel/debug/ntb_perf/$(sim_host_dev "$1" "$port")
		echo 0 >"$dir/run" || return 1
		sed -n "s/^.*copied/$2 port $port: copied/p" "$dir/run"
	done
}

ring_latency() {	# fabric
	ring=/sys/kernel/debug/ntb_sim/fabric$1/$(sim_host_dev "$1" 0)/ring
	i=0
	while [ "$i" -lt "$RINGS" ]; do
		echo "cpu $((i % 16))" >"$ring" && cut -d' ' -f2 "$ring"
		i=$((i + 1))
	done | sort -n >/tmp/cpu_ns
	echo "cpu write, $RINGS rings: min $(head -n1 /tmp/cpu_ns) ns," \
		"median $(sed -n "$((RINGS / 2))p" /tmp/cpu_ns) ns, max $(tail -n1 /tmp/cpu_ns) ns"
	for i in 1 2 3; do
		echo "device $i" >"$ring" && cut -d' ' -f2 "$ring"
	done | sort -n >/tmp/dev_ns
	echo "device write (edu DMA engine), 3 rings: min $(head -n1 /tmp/dev_ns) ns," \
		"max $(tail -n1 /tmp/dev_ns) ns; QEMU's edu completes DMA on a 100 ms timer"
}

del_fabric() {	# fabric
	echo "$1" >"$SIM_SYSFS/del_fabric"
}

# What each host's ntb_perf knew when its step failed.
perf_info() {	# fabric
	for port in 0 1; do
		dir=/sys/kernel/debug/ntb_perf/$(sim_host_dev "$1" "$port")
		[ -r "$dir/info" ] && sed "s/^/# port $port: /" "$dir/info"
	done
}

# Hold the link between the two hosts of fabric $1 down. ntb_perf sends a
# command to a full message register again every 1-2 s, up to 1000 times,
# in its service work, which its removal flushes: only a link down ends
# that early (see Documentation/ntb-lending/ntb_sim.rst).
link_down() {	# fabric
	echo "0 1 1" >"/sys/kernel/debug/ntb_sim/fabric$1/link_down"
}

sim_prepare_adapters
modprobe ntb_sim

echo "== ntb_perf, 16 MiB through one window, CPU copies, 2 hosts"
id=0
for profile in intel idt; do
	step "$profile: make a two-host fabric" $CLEANUP_S sim_fabric $id $profile 2 &&
		step "$profile: load ntb_perf" $CLEANUP_S modprobe ntb_perf total_order=24 &&
		{ step "$profile: ntb_perf handshake and runs" $PERF_STEP_S perf_run $id $profile ||
			{ perf_info $id; step "$profile: take the link down" $CLEANUP_S link_down $id; }; }
	! module_loaded ntb_perf || step "$profile: unload ntb_perf" $CLEANUP_S rmmod ntb_perf
	step "$profile: remove the fabric" $CLEANUP_S del_fabric $id
	id=$((id + 1))
done

echo "== doorbell delivery latency, write to the peer's interrupt handler"
step "intel: make a two-host fabric" $CLEANUP_S sim_fabric $id intel 2 &&
	step "doorbell latency" $RING_STEP_S ring_latency $id
step "intel: remove the fabric" $CLEANUP_S del_fabric $id
step "unload the NTB modules" $CLEANUP_S unload_ntb_modules
exit $STEP_FAILED
