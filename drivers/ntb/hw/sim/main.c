// SPDX-License-Identifier: GPL-2.0
/*
 * ntb_sim: a simulated NTB fabric of several hosts inside one kernel, the
 * test hardware of NTB device lending (Documentation/ntb-lending/ntb_sim.rst).
 *
 * The driver binds QEMU PCI functions: each edu device (1234:11e8) or
 * ivshmem-doorbell (1af4:1110 with MSI-X) is the adapter of one simulated
 * host, and each ivshmem-plain (1af4:1110 without) adds its memory to the
 * arena that backs the memory windows. Fabrics and
 * hosts are made at run time through the driver's sysfs files, or at load
 * time by the hosts= and profile= parameters.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/dma-map-ops.h>
#include <linux/genalloc.h>
#include <linux/cpumask.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/iommu.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>

#include "sim.h"

static const struct ntb_sim_profile profiles[] = {
	{
		/* Intel/AMD-like two-port NTB: scratchpads, BAR-sized windows */
		.name = "intel", .max_ports = 2,
		.mws = { { .count = 2, .size = SZ_1M } },
		.db_bits = 16, .spad_count = 16,
	}, {
		/* Intel-like with the application note's 32 GB prefetch BARs */
		.name = "intel-32g", .max_ports = 2,
		.mws = { { .count = 2, .size = SZ_32G, .addr_align = SZ_4K } },
		.db_bits = 16, .spad_count = 16,
	}, {
		/*
		 * IDT-like switch: message registers, sender-set windows.
		 * 32-bit BARs 2 and 3 are direct windows, BAR 4 a 24-entry
		 * lookup table over 32 MiB, which IDT splits in 32 slots: 24
		 * windows of exactly 1 MiB each, after the direct ones as
		 * idt_scan_mws() numbers them. IDT wants 4-byte aligned
		 * translations, ntb_sim pages.
		 */
		.name = "idt", .multiport = true, .outbound_xlat = true,
		.max_ports = 8,
		.mws = {
			{ .count = 2, .size = SZ_1M, .addr_align = SZ_4K },
			{ .count = 24, .size = SZ_1M, .addr_align = SZ_4K,
			  .size_align = SZ_1M },
		},
		.db_bits = 16, .msg_count = 4,
	}, {
		/*
		 * IDT-like with large windows; 14 doorbells a device can ring.
		 * 64-bit BAR 2 is a direct 32 GiB window, 64-bit BAR 4 a
		 * 24-entry lookup table over 1 TiB (BARSETUP's six-bit size
		 * field reaches that): 24 windows of 32 GiB, each translated
		 * whole, after the direct one.
		 */
		.name = "idt-32g", .multiport = true, .outbound_xlat = true,
		.max_ports = 8,
		.mws = {
			{ .count = 1, .size = SZ_32G, .addr_align = SZ_4K },
			{ .count = 24, .size = SZ_32G, .addr_align = SZ_4K,
			  .size_align = SZ_32G },
		},
		.db_bits = NTB_SIM_OUTDB_BITS, .msg_count = 4,
	}, {
		/*
		 * Microchip Switchtec as ntb_hw_switchtec drives it with
		 * use_lut_mws=1: a two-partition NTB with receiver-set
		 * translations, scratchpads it emulates in a shared window,
		 * 28 doorbells per partition (the two share one doorbell
		 * block) and a peer_db_addr() any device can write. Two NT
		 * BARs with a 64-entry lookup table in the first: window 0 is
		 * that BAR's direct part, as large as the table's span; window
		 * 1 the second BAR whole, given the application note's 32 GB
		 * as intel-32g has it, since a Switchtec BAR's size is a
		 * firmware setting; then one 64 KiB window per table entry but
		 * the one the driver keeps for its shared window. A direct
		 * window's translation must be aligned to its size, though
		 * mw_get_align() says 4 KiB. A 128-entry table would make 129
		 * windows, one more than the driver has room for (MAX_MWS).
		 */
		.name = "switchtec", .max_ports = 2,
		.mws = {
			{ .count = 1, .size = 64 * SZ_64K, .addr_align = SZ_4K,
			  .size_align = SZ_4K, .xlat_natural = true },
			{ .count = 1, .size = SZ_32G, .addr_align = SZ_4K,
			  .size_align = SZ_4K, .xlat_natural = true },
			{ .count = 63, .size = SZ_64K, .size_align = SZ_64K },
		},
		.db_bits = 28, .spad_count = 128,
	}, {
		/* Scarce hardware: one small window, few doorbells */
		.name = "tiny", .max_ports = 2,
		.mws = { { .count = 1, .size = SZ_64K } },
		.db_bits = 4, .spad_count = 8,
	},
};

unsigned long ntb_sim_mw_backing = SZ_1M;
module_param_named(mw_backing, ntb_sim_mw_backing, ulong, 0444);
MODULE_PARM_DESC(mw_backing, "Arena bytes behind each window aperture (default 1 MiB)");

static unsigned int load_hosts;
module_param_named(hosts, load_hosts, uint, 0444);
MODULE_PARM_DESC(hosts, "Hosts of fabric 0 made at load (default 0: none)");

static char *load_profile = "intel";
module_param_named(profile, load_profile, charp, 0444);
MODULE_PARM_DESC(profile, "Profile of fabric 0 made at load: intel, intel-32g, idt, idt-32g, switchtec, tiny");

/**
 * struct ntb_sim_adapter - an edu or ivshmem-doorbell function the driver bound
 * @node: entry in ntb_sim.adapters
 * @kind: which of the two
 * @pdev: the function
 * @regs: its BAR0
 * @host: the host it stands for, or NULL while free
 */
struct ntb_sim_adapter {
	struct list_head node;
	enum ntb_sim_kind kind;
	struct pci_dev *pdev;
	void __iomem *regs;
	struct ntb_sim_host *host;
};

/*
 * The functions the driver bound are one pool shared by every fabric, as
 * netdevsim's bus is; fabrics share nothing else.
 */
static struct {
	struct mutex lock;		/* protects the lists and the arena */
	struct list_head adapters;	/* struct ntb_sim_adapter */
	struct list_head fabrics;	/* struct ntb_sim_fabric */
	struct gen_pool *arena;		/* ivshmem memory for apertures */
} sim;

static const struct ntb_sim_profile *find_profile(const char *name)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(profiles); i++)
		if (sysfs_streq(name, profiles[i].name))
			return &profiles[i];
	return NULL;
}

/**
 * ntb_sim_arena_alloc() - take arena memory for a window aperture
 * @size: bytes, a multiple of PAGE_SIZE
 * @phys: OUT - physical address of the memory
 *
 * Context: with the driver's lock held, as hosts are made and unplugged.
 *
 * Return: kernel mapping of the memory, or NULL if the arena cannot give it.
 */
void *ntb_sim_arena_alloc(size_t size, phys_addr_t *phys)
{
	unsigned long virt = 0;

	/* Hosts come and go under sim.lock, which keeps the arena in place. */
	lockdep_assert_held(&sim.lock);
	if (sim.arena)
		virt = gen_pool_alloc(sim.arena, size);
	if (virt)
		*phys = gen_pool_virt_to_phys(sim.arena, virt);
	return (void *)virt;
}

/**
 * ntb_sim_arena_free() - give back what ntb_sim_arena_alloc() took
 * @virt: its kernel mapping
 * @size: its size
 *
 * Context: with the driver's lock held, as hosts are made and unplugged.
 */
void ntb_sim_arena_free(void *virt, size_t size)
{
	lockdep_assert_held(&sim.lock);
	gen_pool_free(sim.arena, (unsigned long)virt, size);
}

static struct ntb_sim_fabric *find_fabric(int id)
{
	struct ntb_sim_fabric *fabric;

	lockdep_assert_held(&sim.lock);
	list_for_each_entry(fabric, &sim.fabrics, node)
		if (fabric->id == id)
			return fabric;
	return NULL;
}

static void link_work(struct work_struct *work)
{
	struct ntb_sim_host *host = container_of(work, struct ntb_sim_host,
						 link_work);
	bool registered;

	raw_spin_lock_irq(&host->fabric->lock);
	registered = host->registered;
	raw_spin_unlock_irq(&host->fabric->lock);
	if (registered)
		ntb_link_event(&host->ntb);
}

static void set_registered(struct ntb_sim_host *host, bool registered)
{
	raw_spin_lock_irq(&host->fabric->lock);
	host->registered = registered;
	raw_spin_unlock_irq(&host->fabric->lock);
}

static void host_publish(struct ntb_sim_host *host, bool present)
{
	struct ntb_sim_fabric *fabric = host->fabric;

	raw_spin_lock_irq(&fabric->lock);
	fabric->hosts[host->port] = present ? host : NULL;
	if (!present)
		host->link_enabled = false;
	raw_spin_unlock_irq(&fabric->lock);
}

/* Free the first @n interrupts host_request_irqs() requested. */
static void host_free_irqs(struct ntb_sim_host *host, int n)
{
	struct pci_dev *pdev = host->edu;
	int i;

	if (host->kind == NTB_SIM_EDU) {
		free_irq(pci_irq_vector(pdev, 0), host);
		return;
	}
	for (i = 0; i < n; i++) {
		irq_update_affinity_hint(pci_irq_vector(pdev, i), NULL);
		free_irq(pci_irq_vector(pdev, i), &host->vec[i]);
	}
}

/*
 * The edu's one MSI, or an ivshmem's vector per cause. A doorbell bit's
 * vector goes to a CPU of its own, bit after bit round the online CPUs,
 * as irqbalance would spread a hardware adapter's vectors: a client can
 * then ring a CPU by picking a bit.
 */
static int host_request_irqs(struct ntb_sim_host *host)
{
	struct pci_dev *pdev = host->edu;
	int i, cpu = -1, ret;

	if (host->kind == NTB_SIM_EDU) {
		writel(~0U, host->regs + EDU_REG_IRQ_ACK);
		return request_irq(pci_irq_vector(pdev, 0), ntb_sim_irq, 0,
				   "ntb_sim", host);
	}
	for (i = 0; i < NTB_SIM_CAUSES; i++) {
		host->vec[i].host = host;
		host->vec[i].cause = i;
		ret = request_irq(pci_irq_vector(pdev, i), ntb_sim_vec_irq, 0,
				  "ntb_sim", &host->vec[i]);
		if (ret) {
			host_free_irqs(host, i);
			return ret;
		}
		cpu = cpumask_next(cpu, cpu_online_mask);
		if (cpu >= nr_cpu_ids)
			cpu = cpumask_first(cpu_online_mask);
		irq_set_affinity_and_hint(pci_irq_vector(pdev, i), cpumask_of(cpu));
	}
	return 0;
}

/* Make the host on @port of @fabric from a free adapter; under sim.lock. */
static int host_create(struct ntb_sim_fabric *fabric, int port)
{
	struct ntb_sim_adapter *adapter = NULL, *a;
	struct ntb_sim_host *host;
	struct pci_dev *pdev;
	int ret;

	if (port < 0 || port >= fabric->nports) {
		pr_err("fabric %d: port %d out of range 0..%d\n",
		       fabric->id, port, fabric->nports - 1);
		return -EINVAL;
	}
	if (fabric->hosts[port]) {
		pr_err("fabric %d: port %d already has a host\n", fabric->id, port);
		return -EEXIST;
	}
	list_for_each_entry(a, &sim.adapters, node) {
		if (!a->host) {
			adapter = a;
			break;
		}
	}
	if (!adapter) {
		pr_err("fabric %d: no free adapter for port %d; add an edu or ivshmem-doorbell to the VM\n",
		       fabric->id, port);
		return -ENODEV;
	}

	host = kzalloc(sizeof(*host), GFP_KERNEL);
	if (!host)
		return -ENOMEM;
	pdev = adapter->pdev;
	host->fabric = fabric;
	host->port = port;
	host->kind = adapter->kind;
	host->edu = pdev;
	host->regs = adapter->regs;
	host->regs_phys = pci_resource_start(pdev, 0);
	host->db_reg_phys = host->regs_phys +
		(host->kind == NTB_SIM_EDU ? EDU_REG_IRQ_RAISE : IVSHMEM_REG_DOORBELL);
	INIT_WORK(&host->link_work, link_work);
	ret = ntb_sim_mw_init(host);
	if (ret)
		goto err_mw;

	pci_set_drvdata(pdev, host);
	set_dma_ops(&pdev->dev, &ntb_sim_dma_ops);
	ret = host_request_irqs(host);
	if (ret)
		goto err_irq;

	host->ntb.pdev = pdev;
	host->ntb.topo = fabric->profile->multiport ? NTB_TOPO_SWITCH :
			 port ? NTB_TOPO_B2B_DSD : NTB_TOPO_B2B_USD;
	host->ntb.ops = fabric->profile->multiport ? &ntb_sim_ops_multiport :
			&ntb_sim_ops_2port;
	adapter->host = host;
	host_publish(host, true);

	ret = ntb_register_device(&host->ntb);
	if (ret)
		goto err_register;
	set_registered(host, true);
	ntb_sim_debugfs_add_host(host);
	/* Events held back while the NTB core learned of the host. */
	ntb_sim_links_changed(fabric);
	ntb_sim_raise(host, NTB_SIM_IRQ_REPLAY | NTB_SIM_IRQ_MSG);
	return 0;

err_register:
	host_publish(host, false);
	adapter->host = NULL;
	host_free_irqs(host, NTB_SIM_CAUSES);
err_irq:
	set_dma_ops(&pdev->dev, NULL);
	pci_set_drvdata(pdev, NULL);
	ntb_sim_mw_exit(host);
err_mw:
	kfree(host);
	return ret;
}

static struct ntb_sim_adapter *host_adapter(struct ntb_sim_host *host)
{
	struct ntb_sim_adapter *a;

	list_for_each_entry(a, &sim.adapters, node)
		if (a->host == host)
			return a;
	return NULL;
}

/* Unplug a host: its clients go, its peers see the link drop; under sim.lock. */
static void host_destroy(struct ntb_sim_host *host)
{
	struct ntb_sim_fabric *fabric = host->fabric;
	struct pci_dev *pdev = host->edu;

	debugfs_remove_recursive(host->debugfs);
	ntb_unregister_device(&host->ntb);
	set_registered(host, false);
	host_publish(host, false);
	ntb_sim_links_changed(fabric);

	host_free_irqs(host, NTB_SIM_CAUSES);
	cancel_work_sync(&host->link_work);
	ntb_sim_mw_exit(host);
	set_dma_ops(&pdev->dev, NULL);
	pci_set_drvdata(pdev, NULL);
	host_adapter(host)->host = NULL;
	kfree(host);
}

static int fabric_create(int id, const struct ntb_sim_profile *profile,
			 int nports)
{
	struct ntb_sim_fabric *fabric;

	if (find_fabric(id)) {
		pr_err("fabric %d exists\n", id);
		return -EEXIST;
	}
	if (!profile->multiport)
		nports = 2;
	if (nports < 2 || nports > profile->max_ports) {
		pr_err("profile %s takes 2..%d ports, not %d\n", profile->name,
		       profile->max_ports, nports);
		return -EINVAL;
	}
	fabric = kzalloc(sizeof(*fabric), GFP_KERNEL);
	if (!fabric)
		return -ENOMEM;
	fabric->id = id;
	fabric->profile = profile;
	fabric->nports = nports;
	raw_spin_lock_init(&fabric->lock);
	mutex_init(&fabric->mw_lock);
	if (ntb_sim_init_delayed(fabric)) {
		kfree(fabric);
		return -ENOMEM;
	}
	list_add_tail(&fabric->node, &sim.fabrics);
	ntb_sim_debugfs_add_fabric(fabric);
	if (!sim.arena)
		pr_warn("fabric %d: no ivshmem arena: windows work address-transparent only\n",
			id);
	return 0;
}

static void fabric_destroy(struct ntb_sim_fabric *fabric)
{
	int port;

	for (port = 0; port < fabric->nports; port++)
		if (fabric->hosts[port])
			host_destroy(fabric->hosts[port]);
	ntb_sim_cancel_delayed(fabric);
	debugfs_remove_recursive(fabric->debugfs);
	list_del(&fabric->node);
	mutex_destroy(&fabric->mw_lock);
	kfree(fabric);
}

/* --- sysfs: /sys/bus/pci/drivers/ntb_sim/ ------------------------------------ */

static ssize_t new_fabric_store(struct device_driver *drv, const char *buf,
				size_t count)
{
	const struct ntb_sim_profile *profile;
	char name[16];
	int id, nports = 0, n, ret;

	n = sscanf(buf, "%d %15s %d", &id, name, &nports);
	if (n < 2 || id < 0) {
		pr_err("new_fabric: write \"ID PROFILE [PORTS]\"\n");
		return -EINVAL;
	}
	profile = find_profile(name);
	if (!profile) {
		pr_err("new_fabric: no profile %s\n", name);
		return -EINVAL;
	}
	mutex_lock(&sim.lock);
	ret = fabric_create(id, profile, n == 3 ? nports : profile->max_ports);
	mutex_unlock(&sim.lock);
	return ret ?: count;
}
static DRIVER_ATTR_WO(new_fabric);

static ssize_t del_fabric_store(struct device_driver *drv, const char *buf,
				size_t count)
{
	struct ntb_sim_fabric *fabric;
	int id, ret = 0;

	if (kstrtoint(buf, 0, &id))
		return -EINVAL;
	mutex_lock(&sim.lock);
	fabric = find_fabric(id);
	if (fabric)
		fabric_destroy(fabric);
	else
		ret = -ENOENT;
	mutex_unlock(&sim.lock);
	return ret ?: count;
}
static DRIVER_ATTR_WO(del_fabric);

/* Parse "FABRIC PORT" and run @fn on them under sim.lock. */
static ssize_t host_cmd(const char *buf, size_t count, const char *what,
			int (*fn)(struct ntb_sim_fabric *fabric, int port))
{
	struct ntb_sim_fabric *fabric;
	int id, port, ret;

	if (sscanf(buf, "%d %d", &id, &port) != 2) {
		pr_err("%s: write \"FABRIC PORT\"\n", what);
		return -EINVAL;
	}
	mutex_lock(&sim.lock);
	fabric = find_fabric(id);
	ret = fabric ? fn(fabric, port) : -ENOENT;
	mutex_unlock(&sim.lock);
	return ret ?: count;
}

static ssize_t new_host_store(struct device_driver *drv, const char *buf,
			      size_t count)
{
	return host_cmd(buf, count, "new_host", host_create);
}
static DRIVER_ATTR_WO(new_host);

static int host_remove(struct ntb_sim_fabric *fabric, int port)
{
	if (port < 0 || port >= fabric->nports || !fabric->hosts[port])
		return -ENOENT;
	host_destroy(fabric->hosts[port]);
	return 0;
}

static ssize_t del_host_store(struct device_driver *drv, const char *buf,
			      size_t count)
{
	return host_cmd(buf, count, "del_host", host_remove);
}
static DRIVER_ATTR_WO(del_host);

static struct attribute *ntb_sim_drv_attrs[] = {
	&driver_attr_new_fabric.attr,
	&driver_attr_del_fabric.attr,
	&driver_attr_new_host.attr,
	&driver_attr_del_host.attr,
	NULL,
};
ATTRIBUTE_GROUPS(ntb_sim_drv);

/* --- PCI functions ---------------------------------------------------------- */

#define PCI_VENDOR_ID_EDU		0x1234	/* QEMU's own devices */
#define PCI_DEVICE_ID_EDU		0x11e8
#define PCI_VENDOR_ID_IVSHMEM		PCI_VENDOR_ID_REDHAT_QUMRANET
#define PCI_DEVICE_ID_IVSHMEM		0x1110

/*
 * The IOMMU maps pages: a device allowed to write one doorbell register
 * reaches all of the register's page. A 256-byte ivshmem BAR0 must have
 * its page to itself (SeaBIOS gives every memory BAR at least a page).
 */
static bool page_alone(struct pci_dev *pdev, int bar)
{
	resource_size_t start = pci_resource_start(pdev, bar) & PAGE_MASK;
	struct pci_dev *other = NULL;
	struct resource *r;
	bool alone = true;

	for_each_pci_dev(other) {
		pci_dev_for_each_resource(other, r) {
			if (!(resource_type(r) & IORESOURCE_MEM) || !r->start ||
			    r == &pdev->resource[bar])
				continue;
			if (r->start < start + PAGE_SIZE && r->end >= start)
				alone = false;
		}
	}
	return alone;
}

static int adapter_probe(struct pci_dev *pdev, enum ntb_sim_kind kind)
{
	struct ntb_sim_adapter *adapter;
	u32 id;
	int ret;

	adapter = devm_kzalloc(&pdev->dev, sizeof(*adapter), GFP_KERNEL);
	if (!adapter)
		return -ENOMEM;
	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	adapter->regs = pcim_iomap_region(pdev, 0, "ntb_sim");
	if (IS_ERR(adapter->regs))
		return PTR_ERR(adapter->regs);
	if (kind == NTB_SIM_EDU &&
	    (readl(adapter->regs + EDU_REG_ID) & 0xff) != EDU_ID_MAGIC) {
		dev_err(&pdev->dev, "not a QEMU edu device\n");
		return -ENODEV;
	}
	if (kind == NTB_SIM_IVSHMEM) {
		/*
		 * Alone in its server group, it has ID 0: then its own
		 * doorbell register is the only one that rings it, and the
		 * IOMMU, which confines a device to addresses, confines it to
		 * the adapters it may ring (the value names no other peer).
		 */
		id = readl(adapter->regs + IVSHMEM_REG_IVPOSITION);
		if (id) {
			dev_err(&pdev->dev,
				"ivshmem-doorbell with ID %u, not 0: give it a server group of its own (vm-devices: ivshmem)\n",
				id);
			return -EINVAL;
		}
		if (!page_alone(pdev, 0)) {
			dev_err(&pdev->dev,
				"its doorbell register shares its page with another BAR, which a device allowed to ring it would reach\n");
			return -EINVAL;
		}
	}
	if (iommu_get_domain_for_dev(&pdev->dev) &&
	    iommu_get_domain_for_dev(&pdev->dev)->type != IOMMU_DOMAIN_IDENTITY) {
		dev_err(&pdev->dev,
			"behind a translating IOMMU domain; write identity to its iommu_group/type before binding\n");
		return -EINVAL;
	}
	/* Interrupts only reach Linux from a bus master. */
	pci_set_master(pdev);
	if (kind == NTB_SIM_EDU)
		ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI);
	else
		ret = pci_alloc_irq_vectors(pdev, NTB_SIM_CAUSES, NTB_SIM_CAUSES,
					    PCI_IRQ_MSIX);
	if (ret < 0) {
		if (kind == NTB_SIM_IVSHMEM)
			dev_err(&pdev->dev, "needs %d MSI-X vectors (vectors=%d)\n",
				NTB_SIM_CAUSES, NTB_SIM_CAUSES);
		return ret;
	}
	adapter->kind = kind;
	adapter->pdev = pdev;
	mutex_lock(&sim.lock);
	list_add_tail(&adapter->node, &sim.adapters);
	mutex_unlock(&sim.lock);
	return 0;
}

static int ivshmem_probe(struct pci_dev *pdev)
{
	resource_size_t start, len;
	void *virt;
	int ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = pcim_request_region(pdev, 2, "ntb_sim arena");
	if (ret)
		return ret;
	start = pci_resource_start(pdev, 2);
	len = pci_resource_len(pdev, 2);
	virt = devm_memremap(&pdev->dev, start, len, MEMREMAP_WB);
	if (IS_ERR(virt))
		return PTR_ERR(virt);

	mutex_lock(&sim.lock);
	if (!sim.arena)
		sim.arena = gen_pool_create(PAGE_SHIFT, -1);
	ret = sim.arena ? gen_pool_add_virt(sim.arena, (unsigned long)virt,
					    start, len, -1) : -ENOMEM;
	mutex_unlock(&sim.lock);
	return ret;
}

static int ntb_sim_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	if (id->device == PCI_DEVICE_ID_EDU)
		return adapter_probe(pdev, NTB_SIM_EDU);
	/* ivshmem-doorbell has MSI-X, ivshmem-plain nothing but memory. */
	if (pdev->msix_cap)
		return adapter_probe(pdev, NTB_SIM_IVSHMEM);
	return ivshmem_probe(pdev);
}

static void destroy_fabrics(void)
{
	struct ntb_sim_fabric *fabric, *tmp;

	list_for_each_entry_safe(fabric, tmp, &sim.fabrics, node)
		fabric_destroy(fabric);
}

/*
 * An adapter that goes unplugs its host. The arena cannot lose a piece
 * while apertures may lie in it, so an ivshmem-plain that goes takes every
 * fabric and the whole arena along.
 */
static void ntb_sim_remove(struct pci_dev *pdev)
{
	struct ntb_sim_adapter *a;

	mutex_lock(&sim.lock);
	if (pdev->device == PCI_DEVICE_ID_EDU || pdev->msix_cap) {
		list_for_each_entry(a, &sim.adapters, node) {
			if (a->pdev == pdev) {
				if (a->host)
					host_destroy(a->host);
				list_del(&a->node);
				break;
			}
		}
	} else if (sim.arena) {
		destroy_fabrics();
		gen_pool_destroy(sim.arena);
		sim.arena = NULL;
	}
	mutex_unlock(&sim.lock);
}

static const struct pci_device_id ntb_sim_ids[] = {
	{ PCI_DEVICE(PCI_VENDOR_ID_EDU, PCI_DEVICE_ID_EDU) },
	{ PCI_DEVICE(PCI_VENDOR_ID_IVSHMEM, PCI_DEVICE_ID_IVSHMEM) },
	{ }
};
MODULE_DEVICE_TABLE(pci, ntb_sim_ids);

static struct pci_driver ntb_sim_driver = {
	.name = "ntb_sim",
	.id_table = ntb_sim_ids,
	.probe = ntb_sim_probe,
	.remove = ntb_sim_remove,
	.groups = ntb_sim_drv_groups,
};

static int __init create_load_fabric(void)
{
	const struct ntb_sim_profile *profile = find_profile(load_profile);
	int port, ret;

	if (!profile) {
		pr_err("profile=%s: no such profile\n", load_profile);
		return -EINVAL;
	}
	mutex_lock(&sim.lock);
	ret = fabric_create(0, profile, max_t(int, load_hosts, 2));
	for (port = 0; !ret && port < load_hosts; port++)
		ret = host_create(find_fabric(0), port);
	mutex_unlock(&sim.lock);
	return ret;
}

static int __init ntb_sim_init(void)
{
	int ret;

	if (!IS_ENABLED(CONFIG_ARCH_HAS_DMA_OPS)) {
		pr_err("needs a kernel with per-device DMA ops (CONFIG_GART_IOMMU on x86)\n");
		return -EOPNOTSUPP;
	}

	mutex_init(&sim.lock);
	INIT_LIST_HEAD(&sim.adapters);
	INIT_LIST_HEAD(&sim.fabrics);
	ntb_sim_debugfs_init();
	ret = pci_register_driver(&ntb_sim_driver);
	if (ret)
		goto err_debugfs;
	if (load_hosts) {
		ret = create_load_fabric();
		if (ret)
			goto err_driver;
	}
	return 0;

err_driver:
	pci_unregister_driver(&ntb_sim_driver);
err_debugfs:
	ntb_sim_debugfs_exit();
	return ret;
}
module_init(ntb_sim_init);

static void __exit ntb_sim_exit(void)
{
	pci_unregister_driver(&ntb_sim_driver);
	mutex_lock(&sim.lock);
	destroy_fabrics();
	mutex_unlock(&sim.lock);
	ntb_sim_debugfs_exit();
}
module_exit(ntb_sim_exit);

MODULE_DESCRIPTION("Simulated NTB fabric for testing NTB clients");
MODULE_LICENSE("GPL");
