/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The HTTP/1.1 fast path: one message head (request or status line and header fields)
 * that already lies whole in a buffer, in the plain shape httun's own client and server
 * write. It takes a strict subset of what llhttp (strict) takes and gives the same
 * reading of it; anything else, and a head not yet complete, is declined and goes to
 * llhttp untouched (docs/TRANSPORT.md, "Parsing"). test/unit/transport/http_head_llhttp.c
 * and the fuzzer test/fuzz/transport_http_head.c hold it to llhttp's reading.
 */
#ifndef HTTUN_CORE_HTTP_HEAD_H
#define HTTUN_CORE_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum http_method {
	HTTP_METHOD_OTHER = 0,
	HTTP_METHOD_GET,
	HTTP_METHOD_POST,
	HTTP_METHOD_HEAD,
};

/* What a head may hold; over any of them it is declined (llhttp's callbacks refuse it). */
struct http_head_limits {
	size_t max_target_bytes; /* requests */
	size_t max_header_bytes; /* field names plus values */
	unsigned max_header_count;
};

struct http_head {
	size_t len; /* bytes from the start through the blank line */
	enum http_method method; /* requests: GET, POST or HEAD */
	const char *target; /* requests: origin-form, in the buffer */
	size_t target_len;
	unsigned status; /* responses: 200-599 but 204 and 304 */
	unsigned minor; /* HTTP/1.minor, 0 or 1 */
	bool keep_alive; /* what llhttp_should_keep_alive() says */
	bool has_length;
	uint64_t length; /* Content-Length; responses always have one */
	unsigned header_count;
	size_t header_bytes;
};

/* Called for each field in order; value without the whitespace around it. */
typedef void (*http_head_field_cb)(void *arg, const char *name, size_t name_len, const char *value,
				   size_t value_len);

/*
 * Scan the request head at the start of [p, p+n). Returns true with *h filled in (and
 * field_cb, if not NULL, called per field); false when the head is not complete in the
 * buffer or is anything but the plain shape: then hand the same bytes to llhttp. After a
 * false return, field_cb may have been called for some fields.
 */
bool http_head_request(const char *p, size_t n, const struct http_head_limits *lim,
		       struct http_head *h, http_head_field_cb field_cb, void *arg);

/* The same for a response head; one without Content-Length is declined. */
bool http_head_response(const char *p, size_t n, const struct http_head_limits *lim,
			struct http_head *h, http_head_field_cb field_cb, void *arg);

/*
 * Body bytes after a head taken here (Content-Length only): moves up to want - *have of
 * [data, data+len) to body + *have, or only counts them when they were read there in
 * place; returns how many it took.
 */
size_t http_body_take(uint8_t *body, size_t *have, size_t want, const char *data, size_t len);

#endif
