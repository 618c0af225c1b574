/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/batch.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Two 20-byte IPv4 headers (protocol 253, 198.18.0.1 <-> 198.18.0.2, valid checksums). */
static const uint8_t pkt1[] = { 0x45, 0x00, 0x00, 0x14, 0x00, 0x01, 0x00, 0x00, 0x40, 0xfd,
				0xed, 0xc4, 0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x02 };
static const uint8_t pkt2[] = { 0x45, 0x00, 0x00, 0x14, 0x00, 0x02, 0x00, 0x00, 0x40, 0xfd,
				0xed, 0xc3, 0xc6, 0x12, 0x00, 0x02, 0xc6, 0x12, 0x00, 0x01 };

/* Golden vector, docs/PROTOCOL.md section 5: both packets as IP records, padded to 52. */
static const uint8_t golden_plain[52] = {
	0x01, 0x00, 0x14, /* IP, 20 bytes */
	0x45, 0x00, 0x00, 0x14, 0x00, 0x01, 0x00, 0x00, 0x40, 0xfd,
	0xed, 0xc4, 0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x02, /* */
	0x01, 0x00, 0x14, /* IP, 20 bytes */
	0x45, 0x00, 0x00, 0x14, 0x00, 0x02, 0x00, 0x00, 0x40, 0xfd,
	0xed, 0xc3, 0xc6, 0x12, 0x00, 0x02, 0xc6, 0x12, 0x00, 0x01, /* */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* PAD, then 5 bytes of padding */
};
#define GOLDEN_RECORDS_BYTES 46

static void test_golden_plaintext_build(void **state)
{
	uint8_t buf[FRAME_OVERHEAD_BYTES + sizeof(golden_plain)];
	struct batch b;

	(void)state;
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(batch_init(&b, buf, sizeof(buf)), 0);
	assert_int_equal(batch_add_ip(&b, pkt1, sizeof(pkt1)), 0);
	assert_int_equal(batch_add_ip(&b, pkt2, sizeof(pkt2)), 0);
	assert_int_equal(batch_plaintext_len(&b), GOLDEN_RECORDS_BYTES);
	assert_int_equal(batch_pad(&b, sizeof(golden_plain)), 0);
	assert_int_equal(batch_plaintext_len(&b), sizeof(golden_plain));
	assert_int_equal(batch_frame_len(&b), sizeof(buf));
	assert_ptr_equal(batch_frame(&b), buf);
	assert_ptr_equal(batch_plaintext(&b), buf + FRAME_HEADER_BYTES);
	assert_memory_equal(buf + FRAME_HEADER_BYTES, golden_plain, sizeof(golden_plain));
	/* The header and tag room are left for session_seal. */
	for (size_t i = 0; i < FRAME_HEADER_BYTES; i++)
		assert_int_equal(buf[i], 0xaa);
	for (size_t i = FRAME_HEADER_BYTES + sizeof(golden_plain); i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xaa);
}

static void test_golden_plaintext_decode(void **state)
{
	struct cursor c = cursor_make(golden_plain, sizeof(golden_plain));
	struct record r;

	(void)state;
	assert_int_equal(record_next(&c, &r), 1);
	assert_int_equal(r.type, REC_IP);
	assert_ptr_equal(r.body.p, golden_plain + 3);
	assert_int_equal(r.body.len, sizeof(pkt1));
	assert_memory_equal(r.body.p, pkt1, sizeof(pkt1));
	assert_int_equal(record_next(&c, &r), 1);
	assert_int_equal(r.type, REC_IP);
	assert_int_equal(r.body.len, sizeof(pkt2));
	assert_memory_equal(r.body.p, pkt2, sizeof(pkt2));
	assert_int_equal(record_next(&c, &r), 0);
	assert_int_equal(c.len, 0);
	assert_int_equal(record_next(&c, &r), 0);
}

/* Every prefix: whole records decode, a cut record is -EPROTO and consumes nothing. */
static void test_record_every_truncation(void **state)
{
	(void)state;
	for (size_t n = 0; n <= GOLDEN_RECORDS_BYTES; n++) {
		uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees any overread */
		struct cursor c;
		struct record r;
		size_t whole = n / 23, got = 0;
		int rc;

		assert_non_null(copy);
		memcpy(copy, golden_plain, n);
		c = cursor_make(copy, n);
		while ((rc = record_next(&c, &r)) == 1)
			got++;
		assert_int_equal(got, whole);
		if (n % 23 == 0) {
			assert_int_equal(rc, 0);
			assert_int_equal(c.len, 0);
		} else {
			assert_int_equal(rc, -EPROTO);
			assert_ptr_equal(c.p, copy + whole * 23);
			assert_int_equal(c.len, n - whole * 23);
		}
		free(copy);
	}
}

static void test_record_lying_lengths(void **state)
{
	static const uint16_t lies[] = { 21, 22, 0x100, 0x8000, 0xffff };
	uint8_t rec[23];
	struct record r;

	(void)state;
	memcpy(rec, golden_plain, sizeof(rec));
	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		struct cursor c = cursor_make(rec, sizeof(rec));

		store_be16(rec + 1, lies[i]);
		assert_int_equal(record_next(&c, &r), -EPROTO);
		assert_ptr_equal(c.p, rec);
		assert_int_equal(c.len, sizeof(rec));
	}
	/* Shorter than the bytes that follow is not a lie: the rest is the next record. */
	store_be16(rec + 1, 19);
	struct cursor c = cursor_make(rec, sizeof(rec));
	assert_int_equal(record_next(&c, &r), 1);
	assert_int_equal(r.body.len, 19);
	assert_int_equal(c.len, 1);
	/* The leftover byte 0x02 is no record type. */
	assert_int_equal(record_next(&c, &r), -EPROTO);

	/* An empty IP record is not a packet. */
	static const uint8_t empty_ip[] = { 0x01, 0x00, 0x00 };
	c = cursor_make(empty_ip, sizeof(empty_ip));
	assert_int_equal(record_next(&c, &r), -EPROTO);
}

static void test_record_types(void **state)
{
	uint8_t rec[4] = { 0, 0x00, 0x01, 0x7f };
	int known = 0;

	(void)state;
	for (int t = 0; t < 256; t++) {
		struct cursor c = cursor_make(rec, sizeof(rec));
		struct record r;
		int rc;

		rec[0] = (uint8_t)t;
		rc = record_next(&c, &r);
		if (t == REC_PAD) {
			assert_int_equal(rc, 0);
			assert_int_equal(c.len, 0);
		} else if (t == REC_IP || (t >= REC_L7_OPEN && t <= REC_L7_RESET)) {
			assert_int_equal(rc, 1);
			assert_int_equal(r.type, t);
			assert_int_equal(r.body.len, 1);
			assert_int_equal(r.body.p[0], 0x7f);
			known++;
		} else {
			assert_int_equal(rc, -EPROTO);
			assert_int_equal(c.len, sizeof(rec));
		}
	}
	assert_int_equal(known, 5);
}

/* PAD ends decoding even when what follows looks like records or garbage. */
/*
 * IP_GSO (docs/PROTOCOL.md section 5): the length field counts the packet only, the
 * 10-byte virtio_net_hdr before it is not counted.
 */
static const uint8_t golden_gso[] = {
	0x02, 0x00, 0x14, /* IP_GSO, packet of 20 bytes */
	0x01, 0x01, 0x00, 0x14, 0x05, 0x78, 0x00, 0x00, 0x00, 0x10, /* vnet hdr */
	0x45, 0x00, 0x00, 0x14, 0x00, 0x01, 0x00, 0x00, 0x40, 0xfd,
	0xed, 0xc4, 0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x02, /* */
};

static void test_gso_record(void **state)
{
	uint8_t buf[FRAME_OVERHEAD_BYTES + sizeof(golden_gso)];
	struct batch b;
	struct record r;
	struct cursor c;
	uint8_t *p;

	(void)state;
	c = cursor_make(golden_gso, sizeof(golden_gso));
	assert_int_equal(record_next(&c, &r), 1);
	assert_int_equal(r.type, REC_IP_GSO);
	assert_int_equal(r.body.len, RECORD_GSO_HDR_BYTES + sizeof(pkt1));
	assert_ptr_equal(r.body.p, golden_gso + RECORD_HEADER_BYTES);
	assert_int_equal(c.len, 0);

	/* Every truncation is refused and consumes nothing. */
	for (size_t n = 1; n < sizeof(golden_gso); n++) {
		uint8_t *cut = malloc(n);

		memcpy(cut, golden_gso, n);
		c = cursor_make(cut, n);
		assert_int_equal(record_next(&c, &r), -EPROTO);
		assert_int_equal(c.len, n);
		free(cut);
	}
	/* A GSO record with an empty packet is malformed, even with the header present. */
	{
		const uint8_t empty[] = { 0x02, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };

		c = cursor_make(empty, sizeof(empty));
		assert_int_equal(record_next(&c, &r), -EPROTO);
	}

	/* Built in place through a reservation, exactly the golden bytes. */
	assert_int_equal(batch_init(&b, buf, sizeof(buf)), 0);
	assert_int_equal(batch_room_gso(&b), sizeof(golden_gso) - RECORD_HEADER_BYTES);
	p = batch_reserve(&b, REC_IP_GSO, batch_room_gso(&b));
	assert_non_null(p);
	memcpy(p, golden_gso + RECORD_HEADER_BYTES, sizeof(golden_gso) - RECORD_HEADER_BYTES);
	assert_int_equal(batch_commit(&b, sizeof(golden_gso) - RECORD_HEADER_BYTES), 0);
	assert_int_equal(batch_plaintext_len(&b), sizeof(golden_gso));
	assert_memory_equal(batch_plaintext(&b), golden_gso, sizeof(golden_gso));

	/* Too short to hold the header and one byte: refused, nothing written. */
	assert_int_equal(batch_init(&b, buf, sizeof(buf)), 0);
	assert_int_equal(batch_add(&b, REC_IP_GSO, golden_gso + 3, RECORD_GSO_HDR_BYTES), -EINVAL);
	assert_int_equal(batch_add(&b, REC_IP_GSO, golden_gso + 3, RECORD_GSO_HDR_BYTES + 1), 0);
	assert_int_equal(batch_plaintext_len(&b), RECORD_HEADER_BYTES + RECORD_GSO_HDR_BYTES + 1);
}

/* A whole 64 KiB segment fits one IP_GSO record, which a plain IP record could not carry. */
static void test_gso_record_max(void **state)
{
	size_t cap = FRAME_OVERHEAD_BYTES + RECORD_HEADER_BYTES + RECORD_MAX_GSO_BODY_BYTES;
	uint8_t *buf = calloc(1, cap);
	struct batch b;
	struct record r;
	struct cursor c;

	(void)state;
	assert_int_equal(batch_init(&b, buf, cap), 0);
	assert_int_equal(batch_room_gso(&b), RECORD_MAX_GSO_BODY_BYTES);
	assert_int_equal(batch_room(&b), RECORD_MAX_BODY_BYTES);
	assert_int_equal(batch_add(&b, REC_IP_GSO, buf, RECORD_MAX_GSO_BODY_BYTES + 1), -EINVAL);
	assert_non_null(batch_reserve(&b, REC_IP_GSO, RECORD_MAX_GSO_BODY_BYTES));
	assert_int_equal(batch_commit(&b, RECORD_MAX_GSO_BODY_BYTES), 0);
	assert_int_equal(batch_room_gso(&b), 0);
	c = cursor_make(batch_plaintext(&b), batch_plaintext_len(&b));
	assert_int_equal(record_next(&c, &r), 1);
	assert_int_equal(r.body.len, RECORD_MAX_GSO_BODY_BYTES);
	assert_int_equal(load_be16(batch_plaintext(&b) + 1), RECORD_MAX_BODY_BYTES);
	assert_int_equal(record_next(&c, &r), 0);
	free(buf);
}

static void test_record_pad_hides_rest(void **state)
{
	static const uint8_t plain[] = { 0x01, 0x00, 0x01, 0x45, 0x00, 0x01,
					 0x00, 0x01, 0x45, 0xff, 0xff, 0xff };
	struct cursor c = cursor_make(plain, sizeof(plain));
	struct record r;

	(void)state;
	assert_int_equal(record_next(&c, &r), 1);
	assert_int_equal(record_next(&c, &r), 0);
	assert_int_equal(c.len, 0);
	/* Zero records (keepalive) and a lone PAD. */
	c = cursor_make(plain, 0);
	assert_int_equal(record_next(&c, &r), 0);
	c = cursor_make(plain + 4, 1);
	assert_int_equal(record_next(&c, &r), 0);
}

/* ---- body ---- */

static size_t put_frame(uint8_t *p, uint8_t type, uint32_t length, uint32_t receiver,
			uint64_t counter)
{
	p[0] = type;
	p[1] = 0;
	store_be16(p + 2, 0);
	store_be32(p + 4, length);
	store_be32(p + 8, receiver);
	store_be64(p + 12, counter);
	for (uint32_t i = 0; i < length + FRAME_TAG_BYTES; i++)
		p[FRAME_HEADER_BYTES + i] = (uint8_t)(i * 7 + 1);
	return FRAME_HEADER_BYTES + length + FRAME_TAG_BYTES;
}

/* INIT, DATA (length 10), POLL, RESPONSE, DATA (length 0). */
static size_t sample_body(uint8_t *p, size_t *ends)
{
	size_t n = 0, k = 0;

	memset(p, 0x11, MSG_INIT_BYTES);
	p[0] = MSG_INIT;
	n += MSG_INIT_BYTES;
	ends[k++] = n;
	n += put_frame(p + n, MSG_DATA, 10, 0x01020304, 7);
	ends[k++] = n;
	n += put_frame(p + n, MSG_POLL, 0, 0x01020304, 8);
	ends[k++] = n;
	memset(p + n, 0x22, MSG_RESPONSE_BYTES);
	p[n] = MSG_RESPONSE;
	n += MSG_RESPONSE_BYTES;
	ends[k++] = n;
	n += put_frame(p + n, MSG_DATA, 0, 0xfffffffe, UINT64_MAX);
	ends[k++] = n;
	return n;
}

static void test_body_decode(void **state)
{
	static const uint8_t types[] = { MSG_INIT, MSG_DATA, MSG_POLL, MSG_RESPONSE, MSG_DATA };
	uint8_t body[512];
	size_t ends[5];
	size_t n = sample_body(body, ends);
	struct cursor c = cursor_make(body, n);
	struct body_msg m;
	size_t start = 0;

	(void)state;
	assert_int_equal(n, 64 + 46 + 36 + 60 + 36);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(body_next(&c, &m), 1);
		assert_int_equal(m.type, types[i]);
		assert_ptr_equal(m.whole.p, body + start);
		assert_int_equal(m.whole.len, ends[i] - start);
		start = ends[i];
	}
	assert_int_equal(body_next(&c, &m), 0);
	/* The parsed frame headers. */
	c = cursor_make(body + ends[0], n - ends[0]);
	assert_int_equal(body_next(&c, &m), 1);
	assert_int_equal(m.hdr.type, MSG_DATA);
	assert_int_equal(m.hdr.length, 10);
	assert_int_equal(m.hdr.receiver, 0x01020304);
	assert_int_equal(m.hdr.counter, 7);
	c = cursor_make(body + ends[3], n - ends[3]);
	assert_int_equal(body_next(&c, &m), 1);
	assert_int_equal(m.hdr.length, 0);
	assert_int_equal(m.hdr.receiver, 0xfffffffe);
	assert_true(m.hdr.counter == UINT64_MAX);
}

/* Every prefix of the body decodes exactly up to the last whole message. */
static void test_body_every_truncation(void **state)
{
	uint8_t body[512];
	size_t ends[5];
	size_t total = sample_body(body, ends);

	(void)state;
	for (size_t n = 0; n <= total; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		struct cursor c;
		struct body_msg m;
		size_t whole = 0, got = 0, at = 0;
		int rc;

		assert_non_null(copy);
		memcpy(copy, body, n);
		while (whole < 5 && ends[whole] <= n)
			at = ends[whole++];
		c = cursor_make(copy, n);
		while ((rc = body_next(&c, &m)) == 1)
			got++;
		assert_int_equal(got, whole);
		assert_int_equal(rc, at == n ? 0 : -EPROTO);
		assert_ptr_equal(c.p, copy + at);
		free(copy);
	}
}

static void test_body_lying_lengths(void **state)
{
	static const uint32_t lies[] = { 11,
					 12,
					 0x10000,
					 FRAME_MAX_PLAINTEXT_BYTES,
					 FRAME_MAX_PLAINTEXT_BYTES + 1,
					 0x7fffffff,
					 0xffffffff };
	uint8_t frame[FRAME_OVERHEAD_BYTES + 10];
	struct body_msg m;

	(void)state;
	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		struct cursor c = cursor_make(frame, sizeof(frame));

		put_frame(frame, MSG_DATA, 10, 1, 1);
		store_be32(frame + 4, lies[i]);
		assert_int_equal(body_next(&c, &m), -EPROTO);
		assert_int_equal(c.len, sizeof(frame));
	}
	/* Shorter than the bytes that follow: the frame ends early and the rest is garbage. */
	put_frame(frame, MSG_DATA, 10, 1, 1);
	store_be32(frame + 4, 9);
	struct cursor c = cursor_make(frame, sizeof(frame));
	assert_int_equal(body_next(&c, &m), 1);
	assert_int_equal(m.whole.len, sizeof(frame) - 1);
	assert_int_equal(body_next(&c, &m), -EPROTO);
}

/* A frame at exactly FRAME_MAX_PLAINTEXT_BYTES passes, one byte more does not. */
static void test_body_frame_max(void **state)
{
	size_t n = FRAME_OVERHEAD_BYTES + FRAME_MAX_PLAINTEXT_BYTES + 1;
	uint8_t *body = calloc(1, n);
	struct cursor c;
	struct body_msg m;

	(void)state;
	assert_non_null(body);
	put_frame(body, MSG_DATA, FRAME_MAX_PLAINTEXT_BYTES, 1, 1);
	c = cursor_make(body, n - 1);
	assert_int_equal(body_next(&c, &m), 1);
	assert_int_equal(m.whole.len, n - 1);
	assert_int_equal(body_next(&c, &m), 0);
	store_be32(body + 4, FRAME_MAX_PLAINTEXT_BYTES + 1);
	c = cursor_make(body, n);
	assert_int_equal(body_next(&c, &m), -EPROTO);
	free(body);
}

static void test_body_bad_headers(void **state)
{
	uint8_t frame[FRAME_OVERHEAD_BYTES + 4];
	struct cursor c;
	struct body_msg m;
	int ok = 0;

	(void)state;
	/* Every type byte: only 1..4 start a message. */
	for (int t = 0; t < 256; t++) {
		memset(frame, 0, sizeof(frame));
		frame[0] = (uint8_t)t;
		c = cursor_make(frame, t == MSG_DATA ? FRAME_OVERHEAD_BYTES : sizeof(frame));
		int rc = body_next(&c, &m);
		if (t >= MSG_INIT && t <= MSG_POLL) {
			/* INIT/RESPONSE want more bytes than 40 */
			assert_int_equal(rc, t == MSG_DATA || t == MSG_POLL ? 1 : -EPROTO);
			ok += rc == 1;
		} else {
			assert_int_equal(rc, -EPROTO);
		}
	}
	assert_int_equal(ok, 2);
	/* POLL must have length 0. */
	put_frame(frame, MSG_POLL, 4, 1, 1);
	c = cursor_make(frame, sizeof(frame));
	assert_int_equal(body_next(&c, &m), -EPROTO);
	/* Unknown flag bits, nonzero reserved. */
	put_frame(frame, MSG_DATA, 4, 1, 1);
	frame[1] = 0x02;
	c = cursor_make(frame, sizeof(frame));
	assert_int_equal(body_next(&c, &m), -EPROTO);
	frame[1] = FRAME_FLAG_REKEY;
	c = cursor_make(frame, sizeof(frame));
	assert_int_equal(body_next(&c, &m), 1);
	assert_int_equal(m.hdr.flags, FRAME_FLAG_REKEY);
	frame[3] = 1;
	c = cursor_make(frame, sizeof(frame));
	assert_int_equal(body_next(&c, &m), -EPROTO);
}

/* ---- building ---- */

static void test_batch_init_sizes(void **state)
{
	uint8_t buf[FRAME_OVERHEAD_BYTES + 4];
	struct batch b;

	(void)state;
	assert_int_equal(batch_init(&b, buf, FRAME_OVERHEAD_BYTES - 1), -EMSGSIZE);
	assert_int_equal(batch_init(&b, buf, FRAME_OVERHEAD_BYTES), 0);
	assert_int_equal(batch_room(&b), 0);
	assert_int_equal(batch_plaintext_len(&b), 0);
	assert_int_equal(batch_frame_len(&b), FRAME_OVERHEAD_BYTES);
	assert_int_equal(batch_add_ip(&b, pkt1, 1), -ENOSPC);
	for (size_t extra = 1; extra <= 2; extra++) {
		assert_int_equal(batch_init(&b, buf, FRAME_OVERHEAD_BYTES + extra), 0);
		assert_int_equal(batch_room(&b), 0);
		assert_int_equal(batch_add_ip(&b, pkt1, 1), -ENOSPC);
		assert_null(batch_reserve(&b, REC_IP, 1));
		assert_int_equal(batch_pad(&b, extra), 0);
	}
	assert_int_equal(batch_init(&b, buf, FRAME_OVERHEAD_BYTES + 3), 0);
	assert_int_equal(batch_room(&b), 0);
	assert_int_equal(batch_add_ip(&b, pkt1, 1), -ENOSPC);
	assert_int_equal(batch_init(&b, buf, FRAME_OVERHEAD_BYTES + 4), 0);
	assert_int_equal(batch_room(&b), 1);
	assert_int_equal(batch_add_ip(&b, pkt1, 1), 0);
	assert_int_equal(batch_room(&b), 0);
	assert_int_equal(batch_frame_len(&b), sizeof(buf));
}

static void test_batch_bad_args(void **state)
{
	uint8_t buf[256];
	struct batch b;

	(void)state;
	assert_int_equal(batch_init(&b, buf, sizeof(buf)), 0);
	assert_int_equal(batch_add(&b, REC_PAD, pkt1, 1), -EINVAL);
	assert_int_equal(batch_add(&b, 0x02, pkt1, 1), -EINVAL);
	assert_int_equal(batch_add(&b, 0x14, pkt1, 1), -EINVAL);
	assert_int_equal(batch_add_ip(&b, pkt1, 0), -EINVAL);
	assert_int_equal(batch_add_ip(&b, pkt1, RECORD_MAX_BODY_BYTES + 1), -EINVAL);
	assert_null(batch_reserve(&b, REC_PAD, 10));
	assert_null(batch_reserve(&b, 0x20, 10));
	assert_int_equal(batch_commit(&b, 0), -EINVAL); /* no reservation */
	assert_int_equal(batch_plaintext_len(&b), 0);
}

/* Fill a frame to the last byte; the failed add writes nothing, not even a header. */
static void test_batch_full(void **state)
{
	enum {
		PLAIN = 100
	};
	uint8_t buf[FRAME_OVERHEAD_BYTES + PLAIN + 8];
	uint8_t pkt[64];
	struct batch b;
	size_t n = 0;

	(void)state;
	memset(pkt, 0x5c, sizeof(pkt));
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(batch_init(&b, buf, FRAME_OVERHEAD_BYTES + PLAIN), 0);
	assert_int_equal(batch_room(&b), PLAIN - 3);
	/* 4 records of 20 bytes: 92 bytes; 8 left, room 5. */
	while (batch_add_ip(&b, pkt1, sizeof(pkt1)) == 0)
		n++;
	assert_int_equal(n, 4);
	assert_int_equal(batch_plaintext_len(&b), 92);
	assert_int_equal(batch_room(&b), 5);
	assert_int_equal(batch_add_ip(&b, pkt, 6), -ENOSPC);
	assert_null(batch_reserve(&b, REC_IP, 6));
	for (size_t i = FRAME_HEADER_BYTES + 92; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xaa);
	assert_int_equal(batch_add_ip(&b, pkt, 5), 0);
	assert_int_equal(batch_plaintext_len(&b), PLAIN);
	assert_int_equal(batch_room(&b), 0);
	assert_int_equal(batch_add_ip(&b, pkt, 1), -ENOSPC);
	assert_int_equal(batch_pad(&b, PLAIN + 1), -ENOSPC);
	assert_int_equal(batch_pad(&b, PLAIN), 0);
	/* Tag room and beyond untouched. */
	for (size_t i = FRAME_HEADER_BYTES + PLAIN; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xaa);
	/* And it decodes back: 4 + 1 records. */
	struct cursor c = cursor_make(batch_plaintext(&b), batch_plaintext_len(&b));
	struct record r;
	n = 0;
	while (record_next(&c, &r) == 1)
		n++;
	assert_int_equal(n, 5);
	assert_int_equal(r.body.len, 5);
}

/* A buffer far above the frame limit still yields frames of at most the limit. */
static void test_batch_frame_limit(void **state)
{
	size_t cap = 2 * FRAME_MAX_PLAINTEXT_BYTES;
	uint8_t *buf = malloc(cap);
	uint8_t *pkt = malloc(RECORD_MAX_BODY_BYTES);
	struct batch b;
	size_t n = 0;

	(void)state;
	assert_non_null(buf);
	assert_non_null(pkt);
	memset(pkt, 0x42, RECORD_MAX_BODY_BYTES);
	assert_int_equal(batch_init(&b, buf, cap), 0);
	assert_int_equal(batch_room(&b), RECORD_MAX_BODY_BYTES);
	while (batch_add_ip(&b, pkt, RECORD_MAX_BODY_BYTES) == 0)
		n++;
	assert_int_equal(n, FRAME_MAX_PLAINTEXT_BYTES / (RECORD_MAX_BODY_BYTES + 3));
	size_t left = FRAME_MAX_PLAINTEXT_BYTES - n * (RECORD_MAX_BODY_BYTES + 3);
	assert_int_equal(batch_room(&b), left - 3);
	assert_int_equal(batch_add_ip(&b, pkt, left - 2), -ENOSPC);
	assert_int_equal(batch_add_ip(&b, pkt, left - 3), 0);
	assert_int_equal(batch_plaintext_len(&b), FRAME_MAX_PLAINTEXT_BYTES);
	assert_int_equal(batch_pad(&b, FRAME_MAX_PLAINTEXT_BYTES + 1), -ENOSPC);
	free(pkt);
	free(buf);
}

static void test_batch_reserve(void **state)
{
	uint8_t buf[FRAME_OVERHEAD_BYTES + 64];
	struct batch b;
	uint8_t *p;

	(void)state;
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(batch_init(&b, buf, sizeof(buf)), 0);
	p = batch_reserve(&b, REC_IP, batch_room(&b));
	assert_ptr_equal(p, buf + FRAME_HEADER_BYTES + 3);
	/* While open: nothing else may be added. */
	assert_int_equal(batch_room(&b), 0);
	assert_int_equal(batch_add_ip(&b, pkt1, 1), -EBUSY);
	assert_null(batch_reserve(&b, REC_IP, 1));
	assert_int_equal(batch_pad(&b, 10), -EBUSY);
	memcpy(p, pkt1, sizeof(pkt1));
	assert_int_equal(batch_commit(&b, sizeof(pkt1)), 0);
	assert_int_equal(batch_plaintext_len(&b), 23);
	assert_memory_equal(buf + FRAME_HEADER_BYTES, golden_plain, 23);
	assert_int_equal(batch_commit(&b, 1), -EINVAL); /* closed already */

	/* Cancel, commit too long, empty IP: frame as before. */
	p = batch_reserve(&b, REC_IP, 10);
	assert_non_null(p);
	batch_cancel(&b);
	p = batch_reserve(&b, REC_IP, 10);
	assert_int_equal(batch_commit(&b, 11), -EINVAL);
	p = batch_reserve(&b, REC_IP, 10);
	assert_int_equal(batch_commit(&b, 0), -EINVAL);
	assert_int_equal(batch_plaintext_len(&b), 23);
	assert_int_equal(batch_room(&b), 64 - 23 - 3);
	assert_null(batch_reserve(&b, REC_IP, 64 - 23 - 2));
	assert_null(batch_reserve(&b, REC_IP, 0));

	/* Shorter than reserved: the record takes only what was committed. */
	p = batch_reserve(&b, REC_IP, 30);
	memcpy(p, pkt2, sizeof(pkt2));
	assert_int_equal(batch_commit(&b, sizeof(pkt2)), 0);
	assert_int_equal(batch_pad(&b, sizeof(golden_plain)), 0);
	assert_memory_equal(buf + FRAME_HEADER_BYTES, golden_plain, sizeof(golden_plain));
}

static void test_batch_pad(void **state)
{
	uint8_t buf[FRAME_OVERHEAD_BYTES + 64];
	struct batch b;

	(void)state;
	assert_int_equal(batch_init(&b, buf, sizeof(buf)), 0);
	assert_int_equal(batch_add_ip(&b, pkt1, 4), 0);
	assert_int_equal(batch_pad(&b, 6), -EINVAL);
	assert_int_equal(batch_pad(&b, 7), 0); /* nothing to do */
	assert_int_equal(batch_add_ip(&b, pkt1, 4), 0);
	assert_int_equal(batch_pad(&b, 65), -ENOSPC);
	assert_int_equal(batch_pad(&b, 15), 0); /* the PAD byte alone */
	assert_int_equal(batch_plaintext_len(&b), 15);
	assert_int_equal(buf[FRAME_HEADER_BYTES + 14], REC_PAD);
	assert_int_equal(batch_room(&b), 0);
	assert_int_equal(batch_add_ip(&b, pkt1, 4), -EBUSY);
	assert_int_equal(batch_pad(&b, 20), -EBUSY);
	assert_int_equal(batch_pad(&b, 15), 0);
}

/* Deterministic record sizes and bytes for the many-frames test. */
static size_t rec_len(size_t k)
{
	return 1 + (k * 977) % 1500;
}

static uint8_t rec_byte(size_t k, size_t i)
{
	return (uint8_t)(k * 31 + i);
}

/* Stand-in for session_seal (session.c is not linked here): header and a fake tag. */
static void fake_seal(struct batch *b, uint64_t counter)
{
	uint8_t *f = batch_frame(b);
	size_t len = batch_plaintext_len(b);

	f[0] = MSG_DATA;
	f[1] = 0;
	store_be16(f + 2, 0);
	store_be32(f + 4, (uint32_t)len);
	store_be32(f + 8, 9);
	store_be64(f + 12, counter);
	memset(f + FRAME_HEADER_BYTES + len, 0xee, FRAME_TAG_BYTES);
}

/* Build one body of many frames in one buffer, then decode it all back. */
static void test_body_many_frames(void **state)
{
	enum {
		CAP = 200000
	};
	uint8_t *buf = malloc(CAP);
	uint8_t pkt[1500];
	struct body_builder bb;
	struct batch b;
	size_t k = 0, frames = 0;

	(void)state;
	assert_non_null(buf);
	body_builder_init(&bb, buf, CAP);
	while (body_frame_begin(&bb, &b) == 0) {
		size_t added = 0, want = 1 + frames % 9;

		assert_ptr_equal(batch_frame(&b), buf + body_builder_len(&bb));
		while (added < want) {
			size_t len = rec_len(k);
			uint8_t *p;

			if (k % 2) {
				for (size_t i = 0; i < len; i++)
					pkt[i] = rec_byte(k, i);
				int rc = batch_add_ip(&b, pkt, len);
				if (rc == -ENOSPC)
					break;
				assert_int_equal(rc, 0);
			} else {
				if (batch_room(&b) < len) {
					assert_null(batch_reserve(&b, REC_IP, len));
					break;
				}
				p = batch_reserve(&b, REC_IP, batch_room(&b));
				assert_non_null(p);
				for (size_t i = 0; i < len; i++)
					p[i] = rec_byte(k, i);
				assert_int_equal(batch_commit(&b, len), 0);
			}
			k++;
			added++;
		}
		if (added == 0)
			break; /* begun, never ended: takes no room */
		fake_seal(&b, frames);
		assert_int_equal(body_frame_end(&bb, &b), 0);
		assert_int_equal(body_frame_end(&bb, &b), -EINVAL); /* not the next frame */
		frames++;
	}
	assert_true(frames > 20);
	assert_true(body_builder_len(&bb) <= CAP);
	assert_true(CAP - body_builder_len(&bb) < FRAME_OVERHEAD_BYTES + 3 + 1500);

	struct cursor c = cursor_make(buf, body_builder_len(&bb));
	struct body_msg m;
	size_t j = 0, f = 0;
	int rc;

	while ((rc = body_next(&c, &m)) == 1) {
		struct cursor pc = cursor_make(m.whole.p + FRAME_HEADER_BYTES, m.hdr.length);
		struct record r;

		assert_int_equal(m.type, MSG_DATA);
		assert_int_equal(m.hdr.counter, f);
		assert_int_equal(m.hdr.receiver, 9);
		assert_int_equal(m.whole.p[m.whole.len - 1], 0xee);
		while ((rc = record_next(&pc, &r)) == 1) {
			assert_int_equal(r.type, REC_IP);
			assert_int_equal(r.body.len, rec_len(j));
			for (size_t i = 0; i < r.body.len; i++)
				assert_int_equal(r.body.p[i], rec_byte(j, i));
			j++;
		}
		assert_int_equal(rc, 0);
		f++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(f, frames);
	assert_int_equal(j, k);
	free(buf);
}

static void test_body_builder_full(void **state)
{
	uint8_t buf[2 * FRAME_OVERHEAD_BYTES + 5];
	struct body_builder bb;
	struct batch b, other;

	(void)state;
	body_builder_init(&bb, buf, sizeof(buf));
	assert_int_equal(body_frame_begin(&bb, &b), 0);
	assert_int_equal(batch_add_ip(&b, pkt1, 2), 0);
	fake_seal(&b, 0);
	assert_int_equal(body_frame_end(&bb, &b), 0);
	assert_int_equal(body_builder_len(&bb), FRAME_OVERHEAD_BYTES + 5);
	/* An empty keepalive frame still fits, nothing more. */
	assert_int_equal(body_frame_begin(&bb, &b), 0);
	assert_int_equal(batch_room(&b), 0);
	/* A batch that is not this body's next frame is refused. */
	assert_int_equal(batch_init(&other, buf, sizeof(buf)), 0);
	assert_int_equal(body_frame_end(&bb, &other), -EINVAL);
	fake_seal(&b, 1);
	assert_int_equal(body_frame_end(&bb, &b), 0);
	assert_int_equal(body_builder_len(&bb), sizeof(buf));
	assert_int_equal(body_frame_begin(&bb, &b), -ENOSPC);

	struct cursor c = cursor_make(buf, sizeof(buf));
	struct body_msg m;
	assert_int_equal(body_next(&c, &m), 1);
	assert_int_equal(m.hdr.length, 5);
	assert_int_equal(body_next(&c, &m), 1);
	assert_int_equal(m.hdr.length, 0);
	assert_int_equal(body_next(&c, &m), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_plaintext_build),
		cmocka_unit_test(test_golden_plaintext_decode),
		cmocka_unit_test(test_record_every_truncation),
		cmocka_unit_test(test_record_lying_lengths),
		cmocka_unit_test(test_record_types),
		cmocka_unit_test(test_record_pad_hides_rest),
		cmocka_unit_test(test_gso_record),
		cmocka_unit_test(test_gso_record_max),
		cmocka_unit_test(test_body_decode),
		cmocka_unit_test(test_body_every_truncation),
		cmocka_unit_test(test_body_lying_lengths),
		cmocka_unit_test(test_body_frame_max),
		cmocka_unit_test(test_body_bad_headers),
		cmocka_unit_test(test_batch_init_sizes),
		cmocka_unit_test(test_batch_bad_args),
		cmocka_unit_test(test_batch_full),
		cmocka_unit_test(test_batch_frame_limit),
		cmocka_unit_test(test_batch_reserve),
		cmocka_unit_test(test_batch_pad),
		cmocka_unit_test(test_body_many_frames),
		cmocka_unit_test(test_body_builder_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
