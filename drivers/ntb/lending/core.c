// SPDX-License-Identifier: GPL-2.0
/*
 * NTB device lending: the NTB client that lends local PCIe devices to the
 * peers of an NTB fabric and borrows theirs.
 *
 * One &struct nl_adapter holds the lending state of each local NTB device
 * (each adapter on the fabric); nothing is shared between adapters, so a
 * second fabric or a second adapter never meets the state of the first.
 * This file makes and frees the adapters, follows the link to every peer,
 * says hello, and hands each message to the lender (lend.c) or the
 * borrower (borrow.c); see Documentation/ntb-lending/protocol.rst. It asks
 * the configfs layer above it only through &struct nl_abi_ops.
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

/* What core asks of the configfs layer above it (nl_core_init()). */
static const struct nl_abi_ops *nl_abi;

static void send_hello(struct nl_peer *peer, bool want_reply)
{
	struct nl_wire_hello hello = {
		.version = NL_PROTO_VERSION,
		.node = peer->adapter->port,
		.flags = want_reply ? NL_HELLO_WANT_REPLY : 0,
	};
	struct nl_msg msg;

	nl_pack_hello(&msg, &hello);
	nl_chan_send(peer, &msg);
}

static void node_uevent(struct nl_peer *peer, const char *event)
{
	struct nl_uevent ev = {};

	nl_uevent_add(&ev, "NTB_LENDING_EVENT=%s", event);
	nl_uevent_add(&ev, "NTB_LENDING_NODE=%d", peer->port);
	nl_uevent_send(peer->adapter, &ev);
}

/* The peer is gone or started over: undo what we lent it and borrowed. */
static void peer_lost(struct nl_peer *peer)
{
	nl_borrow_peer_lost(peer, false);
	nl_lend_peer_lost(peer);
}

/* Forget what @peer offered us: it went away or started over. */
static void forget_peer(struct nl_peer *peer)
{
	nl_offers_forget(peer);
}

/*
 * Make offers/ follow the offers registry (borrow.c) now.
 * Context: &nl_adapter.offers_work, or once it is flushed and nothing
 * queues it any more (nl_remove()); takes configfs' subsystem mutex.
 */
static void nl_offers_sync(struct nl_adapter *adapter)
{
	nl_abi->offers_sync(adapter);
}

static void offers_work(struct work_struct *work)
{
	nl_offers_sync(container_of(work, struct nl_adapter, offers_work));
}

/*
 * Have offers/ follow the offers soon, on the system work queue (see
 * &nl_adapter.offers_work). Context: any.
 */
static void nl_offers_changed(struct nl_adapter *adapter)
{
	queue_work(system_wq, &adapter->offers_work);
}

/* --- messages from peers ---------------------------------------------------- */

/* @peer stops speaking our protocol, though its link stays up. */
static void peer_unusable(struct nl_peer *peer)
{
	if (!peer->up)
		return;
	peer_lost(peer);
	forget_peer(peer);
	peer->up = false;
	dev_info(&peer->ntb->dev, "node %d is down\n", peer->port);
	node_uevent(peer, "node-down");
}

static void rx_hello(struct nl_peer *peer, const struct nl_msg *msg)
{
	struct nl_adapter *adapter = peer->adapter;
	struct nl_wire_hello hello;

	if (nl_unpack_hello(msg, &hello))
		return nl_bad_msg(peer, msg);
	peer->version = min_t(u32, hello.version, INT_MAX);
	if (hello.version != NL_PROTO_VERSION) {
		dev_warn(&adapter->ntb->dev,
			 "node %d speaks lending protocol %u, this host %u: not using it; load the same ntb_lending on both\n",
			 peer->port, hello.version, NL_PROTO_VERSION);
		return peer_unusable(peer);
	}
	if (hello.node != peer->port) {
		dev_warn(&adapter->ntb->dev,
			 "peer on port %d calls itself node %u: not using it\n",
			 peer->port, hello.node);
		return peer_unusable(peer);
	}
	if (!(hello.flags & NL_HELLO_WANT_REPLY)) {
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
		dev_info(&adapter->ntb->dev, "node %d is up\n", peer->port);
		node_uevent(peer, "node-up");
	}
	peer->up = true;
	nl_send_offers(adapter, NULL, peer->port);
}

static void rx_work(struct work_struct *work)
{
	struct nl_adapter *adapter = container_of(work, struct nl_adapter,
						  rx_work);
	struct nl_peer *peer;
	struct nl_msg msg;

	mutex_lock(&adapter->lock);
	while (adapter->ntb && nl_chan_next(adapter, &peer, &msg)) {
		if (msg.type != NL_MSG_HELLO && !peer->up)
			continue;	/* not introduced yet */
		switch (msg.type) {
		case NL_MSG_HELLO:
			rx_hello(peer, &msg);
			break;
		case NL_MSG_OFFER:
			nl_rx_offer(peer, &msg);
			break;
		case NL_MSG_WITHDRAW:
			nl_rx_withdraw(peer, &msg);
			break;
		case NL_MSG_BORROW:
			nl_rx_borrow(peer, &msg);
			break;
		case NL_MSG_RETURN:
			nl_rx_return(peer, &msg);
			break;
		case NL_MSG_REVOKE:
			nl_rx_revoke(peer, &msg);
			break;
		default:
			nl_bad_msg(peer, &msg);
		}
	}
	mutex_unlock(&adapter->lock);
	nl_offers_changed(adapter);
}

/* --- link and doorbell events ---------------------------------------------- */

static void link_work(struct work_struct *work)
{
	struct nl_adapter *adapter = container_of(work, struct nl_adapter,
						  link_work);
	u64 up;
	int i;

	mutex_lock(&adapter->lock);
	if (!adapter->ntb) {
		mutex_unlock(&adapter->lock);
		return;
	}
	up = ntb_link_is_up(adapter->ntb, NULL, NULL);
	if (adapter->xport->link_event)
		adapter->xport->link_event(adapter);
	for (i = 0; i < adapter->npeers; i++) {
		struct nl_peer *peer = &adapter->peers[i];
		bool link = up & BIT_ULL(peer->pidx);

		if (link == peer->linked)
			continue;
		/*
		 * Whatever was in flight is stale, and so is a hello that
		 * came in before this work ran: start over.
		 */
		nl_chan_reset(peer);
		peer_lost(peer);
		forget_peer(peer);
		if (!link && peer->up) {
			dev_info(&adapter->ntb->dev, "node %d is down\n",
				 peer->port);
			node_uevent(peer, "node-down");
		}
		peer->up = false;
		peer->version = -1;
		if (link)
			send_hello(peer, true);
		peer->linked = link;
	}
	mutex_unlock(&adapter->lock);
	nl_offers_changed(adapter);
}

static void nl_link_event(void *ctx)
{
	struct nl_adapter *adapter = ctx;

	queue_work(adapter->wq, &adapter->link_work);
}

static void nl_db_event(void *ctx, int vector)
{
	struct nl_adapter *adapter = ctx;
	u64 db = ntb_db_read(adapter->ntb);
	int i;

	/* Cleared first: a ring during the handlers is not lost. */
	ntb_db_clear(adapter->ntb, db);
	if (db & nl_xport_db_bits(adapter->xport))
		adapter->xport->db_event(adapter, db);
	/* The other bits are vectors; each borrow takes its lender's. */
	for (i = 0; i < adapter->npeers; i++)
		nl_borrow_db(&adapter->peers[i], db);
}

static void nl_msg_event(void *ctx)
{
	struct nl_adapter *adapter = ctx;

	if (adapter->xport->msg_event)
		adapter->xport->msg_event(adapter);
}

static const struct ntb_ctx_ops nl_ctx_ops = {
	.link_event = nl_link_event,
	.db_event = nl_db_event,
	.msg_event = nl_msg_event,
};

/* ntb_lending/ in debugfs: what tests look at, not an ABI. */
static struct dentry *nl_debugfs;

/* Per peer: NodeId, then the messages its channel holds. */
static int queues_show(struct seq_file *s, void *unused)
{
	struct nl_adapter *adapter = s->private;
	struct nl_chan *chan;
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

/**
 * nl_adapter_debugfs() - show an adapter's queues in debugfs
 * @adapter: the adapter, until nl_adapter_debugfs_remove()
 * @name: its name
 */
static void nl_adapter_debugfs(struct nl_adapter *adapter, const char *name)
{
	adapter->debugfs = debugfs_create_dir(name, nl_debugfs);
	debugfs_create_file("queues", 0400, adapter->debugfs, adapter,
			    &queues_fops);
}

/**
 * nl_adapter_debugfs_remove() - undo nl_adapter_debugfs()
 * @adapter: the adapter
 */
static void nl_adapter_debugfs_remove(struct nl_adapter *adapter)
{
	debugfs_remove_recursive(adapter->debugfs);
}

/**
 * nl_adapter_init() - set up the parts of a new adapter that are not configfs
 * @adapter: the adapter
 */
static void nl_adapter_init(struct nl_adapter *adapter)
{
	mutex_init(&adapter->lock);
	mutex_init(&adapter->win_lock);
	INIT_LIST_HEAD(&adapter->connections);
	INIT_LIST_HEAD(&adapter->lends);
	INIT_LIST_HEAD(&adapter->offers);
	INIT_LIST_HEAD(&adapter->borrows);
	init_waitqueue_head(&adapter->idle);
	INIT_WORK(&adapter->rx_work, rx_work);
	INIT_WORK(&adapter->link_work, link_work);
	INIT_WORK(&adapter->removed_work, nl_lend_removed_work);
}

/* --- the module's adapters -------------------------------------------------- */

/* The module's adapters: the lookup by name and the checks across them. */
static LIST_HEAD(nl_adapters);
/* Protects nl_adapters; held across a lend entry's checks and its adding. */
DEFINE_MUTEX(nl_adapters_lock);

/**
 * nl_is_lent() - whether a PCI function has a lend entry on any adapter
 * @pdev: the function
 *
 * Context: under nl_adapters_lock; takes each adapter's lock.
 * Return: true if it has one.
 */
bool nl_is_lent(struct pci_dev *pdev)
{
	struct nl_adapter *adapter;
	struct nl_lend *lend;
	bool found = false;

	lockdep_assert_held(&nl_adapters_lock);
	list_for_each_entry(adapter, &nl_adapters, node) {
		mutex_lock(&adapter->lock);
		list_for_each_entry(lend, &adapter->lends, node)
			found |= lend->pdev == pdev;
		mutex_unlock(&adapter->lock);
	}
	return found;
}

/**
 * nl_is_adapter_pdev() - whether a PCI function is one of our NTB adapters
 * @pdev: the function
 *
 * Return: true if a bound adapter's NTB device sits on @pdev.
 */
bool nl_is_adapter_pdev(struct pci_dev *pdev)
{
	struct nl_adapter *adapter;
	bool found = false;

	lockdep_assert_held(&nl_adapters_lock);
	list_for_each_entry(adapter, &nl_adapters, node) {
		mutex_lock(&adapter->lock);
		found |= adapter->ntb && adapter->ntb->pdev == pdev;
		mutex_unlock(&adapter->lock);
	}
	return found;
}

/*
 * The adapter of an NTB device, made on first use with its group in
 * configfs, which it lives as long as (nl_adapter_free()).
 * Context: process; takes the configfs subsystem mutex.
 * Return: the adapter, or an ERR_PTR().
 */
static struct nl_adapter *nl_adapter_get(const char *name)
{
	struct nl_adapter *adapter;
	int ret;

	mutex_lock(&nl_adapters_lock);
	list_for_each_entry(adapter, &nl_adapters, node) {
		/* Its name is its group's. */
		if (!strcmp(config_item_name(&adapter->group.cg_item), name)) {
			mutex_unlock(&nl_adapters_lock);
			return adapter;
		}
	}
	mutex_unlock(&nl_adapters_lock);

	adapter = kzalloc(sizeof(*adapter), GFP_KERNEL);
	if (!adapter)
		return ERR_PTR(-ENOMEM);
	nl_adapter_init(adapter);
	INIT_WORK(&adapter->offers_work, offers_work);
	adapter->wq = alloc_ordered_workqueue("ntb_lending/%s", 0, name);
	if (!adapter->wq) {
		kfree(adapter);
		return ERR_PTR(-ENOMEM);
	}
	nl_adapter_debugfs(adapter, name);
	/*
	 * Not under nl_adapters_lock: mkdir takes it under configfs' mutex.
	 * From here on, the last put of its group frees the adapter, on
	 * error too.
	 */
	ret = nl_abi->adapter_add(adapter, name);
	if (ret)
		return ERR_PTR(ret);
	mutex_lock(&nl_adapters_lock);
	list_add_tail(&adapter->node, &nl_adapters);
	mutex_unlock(&nl_adapters_lock);
	return adapter;
}

/**
 * nl_adapter_free() - free an adapter, once its configfs group is released
 * @adapter: the adapter, its NTB device unbound
 */
void nl_adapter_free(struct nl_adapter *adapter)
{
	nl_adapter_debugfs_remove(adapter);
	destroy_workqueue(adapter->wq);
	cancel_work_sync(&adapter->offers_work);
	kfree(adapter);
}

/* Remove every adapter from configfs, which frees them: the module goes. */
static void nl_adapters_remove(void)
{
	struct nl_adapter *adapter, *n;

	list_for_each_entry_safe(adapter, n, &nl_adapters, node) {
		list_del(&adapter->node);
		nl_abi->adapter_remove(adapter);
	}
}

/* --- the NTB client ---------------------------------------------------------- */

/*
 * The transports, in the order they are tried: scratchpads on two-port
 * adapters; message registers on switches (whose inbound scratchpads, if
 * any, every peer would share) and on two-port adapters without enough
 * scratchpads.
 */
static const struct nl_xport_ops *const nl_xports[] = {
	&nl_xport_spad,
	&nl_xport_msgreg,
};

/*
 * The first transport @ntb can carry; -ENODEV, which declines the device
 * without the driver core's error line, if none.
 */
static const struct nl_xport_ops *nl_pick_xport(struct ntb_dev *ntb)
{
	char needs[128];
	int i, len = 0;

	for (i = 0; i < ARRAY_SIZE(nl_xports); i++)
		if (nl_xports[i]->usable(ntb))
			return nl_xports[i];
	for (i = 0; i < ARRAY_SIZE(nl_xports); i++)
		len += scnprintf(needs + len, sizeof(needs) - len, "%s%s",
				 i ? ", or " : "", nl_xports[i]->needs);
	dev_info(&ntb->dev,
		 "not used for lending: needs %s; has %d, %d and %d\n",
		 needs, ntb_spad_count(ntb),
		 (int)hweight64(ntb_db_valid_mask(ntb)), ntb_msg_count(ntb));
	return ERR_PTR(-ENODEV);
}

static int nl_probe(struct ntb_client *client, struct ntb_dev *ntb)
{
	const struct nl_xport_ops *xport;
	struct nl_adapter *adapter;
	struct nl_peer *peers;
	bool bound = false;
	int i, n, ret;

	xport = nl_pick_xport(ntb);
	if (IS_ERR(xport))
		return PTR_ERR(xport);

	adapter = nl_adapter_get(dev_name(&ntb->dev));
	if (IS_ERR(adapter))
		return PTR_ERR(adapter);

	n = ntb_peer_port_count(ntb);
	peers = kcalloc(n, sizeof(*peers), GFP_KERNEL);
	if (!peers)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		peers[i].adapter = adapter;
		peers[i].pidx = i;
		peers[i].port = ntb_peer_port_number(ntb, i);
		peers[i].ntb = ntb;
		raw_spin_lock_init(&peers[i].call_lock);
		raw_spin_lock_init(&peers[i].serve_lock);
		peers[i].rpc_last[0] = -1;
		peers[i].version = -1;
		nl_chan_init(&peers[i]);
	}

	mutex_lock(&adapter->lock);
	adapter->peers = peers;
	adapter->npeers = n;
	adapter->port = ntb_port_number(ntb);
	adapter->ntb = ntb;
	adapter->xport = xport;
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
	ret = ntb_set_ctx(ntb, adapter, &nl_ctx_ops);
	if (ret)
		goto err_peers;
	ntb_db_clear(ntb, ntb_db_valid_mask(ntb));
	ntb_db_clear_mask(ntb, ntb_db_valid_mask(ntb));
	if (xport->start)
		xport->start(adapter);
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
	/* A link event may have queued work: it sees the adapter unbound. */
	flush_workqueue(adapter->wq);
	if (bound && xport->unbind)
		xport->unbind(adapter);
	kfree(peers);
	return ret;
}

static void nl_remove(struct ntb_client *client, struct ntb_dev *ntb)
{
	struct nl_adapter *adapter = ntb->ctx;
	const struct nl_xport_ops *xport = adapter->xport;
	struct nl_peer *peers;
	int i, n;

	ntb_link_disable(ntb);
	ntb_db_set_mask(ntb, ntb_db_valid_mask(ntb));
	ntb_clear_ctx(ntb);

	/* Wake whoever waits for a peer, let them finish, start no more. */
	mutex_lock(&adapter->lock);
	for (i = 0; i < adapter->npeers; i++) {
		nl_chan_reset(&adapter->peers[i]);
		adapter->peers[i].up = false;
	}
	mutex_unlock(&adapter->lock);
	wait_event(adapter->idle, !READ_ONCE(adapter->busy));

	/* From here on nothing reaches the peers: configfs sees none. */
	mutex_lock(&adapter->lock);
	peers = adapter->peers;
	n = adapter->npeers;
	for (i = 0; i < n; i++) {
		nl_borrow_peer_lost(&peers[i], true);
		nl_lend_peer_lost(&peers[i]);
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
	flush_workqueue(adapter->wq);
	flush_work(&adapter->offers_work);
	nl_offers_sync(adapter);
	kfree(peers);
}

static struct ntb_client nl_client = {
	.ops = {
		.probe = nl_probe,
		.remove = nl_remove,
	},
};

/**
 * nl_core_init() - start the NTB client: adapters come as devices probe
 * @abi: what core asks of the configfs layer, which is registered
 *
 * Return: 0 or a negative errno.
 */
int __init nl_core_init(const struct nl_abi_ops *abi)
{
	int ret;

	nl_abi = abi;
	nl_debugfs = debugfs_create_dir(KBUILD_MODNAME, NULL);
	ret = ntb_register_client(&nl_client);
	if (ret) {
		nl_adapters_remove();
		debugfs_remove_recursive(nl_debugfs);
	}
	return ret;
}

/**
 * nl_core_exit() - stop the NTB client and remove every adapter
 *
 * Context: configfs holds no directory of the operator (each would hold a
 * reference to the module).
 */
void __exit nl_core_exit(void)
{
	ntb_unregister_client(&nl_client);
	nl_adapters_remove();
	debugfs_remove_recursive(nl_debugfs);
}
