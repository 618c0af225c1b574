/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/frameq.h"
#include "core/limits.h"

#include <errno.h>
#include <stdlib.h>

void frameq_init(struct frameq *q, size_t max_plaintext, size_t max_queued_bytes)
{
	memset(q, 0, sizeof(*q));
	if (max_plaintext > FRAME_MAX_PLAINTEXT_BYTES)
		max_plaintext = FRAME_MAX_PLAINTEXT_BYTES;
	q->buf_cap = FRAME_OVERHEAD_BYTES + max_plaintext;
	q->max_queued_bytes = max_queued_bytes;
}

static void fbuf_list_free(struct fbuf *b)
{
	while (b) {
		struct fbuf *next = b->next;

		free(b);
		b = next;
	}
}

void frameq_close(struct frameq *q)
{
	fbuf_list_free(q->head);
	fbuf_list_free(q->pool);
	free(q->open);
	memset(q, 0, sizeof(*q));
}

static struct fbuf *fbuf_get(struct frameq *q)
{
	struct fbuf *b = q->pool;

	if (b) {
		q->pool = b->next;
		q->pooled--;
	} else {
		b = malloc(sizeof(*b) + q->buf_cap);
		if (!b)
			return NULL;
		q->nbufs++;
		q->stats.bufs_allocated++;
	}
	if (q->nbufs - q->pooled > q->peak_busy)
		q->peak_busy = q->nbufs - q->pooled;
	b->next = NULL;
	b->len = 0;
	return b;
}

static void fbuf_put(struct frameq *q, struct fbuf *b)
{
	if (q->pooled >= FRAMEQ_MAX_POOLED) {
		free(b);
		q->nbufs--;
		return;
	}
	b->next = q->pool;
	q->pool = b;
	q->pooled++;
}

struct batch *frameq_open(struct frameq *q)
{
	if (q->open)
		return &q->batch;
	q->open = fbuf_get(q);
	if (!q->open)
		return NULL;
	/* buf_cap >= FRAME_OVERHEAD_BYTES by construction, so this cannot fail. */
	batch_init(&q->batch, q->open->data, q->buf_cap);
	return &q->batch;
}

bool frameq_dirty(const struct frameq *q)
{
	return q->open && batch_plaintext_len(&q->batch) > 0;
}

static int seal_open(struct frameq *q, frameq_seal_fn seal, void *ctx)
{
	struct fbuf *b = q->open;
	size_t plen;
	int err;

	batch_cancel(&q->batch); /* a reservation left open is not part of the frame */
	plen = batch_plaintext_len(&q->batch);
	q->open = NULL;
	b->tag = 0;
	err = seal(ctx, b->data, plen, &b->tag);
	if (err) {
		q->stats.frames_dropped++;
		fbuf_put(q, b);
		return err;
	}
	b->len = batch_frame_len(&q->batch);
	b->next = NULL;
	if (q->tail)
		q->tail->next = b;
	else
		q->head = b;
	q->tail = b;
	q->queued_bytes += b->len;
	q->queued_frames++;
	q->stats.frames_sealed++;
	q->stats.bytes_sealed += b->len;
	return 0;
}

int frameq_seal(struct frameq *q, frameq_seal_fn seal, void *ctx)
{
	if (!frameq_dirty(q))
		return 0;
	return seal_open(q, seal, ctx);
}

int frameq_seal_keepalive(struct frameq *q, frameq_seal_fn seal, void *ctx)
{
	if (!frameq_open(q))
		return -ENOMEM;
	return seal_open(q, seal, ctx);
}

struct fbuf *frameq_take(struct frameq *q, size_t max_bytes, unsigned max_frames, size_t *bytes,
			 unsigned *frames)
{
	struct fbuf *list = q->head, *last = NULL, *b = q->head;
	size_t total = 0;
	unsigned n = 0;

	while (b && n < max_frames && (n == 0 || total + b->len <= max_bytes)) {
		total += b->len;
		n++;
		last = b;
		b = b->next;
	}
	*bytes = total;
	*frames = n;
	if (!last)
		return NULL;
	q->head = last->next;
	if (!q->head)
		q->tail = NULL;
	last->next = NULL;
	q->queued_bytes -= total;
	q->queued_frames -= n;
	return list;
}

void frameq_release(struct frameq *q, struct fbuf *list)
{
	while (list) {
		struct fbuf *next = list->next;

		fbuf_put(q, list);
		list = next;
	}
}

void frameq_clear(struct frameq *q)
{
	size_t bytes;
	unsigned frames;
	struct fbuf *list = frameq_take(q, SIZE_MAX, UINT32_MAX, &bytes, &frames);

	q->stats.frames_cleared += frames;
	frameq_release(q, list);
}

unsigned frameq_trim(struct frameq *q)
{
	unsigned busy = q->nbufs - q->pooled;
	unsigned keep = FRAMEQ_IDLE_POOLED;
	unsigned freed = 0;

	/* Enough for the busiest moment again, counting what is out of the pool now. */
	if (q->peak_busy > busy + keep)
		keep = q->peak_busy - busy;
	while (q->pooled > keep) {
		struct fbuf *b = q->pool;

		q->pool = b->next;
		q->pooled--;
		q->nbufs--;
		free(b);
		freed++;
	}
	q->stats.bufs_trimmed += freed;
	q->peak_busy = busy;
	return freed;
}
