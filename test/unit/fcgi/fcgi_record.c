/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "fcgi/fcgi_record.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The GET_VALUES golden answer spells these values out. */
_Static_assert(FCGI_MAX_CONNS == 64 && FCGI_MAX_REQS_PER_CONN == 16,
	       "update the GET_VALUES_RESULT golden bytes with the limits");

static struct span sp(const void *p, size_t len)
{
	struct span s = { (const uint8_t *)p, len };
	return s;
}

static struct span str(const char *s)
{
	return sp(s, strlen(s));
}

static void assert_span(struct span s, const void *p, size_t len)
{
	assert_int_equal(s.len, len);
	if (len)
		assert_memory_equal(s.p, p, len);
}

/* ---- golden records, hand-computed from the specification's layout ---- */

/* BEGIN_REQUEST, id 1, role RESPONDER, flags KEEP_CONN. */
static const uint8_t golden_begin[] = {
	0x01, 0x01, 0x00, 0x01, 0x00, 0x08, 0x00, 0x00, /* v1 BEGIN id=1 len=8 pad=0 */
	0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, /* role 1, KEEP_CONN, reserved */
};

/* STDIN "hello" without padding, then the empty STDIN that ends the stream. */
static const uint8_t golden_stdin[] = {
	0x01, 0x05, 0x00, 0x01, 0x00, 0x05, 0x00, 0x00, 'h',  'e',  'l',
	'l',  'o',  0x01, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
};

/* STDOUT "hi!" padded to 8: 5 zero bytes. */
static const uint8_t golden_stdout[] = {
	0x01, 0x06, 0x00, 0x01, 0x00, 0x03, 0x05, 0x00, 'h', 'i', '!', 0, 0, 0, 0, 0,
};

/* END_REQUEST id 1, app status 0, REQUEST_COMPLETE. */
static const uint8_t golden_end[] = {
	0x01, 0x03, 0x00, 0x01, 0x00, 0x08, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* END_REQUEST id 0x1234, app status 0x01020304, UNKNOWN_ROLE. */
static const uint8_t golden_end_role[] = {
	0x01, 0x03, 0x12, 0x34, 0x00, 0x08, 0x00, 0x00,
	0x01, 0x02, 0x03, 0x04, 0x03, 0x00, 0x00, 0x00,
};

/* UNKNOWN_TYPE answering type 0x42. */
static const uint8_t golden_unknown[] = {
	0x01, 0x0b, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00,
	0x42, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/*
 * PARAMS id 1: SCRIPT_NAME=/t (1-byte lengths), QUERY_STRING=130 x 'a' (4-byte value
 * length 0x80000082). Content 2+11+2 + 1+4+12+130 = 162 = 0xa2 bytes, padding 6.
 */
static size_t golden_params(uint8_t *out)
{
	static const uint8_t head[] = { 0x01, 0x04, 0x00, 0x01, 0x00, 0xa2, 0x06, 0x00 };
	size_t n = 0;

	memcpy(out + n, head, sizeof(head));
	n += sizeof(head);
	out[n++] = 11;
	out[n++] = 2;
	memcpy(out + n, "SCRIPT_NAME/t", 13);
	n += 13;
	out[n++] = 12;
	out[n++] = 0x80;
	out[n++] = 0x00;
	out[n++] = 0x00;
	out[n++] = 0x82;
	memcpy(out + n, "QUERY_STRING", 12);
	n += 12;
	memset(out + n, 'a', 130);
	n += 130;
	memset(out + n, 0, 6);
	n += 6;
	return n;
}

static void test_read_golden(void **state)
{
	struct fcgi_record r;
	struct fcgi_begin b;
	struct cursor c;
	uint8_t params[256], along[130];
	size_t plen = golden_params(params);
	struct span name, value;
	struct cursor pc;

	(void)state;
	assert_int_equal(plen, 8 + 162 + 6);

	c = cursor_make(golden_begin, sizeof(golden_begin));
	assert_int_equal(fcgi_record_next(&c, &r), 1);
	assert_int_equal(r.type, FCGI_BEGIN_REQUEST);
	assert_int_equal(r.request_id, 1);
	assert_int_equal(r.padding, 0);
	assert_int_equal(c.len, 0);
	assert_int_equal(fcgi_begin_parse(r.content, &b), 0);
	assert_int_equal(b.role, FCGI_RESPONDER);
	assert_int_equal(b.flags, FCGI_KEEP_CONN);

	c = cursor_make(params, plen);
	assert_int_equal(fcgi_record_next(&c, &r), 1);
	assert_int_equal(r.type, FCGI_PARAMS);
	assert_int_equal(r.padding, 6);
	assert_int_equal(r.content.len, 162);
	assert_int_equal(c.len, 0);
	pc = cursor_make(r.content.p, r.content.len);
	assert_int_equal(fcgi_params_next(&pc, &name, &value), 1);
	assert_span(name, "SCRIPT_NAME", 11);
	assert_span(value, "/t", 2);
	assert_int_equal(fcgi_params_next(&pc, &name, &value), 1);
	assert_span(name, "QUERY_STRING", 12);
	memset(along, 'a', sizeof(along));
	assert_span(value, along, sizeof(along));
	assert_int_equal(fcgi_params_next(&pc, &name, &value), 0);

	c = cursor_make(golden_stdin, sizeof(golden_stdin));
	assert_int_equal(fcgi_record_next(&c, &r), 1);
	assert_int_equal(r.type, FCGI_STDIN);
	assert_span(r.content, "hello", 5);
	assert_int_equal(fcgi_record_next(&c, &r), 1);
	assert_int_equal(r.type, FCGI_STDIN);
	assert_int_equal(r.request_id, 1);
	assert_int_equal(r.content.len, 0);
	assert_int_equal(c.len, 0);
	assert_int_equal(fcgi_record_next(&c, &r), 0);

	c = cursor_make(golden_stdout, sizeof(golden_stdout));
	assert_int_equal(fcgi_record_next(&c, &r), 1);
	assert_int_equal(r.type, FCGI_STDOUT);
	assert_int_equal(r.padding, 5);
	assert_span(r.content, "hi!", 3);
	assert_int_equal(c.len, 0);
}

static void test_write_golden(void **state)
{
	uint8_t buf[512], params[256], content[200];
	struct writer w;
	size_t plen = golden_params(params);
	struct writer cw = writer_make(content, sizeof(content));
	char along[131];

	(void)state;
	w = writer_make(buf, sizeof(buf));
	assert_int_equal(fcgi_write_record(&w, FCGI_STDOUT, 1, "hi!", 3), 0);
	assert_memory_equal(buf, golden_stdout, sizeof(golden_stdout));
	assert_int_equal(w.len, sizeof(golden_stdout));

	w = writer_make(buf, sizeof(buf));
	assert_int_equal(fcgi_write_end_request(&w, 1, 0, FCGI_REQUEST_COMPLETE), 0);
	assert_int_equal(w.len, sizeof(golden_end));
	assert_memory_equal(buf, golden_end, sizeof(golden_end));

	w = writer_make(buf, sizeof(buf));
	assert_int_equal(fcgi_write_end_request(&w, 0x1234, 0x01020304, FCGI_UNKNOWN_ROLE), 0);
	assert_int_equal(w.len, sizeof(golden_end_role));
	assert_memory_equal(buf, golden_end_role, sizeof(golden_end_role));

	w = writer_make(buf, sizeof(buf));
	assert_int_equal(fcgi_write_unknown_type(&w, 0x42), 0);
	assert_int_equal(w.len, sizeof(golden_unknown));
	assert_memory_equal(buf, golden_unknown, sizeof(golden_unknown));

	/* Empty STDIN terminator = a bare header. */
	w = writer_make(buf, sizeof(buf));
	assert_int_equal(fcgi_write_header(&w, FCGI_STDIN, 1, 0, 0), 0);
	assert_int_equal(w.len, 8);
	assert_memory_equal(buf, golden_stdin + 13, 8);

	w = writer_make(buf, sizeof(buf));
	assert_int_equal(fcgi_write_record(&w, FCGI_BEGIN_REQUEST, 1, golden_begin + 8, 8), 0);
	assert_memory_equal(buf, golden_begin, sizeof(golden_begin));

	/* PARAMS: pairs in the shortest form, then one padded record. */
	memset(along, 'a', 130);
	along[130] = 0;
	assert_int_equal(fcgi_write_pair(&cw, str("SCRIPT_NAME"), str("/t")), 0);
	assert_int_equal(fcgi_write_pair(&cw, str("QUERY_STRING"), str(along)), 0);
	assert_int_equal(cw.len, 162);
	w = writer_make(buf, sizeof(buf));
	assert_int_equal(fcgi_write_record(&w, FCGI_PARAMS, 1, content, cw.len), 0);
	assert_int_equal(w.len, plen);
	assert_memory_equal(buf, params, plen);
}

/* Every writer refuses, writing nothing, when one byte of room is missing. */
static void test_write_no_room(void **state)
{
	uint8_t buf[64];

	(void)state;
	for (size_t cap = 0; cap < 16; cap++) {
		struct writer w = writer_make(buf, cap);

		assert_int_equal(fcgi_write_end_request(&w, 1, 0, 0), -ENOBUFS);
		assert_int_equal(fcgi_write_unknown_type(&w, 0x42), -ENOBUFS);
		assert_int_equal(fcgi_write_record(&w, FCGI_STDOUT, 1, "hi!", 3), -ENOBUFS);
		if (cap < 8)
			assert_int_equal(fcgi_write_header(&w, FCGI_STDOUT, 1, 0, 0), -ENOBUFS);
		if (cap < 2 + 11 + 2)
			assert_int_equal(fcgi_write_pair(&w, str("SCRIPT_NAME"), str("/t")),
					 -ENOBUFS);
		assert_int_equal(w.len, 0);
	}
	{
		static uint8_t big[FCGI_MAX_CONTENT_BYTES + 1];
		static uint8_t out[FCGI_RECORD_MAX_BYTES + 8];
		struct writer w = writer_make(out, sizeof(out));

		assert_int_equal(fcgi_write_record(&w, FCGI_STDOUT, 1, big, sizeof(big)),
				 -EMSGSIZE);
		assert_int_equal(fcgi_write_record(&w, FCGI_STDOUT, 1, big, sizeof(big) - 1), 0);
		/* 65535 content + 1 byte of padding */
		assert_int_equal(w.len, 8 + 65535 + 1);
	}
}

/* ---- incremental reading ---- */

struct rec_copy {
	uint8_t type;
	uint16_t id;
	size_t len;
	uint8_t content[300];
};

/* A stream of assorted records, padding 0..255 included. */
static size_t build_stream(uint8_t *buf, size_t cap)
{
	struct writer w = writer_make(buf, cap);
	uint8_t params[256];
	size_t plen = golden_params(params);

	assert_true(wr_bytes(&w, golden_begin, sizeof(golden_begin)));
	assert_true(wr_bytes(&w, params, plen));
	assert_int_equal(fcgi_write_header(&w, FCGI_PARAMS, 1, 0, 0), 0);
	assert_true(wr_bytes(&w, golden_stdin, sizeof(golden_stdin)));
	/* Record with the largest padding: 3 bytes of content, 255 of padding. */
	assert_int_equal(fcgi_write_header(&w, FCGI_STDIN, 2, 3, 255), 0);
	assert_true(wr_bytes(&w, "xyz", 3));
	for (int i = 0; i < 255; i++)
		assert_true(wr_u8(&w, 0xee));
	assert_int_equal(fcgi_write_record(&w, FCGI_GET_VALUES, 0,
					   "\x0d\x00"
					   "FCGI_MAX_REQS",
					   15),
			 0);
	assert_int_equal(fcgi_write_record(&w, 0x42, 0, "", 0), 0);
	return w.len;
}

static const struct {
	uint8_t type;
	uint16_t id;
	size_t len;
} stream_expect[] = {
	{ FCGI_BEGIN_REQUEST, 1, 8 }, { FCGI_PARAMS, 1, 162 }, { FCGI_PARAMS, 1, 0 },
	{ FCGI_STDIN, 1, 5 },	      { FCGI_STDIN, 1, 0 },    { FCGI_STDIN, 2, 3 },
	{ FCGI_GET_VALUES, 0, 15 },   { 0x42, 0, 0 },
};

/*
 * Feed the stream as a reader would: bytes arrive in pieces at the given cut points,
 * records are taken while whole ones are buffered, the rest waits.
 */
static size_t feed(const uint8_t *stream, size_t len, const size_t *cuts, size_t ncuts,
		   struct rec_copy *out, size_t cap)
{
	static uint8_t buf[4096];
	size_t have = 0, used = 0, n = 0, from = 0;

	for (size_t k = 0; k <= ncuts; k++) {
		size_t to = k < ncuts ? cuts[k] : len;
		struct cursor c;
		struct fcgi_record r;
		int rc;

		memcpy(buf + have, stream + from, to - from);
		have += to - from;
		from = to;
		c = cursor_make(buf + used, have - used);
		while ((rc = fcgi_record_next(&c, &r)) == 1) {
			assert_true(n < cap);
			out[n].type = r.type;
			out[n].id = r.request_id;
			out[n].len = r.content.len;
			assert_true(r.content.len <= sizeof(out[n].content));
			memcpy(out[n].content, r.content.p, r.content.len);
			n++;
		}
		assert_int_equal(rc, 0);
		used = (size_t)(c.p - buf);
	}
	assert_int_equal(used, len);
	return n;
}

static void assert_same_records(const struct rec_copy *a, const struct rec_copy *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(a[i].type, b[i].type);
		assert_int_equal(a[i].id, b[i].id);
		assert_int_equal(a[i].len, b[i].len);
		assert_memory_equal(a[i].content, b[i].content, a[i].len);
	}
}

static void check_stream(const uint8_t *stream, const struct rec_copy *recs, size_t n)
{
	assert_int_equal(n, ARRAY_LEN(stream_expect));
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(recs[i].type, stream_expect[i].type);
		assert_int_equal(recs[i].id, stream_expect[i].id);
		assert_int_equal(recs[i].len, stream_expect[i].len);
	}
	assert_memory_equal(recs[3].content, "hello", 5);
	assert_memory_equal(recs[5].content, "xyz", 3);
	(void)stream;
}

static void test_stream_splits(void **state)
{
	static uint8_t stream[4096];
	static struct rec_copy whole[16], part[16];
	size_t len = build_stream(stream, sizeof(stream));
	size_t n = feed(stream, len, NULL, 0, whole, ARRAY_LEN(whole));
	size_t *cuts = malloc(len * sizeof(*cuts));

	(void)state;
	check_stream(stream, whole, n);
	/* one cut at every byte boundary */
	for (size_t k = 0; k <= len; k++) {
		size_t m = feed(stream, len, &k, 1, part, ARRAY_LEN(part));

		assert_int_equal(m, n);
		assert_same_records(part, whole, n);
	}
	/* one byte at a time */
	for (size_t k = 0; k < len; k++)
		cuts[k] = k + 1;
	assert_int_equal(feed(stream, len, cuts, len, part, ARRAY_LEN(part)), n);
	assert_same_records(part, whole, n);
	free(cuts);
}

/* Any prefix of a record is "need more" and consumes nothing. */
static void test_truncations(void **state)
{
	uint8_t params[256];
	size_t plen = golden_params(params);
	struct fcgi_record r;

	(void)state;
	for (size_t k = 0; k < plen; k++) {
		struct cursor c = cursor_make(params, k);

		assert_int_equal(fcgi_record_next(&c, &r), 0);
		assert_ptr_equal(c.p, params);
		assert_int_equal(c.len, k);
	}
}

static void test_max_record(void **state)
{
	static uint8_t buf[FCGI_RECORD_MAX_BYTES + 1];
	struct writer w = writer_make(buf, sizeof(buf));
	struct fcgi_record r;
	struct cursor c;

	(void)state;
	assert_int_equal(fcgi_write_header(&w, FCGI_STDIN, 1, 65535, 255), 0);
	c = cursor_make(buf, FCGI_RECORD_MAX_BYTES - 1);
	assert_int_equal(fcgi_record_next(&c, &r), 0);
	c = cursor_make(buf, sizeof(buf));
	assert_int_equal(fcgi_record_next(&c, &r), 1);
	assert_int_equal(r.content.len, 65535);
	assert_int_equal(r.padding, 255);
	assert_int_equal(c.len, 1);
}

static void test_wrong_version(void **state)
{
	uint8_t rec[16];
	struct fcgi_record r;

	(void)state;
	for (unsigned v = 0; v < 256; v++) {
		struct cursor c;

		if (v == FCGI_VERSION_1)
			continue;
		memcpy(rec, golden_begin, sizeof(rec));
		rec[0] = (uint8_t)v;
		c = cursor_make(rec, sizeof(rec));
		assert_int_equal(fcgi_record_next(&c, &r), -EPROTO);
		assert_int_equal(c.len, sizeof(rec));
		/* Judged as soon as the header is whole, before the content arrives. */
		c = cursor_make(rec, FCGI_HEADER_BYTES);
		assert_int_equal(fcgi_record_next(&c, &r), -EPROTO);
		c = cursor_make(rec, FCGI_HEADER_BYTES - 1);
		assert_int_equal(fcgi_record_next(&c, &r), 0);
	}
}

/* ---- name-value pairs ---- */

static int params_one(const uint8_t *p, size_t len, struct span *name, struct span *value,
		      size_t *left)
{
	struct cursor c = cursor_make(p, len);
	int rc = fcgi_params_next(&c, name, value);

	*left = c.len;
	return rc;
}

static void test_params_hostile(void **state)
{
	static uint8_t big[8 + FCGI_PARAMS_MAX_BYTES + 16];
	struct span name, value;
	size_t left;

	(void)state;
	/* name length 0x7fffffff in the 4-byte form */
	assert_int_equal(
		params_one((const uint8_t *)"\xff\xff\xff\xff\x00", 5, &name, &value, &left),
		-EPROTO);
	assert_int_equal(left, 5);
	/* both lengths 0x7fffffff: must not wrap */
	assert_int_equal(params_one((const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\xff", 8, &name,
				    &value, &left),
			 -EPROTO);
	/* value length runs one past the end */
	assert_int_equal(params_one((const uint8_t *)"\x01\x03"
						     "Aab",
				    5, &name, &value, &left),
			 -EPROTO);
	assert_int_equal(left, 5);
	assert_int_equal(params_one((const uint8_t *)"\x01\x02"
						     "Aab",
				    5, &name, &value, &left),
			 1);
	assert_int_equal(left, 0);
	/* name length runs past the end */
	assert_int_equal(params_one((const uint8_t *)"\x05\x00"
						     "Aab",
				    5, &name, &value, &left),
			 -EPROTO);
	/* 4-byte lengths cut short, at every length */
	for (size_t k = 1; k < 4; k++)
		assert_int_equal(
			params_one((const uint8_t *)"\x80\x00\x00\x01", k, &name, &value, &left),
			-EPROTO);
	assert_int_equal(params_one((const uint8_t *)"\x01", 1, &name, &value, &left), -EPROTO);
	assert_int_equal(params_one((const uint8_t *)"\x01\x80\x00\x00", 4, &name, &value, &left),
			 -EPROTO);
	/* all 31 bits count: 0x01000001 is not 1 */
	assert_int_equal(params_one((const uint8_t *)"\x81\x00\x00\x01\x00"
						     "A",
				    6, &name, &value, &left),
			 -EPROTO);
	assert_int_equal(params_one((const uint8_t *)"\x01\xc0\x00\x00\x00"
						     "A",
				    6, &name, &value, &left),
			 -EPROTO);
	/* 4-byte form for a short length is legal (the specification does not forbid it) */
	assert_int_equal(params_one((const uint8_t *)"\x80\x00\x00\x01\x00"
						     "A",
				    6, &name, &value, &left),
			 1);
	assert_span(name, "A", 1);
	assert_int_equal(value.len, 0);

	/* a value of exactly the limit is accepted, one more is refused though it fits */
	big[0] = 1;
	store_be32(big + 1, 0x80000000u | FCGI_PARAMS_MAX_BYTES);
	big[5] = 'N';
	assert_int_equal(params_one(big, 6 + FCGI_PARAMS_MAX_BYTES, &name, &value, &left), 1);
	assert_int_equal(value.len, FCGI_PARAMS_MAX_BYTES);
	store_be32(big + 1, 0x80000000u | (FCGI_PARAMS_MAX_BYTES + 1));
	assert_int_equal(params_one(big, sizeof(big), &name, &value, &left), -EPROTO);
	assert_int_equal(left, sizeof(big));
}

/* Every cut of a valid pair stream fails exactly off pair boundaries. */
/* The length form switches between 127 and 128; both round-trip. */
static void test_params_length_forms(void **state)
{
	static const size_t lens[] = { 0, 1, 127, 128, 129, 256, FCGI_PARAMS_MAX_BYTES };
	static uint8_t val[FCGI_PARAMS_MAX_BYTES], buf[2 * FCGI_PARAMS_MAX_BYTES + 16];

	(void)state;
	memset(val, 'v', sizeof(val));
	for (size_t i = 0; i < ARRAY_LEN(lens); i++) {
		struct writer w = writer_make(buf, sizeof(buf));
		struct span name, value;
		struct cursor c;
		size_t hdr = (lens[i] < 128 ? 1 : 4) + 1;

		/* exact room is enough, one byte less is not */
		w = writer_make(buf, hdr + 1 + lens[i] - 1);
		assert_int_equal(fcgi_write_pair(&w, sp("N", 1), sp(val, lens[i])), -ENOBUFS);
		assert_int_equal(w.len, 0);
		w = writer_make(buf, hdr + 1 + lens[i]);
		assert_int_equal(fcgi_write_pair(&w, sp("N", 1), sp(val, lens[i])), 0);
		assert_int_equal(w.len, hdr + 1 + lens[i]);
		w.cap = sizeof(buf);
		assert_int_equal(buf[0], 1);
		if (lens[i] < 128) {
			assert_int_equal(buf[1], lens[i]);
		} else {
			assert_int_equal(buf[1], 0x80 | (lens[i] >> 24));
			assert_int_equal(load_be32(buf + 1), 0x80000000u | lens[i]);
		}
		assert_int_equal(fcgi_write_pair(&w, sp(val, lens[i]), sp("V", 1)), 0);
		c = cursor_make(buf, w.len);
		assert_int_equal(fcgi_params_next(&c, &name, &value), 1);
		assert_span(name, "N", 1);
		assert_span(value, val, lens[i]);
		assert_int_equal(fcgi_params_next(&c, &name, &value), 1);
		assert_span(name, val, lens[i]);
		assert_span(value, "V", 1);
		assert_int_equal(fcgi_params_next(&c, &name, &value), 0);
	}
}

static void test_params_truncations(void **state)
{
	uint8_t params[256];
	size_t plen = golden_params(params);
	const uint8_t *content = params + 8;
	size_t clen = 162;

	(void)state;
	(void)plen;
	for (size_t k = 0; k <= clen; k++) {
		struct cursor c = cursor_make(content, k);
		struct span name, value;
		int rc, pairs = 0;

		while ((rc = fcgi_params_next(&c, &name, &value)) == 1)
			pairs++;
		if (k == 0 || k == 15 || k == clen)
			assert_int_equal(rc, 0);
		else
			assert_int_equal(rc, -EPROTO);
		assert_int_equal(pairs, k < 15 ? 0 : k < clen ? 1 : 2);
	}
}

static void test_params_accumulate(void **state)
{
	static struct fcgi_params p;
	static uint8_t chunk[FCGI_PARAMS_MAX_BYTES];
	uint8_t content[512];
	struct writer w = writer_make(content, sizeof(content));
	struct fcgi_cgi cgi;
	uint64_t n = 0;

	(void)state;
	assert_int_equal(fcgi_write_pair(&w, str("REQUEST_METHOD"), str("POST")), 0);
	assert_int_equal(fcgi_write_pair(&w, str("HTTP_HOST"), str("example")), 0);
	assert_int_equal(fcgi_write_pair(&w, str("request_uri"), str("/lower")), 0);
	assert_int_equal(fcgi_write_pair(&w, str("REQUEST_URI"), str("/t/abc?x")), 0);
	assert_int_equal(fcgi_write_pair(&w, str("SCRIPT_NAME"), str("/t")), 0);
	assert_int_equal(fcgi_write_pair(&w, str("PATH_INFO"), str("/abc")), 0);
	assert_int_equal(fcgi_write_pair(&w, str("QUERY_STRING"), str("")), 0);
	assert_int_equal(fcgi_write_pair(&w, str("CONTENT_LENGTH"), str("1234")), 0);

	/* Split across records at an awkward place: inside a name. */
	fcgi_params_init(&p);
	assert_int_equal(fcgi_params_add(&p, sp(content, 7)), 0);
	assert_int_equal(fcgi_params_add(&p, sp(content + 7, w.len - 7)), 0);
	assert_int_equal(fcgi_params_add(&p, sp(NULL, 0)), 1);
	assert_int_equal(fcgi_params_add(&p, sp("x", 1)), -EPROTO);
	assert_int_equal(fcgi_params_add(&p, sp(NULL, 0)), -EPROTO);

	assert_int_equal(fcgi_params_lookup(&p, &cgi), 0);
	assert_span(cgi.request_method, "POST", 4);
	assert_span(cgi.request_uri, "/t/abc?x", 8);
	assert_span(cgi.script_name, "/t", 2);
	assert_span(cgi.path_info, "/abc", 4);
	assert_non_null(cgi.query_string.p); /* sent, empty */
	assert_int_equal(cgi.query_string.len, 0);
	assert_null(cgi.content_type.p); /* not sent */
	assert_int_equal(fcgi_content_length(cgi.content_length, 1 << 20, &n), 0);
	assert_int_equal(n, 1234);

	/* The same variable twice is refused. */
	assert_int_equal(fcgi_write_pair(&w, str("PATH_INFO"), str("/other")), 0);
	fcgi_params_init(&p);
	assert_int_equal(fcgi_params_add(&p, sp(content, w.len)), 0);
	assert_int_equal(fcgi_params_lookup(&p, &cgi), -EPROTO);

	/* A malformed stream is refused. */
	fcgi_params_init(&p);
	assert_int_equal(fcgi_params_add(&p, sp(content, w.len - 1)), 0);
	assert_int_equal(fcgi_params_lookup(&p, &cgi), -EPROTO);

	/* Bounded total: exactly the limit fits, one byte more does not. */
	fcgi_params_init(&p);
	assert_int_equal(fcgi_params_add(&p, sp(chunk, FCGI_PARAMS_MAX_BYTES - 1)), 0);
	assert_int_equal(fcgi_params_add(&p, sp(chunk, 2)), -EMSGSIZE);
	assert_int_equal(p.len, FCGI_PARAMS_MAX_BYTES - 1);
	assert_int_equal(fcgi_params_add(&p, sp(chunk, 1)), 0);
	assert_int_equal(p.len, FCGI_PARAMS_MAX_BYTES);
	assert_int_equal(fcgi_params_add(&p, sp(chunk, 1)), -EMSGSIZE);
}

static void test_content_length(void **state)
{
	static const struct {
		const char *s;
		int rc;
		uint64_t n;
	} cases[] = {
		{ "", 0, 0 },
		{ "0", 0, 0 },
		{ "000", 0, 0 },
		{ "1234", 0, 1234 },
		{ "5000", 0, 5000 },
		{ "5001", -EMSGSIZE, 0 },
		{ "-1", -EPROTO, 0 },
		{ "+1", -EPROTO, 0 },
		{ " 1", -EPROTO, 0 },
		{ "1 ", -EPROTO, 0 },
		{ "12a", -EPROTO, 0 },
		{ "0x10", -EPROTO, 0 },
		{ "18446744073709551615", -EMSGSIZE, 0 },
		{ "99999999999999999999999999", -EMSGSIZE, 0 },
		{ "18446744073709551616", -EMSGSIZE, 0 },
	};
	uint64_t n;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		n = 777;
		assert_int_equal(fcgi_content_length(str(cases[i].s), 5000, &n), cases[i].rc);
		assert_int_equal(n, cases[i].rc == 0 ? cases[i].n : 777);
	}
	/* absent */
	assert_int_equal(fcgi_content_length(sp(NULL, 0), 1000, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(fcgi_content_length(str("18446744073709551615"), UINT64_MAX, &n), 0);
	assert_true(n == UINT64_MAX);
	assert_int_equal(fcgi_content_length(str("18446744073709551616"), UINT64_MAX, &n),
			 -EMSGSIZE);
}

/* ---- requests, routing, BEGIN_REQUEST ---- */

static struct fcgi_record rec(uint8_t type, uint16_t id, const void *p, size_t len)
{
	struct fcgi_record r = { type, id, 0, sp(p, len) };
	return r;
}

static const uint8_t begin_keep[8] = { 0, FCGI_RESPONDER, FCGI_KEEP_CONN };
static const uint8_t begin_close[8] = { 0, FCGI_RESPONDER, 0 };

static void test_begin(void **state)
{
	uint8_t body[16] = { 0, FCGI_RESPONDER };
	struct fcgi_begin b;
	struct fcgi_reqs t;
	struct fcgi_record r;
	int slot = -1;

	(void)state;
	fcgi_reqs_init(&t);
	/* wrong body lengths */
	for (size_t len = 0; len <= sizeof(body); len++) {
		r = rec(FCGI_BEGIN_REQUEST, 5, body, len);
		if (len == FCGI_BEGIN_BODY_BYTES) {
			assert_int_equal(fcgi_begin_parse(r.content, &b), 0);
			continue;
		}
		assert_int_equal(fcgi_begin_parse(r.content, &b), -EPROTO);
		assert_int_equal(fcgi_reqs_begin(&t, &r, &slot), -EPROTO);
	}
	assert_int_equal(t.n, 0);

	/* unknown roles are refused with UNKNOWN_ROLE, and leave nothing behind */
	for (unsigned role = 0; role < 0x10000; role += role < 8 ? 1 : 0x1111) {
		body[0] = (uint8_t)(role >> 8);
		body[1] = (uint8_t)role;
		r = rec(FCGI_BEGIN_REQUEST, 5, body, 8);
		assert_int_equal(fcgi_begin_parse(r.content, &b), 0);
		assert_int_equal(b.role, role);
		if (role == FCGI_RESPONDER) {
			assert_int_equal(fcgi_reqs_begin(&t, &r, &slot), 0);
			assert_int_equal(fcgi_reqs_end(&t, 5, &(bool){ false }), 0);
		} else {
			assert_int_equal(fcgi_reqs_begin(&t, &r, &slot), FCGI_UNKNOWN_ROLE);
		}
		assert_int_equal(t.n, 0);
		assert_int_equal(fcgi_reqs_find(&t, 5), -ENOENT);
	}

	/* id 0 is never a request */
	r = rec(FCGI_BEGIN_REQUEST, 0, begin_keep, 8);
	assert_int_equal(fcgi_reqs_begin(&t, &r, &slot), -EPROTO);
	/* not a BEGIN_REQUEST */
	r = rec(FCGI_STDIN, 3, begin_keep, 8);
	assert_int_equal(fcgi_reqs_begin(&t, &r, &slot), -EPROTO);
}

static void test_reqs_table(void **state)
{
	struct fcgi_reqs t;
	struct fcgi_record r;
	int slot, slots[FCGI_MAX_REQS_PER_CONN];
	bool close_conn;

	(void)state;
	fcgi_reqs_init(&t);
	for (int i = 0; i < FCGI_MAX_REQS_PER_CONN; i++) {
		r = rec(FCGI_BEGIN_REQUEST, (uint16_t)(100 + i), i % 2 ? begin_keep : begin_close,
			8);
		assert_int_equal(fcgi_record_route(&t, &r), FCGI_ROUTE_BEGIN);
		assert_int_equal(fcgi_reqs_begin(&t, &r, &slots[i]), 0);
		assert_int_equal(fcgi_reqs_find(&t, (uint16_t)(100 + i)), slots[i]);
		for (int j = 0; j < i; j++)
			assert_int_not_equal(slots[i], slots[j]);
	}
	assert_int_equal(t.n, FCGI_MAX_REQS_PER_CONN);
	/* full: OVERLOADED */
	r = rec(FCGI_BEGIN_REQUEST, 7, begin_keep, 8);
	assert_int_equal(fcgi_reqs_begin(&t, &r, &slot), FCGI_OVERLOADED);
	assert_int_equal(fcgi_reqs_find(&t, 7), -ENOENT);
	/* a second BEGIN for an active id */
	r = rec(FCGI_BEGIN_REQUEST, 100, begin_keep, 8);
	assert_int_equal(fcgi_record_route(&t, &r), -EPROTO);
	assert_int_equal(fcgi_reqs_begin(&t, &r, &slot), -EPROTO);

	/* KEEP_CONN decides whether the connection closes after the request */
	assert_int_equal(fcgi_reqs_end(&t, 100, &close_conn), 0);
	assert_true(close_conn);
	assert_int_equal(fcgi_reqs_end(&t, 101, &close_conn), 0);
	assert_false(close_conn);
	assert_int_equal(fcgi_reqs_end(&t, 101, &close_conn), -ENOENT);
	assert_int_equal(fcgi_reqs_end(&t, 0, &close_conn), -ENOENT);
	assert_int_equal(t.n, FCGI_MAX_REQS_PER_CONN - 2);
	/* freed slots are reused, other slots do not move */
	r = rec(FCGI_BEGIN_REQUEST, 7, begin_keep, 8);
	assert_int_equal(fcgi_reqs_begin(&t, &r, &slot), 0);
	assert_true(slot == slots[0] || slot == slots[1]);
	for (int i = 2; i < FCGI_MAX_REQS_PER_CONN; i++)
		assert_int_equal(fcgi_reqs_find(&t, (uint16_t)(100 + i)), slots[i]);
}

static void test_route(void **state)
{
	struct fcgi_reqs t;
	struct fcgi_record r;
	int slot;

	(void)state;
	fcgi_reqs_init(&t);
	r = rec(FCGI_BEGIN_REQUEST, 1, begin_keep, 8);
	assert_int_equal(fcgi_reqs_begin(&t, &r, &slot), 0);

	for (unsigned type = 0; type < 256; type++) {
		int on_active, on_idle, mgmt;

		r = rec((uint8_t)type, 0, NULL, 0);
		mgmt = fcgi_record_route(&t, &r);
		r = rec((uint8_t)type, 1, NULL, 0);
		on_active = fcgi_record_route(&t, &r);
		r = rec((uint8_t)type, 2, NULL, 0);
		on_idle = fcgi_record_route(&t, &r);

		/* management records: only GET_VALUES is known, the rest get UNKNOWN_TYPE */
		assert_int_equal(mgmt, type == FCGI_GET_VALUES ? FCGI_ROUTE_GET_VALUES
							       : FCGI_ROUTE_UNKNOWN_TYPE);
		/* ids that do not exist are ignored, except BEGIN_REQUEST */
		assert_int_equal(on_idle,
				 type == FCGI_BEGIN_REQUEST ? FCGI_ROUTE_BEGIN : FCGI_ROUTE_IGNORE);
		switch (type) {
		case FCGI_ABORT_REQUEST:
		case FCGI_PARAMS:
		case FCGI_STDIN:
		case FCGI_DATA:
			assert_int_equal(on_active, FCGI_ROUTE_REQUEST);
			break;
		default:
			assert_int_equal(on_active, -EPROTO);
		}
	}
}

/* ---- GET_VALUES ---- */

static void test_get_values(void **state)
{
	static const uint8_t golden_result[] = {
		0x01, 0x0a, 0x00, 0x00, 0x00, 0x35, 0x03, 0x00, /* 53 bytes + 3 padding */
		0x0e, 0x02, 'F',  'C',	'G',  'I',  '_',  'M',	'A',  'X', '_', 'C',  'O',  'N',
		'N',  'S',  '6',  '4',	0x0d, 0x02, 'F',  'C',	'G',  'I', '_', 'M',  'A',  'X',
		'_',  'R',  'E',  'Q',	'S',  '1',  '6',  0x0f, 0x01, 'F', 'C', 'G',  'I',  '_',
		'M',  'P',  'X',  'S',	'_',  'C',  'O',  'N',	'N',  'S', '1', 0x00, 0x00, 0x00,
	};
	uint8_t content[256], stream[512], reply[256];
	struct writer cw = writer_make(content, sizeof(content));
	struct writer sw = writer_make(stream, sizeof(stream));
	struct writer rw = writer_make(reply, sizeof(reply));
	struct fcgi_reqs t;
	struct fcgi_record r;
	struct cursor c, pc;
	struct span name, value;
	int n = 0;

	(void)state;
	fcgi_reqs_init(&t);
	/* the web server asks for all three, one twice, and one name httun does not know */
	assert_int_equal(fcgi_write_pair(&cw, str("FCGI_MAX_CONNS"), str("")), 0);
	assert_int_equal(fcgi_write_pair(&cw, str("FCGI_NO_SUCH"), str("")), 0);
	assert_int_equal(fcgi_write_pair(&cw, str("FCGI_MAX_REQS"), str("")), 0);
	assert_int_equal(fcgi_write_pair(&cw, str("FCGI_MAX_CONNS"), str("")), 0);
	assert_int_equal(fcgi_write_pair(&cw, str("FCGI_MPXS_CONNS"), str("")), 0);
	assert_int_equal(fcgi_write_record(&sw, FCGI_GET_VALUES, 0, content, cw.len), 0);

	c = cursor_make(stream, sw.len);
	assert_int_equal(fcgi_record_next(&c, &r), 1);
	assert_int_equal(fcgi_record_route(&t, &r), FCGI_ROUTE_GET_VALUES);
	assert_int_equal(fcgi_write_get_values_result(&rw, r.content), 0);
	assert_int_equal(rw.len, sizeof(golden_result));
	assert_memory_equal(reply, golden_result, sizeof(golden_result));

	/* round trip: the reply reads back as three pairs */
	c = cursor_make(reply, rw.len);
	assert_int_equal(fcgi_record_next(&c, &r), 1);
	assert_int_equal(r.type, FCGI_GET_VALUES_RESULT);
	assert_int_equal(r.request_id, 0);
	pc = cursor_make(r.content.p, r.content.len);
	while (fcgi_params_next(&pc, &name, &value) == 1)
		n++;
	assert_int_equal(n, 3);
	assert_int_equal(pc.len, 0);

	/* nothing known asked: an empty result */
	rw = writer_make(reply, sizeof(reply));
	assert_int_equal(fcgi_write_get_values_result(&rw, sp(NULL, 0)), 0);
	assert_int_equal(rw.len, 8);
	assert_memory_equal(reply, "\x01\x0a\x00\x00\x00\x00\x00\x00", 8);

	/* malformed request */
	rw = writer_make(reply, sizeof(reply));
	assert_int_equal(fcgi_write_get_values_result(&rw, sp(content, cw.len - 1)), -EPROTO);
	assert_int_equal(rw.len, 0);
	/* no room */
	rw = writer_make(reply, sizeof(golden_result) - 1);
	assert_int_equal(fcgi_write_get_values_result(&rw, sp(content, cw.len)), -ENOBUFS);
	assert_int_equal(rw.len, 0);
}

/* ---- STDOUT without copying ---- */

static void check_layout(size_t body_len, bool pad)
{
	static uint8_t body[200000], joined[200000 + 4 * FCGI_RECORD_MAX_BYTES];
	static uint8_t hdrs[8 * 8];
	struct span spans[4 * FCGI_STDOUT_SPANS_PER_RECORD];
	size_t records = fcgi_stdout_count(body_len), n = 0, jl = 0, got = 0, count = 0;
	struct writer hw = writer_make(hdrs, sizeof(hdrs));
	struct fcgi_record r;
	struct cursor c;

	for (size_t i = 0; i < body_len; i++)
		body[i] = (uint8_t)(i * 7 + 3);
	assert_true(records <= 4);
	assert_int_equal(
		fcgi_stdout_layout(9, sp(body, body_len), pad, &hw, spans, ARRAY_LEN(spans), &n),
		0);
	assert_int_equal(hw.len, records * 8);
	assert_int_equal(n, 2 * records + (pad && body_len % 8 ? 1 : 0));
	for (size_t i = 0; i < n; i++) {
		memcpy(joined + jl, spans[i].p, spans[i].len);
		jl += spans[i].len;
		/* the body is never copied: its slices point into it */
		if (i % 2 == 1 && i < 2 * records)
			assert_ptr_equal(spans[i].p, body + (i / 2) * FCGI_STDOUT_RECORD_BYTES);
	}
	if (pad)
		assert_int_equal(jl % 8, 0);
	c = cursor_make(joined, jl);
	while (fcgi_record_next(&c, &r) == 1) {
		assert_int_equal(r.type, FCGI_STDOUT);
		assert_int_equal(r.request_id, 9);
		assert_true(r.content.len > 0 && r.content.len <= FCGI_MAX_CONTENT_BYTES);
		assert_memory_equal(r.content.p, body + got, r.content.len);
		got += r.content.len;
		count++;
	}
	assert_int_equal(c.len, 0);
	assert_int_equal(got, body_len);
	assert_int_equal(count, records);

	/* one span or one header byte short: refused, nothing laid out */
	if (n) {
		hw = writer_make(hdrs, sizeof(hdrs));
		assert_int_equal(
			fcgi_stdout_layout(9, sp(body, body_len), pad, &hw, spans, n - 1, &n),
			-ENOBUFS);
		assert_int_equal(hw.len, 0);
		hw = writer_make(hdrs, records * 8 - 1);
		assert_int_equal(fcgi_stdout_layout(9, sp(body, body_len), pad, &hw, spans,
						    ARRAY_LEN(spans), &n),
				 -ENOBUFS);
		assert_int_equal(hw.len, 0);
	}
}

static void test_stdout_layout(void **state)
{
	static const size_t lens[] = { 0,     1,     3,	    8,	    65527,  65528,
				       65529, 65535, 65536, 131056, 131057, 200000 };

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(lens); i++) {
		check_layout(lens[i], false);
		check_layout(lens[i], true);
	}
	assert_int_equal(fcgi_stdout_count(0), 0);
	assert_int_equal(fcgi_stdout_count(65528), 1);
	assert_int_equal(fcgi_stdout_count(65529), 2);
}

/*
 * A body in pieces comes out as the same records as the joined body: cut into three at
 * every pair of positions near the record boundaries, with an empty piece in between.
 */
static void test_stdout_layoutv(void **state)
{
	static uint8_t body[140000], joined[140000 + 8 * 8 + 8], ref[140000 + 8 * 8 + 8];
	static const size_t cuts[] = { 0, 1, 7, 8, 65527, 65528, 65529, 131056, 131057, 139999 };
	size_t len = sizeof(body);
	uint8_t hdrs[8 * 8];
	struct span spans[16], rspans[16];
	size_t n, rn, jl, rl;

	(void)state;
	for (size_t i = 0; i < len; i++)
		body[i] = (uint8_t)(i * 13 + 5);
	for (int pad = 0; pad < 2; pad++) {
		struct writer hw = writer_make(hdrs, sizeof(hdrs));

		assert_int_equal(fcgi_stdout_layout(4, sp(body, len), pad, &hw, rspans,
						    ARRAY_LEN(rspans), &rn),
				 0);
		rl = 0;
		for (size_t i = 0; i < rn; i++) {
			memcpy(ref + rl, rspans[i].p, rspans[i].len);
			rl += rspans[i].len;
		}
		for (size_t a = 0; a < ARRAY_LEN(cuts); a++) {
			for (size_t b = a; b < ARRAY_LEN(cuts); b++) {
				struct span parts[4] = { sp(body, cuts[a]), sp(body + cuts[a], 0),
							 sp(body + cuts[a], cuts[b] - cuts[a]),
							 sp(body + cuts[b], len - cuts[b]) };

				hw = writer_make(hdrs, sizeof(hdrs));
				assert_int_equal(fcgi_stdout_layoutv(4, parts, 4, pad, &hw, spans,
								     fcgi_stdout_spans(len, 4), &n),
						 0);
				jl = 0;
				for (size_t i = 0; i < n; i++) {
					assert_true(spans[i].len > 0);
					memcpy(joined + jl, spans[i].p, spans[i].len);
					jl += spans[i].len;
				}
				assert_int_equal(jl, rl);
				assert_memory_equal(joined, ref, rl);
				/* one span short: refused, and the headers are taken back */
				hw = writer_make(hdrs, sizeof(hdrs));
				assert_int_equal(fcgi_stdout_layoutv(4, parts, 4, pad, &hw, spans,
								     n - 1, &n),
						 -ENOBUFS);
				assert_int_equal(hw.len, 0);
			}
		}
	}
}

/* The golden STDOUT record, laid out without copying. */
static void test_stdout_golden(void **state)
{
	uint8_t hdrs[8], joined[32];
	struct writer hw = writer_make(hdrs, sizeof(hdrs));
	struct span spans[3];
	size_t n = 0, jl = 0;

	(void)state;
	assert_int_equal(fcgi_stdout_layout(1, str("hi!"), true, &hw, spans, 3, &n), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		memcpy(joined + jl, spans[i].p, spans[i].len);
		jl += spans[i].len;
	}
	assert_int_equal(jl, sizeof(golden_stdout));
	assert_memory_equal(joined, golden_stdout, jl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_golden),
		cmocka_unit_test(test_write_golden),
		cmocka_unit_test(test_write_no_room),
		cmocka_unit_test(test_stream_splits),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_max_record),
		cmocka_unit_test(test_wrong_version),
		cmocka_unit_test(test_params_hostile),
		cmocka_unit_test(test_params_length_forms),
		cmocka_unit_test(test_params_truncations),
		cmocka_unit_test(test_params_accumulate),
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_begin),
		cmocka_unit_test(test_reqs_table),
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_get_values),
		cmocka_unit_test(test_stdout_layout),
		cmocka_unit_test(test_stdout_layoutv),
		cmocka_unit_test(test_stdout_golden),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
