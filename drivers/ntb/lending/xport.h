/* SPDX-License-Identifier: GPL-2.0 */
/*
 * NTB device lending: the transport interface.
 *
 * A transport carries the control channel's frames and acknowledgments
 * and the config requests of a borrower, in whatever registers an NTB
 * driver has: scratchpads and doorbells (xport_spad.c, two-port adapters)
 * or message registers (xport_msgreg.c, switches and adapters without
 * enough scratchpads). The channel (chan.c) and the config requests
 * (rpc.c) sit above it and touch no hardware; nothing above them knows
 * which transport runs. A third transport is a file that fills in
 * &struct ntbl_xport_ops and a line in ntbl_xports[] (core.c).
 *
 * Which transport runs is one question, how the fabric is built another:
 * whether windows are translated by the sender and doorbells are shared
 * by every port is &ntbl_adapter.switched, read from the NTB driver.
 *
 * What a transport receives it hands up, in any context and without
 * sleeping, to ntbl_chan_frame(), ntbl_chan_acked() and ntbl_rpc_request();
 * the first two take ordinary spinlocks, allocate and wake, so never under
 * a raw spinlock (a config request's poll, see @rpc_answer).
 */
#ifndef _NTB_LENDING_XPORT_H
#define _NTB_LENDING_XPORT_H

#include <linux/types.h>

struct ntbl_adapter;
struct ntbl_peer;
struct ntb_dev;

/* Words of a channel frame: a header and three payload words (chan.c). */
#define NTBL_FRAME_WORDS		4

/* Words of a config request or answer: header, value, check (rpc.c). */
#define NTBL_RPC_WORDS		3

/**
 * struct ntbl_xport_db - doorbell bits a transport uses, for the doorbells
 *	attribute
 * @bits: the bits
 * @use: what for, one word
 */
struct ntbl_xport_db {
	u64 bits;
	const char *use;
};

/**
 * struct ntbl_xport_ops - a transport
 * @name: its name, for messages
 * @usable: whether @ntb has what it needs (context: probe)
 * @needs: one phrase saying what it needs, for the line that declines an
 *	adapter none can use
 * @bind: set up on an adapter whose NTB device and peers were just set,
 *	before its context is set; may set &ntbl_adapter.xport_priv; 0 or a
 *	negative errno; optional
 * @start: take what comes in, once the context is set and before the link
 *	is enabled; optional
 * @unbind: undo @bind and @start, once nothing can reach the transport
 *	any more: the context is cleared, the channels' work is cancelled,
 *	no borrowed device is left, and &ntbl_adapter.ntb is NULL, which the
 *	adapter's work checks; optional
 * @link_event: the link to some peer changed (context: the adapter's
 *	work); optional
 * @dbs: the doorbell bits it uses, each with its use, ending with 0 bits;
 *	the other bits are the borrowed devices' vectors
 * @db_event: some of its doorbell bits rang (context: interrupt); needed
 *	if it uses any
 * @msg_event: a message register interrupt (context: interrupt); optional
 * @borrow_check: whether this host can borrow from @peer through it,
 *	given whether the adapter has doorbell bits left for the device's
 *	vectors (@vectors); 0, or -EOPNOTSUPP with the line that says what
 *	is missing
 * @send_frame: put a frame in @peer's registers; it is acknowledged with
 *	ntbl_chan_acked() or sent again (context: process, may sleep)
 * @send_ack: acknowledge the frame @seq of @peer (context: any, no sleep)
 * @send_rpc: send a config request (@answer false) or its answer to
 *	@peer (context: any, no sleep); 0 or a negative errno
 * @rpc_answer: the words of @peer's last config answer, taking what came
 *	in if the transport must poll (context: any, no sleep, maybe under
 *	raw spinlocks: it hands up config requests only); rpc.c checks them
 * @rpc_forget: drop @peer's last config answer, so that it cannot match
 *	a request to come
 */
struct ntbl_xport_ops {
	const char *name;
	bool (*usable)(struct ntb_dev *ntb);
	const char *needs;
	int (*bind)(struct ntbl_adapter *adapter);
	void (*start)(struct ntbl_adapter *adapter);
	void (*unbind)(struct ntbl_adapter *adapter);
	void (*link_event)(struct ntbl_adapter *adapter);
	const struct ntbl_xport_db *dbs;
	void (*db_event)(struct ntbl_adapter *adapter, u64 db);
	void (*msg_event)(struct ntbl_adapter *adapter);
	int (*borrow_check)(struct ntbl_peer *peer, const char *name,
			    bool vectors);
	void (*send_frame)(struct ntbl_peer *peer, const u32 *w);
	void (*send_ack)(struct ntbl_peer *peer, u8 seq);
	int (*send_rpc)(struct ntbl_peer *peer, bool answer, const u32 *w);
	void (*rpc_answer)(struct ntbl_peer *peer, u32 *w);
	void (*rpc_forget)(struct ntbl_peer *peer);
};

extern const struct ntbl_xport_ops ntbl_xport_spad;
extern const struct ntbl_xport_ops ntbl_xport_msgreg;

/* The doorbell bits a transport uses, all of them. */
static inline u64 ntbl_xport_db_bits(const struct ntbl_xport_ops *xport)
{
	const struct ntbl_xport_db *db;
	u64 bits = 0;

	for (db = xport->dbs; db->bits; db++)
		bits |= db->bits;
	return bits;
}

/* What a transport hands up. */
void ntbl_chan_frame(struct ntbl_peer *peer, const u32 *w);
void ntbl_chan_acked(struct ntbl_peer *peer, u8 seq);
void ntbl_rpc_request(struct ntbl_peer *peer, const u32 *w);

#endif /* _NTB_LENDING_XPORT_H */
