#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of harness.bats: a test that fails on a clean kernel.
# vm-devices: edu
echo "not ok 1 failing_on_purpose"
exit 1
