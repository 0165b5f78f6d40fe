#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make bench: figures of NTB device lending, not pass/fail. One QEMU nvme
# read by fio four ways in one VM: through the lender's own nvme driver
# (local, in its default translated IOMMU domain, and again in an identity
# domain), borrowed over a two-host intel-32g ntb_sim fabric, and exported
# by nvmet-tcp on 127.0.0.1 to nvme-tcp. Then the time from a borrow to the
# borrowed disk's node against a local hot-add (PCI remove and rescan).
# Rounds alternate the four, so that the host's changing load (other VMs)
# falls on all of them alike; figures are medians over the rounds.
# BENCH_ROUNDS (default 3) sets the number of rounds, as in bench_pool.sh.
#
# Every step (a fio, a driver bind, a borrow, a return, ...) runs for a
# bounded time (step, lib.sh): one that fails or hangs says so by name, the
# rest of its round is skipped but for the steps that undo it, the next
# round still runs, the table shows what was measured, and the script
# exits 1.
# vm-devices: nvme edu edu
# vm-timeout: 2400
# shellcheck disable=SC2317 # steps are called by name, through step
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
NVMET=/sys/kernel/config/nvmet
NQN=nqn.2014-08.invalid.ntb-lending:bench
REGION=128M
RUNTIME=10
ROUNDS=${BENCH_ROUNDS:-3}
RESULTS=/tmp/bench-results
FIO_S=$((RUNTIME + 50))	# one fio: ramp, runtime, and its start on a busy host
STEP_S=60		# a bind, a hot-add, a borrow, a return

fail() {
	echo "# bench: $* failed" >&2
	exit 1
}

# Milliseconds since boot, to the kernel's 10 ms (busybox date has no %N).
now_ms() {
	read -r up _ </proc/uptime
	echo $(($(echo "$up" | tr -d .) * 10))
}

# fio workload $3 reading disk $2 for target $1, fio pinned to CPU $4 if
# given; appends "TARGET WORKLOAD IOPS MB/s CPU% ROUND" to the results, CPU%
# being how busy the guest's CPUs were meanwhile. A step of its own.
fio_read() {
	target=$1 disk=$2 workload=$3 pin=${4:+--cpus_allowed=$4}
	case $workload in
	qd1*) set -- --rw=randread --bs=4k --iodepth=1 ;;
	qd32) set -- --rw=randread --bs=4k --iodepth=32 ;;
	seq) set -- --rw=read --bs=128k --iodepth=16 ;;
	esac
	c0=$(cpu_ticks)
	# shellcheck disable=SC2086 # pin is one option or none
	out=$(fio --name="$target-$workload" --filename="$disk" "$@" --direct=1 \
		--ioengine=libaio --size="$REGION" --time_based --ramp_time=1 \
		--runtime="$RUNTIME" --output-format=terse --terse-version=3 $pin) ||
		return 1
	c1=$(cpu_ticks)
	# terse v3: field 7 is read KiB/s, field 8 read IOPS
	echo "$out" | awk -F';' -v t="$target" -v w="$workload" -v c="$c0 $c1" -v r="$r" '
		$1 == 3 {
			split(c, j, " ")
			printf "%s %s %d %.1f %d %d\n", t, w, $8, $7 * 1.024 / 1000,
				100 * (j[3] - j[1]) / (j[4] - j[2]) + 0.5, r
		}' >>"$RESULTS"
	echo "# $(tail -n1 "$RESULTS" | cut -d' ' -f1-5) (IOPS MB/s CPU%)"
}

measure() {
	step "fio $3 on $1 ($2)" $FIO_S fio_read "$@"
}

measure_all() {
	for w in qd1 qd32 seq; do
		measure "$1" "$2" "$w"
	done
}

# Wait up to 60 s for the disk of nvme function $1, looking every 10 ms.
await_disk() {
	n=6000
	until has_disk "$1"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.01
	done
}

# --- local, in either IOMMU domain type --------------------------------------

NVME=$(pci_find 0x010802) || fail "finding the nvme"
GROUP=/sys/bus/pci/devices/$NVME/iommu_group

# Bind the local nvme driver with the IOMMU group's domain of type $1.
local_driver() {
	if [ -e "/sys/bus/pci/devices/$NVME/driver" ]; then
		echo "$NVME" >/sys/bus/pci/drivers/nvme/unbind || return 1
	fi
	echo "$1" >"$GROUP/type" && echo "$NVME" >/sys/bus/pci/drivers/nvme/bind &&
		await_disk "$NVME"
}

# --- NVMe/TCP loopback of the local namespace --------------------------------

SUB=$NVMET/subsystems/$NQN
PORT=$NVMET/ports/1

tcp_export() {
	mkdir "$SUB" && echo 1 >"$SUB/attr_allow_any_host" &&
		mkdir "$SUB/namespaces/1" && echo "$LOCAL" >"$SUB/namespaces/1/device_path" &&
		echo 1 >"$SUB/namespaces/1/enable" &&
		mkdir "$PORT" && echo tcp >"$PORT/addr_trtype" && echo ipv4 >"$PORT/addr_adrfam" &&
		echo 127.0.0.1 >"$PORT/addr_traddr" && echo 4420 >"$PORT/addr_trsvcid" &&
		ln -s "$SUB" "$PORT/subsystems/$NQN" && connect
}

# With hostnqn and hostid of one uuid: nvme-cli's own choice (a zero DMI
# uuid, a random hostid) clashes with the kernel's default host.
connect() {
	uuid=$(cat /proc/sys/kernel/random/uuid)
	nvme connect -t tcp -a 127.0.0.1 -s 4420 -n "$NQN" \
		--hostnqn="nqn.2014-08.org.nvmexpress:uuid:$uuid" --hostid="$uuid" >/dev/null
}

# The block device of the connected subsystem: the multipath head node, or
# the controller's namespace without multipath (hidden paths have no node).
tcp_disk() {
	for sub in /sys/class/nvme-subsystem/*; do
		[ "$(cat "$sub/subsysnqn")" = "$NQN" ] || continue
		for ns in "$sub"/nvme*n1 "$sub"/nvme*/nvme*n1; do
			[ -b "/dev/${ns##*/}" ] && echo "/dev/${ns##*/}" && return 0
		done
	done
	return 1
}

tcp_unexport() {
	nvme disconnect -n "$NQN" >/dev/null && rm "$PORT/subsystems/$NQN" &&
		rmdir "$PORT" && echo 0 >"$SUB/namespaces/1/enable" &&
		rmdir "$SUB/namespaces/1" "$SUB"
}

# --- local hot-add and borrow, to the disk node ------------------------------

# A local hot-add; appends its milliseconds to /tmp/hotadd_ms.
hotadd_ms() {
	echo 1 >"/sys/bus/pci/devices/$NVME/remove" &&
		wait_for 20 gone "/sys/bus/pci/devices/$NVME" || return 1
	t0=$(now_ms)
	echo 1 >/sys/bus/pci/rescan && await_disk "$NVME" || return 1
	echo $(($(now_ms) - t0)) >>/tmp/hotadd_ms
}

offer_available() {
	[ "$(cat "$CFS/$B/offers/$ID/state" 2>/dev/null)" = available ]
}

has_node_id() {
	[ -n "$(cat "$CFS/$1/node_id")" ]
}

fabric() {
	sim_prepare_adapters && modprobe ntb_sim && sim_fabric 0 intel-32g 2 &&
		modprobe ntb_lending || return 1
	A=$(sim_host_dev 0 0) && B=$(sim_host_dev 0 1) &&
		wait_for 20 has_node_id "$B" && mkdir "$CFS/$A/connections/1"
}

# Lend entry L for the nvme; its offer's Id is ID.
lend() {
	mkdir "$L" && echo 1 >"$L/available" && ID=$(cat "$L/id") &&
		wait_for 20 offer_available
}

# Borrow; append the milliseconds from the mkdir to the disk's node, and
# to the mkdir's return (the device in the tree, its driver probing), to
# /tmp/borrow_ms.
borrow_ms() {
	t0=$(now_ms)
	mkdir "$CFS/$B/borrows/$ID" || return 1
	t1=$(now_ms)
	await_disk "$(cat "$CFS/$B/borrows/$ID/local_bdf")" || return 1
	echo $(($(now_ms) - t0)) $((t1 - t0)) >>/tmp/borrow_ms
}

give_back() {
	rmdir "$CFS/$B/borrows/$ID" && wait_for 40 offer_available
}

# The lend entry goes, the local driver has the device again.
unlend() {
	echo 0 >"$L/available" && rmdir "$L" && await_disk "$NVME"
}

# The disk of the nvme, and of the borrowed one, as they are now.
local_disk() {
	LOCAL=$(disk_of "$NVME")
}

borrowed_disk() {
	VBDF=$(cat "$CFS/$B/borrows/$ID/local_bdf") && BORROWED=$(disk_of "$VBDF")
}

local_nvme() {
	modprobe nvme && await_disk "$NVME"
}

load_nvmet() {
	ip link set lo up && modprobe -a nvmet nvmet-tcp nvme-tcp
}

unload() {
	rmdir "$CFS/$A/connections/1" && rmmod ntb_lending && unload_ntb_modules &&
		modprobe -r nvme-tcp nvmet-tcp nvmet
}

tcp_namespace() {
	wait_for 20 tcp_disk >/dev/null
}

# One round; a step that fails skips the rest of its part of the round,
# but for the steps that undo what the part did.
round() {
	step "the local nvme in an identity domain" $STEP_S local_driver identity &&
		local_disk && measure_all passthrough "$LOCAL"
	for _ in 1 2; do
		step "a local hot-add" $STEP_S hotadd_ms
	done
	{ [ "$(cat "$GROUP/type")" = "$DEFAULT" ] ||
		step "the local nvme in its default domain" $STEP_S local_driver "$DEFAULT"; } &&
		local_disk || return 1
	measure_all local "$LOCAL"
	for cpu in 0 1; do
		measure local "$LOCAL" "qd1cpu$cpu" "$cpu"
	done

	if step "exporting $LOCAL over NVMe/TCP" $STEP_S tcp_export; then
		step "the NVMe/TCP namespace" 30 tcp_namespace &&
			measure_all tcp "$(tcp_disk)"
		step "tearing NVMe/TCP down" $STEP_S tcp_unexport
	fi

	step "lending $NVME" $STEP_S lend || return 1
	ID=$(cat "$L/id")
	step "a borrow" $STEP_S borrow_ms && step "a return" $STEP_S give_back &&
		step "a borrow" $STEP_S borrow_ms && borrowed_disk && {
		measure_all borrowed "$BORROWED"
		for cpu in 0 1; do
			measure borrowed "$BORROWED" "qd1cpu$cpu" "$cpu"
		done
		step "a return" $STEP_S give_back
	}
	step "the end of the lend" $STEP_S unlend
}

# --- the rounds --------------------------------------------------------------

: >"$RESULTS"
: >/tmp/hotadd_ms
: >/tmp/borrow_ms
DEFAULT=$(cat "$GROUP/type")
step "the local nvme driver" $STEP_S local_nvme || fail "the local nvme driver"
local_disk
step "writing the region" $STEP_S fio --name=fill --filename="$LOCAL" --rw=write \
	--bs=1M --size="$REGION" --direct=1 --ioengine=libaio --iodepth=4 --output=/dev/null ||
	fail "writing the region"
step "loading nvmet" $STEP_S load_nvmet || fail "loading nvmet"
step "the ntb_sim fabric" $STEP_S fabric || fail "the ntb_sim fabric"
A=$(sim_host_dev 0 0) B=$(sim_host_dev 0 1) L=$CFS/$A/lends/$NVME
IRQ_CPU=$(cat "/proc/irq/$(cat "/sys/bus/pci/devices/$B/irq")/effective_affinity_list")
echo "# nvme $NVME, default IOMMU domain $DEFAULT; borrower's adapter $B, its interrupt on CPU $IRQ_CPU"

r=1
while [ "$r" -le "$ROUNDS" ]; do
	echo "# round $r"
	round || echo "# bench: the rest of round $r skipped"
	r=$((r + 1))
done
echo "# hot-add ms: $(tr '\n' ' ' </tmp/hotadd_ms)"
echo "# borrow ms, to the disk/to the mkdir's return: $(tr ' \n' '/ ' </tmp/borrow_ms)"
# Per-CPU counts of the borrower's adapter's interrupt, which carries every
# interrupt of the borrowed device.
ADAPTER_IRQS=$(awk -v irq="$(cat "/sys/bus/pci/devices/$B/irq"):" \
	'$1 == irq { print "taken " $2 " times on CPU 0 and " $3 " on CPU 1" }' /proc/interrupts)
step "unloading" $STEP_S unload

# --- the table ---------------------------------------------------------------

# Median of field $3 (3 IOPS, 4 MB/s, 5 CPU%) of target $1, workload $2.
med() {
	awk -v t="$1" -v w="$2" -v f="$3" '$1 == t && $2 == w { print $f }' "$RESULTS" | median
}

# Range of the per-round ratios of target $1 to local in field $3 of $2,
# over the rounds that measured both ("-": none did).
spread() {
	awk -v t="$1" -v w="$2" -v f="$3" '
		$2 == w && $1 == "local" { l[$6] = $f }
		$2 == w && $1 == t { x[$6] = $f }
		END {
			n = 0
			for (r in x) {
				if (!(r in l) || l[r] == 0) continue
				q = x[r] / l[r]
				if (n++ == 0 || q < lo) lo = q
				if (n == 1 || q > hi) hi = q
			}
			if (n) printf "%.2f-%.2f", lo, hi
			else printf "-"
		}' "$RESULTS"
}

# $1 over $2; "-" when either is missing (a step failed).
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "" || b == "" || b == 0) print "-"
		else printf "%.3f", a / b
	}'
}

FORMAT='%-24s %8s %8s %6s %-11s %8s %6s %-11s %8s\n'

row() {
	l=$(med local "$2" "$3") b=$(med borrowed "$2" "$3")
	t=$(med tcp "$2" "$3") p=$(med passthrough "$2" "$3")
	# shellcheck disable=SC2059 # one format for every row
	printf "$FORMAT" "$1" "$l" "$b" "$(ratio "$b" "$l")" "($(spread borrowed "$2" "$3"))" \
		"$t" "$(ratio "$t" "$l")" "($(spread tcp "$2" "$3"))" "$p"
}

table() {
	# shellcheck disable=SC2059
	printf "$FORMAT" "" local borrowed b/loc "(range)" nvme-tcp t/loc "(range)" local-pt
	row "4k randread QD1 IOPS" qd1 3
	row "4k randread QD32 IOPS" qd32 3
	row "128k seq read QD16 MB/s" seq 4
	for cpu in 0 1; do
		l=$(med local "qd1cpu$cpu" 3) b=$(med borrowed "qd1cpu$cpu" 3)
		# shellcheck disable=SC2059
		printf "$FORMAT" "QD1 IOPS, fio on CPU $cpu" "$l" "$b" "$(ratio "$b" "$l")" \
			"($(spread borrowed "qd1cpu$cpu" 3))"
	done
	hot=$(median </tmp/hotadd_ms)
	bor=$(cut -d' ' -f1 /tmp/borrow_ms | median)
	# shellcheck disable=SC2059
	printf "$FORMAT" "disk ready, ms" "$hot" "$bor" "$(ratio "$bor" "$hot")" \
		"(median of $(wc -l </tmp/hotadd_ms))"
}

echo "== NTB device lending: one QEMU nvme, local / borrowed over ntb_sim intel-32g / NVMe/TCP loopback"
echo "== fio direct=1 libaio, $RUNTIME s each, reads of a $REGION region written first"
echo "== medians of $ROUNDS rounds; in brackets the range of the per-round ratios"
table | sed 's/ *$//'
echo "disk ready: ms from PCI rescan (local) or mkdir borrows/<Id> (borrowed) to the disk's node;"
echo "  the borrow's mkdir itself returned after $(cut -d' ' -f2 /tmp/borrow_ms | median) ms"
case $DEFAULT in
DMA) how="strict: every I/O maps and invalidates" ;;
DMA-FQ) how="every I/O maps, invalidations are batched" ;;
*) how="as the kernel chose" ;;
esac
echo "local-pt: the local nvme in an identity IOMMU domain; local's domain is '$DEFAULT'"
echo "  ($how); the borrowed device's DMA is a fixed translation"
echo "guest CPUs busy, % (QD1/QD32/seq): local $(med local qd1 5)/$(med local qd32 5)/$(med local seq 5)," \
	"borrowed $(med borrowed qd1 5)/$(med borrowed qd32 5)/$(med borrowed seq 5)," \
	"nvme-tcp $(med tcp qd1 5)/$(med tcp qd32 5)/$(med tcp seq 5)"
echo "every borrowed-device interrupt is the borrower's adapter's one MSI (affinity CPU $IRQ_CPU):"
echo "  $ADAPTER_IRQS"
exit "$STEP_FAILED"
