/* SPDX-License-Identifier: GPL-2.0 */
/*
 * NTB device lending: the layout of every protocol message, word by word,
 * and the functions that pack and unpack each one; both ends use them, so
 * that a layout is written down once. What the fields mean, and what a
 * host does with them, is Documentation/ntb-lending/protocol.rst.
 *
 * A message is a type and up to NTBL_MSG_WORDS 32-bit words, carried by the
 * channel (chan.c) in host order; a 64-bit value takes two words, low
 * first (ntbl_wire_put64(), ntbl_wire_get64()). Every reply (a type with
 * NTBL_MSG_REPLY set) starts with the tag of its request, which the channel
 * matches to its waiter (ntbl_chan_wait_reply()).
 *
 * Unpacking checks only the length: a request shorter than its layout
 * (longer ones are taken, their extra words ignored) or a reply of another
 * length than its own is refused with -EINVAL. The values stay untrusted:
 * whoever handles the message checks their ranges.
 *
 * BORROW and BORROW_BARS have words that only switches send (@switched:
 * the peers are ports of a switch, whose windows their senders translate;
 * callers pass &ntbl_adapter.switched). Both ends of a link agree on it.
 *
 * Two layouts below the messages are defined, once, where both ends of
 * them are: a channel frame's header (chan.c) and a config request and
 * its answer (rpc.c).
 */
#ifndef _NTB_LENDING_WIRE_H
#define _NTB_LENDING_WIRE_H

#include <linux/bitops.h>
#include <linux/bits.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/pci_regs.h>
#include <linux/types.h>

/*
 * Protocol version: peers speaking another version are not used. 2: a
 * lender lends several devices to one borrower, each through a window of
 * its own, which BORROW_BARS names. 3: BORROW_DB says which of the
 * BORROW's vector bits the lender gave the device: on a switch, where
 * every port rings every bit, a lender shares its own among the devices
 * it lends. 4: BORROW_BARS carries only the BARs lent, a config write's
 * answer carries the dword it left, and a span request covers spans of
 * 32 dwords (rpc.c).
 */
#define NTBL_PROTO_VERSION	4

/* A message is up to NTBL_MSG_FRAGS frames of three payload words each. */
#define NTBL_MSG_FRAGS		16
#define NTBL_MSG_WORDS		(3 * NTBL_MSG_FRAGS)

/* Replies reach their waiter from interrupt context, not the work queue. */
#define NTBL_MSG_REPLY		0x80

enum ntbl_msg_type {
	NTBL_MSG_HELLO = 1,		/* struct ntbl_wire_hello */
	NTBL_MSG_OFFER,			/* struct ntbl_wire_offer */
	NTBL_MSG_WITHDRAW,		/* index */
	NTBL_MSG_BORROW,		/* struct ntbl_wire_borrow */
	NTBL_MSG_RETURN,		/* struct ntbl_wire_req */
	NTBL_MSG_REVOKE,		/* struct ntbl_wire_req */
	/* struct ntbl_wire_bars */
	NTBL_MSG_BORROW_BARS = NTBL_MSG_REPLY | NTBL_MSG_BORROW,
	NTBL_MSG_BORROW_DB,		/* struct ntbl_wire_db */
	NTBL_MSG_RETURN_DONE,		/* struct ntbl_wire_status */
	NTBL_MSG_REVOKE_DONE,		/* struct ntbl_wire_status */
};

/**
 * struct ntbl_msg - one protocol message
 * @type: &enum ntbl_msg_type
 * @len: number of valid words in @w
 * @w: payload; every word from a peer is untrusted
 */
struct ntbl_msg {
	u8 type;
	u8 len;
	u32 w[NTBL_MSG_WORDS];
};

static inline void ntbl_wire_put64(u32 *w, u64 val)
{
	w[0] = lower_32_bits(val);
	w[1] = upper_32_bits(val);
}

static inline u64 ntbl_wire_get64(const u32 *w)
{
	return (u64)w[1] << 32 | w[0];
}

/* Start @msg anew: @type, @len words, all zero. */
static inline void ntbl_wire_init(struct ntbl_msg *msg, u8 type, u8 len)
{
	*msg = (struct ntbl_msg){ .type = type, .len = len };
}

/* --- HELLO ---------------------------------------------------------------- */

/* The peer (re)started and wants a hello back; unset in that answer. */
#define NTBL_HELLO_WANT_REPLY	BIT(0)

#define NTBL_HELLO_LEN		3

/**
 * struct ntbl_wire_hello - HELLO: w0 version, w1 node, w2 flags
 * @version: the sender's NTBL_PROTO_VERSION
 * @node: the sender's NodeId (its port number)
 * @flags: NTBL_HELLO_*
 *
 * A peer of another version may send more words; they are not read.
 */
struct ntbl_wire_hello {
	u32 version;
	u32 node;
	u32 flags;
};

static inline void ntbl_pack_hello(struct ntbl_msg *msg,
				   const struct ntbl_wire_hello *h)
{
	ntbl_wire_init(msg, NTBL_MSG_HELLO, NTBL_HELLO_LEN);
	msg->w[0] = h->version;
	msg->w[1] = h->node;
	msg->w[2] = h->flags;
}

static inline int ntbl_unpack_hello(const struct ntbl_msg *msg,
				    struct ntbl_wire_hello *h)
{
	if (msg->len < NTBL_HELLO_LEN)
		return -EINVAL;
	h->version = msg->w[0];
	h->node = msg->w[1];
	h->flags = msg->w[2];
	return 0;
}

/* --- OFFER, WITHDRAW ------------------------------------------------------ */

#define NTBL_OFFER_LEN		6

/**
 * struct ntbl_wire_offer - OFFER: w0 index, w1 state, w2 bdf,
 *	w3 vendor << 16 | device, w4 class, w5 borrower
 * @index: the lender's lend entry index
 * @state: 0 available, 1 borrowed
 * @bdf: the device's address on the lender: domain << 16 | bus << 8 | devfn
 * @vendor: PCI vendor id
 * @device: PCI device id
 * @class: PCI class code
 * @borrower: NodeId of the borrower, 0xffffffff if none
 */
struct ntbl_wire_offer {
	u32 index;
	u32 state;
	u32 bdf;
	u16 vendor;
	u16 device;
	u32 class;
	u32 borrower;
};

static inline void ntbl_pack_offer(struct ntbl_msg *msg,
				   const struct ntbl_wire_offer *o)
{
	ntbl_wire_init(msg, NTBL_MSG_OFFER, NTBL_OFFER_LEN);
	msg->w[0] = o->index;
	msg->w[1] = o->state;
	msg->w[2] = o->bdf;
	msg->w[3] = (u32)o->vendor << 16 | o->device;
	msg->w[4] = o->class;
	msg->w[5] = o->borrower;
}

static inline int ntbl_unpack_offer(const struct ntbl_msg *msg,
				    struct ntbl_wire_offer *o)
{
	if (msg->len < NTBL_OFFER_LEN)
		return -EINVAL;
	o->index = msg->w[0];
	o->state = msg->w[1];
	o->bdf = msg->w[2];
	o->vendor = msg->w[3] >> 16;
	o->device = msg->w[3] & 0xffff;
	o->class = msg->w[4];
	o->borrower = msg->w[5];
	return 0;
}

/* WITHDRAW: w0 index, the lend entry no longer offered. */
#define NTBL_WITHDRAW_LEN		1

static inline void ntbl_pack_withdraw(struct ntbl_msg *msg, u32 index)
{
	ntbl_wire_init(msg, NTBL_MSG_WITHDRAW, NTBL_WITHDRAW_LEN);
	msg->w[0] = index;
}

static inline int ntbl_unpack_withdraw(const struct ntbl_msg *msg, u32 *index)
{
	if (msg->len < NTBL_WITHDRAW_LEN)
		return -EINVAL;
	*index = msg->w[0];
	return 0;
}

/* --- BORROW and its replies BORROW_BARS, BORROW_DB ------------------------ */

/* BORROW: 4 words, and on a switch 2 more. */
#define NTBL_BORROW_LEN(switched)	((switched) ? 6 : 4)

/**
 * struct ntbl_wire_borrow - BORROW: w0 index, w1-2 vectors, w3 tag, and on
 *	a switch w4-5 mem_size
 * @index: the lender's lend entry index
 * @vectors: the doorbell bits the device's vectors may ring: on two
 *	ports the borrower's, all of which the lender gives it; on a switch
 *	the lender's share, of which it gives the device what is free
 * @tag: the request's tag, the first word of both replies
 * @mem_size: on a switch, the size of the borrower's memory, which the
 *	lender translates its window onto; 0 elsewhere
 */
struct ntbl_wire_borrow {
	u32 index;
	u64 vectors;
	u32 tag;
	u64 mem_size;
};

static inline void ntbl_pack_borrow(struct ntbl_msg *msg,
				    const struct ntbl_wire_borrow *b,
				    bool switched)
{
	ntbl_wire_init(msg, NTBL_MSG_BORROW, NTBL_BORROW_LEN(switched));
	msg->w[0] = b->index;
	ntbl_wire_put64(&msg->w[1], b->vectors);
	msg->w[3] = b->tag;
	if (switched)
		ntbl_wire_put64(&msg->w[4], b->mem_size);
}

static inline int ntbl_unpack_borrow(const struct ntbl_msg *msg,
				     struct ntbl_wire_borrow *b, bool switched)
{
	if (msg->len < NTBL_BORROW_LEN(switched))
		return -EINVAL;
	b->index = msg->w[0];
	b->vectors = ntbl_wire_get64(&msg->w[1]);
	b->tag = msg->w[3];
	b->mem_size = switched ? ntbl_wire_get64(&msg->w[4]) : 0;
	return 0;
}

/*
 * BORROW_BARS: the head of a status reply (struct ntbl_wire_status: w0 tag,
 * w1 status), then, in a reply that lends, 6 words, on a switch 2 more,
 * and 5 for each BAR lent: @nr of them. Only the BARs lent travel, as
 * each word costs the channel a frame per three.
 */
#define NTBL_BARS_WIDX			6
#define NTBL_BARS_MASK			7
#define NTBL_BARS_HEAD(switched)	((switched) ? 10 : 8)
#define NTBL_BARS_LEN(switched, nr)	(NTBL_BARS_HEAD(switched) + 5 * (nr))

/**
 * struct ntbl_wire_bar - one BAR of BORROW_BARS: w0-1 offset, w2-3 size,
 *	w4 flags
 * @offset: where it starts in the span
 * @size: its size, 0 where the index holds no lent BAR
 * @flags: NTBL_DP_BAR_*
 */
struct ntbl_wire_bar {
	u64 offset;
	u64 size;
	u32 flags;
};

/**
 * struct ntbl_wire_bars - BORROW_BARS: w0 tag, w1 status, w2-3 span_size,
 *	w4-5 mem_addr, w6 widx, w7 the mask of the BARs lent, on a switch
 *	w8-9 span_phys, then a &struct ntbl_wire_bar per BAR in the mask,
 *	lowest first
 * @tag: the BORROW's tag
 * @status: 0, or the negative errno of a refusal
 * @span_size: size of the span of the device's BARs the borrower's window
 *	leads to
 * @mem_addr: where the device sees the start of the borrower's memory
 * @bar: the BARs by index, offsets relative to the span; those not lent
 *	(size 0) do not travel, and are all 0 unpacked
 * @widx: the window that leads to the span: on two ports the lender's
 *	inbound window, the same index of the borrower's outbound ones; on a
 *	switch none (-1): the borrower translates one of its own
 * @span_phys: on a switch, the span's address on the lender, which the
 *	borrower translates its window onto; 0 elsewhere
 *
 * A refusal is only w0 and w1 (ntbl_pack_status()), unless the lender had
 * packed the rest before it failed; the borrower reads them only when
 * @status is 0 (unpack the head with ntbl_unpack_status() first).
 */
struct ntbl_wire_bars {
	u32 tag;
	s32 status;
	u64 span_size;
	u64 mem_addr;
	struct ntbl_wire_bar bar[PCI_STD_NUM_BARS];
	u32 widx;
	u64 span_phys;
};

static inline void ntbl_pack_borrow_bars(struct ntbl_msg *msg,
					 const struct ntbl_wire_bars *b,
					 bool switched)
{
	u32 *w = &msg->w[NTBL_BARS_HEAD(switched)];
	u32 mask = 0;
	int i;

	for (i = 0; i < PCI_STD_NUM_BARS; i++)
		if (b->bar[i].size)
			mask |= BIT(i);
	ntbl_wire_init(msg, NTBL_MSG_BORROW_BARS,
		       NTBL_BARS_LEN(switched, hweight32(mask)));
	msg->w[0] = b->tag;
	msg->w[1] = b->status;
	ntbl_wire_put64(&msg->w[2], b->span_size);
	ntbl_wire_put64(&msg->w[4], b->mem_addr);
	msg->w[NTBL_BARS_WIDX] = b->widx;
	msg->w[NTBL_BARS_MASK] = mask;
	if (switched)
		ntbl_wire_put64(&msg->w[NTBL_BARS_MASK + 1], b->span_phys);
	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		if (!(mask & BIT(i)))
			continue;
		ntbl_wire_put64(&w[0], b->bar[i].offset);
		ntbl_wire_put64(&w[2], b->bar[i].size);
		w[4] = b->bar[i].flags;
		w += 5;
	}
}

/* A mask naming no BAR index, or another length than it says, is refused. */
static inline int ntbl_unpack_borrow_bars(const struct ntbl_msg *msg,
					  struct ntbl_wire_bars *b,
					  bool switched)
{
	const u32 *w = &msg->w[NTBL_BARS_HEAD(switched)];
	u32 mask;
	int i;

	if (msg->len < NTBL_BARS_HEAD(switched))
		return -EINVAL;
	mask = msg->w[NTBL_BARS_MASK];
	if (mask & ~GENMASK(PCI_STD_NUM_BARS - 1, 0) ||
	    msg->len != NTBL_BARS_LEN(switched, hweight32(mask)))
		return -EINVAL;
	b->tag = msg->w[0];
	b->status = msg->w[1];
	b->span_size = ntbl_wire_get64(&msg->w[2]);
	b->mem_addr = ntbl_wire_get64(&msg->w[4]);
	b->widx = msg->w[NTBL_BARS_WIDX];
	b->span_phys = switched ?
		ntbl_wire_get64(&msg->w[NTBL_BARS_MASK + 1]) : 0;
	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		b->bar[i] = (struct ntbl_wire_bar){};
		if (!(mask & BIT(i)))
			continue;
		b->bar[i].offset = ntbl_wire_get64(&w[0]);
		b->bar[i].size = ntbl_wire_get64(&w[2]);
		b->bar[i].flags = w[4];
		w += 5;
	}
	return 0;
}

/* BORROW_DB: w0 tag, w1-2 the bits, then 3 words per bit; as many as fit. */
#define NTBL_BORROW_DB_MAX		((NTBL_MSG_WORDS - 3) / 3)
#define NTBL_BORROW_DB_LEN(nr)		(3 + 3 * (nr))

/**
 * struct ntbl_wire_db - BORROW_DB: w0 tag, w1-2 vectors, then per bit of
 *	@vectors, lowest first, w0-1 addr and w2 data
 * @tag: the BORROW's tag
 * @vectors: the doorbell bits the device rings, of those the BORROW named
 * @nr: entries in @db, the bits in @vectors
 * @db: the write that rings each bit, as the lent device sees it
 * @db.addr: the address the device writes to
 * @db.data: the value it writes
 */
struct ntbl_wire_db {
	u32 tag;
	u64 vectors;
	unsigned int nr;
	struct {
		u64 addr;
		u32 data;
	} db[NTBL_BORROW_DB_MAX];
};

static inline void ntbl_pack_borrow_db(struct ntbl_msg *msg,
				       const struct ntbl_wire_db *d)
{
	unsigned int i;

	ntbl_wire_init(msg, NTBL_MSG_BORROW_DB, NTBL_BORROW_DB_LEN(d->nr));
	msg->w[0] = d->tag;
	ntbl_wire_put64(&msg->w[1], d->vectors);
	for (i = 0; i < d->nr; i++) {
		ntbl_wire_put64(&msg->w[3 + 3 * i], d->db[i].addr);
		msg->w[5 + 3 * i] = d->db[i].data;
	}
}

/* As many entries as @vectors has bits; the caller checks the bits. */
static inline int ntbl_unpack_borrow_db(const struct ntbl_msg *msg,
					struct ntbl_wire_db *d)
{
	unsigned int i, nr;

	if (msg->len < NTBL_BORROW_DB_LEN(0))
		return -EINVAL;
	d->vectors = ntbl_wire_get64(&msg->w[1]);
	nr = hweight64(d->vectors);
	if (nr > NTBL_BORROW_DB_MAX || msg->len != NTBL_BORROW_DB_LEN(nr))
		return -EINVAL;
	d->tag = msg->w[0];
	d->nr = nr;
	for (i = 0; i < nr; i++) {
		d->db[i].addr = ntbl_wire_get64(&msg->w[3 + 3 * i]);
		d->db[i].data = msg->w[5 + 3 * i];
	}
	return 0;
}

/* --- RETURN, REVOKE and the status replies -------------------------------- */

#define NTBL_REQ_LEN		2

/**
 * struct ntbl_wire_req - RETURN and REVOKE: w0 index, w1 tag
 * @index: the lender's lend entry index
 * @tag: the request's tag, the first word of its reply
 */
struct ntbl_wire_req {
	u32 index;
	u32 tag;
};

static inline void ntbl_pack_req(struct ntbl_msg *msg, u8 type, u32 index,
				 u32 tag)
{
	ntbl_wire_init(msg, type, NTBL_REQ_LEN);
	msg->w[0] = index;
	msg->w[1] = tag;
}

static inline int ntbl_unpack_req(const struct ntbl_msg *msg,
				  struct ntbl_wire_req *r)
{
	if (msg->len < NTBL_REQ_LEN)
		return -EINVAL;
	r->index = msg->w[0];
	r->tag = msg->w[1];
	return 0;
}

static inline void ntbl_pack_return(struct ntbl_msg *msg, u32 index, u32 tag)
{
	ntbl_pack_req(msg, NTBL_MSG_RETURN, index, tag);
}

static inline int ntbl_unpack_return(const struct ntbl_msg *msg,
				     struct ntbl_wire_req *r)
{
	return ntbl_unpack_req(msg, r);
}

static inline void ntbl_pack_revoke(struct ntbl_msg *msg, u32 index, u32 tag)
{
	ntbl_pack_req(msg, NTBL_MSG_REVOKE, index, tag);
}

static inline int ntbl_unpack_revoke(const struct ntbl_msg *msg,
				     struct ntbl_wire_req *r)
{
	return ntbl_unpack_req(msg, r);
}

#define NTBL_STATUS_LEN		2

/**
 * struct ntbl_wire_status - RETURN_DONE, REVOKE_DONE, and the head of
 *	BORROW_BARS: w0 tag, w1 status
 * @tag: the request's tag
 * @status: 0 or a negative errno
 */
struct ntbl_wire_status {
	u32 tag;
	s32 status;
};

static inline void ntbl_pack_status(struct ntbl_msg *msg, u8 type, u32 tag,
				    int status)
{
	ntbl_wire_init(msg, type, NTBL_STATUS_LEN);
	msg->w[0] = tag;
	msg->w[1] = status;
}

/* The head of a reply: taken from any that is long enough. */
static inline int ntbl_unpack_status(const struct ntbl_msg *msg,
				     struct ntbl_wire_status *s)
{
	if (msg->len < NTBL_STATUS_LEN)
		return -EINVAL;
	s->tag = msg->w[0];
	s->status = msg->w[1];
	return 0;
}

#endif /* _NTB_LENDING_WIRE_H */
