// SPDX-License-Identifier: GPL-2.0
/*
 * NTB device lending: the scratchpad transport, for two-port adapters.
 *
 * Every two-port NTB driver has scratchpads and doorbells. A channel frame
 * is written to the peer's scratchpads SPAD_FRAME..+3 and announced with
 * doorbell DB_FRAME; the peer writes the frame's sequence number to our
 * SPAD_ACK and rings DB_ACK. A config request is written to the lender's
 * SPAD_RPC_REQ..+2 and announced with DB_RPC; the answer goes to the
 * borrower's SPAD_RPC_RSP..+2, which the borrower polls. Each writer puts
 * the word that makes the others valid last: a frame's header, a config
 * request's or answer's header.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ntb.h>

#include "ntb_lending.h"
#include "xport.h"

#define SPAD_FRAME	0
#define SPAD_ACK	4
#define SPADS		5
#define SPAD_RPC_REQ	5
#define SPAD_RPC_RSP	8
#define SPADS_BORROW	11

#define DB_FRAME	BIT_ULL(0)
#define DB_ACK		BIT_ULL(1)
#define DB_CTRL		(DB_FRAME | DB_ACK)
#define DB_RPC		BIT_ULL(2)
#define DB_BITS		3

static bool spad_usable(struct ntb_dev *ntb)
{
	return ntb_peer_port_count(ntb) == 1 && ntb_spad_count(ntb) >= SPADS &&
	       (ntb_db_valid_mask(ntb) & DB_CTRL) == DB_CTRL;
}

/* Payload first: the header makes the words valid. */
static void put_words(struct ntbl_peer *peer, int sidx, const u32 *w, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--)
		ntb_peer_spad_write(peer->ntb, peer->pidx, sidx + i, w[i]);
}

static void get_words(struct ntb_dev *ntb, int sidx, u32 *w, int n)
{
	int i;

	for (i = 0; i < n; i++)
		w[i] = ntb_spad_read(ntb, sidx + i);
}

static void spad_db_event(struct ntbl_adapter *adapter, u64 db)
{
	struct ntbl_peer *peer = &adapter->peers[0];
	u32 w[NTBL_FRAME_WORDS];

	if (db & DB_ACK)
		ntbl_chan_acked(peer, ntb_spad_read(adapter->ntb, SPAD_ACK));
	if (db & DB_FRAME) {
		get_words(adapter->ntb, SPAD_FRAME, w, NTBL_FRAME_WORDS);
		ntbl_chan_frame(peer, w);
	}
	if (db & DB_RPC) {
		get_words(adapter->ntb, SPAD_RPC_REQ, w, NTBL_RPC_WORDS);
		ntbl_rpc_request(peer, w);
	}
}

static int spad_borrow_check(struct ntbl_peer *peer, const char *name,
			     bool vectors)
{
	if (ntb_spad_count(peer->ntb) >= SPADS_BORROW && vectors)
		return 0;
	dev_err(&peer->ntb->dev,
		"borrows/%s: borrowing needs %d scratchpads and %d doorbell bits, the adapter has %d and %d\n",
		name, SPADS_BORROW, DB_BITS + 1, ntb_spad_count(peer->ntb),
		(int)hweight64(ntb_db_valid_mask(peer->ntb)));
	return -EOPNOTSUPP;
}

static void spad_send_frame(struct ntbl_peer *peer, const u32 *w)
{
	put_words(peer, SPAD_FRAME, w, NTBL_FRAME_WORDS);
	ntb_peer_db_set(peer->ntb, DB_FRAME);
}

static void spad_send_ack(struct ntbl_peer *peer, u8 seq)
{
	ntb_peer_spad_write(peer->ntb, peer->pidx, SPAD_ACK, seq);
	ntb_peer_db_set(peer->ntb, DB_ACK);
}

static int spad_send_rpc(struct ntbl_peer *peer, bool answer, const u32 *w)
{
	put_words(peer, answer ? SPAD_RPC_RSP : SPAD_RPC_REQ, w,
		  NTBL_RPC_WORDS);
	if (!answer)
		ntb_peer_db_set(peer->ntb, DB_RPC);
	return 0;
}

static void spad_rpc_answer(struct ntbl_peer *peer, u32 *w)
{
	get_words(peer->ntb, SPAD_RPC_RSP, w, NTBL_RPC_WORDS);
}

static void spad_rpc_forget(struct ntbl_peer *peer)
{
	ntb_spad_write(peer->ntb, SPAD_RPC_RSP, 0);
}

static const struct ntbl_xport_db spad_dbs[] = {
	{ DB_CTRL, "control" },
	{ DB_RPC, "config" },
	{ }
};

const struct ntbl_xport_ops ntbl_xport_spad = {
	.name = "scratchpads",
	.usable = spad_usable,
	.needs = __stringify(SPADS) " scratchpads and 2 doorbell bits",
	.dbs = spad_dbs,
	.db_event = spad_db_event,
	.borrow_check = spad_borrow_check,
	.send_frame = spad_send_frame,
	.send_ack = spad_send_ack,
	.send_rpc = spad_send_rpc,
	.rpc_answer = spad_rpc_answer,
	.rpc_forget = spad_rpc_forget,
};
