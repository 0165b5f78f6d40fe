#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Allocation failures injected into every step of lending (debug kernel):
# failslab and fail_page_alloc fail only allocations with ntb_lending on
# the stack (require-start and require-end over its text), so the IOMMU's
# page tables, the PCI core's and the stock driver's allocations under a
# lend or a borrow fail too, and nothing else in the guest does.
#
# First systematically, in the task of the operator's command: for each
# step (mkdir of a connection and of a lend entry, lend, borrow, return,
# unlend), the command runs with its Nth such allocation failing
# (/proc/self/fail-nth), N = 1, 2, ... until one runs with fewer. Each
# command either refuses with -ENOMEM and leaves both hosts as they were,
# or goes ahead; either way the step undone or done again without
# injection works. A refused borrow has the borrower's line in the kernel
# log, which does not blame the lender for an allocation of its own. Then
# at random, in every task and work item: whole lend, borrow, read and
# return rounds with a share of those allocations failing, a refused
# borrow again -ENOMEM with its line; after each, with injection off,
# both hosts come back to where they were and the drive reads what was
# written before. The harness fails the run on any oops, KASAN, lockdep
# or kmemleak report.
# vm-devices: nvme edu edu
# vm-timeout: 1800
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
ROUNDS=${1:-10}
FAULTS="failslab fail_page_alloc"

ktap_print_header
if [ ! -d /sys/kernel/debug/failslab ] || [ ! -e /proc/self/fail-nth ]; then
	ktap_set_plan 1
	ktap_test_skip "fault_inject (no fault injection in this kernel; KERNEL=debug has it)"
	ktap_finished
fi
ktap_set_plan 10

NVME=$(pci_find 0x010802)
head -c 1048576 /dev/urandom >/tmp/pattern

# Injection on ntb_lending's stack only, nothing failing yet: no random
# failures (probability 0), fail-nth alone triggers them; each injected
# failure takes one off "times", which counts them. Eight frames reach
# from the allocator to ntb_lending's own allocations and those of the
# functions it calls, not those of the driver core, ACPI or the stock
# driver's probe far below it (see testing.rst).
DEPTH=8
faults_confined() {
	# shellcheck disable=SC2046 # two addresses, split on purpose
	set -- $(awk '$4 == "[ntb_lending]" && ($2 == "t" || $2 == "T") { print $1 }' \
		/proc/kallsyms | sort | sed -n '1p;$p')
	[ $# -eq 2 ] || return 1
	# The end is the last function's start: take in its body too.
	end=$(printf '0x%x' $((0x$2 + 0x1000)))
	for f in $FAULTS; do
		d=/sys/kernel/debug/$f
		echo "0x$1" >"$d/require-start" && echo "$end" >"$d/require-end" &&
			echo "$DEPTH" >"$d/stacktrace-depth" && echo N >"$d/ignore-gfp-wait" &&
			echo 0 >"$d/verbose" && echo 0 >"$d/probability" &&
			echo 1 >"$d/interval" && echo 100000 >"$d/times" || return 1
	done
	echo N >/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem || return 1
	# In 6.12 pci_create_root_bus() leaks its windows or puts its bridge
	# twice when device_add() fails in it (testing.rst): nothing below it.
	# shellcheck disable=SC2046 # two addresses, split on purpose
	set -- $(sort /proc/kallsyms | awk '$3 == "pci_create_root_bus" {
		print $1; getline; print $1; exit }')
	[ $# -eq 2 ] || return 1
	for f in $FAULTS; do
		echo "0x$1" >"/sys/kernel/debug/$f/reject-start" &&
			echo "0x$2" >"/sys/kernel/debug/$f/reject-end" || return 1
	done
}

# Failures injected so far.
injected() {
	echo $((2 * 100000 - $(cat /sys/kernel/debug/failslab/times) -
		$(cat /sys/kernel/debug/fail_page_alloc/times)))
}

# Random failures, $1 percent of the confined allocations, or none.
random_faults() {
	for f in $FAULTS; do
		echo "$1" >"/sys/kernel/debug/$f/probability" || return 1
	done
}

# Run "$@" with the Nth confined allocation of its task failing ($1 = N):
# the command is exec'd in the task whose fail-nth is set, or for a
# write ("write VALUE FILE") written by that task itself. Sets RC and ERR.
with_nth_failing() {
	nth=$1
	shift
	if [ "$1" = write ]; then
		# shellcheck disable=SC2016 # expanded by the inner shell
		bash -c 'echo "$1" >/proc/self/fail-nth && echo "$2" >"$3"' \
			- "$nth" "$2" "$3" 2>/tmp/err
	else
		# shellcheck disable=SC2016 # expanded by the inner shell
		bash -c 'echo "$1" >/proc/self/fail-nth && shift && exec "$@"' \
			- "$nth" "$@" 2>/tmp/err
	fi
	RC=$?
	ERR=$(sed 's/.*: //' /tmp/err)
}

# What the steps change, one line: the entry, offer and borrow states,
# A's nvme driver and whether its disk is there.
hosts_now() {
	echo "conn=$([ -d "$CFS/$A/connections/1" ] && echo y)" \
		"lend=$(cat "$L/state" 2>/dev/null)" \
		"offer=$(cat "$CFS/$B/offers/00000/state" 2>/dev/null)" \
		"borrow=$(cat "$CFS/$B/borrows/00000/state" 2>/dev/null)" \
		"driver=$(driver_of "$NVME")"
}

# True if the hosts are in state $1 (for wait_for).
hosts_are() {
	[ "$(hosts_now)" = "$1" ]
}

# The hosts settle in the state $1 (hosts_now) within ten seconds.
settled() {
	wait_for 20 hosts_are "$1" && return 0
	echo "# expected $1"
	echo "# found    $(hosts_now)"
	return 1
}

# The states between steps, as hosts_now prints them.
NONE="conn= lend= offer= borrow= driver=nvme"
CONN="conn=y lend= offer= borrow= driver=nvme"
ENTRY="conn=y lend=local offer= borrow= driver=nvme"
LENT="conn=y lend=available offer=available borrow= driver=ntb_lending"
BORROWED="conn=y lend=borrowed offer=borrowed borrow=borrowed driver=ntb_lending"

# The borrower's last line since log_mark about the borrow, without its
# timestamp: every refused borrow has one.
borrow_line() {
	lines_since_mark "ntb_lending: borrows/00000: " | tail -n 1 | sed 's/^[^]]*] //'
}

# Whether the refusal of step $1 (ERR) is one that failed allocations
# explain: -ENOMEM, and for a borrow with the borrower's line (LINE). $2:
# "here" if they failed in the borrower's own task only, so that the line
# must not blame the lender, whose answer runs in its work queue.
explained() {
	LINE=
	if [ "$ERR" != "Cannot allocate memory" ]; then
		echo "# $1: refused with \"$ERR\", which no failed allocation explains"
		return 1
	fi
	[ "$1" = borrow ] || return 0
	LINE=$(borrow_line)
	if [ -z "$LINE" ]; then
		echo "# $1: refused with no line of the borrower's in the kernel log"
		return 1
	fi
	case $2:$LINE in
	here:*"refused to lend"*)
		echo "# $1: the lender is blamed for an allocation of this host: $LINE"
		return 1 ;;
	esac
}

# Step $1: command "$3..." takes the hosts from state $2 to the state
# named by the step's undo, which runs without injection. Runs the command
# with its 1st, 2nd, ... allocation failing until it makes fewer; each
# run either refused with an errno that the failure explains (explained())
# and left $2, or went ahead. $STEP_TO is the state it goes ahead to,
# $STEP_UNDO the command back to $2.
systematic() {
	step=$1 from=$2
	shift 2
	k=1
	refused=0 tolerated=0
	while :; do
		settled "$from" || { echo "# $step: not at its start before N=$k"; return 1; }
		before=$(injected)
		log_mark
		with_nth_failing "$k" "$@"
		hit=$(($(injected) - before))
		if [ "$RC" -ne 0 ]; then
			[ "$hit" -gt 0 ] || { echo "# $step: failed ($ERR) with nothing injected"; return 1; }
			explained "$step" here || { echo "# $step: N=$k"; return 1; }
			settled "$from" || { echo "# $step: N=$k refused ($ERR), hosts changed"; return 1; }
			refused=$((refused + 1))
			echo "# $step: N=$k refused: $ERR${LINE:+ ($LINE)}"
		else
			settled "$STEP_TO" || { echo "# $step: N=$k went ahead, to where?"; return 1; }
			$STEP_UNDO || { echo "# $step: N=$k: undoing it failed"; return 1; }
			[ "$hit" -eq 0 ] && break
			tolerated=$((tolerated + 1))
		fi
		k=$((k + 1))
	done
	echo "# $step: $((k - 1)) allocations, each failed once: $refused refused, $tolerated went ahead"
	settled "$from"
}

# The steps undone, or done again, without injection.
unconnect() {
	rmdir "$CFS/$A/connections/1"
}

entry_removed() {
	rmdir "$L"
}

unlent() {
	echo 0 >"$L/available" && settled "$ENTRY"
}

lent_again() {
	echo 1 >"$L/available" && settled "$LENT"
}

returned() {
	rmdir "$CFS/$B/borrows/00000" && settled "$LENT"
}

borrowed_again() {
	borrow_and_check && settled "$BORROWED"
}

borrow_and_check() {
	mkdir "$CFS/$B/borrows/00000" && VBDF=$(cat "$CFS/$B/borrows/00000/local_bdf") &&
		wait_for 60 has_disk "$VBDF" && DISK=$(disk_of "$VBDF")
}

ready() {
	modprobe nvme && wait_for 40 has_disk "$NVME" && sim_two_hosts intel-32g &&
		modprobe ntb_lending && wait_for 20 file_set "$CFS/$B/node_id" &&
		L=$CFS/$A/lends/$NVME && faults_confined && settled "$NONE"
}
ktap_test_result "injection_confined_to_ntb_lending" ready

step_connect() {
	STEP_TO=$CONN STEP_UNDO=unconnect
	systematic connect "$NONE" mkdir "$CFS/$A/connections/1" &&
		mkdir "$CFS/$A/connections/1"
}
ktap_test_result "connect_fails_cleanly_at_each_allocation" step_connect

step_entry() {
	STEP_TO=$ENTRY STEP_UNDO=entry_removed
	systematic entry "$CONN" mkdir "$L" && mkdir "$L"
}
ktap_test_result "lend_entry_fails_cleanly_at_each_allocation" step_entry

step_lend() {
	STEP_TO=$LENT STEP_UNDO=unlent
	systematic lend "$ENTRY" write 1 "$L/available" && echo 1 >"$L/available"
}
ktap_test_result "lend_fails_cleanly_at_each_allocation" step_lend

step_borrow() {
	STEP_TO=$BORROWED STEP_UNDO=returned
	systematic borrow "$LENT" mkdir "$CFS/$B/borrows/00000" && borrow_and_check &&
		dd if=/tmp/pattern of="$DISK" bs=1M seek=100 oflag=direct 2>/dev/null
}
ktap_test_result "borrow_fails_cleanly_at_each_allocation" step_borrow

step_return() {
	# A return cannot be refused: each run goes ahead.
	STEP_TO=$LENT STEP_UNDO=borrowed_again
	systematic return "$BORROWED" rmdir "$CFS/$B/borrows/00000"
}
ktap_test_result "return_goes_ahead_at_each_failed_allocation" step_return

step_unlend() {
	rmdir "$CFS/$B/borrows/00000" && settled "$LENT" || return 1
	STEP_TO=$ENTRY STEP_UNDO=lent_again
	systematic unlend "$LENT" write 0 "$L/available"
}
ktap_test_result "unlend_fails_cleanly_at_each_allocation" step_unlend

# A round at random: borrow, read, return, with $PERCENT of the confined
# allocations failing everywhere, then without: both hosts back as lent,
# and a borrow reads what was written before the rounds.
PERCENT=10
random_round() {
	log_mark
	random_faults "$PERCENT" || return 1
	if mkdir "$CFS/$B/borrows/00000" 2>/tmp/err; then
		VBDF=$(cat "$CFS/$B/borrows/00000/local_bdf")
		wait_for 20 has_disk "$VBDF" &&
			dd if="$(disk_of "$VBDF")" of=/dev/null bs=1M count=4 iflag=direct 2>/dev/null
		rmdir "$CFS/$B/borrows/00000" || { random_faults 0; return 1; }
		outcome="borrowed and returned"
	else
		ERR=$(sed 's/.*: //' /tmp/err)
		random_faults 0 || return 1
		explained borrow anywhere || { echo "# round $1"; return 1; }
		outcome="borrow refused: $ERR ($LINE)"
	fi
	random_faults 0 || return 1
	# A borrow that the lender's answer failed can be lost; forget it.
	[ ! -d "$CFS/$B/borrows/00000" ] || rmdir "$CFS/$B/borrows/00000" || return 1
	echo "# round $1: $outcome; $(($(injected) - before)) failures injected"
	settled "$LENT"
}

rounds_at_random() {
	echo 1 >"$L/available" && settled "$LENT" || return 1
	first=$(injected)
	i=1
	while [ "$i" -le "$ROUNDS" ]; do
		before=$(injected)
		random_round "$i" || return 1
		i=$((i + 1))
	done
	echo "# $ROUNDS rounds, $(($(injected) - first)) failures injected at random"
	[ $(($(injected) - first)) -gt 0 ]
}
ktap_test_result "random_failures_in_every_task_leave_both_hosts_whole" rounds_at_random

data_intact() {
	borrow_and_check && dd if="$DISK" of=/tmp/got bs=1M skip=100 count=1 iflag=direct \
		2>/dev/null && cmp /tmp/pattern /tmp/got
}
ktap_test_result "the_drive_reads_what_was_written_before" data_intact

returned_and_unloaded() {
	rmdir "$CFS/$B/borrows/00000" "$L" "$CFS/$A/connections/1" &&
		wait_for 60 has_disk "$NVME" && rmmod ntb_lending
}
ktap_test_result "returned_and_unloaded" returned_and_unloaded

ktap_finished
