/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Sealed frames: the golden vector of docs/PROTOCOL.md section 4, round trips at every
 * interesting length, every bit flip, every truncation, replays, forgeries, reflection,
 * and the rekey/reject limits of section 6.
 */
#include "core/session.h"
#include "core/session_test.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#define T0_MS 1000000ULL
#define INDEX_A 0x0a0a0a0aU
#define INDEX_B 0x01020304U

/* docs/PROTOCOL.md section 4, "Example (golden vector)". */
static const char golden_plaintext[] = "httun golden frame";
static const uint8_t golden_frame[] = {
	/* header: DATA, flags 0, reserved 0, length 18, receiver 0x01020304, counter 5 */
	0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x05,
	/* ciphertext */
	0xf0, 0xd5, 0xb6, 0x17, 0xad, 0x9e, 0xf2, 0x22, 0x04, 0x36, 0x2c, 0x9f, 0x65, 0x91, 0x27,
	0x83, 0x76, 0x61,
	/* tag */
	0xab, 0x2b, 0x95, 0xdd, 0x70, 0x8b, 0x26, 0xa6, 0xac, 0xd5, 0x37, 0xd0, 0x5a, 0x63, 0x8e,
	0xf0
};

static void key_fill(uint8_t key[32], uint8_t first)
{
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(first + i);
}

/* a seals with key 0x00.., b with key 0x40..: the two directions of one handshake. */
static void pair_new(struct session **a, struct session **b, uint64_t now_ms)
{
	struct session_keys ka, kb;

	key_fill(ka.send, 0x00);
	key_fill(ka.recv, 0x40);
	ka.local_index = INDEX_A;
	ka.remote_index = INDEX_B;
	key_fill(kb.send, 0x40);
	key_fill(kb.recv, 0x00);
	kb.local_index = INDEX_B;
	kb.remote_index = INDEX_A;
	*a = session_new(&ka, now_ms);
	*b = session_new(&kb, now_ms);
	sodium_memzero(&ka, sizeof(ka));
	sodium_memzero(&kb, sizeof(kb));
	assert_non_null(*a);
	assert_non_null(*b);
}

static uint8_t *frame_alloc(size_t plaintext_len)
{
	uint8_t *f = malloc(FRAME_OVERHEAD_BYTES + plaintext_len);

	assert_non_null(f);
	return f;
}

static void pattern_fill(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 131 + seed * 7 + (i >> 8));
}

/* Parse the whole buffer as one frame and open it with s. */
static int open_buf(struct session *s, uint8_t *f, size_t len, struct span *pt, uint64_t now_ms)
{
	struct frame_header h;
	int rc = frame_header_parse(f, len, &h);

	if (rc != 0)
		return rc;
	return session_open(s, &h, f, pt, now_ms);
}

static void test_crypto_init(void **state)
{
	(void)state;
	assert_int_equal(session_crypto_init(), 0);
	assert_int_equal(session_crypto_init(), 0);
}

static void test_golden_vector(void **state)
{
	struct session_keys k;
	struct session *tx, *rx;
	uint8_t f[sizeof(golden_frame)];
	struct frame_header h;
	struct span pt;

	(void)state;
	assert_int_equal(sizeof(golden_plaintext) - 1, 18);
	key_fill(k.send, 0x00);
	key_fill(k.recv, 0x00);
	k.local_index = INDEX_B;
	k.remote_index = INDEX_B;
	tx = session_new(&k, T0_MS);
	rx = session_new(&k, T0_MS);
	assert_non_null(tx);
	assert_non_null(rx);

	session_test_set_sent(tx, 5);
	memcpy(f + FRAME_HEADER_BYTES, golden_plaintext, 18);
	assert_int_equal(session_seal(tx, MSG_DATA, 0, f, 18), 0);
	assert_memory_equal(f, golden_frame, sizeof(golden_frame));
	assert_int_equal(session_sent(tx), 6);

	memcpy(f, golden_frame, sizeof(f));
	assert_int_equal(frame_header_parse(f, sizeof(f), &h), 0);
	assert_int_equal(h.type, MSG_DATA);
	assert_int_equal(h.flags, 0);
	assert_int_equal(h.length, 18);
	assert_int_equal(h.receiver, INDEX_B);
	assert_int_equal(h.counter, 5);
	assert_int_equal(session_open(rx, &h, f, &pt, T0_MS), 0);
	assert_int_equal(pt.len, 18);
	assert_ptr_equal(pt.p, f + FRAME_HEADER_BYTES);
	assert_memory_equal(pt.p, golden_plaintext, 18);

	session_free(tx);
	session_free(rx);
}

/*
 * The same frame built with libsodium's one-shot API straight from the layout of section
 * 4, without session.c: checks the nonce and AD layout independently of session_seal.
 */
static void seal_by_hand(uint8_t *f, const uint8_t key[32], uint32_t receiver, uint64_t counter,
			 const uint8_t *pt, size_t len)
{
	uint8_t nonce[12] = { 0 };

	f[0] = MSG_DATA;
	f[1] = 0;
	store_be16(f + 2, 0);
	store_be32(f + 4, (uint32_t)len);
	store_be32(f + 8, receiver);
	store_be64(f + 12, counter);
	store_be64(nonce + 4, counter);
	assert_int_equal(crypto_aead_aes256gcm_encrypt_detached(
				 f + FRAME_HEADER_BYTES, f + FRAME_HEADER_BYTES + len, NULL, pt,
				 len, f, FRAME_HEADER_BYTES, NULL, nonce, key),
			 0);
}

static void test_by_hand(void **state)
{
	uint8_t key[32], f[sizeof(golden_frame)];
	struct session *a, *b;
	struct span pt;

	(void)state;
	key_fill(key, 0x00);
	seal_by_hand(f, key, INDEX_B, 5, (const uint8_t *)golden_plaintext, 18);
	assert_memory_equal(f, golden_frame, sizeof(f));

	/* b opens what a seals with key 0x00..; a frame made by hand with that key too. */
	pair_new(&a, &b, T0_MS);
	seal_by_hand(f, key, INDEX_B, 7, (const uint8_t *)golden_plaintext, 18);
	assert_int_equal(open_buf(b, f, sizeof(f), &pt, T0_MS), 0);
	assert_memory_equal(pt.p, golden_plaintext, 18);
	session_free(a);
	session_free(b);
}

static void test_roundtrip_lengths(void **state)
{
	static const size_t lens[] = {
		0, 1, 15, 16, 17, 127, 128, 129, 1500, 65535, FRAME_MAX_PLAINTEXT_BYTES
	};
	struct session *a, *b;

	(void)state;
	pair_new(&a, &b, T0_MS);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t len = lens[i], total = FRAME_OVERHEAD_BYTES + len;
		uint8_t *f = frame_alloc(len), *want = frame_alloc(len);
		struct frame_header h;
		struct span pt;

		pattern_fill(want, len, (uint32_t)i);
		memcpy(f + FRAME_HEADER_BYTES, want, len);
		assert_int_equal(session_seal(a, MSG_DATA, FRAME_FLAG_REKEY, f, len), 0);
		assert_int_equal(session_sent(a), i + 1);
		/* Encrypted in place: no plaintext left (one byte may match by chance). */
		if (len >= 16)
			assert_memory_not_equal(f + FRAME_HEADER_BYTES, want, len);

		assert_int_equal(frame_header_parse(f, total, &h), 0);
		assert_int_equal(h.type, MSG_DATA);
		assert_int_equal(h.flags, FRAME_FLAG_REKEY);
		assert_int_equal(h.length, len);
		assert_int_equal(h.receiver, INDEX_B);
		assert_int_equal(h.counter, i);
		assert_int_equal(session_open(b, &h, f, &pt, T0_MS), 0);
		assert_ptr_equal(pt.p, f + FRAME_HEADER_BYTES);
		assert_int_equal(pt.len, len);
		if (len)
			assert_memory_equal(pt.p, want, len);
		free(f);
		free(want);
	}

	/* And the other direction, with its own key: b seals, a opens. */
	{
		uint8_t f[FRAME_OVERHEAD_BYTES + 3] = { 0 };
		struct span pt;

		memcpy(f + FRAME_HEADER_BYTES, "abc", 3);
		assert_int_equal(session_seal(b, MSG_DATA, 0, f, 3), 0);
		assert_int_equal(load_be32(f + 8), INDEX_A);
		assert_int_equal(load_be64(f + 12), 0);
		assert_int_equal(open_buf(a, f, sizeof(f), &pt, T0_MS), 0);
		assert_memory_equal(pt.p, "abc", 3);
	}
	session_free(a);
	session_free(b);
}

static void test_poll(void **state)
{
	struct session *a, *b;
	uint8_t f[MSG_POLL_BYTES], copy[MSG_POLL_BYTES];
	struct span pt;

	(void)state;
	pair_new(&a, &b, T0_MS);
	assert_int_equal(session_seal(a, MSG_POLL, 0, f, 0), 0);
	assert_int_equal(f[0], MSG_POLL);
	memcpy(copy, f, sizeof(f));
	assert_int_equal(open_buf(b, f, sizeof(f), &pt, T0_MS), 0);
	assert_int_equal(pt.len, 0);
	/* A recorded poll replayed: refused, so it cannot drain anyone's data. */
	assert_int_equal(open_buf(b, copy, sizeof(copy), &pt, T0_MS), -EALREADY);
	/* The type is authenticated: a POLL relabelled as an empty DATA frame is refused. */
	assert_int_equal(session_seal(a, MSG_POLL, 0, f, 0), 0);
	f[0] = MSG_DATA;
	assert_int_equal(open_buf(b, f, sizeof(f), &pt, T0_MS), -EBADMSG);
	f[0] = MSG_POLL;
	assert_int_equal(open_buf(b, f, sizeof(f), &pt, T0_MS), 0);
	session_free(a);
	session_free(b);
}

static void test_seal_rejects(void **state)
{
	struct session *a, *b;
	uint8_t f[FRAME_OVERHEAD_BYTES + 4], before[sizeof(f)];

	(void)state;
	pair_new(&a, &b, T0_MS);
	pattern_fill(f, sizeof(f), 9);
	memcpy(before, f, sizeof(f));
	/* Checked before anything is written: the buffer is far smaller than the length. */
	assert_int_equal(session_seal(a, MSG_DATA, 0, f, FRAME_MAX_PLAINTEXT_BYTES + 1), -EMSGSIZE);
	assert_int_equal(session_seal(a, MSG_DATA, 0, f, SIZE_MAX), -EMSGSIZE);
	assert_int_equal(session_seal(a, MSG_POLL, 0, f, 4), -EINVAL);
	assert_int_equal(session_seal(a, MSG_INIT, 0, f, 4), -EINVAL);
	assert_int_equal(session_seal(a, MSG_RESPONSE, 0, f, 4), -EINVAL);
	assert_int_equal(session_seal(a, 0, 0, f, 4), -EINVAL);
	assert_int_equal(session_seal(a, MSG_DATA, 0x02, f, 4), -EINVAL);
	assert_int_equal(session_seal(a, MSG_DATA, 0x80, f, 4), -EINVAL);
	assert_memory_equal(f, before, sizeof(f));
	assert_int_equal(session_sent(a), 0);
	session_free(a);
	session_free(b);
}

/* Every single-bit change anywhere in a frame is refused, and refusing moves nothing. */
static void test_every_bit_flip(void **state)
{
	enum {
		LEN = 33,
		TOTAL = FRAME_OVERHEAD_BYTES + LEN
	};
	struct session *a, *b;
	uint8_t orig[TOTAL], f[TOTAL], want[LEN];
	unsigned by_parse = 0, by_aead = 0, by_window = 0;
	struct span pt;

	(void)state;
	pair_new(&a, &b, T0_MS);
	pattern_fill(want, LEN, 3);
	memcpy(orig + FRAME_HEADER_BYTES, want, LEN);
	assert_int_equal(session_seal(a, MSG_DATA, 0, orig, LEN), 0);

	for (size_t i = 0; i < TOTAL; i++) {
		for (int bit = 0; bit < 8; bit++) {
			struct frame_header h;
			int rc;

			memcpy(f, orig, TOTAL);
			f[i] ^= (uint8_t)(1u << bit);
			rc = frame_header_parse(f, TOTAL, &h);
			if (rc != 0) {
				/* Only the header can make the parser refuse. */
				assert_int_equal(rc, -EPROTO);
				assert_true(i < FRAME_HEADER_BYTES);
				by_parse++;
				continue;
			}
			rc = session_open(b, &h, f, &pt, T0_MS);
			if (h.counter >= REJECT_AFTER_FRAMES) {
				/* Refused before decryption: no honest sender uses it. */
				assert_int_equal(rc, -EALREADY);
				assert_true(i >= 12 && i < 20);
				by_window++;
			} else {
				if (rc != -EBADMSG)
					fail_msg("byte %zu bit %d: got %d, want -EBADMSG", i, bit,
						 rc);
				by_aead++;
			}
		}
	}
	assert_int_equal(by_parse + by_aead + by_window, TOTAL * 8);
	/*
	 * type (8), flags bits 1..7 (7), reserved (16), length bits that grow it (counted
	 * below), nothing else is for the parser.
	 */
	assert_true(by_parse >= 8 + 7 + 16);
	/* Counter bits 31..63 push it to or above REJECT_AFTER_FRAMES = 2^31. */
	assert_int_equal(by_window, 33);

	/* None of that moved the window: the real frame still opens, exactly once. */
	memcpy(f, orig, TOTAL);
	assert_int_equal(open_buf(b, f, TOTAL, &pt, T0_MS), 0);
	assert_memory_equal(pt.p, want, LEN);
	memcpy(f, orig, TOTAL);
	assert_int_equal(open_buf(b, f, TOTAL, &pt, T0_MS), -EALREADY);
	session_free(a);
	session_free(b);
}

/* Every prefix of a frame is refused by the parser; the whole frame, and more, is not. */
static void test_every_truncation(void **state)
{
	static const size_t lens[] = { 0, 1, 18, 100, 1500 };
	struct session *a, *b;

	(void)state;
	pair_new(&a, &b, T0_MS);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t total = FRAME_OVERHEAD_BYTES + lens[i];
		uint8_t *f = frame_alloc(lens[i] + 7);
		struct frame_header h;

		pattern_fill(f + FRAME_HEADER_BYTES, lens[i], 1);
		assert_int_equal(session_seal(a, MSG_DATA, 0, f, lens[i]), 0);
		for (size_t cut = 0; cut < total; cut++) {
			/* Exactly cut bytes, so ASan sees any read past them. */
			uint8_t *t = malloc(cut ? cut : 1);

			assert_non_null(t);
			memcpy(t, f, cut);
			if (frame_header_parse(t, cut, &h) != -EPROTO)
				fail_msg("length %zu: prefix of %zu bytes parsed", lens[i], cut);
			free(t);
		}
		assert_int_equal(frame_header_parse(f, total, &h), 0);
		/* Bytes after the frame (the next message of the body) are not its business. */
		assert_int_equal(frame_header_parse(f, total + 7, &h), 0);
		assert_int_equal(h.length, lens[i]);
		free(f);
	}
	session_free(a);
	session_free(b);
}

static void test_replay(void **state)
{
	enum {
		N = 6,
		LEN = 40,
		TOTAL = FRAME_OVERHEAD_BYTES + LEN
	};
	struct session *a, *b;
	uint8_t sealed[N][TOTAL], f[TOTAL];
	struct span pt;

	(void)state;
	pair_new(&a, &b, T0_MS);
	for (int i = 0; i < N; i++) {
		pattern_fill(sealed[i] + FRAME_HEADER_BYTES, LEN, (uint32_t)i);
		assert_int_equal(session_seal(a, MSG_DATA, 0, sealed[i], LEN), 0);
	}
#define OPEN(i) (memcpy(f, sealed[i], TOTAL), open_buf(b, f, TOTAL, &pt, T0_MS))
	assert_int_equal(OPEN(0), 0);
	assert_int_equal(OPEN(1), 0);
	assert_int_equal(OPEN(1), -EALREADY);
	assert_int_equal(OPEN(1), -EALREADY);
	assert_int_equal(OPEN(0), -EALREADY);
	/* Out of order is fine, once each. */
	assert_int_equal(OPEN(4), 0);
	assert_int_equal(OPEN(2), 0);
	assert_int_equal(OPEN(4), -EALREADY);
	assert_int_equal(OPEN(3), 0);
	assert_int_equal(OPEN(3), -EALREADY);
	assert_int_equal(OPEN(5), 0);
	{
		uint8_t want[LEN];

		pattern_fill(want, LEN, 5);
		assert_memory_equal(pt.p, want, LEN);
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(OPEN(i), -EALREADY);
#undef OPEN
	/* Later frames are not disturbed by the replays. */
	memset(f + FRAME_HEADER_BYTES, 'x', LEN);
	assert_int_equal(session_seal(a, MSG_DATA, 0, f, LEN), 0);
	assert_int_equal(open_buf(b, f, TOTAL, &pt, T0_MS), 0);
	assert_int_equal(pt.p[0], 'x');
	session_free(a);
	session_free(b);
}

/* A frame under the wrong key, or sent back to its sender, moves no window. */
static void test_forgery(void **state)
{
	enum {
		LEN = 24,
		TOTAL = FRAME_OVERHEAD_BYTES + LEN
	};
	struct session *a, *b, *mallory;
	struct session_keys km;
	uint8_t good[TOTAL], f[TOTAL], bad_key[32];
	struct span pt;

	(void)state;
	pair_new(&a, &b, T0_MS);
	key_fill(km.send, 0x01); /* one bit off a's send key in every byte */
	key_fill(km.recv, 0x77);
	km.local_index = INDEX_A;
	km.remote_index = INDEX_B;
	mallory = session_new(&km, T0_MS);
	assert_non_null(mallory);

	memset(good + FRAME_HEADER_BYTES, 'g', LEN);
	assert_int_equal(session_seal(a, MSG_DATA, 0, good, LEN), 0); /* counter 0 */

	/* Far ahead under the wrong key: if it moved the window, counter 0 would be too old. */
	session_test_set_sent(mallory, 4 * REPLAY_WINDOW_BITS);
	memset(f + FRAME_HEADER_BYTES, 'm', LEN);
	assert_int_equal(session_seal(mallory, MSG_DATA, 0, f, LEN), 0);
	assert_int_equal(open_buf(b, f, TOTAL, &pt, T0_MS), -EBADMSG);
	/* Same counter as the real frame under the wrong key: must not mark counter 0. */
	session_test_set_sent(mallory, 0);
	memset(f + FRAME_HEADER_BYTES, 'm', LEN);
	assert_int_equal(session_seal(mallory, MSG_DATA, 0, f, LEN), 0);
	assert_int_equal(open_buf(b, f, TOTAL, &pt, T0_MS), -EBADMSG);
	/* A frame made with libsodium's one-shot API and a wrong key. */
	key_fill(bad_key, 0x02);
	seal_by_hand(f, bad_key, INDEX_B, 1, good + FRAME_HEADER_BYTES, LEN);
	assert_int_equal(open_buf(b, f, TOTAL, &pt, T0_MS), -EBADMSG);
	/* Reflection: a's own frame sent back to a does not open under a's receive key. */
	memcpy(f, good, TOTAL);
	assert_int_equal(open_buf(a, f, TOTAL, &pt, T0_MS), -EBADMSG);

	memcpy(f, good, TOTAL);
	assert_int_equal(open_buf(b, f, TOTAL, &pt, T0_MS), 0);
	assert_int_equal(pt.p[0], 'g');
	/* Counter 1 was only ever forged, so the real counter 1 still opens. */
	memset(f + FRAME_HEADER_BYTES, 'h', LEN);
	assert_int_equal(session_seal(a, MSG_DATA, 0, f, LEN), 0);
	assert_int_equal(open_buf(b, f, TOTAL, &pt, T0_MS), 0);
	assert_int_equal(pt.p[0], 'h');
	sodium_memzero(&km, sizeof(km));
	session_free(mallory);
	session_free(a);
	session_free(b);
}

static void test_counter_exhaustion(void **state)
{
	enum {
		LEN = 8,
		TOTAL = FRAME_OVERHEAD_BYTES + LEN
	};
	struct session *a, *b;
	uint8_t f[TOTAL], before[TOTAL], key[32];
	struct span pt;

	(void)state;
	pair_new(&a, &b, T0_MS);
	session_test_set_sent(a, REJECT_AFTER_FRAMES - 1);
	memset(f + FRAME_HEADER_BYTES, 'z', LEN);
	assert_int_equal(session_seal(a, MSG_DATA, 0, f, LEN), 0);
	assert_int_equal(session_sent(a), REJECT_AFTER_FRAMES);
	assert_int_equal(load_be64(f + 12), REJECT_AFTER_FRAMES - 1);
	assert_int_equal(open_buf(b, f, TOTAL, &pt, T0_MS), 0);

	/* The key is used up: nothing sealed, nothing written, counter unchanged. */
	pattern_fill(f, TOTAL, 4);
	memcpy(before, f, TOTAL);
	assert_int_equal(session_seal(a, MSG_DATA, 0, f, LEN), -ESTALE);
	assert_int_equal(session_seal(a, MSG_POLL, 0, f, 0), -ESTALE);
	assert_memory_equal(f, before, TOTAL);
	assert_int_equal(session_sent(a), REJECT_AFTER_FRAMES);

	/* A correctly sealed frame beyond the limit (only a broken sender makes one). */
	key_fill(key, 0x00);
	seal_by_hand(f, key, INDEX_B, REJECT_AFTER_FRAMES, before, LEN);
	assert_int_equal(open_buf(b, f, TOTAL, &pt, T0_MS), -EALREADY);
	seal_by_hand(f, key, INDEX_B, UINT64_MAX, before, LEN);
	assert_int_equal(open_buf(b, f, TOTAL, &pt, T0_MS), -EALREADY);
	session_free(a);
	session_free(b);
}

static void test_reject_after_ms(void **state)
{
	enum {
		TOTAL = MSG_POLL_BYTES
	};
	struct session *a, *b;
	uint8_t f1[TOTAL], f2[TOTAL], copy[TOTAL];
	struct span pt;

	(void)state;
	pair_new(&a, &b, T0_MS);
	assert_int_equal(session_created_ms(b), T0_MS);
	assert_int_equal(session_seal(a, MSG_POLL, 0, f1, 0), 0);
	assert_int_equal(session_seal(a, MSG_POLL, 0, f2, 0), 0);

	/* One millisecond short of the limit still opens. */
	assert_int_equal(open_buf(b, f1, TOTAL, &pt, T0_MS + REJECT_AFTER_MS - 1), 0);
	/* At the limit nothing opens; the window is left alone. */
	memcpy(copy, f2, TOTAL);
	assert_int_equal(open_buf(b, copy, TOTAL, &pt, T0_MS + REJECT_AFTER_MS), -ESTALE);
	memcpy(copy, f2, TOTAL);
	assert_int_equal(open_buf(b, copy, TOTAL, &pt, UINT64_MAX), -ESTALE);
	/* A clock earlier than the session's creation makes it young, not ancient. */
	memcpy(copy, f2, TOTAL);
	assert_int_equal(open_buf(b, copy, TOTAL, &pt, T0_MS - 5), 0);
	session_free(a);
	session_free(b);
}

static void test_wants_rekey(void **state)
{
	struct session *a, *b;

	(void)state;
	pair_new(&a, &b, T0_MS);
	assert_false(session_wants_rekey(a, T0_MS));
	assert_false(session_wants_rekey(a, T0_MS + REKEY_AFTER_MS - 1));
	assert_true(session_wants_rekey(a, T0_MS + REKEY_AFTER_MS));
	assert_false(session_wants_rekey(a, 0)); /* clock behind creation */
	session_test_set_sent(a, REKEY_AFTER_FRAMES - 1);
	assert_false(session_wants_rekey(a, T0_MS));
	session_test_set_sent(a, REKEY_AFTER_FRAMES);
	assert_true(session_wants_rekey(a, T0_MS));
	/* Rekeying comes well before refusing, in frames and in time. */
	assert_true(REKEY_AFTER_FRAMES < REJECT_AFTER_FRAMES);
	assert_true(REKEY_AFTER_MS < REJECT_AFTER_MS);
	assert_true(REJECT_AFTER_FRAMES < (1ULL << 32));
	session_free(a);
	session_free(b);
}

static void test_accessors(void **state)
{
	struct session *a, *b;
	uint8_t f[MSG_POLL_BYTES];

	(void)state;
	pair_new(&a, &b, T0_MS);
	assert_int_equal(session_local_index(a), INDEX_A);
	assert_int_equal(session_remote_index(a), INDEX_B);
	assert_int_equal(session_local_index(b), INDEX_B);
	assert_int_equal(session_remote_index(b), INDEX_A);
	assert_int_equal(session_created_ms(a), T0_MS);
	assert_int_equal(session_sent(a), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(session_seal(a, MSG_POLL, 0, f, 0), 0);
	assert_int_equal(session_sent(a), 10);
	assert_int_equal(session_sent(b), 0);
	session_free(a);
	session_free(b);
	session_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crypto_init),
		cmocka_unit_test(test_golden_vector),
		cmocka_unit_test(test_by_hand),
		cmocka_unit_test(test_roundtrip_lengths),
		cmocka_unit_test(test_poll),
		cmocka_unit_test(test_seal_rejects),
		cmocka_unit_test(test_every_bit_flip),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_forgery),
		cmocka_unit_test(test_counter_exhaustion),
		cmocka_unit_test(test_reject_after_ms),
		cmocka_unit_test(test_wants_rekey),
		cmocka_unit_test(test_accessors),
	};

	if (session_crypto_init() != 0) {
		fprintf(stderr, "AES-256-GCM is not available on this CPU\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
