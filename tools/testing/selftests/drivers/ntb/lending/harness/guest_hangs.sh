#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of harness.bats: a test that never finishes. vm.sh must stop the
# guest at its time limit and fail the run, after the guest has said where
# its tasks wait.
# vm-devices: edu
# vm-timeout: 30
echo "# hanging on purpose"
while :; do
	sleep 1000
done
