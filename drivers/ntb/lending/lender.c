// SPDX-License-Identifier: GPL-2.0
/*
 * NTB device lending: the lender's lend entries, their offers to the
 * connected nodes (connections/, the lender's allow list), and the borrows
 * of them that peers ask for.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ntb.h>
#include <linux/pci.h>

#include "ntb_lending.h"

/* --- offers to connected nodes -------------------------------------------- */

/**
 * ntbl_is_connected() - whether a node may see this adapter's offers
 * @adapter: the adapter, locked
 * @node: the node
 *
 * Return: true if connections/<node> exists.
 */
static bool ntbl_is_connected(struct ntbl_adapter *adapter, int node)
{
	struct ntbl_connection *conn;

	lockdep_assert_held(&adapter->lock);
	list_for_each_entry(conn, &adapter->connections, node_list)
		if (conn->node == node)
			return true;
	return false;
}

static void send_offer(struct ntbl_peer *peer, struct ntbl_lend *lend)
{
	struct pci_dev *pdev = lend->pdev;
	struct ntbl_msg msg;

	if (lend->state == NTBL_LEND_LOCAL) {
		ntbl_pack_withdraw(&msg, lend->index);
	} else {
		struct ntbl_wire_offer offer = {
			.index = lend->index,
			.state = lend->state == NTBL_LEND_BORROWED,
			.bdf = pci_domain_nr(pdev->bus) << 16 |
			       pdev->bus->number << 8 | pdev->devfn,
			.vendor = pdev->vendor,
			.device = pdev->device,
			.class = pdev->class,
			.borrower = lend->borrower,
		};

		ntbl_pack_offer(&msg, &offer);
	}
	ntbl_chan_send(peer, &msg);
}

/**
 * ntbl_send_offers() - tell connected peers the state of lend entries
 * @adapter: the adapter, locked
 * @only: the entry that changed, or NULL for all of them
 * @node: the peer to tell, or -1 for every connected peer
 *
 * An entry in local use is sent as withdrawn.
 */
void ntbl_send_offers(struct ntbl_adapter *adapter, struct ntbl_lend *only,
		      int node)
{
	struct ntbl_lend *lend;
	int i;

	lockdep_assert_held(&adapter->lock);
	for (i = 0; i < adapter->npeers; i++) {
		struct ntbl_peer *peer = &adapter->peers[i];

		if (!peer->up || (node >= 0 && peer->port != node) ||
		    !ntbl_is_connected(adapter, peer->port))
			continue;
		if (only) {
			send_offer(peer, only);
			continue;
		}
		list_for_each_entry(lend, &adapter->lends, node)
			if (lend->state != NTBL_LEND_LOCAL)
				send_offer(peer, lend);
	}
}

/**
 * ntbl_withdraw_all() - withdraw every offer from a node no longer connected
 * @adapter: the adapter, locked
 * @node: the node
 */
static void ntbl_withdraw_all(struct ntbl_adapter *adapter, int node)
{
	struct ntbl_lend *lend;
	int i;

	lockdep_assert_held(&adapter->lock);
	for (i = 0; i < adapter->npeers; i++) {
		struct ntbl_peer *peer = &adapter->peers[i];
		struct ntbl_msg msg;

		if (!peer->up || peer->port != node)
			continue;
		list_for_each_entry(lend, &adapter->lends, node) {
			ntbl_pack_withdraw(&msg, lend->index);
			ntbl_chan_send(peer, &msg);
		}
	}
}

/* --- lend entries --------------------------------------------------------- */

/*
 * The span of @lent's BARs as window @widx of @ntb toward peer @pidx would
 * align it, into @bars; what the window holds at most into @size_max.
 */
static int window_span(struct ntbl_lent *lent, struct ntb_dev *ntb, int pidx,
		       int widx, struct ntbl_dp_bars *bars,
		       resource_size_t *size_max)
{
	resource_size_t align;
	int ret;

	ret = ntb_mw_get_align(ntb, pidx, widx, &align, NULL, size_max);
	return ret ?: ntbl_lent_bars(lent, align, bars);
}

/*
 * The windows that may lead to a lent device: on a switch any of the
 * borrower's own (it picks one: ntbl_pick_outbound()), on two ports any
 * but the one to the memory of our own borrows.
 */
static bool device_window(struct ntbl_adapter *adapter, int widx)
{
	return adapter->switched || widx != NTBL_MW_MEMORY;
}

/*
 * The entry whose borrow holds window @widx toward @peer, open or closed
 * (device_removed()), or NULL; with the adapter locked.
 */
static struct ntbl_lend *window_lend(struct ntbl_peer *peer, int widx)
{
	struct ntbl_lend *lend;

	lockdep_assert_held(&peer->adapter->win_lock);
	list_for_each_entry(lend, &peer->adapter->lends, node)
		if (lend->window_peer == peer && lend->widx == widx)
			return lend;
	return NULL;
}

/*
 * Of the windows toward @peer that may lead to @lent's device and are not
 * in use (all of them if @any), the smallest that holds the span of its
 * BARs: the windows of one adapter may differ (a switch's LUT windows are
 * small, its direct ones large). Its index, with the span in @bars; or
 * -ENOSPC if only windows in use hold it, -E2BIG if none does (the span it
 * needs in @bars, the largest window's size in @largest); or the errno of
 * a device that went away.
 */
static int pick_window(struct ntbl_peer *peer, struct ntbl_lent *lent,
		       bool any, struct ntbl_dp_bars *bars, u64 *largest)
{
	struct ntbl_adapter *adapter = peer->adapter;
	resource_size_t size_max, best_max = 0;
	int widx, best = -E2BIG, ret;
	struct ntbl_dp_bars span;
	bool busy;

	for (widx = 0; widx < peer->nr_mw; widx++) {
		if (!device_window(adapter, widx))
			continue;
		ret = window_span(lent, peer->ntb, peer->pidx, widx, &span,
				  &size_max);
		if (ret == -ENODEV)
			return ret;
		if (ret)
			continue;
		*largest = max_t(u64, *largest, size_max);
		if (span.span_size > size_max) {
			if (best == -E2BIG)
				*bars = span;	/* for the line that says so */
			continue;
		}
		mutex_lock(&adapter->win_lock);
		busy = !any && (peer->xlat[widx] || window_lend(peer, widx));
		mutex_unlock(&adapter->win_lock);
		if (busy) {
			if (best < 0)
				best = -ENOSPC;
			continue;
		}
		if (best >= 0 && size_max >= best_max)
			continue;
		best = widx;
		best_max = size_max;
		*bars = span;
	}
	return best;
}

/*
 * Say why no window toward @peer takes @lend's device: what pick_window()
 * returned, and the span and the largest window it found.
 */
static void no_window(struct ntbl_peer *peer, struct ntbl_lend *lend,
		      int err, const struct ntbl_dp_bars *bars, u64 largest)
{
	struct ntbl_adapter *adapter = peer->adapter;
	int widx, n = 0, len = 0;
	resource_size_t size_max;
	struct ntbl_lend *holder;
	struct ntbl_dp_bars span;
	char held[160] = "";

	if (err == -E2BIG) {
		pci_err(lend->pdev, "its BARs need a window of %llu bytes; the largest window of %s toward node %d holds %llu: it cannot be lent through this adapter\n",
			bars->span_size, dev_name(&peer->ntb->dev), peer->port,
			largest);
		return;
	}
	/* The windows that would hold it, and who holds them. */
	mutex_lock(&adapter->win_lock);
	for (widx = 0; widx < peer->nr_mw; widx++) {
		if (!device_window(adapter, widx) ||
		    window_span(lend->lent, peer->ntb, peer->pidx, widx, &span,
				&size_max) || span.span_size > size_max)
			continue;
		n++;
		holder = window_lend(peer, widx);
		if (len < sizeof(held) - 1)
			len += scnprintf(held + len, sizeof(held) - len,
					 "%swindow %d: %s", len ? ", " : "",
					 widx, holder ? pci_name(holder->pdev) :
					 "a device");
	}
	mutex_unlock(&adapter->win_lock);
	pci_err(lend->pdev, "cannot be lent to node %d: all %d windows of %s that would hold its BARs are in use (%s)\n",
		peer->port, n, dev_name(&peer->ntb->dev), held);
}

/*
 * Refuse to offer a device no borrow could take, rather than fail every
 * borrow: some window toward the first peer must hold its BARs, in use or
 * not. While the adapter is gone this waits for the borrow.
 */
static int check_window(struct ntbl_lend *lend, struct ntbl_lent *lent)
{
	struct ntbl_adapter *adapter = lend->adapter;
	struct ntbl_dp_bars bars = {};
	u64 largest = 0;
	int ret;

	if (!adapter->ntb || !adapter->npeers)
		return 0;
	ret = pick_window(&adapter->peers[0], lent, true, &bars, &largest);
	if (ret == -E2BIG || ret == -ENOSPC) {
		no_window(&adapter->peers[0], lend, -E2BIG, &bars, largest);
		return -E2BIG;
	}
	return ret < 0 ? ret : 0;
}

/*
 * A lent device left the PCI tree (ntbl_lent_claim()): the window onto its
 * old BARs closes now, before a rescan can give them to another driver;
 * the rest waits for the adapter's lock, in removed_work.
 */
static void device_removed(void *data)
{
	struct ntbl_lend *lend = data;
	struct ntbl_adapter *adapter = lend->adapter;

	/*
	 * The window stays the borrow's, closed, until the borrow ends
	 * (close_window()): the borrower may reach through it until it let
	 * go of the device, so no other device may take it before.
	 */
	mutex_lock(&adapter->win_lock);
	if (lend->window_peer)
		__ntbl_clear_window(lend->window_peer, lend->widx);
	mutex_unlock(&adapter->win_lock);
	/* Not on @adapter->wq: it waits for the borrower (revoke()). */
	queue_work(system_unbound_wq, &adapter->removed_work);
}

/**
 * ntbl_lend_offer() - make a lend entry available to connected nodes
 * @lend: the entry; its adapter is locked
 *
 * The local driver is unbound and the device is held for lending.
 *
 * Return: 0 or a negative errno; on error nothing changed.
 */
int ntbl_lend_offer(struct ntbl_lend *lend)
{
	struct ntbl_lent *lent;
	int ret;

	lockdep_assert_held(&lend->adapter->lock);
	if (lend->state != NTBL_LEND_LOCAL)
		return 0;
	if (!device_is_registered(&lend->pdev->dev)) {
		pci_err(lend->pdev, "was removed from the PCI tree; remove its lend entry, rescan and make the entry again\n");
		return -ENODEV;
	}
	lent = ntbl_lent_claim(lend->pdev, device_removed, lend);
	if (IS_ERR(lent))
		return PTR_ERR(lent);
	ret = check_window(lend, lent);
	if (!ret && ntbl_lent_removed(lent))
		ret = -ENODEV;	/* removed since the claim */
	if (ret) {
		ntbl_lent_release(lent);
		return ret;
	}
	lend->lent = lent;
	lend->state = NTBL_LEND_AVAILABLE;
	ntbl_send_offers(lend->adapter, lend, -1);
	return 0;
}

static struct ntbl_peer *borrower_of(struct ntbl_lend *lend)
{
	struct ntbl_adapter *adapter = lend->adapter;
	int i;

	for (i = 0; i < adapter->npeers; i++)
		if (adapter->peers[i].lent[lend->index] == lend)
			return &adapter->peers[i];
	return NULL;
}

/*
 * Close the window a lender translates for a borrow. On a two-port adapter
 * it leads to the device, and device_removed() may close it first; on a
 * switch to the borrower's memory, shared by every device lent to it, and
 * closed with the last (@peer's @nr_lent, which counts the others).
 */
static void close_window(struct ntbl_lend *lend, struct ntbl_peer *peer)
{
	struct ntbl_adapter *adapter = peer->adapter;

	mutex_lock(&adapter->win_lock);
	if (adapter->switched) {
		if (!peer->nr_lent && peer->mem_widx >= 0) {
			__ntbl_clear_window(peer, peer->mem_widx);
			peer->mem_widx = -1;
		}
	} else if (lend->window_peer) {
		__ntbl_clear_window(lend->window_peer, lend->widx);
	}
	lend->window_peer = NULL;
	mutex_unlock(&adapter->win_lock);
}

/* The device stops reaching the borrower, and the borrower it. */
static void stop_borrow(struct ntbl_lend *lend, struct ntbl_peer *peer)
{
	unsigned long flags;

	ntbl_lent_quiesce(lend->lent);
	raw_spin_lock_irqsave(&peer->serve_lock, flags);
	peer->lent[lend->index] = NULL;
	peer->nr_lent--;
	raw_spin_unlock_irqrestore(&peer->serve_lock, flags);
	close_window(lend, peer);
	lend->borrower = -1;
	lend->vectors = 0;
}

/*
 * Back to local use: the driver the device had when it was claimed, or,
 * if it had none, whichever matches.
 */
static void release_to_local(struct ntbl_lend *lend)
{
	bool removed = ntbl_lent_removed(lend->lent);

	ntbl_lent_release(lend->lent);
	lend->lent = NULL;
	if (!removed && !lend->pdev->dev.driver &&
	    device_attach(&lend->pdev->dev) < 0)
		pci_err(lend->pdev, "no driver took the device back; bind one by hand\n");
}

/*
 * After a borrow: the device is reset, still lent, for the next borrower,
 * and offered again; it goes back to local use if it cannot be reset.
 */
static void end_borrow(struct ntbl_lend *lend, struct ntbl_peer *peer)
{
	int ret;

	stop_borrow(lend, peer);
	ret = ntbl_lent_reset(lend->lent);
	if (ret) {
		/* A removed device was reported by lent_remove(). */
		if (!ntbl_lent_removed(lend->lent))
			pci_err(lend->pdev, "cannot be reset after its borrow (%pe); it goes back to local use\n",
				ERR_PTR(ret));
		lend->state = NTBL_LEND_LOCAL;
		release_to_local(lend);
	} else {
		lend->state = NTBL_LEND_AVAILABLE;
	}
	ntbl_send_offers(lend->adapter, lend, -1);
}

/*
 * Ask the borrower to remove the device before it is taken back, so that
 * its driver lets go first; wait for it a while, not forever, without the
 * adapter's lock (ntbl_wait_reply_unlocked()), @lend->revoking keeping other
 * borrowers off the entry meanwhile. So for a device that left the PCI
 * tree: its window, closed, is passed on only once the borrower let go.
 *
 * Meanwhile the borrow may end (the borrower returned the device or went
 * away), and the entry go back to local use: callers check again.
 *
 * Without @wait the borrower is told, not waited for: it left an earlier
 * revocation unconfirmed. Return: -ETIMEDOUT if it did not confirm this
 * one in time, else 0.
 */
static int revoke(struct ntbl_lend *lend, struct ntbl_peer *peer, bool wait)
{
	unsigned int epoch = ntbl_chan_epoch(peer);
	struct ntbl_msg msg, reply;
	int ret;
	u32 tag;

	lockdep_assert_held(&lend->adapter->lock);
	if (!peer->up)
		return 0;
	pci_info(lend->pdev, "revoking its borrow by node %d\n", peer->port);
	tag = ntbl_next_tag(peer);
	ntbl_pack_revoke(&msg, lend->index, tag);
	if (ntbl_chan_send(peer, &msg)) {
		pci_warn(lend->pdev, "node %d leaves this host's messages untaken and is not told; taking the device back anyway\n",
			 peer->port);
		return 0;
	}
	if (!wait) {
		pci_warn(lend->pdev, "node %d left a revocation unconfirmed: not waiting for this one; taking the device back anyway\n",
			 peer->port);
		return 0;
	}
	/* One revoker at a time: the others wait (wait_revoked()). */
	WARN_ON_ONCE(lend->revoking);
	lend->revoking = true;
	ret = ntbl_wait_reply_unlocked(peer, epoch, NTBL_MSG_REVOKE_DONE, tag,
				       &reply);
	lend->revoking = false;
	wake_up_all(&lend->adapter->revoked);
	if (ret)
		pci_warn(lend->pdev, "node %d did not confirm the revocation; taking the device back anyway\n",
			 peer->port);
	return ret == -ETIMEDOUT ? ret : 0;
}

/*
 * Wait for another's revocation of @lend to end, without the adapter's
 * lock; the caller keeps @lend (configfs' mutex: it is not removed). No
 * busy count keeps the adapter bound meanwhile: a peer the caller found
 * may be freed, so it looks its peer up again.
 */
static void wait_revoked(struct ntbl_lend *lend)
{
	struct ntbl_adapter *adapter = lend->adapter;

	while (lend->revoking) {
		mutex_unlock(&adapter->lock);
		wait_event(adapter->revoked, !READ_ONCE(lend->revoking));
		mutex_lock(&adapter->lock);
	}
}

/**
 * ntbl_lend_withdraw() - give a lend entry's device back to local use
 * @lend: the entry; its adapter is locked, and unlocked while a borrower
 *	confirms a revocation (revoke())
 * @force: revoke a borrow rather than refuse
 *
 * Return: 0, or -EBUSY if the device is borrowed and @force is false.
 */
int ntbl_lend_withdraw(struct ntbl_lend *lend, bool force)
{
	struct ntbl_adapter *adapter = lend->adapter;
	struct ntbl_peer *peer;

	lockdep_assert_held(&adapter->lock);
	/*
	 * A revocation (rmdir connections/, a removal of the device) ends
	 * the borrow: wait for it.
	 */
	wait_revoked(lend);
	if (lend->state == NTBL_LEND_LOCAL)
		return 0;
	if (lend->state == NTBL_LEND_BORROWED) {
		if (!force) {
			pr_err("lends/%s: borrowed by node %d; it must return the device first\n",
			       config_item_name(&lend->group.cg_item),
			       lend->borrower);
			return -EBUSY;
		}
		peer = borrower_of(lend);
		if (peer) {
			revoke(lend, peer, true);
			/* Unlocked meanwhile: the borrow may be over. */
			if (lend->state == NTBL_LEND_LOCAL)
				return 0;
			if (peer->lent[lend->index] == lend)
				stop_borrow(lend, peer);
		}
	}
	lend->state = NTBL_LEND_LOCAL;
	ntbl_send_offers(lend->adapter, lend, -1);
	release_to_local(lend);
	return 0;
}

/**
 * ntbl_lend_removed_work() - take back the lends whose device was removed
 * @work: &ntbl_adapter.removed_work
 *
 * The borrower is told and waited for, the window onto the device's old
 * BARs (closed already) is released, and the entry goes back to local, its
 * offer withdrawn. An entry that another revokes is left to it: it ends
 * the borrow, and the device, which cannot be reset, goes back to local.
 */
void ntbl_lend_removed_work(struct work_struct *work)
{
	struct ntbl_adapter *adapter = container_of(work, struct ntbl_adapter,
						    removed_work);
	struct ntbl_lend *lend;

	mutex_lock(&adapter->lock);
again:
	list_for_each_entry(lend, &adapter->lends, node) {
		if (!lend->lent || !ntbl_lent_removed(lend->lent) ||
		    lend->revoking)
			continue;
		/* Unlocked meanwhile (revoke()): the list may change. */
		ntbl_lend_withdraw(lend, true);
		goto again;
	}
	mutex_unlock(&adapter->lock);
}

/**
 * ntbl_lend_disconnect() - revoke what a node no longer connected borrows
 * @adapter: the adapter, locked; unlocked while the node confirms
 * @node: the node
 *
 * A node that leaves one revocation unconfirmed is not waited for again:
 * configfs' rmdir, which holds every configfs change meanwhile, then ends
 * in one REPLY_TIMEOUT, not one per device the node borrows.
 */
static void ntbl_lend_disconnect(struct ntbl_adapter *adapter, int node)
{
	struct ntbl_peer *peer = ntbl_peer_by_node(adapter, node);
	bool wait = true;
	unsigned int i;

	/* Not connected, it borrows nothing new meanwhile (ntbl_rx_borrow()). */
	for (i = 0; peer && i < ARRAY_SIZE(peer->lent); i++) {
		struct ntbl_lend *lend = peer->lent[i];

		if (!lend)
			continue;
		wait_revoked(lend);
		/*
		 * Nothing kept the adapter bound meanwhile: its peers may be
		 * freed, taken back by its removal (ntbl_lend_peer_lost()).
		 */
		peer = ntbl_peer_by_node(adapter, node);
		if (!peer || peer->lent[i] != lend)
			continue;	/* ended meanwhile */
		if (revoke(lend, peer, wait) == -ETIMEDOUT)
			wait = false;
		/* Unlocked meanwhile: the borrow may be over. */
		if (peer->lent[i] == lend)
			end_borrow(lend, peer);
	}
}

/**
 * ntbl_connection_add() - let a node see and borrow this adapter's offers
 *	(mkdir connections/<NodeId>)
 * @conn: the connection, its adapter, node and group set; the adapter is
 *	not locked
 *
 * Return: 0, or -EINVAL if the adapter is bound and the node is none of
 * its peers.
 */
int ntbl_connection_add(struct ntbl_connection *conn)
{
	struct ntbl_adapter *adapter = conn->adapter;

	mutex_lock(&adapter->lock);
	if (adapter->ntb && !ntbl_peer_by_node(adapter, conn->node)) {
		mutex_unlock(&adapter->lock);
		pr_err("%s: connections/%s: node %d is not a peer on this fabric\n",
		       config_item_name(&adapter->group.cg_item),
		       config_item_name(&conn->group.cg_item), conn->node);
		return -EINVAL;
	}
	list_add_tail(&conn->node_list, &adapter->connections);
	ntbl_send_offers(adapter, NULL, conn->node);
	mutex_unlock(&adapter->lock);
	return 0;
}

/**
 * ntbl_connection_remove() - undo ntbl_connection_add() (rmdir)
 * @conn: the connection; its adapter is not locked
 *
 * What the node borrows is revoked, and the node told that every offer is
 * withdrawn. The adapter's lock is dropped while the node confirms.
 */
void ntbl_connection_remove(struct ntbl_connection *conn)
{
	struct ntbl_adapter *adapter = conn->adapter;

	mutex_lock(&adapter->lock);
	list_del(&conn->node_list);
	ntbl_lend_disconnect(adapter, conn->node);
	ntbl_withdraw_all(adapter, conn->node);
	mutex_unlock(&adapter->lock);
}

/**
 * ntbl_lend_remove() - remove a lend entry (rmdir lends/<BDF>)
 * @lend: the entry; its adapter is not locked
 *
 * A borrow of it is revoked and the device goes back to local use first.
 */
void ntbl_lend_remove(struct ntbl_lend *lend)
{
	struct ntbl_adapter *adapter = lend->adapter;

	mutex_lock(&adapter->lock);
	ntbl_lend_withdraw(lend, true);
	list_del(&lend->node);
	mutex_unlock(&adapter->lock);
}

/**
 * ntbl_lend_peer_lost() - a borrower went away: take its borrow back
 * @peer: the peer; its adapter is locked
 */
void ntbl_lend_peer_lost(struct ntbl_peer *peer)
{
	struct ntbl_lend *lend;
	unsigned int i;

	lockdep_assert_held(&peer->adapter->lock);
	for (i = 0; i < ARRAY_SIZE(peer->lent); i++) {
		lend = peer->lent[i];
		if (!lend)
			continue;
		pci_info(lend->pdev, "node %d went away with the device; taking it back\n",
			 peer->port);
		end_borrow(lend, peer);
	}
}

static struct ntbl_lend *find_lend(struct ntbl_adapter *adapter, u32 index)
{
	struct ntbl_lend *lend;

	list_for_each_entry(lend, &adapter->lends, node)
		if (lend->index == index)
			return lend;
	return NULL;
}

/*
 * Make @dp, the span of @lend's BARs through window @widx toward @peer, a
 * block aligned to its power-of-two size: what some drivers want of a
 * translation whatever ntb_mw_get_align() says (ntb_hw_switchtec's direct
 * windows). -E2BIG if the window cannot hold that.
 */
static int natural_span(struct ntbl_peer *peer, struct ntbl_lend *lend,
			int widx, struct ntbl_dp_bars *dp)
{
	u64 size = roundup_pow_of_two(dp->span_size);
	resource_size_t size_max;
	int ret;

	ret = ntb_mw_get_align(peer->ntb, peer->pidx, widx, NULL, NULL,
			       &size_max);
	if (ret)
		return ret;
	/* A block of @size that straddles a boundary of @size doubles. */
	for (; size <= size_max; size *= 2) {
		ret = ntbl_lent_bars(lend->lent, size, dp);
		if (ret || dp->span_size == size)
			return ret;
	}
	pci_err(lend->pdev, "window %d of %s toward node %d wants a translation aligned to its size, and holds %llu bytes: too few for its BARs so aligned\n",
		widx, dev_name(&peer->ntb->dev), peer->port, (u64)size_max);
	return -E2BIG;
}

/*
 * On a switch, open our window onto @peer's @mem_size of memory, or take
 * the one already open for another device lent to it.
 */
static int open_memory_window(struct ntbl_peer *peer, struct ntbl_lend *lend,
			      u64 mem_size)
{
	struct ntbl_adapter *adapter = peer->adapter;
	u64 size = mem_size, base = 0, largest, open = 0;
	char held[256];
	int widx, ret;

	mutex_lock(&adapter->win_lock);
	if (peer->mem_widx >= 0)
		open = peer->xlat[peer->mem_widx];
	mutex_unlock(&adapter->win_lock);
	if (open >= mem_size)
		return 0;
	/* A borrower's asking is untrusted: its refusals are ratelimited. */
	if (open) {
		dev_err_ratelimited(&lend->pdev->dev, "node %d asks for a window onto %llu bytes of its memory, and has one onto %llu open: refused until it returns every device it borrows from this host\n",
				    peer->port, mem_size, open);
		return -EINVAL;
	}
	widx = ntbl_pick_outbound(peer, 0, &size, &base, &largest);
	if (widx == -E2BIG) {
		dev_err_ratelimited(&lend->pdev->dev, "node %d's memory needs a window of %llu bytes; the largest of %s holds %llu: it cannot borrow through this fabric\n",
				    peer->port, mem_size, dev_name(&peer->ntb->dev), largest);
		return widx;
	}
	if (widx < 0) {
		ntbl_outbound_holders(adapter, held, sizeof(held));
		dev_err_ratelimited(&lend->pdev->dev, "cannot be lent to node %d: every window of %s that holds its memory is in use (%s)\n",
				    peer->port, dev_name(&peer->ntb->dev), held);
		return widx;
	}
	ret = ntbl_set_window(peer, widx, base, size);
	if (ret) {
		dev_err_ratelimited(&lend->pdev->dev, "cannot be lent to node %d: window %d of %s does not take a translation onto its memory (%pe)\n",
				    peer->port, widx, dev_name(&peer->ntb->dev),
				    ERR_PTR(ret));
		return ret;
	}
	mutex_lock(&adapter->win_lock);
	peer->mem_widx = widx;
	mutex_unlock(&adapter->win_lock);
	return 0;
}

/*
 * Whether a borrow failed with @ret because @lend's device left the PCI
 * tree meanwhile, which ntbl_rx_borrow() says once for every step.
 */
static bool removed_meanwhile(struct ntbl_lend *lend, int ret)
{
	return ret == -ENODEV && ntbl_lent_removed(lend->lent);
}

/*
 * Open the windows of a borrow, the span of the device's BARs into @dp: a
 * two-port lender translates one of its own windows onto the device (the
 * borrower translated its own onto its memory before it asked), a switch
 * port one onto the borrower's @mem_size of memory (the borrower
 * translates one of its own onto the device).
 */
static int open_windows(struct ntbl_peer *peer, struct ntbl_lend *lend,
			struct ntbl_dp_bars *dp, u64 mem_size)
{
	struct ntbl_adapter *adapter = peer->adapter;
	int widx, ret, warned;
	u64 largest = 0;

	widx = pick_window(peer, lend->lent, adapter->switched, dp, &largest);
	if (widx < 0) {
		if (widx != -ENODEV)
			no_window(peer, lend, widx, dp, largest);
		else if (!removed_meanwhile(lend, widx))
			dev_err_ratelimited(&lend->pdev->dev, "cannot be lent to node %d: %s does not say what its windows take (%pe)\n",
					    peer->port, dev_name(&peer->ntb->dev),
					    ERR_PTR(widx));
		return widx;
	}
	/*
	 * The span as the window aligns it, which the claim could not know;
	 * before a translation lets the borrower reach it. On a switch the
	 * borrower translates its own window onto it, as its own aligns it.
	 */
	warned = ntbl_lent_check_span(lend->lent, dp, NTBL_SPAN_PEER);
	if (warned < 0)
		return warned;
	if (!adapter->switched) {
		ret = ntbl_set_window(peer, widx, dp->span_phys, dp->span_size);
		if (ret == -EINVAL) {
			/* A lend the opt-in lets through warns once. */
			ret = natural_span(peer, lend, widx, dp);
			if (!ret)
				ret = ntbl_lent_check_span(lend->lent, dp,
							   NTBL_SPAN_PEER |
							   (warned ? NTBL_SPAN_QUIET : 0));
			if (ret > 0)
				ret = 0;
			if (!ret)
				ret = ntbl_set_window(peer, widx, dp->span_phys,
						      dp->span_size);
		}
		if (ret) {
			/* natural_span() or the span's check said why. */
			if (ret != -E2BIG && ret != -EPERM &&
			    !removed_meanwhile(lend, ret))
				dev_err_ratelimited(&lend->pdev->dev, "cannot be lent to node %d: window %d of %s does not take a translation onto its BARs (%pe)\n",
						    peer->port, widx,
						    dev_name(&peer->ntb->dev),
						    ERR_PTR(ret));
			return ret;
		}
		mutex_lock(&adapter->win_lock);
		lend->window_peer = peer;
		lend->widx = widx;
		mutex_unlock(&adapter->win_lock);
		return 0;
	}
	return open_memory_window(peer, lend, mem_size);
}

/*
 * Open the windows of a borrow and map the borrower's memory for the
 * device; what the borrower needs to know of them into @bars.
 */
static int lend_to(struct ntbl_peer *peer, struct ntbl_lend *lend,
		   u64 mem_size, struct ntbl_wire_bars *bars)
{
	struct ntb_dev *ntb = peer->ntb;
	struct ntbl_dp_bars dp;
	resource_size_t size;
	phys_addr_t addr;
	u64 dev_addr;
	int i, widx, ret;

	ret = open_windows(peer, lend, &dp, mem_size);
	if (ret)
		return ret;
	/* Removed meanwhile: device_removed() may have missed the window. */
	if (ntbl_lent_removed(lend->lent)) {
		ret = -ENODEV;
		goto err;
	}

	widx = peer->adapter->switched ? peer->mem_widx : NTBL_MW_MEMORY;
	ret = ntb_peer_mw_get_addr(ntb, widx, &addr, &size);
	if (ret) {
		dev_err_ratelimited(&lend->pdev->dev, "cannot be lent to node %d: %s does not say where its window %d onto node %d's memory is (%pe)\n",
				    peer->port, dev_name(&ntb->dev), widx,
				    peer->port, ERR_PTR(ret));
		goto err;
	}
	/* A switch's window may reach further: the device reaches no more. */
	if (mem_size)
		size = min_t(u64, size, mem_size);
	ret = ntbl_lent_map_memory(lend->lent, addr, size, &dev_addr);
	if (ret)
		goto err;

	bars->span_size = dp.span_size;
	bars->mem_addr = dev_addr;
	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		bars->bar[i].offset = dp.bar[i].offset;
		bars->bar[i].size = dp.bar[i].size;
		bars->bar[i].flags = dp.bar[i].flags;
	}
	/* On two ports, the borrower's window that leads to the device; */
	bars->widx = peer->adapter->switched ? -1 : lend->widx;
	/* on a switch, for the borrower's own translation onto it. */
	bars->span_phys = dp.span_phys;
	return 0;

err:
	close_window(lend, peer);
	return ret;
}

/* Undo lend_to(), and the doorbells mapped so far. */
static void unlend(struct ntbl_peer *peer, struct ntbl_lend *lend)
{
	ntbl_lent_unmap_doorbells(lend->lent);
	ntbl_lent_unmap_memory(lend->lent);
	close_window(lend, peer);
}

/*
 * After lend_to(): map the writes that ring the borrower's @vec_mask
 * doorbells for the device, into @dbs; on error undo lend_to() too.
 */
static int map_doorbells(struct ntbl_peer *peer, struct ntbl_lend *lend,
			 u64 vec_mask, struct ntbl_wire_db *dbs)
{
	struct ntb_dev *ntb = peer->ntb;
	resource_size_t size;
	phys_addr_t addr;
	u64 dev_addr, data;
	int bit, ret;

	BUILD_BUG_ON(NTBL_MAX_VEC > NTBL_BORROW_DB_MAX);
	dbs->nr = 0;
	for_each_set_bit(bit, (unsigned long *)&vec_mask, 64) {
		ret = ntb_peer_db_addr(ntb, &addr, &size, &data, bit);
		/* What ntb_peer_db_addr() says of a driver without one. */
		if (ret == -EINVAL || ret == -EOPNOTSUPP) {
			dev_err(&ntb->dev, "its driver has no doorbell address a device could write (%pe): devices cannot be lent through it\n",
				ERR_PTR(ret));
			ret = -EOPNOTSUPP;
			goto err;
		}
		if (ret) {
			dev_err_ratelimited(&lend->pdev->dev, "cannot be lent to node %d: %s gives no address for its doorbell bit %d (%pe)\n",
					    peer->port, dev_name(&ntb->dev), bit,
					    ERR_PTR(ret));
			goto err;
		}
		/*
		 * A doorbell is a 32-bit write (MSI-X data, the wire's one
		 * word); ntb_hw_switchtec's upper half of a shared block
		 * rings with its value shifted beyond that.
		 */
		if (upper_32_bits(data)) {
			dev_err(&ntb->dev, "doorbell bit %d rings with the 64-bit value %#llx, which a device's 32-bit write cannot carry: devices cannot be lent through it\n",
				bit, data);
			ret = -EOPNOTSUPP;
			goto err;
		}
		ret = ntbl_lent_map_doorbell(lend->lent, addr, size, data,
					     &dev_addr);
		if (ret)
			goto err;
		/* At most NTBL_MAX_VEC bits: ntbl_rx_borrow() checked them. */
		dbs->db[dbs->nr].addr = dev_addr;
		dbs->db[dbs->nr].data = data;
		dbs->nr++;
	}
	return 0;

err:
	unlend(peer, lend);
	return ret;
}

/*
 * The doorbell bits a device lent to @peer rings: on two ports all those
 * the borrower asked for, its own; on a switch one of our share that no
 * other device we lend rings, of those it asked for, since every port
 * hears every bit and tells the devices apart by them. -ENOSPC, with the
 * line that says who rings them, if none is left.
 */
static int pick_vectors(struct ntbl_peer *peer, struct ntbl_lend *lend,
			u64 asked, u64 *vectors)
{
	struct ntbl_adapter *adapter = peer->adapter;
	u64 used = 0, free;
	struct ntbl_lend *other;
	char held[256] = "";
	int len = 0;

	if (!adapter->switched) {
		*vectors = asked;
		return 0;
	}
	list_for_each_entry(other, &adapter->lends, node)
		used |= other->vectors;
	free = asked & ~used;
	if (free) {
		*vectors = BIT_ULL(__ffs64(free));
		return 0;
	}
	list_for_each_entry(other, &adapter->lends, node)
		if (other->vectors && len < sizeof(held) - 1)
			len += scnprintf(held + len, sizeof(held) - len,
					 "%s%s to node %d", len ? ", " : "",
					 pci_name(other->pdev), other->borrower);
	dev_err_ratelimited(&lend->pdev->dev, "cannot be lent to node %d: the %d doorbell bits of this host's share it may take are all rung by other devices (%s)\n",
			    peer->port, (int)hweight64(asked), len ? held : "none");
	return -ENOSPC;
}

/**
 * ntbl_rx_borrow() - a peer asks to borrow one of our lend entries
 * @peer: the peer; its adapter is locked
 * @msg: BORROW (struct ntbl_wire_borrow); untrusted
 */
void ntbl_rx_borrow(struct ntbl_peer *peer, const struct ntbl_msg *msg)
{
	struct ntbl_adapter *adapter = peer->adapter;
	struct ntbl_wire_bars bars = {};
	struct ntbl_wire_db dbs = {};
	struct ntbl_wire_borrow req;
	struct ntbl_lend *lend;
	struct ntbl_msg reply;
	bool mapped = false;
	u64 vectors = 0;
	int ret;

	if (ntbl_unpack_borrow(msg, &req, adapter->switched))
		return ntbl_bad_msg(peer, msg);

	/*
	 * Each refusal keeps its errno and has its line here, or where it
	 * failed: a peer's asking is untrusted, so they are ratelimited.
	 */
	lend = find_lend(adapter, req.index);
	if (!lend || lend->state == NTBL_LEND_LOCAL ||
	    !ntbl_is_connected(adapter, peer->port)) {
		dev_err_ratelimited(&peer->ntb->dev, "node %d asks to borrow lend entry %u, which is not offered to it: refused\n",
				    peer->port, req.index);
		ret = -ENOENT;
	} else if (lend->state == NTBL_LEND_BORROWED || lend->revoking) {
		dev_err_ratelimited(&lend->pdev->dev, "node %d asks to borrow it while %s node %d: refused\n",
				    peer->port, lend->revoking ?
				    "this host revokes its borrow by" :
				    "it is borrowed by", lend->borrower);
		ret = -EBUSY;
	} else if (!req.vectors ||
		   req.vectors & ~ntbl_vector_bits(adapter, adapter->port) ||
		   hweight64(req.vectors) > NTBL_MAX_VEC ||
		   !PAGE_ALIGNED(req.mem_size) ||
		   (adapter->switched && !req.mem_size)) {
		dev_err_ratelimited(&lend->pdev->dev, "node %d asks to borrow it with doorbell bits %#llx and a window onto %#llx bytes of its memory, which this host cannot give: refused\n",
				    peer->port, req.vectors, req.mem_size);
		ret = -EINVAL;
	} else if (ntbl_chan_room(peer) < 3) {
		/*
		 * It takes none of our messages: its answer (BORROW_BARS,
		 * BORROW_DB) and the offer's new state must not split.
		 */
		dev_err_ratelimited(&lend->pdev->dev, "node %d asks to borrow it and leaves this host's messages untaken: refused\n",
				    peer->port);
		ret = -ENOBUFS;
	} else {
		ret = pick_vectors(peer, lend, req.vectors, &vectors);
		if (!ret)
			ret = lend_to(peer, lend, req.mem_size, &bars);
		mapped = !ret;
		if (!ret)
			ret = map_doorbells(peer, lend, vectors, &dbs);
		/* Where a removal failed it, said once. */
		if (removed_meanwhile(lend, ret))
			dev_err_ratelimited(&lend->pdev->dev, "left the PCI tree: node %d's borrow of it is refused\n",
					    peer->port);
	}
	if (!ret) {
		/* A new borrower's requests start afresh. */
		if (!peer->nr_lent)
			ntbl_rpc_reset(peer);
		raw_spin_lock_irq(&peer->serve_lock);
		peer->lent[lend->index] = lend;
		peer->nr_lent++;
		lend->spans_left = NTBL_RPC_SPANS_PER_BORROW;
		raw_spin_unlock_irq(&peer->serve_lock);
		lend->state = NTBL_LEND_BORROWED;
		lend->borrower = peer->port;
		lend->vectors = adapter->switched ? vectors : 0;
		pci_info(lend->pdev, "lent to node %d\n", peer->port);
	}
	/* A refusal once the BARs were mapped says where they were too. */
	bars.tag = req.tag;
	bars.status = ret;
	if (mapped)
		ntbl_pack_borrow_bars(&reply, &bars, adapter->switched);
	else
		ntbl_pack_status(&reply, NTBL_MSG_BORROW_BARS, req.tag, ret);
	ntbl_chan_send(peer, &reply);
	if (!ret) {
		dbs.tag = req.tag;
		dbs.vectors = vectors;
		ntbl_pack_borrow_db(&reply, &dbs);
		ntbl_chan_send(peer, &reply);
		ntbl_send_offers(adapter, lend, -1);
	}
}

/**
 * ntbl_rx_return() - a borrower gives a device back
 * @peer: the peer; its adapter is locked
 * @msg: RETURN (struct ntbl_wire_req); untrusted
 */
void ntbl_rx_return(struct ntbl_peer *peer, const struct ntbl_msg *msg)
{
	struct ntbl_lend *lend = NULL;
	struct ntbl_wire_req req;

	if (ntbl_unpack_return(msg, &req))
		return ntbl_bad_msg(peer, msg);
	if (req.index < ARRAY_SIZE(peer->lent))
		lend = peer->lent[req.index];
	if (lend) {
		pci_info(lend->pdev, "returned by node %d\n", peer->port);
		end_borrow(lend, peer);
	}
	ntbl_reply(peer, NTBL_MSG_RETURN_DONE, req.tag, 0);
}
