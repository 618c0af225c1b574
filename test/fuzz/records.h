/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Shared by the fuzz harnesses (included, not a harness itself): decode every record of
 * a plaintext, and check that each record that decodes re-encodes through the builder
 * to exactly the bytes it came from.
 */
#ifndef HTTUN_TEST_FUZZ_RECORDS_H
#define HTTUN_TEST_FUZZ_RECORDS_H

#include "core/batch.h"
#include "core/l7.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(x)                                                                              \
	do {                                                                                       \
		if (!(x))                                                                          \
			abort();                                                                   \
	} while (0)

static uint8_t fuzz_frame[FRAME_OVERHEAD_BYTES + RECORD_HEADER_BYTES + RECORD_MAX_BODY_BYTES];

/* Re-encode one record; returns the builder's result. */
static int fuzz_reencode(const struct record *r, struct batch *b)
{
	struct l7_open o;
	struct l7_data d;
	struct l7_window w;
	struct l7_reset rs;

	switch (r->type) {
	case REC_IP:
		return batch_add_ip(b, r->body.p, r->body.len);
	case REC_IP_GSO:
		FUZZ_CHECK(r->body.len > RECORD_GSO_HDR_BYTES);
		return batch_add(b, REC_IP_GSO, r->body.p, r->body.len);
	case REC_L7_OPEN:
		if (l7_open_decode(r->body, &o))
			return -EPROTO;
		FUZZ_CHECK(strlen(o.host) == o.host_len);
		return l7_add_open(b, o.stream, o.port, o.host, o.host_len);
	case REC_L7_DATA:
		if (l7_data_decode(r->body, &d))
			return -EPROTO;
		FUZZ_CHECK(d.data.p + d.data.len == r->body.p + r->body.len);
		return l7_add_data(b, d.stream, d.flags, d.offset, d.data.p, d.data.len);
	case REC_L7_WINDOW:
		if (l7_window_decode(r->body, &w))
			return -EPROTO;
		return l7_add_window(b, w.stream, w.max_offset);
	case REC_L7_RESET:
		if (l7_reset_decode(r->body, &rs))
			return -EPROTO;
		FUZZ_CHECK(strcmp(l7_reset_reason_name(rs.reason), "unknown") != 0);
		return l7_add_reset(b, rs.stream, rs.reason);
	default:
		FUZZ_CHECK(0); /* record_next hands out known types only */
		return -EPROTO;
	}
}

/* Decode a plaintext record by record; returns how many records decoded. */
static size_t fuzz_plaintext(const uint8_t *p, size_t len)
{
	struct cursor c = cursor_make(p, len);
	struct record r;
	size_t n = 0;
	int rc;

	while ((rc = record_next(&c, &r)) == 1) {
		struct batch b;

		FUZZ_CHECK(r.body.p >= p + RECORD_HEADER_BYTES);
		FUZZ_CHECK(r.body.p + r.body.len <= p + len);
		FUZZ_CHECK(c.p == r.body.p + r.body.len);
		FUZZ_CHECK(batch_init(&b, fuzz_frame, sizeof(fuzz_frame)) == 0);
		if (fuzz_reencode(&r, &b) == 0) {
			FUZZ_CHECK(batch_plaintext_len(&b) == RECORD_HEADER_BYTES + r.body.len);
			FUZZ_CHECK(memcmp(batch_plaintext(&b), r.body.p - RECORD_HEADER_BYTES,
					  batch_plaintext_len(&b)) == 0);
		}
		n++;
	}
	FUZZ_CHECK(rc == 0 || rc == -EPROTO);
	if (rc == 0)
		FUZZ_CHECK(c.len == 0);
	return n;
}

#endif
