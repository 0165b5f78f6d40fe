// SPDX-License-Identifier: GPL-2.0
/*
 * lending_fuzz: KUnit suites that feed every parser of peer data in
 * ntb_lending seeded random and mutated input: the message unpackers
 * (wire.h), the channel's frames and their reassembly (chan.c), the
 * switch transport's packets and senders interleaved (xport_msgreg.c),
 * config requests with the lender's config space virtualization behind
 * them (rpc.c, dp_lent_config.c), and the borrower's taking of the
 * lender's answers (rpc.c, borrower.c). Test only;
 * Documentation/ntb-lending/testing.rst.
 *
 * The code under test is the module's own, not a copy: this file includes
 * those .c files and peer.c, so that their static functions are in
 * reach, and builds them into a module of its own that needs no NTB
 * device, no PCI function and no ntb_lending.ko. Their exports and
 * borrower.c's parameter are left out, so that it loads beside
 * ntb_lending.ko too. What they call below them is faked here: a
 * transport that records what it is given, NTB message registers, a PCI
 * function's config space in memory, and dp_vbus.c, which nothing here
 * reaches.
 *
 * Every case draws from a generator seeded with the module parameter
 * @seed and the case's name, so a case replays alone; each prints the seed
 * and the inputs it ran. @inputs is the total over all cases.
 */

#include <kunit/test.h>
#include <linux/export.h>
#include <linux/module.h>
#include <linux/prandom.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/stringhash.h>

static unsigned long long seed;
module_param(seed, ullong, 0444);
MODULE_PARM_DESC(seed, "Seed of every case's inputs (default 0: a random one, printed)");

static uint inputs = 100000;
module_param(inputs, uint, 0444);
MODULE_PARM_DESC(inputs, "Inputs of all cases together (default 100000)");

/* The exports belong to ntb_lending.ko: left out here, to a no-op. */
#undef EXPORT_SYMBOL_NS_GPL
#define EXPORT_SYMBOL_NS_GPL(sym, ns) static_assert(sizeof(#sym #ns) > 2)

/* So does borrower.c's parameter: not made here. */
#undef module_param_cb
#define module_param_cb(name, ops, arg, perm)				\
	static const struct kernel_param_ops *const __used		\
	lending_fuzz_unused_##name =					\
		(ops) + BUILD_BUG_ON_ZERO(!sizeof(*(arg)) || (perm) < 0)
#undef MODULE_PARM_DESC
#define MODULE_PARM_DESC(name, desc) static_assert(sizeof(#name desc) > 1)

#include "../../../../../../../drivers/ntb/lending/chan.c"
#include "../../../../../../../drivers/ntb/lending/rpc.c"
#include "../../../../../../../drivers/ntb/lending/xport_msgreg.c"
#include "../../../../../../../drivers/ntb/lending/dp_lent_config.c"
#undef pr_fmt
#include "../../../../../../../drivers/ntb/lending/peer.c"
#include "../../../../../../../drivers/ntb/lending/borrower.c"

/*
 * What borrower.c calls of dp_vbus.c, which is not built in: only an
 * attach, after a lender's answers were taken, reaches it, and no case
 * gets that far.
 */
struct ntbl_vbus *ntbl_vbus_create(const struct ntbl_vbus_info *info)
{
	return ERR_PTR(-ENODEV);
}

void ntbl_vbus_add(struct ntbl_vbus *vbus)
{
}

void ntbl_vbus_link_lost(struct ntbl_vbus *vbus)
{
}

void ntbl_vbus_remove(struct ntbl_vbus *vbus)
{
}

void ntbl_vbus_free(struct ntbl_vbus *vbus)
{
}

void ntbl_vbus_doorbell(struct ntbl_vbus *vbus, u64 bits)
{
}

struct pci_dev *ntbl_vbus_pci_dev(struct ntbl_vbus *vbus)
{
	return NULL;
}

/* --- the generator -------------------------------------------------------- */

/**
 * struct fuzz - one case's run
 * @test: the case
 * @rnd: its generator, seeded from @seed and the case's name
 * @seed: that seed
 * @n: the input being tried, for the message of a failed assertion
 * @total: inputs of this case
 */
struct fuzz {
	struct kunit *test;
	struct rnd_state rnd;
	u64 seed;
	unsigned int n;
	unsigned int total;
};

/* Stop the case at the first failure, naming the input and the seed. */
static void fuzz_fail(struct fuzz *fz, const char *cond, int line)
{
	kunit_err(fz->test, "line %d: %s: input %u of %u, seed %llu\n",
		  line, cond, fz->n, fz->total, fz->seed);
	KUNIT_FAIL_AND_ABORT(fz->test, "the first failure; its case stops");
}

#define FUZZ_ASSERT(fz, cond)						\
	do {								\
		if (!(cond))						\
			fuzz_fail(fz, #cond, __LINE__);			\
	} while (0)

/*
 * The first @total inputs that case @name draws from @seed, as a
 * regression case replays them.
 */
static void fuzz_start_as(struct fuzz *fz, struct kunit *test,
			  const char *name, u64 seed, unsigned int total)
{
	fz->test = test;
	fz->seed = seed;
	fz->n = 0;
	fz->total = total;
	prandom_seed_state(&fz->rnd,
			   seed ^ hashlen_string(NULL, name) * 0x9e3779b97f4a7c15ULL);
	kunit_info(test, "seed %llu, %u inputs\n", seed, fz->total);
}

/* @pct per cent of @inputs, at least one. */
static void fuzz_start(struct fuzz *fz, struct kunit *test, unsigned int pct)
{
	fuzz_start_as(fz, test, test->name, seed,
		      max_t(unsigned int, 1, div_u64((u64)inputs * pct, 100)));
}

/*
 * Whether input @fz->n is still to be tried. A million inputs take
 * minutes: let others run between them (no soft lockup).
 */
static bool fuzz_go_on(struct fuzz *fz)
{
	cond_resched();
	return fz->n < fz->total;
}

static u32 rnd32(struct fuzz *fz)
{
	return prandom_u32_state(&fz->rnd);
}

static u64 rnd64(struct fuzz *fz)
{
	return (u64)rnd32(fz) << 32 | rnd32(fz);
}

/* Uniform in [0, n). */
static u32 rnd_below(struct fuzz *fz, u32 n)
{
	return n ? (u32)(((u64)rnd32(fz) * n) >> 32) : 0;
}

/* True one time in @n. */
static bool one_in(struct fuzz *fz, u32 n)
{
	return !rnd_below(fz, n);
}

/* A word a parser may stumble on more often than on a random one. */
static u32 rnd_word(struct fuzz *fz)
{
	static const u32 edge[] = {
		0, 1, 2, 3, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff,
		0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
	};

	if (one_in(fz, 3))
		return edge[rnd_below(fz, ARRAY_SIZE(edge))];
	if (one_in(fz, 4))
		return BIT(rnd_below(fz, 32));
	return rnd32(fz);
}

/* --- wire.h: valid messages of every type --------------------------------- */

/* Bits of a 64-bit mask, at most @max of them. */
static u64 rnd_bits(struct fuzz *fz, unsigned int max)
{
	unsigned int nr = rnd_below(fz, max + 1);
	u64 bits = 0;

	while (hweight64(bits) < nr)
		bits |= BIT_ULL(rnd_below(fz, 64));
	return bits;
}

#define FUZZ_MSG_KINDS	10

/* A message packed by wire.h of kind @kind, from random fields. */
static void fuzz_pack(struct fuzz *fz, unsigned int kind, bool switched,
		      struct ntbl_msg *msg)
{
	union {
		struct ntbl_wire_hello h;
		struct ntbl_wire_offer o;
		struct ntbl_wire_borrow b;
		struct ntbl_wire_bars bars;
		struct ntbl_wire_db d;
	} u;
	unsigned int i;

	memset(&u, 0, sizeof(u));
	switch (kind) {
	case 0:
		u.h = (struct ntbl_wire_hello){ rnd_word(fz), rnd_word(fz),
						rnd_word(fz) };
		ntbl_pack_hello(msg, &u.h);
		break;
	case 1:
		u.o = (struct ntbl_wire_offer){
			.index = rnd_word(fz), .state = rnd_word(fz),
			.bdf = rnd_word(fz), .vendor = rnd32(fz),
			.device = rnd32(fz), .class = rnd_word(fz),
			.borrower = rnd_word(fz),
		};
		ntbl_pack_offer(msg, &u.o);
		break;
	case 2:
		ntbl_pack_withdraw(msg, rnd_word(fz));
		break;
	case 3:
		u.b = (struct ntbl_wire_borrow){
			.index = rnd_word(fz), .vectors = rnd64(fz),
			.tag = rnd_word(fz),
			.mem_size = switched ? rnd64(fz) : 0,
		};
		ntbl_pack_borrow(msg, &u.b, switched);
		break;
	case 4:
		u.bars.tag = rnd_word(fz);
		u.bars.status = rnd_word(fz);
		u.bars.span_size = rnd64(fz);
		u.bars.mem_addr = rnd64(fz);
		for (i = 0; i < PCI_STD_NUM_BARS; i++) {
			u.bars.bar[i].offset = rnd64(fz);
			u.bars.bar[i].size = one_in(fz, 3) ? 0 : rnd64(fz);
			u.bars.bar[i].flags = rnd_word(fz);
		}
		u.bars.widx = rnd_word(fz);
		u.bars.span_phys = switched ? rnd64(fz) : 0;
		ntbl_pack_borrow_bars(msg, &u.bars, switched);
		break;
	case 5:
		u.d.tag = rnd_word(fz);
		u.d.vectors = rnd_bits(fz, NTBL_BORROW_DB_MAX);
		u.d.nr = hweight64(u.d.vectors);
		for (i = 0; i < u.d.nr; i++) {
			u.d.db[i].addr = rnd64(fz);
			u.d.db[i].data = rnd_word(fz);
		}
		ntbl_pack_borrow_db(msg, &u.d);
		break;
	case 6:
		ntbl_pack_return(msg, rnd_word(fz), rnd_word(fz));
		break;
	case 7:
		ntbl_pack_revoke(msg, rnd_word(fz), rnd_word(fz));
		break;
	case 8:
		ntbl_pack_status(msg, NTBL_MSG_RETURN_DONE, rnd_word(fz),
				 (int)rnd_word(fz));
		break;
	default:
		ntbl_pack_status(msg, NTBL_MSG_REVOKE_DONE, rnd_word(fz),
				 (int)rnd_word(fz));
		break;
	}
}

/* What every unpacker must return for @msg: the rule of each layout. */
static int want_hello(const struct ntbl_msg *m)
{
	return m->len < NTBL_HELLO_LEN ? -EINVAL : 0;
}

static int want_borrow_db(const struct ntbl_msg *m)
{
	unsigned int nr;

	if (m->len < NTBL_BORROW_DB_LEN(0))
		return -EINVAL;
	nr = hweight64(ntbl_wire_get64(&m->w[1]));
	if (nr > NTBL_BORROW_DB_MAX || m->len != NTBL_BORROW_DB_LEN(nr))
		return -EINVAL;
	return 0;
}

/*
 * Unpack @msg with every unpacker (none looks at the type) and check each
 * result against the layout: refused with -EINVAL exactly when the length
 * breaks its rule, and when taken every field is its words.
 */
/*
 * The BARs of a BORROW_BARS as protocol.rst lays it out: the head (8
 * words, 10 on a switch) with the mask of the BARs in w7, then 5 words per
 * BAR in it, into @bar unless it is NULL; false if @m's mask or length is
 * not so.
 */
static bool fuzz_bars_of(const struct ntbl_msg *m, bool sw,
			 struct ntbl_wire_bar *bar)
{
	unsigned int head = sw ? 10 : 8, at = head, i;
	u32 mask;

	if (m->len < head)
		return false;
	mask = m->w[7];
	if (mask >> PCI_STD_NUM_BARS || m->len != head + 5 * hweight32(mask))
		return false;
	for (i = 0; bar && i < PCI_STD_NUM_BARS; i++) {
		bar[i] = (struct ntbl_wire_bar){};
		if (!(mask & BIT(i)))
			continue;
		bar[i].offset = ntbl_wire_get64(&m->w[at]);
		bar[i].size = ntbl_wire_get64(&m->w[at + 2]);
		bar[i].flags = m->w[at + 4];
		at += 5;
	}
	return true;
}

static void fuzz_unpack_all(struct fuzz *fz, const struct ntbl_msg *m)
{
	const u32 *w = m->w;
	struct ntbl_wire_hello h;
	struct ntbl_wire_offer o;
	struct ntbl_wire_borrow b;
	struct ntbl_wire_bar want_bar[PCI_STD_NUM_BARS];
	struct ntbl_wire_bars *bars;
	struct ntbl_wire_db *d;
	struct ntbl_wire_req r;
	struct ntbl_wire_status s;
	unsigned int i;
	bool sw;
	u32 idx;
	int ret;

	bars = kunit_kzalloc(fz->test, sizeof(*bars), GFP_KERNEL);
	d = kunit_kzalloc(fz->test, sizeof(*d), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(fz->test, bars);
	KUNIT_ASSERT_NOT_NULL(fz->test, d);

	ret = ntbl_unpack_hello(m, &h);
	FUZZ_ASSERT(fz, ret == want_hello(m));
	FUZZ_ASSERT(fz, ret || (h.version == w[0] && h.node == w[1] &&
				h.flags == w[2]));

	ret = ntbl_unpack_offer(m, &o);
	FUZZ_ASSERT(fz, ret == (m->len < NTBL_OFFER_LEN ? -EINVAL : 0));
	FUZZ_ASSERT(fz, ret || (o.index == w[0] && o.state == w[1] &&
				o.bdf == w[2] &&
				((u32)o.vendor << 16 | o.device) == w[3] &&
				o.class == w[4] && o.borrower == w[5]));

	ret = ntbl_unpack_withdraw(m, &idx);
	FUZZ_ASSERT(fz, ret == (m->len < NTBL_WITHDRAW_LEN ? -EINVAL : 0));
	FUZZ_ASSERT(fz, ret || idx == w[0]);

	for (sw = false; ; sw = true) {
		ret = ntbl_unpack_borrow(m, &b, sw);
		FUZZ_ASSERT(fz, ret == (m->len < NTBL_BORROW_LEN(sw) ? -EINVAL : 0));
		FUZZ_ASSERT(fz, ret || (b.index == w[0] &&
					b.vectors == ntbl_wire_get64(&w[1]) &&
					b.tag == w[3] &&
					b.mem_size == (sw ? ntbl_wire_get64(&w[4]) : 0)));

		ret = ntbl_unpack_borrow_bars(m, bars, sw);
		FUZZ_ASSERT(fz, ret == (fuzz_bars_of(m, sw, want_bar) ? 0 : -EINVAL));
		for (i = 0; !ret && i < PCI_STD_NUM_BARS; i++)
			FUZZ_ASSERT(fz, bars->bar[i].offset == want_bar[i].offset &&
				    bars->bar[i].size == want_bar[i].size &&
				    bars->bar[i].flags == want_bar[i].flags);
		FUZZ_ASSERT(fz, ret || (bars->tag == w[0] &&
					bars->status == (s32)w[1] &&
					bars->span_size == ntbl_wire_get64(&w[2]) &&
					bars->mem_addr == ntbl_wire_get64(&w[4]) &&
					bars->widx == w[6]));
		FUZZ_ASSERT(fz, ret || bars->span_phys ==
			    (sw ? ntbl_wire_get64(&w[8]) : 0));
		if (sw)
			break;
	}

	ret = ntbl_unpack_borrow_db(m, d);
	FUZZ_ASSERT(fz, ret == want_borrow_db(m));
	FUZZ_ASSERT(fz, ret || (d->tag == w[0] &&
				d->vectors == ntbl_wire_get64(&w[1]) &&
				d->nr == hweight64(d->vectors) &&
				d->nr <= NTBL_BORROW_DB_MAX));
	for (i = 0; !ret && i < d->nr; i++)
		FUZZ_ASSERT(fz, d->db[i].addr == ntbl_wire_get64(&w[3 + 3 * i]) &&
			    d->db[i].data == w[5 + 3 * i]);

	ret = ntbl_unpack_return(m, &r);
	FUZZ_ASSERT(fz, ret == (m->len < NTBL_REQ_LEN ? -EINVAL : 0));
	FUZZ_ASSERT(fz, ret || (r.index == w[0] && r.tag == w[1]));
	ret = ntbl_unpack_revoke(m, &r);
	FUZZ_ASSERT(fz, ret == (m->len < NTBL_REQ_LEN ? -EINVAL : 0));

	ret = ntbl_unpack_status(m, &s);
	FUZZ_ASSERT(fz, ret == (m->len < NTBL_STATUS_LEN ? -EINVAL : 0));
	FUZZ_ASSERT(fz, ret || (s.tag == w[0] && s.status == (s32)w[1]));

	kunit_kfree(fz->test, bars);
	kunit_kfree(fz->test, d);
}

/* Unpack @m as @kind into @u and pack it again into @again; its result. */
union fuzz_fields {
	struct ntbl_wire_hello h;
	struct ntbl_wire_offer o;
	struct ntbl_wire_borrow b;
	struct ntbl_wire_bars bars;
	struct ntbl_wire_db d;
	struct ntbl_wire_req r;
	struct ntbl_wire_status s;
	u32 index;
};

static int fuzz_unpack_kind(unsigned int kind, bool sw, const struct ntbl_msg *m,
			    union fuzz_fields *u, struct ntbl_msg *again)
{
	int ret;

	switch (kind) {
	case 0:
		ret = ntbl_unpack_hello(m, &u->h);
		ntbl_pack_hello(again, &u->h);
		break;
	case 1:
		ret = ntbl_unpack_offer(m, &u->o);
		ntbl_pack_offer(again, &u->o);
		break;
	case 2:
		ret = ntbl_unpack_withdraw(m, &u->index);
		ntbl_pack_withdraw(again, u->index);
		break;
	case 3:
		ret = ntbl_unpack_borrow(m, &u->b, sw);
		ntbl_pack_borrow(again, &u->b, sw);
		break;
	case 4:
		ret = ntbl_unpack_borrow_bars(m, &u->bars, sw);
		ntbl_pack_borrow_bars(again, &u->bars, sw);
		break;
	case 5:
		ret = ntbl_unpack_borrow_db(m, &u->d);
		if (!ret)
			ntbl_pack_borrow_db(again, &u->d);
		break;
	case 6:
		ret = ntbl_unpack_return(m, &u->r);
		ntbl_pack_return(again, u->r.index, u->r.tag);
		break;
	case 7:
		ret = ntbl_unpack_revoke(m, &u->r);
		ntbl_pack_revoke(again, u->r.index, u->r.tag);
		break;
	default:
		ret = ntbl_unpack_status(m, &u->s);
		ntbl_pack_status(again, m->type, u->s.tag, u->s.status);
		break;
	}
	return ret;
}

/*
 * Unpack @m, which @kind packed (its length maybe changed): 0 or -EINVAL
 * as @want says, and when taken, packed again, the message as packed.
 */
static void fuzz_repack(struct fuzz *fz, unsigned int kind, bool sw,
			const struct ntbl_msg *m, unsigned int len, int want)
{
	struct ntbl_msg *again;
	union fuzz_fields *u;
	int ret;

	again = kunit_kzalloc(fz->test, sizeof(*again), GFP_KERNEL);
	u = kunit_kzalloc(fz->test, sizeof(*u), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(fz->test, again);
	KUNIT_ASSERT_NOT_NULL(fz->test, u);
	ret = fuzz_unpack_kind(kind, sw, m, u, again);
	FUZZ_ASSERT(fz, ret == want);
	if (!ret) {
		FUZZ_ASSERT(fz, again->type == m->type && again->len == len);
		FUZZ_ASSERT(fz, !memcmp(again->w, m->w, len * sizeof(u32)));
	}
	kunit_kfree(fz->test, again);
	kunit_kfree(fz->test, u);
}

/* The shortest length each kind of request must have, or its exact one. */
static unsigned int fuzz_min_len(unsigned int kind, bool sw)
{
	static const u8 len[FUZZ_MSG_KINDS] = {
		NTBL_HELLO_LEN, NTBL_OFFER_LEN, NTBL_WITHDRAW_LEN, 0, 0, 0,
		NTBL_REQ_LEN, NTBL_REQ_LEN, NTBL_STATUS_LEN, NTBL_STATUS_LEN,
	};

	if (kind == 3)
		return NTBL_BORROW_LEN(sw);
	return len[kind];
}

static void wire_valid_messages_round_trip(struct kunit *test)
{
	struct ntbl_msg msg;
	struct fuzz fz;
	unsigned int kind;
	bool sw;

	fuzz_start(&fz, test, 8);
	for (fz.n = 0; fuzz_go_on(&fz); fz.n++) {
		kind = rnd_below(&fz, FUZZ_MSG_KINDS);
		sw = rnd32(&fz) & 1;
		fuzz_pack(&fz, kind, sw, &msg);
		FUZZ_ASSERT(&fz, msg.len <= NTBL_MSG_WORDS);
		fuzz_repack(&fz, kind, sw, &msg, msg.len, 0);
		fuzz_unpack_all(&fz, &msg);
	}
}

/*
 * A request cut short is refused, one longer than its layout is taken
 * with its fields unchanged; a reply of another length than its own
 * (BORROW_BARS, BORROW_DB) is refused.
 */
static void wire_short_messages_refused(struct kunit *test)
{
	struct ntbl_msg msg;
	struct fuzz fz;
	unsigned int kind, len;
	int want;
	bool sw;

	fuzz_start(&fz, test, 6);
	for (fz.n = 0; fuzz_go_on(&fz); fz.n++) {
		kind = rnd_below(&fz, FUZZ_MSG_KINDS);
		sw = rnd32(&fz) & 1;
		fuzz_pack(&fz, kind, sw, &msg);
		len = msg.len;
		if (len && one_in(&fz, 2)) {
			msg.len = rnd_below(&fz, len);
		} else {
			msg.len = len + 1 + rnd_below(&fz, NTBL_MSG_WORDS - len);
			msg.len = min_t(unsigned int, msg.len, NTBL_MSG_WORDS);
		}
		if (kind == 4 || kind == 5)
			want = msg.len == len ? 0 : -EINVAL;
		else
			want = msg.len < fuzz_min_len(kind, sw) ? -EINVAL : 0;
		/* Words past the layout are not read. */
		if (msg.len > len)
			memset(&msg.w[len], 0xa5, (msg.len - len) * sizeof(u32));
		fuzz_repack(&fz, kind, sw, &msg, len, want);
		fuzz_unpack_all(&fz, &msg);
	}
}

/* Change a valid message the way a lying or broken peer could. */
static void fuzz_mutate_msg(struct fuzz *fz, struct ntbl_msg *msg)
{
	unsigned int i, nr = 1 + rnd_below(fz, 4);

	for (i = 0; i < nr; i++) {
		switch (rnd_below(fz, 6)) {
		case 0:
			msg->w[rnd_below(fz, NTBL_MSG_WORDS)] ^= BIT(rnd_below(fz, 32));
			break;
		case 1:
			msg->w[rnd_below(fz, clamp_t(u32, msg->len, 1, NTBL_MSG_WORDS))] =
				rnd_word(fz);
			break;
		case 2:
			msg->len = rnd_below(fz, 256);
			break;
		case 3:
			msg->len = clamp_t(int, msg->len + (int)rnd_below(fz, 7) - 3,
					   0, 255);
			break;
		case 4:
			msg->type = rnd32(fz);
			break;
		default:
			/* BORROW_DB: a vector mask that disagrees with the length */
			ntbl_wire_put64(&msg->w[1], rnd_bits(fz, 20));
			break;
		}
	}
}

static void wire_mutated_messages(struct kunit *test)
{
	struct ntbl_msg msg;
	struct fuzz fz;

	fuzz_start(&fz, test, 10);
	for (fz.n = 0; fuzz_go_on(&fz); fz.n++) {
		fuzz_pack(&fz, rnd_below(&fz, FUZZ_MSG_KINDS), rnd32(&fz) & 1,
			  &msg);
		fuzz_mutate_msg(&fz, &msg);
		fuzz_unpack_all(&fz, &msg);
	}
}

static struct kunit_case wire_cases[] = {
	KUNIT_CASE_SLOW(wire_valid_messages_round_trip),
	KUNIT_CASE_SLOW(wire_short_messages_refused),
	KUNIT_CASE_SLOW(wire_mutated_messages),
	{}
};

static struct kunit_suite wire_suite = {
	.name = "ntbl_fuzz_wire",
	.test_cases = wire_cases,
};

/* --- chan.c: a transport that loops back ---------------------------------- */

/**
 * struct fuzz_loop - an adapter with one peer and a transport that records
 * @adapter: the adapter; its one peer is @peer
 * @peer: both the sender of the frames the real send_msg() makes and the
 *	receiver of those the case hands to ntbl_chan_frame()
 * @frames: the frames of the last message sent
 * @nframes: entries in @frames
 * @acks: acknowledgments sent by the receiving side
 * @ack_seq: the last one's sequence number
 * @rpc: the last config request or answer sent
 * @rpc_sent: how many were sent
 * @rpc_was_answer: whether the last was an answer
 * @ntb: the peer's NTB device, for the driver's messages
 * @lender: what answers the config requests sent, for the cases that have
 *	one (struct fuzz_lender)
 * @reset_on_send: the link is lost as the next frame goes out, so that a
 *	borrower that waits for an answer that is not coming stops at once
 */
struct fuzz_loop {
	struct ntbl_adapter adapter;
	struct ntbl_peer peer;
	u32 frames[NTBL_MSG_FRAGS][NTBL_FRAME_WORDS];
	unsigned int nframes;
	unsigned int acks;
	u8 ack_seq;
	u32 rpc[NTBL_RPC_WORDS];
	unsigned int rpc_sent;
	bool rpc_was_answer;
	struct ntb_dev ntb;
	struct fuzz_lender *lender;
	bool reset_on_send;
};

static struct fuzz_loop *to_loop(struct ntbl_peer *peer)
{
	return container_of(peer->adapter, struct fuzz_loop, adapter);
}

/* The lender of a case that has one: below, with its case. */
static void fuzz_lender_asked(struct fuzz_lender *lender, const u32 *w);
static void fuzz_lender_answer(struct fuzz_lender *lender, u32 *w);
static void fuzz_lender_forget(struct fuzz_lender *lender);

/* Keep the frame, and acknowledge it at once so that send_msg() goes on. */
static void loop_send_frame(struct ntbl_peer *peer, const u32 *w)
{
	struct fuzz_loop *loop = to_loop(peer);

	if (loop->nframes < NTBL_MSG_FRAGS)
		memcpy(loop->frames[loop->nframes++], w,
		       NTBL_FRAME_WORDS * sizeof(u32));
	if (READ_ONCE(loop->reset_on_send))
		ntbl_chan_reset(peer);
	ntbl_chan_acked(peer, HDR_SEQ(w[0]));
}

static void loop_send_ack(struct ntbl_peer *peer, u8 seq)
{
	struct fuzz_loop *loop = to_loop(peer);

	loop->acks++;
	loop->ack_seq = seq;
}

static int loop_send_rpc(struct ntbl_peer *peer, bool answer, const u32 *w)
{
	struct fuzz_loop *loop = to_loop(peer);

	if (loop->lender && !answer)
		fuzz_lender_asked(loop->lender, w);
	memcpy(loop->rpc, w, sizeof(loop->rpc));
	loop->rpc_was_answer = answer;
	loop->rpc_sent++;
	return 0;
}

/* A config answer, or none, as the case's lender decides at each poll. */
static void loop_rpc_answer(struct ntbl_peer *peer, u32 *w)
{
	fuzz_lender_answer(to_loop(peer)->lender, w);
}

static void loop_rpc_forget(struct ntbl_peer *peer)
{
	fuzz_lender_forget(to_loop(peer)->lender);
}

static const struct ntbl_xport_ops loop_xport = {
	.name = "lending_fuzz loop",
	.send_frame = loop_send_frame,
	.send_ack = loop_send_ack,
	.send_rpc = loop_send_rpc,
	.rpc_answer = loop_rpc_answer,
	.rpc_forget = loop_rpc_forget,
};

static void loop_rx_work(struct work_struct *work)
{
	/* The case takes the messages itself, with ntbl_chan_next(). */
}

/* No op at all: every NTB device has its ops, and the core's defaults. */
static const struct ntb_dev_ops loop_ntb_ops = {};

static struct fuzz_loop *loop_new(struct kunit *test)
{
	struct fuzz_loop *loop;

	loop = kunit_kzalloc(test, sizeof(*loop), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, loop);
	loop->ntb.dev.init_name = "lending_fuzz";
	loop->ntb.ops = &loop_ntb_ops;
	loop->adapter.xport = &loop_xport;
	loop->adapter.wq = system_wq;
	mutex_init(&loop->adapter.lock);
	init_waitqueue_head(&loop->adapter.idle);
	INIT_WORK(&loop->adapter.rx_work, loop_rx_work);
	loop->adapter.peers = &loop->peer;
	loop->adapter.npeers = 1;
	loop->peer.adapter = &loop->adapter;
	loop->peer.ntb = &loop->ntb;
	loop->peer.port = 1;
	raw_spin_lock_init(&loop->peer.call_lock);
	raw_spin_lock_init(&loop->peer.serve_lock);
	ntbl_chan_init(&loop->peer);
	ntbl_rpc_reset(&loop->peer);
	return loop;
}

static void loop_free(struct fuzz_loop *loop)
{
	ntbl_chan_reset(&loop->peer);
	cancel_work_sync(&loop->peer.chan.tx_work);
	ntbl_chan_reset(&loop->peer);
	cancel_work_sync(&loop->adapter.rx_work);
}

/* The frames the real send_msg() makes of @msg; their number. */
static unsigned int loop_frames(struct fuzz_loop *loop,
				const struct ntbl_msg *msg)
{
	loop->nframes = 0;
	if (send_msg(&loop->peer, msg, ntbl_chan_epoch(&loop->peer)))
		return 0;
	return loop->nframes;
}

/* Take one complete message, a request or a reply; false if none. */
static bool loop_take(struct fuzz_loop *loop, struct ntbl_msg *msg)
{
	struct ntbl_chan *chan = &loop->peer.chan;
	struct ntbl_rxmsg *rxm;
	struct ntbl_peer *from;

	if (ntbl_chan_next(&loop->adapter, &from, msg))
		return true;
	spin_lock_irq(&chan->lock);
	rxm = list_first_entry_or_null(&chan->replies, struct ntbl_rxmsg, node);
	if (rxm) {
		list_del(&rxm->node);
		chan->nr_replies--;
	}
	spin_unlock_irq(&chan->lock);
	if (!rxm)
		return false;
	*msg = rxm->msg;
	kfree(rxm);
	return true;
}

/* A valid message: one wire.h packs, or any type and length up to the most. */
static void fuzz_any_msg(struct fuzz *fz, struct ntbl_msg *msg)
{
	unsigned int i;

	if (one_in(fz, 2)) {
		fuzz_pack(fz, rnd_below(fz, FUZZ_MSG_KINDS), rnd32(fz) & 1, msg);
		return;
	}
	ntbl_wire_init(msg, rnd32(fz), rnd_below(fz, NTBL_MSG_WORDS + 1));
	for (i = 0; i < msg->len; i++)
		msg->w[i] = rnd_word(fz);
}

/* Feed one frame; check what the channel did with it. */
static void fuzz_feed(struct fuzz *fz, struct fuzz_loop *loop, const u32 *w)
{
	struct ntbl_chan *chan = &loop->peer.chan;
	unsigned int acks = loop->acks;
	int rx_seq = chan->rx_seq;
	unsigned int rx_frag = chan->rx_frag;

	ntbl_chan_frame(&loop->peer, w);
	if (csum(w)) {
		/* Corrupted: dropped unacknowledged, nothing changed. */
		FUZZ_ASSERT(fz, loop->acks == acks);
		FUZZ_ASSERT(fz, chan->rx_seq == rx_seq && chan->rx_frag == rx_frag);
	} else {
		FUZZ_ASSERT(fz, loop->acks == acks + 1);
		FUZZ_ASSERT(fz, loop->ack_seq == HDR_SEQ(w[0]));
		FUZZ_ASSERT(fz, chan->rx_seq == HDR_SEQ(w[0]));
		if (rx_seq == HDR_SEQ(w[0]))
			FUZZ_ASSERT(fz, chan->rx_frag == rx_frag);
	}
	FUZZ_ASSERT(fz, chan->rx.len <= NTBL_MSG_WORDS);
	FUZZ_ASSERT(fz, chan->rx_frag <= NTBL_MSG_FRAGS);
	FUZZ_ASSERT(fz, chan->nr_rx <= 1 && chan->nr_replies <= MAX_REPLIES);
}

/* Every message the real framing carries arrives whole and unchanged. */
static void chan_valid_messages_round_trip(struct kunit *test)
{
	struct fuzz_loop *loop = loop_new(test);
	struct ntbl_msg msg, got;
	unsigned int i, nr;
	struct fuzz fz;

	fuzz_start(&fz, test, 8);
	for (fz.n = 0; fuzz_go_on(&fz); fz.n++) {
		fuzz_any_msg(&fz, &msg);
		nr = loop_frames(loop, &msg);
		FUZZ_ASSERT(&fz, nr == max(1, DIV_ROUND_UP(msg.len, 3)));
		for (i = 0; i < nr; i++) {
			FUZZ_ASSERT(&fz, !csum(loop->frames[i]));
			fuzz_feed(&fz, loop, loop->frames[i]);
		}
		FUZZ_ASSERT(&fz, loop_take(loop, &got));
		FUZZ_ASSERT(&fz, got.type == msg.type && got.len == msg.len);
		FUZZ_ASSERT(&fz, !memcmp(got.w, msg.w, msg.len * sizeof(u32)));
		FUZZ_ASSERT(&fz, !loop_take(loop, &got));
	}
	loop_free(loop);
}

/* Fix the checksum of a frame, most of the time. */
static void fuzz_fix_csum(struct fuzz *fz, u32 *w)
{
	if (one_in(fz, 8))
		return;
	w[0] &= ~0xffU;
	w[0] |= (u8)-csum(w);
}

/*
 * The frames of valid messages, changed: bits flipped, fields of the
 * header set at random, frames dropped, repeated, swapped, or taken from
 * another message, checksums wrong one time in eight. Reassembly never
 * holds or yields more than NTBL_MSG_WORDS, every frame with a good
 * checksum is acknowledged and a bad one changes nothing; an unchanged
 * sequence still arrives as sent.
 */
static void chan_mutated_frames(struct kunit *test)
{
	struct fuzz_loop *loop = loop_new(test);
	u32 frames[2 * NTBL_MSG_FRAGS][NTBL_FRAME_WORDS];
	unsigned int i, j, nr, op;
	struct ntbl_msg msg, got;
	bool changed, fresh, taken;
	struct fuzz fz;
	u32 *w;

	fuzz_start(&fz, test, 12);
	for (fz.n = 0; fuzz_go_on(&fz); fz.n++) {
		fuzz_any_msg(&fz, &msg);
		nr = loop_frames(loop, &msg);
		memcpy(frames, loop->frames, sizeof(loop->frames));
		changed = !one_in(&fz, 8);
		for (j = 0; changed && j < 1 + rnd_below(&fz, 3); j++) {
			w = frames[rnd_below(&fz, nr)];
			op = rnd_below(&fz, 8);
			switch (op) {
			case 0:
				w[rnd_below(&fz, 4)] ^= BIT(rnd_below(&fz, 32));
				break;
			case 1:	/* fragment number */
				w[0] ^= (1 + rnd_below(&fz, 15)) << 12;
				break;
			case 2:	/* payload length, up to 7 */
				w[0] ^= (1 + rnd_below(&fz, 7)) << 8;
				break;
			case 3:	/* last flag */
				w[0] ^= HDR_LAST;
				break;
			case 4:	/* type */
				w[0] ^= (1 + rnd_below(&fz, 255)) << 24;
				break;
			case 5:	/* a frame lost */
				if (nr > 1) {
					i = rnd_below(&fz, nr);
					memmove(frames[i], frames[i + 1],
						(nr - i - 1) * sizeof(frames[0]));
					nr--;
				}
				continue;
			case 6:	/* a frame twice, maybe a new sequence number */
				if (nr < ARRAY_SIZE(frames)) {
					i = rnd_below(&fz, nr);
					memmove(frames[i + 1], frames[i],
						(nr - i) * sizeof(frames[0]));
					nr++;
					if (one_in(&fz, 2))
						frames[i + 1][0] ^= (1 + rnd_below(&fz, 255)) << 16;
					else
						continue;
					w = frames[i + 1];
				}
				break;
			default:	/* a random frame */
				for (i = 0; i < NTBL_FRAME_WORDS; i++)
					w[i] = rnd_word(&fz);
				break;
			}
			fuzz_fix_csum(&fz, w);
		}
		/* Unless a changed frame before had its sequence number. */
		fresh = loop->peer.chan.rx_seq != HDR_SEQ(frames[0][0]);
		taken = false;
		for (i = 0; i < nr; i++) {
			fuzz_feed(&fz, loop, frames[i]);
			while (loop_take(loop, &got)) {
				FUZZ_ASSERT(&fz, got.len <= NTBL_MSG_WORDS);
				FUZZ_ASSERT(&fz, changed || !fresh || i == nr - 1);
				taken = true;
			}
		}
		if (!changed && fresh) {
			/* got is the last message taken: the one sent */
			FUZZ_ASSERT(&fz, taken);
			FUZZ_ASSERT(&fz, got.type == msg.type && got.len == msg.len);
			FUZZ_ASSERT(&fz, !memcmp(got.w, msg.w, msg.len * sizeof(u32)));
		}
		/* A reset now and then: the next message starts anew. */
		if (one_in(&fz, 64))
			ntbl_chan_reset(&loop->peer);
	}
	loop_free(loop);
}

/* Random frames with good checksums, fragments of nothing. */
static void chan_random_frames(struct kunit *test)
{
	struct fuzz_loop *loop = loop_new(test);
	struct ntbl_msg got;
	u32 w[NTBL_FRAME_WORDS];
	struct fuzz fz;
	unsigned int i;

	fuzz_start(&fz, test, 8);
	for (fz.n = 0; fuzz_go_on(&fz); fz.n++) {
		for (i = 0; i < NTBL_FRAME_WORDS; i++)
			w[i] = rnd_word(&fz);
		/* Mostly well-formed headers, so that reassembly goes far. */
		if (!one_in(&fz, 4))
			w[0] = (w[0] & 0xff000000) | (fz.n & 0xff) << 16 |
			       rnd_below(&fz, NTBL_MSG_FRAGS + 1) << 12 |
			       (one_in(&fz, 8) ? HDR_LAST : 0) |
			       rnd_below(&fz, 5) << 8;
		fuzz_fix_csum(&fz, w);
		fuzz_feed(&fz, loop, w);
		while (loop_take(loop, &got))
			FUZZ_ASSERT(&fz, got.len <= NTBL_MSG_WORDS);
	}
	loop_free(loop);
}

static struct kunit_case chan_cases[] = {
	KUNIT_CASE_SLOW(chan_valid_messages_round_trip),
	KUNIT_CASE_SLOW(chan_mutated_frames),
	KUNIT_CASE_SLOW(chan_random_frames),
	{}
};

static struct kunit_suite chan_suite = {
	.name = "ntbl_fuzz_chan",
	.test_cases = chan_cases,
};

/* --- xport_msgreg.c: message registers in memory ------------------------- */

#define FUZZ_PEERS	3

/**
 * struct fuzz_mreg - a switch port's message registers and what it sent
 * @ntb: the NTB device the transport is bound to
 * @shift: the lowest inbound status bit (ntb_sim counts from 0, IDT from 16)
 * @sts: inbound and outbound status
 * @reg: our four registers
 * @from: the sender of each, as the hardware reports it
 * @out: the last packet written into a peer's registers
 * @out_pidx: that peer
 * @out_words: words written since the case last looked
 * @adapter: the adapter, its FUZZ_PEERS peers in @peers
 * @peers: the peers
 * @loop: makes the frames of valid messages
 */
struct fuzz_mreg {
	struct ntb_dev ntb;
	unsigned int shift;
	u64 sts;
	u32 reg[PKT_WORDS];
	int from[PKT_WORDS];
	u32 out[PKT_WORDS];
	int out_pidx;
	unsigned int out_words;
	struct ntbl_adapter adapter;
	struct ntbl_peer peers[FUZZ_PEERS];
	struct fuzz_loop *loop;
};

static struct fuzz_mreg *to_mreg(struct ntb_dev *ntb)
{
	return container_of(ntb, struct fuzz_mreg, ntb);
}

static int fmreg_count(struct ntb_dev *ntb)
{
	return PKT_WORDS;
}

static u64 fmreg_inbits(struct ntb_dev *ntb)
{
	return GENMASK_ULL(PKT_WORDS - 1, 0) << to_mreg(ntb)->shift;
}

static u64 fmreg_outbits(struct ntb_dev *ntb)
{
	return GENMASK_ULL(PKT_WORDS - 1, 0) << (to_mreg(ntb)->shift + 8);
}

static u64 fmreg_read_sts(struct ntb_dev *ntb)
{
	return to_mreg(ntb)->sts;
}

static int fmreg_clear_sts(struct ntb_dev *ntb, u64 bits)
{
	to_mreg(ntb)->sts &= ~bits;
	return 0;
}

static int fmreg_mask(struct ntb_dev *ntb, u64 bits)
{
	return 0;
}

static u32 fmreg_read(struct ntb_dev *ntb, int *pidx, int midx)
{
	struct fuzz_mreg *fm = to_mreg(ntb);

	*pidx = fm->from[midx];
	return fm->reg[midx];
}

static int fmreg_write(struct ntb_dev *ntb, int pidx, int midx, u32 msg)
{
	struct fuzz_mreg *fm = to_mreg(ntb);

	fm->out[midx] = msg;
	fm->out_pidx = pidx;
	fm->out_words++;
	return 0;
}

static const struct ntb_dev_ops fmreg_ops = {
	.msg_count = fmreg_count,
	.msg_inbits = fmreg_inbits,
	.msg_outbits = fmreg_outbits,
	.msg_read_sts = fmreg_read_sts,
	.msg_clear_sts = fmreg_clear_sts,
	.msg_set_mask = fmreg_mask,
	.msg_clear_mask = fmreg_mask,
	.msg_read = fmreg_read,
	.peer_msg_write = fmreg_write,
};

static struct fuzz_mreg *mreg_new(struct kunit *test, unsigned int shift)
{
	struct fuzz_mreg *fm;
	int i;

	fm = kunit_kzalloc(test, sizeof(*fm), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, fm);
	fm->ntb.ops = &fmreg_ops;
	fm->ntb.dev.init_name = "lending_fuzz";
	fm->shift = shift;
	fm->adapter.ntb = &fm->ntb;
	fm->adapter.xport = &ntbl_xport_msgreg;
	fm->adapter.switched = true;
	fm->adapter.wq = system_wq;
	INIT_WORK(&fm->adapter.rx_work, loop_rx_work);
	fm->adapter.peers = fm->peers;
	fm->adapter.npeers = FUZZ_PEERS;
	for (i = 0; i < FUZZ_PEERS; i++) {
		struct ntbl_peer *peer = &fm->peers[i];

		peer->adapter = &fm->adapter;
		peer->ntb = &fm->ntb;
		peer->pidx = i;
		peer->port = i + 1;
		raw_spin_lock_init(&peer->call_lock);
		raw_spin_lock_init(&peer->serve_lock);
		ntbl_chan_init(peer);
		ntbl_rpc_reset(peer);
	}
	KUNIT_ASSERT_EQ(test, mreg_bind(&fm->adapter), 0);
	fm->loop = loop_new(test);
	return fm;
}

static void mreg_free(struct fuzz_mreg *fm)
{
	int i;

	mreg_unbind(&fm->adapter);
	for (i = 0; i < FUZZ_PEERS; i++)
		ntbl_chan_reset(&fm->peers[i]);
	cancel_work_sync(&fm->adapter.rx_work);
	loop_free(fm->loop);
}

/* What a peer's state was before a packet, to see what the packet did. */
struct fuzz_mreg_seen {
	u8 acked[FUZZ_PEERS];
	int rx_seq[FUZZ_PEERS];
	u32 rpc_rsp[FUZZ_PEERS][NTBL_RPC_WORDS];
};

static void mreg_seen(struct fuzz_mreg *fm, struct fuzz_mreg_seen *s)
{
	struct mreg_xport *xp = to_xport(&fm->adapter);
	int i;

	for (i = 0; i < FUZZ_PEERS; i++) {
		s->acked[i] = fm->peers[i].chan.acked;
		s->rx_seq[i] = fm->peers[i].chan.rx_seq;
		memcpy(s->rpc_rsp[i], xp->peers[i].rpc_rsp, sizeof(s->rpc_rsp[i]));
	}
}

static bool mreg_same(struct fuzz_mreg *fm, const struct fuzz_mreg_seen *s,
		      int except)
{
	struct fuzz_mreg_seen now;
	int i;

	mreg_seen(fm, &now);
	for (i = 0; i < FUZZ_PEERS; i++)
		if (i != except && (now.acked[i] != s->acked[i] ||
				    now.rx_seq[i] != s->rx_seq[i] ||
				    memcmp(now.rpc_rsp[i], s->rpc_rsp[i],
					   sizeof(now.rpc_rsp[i]))))
			return false;
	return true;
}

/* A valid packet, as our own transport writes it into a peer's registers. */
static void mreg_valid_packet(struct fuzz *fz, struct fuzz_mreg *fm, u32 *w)
{
	struct ntbl_peer *peer = &fm->peers[0];
	struct ntbl_msg msg;
	u32 hdr, val;
	unsigned int nr;

	fm->out_words = 0;
	switch (rnd_below(fz, 4)) {
	case 0:
		mreg_send_ack(peer, rnd32(fz));
		break;
	case 1:	/* a config request, mostly of a plausible header */
	case 2:	/* or its answer */
		hdr = one_in(fz, 4) ? rnd32(fz) :
		      (1 + rnd_below(fz, 255)) << 24 | rnd_below(fz, 4) << 16 |
		      (rnd32(fz) & RPC_WRITE) | 4 << 12 |
		      rnd_below(fz, PCI_CFG_SPACE_EXP_SIZE / 4) * 4;
		val = rnd_word(fz);
		rpc_send(peer, rnd32(fz) & 1, hdr, val);
		break;
	default:
		fuzz_any_msg(fz, &msg);
		nr = loop_frames(fm->loop, &msg);
		memcpy(w, fm->loop->frames[rnd_below(fz, nr)],
		       NTBL_FRAME_WORDS * sizeof(u32));
		return;
	}
	FUZZ_ASSERT(fz, fm->out_words == PKT_WORDS);
	memcpy(w, fm->out, PKT_WORDS * sizeof(u32));
}

/*
 * What a whole packet of peer @pidx, @w, did once taken: it reached what
 * its head names and nothing else.
 */
static void mreg_check_whole(struct fuzz *fz, struct fuzz_mreg *fm,
			     const u32 *w, int pidx,
			     const struct fuzz_mreg_seen *seen)
{
	struct mreg_xport *xp = to_xport(&fm->adapter);

	FUZZ_ASSERT(fz, mreg_same(fm, seen, pidx));
	switch (w[0] >> 24) {
	case PKT_ACK:
		FUZZ_ASSERT(fz, !fm->out_words);
		FUZZ_ASSERT(fz, fm->peers[pidx].chan.acked == (u8)(w[0] >> 16));
		break;
	case PKT_RPC_RSP:
		FUZZ_ASSERT(fz, !fm->out_words);
		FUZZ_ASSERT(fz, !memcmp(xp->peers[pidx].rpc_rsp, &w[1],
					sizeof(xp->peers[pidx].rpc_rsp)));
		break;
	case PKT_RPC_REQ:
		if (w[3] != rpc_check(w[1], w[2])) {
			FUZZ_ASSERT(fz, !fm->out_words);
			break;
		}
		/* Answered, to its sender: no lend entry, ENODEV. */
		FUZZ_ASSERT(fz, fm->out_words == PKT_WORDS &&
			    fm->out_pidx == pidx);
		FUZZ_ASSERT(fz, fm->out[0] == PKT_RPC_RSP << 24);
		FUZZ_ASSERT(fz, fm->out[3] == rpc_check(fm->out[1], fm->out[2]));
		FUZZ_ASSERT(fz, fm->out[1] == ((w[1] & 0xff000000) | ENODEV));
		break;
	default:
		/* A frame: acknowledged to its sender if its checksum holds. */
		if (csum(w)) {
			FUZZ_ASSERT(fz, !fm->out_words);
		} else {
			FUZZ_ASSERT(fz, fm->out_words == PKT_WORDS &&
				    fm->out_pidx == pidx &&
				    fm->out[0] == (PKT_ACK << 24 | (w[0] & 0xff0000)));
		}
		FUZZ_ASSERT(fz, fm->peers[pidx].chan.rx.len <= NTBL_MSG_WORDS);
		break;
	}
}

/*
 * Packets in our registers as senders leave them, valid ones changed:
 * words flipped, heads of every type, a word missing or from another
 * sender, a sender that is no peer; taken by the message interrupt or by
 * a config request's poll. A whole packet of one peer reaches what its
 * head names and nothing else; anything else changes no peer's state;
 * a head present always empties the registers, a missing head leaves them.
 */
static void msgreg_mutated_packets(struct kunit *test)
{
	u32 w[PKT_WORDS], ans[NTBL_RPC_WORDS];
	struct fuzz_mreg_seen seen;
	struct ntbl_peer *from;
	struct mreg_xport *xp;
	struct fuzz_mreg *fm;
	struct ntbl_msg msg;
	unsigned long flags;
	int i, sender, pidx;
	bool whole, head;
	struct fuzz fz;
	u64 in, sts;

	fuzz_start(&fz, test, 12);
	fm = mreg_new(test, one_in(&fz, 2) ? 16 : 0);
	xp = to_xport(&fm->adapter);
	in = fmreg_inbits(&fm->ntb);
	for (fz.n = 0; fuzz_go_on(&fz); fz.n++) {
		mreg_valid_packet(&fz, fm, w);
		sender = rnd_below(&fz, FUZZ_PEERS);
		raw_spin_lock_irqsave(&xp->rx_lock, flags);
		fm->sts = in;
		for (i = 0; i < PKT_WORDS; i++) {
			fm->reg[i] = w[i];
			fm->from[i] = sender;
		}
		switch (rnd_below(&fz, 8)) {
		case 0:
			fm->reg[rnd_below(&fz, PKT_WORDS)] ^= BIT(rnd_below(&fz, 32));
			break;
		case 1:
			fm->reg[MIDX_HEAD] = (fm->reg[MIDX_HEAD] & 0xffffff) |
					     rnd_below(&fz, 256) << 24;
			break;
		case 2:	/* a word missing */
			fm->sts &= ~BIT_ULL(fm->shift + rnd_below(&fz, PKT_WORDS));
			break;
		case 3:	/* a word of another sender, or of none */
			fm->from[rnd_below(&fz, PKT_WORDS)] =
				(int)rnd_below(&fz, FUZZ_PEERS + 2) - 1;
			break;
		case 4:	/* a sender that is no peer */
			for (i = 0; i < PKT_WORDS; i++)
				fm->from[i] = one_in(&fz, 2) ? -1 :
					      FUZZ_PEERS + rnd_below(&fz, 256);
			break;
		case 5:
			for (i = 0; i < PKT_WORDS; i++)
				fm->reg[i] = rnd_word(&fz);
			break;
		default:
			break;
		}
		head = fm->sts & BIT_ULL(fm->shift + MIDX_HEAD);
		whole = fm->sts == in;
		pidx = fm->from[0];
		for (i = 1; i < PKT_WORDS; i++)
			if (fm->from[i] != pidx)
				whole = false;
		if (pidx < 0 || pidx >= FUZZ_PEERS)
			whole = false;
		memcpy(w, fm->reg, sizeof(w));
		sts = fm->sts;
		raw_spin_unlock_irqrestore(&xp->rx_lock, flags);

		mreg_seen(fm, &seen);
		fm->out_words = 0;
		if (one_in(&fz, 4)) {
			/* A config request's poll, then the irq_work it may leave. */
			mreg_rpc_answer(&fm->peers[rnd_below(&fz, FUZZ_PEERS)], ans);
			irq_work_sync(&xp->held_work);
			FUZZ_ASSERT(&fz, !xp->held_from);
		} else {
			mreg_msg_event(&fm->adapter);
		}

		while (ntbl_chan_next(&fm->adapter, &from, &msg))
			FUZZ_ASSERT(&fz, msg.len <= NTBL_MSG_WORDS);
		if (!head) {
			FUZZ_ASSERT(&fz, fm->sts == sts);
			FUZZ_ASSERT(&fz, !fm->out_words && mreg_same(fm, &seen, -1));
			/* What rx_watch() would do: the sender's words go. */
			fm->sts = 0;
			continue;
		}
		FUZZ_ASSERT(&fz, !(fm->sts & in));
		if (!whole) {
			FUZZ_ASSERT(&fz, !fm->out_words && mreg_same(fm, &seen, -1));
			continue;
		}
		mreg_check_whole(&fz, fm, w, pidx, &seen);
	}
	mreg_free(fm);
}

/* --- xport_msgreg.c: senders interleaved, words dropped ------------------- */

/* How a sender writes a packet (pkt_send()): the claim first, the head last. */
static const int fuzz_write_order[PKT_WORDS] = { MIDX_CLAIM, 3, 2, MIDX_HEAD };

/**
 * struct fuzz_sender - a peer writing a packet into our registers
 * @w: the packet
 * @next: the index in fuzz_write_order of its next word
 * @busy: in the middle of a packet
 */
struct fuzz_sender {
	u32 w[PKT_WORDS];
	unsigned int next;
	bool busy;
};

/**
 * struct fuzz_watch - what rx_watch() must do at its next look
 * @partial: it saw words without their head at its last look
 * @taken: packets taken from the registers by then
 */
struct fuzz_watch {
	bool partial;
	unsigned long taken;
};

/*
 * One word of @s's packet, as the hardware takes it: a write to a full
 * register fails. A claim that fails leaves the sender to try again, any
 * other word lost makes it give the packet up (pkt_send()'s -EBUSY and
 * -EIO).
 */
static void fuzz_sender_step(struct fuzz *fz, struct fuzz_mreg *fm,
			     struct fuzz_sender *s, int pidx)
{
	int midx;
	u64 bit;

	if (!s->busy) {
		mreg_valid_packet(fz, fm, s->w);
		s->next = 0;
		s->busy = true;
	}
	midx = fuzz_write_order[s->next];
	bit = BIT_ULL(fm->shift + midx);
	if (fm->sts & bit) {
		if (s->next)
			s->busy = false;
		return;
	}
	fm->reg[midx] = s->w[midx];
	fm->from[midx] = pidx;
	fm->sts |= bit;
	if (++s->next == PKT_WORDS)
		s->busy = false;
}

/* The adapter bound again, as after a reload: what was there is dropped. */
static void fuzz_mreg_restart(struct kunit *test, struct fuzz_mreg *fm)
{
	mreg_unbind(&fm->adapter);
	KUNIT_ASSERT_EQ(test, mreg_bind(&fm->adapter), 0);
	mreg_start(&fm->adapter);
	/* The case looks itself, when it chooses. */
	cancel_delayed_work_sync(&to_xport(&fm->adapter)->rx_watch);
}

/*
 * Up to FUZZ_PEERS senders write their packets into our registers a word
 * at a time, interleaved at random with what the receiver does: the
 * message interrupt, a config request's poll, rx_watch()'s look, a link
 * change (drop_partial()), a restart of the adapter (mreg_start()), and
 * senders that die or reset midway. Every step checks what the receiver
 * did against the registers as the hardware holds them:
 *
 * - a head present is taken with the words before it, which reach their
 *   peer only if all four came from it, and nothing else changes;
 * - words without their head stay until rx_watch() has seen them at two
 *   looks in a row with no packet taken in between, or a link change or
 *   restart drops them, and then go without reaching anyone;
 * - so once the senders stop, an interrupt and two looks leave the
 *   registers free for the next sender.
 */
static void msgreg_interleaved_senders(struct kunit *test)
{
	struct fuzz_sender senders[FUZZ_PEERS] = {};
	unsigned int step, steps, i, whole_taken = 0, dropped = 0;
	u32 w[PKT_WORDS], ans[NTBL_RPC_WORDS];
	struct fuzz_watch watch = {};
	struct fuzz_mreg_seen seen;
	bool head, whole, partial;
	struct ntbl_peer *from;
	struct mreg_xport *xp;
	struct fuzz_mreg *fm;
	unsigned long taken;
	struct ntbl_msg msg;
	int op, pidx;
	struct fuzz fz;
	u64 in, sts;

	fuzz_start(&fz, test, 8);
	fm = mreg_new(test, one_in(&fz, 2) ? 16 : 0);
	/* Started as the driver starts it; the case looks itself. */
	mreg_start(&fm->adapter);
	cancel_delayed_work_sync(&to_xport(&fm->adapter)->rx_watch);
	in = fmreg_inbits(&fm->ntb);
	for (fz.n = 0; fuzz_go_on(&fz); fz.n++) {
		steps = 1 + rnd_below(&fz, 24);
		/* Then an interrupt and two looks, with the senders still. */
		for (step = 0; step < steps + 3; step++) {
			xp = to_xport(&fm->adapter);
			if (step < steps)
				op = rnd_below(&fz, 16);
			else
				op = step == steps ? 12 : 11;
			if (op < 8) {
				i = rnd_below(&fz, FUZZ_PEERS);
				fuzz_sender_step(&fz, fm, &senders[i], i);
				continue;
			}
			if (op == 8) {
				/* A sender dies, or resets, midway. */
				senders[rnd_below(&fz, FUZZ_PEERS)].busy = false;
				continue;
			}

			sts = fm->sts;
			memcpy(w, fm->reg, sizeof(w));
			head = sts & BIT_ULL(fm->shift + MIDX_HEAD);
			partial = (sts & in) && !head;
			pidx = fm->from[0];
			whole = (sts & in) == in && pidx >= 0 && pidx < FUZZ_PEERS;
			for (i = 1; i < PKT_WORDS; i++)
				whole &= fm->from[i] == pidx;
			taken = xp->rx_taken;
			mreg_seen(fm, &seen);
			fm->out_words = 0;

			switch (op) {
			case 9:
				mreg_link_event(&fm->adapter);
				FUZZ_ASSERT(&fz, !xp->held_from && xp->rx_taken == taken);
				FUZZ_ASSERT(&fz, fm->sts == (head ? sts : sts & ~in));
				FUZZ_ASSERT(&fz, !fm->out_words && mreg_same(fm, &seen, -1));
				dropped += partial;
				continue;
			case 10:
				/* Our state is new: only the registers to check. */
				fuzz_mreg_restart(test, fm);
				FUZZ_ASSERT(&fz, !(fm->sts & in) && !fm->out_words);
				watch.partial = false;
				continue;
			case 11:
				/* A look of rx_watch(), its next one put off. */
				rx_watch(&xp->rx_watch.work);
				cancel_delayed_work_sync(&xp->rx_watch);
				FUZZ_ASSERT(&fz, !fm->out_words && mreg_same(fm, &seen, -1));
				FUZZ_ASSERT(&fz, xp->rx_taken == taken);
				if (partial && watch.partial && watch.taken == taken) {
					FUZZ_ASSERT(&fz, !(fm->sts & in));
					watch.partial = false;
					dropped++;
				} else {
					FUZZ_ASSERT(&fz, fm->sts == sts);
					watch.partial = partial;
					watch.taken = taken;
				}
				continue;
			case 12:
			case 13:
				mreg_msg_event(&fm->adapter);
				break;
			default:
				/* A config request's poll, and the irq_work it may leave. */
				mreg_rpc_answer(&fm->peers[rnd_below(&fz, FUZZ_PEERS)], ans);
				irq_work_sync(&xp->held_work);
				break;
			}
			FUZZ_ASSERT(&fz, !xp->held_from);
			while (ntbl_chan_next(&fm->adapter, &from, &msg))
				FUZZ_ASSERT(&fz, msg.len <= NTBL_MSG_WORDS);
			if (!head) {
				FUZZ_ASSERT(&fz, fm->sts == sts && xp->rx_taken == taken);
				FUZZ_ASSERT(&fz, !fm->out_words && mreg_same(fm, &seen, -1));
				continue;
			}
			FUZZ_ASSERT(&fz, !(fm->sts & in) && xp->rx_taken == taken + 1);
			if (!whole) {
				FUZZ_ASSERT(&fz, !fm->out_words && mreg_same(fm, &seen, -1));
				continue;
			}
			mreg_check_whole(&fz, fm, w, pidx, &seen);
			whole_taken++;
		}
		/* No sender is kept out for good. */
		FUZZ_ASSERT(&fz, !(fm->sts & in));
	}
	kunit_info(test, "%u whole packets taken, %u partial ones dropped\n",
		   whole_taken, dropped);
	mreg_free(fm);
}

static struct kunit_case msgreg_cases[] = {
	KUNIT_CASE_SLOW(msgreg_mutated_packets),
	KUNIT_CASE_SLOW(msgreg_interleaved_senders),
	{}
};

static struct kunit_suite msgreg_suite = {
	.name = "ntbl_fuzz_msgreg",
	.test_cases = msgreg_cases,
};

/* --- rpc.c and dp_lent_config.c: a config space in memory ----------------- */

#define FUZZ_CAPS		24
#define FUZZ_LEND_INDEX		7
#define FUZZ_REQS_PER_SPACE	64

/**
 * struct fuzz_cap - a capability as the generator placed it
 * @pos: its offset
 * @len: its bytes
 * @id: its ID
 * @ext: an extended capability
 * @hidden: one the borrower must not see
 */
struct fuzz_cap {
	u16 pos;
	u16 len;
	u16 id;
	bool ext;
	bool hidden;
};

/**
 * struct fuzz_pci - a lent function whose config space is memory
 * @bus: its bus, whose ops read and write @hw
 * @pdev: the function
 * @hw: the function's config space: what the lender's hardware holds
 * @lent: the lender's state of it, as dp_lent.c sets it up
 * @lend: the lend entry, index FUZZ_LEND_INDEX of the peer's
 * @loop: the borrower: the peer whose requests rpc.c serves
 * @mutated: the generator's layout was changed after: @caps is not the truth
 * @msi: the MSI capability placed, or NULL
 * @nr_caps: entries in @caps
 * @caps: the capabilities placed, in list order, standard then extended
 */
struct fuzz_pci {
	struct pci_bus bus;
	struct pci_dev pdev;
	u8 hw[PCI_CFG_SPACE_EXP_SIZE];
	struct ntbl_lent *lent;
	struct ntbl_lend lend;
	struct fuzz_loop *loop;
	bool mutated;
	const struct fuzz_cap *msi;
	unsigned int nr_caps;
	struct fuzz_cap caps[FUZZ_CAPS];
};

static struct fuzz_pci *to_fpci(struct pci_bus *bus)
{
	return container_of(bus, struct fuzz_pci, bus);
}

static int fpci_read(struct pci_bus *bus, unsigned int devfn, int where,
		     int size, u32 *val)
{
	u8 *hw = to_fpci(bus)->hw;

	if (where < 0 || where + size > PCI_CFG_SPACE_EXP_SIZE)
		return PCIBIOS_BAD_REGISTER_NUMBER;
	if (size == 1)
		*val = hw[where];
	else if (size == 2)
		*val = get_unaligned_le16(&hw[where]);
	else
		*val = get_unaligned_le32(&hw[where]);
	return PCIBIOS_SUCCESSFUL;
}

static int fpci_write(struct pci_bus *bus, unsigned int devfn, int where,
		      int size, u32 val)
{
	u8 *hw = to_fpci(bus)->hw;

	if (where < 0 || where + size > PCI_CFG_SPACE_EXP_SIZE)
		return PCIBIOS_BAD_REGISTER_NUMBER;
	if (size == 1)
		hw[where] = val;
	else if (size == 2)
		put_unaligned_le16(val, &hw[where]);
	else
		put_unaligned_le32(val, &hw[where]);
	return PCIBIOS_SUCCESSFUL;
}

static struct pci_ops fpci_ops = {
	.read = fpci_read,
	.write = fpci_write,
};

static const struct {
	u8 id;
	u8 len;
} fuzz_std_caps[] = {
	{ PCI_CAP_ID_PM, PCI_PM_SIZEOF },
	{ PCI_CAP_ID_MSI, 0 },		/* as its flags say */
	{ PCI_CAP_ID_MSIX, PCI_CAP_MSIX_SIZEOF },
	{ PCI_CAP_ID_EXP, 0 },		/* as its version says */
	{ PCI_CAP_ID_AF, PCI_CAP_AF_SIZEOF },
	{ PCI_CAP_ID_EA, 8 },
	{ PCI_CAP_ID_VNDR, 16 },
	{ PCI_CAP_ID_SSVID, 8 },
};

static const struct {
	u16 id;
	u8 len;
} fuzz_ext_caps[] = {
	{ PCI_EXT_CAP_ID_ERR, PCI_ERR_ROOT_ERR_SRC + 4 },
	{ PCI_EXT_CAP_ID_DSN, PCI_EXT_CAP_DSN_SIZEOF },
	{ PCI_EXT_CAP_ID_VNDR, 0x18 },
	{ PCI_EXT_CAP_ID_ATS, PCI_EXT_CAP_ATS_SIZEOF },
	{ PCI_EXT_CAP_ID_SRIOV, PCI_EXT_CAP_SRIOV_SIZEOF },
	{ PCI_EXT_CAP_ID_PRI, PCI_EXT_CAP_PRI_SIZEOF },
	{ PCI_EXT_CAP_ID_REBAR, 0x10 },
	{ PCI_EXT_CAP_ID_PASID, PCI_EXT_CAP_PASID_SIZEOF },
	{ LENT_EXT_CAP_ID_VF_REBAR, 0x10 },
	{ PCI_EXT_CAP_ID_LTR, PCI_EXT_CAP_LTR_SIZEOF },
};

/* A random capability @id at @pos of @len bytes (0: as its flags say). */
static unsigned int fuzz_std_cap(struct fuzz *fz, u8 *hw, unsigned int pos,
				 u8 id, unsigned int len)
{
	u16 flags = rnd32(fz);
	unsigned int i;

	if (id == PCI_CAP_ID_MSI)
		len = (flags & PCI_MSI_FLAGS_64BIT ? 0x10 : 0x0c) +
		      (flags & PCI_MSI_FLAGS_MASKBIT ? 0x08 : 0);
	if (id == PCI_CAP_ID_EXP) {
		flags = (flags & ~PCI_EXP_FLAGS_VERS) | (one_in(fz, 4) ? 1 : 2);
		len = (flags & PCI_EXP_FLAGS_VERS) >= 2 ? PCI_CAP_EXP_ENDPOINT_SIZEOF_V2 :
		      PCI_CAP_EXP_ENDPOINT_SIZEOF_V1;
	}
	len = ALIGN(len, 4);
	if (pos + len > PCI_CFG_SPACE_SIZE)
		return 0;
	for (i = 0; i < len; i++)
		hw[pos + i] = rnd32(fz);
	hw[pos] = id;
	put_unaligned_le16(flags, &hw[pos + PCI_CAP_FLAGS]);
	return len;
}

/*
 * A config space of a plausible function: header, a standard capability
 * list and, in 4 KiB, an extended one, capabilities in random order at
 * random gaps, hidden ones among them; everything else random.
 */
static void fuzz_cfg_space(struct fuzz *fz, struct fuzz_pci *fp)
{
	u8 *hw = fp->hw;
	struct fuzz_cap *cap, *prev = NULL;
	unsigned int i, j, pos, len, order[ARRAY_SIZE(fuzz_ext_caps)];
	u32 header;

	for (i = 0; i < PCI_CFG_SPACE_EXP_SIZE; i += 4)
		put_unaligned_le32(rnd32(fz), &hw[i]);
	hw[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;
	fp->pdev.cfg_size = one_in(fz, 2) ? PCI_CFG_SPACE_SIZE : PCI_CFG_SPACE_EXP_SIZE;
	fp->pdev.no_command_memory = one_in(fz, 4);
	fp->nr_caps = 0;
	fp->msi = NULL;
	fp->mutated = false;

	/* Standard capabilities: a random order of a random subset. */
	for (i = 0; i < ARRAY_SIZE(fuzz_std_caps); i++)
		order[i] = i;
	for (i = ARRAY_SIZE(fuzz_std_caps) - 1; i > 0; i--)
		swap(order[i], order[rnd_below(fz, i + 1)]);
	pos = PCI_STD_HEADER_SIZEOF + 4 * rnd_below(fz, 4);
	hw[PCI_CAPABILITY_LIST] = 0;
	for (i = 0; i < ARRAY_SIZE(fuzz_std_caps); i++) {
		j = order[i];
		if (one_in(fz, 3))
			continue;
		len = fuzz_std_cap(fz, hw, pos, fuzz_std_caps[j].id,
				   fuzz_std_caps[j].len);
		if (!len)
			break;
		cap = &fp->caps[fp->nr_caps++];
		*cap = (struct fuzz_cap){ pos, len, fuzz_std_caps[j].id, false,
					  lent_cap_hidden(fuzz_std_caps[j].id) };
		if (cap->id == PCI_CAP_ID_MSI)
			fp->msi = cap;
		hw[prev ? prev->pos + PCI_CAP_LIST_NEXT : PCI_CAPABILITY_LIST] = pos;
		prev = cap;
		pos += len + 4 * rnd_below(fz, 3);
	}
	if (prev)
		hw[prev->pos + PCI_CAP_LIST_NEXT] = 0;
	put_unaligned_le16((get_unaligned_le16(&hw[PCI_STATUS]) & ~PCI_STATUS_CAP_LIST) |
			   (prev ? PCI_STATUS_CAP_LIST : 0), &hw[PCI_STATUS]);

	/* Extended ones, from 0x100, in 4 KiB only. */
	put_unaligned_le32(0, &hw[PCI_CFG_SPACE_SIZE]);
	if (fp->pdev.cfg_size != PCI_CFG_SPACE_EXP_SIZE)
		return;
	for (i = 0; i < ARRAY_SIZE(fuzz_ext_caps); i++)
		order[i] = i;
	for (i = ARRAY_SIZE(fuzz_ext_caps) - 1; i > 0; i--)
		swap(order[i], order[rnd_below(fz, i + 1)]);
	pos = PCI_CFG_SPACE_SIZE;
	prev = NULL;
	for (i = 0; i < ARRAY_SIZE(fuzz_ext_caps) && fp->nr_caps < FUZZ_CAPS; i++) {
		j = order[i];
		if (one_in(fz, 3))
			continue;
		len = ALIGN(fuzz_ext_caps[j].len, 4);
		cap = &fp->caps[fp->nr_caps++];
		*cap = (struct fuzz_cap){ pos, len, fuzz_ext_caps[j].id, true,
					  lent_ext_cap_hidden(fuzz_ext_caps[j].id) };
		put_unaligned_le32(cap->id | 1 << 16, &hw[pos]);
		if (prev) {
			header = get_unaligned_le32(&hw[prev->pos]);
			put_unaligned_le32(header | pos << 20, &hw[prev->pos]);
		}
		prev = cap;
		pos += len + 4 * rnd_below(fz, 8);
	}
}

/* Bytes of the layout changed at random, capability pointers among them. */
static void fuzz_cfg_mutate(struct fuzz *fz, struct fuzz_pci *fp)
{
	unsigned int i, at, nr = 1 + rnd_below(fz, 8);
	const struct fuzz_cap *cap;

	fp->mutated = true;
	for (i = 0; i < nr; i++) {
		if (fp->nr_caps && !one_in(fz, 4)) {
			cap = &fp->caps[rnd_below(fz, fp->nr_caps)];
			at = cap->pos + rnd_below(fz, cap->ext ? 4 : 4);
		} else {
			at = rnd_below(fz, fp->pdev.cfg_size);
		}
		fp->hw[at] = one_in(fz, 2) ? rnd32(fz) : fp->hw[at] ^ BIT(rnd_below(fz, 8));
	}
	if (one_in(fz, 4))
		fp->hw[PCI_STATUS] ^= PCI_STATUS_CAP_LIST;
}

/* Doorbells of the lent function, as the borrow mapped them. */
static void fuzz_doorbells(struct fuzz *fz, struct ntbl_lent *lent)
{
	unsigned int i;

	lent->nr_db = 1 + rnd_below(fz, 4);
	for (i = 0; i < lent->nr_db; i++) {
		lent->db[i].dev_addr = (one_in(fz, 2) ? rnd64(fz) : rnd32(fz)) & ~3ULL;
		lent->db[i].size = one_in(fz, 2) ? 4 : PAGE_SIZE;
		lent->db[i].data = rnd_below(fz, 0x10000);
	}
}

static struct fuzz_pci *fpci_new(struct kunit *test)
{
	struct fuzz_pci *fp;

	fp = kunit_kzalloc(test, sizeof(*fp), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, fp);
	fp->lent = kunit_kzalloc(test, sizeof(*fp->lent), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, fp->lent);
	fp->bus.ops = &fpci_ops;
	fp->pdev.bus = &fp->bus;
	fp->pdev.dev.init_name = "lending_fuzz";
	fp->lent->pdev = &fp->pdev;
	raw_spin_lock_init(&fp->lent->cfg_lock);
	fp->lend.lent = fp->lent;
	fp->lend.index = FUZZ_LEND_INDEX;
	fp->loop = loop_new(test);
	fp->loop->peer.lent[FUZZ_LEND_INDEX] = &fp->lend;
	return fp;
}

/* A new function: its space, maybe mangled, snapshot by the real init. */
static void fpci_space(struct fuzz *fz, struct fuzz_pci *fp, bool mutate)
{
	struct ntbl_lent *lent = fp->lent;

	fuzz_cfg_space(fz, fp);
	if (mutate)
		fuzz_cfg_mutate(fz, fp);
	lent->state = LENT_ACTIVE;
	fuzz_doorbells(fz, lent);
	ntbl_lent_cfg_init(lent);
	ntbl_rpc_reset(&fp->loop->peer);
}

/* What the borrower reads, through the lender's real path. */
static u32 fpci_read_as_borrower(struct fuzz *fz, struct fuzz_pci *fp,
				 unsigned int where, unsigned int size)
{
	u32 val = 0;

	FUZZ_ASSERT(fz, !ntbl_lent_cfg_read(fp->lent, where, size, &val));
	return val;
}

/*
 * The header registers no borrower may change in the function: all but
 * command and status (the rest of lent_header_perms is virtual).
 */
static bool fuzz_header_fixed(unsigned int at)
{
	return at < PCI_STD_HEADER_SIZEOF &&
	       (at < PCI_COMMAND || at >= PCI_REVISION_ID);
}

/*
 * The borrower's view of a function just claimed: BARs, ROM, INTx pin and
 * the hidden capabilities read as nothing, the visible ones are linked in
 * their order, and the MSI capability is the one in the space.
 */
static void fuzz_check_view(struct fuzz *fz, struct fuzz_pci *fp)
{
	struct ntbl_lent *lent = fp->lent;
	const struct fuzz_cap *cap = fp->caps, *end = fp->caps + fp->nr_caps;
	unsigned int at, i, steps;
	u32 header;

	for (at = PCI_BASE_ADDRESS_0; at <= PCI_BASE_ADDRESS_5; at += 4)
		FUZZ_ASSERT(fz, !fpci_read_as_borrower(fz, fp, at, 4));
	FUZZ_ASSERT(fz, !fpci_read_as_borrower(fz, fp, PCI_ROM_ADDRESS, 4));
	FUZZ_ASSERT(fz, !fpci_read_as_borrower(fz, fp, PCI_INTERRUPT_PIN, 1));
	FUZZ_ASSERT(fz, fpci_read_as_borrower(fz, fp, PCI_VENDOR_ID, 4) ==
		    get_unaligned_le32(fp->hw));
	if (fp->mutated)
		return;

	FUZZ_ASSERT(fz, lent->msi_pos == (fp->msi ? fp->msi->pos : 0));
	/* The standard list: the visible capabilities, in order. */
	at = 0;
	if (fpci_read_as_borrower(fz, fp, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST)
		at = fpci_read_as_borrower(fz, fp, PCI_CAPABILITY_LIST, 1);
	for (steps = 0; at; steps++) {
		while (cap < end && !cap->ext && cap->hidden)
			cap++;
		FUZZ_ASSERT(fz, steps < LENT_CAP_TTL && cap < end && !cap->ext);
		FUZZ_ASSERT(fz, at == cap->pos);
		FUZZ_ASSERT(fz, fpci_read_as_borrower(fz, fp, at, 1) == cap->id);
		at = fpci_read_as_borrower(fz, fp, at + PCI_CAP_LIST_NEXT, 1);
		cap++;
	}
	while (cap < end && !cap->ext) {
		FUZZ_ASSERT(fz, cap->hidden);
		cap++;
	}
	/*
	 * Hidden ones read as zeroes, but for the header at 0x100 that
	 * links the extended ones.
	 */
	for (i = 0; i < fp->nr_caps; i++)
		for (at = 0; fp->caps[i].hidden && at < fp->caps[i].len; at += 4)
			FUZZ_ASSERT(fz, fp->caps[i].pos + at == PCI_CFG_SPACE_SIZE ||
				    !fpci_read_as_borrower(fz, fp, fp->caps[i].pos + at, 4));
	if (fp->pdev.cfg_size != PCI_CFG_SPACE_EXP_SIZE)
		return;

	/* The extended list, from an empty header at 0x100 if need be. */
	at = PCI_CFG_SPACE_SIZE;
	for (steps = 0; at; steps++) {
		FUZZ_ASSERT(fz, steps <= LENT_EXT_CAP_MAX);
		header = fpci_read_as_borrower(fz, fp, at, 4);
		if (at == PCI_CFG_SPACE_SIZE && !PCI_EXT_CAP_ID(header)) {
			at = PCI_EXT_CAP_NEXT(header);
			continue;
		}
		while (cap < end && cap->hidden)
			cap++;
		FUZZ_ASSERT(fz, cap < end && at == cap->pos);
		FUZZ_ASSERT(fz, PCI_EXT_CAP_ID(header) == cap->id);
		at = PCI_EXT_CAP_NEXT(header);
		cap++;
	}
	while (cap < end) {
		FUZZ_ASSERT(fz, cap->hidden);
		cap++;
	}
}

/* Functions just claimed, plausible and mangled: what the borrower sees. */
static void cfg_claimed_view(struct kunit *test)
{
	struct fuzz_pci *fp = fpci_new(test);
	struct fuzz fz;

	fuzz_start(&fz, test, 4);
	for (fz.n = 0; fuzz_go_on(&fz); fz.n++) {
		fpci_space(&fz, fp, one_in(&fz, 4));
		fuzz_check_view(&fz, fp);
	}
	loop_free(fp->loop);
}

/* The function's MSI after a write that committed it: off, or a doorbell. */
static void fuzz_check_msi(struct fuzz *fz, struct fuzz_pci *fp)
{
	struct ntbl_lent *lent = fp->lent;
	unsigned int pos = lent->msi_pos, i;
	u16 flags = get_unaligned_le16(&fp->hw[pos + PCI_MSI_FLAGS]);
	u64 addr = get_unaligned_le32(&fp->hw[pos + PCI_MSI_ADDRESS_LO]);
	u16 data;
	bool found = false;

	FUZZ_ASSERT(fz, !(flags & PCI_MSI_FLAGS_QSIZE));
	if (!(flags & PCI_MSI_FLAGS_ENABLE))
		return;
	if (lent->msi_64) {
		addr |= (u64)get_unaligned_le32(&fp->hw[pos + PCI_MSI_ADDRESS_HI]) << 32;
		data = get_unaligned_le16(&fp->hw[pos + PCI_MSI_DATA_64]);
	} else {
		data = get_unaligned_le16(&fp->hw[pos + PCI_MSI_DATA_32]);
	}
	for (i = 0; i < lent->nr_db; i++)
		if (addr >= lent->db[i].dev_addr &&
		    addr - lent->db[i].dev_addr <= lent->db[i].size - 4 &&
		    data == lent->db[i].data)
			found = true;
	FUZZ_ASSERT(fz, found);
}

/* A request's where, size and value: mostly plausible, some aimed at MSI. */
static void fuzz_request(struct fuzz *fz, struct fuzz_pci *fp, u32 *where,
			 u32 *size, u32 *val)
{
	struct ntbl_lent *lent = fp->lent;
	const struct lent_doorbell *db = &lent->db[rnd_below(fz, lent->nr_db)];
	static const u8 msi_regs[] = { PCI_MSI_FLAGS, PCI_MSI_ADDRESS_LO,
				       PCI_MSI_ADDRESS_HI, PCI_MSI_DATA_32,
				       PCI_MSI_DATA_64 };
	u64 addr = db->dev_addr + rnd_below(fz, 2) * (db->size - 4);

	*size = 1 << rnd_below(fz, 3);
	*where = rnd_below(fz, one_in(fz, 2) ? PCI_CFG_SPACE_SIZE :
				 PCI_CFG_SPACE_EXP_SIZE) & ~(*size - 1);
	*val = rnd_word(fz);
	if (lent->msi_pos && one_in(fz, 4)) {
		*where = lent->msi_pos + msi_regs[rnd_below(fz, ARRAY_SIZE(msi_regs))];
		*size = *where & 2 ? 2 : 4;
		if (*where == lent->msi_pos + PCI_MSI_FLAGS)
			*val = PCI_MSI_FLAGS_ENABLE | (rnd32(fz) & 0x7e);
		else if (*where == lent->msi_pos + PCI_MSI_ADDRESS_LO)
			*val = lower_32_bits(addr) + (one_in(fz, 8) ? 4 : 0);
		else if (*where == lent->msi_pos + PCI_MSI_ADDRESS_HI && lent->msi_64)
			*val = upper_32_bits(addr);
		else
			*val = db->data ^ (one_in(fz, 8) ? 1 : 0);
	} else if (one_in(fz, 8)) {
		/* anything the header can say */
		*where = rnd32(fz) & 0xfff;
		*size = rnd_below(fz, 8);
	} else if (one_in(fz, 8)) {
		/*
		 * A span, as a prefetch asks: which dwords, or which spans of
		 * 32, are not all 0, or not all ~0
		 */
		*size = one_in(fz, 2) ? RPC_SPAN : RPC_SPANS;
		*where = rnd_below(fz, PCI_CFG_SPACE_EXP_SIZE) &
			 ~(span_bits(*size) * span_unit(*size) * 4 - 1);
		*val = one_in(fz, 2) ? 0 : ~0U;
	}
}

/*
 * The answer a read of @size at @where should have from a space that was
 * @hw0 and @v0 before: virtual bits from the copy, the rest from the
 * function; beyond the space all ones.
 */
static u32 cfg_expected(struct fuzz_pci *fp, const u8 *hw0, const u8 *v0,
			unsigned int where, unsigned int size)
{
	struct ntbl_lent *lent = fp->lent;
	unsigned int i;
	u32 want = 0;

	if (where + size > lent->cfg_size)
		return size == 4 ? ~0U : BIT(8 * size) - 1;
	for (i = 0; i < size; i++)
		want |= (u32)((hw0[where + i] & ~lent->virt[where + i]) |
			      (v0[where + i] & lent->virt[where + i])) << (8 * i);
	if (where == PCI_COMMAND && fp->pdev.no_command_memory)
		want |= v0[PCI_COMMAND] & PCI_COMMAND_MEMORY;
	return want;
}

/*
 * Config requests of a borrower, valid and mutated (any size, alignment,
 * offset and index, a wrong check word, a repeated tag, a function
 * stopped or gone), through ntbl_rpc_request(), to functions whose config
 * space is plausible or mangled. Each gets the answer it should, and a
 * write never changes a bit of the real function that the permission
 * tables keep from the borrower; MSI reaches it only aimed at a doorbell.
 */
static void cfg_requests_keep_to_permissions(struct kunit *test)
{
	struct fuzz_pci *fp = fpci_new(test);
	struct fuzz_loop *loop = fp->loop;
	struct ntbl_lent *lent = fp->lent;
	u8 *hw0, *v0;
	u32 w[NTBL_RPC_WORDS], last[NTBL_RPC_WORDS] = {}, hdr, where, size, val;
	u32 want, allowed, changed, span;
	unsigned int at, i, d, unit, index, sent, msi_end, spans_left;
	int err, tag = 0, served;
	bool write, touched;
	struct fuzz fz;

	hw0 = kunit_kzalloc(test, PCI_CFG_SPACE_EXP_SIZE, GFP_KERNEL);
	v0 = kunit_kzalloc(test, PCI_CFG_SPACE_EXP_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, hw0);
	KUNIT_ASSERT_NOT_NULL(test, v0);
	fuzz_start(&fz, test, 12);
	for (fz.n = 0; fuzz_go_on(&fz); fz.n++) {
		if (fz.n % FUZZ_REQS_PER_SPACE == 0)
			fpci_space(&fz, fp, one_in(&fz, 4));
		fuzz_request(&fz, fp, &where, &size, &val);
		write = rnd32(&fz) & 1;
		index = one_in(&fz, 32) ? rnd_below(&fz, 256) : FUZZ_LEND_INDEX;
		/* The borrower's next tag, or the last one again, as on a retry. */
		if (!one_in(&fz, 16))
			tag = tag % 255 + 1;
		hdr = (u32)tag << 24 | index << 16 | (write ? RPC_WRITE : 0) |
		      size << 12 | where;
		w[0] = hdr;
		w[1] = val;
		w[2] = rpc_check(hdr, val);
		if (one_in(&fz, 32))
			w[rnd_below(&fz, 3)] ^= BIT(rnd_below(&fz, 32));
		lent->state = LENT_ACTIVE;
		if (one_in(&fz, 64))
			lent->state = one_in(&fz, 2) ? LENT_STOPPED : LENT_GONE;
		/* A new borrow now and then: its budget of spans of spans. */
		if (one_in(&fz, 32))
			fp->lend.spans_left = NTBL_RPC_SPANS_PER_BORROW;
		spans_left = fp->lend.spans_left;

		memcpy(hw0, fp->hw, PCI_CFG_SPACE_EXP_SIZE);
		memcpy(v0, lent->vconfig, PCI_CFG_SPACE_EXP_SIZE);
		sent = loop->rpc_sent;
		served = loop->peer.rpc_last[0];
		ntbl_rpc_request(&loop->peer, w);

		if (w[2] != rpc_check(w[0], w[1])) {
			FUZZ_ASSERT(&fz, loop->rpc_sent == sent);
			FUZZ_ASSERT(&fz, !memcmp(hw0, fp->hw, PCI_CFG_SPACE_EXP_SIZE));
			continue;
		}
		hdr = w[0];
		FUZZ_ASSERT(&fz, loop->rpc_sent == sent + 1 && loop->rpc_was_answer);
		FUZZ_ASSERT(&fz, loop->rpc[2] == rpc_check(loop->rpc[0], loop->rpc[1]));
		FUZZ_ASSERT(&fz, loop->rpc[0] >> 24 == hdr >> 24);
		FUZZ_ASSERT(&fz, !(loop->rpc[0] & 0xfe00));
		if ((int)(hdr >> 24) == served) {
			/* Answered again from the last answer, not done twice. */
			FUZZ_ASSERT(&fz, !memcmp(loop->rpc, last, sizeof(last)));
			FUZZ_ASSERT(&fz, !memcmp(hw0, fp->hw, PCI_CFG_SPACE_EXP_SIZE));
			FUZZ_ASSERT(&fz, fp->lend.spans_left == spans_left);
			continue;
		}
		memcpy(last, loop->rpc, sizeof(last));
		index = (hdr >> 16) & 0xff;
		write = hdr & RPC_WRITE;
		size = (hdr >> 12) & 7;
		where = hdr & 0xfff;
		val = w[1];
		err = loop->rpc[0] & 0xff;

		/* Only a write's answer carries the dword it left. */
		FUZZ_ASSERT(&fz, !(loop->rpc[0] & RPC_FRESH) || (write && !err));
		if (index == FUZZ_LEND_INDEX && !write && size == RPC_SPANS &&
		    !spans_left) {
			/* Past the borrow's budget: refused, nothing read. */
			FUZZ_ASSERT(&fz, err == EBUSY && !fp->lend.spans_left);
			continue;
		}
		if (index == FUZZ_LEND_INDEX && !write && size == RPC_SPANS)
			FUZZ_ASSERT(&fz, fp->lend.spans_left == spans_left - 1);
		else
			FUZZ_ASSERT(&fz, fp->lend.spans_left == spans_left);
		if (index == FUZZ_LEND_INDEX && !write &&
		    (size == RPC_SPAN || size == RPC_SPANS)) {
			/* Which dwords or spans differ from the value: read alike. */
			span = 0;
			unit = span_unit(size);
			for (i = 0; i < span_bits(size); i++)
				for (d = 0; d < unit; d++)
					if (cfg_expected(fp, hw0, v0, where + 4 * (i * unit + d),
							 4) != val)
						span |= BIT(i);
			want = !IS_ALIGNED(where, span_bits(size) * unit * 4) ? EINVAL :
			       where >= lent->cfg_size || lent->state == LENT_ACTIVE ? 0 :
			       lent->state == LENT_GONE ? ENODEV : ENOLINK;
			FUZZ_ASSERT(&fz, err == want);
			if (!want)
				FUZZ_ASSERT(&fz, loop->rpc[1] == span);
			FUZZ_ASSERT(&fz, !memcmp(hw0, fp->hw, PCI_CFG_SPACE_EXP_SIZE));
			FUZZ_ASSERT(&fz, !memcmp(v0, lent->vconfig, PCI_CFG_SPACE_EXP_SIZE));
			continue;
		}
		if (index != FUZZ_LEND_INDEX)
			want = ENODEV;
		else if (!lent_cfg_access_ok(where, size))
			want = EINVAL;
		else if (where + size > lent->cfg_size)
			want = 0;
		else if (lent->state != LENT_ACTIVE)
			want = lent->state == LENT_GONE ? ENODEV : ENOLINK;
		else
			want = 0;
		FUZZ_ASSERT(&fz, err == want);
		if (err || (!write && where + size > lent->cfg_size)) {
			if (!err && !write)
				FUZZ_ASSERT(&fz, loop->rpc[1] == (size == 4 ? ~0U :
								  BIT(8 * size) - 1));
			FUZZ_ASSERT(&fz, !memcmp(hw0, fp->hw, PCI_CFG_SPACE_EXP_SIZE));
			FUZZ_ASSERT(&fz, !memcmp(v0, lent->vconfig, PCI_CFG_SPACE_EXP_SIZE));
			continue;
		}

		if (!write) {
			FUZZ_ASSERT(&fz, loop->rpc[1] ==
					 cfg_expected(fp, hw0, v0, where, size));
			FUZZ_ASSERT(&fz, !memcmp(hw0, fp->hw, PCI_CFG_SPACE_EXP_SIZE));
			FUZZ_ASSERT(&fz, !memcmp(v0, lent->vconfig, PCI_CFG_SPACE_EXP_SIZE));
			continue;
		}

		/* A write: what changed in the function, byte by byte. */
		touched = lent->msi_pos && where + size <= lent->cfg_size &&
			  (lent_touches(where, size, lent->msi_pos + PCI_MSI_FLAGS, 2) ||
			   lent_touches(where, size, lent->msi_pos + (lent->msi_64 ?
					PCI_MSI_DATA_64 : PCI_MSI_DATA_32), 2));
		msi_end = lent->msi_pos + (lent->msi_64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32) + 2;
		for (at = 0; at < PCI_CFG_SPACE_EXP_SIZE; at++) {
			changed = hw0[at] ^ fp->hw[at];
			if (!changed)
				continue;
			FUZZ_ASSERT(&fz, !fuzz_header_fixed(at));
			if (at == PCI_COMMAND)
				FUZZ_ASSERT(&fz, !(changed & PCI_COMMAND_IO));
			if (at == PCI_COMMAND + 1)
				FUZZ_ASSERT(&fz, !(changed & (PCI_COMMAND_INTX_DISABLE >> 8)));
			if (touched && at >= lent->msi_pos && at < msi_end)
				continue;	/* lent_msi_commit(), checked below */
			allowed = lent->write[at] & ~lent->virt[at];
			FUZZ_ASSERT(&fz, at >= where && at < where + size);
			FUZZ_ASSERT(&fz, !(changed & ~allowed));
			/* and holds what was written, write-1-to-clear bits too */
			FUZZ_ASSERT(&fz, !((fp->hw[at] ^ (u8)(val >> (8 * (at - where)))) &
					   changed));
		}
		for (i = 0; !fp->mutated && i < fp->nr_caps; i++) {
			const struct fuzz_cap *cap = &fp->caps[i];

			for (at = cap->pos; cap->hidden && at < cap->pos + cap->len; at++)
				FUZZ_ASSERT(&fz, hw0[at] == fp->hw[at]);
			if (cap->id == PCI_CAP_ID_PM && !cap->ext)
				FUZZ_ASSERT(&fz, !((hw0[cap->pos + PCI_PM_CTRL] ^
						    fp->hw[cap->pos + PCI_PM_CTRL]) &
						   PCI_PM_CTRL_STATE_MASK));
			if (cap->id == PCI_CAP_ID_EXP && !cap->ext)
				FUZZ_ASSERT(&fz, !((hw0[cap->pos + PCI_EXP_DEVCTL + 1] ^
						    fp->hw[cap->pos + PCI_EXP_DEVCTL + 1]) &
						   (PCI_EXP_DEVCTL_BCR_FLR >> 8)));
		}
		if (touched)
			fuzz_check_msi(&fz, fp);
		/* The answer: the dword as a read now gives it. */
		FUZZ_ASSERT(&fz, loop->rpc[0] & RPC_FRESH);
		FUZZ_ASSERT(&fz, loop->rpc[1] == cfg_expected(fp, fp->hw, lent->vconfig,
							      where & ~3U, 4));
		/* The copy: only the bits virtual and writable in the bytes written. */
		for (at = 0; at < PCI_CFG_SPACE_EXP_SIZE; at++) {
			changed = v0[at] ^ lent->vconfig[at];
			if (!changed)
				continue;
			FUZZ_ASSERT(&fz, at >= where && at < where + size);
			allowed = lent->virt[at] & lent->write[at];
			if (at == PCI_COMMAND && fp->pdev.no_command_memory)
				allowed |= PCI_COMMAND_MEMORY;
			FUZZ_ASSERT(&fz, !(changed & ~allowed));
		}
	}
	loop_free(loop);
}

static struct kunit_case cfg_cases[] = {
	KUNIT_CASE_SLOW(cfg_claimed_view),
	KUNIT_CASE_SLOW(cfg_requests_keep_to_permissions),
	{}
};

static struct kunit_suite cfg_suite = {
	.name = "ntbl_fuzz_cfg",
	.test_cases = cfg_cases,
};

/* --- rpc.c and borrower.c: the lender's answers --------------------------- */

/* Dwords of the config space. */
#define FUZZ_DWORDS		(PCI_CFG_SPACE_EXP_SIZE / 4)
/*
 * Calls of one access, at most: a copy of the whole space asks for each
 * dword, two spans of each RPC_SPAN_DWORDS and two of each KiB.
 */
#define FUZZ_CALLS		(FUZZ_DWORDS + 2 * FUZZ_DWORDS / RPC_SPAN_DWORDS + \
				 2 * FUZZ_DWORDS / (RPC_SPANS_RUNS * RPC_SPAN_DWORDS))
/* Polls after which the case's lender has answered, or lost the link. */
#define FUZZ_POLLS		8

/**
 * struct fuzz_call - one config request of the borrower, as its lender saw it
 * @req: the request: header, value, check
 * @ret: what the call must return: the errno answered, or -ENOLINK
 * @val: the value answered
 * @fresh: the answer said @val is the dword a write left (RPC_FRESH)
 * @done: @ret, @val and @fresh are decided
 */
struct fuzz_call {
	u32 req[NTBL_RPC_WORDS];
	int ret;
	u32 val;
	bool fresh;
	bool done;
};

/**
 * struct fuzz_lender - the lender of a borrow, answering its config
 *	requests through the transport's answer words, well or not
 * @fz: the case's run
 * @loop: the borrower's side, whose last request it answers
 * @borrow: the borrow, whose link it may lose
 * @slot: the transport's answer words (xport.h: @rpc_answer)
 * @silent: it never answers: the calls time out
 * @steady: it loses the link rarely, for an access of many calls
 * @polls: polls of the call being made
 * @calls: calls made, each begun with @rpc_forget
 * @broken: the borrower polled or forgot out of turn; checked once the
 *	call is over, not under its locks
 * @call: the calls of the access being made
 */
struct fuzz_lender {
	struct fuzz *fz;
	struct fuzz_loop *loop;
	struct ntbl_borrow *borrow;
	u32 slot[NTBL_RPC_WORDS];
	bool silent;
	bool steady;
	unsigned int polls;
	unsigned int calls;
	bool broken;
	struct fuzz_call call[FUZZ_CALLS];
};

static void fuzz_lender_forget(struct fuzz_lender *lender)
{
	if (lender->calls == FUZZ_CALLS) {
		lender->broken = true;
		return;
	}
	lender->call[lender->calls++] = (struct fuzz_call){
		/* A call after the link went fails at once. */
		.ret = READ_ONCE(lender->borrow->state) == NTBL_BORROW_LOST ?
		       -ENOLINK : 0,
		.done = READ_ONCE(lender->borrow->state) == NTBL_BORROW_LOST,
	};
	lender->polls = 0;
	/* As the transports do: the header only. */
	lender->slot[0] = 0;
}

/* A request sent, again maybe, in the call made. */
static void fuzz_lender_asked(struct fuzz_lender *lender, const u32 *w)
{
	if (!lender->calls) {
		lender->broken = true;
		return;
	}
	memcpy(lender->call[lender->calls - 1].req, w,
	       sizeof(lender->call[0].req));
}

static void fuzz_set_answer(u32 *slot, u32 hdr, u32 val)
{
	slot[0] = hdr;
	slot[1] = val;
	slot[2] = rpc_check(hdr, val);
}

/*
 * At each poll of the borrower, what came in: nothing new, words that are
 * no answer, an answer to another tag (late, repeated, or to no request),
 * this request's answer corrupted, a lost link, or the answer, with any
 * errno and junk in the header's unused bits. Called under the peer's
 * call_lock, maybe with interrupts off: nothing here may stop the case.
 */
static void fuzz_lender_answer(struct fuzz_lender *lender, u32 *w)
{
	struct fuzz *fz = lender->fz;
	struct fuzz_call *c;
	u32 tag, err;

	if (!lender->calls) {
		lender->broken = true;
		memcpy(w, lender->slot, sizeof(lender->slot));
		return;
	}
	c = &lender->call[lender->calls - 1];
	lender->polls++;
	tag = c->req[0] >> 24;
	if (lender->silent || c->done)
		goto out;
	switch (lender->polls >= FUZZ_POLLS ? 7 : rnd_below(fz, 8)) {
	case 0:
		break;
	case 1:
		lender->slot[0] = rnd_word(fz);
		lender->slot[1] = rnd_word(fz);
		lender->slot[2] = rnd_word(fz);
		break;
	case 2:
		fuzz_set_answer(lender->slot,
				(tag + 1 + rnd_below(fz, 255)) % 256 << 24 |
				rnd_below(fz, 256), rnd_word(fz));
		break;
	case 3:
		fuzz_set_answer(lender->slot, tag << 24, rnd_word(fz));
		lender->slot[rnd_below(fz, NTBL_RPC_WORDS)] ^= BIT(rnd_below(fz, 32));
		if (lender->slot[0] >> 24 != tag)
			lender->slot[0] ^= BIT(rnd_below(fz, 24));
		break;
	case 4:
		if (lender->steady && !one_in(fz, 512))
			break;
		WRITE_ONCE(lender->borrow->state, NTBL_BORROW_LOST);
		c->ret = -ENOLINK;
		c->done = true;
		break;
	default:
		err = one_in(fz, 4) ? rnd_below(fz, 256) : 0;
		/* Fresh or not, to a read too; junk in the unused bits. */
		err |= one_in(fz, 8) ? rnd32(fz) & 0xffff00 : rnd32(fz) & RPC_FRESH;
		c->val = rnd_word(fz);
		c->ret = -(int)(err & 0xff);
		c->fresh = err & RPC_FRESH;
		c->done = true;
		fuzz_set_answer(lender->slot, tag << 24 | err, c->val);
		break;
	}
out:
	memcpy(w, lender->slot, sizeof(lender->slot));
}

/* The bytes @size at @where of the dword @val. */
static u32 fuzz_bytes(u32 val, unsigned int where, unsigned int size)
{
	val >>= 8 * (where & 3);
	return size == 4 ? val : val & (BIT(8 * size) - 1);
}

/* The bytes of @bytes (bit i: byte i) as a mask of their bits. */
static u32 fuzz_byte_mask(u8 bytes)
{
	u32 mask = 0;
	int b;

	for (b = 0; b < 4; b++)
		if (bytes & BIT(b))
			mask |= 0xffU << (8 * b);
	return mask;
}

/*
 * What a call's request must have been, the first tag after @tag its own;
 * a read's value word carries nothing, 0, and no stack of ours either.
 */
static void fuzz_check_req(struct fuzz *fz, const struct fuzz_call *c,
			   u8 tag, unsigned int index, bool write,
			   unsigned int where, unsigned int size, u32 val)
{
	u32 hdr = (u32)(tag % 255 + 1) << 24 | index << 16 |
		  (write ? RPC_WRITE : 0) | size << 12 | where;

	FUZZ_ASSERT(fz, c->req[0] == hdr);
	FUZZ_ASSERT(fz, c->req[1] == val);
	FUZZ_ASSERT(fz, c->req[2] == rpc_check(hdr, val));
}

/* A config access of the virtual bus to the borrowed device. */
static int fuzz_access(struct ntbl_borrow *borrow, bool write,
		       unsigned int where, unsigned int size, u32 val, u32 *got)
{
	if (write)
		return ntbl_rpc_ops.cfg_write(borrow, where, size, val);
	return ntbl_rpc_ops.cfg_read(borrow, where, size, got);
}

/**
 * struct fuzz_copy - what a copy of the whole config space must leave
 * @fz: the case's run
 * @lender: whose calls it made
 * @next: the next of them to look at
 * @tag: the tag before that call's
 * @index: the lend entry asked
 * @have: the dwords in the copy
 * @cfg: their values
 */
struct fuzz_copy {
	struct fuzz *fz;
	const struct fuzz_lender *lender;
	unsigned int next;
	u8 tag;
	unsigned int index;
	DECLARE_BITMAP(have, FUZZ_DWORDS);
	u32 cfg[FUZZ_DWORDS];
};

/* The next call of the copy, which must be this read: its answer. */
static const struct fuzz_call *fuzz_copy_call(struct fuzz_copy *cp,
					      unsigned int dw, unsigned int size,
					      u32 val)
{
	const struct fuzz_call *c = &cp->lender->call[cp->next++];

	FUZZ_ASSERT(cp->fz, cp->next <= cp->lender->calls);
	fuzz_check_req(cp->fz, c, cp->tag, cp->index, false, dw * 4, size, val);
	cp->tag = cp->tag % 255 + 1;
	return c;
}

/*
 * A span's answer (@size RPC_SPAN or RPC_SPANS): the dwords of those it
 * does not name hold @pattern, those the copy lacked; the ones left to
 * ask.
 */
static u32 fuzz_copy_span(struct fuzz_copy *cp, unsigned int dw,
			  unsigned int size, u32 pattern, u32 ask, bool *ok)
{
	const struct fuzz_call *c = fuzz_copy_call(cp, dw, size, pattern);
	unsigned int i, d, unit = span_unit(size);

	*ok = !c->ret;
	if (c->ret)
		return ask;
	for (i = 0; i < span_bits(size); i++) {
		if (c->val & BIT(i))
			continue;
		for (d = dw + i * unit; d < dw + (i + 1) * unit; d++) {
			if (test_bit(d, cp->have))
				continue;
			cp->cfg[d] = pattern;
			set_bit(d, cp->have);
		}
	}
	return ask & c->val;
}

/* What is left to ask of @ask after its spans from 0, then from all ones. */
static u32 fuzz_copy_spans_left(struct fuzz_copy *cp, unsigned int dw,
				unsigned int size, u32 ask)
{
	bool ok;

	ask = fuzz_copy_span(cp, dw, size, 0, ask, &ok);
	if (ok && hweight32(ask) > span_bits(size) / 2)
		ask = fuzz_copy_span(cp, dw, size, ~0U, ask, &ok);
	return ask;
}

/*
 * The copy of the whole config space that follows a borrow
 * (ntbl_rpc_prefetch()), from a copy that lacks some dwords, answered as
 * fuzz_lender_answer() decides: per KiB, which spans of RPC_SPAN_DWORDS
 * hold a dword other than 0, and other than all ones if more than half
 * do; per span named, which dwords differ from 0, and from all ones if
 * more than half do; a read of each dword named that the copy lacks, in
 * order, until one fails; and in the copy exactly what the answers said.
 */
static void fuzz_prefetch(struct fuzz *fz, struct fuzz_loop *loop,
			  struct fuzz_lender *lender, struct ntbl_borrow *borrow)
{
	unsigned int kib, dw, s, i, nr = 1 + rnd_below(fz, 64);
	const struct fuzz_call *c;
	struct fuzz_copy *cp;
	bool stopped = false;
	u32 spans, ask;

	cp = kzalloc(sizeof(*cp), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(fz->test, cp);
	for (i = 0; i < nr; i++)
		clear_bit(rnd_below(fz, FUZZ_DWORDS), borrow->cfg_valid);
	*cp = (struct fuzz_copy){ .fz = fz, .lender = lender,
				  .tag = loop->peer.rpc_tag,
				  .index = borrow->index };
	bitmap_copy(cp->have, borrow->cfg_valid, FUZZ_DWORDS);
	memcpy(cp->cfg, borrow->cfg, sizeof(cp->cfg));
	lender->calls = 0;
	lender->broken = false;
	lender->silent = false;
	lender->steady = true;
	ntbl_rpc_prefetch(borrow);
	lender->steady = false;
	WRITE_ONCE(borrow->state, NTBL_BORROW_BORROWED);

	FUZZ_ASSERT(fz, !lender->broken);
	for (kib = 0; kib < FUZZ_DWORDS && !stopped;
	     kib += RPC_SPANS_RUNS * RPC_SPAN_DWORDS) {
		spans = fuzz_copy_spans_left(cp, kib, RPC_SPANS,
					     GENMASK(RPC_SPANS_RUNS - 1, 0));
		for (s = 0; s < RPC_SPANS_RUNS && !stopped; s++) {
			if (!(spans & BIT(s)))
				continue;
			dw = kib + s * RPC_SPAN_DWORDS;
			ask = fuzz_copy_spans_left(cp, dw, RPC_SPAN, ~0U);
			for (i = 0; i < RPC_SPAN_DWORDS && !stopped; i++) {
				if (!(ask & BIT(i)) || test_bit(dw + i, cp->have))
					continue;
				c = fuzz_copy_call(cp, dw + i, 4, 0);
				stopped = c->ret;
				if (stopped)
					break;
				cp->cfg[dw + i] = c->val;
				set_bit(dw + i, cp->have);
			}
		}
	}
	FUZZ_ASSERT(fz, cp->next == lender->calls && loop->peer.rpc_tag == cp->tag);
	FUZZ_ASSERT(fz, bitmap_equal(cp->have, borrow->cfg_valid, FUZZ_DWORDS));
	for (dw = 0; dw < FUZZ_DWORDS; dw++) {
		FUZZ_ASSERT(fz, !test_bit(dw, cp->have) || borrow->cfg[dw] == cp->cfg[dw]);
		/* Read-only bytes only where the copy has the dword. */
		FUZZ_ASSERT(fz, !borrow->cfg_ro[dw] || test_bit(dw, cp->have));
	}
	kfree(cp);
}

/*
 * Config reads and writes of a borrowed device through rpc.c's real path
 * (the virtual bus's ntbl_rpc_ops), with interrupts on and off, answered
 * as fuzz_lender_answer() decides, now and then never, or with the lock
 * held by another caller; and now and then the copy of the whole space
 * that follows a borrow. Each access returns the first answer that
 * matches its request, or -ENOLINK, -ETIMEDOUT, -EBUSY as the link, the
 * lender and the lock say; a request is what the access asked, tags go on
 * from 1 to 255; the copy of config space holds exactly the dwords the
 * lender answered last; the lock is free after every access.
 */
static void answers_config_run(struct kunit *test, struct fuzz *fz)
{
	struct fuzz_loop *loop = loop_new(test);
	struct ntbl_peer *peer = &loop->peer;
	struct fuzz_lender *lender;
	struct ntbl_borrow *borrow;
	unsigned int where, size, dw, sent, timeouts = 0;
	bool write, atomic, cached, valid, locked, ro;
	u32 val, got, cval, keep;
	unsigned long flags;
	int ret, want;
	u8 tag;

	lender = kunit_kzalloc(test, sizeof(*lender), GFP_KERNEL);
	borrow = kunit_kzalloc(test, sizeof(*borrow), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, lender);
	KUNIT_ASSERT_NOT_NULL(test, borrow);
	borrow->peer = peer;
	borrow->state = NTBL_BORROW_BORROWED;
	lender->fz = fz;
	lender->loop = loop;
	lender->borrow = borrow;
	loop->lender = lender;

	for (fz->n = 0; fuzz_go_on(fz); fz->n++) {
		if (one_in(fz, 512)) {
			fuzz_prefetch(fz, loop, lender, borrow);
			continue;
		}
		write = rnd32(fz) & 1;
		atomic = one_in(fz, 4);
		locked = atomic && one_in(fz, 16);
		size = 1 << rnd_below(fz, 3);
		where = rnd_below(fz, PCI_CFG_SPACE_EXP_SIZE) & ~(size - 1);
		val = rnd_word(fz);
		got = 0;
		if (one_in(fz, 64))
			borrow->index = rnd_below(fz, NTBL_MAX_LEND_INDEX + 1);
		dw = where / 4;
		cached = test_bit(dw, borrow->cfg_valid);
		cval = borrow->cfg[dw];
		/*
		 * Read-only bytes the last copy marked (mark_ro()), served
		 * while the borrow goes on and the lender answered no -ENODEV:
		 * now and then the lender takes the device back, or another
		 * borrow starts afresh.
		 */
		borrow->end = one_in(fz, 16) ? NTBL_BORROW_REVOKED : NTBL_BORROW_GOES_ON;
		if (one_in(fz, 64))
			borrow->refused = false;
		keep = fuzz_byte_mask(borrow->cfg_ro[dw]);
		ro = !write && cached && borrow->end == NTBL_BORROW_GOES_ON &&
		     !borrow->refused &&
		     (borrow->cfg_ro[dw] & GENMASK(where % 4 + size - 1, where % 4)) ==
		     GENMASK(where % 4 + size - 1, where % 4);
		lender->calls = 0;
		lender->broken = false;
		/* 60 ms each: a few per million inputs. */
		lender->silent = atomic && one_in(fz, 8192);
		sent = loop->rpc_sent;
		tag = peer->rpc_tag;

		if (locked) {
			local_irq_save(flags);
			raw_spin_lock(&peer->call_lock);
			ret = fuzz_access(borrow, write, where, size, val, &got);
			raw_spin_unlock(&peer->call_lock);
			local_irq_restore(flags);
		} else if (atomic) {
			local_irq_save(flags);
			ret = fuzz_access(borrow, write, where, size, val, &got);
			local_irq_restore(flags);
		} else {
			ret = fuzz_access(borrow, write, where, size, val, &got);
		}
		WRITE_ONCE(borrow->state, NTBL_BORROW_BORROWED);

		FUZZ_ASSERT(fz, !lender->broken);
		FUZZ_ASSERT(fz, !raw_spin_is_locked(&peer->call_lock));
		valid = test_bit(dw, borrow->cfg_valid);
		if (ro || (atomic && !write && cached)) {
			/* From the copy, without asking. */
			FUZZ_ASSERT(fz, !ret && got == fuzz_bytes(cval, where, size));
			FUZZ_ASSERT(fz, !lender->calls && loop->rpc_sent == sent);
			FUZZ_ASSERT(fz, valid && borrow->cfg[dw] == cval);
			continue;
		}
		if (locked) {
			FUZZ_ASSERT(fz, ret == -EBUSY);
			FUZZ_ASSERT(fz, !lender->calls && loop->rpc_sent == sent);
			FUZZ_ASSERT(fz, peer->rpc_tag == tag);
			continue;
		}

		if (lender->silent) {
			timeouts++;
			FUZZ_ASSERT(fz, ret == -ETIMEDOUT && lender->calls == 1);
			FUZZ_ASSERT(fz, loop->rpc_sent == sent + RPC_TRIES_ATOMIC);
		} else {
			want = lender->call[0].ret;
			FUZZ_ASSERT(fz, ret == want);
			/* A write's answer has its dword: no read-back. */
			FUZZ_ASSERT(fz, lender->calls == 1);
			/* No longer the lender's: the copy serves it no more. */
			if (want == -ENODEV)
				FUZZ_ASSERT(fz, borrow->refused);
			/* Asked again, the same, if the host stalled a while. */
			FUZZ_ASSERT(fz, loop->rpc_sent - sent >= 1 &&
				    loop->rpc_sent - sent <= RPC_TRIES);
		}
		FUZZ_ASSERT(fz, !loop->rpc_was_answer);
		fuzz_check_req(fz, &lender->call[0], tag, borrow->index, write,
			       write ? where : dw * 4, write ? size : 4,
			       write ? val : 0);
		tag = tag % 255 + 1;
		FUZZ_ASSERT(fz, peer->rpc_tag == tag);

		/*
		 * The copy: the last dword answered, a read's or the one a
		 * write left, or none after a write whose answer has none.
		 */
		if (!write && !ret) {
			FUZZ_ASSERT(fz, got == fuzz_bytes(lender->call[0].val, where, size));
			/* But the read-only bytes, which the copy keeps. */
			FUZZ_ASSERT(fz, valid && borrow->cfg[dw] ==
				    ((lender->call[0].val & ~keep) | (cval & keep)));
		} else if (!write) {
			FUZZ_ASSERT(fz, valid == cached && (!valid || borrow->cfg[dw] == cval));
		} else if (!ret && lender->call[0].fresh) {
			FUZZ_ASSERT(fz, valid && borrow->cfg[dw] ==
				    ((lender->call[0].val & ~keep) | (cval & keep)));
		} else {
			FUZZ_ASSERT(fz, !valid);
		}
	}
	kunit_info(test, "%u calls timed out\n", timeouts);
	loop->lender = NULL;
	loop_free(loop);
}

static void answers_config_requests(struct kunit *test)
{
	struct fuzz fz;

	fuzz_start(&fz, test, 10);
	answers_config_run(test, &fz);
}

/* The replies waiting on @loop's channel, oldest first, into @out. */
static unsigned int fuzz_replies(struct fuzz_loop *loop, struct ntbl_msg *out)
{
	struct ntbl_chan *chan = &loop->peer.chan;
	struct ntbl_rxmsg *rxm;
	unsigned int n = 0;

	spin_lock_irq(&chan->lock);
	list_for_each_entry(rxm, &chan->replies, node)
		if (n < MAX_REPLIES)
			out[n++] = rxm->msg;
	spin_unlock_irq(&chan->lock);
	return n;
}

/* Which of @n replies @s a wait for @type and @tag takes, or -1. */
static int fuzz_find(const struct ntbl_msg *s, unsigned int n, u8 type,
		     u32 tag)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (s[i].type == type && s[i].len && s[i].w[0] == tag)
			return i;
	return -1;
}

/* The refusals a borrower passes on as the lender said them (protocol.rst). */
static bool fuzz_errno_passed(int status)
{
	static const int known[] = {
		-ENOENT, -EBUSY, -E2BIG, -EINVAL, -ENOSPC, -ENODEV, -ENOMEM,
		-ENOBUFS, -EOPNOTSUPP, -EPERM,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(known); i++)
		if (status == known[i])
			return true;
	return false;
}

/*
 * Whether BORROW_DB's @got may answer a BORROW of the bits @asked: on two
 * ports all of them; on a switch a run of consecutive ones among them.
 */
static bool fuzz_vectors_given(bool sw, u64 asked, u64 got)
{
	if (!got || (got & ~asked))
		return false;
	if (!sw)
		return got == asked;
	return fls64(got) - __ffs64(got) == hweight64(got);
}

/* A lender's BORROW_BARS for @tag: it lends, or refuses, short or not. */
static void fuzz_bars(struct fuzz *fz, bool sw, u32 tag, bool lends,
		      struct ntbl_msg *msg)
{
	static const int refusals[] = {
		-ENOENT, -EBUSY, -E2BIG, -EINVAL, -ENOSPC, -ENODEV, -ENOMEM,
		-ENOBUFS, -EOPNOTSUPP, -EIO, -EPERM, -ENOLINK, 1,
	};
	struct ntbl_wire_bars b = { .tag = tag };
	unsigned int i;

	if (!lends) {
		b.status = one_in(fz, 2) ? refusals[rnd_below(fz, ARRAY_SIZE(refusals))] :
			   (int)rnd_word(fz);
		if (one_in(fz, 2)) {
			ntbl_pack_status(msg, NTBL_MSG_BORROW_BARS, tag, b.status);
			return;
		}
	}
	b.span_size = rnd64(fz);
	b.mem_addr = rnd64(fz);
	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		b.bar[i].offset = rnd64(fz);
		b.bar[i].size = one_in(fz, 2) ? 0 : BIT_ULL(rnd_below(fz, 64));
		b.bar[i].flags = rnd_word(fz);
	}
	b.widx = one_in(fz, 2) ? rnd_below(fz, 4) : rnd_word(fz);
	b.span_phys = rnd64(fz);
	ntbl_pack_borrow_bars(msg, &b, sw);
}

/*
 * A lender's BORROW_DB for @tag: the bits asked on two ports, a run of
 * them on a switch, or, unless @valid, now and then others.
 */
static void fuzz_db(struct fuzz *fz, bool sw, u32 tag, u64 asked, bool valid,
		    struct ntbl_msg *msg)
{
	struct ntbl_wire_db *d = kzalloc(sizeof(*d), GFP_KERNEL);
	unsigned int i, bit;

	KUNIT_ASSERT_NOT_NULL(fz->test, d);
	d->tag = tag;
	d->vectors = asked;
	/* On a switch a run of them; now and then all, which need not be one. */
	if (sw && (valid || !one_in(fz, 4))) {
		/* A run of the bits asked, from one of them. */
		bit = __ffs64(asked);
		for (i = rnd_below(fz, hweight64(asked)); i; i--)
			bit = __ffs64(asked & ~GENMASK_ULL(bit, 0));
		d->vectors = 0;
		for (i = 1 + rnd_below(fz, 4); i && bit < 64 && (asked & BIT_ULL(bit));
		     i--, bit++)
			d->vectors |= BIT_ULL(bit);
	}
	if (!valid && one_in(fz, 8))
		d->vectors = one_in(fz, 2) ? d->vectors ^ BIT_ULL(rnd_below(fz, 64)) :
			     rnd_bits(fz, 20);
	/* More bits than fit: the length disagrees with them. */
	d->nr = min_t(unsigned int, hweight64(d->vectors), NTBL_BORROW_DB_MAX);
	for (i = 0; i < d->nr; i++) {
		d->db[i].addr = rnd64(fz);
		d->db[i].data = rnd_word(fz);
	}
	ntbl_pack_borrow_db(msg, d);
	kfree(d);
}

/*
 * Send @msg from the lender @from to the borrower @loop; @lossy: a frame
 * may be lost.
 */
static void fuzz_reply(struct fuzz *fz, struct fuzz_loop *from,
		       struct fuzz_loop *loop, const struct ntbl_msg *msg,
		       bool lossy)
{
	unsigned int i, nr = loop_frames(from, msg);
	int lost = lossy && one_in(fz, 16) ? rnd_below(fz, nr) : -1;

	for (i = 0; i < nr; i++)
		if (i != lost)
			ntbl_chan_frame(&loop->peer, from->frames[i]);
}

/* The bits a borrow asks for: a run on two ports, some of a share on a switch. */
static u64 fuzz_asked(struct fuzz *fz, bool sw)
{
	unsigned int first = rnd_below(fz, 61);

	if (sw)
		return rnd_bits(fz, NTBL_MAX_VEC - 1) | BIT_ULL(rnd_below(fz, 64));
	return GENMASK_ULL(first + rnd_below(fz, 4), first);
}

/**
 * struct fuzz_ask - what ask() must do with the replies waiting
 * @ret: its result
 * @bars: the BORROW_BARS it takes, or -1
 * @db: the BORROW_DB it takes, or -1
 * @blocks: it waits for a reply that is not there: the case's link is
 *	lost as the BORROW goes out, so it returns -ENOLINK at once
 * @refused: the lender's refusal, as it said it
 */
struct fuzz_ask {
	int ret;
	int bars;
	int db;
	bool blocks;
	int refused;
};

static void fuzz_ask_want(const struct ntbl_msg *s, unsigned int n, bool sw,
			  u32 tag, u64 asked, struct fuzz_ask *want)
{
	const struct ntbl_msg *b, *d;
	unsigned int nr;
	int status;
	bool ok;

	*want = (struct fuzz_ask){ .ret = -ENOLINK, .db = -1 };
	want->bars = fuzz_find(s, n, NTBL_MSG_BORROW_BARS, tag);
	if (want->bars < 0) {
		want->blocks = true;
		return;
	}
	b = &s[want->bars];
	if (b->len < NTBL_STATUS_LEN) {
		want->ret = -EIO;
		return;
	}
	status = b->w[1];
	if (status) {
		want->ret = fuzz_errno_passed(status) ? status : -EIO;
		want->refused = status;
		return;
	}
	want->db = fuzz_find(s, n, NTBL_MSG_BORROW_DB, tag);
	if (want->db < 0) {
		want->blocks = true;
		return;
	}
	d = &s[want->db];
	nr = d->len >= 3 ? hweight64(ntbl_wire_get64(&d->w[1])) : 0;
	ok = fuzz_bars_of(b, sw, NULL) && d->len >= 3 &&
	     nr <= NTBL_BORROW_DB_MAX && d->len == 3 + 3 * nr &&
	     fuzz_vectors_given(sw, asked, ntbl_wire_get64(&d->w[1]));
	want->ret = ok ? 0 : -EIO;
}

/* What ask() gave the borrow from the replies it took, @b and @d. */
static noinline_for_stack void
fuzz_check_lent(struct fuzz *fz, bool sw, struct ntbl_borrow *borrow,
		const struct ntbl_vbus_info *info, u64 vectors, u64 mem_size,
		const struct ntbl_msg *b, const struct ntbl_msg *d)
{
	struct ntbl_wire_bar bar[PCI_STD_NUM_BARS];
	unsigned int i;

	FUZZ_ASSERT(fz, vectors == ntbl_wire_get64(&d->w[1]));
	FUZZ_ASSERT(fz, info->nr_db == hweight64(vectors) && info->db == borrow->db);
	for (i = 0; i < info->nr_db; i++)
		FUZZ_ASSERT(fz, borrow->db[i].addr == ntbl_wire_get64(&d->w[3 + 3 * i]) &&
			    borrow->db[i].data == d->w[5 + 3 * i]);
	FUZZ_ASSERT(fz, info->win_size == ntbl_wire_get64(&b->w[2]));
	FUZZ_ASSERT(fz, info->dma_dev_addr == ntbl_wire_get64(&b->w[4]));
	FUZZ_ASSERT(fz, !info->dma_phys && info->dma_size == mem_size);
	FUZZ_ASSERT(fz, fuzz_bars_of(b, sw, bar));
	for (i = 0; i < PCI_STD_NUM_BARS; i++)
		FUZZ_ASSERT(fz, info->bar[i].offset == bar[i].offset &&
			    info->bar[i].size == bar[i].size &&
			    info->bar[i].flags == bar[i].flags);
	if (sw)
		FUZZ_ASSERT(fz, borrow->widx == -1 &&
			    info->win_phys == ntbl_wire_get64(&b->w[8]));
	else
		FUZZ_ASSERT(fz, borrow->widx == (int)b->w[6]);
}

/*
 * A borrow's BORROW through borrower.c's ask(), on two ports or on a
 * switch (@sw), and now and then a return's RETURN (give_back()), with the
 * lender's replies waiting on the channel, sent through the real framing
 * before: its BORROW_BARS and BORROW_DB, valid, refusing, of the other
 * fabric's length, short, long, with vector bits not asked, mutated,
 * twice, or missing; replies of another kind or tag, to no request or to
 * the next one; requests in reply's clothes; a frame lost. Each call
 * takes the replies of its tag that it must, and only those, and returns
 * what they say (0, the lender's errno, -EIO) or -ENOLINK when what it
 * waits for never comes; the replies held stay bounded; every so often a
 * clean exchange shows the next borrow still works. Each input waits for
 * the channel's work queue, milliseconds under TCG: @pct per cent of the
 * inputs, so that of a million a case takes well within KUnit's five
 * minutes.
 */
static void answers_borrow_run(struct kunit *test, bool sw, unsigned int pct)
{
	struct fuzz_loop *loop = loop_new(test), *from = loop_new(test);
	struct ntbl_peer *peer = &loop->peer;
	struct ntbl_msg *s, *after, msg, bars, db;
	unsigned int i, j, n, n2, nr, sent, clean_ok = 0;
	struct ntbl_vbus_info info;
	struct ntbl_borrow *borrow;
	struct ntbl_peer *rx;
	struct fuzz_ask want;
	u64 asked, vectors, mem_size;
	bool clean, returning;
	int ret, refused, k;
	struct fuzz fz;
	u32 tag;

	borrow = kunit_kzalloc(test, sizeof(*borrow), GFP_KERNEL);
	s = kunit_kcalloc(test, MAX_REPLIES, sizeof(*s), GFP_KERNEL);
	after = kunit_kcalloc(test, MAX_REPLIES, sizeof(*after), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, borrow);
	KUNIT_ASSERT_NOT_NULL(test, s);
	KUNIT_ASSERT_NOT_NULL(test, after);
	borrow->peer = peer;
	loop->adapter.switched = sw;

	fuzz_start(&fz, test, pct);
	for (fz.n = 0; fuzz_go_on(&fz); fz.n++) {
		clean = one_in(&fz, 4);
		returning = !clean && one_in(&fz, 8);
		asked = fuzz_asked(&fz, sw);
		mem_size = sw ? rnd64(&fz) : 0;
		borrow->index = rnd_below(&fz, NTBL_MAX_LEND_INDEX + 1);
		borrow->widx = -1;
		tag = atomic_read(&peer->tag) + 1;

		/* The lender's replies, in the order they come. */
		fuzz_bars(&fz, sw, tag, clean || !one_in(&fz, 4), &bars);
		fuzz_db(&fz, sw, tag, asked, clean, &db);
		nr = clean ? 2 : rnd_below(&fz, 7);
		for (i = 0; i < nr; i++) {
			if (clean) {
				fuzz_reply(&fz, from, loop, i ? &db : &bars, false);
				continue;
			}
			k = rnd_below(&fz, 8);
			if (k < 2) {
				msg = k ? db : bars;
				if (one_in(&fz, 4))
					fuzz_mutate_msg(&fz, &msg);
				/* No longer than the frames carry. */
				msg.len = min_t(u8, msg.len, NTBL_MSG_WORDS);
			} else if (k < 4) {
				/* A reply to another request, or to the next. */
				fuzz_pack(&fz, rnd_below(&fz, FUZZ_MSG_KINDS), sw, &msg);
				msg.type = NTBL_MSG_REPLY | (msg.type + rnd_below(&fz, 4));
				msg.len = max_t(u8, msg.len, 1);
				msg.w[0] = one_in(&fz, 2) ? tag + 1 + rnd_below(&fz, 3) :
					   tag - rnd_below(&fz, 3) - 1;
			} else if (k < 5) {
				/* This tag, another kind, a request among them. */
				fuzz_any_msg(&fz, &msg);
				msg.len = max_t(u8, msg.len, 1);
				msg.w[0] = tag;
			} else if (k < 6) {
				/* The lender's RETURN_DONE, maybe for this tag. */
				ntbl_pack_status(&msg, NTBL_MSG_RETURN_DONE,
						 one_in(&fz, 2) ? tag : rnd32(&fz),
						 (int)rnd_word(&fz));
			} else {
				msg = one_in(&fz, 2) ? db : bars;
			}
			fuzz_reply(&fz, from, loop, &msg, true);
		}
		/* Requests go to the work queue, which this case is. */
		while (ntbl_chan_next(&loop->adapter, &rx, &msg))
			;
		n = fuzz_replies(loop, s);
		FUZZ_ASSERT(&fz, n == peer->chan.nr_replies && n <= MAX_REPLIES);

		loop->nframes = 0;
		sent = loop->rpc_sent;
		if (returning) {
			k = fuzz_find(s, n, NTBL_MSG_RETURN_DONE, tag);
			WRITE_ONCE(loop->reset_on_send, k < 0);
			mutex_lock(&loop->adapter.lock);
			give_back(peer, borrow->index);
			FUZZ_ASSERT(&fz, !loop->adapter.busy);
			mutex_unlock(&loop->adapter.lock);
			flush_work(&peer->chan.tx_work);
			WRITE_ONCE(loop->reset_on_send, false);
			/* The RETURN, then the reply of its tag taken. */
			FUZZ_ASSERT(&fz, loop->nframes == 1 &&
				    HDR_TYPE(loop->frames[0][0]) == NTBL_MSG_RETURN &&
				    loop->frames[0][1] == borrow->index &&
				    loop->frames[0][2] == tag);
			want = (struct fuzz_ask){ .bars = k, .db = -1, .blocks = k < 0 };
		} else {
			fuzz_ask_want(s, n, sw, tag, asked, &want);
			WRITE_ONCE(loop->reset_on_send, want.blocks);
			memset(&info, 0, sizeof(info));
			vectors = asked;
			refused = 0;
			ret = ask(borrow, &vectors, mem_size, &info, &refused);
			flush_work(&peer->chan.tx_work);
			WRITE_ONCE(loop->reset_on_send, false);

			FUZZ_ASSERT(&fz, ret == want.ret && refused == want.refused);
			if (!ret)
				fuzz_check_lent(&fz, sw, borrow, &info, vectors, mem_size,
						&s[want.bars], &s[want.db]);
			else
				FUZZ_ASSERT(&fz, vectors == asked);
			/* Unless replies left from before had its tag. */
			if (clean && want.bars == n - 2 && want.db == n - 1) {
				FUZZ_ASSERT(&fz, !ret);
				clean_ok++;
			}
			/* The BORROW, whole unless the link went as it did. */
			FUZZ_ASSERT(&fz, loop->nframes == (want.blocks ? 1 : 2));
			FUZZ_ASSERT(&fz, HDR_TYPE(loop->frames[0][0]) == NTBL_MSG_BORROW &&
				    loop->frames[0][1] == borrow->index &&
				    loop->frames[0][2] == lower_32_bits(asked) &&
				    loop->frames[0][3] == upper_32_bits(asked));
			FUZZ_ASSERT(&fz, want.blocks || loop->frames[1][1] == tag);
		}
		FUZZ_ASSERT(&fz, atomic_read(&peer->tag) == tag);
		FUZZ_ASSERT(&fz, loop->rpc_sent == sent);

		/* Only what it took is gone; all of it if the link went. */
		n2 = fuzz_replies(loop, after);
		if (want.blocks) {
			FUZZ_ASSERT(&fz, !n2 && !peer->chan.nr_replies);
			continue;
		}
		for (i = 0, j = 0; i < n; i++) {
			if ((int)i == want.bars || (int)i == want.db)
				continue;
			FUZZ_ASSERT(&fz, j < n2 && after[j].type == s[i].type &&
				    after[j].len == s[i].len &&
				    !memcmp(after[j].w, s[i].w, s[i].len * sizeof(u32)));
			j++;
		}
		FUZZ_ASSERT(&fz, j == n2);
	}
	kunit_info(test, "%u clean borrows answered\n", clean_ok);
	loop_free(from);
	loop_free(loop);
}

static void answers_borrow_replies_two_ports(struct kunit *test)
{
	answers_borrow_run(test, false, 1);
}

static void answers_borrow_replies_switch(struct kunit *test)
{
	answers_borrow_run(test, true, 1);
}

/*
 * A config space image for mark_ro(): an endpoint's header (a bridge's if
 * @bridge) whose capability pointer is @cap, then dwords as "offset,
 * value" pairs, up to one of value 0 (the dwords not given are 0).
 */
struct ro_image {
	const char *name;
	u8 cap;
	bool bridge;
	u32 set[16][2];
	/* The read-only bytes past the header mark_ro() must find. */
	u32 want[16][2];
};

static const struct ro_image ro_images[] = {
	{ "nvme: MSI-X, power management, PCI Express v2 endpoint, no extended",
	  0x40, false,
	  { { 0x40, 0x003f6011 }, { 0x48, 0x00001000 }, { 0x60, 0x00038001 },
	    { 0x80, 0x00020010 }, { 0x84, 0x10008fc1 }, { 0x8c, 0x00436c11 },
	    { 0xa4, 0x00000010 }, { 0xac, 0x0000001e } },
	  { { 0x40, 0x3 }, { 0x44, 0xf }, { 0x48, 0xf }, { 0x60, 0xf },
	    { 0x80, 0x7 }, { 0x84, 0x3 }, { 0x8c, 0xf }, { 0xa4, 0xf },
	    { 0xac, 0xf }, { 0x100, 0xf } } },
	{ "e1000e: a version 1 integrated endpoint, then AER and DSN",
	  0xc8, false,
	  { { 0xc8, 0x0022d001 }, { 0xd0, 0x0080e005 }, { 0xe0, 0x0091a010 },
	    { 0xe4, 0x10008cc1 }, { 0xa0, 0x00040011 }, { 0xa4, 0x00000003 },
	    { 0xa8, 0x00002003 }, { 0x100, 0x14020001 }, { 0x104, 0x00100000 },
	    { 0x10c, 0x00462030 }, { 0x140, 0x00010003 } },
	  { { 0xc8, 0xf }, { 0xd0, 0x3 }, { 0xe0, 0x7 }, { 0xe4, 0x3 },
	    { 0xa0, 0x3 }, { 0xa4, 0xf }, { 0xa8, 0xf }, { 0x100, 0xf },
	    { 0x140, 0xf } } },
	{ "a PCI Express capability at 0xfc, whose registers would pass 0x100",
	  0xfc, false,
	  { { 0xfc, 0x00020010 } },
	  { { 0xfc, 0x7 }, { 0x100, 0xf } } },
	{ "a capability that points at itself, and no extended space",
	  0x40, false,
	  { { 0x40, 0x00004009 }, { 0x100, 0xffffffff } },
	  { { 0x40, 0x3 }, { 0x100, 0xf } } },
	{ "a bridge: nothing", 0x40, true, { { 0x40, 0x00020010 } }, { } },
};

/*
 * mark_ro() on known config spaces marks exactly the read-only bytes it
 * should: nothing past a capability's end, no register of a version 1
 * PCI Express capability that it lacks, no status, control, AER or MSI
 * register, and nothing of a bridge.
 */
static void ro_marks_exactly(struct kunit *test)
{
	const unsigned int ndw = PCI_CFG_SPACE_EXP_SIZE / 4;
	struct ntbl_borrow *borrow;
	const struct ro_image *img;
	unsigned int i, k, dw;
	u8 *want;

	borrow = kunit_kzalloc(test, sizeof(*borrow), GFP_KERNEL);
	want = kunit_kzalloc(test, ndw, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, borrow);
	KUNIT_ASSERT_NOT_NULL(test, want);
	for (i = 0; i < ARRAY_SIZE(ro_images); i++) {
		img = &ro_images[i];
		memset(borrow, 0, sizeof(*borrow));
		memset(want, 0, ndw);
		bitmap_fill(borrow->cfg_valid, ndw);
		borrow->cfg[PCI_VENDOR_ID / 4] = 0x00101b36;
		borrow->cfg[PCI_CLASS_REVISION / 4] = 0x01080202;
		borrow->cfg[PCI_HEADER_TYPE / 4] = img->bridge ? 0x00010000 : 0;
		borrow->cfg[PCI_SUBSYSTEM_VENDOR_ID / 4] = 0x11001af4;
		borrow->cfg[PCI_CAPABILITY_LIST / 4] = img->cap;
		borrow->cfg[PCI_INTERRUPT_LINE / 4] = 0x00000100;
		if (!img->bridge) {
			want[PCI_VENDOR_ID / 4] = 0xf;
			want[PCI_CLASS_REVISION / 4] = 0xf;
			want[PCI_HEADER_TYPE / 4] = 0x4;
			want[PCI_SUBSYSTEM_VENDOR_ID / 4] = 0xf;
			want[PCI_CAPABILITY_LIST / 4] = 0x1;
			want[PCI_INTERRUPT_LINE / 4] = 0x2;
		}
		for (k = 0; k < ARRAY_SIZE(img->set) && img->set[k][1]; k++)
			borrow->cfg[img->set[k][0] / 4] = img->set[k][1];
		for (k = 0; k < ARRAY_SIZE(img->want) && img->want[k][1]; k++)
			want[img->want[k][0] / 4] = img->want[k][1];
		mark_ro(borrow);
		for (dw = 0; dw < ndw; dw++)
			KUNIT_EXPECT_EQ_MSG(test, borrow->cfg_ro[dw], want[dw],
					    "%s: offset %#x", img->name, dw * 4);
	}
}

static struct kunit_case answers_cases[] = {
	KUNIT_CASE(ro_marks_exactly),
	KUNIT_CASE_SLOW(answers_config_requests),
	KUNIT_CASE_SLOW(answers_borrow_replies_two_ports),
	KUNIT_CASE_SLOW(answers_borrow_replies_switch),
	{}
};

static struct kunit_suite answers_suite = {
	.name = "ntbl_fuzz_answers",
	.test_cases = answers_cases,
};

kunit_test_suites(&wire_suite, &chan_suite, &msgreg_suite, &cfg_suite,
		  &answers_suite);

/* The seed, picked before the suites run unless given. */
static int __init lending_fuzz_init(void)
{
	if (!seed)
		seed = get_random_u64() ?: 1;
	pr_info("lending_fuzz: seed %llu, %u inputs\n", seed, inputs);
	return 0;
}
module_init(lending_fuzz_init);

static void __exit lending_fuzz_exit(void)
{
}
module_exit(lending_fuzz_exit);

MODULE_DESCRIPTION("KUnit fuzzing of NTB device lending's parsers of peer data");
MODULE_LICENSE("GPL");
