#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# SR-IOV virtual functions lent one by one: an nvme behind a PCIe root port
# gets two VFs (resources and a namespace each given with nvme-cli) while
# its PF stays with the lender's nvme driver and its namespace in local
# use. VF1 goes to a host on one intel-32g fabric and VF2 to a host on
# another, at once; each borrower sees the VF's vendor and device IDs and
# memory decoding on, its stock nvme driver runs the drive, and fio
# verifies data on the PF's disk and on both borrowed VFs at the same time.
# Then the PF's driver unbinds while both VFs are borrowed, mid-I/O: both
# borrows are revoked, the borrowers are told and lose their drive without
# a hang, the VFs stay driverless in the lender's tree; with the PF's
# driver back, both are lent again. Then SR-IOV is disabled under both
# borrows: the VFs leave the lender's tree, the borrowers are told the
# same way, the lend entries go back to local and refuse to offer a VF
# that is gone, and the PF's disk keeps working; enabled again, a VF is
# lent and borrowed anew.
# vm-devices: nvme-sriov edu edu edu edu
# vm-cmdline: nvme_core.multipath=N
# vm-timeout: 900
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending

ktap_print_header
ktap_set_plan 11

PF=$(pci_find 0x010802)
SYS=/sys/bus/pci/devices/$PF

# The block device of nvme function $1, whatever its namespace's ID: the
# VFs' namespaces are 2 and 3 of the PF's subsystem. Without multipath
# (nvme_core.multipath=N above), each controller has disks of its own,
# rather than the borrowed VFs joining the PF's subsystem, all in one
# kernel, as paths.
# The PCI name of VF $1 (0-based) of the PF.
vf_of() {
	basename "$(readlink "$SYS/virtfn$1")"
}

# The secondary controller ID of VF number $1 (1-based), from nvme-cli's
# list, which prints both in hexadecimal.
scid_of() {
	nvme list-secondary "$CTRL" | awk '$1 == "SCID" || $1 == "VFN" { print $NF }' |
		while read -r scid && read -r vfn; do
			[ $((vfn)) -eq "$1" ] && echo $((scid))
		done
}

# Run "$@"; if it fails, say which command it was.
run() {
	"$@" >/tmp/run.out 2>&1 && return 0
	echo "# failed: $*"
	sed 's/^/#   /' /tmp/run.out
	return 1
}

# Give VF number $1 (1-based) four queues and two vectors of the flexible
# pool and set it online.
vf_online() {
	scid=$(scid_of "$1")
	[ -n "$scid" ] || { echo "# no secondary controller for VF $1" && return 1; }
	run nvme virt-mgmt "$CTRL" -c "$scid" -r 0 -a 8 -n 4 &&
		run nvme virt-mgmt "$CTRL" -c "$scid" -r 1 -a 8 -n 2 &&
		run nvme virt-mgmt "$CTRL" -c "$scid" -a 9
}

# VF number $1 online, with namespace $2 attached to it.
vf_resources() {
	vf_online "$1" && run nvme attach-ns "$CTRL" -n "$2" -c "$(scid_of "$1")"
}

# The PF's flexible resources go to the VFs: taken from the primary
# controller, which a reset of the controller makes real (nvme reset, not
# a function reset through sysfs: there nvme freezes its queues in the
# writer's task and thaws them in its reset work, which lockdep reports as
# a lock held on return to user space).
vfs_enabled() {
	modprobe nvme && wait_for 40 has_disk "$PF" || return 1
	CTRL=/dev/$(basename "$SYS"/nvme/nvme*)
	run nvme virt-mgmt "$CTRL" -c 0 -r 1 -a 1 -n 0 &&
		run nvme virt-mgmt "$CTRL" -c 0 -r 0 -a 1 -n 0 &&
		run nvme reset "$CTRL" && wait_for 40 has_disk "$PF" &&
		run sh -c "echo 0 >$SYS/sriov_drivers_autoprobe" &&
		run sh -c "echo 2 >$SYS/sriov_numvfs" || return 1
	VF1=$(vf_of 0) && VF2=$(vf_of 1) &&
		vf_resources 1 2 && vf_resources 2 3 || return 1
	nvme list-secondary "$CTRL" | grep -E 'SCID|SCS|VFN|NVQ|NVI' | sed 's/^ */# /'
	echo "# PF $PF (group $(basename "$(readlink "$SYS/iommu_group")")), VF1 $VF1" \
		"(group $(basename "$(readlink "/sys/bus/pci/devices/$VF1/iommu_group")")), VF2 $VF2" \
		"(group $(basename "$(readlink "/sys/bus/pci/devices/$VF2/iommu_group")"))"
	[ -z "$(driver_of "$VF1")" ] && [ -z "$(driver_of "$VF2")" ] &&
		[ "$(driver_of "$PF")" = nvme ]
}
ktap_test_result "two_vfs_enabled_with_resources_beside_the_pf_driver" vfs_enabled

vfs_lent() {
	sim_two_hosts intel-32g && sim_fabric 1 intel-32g 2 &&
		C=$(sim_host_dev 1 0) && D=$(sim_host_dev 1 1) &&
		modprobe ntb_lending || return 1
	echo "# fabric 0: A $A, B $B; fabric 1: C $C, D $D"
	wait_for 20 file_is "$CFS/$B/peers" "0 up $PROTO" &&
		wait_for 20 file_is "$CFS/$D/peers" "0 up $PROTO" &&
		lend_to "$A" 1 "$VF1" && lend_to "$C" 1 "$VF2" &&
		wait_for 20 offered "$B" 00000 && wait_for 20 offered "$D" 00000 &&
		[ "$(driver_of "$VF1")" = ntb_lending ] &&
		[ "$(driver_of "$VF2")" = ntb_lending ] &&
		[ "$(cat "$CFS/$B/offers/00000/bdf")" = "$VF1" ] &&
		[ "$(cat "$CFS/$D/offers/00000/bdf")" = "$VF2" ]
}
ktap_test_result "vf1_and_vf2_lent_over_two_fabrics" vfs_lent

# Borrowed function $1 reads as VF $2 reads in the lender's PCI core: the
# PF's vendor and VF device ID, not the all-ones of the VF's own ID
# registers; memory decoding on once its driver enabled it; no INTx pin.
reads_as_vf() {
	vsys=/sys/bus/pci/devices/$1
	echo "# $2 reads $(setpci -s "$2" VENDOR_ID):$(setpci -s "$2" DEVICE_ID) on the lender," \
		"$1 $(setpci -s "$1" VENDOR_ID):$(setpci -s "$1" DEVICE_ID) on its borrower"
	[ "$(setpci -s "$2" VENDOR_ID)" = ffff ] &&
		[ "$(setpci -s "$1" VENDOR_ID)" = "$(sed 's/^0x//' "/sys/bus/pci/devices/$2/vendor")" ] &&
		[ "$(setpci -s "$1" DEVICE_ID)" = "$(sed 's/^0x//' "/sys/bus/pci/devices/$2/device")" ] &&
		[ "$(cat "$vsys/vendor"):$(cat "$vsys/device")" = \
			"$(cat "/sys/bus/pci/devices/$2/vendor"):$(cat "/sys/bus/pci/devices/$2/device")" ] &&
		[ $((0x$(setpci -s "$1" COMMAND) & 0x2)) -ne 0 ] &&
		[ "$(setpci -s "$1" INTERRUPT_PIN)" = 00 ]
}

vfs_borrowed() {
	log_mark
	mkdir "$CFS/$B/borrows/00000" "$CFS/$D/borrows/00000" || return 1
	VB=$(cat "$CFS/$B/borrows/00000/local_bdf")
	VD=$(cat "$CFS/$D/borrows/00000/local_bdf")
	echo "# B has VF1 as $VB, D has VF2 as $VD"
	ok=0
	wait_for 60 has_disk "$VB" && wait_for 60 has_disk "$VD" &&
		[ "$(driver_of "$VB")" = nvme ] && [ "$(driver_of "$VD")" = nvme ] &&
		reads_as_vf "$VB" "$VF1" && reads_as_vf "$VD" "$VF2" || ok=1
	dmesg | sed -n "/$LOG_MARK/,\$p" | grep -E 'does not answer|ntb_lending|nvme' |
		sed 's/^/# /' | tail -n 12
	return $ok
}
ktap_test_result "borrowed_vfs_read_as_vfs_under_stock_nvme" vfs_borrowed

# fio on the PF's disk on the lender and on both borrowed VFs, at once.
fio_on_three() {
	fio_verified "$(disk_of "$PF")" pf randwrite 4k >/tmp/fio_pf &
	fio_pf=$!
	fio_verified "$(disk_of "$VB")" vf1 randwrite 4k >/tmp/fio_vf1 &
	fio_vf1=$!
	ok=0
	fio_verified "$(disk_of "$VD")" vf2 randwrite 4k >/tmp/fio_vf2 || ok=1
	wait "$fio_vf1" || ok=1
	wait "$fio_pf" || ok=1
	sed 's/^# /# PF: /' /tmp/fio_pf
	sed 's/^# /# VF1 on B: /' /tmp/fio_vf1
	sed 's/^# /# VF2 on D: /' /tmp/fio_vf2
	return $ok
}
ktap_test_result "fio_verified_on_the_pf_and_both_borrowed_vfs_at_once" fio_on_three

# Both borrows are lost, the lend entries are local again with no window
# open, and the log says why, $1 times for each VF.
both_lost() {
	wait_for 60 gone "/sys/bus/pci/devices/$VB" &&
		wait_for 60 gone "/sys/bus/pci/devices/$VD" &&
		wait_for 20 file_is "$CFS/$B/borrows/00000/state" lost &&
		wait_for 20 file_is "$CFS/$D/borrows/00000/state" lost &&
		wait_for 20 file_is "$CFS/$A/lends/$VF1/state" local &&
		wait_for 20 file_is "$CFS/$C/lends/$VF2/state" local &&
		wait_for 20 gone "$CFS/$B/offers/00000" &&
		wait_for 20 gone "$CFS/$D/offers/00000" || return 1
	dmesg | sed -n "/$LOG_MARK/,\$p" | grep -E "$1|takes back" |
		sed 's/^/# /' | sort -u | head -n 8
	[ "$(logged_since_mark "$1")" -eq 2 ] &&
		[ "$(logged_since_mark 'takes back 1000[01]:00:00.0, borrowed from it')" -eq 2 ] &&
		[ -z "$(cat "$CFS/$A/windows")" ] && [ -z "$(cat "$CFS/$C/windows")" ] &&
		rmdir "$CFS/$B/borrows/00000" "$CFS/$D/borrows/00000"
}

# Reads completed on block device $1 (its stat's first field).
reads_of() {
	awk '{ print $1 }' "/sys/block/${1#/dev/}/stat"
}

# True once disk $1 completed more than $2 reads.
reads_above() {
	[ "$(reads_of "$1")" -gt "$2" ]
}

# fio reads borrowed VF1 with psync (libaio's job can spin in user space on
# a deleted disk until its runtime ends), in the background: FIO_PID. True
# once its reads reach the drive.
fio_on_vf1() {
	vdisk=$(disk_of "$VB") && reads0=$(reads_of "$vdisk") || return 1
	fio --name=struck --filename="$vdisk" --rw=randread --bs=4k \
		--direct=1 --ioengine=psync --numjobs=2 --time_based \
		--runtime=60 >/tmp/fio-struck 2>&1 &
	FIO_PID=$!
	wait_for 60 reads_above "$vdisk" $((reads0 + 100))
}

fio_on_vf1_ended() {
	wait_for 60 fio_done "$FIO_PID" || return 1
	wait "$FIO_PID"
	echo "# fio on VF1 exited $?, reporting EIO $(grep -c 'Input/output error' /tmp/fio-struck) times"
	grep -m1 -E 'error' /tmp/fio-struck | sed 's/^/#   /'
}

# The PF's driver unbinds under both borrows, in the middle of VF1's I/O:
# each borrow is revoked, the VFs stay in the lender's tree, driverless.
pf_unbound() {
	log_mark
	fio_on_vf1 && echo "$PF" >/sys/bus/pci/drivers/nvme/unbind || return 1
	both_lost "its PF's driver unbound while lent; its borrower loses it" &&
		fio_on_vf1_ended && [ -e "/sys/bus/pci/devices/$VF1" ] &&
		[ -z "$(driver_of "$VF1")" ] && [ -z "$(driver_of "$VF2")" ]
}
ktap_test_result "pf_unbind_revokes_both_borrows_and_tells_the_borrowers" pf_unbound

# The PF's driver back (its reset took the VFs' controllers offline), the
# entries lend both VFs again and each borrower reads its drive.
lent_again_after_pf() {
	echo "$PF" >/sys/bus/pci/drivers/nvme/bind && wait_for 40 has_disk "$PF" &&
		vf_online 1 && vf_online 2 &&
		echo 1 >"$CFS/$A/lends/$VF1/available" &&
		echo 1 >"$CFS/$C/lends/$VF2/available" &&
		wait_for 20 offered "$B" 00000 && wait_for 20 offered "$D" 00000 &&
		mkdir "$CFS/$B/borrows/00000" "$CFS/$D/borrows/00000" || return 1
	VB=$(cat "$CFS/$B/borrows/00000/local_bdf")
	VD=$(cat "$CFS/$D/borrows/00000/local_bdf")
	wait_for 60 has_disk "$VB" && wait_for 60 has_disk "$VD" &&
		dd if="$(disk_of "$VB")" of=/dev/null bs=1M count=4 iflag=direct 2>/dev/null &&
		dd if="$(disk_of "$VD")" of=/dev/null bs=1M count=4 iflag=direct 2>/dev/null &&
		fio_verified "$(disk_of "$PF")" pf_back write 128k
}
ktap_test_result "pf_driver_back_and_both_vfs_lent_again" lent_again_after_pf

# SR-IOV goes off under both borrows, in the middle of VF1's I/O: it is
# not refused; each borrow is revoked as a removed device's is.
sriov_disabled() {
	log_mark
	fio_on_vf1 && echo 0 >"$SYS/sriov_numvfs" || return 1
	both_lost "removed while lent; its borrower loses it" &&
		fio_on_vf1_ended && [ ! -e "$SYS/virtfn0" ]
}
ktap_test_result "sriov_disable_revokes_both_borrows_and_tells_the_borrowers" sriov_disabled

gone_refused() {
	! echo 1 2>/tmp/err >"$CFS/$A/lends/$VF1/available" &&
		grep -q 'No such device' /tmp/err &&
		file_is "$CFS/$A/lends/$VF1/state" local
}
ktap_test_result "entry_of_a_vf_gone_refuses_to_offer_it" gone_refused

pf_works() {
	[ "$(driver_of "$PF")" = nvme ] &&
		fio_verified "$(disk_of "$PF")" pf_after write 128k
}
ktap_test_result "pf_keeps_working_after_sriov_disable" pf_works

# Enabled again: the new VF1 is lent and borrowed, and reads back.
lent_again() {
	rmdir "$CFS/$A/lends/$VF1" "$CFS/$C/lends/$VF2" &&
		echo 2 >"$SYS/sriov_numvfs" && VF1=$(vf_of 0) &&
		vf_resources 1 2 || return 1
	mkdir "$CFS/$A/lends/$VF1" && echo 1 >"$CFS/$A/lends/$VF1/available" &&
		wait_for 20 offered "$B" 00000 && mkdir "$CFS/$B/borrows/00000" &&
		VB=$(cat "$CFS/$B/borrows/00000/local_bdf") &&
		wait_for 60 has_disk "$VB" && reads_as_vf "$VB" "$VF1" &&
		dd if="$(disk_of "$VB")" of=/dev/null bs=1M count=4 iflag=direct 2>/dev/null
}
ktap_test_result "sriov_enabled_again_and_a_vf_lent_anew" lent_again

all_undone() {
	rmdir "$CFS/$B/borrows/00000" "$CFS/$A/lends/$VF1" || return 1
	for h in "$A" "$C"; do
		rmdir "$CFS/$h"/connections/* || return 1
	done
	[ -z "$(driver_of "$VF1")" ] && echo 0 >"$SYS/sriov_numvfs" &&
		[ "$(driver_of "$PF")" = nvme ] && has_disk "$PF" &&
		[ "$(kernel_log_count 'blocked for more than')" -eq 0 ] &&
		[ "$(kernel_log_count 'Trying to free nonexistent resource')" -eq 0 ] &&
		rmmod ntb_lending && rmmod ntb_sim
}
ktap_test_result "everything_undone_and_modules_unload" all_undone

ktap_finished
