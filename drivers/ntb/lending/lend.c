// SPDX-License-Identifier: GPL-2.0
/*
 * NTB device lending: the lender's lend entries, and their offers.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ntb.h>
#include <linux/pci.h>
#include <linux/slab.h>

#include "ntb_lending.h"

/*
 * Until the data plane owns a lent device with a driver of its own, the
 * lender holds it by unbinding the local driver, and a withdrawal lets the
 * driver core bind the matching driver again.
 */
struct nl_lent {
	struct pci_dev *pdev;
};

static struct nl_lent *nl_lent_claim(struct pci_dev *pdev)
{
	struct nl_lent *lent = kzalloc(sizeof(*lent), GFP_KERNEL);

	if (!lent)
		return ERR_PTR(-ENOMEM);
	lent->pdev = pdev;
	device_release_driver(&pdev->dev);
	return lent;
}

static void nl_lent_release(struct nl_lent *lent)
{
	if (device_attach(&lent->pdev->dev) < 0)
		pci_err(lent->pdev, "no driver could take the device back; bind one by hand\n");
	kfree(lent);
}

/**
 * nl_lend_offer() - make a lend entry available to connected nodes
 * @lend: the entry; its adapter is locked
 *
 * The local driver is unbound and the device is held for lending.
 *
 * Return: 0 or a negative errno; on error nothing changed.
 */
int nl_lend_offer(struct nl_lend *lend)
{
	struct nl_lent *lent;

	lockdep_assert_held(&lend->adapter->lock);
	if (lend->state != NL_LEND_LOCAL)
		return 0;
	lent = nl_lent_claim(lend->pdev);
	if (IS_ERR(lent))
		return PTR_ERR(lent);
	lend->lent = lent;
	lend->state = NL_LEND_AVAILABLE;
	nl_send_offers(lend->adapter, lend, -1);
	return 0;
}

/**
 * nl_lend_withdraw() - give a lend entry's device back to local use
 * @lend: the entry; its adapter is locked
 * @force: revoke a borrow rather than refuse
 *
 * Return: 0, or -EBUSY if the device is borrowed and @force is false.
 */
int nl_lend_withdraw(struct nl_lend *lend, bool force)
{
	lockdep_assert_held(&lend->adapter->lock);
	if (lend->state == NL_LEND_LOCAL)
		return 0;
	if (lend->state == NL_LEND_BORROWED && !force) {
		pr_err("lends/%s: borrowed by node %d; it must return the device first\n",
		       config_item_name(&lend->group.cg_item), lend->borrower);
		return -EBUSY;
	}
	lend->state = NL_LEND_LOCAL;
	lend->borrower = -1;
	nl_send_offers(lend->adapter, lend, -1);
	nl_lent_release(lend->lent);
	lend->lent = NULL;
	return 0;
}
