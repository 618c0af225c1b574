/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/stream.h"
#include "core/limits.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void stream_rx_init(struct stream_rx *rx, uint64_t window_bytes)
{
	memset(rx, 0, sizeof(*rx));
	rx->window_bytes = window_bytes;
	rx->window = window_bytes;
}

void stream_rx_close(struct stream_rx *rx)
{
	while (rx->segs) {
		struct stream_seg *s = rx->segs;

		rx->segs = s->next;
		free(s);
	}
	rx->tail = NULL;
	rx->seg_bytes = 0;
	rx->nsegs = 0;
}

/* Highest offset any data seen so far reaches. */
static uint64_t rx_high(const struct stream_rx *rx)
{
	return rx->tail ? rx->tail->offset + rx->tail->len : rx->next;
}

/* Copy [o, end) of the record (which starts at offset) into the sorted buffer, skipping
 * what it holds already. */
static int rx_buffer(struct stream_rx *rx, uint64_t offset, const uint8_t *data, uint64_t o,
		     uint64_t end)
{
	struct stream_seg **pp = &rx->segs;

	/* Above everything held (the usual case): append without a walk. */
	if (rx->tail && o >= rx->tail->offset + rx->tail->len)
		pp = &rx->tail->next;
	while (o < end) {
		struct stream_seg *s = *pp, *n;
		uint64_t pend;

		if (s && s->offset + s->len <= o) {
			pp = &s->next;
			continue;
		}
		if (s && s->offset <= o) {
			o = s->offset + s->len;
			pp = &s->next;
			continue;
		}
		pend = s && s->offset < end ? s->offset : end;
		/*
		 * The data held lies inside the window (stream_rx_data checked it), so it is at
		 * most window_bytes; the pieces' bookkeeping is bounded by their count, on top.
		 * Charging it to the window refused data a well-behaved peer was allowed to send
		 * (a full window that arrived ahead of a small late record).
		 */
		if (rx->nsegs >= L7_MAX_SEGMENTS || rx->seg_bytes + (pend - o) > rx->window_bytes)
			return -ENOBUFS;
		n = malloc(sizeof(*n) + (size_t)(pend - o));
		if (!n)
			return -ENOMEM;
		n->offset = o;
		n->len = (size_t)(pend - o);
		memcpy(n->data, data + (o - offset), n->len);
		n->next = s;
		*pp = n;
		pp = &n->next;
		if (!s)
			rx->tail = n;
		rx->seg_bytes += n->len;
		rx->nsegs++;
		o = pend;
	}
	return 0;
}

/* Hand out what the buffer holds in order after next. */
static void rx_drain(struct stream_rx *rx, stream_deliver_fn deliver, void *ctx)
{
	while (rx->segs && rx->segs->offset <= rx->next) {
		struct stream_seg *s = rx->segs;
		uint64_t end = s->offset + s->len;

		if (end > rx->next) {
			deliver(ctx, s->data + (rx->next - s->offset), (size_t)(end - rx->next));
			rx->next = end;
		}
		rx->segs = s->next;
		rx->seg_bytes -= s->len;
		rx->nsegs--;
		free(s);
	}
	if (!rx->segs)
		rx->tail = NULL;
}

int stream_rx_data(struct stream_rx *rx, uint64_t offset, const uint8_t *data, size_t len, bool fin,
		   uint64_t now_ms, stream_deliver_fn deliver, void *ctx, bool *fin_now)
{
	uint64_t end, o;
	int err;

	*fin_now = false;
	if ((uint64_t)len > UINT64_MAX - offset)
		return -EPROTO;
	end = offset + len;
	/* Flow control: the sender was never allowed this far. */
	if (end > rx->window)
		return -EPROTO;
	if (rx->has_fin && (end > rx->fin_offset || (fin && end != rx->fin_offset)))
		return -EPROTO;
	if (fin && !rx->has_fin) {
		/* An end below data already seen contradicts that data. */
		if (end < rx_high(rx))
			return -EPROTO;
		rx->has_fin = true;
		rx->fin_offset = end;
	}
	o = offset < rx->next ? rx->next : offset;
	if (o < end) {
		if (o == rx->next) {
			deliver(ctx, data + (o - offset), (size_t)(end - o));
			rx->next = end;
			rx_drain(rx, deliver, ctx);
			/* The oldest gap closed; whatever is still held waits behind a new one. */
			rx->gap_since_ms = rx->segs ? (now_ms ? now_ms : 1) : 0;
		} else {
			err = rx_buffer(rx, offset, data, o, end);
			if (err)
				return err;
			if (!rx->gap_since_ms)
				rx->gap_since_ms = now_ms ? now_ms : 1;
		}
	}
	if (rx->has_fin && !rx->fin_delivered && rx->next == rx->fin_offset) {
		rx->fin_delivered = true;
		*fin_now = true;
	}
	return 0;
}

bool stream_rx_consume(struct stream_rx *rx, uint64_t n)
{
	rx->consumed += n;
	if (rx->consumed > rx->next)
		rx->consumed = rx->next;
	/* After the end nothing more comes: no window to announce. */
	if (rx->has_fin)
		return false;
	return rx->consumed + rx->window_bytes - rx->window >= rx->window_bytes / 4;
}

uint64_t stream_rx_announce(struct stream_rx *rx)
{
	uint64_t w = rx->consumed + rx->window_bytes;

	if (w > rx->window) {
		rx->prev_window = rx->window;
		rx->window = w;
	}
	return rx->window;
}

bool stream_rx_window_lost(struct stream_rx *rx, uint64_t now_ms, uint64_t timeout_ms,
			   unsigned max_tries)
{
	if (rx->has_fin || rx->segs || rx->next != rx->consumed || rx->next != rx->prev_window ||
	    rx->window <= rx->next) {
		rx->stuck_since_ms = 0;
		return false;
	}
	if (!rx->stuck_since_ms || rx->stuck_next != rx->next) {
		rx->stuck_since_ms = now_ms ? now_ms : 1;
		rx->stuck_next = rx->next;
		rx->reannounced = 0;
		return false;
	}
	if (now_ms < rx->stuck_since_ms || now_ms - rx->stuck_since_ms < timeout_ms ||
	    rx->reannounced >= max_tries)
		return false;
	rx->reannounced++;
	rx->stuck_since_ms = now_ms;
	return true;
}

bool stream_rx_gap_expired(const struct stream_rx *rx, uint64_t now_ms, uint64_t timeout_ms)
{
	return rx->gap_since_ms && now_ms >= rx->gap_since_ms &&
	       now_ms - rx->gap_since_ms >= timeout_ms;
}

void stream_tx_init(struct stream_tx *tx)
{
	memset(tx, 0, sizeof(*tx));
}

void stream_tx_window(struct stream_tx *tx, uint64_t max_offset)
{
	if (max_offset > tx->window)
		tx->window = max_offset;
}

void stream_tx_sent(struct stream_tx *tx, uint64_t n, bool fin)
{
	tx->next += n;
	if (fin)
		tx->fin_sent = true;
}
