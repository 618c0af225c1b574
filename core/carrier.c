/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/carrier.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

/*
 * Tokens are ChaCha20 keystream under a key drawn once per process, one block per token
 * with a counter as the nonce: as unpredictable as randombytes_buf's bytes, without a
 * getrandom(2) per request (docs/PERFORMANCE.md). Not thread-safe: every request is made
 * on the loop thread.
 */
void carrier_random_token(char out[CARRIER_RANDOM_CHARS + 1])
{
	static uint8_t key[crypto_stream_chacha20_KEYBYTES];
	static uint64_t counter;
	uint8_t r[CARRIER_RANDOM_BYTES], nonce[crypto_stream_chacha20_NONCEBYTES];

	if (counter == 0)
		randombytes_buf(key, sizeof(key));
	store_be64(nonce, counter++);
	crypto_stream_chacha20(r, sizeof(r), nonce, key);
	sodium_bin2base64(out, CARRIER_RANDOM_CHARS + 1, r, sizeof(r),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

void carrier_poll_token(const uint8_t frame[MSG_POLL_BYTES], char out[CARRIER_POLL_CHARS + 1])
{
	sodium_bin2base64(out, CARRIER_POLL_CHARS + 1, frame, MSG_POLL_BYTES,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static bool b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

int carrier_parse_target(const char *target, size_t len, const char *prefix,
			 uint8_t poll[MSG_POLL_BYTES])
{
	size_t plen = strlen(prefix), tlen, bin_len = 0;
	const char *tok;

	if (len < plen || memcmp(target, prefix, plen) != 0)
		return -ENOENT;
	tok = target + plen;
	tlen = len - plen;
	for (size_t i = 0; i < tlen; i++) {
		if (!b64url_char(tok[i]))
			return -ENOENT;
	}
	if (tlen == CARRIER_RANDOM_CHARS)
		return CARRIER_TOKEN_RANDOM;
	if (tlen != CARRIER_POLL_CHARS)
		return -ENOENT;
	if (sodium_base642bin(poll, MSG_POLL_BYTES, tok, tlen, NULL, &bin_len, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    bin_len != MSG_POLL_BYTES)
		return -ENOENT;
	return CARRIER_TOKEN_POLL;
}
