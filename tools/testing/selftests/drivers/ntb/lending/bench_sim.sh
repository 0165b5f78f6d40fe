#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make bench: figures of the simulated fabric, not pass/fail. ntb_perf
# throughput through a window on each profile that carries it, and
# doorbell delivery latency from the write to the peer's interrupt, for
# CPU writes and for device (edu DMA engine) writes.
# vm-devices: edu edu arena
# vm-timeout: 900
. "$(dirname "$0")/lib.sh"

RINGS=200

sim_prepare_adapters
modprobe ntb_sim

echo "== ntb_perf, 16 MiB through one window, CPU copies, 2 hosts"
id=0
for profile in intel idt; do
	sim_fabric $id $profile 2
	modprobe ntb_perf total_order=24
	sleep 2
	for port in 0 1; do
		dir=/sys/kernel/debug/ntb_perf/$(sim_host_dev $id $port)
		echo 0 >"$dir/run" && sed -n "s/^.*copied/$profile port $port: copied/p" "$dir/run"
	done
	rmmod ntb_perf
	echo $id >"$SIM_SYSFS/del_fabric"
	id=$((id + 1))
done

echo "== doorbell delivery latency, write to the peer's interrupt handler"
sim_fabric $id intel 2
ring=/sys/kernel/debug/ntb_sim/fabric$id/$(sim_host_dev $id 0)/ring
i=0
while [ $i -lt $RINGS ]; do
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
echo $id >"$SIM_SYSFS/del_fabric"
unload_ntb_modules
