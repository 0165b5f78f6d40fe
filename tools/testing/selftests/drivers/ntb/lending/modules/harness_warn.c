// SPDX-License-Identifier: GPL-2.0
/*
 * harness_warn: raises one WARN at load. The VM harness must fail any run
 * whose guest log holds a WARN; loading this module proves that it does.
 */

#include <linux/bug.h>
#include <linux/module.h>

static int __init harness_warn_init(void)
{
	WARN(1, "harness_warn: planted warning for the harness self-test\n");
	return 0;
}
module_init(harness_warn_init);

static void __exit harness_warn_exit(void)
{
}
module_exit(harness_warn_exit);

MODULE_DESCRIPTION("Planted WARN for the NTB lending VM harness self-test");
MODULE_LICENSE("GPL");
