/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Drives the relay codec as both ends do: messages from a byte stream (whole, and again
 * in pieces whose size the first byte picks: both must give the same messages), each
 * payload parsed by its type and, when valid, written back out and compared.
 */
#include "core/relay.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static uint8_t out[RELAY_HEAD_MAX_BYTES];

static void check_payload(const struct relay_msg *m)
{
	struct writer w = writer_make(out, sizeof(out));
	struct relay_request rq;
	struct relay_response rs;
	uint16_t v;

	switch (m->type) {
	case RELAY_HELLO:
		if (relay_hello_parse(m->payload, &v) == 0 && v == RELAY_VERSION) {
			CHECK(relay_write_hello(&w) == 0);
			CHECK(w.len == RELAY_HEADER_BYTES + m->payload.len);
		}
		break;
	case RELAY_REQUEST:
		if (relay_request_parse(m->payload, &rq) == 0) {
			CHECK(relay_write_request_head(&w, m->id, rq.method, rq.target,
						       rq.body.len) == 0);
			CHECK(w.len + rq.body.len == RELAY_HEADER_BYTES + m->payload.len);
			CHECK(memcmp(out + RELAY_HEADER_BYTES, m->payload.p,
				     w.len - RELAY_HEADER_BYTES) == 0);
		}
		break;
	case RELAY_RESPONSE:
		if (relay_response_parse(m->payload, &rs) == 0) {
			CHECK(relay_write_response_head(&w, m->id, rs.status, rs.ctype,
							rs.body.len) == 0);
			CHECK(w.len + rs.body.len == RELAY_HEADER_BYTES + m->payload.len);
			CHECK(memcmp(out + RELAY_HEADER_BYTES, m->payload.p,
				     w.len - RELAY_HEADER_BYTES) == 0);
		}
		break;
	case RELAY_CANCEL:
		if (relay_cancel_parse(m->payload) == 0)
			CHECK(relay_write_cancel(&w, m->id) == 0);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor whole, part;
	size_t step, avail, need;
	struct relay_msg a, b;
	int ra, rb;

	if (size < 1)
		return 0;
	step = (size_t)data[0] + 1;
	data++;
	size--;
	whole = cursor_make(data, size);
	avail = step < size ? step : size;
	part = cursor_make(data, avail);
	for (;;) {
		ra = relay_msg_next(&whole, &a, NULL);
		if (ra == 1)
			check_payload(&a);
		/* Feed the piecewise reader until it agrees or runs out of input. */
		for (;;) {
			size_t consumed = (size_t)(part.p - data);

			rb = relay_msg_next(&part, &b, &need);
			if (rb != 0 || consumed + part.len >= size)
				break;
			avail = consumed + part.len + step;
			if (avail > size)
				avail = size;
			part = cursor_make(part.p, avail - consumed);
		}
		CHECK(ra == rb);
		if (ra != 1)
			break;
		CHECK(a.type == b.type && a.id == b.id && a.payload.p == b.payload.p &&
		      a.payload.len == b.payload.len);
	}
	return 0;
}
