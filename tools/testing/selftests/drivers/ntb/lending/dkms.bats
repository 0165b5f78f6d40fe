#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# dkms.conf under the real dkms: "dkms build" of a copy of this tree, as an
# unprivileged user, into a DKMS tree and a source tree of the test's own
# (--dkmstree, --sourcetree), for the kernel the modules are built for.
# That is what DKMS does at a kernel update, short of "dkms install", which
# needs root and writes /lib/modules: not done here. Nothing is signed (no
# key is made in /var/lib/dkms) and this machine's DKMS tree is not read.

bats_require_minimum_version 1.5.0

TOP=$(cd "$BATS_TEST_DIRNAME/../../../../../.." && pwd)
# shellcheck source=SCRIPTDIR/../../../../../../scripts/lib.sh
. "$TOP/scripts/lib.sh"

# The dkms.conf values, as dkms reads them: sourced by bash.
conf() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	kernelver=$KVER bash -c '. "$1"; declare -n v=$2; printf "%s\n" "${v[@]}"' \
		bash "$TOP/dkms.conf" "$1"
}

# as_user CMD...: CMD as nobody when this runs as root, else as is.
as_user() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
	else
		"$@"
	fi
}

dkms_() {
	as_user env HOME="$D" TMPDIR="$D/tmp" sign_file="$D/no-sign-file" \
		dkms "$@" --dkmstree "$D/dkms" --sourcetree "$D/src"
}

setup_file() {
	command -v dkms >/dev/null || {
		echo "dkms is not installed; run scripts/install-deps" >&3
		return 1
	}
	# One build for the whole suite: it takes a minute.
	D=$(mktemp -d)
	export D
	name=$(conf PACKAGE_NAME)-$(conf PACKAGE_VERSION)
	mkdir -p "$D/src/$name" "$D/dkms" "$D/tmp"
	# The tree as it is, committed or not, without build/.
	(cd "$TOP" && git ls-files -z --cached --others --exclude-standard |
		rsync -a --from0 --files-from=- ./ "$D/src/$name/")
	chmod 755 "$D"
	[ "$(id -u)" -ne 0 ] || chown -R nobody:nogroup "$D"
	dkms_ build "$(conf PACKAGE_NAME)/$(conf PACKAGE_VERSION)" -k "$KVER" \
		>"$D/build.log" 2>&1
	echo $? >"$D/build.rc"
}

teardown_file() {
	rm -rf "$D"
}

# The modules DKMS keeps after its build, by name, sorted.
dkms_modules() {
	find "$D/dkms/$(conf PACKAGE_NAME)/$(conf PACKAGE_VERSION)/$KVER" \
		-path '*/module/*' -name '*.ko*' | sed 's|.*/||; s|\.ko.*||' | sort
}

@test "dkms_builds_as_a_user_for_the_kernel_of_make" {
	cat "$D/build.log"
	cat "$D/dkms/$(conf PACKAGE_NAME)/$(conf PACKAGE_VERSION)/$KVER"/*/log/make.log || :
	[ "$(cat "$D/build.rc")" -eq 0 ]
	# dkms's readelf warns on stderr about the headers' vmlinux.
	run --separate-stderr dkms_ status
	echo "$output"
	[ "$output" = "$(conf PACKAGE_NAME)/$(conf PACKAGE_VERSION), $KVER, $(uname -m): built" ]
}

@test "dkms_keeps_every_module_dkms_conf_names" {
	[ "$(cat "$D/build.rc")" -eq 0 ]
	diff -u <(conf BUILT_MODULE_NAME | sort) <(dkms_modules)
}

@test "dkms_modules_are_for_the_kernel_dkms_named" {
	[ "$(cat "$D/build.rc")" -eq 0 ]
	for m in "$D/dkms/$(conf PACKAGE_NAME)/$(conf PACKAGE_VERSION)/$KVER"/*/module/*.ko*; do
		[ "$(modinfo -F vermagic "$m" | cut -d' ' -f1)" = "$KVER" ]
	done
}

@test "dkms_conf_names_the_modules_make_install_installs" {
	run make --no-print-directory -C "$TOP" install DESTDIR="$BATS_TEST_TMPDIR/root"
	echo "$output"
	[ "$status" -eq 0 ]
	diff -u <(conf BUILT_MODULE_NAME | sort) \
		<(find "$BATS_TEST_TMPDIR/root/lib/modules" -name '*.ko' | sed 's|.*/||; s|\.ko$||' | sort)
}

@test "dkms_conf_puts_every_module_in_updates_and_autoinstalls" {
	[ "$(conf AUTOINSTALL)" = yes ]
	n=$(conf BUILT_MODULE_NAME | wc -l)
	[ "$(conf BUILT_MODULE_LOCATION | grep -cx "build/$KVER/modules")" -eq "$n" ]
	[ "$(conf DEST_MODULE_LOCATION | grep -cx /updates/dkms)" -eq "$n" ]
}

@test "dkms_package_version_is_smartio_tools" {
	[ "$("$TOP/scripts/smartio_tool" --version)" = "smartio_tool $(conf PACKAGE_VERSION)" ]
}
