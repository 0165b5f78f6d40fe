#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Bad input, table-driven, against the real module (issue 11): host A
# lends its nvme to B, which borrows it; A has a second lend entry, its
# NIC, in local use; B offers its own NIC to A (A sees offer 10000
# available). Then hundreds of bad writes, mkdirs, rmdirs, symlinks and
# smartio_tool command lines are tried on every kind of object: adapter
# directories, connections/, lends/ and their attributes, offers/,
# borrows/, the module's parameters. Each case asserts its errno (or the
# tool's exit code), the one kernel line (or tool line) that says what to
# fix, and that nothing changed: the configfs tree with its values, the
# PCI devices and their drivers, the module's parameters. A case that
# fails prints its row. A row flagged "known" holds the right answer
# where the module's is still wrong: it is listed and counted, and fails
# nothing, until the module is fixed (none is flagged now).
# vm-devices: nvme e1000e e1000e edu edu
# vm-timeout: 1800
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
PARAMS=/sys/module/ntb_lending/parameters

ktap_print_header
ktap_set_plan 13

NVME=$(pci_find 0x010802)
NIC1=$(pci_find_all 0x020000 | sed -n 1p)
NIC2=$(pci_find_all 0x020000 | sed -n 2p)
HOSTBRIDGE=$(pci_find 0x060000)
ISABRIDGE=$(pci_find 0x060100)

# A lends its nvme to B, which borrows it (VBDF in the tree); A has a
# local entry for NIC1; B lends NIC2 to A, available.
set_up() {
	nvme_lend_entry && echo 1 >"$L/available" && borrow_nvme_offer &&
		mkdir "$CFS/$A/lends/$NIC1" "$CFS/$B/connections/0" \
			"$CFS/$B/lends/$NIC2" &&
		echo 1 >"$CFS/$B/lends/$NIC2/available" &&
		wait_for 40 offered "$A" 10000 &&
		[ "$(cat "$CFS/$A/lends/$NIC1/state")" = local ] || return 1
	# Let the borrowed drive's probe and partition scan finish logging.
	sleep 2
	echo "# A $A lends $NVME (borrowed by B as $VBDF) and $NIC1 (local); B $B offers $NIC2"
}
if ! ktap_test_result "a_lends_and_b_borrows_the_nvme_b_offers_a_nic" set_up; then
	ktap_exit_fail_msg "no setup to try bad input on"
fi

# ---- The case engine ----

CASES=0 EXPECTED=0 KNOWN=0 FIXED=0 GROUP_FAILED=0 GROUP_CASES=0 N=0
# Cases by kind: writes, mkdirs, rmdirs, symlinks, other file operations
# (rm, create, mv), smartio_tool command lines.
KW=0 KM=0 KR=0 KL=0 KF=0 KT=0

# snapshot FILE: what no refused command may change: every directory,
# link and attribute of the tree with its value (but the config space,
# which cannot be read in local use, and replay_offers, which cannot be
# read), the module's parameters, the PCI functions and the driver of
# each. In few processes: a case costs about 0.2 s under TCG.
snapshot() {
	{
		find "$CFS" "$PARAMS" ! -name config ! -name replay_offers \
			-exec grep -H '' {} +
		ls -d /sys/bus/pci/devices/* /sys/bus/pci/drivers/*/[0-9]*
	} >"$1" 2>&1
}
BEFORE=/tmp/bi.snap1 AFTER=/tmp/bi.snap2
snapshot "$BEFORE"

# mark: the kernel log from here on is the case's.
mark() {
	N=$((N + 1))
	echo "bad_input case $N" >/dev/kmsg
}

# logged PATTERN: the kernel lines since mark into /tmp/bi.log, their
# number into LINES, and into SAYS whether one holds PATTERN.
logged() {
	dmesg | sed "1,/bad_input case $N\$/d" >/tmp/bi.log
	LINES=0 SAYS=
	while IFS= read -r line; do
		LINES=$((LINES + 1))
		case $line in
		*"$1"*) SAYS=1 ;;
		esac
	done </tmp/bi.log
}

# settled ROW FLAG WHY: count the case, with what the snapshot says; the
# snapshot after is the next case's before.
settled() {
	snapshot "$AFTER"
	why=$3
	cmp -s "$BEFORE" "$AFTER" || why="${why:+$why; }the state changed"
	verdict "$1" "$2" "$why"
	snap=$BEFORE BEFORE=$AFTER AFTER=$snap
}

# strerror of errno name $1, as mkdir, rmdir, ln and dd print it.
strerror() {
	case $1 in
	EINVAL) echo "Invalid argument" ;;
	ENOENT) echo "No such file or directory" ;;
	EPERM) echo "Operation not permitted" ;;
	EACCES) echo "Permission denied" ;;
	EEXIST) echo "File exists" ;;
	ENODEV) echo "No such device" ;;
	EBUSY) echo "Device or resource busy" ;;
	ENAMETOOLONG) echo "File name too long" ;;
	ENOTDIR) echo "Not a directory" ;;
	EISDIR) echo "Is a directory" ;;
	E2BIG) echo "Argument list too long" ;;
	*) echo "$1" ;;
	esac
}

# value SPEC: the bytes of a value or name to /tmp/bi.val: SPEC in
# printf %b's escapes (\n, \040 for a blank, \0 for NUL), or @N:C, N
# times the character C.
value() {
	case $1 in
	@*)
		n=${1#@} c=${n#*:}
		head -c "${n%%:*}" /dev/zero | tr '\0' "$c" >/tmp/bi.val
		;;
	*) printf '%b' "$1" >/tmp/bi.val ;;
	esac
}

# name SPEC: the name that SPEC spells, which may end in a newline.
name() {
	value "$1"
	NAME=$(cat /tmp/bi.val && echo x)
	NAME=${NAME%x}
}

# verdict ROW FLAG WHY: count the case; WHY is empty if it went as it must.
verdict() {
	CASES=$((CASES + 1)) GROUP_CASES=$((GROUP_CASES + 1))
	case $1 in
	write*) KW=$((KW + 1)) ;;
	mkdir*) KM=$((KM + 1)) ;;
	rmdir*) KR=$((KR + 1)) ;;
	ln*) KL=$((KL + 1)) ;;
	smartio_tool*) KT=$((KT + 1)) ;;
	*) KF=$((KF + 1)) ;;
	esac
	if [ -z "$3" ]; then
		EXPECTED=$((EXPECTED + 1))
		[ "$2" != known ] || {
			FIXED=$((FIXED + 1))
			ktap_print_msg "known-wrong row now right, drop its flag: $1"
		}
		return 0
	fi
	if [ "$2" = known ]; then
		KNOWN=$((KNOWN + 1))
		ktap_print_msg "known wrong: $1: $3"
	else
		GROUP_FAILED=$((GROUP_FAILED + 1))
		ktap_print_msg "FAIL $1: $3"
	fi
	sed 's/^/#   stderr: /' /tmp/bi.err
	sed 's/^/#   log: /' /tmp/bi.log
	diff "$BEFORE" "$AFTER" | sed -n '/^[<>]/s/^/#   changed: /p'
}

# judge ROW FLAG GOT WANT PATTERN: the case answered GOT where WANT (an
# errno name) is right, with one kernel line holding PATTERN ("*": any
# one line, "-": no line, for what configfs or the VFS refuse before the
# module is asked), and nothing changed.
judge() {
	logged "$5"
	want=$(strerror "$4")
	why=
	[ "$3" = "$want" ] || why="got '$3', want '$want'"
	case $5 in
	-) [ "$LINES" -eq 0 ] || why="${why:+$why; }$LINES kernel lines, want none" ;;
	*)
		if [ "$LINES" -ne 1 ]; then
			why="${why:+$why; }$LINES kernel lines, want one"
		elif [ "$5" != "*" ] && [ -z "$SAYS" ]; then
			why="${why:+$why; }the kernel line does not say '$5'"
		fi
		;;
	esac
	settled "$1" "$2" "$why"
}

# err STATUS: into GOT, ok if STATUS is 0, else the errno text of the
# command whose stderr is /tmp/bi.err: after the last ": " of its last line.
err() {
	GOT=ok
	[ "$1" -ne 0 ] || return 0
	while IFS= read -r line; do
		GOT=${line##*: }
	done </tmp/bi.err
}

# w FLAG FILE VALUE ERRNO PATTERN: write VALUE (see value) to FILE, in
# one write(2) as echo does.
w() {
	value "$3"
	mark
	LC_ALL=C dd if=/tmp/bi.val of="$2" bs=65536 conv=notrunc status=none 2>/tmp/bi.err
	err $?
	judge "write '$3' to ${2#"$CFS"/}" "$1" "$GOT" "$4" "$5"
}

# m FLAG DIR NAME ERRNO PATTERN: mkdir DIR/NAME (NAME: see value; %N in
# PATTERN stands for it); one made by mistake is removed again, after the
# snapshot told.
m() {
	name "$3"
	p=$5
	case $p in
	*%N*) p="${p%%%N*}$NAME${p#*%N}" ;;
	esac
	mark
	mkdir "$2/$NAME" 2>/tmp/bi.err
	err $?
	judge "mkdir ${2#"$CFS"/}/$3" "$1" "$GOT" "$4" "$p"
	[ ! -d "$2/$NAME" ] || [ "$4" = EEXIST ] || rmdir "$2/$NAME"
}

# r FLAG DIR ERRNO PATTERN: rmdir DIR.
r() {
	mark
	rmdir "$2" 2>/tmp/bi.err
	err $?
	judge "rmdir ${2#"$CFS"/}" "$1" "$GOT" "$3" "$4"
}

# l FLAG TARGET LINK ERRNO PATTERN: ln -s TARGET LINK; one made is removed.
l() {
	mark
	ln -s "$2" "$3" 2>/tmp/bi.err
	err $?
	judge "ln -s ${2#"$CFS"/} ${3#"$CFS"/}" "$1" "$GOT" "$4" "$5"
	[ ! -L "$3" ] || rm "$3"
}

# u FLAG FILE ERRNO PATTERN: rm FILE (an attribute).
u() {
	mark
	rm -f "$2" 2>/tmp/bi.err
	err $?
	judge "rm ${2#"$CFS"/}" "$1" "$GOT" "$3" "$4"
}

# c FLAG FILE ERRNO PATTERN: create FILE, as a redirection would.
c() {
	mark
	(: >"$2") 2>/tmp/bi.err
	err $?
	judge "create ${2#"$CFS"/}" "$1" "$GOT" "$3" "$4"
}

# n FLAG FROM TO ERRNO PATTERN: mv FROM TO.
n() {
	mark
	mv "$2" "$3" 2>/tmp/bi.err
	err $?
	judge "mv ${2#"$CFS"/} ${3#"$CFS"/}" "$1" "$GOT" "$4" "$5"
}

# t FLAG CODE KLINES PATTERN ARG...: smartio_tool ARG... exits CODE,
# prints nothing on stdout and one line on stderr, "smartio_tool: " and
# then text holding PATTERN; the kernel logs KLINES lines (1 where the tool
# passes on its refusal), and nothing changes.
t() {
	flag=$1 code=$2 klines=$3 pattern=$4
	shift 4
	mark
	status=0
	smartio_tool "$@" >/tmp/bi.out 2>/tmp/bi.err || status=$?
	logged -
	why=
	[ "$status" -eq "$code" ] || why="exit $status, want $code"
	[ ! -s /tmp/bi.out ] || why="${why:+$why; }prints on stdout"
	said=0 says=
	while IFS= read -r line; do
		said=$((said + 1))
		case $line in
		"smartio_tool: "*"$pattern"*) says=1 ;;
		esac
	done </tmp/bi.err
	if [ "$said" -ne 1 ]; then
		why="${why:+$why; }$said lines on stderr, want one"
	elif [ -z "$says" ]; then
		why="${why:+$why; }stderr does not say '$pattern'"
	fi
	[ "$LINES" -eq "$klines" ] || why="${why:+$why; }$LINES kernel lines, want $klines"
	settled "smartio_tool $*" "$flag" "$why"
}

# group NAME: end a group of cases with its KTAP result.
group() {
	ktap_print_msg "$1: $GROUP_CASES cases"
	GROUP_CASES=0
	if [ "$GROUP_FAILED" -eq 0 ]; then
		ktap_test_pass "$1"
	else
		ktap_test_fail "$1: $GROUP_FAILED cases"
	fi
	GROUP_FAILED=0
}

# ---- The table ----

# Values that are neither 0 nor 1, nor anything a number parser takes:
# empty (echo's newline), blanks, signs, other numbers, words, garbage
# before or after, several lines, NUL, too long.
BOOL_BAD='\n \040 \040\040\n 2 2\n -1 -1\n 10 01 00 +1 -0 0x1 0x0 1.0 1a a1
true yes on y n off one \0401 \0401\n 1\040 1\040\n \t1\n 1\t 1\n\n 1\n1
1\r\n 1\n0 99999999999999999999 0xffffffffffffffff -9223372036854775809
\0 \0\n \001 @4095:1 @5000:0 \303\251'

# lends/<BDF>/available of an entry in each state: A's nvme is borrowed,
# A's NIC local, B's NIC available.
for entry in "$A/lends/$NVME" "$A/lends/$NIC1" "$B/lends/$NIC2"; do
	bdf=${entry##*/}
	for v in $BOOL_BAD; do
		w "" "$CFS/$entry/available" "$v" EINVAL \
			"lends/$bdf/available: write 1 to offer the device, 0 to take it back"
	done
done
# A refused 0 of a borrowed device, and trailing garbage after a NUL,
# which sysfs_streq() does not see: taken as 0 or 1.
w "" "$CFS/$A/lends/$NVME/available" '0\n' EBUSY \
	"lends/$NVME: borrowed by node 1; it must return the device first"
w "" "$CFS/$A/lends/$NVME/available" '1\0x' EINVAL "lends/$NVME/available"
w "" "$CFS/$A/lends/$NVME/available" '0\0x' EINVAL "lends/$NVME/available"
w "" "$CFS/$B/lends/$NIC2/available" '1\0garbage\n' EINVAL "lends/$NIC2/available"
group "lends_available_bad_values"

# replay_offers: only 1 is taken.
for h in "$A" "$B"; do
	for v in 0 '0\n' $BOOL_BAD; do
		w "" "$CFS/$h/replay_offers" "$v" EINVAL \
			"$h/replay_offers: write 1 to have the offer uevent of every offer sent again"
	done
	w "" "$CFS/$h/replay_offers" '1\0x' EINVAL "$h/replay_offers"
done
group "replay_offers_bad_values"

# Read-only attributes of each kind of object: configfs refuses the open
# for writing (EACCES) before the module is asked.
for f in "$A/node_id" "$A/peers" "$A/windows" "$A/doorbells" \
	"$B/node_id" "$B/peers" "$B/windows" "$B/doorbells" \
	"$B/borrows/00000/state" "$B/borrows/00000/local_bdf"; do
	w "" "$CFS/$f" '1\n' EACCES -
done
for entry in "$A/lends/$NVME" "$A/lends/$NIC1" "$B/lends/$NIC2"; do
	for a in state id borrower vendor device class iommu config; do
		w "" "$CFS/$entry/$a" '1\n' EACCES -
	done
done
for offer in "$A/offers/10000" "$B/offers/00000"; do
	for a in lender bdf vendor device class state; do
		w "" "$CFS/$offer/$a" 'available\n' EACCES -
	done
done
for d in "$CFS/$A" "$CFS/$A/lends" "$CFS/$A/lends/$NVME" "$CFS/$B/borrows/00000"; do
	w "" "$d" '1\n' EISDIR -
done
group "read_only_attributes_and_directories"

# connections/<NodeId>: names that are not a NodeId without leading
# zeros or sign, and NodeIds of no peer (the host's own among them).
for nm in -1 +1 01 00 -0 007 '1\040' '\040' 1x x 0x1 1.0 1e3 1,0 \
	65536 99999 2147483648 4294967297 -2147483649 @255:1 ff; do
	m "" "$CFS/$A/connections" "$nm" EINVAL \
		"$A: connections/%N: the name must be a NodeId, a decimal number without leading zeros"
done
# Unprintable names are refused before they are parsed, named escaped.
m "" "$CFS/$A/connections" '\t1' EINVAL "$A: connections/\\t1: a name of printable characters only"
m "" "$CFS/$A/connections" '\001' EINVAL "$A: connections/\\001: a name of printable characters only"
for nm in 0 2 3 255 65535; do
	m "" "$CFS/$A/connections" "$nm" EINVAL "$A: connections/$nm: node $nm is not a peer on this fabric"
done
for nm in 1 2 65535; do
	m "" "$CFS/$B/connections" "$nm" EINVAL "$B: connections/$nm: node $nm is not a peer on this fabric"
done
for nm in 00 +0 x; do
	m "" "$CFS/$B/connections" "$nm" EINVAL \
		"$B: connections/%N: the name must be a NodeId, a decimal number without leading zeros"
done
# A name that ends in a newline is refused, in one line: the name is
# printed escaped.
m "" "$CFS/$A/connections" '1\n' EINVAL "$A: connections/1\\n: a name of printable characters only"
# The VFS answers these: a connection that exists, a name too long.
m "" "$CFS/$A/connections" 1 EEXIST -
m "" "$CFS/$B/connections" 0 EEXIST -
m "" "$CFS/$A/connections" @256:1 ENAMETOOLONG -
group "connections_bad_names"

# lends/<BDF>: not lspci -D's spelling (EINVAL), no such function
# (ENODEV), not lendable (EPERM), lent already (EEXIST).
for nm in 00:03.0 0:0:3.0 0000:00:03.0x 0000:00:03:0 0000:00:03.8 \
	0000:00:20.0 0000:100:00.0 0000:00:0G.0 0000:00:1F.0 \
	'\0400000:00:03.0' '0000:00:03.0\040' 0x000:00:03.0 00000:00:03.0 \
	100000000:00:00.0 -000:00:03.0 +000:00:03.0 0000:00:03 0000:00 0000 \
	nvme0 x 0000:00:03.0.0 0000::03.0 0000:0:03.0 0000:00:3.0 \
	0000:00:03.-1 0000:00:1f.07 0000:00:1f.f @255:0; do
	m "" "$CFS/$A/lends" "$nm" EINVAL \
		"$A: lends/%N: name the device as lspci -D does, e.g. 0000:03:00.0"
done
for nm in 0000:00:1d.7 0000:ff:1f.7 0001:00:00.0 ffff:00:00.0 10001:00:00.0 \
	0000:00:00.7 ffffffff:ff:1f.7; do
	m "" "$CFS/$A/lends" "$nm" ENODEV "$A: lends/$nm: no such PCI device"
done
for h in "$A" "$B"; do
	for nm in $HOSTBRIDGE $ISABRIDGE; do
		m "" "$CFS/$h/lends" "$nm" EPERM "$h: lends/$nm: a bridge cannot be lent"
	done
	for nm in "$A" "$B"; do
		m "" "$CFS/$h/lends" "$nm" EPERM \
			"$h: lends/$nm: this is an NTB adapter of the fabric; it cannot be lent"
	done
	m "" "$CFS/$h/lends" "$VBDF" EPERM \
		"$h: lends/$VBDF: devices on virtual buses (domains above ffff, such as borrowed ones) cannot be lent"
done
m "" "$CFS/$B/lends" "$NVME" EEXIST "$B: lends/$NVME: the device already has a lend entry"
m "" "$CFS/$B/lends" "$NIC1" EEXIST "$B: lends/$NIC1: the device already has a lend entry"
m "" "$CFS/$A/lends" "$NIC2" EEXIST "$A: lends/$NIC2: the device already has a lend entry"
m "" "$CFS/$A/lends" "$NIC2\\n" EINVAL "$A: lends/$NIC2\\n: a name of printable characters only"
m "" "$CFS/$A/lends" "$NVME" EEXIST -
m "" "$CFS/$A/lends" @256:0 ENAMETOOLONG -
group "lends_bad_names"

# borrows/<Id>: not a hex Id (EINVAL), nothing offers it (ENOENT).
for nm in zz -1 g0000 '10000\040' 10000x 1.0 100000000 fffffffff \
	@255:f 0x + x10000 1_0000 -0 0x-1; do
	m "" "$CFS/$B/borrows" "$nm" EINVAL "borrows/%N: name it after an Id in offers/"
done
m "" "$CFS/$B/borrows" '\t10000' EINVAL "$B: borrows/\\t10000: a name of printable characters only"
m "" "$CFS/$B/borrows" '\001' EINVAL "$B: borrows/\\001: a name of printable characters only"
for nm in 00001 00002 20000 ffff0000 10000 fffff ffffffff; do
	m "" "$CFS/$B/borrows" "$nm" ENOENT "borrows/$nm: no such offer; see offers/"
done
for nm in 00000 00001 ffffffff 20000; do
	m "" "$CFS/$A/borrows" "$nm" ENOENT "borrows/$nm: no such offer; see offers/"
done
# Names the Id parser takes that are not how offers/ spells the Id: a
# borrow would get a second name.
for nm in 0 000000 0x00000 0X0 +00000 +0 0x20000 020000 +20000 ABCDE; do
	m "" "$CFS/$B/borrows" "$nm" EINVAL "borrows/%N: name it after an Id in offers/"
done
m "" "$CFS/$B/borrows" '00000\n' EINVAL "$B: borrows/00000\\n: a name of printable characters only"
m "" "$CFS/$B/borrows" 00000 EEXIST -
m "" "$CFS/$B/borrows" @256:0 ENAMETOOLONG -
group "borrows_bad_names"

# The module's parameters (sysfs): vectors_per_borrow takes 1 to 15.
for v in '\n' 0 '0\n' 16 '16\n' -1 '-1\n' 4x x '\0404' '4\040' 99999999999 \
	4294967296 4294967300 0x10 0x 08 +-4 1.5 '4\n\n' four '\0' @4000:9 '\t4'; do
	w "" "$PARAMS/vectors_per_borrow" "$v" EINVAL "vectors_per_borrow: give 1 to 15"
done
# sysfs passes on the first 4095 bytes of a longer write.
w "" "$PARAMS/vectors_per_borrow" @5000:4 EINVAL "vectors_per_borrow: give 1 to 15"
# Not a row: sysfs hands a parameter its value up to a NUL ("4\0x" is 4),
# as for every module's parameters; the module never sees the rest.
# The allow_unsafe_ ones take 0 or 1 (or what they read as, N or Y).
for v in '\n' 2 x -1 '\0' maybe o ox '\0401' '\t1' '+1' nope 'no\040way' \
	'off!' 0x 00 '0\n\n' nyet; do
	w "" "$PARAMS/allow_unsafe_interrupts" "$v" EINVAL "allow_unsafe_interrupts: give 0 or 1"
done
for p in allow_unsafe_noiommu allow_unsafe_neighbours allow_unsafe_doorbells; do
	for v in 2 yes '\t1' nope '0\n\n'; do
		w "" "$PARAMS/$p" "$v" EINVAL "$p: give 0 or 1"
	done
done
group "module_parameters_bad_values"

# Groups the operator cannot make anything in: configfs refuses (EPERM)
# before the module is asked, as for any configfs group without
# make_group, so the errno is the whole answer.
for d in "$CFS" "$CFS/$A" "$CFS/$A/offers" "$CFS/$A/offers/10000" \
	"$CFS/$A/lends/$NVME" "$CFS/$A/connections/1" "$CFS/$B/borrows/00000" \
	"$CFS/$B/offers/00000" "$CFS/$B/offers"; do
	m "" "$d" x EPERM -
done
m "" "$CFS/$A/offers" 10000x EPERM -
# Groups the kernel made, and what is not there: configfs and the VFS
# answer.
for d in "$CFS" "$CFS/$A" "$CFS/$B" "$CFS/$A/connections" "$CFS/$A/lends" \
	"$CFS/$A/offers" "$CFS/$A/borrows" "$CFS/$B/connections" \
	"$CFS/$B/lends" "$CFS/$B/offers" "$CFS/$B/borrows" \
	"$CFS/$A/offers/10000" "$CFS/$B/offers/00000"; do
	r "" "$d" EPERM -
done
for d in "$CFS/$A/connections/7" "$CFS/$A/lends/0000:00:1d.7" \
	"$CFS/$B/borrows/10000" "$CFS/$B/borrows/zz" "$CFS/$A/lends/$NIC2" \
	"$CFS/$A/offers/00000"; do
	r "" "$d" ENOENT -
done
r "" "$CFS/$A/lends/$NVME/state" ENOTDIR -
r "" "$CFS/$A/node_id" ENOTDIR -
group "mkdir_and_rmdir_where_configfs_refuses"

# Symlinks: no item of ntb_lending takes one; configfs refuses (EPERM)
# before the module is asked.
for pair in "$CFS/$A/lends/$NVME $CFS/$A/connections/2" \
	"$CFS/$B/lends/$NIC2 $CFS/$A/lends/$NIC2" \
	"$CFS/$A/offers/10000 $CFS/$A/borrows/10000" \
	"$CFS/$B/offers/00000 $CFS/$B/offers/00001" \
	"$CFS/$A/connections/1 $CFS/$A/link" "$CFS/$A $CFS/link" \
	"$CFS/$B/connections/0 $CFS/$A/connections/1/link" \
	"$CFS/$A/connections/1 $CFS/$A/lends/$NVME/link" \
	"$CFS/$A/lends/$NVME $CFS/$B/borrows/00000/link" \
	"$CFS/$A/lends/$NIC1 $CFS/$A/offers/10000/link" \
	"/tmp $CFS/$A/connections/3" "/sys/bus/pci/devices/$NIC1 $CFS/$A/lends/$NIC1" \
	"$CFS/$B/offers/00000 $CFS/$B/borrows/00001"; do
	# shellcheck disable=SC2086 # a target and a link name
	l "" $pair EPERM -
done
group "symlinks"

# Files the operator cannot remove, make or rename.
for f in "$CFS/$A/node_id" "$CFS/$A/replay_offers" "$CFS/$A/lends/$NVME/available" \
	"$CFS/$B/borrows/00000/state" "$CFS/$A/offers/10000/state"; do
	u "" "$f" EPERM -
done
for f in "$CFS/$A/new" "$CFS/$A/lends/0000:00:1d.7" "$CFS/$A/lends/$NVME/new" \
	"$CFS/$B/borrows/10000" "$CFS/$A/connections/2"; do
	c "" "$f" EACCES -
done
n "" "$CFS/$A/connections/1" "$CFS/$A/connections/2" EPERM -
n "" "$CFS/$B/borrows/00000" "$CFS/$B/borrows/00001" EPERM -
n "" "$CFS/$A/lends/$NIC1" "$CFS/$A/lends/0000:00:1d.7" EPERM -
n "" "$CFS/$A/lends/$NVME/available" "$CFS/$A/lends/$NVME/avail" EPERM -
group "unlink_create_and_rename"

# smartio_tool: bad command lines (exit 2) and refusals of its own
# (3 missing, 4 busy, 5 not permitted), one line each; where the kernel
# refuses what it asked, the kernel's line too.
t "" 2 0 "unknown command 'frobnicate'" frobnicate
t "" 2 0 "several NTB adapters" list
t "" 2 0 "unknown command 'bogus': smartio_tool help lists the commands" help bogus
t "" 2 0 "--adapter needs an adapter name" list --adapter
t "" 2 0 "--adapter needs an adapter name" --adapter= list
t "" 2 0 "'../x' is not an adapter name" --adapter ../x list
t "" 3 0 "no NTB adapter nosuch; the adapters are:" --adapter nosuch list
t "" 2 0 "connect needs a NodeId" --adapter "$A" connect
for nd in x1 1x '' 1.0 ' 1' 0x1; do
	t "" 2 0 "'$nd' is not a NodeId: use a decimal number, e.g. 1" --adapter "$A" connect "$nd"
done
t "" 2 0 "unknown option '-1'" --adapter "$A" connect -1
t "" 2 0 "'1234567890' is not a NodeId: too large" --adapter "$A" connect 1234567890
t "" 2 0 "0 is this host's own NodeId on $A" --adapter "$A" connect 0
t "" 2 0 "0 is this host's own NodeId on $A" --adapter "$A" connect 000
t "" 2 0 "1 is this host's own NodeId on $B" --adapter "$B" connect 1
t "" 3 1 "cannot connect node 5: there is no node 5 on the fabric of $A (Invalid argument)" \
	--adapter "$A" connect 5
t "" 3 1 "cannot connect node 65536: there is no node 65536 on the fabric of $A" \
	--adapter "$A" connect 65536
t "" 2 0 "too many arguments: '3'" --adapter "$A" connect 1 2 3
t "" 2 0 "'7' is no adapter of this host" --adapter "$A" connect 1 7
t "" 2 0 "'0' is no adapter of this host" --adapter "$A" connect 1 0
t "" 2 0 "connect names adapter $B after the NodeId and $A with --adapter or SMARTIO_ADAPTER: choose one" \
	--adapter "$A" connect 1 "$B"
t "" 2 0 "--force: connect has nothing to force" --adapter "$A" connect --force 1
t "" 2 0 "--json: connect prints no data" --adapter "$A" connect --json 1
t "" 3 0 "node 5 is not connected on $A" --adapter "$A" disconnect 5
t "" 4 0 "cannot disconnect node 1: it borrows $NVME; have it returned first, or add --force" \
	--adapter "$A" disconnect 1
t "" 2 0 "'x' is not a NodeId" --adapter "$A" disconnect x
t "" 2 0 "too many arguments: '3'" --adapter "$A" disconnect 1 2 3
t "" 2 0 "add needs a BDF" --adapter "$A" add
for b in zz 00:20.0 00:03.8 123456789:00:00.0 0000:00:03:0:0 \
	00:0g.0 :00:03.0 00:03.0: 00::03.0 100:00.0 00:003.0 00:03.10; do
	t "" 2 0 "'$b' is not a PCI address: use [domain:]bus:dev.fn as lspci -D prints it" \
		--adapter "$A" add "$b"
done
t "" 3 1 "cannot add 0000:00:1d.7: this host has no PCI function 0000:00:1d.7; lspci -D lists them (No such device)" \
	--adapter "$A" add 00:1d.7
t "" 5 1 "cannot add $HOSTBRIDGE: bridges, NTB adapters and borrowed devices cannot be lent (Operation not permitted)" \
	--adapter "$A" add "$HOSTBRIDGE"
t "" 5 1 "cannot add $A: bridges, NTB adapters and borrowed devices cannot be lent (Operation not permitted)" \
	--adapter "$A" add "$A"
t "" 5 1 "cannot add $VBDF: bridges, NTB adapters and borrowed devices cannot be lent (Operation not permitted)" \
	--adapter "$A" add "$VBDF"
t "" 4 1 "cannot add $NVME: it has a lend entry on another adapter; remove it there first (File exists)" \
	--adapter "$B" add "$NVME"
t "" 2 0 "--force: add has nothing to force" --adapter "$A" add --force "$NIC1"
t "" 2 0 "too many arguments: '$NIC2'" --adapter "$A" add "$NIC1" "$NIC2"
t "" 2 0 "'zz' is not a PCI address" --adapter "$A" available zz
t "" 3 0 "0000:00:1d.7 has no lend entry on $A: smartio_tool add 0000:00:1d.7 first" \
	--adapter "$A" available 00:1d.7
t "" 3 0 "$VBDF has no lend entry on $A" --adapter "$A" available "$VBDF"
t "" 2 0 "--json: available prints no data" --adapter "$A" available --json "$NIC1"
t "" 4 0 "cannot withdraw $NVME: " --adapter "$A" unavailable "$NVME"
t "" 3 0 "0000:00:1d.7 has no lend entry on $A" --adapter "$A" unavailable 00:1d.7
t "" 2 0 "--json: unavailable prints no data" --adapter "$A" unavailable --json "$NVME"
t "" 4 0 "cannot remove $NVME: " --adapter "$A" remove "$NVME"
t "" 3 0 "0000:00:1d.7 has no lend entry on $A" --adapter "$A" remove 00:1d.7
t "" 2 0 "'zz' is not a PCI address" --adapter "$A" remove zz
for id in zz 123456789 0xg 0x g0000 -- 1.0 ' 1'; do
	[ "$id" != -- ] || id=-
	t "" 2 0 "'$id' is not a device Id: use the hex Id that smartio_tool list shows" \
		--adapter "$B" borrow "$id"
done
for pair in 7:00007 1:00001 00001:00001 10000:10000 0x20000:20000 0XFFFF0000:ffff0000; do
	t "" 3 0 "nothing offers ${pair#*:} to $B: smartio_tool list shows the offers" \
		--adapter "$B" borrow "${pair%:*}"
done
t "" 3 0 "nothing offers 00000 to $A" --adapter "$A" borrow 0
t "" 2 0 "--force: borrow has nothing to force" --adapter "$B" borrow 0 --force
t "" 3 0 "00007 is not borrowed by this host on $B" --adapter "$B" return 7
t "" 3 0 "10000 is not borrowed by this host on $A" --adapter "$A" return 10000
t "" 2 0 "'zz' is not a device Id" --adapter "$B" return zz
t "" 2 0 "return needs an Id" --adapter "$B" return
t "" 3 0 "no device 00007 on $B" --adapter "$B" show 7
t "" 2 0 "'zz' is not a device Id" --adapter "$B" show zz
t "" 2 0 "--force: show has nothing to force" --adapter "$B" show --force 0
t "" 5 0 "the lender never hands out 00000's own config space" --adapter "$B" lspci --raw 0
t "" 2 0 "--raw and --emulated: choose one" --adapter "$B" lspci --raw --emulated 0
t "" 2 0 "--json: lspci prints what lspci prints, as text" --adapter "$B" lspci --json 0
t "" 3 0 "no device 00007 on $B" --adapter "$B" lspci 7
t "" 4 0 "$NIC1 is with its local driver" --adapter "$A" lspci --emulated 1
t "" 3 0 "10000 is only offered to node 0: borrow it first" --adapter "$A" lspci 10000
t "" 2 0 "'bogus' is not a state" --adapter "$B" list --state bogus
t "" 2 0 "'x' is not a NodeId" --adapter "$B" list --node x
t "" 2 0 "'123' is not a PCI class" --adapter "$B" list --class 123
t "" 2 0 "'0x0g' is not a PCI class" --adapter "$B" list --class 0x0g
t "" 2 0 "--node given twice" --adapter "$B" list --node 1 --node 1
t "" 2 0 "--node: --local lists this host's functions; leave --node out" --adapter "$B" list --local --node 1
t "" 2 0 "unknown option '--bogus'" --adapter "$B" list --bogus
t "" 2 0 "list takes no argument" --adapter "$B" list extra
t "" 2 0 "--state needs a value" --adapter "$B" list --state
t "" 2 0 "--local: only list takes it" --adapter "$B" show --local 0
t "" 2 0 "--force: status has nothing to force" --adapter "$B" status --force
t "" 2 0 "--force: diag has nothing to force" --adapter "$B" diag --force
t "" 2 0 "--json: replay prints no data" --adapter "$B" replay --json
t "" 2 0 "replay takes no argument" --adapter "$B" replay x
group "smartio_tool_bad_command_lines"

ktap_print_msg "bad input: $CASES cases, $EXPECTED refused as expected, $KNOWN known wrong (issue 11), $FIXED known-wrong ones now right"
ktap_print_msg "by kind: $KW writes, $KM mkdirs, $KR rmdirs, $KL symlinks, $KF rm/create/mv, $KT smartio_tool command lines"
all_counted() {
	[ "$CASES" -ge 300 ] && [ $((EXPECTED + KNOWN)) -eq "$CASES" ]
}
ktap_test_result "at_least_300_cases_each_refused_as_expected_or_known_wrong" all_counted
ktap_finished
