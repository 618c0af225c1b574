/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/stream.h"
#include "core/limits.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* What the application got: the bytes in order and how many deliver calls. */
struct sink {
	uint8_t buf[4096];
	size_t len;
	unsigned calls;
};

static void sink_cb(void *ctx, const uint8_t *data, size_t len)
{
	struct sink *s = ctx;

	assert_true(len > 0);
	assert_true(s->len + len <= sizeof(s->buf));
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	s->calls++;
}

/* The stream's bytes: byte i is i * 7 + 3 (mod 256), so any misplacement shows. */
static uint8_t src[4096];

static int feed(struct stream_rx *rx, struct sink *s, uint64_t off, size_t len, bool fin,
		uint64_t now, bool *fin_now)
{
	return stream_rx_data(rx, off, src + off, len, fin, now, sink_cb, s, fin_now);
}

static void assert_prefix(const struct sink *s, size_t n)
{
	assert_int_equal(s->len, n);
	assert_memory_equal(s->buf, src, n);
}

static int setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 3);
	return 0;
}

static void test_in_order(void **state)
{
	struct stream_rx rx;
	struct sink s = { 0 };
	bool fin;

	(void)state;
	stream_rx_init(&rx, 1000);
	assert_int_equal(feed(&rx, &s, 0, 100, false, 1, &fin), 0);
	assert_false(fin);
	assert_int_equal(feed(&rx, &s, 100, 900, false, 1, &fin), 0);
	assert_prefix(&s, 1000);
	assert_int_equal(s.calls, 2);
	assert_int_equal(rx.next, 1000);
	assert_null(rx.segs);
	assert_int_equal(rx.gap_since_ms, 0);
	stream_rx_close(&rx);
}

static void test_reordered(void **state)
{
	struct stream_rx rx;
	struct sink s = { 0 };
	bool fin;

	(void)state;
	stream_rx_init(&rx, 1000);
	assert_int_equal(feed(&rx, &s, 300, 100, false, 5, &fin), 0);
	assert_int_equal(feed(&rx, &s, 100, 100, false, 6, &fin), 0);
	assert_int_equal(s.len, 0);
	assert_int_equal(rx.seg_bytes, 200);
	assert_int_equal(rx.gap_since_ms, 5);
	/* The first piece releases 0..200; 300..400 still waits behind a new gap. */
	assert_int_equal(feed(&rx, &s, 0, 100, false, 9, &fin), 0);
	assert_prefix(&s, 200);
	assert_int_equal(rx.gap_since_ms, 9);
	assert_int_equal(rx.seg_bytes, 100);
	assert_int_equal(feed(&rx, &s, 200, 100, false, 10, &fin), 0);
	assert_prefix(&s, 400);
	assert_int_equal(rx.seg_bytes, 0);
	assert_int_equal(rx.gap_since_ms, 0);
	stream_rx_close(&rx);
}

static void test_duplicates_and_overlaps(void **state)
{
	struct stream_rx rx;
	struct sink s = { 0 };
	bool fin;

	(void)state;
	stream_rx_init(&rx, 1000);
	assert_int_equal(feed(&rx, &s, 0, 100, false, 1, &fin), 0);
	/* Entirely old: ignored. */
	assert_int_equal(feed(&rx, &s, 0, 100, false, 1, &fin), 0);
	assert_int_equal(feed(&rx, &s, 50, 50, false, 1, &fin), 0);
	assert_int_equal(s.calls, 1);
	/* Half old: only the new half is delivered. */
	assert_int_equal(feed(&rx, &s, 50, 100, false, 1, &fin), 0);
	assert_prefix(&s, 150);
	/* Buffered pieces with overlaps in every direction. */
	assert_int_equal(feed(&rx, &s, 300, 100, false, 1, &fin), 0);
	assert_int_equal(feed(&rx, &s, 300, 100, false, 1, &fin), 0);
	assert_int_equal(rx.seg_bytes, 100);
	assert_int_equal(feed(&rx, &s, 250, 200, false, 1, &fin), 0); /* around 300..400 */
	assert_int_equal(rx.seg_bytes, 200);
	assert_int_equal(feed(&rx, &s, 500, 50, false, 1, &fin), 0);
	assert_int_equal(feed(&rx, &s, 420, 100, false, 1, &fin), 0); /* bridges to 500 */
	assert_int_equal(rx.seg_bytes, 300);
	for (const struct stream_seg *g = rx.segs; g && g->next; g = g->next)
		assert_true(g->offset + g->len <= g->next->offset);
	assert_int_equal(s.len, 150);
	assert_int_equal(feed(&rx, &s, 140, 120, false, 1, &fin), 0);
	assert_prefix(&s, 550);
	assert_null(rx.segs);
	assert_int_equal(rx.seg_bytes, 0);
	stream_rx_close(&rx);
}

static void test_window(void **state)
{
	struct stream_rx rx;
	struct sink s = { 0 };
	bool fin;

	(void)state;
	stream_rx_init(&rx, 400);
	/* Up to the window edge is fine, one byte past it is not, in order or not. */
	assert_int_equal(feed(&rx, &s, 300, 100, false, 1, &fin), 0);
	assert_int_equal(feed(&rx, &s, 300, 101, false, 1, &fin), -EPROTO);
	assert_int_equal(feed(&rx, &s, 0, 401, false, 1, &fin), -EPROTO);
	assert_int_equal(feed(&rx, &s, 400, 0, true, 1, &fin), 0);
	assert_int_equal(rx.seg_bytes, 100);
	assert_int_equal(feed(&rx, &s, 0, 300, false, 1, &fin), 0);
	assert_prefix(&s, 400);
	assert_true(fin);
	stream_rx_close(&rx);

	/* The window moves with what the application consumed, not with delivery. */
	memset(&s, 0, sizeof(s));
	stream_rx_init(&rx, 400);
	assert_int_equal(feed(&rx, &s, 0, 400, false, 1, &fin), 0);
	assert_int_equal(stream_rx_unconsumed(&rx), 400);
	assert_false(stream_rx_consume(&rx, 99)); /* below a quarter: not worth a record */
	assert_int_equal(feed(&rx, &s, 400, 1, false, 1, &fin), -EPROTO);
	assert_true(stream_rx_consume(&rx, 1));
	assert_int_equal(stream_rx_announce(&rx), 500);
	assert_int_equal(feed(&rx, &s, 400, 100, false, 1, &fin), 0);
	assert_int_equal(feed(&rx, &s, 500, 1, false, 1, &fin), -EPROTO);
	assert_int_equal(rx.window, 500);
	/* Consuming more than was delivered is clamped. */
	stream_rx_consume(&rx, 10000);
	assert_int_equal(rx.consumed, 500);
	stream_rx_close(&rx);
}

static void test_fin(void **state)
{
	struct stream_rx rx;
	struct sink s = { 0 };
	bool fin;

	(void)state;
	/* FIN with data, in order. */
	stream_rx_init(&rx, 1000);
	assert_int_equal(feed(&rx, &s, 0, 10, true, 1, &fin), 0);
	assert_true(fin);
	assert_prefix(&s, 10);
	/* Reported once only; nothing may follow the end; a different end is an error. */
	assert_int_equal(feed(&rx, &s, 10, 0, true, 1, &fin), 0);
	assert_false(fin);
	assert_int_equal(feed(&rx, &s, 11, 0, true, 1, &fin), -EPROTO);
	assert_int_equal(feed(&rx, &s, 0, 10, true, 1, &fin), 0);
	assert_false(fin);
	assert_int_equal(feed(&rx, &s, 10, 1, false, 1, &fin), -EPROTO);
	assert_int_equal(feed(&rx, &s, 0, 9, true, 1, &fin), -EPROTO);
	assert_false(stream_rx_consume(&rx, 10));
	stream_rx_close(&rx);

	/* FIN before earlier data arrives: the end is reported when the gap fills. */
	memset(&s, 0, sizeof(s));
	stream_rx_init(&rx, 1000);
	assert_int_equal(feed(&rx, &s, 200, 0, true, 1, &fin), 0);
	assert_false(fin);
	assert_int_equal(feed(&rx, &s, 100, 101, false, 1, &fin), -EPROTO); /* past the end */
	assert_int_equal(feed(&rx, &s, 100, 100, false, 1, &fin), 0);
	assert_false(fin);
	assert_int_equal(feed(&rx, &s, 0, 100, false, 1, &fin), 0);
	assert_true(fin);
	assert_prefix(&s, 200);
	stream_rx_close(&rx);

	/* An end below data already buffered contradicts it. */
	memset(&s, 0, sizeof(s));
	stream_rx_init(&rx, 1000);
	assert_int_equal(feed(&rx, &s, 100, 100, false, 1, &fin), 0);
	assert_int_equal(feed(&rx, &s, 50, 0, true, 1, &fin), -EPROTO);
	assert_int_equal(feed(&rx, &s, 150, 0, true, 1, &fin), -EPROTO);
	assert_int_equal(feed(&rx, &s, 200, 0, true, 1, &fin), 0);
	assert_false(fin);
	stream_rx_close(&rx);

	/* Empty stream: FIN at 0. */
	memset(&s, 0, sizeof(s));
	stream_rx_init(&rx, 1000);
	assert_int_equal(feed(&rx, &s, 0, 0, true, 1, &fin), 0);
	assert_true(fin);
	assert_int_equal(s.calls, 0);
	stream_rx_close(&rx);
}

static void test_gaps(void **state)
{
	struct stream_rx rx;
	struct sink s = { 0 };
	bool fin;

	(void)state;
	stream_rx_init(&rx, 4000);
	assert_false(stream_rx_gap_expired(&rx, 1000000, 10));
	/* Many gaps: every other 100-byte piece, then the missing ones backwards. */
	for (uint64_t o = 100; o < 2000; o += 200)
		assert_int_equal(feed(&rx, &s, o, 100, false, 1000, &fin), 0);
	assert_int_equal(rx.seg_bytes, 1000);
	assert_false(stream_rx_gap_expired(&rx, 1009, 10));
	assert_true(stream_rx_gap_expired(&rx, 1010, 10));
	for (uint64_t o = 1800;; o -= 200) {
		assert_int_equal(feed(&rx, &s, o, 100, false, 2000, &fin), 0);
		if (o == 0)
			break;
		assert_int_equal(s.len, 0);
	}
	assert_prefix(&s, 2000);
	assert_false(stream_rx_gap_expired(&rx, 100000, 10));
	/* Big offsets near the 64-bit end: data that would wrap is refused. */
	assert_int_equal(stream_rx_data(&rx, UINT64_MAX - 1, src, 2, false, 1, sink_cb, &s, &fin),
			 -EPROTO);
	stream_rx_close(&rx);
}

static void test_window_lost(void **state)
{
	struct stream_rx rx;
	struct sink s = { 0 };
	bool fin;

	(void)state;
	stream_rx_init(&rx, 400);
	/* Nothing received at all: the first window may have been lost. */
	assert_false(stream_rx_window_lost(&rx, 1000, 100, 2));
	assert_false(stream_rx_window_lost(&rx, 1099, 100, 2));
	assert_true(stream_rx_window_lost(&rx, 1100, 100, 2));
	assert_false(stream_rx_window_lost(&rx, 1150, 100, 2));
	assert_true(stream_rx_window_lost(&rx, 1200, 100, 2));
	/* At most max_tries for one position. */
	assert_false(stream_rx_window_lost(&rx, 5000, 100, 2));

	/* The sender filled the first window; it is consumed and a new one announced. */
	assert_int_equal(feed(&rx, &s, 0, 400, false, 6000, &fin), 0);
	assert_false(stream_rx_window_lost(&rx, 6000, 100, 2)); /* not consumed yet */
	assert_true(stream_rx_consume(&rx, 400));
	assert_int_equal(stream_rx_announce(&rx), 800);
	assert_int_equal(rx.prev_window, 400);
	/* Standing still at 400, the previous edge: the announcement of 800 was lost? */
	assert_false(stream_rx_window_lost(&rx, 7000, 100, 2));
	assert_true(stream_rx_window_lost(&rx, 7100, 100, 2));
	/* Data moved on: not stuck any more. */
	assert_int_equal(feed(&rx, &s, 400, 10, false, 7200, &fin), 0);
	stream_rx_consume(&rx, 10);
	assert_false(stream_rx_window_lost(&rx, 9000, 100, 2));
	assert_false(stream_rx_window_lost(&rx, 20000, 100, 2));
	/* Not consumed, or after the end: never. */
	stream_rx_close(&rx);
	stream_rx_init(&rx, 400);
	assert_int_equal(feed(&rx, &s, 0, 0, true, 1, &fin), 0);
	assert_false(stream_rx_window_lost(&rx, 1000, 100, 2));
	assert_false(stream_rx_window_lost(&rx, 9000, 100, 2));
	stream_rx_close(&rx);
}

static void test_tx(void **state)
{
	struct stream_tx tx;

	(void)state;
	stream_tx_init(&tx);
	assert_int_equal(stream_tx_room(&tx), 0);
	stream_tx_window(&tx, 1000);
	assert_int_equal(stream_tx_room(&tx), 1000);
	stream_tx_sent(&tx, 600, false);
	assert_int_equal(stream_tx_room(&tx), 400);
	/* A stale, smaller window arriving late does not shrink it. */
	stream_tx_window(&tx, 700);
	assert_int_equal(stream_tx_room(&tx), 400);
	stream_tx_window(&tx, 2000);
	assert_int_equal(stream_tx_room(&tx), 1400);
	stream_tx_sent(&tx, 1400, true);
	assert_int_equal(stream_tx_room(&tx), 0);
	assert_true(tx.fin_sent);
}

static void count_cb(void *ctx, const uint8_t *data, size_t len)
{
	(void)data;
	*(uint64_t *)ctx += len;
}

/*
 * 1-byte pieces out of order (every other byte): at most L7_MAX_SEGMENTS are held, the
 * next is refused with -ENOBUFS (the stream gets reset), appends at the top need no walk,
 * and filling the gaps delivers every byte in order.
 */
static void test_segment_cap(void **state)
{
	struct stream_rx rx;
	uint64_t got = 0;
	bool fin;
	uint8_t b = 'x';

	(void)state;
	stream_rx_init(&rx, 256 * 1024);
	for (uint64_t i = 0; i < L7_MAX_SEGMENTS; i++)
		assert_int_equal(
			stream_rx_data(&rx, 1 + 2 * i, &b, 1, false, 1, count_cb, &got, &fin), 0);
	assert_int_equal(rx.nsegs, L7_MAX_SEGMENTS);
	assert_int_equal(rx.seg_bytes, L7_MAX_SEGMENTS);
	assert_int_equal(rx.tail->offset, 2 * L7_MAX_SEGMENTS - 1);
	/* One more piece, above or between: refused, nothing added. */
	assert_int_equal(
		stream_rx_data(&rx, 2 * L7_MAX_SEGMENTS + 1, &b, 1, false, 1, count_cb, &got, &fin),
		-ENOBUFS);
	assert_int_equal(rx.nsegs, L7_MAX_SEGMENTS);
	/* Data that only extends what is held in order still goes out. */
	for (uint64_t i = 0; i < L7_MAX_SEGMENTS; i++)
		assert_int_equal(stream_rx_data(&rx, 2 * i, &b, 1, false, 1, count_cb, &got, &fin),
				 0);
	assert_int_equal(got, 2 * L7_MAX_SEGMENTS);
	assert_int_equal(rx.nsegs, 0);
	assert_null(rx.tail);
	assert_null(rx.segs);
	stream_rx_close(&rx);
}

/*
 * The reordering a loaded tunnel produces: a stream's first small record (an HTTP
 * response header) comes in a frame that is late, and the rest of the window arrives
 * first, in MTU-sized records. All of it is within the window the peer was given, so it
 * must be held, not reset: the pieces' bookkeeping is bounded by L7_MAX_SEGMENTS, it
 * does not eat into the window (it used to, and such a stream was reset as "too many
 * out-of-order pieces" when the late record was smaller than that bookkeeping).
 */
static void test_full_window_reordered(void **state)
{
	const uint64_t window = L7_WINDOW_BYTES_DEFAULT, first = 150, rec = 1448;
	struct stream_rx rx;
	uint64_t got = 0, o;
	bool fin;
	uint8_t *buf = calloc(1, window);

	(void)state;
	assert_non_null(buf);
	stream_rx_init(&rx, window);
	for (o = first; o < window; o += rec) {
		uint64_t n = window - o < rec ? window - o : rec;

		assert_int_equal(stream_rx_data(&rx, o, buf + o, n, false, 1, count_cb, &got, &fin),
				 0);
	}
	assert_int_equal(got, 0);
	assert_int_equal(rx.seg_bytes, window - first);
	assert_int_equal(rx.nsegs, (window - first + rec - 1) / rec);
	/* The bookkeeping of those pieces is more than the late record: it did not fit before. */
	assert_true(rx.nsegs * STREAM_SEG_OVERHEAD > first);
	/* Bounded all the same: one window of data plus the pieces' bookkeeping. */
	assert_true(rx.seg_bytes + rx.nsegs * STREAM_SEG_OVERHEAD <=
		    window + L7_MAX_SEGMENTS * STREAM_SEG_OVERHEAD);
	assert_int_equal(stream_rx_data(&rx, 0, buf, first, false, 1, count_cb, &got, &fin), 0);
	assert_int_equal(got, window);
	assert_int_equal(rx.nsegs, 0);
	assert_int_equal(rx.seg_bytes, 0);
	stream_rx_close(&rx);
	free(buf);
}

/*
 * A small window: 1-byte pieces at every other offset all fit (their bookkeeping is not
 * charged to the window), data beyond the window is a protocol error, and a gap filled
 * at the start hands out everything.
 */
static void test_small_window_pieces(void **state)
{
	const uint64_t window = 300;
	struct stream_rx rx;
	uint64_t got = 0, o;
	bool fin;
	uint8_t b[2] = { 'x', 'y' };

	(void)state;
	stream_rx_init(&rx, window);
	for (o = 1; o < window; o += 2)
		assert_int_equal(stream_rx_data(&rx, o, b, 1, false, 1, count_cb, &got, &fin), 0);
	assert_int_equal(rx.nsegs, window / 2);
	assert_int_equal(rx.seg_bytes, window / 2);
	assert_int_equal(stream_rx_data(&rx, window, b, 1, false, 1, count_cb, &got, &fin),
			 -EPROTO);
	assert_int_equal(stream_rx_data(&rx, window - 1, b, 2, false, 1, count_cb, &got, &fin),
			 -EPROTO);
	for (o = 0; o < window; o += 2)
		assert_int_equal(stream_rx_data(&rx, o, b, 1, false, 1, count_cb, &got, &fin), 0);
	assert_int_equal(got, window);
	assert_int_equal(rx.nsegs, 0);
	stream_rx_close(&rx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_reordered),
		cmocka_unit_test(test_duplicates_and_overlaps),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_fin),
		cmocka_unit_test(test_gaps),
		cmocka_unit_test(test_window_lost),
		cmocka_unit_test(test_tx),
		cmocka_unit_test(test_segment_cap),
		cmocka_unit_test(test_full_window_reordered),
		cmocka_unit_test(test_small_window_pieces),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
