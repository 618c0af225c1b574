/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * libFuzzer harness: an HTTP body of DATA/POLL frames received by one fixed session (the
 * receive key of the golden vector in docs/PROTOCOL.md section 4). Every frame the header
 * parser accepts is opened in place; decoding stops at the first frame it refuses, as the
 * receiver does. Seeds in test/fuzz/corpus/frame_open/ hold frames that really open, so the
 * replay window and the plaintext path are reached, not only the refusals.
 */
#include "core/frame.h"
#include "core/session.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_NOW_MS 1000000ULL
#define FUZZ_INDEX 0x01020304U

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session_keys keys;
	struct session *s;
	uint8_t *body;
	size_t off = 0;

	if (session_crypto_init() != 0)
		abort();
	for (int i = 0; i < 32; i++) {
		keys.send[i] = (uint8_t)(0x40 + i);
		keys.recv[i] = (uint8_t)i;
	}
	keys.local_index = FUZZ_INDEX;
	keys.remote_index = 0x0a0a0a0aU;
	/* A fresh session per input keeps runs reproducible: no window state carries over. */
	s = session_new(&keys, FUZZ_NOW_MS);
	if (!s)
		abort();
	/* Exactly size bytes (not the caller's buffer: opening writes in place), so ASan
	 * catches any access past the body. */
	body = malloc(size ? size : 1);
	if (!body)
		abort();
	if (size)
		memcpy(body, data, size);

	while (off < size) {
		struct frame_header h;
		struct span pt;
		uint8_t *f = body + off;
		size_t total;
		int rc;

		if (frame_header_parse(f, size - off, &h) != 0)
			break;
		total = FRAME_HEADER_BYTES + (size_t)h.length + FRAME_TAG_BYTES;
		if (total > size - off)
			abort(); /* the parser promised the whole frame is there */
		rc = session_open(s, &h, f, &pt, FUZZ_NOW_MS);
		if (rc == 0) {
			if (pt.p != f + FRAME_HEADER_BYTES || pt.len != h.length)
				abort();
			/* Opened once: the same counter must never open again. */
			if (session_open(s, &h, f, &pt, FUZZ_NOW_MS) != -EALREADY)
				abort();
		} else if (rc != -EBADMSG && rc != -EALREADY) {
			abort();
		}
		off += total;
	}

	free(body);
	session_free(s);
	return 0;
}
