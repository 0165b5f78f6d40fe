#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ntb_sim on ivshmem-doorbell adapters: a doorbell vector per bit, each
# bit's vector on a CPU of its own (bit N on CPU N mod 2). A CPU ring of
# the peer's bit lands on that bit's vector and CPU. Host A lends its nvme
# to host B with ntb_lending, B's stock driver runs fio on it, and the
# drive's MSI-X writes ring B's doorbell vectors with no interrupt on A.
# Each of the borrowed drive's vectors rings a bit whose vector is on a CPU
# of the vector's affinity, and says so in its effective affinity: fio
# pinned to CPU 0, then to CPU 1, has its queue's interrupts on its own CPU
# only, and so are B's doorbell interrupts that carry them; the admin
# queue's vector, whose affinity a user may set, follows each write of its
# smp_affinity_list. The drive is borrowed again after B's doorbell
# vectors are moved to the other CPU (bit N on CPU N + 1 mod 2), and its
# queues follow them: whichever CPU the borrow's first bit is on, one of
# the two borrows has its vectors numbered against their CPUs unless they
# are aimed. On the idt switch profile, whose doorbell bit B is MSI-X
# vector 14 + B, an NTB client sees db vector 14 + B: db vector N is the
# adapter's MSI-X vector N, which is how ntb_lending finds a bit's CPU.
# vm-devices: nvme ivshmem ivshmem
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
FAB=/sys/kernel/debug/ntb_sim/fabric0
TOOL=/sys/kernel/debug/ntb_tool

ktap_print_header
ktap_set_plan 20

NVME=$(pci_find 0x010802)

# Interrupts of IRQ $1 on CPU $2 (/proc/interrupts' column).
irq_on_cpu() {
	awk -v irq="$1:" -v col=$(($2 + 2)) '$1 == irq { print $col }' /proc/interrupts
}

irq_of_bit() {
	sed -n "s/^$2 //p" "$FAB/$1/db_vectors"
}

# The CPU that IRQ $1 goes to.
cpu_of_irq() {
	cat "/proc/irq/$1/effective_affinity_list"
}

two_ivshmem_hosts() {
	sim_two_hosts intel-32g || return 1
	echo "# A $A, B $B; B's doorbell vectors (bit irq cpu):" \
		"$(while read -r bit irq; do printf '%s ' "$bit/$irq/$(cpu_of_irq "$irq")"; done <"$FAB/$B/db_vectors")"
	[ "$(wc -l <"$FAB/$B/db_vectors")" -eq 16 ] &&
		[ "$(cpu_of_irq "$(irq_of_bit "$B" 0)")" = 0 ] &&
		[ "$(cpu_of_irq "$(irq_of_bit "$B" 1)")" = 1 ]
}
ktap_test_result "two_hosts_on_ivshmem_adapters_with_a_vector_per_bit" two_ivshmem_hosts

# A's CPU rings B's bit $1 at peer_db_addr(); B's bit's vector takes it on
# its CPU.
cpu_ring_lands() {
	irq=$(irq_of_bit "$B" "$1")
	cpu=$(cpu_of_irq "$irq")
	before=$(irq_on_cpu "$irq" "$cpu")
	echo "cpu $1" >"$FAB/$A/ring" || return 1
	after=$(irq_on_cpu "$irq" "$cpu")
	echo "# bit $1: irq $irq on CPU $cpu: $before -> $after, $(cat "$FAB/$A/ring") ns"
	[ "$after" -eq $((before + 1)) ]
}
ktap_test_result "cpu_ring_of_bit_2_lands_on_its_vector_and_cpu" cpu_ring_lands 2
ktap_test_result "cpu_ring_of_bit_3_lands_on_its_vector_and_cpu" cpu_ring_lands 3

offer_available() {
	[ "$(cat "$CFS/$B/offers/00000/state" 2>/dev/null)" = available ]
}

# The doorbell bits of B's borrow, as its adapter's doorbells file says.
borrow_bits() {
	sed -n 's/ vectors 00000$//p' "$CFS/$B/doorbells"
}

borrowed() {
	modprobe nvme && wait_for 40 has_disk "$NVME" && modprobe ntb_lending &&
		wait_for 20 file_set "$CFS/$B/node_id" || return 1
	L=$CFS/$A/lends/$NVME
	mkdir "$CFS/$A/connections/1" "$L" && echo 1 >"$L/available" &&
		wait_for 20 offer_available && borrow_nvme_offer &&
		echo "# borrowed as $VBDF, $DISK, on B's doorbell bits $(borrow_bits)"
}
ktap_test_result "nvme_lent_and_borrowed_over_ivshmem_adapters" borrowed

# Per doorbell vector of B, its interrupts on CPU 0 and 1.
b_vector_counts() {
	while read -r bit irq; do
		printf '%s:%s/%s ' "$bit" "$(irq_on_cpu "$irq" 0)" "$(irq_on_cpu "$irq" 1)"
	done <"$FAB/$B/db_vectors"
}

A_IRQS0=$(named_irqs "$A")
fio_over_vectors() {
	echo "# B's vectors before fio (bit:cpu0/cpu1): $(b_vector_counts)"
	fio_verified "$DISK" rand4k randwrite 4k || return 1
	echo "# B's vectors after fio (bit:cpu0/cpu1): $(b_vector_counts)"
}
ktap_test_result "fio_verified_on_the_borrowed_nvme" fio_over_vectors

# The borrowed nvme's interrupts, in order.
nvme_irqs() {
	for f in /sys/bus/pci/devices/"$VBDF"/msi_irqs/*; do
		[ -e "$f" ] && echo "${f##*/}"
	done | sort -n
}

# The name IRQ $1 has in /proc/interrupts (its handler's: nvme1q0...).
irq_name() {
	awk -v irq="$1:" '$1 == irq { print $NF }' /proc/interrupts
}

# The CPUs of list $1, as smp_affinity_list writes them (0-1,3), a line each.
cpus_of() {
	echo "$1" | tr ',' '\n' | while IFS=- read -r lo hi; do
		[ -z "$lo" ] || seq "$lo" "${hi:-$lo}"
	done
}

# True if list $1 has CPUs and every one of them is in list $2.
cpus_within() {
	[ -n "$1" ] || return 1
	for c in $(cpus_of "$1"); do
		cpus_of "$2" | grep -qx "$c" || return 1
	done
}

# Each vector's effective affinity (where its doorbell's interrupt goes)
# is a CPU of its affinity (what the nvme driver asked for, managed).
vectors_on_their_cpus() {
	list='' ok=0
	for irq in $(nvme_irqs); do
		aff=$(cat "/proc/irq/$irq/smp_affinity_list")
		eff=$(cat "/proc/irq/$irq/effective_affinity_list")
		list="$list $(irq_name "$irq")($irq) $aff/$eff"
		cpus_within "$eff" "$aff" || ok=1
	done
	echo "# the borrowed nvme's vectors, name(irq) affinity/effective:$list"
	[ -n "$list" ] && return $ok
}
ktap_test_result "borrowed_vectors_effective_affinity_within_their_affinity" vectors_on_their_cpus

# The vector of the nvme queue of CPU $1: its affinity is that CPU alone.
queue_irq_of_cpu() {
	for irq in $(nvme_irqs); do
		[ "$(cat "/proc/irq/$irq/smp_affinity_list")" = "$1" ] &&
			echo "$irq" && return 0
	done
	return 1
}

# Interrupts of B's doorbell vectors on CPU $1.
b_db_on_cpu() {
	s=0
	while read -r bit irq; do
		s=$((s + $(irq_on_cpu "$irq" "$1")))
	done <"$FAB/$B/db_vectors"
	echo "$s"
}

# fio pinned to CPU $1 reads the borrowed drive: its queue's vector takes
# the interrupts on CPU $1 and none on the other, as do B's doorbell
# vectors, which carry them.
fio_on_cpu() {
	c=$1
	q=$(queue_irq_of_cpu "$c") || {
		echo "# no vector of the borrowed nvme has affinity $c"
		return 1
	}
	set -- "$(irq_on_cpu "$q" 0)" "$(irq_on_cpu "$q" 1)" "$(b_db_on_cpu 0)" "$(b_db_on_cpu 1)"
	taskset -c "$c" fio --name=cpu"$c" --filename="$DISK" --rw=randread \
		--bs=4k --direct=1 --ioengine=psync --size=8M >/tmp/fio-cpu 2>&1 || {
		sed 's/^/# /' /tmp/fio-cpu
		return 1
	}
	q0=$(($(irq_on_cpu "$q" 0) - $1)) q1=$(($(irq_on_cpu "$q" 1) - $2))
	d0=$(($(b_db_on_cpu 0) - $3)) d1=$(($(b_db_on_cpu 1) - $4))
	name=$(irq_name "$q")
	echo "# fio on CPU $c: queue ${name##*q} (irq $q, effective $(cpu_of_irq "$q")): $q0 on CPU 0, $q1 on CPU 1; B's doorbell vectors: $d0 on CPU 0, $d1 on CPU 1"
	if [ "$c" -eq 0 ]; then
		[ "$q0" -gt 0 ] && [ "$q1" -eq 0 ] && [ "$d0" -ge "$q0" ] && [ "$d1" -eq 0 ]
	else
		[ "$q1" -gt 0 ] && [ "$q0" -eq 0 ] && [ "$d1" -ge "$q1" ] && [ "$d0" -eq 0 ]
	fi
}
ktap_test_result "fio_on_cpu_0_takes_its_queue_interrupts_on_cpu_0" fio_on_cpu 0
ktap_test_result "fio_on_cpu_1_takes_its_queue_interrupts_on_cpu_1" fio_on_cpu 1

# The admin queue's vector: the first, affinity every CPU, not managed.
admin_irq() {
	nvme_irqs | head -n 1
}

# A user moves the admin queue's vector to CPU $1 (smp_affinity_list):
# its effective affinity follows at once, and the interrupt of an admin
# command (Identify) arrives there.
admin_follows() {
	a=$(admin_irq) c=$1
	echo "$c" >"/proc/irq/$a/smp_affinity_list" || return 1
	eff=$(cpu_of_irq "$a")
	set -- "$(irq_on_cpu "$a" 0)" "$(irq_on_cpu "$a" 1)"
	ctrl=$(ls "/sys/bus/pci/devices/$VBDF/nvme")
	nvme id-ctrl "/dev/$ctrl" >/dev/null || return 1
	a0=$(($(irq_on_cpu "$a" 0) - $1)) a1=$(($(irq_on_cpu "$a" 1) - $2))
	echo "# admin vector (irq $a) set to CPU $c: effective $eff; nvme id-ctrl: $a0 on CPU 0, $a1 on CPU 1"
	[ "$eff" = "$c" ] || return 1
	if [ "$c" -eq 0 ]; then
		[ "$a0" -gt 0 ] && [ "$a1" -eq 0 ]
	else
		[ "$a1" -gt 0 ] && [ "$a0" -eq 0 ]
	fi
}
ktap_test_result "admin_vector_set_to_cpu_1_interrupts_there" admin_follows 1
ktap_test_result "admin_vector_set_to_cpu_0_interrupts_there" admin_follows 0

# The lender's adapter took no interrupt since it had $1, nor its nvme.
lender_quiet() {
	a=$(($(named_irqs "$A") - $1))
	echo "# during fio: lender's adapter $a, lender's nvme $(named_irqs "$NVME")"
	[ "$a" -eq 0 ] && [ "$(named_irqs "$NVME")" -eq 0 ]
}
ktap_test_result "lender_takes_no_interrupt_during_io" lender_quiet "$A_IRQS0"

# B returns the drive, its doorbell vectors move to the other CPU (bit N
# on CPU N + 1 mod 2, as a user or irqbalance may move an adapter's), and
# it borrows the drive again: the new borrow aims its vectors by where the
# bits' vectors are now.
reborrowed() {
	rmdir "$CFS/$B/borrows/00000" && wait_for 40 gone "/sys/bus/pci/devices/$VBDF" ||
		return 1
	while read -r bit irq; do
		echo $(((bit + 1) % 2)) >"/proc/irq/$irq/smp_affinity_list" || return 1
	done <"$FAB/$B/db_vectors"
	echo "# B's doorbell vectors now (bit irq cpu):" \
		"$(while read -r bit irq; do printf '%s ' "$bit/$irq/$(cpu_of_irq "$irq")"; done <"$FAB/$B/db_vectors")"
	[ "$(cpu_of_irq "$(irq_of_bit "$B" 0)")" = 1 ] &&
		[ "$(cpu_of_irq "$(irq_of_bit "$B" 1)")" = 0 ] &&
		borrow_nvme_offer &&
		echo "# borrowed again as $VBDF, $DISK, on B's doorbell bits $(borrow_bits)"
}
ktap_test_result "borrowed_again_with_b_doorbell_vectors_on_the_other_cpus" reborrowed

A_IRQS1=$(named_irqs "$A")
ktap_test_result "borrowed_again_vectors_effective_affinity_within_their_affinity" vectors_on_their_cpus
ktap_test_result "borrowed_again_fio_on_cpu_0_takes_its_queue_interrupts_on_cpu_0" fio_on_cpu 0
ktap_test_result "borrowed_again_fio_on_cpu_1_takes_its_queue_interrupts_on_cpu_1" fio_on_cpu 1
ktap_test_result "borrowed_again_lender_takes_no_interrupt_during_io" lender_quiet "$A_IRQS1"

ktap_test_result "returned_and_ntb_lending_unloaded" read_returned_and_unloaded

# ntb_tool's directory of the host on port $1 of fabric 1.
tool_dir() {
	echo "$TOOL/$(sim_host_dev 1 "$1")"
}

links_up() {
	[ "$(cat "$(tool_dir 0)/peer0/link")" = Y ] &&
		[ "$(cat "$(tool_dir 1)/peer0/link")" = Y ]
}

# The ivshmem adapters as two ports of an idt switch, with ntb_tool, whose
# doorbell callback logs its db vector and the vector's bits.
idt_hosts() {
	echo 0 >"$SIM_SYSFS/del_fabric" && sim_fabric 1 idt 2 &&
		modprobe ntb_tool dyndbg=+p || return 1
	echo Y >"$(tool_dir 0)/link" && echo Y >"$(tool_dir 1)/link" &&
		wait_for 20 links_up
}
ktap_test_result "idt_switch_of_two_ivshmem_hosts_with_ntb_tool" idt_hosts

# Port 0 rings port 1's doorbell bit $1: port 1's ntb_tool sees db vector
# 14 + $1, the MSI-X vector of the bit (ntb_sim's db_vectors, and the
# hardware number /proc/interrupts shows), with the bit alone in its mask.
idt_bit_is_vector() {
	b=$(sim_host_dev 1 1) bit=$1 vec=$(($1 + 14))
	irq=$(sed -n "s/^$bit //p" "/sys/kernel/debug/ntb_sim/fabric1/$b/db_vectors")
	log_mark
	echo "c $(cat "$(tool_dir 1)/db_valid_mask")" >"$(tool_dir 1)/db" &&
		echo "s $((1 << bit))" >"$(tool_dir 0)/peer_db" || return 1
	wait_for 10 lines_since_mark "doorbell vec" >/dev/null
	seen=$(lines_since_mark "$b: doorbell vec" | sed 's/.*doorbell //')
	echo "# bit $bit: ntb_tool saw \"$seen\"; irq $irq: $(grep "^ *$irq:" /proc/interrupts | tr -s ' ')"
	[ "$seen" = "vec $vec mask $(printf '%#x' $((1 << bit))) bits $(printf '%#x' $((1 << bit)))" ] &&
		grep -q "^ *$irq:.* $vec-edge " /proc/interrupts
}
ktap_test_result "idt_doorbell_bit_2_is_db_vector_16_its_msix_vector" idt_bit_is_vector 2
ktap_test_result "idt_doorbell_bit_3_is_db_vector_17_its_msix_vector" idt_bit_is_vector 3

ktap_finished
