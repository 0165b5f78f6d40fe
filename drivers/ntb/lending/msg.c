// SPDX-License-Identifier: GPL-2.0
/*
 * NTB device lending: packets over message registers, for multi-port NTB.
 *
 * A switch (IDT-like, several peers per adapter) has no scratchpads. Each
 * port has message registers that any peer may write: one holds a word
 * and its sender's port until the receiver reads and clears it, and a
 * write to a full register fails, which the sender's outbound status
 * shows. What a two-port adapter carries in scratchpads travels here as
 * packets of NL_PKT_WORDS words in registers 0..3:
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
 * interrupts off) are serialised by &nl_adapter.msg_tx_lock, which also
 * keeps the outbound status bits ours between a write and its check.
 *
 * Heads: a channel frame's header (chan.c); NL_PKT_ACK << 24 | seq << 16,
 * an acknowledgment; NL_PKT_RPC_REQ or NL_PKT_RPC_RSP << 24 with a config
 * request or answer (rpc.c) in words 1..3.
 */

#include <linux/delay.h>
#include <linux/ntb.h>

#include "ntb_lending.h"

#define MIDX_HEAD	0
#define MIDX_CLAIM	1

/*
 * A sender writes its four words within microseconds and tries for about
 * two seconds; words without a head at two looks in a row, with no packet
 * taken in between, are dropped well within that.
 */
#define RX_WATCH_PERIOD	msecs_to_jiffies(500)

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
	return GENMASK_ULL(NL_PKT_WORDS - 1, 0) << __ffs64(ntb_msg_inbits(ntb));
}

static bool write_failed(struct ntb_dev *ntb)
{
	u64 out = ntb_msg_outbits(ntb);

	if (!(ntb_msg_read_sts(ntb) & out))
		return false;
	ntb_msg_clear_sts(ntb, out);
	return true;
}

/**
 * nl_pkt_send() - write one packet into a peer's message registers
 * @peer: the receiver
 * @w: the packet, head first
 *
 * Context: any; does not sleep.
 * Return: 0 once the packet is in the peer's registers, -EBUSY if another
 * sender's packet is (try again later), -EIO if the registers were lost
 * midway (a dead link or a peer that reset).
 */
int nl_pkt_send(struct nl_peer *peer, const u32 *w)
{
	static const int order[] = { 3, 2, MIDX_HEAD };
	struct nl_adapter *adapter = peer->adapter;
	struct ntb_dev *ntb = peer->ntb;
	unsigned long flags;
	int i, ret = 0;

	raw_spin_lock_irqsave(&adapter->msg_tx_lock, flags);
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
	raw_spin_unlock_irqrestore(&adapter->msg_tx_lock, flags);
	return ret;
}

/**
 * nl_pkt_send_atomic() - nl_pkt_send(), retried for up to a millisecond
 * @peer: the receiver
 * @w: the packet
 *
 * For answers sent from interrupt context: the other senders' packets
 * leave the peer's registers within microseconds, unless the peer is gone.
 *
 * Context: any; does not sleep.
 * Return: as nl_pkt_send().
 */
int nl_pkt_send_atomic(struct nl_peer *peer, const u32 *w)
{
	int try, ret;

	for (try = 0; try < 200; try++) {
		ret = nl_pkt_send(peer, w);
		if (ret != -EBUSY)
			break;
		udelay(5);
	}
	return ret;
}

static struct nl_peer *pkt_sender(struct nl_adapter *adapter, int pidx)
{
	if (pidx < 0 || pidx >= adapter->npeers)
		return NULL;
	return &adapter->peers[pidx];
}

/*
 * Take the words in our registers once a head is there; false if none.
 * *@peer is NULL if they are no packet: words of two senders, or a head
 * whose other words are missing (a link change dropped a sender's claim).
 */
static bool take_packet(struct nl_adapter *adapter, struct nl_peer **peer,
			u32 *w)
{
	static const int order[] = { MIDX_HEAD, 3, 2, MIDX_CLAIM };
	struct ntb_dev *ntb = adapter->ntb;
	u64 sts = ntb_msg_read_sts(ntb);
	int i, pidx, from = -1;
	bool mixed = false;

	if (!(sts & in_bit(ntb, MIDX_HEAD)))
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
	*peer = mixed ? NULL : pkt_sender(adapter, from);
	adapter->rx_taken++;
	return true;
}

/**
 * nl_pkt_poll() - take and deliver every whole packet in our registers
 * @adapter: the adapter, whose NTB device is bound
 *
 * Called by the message interrupt and by config requests that poll for
 * their answer with interrupts off.
 *
 * Context: any; does not sleep.
 */
void nl_pkt_poll(struct nl_adapter *adapter)
{
	struct nl_peer *peer;
	unsigned long flags;
	u32 w[NL_PKT_WORDS];
	bool got;

	for (;;) {
		raw_spin_lock_irqsave(&adapter->msg_rx_lock, flags);
		got = take_packet(adapter, &peer, w);
		raw_spin_unlock_irqrestore(&adapter->msg_rx_lock, flags);
		if (!got)
			return;
		if (!peer)
			continue;	/* words of two senders: not a packet */
		switch (w[0] >> 24) {
		case NL_PKT_ACK:
			nl_chan_acked(peer, w[0] >> 16 & 0xff);
			break;
		case NL_PKT_RPC_REQ:
			nl_rpc_request(peer, &w[1]);
			break;
		case NL_PKT_RPC_RSP:
			nl_rpc_answer(peer, &w[1]);
			break;
		default:
			nl_chan_frame(peer, w);
		}
	}
}

/* Read and clear all our registers; the sender of a word that was there. */
static int drop_words(struct ntb_dev *ntb)
{
	u64 sts = ntb_msg_read_sts(ntb);
	int midx, pidx, from = -1;

	for (midx = NL_PKT_WORDS - 1; midx >= 0; midx--) {
		ntb_msg_read(ntb, &pidx, midx);
		ntb_msg_clear_sts(ntb, in_bit(ntb, midx));
		if (sts & in_bit(ntb, midx))
			from = pidx;
	}
	return from;
}

/**
 * nl_pkt_drop_partial() - clear registers a sender left half written
 * @adapter: the adapter, whose NTB device is bound
 *
 * A sender whose link dropped between its claim and its head leaves its
 * words behind, and every other sender would find the registers taken.
 * Called on every link change.
 *
 * Context: process.
 */
void nl_pkt_drop_partial(struct nl_adapter *adapter)
{
	struct ntb_dev *ntb = adapter->ntb;
	unsigned long flags;

	raw_spin_lock_irqsave(&adapter->msg_rx_lock, flags);
	if (!(ntb_msg_read_sts(ntb) & in_bit(ntb, MIDX_HEAD)))
		drop_words(ntb);
	raw_spin_unlock_irqrestore(&adapter->msg_rx_lock, flags);
}

/* Drop words that wait for their head since the last look. */
static void rx_watch(struct work_struct *work)
{
	struct nl_adapter *adapter = container_of(to_delayed_work(work),
						  struct nl_adapter, rx_watch);
	struct ntb_dev *ntb = adapter->ntb;
	struct nl_peer *sender = NULL;
	bool partial, dropped = false;
	unsigned long flags;
	u64 sts;

	raw_spin_lock_irqsave(&adapter->msg_rx_lock, flags);
	sts = ntb_msg_read_sts(ntb);
	partial = (sts & in_bits(ntb)) && !(sts & in_bit(ntb, MIDX_HEAD));
	if (partial && adapter->rx_watch_taken == adapter->rx_taken) {
		sender = pkt_sender(adapter, drop_words(ntb));
		dropped = true;
		partial = false;
	}
	adapter->rx_watch_taken = partial ? adapter->rx_taken : ULONG_MAX;
	raw_spin_unlock_irqrestore(&adapter->msg_rx_lock, flags);

	if (dropped)
		dev_warn_ratelimited(&ntb->dev,
				     "node %d left a message half written; dropped it, as it kept every other sender out\n",
				     sender ? sender->port : -1);
	schedule_delayed_work(&adapter->rx_watch, RX_WATCH_PERIOD);
}

/**
 * nl_pkt_init() - take packets on an adapter that was just bound
 * @adapter: the adapter, whose NTB device is bound and whose context is set
 *
 * A packet is whole when its head arrives: only the head's register
 * interrupts. Whatever a sender left before is dropped.
 */
void nl_pkt_init(struct nl_adapter *adapter)
{
	struct ntb_dev *ntb = adapter->ntb;

	ntb_msg_set_mask(ntb, ntb_msg_inbits(ntb) | ntb_msg_outbits(ntb));
	nl_pkt_drop_partial(adapter);
	ntb_msg_clear_mask(ntb, in_bit(ntb, MIDX_HEAD));
}

/**
 * nl_pkt_watch_init() - set up the look for words left without a head
 * @adapter: the adapter
 */
void nl_pkt_watch_init(struct nl_adapter *adapter)
{
	INIT_DELAYED_WORK(&adapter->rx_watch, rx_watch);
}

/**
 * nl_pkt_watch_start() - look for words left without a head, until unbound
 * @adapter: the adapter, whose NTB device was just bound
 *
 * nl_remove() stops it with cancel_delayed_work_sync(&adapter->rx_watch).
 */
void nl_pkt_watch_start(struct nl_adapter *adapter)
{
	adapter->rx_watch_taken = ULONG_MAX;
	schedule_delayed_work(&adapter->rx_watch, RX_WATCH_PERIOD);
}
