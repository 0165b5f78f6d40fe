#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ntb_sim on ivshmem-doorbell adapters: a doorbell vector per bit, each
# bit's vector on a CPU of its own (bit N on CPU N mod 2). A CPU ring of
# the peer's bit lands on that bit's vector and CPU. Host A lends its nvme
# to host B with ntb_lending, B's stock driver runs fio on it, and the
# drive's MSI-X writes ring B's doorbell vectors with no interrupt on A;
# which vectors and CPUs took them is printed. (Each borrowed vector is
# not yet aimed at a bit whose CPU matches its affinity: ntb_lending's
# next step.)
# vm-devices: nvme ivshmem ivshmem
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"

CFS=/sys/kernel/config/ntb_lending
FAB=/sys/kernel/debug/ntb_sim/fabric0

ktap_print_header
ktap_set_plan 6

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

borrowed() {
	modprobe nvme && wait_for 40 has_disk "$NVME" && modprobe ntb_lending &&
		wait_for 20 file_set "$CFS/$B/node_id" || return 1
	L=$CFS/$A/lends/$NVME
	mkdir "$CFS/$A/connections/1" "$L" && echo 1 >"$L/available" &&
		wait_for 20 offer_available && borrow_nvme_offer &&
		echo "# borrowed as $VBDF, $DISK"
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
	echo "# the borrowed nvme's vectors: $(grep nvme /proc/interrupts | grep -v "$NVME" | awk '{ print $1, $2, $3, $NF }' | tr '\n' ';')"
}
ktap_test_result "fio_verified_on_the_borrowed_nvme" fio_over_vectors

lender_quiet() {
	a=$(($(named_irqs "$A") - A_IRQS0))
	echo "# during fio: lender's adapter $a, lender's nvme $(named_irqs "$NVME")"
	[ "$a" -eq 0 ] && [ "$(named_irqs "$NVME")" -eq 0 ]
}
ktap_test_result "lender_takes_no_interrupt_during_io" lender_quiet

ktap_finished
