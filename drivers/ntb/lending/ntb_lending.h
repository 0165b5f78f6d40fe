/* SPDX-License-Identifier: GPL-2.0 */
/*
 * NTB device lending: state shared by the files of ntb_lending.ko.
 *
 * Lifetimes: an &struct nl_adapter is made when its configfs group is, at
 * the first probe of an NTB device of that name, and lives until the module
 * unloads or the device goes away with nothing configured on it. The NTB
 * device itself (@ntb) is bound and unbound in between; everything that
 * needs the hardware checks @ntb under @lock.
 *
 * Locking: @lock (a mutex) protects every list and state field of the
 * adapter, its peers, lends, offers and borrows. It is never held across
 * configfs_register_group() or configfs_unregister_group(), which take the
 * configfs subsystem mutex that configfs holds around our mkdir and rmdir
 * callbacks, nor while waiting for a peer (nl_chan_wait_reply(); a holder
 * that must wait uses nl_wait_reply_unlocked()). Channel state has its
 * own spinlock (see chan.c), taken in interrupt context. @win_lock guards
 * the window translations, which a lent device's removal closes without
 * @lock.
 *
 * Lock order: configfs' subsystem mutex, @lock, a lent device's locks
 * (lent.c: its bridge's and its own device lock, then its mutex), then
 * @win_lock. A lent device's removal runs under its device lock and takes
 * only @win_lock (device_removed() in lend.c).
 *
 * Layers: a file calls only the files below it, never one above:
 *
 *   configfs.c         the configfs ABI, and the module's init and exit
 *   core.c             NTB client, adapter lifetime, link events, hello,
 *                      message dispatch
 *   lend.c, borrow.c   the lender and the borrower (with the offers
 *                      registry); neither calls the other
 *   peer.c             peer lookup, tags, status replies, uevents, window
 *                      translations, vector bits
 *   rpc.c, chan.c      config requests, the channel
 *   xport_spad.c,      the transports (xport.h): scratchpads and
 *   xport_msgreg.c     doorbells, or message registers; they hand what
 *                      they receive up to chan.c and rpc.c, the one
 *                      exception to the rule, by the entry points xport.h
 *                      names
 *
 * lent.c and vbus.c, the data plane (dataplane.h), are called by lend.c,
 * borrow.c and rpc.c; wire.h, every message's layout, by whatever packs
 * or unpacks one. Where core.c needs the layer above (to show a new
 * adapter, to make offers/ follow the offers) it calls through the
 * &struct nl_abi_ops that configfs.c gives nl_core_init(). The prototypes
 * below go bottom up.
 */
#ifndef _NTB_LENDING_H
#define _NTB_LENDING_H

#include <linux/configfs.h>
#include <linux/list.h>
#include <linux/pci_regs.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "dataplane.h"
#include "wire.h"

struct ntb_dev;
struct nl_xport_ops;

/*
 * A borrowed device rings at most this many doorbell bits, those the
 * transport leaves (xport.h), for its vectors.
 */
#define NL_MAX_VEC		15

/*
 * What a peer can make us hold: messages to it that it does not take (an
 * offer per lend entry and a hello fit twice over), and as many from it
 * that our work has not run yet (its own bound: a host that answers never
 * meets this one); past that the peer's frames wait unacknowledged.
 */
#define NL_CHAN_TXQ_MAX		(2 * (NL_MAX_LEND_INDEX + 2))
#define NL_CHAN_RXQ_MAX		NL_CHAN_TXQ_MAX

/* An offer's Id: the lender's NodeId and its lend entry's index. */
#define NL_ID_FMT		"%05x"

static inline u32 nl_offer_id(int node, unsigned int index)
{
	return node << 16 | index;
}

/* Room for a PCI address in lspci -D form, "dddd:bb:dd.f". */
#define NL_BDF_LEN		16

/* Config requests carry a lend entry's index in eight bits. */
#define NL_MAX_LEND_INDEX	0xff

/*
 * Memory windows of a peer pair, by what they lead to: the lent device's
 * BARs, the borrower's memory. Two-port adapters translate inbound
 * windows (the lender NL_MW_DEVICE, the borrower NL_MW_MEMORY), switches
 * outbound ones (the borrower NL_MW_DEVICE, the lender NL_MW_MEMORY).
 */
#define NL_MW_DEVICE		0
#define NL_MW_MEMORY		1

/* The window a lender translates; a borrower translates the other. */
#define NL_MW_LENDER(switched)	((switched) ? NL_MW_MEMORY : NL_MW_DEVICE)
#define NL_MW_BORROWER(switched) ((switched) ? NL_MW_DEVICE : NL_MW_MEMORY)

/**
 * struct nl_chan - reliable, ordered message channel to one peer
 * @lock: protects every field below; taken in interrupt context
 * @txq: messages waiting to be sent (&struct nl_txmsg)
 * @nr_tx: entries in @txq, at most NL_CHAN_TXQ_MAX
 * @tx_seq: sequence number of the frame in flight
 * @acked: sequence number the peer acknowledged last
 * @rx_seq: sequence number of the last frame received, -1 after reset
 * @rx: message being assembled from received frames
 * @rx_frag: index of the next fragment expected
 * @rxq: complete messages waiting for the adapter's work (&struct nl_rxmsg)
 * @nr_rx: entries in @rxq, at most NL_CHAN_RXQ_MAX
 * @ackq: woken when @acked changes
 * @tx_work: sends @txq frame by frame, waiting for each acknowledgment
 * @epoch: bumped by every reset, so a sender notices that its peer went away
 * @replies: replies received and not yet taken (&struct nl_rxmsg)
 * @nr_replies: entries in @replies
 * @replyq: woken when a reply arrives or the channel is reset
 */
struct nl_chan {
	spinlock_t lock;	/* see above */
	struct list_head txq;
	unsigned int nr_tx;
	u8 tx_seq;
	u8 acked;
	int rx_seq;
	struct nl_msg rx;
	unsigned int rx_frag;
	struct list_head rxq;
	unsigned int nr_rx;
	wait_queue_head_t ackq;
	struct work_struct tx_work;
	unsigned int epoch;
	struct list_head replies;
	unsigned int nr_replies;
	wait_queue_head_t replyq;
};

/**
 * struct nl_peer - what this adapter knows of one peer on the fabric
 * @adapter: owner
 * @ntb: the NTB device; valid as long as the peer exists
 * @pidx: peer index of the NTB API
 * @port: the peer's port number, its NodeId
 * @linked: the link to it is up
 * @up: @linked, and the peer said hello with our protocol version
 * @version: protocol version of its last hello since the link came up, or
 *	-1 if none
 * @xlat: size of the translation we set on each of its windows (by
 *	NL_MW_DEVICE, NL_MW_MEMORY), 0 where none (see nl_set_window())
 * @chan: the control channel to it
 * @tag: tag of our last request to it (atomic: see nl_next_tag())
 * @borrow: what we borrow from it (one at a time: its window to the
 *	device is one); the doorbell interrupt reads it under RCU
 * @call_lock: serialises our config requests to it (rpc.c)
 * @rpc_tag: tag of our last config request, under @call_lock
 * @serve_lock: protects @lent_to and the @rpc_last answer, in interrupt
 *	context (rpc.c)
 * @lent_to: our lend entry it borrows, whose config requests we serve
 * @rpc_last: tag, status and value of the last answer, sent again for a
 *	repeated request; tag -1 after a reset
 *
 * @linked, @up and the pointers are changed under &nl_adapter.lock.
 */
struct nl_peer {
	struct nl_adapter *adapter;
	struct ntb_dev *ntb;
	int pidx;
	int port;
	bool linked;
	bool up;
	int version;
	u64 xlat[2];		/* under &nl_adapter.win_lock */
	struct nl_chan chan;
	atomic_t tag;
	struct nl_borrow __rcu *borrow;
	raw_spinlock_t call_lock;
	u8 rpc_tag;
	raw_spinlock_t serve_lock;
	struct nl_lend *lent_to;
	int rpc_last[3];
};

/**
 * struct nl_connection - a node allowed to borrow (connections/<NodeId>)
 * @group: configfs group
 * @adapter: owner
 * @node: the NodeId
 * @node_list: entry in &nl_adapter.connections
 */
struct nl_connection {
	struct config_group group;
	struct nl_adapter *adapter;
	int node;
	struct list_head node_list;
};

enum nl_lend_state {
	NL_LEND_LOCAL,
	NL_LEND_AVAILABLE,
	NL_LEND_BORROWED,
};

/**
 * struct nl_lend - a lend entry (lends/<D:B:D.F>)
 * @group: configfs group
 * @adapter: owner
 * @pdev: the local function, referenced
 * @lent: the device held for lending, while not in local use
 * @index: the entry's index on this adapter, the low half of its Id
 * @state: &enum nl_lend_state
 * @borrower: NodeId of the borrower, or -1
 * @revoking: revoke() waits for the borrower without &nl_adapter.lock:
 *	no other borrow of the entry starts meanwhile
 * @window_peer: the borrower whose window (two-port: NL_MW_DEVICE) the
 *	lender translated onto the device's BARs, or NULL; under
 *	&nl_adapter.win_lock, so that a removal of the device closes it
 * @node: entry in &nl_adapter.lends
 */
struct nl_lend {
	struct config_group group;
	struct nl_adapter *adapter;
	struct pci_dev *pdev;
	struct ntb_lent *lent;
	unsigned int index;
	enum nl_lend_state state;
	int borrower;
	bool revoking;
	struct nl_peer *window_peer;
	struct list_head node;
};

/**
 * struct nl_offer - a device a peer offers us (offers/<Id>)
 * @group: configfs group, made and registered by configfs.c from the
 *	adapter's offers work only, once @registered is set
 * @adapter: owner
 * @lender: NodeId of the lender
 * @index: the lender's lend entry index
 * @bdf: the device's address on the lender: domain << 16 | bus << 8 | devfn
 * @vendor: PCI vendor id
 * @device: PCI device id
 * @class: PCI class code
 * @borrowed: borrowed by some node
 * @registered: offers/ took it (nl_offer_next_change()): @group is made
 *	and in configfs, or about to be
 * @gone: withdrawn while @registered; the adapter's offers work removes it
 * @node: entry in &nl_adapter.offers
 */
struct nl_offer {
	struct config_group group;
	struct nl_adapter *adapter;
	int lender;
	unsigned int index;
	u32 bdf;
	u16 vendor;
	u16 device;
	u32 class;
	bool borrowed;
	bool registered;
	bool gone;
	struct list_head node;
};

enum nl_borrow_state {
	NL_BORROW_STARTING,
	NL_BORROW_BORROWED,
	NL_BORROW_LOST,
};

/**
 * struct nl_borrow - a device borrowed from a peer (borrows/<Id>)
 * @group: configfs group
 * @adapter: owner
 * @peer: the lender, while @state is not NL_BORROW_LOST
 * @lender: NodeId of the lender
 * @index: the lender's lend entry index
 * @state: &enum nl_borrow_state
 * @vbus: the virtual bus holding the device, while borrowed
 * @local_bdf: the device's name in this host's PCI tree, while borrowed
 * @vectors: the doorbell bits of the device's vectors, set before the
 *	borrow is published to the doorbell interrupt
 * @db: the writes that ring our vector doorbells, as the device sees them
 * @cfg: the lender's last answer for each config dword, for callers that
 *	cannot wait for the lender (see rpc.c); under &nl_peer.call_lock
 * @cfg_valid: which @cfg dwords hold an answer
 * @prefetch: fills @cfg once the device is in this host's tree
 * @node: entry in &nl_adapter.borrows
 */
struct nl_borrow {
	struct config_group group;
	struct nl_adapter *adapter;
	struct nl_peer *peer;
	int lender;
	unsigned int index;
	enum nl_borrow_state state;
	struct ntb_vbus *vbus;
	char local_bdf[32];
	u64 vectors;
	struct ntb_dp_doorbell db[NL_MAX_VEC];
	u32 cfg[PCI_CFG_SPACE_EXP_SIZE / 4];
	DECLARE_BITMAP(cfg_valid, PCI_CFG_SPACE_EXP_SIZE / 4);
	struct work_struct prefetch;
	struct list_head node;
};

/**
 * struct nl_adapter - lending state of one local NTB adapter
 * @group: configfs group ntb_lending/<name>
 * @connections_group: connections/
 * @lends_group: lends/
 * @offers_group: offers/
 * @borrows_group: borrows/
 * @lock: see the top of this file
 * @win_lock: serializes the translations of memory windows and protects
 *	&nl_peer.xlat and &nl_lend.window_peer; taken under @lock or a lent
 *	device's device lock, and around nothing but NTB driver calls
 * @ntb: the bound NTB device, NULL while it is gone
 * @xport: the transport the protocol runs on (xport.h), while @ntb is bound
 * @xport_priv: the transport's own state, while @ntb is bound
 * @switched: @ntb's driver translates outbound windows
 *	(ntb_peer_mw_set_trans()), not inbound ones, as a switch's does (IDT);
 *	the protocol then takes a doorbell ring to reach every port, shares
 *	the bits among the ports, and carries the windows' sizes and places
 *	in BORROW and BORROW_BARS; set while @ntb is bound
 * @port: our NodeId while @ntb is bound
 * @peers: one per peer index while @ntb is bound
 * @npeers: entries in @peers
 * @connections: &struct nl_connection
 * @lends: &struct nl_lend
 * @offers: &struct nl_offer
 * @borrows: &struct nl_borrow
 * @busy: borrows, returns and revocations waiting for a peer without
 *	@lock (nl_wait_reply_unlocked()); the NTB device is not unbound
 *	while there are any
 * @idle: woken when @busy drops to zero
 * @wq: ordered: runs received messages and link changes
 * @rx_work: handles the messages the channels received
 * @offers_work: makes offers/ follow the offers (nl_offers_sync()), on the
 *	system work queue: it needs configfs' subsystem mutex, which mkdir
 *	and rmdir hold while they wait for a peer's answer that @wq brings
 * @rx_next: the peer whose messages @rx_work looks at first (its own)
 * @debugfs: its directory in ntb_lending's debugfs
 * @link_work: follows the link state of every peer
 * @removed_work: takes back the lends whose device left the PCI tree
 *	(nl_lend_removed_work())
 * @node: entry in the module's adapter list
 */
struct nl_adapter {
	struct config_group group;
	struct config_group connections_group;
	struct config_group lends_group;
	struct config_group offers_group;
	struct config_group borrows_group;

	struct mutex lock;	/* see the top of this file */
	struct mutex win_lock;	/* see above */
	struct ntb_dev *ntb;
	const struct nl_xport_ops *xport;
	void *xport_priv;
	bool switched;
	int port;
	struct nl_peer *peers;
	int npeers;
	struct list_head connections;
	struct list_head lends;
	struct list_head offers;
	struct list_head borrows;
	int busy;
	wait_queue_head_t idle;

	struct workqueue_struct *wq;
	struct work_struct rx_work;
	struct work_struct offers_work;
	int rx_next;
	struct dentry *debugfs;
	struct work_struct link_work;
	struct work_struct removed_work;
	struct list_head node;
};

/* chan.c: the channel to each peer (transport) */
void nl_chan_init(struct nl_peer *peer);
void nl_chan_reset(struct nl_peer *peer);
int nl_chan_send(struct nl_peer *peer, const struct nl_msg *msg);
unsigned int nl_chan_room(struct nl_peer *peer);
bool nl_chan_next(struct nl_adapter *adapter, struct nl_peer **peer,
		  struct nl_msg *msg);
int nl_chan_wait_reply(struct nl_peer *peer, unsigned int epoch, u8 type,
		       u32 tag, struct nl_msg *reply);
unsigned int nl_chan_epoch(struct nl_peer *peer);

/* rpc.c: config requests, beside the channel */
extern const struct ntb_vbus_ops nl_rpc_ops;
void nl_rpc_reset(struct nl_peer *peer);
void nl_rpc_prefetch(struct nl_borrow *borrow);

/* peer.c: below the lender and the borrower, above the channel */

/**
 * struct nl_uevent - the variables of a uevent being built
 * @envp: pointers into @buf, NULL-terminated, for kobject_uevent_env()
 * @buf: the variables
 * @n: variables so far
 */
struct nl_uevent {
	char *envp[8];
	char buf[7][64];
	int n;
};

struct nl_peer *nl_peer_by_node(struct nl_adapter *adapter, int node);
u32 nl_next_tag(struct nl_peer *peer);
int nl_wait_reply_unlocked(struct nl_peer *peer, unsigned int epoch, u8 type,
			   u32 tag, struct nl_msg *reply);
void nl_reply(struct nl_peer *peer, u8 type, u32 tag, int status);
void nl_bad_msg(struct nl_peer *peer, const struct nl_msg *msg);
__printf(2, 3) void nl_uevent_add(struct nl_uevent *ev, const char *fmt, ...);
void nl_uevent_send(struct nl_adapter *adapter, struct nl_uevent *ev);
u64 nl_vector_bits(struct nl_adapter *adapter, int node);
int nl_set_window(struct nl_peer *peer, int widx, u64 addr, u64 size);
void __nl_clear_window(struct nl_peer *peer, int widx);
void nl_clear_window(struct nl_peer *peer, int widx);

/* lend.c: the lender */
bool nl_is_connected(struct nl_adapter *adapter, int node);
void nl_send_offers(struct nl_adapter *adapter, struct nl_lend *only,
		    int node);
void nl_withdraw_all(struct nl_adapter *adapter, int node);
int nl_lend_offer(struct nl_lend *lend);
int nl_lend_withdraw(struct nl_lend *lend, bool force);
void nl_lend_disconnect(struct nl_adapter *adapter, int node);
void nl_rx_borrow(struct nl_peer *peer, const struct nl_msg *msg);
void nl_rx_return(struct nl_peer *peer, const struct nl_msg *msg);
void nl_lend_peer_lost(struct nl_peer *peer);
void nl_lend_removed_work(struct work_struct *work);

/* borrow.c: the borrower, and the offers registry */
struct nl_offer *nl_offer_new(struct nl_adapter *adapter, int lender,
			      unsigned int index);
struct nl_offer *nl_offer_find(struct nl_adapter *adapter, int lender,
			       unsigned int index);
void nl_offer_withdraw(struct nl_offer *offer);
struct nl_offer *nl_offer_next_change(struct nl_adapter *adapter, bool *gone);
void nl_offer_drop(struct nl_offer *offer);
void nl_offers_forget(struct nl_peer *peer);
void nl_rx_offer(struct nl_peer *peer, const struct nl_msg *msg);
void nl_rx_withdraw(struct nl_peer *peer, const struct nl_msg *msg);
struct nl_borrow *nl_borrow_start(struct nl_adapter *adapter,
				  const char *name);
void nl_borrow_return(struct nl_borrow *borrow);
void nl_borrow_peer_lost(struct nl_peer *peer, bool adapter_gone);
void nl_borrow_db(struct nl_peer *peer, u64 db);
void nl_rx_revoke(struct nl_peer *peer, const struct nl_msg *msg);

/* core.c: the NTB client, the adapters, link, hello, message dispatch */

/**
 * struct nl_abi_ops - what core.c asks of the configfs layer above it
 * @adapter_add: show a new adapter as ntb_lending/<name>; from then on
 *	the last put of &nl_adapter.group frees it (nl_adapter_free()), on
 *	error too
 * @adapter_remove: remove an adapter's group as the module goes, which
 *	frees it
 * @offers_sync: make offers/ follow the offers registry (borrow.c) now;
 *	takes configfs' subsystem mutex, never called under &nl_adapter.lock
 */
struct nl_abi_ops {
	int (*adapter_add)(struct nl_adapter *adapter, const char *name);
	void (*adapter_remove)(struct nl_adapter *adapter);
	void (*offers_sync)(struct nl_adapter *adapter);
};

int nl_core_init(const struct nl_abi_ops *abi);
void nl_core_exit(void);
extern struct mutex nl_adapters_lock;
void nl_adapter_free(struct nl_adapter *adapter);
bool nl_is_adapter_pdev(struct pci_dev *pdev);
bool nl_is_lent(struct pci_dev *pdev);

/* configfs.c: the ABI and the module's init; nothing calls it */

#endif /* _NTB_LENDING_H */
