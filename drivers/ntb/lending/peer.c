// SPDX-License-Identifier: GPL-2.0
/*
 * NTB device lending: what the lender and the borrower (lender.c, borrower.c)
 * and core.c use of a peer and of the adapter below the protocol: peer
 * lookup, request tags, status replies, uevents, memory window
 * translations, vector doorbell bits. Nothing here calls back up.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ntb.h>

#include "ntb_lending.h"
#include "xport.h"

/**
 * ntbl_peer_by_node() - the peer with a NodeId
 * @adapter: the adapter, locked
 * @node: the NodeId
 *
 * Return: the peer, or NULL.
 */
struct ntbl_peer *ntbl_peer_by_node(struct ntbl_adapter *adapter, int node)
{
	int i;

	lockdep_assert_held(&adapter->lock);
	for (i = 0; i < adapter->npeers; i++)
		if (adapter->peers[i].port == node)
			return &adapter->peers[i];
	return NULL;
}

/**
 * ntbl_next_tag() - a tag for a request to a peer, to match its reply
 * @peer: the peer
 *
 * Context: any; borrows ask without the adapter's lock.
 * Return: the tag.
 */
u32 ntbl_next_tag(struct ntbl_peer *peer)
{
	return atomic_inc_return(&peer->tag);
}

/**
 * ntbl_reply() - answer a request with a status only
 * @peer: the peer that asked
 * @type: the reply's type
 * @tag: the request's tag
 * @status: 0 or a negative errno
 */
void ntbl_reply(struct ntbl_peer *peer, u8 type, u32 tag, int status)
{
	struct ntbl_msg msg;

	ntbl_pack_status(&msg, type, tag, status);
	ntbl_chan_send(peer, &msg);
}

/**
 * ntbl_wait_reply_unlocked() - wait for a reply without the adapter's lock
 * @peer: the peer asked
 * @epoch: ntbl_chan_epoch() from before the request was sent
 * @type: the reply's type
 * @tag: the request's tag
 * @reply: OUT - the reply
 *
 * The caller holds &ntbl_adapter.lock: it is dropped while this waits, so
 * that the work queue and configfs go on, and taken again before this
 * returns. Whatever the caller read under it may have changed meanwhile.
 * &ntbl_adapter.busy keeps the NTB device bound, and so @peer alive: the
 * unbind wakes the wait (the channel's reset) and waits for it to end.
 *
 * Return: as ntbl_chan_wait_reply().
 */
int ntbl_wait_reply_unlocked(struct ntbl_peer *peer, unsigned int epoch,
			     u8 type, u32 tag, struct ntbl_msg *reply)
{
	struct ntbl_adapter *adapter = peer->adapter;
	int ret;

	lockdep_assert_held(&adapter->lock);
	adapter->busy++;
	mutex_unlock(&adapter->lock);
	ret = ntbl_chan_wait_reply(peer, epoch, type, tag, reply);
	mutex_lock(&adapter->lock);
	if (!--adapter->busy)
		wake_up_all(&adapter->idle);
	return ret;
}

/**
 * ntbl_uevent_add() - add a variable to a uevent
 * @ev: the uevent, zeroed before the first variable
 * @fmt: printf format of "NAME=value"
 *
 * Variables beyond the space in @ev are dropped with a warning.
 */
void ntbl_uevent_add(struct ntbl_uevent *ev, const char *fmt, ...)
{
	va_list args;

	if (WARN_ON_ONCE(ev->n >= ARRAY_SIZE(ev->buf)))
		return;
	va_start(args, fmt);
	vsnprintf(ev->buf[ev->n], sizeof(ev->buf[0]), fmt, args);
	va_end(args);
	ev->envp[ev->n] = ev->buf[ev->n];
	ev->n++;
}

/**
 * ntbl_uevent_send() - send a "change" uevent of the adapter's NTB device
 * @adapter: the adapter, locked; nothing is sent while its device is gone
 * @ev: the variables (Documentation/ntb-lending/uevents.rst)
 */
void ntbl_uevent_send(struct ntbl_adapter *adapter, struct ntbl_uevent *ev)
{
	lockdep_assert_held(&adapter->lock);
	if (adapter->ntb)
		kobject_uevent_env(&adapter->ntb->dev.kobj, KOBJ_CHANGE,
				   ev->envp);
}

/**
 * ntbl_bad_msg() - warn of a malformed message, which is then ignored
 * @peer: the peer that sent it
 * @msg: the message
 */
void ntbl_bad_msg(struct ntbl_peer *peer, const struct ntbl_msg *msg)
{
	ntbl_peer_log(peer, true, "node %d sent a malformed message of type %u: ignored",
		      peer->port, msg->type);
}

/**
 * ntbl_peer_log() - a line about what a peer said or did, ratelimited
 * @peer: the peer; its own limit, so that one peer that lies or flaps
 *	cannot hold back the lines about another
 * @warn: a warning, else information
 * @fmt: the line, without its newline
 *
 * At most NTBL_PEER_LOG_BURST lines in NTBL_PEER_LOG_INTERVAL; the first
 * line after some were held back says how many.
 *
 * Context: process, the adapter locked (the count of lines held back).
 */
void ntbl_peer_log(struct ntbl_peer *peer, bool warn, const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;
	int missed;

	if (!__ratelimit(&peer->log_rs))
		return;
	missed = peer->log_rs.missed;
	peer->log_rs.missed = 0;
	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	if (missed)
		dev_printk(warn ? KERN_WARNING : KERN_INFO, &peer->ntb->dev,
			   "%pV (and %d lines about node %d held back)\n",
			   &vaf, missed, peer->port);
	else
		dev_printk(warn ? KERN_WARNING : KERN_INFO, &peer->ntb->dev,
			   "%pV\n", &vaf);
	va_end(args);
}

/**
 * ntbl_vector_bits() - the doorbell bits that a lender's device rings
 * @adapter: the adapter, bound
 * @node: the lender's NodeId
 *
 * A two-port lender rings only us: every bit above the protocol's, which
 * the devices we borrow share. On a switch a ring reaches every peer, so
 * each port of the fabric owns an equal share of the bits, by the rank of
 * its port number, and a borrower tells the devices apart by their bits:
 * each device one of its lender's (ntbl_rx_borrow()). One device rings at
 * most NTBL_MAX_VEC bits.
 *
 * Context: any.
 * Return: the bits, 0 if there are too few.
 */
u64 ntbl_vector_bits(struct ntbl_adapter *adapter, int node)
{
	u64 valid = ntb_db_valid_mask(adapter->ntb), mask = 0;
	int i, bit, n = 0, rank = adapter->port < node, share;

	valid &= ~ntbl_xport_db_bits(adapter->xport);
	if (!adapter->switched) {
		mask = valid;
	} else {
		for (i = 0; i < adapter->npeers; i++)
			rank += adapter->peers[i].port < node;
		share = hweight64(valid) / (adapter->npeers + 1);
		if (!share)
			return 0;
		/* The rank-th share of the valid bits, however they lie. */
		for_each_set_bit(bit, (unsigned long *)&valid, 64)
			if (n++ / share == rank)
				mask |= BIT_ULL(bit);
	}
	return mask;
}

/**
 * ntbl_set_window() - translate memory window @widx between us and a peer
 * @peer: the peer
 * @widx: the window, below &ntbl_peer.nr_mw
 * @addr: the address it leads to
 * @size: its size
 *
 * The inbound window of a two-port adapter, the outbound one of a switch.
 *
 * Return: 0 or the NTB driver's errno.
 */
int ntbl_set_window(struct ntbl_peer *peer, int widx, u64 addr, u64 size)
{
	struct ntbl_adapter *adapter = peer->adapter;
	int ret;

	if (WARN_ON_ONCE(widx < 0 || widx >= peer->nr_mw))
		return -EINVAL;
	/* One of 0 bytes would count as none (__ntbl_clear_window()). */
	if (!size)
		return -EINVAL;
	mutex_lock(&adapter->win_lock);
	if (adapter->switched)
		ret = ntb_peer_mw_set_trans(peer->ntb, peer->pidx, widx, addr,
					    size);
	else
		ret = ntb_mw_set_trans(peer->ntb, peer->pidx, widx, addr, size);
	if (!ret)
		peer->xlat[widx] = size;
	mutex_unlock(&adapter->win_lock);
	return ret;
}

/**
 * __ntbl_clear_window() - ntbl_clear_window() with &ntbl_adapter.win_lock held
 * @peer: the peer
 * @widx: the window
 *
 * Context: also under a lent device's device lock (device_removed()).
 */
void __ntbl_clear_window(struct ntbl_peer *peer, int widx)
{
	lockdep_assert_held(&peer->adapter->win_lock);
	if (widx < 0 || widx >= peer->nr_mw || !peer->xlat[widx])
		return;
	peer->xlat[widx] = 0;
	if (!peer->adapter->ntb)
		return;		/* gone, and its translations with it */
	if (peer->adapter->switched)
		ntb_peer_mw_clear_trans(peer->ntb, peer->pidx, widx);
	else
		ntb_mw_clear_trans(peer->ntb, peer->pidx, widx);
}

/**
 * ntbl_clear_window() - undo ntbl_set_window()
 * @peer: the peer
 * @widx: the window
 */
void ntbl_clear_window(struct ntbl_peer *peer, int widx)
{
	mutex_lock(&peer->adapter->win_lock);
	__ntbl_clear_window(peer, widx);
	mutex_unlock(&peer->adapter->win_lock);
}

/* Whether a peer's translation holds our outbound window @widx. */
static bool outbound_busy(struct ntbl_adapter *adapter, int widx)
{
	int i;

	for (i = 0; i < adapter->npeers; i++)
		if (widx < adapter->peers[i].nr_mw && adapter->peers[i].xlat[widx])
			return true;
	return false;
}

/**
 * ntbl_pick_outbound() - a free outbound window of a switch port
 * @peer: the peer it is to lead to; its adapter is locked and switched
 * @addr: the first byte it is to reach
 * @xlat: in: the bytes it is to reach from @addr; out: the translation's
 *	size, as the window aligns it
 * @base: out: the translation's base, @addr aligned down as the window
 *	wants
 * @largest: out: the largest window's size
 *
 * A switch port's outbound windows serve every peer: the lender's onto a
 * borrower's memory, the borrower's onto each device it borrows. Of those
 * no translation holds, the smallest that takes the range (the lowest of
 * equal ones), so that the large ones stay free for the ranges that need
 * them. The caller translates it before it drops the lock.
 *
 * Return: the window's index; -ENOSPC if only windows in use take the
 * range, -E2BIG if none does (or the range, which a peer may have made
 * up, is empty or wraps around).
 */
int ntbl_pick_outbound(struct ntbl_peer *peer, u64 addr, u64 *xlat,
		       u64 *base, u64 *largest)
{
	struct ntbl_adapter *adapter = peer->adapter;
	resource_size_t addr_align, size_align, size_max, best_max = 0;
	u64 want = *xlat, start, size, align;
	int widx, best = -E2BIG;

	lockdep_assert_held(&adapter->lock);
	*largest = 0;
	if (!want || want > U64_MAX - addr)
		return -E2BIG;
	for (widx = 0; widx < peer->nr_mw; widx++) {
		if (ntb_mw_get_align(peer->ntb, peer->pidx, widx, &addr_align,
				     &size_align, &size_max))
			continue;
		*largest = max_t(u64, *largest, size_max);
		start = round_down(addr, max_t(u64, addr_align, PAGE_SIZE));
		size = addr + want - start;
		align = max_t(u64, size_align, PAGE_SIZE);
		/* Rounded up past U64_MAX, it would wrap to a small size. */
		if (size > size_max || size > U64_MAX - (align - 1))
			continue;
		size = round_up(size, align);
		if (size > size_max)
			continue;
		mutex_lock(&adapter->win_lock);
		if (outbound_busy(adapter, widx)) {
			mutex_unlock(&adapter->win_lock);
			if (best < 0)
				best = -ENOSPC;
			continue;
		}
		mutex_unlock(&adapter->win_lock);
		if (best >= 0 && size_max >= best_max)
			continue;
		best = widx;
		best_max = size_max;
		*base = start;
		*xlat = size;
	}
	return best;
}

/**
 * ntbl_outbound_free() - how many of a switch port's windows are free
 * @adapter: the adapter, locked and switched
 *
 * Return: the windows no translation holds.
 */
unsigned int ntbl_outbound_free(struct ntbl_adapter *adapter)
{
	unsigned int n = 0;
	int widx;

	lockdep_assert_held(&adapter->lock);
	mutex_lock(&adapter->win_lock);
	for (widx = 0; adapter->npeers && widx < adapter->peers[0].nr_mw; widx++)
		n += !outbound_busy(adapter, widx);
	mutex_unlock(&adapter->win_lock);
	return n;
}

/**
 * ntbl_outbound_holders() - say who holds a switch port's outbound windows
 * @adapter: the adapter, locked and switched
 * @buf: where to write "window W: memory of node N, window W: 0000a from
 *	node N, ..."
 * @len: its size
 */
void ntbl_outbound_holders(struct ntbl_adapter *adapter, char *buf, size_t len)
{
	struct ntbl_borrow *borrow;
	struct ntbl_peer *peer;
	size_t n = 0;
	int i;

	lockdep_assert_held(&adapter->lock);
	buf[0] = '\0';
	for (i = 0; i < adapter->npeers; i++) {
		peer = &adapter->peers[i];
		if (peer->mem_widx >= 0)
			n += scnprintf(buf + n, len - n,
				       "%swindow %d: memory of node %d",
				       n ? ", " : "", peer->mem_widx,
				       peer->port);
		list_for_each_entry(borrow, &peer->borrows, peer_node)
			if (borrow->widx >= 0)
				n += scnprintf(buf + n, len - n,
					       "%swindow %d: " NTBL_ID_FMT " from node %d",
					       n ? ", " : "", borrow->widx,
					       ntbl_offer_id(borrow->lender,
							     borrow->index),
					       peer->port);
	}
}
