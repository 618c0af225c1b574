/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/carrier.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

static void test_random_tokens(void **state)
{
	char a[CARRIER_RANDOM_CHARS + 1], b[CARRIER_RANDOM_CHARS + 1], url[64];
	uint8_t poll[MSG_POLL_BYTES];

	(void)state;
	carrier_random_token(a);
	carrier_random_token(b);
	assert_int_equal(strlen(a), CARRIER_RANDOM_CHARS);
	assert_string_not_equal(a, b);
	/* 16 bytes: five whole groups and a one-byte tail, which decodes back to 16 bytes. */
	for (int i = 0; i < 256; i++) {
		uint8_t bin[CARRIER_RANDOM_BYTES];
		char again[CARRIER_RANDOM_CHARS + 1];
		size_t bin_len = 0;

		carrier_random_token(b);
		assert_int_equal(sodium_base642bin(bin, sizeof(bin), b, strlen(b), NULL, &bin_len,
						   NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
				 0);
		assert_int_equal(bin_len, CARRIER_RANDOM_BYTES);
		sodium_bin2base64(again, sizeof(again), bin, sizeof(bin),
				  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		assert_string_equal(again, b);
	}
	snprintf(url, sizeof(url), "/t/%s", a);
	assert_int_equal(carrier_parse_target(url, strlen(url), "/t/", poll), CARRIER_TOKEN_RANDOM);
}

/* Tokens come from a keystream: none of many repeats, and the bytes are not constant. */
static void test_random_tokens_unique(void **state)
{
	enum {
		N = 4096
	};
	static const char b64url[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	static char toks[N][CARRIER_RANDOM_CHARS + 1];
	unsigned seen[64] = { 0 }, distinct = 0;

	(void)state;
	for (int i = 0; i < N; i++) {
		carrier_random_token(toks[i]);
		assert_int_equal(strlen(toks[i]), CARRIER_RANDOM_CHARS);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(toks[i], toks[j]);
		for (int k = 0; k < CARRIER_RANDOM_CHARS; k++)
			seen[strchr(b64url, toks[i][k]) - b64url]++;
	}
	for (int k = 0; k < 64; k++)
		distinct += seen[k] > 0;
	/* All 64 characters turn up in 88 Ki of them; a constant or counter-like token fails. */
	assert_int_equal(distinct, 64);
}

static void test_poll_token_round_trip(void **state)
{
	uint8_t frame[MSG_POLL_BYTES], back[MSG_POLL_BYTES];
	char tok[CARRIER_POLL_CHARS + 1], url[128];

	(void)state;
	for (int i = 0; i < MSG_POLL_BYTES; i++)
		frame[i] = (uint8_t)(i * 37 + 5);
	carrier_poll_token(frame, tok);
	assert_int_equal(strlen(tok), CARRIER_POLL_CHARS);
	snprintf(url, sizeof(url), "/%s", tok);
	assert_int_equal(carrier_parse_target(url, strlen(url), "/", back), CARRIER_TOKEN_POLL);
	assert_memory_equal(frame, back, sizeof(frame));
}

/* Poll tokens are base64url without padding, exactly as libsodium encodes it. */
static void test_encoding_matches_sodium(void **state)
{
	uint8_t frame[MSG_POLL_BYTES];
	char tok[CARRIER_POLL_CHARS + 1], want[CARRIER_POLL_CHARS + 1];

	(void)state;
	for (int round = 0; round < 64; round++) {
		randombytes_buf(frame, sizeof(frame));
		carrier_poll_token(frame, tok);
		sodium_bin2base64(want, sizeof(want), frame, sizeof(frame),
				  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		assert_string_equal(tok, want);
	}
	memset(frame, 0xff, sizeof(frame));
	carrier_poll_token(frame, tok);
	sodium_bin2base64(want, sizeof(want), frame, sizeof(frame),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	assert_string_equal(tok, want);
}

/* Golden: 36 bytes 00..23 encode to this, the form a poll URL takes. */
static void test_poll_token_golden(void **state)
{
	uint8_t frame[MSG_POLL_BYTES];
	char tok[CARRIER_POLL_CHARS + 1];

	(void)state;
	for (int i = 0; i < MSG_POLL_BYTES; i++)
		frame[i] = (uint8_t)i;
	carrier_poll_token(frame, tok);
	assert_string_equal(tok, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIj");
}

static void test_not_ours(void **state)
{
	static const char *const bad[] = {
		"/",
		"/x",
		"/AAECAwQFBgcICQoLDA0ODx", /* 22 chars but wrong prefix below */
		"/tun/AAECAwQFBgcICQoLDA0OD", /* 21 */
		"/tun/AAECAwQFBgcICQoLDA0ODxA", /* 23 */
		"/tun/AAECAwQFBgcICQoLDA0OD?", /* query */
		"/tun/AAECAwQFBgcICQoLDA0OD+", /* standard base64 char */
		"/tun/AAECAwQFBgcICQoLDA0ODx/", /* trailing slash */
		"/tun/AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISI", /* 47 */
		"/tunAAECAwQFBgcICQoLDA0ODx",
	};
	uint8_t poll[MSG_POLL_BYTES];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(carrier_parse_target(bad[i], strlen(bad[i]), "/tun/", poll),
				 -ENOENT);
	assert_int_equal(carrier_parse_target("/tun/AAECAwQFBgcICQoLDA0ODx", 27, "/tun/", poll),
			 CARRIER_TOKEN_RANDOM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_tokens),
		cmocka_unit_test(test_random_tokens_unique),
		cmocka_unit_test(test_poll_token_round_trip),
		cmocka_unit_test(test_poll_token_golden),
		cmocka_unit_test(test_encoding_matches_sodium),
		cmocka_unit_test(test_not_ours),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
