#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# IOMMU containment of a borrowed device: host A lends a spare edu (an
# adapter no host uses) to host B through configfs, and B programs the
# edu's DMA engine to reach what is not its own, each time after the same
# DMA from the unconfined edu (before it is lent, no driver, identity
# domain) showed that it gets through, so that the test would see it:
#
# - a write beyond its window, onto a canary in ivshmem memory that no
#   driver claims: it faults in A's IOMMU, naming the lent function, and
#   the canary is unchanged; after the edu is given back it lands again;
# - a read beyond its window, of a secret in that memory, into the edu's
#   buffer: it faults, and the buffer, carried into B's memory through
#   the window by a DMA that lands there, holds no secret;
# - a write to a register of another device of A (the liveness register
#   of a second spare edu, kept from ntb_sim, which reads back what was
#   written inverted): it faults, and the register is unchanged;
# - a write into B's memory through the window, still running when the
#   link between A and B is cut: A stops the edu's bus mastering as it
#   takes the device back, and a DMA that had not run by then lands
#   nowhere; none faults, the canary is unchanged, and the window is gone
#   from the edu's IOMMU domain (a DMA of the edu with bus mastering
#   turned on behind A's back faults). Restored, the link brings the
#   offer back, and B borrows the edu again and its DMA lands.
#
# B's memory is read where a DMA through its window lands: a page of the
# first MiB of RAM, which the kernel reserves whole and leaves unused after
# boot, and which /dev/mem maps even when it is strict. The borrow is
# returned and the edu goes back to ntb_sim afterwards.
#
# The edu's DMA engine (QEMU hw/misc/edu.c): BAR0 + 0x80 source, 0x88
# destination, 0x90 count, 0x98 command (bit 0 start, bit 1 from its
# buffer to the bus), done when bit 0 clears, 100 ms after the start.
# Its 4 KiB buffer is at 0x40000 as the engine sees it and cannot be
# reached through BAR0, so a DMA from the bus fills it and one to the bus
# shows it. BAR0 + 0x04 reads back the inverse of what was written.
# vm-devices: edu edu edu edu arena
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
FAB=/sys/kernel/debug/ntb_sim/fabric0
EDU_BUFFER=0x40000
EDU_DMA_START=1
EDU_DMA_TO_BUS=2
# Where in its buffer the edu reads to: the pattern it carries stays at
# the start.
READ_SLOT=$((EDU_BUFFER + 0x100))

ktap_print_header
ktap_set_plan 20

# The ivshmem device holds the canary and is kept from ntb_sim, whose
# arena it would be (lending needs none): undriven, its memory is neither
# RAM nor busy, which the kernel's strict /dev/mem needs to let devmem at
# it. The pattern at its start is what the edu carries, the canary a MiB
# in is where the edu's stray write is aimed, the secret two MiB in what
# its stray read is.
IVSH=$(pci_find 0x050000)
IVSH_MEM=$(sed -n 3p "/sys/bus/pci/devices/$IVSH/resource" | cut -d' ' -f1)
PATTERN=$((IVSH_MEM))
CANARY=$((IVSH_MEM + 0x100000))
SECRET=$((IVSH_MEM + 0x200000))
# The DMA's 32 bytes land in the middle of the canary's 64.
TARGET=$((CANARY + 0x10))
DMA_BYTES=32
# B's memory, inside its window (which maps [0, end of RAM) from device
# address 0, on ntb_sim onto the same physical addresses).
LANDING=0x50000

# Word $2 of the canary ("CANARY" and the index), the pattern ("DMADMA"),
# the secret ("SECRET") or the mark of a landing place that nothing has
# reached ("EMPTY"), as $1 says.
word() {
	case $1 in
	pattern) printf '0x%016X' $((0x444d41444d410000 + $2)) ;;
	secret) printf '0x%016X' $((0x5345435245540000 + $2)) ;;
	empty) printf '0x%016X' $((0x454d505459000000 + $2)) ;;
	*) printf '0x%016X' $((0x43414e4152590000 + $2)) ;;
	esac
}

# The four words (a DMA's 32 bytes) at physical address $1 as devmem reads
# them (words_at), and the four words of kind $1 (words_of).
words_at() {
	for i in 0 1 2 3; do
		devmem $(($1 + 8 * i)) 64
	done | tr '\n' ' '
}

words_of() {
	for i in 0 1 2 3; do
		word "$1" "$i"
		echo
	done | tr '\n' ' '
}

# Write the four words of kind $2 at physical address $1.
words_write() {
	for i in 0 1 2 3; do
		devmem $(($1 + 8 * i)) 64 "$(word "$2" "$i")" || return 1
	done
}

# True if the four words at $1 are of kind $2.
holds() {
	[ "$(words_at "$1")" = "$(words_of "$2")" ]
}

# The canary's eight words as devmem reads them.
canary_now() {
	for i in 0 1 2 3 4 5 6 7; do
		devmem $((CANARY + 8 * i)) 64
	done | tr '\n' ' '
}

# The canary's words as they should read: intact, or with the pattern
# where the DMA aims if $1 is "hit".
canary_expected() {
	for i in 0 1 2 3 4 5 6 7; do
		if [ "${1:-}" = hit ] && [ "$i" -ge 2 ] && [ "$i" -le 5 ]; then
			word pattern $((i - 2))
		else
			word canary "$i"
		fi
		echo
	done | tr '\n' ' '
}

canary_write() {
	for i in 0 1 2 3 4 5 6 7; do
		devmem $((CANARY + 8 * i)) 64 "$(word canary "$i")" || return 1
	done
}

canary_intact() {
	now=$(canary_now)
	echo "# canary: $now"
	[ "$now" = "$(canary_expected)" ]
}

canary_hit() {
	now=$(canary_now)
	echo "# canary: $now"
	[ "$now" = "$(canary_expected hit)" ]
}

# Start one DMA of the edu whose BAR0 is at physical address $1: $2 bytes
# from $3 to $4, command $5.
edu_dma_start() {
	devmem $(($1 + 0x80)) 64 $(($3)) && devmem $(($1 + 0x88)) 64 $(($4)) &&
		devmem $(($1 + 0x90)) 64 $(($2)) &&
		devmem $(($1 + 0x98)) 64 $((EDU_DMA_START | $5))
}

# The same, and wait for the engine to finish.
edu_dma() {
	edu_dma_start "$@" && wait_for 10 edu_idle "$1"
}

edu_idle() {
	[ $(($(devmem $(($1 + 0x98)) 64) & EDU_DMA_START)) -eq 0 ]
}

# The edu whose BAR0 is at $1 carries the 32 bytes at $2 of its buffer
# into B's memory at LANDING (marked empty first), where devmem reads them.
edu_buffer_shown() {
	words_write "$LANDING" empty &&
		edu_dma "$1" "$DMA_BYTES" "$2" "$LANDING" "$EDU_DMA_TO_BUS" || return 1
	echo "# edu buffer at $(printf '%#x' "$2"): $(words_at "$LANDING")"
}

bar0() {
	sed -n 1p "/sys/bus/pci/devices/$1/resource" | cut -d' ' -f1
}

# The liveness register of the edu whose BAR0 is at $1.
liveness() {
	devmem $(($1 + 0x04)) 32
}

# A DMA fault of the lent edu at the page of address $1, as the kernel logs it.
fault_at() {
	echo "Request device \[${EDU#*:}\] fault addr $(printf '%#x' $(($1 & ~0xfff)))"
}

# intel-iommu logs DMA faults ratelimited, ten lines in five seconds and
# three lines a fault (its own line, the fault's, and the look at the next
# record): true once five seconds have passed since the last it logged, so
# that the next fault is logged whole.
dmar_log_ready() {
	last=$(dmesg | sed -n 's/^\[ *\([0-9]*\)\.\([0-9][0-9][0-9]\).*DMAR: DRHD: handling.*/\1\2/p' |
		tail -n 1)
	[ -z "$last" ] || [ $(($(uptime_ms) - last)) -gt 5500 ]
}

# Milliseconds since boot in STAMP, with no process started.
stamp() {
	read -r up _ </proc/uptime
	STAMP=$((${up%.*}${up#*.} * 10))
}

# True if PCI function $1 has bus mastering on.
bus_master_on() {
	[ $((0x$(setpci -s "$1" COMMAND) & 4)) -ne 0 ]
}

# Wait, without sleeping (a DMA takes 100 ms), for PCI function $1's bus
# mastering to go off; give up after a thousand looks.
until_bus_master_off() {
	n=0
	while bus_master_on "$1"; do
		n=$((n + 1))
		[ "$n" -lt 1000 ] || return 1
	done
}

# Run "$@" on a CPU where the doorbell interrupt of the lender's adapter
# $1 is not due. User config accesses to a borrowed function wait for
# the lender's answer with interrupts off (protocol.rst); on ntb_sim this
# kernel is the lender, and on the waiting CPU its answer would wait too.
away_from_lender() {
	irq=$(ls "/sys/bus/pci/devices/$1/msi_irqs") &&
		echo 0 >"/proc/irq/$irq/smp_affinity_list" || return 1
	shift
	taskset -c 1 "$@"
}

# The end of B's memory (on ntb_sim, the VM's): the lent function's
# IOMMU domain maps [0, end) onto it, and doorbell pages at its top.
ram_end() {
	sed -n 's/^\([0-9a-f]*\)-\([0-9a-f]*\) : System RAM$/0x\2/p' /proc/iomem | tail -n 1
}

canary_set_up() {
	echo none >"/sys/bus/pci/devices/$IVSH/driver_override" || return 1
	echo "# canary at $(printf '%#x' "$CANARY"), secret at" \
		"$(printf '%#x' "$SECRET") in $IVSH memory;" \
		"memory ends at $(ram_end)"
	[ "$CANARY" -gt $(($(ram_end))) ] && [ "$SECRET" -gt $(($(ram_end))) ] &&
		words_write "$PATTERN" pattern && words_write "$SECRET" secret &&
		canary_write && canary_intact
}
ktap_test_result "canary_in_ivshmem_that_no_driver_claims" canary_set_up

# The edus no host stands on stay in ntb_sim's pool of free adapters:
# EDU is lent, PEER's registers are what it aims at.
spare_edu_found() {
	sim_two_hosts intel-32g && [ -z "$(driver_of "$IVSH")" ] || return 1
	EDU='' PEER=''
	for dev in /sys/bus/pci/devices/*; do
		[ "$(cat "$dev/vendor"):$(cat "$dev/device")" = 0x1234:0x11e8 ] || continue
		[ "${dev##*/}" = "$A" ] || [ "${dev##*/}" = "$B" ] && continue
		if [ -z "$EDU" ]; then
			EDU=${dev##*/}
		else
			PEER=${dev##*/}
		fi
	done
	echo "# hosts on $A and $B; spare edus $EDU, BAR0 at $(bar0 "$EDU")," \
		"and $PEER, BAR0 at $(bar0 "$PEER")"
	[ -n "$EDU" ] && [ "$(driver_of "$EDU")" = ntb_sim ] &&
		[ "$(cat "/sys/bus/pci/devices/$EDU/iommu_group/type")" = identity ] &&
		[ -n "$PEER" ] && [ "$(driver_of "$PEER")" = ntb_sim ]
}
ktap_test_result "spare_edu_is_a_free_adapter_of_ntb_sim" spare_edu_found

# The edu on its own (no driver, identity domain: no IOMMU confines it)
# takes the pattern into its buffer and writes it onto the canary.
unconfined_dma_lands() {
	echo "$EDU" >/sys/bus/pci/drivers/ntb_sim/unbind &&
		setpci -s "$EDU" COMMAND=0006 || return 1
	E0=$(bar0 "$EDU")
	edu_dma "$E0" "$DMA_BYTES" "$PATTERN" "$EDU_BUFFER" 0 &&
		edu_dma "$E0" "$DMA_BYTES" "$EDU_BUFFER" "$TARGET" "$EDU_DMA_TO_BUS" &&
		canary_hit || return 1
	canary_write && canary_intact
}
ktap_test_result "unconfined_edu_dma_lands_on_the_canary" unconfined_dma_lands

# It reads the secret into its buffer, which then shows it; the pattern
# read over it leaves the buffer without it before the edu is lent.
unconfined_read_takes_the_secret() {
	edu_dma "$E0" "$DMA_BYTES" "$SECRET" "$READ_SLOT" 0 &&
		edu_buffer_shown "$E0" "$READ_SLOT" && holds "$LANDING" secret &&
		edu_dma "$E0" "$DMA_BYTES" "$PATTERN" "$READ_SLOT" 0 &&
		edu_buffer_shown "$E0" "$READ_SLOT" && holds "$LANDING" pattern
}
ktap_test_result "unconfined_edu_dma_reads_the_secret" unconfined_read_takes_the_secret

# It writes the first 4 bytes of the pattern into the liveness register of
# the other spare edu, which reads back their inverse; then that register
# is set to what it holds from here on. Unbound from ntb_sim (which would
# hold its BAR busy, out of devmem's reach), with memory decoding on, the
# other edu stays so until the end.
unconfined_write_reaches_a_register() {
	echo "$PEER" >/sys/bus/pci/drivers/ntb_sim/unbind &&
		setpci -s "$PEER" COMMAND=0002 || return 1
	P0=$(bar0 "$PEER")
	LIVE=$((P0 + 0x04))
	devmem "$LIVE" 32 0x12345678 && [ "$(liveness "$P0")" = 0xEDCBA987 ] &&
		edu_dma "$E0" 4 "$EDU_BUFFER" "$LIVE" "$EDU_DMA_TO_BUS" || return 1
	echo "# $PEER's liveness register after the DMA: $(liveness "$P0")"
	[ "$(liveness "$P0")" = "$(printf '0x%08X' $((~0x4d410000 & 0xffffffff)))" ] &&
		devmem "$LIVE" 32 0x12345678 && [ "$(liveness "$P0")" = 0xEDCBA987 ] &&
		echo "$EDU" >/sys/bus/pci/drivers/ntb_sim/bind &&
		[ "$(driver_of "$EDU")" = ntb_sim ]
}
ktap_test_result "unconfined_edu_dma_writes_another_devices_register" unconfined_write_reaches_a_register

offer_available() {
	[ "$(cat "$CFS/$B/offers/00000/state" 2>/dev/null)" = available ]
}

# B borrows the edu, offer 00000: VBDF in its tree, BAR0 at VB0.
# ntb_sim, the edu's stock driver, binds it on B too, as a free adapter;
# unbound, its BAR (what B's window reaches) is free for devmem, and the
# test drives the edu itself.
borrow_edu() {
	wait_for 40 offer_available && mkdir "$CFS/$B/borrows/00000" || return 1
	VBDF=$(cat "$CFS/$B/borrows/00000/local_bdf")
	VB0=$(bar0 "$VBDF")
	echo "# borrowed as $VBDF, driver $(driver_of "$VBDF"), BAR0 at $VB0"
	[ "$(cat "$L/state")" = borrowed ] &&
		echo "$VBDF" >/sys/bus/pci/drivers/ntb_sim/unbind &&
		[ -z "$(driver_of "$VBDF")" ]
}

edu_borrowed() {
	modprobe ntb_lending || return 1
	L=$CFS/$A/lends/$EDU
	wait_for 20 file_set "$CFS/$B/node_id" &&
		mkdir "$CFS/$A/connections/1" "$L" && echo 1 >"$L/available" &&
		[ "$(driver_of "$EDU")" = ntb_lending ] && borrow_edu
}
ktap_test_result "spare_edu_lent_to_and_borrowed_by_b" edu_borrowed

# Seen in the lent function itself, on A.
bus_master_from_b() {
	before=$(setpci -s "$EDU" COMMAND)
	away_from_lender "$A" setpci -s "$VBDF" COMMAND=0006 || return 1
	after=$(setpci -s "$EDU" COMMAND)
	echo "# lent function's COMMAND $before before, $after after"
	[ $((0x$before & 4)) -eq 0 ] && [ $((0x$after & 6)) -eq 6 ]
}
ktap_test_result "borrower_turns_on_bus_mastering" bus_master_from_b

# What the checks below read B's memory with: a DMA through the window.
window_dma_lands() {
	edu_buffer_shown "$VB0" "$EDU_BUFFER" && holds "$LANDING" pattern &&
		words_write "$LANDING" empty
}
ktap_test_result "dma_into_the_window_lands_in_borrower_memory" window_dma_lands

# A DMA fault is logged with the page of the faulting address.
writes0=$(kernel_log_count "DMAR: \[DMA Write")

stray_dma_faults() {
	wait_for 20 dmar_log_ready &&
		edu_dma "$VB0" "$DMA_BYTES" "$EDU_BUFFER" "$TARGET" "$EDU_DMA_TO_BUS" &&
		wait_for 10 log_count_is 1 "$(fault_at "$TARGET")" || return 1
	dmesg | grep -E "$(fault_at "$TARGET")" | sed 's/^/# /'
	[ "$(kernel_log_count "DMAR: \[DMA Write")" -eq $((writes0 + 1)) ]
}
ktap_test_result "dma_beyond_the_window_faults_in_the_lenders_iommu" stray_dma_faults
ktap_test_result "canary_unchanged_after_the_stray_dma" canary_intact

reads0=$(kernel_log_count "DMAR: \[DMA Read")

stray_read_faults() {
	wait_for 20 dmar_log_ready &&
		edu_dma "$VB0" "$DMA_BYTES" "$SECRET" "$READ_SLOT" 0 &&
		wait_for 10 log_count_is 1 "$(fault_at "$SECRET")" || return 1
	dmesg | grep -E "$(fault_at "$SECRET")" | sed 's/^/# /'
	[ "$(kernel_log_count "DMAR: \[DMA Read")" -eq $((reads0 + 1)) ]
}
ktap_test_result "dma_read_beyond_the_window_faults_in_the_lenders_iommu" stray_read_faults

# Whatever the faulting read left in the buffer, the DMA that shows it
# landed (the empty mark is gone) and it is not the secret.
no_secret_read() {
	edu_buffer_shown "$VB0" "$READ_SLOT" && ! holds "$LANDING" empty &&
		! holds "$LANDING" secret && words_write "$LANDING" empty
}
ktap_test_result "edu_buffer_holds_no_secret_after_the_stray_read" no_secret_read

# The other edu's registers are a BAR outside the window: the lent edu's
# write to its liveness register faults and changes nothing.
stray_register_write_faults() {
	wait_for 20 dmar_log_ready &&
		edu_dma "$VB0" 4 "$EDU_BUFFER" "$LIVE" "$EDU_DMA_TO_BUS" &&
		wait_for 10 log_count_is 1 "$(fault_at "$LIVE")" || return 1
	dmesg | grep -E "$(fault_at "$LIVE")" | sed 's/^/# /'
	[ "$(kernel_log_count "DMAR: \[DMA Write")" -eq $((writes0 + 2)) ]
}
ktap_test_result "dma_at_another_devices_register_faults_in_the_lenders_iommu" stray_register_write_faults

register_unchanged() {
	echo "# $PEER's liveness register: $(liveness "$P0")"
	[ "$(liveness "$P0")" = 0xEDCBA987 ]
}
ktap_test_result "other_devices_register_unchanged_after_the_stray_dma" register_unchanged

# B starts a DMA of the pattern into its memory through the window and the
# link is cut at once. A takes the edu back: it stops its bus mastering
# first (then closes the window, resets it and unmaps the window from its
# IOMMU domain). A DMA still to run by then (the engine busy once bus
# mastering is seen off) must land nowhere; one that ran before landed
# where B aimed it, as B still had the edu. Nothing faults either way, and
# the canary is unchanged.
dma_cut_off() {
	faults0=$(kernel_log_count "DMAR: \[DMA")
	edu_dma_start "$VB0" "$DMA_BYTES" "$EDU_BUFFER" "$LANDING" "$EDU_DMA_TO_BUS" &&
		stamp && t0=$STAMP && echo "0 1 1" >"$FAB/link_down" &&
		until_bus_master_off "$EDU" && stamp || return 1
	t1=$STAMP
	ran=1
	edu_idle "$E0" || ran=0
	wait_for 20 file_is "$L/state" available &&
		wait_for 20 file_is "$CFS/$B/borrows/00000/state" lost &&
		wait_for 20 gone "/sys/bus/pci/devices/$VBDF" &&
		wait_for 10 edu_idle "$E0" || return 1
	landed=$(words_at "$LANDING")
	echo "# A stopped the edu's bus mastering $((t1 - t0)) ms after B started" \
		"its DMA, which $([ $ran = 1 ] && echo 'had run' || echo 'was still to run')"
	echo "# B's memory: $landed"
	case $landed in
	"$(words_of empty)") echo "# the DMA landed nowhere" ;;
	"$(words_of pattern)")
		echo "# the DMA landed in B's memory, where B aimed it"
		[ $ran = 1 ] || return 1
		;;
	*) return 1 ;;
	esac
	echo "# $(($(kernel_log_count "DMAR: \[DMA") - faults0)) DMA faults since"
	[ "$(kernel_log_count "DMAR: \[DMA")" -eq "$faults0" ] && canary_intact
}
ktap_test_result "dma_in_flight_at_a_link_loss_lands_nowhere_else" dma_cut_off

# Were the edu to go on with bus mastering on (it is turned on here behind
# A's back, as a device that ignores it would go on), its DMA into the old
# window faults: the window is gone from its IOMMU domain.
window_unmapped() {
	cmd=$(setpci -s "$EDU" COMMAND)
	wait_for 20 dmar_log_ready && words_write "$LANDING" empty &&
		setpci -s "$EDU" COMMAND=0006 || return 1
	edu_dma "$E0" "$DMA_BYTES" "$EDU_BUFFER" "$LANDING" "$EDU_DMA_TO_BUS"
	ret=$?
	setpci -s "$EDU" COMMAND="$cmd" && [ $ret -eq 0 ] &&
		wait_for 10 log_count_is 1 "$(fault_at "$LANDING")" || return 1
	dmesg | grep -E "$(fault_at "$LANDING")" | sed 's/^/# /'
	echo "# B's memory: $(words_at "$LANDING"); the entry $(cat "$L/state")," \
		"$(cat "$L/iommu")"
	holds "$LANDING" empty && [ "$(cat "$L/iommu")" = confined ]
}
ktap_test_result "window_gone_from_the_lenders_iommu_after_the_link_loss" window_unmapped

# The link back, B forgets its lost borrow and borrows the edu again: its
# DMA through the window lands.
lent_again() {
	echo "0 1 0" >"$FAB/link_down" &&
		rmdir "$CFS/$B/borrows/00000" && borrow_edu &&
		away_from_lender "$A" setpci -s "$VBDF" COMMAND=0006 &&
		window_dma_lands
}
ktap_test_result "link_restored_edu_lent_again_and_its_dma_lands" lent_again

returned_and_released() {
	rmdir "$CFS/$B/borrows/00000" && [ ! -e "/sys/bus/pci/devices/$VBDF" ] &&
		wait_for 20 offer_available && echo 0 >"$L/available" &&
		rmdir "$L" "$CFS/$A/connections/1" || return 1
	echo "# edu back with $(driver_of "$EDU")," \
		"$(cat "/sys/bus/pci/devices/$EDU/iommu_group/type") domain"
	[ "$(driver_of "$EDU")" = ntb_sim ] &&
		[ "$(cat "/sys/bus/pci/devices/$EDU/iommu_group/type")" = identity ]
}
ktap_test_result "borrow_returned_and_edu_back_with_ntb_sim" returned_and_released

# The buffer still holds the pattern: the stray DMA carried it too.
released_dma_lands() {
	echo "$EDU" >/sys/bus/pci/drivers/ntb_sim/unbind &&
		setpci -s "$EDU" COMMAND=0006 &&
		edu_dma "$E0" "$DMA_BYTES" "$EDU_BUFFER" "$TARGET" "$EDU_DMA_TO_BUS" &&
		canary_hit && canary_write && canary_intact &&
		echo "$EDU" >/sys/bus/pci/drivers/ntb_sim/bind
}
ktap_test_result "released_edu_dma_lands_on_the_canary_again" released_dma_lands

undone_and_unloaded() {
	echo "$PEER" >/sys/bus/pci/drivers/ntb_sim/bind &&
		[ "$(driver_of "$PEER")" = ntb_sim ] && unload_ntb_modules
}
ktap_test_result "everything_undone_and_modules_unload" undone_and_unloaded

ktap_finished
