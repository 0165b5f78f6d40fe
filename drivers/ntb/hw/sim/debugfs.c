// SPDX-License-Identifier: GPL-2.0
/*
 * ntb_sim: debugfs, where tests inject faults and play hostile peers.
 *
 *   /sys/kernel/debug/ntb_sim/fabric<ID>/
 *     profile, ports          what the fabric imitates
 *     link_down               "A B 1" holds the A-B link down, "A B 0" lets go
 *     drop_db, drop_msg, drop_spad, corrupt_db, corrupt_msg, corrupt_spad,
 *     fail_mw                 how many of the next such operations to fault
 *     delay_ms                hold every doorbell, message, scratchpad write
 *     claim_windows           1: windows translated from now on claim their
 *                             range busy, as ntb_hw_intel holds its window BARs
 *     <BDF>/port              the port of the host on the adapter BDF
 *     <BDF>/db_vectors        "BIT IRQ" for each doorbell bit of an ivshmem
 *                             adapter: the Linux interrupt of its vector
 *     <BDF>/hostile           raw register writes as that host, bypassing
 *                             its clients: "spad PIDX SIDX VAL",
 *                             "msg PIDX MIDX VAL", "db BITS",
 *                             "mw WIDX OFFSET VAL" (a u32 through window WIDX),
 *                             "xlat PIDX WIDX ADDR SIZE" (a translation as
 *                             its clients would set it; SIZE 0 clears it),
 *                             "frames SEED COUNT AVOID" (COUNT random and
 *                             mutated ntb_lending channel frames)
 *     <BDF>/ring              two-port profiles: "device BIT" has the edu's
 *                             DMA engine write the peer's doorbell BIT at
 *                             its peer_db_addr(), "cpu BIT" the CPU; read:
 *                             "cpu|device LATENCY_NS" of the last ring
 */

#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/bitfield.h>
#include <linux/io.h>
#include <linux/prandom.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>

#include "sim.h"

static struct dentry *ntb_sim_debugfs_root;

static int profile_show(struct seq_file *s, void *unused)
{
	struct ntb_sim_fabric *fabric = s->private;

	seq_printf(s, "%s\n", fabric->profile->name);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(profile);

static int ports_show(struct seq_file *s, void *unused)
{
	struct ntb_sim_fabric *fabric = s->private;

	seq_printf(s, "%d\n", fabric->nports);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ports);

/* Copy a short command from user space as a NUL-terminated string. */
static int read_cmd(const char __user *ubuf, size_t count, char *buf,
		    size_t size)
{
	if (!count || count >= size)
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	return 0;
}

static ssize_t link_down_write(struct file *file, const char __user *ubuf,
			       size_t count, loff_t *ppos)
{
	struct ntb_sim_fabric *fabric = file->private_data;
	int a, b, down, ret;
	char buf[32];

	ret = read_cmd(ubuf, count, buf, sizeof(buf));
	if (ret)
		return ret;
	if (sscanf(buf, "%d %d %d", &a, &b, &down) != 3 || a == b ||
	    a < 0 || b < 0 || a >= fabric->nports || b >= fabric->nports)
		return -EINVAL;

	raw_spin_lock_irq(&fabric->lock);
	assign_bit(a * NTB_SIM_MAX_PORTS + b, fabric->fault.link_down, down);
	assign_bit(b * NTB_SIM_MAX_PORTS + a, fabric->fault.link_down, down);
	raw_spin_unlock_irq(&fabric->lock);
	ntb_sim_links_changed(fabric);
	return count;
}

static const struct file_operations link_down_fops = {
	.open = simple_open,
	.write = link_down_write,
};

/**
 * ntb_sim_debugfs_add_fabric() - make a fabric's debugfs directory
 * @fabric: the new fabric
 */
void ntb_sim_debugfs_add_fabric(struct ntb_sim_fabric *fabric)
{
	struct ntb_sim_fault *fault = &fabric->fault;
	char name[24];

	snprintf(name, sizeof(name), "fabric%d", fabric->id);
	fabric->debugfs = debugfs_create_dir(name, ntb_sim_debugfs_root);
	debugfs_create_file("profile", 0444, fabric->debugfs, fabric,
			    &profile_fops);
	debugfs_create_file("ports", 0444, fabric->debugfs, fabric,
			    &ports_fops);
	debugfs_create_file("link_down", 0200, fabric->debugfs, fabric,
			    &link_down_fops);
	debugfs_create_u32("delay_ms", 0600, fabric->debugfs, &fault->delay_ms);
	debugfs_create_u32("drop_db", 0600, fabric->debugfs, &fault->drop_db);
	debugfs_create_u32("corrupt_db", 0600, fabric->debugfs,
			   &fault->corrupt_db);
	debugfs_create_u32("drop_msg", 0600, fabric->debugfs, &fault->drop_msg);
	debugfs_create_u32("drop_spad", 0600, fabric->debugfs, &fault->drop_spad);
	debugfs_create_u32("corrupt_msg", 0600, fabric->debugfs,
			   &fault->corrupt_msg);
	debugfs_create_u32("corrupt_spad", 0600, fabric->debugfs,
			   &fault->corrupt_spad);
	debugfs_create_u32("fail_mw", 0600, fabric->debugfs, &fault->fail_mw);
	debugfs_create_bool("claim_windows", 0600, fabric->debugfs,
			    &fault->claim_windows);
}

static int port_show(struct seq_file *s, void *unused)
{
	struct ntb_sim_host *host = s->private;

	seq_printf(s, "%d\n", host->port);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(port);

/* Write a u32 through outbound window @widx as the host's CPU would. */
static int hostile_mw(struct ntb_sim_host *host, int widx, u64 offset, u32 val)
{
	resource_size_t size;
	void __iomem *mem;
	phys_addr_t base;
	int ret;

	ret = ntb_peer_mw_get_addr(&host->ntb, widx, &base, &size);
	if (ret)
		return ret;
	if (offset > size - sizeof(val) || !IS_ALIGNED(offset, sizeof(val)))
		return -EINVAL;
	mem = ioremap(base + offset, sizeof(val));
	if (!mem)
		return -ENOMEM;
	writel(val, mem);
	iounmap(mem);
	return 0;
}

/*
 * Set (or, with @size 0, clear) a translation of window @widx for peer
 * @pidx, through the NTB API as the host's clients would: the host's
 * inbound window from that peer where receivers translate, its outbound
 * window to it where senders do. Tests see which the window refuses.
 */
static int hostile_xlat(struct ntb_sim_host *host, int pidx, int widx,
			u64 addr, u64 size)
{
	struct ntb_dev *ntb = &host->ntb;

	if (host->fabric->profile->outbound_xlat)
		return size ? ntb_peer_mw_set_trans(ntb, pidx, widx, addr, size) :
			      ntb_peer_mw_clear_trans(ntb, pidx, widx);
	return size ? ntb_mw_set_trans(ntb, pidx, widx, addr, size) :
		      ntb_mw_clear_trans(ntb, pidx, widx);
}

/* Run one transfer of the edu's DMA engine and wait for it to finish. */
static int edu_dma(struct ntb_sim_host *host, u64 src, u64 dst, u32 cmd)
{
	unsigned long timeout = jiffies + 2 * HZ;

	writeq(src, host->regs + EDU_REG_DMA_SRC);
	writeq(dst, host->regs + EDU_REG_DMA_DST);
	writeq(sizeof(u32), host->regs + EDU_REG_DMA_COUNT);
	writeq(cmd | EDU_DMA_START, host->regs + EDU_REG_DMA_CMD);
	while (readq(host->regs + EDU_REG_DMA_CMD) & EDU_DMA_START) {
		if (time_after(jiffies, timeout))
			return -ETIMEDOUT;
		usleep_range(1000, 2000);
	}
	return 0;
}

/*
 * Ring doorbell @bit of the peer the way a lent device's MSI-X write
 * would: the edu's DMA engine, not the CPU, writes the doorbell data to
 * the peer_db_addr() address. A CPU write to the same address is timed
 * the same way, for the benchmark.
 */
static int ring(struct ntb_sim_host *host, bool device, int bit)
{
	struct ntb_sim_fabric *fabric = host->fabric;
	int peer_port = ntb_sim_peer_port(host, 0);
	struct ntb_sim_host *peer;
	resource_size_t size;
	phys_addr_t addr;
	void __iomem *io;
	dma_addr_t dma;
	u64 data, t0, t1 = 0;
	u32 *val;
	int ret, i;

	/* An ivshmem adapter has no DMA engine. */
	if (device && host->kind != NTB_SIM_EDU)
		return -EOPNOTSUPP;
	ret = ntb_peer_db_addr(&host->ntb, &addr, &size, &data, bit);
	if (ret)
		return ret;
	val = kmalloc(sizeof(*val), GFP_KERNEL);
	if (!val)
		return -ENOMEM;
	*val = data;
	dma = dma_map_single(&host->edu->dev, val, sizeof(*val), DMA_TO_DEVICE);
	if (device) {
		/* Stage the data in the device, then the timed write. */
		ret = edu_dma(host, dma, EDU_DMA_BUFFER, 0);
		t0 = ktime_get_ns();
		if (!ret)
			ret = edu_dma(host, EDU_DMA_BUFFER, addr, EDU_DMA_TO_BUS);
	} else {
		io = ioremap(addr, size);
		t0 = ktime_get_ns();
		if (io)
			writel(data, io);
		else
			ret = -ENOMEM;
		iounmap(io);
	}
	dma_unmap_single(&host->edu->dev, dma, sizeof(*val), DMA_TO_DEVICE);
	kfree(val);

	for (i = 0; !ret && i < 2000; i++) {
		/* Under the lock: the peer may be unplugged meanwhile. */
		raw_spin_lock_irq(&fabric->lock);
		peer = fabric->hosts[peer_port];
		if (peer && peer->db_irq_ns >= t0 && peer->db & BIT_ULL(bit))
			t1 = peer->db_irq_ns;
		raw_spin_unlock_irq(&fabric->lock);
		if (t1)
			break;
		usleep_range(10, 20);
	}
	if (!ret && !t1)
		ret = -ETIMEDOUT;
	host->ring.how = device ? "device" : "cpu";
	host->ring.latency_ns = ret ? 0 : t1 - t0;
	return ret;
}

static int ring_show(struct seq_file *s, void *unused)
{
	struct ntb_sim_host *host = s->private;

	if (host->ring.how)
		seq_printf(s, "%s %llu\n", host->ring.how, host->ring.latency_ns);
	return 0;
}

static int ring_open(struct inode *inode, struct file *file)
{
	return single_open(file, ring_show, inode->i_private);
}

static ssize_t ring_write(struct file *file, const char __user *ubuf,
			  size_t count, loff_t *ppos)
{
	struct ntb_sim_host *host = file_inode(file)->i_private;
	char buf[32], how[8];
	int bit, ret;

	ret = read_cmd(ubuf, count, buf, sizeof(buf));
	if (ret)
		return ret;
	if (sscanf(buf, "%7s %d", how, &bit) != 2 ||
	    (strcmp(how, "cpu") && strcmp(how, "device")))
		return -EINVAL;
	ret = ring(host, !strcmp(how, "device"), bit);
	return ret ?: count;
}

static const struct file_operations ring_fops = {
	.open = ring_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
	.write = ring_write,
};

/*
 * ntb_lending's channel frames as its scratchpad transport carries them
 * (Documentation/ntb-lending/protocol.rst): four words in the peer's
 * scratchpads 0..3, the header last, announced with doorbell bit 0.
 * Header: type[31:24] seq[23:16] frag[15:12] last[11] len[10:8] csum[7:0],
 * the checksum making the bytes of all four words sum to zero.
 */
#define FRAME_WORDS		4
#define FRAME_DB		BIT_ULL(0)
#define FRAME_TYPE		GENMASK(31, 24)
#define FRAME_SEQ		GENMASK(23, 16)
#define FRAME_FRAG		GENMASK(15, 12)
#define FRAME_LAST		BIT(11)
#define FRAME_LEN		GENMASK(10, 8)
#define FRAME_CSUM		GENMASK(7, 0)

/* How long the peer may take to take a frame's doorbell. */
#define FRAME_TAKE_US		20000

/*
 * The kinds of frame hostile_frames() sends, one picked at random each
 * time: random words; a random header and payload under a good checksum;
 * a well-formed frame with bits flipped, its checksum left or made good
 * again; with another length; with the sequence number of the frame
 * before it; a fragment out of step; a well-formed frame with a wrong
 * checksum; the last sent with a good checksum, or the host's own last
 * frame, again; and
 * well-formed frames, of messages of one or more fragments.
 */
enum hostile_kind {
	HOSTILE_RANDOM,
	HOSTILE_GARBAGE,
	HOSTILE_FLIP,
	HOSTILE_FLIP_SUMMED,
	HOSTILE_LENGTH,
	HOSTILE_SEQ,
	HOSTILE_FRAG,
	HOSTILE_CSUM,
	HOSTILE_REPLAY,
	HOSTILE_WELL_FORMED,
	HOSTILE_KINDS
};

/**
 * struct hostile_frames - the state of one run of hostile_frames()
 * @host: the host whose peer the frames go to
 * @rnd: the generator, seeded by the command
 * @avoid: frame types 0..63 never sent: a frame that would carry one
 *	carries it with bit 6 set
 * @seq: the sequence number of the last frame sent
 * @type: the type of the message the well-formed frames are in
 * @frag: the fragment of it the next well-formed frame is
 * @last: the last frame sent with a good checksum, for replays
 * @own: the host's own last frame, in the peer's scratchpads at the start
 * @good: frames sent with a good checksum
 * @untaken: frames whose doorbell the peer did not take in time
 */
struct hostile_frames {
	struct ntb_sim_host *host;
	struct rnd_state rnd;
	u64 avoid;
	u8 seq;
	u8 type;
	u8 frag;
	u32 last[FRAME_WORDS];
	u32 own[FRAME_WORDS];
	unsigned int good;
	unsigned int untaken;
};

static u32 hostile_rnd(struct hostile_frames *hf, u32 n)
{
	return prandom_u32_state(&hf->rnd) % n;
}

/* A payload word: often a small or extreme value, as indexes and tags are. */
static u32 hostile_word(struct hostile_frames *hf)
{
	switch (hostile_rnd(hf, 8)) {
	case 0:
		return 0;
	case 1:
		return U32_MAX;
	case 2:
	case 3:
		return hostile_rnd(hf, 16);
	case 4:
		return hostile_rnd(hf, 0x10000);
	default:
		return prandom_u32_state(&hf->rnd);
	}
}

/* A type: mostly the protocol's requests and replies, sometimes any. */
static u8 hostile_type(struct hostile_frames *hf)
{
	u8 type = hostile_rnd(hf, 12);

	if (!hostile_rnd(hf, 4))
		type |= 0x80;
	if (!hostile_rnd(hf, 8))
		type = hostile_rnd(hf, 256);
	return type;
}

static u8 frame_sum(const u32 *w)
{
	u8 sum = 0;
	int i, b;

	for (i = 0; i < FRAME_WORDS; i++)
		for (b = 0; b < 32; b += 8)
			sum += w[i] >> b;
	return sum;
}

/* Give @w the checksum that makes its bytes sum to zero. */
static void frame_seal(u32 *w)
{
	w[0] &= ~FRAME_CSUM;
	w[0] |= (u8)-frame_sum(w);
}

/* Set bit 6 of a type the command said never to send. */
static void frame_avoid(struct hostile_frames *hf, u32 *w)
{
	u32 type = FIELD_GET(FRAME_TYPE, w[0]);

	if (type < 64 && hf->avoid & BIT_ULL(type))
		w[0] |= FIELD_PREP(FRAME_TYPE, 0x40);
}

/* The next well-formed frame: a message's fragments in step. */
static void frame_well_formed(struct hostile_frames *hf, u32 *w)
{
	unsigned int len = hostile_rnd(hf, 4), i;
	bool last = hf->frag == 15 || hostile_rnd(hf, 2);

	if (!hf->frag)
		hf->type = hostile_type(hf);
	w[0] = FIELD_PREP(FRAME_TYPE, hf->type) |
	       FIELD_PREP(FRAME_SEQ, ++hf->seq) |
	       FIELD_PREP(FRAME_FRAG, hf->frag) |
	       (last ? FRAME_LAST : 0) | FIELD_PREP(FRAME_LEN, len);
	for (i = 1; i < FRAME_WORDS; i++)
		w[i] = i <= len ? hostile_word(hf) : 0;
	hf->frag = last ? 0 : hf->frag + 1;
	frame_avoid(hf, w);
	frame_seal(w);
}

/* A frame of a random kind, in @w. */
static void hostile_frame(struct hostile_frames *hf, u32 *w)
{
	unsigned int i, n;

	frame_well_formed(hf, w);
	switch (hostile_rnd(hf, HOSTILE_KINDS)) {
	case HOSTILE_RANDOM:
		for (i = 0; i < FRAME_WORDS; i++)
			w[i] = prandom_u32_state(&hf->rnd);
		frame_avoid(hf, w);
		return;
	case HOSTILE_GARBAGE:
		for (i = 0; i < FRAME_WORDS; i++)
			w[i] = prandom_u32_state(&hf->rnd);
		break;
	case HOSTILE_FLIP:
	case HOSTILE_FLIP_SUMMED:
		for (n = 1 + hostile_rnd(hf, 3); n; n--) {
			i = hostile_rnd(hf, 32 * FRAME_WORDS);
			w[i / 32] ^= BIT(i % 32);
		}
		if (hostile_rnd(hf, 2)) {
			frame_avoid(hf, w);
			return;		/* its checksum as flipped: mostly bad */
		}
		break;
	case HOSTILE_LENGTH:
		w[0] &= ~FRAME_LEN;
		w[0] |= FIELD_PREP(FRAME_LEN, hostile_rnd(hf, 8));
		break;
	case HOSTILE_SEQ:
		/* The number of the frame before: a duplicate, to drop. */
		w[0] &= ~FRAME_SEQ;
		w[0] |= FIELD_PREP(FRAME_SEQ, (u8)(hf->seq - 1));
		break;
	case HOSTILE_FRAG:
		w[0] &= ~FRAME_FRAG;
		w[0] |= FIELD_PREP(FRAME_FRAG, 1 + hostile_rnd(hf, 15));
		if (hostile_rnd(hf, 2))
			w[0] ^= FIELD_PREP(FRAME_TYPE, 1 + hostile_rnd(hf, 255));
		break;
	case HOSTILE_CSUM:
		w[0] ^= 1 + hostile_rnd(hf, 255);
		return;
	case HOSTILE_REPLAY:
		if (hostile_rnd(hf, 2)) {
			/* The last one sent with a good checksum, again. */
			memcpy(w, hf->last, sizeof(hf->last));
			return;
		}
		/* The host's own, as it was or as a new frame. */
		memcpy(w, hf->own, sizeof(hf->own));
		if (hostile_rnd(hf, 2)) {
			w[0] &= ~FRAME_SEQ;
			w[0] |= FIELD_PREP(FRAME_SEQ, hf->seq);
		}
		break;
	default:
		return;		/* well-formed */
	}
	frame_avoid(hf, w);
	frame_seal(w);
}

/* True once the peer took doorbell @bits rung at @t0, or it is gone. */
static bool peer_took_db(struct ntb_sim_host *host, u64 bits, u64 t0)
{
	struct ntb_sim_fabric *fabric = host->fabric;
	struct ntb_sim_host *peer;
	bool took;

	raw_spin_lock_irq(&fabric->lock);
	peer = fabric->hosts[ntb_sim_peer_port(host, 0)];
	took = !peer || (peer->db_irq_ns >= t0 && !(peer->db & bits));
	raw_spin_unlock_irq(&fabric->lock);
	return took;
}

/* Write frame @w into the peer's scratchpads and ring it, as the host would. */
static int hostile_send(struct hostile_frames *hf, const u32 *w)
{
	struct ntb_dev *ntb = &hf->host->ntb;
	unsigned long timeout;
	u64 t0;
	int i, ret;

	for (i = FRAME_WORDS - 1; i >= 0; i--) {
		ret = ntb_peer_spad_write(ntb, 0, i, w[i]);
		if (ret)
			return ret;
	}
	t0 = ktime_get_ns();
	ret = ntb_peer_db_set(ntb, FRAME_DB);
	if (ret)
		return ret;
	if (!frame_sum(w)) {
		memcpy(hf->last, w, sizeof(hf->last));
		hf->good++;
	}
	/* One frame at a time, so that the peer reads each. */
	timeout = jiffies + usecs_to_jiffies(FRAME_TAKE_US);
	while (!peer_took_db(hf->host, FRAME_DB, t0)) {
		if (time_after(jiffies, timeout)) {
			hf->untaken++;
			break;
		}
		usleep_range(20, 40);
	}
	return 0;
}

/**
 * hostile_frames() - send lending channel frames as a lying peer would
 * @host: the host that sends them to its peer, in its peer's scratchpads
 * @seed: seeds the generator: the same seed makes the same frames
 * @count: how many
 * @avoid: frame types 0..63 never to send (bit N: type N)
 *
 * The frames are random and mutated ones (&enum hostile_kind), written
 * as ntb_lending's scratchpad transport writes a frame and paced by the
 * peer's taking of each doorbell, not by acknowledgments, which hostile
 * frames do not wait for. The host's own client sends meanwhile as usual.
 *
 * Context: process; sleeps. A fatal signal ends it early.
 * Return: 0, -EOPNOTSUPP on a profile without the scratchpad transport,
 * -EINTR, or the error of a register write.
 */
static int hostile_frames(struct ntb_sim_host *host, u64 seed, u64 count,
			  u64 avoid)
{
	struct ntb_dev *ntb = &host->ntb;
	struct hostile_frames *hf;
	u32 w[FRAME_WORDS];
	u64 sent;
	int i, ret = 0;

	if (host->fabric->profile->multiport ||
	    ntb_spad_count(ntb) < FRAME_WORDS)
		return -EOPNOTSUPP;
	hf = kzalloc(sizeof(*hf), GFP_KERNEL);
	if (!hf)
		return -ENOMEM;
	hf->host = host;
	hf->avoid = avoid;
	prandom_seed_state(&hf->rnd, seed);
	hf->seq = prandom_u32_state(&hf->rnd);
	for (i = 0; i < FRAME_WORDS; i++)
		hf->own[i] = ntb_peer_spad_read(ntb, 0, i);

	for (sent = 0; sent < count; sent++) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		hostile_frame(hf, w);
		ret = hostile_send(hf, w);
		if (ret)
			break;
		/* A peer quick to take each frame leaves no wait to sleep in. */
		cond_resched();
	}
	pci_info(host->edu,
		 "hostile: %llu frames sent from seed %llu, %u with a good checksum, %u not taken in time\n",
		 sent, seed, hf->good, hf->untaken);
	kfree(hf);
	return ret;
}

static ssize_t hostile_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	struct ntb_sim_host *host = file->private_data;
	struct ntb_dev *ntb = &host->ntb;
	char buf[64], cmd[8];
	u64 a, b, c, d;
	int n, ret;

	ret = read_cmd(ubuf, count, buf, sizeof(buf));
	if (ret)
		return ret;
	n = sscanf(buf, "%7s %lli %lli %lli %lli", cmd, &a, &b, &c, &d);
	if (n == 4 && !strcmp(cmd, "spad"))
		ret = ntb_peer_spad_write(ntb, a, b, c);
	else if (n == 4 && !strcmp(cmd, "msg"))
		ret = ntb_peer_msg_write(ntb, a, b, c);
	else if (n == 2 && !strcmp(cmd, "db"))
		ret = ntb_peer_db_set(ntb, a);
	else if (n == 4 && !strcmp(cmd, "mw"))
		ret = hostile_mw(host, a, b, c);
	else if (n == 5 && !strcmp(cmd, "xlat"))
		ret = hostile_xlat(host, a, b, c, d);
	else if (n == 4 && !strcmp(cmd, "frames"))
		ret = hostile_frames(host, a, b, c);
	else
		ret = -EINVAL;
	return ret ?: count;
}

static const struct file_operations hostile_fops = {
	.open = simple_open,
	.write = hostile_write,
};

static int db_vectors_show(struct seq_file *s, void *unused)
{
	struct ntb_sim_host *host = s->private;
	unsigned int shift = host->fabric->profile->multiport ? NTB_SIM_OUTDB_BITS : 0;
	int bit;

	for (bit = 0; bit < host->fabric->profile->db_bits; bit++)
		seq_printf(s, "%d %d\n", bit, pci_irq_vector(host->edu, shift + bit));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(db_vectors);

/**
 * ntb_sim_debugfs_add_host() - make a host's debugfs directory
 * @host: the new host, registered with the NTB core
 */
void ntb_sim_debugfs_add_host(struct ntb_sim_host *host)
{
	host->debugfs = debugfs_create_dir(pci_name(host->edu),
					   host->fabric->debugfs);
	debugfs_create_file("port", 0444, host->debugfs, host, &port_fops);
	if (host->kind == NTB_SIM_IVSHMEM)
		debugfs_create_file("db_vectors", 0444, host->debugfs, host,
				    &db_vectors_fops);
	debugfs_create_file("hostile", 0200, host->debugfs, host,
			    &hostile_fops);
	if (!host->fabric->profile->multiport)
		debugfs_create_file("ring", 0600, host->debugfs, host,
				    &ring_fops);
}

/**
 * ntb_sim_debugfs_init() - make the driver's debugfs root
 */
void ntb_sim_debugfs_init(void)
{
	ntb_sim_debugfs_root = debugfs_create_dir("ntb_sim", NULL);
}

/**
 * ntb_sim_debugfs_exit() - remove the driver's debugfs root
 */
void ntb_sim_debugfs_exit(void)
{
	debugfs_remove_recursive(ntb_sim_debugfs_root);
}
