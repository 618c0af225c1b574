/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/handshake.h"
#include "core/session.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

/*
 * Golden vector of docs/PROTOCOL.md section 3: psk 00..1f, e_c 20..3f, e_s 40..5f,
 * client index 0x11111111, server index 0x22222222, INIT timestamp 0x0102030405060708.
 * Computed independently with Python
 * (hashlib.blake2b keyed, cryptography's X25519) and the DH cross-checked with openssl.
 */
static const char golden_k_init[] =
	"5393996e294e03a0815b8a83ef94231f8951b908127f705af96efd2ff79fb728";
static const char golden_init[] = "0101000011111111"
				  "358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254"
				  "0102030405060708"
				  "caea0d0424718c377fde3ae62d06294a";
static const char golden_resp[] = "020100002222222211111111"
				  "79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a"
				  "511f0459f8c3a5b466946792cf187369";
static const char golden_k_c2s[] =
	"0cf15031d3a3053ad7a719cdc346848eed0bf8c5b0942d93792a8a7334d3637a";
static const char golden_k_s2c[] =
	"65e3851fbc854e4b8119eca30f3493b731a58badf9a0879f8a1453971a553129";

#define CLIENT_INDEX 0x11111111u
#define SERVER_INDEX 0x22222222u
#define GOLDEN_TS 0x0102030405060708u
#define INIT_TS_OFF 40
#define INIT_MAC_OFF 48

static void unhex(const char *hex, uint8_t *out, size_t len)
{
	size_t got = 0;

	assert_int_equal(strlen(hex), 2 * len);
	assert_int_equal(sodium_hex2bin(out, len, hex, strlen(hex), NULL, &got, NULL), 0);
	assert_int_equal(got, len);
}

static void assert_hex(const uint8_t *bytes, size_t len, const char *hex)
{
	uint8_t want[128];

	assert_true(len <= sizeof(want));
	unhex(hex, want, len);
	assert_memory_equal(bytes, want, len);
}

static void fill(uint8_t *p, size_t len, uint8_t first)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(first + i);
}

struct fixture {
	uint8_t psk[PSK_BYTES];
	uint8_t k_init[HANDSHAKE_INIT_KEY_BYTES];
	uint8_t e_c[HANDSHAKE_PRIVATE_BYTES];
	uint8_t e_s[HANDSHAKE_PRIVATE_BYTES];
	uint8_t init[MSG_INIT_BYTES];
	uint8_t resp[MSG_RESPONSE_BYTES];
	struct session_keys server, client;
};

static void golden(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	fill(f->psk, sizeof(f->psk), 0x00);
	fill(f->e_c, sizeof(f->e_c), 0x20);
	fill(f->e_s, sizeof(f->e_s), 0x40);
	handshake_init_key(f->psk, f->k_init);
	assert_int_equal(
		handshake_init_create_with(f->k_init, CLIENT_INDEX, GOLDEN_TS, f->e_c, f->init), 0);
	assert_int_equal(handshake_respond_with(f->psk, f->init, sizeof(f->init), SERVER_INDEX,
						f->e_s, f->resp, &f->server),
			 0);
	assert_int_equal(handshake_response_verify(f->psk, f->init, f->e_c, f->resp,
						   sizeof(f->resp), &f->client),
			 0);
}

static void test_golden_vector(void **state)
{
	struct fixture f;

	(void)state;
	golden(&f);
	assert_hex(f.k_init, sizeof(f.k_init), golden_k_init);
	assert_hex(f.init, sizeof(f.init), golden_init);
	assert_hex(f.resp, sizeof(f.resp), golden_resp);
	assert_int_equal(handshake_init_verify(f.init, sizeof(f.init), f.k_init), 0);
	assert_true(handshake_init_timestamp(f.init) == GOLDEN_TS);

	assert_hex(f.server.recv, 32, golden_k_c2s);
	assert_hex(f.server.send, 32, golden_k_s2c);
	assert_int_equal(f.server.local_index, SERVER_INDEX);
	assert_int_equal(f.server.remote_index, CLIENT_INDEX);

	assert_hex(f.client.send, 32, golden_k_c2s);
	assert_hex(f.client.recv, 32, golden_k_s2c);
	assert_int_equal(f.client.local_index, CLIENT_INDEX);
	assert_int_equal(f.client.remote_index, SERVER_INDEX);
}

/* Seal one DATA frame with a and open it with b; returns session_open's result. */
static int seal_open(struct session *a, struct session *b, uint8_t marker)
{
	uint8_t frame[FRAME_OVERHEAD_BYTES + 3];
	struct frame_header h;
	struct span pt;
	int err;

	memset(frame + FRAME_HEADER_BYTES, marker, 3);
	assert_int_equal(session_seal(a, MSG_DATA, 0, frame, 3), 0);
	assert_int_equal(frame_header_parse(frame, sizeof(frame), &h), 0);
	if (a != b)
		assert_int_equal(h.receiver, session_local_index(b));
	err = session_open(b, &h, frame, &pt, 0);
	if (err == 0) {
		assert_int_equal(pt.len, 3);
		assert_int_equal(pt.p[0], marker);
		assert_int_equal(pt.p[2], marker);
	}
	return err;
}

static void test_random_handshake_keys_work(void **state)
{
	uint8_t psk[PSK_BYTES], k_init[HANDSHAKE_INIT_KEY_BYTES];
	uint8_t e_c[HANDSHAKE_PRIVATE_BYTES], init[MSG_INIT_BYTES], resp[MSG_RESPONSE_BYTES];
	struct session_keys sk, ck;
	struct session *s, *c;

	(void)state;
	randombytes_buf(psk, sizeof(psk));
	handshake_init_key(psk, k_init);
	assert_int_equal(handshake_init_create(k_init, 7, 1, e_c, init), 0);
	assert_int_equal(handshake_respond(psk, init, sizeof(init), 9, resp, &sk), 0);
	assert_int_equal(handshake_response_verify(psk, init, e_c, resp, sizeof(resp), &ck), 0);
	assert_memory_equal(sk.send, ck.recv, 32);
	assert_memory_equal(sk.recv, ck.send, 32);
	assert_memory_not_equal(sk.send, sk.recv, 32);

	s = session_new(&sk, 0);
	c = session_new(&ck, 0);
	assert_non_null(s);
	assert_non_null(c);
	assert_int_equal(seal_open(c, s, 0xaa), 0);
	assert_int_equal(seal_open(s, c, 0xbb), 0);
	assert_int_equal(seal_open(c, s, 0xcc), 0);
	/* A session opens only what the other direction sealed. */
	assert_int_not_equal(seal_open(s, s, 0xdd), 0);
	session_free(s);
	session_free(c);
}

static void test_two_handshakes_differ(void **state)
{
	uint8_t psk[PSK_BYTES] = { 1 }, k_init[HANDSHAKE_INIT_KEY_BYTES];
	uint8_t e1[32], e2[32], i1[MSG_INIT_BYTES], i2[MSG_INIT_BYTES], r[MSG_RESPONSE_BYTES];
	struct session_keys k1, k2;

	(void)state;
	handshake_init_key(psk, k_init);
	assert_int_equal(handshake_init_create(k_init, 5, 1, e1, i1), 0);
	assert_int_equal(handshake_init_create(k_init, 5, 1, e2, i2), 0);
	assert_memory_not_equal(e1, e2, 32);
	assert_memory_not_equal(i1, i2, sizeof(i1));
	/* The same INIT answered twice: fresh server ephemeral, fresh keys. */
	assert_int_equal(handshake_respond(psk, i1, sizeof(i1), 6, r, &k1), 0);
	assert_int_equal(handshake_respond(psk, i1, sizeof(i1), 6, r, &k2), 0);
	assert_memory_not_equal(k1.send, k2.send, 32);
	assert_memory_not_equal(k1.recv, k2.recv, 32);
}

static void test_init_truncated_and_extended(void **state)
{
	struct fixture f;
	uint8_t big[MSG_INIT_BYTES + 1];
	uint8_t resp[MSG_RESPONSE_BYTES];
	struct session_keys k;

	(void)state;
	golden(&f);
	for (size_t len = 0; len < MSG_INIT_BYTES; len++) {
		assert_int_equal(handshake_init_verify(f.init, len, f.k_init), -EPROTO);
		assert_int_equal(handshake_respond(f.psk, f.init, len, 3, resp, &k), -EPROTO);
		assert_int_equal(handshake_init_match(f.init, len, &f.k_init, 1), -EPROTO);
	}
	memcpy(big, f.init, sizeof(f.init));
	big[MSG_INIT_BYTES] = 0;
	assert_int_equal(handshake_init_verify(big, sizeof(big), f.k_init), -EPROTO);
	assert_int_equal(handshake_respond(f.psk, big, sizeof(big), 3, resp, &k), -EPROTO);
}

static void test_init_every_bit_flip(void **state)
{
	struct fixture f;
	uint8_t resp[MSG_RESPONSE_BYTES];
	struct session_keys k;
	int rejected = 0;

	(void)state;
	golden(&f);
	for (size_t bit = 0; bit < 8 * MSG_INIT_BYTES; bit++) {
		f.init[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (handshake_init_verify(f.init, sizeof(f.init), f.k_init) != 0 &&
		    handshake_respond(f.psk, f.init, sizeof(f.init), 3, resp, &k) != 0)
			rejected++;
		f.init[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_int_equal(rejected, 8 * MSG_INIT_BYTES);
	assert_int_equal(handshake_init_verify(f.init, sizeof(f.init), f.k_init), 0);
}

static void test_response_truncated_and_extended(void **state)
{
	struct fixture f;
	uint8_t big[MSG_RESPONSE_BYTES + 1];
	struct session_keys k;

	(void)state;
	golden(&f);
	for (size_t len = 0; len < MSG_RESPONSE_BYTES; len++)
		assert_int_equal(handshake_response_verify(f.psk, f.init, f.e_c, f.resp, len, &k),
				 -EPROTO);
	memcpy(big, f.resp, sizeof(f.resp));
	big[MSG_RESPONSE_BYTES] = 0;
	assert_int_equal(handshake_response_verify(f.psk, f.init, f.e_c, big, sizeof(big), &k),
			 -EPROTO);
}

static void test_response_every_bit_flip(void **state)
{
	struct fixture f;
	struct session_keys k;
	int rejected = 0;

	(void)state;
	golden(&f);
	for (size_t bit = 0; bit < 8 * MSG_RESPONSE_BYTES; bit++) {
		f.resp[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (handshake_response_verify(f.psk, f.init, f.e_c, f.resp, sizeof(f.resp), &k) !=
		    0)
			rejected++;
		f.resp[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_int_equal(rejected, 8 * MSG_RESPONSE_BYTES);
	/* ... and the receiver-index bits say so specifically. */
	f.resp[11] ^= 1;
	assert_int_equal(
		handshake_response_verify(f.psk, f.init, f.e_c, f.resp, sizeof(f.resp), &k),
		-ENOENT);
	f.resp[11] ^= 1;
	f.resp[50] ^= 1;
	assert_int_equal(
		handshake_response_verify(f.psk, f.init, f.e_c, f.resp, sizeof(f.resp), &k),
		-EBADMSG);
}

static void test_wrong_psk(void **state)
{
	struct fixture f;
	uint8_t other[PSK_BYTES], k_other[HANDSHAKE_INIT_KEY_BYTES], resp[MSG_RESPONSE_BYTES];
	struct session_keys k;

	(void)state;
	golden(&f);
	memcpy(other, f.psk, sizeof(other));
	other[31] ^= 0x80;
	handshake_init_key(other, k_other);
	assert_int_equal(handshake_init_verify(f.init, sizeof(f.init), k_other), -EBADMSG);
	assert_int_equal(handshake_respond(other, f.init, sizeof(f.init), 3, resp, &k), -EBADMSG);
	assert_int_equal(
		handshake_response_verify(other, f.init, f.e_c, f.resp, sizeof(f.resp), &k),
		-EBADMSG);
	/* The right ephemeral matters too: another e_c gives another dh. */
	f.e_c[0] ^= 0x40;
	assert_int_equal(
		handshake_response_verify(f.psk, f.init, f.e_c, f.resp, sizeof(f.resp), &k),
		-EBADMSG);
}

static void test_init_match_channels(void **state)
{
	struct fixture f;
	uint8_t keys[5][HANDSHAKE_INIT_KEY_BYTES];

	(void)state;
	golden(&f);
	for (int i = 0; i < 5; i++) {
		uint8_t psk[PSK_BYTES];

		fill(psk, sizeof(psk), (uint8_t)(0x80 + i));
		handshake_init_key(psk, keys[i]);
	}
	assert_int_equal(handshake_init_match(f.init, sizeof(f.init), keys, 5), -EBADMSG);
	assert_int_equal(handshake_init_match(f.init, sizeof(f.init), keys, 0), -EBADMSG);
	memcpy(keys[3], f.k_init, sizeof(f.k_init));
	assert_int_equal(handshake_init_match(f.init, sizeof(f.init), keys, 5), 3);
	assert_int_equal(handshake_init_match(f.init, sizeof(f.init), keys, 3), -EBADMSG);
	memcpy(keys[0], f.k_init, sizeof(f.k_init));
	assert_int_equal(handshake_init_match(f.init, sizeof(f.init), keys, 5), 0);
}

/* An INIT with a correct MAC over whatever the test put in front of it. */
static void remac_init(struct fixture *f)
{
	crypto_generichash(f->init + INIT_MAC_OFF, 16, f->init, INIT_MAC_OFF, f->k_init,
			   sizeof(f->k_init));
}

static void test_init_header_fields(void **state)
{
	struct fixture f;
	uint8_t resp[MSG_RESPONSE_BYTES];
	struct session_keys k;
	static const struct {
		size_t off;
		uint8_t val;
	} bad[] = {
		{ 0, 0 }, { 0, 2 }, { 0, 3 }, { 1, 0 }, { 1, 2 }, { 2, 1 }, { 3, 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		golden(&f);
		f.init[bad[i].off] = bad[i].val;
		remac_init(&f);
		assert_int_equal(handshake_init_verify(f.init, sizeof(f.init), f.k_init), -EPROTO);
		assert_int_equal(handshake_respond(f.psk, f.init, sizeof(f.init), 3, resp, &k),
				 -EPROTO);
	}
	/* Index 0 is never allocated, so an INIT carrying it is malformed. */
	golden(&f);
	memset(f.init + 4, 0, 4);
	remac_init(&f);
	assert_int_equal(handshake_init_verify(f.init, sizeof(f.init), f.k_init), -EPROTO);
	assert_int_equal(handshake_init_create_with(f.k_init, 0, GOLDEN_TS, f.e_c, f.init),
			 -EINVAL);
	golden(&f);
	assert_int_equal(handshake_respond_with(f.psk, f.init, sizeof(f.init), 0, f.e_s, resp, &k),
			 -EINVAL);
}

/* Points of small order on Curve25519: X25519 with any scalar gives all zeros. */
static const char *const low_order[] = {
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};

static void test_low_order_points_rejected(void **state)
{
	struct fixture f;
	struct session_keys k;
	uint8_t resp[MSG_RESPONSE_BYTES];

	(void)state;
	for (size_t i = 0; i < sizeof(low_order) / sizeof(low_order[0]); i++) {
		/* Server: a psk holder sends a low-order E_c with a valid MAC. */
		golden(&f);
		unhex(low_order[i], f.init + 8, 32);
		remac_init(&f);
		assert_int_equal(handshake_init_verify(f.init, sizeof(f.init), f.k_init), 0);
		memset(resp, 0x55, sizeof(resp));
		assert_int_equal(handshake_respond(f.psk, f.init, sizeof(f.init), 3, resp, &k),
				 -EPROTO);

		/* Client: a RESPONSE with a low-order E_s. */
		golden(&f);
		unhex(low_order[i], f.resp + 12, 32);
		assert_int_equal(
			handshake_response_verify(f.psk, f.init, f.e_c, f.resp, sizeof(f.resp), &k),
			-EPROTO);
	}
}

static void test_response_for_other_init(void **state)
{
	struct fixture f;
	uint8_t e2[32], init2[MSG_INIT_BYTES];
	struct session_keys k;

	(void)state;
	golden(&f);
	/* A second INIT with the same index: the RESPONSE to the first must not fit it. */
	assert_int_equal(handshake_init_create(f.k_init, CLIENT_INDEX, GOLDEN_TS, e2, init2), 0);
	assert_int_equal(handshake_response_verify(f.psk, init2, e2, f.resp, sizeof(f.resp), &k),
			 -EBADMSG);
	assert_int_equal(handshake_init_create(f.k_init, CLIENT_INDEX + 1, GOLDEN_TS, e2, init2),
			 0);
	assert_int_equal(handshake_response_verify(f.psk, init2, e2, f.resp, sizeof(f.resp), &k),
			 -ENOENT);
}

/*
 * The timestamp: big-endian at offset 40, under the MAC, and part of the transcript, so
 * the same E_c with another timestamp gives other keys.
 */
static void test_init_timestamp(void **state)
{
	static const uint64_t stamps[] = { 0, 1, 0x0102030405060708u, UINT64_MAX };
	struct fixture f, g;

	(void)state;
	golden(&f);
	for (size_t i = 0; i < sizeof(stamps) / sizeof(stamps[0]); i++) {
		assert_int_equal(handshake_init_create_with(f.k_init, CLIENT_INDEX, stamps[i],
							    f.e_c, g.init),
				 0);
		assert_true(handshake_init_timestamp(g.init) == stamps[i]);
		assert_true(load_be64(g.init + INIT_TS_OFF) == stamps[i]);
		assert_memory_equal(g.init, f.init, INIT_TS_OFF);
		assert_int_equal(handshake_init_verify(g.init, sizeof(g.init), f.k_init), 0);
	}
	/* Another timestamp under the old MAC: a forgery. */
	memcpy(g.init, f.init, sizeof(g.init));
	store_be64(g.init + INIT_TS_OFF, GOLDEN_TS + 1);
	assert_int_equal(handshake_init_verify(g.init, sizeof(g.init), f.k_init), -EBADMSG);
	/* Properly made with timestamp + 1: same ephemerals, other transcript, other keys. */
	assert_int_equal(
		handshake_init_create_with(f.k_init, CLIENT_INDEX, GOLDEN_TS + 1, f.e_c, g.init),
		0);
	assert_int_equal(handshake_respond_with(f.psk, g.init, sizeof(g.init), SERVER_INDEX, f.e_s,
						g.resp, &g.server),
			 0);
	assert_memory_equal(g.resp, f.resp, 44); /* E_s and indexes are the same... */
	assert_memory_not_equal(g.resp + 44, f.resp + 44, 16); /* ...the MAC is not */
	assert_memory_not_equal(g.server.send, f.server.send, 32);
	assert_memory_not_equal(g.server.recv, f.server.recv, 32);
	/* A RESPONSE to one INIT does not verify against the other. */
	assert_int_equal(
		handshake_response_verify(f.psk, f.init, f.e_c, g.resp, sizeof(g.resp), &g.client),
		-EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_vector),
		cmocka_unit_test(test_random_handshake_keys_work),
		cmocka_unit_test(test_two_handshakes_differ),
		cmocka_unit_test(test_init_truncated_and_extended),
		cmocka_unit_test(test_init_every_bit_flip),
		cmocka_unit_test(test_response_truncated_and_extended),
		cmocka_unit_test(test_response_every_bit_flip),
		cmocka_unit_test(test_wrong_psk),
		cmocka_unit_test(test_init_match_channels),
		cmocka_unit_test(test_init_header_fields),
		cmocka_unit_test(test_low_order_points_rejected),
		cmocka_unit_test(test_response_for_other_init),
		cmocka_unit_test(test_init_timestamp),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
