#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The KUnit suites of lending_fuzz.ko: seeded random and mutated input to
# every parser of peer data in ntb_lending (wire.h's unpackers, the
# channel's frames and reassembly, the switch transport's packets and its
# drop of half-written ones among interleaved senders, config requests and
# the lender's config space virtualization, and the borrower's taking of
# the lender's answers: config answers, BORROW_BARS, BORROW_DB and
# RETURN_DONE), one KTAP result per case. Arguments: the inputs of all
# cases together (default 100000) and the seed (default: one the module
# picks, printed). The seed, the inputs of each suite and their total are
# printed. Without KUnit (the stock kernel) the module is not built and the
# test skips.
# vm-devices: edu
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"

INPUTS=${1:-100000}
SEED=${2:-0}
KUNIT=/sys/kernel/debug/kunit
SUITES="ntbl_fuzz_wire ntbl_fuzz_chan ntbl_fuzz_msgreg ntbl_fuzz_cfg ntbl_fuzz_answers"

ktap_print_header
if ! modinfo lending_fuzz >/dev/null 2>&1 || [ ! -d "$KUNIT" ]; then
	ktap_set_plan 1
	ktap_test_skip "peer_input_fuzz (no KUnit in this kernel; KERNEL=debug has it)"
	ktap_finished
fi

# The suites run while the module loads, and modprobe waits for them,
# minutes for a million inputs: not a hung task. The detector's limit is
# put back after.
hung=$(cat /proc/sys/kernel/hung_task_timeout_secs)
echo 3600 >/proc/sys/kernel/hung_task_timeout_secs
t0=$(uptime_ms)
loaded=1
modprobe lending_fuzz inputs="$INPUTS" seed="$SEED" || loaded=
echo "$hung" >/proc/sys/kernel/hung_task_timeout_secs
if [ -z "$loaded" ]; then
	ktap_set_plan 1
	ktap_test_fail "lending_fuzz_loads"
	ktap_finished
fi
ms=$(($(uptime_ms) - t0))
seed=$(cat /sys/module/lending_fuzz/parameters/seed)

results=/tmp/lending_fuzz.ktap
for s in $SUITES; do
	cat "$KUNIT/$s/results"
done >"$results"
# The cases' own lines, as comments: the seed, the inputs, any failure.
sed -e '/^ \{4\}\(KTAP \|1\.\.\|# Subtest:\|# module:\|# Totals:\|ok \|not ok \)/d' \
	-e '/^ \{4\}# [a-z_]*\.speed: /d' \
	-e '/^ \{4\}/!d' -e 's/^ *\(# \)\{0,1\}/# /' "$results"
grep -E '^ {4}(not )?ok [0-9]+ ' "$results" >/tmp/lending_fuzz.cases
ktap_set_plan "$(wc -l </tmp/lending_fuzz.cases)"
while read -r line; do
	name=$(echo "$line" | sed 's/^\(not \)\{0,1\}ok [0-9]* \([^ ]*\).*/\2/')
	case $line in
	not*) ktap_test_fail "$name" ;;
	*) ktap_test_pass "$name" ;;
	esac
done </tmp/lending_fuzz.cases
# The inputs its cases ran, of a suite's results or of all.
inputs_of() {
	sed -n 's/^ *# [a-z_]*: seed [0-9]*, \([0-9]*\) inputs$/\1/p' "$@" |
		awk '{ n += $1 } END { print n + 0 }'
}
for s in $SUITES; do
	ktap_print_msg "$s: $(inputs_of "$KUNIT/$s/results") inputs"
done
total=$(inputs_of "$results")
ktap_print_msg "lending_fuzz: seed $seed, $total inputs in $ms ms;" \
	"again: modprobe lending_fuzz seed=$seed inputs=$INPUTS"
rmmod lending_fuzz
ktap_finished
