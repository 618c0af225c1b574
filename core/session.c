/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/session.h"
#include "core/replay.h"
#include "core/session_test.h"

#include <errno.h>
#include <sodium.h>
#include <stdalign.h>
#include <string.h>

#define SESSION_NONCE_BYTES crypto_aead_aes256gcm_NPUBBYTES

_Static_assert(crypto_aead_aes256gcm_KEYBYTES == sizeof(((struct session_keys *)0)->send),
	       "session keys are AES-256 keys");
_Static_assert(crypto_aead_aes256gcm_ABYTES == FRAME_TAG_BYTES, "GCM tag size");
_Static_assert(SESSION_NONCE_BYTES == 12, "nonce = 4 zero bytes || 64-bit counter");
_Static_assert(FRAME_HEADER_BYTES == 20, "header layout of docs/PROTOCOL.md section 4");

struct session {
	/* Expanded key schedules; libsodium's AES-NI code needs them 16-byte aligned. */
	crypto_aead_aes256gcm_state send_key;
	crypto_aead_aes256gcm_state recv_key;
	struct replay replay;
	uint64_t sent; /* next send counter */
	uint64_t created_ms;
	uint32_t local_index;
	uint32_t remote_index;
};

/*
 * sodium_malloc places an allocation right below a guard page, so its address is only as
 * aligned as its size is; a size that is a multiple of the alignment keeps the key states
 * aligned. sizeof is always a multiple of alignof, but say so where it matters.
 */
_Static_assert(alignof(struct session) >= 16 && sizeof(struct session) % 16 == 0,
	       "struct session must keep the AES-GCM states 16-byte aligned in sodium_malloc");

int session_crypto_init(void)
{
	if (sodium_init() < 0)
		return -EIO;
	if (!crypto_aead_aes256gcm_is_available())
		return -ENOTSUP;
	return 0;
}

struct session *session_new(const struct session_keys *keys, uint64_t now_ms)
{
	struct session *s;

	if (session_crypto_init() != 0)
		return NULL;
	s = sodium_malloc(sizeof(*s));
	if (!s)
		return NULL;
	if ((uintptr_t)s % 16 != 0) {
		/* Cannot happen given the assertion above; never run AES-NI on a misaligned state. */
		sodium_free(s);
		return NULL;
	}
	memset(s, 0, sizeof(*s));
	crypto_aead_aes256gcm_beforenm(&s->send_key, keys->send);
	crypto_aead_aes256gcm_beforenm(&s->recv_key, keys->recv);
	replay_init(&s->replay);
	s->sent = 0;
	s->created_ms = now_ms;
	s->local_index = keys->local_index;
	s->remote_index = keys->remote_index;
	return s;
}

void session_free(struct session *s)
{
	/* sodium_free wipes the key schedules before unmapping. */
	sodium_free(s);
}

uint32_t session_local_index(const struct session *s)
{
	return s->local_index;
}

uint32_t session_remote_index(const struct session *s)
{
	return s->remote_index;
}

uint64_t session_created_ms(const struct session *s)
{
	return s->created_ms;
}

uint64_t session_sent(const struct session *s)
{
	return s->sent;
}

void session_test_set_sent(struct session *s, uint64_t sent)
{
	s->sent = sent;
}

static uint64_t session_age_ms(const struct session *s, uint64_t now_ms)
{
	/* A clock that steps back makes the session young, never negative. */
	return now_ms > s->created_ms ? now_ms - s->created_ms : 0;
}

/* nonce = 0x00000000 || counter (docs/PROTOCOL.md section 4). */
static void session_nonce(uint8_t nonce[SESSION_NONCE_BYTES], uint64_t counter)
{
	store_be32(nonce, 0);
	store_be64(nonce + 4, counter);
}

int session_seal(struct session *s, uint8_t type, uint8_t flags, uint8_t *frame,
		 size_t plaintext_len)
{
	uint8_t nonce[SESSION_NONCE_BYTES];
	uint8_t *payload = frame + FRAME_HEADER_BYTES;

	if (plaintext_len > FRAME_MAX_PLAINTEXT_BYTES)
		return -EMSGSIZE;
	if ((type != MSG_DATA && type != MSG_POLL) || (flags & ~FRAME_FLAGS_KNOWN) ||
	    (type == MSG_POLL && plaintext_len != 0))
		return -EINVAL;
	/* Never let one key seal near 2^32 frames (docs/PROTOCOL.md section 6). */
	if (s->sent >= REJECT_AFTER_FRAMES)
		return -ESTALE;

	frame[0] = type;
	frame[1] = flags;
	store_be16(frame + 2, 0);
	store_be32(frame + 4, (uint32_t)plaintext_len);
	store_be32(frame + 8, s->remote_index);
	store_be64(frame + 12, s->sent);
	session_nonce(nonce, s->sent);
	/* Cannot fail: the length is far below libsodium's limit and the CPU was checked. */
	crypto_aead_aes256gcm_encrypt_detached_afternm(
		payload, payload + plaintext_len, NULL, payload, plaintext_len, frame,
		FRAME_HEADER_BYTES, NULL, nonce, &s->send_key);
	s->sent++;
	return 0;
}

int session_open(struct session *s, const struct frame_header *h, uint8_t *frame,
		 struct span *plaintext, uint64_t now_ms)
{
	uint8_t nonce[SESSION_NONCE_BYTES];
	uint8_t *payload = frame + FRAME_HEADER_BYTES;

	if (session_age_ms(s, now_ms) >= REJECT_AFTER_MS)
		return -ESTALE;
	/* Read-only look first: a flood of replays costs no AES work. */
	if (!replay_check(&s->replay, h->counter))
		return -EALREADY;
	session_nonce(nonce, h->counter);
	if (crypto_aead_aes256gcm_decrypt_detached_afternm(
		    payload, NULL, payload, h->length, payload + h->length, frame,
		    FRAME_HEADER_BYTES, nonce, &s->recv_key) != 0)
		return -EBADMSG;
	/* Authenticated: only now may the counter move the window. */
	replay_update(&s->replay, h->counter);
	plaintext->p = payload;
	plaintext->len = h->length;
	return 0;
}

bool session_wants_rekey(const struct session *s, uint64_t now_ms)
{
	return s->sent >= REKEY_AFTER_FRAMES || session_age_ms(s, now_ms) >= REKEY_AFTER_MS;
}
