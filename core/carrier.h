/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The URL side of the HTTP carrier (docs/PROTOCOL.md section 7): every request goes to
 * PREFIX<token>, where the token is base64url without padding of either 16 random bytes
 * (POST) or a POLL frame (GET). Nothing here is secret: a POLL frame proves possession of
 * the session key and is unique by its counter.
 */
#ifndef HTTUN_CORE_CARRIER_H
#define HTTUN_CORE_CARRIER_H

#include "core/cursor.h"
#include "core/frame.h"

#include <stddef.h>
#include <stdint.h>

#define CARRIER_RANDOM_BYTES 16
/* base64url without padding: 4 characters per 3 bytes, rounded up. */
#define CARRIER_RANDOM_CHARS 22
#define CARRIER_POLL_CHARS 48
/* The longer of the two token kinds. */
#define CARRIER_TOKEN_MAX_CHARS CARRIER_POLL_CHARS

/* 16 random bytes as a token; out holds CARRIER_RANDOM_CHARS + 1. */
void carrier_random_token(char out[CARRIER_RANDOM_CHARS + 1]);
/* A sealed POLL frame as a token; out holds CARRIER_POLL_CHARS + 1. */
void carrier_poll_token(const uint8_t frame[MSG_POLL_BYTES], char out[CARRIER_POLL_CHARS + 1]);

enum carrier_token_kind {
	CARRIER_TOKEN_RANDOM,
	CARRIER_TOKEN_POLL,
};

/*
 * Split a request target into prefix and token: the target must be prefix followed by
 * exactly one token of the two lengths above, base64url characters only, no query.
 * prefix ends with '/'. For a POLL token the decoded frame goes to poll. Returns the kind,
 * or -ENOENT when the target is not ours (the caller answers an ordinary 404).
 */
int carrier_parse_target(const char *target, size_t len, const char *prefix,
			 uint8_t poll[MSG_POLL_BYTES]);

#endif
