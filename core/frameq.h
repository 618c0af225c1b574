/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Frame queue: the frames of one direction of one channel, from the first record to the
 * HTTP body that carries them (docs/DESIGN.md "Data path").
 *
 * One frame at a time is open: records go straight into its buffer (batch_reserve, so a
 * TUN read lands there without a copy). frameq_seal() seals it in place and appends it to
 * the queue. frameq_take() hands a run of sealed frames to an HTTP write, which gives
 * them back with frameq_release() once written; buffers are then reused.
 *
 * Ownership: every struct fbuf belongs to exactly one place at a time: the pool, the open
 * slot, the queue, or a take list (the caller's until frameq_release). The queue is
 * bounded by max_queued_bytes: frameq_full() tells the producer to stop reading (the TUN
 * is paused, the kernel drops and counts), so memory never grows with a slow peer.
 *
 * Pool size: released buffers are kept (up to FRAMEQ_MAX_POOLED) so a busy channel does
 * not allocate per frame; frameq_trim(), called from a slow housekeeping timer, frees
 * what the busiest moment since its last call did not need, so an idle channel gives its
 * buffers back within two calls (docs/DESIGN.md "Buffer ownership").
 */
#ifndef HTTUN_CORE_FRAMEQ_H
#define HTTUN_CORE_FRAMEQ_H

#include "core/batch.h"
#include "core/limits.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fbuf {
	struct fbuf *next;
	size_t len; /* bytes of the sealed frame */
	uint32_t tag; /* set by the seal function: which session sealed it */
	uint8_t data[];
};

struct frameq_stats {
	uint64_t frames_sealed;
	uint64_t bytes_sealed;
	uint64_t frames_dropped; /* open frames discarded: sealing failed (no session) */
	uint64_t frames_cleared; /* queued frames thrown away by frameq_clear */
	uint64_t bufs_allocated; /* buffers malloc'd (pool empty) */
	uint64_t bufs_trimmed; /* pooled buffers freed by frameq_trim */
};

struct frameq {
	struct fbuf *head, *tail; /* sealed, oldest first */
	size_t queued_bytes;
	unsigned queued_frames;
	struct fbuf *pool;
	unsigned pooled;
	unsigned nbufs; /* buffers this queue owns, wherever they are (pool included) */
	unsigned peak_busy; /* most buffers out of the pool at once since frameq_trim */
	struct fbuf *open;
	struct batch batch; /* valid while open != NULL */
	size_t buf_cap;
	size_t max_queued_bytes;
	struct frameq_stats stats;
};

/*
 * Seals a frame in place (session_seal layout) and names what sealed it in *tag (kept
 * with the frame, for the caller to match answers to sessions); 0 or a negative errno.
 */
typedef int (*frameq_seal_fn)(void *ctx, uint8_t *frame, size_t plaintext_len, uint32_t *tag);

/*
 * max_plaintext: plaintext bytes of one frame (at most FRAME_MAX_PLAINTEXT_BYTES).
 * max_queued_bytes: sealed bytes the queue holds before frameq_full() says stop.
 */
void frameq_init(struct frameq *q, size_t max_plaintext, size_t max_queued_bytes);
/* Frees every buffer the queue owns; buffers out on a take list must be released first. */
void frameq_close(struct frameq *q);

/* The open frame, started in a new buffer when none is open; NULL when out of memory. */
struct batch *frameq_open(struct frameq *q);
/* True when an open frame holds at least one record. */
bool frameq_dirty(const struct frameq *q);
/*
 * Seal the open frame and queue it. Nothing open or an empty frame: nothing happens,
 * returns 0. When seal fails the frame is dropped and counted and its error returned.
 */
int frameq_seal(struct frameq *q, frameq_seal_fn seal, void *ctx);
/*
 * Seal and queue the open frame even when it holds no records (opening one if needed):
 * an empty DATA frame is a keepalive, used to confirm a new session at once.
 */
int frameq_seal_keepalive(struct frameq *q, frameq_seal_fn seal, void *ctx);

/*
 * No room for one more full frame: the producer should pause. Also when the queued
 * frames' buffers (buf_cap each, however little a frame holds) would pass
 * FRAMEQ_BUFFERS_OVER_QUEUE_FACTOR times max_queued_bytes: frames of a few small
 * packets each would otherwise pin a buffer apiece far beyond the byte bound.
 */
static inline bool frameq_full(const struct frameq *q)
{
	return q->queued_bytes + q->buf_cap > q->max_queued_bytes ||
	       ((size_t)q->queued_frames + 1) * q->buf_cap >
		       q->max_queued_bytes * FRAMEQ_BUFFERS_OVER_QUEUE_FACTOR;
}

static inline bool frameq_empty(const struct frameq *q)
{
	return q->head == NULL;
}

/*
 * Take queued frames, oldest first, up to max_frames and while their total stays within
 * max_bytes (but always at least one frame when any is queued). Returns the list (NULL
 * when the queue is empty) and its totals; the caller owns it until frameq_release.
 */
struct fbuf *frameq_take(struct frameq *q, size_t max_bytes, unsigned max_frames, size_t *bytes,
			 unsigned *frames);
/* Give back a take list (or part of one, linked by next). */
void frameq_release(struct frameq *q, struct fbuf *list);
/* Throw away every queued frame (for example when the peer's session is gone). */
void frameq_clear(struct frameq *q);
/*
 * Housekeeping, every MEM_TRIM_INTERVAL_MS or so: frees pooled buffers beyond what the
 * busiest moment since the last call had out of the pool (the working set), keeping
 * FRAMEQ_IDLE_POOLED at least. Returns the number of buffers freed.
 */
unsigned frameq_trim(struct frameq *q);

#endif
