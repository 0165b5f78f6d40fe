#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make bench: figures of NTB device lending, not pass/fail. One QEMU nvme
# read by fio four ways in one VM: through the lender's own nvme driver
# (local, in its default translated IOMMU domain, and again in an identity
# domain), borrowed over a two-host intel-32g ntb_sim fabric on
# ivshmem-doorbell adapters (a doorbell vector per bit, spread over the
# CPUs, so that each borrowed vector rings a bit on a CPU it asks for, as
# on real adapters with several doorbell vectors), and exported
# by nvmet-tcp on 127.0.0.1 to nvme-tcp. Each way runs the same jobs: 4k
# random reads at depth 1 and 32, 128k sequential reads at depth 16, 4k
# 70/30 random reads and writes at depth 16, and the depth-1 job again
# with fio pinned to each CPU in turn. Around each job: the guest's CPU
# time, the disk's I/Os, the lender's interrupts and those of the device
# and of the borrower's adapter on each CPU. Then the time from a borrow
# to the borrowed disk's node against a local hot-add (PCI remove and
# rescan), and where each one's time went, from the kernel log. Rounds
# alternate the four, so that the host's changing load (other VMs) falls
# on all of them alike; figures are medians over the rounds, and ratio
# rows say whether issue 13's goal is met.
# BENCH_ROUNDS (default 3) sets the number of rounds, as in bench_pool.sh.
#
# Every step (a fio, a driver bind, a borrow, a return, ...) runs for a
# bounded time (step, lib.sh): one that fails or hangs says so by name, the
# rest of its round is skipped but for the steps that undo it, the next
# round still runs, the table shows what was measured, and the script
# exits 1. The VM's limit is above the sum of those bounds for the default
# rounds: per round 24 fio runs of FIO_S, 12 steps of STEP_S and one of
# 30 s (2190 s), before them 4 steps and after them 1 of STEP_S.
# vm-devices: nvme ivshmem ivshmem
# vm-timeout: 7500
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

# Milliseconds since boot, to the kernel's 10 ms (busybox date has no %N);
# starting no program, which takes tens of ms under TCG.
now_ms() {
	read -r up _ </proc/uptime
	echo $((${up%.*}${up#*.} * 10))
}

# Reads and writes completed so far on block device $1 (/dev/NAME).
block_ios() {
	awk '{ print $1 + $5 }' "/sys/block/${1##*/}/stat"
}

# Interrupts taken so far on each CPU by the MSI and MSI-X vectors of PCI
# function $1 (its msi_irqs: none for a function without them), as a
# comma list, CPU 0 first.
irqs_by_cpu() {
	irqs=
	for irq in /sys/bus/pci/devices/"$1"/msi_irqs/*; do
		[ -e "$irq" ] && irqs="$irqs ${irq##*/}"
	done
	awk -v irqs="$irqs " '
		NR == 1 { n = NF; next }
		index(irqs, " " substr($1, 1, length($1) - 1) " ") {
			for (c = 1; c <= n; c++) s[c] += $(c + 1)
		}
		END {
			for (c = 1; c <= n; c++) printf "%s%d", (c > 1 ? "," : ""), s[c]
			print ""
		}' /proc/interrupts
}

# The lender's interrupts so far: those of its NTB adapter A and of the
# lent function's own vectors (none while lent), every CPU's.
lender_irqs() {
	echo "$(irqs_by_cpu "$A"),$(irqs_by_cpu "$NVME")" | tr , '\n' |
		awk '{ s += $1 } END { print s + 0 }'
}

# Every vector of PCI function $1 as "NAME (affinity CPUS, effective
# CPUS): N0/N1...", N the interrupts it took on each CPU since its driver
# asked for it; "-" for an affinity the irq chip does not keep.
vectors() {
	for irq in /sys/bus/pci/devices/"$1"/msi_irqs/*; do
		[ -e "$irq" ] || continue
		n=${irq##*/}
		aff=$(cat "/proc/irq/$n/smp_affinity_list" 2>/dev/null)
		eff=$(cat "/proc/irq/$n/effective_affinity_list" 2>/dev/null)
		awk -v irq="$n:" -v aff="${aff:--}, effective ${eff:--}" '
			NR == 1 { ncpu = NF; next }
			$1 == irq {
				s = $2
				for (c = 2; c <= ncpu; c++) s = s "/" $(c + 1)
				print $NF " (affinity " aff "): " s
			}' /proc/interrupts
	done
}

# fio workload $3 on disk $2 for target $1, fio pinned to CPU $4 if given.
# A step of its own. Appends to the results one line of fields:
#   1 target, 2 workload, 3 IOPS (reads and writes), 4 MB/s, 5 CPU% (how
#   busy the guest's CPUs were meanwhile), 6 round, 7 and 8 p50 and p99
#   completion latency of the reads in usecs, 9 guest CPU usecs per I/O
#   (busy /proc/stat time over the disk's I/Os), 10 fio's usr+sys CPU
#   usecs per I/O, 11 the disk's I/Os, 12 the lender's interrupts,
#   13 interrupts of the device's vectors per I/O on each CPU (CPU 0
#   first, comma-separated), 14 the same of the borrower's adapter B,
#   15 the reads' mean submission latency in usecs.
# Fields 5 and 9 to 14 are deltas over the whole fio run (its ramp too),
# all taken around the same interval.
fio_read() {
	target=$1 disk=$2 workload=$3 pin=${4:+--cpus_allowed=$4}
	case $workload in
	qd1*) set -- --rw=randread --bs=4k --iodepth=1 ;;
	qd32) set -- --rw=randread --bs=4k --iodepth=32 ;;
	seq) set -- --rw=read --bs=128k --iodepth=16 ;;
	mix) set -- --rw=randrw --rwmixread=70 --bs=4k --iodepth=16 ;;
	esac
	dev=$NVME
	[ "$target" != borrowed ] || dev=$VBDF
	c0=$(cpu_ticks) i0=$(block_ios "$disk") l0=$(lender_irqs)
	d0=$(irqs_by_cpu "$dev") a0=$(irqs_by_cpu "$B")
	# shellcheck disable=SC2086 # pin is one option or none
	out=$(fio --name="$target-$workload" --filename="$disk" "$@" --direct=1 \
		--ioengine=libaio --size="$REGION" --time_based --ramp_time=1 \
		--runtime="$RUNTIME" --percentile_list=50:99 \
		--output-format=terse --terse-version=3 $pin) || return 1
	c1=$(cpu_ticks) i1=$(block_ios "$disk") l1=$(lender_irqs)
	d1=$(irqs_by_cpu "$dev") a1=$(irqs_by_cpu "$B")
	# fio 3.33's terse v3, one line, ';'-separated: 1 the version (3),
	# 7 and 8 read KiB/s and IOPS, 12 the reads' mean submission latency
	# (usecs, from the job's submit call to its return), 18-37 the read
	# completion latency
	# percentiles as "P%=USECS" (here 50 and 99, then "0%=0"), 48 and 49
	# write KiB/s and IOPS, 88 and 89 usr and sys CPU as "N%" (fio's
	# process, of one CPU, over the runtime).
	echo "$out" | awk -F';' -v t="$target" -v w="$workload" -v r="$r" \
		-v c="$c0 $c1" -v io="$i0 $i1" -v l="$l0 $l1" \
		-v d="$d0 $d1" -v a="$a0 $a1" '
		# Per-I/O deltas of comma lists "x0,x1 y0,y1" over n I/Os.
		function per_io(pair, n,   p, u, v, i, s) {
			split(pair, p, " ")
			split(p[1], u, ",")
			split(p[2], v, ",")
			for (i = 1; i in v; i++)
				s = s (i > 1 ? "," : "") sprintf("%.3f", (v[i] - u[i]) / n)
			return s
		}
		$1 == 3 {
			if ($88 !~ /%$/ || $89 !~ /%$/) {
				print "# bench: fio terse v3 fields not where expected" >"/dev/stderr"
				exit 1
			}
			split(c, j, " ")
			split(io, k, " ")
			split(l, m, " ")
			n = k[2] - k[1]
			iops = $8 + $49
			if (n <= 0 || iops <= 0) {
				print "# bench: no I/O counted on the disk" >"/dev/stderr"
				exit 1
			}
			p50 = p99 = "-"
			for (i = 18; i <= 37; i++) {
				split($i, kv, "=")
				if (kv[1] == "50.000000%") p50 = kv[2]
				if (kv[1] == "99.000000%") p99 = kv[2]
			}
			usr = $88
			sys = $89
			sub(/%/, "", usr)
			sub(/%/, "", sys)
			printf "%s %s %d %.1f %d %d %s %s %.1f %.1f %d %d %s %s %d\n", t, w, iops,
				($7 + $48) * 1.024 / 1000,
				100 * (j[3] - j[1]) / (j[4] - j[2]) + 0.5, r, p50, p99,
				(j[3] - j[1]) * 10000 / n, (usr + sys) / 100 * 1000000 / iops,
				n, m[2] - m[1], per_io(d, n), per_io(a, n), $12 + 0.5
			ok = 1
		}
		END { exit !ok }' >>"$RESULTS" || return 1
	echo "# $(tail -n1 "$RESULTS" | cut -d' ' -f1-5,7-10,15) (IOPS MB/s CPU% p50 p99 us/I/O: guest fio; slat)"
}

measure() {
	step "fio $3 on $1 ($2)" $FIO_S fio_read "$@"
}

# Every workload, then QD1 with fio pinned to each CPU in turn.
measure_all() {
	for w in qd1 qd32 seq mix; do
		measure "$1" "$2" "$w"
	done
	cpu=0
	while [ "$cpu" -lt "$NCPU" ]; do
		measure "$1" "$2" "qd1cpu$cpu" "$cpu"
		cpu=$((cpu + 1))
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

# Where a hot-add's or a borrow's time went, from the kernel log's
# timestamps since the last "bench: $1" line (written to /dev/kmsg by a
# shell builtin just before the timed command) up to "bench: disk"
# (written as soon as the disk's node showed): the ms to each of the
# kernel lines given as awk patterns ($2...), one after the other, and
# from the last to the disk, appended as a line to /tmp/phases-$1.
phases() {
	what=$1
	shift
	dmesg | tr -d '\r' | awk -v what="$what" -v pats="$*" '
		function ts(line) { sub(/^\[ */, "", line); sub(/\].*/, "", line); return line + 0 }
		BEGIN { n = split(pats, pat, " ") }
		$0 ~ "bench: " what "$" { t0 = ts($0); k = 1; out = ""; last = t0; done = 0; next }
		!t0 || done { next }
		k <= n && $0 ~ pat[k] { out = out sprintf("%.0f ", (ts($0) - last) * 1000); last = ts($0); k++ }
		/bench: disk$/ { done = 1; if (k > n) out = out sprintf("%.0f", (ts($0) - last) * 1000); else out = "" }
		END { if (out != "") print out }' >>"/tmp/phases-$what"
}

# Median of field $2 of /tmp/phases-$1, "-" if none.
phase() {
	v=$(cut -d' ' -f"$2" "/tmp/phases-$1" | median)
	echo "${v:--}"
}

# A local hot-add; appends its milliseconds to /tmp/hotadd_ms, and its
# phases: the rescan to the function's first line, to its driver's probe,
# to the disk.
hotadd_ms() {
	echo 1 >"/sys/bus/pci/devices/$NVME/remove" &&
		wait_for 20 gone "/sys/bus/pci/devices/$NVME" || return 1
	t0=$(now_ms)
	echo "bench: hot-add" >/dev/kmsg
	echo 1 >/sys/bus/pci/rescan && await_disk "$NVME" || return 1
	echo "bench: disk" >/dev/kmsg
	echo $(($(now_ms) - t0)) >>/tmp/hotadd_ms
	phases hot-add "pci.$NVME:.*class" "nvme.*pci.function.$NVME"
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

# Borrow; append the milliseconds from the mkdir to the disk's node, to
# the mkdir's return (the device in the tree, its driver probing), and of
# a plain mkdir in /tmp just before (the mkdir program's own start, which
# the hot-add's builtin echo does not pay) to /tmp/borrow_ms.
borrow_ms() {
	t0=$(now_ms)
	mkdir /tmp/mkdir_start || return 1
	t1=$(now_ms)
	rmdir /tmp/mkdir_start
	start=$((t1 - t0))
	t0=$(now_ms)
	echo "bench: borrow" >/dev/kmsg
	mkdir "$CFS/$B/borrows/$ID" || return 1
	t1=$(now_ms)
	# A builtin's read: no program's start in the time.
	read -r vbdf <"$CFS/$B/borrows/$ID/local_bdf" && await_disk "$vbdf" || return 1
	echo "bench: disk" >/dev/kmsg
	echo $(($(now_ms) - t0)) $((t1 - t0)) "$start" >>/tmp/borrow_ms
	phases borrow "lent.to.node" "PCI.host.bridge.to.bus" "nvme.*pci.function.$vbdf" \
		"borrowed.*as.$vbdf"
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
	vectors "$NVME" >/tmp/vectors-local

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
		vectors "$VBDF" >/tmp/vectors-borrowed
		step "a return" $STEP_S give_back
	}
	step "the end of the lend" $STEP_S unlend
}

# --- the rounds --------------------------------------------------------------

: >"$RESULTS"
: >/tmp/hotadd_ms
: >/tmp/borrow_ms
: >/tmp/phases-hot-add
: >/tmp/phases-borrow
: >/tmp/vectors-local
: >/tmp/vectors-borrowed
NCPU=$(grep -c '^processor' /proc/cpuinfo)
DEFAULT=$(cat "$GROUP/type")
step "the local nvme driver" $STEP_S local_nvme || fail "the local nvme driver"
local_disk
step "writing the region" $STEP_S fio --name=fill --filename="$LOCAL" --rw=write \
	--bs=1M --size="$REGION" --direct=1 --ioengine=libaio --iodepth=4 --output=/dev/null ||
	fail "writing the region"
step "loading nvmet" $STEP_S load_nvmet || fail "loading nvmet"
step "the ntb_sim fabric" $STEP_S fabric || fail "the ntb_sim fabric"
A=$(sim_host_dev 0 0) B=$(sim_host_dev 0 1) L=$CFS/$A/lends/$NVME
NVEC=0
for vec in "/sys/bus/pci/devices/$B/msi_irqs"/*; do
	[ -e "$vec" ] && NVEC=$((NVEC + 1))
done
echo "# nvme $NVME, default IOMMU domain $DEFAULT; borrower's adapter $B, $NVEC doorbell vectors"

r=1
while [ "$r" -le "$ROUNDS" ]; do
	echo "# round $r"
	round || echo "# bench: the rest of round $r skipped"
	r=$((r + 1))
done
echo "# hot-add ms: $(tr '\n' ' ' </tmp/hotadd_ms)"
echo "# borrow ms, to the disk/to the mkdir's return/a plain mkdir: $(tr ' \n' '/ ' </tmp/borrow_ms)"
# Per-CPU counts of the borrower's adapter's interrupt, which carries every
# interrupt of the borrowed device.
ADAPTER_IRQS=$(irqs_by_cpu "$B" | tr , /)
step "unloading" $STEP_S unload

# --- the table ---------------------------------------------------------------

# Median of field $3 (3 IOPS, 4 MB/s, 5 CPU%, 7 p50, ...) of target $1,
# workload $2.
med() {
	awk -v t="$1" -v w="$2" -v f="$3" '$1 == t && $2 == w { print $f }' "$RESULTS" | median
}

# Range of the per-round ratios of target $1 to target $4 (default local)
# in field $3 of $2, over the rounds that measured both ("-": none did).
spread() {
	awk -v t="$1" -v w="$2" -v f="$3" -v base="${4:-local}" '
		$2 == w && $1 == base { l[$6] = $f }
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
		if (a == "" || a == "-" || b == "" || b == "-" || b == 0) print "-"
		else printf "%.3f", a / b
	}'
}

# The goal column: GOAL ("b/loc >= 0.98", "b/pt <= 1.05": issue 13's
# table), then whether the ratio it names ($2 b/loc, $3 b/pt) meets it.
goal() {
	[ -n "$1" ] || return 0
	# shellcheck disable=SC2086 # the goal is three words
	set -- $1 "$2" "$3"
	x=$5
	[ "$1" != b/loc ] || x=$4
	awk -v g="$1 $2 $3" -v op="$2" -v v="$3" -v x="$x" 'BEGIN {
		if (x == "-" || x == "") { print "goal " g ": no figure"; exit }
		ok = op == ">=" ? x + 0 >= v + 0 : x + 0 <= v + 0
		print "goal " g ": " (ok ? "met" : "not met")
	}'
}

FORMAT='%-26s %8s %8s %6s %-11s %8s %6s %-11s %8s %6s %-11s %s\n'

# row LABEL WORKLOAD FIELD [GOAL]
row() {
	l=$(med local "$2" "$3") b=$(med borrowed "$2" "$3")
	t=$(med tcp "$2" "$3") p=$(med passthrough "$2" "$3")
	bl=$(ratio "$b" "$l") bp=$(ratio "$b" "$p")
	# shellcheck disable=SC2059 # one format for every row
	printf "$FORMAT" "$1" "$l" "$b" "$bl" "($(spread borrowed "$2" "$3"))" \
		"$t" "$(ratio "$t" "$l")" "($(spread tcp "$2" "$3"))" \
		"$p" "$bp" "($(spread borrowed "$2" "$3" passthrough))" "$(goal "${4:-}" "$bl" "$bp")"
}

# The QD1 rows of workload $2 (label $1): IOPS, p50 and p99 completion
# latency, and the mean submission latency that completion leaves out.
qd1_rows() {
	row "$1" "$2" 3 "${3:-}"
	row "  p50 completion, us" "$2" 7 "b/loc <= 1.05"
	row "  p99 completion, us" "$2" 8 "b/loc <= 1.05"
	row "  mean submission, us" "$2" 15
}

table() {
	# shellcheck disable=SC2059
	printf "$FORMAT" "" local borrowed b/loc "(range)" nvme-tcp t/loc "(range)" \
		local-pt b/pt "(range)" "goal (issue 13)"
	qd1_rows "4k randread QD1 IOPS" qd1
	row "4k randread QD32 IOPS" qd32 3 "b/pt >= 0.98"
	row "128k seq read QD16 MB/s" seq 4 "b/pt >= 0.98"
	row "4k 70/30 randrw QD16 IOPS" mix 3 "b/pt >= 0.98"
	cpu=0
	while [ "$cpu" -lt "$NCPU" ]; do
		qd1_rows "QD1 IOPS, fio on CPU $cpu" "qd1cpu$cpu" "b/loc >= 0.98"
		cpu=$((cpu + 1))
	done
	row "CPU us/I/O, QD1, guest" qd1 9 "b/loc <= 1.05"
	row "CPU us/I/O, QD32, guest" qd32 9 "b/loc <= 1.05"
	row "CPU us/I/O, QD1, fio" qd1 10 "b/loc <= 1.05"
	row "CPU us/I/O, QD32, fio" qd32 10 "b/loc <= 1.05"
	# Every borrowed run's lender interrupts over its I/Os.
	# shellcheck disable=SC2046 # three words or none
	set -- $(awk '$1 == "borrowed" { i += $12; n += $11 }
		END { if (n) printf "%.4f %d %d\n", i / n, i, n }' "$RESULTS")
	ok="no figure"
	[ $# -eq 0 ] || { ok="not met"; [ "$2" -ne 0 ] || ok=met; }
	# shellcheck disable=SC2059
	printf "$FORMAT" "lender IRQs per I/O" - "${1:--}" "" "" "" "" "" "" "" "" \
		"goal borrowed = 0: $ok (${2:--} in ${3:--} I/Os)"
	hot=$(median </tmp/hotadd_ms)
	bor=$(cut -d' ' -f1 /tmp/borrow_ms | median)
	bl=$(ratio "$bor" "$hot")
	# shellcheck disable=SC2059
	printf "$FORMAT" "disk ready, ms" "$hot" "$bor" "$bl" \
		"(median of $(wc -l </tmp/hotadd_ms))" "" "" "" "" "" "" "$(goal "b/loc <= 1.5" "$bl" -)"
	bor=$(awk '{ print $1 - $3 }' /tmp/borrow_ms | median)
	bl=$(ratio "$bor" "$hot")
	# shellcheck disable=SC2059
	printf "$FORMAT" "  less mkdir's start, ms" "$hot" "$bor" "$bl" \
		"" "" "" "" "" "" "" "$(goal "b/loc <= 1.5" "$bl" -)"
}

# Interrupts per I/O on each CPU, "CPU0/CPU1/...", the per-CPU medians of
# field $3 (13 the device's vectors, 14 B's adapter) of target $1's
# workload $2.
per_cpu() {
	list='' c=1
	while [ "$c" -le "$NCPU" ]; do
		v=$(awk -v t="$1" -v w="$2" -v f="$3" -v c="$c" \
			'$1 == t && $2 == w { split($f, v, ","); print v[c] }' "$RESULTS" | median)
		list=${list:+$list/}${v:--}
		c=$((c + 1))
	done
	echo "$list"
}

# The workloads of the interrupt table: QD1 pinned to each CPU, and more.
irq_workloads() {
	cpu=0
	while [ "$cpu" -lt "$NCPU" ]; do
		echo "qd1cpu$cpu"
		cpu=$((cpu + 1))
	done
	echo qd1 qd32 mix
}

# irq_row LABEL TARGET FIELD, or the header line without arguments.
irq_row() {
	if [ $# -eq 0 ]; then
		printf '  %-30s' ""
	else
		printf '  %-30s' "$1"
	fi
	for w in $(irq_workloads); do
		if [ $# -eq 0 ]; then
			case $w in
			qd1cpu*) w="QD1 on CPU ${w#qd1cpu}" ;;
			qd1) w=QD1 ;;
			qd32) w=QD32 ;;
			mix) w="70/30 QD16" ;;
			esac
			printf ' %-14s' "$w"
		else
			printf ' %-14s' "$(per_cpu "$2" "$w" "$3")"
		fi
	done
	echo
}

irq_table() {
	irq_row
	irq_row "local: the nvme's vectors" local 13
	irq_row "borrowed: its vectors" borrowed 13
	irq_row "borrowed: B's adapter" borrowed 14
	irq_row "nvme-tcp: the nvme's vectors" tcp 13
	irq_row "local-pt: the nvme's vectors" passthrough 13
}

echo "== NTB device lending: one QEMU nvme, local / borrowed over ntb_sim intel-32g (ivshmem-doorbell adapters) / NVMe/TCP loopback"
echo "== fio direct=1 libaio, $RUNTIME s each, on a $REGION region written first"
echo "== medians of $ROUNDS rounds; in brackets the range of the per-round ratios"
table | sed 's/ *$//'
echo "disk ready: ms from PCI rescan (local) or mkdir borrows/<Id> (borrowed) to the disk's node;"
echo "  the borrow's mkdir itself returned after $(cut -d' ' -f2 /tmp/borrow_ms | median) ms;"
echo "  a plain mkdir in /tmp took $(cut -d' ' -f3 /tmp/borrow_ms | median) ms: the program's start, which the hot-add's"
echo "  shell builtin echo does not pay; 'less mkdir's start' takes each borrow's from it"
echo "where the time went, ms, medians of $(wc -l </tmp/phases-hot-add) and $(wc -l </tmp/phases-borrow) (kernel log):"
echo "  hot-add: rescan to the function $(phase hot-add 1), to its driver's probe $(phase hot-add 2), to the disk $(phase hot-add 3)"
echo "  borrow: mkdir to the lender's answer $(phase borrow 1) (the mkdir program's start in it), to the borrower's bus" \
	"$(phase borrow 2), to the driver's probe $(phase borrow 3), its probe to its return $(phase borrow 4), to the disk $(phase borrow 5)"
echo "  (a hot-add's 'to the disk' holds its driver's probe; a borrow's 'to the disk' starts at the probe's return)"
case $DEFAULT in
DMA) how="strict: every I/O maps and invalidates" ;;
DMA-FQ) how="every I/O maps, invalidations are batched" ;;
*) how="as the kernel chose" ;;
esac
echo "local-pt: the local nvme in an identity IOMMU domain; local's domain is '$DEFAULT'"
echo "  ($how); the borrowed device's DMA is a fixed translation"
echo "CPU us/I/O: guest = busy time of all CPUs (/proc/stat) over the disk's I/Os; fio = fio's usr+sys"
echo "guest CPUs busy, % (QD1/QD32/seq/70-30): local $(med local qd1 5)/$(med local qd32 5)/$(med local seq 5)/$(med local mix 5)," \
	"borrowed $(med borrowed qd1 5)/$(med borrowed qd32 5)/$(med borrowed seq 5)/$(med borrowed mix 5)," \
	"nvme-tcp $(med tcp qd1 5)/$(med tcp qd32 5)/$(med tcp seq 5)/$(med tcp mix 5)," \
	"local-pt $(med passthrough qd1 5)/$(med passthrough qd32 5)/$(med passthrough seq 5)/$(med passthrough mix 5)"
echo "interrupts per I/O on each CPU (CPU 0/CPU 1), medians:"
irq_table | sed 's/ *$//'
echo "the local nvme's vectors, interrupts on each CPU since its bind (last round):"
sed 's/^/  /' /tmp/vectors-local
echo "the borrowed nvme's vectors, interrupts on each CPU since the borrow (last round):"
sed 's/^/  /' /tmp/vectors-borrowed
echo "every borrowed-device interrupt comes through the borrower's adapter's $NVEC doorbell vectors,"
echo "  which took $ADAPTER_IRQS interrupts on CPU 0/CPU 1 in the whole run"
exit "$STEP_FAILED"
