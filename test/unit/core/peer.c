/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/peer.h"

#include "core/handshake.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

/* Frames of this test carry a 4-byte sequence number. */
#define PT_BYTES 4
#define FRAME_BYTES (FRAME_OVERHEAD_BYTES + PT_BYTES)
#define T0 1000000u
/* The wall clock of the tests: the monotonic milliseconds, in nanoseconds. */
#define WALL(ms) ((uint64_t)(ms)*1000000u)

struct frame {
	uint8_t b[FRAME_BYTES];
};

/* One client and one server channel, each side with its own index table. */
struct world {
	uint8_t psk[PSK_BYTES];
	struct index_table *cix, *six;
	struct peer *cli, *srv;
};

static int world_setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	if (!w)
		return -1;
	randombytes_buf(w->psk, sizeof(w->psk));
	w->cix = index_new();
	w->six = index_new();
	w->cli = peer_new(PEER_INITIATOR, w->psk, w->cix);
	w->srv = peer_new(PEER_RESPONDER, w->psk, w->six);
	if (!w->cix || !w->six || !w->cli || !w->srv)
		return -1;
	*state = w;
	return 0;
}

static int world_teardown(void **state)
{
	struct world *w = *state;

	peer_free(w->cli);
	peer_free(w->srv);
	/* Freeing a peer takes all its indexes out of the table. */
	if (index_count(w->cix) != 0 || index_count(w->six) != 0)
		return -1;
	index_free(w->cix);
	index_free(w->six);
	free(w);
	return 0;
}

static void seal(struct peer *p, uint32_t seq, struct frame *f, uint64_t now)
{
	store_be32(f->b + FRAME_HEADER_BYTES, seq);
	assert_int_equal(peer_seal(p, MSG_DATA, f->b, PT_BYTES, now), 0);
}

/* Open a copy of f (the original can be replayed later); checks the sequence number. */
static int open_frame(struct peer *p, const struct frame *f, uint32_t seq, uint64_t now,
		      uint8_t *flags)
{
	struct frame copy = *f;
	struct frame_header h;
	struct span pt;
	int err;

	assert_int_equal(frame_header_parse(copy.b, sizeof(copy.b), &h), 0);
	err = peer_open(p, &h, copy.b, &pt, now);
	if (err == 0) {
		assert_int_equal(pt.len, PT_BYTES);
		assert_int_equal(load_be32(pt.p), seq);
		if (flags)
			*flags = h.flags;
	}
	return err;
}

/* Seal on a, open on b. */
static int send_one(struct peer *a, struct peer *b, uint32_t seq, uint64_t now)
{
	struct frame f;

	seal(a, seq, &f, now);
	return open_frame(b, &f, seq, now, NULL);
}

/* INIT and RESPONSE, not yet confirmed by a frame. */
static void handshake_unconfirmed(struct world *w, uint8_t init[MSG_INIT_BYTES], uint64_t now)
{
	uint8_t resp[MSG_RESPONSE_BYTES];

	assert_int_equal(peer_handshake_start(w->cli, init, WALL(now), now), 0);
	assert_int_equal(peer_handle_init(w->srv, init, MSG_INIT_BYTES, resp, now), 0);
	assert_int_equal(peer_handle_response(w->cli, resp, sizeof(resp), now), 0);
}

/* A full handshake confirmed by one client frame. */
static void handshake(struct world *w, uint8_t init[MSG_INIT_BYTES], uint64_t now)
{
	handshake_unconfirmed(w, init, now);
	assert_int_equal(send_one(w->cli, w->srv, 0xc0ffee, now), 0);
}

static void test_handshake_and_confirmation(void **state)
{
	struct world *w = *state;
	uint8_t init[MSG_INIT_BYTES];
	struct frame f;

	assert_true(peer_wants_handshake(w->cli, T0));
	assert_false(peer_wants_handshake(w->srv, T0));
	assert_int_equal(peer_seal(w->cli, MSG_DATA, f.b, PT_BYTES, T0), -ENOTCONN);
	handshake_unconfirmed(w, init, T0);
	assert_false(peer_wants_handshake(w->cli, T0));
	assert_true(peer_has_session(w->cli));

	/* The server holds the session as pending: it cannot seal yet. */
	assert_false(peer_has_session(w->srv));
	assert_int_equal(peer_pending_count(w->srv), 1);
	assert_int_equal(peer_seal(w->srv, MSG_DATA, f.b, PT_BYTES, T0), -ENOTCONN);
	assert_int_equal(index_count(w->six), 1);
	assert_int_equal(index_count(w->cix), 1);

	/* The client's first frame confirms it. */
	assert_int_equal(send_one(w->cli, w->srv, 1, T0 + 1), 0);
	assert_true(peer_has_session(w->srv));
	assert_int_equal(peer_pending_count(w->srv), 0);
	assert_ptr_equal(index_lookup(w->six, peer_current_index(w->srv)), w->srv);
	assert_ptr_equal(index_lookup(w->cix, peer_current_index(w->cli)), w->cli);
	for (uint32_t i = 2; i < 10; i++) {
		assert_int_equal(send_one(w->srv, w->cli, i, T0 + i), 0);
		assert_int_equal(send_one(w->cli, w->srv, i, T0 + i), 0);
	}
	/* A frame for an index nobody holds. */
	seal(w->cli, 10, &f, T0 + 10);
	store_be32(f.b + 8, peer_current_index(w->srv) ^ 0x5a5a5a5a);
	assert_int_equal(open_frame(w->srv, &f, 10, T0 + 10, NULL), -ENOENT);
}

/* An INIT of this channel with the given timestamp, as a client would make it. */
static void make_init(const struct world *w, uint64_t ts, uint8_t init[MSG_INIT_BYTES])
{
	uint8_t k_init[HANDSHAKE_INIT_KEY_BYTES], e[HANDSHAKE_PRIVATE_BYTES];

	handshake_init_key(w->psk, k_init);
	assert_int_equal(handshake_init_create(k_init, 0x5eed, ts, e, init), 0);
}

static void test_replayed_init_cannot_replace_session(void **state)
{
	struct world *w = *state;
	uint8_t init[MSG_INIT_BYTES], init2[MSG_INIT_BYTES], resp[MSG_RESPONSE_BYTES];
	uint32_t cur;
	struct frame f;
	uint64_t now = T0;

	handshake(w, init, now);
	cur = peer_current_index(w->srv);
	assert_int_equal(index_count(w->six), 1);

	/*
	 * The recorded INIT still has a valid MAC, but its timestamp is not newer than the
	 * last one answered: refused before the DH, no pending slot, no index, no RESPONSE.
	 */
	for (int i = 0; i < 3 * HANDSHAKE_MAX_PENDING; i++) {
		memset(resp, 0x55, sizeof(resp));
		assert_int_equal(peer_handle_init(w->srv, init, sizeof(init), resp, ++now),
				 -EALREADY);
		for (size_t j = 0; j < sizeof(resp); j++)
			assert_int_equal(resp[j], 0x55);
	}
	assert_int_equal(peer_pending_count(w->srv), 0);
	assert_int_equal(index_count(w->six), 1);
	assert_int_equal(peer_current_index(w->srv), cur);
	assert_int_equal(peer_previous_index(w->srv), 0);
	for (uint32_t i = 0; i < 5; i++) {
		assert_int_equal(send_one(w->cli, w->srv, i, now), 0);
		assert_int_equal(send_one(w->srv, w->cli, i, now), 0);
	}

	/* A newer INIT makes a pending session; a replay of it is refused in turn. */
	assert_int_equal(peer_handshake_start(w->cli, init2, WALL(now), now), 0);
	assert_int_equal(peer_handle_init(w->srv, init2, sizeof(init2), resp, now), 0);
	assert_int_equal(peer_pending_count(w->srv), 1);
	assert_int_equal(peer_handle_init(w->srv, init2, sizeof(init2), resp, now), -EALREADY);
	assert_int_equal(peer_pending_count(w->srv), 1);
	assert_int_equal(index_count(w->six), 2);

	/* Someone without e_c tries to confirm the pending session with a made-up frame. */
	memset(&f, 0, sizeof(f));
	f.b[0] = MSG_DATA;
	store_be32(f.b + 4, PT_BYTES);
	store_be32(f.b + 8, load_be32(resp + 4));
	assert_int_equal(open_frame(w->srv, &f, 0, now, NULL), -EBADMSG);
	assert_int_equal(peer_pending_count(w->srv), 1);
	assert_int_equal(peer_current_index(w->srv), cur);

	/* Forged INITs (every bit flip of the real one) get nothing at all. */
	for (size_t bit = 0; bit < 8 * sizeof(init); bit++) {
		int err;

		init[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		err = peer_handle_init(w->srv, init, sizeof(init), resp, now);
		assert_true(err == -EPROTO || err == -EBADMSG);
		init[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	for (size_t len = 0; len < sizeof(init); len++)
		assert_int_equal(peer_handle_init(w->srv, init, len, resp, now), -EPROTO);
	assert_int_equal(index_count(w->six), 2);

	/* The pending one expires; the confirmed session stays. */
	peer_tick(w->srv, now + HANDSHAKE_PENDING_MS);
	assert_int_equal(peer_pending_count(w->srv), 0);
	assert_int_equal(index_count(w->six), 1);
	assert_int_equal(peer_current_index(w->srv), cur);
	assert_int_equal(send_one(w->srv, w->cli, 10, now + HANDSHAKE_PENDING_MS), 0);
}

/*
 * An INIT is answered only when it is newer than the newest confirmed one and not the INIT
 * of a live pending session; INITs that nobody confirmed hold no other INIT back.
 */
static void test_init_timestamp_order(void **state)
{
	struct world *w = *state;
	uint8_t init[MSG_INIT_BYTES], x[MSG_INIT_BYTES], resp[MSG_RESPONSE_BYTES];
	static const struct {
		int64_t delta; /* from WALL(T0), the timestamp of the first session's INIT */
		int want;
		size_t pending;
	} steps[] = {
		{ -1, -EALREADY, 0 },
		{ 0, -EALREADY, 0 },
		{ 1, 0, 1 },
		{ 1, -EALREADY, 1 },
		{ 0, -EALREADY, 1 },
		{ 1000000, 0, 2 },
		{ 999999, 0, 3 }, /* older than a pending one, newer than the confirmed one */
		{ 1000000, -EALREADY, 3 },
		{ -1000000000, -EALREADY, 3 },
		{ 1000002, 0, 4 },
		{ 1000003, 0, 4 }, /* evicts delta 1, the oldest pending */
		{ 1, 0, 4 }, /* ...which is then no longer a pending one's INIT */
		{ 1000003, -EALREADY, 4 },
	};

	handshake(w, init, T0);
	assert_true(handshake_init_timestamp(init) == WALL(T0));
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		size_t ix = index_count(w->six);

		make_init(w, WALL(T0) + (uint64_t)steps[i].delta, x);
		assert_int_equal(peer_handle_init(w->srv, x, sizeof(x), resp, T0 + i),
				 steps[i].want);
		assert_int_equal(peer_pending_count(w->srv), steps[i].pending);
		/* Refused: nothing allocated. Answered: one index more, or one evicted. */
		if (steps[i].want)
			assert_int_equal(index_count(w->six), ix);
		assert_int_equal(index_count(w->six), 1 + steps[i].pending);
	}
	assert_int_equal(send_one(w->cli, w->srv, 1, T0 + 20), 0);

	/* The client's own timestamps go up even when its clock stands still or steps back. */
	assert_int_equal(peer_handshake_start(w->cli, x, WALL(T0) + 1000003, T0 + 21), 0);
	assert_true(handshake_init_timestamp(x) == WALL(T0) + 1000003);
	assert_int_equal(peer_handle_init(w->srv, x, sizeof(x), resp, T0 + 21), -EALREADY);
	assert_int_equal(peer_handshake_start(w->cli, x, WALL(T0) + 1000003, T0 + 22), 0);
	assert_true(handshake_init_timestamp(x) == WALL(T0) + 1000004);
	assert_int_equal(peer_handshake_start(w->cli, x, 0, T0 + 23), 0);
	assert_true(handshake_init_timestamp(x) == WALL(T0) + 1000005);
	assert_int_equal(peer_handle_init(w->srv, x, sizeof(x), resp, T0 + 23), 0);
	assert_int_equal(peer_handle_response(w->cli, resp, sizeof(resp), T0 + 23), 0);
	assert_int_equal(send_one(w->cli, w->srv, 2, T0 + 23), 0);
	assert_int_equal(peer_current_index(w->srv), load_be32(resp + 4));

	/* Confirmed: now every older INIT is refused, pending ones' included. */
	for (int64_t d = 1000002; d <= 1000005; d++) {
		make_init(w, WALL(T0) + (uint64_t)d, x);
		assert_int_equal(peer_handle_init(w->srv, x, sizeof(x), resp, T0 + 24), -EALREADY);
	}
	make_init(w, WALL(T0) + 1000006, x);
	assert_int_equal(peer_handle_init(w->srv, x, sizeof(x), resp, T0 + 24), 0);
}

/*
 * Only confirmation moves the timestamp to beat. A recorded INIT the server never saw
 * (the client's clock ran far ahead then; the INIT was lost on the way) is answered once,
 * but nobody can confirm its session, so it does not lock the client's own INITs out.
 */
static void test_init_timestamp_moves_on_confirmation(void **state)
{
	struct world *w = *state;
	uint8_t init[MSG_INIT_BYTES], ahead[MSG_INIT_BYTES], resp[MSG_RESPONSE_BYTES];
	uint64_t now = T0;

	handshake(w, init, now);
	make_init(w, WALL(now) + 3600 * 1000000000ull, ahead);
	assert_int_equal(peer_handle_init(w->srv, ahead, sizeof(ahead), resp, ++now), 0);
	assert_int_equal(peer_handle_init(w->srv, ahead, sizeof(ahead), resp, ++now), -EALREADY);
	assert_int_equal(peer_pending_count(w->srv), 1);

	/* The client's rekey, older than that INIT but newer than its own last one. */
	handshake(w, init, ++now);
	assert_true(handshake_init_timestamp(init) < handshake_init_timestamp(ahead));
	assert_int_equal(peer_pending_count(w->srv), 1);
	assert_int_equal(send_one(w->srv, w->cli, 1, now), 0);

	/* Its pending session expires unconfirmed: a replay of it is answered once more. */
	now += HANDSHAKE_PENDING_MS;
	peer_tick(w->srv, now);
	assert_int_equal(peer_pending_count(w->srv), 0);
	assert_int_equal(peer_handle_init(w->srv, ahead, sizeof(ahead), resp, now), 0);
	/* The client's INITs still get in. */
	handshake(w, init, ++now);
	assert_int_equal(send_one(w->srv, w->cli, 2, now), 0);
}

/*
 * The timestamp to beat outlives the session: whether the client is online or gone, a
 * replayed INIT gets the same refusal, so the answer does not tell which it is.
 */
static void test_init_timestamp_outlives_session(void **state)
{
	struct world *w = *state;
	uint8_t init[MSG_INIT_BYTES], old[MSG_INIT_BYTES], resp[MSG_RESPONSE_BYTES];
	uint64_t end = T0 + REJECT_AFTER_MS;

	make_init(w, WALL(T0) - 1, old);
	handshake(w, init, T0);
	assert_int_equal(peer_handle_init(w->srv, old, sizeof(old), resp, end - 1), -EALREADY);
	assert_int_equal(peer_handle_init(w->srv, init, sizeof(init), resp, end - 1), -EALREADY);
	/* Expired, no tick yet. */
	assert_int_equal(peer_handle_init(w->srv, old, sizeof(old), resp, end), -EALREADY);
	assert_int_equal(peer_handle_init(w->srv, init, sizeof(init), resp, end), -EALREADY);
	/* Expired and dropped by a tick. */
	peer_tick(w->srv, end);
	assert_false(peer_has_session(w->srv));
	assert_int_equal(peer_handle_init(w->srv, old, sizeof(old), resp, end), -EALREADY);
	assert_int_equal(peer_handle_init(w->srv, init, sizeof(init), resp, end), -EALREADY);
	assert_int_equal(peer_pending_count(w->srv), 0);
	assert_int_equal(index_count(w->six), 0);

	/* The client comes back with a clock that went on: it gets in. */
	handshake(w, init, end + 1);
	assert_true(peer_has_session(w->srv));
	assert_int_equal(send_one(w->srv, w->cli, 1, end + 1), 0);
}

/*
 * The attack that made the timestamp necessary: during a rekey the client already seals
 * with the new session, which the server holds as pending until the first frame arrives.
 * A flood of recorded INITs (the old one and the rekey's own) must not evict it.
 */
static void test_replay_flood_spares_rekey(void **state)
{
	struct world *w = *state;
	uint8_t first[MSG_INIT_BYTES], rekey[MSG_INIT_BYTES], resp[MSG_RESPONSE_BYTES];
	uint32_t old_srv;

	handshake(w, first, T0);
	old_srv = peer_current_index(w->srv);
	handshake_unconfirmed(w, rekey, T0 + 10);
	assert_int_equal(peer_pending_count(w->srv), 1);
	for (int i = 0; i < 3 * HANDSHAKE_MAX_PENDING; i++) {
		assert_int_equal(peer_handle_init(w->srv, first, sizeof(first), resp, T0 + 11),
				 -EALREADY);
		assert_int_equal(peer_handle_init(w->srv, rekey, sizeof(rekey), resp, T0 + 11),
				 -EALREADY);
	}
	assert_int_equal(peer_pending_count(w->srv), 1);
	assert_int_equal(index_count(w->six), 2);
	assert_int_equal(peer_current_index(w->srv), old_srv);
	/* The client's first frame of the new session still finds it and promotes it. */
	assert_int_equal(send_one(w->cli, w->srv, 1, T0 + 12), 0);
	assert_int_not_equal(peer_current_index(w->srv), old_srv);
	assert_int_equal(peer_previous_index(w->srv), old_srv);
	assert_int_equal(peer_pending_count(w->srv), 0);
	assert_int_equal(send_one(w->srv, w->cli, 2, T0 + 12), 0);
}

static void test_pending_evicts_oldest(void **state)
{
	struct world *w = *state;
	uint8_t init[MSG_INIT_BYTES], x[MSG_INIT_BYTES], resp[MSG_RESPONSE_BYTES];
	struct frame f;

	/*
	 * Before the channel's first session no timestamp holds INITs back, but a replay of
	 * a pending session's INIT is refused all the same.
	 */
	handshake_unconfirmed(w, init, T0);
	for (int i = 1; i <= HANDSHAKE_MAX_PENDING; i++)
		assert_int_equal(peer_handle_init(w->srv, init, sizeof(init), resp, T0 + i),
				 -EALREADY);
	assert_int_equal(peer_pending_count(w->srv), 1);

	/*
	 * HANDSHAKE_MAX_PENDING other INITs that nobody confirmed (recorded, never answered)
	 * push it out (docs/PROTOCOL.md section 8).
	 */
	for (int i = 1; i <= HANDSHAKE_MAX_PENDING; i++) {
		make_init(w, WALL(T0) + (uint64_t)i, x);
		assert_int_equal(peer_handle_init(w->srv, x, sizeof(x), resp, T0 + i), 0);
	}
	seal(w->cli, 1, &f, T0 + 10);
	assert_int_equal(open_frame(w->srv, &f, 1, T0 + 10, NULL), -ENOENT);
	assert_false(peer_has_session(w->srv));

	/* With one fewer it would have survived. */
	peer_free(w->srv);
	w->srv = peer_new(PEER_RESPONDER, w->psk, w->six);
	assert_non_null(w->srv);
	handshake_unconfirmed(w, init, T0 + 20);
	for (int i = 1; i < HANDSHAKE_MAX_PENDING; i++) {
		make_init(w, WALL(T0 + 20) + (uint64_t)i, x);
		assert_int_equal(peer_handle_init(w->srv, x, sizeof(x), resp, T0 + 20 + i), 0);
	}
	assert_int_equal(send_one(w->cli, w->srv, 1, T0 + 30), 0);
	assert_true(peer_has_session(w->srv));
	assert_int_equal(peer_pending_count(w->srv), HANDSHAKE_MAX_PENDING - 1);

	/*
	 * Eviction is first in, first out even within one millisecond: the slots are full
	 * of other INITs, the genuine one arrives, then HANDSHAKE_MAX_PENDING - 1 more evict
	 * only the ones that came before it.
	 */
	peer_free(w->srv);
	w->srv = peer_new(PEER_RESPONDER, w->psk, w->six);
	assert_non_null(w->srv);
	for (int i = 0; i < HANDSHAKE_MAX_PENDING; i++) {
		make_init(w, 1000 + (uint64_t)i, x);
		assert_int_equal(peer_handle_init(w->srv, x, sizeof(x), resp, T0 + 40), 0);
	}
	handshake_unconfirmed(w, init, T0 + 40);
	for (int i = 1; i < HANDSHAKE_MAX_PENDING; i++) {
		make_init(w, 2000 + (uint64_t)i, x);
		assert_int_equal(peer_handle_init(w->srv, x, sizeof(x), resp, T0 + 40), 0);
	}
	assert_int_equal(peer_pending_count(w->srv), HANDSHAKE_MAX_PENDING);
	assert_int_equal(send_one(w->cli, w->srv, 2, T0 + 40), 0);
	assert_true(peer_has_session(w->srv));
}

static void test_pending_expiry(void **state)
{
	struct world *w = *state;
	uint8_t init[MSG_INIT_BYTES];
	struct frame f;

	handshake_unconfirmed(w, init, T0);
	seal(w->cli, 1, &f, T0);
	/* Just too late: not opened, not promoted (also without a tick in between). */
	assert_int_equal(open_frame(w->srv, &f, 1, T0 + HANDSHAKE_PENDING_MS, NULL), -ENOENT);
	assert_false(peer_has_session(w->srv));
	/* One millisecond earlier it would have been confirmed. */
	assert_int_equal(open_frame(w->srv, &f, 1, T0 + HANDSHAKE_PENDING_MS - 1, NULL), 0);
	assert_true(peer_has_session(w->srv));

	handshake_unconfirmed(w, init, T0 + 1);
	assert_int_equal(peer_pending_count(w->srv), 1);
	peer_tick(w->srv, T0 + 1 + HANDSHAKE_PENDING_MS - 1);
	assert_int_equal(peer_pending_count(w->srv), 1);
	peer_tick(w->srv, T0 + 1 + HANDSHAKE_PENDING_MS);
	assert_int_equal(peer_pending_count(w->srv), 0);
}

/*
 * Rekey with frames in flight both ways: frames sealed with the old session before the
 * switch and delivered after it still open (previous session), until
 * PREVIOUS_SESSION_KEEP_MS after the switch.
 */
static void test_promotion_and_previous(void **state)
{
	struct world *w = *state;
	uint8_t init[MSG_INIT_BYTES];
	uint32_t old_srv, old_cli;
	struct frame s_old[3], c_old[3];
	struct frame_header h;
	uint64_t t1, t2;

	handshake(w, init, T0);
	old_srv = peer_current_index(w->srv);
	old_cli = peer_current_index(w->cli);

	t1 = T0 + 100;
	for (uint32_t i = 0; i < 2; i++)
		seal(w->srv, 100 + i, &s_old[i], t1);
	for (uint32_t i = 0; i < 3; i++)
		seal(w->cli, 200 + i, &c_old[i], t1);

	/* Client rekeys at t1: its new session is current at once, the old one previous. */
	handshake_unconfirmed(w, init, t1);
	assert_int_equal(peer_previous_index(w->cli), old_cli);
	assert_int_not_equal(peer_current_index(w->cli), old_cli);
	/* Until confirmation the server keeps sealing with the old session. */
	assert_int_equal(peer_current_index(w->srv), old_srv);
	seal(w->srv, 102, &s_old[2], t1);
	assert_int_equal(frame_header_parse(s_old[2].b, FRAME_BYTES, &h), 0);
	assert_int_equal(h.receiver, old_cli);
	assert_int_equal(open_frame(w->cli, &s_old[0], 100, t1, NULL), 0);
	/* Old client frames still land on the server's current session. */
	assert_int_equal(open_frame(w->srv, &c_old[0], 200, t1, NULL), 0);
	assert_int_equal(peer_current_index(w->srv), old_srv);

	/* First frame of the new session, at t2: promotion. */
	t2 = t1 + 10;
	assert_int_equal(send_one(w->cli, w->srv, 300, t2), 0);
	assert_int_not_equal(peer_current_index(w->srv), old_srv);
	assert_int_equal(peer_previous_index(w->srv), old_srv);
	assert_int_equal(peer_pending_count(w->srv), 0);
	assert_int_equal(send_one(w->srv, w->cli, 301, t2), 0);
	assert_int_equal(send_one(w->cli, w->srv, 302, t2), 0);

	/* In flight before the switch, delivered after it: opened until the keep time. */
	assert_int_equal(
		open_frame(w->srv, &c_old[1], 201, t2 + PREVIOUS_SESSION_KEEP_MS - 1, NULL), 0);
	assert_int_equal(open_frame(w->srv, &c_old[2], 202, t2 + PREVIOUS_SESSION_KEEP_MS, NULL),
			 -ENOENT);
	assert_int_equal(
		open_frame(w->cli, &s_old[1], 101, t1 + PREVIOUS_SESSION_KEEP_MS - 1, NULL), 0);
	assert_int_equal(open_frame(w->cli, &s_old[2], 102, t1 + PREVIOUS_SESSION_KEEP_MS, NULL),
			 -ENOENT);

	peer_tick(w->srv, t2 + PREVIOUS_SESSION_KEEP_MS - 1);
	assert_int_equal(peer_previous_index(w->srv), old_srv);
	peer_tick(w->srv, t2 + PREVIOUS_SESSION_KEEP_MS);
	assert_int_equal(peer_previous_index(w->srv), 0);
	assert_null(index_lookup(w->six, old_srv));
	peer_tick(w->cli, t1 + PREVIOUS_SESSION_KEEP_MS - 1);
	assert_int_equal(peer_previous_index(w->cli), old_cli);
	peer_tick(w->cli, t1 + PREVIOUS_SESSION_KEEP_MS);
	assert_int_equal(peer_previous_index(w->cli), 0);
	assert_null(index_lookup(w->cix, old_cli));
	assert_int_equal(index_count(w->six), 1);
	assert_int_equal(index_count(w->cix), 1);
	/* The new session goes on. */
	assert_int_equal(send_one(w->cli, w->srv, 303, t2 + PREVIOUS_SESSION_KEEP_MS), 0);
	assert_int_equal(send_one(w->srv, w->cli, 304, t2 + PREVIOUS_SESSION_KEEP_MS), 0);
}

static void test_previous_keep_boundary(void **state)
{
	struct world *w = *state;
	uint8_t init[MSG_INIT_BYTES];
	struct frame late[2];
	uint64_t now = T0;

	handshake(w, init, now);
	seal(w->cli, 1, &late[0], now);
	seal(w->cli, 2, &late[1], now);
	handshake(w, init, now); /* promotes at now */
	assert_int_equal(open_frame(w->srv, &late[0], 1, now + PREVIOUS_SESSION_KEEP_MS - 1, NULL),
			 0);
	assert_int_equal(open_frame(w->srv, &late[1], 2, now + PREVIOUS_SESSION_KEEP_MS, NULL),
			 -ENOENT);
}

static void test_client_rejects_foreign_responses(void **state)
{
	struct world *w = *state;
	uint8_t init[MSG_INIT_BYTES], init2[MSG_INIT_BYTES];
	uint8_t resp_old[MSG_RESPONSE_BYTES], resp_a[MSG_RESPONSE_BYTES];
	uint8_t resp_b[MSG_RESPONSE_BYTES];
	struct peer *other;
	uint32_t cur;

	/* First session, keeping its RESPONSE. */
	assert_int_equal(peer_handshake_start(w->cli, init, WALL(T0), T0), 0);
	assert_int_equal(peer_handle_init(w->srv, init, sizeof(init), resp_old, T0), 0);
	assert_int_equal(peer_handle_response(w->cli, resp_old, sizeof(resp_old), T0), 0);
	assert_int_equal(send_one(w->cli, w->srv, 1, T0), 0);
	cur = peer_current_index(w->cli);

	/* Replayed with no handshake in progress. */
	assert_int_equal(peer_handle_response(w->cli, resp_old, sizeof(resp_old), T0), -ENOENT);
	assert_int_equal(peer_current_index(w->cli), cur);

	/* Handshake A is abandoned for B: A's RESPONSE and the old one are refused. */
	assert_int_equal(peer_handshake_start(w->cli, init, WALL(T0 + 1), T0 + 1), 0);
	assert_int_equal(peer_handle_init(w->srv, init, sizeof(init), resp_a, T0 + 1), 0);
	assert_int_equal(peer_handshake_start(w->cli, init2, WALL(T0 + 2), T0 + 2), 0);
	assert_int_equal(index_count(w->cix), 2); /* A's index was given back */
	assert_int_equal(peer_handle_response(w->cli, resp_a, sizeof(resp_a), T0 + 2), -ENOENT);
	assert_int_equal(peer_handle_response(w->cli, resp_old, sizeof(resp_old), T0 + 2), -ENOENT);

	/* A RESPONSE made for another client of the same channel. */
	other = peer_new(PEER_INITIATOR, w->psk, w->cix);
	assert_non_null(other);
	/* Its clock a little behind ours, so that the server still answers init2 below. */
	assert_int_equal(peer_handshake_start(other, init, WALL(T0 + 2) - 1, T0 + 2), 0);
	assert_int_equal(peer_handle_init(w->srv, init, sizeof(init), resp_a, T0 + 2), 0);
	assert_int_equal(peer_handle_response(w->cli, resp_a, sizeof(resp_a), T0 + 2), -ENOENT);
	/* ...even with our receiver index pasted in: the MAC covers our INIT. */
	store_be32(resp_a + 8, load_be32(init2 + 4));
	assert_int_equal(peer_handle_response(w->cli, resp_a, sizeof(resp_a), T0 + 2), -EBADMSG);
	peer_free(other);

	/* Every damaged form of the right RESPONSE is refused; the right one then works. */
	assert_int_equal(peer_handle_init(w->srv, init2, sizeof(init2), resp_b, T0 + 3), 0);
	for (size_t bit = 0; bit < 8 * sizeof(resp_b); bit++) {
		resp_b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_not_equal(peer_handle_response(w->cli, resp_b, sizeof(resp_b), T0 + 3),
				     0);
		resp_b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	for (size_t len = 0; len < sizeof(resp_b); len++)
		assert_int_equal(peer_handle_response(w->cli, resp_b, len, T0 + 3), -EPROTO);
	assert_int_equal(peer_current_index(w->cli), cur);
	assert_int_equal(send_one(w->cli, w->srv, 2, T0 + 3), 0);
	assert_int_equal(send_one(w->srv, w->cli, 3, T0 + 3), 0);

	assert_int_equal(peer_handle_response(w->cli, resp_b, sizeof(resp_b), T0 + 4), 0);
	assert_int_not_equal(peer_current_index(w->cli), cur);
	assert_int_equal(peer_previous_index(w->cli), cur);
	assert_int_equal(send_one(w->cli, w->srv, 4, T0 + 4), 0);
	assert_int_equal(send_one(w->srv, w->cli, 5, T0 + 4), 0);
	/* Once used, that RESPONSE is history too. */
	assert_int_equal(peer_handle_response(w->cli, resp_b, sizeof(resp_b), T0 + 5), -ENOENT);
}

static void test_wants_handshake(void **state)
{
	struct world *w = *state;
	uint8_t init[MSG_INIT_BYTES], resp[MSG_RESPONSE_BYTES];
	uint64_t t;
	uint8_t flags = 0xff;
	struct frame f;

	/* Retry timer of a handshake that gets no answer. */
	assert_int_equal(peer_handshake_start(w->cli, init, WALL(T0), T0), 0);
	assert_false(peer_wants_handshake(w->cli, T0 + HANDSHAKE_RETRY_MS - 1));
	assert_true(peer_wants_handshake(w->cli, T0 + HANDSHAKE_RETRY_MS));

	t = T0 + HANDSHAKE_RETRY_MS;
	handshake(w, init, t);
	assert_false(peer_wants_handshake(w->cli, t));
	assert_false(peer_wants_handshake(w->cli, t + REKEY_AFTER_MS - 1));
	assert_true(peer_wants_handshake(w->cli, t + REKEY_AFTER_MS));

	/* The server asks for it (REKEY flag) once its session is REKEY_AFTER_MS old. */
	seal(w->srv, 1, &f, t + REKEY_AFTER_MS - 1);
	assert_int_equal(open_frame(w->cli, &f, 1, t + 1, &flags), 0);
	assert_int_equal(flags, 0);
	assert_false(peer_wants_handshake(w->cli, t + 1));
	seal(w->srv, 2, &f, t + REKEY_AFTER_MS);
	assert_int_equal(open_frame(w->cli, &f, 2, t + 1, &flags), 0);
	assert_int_equal(flags, FRAME_FLAG_REKEY);
	assert_true(peer_wants_handshake(w->cli, t + 1));

	/* Asked for, then done: no longer wanted. */
	handshake(w, init, t + 2);
	assert_false(peer_wants_handshake(w->cli, t + 2));
	peer_request_handshake(w->cli);
	assert_true(peer_wants_handshake(w->cli, t + 2));
	assert_int_equal(peer_handshake_start(w->cli, init, WALL(t + 3), t + 3), 0);
	assert_false(peer_wants_handshake(w->cli, t + 3));
	assert_int_equal(peer_handle_init(w->srv, init, sizeof(init), resp, t + 3), 0);
	assert_int_equal(peer_handle_response(w->cli, resp, sizeof(resp), t + 3), 0);
	assert_false(peer_wants_handshake(w->cli, t + 3));

	/* A client frame never carries the flag; a server ignores it anyway. */
	seal(w->cli, 3, &f, t + 3 + REKEY_AFTER_MS);
	assert_int_equal(f.b[1], 0);
}

static void test_session_too_old(void **state)
{
	struct world *w = *state;
	uint8_t init[MSG_INIT_BYTES];
	struct frame f;

	handshake(w, init, T0);
	assert_int_equal(peer_seal(w->cli, MSG_DATA, f.b, PT_BYTES, T0 + REJECT_AFTER_MS - 1), 0);
	assert_int_equal(peer_seal(w->cli, MSG_DATA, f.b, PT_BYTES, T0 + REJECT_AFTER_MS), -ESTALE);
	assert_int_equal(peer_seal(w->srv, MSG_DATA, f.b, PT_BYTES, T0 + REJECT_AFTER_MS), -ESTALE);
	peer_tick(w->cli, T0 + REJECT_AFTER_MS - 1);
	assert_true(peer_has_session(w->cli));
	peer_tick(w->cli, T0 + REJECT_AFTER_MS);
	peer_tick(w->srv, T0 + REJECT_AFTER_MS);
	assert_false(peer_has_session(w->cli));
	assert_false(peer_has_session(w->srv));
	assert_int_equal(index_count(w->cix), 0);
	assert_int_equal(index_count(w->six), 0);
	assert_true(peer_wants_handshake(w->cli, T0 + REJECT_AFTER_MS));
}

/*
 * Continuous traffic both ways, each direction with frames in flight (a FIFO with a lag),
 * while the client rekeys several times: every frame opens, none is lost.
 */
#define LAG 3
#define STEPS 400

struct pipe {
	struct frame q[LAG + 1];
	uint32_t seq[LAG + 1];
	size_t n;
};

static void pipe_push(struct pipe *p, const struct frame *f, uint32_t seq)
{
	assert_true(p->n <= LAG);
	p->q[p->n] = *f;
	p->seq[p->n] = seq;
	p->n++;
}

/* Deliver the oldest frame once more than LAG are in flight (all when flush). */
static void pipe_deliver(struct pipe *p, struct peer *to, uint64_t now, bool flush,
			 uint32_t *delivered)
{
	while (p->n > (flush ? 0 : LAG - 1)) {
		assert_int_equal(open_frame(to, &p->q[0], p->seq[0], now, NULL), 0);
		assert_int_equal(p->seq[0], *delivered);
		(*delivered)++;
		memmove(&p->q[0], &p->q[1], (p->n - 1) * sizeof(p->q[0]));
		memmove(&p->seq[0], &p->seq[1], (p->n - 1) * sizeof(p->seq[0]));
		p->n--;
	}
}

static void test_rekey_without_loss(void **state)
{
	struct world *w = *state;
	struct pipe c2s = { .n = 0 }, s2c = { .n = 0 };
	uint8_t init[MSG_INIT_BYTES], resp[MSG_RESPONSE_BYTES];
	uint32_t sent_c = 0, sent_s = 0, got_s = 0, got_c = 0;
	uint32_t sessions_seen = 1, last_srv;
	bool resp_in_flight = false;
	uint64_t now = T0;
	struct frame f;

	handshake(w, init, now);
	got_s = sent_c = 0;
	last_srv = peer_current_index(w->srv);
	for (int step = 0; step < STEPS; step++) {
		now += 10;
		/* Every 50 steps the client rekeys; the RESPONSE arrives 2 steps later. */
		if (step % 50 == 10) {
			assert_int_equal(peer_handshake_start(w->cli, init, WALL(now), now), 0);
			assert_int_equal(peer_handle_init(w->srv, init, sizeof(init), resp, now),
					 0);
			resp_in_flight = true;
		}
		if (resp_in_flight && step % 50 == 12) {
			assert_int_equal(peer_handle_response(w->cli, resp, sizeof(resp), now), 0);
			resp_in_flight = false;
		}
		seal(w->cli, sent_c, &f, now);
		pipe_push(&c2s, &f, sent_c++);
		seal(w->srv, sent_s, &f, now);
		pipe_push(&s2c, &f, sent_s++);
		pipe_deliver(&c2s, w->srv, now, false, &got_s);
		pipe_deliver(&s2c, w->cli, now, false, &got_c);
		if (peer_current_index(w->srv) != last_srv) {
			sessions_seen++;
			last_srv = peer_current_index(w->srv);
		}
		peer_tick(w->cli, now);
		peer_tick(w->srv, now);
	}
	pipe_deliver(&c2s, w->srv, now, true, &got_s);
	pipe_deliver(&s2c, w->cli, now, true, &got_c);
	assert_int_equal(got_s, STEPS);
	assert_int_equal(got_c, STEPS);
	assert_int_equal(sessions_seen, 1 + STEPS / 50);
	assert_int_not_equal(peer_current_index(w->cli), 0);
}

/* Indexes are unique across all channels of a server, and map back to their channel. */
static void test_indexes_unique_across_channels(void **state)
{
	struct world *w = *state;
	enum {
		N = 8
	};
	struct peer *cli[N], *srv[N];
	uint8_t psk[N][PSK_BYTES], k_inits[N][HANDSHAKE_INIT_KEY_BYTES];
	uint8_t init[MSG_INIT_BYTES], resp[MSG_RESPONSE_BYTES];
	uint32_t seen[N];

	(void)w;
	for (int i = 0; i < N; i++) {
		randombytes_buf(psk[i], PSK_BYTES);
		cli[i] = peer_new(PEER_INITIATOR, psk[i], w->cix);
		srv[i] = peer_new(PEER_RESPONDER, psk[i], w->six);
		assert_non_null(cli[i]);
		assert_non_null(srv[i]);
	}
	for (int i = 0; i < N; i++)
		handshake_init_key(psk[i], k_inits[i]);
	for (int i = 0; i < N; i++) {
		assert_int_equal(peer_handshake_start(cli[i], init, WALL(T0), T0), 0);
		/* The server finds the channel by trying each one's K_init. */
		assert_int_equal(handshake_init_match(init, sizeof(init), k_inits, N), i);
		assert_int_equal(peer_handle_init(srv[i], init, sizeof(init), resp, T0), 0);
		assert_int_equal(peer_handle_init(srv[(i + 1) % N], init, sizeof(init), resp, T0),
				 -EBADMSG);
		assert_int_equal(peer_handle_response(cli[i], resp, sizeof(resp), T0), 0);
		assert_int_equal(send_one(cli[i], srv[i], 1, T0), 0);
		assert_int_equal(send_one(srv[i], cli[i], 1, T0), 0);
		seen[i] = peer_current_index(srv[i]);
		assert_ptr_equal(index_lookup(w->six, peer_current_index(srv[i])), srv[i]);
		assert_ptr_equal(index_lookup(w->cix, peer_current_index(cli[i])), cli[i]);
	}
	for (int i = 0; i < N; i++) {
		handshake_unconfirmed(&(struct world){ .cli = cli[i], .srv = srv[i] }, init, T0);
		assert_ptr_equal(index_lookup(w->six, peer_current_index(srv[i])), srv[i]);
	}
	for (size_t i = 0; i < N; i++)
		for (size_t j = i + 1; j < N; j++)
			assert_int_not_equal(seen[i], seen[j]);
	/* 1 current + 1 pending per server channel. */
	assert_int_equal(index_count(w->six), 2 * N);
	for (int i = 0; i < N; i++) {
		peer_free(cli[i]);
		peer_free(srv[i]);
	}
	assert_int_equal(index_count(w->six), 0);
	assert_int_equal(index_count(w->cix), 0);
}

/* Timestamps used up: refused, and the handshake in progress is left alone. */
static void test_client_timestamps_used_up(void **state)
{
	struct world *w = *state;
	uint8_t init[MSG_INIT_BYTES], init2[MSG_INIT_BYTES], resp[MSG_RESPONSE_BYTES];

	assert_int_equal(peer_handshake_start(w->cli, init, UINT64_MAX, T0), 0);
	assert_true(handshake_init_timestamp(init) == UINT64_MAX);
	assert_int_equal(peer_handshake_start(w->cli, init2, UINT64_MAX, T0), -EOVERFLOW);
	assert_int_equal(peer_handshake_start(w->cli, init2, 0, T0), -EOVERFLOW);
	assert_int_equal(index_count(w->cix), 1);
	assert_int_equal(peer_handle_init(w->srv, init, sizeof(init), resp, T0), 0);
	assert_int_equal(peer_handle_response(w->cli, resp, sizeof(resp), T0), 0);
	assert_int_equal(send_one(w->cli, w->srv, 1, T0), 0);
}

static void test_wrong_role(void **state)
{
	struct world *w = *state;
	uint8_t init[MSG_INIT_BYTES], resp[MSG_RESPONSE_BYTES];

	assert_int_equal(peer_handshake_start(w->srv, init, WALL(T0), T0), -EINVAL);
	assert_int_equal(peer_handshake_start(w->cli, init, WALL(T0), T0), 0);
	assert_int_equal(peer_handle_init(w->cli, init, sizeof(init), resp, T0), -EINVAL);
	assert_int_equal(peer_handle_response(w->srv, resp, sizeof(resp), T0), -ENOENT);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, world_setup, world_teardown)
	const struct CMUnitTest tests[] = {
		T(test_handshake_and_confirmation),
		T(test_replayed_init_cannot_replace_session),
		T(test_init_timestamp_order),
		T(test_init_timestamp_moves_on_confirmation),
		T(test_init_timestamp_outlives_session),
		T(test_replay_flood_spares_rekey),
		T(test_pending_evicts_oldest),
		T(test_pending_expiry),
		T(test_promotion_and_previous),
		T(test_previous_keep_boundary),
		T(test_client_rejects_foreign_responses),
		T(test_wants_handshake),
		T(test_session_too_old),
		T(test_rekey_without_loss),
		T(test_indexes_unique_across_channels),
		T(test_client_timestamps_used_up),
		T(test_wrong_role),
	};
#undef T

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
