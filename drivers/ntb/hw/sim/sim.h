/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ntb_sim: a simulated NTB fabric of several hosts inside one kernel.
 * See Documentation/ntb-lending/ntb_sim.rst for the model.
 */
#ifndef _NTB_SIM_H
#define _NTB_SIM_H

#include <linux/genalloc.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/ntb.h>
#include <linux/pci.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#define NTB_SIM_MAX_PORTS	16
#define NTB_SIM_MW_KINDS	3	/* e.g. direct windows, then LUT windows */
#define NTB_SIM_MAX_SPADS	128	/* as many as Switchtec emulates */
#define NTB_SIM_MAX_MSGS	4
#define NTB_SIM_MAX_DELAYED	1024	/* writes the delay fault holds back */
#define NTB_SIM_MSG_IN_SHIFT	16	/* IDT's inbound message status bits */

/*
 * The edu device's status register gives 32 interrupt causes on one MSI.
 * Doorbell bits use the low ones; two more causes carry the events that
 * hardware signals by interrupt too, so that they arrive the same way.
 */
#define NTB_SIM_DB_BITS_MAX	30
/*
 * On a switch a device rings peers through its own adapter (as IDT's
 * outbound doorbell register does): a write of BIT(bit), cause bit,
 * forwarded to every linked peer. These take the lowest causes, so that
 * the value fits the 16 bits of a plain MSI's data; the host's own
 * doorbell bits sit above them, from cause NTB_SIM_OUTDB_BITS.
 */
#define NTB_SIM_OUTDB_BITS	14
#define NTB_SIM_IRQ_REPLAY	BIT(30)	/* re-evaluate doorbells after unmask */
#define NTB_SIM_IRQ_MSG		BIT(31)	/* a message arrived */
#define NTB_SIM_CAUSES		32	/* every adapter has the edu's causes */

/* QEMU edu registers (BAR0), see QEMU docs/specs/edu.rst. */
#define EDU_REG_ID		0x00
#define EDU_REG_IRQ_STATUS	0x24
#define EDU_REG_IRQ_RAISE	0x60
#define EDU_REG_IRQ_ACK		0x64
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_COUNT	0x90
#define EDU_REG_DMA_CMD		0x98
#define EDU_DMA_START		BIT(0)
#define EDU_DMA_TO_BUS		BIT(1)	/* from the device's buffer to a bus address */
#define EDU_DMA_BUFFER		0x40000	/* the device's buffer, as DMA sees it */
#define EDU_ID_MAGIC		0xed

/*
 * QEMU ivshmem-doorbell registers (BAR0), see QEMU docs/specs/ivshmem-spec.rst.
 * A write of (peer ID << 16 | vector) to the doorbell raises that MSI-X
 * vector of that peer of the server group; QEMU takes 8 bits of vector.
 */
#define IVSHMEM_REG_IVPOSITION	0x08
#define IVSHMEM_REG_DOORBELL	0x0c

/**
 * enum ntb_sim_kind - what stands for a host's adapter
 * @NTB_SIM_EDU: a QEMU edu: one MSI, the 32 causes in a status register
 * @NTB_SIM_IVSHMEM: a QEMU ivshmem-doorbell alone in its server group:
 *	one MSI-X vector per cause, each with an affinity of its own
 */
enum ntb_sim_kind {
	NTB_SIM_EDU,
	NTB_SIM_IVSHMEM,
};

struct ntb_sim_host;

/**
 * struct ntb_sim_vec - an ivshmem adapter's MSI-X vector
 * @host: the host the adapter stands for
 * @cause: the cause the vector carries, its MSI-X index
 */
struct ntb_sim_vec {
	struct ntb_sim_host *host;
	unsigned int cause;
};

/**
 * struct ntb_sim_mw_kind - memory windows of one shape in a profile
 * @count: windows of this shape, at the indices after the previous kind's
 * @size: largest translation a window takes (size_max)
 * @addr_align: translation address alignment; 0 means @size, as Intel
 *	hardware requires of its BAR-sized windows
 * @size_align: translation size granularity; 0 means PAGE_SIZE
 * @xlat_natural: a translation's address must also be aligned to its size
 *	rounded down to a power of two, as Switchtec's direct windows need
 *	(their translation register holds the size as a bit position)
 */
struct ntb_sim_mw_kind {
	int count;
	resource_size_t size;
	resource_size_t addr_align;
	resource_size_t size_align;
	bool xlat_natural;
};

/**
 * struct ntb_sim_profile - what kind of NTB hardware a fabric imitates
 * @name: name given to new_fabric
 * @multiport: IDT/Switchtec-like port numbering, any number of peers;
 *	otherwise Intel/AMD-like, exactly two hosts
 * @outbound_xlat: translations are set by the sender (peer_mw_set_trans,
 *	IDT-like); otherwise by the receiver (mw_set_trans, Intel-like)
 * @max_ports: most hosts a fabric of this profile takes
 * @mws: memory windows per peer, kind after kind in index order; a kind
 *	with no windows ends the list
 * @db_bits: doorbell bits
 * @spad_count: scratchpads, 0 for none
 * @msg_count: message registers, 0 for none
 */
struct ntb_sim_profile {
	const char *name;
	bool multiport;
	bool outbound_xlat;
	int max_ports;
	struct ntb_sim_mw_kind mws[NTB_SIM_MW_KINDS];
	int db_bits;
	int spad_count;
	int msg_count;
};

struct ntb_sim_fabric;

/**
 * struct ntb_sim_alloc - a coherent buffer allocated through a host's
 *	adapter, which a memory window can bind
 * @node: entry in &ntb_sim_host.allocs
 * @vaddr: the kernel mapping handed to the client; rewritten while bound
 * @pages: the buffer's own pages, mapped at @vaddr while not bound
 * @dma: the buffer's DMA (physical) address
 * @size: page-aligned size
 * @bound: the window bound to this buffer, or NULL
 */
struct ntb_sim_alloc {
	struct list_head node;
	void *vaddr;
	void *pages;
	dma_addr_t dma;
	size_t size;
	struct ntb_sim_mw *bound;
};

/**
 * struct ntb_sim_mw - one outbound memory window of a host
 * @aperture: physical base the sender maps (peer_mw_get_addr), in the
 *	fabric arena; 0 when the fabric has no arena
 * @aperture_virt: kernel mapping of the aperture
 * @aperture_size: bytes of arena behind @aperture
 * @target: receiving host of the current translation, or -1
 * @xlat: current translation (receiver's DMA address)
 * @xlat_size: size of the current translation
 * @alloc: receiver's buffer shown through the aperture (memory mode), or
 *	NULL: then the window is address-transparent and the sender's
 *	peer_mw_get_addr() returns @xlat itself
 * @xlat_offset: offset of @xlat in @alloc
 * @claim: the busy region an address-transparent window holds while
 *	&ntb_sim_fault.claim_windows is set, or NULL
 */
struct ntb_sim_mw {
	phys_addr_t aperture;
	void *aperture_virt;
	resource_size_t aperture_size;
	int target;
	dma_addr_t xlat;
	resource_size_t xlat_size;
	struct ntb_sim_alloc *alloc;
	size_t xlat_offset;
	struct resource *claim;
};

/**
 * struct ntb_sim_ring - the last doorbell rung through debugfs "ring"
 * @how: "cpu" or "device"
 * @latency_ns: from the ring to the peer's doorbell interrupt
 */
struct ntb_sim_ring {
	const char *how;
	u64 latency_ns;
};

/**
 * struct ntb_sim_host - one simulated host: its adapter and registers
 * @ntb: the NTB device registered for this host
 * @fabric: the fabric this host is part of
 * @port: port number, the host's NodeId on the fabric
 * @kind: what the adapter is
 * @edu: the PCI function that stands for this host's adapter (an edu
 *	or, by @kind, an ivshmem-doorbell)
 * @regs: the function's BAR0: its doorbell register (and the edu's status)
 * @regs_phys: physical address of @regs
 * @db_reg_phys: physical address of the register a write to raises a
 *	cause: the edu's raise register, the ivshmem's doorbell
 * @vec: an ivshmem adapter's vectors, one per cause
 * @link_work: delivers link events from process context
 * @registered: the NTB core knows @ntb, so events may be delivered
 * @debugfs: the host's debugfs directory
 * @ring: result of the last debugfs ring, serialized by the debugfs file
 * @link_enabled: the host's clients enabled the link
 * @spad: scratchpads, written by peers and by the host itself
 * @db: doorbell bits set
 * @db_mask: doorbell bits masked
 * @msg: inbound message registers
 * @msg_src: port index (in this host's view) of each message's sender
 * @msg_sts: message status laid out as IDT's: outbound failures in bits
 *	0..n-1, inbound messages from bit NTB_SIM_MSG_IN_SHIFT
 * @msg_mask: masked message status bits
 * @db_irq_ns: when the adapter last took a doorbell interrupt (ktime ns)
 * @mw: outbound windows, one per index of the profile's windows
 * @allocs: coherent buffers allocated through the adapter
 * @freed: buffers the client freed, kept mapped a while (see mw.c)
 * @nr_freed: length of @freed
 *
 * @registered, @link_enabled, @spad, @db, @db_mask and the msg registers
 * are protected
 * by &ntb_sim_fabric.lock; the windows in @mw, @allocs, @freed and
 * @nr_freed by &ntb_sim_fabric.mw_lock. The @mw array itself lives from
 * ntb_sim_mw_init() to ntb_sim_mw_exit().
 */
struct ntb_sim_host {
	struct ntb_dev ntb;
	struct ntb_sim_fabric *fabric;
	int port;
	enum ntb_sim_kind kind;
	struct pci_dev *edu;
	void __iomem *regs;
	phys_addr_t regs_phys;
	phys_addr_t db_reg_phys;
	struct ntb_sim_vec vec[NTB_SIM_CAUSES];
	struct work_struct link_work;
	bool registered;
	struct dentry *debugfs;
	struct ntb_sim_ring ring;

	bool link_enabled;
	u32 spad[NTB_SIM_MAX_SPADS];
	u64 db;
	u64 db_mask;
	u32 msg[NTB_SIM_MAX_MSGS];
	int msg_src[NTB_SIM_MAX_MSGS];
	u64 msg_sts;
	u64 msg_mask;
	u64 db_irq_ns;

	struct ntb_sim_mw *mw;
	struct list_head allocs;
	struct list_head freed;
	unsigned int nr_freed;
};

/**
 * struct ntb_sim_fault - fault injection settings of a fabric
 * @link_down: pairs of ports whose link is held down, bit (a * MAX + b)
 * @delay_ms: hold doorbell rings, messages and scratchpad writes this long
 * @drop_db: doorbell rings to drop
 * @corrupt_db: doorbell rings to deliver with bit 0 flipped
 * @drop_msg: messages to drop
 * @drop_spad: scratchpad writes to drop
 * @corrupt_msg: messages to deliver with one bit flipped
 * @corrupt_spad: scratchpad writes to store with one bit flipped
 * @fail_mw: window translations to refuse with -EIO
 * @claim_windows: an address-transparent window claims its range busy
 *	in iomem from its translation on (ntb_hw_intel's pci_request_regions()
 *	of its window BARs), so that no driver behind it can claim it
 *
 * The counters count down as faults are injected. Protected by
 * &ntb_sim_fabric.lock.
 */
struct ntb_sim_fault {
	DECLARE_BITMAP(link_down, NTB_SIM_MAX_PORTS * NTB_SIM_MAX_PORTS);
	u32 delay_ms;
	u32 drop_db;
	u32 corrupt_db;
	u32 drop_msg;
	u32 drop_spad;
	u32 corrupt_msg;
	u32 corrupt_spad;
	u32 fail_mw;
	bool claim_windows;
};

typedef void (*deliver_fn)(struct ntb_sim_host *from, struct ntb_sim_host *to,
			   int idx, u64 val);

/**
 * struct ntb_sim_delayed - a write held back by the delay_ms fault
 * @work: delivers it
 * @fabric: the fabric
 * @from: sending port
 * @to: receiving port
 * @deliver: how it lands
 * @idx: register index
 * @val: value or doorbell bits
 * @busy: holds a write not yet delivered or dropped
 */
struct ntb_sim_delayed {
	struct delayed_work work;
	struct ntb_sim_fabric *fabric;
	int from;
	int to;
	deliver_fn deliver;
	int idx;
	u64 val;
	bool busy;
};

/**
 * struct ntb_sim_fabric - hosts joined by one simulated NTB
 * @node: entry in &ntb_sim.fabrics
 * @id: fabric number given to new_fabric
 * @profile: the hardware this fabric imitates
 * @nports: ports of the fabric, numbered 0..nports-1 (2 unless multiport)
 * @lock: protects @hosts, every host's registers and link state, @fault,
 *	@delayed. Raw: it stands for the adapter's registers, which clients
 *	reach wherever MMIO can be done, under raw spinlocks among them (a
 *	borrower's raw call_lock around its config requests, and the PCI
 *	core's pci_lock around user config reads of a borrowed device)
 * @mw_lock: protects every host's windows and buffers; taken before @lock
 * @hosts: hosts by port number
 * @fault: fault injection settings
 * @delayed: writes held back by the delay fault, a pool of
 *	NTB_SIM_MAX_DELAYED allocated with the fabric: nothing is allocated
 *	under @lock
 * @debugfs: the fabric's debugfs directory
 */
struct ntb_sim_fabric {
	struct list_head node;
	int id;
	const struct ntb_sim_profile *profile;
	int nports;
	raw_spinlock_t lock;		/* registers: see above */
	struct mutex mw_lock;		/* windows: see above */
	struct ntb_sim_host *hosts[NTB_SIM_MAX_PORTS];
	struct ntb_sim_fault fault;
	struct ntb_sim_delayed *delayed;
	struct dentry *debugfs;
};

static inline struct ntb_sim_host *ntb_sim_host(struct ntb_dev *ntb)
{
	return container_of(ntb, struct ntb_sim_host, ntb);
}

/* ops.c */
extern const struct ntb_dev_ops ntb_sim_ops_2port;
extern const struct ntb_dev_ops ntb_sim_ops_multiport;
int ntb_sim_peer_port(struct ntb_sim_host *host, int pidx);
int ntb_sim_peer_idx(struct ntb_sim_host *host, int port);
bool ntb_sim_valid_pidx(struct ntb_sim_host *host, int pidx);
bool ntb_sim_link_up(struct ntb_sim_fabric *fabric, int a, int b);
void ntb_sim_links_changed(struct ntb_sim_fabric *fabric);
int ntb_sim_init_delayed(struct ntb_sim_fabric *fabric);
void ntb_sim_cancel_delayed(struct ntb_sim_fabric *fabric);
irqreturn_t ntb_sim_irq(int irq, void *data);
irqreturn_t ntb_sim_vec_irq(int irq, void *data);
void ntb_sim_raise(struct ntb_sim_host *host, u32 causes);
u32 ntb_sim_cause_data(struct ntb_sim_host *host, unsigned int cause);

/* mw.c */
extern const struct dma_map_ops ntb_sim_dma_ops;
int ntb_sim_mw_count_of(const struct ntb_sim_profile *profile);
const struct ntb_sim_mw_kind *ntb_sim_mw_kind(const struct ntb_sim_profile *profile,
					      int widx);
int ntb_sim_mw_init(struct ntb_sim_host *host);
void ntb_sim_mw_exit(struct ntb_sim_host *host);
int ntb_sim_mw_count(struct ntb_dev *ntb, int pidx);
int ntb_sim_mw_get_align(struct ntb_dev *ntb, int pidx, int widx,
			 resource_size_t *addr_align,
			 resource_size_t *size_align,
			 resource_size_t *size_max);
int ntb_sim_mw_set_trans(struct ntb_dev *ntb, int pidx, int widx,
			 dma_addr_t addr, resource_size_t size);
int ntb_sim_mw_clear_trans(struct ntb_dev *ntb, int pidx, int widx);
int ntb_sim_peer_mw_count(struct ntb_dev *ntb);
int ntb_sim_peer_mw_get_addr(struct ntb_dev *ntb, int widx,
			     phys_addr_t *base, resource_size_t *size);
int ntb_sim_peer_mw_set_trans(struct ntb_dev *ntb, int pidx, int widx,
			      u64 addr, resource_size_t size);
int ntb_sim_peer_mw_clear_trans(struct ntb_dev *ntb, int pidx, int widx);

/* main.c */
extern unsigned long ntb_sim_mw_backing;
void *ntb_sim_arena_alloc(size_t size, phys_addr_t *phys);
void ntb_sim_arena_free(void *virt, size_t size);

/* debugfs.c */
void ntb_sim_debugfs_init(void);
void ntb_sim_debugfs_exit(void);
void ntb_sim_debugfs_add_fabric(struct ntb_sim_fabric *fabric);
void ntb_sim_debugfs_add_host(struct ntb_sim_host *host);

#endif /* _NTB_SIM_H */
