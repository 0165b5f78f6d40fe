// SPDX-License-Identifier: GPL-2.0
/*
 * NTB device lending: the NTB client that lends local PCIe devices to the
 * peers of an NTB fabric and borrows theirs.
 *
 * One &struct ntb_lending_adapter is bound to each local NTB device (each
 * adapter on the fabric); nothing is shared between adapters, so a second
 * fabric or a second adapter never meets the state of the first.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/ntb.h>
#include <linux/slab.h>

#include "ntb_lending.h"

static int ntb_lending_probe(struct ntb_client *client, struct ntb_dev *ntb)
{
	struct ntb_lending_adapter *adapter;

	adapter = kzalloc(sizeof(*adapter), GFP_KERNEL);
	if (!adapter)
		return -ENOMEM;

	adapter->ntb = ntb;
	dev_set_drvdata(&ntb->dev, adapter);

	return 0;
}

static void ntb_lending_remove(struct ntb_client *client, struct ntb_dev *ntb)
{
	struct ntb_lending_adapter *adapter = dev_get_drvdata(&ntb->dev);

	dev_set_drvdata(&ntb->dev, NULL);
	kfree(adapter);
}

static struct ntb_client ntb_lending_client = {
	.ops = {
		.probe = ntb_lending_probe,
		.remove = ntb_lending_remove,
	},
};

static int __init ntb_lending_init(void)
{
	/* The application note's check that the module is up. */
	pr_info("smartio initializing\n");

	return ntb_register_client(&ntb_lending_client);
}
module_init(ntb_lending_init);

static void __exit ntb_lending_exit(void)
{
	ntb_unregister_client(&ntb_lending_client);
}
module_exit(ntb_lending_exit);

MODULE_DESCRIPTION("Lend and borrow PCIe devices over an NTB fabric");
MODULE_LICENSE("GPL");
