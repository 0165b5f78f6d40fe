// SPDX-License-Identifier: GPL-2.0
/*
 * ntb_sim: ports, link, doorbells, scratchpads and message registers.
 *
 * Every register write that crosses the fabric lands in the target host's
 * state under the fabric lock, and the target learns of it the way
 * hardware tells it: doorbells and messages by its adapter's interrupt
 * (the edu raise register, so a device can ring a doorbell too), link
 * changes by a work item. No event is ever delivered on the caller's stack.
 */

#include <linux/io.h>
#include <linux/interrupt.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>

#include "sim.h"

int ntb_sim_peer_port(struct ntb_sim_host *host, int pidx)
{
	return pidx < host->port ? pidx : pidx + 1;
}

int ntb_sim_peer_idx(struct ntb_sim_host *host, int port)
{
	return port < host->port ? port : port - 1;
}

/**
 * ntb_sim_valid_pidx() - whether @pidx names a peer of @host
 * @host: the host
 * @pidx: peer index; the peers are every other port of the fabric
 *
 * Return: true if valid.
 */
bool ntb_sim_valid_pidx(struct ntb_sim_host *host, int pidx)
{
	return pidx >= 0 && pidx < host->fabric->nports - 1;
}

/**
 * ntb_sim_link_up() - whether the link between two ports is up
 * @fabric: the fabric
 * @a: one port
 * @b: the other port
 *
 * Up when both hosts exist, both enabled their link and no fault holds it
 * down. Caller holds &ntb_sim_fabric.lock.
 *
 * Return: true if the link is up.
 */
bool ntb_sim_link_up(struct ntb_sim_fabric *fabric, int a, int b)
{
	struct ntb_sim_host *ha = fabric->hosts[a], *hb = fabric->hosts[b];

	lockdep_assert_held(&fabric->lock);
	return ha && hb && ha->link_enabled && hb->link_enabled &&
	       !test_bit(a * NTB_SIM_MAX_PORTS + b, fabric->fault.link_down);
}

/* The peer host at @pidx if the link to it is up; caller holds the lock. */
static struct ntb_sim_host *linked_peer(struct ntb_sim_host *host, int pidx)
{
	struct ntb_sim_fabric *fabric = host->fabric;
	int port;

	if (!ntb_sim_valid_pidx(host, pidx))
		return NULL;
	port = ntb_sim_peer_port(host, pidx);
	if (!ntb_sim_link_up(fabric, host->port, port))
		return NULL;
	return fabric->hosts[port];
}

/**
 * ntb_sim_links_changed() - tell every host of a fabric to re-read its link
 * @fabric: the fabric whose link state changed
 *
 * Link events are delivered from each host's work item; hosts whose state
 * did not change get a harmless extra event, as hardware may send.
 */
void ntb_sim_links_changed(struct ntb_sim_fabric *fabric)
{
	unsigned long flags;
	int port;

	raw_spin_lock_irqsave(&fabric->lock, flags);
	for (port = 0; port < NTB_SIM_MAX_PORTS; port++)
		if (fabric->hosts[port])
			schedule_work(&fabric->hosts[port]->link_work);
	raw_spin_unlock_irqrestore(&fabric->lock, flags);
}

/**
 * ntb_sim_cause_data() - what a write to a host's doorbell register holds
 *	to raise one cause
 * @host: the host
 * @cause: the cause, 0..NTB_SIM_CAUSES-1
 *
 * The edu ORs the written bits into its status; the ivshmem raises the
 * vector named, of the peer named in the upper half: its own ID, 0, so
 * that the value fits a plain MSI's 16-bit data.
 *
 * Return: the value.
 */
u32 ntb_sim_cause_data(struct ntb_sim_host *host, unsigned int cause)
{
	return host->kind == NTB_SIM_IVSHMEM ? cause : BIT(cause);
}

/**
 * ntb_sim_raise() - raise causes on a host's adapter, as a device write would
 * @host: the host
 * @causes: one bit per cause
 */
void ntb_sim_raise(struct ntb_sim_host *host, u32 causes)
{
	unsigned long bits = causes;
	unsigned int cause;

	if (host->kind == NTB_SIM_EDU) {
		writel(causes, host->regs + EDU_REG_IRQ_RAISE);
		return;
	}
	for_each_set_bit(cause, &bits, NTB_SIM_CAUSES)
		writel(ntb_sim_cause_data(host, cause),
		       host->regs + IVSHMEM_REG_DOORBELL);
}

static void raise(struct ntb_sim_host *host, u32 causes)
{
	ntb_sim_raise(host, causes);
}

static int msg_count(struct ntb_sim_host *host)
{
	return host->fabric->profile->msg_count;
}

/* Message status bits, where IDT has them: clients must not assume 0..n-1. */
static u64 msg_in_bit(int midx)
{
	return BIT_ULL(NTB_SIM_MSG_IN_SHIFT + midx);
}

static u64 msg_out_bit(int midx)
{
	return BIT_ULL(midx);
}

/* Every inbound status bit; none on a profile without messages. */
static u64 msg_in_bits(struct ntb_sim_host *host)
{
	int n = msg_count(host);

	return n ? GENMASK_ULL(n - 1, 0) << NTB_SIM_MSG_IN_SHIFT : 0;
}

static u64 msg_bits(struct ntb_sim_host *host)
{
	u64 n = GENMASK_ULL(msg_count(host) - 1, 0);

	return n << NTB_SIM_MSG_IN_SHIFT | n;
}

/* --- ports ---------------------------------------------------------------- */

static int sim_port_number(struct ntb_dev *ntb)
{
	return ntb_sim_host(ntb)->port;
}

static int sim_peer_port_count(struct ntb_dev *ntb)
{
	return ntb_sim_host(ntb)->fabric->nports - 1;
}

static int sim_peer_port_number(struct ntb_dev *ntb, int pidx)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);

	if (!ntb_sim_valid_pidx(host, pidx))
		return -EINVAL;
	return ntb_sim_peer_port(host, pidx);
}

static int sim_peer_port_idx(struct ntb_dev *ntb, int port)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);

	if (port < 0 || port >= host->fabric->nports || port == host->port)
		return -EINVAL;
	return ntb_sim_peer_idx(host, port);
}

/* --- link ----------------------------------------------------------------- */

static u64 sim_link_is_up(struct ntb_dev *ntb, enum ntb_speed *speed,
			  enum ntb_width *width)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);
	struct ntb_sim_fabric *fabric = host->fabric;
	unsigned long flags;
	u64 up = 0;
	int pidx;

	raw_spin_lock_irqsave(&fabric->lock, flags);
	for (pidx = 0; pidx < fabric->nports - 1; pidx++)
		if (ntb_sim_link_up(fabric, host->port,
				    ntb_sim_peer_port(host, pidx)))
			up |= BIT_ULL(pidx);
	raw_spin_unlock_irqrestore(&fabric->lock, flags);

	if (speed)
		*speed = up ? NTB_SPEED_GEN3 : NTB_SPEED_NONE;
	if (width)
		*width = up ? NTB_WIDTH_4 : NTB_WIDTH_NONE;
	return up;
}

static int set_link(struct ntb_dev *ntb, bool enable)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);
	unsigned long flags;

	raw_spin_lock_irqsave(&host->fabric->lock, flags);
	/*
	 * A client that takes the link down leaves: the messages it left
	 * unread go with it, so that the next client does not find its
	 * registers full (see Documentation/ntb-lending/ntb_sim.rst).
	 */
	if (host->link_enabled && !enable)
		host->msg_sts &= ~msg_in_bits(host);
	host->link_enabled = enable;
	raw_spin_unlock_irqrestore(&host->fabric->lock, flags);
	ntb_sim_links_changed(host->fabric);
	return 0;
}

static int sim_link_enable(struct ntb_dev *ntb, enum ntb_speed max_speed,
			   enum ntb_width max_width)
{
	return set_link(ntb, true);
}

static int sim_link_disable(struct ntb_dev *ntb)
{
	return set_link(ntb, false);
}

/* --- doorbells ------------------------------------------------------------ */

static u64 db_valid(struct ntb_sim_host *host)
{
	return GENMASK_ULL(host->fabric->profile->db_bits - 1, 0);
}

/*
 * The adapter's cause of a host's doorbell bit 0: on a switch its own
 * bits sit above the outbound ones (sim.h).
 */
static unsigned int db_shift(struct ntb_sim_host *host)
{
	return host->fabric->profile->multiport ? NTB_SIM_OUTDB_BITS : 0;
}

/* Ring a host's own doorbell bits. */
static void raise_db(struct ntb_sim_host *host, u64 db_bits)
{
	raise(host, db_bits << db_shift(host));
}

static u64 sim_db_valid_mask(struct ntb_dev *ntb)
{
	return db_valid(ntb_sim_host(ntb));
}

/*
 * The edu has one interrupt for every doorbell bit; the ivshmem one
 * vector per bit. Db vector N is the adapter's MSI-X vector N, as on
 * ntb_hw_intel and ntb_hw_amd, so that a client can find a bit's
 * interrupt (pci_irq_vector()): bit B is db vector B + db_shift(), and on
 * a switch the vectors below carry no bit of the host's own.
 */
static int sim_db_vector_count(struct ntb_dev *ntb)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);

	if (host->kind != NTB_SIM_IVSHMEM)
		return 1;
	return db_shift(host) + host->fabric->profile->db_bits;
}

static u64 sim_db_vector_mask(struct ntb_dev *ntb, int db_vector)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);

	if (db_vector < 0 || db_vector >= sim_db_vector_count(ntb))
		return 0;
	if (host->kind != NTB_SIM_IVSHMEM)
		return db_valid(host);
	if (db_vector < (int)db_shift(host))
		return 0;
	return BIT_ULL(db_vector - db_shift(host));
}

/* Read-modify-write of a register under the fabric lock. */
static u64 reg_update(struct ntb_sim_host *host, u64 *reg, u64 set, u64 clear)
{
	unsigned long flags;
	u64 val;

	raw_spin_lock_irqsave(&host->fabric->lock, flags);
	*reg = (*reg | set) & ~clear;
	val = *reg;
	raw_spin_unlock_irqrestore(&host->fabric->lock, flags);
	return val;
}

/* A client's write of doorbell bits into one of its registers. */
static int db_write(struct ntb_sim_host *host, u64 *reg, u64 set, u64 clear)
{
	if ((set | clear) & ~db_valid(host))
		return -EINVAL;
	reg_update(host, reg, set, clear);
	return 0;
}

static u64 sim_db_read(struct ntb_dev *ntb)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);

	return reg_update(host, &host->db, 0, 0);
}

static int sim_db_set(struct ntb_dev *ntb, u64 db_bits)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);

	if (db_bits & ~db_valid(host))
		return -EINVAL;
	raise_db(host, db_bits);
	return 0;
}

static int sim_db_clear(struct ntb_dev *ntb, u64 db_bits)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);

	return db_write(host, &host->db, 0, db_bits);
}

static u64 sim_db_read_mask(struct ntb_dev *ntb)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);

	return reg_update(host, &host->db_mask, 0, 0);
}

static int sim_db_set_mask(struct ntb_dev *ntb, u64 db_bits)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);

	return db_write(host, &host->db_mask, db_bits, 0);
}

static int sim_db_clear_mask(struct ntb_dev *ntb, u64 db_bits)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);
	int ret;

	ret = db_write(host, &host->db_mask, 0, db_bits);
	/* Bits that were pending while masked interrupt now, as on hardware. */
	if (!ret)
		raise(host, NTB_SIM_IRQ_REPLAY);
	return ret;
}

/* Whether the next fault counted by @counter fires; caller holds the lock. */
static bool inject(u32 *counter)
{
	if (!*counter)
		return false;
	(*counter)--;
	return true;
}

/* --- delivery across the fabric, possibly delayed by a fault ------------- */

static void delayed_deliver(struct work_struct *work)
{
	struct ntb_sim_delayed *d = container_of(to_delayed_work(work),
						 struct ntb_sim_delayed, work);
	struct ntb_sim_fabric *fabric = d->fabric;

	/* Like a write still in flight: lost if the link dropped meanwhile. */
	raw_spin_lock_irq(&fabric->lock);
	if (ntb_sim_link_up(fabric, d->from, d->to))
		d->deliver(fabric->hosts[d->from], fabric->hosts[d->to],
			   d->idx, d->val);
	d->busy = false;
	raw_spin_unlock_irq(&fabric->lock);
}

/**
 * ntb_sim_init_delayed() - ready a new fabric's pool of delayed writes
 * @fabric: the fabric
 *
 * Return: 0 or -ENOMEM.
 */
int ntb_sim_init_delayed(struct ntb_sim_fabric *fabric)
{
	int i;

	fabric->delayed = kvcalloc(NTB_SIM_MAX_DELAYED,
				   sizeof(*fabric->delayed), GFP_KERNEL);
	if (!fabric->delayed)
		return -ENOMEM;
	for (i = 0; i < NTB_SIM_MAX_DELAYED; i++) {
		fabric->delayed[i].fabric = fabric;
		INIT_DELAYED_WORK(&fabric->delayed[i].work, delayed_deliver);
	}
	return 0;
}

/*
 * Deliver now, or after delay_ms; caller holds the fabric lock. With
 * every entry of the pool in flight, the write is lost, as one on a
 * failing link would be: the clients' protocols send again.
 */
static void send(struct ntb_sim_host *from, struct ntb_sim_host *to,
		 deliver_fn deliver, int idx, u64 val)
{
	struct ntb_sim_fabric *fabric = from->fabric;
	struct ntb_sim_delayed *d;
	int i;

	lockdep_assert_held(&fabric->lock);
	if (!fabric->fault.delay_ms) {
		deliver(from, to, idx, val);
		return;
	}
	for (i = 0; i < NTB_SIM_MAX_DELAYED; i++) {
		d = &fabric->delayed[i];
		if (d->busy)
			continue;
		d->busy = true;
		d->from = from->port;
		d->to = to->port;
		d->deliver = deliver;
		d->idx = idx;
		d->val = val;
		schedule_delayed_work(&d->work,
				      msecs_to_jiffies(fabric->fault.delay_ms));
		return;
	}
	pr_warn_ratelimited("fabric %d: %d writes already held back by delay_ms: one is lost\n",
			    fabric->id, NTB_SIM_MAX_DELAYED);
}

/**
 * ntb_sim_cancel_delayed() - drop every write a fault still holds back
 * @fabric: the fabric going away, which no host sends on any more
 */
void ntb_sim_cancel_delayed(struct ntb_sim_fabric *fabric)
{
	int i;

	for (i = 0; i < NTB_SIM_MAX_DELAYED; i++)
		cancel_delayed_work_sync(&fabric->delayed[i].work);
	kvfree(fabric->delayed);
	fabric->delayed = NULL;
}

static void deliver_db(struct ntb_sim_host *from, struct ntb_sim_host *to,
		       int idx, u64 bits)
{
	raise_db(to, bits);
}

static void deliver_spad(struct ntb_sim_host *from, struct ntb_sim_host *to,
			 int sidx, u64 val)
{
	to->spad[sidx] = val;
}

static void deliver_msg(struct ntb_sim_host *from, struct ntb_sim_host *to,
			int midx, u64 msg)
{
	if (to->msg_sts & msg_in_bit(midx)) {
		/* The peer's register is still full: the send failed. */
		from->msg_sts |= msg_out_bit(midx);
		return;
	}
	to->msg[midx] = msg;
	to->msg_src[midx] = ntb_sim_peer_idx(to, from->port);
	to->msg_sts |= msg_in_bit(midx);
	raise(to, NTB_SIM_IRQ_MSG);
}

/* A switch (multi-port) rings every peer; a two-port NTB its one. */
static void ring_peers(struct ntb_sim_host *host, u64 db_bits)
{
	struct ntb_sim_fabric *fabric = host->fabric;
	struct ntb_sim_host *peer;
	int pidx;

	lockdep_assert_held(&fabric->lock);
	for (pidx = 0; pidx < fabric->nports - 1; pidx++) {
		peer = linked_peer(host, pidx);
		if (!peer || inject(&fabric->fault.drop_db))
			continue;
		send(host, peer, deliver_db, 0,
		     inject(&fabric->fault.corrupt_db) ? db_bits ^ BIT(0) : db_bits);
	}
}

static int sim_peer_db_set(struct ntb_dev *ntb, u64 db_bits)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);
	unsigned long flags;

	if (db_bits & ~db_valid(host))
		return -EINVAL;

	raw_spin_lock_irqsave(&host->fabric->lock, flags);
	ring_peers(host, db_bits);
	raw_spin_unlock_irqrestore(&host->fabric->lock, flags);
	return 0;
}

static int sim_peer_db_addr(struct ntb_dev *ntb, phys_addr_t *db_addr,
			    resource_size_t *db_size, u64 *db_data, int db_bit)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);
	struct ntb_sim_fabric *fabric = host->fabric;
	struct ntb_sim_host *peer;
	unsigned long flags;
	int ret = 0;

	if (db_data && (db_bit < 0 || db_bit >= fabric->profile->db_bits))
		return -EINVAL;

	/*
	 * A switch's: our own adapter, which forwards to every peer; a write
	 * of outbound cause db_bit, on the edu BIT(db_bit) as to IDT's
	 * outbound doorbell register.
	 */
	if (fabric->profile->multiport) {
		if (db_data && db_bit >= NTB_SIM_OUTDB_BITS)
			return -EINVAL;
		if (db_addr)
			*db_addr = host->db_reg_phys;
		if (db_size)
			*db_size = sizeof(u32);
		if (db_data)
			*db_data = ntb_sim_cause_data(host, db_bit);
		return 0;
	}

	/*
	 * The peer adapter's doorbell register: a write of the cause of
	 * db_bit there, by the CPU or by any device, rings that doorbell bit.
	 */
	raw_spin_lock_irqsave(&fabric->lock, flags);
	peer = fabric->hosts[ntb_sim_peer_port(host, 0)];
	if (peer) {
		if (db_addr)
			*db_addr = peer->db_reg_phys;
		if (db_size)
			*db_size = sizeof(u32);
		if (db_data)
			*db_data = ntb_sim_cause_data(peer, db_bit);
	} else {
		ret = -ENODEV;
	}
	raw_spin_unlock_irqrestore(&fabric->lock, flags);
	return ret;
}

/* --- scratchpads ------------------------------------------------------------ */

static int sim_spad_count(struct ntb_dev *ntb)
{
	return ntb_sim_host(ntb)->fabric->profile->spad_count;
}

static bool valid_sidx(struct ntb_sim_host *host, int sidx)
{
	return sidx >= 0 && sidx < host->fabric->profile->spad_count;
}

static u32 sim_spad_read(struct ntb_dev *ntb, int sidx)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);
	unsigned long flags;
	u32 val;

	if (!valid_sidx(host, sidx))
		return 0;
	raw_spin_lock_irqsave(&host->fabric->lock, flags);
	val = host->spad[sidx];
	raw_spin_unlock_irqrestore(&host->fabric->lock, flags);
	return val;
}

static int sim_spad_write(struct ntb_dev *ntb, int sidx, u32 val)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);
	unsigned long flags;

	if (!valid_sidx(host, sidx))
		return -EINVAL;
	raw_spin_lock_irqsave(&host->fabric->lock, flags);
	host->spad[sidx] = val;
	raw_spin_unlock_irqrestore(&host->fabric->lock, flags);
	return 0;
}

static u32 sim_peer_spad_read(struct ntb_dev *ntb, int pidx, int sidx)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);
	struct ntb_sim_host *peer;
	unsigned long flags;
	u32 val = ~0U;	/* what a read across a dead link returns */

	if (!valid_sidx(host, sidx))
		return 0;
	raw_spin_lock_irqsave(&host->fabric->lock, flags);
	peer = linked_peer(host, pidx);
	if (peer)
		val = peer->spad[sidx];
	raw_spin_unlock_irqrestore(&host->fabric->lock, flags);
	return val;
}

static int sim_peer_spad_write(struct ntb_dev *ntb, int pidx, int sidx,
			       u32 val)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);
	struct ntb_sim_fabric *fabric = host->fabric;
	struct ntb_sim_host *peer;
	unsigned long flags;

	if (!valid_sidx(host, sidx) || !ntb_sim_valid_pidx(host, pidx))
		return -EINVAL;
	/* Like a posted write over the link: lost when the link is down. */
	raw_spin_lock_irqsave(&fabric->lock, flags);
	peer = linked_peer(host, pidx);
	if (peer && !inject(&fabric->fault.drop_spad)) {
		if (inject(&fabric->fault.corrupt_spad))
			val ^= BIT(0);
		send(host, peer, deliver_spad, sidx, val);
	}
	raw_spin_unlock_irqrestore(&fabric->lock, flags);
	return 0;
}

/* --- message registers --------------------------------------------------- */

static int sim_msg_count(struct ntb_dev *ntb)
{
	return msg_count(ntb_sim_host(ntb));
}

static u64 sim_msg_inbits(struct ntb_dev *ntb)
{
	return GENMASK_ULL(msg_count(ntb_sim_host(ntb)) - 1, 0) <<
	       NTB_SIM_MSG_IN_SHIFT;
}

static u64 sim_msg_outbits(struct ntb_dev *ntb)
{
	return GENMASK_ULL(msg_count(ntb_sim_host(ntb)) - 1, 0);
}

static u64 sim_msg_read_sts(struct ntb_dev *ntb)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);

	return reg_update(host, &host->msg_sts, 0, 0);
}

/*
 * Bits beyond the registers are ignored, as IDT's hardware does: clients
 * clear with -1 (ntb_pingpong), and would otherwise leave a register full.
 */
static int sim_msg_clear_sts(struct ntb_dev *ntb, u64 sts_bits)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);

	reg_update(host, &host->msg_sts, 0, sts_bits & msg_bits(host));
	return 0;
}

static int sim_msg_set_mask(struct ntb_dev *ntb, u64 mask_bits)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);

	reg_update(host, &host->msg_mask, mask_bits, 0);
	return 0;
}

static int sim_msg_clear_mask(struct ntb_dev *ntb, u64 mask_bits)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);

	reg_update(host, &host->msg_mask, 0, mask_bits);
	raise(host, NTB_SIM_IRQ_MSG);
	return 0;
}

static u32 sim_msg_read(struct ntb_dev *ntb, int *pidx, int midx)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);
	unsigned long flags;
	u32 msg;

	if (midx < 0 || midx >= msg_count(host))
		return ~0U;
	/*
	 * As on IDT, reading leaves the register full until the client
	 * clears its status bit: ntb_perf reads its three registers and then
	 * clears them together, and relies on a sender's next message not
	 * landing in between.
	 */
	raw_spin_lock_irqsave(&host->fabric->lock, flags);
	msg = host->msg[midx];
	if (pidx)
		*pidx = host->msg_src[midx];
	raw_spin_unlock_irqrestore(&host->fabric->lock, flags);
	return msg;
}

static int sim_peer_msg_write(struct ntb_dev *ntb, int pidx, int midx, u32 msg)
{
	struct ntb_sim_host *host = ntb_sim_host(ntb);
	struct ntb_sim_fabric *fabric = host->fabric;
	struct ntb_sim_host *peer;
	unsigned long flags;

	if (midx < 0 || midx >= msg_count(host) || !ntb_sim_valid_pidx(host, pidx))
		return -EINVAL;

	/* As on IDT hardware a failure shows in the status, not the return. */
	raw_spin_lock_irqsave(&fabric->lock, flags);
	peer = linked_peer(host, pidx);
	if (!peer) {
		host->msg_sts |= msg_out_bit(midx);
	} else if (!inject(&fabric->fault.drop_msg)) {
		if (inject(&fabric->fault.corrupt_msg))
			msg ^= BIT(0);
		send(host, peer, deliver_msg, midx, msg);
	}
	raw_spin_unlock_irqrestore(&fabric->lock, flags);
	return 0;
}

/* --- the adapter's interrupts ----------------------------------------------- */

/*
 * Latch the doorbell bits of @causes and signal the NTB core: db vector
 * @db_vector, which carries doorbell bit @bit (-1: the edu's one vector,
 * or every vector with a bit pending).
 */
static irqreturn_t handle_causes(struct ntb_sim_host *host, u32 causes,
				 int db_vector, int bit)
{
	struct ntb_sim_fabric *fabric = host->fabric;
	bool msg_event;
	u32 in, out = 0;
	u64 pending;
	int b;

	in = causes >> db_shift(host) & db_valid(host);
	if (fabric->profile->multiport)
		out = causes & GENMASK(NTB_SIM_OUTDB_BITS - 1, 0) & db_valid(host);
	raw_spin_lock(&fabric->lock);
	if (out)
		ring_peers(host, out);
	if (in)
		host->db_irq_ns = ktime_get_ns();
	host->db |= in;
	pending = host->registered ? host->db & ~host->db_mask : 0;
	msg_event = host->registered && (causes & NTB_SIM_IRQ_MSG) &&
		    (host->msg_sts & ~host->msg_mask & msg_bits(host));
	raw_spin_unlock(&fabric->lock);

	if (host->kind == NTB_SIM_EDU) {
		if (pending)
			ntb_db_event(&host->ntb, 0);
	} else if (bit >= 0) {
		if (pending & BIT_ULL(bit))
			ntb_db_event(&host->ntb, db_vector);
	} else if (causes & NTB_SIM_IRQ_REPLAY) {
		for (b = 0; b < fabric->profile->db_bits; b++)
			if (pending & BIT_ULL(b))
				ntb_db_event(&host->ntb, db_shift(host) + b);
	}
	if (msg_event)
		ntb_msg_event(&host->ntb);
	return IRQ_HANDLED;
}

/**
 * ntb_sim_irq() - interrupt handler of an edu adapter (its one MSI)
 * @irq: the interrupt
 * @data: the &struct ntb_sim_host
 *
 * Latches the doorbell bits that CPUs or devices wrote to the raise
 * register and signals the NTB core, in hard interrupt context as NTB
 * hardware drivers do. Only the causes read are acknowledged, so a cause
 * raised meanwhile interrupts again and no bit is lost.
 *
 * Return: IRQ_HANDLED if the adapter had a cause pending.
 */
irqreturn_t ntb_sim_irq(int irq, void *data)
{
	struct ntb_sim_host *host = data;
	u32 causes;

	causes = readl(host->regs + EDU_REG_IRQ_STATUS);
	if (!causes)
		return IRQ_NONE;
	writel(causes, host->regs + EDU_REG_IRQ_ACK);
	return handle_causes(host, causes, 0, -1);
}

/**
 * ntb_sim_vec_irq() - interrupt handler of one vector of an ivshmem adapter
 * @irq: the interrupt
 * @data: the &struct ntb_sim_vec
 *
 * The vector is the cause: there is no status to read or acknowledge. A
 * doorbell bit's vector signals itself, the db vector of its MSI-X index,
 * to the NTB core, on the CPU the vector's affinity chose.
 *
 * Return: IRQ_HANDLED.
 */
irqreturn_t ntb_sim_vec_irq(int irq, void *data)
{
	struct ntb_sim_vec *vec = data;
	struct ntb_sim_host *host = vec->host;
	int bit = (int)vec->cause - (int)db_shift(host);

	if (bit < 0 || bit >= host->fabric->profile->db_bits)
		bit = -1;
	return handle_causes(host, BIT(vec->cause), vec->cause, bit);
}

/* --- ops tables ----------------------------------------------------------- */

/* Intel/AMD-like: two hosts, scratchpads, receiver-set translations. */
const struct ntb_dev_ops ntb_sim_ops_2port = {
	.link_is_up		= sim_link_is_up,
	.link_enable		= sim_link_enable,
	.link_disable		= sim_link_disable,
	.mw_count		= ntb_sim_mw_count,
	.mw_get_align		= ntb_sim_mw_get_align,
	.mw_set_trans		= ntb_sim_mw_set_trans,
	.mw_clear_trans		= ntb_sim_mw_clear_trans,
	.peer_mw_count		= ntb_sim_peer_mw_count,
	.peer_mw_get_addr	= ntb_sim_peer_mw_get_addr,
	.db_valid_mask		= sim_db_valid_mask,
	.db_vector_count	= sim_db_vector_count,
	.db_vector_mask		= sim_db_vector_mask,
	.db_read		= sim_db_read,
	.db_set			= sim_db_set,
	.db_clear		= sim_db_clear,
	.db_read_mask		= sim_db_read_mask,
	.db_set_mask		= sim_db_set_mask,
	.db_clear_mask		= sim_db_clear_mask,
	.peer_db_addr		= sim_peer_db_addr,
	.peer_db_set		= sim_peer_db_set,
	.spad_count		= sim_spad_count,
	.spad_read		= sim_spad_read,
	.spad_write		= sim_spad_write,
	.peer_spad_read		= sim_peer_spad_read,
	.peer_spad_write	= sim_peer_spad_write,
};

/* IDT-like switch: any number of ports, messages, sender-set translations. */
const struct ntb_dev_ops ntb_sim_ops_multiport = {
	.port_number		= sim_port_number,
	.peer_port_count	= sim_peer_port_count,
	.peer_port_number	= sim_peer_port_number,
	.peer_port_idx		= sim_peer_port_idx,
	.link_is_up		= sim_link_is_up,
	.link_enable		= sim_link_enable,
	.link_disable		= sim_link_disable,
	.mw_count		= ntb_sim_mw_count,
	.mw_get_align		= ntb_sim_mw_get_align,
	.peer_mw_count		= ntb_sim_peer_mw_count,
	.peer_mw_get_addr	= ntb_sim_peer_mw_get_addr,
	.peer_mw_set_trans	= ntb_sim_peer_mw_set_trans,
	.peer_mw_clear_trans	= ntb_sim_peer_mw_clear_trans,
	.db_valid_mask		= sim_db_valid_mask,
	.db_vector_count	= sim_db_vector_count,
	.db_vector_mask		= sim_db_vector_mask,
	.db_read		= sim_db_read,
	.db_set			= sim_db_set,
	.db_clear		= sim_db_clear,
	.db_read_mask		= sim_db_read_mask,
	.db_set_mask		= sim_db_set_mask,
	.db_clear_mask		= sim_db_clear_mask,
	.peer_db_addr		= sim_peer_db_addr,
	.peer_db_set		= sim_peer_db_set,
	.msg_count		= sim_msg_count,
	.msg_inbits		= sim_msg_inbits,
	.msg_outbits		= sim_msg_outbits,
	.msg_read_sts		= sim_msg_read_sts,
	.msg_clear_sts		= sim_msg_clear_sts,
	.msg_set_mask		= sim_msg_set_mask,
	.msg_clear_mask		= sim_msg_clear_mask,
	.msg_read		= sim_msg_read,
	.peer_msg_write		= sim_peer_msg_write,
};
