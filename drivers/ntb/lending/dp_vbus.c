// SPDX-License-Identifier: GPL-2.0
/*
 * NTB device lending: the borrower's virtual PCI host bridge.
 *
 * Each borrowed function sits alone on a root bus of its own, in a PCI
 * domain above the hardware's (from 0x10000, like vmd), where the stock
 * driver probes it as after a hot-add. The pieces, in the order they are
 * set up:
 *
 * - BARs: the lender's memory BARs keep their offsets in the outbound NTB
 *   window the lender translated to its BAR span; the bus emulates the BAR
 *   registers with those addresses, and the bus's memory window is the NTB
 *   window, so the driver's MMIO goes straight to the device.
 * - MSI domain: a PCI/MSI domain whose message is a doorbell write on the
 *   lender's side, so the PCI core's own MSI-X write puts the doorbell
 *   address into the device's table (through the BAR mapping) and the
 *   device rings the borrower's doorbell with no CPU on the lender's side.
 *   The doorbell handler runs the vectors on each bit it sees. Where the
 *   adapter has a vector per bit on CPUs of their own, a vector's affinity
 *   picks the bit it rings.
 * - Config space: everything but the BARs and the ROM is forwarded to the
 *   lender, which virtualizes it (dp_lent_config.c).
 * - DMA: the IOMMU does not know this domain, so the device gets DMA
 *   operations of its own that turn a borrower physical address into the
 *   address at which the device reaches it through the fabric.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-map-ops.h>
#include <linux/irq.h>
#include <linux/irqdomain.h>
#include <linux/module.h>
#include <linux/msi.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/rcupdate.h>
#include <linux/resource_ext.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "dataplane.h"

/* PCI domains of virtual buses start above the 16-bit hardware ones. */
#define VBUS_FIRST_DOMAIN	0x10000

/*
 * A vector's route (&ntbl_vbus.route): the doorbell its message rings, and
 * the doorbells it rang before it moved, which may still bring its
 * interrupts from before the move. The doorbell handler runs it for
 * those too, until it has run once after its new message was written.
 */
#define VBUS_ROUTE_DB		GENMASK_ULL(5, 0)	/* the doorbell it rings */
#define VBUS_ROUTE_PLACED	BIT_ULL(6)	/* by its affinity */
#define VBUS_ROUTE_MOVING	BIT_ULL(7)	/* its message is being written */
#define VBUS_ROUTE_OLD_SHIFT	8		/* the doorbells it rang before */
#define VBUS_ROUTE_KEEP		(VBUS_ROUTE_DB | VBUS_ROUTE_PLACED)
/* Doorbells a bus that steers vectors can have: one bit each in a route. */
#define VBUS_STEER_MAX_DB	(64 - VBUS_ROUTE_OLD_SHIFT)

/**
 * struct ntbl_vbus - a virtual PCI host bridge holding one borrowed function
 * @sysdata: the x86 PCI host data of the root bus; holds the PCI domain
 * @parent: device the host bridge hangs under
 * @ops: config space access to the lender
 * @priv: passed to @ops
 * @bar: the lender's BAR description, validated
 * @win_phys: borrower address of the window onto the lender's BAR span
 * @dma_phys: start of the inbound translation, borrower physical address
 * @dma_size: bytes of the inbound translation
 * @dma_dev_addr: where the device sees @dma_phys
 * @db: the doorbell write of each bit
 * @nr_db: entries in @db
 * @db_irq: the interrupt each doorbell raises here, while @steer
 * @steer: a vector's affinity picks its doorbell (vbus_msi_set_affinity()):
 *	the doorbells raise interrupts of their own, which are known
 * @shared: the device has more vectors than @nr_db, so vectors share bits
 * @msi_db: the doorbell a plain MSI vector rings (its hardware number):
 *	the first whose write a 16-bit MSI data word can carry, at an
 *	address the function can write (vbus_db_reachable()); -1 if none
 * @busn: bus number range of the root bus
 * @mem: memory window of the root bus: the NTB window
 * @fwnode: names the MSI domain
 * @domain: the MSI domain; RCU-published for ntbl_vbus_doorbell()
 * @chip: the MSI domain's irq chip
 * @msi_ops: the MSI domain's ops
 * @msi_info: the MSI domain's info
 * @nr_hwirq: one more than the highest vector allocated so far (vectors
 *	are numbered by MSI index); only grows, read without lock
 * @route: each vector's route (VBUS_ROUTE_*), by hardware number; set by
 *	its allocation and its affinity, under @steer_lock, and read by the
 *	doorbell handler, which clears its old doorbells, without it
 * @nr_route: entries in @route: the function's MSI-X table size, or the
 *	doorbells if more
 * @steer_lock: serializes vectors' choices of a doorbell; a raw lock
 *	because the affinity is set under the interrupt's raw lock
 * @bus: the root bus
 * @pdev: the borrowed function, a reference held; NULL after removal
 * @bar_lock: protects @bar_reg; a raw lock because config accessors may
 *	run under the PCI core's raw pci_lock
 * @bar_reg: the emulated BAR registers
 * @dead: the link is lost: config reads fail, writes are dropped
 * @removed: ntbl_vbus_remove() has run
 *
 * Everything but @domain, @nr_hwirq, @route, @bar_reg, @dead, @pdev and
 * @removed is set at creation (@shared, @msi_db, @route's array and
 * @nr_route by the scan) and constant after.
 */
struct ntbl_vbus {
	struct pci_sysdata sysdata;
	struct device *parent;
	const struct ntbl_vbus_ops *ops;
	void *priv;
	struct ntbl_dp_bar bar[PCI_STD_NUM_BARS];
	phys_addr_t win_phys;
	phys_addr_t dma_phys;
	u64 dma_size;
	u64 dma_dev_addr;
	struct ntbl_dp_doorbell *db;
	unsigned int nr_db;
	unsigned int *db_irq;
	bool steer;
	bool shared;
	int msi_db;

	struct resource busn;
	struct resource mem;
	struct fwnode_handle *fwnode;
	struct irq_domain __rcu *domain;
	struct irq_chip chip;
	struct msi_domain_ops msi_ops;
	struct msi_domain_info msi_info;
	unsigned int nr_hwirq;
	atomic64_t *route;
	unsigned int nr_route;
	raw_spinlock_t steer_lock;	/* choices of a doorbell */
	struct pci_bus *bus;
	struct pci_dev *pdev;

	raw_spinlock_t bar_lock;	/* bar_reg */
	u32 bar_reg[PCI_STD_NUM_BARS];
	bool dead;
	bool removed;
};

static struct ntbl_vbus *bus_vbus(struct pci_bus *bus)
{
	return container_of(bus->sysdata, struct ntbl_vbus, sysdata);
}

static struct ntbl_vbus *dev_vbus(struct device *dev)
{
	return bus_vbus(to_pci_dev(dev)->bus);
}

/* --- BARs ----------------------------------------------------------------- */

/* Check the lender's BARs against the window and place them in it. */
static int vbus_place_bars(struct ntbl_vbus *vbus, u64 win_size)
{
	struct ntbl_dp_bar *bar;
	phys_addr_t addr;
	int i, j, found = 0;

	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		bar = &vbus->bar[i];
		if (!bar->size)
			continue;
		if ((bar->flags & ~NTBL_DP_BAR_FLAGS) || !is_power_of_2(bar->size) ||
		    bar->size < 16 || ((bar->flags & NTBL_DP_BAR_64) &&
		    (i == PCI_STD_NUM_BARS - 1 || vbus->bar[i + 1].size))) {
			dev_err(vbus->parent, "lender sent a malformed BAR %d (size %#llx, flags %#x); refusing the device\n",
				i, bar->size, bar->flags);
			return -EINVAL;
		}
		if (bar->offset > win_size || bar->size > win_size - bar->offset) {
			dev_err(vbus->parent, "BAR %d (%#llx bytes at offset %#llx) does not fit the %#llx-byte window; the window onto the lender is too small\n",
				i, bar->size, bar->offset, win_size);
			return -ENOSPC;
		}
		addr = vbus->win_phys + bar->offset;
		if (!IS_ALIGNED(addr, bar->size)) {
			dev_err(vbus->parent, "BAR %d would sit at %pa, not aligned to its size %#llx; align the window to the BAR size\n",
				i, &addr, bar->size);
			return -EINVAL;
		}
		if (!(bar->flags & NTBL_DP_BAR_64) &&
		    upper_32_bits(addr + bar->size - 1)) {
			dev_err(vbus->parent, "32-bit BAR %d would sit at %pa, above 4 GiB; use a window below 4 GiB\n",
				i, &addr);
			return -EINVAL;
		}
		for (j = 0; j < i; j++) {
			if (vbus->bar[j].size &&
			    bar->offset < vbus->bar[j].offset + vbus->bar[j].size &&
			    vbus->bar[j].offset < bar->offset + bar->size) {
				dev_err(vbus->parent, "lender sent overlapping BARs %d and %d; refusing the device\n",
					j, i);
				return -EINVAL;
			}
		}
		vbus->bar_reg[i] = lower_32_bits(addr) |
			((bar->flags & NTBL_DP_BAR_64) ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) |
			((bar->flags & NTBL_DP_BAR_PREFETCH) ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
		if (bar->flags & NTBL_DP_BAR_64)
			vbus->bar_reg[i + 1] = upper_32_bits(addr);
		found++;
	}
	if (!found) {
		dev_err(vbus->parent, "lender sent no memory BAR; refusing the device\n");
		return -EINVAL;
	}
	return 0;
}

static bool vbus_emulated(int where)
{
	return (where >= PCI_BASE_ADDRESS_0 && where < PCI_BASE_ADDRESS_5 + 4) ||
	       (where >= PCI_ROM_ADDRESS && where < PCI_ROM_ADDRESS + 4);
}

/*
 * A write to BAR register @idx: all ones sizes it, anything else puts the
 * placed address back, since the window cannot follow a BAR that moves.
 * bar_lock held.
 */
static void vbus_bar_write(struct ntbl_vbus *vbus, int idx, u32 val)
{
	struct ntbl_dp_bar *bar = &vbus->bar[idx], *low;
	phys_addr_t addr;
	u32 mask;

	if (bar->size) {
		mask = lower_32_bits(~(bar->size - 1)) & PCI_BASE_ADDRESS_MEM_MASK;
		addr = vbus->win_phys + bar->offset;
		vbus->bar_reg[idx] &= ~PCI_BASE_ADDRESS_MEM_MASK;
		vbus->bar_reg[idx] |= (val & mask) == mask ? mask : lower_32_bits(addr);
		return;
	}
	if (idx == 0 || !(vbus->bar[idx - 1].flags & NTBL_DP_BAR_64))
		return;
	low = &vbus->bar[idx - 1];
	mask = upper_32_bits(~(low->size - 1));
	addr = vbus->win_phys + low->offset;
	vbus->bar_reg[idx] = val == mask ? mask : upper_32_bits(addr);
}

/* --- config space --------------------------------------------------------- */

/*
 * The bus holds one function, 00.0; a lent bridge's buses below it are
 * not ours to reach.
 */
static int vbus_cfg_read(struct pci_bus *bus, unsigned int devfn, int where,
			 int size, u32 *val)
{
	struct ntbl_vbus *vbus = bus_vbus(bus);
	unsigned long flags;
	u32 dword = 0;
	int idx;

	if (devfn || !pci_is_root_bus(bus) || where < 0 ||
	    where + size > PCI_CFG_SPACE_EXP_SIZE || READ_ONCE(vbus->dead)) {
		*val = ~0U;
		return PCIBIOS_DEVICE_NOT_FOUND;
	}
	if (!vbus_emulated(where)) {
		if (vbus->ops->cfg_read(vbus->priv, where, size, val)) {
			*val = ~0U;
			return PCIBIOS_DEVICE_NOT_FOUND;
		}
		return PCIBIOS_SUCCESSFUL;
	}

	/* No expansion ROM: the lender's is not lent. */
	if (where < PCI_ROM_ADDRESS) {
		idx = (where - PCI_BASE_ADDRESS_0) / 4;
		raw_spin_lock_irqsave(&vbus->bar_lock, flags);
		dword = vbus->bar_reg[idx];
		raw_spin_unlock_irqrestore(&vbus->bar_lock, flags);
	}
	dword >>= 8 * (where & 3);
	*val = size == 4 ? dword : dword & ((1U << (8 * size)) - 1);
	return PCIBIOS_SUCCESSFUL;
}

static int vbus_cfg_write(struct pci_bus *bus, unsigned int devfn, int where,
			  int size, u32 val)
{
	struct ntbl_vbus *vbus = bus_vbus(bus);
	unsigned long flags;
	unsigned int shift;
	u32 dword, mask;
	int idx;

	if (devfn || !pci_is_root_bus(bus) || where < 0 ||
	    where + size > PCI_CFG_SPACE_EXP_SIZE || READ_ONCE(vbus->dead))
		return PCIBIOS_DEVICE_NOT_FOUND;
	if (!vbus_emulated(where)) {
		if (vbus->ops->cfg_write(vbus->priv, where, size, val))
			return PCIBIOS_DEVICE_NOT_FOUND;
		return PCIBIOS_SUCCESSFUL;
	}
	if (where >= PCI_ROM_ADDRESS)
		return PCIBIOS_SUCCESSFUL;

	idx = (where - PCI_BASE_ADDRESS_0) / 4;
	shift = 8 * (where & 3);
	mask = size == 4 ? ~0U : ((1U << (8 * size)) - 1) << shift;
	raw_spin_lock_irqsave(&vbus->bar_lock, flags);
	dword = (vbus->bar_reg[idx] & ~mask) | ((val << shift) & mask);
	vbus_bar_write(vbus, idx, dword);
	raw_spin_unlock_irqrestore(&vbus->bar_lock, flags);
	return PCIBIOS_SUCCESSFUL;
}

static struct pci_ops vbus_pci_ops = {
	.read = vbus_cfg_read,
	.write = vbus_cfg_write,
};

/* --- DMA ------------------------------------------------------------------ */

/*
 * The address at which the device reaches [phys, phys + size) through the
 * fabric, or DMA_MAPPING_ERROR if that is outside the inbound translation
 * or above @limit. Not refused once the link is lost: nothing reaches this
 * host through it any more, and a driver that cannot map retries rather
 * than fails (nvme requeues the request, which then never times out), so
 * one that probes the device then would never end its probe.
 */
static dma_addr_t vbus_dma_addr(struct device *dev, phys_addr_t phys,
				size_t size, u64 limit)
{
	struct ntbl_vbus *vbus = dev_vbus(dev);
	dma_addr_t addr;

	if (phys < vbus->dma_phys || size > vbus->dma_size ||
	    phys - vbus->dma_phys > vbus->dma_size - size) {
		dev_err_ratelimited(dev, "DMA to %pa is outside the fabric's window onto this host; enlarge the inbound translation\n",
				    &phys);
		return DMA_MAPPING_ERROR;
	}
	addr = vbus->dma_dev_addr + (phys - vbus->dma_phys);
	if (size && addr + size - 1 > min_not_zero(limit, dev->bus_dma_limit))
		return DMA_MAPPING_ERROR;
	return addr;
}

static void *vbus_dma_alloc(struct device *dev, size_t size,
			    dma_addr_t *dma_handle, gfp_t gfp,
			    unsigned long attrs)
{
	void *vaddr;

	size = PAGE_ALIGN(size);
	vaddr = alloc_pages_exact(size, gfp | __GFP_ZERO);
	if (!vaddr)
		return NULL;
	*dma_handle = vbus_dma_addr(dev, virt_to_phys(vaddr), size,
				    dev->coherent_dma_mask);
	if (*dma_handle == DMA_MAPPING_ERROR) {
		free_pages_exact(vaddr, size);
		return NULL;
	}
	return vaddr;
}

static void vbus_dma_free(struct device *dev, size_t size, void *vaddr,
			  dma_addr_t dma_handle, unsigned long attrs)
{
	free_pages_exact(vaddr, PAGE_ALIGN(size));
}

static dma_addr_t vbus_dma_map_page(struct device *dev, struct page *page,
				    unsigned long offset, size_t size,
				    enum dma_data_direction dir,
				    unsigned long attrs)
{
	return vbus_dma_addr(dev, page_to_phys(page) + offset, size,
			     *dev->dma_mask);
}

static int vbus_dma_map_sg(struct device *dev, struct scatterlist *sgl,
			   int nents, enum dma_data_direction dir,
			   unsigned long attrs)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i) {
		sg->dma_address = vbus_dma_addr(dev, sg_phys(sg), sg->length,
						*dev->dma_mask);
		if (sg->dma_address == DMA_MAPPING_ERROR)
			return -EIO;
		sg_dma_len(sg) = sg->length;
	}
	return nents;
}

static dma_addr_t vbus_dma_map_resource(struct device *dev,
					phys_addr_t phys_addr, size_t size,
					enum dma_data_direction dir,
					unsigned long attrs)
{
	return vbus_dma_addr(dev, phys_addr, size, *dev->dma_mask);
}

/* Mappings are a fixed translation: nothing to undo or to sync on x86. */
static void vbus_dma_unmap_page(struct device *dev, dma_addr_t dma_handle,
				size_t size, enum dma_data_direction dir,
				unsigned long attrs)
{
}

static void vbus_dma_unmap_sg(struct device *dev, struct scatterlist *sgl,
			      int nents, enum dma_data_direction dir,
			      unsigned long attrs)
{
}

static u64 vbus_dma_required_mask(struct device *dev)
{
	struct ntbl_vbus *vbus = dev_vbus(dev);

	return DMA_BIT_MASK(fls64(vbus->dma_dev_addr + vbus->dma_size - 1));
}

static const struct dma_map_ops vbus_dma_ops = {
	.alloc			= vbus_dma_alloc,
	.free			= vbus_dma_free,
	.map_page		= vbus_dma_map_page,
	.unmap_page		= vbus_dma_unmap_page,
	.map_sg			= vbus_dma_map_sg,
	.unmap_sg		= vbus_dma_unmap_sg,
	.map_resource		= vbus_dma_map_resource,
	.unmap_resource		= vbus_dma_unmap_page,
	.get_required_mask	= vbus_dma_required_mask,
};

/* --- MSI domain ----------------------------------------------------------- */

/*
 * Whether the function can write doorbell @db's address. One whose MSI
 * capability has no 64-bit address register (or a quirk's) writes none
 * above 4 GiB, and the PCI core then gives it no vector there, MSI-X ones
 * included (&pci_dev.no_64bit_msi). The lender's IOMMU puts doorbells at
 * the top of its aperture, far above.
 */
static bool vbus_db_reachable(const struct pci_dev *pdev,
			      const struct ntbl_dp_doorbell *db)
{
	return !pdev->no_64bit_msi || db->addr <= U32_MAX;
}

/* Whether any doorbell is one the function can write. */
static bool vbus_any_db_reachable(struct ntbl_vbus *vbus, struct pci_dev *pdev)
{
	unsigned int i;

	for (i = 0; i < vbus->nr_db; i++)
		if (vbus_db_reachable(pdev, &vbus->db[i]))
			return true;
	return false;
}

/* The doorbells through which a vector on route @route may ring. */
static u64 vbus_route_dbs(u64 route)
{
	return BIT_ULL(route & VBUS_ROUTE_DB) | route >> VBUS_ROUTE_OLD_SHIFT;
}

/* A vector's message: the doorbell write of the bit its route names. */
static void vbus_compose_msi_msg(struct irq_data *d, struct msi_msg *msg)
{
	struct ntbl_vbus *vbus = irq_data_get_irq_chip_data(d);
	u64 route = atomic64_read(&vbus->route[irqd_to_hwirq(d)]);
	const struct ntbl_dp_doorbell *db = &vbus->db[route & VBUS_ROUTE_DB];

	msg->address_lo = lower_32_bits(db->addr);
	msg->address_hi = upper_32_bits(db->addr);
	msg->data = db->data;
}

/*
 * The CPUs that doorbell @i interrupts: those of the adapter's vector
 * that the bit raises; NULL if that is gone.
 */
static const struct cpumask *vbus_db_cpus(struct ntbl_vbus *vbus,
					  unsigned int i)
{
	const struct cpumask *cpus;

	cpus = irq_get_effective_affinity_mask(vbus->db_irq[i]);
	if (cpus && cpumask_empty(cpus))
		cpus = irq_get_affinity_mask(vbus->db_irq[i]);
	return cpus;
}

/*
 * The doorbell for vector @d, which asks for the CPUs in @mask: one that
 * the function can write, whose interrupt goes to one of them, rung by
 * the fewest other vectors placed so far (the vector's own on a tie, then
 * the lowest); -1 if none. steer_lock held.
 */
static int vbus_pick_db(struct ntbl_vbus *vbus, struct irq_data *d,
			const struct cpumask *mask)
{
	struct pci_dev *pdev = msi_desc_to_pci_dev(irq_data_get_msi_desc(d));
	irq_hw_number_t self = irqd_to_hwirq(d), hwirq;
	unsigned int n = READ_ONCE(vbus->nr_hwirq), i, cur;
	u16 users[VBUS_STEER_MAX_DB] = {};
	const struct cpumask *cpus;
	int best = -1;
	u64 route;

	for (hwirq = 0; hwirq < n; hwirq++) {
		route = atomic64_read(&vbus->route[hwirq]);
		if (hwirq != self && (route & VBUS_ROUTE_PLACED))
			users[route & VBUS_ROUTE_DB]++;
	}
	cur = atomic64_read(&vbus->route[self]) & VBUS_ROUTE_DB;
	for (i = 0; i < vbus->nr_db; i++) {
		cpus = vbus_db_cpus(vbus, i);
		if (!cpus || !cpumask_intersects(cpus, mask) ||
		    !vbus_db_reachable(pdev, &vbus->db[i]))
			continue;
		if (best < 0 || users[i] < users[best] ||
		    (users[i] == users[best] && i == cur))
			best = i;
	}
	return best;
}

/*
 * A vector asks for the CPUs in @mask (its driver's managed affinity at
 * startup, a user's smp_affinity, a CPU going offline): aim its message
 * at a doorbell whose interrupt goes there, and say where that is. The
 * doorbell handler runs the vector for its new doorbell before the device
 * can ring it, and for the old one until its first run after the new
 * message is written (ntbl_vbus_doorbell()). With no doorbell on those
 * CPUs the vector stays where it is. Plain MSI stays too: its message
 * goes to the lender a config register at a time, and the lender turns
 * MSI off when a half-written one is not a doorbell.
 *
 * The new message is written here, in process context as well: the
 * interrupts have IRQ_MOVE_PCNTXT, since their flow calls no
 * irq_move_irq(), which is where a move left pending would be done.
 */
static int vbus_msi_set_affinity(struct irq_data *d,
				 const struct cpumask *mask, bool force)
{
	struct ntbl_vbus *vbus = irq_data_get_irq_chip_data(d);
	struct msi_desc *desc = irq_data_get_msi_desc(d);
	atomic64_t *route = &vbus->route[irqd_to_hwirq(d)];
	const struct cpumask *cpus;
	unsigned int old, db;
	struct msi_msg msg;
	int pick = -1;
	u64 r;

	raw_spin_lock(&vbus->steer_lock);
	r = atomic64_read(route);
	old = r & VBUS_ROUTE_DB;
	if (desc->pci.msi_attrib.is_msix)
		pick = vbus_pick_db(vbus, d, mask);
	db = pick < 0 ? old : pick;
	if (db != old)
		/* A run that clears old doorbells meanwhile: kept, harmless. */
		atomic64_set(route, db | VBUS_ROUTE_PLACED | VBUS_ROUTE_MOVING |
			     (vbus_route_dbs(r) & ~BIT_ULL(db)) <<
			     VBUS_ROUTE_OLD_SHIFT);
	else
		atomic64_or(VBUS_ROUTE_PLACED, route);
	raw_spin_unlock(&vbus->steer_lock);

	if (db != old) {
		/* An inactive vector gets the new message at activation. */
		if (irqd_is_activated(d) && !READ_ONCE(vbus->dead)) {
			vbus_compose_msi_msg(d, &msg);
			/* Masked, written and read back (pci_write_msg_msix()). */
			d->chip->irq_write_msi_msg(d, &msg);
		}
		atomic64_andnot(VBUS_ROUTE_MOVING, route);
	}
	cpus = vbus_db_cpus(vbus, db);
	irq_data_update_effective_affinity(d, cpus ?: mask);
	return IRQ_SET_MASK_OK;
}

/*
 * The edge flow calls it: the adapter's handler acknowledged the doorbell
 * already.
 */
static void vbus_msi_ack(struct irq_data *d)
{
}

static int vbus_msi_init(struct irq_domain *domain,
			 struct msi_domain_info *info, unsigned int virq,
			 irq_hw_number_t hwirq, msi_alloc_info_t *arg)
{
	struct ntbl_vbus *vbus = info->data;
	struct pci_dev *pdev = to_pci_dev(arg->desc->dev);
	const struct ntbl_dp_doorbell *db = &vbus->db[hwirq % vbus->nr_db];

	if (!arg->desc->pci.msi_attrib.is_msix && vbus->msi_db < 0) {
		dev_err(arg->desc->dev, "plain MSI cannot ring any of its %u doorbells: MSI data has 16 bits and a dword address%s, the first doorbell writes %#x at %#llx; use MSI-X\n",
			vbus->nr_db, pdev->no_64bit_msi ? " of 32 bits" : "",
			vbus->db[0].data, vbus->db[0].addr);
		return -EOVERFLOW;
	}
	/* The PCI core would refuse it too, blaming the arch. */
	if (!vbus_db_reachable(pdev, db)) {
		dev_err(arg->desc->dev, "MSI-X vector %lu cannot ring doorbell %#llx: the device takes 32-bit MSI addresses only\n",
			hwirq, db->addr);
		return -EOVERFLOW;
	}
	if (hwirq >= vbus->nr_route) {
		dev_err(arg->desc->dev, "MSI-X vector %lu is beyond the %u entries its table had at the scan\n",
			hwirq, vbus->nr_route);
		return -ENOSPC;
	}
	/* Until its affinity is set: vectors by number round the bits. */
	atomic64_set(&vbus->route[hwirq], hwirq % vbus->nr_db);
	/*
	 * The edge flow, since a vector that moves to another CPU's doorbell
	 * can be run on two CPUs at once: the second run is marked pending
	 * and done by the first, where the simple flow would drop it.
	 */
	irq_domain_set_info(domain, virq, hwirq, info->chip, vbus,
			    handle_edge_irq, NULL, NULL);
	/*
	 * A vector that shares its doorbell bit runs whenever the other one
	 * fires: its IRQ_NONE says nothing about a stuck line. Steered
	 * vectors may come to share a bit.
	 */
	if (vbus->shared || vbus->steer)
		irq_set_status_flags(virq, IRQ_IS_POLLED);
	if (vbus->steer)
		irq_set_status_flags(virq, IRQ_MOVE_PCNTXT);
	/* Allocation is serialized by the domain; the doorbell reads it. */
	if (hwirq < vbus->nr_hwirq)
		return 0;
	/* Pairs with ntbl_vbus_doorbell(): the route above is set. */
	smp_store_release(&vbus->nr_hwirq, hwirq + 1);
	return 0;
}

/* A freed vector rings nothing: it is no doorbell's user any more. */
static void vbus_msi_free(struct irq_domain *domain,
			  struct msi_domain_info *info, unsigned int virq)
{
	struct ntbl_vbus *vbus = info->data;
	struct irq_data *d = irq_domain_get_irq_data(domain, virq);

	if (d && irqd_to_hwirq(d) < vbus->nr_route)
		atomic64_andnot(VBUS_ROUTE_PLACED, &vbus->route[irqd_to_hwirq(d)]);
}

/*
 * One function per domain: its MSI-X index is a unique hardware number.
 * Its one plain MSI vector (the lender allows no more) takes the number of
 * the doorbell it can ring, so that the doorbell runs it.
 */
static void vbus_msi_set_desc(msi_alloc_info_t *arg, struct msi_desc *desc)
{
	struct ntbl_vbus *vbus = dev_vbus(desc->dev);

	arg->desc = desc;
	arg->hwirq = desc->msi_index;
	if (!desc->pci.msi_attrib.is_msix && vbus->msi_db >= 0)
		arg->hwirq = vbus->msi_db;
}

/*
 * The doorbell a plain MSI can ring. Its capability's data register has
 * 16 bits (the PCI core writes msg->data there as a word; the upper half
 * of the dword the function writes is zero), while an MSI-X entry's has
 * 32. A doorbell whose value needs more (an adapter that rings bit n with
 * BIT(16 + n), or shifts its bits up) would get a truncated message,
 * which rings nothing. Both address registers want a dword, and one of
 * 32 bits an address below 4 GiB.
 */
static int vbus_msi_doorbell(struct ntbl_vbus *vbus, struct pci_dev *pdev)
{
	const struct ntbl_dp_doorbell *db = vbus->db;
	unsigned int i;

	for (i = 0; i < vbus->nr_db; i++)
		if (db[i].data <= U16_MAX && IS_ALIGNED(db[i].addr, 4) &&
		    vbus_db_reachable(pdev, &db[i]))
			return i;
	return -1;
}

/*
 * Whether a vector's affinity can pick its doorbell: each doorbell's
 * interrupt is known, and they are not all one (an edu adapter's).
 */
static bool vbus_can_steer(const struct ntbl_vbus_info *info)
{
	bool several = false;
	unsigned int i;

	if (!info->db_irq || info->nr_db > VBUS_STEER_MAX_DB)
		return false;
	for (i = 0; i < info->nr_db; i++) {
		if (!info->db_irq[i])
			return false;
		several |= info->db_irq[i] != info->db_irq[0];
	}
	return several;
}

static int vbus_create_irq_domain(struct ntbl_vbus *vbus)
{
	struct irq_domain *domain;

	vbus->chip.name = "NTB-VBUS";
	vbus->chip.irq_compose_msi_msg = vbus_compose_msi_msg;
	vbus->chip.irq_ack = vbus_msi_ack;
	vbus->msi_ops.msi_init = vbus_msi_init;
	vbus->msi_ops.msi_free = vbus_msi_free;
	vbus->msi_ops.set_desc = vbus_msi_set_desc;
	/*
	 * Masking goes through the BAR mapping to the device's own table:
	 * a function comes out of reset with its vectors masked, and only
	 * the core's unmask opens them. A doorbell interrupts wherever the
	 * NTB adapter's vector for it goes: affinity only where the bus
	 * can choose among doorbells on several CPUs.
	 */
	vbus->msi_info.flags = MSI_FLAG_USE_DEF_DOM_OPS |
			       MSI_FLAG_USE_DEF_CHIP_OPS | MSI_FLAG_PCI_MSIX;
	if (vbus->steer)
		vbus->chip.irq_set_affinity = vbus_msi_set_affinity;
	else
		vbus->msi_info.flags |= MSI_FLAG_NO_AFFINITY;
	vbus->msi_info.ops = &vbus->msi_ops;
	vbus->msi_info.chip = &vbus->chip;
	vbus->msi_info.data = vbus;

	vbus->fwnode = irq_domain_alloc_named_id_fwnode("NTB-VBUS-MSI",
							vbus->sysdata.domain);
	if (!vbus->fwnode)
		return -ENOMEM;
	domain = pci_msi_create_irq_domain(vbus->fwnode, &vbus->msi_info, NULL);
	if (!domain) {
		irq_domain_free_fwnode(vbus->fwnode);
		return -ENOMEM;
	}
	rcu_assign_pointer(vbus->domain, domain);
	return 0;
}

static void vbus_remove_irq_domain(struct ntbl_vbus *vbus)
{
	struct irq_domain *domain = rcu_dereference_protected(vbus->domain, true);

	RCU_INIT_POINTER(vbus->domain, NULL);
	/* Doorbell handlers that saw the domain are done with it after this. */
	synchronize_rcu();
	irq_domain_remove(domain);
	irq_domain_free_fwnode(vbus->fwnode);
}

void ntbl_vbus_doorbell(struct ntbl_vbus *vbus, u64 bits)
{
	struct irq_domain *domain;
	unsigned int hwirq, n;
	atomic64_t *route;
	u64 r;

	bits &= vbus->nr_db < 64 ? BIT_ULL(vbus->nr_db) - 1 : ~0ULL;
	rcu_read_lock();
	domain = rcu_dereference(vbus->domain);
	/* Pairs with vbus_msi_init(): the routes below it are set. */
	n = smp_load_acquire(&vbus->nr_hwirq);
	for (hwirq = 0; domain && bits && hwirq < n; hwirq++) {
		route = &vbus->route[hwirq];
		r = atomic64_read(route);
		if (!(vbus_route_dbs(r) & bits))
			continue;
		/*
		 * Its new message is written: whatever it rang before has
		 * landed, with the data it signals, and this run takes it.
		 */
		if (r >> VBUS_ROUTE_OLD_SHIFT && !(r & VBUS_ROUTE_MOVING))
			atomic64_cmpxchg(route, r, r & VBUS_ROUTE_KEEP);
		generic_handle_domain_irq_safe(domain, hwirq);
	}
	rcu_read_unlock();
}
EXPORT_SYMBOL_NS_GPL(ntbl_vbus_doorbell, NTB_LENDING);

/* --- the root bus --------------------------------------------------------- */

/*
 * PCI domain numbers are global to the kernel: pick a free one and create
 * the bus under one lock, so that two buses never pick the same number.
 */
static DEFINE_MUTEX(vbus_domain_lock);

static int vbus_free_domain(void)
{
	struct pci_bus *bus = NULL;
	int domain = VBUS_FIRST_DOMAIN - 1;

	while ((bus = pci_find_next_bus(bus)))
		domain = max(domain, pci_domain_nr(bus));
	return domain + 1;
}

/*
 * pci_add_resource(), but one that fails: that one drops a window whose
 * entry it cannot allocate and goes on, and a bus without its memory
 * window cannot claim the device's BARs.
 */
static int vbus_add_window(struct list_head *resources, struct resource *res)
{
	struct resource_entry *entry;

	entry = resource_list_create_entry(res, 0);
	if (!entry)
		return -ENOMEM;
	resource_list_add_tail(entry, resources);
	return 0;
}

static int vbus_create_root_bus(struct ntbl_vbus *vbus, u64 win_size)
{
	LIST_HEAD(resources);
	int ret;

	vbus->busn = (struct resource) {
		.name = "NTB-VBUS bus",
		.start = 0,
		.end = 0,
		.flags = IORESOURCE_BUS | IORESOURCE_PCI_FIXED,
	};
	/* The NTB window; not inserted in iomem, like vmd's windows. */
	vbus->mem = (struct resource) {
		.name = "NTB-VBUS window",
		.start = vbus->win_phys,
		.end = vbus->win_phys + win_size - 1,
		.flags = IORESOURCE_MEM,
	};
	ret = vbus_add_window(&resources, &vbus->busn);
	if (!ret)
		ret = vbus_add_window(&resources, &vbus->mem);
	if (ret) {
		pci_free_resource_list(&resources);
		dev_err(vbus->parent, "cannot allocate the windows of PCI domain %04x for the borrowed device\n",
			vbus->sysdata.domain);
		return ret;
	}

	vbus->bus = pci_create_root_bus(vbus->parent, 0, &vbus_pci_ops,
					&vbus->sysdata, &resources);
	if (!vbus->bus) {
		pci_free_resource_list(&resources);
		dev_err(vbus->parent, "cannot create PCI domain %04x for the borrowed device\n",
			vbus->sysdata.domain);
		return -ENODEV;
	}
	return 0;
}

static void vbus_remove_root_bus(struct ntbl_vbus *vbus)
{
	struct pci_host_bridge *bridge = to_pci_host_bridge(vbus->bus->bridge);

	pci_remove_root_bus(vbus->bus);
	/* pci_create_root_bus() gave us the bridge's first reference. */
	pci_free_host_bridge(bridge);
	vbus->bus = NULL;
}

/* Scan the function and give it our DMA ops and its BARs. */
static int vbus_scan(struct ntbl_vbus *vbus)
{
	struct pci_dev *pdev;
	struct resource *r;
	int i, msix, ret = 0;

	pci_scan_child_bus(vbus->bus);
	pdev = pci_get_slot(vbus->bus, PCI_DEVFN(0, 0));
	if (!pdev) {
		dev_err(vbus->parent, "borrowed device does not answer on %04x:00:00.0; check the link to the lender\n",
			vbus->sysdata.domain);
		return -ENODEV;
	}

	/*
	 * INTx is not lent: a function needs a doorbell its interrupts can
	 * ring, or its driver waits forever.
	 */
	if ((pdev->msi_cap || pdev->msix_cap) &&
	    !vbus_any_db_reachable(vbus, pdev)) {
		pci_err(pdev, "its MSI takes 32-bit addresses only, which cannot reach any of its %u doorbells (the first is at %#llx)\n",
			vbus->nr_db, vbus->db[0].addr);
		ret = -EOPNOTSUPP;
		goto put;
	}
	vbus->msi_db = vbus_msi_doorbell(vbus, pdev);
	if (!pdev->msix_cap && pdev->msi_cap && vbus->msi_db < 0) {
		pci_err(pdev, "its one interrupt is plain MSI, whose 16-bit data cannot ring any of its %u doorbells (the first writes %#x at %#llx)\n",
			vbus->nr_db, vbus->db[0].data, vbus->db[0].addr);
		ret = -EOPNOTSUPP;
		goto put;
	}

	/* The IOMMU ignores this domain; these ops must be in place for probe. */
	set_dma_ops(&pdev->dev, &vbus_dma_ops);
	msix = pci_msix_vec_count(pdev);
	vbus->shared = max(msix, pdev->msi_cap ? 1 : 0) > vbus->nr_db;
	/* Plain MSI's one vector is numbered by its doorbell. */
	vbus->nr_route = max_t(unsigned int, max(msix, 0), vbus->nr_db);
	vbus->route = kcalloc(vbus->nr_route, sizeof(*vbus->route), GFP_KERNEL);
	if (!vbus->route) {
		ret = -ENOMEM;
		goto put;
	}

	/*
	 * Keep the BARs where the window has them; the core must not move
	 * them. The window and the BARs in it were checked: a BAR left out
	 * is a fault of ours, not the device borrowed already (-EBUSY).
	 */
	pci_bus_claim_resources(vbus->bus);
	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		r = &pdev->resource[i];
		if (vbus->bar[i].size && !r->parent) {
			pci_err(pdev, "BAR %d %pR could not be claimed in the window\n", i, r);
			ret = -EIO;
			goto put;
		}
	}
	vbus->pdev = pdev;
	return 0;

put:
	pci_stop_and_remove_bus_device(pdev);
	pci_dev_put(pdev);
	return ret;
}

struct ntbl_vbus *ntbl_vbus_create(const struct ntbl_vbus_info *info)
{
	struct ntbl_vbus *vbus;
	int ret;

	if (!info->parent || !info->ops || !info->ops->cfg_read ||
	    !info->ops->cfg_write || !info->db || !info->nr_db ||
	    info->nr_db > 64 || !info->win_size || !info->dma_size ||
	    info->win_phys + info->win_size - 1 < info->win_phys ||
	    info->dma_phys + info->dma_size - 1 < info->dma_phys ||
	    info->dma_dev_addr + info->dma_size - 1 < info->dma_dev_addr)
		return ERR_PTR(-EINVAL);

	vbus = kzalloc(sizeof(*vbus), GFP_KERNEL);
	if (!vbus)
		return ERR_PTR(-ENOMEM);
	vbus->parent = info->parent;
	vbus->ops = info->ops;
	vbus->priv = info->priv;
	memcpy(vbus->bar, info->bar, sizeof(vbus->bar));
	vbus->win_phys = info->win_phys;
	vbus->dma_phys = info->dma_phys;
	vbus->dma_size = info->dma_size;
	vbus->dma_dev_addr = info->dma_dev_addr;
	vbus->nr_db = info->nr_db;
	vbus->msi_db = -1;
	vbus->sysdata.node = dev_to_node(info->parent);
	raw_spin_lock_init(&vbus->bar_lock);
	raw_spin_lock_init(&vbus->steer_lock);
	vbus->db = kmemdup_array(info->db, info->nr_db, sizeof(*info->db),
				 GFP_KERNEL);
	if (!vbus->db) {
		ret = -ENOMEM;
		goto err_free;
	}
	vbus->steer = vbus_can_steer(info);
	if (vbus->steer) {
		vbus->db_irq = kmemdup_array(info->db_irq, info->nr_db,
					     sizeof(*info->db_irq), GFP_KERNEL);
		if (!vbus->db_irq) {
			ret = -ENOMEM;
			goto err_free;
		}
	}

	ret = vbus_place_bars(vbus, info->win_size);
	if (ret)
		goto err_free;

	mutex_lock(&vbus_domain_lock);
	vbus->sysdata.domain = vbus_free_domain();
	ret = vbus_create_root_bus(vbus, info->win_size);
	mutex_unlock(&vbus_domain_lock);
	if (ret)
		goto err_free;

	ret = vbus_create_irq_domain(vbus);
	if (ret)
		goto err_bus;
	dev_set_msi_domain(&vbus->bus->dev,
			   rcu_dereference_protected(vbus->domain, true));

	ret = vbus_scan(vbus);
	if (ret)
		goto err_irq;
	return vbus;

err_irq:
	vbus_remove_irq_domain(vbus);
err_bus:
	vbus_remove_root_bus(vbus);
err_free:
	kfree(vbus->route);
	kfree(vbus->db_irq);
	kfree(vbus->db);
	kfree(vbus);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_NS_GPL(ntbl_vbus_create, NTB_LENDING);

void ntbl_vbus_add(struct ntbl_vbus *vbus)
{
	pci_bus_add_devices(vbus->bus);
}
EXPORT_SYMBOL_NS_GPL(ntbl_vbus_add, NTB_LENDING);

struct pci_dev *ntbl_vbus_pci_dev(struct ntbl_vbus *vbus)
{
	return vbus->removed ? NULL : vbus->pdev;
}
EXPORT_SYMBOL_NS_GPL(ntbl_vbus_pci_dev, NTB_LENDING);

void ntbl_vbus_link_lost(struct ntbl_vbus *vbus)
{
	WRITE_ONCE(vbus->dead, true);
}
EXPORT_SYMBOL_NS_GPL(ntbl_vbus_link_lost, NTB_LENDING);

void ntbl_vbus_remove(struct ntbl_vbus *vbus)
{
	if (vbus->removed)
		return;
	pci_stop_and_remove_bus_device(vbus->pdev);
	pci_dev_put(vbus->pdev);
	vbus->pdev = NULL;

	vbus_remove_root_bus(vbus);
	vbus_remove_irq_domain(vbus);
	vbus->removed = true;
}
EXPORT_SYMBOL_NS_GPL(ntbl_vbus_remove, NTB_LENDING);

/*
 * A user's remove of the borrowed function (sysfs remove) and a rescan
 * bring it back as a new pci_dev, which the PCI core would give the
 * default DMA ops (the IOMMU knows nothing of this domain) and BARs it
 * places itself. Before the rescan assigns resources or a driver probes
 * (BUS_NOTIFY_ADD_DEVICE, under the rescan lock, as ntbl_vbus_remove()
 * runs), it gets what vbus_scan() gave the first: our DMA ops, its BARs
 * claimed where the window has them, and it is the one the bus removes.
 */
static int vbus_notify(struct notifier_block *nb, unsigned long action,
		       void *data)
{
	struct pci_dev *pdev = to_pci_dev(data);
	struct ntbl_vbus *vbus;
	struct resource *r;
	int i;

	if (action != BUS_NOTIFY_ADD_DEVICE || pdev->bus->ops != &vbus_pci_ops ||
	    pdev->devfn)
		return NOTIFY_DONE;
	vbus = bus_vbus(pdev->bus);
	/* vbus_scan() sets up the function it finds first. */
	if (!vbus->pdev || vbus->pdev == pdev)
		return NOTIFY_DONE;
	set_dma_ops(&pdev->dev, &vbus_dma_ops);
	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		r = &pdev->resource[i];
		if (!vbus->bar[i].size || r->parent || !pci_claim_resource(pdev, i))
			continue;
		/* Not placed elsewhere in the window: the driver fails. */
		pci_err(pdev, "BAR %d %pR could not be claimed in the window again after a rescan; it is disabled\n",
			i, r);
		r->flags = 0;
	}
	pci_dev_put(vbus->pdev);
	vbus->pdev = pci_dev_get(pdev);
	pci_info(pdev, "borrowed function back after a rescan, with its DMA through the fabric\n");
	return NOTIFY_OK;
}

/* Registered for the module's life, as dp_lent.c's. */
static struct notifier_block vbus_nb = {
	.notifier_call = vbus_notify,
};

int __init ntbl_vbus_init(void)
{
	return bus_register_notifier(&pci_bus_type, &vbus_nb);
}

void ntbl_vbus_exit(void)
{
	bus_unregister_notifier(&pci_bus_type, &vbus_nb);
}

void ntbl_vbus_free(struct ntbl_vbus *vbus)
{
	ntbl_vbus_remove(vbus);
	kfree(vbus->route);
	kfree(vbus->db_irq);
	kfree(vbus->db);
	kfree(vbus);
}
EXPORT_SYMBOL_NS_GPL(ntbl_vbus_free, NTB_LENDING);
