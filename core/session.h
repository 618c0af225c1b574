/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * One session: the two AES-256-GCM key states of a handshake, the send counter and the
 * receive replay window (docs/PROTOCOL.md sections 4 and 6). Lives in sodium_malloc'd
 * memory; session_free wipes it.
 */
#ifndef HTTUN_CORE_SESSION_H
#define HTTUN_CORE_SESSION_H

#include "core/cursor.h"
#include "core/frame.h"
#include "core/limits.h"

#include <stdbool.h>
#include <stdint.h>

/* What a handshake produces; the caller wipes it after session_new. */
struct session_keys {
	uint8_t send[32];
	uint8_t recv[32];
	uint32_t local_index; /* receiver index in frames sent to us */
	uint32_t remote_index; /* receiver index we put in frames we send */
};

struct session;

/*
 * Initialise libsodium and check that this CPU runs AES-256-GCM (AES-NI and PCLMUL).
 * cmd/ calls it before anything else and refuses to start on failure rather than fall
 * back to another cipher (docs/PROTOCOL.md section 1). Returns 0, -ENOTSUP (no AES-GCM
 * on this CPU) or -EIO (libsodium failed to initialise).
 */
int session_crypto_init(void);

/*
 * Returns NULL on allocation failure or when session_crypto_init() would fail. Expands
 * both key schedules once; the caller still wipes keys.
 */
struct session *session_new(const struct session_keys *keys, uint64_t now_ms);
/* Wipes and frees; NULL is ignored. */
void session_free(struct session *s);

uint32_t session_local_index(const struct session *s);
uint32_t session_remote_index(const struct session *s);
uint64_t session_created_ms(const struct session *s);
/* Frames sealed so far (= the next send counter). */
uint64_t session_sent(const struct session *s);

/*
 * Seal in place. frame has FRAME_HEADER_BYTES of room, then plaintext_len bytes of
 * plaintext, then FRAME_TAG_BYTES of room. Writes the header, encrypts the plaintext in
 * place and appends the tag. type is MSG_DATA or MSG_POLL (POLL: plaintext_len 0).
 * The whole frame is then FRAME_OVERHEAD_BYTES + plaintext_len bytes.
 * Returns 0, -EMSGSIZE for a plaintext above FRAME_MAX_PLAINTEXT_BYTES, -EINVAL for
 * another type, unknown flags or a POLL with plaintext, or -ESTALE once the key has
 * sealed REJECT_AFTER_FRAMES frames (handshake again). Nothing is written on error.
 */
int session_seal(struct session *s, uint8_t type, uint8_t flags, uint8_t *frame,
		 size_t plaintext_len);

/*
 * Open in place a whole frame whose header h was parsed by frame_header_parse and whose
 * receiver index is this session's. The replay window is consulted before decryption
 * (read only, so a replay costs no AES work) and updated only after the frame has
 * authenticated, so a forged frame never moves it. On success *plaintext points into
 * frame. On failure the frame's payload bytes are unspecified; drop the frame.
 * Returns 0, -EBADMSG (authentication failed), -EALREADY (replayed, older than the
 * window, or a counter at or above REJECT_AFTER_FRAMES), -ESTALE (session
 * REJECT_AFTER_MS old or older).
 */
int session_open(struct session *s, const struct frame_header *h, uint8_t *frame,
		 struct span *plaintext, uint64_t now_ms);

/* True once the session has sealed REKEY_AFTER_FRAMES frames or is REKEY_AFTER_MS old. */
bool session_wants_rekey(const struct session *s, uint64_t now_ms);

#endif
