# SPDX-License-Identifier: GPL-2.0
#
# NTB device lending, out-of-tree build and test entry points.
#
#   make               build the modules for the guest kernel
#   make check [T=p]   lint, host tests, VM tests, some on the debug kernel
#                      (T: test name pattern; QUICK=1: no debug kernel)
#   make demo          boot the VM and show the subsystem at work
#   make lint          checkpatch, sparse, shellcheck, rst and man checks only
#   make vm SCRIPT=f   boot the VM and run script f in it (QEMU_EXTRA=...)
#   make bench         print the figures of ntb_sim and of device lending
#   make soak          the fault and volume tests at volume, every VM test
#                      on the debug kernel: tables
#   make debug-kernel  build the cached debug kernel (KERNEL=debug uses it)
#   make install       install the built modules, smartio_tool, its man page
#                      and completion, the udev rules (DESTDIR=, PREFIX=)
#   make install-tools the same but the modules, where DKMS installs them
#   make uninstall     remove exactly what make install put
#
# The modules are built for the Debian 6.12 kernel that the VM boots, never
# for the kernel this machine runs. Everything is built under build/, the
# upstream NTB core and clients from the linux-source-6.12 tarball.
# KVER=<release> builds for another installed 6.12 kernel, as DKMS does.

KERNEL ?= stock
T ?=
QUICK ?=
SCRIPT ?=
QEMU_EXTRA ?=
PREFIX ?= /usr/local
DESTDIR ?=
export KERNEL T QUICK SCRIPT QEMU_EXTRA PREFIX DESTDIR

SH := scripts
SELFTESTS := tools/testing/selftests/drivers/ntb/lending

all: modules

deps:
	@$(SH)/install-deps

modules: deps
	@$(SH)/build-modules

# What dkms.conf runs: no install-deps (a kernel update must not pull in
# the test tools), and no -Werror, so that a warning a later kernel's
# headers bring does not leave that kernel without the modules.
dkms-build:
	@$(SH)/build-modules W= KCFLAGS=

install:
	@$(SH)/install-files install

install-tools:
	@$(SH)/install-files install-tools

uninstall:
	@$(SH)/install-files uninstall

lint: deps
	@T='^(checkpatch|sparse|shellcheck|rst|man)' $(SH)/check

check: deps
	@$(SH)/check

demo: modules
	@$(SELFTESTS)/vm.sh $(SELFTESTS)/demo.sh

vm: modules
	@$(SELFTESTS)/vm.sh $(SCRIPT)

bench: modules
	@$(SELFTESTS)/vm.sh $(SELFTESTS)/bench_sim.sh
	@$(SELFTESTS)/vm.sh $(SELFTESTS)/bench_lending.sh
	@$(SELFTESTS)/vm.sh $(SELFTESTS)/bench_pool.sh

soak: modules
	@$(SH)/soak

debug-kernel: deps
	@$(SH)/debug-kernel

clean:
	rm -rf build

.PHONY: all deps modules dkms-build install install-tools uninstall lint \
	check demo vm bench soak debug-kernel clean
