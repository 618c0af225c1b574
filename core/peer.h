/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The sessions of one channel, on either side (docs/PROTOCOL.md sections 3 and 6).
 *
 * Responder (server): a confirmed current session, the previous one (opens frames for
 * PREVIOUS_SESSION_KEEP_MS after it was replaced, never seals), and up to
 * HANDSHAKE_MAX_PENDING pending sessions made by INITs, oldest evicted first, each
 * forgotten after HANDSHAKE_PENDING_MS. A pending session becomes current when a frame
 * sealed with its keys authenticates; until then an INIT, replayed or not, cannot touch
 * the current session. An INIT must carry a newer timestamp than every INIT whose session
 * was confirmed, and another than every pending session's INIT, so a recorded one is
 * refused before the DH and cannot evict a genuine pending session (docs/PROTOCOL.md
 * section 3).
 *
 * Initiator (client): current and previous, plus at most one handshake in progress (its
 * ephemeral private key in sodium_malloc'd memory). A verified RESPONSE to that
 * handshake makes a new current session; anything else leaves the sessions alone.
 *
 * Ownership: the peer owns its sessions and its secrets (psk, K_init, ephemeral key, all
 * in one sodium_malloc'd block, wiped by peer_free). It borrows the index table, which
 * must outlive it: every session index (and the index of a handshake in progress) is in
 * the table mapped to the peer from the moment it is allocated until the session is
 * freed, and no longer. Sessions live only inside their peer; nothing else keeps a
 * pointer to one, and none survives peer_free. Times are monotonic milliseconds
 * (clock_now_ms), except the INIT timestamp wall_ns (clock_realtime_ns); the functions
 * never read the clock themselves.
 */
#ifndef HTTUN_CORE_PEER_H
#define HTTUN_CORE_PEER_H

#include "core/cursor.h"
#include "core/frame.h"
#include "core/index.h"
#include "core/limits.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum peer_role {
	PEER_INITIATOR, /* client */
	PEER_RESPONDER, /* server */
};

struct peer;

/* Returns NULL on allocation failure. psk is copied. */
struct peer *peer_new(enum peer_role role, const uint8_t psk[PSK_BYTES], struct index_table *ix);
/* Frees every session, removes their indexes from the table, wipes the secrets. */
void peer_free(struct peer *p);

/* ---- responder ---- */

/*
 * Answer an INIT of len bytes: verify it, check its timestamp, make a pending session
 * (evicting the oldest pending one when HANDSHAKE_MAX_PENDING are held; never the current
 * or previous one) and write the RESPONSE. An INIT whose timestamp is not strictly newer
 * than that of every INIT whose session a frame confirmed, or equal to that of a live
 * pending session's INIT, is refused with -EALREADY, before any DH and without touching
 * any session, whether or not the channel has a session now. (The server finds the
 * channel of an INIT with handshake_init_match.) Returns 0, -EPROTO, -EBADMSG, -EALREADY,
 * -ENOSPC (index table full), -ENOMEM, or -EINVAL on an initiator.
 */
int peer_handle_init(struct peer *p, const uint8_t *init, size_t len,
		     uint8_t resp[MSG_RESPONSE_BYTES], uint64_t now_ms);

/* ---- initiator ---- */

/*
 * True when the client should send an INIT now: no session, the current one wants a
 * rekey (session_wants_rekey), the server set the REKEY flag on a frame of the current
 * session, peer_request_handshake was called, or the handshake in progress got no
 * verified RESPONSE within HANDSHAKE_RETRY_MS. False while a handshake is in progress
 * and younger than that. Always false on a responder.
 */
bool peer_wants_handshake(const struct peer *p, uint64_t now_ms);

/* The server lost our session (HTTP 404 for a frame of it): handshake again. */
void peer_request_handshake(struct peer *p);

/*
 * Start a handshake: new ephemeral key pair and index, INIT written to init. wall_ns is
 * the wall clock (nanoseconds since the Unix epoch, clock_realtime_ns); the INIT carries
 * max(wall_ns, previous INIT's timestamp + 1), so the timestamps of one peer strictly
 * increase even when the clock steps back. A handshake still in progress is abandoned
 * (its RESPONSE will no longer verify). The current session keeps sealing and opening
 * meanwhile. Returns 0, -ENOSPC, -EAGAIN, -EOVERFLOW (timestamps used up), or -EINVAL on
 * a responder.
 */
int peer_handshake_start(struct peer *p, uint8_t init[MSG_INIT_BYTES], uint64_t wall_ns,
			 uint64_t now_ms);

/*
 * A RESPONSE of len bytes. If it answers the handshake in progress and verifies, its
 * session becomes current at once (the client's next sealed frame confirms it to the
 * server) and the old current one becomes previous. Returns 0; -ENOENT when no handshake
 * is in progress or the RESPONSE is for another one; -EPROTO or -EBADMSG when it does not
 * verify; -ENOMEM. On any error nothing changes.
 */
int peer_handle_response(struct peer *p, const uint8_t *resp, size_t len, uint64_t now_ms);

/* ---- both ---- */

/*
 * Seal a frame (layout as session_seal) with the current session. The responder sets
 * FRAME_FLAG_REKEY while its current session wants a rekey. Returns 0, -ENOTCONN (no
 * session), -ESTALE (current session too old or used up: handshake again), -EMSGSIZE.
 */
int peer_seal(struct peer *p, uint8_t type, uint8_t *frame, size_t plaintext_len, uint64_t now_ms);

/*
 * Open a frame (as session_open) with the session named by h->receiver: current,
 * previous (within PREVIOUS_SESSION_KEEP_MS of its replacement) or, on the responder, a
 * pending one, which the frame then promotes to current (its INIT's timestamp becomes
 * the one newer INITs must beat). Returns 0, -ENOENT (no such session here) or an error
 * of session_open (-EBADMSG, -EALREADY, -ESTALE).
 */
int peer_open(struct peer *p, const struct frame_header *h, uint8_t *frame, struct span *plaintext,
	      uint64_t now_ms);

/*
 * Forget what has expired: the previous session PREVIOUS_SESSION_KEEP_MS after its
 * replacement, pending sessions after HANDSHAKE_PENDING_MS, the current session at
 * REJECT_AFTER_MS. Call it from a timer about once a second; peer_open and peer_seal
 * honour the same limits between ticks.
 */
void peer_tick(struct peer *p, uint64_t now_ms);

bool peer_has_session(const struct peer *p);
/* Local index of the current session, 0 when there is none. */
uint32_t peer_current_index(const struct peer *p);
/* Local index of the previous session, 0 when there is none. */
uint32_t peer_previous_index(const struct peer *p);
size_t peer_pending_count(const struct peer *p);

/*
 * The caller's object for this peer (a channel), so that index_lookup() on an incoming
 * frame leads to it. Borrowed, never dereferenced here.
 */
void peer_set_owner(struct peer *p, void *owner);
void *peer_owner(const struct peer *p);

#endif
