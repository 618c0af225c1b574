/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/frameq.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* A stand-in for session_seal: writes a recognisable header and tag, counts calls. */
struct fake_seal {
	unsigned calls;
	int fail;
};

static int fake_seal(void *ctx, uint8_t *frame, size_t plen, uint32_t *tag)
{
	struct fake_seal *f = ctx;

	f->calls++;
	*tag = 1000 + f->calls;
	if (f->fail)
		return f->fail;
	memset(frame, 0xaa, FRAME_HEADER_BYTES);
	memset(frame + FRAME_HEADER_BYTES + plen, 0xbb, FRAME_TAG_BYTES);
	return 0;
}

static void add_packet(struct frameq *q, uint8_t fill, size_t len)
{
	struct batch *b = frameq_open(q);
	uint8_t *p;

	assert_non_null(b);
	p = batch_reserve(b, REC_IP, len);
	assert_non_null(p);
	memset(p, fill, len);
	assert_int_equal(batch_commit(b, len), 0);
}

static void test_seal_and_take(void **state)
{
	struct fake_seal f = { 0 };
	struct frameq q;
	struct fbuf *list;
	size_t bytes;
	unsigned frames;

	(void)state;
	frameq_init(&q, 1000, 1 << 20);
	assert_false(frameq_dirty(&q));
	assert_int_equal(frameq_seal(&q, fake_seal, &f), 0); /* nothing open: no call */
	assert_int_equal(f.calls, 0);
	assert_non_null(frameq_open(&q));
	assert_int_equal(frameq_seal(&q, fake_seal, &f), 0); /* open but empty: no call */
	assert_int_equal(f.calls, 0);

	add_packet(&q, 1, 100);
	add_packet(&q, 2, 200);
	assert_true(frameq_dirty(&q));
	assert_int_equal(frameq_seal(&q, fake_seal, &f), 0);
	assert_int_equal(f.calls, 1);
	assert_false(frameq_dirty(&q));
	add_packet(&q, 3, 50);
	assert_int_equal(frameq_seal(&q, fake_seal, &f), 0);
	assert_int_equal(q.queued_frames, 2);
	assert_int_equal(q.queued_bytes, (36 + 103 + 203) + (36 + 53));

	/* max_bytes lets the first frame through even when it alone is larger. */
	list = frameq_take(&q, 10, 100, &bytes, &frames);
	assert_non_null(list);
	assert_int_equal(frames, 1);
	assert_int_equal(bytes, 36 + 103 + 203);
	assert_null(list->next);
	assert_int_equal(list->data[0], 0xaa);
	assert_int_equal(list->data[FRAME_HEADER_BYTES], REC_IP);
	assert_int_equal(list->data[FRAME_HEADER_BYTES + 3], 1);
	assert_int_equal(list->data[list->len - 1], 0xbb);
	assert_int_equal(list->tag, 1001); /* the seal function's tag stays with the frame */
	assert_int_equal(q.queued_frames, 1);
	frameq_release(&q, list);
	assert_int_equal(q.pooled, 1); /* the written frame's buffer, for reuse */
	frameq_close(&q);
}

static void test_take_limits(void **state)
{
	struct fake_seal f = { 0 };
	struct frameq q;
	struct fbuf *list, *b;
	size_t bytes;
	unsigned frames, n = 0;

	(void)state;
	frameq_init(&q, 1000, 1 << 20);
	for (int i = 0; i < 10; i++) {
		add_packet(&q, (uint8_t)i, 61); /* frame = 36 + 64 = 100 bytes */
		assert_int_equal(frameq_seal(&q, fake_seal, &f), 0);
	}
	list = frameq_take(&q, 350, 100, &bytes, &frames);
	assert_int_equal(frames, 3);
	assert_int_equal(bytes, 300);
	for (b = list; b; b = b->next)
		assert_int_equal(b->data[FRAME_HEADER_BYTES + 3], n++);
	frameq_release(&q, list);
	list = frameq_take(&q, 1 << 20, 4, &bytes, &frames);
	assert_int_equal(frames, 4);
	assert_int_equal(list->data[FRAME_HEADER_BYTES + 3], 3);
	frameq_release(&q, list);
	list = frameq_take(&q, 1 << 20, 100, &bytes, &frames);
	assert_int_equal(frames, 3);
	frameq_release(&q, list);
	assert_true(frameq_empty(&q));
	assert_null(frameq_take(&q, 1 << 20, 100, &bytes, &frames));
	assert_int_equal(frames, 0);
	assert_int_equal(bytes, 0);
	assert_int_equal(q.queued_bytes, 0);
	/* 10 released, all kept (or as many as the pool takes). */
	assert_int_equal(q.pooled, 10 < FRAMEQ_MAX_POOLED ? 10 : FRAMEQ_MAX_POOLED);
	assert_int_equal(q.nbufs, q.pooled);
	frameq_close(&q);
}

static void test_full_and_clear(void **state)
{
	struct fake_seal f = { 0 };
	struct frameq q;
	int sealed = 0;

	(void)state;
	/* Frames of 36 + 100 bytes of plaintext; room for 4 buffers of 136 bytes. */
	frameq_init(&q, 100, 4 * 136);
	while (!frameq_full(&q)) {
		add_packet(&q, 7, 97);
		assert_int_equal(frameq_seal(&q, fake_seal, &f), 0);
		sealed++;
		assert_true(sealed < 100);
	}
	assert_int_equal(sealed, 4);
	assert_int_equal(q.queued_bytes, 4 * 136);
	frameq_clear(&q);
	assert_true(frameq_empty(&q));
	assert_false(frameq_full(&q));
	assert_int_equal(q.stats.frames_cleared, 4);
	assert_int_equal(q.stats.frames_sealed, 4);
	frameq_close(&q);
}

/* Frames of one tiny packet each: full by buffers (2x the bound), far below it in bytes. */
static void test_full_by_buffers(void **state)
{
	struct fake_seal f = { 0 };
	struct frameq q;
	struct fbuf *one;
	unsigned sealed = 0, n;
	size_t bytes;

	(void)state;
	/* Buffers of 36 + 1000 bytes; a byte bound of 8 of them: 16 buffers at most. */
	frameq_init(&q, 1000, 8 * 1036);
	while (!frameq_full(&q)) {
		add_packet(&q, 7, 1);
		assert_int_equal(frameq_seal(&q, fake_seal, &f), 0);
		sealed++;
		assert_true(sealed < 1000);
	}
	assert_int_equal(sealed, 8 * FRAMEQ_BUFFERS_OVER_QUEUE_FACTOR);
	assert_true(q.queued_bytes < 8 * 1036 / 4);
	/* Taking one frame away makes room again. */
	one = frameq_take(&q, 1 << 20, 1, &bytes, &n);
	assert_int_equal(n, 1);
	assert_false(frameq_full(&q));
	frameq_release(&q, one);
	frameq_clear(&q);
	frameq_close(&q);
}

static void test_seal_failure_drops(void **state)
{
	struct fake_seal f = { .fail = -ENOTCONN };
	struct frameq q;

	(void)state;
	frameq_init(&q, 1000, 1 << 20);
	add_packet(&q, 1, 10);
	assert_int_equal(frameq_seal(&q, fake_seal, &f), -ENOTCONN);
	assert_true(frameq_empty(&q));
	assert_false(frameq_dirty(&q));
	assert_int_equal(q.stats.frames_dropped, 1);
	assert_int_equal(q.pooled, 1);
	f.fail = 0;
	add_packet(&q, 2, 10);
	assert_int_equal(q.pooled, 0); /* the buffer was reused */
	assert_int_equal(frameq_seal(&q, fake_seal, &f), 0);
	assert_int_equal(q.queued_frames, 1);
	frameq_close(&q);
}

/* An open reservation at seal time is not part of the frame. */
static void test_open_reservation_cancelled(void **state)
{
	struct fake_seal f = { 0 };
	struct frameq q;
	struct batch *b;
	size_t bytes;
	unsigned frames;
	struct fbuf *list;

	(void)state;
	frameq_init(&q, 1000, 1 << 20);
	add_packet(&q, 1, 10);
	b = frameq_open(&q);
	assert_non_null(batch_reserve(b, REC_IP, 100));
	assert_int_equal(frameq_seal(&q, fake_seal, &f), 0);
	list = frameq_take(&q, 1 << 20, 100, &bytes, &frames);
	assert_int_equal(bytes, FRAME_OVERHEAD_BYTES + 13);
	frameq_release(&q, list);
	frameq_close(&q);
}

/* A keepalive is an empty frame, sealed even though nothing is in it. */
static void test_keepalive(void **state)
{
	struct fake_seal f = { 0 };
	struct frameq q;
	struct fbuf *list;
	size_t bytes;
	unsigned frames;

	(void)state;
	frameq_init(&q, 1000, 1 << 20);
	assert_int_equal(frameq_seal_keepalive(&q, fake_seal, &f), 0);
	assert_int_equal(f.calls, 1);
	add_packet(&q, 1, 10);
	assert_int_equal(frameq_seal_keepalive(&q, fake_seal, &f), 0); /* with records: as usual */
	list = frameq_take(&q, 1 << 20, 100, &bytes, &frames);
	assert_int_equal(frames, 2);
	assert_int_equal(list->len, FRAME_OVERHEAD_BYTES);
	assert_int_equal(list->next->len, FRAME_OVERHEAD_BYTES + 13);
	frameq_release(&q, list);
	frameq_close(&q);
}

/* Capped at FRAME_MAX_PLAINTEXT_BYTES whatever the caller asks for. */
static void test_plaintext_cap(void **state)
{
	struct frameq q;

	(void)state;
	frameq_init(&q, FRAME_MAX_PLAINTEXT_BYTES * 4, 1 << 24);
	assert_int_equal(q.buf_cap, FRAME_OVERHEAD_BYTES + FRAME_MAX_PLAINTEXT_BYTES);
	frameq_close(&q);
}

/* Seal n one-packet frames, each in its own buffer; the queue holds them. */
static void seal_frames(struct frameq *q, struct fake_seal *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		add_packet(q, (uint8_t)i, 10);
		assert_int_equal(frameq_seal(q, fake_seal, f), 0);
	}
}

static void release_all(struct frameq *q)
{
	size_t bytes;
	unsigned frames;

	frameq_release(q, frameq_take(q, SIZE_MAX, UINT32_MAX, &bytes, &frames));
}

/* The pool keeps what the busiest moment since the last trim had out, no more. */
static void test_trim_working_set(void **state)
{
	struct fake_seal f = { 0 };
	struct frameq q;
	struct fbuf *list;
	size_t bytes;
	unsigned frames;

	(void)state;
	frameq_init(&q, 1000, 1 << 20);
	assert_int_equal(frameq_trim(&q), 0); /* nothing allocated yet */

	seal_frames(&q, &f, 6); /* 6 out at once */
	assert_int_equal(q.nbufs, 6);
	assert_int_equal(q.peak_busy, 6);
	release_all(&q);
	assert_int_equal(q.pooled, 6);
	/* The interval needed 6: all stay; the next interval starts from 0 busy. */
	assert_int_equal(frameq_trim(&q), 0);
	assert_int_equal(q.pooled, 6);
	assert_int_equal(q.peak_busy, 0);

	seal_frames(&q, &f, 2); /* a quieter interval: 2 out at once, from the pool */
	assert_int_equal(q.pooled, 4);
	assert_int_equal(q.nbufs, 6);
	assert_int_equal(q.stats.bufs_allocated, 6);
	release_all(&q);
	assert_int_equal(frameq_trim(&q), 4); /* 6 pooled, 2 needed */
	assert_int_equal(q.pooled, 2);
	assert_int_equal(q.nbufs, 2);

	/* Busy now: the buffers out count against the peak, the pool keeps the rest. */
	seal_frames(&q, &f, 3); /* peak 3: 2 from the pool, 1 new */
	assert_int_equal(q.stats.bufs_allocated, 7);
	assert_int_equal(frameq_trim(&q), 0); /* 3 out, 0 pooled: nothing to free */
	assert_int_equal(q.nbufs, 3);
	assert_int_equal(q.peak_busy, 3);
	release_all(&q);
	/* Peak 3, all back: keep 3. Then an idle interval: keep FRAMEQ_IDLE_POOLED. */
	assert_int_equal(frameq_trim(&q), 0);
	assert_int_equal(q.pooled, 3);
	assert_int_equal(frameq_trim(&q), 3 - FRAMEQ_IDLE_POOLED);
	assert_int_equal(q.pooled, FRAMEQ_IDLE_POOLED);
	assert_int_equal(q.nbufs, FRAMEQ_IDLE_POOLED);
	assert_int_equal(q.stats.bufs_trimmed, 4 + 3 - FRAMEQ_IDLE_POOLED);

	/* Buffers still out at trim time are part of the peak: only the rest is pooled. */
	seal_frames(&q, &f, 5);
	release_all(&q);
	assert_int_equal(frameq_trim(&q), 0); /* peak 5: keep 5 */
	seal_frames(&q, &f, 4); /* peak 4 */
	list = frameq_take(&q, SIZE_MAX, 2, &bytes, &frames);
	frameq_release(&q, list); /* 2 out (queued), 3 pooled */
	/* Keep 4 - 2 = 2 pooled (so 4 again fit), free 1. */
	assert_int_equal(frameq_trim(&q), 1);
	assert_int_equal(q.pooled, 2);
	assert_int_equal(q.peak_busy, 2);
	assert_int_equal(frameq_trim(&q), 2 - FRAMEQ_IDLE_POOLED);
	assert_int_equal(q.nbufs, 2 + FRAMEQ_IDLE_POOLED);
	release_all(&q);
	frameq_close(&q);
}

/* The open frame counts as busy; trimming never touches it or the queue. */
static void test_trim_keeps_open_and_queued(void **state)
{
	struct fake_seal f = { 0 };
	struct frameq q;
	struct fbuf *list;
	size_t bytes;
	unsigned frames;

	(void)state;
	frameq_init(&q, 1000, 1 << 20);
	seal_frames(&q, &f, 4);
	add_packet(&q, 9, 20); /* open, dirty */
	list = frameq_take(&q, SIZE_MAX, 1, &bytes, &frames); /* 1 out, 3 queued */
	assert_int_equal(q.peak_busy, 5);
	frameq_trim(&q);
	frameq_trim(&q);
	assert_int_equal(q.nbufs, 5);
	assert_int_equal(q.pooled, 0);
	assert_true(frameq_dirty(&q));
	assert_int_equal(q.queued_frames, 3);
	frameq_release(&q, list);
	/* One released buffer: the last interval had 5 out, so it stays... */
	assert_int_equal(frameq_trim(&q), 0);
	/* ...and goes when an interval with 4 out (open + 3 queued) is over. */
	assert_int_equal(frameq_trim(&q), 1 - FRAMEQ_IDLE_POOLED);
	assert_int_equal(q.nbufs, 4 + FRAMEQ_IDLE_POOLED);
	assert_int_equal(frameq_seal(&q, fake_seal, &f), 0);
	list = frameq_take(&q, SIZE_MAX, UINT32_MAX, &bytes, &frames);
	assert_int_equal(frames, 4);
	assert_int_equal(list->data[FRAME_HEADER_BYTES + 3], 1); /* frames intact, in order */
	frameq_release(&q, list);
	frameq_close(&q);
}

/* Under load the pool holds up to FRAMEQ_MAX_POOLED; past it buffers are freed at once. */
static void test_pool_cap(void **state)
{
	struct fake_seal f = { 0 };
	struct frameq q;

	(void)state;
	frameq_init(&q, 100, 1 << 24);
	seal_frames(&q, &f, FRAMEQ_MAX_POOLED + 3);
	assert_int_equal(q.nbufs, FRAMEQ_MAX_POOLED + 3);
	release_all(&q);
	assert_int_equal(q.pooled, FRAMEQ_MAX_POOLED);
	assert_int_equal(q.nbufs, FRAMEQ_MAX_POOLED);
	assert_int_equal(q.stats.bufs_allocated, FRAMEQ_MAX_POOLED + 3);
	seal_frames(&q, &f, FRAMEQ_MAX_POOLED); /* all from the pool */
	assert_int_equal(q.stats.bufs_allocated, FRAMEQ_MAX_POOLED + 3);
	release_all(&q);
	frameq_trim(&q);
	assert_int_equal(frameq_trim(&q), FRAMEQ_MAX_POOLED - FRAMEQ_IDLE_POOLED);
	assert_int_equal(q.nbufs, FRAMEQ_IDLE_POOLED);
	frameq_close(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal_and_take),
		cmocka_unit_test(test_take_limits),
		cmocka_unit_test(test_full_and_clear),
		cmocka_unit_test(test_full_by_buffers),
		cmocka_unit_test(test_seal_failure_drops),
		cmocka_unit_test(test_open_reservation_cancelled),
		cmocka_unit_test(test_plaintext_cap),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_trim_working_set),
		cmocka_unit_test(test_trim_keeps_open_and_queued),
		cmocka_unit_test(test_pool_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
