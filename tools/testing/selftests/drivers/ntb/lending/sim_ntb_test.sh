#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The upstream NTB selftest, tools/testing/selftests/ntb/ntb_test.sh from
# linux-source-6.12, run unchanged against two ntb_sim hosts of every
# profile it applies to: ntb_tool (ports, link, doorbells, scratchpads,
# messages, memory windows), ntb_pingpong and ntb_perf. ntb_msi_test is
# refused: the sim cannot turn a CPU write into a window into an interrupt.
# The tiny profile is left out: ntb_perf needs a window per port and the
# script cannot skip it; sim_tool_mesh.sh covers tiny (see ntb_sim.rst).
# vm-devices: edu edu arena
# vm-timeout: 1800
. "$(dirname "$0")/lib.sh"

PROFILES="intel intel-32g idt switchtec"

ktap_print_header
ktap_set_plan $((4 * $(echo "$PROFILES" | wc -w)))

sim_prepare_adapters
mkdir -p /etc/modprobe.d
echo "install ntb_msi_test /bin/false" >/etc/modprobe.d/ntb_sim.conf
modprobe ntb_sim

# Did section $2 of the ntb_test.sh output in $1 pass every run of it?
section_passed() {
	sed -n "/^Starting $2 tests/,/^\$/p" "$1" >/tmp/section
	grep -q Passed /tmp/section && ! grep -qiE 'fail|not match|error' /tmp/section
}

id=0
for profile in $PROFILES; do
	out=/tmp/ntb_test.$profile
	sim_fabric $id "$profile" 2
	a=$(sim_host_dev $id 0)
	b=$(sim_host_dev $id 1)
	bash upstream/ntb/ntb_test.sh -p 22 "$a" "$b" >"$out" 2>&1
	rc=$?
	sed "s/^/# $profile: /" "$out"
	ktap_test_result "ntb_test_sh_exits_0_on_$profile" [ $rc -eq 0 ]
	ktap_test_result "ntb_tool_port_link_db_spad_msg_mw_pass_on_$profile" \
		section_passed "$out" ntb_tool
	ktap_test_result "ntb_pingpong_counts_on_$profile" \
		section_passed "$out" ntb_pingpong
	ktap_test_result "ntb_perf_both_ways_on_$profile" \
		section_passed "$out" ntb_perf
	echo $id >"$SIM_SYSFS/del_fabric"
	id=$((id + 1))
done

unload_ntb_modules
ktap_finished
