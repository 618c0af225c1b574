/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Replay window: fixed sequences in the spirit of WireGuard's counter self-test, window
 * edges +-1, jumps, the REJECT_AFTER_FRAMES ceiling, shuffled arrivals, and a comparison
 * against a plain reference model on pseudo-random traffic.
 */
#include "core/replay.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define W ((uint64_t)REPLAY_WINDOW_FRAMES)
#define R ((uint64_t)REJECT_AFTER_FRAMES)

/* The check-then-update sequence of session_open, minus the cryptography. */
static bool replay_accept(struct replay *r, uint64_t counter)
{
	if (!replay_check(r, counter))
		return false;
	replay_update(r, counter);
	return true;
}

static void step(struct replay *r, uint64_t counter, bool want, int line)
{
	bool got = replay_accept(r, counter);

	if (got != want)
		fail_msg("line %d: counter %llu: got %s, want %s", line,
			 (unsigned long long)counter, got ? "accepted" : "rejected",
			 want ? "accepted" : "rejected");
}

#define T(c, want) step(&r, (c), (want), __LINE__)

static void test_sequence(void **state)
{
	struct replay r;

	(void)state;
	replay_init(&r);
	/* Counter 0 is a real counter, not "nothing seen". */
	T(0, true);
	T(0, false);
	T(1, true);
	T(1, false);
	/* Out of order inside the window. */
	T(9, true);
	T(8, true);
	T(7, true);
	T(7, false);
	T(8, false);
	T(9, false);
	T(2, true);
	T(2, false);
	/* Newest W: W - 3 back is inside, so 3 still counts once. */
	T(W, true);
	T(W - 1, true);
	T(W - 1, false);
	T(3, true);
	T(3, false);
	/* Newest W + 10: oldest acceptable is 11, exactly W - 1 back. */
	T(W + 10, true);
	T(10, false);
	T(11, true);
	T(11, false);
	T(12, true);
	T(W + 10, false);
	/* Far jump: oldest acceptable is 3W + 1. */
	T(4 * W, true);
	T(3 * W, false);
	T(3 * W + 1, true);
	T(3 * W + 1, false);
	T(3 * W + 2, true);
	T(4 * W - 1, true);
	T(4 * W, false);
	/* Far old, seen or not. */
	T(W + 10, false);
	T(W + 11, false);
	T(12, false);
	T(0, false);
	/*
	 * Going back after the jump: this counter shares its bitmap bit with W + 10, accepted
	 * before the jump. The jump must have cleared that bit.
	 */
	_Static_assert(W + 10 + 2 * REPLAY_WINDOW_BITS > 3 * W + 1 &&
			       W + 10 + 2 * REPLAY_WINDOW_BITS < 4 * W,
		       "alias counter lies inside the window after the jump");
	T(W + 10 + 2 * REPLAY_WINDOW_BITS, true);
	T(W + 10 + 2 * REPLAY_WINDOW_BITS, false);
	/* Just newer than the newest. */
	T(4 * W + 1, true);
	T(4 * W + 1, false);
	T(3 * W + 1, false);
	T(3 * W + 2, false);
	T(3 * W + 3, true);
}

static void test_max_counters(void **state)
{
	struct replay r;

	(void)state;
	replay_init(&r);
	T(R, false);
	T(R + 1, false);
	T(UINT64_MAX, false);
	T(R - 1, true);
	T(R - 1, false);
	T(R, false);
	T(R + 1, false);
	T(UINT64_MAX, false);
	T(R - 2, true);
	T(R - 2, false);
	/* Newest R - 1: the window reaches down to R - W exactly. */
	T(R - W, true);
	T(R - W, false);
	T(R - W - 1, false);
	T(0, false);
	/* A fresh window takes the largest counter first, then nothing above it. */
	replay_init(&r);
	T(R - 1, true);
	T(R, false);
	T(R - W, true);
	T(R - W - 1, false);
}

/* Forward one counter at a time, then each again: exactly n accepted, then none. */
static void test_in_order_and_duplicates(void **state)
{
	struct replay r;
	uint64_t n = 3 * REPLAY_WINDOW_BITS + 17, accepted = 0;

	(void)state;
	replay_init(&r);
	for (uint64_t i = 0; i < n; i++) {
		accepted += replay_accept(&r, i);
		/* The previous W - 1 counters were all seen: still rejected, at every step. */
		if (i >= 1)
			assert_false(replay_check(&r, i - 1));
		if (i >= W - 1)
			assert_false(replay_check(&r, i - (W - 1)));
	}
	assert_int_equal(accepted, n);
	for (uint64_t i = 0; i < n; i++)
		assert_false(replay_accept(&r, i));
}

/* Newest first, then everything below it down to the window edge; the edge -1 is refused. */
static void test_reverse(void **state)
{
	struct replay r;
	uint64_t top = 2 * W + 5, accepted = 0;

	(void)state;
	replay_init(&r);
	T(top, true);
	for (uint64_t c = top - 1; c > top - W; c--)
		accepted += replay_accept(&r, c);
	assert_int_equal(accepted, W - 1);
	T(top - W, false);
	T(top - W + 1, false);
	/* Moving one forward lets nothing older in. */
	T(top + 1, true);
	T(top - W + 1, false);
}

/*
 * Short jumps over word boundaries reuse words that held counters of the previous lap of
 * the ring; every counter must still be judged on its own.
 */
static void test_jumps_by_words(void **state)
{
	struct replay r;
	uint64_t top = 0;

	(void)state;
	replay_init(&r);
	for (uint64_t c = 0; c < W; c++)
		assert_true(replay_accept(&r, c));
	top = W - 1;
	for (int lap = 0; lap < 300; lap++) {
		uint64_t jump = 1 + (uint64_t)lap * 37 % 700;
		uint64_t newest = top + jump;

		assert_true(replay_accept(&r, newest));
		/* Everything skipped over is new and inside the window: accepted once. */
		for (uint64_t c = top + 1; c < newest; c++) {
			assert_true(replay_accept(&r, c));
			assert_false(replay_accept(&r, c));
		}
		top = newest;
		/* The window edge, exactly. */
		assert_false(replay_check(&r, top - W));
		assert_false(replay_check(&r, top - W + 1)); /* seen */
	}
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Any arrival order of W consecutive counters: each accepted exactly once. */
static void test_permutations(void **state)
{
	static uint64_t order[REPLAY_WINDOW_FRAMES];
	const uint64_t bases[] = { 0, 1, 63, 64, 5000, 1000003, R - W };
	uint64_t seed = 0x9e3779b97f4a7c15ULL;

	(void)state;
	for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
		for (int round = 0; round < 4; round++) {
			struct replay r;
			uint64_t accepted = 0;

			replay_init(&r);
			for (uint64_t i = 0; i < W; i++)
				order[i] = bases[b] + i;
			for (uint64_t i = W - 1; i > 0; i--) {
				uint64_t j = xorshift(&seed) % (i + 1), t = order[i];

				order[i] = order[j];
				order[j] = t;
			}
			for (uint64_t i = 0; i < W; i++)
				accepted += replay_accept(&r, order[i]);
			assert_int_equal(accepted, W);
			for (uint64_t i = 0; i < W; i++)
				assert_false(replay_accept(&r, order[i]));
			if (bases[b] > 0)
				assert_false(replay_accept(&r, bases[b] - 1));
			if (bases[b] + W < R)
				assert_true(replay_accept(&r, bases[b] + W));
		}
	}
}

/*
 * Reference model: remembers every counter ever accepted (in a range small enough for a
 * flat bit array) and applies the rule of docs/PROTOCOL.md literally.
 */
#define MODEL_RANGE (1ULL << 26)

static void test_against_model(void **state)
{
	uint8_t *seen = calloc(MODEL_RANGE / 8, 1);
	struct replay r;
	uint64_t seed = 12345, newest = 0, accepted = 0, rejected = 0;
	bool any = false;
	int i;

	(void)state;
	assert_non_null(seen);
	replay_init(&r);
	for (i = 0; i < 600000 && newest < MODEL_RANGE - 8 * REPLAY_WINDOW_BITS; i++) {
		uint64_t x = xorshift(&seed), kind = x % 256, v = x >> 8, c;
		bool want, got;

		if (kind == 0) /* far jump, sometimes past the whole ring */
			c = newest + v % (4 * REPLAY_WINDOW_BITS);
		else if (kind <= 8) /* far old */
			c = v % (newest + 1);
		else if (kind <= 24) /* around the window edge; wraps to huge near 0 */
			c = newest - W - 3 + v % 7;
		else if (kind <= 48) /* ahead, often across a word boundary */
			c = newest + 1 + v % 130;
		else /* recent, mostly inside the window */
			c = newest + 3 - v % (W + 100);
		if (c >= R) {
			want = false;
		} else {
			assert_true(c < MODEL_RANGE);
			want = !any || c > newest ||
			       (newest - c < W && !(seen[c / 8] & (1u << (c % 8))));
		}
		got = replay_accept(&r, c);
		if (got != want)
			fail_msg("step %d: counter %llu (newest %llu): got %d, want %d", i,
				 (unsigned long long)c, (unsigned long long)newest, got, want);
		if (got) {
			seen[c / 8] |= (uint8_t)(1u << (c % 8));
			if (!any || c > newest)
				newest = c;
			any = true;
			accepted++;
		} else {
			rejected++;
		}
	}
	/* The generator must really have run long and exercised both outcomes. */
	assert_true(i > 100000);
	assert_true(accepted > 50000);
	assert_true(rejected > 50000);
	free(seen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequence),
		cmocka_unit_test(test_max_counters),
		cmocka_unit_test(test_in_order_and_duplicates),
		cmocka_unit_test(test_reverse),
		cmocka_unit_test(test_jumps_by_words),
		cmocka_unit_test(test_permutations),
		cmocka_unit_test(test_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
