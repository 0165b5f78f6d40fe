/* SPDX-License-Identifier: GPL-2.0 */
/*
 * NTB device lending: the data plane.
 *
 * The lender side (lent.c) owns a lent PCI function, serves its
 * virtualized config space and builds the IOMMU domain through which the
 * function reaches the borrower. The borrower side (vbus.c) is a virtual
 * PCI host bridge that holds the borrowed function, places its BARs in an
 * NTB window, gives it DMA operations that reach the borrower's memory
 * through the fabric and an MSI domain whose messages ring the borrower's
 * doorbells. The two sides never call each other: the control plane
 * carries every value below across the fabric. See
 * Documentation/ntb-lending/dataplane.rst.
 */
#ifndef _NTB_LENDING_DATAPLANE_H
#define _NTB_LENDING_DATAPLANE_H

#include <linux/pci_regs.h>
#include <linux/types.h>

struct device;
struct pci_dev;
struct ntb_lent;
struct ntb_vbus;

#define NTB_DP_BAR_64		BIT(0)	/* 64-bit BAR: its index and the next */
#define NTB_DP_BAR_PREFETCH	BIT(1)	/* prefetchable */
#define NTB_DP_BAR_FLAGS	(NTB_DP_BAR_64 | NTB_DP_BAR_PREFETCH)

/**
 * struct ntb_dp_bar - one memory BAR of a lent function
 * @offset: where the BAR starts in the lent span (&ntb_dp_bars.span_phys)
 * @size: bytes, a power of two of at least 16; 0 when the index holds no
 *	lent BAR (unimplemented, an I/O BAR, the upper half of a 64-bit BAR)
 * @flags: NTB_DP_BAR_*
 */
struct ntb_dp_bar {
	u64 offset;
	u64 size;
	u32 flags;
};

/**
 * struct ntb_dp_bars - the memory BARs of a lent function and the span
 *	that one window translation needs to reach them all
 * @span_phys: lender physical address of the span, aligned as asked
 * @span_size: bytes in the span, a multiple of the alignment asked for
 * @bar: the BARs by index, offsets relative to @span_phys
 */
struct ntb_dp_bars {
	u64 span_phys;
	u64 span_size;
	struct ntb_dp_bar bar[PCI_STD_NUM_BARS];
};

/**
 * struct ntb_dp_doorbell - the write that rings one doorbell bit
 * @addr: address the lent device writes to, as the device sees it (an
 *	address of its IOMMU domain on the lender, see ntb_lent_map_doorbell())
 * @data: the 32-bit value it writes
 */
struct ntb_dp_doorbell {
	u64 addr;
	u32 data;
};

/* Lender: lent.c */

struct ntb_lent *ntb_lent_claim(struct pci_dev *pdev);
void ntb_lent_release(struct ntb_lent *lent);
void ntb_lent_quiesce(struct ntb_lent *lent);
int ntb_lent_bars(struct ntb_lent *lent, u64 align, struct ntb_dp_bars *bars);
int ntb_lent_cfg_read(struct ntb_lent *lent, unsigned int where,
		      unsigned int size, u32 *val);
int ntb_lent_cfg_write(struct ntb_lent *lent, unsigned int where,
		       unsigned int size, u32 val);
int ntb_lent_map_memory(struct ntb_lent *lent, phys_addr_t phys, u64 size,
			u64 *dev_addr);
void ntb_lent_unmap_memory(struct ntb_lent *lent);
int ntb_lent_map_doorbell(struct ntb_lent *lent, phys_addr_t phys, u64 size,
			  u64 *dev_addr);
void ntb_lent_unmap_doorbells(struct ntb_lent *lent);

/* Borrower: vbus.c */

/**
 * struct ntb_vbus_ops - how a virtual bus reaches the lent function
 * @cfg_read: read @size (1, 2 or 4) bytes of config space at @where, which
 *	is aligned to @size, into @val; return 0 or a negative errno
 * @cfg_write: write @size bytes of @val at @where; return 0 or an errno
 *
 * The lender answers with ntb_lent_cfg_read() and ntb_lent_cfg_write().
 * Both are called in any context the PCI core's config accessors are
 * called in: on x86 (CONFIG_PCI_LOCKLESS_CONFIG) that is wherever a driver
 * calls pci_read_config_*(), including interrupt handlers and code under
 * spinlocks. They must not sleep and must return in bounded time, with an
 * error if the lender cannot be reached. Never called for the BAR and
 * expansion ROM registers, which the virtual bus emulates.
 */
struct ntb_vbus_ops {
	int (*cfg_read)(void *priv, unsigned int where, unsigned int size,
			u32 *val);
	int (*cfg_write)(void *priv, unsigned int where, unsigned int size,
			 u32 val);
};

/**
 * struct ntb_vbus_info - what the borrower knows of a borrowed function
 * @parent: device the virtual host bridge hangs under (the NTB adapter)
 * @ops: config space access to the lender
 * @priv: passed to @ops
 * @win_phys: borrower physical address of the outbound window that the
 *	lender translated to its span (ntb_peer_mw_get_addr() after the
 *	lender set the translation)
 * @win_size: bytes of that window that reach the span
 * @bar: the lender's BAR description (&ntb_dp_bars.bar)
 * @dma_phys: borrower physical address where the inbound window
 *	translation (ntb_mw_set_trans()) starts: device DMA can reach
 *	[@dma_phys, @dma_phys + @dma_size) and nothing else
 * @dma_size: bytes of that translation
 * @dma_dev_addr: address at which the device sees @dma_phys, as
 *	ntb_lent_map_memory() returned it on the lender
 * @db: for each doorbell bit the virtual bus may use, the write that rings
 *	it (ntb_lent_map_doorbell() of ntb_peer_db_addr() on the lender);
 *	bit i of ntb_vbus_doorbell() is @db[i]
 * @nr_db: entries in @db, 1..64
 */
struct ntb_vbus_info {
	struct device *parent;
	const struct ntb_vbus_ops *ops;
	void *priv;
	phys_addr_t win_phys;
	u64 win_size;
	struct ntb_dp_bar bar[PCI_STD_NUM_BARS];
	phys_addr_t dma_phys;
	u64 dma_size;
	u64 dma_dev_addr;
	const struct ntb_dp_doorbell *db;
	unsigned int nr_db;
};

struct ntb_vbus *ntb_vbus_create(const struct ntb_vbus_info *info);
void ntb_vbus_add(struct ntb_vbus *vbus);
void ntb_vbus_link_lost(struct ntb_vbus *vbus);
void ntb_vbus_remove(struct ntb_vbus *vbus);
void ntb_vbus_free(struct ntb_vbus *vbus);
void ntb_vbus_doorbell(struct ntb_vbus *vbus, u64 bits);
struct pci_dev *ntb_vbus_pci_dev(struct ntb_vbus *vbus);

#endif /* _NTB_LENDING_DATAPLANE_H */
