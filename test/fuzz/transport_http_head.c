/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The HTTP/1.1 fast path (core/http_head.c) against llhttp: the first input byte picks
 * request or response (bit 0) and, with bit 1, small limits from the next three bytes;
 * the rest is the head. Whatever the fast path takes must read as llhttp reads it
 * (test/fuzz/http_head_ref.h); a difference aborts.
 */
#include <stdio.h>
#include <stdlib.h>

#include "http_head_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct head_ref ref;
static struct head_fast_fields fields;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_head_limits lim = { .max_target_bytes = 2048,
					.max_header_bytes = 8192,
					.max_header_count = 64 };
	struct http_head h;
	const char *p, *diff;
	bool request, taken;

	if (size < 4)
		return 0;
	request = data[0] & 1;
	if (data[0] & 2) {
		lim.max_target_bytes = data[1];
		lim.max_header_bytes = data[2];
		lim.max_header_count = data[3] & 7;
	}
	p = (const char *)data + 4;
	size -= 4;
	fields.len = 0;
	fields.overflow = false;
	taken = request ? http_head_request(p, size, &lim, &h, head_fast_field_cb, &fields)
			: http_head_response(p, size, &lim, &h, head_fast_field_cb, &fields);
	if (!taken)
		return 0;
	diff = head_ref_check(request, p, size, &lim, &h, &fields, &ref);
	if (diff) {
		fprintf(stderr, "fast path and llhttp differ: %s\n", diff);
		abort();
	}
	return 0;
}
