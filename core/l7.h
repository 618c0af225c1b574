/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The L7 records (docs/PROTOCOL.md section 5, "L7 streams"): strict decoders over the
 * record body that record_next() hands out, and encoders that append through the batch
 * builder. Stream state (windows, reassembly) is not here; this is the wire format only.
 */
#ifndef HTTUN_CORE_L7_H
#define HTTUN_CORE_L7_H

#include "core/batch.h"
#include "core/cursor.h"
#include "core/limits.h"

#include <stdint.h>

/* Body sizes: fixed fields, then (OPEN, DATA) the variable part. */
#define L7_OPEN_FIXED_BYTES 6 /* stream, port; host follows */
#define L7_DATA_FIXED_BYTES 13 /* stream, flags, offset; data follows */
#define L7_WINDOW_BYTES 12 /* stream, max offset */
#define L7_RESET_BYTES 5 /* stream, reason */

#define L7_DATA_FIN 0x01
#define L7_DATA_FLAGS_KNOWN L7_DATA_FIN

enum l7_reset_reason {
	L7_RESET_DENIED = 1, /* denied by policy */
	L7_RESET_REFUSED = 2, /* connection refused */
	L7_RESET_TIMEOUT = 3, /* timed out */
	L7_RESET_UNREACHABLE = 4, /* host or network unreachable */
	L7_RESET_NO_NAME = 5, /* name did not resolve */
	L7_RESET_CLOSED = 6, /* closed by the peer's application */
	L7_RESET_PROTOCOL = 7, /* protocol error */
	L7_RESET_RESOURCES = 8, /* out of resources */
};
#define L7_RESET_MAX L7_RESET_RESOURCES

struct l7_open {
	uint32_t stream;
	uint16_t port;
	uint8_t host_len;
	char host[L7_HOST_MAX_BYTES + 1]; /* NUL-terminated copy */
};

struct l7_data {
	uint32_t stream;
	uint8_t flags;
	uint64_t offset;
	struct span data; /* borrowed from the record body */
};

struct l7_window {
	uint32_t stream;
	uint64_t max_offset;
};

struct l7_reset {
	uint32_t stream;
	uint8_t reason; /* enum l7_reset_reason */
};

/*
 * Decoders: body is a record body from record_next() of the matching type. They return
 * 0 or -EPROTO: wrong size, stream 0, and for OPEN a host that is empty or holds a byte
 * outside 0x21..0x7e, port 0; for DATA unknown flag bits, empty data without FIN, or
 * offset + data length beyond 2^64 - 1; for RESET a reason outside enum l7_reset_reason.
 */
int l7_open_decode(struct span body, struct l7_open *o);
int l7_data_decode(struct span body, struct l7_data *d);
int l7_window_decode(struct span body, struct l7_window *w);
int l7_reset_decode(struct span body, struct l7_reset *r);

/*
 * Encoders: append one record to b. They return 0, -EINVAL for a value the decoder
 * would reject, or what batch_add returns (-ENOSPC: nothing written).
 */
int l7_add_open(struct batch *b, uint32_t stream, uint16_t port, const char *host, size_t host_len);
int l7_add_data(struct batch *b, uint32_t stream, uint8_t flags, uint64_t offset,
		const uint8_t *data, size_t len);
int l7_add_window(struct batch *b, uint32_t stream, uint64_t max_offset);
int l7_add_reset(struct batch *b, uint32_t stream, uint8_t reason);

/* Data bytes one more L7_DATA record may still carry in b (0: none). */
size_t l7_data_room(const struct batch *b);

/*
 * Zero-copy L7_DATA: reserve a record for up to max_len data bytes and return where the
 * data goes (a socket read lands there), then l7_data_commit() with the bytes read and
 * the flags (L7_DATA_FIN at end of stream), or batch_cancel(). Returns NULL for stream
 * 0, offset + max_len beyond 2^64 - 1, or when batch_reserve fails.
 */
uint8_t *l7_data_reserve(struct batch *b, uint32_t stream, uint64_t offset, size_t max_len);
/* Returns 0 or -EINVAL (record dropped: unknown flags, empty without FIN, len too big). */
int l7_data_commit(struct batch *b, uint8_t flags, size_t len);

/* Short name of a reset reason for log lines; "unknown" for anything else. */
const char *l7_reset_reason_name(uint8_t reason);

#endif
