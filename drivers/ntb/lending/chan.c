// SPDX-License-Identifier: GPL-2.0
/*
 * NTB device lending: the control channel to a peer.
 *
 * A reliable, ordered channel of messages over a transport (xport.h) that
 * carries frames of four words, a header and three payload words, and
 * acknowledgments of their sequence numbers. One frame is in flight per
 * direction (stop and wait): a frame that is lost, corrupted (its
 * checksum fails) or unacknowledged is sent again, and a duplicate is
 * acknowledged and dropped. Messages longer than three words travel as up
 * to NTBL_MSG_FRAGS fragments. Frames are received in interrupt context and
 * complete messages run in the adapter's ordered work queue; replies wake
 * their waiter directly. This file touches no hardware.
 *
 * Header word: type[31:24] seq[23:16] frag[15:12] last[11] len[10:8]
 * csum[7:0], where len counts the payload words of this frame and csum
 * makes the bytes of all four words sum to zero.
 */

#include <linux/ntb.h>
#include <linux/slab.h>

#include "ntb_lending.h"
#include "xport.h"

#define HDR_TYPE(h)	((h) >> 24)
#define HDR_SEQ(h)	(((h) >> 16) & 0xff)
#define HDR_FRAG(h)	(((h) >> 12) & 0xf)
#define HDR_LAST	BIT(11)
#define HDR_LEN(h)	(((h) >> 8) & 0x7)

/* A lost frame is sent again after this long, for about two seconds. */
#define ACK_TIMEOUT	msecs_to_jiffies(50)
#define TX_TRIES	40

struct ntbl_txmsg {
	struct list_head node;
	struct ntbl_msg msg;
};

struct ntbl_rxmsg {
	struct list_head node;
	struct ntbl_peer *peer;
	struct ntbl_msg msg;
};

static u8 csum(const u32 *w)
{
	u8 sum = 0;
	int i, b;

	for (i = 0; i < NTBL_FRAME_WORDS; i++)
		for (b = 0; b < 32; b += 8)
			sum += w[i] >> b;
	return sum;
}

/* Wait until the peer acknowledged @seq; false if it did not or went away. */
static bool wait_ack(struct ntbl_chan *chan, u8 seq, unsigned int epoch)
{
	bool acked;

	wait_event_timeout(chan->ackq,
			   READ_ONCE(chan->acked) == seq ||
			   READ_ONCE(chan->epoch) != epoch, ACK_TIMEOUT);
	spin_lock_irq(&chan->lock);
	acked = chan->acked == seq && chan->epoch == epoch;
	spin_unlock_irq(&chan->lock);
	return acked;
}

static int send_frame(struct ntbl_peer *peer, const u32 *w, unsigned int epoch)
{
	int try;

	for (try = 0; try < TX_TRIES; try++) {
		if (READ_ONCE(peer->chan.epoch) != epoch)
			return -ENOLINK;
		peer->adapter->xport->send_frame(peer, w);
		if (wait_ack(&peer->chan, HDR_SEQ(w[0]), epoch))
			return 0;
	}
	return -ETIMEDOUT;
}

static int send_msg(struct ntbl_peer *peer, const struct ntbl_msg *msg,
		    unsigned int epoch)
{
	unsigned int frag, nfrags = max(1, DIV_ROUND_UP(msg->len, 3));
	u32 w[NTBL_FRAME_WORDS];
	u8 seq;
	int i, n, ret;

	for (frag = 0; frag < nfrags; frag++) {
		n = min(3, msg->len - frag * 3);
		memset(w, 0, sizeof(w));
		for (i = 0; i < n; i++)
			w[1 + i] = msg->w[frag * 3 + i];
		spin_lock_irq(&peer->chan.lock);
		seq = ++peer->chan.tx_seq;
		spin_unlock_irq(&peer->chan.lock);
		w[0] = msg->type << 24 | seq << 16 | frag << 12 |
		       (frag == nfrags - 1 ? HDR_LAST : 0) | n << 8;
		w[0] |= (u8)-csum(w);
		ret = send_frame(peer, w, epoch);
		if (ret)
			return ret;
	}
	return 0;
}

static void tx_work(struct work_struct *work)
{
	struct ntbl_chan *chan = container_of(work, struct ntbl_chan, tx_work);
	struct ntbl_peer *peer = container_of(chan, struct ntbl_peer, chan);
	struct ntbl_txmsg *tx;
	unsigned int epoch;
	int ret;

	for (;;) {
		spin_lock_irq(&chan->lock);
		tx = list_first_entry_or_null(&chan->txq, struct ntbl_txmsg,
					      node);
		if (tx) {
			list_del(&tx->node);
			chan->nr_tx--;
		}
		epoch = chan->epoch;
		spin_unlock_irq(&chan->lock);
		if (!tx)
			return;

		ret = send_msg(peer, &tx->msg, epoch);
		if (ret == -ETIMEDOUT)
			dev_warn_ratelimited(&peer->ntb->dev,
					     "node %d does not acknowledge messages; check the link to it\n",
					     peer->port);
		kfree(tx);
	}
}

static void free_list(struct list_head *head, size_t offset)
{
	struct list_head *pos, *n;

	list_for_each_safe(pos, n, head) {
		list_del(pos);
		kfree((void *)pos - offset);
	}
}

/**
 * ntbl_chan_init() - set up the channel of a peer that was just created
 * @peer: the peer
 */
void ntbl_chan_init(struct ntbl_peer *peer)
{
	struct ntbl_chan *chan = &peer->chan;

	spin_lock_init(&chan->lock);
	INIT_LIST_HEAD(&chan->txq);
	INIT_LIST_HEAD(&chan->rxq);
	INIT_LIST_HEAD(&chan->replies);
	init_waitqueue_head(&chan->ackq);
	init_waitqueue_head(&chan->replyq);
	INIT_WORK(&chan->tx_work, tx_work);
	chan->rx_seq = -1;
}

/**
 * ntbl_chan_reset() - forget everything in flight, after the link changed
 * @peer: the peer
 *
 * Messages not yet sent or received are dropped: the hello exchange that
 * follows a link-up resynchronises the state they carried.
 */
void ntbl_chan_reset(struct ntbl_peer *peer)
{
	struct ntbl_chan *chan = &peer->chan;
	LIST_HEAD(tx);
	LIST_HEAD(rx);

	spin_lock_irq(&chan->lock);
	chan->epoch++;
	chan->rx_seq = -1;
	chan->rx_frag = 0;
	list_splice_init(&chan->txq, &tx);
	list_splice_init(&chan->rxq, &rx);
	list_splice_init(&chan->replies, &rx);
	chan->nr_tx = 0;
	chan->nr_rx = 0;
	chan->nr_replies = 0;
	spin_unlock_irq(&chan->lock);
	wake_up_all(&chan->ackq);
	wake_up_all(&chan->replyq);
	free_list(&tx, offsetof(struct ntbl_txmsg, node));
	free_list(&rx, offsetof(struct ntbl_rxmsg, node));
}

/**
 * ntbl_chan_send() - queue a message to a peer
 * @peer: the peer
 * @msg: the message; copied
 *
 * The allocation does not fail: most callers could not undo what the
 * message tells (an offer, a grant, a reply), and a lost one leaves the
 * two hosts disagreeing. It is small, and NTBL_CHAN_TXQ_MAX bounds how
 * many a peer holds.
 *
 * Context: process: it allocates, and may sleep; the message is sent from
 * a work item.
 * Return: 0, or -ENOBUFS if the peer left NTBL_CHAN_TXQ_MAX messages
 * untaken.
 */
int ntbl_chan_send(struct ntbl_peer *peer, const struct ntbl_msg *msg)
{
	struct ntbl_chan *chan = &peer->chan;
	struct ntbl_txmsg *tx;
	bool full;

	might_sleep();
	if (WARN_ON_ONCE(msg->len > NTBL_MSG_WORDS))
		return -EINVAL;
	tx = kmalloc(sizeof(*tx), GFP_KERNEL | __GFP_NOFAIL);
	tx->msg = *msg;
	spin_lock_irq(&chan->lock);
	full = chan->nr_tx == NTBL_CHAN_TXQ_MAX;
	if (!full) {
		list_add_tail(&tx->node, &chan->txq);
		chan->nr_tx++;
	}
	spin_unlock_irq(&chan->lock);
	if (full) {
		kfree(tx);
		dev_warn_ratelimited(&peer->ntb->dev,
				     "node %d leaves %d messages untaken: dropped one; check the link to it\n",
				     peer->port, NTBL_CHAN_TXQ_MAX);
		return -ENOBUFS;
	}
	queue_work(system_unbound_wq, &chan->tx_work);
	return 0;
}

/**
 * ntbl_chan_room() - how many more messages ntbl_chan_send() takes for a peer
 * @peer: the peer
 *
 * Context: process.
 * Return: the room left before NTBL_CHAN_TXQ_MAX.
 */
unsigned int ntbl_chan_room(struct ntbl_peer *peer)
{
	unsigned int room;

	spin_lock_irq(&peer->chan.lock);
	room = NTBL_CHAN_TXQ_MAX - peer->chan.nr_tx;
	spin_unlock_irq(&peer->chan.lock);
	return room;
}

/* Take one frame a peer sent; true if a message is complete. */
static bool rx_frame(struct ntbl_peer *peer, const u32 *w)
{
	struct ntbl_chan *chan = &peer->chan;
	unsigned int frag = HDR_FRAG(w[0]), len = HDR_LEN(w[0]);
	int i;

	/*
	 * A first fragment always starts a message: a sender whose link was
	 * reset abandons the message it was in, and its next one begins anew.
	 */
	if (frag >= NTBL_MSG_FRAGS || len > 3 ||
	    (frag && frag != chan->rx_frag)) {
		chan->rx_frag = 0;	/* out of step: drop the message */
		return false;
	}
	if (frag == 0) {
		chan->rx.type = HDR_TYPE(w[0]);
		chan->rx.len = 0;
	} else if (chan->rx.type != HDR_TYPE(w[0])) {
		chan->rx_frag = 0;
		return false;
	}
	for (i = 0; i < len; i++)
		chan->rx.w[chan->rx.len++] = w[1 + i];
	chan->rx_frag = w[0] & HDR_LAST ? 0 : frag + 1;
	return w[0] & HDR_LAST;
}

/* Replies nobody waits for any more (the waiter timed out) are dropped. */
#define MAX_REPLIES	8

static void add_reply(struct ntbl_chan *chan, struct ntbl_rxmsg *msg)
{
	struct ntbl_rxmsg *old;

	lockdep_assert_held(&chan->lock);
	if (chan->nr_replies == MAX_REPLIES) {
		old = list_first_entry(&chan->replies, struct ntbl_rxmsg, node);
		list_del(&old->node);
		kfree(old);
		chan->nr_replies--;
	}
	list_add_tail(&msg->node, &chan->replies);
	chan->nr_replies++;
}

/**
 * ntbl_chan_frame() - take a frame a peer sent
 * @peer: the sender
 * @w: the frame's four words
 *
 * Context: any but under a raw spinlock (it takes the channel's lock and
 * allocates); does not sleep.
 */
void ntbl_chan_frame(struct ntbl_peer *peer, const u32 *w)
{
	struct ntbl_adapter *adapter = peer->adapter;
	struct ntbl_chan *chan = &peer->chan;
	struct ntbl_rxmsg *msg;
	bool done = false, reply = false;
	unsigned long flags;

	if (csum(w))
		return;		/* corrupted: the peer sends it again */

	/* Unacknowledged, the frame comes again if this fails. */
	msg = kmalloc(sizeof(*msg), GFP_ATOMIC);
	if (!msg)
		return;

	spin_lock_irqsave(&chan->lock, flags);
	if (chan->nr_rx == NTBL_CHAN_RXQ_MAX &&
	    !(HDR_TYPE(w[0]) & NTBL_MSG_REPLY)) {
		/* Unacknowledged: the peer sends it again, once we caught up. */
		spin_unlock_irqrestore(&chan->lock, flags);
		kfree(msg);
		return;
	}
	if (chan->rx_seq != HDR_SEQ(w[0])) {
		chan->rx_seq = HDR_SEQ(w[0]);
		done = rx_frame(peer, w);
		if (done) {
			msg->peer = peer;
			msg->msg = chan->rx;
			reply = msg->msg.type & NTBL_MSG_REPLY;
			if (reply) {
				add_reply(chan, msg);
			} else {
				list_add_tail(&msg->node, &chan->rxq);
				chan->nr_rx++;
			}
		}
	}
	spin_unlock_irqrestore(&chan->lock, flags);
	if (!done)
		kfree(msg);

	/* New, duplicate or fragment: acknowledge it all the same. */
	peer->adapter->xport->send_ack(peer, HDR_SEQ(w[0]));
	if (done && reply)
		wake_up_all(&chan->replyq);
	else if (done)
		queue_work(adapter->wq, &adapter->rx_work);
}

/**
 * ntbl_chan_acked() - a peer acknowledged a frame
 * @peer: the peer
 * @seq: the frame's sequence number
 *
 * Context: any but under a raw spinlock (it takes the channel's lock and
 * wakes); does not sleep.
 */
void ntbl_chan_acked(struct ntbl_peer *peer, u8 seq)
{
	struct ntbl_chan *chan = &peer->chan;
	unsigned long flags;

	spin_lock_irqsave(&chan->lock, flags);
	chan->acked = seq;
	spin_unlock_irqrestore(&chan->lock, flags);
	wake_up_all(&chan->ackq);
}

/**
 * ntbl_chan_next() - take the next message any peer sent
 * @adapter: the adapter
 * @peer: set to the sender
 * @msg: filled with the message
 *
 * Context: the adapter's work queue.
 * Return: false when no message is waiting.
 */
bool ntbl_chan_next(struct ntbl_adapter *adapter, struct ntbl_peer **peer,
		    struct ntbl_msg *msg)
{
	struct ntbl_rxmsg *rxm = NULL;
	int i, n = adapter->npeers;

	/* Round robin: no peer's messages wait behind another's. */
	for (i = 0; i < n && !rxm; i++) {
		int pidx = (adapter->rx_next + i) % n;
		struct ntbl_chan *chan = &adapter->peers[pidx].chan;

		spin_lock_irq(&chan->lock);
		rxm = list_first_entry_or_null(&chan->rxq, struct ntbl_rxmsg,
					       node);
		if (rxm) {
			list_del(&rxm->node);
			chan->nr_rx--;
			adapter->rx_next = pidx + 1;
		}
		spin_unlock_irq(&chan->lock);
	}
	if (!rxm)
		return false;
	*peer = rxm->peer;
	*msg = rxm->msg;
	kfree(rxm);
	return true;
}

/**
 * ntbl_chan_epoch() - the channel's current epoch, for ntbl_chan_wait_reply()
 * @peer: the peer
 *
 * Return: the epoch, which every reset changes.
 */
unsigned int ntbl_chan_epoch(struct ntbl_peer *peer)
{
	return READ_ONCE(peer->chan.epoch);
}

static bool take_reply(struct ntbl_chan *chan, u8 type, u32 tag,
		       struct ntbl_msg *reply)
{
	struct ntbl_rxmsg *msg;
	bool found = false;

	spin_lock_irq(&chan->lock);
	list_for_each_entry(msg, &chan->replies, node) {
		if (msg->msg.type == type && msg->msg.len &&
		    msg->msg.w[0] == tag) {
			*reply = msg->msg;
			list_del(&msg->node);
			chan->nr_replies--;
			kfree(msg);
			found = true;
			break;
		}
	}
	spin_unlock_irq(&chan->lock);
	return found;
}

/* Long enough for a lender that claims, maps and resets a device. */
#define REPLY_TIMEOUT	(10 * HZ)

/**
 * ntbl_chan_wait_reply() - wait for a peer's reply to a request of ours
 * @peer: the peer
 * @epoch: ntbl_chan_epoch() from before the request was sent
 * @type: the reply's type
 * @tag: the request's tag, the reply's first word
 * @reply: filled with the reply
 *
 * Context: process, without &ntbl_adapter.lock: replies come in interrupt
 * context and need nothing of ours.
 * Return: 0, -ENOLINK if the link went down, -ETIMEDOUT.
 */
int ntbl_chan_wait_reply(struct ntbl_peer *peer, unsigned int epoch, u8 type,
			 u32 tag, struct ntbl_msg *reply)
{
	struct ntbl_chan *chan = &peer->chan;
	bool found = false;

	wait_event_timeout(chan->replyq,
			   (found = take_reply(chan, type, tag, reply)) ||
			   READ_ONCE(chan->epoch) != epoch, REPLY_TIMEOUT);
	if (found)
		return 0;
	return READ_ONCE(chan->epoch) != epoch ? -ENOLINK : -ETIMEDOUT;
}
