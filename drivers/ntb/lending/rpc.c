// SPDX-License-Identifier: GPL-2.0
/*
 * NTB device lending: config space requests of a borrower to its lender.
 *
 * The PCI core calls config accessors in any context, so a borrower's
 * request cannot wait for a work queue or sleep: it sends the request
 * (header, value, check) through the transport, which the lender takes in
 * its interrupt, and polls for the answer with its tag (xport.h:
 * &ntbl_xport_ops.rpc_answer). The lender answers from that interrupt
 * (ntbl_lent_cfg_read() and ntbl_lent_cfg_write() take only a raw
 * spinlock). A lost or corrupted request or answer is asked again, and
 * the lender answers a repeated tag from its last answer instead of doing
 * it twice. The borrower forgets the last answer before asking, and never
 * uses tag 0, so an answer left from before a reload cannot match. This
 * file touches no hardware.
 *
 * Request header: tag[31:24] index[23:16] write[15] size[14:12] where[11:0].
 * Answer header: tag[31:24] fresh[8] errno[7:0]. The check word of both is
 * rpc_check(header, value). A write's answer with fresh set carries the
 * whole dword as the write left it, which the borrower would otherwise
 * ask for.
 *
 * A caller with interrupts disabled (user config reads run under the PCI
 * core's raw pci_lock) may share its CPU with the lender's interrupt on
 * ntb_sim, where both hosts are one kernel: it reads from the borrower's
 * copy of the config space, which ntbl_rpc_prefetch() fills after the
 * device is added and the answer of every write refreshes, and asks
 * (bounded by the timeout) only for a dword the copy lacks.
 */

#include <linux/delay.h>
#include <linux/ktime.h>
#include <linux/ntb.h>

#include "ntb_lending.h"
#include "xport.h"

/*
 * A lender answers in microseconds; these bound a link that failed without
 * the link event yet (a lost link fails requests at once). On a loaded
 * host, ntb_sim's interrupts can take tens of milliseconds: a caller that
 * has its interrupts on waits up to a second, one with them off 60 ms.
 */
#define RPC_TRIES	10
#define RPC_TRIES_ATOMIC 3
#define RPC_TIMEOUT_US	100000
#define RPC_TIMEOUT_ATOMIC_US 20000

#define RPC_WRITE	BIT(15)
#define RPC_FRESH	BIT(8)

/*
 * A read of size RPC_SPAN asks which of the RPC_SPAN_DWORDS dwords from
 * @where (aligned to the span) differ from the request's value; one of
 * size RPC_SPANS, which of the RPC_SPANS_RUNS spans from @where (aligned
 * to them: 1 KiB) hold a dword that does. The answer has bit i set for
 * each. The lender reads up to 256 dwords for one, in its interrupt, and
 * answers -EBUSY past NTBL_RPC_SPANS_PER_BORROW of them.
 */
#define RPC_SPAN	0
#define RPC_SPANS	7
#define RPC_SPAN_DWORDS	32
#define RPC_SPANS_RUNS	8

/* How many bits a span request's answer has, and dwords each stands for. */
static unsigned int span_bits(unsigned int size)
{
	return size == RPC_SPANS ? RPC_SPANS_RUNS : RPC_SPAN_DWORDS;
}

static unsigned int span_unit(unsigned int size)
{
	return size == RPC_SPANS ? RPC_SPAN_DWORDS : 1;
}

static u32 rpc_check(u32 hdr, u32 val)
{
	return ~(hdr * 0x9e3779b1U) ^ val;
}

/* Send a request (or, from the lender, an answer) to @peer. */
static int rpc_send(struct ntbl_peer *peer, bool answer, u32 hdr, u32 val)
{
	u32 w[NTBL_RPC_WORDS] = { hdr, val, rpc_check(hdr, val) };

	return peer->adapter->xport->send_rpc(peer, answer, w);
}

/* The last answer of @peer, if it came whole. */
static bool rpc_answer(struct ntbl_peer *peer, u32 *hdr, u32 *val)
{
	u32 w[NTBL_RPC_WORDS];

	peer->adapter->xport->rpc_answer(peer, w);
	*hdr = w[0];
	*val = w[1];
	return w[2] == rpc_check(*hdr, *val);
}

/* --- the borrower's side -------------------------------------------------- */

/*
 * Whether no answer will come from @peer: the borrow ended, its lender is
 * lost, or the link to it went (told by the link event at once, before
 * the adapter's work marks the borrow).
 */
static bool rpc_hopeless(struct ntbl_borrow *borrow, struct ntbl_peer *peer)
{
	enum ntbl_borrow_state state = READ_ONCE(borrow->state);

	return (state != NTBL_BORROW_BORROWED &&
		state != NTBL_BORROW_STARTING) ||
	       READ_ONCE(borrow->end) == NTBL_BORROW_LENDER_LOST ||
	       READ_ONCE(peer->link_down);
}

static int rpc_call(struct ntbl_borrow *borrow, u32 hdr, u32 *val, bool atomic,
		    bool *fresh)
{
	struct ntbl_peer *peer = borrow->peer;
	struct ntb_dev *ntb = peer->ntb;
	int tries = atomic ? RPC_TRIES_ATOMIC : RPC_TRIES;
	u32 rhdr, rval;
	ktime_t end;
	int try;

	/* An answer left from before (a reload, a reset) must not match. */
	peer->adapter->xport->rpc_forget(peer);
	for (try = 0; try < tries; try++) {
		rpc_send(peer, false, hdr, *val);
		end = ktime_add_us(ktime_get(), atomic ? RPC_TIMEOUT_ATOMIC_US :
						     RPC_TIMEOUT_US);
		do {
			if (rpc_hopeless(borrow, peer))
				return -ENOLINK;
			if (rpc_answer(peer, &rhdr, &rval) &&
			    rhdr >> 24 == hdr >> 24) {
				*val = rval;
				*fresh = rhdr & RPC_FRESH;
				return -(int)(rhdr & 0xff);
			}
			udelay(2);
		} while (ktime_before(ktime_get(), end));
	}
	dev_warn_ratelimited(&ntb->dev,
			     "node %d does not answer config requests; check the link\n",
			     peer->port);
	return -ETIMEDOUT;
}

/*
 * One request, with the peer's call_lock held. @fresh: a write's answer
 * carries the dword it left, in @val.
 */
static int call(struct ntbl_borrow *borrow, bool write, unsigned int where,
		unsigned int size, u32 *val, bool atomic, bool *fresh)
{
	struct ntbl_peer *peer = borrow->peer;
	u32 hdr;

	/*
	 * A read's value word is 0 (a span's, its pattern), never what the
	 * caller's variable held: the copy's reads pass one unset or left
	 * from the dword before, which would show the lender this host's
	 * stack.
	 */
	if (!write && size != RPC_SPAN && size != RPC_SPANS)
		*val = 0;
	*fresh = false;
	borrow->requests++;
	/* Tag 0 never: it is what a cleared answer holds. */
	peer->rpc_tag = peer->rpc_tag % 255 + 1;
	hdr = (u32)peer->rpc_tag << 24 | borrow->index << 16 |
	      (write ? RPC_WRITE : 0) | size << 12 | where;
	return rpc_call(borrow, hdr, val, atomic, fresh);
}

/*
 * Put @val, the lender's answer for dword @dw, in the copy but for its
 * read-only bytes, which stay as the copy had them: a device the lender
 * cannot reach for a moment (a recovery, a link down) reads all ones.
 */
static void copy_store(struct ntbl_borrow *borrow, unsigned int dw, u32 val)
{
	u32 keep = 0;
	int b;

	for (b = 0; b < 4; b++)
		if (borrow->cfg_ro[dw] & BIT(b))
			keep |= 0xffU << (8 * b);
	WRITE_ONCE(borrow->cfg[dw], (val & ~keep) | (borrow->cfg[dw] & keep));
	set_bit(dw, borrow->cfg_valid);
}

/*
 * One request at a time per lender. Callers with interrupts on spin with
 * them on, so that the lender's interrupt is served even on this CPU;
 * callers with them off only try the lock, so that they never wait for a
 * holder they interrupted.
 */
static int rpc(struct ntbl_borrow *borrow, bool write, unsigned int where,
	       unsigned int size, u32 *val)
{
	struct ntbl_peer *peer = borrow->peer;
	unsigned int dw = where / 4;
	bool atomic = irqs_disabled();
	bool fresh;
	int ret;

	if (atomic) {
		if (!write && test_bit(dw, borrow->cfg_valid)) {
			*val = READ_ONCE(borrow->cfg[dw]);
			return 0;
		}
		if (!raw_spin_trylock(&peer->call_lock))
			return -EBUSY;
	} else {
		raw_spin_lock_bh(&peer->call_lock);
	}
	/* A write's answer has the dword, for callers that cannot ask. */
	ret = call(borrow, write, where, size, val, atomic, &fresh);
	if (!ret && (!write || fresh))
		copy_store(borrow, dw, *val);
	else if (write)
		clear_bit(dw, borrow->cfg_valid);
	/* The lender no longer answers for the device: nor does the copy. */
	if (ret == -ENODEV)
		WRITE_ONCE(borrow->refused, true);
	if (atomic)
		raw_spin_unlock(&peer->call_lock);
	else
		raw_spin_unlock_bh(&peer->call_lock);
	return ret;
}

static int ntbl_rpc_cfg_read(void *priv, unsigned int where, unsigned int size,
			     u32 *val)
{
	struct ntbl_borrow *borrow = priv;
	unsigned int dw = where / 4;
	u8 bytes = GENMASK(where % 4 + size - 1, where % 4);
	u32 dword = 0;
	int ret;

	/*
	 * Read-only bytes from the copy while the borrow goes on. Once the
	 * lender takes the device back or is lost, or answered that it no
	 * longer has it, reads go to the lender, which no longer answers for
	 * it: the driver then sees its device gone (pci_device_is_present())
	 * rather than wait for its timeouts.
	 */
	if ((borrow->cfg_ro[dw] & bytes) == bytes &&
	    test_bit(dw, borrow->cfg_valid) &&
	    READ_ONCE(borrow->end) == NTBL_BORROW_GOES_ON &&
	    !READ_ONCE(borrow->refused) &&
	    !rpc_hopeless(borrow, borrow->peer)) {
		dword = READ_ONCE(borrow->cfg[dw]);
	} else {
		/* Whole dwords, so that the copy serves any later read. */
		ret = rpc(borrow, false, where & ~3U, 4, &dword);
		if (ret)
			return ret;
	}
	dword >>= (where & 3) * 8;
	*val = size == 4 ? dword : dword & (BIT(size * 8) - 1);
	return 0;
}

static int ntbl_rpc_cfg_write(void *priv, unsigned int where, unsigned int size,
			      u32 val)
{
	return rpc(priv, true, where, size, &val);
}

/*
 * Ask which dwords (@size RPC_SPAN) or spans (RPC_SPANS) from @dw hold
 * one other than @pattern, and put @pattern in the copy for the dwords
 * of the others that it lacks; clears their bits in @ask. Under
 * call_lock, so that no write's answer comes between the lender's answer
 * and the copy.
 */
static int rpc_span(struct ntbl_borrow *borrow, unsigned int dw,
		    unsigned int size, u32 pattern, unsigned long *ask)
{
	struct ntbl_peer *peer = borrow->peer;
	unsigned int unit = span_unit(size), i, d;
	u32 differ = pattern;
	bool fresh;
	int ret;

	raw_spin_lock_bh(&peer->call_lock);
	ret = call(borrow, false, dw * 4, size, &differ, false, &fresh);
	if (!ret) {
		for (i = 0; i < span_bits(size); i++) {
			if (differ & BIT(i))
				continue;
			for (d = dw + i * unit; d < dw + (i + 1) * unit; d++) {
				if (test_bit(d, borrow->cfg_valid))
					continue;
				WRITE_ONCE(borrow->cfg[d], pattern);
				set_bit(d, borrow->cfg_valid);
			}
		}
		*ask &= differ;
	}
	raw_spin_unlock_bh(&peer->call_lock);
	return ret;
}

/*
 * Which of @ask's dwords or spans from @dw (as rpc_span()) the copy must
 * still ask for: most read 0, or all ones beyond a conventional
 * function's 256 bytes.
 */
static void spans_to_ask(struct ntbl_borrow *borrow, unsigned int dw,
			 unsigned int size, unsigned long *ask)
{
	if (!rpc_span(borrow, dw, size, 0, ask) &&
	    hweight_long(*ask) > span_bits(size) / 2)
		rpc_span(borrow, dw, size, ~0U, ask);
}

/*
 * Bytes @bytes of the dword at @where are read-only, if the copy has the
 * dword and it lies before @end (the end of its capability).
 */
static void set_ro(struct ntbl_borrow *borrow, unsigned int where,
		   unsigned int end, u8 bytes)
{
	unsigned int dw = where / 4;

	if (where + 4 <= end && dw < ARRAY_SIZE(borrow->cfg) &&
	    test_bit(dw, borrow->cfg_valid))
		borrow->cfg_ro[dw] |= bytes;
}

/* The PCI Express capability at @at, ending at @end (PCIe r6.0 7.5.3). */
static void mark_exp_ro(struct ntbl_borrow *borrow, unsigned int at,
			unsigned int end)
{
	u16 flags = borrow->cfg[at / 4] >> 16;
	bool v2 = (flags & PCI_EXP_FLAGS_VERS) > 1;

	/* Not the Interrupt Message Number, which MSI or MSI-X changes. */
	set_ro(borrow, at, end, 0x7);
	/* Not the Captured Slot Power Limit, which the lender's port sets. */
	set_ro(borrow, at + PCI_EXP_DEVCAP, end, 0x3);
	/* A version 1 integrated endpoint's capability ends before it. */
	if (v2 || (flags & PCI_EXP_FLAGS_TYPE) >> 4 != PCI_EXP_TYPE_RC_END)
		set_ro(borrow, at + PCI_EXP_LNKCAP, end, 0xf);
	if (v2) {
		set_ro(borrow, at + PCI_EXP_DEVCAP2, end, 0xf);
		set_ro(borrow, at + PCI_EXP_LNKCAP2, end, 0xf);
	}
}

/*
 * Mark the registers of the copy that the PCI spec makes read-only and
 * that nothing but the device's own firmware would change: the IDs,
 * class, header type, interrupt pin, capability pointer and every
 * capability's ID and next pointer; power management's capabilities,
 * PCI Express's (but its interrupt message number), the fixed parts of
 * its device capabilities, its link capabilities and, from version 2,
 * its second device and link capabilities; MSI-X's table and PBA
 * locations; every extended capability's header. Nothing past the end
 * of a capability (the next one up, or the end of the space). These are
 * what the scan, the driver's probe and lspci read again and again.
 * The lists are walked in the copy, bounded, as a lender may lie.
 */
static void mark_ro(struct ntbl_borrow *borrow)
{
	const u32 *cfg = borrow->cfg;
	unsigned int at, end, n = 0, i, ttl;
	u16 pos[48];
	u32 hdr;

	if (!test_bit(PCI_HEADER_TYPE / 4, borrow->cfg_valid) ||
	    (cfg[PCI_HEADER_TYPE / 4] >> 16 & PCI_HEADER_TYPE_MASK) !=
	    PCI_HEADER_TYPE_NORMAL)
		return;
	end = PCI_STD_HEADER_SIZEOF;
	set_ro(borrow, PCI_VENDOR_ID, end, 0xf);
	set_ro(borrow, PCI_CLASS_REVISION, end, 0xf);
	set_ro(borrow, PCI_HEADER_TYPE, end, BIT(2));
	set_ro(borrow, PCI_SUBSYSTEM_VENDOR_ID, end, 0xf);
	set_ro(borrow, PCI_CAPABILITY_LIST, end, BIT(0));
	set_ro(borrow, PCI_INTERRUPT_LINE, end, BIT(1));

	/* Every capability's place first, so that each one's end is known. */
	at = cfg[PCI_CAPABILITY_LIST / 4] & 0xfc;
	for (ttl = ARRAY_SIZE(pos); at >= PCI_STD_HEADER_SIZEOF && ttl; ttl--) {
		if (!test_bit(at / 4, borrow->cfg_valid))
			break;
		pos[n++] = at;
		at = cfg[at / 4] >> 8 & 0xfc;
	}
	for (i = 0; i < n; i++) {
		at = pos[i];
		end = ntbl_cap_end(pos, n, at, PCI_CFG_SPACE_SIZE);
		hdr = cfg[at / 4];
		switch (hdr & 0xff) {
		case PCI_CAP_ID_PM:
			set_ro(borrow, at, end, 0xf);
			break;
		case PCI_CAP_ID_MSIX:
			set_ro(borrow, at, end, 0x3);
			set_ro(borrow, at + PCI_MSIX_TABLE, end, 0xf);
			set_ro(borrow, at + PCI_MSIX_PBA, end, 0xf);
			break;
		case PCI_CAP_ID_EXP:
			mark_exp_ro(borrow, at, end);
			break;
		default:
			set_ro(borrow, at, end, 0x3);
		}
	}

	/* The first header is read-only even when there is none (0). */
	at = PCI_CFG_SPACE_SIZE;
	for (ttl = (PCI_CFG_SPACE_EXP_SIZE - PCI_CFG_SPACE_SIZE) / 8; ttl; ttl--) {
		if (!test_bit(at / 4, borrow->cfg_valid))
			break;
		set_ro(borrow, at, PCI_CFG_SPACE_EXP_SIZE, 0xf);
		hdr = cfg[at / 4];
		if (!hdr || hdr == ~0U)
			break;
		at = PCI_EXT_CAP_NEXT(hdr);
		if (at < PCI_CFG_SPACE_SIZE)
			break;
	}
}

/**
 * ntbl_rpc_prefetch() - copy a borrowed device's whole config space
 * @borrow: the borrow, attached
 *
 * Callers with interrupts off (user config reads) are answered from the
 * copy; on ntb_sim the lender's interrupt may be due on their very CPU.
 * Most dwords read 0 (the extended space), or all ones (beyond a
 * conventional function's 256 bytes): one request per KiB finds the spans
 * of 32 that hold nothing else, one per span left the dwords that do,
 * and only those are asked one by one; for a function with no extended
 * capability, about 20 requests in all. A lender that does not know
 * spans has each dword asked. Stops at the first failure (a lost link).
 * Then marks the read-only registers, which the copy serves.
 *
 * Context: process, with interrupts on; sleeps.
 */
void ntbl_rpc_prefetch(struct ntbl_borrow *borrow)
{
	unsigned int kib, dw, s, i;
	unsigned long spans, ask;
	u32 val;

	memset(borrow->cfg_ro, 0, sizeof(borrow->cfg_ro));
	for (kib = 0; kib < ARRAY_SIZE(borrow->cfg);
	     kib += RPC_SPANS_RUNS * RPC_SPAN_DWORDS) {
		spans = GENMASK(RPC_SPANS_RUNS - 1, 0);
		spans_to_ask(borrow, kib, RPC_SPANS, &spans);
		for_each_set_bit(s, &spans, RPC_SPANS_RUNS) {
			dw = kib + s * RPC_SPAN_DWORDS;
			ask = GENMASK(RPC_SPAN_DWORDS - 1, 0);
			spans_to_ask(borrow, dw, RPC_SPAN, &ask);
			for_each_set_bit(i, &ask, RPC_SPAN_DWORDS)
				if (!test_bit(dw + i, borrow->cfg_valid) &&
				    rpc(borrow, false, (dw + i) * 4, 4, &val))
					goto out;
			cond_resched();
		}
	}
out:
	mark_ro(borrow);
}

/* The virtual bus's config access: a request to the lender. */
const struct ntbl_vbus_ops ntbl_rpc_ops = {
	.cfg_read = ntbl_rpc_cfg_read,
	.cfg_write = ntbl_rpc_cfg_write,
};

/* --- the lender's side ---------------------------------------------------- */

/**
 * ntbl_rpc_reset() - forget the last answer, for a new borrower
 * @peer: the peer
 */
void ntbl_rpc_reset(struct ntbl_peer *peer)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&peer->serve_lock, flags);
	peer->rpc_last[0] = -1;
	raw_spin_unlock_irqrestore(&peer->serve_lock, flags);
}

/*
 * Which dwords (@size RPC_SPAN) or spans (RPC_SPANS) from @where hold one
 * other than *@val: a span's reads stop at its first such dword.
 */
static int serve_span(struct ntbl_lent *lent, unsigned int where,
		      unsigned int size, u32 *val)
{
	unsigned int unit = span_unit(size), i, d;
	u32 differ = 0, dword;
	int ret;

	if (!IS_ALIGNED(where, span_bits(size) * unit * 4))
		return -EINVAL;
	for (i = 0; i < span_bits(size); i++) {
		for (d = 0; d < unit; d++) {
			ret = ntbl_lent_cfg_read(lent, where + 4 * (i * unit + d),
						 4, &dword);
			if (ret)
				return ret;
			if (dword != *val) {
				differ |= BIT(i);
				break;
			}
		}
	}
	*val = differ;
	return 0;
}

/* A write's answer has the dword it left in @val, if it can be read. */
static int serve(struct ntbl_peer *peer, u32 hdr, u32 *val, bool *fresh)
{
	struct ntbl_lend *lend = peer->lent[(hdr >> 16) & 0xff];
	unsigned int where = hdr & 0xfff, size = (hdr >> 12) & 7;
	int ret;

	*fresh = false;
	if (!lend)
		return -ENODEV;
	if (hdr & RPC_WRITE) {
		ret = ntbl_lent_cfg_write(lend->lent, where, size, *val);
		*fresh = !ret && !ntbl_lent_cfg_read(lend->lent, where & ~3U,
						     4, val);
		return ret;
	}
	if (size == RPC_SPANS) {
		if (!lend->spans_left)
			return -EBUSY;
		lend->spans_left--;
	}
	if (size == RPC_SPAN || size == RPC_SPANS)
		return serve_span(lend->lent, where, size, val);
	return ntbl_lent_cfg_read(lend->lent, where, size, val);
}

/**
 * ntbl_rpc_request() - answer a config request that came whole
 * @peer: the borrower
 * @w: header, value and check, untrusted
 *
 * Context: any; does not sleep.
 */
void ntbl_rpc_request(struct ntbl_peer *peer, const u32 *w)
{
	unsigned long flags;
	u32 hdr = w[0], val = w[1];
	bool fresh;
	int ret;

	if (w[2] != rpc_check(hdr, val))
		return;		/* corrupted: the borrower asks again */

	raw_spin_lock_irqsave(&peer->serve_lock, flags);
	if (peer->rpc_last[0] != (int)(hdr >> 24)) {
		ret = serve(peer, hdr, &val, &fresh);
		peer->rpc_last[0] = hdr >> 24;
		peer->rpc_last[1] = min(-ret, 0xff) | (fresh ? RPC_FRESH : 0);
		peer->rpc_last[2] = val;
	}
	hdr = (u32)peer->rpc_last[0] << 24 | peer->rpc_last[1];
	val = peer->rpc_last[2];
	raw_spin_unlock_irqrestore(&peer->serve_lock, flags);
	rpc_send(peer, true, hdr, val);
}
