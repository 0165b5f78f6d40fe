#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Scale: as many hosts and devices as one VM holds, lent and borrowed
# over and over. HOSTS hosts (default 4, at most 8: ntb_sim's idt-32g
# switch has 8 ports) on one switch each lend DRIVES nvme drives (4,
# fewer if the VM's 32 do not give each 4) to every other host; every
# host borrows a drive of the next at the same moment; then CYCLES
# borrow/return cycles (default 50, 30 on the debug kernel), each taking
# a lender, one of its drives and a borrower at random from a seed that
# is printed (SEED runs a sequence again). Each cycle asserts that the
# borrower's stock nvme driver has the drive and reads back the pattern
# the lender wrote on it before lending it, and that the return restored
# both hosts: the lender holds the drive for lending and offers it
# again, and neither host has a window or a doorbell bit left in use.
# Every 100 cycles a line of figures: their time and its ratio to the
# first 100's, the slab's growth over them, the kmemleak reports since
# the start (the debug kernel), and the most memory ntb_lending held
# (its module image, the kmalloc objects its code allocated, from SLUB's
# owner tracking: slub_debug=U below, and its allocations past that,
# traced); at the end the table of them. make soak runs 1000 cycles on 8
# hosts (Documentation/ntb-lending/testing.rst, "Scale").
#   scale_pool.sh [CYCLES [HOSTS [SEED]]]
# vm-devices: edu edu edu edu edu edu edu edu
# vm-devices: nvme-port nvme-port nvme-port nvme-port nvme-port nvme-port nvme-port nvme-port
# vm-devices: nvme-port nvme-port nvme-port nvme-port nvme-port nvme-port nvme-port nvme-port
# vm-devices: nvme-port nvme-port nvme-port nvme-port nvme-port nvme-port nvme-port nvme-port
# vm-devices: nvme-port nvme-port nvme-port nvme-port nvme-port nvme-port nvme-port nvme-port
# vm-cmdline: slub_debug=U,kmalloc-*
# vm-timeout: 900
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
# The debug kernel's checkers make a cycle several times slower.
if [ -e /proc/lockdep ]; then
	CYCLES=${1:-30}
else
	CYCLES=${1:-50}
fi
HOSTS=${2:-4}
SEED=${3:-$(($(date +%s) % 1000000))}
BLOCK=100
# The pattern each drive holds: 256 KiB at 256 KiB (four 64 KiB blocks).
PATTERN_BLOCKS=4
PATTERN_SKIP=4

ALL_DRIVES=$(pci_find_all 0x010802)
NDRIVES=$(echo "$ALL_DRIVES" | grep -c .)
DRIVES=$((NDRIVES / HOSTS))
[ "$DRIVES" -le 4 ] || DRIVES=4
BLOCKS=$(((CYCLES + BLOCK - 1) / BLOCK))
LAST_HOST=$((HOSTS - 1)) LAST_DRIVE=$((DRIVES - 1))

ktap_print_header
ktap_set_plan $((BLOCKS + 5))
echo "# scale_pool: $HOSTS hosts x $DRIVES drives on idt-32g, $CYCLES cycles, seed $SEED" \
	"(again: scale_pool.sh $CYCLES $HOSTS $SEED)"

# Names are looked up once, not at each use: a fork costs milliseconds
# under TCG, and a cycle's time should be the lending's. HOST_p is the
# adapter of host p, DRIVE_p_d drive d of host p, ID_p_d its offer's Id
# once lent.
get() {
	eval "$1=\$$2"
}
h='' f='' id='' bh='' lh=''

i=1
for p in $(seq 0 $LAST_HOST); do
	for d in $(seq 0 $LAST_DRIVE); do
		eval "DRIVE_${p}_$d=$(echo "$ALL_DRIVES" | sed -n "${i}p")"
		i=$((i + 1))
	done
done

# Poll the command after $1 every 20 ms for up to $1 seconds: a cycle's
# waits, whose times would otherwise go in wait_for's half-second steps.
poll() {
	polls=$(($1 * 50))
	shift
	wait_steps 0.02 "$polls" "$@"
}

# True once every host sees its HOSTS-1 peers up.
all_up() {
	for p in $(seq 0 $LAST_HOST); do
		get h "HOST_$p"
		[ "$(grep -c " up $PROTO\$" "$CFS/$h/peers")" -eq "$LAST_HOST" ] || return 1
	done
}

# True once every host sees every other host's drives offered.
all_offered() {
	for p in $(seq 0 $LAST_HOST); do
		get h "HOST_$p"
		seen=0
		for s in "$CFS/$h"/offers/*/state; do
			[ "$(cat "$s" 2>/dev/null)" = available ] && seen=$((seen + 1))
		done
		[ "$seen" -eq $((LAST_HOST * DRIVES)) ] || return 1
	done
}

# What host adapter $1 has in use for lending: nothing between borrows.
in_use() {
	cat "$CFS/$1/windows" "$CFS/$1/doorbells"
}

# Kilobytes of the memory ntb_lending's code allocated that is alive:
# the kmalloc objects, from SLUB's owner tracking (slub_debug=U on the
# kmalloc caches), which lists a cache's live objects by the call site
# that allocated them, "[ntb_lending]" after a site in the module, and
# the allocations past it (below); "-" without the tracking.
lending_objects_kb() {
	found='' bytes=0
	for t in /sys/kernel/debug/slab/kmalloc-*/alloc_traces; do
		[ -r "$t" ] || continue
		found=1
		cache=${t%/alloc_traces}
		size=$(cat "/sys/kernel/slab/${cache##*/}/object_size")
		objs=$(awk '$1 ~ /^[0-9]+$/ && $3 == "[ntb_lending]" { n += $1 } END { print n + 0 }' "$t")
		bytes=$((bytes + objs * size))
	done
	if [ -n "$found" ] && large_fold; then
		echo $(((bytes + $(large_live_bytes) + 1023) / 1024))
	else
		echo -
	fi
}

# The module's allocations that SLUB does not track, followed by tracing:
# a kmalloc above the largest kmalloc cache's 8 KiB comes from the page
# allocator (a borrow, the arrays of a host's peers), and a kvzalloc() (a
# lent device's state) allocates in mm/util.c, whose call site is not
# the module's. The kmem:kmalloc event catches the first, a return probe
# on __kvmalloc_node_noprof the second (the address it returns to is in
# the module), kmem:kfree and a return probe on kvfree their frees, each
# filtered to calls from the module's image. large_fold swaps the trace
# into the snapshot buffer, whole, and folds it into LARGE_LIVE, the
# allocations not freed yet ("POINTER BYTES SITE" lines), and counts
# those made and freed in LARGE_COUNTS.
TRACING=/sys/kernel/tracing
LARGE_LIVE=/tmp/large_live LARGE_COUNTS=/tmp/large_counts
large_traced() {
	[ -e "$TRACING/events/kmem/kmalloc/filter" ] || mount -t tracefs tracefs "$TRACING" || return 1
	: >"$LARGE_LIVE"
	echo '0 0' >"$LARGE_COUNTS"
	echo nohash-ptr >"$TRACING/trace_options" 2>/dev/null
	# shellcheck disable=SC2016 # the probes' fetch arguments
	{ echo 'r:lending_kvmalloc __kvmalloc_node_noprof ptr=$retval:x64 size=$arg1:u64' \
		>>"$TRACING/kprobe_events" &&
		echo 'r:lending_kvfree kvfree ptr=$arg1:x64' >>"$TRACING/kprobe_events"; } 2>/dev/null &&
		echo 'bytes_req > 8192' >"$TRACING/events/kmem/kmalloc/filter" &&
		echo 1 >"$TRACING/events/kmem/kmalloc/enable"
}

# Once the module is loaded: each event narrowed to its image.
large_narrowed() {
	# shellcheck disable=SC2046 # the module's address and size
	set -- $(awk '$1 == "ntb_lending" { print $6, $2 }' /proc/modules)
	[ "$(($1))" -ne 0 ] || return 1
	from=$(printf %#x "$(($1))") to=$(printf %#x "$(($1 + $2))")
	echo "bytes_req > 8192 && call_site >= $from && call_site < $to" \
		>"$TRACING/events/kmem/kmalloc/filter" &&
		echo "call_site >= $from && call_site < $to" >"$TRACING/events/kmem/kfree/filter" &&
		echo 1 >"$TRACING/events/kmem/kfree/enable" || return 1
	for e in lending_kvmalloc lending_kvfree; do
		echo "__probe_ret_ip >= $from && __probe_ret_ip < $to" \
			>"$TRACING/events/kprobes/$e/filter" &&
			echo 1 >"$TRACING/events/kprobes/$e/enable" || return 1
	done
}

large_fold() {
	[ -e "$TRACING/events/kprobes/lending_kvfree/enable" ] || return 1
	echo 1 >"$TRACING/snapshot" || return 1
	awk -v counts="$LARGE_COUNTS" -v live="$LARGE_LIVE" '
	# A pointer as one form: "%p" prints no 0x, "x64" does.
	function key(p) {
		sub(/^ptr=/, "", p); sub(/^0x/, "", p); sub(/^0+/, "", p)
		return tolower(p)
	}
	# The memory a kvmalloc of n bytes takes: the pages of a large one,
	# or its kmalloc cache.
	function kmsize(n,  s) {
		n += 0
		if (n > 8192) { s = 4096; while (s < n) s *= 2; return s }
		if (n > 64 && n <= 96) return 96
		if (n > 128 && n <= 192) return 192
		s = 8; while (s < n) s *= 2; return s
	}
	FILENAME == counts { made = $1; freed = $2; next }
	FILENAME == live { alive[$1] = $2 " " $3; next }
	/ kmalloc: / && /\[ntb_lending\]/ {
		p = ""
		for (k = 1; k <= NF; k++) {
			if ($k ~ /^call_site=/) { site = $k; sub(/^call_site=/, "", site); sub(/\+.*/, "", site) }
			if ($k ~ /^ptr=/) p = key($k)
			if ($k ~ /^bytes_alloc=/) { b = $k; sub(/.*=/, "", b) }
		}
		if (p != "") { alive[p] = b " " site; made++ }
		next
	}
	/ lending_kvmalloc: / {
		site = $0; sub(/.*: \(/, "", site); sub(/\+.*/, "", site); p = ""
		for (k = 1; k <= NF; k++) {
			if ($k ~ /^ptr=/) p = key($k)
			if ($k ~ /^size=/) { n = $k; sub(/.*=/, "", n) }
		}
		if (p != "") { alive[p] = kmsize(n) " " site; made++ }
		next
	}
	/ kfree: / || / lending_kvfree: / {
		for (k = 1; k <= NF; k++)
			if ($k ~ /^ptr=/ && (key($k) in alive)) { delete alive[key($k)]; freed++ }
	}
	END {
		for (p in alive) print p, alive[p]
		print made, freed >(counts ".new")
	}' "$LARGE_COUNTS" "$LARGE_LIVE" "$TRACING/snapshot" >"$LARGE_LIVE.new" &&
		mv "$LARGE_LIVE.new" "$LARGE_LIVE" && mv "$LARGE_COUNTS.new" "$LARGE_COUNTS" &&
		echo 2 >"$TRACING/snapshot"
}

# Bytes of the large allocations alive at the last large_fold.
large_live_bytes() {
	awk '{ n += $2 } END { print n + 0 }' "$LARGE_LIVE"
}

# The large allocations alive by call site: count and kilobytes.
large_sites() {
	awk '{ n[$3]++; b[$3] += $2 } END { for (s in n) print b[s], n[s], s }' "$LARGE_LIVE" |
		sort -rn | awk '{ printf "%s%d %s (%d kB)", (NR > 1 ? ", " : ""), $2, $3, $1 / 1024 }'
}

# The call sites of ntb_lending whose kmalloc objects are alive, with
# their count and cache, most first.
lending_sites() {
	for t in /sys/kernel/debug/slab/kmalloc-*/alloc_traces; do
		[ -r "$t" ] || continue
		cache=${t%/alloc_traces}
		awk -v c="${cache##*/}" '$1 ~ /^[0-9]+$/ && $3 == "[ntb_lending]" {
			sub(/\+.*/, "", $2); n[$2] += $1 }
			END { for (s in n) print n[s], s, c }' "$t"
	done | sort -rn | awk '{ printf "%s%d %s (%s)", (NR > 1 ? ", " : ""), $1, $2, $3 }'
}

# Kilobytes of memory available, from /proc/meminfo.
available_kb() {
	awk '/^MemAvailable:/ { print $2 }' /proc/meminfo
}

# The size of ntb_lending's module image (text and data), in kilobytes.
module_kb() {
	awk '$1 == "ntb_lending" { print int(($2 + 1023) / 1024) }' /proc/modules
}

# Keep the most lending_objects_kb read: PEAK_KB over the run,
# BLOCK_PEAK_KB over the current block of cycles.
PEAK_KB='' BLOCK_PEAK_KB=''
sample_peak() {
	kb=$(lending_objects_kb)
	[ "$kb" != - ] || return 0
	[ "$kb" -le "${PEAK_KB:-0}" ] || PEAK_KB=$kb
	[ "$kb" -le "${BLOCK_PEAK_KB:-0}" ] || BLOCK_PEAK_KB=$kb
}

# The slab in kilobytes once the dentries and inodes that reading sysfs
# and configfs leaves behind are dropped: their coming and going is not
# the lending's.
settled_slab_kb() {
	sync
	echo 2 >/proc/sys/vm/drop_caches
	slab_kb
}

drives_written() {
	modprobe nvme || return 1
	for f in $ALL_DRIVES; do
		wait_for 60 has_disk "$f" || { echo "# $f has no disk" && return 1; }
	done
	echo "# $NDRIVES drives, $HOSTS hosts lend $((HOSTS * DRIVES)) of them;" \
		"$(available_kb) kB of memory available"
	for p in $(seq 0 $LAST_HOST); do
		for d in $(seq 0 $LAST_DRIVE); do
			get f "DRIVE_${p}_$d"
			head -c $((PATTERN_BLOCKS * 65536)) /dev/urandom >"/tmp/pattern.$f" &&
				dd if="/tmp/pattern.$f" of="$(disk_of "$f")" bs=64k seek=$PATTERN_SKIP \
					oflag=direct 2>/dev/null || return 1
		done
	done
}
ktap_test_result "every_drive_written_with_a_pattern_of_its_own" drives_written

switch_up() {
	if [ "$HOSTS" -lt 2 ] || [ "$HOSTS" -gt 8 ] || [ "$DRIVES" -lt 1 ]; then
		echo "# $HOSTS hosts of $DRIVES drives: 2 to 8 hosts, a drive each at least"
		return 1
	fi
	t0=$(uptime_ms)
	sim_prepare_adapters && modprobe ntb_sim && sim_fabric 0 idt-32g "$HOSTS" || return 1
	for p in $(seq 0 $LAST_HOST); do
		eval "HOST_$p=$(sim_host_dev 0 "$p")"
	done
	# Without the tracing (a kernel with no kprobe events) the memory
	# column reads "-"; the cycles are the test.
	large_traced || echo "# no tracing of ntb_lending's large allocations: lending kB is -"
	modprobe ntb_lending || return 1
	[ ! -e "$TRACING/events/kprobes/lending_kvfree" ] || large_narrowed || return 1
	wait_for 60 all_up || return 1
	echo "# $HOSTS hosts up in $(($(uptime_ms) - t0)) ms"
}
ktap_test_result "hosts_on_an_idt_switch_speak_the_protocol" switch_up

every_host_lends() {
	t0=$(uptime_ms)
	for p in $(seq 0 $LAST_HOST); do
		get h "HOST_$p"
		for q in $(seq 0 $LAST_HOST); do
			[ "$q" -eq "$p" ] || mkdir "$CFS/$h/connections/$q" || return 1
		done
		for d in $(seq 0 $LAST_DRIVE); do
			get f "DRIVE_${p}_$d"
			mkdir "$CFS/$h/lends/$f" && echo 1 >"$CFS/$h/lends/$f/available" &&
				eval "ID_${p}_$d=$(cat "$CFS/$h/lends/$f/id")" || return 1
		done
	done
	wait_for 120 all_offered || return 1
	echo "# $((HOSTS * DRIVES)) drives lent, each host offered $((LAST_HOST * DRIVES)), in" \
		"$(($(uptime_ms) - t0)) ms; $(available_kb) kB of memory available"
	for p in $(seq 0 $LAST_HOST); do
		get h "HOST_$p"
		[ -z "$(in_use "$h")" ] || return 1
	done
}
ktap_test_result "every_host_lends_its_drives_to_every_other" every_host_lends

# Host $1 has borrowed drive $3 of host $2 and reads its pattern back:
# the function is in host $1's tree under the stock nvme driver, and the
# lender's entry names the borrower. Sets VBDF.
borrowed_and_read() {
	b=$1 l=$2 d=$3
	get f "DRIVE_${l}_$d"
	get id "ID_${l}_$d"
	get bh "HOST_$b"
	get lh "HOST_$l"
	VBDF=$(cat "$CFS/$bh/borrows/$id/local_bdf")
	if [ -z "$VBDF" ] || ! poll 30 has_disk "$VBDF"; then
		echo "# node $b has no disk for $id ($f of node $l): ${VBDF:-no local_bdf}"
		return 1
	fi
	disk=$(disk_of "$VBDF")
	if [ "$(driver_of "$VBDF")" != nvme ] ||
		[ "$(cat "$CFS/$lh/lends/$f/state")" != borrowed ] ||
		[ "$(cat "$CFS/$lh/lends/$f/borrower")" != "$b" ]; then
		echo "# $VBDF on node $b: driver $(driver_of "$VBDF"); $f on node $l:" \
			"$(cat "$CFS/$lh/lends/$f/state"), borrower $(cat "$CFS/$lh/lends/$f/borrower")"
		return 1
	fi
	if ! dd if="$disk" of="/tmp/got.$b" bs=64k skip=$PATTERN_SKIP count=$PATTERN_BLOCKS \
		iflag=direct 2>/dev/null || ! cmp -s "/tmp/pattern.$f" "/tmp/got.$b"; then
		echo "# node $b read $disk ($VBDF, $f of node $l): not the pattern"
		return 1
	fi
}

# Host $1 has returned drive $3 of host $2, borrowed as $4: gone from its
# tree, held for lending on the lender and offered again, nothing in use.
returned() {
	b=$1 l=$2 d=$3 vbdf=$4
	get f "DRIVE_${l}_$d"
	get id "ID_${l}_$d"
	get bh "HOST_$b"
	get lh "HOST_$l"
	poll 20 gone "/sys/bus/pci/devices/$vbdf" &&
		poll 20 file_is "$CFS/$lh/lends/$f/state" available &&
		poll 20 offered "$bh" "$id" &&
		[ -z "$(cat "$CFS/$lh/lends/$f/borrower")" ] &&
		[ "$(driver_of "$f")" = ntb_lending ] &&
		[ -z "$(in_use "$bh")" ] && [ -z "$(in_use "$lh")" ] && return 0
	echo "# node $b returned $id ($f of node $l): $vbdf" \
		"$(gone "/sys/bus/pci/devices/$vbdf" && echo gone || echo still there)," \
		"the lender's entry $(cat "$CFS/$lh/lends/$f/state") to" \
		"'$(cat "$CFS/$lh/lends/$f/borrower")' under $(driver_of "$f")," \
		"the offer $(cat "$CFS/$bh/offers/$id/state" 2>/dev/null); in use: by the borrower" \
		"'$(in_use "$bh" | tr '\n' ';')', by the lender '$(in_use "$lh" | tr '\n' ';')'"
	return 1
}

# Every host borrows a drive of the next host at the same moment: each
# lender's bits of its share (with eight ports, idt-32g's 14 bits give
# each one) and a window of each borrower, all in use at once.
all_at_once() {
	rm -f /tmp/borrowed.*
	for p in $(seq 0 $LAST_HOST); do
		get h "HOST_$p"
		get id "ID_$(((p + 1) % HOSTS))_$((p % DRIVES))"
		(mkdir "$CFS/$h/borrows/$id" && touch "/tmp/borrowed.$p") &
	done
	wait
	ok=0 vbdfs=''
	for p in $(seq 0 $LAST_HOST); do
		VBDF=none
		[ -e "/tmp/borrowed.$p" ] &&
			borrowed_and_read "$p" $(((p + 1) % HOSTS)) $((p % DRIVES)) || ok=1
		vbdfs="$vbdfs $VBDF"
	done
	sample_peak
	get h HOST_0
	echo "# node 0 windows: $(tr '\n' ';' <"$CFS/$h/windows") doorbells: $(tr '\n' ';' <"$CFS/$h/doorbells")"
	for p in $(seq 0 $LAST_HOST); do
		get h "HOST_$p"
		get id "ID_$(((p + 1) % HOSTS))_$((p % DRIVES))"
		[ ! -e "$CFS/$h/borrows/$id" ] || rmdir "$CFS/$h/borrows/$id" || ok=1
	done
	# shellcheck disable=SC2086 # a word list
	set -- $vbdfs
	for p in $(seq 0 $LAST_HOST); do
		returned "$p" $(((p + 1) % HOSTS)) $((p % DRIVES)) "$1" || ok=1
		shift
	done
	return $ok
}
ktap_test_result "every_host_borrows_a_drive_of_the_next_at_once" all_at_once

# The cycles, "BORROWER LENDER DRIVE" a line, drawn from SEED.
awk -v seed="$SEED" -v n="$CYCLES" -v h="$HOSTS" -v d="$DRIVES" 'BEGIN {
	srand(seed)
	for (i = 0; i < n; i++) {
		l = int(rand() * h)
		b = int(rand() * (h - 1))
		if (b >= l)
			b++
		print b, l, int(rand() * d)
	}
}' >/tmp/cycles

# The milliseconds a fixed job of the guest's CPU takes, which follow
# the emulator's speed: other VMs on the host's cores slow a cycle down
# as much as a change of ours would.
calibration_ms() {
	c0=$(uptime_ms)
	awk 'BEGIN { for (k = 0; k < 50000; k++) s += k }'
	echo $(($(uptime_ms) - c0))
}

# Cycle $1: host $2 borrows drive $4 of host $3, reads it and returns it.
# Adds its time to BLOCK_MS. Every tenth cycle, out of that time, samples
# ntb_lending's memory while the drive is borrowed and runs the
# calibration job (BLOCK_CALS of them in BLOCK_CAL_MS).
BLOCK_MS=0 BLOCK_CAL_MS=0 BLOCK_CALS=0
cycle() {
	i=$1 b=$2 l=$3 d=$4
	get id "ID_${l}_$d"
	get bh "HOST_$b"
	t0=$(uptime_ms)
	if ! mkdir "$CFS/$bh/borrows/$id"; then
		echo "# cycle $i: node $b could not borrow $id"
		return 1
	fi
	borrowed_and_read "$b" "$l" "$d" || { echo "# cycle $i failed" && return 1; }
	t1=$(uptime_ms)
	if [ $((i % 10)) -eq 0 ]; then
		sample_peak
		BLOCK_CAL_MS=$((BLOCK_CAL_MS + $(calibration_ms)))
		BLOCK_CALS=$((BLOCK_CALS + 1))
	fi
	t2=$(uptime_ms)
	if ! rmdir "$CFS/$bh/borrows/$id" || ! returned "$b" "$l" "$d" "$VBDF"; then
		echo "# cycle $i failed"
		return 1
	fi
	BLOCK_MS=$((BLOCK_MS + t1 - t0 + $(uptime_ms) - t2))
}

TABLE=/tmp/table
printf '%9s %8s %7s %7s %7s %8s %9s %11s\n' cycles ms /first "cal ms" "/first" \
	"slab kB" kmemleak "lending kB" >"$TABLE"
MODULE_KB=$(module_kb)
slab_prev=$(settled_slab_kb)
slab_first='' first_per='' first_rel='' failed='' leaks=-
leaks0=$(kmemleak_reports)
i=0 blk=0
while [ "$blk" -lt "$BLOCKS" ]; do
	from=$((blk * BLOCK + 1)) to=$(((blk + 1) * BLOCK))
	[ "$to" -le "$CYCLES" ] || to=$CYCLES
	name="cycles_${from}_to_${to}_borrowed_read_and_returned"
	blk=$((blk + 1))
	if [ -n "$failed" ]; then
		ktap_test_skip "$name (cycle $failed failed)"
		continue
	fi
	BLOCK_MS=0 BLOCK_CAL_MS=0 BLOCK_CALS=0 BLOCK_PEAK_KB=''
	sed -n "$((i + 1)),${to}p" /tmp/cycles >/tmp/block
	while read -r b l d <&3; do
		i=$((i + 1))
		cycle "$i" "$b" "$l" "$d" || { failed=$i && break; }
	done 3</tmp/block
	if [ -n "$failed" ]; then
		ktap_test_fail "$name"
		continue
	fi
	slab=$(settled_slab_kb)
	[ -n "$slab_first" ] || slab_first=$slab
	leaks=$(kmemleak_since "$leaks0")
	per=$((BLOCK_MS * 1000 / (to - from + 1)))
	[ -n "$first_per" ] || first_per=$per
	ratio=$(awk -v a="$per" -v b="$first_per" 'BEGIN { printf "%.2f", a / b }')
	# The time per cycle over the calibration job's, over the first
	# block's: the ratio with the emulator's changing speed taken out.
	cal=- rel=-
	if [ "$BLOCK_CALS" -gt 0 ]; then
		cal=$((BLOCK_CAL_MS / BLOCK_CALS))
		[ -n "$first_rel" ] || first_rel=$(awk -v a="$per" -v c="$BLOCK_CAL_MS" \
			-v k="$BLOCK_CALS" 'BEGIN { print a / (c / k) }')
		rel=$(awk -v a="$per" -v c="$BLOCK_CAL_MS" -v k="$BLOCK_CALS" -v f="$first_rel" \
			'BEGIN { printf "%.2f", a / (c / k) / f }')
	fi
	peak=-
	[ -z "$BLOCK_PEAK_KB" ] || peak=$((MODULE_KB + BLOCK_PEAK_KB))
	line=$(printf '%9s %8d %7s %7s %7s %+8d %9s %11s' "$from-$to" "$BLOCK_MS" "$ratio" \
		"$cal" "$rel" $((slab - slab_prev)) "$leaks" "$peak")
	echo "$line" >>"$TABLE"
	echo "# scale_pool: $line"
	slab_prev=$slab
	ktap_test_pass "$name"
done

echo "# scale_pool: $HOSTS hosts x $DRIVES drives, $i of $CYCLES cycles, seed $SEED:"
sed 's/^/# scale_pool: /' "$TABLE"
by_borrower=$(head -n "$i" /tmp/cycles | awk '{ n[$1]++ } END { for (b in n) printf "%s:%d\n", b, n[b] }' |
	sort -n | tr '\n' ' ')
by_drive=$(head -n "$i" /tmp/cycles | awk '{ n[$2 "." $3]++ }
	END { min = -1; for (k in n) { c++; if (min < 0 || n[k] < min) min = n[k]; if (n[k] > max) max = n[k] }
	      printf "%d drives borrowed, %d to %d times each", c, min, max }')
echo "# scale_pool: cycles by borrower $by_borrower; $by_drive"
echo "# scale_pool: ntb_lending's objects, nothing borrowed: $(lending_sites)"
if large_fold; then
	echo "# scale_pool: and its large allocations: $(large_sites); $(awk \
		'{ printf "%d made and %d freed since it was loaded", $1, $2 }' "$LARGE_COUNTS")"
fi
if [ -n "$slab_first" ]; then
	last=$(tail -n 1 "$TABLE" | awk '{ print $3 ", by the calibration " $5 }')
	growth="one block"
	[ "$i" -le "$BLOCK" ] ||
		growth="$((slab_prev - slab_first)) kB from the end of the first $BLOCK cycles to the end of the last"
	echo "# scale_pool: last/first $last; slab $growth; kmemleak $leaks; ntb_lending at most" \
		"$((MODULE_KB + ${PEAK_KB:-0})) kB (module $MODULE_KB kB, objects ${PEAK_KB:--} kB)"
fi

all_undone() {
	for p in $(seq 0 $LAST_HOST); do
		get h "HOST_$p"
		for e in "$CFS/$h"/borrows/* "$CFS/$h"/lends/* "$CFS/$h"/connections/*; do
			[ ! -e "$e" ] || rmdir "$e" || return 1
		done
	done
	for p in $(seq 0 $LAST_HOST); do
		for d in $(seq 0 $LAST_DRIVE); do
			get f "DRIVE_${p}_$d"
			if ! wait_for 60 has_disk "$f" || [ "$(driver_of "$f")" != nvme ]; then
				echo "# $f: not back under nvme ($(driver_of "$f"))"
				return 1
			fi
		done
	done
	rmmod ntb_lending && rmmod ntb_sim
}
ktap_test_result "everything_undone_and_modules_unload" all_undone

# No drive left to the nvme driver at power-off: its shutdown freezes
# each drive's queues for good, and on the debug kernel lockdep counts
# two held locks a drive from then on, past its MAX_LOCK_DEPTH of 48
# with 32 drives ("BUG: MAX_LOCK_DEPTH too low!", which fails the run).
rmmod nvme

ktap_finished
