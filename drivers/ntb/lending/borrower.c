// SPDX-License-Identifier: GPL-2.0
/*
 * NTB device lending: borrowing a device a peer offers, and returning it.
 *
 * What peers offer us is recorded here (&ntbl_adapter.offers), as their
 * OFFER and WITHDRAW messages come; configfs.c shows it as offers/.
 *
 * A borrow is a mkdir of borrows/<Id>: this host opens its memory window
 * to the lender, asks for the device, and hot-adds it on a virtual host
 * bridge (dp_vbus.c) with what the lender answers: where the BARs sit in the
 * lender's window, where the device sees this host's memory, and the
 * writes that ring this host's vector doorbells. The mkdir waits for the
 * lender without the adapter's lock (the answers come in interrupt
 * context); &ntbl_adapter.busy keeps the NTB device bound meanwhile, as
 * for a return, but not while it waits for the PCI rescan lock to add the
 * device (attach_locked()). The device's driver probes without the
 * adapter's lock too, so that link events and messages are handled
 * meanwhile: a driver may wait long for a device whose link went.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ioport.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/ntb.h>
#include <linux/pci.h>
#include <linux/slab.h>

#include "ntb_lending.h"
#include "xport.h"

/*
 * The doorbell bits a borrow takes for its device's vectors, at most: a
 * pool of devices shares the adapter's bits (Documentation/ntb-lending/
 * admin-guide.rst, Limits). Read at each borrow.
 */
static unsigned int vectors_per_borrow = 4;

static int vectors_per_borrow_set(const char *val,
				  const struct kernel_param *kp)
{
	unsigned int n;

	if (kstrtouint(val, 0, &n) || !n || n > NTBL_MAX_VEC) {
		pr_err("vectors_per_borrow: give 1 to %d\n", NTBL_MAX_VEC);
		return -EINVAL;
	}
	return param_set_uint(val, kp);
}

static const struct kernel_param_ops vectors_per_borrow_ops = {
	.set = vectors_per_borrow_set,
	.get = param_get_uint,
};

module_param_cb(vectors_per_borrow, &vectors_per_borrow_ops,
		&vectors_per_borrow, 0644);
MODULE_PARM_DESC(vectors_per_borrow,
		 "Doorbell bits a borrowed device takes for its interrupt vectors, at most (1-15, default 4); a two-port adapter's bits are shared by the devices it borrows");

/* --- what peers offer us: the offers registry ----------------------------- */

/**
 * ntbl_offer_new() - record a new offer of a peer
 * @adapter: the adapter, locked
 * @lender: the peer's NodeId
 * @index: the peer's lend entry index
 *
 * The offer appears in configfs at the next sync of offers/, which makes
 * its group (ntbl_offer_next_change()).
 *
 * Return: the offer, on &ntbl_adapter.offers.
 */
struct ntbl_offer *ntbl_offer_new(struct ntbl_adapter *adapter, int lender,
				  unsigned int index)
{
	struct ntbl_offer *offer;

	lockdep_assert_held(&adapter->lock);
	/*
	 * Not to fail: the OFFER is acknowledged already, and the lender
	 * does not send it again. A peer has NTBL_MAX_LEND_INDEX + 1 at most.
	 */
	offer = kzalloc(sizeof(*offer), GFP_KERNEL | __GFP_NOFAIL);
	offer->adapter = adapter;
	offer->lender = lender;
	offer->index = index;
	list_add_tail(&offer->node, &adapter->offers);
	return offer;
}

/**
 * ntbl_offer_withdraw() - the lender no longer offers @offer
 * @offer: the offer; its adapter is locked
 *
 * An offer never shown goes at once, so that a peer that offers and
 * withdraws over and over cannot pile them up while offers/ cannot follow
 * (a borrow holds configfs' mutex while it waits for its lender); a shown
 * one goes at the next sync of offers/.
 */
void ntbl_offer_withdraw(struct ntbl_offer *offer)
{
	lockdep_assert_held(&offer->adapter->lock);
	if (offer->registered) {
		offer->gone = true;
		return;
	}
	list_del(&offer->node);
	kfree(offer);		/* its group was never made */
}

/**
 * ntbl_offer_find() - an offer not withdrawn, by lender and index
 * @adapter: the adapter, locked
 * @lender: the lender's NodeId
 * @index: its lend entry index
 *
 * Return: the offer, or NULL.
 */
struct ntbl_offer *ntbl_offer_find(struct ntbl_adapter *adapter, int lender,
				   unsigned int index)
{
	struct ntbl_offer *offer;

	lockdep_assert_held(&adapter->lock);
	list_for_each_entry(offer, &adapter->offers, node)
		if (offer->lender == lender && offer->index == index &&
		    !offer->gone)
			return offer;
	return NULL;
}

/**
 * ntbl_offers_mark_replay() - mark every shown offer to have its uevent sent again
 * @adapter: the adapter, locked
 *
 * Marks each offer that offers/ shows, or is about to show, for
 * ntbl_offer_next_change(); marking an offer marked already changes
 * nothing, so that replays asked for before the sync are sent once.
 *
 * Return: true if any offer was marked: offers/ must be synced.
 */
bool ntbl_offers_mark_replay(struct ntbl_adapter *adapter)
{
	struct ntbl_offer *offer;
	bool any = false;

	lockdep_assert_held(&adapter->lock);
	list_for_each_entry(offer, &adapter->offers, node)
		if (offer->registered && !offer->gone) {
			offer->replay = true;
			any = true;
		}
	return any;
}

/**
 * ntbl_offer_next_change() - one offer whose group in offers/ must change
 * @adapter: the adapter, locked
 * @change: OUT - NTBL_OFFER_GONE: the offer went; it is off the list, its
 *	group is in configfs and is the caller's to remove and put.
 *	NTBL_OFFER_NEW: the caller makes its group and registers it.
 *	NTBL_OFFER_REPLAY: its group is in configfs; the caller sends its
 *	uevent again (ntbl_offers_mark_replay())
 *
 * Gone ones come first, replays last, so that a replay never comes before
 * the offer's first uevent. @change is decided under the lock: a
 * withdrawal may mark the offer gone as soon as the lock is dropped, and
 * the next call returns it again.
 *
 * Return: the offer, or NULL when offers/ shows every offer and has
 * nothing to send again.
 */
struct ntbl_offer *ntbl_offer_next_change(struct ntbl_adapter *adapter,
					  enum ntbl_offer_change *change)
{
	struct ntbl_offer *offer;

	lockdep_assert_held(&adapter->lock);
	list_for_each_entry(offer, &adapter->offers, node)
		if (offer->gone) {
			list_del(&offer->node);
			*change = NTBL_OFFER_GONE;
			return offer;
		}
	list_for_each_entry(offer, &adapter->offers, node)
		if (!offer->registered) {
			offer->registered = true;
			*change = NTBL_OFFER_NEW;
			return offer;
		}
	list_for_each_entry(offer, &adapter->offers, node)
		if (offer->replay) {
			offer->replay = false;
			*change = NTBL_OFFER_REPLAY;
			return offer;
		}
	return NULL;
}

/**
 * ntbl_offer_drop() - offers/ could not show a new offer: forget it
 * @offer: from ntbl_offer_next_change(), new; its adapter is locked
 *
 * It leaves the list; the caller puts its group.
 */
void ntbl_offer_drop(struct ntbl_offer *offer)
{
	lockdep_assert_held(&offer->adapter->lock);
	list_del(&offer->node);
}

/**
 * ntbl_offers_forget() - forget what a peer offered us
 * @peer: the peer, gone away or started over; its adapter is locked
 */
void ntbl_offers_forget(struct ntbl_peer *peer)
{
	struct ntbl_offer *offer, *tmp;

	list_for_each_entry_safe(offer, tmp, &peer->adapter->offers, node)
		if (offer->lender == peer->port)
			ntbl_offer_withdraw(offer);
}

/**
 * ntbl_rx_offer() - a peer offers a device, or tells its new state
 * @peer: the peer; its adapter is locked
 * @msg: OFFER (struct ntbl_wire_offer); untrusted
 */
void ntbl_rx_offer(struct ntbl_peer *peer, const struct ntbl_msg *msg)
{
	struct ntbl_adapter *adapter = peer->adapter;
	struct ntbl_offer *offer;
	struct ntbl_wire_offer wo;

	if (ntbl_unpack_offer(msg, &wo) || wo.index > NTBL_MAX_LEND_INDEX ||
	    wo.state > 1 || wo.class > 0xffffff ||
	    (wo.borrower != (u32)-1 && wo.borrower > 0xffff))
		return ntbl_bad_msg(peer, msg);
	offer = ntbl_offer_find(adapter, peer->port, wo.index);
	if (!offer)
		offer = ntbl_offer_new(adapter, peer->port, wo.index);
	offer->borrowed = wo.state;
	offer->bdf = wo.bdf;
	offer->vendor = wo.vendor;
	offer->device = wo.device;
	offer->class = wo.class;
}

/**
 * ntbl_rx_withdraw() - a peer no longer offers a device
 * @peer: the peer; its adapter is locked
 * @msg: WITHDRAW (index); untrusted
 */
void ntbl_rx_withdraw(struct ntbl_peer *peer, const struct ntbl_msg *msg)
{
	struct ntbl_offer *offer, *tmp;
	u32 index;

	if (ntbl_unpack_withdraw(msg, &index))
		return ntbl_bad_msg(peer, msg);
	list_for_each_entry_safe(offer, tmp, &peer->adapter->offers, node)
		if (offer->lender == peer->port && offer->index == index)
			ntbl_offer_withdraw(offer);
}

/* --- borrowing ------------------------------------------------------------ */

static int ram_end(struct resource *res, void *arg)
{
	u64 *end = arg;

	*end = max_t(u64, *end, res->end + 1);
	return 0;
}

/*
 * Open window NTBL_MW_MEMORY of @peer onto all of this host's memory; on
 * two ports every device borrowed from @peer reaches it through it.
 */
static int open_memory(struct ntbl_peer *peer, u64 *size)
{
	resource_size_t align, size_max;
	u64 end = 0;
	int ret;

	walk_iomem_res_desc(IORES_DESC_NONE,
			    IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY, 0, U64_MAX,
			    &end, ram_end);
	/* On a switch the lender picks a window of its own for it. */
	if (peer->adapter->switched) {
		*size = PAGE_ALIGN(end);
		return 0;
	}
	ret = ntb_mw_get_align(peer->ntb, peer->pidx, NTBL_MW_MEMORY, &align,
			       NULL, &size_max);
	if (ret)
		return ret;
	*size = round_up(end, max_t(u64, align, PAGE_SIZE));
	if (*size > size_max) {
		dev_err(&peer->ntb->dev,
			"window %d reaches %llu bytes, this host's memory ends at %llu: the device could not reach it; use an adapter with larger windows\n",
			NTBL_MW_MEMORY, (u64)size_max, end);
		return -E2BIG;
	}
	mutex_lock(&peer->adapter->win_lock);
	ret = peer->xlat[NTBL_MW_MEMORY] == *size;
	mutex_unlock(&peer->adapter->win_lock);
	if (ret)
		return 0;	/* open for another borrow */
	return ntbl_set_window(peer, NTBL_MW_MEMORY, 0, *size);
}

/*
 * Close the window of a borrow that is off &ntbl_peer.borrows: on a switch
 * its own to the device, on two ports the one to our memory once the last
 * borrow from @peer is over.
 */
static void close_windows(struct ntbl_borrow *borrow, struct ntbl_peer *peer)
{
	lockdep_assert_held(&peer->adapter->lock);
	if (peer->adapter->switched) {
		ntbl_clear_window(peer, borrow->widx);
		borrow->widx = -1;
	} else if (list_empty(&peer->borrows)) {
		ntbl_clear_window(peer, NTBL_MW_MEMORY);
	}
}

/*
 * Known errnos of a lender pass through; anything else is an I/O error
 * (the borrower's line and the lender's own say which).
 */
static int lender_errno(int status)
{
	switch (status) {
	case 0:
	case -ENOENT:
	case -EBUSY:
	case -E2BIG:
	case -EINVAL:
	case -ENOSPC:
	case -ENODEV:
	case -ENOMEM:
	case -ENOBUFS:
	case -EOPNOTSUPP:
	case -EPERM:
		return status;
	}
	return -EIO;
}

/*
 * Whether the lender gave the device @got of the doorbell bits we @asked
 * for: on two ports all of them, on a switch a run of some; a run, since
 * a vector's bit is its offset from the lowest (ntbl_borrow_db()).
 */
static bool vectors_ok(struct ntbl_peer *peer, u64 asked, u64 got)
{
	if (!got || got & ~asked)
		return false;
	if (!peer->adapter->switched)
		return got == asked;
	got >>= __ffs64(got);
	return !(got & (got + 1));
}

/*
 * The interrupt that a ring of our doorbell bit @bit raises, or 0 if it
 * cannot be told. The NTB API names a bit's db vector
 * (ntb_db_vector_mask()) but not its interrupt; an adapter with several
 * vectors has them as its function's MSI-X vectors, db vector N being
 * MSI-X vector N (ntb_hw_intel, ntb_hw_amd, ntb_sim's ivshmem), so the
 * vector's own affinity says where the bit's handlers run. A lone vector
 * (an edu adapter, MSI or INTx) tells nothing worth steering by.
 */
static unsigned int db_irq(struct ntb_dev *ntb, unsigned int bit)
{
	int v, n = ntb_db_vector_count(ntb), irq;

	if (n < 2 || !ntb->pdev || !ntb->pdev->msix_enabled)
		return 0;
	for (v = 0; v < n; v++) {
		if (!(ntb_db_vector_mask(ntb, v) & BIT_ULL(bit)))
			continue;
		irq = pci_irq_vector(ntb->pdev, v);
		return irq > 0 ? irq : 0;
	}
	return 0;
}

/*
 * Ask the lender for the device, its vectors ringing of the doorbell bits
 * in @vectors; fill @info and @borrow->db from its answers, and @vectors
 * with the bits it gave the device. A refusal of the lender's is also
 * left in @refused as it sent it; other failures leave it 0.
 */
static int ask(struct ntbl_borrow *borrow, u64 *vectors, u64 mem_size,
	       struct ntbl_vbus_info *info, int *refused)
{
	struct ntbl_peer *peer = borrow->peer;
	struct ntbl_wire_borrow req = {
		.index = borrow->index,
		.vectors = *vectors,
		.tag = ntbl_next_tag(peer),
		/* On a switch the lender translates its window onto it. */
		.mem_size = mem_size,
	};
	unsigned int epoch, i;
	struct ntbl_wire_status head;
	struct ntbl_wire_bars bars;
	struct ntbl_wire_db dbs;
	struct ntbl_msg msg;
	int ret, bad;

	ntbl_pack_borrow(&msg, &req, peer->adapter->switched);
	epoch = ntbl_chan_epoch(peer);
	ret = ntbl_chan_send(peer, &msg);
	if (!ret)
		ret = ntbl_chan_wait_reply(peer, epoch, NTBL_MSG_BORROW_BARS,
					   req.tag, &msg);
	if (ret)
		return ret;
	if (ntbl_unpack_status(&msg, &head))
		return -EIO;
	ret = lender_errno(head.status);
	if (ret) {
		*refused = head.status;
		return ret;
	}
	/* Checked once BORROW_DB is taken too, which the lender sent. */
	bad = ntbl_unpack_borrow_bars(&msg, &bars, peer->adapter->switched);
	ret = ntbl_chan_wait_reply(peer, epoch, NTBL_MSG_BORROW_DB, req.tag,
				   &msg);
	if (ret)
		return ret;
	if (bad || ntbl_unpack_borrow_db(&msg, &dbs) ||
	    !vectors_ok(peer, *vectors, dbs.vectors))
		return -EIO;
	*vectors = dbs.vectors;
	/* Where the device is on the lender, until attach() translates. */
	if (peer->adapter->switched)
		info->win_phys = bars.span_phys;
	else
		borrow->widx = bars.widx;

	info->dma_dev_addr = bars.mem_addr;
	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		info->bar[i].offset = bars.bar[i].offset;
		info->bar[i].size = bars.bar[i].size;
		info->bar[i].flags = bars.bar[i].flags;
	}
	info->win_size = bars.span_size;
	for (i = 0; i < dbs.nr; i++) {
		borrow->db[i].addr = dbs.db[i].addr;
		borrow->db[i].data = dbs.db[i].data;
		/* Entry i rings the bit i above the lowest (vectors_ok()). */
		borrow->db_irq[i] = db_irq(peer->ntb, __ffs64(dbs.vectors) + i);
	}
	info->db = borrow->db;
	info->db_irq = borrow->db_irq;
	info->nr_db = dbs.nr;
	info->dma_phys = 0;
	info->dma_size = mem_size;
	return 0;
}

/*
 * Tell the lender we are done; wait a while for it, not forever, without
 * the adapter's lock (ntbl_wait_reply_unlocked()). The caller holds it, and
 * nothing it needs afterwards can change meanwhile: the borrow is off
 * &ntbl_adapter.borrows, or reserved and not on it yet.
 */
static void give_back(struct ntbl_peer *peer, unsigned int index)
{
	unsigned int epoch = ntbl_chan_epoch(peer);
	u32 tag = ntbl_next_tag(peer);
	struct ntbl_msg msg, reply;

	ntbl_pack_return(&msg, index, tag);
	if (!ntbl_chan_send(peer, &msg))
		ntbl_wait_reply_unlocked(peer, epoch, NTBL_MSG_RETURN_DONE, tag,
					 &reply);
}

/*
 * Whether the lender's window for @borrow, on two ports, is one it may
 * use: any but the one to our memory, and none that leads to another
 * device borrowed from it.
 */
static bool window_ok(struct ntbl_borrow *borrow)
{
	struct ntbl_peer *peer = borrow->peer;
	struct ntbl_borrow *other;

	if (borrow->widx < 0 || borrow->widx == NTBL_MW_MEMORY ||
	    borrow->widx >= ntb_peer_mw_count(peer->ntb))
		return false;
	list_for_each_entry(other, &peer->borrows, peer_node)
		if (other != borrow && other->vbus &&
		    other->widx == borrow->widx)
			return false;
	return true;
}

/* On a switch, whether no other borrow from the lender rings @vectors. */
static bool vectors_free(struct ntbl_borrow *borrow, u64 vectors)
{
	struct ntbl_borrow *other;

	list_for_each_entry(other, &borrow->peer->borrows, peer_node)
		if (other != borrow && other->vectors & vectors)
			return false;
	return true;
}

/*
 * On a switch, translate one of our windows onto the span of the device's
 * BARs at @info->win_phys on the lender; where the span starts in the
 * window into @offset.
 */
static int open_device_window(struct ntbl_borrow *borrow,
			      struct ntbl_vbus_info *info, u64 *offset)
{
	struct ntbl_peer *peer = borrow->peer;
	u64 size = info->win_size, base = 0, largest;
	char held[256];
	int widx, ret;

	widx = ntbl_pick_outbound(peer, info->win_phys, &size, &base,
				  &largest);
	if (widx == -E2BIG) {
		dev_err(&peer->ntb->dev, "node %d lends a device whose BARs need a window of %llu bytes; the largest of this host holds %llu\n",
			peer->port, info->win_size, largest);
		return widx;
	}
	if (widx < 0) {
		ntbl_outbound_holders(peer->adapter, held, sizeof(held));
		dev_err(&peer->ntb->dev, "no window left for a device from node %d: every one that would hold its BARs is in use (%s)\n",
			peer->port, held);
		return widx;
	}
	ret = ntbl_set_window(peer, widx, base, size);
	if (ret)
		return ret;
	borrow->widx = widx;
	*offset = info->win_phys - base;
	return 0;
}

/*
 * Whether the device's driver will claim its BARs in the window
 * (pci_request_mem_regions()): not where something holds the window busy
 * in iomem, as ntb_hw_intel, ntb_hw_amd and ntb_hw_idt hold their windows
 * (dataplane.rst). Checked here, so that the borrow is refused with a
 * line that says so rather than the driver's probe failing. Not by a
 * trial claim: one that could not allocate its resource fails as if the
 * window were busy, and a refusal must not blame the adapter, or say
 * -EBUSY, for memory that ran out.
 */
static int bars_claimable(struct ntbl_peer *peer,
			  const struct ntbl_vbus_info *info)
{
	resource_size_t start;
	int i;

	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		/* One outside the span is refused when the bus places it. */
		if (!info->bar[i].size || info->bar[i].offset > info->win_size ||
		    info->bar[i].size > info->win_size - info->bar[i].offset)
			continue;
		start = info->win_phys + info->bar[i].offset;
		if (region_intersects(start, info->bar[i].size,
				      IORESOURCE_MEM | IORESOURCE_BUSY,
				      IORES_DESC_NONE) == REGION_DISJOINT)
			continue;
		dev_err(&peer->ntb->dev, "the window onto node %d's device is claimed busy in iomem, as ntb_hw_intel claims its window BARs: its driver could not claim BAR %d at %pa (see /proc/iomem)\n",
			peer->port, i, &start);
		return -EOPNOTSUPP;
	}
	return 0;
}

static int attach(struct ntbl_borrow *borrow, struct ntbl_vbus_info *info,
		  u64 vectors)
{
	struct ntbl_peer *peer = borrow->peer;
	resource_size_t wsize;
	struct ntbl_vbus *vbus;
	phys_addr_t win;
	u64 span = info->win_size, offset = 0;
	int ret;

	if (peer->adapter->switched) {
		if (!vectors_free(borrow, vectors)) {
			dev_err(&peer->ntb->dev, "node %d gave a device doorbell bits %#llx that another device of its rings here\n",
				peer->port, vectors);
			return -EIO;
		}
		ret = open_device_window(borrow, info, &offset);
		if (ret)
			return ret;
	} else if (!window_ok(borrow)) {
		dev_err(&peer->ntb->dev, "node %d lends a device through window %d, which this host cannot use for it\n",
			peer->port, borrow->widx);
		return -EIO;
	}
	/* Address-transparent windows: read it once it is translated. */
	ret = ntb_peer_mw_get_addr(peer->ntb, borrow->widx, &win, &wsize);
	if (ret)
		return ret;
	if (offset + span > wsize)
		return -E2BIG;
	info->parent = &peer->ntb->dev;
	info->ops = &ntbl_rpc_ops;
	info->priv = borrow;
	info->win_phys = win + offset;
	ret = bars_claimable(peer, info);
	if (ret)
		return ret;
	vbus = ntbl_vbus_create(info);
	/* Its -ENOSPC is BARs the lender placed outside their span. */
	if (IS_ERR(vbus))
		return PTR_ERR(vbus) == -ENOSPC ? -EIO : PTR_ERR(vbus);
	borrow->vbus = vbus;
	WRITE_ONCE(borrow->vectors, vectors);
	/*
	 * On &ntbl_peer.borrows since reserve(): the doorbells run it from
	 * now on, and find @vbus and @vectors set (ntbl_borrow_db()).
	 */
	smp_store_release(&borrow->state, NTBL_BORROW_BORROWED);
	strscpy(borrow->local_bdf, pci_name(ntbl_vbus_pci_dev(vbus)),
		sizeof(borrow->local_bdf));
	return 0;
}

static void borrow_uevent(struct ntbl_borrow *borrow, const char *event)
{
	struct ntbl_uevent ev = {};

	ntbl_uevent_add(&ev, "NTB_LENDING_EVENT=%s", event);
	ntbl_uevent_add(&ev, "NTB_LENDING_ID=" NTBL_ID_FMT,
			ntbl_offer_id(borrow->lender, borrow->index));
	ntbl_uevent_add(&ev, "NTB_LENDING_NODE=%d", borrow->lender);
	ntbl_uevent_add(&ev, "NTB_LENDING_LOCAL_BDF=%s", borrow->local_bdf);
	ntbl_uevent_send(borrow->adapter, &ev);
}

/*
 * Take the doorbell bits for a borrow's vectors, into @ask: on two ports a
 * run of up to vectors_per_borrow of the bits no other borrow holds (the
 * first run that long, or else the longest), so that several devices
 * share the adapter's bits; on a switch the lender's share, of which it
 * gives the device what no other device of its rings (BORROW_DB).
 * -ENOSPC, with the line that says who holds them, if none is left.
 */
static int take_vectors(struct ntbl_borrow *borrow, const char *name,
			u64 *ask)
{
	unsigned int per_borrow = READ_ONCE(vectors_per_borrow);
	struct ntbl_adapter *adapter = borrow->adapter;
	u64 pool = ntbl_vector_bits(adapter, borrow->lender);
	u64 used = 0, free, run, best = 0;
	struct ntbl_borrow *other;
	char held[128] = "";
	int i, bit, len = 0;

	if (adapter->switched) {
		while (hweight64(pool) > NTBL_MAX_VEC)
			pool &= ~BIT_ULL(fls64(pool) - 1);
		*ask = pool;
		return 0;
	}
	for (i = 0; i < adapter->npeers; i++)
		list_for_each_entry(other, &adapter->peers[i].borrows, peer_node)
			used |= other->vectors;
	free = pool & ~used;
	for_each_set_bit(bit, (unsigned long *)&free, 64) {
		for (run = 0; bit < 64 && (free & BIT_ULL(bit)) &&
		     hweight64(run) < per_borrow; bit++)
			run |= BIT_ULL(bit);
		if (hweight64(run) > hweight64(best))
			best = run;
	}
	if (best) {
		borrow->vectors = best;
		*ask = best;
		return 0;
	}
	list_for_each_entry(other, &adapter->borrows, node)
		if (len < sizeof(held) - 1)
			len += scnprintf(held + len, sizeof(held) - len, "%s" NTBL_ID_FMT,
					 len ? ", " : "",
					 ntbl_offer_id(other->lender, other->index));
	pr_err("borrows/%s: no doorbell bits left for its interrupts: all %d that devices may ring are held (by %s)\n",
	       name, (int)hweight64(pool), len ? held : "borrows starting");
	return -ENOSPC;
}

/*
 * Find and reserve the lender, and the doorbell bits to ask it for into
 * @vectors; with the adapter locked.
 */
static int reserve(struct ntbl_borrow *borrow, const char *name, u64 *vectors)
{
	struct ntbl_adapter *adapter = borrow->adapter;
	struct ntbl_borrow *other;
	struct ntbl_offer *offer;
	struct ntbl_peer *peer;
	unsigned int starting = 0;
	char held[256];
	int i, ret;

	offer = ntbl_offer_find(adapter, borrow->lender, borrow->index);
	if (!offer) {
		pr_err("borrows/%s: no such offer; see offers/\n", name);
		return -ENOENT;
	}
	if (offer->borrowed) {
		pr_err("borrows/%s: borrowed already\n", name);
		return -EBUSY;
	}
	peer = ntbl_peer_by_node(adapter, borrow->lender);
	if (!peer || !peer->up) {
		pr_err("borrows/%s: node %d cannot be reached\n", name,
		       borrow->lender);
		return -ENOLINK;
	}
	/*
	 * Not by its offer's state alone, which comes later than our borrow
	 * (or not at all from a lender that lies): a second borrow of it
	 * here would be refused by the lender, and its give_back() would
	 * return the first.
	 */
	list_for_each_entry(other, &peer->borrows, peer_node)
		if (other->index == borrow->index) {
			pr_err("borrows/%s: this host borrows it already\n",
			       name);
			return -EBUSY;
		}
	if (adapter->xport->borrow_check(peer, name,
					 ntbl_vector_bits(adapter, borrow->lender)))
		return -EOPNOTSUPP;
	/*
	 * A switch's borrow takes a window of ours, once the lender answered:
	 * refused before asking if the borrows starting already take the
	 * windows left.
	 */
	for (i = 0; adapter->switched && i < adapter->npeers; i++)
		list_for_each_entry(other, &adapter->peers[i].borrows, peer_node)
			starting += other->widx < 0;
	if (adapter->switched && ntbl_outbound_free(adapter) <= starting) {
		ntbl_outbound_holders(adapter, held, sizeof(held));
		pr_err("borrows/%s: no window of this host is left for the device: all are in use (%s)%s\n",
		       name, held, starting ? " or taken by borrows starting" : "");
		return -ENOSPC;
	}
	ret = take_vectors(borrow, name, vectors);
	if (ret)
		return ret;
	borrow->peer = peer;
	list_add_tail_rcu(&borrow->peer_node, &peer->borrows);	/* reserved */
	adapter->busy++;
	return 0;
}

static void busy_done(struct ntbl_adapter *adapter)
{
	lockdep_assert_held(&adapter->lock);
	if (!--adapter->busy)
		wake_up_all(&adapter->idle);
}

/* Undo reserve(); @busy: the borrow still counts in &ntbl_adapter.busy. */
static void unreserve(struct ntbl_borrow *borrow, bool busy)
{
	struct ntbl_adapter *adapter = borrow->adapter;

	lockdep_assert_held(&adapter->lock);
	list_del_rcu(&borrow->peer_node);
	close_windows(borrow, borrow->peer);
	if (busy)
		busy_done(adapter);
}

/*
 * Take @borrow's device out of this host's tree, its driver's removal
 * without the adapter's lock: a driver whose device's link goes meanwhile
 * waits for its own timeouts, and link events and messages are handled
 * meanwhile. It counts in &ntbl_adapter.busy, which an unbind of the
 * adapter waits for, as for a probe (attach_locked()); a return waits for
 * the PCI rescan/remove lock, which the caller holds. detach() does the
 * rest.
 * Context: the rescan lock held, the adapter locked and unlocked meanwhile.
 */
static void remove_device(struct ntbl_borrow *borrow)
{
	struct ntbl_adapter *adapter = borrow->adapter;

	lockdep_assert_held(&adapter->lock);
	adapter->busy++;
	mutex_unlock(&adapter->lock);
	ntbl_vbus_remove(borrow->vbus);
	mutex_lock(&adapter->lock);
	busy_done(adapter);
}

/*
 * Take the device out of this host's tree; with the adapter locked, and
 * the PCI rescan/remove lock before it (ntbl_vbus_remove()).
 * @lost: the lender is gone, the driver must see the device gone too;
 * @event: the uevent that tells why, or NULL for a borrow never announced.
 */
static void detach(struct ntbl_borrow *borrow, bool lost, const char *event)
{
	struct ntbl_peer *peer = borrow->peer;

	if (lost) {
		WRITE_ONCE(borrow->state, NTBL_BORROW_LOST);
		ntbl_vbus_link_lost(borrow->vbus);
	}
	ntbl_vbus_remove(borrow->vbus);
	list_del_rcu(&borrow->peer_node);
	synchronize_rcu();
	ntbl_vbus_free(borrow->vbus);
	borrow->vbus = NULL;
	if (event)
		borrow_uevent(borrow, event);
	borrow->local_bdf[0] = '\0';
	borrow->vectors = 0;
	close_windows(borrow, peer);
	if (lost)
		borrow->peer = NULL;
}

/*
 * Remove the device of a borrow that a message or link event ended, and
 * confirm a revocation; @announced: its "borrow" uevent was sent, and its
 * end has one too. Locked as for detach().
 */
static void remove_ended(struct ntbl_borrow *borrow, bool announced)
{
	struct ntbl_peer *peer = borrow->peer;
	bool lost = borrow->end == NTBL_BORROW_LENDER_LOST;

	detach(borrow, lost, !announced ? NULL : lost ? "lost" : "revoked");
	WRITE_ONCE(borrow->state, NTBL_BORROW_LOST);
	borrow->peer = NULL;
	if (!lost && peer->up)
		ntbl_reply(peer, NTBL_MSG_REVOKE_DONE, borrow->end_tag, 0);
}

/*
 * Add the device the lender answered for: under the PCI rescan/remove
 * lock, which comes before the adapter's (ntb_lending.h). The PCI core's
 * hot-removal of the adapter takes it before ntbl_remove() takes ours and
 * waits for &ntbl_adapter.busy, so the borrow stops counting there before
 * it waits for the rescan lock. Meanwhile the adapter's removal may let go
 * of it (ntbl_borrow_let_go(): @borrow->peer is then NULL), or the lender
 * take it back, go away or start over (@borrow->end): the lender no longer
 * lends it, and nothing is given back.
 *
 * The driver probes without the adapter's lock, counting in busy again
 * (with the rescan lock held no hot-removal of the adapter is under way):
 * a driver whose device's link goes mid-probe waits for its own timeout
 * (nvme's admin timeout), and meanwhile the adapter's work marks the
 * borrow ended, and serves other peers. A borrow that ended meanwhile has
 * its device removed here; @gone then tells the caller it is off
 * &ntbl_peer.borrows.
 *
 * Context: the adapter locked, and unlocked meanwhile.
 */
static int attach_locked(struct ntbl_borrow *borrow,
			 struct ntbl_vbus_info *info, u64 vectors, bool *gone)
{
	struct ntbl_adapter *adapter = borrow->adapter;
	int ret;

	/*
	 * The copy of config space first, without locks, still counting in
	 * busy: user reads (lspci), which have interrupts off, read only the
	 * copy, and the scan and the probe read the read-only registers they
	 * look for again and again (capability lists) from it. A lender lost
	 * or a link gone meanwhile stops it (rpc_hopeless()).
	 */
	mutex_unlock(&adapter->lock);
	ntbl_rpc_prefetch(borrow);
	mutex_lock(&adapter->lock);
	busy_done(adapter);
	mutex_unlock(&adapter->lock);
	pci_lock_rescan_remove();
	mutex_lock(&adapter->lock);
	if (!borrow->peer || !borrow->peer->up ||
	    borrow->end != NTBL_BORROW_GOES_ON)
		ret = -ENOLINK;
	else
		ret = attach(borrow, info, vectors);
	if (!ret) {
		adapter->busy++;
		mutex_unlock(&adapter->lock);
		ntbl_vbus_add(borrow->vbus);
		mutex_lock(&adapter->lock);
		/* Still counting, so that an unbind waits for the removal. */
		if (borrow->end != NTBL_BORROW_GOES_ON) {
			remove_device(borrow);
			remove_ended(borrow, false);
			*gone = true;
			ret = -ENOLINK;
		}
		busy_done(adapter);
	}
	pci_unlock_rescan_remove();
	return ret;
}

/**
 * ntbl_borrow_start() - borrow offer <name> of an adapter (mkdir borrows/<Id>)
 * @adapter: the adapter, not locked
 * @name: the offer's Id
 *
 * Context: process; sleeps until the lender answered, the device was added
 * to this host's PCI tree (its driver may still be probing) and its config
 * space was copied.
 * Return: the borrow, or an ERR_PTR with the errno for mkdir.
 */
struct ntbl_borrow *ntbl_borrow_start(struct ntbl_adapter *adapter,
				      const char *name)
{
	struct ntbl_vbus_info info = {};
	struct ntbl_borrow *borrow;
	unsigned long id;
	u64 mem_size = 0, vec_mask;
	int ret, lender_said = 0, refused = 0;
	bool asked = false, busy = true, gone = false;
	char canon[16] = "";

	/* One name per offer, as offers/ writes it: not "0x10000" or "+0". */
	if (!kstrtoul(name, 16, &id) && id <= 0xffffffff)
		snprintf(canon, sizeof(canon), NTBL_ID_FMT, (u32)id);
	if (strcmp(canon, name)) {
		pr_err("borrows/%s: name it after an Id in offers/\n", name);
		return ERR_PTR(-EINVAL);
	}
	/* Its own line rather than the allocator's: every refusal has one. */
	borrow = kzalloc(sizeof(*borrow), GFP_KERNEL | __GFP_NOWARN);
	if (!borrow) {
		pr_err("borrows/%s: out of memory for the borrow\n", name);
		return ERR_PTR(-ENOMEM);
	}
	borrow->adapter = adapter;
	borrow->lender = id >> 16;
	borrow->index = id & 0xffff;
	borrow->state = NTBL_BORROW_STARTING;
	borrow->widx = -1;

	mutex_lock(&adapter->lock);
	ret = reserve(borrow, name, &vec_mask);
	if (!ret)
		ret = open_memory(borrow->peer, &mem_size);
	mutex_unlock(&adapter->lock);
	if (ret && !borrow->peer)
		goto err_free;
	if (!ret) {
		asked = true;
		ret = ask(borrow, &vec_mask, mem_size, &info, &refused);
		lender_said = ret;
	}

	mutex_lock(&adapter->lock);
	if (!ret && !borrow->peer->up)
		ret = -ENOLINK;
	if (!ret) {
		ret = attach_locked(borrow, &info, vec_mask, &gone);
		busy = false;
	}
	if (gone) {
		pr_err("borrows/%s: node %d went away, or took the device back, while its driver probed; it is removed again\n",
		       name, borrow->lender);
		mutex_unlock(&adapter->lock);
		goto err_free;
	}
	if (ret && !borrow->peer) {
		/* The adapter went meanwhile, and let go of the borrow. */
		pr_err("borrows/%s: the adapter was removed while node %d lent the device\n",
		       name, borrow->lender);
		mutex_unlock(&adapter->lock);
		synchronize_rcu();
		goto err_free;
	}
	if (ret) {
		/* The lender may have lent it even if its answer was lost. */
		if (asked && ret != -ENOLINK && borrow->peer->up)
			give_back(borrow->peer, borrow->index);
		/* Whose failure it was: the lender's, or this host's. */
		if (refused == -ENOSPC)
			pr_err("borrows/%s: node %d has no room left for the device (a window, on a switch a doorbell bit, or IOMMU space); its kernel log says which and who holds it\n",
			       name, borrow->lender);
		else if (refused == -EPERM)
			pr_err("borrows/%s: node %d refused to lend the device: lending it would let this host reach more of node %d than the device; its kernel log says what\n",
			       name, borrow->lender, borrow->lender);
		else if (refused)
			pr_err("borrows/%s: node %d refused to lend the device (%pe); its kernel log says why\n",
			       name, borrow->lender, ERR_PTR(refused));
		else if (!asked)
			pr_err("borrows/%s: cannot open window %d onto this host's memory for node %d: %pe\n",
			       name, NTBL_MW_MEMORY, borrow->lender,
			       ERR_PTR(ret));
		else if (lender_said)
			pr_err("borrows/%s: asking node %d for the device failed: %pe\n",
			       name, borrow->lender, ERR_PTR(ret));
		else if (ret == -ENOLINK)
			pr_err("borrows/%s: node %d went away, or took the device back, before it was added here\n",
			       name, borrow->lender);
		else if (ret == -ENOSPC)
			pr_err("borrows/%s: this host has no window left for the device\n",
			       name);
		else
			pr_err("borrows/%s: node %d lent the device, but it could not be added here (%pe); it is given back\n",
			       name, borrow->lender, ERR_PTR(ret));
		unreserve(borrow, busy);
		mutex_unlock(&adapter->lock);
		/* ntbl_borrow_db() may still be reading it. */
		synchronize_rcu();
		goto err_free;
	}
	list_add_tail(&borrow->node, &adapter->borrows);
	dev_info(&borrow->peer->ntb->dev, "borrowed %s from node %d as %s\n",
		 name, borrow->lender, borrow->local_bdf);
	borrow_uevent(borrow, "borrow");
	mutex_unlock(&adapter->lock);
	return borrow;

err_free:
	kfree(borrow);
	return ERR_PTR(ret);
}

/**
 * ntbl_borrow_return() - return a borrowed device (rmdir borrows/<Id>)
 * @borrow: the borrow
 *
 * The device is removed under the PCI rescan/remove lock, its driver's
 * removal without the adapter's lock, as its probe ran (attach_locked()):
 * a driver whose device's link goes meanwhile waits for its own timeouts,
 * and the adapter's work goes on and marks the borrow ended. Then, with
 * the adapter's lock, the rest is undone and the lender told, and waited
 * for a little unless it is gone, with the adapter's lock alone: its
 * answer may need the rescan lock on its side, which on ntb_sim is ours.
 * A borrow the lender revoked meanwhile is confirmed instead; one whose
 * lender went is not told.
 *
 * Context: process; takes both locks.
 */
void ntbl_borrow_return(struct ntbl_borrow *borrow)
{
	enum ntbl_borrow_end end = NTBL_BORROW_GOES_ON;
	struct ntbl_adapter *adapter = borrow->adapter;
	struct ntbl_peer *peer = NULL;

	pci_lock_rescan_remove();
	mutex_lock(&adapter->lock);
	list_del(&borrow->node);
	if (borrow->state == NTBL_BORROW_BORROWED)
		remove_device(borrow);
	if (borrow->state == NTBL_BORROW_BORROWED) {
		end = borrow->end;
		peer = borrow->peer;
		/* Ended meanwhile: the uevent says how, as the work's would. */
		detach(borrow, end == NTBL_BORROW_LENDER_LOST,
		       end == NTBL_BORROW_LENDER_LOST ? "lost" :
		       end == NTBL_BORROW_REVOKED ? "revoked" : "return");
		WRITE_ONCE(borrow->state, NTBL_BORROW_LOST);
		borrow->peer = NULL;
	}
	pci_unlock_rescan_remove();
	if (peer && peer->up && end == NTBL_BORROW_REVOKED)
		ntbl_reply(peer, NTBL_MSG_REVOKE_DONE, borrow->end_tag, 0);
	else if (peer && peer->up && end == NTBL_BORROW_GOES_ON)
		give_back(peer, borrow->index);
	mutex_unlock(&adapter->lock);
}

/* Mark @borrow's end; the first reason stays, but a lost lender. */
static void borrow_end(struct ntbl_borrow *borrow, enum ntbl_borrow_end end)
{
	/* Read by ntbl_borrow_db(), which runs no lost device's vectors. */
	if (borrow->end == NTBL_BORROW_GOES_ON ||
	    end == NTBL_BORROW_LENDER_LOST)
		WRITE_ONCE(borrow->end, end);
}

/**
 * ntbl_borrow_peer_lost() - the lender went away or started over
 * @peer: the peer; its adapter is locked
 *
 * What it lent us is gone: the devices' drivers see them gone at once
 * (a removal from here on fails outstanding I/O; ntbl_vbus_link_lost()),
 * and ntbl_borrow_remove_ended() removes them; borrows still starting fail.
 */
void ntbl_borrow_peer_lost(struct ntbl_peer *peer)
{
	struct ntbl_borrow *borrow;

	lockdep_assert_held(&peer->adapter->lock);
	list_for_each_entry(borrow, &peer->borrows, peer_node) {
		if (borrow->state == NTBL_BORROW_BORROWED &&
		    borrow->end != NTBL_BORROW_LENDER_LOST) {
			dev_warn(&peer->ntb->dev,
				 "node %d went away: %s, borrowed from it, is removed\n",
				 peer->port, borrow->local_bdf);
			ntbl_vbus_link_lost(borrow->vbus);
		}
		borrow_end(borrow, NTBL_BORROW_LENDER_LOST);
	}
}

/**
 * ntbl_borrow_ended() - whether a borrowed device waits for its removal
 * @adapter: the adapter, locked
 *
 * Return: true if ntbl_borrow_remove_ended() has a device to remove.
 */
bool ntbl_borrow_ended(struct ntbl_adapter *adapter)
{
	struct ntbl_borrow *borrow;

	lockdep_assert_held(&adapter->lock);
	list_for_each_entry(borrow, &adapter->borrows, node)
		if (borrow->state == NTBL_BORROW_BORROWED &&
		    borrow->end != NTBL_BORROW_GOES_ON)
			return true;
	return false;
}

/**
 * ntbl_borrow_remove_ended() - remove the borrowed devices whose borrow ended
 * @adapter: the adapter, locked, with the PCI rescan/remove lock taken
 *	before, but by the adapter's removal (ntbl_vbus_remove())
 *
 * A revoked device is removed in order (its driver may still reach it) and
 * the revocation confirmed; a lost lender's device is gone already. Each
 * driver's removal runs without the adapter's lock (remove_device()), but
 * in the adapter's removal, which has waited for every other user of the
 * lock, and holds it throughout; once that begins, the rest is left to it.
 *
 * Context: the adapter unlocked meanwhile, unless it is unbinding.
 */
void ntbl_borrow_remove_ended(struct ntbl_adapter *adapter)
{
	bool unbinding = adapter->unbinding;
	struct ntbl_borrow *borrow;

	lockdep_assert_held(&adapter->lock);
again:
	list_for_each_entry(borrow, &adapter->borrows, node) {
		if (borrow->state != NTBL_BORROW_BORROWED ||
		    borrow->end == NTBL_BORROW_GOES_ON)
			continue;
		if (!unbinding) {
			if (adapter->unbinding)
				return;
			/* A return waits for the rescan lock: @borrow stays. */
			remove_device(borrow);
		}
		remove_ended(borrow, true);
		/* Unlocked meanwhile: the list may have changed. */
		if (!unbinding)
			goto again;
	}
}

/**
 * ntbl_borrow_let_go() - borrows still starting let go of a peer
 * @peer: the peer, about to be freed; its adapter is locked, no borrow
 *	counts in &ntbl_adapter.busy and none is added (ntbl_remove())
 *
 * A borrow the lender answered and that waits for the rescan lock to add
 * the device (attach_locked()) then fails with -ENOLINK.
 */
void ntbl_borrow_let_go(struct ntbl_peer *peer)
{
	struct ntbl_borrow *borrow, *n;

	lockdep_assert_held(&peer->adapter->lock);
	list_for_each_entry_safe(borrow, n, &peer->borrows, peer_node) {
		list_del_rcu(&borrow->peer_node);
		close_windows(borrow, peer);
		borrow->peer = NULL;
	}
}

/**
 * ntbl_rx_revoke() - the lender takes a device back
 * @peer: the lender; its adapter is locked
 * @msg: REVOKE (struct ntbl_wire_req); untrusted
 *
 * A borrowed device is marked for ntbl_borrow_remove_ended(), which
 * confirms; a borrow still starting fails; anything else is confirmed now.
 */
void ntbl_rx_revoke(struct ntbl_peer *peer, const struct ntbl_msg *msg)
{
	struct ntbl_borrow *borrow;
	struct ntbl_wire_req req;
	bool first;

	if (ntbl_unpack_revoke(msg, &req))
		return ntbl_bad_msg(peer, msg);
	list_for_each_entry(borrow, &peer->borrows, peer_node) {
		if (borrow->index != req.index)
			continue;
		first = borrow->end == NTBL_BORROW_GOES_ON;
		borrow_end(borrow, NTBL_BORROW_REVOKED);
		/* Still starting, or its lender lost: nothing to remove. */
		if (borrow->state != NTBL_BORROW_BORROWED ||
		    borrow->end != NTBL_BORROW_REVOKED)
			break;
		if (first)
			dev_warn(&peer->ntb->dev,
				 "node %d takes back %s, borrowed from it: removing it\n",
				 peer->port, borrow->local_bdf);
		/* Asked again: the last asking waits. */
		borrow->end_tag = req.tag;
		return;
	}
	ntbl_reply(peer, NTBL_MSG_REVOKE_DONE, req.tag, 0);
}

/**
 * ntbl_borrow_db() - run the vectors of a borrowed device
 * @peer: the lender whose device rang
 * @db: the doorbell bits that rang; those of its device's vectors count
 *
 * Context: the doorbell interrupt.
 */
void ntbl_borrow_db(struct ntbl_peer *peer, u64 db)
{
	struct ntbl_borrow *borrow;
	u64 vectors, mine;

	rcu_read_lock();
	list_for_each_entry_rcu(borrow, &peer->borrows, peer_node) {
		/* Pairs with attach()'s release: @vbus, @vectors are set. */
		if (smp_load_acquire(&borrow->state) != NTBL_BORROW_BORROWED ||
		    READ_ONCE(borrow->end) == NTBL_BORROW_LENDER_LOST)
			continue;
		vectors = READ_ONCE(borrow->vectors);
		mine = db & vectors;
		if (mine)
			ntbl_vbus_doorbell(borrow->vbus,
					   mine >> __ffs64(vectors));
	}
	rcu_read_unlock();
}
