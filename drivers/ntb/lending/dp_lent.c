// SPDX-License-Identifier: GPL-2.0
/*
 * NTB device lending: the lender's side of one lent PCI function.
 *
 * While a function is lent, a PCI driver of ours owns it on the lender
 * (as pci-stub and vfio-pci own theirs), so that nothing else binds it and
 * nothing of the lender's driver is left behind. The lender serves the
 * borrower's config accesses through a vfio-pci-like virtualization, and
 * confines the function's DMA to an IOMMU domain of its own that maps only
 * the window into the borrower's memory and the borrower's doorbells.
 * Documentation/ntb-lending/dataplane.rst says what is virtualized.
 *
 * This file claims, resets and releases the function, holds the PCI driver
 * that owns it meanwhile and describes its BARs; dp_lent_config.c virtualizes
 * its config space and dp_lent_iommu.c builds its IOMMU domain.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/iommu.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/ratelimit.h>
#include <linux/spinlock.h>

#include "dataplane.h"
#include "dp_lent.h"

#define LENT_DRIVER_NAME	"ntb_lending"

/*
 * What makes lending a function unsafe, each refused unless the lender is
 * told to trust its borrowers with it, as vfio's allow_unsafe_interrupts:
 *
 * Without an IOMMU nothing confines the function's DMA: the borrower can
 * aim it at any of the lender's memory (lent_check_msi()).
 *
 * The borrower programs a lent function's MSI-X table through its BAR. Only
 * interrupt remapping stops such a write from ringing whatever the lender's
 * CPUs take interrupts on (lent_check_msi()).
 *
 * The window onto its BARs reaches whatever else lies in the span it
 * translates: other functions' registers (ntbl_lent_check_span()).
 *
 * Its IOMMU domain maps the pages of the adapter's doorbell registers,
 * writable; an adapter's other registers in such a page (on Intel gen3
 * its translations) are the borrower's to write too
 * (ntbl_lent_map_doorbell()).
 */
static bool allow_unsafe_noiommu;
static bool allow_unsafe_interrupts;
static bool allow_unsafe_neighbours;
bool lent_allow_unsafe_doorbells;

/* 0 or 1 (or N or Y), and nothing else: kstrtobool() takes "nope" as N. */
static int lent_param_set(const char *val, const struct kernel_param *kp)
{
	if (!sysfs_streq(val, "0") && !sysfs_streq(val, "1") &&
	    !sysfs_streq(val, "N") && !sysfs_streq(val, "Y")) {
		pr_err("%s: give 0 or 1\n", kp->name);
		return -EINVAL;
	}
	return param_set_bool(val, kp);
}

static const struct kernel_param_ops lent_param_ops = {
	.set = lent_param_set,
	.get = param_get_bool,
};

module_param_cb(allow_unsafe_noiommu, &lent_param_ops,
		&allow_unsafe_noiommu, 0644);
MODULE_PARM_DESC(allow_unsafe_noiommu,
		 "Lend functions that no IOMMU confines: a borrower can then have them read and write any of the lender's memory");
module_param_cb(allow_unsafe_interrupts, &lent_param_ops,
		&allow_unsafe_interrupts, 0644);
MODULE_PARM_DESC(allow_unsafe_interrupts,
		 "Lend functions whose IOMMU does not isolate their MSIs (no interrupt remapping): a borrower can then raise any interrupt on the lender");
module_param_cb(allow_unsafe_neighbours, &lent_param_ops,
		&allow_unsafe_neighbours, 0644);
MODULE_PARM_DESC(allow_unsafe_neighbours,
		 "Lend functions whose window also reaches other functions' registers: a borrower can then drive those too");
module_param_cb(allow_unsafe_doorbells, &lent_param_ops,
		&lent_allow_unsafe_doorbells, 0644);
MODULE_PARM_DESC(allow_unsafe_doorbells,
		 "Lend through adapters whose doorbell register shares its page with other registers: a borrower can then write those through the function");

/* --- BARs ----------------------------------------------------------------- */

int ntbl_lent_bars(struct ntbl_lent *lent, u64 align, struct ntbl_dp_bars *bars)
{
	struct pci_dev *pdev = lent->pdev;
	resource_size_t lo = ~(resource_size_t)0, hi = 0;
	struct resource *r;
	int i;

	if (align && !is_power_of_2(align))
		return -EINVAL;
	if (ntbl_lent_removed(lent))
		return -ENODEV;
	align = max_t(u64, align, PAGE_SIZE);
	memset(bars, 0, sizeof(*bars));

	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		r = &pdev->resource[i];
		if (!(r->flags & IORESOURCE_MEM) || !resource_size(r) ||
		    (r->flags & IORESOURCE_UNSET))
			continue;
		lo = min(lo, r->start);
		hi = max(hi, r->end);
		bars->bar[i].size = resource_size(r);
		if (r->flags & IORESOURCE_MEM_64)
			bars->bar[i].flags |= NTBL_DP_BAR_64;
		if (r->flags & IORESOURCE_PREFETCH)
			bars->bar[i].flags |= NTBL_DP_BAR_PREFETCH;
	}
	if (!hi)
		return -ENODEV;

	bars->span_phys = round_down(lo, align);
	bars->span_size = round_up((u64)hi + 1, align) - bars->span_phys;
	for (i = 0; i < PCI_STD_NUM_BARS; i++)
		if (bars->bar[i].size)
			bars->bar[i].offset = pdev->resource[i].start - bars->span_phys;
	return 0;
}
EXPORT_SYMBOL_NS_GPL(ntbl_lent_bars, NTB_LENDING);

/*
 * Whether resource @r of @other (its @i'th) holds registers a window onto
 * @lent's span could reach. Not what holds one of @lent's own BARs: a
 * bridge's window above it, its PF's VF BARs (its sibling VFs count as
 * the functions they are), VMD's BAR over its domain. Nor a bridge's
 * window, which holds functions, each checked as it is; but a hotplug
 * bridge's holds room for functions yet to come.
 */
static bool lent_other_regs(struct ntbl_lent *lent, struct pci_dev *other,
			    unsigned int i, const struct resource *r)
{
	const struct resource *bar;
	int b;

	if (!(r->flags & IORESOURCE_MEM) || !resource_size(r) ||
	    (r->flags & (IORESOURCE_UNSET | IORESOURCE_DISABLED)))
		return false;
	for (b = 0; b < PCI_STD_NUM_BARS; b++) {
		bar = &lent->pdev->resource[b];
		if ((bar->flags & IORESOURCE_MEM) && resource_size(bar) &&
		    !(bar->flags & IORESOURCE_UNSET) &&
		    r->start <= bar->start && bar->end <= r->end)
			return false;
	}
	return i < PCI_BRIDGE_RESOURCES || other->is_hotplug_bridge;
}

/* Warn about the BARs a window onto the span does not lend. */
static void lent_warn_io_bars(struct pci_dev *pdev)
{
	int i;

	for (i = 0; i < PCI_STD_NUM_BARS; i++)
		if (pci_resource_flags(pdev, i) & IORESOURCE_IO)
			pci_warn(pdev, "I/O BAR %d is not lent; a driver that needs it fails on the borrower\n",
				 i);
}

/*
 * Whether [@start, @end) lies in one memory window of the host bridge
 * above @lent: beyond them lie the host's memory and its registers that
 * are no function's (interrupt controllers, timers, the IOMMU's own). On
 * Intel's NTB a translation is aligned to the window's size: one onto a
 * function below 4 GiB through a 32 GiB window starts at 0. A host
 * bridge that says nothing of its windows has the whole of iomem, which
 * says nothing either: then only the host's memory is looked for
 * (lent_span_reaches()). The function holds its bus, and each bus the
 * bridge above it, which holds the bus above (pci_alloc_dev(),
 * pci_alloc_child_bus()), so the walk is safe even once it was removed.
 */
static bool lent_span_in_host_window(struct ntbl_lent *lent, u64 start,
				     u64 end)
{
	struct pci_bus *bus = (lent->pf ?: lent->pdev)->bus;
	struct resource *r;

	while (!pci_is_root_bus(bus))
		bus = bus->parent;
	pci_bus_for_each_resource(bus, r)
		if (r && (r->flags & IORESOURCE_MEM) && r->start <= start &&
		    end - 1 <= r->end)
			return true;
	return false;
}

/*
 * What a window onto @bars reaches besides @lent's function, named into
 * @reached; how many things.
 */
static int lent_span_reaches(struct ntbl_lent *lent,
			     const struct ntbl_dp_bars *bars, char *reached,
			     size_t size)
{
	struct pci_dev *pdev = lent->pdev, *other = NULL;
	u64 end = bars->span_phys + bars->span_size;
	struct resource *r;
	int len = 0, n = 0;
	unsigned int i;

	if (region_intersects(bars->span_phys, bars->span_size,
			      IORESOURCE_SYSTEM_RAM, IORES_DESC_NONE) !=
	    REGION_DISJOINT) {
		len = scnprintf(reached, size, "this host's memory");
		n++;
	} else if (!lent_span_in_host_window(lent, bars->span_phys, end)) {
		len = scnprintf(reached, size,
				"beyond the host bridge's windows (this host's own registers)");
		n++;
	}
	for_each_pci_dev(other) {
		if (other == pdev)
			continue;
		pci_dev_for_each_resource(other, r, i) {
			if (r->start >= end || r->end < bars->span_phys ||
			    !lent_other_regs(lent, other, i, r))
				continue;
			if (len < size - 1)
				len += scnprintf(reached + len, size - len, "%s%s",
						 n ? ", " : "", pci_name(other));
			n++;
			break;
		}
	}
	return n;
}

/* Lines of refusals a peer's asking causes: as dev_err_ratelimited(). */
static DEFINE_RATELIMIT_STATE(lent_span_peer_rs, DEFAULT_RATELIMIT_INTERVAL,
			      DEFAULT_RATELIMIT_BURST);

int ntbl_lent_check_span(struct ntbl_lent *lent,
			 const struct ntbl_dp_bars *bars, unsigned int flags)
{
	struct device *dev = &lent->pdev->dev;
	char reached[160] = "";
	bool say;

	if (!lent_span_reaches(lent, bars, reached, sizeof(reached)))
		return 0;
	/* An operator's command gets its line; a peer's asking is limited. */
	say = !(flags & NTBL_SPAN_PEER) || __ratelimit(&lent_span_peer_rs);
	if (READ_ONCE(allow_unsafe_neighbours)) {
		if (say && !(flags & NTBL_SPAN_QUIET))
			dev_warn(dev, "lent with unsafe neighbours: the window onto its BARs (%#llx bytes at %#llx) also reaches %s\n",
				 bars->span_size, bars->span_phys, reached);
		return 1;
	}
	if (say)
		dev_err(dev, "the window onto its BARs (%#llx bytes at %#llx) would also reach %s: not lent; give it a slot or a root port of its own, or load ntb_lending with allow_unsafe_neighbours=1\n",
			bars->span_size, bars->span_phys, reached);
	return -EPERM;
}
EXPORT_SYMBOL_NS_GPL(ntbl_lent_check_span, NTB_LENDING);

/* --- claim and release --------------------------------------------------- */

static bool lent_has_mem_bar(struct pci_dev *pdev)
{
	int i;

	for (i = 0; i < PCI_STD_NUM_BARS; i++)
		if ((pci_resource_flags(pdev, i) & IORESOURCE_MEM) &&
		    pci_resource_len(pdev, i))
			return true;
	return false;
}

/*
 * Read a config word to change it, false if the read failed or gave all
 * ones (a function that left, or is in error): writing back what that
 * read gave would set every bit, bus mastering among them.
 */
static bool lent_read_word(struct pci_dev *pdev, int where, u16 *val)
{
	return !pci_read_config_word(pdev, where, val) &&
	       !PCI_POSSIBLE_ERROR(*val);
}

/* Stop the function's DMA and interrupts; cfg_lock held or not yet shared. */
static void lent_hw_stop(struct ntbl_lent *lent)
{
	struct pci_dev *pdev = lent->pdev;
	u16 cmd, ctrl;

	if (lent_read_word(pdev, PCI_COMMAND, &cmd))
		pci_write_config_word(pdev, PCI_COMMAND,
				      (cmd & ~PCI_COMMAND_MASTER) |
				      PCI_COMMAND_INTX_DISABLE);
	if (pdev->msi_cap &&
	    lent_read_word(pdev, pdev->msi_cap + PCI_MSI_FLAGS, &ctrl))
		pci_write_config_word(pdev, pdev->msi_cap + PCI_MSI_FLAGS,
				      ctrl & ~PCI_MSI_FLAGS_ENABLE);
	if (pdev->msix_cap &&
	    lent_read_word(pdev, pdev->msix_cap + PCI_MSIX_FLAGS, &ctrl))
		pci_write_config_word(pdev, pdev->msix_cap + PCI_MSIX_FLAGS,
				      ctrl & ~PCI_MSIX_FLAGS_ENABLE);
}

/*
 * Turn the function's decoding off; cfg_lock held, or no borrower's
 * config access reaching the function (not yet shared, or LENT_STOPPED).
 * Each borrower gets it so, as a reset leaves it and a hot-add finds it:
 * its scan then has nothing to turn off and on around each BAR it sizes,
 * a config request each time. The state saved at the claim keeps the
 * decoding the lender's driver left, for the release.
 */
static void lent_decode_off(struct ntbl_lent *lent)
{
	struct pci_dev *pdev = lent->pdev;
	u16 cmd;

	if (lent_read_word(pdev, PCI_COMMAND, &cmd))
		pci_write_config_word(pdev, PCI_COMMAND,
				      cmd & ~(PCI_COMMAND_MEMORY | PCI_COMMAND_IO));
}

void ntbl_lent_quiesce(struct ntbl_lent *lent)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&lent->cfg_lock, flags);
	if (lent->state == LENT_ACTIVE) {
		lent->state = LENT_STOPPED;
		lent_hw_stop(lent);
	}
	raw_spin_unlock_irqrestore(&lent->cfg_lock, flags);
}
EXPORT_SYMBOL_NS_GPL(ntbl_lent_quiesce, NTB_LENDING);

/* --- the driver that owns lent functions ---------------------------------- */

static int lent_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	/*
	 * Bind only what ntbl_lent_claim() hands over: driver_override names
	 * this driver, but anyone could have written that.
	 */
	return pci_get_drvdata(pdev) ? 0 : -ENODEV;
}

/*
 * Nothing of ours lies under the BARs of a lent function, yet a borrower in
 * this same kernel puts its driver's regions there (ntb_sim's windows are
 * address-transparent). Take the BARs out of the resource tree before the
 * PCI core frees them, so that such regions move up to the bridge window
 * (a VF's: its PF's VF BAR) and stay there, busy, until their owner
 * releases them; freed with the BARs, they would be lost, and leak when
 * the owner cannot find them. A VF enabled again while such a region is
 * still held would find its range busy, which the PCI core does not
 * survive: the borrower lets go as its device is revoked, and SR-IOV
 * must not be enabled again before (dataplane.rst).
 */
static void lent_orphan_regions(struct pci_dev *pdev)
{
	struct resource *r;

	pci_dev_for_each_resource(pdev, r)
		if ((r->flags & IORESOURCE_MEM) && r->parent)
			remove_resource(r);
}

/*
 * The function is taken from its borrower for good: it leaves the PCI tree,
 * or its PF's driver unbinds (lent_pf_unbind()). Its IOMMU group may go
 * with it, so its domain goes now: the IOMMU core has forgotten the group
 * by the time of the release. Memory decoding goes off, so that nothing
 * reaches its BARs until a driver enables it again; the owner then takes
 * back the borrow. While the release gives the function back this only
 * marks it gone, so that its old driver is not bound to it again. Device
 * lock of the function held. False if this is lent_give_back() unbinding
 * our driver, which is no removal.
 */
static bool lent_gone(struct ntbl_lent *lent, const char *why)
{
	struct pci_dev *pdev = lent->pdev;
	unsigned long flags;
	bool teardown;

	device_lock_assert(&pdev->dev);
	mutex_lock(&lent->lock);
	if (lent->unbinder == current) {
		/* lent_give_back() unbinding us: no removal. */
		mutex_unlock(&lent->lock);
		return false;
	}
	if (lent->state == LENT_GONE) {
		/* Its PF's driver went first: taken down already. */
		mutex_unlock(&lent->lock);
		return true;
	}
	raw_spin_lock_irqsave(&lent->cfg_lock, flags);
	WRITE_ONCE(lent->state, LENT_GONE);
	lent_hw_stop(lent);
	lent_decode_off(lent);
	raw_spin_unlock_irqrestore(&lent->cfg_lock, flags);
	teardown = !lent->releasing;
	if (teardown) {
		__ntbl_lent_unmap_doorbells(lent);
		__ntbl_lent_unmap_memory(lent);
		ntbl_lent_iommu_exit(lent);
	}
	mutex_unlock(&lent->lock);
	if (!teardown)
		return true;
	pci_warn(pdev, "%s while lent; its borrower loses it\n", why);
	if (lent->removed)
		lent->removed(lent->removed_data);
	return true;
}

/* The function leaves the PCI tree (hot-unplug, sysfs remove, SR-IOV disable). */
static void lent_remove(struct pci_dev *pdev)
{
	struct ntbl_lent *lent = pci_get_drvdata(pdev);

	if (lent_gone(lent, "removed"))
		lent_orphan_regions(pdev);
}

static struct pci_driver lent_driver = {
	.name = LENT_DRIVER_NAME,
	.probe = lent_probe,
	.remove = lent_remove,
	/* The claim attaches the function to a domain of its own. */
	.driver_managed_dma = true,
	/* Unbinding goes through ntbl_lent_release() only. */
	.driver.suppress_bind_attrs = true,
};

/*
 * The driver is registered while at least one function is lent. PCI
 * driver names are global, so this is the one piece of state every fabric
 * shares. Its lock also serializes taking functions from their drivers
 * and giving them back, so that two claims of one function (from two
 * fabrics) cannot both unbind its driver.
 */
static DEFINE_MUTEX(lent_driver_lock);
static unsigned int lent_driver_users;	/* written under lent_driver_lock */

/*
 * A PF's driver unbinds while VFs of it are lent. A VF often does not work
 * without it (a reset of an NVMe primary controller takes its secondary
 * controllers offline, and QEMU's nvme does so), and the PF's driver may
 * disable SR-IOV in its remove without asking: the borrows end now, as if
 * the VFs had left the tree, before the PF's driver lets go. Runs under
 * the PF's device lock, which SR-IOV disable also holds around its VFs'.
 */
static int lent_pf_unbind(struct notifier_block *nb, unsigned long action,
			  void *data)
{
	struct pci_dev *pf = to_pci_dev(data), *vf = NULL;
	struct ntbl_lent *lent;

	/*
	 * Unlocked, and a VF being claimed may not hold its PF yet: a claim
	 * racing with this unbind lends a VF whose PF has no driver, as one
	 * just after it would.
	 */
	if (action != BUS_NOTIFY_UNBIND_DRIVER || !pf->is_physfn ||
	    !READ_ONCE(lent_driver_users))
		return NOTIFY_DONE;
	for_each_pci_dev(vf) {
		/* Ours while our driver is bound: look again under its lock. */
		if (!vf->is_virtfn ||
		    READ_ONCE(vf->dev.driver) != &lent_driver.driver)
			continue;
		device_lock(&vf->dev);
		lent = vf->dev.driver == &lent_driver.driver ?
		       pci_get_drvdata(vf) : NULL;
		if (lent && lent->pf == pf)
			lent_gone(lent, "its PF's driver unbound");
		device_unlock(&vf->dev);
	}
	return NOTIFY_DONE;
}

/*
 * Registered for the module's life: bus_register_notifier() takes the
 * notifier's rwsem, which must not nest inside a lock its callbacks could
 * wait for.
 */
static struct notifier_block lent_pf_nb = {
	.notifier_call = lent_pf_unbind,
};

int ntbl_lent_init(void)
{
	return bus_register_notifier(&pci_bus_type, &lent_pf_nb);
}

void ntbl_lent_exit(void)
{
	bus_unregister_notifier(&pci_bus_type, &lent_pf_nb);
}

static int lent_driver_get(void)
{
	int ret;

	lockdep_assert_held(&lent_driver_lock);
	if (!lent_driver_users) {
		ret = pci_register_driver(&lent_driver);
		if (ret)
			return ret;
	}
	WRITE_ONCE(lent_driver_users, lent_driver_users + 1);
	return 0;
}

static void lent_driver_put(void)
{
	lockdep_assert_held(&lent_driver_lock);
	WRITE_ONCE(lent_driver_users, lent_driver_users - 1);
	if (!lent_driver_users)
		pci_unregister_driver(&lent_driver);
}

/*
 * Before the function leaves its driver: whether an IOMMU confines its DMA
 * (ntbl_lent_iommu_init() does once it is ours) and its interrupts.
 */
static int lent_check_msi(struct pci_dev *pdev)
{
	struct iommu_group *group = iommu_group_get(&pdev->dev);
	bool isolated;

	if (!group) {
		if (!READ_ONCE(allow_unsafe_noiommu)) {
			pci_err(pdev, "has no IOMMU to confine its DMA to its borrower's window: turn the IOMMU on (intel_iommu=on), or load ntb_lending with allow_unsafe_noiommu=1 to lend it anyway\n");
			return -EPERM;
		}
		return 0;	/* ntbl_lent_iommu_init() warns */
	}
	isolated = iommu_group_has_isolated_msi(group);
	iommu_group_put(group);
	if (isolated)
		return 0;
	if (!READ_ONCE(allow_unsafe_interrupts)) {
		pci_err(pdev, "its IOMMU does not isolate its interrupts (no interrupt remapping): turn remapping on, or load ntb_lending with allow_unsafe_interrupts=1 to lend it anyway\n");
		return -EPERM;
	}
	pci_warn(pdev, "lent with unsafe interrupts: its borrower can raise any interrupt on this host\n");
	return 0;
}

/*
 * pci_upstream_bridge(), through the PF we hold: a VF's own pointer to its
 * PF dangles once the VF has left the tree. The PF holds its bus, which
 * holds the bridge.
 */
static struct pci_dev *lent_upstream_bridge(struct ntbl_lent *lent)
{
	struct pci_dev *dev = lent->pf ?: lent->pdev;

	return pci_is_root_bus(dev->bus) ? NULL : dev->bus->self;
}

/*
 * The locks pci_reset_function() takes, in its order: the upstream
 * bridge's, then the function's device lock and config access lock.
 * Claim, reset and release hold them around @lock, as lent_remove() runs
 * under the device lock and takes @lock.
 */
static void lent_dev_lock(struct ntbl_lent *lent)
{
	struct pci_dev *bridge = lent_upstream_bridge(lent);

	if (bridge)
		pci_dev_lock(bridge);
	pci_dev_lock(lent->pdev);
}

static void lent_dev_unlock(struct ntbl_lent *lent)
{
	struct pci_dev *bridge = lent_upstream_bridge(lent);

	pci_dev_unlock(lent->pdev);
	if (bridge)
		pci_dev_unlock(bridge);
}

/*
 * A VF holds its PF only while it is in the tree: hold the PF while the VF
 * is lent. Still bound to our driver, under its device lock, the VF is not
 * yet past its removal's unbind, which drops the PF only after it (and
 * nothing binds a VF whose removal has begun).
 */
static int lent_hold_pf(struct ntbl_lent *lent)
{
	struct pci_dev *pdev = lent->pdev;
	int ret = 0;

	if (!pdev->is_virtfn)
		return 0;
	device_lock(&pdev->dev);
	if (pdev->dev.driver == &lent_driver.driver)
		lent->pf = pci_dev_get(pci_physfn(pdev));
	else
		ret = -ENODEV;
	device_unlock(&pdev->dev);
	if (ret)
		pci_err(pdev, "was removed while it was being claimed\n");
	return ret;
}

/* Remember the function's driver_override, if any, to put it back. */
static int lent_save_override(struct ntbl_lent *lent)
{
	struct device *dev = &lent->pdev->dev;
	int ret = 0;

	spin_lock(&dev->driver_override.lock);
	if (dev->driver_override.name) {
		lent->orig_override = kstrdup(dev->driver_override.name, GFP_ATOMIC);
		if (!lent->orig_override)
			ret = -ENOMEM;
	}
	spin_unlock(&dev->driver_override.lock);
	return ret;
}

/* Take the function from its driver and bind ours. */
static int lent_take(struct ntbl_lent *lent)
{
	struct pci_dev *pdev = lent->pdev;
	struct device *dev = &pdev->dev;
	struct device_driver *drv;
	int ret;

	device_lock(dev);
	drv = dev->driver;
	if (drv == &lent_driver.driver) {
		device_unlock(dev);
		pci_err(pdev, "is lent already\n");
		return -EBUSY;
	}
	if (drv && !try_module_get(drv->owner)) {
		device_unlock(dev);
		pci_err(pdev, "its driver %s is unloading; try again\n", drv->name);
		return -EBUSY;
	}
	lent->orig_drv = drv;
	ret = lent_save_override(lent);
	device_unlock(dev);
	if (ret)
		goto err_module;

	/* From here on only our driver may bind the function. */
	ret = device_set_driver_override(dev, LENT_DRIVER_NAME);
	if (ret)
		goto err_override;
	device_release_driver(dev);

	pci_set_drvdata(pdev, lent);
	ret = device_driver_attach(&lent_driver.driver, dev);
	if (ret) {
		pci_err(pdev, "cannot bind it to %s (%d)\n", LENT_DRIVER_NAME, ret);
		goto err_attach;
	}
	return 0;

err_attach:
	pci_set_drvdata(pdev, NULL);
	device_set_driver_override(dev, lent->orig_override ?: "");
	if (lent->orig_drv && device_driver_attach(lent->orig_drv, dev))
		pci_err(pdev, "cannot rebind %s; bind it by hand\n", lent->orig_drv->name);
err_override:
	kfree(lent->orig_override);
err_module:
	if (lent->orig_drv)
		module_put(lent->orig_drv->owner);
	return ret;
}

/* Unbind our driver and give the function back to the one it had. */
static void lent_give_back(struct ntbl_lent *lent)
{
	struct pci_dev *pdev = lent->pdev;
	struct device *dev = &pdev->dev;
	int ret;

	mutex_lock(&lent->lock);
	lent->unbinder = current;
	mutex_unlock(&lent->lock);
	device_release_driver(dev);
	device_set_driver_override(dev, lent->orig_override ?: "");
	/* A removal meanwhile marked it gone (lent_remove()). */
	if (lent->orig_drv && !ntbl_lent_removed(lent)) {
		ret = device_driver_attach(lent->orig_drv, dev);
		if (ret)
			pci_err(pdev, "%s did not take it back (%d); bind it by hand\n",
				lent->orig_drv->name, ret);
	}
	if (lent->orig_drv)
		module_put(lent->orig_drv->owner);
	kfree(lent->orig_override);
}

struct ntbl_lent *ntbl_lent_claim(struct pci_dev *pdev,
				  void (*removed)(void *data), void *data)
{
	struct ntbl_dp_bars bars;
	struct ntbl_lent *lent;
	int ret;

	if (pdev->hdr_type != PCI_HEADER_TYPE_NORMAL) {
		pci_err(pdev, "is a bridge; only endpoints can be lent\n");
		return ERR_PTR(-EINVAL);
	}
	if (!lent_has_mem_bar(pdev)) {
		pci_err(pdev, "has no memory BAR; nothing to lend\n");
		return ERR_PTR(-EINVAL);
	}

	lent = kvzalloc(sizeof(*lent), GFP_KERNEL);
	if (!lent)
		return ERR_PTR(-ENOMEM);
	lent->pdev = pci_dev_get(pdev);
	lent->removed = removed;
	lent->removed_data = data;
	mutex_init(&lent->lock);
	raw_spin_lock_init(&lent->cfg_lock);

	ret = lent_check_msi(pdev);
	if (ret)
		goto err_free;
	/* Each window takes a page at least: one that reaches others, too. */
	if (ntbl_lent_bars(lent, PAGE_SIZE, &bars)) {
		pci_err(pdev, "none of its memory BARs has an address; nothing to lend\n");
		ret = -EINVAL;
		goto err_free;
	}
	ret = ntbl_lent_check_span(lent, &bars, 0);
	if (ret < 0)
		goto err_free;
	mutex_lock(&lent_driver_lock);
	ret = lent_driver_get();
	if (ret)
		goto err_unlock;
	ret = lent_take(lent);
	if (ret)
		goto err_driver;
	mutex_unlock(&lent_driver_lock);

	/* Ours now: a removal from here on goes through lent_remove(). */
	ret = lent_hold_pf(lent);
	if (ret)
		goto err_give_back;
	lent_dev_lock(lent);
	mutex_lock(&lent->lock);
	if (lent->state == LENT_GONE) {
		pci_err(pdev, "was removed while it was being claimed\n");
		ret = -ENODEV;
		goto err_unlock_dev;
	}
	ret = ntbl_lent_iommu_init(lent);
	if (ret)
		goto err_unlock_dev;
	pci_set_power_state(pdev, PCI_D0);
	/* A fresh function, as vfio-pci hands out; not every one can reset. */
	ret = pci_reset_function_locked(pdev);
	if (ret && ret != -ENOTTY)
		pci_warn(pdev, "reset failed (%d); lending it as it is\n", ret);
	lent_hw_stop(lent);
	pci_save_state(pdev);
	lent->saved = pci_store_saved_state(pdev);
	if (!lent->saved) {
		pci_err(pdev, "out of memory for its saved state; not lent\n");
		ntbl_lent_iommu_exit(lent);
		ret = -ENOMEM;
		goto err_unlock_dev;
	}
	lent_decode_off(lent);
	ntbl_lent_cfg_init(lent);
	mutex_unlock(&lent->lock);
	lent_dev_unlock(lent);
	lent_warn_io_bars(pdev);
	return lent;

err_unlock_dev:
	lent->releasing = true;
	mutex_unlock(&lent->lock);
	lent_dev_unlock(lent);
err_give_back:
	mutex_lock(&lent_driver_lock);
	lent_give_back(lent);
err_driver:
	lent_driver_put();
err_unlock:
	mutex_unlock(&lent_driver_lock);
err_free:
	pci_dev_put(lent->pf);
	pci_dev_put(pdev);
	mutex_destroy(&lent->lock);
	kvfree(lent);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_NS_GPL(ntbl_lent_claim, NTB_LENDING);

int ntbl_lent_reset(struct ntbl_lent *lent)
{
	struct pci_dev *pdev = lent->pdev;
	unsigned long flags;
	int ret = 0;

	lent_dev_lock(lent);
	mutex_lock(&lent->lock);
	ntbl_lent_quiesce(lent);
	if (lent->state == LENT_GONE) {
		ret = -ENODEV;
		goto unlock;
	}
	pci_reset_function_locked(pdev);
	lent_hw_stop(lent);
	__ntbl_lent_unmap_doorbells(lent);
	__ntbl_lent_unmap_memory(lent);
	pci_load_saved_state(pdev, lent->saved);
	pci_restore_state(pdev);
	lent_decode_off(lent);
	/* Config writes are refused while the view is rebuilt. */
	ntbl_lent_cfg_init(lent);
	raw_spin_lock_irqsave(&lent->cfg_lock, flags);
	if (lent->state == LENT_STOPPED)
		lent->state = LENT_ACTIVE;
	raw_spin_unlock_irqrestore(&lent->cfg_lock, flags);
unlock:
	mutex_unlock(&lent->lock);
	lent_dev_unlock(lent);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(ntbl_lent_reset, NTB_LENDING);

void ntbl_lent_release(struct ntbl_lent *lent)
{
	struct pci_dev *pdev = lent->pdev;

	lent_dev_lock(lent);
	mutex_lock(&lent->lock);
	lent->releasing = true;
	ntbl_lent_quiesce(lent);
	if (lent->state != LENT_GONE) {
		/* Whatever the borrower left running stops here. */
		pci_reset_function_locked(pdev);
		lent_hw_stop(lent);
	}
	__ntbl_lent_unmap_doorbells(lent);
	__ntbl_lent_unmap_memory(lent);
	ntbl_lent_iommu_exit(lent);
	if (lent->state != LENT_GONE) {
		pci_load_and_free_saved_state(pdev, &lent->saved);
		pci_restore_state(pdev);
	}
	kfree(lent->saved);
	mutex_unlock(&lent->lock);
	lent_dev_unlock(lent);

	mutex_lock(&lent_driver_lock);
	lent_give_back(lent);
	lent_driver_put();
	mutex_unlock(&lent_driver_lock);

	pci_dev_put(lent->pf);
	pci_dev_put(pdev);
	mutex_destroy(&lent->lock);
	kvfree(lent);
}
EXPORT_SYMBOL_NS_GPL(ntbl_lent_release, NTB_LENDING);

bool ntbl_lent_confined(const struct ntbl_lent *lent)
{
	/* Set by the claim, cleared by the release or the removal. */
	return READ_ONCE(lent->domain);
}
EXPORT_SYMBOL_NS_GPL(ntbl_lent_confined, NTB_LENDING);

bool ntbl_lent_removed(const struct ntbl_lent *lent)
{
	return READ_ONCE(lent->state) == LENT_GONE;
}
EXPORT_SYMBOL_NS_GPL(ntbl_lent_removed, NTB_LENDING);
