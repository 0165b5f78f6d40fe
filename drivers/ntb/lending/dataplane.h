/* SPDX-License-Identifier: GPL-2.0 */
/*
 * NTB device lending: the data plane.
 *
 * The lender side owns a lent PCI function (dp_lent.c), serves its
 * virtualized config space (dp_lent_config.c) and builds the IOMMU domain
 * through which the function reaches the borrower (dp_lent_iommu.c). The
 * borrower side (dp_vbus.c) is a virtual PCI host bridge that holds the
 * borrowed function, places its BARs in an NTB window, gives it DMA
 * operations that reach the borrower's memory through the fabric and an
 * MSI domain whose messages ring the borrower's doorbells. The two sides
 * never call each other: the control plane carries every value below
 * across the fabric. See
 * Documentation/ntb-lending/dataplane.rst.
 *
 * A borrow, in order (L: lender, B: borrower):
 *
 *   L  lent = ntbl_lent_claim(pdev); ntbl_lent_bars(lent, addr_align, &bars)
 *   L  ntb_mw_set_trans() of an inbound window to bars.span_phys/span_size
 *   B  ntb_mw_set_trans() of an inbound window onto its memory
 *   L  ntbl_lent_map_memory() of the outbound window into B's memory
 *   L  ntbl_lent_map_doorbell() of ntb_peer_db_addr() for each bit B gives
 *   B  ntb_peer_mw_get_addr() of the window onto the BARs, then
 *      ntbl_vbus_create(), publish the bus to the doorbell handler,
 *      ntbl_vbus_add()
 *
 * and a return: B ntbl_vbus_remove(), unpublish, ntbl_vbus_free(), clear
 * its translation; L clear its translation, then ntbl_lent_reset() to offer
 * the function again or ntbl_lent_release() to give it back. On link loss L
 * calls ntbl_lent_quiesce() and B ntbl_vbus_link_lost() first.
 */
#ifndef _NTB_LENDING_DATAPLANE_H
#define _NTB_LENDING_DATAPLANE_H

#include <linux/pci_regs.h>
#include <linux/types.h>

struct device;
struct pci_dev;
struct ntbl_lent;
struct ntbl_vbus;

#define NTBL_DP_BAR_64		BIT(0)	/* 64-bit BAR: its index and the next */
#define NTBL_DP_BAR_PREFETCH	BIT(1)	/* prefetchable */
#define NTBL_DP_BAR_FLAGS	(NTBL_DP_BAR_64 | NTBL_DP_BAR_PREFETCH)

/**
 * struct ntbl_dp_bar - one memory BAR of a lent function
 * @offset: where the BAR starts in the lent span (&ntbl_dp_bars.span_phys)
 * @size: bytes, a power of two of at least 16; 0 when the index holds no
 *	lent BAR (unimplemented, an I/O BAR, the upper half of a 64-bit BAR)
 * @flags: NTBL_DP_BAR_*
 */
struct ntbl_dp_bar {
	u64 offset;
	u64 size;
	u32 flags;
};

/**
 * struct ntbl_dp_bars - the memory BARs of a lent function and the span
 *	that one window translation needs to reach them all
 * @span_phys: lender physical address of the span, aligned as asked
 * @span_size: bytes in the span, a multiple of the alignment asked for
 * @bar: the BARs by index, offsets relative to @span_phys
 */
struct ntbl_dp_bars {
	u64 span_phys;
	u64 span_size;
	struct ntbl_dp_bar bar[PCI_STD_NUM_BARS];
};

/**
 * struct ntbl_dp_doorbell - the write that rings one doorbell bit
 * @addr: address the lent device writes to, as the device sees it (an
 *	address of its IOMMU domain on the lender, see ntbl_lent_map_doorbell())
 * @data: the 32-bit value it writes
 */
struct ntbl_dp_doorbell {
	u64 addr;
	u32 data;
};

/* Lender: dp_lent.c */

/**
 * ntbl_lent_init() - watch for the PF drivers of lent VFs to unbind
 *
 * Context: module init, before any ntbl_lent_claim().
 *
 * Return: 0 or a negative errno.
 */
int ntbl_lent_init(void);

/**
 * ntbl_lent_exit() - undo ntbl_lent_init()
 *
 * Context: module exit, every lent function released.
 */
void ntbl_lent_exit(void);

/**
 * ntbl_lent_claim() - take a local PCI function for lending
 * @pdev: the function: an endpoint with at least one memory BAR
 * @removed: called if the function leaves the PCI tree while lent, or,
 *	for a VF, if its PF's driver unbinds, after its IOMMU domain is gone
 *	and it is stopped (ntbl_lent_removed() is true from then on); the
 *	caller still calls ntbl_lent_release(). It runs with the function's
 *	device lock (and its PF's) and maybe the PCI rescan lock held: it
 *	must not take a lock held around ntbl_lent_* calls, nor wait for
 *	anything that needs those. NULL for none.
 * @data: @removed's argument
 *
 * Unbinds the function's driver (remembered for ntbl_lent_release()), binds
 * the function to ntb_lending's PCI driver through driver_override so that
 * nothing else binds it, resets it where it can be reset, and attaches it
 * to an IOMMU domain of its own that maps nothing yet. INTx and bus
 * mastering are off until the borrower turns mastering on.
 *
 * Context: process; sleeps. Takes the device lock of @pdev: do not hold it.
 *
 * Return: the lent function, or an ERR_PTR: -EINVAL for a bridge or a
 * function without memory BARs, -EBUSY if it is lent already or its
 * driver is unloading, -EPERM if its IOMMU group has other users, or if
 * without the opt-in that allows it: no IOMMU confines it, its interrupts
 * are not isolated, or a page-aligned window onto its BARs reaches more
 * than the function (ntbl_lent_check_span()); -ENODEV if it left the PCI
 * tree meanwhile, -ENOMEM.
 */
struct ntbl_lent *ntbl_lent_claim(struct pci_dev *pdev,
				  void (*removed)(void *data), void *data);

/**
 * ntbl_lent_release() - give a lent function back to its own driver
 * @lent: the lent function, which is freed
 *
 * Stops and resets the function, removes its IOMMU domain with every
 * mapping, restores the config state it had at the claim and rebinds the
 * driver it had then, in working order. The borrower must be done with the
 * function (or gone): its accesses fail from here on.
 *
 * Context: process; sleeps. Takes the device lock of the function.
 */
void ntbl_lent_release(struct ntbl_lent *lent);

/**
 * ntbl_lent_confined() - whether the lender's IOMMU confines a lent function
 * @lent: the lent function
 *
 * Context: any.
 *
 * Return: true if the function is in an IOMMU domain of its own, which
 * maps only what ntbl_lent_map_memory() and ntbl_lent_map_doorbell() map;
 * false if this host has no IOMMU for it and its DMA reaches every
 * physical address.
 */
bool ntbl_lent_confined(const struct ntbl_lent *lent);

/**
 * ntbl_lent_removed() - whether a lent function left the PCI tree
 * @lent: the lent function
 *
 * A removed function maps nothing and serves no config access; only
 * ntbl_lent_release() is left to do. A VF whose PF's driver unbound is
 * removed too, though it stays in the tree.
 *
 * Context: any.
 *
 * Return: true once the function was removed while lent.
 */
bool ntbl_lent_removed(const struct ntbl_lent *lent);

/**
 * ntbl_lent_reset() - make a lent function ready for its next borrower
 * @lent: the lent function, quiesced or not
 *
 * Stops and resets the function, removes every mapping from its IOMMU
 * domain, restores the config state of the claim and rebuilds the
 * borrower's view of it, and accepts config writes again after
 * ntbl_lent_quiesce(). The function stays lent: its own driver does not see
 * it between two borrowers.
 *
 * Context: process; sleeps. Takes the device lock of the function.
 *
 * Return: 0, or -ENODEV if the function was removed.
 */
int ntbl_lent_reset(struct ntbl_lent *lent);

/**
 * ntbl_lent_quiesce() - stop the function at once, e.g. on link loss
 * @lent: the lent function
 *
 * Clears bus mastering and MSI/MSI-X on the function and refuses further
 * config accesses, so that a borrower that is gone can no longer reach
 * it. ntbl_lent_reset() or ntbl_lent_release() follows.
 *
 * Context: any; takes a raw spinlock with interrupts saved.
 */
void ntbl_lent_quiesce(struct ntbl_lent *lent);

/**
 * ntbl_lent_bars() - describe the memory BARs for the borrower
 * @lent: the lent function
 * @align: alignment the window translation needs (ntb_mw_get_align()'s
 *	addr_align); the span is aligned to it and to PAGE_SIZE
 * @bars: OUT - the span and each BAR's offset, size and flags
 *
 * I/O BARs are not lent: their index reads as size 0. The span covers
 * everything between the lowest and the highest memory BAR, so it can
 * reach other functions' registers that lie between them or share its
 * alignment: ntbl_lent_check_span() says whether it does.
 *
 * Context: any.
 *
 * Return: 0, -EINVAL for an @align that is not a power of two, -ENODEV if
 * the function has no memory BAR with an address.
 */
int ntbl_lent_bars(struct ntbl_lent *lent, u64 align,
		   struct ntbl_dp_bars *bars);

/* ntbl_lent_check_span() flags */
#define NTBL_SPAN_PEER		BIT(0)	/* a peer asked: its lines are ratelimited */
#define NTBL_SPAN_QUIET		BIT(1)	/* no warning: one was given for this borrow */

/**
 * ntbl_lent_check_span() - whether a window may translate onto a span
 * @lent: the lent function
 * @bars: the span of its BARs a window translates, from ntbl_lent_bars()
 *	and whatever alignment the window adds
 * @flags: NTBL_SPAN_PEER, NTBL_SPAN_QUIET
 *
 * A window onto the span lets the borrower reach everything in it: other
 * functions' registers there, the host's memory, or anything beyond the
 * memory windows of the host bridge above the function (its interrupt
 * controllers) are refused with the line that names them, unless
 * ntb_lending's allow_unsafe_neighbours is set, which warns instead. What
 * holds one of the function's BARs (a bridge's window above it, its PF's
 * VF BARs, VMD's BAR over its domain) is no neighbour, nor a bridge's
 * window but a hotplug bridge's, where functions yet to come would go.
 * The check holds when it is made: a function added later inside the span
 * is not looked for.
 *
 * Context: process.
 *
 * Return: 0, 1 if it reaches more than the function and the opt-in lets
 * it, -EPERM if it reaches more and the opt-in is not set.
 */
int ntbl_lent_check_span(struct ntbl_lent *lent,
			 const struct ntbl_dp_bars *bars, unsigned int flags);

/* Lender: dp_lent_config.c */

/**
 * ntbl_lent_cfg_read() - serve a borrower's config read
 * @lent: the lent function
 * @where: offset, aligned to @size
 * @size: 1, 2 or 4
 * @val: OUT - the value the borrower sees
 *
 * BARs and the expansion ROM read as 0 (the borrower emulates them), the
 * rest as Documentation/ntb-lending/dataplane.rst describes. Offsets past
 * the function's config space read as all ones, as on the bus.
 *
 * Context: any; takes a raw spinlock with interrupts saved.
 *
 * Return: 0, -EINVAL for a malformed access, -ENODEV if the function is
 * gone, -ENOLINK after ntbl_lent_quiesce() (until ntbl_lent_reset()), or the
 * config access error.
 */
int ntbl_lent_cfg_read(struct ntbl_lent *lent, unsigned int where,
		       unsigned int size, u32 *val);

/**
 * ntbl_cap_end() - where a capability of a config space ends
 * @pos: the offsets of the capabilities of one list
 * @n: how many there are
 * @at: the capability's offset
 * @limit: the end of the list's space
 *
 * The lender's view of a lent function and the borrower's copy of it
 * (rpc.c) both bound a capability so.
 *
 * Return: where the next capability above @at starts, or @limit.
 */
unsigned int ntbl_cap_end(const u16 *pos, unsigned int n, unsigned int at,
			  unsigned int limit);

/**
 * ntbl_lent_cfg_write() - serve a borrower's config write, validated
 * @lent: the lent function
 * @where: offset, aligned to @size
 * @size: 1, 2 or 4
 * @val: the value the borrower wrote
 *
 * Virtual bits change the borrower's view only, writable bits reach the
 * function, everything else is dropped (Documentation/ntb-lending/
 * dataplane.rst). MSI reaches the function only with an address that is
 * one of its doorbells (ntbl_lent_map_doorbell()).
 *
 * Context: any; takes a raw spinlock with interrupts saved.
 *
 * Return: 0, -EINVAL for a malformed access, -ENODEV if the function is
 * gone, -ENOLINK after ntbl_lent_quiesce() (until ntbl_lent_reset()), or the
 * config access error.
 */
int ntbl_lent_cfg_write(struct ntbl_lent *lent, unsigned int where,
			unsigned int size, u32 val);

/* Lender: dp_lent_iommu.c */

/**
 * ntbl_lent_map_memory() - let the function reach the borrower's memory
 * @lent: the lent function
 * @phys: lender physical address of the outbound window into the
 *	borrower's memory (ntb_peer_mw_get_addr() once the borrower has set
 *	its inbound translation), page aligned
 * @size: bytes of the window, page aligned
 * @dev_addr: OUT - where the function sees @phys: 0 with an IOMMU, which
 *	maps [0, @size) onto the window and nothing else of the lender's
 *	memory; @phys itself without one
 *
 * One range per function; ntbl_lent_unmap_memory() before mapping another.
 *
 * Context: process; sleeps.
 *
 * Return: 0, -EINVAL for a misaligned range or one meeting a reserved
 * IOMMU region, -EBUSY if a range is mapped, -ENOSPC if it does not fit
 * the domain, or the IOMMU's error.
 */
int ntbl_lent_map_memory(struct ntbl_lent *lent, phys_addr_t phys, u64 size,
			 u64 *dev_addr);

/**
 * ntbl_lent_unmap_memory() - undo ntbl_lent_map_memory()
 * @lent: the lent function
 *
 * The function's DMA into the window faults in the IOMMU from now on.
 *
 * Context: process; sleeps.
 */
void ntbl_lent_unmap_memory(struct ntbl_lent *lent);

/**
 * ntbl_lent_map_doorbell() - let the function ring a borrower's doorbell
 * @lent: the lent function
 * @phys: lender physical address of the doorbell register
 *	(ntb_peer_db_addr())
 * @size: bytes of the register; it must not cross a page
 * @data: the value that rings the doorbell (ntb_peer_db_addr())
 * @dev_addr: OUT - the address the function writes to ring it: an address
 *	at the top of its IOMMU domain, or @phys without an IOMMU
 *
 * Mapping a register twice (doorbell bits that share one, as most NTB
 * hardware has) gives the same address. The borrower programs the
 * function's MSI and MSI-X messages with it, and only MSI messages that
 * write a mapped doorbell's value inside its register reach the function
 * (ntbl_lent_cfg_write()). The IOMMU maps the register's whole page,
 * though: any write of the function, DMA or an MSI-X message (which the
 * borrower writes into the function's table through its BAR), can reach
 * whatever else that page holds. So a page is mapped only when it holds
 * nothing but registers of an adapter known to keep nothing else there,
 * unless ntb_lending's allow_unsafe_doorbells is set, which warns instead.
 *
 * Context: process; sleeps.
 *
 * Return: 0, -EINVAL for a register that crosses a page, -ENOSPC when 64
 * doorbells are mapped or the domain is full, -EPERM for a page that holds
 * other registers, or the IOMMU's error.
 */
int ntbl_lent_map_doorbell(struct ntbl_lent *lent, phys_addr_t phys, u64 size,
			   u32 data, u64 *dev_addr);

/**
 * ntbl_lent_unmap_doorbells() - undo every ntbl_lent_map_doorbell()
 * @lent: the lent function
 *
 * Context: process; sleeps.
 */
void ntbl_lent_unmap_doorbells(struct ntbl_lent *lent);

/* Borrower: dp_vbus.c */

/**
 * struct ntbl_vbus_ops - how a virtual bus reaches the lent function
 * @cfg_read: read @size (1, 2 or 4) bytes of config space at @where, which
 *	is aligned to @size, into @val; return 0 or a negative errno
 * @cfg_write: write @size bytes of @val at @where; return 0 or an errno
 *
 * The lender answers with ntbl_lent_cfg_read() and ntbl_lent_cfg_write().
 * Both are called in any context the PCI core's config accessors are
 * called in: on x86 (CONFIG_PCI_LOCKLESS_CONFIG) that is wherever a driver
 * calls pci_read_config_*(), including interrupt handlers, code under
 * spinlocks and, for user accesses (sysfs config, lspci), under the PCI
 * core's raw pci_lock. They must not sleep, must take only raw spinlocks
 * and must return in bounded time, with an error if the lender cannot be
 * reached. Never called for the BAR and expansion ROM registers, which the
 * virtual bus emulates.
 */
struct ntbl_vbus_ops {
	int (*cfg_read)(void *priv, unsigned int where, unsigned int size,
			u32 *val);
	int (*cfg_write)(void *priv, unsigned int where, unsigned int size,
			 u32 val);
};

/**
 * struct ntbl_vbus_info - what the borrower knows of a borrowed function
 * @parent: device the virtual host bridge hangs under (the NTB adapter)
 * @ops: config space access to the lender
 * @priv: passed to @ops
 * @win_phys: borrower physical address of the outbound window that the
 *	lender translated to its span (ntb_peer_mw_get_addr() after the
 *	lender set the translation)
 * @win_size: bytes of that window that reach the span
 * @bar: the lender's BAR description (&ntbl_dp_bars.bar)
 * @dma_phys: borrower physical address where the inbound window
 *	translation (ntb_mw_set_trans()) starts: device DMA can reach
 *	[@dma_phys, @dma_phys + @dma_size) and nothing else
 * @dma_size: bytes of that translation
 * @dma_dev_addr: address at which the device sees @dma_phys, as
 *	ntbl_lent_map_memory() returned it on the lender
 * @db: for each doorbell bit the virtual bus may use, the write that rings
 *	it (ntbl_lent_map_doorbell() of ntb_peer_db_addr() on the lender);
 *	bit i of ntbl_vbus_doorbell() is @db[i]
 * @db_irq: for each entry of @db, the interrupt of this host that its
 *	ring raises (the NTB adapter's vector for the bit), 0 if unknown;
 *	NULL if none is known. When every one is known and they are not all
 *	one, a vector's affinity picks the doorbell it rings: one whose
 *	interrupt goes to a CPU the vector asks for.
 * @nr_db: entries in @db, 1..64
 */
struct ntbl_vbus_info {
	struct device *parent;
	const struct ntbl_vbus_ops *ops;
	void *priv;
	phys_addr_t win_phys;
	u64 win_size;
	struct ntbl_dp_bar bar[PCI_STD_NUM_BARS];
	phys_addr_t dma_phys;
	u64 dma_size;
	u64 dma_dev_addr;
	const struct ntbl_dp_doorbell *db;
	const unsigned int *db_irq;
	unsigned int nr_db;
};

/**
 * ntbl_vbus_init() - watch for a borrowed function that a rescan brings back
 *
 * After a user's remove of the function and a rescan, it gets the same DMA
 * ops and BARs as when it was borrowed.
 *
 * Context: module init, before any ntbl_vbus_create().
 *
 * Return: 0 or a negative errno.
 */
int ntbl_vbus_init(void);

/**
 * ntbl_vbus_exit() - undo ntbl_vbus_init()
 *
 * Context: module exit, every virtual bus freed.
 */
void ntbl_vbus_exit(void);

/**
 * ntbl_vbus_create() - build a virtual host bridge for a borrowed function
 * @info: what the borrower knows of the function; copied
 *
 * Validates what the lender sent, places the BARs in the window, creates
 * the MSI domain and a root bus in a free PCI domain from 0x10000, and
 * scans the function. No driver sees it until ntbl_vbus_add().
 *
 * Context: process; sleeps. The caller holds the PCI rescan/remove lock
 * (pci_lock_rescan_remove()), as for every call below that adds or
 * removes the function.
 *
 * Return: the virtual bus, or an ERR_PTR: -EINVAL for malformed info or
 * BARs that cannot be placed, -ENOSPC for a window too small, -ENODEV if
 * the function does not answer, -EIO if its BARs cannot be claimed in
 * the window, -ENOMEM.
 */
struct ntbl_vbus *ntbl_vbus_create(const struct ntbl_vbus_info *info);

/**
 * ntbl_vbus_add() - hot-add the borrowed function: its driver probes it
 * @vbus: the virtual bus from ntbl_vbus_create()
 *
 * The driver may probe asynchronously, as after any hot-add.
 *
 * Context: process; sleeps; the rescan/remove lock held. The caller
 * delivers its doorbells to ntbl_vbus_doorbell() from before this call (the
 * driver's probe needs its interrupts) until ntbl_vbus_remove() returns.
 */
void ntbl_vbus_add(struct ntbl_vbus *vbus);

/**
 * ntbl_vbus_link_lost() - the lender can no longer be reached
 * @vbus: the virtual bus
 *
 * From now on config reads fail with all ones and config writes are
 * dropped, so the driver sees a device that is gone: a removal that begins
 * after this fails outstanding I/O instead of waiting for it. One already
 * under way waits for the driver's own timeouts, as on a local device
 * surprise-removed then. DMA mappings still succeed:
 * a driver refused one retries rather than fails. Call ntbl_vbus_remove()
 * next.
 *
 * Context: any.
 */
void ntbl_vbus_link_lost(struct ntbl_vbus *vbus);

/**
 * ntbl_vbus_remove() - hot-remove the borrowed function and its bus
 * @vbus: the virtual bus
 *
 * Unbinds the driver and removes the function (an orderly return: the
 * driver may still talk to the device, so doorbells must keep reaching
 * ntbl_vbus_doorbell() until this returns), then the root bus and the MSI
 * domain. After ntbl_vbus_link_lost() the driver sees the device gone. A
 * second call does nothing.
 *
 * Context: process; sleeps; the rescan/remove lock held, except by the NTB
 * adapter's own removal: the PCI core runs that under the lock when the
 * adapter is hot-removed (sysfs remove, pciehp, DPC), and not when its
 * driver is unbound, and it cannot tell which, as vmd_remove() cannot.
 */
void ntbl_vbus_remove(struct ntbl_vbus *vbus);

/**
 * ntbl_vbus_free() - free a virtual bus
 * @vbus: the virtual bus, removed or not
 *
 * Removes it first if ntbl_vbus_remove() has not run.
 *
 * Context: process; sleeps; as ntbl_vbus_remove() if that has not run. The
 * caller must have stopped calling
 * ntbl_vbus_doorbell() for @vbus, and waited for calls in progress.
 */
void ntbl_vbus_free(struct ntbl_vbus *vbus);

/**
 * ntbl_vbus_doorbell() - run the vectors of the doorbell bits that fired
 * @vbus: the virtual bus
 * @bits: bit i set for each entry i of &ntbl_vbus_info.db that rang
 *
 * Runs every allocated vector on each bit: vector v rings bit
 * v % &ntbl_vbus_info.nr_db, or, where its affinity picks its doorbell
 * (&ntbl_vbus_info.db_irq), the bit it picked, and for a while after a
 * move the bit it rang before too. The caller reads and clears its
 * doorbell register first, so that a ring during the handlers is not
 * lost.
 *
 * Context: any, typically the NTB adapter's doorbell interrupt. Safe
 * against a concurrent ntbl_vbus_remove(), after which it does nothing; not
 * to be called after ntbl_vbus_free().
 */
void ntbl_vbus_doorbell(struct ntbl_vbus *vbus, u64 bits);

/**
 * ntbl_vbus_pci_dev() - the borrowed function in this host's PCI tree
 * @vbus: the virtual bus
 *
 * Context: any.
 *
 * Return: the function, or NULL once ntbl_vbus_remove() has run.
 */
struct pci_dev *ntbl_vbus_pci_dev(struct ntbl_vbus *vbus);

#endif /* _NTB_LENDING_DATAPLANE_H */
