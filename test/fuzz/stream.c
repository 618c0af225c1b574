/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * L7 stream reassembly (core/stream.h) driven by hostile offsets: the input is a list of
 * 6-byte operations (offset 2, length 2, op 1, amount 1): data with or without FIN, or
 * the application consuming bytes and the window being announced. The bytes of the
 * stream are a fixed pattern, so every delivered byte is checked, and so are the bounds:
 * data held (buffered plus unconsumed) never exceeds the window, the buffer stays sorted
 * and disjoint above the delivered offset, and the end is reported once, at the FIN.
 */
#include "core/limits.h"
#include "core/stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			abort();                                                                   \
	} while (0)

#define WINDOW 4096
#define SPACE (1 << 17)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t pattern[SPACE];

struct sink {
	uint64_t got;
};

static void deliver(void *ctx, const uint8_t *p, size_t len)
{
	struct sink *s = ctx;

	CHECK(len > 0);
	CHECK(s->got + len <= SPACE);
	CHECK(memcmp(p, pattern + s->got, len) == 0);
	s->got += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stream_rx rx;
	struct sink s = { 0 };
	unsigned fins = 0;

	if (!pattern[1])
		for (size_t i = 0; i < SPACE; i++)
			pattern[i] = (uint8_t)(i * 7 + 3);
	stream_rx_init(&rx, WINDOW);
	for (size_t i = 0; i + 6 <= size; i += 6) {
		uint64_t off = (uint64_t)data[i] << 8 | data[i + 1];
		size_t len = ((size_t)data[i + 2] << 8 | data[i + 3]) % 5000;
		uint8_t op = data[i + 4], amount = data[i + 5];
		bool fin_now = false;
		int err;

		if (op & 0x80) {
			uint64_t n = stream_rx_unconsumed(&rx) * amount / 255;

			if (stream_rx_consume(&rx, n) || (op & 1))
				stream_rx_announce(&rx);
			continue;
		}
		if (off + len > SPACE)
			continue;
		err = stream_rx_data(&rx, off, pattern + off, len, op & 1, i + 1, deliver, &s,
				     &fin_now);
		/* -ENOBUFS: too many pieces held; the caller resets the stream, so stop here. */
		CHECK(err == 0 || err == -EPROTO || err == -ENOBUFS);
		CHECK(rx.nsegs <= L7_MAX_SEGMENTS);
		if (err == -ENOBUFS)
			break;
		CHECK(err != 0 || off + len <= rx.window);
		CHECK(s.got == rx.next);
		/* Everything held lies in [consumed, window), and that is one window at most. */
		CHECK(rx.window - rx.consumed <= WINDOW);
		CHECK(rx.seg_bytes + stream_rx_unconsumed(&rx) <= rx.window - rx.consumed);
		/* Held pieces: one window of data at most, their bookkeeping bounded by the cap. */
		CHECK(rx.seg_bytes <= WINDOW);
		CHECK(rx.seg_bytes + rx.nsegs * STREAM_SEG_OVERHEAD <=
		      WINDOW + L7_MAX_SEGMENTS * STREAM_SEG_OVERHEAD);
		for (const struct stream_seg *g = rx.segs; g; g = g->next) {
			CHECK(g->len > 0 && g->offset > rx.next);
			CHECK(g->offset + g->len <= rx.window);
			CHECK(!g->next || g->offset + g->len <= g->next->offset);
		}
		if (fin_now) {
			fins++;
			CHECK(rx.has_fin && rx.next == rx.fin_offset);
		}
		CHECK(fins <= 1);
	}
	stream_rx_close(&rx);
	return 0;
}
