// SPDX-License-Identifier: GPL-2.0
/*
 * ntb_sim: memory windows.
 *
 * A real NTB window is a fixed range of the sender's adapter BAR that the
 * hardware forwards to the receiver's translated address. Upstream clients
 * map that range once, at probe, before any translation exists, so the
 * simulated window must also be a fixed physical range: its aperture, a
 * slice of the fabric arena (QEMU ivshmem memory, not System RAM, so that
 * ioremap() takes it). One kernel has no hardware to forward CPU accesses
 * from the aperture to an arbitrary address, so the sim makes a window
 * work two ways:
 *
 * - Memory mode: the translation lies in a coherent buffer the receiver
 *   allocated through its adapter (this file is the adapter's DMA ops).
 *   Binding copies the buffer into the aperture and points the buffer's
 *   kernel mapping at the aperture: both hosts then share the memory, as
 *   through real hardware. Unbinding copies it back.
 *
 * - Address-transparent mode: any other translation (a device BAR, a
 *   doorbell register, all of RAM). The sender's peer_mw_get_addr() then
 *   returns the translated address itself, which reaches the target with
 *   no copy; a client reads the window address after the translation is
 *   set, as NTB device lending does.
 */

#include <linux/dma-map-ops.h>
#include <linux/io.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <asm/tlbflush.h>

#include "sim.h"

static struct ntb_sim_host *dev_host(struct device *dev)
{
	return pci_get_drvdata(to_pci_dev(dev));
}

/* --- kernel mapping of a buffer ---------------------------------------------- */

/*
 * The PTE that maps @addr, a page of a vmap() area, in the kernel page
 * tables. On x86-64 every mm shares the kernel half of its page tables,
 * so the current one reaches them (&init_mm is not exported). No lock is
 * taken, as vmalloc takes none for its own PTEs: the area is the caller's,
 * and nobody else changes its mapping.
 */
static pte_t *kernel_pte(unsigned long addr)
{
	pgd_t *pgd = pgd_offset(current->active_mm, addr);
	p4d_t *p4d;
	pud_t *pud;
	pmd_t *pmd;

	if (pgd_none(*pgd))
		return NULL;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(*p4d))
		return NULL;
	pud = pud_offset(p4d, addr);
	if (pud_none(*pud) || pud_leaf(*pud))
		return NULL;
	pmd = pmd_offset(pud, addr);
	if (pmd_none(*pmd) || pmd_leaf(*pmd))
		return NULL;
	return pte_offset_kernel(pmd, addr);
}

static void flush_tlb_local(void *unused)
{
	__flush_tlb_all();
}

/* Point the kernel mapping at @vaddr to the pages from @pfn on. */
static int remap(void *vaddr, size_t size, unsigned long pfn)
{
	unsigned long addr = (unsigned long)vaddr;
	unsigned long end = addr + size;
	int ret = 0;
	pte_t *pte;

	for (; addr < end; addr += PAGE_SIZE, pfn++) {
		pte = kernel_pte(addr);
		if (WARN_ON_ONCE(!pte || pte_none(ptep_get(pte)))) {
			ret = -EFAULT;
			break;
		}
		set_pte(pte, pfn_pte(pfn, PAGE_KERNEL));
	}
	on_each_cpu(flush_tlb_local, NULL, 1);
	return ret;
}

/* --- window shapes ---------------------------------------------------------- */

/**
 * ntb_sim_mw_count_of() - memory windows per peer of a profile
 * @profile: the profile
 *
 * Return: the sum of its window kinds' counts.
 */
int ntb_sim_mw_count_of(const struct ntb_sim_profile *profile)
{
	int i, n = 0;

	for (i = 0; i < NTB_SIM_MW_KINDS && profile->mws[i].count; i++)
		n += profile->mws[i].count;
	return n;
}

/**
 * ntb_sim_mw_kind() - the shape of one window of a profile
 * @profile: the profile
 * @widx: window index
 *
 * Return: the kind that window @widx belongs to, or NULL if the profile
 * has no such window.
 */
const struct ntb_sim_mw_kind *ntb_sim_mw_kind(const struct ntb_sim_profile *profile,
					      int widx)
{
	int i;

	if (widx < 0)
		return NULL;
	for (i = 0; i < NTB_SIM_MW_KINDS && profile->mws[i].count; i++) {
		if (widx < profile->mws[i].count)
			return &profile->mws[i];
		widx -= profile->mws[i].count;
	}
	return NULL;
}

static resource_size_t kind_addr_align(const struct ntb_sim_mw_kind *kind)
{
	return kind->addr_align ?: kind->size;
}

static resource_size_t kind_size_align(const struct ntb_sim_mw_kind *kind)
{
	return kind->size_align ?: PAGE_SIZE;
}

/* Whether window @widx of @profile takes a translation of @addr, @size. */
static bool xlat_fits(const struct ntb_sim_profile *profile, int widx,
		      dma_addr_t addr, resource_size_t size)
{
	const struct ntb_sim_mw_kind *kind = ntb_sim_mw_kind(profile, widx);

	if (!kind || !size || size > kind->size)
		return false;
	if (!IS_ALIGNED(addr, kind_addr_align(kind)) ||
	    !IS_ALIGNED(size, kind_size_align(kind)) || !PAGE_ALIGNED(size))
		return false;
	return !kind->xlat_natural ||
	       IS_ALIGNED(addr, rounddown_pow_of_two(size));
}

/* --- binding a window to a buffer ------------------------------------------ */

static void unbind(struct ntb_sim_mw *mw)
{
	struct ntb_sim_alloc *alloc = mw->alloc;
	void *own;

	if (mw->claim) {
		release_mem_region(mw->xlat, mw->xlat_size);
		mw->claim = NULL;
	}
	if (alloc) {
		own = alloc->pages + mw->xlat_offset;
		memcpy(own, mw->aperture_virt, mw->xlat_size);
		remap(alloc->vaddr + mw->xlat_offset, mw->xlat_size,
		      PHYS_PFN(virt_to_phys(own)));
		alloc->bound = NULL;
		mw->alloc = NULL;
	}
	mw->target = -1;
	mw->xlat = 0;
	mw->xlat_size = 0;
}

static struct ntb_sim_alloc *find_alloc(struct ntb_sim_host *host,
					dma_addr_t addr, resource_size_t size)
{
	struct ntb_sim_alloc *alloc;

	list_for_each_entry(alloc, &host->allocs, node)
		if (addr >= alloc->dma && addr + size <= alloc->dma + alloc->size)
			return alloc;
	return NULL;
}

/*
 * Translate window @widx, @mw, to @addr of @receiver; caller holds the
 * fabric's mw_lock.
 */
static int bind(struct ntb_sim_mw *mw, int widx, struct ntb_sim_host *receiver,
		dma_addr_t addr, resource_size_t size)
{
	struct ntb_sim_alloc *alloc;
	size_t offset;
	bool fail;

	if (!xlat_fits(receiver->fabric->profile, widx, addr, size))
		return -EINVAL;

	raw_spin_lock_irq(&receiver->fabric->lock);
	fail = receiver->fabric->fault.fail_mw &&
	       receiver->fabric->fault.fail_mw--;
	raw_spin_unlock_irq(&receiver->fabric->lock);
	if (fail)
		return -EIO;

	unbind(mw);
	alloc = find_alloc(receiver, addr, size);
	if (alloc) {
		if (alloc->bound || size > mw->aperture_size)
			return -ENOSPC;
		offset = addr - alloc->dma;
		memcpy(mw->aperture_virt, alloc->vaddr + offset, size);
		remap(alloc->vaddr + offset, size, PHYS_PFN(mw->aperture));
		alloc->bound = mw;
		mw->alloc = alloc;
		mw->xlat_offset = offset;
	}
	mw->target = receiver->port;
	mw->xlat = addr;
	mw->xlat_size = size;
	/* A range across several resources (all of RAM) is not claimed. */
	if (!alloc && READ_ONCE(receiver->fabric->fault.claim_windows))
		mw->claim = request_mem_region(addr, size, "ntb_sim window");
	return 0;
}

/*
 * The window through which @sender reaches @receiver with index @widx:
 * the receiver's inbound window when receivers translate (Intel-like), the
 * sender's outbound one when senders do (IDT-like). Both live in the
 * sender, whose clients map its aperture.
 */
static struct ntb_sim_mw *window(struct ntb_sim_host *sender, int widx)
{
	if (widx < 0 || widx >= ntb_sim_mw_count_of(sender->fabric->profile))
		return NULL;
	return &sender->mw[widx];
}

static struct ntb_sim_host *peer_host(struct ntb_sim_host *host, int pidx)
{
	if (!ntb_sim_valid_pidx(host, pidx))
		return NULL;
	return host->fabric->hosts[ntb_sim_peer_port(host, pidx)];
}

/* --- ntb_dev_ops ----------------------------------------------------------- */

int ntb_sim_mw_count(struct ntb_dev *ntb, int pidx)
{
	return ntb_sim_mw_count_of(ntb_sim_host(ntb)->fabric->profile);
}

int ntb_sim_mw_get_align(struct ntb_dev *ntb, int pidx, int widx,
			 resource_size_t *addr_align,
			 resource_size_t *size_align,
			 resource_size_t *size_max)
{
	const struct ntb_sim_mw_kind *kind;

	kind = ntb_sim_mw_kind(ntb_sim_host(ntb)->fabric->profile, widx);
	if (!kind)
		return -EINVAL;
	if (addr_align)
		*addr_align = kind_addr_align(kind);
	if (size_align)
		*size_align = kind_size_align(kind);
	if (size_max)
		*size_max = kind->size;
	return 0;
}

/* Receiver-set translation: @ntb's peer @pidx writes through window @widx. */
int ntb_sim_mw_set_trans(struct ntb_dev *ntb, int pidx, int widx,
			 dma_addr_t addr, resource_size_t size)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);
	struct ntb_sim_fabric *fabric = host->fabric;
	struct ntb_sim_host *sender;
	struct ntb_sim_mw *mw;
	int ret = -ENOLINK;

	mutex_lock(&fabric->mw_lock);
	sender = peer_host(host, pidx);
	if (sender) {
		mw = window(sender, widx);
		ret = mw ? bind(mw, widx, host, addr, size) : -EINVAL;
	}
	mutex_unlock(&fabric->mw_lock);
	return ret;
}

int ntb_sim_mw_clear_trans(struct ntb_dev *ntb, int pidx, int widx)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);
	struct ntb_sim_fabric *fabric = host->fabric;
	struct ntb_sim_host *sender;
	struct ntb_sim_mw *mw;

	mutex_lock(&fabric->mw_lock);
	sender = peer_host(host, pidx);
	mw = sender ? window(sender, widx) : NULL;
	if (mw && mw->target == host->port)
		unbind(mw);
	mutex_unlock(&fabric->mw_lock);
	return 0;
}

int ntb_sim_peer_mw_count(struct ntb_dev *ntb)
{
	return ntb_sim_mw_count_of(ntb_sim_host(ntb)->fabric->profile);
}

int ntb_sim_peer_mw_get_addr(struct ntb_dev *ntb, int widx,
			     phys_addr_t *base, resource_size_t *size)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);
	struct ntb_sim_mw *mw = window(host, widx);
	phys_addr_t b;
	resource_size_t s;

	if (!mw)
		return -EINVAL;
	mutex_lock(&host->fabric->mw_lock);
	if (mw->target >= 0 && !mw->alloc) {
		b = mw->xlat;
		s = mw->xlat_size;
	} else {
		b = mw->aperture;
		s = mw->aperture_size;
	}
	mutex_unlock(&host->fabric->mw_lock);
	if (!s)
		return -ENXIO;	/* no arena and no transparent translation */
	if (base)
		*base = b;
	if (size)
		*size = s;
	return 0;
}

/* Sender-set translation: window @widx of @ntb now reaches peer @pidx. */
int ntb_sim_peer_mw_set_trans(struct ntb_dev *ntb, int pidx, int widx,
			      u64 addr, resource_size_t size)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);
	struct ntb_sim_fabric *fabric = host->fabric;
	struct ntb_sim_host *receiver;
	struct ntb_sim_mw *mw = window(host, widx);
	int ret = -ENOLINK;

	if (!mw)
		return -EINVAL;
	mutex_lock(&fabric->mw_lock);
	receiver = peer_host(host, pidx);
	if (receiver)
		ret = bind(mw, widx, receiver, addr, size);
	mutex_unlock(&fabric->mw_lock);
	return ret;
}

int ntb_sim_peer_mw_clear_trans(struct ntb_dev *ntb, int pidx, int widx)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);
	struct ntb_sim_mw *mw = window(host, widx);

	if (!mw)
		return -EINVAL;
	mutex_lock(&host->fabric->mw_lock);
	unbind(mw);
	mutex_unlock(&host->fabric->mw_lock);
	return 0;
}

/* --- the adapter's DMA ops ------------------------------------------------- */

static void *sim_dma_alloc(struct device *dev, size_t size,
			   dma_addr_t *dma_handle, gfp_t gfp,
			   unsigned long attrs)
{
	struct ntb_sim_host *host = dev_host(dev);
	struct ntb_sim_alloc *alloc;
	unsigned int i, n;
	struct page **pages;

	/* A buffer a window can bind is remapped later: that may sleep. */
	if (!host || !gfpflags_allow_blocking(gfp))
		return NULL;

	alloc = kzalloc(sizeof(*alloc), GFP_KERNEL);
	if (!alloc)
		return NULL;
	alloc->size = PAGE_ALIGN(size);
	n = alloc->size >> PAGE_SHIFT;
	/* Buddy blocks are aligned to their size, as Intel windows want. */
	alloc->pages = alloc_pages_exact(alloc->size, gfp | __GFP_ZERO);
	if (!alloc->pages)
		goto err_alloc;
	pages = kmalloc_array(n, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		goto err_pages;
	for (i = 0; i < n; i++)
		pages[i] = virt_to_page(alloc->pages + i * PAGE_SIZE);
	alloc->vaddr = vmap(pages, n, VM_MAP, PAGE_KERNEL);
	kfree(pages);
	if (!alloc->vaddr)
		goto err_pages;
	alloc->dma = virt_to_phys(alloc->pages);

	mutex_lock(&host->fabric->mw_lock);
	list_add(&alloc->node, &host->allocs);
	mutex_unlock(&host->fabric->mw_lock);

	*dma_handle = alloc->dma;
	return alloc->vaddr;

err_pages:
	free_pages_exact(alloc->pages, alloc->size);
err_alloc:
	kfree(alloc);
	return NULL;
}

static void free_alloc(struct ntb_sim_alloc *alloc)
{
	if (alloc->bound)
		unbind(alloc->bound);
	list_del(&alloc->node);
	vunmap(alloc->vaddr);
	free_pages_exact(alloc->pages, alloc->size);
	kfree(alloc);
}

/*
 * Buffers freed by a client stay mapped for a while: ntb_transport writes
 * into its receive buffer after freeing it when a link goes down twice
 * (ntb_qp_link_down_reset() after ntb_free_mw()). Through the direct map
 * of real hardware's buffers that write lands in a freed page unnoticed;
 * through this vmap() it would oops the fabric's test run.
 */
#define NTB_SIM_FREED_KEEP	4

static void sim_dma_free(struct device *dev, size_t size, void *vaddr,
			 dma_addr_t dma_handle, unsigned long attrs)
{
	struct ntb_sim_host *host = dev_host(dev);
	struct ntb_sim_alloc *alloc, *oldest;

	mutex_lock(&host->fabric->mw_lock);
	list_for_each_entry(alloc, &host->allocs, node) {
		if (alloc->vaddr == vaddr) {
			if (alloc->bound)
				unbind(alloc->bound);
			list_move_tail(&alloc->node, &host->freed);
			host->nr_freed++;
			break;
		}
	}
	if (host->nr_freed > NTB_SIM_FREED_KEEP) {
		oldest = list_first_entry(&host->freed, struct ntb_sim_alloc,
					  node);
		free_alloc(oldest);
		host->nr_freed--;
	}
	mutex_unlock(&host->fabric->mw_lock);
}

/* Streaming mappings: the adapter reaches memory directly. */
static dma_addr_t sim_dma_map_page(struct device *dev, struct page *page,
				   unsigned long offset, size_t size,
				   enum dma_data_direction dir,
				   unsigned long attrs)
{
	return page_to_phys(page) + offset;
}

static int sim_dma_map_sg(struct device *dev, struct scatterlist *sgl,
			  int nents, enum dma_data_direction dir,
			  unsigned long attrs)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i) {
		sg->dma_address = sg_phys(sg);
		sg_dma_len(sg) = sg->length;
	}
	return nents;
}

static dma_addr_t sim_dma_map_resource(struct device *dev,
				       phys_addr_t phys_addr, size_t size,
				       enum dma_data_direction dir,
				       unsigned long attrs)
{
	return phys_addr;
}

/* Nothing to undo; the DMA core calls these unconditionally. */
static void sim_dma_unmap_page(struct device *dev, dma_addr_t dma_handle,
			       size_t size, enum dma_data_direction dir,
			       unsigned long attrs)
{
}

static void sim_dma_unmap_sg(struct device *dev, struct scatterlist *sgl,
			     int nents, enum dma_data_direction dir,
			     unsigned long attrs)
{
}

const struct dma_map_ops ntb_sim_dma_ops = {
	.alloc		= sim_dma_alloc,
	.free		= sim_dma_free,
	.map_page	= sim_dma_map_page,
	.unmap_page	= sim_dma_unmap_page,
	.map_sg		= sim_dma_map_sg,
	.unmap_sg	= sim_dma_unmap_sg,
	.map_resource	= sim_dma_map_resource,
	.unmap_resource	= sim_dma_unmap_page,
};

/* --- per host ---------------------------------------------------------------- */

/**
 * ntb_sim_mw_init() - give a new host its windows and their apertures
 * @host: the host, not yet visible to its peers
 *
 * Each aperture holds the window's size of the arena, at most mw_backing;
 * a window the arena has no room for works address-transparent only.
 *
 * Return: 0, or -ENOMEM if the windows cannot be allocated.
 */
int ntb_sim_mw_init(struct ntb_sim_host *host)
{
	const struct ntb_sim_profile *profile = host->fabric->profile;
	int widx, count = ntb_sim_mw_count_of(profile);
	struct ntb_sim_mw *mw;

	INIT_LIST_HEAD(&host->allocs);
	INIT_LIST_HEAD(&host->freed);
	host->mw = kcalloc(count, sizeof(*host->mw), GFP_KERNEL);
	if (!host->mw)
		return -ENOMEM;
	for (widx = 0; widx < count; widx++) {
		mw = &host->mw[widx];
		mw->target = -1;
		mw->aperture_size = min_t(resource_size_t,
					  ntb_sim_mw_kind(profile, widx)->size,
					  ntb_sim_mw_backing);
		mw->aperture_virt = ntb_sim_arena_alloc(mw->aperture_size,
							&mw->aperture);
		if (!mw->aperture_virt)
			mw->aperture_size = 0;
	}
	return 0;
}

/**
 * ntb_sim_mw_exit() - drop every window to or from a host going away
 * @host: the host, already unregistered from the NTB core
 */
void ntb_sim_mw_exit(struct ntb_sim_host *host)
{
	struct ntb_sim_fabric *fabric = host->fabric;
	struct ntb_sim_alloc *alloc, *tmp;
	int port, widx, count = ntb_sim_mw_count_of(fabric->profile);
	struct ntb_sim_host *other;

	mutex_lock(&fabric->mw_lock);
	/* Windows of others into this host, then this host's own windows. */
	for (port = 0; port < NTB_SIM_MAX_PORTS; port++) {
		other = fabric->hosts[port];
		for (widx = 0; other && widx < count; widx++)
			if (other->mw[widx].target == host->port)
				unbind(&other->mw[widx]);
	}
	for (widx = 0; widx < count; widx++) {
		unbind(&host->mw[widx]);
		if (host->mw[widx].aperture_size)
			ntb_sim_arena_free(host->mw[widx].aperture_virt,
					   host->mw[widx].aperture_size);
	}
	/* Buffers a client did not free: the adapter goes, so do they. */
	list_for_each_entry_safe(alloc, tmp, &host->allocs, node) {
		dev_warn(&host->edu->dev, "freeing a DMA buffer its client leaked\n");
		free_alloc(alloc);
	}
	list_for_each_entry_safe(alloc, tmp, &host->freed, node)
		free_alloc(alloc);
	host->nr_freed = 0;
	mutex_unlock(&fabric->mw_lock);
	kfree(host->mw);
	host->mw = NULL;
}
