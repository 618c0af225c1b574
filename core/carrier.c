/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/carrier.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

/* Keystream drawn per ChaCha20 call: 32 random tokens. */
#define CARRIER_KEYSTREAM_BYTES 512

static const char b64url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/*
 * base64url without padding, as sodium_bin2base64's URLSAFE_NO_PADDING variant, by table:
 * tokens go on the wire in the clear, so there is nothing for a constant-time encoder to
 * hide, and this runs per request. out holds 4 * len / 3 rounded up, plus the NUL. The
 * token sizes leave no byte or one after the last whole group of three (asserted below).
 */
_Static_assert(CARRIER_RANDOM_BYTES % 3 <= 1 && MSG_POLL_BYTES % 3 <= 1,
	       "b64url_encode handles a tail of one byte only");

static void b64url_encode(char *out, const uint8_t *in, size_t len)
{
	size_t i = 0;

	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		*out++ = b64url_alphabet[v >> 18];
		*out++ = b64url_alphabet[(v >> 12) & 63];
		*out++ = b64url_alphabet[(v >> 6) & 63];
		*out++ = b64url_alphabet[v & 63];
	}
	if (len - i == 1) {
		*out++ = b64url_alphabet[in[i] >> 2];
		*out++ = b64url_alphabet[(in[i] & 3) << 4];
	}
	*out = '\0';
}

/*
 * Tokens are ChaCha20 keystream under a key drawn once per process (the nonce counts
 * refills), taken CARRIER_RANDOM_BYTES at a time from a buffer of CARRIER_KEYSTREAM_BYTES:
 * as unpredictable as randombytes_buf's bytes, without a getrandom(2) or a ChaCha20 call
 * per request (docs/PERFORMANCE.md). Not thread-safe: every request is made on the loop
 * thread.
 */
void carrier_random_token(char out[CARRIER_RANDOM_CHARS + 1])
{
	static uint8_t key[crypto_stream_chacha20_KEYBYTES];
	static uint8_t stream[CARRIER_KEYSTREAM_BYTES];
	static size_t used = sizeof(stream);
	static uint64_t refills;
	uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];

	if (refills == 0 && used == sizeof(stream))
		randombytes_buf(key, sizeof(key));
	if (used + CARRIER_RANDOM_BYTES > sizeof(stream)) {
		store_be64(nonce, refills++);
		crypto_stream_chacha20(stream, sizeof(stream), nonce, key);
		used = 0;
	}
	b64url_encode(out, stream + used, CARRIER_RANDOM_BYTES);
	used += CARRIER_RANDOM_BYTES;
}

void carrier_poll_token(const uint8_t frame[MSG_POLL_BYTES], char out[CARRIER_POLL_CHARS + 1])
{
	b64url_encode(out, frame, MSG_POLL_BYTES);
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
