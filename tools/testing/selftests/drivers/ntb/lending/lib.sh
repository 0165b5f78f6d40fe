# shellcheck shell=sh
# SPDX-License-Identifier: GPL-2.0
# Helpers for the tests that run inside the VM (see vm.sh); sourced.
# KTAP output comes from the kernel's own ktap_helpers.sh, which vm.sh
# copies from linux-source-6.12 into the guest.

# shellcheck source=/dev/null # present in the guest only
. "$(dirname "$0")/upstream/ktap_helpers.sh"

# The modules of this tree and the upstream NTB ones they stand on.
NTB_MODULES="ntb_lending ntb_sim ntb_tool ntb_perf ntb_pingpong ntb_transport ntb_netdev ntb_msi_test ntb"

# Unload every NTB module, clients before the core; quiet if none loaded.
unload_ntb_modules() {
	for m in $NTB_MODULES; do
		! [ -d "/sys/module/$m" ] || rmmod "$m" || return 1
	done
}

# Number of kernel log lines matching the extended regexp $1.
kernel_log_count() {
	dmesg | grep -cE "$1"
}

# True if the kernel has kmemleak (the debug kernel), which the harness
# scans at the end of every run.
have_kmemleak() {
	[ -e /sys/kernel/debug/kmemleak ]
}
