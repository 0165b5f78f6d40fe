/* SPDX-License-Identifier: GPL-2.0 */
/*
 * NTB device lending: state shared by the files of ntb_lending.ko.
 *
 * Lifetimes: an &struct ntbl_adapter is made when its configfs group is, at
 * the first probe of an NTB device of that name, and lives until the module
 * unloads or the device goes away with nothing configured on it. The NTB
 * device itself (@ntb) is bound and unbound in between; everything that
 * needs the hardware checks @ntb under @lock.
 *
 * Locking: @lock (a mutex) protects every list and state field of the
 * adapter, its peers, lends, offers and borrows. It is never held across
 * configfs_register_group() or configfs_unregister_group(), which take the
 * configfs subsystem mutex that configfs holds around our mkdir and rmdir
 * callbacks, nor while waiting for a peer (ntbl_chan_wait_reply(); a holder
 * that must wait uses ntbl_wait_reply_unlocked()). Channel state has its
 * own spinlock (see chan.c), taken in interrupt context. @win_lock guards
 * the window translations, which a lent device's removal closes without
 * @lock.
 *
 * Lock order: configfs' subsystem mutex, the PCI rescan/remove lock,
 * @lock, a lent device's locks (dp_lent.c: its bridge's device lock, a
 * VF's PF's, its own, then its mutex), then @win_lock. The rescan lock
 * comes before @lock because the PCI core's hot-removal of the adapter
 * holds it when it calls ntbl_remove(): whatever adds or removes a
 * borrowed device (a borrow, a return, @ended_work once a message or
 * link event ended a borrow) takes it first, and a borrow stops
 * counting in @busy before it waits for it. Under it nothing waits for a
 * peer's work queue, only for the config requests a lender answers from
 * its interrupt (rpc.c): on ntb_sim every host shares the lock. An
 * adapter's probe, which a PCI rescan may run under its lock, leaves its
 * group's registration (configfs' mutex) to @offers_work. A lent device's
 * removal runs under its device lock and takes only @win_lock
 * (device_removed() in lender.c).
 *
 * Layers: a file calls only the files below it, never one above:
 *
 *   configfs.c         the configfs ABI, and the module's init and exit
 *   core.c             NTB client, adapter lifetime, link events, hello,
 *                      message dispatch
 *   lender.c,          the lender and the borrower (with the offers
 *   borrower.c         registry); neither calls the other
 *   peer.c             peer lookup, tags, status replies, uevents, window
 *                      translations, vector bits
 *   rpc.c, chan.c      config requests, the channel
 *   xport_spad.c,      the transports (xport.h): scratchpads and
 *   xport_msgreg.c     doorbells, or message registers; they hand what
 *                      they receive up to chan.c and rpc.c, the one
 *                      exception to the rule, by the entry points xport.h
 *                      names
 *
 * The data plane, dataplane.h (dp_lent*.c on the lender, dp_vbus.c on the
 * borrower), is called by lender.c, borrower.c and rpc.c, and calls none
 * of these; wire.h, every message's layout, by whatever packs or unpacks
 * one. Where core.c needs the layer above (to show a new adapter, to make
 * offers/ follow the offers) it calls through the &struct ntbl_abi_ops
 * that configfs.c gives ntbl_core_init(). The prototypes below go bottom
 * up. Documentation/ntb-lending/design.rst draws the map.
 */
#ifndef _NTB_LENDING_H
#define _NTB_LENDING_H

#include <linux/configfs.h>
#include <linux/list.h>
#include <linux/pci_regs.h>
#include <linux/mutex.h>
#include <linux/ratelimit.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "dataplane.h"
#include "wire.h"

struct ntb_dev;
struct ntbl_xport_ops;

/*
 * A borrowed device rings at most this many doorbell bits, those the
 * transport leaves (xport.h), for its vectors.
 */
#define NTBL_MAX_VEC		15

/*
 * What a peer can make us hold: messages to it that it does not take (an
 * offer per lend entry and a hello fit twice over), and as many from it
 * that our work has not run yet (its own bound: a host that answers never
 * meets this one); past that the peer's frames wait unacknowledged.
 */
#define NTBL_CHAN_TXQ_MAX		(2 * (NTBL_MAX_LEND_INDEX + 2))
#define NTBL_CHAN_RXQ_MAX		NTBL_CHAN_TXQ_MAX

/* An offer's Id: the lender's NodeId and its lend entry's index. */
#define NTBL_ID_FMT		"%05x"

static inline u32 ntbl_offer_id(int node, unsigned int index)
{
	return node << 16 | index;
}

/* Room for a PCI address in lspci -D form, "dddd:bb:dd.f". */
#define NTBL_BDF_LEN		16

/* Config requests carry a lend entry's index in eight bits. */
#define NTBL_MAX_LEND_INDEX	0xff

/*
 * Requests for spans of spans (rpc.c) a borrow may make: its copy of
 * config space makes up to eight, per KiB one against 0 and one against
 * all ones. Later ones are refused, which the copy would take in
 * requests per span, so that a borrower cannot keep its lender reading
 * 256 dwords at a time with interrupts off.
 */
#define NTBL_RPC_SPANS_PER_BORROW	8

/*
 * The window of a two-port pair that leads to the borrower's memory: the
 * borrower translates this inbound window, shared by every device it
 * borrows from that lender, and the lender one of the others per lent
 * device. On a switch every window is a port's own outbound one, taken by
 * whichever borrow needs it (ntbl_pick_outbound()).
 */
#define NTBL_MW_MEMORY		1

/**
 * struct ntbl_chan - reliable, ordered message channel to one peer
 * @lock: protects every field below; taken in interrupt context
 * @txq: messages waiting to be sent (&struct ntbl_txmsg)
 * @nr_tx: entries in @txq, at most NTBL_CHAN_TXQ_MAX
 * @tx_seq: sequence number of the frame in flight
 * @acked: sequence number the peer acknowledged last
 * @rx_seq: sequence number of the last frame received, -1 after reset
 * @rx: message being assembled from received frames
 * @rx_frag: index of the next fragment expected
 * @rxq: complete messages waiting for the adapter's work (&struct ntbl_rxmsg)
 * @nr_rx: entries in @rxq, at most NTBL_CHAN_RXQ_MAX
 * @ackq: woken when @acked changes
 * @tx_work: sends @txq frame by frame, waiting for each acknowledgment
 * @epoch: bumped by every reset, so a sender notices that its peer went away
 * @replies: replies received and not yet taken (&struct ntbl_rxmsg)
 * @nr_replies: entries in @replies
 * @replyq: woken when a reply arrives or the channel is reset
 */
struct ntbl_chan {
	spinlock_t lock;	/* see above */
	struct list_head txq;
	unsigned int nr_tx;
	u8 tx_seq;
	u8 acked;
	int rx_seq;
	struct ntbl_msg rx;
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
 * struct ntbl_peer - what this adapter knows of one peer on the fabric
 * @adapter: owner
 * @ntb: the NTB device; valid as long as the peer exists
 * @pidx: peer index of the NTB API
 * @port: the peer's port number, its NodeId
 * @linked: the link to it is up
 * @up: @linked, and the peer said hello with our protocol version
 * @version: protocol version of its last hello since the link came up, or
 *	-1 if none
 * @nr_mw: the windows we translate toward it: our inbound ones on a
 *	two-port adapter, our outbound ones on a switch
 * @xlat: size of the translation we set on each of those @nr_mw windows,
 *	0 where none (see ntbl_set_window())
 * @chan: the control channel to it
 * @tag: tag of our last request to it (atomic: see ntbl_next_tag())
 * @borrows: what we borrow from it, reserved or borrowed
 *	(&ntbl_borrow.peer_node); changed under &ntbl_adapter.lock, read by
 *	the doorbell interrupt under RCU
 * @call_lock: serialises our config requests to it (rpc.c)
 * @rpc_tag: tag of our last config request, under @call_lock
 * @serve_lock: protects @lent and the @rpc_last answer, in interrupt
 *	context (rpc.c)
 * @lent: our lend entries it borrows, by index, whose config requests we
 *	serve; changed under &ntbl_adapter.lock too
 * @nr_lent: entries of @lent that are set
 * @mem_widx: on a switch, our outbound window onto its memory while
 *	@nr_lent is not zero, or -1; changed under &ntbl_adapter.lock and
 *	&ntbl_adapter.win_lock
 * @rpc_last: tag, status (errno and RPC_FRESH) and value of the last
 *	answer, sent again for a repeated request; tag -1 after a reset
 *
 * @log_rs: the limit of lines about it (ntbl_peer_log())
 * @link_down: its link was down at the last link event; set by the event
 *	itself, before the adapter's work runs, so that config requests to it
 *	fail at once (rpc.c) while the work waits for the adapter's lock
 *
 * @linked, @up and the pointers are changed under &ntbl_adapter.lock.
 */
struct ntbl_peer {
	struct ntbl_adapter *adapter;
	struct ntb_dev *ntb;
	int pidx;
	int port;
	bool linked;
	bool link_down;
	bool up;
	int version;
	int nr_mw;
	u64 *xlat;		/* under &ntbl_adapter.win_lock */
	struct ntbl_chan chan;
	atomic_t tag;
	struct list_head borrows;
	raw_spinlock_t call_lock;
	u8 rpc_tag;
	raw_spinlock_t serve_lock;
	struct ntbl_lend *lent[NTBL_MAX_LEND_INDEX + 1];
	unsigned int nr_lent;
	int mem_widx;
	int rpc_last[3];
	struct ratelimit_state log_rs;
};

/**
 * struct ntbl_connection - a node allowed to borrow (connections/<NodeId>)
 * @group: configfs group
 * @adapter: owner
 * @node: the NodeId
 * @node_list: entry in &ntbl_adapter.connections
 */
struct ntbl_connection {
	struct config_group group;
	struct ntbl_adapter *adapter;
	int node;
	struct list_head node_list;
};

enum ntbl_lend_state {
	NTBL_LEND_LOCAL,
	NTBL_LEND_AVAILABLE,
	NTBL_LEND_BORROWED,
};

/**
 * struct ntbl_lend - a lend entry (lends/<D:B:D.F>)
 * @group: configfs group
 * @adapter: owner
 * @pdev: the local function, referenced
 * @lent: the device held for lending, while not in local use
 * @index: the entry's index on this adapter, the low half of its Id
 * @state: &enum ntbl_lend_state
 * @borrower: NodeId of the borrower, or -1
 * @revoking: revoke() waits for the borrower without &ntbl_adapter.lock:
 *	no other borrow of the entry starts meanwhile, and a withdrawal
 *	without force waits for it to end (&ntbl_adapter.revoked)
 * @window_peer: on a two-port adapter, the borrower whose window @widx the
 *	lender translated onto the device's BARs, or NULL; under
 *	&ntbl_adapter.win_lock, so that a removal of the device closes it.
 *	Set until the borrow ends, closed or not: no other device takes the
 *	window while the borrower may still reach through it
 * @widx: that window, while @window_peer is set
 * @vectors: on a switch, the doorbell bits of our share that the device
 *	rings while borrowed (one bit: see ntbl_rx_borrow()), or 0
 * @spans_left: the requests for spans of spans its borrower may still
 *	make (rpc.c), each up to 256 config reads with interrupts off: a
 *	copy of config space needs eight; set when a borrow starts, taken
 *	under &ntbl_peer.serve_lock
 * @node: entry in &ntbl_adapter.lends
 */
struct ntbl_lend {
	struct config_group group;
	struct ntbl_adapter *adapter;
	struct pci_dev *pdev;
	struct ntbl_lent *lent;
	unsigned int index;
	enum ntbl_lend_state state;
	int borrower;
	bool revoking;
	struct ntbl_peer *window_peer;
	int widx;
	u64 vectors;
	unsigned int spans_left;
	struct list_head node;
};

/**
 * struct ntbl_offer - a device a peer offers us (offers/<Id>)
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
 * @registered: offers/ took it (ntbl_offer_next_change()): @group is made
 *	and in configfs, or about to be
 * @gone: withdrawn while @registered; the adapter's offers work removes it
 * @replay: @registered, and its uevent is to be sent again
 *	(ntbl_offers_mark_replay())
 * @node: entry in &ntbl_adapter.offers
 */
struct ntbl_offer {
	struct config_group group;
	struct ntbl_adapter *adapter;
	int lender;
	unsigned int index;
	u32 bdf;
	u16 vendor;
	u16 device;
	u32 class;
	bool borrowed;
	bool registered;
	bool gone;
	bool replay;
	struct list_head node;
};

/* What ntbl_offer_next_change() asks of offers/. */
enum ntbl_offer_change {
	NTBL_OFFER_NEW,
	NTBL_OFFER_GONE,
	NTBL_OFFER_REPLAY,
};

enum ntbl_borrow_state {
	NTBL_BORROW_STARTING,
	NTBL_BORROW_BORROWED,
	NTBL_BORROW_LOST,
};

/*
 * Why a borrow ends before its return: the adapter's work marks it, as a
 * message or link event comes, and &ntbl_adapter.ended_work removes the
 * device under the PCI rescan lock (ntbl_borrow_remove_ended()).
 */
enum ntbl_borrow_end {
	NTBL_BORROW_GOES_ON,
	NTBL_BORROW_REVOKED,	/* the lender takes it back: confirm @end_tag */
	NTBL_BORROW_LENDER_LOST,	/* the lender is gone or started over */
};

/**
 * struct ntbl_borrow - a device borrowed from a peer (borrows/<Id>)
 * @group: configfs group
 * @adapter: owner
 * @peer: the lender, while @state is not NTBL_BORROW_LOST
 * @lender: NodeId of the lender
 * @index: the lender's lend entry index
 * @state: &enum ntbl_borrow_state
 * @vbus: the virtual bus holding the device, while borrowed
 * @local_bdf: the device's name in this host's PCI tree, while borrowed
 * @vectors: the doorbell bits of the device's vectors, one run of bits of
 *	its own: on a two-port adapter set when the borrow is reserved, on a
 *	switch the lender's pick (BORROW_DB), set before @state is borrowed
 * @widx: our outbound window to the device, or -1: on a two-port adapter
 *	the lender's pick (BORROW_BARS), on a switch our own (attach())
 * @db: the writes that ring our vector doorbells, as the device sees them
 * @db_irq: the interrupt each entry of @db raises here, 0 if unknown
 * @cfg: the lender's last answer for each config dword, for callers that
 *	cannot wait for the lender (see rpc.c); under &ntbl_peer.call_lock
 * @cfg_valid: which @cfg dwords hold an answer
 * @cfg_ro: for each @cfg dword, as bits 0-3, the bytes that the PCI spec
 *	makes read-only (IDs, capability headers: mark_ro() in rpc.c), which
 *	the copy serves to every caller and keeps; set before the scan
 * @requests: config requests sent for the device, for debugfs
 * @refused: the lender answered a config request with -ENODEV: it no
 *	longer has the device, and the copy serves no read-only bytes
 * @node: entry in &ntbl_adapter.borrows
 * @peer_node: entry in &ntbl_peer.borrows, from reserve to return or loss
 * @end: &enum ntbl_borrow_end; a borrow still starting that it ends fails
 * @end_tag: the tag of the REVOKE to confirm
 */
struct ntbl_borrow {
	struct config_group group;
	struct ntbl_adapter *adapter;
	struct ntbl_peer *peer;
	int lender;
	unsigned int index;
	enum ntbl_borrow_state state;
	struct ntbl_vbus *vbus;
	char local_bdf[32];
	u64 vectors;
	int widx;
	struct ntbl_dp_doorbell db[NTBL_MAX_VEC];
	unsigned int db_irq[NTBL_MAX_VEC];
	u32 cfg[PCI_CFG_SPACE_EXP_SIZE / 4];
	DECLARE_BITMAP(cfg_valid, PCI_CFG_SPACE_EXP_SIZE / 4);
	u8 cfg_ro[PCI_CFG_SPACE_EXP_SIZE / 4];
	unsigned int requests;
	bool refused;
	struct list_head node;
	struct list_head peer_node;
	enum ntbl_borrow_end end;
	u32 end_tag;
};

/**
 * struct ntbl_adapter - lending state of one local NTB adapter
 * @group: configfs group ntb_lending/<name>
 * @connections_group: connections/
 * @lends_group: lends/
 * @offers_group: offers/
 * @borrows_group: borrows/
 * @lock: see the top of this file
 * @win_lock: serializes the translations of memory windows and protects
 *	&ntbl_peer.xlat and &ntbl_lend.window_peer; taken under @lock or a lent
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
 * @connections: &struct ntbl_connection
 * @lends: &struct ntbl_lend
 * @offers: &struct ntbl_offer
 * @borrows: &struct ntbl_borrow
 * @busy: borrows, returns and revocations waiting for a peer without
 *	@lock (ntbl_wait_reply_unlocked()); the NTB device is not unbound
 *	while there are any
 * @idle: woken when @busy drops to zero
 * @revoked: woken when a revocation's wait ends (&ntbl_lend.revoking)
 * @unbinding: the NTB device is being unbound: received messages are
 *	dropped, so that no peer comes up again and no borrow starts
 * @wq: ordered: runs received messages and link changes
 * @rx_work: handles the messages the channels received
 * @offers_work: shows @group at first, then makes offers/ follow the
 *	offers (ntbl_offers_sync()), on the system work queue: it needs
 *	configfs' subsystem mutex, which mkdir and rmdir hold while they wait
 *	for a peer's answer that @wq brings, or for the PCI rescan lock that
 *	a probe of the adapter may run under
 * @shown: @group is registered in configfs; only @offers_work sets it
 * @announce: the NTB device was bound since @offers_work last sent the
 *	"adapter" uevent, which says the group is there (set by the probe)
 * @rx_next: the peer whose messages @rx_work looks at first (its own)
 * @debugfs: its directory in ntb_lending's debugfs
 * @link_work: follows the link state of every peer
 * @removed_work: takes back the lends whose device left the PCI tree
 *	(ntbl_lend_removed_work()), on the system's unbound work queue: it
 *	waits for borrowers, which @wq must not
 * @ended_work: removes the borrowed devices whose borrow a message or
 *	link event ended (ended_work() in core.c), on the system's unbound
 *	work queue: a driver's removal may take long, which @wq must not
 * @node: entry in the module's adapter list
 */
struct ntbl_adapter {
	struct config_group group;
	struct config_group connections_group;
	struct config_group lends_group;
	struct config_group offers_group;
	struct config_group borrows_group;

	struct mutex lock;	/* see the top of this file */
	struct mutex win_lock;	/* see above */
	struct ntb_dev *ntb;
	const struct ntbl_xport_ops *xport;
	void *xport_priv;
	bool switched;
	int port;
	struct ntbl_peer *peers;
	int npeers;
	struct list_head connections;
	struct list_head lends;
	struct list_head offers;
	struct list_head borrows;
	int busy;
	wait_queue_head_t idle;
	wait_queue_head_t revoked;
	bool unbinding;

	struct workqueue_struct *wq;
	struct work_struct rx_work;
	struct work_struct offers_work;
	bool shown;
	bool announce;
	int rx_next;
	struct dentry *debugfs;
	struct work_struct link_work;
	struct work_struct removed_work;
	struct work_struct ended_work;
	struct list_head node;
};

/* chan.c: the channel to each peer (transport) */
void ntbl_chan_init(struct ntbl_peer *peer);
void ntbl_chan_reset(struct ntbl_peer *peer);
int ntbl_chan_send(struct ntbl_peer *peer, const struct ntbl_msg *msg);
unsigned int ntbl_chan_room(struct ntbl_peer *peer);
bool ntbl_chan_next(struct ntbl_adapter *adapter, struct ntbl_peer **peer,
		    struct ntbl_msg *msg);
int ntbl_chan_wait_reply(struct ntbl_peer *peer, unsigned int epoch, u8 type,
			 u32 tag, struct ntbl_msg *reply);
unsigned int ntbl_chan_epoch(struct ntbl_peer *peer);

/* rpc.c: config requests, beside the channel */
extern const struct ntbl_vbus_ops ntbl_rpc_ops;
void ntbl_rpc_reset(struct ntbl_peer *peer);
void ntbl_rpc_prefetch(struct ntbl_borrow *borrow);

/* peer.c: below the lender and the borrower, above the channel */

/**
 * struct ntbl_uevent - the variables of a uevent being built
 * @envp: pointers into @buf, NULL-terminated, for kobject_uevent_env()
 * @buf: the variables
 * @n: variables so far
 */
struct ntbl_uevent {
	char *envp[9];
	char buf[8][64];
	int n;
};

struct ntbl_peer *ntbl_peer_by_node(struct ntbl_adapter *adapter, int node);
u32 ntbl_next_tag(struct ntbl_peer *peer);
int ntbl_wait_reply_unlocked(struct ntbl_peer *peer, unsigned int epoch,
			     u8 type, u32 tag, struct ntbl_msg *reply);
void ntbl_reply(struct ntbl_peer *peer, u8 type, u32 tag, int status);
void ntbl_bad_msg(struct ntbl_peer *peer, const struct ntbl_msg *msg);
/* ntbl_peer_log()'s limit per peer: 10 lines in 5 s, as printk's. */
#define NTBL_PEER_LOG_INTERVAL	(5 * HZ)
#define NTBL_PEER_LOG_BURST	10
__printf(3, 4)
void ntbl_peer_log(struct ntbl_peer *peer, bool warn, const char *fmt, ...);
__printf(2, 3)
void ntbl_uevent_add(struct ntbl_uevent *ev, const char *fmt, ...);
void ntbl_uevent_send(struct ntbl_adapter *adapter, struct ntbl_uevent *ev);
u64 ntbl_vector_bits(struct ntbl_adapter *adapter, int node);
int ntbl_set_window(struct ntbl_peer *peer, int widx, u64 addr, u64 size);
void __ntbl_clear_window(struct ntbl_peer *peer, int widx);
void ntbl_clear_window(struct ntbl_peer *peer, int widx);
int ntbl_pick_outbound(struct ntbl_peer *peer, u64 addr, u64 *xlat,
		       u64 *base, u64 *largest);
void ntbl_outbound_holders(struct ntbl_adapter *adapter, char *buf, size_t len);
unsigned int ntbl_outbound_free(struct ntbl_adapter *adapter);

/* lender.c: the lender */
int ntbl_connection_add(struct ntbl_connection *conn);
void ntbl_connection_remove(struct ntbl_connection *conn);
void ntbl_send_offers(struct ntbl_adapter *adapter, struct ntbl_lend *only,
		      int node);
int ntbl_lend_offer(struct ntbl_lend *lend);
int ntbl_lend_withdraw(struct ntbl_lend *lend, bool force);
void ntbl_lend_remove(struct ntbl_lend *lend);
void ntbl_rx_borrow(struct ntbl_peer *peer, const struct ntbl_msg *msg);
void ntbl_rx_return(struct ntbl_peer *peer, const struct ntbl_msg *msg);
void ntbl_lend_peer_lost(struct ntbl_peer *peer);
void ntbl_lend_removed_work(struct work_struct *work);

/* borrower.c: the borrower, and the offers registry */
struct ntbl_offer *ntbl_offer_new(struct ntbl_adapter *adapter, int lender,
				  unsigned int index);
struct ntbl_offer *ntbl_offer_find(struct ntbl_adapter *adapter, int lender,
				   unsigned int index);
void ntbl_offer_withdraw(struct ntbl_offer *offer);
bool ntbl_offers_mark_replay(struct ntbl_adapter *adapter);
struct ntbl_offer *ntbl_offer_next_change(struct ntbl_adapter *adapter,
					  enum ntbl_offer_change *change);
void ntbl_offer_drop(struct ntbl_offer *offer);
void ntbl_offers_forget(struct ntbl_peer *peer);
void ntbl_rx_offer(struct ntbl_peer *peer, const struct ntbl_msg *msg);
void ntbl_rx_withdraw(struct ntbl_peer *peer, const struct ntbl_msg *msg);
struct ntbl_borrow *ntbl_borrow_start(struct ntbl_adapter *adapter,
				      const char *name);
void ntbl_borrow_return(struct ntbl_borrow *borrow);
void ntbl_borrow_peer_lost(struct ntbl_peer *peer);
bool ntbl_borrow_ended(struct ntbl_adapter *adapter);
void ntbl_borrow_remove_ended(struct ntbl_adapter *adapter);
void ntbl_borrow_let_go(struct ntbl_peer *peer);
void ntbl_borrow_db(struct ntbl_peer *peer, u64 db);
void ntbl_rx_revoke(struct ntbl_peer *peer, const struct ntbl_msg *msg);

/* core.c: the NTB client, the adapters, link, hello, message dispatch */

/**
 * struct ntbl_abi_ops - what core.c asks of the configfs layer above it
 * @adapter_init: make a new adapter's group ntb_lending/<name>, not yet
 *	shown; from then on the last put of &ntbl_adapter.group frees it
 *	(ntbl_adapter_free()); takes no lock
 * @adapter_remove: remove an adapter's group as the module goes, which
 *	frees it
 * @offers_sync: show the adapter's group if it is not yet, and make
 *	offers/ follow the offers registry (borrower.c) now; takes configfs'
 *	subsystem mutex, so only &ntbl_adapter.offers_work calls it
 */
struct ntbl_abi_ops {
	void (*adapter_init)(struct ntbl_adapter *adapter, const char *name);
	void (*adapter_remove)(struct ntbl_adapter *adapter);
	void (*offers_sync)(struct ntbl_adapter *adapter);
};

int ntbl_core_init(const struct ntbl_abi_ops *abi);
void ntbl_core_exit(void);
void ntbl_adapter_free(struct ntbl_adapter *adapter);
int ntbl_lend_add(struct ntbl_lend *lend);
void ntbl_replay_offers(struct ntbl_adapter *adapter);

/* configfs.c: the ABI and the module's init; nothing calls it */

#endif /* _NTB_LENDING_H */
