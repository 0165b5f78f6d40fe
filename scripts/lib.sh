# shellcheck shell=sh disable=SC2034 # variables are for the scripts that source this
# SPDX-License-Identifier: GPL-2.0
# Shared settings of the build and test scripts; sourced, never run.
#
# KERNEL=stock (default) targets Debian's linux-image-6.12-amd64, the kernel
# the VM boots, or the release in KVER when it is set (DKMS builds for the
# kernel it names: dkms.conf); KERNEL=debug targets the debug kernel that
# scripts/debug-kernel builds from linux-source-6.12 and caches.

die() {
	echo "$0: $*" >&2
	exit 1
}

# Callers set TOP, the top of the source tree, before sourcing this file.
: "${TOP:?}"
KERNEL=${KERNEL:-stock}
LINUX_TARBALL=/usr/src/linux-source-6.12.tar.xz
# Upstream files read at build and test time; never copied into the repo.
LINUX_SRC=$TOP/build/linux-source
CACHE=${NTB_LENDING_CACHE:-/var/cache/ntb-lending}
DEBUG_FRAGMENT=$TOP/tools/testing/selftests/drivers/ntb/lending/debug.config

# The kernel release that the linux-image-6.12-amd64 metapackage points at.
stock_kver() {
	dpkg-query -W -f='${Depends}\n' linux-image-6.12-amd64 2>/dev/null |
		sed -n 's/.*linux-image-\(6\.12[^ ,]*\).*/\1/p'
}

debug_kernel_dir() {
	sum=$({ cat "$DEBUG_FRAGMENT" "$TOP/scripts/debug-kernel"
		dpkg-query -W -f='${Version}' linux-source-6.12; } 2>/dev/null |
		sha256sum | cut -c1-12)
	echo "$CACHE/linux-debug-$sum"
}

case $KERNEL in
stock)
	KVER=${KVER:-$(stock_kver)}
	[ -n "$KVER" ] || die "linux-image-6.12-amd64 is not installed; run scripts/install-deps"
	KDIR=/usr/src/linux-headers-$KVER
	KIMAGE=/boot/vmlinuz-$KVER
	MODROOT=
	;;
debug)
	DEBUG_DIR=$(debug_kernel_dir)
	KDIR=$DEBUG_DIR/build
	KIMAGE=$KDIR/arch/x86/boot/bzImage
	MODROOT=$DEBUG_DIR/modroot
	KVER=$(cat "$KDIR/include/config/kernel.release" 2>/dev/null) ||
		die "no debug kernel in $DEBUG_DIR; run make debug-kernel"
	;;
*)
	die "KERNEL=$KERNEL: use stock or debug"
	;;
esac

BUILD=$TOP/build/$KVER
MODULES_OUT=$BUILD/modules
