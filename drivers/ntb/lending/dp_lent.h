/* SPDX-License-Identifier: GPL-2.0 */
/*
 * NTB device lending: the lender's state of one lent PCI function, private
 * to the files that serve it (lent*.c). The rest of the module knows a lent
 * function only through dataplane.h.
 */
#ifndef _NTB_LENDING_LENT_H
#define _NTB_LENDING_LENT_H

#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/spinlock.h>
#include <linux/types.h>

struct iommu_domain;
struct iommu_group;
struct task_struct;

/* ntb_lending's allow_unsafe_doorbells: map doorbell pages that hold more */
extern bool lent_allow_unsafe_doorbells;

/* Doorbells one function may ring: one per doorbell bit at most. */
#define LENT_MAX_DOORBELLS	64

/**
 * struct lent_doorbell - a doorbell the function may ring
 * @phys: lender physical address of the register
 * @size: its bytes
 * @data: the value that rings it
 * @dev_addr: where the function sees it; doorbells in one page share the
 *	page's mapping, which is the IOMMU's least
 */
struct lent_doorbell {
	phys_addr_t phys;
	u64 size;
	u32 data;
	u64 dev_addr;
};

/**
 * struct ntbl_lent - one lent PCI function on the lender
 * @pdev: the function; a reference is held
 * @pf: for a VF, its PF, NULL otherwise; a reference is held, as the VF
 *	drops its own when it leaves the tree (pci_iov_remove_virtfn()). Set
 *	under the VF's device lock once our driver has it, constant after
 * @orig_drv: driver bound before the claim, rebound at release; a
 *	reference to its module is held
 * @orig_override: driver_override before the claim
 * @saved: config state at the claim, restored at release
 * @removed: called when the function leaves the PCI tree while lent
 * @removed_data: its argument
 * @lock: serializes the mapping calls, reset, release and the function's
 *	removal, which sleep; taken under the function's device lock (see
 *	lent_dev_lock()), never around it
 * @group: IOMMU group of @pdev, or NULL when the lender has no IOMMU
 * @domain: the paging domain @pdev is attached to while lent
 * @mem_size: bytes mapped at device address @mem_dev_addr, 0 for none
 * @mem_dev_addr: where the function sees the window into the borrower
 * @db_next: next doorbell address to hand out, growing down from the top
 *	of @domain's aperture
 * @cfg_lock: protects @vconfig, @db, @nr_db and @state against config
 *	accesses, which come in any context, even under the PCI core's raw
 *	pci_lock (user config accesses), hence a raw lock; writers of @db and
 *	@nr_db also hold @lock
 * @db: doorbells mapped, in the order they were mapped
 * @nr_db: entries in @db
 * @state: LENT_ACTIVE, LENT_STOPPED (quiesced, or being reset: config
 *	accesses refused) or LENT_GONE (the function was removed, or its
 *	PF's driver unbound: its IOMMU domain is gone too); written under
 *	@lock and @cfg_lock
 * @releasing: the release has taken the function down; under @lock
 * @unbinder: the task unbinding our driver to give the function back,
 *	whose call of lent_remove() is no removal; under @lock
 * @cfg_size: bytes of config space the function has
 * @msi_pos: offset of the MSI capability, 0 if none
 * @msi_64: the MSI capability takes 64-bit addresses
 * @vconfig: the borrower's view of bits marked in @virt
 * @virt: per byte, bits read from @vconfig instead of the function
 * @write: per byte, bits the borrower may write
 * @rw1c: per byte, write-1-to-clear bits among @write
 *
 * @cfg_size, @msi_pos, @msi_64, @virt, @write and @rw1c are set at the
 * claim and constant after.
 */
struct ntbl_lent {
	struct pci_dev *pdev;
	struct pci_dev *pf;
	struct device_driver *orig_drv;
	char *orig_override;
	struct pci_saved_state *saved;
	void (*removed)(void *data);
	void *removed_data;

	struct mutex lock;		/* see above */
	struct iommu_group *group;
	struct iommu_domain *domain;
	u64 mem_size;
	u64 mem_dev_addr;
	u64 db_next;

	raw_spinlock_t cfg_lock;	/* config state: see above */
	struct lent_doorbell db[LENT_MAX_DOORBELLS];
	unsigned int nr_db;
	enum { LENT_ACTIVE, LENT_STOPPED, LENT_GONE } state;
	bool releasing;
	struct task_struct *unbinder;

	unsigned int cfg_size;
	u8 msi_pos;
	bool msi_64;
	u8 vconfig[PCI_CFG_SPACE_EXP_SIZE];
	u8 virt[PCI_CFG_SPACE_EXP_SIZE];
	u8 write[PCI_CFG_SPACE_EXP_SIZE];
	u8 rw1c[PCI_CFG_SPACE_EXP_SIZE];
};

/* dp_lent_config.c */

/**
 * ntbl_lent_cfg_init() - snapshot the function and build the borrower's view
 * @lent: the lent function
 *
 * Reads the function's config space into &ntbl_lent.vconfig and sets the
 * per-byte permissions and the MSI capability's place and kind from it.
 *
 * Context: process; &ntbl_lent.lock held and no config access served: at
 * the claim before the function is handed out, at a reset while it is
 * stopped.
 */
void ntbl_lent_cfg_init(struct ntbl_lent *lent);

/* dp_lent_iommu.c */

/**
 * ntbl_lent_iommu_init() - attach the function to an IOMMU domain of its own
 * @lent: the lent function, bound to our driver
 *
 * Claims DMA ownership of the function's IOMMU group and attaches the
 * group to a new paging domain that maps nothing yet. Without an IOMMU it
 * warns and leaves &ntbl_lent.group NULL.
 *
 * Context: process; sleeps. Called with &ntbl_lent.lock held.
 *
 * Return: 0, or the IOMMU's error.
 */
int ntbl_lent_iommu_init(struct ntbl_lent *lent);

/**
 * ntbl_lent_iommu_exit() - undo ntbl_lent_iommu_init()
 * @lent: the lent function, its mappings removed
 *
 * Context: process; sleeps. Called with &ntbl_lent.lock held.
 */
void ntbl_lent_iommu_exit(struct ntbl_lent *lent);

/**
 * __ntbl_lent_unmap_memory() - ntbl_lent_unmap_memory() with the lock held
 * @lent: the lent function
 *
 * Context: process; sleeps. &ntbl_lent.lock held.
 */
void __ntbl_lent_unmap_memory(struct ntbl_lent *lent);

/**
 * __ntbl_lent_unmap_doorbells() - ntbl_lent_unmap_doorbells() with the lock held
 * @lent: the lent function
 *
 * Context: process; sleeps. &ntbl_lent.lock held; takes &ntbl_lent.cfg_lock.
 */
void __ntbl_lent_unmap_doorbells(struct ntbl_lent *lent);

#endif /* _NTB_LENDING_LENT_H */
