// SPDX-License-Identifier: GPL-2.0
/*
 * NTB device lending: the configfs ABI, Documentation/ntb-lending/configfs.rst,
 * and the module's init and exit: this is the top layer, which calls down
 * into core.c and the lender and borrower (lender.c, borrower.c) and is called
 * back by core.c only through &struct ntbl_abi_ops.
 *
 * ntb_lending/<adapter> groups are made by the kernel when an NTB device
 * of that name first probes, and stay, with what the operator configured
 * in them, until the module unloads (configfs cannot remove a group that
 * holds the operator's directories): an adapter that goes away and comes
 * back finds its configuration again. offers/<Id> groups are made and
 * removed by the kernel as peers change their offers, always from the
 * adapter's ordered work queue and never under &ntbl_adapter.lock, because
 * configfs holds its subsystem mutex around our mkdir and rmdir callbacks,
 * which take that lock.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ctype.h>
#include <linux/module.h>
#include <linux/ntb.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/unaligned.h>

#include "ntb_lending.h"
#include "xport.h"

static struct ntbl_adapter *to_adapter(struct config_item *item)
{
	return container_of(to_config_group(item), struct ntbl_adapter, group);
}

/* "0" or "1", with or without a newline; nothing after a NUL either. */
static int parse_bool(const char *page, size_t count, bool *val)
{
	if (strnlen(page, count) != count ||
	    (!sysfs_streq(page, "0") && !sysfs_streq(page, "1")))
		return -EINVAL;
	*val = page[0] == '1';
	return 0;
}

/*
 * Whether a directory's name, made by mkdir in @dir of @adapter, has only
 * printable characters, so that the lines naming it are one line each;
 * says so if not.
 */
static bool name_printable(struct ntbl_adapter *adapter, const char *dir,
			   const char *name)
{
	const char *c;

	for (c = name; *c; c++)
		if (!isprint(*c))
			break;
	if (!*c)
		return true;
	pr_err("%s: %s/%*pE: a name of printable characters only\n",
	       config_item_name(&adapter->group.cg_item), dir,
	       (int)strlen(name), name);
	return false;
}

/* --- connections/<NodeId> ------------------------------------------------- */

static struct ntbl_connection *to_connection(struct config_item *item)
{
	return container_of(to_config_group(item), struct ntbl_connection,
			    group);
}

static void connection_release(struct config_item *item)
{
	kfree(to_connection(item));
}

static struct configfs_item_operations connection_item_ops = {
	.release = connection_release,
};

static const struct config_item_type connection_type = {
	.ct_item_ops = &connection_item_ops,
	.ct_owner = THIS_MODULE,
};

static struct config_group *connections_make(struct config_group *group,
					     const char *name)
{
	struct ntbl_adapter *adapter = to_adapter(group->cg_item.ci_parent);
	struct ntbl_connection *conn;
	char canon[8];
	int node, ret;

	if (!name_printable(adapter, "connections", name))
		return ERR_PTR(-EINVAL);
	/* One name per node: "07" or "+7" would connect node 7 twice. */
	ret = kstrtoint(name, 10, &node);
	if (!ret)
		snprintf(canon, sizeof(canon), "%d", node);
	if (ret || node < 0 || node > 0xffff || strcmp(canon, name)) {
		pr_err("%s: connections/%s: the name must be a NodeId, a decimal number without leading zeros\n",
		       config_item_name(&adapter->group.cg_item), name);
		return ERR_PTR(-EINVAL);
	}
	conn = kzalloc(sizeof(*conn), GFP_KERNEL);
	if (!conn)
		return ERR_PTR(-ENOMEM);
	conn->adapter = adapter;
	conn->node = node;
	config_group_init_type_name(&conn->group, name, &connection_type);

	ret = ntbl_connection_add(conn);
	if (ret) {
		kfree(conn);
		return ERR_PTR(ret);
	}
	return &conn->group;
}

static void connections_drop(struct config_group *group,
			     struct config_item *item)
{
	ntbl_connection_remove(to_connection(item));
	config_item_put(item);
}

static struct configfs_group_operations connections_group_ops = {
	.make_group = connections_make,
	.drop_item = connections_drop,
};

static const struct config_item_type connections_type = {
	.ct_group_ops = &connections_group_ops,
	.ct_owner = THIS_MODULE,
};

/* --- lends/<D:B:D.F> ---------------------------------------------------- */

static struct ntbl_lend *to_lend(struct config_item *item)
{
	return container_of(to_config_group(item), struct ntbl_lend, group);
}

static const char *const lend_states[] = {
	[NTBL_LEND_LOCAL] = "local",
	[NTBL_LEND_AVAILABLE] = "available",
	[NTBL_LEND_BORROWED] = "borrowed",
};

static ssize_t lend_show(struct config_item *item, char *page,
			 ssize_t (*show)(struct ntbl_lend *, char *))
{
	struct ntbl_lend *lend = to_lend(item);
	ssize_t ret;

	mutex_lock(&lend->adapter->lock);
	ret = show(lend, page);
	mutex_unlock(&lend->adapter->lock);
	return ret;
}

#define LEND_ATTR_RO(_name, fmt, ...)					\
static ssize_t lend_##_name##_get(struct ntbl_lend *lend, char *page)	\
{									\
	return sysfs_emit(page, fmt, __VA_ARGS__);			\
}									\
static ssize_t lend_##_name##_show(struct config_item *item, char *page)\
{									\
	return lend_show(item, page, lend_##_name##_get);		\
}									\
CONFIGFS_ATTR_RO(lend_, _name)

LEND_ATTR_RO(state, "%s\n", lend_states[lend->state]);
LEND_ATTR_RO(vendor, "0x%04x\n", lend->pdev->vendor);
LEND_ATTR_RO(device, "0x%04x\n", lend->pdev->device);
LEND_ATTR_RO(class, "0x%06x\n", lend->pdev->class);

static ssize_t lend_id_get(struct ntbl_lend *lend, char *page)
{
	if (!lend->adapter->ntb)
		return sysfs_emit(page, "\n");
	return sysfs_emit(page, NTBL_ID_FMT "\n",
			  ntbl_offer_id(lend->adapter->port, lend->index));
}

static ssize_t lend_id_show(struct config_item *item, char *page)
{
	return lend_show(item, page, lend_id_get);
}
CONFIGFS_ATTR_RO(lend_, id);

static ssize_t lend_borrower_get(struct ntbl_lend *lend, char *page)
{
	if (lend->borrower < 0)
		return sysfs_emit(page, "\n");
	return sysfs_emit(page, "%d\n", lend->borrower);
}

static ssize_t lend_borrower_show(struct config_item *item, char *page)
{
	return lend_show(item, page, lend_borrower_get);
}
CONFIGFS_ATTR_RO(lend_, borrower);

static ssize_t lend_available_get(struct ntbl_lend *lend, char *page)
{
	return sysfs_emit(page, "%d\n", lend->state != NTBL_LEND_LOCAL);
}

static ssize_t lend_available_show(struct config_item *item, char *page)
{
	return lend_show(item, page, lend_available_get);
}

static ssize_t lend_available_store(struct config_item *item,
				    const char *page, size_t count)
{
	struct ntbl_lend *lend = to_lend(item);
	bool available;
	int ret;

	ret = parse_bool(page, count, &available);
	if (ret) {
		pr_err("lends/%s/available: write 1 to offer the device, 0 to take it back\n",
		       config_item_name(item));
		return ret;
	}
	mutex_lock(&lend->adapter->lock);
	ret = available ? ntbl_lend_offer(lend) :
			  ntbl_lend_withdraw(lend, false);
	mutex_unlock(&lend->adapter->lock);
	return ret ?: count;
}
CONFIGFS_ATTR(lend_, available);

static ssize_t lend_iommu_get(struct ntbl_lend *lend, char *page)
{
	if (!lend->lent)
		return sysfs_emit(page, "\n");
	return sysfs_emit(page, "%s\n", ntbl_lent_confined(lend->lent) ?
			  "confined" : "unconfined");
}

static ssize_t lend_iommu_show(struct config_item *item, char *page)
{
	return lend_show(item, page, lend_iommu_get);
}
CONFIGFS_ATTR_RO(lend_, iommu);

static struct configfs_attribute *lend_attrs[] = {
	&lend_attr_available,
	&lend_attr_state,
	&lend_attr_id,
	&lend_attr_borrower,
	&lend_attr_vendor,
	&lend_attr_device,
	&lend_attr_class,
	&lend_attr_iommu,
	NULL,
};

/* Config space as a borrower reads it, through the lender's filter. */
static ssize_t lend_config_read(struct config_item *item, void *buf,
				size_t max)
{
	struct ntbl_lend *lend = to_lend(item);
	unsigned int where, size = lend->pdev->cfg_size;
	int ret = 0;
	u32 val;

	if (!buf)
		return size;
	if (max < size)
		return -EINVAL;
	mutex_lock(&lend->adapter->lock);
	if (!lend->lent) {
		pr_err("lends/%s/config: the device is in local use; make it available first\n",
		       config_item_name(item));
		ret = -EBUSY;
	}
	for (where = 0; !ret && where < size; where += 4) {
		ret = ntbl_lent_cfg_read(lend->lent, where, 4, &val);
		if (!ret)
			put_unaligned_le32(val, buf + where);
	}
	mutex_unlock(&lend->adapter->lock);
	if (ret)
		return ret;
	return size;
}
CONFIGFS_BIN_ATTR_RO(lend_, config, NULL, PCI_CFG_SPACE_EXP_SIZE);

static struct configfs_bin_attribute *lend_bin_attrs[] = {
	&lend_attr_config,
	NULL,
};

static void lend_release(struct config_item *item)
{
	struct ntbl_lend *lend = to_lend(item);

	pci_dev_put(lend->pdev);
	kfree(lend);
}

static struct configfs_item_operations lend_item_ops = {
	.release = lend_release,
};

static const struct config_item_type lend_type = {
	.ct_item_ops = &lend_item_ops,
	.ct_attrs = lend_attrs,
	.ct_bin_attrs = lend_bin_attrs,
	.ct_owner = THIS_MODULE,
};

static struct pci_dev *parse_bdf(const char *name)
{
	unsigned int domain, bus, dev, fn;
	char canon[24];

	if (sscanf(name, "%x:%x:%x.%x", &domain, &bus, &dev, &fn) != 4 ||
	    bus > 0xff || dev > 0x1f || fn > 7)
		return ERR_PTR(-EINVAL);
	snprintf(canon, sizeof(canon), "%04x:%02x:%02x.%x",
		 domain, bus, dev, fn);
	if (strcmp(canon, name))
		return ERR_PTR(-EINVAL);
	return pci_get_domain_bus_and_slot(domain, bus, PCI_DEVFN(dev, fn)) ?:
	       ERR_PTR(-ENODEV);
}

static struct config_group *lends_make(struct config_group *group,
				       const char *name)
{
	struct ntbl_adapter *adapter = to_adapter(group->cg_item.ci_parent);
	const char *aname = config_item_name(&adapter->group.cg_item);
	struct pci_dev *pdev;
	struct ntbl_lend *lend;
	int ret;

	if (!name_printable(adapter, "lends", name))
		return ERR_PTR(-EINVAL);
	pdev = parse_bdf(name);
	if (IS_ERR(pdev)) {
		if (PTR_ERR(pdev) == -EINVAL)
			pr_err("%s: lends/%s: name the device as lspci -D does, e.g. 0000:03:00.0\n",
			       aname, name);
		else
			pr_err("%s: lends/%s: no such PCI device\n",
			       aname, name);
		return ERR_CAST(pdev);
	}

	lend = kzalloc(sizeof(*lend), GFP_KERNEL);
	if (!lend) {
		pci_dev_put(pdev);
		return ERR_PTR(-ENOMEM);
	}
	lend->adapter = adapter;
	lend->pdev = pdev;
	lend->borrower = -1;
	config_group_init_type_name(&lend->group, name, &lend_type);
	ret = ntbl_lend_add(lend);
	if (ret) {
		pci_dev_put(pdev);
		kfree(lend);
		return ERR_PTR(ret);
	}
	return &lend->group;
}

static void lends_drop(struct config_group *group, struct config_item *item)
{
	ntbl_lend_remove(to_lend(item));
	config_item_put(item);
}

static struct configfs_group_operations lends_group_ops = {
	.make_group = lends_make,
	.drop_item = lends_drop,
};

static const struct config_item_type lends_type = {
	.ct_group_ops = &lends_group_ops,
	.ct_owner = THIS_MODULE,
};

/* --- offers/<Id> -------------------------------------------------------- */

static struct ntbl_offer *to_offer(struct config_item *item)
{
	return container_of(to_config_group(item), struct ntbl_offer, group);
}

static ssize_t offer_show(struct config_item *item, char *page,
			  ssize_t (*show)(struct ntbl_offer *, char *))
{
	struct ntbl_offer *offer = to_offer(item);
	ssize_t ret;

	mutex_lock(&offer->adapter->lock);
	ret = show(offer, page);
	mutex_unlock(&offer->adapter->lock);
	return ret;
}

#define OFFER_ATTR_RO(_name, fmt, ...)					\
static ssize_t offer_##_name##_get(struct ntbl_offer *offer, char *page)	\
{									\
	return sysfs_emit(page, fmt, __VA_ARGS__);			\
}									\
static ssize_t offer_##_name##_show(struct config_item *item, char *page)\
{									\
	return offer_show(item, page, offer_##_name##_get);		\
}									\
CONFIGFS_ATTR_RO(offer_, _name)

OFFER_ATTR_RO(lender, "%d\n", offer->lender);
/* An offer's address on the lender: domain << 16 | bus << 8 | devfn. */
static const char *offer_bdf(const struct ntbl_offer *offer,
			     char buf[NTBL_BDF_LEN])
{
	snprintf(buf, NTBL_BDF_LEN, "%04x:%02x:%02x.%x", offer->bdf >> 16,
		 (offer->bdf >> 8) & 0xff, PCI_SLOT(offer->bdf & 0xff),
		 PCI_FUNC(offer->bdf & 0xff));
	return buf;
}

static ssize_t offer_bdf_get(struct ntbl_offer *offer, char *page)
{
	char bdf[NTBL_BDF_LEN];

	return sysfs_emit(page, "%s\n", offer_bdf(offer, bdf));
}

static ssize_t offer_bdf_show(struct config_item *item, char *page)
{
	return offer_show(item, page, offer_bdf_get);
}
CONFIGFS_ATTR_RO(offer_, bdf);
OFFER_ATTR_RO(vendor, "0x%04x\n", offer->vendor);
OFFER_ATTR_RO(device, "0x%04x\n", offer->device);
OFFER_ATTR_RO(class, "0x%06x\n", offer->class);
OFFER_ATTR_RO(state, "%s\n", offer->borrowed ? "borrowed" : "available");

static struct configfs_attribute *offer_attrs[] = {
	&offer_attr_lender,
	&offer_attr_bdf,
	&offer_attr_vendor,
	&offer_attr_device,
	&offer_attr_class,
	&offer_attr_state,
	NULL,
};

static void offer_release(struct config_item *item)
{
	kfree(to_offer(item));
}

static struct configfs_item_operations offer_item_ops = {
	.release = offer_release,
};

static const struct config_item_type offer_type = {
	.ct_item_ops = &offer_item_ops,
	.ct_attrs = offer_attrs,
	.ct_owner = THIS_MODULE,
};

static const struct config_item_type offers_type = {
	.ct_owner = THIS_MODULE,
};

/*
 * An offer's uevent, with the variables of Documentation/ntb-lending/uevents.rst;
 * @replay: sent again (NTB_LENDING_REPLAY=1), not for an offer withdrawn
 * meanwhile. Built under the lock, which its peer's messages change it
 * under.
 */
static void offer_uevent(struct ntbl_offer *offer, const char *event,
			 bool replay)
{
	struct ntbl_uevent ev = {};
	char bdf[NTBL_BDF_LEN];

	mutex_lock(&offer->adapter->lock);
	if (replay && offer->gone)
		goto out;
	ntbl_uevent_add(&ev, "NTB_LENDING_EVENT=%s", event);
	ntbl_uevent_add(&ev, "NTB_LENDING_ID=%s",
			config_item_name(&offer->group.cg_item));
	ntbl_uevent_add(&ev, "NTB_LENDING_NODE=%d", offer->lender);
	ntbl_uevent_add(&ev, "NTB_LENDING_BDF=%s", offer_bdf(offer, bdf));
	ntbl_uevent_add(&ev, "NTB_LENDING_VENDOR=0x%04x", offer->vendor);
	ntbl_uevent_add(&ev, "NTB_LENDING_DEVICE=0x%04x", offer->device);
	ntbl_uevent_add(&ev, "NTB_LENDING_CLASS=0x%06x", offer->class);
	if (replay)
		ntbl_uevent_add(&ev, "NTB_LENDING_REPLAY=1");
	ntbl_uevent_send(offer->adapter, &ev);
out:
	mutex_unlock(&offer->adapter->lock);
}

static int ntbl_configfs_adapter_show(struct ntbl_adapter *adapter);

/*
 * Once per binding of the NTB device, and once its group is in configfs:
 * the "adapter" uevent, on which udev may act on the group.
 */
static void adapter_uevent(struct ntbl_adapter *adapter)
{
	struct ntbl_uevent ev = {};

	mutex_lock(&adapter->lock);
	if (adapter->announce) {
		adapter->announce = false;
		ntbl_uevent_add(&ev, "NTB_LENDING_EVENT=adapter");
		ntbl_uevent_send(adapter, &ev);
	}
	mutex_unlock(&adapter->lock);
}

/**
 * ntbl_configfs_offers_sync() - make offers/ show the adapter's offers
 * @adapter: the adapter, not locked
 *
 * Shows the adapter's group first if it is not yet, and says so once per
 * binding of its NTB device (the "adapter" uevent). Makes and registers
 * the groups of new offers, unregisters those of gone ones, then sends the
 * uevents of the offers marked for a replay (ntbl_replay_offers()); the
 * registry itself is borrower.c's.
 *
 * Context: &ntbl_adapter.offers_work alone; takes configfs' subsystem mutex.
 */
static void ntbl_configfs_offers_sync(struct ntbl_adapter *adapter)
{
	enum ntbl_offer_change change;
	struct ntbl_offer *offer;
	char name[16];
	int ret;

	if (!adapter->shown && ntbl_configfs_adapter_show(adapter))
		return;
	adapter_uevent(adapter);
	for (;;) {
		mutex_lock(&adapter->lock);
		offer = ntbl_offer_next_change(adapter, &change);
		mutex_unlock(&adapter->lock);
		if (!offer)
			return;
		if (change == NTBL_OFFER_GONE) {
			/* Off the list: ours alone. */
			configfs_unregister_group(&offer->group);
			offer_uevent(offer, "withdraw", false);
			config_group_put(&offer->group);
			continue;
		}
		if (change == NTBL_OFFER_REPLAY) {
			/* Registered: only this work removes it. */
			offer_uevent(offer, "offer", true);
			continue;
		}
		snprintf(name, sizeof(name), NTBL_ID_FMT,
			 ntbl_offer_id(offer->lender, offer->index));
		config_group_init_type_name(&offer->group, name, &offer_type);
		ret = configfs_register_group(&adapter->offers_group,
					      &offer->group);
		if (!ret) {
			offer_uevent(offer, "offer", false);
			continue;
		}
		pr_err("%s: offers/%s cannot be shown: %d\n",
		       config_item_name(&adapter->group.cg_item), name, ret);
		mutex_lock(&adapter->lock);
		ntbl_offer_drop(offer);
		mutex_unlock(&adapter->lock);
		config_group_put(&offer->group);
	}
}

/* --- borrows/<Id> --------------------------------------------------------- */

static struct ntbl_borrow *to_borrow(struct config_item *item)
{
	return container_of(to_config_group(item), struct ntbl_borrow, group);
}

static ssize_t borrow_state_show(struct config_item *item, char *page)
{
	struct ntbl_borrow *borrow = to_borrow(item);
	ssize_t ret;

	mutex_lock(&borrow->adapter->lock);
	ret = sysfs_emit(page, "%s\n", borrow->state == NTBL_BORROW_BORROWED ?
			 "borrowed" : "lost");
	mutex_unlock(&borrow->adapter->lock);
	return ret;
}
CONFIGFS_ATTR_RO(borrow_, state);

static ssize_t borrow_local_bdf_show(struct config_item *item, char *page)
{
	struct ntbl_borrow *borrow = to_borrow(item);
	ssize_t ret;

	mutex_lock(&borrow->adapter->lock);
	ret = sysfs_emit(page, "%s\n", borrow->local_bdf);
	mutex_unlock(&borrow->adapter->lock);
	return ret;
}
CONFIGFS_ATTR_RO(borrow_, local_bdf);

static struct configfs_attribute *borrow_attrs[] = {
	&borrow_attr_state,
	&borrow_attr_local_bdf,
	NULL,
};

static void borrow_release(struct config_item *item)
{
	kfree(to_borrow(item));
}

static struct configfs_item_operations borrow_item_ops = {
	.release = borrow_release,
};

static const struct config_item_type borrow_type = {
	.ct_item_ops = &borrow_item_ops,
	.ct_attrs = borrow_attrs,
	.ct_owner = THIS_MODULE,
};

static struct config_group *borrows_make(struct config_group *group,
					 const char *name)
{
	struct ntbl_adapter *adapter = to_adapter(group->cg_item.ci_parent);
	struct ntbl_borrow *borrow;

	if (!name_printable(adapter, "borrows", name))
		return ERR_PTR(-EINVAL);
	borrow = ntbl_borrow_start(adapter, name);
	if (IS_ERR(borrow))
		return ERR_CAST(borrow);
	config_group_init_type_name(&borrow->group, name, &borrow_type);
	return &borrow->group;
}

static void borrows_drop(struct config_group *group, struct config_item *item)
{
	struct ntbl_borrow *borrow = to_borrow(item);

	ntbl_borrow_return(borrow);
	config_item_put(item);
}

static struct configfs_group_operations borrows_group_ops = {
	.make_group = borrows_make,
	.drop_item = borrows_drop,
};

static const struct config_item_type borrows_type = {
	.ct_group_ops = &borrows_group_ops,
	.ct_owner = THIS_MODULE,
};

/* --- ntb_lending/<adapter> ------------------------------------------------ */

static ssize_t adapter_node_id_show(struct config_item *item, char *page)
{
	struct ntbl_adapter *adapter = to_adapter(item);
	ssize_t ret;

	mutex_lock(&adapter->lock);
	if (adapter->ntb)
		ret = sysfs_emit(page, "%d\n", adapter->port);
	else
		ret = sysfs_emit(page, "\n");
	mutex_unlock(&adapter->lock);
	return ret;
}
CONFIGFS_ATTR_RO(adapter_, node_id);

static const char *peer_state(const struct ntbl_peer *peer)
{
	if (!peer->linked)
		return "down";
	if (peer->up)
		return "up";
	if (peer->version >= 0 && peer->version != NTBL_PROTO_VERSION)
		return "incompatible";
	return "link";
}

static ssize_t adapter_peers_show(struct config_item *item, char *page)
{
	struct ntbl_adapter *adapter = to_adapter(item);
	ssize_t len = 0;
	int i;

	mutex_lock(&adapter->lock);
	for (i = 0; i < adapter->npeers; i++) {
		const struct ntbl_peer *peer = &adapter->peers[i];

		len += sysfs_emit_at(page, len, "%d %s ", peer->port,
				     peer_state(peer));
		if (peer->version < 0)
			len += sysfs_emit_at(page, len, "-\n");
		else
			len += sysfs_emit_at(page, len, "%d\n", peer->version);
	}
	mutex_unlock(&adapter->lock);
	return len;
}
CONFIGFS_ATTR_RO(adapter_, peers);

static ssize_t adapter_windows_show(struct config_item *item, char *page)
{
	struct ntbl_adapter *adapter = to_adapter(item);
	ssize_t len = 0;
	int i, widx;

	mutex_lock(&adapter->lock);
	mutex_lock(&adapter->win_lock);
	for (i = 0; i < adapter->npeers; i++) {
		const struct ntbl_peer *peer = &adapter->peers[i];

		for (widx = 0; widx < peer->nr_mw; widx++)
			if (peer->xlat[widx])
				len += sysfs_emit_at(page, len, "%d %d %s %llu\n",
						     widx, peer->port,
						     widx == (adapter->switched ?
							      peer->mem_widx :
							      NTBL_MW_MEMORY) ?
						     "memory" : "device",
						     peer->xlat[widx]);
	}
	mutex_unlock(&adapter->win_lock);
	mutex_unlock(&adapter->lock);
	return len;
}
CONFIGFS_ATTR_RO(adapter_, windows);

static ssize_t adapter_doorbells_show(struct config_item *item, char *page)
{
	struct ntbl_adapter *adapter = to_adapter(item);
	const struct ntbl_xport_db *db;
	struct ntbl_borrow *borrow;
	struct ntbl_lend *lend;
	ssize_t len = 0;

	mutex_lock(&adapter->lock);
	for (db = adapter->ntb ? adapter->xport->dbs : NULL; db && db->bits;
	     db++)
		len += sysfs_emit_at(page, len, "%#llx %s\n", db->bits, db->use);
	list_for_each_entry(borrow, &adapter->borrows, node)
		if (borrow->vectors)
			len += sysfs_emit_at(page, len,
					     "%#llx vectors " NTBL_ID_FMT "\n",
					     borrow->vectors,
					     ntbl_offer_id(borrow->lender,
							   borrow->index));
	/* On a switch the bits of our share that our lent devices ring. */
	list_for_each_entry(lend, &adapter->lends, node)
		if (lend->vectors)
			len += sysfs_emit_at(page, len, "%#llx lent %s\n",
					     lend->vectors, pci_name(lend->pdev));
	mutex_unlock(&adapter->lock);
	return len;
}
CONFIGFS_ATTR_RO(adapter_, doorbells);

/*
 * Offers that came before udevd ran, or before a rule for them was in
 * place, were told to nobody: the boot's udevadm trigger writes 1 here
 * (udev/80-ntb-lending-auto-borrow.rules) to hear them again.
 */
static ssize_t adapter_replay_offers_store(struct config_item *item,
					   const char *page, size_t count)
{
	struct ntbl_adapter *adapter = to_adapter(item);
	bool replay;

	if (parse_bool(page, count, &replay) || !replay) {
		pr_err("%s/replay_offers: write 1 to have the offer uevent of every offer sent again\n",
		       config_item_name(item));
		return -EINVAL;
	}
	mutex_lock(&adapter->lock);
	ntbl_replay_offers(adapter);
	mutex_unlock(&adapter->lock);
	return count;
}
CONFIGFS_ATTR_WO(adapter_, replay_offers);

static struct configfs_attribute *adapter_attrs[] = {
	&adapter_attr_node_id,
	&adapter_attr_peers,
	&adapter_attr_windows,
	&adapter_attr_doorbells,
	&adapter_attr_replay_offers,
	NULL,
};

static void adapter_release(struct config_item *item)
{
	ntbl_adapter_free(to_adapter(item));
}

static struct configfs_item_operations adapter_item_ops = {
	.release = adapter_release,
};

static const struct config_item_type adapter_type = {
	.ct_item_ops = &adapter_item_ops,
	.ct_attrs = adapter_attrs,
	.ct_owner = THIS_MODULE,
};

static const struct config_item_type root_type = {
	.ct_owner = THIS_MODULE,
};

static struct configfs_subsystem ntbl_subsys = {
	.su_group = {
		.cg_item = {
			.ci_namebuf = "ntb_lending",
			.ci_type = &root_type,
		},
	},
};

/**
 * ntbl_configfs_adapter_init() - make a new adapter's group, not yet shown
 * @adapter: the adapter, made by core.c
 * @name: the NTB device's name
 *
 * Context: any process; takes no lock.
 */
static void ntbl_configfs_adapter_init(struct ntbl_adapter *adapter,
				       const char *name)
{
	/* From here on, the last config_group_put() frees the adapter. */
	config_group_init_type_name(&adapter->group, name, &adapter_type);
	config_group_init_type_name(&adapter->connections_group, "connections",
				    &connections_type);
	configfs_add_default_group(&adapter->connections_group,
				   &adapter->group);
	config_group_init_type_name(&adapter->lends_group, "lends",
				    &lends_type);
	configfs_add_default_group(&adapter->lends_group, &adapter->group);
	config_group_init_type_name(&adapter->offers_group, "offers",
				    &offers_type);
	configfs_add_default_group(&adapter->offers_group, &adapter->group);
	config_group_init_type_name(&adapter->borrows_group, "borrows",
				    &borrows_type);
	configfs_add_default_group(&adapter->borrows_group, &adapter->group);
}

/*
 * Show the adapter as ntb_lending/<name>. A failure is logged, and the
 * work's next run (a message, a link change, a binding) tries again.
 * Context: &ntbl_adapter.offers_work alone; takes configfs' mutex.
 */
static int ntbl_configfs_adapter_show(struct ntbl_adapter *adapter)
{
	const char *name = config_item_name(&adapter->group.cg_item);
	int ret;

	ret = configfs_register_group(&ntbl_subsys.su_group, &adapter->group);
	if (ret) {
		pr_err_ratelimited("%s: cannot add ntb_lending/%s to configfs: %d\n",
				   name, name, ret);
		return ret;
	}
	adapter->shown = true;
	return 0;
}

/**
 * ntbl_configfs_adapter_remove() - remove an adapter's group, which frees it
 * @adapter: the adapter, off the module's list
 *
 * Context: its NTB device is unbound, its offers work is done; configfs
 * holds no directory of the operator in it (each would hold a reference
 * to the module).
 */
static void ntbl_configfs_adapter_remove(struct ntbl_adapter *adapter)
{
	if (adapter->shown)
		configfs_unregister_group(&adapter->group);
	configfs_remove_default_groups(&adapter->group);
	config_group_put(&adapter->group);
}

static const struct ntbl_abi_ops ntbl_configfs_abi = {
	.adapter_init = ntbl_configfs_adapter_init,
	.adapter_remove = ntbl_configfs_adapter_remove,
	.offers_sync = ntbl_configfs_offers_sync,
};

static int __init ntb_lending_init(void)
{
	int ret;

	/* The application note's check that the module is up. */
	pr_info("smartio initializing\n");

	ret = ntbl_lent_init();
	if (ret)
		return ret;
	ret = ntbl_vbus_init();
	if (ret)
		goto err_lent;
	config_group_init(&ntbl_subsys.su_group);
	mutex_init(&ntbl_subsys.su_mutex);
	ret = configfs_register_subsystem(&ntbl_subsys);
	if (ret) {
		pr_err("cannot register with configfs: %d\n", ret);
		goto err_vbus;
	}
	ret = ntbl_core_init(&ntbl_configfs_abi);
	if (ret)
		goto err_configfs;
	return 0;

err_configfs:
	configfs_unregister_subsystem(&ntbl_subsys);
err_vbus:
	ntbl_vbus_exit();
err_lent:
	ntbl_lent_exit();
	return ret;
}
module_init(ntb_lending_init);

static void __exit ntb_lending_exit(void)
{
	ntbl_core_exit();
	configfs_unregister_subsystem(&ntbl_subsys);
	ntbl_vbus_exit();
	ntbl_lent_exit();
}
module_exit(ntb_lending_exit);

MODULE_DESCRIPTION("Lend and borrow PCIe devices over an NTB fabric");
MODULE_LICENSE("GPL");
