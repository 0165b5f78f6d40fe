// SPDX-License-Identifier: GPL-2.0
/*
 * NTB device lending: the NTB client that lends local PCIe devices to the
 * peers of an NTB fabric and borrows theirs.
 *
 * One &struct ntbl_adapter holds the lending state of each local NTB device
 * (each adapter on the fabric); nothing is shared between adapters, so a
 * second fabric or a second adapter never meets the state of the first.
 * This file makes and frees the adapters, follows the link to every peer,
 * says hello, and hands each message to the lender (lender.c) or the
 * borrower (borrower.c); see Documentation/ntb-lending/protocol.rst. It asks
 * the configfs layer above it only through &struct ntbl_abi_ops.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/module.h>
#include <linux/ntb.h>
#include <linux/pci.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "ntb_lending.h"
#include "xport.h"

/* What core asks of the configfs layer above it (ntbl_core_init()). */
static const struct ntbl_abi_ops *ntbl_abi;

static void send_hello(struct ntbl_peer *peer, bool want_reply)
{
	struct ntbl_wire_hello hello = {
		.version = NTBL_PROTO_VERSION,
		.node = peer->adapter->port,
		.flags = want_reply ? NTBL_HELLO_WANT_REPLY : 0,
	};
	struct ntbl_msg msg;

	ntbl_pack_hello(&msg, &hello);
	ntbl_chan_send(peer, &msg);
}

static void node_uevent(struct ntbl_peer *peer, const char *event)
{
	struct ntbl_uevent ev = {};

	ntbl_uevent_add(&ev, "NTB_LENDING_EVENT=%s", event);
	ntbl_uevent_add(&ev, "NTB_LENDING_NODE=%d", peer->port);
	ntbl_uevent_send(peer->adapter, &ev);
}

/* The peer is gone or started over: undo what we lent it and borrowed. */
static void peer_lost(struct ntbl_peer *peer)
{
	ntbl_borrow_peer_lost(peer);
	ntbl_lend_peer_lost(peer);
}

/* Forget what @peer offered us: it went away or started over. */
static void forget_peer(struct ntbl_peer *peer)
{
	ntbl_offers_forget(peer);
}

/*
 * Make offers/ follow the offers registry (borrower.c) now.
 * Context: &ntbl_adapter.offers_work alone, for it takes configfs'
 * subsystem mutex, which comes before the PCI rescan lock (ntb_lending.h).
 */
static void ntbl_offers_sync(struct ntbl_adapter *adapter)
{
	ntbl_abi->offers_sync(adapter);
}

static void offers_work(struct work_struct *work)
{
	ntbl_offers_sync(container_of(work, struct ntbl_adapter, offers_work));
}

/*
 * Have offers/ follow the offers soon, on the system work queue (see
 * &ntbl_adapter.offers_work). Context: any.
 */
static void ntbl_offers_changed(struct ntbl_adapter *adapter)
{
	queue_work(system_wq, &adapter->offers_work);
}

/**
 * ntbl_replay_offers() - send the "offer" uevent of every shown offer again
 * @adapter: the adapter, locked
 *
 * The offers work sends them, once offers/ follows the registry: a
 * replayed uevent names a group that exists, comes after the offer's
 * first one, and an offer withdrawn before its turn is not replayed.
 * Nothing is shown while the NTB device is gone, so nothing is replayed.
 *
 * Context: process; the uevents come after this returns.
 */
void ntbl_replay_offers(struct ntbl_adapter *adapter)
{
	lockdep_assert_held(&adapter->lock);
	if (ntbl_offers_mark_replay(adapter))
		ntbl_offers_changed(adapter);
}

/* --- messages from peers -------------------------------------------------- */

/*
 * Remove the borrowed devices that messages or link events ended
 * (ntbl_borrow_remove_ended()), under the PCI rescan/remove lock, which
 * comes before ours (ntb_lending.h), on the system's unbound work queue:
 * a driver's removal may wait for its timeouts, and meanwhile @wq goes on
 * with later messages and link events (a link lost meanwhile makes the
 * driver see its device gone). The adapter's removal removes them itself.
 */
static void ended_work(struct work_struct *work)
{
	struct ntbl_adapter *adapter = container_of(work, struct ntbl_adapter,
						    ended_work);

	pci_lock_rescan_remove();
	mutex_lock(&adapter->lock);
	if (adapter->ntb && !adapter->unbinding)
		ntbl_borrow_remove_ended(adapter);
	/* As a return does: a return waiting for it queues on our lock. */
	pci_unlock_rescan_remove();
	mutex_unlock(&adapter->lock);
}

static void remove_ended_soon(struct ntbl_adapter *adapter)
{
	lockdep_assert_held(&adapter->lock);
	if (ntbl_borrow_ended(adapter))
		queue_work(system_unbound_wq, &adapter->ended_work);
}

/* @peer stops speaking our protocol, though its link stays up. */
static void peer_unusable(struct ntbl_peer *peer)
{
	if (!peer->up)
		return;
	peer_lost(peer);
	forget_peer(peer);
	peer->up = false;
	ntbl_peer_log(peer, false, "node %d is down", peer->port);
	node_uevent(peer, "node-down");
}

static void rx_hello(struct ntbl_peer *peer, const struct ntbl_msg *msg)
{
	struct ntbl_adapter *adapter = peer->adapter;
	struct ntbl_wire_hello hello;

	if (ntbl_unpack_hello(msg, &hello))
		return ntbl_bad_msg(peer, msg);
	peer->version = min_t(u32, hello.version, INT_MAX);
	if (hello.version != NTBL_PROTO_VERSION) {
		ntbl_peer_log(peer, true,
			      "node %d speaks lending protocol %u, this host %u: not using it; load the same ntb_lending on both",
			      peer->port, hello.version, NTBL_PROTO_VERSION);
		return peer_unusable(peer);
	}
	if (hello.node != peer->port) {
		ntbl_peer_log(peer, true,
			      "peer on port %d calls itself node %u: not using it",
			      peer->port, hello.node);
		return peer_unusable(peer);
	}
	if (!(hello.flags & NTBL_HELLO_WANT_REPLY)) {
		/* The answer to ours. */
		if (peer->up)
			return;
	} else {
		/* The peer (re)started: what it offered before is stale. */
		peer_lost(peer);
		forget_peer(peer);
		send_hello(peer, false);
	}
	if (!peer->up) {
		ntbl_peer_log(peer, false, "node %d is up", peer->port);
		node_uevent(peer, "node-up");
	}
	peer->up = true;
	ntbl_send_offers(adapter, NULL, peer->port);
}

static void rx_work(struct work_struct *work)
{
	struct ntbl_adapter *adapter = container_of(work, struct ntbl_adapter,
						    rx_work);
	struct ntbl_peer *peer;
	struct ntbl_msg msg;

	mutex_lock(&adapter->lock);
	while (adapter->ntb && !adapter->unbinding &&
	       ntbl_chan_next(adapter, &peer, &msg)) {
		if (msg.type != NTBL_MSG_HELLO && !peer->up)
			continue;	/* not introduced yet */
		switch (msg.type) {
		case NTBL_MSG_HELLO:
			rx_hello(peer, &msg);
			break;
		case NTBL_MSG_OFFER:
			ntbl_rx_offer(peer, &msg);
			break;
		case NTBL_MSG_WITHDRAW:
			ntbl_rx_withdraw(peer, &msg);
			break;
		case NTBL_MSG_BORROW:
			ntbl_rx_borrow(peer, &msg);
			break;
		case NTBL_MSG_RETURN:
			ntbl_rx_return(peer, &msg);
			break;
		case NTBL_MSG_REVOKE:
			ntbl_rx_revoke(peer, &msg);
			break;
		default:
			ntbl_bad_msg(peer, &msg);
		}
	}
	remove_ended_soon(adapter);
	mutex_unlock(&adapter->lock);
	ntbl_offers_changed(adapter);
}

/* --- link and doorbell events --------------------------------------------- */

static void link_work(struct work_struct *work)
{
	struct ntbl_adapter *adapter = container_of(work, struct ntbl_adapter,
						    link_work);
	u64 up;
	int i;

	mutex_lock(&adapter->lock);
	if (!adapter->ntb || adapter->unbinding)
		goto unlock;
	up = ntb_link_is_up(adapter->ntb, NULL, NULL);
	if (adapter->xport->link_event)
		adapter->xport->link_event(adapter);
	for (i = 0; i < adapter->npeers; i++) {
		struct ntbl_peer *peer = &adapter->peers[i];
		bool link = up & BIT_ULL(peer->pidx);

		if (link == peer->linked)
			continue;
		/*
		 * Whatever was in flight is stale, and so is a hello that
		 * came in before this work ran: start over.
		 */
		ntbl_chan_reset(peer);
		peer_lost(peer);
		forget_peer(peer);
		if (!link && peer->up) {
			ntbl_peer_log(peer, false, "node %d is down",
				      peer->port);
			node_uevent(peer, "node-down");
		}
		peer->up = false;
		peer->version = -1;
		if (link)
			send_hello(peer, true);
		peer->linked = link;
	}
	remove_ended_soon(adapter);
unlock:
	mutex_unlock(&adapter->lock);
	ntbl_offers_changed(adapter);
}

/*
 * Context: the NTB driver's, atomic; the peers are there, for
 * ntbl_remove() clears the context before it frees them.
 */
static void ntbl_link_event(void *ctx)
{
	struct ntbl_adapter *adapter = ctx;
	u64 up = ntb_link_is_up(adapter->ntb, NULL, NULL);
	int i;

	for (i = 0; i < adapter->npeers; i++)
		WRITE_ONCE(adapter->peers[i].link_down,
			   !(up & BIT_ULL(adapter->peers[i].pidx)));
	queue_work(adapter->wq, &adapter->link_work);
}

/*
 * The bits of db vector @vector: an adapter with several vectors (one per
 * group of bits, each on a CPU of its own) signals each group on its own
 * vector, and the other groups are other vectors' to take, on their CPUs.
 * A vector that names no bit takes every bit, as a lone vector does.
 */
static u64 ntbl_db_vector_bits(struct ntb_dev *ntb, int vector)
{
	u64 bits = 0;

	if (ntb_db_vector_count(ntb) > 1)
		bits = ntb_db_vector_mask(ntb, vector);
	return bits ?: ntb_db_valid_mask(ntb);
}

static void ntbl_db_event(void *ctx, int vector)
{
	struct ntbl_adapter *adapter = ctx;
	u64 db = ntb_db_read(adapter->ntb);
	int i;

	db &= ntbl_db_vector_bits(adapter->ntb, vector);
	/* Cleared first: a ring during the handlers is not lost. */
	ntb_db_clear(adapter->ntb, db);
	if (db & ntbl_xport_db_bits(adapter->xport))
		adapter->xport->db_event(adapter, db);
	/* The other bits are vectors; each borrow takes its lender's. */
	for (i = 0; i < adapter->npeers; i++)
		ntbl_borrow_db(&adapter->peers[i], db);
}

static void ntbl_msg_event(void *ctx)
{
	struct ntbl_adapter *adapter = ctx;

	if (adapter->xport->msg_event)
		adapter->xport->msg_event(adapter);
}

static const struct ntb_ctx_ops ntbl_ctx_ops = {
	.link_event = ntbl_link_event,
	.db_event = ntbl_db_event,
	.msg_event = ntbl_msg_event,
};

/* ntb_lending/ in debugfs: what tests look at, not an ABI. */
static struct dentry *ntbl_debugfs;

/* Per peer: NodeId, then the messages its channel holds. */
static int queues_show(struct seq_file *s, void *unused)
{
	struct ntbl_adapter *adapter = s->private;
	struct ntbl_chan *chan;
	int i;

	mutex_lock(&adapter->lock);
	for (i = 0; i < adapter->npeers; i++) {
		chan = &adapter->peers[i].chan;
		spin_lock_irq(&chan->lock);
		seq_printf(s, "%d tx %u rx %u replies %u\n",
			   adapter->peers[i].port, chan->nr_tx, chan->nr_rx,
			   chan->nr_replies);
		spin_unlock_irq(&chan->lock);
	}
	mutex_unlock(&adapter->lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(queues);

/* Per borrowed device: its Id, its name here, the config requests sent. */
static int borrows_show(struct seq_file *s, void *unused)
{
	struct ntbl_adapter *adapter = s->private;
	struct ntbl_borrow *borrow;

	mutex_lock(&adapter->lock);
	list_for_each_entry(borrow, &adapter->borrows, node)
		seq_printf(s, NTBL_ID_FMT " %s %u\n",
			   ntbl_offer_id(borrow->lender, borrow->index),
			   borrow->local_bdf[0] ? borrow->local_bdf : "-",
			   READ_ONCE(borrow->requests));
	mutex_unlock(&adapter->lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(borrows);

/**
 * ntbl_adapter_debugfs() - show an adapter's queues and borrows in debugfs
 * @adapter: the adapter, until ntbl_adapter_debugfs_remove()
 * @name: its name
 */
static void ntbl_adapter_debugfs(struct ntbl_adapter *adapter, const char *name)
{
	adapter->debugfs = debugfs_create_dir(name, ntbl_debugfs);
	debugfs_create_file("queues", 0400, adapter->debugfs, adapter,
			    &queues_fops);
	debugfs_create_file("borrows", 0400, adapter->debugfs, adapter,
			    &borrows_fops);
}

/**
 * ntbl_adapter_debugfs_remove() - undo ntbl_adapter_debugfs()
 * @adapter: the adapter
 */
static void ntbl_adapter_debugfs_remove(struct ntbl_adapter *adapter)
{
	debugfs_remove_recursive(adapter->debugfs);
}

/**
 * ntbl_adapter_init() - set up the parts of a new adapter that are not configfs
 * @adapter: the adapter
 */
static void ntbl_adapter_init(struct ntbl_adapter *adapter)
{
	mutex_init(&adapter->lock);
	mutex_init(&adapter->win_lock);
	INIT_LIST_HEAD(&adapter->connections);
	INIT_LIST_HEAD(&adapter->lends);
	INIT_LIST_HEAD(&adapter->offers);
	INIT_LIST_HEAD(&adapter->borrows);
	init_waitqueue_head(&adapter->idle);
	init_waitqueue_head(&adapter->revoked);
	INIT_WORK(&adapter->rx_work, rx_work);
	INIT_WORK(&adapter->link_work, link_work);
	INIT_WORK(&adapter->removed_work, ntbl_lend_removed_work);
	INIT_WORK(&adapter->ended_work, ended_work);
}

/* --- the module's adapters ------------------------------------------------ */

/* The module's adapters: the lookup by name and the checks across them. */
static LIST_HEAD(ntbl_adapters);
/* Protects ntbl_adapters; held across a lend entry's checks and its adding. */
static DEFINE_MUTEX(ntbl_adapters_lock);

/* Whether a PCI function has a lend entry on any adapter; takes their locks. */
static bool ntbl_is_lent(struct pci_dev *pdev)
{
	struct ntbl_adapter *adapter;
	struct ntbl_lend *lend;
	bool found = false;

	lockdep_assert_held(&ntbl_adapters_lock);
	list_for_each_entry(adapter, &ntbl_adapters, node) {
		mutex_lock(&adapter->lock);
		list_for_each_entry(lend, &adapter->lends, node)
			found |= lend->pdev == pdev;
		mutex_unlock(&adapter->lock);
	}
	return found;
}

/* Whether a PCI function is one of our bound NTB adapters. */
static bool ntbl_is_adapter_pdev(struct pci_dev *pdev)
{
	struct ntbl_adapter *adapter;
	bool found = false;

	lockdep_assert_held(&ntbl_adapters_lock);
	list_for_each_entry(adapter, &ntbl_adapters, node) {
		mutex_lock(&adapter->lock);
		found |= adapter->ntb && adapter->ntb->pdev == pdev;
		mutex_unlock(&adapter->lock);
	}
	return found;
}

static unsigned int free_index(struct ntbl_adapter *adapter)
{
	struct ntbl_lend *lend;
	unsigned int index = 0;
	bool used;

	do {
		used = false;
		list_for_each_entry(lend, &adapter->lends, node)
			used |= lend->index == index;
	} while (used && ++index);
	return index;
}

/**
 * ntbl_lend_add() - add a lend entry for a local PCI function
 * @lend: the entry, its adapter, function and group set; the adapter is
 *	not locked
 *
 * Refuses a function that cannot be lent, or that has an entry on any
 * adapter, with the line that says why.
 *
 * Return: 0, -EPERM, -EEXIST, or -ENOSPC if the adapter has every index
 * in use.
 */
int ntbl_lend_add(struct ntbl_lend *lend)
{
	struct ntbl_adapter *adapter = lend->adapter;
	const char *aname = config_item_name(&adapter->group.cg_item);
	const char *name = config_item_name(&lend->group.cg_item);
	struct pci_dev *pdev = lend->pdev;
	int ret = 0;

	mutex_lock(&ntbl_adapters_lock);
	if ((pdev->class >> 16) == PCI_BASE_CLASS_BRIDGE || pci_is_bridge(pdev)) {
		pr_err("%s: lends/%s: a bridge cannot be lent\n", aname, name);
		ret = -EPERM;
	} else if (pci_domain_nr(pdev->bus) > 0xffff) {
		pr_err("%s: lends/%s: devices on virtual buses (domains above ffff, such as borrowed ones) cannot be lent\n",
		       aname, name);
		ret = -EPERM;
	} else if (ntbl_is_adapter_pdev(pdev)) {
		pr_err("%s: lends/%s: this is an NTB adapter of the fabric; it cannot be lent\n",
		       aname, name);
		ret = -EPERM;
	} else if (ntbl_is_lent(pdev)) {
		pr_err("%s: lends/%s: the device already has a lend entry\n",
		       aname, name);
		ret = -EEXIST;
	}
	if (ret)
		goto out;

	mutex_lock(&adapter->lock);
	lend->index = free_index(adapter);
	if (lend->index > NTBL_MAX_LEND_INDEX) {
		pr_err("%s: lends/%s: an adapter has at most %d lend entries\n",
		       aname, name, NTBL_MAX_LEND_INDEX + 1);
		ret = -ENOSPC;
	} else {
		list_add_tail(&lend->node, &adapter->lends);
	}
	mutex_unlock(&adapter->lock);
out:
	mutex_unlock(&ntbl_adapters_lock);
	return ret;
}

/*
 * The adapter of an NTB device, made on first use with its group, which
 * it lives as long as (ntbl_adapter_free()). The offers work shows the
 * group in configfs: the PCI core may probe the device under its rescan
 * lock, which a borrow's mkdir takes under configfs' subsystem mutex.
 * Context: process.
 * Return: the adapter, or an ERR_PTR().
 */
static struct ntbl_adapter *ntbl_adapter_get(const char *name)
{
	struct ntbl_adapter *adapter;

	mutex_lock(&ntbl_adapters_lock);
	list_for_each_entry(adapter, &ntbl_adapters, node) {
		/* Its name is its group's. */
		if (!strcmp(config_item_name(&adapter->group.cg_item), name)) {
			mutex_unlock(&ntbl_adapters_lock);
			return adapter;
		}
	}
	mutex_unlock(&ntbl_adapters_lock);

	adapter = kzalloc(sizeof(*adapter), GFP_KERNEL);
	if (!adapter)
		return ERR_PTR(-ENOMEM);
	ntbl_adapter_init(adapter);
	INIT_WORK(&adapter->offers_work, offers_work);
	adapter->wq = alloc_ordered_workqueue("ntb_lending/%s", 0, name);
	if (!adapter->wq) {
		kfree(adapter);
		return ERR_PTR(-ENOMEM);
	}
	ntbl_adapter_debugfs(adapter, name);
	/* From here on, the last put of its group frees the adapter. */
	ntbl_abi->adapter_init(adapter, name);
	mutex_lock(&ntbl_adapters_lock);
	list_add_tail(&adapter->node, &ntbl_adapters);
	mutex_unlock(&ntbl_adapters_lock);
	ntbl_offers_changed(adapter);
	return adapter;
}

/**
 * ntbl_adapter_free() - free an adapter, once its configfs group is released
 * @adapter: the adapter, its NTB device unbound
 */
void ntbl_adapter_free(struct ntbl_adapter *adapter)
{
	ntbl_adapter_debugfs_remove(adapter);
	destroy_workqueue(adapter->wq);
	cancel_work_sync(&adapter->offers_work);
	cancel_work_sync(&adapter->removed_work);
	cancel_work_sync(&adapter->ended_work);
	kfree(adapter);
}

/* Remove every adapter from configfs, which frees them: the module goes. */
static void ntbl_adapters_remove(void)
{
	struct ntbl_adapter *adapter, *n;

	list_for_each_entry_safe(adapter, n, &ntbl_adapters, node) {
		list_del(&adapter->node);
		/* ntbl_remove() left offers/ to it; the work may queue it. */
		flush_workqueue(adapter->wq);
		flush_work(&adapter->offers_work);
		ntbl_abi->adapter_remove(adapter);
	}
}

/*
 * Wait until the adapters probed so far show in configfs, so that the
 * module's load returns with them there. The lock is dropped around each
 * wait, since a mkdir takes it under configfs' mutex, which the work
 * takes; adapters leave the list only as the module goes.
 */
static void ntbl_adapters_shown(void)
{
	struct ntbl_adapter *adapter;

	mutex_lock(&ntbl_adapters_lock);
	list_for_each_entry(adapter, &ntbl_adapters, node) {
		mutex_unlock(&ntbl_adapters_lock);
		flush_work(&adapter->offers_work);
		mutex_lock(&ntbl_adapters_lock);
	}
	mutex_unlock(&ntbl_adapters_lock);
}

/* --- the NTB client ------------------------------------------------------- */

/*
 * The transports, in the order they are tried: scratchpads on two-port
 * adapters; message registers on switches (whose inbound scratchpads, if
 * any, every peer would share) and on two-port adapters without enough
 * scratchpads.
 */
static const struct ntbl_xport_ops *const ntbl_xports[] = {
	&ntbl_xport_spad,
	&ntbl_xport_msgreg,
};

/*
 * The first transport @ntb can carry; -ENODEV, which declines the device
 * without the driver core's error line, if none.
 */
static const struct ntbl_xport_ops *ntbl_pick_xport(struct ntb_dev *ntb)
{
	char needs[128];
	int i, len = 0;

	for (i = 0; i < ARRAY_SIZE(ntbl_xports); i++)
		if (ntbl_xports[i]->usable(ntb))
			return ntbl_xports[i];
	for (i = 0; i < ARRAY_SIZE(ntbl_xports); i++)
		len += scnprintf(needs + len, sizeof(needs) - len, "%s%s",
				 i ? ", or " : "", ntbl_xports[i]->needs);
	dev_info(&ntb->dev,
		 "not used for lending: needs %s; has %d, %d and %d\n",
		 needs, ntb_spad_count(ntb),
		 (int)hweight64(ntb_db_valid_mask(ntb)), ntb_msg_count(ntb));
	return ERR_PTR(-ENODEV);
}

static void peers_free(struct ntbl_peer *peers, int n)
{
	int i;

	for (i = 0; i < n; i++)
		kfree(peers[i].xlat);
	kfree(peers);
}

/*
 * The peers of @ntb, each with the windows we translate toward it: our
 * inbound ones on a two-port adapter, our outbound ones (which any peer
 * may take) on a switch, whose drivers translate no inbound window.
 */
static struct ntbl_peer *peers_alloc(struct ntbl_adapter *adapter,
				     struct ntb_dev *ntb, int n)
{
	bool switched = !ntb->ops->mw_set_trans;
	struct ntbl_peer *peers;
	int i, nr_mw;

	peers = kcalloc(n, sizeof(*peers), GFP_KERNEL);
	if (!peers)
		return NULL;
	for (i = 0; i < n; i++) {
		nr_mw = switched ? ntb_peer_mw_count(ntb) : ntb_mw_count(ntb, i);
		peers[i].xlat = kcalloc(max(nr_mw, 0), sizeof(u64), GFP_KERNEL);
		if (!peers[i].xlat) {
			peers_free(peers, i);
			return NULL;
		}
		peers[i].nr_mw = max(nr_mw, 0);
		peers[i].adapter = adapter;
		peers[i].pidx = i;
		peers[i].port = ntb_peer_port_number(ntb, i);
		peers[i].ntb = ntb;
		INIT_LIST_HEAD(&peers[i].borrows);
		raw_spin_lock_init(&peers[i].call_lock);
		raw_spin_lock_init(&peers[i].serve_lock);
		ratelimit_state_init(&peers[i].log_rs, NTBL_PEER_LOG_INTERVAL,
				     NTBL_PEER_LOG_BURST);
		/* ntbl_peer_log() says how many it held back. */
		ratelimit_set_flags(&peers[i].log_rs, RATELIMIT_MSG_ON_RELEASE);
		peers[i].rpc_last[0] = -1;
		peers[i].version = -1;
		peers[i].mem_widx = -1;
		ntbl_chan_init(&peers[i]);
	}
	return peers;
}

static int ntbl_probe(struct ntb_client *client, struct ntb_dev *ntb)
{
	const struct ntbl_xport_ops *xport;
	struct ntbl_adapter *adapter;
	struct ntbl_peer *peers;
	bool bound = false;
	int n, ret;

	xport = ntbl_pick_xport(ntb);
	if (IS_ERR(xport))
		return PTR_ERR(xport);

	adapter = ntbl_adapter_get(dev_name(&ntb->dev));
	if (IS_ERR(adapter))
		return PTR_ERR(adapter);

	n = ntb_peer_port_count(ntb);
	peers = peers_alloc(adapter, ntb, n);
	if (!peers)
		return -ENOMEM;

	mutex_lock(&adapter->lock);
	adapter->peers = peers;
	adapter->npeers = n;
	adapter->port = ntb_port_number(ntb);
	adapter->ntb = ntb;
	adapter->xport = xport;
	/* Work a former binding queued waits for the transport. */
	adapter->unbinding = true;
	/* Drivers of switches translate outbound windows only (IDT's). */
	adapter->switched = !ntb->ops->mw_set_trans;
	mutex_unlock(&adapter->lock);

	/* No peer is up before the link is: nothing sends meanwhile. */
	if (xport->bind) {
		ret = xport->bind(adapter);
		if (ret)
			goto err_peers;
		bound = true;
	}
	ret = ntb_set_ctx(ntb, adapter, &ntbl_ctx_ops);
	if (ret)
		goto err_peers;
	ntb_db_clear(ntb, ntb_db_valid_mask(ntb));
	ntb_db_clear_mask(ntb, ntb_db_valid_mask(ntb));
	if (xport->start)
		xport->start(adapter);
	mutex_lock(&adapter->lock);
	adapter->unbinding = false;
	adapter->announce = true;
	mutex_unlock(&adapter->lock);
	/* Messages that came meanwhile waited. */
	queue_work(adapter->wq, &adapter->rx_work);
	ntbl_offers_changed(adapter);
	ret = ntb_link_enable(ntb, NTB_SPEED_AUTO, NTB_WIDTH_AUTO);
	if (ret) {
		ntb_clear_ctx(ntb);
		goto err_peers;
	}
	queue_work(adapter->wq, &adapter->link_work);
	dev_info(&ntb->dev, "lending on node %d over %s\n", adapter->port,
		 xport->name);
	return 0;

err_peers:
	mutex_lock(&adapter->lock);
	adapter->ntb = NULL;
	adapter->peers = NULL;
	adapter->npeers = 0;
	mutex_unlock(&adapter->lock);
	/*
	 * A link event may have queued work: it sees the adapter unbound.
	 * Not flushed: the PCI core may probe under its rescan lock, which
	 * that work takes.
	 */
	if (bound && xport->unbind)
		xport->unbind(adapter);
	peers_free(peers, n);
	return ret;
}

static void ntbl_remove(struct ntb_client *client, struct ntb_dev *ntb)
{
	struct ntbl_adapter *adapter = ntb->ctx;
	const struct ntbl_xport_ops *xport = adapter->xport;
	struct ntbl_peer *peers;
	int i, n;

	ntb_link_disable(ntb);
	ntb_db_set_mask(ntb, ntb_db_valid_mask(ntb));
	ntb_clear_ctx(ntb);

	/*
	 * Wake whoever waits for a peer, let them finish, start no more: a
	 * hello that arrives meanwhile must not bring a peer up again.
	 */
	mutex_lock(&adapter->lock);
	adapter->unbinding = true;
	for (i = 0; i < adapter->npeers; i++) {
		ntbl_chan_reset(&adapter->peers[i]);
		adapter->peers[i].up = false;
		/* A driver probing a borrowed device meanwhile gives up. */
		ntbl_borrow_peer_lost(&adapter->peers[i]);
	}
	/*
	 * A return counts in busy without looking at @unbinding: until we
	 * hold the lock with busy 0, one may start (ntbl_borrow_return()).
	 */
	while (adapter->busy) {
		mutex_unlock(&adapter->lock);
		wait_event(adapter->idle, !READ_ONCE(adapter->busy));
		mutex_lock(&adapter->lock);
	}

	/* From here on nothing reaches the peers: configfs sees none. */
	peers = adapter->peers;
	n = adapter->npeers;
	for (i = 0; i < n; i++)
		ntbl_borrow_peer_lost(&peers[i]);
	ntbl_borrow_remove_ended(adapter);
	for (i = 0; i < n; i++) {
		ntbl_borrow_let_go(&peers[i]);
		ntbl_lend_peer_lost(&peers[i]);
		forget_peer(&peers[i]);
		peers[i].linked = false;
	}
	adapter->ntb = NULL;
	adapter->peers = NULL;
	adapter->npeers = 0;
	mutex_unlock(&adapter->lock);

	for (i = 0; i < n; i++)
		cancel_work_sync(&peers[i].chan.tx_work);
	if (xport->unbind)
		xport->unbind(adapter);
	/*
	 * Neither the adapter's work is flushed nor offers/ made to follow
	 * here: a hot-removal runs this under the PCI rescan/remove lock,
	 * which that work takes, and a borrow's mkdir takes it under
	 * configfs' subsystem mutex, which offers/ takes. The work sees the
	 * adapter unbound; the offers work empties offers/ soon.
	 */
	ntbl_offers_changed(adapter);
	/* Messages that came in since the first reset go with the peers. */
	for (i = 0; i < n; i++)
		ntbl_chan_reset(&peers[i]);
	peers_free(peers, n);
}

static struct ntb_client ntbl_client = {
	.ops = {
		.probe = ntbl_probe,
		.remove = ntbl_remove,
	},
};

/**
 * ntbl_core_init() - start the NTB client: adapters come as devices probe
 * @abi: what core asks of the configfs layer, which is registered
 *
 * Return: 0 or a negative errno.
 */
int __init ntbl_core_init(const struct ntbl_abi_ops *abi)
{
	int ret;

	ntbl_abi = abi;
	ntbl_debugfs = debugfs_create_dir(KBUILD_MODNAME, NULL);
	ret = ntb_register_client(&ntbl_client);
	if (ret) {
		ntbl_adapters_remove();
		debugfs_remove_recursive(ntbl_debugfs);
		return ret;
	}
	ntbl_adapters_shown();
	return 0;
}

/**
 * ntbl_core_exit() - stop the NTB client and remove every adapter
 *
 * Context: configfs holds no directory of the operator (each would hold a
 * reference to the module).
 */
void __exit ntbl_core_exit(void)
{
	ntb_unregister_client(&ntbl_client);
	ntbl_adapters_remove();
	debugfs_remove_recursive(ntbl_debugfs);
}
