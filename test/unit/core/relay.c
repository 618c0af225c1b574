/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/relay.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define S(str) ((struct span){ (const uint8_t *)(str), sizeof(str) - 1 })

/* REQUEST id 0x01020304, "POST /httun/abc", body "xy": docs/PROTOCOL.md section 9. */
static const uint8_t golden_request[] = {
	0x02, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x13, /* header */
	0x04, 'P',  'O',  'S',	'T',  0x00, 0x0a, '/',	'h',  't',  't',  'u',
	'n',  '/',  'a',  'b',	'c',  'x',  'y',
};

/* RESPONSE id 7, 200, "text/plain", body "ok". */
static const uint8_t golden_response[] = {
	0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x0f, 0x00, 0xc8,
	0x0a, 't',  'e',  'x',	't',  '/',  'p',  'l',	'a',  'i',  'n',  'o',	'k',
};

static void test_request_golden(void **state)
{
	uint8_t buf[RELAY_HEAD_MAX_BYTES + 2];
	struct writer w = writer_make(buf, sizeof(buf));
	struct cursor c;
	struct relay_msg m;
	struct relay_request r;
	size_t need;

	(void)state;
	assert_int_equal(relay_write_request_head(&w, 0x01020304, S("POST"), S("/httun/abc"), 2),
			 0);
	assert_true(wr_bytes(&w, "xy", 2));
	assert_int_equal(w.len, sizeof(golden_request));
	assert_memory_equal(buf, golden_request, sizeof(golden_request));

	c = cursor_make(golden_request, sizeof(golden_request));
	assert_int_equal(relay_msg_next(&c, &m, &need), 1);
	assert_int_equal(need, sizeof(golden_request));
	assert_int_equal(c.len, 0);
	assert_int_equal(m.type, RELAY_REQUEST);
	assert_int_equal(m.id, 0x01020304);
	assert_int_equal(relay_request_parse(m.payload, &r), 0);
	assert_int_equal(r.method.len, 4);
	assert_memory_equal(r.method.p, "POST", 4);
	assert_int_equal(r.target.len, 10);
	assert_memory_equal(r.target.p, "/httun/abc", 10);
	assert_int_equal(r.body.len, 2);
	assert_memory_equal(r.body.p, "xy", 2);
}

static void test_response_golden(void **state)
{
	uint8_t buf[64];
	struct writer w = writer_make(buf, sizeof(buf));
	struct cursor c = cursor_make(golden_response, sizeof(golden_response));
	struct relay_msg m;
	struct relay_response r;

	(void)state;
	assert_int_equal(relay_write_response_head(&w, 7, 200, S("text/plain"), 2), 0);
	assert_true(wr_bytes(&w, "ok", 2));
	assert_int_equal(w.len, sizeof(golden_response));
	assert_memory_equal(buf, golden_response, sizeof(golden_response));
	assert_int_equal(relay_msg_next(&c, &m, NULL), 1);
	assert_int_equal(m.type, RELAY_RESPONSE);
	assert_int_equal(m.id, 7);
	assert_int_equal(relay_response_parse(m.payload, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.ctype.len, 10);
	assert_int_equal(r.body.len, 2);
}

static void test_hello_cancel(void **state)
{
	static const uint8_t hello[] = { 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0 };
	static const uint8_t cancel[] = { 4, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0 };
	uint8_t buf[32];
	struct writer w = writer_make(buf, sizeof(buf));
	struct cursor c;
	struct relay_msg m;
	uint16_t v;

	(void)state;
	assert_int_equal(relay_write_hello(&w), 0);
	assert_int_equal(relay_write_cancel(&w, 9), 0);
	assert_int_equal(w.len, sizeof(hello) + sizeof(cancel));
	assert_memory_equal(buf, hello, sizeof(hello));
	assert_memory_equal(buf + sizeof(hello), cancel, sizeof(cancel));
	c = cursor_make(buf, w.len);
	assert_int_equal(relay_msg_next(&c, &m, NULL), 1);
	assert_int_equal(relay_hello_parse(m.payload, &v), 0);
	assert_int_equal(v, RELAY_VERSION);
	assert_int_equal(relay_msg_next(&c, &m, NULL), 1);
	assert_int_equal(m.type, RELAY_CANCEL);
	assert_int_equal(m.id, 9);
	assert_int_equal(relay_cancel_parse(m.payload), 0);
	assert_int_equal(relay_msg_next(&c, &m, NULL), 0);
	assert_int_equal(relay_write_cancel(&w, 0), -EINVAL);
	w = writer_make(buf, 3);
	assert_int_equal(relay_write_hello(&w), -ENOBUFS);
	assert_int_equal(w.len, 0);
}

/* Every cut of a message waits for more; nothing is consumed; need is exact once known. */
static void test_every_truncation(void **state)
{
	(void)state;
	for (size_t n = 0; n < sizeof(golden_request); n++) {
		struct cursor c = cursor_make(golden_request, n);
		struct relay_msg m;
		size_t need;

		assert_int_equal(relay_msg_next(&c, &m, &need), 0);
		assert_int_equal(c.len, n);
		assert_int_equal(need, n < RELAY_HEADER_BYTES ? RELAY_HEADER_BYTES
							      : sizeof(golden_request));
	}
}

static void test_hostile_headers(void **state)
{
	uint8_t b[RELAY_HEADER_BYTES];
	struct cursor c;
	struct relay_msg m;
	size_t need;

	(void)state;
	/* Reserved bytes set. */
	for (int i = 1; i < 4; i++) {
		memcpy(b, golden_request, sizeof(b));
		b[i] = 1;
		c = cursor_make(b, sizeof(b));
		assert_int_equal(relay_msg_next(&c, &m, NULL), -EPROTO);
		assert_int_equal(c.len, sizeof(b));
	}
	/* Length over the limit, by one, and the largest u32. */
	memcpy(b, golden_request, sizeof(b));
	store_be32(b + 8, RELAY_MAX_PAYLOAD_BYTES + 1);
	c = cursor_make(b, sizeof(b));
	assert_int_equal(relay_msg_next(&c, &m, NULL), -EMSGSIZE);
	store_be32(b + 8, UINT32_MAX);
	assert_int_equal(relay_msg_next(&c, &m, NULL), -EMSGSIZE);
	store_be32(b + 8, RELAY_MAX_PAYLOAD_BYTES);
	assert_int_equal(relay_msg_next(&c, &m, &need), 0);
	assert_int_equal(need, RELAY_HEADER_BYTES + RELAY_MAX_PAYLOAD_BYTES);
	/* id 0 on a request, id non-zero on a hello. */
	memcpy(b, golden_request, sizeof(b));
	store_be32(b + 4, 0);
	assert_int_equal(relay_msg_next(&c, &m, NULL), -EPROTO);
	b[0] = RELAY_HELLO;
	store_be32(b + 4, 5);
	assert_int_equal(relay_msg_next(&c, &m, NULL), -EPROTO);
	/* Unknown type: framed and returned, the caller decides. */
	b[0] = 0x77;
	store_be32(b + 8, 0);
	assert_int_equal(relay_msg_next(&c, &m, NULL), 1);
	assert_int_equal(m.type, 0x77);
}

static void test_hostile_payloads(void **state)
{
	struct relay_request rq;
	struct relay_response rs;
	uint16_t v;
	static const uint8_t long_method[] = { 17,  'A', 'A', 'A', 'A', 'A', 'A',
					       'A', 'A', 'A', 'A', 'A', 'A', 'A',
					       'A', 'A', 'A', 'A', 0,	1,   '/' };
	static const uint8_t no_slash[] = { 3, 'G', 'E', 'T', 0, 1, 'x' };
	static const uint8_t crlf_target[] = { 3, 'G', 'E', 'T', 0, 3, '/', '\r', '\n' };
	static const uint8_t space_method[] = { 3, 'G', ' ', 'T', 0, 1, '/' };
	static const uint8_t empty_method[] = { 0, 0, 1, '/' };
	static const uint8_t long_target[] = { 3, 'G', 'E', 'T', 0xff, 0xff, '/' };
	static const uint8_t ok_request[] = { 3, 'G', 'E', 'T', 0, 1, '/' };
	static const uint8_t bad_status[] = { 0x02, 0x58, 0 }; /* 600 */
	static const uint8_t low_status[] = { 0x00, 99, 0 };
	static const uint8_t crlf_ctype[] = { 0, 200, 2, '\r', '\n' };
	static const uint8_t cut_ctype[] = { 0, 200, 5, 'a' };
	static const uint8_t ok_response[] = { 0, 200, 0 };

	(void)state;
	assert_int_equal(relay_request_parse((struct span){ ok_request, sizeof(ok_request) }, &rq),
			 0);
	assert_int_equal(rq.body.len, 0);
	/* Every truncation of a valid request payload is refused. */
	for (size_t n = 0; n < sizeof(ok_request); n++)
		assert_int_equal(relay_request_parse((struct span){ ok_request, n }, &rq), -EPROTO);
	assert_int_equal(
		relay_request_parse((struct span){ long_method, sizeof(long_method) }, &rq),
		-EPROTO);
	assert_int_equal(relay_request_parse((struct span){ no_slash, sizeof(no_slash) }, &rq),
			 -EPROTO);
	assert_int_equal(
		relay_request_parse((struct span){ crlf_target, sizeof(crlf_target) }, &rq),
		-EPROTO);
	assert_int_equal(
		relay_request_parse((struct span){ space_method, sizeof(space_method) }, &rq),
		-EPROTO);
	assert_int_equal(
		relay_request_parse((struct span){ empty_method, sizeof(empty_method) }, &rq),
		-EPROTO);
	assert_int_equal(
		relay_request_parse((struct span){ long_target, sizeof(long_target) }, &rq),
		-EPROTO);

	assert_int_equal(
		relay_response_parse((struct span){ ok_response, sizeof(ok_response) }, &rs), 0);
	for (size_t n = 0; n < sizeof(ok_response); n++)
		assert_int_equal(relay_response_parse((struct span){ ok_response, n }, &rs),
				 -EPROTO);
	assert_int_equal(relay_response_parse((struct span){ bad_status, sizeof(bad_status) }, &rs),
			 -EPROTO);
	assert_int_equal(relay_response_parse((struct span){ low_status, sizeof(low_status) }, &rs),
			 -EPROTO);
	assert_int_equal(relay_response_parse((struct span){ crlf_ctype, sizeof(crlf_ctype) }, &rs),
			 -EPROTO);
	assert_int_equal(relay_response_parse((struct span){ cut_ctype, sizeof(cut_ctype) }, &rs),
			 -EPROTO);

	assert_int_equal(relay_hello_parse((struct span){ ok_response, 3 }, &v), -EPROTO);
	assert_int_equal(relay_hello_parse((struct span){ (const uint8_t *)"\0\1\0\1", 4 }, &v),
			 -EPROTO);
	assert_int_equal(relay_cancel_parse((struct span){ ok_response, 1 }), -EPROTO);
}

static void test_body_limits(void **state)
{
	size_t len = 3 + 1 + RELAY_MAX_BODY_BYTES;
	uint8_t *p = calloc(1, len);
	uint8_t buf[RELAY_HEAD_MAX_BYTES];
	struct writer w = writer_make(buf, sizeof(buf));
	struct relay_response rs;
	struct relay_request rq;

	(void)state;
	assert_non_null(p);
	p[1] = 200;
	assert_int_equal(relay_response_parse((struct span){ p, len - 1 }, &rs), 0);
	assert_int_equal(rs.body.len, RELAY_MAX_BODY_BYTES);
	assert_int_equal(relay_response_parse((struct span){ p, len }, &rs), -EMSGSIZE);
	memcpy(p, "\3GET\0\1/", 7);
	assert_int_equal(relay_request_parse((struct span){ p, 7 + RELAY_MAX_BODY_BYTES }, &rq), 0);
	assert_int_equal(relay_request_parse((struct span){ p, 7 + RELAY_MAX_BODY_BYTES + 1 }, &rq),
			 -EMSGSIZE);
	free(p);
	assert_int_equal(
		relay_write_request_head(&w, 1, S("GET"), S("/"), RELAY_MAX_BODY_BYTES + 1),
		-EMSGSIZE);
	assert_int_equal(relay_write_request_head(&w, 1, S("GET"), S("x"), 0), -EINVAL);
	assert_int_equal(relay_write_response_head(&w, 1, 99, S(""), 0), -EINVAL);
	assert_int_equal(w.len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_golden),	cmocka_unit_test(test_response_golden),
		cmocka_unit_test(test_hello_cancel),	cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_hostile_headers), cmocka_unit_test(test_hostile_payloads),
		cmocka_unit_test(test_body_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
