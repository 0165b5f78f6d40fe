#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make bench: figures of a pool of borrowed devices, not pass/fail. Do the
# per-device figures drop when four devices are borrowed at once? Four
# QEMU nvme drives, each read by its own fio (4k random reads at queue
# depth 32, libaio, direct), all four started together: used locally by
# host A's nvme driver, and lent by A to B over a two-host ntb_sim
# `switchtec` fabric (a window of A and four doorbell bits of B each) and
# borrowed by B at once. Then one drive alone, locally and borrowed, the
# other three borrowed but idle. Rounds alternate local and borrowed (odd
# rounds local first, even ones borrowed first), so that the host's
# changing load falls on both; figures are medians over the rounds, ratios
# are borrowed over local within one run. BENCH_ROUNDS (default 3) sets the
# number of rounds: as a kernel command line word, which the kernel hands
# to the guest's init as environment (CMDLINE_EXTRA=BENCH_ROUNDS=1 make vm
# SCRIPT=...).
#
# Every step (the four fios, a lend and borrow of the four, their return)
# runs for a bounded time (step, lib.sh): one that fails or hangs says so
# by name, the rest of its round is skipped but for the return, the next
# round still runs, the table shows what was measured, and the script
# exits 1.
# vm-devices: nvme nvme nvme nvme edu edu
# vm-timeout: 900
# shellcheck disable=SC2317 # steps are called by name, through step
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
REGION=128M
RUNTIME=10
ROUNDS=${BENCH_ROUNDS:-3}
RESULTS=/tmp/bench-pool-results
FIO_S=$((RUNTIME + 60))	# four fios at once: ramp, runtime, their start
STEP_S=180		# a lend and borrow of the four, or their return

fail() {
	echo "# bench: $* failed" >&2
	exit 1
}

NVMES=$(pci_find_all 0x010802 | head -n 4)
[ "$(echo "$NVMES" | wc -w)" -eq 4 ] || fail "finding four nvme drives"
NVME0=$(echo "$NVMES" | head -n 1)

# --- fio ---------------------------------------------------------------------

# fio on each disk "$@" at once, one process a disk, for round $1 and case
# $2; appends "ROUND CASE DRIVE IOPS" per disk, DRIVE counting from 0, and
# "ROUND CASE cpu CPU%", how busy the guest's CPUs were meanwhile. A step
# of its own (fio_at_once below).
fio_together() {
	round=$1 case=$2
	shift 2
	pids='' i=0
	c0=$(cpu_ticks)
	for disk in "$@"; do
		fio --name="$case-$i" --filename="$disk" --rw=randread --bs=4k \
			--iodepth=32 --direct=1 --ioengine=libaio --size="$REGION" \
			--time_based --ramp_time=1 --runtime="$RUNTIME" \
			--output-format=terse --terse-version=3 >"/tmp/fio-$i" 2>&1 &
		pids="$pids $!" i=$((i + 1))
	done
	i=0
	for pid in $pids; do
		if ! wait "$pid"; then
			sed 's/^/# /' "/tmp/fio-$i"
			return 1
		fi
		i=$((i + 1))
	done
	c1=$(cpu_ticks)
	i=0
	for disk in "$@"; do
		# terse v3: field 8 is read IOPS
		awk -F';' -v r="$round" -v c="$case" -v i="$i" \
			'$1 == 3 { print r, c, i, $8 }' "/tmp/fio-$i" >>"$RESULTS"
		i=$((i + 1))
	done
	echo "$c0 $c1" | awk -v r="$round" -v c="$case" \
		'{ printf "%s %s cpu %d\n", r, c, 100 * ($3 - $1) / ($4 - $2) + 0.5 }' >>"$RESULTS"
	echo "# round $round $case IOPS:$(awk -v r="$round" -v c="$case" \
		'$1 == r && $2 == c && $3 != "cpu" { printf " %s", $4 }' "$RESULTS")"
}

fio_at_once() {
	step "round $1: fio on the $2 drives" $FIO_S fio_together "$@"
}

# The disks of the nvme functions "$@", one a line.
disks_of() {
	for f in "$@"; do
		disk_of "$f" || return 1
	done
}

# --- lending and borrowing the four ------------------------------------------

all_disks() {
	for f in "$@"; do
		has_disk "$f" || return 1
	done
}

# The Ids of A's lends of the four, and B's functions of their borrows, in
# the order of NVMES: sets IDS and VBDFS.
lent_ids() {
	IDS=''
	for f in $NVMES; do
		IDS="$IDS $(cat "$CFS/$A/lends/$f/id")" || return 1
	done
}

borrowed_vbdfs() {
	VBDFS=''
	for id in $IDS; do
		VBDFS="$VBDFS $(cat "$CFS/$B/borrows/$id/local_bdf")" || return 1
	done
}

# A lends the four to node 1, B borrows them all. A step of its own.
lend_and_borrow() {
	# shellcheck disable=SC2086 # NVMES is a word list
	lend_to "$A" 1 $NVMES && lent_ids || return 1
	for id in $IDS; do
		wait_for 20 offered "$B" "$id" || return 1
	done
	for id in $IDS; do
		mkdir "$CFS/$B/borrows/$id" || return 1
	done
	borrowed_vbdfs || return 1
	# shellcheck disable=SC2086
	wait_for 120 all_disks $VBDFS
}

# B returns what it borrowed of the four, A takes them back for its own
# nvme driver. A step of its own.
return_and_unlend() {
	lent_ids
	for id in $IDS; do
		[ ! -d "$CFS/$B/borrows/$id" ] || rmdir "$CFS/$B/borrows/$id" || return 1
	done
	for id in $IDS; do
		wait_for 40 offered "$B" "$id" || return 1
	done
	for f in $NVMES; do
		[ ! -d "$CFS/$A/lends/$f" ] && continue
		echo 0 >"$CFS/$A/lends/$f/available" && rmdir "$CFS/$A/lends/$f" || return 1
	done
	# shellcheck disable=SC2086
	wait_for 120 all_disks $NVMES
}

# How many bits are set in mask $1.
bits_in() {
	m=$(($1)) n=0
	while [ "$m" -ne 0 ]; do
		n=$((n + (m & 1))) m=$((m >> 1))
	done
	echo "$n"
}

# What the four borrows hold: B's doorbell bits, A's windows.
record_resources() {
	masks=$(awk '$2 == "vectors" { print $1 }' "$CFS/$B/doorbells")
	bits=0
	for m in $masks; do
		bits=$((bits + $(bits_in "$m")))
	done
	RESOURCES="B's doorbells: $(echo "$masks" | wc -w) borrows ring $bits bits ($(echo "$masks" | tr '\n' ' ' | sed 's/ $//'));"
	RESOURCES="$RESOURCES A's windows: $(grep -c ' device ' "$CFS/$A/windows") lead to devices"
	RESOURCES="$RESOURCES ($(awk '$3 == "device" { printf "%s%s: %d KiB", s, $1, $4 / 1024; s = ", " }' "$CFS/$A/windows"))"
	RESOURCES="$RESOURCES, B's to its memory: $(grep -c ' memory ' "$CFS/$B/windows")"
}

# --- the rounds --------------------------------------------------------------

unload() {
	rmdir "$CFS/$A/connections/1" && rmmod ntb_lending && unload_ntb_modules
}

local_round() {
	# shellcheck disable=SC2086
	disks=$(disks_of $NVMES) || return 1
	# shellcheck disable=SC2086 # disks is a word list
	fio_at_once "$1" local4 $disks && fio_at_once "$1" local1 "$(disk_of "$NVME0")"
}

# A failed step skips the fio, never the return of what was borrowed.
borrowed_round() {
	rc=1
	if step "round $1: lending and borrowing the four" $STEP_S lend_and_borrow &&
		lent_ids && borrowed_vbdfs; then
		[ -n "${RESOURCES:-}" ] || record_resources
		# shellcheck disable=SC2086 # word lists
		disks=$(disks_of $VBDFS) && fio_at_once "$1" borrowed4 $disks &&
			fio_at_once "$1" borrowed1 "$(echo "$disks" | head -n 1)" && rc=0
	fi
	step "round $1: returning and unlending the four" $STEP_S return_and_unlend &&
		return $rc
}

: >"$RESULTS"
local_nvme() {
	# shellcheck disable=SC2086
	modprobe nvme && wait_for 120 all_disks $NVMES
}

fill() {
	for f in $NVMES; do
		fio --name=fill --filename="$(disk_of "$f")" --rw=write --bs=1M \
			--size="$REGION" --direct=1 --ioengine=libaio --iodepth=4 \
			--output=/dev/null || return 1
	done
}

fabric() {
	sim_two_hosts switchtec && modprobe ntb_lending &&
		wait_for 20 file_is "$CFS/$B/peers" "0 up $PROTO"
}

step "the local nvme driver" $STEP_S local_nvme || fail "the local nvme driver"
step "writing the regions" $STEP_S fill || fail "writing the regions"
step "the ntb_sim switchtec fabric" $STEP_S fabric || fail "the ntb_sim switchtec fabric"
A=$(sim_host_dev 0 0) B=$(sim_host_dev 0 1)
IRQ_CPU=$(cat "/proc/irq/$(cat "/sys/bus/pci/devices/$B/irq")/effective_affinity_list")
echo "# nvme $(echo "$NVMES" | tr '\n' ' ' | sed 's/ $//'); lender's adapter $A, borrower's $B," \
	"its interrupt on CPU $IRQ_CPU"

r=1
while [ "$r" -le "$ROUNDS" ]; do
	echo "# round $r"
	if [ $((r % 2)) -eq 1 ]; then
		local_round "$r"
		borrowed_round "$r"
	else
		borrowed_round "$r"
		local_round "$r"
	fi
	r=$((r + 1))
done
ADAPTER_IRQS=$(awk -v irq="$(cat "/sys/bus/pci/devices/$B/irq"):" \
	'$1 == irq { print $2 " on CPU 0, " $3 " on CPU 1" }' /proc/interrupts)
step "unloading" $STEP_S unload

# --- the table ---------------------------------------------------------------

# IOPS of case $1, drive $2 ("sum": the four's), one line per round.
per_round() {
	awk -v c="$1" -v d="$2" '
		$2 == c && $3 != "cpu" && (d == "sum" || $3 == d) { v[$1] += $4 }
		END { for (r in v) print r, v[r] }' "$RESULTS" | sort -n
}

# Median over the rounds of case $1, drive $2.
med() {
	per_round "$1" "$2" | cut -d' ' -f2 | median
}

# Range of the per-round ratios of case $1 to case $2, drive $3 of both.
spread() {
	{ per_round "$1" "$3" | sed 's/^/x /'; per_round "$2" "$3" | sed 's/^/l /'; } |
		awk '$1 == "x" { x[$2] = $3 } $1 == "l" { l[$2] = $3 }
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
			}'
}

# $1 over $2; "-" when either is missing (a step failed).
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "" || b == "" || b == 0) print "-"
		else printf "%.3f", a / b
	}'
}

FORMAT='%-28s %9s %11s %6s %-11s\n'

# Row $1: borrowed case $2 over local case $3, drive $4.
row() {
	l=$(med "$3" "$4") b=$(med "$2" "$4")
	# shellcheck disable=SC2059 # one format for every row
	printf "$FORMAT" "$1" "$l" "$b" "$(ratio "$b" "$l")" "($(spread "$2" "$3" "$4"))"
}

table() {
	# shellcheck disable=SC2059
	printf "$FORMAT" "4k randread QD32 IOPS" local-4 borrowed-4 b/loc "(range)"
	i=0
	for f in $NVMES; do
		row "drive $i ($f)" borrowed4 local4 "$i"
		i=$((i + 1))
	done
	row "sum of the four" borrowed4 local4 sum
	# shellcheck disable=SC2059
	printf "$FORMAT" "" local-1 borrowed-1 b/loc "(range)"
	row "drive 0 alone" borrowed1 local1 0
}

cpu() {
	awk -v c="$1" '$2 == c && $3 == "cpu" { print $4 }' "$RESULTS" | median
}

echo "== NTB device lending: four QEMU nvme at once, local / lent by A and borrowed by B over ntb_sim switchtec"
echo "== fio 4k randread QD32 direct=1 libaio, one fio per drive started together, $RUNTIME s each,"
echo "== reads of a $REGION region written first; medians over rounds: $ROUNDS;"
echo "== in brackets the range of the per-round ratios"
table | sed 's/ *$//'
l4=$(med local4 0) l1=$(med local1 0) b4=$(med borrowed4 0) b1=$(med borrowed1 0)
echo "drive 0, four at once over alone: local $(ratio "$l4" "$l1"), borrowed $(ratio "$b4" "$b1")" \
	"(alone borrowed: the other three borrowed, idle)"
echo "the four borrows took: ${RESOURCES:-(no borrow was done)}"
echo "guest CPUs busy, % (four/one): local $(cpu local4)/$(cpu local1)," \
	"borrowed $(cpu borrowed4)/$(cpu borrowed1)"
echo "every borrowed-device interrupt is the borrower's adapter's one MSI (affinity CPU $IRQ_CPU):"
echo "  taken $ADAPTER_IRQS"
exit "$STEP_FAILED"
