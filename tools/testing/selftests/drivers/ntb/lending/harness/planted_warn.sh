#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of harness.bats: a test that passes while the kernel WARNs.
# vm.sh must fail the run all the same.
# vm-devices: edu
modprobe harness_warn && echo "ok 1 planted_warn_loaded"
