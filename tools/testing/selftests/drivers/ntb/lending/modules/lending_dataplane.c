// SPDX-License-Identifier: GPL-2.0
/*
 * lending_dataplane: drives the data plane of NTB device lending over a
 * two-host ntb_sim fabric, with direct calls in place of the control
 * protocol. Test only.
 *
 * Bind both hosts of the fabric to this client (it must not share them
 * with ntb_lending's own). Writing 1 to
 * /sys/kernel/debug/lending_dataplane/borrow lends PCI function @bdf of the
 * host on port 0 (A) to the host on port 1 (B), whose PCI tree then holds
 * it on a virtual host bridge; 0 returns it and A's driver takes it back.
 * Reading it gives the borrowed function's name on B, or an empty line.
 * Writing 1 to "lost" returns it as a link loss would: A stops the
 * function at once and B removes it by surprise. "info" shows what the
 * control plane would have carried: the BAR span and BARs, the window B
 * sees them through, where the function sees B's memory, and the doorbell
 * writes.
 *
 * The pieces, as the control plane would carry them:
 *   A: claims the function, translates its inbound window 0 to the BAR span
 *   B: reads its outbound window 0 (the BARs), translates its inbound
 *      window 1 to [0, ram_size) of its memory
 *   A: maps its outbound window 1 (B's memory) and B's doorbells into the
 *      function's IOMMU domain
 *   B: builds the virtual bus with those addresses; its doorbell interrupt
 *      runs the bus's vectors
 *
 * One fabric at a time: the state is this module's, as befits a test.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/ntb.h>
#include <linux/pci.h>
#include <linux/rcupdate.h>
#include <linux/seq_file.h>

#include "../../../../../../../drivers/ntb/lending/dataplane.h"

MODULE_IMPORT_NS(NTB_LENDING);

static char *bdf;
module_param(bdf, charp, 0644);
MODULE_PARM_DESC(bdf, "[domain:]bus:dev.fn of the function host A lends");

static ulong ram_size;
module_param(ram_size, ulong, 0444);
MODULE_PARM_DESC(ram_size, "Bytes of host B's memory, from 0, that the function may reach");

static bool keep_lent;
module_param(keep_lent, bool, 0644);
MODULE_PARM_DESC(keep_lent, "A return resets the function for the next borrow instead of giving it back to A's driver");

static uint db_bits;
module_param(db_bits, uint, 0644);
MODULE_PARM_DESC(db_bits, "Doorbell bits the borrowed function may use (default 0: all)");

static bool msi_32bit;
module_param(msi_32bit, bool, 0644);
MODULE_PARM_DESC(msi_32bit, "Host B sees the function's MSI capability without 64-bit addresses");

#define DP_PORT_A	0	/* the lender */
#define DP_PORT_B	1	/* the borrower */
#define DP_WIDX_BARS	0	/* B reaches A's BARs: A's inbound window 0 */
#define DP_WIDX_RAM	1	/* A reaches B's memory: B's inbound window 1 */

/**
 * struct dp_state - the fabric this client drives
 * @lock: protects everything below; @vbus is also read under RCU
 * @host: the NTB device of each port
 * @lent: A's lent function while lent
 * @vbus: B's virtual bus while borrowed
 * @info: what B was told, for debugfs "info"
 * @bars: what A described, for debugfs "info"
 * @db: B's doorbells as the function writes them
 * @msi_flags: where the lent function's MSI control is, 0 if it has none
 * @dir: debugfs directory
 */
struct dp_state {
	struct mutex lock;		/* see above */
	struct ntb_dev *host[2];
	struct ntbl_lent *lent;
	struct ntbl_vbus __rcu *vbus;
	struct ntbl_vbus_info info;
	struct ntbl_dp_bars bars;
	struct ntbl_dp_doorbell db[64];
	unsigned int msi_flags;
	struct dentry *dir;
};

static struct dp_state dp = {
	.lock = __MUTEX_INITIALIZER(dp.lock),
};

static int dp_cfg_read(void *priv, unsigned int where, unsigned int size,
		       u32 *val)
{
	unsigned int flags = dp.msi_flags;
	int ret = ntbl_lent_cfg_read(priv, where, size, val);

	/* A device that cannot write a doorbell above 4 GiB, as B sees it. */
	if (!ret && READ_ONCE(msi_32bit) && flags &&
	    where <= flags && flags < where + size)
		*val &= ~(PCI_MSI_FLAGS_64BIT << (8 * (flags - where)));
	return ret;
}

static int dp_cfg_write(void *priv, unsigned int where, unsigned int size,
			u32 val)
{
	return ntbl_lent_cfg_write(priv, where, size, val);
}

static const struct ntbl_vbus_ops dp_vbus_ops = {
	.cfg_read = dp_cfg_read,
	.cfg_write = dp_cfg_write,
};

static void dp_db_event(void *ctx, int vector)
{
	struct ntb_dev *ntb = ctx;
	struct ntbl_vbus *vbus;
	u64 bits;

	bits = ntb_db_read(ntb);
	ntb_db_clear(ntb, bits);
	rcu_read_lock();
	vbus = rcu_dereference(dp.vbus);
	if (vbus && ntb == dp.host[DP_PORT_B])
		ntbl_vbus_doorbell(vbus, bits);
	rcu_read_unlock();
}

static const struct ntb_ctx_ops dp_ctx_ops = {
	.db_event = dp_db_event,
};

static struct pci_dev *dp_find_function(void)
{
	unsigned int domain = 0, bus, dev, fn;
	int n = 0;

	/* bdf can be rewritten through sysfs: read it under the param lock. */
	kernel_param_lock(THIS_MODULE);
	if (bdf) {
		n = sscanf(bdf, "%x:%x:%x.%x", &domain, &bus, &dev, &fn);
		if (n != 4) {
			domain = 0;
			n = sscanf(bdf, "%x:%x.%x", &bus, &dev, &fn) + 1;
		}
	}
	kernel_param_unlock(THIS_MODULE);
	if (n != 4)
		return NULL;
	return pci_get_domain_bus_and_slot(domain, bus, PCI_DEVFN(dev, fn));
}

/* A's half: the function, its BAR window, B's memory and doorbells. */
static int dp_lend(struct ntb_dev *a, struct ntbl_dp_bars *bars,
		   unsigned int *nr_db, u64 *dma_dev_addr)
{
	resource_size_t align, size_max, size;
	phys_addr_t addr, db_addr;
	struct pci_dev *pdev;
	struct ntbl_lent *lent;
	u64 db_data;
	unsigned int i;
	int ret;

	/* A function kept from the last borrow (keep_lent) is lent already. */
	lent = dp.lent;
	if (!lent) {
		pdev = dp_find_function();
		if (!pdev) {
			pr_err("no such PCI function; give bdf=[domain:]bus:dev.fn\n");
			return -ENODEV;
		}
		/* Its tests never remove the function: no callback. */
		lent = ntbl_lent_claim(pdev, NULL, NULL);
		dp.msi_flags = pdev->msi_cap ? pdev->msi_cap + PCI_MSI_FLAGS : 0;
		pci_dev_put(pdev);
		if (IS_ERR(lent))
			return PTR_ERR(lent);
	}

	ret = ntb_mw_get_align(a, 0, DP_WIDX_BARS, &align, NULL, &size_max);
	if (ret)
		goto err_release;
	ret = ntbl_lent_bars(lent, align, bars);
	if (ret)
		goto err_release;
	if (bars->span_size > size_max) {
		ret = -ENOSPC;
		goto err_release;
	}
	/* What the window reaches, as ntb_lending's lender asks. */
	ret = ntbl_lent_check_span(lent, bars, 0);
	if (ret < 0)
		goto err_release;
	ret = ntb_mw_set_trans(a, 0, DP_WIDX_BARS, bars->span_phys, bars->span_size);
	if (ret)
		goto err_release;

	/* B's inbound translation is set: A's outbound window reaches B. */
	ret = ntb_peer_mw_get_addr(a, DP_WIDX_RAM, &addr, &size);
	if (ret)
		goto err_bars;
	ret = ntbl_lent_map_memory(lent, addr, size, dma_dev_addr);
	if (ret)
		goto err_bars;

	*nr_db = min_t(unsigned int, hweight64(ntb_db_valid_mask(a)), ARRAY_SIZE(dp.db));
	if (db_bits)
		*nr_db = min(*nr_db, db_bits);
	for (i = 0; i < *nr_db; i++) {
		ret = ntb_peer_db_addr(a, &db_addr, &size, &db_data, i);
		if (ret)
			goto err_bars;
		ret = ntbl_lent_map_doorbell(lent, db_addr, size, db_data,
					     &dp.db[i].addr);
		if (ret)
			goto err_bars;
		dp.db[i].data = db_data;
	}
	dp.lent = lent;
	return 0;

err_bars:
	ntb_mw_clear_trans(a, 0, DP_WIDX_BARS);
err_release:
	ntbl_lent_release(lent);
	dp.lent = NULL;
	return ret;
}

static int dp_borrow(void)
{
	struct ntb_dev *a = dp.host[DP_PORT_A], *b = dp.host[DP_PORT_B];
	struct ntbl_vbus_info info = {};
	struct ntbl_dp_bars bars;
	struct ntbl_vbus *vbus;
	resource_size_t wsize;
	phys_addr_t win;
	int ret;

	lockdep_assert_held(&dp.lock);
	if (!a || !b)
		return -ENODEV;
	if (rcu_access_pointer(dp.vbus))
		return -EBUSY;
	if (!ram_size || !PAGE_ALIGNED(ram_size)) {
		pr_err("give ram_size=, the page-aligned end of host B's memory\n");
		return -EINVAL;
	}

	/* B lets the fabric reach its memory before A maps the window. */
	ret = ntb_mw_set_trans(b, 0, DP_WIDX_RAM, 0, ram_size);
	if (ret)
		return ret;
	ret = dp_lend(a, &bars, &info.nr_db, &info.dma_dev_addr);
	if (ret)
		goto err_ram;

	/* Address-transparent windows: read the address once A translated. */
	ret = ntb_peer_mw_get_addr(b, DP_WIDX_BARS, &win, &wsize);
	if (ret)
		goto err_lend;
	info.parent = &b->dev;
	info.ops = &dp_vbus_ops;
	info.priv = dp.lent;
	info.win_phys = win;
	info.win_size = min_t(u64, wsize, bars.span_size);
	memcpy(info.bar, bars.bar, sizeof(info.bar));
	info.dma_phys = 0;
	info.dma_size = ram_size;
	info.db = dp.db;
	/* dataplane.h: the callers of the bus take the rescan lock. */
	pci_lock_rescan_remove();
	vbus = ntbl_vbus_create(&info);
	if (IS_ERR(vbus)) {
		pci_unlock_rescan_remove();
		ret = PTR_ERR(vbus);
		goto err_lend;
	}
	rcu_assign_pointer(dp.vbus, vbus);
	ntbl_vbus_add(vbus);
	pci_unlock_rescan_remove();
	dp.info = info;
	dp.bars = bars;
	return 0;

err_lend:
	ntb_mw_clear_trans(a, 0, DP_WIDX_BARS);
	ntbl_lent_release(dp.lent);
	dp.lent = NULL;
err_ram:
	ntb_mw_clear_trans(b, 0, DP_WIDX_RAM);
	return ret;
}

/*
 * Return the function; @lost: as after a link loss, by surprise. With
 * keep_lent, an orderly return resets the function for the next borrow;
 * a return with nothing borrowed gives a kept function back.
 */
static void dp_return(bool lost)
{
	struct ntbl_vbus *vbus = rcu_dereference_protected(dp.vbus,
							   lockdep_is_held(&dp.lock));

	if (vbus) {
		if (lost) {
			ntbl_lent_quiesce(dp.lent);
			ntbl_vbus_link_lost(vbus);
		}
		pci_lock_rescan_remove();
		ntbl_vbus_remove(vbus);
		pci_unlock_rescan_remove();
		RCU_INIT_POINTER(dp.vbus, NULL);
		synchronize_rcu();
		ntbl_vbus_free(vbus);
		ntb_mw_clear_trans(dp.host[DP_PORT_B], 0, DP_WIDX_RAM);
		ntb_mw_clear_trans(dp.host[DP_PORT_A], 0, DP_WIDX_BARS);
		if (!lost && READ_ONCE(keep_lent) && !ntbl_lent_reset(dp.lent))
			return;
	}
	if (dp.lent)
		ntbl_lent_release(dp.lent);
	dp.lent = NULL;
}

static ssize_t dp_borrow_write(struct file *file, const char __user *ubuf,
			       size_t count, loff_t *ppos)
{
	bool on;
	int ret;

	ret = kstrtobool_from_user(ubuf, count, &on);
	if (ret)
		return ret;
	mutex_lock(&dp.lock);
	if (on)
		ret = dp_borrow();
	else
		dp_return(false);
	mutex_unlock(&dp.lock);
	return ret ?: count;
}

static ssize_t dp_borrow_read(struct file *file, char __user *ubuf,
			      size_t count, loff_t *ppos)
{
	struct ntbl_vbus *vbus;
	char buf[32] = "";

	mutex_lock(&dp.lock);
	vbus = rcu_dereference_protected(dp.vbus, lockdep_is_held(&dp.lock));
	if (vbus)
		strscpy(buf, pci_name(ntbl_vbus_pci_dev(vbus)), sizeof(buf));
	mutex_unlock(&dp.lock);
	strlcat(buf, "\n", sizeof(buf));
	return simple_read_from_buffer(ubuf, count, ppos, buf, strlen(buf));
}

static const struct file_operations dp_borrow_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.read = dp_borrow_read,
	.write = dp_borrow_write,
};

static int dp_info_show(struct seq_file *m, void *unused)
{
	const struct ntbl_vbus_info *info = &dp.info;
	unsigned int i;

	mutex_lock(&dp.lock);
	if (!rcu_access_pointer(dp.vbus))
		goto unlock;
	seq_printf(m, "span %#llx size %#llx\n", dp.bars.span_phys, dp.bars.span_size);
	for (i = 0; i < PCI_STD_NUM_BARS; i++)
		if (info->bar[i].size)
			seq_printf(m, "bar%u offset %#llx size %#llx flags %#x\n", i,
				   info->bar[i].offset, info->bar[i].size,
				   info->bar[i].flags);
	seq_printf(m, "window %pa size %#llx\n", &info->win_phys, info->win_size);
	seq_printf(m, "memory %pa size %#llx dev_addr %#llx\n", &info->dma_phys,
		   info->dma_size, info->dma_dev_addr);
	for (i = 0; i < info->nr_db; i++)
		seq_printf(m, "db%u addr %#llx data %#x\n", i, dp.db[i].addr,
			   dp.db[i].data);
unlock:
	mutex_unlock(&dp.lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dp_info);

static ssize_t dp_lost_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	bool on;
	int ret;

	ret = kstrtobool_from_user(ubuf, count, &on);
	if (ret)
		return ret;
	if (!on)
		return -EINVAL;
	mutex_lock(&dp.lock);
	dp_return(true);
	mutex_unlock(&dp.lock);
	return count;
}

static const struct file_operations dp_lost_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = dp_lost_write,
};

static int dp_probe(struct ntb_client *client, struct ntb_dev *ntb)
{
	int port = ntb_port_number(ntb);
	int ret;

	if (ntb_peer_port_count(ntb) != 1 || port < 0 || port > 1) {
		dev_err(&ntb->dev, "not a two-host fabric; this test needs one\n");
		return -EINVAL;
	}
	mutex_lock(&dp.lock);
	if (dp.host[port]) {
		mutex_unlock(&dp.lock);
		dev_err(&ntb->dev, "port %d is bound already: one fabric at a time\n", port);
		return -EBUSY;
	}
	ret = ntb_set_ctx(ntb, ntb, &dp_ctx_ops);
	if (!ret) {
		dp.host[port] = ntb;
		ntb_link_enable(ntb, NTB_SPEED_AUTO, NTB_WIDTH_AUTO);
	}
	mutex_unlock(&dp.lock);
	return ret;
}

static void dp_remove(struct ntb_client *client, struct ntb_dev *ntb)
{
	mutex_lock(&dp.lock);
	dp_return(true);
	dp.host[ntb_port_number(ntb)] = NULL;
	mutex_unlock(&dp.lock);
	ntb_link_disable(ntb);
	ntb_clear_ctx(ntb);
}

static struct ntb_client dp_client = {
	.ops = {
		.probe = dp_probe,
		.remove = dp_remove,
	},
};

static int __init dp_init(void)
{
	int ret;

	dp.dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("borrow", 0600, dp.dir, NULL, &dp_borrow_fops);
	debugfs_create_file("lost", 0200, dp.dir, NULL, &dp_lost_fops);
	debugfs_create_file("info", 0400, dp.dir, NULL, &dp_info_fops);
	ret = ntb_register_client(&dp_client);
	if (ret)
		debugfs_remove_recursive(dp.dir);
	return ret;
}
module_init(dp_init);

static void __exit dp_exit(void)
{
	ntb_unregister_client(&dp_client);
	debugfs_remove_recursive(dp.dir);
}
module_exit(dp_exit);

MODULE_DESCRIPTION("Test client: NTB device lending's data plane over ntb_sim");
MODULE_LICENSE("GPL");
