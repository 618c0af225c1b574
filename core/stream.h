/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The byte-stream state of one L7 stream (docs/PROTOCOL.md section 5, "L7 streams"),
 * without sockets: what the receiver has delivered in order, the window it announced,
 * the out-of-order data it holds until a gap fills, the end of the stream (FIN); and for
 * the sender, how far it may send.
 *
 * Memory: the receiver accepts only data below the window it announced, and the window
 * is consumed + window_bytes, where consumed counts bytes the application has finished
 * with (written to its socket). Everything held for one stream (data delivered but not
 * yet consumed, plus the reassembly buffer) is therefore at most window_bytes of data.
 * The reassembly buffer holds at most L7_MAX_SEGMENTS pieces; their bookkeeping
 * (STREAM_SEG_OVERHEAD each) comes on top, bounded by that count, and is not charged to
 * the window: a peer may fill the whole window it was given, in any order.
 */
#ifndef HTTUN_CORE_STREAM_H
#define HTTUN_CORE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A piece of out-of-order data, copied out of its frame. */
struct stream_seg {
	struct stream_seg *next;
	uint64_t offset;
	size_t len;
	uint8_t data[];
};

/* What one piece costs beyond its data: its header and the allocator's (about 16). */
#define STREAM_SEG_OVERHEAD (sizeof(struct stream_seg) + 16)

struct stream_rx {
	uint64_t window_bytes; /* how far past consumed the window reaches */
	uint64_t next; /* bytes delivered in order */
	uint64_t consumed; /* of those, bytes the application has finished with */
	uint64_t window; /* the max offset announced last: no data may end beyond it */
	uint64_t fin_offset; /* end of the stream, when has_fin */
	bool has_fin;
	bool fin_delivered; /* every byte up to fin_offset went out */
	struct stream_seg *segs; /* out of order: sorted, disjoint, all above next */
	struct stream_seg *tail; /* the last of segs: appends above it are O(1) */
	size_t seg_bytes;
	unsigned nsegs; /* at most L7_MAX_SEGMENTS */
	uint64_t gap_since_ms; /* when the oldest still-open gap appeared; 0: no gap */
	uint64_t prev_window; /* the window announced before the current one */
	uint64_t stuck_next; /* stream_rx_window_lost: where the stream stood still */
	uint64_t stuck_since_ms;
	unsigned reannounced;
};

/* In-order bytes for the application; borrowed for the call. */
typedef void (*stream_deliver_fn)(void *ctx, const uint8_t *data, size_t len);

/* The first window announced is window_bytes. */
void stream_rx_init(struct stream_rx *rx, uint64_t window_bytes);
/* Frees the reassembly buffer. */
void stream_rx_close(struct stream_rx *rx);

/*
 * Data at offset (with fin: the stream ends at offset + len). Bytes that continue the
 * stream in order go to deliver at once, followed by whatever the reassembly buffer
 * then holds in order; later bytes are copied into the buffer; bytes delivered already
 * are ignored (duplicates). *fin_now is set when the end of the stream has just been
 * reached (once per stream). Returns 0; -EPROTO when data ends beyond the announced
 * window, lies beyond a known end, or a second FIN names a different end (the stream
 * is broken: reset it); -ENOBUFS when holding it would take more than L7_MAX_SEGMENTS
 * pieces (a peer that slices its data into tiny out-of-order records: reset the stream,
 * out of resources); -ENOMEM (nothing more buffered from this call).
 */
int stream_rx_data(struct stream_rx *rx, uint64_t offset, const uint8_t *data, size_t len, bool fin,
		   uint64_t now_ms, stream_deliver_fn deliver, void *ctx, bool *fin_now);

/*
 * The application finished with n more of the delivered bytes. Returns true when the
 * window has moved far enough (a quarter of window_bytes, or to the end) that announcing
 * it is worth a record: then send stream_rx_announce().
 */
bool stream_rx_consume(struct stream_rx *rx, uint64_t n);
/* The window to announce now (consumed + window_bytes); remembered as announced. */
uint64_t stream_rx_announce(struct stream_rx *rx);
/* Bytes delivered but not consumed yet (queued towards the application). */
static inline uint64_t stream_rx_unconsumed(const struct stream_rx *rx)
{
	return rx->next - rx->consumed;
}
/* True when a gap has held data back for at least timeout_ms. */
bool stream_rx_gap_expired(const struct stream_rx *rx, uint64_t now_ms, uint64_t timeout_ms);
/*
 * Called periodically: true when the last window announcement was probably lost, so it
 * should be sent again (stream_rx_announce). That is when the data ends exactly at the
 * previous window edge, everything was consumed, and the stream has stood still there for
 * timeout_ms: a sender that never got the current window waits at the previous one
 * forever. At most max_tries times for one position, so a stream that is merely idle at
 * such an edge costs a few records, not a steady trickle. No retransmission is needed
 * for this: windows are absolute, repeating one is harmless.
 */
bool stream_rx_window_lost(struct stream_rx *rx, uint64_t now_ms, uint64_t timeout_ms,
			   unsigned max_tries);

struct stream_tx {
	uint64_t next; /* offset of the next byte to send */
	uint64_t window; /* the peer's max offset: send nothing that ends beyond it */
	bool fin_sent;
};

void stream_tx_init(struct stream_tx *tx);
/* A window from the peer; an older, smaller one (frames reorder) changes nothing. */
void stream_tx_window(struct stream_tx *tx, uint64_t max_offset);
/* Bytes that may be sent now. */
static inline uint64_t stream_tx_room(const struct stream_tx *tx)
{
	return tx->window > tx->next ? tx->window - tx->next : 0;
}
/* n bytes sent (n <= stream_tx_room); fin: and that was the end. */
void stream_tx_sent(struct stream_tx *tx, uint64_t n, bool fin);

#endif
