// SPDX-License-Identifier: GPL-2.0
/*
 * ntb_sim: a simulated NTB fabric of several hosts inside one kernel, the
 * test hardware of NTB device lending (see Documentation/ntb-lending/).
 *
 * This first version only loads and unloads; simulated hosts arrive with
 * the ntb_sim issue.
 */

#include <linux/module.h>

static int __init ntb_sim_init(void)
{
	return 0;
}
module_init(ntb_sim_init);

static void __exit ntb_sim_exit(void)
{
}
module_exit(ntb_sim_exit);

MODULE_DESCRIPTION("Simulated NTB fabric for testing NTB clients");
MODULE_LICENSE("GPL");
