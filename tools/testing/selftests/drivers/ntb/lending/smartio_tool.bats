#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# smartio_tool on the host, against a fake ntb_lending tree: plain
# directories and one-line files in BATS_TEST_TMPDIR, shaped as
# Documentation/ntb-lending/configfs.rst shows the kernel's. Where a test
# needs the kernel's side of a mkdir, rmdir or write (a refusal, or the
# attributes a new group comes with), a stub of that command on PATH plays it.

bats_require_minimum_version 1.5.0

TOP=$(cd "$BATS_TEST_DIRNAME/../../../../../.." && pwd)
TOOL=$TOP/scripts/smartio_tool
COMPLETION=$TOP/scripts/smartio_tool.bash-completion
MAN=$TOP/Documentation/ntb-lending/smartio_tool.8

# ---- The fake tree ----

# put FILE VALUE: an attribute, one line as configfs shows it.
put() {
	mkdir -p "${1%/*}"
	printf '%s\n' "$2" >"$1"
}

# adapter NAME NODEID: an adapter's group with its empty subgroups.
adapter() {
	mkdir -p "$CFS/$1"/{connections,lends,offers,borrows}
	put "$CFS/$1/node_id" "$2"
	: >"$CFS/$1/replay_offers"
}

# lend BDF ID STATE BORROWER VENDOR DEVICE CLASS: a lend entry of adapter A.
lend() {
	local d=$A/lends/$1 available=1
	[ "$3" != local ] || available=0
	put "$d/id" "$2"
	put "$d/state" "$3"
	put "$d/available" "$available"
	put "$d/borrower" "$4"
	put "$d/vendor" "$5"
	put "$d/device" "$6"
	put "$d/class" "$7"
}

# offer ID LENDER BDF VENDOR DEVICE CLASS STATE: an offer to adapter A.
offer() {
	local d=$A/offers/$1
	put "$d/lender" "$2"
	put "$d/bdf" "$3"
	put "$d/vendor" "$4"
	put "$d/device" "$5"
	put "$d/class" "$6"
	put "$d/state" "$7"
}

# borrow ID STATE LOCAL_BDF: adapter A's borrow of offer ID.
borrow() {
	put "$A/borrows/$1/state" "$2"
	put "$A/borrows/$1/local_bdf" "$3"
}

# A few vendors and devices, a subsystem line to skip, a name that JSON
# must escape, and a class section that must not be taken for a vendor.
write_pci_ids() {
	printf '%s\n' \
		'# a small pci.ids for smartio_tool.bats' \
		'1b36  Red Hat, Inc.' \
		$'\t0010  QEMU NVM Express Controller' \
		'8086  Intel Corporation' \
		$'\t10d3  82574L Gigabit Network Connection' \
		$'\t\t8086 a01f  Gigabit CT Desktop Adapter' \
		$'\t1533  I210 Gigabit Network Connection' \
		'abcd  Acme "Quoted" \ Devices' \
		$'\t0001  Widget' \
		'C 12  Processing accelerators' \
		$'\t00  Processing accelerators' >"$SMARTIO_PCI_IDS"
}

# fake_sysfs: a /sys where ntb_lending is loaded, the host has one IOMMU,
# and the adapter's PCI function (the NTB device's parent) is in IOMMU
# group 3, of type DMA.
fake_sysfs() {
	SYS=$BATS_TEST_TMPDIR/sys
	local pci=$SYS/devices/pci0000:00/0000:00:05.0
	mkdir -p "$SYS/module/ntb_lending" "$SYS/class/iommu/dmar0" "$SYS/bus/ntb/devices" "$pci/0000:00:05.0"
	put "$SYS/kernel/iommu_groups/3/type" DMA
	ln -s ../../../kernel/iommu_groups/3 "$pci/iommu_group"
	ln -s ../../../devices/pci0000:00/0000:00:05.0/0000:00:05.0 "$SYS/bus/ntb/devices/0000:00:05.0"
	export SMARTIO_SYSFS=$SYS
}

# lspci_stub: lspci writes its arguments, one a line, to lspci.args, copies
# the dump that -F names to lspci.dump, and prints one line; asked for
# names (-vmm), it is the real lspci, with the test's pci.ids and without
# this host's udev hwdb, so that the names are the test's.
lspci_stub() {
	local real
	real=$(PATH=${PATH//$BIN:/} command -v lspci) ||
		skip "no lspci: install pciutils (scripts/install-deps)"
	cat >"$BIN/lspci" <<-EOF
	#!/bin/sh
	[ "\$1" != -vmm ] || exec $real -O hwdb.disable=1 "\$@"
	printf '%s\n' "\$@" >"$BATS_TEST_TMPDIR/lspci.args"
	while [ \$# -gt 0 ]; do
		[ "\$1" != -F ] || cp "\$2" "$BATS_TEST_TMPDIR/lspci.dump"
		shift
	done
	echo "lspci ran"
	EOF
	chmod +x "$BIN/lspci"
}

# This host is node 2 on adapter 0000:00:05.0, connected to nodes 1 and 3.
# It lends one device to node 1, offers one more and keeps one local;
# node 1 offers two (one borrowed here), node 3 one that another node has,
# and a borrow from node 3 was lost with its offer. Nodes 1 and 3 are up;
# node 1 reaches the lent device through window 0 and node 1's device this
# host's memory through window 1.
setup() {
	CFS=$BATS_TEST_TMPDIR/ntb_lending
	A=$CFS/0000:00:05.0
	BIN=$BATS_TEST_TMPDIR/bin
	mkdir -p "$BIN"
	export SMARTIO_CONFIGFS=$CFS SMARTIO_PCI_IDS=$BATS_TEST_TMPDIR/pci.ids
	unset SMARTIO_ADAPTER
	write_pci_ids
	adapter 0000:00:05.0 2
	mkdir "$A/connections/1" "$A/connections/3"
	lend 0000:03:00.0 20000 available "" 0x8086 0x10d3 0x020000
	lend 0000:04:00.0 20001 borrowed 1 0x1b36 0x0010 0x010802
	lend 0000:05:00.0 20002 local "" 0xabcd 0x0001 0x120000
	offer 10000 1 0000:03:00.0 0x8086 0x1533 0x020000 available
	offer 10001 1 0000:81:00.0 0x1b36 0x0010 0x010802 borrowed
	borrow 10001 borrowed 10000:00:00.0
	offer 30000 3 0000:00:04.0 0x1234 0x11e8 0x00ff00 borrowed
	borrow 30001 lost ""
	printf '%s\n' "1 up 1" "3 up 1" >"$A/peers"
	printf '%s\n' "0 1 device 16384" "1 1 memory 268435456" >"$A/windows"
	printf '%s\n' "0x3 control" "0x4 config" "0x7fff8 vectors 10001" >"$A/doorbells"
	put "$A/lends/0000:03:00.0/iommu" confined
	put "$A/lends/0000:04:00.0/iommu" confined
	put "$A/lends/0000:05:00.0/iommu" ""
	fake_sysfs
	lspci_stub
}

# return_10001: this host no longer borrows from node 1.
return_10001() {
	rm -r "$A/borrows/10001"
	put "$A/offers/10001/state" available
}

# ---- Running the tool ----

# run_tool ARGS: the tool with the stubs in BIN first on PATH; stdout in
# $output, stderr in $stderr.
run_tool() {
	run --separate-stderr env PATH="$BIN:$PATH" "$TOOL" "$@"
}

# fails_with CODE PATTERN: the tool exited CODE, printed nothing on stdout
# and one line on stderr matching the glob PATTERN.
fails_with() {
	echo "status $status, stdout '$output', stderr '$stderr'"
	[ "$status" -eq "$1" ]
	[ -z "$output" ]
	# shellcheck disable=SC2154 # run --separate-stderr sets it
	[ "${#stderr_lines[@]}" -eq 1 ]
	# shellcheck disable=SC2053 # $2 is a glob on purpose
	[[ $stderr == smartio_tool:\ $2 ]]
}

succeeds() {
	echo "status $status, stdout '$output', stderr '$stderr'"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
}

# parses: the output is JSON, as jq and Python's parser read it.
parses() {
	jq -e . <<<"$output" >/dev/null
	python3 -m json.tool <<<"$output" >/dev/null
}

# ids_listed: the Ids of the list in $output, blank-separated.
ids_listed() {
	tail -n +2 <<<"$output" | cut -d ' ' -f 1 | tr '\n' ' '
}

# diag_finds CHECK PROBLEM: diag exits 1 and reports PROBLEM for CHECK, and
# that alone.
diag_finds() {
	run_tool diag
	echo "status $status, stdout '$output', stderr '$stderr'"
	[ "$status" -eq 1 ]
	[ -z "$stderr" ]
	grep -qxF "$1: problem: $2" <<<"$output"
	[ "$(grep -c ': problem: ' <<<"$output")" -eq 1 ]
}

# refuse COMMAND REASON: the kernel refuses every COMMAND (mkdir, rmdir or
# dd) with strerror text REASON.
refuse() {
	printf '#!/bin/sh\necho "%s: cannot do it to %s: %s" >&2\nexit 1\n' \
		"$1" "'x'" "$2" >"$BIN/$1"
	chmod +x "$BIN/$1"
}

# configfs_like: mkdir and rmdir as configfs does them: a new lend entry or
# borrow comes with its attributes, and rmdir takes them along.
configfs_like() {
	local real_mkdir real_rmdir
	real_mkdir=$(command -v mkdir)
	real_rmdir=$(command -v rmdir)
	cat >"$BIN/mkdir" <<-EOF
	#!/bin/sh
	[ "\$1" = -- ] && shift
	$real_mkdir "\$1" || exit
	put() { printf '%s\n' "\$2" >"\$1/\$3"; }
	case \$1 in
	*/lends/*)
		put "\$1" 20003 id; put "\$1" local state; put "\$1" 0 available
		put "\$1" "" borrower; put "\$1" 0x8086 vendor; put "\$1" 0x10d3 device
		put "\$1" 0x020000 class ;;
	*/borrows/*)
		put "\$1" borrowed state; put "\$1" 10000:00:01.0 local_bdf ;;
	esac
	EOF
	cat >"$BIN/rmdir" <<-EOF
	#!/bin/sh
	[ "\$1" = -- ] && shift
	rm -f "\$1"/*
	exec $real_rmdir "\$1"
	EOF
	chmod +x "$BIN/mkdir" "$BIN/rmdir"
}

# as_uid UID: id -u says UID, and the tool looks for the real tree.
as_uid() {
	printf '#!/bin/sh\necho %s\n' "$1" >"$BIN/id"
	chmod +x "$BIN/id"
	unset SMARTIO_CONFIGFS
}

# stub COMMAND STATUS [MESSAGE]: COMMAND prints MESSAGE on stderr and exits STATUS.
stub() {
	printf '#!/bin/sh\n[ -z "%s" ] || echo "%s" >&2\nexit %s\n' "${3:-}" "${3:-}" "$2" \
		>"$BIN/$1"
	chmod +x "$BIN/$1"
}

real_tree_absent() {
	[ ! -d /sys/kernel/config/ntb_lending ] ||
		skip "this host has ntb_lending loaded"
}

# ---- Parsing ----

@test "bdf_every_spelling_names_the_same_lend_entry" {
	for bdf in 05:00.0 0000:05:00.0 0000:05:00:0 05:00:0 5:0.0 0:5:0:0 0000:05.00.0; do
		put "$A/lends/0000:05:00.0/available" 0
		run_tool available "$bdf"
		succeeds
		[ "$(cat "$A/lends/0000:05:00.0/available")" = 1 ]
	done
}

@test "bdf_is_lowercased_and_its_domain_padded_or_kept_wide" {
	lend 0001:0a:1f.7 20004 local "" 0x8086 0x10d3 0x020000
	run_tool available 1:0A:1F.7
	succeeds
	[ "$(cat "$A/lends/0001:0a:1f.7/available")" = 1 ]
	lend 10000:00:00.0 20005 local "" 0x8086 0x10d3 0x020000
	run_tool available 10000:00:00.0
	succeeds
	[ "$(cat "$A/lends/10000:00:00.0/available")" = 1 ]
}

@test "bad_bdfs_are_usage_errors_that_show_the_right_form" {
	for bdf in "" 3 03:00 0000:03:00 0000:03:00.8 03:20.0 100:00.0 xx:00.0 \
		0000:03:00.0.1 :03:00.0 03:00.0: 03::00.0 123456789:00:00.0 "03:00.*" \
		"0000:03:00.0 " 03:00.00; do
		run_tool available "$bdf"
		fails_with 2 "'$bdf' is not a PCI address: use [[]domain:]bus:dev.fn as lspci -D prints it*"
	done
}

@test "ids_with_and_without_0x_or_leading_zeros_name_the_same_device" {
	for id in 10000 0x10000 0X10000 010000 0x010000; do
		run_tool show "$id"
		succeeds
		[ "${lines[0]}" = "id:          10000" ]
	done
	lend 0000:06:00.0 2000a local "" 0x8086 0x10d3 0x020000
	run_tool show 0x2000A
	succeeds
	[ "${lines[0]}" = "id:          2000a" ]
}

@test "ids_the_kernel_pads_with_zeros_are_found_by_value" {
	offer 00001 0 0000:02:00.0 0x8086 0x10d3 0x020000 available
	configfs_like
	run_tool borrow 1
	succeeds
	[ -d "$A/borrows/00001" ]
	run_tool show 0x1
	succeeds
	[ "${lines[0]}" = "id:          00001" ]
	run_tool list
	[[ ${lines[1]} == "00001  0 "* ]]
	run_tool return 01
	succeeds
	[ ! -e "$A/borrows/00001" ]
}

@test "bad_ids_are_usage_errors" {
	for id in "" 0x xyz 10000g 123456789 10000.0 " 10000"; do
		run_tool show "$id"
		fails_with 2 "'$id' is not a device Id: use the hex Id that smartio_tool list shows*"
	done
	run_tool borrow -5
	fails_with 2 "unknown option '-5'; see smartio_tool help"
}

@test "node_ids_are_decimal_and_lose_leading_zeros" {
	for node in 1x 0x1 a "" 1234567890; do
		run_tool connect "$node"
		fails_with 2 "'$node' is not a NodeId*"
	done
	run_tool connect 007
	succeeds
	[ -d "$A/connections/7" ]
	[ ! -e "$A/connections/007" ]
}

@test "unknown_command_is_a_usage_error" {
	run_tool lend 03:00.0
	fails_with 2 "unknown command 'lend'; see smartio_tool help"
	run_tool dis_diag
	fails_with 2 "unknown command 'dis_diag'; see smartio_tool help"
	# However many arguments follow: the command is what is wrong.
	run_tool lend 03:00.0 1
	fails_with 2 "unknown command 'lend'; see smartio_tool help"
	run_tool frob a b c --json
	fails_with 2 "unknown command 'frob'; see smartio_tool help"
}

@test "missing_and_extra_arguments_are_usage_errors" {
	for cmd in connect disconnect; do
		run_tool "$cmd"
		fails_with 2 "$cmd needs a NodeId; see smartio_tool help"
	done
	for cmd in add available unavailable remove; do
		run_tool "$cmd"
		fails_with 2 "$cmd needs a BDF; see smartio_tool help"
	done
	for cmd in show borrow return lspci; do
		run_tool "$cmd"
		fails_with 2 "$cmd needs an Id; see smartio_tool help"
	done
	for cmd in list status diag replay; do
		run_tool "$cmd" 10000
		fails_with 2 "$cmd takes no argument; see smartio_tool help"
	done
	run_tool borrow 10000 10001
	fails_with 2 "too many arguments: '10001'; see smartio_tool help"
	run_tool list 10000 10001
	fails_with 2 "too many arguments: '10001'; see smartio_tool help"
}

@test "options_are_refused_where_they_mean_nothing" {
	run_tool connect 1 --json
	fails_with 2 "--json: connect prints no data; see smartio_tool help"
	run_tool borrow 10000 --force
	fails_with 2 "--force: borrow has nothing to force; see smartio_tool help"
	run_tool add 03:00.0 --force
	fails_with 2 "--force: add has nothing to force; see smartio_tool help"
	run_tool list --verbose
	fails_with 2 "unknown option '--verbose'; see smartio_tool help"
	run_tool list --adapter
	fails_with 2 "--adapter needs an adapter name; see smartio_tool help"
	run_tool list --adapter=
	fails_with 2 "--adapter needs an adapter name; see smartio_tool help"
	for opt in --raw --emulated; do
		run_tool show 10000 "$opt"
		fails_with 2 "$opt: only lspci takes it; see smartio_tool help"
		run_tool status "$opt"
		fails_with 2 "$opt: only lspci takes it; see smartio_tool help"
	done
	run_tool lspci --raw 10001 --emulated
	fails_with 2 "--raw and --emulated: choose one; see smartio_tool help"
	run_tool lspci 10001 --json
	fails_with 2 "--json: lspci prints what lspci prints, as text; see smartio_tool help"
	run_tool status --force
	fails_with 2 "--force: status has nothing to force; see smartio_tool help"
	[ ! -e "$BATS_TEST_TMPDIR/lspci.args" ]
}

@test "no_command_prints_usage_on_stderr_and_fails" {
	run_tool
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[[ $stderr == "usage: smartio_tool "* ]]
}

@test "help_lists_the_commands_and_no_others" {
	for help in help --help -h; do
		# shellcheck disable=SC2086 # "list --help" is two words
		run_tool $help
		succeeds
		[[ ${lines[0]} == "usage: smartio_tool "* ]]
	done
	for cmd in connect disconnect add available unavailable remove list show borrow return \
		replay lspci status diag; do
		echo "$output" | grep -qE "^  $cmd "
	done
	[ "$(echo "$output" | grep -cE '^  [a-z]+ ')" -eq 15 ]	# and help
	echo "$output" | grep -qxF '       smartio_tool [--adapter NAME] lspci [--raw|--emulated] ID'
	echo "$output" | grep -q '^  --raw, --emulated '
	echo "$output" | grep -q '5 permission (lspci --raw on a borrower)'
	echo "$output" | grep -q '^ntb_lending not loaded.$'
}

@test "help_of_a_command_is_the_same_from_help_and_from_its_help_option" {
	local cmd cmds
	# Every command the usage lists, so that a new one cannot lack its help.
	run_tool help
	cmds=$(echo "$output" | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p')
	[ "$(echo "$cmds" | wc -l)" -eq 15 ]
	for cmd in $cmds; do
		run_tool help "$cmd"
		succeeds
		[[ ${lines[0]} == "usage: smartio_tool "*"$cmd"* ]]
		local want=$output
		for opt in --help -h; do
			run_tool "$cmd" "$opt"
			succeeds
			[ "$output" = "$want" ]
		done
	done
	# --help wins over what else the line says, as it does alone.
	run_tool borrow 10000 --json --help
	succeeds
	[ "${lines[0]}" = "usage: smartio_tool [--adapter NAME] borrow [--json] ID" ]
	[ ! -e "$A/borrows/10000" ]
}

@test "help_of_an_unknown_command_fails_with_one_line" {
	for line in "help frob" "frob --help"; do
		# shellcheck disable=SC2086 # two words
		run_tool $line
		fails_with 2 "unknown command 'frob': smartio_tool help lists the commands"
	done
	run_tool help list show
	fails_with 2 "too many arguments: 'show'; see smartio_tool help"
}

@test "version_prints_name_and_version" {
	run_tool --version
	succeeds
	[[ $output =~ ^smartio_tool\ [0-9]+\.[0-9]+$ ]]
}

# ---- Adapters and the tree ----

@test "the_only_adapter_is_used_without_asking" {
	run_tool connect 5
	succeeds
	[ -d "$A/connections/5" ]
}

@test "several_adapters_need_a_choice_and_are_named_in_one_line" {
	adapter 0000:00:06.0 0
	run_tool list
	fails_with 2 "several NTB adapters (0000:00:05.0 0000:00:06.0): choose one with --adapter NAME or SMARTIO_ADAPTER=NAME; see smartio_tool help"
}

@test "adapter_comes_from_the_option_before_the_environment" {
	adapter 0000:00:06.0 0
	run_tool connect 9 --adapter 0000:00:06.0
	succeeds
	[ -d "$CFS/0000:00:06.0/connections/9" ]
	SMARTIO_ADAPTER=0000:00:06.0 run_tool connect 8
	succeeds
	[ -d "$CFS/0000:00:06.0/connections/8" ]
	SMARTIO_ADAPTER=0000:00:06.0 run_tool --adapter=0000:00:05.0 connect 7
	succeeds
	[ -d "$A/connections/7" ]
	[ ! -e "$CFS/0000:00:06.0/connections/7" ]
}

@test "unknown_adapter_is_not_found_and_the_adapters_are_named" {
	run_tool --adapter 0000:00:09.0 list
	fails_with 3 "no NTB adapter 0000:00:09.0; the adapters are: 0000:00:05.0"
	run_tool --adapter ../x list
	fails_with 2 "'../x' is not an adapter name; see smartio_tool help"
}

@test "no_adapter_means_the_fabric_is_down" {
	rm -rf "$A"
	run_tool list
	fails_with 6 "no NTB adapter in $CFS: load the NTB hardware driver (or ntb_sim) and check dmesg"
}

@test "a_missing_tree_means_the_module_is_not_loaded" {
	SMARTIO_CONFIGFS=$BATS_TEST_TMPDIR/none run_tool list
	fails_with 6 "SMARTIO_CONFIGFS=$BATS_TEST_TMPDIR/none is not a directory"
}

@test "changes_need_root_and_reading_does_not" {
	real_tree_absent
	as_uid 1000
	for cmd in "connect 1" "disconnect 1" "add 03:00.0" "available 03:00.0" \
		"unavailable 03:00.0" "remove 03:00.0" "borrow 10000" "return 10000" replay; do
		# shellcheck disable=SC2086 # command and argument
		run_tool $cmd
		fails_with 5 "${cmd% *} changes the lending setup and needs root: run it with sudo"
	done
	# list may read the tree as anyone; only loading it needs root.
	run_tool list
	fails_with 5 "/sys/kernel/config/ntb_lending does not exist: run smartio_tool as root to load ntb_lending"
}

@test "a_module_that_will_not_load_is_reported_with_how_to_load_it" {
	real_tree_absent
	as_uid 0
	stub modprobe 1 "modprobe: FATAL: Module ntb_lending not found in directory /lib/modules/6.12.0"
	stub mount 0
	run_tool list
	fails_with 6 "ntb_lending is not loaded and modprobe ntb_lending failed (Module ntb_lending not found in directory /lib/modules/6.12.0): install it (make install: Documentation/ntb-lending/admin-guide.rst) or insmod ntb_lending.ko"
}

@test "configfs_that_will_not_mount_is_reported" {
	real_tree_absent
	! grep -q ' /sys/kernel/config configfs ' /proc/mounts ||
		skip "configfs is mounted on this host"
	as_uid 0
	stub modprobe 0
	stub mount 32 "mount: /sys/kernel/config: mount point does not exist."
	run_tool list
	fails_with 6 "configfs is not mounted and mount -t configfs none /sys/kernel/config failed: the kernel needs CONFIG_CONFIGFS_FS"
}

@test "a_loaded_module_without_its_tree_is_reported" {
	real_tree_absent
	as_uid 0
	stub modprobe 0
	stub mount 0
	run_tool list
	fails_with 6 "ntb_lending is loaded but /sys/kernel/config/ntb_lending did not appear: check dmesg"
}

# ---- Output ----

@test "list_prints_a_header_and_one_aligned_row_per_device_in_id_order" {
	run_tool list
	succeeds
	diff -u - <(printf '%s\n' "$output") <<-'EOF'
	ID     LENDER  BDF           DESCRIPTION                                          STATE
	10000  1       0000:03:00.0  Intel Corporation I210 Gigabit Network Connection    available
	10001  1       0000:81:00.0  Red Hat, Inc. QEMU NVM Express Controller            borrowed-here
	20000  2       0000:03:00.0  Intel Corporation 82574L Gigabit Network Connection  available
	20001  2       0000:04:00.0  Red Hat, Inc. QEMU NVM Express Controller            borrowed
	20002  2       0000:05:00.0  Acme "Quoted" \ Devices Widget                       local
	30000  3       0000:00:04.0  Vendor 1234 Device 11e8                              borrowed
	30001  3       -             -                                                    lost
	EOF
}

@test "list_names_devices_as_lspci_does_or_falls_back_to_hex_ids" {
	offer 10002 1 0000:82:00.0 0x8086 0xffff 0x020000 available
	run_tool list
	succeeds
	[[ $output == *"10002  1       0000:82:00.0  Intel Corporation Device ffff "* ]]
	[[ $output == *"30000  3       0000:00:04.0  Vendor 1234 Device 11e8 "* ]]
	# What lspci -vmm says of a function with these ids, word for word.
	local v d
	v=$(sed -n 's/^Vendor:\t//p' <<<"$(printf '00:00.0 ids\n00: 86 80 33 15\n' |
		"$BIN/lspci" -vmm -i "$SMARTIO_PCI_IDS" -F /proc/self/fd/0)")
	d=$(sed -n 's/^Device:\t//p' <<<"$(printf '00:00.0 ids\n00: 86 80 33 15\n' |
		"$BIN/lspci" -vmm -i "$SMARTIO_PCI_IDS" -F /proc/self/fd/0)")
	[[ ${lines[1]} == "10000  1       0000:03:00.0  $v $d  "* ]]
	# Without lspci, the ids; so too when lspci fails.
	command -v busybox >/dev/null || skip "no busybox"
	busybox_only "$BATS_TEST_TMPDIR/busybox"
	run --separate-stderr env PATH="$BATS_TEST_TMPDIR/busybox" "$BATS_TEST_TMPDIR/busybox/sh" \
		"$TOOL" list
	succeeds
	[[ ${lines[1]} == "10000  1       0000:03:00.0  8086:1533  "*" available" ]]
	[[ ${lines[4]} == "20000  2       0000:03:00.0  8086:10d3  "*" available" ]]
	stub lspci 1 "lspci: cannot open"
	run_tool list
	succeeds
	[[ ${lines[1]} == "10000  1       0000:03:00.0  8086:1533  "*" available" ]]
}

@test "names_come_from_lspci_in_one_run_for_every_device" {
	local real
	real=$(PATH=${PATH//$BIN:/} command -v lspci)
	printf '#!/bin/sh\necho run >>"%s"\nexec %s -O hwdb.disable=1 "$@"\n' \
		"$BATS_TEST_TMPDIR/runs" "$real" >"$BIN/lspci"
	run_tool list
	succeeds
	[ "$(wc -l <"$BATS_TEST_TMPDIR/runs")" -eq 1 ]
}

@test "list_filters_by_node_state_and_class_and_all_together" {
	run_tool list --node 1
	succeeds
	[ "$(ids_listed)" = "10000 10001 " ]
	run_tool list --node=2
	[ "$(ids_listed)" = "20000 20001 20002 " ]
	run_tool list --state borrowed
	[ "$(ids_listed)" = "20001 30000 " ]
	run_tool list --state=lost
	[ "$(ids_listed)" = "30001 " ]
	run_tool list --class 02
	[ "$(ids_listed)" = "10000 20000 " ]
	run_tool list --class 0x0108
	[ "$(ids_listed)" = "10001 20001 " ]
	run_tool list --class 010802 --node 2 --state borrowed
	[ "$(ids_listed)" = "20001 " ]
	run_tool list --class 12 --state available
	succeeds
	[ "$output" = "ID  LENDER  BDF  DESCRIPTION  STATE" ]
	run_tool list --node 1 --json
	parses
	[ "$(jq -c 'map(.id)' <<<"$output")" = '["10000","10001"]' ]
	run_tool list --node 9 --json
	[ "$output" = "[]" ]
}

@test "list_filters_that_mean_nothing_are_usage_errors" {
	run_tool list --state offered
	fails_with 2 "'offered' is not a state: use one of local available borrowed borrowed-here lost; see smartio_tool help"
	for class in 1 012 0x 0g 01080200; do
		run_tool list --class "$class"
		fails_with 2 "'$class' is not a PCI class: use its hex code as lspci -n prints it*"
	done
	run_tool list --node x
	fails_with 2 "'x' is not a NodeId*"
	for opt in --node --state --class; do
		run_tool list "$opt"
		fails_with 2 "$opt needs a value; see smartio_tool help"
		run_tool show 10000 "$opt" 1
		[ "$status" -eq 2 ]
	done
	run_tool show 10000 --node 1
	fails_with 2 "--node: only list takes it; see smartio_tool help"
}

@test "list_of_nothing_is_a_header_or_an_empty_json_array" {
	rm -rf "$A"/{lends,offers,borrows}/*
	run_tool list
	succeeds
	[ "$output" = "ID  LENDER  BDF  DESCRIPTION  STATE" ]
	run_tool list --json
	succeeds
	[ "$output" = "[]" ]
}

@test "list_json_is_valid_and_has_every_field_of_every_device" {
	run_tool list --json
	succeeds
	[ "$(jq length <<<"$output")" -eq 7 ]
	[ "$(jq -r '.[0] | keys_unsorted | join(" ")' <<<"$output")" = \
		"id lender bdf vendor device class description state borrower local_bdf" ]
	[ "$(jq -r '.[1] | .id + " " + .state + " " + .local_bdf' <<<"$output")" = \
		"10001 borrowed-here 10000:00:00.0" ]
	[ "$(jq -c '.[3] | [.borrower, .lender, .bdf]' <<<"$output")" = '[1,2,"0000:04:00.0"]' ]
	[ "$(jq -r '.[4].description' <<<"$output")" = 'Acme "Quoted" \ Devices Widget' ]
	[ "$(jq -c '.[6] | [.state, .lender, .bdf, .description]' <<<"$output")" = '["lost",3,null,null]' ]
}

@test "show_a_device_borrowed_here_includes_its_local_bdf" {
	run_tool show 10001
	succeeds
	diff -u - <(printf '%s\n' "$output") <<-'EOF'
	id:          10001
	lender:      1
	bdf:         0000:81:00.0
	vendor:      0x1b36
	device:      0x0010
	class:       0x010802
	description: Red Hat, Inc. QEMU NVM Express Controller
	state:       borrowed-here
	local_bdf:   10000:00:00.0
	EOF
}

@test "show_a_device_this_host_lends_includes_its_borrower" {
	run_tool show 0x20001
	succeeds
	[[ $output == *"bdf:         0000:04:00.0"* ]]
	[[ $output == *"state:       borrowed"* ]]
	[[ $output == *"borrower:    1"* ]]
	[[ $output != *local_bdf* ]]
}

@test "show_json_is_one_object_with_every_field" {
	run_tool show 30000 --json
	succeeds
	[ "${#lines[@]}" -eq 1 ]
	[ "$(jq -c '[.id, .lender, .description, .state, .local_bdf]' <<<"$output")" = \
		'["30000",3,"Vendor 1234 Device 11e8","borrowed",null]' ]
}

@test "show_of_an_unknown_id_is_not_found" {
	run_tool show 40000
	fails_with 3 "no device 40000 on 0000:00:05.0: smartio_tool list shows the Ids"
}

@test "ids_in_messages_are_spelled_as_list_shows_them" {
	# Node 0's Ids are leading zeros and an index, as the kernel names them.
	run_tool show 0x1
	fails_with 3 "no device 00001 on 0000:00:05.0: smartio_tool list shows the Ids"
	run_tool borrow 0
	fails_with 3 "nothing offers 00000 to 0000:00:05.0: *"
	run_tool return 00002
	fails_with 3 "00002 is not borrowed by this host on 0000:00:05.0: *"
}

# ---- Scripts written for Dolphin's smartio_tool ----

@test "dolphin_available_force_offers_the_device_as_available_does" {
	run_tool available --force 05:00.0
	succeeds
	[ "$(cat "$A/lends/0000:05:00.0/available")" = 1 ]
	run_tool available 03:00.0 --force
	succeeds
}

@test "dolphin_connect_takes_the_adapter_after_the_node_id" {
	adapter 0000:00:06.0 0
	run_tool connect 9 0000:00:06.0
	succeeds
	[ -d "$CFS/0000:00:06.0/connections/9" ]
	[ ! -e "$A/connections/9" ]
	run_tool disconnect 9 0000:00:06.0
	succeeds
	[ ! -e "$CFS/0000:00:06.0/connections/9" ]
	SMARTIO_ADAPTER=0000:00:06.0 run_tool connect 9 0000:00:06.0
	succeeds
	run_tool connect 9 0000:00:05.0 --adapter 0000:00:06.0
	fails_with 2 "connect names adapter 0000:00:05.0 after the NodeId and 0000:00:06.0 with --adapter or SMARTIO_ADAPTER: choose one; see smartio_tool help"
}

@test "dolphin_adapter_number_0_is_the_only_adapter_and_others_are_refused" {
	run_tool connect 9 0
	succeeds
	[ -d "$A/connections/9" ]
	run_tool connect 9 1
	fails_with 2 "'1' is no adapter of this host, whose adapters are named by their PCI address (0000:00:05.0): give it as --adapter NAME; see smartio_tool help"
	adapter 0000:00:06.0 0
	run_tool connect 8 0
	fails_with 2 "'0' is no adapter of this host, whose adapters are named by their PCI address (0000:00:05.0 0000:00:06.0): give it as --adapter NAME; see smartio_tool help"
	[ ! -e "$A/connections/8" ]
	run_tool connect 8 ../x
	fails_with 2 "'../x' is no adapter of this host, *"
	run_tool connect 8 0 1
	fails_with 2 "too many arguments: '1'; see smartio_tool help"
}

@test "dolphin_style_script_runs_unchanged" {
	configfs_like
	local script=$BATS_TEST_TMPDIR/lend.sh
	cat >"$script" <<-EOF
	#!/bin/sh -e
	smartio_tool connect 1 0
	smartio_tool add 0000:06:00:0
	smartio_tool available --force 0000:06:00:0
	smartio_tool list
	EOF
	ln -s "$TOOL" "$BIN/smartio_tool"
	run --separate-stderr env PATH="$BIN:$PATH" sh "$script"
	succeeds
	[ "${lines[0]}" = 20003 ]
	[ "$(cat "$A/lends/0000:06:00.0/available")" = 1 ]
}

# ---- JSON ----

@test "every_json_output_parses" {
	configfs_like
	return_10001
	local cmd
	for cmd in list "show 10000" "show 20001" "show 30001" status diag "add 06:00.0" \
		"borrow 10000"; do
		# shellcheck disable=SC2086 # command and argument
		run_tool $cmd --json
		echo "$cmd: status $status, stdout '$output', stderr '$stderr'"
		[ -n "$output" ]
		parses
	done
}

@test "json_values_are_typed_and_null_where_empty" {
	run_tool list --json
	parses
	# Node Ids are numbers; Ids, BDFs and PCI ids are names, in hex.
	[ "$(jq -r 'map(.lender | type) | unique | join(" ")' <<<"$output")" = "number" ]
	[ "$(jq -r 'map(.id, .bdf, .vendor, .class | type) | unique | join(" ")' <<<"$output")" = \
		"null string" ]
	[ "$(jq -c 'map(.borrower)' <<<"$output")" = '[null,null,null,1,null,null,null]' ]
	[ "$(jq -r '[.[] | to_entries[] | select(.value == "")] | length' <<<"$output")" -eq 0 ]
	run_tool diag --json
	[ "$(jq -c '[.ok, .module.loaded] | map(type)' <<<"$output")" = '["boolean","boolean"]' ]
	# A peer whose protocol is not known yet has none.
	printf '%s\n' "1 link -" >"$A/peers"
	run_tool status --json
	[ "$(jq -c '.adapters[0].peers[0]' <<<"$output")" = '{"node_id":1,"state":"link","protocol":null}' ]
}

@test "json_escapes_control_characters_and_keeps_them" {
	local bdf=$'0000:03:00.0\x01\x1b[31m\\"\x7f\r'
	put "$A/offers/10000/bdf" "$bdf"
	for cmd in "list" "show 10000"; do
		# shellcheck disable=SC2086 # command and argument
		run_tool $cmd --json
		parses
		[[ $output == *'"bdf": "0000:03:00.0\u0001\u001b[31m\\\"'$'\x7f''\r"'* ]]
	done
	[ "$(jq -r .bdf <<<"$output")" = "$bdf" ]
}

# ---- Local functions ----

# pci_function BDF VENDOR DEVICE CLASS DRIVER GROUP: a PCI function in the
# fake /sys, bound to DRIVER and in IOMMU group GROUP (each may be "").
pci_function() {
	local dev=$SYS/devices/pci0000:00/$1
	mkdir -p "$dev" "$SYS/bus/pci/devices"
	put "$dev/vendor" "$2"
	put "$dev/device" "$3"
	put "$dev/class" "$4"
	ln -s "../../../devices/pci0000:00/$1" "$SYS/bus/pci/devices/$1"
	if [ -n "$5" ]; then
		mkdir -p "$SYS/bus/pci/drivers/$5"
		ln -s "../../../bus/pci/drivers/$5" "$dev/driver"
	fi
	if [ -n "$6" ]; then
		mkdir -p "$SYS/kernel/iommu_groups/$6/devices"
		ln -sfn "../../../kernel/iommu_groups/$6" "$dev/iommu_group"
		ln -s "../../../../devices/pci0000:00/$1" "$SYS/kernel/iommu_groups/$6/devices/$1"
	fi
}

# local_functions: this host's functions: the adapter (in group 3, from
# fake_sysfs), a bridge, the lent NIC, an NVMe drive alone in its group,
# two functions of a NIC that share one, one without an IOMMU, and a
# drive this host borrows, on its virtual bus.
local_functions() {
	rmdir "$SYS/devices/pci0000:00/0000:00:05.0/0000:00:05.0"
	rm "$SYS/devices/pci0000:00/0000:00:05.0/iommu_group"
	mkdir -p "$SYS/devices/pci0000:00/0000:00:05.0/0000:00:05.0"
	pci_function 0000:00:05.0 0x8086 0x10d3 0x068000 ntb_hw_intel 3
	pci_function 0000:00:1f.0 0x8086 0x10d3 0x060100 lpc_ich 4
	pci_function 0000:03:00.0 0x8086 0x10d3 0x020000 ntb_lending 5
	pci_function 0000:06:00.0 0x1b36 0x0010 0x010802 nvme 6
	pci_function 0000:07:00.0 0x8086 0x1533 0x020000 igb 7
	pci_function 0000:07:00.1 0x8086 0x1533 0x020000 "" 7
	pci_function 0000:08:00.0 0xabcd 0x0001 0x120000 "" ""
	pci_function 10000:00:00.0 0x1b36 0x0010 0x010802 nvme 8
}

@test "list_local_shows_each_function_with_its_lend_state_or_why_not" {
	local_functions
	run_tool list --local
	succeeds
	diff -u - <(printf '%s\n' "$output") <<-'EOF'
	BDF            ID     DRIVER        DESCRIPTION                                          STATE
	0000:00:05.0   -      ntb_hw_intel  Intel Corporation 82574L Gigabit Network Connection  adapter
	0000:00:1f.0   -      lpc_ich       Intel Corporation 82574L Gigabit Network Connection  bridge
	0000:03:00.0   20000  ntb_lending   Intel Corporation 82574L Gigabit Network Connection  available
	0000:06:00.0   -      nvme          Red Hat, Inc. QEMU NVM Express Controller            lendable
	0000:07:00.0   -      igb           Intel Corporation I210 Gigabit Network Connection    shared-group
	0000:07:00.1   -      -             Intel Corporation I210 Gigabit Network Connection    shared-group
	0000:08:00.0   -      -             Acme "Quoted" \ Devices Widget                       unconfined
	10000:00:00.0  -      nvme          Red Hat, Inc. QEMU NVM Express Controller            borrowed-here
	EOF
}

@test "list_local_filters_and_json" {
	local_functions
	run_tool list --local --state lendable
	succeeds
	[ "$(tail -n +2 <<<"$output" | cut -d ' ' -f 1)" = 0000:06:00.0 ]
	run_tool list --local --class 02 --state shared-group
	[ "${#lines[@]}" -eq 3 ]
	run_tool list --local --json
	succeeds
	parses
	[ "$(jq -c '.[3] | [.bdf, .id, .driver, .iommu_group, .state, .lender]' <<<"$output")" = \
		'["0000:06:00.0",null,"nvme",6,"lendable",null]' ]
	# A lend entry's lender is its adapter's node.
	[ "$(jq -c '.[2] | [.id, .lender]' <<<"$output")" = '["20000",2]' ]
	[ "$(jq -c '.[2] | [.id, .state, .borrower]' <<<"$output")" = '["20000","available",null]' ]
	[ "$(jq -c '.[6] | [.driver, .iommu_group]' <<<"$output")" = '[null,null]' ]
	run_tool list --local --state lost
	fails_with 2 "'lost' is not a state of a local function: use one of lendable unconfined bridge adapter shared-group local available borrowed borrowed-here; see smartio_tool help"
	run_tool list --local --node 1
	fails_with 2 "--node: --local lists this host's functions; leave --node out; see smartio_tool help"
	run_tool show 10000 --local
	fails_with 2 "--local: only list takes it; see smartio_tool help"
}

# ---- Lending ----

@test "connect_makes_the_connection_and_again_changes_nothing" {
	run_tool connect 4
	succeeds
	[ -d "$A/connections/4" ]
	refuse mkdir "File exists"
	run_tool connect 4
	succeeds
}

@test "connect_to_this_host_or_a_node_not_on_the_fabric_is_refused" {
	run_tool connect 2
	fails_with 2 "2 is this host's own NodeId on 0000:00:05.0; see smartio_tool help"
	refuse mkdir "Invalid argument"
	run_tool connect 9
	fails_with 3 "cannot connect node 9: there is no node 9 on the fabric of 0000:00:05.0 (Invalid argument)"
}

@test "disconnect_removes_the_connection" {
	run_tool disconnect 3
	succeeds
	[ ! -e "$A/connections/3" ]
	run_tool disconnect 3
	fails_with 3 "node 3 is not connected on 0000:00:05.0"
}

@test "disconnect_of_a_borrowing_node_needs_force" {
	run_tool disconnect 1
	fails_with 4 "cannot disconnect node 1: it borrows 0000:04:00.0; have it returned first, or add --force to revoke the borrow"
	[ -d "$A/connections/1" ]
	run_tool disconnect --force 1
	succeeds
	[ ! -e "$A/connections/1" ]
}

@test "add_makes_a_lend_entry_and_prints_its_id" {
	configfs_like
	run_tool add 06:00.0
	succeeds
	[ "$output" = 20003 ]
	[ -d "$A/lends/0000:06:00.0" ]
	run_tool add 0000:06:00.0 --json
	succeeds
	[[ $output == '{"id": "20003", "lender": 2, "bdf": "0000:06:00.0", '* ]]
}

@test "add_refused_by_the_kernel_says_why_and_leaves_nothing" {
	refuse mkdir "No such device"
	run_tool add 07:00.0
	fails_with 3 "cannot add 0000:07:00.0: this host has no PCI function 0000:07:00.0; lspci -D lists them (No such device)"
	refuse mkdir "Operation not permitted"
	run_tool add 07:00.0
	fails_with 5 "cannot add 0000:07:00.0: bridges, NTB adapters and borrowed devices cannot be lent (Operation not permitted)"
	refuse mkdir "File exists"
	run_tool add 07:00.0
	fails_with 4 "cannot add 0000:07:00.0: it has a lend entry on another adapter; remove it there first (File exists)"
	refuse mkdir "No space left on device"
	run_tool add 07:00.0
	fails_with 1 "cannot add 0000:07:00.0: 0000:00:05.0 has as many lend entries as it can hold (256); remove one (No space left on device)"
	[ ! -e "$A/lends/0000:07:00.0" ]
}

@test "available_offers_the_device" {
	run_tool available 05:00.0
	succeeds
	[ "$(cat "$A/lends/0000:05:00.0/available")" = 1 ]
}

@test "available_when_offered_or_borrowed_writes_nothing" {
	refuse dd "Device or resource busy"
	run_tool available 03:00.0
	succeeds
	run_tool available 04:00.0
	succeeds
}

@test "available_without_a_lend_entry_is_not_found" {
	run_tool available 07:00.0
	fails_with 3 "0000:07:00.0 has no lend entry on 0000:00:05.0: smartio_tool add 0000:07:00.0 first"
}

@test "available_with_bars_too_big_for_the_windows_says_so" {
	refuse dd "Argument list too long"
	run_tool available 05:00.0
	fails_with 1 "cannot make 0000:05:00.0 available: its BARs do not fit the memory windows of 0000:00:05.0; enlarge the adapter's prefetch window (Argument list too long)"
	[ "$(cat "$A/lends/0000:05:00.0/available")" = 0 ]
}

@test "unavailable_withdraws_the_offer_and_local_needs_nothing" {
	run_tool unavailable 0000:03:00:0
	succeeds
	[ "$(cat "$A/lends/0000:03:00.0/available")" = 0 ]
	refuse dd "Device or resource busy"
	run_tool unavailable 05:00.0
	succeeds
}

@test "unavailable_of_a_borrowed_device_is_busy_and_changes_nothing" {
	run_tool unavailable 04:00.0
	fails_with 4 "cannot withdraw 0000:04:00.0: node 1 borrows it; have it returned first, or add --force to revoke the borrow"
	[ "$(cat "$A/lends/0000:04:00.0/available")" = 1 ]
	[ "$(cat "$A/lends/0000:04:00.0/id")" = 20001 ]
}

@test "unavailable_refused_as_busy_by_the_kernel_is_busy" {
	refuse dd "Device or resource busy"
	run_tool unavailable 03:00.0
	fails_with 4 "cannot withdraw 0000:03:00.0: it is borrowed; have it returned first, or add --force to revoke the borrow"
}

@test "unavailable_force_revokes_by_making_the_lend_entry_again" {
	configfs_like
	run_tool unavailable --force 04:00.0
	succeeds
	[ "$(cat "$A/lends/0000:04:00.0/state")" = local ]
	[ "$(cat "$A/lends/0000:04:00.0/borrower")" = "" ]
}

@test "unavailable_force_that_cannot_add_again_says_how_to" {
	configfs_like
	refuse mkdir "Operation not permitted"
	run_tool unavailable --force 04:00.0
	fails_with 5 "revoked the borrow of 0000:04:00.0 and gave it back to its local driver, but could not make its lend entry again (Operation not permitted): smartio_tool add 0000:04:00.0"
}

@test "remove_deletes_the_lend_entry" {
	configfs_like
	run_tool remove 05:00.0
	succeeds
	[ ! -e "$A/lends/0000:05:00.0" ]
	run_tool remove 05:00.0
	fails_with 3 "0000:05:00.0 has no lend entry on 0000:00:05.0: smartio_tool add 0000:05:00.0 first"
}

@test "remove_of_a_borrowed_device_needs_force" {
	configfs_like
	run_tool remove 04:00.0
	fails_with 4 "cannot remove 0000:04:00.0: node 1 borrows it; have it returned first, or add --force to revoke the borrow"
	[ -d "$A/lends/0000:04:00.0" ]
	run_tool remove --force 04:00.0
	succeeds
	[ ! -e "$A/lends/0000:04:00.0" ]
}

# ---- Borrowing ----

@test "borrow_makes_the_borrow_and_prints_the_local_bdf" {
	configfs_like
	return_10001
	run_tool borrow 0x10000
	succeeds
	[ "$output" = 10000:00:01.0 ]
	[ -d "$A/borrows/10000" ]
}

@test "borrow_again_of_a_device_borrowed_here_prints_it_again" {
	refuse mkdir "File exists"
	run_tool borrow 10001
	succeeds
	[ "$output" = 10000:00:00.0 ]
	run_tool borrow 10001 --json
	succeeds
	[[ $output == '{"id": "10001", '*'"state": "borrowed-here", "borrower": null, "local_bdf": "10000:00:00.0"}' ]]
}

@test "replay_writes_1_to_replay_offers_and_an_old_module_is_named" {
	run_tool replay
	succeeds
	[ -z "$output" ]
	[ "$(cat "$A/replay_offers")" = 1 ]
	rm "$A/replay_offers"
	run_tool replay
	fails_with 1 "cannot replay the offers to 0000:00:05.0: the loaded ntb_lending cannot replay offers; update it (make install) (No such file or directory)"
	[ ! -e "$A/replay_offers" ]
}

@test "borrow_of_an_id_not_offered_is_not_found" {
	run_tool borrow 20000
	fails_with 3 "nothing offers 20000 to 0000:00:05.0: smartio_tool list shows the offers; the lender must connect node 2 and make the device available"
	[ ! -e "$A/borrows/20000" ]
	# node_id is empty while the adapter is gone.
	put "$A/node_id" ""
	run_tool borrow 20000
	fails_with 3 "nothing offers 20000 to 0000:00:05.0: smartio_tool list shows the offers; the lender must connect this host and make the device available"
}

@test "borrow_of_a_device_another_node_has_is_busy" {
	run_tool borrow 30000
	fails_with 4 "30000 is borrowed by another node: borrow it when it is returned"
	[ ! -e "$A/borrows/30000" ]
}

@test "borrow_of_a_second_device_of_a_lender_is_the_kernels_to_refuse" {
	# 10001 is borrowed from node 1: the lender's windows decide.
	configfs_like
	run_tool borrow 10000
	succeeds
	[ -d "$A/borrows/10000" ]
}

@test "borrow_of_a_lost_device_says_to_return_it_first" {
	run_tool borrow 30001
	fails_with 4 "30001 was lost when its lender became unreachable: smartio_tool return 30001 forgets it, then borrow it again"
}

@test "borrow_refused_by_the_kernel_says_why_and_leaves_nothing" {
	return_10001
	refuse mkdir "Device or resource busy"
	run_tool borrow 10000
	fails_with 4 "cannot borrow 10000: another node borrowed it first (Device or resource busy)"
	refuse mkdir "No space left on device"
	run_tool borrow 10000
	fails_with 4 "cannot borrow 10000: no window or doorbell bit is left for it on its lender or on this host: return a device first (dmesg on both hosts names what holds them) (No space left on device)"
	refuse mkdir "Connection timed out"
	run_tool borrow 10000
	fails_with 6 "cannot borrow 10000: its lender did not answer; check the lender and the fabric (Connection timed out)"
	refuse mkdir "Argument list too long"
	run_tool borrow 10000
	fails_with 1 "cannot borrow 10000: the device's BARs do not fit the lender's memory window, or this host's memory does not fit its own; the adapters need larger windows (Argument list too long)"
	refuse mkdir "Operation not supported"
	run_tool borrow 10000
	fails_with 1 "cannot borrow 10000: 0000:00:05.0 lacks the scratchpads or doorbell bits that borrowing needs (Operation not supported)"
	refuse mkdir "Input/output error"
	run_tool borrow 10000
	fails_with 1 "cannot borrow 10000: its lender answered with something malformed; dmesg on both hosts may say more (Input/output error)"
	refuse mkdir "Link has been severed"
	run_tool borrow 10000
	fails_with 6 "cannot borrow 10000: its lender cannot be reached; check the fabric and the lender (Link has been severed)"
	refuse mkdir "No such file or directory"
	run_tool borrow 10000
	fails_with 3 "cannot borrow 10000: it is no longer offered; smartio_tool list shows the offers (No such file or directory)"
	[ ! -e "$A/borrows/10000" ]
}

@test "return_removes_the_borrow" {
	configfs_like
	run_tool return 10001
	succeeds
	[ ! -e "$A/borrows/10001" ]
	run_tool return 30001
	succeeds
	[ ! -e "$A/borrows/30001" ]
}

@test "return_of_an_id_not_borrowed_here_is_not_found" {
	run_tool return 10000
	fails_with 3 "10000 is not borrowed by this host on 0000:00:05.0: smartio_tool list shows what is borrowed-here"
}

# ---- Config space ----

# lspci_args: the arguments the last lspci got, on one line.
lspci_args() {
	tr '\n' ' ' <"$BATS_TEST_TMPDIR/lspci.args"
}

# config_attr BDF SIZE: lend entry BDF's config attribute, SIZE bytes
# counting 00 to ff over and over.
config_attr() {
	local i pattern=$BATS_TEST_TMPDIR/pattern
	for i in $(seq 0 255); do
		printf '%b' "\\$(printf %03o "$i")"
	done >"$pattern"
	for i in $(seq $(($2 / 256))); do
		cat "$pattern"
	done >"$A/lends/$1/config"
}

# scratch_dir: TMPDIR for the tool, to see that it leaves nothing there.
scratch_dir() {
	export TMPDIR=$BATS_TEST_TMPDIR/tmp
	mkdir -p "$TMPDIR"
}

scratch_is_clean() {
	[ -z "$(ls -A "$TMPDIR")" ]
}

@test "lspci_on_the_borrower_shows_the_device_in_this_hosts_tree" {
	for opt in "" --emulated; do
		run_tool lspci $opt 0x10001
		succeeds
		[ "$output" = "lspci ran" ]
		[ "$(lspci_args)" = "-D -nn -k -vv -xxxx -s 10000:00:00.0 " ]
		rm "$BATS_TEST_TMPDIR/lspci.args"
	done
}

@test "lspci_cut_short_by_its_reader_is_no_failure_but_lspci_failing_is" {
	printf '#!/bin/sh\nexit 141\n' >"$BIN/lspci"
	run_tool lspci 10001
	succeeds
	printf '#!/bin/sh\nexit 1\n' >"$BIN/lspci"
	run_tool lspci 10001
	fails_with 1 "lspci -D -nn -k -vv -xxxx -s 10000:00:00.0 failed"
}

@test "lspci_raw_on_the_borrower_is_refused_naming_the_lender_and_its_bdf" {
	run_tool lspci --raw 10001
	fails_with 5 "the lender never hands out 10001's own config space, only the filtered view borrowers get: run smartio_tool lspci --raw 10001 on node 1, where it is 0000:81:00.0"
	# A lost borrow's offer is gone: the lender is the Id's upper half.
	run_tool lspci --raw 30001
	fails_with 5 "the lender never hands out 30001's own config space, only the filtered view borrowers get: run smartio_tool lspci --raw 30001 on node 3"
	[ ! -e "$BATS_TEST_TMPDIR/lspci.args" ]
}

@test "lspci_of_a_lost_borrow_says_to_return_it" {
	run_tool lspci 30001
	fails_with 6 "30001 was lost when its lender became unreachable and is not in this host's PCI tree: smartio_tool return 30001 forgets it, then borrow it again"
}

@test "lspci_on_the_lender_shows_the_device_itself" {
	for opt in "" --raw; do
		run_tool lspci $opt 20000
		succeeds
		[ "$output" = "lspci ran" ]
		[ "$(lspci_args)" = "-D -nn -k -vv -xxxx -s 0000:03:00.0 " ]
	done
	# Its own device, with its local driver, too.
	run_tool lspci 20002
	succeeds
	[ "$(lspci_args)" = "-D -nn -k -vv -xxxx -s 0000:05:00.0 " ]
}

@test "lspci_emulated_on_the_lender_decodes_the_config_attribute_as_lspci_x_text" {
	scratch_dir
	config_attr 0000:03:00.0 256
	run_tool lspci --emulated 20000
	succeeds
	[ "$output" = "lspci ran" ]
	[[ $(lspci_args) == "-D -nn -k -vv -xxxx -F $TMPDIR/"*" " ]]
	local dump=$BATS_TEST_TMPDIR/lspci.dump
	[ "$(wc -l <"$dump")" -eq 17 ]
	[ "$(sed -n 1p "$dump")" = "0000:03:00.0 as a borrower reads it" ]
	[ "$(sed -n 2p "$dump")" = "00: 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f" ]
	[ "$(sed -n 17p "$dump")" = "f0: f0 f1 f2 f3 f4 f5 f6 f7 f8 f9 fa fb fc fd fe ff" ]
	scratch_is_clean
}

@test "lspci_emulated_of_a_pcie_function_dumps_all_4096_bytes" {
	scratch_dir
	config_attr 0000:04:00.0 4096
	run_tool lspci --emulated 20001
	succeeds
	local dump=$BATS_TEST_TMPDIR/lspci.dump
	[ "$(wc -l <"$dump")" -eq 257 ]
	[ "$(sed -n 18p "$dump")" = "100: 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f" ]
	[ "$(sed -n 257p "$dump")" = "ff0: f0 f1 f2 f3 f4 f5 f6 f7 f8 f9 fa fb fc fd fe ff" ]
	scratch_is_clean
}

@test "lspci_emulated_dump_is_what_real_lspci_decodes" {
	PATH=${PATH//$BIN:/} command -v lspci >/dev/null || skip "no lspci"
	rm "$BIN/lspci"
	config_attr 0000:03:00.0 256
	# An NVMe function of vendor 1b36, device 0010, without capabilities.
	printf '\x36\x1b\x10\x00\x00\x00\x00\x00\x02\x02\x08\x01\x00\x00\x00\x00' |
		dd of="$A/lends/0000:03:00.0/config" conv=notrunc status=none
	# lspci may warn on stderr about this host's kmod.
	run_tool lspci --emulated 20000
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "0000:03:00.0 Non-Volatile memory controller [0108]: "*"[1b36:0010] (rev 02)"* ]]
	[[ $output == *$'\n''00: 36 1b 10 00 00 00 00 00 02 02 08 01 00 00 00 00'$'\n'* ]]
}

@test "lspci_emulated_of_a_device_in_local_use_says_make_it_available" {
	scratch_dir
	run_tool lspci --emulated 20002
	fails_with 4 "0000:05:00.0 is with its local driver, and a borrower's view of it exists only while it is lent: make it available first (smartio_tool available 0000:05:00.0), or see it as it is with --raw"
	# The kernel says so too, if the tree has not caught up.
	config_attr 0000:03:00.0 256
	refuse dd "Device or resource busy"
	run_tool lspci --emulated 20000
	fails_with 4 "cannot read the borrower's view of 0000:03:00.0: it is with its local driver: make it available first (smartio_tool available 0000:03:00.0) (Device or resource busy)"
	[ ! -e "$BATS_TEST_TMPDIR/lspci.args" ]
	scratch_is_clean
}

@test "lspci_emulated_refusals_say_what_to_do" {
	scratch_dir
	run_tool lspci --emulated 20000
	fails_with 1 "the loaded ntb_lending has no $A/lends/0000:03:00.0/config: update ntb_lending (make install) to see a borrower's view on the lender"
	config_attr 0000:03:00.0 256
	refuse dd "Permission denied"
	run_tool lspci --emulated 20000
	fails_with 5 "cannot read the borrower's view of 0000:03:00.0: reading it needs root: run it with sudo (Permission denied)"
	rm "$BIN/dd"
	: >"$A/lends/0000:03:00.0/config"
	run_tool lspci --emulated 20000
	fails_with 1 "cannot read the borrower's view of 0000:03:00.0: $A/lends/0000:03:00.0/config is empty; dmesg may say why"
	[ ! -e "$BATS_TEST_TMPDIR/lspci.args" ]
	scratch_is_clean
}

@test "lspci_of_an_offer_only_or_of_nothing_is_not_found" {
	run_tool lspci 10000
	fails_with 3 "10000 is only offered to node 2: borrow it first (smartio_tool borrow 10000), or ask its lender, node 1, to run smartio_tool lspci 10000"
	run_tool lspci --raw 30000
	fails_with 3 "30000 is only offered to node 2: borrow it first (smartio_tool borrow 30000), or ask its lender, node 3, to run smartio_tool lspci 30000"
	run_tool lspci 40000
	fails_with 3 "no device 40000 on 0000:00:05.0: smartio_tool list shows the Ids"
	run_tool lspci 1x
	fails_with 2 "'1x' is not a device Id: *"
	[ ! -e "$BATS_TEST_TMPDIR/lspci.args" ]
}

@test "lspci_failing_or_missing_is_reported" {
	stub lspci 1 "lspci: -s: Invalid slot number"
	run_tool lspci 20000
	echo "status $status, stdout '$output', stderr '$stderr'"
	[ "$status" -eq 1 ]
	[ "$stderr" = "lspci: -s: Invalid slot number"$'\n'"smartio_tool: lspci -D -nn -k -vv -xxxx -s 0000:03:00.0 failed" ]
	command -v busybox >/dev/null || skip "no busybox"
	busybox_only "$BATS_TEST_TMPDIR/busybox"
	run --separate-stderr env PATH="$BATS_TEST_TMPDIR/busybox" "$BATS_TEST_TMPDIR/busybox/sh" "$TOOL" lspci 10001
	fails_with 1 "lspci is not installed: install pciutils"
}

@test "lspci_needs_no_root" {
	real_tree_absent
	as_uid 1000
	run_tool lspci 10001
	fails_with 5 "/sys/kernel/config/ntb_lending does not exist: run smartio_tool as root to load ntb_lending"
}

# ---- Status and diagnosis ----

# all_is_well: nothing for diag to find: the lost borrow is returned.
all_is_well() {
	rm -r "$A/borrows/30001"
}

@test "status_prints_the_host_then_each_adapter_in_tables" {
	run_tool status
	succeeds
	diff -u - <(printf '%s\n' "$output") <<-'EOF'
	ntb_lending: loaded
	IOMMU: dmar0

	adapter 0000:00:05.0: node 2, IOMMU group type DMA
	  PEER  STATE  PROTOCOL
	  1     up     1
	  3     up     1

	  WINDOW  NODE  USE     SIZE
	  0       1     device  16384
	  1       1     memory  268435456

	  DOORBELLS  USE      ID
	  0x3        control  -
	  0x4        config   -
	  0x7fff8    vectors  10001

	  LEND          ID     STATE      BORROWER  IOMMU
	  0000:03:00.0  20000  available  -         confined
	  0000:04:00.0  20001  borrowed   1         confined
	  0000:05:00.0  20002  local      -         -

	  BORROW  LENDER  LOCAL_BDF      STATE
	  10001   1       10000:00:00.0  borrowed
	  30001   3       -              lost
	EOF
}

@test "status_shows_every_adapter_or_the_one_chosen" {
	adapter 0000:00:06.0 0
	put "$SYS/module/ntb_lending/srcversion" 0123ABCD
	rm -r "$SYS/class/iommu/dmar0"
	run_tool status
	succeeds
	[ "${lines[0]}" = "ntb_lending: loaded, version 0123ABCD" ]
	[ "${lines[1]}" = "IOMMU: none" ]
	[ "$(grep -c '^adapter ' <<<"$output")" -eq 2 ]
	grep -qx 'adapter 0000:00:06.0: node 0, no IOMMU group' <<<"$output"
	run_tool status --adapter 0000:00:06.0
	succeeds
	[ "$(grep '^adapter ' <<<"$output")" = "adapter 0000:00:06.0: node 0, no IOMMU group" ]
	[ "$(tail -n 1 <<<"$output")" = "  BORROW  LENDER  LOCAL_BDF  STATE" ]
	SMARTIO_ADAPTER=0000:00:06.0 run_tool status
	[ "$(grep -c '^adapter ' <<<"$output")" -eq 1 ]
	run_tool status --adapter 0000:00:09.0
	fails_with 3 "no NTB adapter 0000:00:09.0; the adapters are: 0000:00:05.0 0000:00:06.0"
}

@test "status_of_a_gone_adapter_shows_it_gone_with_empty_tables" {
	put "$A/node_id" ""
	: >"$A/peers"
	: >"$A/windows"
	: >"$A/doorbells"
	run_tool status
	succeeds
	grep -qx 'adapter 0000:00:05.0: gone, IOMMU group type DMA' <<<"$output"
	grep -qx '  PEER  STATE  PROTOCOL' <<<"$output"
	grep -qx '  DOORBELLS  USE  ID' <<<"$output"
}

@test "status_json_is_one_object_with_every_table" {
	run_tool status --json
	succeeds
	jq -e . <<<"$output" >/dev/null
	[ "$(jq -c .module <<<"$output")" = '{"loaded":true,"version":null}' ]
	[ "$(jq -c .iommu <<<"$output")" = '["dmar0"]' ]
	[ "$(jq -r '.adapters[0] | [.adapter, .node_id, .iommu_group_type] | join(",")' <<<"$output")" = \
		"0000:00:05.0,2,DMA" ]
	[ "$(jq -c '.adapters[0].node_id' <<<"$output")" = 2 ]
	[ "$(jq -c '.adapters[0].peers[1]' <<<"$output")" = '{"node_id":3,"state":"up","protocol":1}' ]
	[ "$(jq -c '.adapters[0].windows[1]' <<<"$output")" = \
		'{"window":1,"node_id":1,"use":"memory","size":268435456}' ]
	[ "$(jq -c '.adapters[0].doorbells | map(.id)' <<<"$output")" = '[null,null,"10001"]' ]
	[ "$(jq -c '.adapters[0].lends[2]' <<<"$output")" = \
		'{"bdf":"0000:05:00.0","id":"20002","state":"local","borrower":null,"iommu":null}' ]
	[ "$(jq -c '.adapters[0].borrows[1]' <<<"$output")" = \
		'{"id":"30001","lender":3,"local_bdf":null,"state":"lost"}' ]
	[ "$(jq 'has("checks")' <<<"$output")" = false ]
}

@test "status_without_the_tree_or_an_adapter_means_the_fabric_is_down" {
	SMARTIO_CONFIGFS=$BATS_TEST_TMPDIR/none run_tool status
	fails_with 6 "ntb_lending is not loaded ($BATS_TEST_TMPDIR/none is missing): modprobe ntb_lending, or run smartio_tool list as root; smartio_tool diag says more"
	rm -r "$A"
	run_tool status
	fails_with 6 "no NTB adapter in $CFS: load the NTB hardware driver (or ntb_sim) and check dmesg"
}

@test "status_and_diag_need_no_root_and_load_nothing" {
	real_tree_absent
	as_uid 1000
	stub modprobe 99 "modprobe must not run"
	stub mount 99 "mount must not run"
	run_tool status
	fails_with 6 "ntb_lending is not loaded (/sys/kernel/config/ntb_lending is missing): *"
	run_tool diag
	echo "status $status, stdout '$output', stderr '$stderr'"
	[ "$status" -eq 1 ]
	[ -z "$stderr" ]
	[[ $output == *"configfs: problem: "* ]]
}

@test "diag_is_status_then_checks_and_exits_0_when_all_is_well" {
	all_is_well
	run_tool status
	local status_out=$output
	run_tool diag
	succeeds
	[ "${output:0:${#status_out}}" = "$status_out" ]
	diff -u - <(tail -n 7 <<<"$output") <<-EOF

	module: ok (ntb_lending loaded)
	configfs: ok ($CFS)
	iommu: ok (dmar0)
	0000:00:05.0 peers: ok (node 1 3 up)
	0000:00:05.0 protocol: ok (no peer speaks another)
	0000:00:05.0 borrows: ok (none lost)
	EOF
}

@test "diag_finds_a_lost_borrow" {
	diag_finds "0000:00:05.0 borrows" "30001 was lost when its lender, node 3, became unreachable: smartio_tool return 30001 forgets it, then borrow it again"
}

@test "diag_finds_no_peer_up_and_an_incompatible_peer" {
	all_is_well
	printf '%s\n' "1 down -" "3 link -" >"$A/peers"
	diag_finds "0000:00:05.0 peers" "no peer is up: check the cables, and that ntb_lending is loaded on the other hosts"
	printf '%s\n' "1 up 1" "3 incompatible 2" >"$A/peers"
	diag_finds "0000:00:05.0 protocol" "node 3 speaks lending protocol 2, not this host's: load the same ntb_lending on both"
	grep -qx '0000:00:05.0 peers: ok (node 1 up)' <<<"$output"
}

@test "diag_finds_a_gone_adapter_and_a_module_without_peers" {
	all_is_well
	put "$A/node_id" ""
	diag_finds "0000:00:05.0" "the adapter is gone: check its NTB hardware driver and dmesg"
	put "$A/node_id" 2
	rm "$A/peers"
	diag_finds "0000:00:05.0 peers" "the loaded ntb_lending does not report peers: update ntb_lending (make install)"
}

@test "diag_finds_no_iommu" {
	all_is_well
	rm -r "$SYS/class/iommu/dmar0"
	diag_finds iommu "this host has no IOMMU: borrowing needs one, and lending without one needs ntb_lending's allow_unsafe_noiommu=1 and lets the borrower reach all of this host's memory; turn on VT-d or AMD-Vi in the firmware and boot with intel_iommu=on or amd_iommu=on"
}

@test "diag_finds_the_module_not_loaded_and_the_tree_missing" {
	rm -r "$SYS/module/ntb_lending"
	SMARTIO_CONFIGFS=$BATS_TEST_TMPDIR/none run_tool diag
	[ "$status" -eq 1 ]
	[ -z "$stderr" ]
	grep -qxF "module: problem: ntb_lending is not loaded: modprobe ntb_lending, or run smartio_tool list as root, which loads it" <<<"$output"
	grep -qxF "configfs: problem: $BATS_TEST_TMPDIR/none is missing: load ntb_lending" <<<"$output"
	[[ $output != *adapter* ]]
	mkdir "$SYS/module/ntb_lending"
	SMARTIO_CONFIGFS=$BATS_TEST_TMPDIR/none run_tool diag
	grep -qxF "configfs: problem: ntb_lending is loaded but $BATS_TEST_TMPDIR/none is missing: check dmesg" <<<"$output"
}

@test "diag_finds_no_adapter" {
	rm -r "$A"
	diag_finds adapters "no NTB adapter in $CFS: load the NTB hardware driver (or ntb_sim) and check dmesg"
}

@test "diag_json_adds_the_checks_and_whether_all_is_ok" {
	run_tool diag --json
	[ "$status" -eq 1 ]
	jq -e . <<<"$output" >/dev/null
	[ "$(jq .ok <<<"$output")" = false ]
	[ "$(jq -r '.checks[] | select(.result == "problem") | .check' <<<"$output")" = "0000:00:05.0 borrows" ]
	[ "$(jq -c '.checks[0]' <<<"$output")" = '{"check":"module","result":"ok","detail":"ntb_lending loaded"}' ]
	[ "$(jq '.adapters | length' <<<"$output")" -eq 1 ]
	all_is_well
	run_tool diag --json
	succeeds
	[ "$(jq .ok <<<"$output")" = true ]
}

# ---- Refusals ----

@test "every_kernel_refusal_maps_to_its_exit_code_and_advice" {
	while IFS=: read -r reason code advice; do
		refuse rmdir "$reason"
		run_tool return 10001
		fails_with "$code" "cannot return 10001: $advice ($reason)"
		[ -d "$A/borrows/10001" ]
	done <<-EOF
	Device or resource busy:4:it is in use; smartio_tool list shows its state
	File exists:4:it exists already; smartio_tool list shows it
	No such file or directory:3:it is gone; smartio_tool list shows what there is
	Operation not permitted:5:the kernel does not permit it; dmesg may say why
	Permission denied:5:the kernel does not permit it; dmesg may say why
	Link has been severed:6:the fabric link is down; check the cables and the other host
	No such device:6:the adapter or the device went away; check the NTB link and lspci
	Invalid argument:1:the kernel refused the value; dmesg says what it expected
	Argument list too long:1:the device's BARs do not fit the adapter's memory windows
	Input/output error:1:dmesg may say why
	EOF
}

@test "a_failed_write_keeps_its_errno_in_dash_bash_and_busybox" {
	# The kernel's refusal is a failed write(2); /dev/full fails every one.
	rm "$A/lends/0000:05:00.0/available"
	ln -s /dev/full "$A/lends/0000:05:00.0/available"
	for sh in dash bash busybox; do
		command -v "$sh" >/dev/null || continue
		if [ "$sh" = busybox ]; then set -- busybox sh; else set -- "$sh"; fi
		run --separate-stderr "$@" "$TOOL" available 05:00.0
		fails_with 1 "cannot make 0000:05:00.0 available: dmesg may say why (No space left on device)"
	done
}

# ---- Portability ----

# busybox_only DIR: DIR holds every busybox applet and nothing else, as the
# test VM's initramfs does.
busybox_only() {
	local applet
	mkdir -p "$1"
	for applet in $(busybox --list); do
		ln -s "$(command -v busybox)" "$1/$applet"
	done
}

@test "list_and_show_read_the_same_under_dash_bash_as_sh_and_busybox" {
	local want sh_dir=$BATS_TEST_TMPDIR/bash-as-sh bb=$BATS_TEST_TMPDIR/busybox
	run_tool list
	want=$output
	mkdir -p "$sh_dir"
	ln -s "$(command -v bash)" "$sh_dir/sh"
	run dash "$TOOL" list
	[ "$output" = "$want" ]
	run "$sh_dir/sh" "$TOOL" list
	[ "$output" = "$want" ]
	command -v busybox >/dev/null || skip "no busybox"
	busybox_only "$bb"
	# lspci, for the names, is no busybox applet.
	run env PATH="$BIN:$bb" "$bb/sh" "$TOOL" list
	[ "$output" = "$want" ]
	run env PATH="$BIN:$bb" "$bb/sh" "$TOOL" show 10001 --json
	[ "$status" -eq 0 ]
	[[ $output == *'"local_bdf": "10000:00:00.0"}' ]]
}

@test "changes_and_refusals_work_with_busybox_alone" {
	command -v busybox >/dev/null || skip "no busybox"
	busybox_only "$BATS_TEST_TMPDIR/busybox"
	local bb=(env PATH="$BATS_TEST_TMPDIR/busybox" "$BATS_TEST_TMPDIR/busybox/sh" "$TOOL")
	run "${bb[@]}" unavailable 03:00.0
	[ "$status" -eq 0 ]
	[ "$(cat "$A/lends/0000:03:00.0/available")" = 0 ]
	run "${bb[@]}" connect 4
	[ "$status" -eq 0 ]
	[ -d "$A/connections/4" ]
	# A fake tree's rmdir refuses a group that still has attributes.
	run --separate-stderr "${bb[@]}" return 10001
	fails_with 1 "cannot return 10001: dmesg may say why (Directory not empty)"
}

@test "status_diag_and_the_lspci_dump_are_the_same_with_busybox_alone" {
	command -v busybox >/dev/null || skip "no busybox"
	local box=$BATS_TEST_TMPDIR/busybox want cmd
	busybox_only "$box"
	for cmd in status "diag --json"; do
		# shellcheck disable=SC2086 # command and option
		run_tool $cmd
		want=$output
		# shellcheck disable=SC2086 # command and option
		run env PATH="$box" "$box/sh" "$TOOL" $cmd
		[ "$output" = "$want" ]
	done
	config_attr 0000:04:00.0 4096
	run_tool lspci --emulated 20001
	mv "$BATS_TEST_TMPDIR/lspci.dump" "$BATS_TEST_TMPDIR/want.dump"
	run env PATH="$BIN:$box" "$box/sh" "$TOOL" lspci --emulated 20001
	[ "$status" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/want.dump" "$BATS_TEST_TMPDIR/lspci.dump"
}

# ---- The man page ----

@test "man_page_has_no_groff_warnings" {
	command -v groff >/dev/null || skip "no groff: install groff-base (scripts/install-deps)"
	run groff -ww -man -z "$MAN"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

# sorted WORD...: the words, one a line, sorted, each once.
sorted() {
	printf '%s\n' "$@" | sort -u
}

@test "man_page_help_and_completion_name_the_same_commands_and_options" {
	local help man cmd opt
	run_tool help
	help=$output
	# shellcheck source=scripts/smartio_tool.bash-completion
	source "$COMPLETION"
	# Commands: help's indented lines; the man page's tagged paragraphs
	# under COMMANDS; what completion offers first.
	diff -u <(sed -nE 's/^  ([a-z]+) .*/\1/p' <<<"$help" | sort -u) \
		<(awk '/^\.SH COMMANDS/ { on = 1; next } /^\.SH/ { on = 0 }
			on && tp { print $2 } { tp = on && /^\.TP/ }' "$MAN" | sort -u)
	diff -u <(sed -nE 's/^  ([a-z]+) .*/\1/p' <<<"$help" | sort -u) \
		<(complete_line 'smartio_tool ')
	# Options: every --word of help; of the man page's SYNOPSIS and
	# OPTIONS; what completion offers after --.
	man=$(awk '/^\.SH (SYNOPSIS|OPTIONS)/ { on = 1; print; next } /^\.SH/ { on = 0 } on' "$MAN" |
		grep -oE '\\-\\-[a-z]+' | sed 's/\\//g' | sort -u)
	diff -u <(grep -oE -- '--[a-z]+' <<<"$help" | sort -u) <(printf '%s\n' "$man")
	diff -u <(grep -oE -- '--[a-z]+' <<<"$help" | sort -u) <(complete_line 'smartio_tool --')
	# Each command's help names only options the usage has.
	while read -r cmd; do
		run_tool help "$cmd"
		while read -r opt; do
			grep -qF -- "$opt" <<<"$help"
		done < <(grep -oE -- '--[a-z]+' <<<"$output" | sort -u)
	done < <(sed -nE 's/^  ([a-z]+) .*/\1/p' <<<"$help")
}

# ---- Bash completion ----

# complete LINE: COMPREPLY for the cursor at the end of LINE, one a line.
complete_line() {
	# shellcheck source=scripts/smartio_tool.bash-completion
	source "$COMPLETION"
	COMP_LINE=$1
	COMP_POINT=${#1}
	COMP_WORDBREAKS=$' \t\n"\x27><=;|&(:'
	COMPREPLY=()
	_smartio_tool
	printf '%s\n' "${COMPREPLY[@]}" | sort
}

@test "completion_offers_commands_and_options" {
	[ "$(complete_line 'smartio_tool ' | tr '\n' ' ')" = \
		"add available borrow connect diag disconnect help list lspci remove replay return show status unavailable " ]
	[ "$(complete_line 'smartio_tool un' | tr '\n' ' ')" = "unavailable " ]
	[ "$(complete_line 'smartio_tool list --' | tr '\n' ' ')" = \
		"--adapter --class --emulated --force --help --json --local --node --raw --state --version " ]
	[ "$(complete_line 'smartio_tool list --state ' | tr '\n' ' ')" = \
		"adapter available borrowed borrowed-here bridge lendable local lost shared-group unconfined " ]
}

@test "completion_offers_ids_from_offers_and_borrows" {
	[ "$(complete_line 'smartio_tool borrow ' | tr '\n' ' ')" = "10000 10001 30000 " ]
	[ "$(complete_line 'smartio_tool return ' | tr '\n' ' ')" = "10001 30001 " ]
	[ "$(complete_line 'smartio_tool show 2' | tr '\n' ' ')" = "20000 20001 20002 " ]
	# lspci: what this host lends or borrows, before or after its option.
	[ "$(complete_line 'smartio_tool lspci ' | tr '\n' ' ')" = "10001 20000 20001 20002 30001 " ]
	[ "$(complete_line 'smartio_tool lspci --raw 2' | tr '\n' ' ')" = "20000 20001 20002 " ]
	[ -z "$(complete_line 'smartio_tool status ')" ]
}

@test "completion_offers_bdfs_after_the_last_colon_and_node_ids" {
	[ "$(complete_line 'smartio_tool unavailable ' | tr '\n' ' ')" = \
		"0000:03:00.0 0000:04:00.0 0000:05:00.0 " ]
	# bash replaces only what follows the last ':' of the word.
	[ "$(complete_line 'smartio_tool remove 0000:04' | tr '\n' ' ')" = "04:00.0 " ]
	[ "$(complete_line 'smartio_tool disconnect ' | tr '\n' ' ')" = "1 3 " ]
	[ -z "$(complete_line 'smartio_tool borrow 10000 ')" ]
}

@test "completion_offers_adapters_and_uses_the_chosen_one" {
	adapter 0000:00:06.0 0
	mkdir "$CFS/0000:00:06.0/connections/5"
	[ "$(complete_line 'smartio_tool --adapter ' | tr '\n' ' ')" = "0000:00:05.0 0000:00:06.0 " ]
	[ "$(complete_line 'smartio_tool --adapter 0000:00:0' | tr '\n' ' ')" = "05.0 06.0 " ]
	[ -z "$(complete_line 'smartio_tool disconnect ')" ]
	[ "$(complete_line 'smartio_tool --adapter 0000:00:06.0 disconnect ')" = 5 ]
	# Dolphin's connect NODEID ADAPTER.
	[ "$(complete_line 'smartio_tool connect 5 ' | tr '\n' ' ')" = "0000:00:05.0 0000:00:06.0 " ]
}

@test "completion_offers_local_pci_functions_to_add" {
	[ -d /sys/bus/pci/devices ] || skip "no PCI in sysfs"
	local first
	for first in /sys/bus/pci/devices/*; do break; done
	complete_line 'smartio_tool add ' | grep -qxF "${first##*/}"
}

@test "help_answers_whatever_else_the_line_says" {
	local line
	for line in "list --state available --help" "list --local --help" "list --class 02 -h" \
		"list --node x --help" "list --bogus --help" "list --node 1 --node 3 --help"; do
		# shellcheck disable=SC2086 # the words of the line
		run_tool $line
		succeeds
		[ "${lines[0]}" = "usage: smartio_tool [--adapter NAME] list [--node NODEID] [--state STATE]" ]
	done
}

@test "a_filter_given_twice_is_refused" {
	run_tool list --node 1 --node 3
	fails_with 2 "--node given twice: a device passes every filter, so give each once; see smartio_tool help"
	run_tool list --adapter --json
	fails_with 2 "--adapter needs an adapter name; see smartio_tool help"
}

@test "list_node_finds_a_lost_borrow_whose_offer_is_gone" {
	run_tool list --node 3 --state lost --json
	succeeds
	parses
	[ "$(jq -c 'map([.id, .lender])' <<<"$output")" = '[["30001",3]]' ]
}

@test "list_local_covers_every_adapter_with_each_entry_lent_by_its_own_node" {
	local_functions
	adapter 0000:00:06.0 7
	mkdir -p "$CFS/0000:00:06.0/lends/0000:06:00.0"
	put "$CFS/0000:00:06.0/lends/0000:06:00.0/id" 70000
	put "$CFS/0000:00:06.0/lends/0000:06:00.0/state" local
	run_tool list --local --json
	succeeds
	parses
	[ "$(jq -c 'map(select(.id != null) | [.bdf, .id, .lender])' <<<"$output")" = \
		'[["0000:03:00.0","20000",2],["0000:06:00.0","70000",7]]' ]
}

@test "dolphin_adapter_0_on_a_host_without_adapters_is_exit_6" {
	rm -rf "${CFS:?}"/*
	run_tool connect 1 0
	[ "$status" -eq 6 ]
	[[ $stderr == *"no NTB adapter in"* ]]
}
