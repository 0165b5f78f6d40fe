// SPDX-License-Identifier: GPL-2.0
/*
 * NTB device lending: the IOMMU domain of a lent function.
 *
 * At the claim the function's IOMMU group is claimed from the DMA API and
 * attached to a paging domain of its own, which then maps only the window
 * into the borrower's memory, from device address 0, and the borrower's
 * doorbells, from the top of the aperture down. Without an IOMMU the
 * function reaches both by their physical addresses and nothing confines
 * its DMA.
 */

#include <linux/export.h>
#include <linux/iommu.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "dataplane.h"
#include "dp_lent.h"

/* Whether [iova, iova + size) meets a reserved region of the group. */
static bool lent_iova_reserved(struct ntbl_lent *lent, u64 iova, u64 size)
{
	struct iommu_resv_region *region, *tmp;
	LIST_HEAD(regions);
	bool hit = false;

	iommu_get_group_resv_regions(lent->group, &regions);
	list_for_each_entry_safe(region, tmp, &regions, list) {
		if (!hit && region->start < iova + size &&
		    iova < region->start + region->length) {
			pci_err(lent->pdev, "device addresses %#llx-%#llx meet the IOMMU's reserved %#llx-%#llx; use a smaller window\n",
				iova, iova + size - 1, (u64)region->start,
				(u64)(region->start + region->length - 1));
			hit = true;
		}
		kfree(region);
	}
	return hit;
}

int ntbl_lent_iommu_init(struct ntbl_lent *lent)
{
	struct pci_dev *pdev = lent->pdev;
	struct iommu_domain *domain;
	int ret;

	lent->group = iommu_group_get(&pdev->dev);
	if (!lent->group) {
		pci_warn(pdev, "lent with unsafe DMA: no IOMMU, so it reaches the borrower by physical address and nothing confines it\n");
		return 0;
	}
	ret = iommu_device_claim_dma_owner(&pdev->dev, lent);
	if (ret) {
		pci_err(pdev, "IOMMU group %d is in use by other devices; lend them all or none (%d)\n",
			iommu_group_id(lent->group), ret);
		goto err_put;
	}
	domain = iommu_paging_domain_alloc(&pdev->dev);
	if (IS_ERR(domain)) {
		ret = PTR_ERR(domain);
		pci_err(pdev, "cannot allocate an IOMMU domain for it (%d)\n", ret);
		goto err_owner;
	}
	ret = iommu_attach_group(domain, lent->group);
	if (ret) {
		pci_err(pdev, "cannot attach it to an IOMMU domain of its own (%d)\n", ret);
		goto err_free;
	}
	lent->domain = domain;
	lent->db_next = domain->geometry.aperture_end & PAGE_MASK;
	return 0;

err_free:
	iommu_domain_free(domain);
err_owner:
	iommu_device_release_dma_owner(&pdev->dev);
err_put:
	iommu_group_put(lent->group);
	lent->group = NULL;
	return ret;
}

void ntbl_lent_iommu_exit(struct ntbl_lent *lent)
{
	if (!lent->group)
		return;
	iommu_detach_group(lent->domain, lent->group);
	iommu_domain_free(lent->domain);
	iommu_device_release_dma_owner(&lent->pdev->dev);
	iommu_group_put(lent->group);
	WRITE_ONCE(lent->domain, NULL);
	lent->group = NULL;
}

int ntbl_lent_map_memory(struct ntbl_lent *lent, phys_addr_t phys, u64 size,
			 u64 *dev_addr)
{
	struct pci_dev *pdev = lent->pdev;
	int ret = 0;

	if (!size || !PAGE_ALIGNED(phys) || !PAGE_ALIGNED(size)) {
		pci_err(pdev, "cannot map a window of %#llx bytes at %pa: it must be whole pages\n",
			size, &phys);
		return -EINVAL;
	}

	mutex_lock(&lent->lock);
	if (lent->state == LENT_GONE) {
		ret = -ENODEV;	/* lent_gone() said so */
		goto unlock;
	}
	if (lent->mem_size) {
		/* Left mapped by a borrow that did not undo it: a bug. */
		pci_err(pdev, "a window of %#llx bytes is mapped for it already; none other is, until it is unmapped\n",
			lent->mem_size);
		ret = -EBUSY;
		goto unlock;
	}
	if (!lent->domain) {
		lent->mem_dev_addr = phys;
		goto done;
	}
	if (size > lent->db_next) {
		pci_err(pdev, "a %#llx-byte window does not fit its IOMMU domain; use a smaller one\n",
			size);
		ret = -ENOSPC;
		goto unlock;
	}
	if (lent_iova_reserved(lent, 0, size)) {
		ret = -EINVAL;
		goto unlock;
	}
	ret = iommu_map(lent->domain, 0, phys, size, IOMMU_READ | IOMMU_WRITE,
			GFP_KERNEL);
	if (ret) {
		pci_err(pdev, "cannot map the window into its IOMMU domain (%d)\n", ret);
		goto unlock;
	}
	lent->mem_dev_addr = 0;
done:
	lent->mem_size = size;
	*dev_addr = lent->mem_dev_addr;
unlock:
	mutex_unlock(&lent->lock);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(ntbl_lent_map_memory, NTB_LENDING);

void __ntbl_lent_unmap_memory(struct ntbl_lent *lent)
{
	lockdep_assert_held(&lent->lock);
	if (lent->mem_size && lent->domain)
		iommu_unmap(lent->domain, lent->mem_dev_addr, lent->mem_size);
	lent->mem_size = 0;
}

void ntbl_lent_unmap_memory(struct ntbl_lent *lent)
{
	mutex_lock(&lent->lock);
	__ntbl_lent_unmap_memory(lent);
	mutex_unlock(&lent->lock);
}
EXPORT_SYMBOL_NS_GPL(ntbl_lent_unmap_memory, NTB_LENDING);

/*
 * Adapters whose doorbell register's page holds nothing a device may not
 * write. QEMU's ivshmem-doorbell (ntb_sim's multi-vector adapter): its
 * 256-byte BAR 0 holds besides the doorbell only an interrupt mask and
 * status, which its MSI-X mode ignores, and the read-only IVPosition. A
 * write there rings at most some vector of some peer of its server's
 * group, which NTB clients take as word to look, not as data. The NTB API
 * has no way for a driver to say so of its own hardware.
 */
static const struct pci_device_id lent_db_alone_ids[] = {
	{ PCI_DEVICE(PCI_VENDOR_ID_REDHAT_QUMRANET, 0x1110) },
	{ }
};

/*
 * Whether the function may be given the page of the doorbell at @phys:
 * the page holds registers of one function only, one known to keep none
 * but harmless ones beside the doorbell; or the lender trusts borrowers
 * with whatever else it holds (allow_unsafe_doorbells), which warns.
 */
static int lent_db_page_check(struct ntbl_lent *lent, phys_addr_t phys)
{
	struct pci_dev *other = NULL, *holder = NULL;
	phys_addr_t page = phys & PAGE_MASK;
	struct resource *r;
	bool shared = false;
	unsigned int i;
	int ret = 0;

	for_each_pci_dev(other) {
		pci_dev_for_each_resource(other, r, i) {
			if (i >= PCI_BRIDGE_RESOURCES ||
			    !(r->flags & IORESOURCE_MEM) || !resource_size(r) ||
			    (r->flags & (IORESOURCE_UNSET | IORESOURCE_DISABLED)) ||
			    r->start > page + PAGE_SIZE - 1 || r->end < page)
				continue;
			if (holder)
				shared = true;
			else
				holder = pci_dev_get(other);
		}
	}
	if (holder && !shared && pci_match_id(lent_db_alone_ids, holder))
		goto out;
	if (READ_ONCE(lent_allow_unsafe_doorbells)) {
		dev_warn_ratelimited(&lent->pdev->dev, "lent with unsafe doorbells: its borrower can write the rest of the page of the doorbell at %pa (of %s%s)\n",
				     &phys, holder ? pci_name(holder) : "no function",
				     shared ? " and more" : "");
		goto out;
	}
	dev_err_ratelimited(&lent->pdev->dev, "the page of the doorbell at %pa holds other registers (of %s%s) the function could write: not lent; load ntb_lending with allow_unsafe_doorbells=1 to lend through this adapter anyway\n",
			    &phys, holder ? pci_name(holder) : "no function",
			    shared ? " and more" : "");
	ret = -EPERM;
out:
	pci_dev_put(holder);
	return ret;
}

int ntbl_lent_map_doorbell(struct ntbl_lent *lent, phys_addr_t phys, u64 size,
			   u32 data, u64 *dev_addr)
{
	phys_addr_t page = phys & PAGE_MASK;
	unsigned long flags;
	unsigned int i;
	u64 iova;
	int ret = 0;

	if (!size || (phys + size - 1) / PAGE_SIZE != phys / PAGE_SIZE) {
		pci_err(lent->pdev, "cannot map a doorbell of %llu bytes at %pa: it must lie within one page\n",
			size, &phys);
		return -EINVAL;
	}

	mutex_lock(&lent->lock);
	if (lent->state == LENT_GONE) {
		ret = -ENODEV;	/* lent_gone() said so */
		goto unlock;
	}
	for (i = 0; i < lent->nr_db; i++) {
		if (lent->db[i].phys == phys && lent->db[i].size == size &&
		    lent->db[i].data == data) {
			*dev_addr = lent->db[i].dev_addr;
			goto unlock;
		}
	}
	if (lent->nr_db == LENT_MAX_DOORBELLS) {
		pci_err(lent->pdev, "has %d doorbells mapped, as many as it takes\n",
			LENT_MAX_DOORBELLS);
		ret = -ENOSPC;
		goto unlock;
	}
	for (i = 0; i < lent->nr_db; i++)
		if ((lent->db[i].phys & PAGE_MASK) == page)
			break;
	if (i < lent->nr_db) {
		iova = lent->db[i].dev_addr & PAGE_MASK;	/* mapped */
	} else if (lent->domain) {
		iova = lent->db_next;
		if (iova < lent->mem_size + PAGE_SIZE) {
			pci_err(lent->pdev, "no room left in its IOMMU domain for a doorbell above the %#llx-byte window\n",
				lent->mem_size);
			ret = -ENOSPC;
			goto unlock;
		}
		if (lent_iova_reserved(lent, iova, PAGE_SIZE)) {
			ret = -EINVAL;
			goto unlock;
		}
		ret = lent_db_page_check(lent, phys);
		if (ret)
			goto unlock;
		ret = iommu_map(lent->domain, iova, page, PAGE_SIZE,
				IOMMU_WRITE | IOMMU_MMIO, GFP_KERNEL);
		if (ret) {
			pci_err(lent->pdev, "cannot map a doorbell into its IOMMU domain (%d)\n",
				ret);
			goto unlock;
		}
		lent->db_next -= PAGE_SIZE;
	} else {
		iova = page;
	}

	*dev_addr = iova + offset_in_page(phys);
	raw_spin_lock_irqsave(&lent->cfg_lock, flags);
	lent->db[lent->nr_db].phys = phys;
	lent->db[lent->nr_db].size = size;
	lent->db[lent->nr_db].data = data;
	lent->db[lent->nr_db].dev_addr = *dev_addr;
	lent->nr_db++;
	raw_spin_unlock_irqrestore(&lent->cfg_lock, flags);
unlock:
	mutex_unlock(&lent->lock);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(ntbl_lent_map_doorbell, NTB_LENDING);

void __ntbl_lent_unmap_doorbells(struct ntbl_lent *lent)
{
	unsigned long flags;
	unsigned int i, j, n;

	lockdep_assert_held(&lent->lock);
	raw_spin_lock_irqsave(&lent->cfg_lock, flags);
	n = lent->nr_db;
	lent->nr_db = 0;
	raw_spin_unlock_irqrestore(&lent->cfg_lock, flags);
	for (i = 0; lent->domain && i < n; i++) {
		/* A page's first doorbell unmaps it. */
		for (j = 0; j < i; j++)
			if ((lent->db[j].dev_addr ^ lent->db[i].dev_addr) < PAGE_SIZE)
				break;
		if (j == i)
			iommu_unmap(lent->domain, lent->db[i].dev_addr & PAGE_MASK,
				    PAGE_SIZE);
	}
	if (lent->domain)
		lent->db_next = lent->domain->geometry.aperture_end & PAGE_MASK;
}

void ntbl_lent_unmap_doorbells(struct ntbl_lent *lent)
{
	mutex_lock(&lent->lock);
	__ntbl_lent_unmap_doorbells(lent);
	mutex_unlock(&lent->lock);
}
EXPORT_SYMBOL_NS_GPL(ntbl_lent_unmap_doorbells, NTB_LENDING);
