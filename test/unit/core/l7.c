/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/l7.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Golden vectors, docs/PROTOCOL.md section 5: whole records, header included. */
static const uint8_t golden_open[] = {
	0x10, 0x00, 0x11, /* L7_OPEN, 17 bytes */
	0x01, 0x02, 0x03, 0x04, /* stream */
	0x01, 0xbb, /* port 443 */
	'e',  'x',  'a',  'm',	'p', 'l', 'e', '.', 'c', 'o', 'm',
};
static const uint8_t golden_data[] = {
	0x11, 0x00, 0x0f, /* L7_DATA, 15 bytes */
	0x01, 0x02, 0x03, 0x04, /* stream */
	0x01, /* FIN */
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, /* offset 2^32 + 2 */
	'h',  'i',
};
static const uint8_t golden_window[] = {
	0x12, 0x00, 0x0c, /* L7_WINDOW, 12 bytes */
	0x01, 0x02, 0x03, 0x04, /* stream */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, /* max offset 65536 */
};
static const uint8_t golden_reset[] = {
	0x13, 0x00, 0x05, /* L7_RESET, 5 bytes */
	0x01, 0x02, 0x03, 0x04, /* stream */
	0x02, /* connection refused */
};

#define STREAM 0x01020304u

struct golden {
	const uint8_t *p;
	size_t len;
};

static const struct golden goldens[] = {
	{ golden_open, sizeof(golden_open) },
	{ golden_data, sizeof(golden_data) },
	{ golden_window, sizeof(golden_window) },
	{ golden_reset, sizeof(golden_reset) },
};
#define N_GOLDENS (sizeof(goldens) / sizeof(goldens[0]))

/* Decode a body with the decoder for type; the output structs are only for checking. */
static int decode_any(uint8_t type, struct span body)
{
	struct l7_open o;
	struct l7_data d;
	struct l7_window w;
	struct l7_reset r;

	switch (type) {
	case REC_L7_OPEN:
		return l7_open_decode(body, &o);
	case REC_L7_DATA:
		return l7_data_decode(body, &d);
	case REC_L7_WINDOW:
		return l7_window_decode(body, &w);
	case REC_L7_RESET:
		return l7_reset_decode(body, &r);
	default:
		fail();
		return 0;
	}
}

static void test_golden_encode(void **state)
{
	uint8_t buf[FRAME_OVERHEAD_BYTES + 128];
	struct batch b;
	size_t at = 0;

	(void)state;
	assert_int_equal(batch_init(&b, buf, sizeof(buf)), 0);
	assert_int_equal(l7_add_open(&b, STREAM, 443, "example.com", 11), 0);
	assert_int_equal(
		l7_add_data(&b, STREAM, L7_DATA_FIN, (1ULL << 32) + 2, (const uint8_t *)"hi", 2),
		0);
	assert_int_equal(l7_add_window(&b, STREAM, 65536), 0);
	assert_int_equal(l7_add_reset(&b, STREAM, L7_RESET_REFUSED), 0);
	for (size_t i = 0; i < N_GOLDENS; i++) {
		assert_memory_equal(batch_plaintext(&b) + at, goldens[i].p, goldens[i].len);
		at += goldens[i].len;
	}
	assert_int_equal(batch_plaintext_len(&b), at);
}

static void test_golden_decode(void **state)
{
	struct cursor c;
	struct record r;
	struct l7_open o;
	struct l7_data d;
	struct l7_window w;
	struct l7_reset rs;

	(void)state;
	c = cursor_make(golden_open, sizeof(golden_open));
	assert_int_equal(record_next(&c, &r), 1);
	assert_int_equal(r.type, REC_L7_OPEN);
	assert_int_equal(l7_open_decode(r.body, &o), 0);
	assert_int_equal(o.stream, STREAM);
	assert_int_equal(o.port, 443);
	assert_int_equal(o.host_len, 11);
	assert_string_equal(o.host, "example.com");

	c = cursor_make(golden_data, sizeof(golden_data));
	assert_int_equal(record_next(&c, &r), 1);
	assert_int_equal(r.type, REC_L7_DATA);
	assert_int_equal(l7_data_decode(r.body, &d), 0);
	assert_int_equal(d.stream, STREAM);
	assert_int_equal(d.flags, L7_DATA_FIN);
	assert_true(d.offset == (1ULL << 32) + 2);
	assert_int_equal(d.data.len, 2);
	assert_ptr_equal(d.data.p, golden_data + 16);
	assert_memory_equal(d.data.p, "hi", 2);

	c = cursor_make(golden_window, sizeof(golden_window));
	assert_int_equal(record_next(&c, &r), 1);
	assert_int_equal(r.type, REC_L7_WINDOW);
	assert_int_equal(l7_window_decode(r.body, &w), 0);
	assert_int_equal(w.stream, STREAM);
	assert_true(w.max_offset == 65536);

	c = cursor_make(golden_reset, sizeof(golden_reset));
	assert_int_equal(record_next(&c, &r), 1);
	assert_int_equal(r.type, REC_L7_RESET);
	assert_int_equal(l7_reset_decode(r.body, &rs), 0);
	assert_int_equal(rs.stream, STREAM);
	assert_int_equal(rs.reason, L7_RESET_REFUSED);
}

/*
 * Every cut of every golden record: record_next refuses it (the length lies), and the
 * body decoder refuses every body shorter than the fixed fields. OPEN and DATA cut
 * within the variable part are other valid records; they decode to the shorter value.
 */
static void test_every_truncation(void **state)
{
	static const size_t fixed[] = { L7_OPEN_FIXED_BYTES + 1, L7_DATA_FIXED_BYTES,
					L7_WINDOW_BYTES, L7_RESET_BYTES };

	(void)state;
	for (size_t g = 0; g < N_GOLDENS; g++) {
		uint8_t type = goldens[g].p[0];
		size_t body_len = goldens[g].len - RECORD_HEADER_BYTES;

		for (size_t n = 0; n < goldens[g].len; n++) {
			uint8_t *copy = malloc(n ? n : 1);
			struct cursor c;
			struct record r;

			assert_non_null(copy);
			memcpy(copy, goldens[g].p, n);
			c = cursor_make(copy, n);
			assert_int_equal(record_next(&c, &r), n == 0 ? 0 : -EPROTO);
			free(copy);
		}
		for (size_t n = 0; n <= body_len; n++) {
			uint8_t *copy = malloc(n ? n : 1);
			struct span s = { copy, n };

			assert_non_null(copy);
			memcpy(copy, goldens[g].p + RECORD_HEADER_BYTES, n);
			assert_int_equal(decode_any(type, s), n >= fixed[g] ? 0 : -EPROTO);
			free(copy);
		}
	}
}

/* A record whose body is one byte longer than the fixed size, and lengths that lie. */
static void test_lying_lengths(void **state)
{
	uint8_t rec[64];

	(void)state;
	for (size_t g = 0; g < N_GOLDENS; g++) {
		size_t len = goldens[g].len;
		const uint16_t lies[] = { (uint16_t)(len - RECORD_HEADER_BYTES + 1),
					  (uint16_t)(len - RECORD_HEADER_BYTES + 0x100), 0xfffe,
					  0xffff };

		memcpy(rec, goldens[g].p, len);
		for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
			struct cursor c = cursor_make(rec, len);
			struct record r;

			store_be16(rec + 1, lies[i]);
			assert_int_equal(record_next(&c, &r), -EPROTO);
			assert_int_equal(c.len, len);
		}
	}
	/* WINDOW and RESET have exact sizes: one trailing byte is refused. */
	uint8_t w[L7_WINDOW_BYTES + 1] = { 0 };
	uint8_t r[L7_RESET_BYTES + 1] = { 0 };
	struct l7_window wd;
	struct l7_reset rd;
	memcpy(w, golden_window + 3, L7_WINDOW_BYTES);
	memcpy(r, golden_reset + 3, L7_RESET_BYTES);
	assert_int_equal(l7_window_decode((struct span){ w, sizeof(w) }, &wd), -EPROTO);
	assert_int_equal(l7_reset_decode((struct span){ r, sizeof(r) }, &rd), -EPROTO);
	assert_int_equal(l7_window_decode((struct span){ w, sizeof(w) - 1 }, &wd), 0);
	assert_int_equal(l7_reset_decode((struct span){ r, sizeof(r) - 1 }, &rd), 0);
}

static void test_open_validation(void **state)
{
	uint8_t body[L7_OPEN_FIXED_BYTES + L7_HOST_MAX_BYTES + 1];
	struct l7_open o;
	struct span s = { body, 0 };

	(void)state;
	store_be32(body, STREAM);
	store_be16(body + 4, 80);
	memset(body + 6, 'a', L7_HOST_MAX_BYTES + 1);

	/* Host length 1 and 255 are fine, 0 and 256 are not. */
	s.len = L7_OPEN_FIXED_BYTES + 1;
	assert_int_equal(l7_open_decode(s, &o), 0);
	assert_string_equal(o.host, "a");
	s.len = L7_OPEN_FIXED_BYTES + L7_HOST_MAX_BYTES;
	assert_int_equal(l7_open_decode(s, &o), 0);
	assert_int_equal(o.host_len, L7_HOST_MAX_BYTES);
	assert_int_equal(strlen(o.host), L7_HOST_MAX_BYTES);
	s.len = L7_OPEN_FIXED_BYTES + L7_HOST_MAX_BYTES + 1;
	assert_int_equal(l7_open_decode(s, &o), -EPROTO);
	s.len = L7_OPEN_FIXED_BYTES;
	assert_int_equal(l7_open_decode(s, &o), -EPROTO);

	/* Every byte value in the middle of a host: only 0x21..0x7e pass. */
	s.len = L7_OPEN_FIXED_BYTES + 3;
	int ok = 0;
	for (int v = 0; v < 256; v++) {
		body[7] = (uint8_t)v;
		int rc = l7_open_decode(s, &o);
		assert_int_equal(rc, v >= 0x21 && v <= 0x7e ? 0 : -EPROTO);
		ok += rc == 0;
	}
	assert_int_equal(ok, 94);
	body[7] = 'a';
	assert_int_equal(l7_open_decode(s, &o), 0);

	/* IP literals are hosts too. */
	memcpy(body + 6, "[::1]", 5);
	s.len = L7_OPEN_FIXED_BYTES + 5;
	assert_int_equal(l7_open_decode(s, &o), 0);
	assert_string_equal(o.host, "[::1]");

	store_be16(body + 4, 0);
	assert_int_equal(l7_open_decode(s, &o), -EPROTO);
	store_be16(body + 4, 65535);
	assert_int_equal(l7_open_decode(s, &o), 0);
	assert_int_equal(o.port, 65535);
	store_be32(body, 0);
	assert_int_equal(l7_open_decode(s, &o), -EPROTO);
}

static void test_data_validation(void **state)
{
	uint8_t body[L7_DATA_FIXED_BYTES + 4];
	struct l7_data d;
	struct span s = { body, sizeof(body) };

	(void)state;
	store_be32(body, STREAM);
	body[4] = 0;
	store_be64(body + 5, 0);
	memcpy(body + 13, "abcd", 4);
	assert_int_equal(l7_data_decode(s, &d), 0);
	assert_int_equal(d.flags, 0);
	assert_int_equal(d.data.len, 4);

	/* Only FIN is a known flag. */
	for (int f = 0; f < 256; f++) {
		body[4] = (uint8_t)f;
		assert_int_equal(l7_data_decode(s, &d), f <= 1 ? 0 : -EPROTO);
	}
	/* Empty data only with FIN. */
	s.len = L7_DATA_FIXED_BYTES;
	body[4] = 0;
	assert_int_equal(l7_data_decode(s, &d), -EPROTO);
	body[4] = L7_DATA_FIN;
	assert_int_equal(l7_data_decode(s, &d), 0);
	assert_int_equal(d.data.len, 0);

	/* The end offset must fit in 64 bits. */
	s.len = sizeof(body);
	body[4] = 0;
	store_be64(body + 5, UINT64_MAX - 4);
	assert_int_equal(l7_data_decode(s, &d), 0);
	store_be64(body + 5, UINT64_MAX - 3);
	assert_int_equal(l7_data_decode(s, &d), -EPROTO);
	store_be64(body + 5, UINT64_MAX);
	assert_int_equal(l7_data_decode(s, &d), -EPROTO);
	s.len = L7_DATA_FIXED_BYTES;
	body[4] = L7_DATA_FIN;
	assert_int_equal(l7_data_decode(s, &d), 0); /* FIN at 2^64 - 1, empty */

	store_be64(body + 5, 0);
	store_be32(body, 0);
	assert_int_equal(l7_data_decode(s, &d), -EPROTO);
}

static void test_window_reset_validation(void **state)
{
	uint8_t w[L7_WINDOW_BYTES];
	uint8_t r[L7_RESET_BYTES];
	struct l7_window wd;
	struct l7_reset rd;
	int ok = 0;

	(void)state;
	store_be32(w, STREAM);
	store_be64(w + 4, UINT64_MAX);
	assert_int_equal(l7_window_decode((struct span){ w, sizeof(w) }, &wd), 0);
	assert_true(wd.max_offset == UINT64_MAX);
	store_be32(w, 0);
	assert_int_equal(l7_window_decode((struct span){ w, sizeof(w) }, &wd), -EPROTO);

	store_be32(r, STREAM);
	for (int v = 0; v < 256; v++) {
		r[4] = (uint8_t)v;
		int rc = l7_reset_decode((struct span){ r, sizeof(r) }, &rd);
		assert_int_equal(rc, v >= 1 && v <= 8 ? 0 : -EPROTO);
		assert_true(strcmp(l7_reset_reason_name((uint8_t)v), "unknown") != 0 || rc != 0);
		ok += rc == 0;
	}
	assert_int_equal(ok, 8);
	assert_string_equal(l7_reset_reason_name(L7_RESET_NO_NAME), "name did not resolve");
	r[4] = 1;
	store_be32(r, 0);
	assert_int_equal(l7_reset_decode((struct span){ r, sizeof(r) }, &rd), -EPROTO);
}

/* Encoders refuse what decoders would refuse, and write nothing. */
static void test_encode_rejects(void **state)
{
	uint8_t buf[FRAME_OVERHEAD_BYTES + 512];
	char host[L7_HOST_MAX_BYTES + 1];
	struct batch b;

	(void)state;
	memset(host, 'h', sizeof(host));
	assert_int_equal(batch_init(&b, buf, sizeof(buf)), 0);
	assert_int_equal(l7_add_open(&b, 0, 80, "a", 1), -EINVAL);
	assert_int_equal(l7_add_open(&b, 1, 0, "a", 1), -EINVAL);
	assert_int_equal(l7_add_open(&b, 1, 80, "a", 0), -EINVAL);
	assert_int_equal(l7_add_open(&b, 1, 80, "a b", 3), -EINVAL);
	assert_int_equal(l7_add_open(&b, 1, 80, "a\0b", 3), -EINVAL);
	assert_int_equal(l7_add_open(&b, 1, 80, host, sizeof(host)), -EINVAL);
	assert_int_equal(l7_add_data(&b, 0, 0, 0, (const uint8_t *)"x", 1), -EINVAL);
	assert_int_equal(l7_add_data(&b, 1, 2, 0, (const uint8_t *)"x", 1), -EINVAL);
	assert_int_equal(l7_add_data(&b, 1, 0, 0, NULL, 0), -EINVAL);
	assert_int_equal(l7_add_data(&b, 1, 0, UINT64_MAX, (const uint8_t *)"x", 1), -EINVAL);
	assert_int_equal(l7_add_window(&b, 0, 1), -EINVAL);
	assert_int_equal(l7_add_reset(&b, 0, 1), -EINVAL);
	assert_int_equal(l7_add_reset(&b, 1, 0), -EINVAL);
	assert_int_equal(l7_add_reset(&b, 1, 9), -EINVAL);
	assert_null(l7_data_reserve(&b, 0, 0, 10));
	assert_null(l7_data_reserve(&b, 1, UINT64_MAX - 9, 10));
	assert_null(l7_data_reserve(&b, 1, 0, RECORD_MAX_BODY_BYTES));
	assert_int_equal(batch_plaintext_len(&b), 0);
	/* The longest host is fine. */
	assert_int_equal(l7_add_open(&b, 1, 80, host, L7_HOST_MAX_BYTES), 0);
	assert_int_equal(batch_plaintext_len(&b), 3 + 6 + 255);
}

/* Round trips of varied values through the builder and back. */
static void test_round_trip(void **state)
{
	static const uint32_t streams[] = { 1, 2, 0x7fffffff, 0xffffffff };
	static const uint64_t offsets[] = { 0, 1, 0xffffffff, 1ULL << 63, UINT64_MAX - 100 };
	uint8_t *buf = malloc(FRAME_OVERHEAD_BYTES + FRAME_MAX_PLAINTEXT_BYTES);
	uint8_t data[100];
	struct batch b;
	size_t n = 0;

	(void)state;
	assert_non_null(buf);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i ^ 0x5a);
	assert_int_equal(batch_init(&b, buf, FRAME_OVERHEAD_BYTES + FRAME_MAX_PLAINTEXT_BYTES), 0);
	for (size_t i = 0; i < 4; i++) {
		for (size_t j = 0; j < 5; j++) {
			size_t len = (i * 5 + j) % 101;
			uint8_t flags = len == 0 || j % 2 ? L7_DATA_FIN : 0;

			assert_int_equal(
				l7_add_open(&b, streams[i], (uint16_t)(j + 1), "h.example", 9), 0);
			assert_int_equal(l7_add_data(&b, streams[i], flags, offsets[j], data, len),
					 0);
			assert_int_equal(l7_add_window(&b, streams[i], offsets[j]), 0);
			assert_int_equal(l7_add_reset(&b, streams[i], (uint8_t)(1 + (i + j) % 8)),
					 0);
			n++;
		}
	}
	struct cursor c = cursor_make(batch_plaintext(&b), batch_plaintext_len(&b));
	struct record r;
	for (size_t i = 0; i < 4; i++) {
		for (size_t j = 0; j < 5; j++) {
			size_t len = (i * 5 + j) % 101;
			struct l7_open o;
			struct l7_data d;
			struct l7_window w;
			struct l7_reset rs;

			assert_int_equal(record_next(&c, &r), 1);
			assert_int_equal(r.type, REC_L7_OPEN);
			assert_int_equal(l7_open_decode(r.body, &o), 0);
			assert_int_equal(o.stream, streams[i]);
			assert_int_equal(o.port, j + 1);
			assert_string_equal(o.host, "h.example");
			assert_int_equal(record_next(&c, &r), 1);
			assert_int_equal(r.type, REC_L7_DATA);
			assert_int_equal(l7_data_decode(r.body, &d), 0);
			assert_int_equal(d.stream, streams[i]);
			assert_int_equal(d.flags, len == 0 || j % 2 ? L7_DATA_FIN : 0);
			assert_true(d.offset == offsets[j]);
			assert_int_equal(d.data.len, len);
			assert_memory_equal(d.data.p, data, len);
			assert_int_equal(record_next(&c, &r), 1);
			assert_int_equal(r.type, REC_L7_WINDOW);
			assert_int_equal(l7_window_decode(r.body, &w), 0);
			assert_true(w.max_offset == offsets[j]);
			assert_int_equal(record_next(&c, &r), 1);
			assert_int_equal(r.type, REC_L7_RESET);
			assert_int_equal(l7_reset_decode(r.body, &rs), 0);
			assert_int_equal(rs.reason, 1 + (i + j) % 8);
			n--;
		}
	}
	assert_int_equal(record_next(&c, &r), 0);
	assert_int_equal(n, 0);
	free(buf);
}

/* L7_DATA room, -ENOSPC without a partial record, and the zero-copy path. */
static void test_data_room_and_reserve(void **state)
{
	enum {
		PLAIN = 40
	};
	uint8_t buf[FRAME_OVERHEAD_BYTES + PLAIN + 4];
	uint8_t data[64];
	struct batch b;
	uint8_t *p;

	(void)state;
	memset(data, 'd', sizeof(data));
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(batch_init(&b, buf, FRAME_OVERHEAD_BYTES + PLAIN), 0);
	assert_int_equal(l7_data_room(&b), PLAIN - 3 - 13);
	assert_int_equal(l7_add_data(&b, 1, 0, 0, data, PLAIN - 15), -ENOSPC);
	assert_int_equal(batch_plaintext_len(&b), 0);
	assert_int_equal(buf[FRAME_HEADER_BYTES], 0xaa);

	/* Zero-copy: reserve all, "read" 5 bytes, commit. */
	p = l7_data_reserve(&b, 7, 1000, l7_data_room(&b));
	assert_non_null(p);
	assert_ptr_equal(p, buf + FRAME_HEADER_BYTES + 3 + 13);
	assert_int_equal(l7_data_room(&b), 0);
	assert_int_equal(l7_add_data(&b, 1, 0, 0, data, 1), -EBUSY);
	memcpy(p, "hello", 5);
	assert_int_equal(l7_data_commit(&b, 0, 5), 0);
	assert_int_equal(batch_plaintext_len(&b), 3 + 13 + 5);

	/* Left: 19 bytes, so room for 3 data bytes; an empty FIN record needs 16. */
	assert_int_equal(l7_data_room(&b), 3);
	p = l7_data_reserve(&b, 7, 1005, 3);
	assert_non_null(p);
	assert_int_equal(l7_data_commit(&b, 0, 0), -EINVAL); /* empty without FIN */
	assert_int_equal(batch_plaintext_len(&b), 21);
	p = l7_data_reserve(&b, 7, 1005, 3);
	assert_int_equal(l7_data_commit(&b, 0, 4), -EINVAL); /* more than reserved */
	p = l7_data_reserve(&b, 7, 1005, 3);
	assert_int_equal(l7_data_commit(&b, 0x80, 1), -EINVAL); /* unknown flag */
	assert_int_equal(batch_plaintext_len(&b), 21);
	assert_int_equal(l7_data_commit(&b, L7_DATA_FIN, 0), -EINVAL); /* nothing reserved */
	p = l7_data_reserve(&b, 7, 1005, 3);
	assert_non_null(p);
	assert_int_equal(l7_data_commit(&b, L7_DATA_FIN, 0), 0);
	assert_int_equal(batch_plaintext_len(&b), 37);
	assert_int_equal(l7_data_room(&b), 0);
	assert_int_equal(l7_add_data(&b, 7, L7_DATA_FIN, 1005, NULL, 0), -ENOSPC);
	assert_int_equal(l7_add_window(&b, 7, 1), -ENOSPC);
	assert_int_equal(l7_add_reset(&b, 7, 1), -ENOSPC); /* 3 + 5 does not fit in 3 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_encode),
		cmocka_unit_test(test_golden_decode),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_lying_lengths),
		cmocka_unit_test(test_open_validation),
		cmocka_unit_test(test_data_validation),
		cmocka_unit_test(test_window_reset_validation),
		cmocka_unit_test(test_encode_rejects),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_data_room_and_reserve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
