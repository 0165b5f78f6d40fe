// SPDX-License-Identifier: GPL-2.0
/*
 * NTB device lending: config space virtualization of a lent function, as
 * vfio_pci_config.c does for vfio-pci.
 *
 * At the claim and at each reset, ntbl_lent_cfg_init() snapshots the function's
 * config space and builds per-byte permissions from the tables below:
 * virtual bits are served from that copy, writable bits reach the function,
 * the rest is read from the function and not written. Hidden capabilities
 * are unlinked. MSI reaches the function only aimed at one of its
 * doorbells. Documentation/ntb-lending/dataplane.rst says what is
 * virtualized.
 */

#include <linux/export.h>
#include <linux/pci.h>
#include <linux/spinlock.h>
#include <linux/unaligned.h>

#include "dataplane.h"
#include "dp_lent.h"

/* Not in the 6.12 uapi headers: VF Resizable BAR. */
#define LENT_EXT_CAP_ID_VF_REBAR	0x24

/* Most standard capabilities a config space can hold, as the PCI core counts. */
#define LENT_CAP_TTL		48

/* Extended capabilities shown at most; real functions have a dozen or two. */
#define LENT_EXT_CAP_MAX	64

#define LENT_STATUS_RW1C	(PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | \
				 PCI_STATUS_REC_TARGET_ABORT | \
				 PCI_STATUS_REC_MASTER_ABORT | \
				 PCI_STATUS_SIG_SYSTEM_ERROR | \
				 PCI_STATUS_DETECTED_PARITY)

/* --- config space: permission tables ------------------------------------ */

/**
 * struct lent_perm - how the borrower sees one register
 * @off: offset from the start of the capability (or header)
 * @size: 1, 2 or 4
 * @virt: bits served from the virtual copy, not the function
 * @write: bits the borrower may write: to the copy where virtual, to the
 *	function otherwise
 * @rw1c: write-1-to-clear bits among @write
 *
 * Bits of a register not listed are read from the function and not
 * written; so are registers not listed.
 */
struct lent_perm {
	u16 off;
	u8 size;
	u32 virt;
	u32 write;
	u32 rw1c;
};

static const struct lent_perm lent_header_perms[] = {
	/* INTx is never lent: the real INTx disable stays set. */
	{ PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_INTX_DISABLE,
	  PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |
	  PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE, 0 },
	{ PCI_STATUS, 2, PCI_STATUS_INTERRUPT | PCI_STATUS_CAP_LIST,
	  LENT_STATUS_RW1C, LENT_STATUS_RW1C },
	{ PCI_CACHE_LINE_SIZE, 1, 0xff, 0xff, 0 },
	{ PCI_LATENCY_TIMER, 1, 0xff, 0xff, 0 },
	{ PCI_BIST, 1, 0xff, 0, 0 },
	{ PCI_CAPABILITY_LIST, 1, 0xff, 0, 0 },
	{ PCI_INTERRUPT_LINE, 1, 0xff, 0xff, 0 },
	{ PCI_INTERRUPT_PIN, 1, 0xff, 0, 0 },
};

static const struct lent_perm lent_pm_perms[] = {
	/*
	 * Power states are virtual: D3hot to D0 resets a function without
	 * No_Soft_Reset, BARs included, behind the lender's back.
	 */
	{ PCI_PM_CTRL, 2, PCI_PM_CTRL_STATE_MASK,
	  PCI_PM_CTRL_STATE_MASK | PCI_PM_CTRL_PME_ENABLE |
	  PCI_PM_CTRL_PME_STATUS, PCI_PM_CTRL_PME_STATUS },
};

/*
 * MSI: one vector only (a multi-message function varies the data's low
 * bits, which would ring other doorbells); address and data are virtual
 * and reach the function only when they name a doorbell, see
 * lent_msi_commit().
 */
static const struct lent_perm lent_msi_perms[] = {
	{ PCI_MSI_FLAGS, 2,
	  PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QMASK | PCI_MSI_FLAGS_QSIZE,
	  PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE, 0 },
	{ PCI_MSI_ADDRESS_LO, 4, ~0U, ~0U, 0 },
};

static const struct lent_perm lent_msi32_perms[] = {
	{ PCI_MSI_DATA_32, 2, 0xffff, 0xffff, 0 },
};

static const struct lent_perm lent_msi64_perms[] = {
	{ PCI_MSI_ADDRESS_HI, 4, ~0U, ~0U, 0 },
	{ PCI_MSI_DATA_64, 2, 0xffff, 0xffff, 0 },
};

/* Only where the capability has per-vector masking: it ends before. */
static const struct lent_perm lent_msi32_mask_perms[] = {
	{ PCI_MSI_MASK_32, 4, 0, ~0U, 0 },
};

static const struct lent_perm lent_msi64_mask_perms[] = {
	{ PCI_MSI_MASK_64, 4, 0, ~0U, 0 },
};

/* The table is programmed through the BAR; the IOMMU confines it. */
static const struct lent_perm lent_msix_perms[] = {
	{ PCI_MSIX_FLAGS, 2, 0, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL, 0 },
};

#define LENT_DEVSTA_RW1C	(PCI_EXP_DEVSTA_CED | PCI_EXP_DEVSTA_NFED | \
				 PCI_EXP_DEVSTA_FED | PCI_EXP_DEVSTA_URD)

static const struct lent_perm lent_exp_perms[] = {
	/* No FLR: a function reset clears the BARs the window points at. */
	{ PCI_EXP_DEVCAP, 4, PCI_EXP_DEVCAP_FLR, 0, 0 },
	/* Max payload is the fabric's business, not the borrower's. */
	{ PCI_EXP_DEVCTL, 2,
	  PCI_EXP_DEVCTL_PAYLOAD | PCI_EXP_DEVCTL_PHANTOM |
	  PCI_EXP_DEVCTL_AUX_PME | PCI_EXP_DEVCTL_BCR_FLR,
	  PCI_EXP_DEVCTL_CERE | PCI_EXP_DEVCTL_NFERE | PCI_EXP_DEVCTL_FERE |
	  PCI_EXP_DEVCTL_URRE | PCI_EXP_DEVCTL_RELAX_EN |
	  PCI_EXP_DEVCTL_EXT_TAG | PCI_EXP_DEVCTL_NOSNOOP_EN |
	  PCI_EXP_DEVCTL_READRQ | PCI_EXP_DEVCTL_PAYLOAD |
	  PCI_EXP_DEVCTL_PHANTOM | PCI_EXP_DEVCTL_AUX_PME, 0 },
	{ PCI_EXP_DEVSTA, 2, 0, LENT_DEVSTA_RW1C, LENT_DEVSTA_RW1C },
	/* The link is the lender's: link control is virtual. */
	{ PCI_EXP_LNKCTL, 2, 0xffff, 0xffff, 0 },
};

static const struct lent_perm lent_exp_v2_perms[] = {
	{ PCI_EXP_DEVCTL2, 2, 0xffff, 0xffff, 0 },
	{ PCI_EXP_LNKCTL2, 2, 0xffff, 0xffff, 0 },
};

/* Capabilities the borrower never sees. */
static const u8 lent_hidden_caps[] = {
	PCI_CAP_ID_AF,		/* FLR, see lent_exp_perms */
	PCI_CAP_ID_EA,		/* fixed BAR addresses of the lender */
};

static const u16 lent_hidden_ext_caps[] = {
	PCI_EXT_CAP_ID_ATS,	/* translation requests to the lender's IOMMU */
	PCI_EXT_CAP_ID_SRIOV,	/* VFs would be the lender's devices */
	PCI_EXT_CAP_ID_PRI,
	PCI_EXT_CAP_ID_REBAR,	/* BAR sizes are fixed by the window */
	PCI_EXT_CAP_ID_PASID,
	LENT_EXT_CAP_ID_VF_REBAR,
};

static void lent_apply(struct ntbl_lent *lent, unsigned int pos,
		       const struct lent_perm *perm, unsigned int n)
{
	unsigned int i, b, at;

	for (i = 0; i < n; i++) {
		for (b = 0; b < perm[i].size; b++) {
			at = pos + perm[i].off + b;
			if (at >= lent->cfg_size)
				break;
			lent->virt[at] = perm[i].virt >> (8 * b);
			lent->write[at] = perm[i].write >> (8 * b);
			lent->rw1c[at] = perm[i].rw1c >> (8 * b);
		}
	}
}

/* Bytes [pos, pos + len) read as 0 and ignore writes. */
static void lent_hide(struct ntbl_lent *lent, unsigned int pos,
		      unsigned int len)
{
	len = min(len, lent->cfg_size - pos);
	memset(&lent->vconfig[pos], 0, len);
	memset(&lent->virt[pos], 0xff, len);
	memset(&lent->write[pos], 0, len);
	memset(&lent->rw1c[pos], 0, len);
}

static void lent_vclear(struct ntbl_lent *lent, unsigned int pos, u16 bits)
{
	put_unaligned_le16(get_unaligned_le16(&lent->vconfig[pos]) & ~bits,
			   &lent->vconfig[pos]);
}

/* End of the capability at @at: where the next one above it starts. */
unsigned int ntbl_cap_end(const u16 *pos, unsigned int n, unsigned int at,
			  unsigned int limit)
{
	unsigned int i, end = limit;

	for (i = 0; i < n; i++)
		if (pos[i] > at && pos[i] < end)
			end = pos[i];
	return end;
}

static bool lent_cap_hidden(u8 id)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(lent_hidden_caps); i++)
		if (lent_hidden_caps[i] == id)
			return true;
	return false;
}

static bool lent_ext_cap_hidden(u16 id)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(lent_hidden_ext_caps); i++)
		if (lent_hidden_ext_caps[i] == id)
			return true;
	return false;
}

static void lent_cap_perms(struct ntbl_lent *lent, unsigned int pos, u8 id)
{
	u16 flags = get_unaligned_le16(&lent->vconfig[pos + PCI_CAP_FLAGS]);

	switch (id) {
	case PCI_CAP_ID_PM:
		lent_apply(lent, pos, lent_pm_perms, ARRAY_SIZE(lent_pm_perms));
		lent_vclear(lent, pos + PCI_PM_CTRL, PCI_PM_CTRL_STATE_MASK);
		break;
	case PCI_CAP_ID_MSI:
		lent->msi_pos = pos;
		lent->msi_64 = flags & PCI_MSI_FLAGS_64BIT;
		lent_apply(lent, pos, lent_msi_perms, ARRAY_SIZE(lent_msi_perms));
		if (lent->msi_64)
			lent_apply(lent, pos, lent_msi64_perms,
				   ARRAY_SIZE(lent_msi64_perms));
		else
			lent_apply(lent, pos, lent_msi32_perms,
				   ARRAY_SIZE(lent_msi32_perms));
		if ((flags & PCI_MSI_FLAGS_MASKBIT) && lent->msi_64)
			lent_apply(lent, pos, lent_msi64_mask_perms,
				   ARRAY_SIZE(lent_msi64_mask_perms));
		else if (flags & PCI_MSI_FLAGS_MASKBIT)
			lent_apply(lent, pos, lent_msi32_mask_perms,
				   ARRAY_SIZE(lent_msi32_mask_perms));
		lent_vclear(lent, pos + PCI_MSI_FLAGS, PCI_MSI_FLAGS_ENABLE |
			    PCI_MSI_FLAGS_QMASK | PCI_MSI_FLAGS_QSIZE);
		break;
	case PCI_CAP_ID_MSIX:
		lent_apply(lent, pos, lent_msix_perms, ARRAY_SIZE(lent_msix_perms));
		break;
	case PCI_CAP_ID_EXP:
		lent_apply(lent, pos, lent_exp_perms, ARRAY_SIZE(lent_exp_perms));
		if ((flags & PCI_EXP_FLAGS_VERS) >= 2)
			lent_apply(lent, pos, lent_exp_v2_perms,
				   ARRAY_SIZE(lent_exp_v2_perms));
		put_unaligned_le32(get_unaligned_le32(&lent->vconfig[pos + PCI_EXP_DEVCAP]) &
				   ~PCI_EXP_DEVCAP_FLR, &lent->vconfig[pos + PCI_EXP_DEVCAP]);
		lent_vclear(lent, pos + PCI_EXP_DEVCTL, PCI_EXP_DEVCTL_BCR_FLR);
		break;
	}
}

/* The standard capability list, with hidden capabilities unlinked. */
static void lent_std_caps(struct ntbl_lent *lent)
{
	u16 pos[LENT_CAP_TTL];
	u8 id[LENT_CAP_TTL];
	unsigned int n = 0, i, link = PCI_CAPABILITY_LIST;
	u8 at;

	if (get_unaligned_le16(&lent->vconfig[PCI_STATUS]) & PCI_STATUS_CAP_LIST) {
		at = lent->vconfig[PCI_CAPABILITY_LIST] & ~3;
		while (at >= PCI_STD_HEADER_SIZEOF && n < LENT_CAP_TTL &&
		       lent->vconfig[at] != 0xff) {
			pos[n] = at;
			id[n++] = lent->vconfig[at];
			at = lent->vconfig[at + PCI_CAP_LIST_NEXT] & ~3;
		}
	}

	for (i = 0; i < n; i++) {
		if (lent_cap_hidden(id[i])) {
			lent_hide(lent, pos[i], ntbl_cap_end(pos, n, pos[i],
							     PCI_CFG_SPACE_SIZE) - pos[i]);
			continue;
		}
		lent->vconfig[link] = pos[i];
		link = pos[i] + PCI_CAP_LIST_NEXT;
		lent->virt[link] = 0xff;
		lent_cap_perms(lent, pos[i], id[i]);
	}
	lent->vconfig[link] = 0;
	if (link == PCI_CAPABILITY_LIST)
		lent_vclear(lent, PCI_STATUS, PCI_STATUS_CAP_LIST);
}

static void lent_ext_set_next(struct ntbl_lent *lent, unsigned int pos,
			      unsigned int next)
{
	u32 header = get_unaligned_le32(&lent->vconfig[pos]);

	header = (header & 0x000fffff) | (next << 20);
	put_unaligned_le32(header, &lent->vconfig[pos]);
}

/* The extended capability list, with hidden capabilities unlinked. */
static void lent_ext_caps(struct ntbl_lent *lent)
{
	u16 pos[LENT_EXT_CAP_MAX];
	u16 id[LENT_EXT_CAP_MAX];
	unsigned int n = 0, i, at = PCI_CFG_SPACE_SIZE;
	int prev = -1;
	u32 header;

	if (lent->cfg_size <= PCI_CFG_SPACE_SIZE)
		return;
	header = get_unaligned_le32(&lent->vconfig[at]);
	while (header && header != ~0U && n < ARRAY_SIZE(pos)) {
		pos[n] = at;
		id[n++] = PCI_EXT_CAP_ID(header);
		at = PCI_EXT_CAP_NEXT(header);
		if (at < PCI_CFG_SPACE_SIZE)
			break;
		header = get_unaligned_le32(&lent->vconfig[at]);
	}

	for (i = 0; i < n; i++) {
		if (lent_ext_cap_hidden(id[i])) {
			lent_hide(lent, pos[i], ntbl_cap_end(pos, n, pos[i],
							     lent->cfg_size) - pos[i]);
			continue;
		}
		if (prev >= 0)
			lent_ext_set_next(lent, prev, pos[i]);
		else if (pos[i] != PCI_CFG_SPACE_SIZE)
			/* The list must start at 0x100: an empty header there. */
			lent_ext_set_next(lent, PCI_CFG_SPACE_SIZE, pos[i]);
		prev = pos[i];
		lent->virt[prev + 2] |= 0xf0;
		lent->virt[prev + 3] = 0xff;
	}
	if (prev >= 0)
		lent_ext_set_next(lent, prev, 0);
}

/*
 * A VF's vendor and device ID registers read all ones (SR-IOV 1.1,
 * 3.4.1.1-2): its IDs are the PF's vendor and VF device ID, which the PCI
 * core read into the pci_dev, as vfio-pci shows them.
 */
static void lent_vf_ids(struct ntbl_lent *lent)
{
	struct pci_dev *pdev = lent->pdev;

	put_unaligned_le16(pdev->vendor, &lent->vconfig[PCI_VENDOR_ID]);
	put_unaligned_le16(pdev->device, &lent->vconfig[PCI_DEVICE_ID]);
	memset(&lent->virt[PCI_VENDOR_ID], 0xff, 4);
}

/* Snapshot the function and build the borrower's view of it. */
void ntbl_lent_cfg_init(struct ntbl_lent *lent)
{
	struct pci_dev *pdev = lent->pdev;
	unsigned int at;
	u32 val;

	lent->cfg_size = pdev->cfg_size;
	lent->msi_pos = 0;
	memset(lent->virt, 0, sizeof(lent->virt));
	memset(lent->write, 0, sizeof(lent->write));
	memset(lent->rw1c, 0, sizeof(lent->rw1c));
	for (at = 0; at < lent->cfg_size; at += 4) {
		if (pci_read_config_dword(pdev, at, &val))
			val = 0;
		put_unaligned_le32(val, &lent->vconfig[at]);
	}

	lent_apply(lent, 0, lent_header_perms, ARRAY_SIZE(lent_header_perms));
	/* The borrower emulates BARs and has no ROM or CardBus CIS. */
	lent_hide(lent, PCI_BASE_ADDRESS_0, PCI_SUBSYSTEM_VENDOR_ID - PCI_BASE_ADDRESS_0);
	lent_hide(lent, PCI_ROM_ADDRESS, 4);
	lent_hide(lent, PCI_CAPABILITY_LIST + 1, PCI_INTERRUPT_LINE - PCI_CAPABILITY_LIST - 1);
	lent_vclear(lent, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_INTX_DISABLE);
	lent_vclear(lent, PCI_STATUS, PCI_STATUS_INTERRUPT);
	lent->vconfig[PCI_INTERRUPT_PIN] = 0;
	lent->vconfig[PCI_BIST] = 0;

	if (pdev->is_virtfn)
		lent_vf_ids(lent);
	/* VFs have no INTx either: the pin reads 0 for every lent function. */
	lent_std_caps(lent);
	lent_ext_caps(lent);
}

/* --- config space: access ------------------------------------------------- */

static bool lent_cfg_access_ok(unsigned int where, unsigned int size)
{
	return (size == 1 || size == 2 || size == 4) && IS_ALIGNED(where, size) &&
	       where + size <= PCI_CFG_SPACE_EXP_SIZE;
}

static int lent_hw_read(struct pci_dev *pdev, unsigned int where,
			unsigned int size, u32 *val)
{
	u16 w;
	u8 b;
	int ret;

	switch (size) {
	case 1:
		ret = pci_read_config_byte(pdev, where, &b);
		*val = b;
		break;
	case 2:
		ret = pci_read_config_word(pdev, where, &w);
		*val = w;
		break;
	default:
		ret = pci_read_config_dword(pdev, where, val);
		break;
	}
	return pcibios_err_to_errno(ret);
}

static int lent_hw_write(struct pci_dev *pdev, unsigned int where,
			 unsigned int size, u32 val)
{
	int ret;

	switch (size) {
	case 1:
		ret = pci_write_config_byte(pdev, where, val);
		break;
	case 2:
		ret = pci_write_config_word(pdev, where, val);
		break;
	default:
		ret = pci_write_config_dword(pdev, where, val);
		break;
	}
	return pcibios_err_to_errno(ret);
}

int ntbl_lent_cfg_read(struct ntbl_lent *lent, unsigned int where,
		       unsigned int size, u32 *val)
{
	unsigned long flags;
	u32 raw = 0, out = 0, virt = 0;
	unsigned int i;
	int ret = 0;

	if (!lent_cfg_access_ok(where, size))
		return -EINVAL;
	if (where + size > lent->cfg_size) {
		*val = size == 4 ? ~0U : (1U << (8 * size)) - 1;
		return 0;
	}

	raw_spin_lock_irqsave(&lent->cfg_lock, flags);
	if (lent->state != LENT_ACTIVE) {
		ret = lent->state == LENT_GONE ? -ENODEV : -ENOLINK;
		goto unlock;
	}
	for (i = 0; i < size; i++)
		virt |= (u32)lent->virt[where + i] << (8 * i);
	if (virt != (size == 4 ? ~0U : (1U << (8 * size)) - 1)) {
		ret = lent_hw_read(lent->pdev, where, size, &raw);
		if (ret)
			goto unlock;
	}
	for (i = 0; i < size; i++)
		out |= (u32)lent->vconfig[where + i] << (8 * i);
	*val = (raw & ~virt) | (out & virt);
	if (where == PCI_COMMAND && lent->pdev->no_command_memory)
		*val |= lent->vconfig[PCI_COMMAND] & PCI_COMMAND_MEMORY;
unlock:
	raw_spin_unlock_irqrestore(&lent->cfg_lock, flags);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(ntbl_lent_cfg_read, NTB_LENDING);

/*
 * Whether writing @data to @addr rings one of the function's doorbells:
 * inside its register, not just its page, which may hold other registers
 * of the adapter (on Intel gen3 its translations), and with its value,
 * not bits of the adapter's own; cfg_lock held.
 */
static bool lent_is_doorbell(struct ntbl_lent *lent, u64 addr, u32 data)
{
	const struct lent_doorbell *db;
	unsigned int i;

	lockdep_assert_held(&lent->cfg_lock);
	for (i = 0; i < lent->nr_db; i++) {
		db = &lent->db[i];
		if (addr >= db->dev_addr && db->size >= sizeof(u32) &&
		    addr - db->dev_addr <= db->size - sizeof(u32) &&
		    data == db->data)
			return true;
	}
	return false;
}

/*
 * Program the function's MSI from the borrower's virtual capability: the
 * address must be a doorbell of this function's domain, or MSI stays off.
 * cfg_lock held.
 */
static void lent_msi_commit(struct ntbl_lent *lent)
{
	struct pci_dev *pdev = lent->pdev;
	unsigned int pos = lent->msi_pos;
	u16 vflags, ctrl, data;
	bool enable;
	u64 addr;

	vflags = get_unaligned_le16(&lent->vconfig[pos + PCI_MSI_FLAGS]);
	addr = get_unaligned_le32(&lent->vconfig[pos + PCI_MSI_ADDRESS_LO]);
	if (lent->msi_64) {
		addr |= (u64)get_unaligned_le32(&lent->vconfig[pos + PCI_MSI_ADDRESS_HI]) << 32;
		data = get_unaligned_le16(&lent->vconfig[pos + PCI_MSI_DATA_64]);
	} else {
		data = get_unaligned_le16(&lent->vconfig[pos + PCI_MSI_DATA_32]);
	}

	/*
	 * A zero message is the PCI core's deactivated vector (freed while
	 * MSI stays on): MSI goes off quietly. Anything else that is not a
	 * doorbell is the borrower aiming the function elsewhere.
	 */
	enable = (vflags & PCI_MSI_FLAGS_ENABLE) && addr;
	if (enable && !lent_is_doorbell(lent, addr, data)) {
		dev_warn_ratelimited(&pdev->dev, "borrower's MSI address %#llx is not a doorbell of this device (data %#x); MSI left disabled\n",
				     addr, data);
		enable = false;
	}

	pci_read_config_word(pdev, pos + PCI_MSI_FLAGS, &ctrl);
	ctrl &= ~(PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
	if (enable) {
		pci_write_config_dword(pdev, pos + PCI_MSI_ADDRESS_LO,
				       lower_32_bits(addr));
		if (lent->msi_64) {
			pci_write_config_dword(pdev, pos + PCI_MSI_ADDRESS_HI,
					       upper_32_bits(addr));
			pci_write_config_word(pdev, pos + PCI_MSI_DATA_64, data);
		} else {
			pci_write_config_word(pdev, pos + PCI_MSI_DATA_32, data);
		}
		ctrl |= PCI_MSI_FLAGS_ENABLE;
	}
	pci_write_config_word(pdev, pos + PCI_MSI_FLAGS, ctrl);
}

static bool lent_touches(unsigned int where, unsigned int size,
			 unsigned int reg, unsigned int len)
{
	return where < reg + len && reg < where + size;
}

int ntbl_lent_cfg_write(struct ntbl_lent *lent, unsigned int where,
			unsigned int size, u32 val)
{
	u32 hw_bits = 0, rw1c = 0, raw;
	unsigned long flags;
	unsigned int i, at;
	int ret = 0;
	u8 vw;

	if (!lent_cfg_access_ok(where, size))
		return -EINVAL;
	if (where + size > lent->cfg_size)
		return 0;

	raw_spin_lock_irqsave(&lent->cfg_lock, flags);
	if (lent->state != LENT_ACTIVE) {
		ret = lent->state == LENT_GONE ? -ENODEV : -ENOLINK;
		goto unlock;
	}
	for (i = 0; i < size; i++) {
		at = where + i;
		vw = lent->virt[at] & lent->write[at];
		lent->vconfig[at] = (lent->vconfig[at] & ~vw) | ((val >> (8 * i)) & vw);
		hw_bits |= (u32)(lent->write[at] & ~lent->virt[at]) << (8 * i);
		rw1c |= (u32)lent->rw1c[at] << (8 * i);
	}
	/*
	 * A VF has no memory space enable of its own (nor has a function
	 * quirked so): its BARs decode while its PF's SR-IOV capability has
	 * VF MSE set, which the PF's driver owns. As vfio-pci does, the
	 * write still reaches the function (read-only zero there, but some
	 * emulated VFs, QEMU's, decode only with it), and the bit reads back
	 * as the borrower wrote it.
	 */
	if (where == PCI_COMMAND && lent->pdev->no_command_memory)
		lent->vconfig[PCI_COMMAND] = (lent->vconfig[PCI_COMMAND] &
					      ~PCI_COMMAND_MEMORY) |
					     (val & PCI_COMMAND_MEMORY);
	if (hw_bits) {
		ret = lent_hw_read(lent->pdev, where, size, &raw);
		if (ret)
			goto unlock;
		/* Write-1-to-clear bits are written as given, never as read. */
		raw = (raw & ~hw_bits & ~rw1c) | (val & hw_bits);
		ret = lent_hw_write(lent->pdev, where, size, raw);
		if (ret)
			goto unlock;
	}
	if (lent->msi_pos &&
	    (lent_touches(where, size, lent->msi_pos + PCI_MSI_FLAGS, 2) ||
	     lent_touches(where, size, lent->msi_pos + (lent->msi_64 ?
			  PCI_MSI_DATA_64 : PCI_MSI_DATA_32), 2)))
		lent_msi_commit(lent);
unlock:
	raw_spin_unlock_irqrestore(&lent->cfg_lock, flags);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(ntbl_lent_cfg_write, NTB_LENDING);
