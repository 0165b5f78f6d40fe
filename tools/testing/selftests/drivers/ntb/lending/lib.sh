# shellcheck shell=sh
# SPDX-License-Identifier: GPL-2.0
# Helpers for the tests that run inside the VM (see vm.sh); sourced.
# KTAP output comes from the kernel's own ktap_helpers.sh, which vm.sh
# copies from linux-source-6.12 into the guest.

# shellcheck source=/dev/null # present in the guest only
. "$(dirname "$0")/upstream/ktap_helpers.sh"

# The modules of this tree and the upstream NTB ones they stand on.
# The lending protocol version of the ntb_lending under test (wire.h),
# for the tests that source this file.
# shellcheck disable=SC2034
PROTO=4

NTB_MODULES="ntb_lending ntb_netdev ntb_transport ntb_tool ntb_perf ntb_pingpong ntb_msi_test ntb_sim ntb"

# True if module $1 is loaded as a module (not built in, not absent).
module_loaded() {
	[ -e "/sys/module/$1/refcnt" ]
}

# Unload every NTB module, clients before the core; quiet if none loaded.
unload_ntb_modules() {
	for m in $NTB_MODULES; do
		! module_loaded "$m" || rmmod "$m" || return 1
	done
}

# True if PCI function $1 (a sysfs directory) is an adapter ntb_sim
# takes: an edu, or an ivshmem-doorbell (an ivshmem with BAR1, its MSI-X).
sim_adapter() {
	case $(cat "$1/vendor"):$(cat "$1/device") in
	0x1234:0x11e8) return 0 ;;
	0x1af4:0x1110) [ "$(sed -n 2p "$1/resource" | cut -d' ' -f1)" != 0x0000000000000000 ] ;;
	*) return 1 ;;
	esac
}

# Put every edu and ivshmem-doorbell device (ntb_sim's host adapters) in
# an identity IOMMU domain, which ntb_sim requires; before ntb_sim binds
# them.
sim_prepare_adapters() {
	for dev in /sys/bus/pci/devices/*; do
		sim_adapter "$dev" || continue
		[ -e "$dev/iommu_group" ] || continue	# no IOMMU
		# Set once: the type cannot change while ntb_sim has the device.
		[ "$(cat "$dev/iommu_group/type")" = identity ] ||
			echo identity >"$dev/iommu_group/type" || return 1
	done
}

# Make fabric $1 with profile $2 and hosts on ports 0..$3-1; for a
# multi-port profile the fabric gets $4 ports (default $3).
SIM_SYSFS=/sys/bus/pci/drivers/ntb_sim
sim_fabric() {
	echo "$1 $2 ${4:-$3}" >"$SIM_SYSFS/new_fabric" || return 1
	port=0
	while [ "$port" -lt "$3" ]; do
		echo "$1 $port" >"$SIM_SYSFS/new_host" || return 1
		port=$((port + 1))
	done
}

# Fabric 0, of profile $1, with two hosts on the edu adapters: A is the
# adapter of port 0, B of port 1.
sim_two_hosts() {
	sim_prepare_adapters && { module_loaded ntb_sim || modprobe ntb_sim; } &&
		sim_fabric 0 "$1" 2 &&
		A=$(sim_host_dev 0 0) && B=$(sim_host_dev 0 1)
}

# sim_two_hosts intel-32g bound to the lending_dataplane test client, which
# lends PCI function $1 of A to B, whose memory ends at $2: the NTB bus
# binds nothing by itself, since ntb_lending (which the client links
# against) must not take the hosts.
dataplane_fabric() {
	modprobe ntb && echo 0 >/sys/bus/ntb/drivers_autoprobe &&
		sim_two_hosts intel-32g &&
		modprobe lending_dataplane bdf="$1" ram_size="$2" &&
		echo "$A" >/sys/bus/ntb/drivers/lending_dataplane/bind &&
		echo "$B" >/sys/bus/ntb/drivers/lending_dataplane/bind
}

# A lend entry L on host A for its nvme NVME, connected to node 1, on a
# two-host intel-32g fabric with ntb_lending loaded (CFS: its configfs).
nvme_lend_entry() {
	modprobe nvme && wait_for 40 has_disk "$NVME" &&
		sim_two_hosts intel-32g && modprobe ntb_lending &&
		wait_for 20 file_set "$CFS/$B/node_id" || return 1
	L=$CFS/$A/lends/$NVME
	mkdir "$CFS/$A/connections/1" "$L"
}

# Host B borrows offer 00000 once it is available and waits for its disk:
# sets VBDF and DISK.
borrow_nvme_offer() {
	wait_for 40 file_is "$CFS/$B/offers/00000/state" available &&
		mkdir "$CFS/$B/borrows/00000" &&
		VBDF=$(cat "$CFS/$B/borrows/00000/local_bdf") &&
		wait_for 60 has_disk "$VBDF" && DISK=$(disk_of "$VBDF")
}

# Run "$@" while fio reads the borrowed drive DISK (VBDF in this host's
# tree) with psync: libaio's job can spin in user space on a deleted disk
# until its runtime ends. True once "$@" succeeded, the drive left the tree
# and fio ended; prints fio's exit, or the states and kernel stacks of its
# tasks if it does not end.
struck_mid_io() {
	fio --name=struck --filename="$DISK" --rw=randread --bs=4k --direct=1 \
		--ioengine=psync --numjobs=2 --time_based --runtime=60 \
		>/tmp/fio-struck 2>&1 &
	pid=$!
	sleep 1
	"$@" || return 1
	wait_for 60 gone "/sys/bus/pci/devices/$VBDF" || return 1
	if ! wait_for 60 fio_done "$pid"; then
		echo "# fio still runs; its tasks:"
		for t in /proc/[0-9]*/task/*; do
			grep -q '^fio' "$t/comm" 2>/dev/null || continue
			echo "# $(cut -d' ' -f2,3 "$t/stat") $(cat "$t/wchan" 2>/dev/null)"
			sed 's/^/#   /' "$t/stack" 2>/dev/null
		done
		return 1
	fi
	wait "$pid"
	echo "# fio exited $?, reporting EIO $(grep -c 'Input/output error' /tmp/fio-struck) times"
}

# Host B reads its borrowed drive, returns it, host A's entry and
# connection go, A's nvme driver has the drive back and ntb_lending unloads.
read_returned_and_unloaded() {
	dd if="$DISK" of=/dev/null bs=1M count=4 iflag=direct 2>/dev/null &&
		rmdir "$CFS/$B/borrows/00000" "$L" "$CFS/$A/connections/1" &&
		wait_for 60 has_disk "$NVME" && rmmod ntb_lending
}

# PCI name of the adapter of the host on port $2 of fabric $1.
sim_host_dev() {
	for d in /sys/kernel/debug/ntb_sim/fabric"$1"/*/port; do
		[ "$(cat "$d")" = "$2" ] && basename "$(dirname "$d")" && return 0
	done
	return 1
}

# True if file $1 reads as the line $2 (wait_for file_is ...: a condition
# written inline as [ "$(cat f)" = x ] would be read once, not each time).
file_is() {
	[ "$(cat "$1" 2>/dev/null)" = "$2" ]
}

# True if file $1 reads as a non-empty line.
file_set() {
	[ -n "$(cat "$1" 2>/dev/null)" ]
}

# True if $1 kernel log lines match the extended regexp $2.
log_count_is() {
	[ "$(kernel_log_count "$2")" -eq "$1" ]
}

# Number of kernel log lines matching the extended regexp $1.
kernel_log_count() {
	dmesg | grep -cE "$1"
}

# Mark the kernel log: logged_since_mark counts only the lines after it,
# which stays right when a long test wraps the log buffer and old lines
# drop out of kernel_log_count.
log_mark() {
	LOG_MARK="ntbtest mark $(awk '{ print $1 }' /proc/uptime)"
	echo "$LOG_MARK" >/dev/kmsg
}

# Kernel log lines since log_mark that match the extended regexp $1.
logged_since_mark() {
	dmesg | sed -n "/$LOG_MARK/,\$p" | grep -cE "$1"
}

# Kernel log lines since log_mark that hold the string $1.
lines_since_mark() {
	dmesg | sed -n "/$LOG_MARK/,\$p" | grep -F "$1"
}

# Milliseconds since boot (busybox's date has no %N).
uptime_ms() {
	awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime
}

# Busy and total jiffies of all CPUs so far (the benches' CPU load).
cpu_ticks() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
}

# The median of the numbers on standard input, one a line (of an even
# count, the lower middle one).
median() {
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# Kilobytes the kernel's slab caches hold.
slab_kb() {
	awk '/^Slab:/ { print $2 }' /proc/meminfo
}

# True if the kernel has kmemleak (the debug kernel), which the harness
# scans at the end of every run.
have_kmemleak() {
	[ -e /sys/kernel/debug/kmemleak ]
}

# kmemleak's reports since boot, after a scan; "-" without kmemleak.
kmemleak_reports() {
	if have_kmemleak; then
		echo scan >/sys/kernel/debug/kmemleak
		grep -c '^unreferenced object' /sys/kernel/debug/kmemleak
	else
		echo -
	fi
}

# kmemleak's reports since $1 (a count of kmemleak_reports), as +N or -N,
# after a scan; "-" without kmemleak.
kmemleak_since() {
	leaks_now=$(kmemleak_reports)
	if [ "$leaks_now" = - ]; then
		echo -
	else
		printf '%+d\n' $((leaks_now - $1))
	fi
}

# Before a fault test's first cycle: what cycle_figures counts from.
cycle_figures_start() {
	slab0=$(slab_kb)
	leaks0=$(kmemleak_reports)
}

# A cycle's figures, from $1 (uptime_ms at its start): "MS ms, slab KB kB
# since the first, kmemleak +N" (reports since the first, "-" without
# kmemleak; an object shows once two scans have seen it, so a cycle's
# leak may show in the next one's line).
cycle_figures() {
	cycle_ms=$(($(uptime_ms) - $1))
	echo "$cycle_ms ms, slab $(($(slab_kb) - slab0)) kB since the first, kmemleak $(kmemleak_since "$leaks0")"
}

# PCI name of the first function of class $1 (as sysfs shows it: 0x020000).
pci_find() {
	for dev in /sys/bus/pci/devices/*; do
		[ "$(cat "$dev/class")" = "$1" ] && basename "$dev" && return 0
	done
	return 1
}

# Wait up to five seconds for the command "$@" to succeed.
await() {
	wait_for 10 "$@"
}

# The errno message of mkdir $1, or "ok".
mkdir_err() {
	mkdir "$1" 2>/tmp/err && echo ok && return 0
	sed 's/.*: //' /tmp/err
}

# True once the background job of PID $1 has ended (for wait_for).
fio_done() {
	! kill -0 "$1" 2>/dev/null
}

# True if host $1 sees offer $2 available (for wait_for).
offered() {
	[ "$(cat "$CFS/$1/offers/$2/state" 2>/dev/null)" = available ]
}

# Host $1 lends PCI functions $3.. to node $2, connecting it if need be.
lend_to() {
	h=$1 node=$2
	shift 2
	[ -d "$CFS/$h/connections/$node" ] || mkdir "$CFS/$h/connections/$node" || return 1
	for f in "$@"; do
		mkdir "$CFS/$h/lends/$f" && echo 1 >"$CFS/$h/lends/$f/available" || return 1
	done
}

# True if path $1 does not exist (for await).
gone() {
	[ ! -e "$1" ]
}

# Try the command that follows $1 and $2 up to $2 times, $1 seconds
# apart, until it succeeds.
wait_steps() {
	wait_step=$1 n=$2
	shift 2
	while ! "$@"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep "$wait_step"
	done
}

# Wait up to $1 half-seconds for the command that follows to succeed.
wait_for() {
	wait_steps 0.5 "$@"
}

# Every PCI function of class $1, one per line.
pci_find_all() {
	for dev in /sys/bus/pci/devices/*; do
		[ "$(cat "$dev/class")" = "$1" ] && basename "$dev"
	done
}

# The driver_override of PCI function $1, empty if none.
override_of() {
	override=$(cat "/sys/bus/pci/devices/$1/driver_override")
	[ "$override" = "(null)" ] || echo "$override"
}

# The network interface of PCI function $1, in this namespace.
netdev_of() {
	for net in /sys/bus/pci/devices/"$1"/net/*; do
		[ -e "$net" ] && echo "${net##*/}" && return 0
	done
	return 1
}

has_netdev() {
	netdev_of "$1" >/dev/null
}

# Namespace $1 (made here) gets PCI function $2's interface, up, with the
# address fe80::$3.
into_netns() {
	dev=$(netdev_of "$2") || return 1
	ip netns add "$1" && ip link set "$dev" netns "$1" &&
		ip -n "$1" addr add "fe80::$3/64" dev "$dev" nodad &&
		ip -n "$1" link set "$dev" up
}

# True if interface $2 in namespace $1 has a carrier.
carrier() {
	ip -n "$1" link show "$2" | grep -q LOWER_UP
}

# Interrupts taken by the vectors of PCI function $1 (its msi_irqs).
vector_irqs() {
	total=0
	for irq in /sys/bus/pci/devices/"$1"/msi_irqs/*; do
		[ -e "$irq" ] || continue
		n=$(awk -v irq="${irq##*/}:" '$1 == irq { s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; print s }' /proc/interrupts)
		total=$((total + ${n:-0}))
	done
	echo "$total"
}

# Name of the driver bound to PCI function $1, empty if none.
driver_of() {
	[ -e "/sys/bus/pci/devices/$1/driver" ] &&
		basename "$(readlink "/sys/bus/pci/devices/$1/driver")"
}

# The block device of the nvme function $1, once a namespace is up: its
# first (a VF's namespace need not be number 1).
disk_of() {
	for ns in /sys/bus/pci/devices/"$1"/nvme/nvme*/nvme*n*; do
		[ -e "$ns" ] && [ -b "/dev/${ns##*/}" ] && echo "/dev/${ns##*/}" && return 0
	done
	return 1
}

has_disk() {
	disk_of "$1" >/dev/null
}

# The config requests B sent for its borrow of offer $1 (debugfs).
borrow_requests() {
	awk -v id="$1" '$1 == id { print $3 }' \
		"/sys/kernel/debug/ntb_lending/$B/borrows"
}

# Interrupts on every /proc/interrupts line that names $1.
named_irqs() {
	grep -F "$1" /proc/interrupts |
		awk '{ for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i } END { print s + 0 }'
}

# fio on disk $1, job NAME $2, RW $3, BS $4: four jobs (two queues on two
# CPUs), each on its own 8 MiB, written then verified with crc32c. On the
# debug kernel each writes 2 MiB of its 8: its checkers make I/O ten times
# slower, and what they check is the same from the first request on.
fio_verified() {
	size=8M
	! have_kmemleak || size=2M
	out=$(fio --name="$2" --filename="$1" --rw="$3" --bs="$4" \
		--direct=1 --ioengine=libaio --iodepth=16 --numjobs=4 \
		--size=$size --offset_increment=8M --verify=crc32c --do_verify=1 \
		--verify_fatal=1 --group_reporting 2>&1)
	rc=$?
	echo "$out" | grep -E 'IOPS=|err=|verify' | sed 's/^ */# /'
	[ $rc -eq 0 ] && ! echo "$out" | grep -qE 'err= *[1-9]|verify: bad'
}

# True if configfs is mounted on /sys/kernel/config.
configfs_mounted() {
	grep -q ' /sys/kernel/config configfs ' /proc/mounts
}

# tool ARG...: run smartio_tool; sets status, out (stdout) and err (stderr).
# Each call's results go to the KTAP log, to read when a test fails. (Tests
# of the tool; udev_rules.sh and sim_faults.sh have a tool and a refused of
# their own.)
tool() {
	status=0
	out=$(smartio_tool "$@" 2>/tmp/tool.err) || status=$?
	err=$(cat /tmp/tool.err)
	ktap_print_msg "smartio_tool $*: exit $status"
	[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/#   out: /'
	[ -z "$err" ] || printf '%s\n' "$err" | sed 's/^/#   err: /'
}

# succeeds ARG...: the tool exits 0 and prints nothing on stderr.
succeeds() {
	tool "$@"
	[ "$status" -eq 0 ] && [ -z "$err" ]
}

# refused CODE PATTERN ARG...: the tool exits CODE, prints nothing on stdout
# and one line on stderr matching the glob "smartio_tool: PATTERN".
refused() {
	code=$1 pattern=$2
	shift 2
	tool "$@"
	[ "$status" -eq "$code" ] && [ -z "$out" ] && [ -n "$err" ] &&
		[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || return 1
	# shellcheck disable=SC2254 # the pattern is a glob on purpose
	case $err in
	"smartio_tool: "$pattern) ;;
	*) return 1 ;;
	esac
}

# A lending channel frame's header (Documentation/ntb-lending/protocol.rst)
# for type $1, sequence $2, fragment $3, last flag $4, payload length $5
# and payload words $6 $7 $8, with its checksum; spoiled if $9 is "bad".
frame_header() {
	h=$(($1 << 24 | $2 << 16 | $3 << 12 | $4 << 11 | $5 << 8))
	sum=0
	for w in $h "$6" "$7" "$8"; do
		sum=$((sum + (w & 255) + (w >> 8 & 255) + (w >> 16 & 255) + (w >> 24 & 255)))
	done
	h=$((h | (-sum & 255)))
	[ "${9:-}" = bad ] && h=$((h ^ 1))
	echo "$h"
}

# Frame of type $2 with fragment $3, last flag $4 and payload length $5,
# words $6.. (missing ones 0), written raw by host $1 of fabric $FAB (its
# debugfs directory) into its peer's scratchpads and rung; "bad" as $9
# spoils the checksum. Each frame has a sequence number of its own, so the
# peer does not take it for a repeat; FRAME_GAP (default 0.05 s) lets the
# peer take it before the next.
SEQ=100
frame() {
	SEQ=$(((SEQ + 1) & 255))
	w1=${6:-0} w2=${7:-0} w3=${8:-0}
	h=$(frame_header "$2" "$SEQ" "$3" "$4" "$5" "$w1" "$w2" "$w3" "${9:-}")
	echo "spad 0 1 $w1" >"$FAB/$1/hostile" &&
		echo "spad 0 2 $w2" >"$FAB/$1/hostile" &&
		echo "spad 0 3 $w3" >"$FAB/$1/hostile" &&
		echo "spad 0 0 $h" >"$FAB/$1/hostile" &&
		echo "db 0x1" >"$FAB/$1/hostile" && sleep "${FRAME_GAP:-0.05}"
}

# --- bounded steps (the bench scripts) ---------------------------------------

# Whether process $1 still runs: a zombie has finished, and the shell may
# have reaped it already (it keeps the status for wait).
running() {
	[ -r "/proc/$1/stat" ] &&
		! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null &&
		[ -r "/proc/$1/stat" ]
}

# step NAME SECS CMD...: run CMD (a function or a program) in the
# background as a process group of its own, for at most SECS seconds, and
# return its status. One that overruns is killed with everything it
# started (a modprobe, a fio, a pipeline) and is never waited for: a task
# of it that sits in the kernel for good (D state) cannot hang the run.
# Then the step returns 124, and "# <script>: step 'NAME' did not finish
# within SECS s" says so; one that fails says "failed (STATUS)". Either
# sets STEP_FAILED to 1, and the caller goes on to its next step. A step
# runs in a subshell: what it must hand back (a device name, a figure)
# goes into a file or is read again after it.
# shellcheck disable=SC2034 # STEP_FAILED: for the scripts that source this file
STEP_FAILED=0
# shellcheck disable=SC2034
step() {
	step_name=$1 step_secs=$2 step_n=$(($2 * 10))
	shift 2
	set -m	# the background job: a process group of its own
	"$@" &
	step_pid=$!
	set +m
	while [ "$step_n" -gt 0 ] && running "$step_pid"; do
		sleep 0.1
		step_n=$((step_n - 1))
	done
	if running "$step_pid"; then
		kill -KILL -- "-$step_pid" 2>/dev/null
		STEP_FAILED=1
		echo "# $(basename "$0" .sh): step '$step_name' did not finish within $step_secs s"
		return 124
	fi
	wait "$step_pid"
	step_rc=$?
	[ "$step_rc" -eq 0 ] && return 0
	STEP_FAILED=1
	echo "# $(basename "$0" .sh): step '$step_name' failed ($step_rc)"
	return "$step_rc"
}
