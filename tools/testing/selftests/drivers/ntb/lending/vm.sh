#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Boot the guest kernel in QEMU (TCG, q35, intel-iommu) with the built
# modules and run one test script inside it.
#
#   vm.sh [-o DIR] [-t SECONDS] [-q QEMU_ARGS] [-c CMDLINE] SCRIPT [ARG...]
#
# SCRIPT declares what its VM needs in header lines (all optional):
#   # vm-devices: nvme nvme e1000e edu    devices from the list below
#   # vm-qemu: -device ...                 raw QEMU arguments
#   # vm-mem: 2G                           guest memory
#   # vm-cmdline: ...                      added to the kernel command line
#   # vm-iommu: intremap=off,caching-mode=on  options of the intel-iommu
#                                          device (default: intremap=on,
#                                          caching-mode=on)
#   # vm-timeout: 300                      seconds before the run fails
# -q and -c (or QEMU_EXTRA and CMDLINE_EXTRA) add to those; -t overrides.
#
# Device names: nvme (a fresh 256 MiB file-backed drive), nvme-port (the
# same behind a pcie-root-port of its own, the ports eight to a slot from
# slot 1e down: more drives than the root bus has slots), ahci (an
# ich9-ahci controller of its own, not q35's built-in one, with a fresh
# 256 MiB file-backed disk on its first port; plain MSI, no MSI-X), e1000e
# (a NIC on QEMU hub 0 with every other e1000e of the VM, and nothing
# else), edu (QEMU's educational device: an ntb_sim host's adapter), arena
# (256 MiB of ivshmem memory: ntb_sim's window backing), ivshmem (an
# ivshmem-doorbell with IVSHMEM_VECTORS MSI-X vectors, alone in its
# server group: ID 0, its doorbell register rings its own vectors),
# ivshmem-peers (the same, all of the VM's in one group, IDs 0, 1, ... in
# their order here, each ringing any of them), nvme-sriov (an
# nvme with SR-IOV, two VFs at most, alone behind a pcie-root-port, in an
# nvme-subsys of its own: namespace 1 on the PF, namespaces 2 and 3
# detached for the VFs, each a fresh 256 MiB drive). Without a vm-devices
# line the VM gets "nvme e1000e edu edu".
#
# The script's output (KTAP), the guest's serial console and its dmesg come
# back in DIR (default build/<kver>/vm/<script>/): ktap.log, console.log,
# dmesg.log. The KTAP output is printed. The run fails (exit 1) if the script
# fails, the guest does not finish in time, or the guest's kernel log shows
# an oops, BUG, WARN, KASAN, UBSAN, lockdep, RCU stall, soft lockup, hung task
# or kmemleak report; the reasons are printed as "# vm: ..." lines. A test
# still running near the limit makes the guest print where each task waits,
# and then an NMI makes it panic with every CPU's backtrace.
# The initramfs and drive images are deleted after the run unless VM_KEEP=1.
# ivshmem devices connect to ivshmem_server.c, built here and run for the
# run's length; its log is ivshmem_server.log in DIR.
# A guest whose kernel dies before the test starts is booted once more.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../../../../../.." && pwd)
. "$TOP/scripts/lib.sh"

usage() {
	echo "usage: $0 [-o DIR] [-t SECONDS] [-q QEMU_ARGS] [-c CMDLINE] SCRIPT [ARG...]" >&2
	exit 2
}

out='' timeout_arg='' qemu_extra=${QEMU_EXTRA:-} cmdline_extra=${CMDLINE_EXTRA:-}
while getopts o:t:q:c: opt; do
	case $opt in
	o) out=$OPTARG ;;
	t) timeout_arg=$OPTARG ;;
	q) qemu_extra="$qemu_extra $OPTARG" ;;
	c) cmdline_extra="$cmdline_extra $OPTARG" ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
script=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
[ -f "$script" ] || die "no such test script: $script"
name=$(basename "$script" .sh)

# The value of a "# vm-KEY: value" header line of the script.
declared() {
	sed -n "s/^# vm-$1: *//p" "$script" | tr '\n' ' ' | sed 's/ *$//'
}

devices=$(declared devices)
[ -n "$devices" ] || devices="nvme e1000e edu edu"
mem=$(declared mem)
timeout=${timeout_arg:-$(declared timeout)}
timeout=${timeout:-300}

[ -d "$MODULES_OUT" ] || die "no modules in $MODULES_OUT; run make"
[ -r "$KIMAGE" ] || die "no guest kernel image $KIMAGE"
out=${out:-$BUILD/vm/$name}
rm -rf "$out"
mkdir -p "$out"

# --- initramfs ---------------------------------------------------------------

ROOT=$BUILD/initramfs
# Kernel modules the tests use, with their dependencies; the NTB clients
# only where the kernel has them (the debug kernel; for Debian's we build them).
GUEST_MODULES="configfs nvme ahci sd_mod e1000e pci-stub vfio-pci nvmet nvmet-tcp nvme-tcp loop"
GUEST_MODULES_IF_PRESENT="ntb_tool ntb_perf ntb_pingpong ntb_transport ntb_netdev ntb_msi_test"
# Programs the tests use, with their shared libraries; busybox gives the rest.
GUEST_PROGRAMS="/bin/kmod /bin/bash /usr/bin/fio /usr/bin/lspci /usr/bin/setpci
/sbin/ip /sbin/ethtool /usr/sbin/nvme /usr/bin/bats /usr/bin/cmp /bin/udevadm"

copy_program() {
	cp -pL "$1" "$ROOT$1"
	ldd "$1" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) .*/\1/p' |
		while read -r lib; do
			[ -e "$ROOT$lib" ] && continue
			mkdir -p "$(dirname "$ROOT$lib")"
			cp -pL "$lib" "$ROOT$lib"
		done
}

copy_guest_modules() {
	mdir=lib/modules/$KVER
	mkdir -p "$ROOT/$mdir"
	for f in modules.order modules.builtin modules.builtin.modinfo; do
		cp -p "$MODROOT/$mdir/$f" "$ROOT/$mdir/"
	done
	{
		for m in $GUEST_MODULES; do
			modprobe -d "${MODROOT:-/}" -S "$KVER" --show-depends "$m" ||
				die "guest kernel $KVER has no module $m"
		done
		for m in $GUEST_MODULES_IF_PRESENT; do
			modprobe -d "${MODROOT:-/}" -S "$KVER" --show-depends "$m" 2>/dev/null
		done
	} | sed -n 's/^insmod \([^ ]*\).*/\1/p' | sort -u | while read -r ko; do
		rel=${ko#"$MODROOT"/}
		rel=${rel#/}
		dest=$ROOT/${rel%.xz}
		mkdir -p "$(dirname "$dest")"
		case $ko in
		*.xz) xz -dc "$ko" >"$dest" ;;
		*) cp -p "$ko" "$dest" ;;
		esac
	done
}

# The part of the initramfs that does not change between runs, built once
# per harness and kernel build (a rebuilt debug kernel keeps its release).
build_base_root() {
	stamp=$ROOT/.base-$({ cat "$HERE/vm.sh"; stat -c %Y "$KIMAGE"; } | sha256sum | cut -c1-12)
	[ -e "$stamp" ] && return 0
	rm -rf "$ROOT"
	mkdir -p "$ROOT"
	(cd "$ROOT" && mkdir -p usr/bin usr/sbin usr/lib usr/lib64 usr/share/misc \
		dev proc sys tmp run root etc tests &&
		ln -s usr/bin bin && ln -s usr/sbin sbin &&
		ln -s usr/lib lib && ln -s usr/lib64 lib64)
	mkdir -p "$ROOT/usr/lib/x86_64-linux-gnu"
	for p in $GUEST_PROGRAMS; do
		copy_program "$p"
	done
	mkdir -p "$ROOT/usr/libexec"
	cp -a /usr/lib/bats-core "$ROOT/usr/lib/"
	cp -a /usr/libexec/bats-core "$ROOT/usr/libexec/"
	cp -p /usr/share/misc/pci.ids "$ROOT/usr/share/misc/"
	# udev as Debian ships it: systemd-udevd is udevadm by another name;
	# the udev package's rules and their helpers, not the hwdb (no rule
	# the tests rely on needs it). /etc/udev/rules.d is for the tests'.
	mkdir -p "$ROOT/usr/lib/systemd" "$ROOT/usr/lib/udev/rules.d" "$ROOT/etc/udev/rules.d"
	ln -s ../../bin/udevadm "$ROOT/usr/lib/systemd/systemd-udevd"
	dpkg -L udev | grep -E '^(/usr)?/lib/udev/' | while read -r f; do
		[ -f "$f" ] || continue
		case $f in
		*.rules) cp -p "$f" "$ROOT/usr/lib/udev/rules.d/" ;;
		*/rules.d/* | */hwdb.d/*) ;;
		*) copy_program "$f" ;;
		esac
	done
	cp -p /etc/udev/udev.conf "$ROOT/etc/udev/"
	# The groups those rules give device nodes, which udevd looks up.
	{
		echo 'root:x:0:'
		sed -n 's/.*GROUP="\([^"]*\)".*/\1/p' "$ROOT"/usr/lib/udev/rules.d/*.rules |
			sort -u | awk '{ print $0 ":x:" 100 + NR ":" }'
	} >"$ROOT/etc/group"
	# Tests run in bash as sh: busybox's sh would prefer its own applets
	# (ip, cmp, modprobe) to the real programs carried here.
	ln -s bash "$ROOT/usr/bin/sh"
	for t in modprobe insmod rmmod lsmod modinfo depmod; do
		ln -s ../bin/kmod "$ROOT/usr/sbin/$t"
	done
	cp -p /bin/busybox "$ROOT/usr/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ -e "$ROOT/usr/bin/$a" ] || [ -e "$ROOT/usr/sbin/$a" ] ||
			ln -s busybox "$ROOT/usr/bin/$a"
	done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$ROOT/etc/passwd"
	copy_guest_modules
	touch "$stamp"
}

# Add this run's modules, tests and smartio_tool, and pack everything.
pack_initramfs() {
	mdir=$ROOT/lib/modules/$KVER
	rm -rf "$mdir/extra" "$ROOT/tests"
	mkdir -p "$mdir/extra" "$ROOT/tests"
	cp -p "$MODULES_OUT"/*.ko "$mdir/extra/"
	cp -p "$HERE"/*.sh "$ROOT/tests/"
	# Here, not in the base: a changed tool must reach a cached base.
	cp -p "$TOP/scripts/smartio_tool" "$ROOT/usr/sbin/"
	cp -pr "$TOP/udev" "$ROOT/tests/"
	mkdir -p "$ROOT/tests/upstream"
	cp -p "$LINUX_SRC/tools/testing/selftests/kselftest/ktap_helpers.sh" "$ROOT/tests/upstream/"
	cp -pr "$LINUX_SRC/tools/testing/selftests/ntb" "$ROOT/tests/upstream/"
	cp -p "$script" "$ROOT/tests/"
	cp -p "$HERE/vm_init.sh" "$ROOT/init"
	depmod -b "$ROOT" "$KVER"
	(cd "$ROOT" && find . ! -name '.base-*' | cpio -o -H newc --quiet) >"$out/initramfs.cpio"
}

mkdir -p "$BUILD"
(
	flock 9
	build_base_root
	pack_initramfs
) 9>"$BUILD/.initramfs.lock"

# --- QEMU --------------------------------------------------------------------

# ivshmem-doorbell vectors: ntb_sim's adapter takes one per doorbell
# cause, as many as an edu has (Documentation/ntb-lending/ntb_sim.rst).
IVSHMEM_VECTORS=32
IVSHMEM_SERVER=$TOP/build/ivshmem_server
ivshmem_groups='' ivshmem_pid='' IVSHMEM_DIR=''

# The server of the ivshmem devices, built from the tree when it changed.
build_ivshmem_server() {
	src=$HERE/ivshmem_server.c
	[ -e "$IVSHMEM_SERVER" ] && [ -z "$(find "$src" -newer "$IVSHMEM_SERVER")" ] &&
		return 0
	mkdir -p "$(dirname "$IVSHMEM_SERVER")"
	# A file of this run's own: two VMs may build it at once.
	${CC:-cc} -Wall -Wextra -Werror -O2 -o "$IVSHMEM_SERVER.$$" "$src" &&
		mv "$IVSHMEM_SERVER.$$" "$IVSHMEM_SERVER"
}

# Start the server on every group's socket and wait until it listens; it
# runs until the end of this script (stop_ivshmem_server, by its PID).
start_ivshmem_server() {
	build_ivshmem_server || die "cannot build $IVSHMEM_SERVER"
	# shellcheck disable=SC2086 # a word list of socket names
	(cd "$IVSHMEM_DIR" && exec "$IVSHMEM_SERVER" -v "$IVSHMEM_VECTORS" $ivshmem_groups) \
		>"$IVSHMEM_DIR/ready" 2>"$out/ivshmem_server.log" &
	ivshmem_pid=$!
	i=0
	until grep -q '^ready$' "$IVSHMEM_DIR/ready" 2>/dev/null; do
		if ! kill -0 "$ivshmem_pid" 2>/dev/null || [ "$i" -ge 100 ]; then
			die "ivshmem_server did not start: $(cat "$out/ivshmem_server.log")"
		fi
		sleep 0.1
		i=$((i + 1))
	done
}

# shellcheck disable=SC2317 # run by the EXIT trap
stop_ivshmem_server() {
	if [ -n "$ivshmem_pid" ]; then
		kill "$ivshmem_pid" 2>/dev/null || true
		wait "$ivshmem_pid" 2>/dev/null || true
		ivshmem_pid=
	fi
	[ -z "$IVSHMEM_DIR" ] || rm -rf "$IVSHMEM_DIR"
}

# On any exit: the VM, its NMI timer and the server go too. timeout makes
# QEMU a process group of its own, which a signal to ours (a Ctrl-C) does
# not reach; timeout passes the TERM on to QEMU, and kills it 10 s later
# if it is still there.
# shellcheck disable=SC2317 # run by the EXIT trap
stop_all() {
	if [ -n "$qemu_timeout_pid" ]; then
		kill "$qemu_timeout_pid" 2>/dev/null || true
		wait "$qemu_timeout_pid" 2>/dev/null || true
	fi
	[ -z "$nmi_pid" ] || kill "$nmi_pid" 2>/dev/null || true
	stop_ivshmem_server
}
qemu_timeout_pid='' nmi_pid=
trap stop_all EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 131' QUIT
trap 'exit 141' PIPE
trap 'exit 143' TERM

# Sockets live in a short directory of their own: a socket's path has
# at most 107 bytes.
case " $devices " in
*" ivshmem"*)
	IVSHMEM_DIR=$(mktemp -d /tmp/ntbl-ivshmem.XXXXXX)
	;;
esac

qemu_devices=
n=0 nports=0
for d in $devices; do
	case $d in
	nvme)
		truncate -s 256M "$out/nvme$n.img"
		qemu_devices="$qemu_devices -drive file=$out/nvme$n.img,if=none,id=nvme$n,format=raw"
		qemu_devices="$qemu_devices -device nvme,serial=ntbl-nvme$n,drive=nvme$n"
		;;
	ahci)
		# q35's own controller at 00:1f.2 shares its IOMMU group with
		# the LPC bridge and SMBus functions of slot 1f, which lending
		# it would put in its domain: this one has a slot to itself.
		truncate -s 256M "$out/ahci$n.img"
		qemu_devices="$qemu_devices -drive file=$out/ahci$n.img,if=none,id=ahci$n,format=raw"
		qemu_devices="$qemu_devices -device ich9-ahci,id=ahcictl$n"
		qemu_devices="$qemu_devices -device ide-hd,drive=ahci$n,bus=ahcictl$n.0,serial=ntbl-ahci$n"
		;;
	e1000e)
		qemu_devices="$qemu_devices -netdev hubport,id=net$n,hubid=0"
		qemu_devices="$qemu_devices -device e1000e,netdev=net$n"
		;;
	edu)
		# A 64-bit DMA mask lets its DMA engine reach any bus address.
		qemu_devices="$qemu_devices -device edu,dma_mask=0xffffffffffffffff"
		;;
	arena)
		qemu_devices="$qemu_devices -object memory-backend-ram,id=arena$n,size=256M,share=on"
		qemu_devices="$qemu_devices -device ivshmem-plain,memdev=arena$n"
		;;
	ivshmem)
		ivshmem_groups="$ivshmem_groups ivshmem$n.sock"
		qemu_devices="$qemu_devices -chardev socket,id=ivshmem$n,path=$IVSHMEM_DIR/ivshmem$n.sock"
		qemu_devices="$qemu_devices -device ivshmem-doorbell,chardev=ivshmem$n,vectors=$IVSHMEM_VECTORS"
		;;
	ivshmem-peers)
		# One group: a chardev each, all on the group's socket.
		case " $ivshmem_groups " in
		*" peers.sock "*) ;;
		*) ivshmem_groups="$ivshmem_groups peers.sock" ;;
		esac
		qemu_devices="$qemu_devices -chardev socket,id=ivshmem$n,path=$IVSHMEM_DIR/peers.sock"
		qemu_devices="$qemu_devices -device ivshmem-doorbell,chardev=ivshmem$n,vectors=$IVSHMEM_VECTORS"
		;;
	nvme-port)
		# More drives than the root bus has slots: each behind a
		# pcie-root-port of its own, eight ports a slot as the
		# functions of one multifunction slot, from slot 1e down. A
		# port's ACS gives its drive an IOMMU group of its own, which
		# lending needs; the firmware gives it no I/O window (the
		# drives need none, and 32 ports' 4 KiB ones do not fit).
		slot=$((0x1e - nports / 8)) fn=$((nports % 8))
		port=pcie-root-port,id=rp$n,chassis=$((n + 1)),io-reserve=0
		port=$port,bus=pcie.0,addr=$(printf '%x.%x' "$slot" "$fn")
		[ "$fn" -ne 0 ] || port=$port,multifunction=on
		truncate -s 256M "$out/nvme$n.img"
		qemu_devices="$qemu_devices -device $port"
		qemu_devices="$qemu_devices -drive file=$out/nvme$n.img,if=none,id=nvme$n,format=raw"
		qemu_devices="$qemu_devices -device nvme,serial=ntbl-nvme$n,drive=nvme$n,bus=rp$n"
		nports=$((nports + 1))
		;;
	nvme-sriov)
		# Two VFs with 4 queues and 2 vectors of the flexible pool
		# each; VF resources and namespaces are the test's to give.
		qemu_devices="$qemu_devices -device pcie-root-port,id=rp$n,chassis=$((n + 1))"
		qemu_devices="$qemu_devices -device nvme-subsys,id=subsys$n,nqn=ntbl-sriov$n"
		qemu_devices="$qemu_devices -device nvme,id=nvme$n,serial=ntbl-sriov$n,subsys=subsys$n,bus=rp$n"
		qemu_devices="$qemu_devices,sriov_max_vfs=2,sriov_vq_flexible=8,sriov_vi_flexible=4"
		for ns in 1 2 3; do
			truncate -s 256M "$out/nvme$n-$ns.img"
			qemu_devices="$qemu_devices -drive file=$out/nvme$n-$ns.img,if=none,id=nvme$n-$ns,format=raw"
			qemu_devices="$qemu_devices -device nvme-ns,drive=nvme$n-$ns,bus=nvme$n,nsid=$ns,shared=off"
			[ "$ns" -eq 1 ] || qemu_devices="$qemu_devices,detached=on"
		done
		;;
	*)
		die "$name: unknown vm-devices entry '$d' (nvme, nvme-port, nvme-sriov, ahci, e1000e, edu, arena, ivshmem, ivshmem-peers)"
		;;
	esac
	n=$((n + 1))
done
[ -z "$ivshmem_groups" ] || start_ivshmem_server

# no5lvl: TCG's -cpu max has LA57, and with 5-level paging the KASAN kernel
# reports a wild access in an interrupt during CPU identification at boot.
# no_timer_check: on a loaded host TCG's timer can miss the kernel's
# IO-APIC timer check, which then panics ("timer doesn't work through
# Interrupt-remapped IO-APIC").
# tsc=reliable: on a loaded host the clocksource watchdog sees TCG's TSC
# skew against the HPET and marks it unstable; the kernel then patches
# sched_clock's static key while the other vCPU runs it, and TCG now and
# then executes the int3 of that patch after it is gone ("Oops: int3" in
# sched_clock_cpu, a panic in an interrupt).
cmdline="console=ttyS0,115200 intel_iommu=on no5lvl no_timer_check tsc=reliable panic=-1 ntbtest=$(basename "$script")"
cmdline="$cmdline sysctl.kernel.hung_task_timeout_secs=30 $(declared cmdline) $cmdline_extra"
# Before the time limit (a minute before, or a third of the way into a
# short one) the guest reports where the test waits.
deadline=$((timeout / 3))
[ "$timeout" -lt 180 ] || deadline=$((timeout - 60))
cmdline="$cmdline ntbtest.deadline=$deadline"
# A guest too stuck for that (every CPU spinning with interrupts off) is
# sent an NMI ten seconds before the limit: it panics, printing every
# CPU's backtrace and the blocked tasks (see nmi_later()).
cmdline="$cmdline unknown_nmi_panic panic_print=0xc0"
if [ $# -gt 0 ]; then
	# Arguments for the script travel on the kernel command line.
	cmdline="$cmdline ntbtest.args=$(echo "$*" | tr ' ' ,)"
fi

# Kernel reports that fail any run, whatever the test said.
BAD_KERNEL_LOG='Oops|BUG:|WARNING:|kernel BUG|general protection fault|Kernel panic|KASAN|UBSAN|'\
'possible (circular|recursive) locking|inconsistent lock state|DEBUG_LOCKS_WARN_ON|'\
'rcu: INFO: .*detected stalls|self-detected stall|soft lockup|hard LOCKUP|'\
'blocked for more than|suspected memory leak|unreferenced object'

qemu_declared=$(declared qemu)
iommu_opts=$(declared iommu)

# Ten seconds before the time limit of a run of a minute or more, an NMI
# through QEMU's monitor (a pipe: $out/monitor.in and .out); stopped when
# the guest ends first.
nmi_later() {
	[ "$timeout" -ge 60 ] || return 0
	(
		trap 'kill "$nap" 2>/dev/null; exit 0' TERM
		sleep $((timeout - 10)) &
		nap=$!
		wait "$nap"
		echo nmi >"$out/monitor.in"
		# Alive until killed, so that no other process takes its PID.
		sleep 60 &
		nap=$!
		wait "$nap"
	) &
	nmi_pid=$!
}

# Boot the guest and run the test; sets rc to QEMU's exit status.
boot() {
	rc=0 nmi_pid=
	rm -f "$out/monitor.in" "$out/monitor.out"
	mkfifo "$out/monitor.in" "$out/monitor.out"
	nmi_later
	# shellcheck disable=SC2086 # device and extra arguments are word lists
	timeout -k 10 "$timeout" qemu-system-x86_64 \
		-accel tcg,thread=multi -cpu max -smp 2 -m "${mem:-2G}" \
		-M q35,kernel-irqchip=split -device "intel-iommu,${iommu_opts:-intremap=on,caching-mode=on}" \
		-kernel "$KIMAGE" -initrd "$out/initramfs.cpio" -append "$cmdline" \
		-display none -monitor "pipe:$out/monitor" -no-reboot \
		-serial "file:$out/console.log" -serial "file:$out/ktap.log" \
		-serial "file:$out/dmesg.log" \
		$qemu_devices $qemu_declared $qemu_extra </dev/null >"$out/qemu.log" 2>&1 &
	# Waited for in the background, so that a signal's trap runs at once.
	qemu_timeout_pid=$!
	wait "$qemu_timeout_pid" || rc=$?
	qemu_timeout_pid=
	[ -z "$nmi_pid" ] || kill "$nmi_pid" 2>/dev/null || true
	nmi_pid=
	rm -f "$out/monitor.in" "$out/monitor.out"
}

start=$(date +%s)
boot
# A kernel that dies before /init starts the test (seen on a loaded host:
# an int3 oops from code patching under multi-threaded TCG) says nothing
# of the test or our modules, which are not loaded yet: boot once more.
if ! grep -q '^# vm-start' "$out/ktap.log"; then
	mv "$out/console.log" "$out/console.first-boot.log"
	echo "# vm: $name: guest died before the test started, booting again:" \
		"$(tr -d '\r' <"$out/console.first-boot.log" | grep -m1 -E "$BAD_KERNEL_LOG" ||
			echo "no kernel report (exit $rc)")"
	boot
fi

# True if the run's first kernel report is the emulator's: a single-step
# trap ("WARNING: ... exc_debug_kernel") or a double fault, with a
# register dump whose RFLAGS has a bit no x86 CPU sets (22 and up).
# Multi-threaded TCG (QEMU 7.2) now and then computes RFLAGS from stale
# lazy flags (every case seen: right after SLUB's cmpxchg16b in
# kmem_cache_alloc_node(), RFLAGS holding RAX's low bits); a trap flag
# among the garbage fires in the kernel, and the garbage can take the
# guest down (a double fault in whatever it interrupted, with or without
# the trap first), so nothing after that first report says anything of
# the test.
emulator_flags_fault() {
	cat "$out/console.log" "$out/dmesg.log" 2>/dev/null | tr -d '\r' |
		grep -m1 -E "$BAD_KERNEL_LOG" |
		grep -qE 'WARNING: .* exc_debug_kernel|Oops: double fault' ||
		return 1
	for flags in $(tr -d '\r' <"$out/console.log" |
		       sed -n 's/.*EFLAGS: \([0-9a-f]\{1,16\}\).*/\1/p'); do
		[ $((0x$flags >> 22)) -eq 0 ] || return 0
	done
	return 1
}

# Such a run says nothing of the test, or of our code: run it once more,
# keeping the first run's logs as *.emulator-fault.log. A second fault
# fails the run. The rerun has the whole time limit again, and reuses the
# disk images (the tests write what they read back).
if emulator_flags_fault; then
	for log in console dmesg ktap; do
		mv "$out/$log.log" "$out/$log.emulator-fault.log"
	done
	echo "# vm: $name: the emulator set RFLAGS bits no CPU has" \
		"(see $out/console.emulator-fault.log), running again"
	boot
fi

# True if the guest's timers stopped while a CPU idled: the run ran into
# our NMI (nmi_later()) with the guest's uptime past the time its watchdog
# was due (vm_init.sh), yet neither that report nor any kernel detector
# (hung task, RCU stall, soft lockup: all timer driven) said a word, and
# a CPU the NMI caught was halted in the idle loop, interrupts on. A guest
# deadlocked with a CPU spinning leaves that CPU's detectors on the other
# one; a test merely stuck gets its report. Seen under multi-threaded TCG
# (QEMU 7.2) on the debug kernel: a task waited 460 s in synchronize_rcu()
# with both detectors silent, until the NMI woke an idle CPU.
emulator_timer_lost() {
	tr -d '\r' <"$out/console.log" >"$out/console.txt"
	test_up=$(sed -n 's/^# vm-start \([0-9.]*\).*/\1/p' "$out/ktap.log" | tr -d '\r')
	panic_up=$(sed -n 's/^\[ *\([0-9.]*\)\] Kernel panic - not syncing: NMI: Not continuing.*/\1/p' \
		"$out/console.txt" | head -n 1)
	[ -n "$test_up" ] && [ -n "$panic_up" ] &&
		! grep -q '^# vm: .* still runs after' "$out/ktap.log" &&
		awk -v s="$test_up" -v d="$deadline" -v p="$panic_up" 'BEGIN { exit !(p > s + d + 5) }' &&
		! grep -E "$BAD_KERNEL_LOG" "$out/console.txt" | grep -qv 'Kernel panic - not syncing: NMI' &&
		sed -n '/Kernel panic - not syncing: NMI/,$p' "$out/console.txt" |
		grep -qE 'RIP: 0010:(pv_native_safe_halt|native_safe_halt|default_idle)\+'
}

# Such a run says nothing of the test either: once more, keeping the
# first run's logs as *.emulator-timer.log. A second one fails the run.
if emulator_timer_lost; then
	for log in console dmesg ktap; do
		mv "$out/$log.log" "$out/$log.emulator-timer.log"
	done
	echo "# vm: $name: the guest's timers stopped while a CPU idled" \
		"(see $out/console.emulator-timer.log), running again"
	boot
fi
rm -f "$out/console.txt"
elapsed=$(($(date +%s) - start))

[ "${VM_KEEP:-0}" = 1 ] || rm -f "$out/initramfs.cpio" "$out"/nvme*.img "$out"/ahci*.img

sed '/^# vm-\(start\|exit\)/d' "$out/ktap.log"

verdict=0
fail() {
	echo "# vm: $name: $*"
	verdict=1
}

if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
	fail "guest did not finish within ${timeout}s (console: $out/console.log)"
elif [ "$rc" -ne 0 ]; then
	fail "qemu exited with $rc: $(tail -n 3 "$out/qemu.log" | tr '\n' ' ')"
fi
status=$(sed -n 's/^# vm-exit: \([0-9]*\).*/\1/p' "$out/ktap.log" | tr -d '\r')
if [ -z "$status" ]; then
	[ "$verdict" -ne 0 ] || fail "guest stopped before the test finished"
	# The guest's report of where its tasks waited (vm_init.sh), if any.
	tr -d '\r' <"$out/console.log" | grep '^# vm: \(task\|  \)' || true
elif [ "$status" -ne 0 ]; then
	fail "test exited with $status"
fi

bad=$(cat "$out/console.log" "$out/dmesg.log" | tr -d '\r' | grep -E "$BAD_KERNEL_LOG" | sort -u | head -n 5)
if [ -n "$bad" ]; then
	fail "guest kernel log reports a problem (see $out/console.log):"
	echo "$bad" | sed 's/^/#   /'
fi

if [ "$verdict" -eq 0 ]; then
	echo "# vm: $name: passed in ${elapsed}s, guest kernel log clean"
fi
exit "$verdict"
