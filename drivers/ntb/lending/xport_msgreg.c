// SPDX-License-Identifier: GPL-2.0
/*
 * NTB device lending: the message register transport, for switches.
 *
 * A switch (IDT-like, several peers per adapter) has no scratchpads. Each
 * port has message registers that any peer may write: one holds a word
 * and its sender's port until the receiver reads and clears it, and a
 * write to a full register fails, which the sender's outbound status
 * shows. What a two-port adapter carries in scratchpads travels here as
 * packets of PKT_WORDS words in registers 0..3:
 *
 * - The sender writes register 1 first: it claims the receiver's
 *   registers. A full register 1 is another sender's packet: it backs off
 *   and tries again. Then registers 3 and 2, then register 0, the head,
 *   which makes the packet whole.
 * - The receiver reads nothing until the head is there; then it takes
 *   registers 0, 3, 2 and 1, clearing each as it goes, so that when the
 *   next sender finds register 1 free the others are free too.
 *
 * A packet therefore never mixes words of two senders, and a sender never
 * overruns the receiver. Words that wait for their head too long, left by
 * a sender that died midway or lies, would keep every other sender out:
 * the receiver drops them (rx_watch()), as it does on every link change.
 *
 * Our own writers (work items, interrupts and config requests with
 * interrupts off) are serialised by &struct mreg_xport.tx_lock, which also
 * keeps the outbound status bits ours between a write and its check.
 *
 * Heads: a channel frame's header (chan.c), whose type is never one of
 * these; PKT_ACK << 24 | seq << 16, an acknowledgment; PKT_RPC_REQ or
 * PKT_RPC_RSP << 24 with a config request or answer (rpc.c) in words 1..3.
 * No doorbell is used: on a switch every bit is a vector.
 */

#include <linux/delay.h>
#include <linux/irq_work.h>
#include <linux/ntb.h>
#include <linux/slab.h>

#include "ntb_lending.h"
#include "xport.h"

#define PKT_WORDS	4
#define PKT_ACK		0x00
#define PKT_RPC_REQ	0x7e
#define PKT_RPC_RSP	0x7f

#define MIDX_HEAD	0
#define MIDX_CLAIM	1

/*
 * A sender writes its four words within microseconds and tries for about
 * two seconds; words without a head at two looks in a row, with no packet
 * taken in between, are dropped well within that.
 */
#define RX_WATCH_PERIOD	msecs_to_jiffies(500)

/**
 * struct mreg_peer - what the transport keeps of one peer
 * @peer: the peer
 * @rpc_rsp: the last config answer it sent us: header, value, check
 * @ack_work: sends the acknowledgment of @ack_seq when the peer's
 *	registers were taken (send_ack())
 * @ack_seq: sequence number for @ack_work to acknowledge; set in interrupt
 *	context without a lock, as any recent value acknowledges rightly
 */
struct mreg_peer {
	struct ntbl_peer *peer;
	u32 rpc_rsp[NTBL_RPC_WORDS];
	struct work_struct ack_work;
	u8 ack_seq;
};

/**
 * struct mreg_xport - the transport's state on one bound adapter
 * @adapter: the adapter
 * @ntb: its NTB device, bound as long as this exists
 * @tx_lock: serialises our packets and the outbound message status
 * @rx_lock: serialises taking packets from our message registers, and
 *	protects @rx_taken
 * @rx_taken: packets taken from our message registers
 * @rx_watch: looks for words a sender left without their head
 * @rx_watch_taken: @rx_taken when @rx_watch last found such words, or
 *	ULONG_MAX; @rx_watch's own
 * @held: a frame or ack that a config request's poll took out of our
 *	registers, so that the answer it waits for can come in behind it;
 *	under @rx_lock
 * @held_from: the sender of @held, NULL when there is none; under @rx_lock
 * @held_work: delivers @held, from interrupt context
 * @npeers: entries in @peers
 * @peers: by peer index
 */
struct mreg_xport {
	struct ntbl_adapter *adapter;
	struct ntb_dev *ntb;
	raw_spinlock_t tx_lock;		/* see above */
	raw_spinlock_t rx_lock;		/* see above */
	unsigned long rx_taken;
	struct delayed_work rx_watch;
	unsigned long rx_watch_taken;
	u32 held[PKT_WORDS];
	struct ntbl_peer *held_from;
	struct irq_work held_work;
	int npeers;
	struct mreg_peer peers[] __counted_by(npeers);
};

static struct mreg_xport *to_xport(struct ntbl_adapter *adapter)
{
	return adapter->xport_priv;
}

static struct mreg_peer *to_mreg_peer(struct ntbl_peer *peer)
{
	return &to_xport(peer->adapter)->peers[peer->pidx];
}

/*
 * A register's inbound status bit: drivers place them differently (ntb_sim
 * from bit 0, IDT from bit 16), so count from the lowest of
 * ntb_msg_inbits().
 */
static u64 in_bit(struct ntb_dev *ntb, int midx)
{
	return BIT_ULL(__ffs64(ntb_msg_inbits(ntb)) + midx);
}

/* The inbound status bits of a packet's registers. */
static u64 in_bits(struct ntb_dev *ntb)
{
	return GENMASK_ULL(PKT_WORDS - 1, 0) << __ffs64(ntb_msg_inbits(ntb));
}

static bool write_failed(struct ntb_dev *ntb)
{
	u64 out = ntb_msg_outbits(ntb);

	if (!(ntb_msg_read_sts(ntb) & out))
		return false;
	ntb_msg_clear_sts(ntb, out);
	return true;
}

/*
 * Write one packet into a peer's message registers, head first in @w.
 * 0 once the packet is in the peer's registers, -EBUSY if another
 * sender's packet is (try again later), -EIO if the registers were lost
 * midway (a dead link or a peer that reset). Does not sleep.
 */
static int pkt_send(struct ntbl_peer *peer, const u32 *w)
{
	static const int order[] = { 3, 2, MIDX_HEAD };
	struct mreg_xport *xp = to_xport(peer->adapter);
	struct ntb_dev *ntb = xp->ntb;
	unsigned long flags;
	int i, ret = 0;

	raw_spin_lock_irqsave(&xp->tx_lock, flags);
	write_failed(ntb);
	ntb_peer_msg_write(ntb, peer->pidx, MIDX_CLAIM, w[MIDX_CLAIM]);
	if (write_failed(ntb)) {
		ret = -EBUSY;
		goto out;
	}
	for (i = 0; i < ARRAY_SIZE(order); i++) {
		ntb_peer_msg_write(ntb, peer->pidx, order[i], w[order[i]]);
		if (write_failed(ntb)) {
			ret = -EIO;
			break;
		}
	}
out:
	raw_spin_unlock_irqrestore(&xp->tx_lock, flags);
	return ret;
}

static struct ntbl_peer *pkt_sender(struct mreg_xport *xp, int pidx)
{
	if (pidx < 0 || pidx >= xp->npeers)
		return NULL;
	return xp->peers[pidx].peer;
}

static bool is_rpc(u32 head)
{
	return head >> 24 == PKT_RPC_REQ || head >> 24 == PKT_RPC_RSP;
}

/*
 * Take the words in our registers once a head is there; false if none,
 * or if @rpc_only and the head is not a config request or answer.
 * *@peer is NULL if they are no packet: words of two senders, or a head
 * whose other words are missing (a link change dropped a sender's claim).
 */
static bool take_packet(struct mreg_xport *xp, bool rpc_only,
			struct ntbl_peer **peer, u32 *w)
{
	static const int order[] = { MIDX_HEAD, 3, 2, MIDX_CLAIM };
	struct ntb_dev *ntb = xp->ntb;
	u64 sts = ntb_msg_read_sts(ntb);
	int i, pidx, from = -1;
	bool mixed = false;

	if (!(sts & in_bit(ntb, MIDX_HEAD)))
		return false;
	if (rpc_only && !is_rpc(ntb_msg_read(ntb, &pidx, MIDX_HEAD)))
		return false;
	for (i = 0; i < ARRAY_SIZE(order); i++) {
		w[order[i]] = ntb_msg_read(ntb, &pidx, order[i]);
		ntb_msg_clear_sts(ntb, in_bit(ntb, order[i]));
		if (i && pidx != from)
			mixed = true;
		from = pidx;
	}
	if ((sts & in_bits(ntb)) != in_bits(ntb))
		mixed = true;
	*peer = mixed ? NULL : pkt_sender(xp, from);
	xp->rx_taken++;
	return true;
}

/* Keep a lender's answer for the request polling for it. */
static void keep_answer(struct ntbl_peer *peer, const u32 *w)
{
	struct mreg_peer *mp = to_mreg_peer(peer);

	/* The header last: rpc.c checks the three together. */
	WRITE_ONCE(mp->rpc_rsp[1], w[1]);
	WRITE_ONCE(mp->rpc_rsp[2], w[2]);
	WRITE_ONCE(mp->rpc_rsp[0], w[0]);
}

/*
 * Take and deliver every whole packet in our registers: from the message
 * interrupt, and, @rpc_only, from config requests that poll for their
 * answer. Those hold a raw spinlock (the peer's call_lock, perhaps the PCI
 * core's pci_lock) and deliver config packets only: a frame or an ack
 * takes ordinary spinlocks, allocates and wakes. They take one such packet
 * out of the registers all the same, since the answer cannot come in
 * behind it, and leave it in @held for the interrupt or @held_work; a
 * second stays in the registers until then. Does not sleep.
 */
static void pkt_poll(struct mreg_xport *xp, bool rpc_only)
{
	struct ntbl_peer *peer;
	unsigned long flags;
	u32 w[PKT_WORDS];
	bool got;

	for (;;) {
		raw_spin_lock_irqsave(&xp->rx_lock, flags);
		if (!rpc_only && xp->held_from) {
			/* Older than anything in the registers. */
			peer = xp->held_from;
			memcpy(w, xp->held, sizeof(w));
			xp->held_from = NULL;
			got = true;
		} else {
			got = take_packet(xp, rpc_only && xp->held_from, &peer,
					  w);
			if (got && peer && rpc_only && !is_rpc(w[0])) {
				memcpy(xp->held, w, sizeof(w));
				xp->held_from = peer;
				irq_work_queue(&xp->held_work);
				peer = NULL;
			}
		}
		raw_spin_unlock_irqrestore(&xp->rx_lock, flags);
		if (!got)
			return;
		if (!peer)
			continue;	/* held, or words of two senders */
		switch (w[0] >> 24) {
		case PKT_ACK:
			ntbl_chan_acked(peer, w[0] >> 16 & 0xff);
			break;
		case PKT_RPC_REQ:
			ntbl_rpc_request(peer, &w[1]);
			break;
		case PKT_RPC_RSP:
			keep_answer(peer, &w[1]);
			break;
		default:
			ntbl_chan_frame(peer, w);
		}
	}
}

static void held_work(struct irq_work *work)
{
	pkt_poll(container_of(work, struct mreg_xport, held_work), false);
}

/* Read and clear all our registers; the sender of a word that was there. */
static int drop_words(struct ntb_dev *ntb)
{
	u64 sts = ntb_msg_read_sts(ntb);
	int midx, pidx, from = -1;

	for (midx = PKT_WORDS - 1; midx >= 0; midx--) {
		ntb_msg_read(ntb, &pidx, midx);
		ntb_msg_clear_sts(ntb, in_bit(ntb, midx));
		if (sts & in_bit(ntb, midx))
			from = pidx;
	}
	return from;
}

/*
 * A sender whose link dropped between its claim and its head leaves its
 * words behind, and every other sender would find the registers taken:
 * clear them on every link change.
 */
static void drop_partial(struct mreg_xport *xp)
{
	struct ntb_dev *ntb = xp->ntb;
	unsigned long flags;

	raw_spin_lock_irqsave(&xp->rx_lock, flags);
	if (!(ntb_msg_read_sts(ntb) & in_bit(ntb, MIDX_HEAD)))
		drop_words(ntb);
	xp->held_from = NULL;	/* of the link before */
	raw_spin_unlock_irqrestore(&xp->rx_lock, flags);
}

/* Drop words that wait for their head since the last look. */
static void rx_watch(struct work_struct *work)
{
	struct mreg_xport *xp = container_of(to_delayed_work(work),
					    struct mreg_xport, rx_watch);
	struct ntb_dev *ntb = xp->ntb;
	struct ntbl_peer *sender = NULL;
	bool partial, dropped = false;
	unsigned long flags;
	u64 sts;

	raw_spin_lock_irqsave(&xp->rx_lock, flags);
	sts = ntb_msg_read_sts(ntb);
	partial = (sts & in_bits(ntb)) && !(sts & in_bit(ntb, MIDX_HEAD));
	if (partial && xp->rx_watch_taken == xp->rx_taken) {
		sender = pkt_sender(xp, drop_words(ntb));
		dropped = true;
		partial = false;
	}
	xp->rx_watch_taken = partial ? xp->rx_taken : ULONG_MAX;
	raw_spin_unlock_irqrestore(&xp->rx_lock, flags);

	if (dropped)
		dev_warn_ratelimited(&ntb->dev,
				     "node %d left a message half written; dropped it, as it kept every other sender out\n",
				     sender ? sender->port : -1);
	schedule_delayed_work(&xp->rx_watch, RX_WATCH_PERIOD);
}

/*
 * An acknowledgment that finds the peer's registers taken is sent from a
 * work item: spinning in the interrupt would hold up the very interrupts
 * that free them when hosts share CPUs (as on ntb_sim). The latest
 * sequence number acknowledges the earlier ones.
 */
static void ack_work(struct work_struct *work)
{
	struct mreg_peer *mp = container_of(work, struct mreg_peer, ack_work);
	u32 w[PKT_WORDS] = {};
	int i;

	for (i = 0; i < 1000; i++) {
		w[0] = PKT_ACK << 24 | READ_ONCE(mp->ack_seq) << 16;
		if (pkt_send(mp->peer, w) != -EBUSY)
			return;
		usleep_range(50, 100);
	}
}

static bool mreg_usable(struct ntb_dev *ntb)
{
	return ntb_msg_count(ntb) >= PKT_WORDS;
}

/* Our state, before the adapter's context is set. */
static int mreg_bind(struct ntbl_adapter *adapter)
{
	struct mreg_xport *xp;
	int i;

	xp = kzalloc(struct_size(xp, peers, adapter->npeers), GFP_KERNEL);
	if (!xp)
		return -ENOMEM;
	xp->npeers = adapter->npeers;
	xp->adapter = adapter;
	xp->ntb = adapter->ntb;
	raw_spin_lock_init(&xp->tx_lock);
	raw_spin_lock_init(&xp->rx_lock);
	INIT_DELAYED_WORK(&xp->rx_watch, rx_watch);
	init_irq_work(&xp->held_work, held_work);
	for (i = 0; i < xp->npeers; i++) {
		xp->peers[i].peer = &adapter->peers[i];
		INIT_WORK(&xp->peers[i].ack_work, ack_work);
	}
	adapter->xport_priv = xp;
	return 0;
}

/*
 * Once the context is set, so that no interrupt is lost: a packet is
 * whole when its head arrives, so only the head's register interrupts.
 * Whatever a sender left before, whole or not, is dropped: our link is
 * not up yet, and the peer sends again after it is.
 */
static void mreg_start(struct ntbl_adapter *adapter)
{
	struct mreg_xport *xp = to_xport(adapter);
	struct ntb_dev *ntb = xp->ntb;
	unsigned long flags;

	ntb_msg_set_mask(ntb, ntb_msg_inbits(ntb) | ntb_msg_outbits(ntb));
	raw_spin_lock_irqsave(&xp->rx_lock, flags);
	drop_words(ntb);
	raw_spin_unlock_irqrestore(&xp->rx_lock, flags);
	ntb_msg_clear_mask(ntb, in_bit(ntb, MIDX_HEAD));
	xp->rx_watch_taken = ULONG_MAX;
	schedule_delayed_work(&xp->rx_watch, RX_WATCH_PERIOD);
}

static void mreg_unbind(struct ntbl_adapter *adapter)
{
	struct mreg_xport *xp = to_xport(adapter);
	int i;

	cancel_delayed_work_sync(&xp->rx_watch);
	irq_work_sync(&xp->held_work);
	for (i = 0; i < xp->npeers; i++)
		cancel_work_sync(&xp->peers[i].ack_work);
	adapter->xport_priv = NULL;
	kfree(xp);
}

static void mreg_link_event(struct ntbl_adapter *adapter)
{
	drop_partial(to_xport(adapter));
}

static const struct ntbl_xport_db mreg_dbs[] = {
	{ }
};

static void mreg_msg_event(struct ntbl_adapter *adapter)
{
	pkt_poll(to_xport(adapter), false);
}

static int mreg_borrow_check(struct ntbl_peer *peer, const char *name,
			     bool vectors)
{
	if (vectors)
		return 0;
	dev_err(&peer->ntb->dev,
		"borrows/%s: borrowing needs a doorbell bit for each of the fabric's %d ports, the adapter has %d\n",
		name, peer->adapter->npeers + 1,
		(int)hweight64(ntb_db_valid_mask(peer->ntb)));
	return -EOPNOTSUPP;
}

/* Other senders' packets leave the registers in microseconds. */
static void mreg_send_frame(struct ntbl_peer *peer, const u32 *w)
{
	int i;

	for (i = 0; i < 100 && pkt_send(peer, w) == -EBUSY; i++)
		usleep_range(20, 50);
}

static void mreg_send_ack(struct ntbl_peer *peer, u8 seq)
{
	u32 w[PKT_WORDS] = { PKT_ACK << 24 | seq << 16 };
	struct mreg_peer *mp = to_mreg_peer(peer);

	if (pkt_send(peer, w) == -EBUSY) {
		WRITE_ONCE(mp->ack_seq, seq);
		queue_work(system_unbound_wq, &mp->ack_work);
	}
}

/*
 * Answers go from interrupt context: the other senders' packets leave the
 * peer's registers within microseconds, unless the peer is gone, so this
 * tries for up to a millisecond.
 */
static int mreg_send_rpc(struct ntbl_peer *peer, bool answer, const u32 *rpc)
{
	u32 w[PKT_WORDS] = {
		(answer ? PKT_RPC_RSP : PKT_RPC_REQ) << 24,
		rpc[0], rpc[1], rpc[2]
	};
	int try, ret;

	for (try = 0; try < 200; try++) {
		ret = pkt_send(peer, w);
		if (ret != -EBUSY)
			break;
		udelay(5);
	}
	return ret;
}

static void mreg_rpc_answer(struct ntbl_peer *peer, u32 *w)
{
	struct mreg_peer *mp = to_mreg_peer(peer);
	int i;

	pkt_poll(to_xport(peer->adapter), true);
	for (i = 0; i < NTBL_RPC_WORDS; i++)
		w[i] = READ_ONCE(mp->rpc_rsp[i]);
}

static void mreg_rpc_forget(struct ntbl_peer *peer)
{
	WRITE_ONCE(to_mreg_peer(peer)->rpc_rsp[0], 0);
}

const struct ntbl_xport_ops ntbl_xport_msgreg = {
	.name = "message registers",
	.usable = mreg_usable,
	.needs = __stringify(PKT_WORDS) " message registers",
	.bind = mreg_bind,
	.start = mreg_start,
	.unbind = mreg_unbind,
	.link_event = mreg_link_event,
	.dbs = mreg_dbs,
	.msg_event = mreg_msg_event,
	.borrow_check = mreg_borrow_check,
	.send_frame = mreg_send_frame,
	.send_ack = mreg_send_ack,
	.send_rpc = mreg_send_rpc,
	.rpc_answer = mreg_rpc_answer,
	.rpc_forget = mreg_rpc_forget,
};
