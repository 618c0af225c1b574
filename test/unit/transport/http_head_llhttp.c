/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * core/http_head.c against llhttp (test/fuzz/http_head_ref.h): every head the fast path
 * takes, llhttp reads the same way. Seeds are the heads httun's client and server write
 * and their near misses; then a fixed-seed run of random edits (bytes flipped, put in,
 * taken out, lines doubled, case changed, limits shrunk) over them, so the test is the
 * same on every run and still covers what a fuzzer would try first. The fuzzer
 * test/fuzz/transport_http_head.c does the same without a bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../fuzz/http_head_ref.h"

#define EDIT_ROUNDS 200000
#define MAX_INPUT 512

static const struct http_head_limits lim = {
	.max_target_bytes = 2048,
	.max_header_bytes = 8192,
	.max_header_count = 64,
};

static const char *const requests[] = {
	"POST /httun/AbC-_9 HTTP/1.1\r\nHost: 198.18.0.1:8080\r\n"
	"Content-Type: application/octet-stream\r\nContent-Length: 1234\r\n\r\n",
	"GET /httun/p?x=1&y=%20 HTTP/1.1\r\nHost: h\r\n\r\n",
	"HEAD / HTTP/1.0\r\nConnection: keep-alive\r\nX:\r\n\r\n",
	"POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n",
	"GET / HTTP/1.1\r\nUser-Agent: curl/7.88.1 (x86_64)\r\nAccept: */*\r\n\r\n",
	"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
	"GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
};

static const char *const responses[] = {
	"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 42\r\n"
	"Cache-Control: no-store\r\n\r\n",
	"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n"
	"Cache-Control: no-store\r\nConnection: close\r\n\r\n",
	"HTTP/1.0 503 \r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	"HTTP/1.1 204 No Content\r\n\r\n",
};

/* Bytes an edit puts in: those that change a head's reading, and a few others. */
static const char interesting[] = "\r\n \t:,;/?#%\"\\\x7f\x80\xff\0-+0123456789aAzZ";

/* xorshift64: the same edits on every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static struct head_ref ref; /* big: not on the stack */
static struct head_fast_fields fast_fields;

/* Returns whether the fast path took buf; fails the test if llhttp disagrees. */
static bool check_one(bool request, const char *buf, size_t n, const struct http_head_limits *l)
{
	struct http_head h;
	bool taken;
	const char *diff;

	fast_fields.len = 0;
	fast_fields.overflow = false;
	taken = request ? http_head_request(buf, n, l, &h, head_fast_field_cb, &fast_fields)
			: http_head_response(buf, n, l, &h, head_fast_field_cb, &fast_fields);
	if (!taken)
		return false;
	diff = head_ref_check(request, buf, n, l, &h, &fast_fields, &ref);
	if (diff)
		fail_msg("%s: %s differs from llhttp: \"%.*s\"", request ? "request" : "response",
			 diff, (int)n, buf);
	return true;
}

static void test_seeds(void **state)
{
	(void)state;
	/* The first five requests and the first three responses are the plain shape. */
	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++)
		assert_int_equal(check_one(true, requests[i], strlen(requests[i]), &lim), i < 5);
	for (size_t i = 0; i < sizeof(responses) / sizeof(responses[0]); i++)
		assert_int_equal(check_one(false, responses[i], strlen(responses[i]), &lim), i < 3);
}

static size_t edit(char *buf, size_t n)
{
	size_t at = n ? (size_t)(rng() % n) : 0;
	char ch = interesting[rng() % (sizeof(interesting) - 1)];

	switch (rng() % 6) {
	case 0: /* overwrite */
		if (n)
			buf[at] = ch;
		return n;
	case 1: /* insert */
		if (n >= MAX_INPUT)
			return n;
		memmove(buf + at + 1, buf + at, n - at);
		buf[at] = ch;
		return n + 1;
	case 2: /* delete */
		if (!n)
			return n;
		memmove(buf + at, buf + at + 1, n - at - 1);
		return n - 1;
	case 3: { /* double the line that starts after the first LF at or past at */
		char *lf = memchr(buf + at, '\n', n - at), *end;
		size_t len;

		if (!lf || !(end = memchr(lf + 1, '\n', (size_t)(buf + n - lf - 1))))
			return n;
		len = (size_t)(end - lf);
		if (n + len > MAX_INPUT)
			return n;
		memmove(end + 1 + len, end + 1, (size_t)(buf + n - end - 1));
		memcpy(end + 1, lf + 1, len);
		return n + len;
	}
	case 4: /* flip case */
		if (n)
			buf[at] ^= 0x20;
		return n;
	default: /* cut the end */
		return at;
	}
}

static void test_random_edits(void **state)
{
	static char buf[MAX_INPUT * 2];
	unsigned taken = 0, edited_taken = 0;

	(void)state;
	for (unsigned round = 0; round < EDIT_ROUNDS; round++) {
		bool request = round & 1;
		const char *seed =
			request ? requests[rng() % (sizeof(requests) / sizeof(requests[0]))]
				: responses[rng() % (sizeof(responses) / sizeof(responses[0]))];
		size_t n = strlen(seed);
		unsigned edits = 1 + (unsigned)(rng() % 4);
		struct http_head_limits l = lim;

		memcpy(buf, seed, n);
		for (unsigned e = 0; e < edits; e++)
			n = edit(buf, n);
		if (rng() % 4 == 0) {
			l.max_target_bytes = rng() % 24;
			l.max_header_bytes = rng() % 80;
			l.max_header_count = (unsigned)(rng() % 5);
		}
		if (check_one(request, buf, n, &l)) {
			taken++;
			if (n != strlen(seed) || memcmp(buf, seed, n))
				edited_taken++;
		}
	}
	/* Not vacuous: a good share of edited heads is still taken and so compared. */
	print_message("%u of %u edited heads taken (%u changed), all read as llhttp reads them\n",
		      taken, EDIT_ROUNDS, edited_taken);
	assert_true(edited_taken > EDIT_ROUNDS / 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seeds),
		cmocka_unit_test(test_random_edits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
