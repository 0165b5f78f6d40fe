// SPDX-License-Identifier: GPL-2.0
/*
 * ivshmem_ring: does a device's write to an ivshmem-doorbell's DOORBELL
 * register raise the vector it names, on the CPU that vector's affinity
 * names? Test only (sim_ivshmem_doorbell.sh).
 *
 * Bind QEMU ivshmem-doorbell functions (1af4:1110 with MSI-X) and edu
 * functions (1234:11e8) to this driver through driver_override. Every
 * MSI-X vector of an ivshmem gets a handler that counts its interrupts per
 * CPU and logs "BDF: vector V on CPU C". The edu keeps whatever IOMMU
 * domain it is in, so that its writes go through the IOMMU as a lent
 * device's do.
 *
 * /sys/kernel/debug/ivshmem_ring/ring takes "HOW EDU IVSHMEM VALUE": VALUE
 * (peer ID << 16 | vector) is written to the DOORBELL register of IVSHMEM
 *   dma  by the edu's DMA engine,
 *   msi  by the edu's MSI, whose message is programmed with the register's
 *        address and VALUE as data (16 bits: the peer ID must be 0),
 *   cpu  by the CPU (EDU is ignored).
 * For dma and msi the register is mapped for the edu with
 * dma_map_resource(), which in a translating IOMMU domain gives an I/O
 * virtual address. "counts" lists, per ivshmem, its ID (IVPosition), and
 * for every vector its Linux IRQ and its interrupts per CPU ("cpuN COUNT").
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#define IVSHMEM_IVPOSITION	0x08
#define IVSHMEM_DOORBELL	0x0c
#define IVR_MAX_VECTORS		64
#define IVR_MAX_CPUS		8

/* QEMU edu registers (BAR0), QEMU docs/specs/edu.rst */
#define EDU_IRQ_STATUS		0x24
#define EDU_IRQ_RAISE		0x60
#define EDU_IRQ_ACK		0x64
#define EDU_DMA_SRC		0x80
#define EDU_DMA_DST		0x88
#define EDU_DMA_COUNT		0x90
#define EDU_DMA_CMD		0x98
#define EDU_DMA_START		BIT(0)
#define EDU_DMA_TO_BUS		BIT(1)
#define EDU_DMA_BUFFER		0x40000

struct ivr_vector {
	struct ivr_dev *dev;
	unsigned int vector;
	atomic_t count[IVR_MAX_CPUS];
};

/**
 * struct ivr_dev - a bound function
 * @node: entry in ivr.devs
 * @pdev: the function
 * @regs: its BAR0
 * @nvec: MSI-X vectors of an ivshmem; 0 for an edu
 * @vec: per-vector counters
 */
struct ivr_dev {
	struct list_head node;
	struct pci_dev *pdev;
	void __iomem *regs;
	int nvec;
	struct ivr_vector vec[IVR_MAX_VECTORS];
};

static struct {
	struct mutex lock;	/* protects devs and every ring */
	struct list_head devs;
	struct dentry *dir;
	u64 ring_ns;		/* when the last ring was written */
} ivr;

static irqreturn_t ivr_irq(int irq, void *data)
{
	struct ivr_vector *v = data;
	int cpu = raw_smp_processor_id();

	atomic_inc(&v->count[min(cpu, IVR_MAX_CPUS - 1)]);
	pr_info("%s: vector %u on CPU %d, %llu us after the ring\n",
		pci_name(v->dev->pdev), v->vector, cpu,
		div_u64(ktime_get_ns() - READ_ONCE(ivr.ring_ns), NSEC_PER_USEC));
	return IRQ_HANDLED;
}

static struct ivr_dev *ivr_find(const char *name)
{
	struct ivr_dev *d;

	list_for_each_entry(d, &ivr.devs, node)
		if (!strcmp(pci_name(d->pdev), name))
			return d;
	return NULL;
}

static int edu_dma(struct ivr_dev *edu, u64 src, u64 dst, u32 cmd)
{
	unsigned long timeout = jiffies + 2 * HZ;

	writeq(src, edu->regs + EDU_DMA_SRC);
	writeq(dst, edu->regs + EDU_DMA_DST);
	writeq(sizeof(u32), edu->regs + EDU_DMA_COUNT);
	writeq(cmd | EDU_DMA_START, edu->regs + EDU_DMA_CMD);
	while (readq(edu->regs + EDU_DMA_CMD) & EDU_DMA_START) {
		if (time_after(jiffies, timeout))
			return -ETIMEDOUT;
		usleep_range(1000, 2000);
	}
	return 0;
}

/* The edu's DMA engine writes @value at @addr. */
static int ring_dma(struct ivr_dev *edu, dma_addr_t addr, u32 value)
{
	dma_addr_t dma;
	u32 *buf;
	int ret;

	buf = kmalloc(sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	*buf = value;
	dma = dma_map_single(&edu->pdev->dev, buf, sizeof(*buf), DMA_TO_DEVICE);
	ret = dma_mapping_error(&edu->pdev->dev, dma);
	if (!ret)
		ret = edu_dma(edu, dma, EDU_DMA_BUFFER, 0);
	WRITE_ONCE(ivr.ring_ns, ktime_get_ns());
	if (!ret)
		ret = edu_dma(edu, EDU_DMA_BUFFER, addr, EDU_DMA_TO_BUS);
	if (!dma_mapping_error(&edu->pdev->dev, dma))
		dma_unmap_single(&edu->pdev->dev, dma, sizeof(*buf), DMA_TO_DEVICE);
	kfree(buf);
	return ret;
}

/*
 * The edu's MSI message is @addr and @value, as an MSI-X entry aimed at a
 * doorbell would be; the edu's raise register sends it. No Linux vector
 * is allocated on the edu: its MSI capability is written here directly.
 */
static int ring_msi(struct ivr_dev *edu, dma_addr_t addr, u32 value)
{
	struct pci_dev *pdev = edu->pdev;
	int cap = pdev->msi_cap;
	u16 flags;

	if (!cap || value > U16_MAX)
		return -EINVAL;
	pci_read_config_word(pdev, cap + PCI_MSI_FLAGS, &flags);
	if (!(flags & PCI_MSI_FLAGS_64BIT))
		return -EINVAL;
	pci_write_config_dword(pdev, cap + PCI_MSI_ADDRESS_LO, lower_32_bits(addr));
	pci_write_config_dword(pdev, cap + PCI_MSI_ADDRESS_HI, upper_32_bits(addr));
	pci_write_config_word(pdev, cap + PCI_MSI_DATA_64, value);
	pci_write_config_word(pdev, cap + PCI_MSI_FLAGS,
			      (flags & ~PCI_MSI_FLAGS_QSIZE) | PCI_MSI_FLAGS_ENABLE);
	WRITE_ONCE(ivr.ring_ns, ktime_get_ns());
	writel(1, edu->regs + EDU_IRQ_RAISE);
	msleep(100);
	writel(readl(edu->regs + EDU_IRQ_STATUS), edu->regs + EDU_IRQ_ACK);
	pci_write_config_word(pdev, cap + PCI_MSI_FLAGS,
			      flags & ~PCI_MSI_FLAGS_ENABLE);
	return 0;
}

static int ring(const char *how, const char *edu_name, const char *ivs_name,
		u32 value)
{
	struct ivr_dev *edu, *ivs;
	phys_addr_t reg;
	dma_addr_t addr;
	int ret;

	ivs = ivr_find(ivs_name);
	if (!ivs || !ivs->nvec)
		return -ENODEV;
	if (!strcmp(how, "cpu")) {
		WRITE_ONCE(ivr.ring_ns, ktime_get_ns());
		writel(value, ivs->regs + IVSHMEM_DOORBELL);
		return 0;
	}
	edu = ivr_find(edu_name);
	if (!edu || edu->nvec)
		return -ENODEV;
	reg = pci_resource_start(ivs->pdev, 0) + IVSHMEM_DOORBELL;
	addr = dma_map_resource(&edu->pdev->dev, reg, sizeof(u32),
				DMA_BIDIRECTIONAL, 0);
	if (dma_mapping_error(&edu->pdev->dev, addr))
		return -EIO;
	pr_info("%s writes %#x by %s to %s's doorbell: bus address %pad (physical %pa)\n",
		edu_name, value, how, ivs_name, &addr, &reg);
	if (!strcmp(how, "dma"))
		ret = ring_dma(edu, addr, value);
	else if (!strcmp(how, "msi"))
		ret = ring_msi(edu, addr, value);
	else
		ret = -EINVAL;
	dma_unmap_resource(&edu->pdev->dev, addr, sizeof(u32),
			   DMA_BIDIRECTIONAL, 0);
	return ret;
}

static ssize_t ring_write(struct file *file, const char __user *ubuf,
			  size_t count, loff_t *ppos)
{
	char buf[96], how[8], edu[32], ivs[32];
	u32 value;
	int ret;

	if (count >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	if (sscanf(buf, "%7s %31s %31s %i", how, edu, ivs, &value) != 4)
		return -EINVAL;
	mutex_lock(&ivr.lock);
	ret = ring(how, edu, ivs, value);
	mutex_unlock(&ivr.lock);
	return ret ?: count;
}

static const struct file_operations ring_fops = {
	.write = ring_write,
};

static int counts_show(struct seq_file *s, void *unused)
{
	struct ivr_dev *d;
	int v, cpu;

	mutex_lock(&ivr.lock);
	list_for_each_entry(d, &ivr.devs, node) {
		if (!d->nvec)
			continue;
		seq_printf(s, "%s id %u vectors %d\n", pci_name(d->pdev),
			   readl(d->regs + IVSHMEM_IVPOSITION), d->nvec);
		for (v = 0; v < d->nvec; v++) {
			seq_printf(s, "%s vector %d irq %d", pci_name(d->pdev),
				   v, pci_irq_vector(d->pdev, v));
			for (cpu = 0; cpu < IVR_MAX_CPUS; cpu++)
				if (atomic_read(&d->vec[v].count[cpu]))
					seq_printf(s, " cpu%d %d", cpu,
						   atomic_read(&d->vec[v].count[cpu]));
			seq_putc(s, '\n');
		}
	}
	mutex_unlock(&ivr.lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(counts);

static int ivr_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct ivr_dev *d;
	int ret, v;

	d = devm_kzalloc(&pdev->dev, sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	d->pdev = pdev;
	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	d->regs = pcim_iomap_region(pdev, 0, KBUILD_MODNAME);
	if (IS_ERR(d->regs))
		return PTR_ERR(d->regs);
	/* Interrupts and DMA reach nothing from a function that is not a master. */
	pci_set_master(pdev);
	if (pdev->vendor == PCI_VENDOR_ID_REDHAT_QUMRANET) {
		if (!pdev->msix_cap)
			return -ENODEV;	/* ivshmem-plain */
		d->nvec = pci_alloc_irq_vectors(pdev, 1, IVR_MAX_VECTORS,
						PCI_IRQ_MSIX);
		if (d->nvec < 0)
			return d->nvec;
		for (v = 0; v < d->nvec; v++) {
			d->vec[v].dev = d;
			d->vec[v].vector = v;
			ret = devm_request_irq(&pdev->dev, pci_irq_vector(pdev, v),
					       ivr_irq, 0, KBUILD_MODNAME,
					       &d->vec[v]);
			if (ret)
				return ret;
		}
	}
	pci_set_drvdata(pdev, d);
	mutex_lock(&ivr.lock);
	list_add_tail(&d->node, &ivr.devs);
	mutex_unlock(&ivr.lock);
	dev_info(&pdev->dev, "bound: %d MSI-X vectors, BAR0 %pR\n", d->nvec,
		 &pdev->resource[0]);
	return 0;
}

static void ivr_remove(struct pci_dev *pdev)
{
	struct ivr_dev *d = pci_get_drvdata(pdev);
	int v;

	mutex_lock(&ivr.lock);
	list_del(&d->node);
	mutex_unlock(&ivr.lock);
	for (v = 0; v < d->nvec; v++)
		devm_free_irq(&pdev->dev, pci_irq_vector(pdev, v), &d->vec[v]);
	if (d->nvec)
		pci_free_irq_vectors(pdev);
	pci_clear_master(pdev);
}

/* No IDs: functions are bound through driver_override only. */
static const struct pci_device_id ivr_ids[] = {
	{ }
};

static struct pci_driver ivr_driver = {
	.name = KBUILD_MODNAME,
	.id_table = ivr_ids,
	.probe = ivr_probe,
	.remove = ivr_remove,
};

static int __init ivr_init(void)
{
	mutex_init(&ivr.lock);
	INIT_LIST_HEAD(&ivr.devs);
	ivr.dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("ring", 0200, ivr.dir, NULL, &ring_fops);
	debugfs_create_file("counts", 0400, ivr.dir, NULL, &counts_fops);
	return pci_register_driver(&ivr_driver);
}
module_init(ivr_init);

static void __exit ivr_exit(void)
{
	pci_unregister_driver(&ivr_driver);
	debugfs_remove_recursive(ivr.dir);
}
module_exit(ivr_exit);

MODULE_DESCRIPTION("Test: device writes to ivshmem-doorbell's doorbell register");
MODULE_LICENSE("GPL");
