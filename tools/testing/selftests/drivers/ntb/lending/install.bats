#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# make install and make uninstall, staged under DESTDIR in the test's
# temporary directory as a package build stages them: every file lands where
# Documentation/ntb-lending/admin-guide.rst says, with its mode and content,
# and uninstall takes away exactly those. Nothing here needs root or touches
# this machine's /lib/modules, /usr or udev: depmod and udevadm are stubs
# that fail the test if they are called.

bats_require_minimum_version 1.5.0

TOP=$(cd "$BATS_TEST_DIRNAME/../../../../../.." && pwd)
# shellcheck source=SCRIPTDIR/../../../../../../scripts/lib.sh
. "$TOP/scripts/lib.sh"
MODDIR=lib/modules/$KVER/updates/ntb-lending

setup_file() {
	# make check builds first; alone, this suite builds what it installs.
	[ -f "$MODULES_OUT/ntb_lending.ko" ] || "$TOP/scripts/build-modules" >&3
}

setup() {
	ROOT=$BATS_TEST_TMPDIR/root
	STUBS=$BATS_TEST_TMPDIR/stubs
	CALLED=$BATS_TEST_TMPDIR/called
	mkdir -p "$STUBS"
	for c in depmod udevadm; do
		printf '#!/bin/sh\necho "%s $*" >>"%s"\nexit 1\n' "$c" "$CALLED" >"$STUBS/$c"
		chmod +x "$STUBS/$c"
	done
	PATH=$STUBS:$PATH
}

teardown() {
	[ -z "${NOBODY_DIR:-}" ] || rm -rf "$NOBODY_DIR"
}

# mk TARGET [VAR=VALUE...]: make in tree $TREE (default: this one).
mk() {
	run make --no-print-directory -C "${TREE:-$TOP}" "$@"
	echo "$output"
}

# The modules install must put: ours and the upstream NTB core and clients
# that build-modules built from linux-source, never the test modules.
expected_modules() {
	{
		find "$BUILD/src/drivers" -name '*.ko'
		[ ! -d "$BUILD/upstream" ] || find "$BUILD/upstream" -maxdepth 1 -name '*.ko'
	} | sed 's|.*/||' | sort
}

# The files under $1 that are not directories, relative to it, sorted.
files_under() {
	(cd "$1" && find . ! -type d | sed 's|^\./||' | sort)
}

# same MODE SOURCE INSTALLED: installed with that mode and that content.
same() {
	[ -f "$3" ] || { echo "missing: $3"; return 1; }
	[ "$(stat -c %a "$3")" = "$1" ] || { echo "mode of $3: $(stat -c %a "$3")"; return 1; }
	cmp "$2" "$3"
}

@test "install_puts_every_module_tool_page_completion_and_rule_in_place" {
	mk install DESTDIR="$ROOT"
	[ "$status" -eq 0 ]
	expected=$(
		expected_modules | sed "s|^|$MODDIR/|"
		echo usr/local/sbin/smartio_tool
		echo usr/local/share/man/man8/smartio_tool.8
		echo usr/local/share/bash-completion/completions/smartio_tool
		for u in "$TOP"/udev/*; do
			case $u in
			*.example) ;;
			*.rules) echo "usr/local/lib/udev/rules.d/${u##*/}" ;;
			*) [ ! -x "$u" ] || echo "usr/local/lib/udev/${u##*/}" ;;
			esac
		done
	)
	diff -u <(echo "$expected" | sort) <(files_under "$ROOT")
	for m in $(expected_modules); do
		same 644 "$MODULES_OUT/$m" "$ROOT/$MODDIR/$m"
	done
	same 755 "$TOP/scripts/smartio_tool" "$ROOT/usr/local/sbin/smartio_tool"
	same 644 "$TOP/Documentation/ntb-lending/smartio_tool.8" \
		"$ROOT/usr/local/share/man/man8/smartio_tool.8"
	same 644 "$TOP/scripts/smartio_tool.bash-completion" \
		"$ROOT/usr/local/share/bash-completion/completions/smartio_tool"
	[ ! -s "$CALLED" ]
}

@test "install_puts_ntb_lending_ntb_sim_and_the_upstream_ntb_core" {
	mk install DESTDIR="$ROOT"
	[ "$status" -eq 0 ]
	for m in ntb_lending ntb_sim; do
		[ -f "$ROOT/$MODDIR/$m.ko" ]
	done
	# Debian's kernel has no CONFIG_NTB: the core and clients come along.
	if ! grep -q '^CONFIG_NTB=y' "$KDIR/.config"; then
		for m in ntb ntb_transport ntb_netdev ntb_tool ntb_perf ntb_pingpong ntb_msi_test; do
			[ -f "$ROOT/$MODDIR/$m.ko" ]
		done
	fi
	[ ! -e "$ROOT/$MODDIR/harness_warn.ko" ]
	[ ! -e "$ROOT/$MODDIR/lending_dataplane.ko" ]
}

@test "uninstall_leaves_no_file_behind" {
	mk install DESTDIR="$ROOT"
	[ "$status" -eq 0 ]
	[ -n "$(files_under "$ROOT")" ]
	mk uninstall DESTDIR="$ROOT"
	[ "$status" -eq 0 ]
	[ -z "$(files_under "$ROOT")" ]
	# The modules directory was install's own: it goes too.
	[ ! -e "$ROOT/$MODDIR" ]
	[ ! -s "$CALLED" ]
}

@test "uninstall_twice_is_harmless" {
	mk install DESTDIR="$ROOT"
	mk uninstall DESTDIR="$ROOT"
	[ "$status" -eq 0 ]
	mk uninstall DESTDIR="$ROOT"
	[ "$status" -eq 0 ]
	[ -z "$(files_under "$ROOT")" ]
}

@test "uninstall_keeps_a_file_it_did_not_install_and_says_so" {
	mk install DESTDIR="$ROOT"
	echo mine >"$ROOT/$MODDIR/README"
	mk uninstall DESTDIR="$ROOT"
	[ "$status" -ne 0 ]
	[[ "$output" == *"$MODDIR"*"not empty"* ]]
	[ "$(files_under "$ROOT")" = "$MODDIR/README" ]
}

@test "install_tools_leaves_the_modules_to_dkms" {
	mk install-tools DESTDIR="$ROOT"
	[ "$status" -eq 0 ]
	[ -x "$ROOT/usr/local/sbin/smartio_tool" ]
	[ -f "$ROOT/usr/local/share/man/man8/smartio_tool.8" ]
	[ -f "$ROOT/usr/local/share/bash-completion/completions/smartio_tool" ]
	[ ! -e "$ROOT/lib" ]
	mk uninstall DESTDIR="$ROOT"
	[ "$status" -eq 0 ]
	[ -z "$(files_under "$ROOT")" ]
	[ ! -s "$CALLED" ]
}

@test "prefix_moves_all_but_the_modules" {
	mk install DESTDIR="$ROOT" PREFIX=/usr
	[ "$status" -eq 0 ]
	[ -x "$ROOT/usr/sbin/smartio_tool" ]
	[ -f "$ROOT/usr/share/man/man8/smartio_tool.8" ]
	[ -f "$ROOT/usr/share/bash-completion/completions/smartio_tool" ]
	[ -f "$ROOT/$MODDIR/ntb_lending.ko" ]
	[ ! -e "$ROOT/usr/local" ]
	mk uninstall DESTDIR="$ROOT" PREFIX=/usr
	[ "$status" -eq 0 ]
	[ -z "$(files_under "$ROOT")" ]
}

# A tree that is this one but for its udev/: symlinks to everything else.
fake_tree_with_rules() {
	TREE=$BATS_TEST_TMPDIR/tree
	mkdir -p "$TREE/udev"
	for f in Makefile scripts Documentation build; do
		ln -s "$TOP/$f" "$TREE/$f"
	done
	cat >"$TREE/udev/70-ntb-lending-test.rules" <<-'EOF'
	SUBSYSTEM=="ntb", ENV{NTB_LENDING_EVENT}=="offer", RUN+="/usr/sbin/smartio_tool borrow $env{NTB_LENDING_ID}"
	SUBSYSTEM=="pci", IMPORT{program}="/usr/lib/udev/ntb-lending-test-id %k"
	EOF
	printf '#!/bin/sh\nexit 1\n' >"$TREE/udev/ntb-lending-test-id"
	chmod 755 "$TREE/udev/ntb-lending-test-id"
	echo 'RUN+="/usr/sbin/smartio_tool available %k"' >"$TREE/udev/71-auto-offer.rules.example"
}

@test "rules_call_the_installed_tool_and_helpers_and_examples_stay_behind" {
	fake_tree_with_rules
	mk install DESTDIR="$ROOT" PREFIX=/opt/lending
	[ "$status" -eq 0 ]
	rule=$ROOT/opt/lending/lib/udev/rules.d/70-ntb-lending-test.rules
	[ "$(stat -c %a "$rule")" = 644 ]
	# shellcheck disable=SC2016 # udev's $env{}, not the shell's
	grep -F 'RUN+="/opt/lending/sbin/smartio_tool borrow $env{NTB_LENDING_ID}"' "$rule"
	grep -F 'IMPORT{program}="/opt/lending/lib/udev/ntb-lending-test-id %k"' "$rule"
	run ! grep -E '/usr/(sbin|lib)' "$rule"
	same 755 "$TREE/udev/ntb-lending-test-id" "$ROOT/opt/lending/lib/udev/ntb-lending-test-id"
	[ -z "$(find "$ROOT" -name '*.example')" ]
	mk uninstall DESTDIR="$ROOT" PREFIX=/opt/lending
	[ "$status" -eq 0 ]
	[ -z "$(files_under "$ROOT")" ]
}

@test "install_without_a_build_for_the_kernel_says_run_make" {
	mk install DESTDIR="$ROOT" KVER=6.12.0-none
	[ "$status" -ne 0 ]
	[[ "$output" == *"no modules built for 6.12.0-none"*"run make first"* ]]
	[ ! -e "$ROOT" ]
}

@test "install_and_uninstall_need_no_root" {
	[ "$(id -u)" -eq 0 ] || skip "this suite already runs unprivileged"
	# BATS_TEST_TMPDIR is root's alone, and so may be the tree's directory:
	# nobody gets a directory of its own with a copy of what install reads.
	dir=$(mktemp -d)
	NOBODY_DIR=$dir
	mkdir "$dir/tree"
	cd "$TOP"
	cp -a Makefile scripts Documentation "$dir/tree/"
	[ ! -d udev ] || cp -a udev "$dir/tree/"
	for d in "$BUILD/src/drivers" "$BUILD/upstream"; do
		[ ! -d "$d" ] || find "${d#"$TOP"/}" -name '*.ko' -exec cp --parents {} "$dir/tree/" \;
	done
	[ -f "$dir/tree/${BUILD#"$TOP"/}/src/drivers/ntb/lending/ntb_lending.ko" ]
	chown -R nobody "$dir"
	# shellcheck disable=SC2016 # expanded by the inner sh
	run setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env PATH="$PATH" TMPDIR="$dir" \
		sh -c 'make --no-print-directory -C "$1" install DESTDIR="$2/root" &&
		       echo "installed as $(id -un): $(find "$2/root" ! -type d | wc -l)" &&
		       make --no-print-directory -C "$1" uninstall DESTDIR="$2/root" &&
		       echo "left: $(find "$2/root" ! -type d | wc -l)"' sh "$dir/tree" "$dir"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" =~ "installed as nobody: "[1-9][0-9]* ]]
	[[ "$output" == *"left: 0"* ]]
}
