/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The batching codec: messages in an HTTP body (docs/PROTOCOL.md section 2) and records
 * in the plaintext of a DATA frame (section 5).
 *
 * Decoding walks a bounded cursor and only ever hands out spans into the caller's bytes.
 * Building is zero-copy: records are written straight into the buffer that
 * session_seal() then seals in place, and several frames can be laid back to back in one
 * HTTP body buffer.
 */
#ifndef HTTUN_CORE_BATCH_H
#define HTTUN_CORE_BATCH_H

#include "core/cursor.h"
#include "core/frame.h"
#include "core/limits.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- body: messages back to back (section 2) ---- */

struct body_msg {
	uint8_t type; /* enum msg_type */
	struct span whole; /* the whole message, type byte to tag */
	struct frame_header hdr; /* MSG_DATA and MSG_POLL only */
};

/*
 * Take the next message off c. Returns 1 with *m filled and c advanced past the message,
 * 0 at the clean end of the body, or -EPROTO (unknown type, message cut short, bad frame
 * header; c is left unchanged). Only framing is checked here: which message types a
 * body may carry, and everything inside INIT and RESPONSE, is the caller's to check.
 */
int body_next(struct cursor *c, struct body_msg *m);

/* ---- records: the plaintext of a DATA frame (section 5) ---- */

enum record_type {
	REC_PAD = 0x00,
	REC_IP = 0x01,
	REC_IP_GSO = 0x02,
	REC_L7_OPEN = 0x10,
	REC_L7_DATA = 0x11,
	REC_L7_WINDOW = 0x12,
	REC_L7_RESET = 0x13,
};

/* type (1) and length (2) */
#define RECORD_HEADER_BYTES 3
/* The length field is 16 bits. */
#define RECORD_MAX_BODY_BYTES 65535
/*
 * IP_GSO: the virtio_net_hdr in front of the packet is not counted by the length field,
 * so that a 64 KiB segment fits (docs/PROTOCOL.md section 5).
 */
#define RECORD_GSO_HDR_BYTES 10
#define RECORD_MAX_GSO_BODY_BYTES (RECORD_GSO_HDR_BYTES + RECORD_MAX_BODY_BYTES)

struct record {
	uint8_t type; /* enum record_type, never REC_PAD */
	struct span body; /* IP_GSO: the 10-byte virtio_net_hdr and the packet */
};

/*
 * Take the next record off a plaintext. Returns 1 with *r filled, 0 at the clean end
 * (end of plaintext, or a PAD byte: then c is emptied, the rest is padding), or -EPROTO
 * (unknown type, length running past the plaintext, empty IP record; c unchanged).
 * The fields inside L7 records are checked by the l7_*_decode functions (core/l7.h).
 */
int record_next(struct cursor *c, struct record *r);

/* ---- building one frame ---- */

/*
 * One frame under construction in a caller-owned buffer laid out as
 *   [FRAME_HEADER_BYTES room][records...][FRAME_TAG_BYTES room]
 * so that session_seal(s, MSG_DATA, flags, batch_frame(b), batch_plaintext_len(b))
 * seals it where it lies.
 */
struct batch {
	uint8_t *frame; /* start of the header room */
	size_t max_plain; /* plaintext bytes this buffer may hold */
	size_t len; /* plaintext bytes written */
	size_t open_max; /* reservation: most body bytes the caller may write */
	uint8_t open_type; /* reservation: record type, REC_PAD when none is open */
	bool padded; /* batch_pad() ran: the frame is closed to new records */
};

/*
 * cap is the whole buffer, header and tag room included; the plaintext is bounded by it
 * and by FRAME_MAX_PLAINTEXT_BYTES. Returns 0 or -EMSGSIZE if cap cannot hold even an
 * empty frame (FRAME_OVERHEAD_BYTES).
 */
int batch_init(struct batch *b, uint8_t *buf, size_t cap);

/*
 * Body bytes that one more record may still carry (every record type has the same
 * 3-byte header, so this does not depend on the type). No record type has an empty body, so 0 means
 * nothing more fits. Never above RECORD_MAX_BODY_BYTES. 0 while a reservation is open or after
 * batch_pad().
 */
size_t batch_room(const struct batch *b);
/*
 * The same for an IP_GSO record, whose body (header and packet) may reach
 * RECORD_MAX_GSO_BODY_BYTES; 0 when not even a header and one byte of packet fit.
 */
size_t batch_room_gso(const struct batch *b);

/*
 * Append one record. Returns 0, -ENOSPC (does not fit; nothing written), -EINVAL (PAD or
 * unknown type, len above RECORD_MAX_BODY_BYTES, empty IP record) or -EBUSY (a
 * reservation is open, or the frame was padded).
 */
int batch_add(struct batch *b, uint8_t type, const uint8_t *body, size_t len);
int batch_add_ip(struct batch *b, const uint8_t *pkt, size_t len);

/*
 * Reserve a record of up to max_len body bytes and return where its body goes, so a
 * read() can land in the frame without a copy; finish with batch_commit() or
 * batch_cancel(). Returns NULL (and reserves nothing) for the reasons batch_add fails.
 * Pass batch_room(b) as max_len to take all that is left.
 */
uint8_t *batch_reserve(struct batch *b, uint8_t type, size_t max_len);
/*
 * Close the reservation with the body length actually written. Returns 0, or -EINVAL
 * (no reservation, len above the reserved max, or empty IP record): then the
 * reservation is dropped and the frame is as it was before batch_reserve().
 */
int batch_commit(struct batch *b, size_t len);
void batch_cancel(struct batch *b);

/*
 * Pad the plaintext with a PAD byte and zeros up to plaintext_len bytes, to hide the size
 * of what it carries; the frame then takes no more records. plaintext_len equal to the
 * current length does nothing. Returns 0, -ENOSPC (beyond the buffer or the frame limit),
 * -EINVAL (shorter than what is written) or -EBUSY (a reservation is open).
 */
int batch_pad(struct batch *b, size_t plaintext_len);

static inline size_t batch_plaintext_len(const struct batch *b)
{
	return b->len;
}

/* What session_seal() takes: the start of the header room. */
static inline uint8_t *batch_frame(const struct batch *b)
{
	return b->frame;
}

/* The plaintext written so far (after the header room). */
static inline uint8_t *batch_plaintext(const struct batch *b)
{
	return b->frame + FRAME_HEADER_BYTES;
}

/* Bytes the frame takes once sealed: header, plaintext, tag. */
static inline size_t batch_frame_len(const struct batch *b)
{
	return FRAME_HEADER_BYTES + b->len + FRAME_TAG_BYTES;
}

/* ---- building a body of several frames ---- */

/* Frames back to back in one caller-owned buffer, ready to be an HTTP body. */
struct body_builder {
	uint8_t *buf;
	size_t cap;
	size_t len; /* bytes of finished frames */
};

void body_builder_init(struct body_builder *bb, uint8_t *buf, size_t cap);

/*
 * Start the next frame on the free part of the buffer. Returns 0 or -ENOSPC if not even
 * an empty frame fits. Then: add records to b, seal batch_frame(b) in place, and
 * body_frame_end(). A frame begun and not ended takes no room in the body.
 */
int body_frame_begin(struct body_builder *bb, struct batch *b);
/* Take the sealed frame into the body. Returns 0 or -EINVAL (b is not the next frame). */
int body_frame_end(struct body_builder *bb, const struct batch *b);

static inline size_t body_builder_len(const struct body_builder *bb)
{
	return bb->len;
}

#endif
