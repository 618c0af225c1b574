/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * core/http_head.c: the heads httun's own client and server write are taken and read
 * right; every shape outside the fast path is declined (and so goes to llhttp), above
 * all those that decide where a message ends. test/unit/transport/http_head_llhttp.c
 * checks what is taken against llhttp.
 */
#include "core/http_head.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static const struct http_head_limits lim = {
	.max_target_bytes = 2048,
	.max_header_bytes = 8192,
	.max_header_count = 64,
};

struct fields {
	unsigned n;
	char text[1024];
	size_t len;
};

/* "name=value;" per field. */
static void field_cb(void *arg, const char *name, size_t name_len, const char *value,
		     size_t value_len)
{
	struct fields *f = arg;
	int k = snprintf(f->text + f->len, sizeof(f->text) - f->len, "%.*s=%.*s;", (int)name_len,
			 name, (int)value_len, value);

	assert_true(k > 0 && (size_t)k < sizeof(f->text) - f->len);
	f->len += (size_t)k;
	f->n++;
}

static bool req(const char *s, struct http_head *h, struct fields *f)
{
	memset(f, 0, sizeof(*f));
	return http_head_request(s, strlen(s), &lim, h, field_cb, f);
}

static bool resp(const char *s, struct http_head *h)
{
	struct fields f = { 0 };

	return http_head_response(s, strlen(s), &lim, h, field_cb, &f);
}

/* What tunnel_client sends (transport/http_client.c cconn_send), with body bytes after. */
static void test_client_post(void **state)
{
	const char *s =
		"POST /httun/AbC-_9?x=1 HTTP/1.1\r\nHost: 198.18.0.1:8080\r\n"
		"Content-Type: application/octet-stream\r\nContent-Length: 1234\r\n\r\nBODY";
	struct http_head h;
	struct fields f;

	(void)state;
	assert_true(req(s, &h, &f));
	assert_int_equal(h.len, strlen(s) - 4);
	assert_int_equal(h.method, HTTP_METHOD_POST);
	assert_int_equal(h.target_len, strlen("/httun/AbC-_9?x=1"));
	assert_memory_equal(h.target, "/httun/AbC-_9?x=1", h.target_len);
	assert_int_equal(h.minor, 1);
	assert_true(h.keep_alive);
	assert_true(h.has_length);
	assert_int_equal(h.length, 1234);
	assert_int_equal(h.header_count, 3);
	assert_int_equal(f.n, 3);
	assert_string_equal(f.text, "Host=198.18.0.1:8080;Content-Type=application/octet-stream;"
				    "Content-Length=1234;");
	assert_int_equal(h.header_bytes, strlen("Host198.18.0.1:8080Content-Typeapplication/"
						"octet-streamContent-Length1234"));
}

static void test_get_and_head(void **state)
{
	struct http_head h;
	struct fields f;

	(void)state;
	assert_true(req("GET / HTTP/1.1\r\n\r\n", &h, &f));
	assert_int_equal(h.method, HTTP_METHOD_GET);
	assert_false(h.has_length);
	assert_int_equal(h.header_count, 0);
	assert_true(req("HEAD /a HTTP/1.1\r\nX:\r\n\r\n", &h, &f));
	assert_int_equal(h.method, HTTP_METHOD_HEAD);
	assert_string_equal(f.text, "X=;");
	/* Inner spaces stay, the whitespace around the value goes. */
	assert_true(req("GET / HTTP/1.1\r\nUser-Agent:\t curl/7.88 (x)\r\n\r\n", &h, &f));
	assert_string_equal(f.text, "User-Agent=curl/7.88 (x);");
}

/* Keep-alive as llhttp_should_keep_alive() has it, names in any case. */
static void test_keep_alive(void **state)
{
	struct http_head h;
	struct fields f;

	(void)state;
	assert_true(req("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &h, &f));
	assert_false(h.keep_alive);
	assert_true(req("GET / HTTP/1.1\r\nCONNECTION: Keep-Alive\r\n\r\n", &h, &f));
	assert_true(h.keep_alive);
	assert_true(req("GET / HTTP/1.0\r\n\r\n", &h, &f));
	assert_int_equal(h.minor, 0);
	assert_false(h.keep_alive);
	assert_true(req("GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n", &h, &f));
	assert_true(h.keep_alive);
	assert_true(req("GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", &h,
			&f));
	assert_false(h.keep_alive);
}

/* What tunnel_server answers (transport/http_server.c conn_send). */
static void test_server_response(void **state)
{
	const char *s = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
			"Content-Length: 42\r\nCache-Control: no-store\r\n\r\n";
	struct http_head h;

	(void)state;
	assert_true(resp(s, &h));
	assert_int_equal(h.len, strlen(s));
	assert_int_equal(h.status, 200);
	assert_int_equal(h.length, 42);
	assert_true(h.keep_alive);
	assert_int_equal(h.header_count, 3);
	assert_true(resp("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", &h));
	assert_int_equal(h.status, 404);
	assert_int_equal(h.length, 0);
	assert_true(resp("HTTP/1.0 503 \r\nContent-Length: 5\r\n\r\n", &h));
	assert_false(h.keep_alive);
}

/* Every prefix of a head is declined: the rest may still change its reading. */
static void test_incomplete(void **state)
{
	const char *r = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n";
	const char *a = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
	struct http_head h;
	struct fields f;

	(void)state;
	for (size_t n = 0; n < strlen(r); n++)
		assert_false(http_head_request(r, n, &lim, &h, field_cb, memset(&f, 0, sizeof(f))));
	for (size_t n = 0; n < strlen(a); n++)
		assert_false(http_head_response(a, n, &lim, &h, NULL, NULL));
}

/* Each of these goes to llhttp, which reads it, refuses it or answers it with an error. */
static void test_declined_requests(void **state)
{
	static const char *const heads[] = {
		/* where a body ends: only one plain Content-Length */
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 1,1\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length : 1\r\n\r\n",
		"POST / HTTP/1.1\r\nContent Length: 1\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 1 \r\n\r\n",
		/* line shapes */
		"GET / HTTP/1.1\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\n\n",
		"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",
		"GET / HTTP/1.1\r\n Host: h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\x7f\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\rx\r\n\r\n",
		"GET / HTTP/1.1\r\n: h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost h\r\n\r\n",
		"GET / HTTP/1.1\r\r\n\r\n",
		/* connection management */
		"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"GET / HTTP/1.1\r\nConnection: Upgrade\r\n\r\n",
		"GET / HTTP/1.1\r\nConnection: close, TE\r\n\r\n",
		"GET / HTTP/1.1\r\nProxy-Connection: keep-alive\r\n\r\n",
		/* request line */
		"OPTIONS / HTTP/1.1\r\n\r\n",
		"get / HTTP/1.1\r\n\r\n",
		"GET  / HTTP/1.1\r\n\r\n",
		"GET http://h/ HTTP/1.1\r\n\r\n",
		"GET * HTTP/1.1\r\n\r\n",
		"GET /a#b HTTP/1.1\r\n\r\n",
		"GET /a\"b HTTP/1.1\r\n\r\n",
		"GET /a b HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.2\r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n",
		"GET / http/1.1\r\n\r\n",
		"GET / HTTP/1.1 \r\n\r\n",
		"GET /\r\n\r\n",
	};
	static const char nul[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
	struct http_head h;
	struct fields f;

	(void)state;
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++)
		if (req(heads[i], &h, &f))
			fail_msg("taken: %s", heads[i]);
	assert_false(http_head_request(nul, sizeof(nul) - 1, &lim, &h, NULL, NULL));
}

static void test_declined_responses(void **state)
{
	static const char *const heads[] = {
		"HTTP/1.1 200 OK\r\n\r\n", /* no length: the body ends with the connection */
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 100 Continue\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
		"HTTP/1.1 199 X\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 600 X\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 O\tK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
		"HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	};
	struct http_head h;

	(void)state;
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++)
		if (resp(heads[i], &h))
			fail_msg("taken: %s", heads[i]);
}

/* At a limit is taken, one over is declined (llhttp's callbacks refuse it). */
static void test_limits(void **state)
{
	const struct http_head_limits small = { .max_target_bytes = 4,
						.max_header_bytes = 6,
						.max_header_count = 2 };
	struct http_head h;

	(void)state;
	assert_true(http_head_request("GET /abc HTTP/1.1\r\n\r\n", 21, &small, &h, NULL, NULL));
	assert_false(http_head_request("GET /abcd HTTP/1.1\r\n\r\n", 22, &small, &h, NULL, NULL));
	assert_true(http_head_request("GET / HTTP/1.1\r\nA: 1\r\nBc: de\r\n\r\n", 32, &small, &h,
				      NULL, NULL));
	assert_int_equal(h.header_bytes, 6);
	assert_false(http_head_request("GET / HTTP/1.1\r\nA: 1\r\nBc: def\r\n\r\n", 33, &small, &h,
				       NULL, NULL));
	assert_false(http_head_request("GET / HTTP/1.1\r\nA:\r\nB:\r\nC:\r\n\r\n", 30, &small, &h,
				       NULL, NULL));
}

/* The byte classes, one byte at a time, against the RFCs' lists. */
static void test_byte_classes(void **state)
{
	const char *tchar = "!#$%&'*+-.^_`|~";
	const char *url = "-._~!$&'()*+,;=:@/?%";
	struct http_head h;

	(void)state;
	for (unsigned b = 0; b < 256; b++) {
		char s[64];
		bool alnum =
			(b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
		bool want_name = alnum || (b && strchr(tchar, (int)b));
		bool want_url = alnum || (b && strchr(url, (int)b));
		bool want_value = b >= 0x21 && b <= 0x7e;
		int n;

		n = snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nA%cB: v\r\n\r\n", 'x');
		s[17] = (char)b;
		/* "A:B: v" is the field A with the value "B: v". */
		if (http_head_request(s, (size_t)n, &lim, &h, NULL, NULL) !=
		    (want_name || b == ':'))
			fail_msg("name byte 0x%02x", b);
		n = snprintf(s, sizeof(s), "GET /a%cb HTTP/1.1\r\n\r\n", 'x');
		s[6] = (char)b;
		if (http_head_request(s, (size_t)n, &lim, &h, NULL, NULL) != want_url)
			fail_msg("target byte 0x%02x", b);
		n = snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nA: a%cb\r\n\r\n", 'x');
		s[20] = (char)b;
		if (http_head_request(s, (size_t)n, &lim, &h, NULL, NULL) !=
		    (want_value || b == ' ' || b == '\t'))
			fail_msg("value byte 0x%02x", b);
	}
}

/* Copied when elsewhere, only counted when read in place, never past the length. */
static void test_body_take(void **state)
{
	uint8_t body[8] = { 0 };
	size_t have = 0;

	(void)state;
	assert_int_equal(http_body_take(body, &have, 6, "abc", 3), 3);
	assert_int_equal(have, 3);
	assert_memory_equal(body, "abc", 3);
	memcpy(body + 3, "de", 2); /* as a read straight into the buffer leaves it */
	assert_int_equal(http_body_take(body, &have, 6, (const char *)body + 3, 2), 2);
	assert_int_equal(have, 5);
	assert_int_equal(http_body_take(body, &have, 6, "fGET /", 6), 1);
	assert_int_equal(have, 6);
	assert_memory_equal(body, "abcdef", 6);
	assert_int_equal(body[6], 0);
	assert_int_equal(http_body_take(body, &have, 6, "x", 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_post),	   cmocka_unit_test(test_get_and_head),
		cmocka_unit_test(test_keep_alive),	   cmocka_unit_test(test_server_response),
		cmocka_unit_test(test_incomplete),	   cmocka_unit_test(test_declined_requests),
		cmocka_unit_test(test_declined_responses), cmocka_unit_test(test_limits),
		cmocka_unit_test(test_byte_classes),	   cmocka_unit_test(test_body_take),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
