/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Per-channel session state machine; docs/PROTOCOL.md sections 3 and 6. */
#include "core/peer.h"

#include "core/handshake.h"
#include "core/session.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Everything secret of a peer, in one guarded allocation. */
struct peer_secrets {
	uint8_t psk[PSK_BYTES];
	uint8_t k_init[HANDSHAKE_INIT_KEY_BYTES];
	uint8_t e_priv[HANDSHAKE_PRIVATE_BYTES]; /* initiator: handshake in progress */
	uint8_t init[MSG_INIT_BYTES]; /* initiator: the INIT it answers */
};

struct peer {
	enum peer_role role;
	struct index_table *ix; /* borrowed */
	struct peer_secrets *sec;
	struct session *current;
	struct session *previous;
	uint64_t previous_since_ms; /* when previous was replaced */
	/* responder: unconfirmed sessions, NULL slots free */
	struct session *pending[HANDSHAKE_MAX_PENDING];
	uint64_t pending_seq[HANDSHAKE_MAX_PENDING]; /* arrival order, for eviction */
	uint64_t pending_ts[HANDSHAKE_MAX_PENDING]; /* timestamp of the INIT that made it */
	uint64_t pending_next;
	/* responder: timestamp of the newest confirmed INIT, once confirmed_ts_valid */
	uint64_t confirmed_ts;
	bool confirmed_ts_valid;
	/* initiator: timestamp of the last INIT sent (0 before the first) */
	uint64_t sent_ts;
	/* initiator */
	bool hs_active;
	uint32_t hs_index;
	uint64_t hs_started_ms;
	bool rekey_requested;
	void *owner; /* the caller's object for this channel, see peer_set_owner */
};

/* Milliseconds from then to now; 0 if the clock seems to run backwards. */
static uint64_t elapsed(uint64_t now_ms, uint64_t then_ms)
{
	return now_ms >= then_ms ? now_ms - then_ms : 0;
}

static void session_drop(struct peer *p, struct session **s)
{
	if (!*s)
		return;
	index_remove(p->ix, session_local_index(*s));
	session_free(*s);
	*s = NULL;
}

static void handshake_drop(struct peer *p)
{
	if (!p->hs_active)
		return;
	index_remove(p->ix, p->hs_index);
	sodium_memzero(p->sec->e_priv, sizeof(p->sec->e_priv));
	p->hs_active = false;
	p->hs_index = 0;
}

struct peer *peer_new(enum peer_role role, const uint8_t psk[PSK_BYTES], struct index_table *ix)
{
	struct peer *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->sec = sodium_malloc(sizeof(*p->sec));
	if (!p->sec) {
		free(p);
		return NULL;
	}
	sodium_memzero(p->sec, sizeof(*p->sec));
	memcpy(p->sec->psk, psk, PSK_BYTES);
	handshake_init_key(psk, p->sec->k_init);
	p->role = role;
	p->ix = ix;
	return p;
}

void peer_free(struct peer *p)
{
	if (!p)
		return;
	session_drop(p, &p->current);
	session_drop(p, &p->previous);
	for (size_t i = 0; i < HANDSHAKE_MAX_PENDING; i++)
		session_drop(p, &p->pending[i]);
	handshake_drop(p);
	sodium_free(p->sec); /* wipes */
	free(p);
}

/* The current session becomes previous (for opening only) and s becomes current. */
static void install(struct peer *p, struct session *s, uint64_t now_ms)
{
	session_drop(p, &p->previous);
	p->previous = p->current;
	p->previous_since_ms = now_ms;
	p->current = s;
}

/* ---- responder ---- */

static bool pending_alive(const struct session *s, uint64_t now_ms)
{
	return s && elapsed(now_ms, session_created_ms(s)) < HANDSHAKE_PENDING_MS;
}

/*
 * An INIT with this timestamp is a replay (docs/PROTOCOL.md section 3, "Confirmation"):
 * not newer than the newest confirmed one, or the INIT of a pending session again.
 */
static bool init_is_replay(const struct peer *p, uint64_t ts, uint64_t now_ms)
{
	if (p->confirmed_ts_valid && ts <= p->confirmed_ts)
		return true;
	for (size_t i = 0; i < HANDSHAKE_MAX_PENDING; i++)
		if (pending_alive(p->pending[i], now_ms) && p->pending_ts[i] == ts)
			return true;
	return false;
}

int peer_handle_init(struct peer *p, const uint8_t *init, size_t len,
		     uint8_t resp[MSG_RESPONSE_BYTES], uint64_t now_ms)
{
	struct session_keys keys;
	struct session *s;
	size_t slot = 0;
	uint64_t ts;
	uint32_t idx;
	int err;

	if (p->role != PEER_RESPONDER)
		return -EINVAL;
	/* MAC before anything costly: garbage and other channels' INITs stop here. */
	err = handshake_init_verify(init, len, p->sec->k_init);
	if (err)
		return err;
	/*
	 * A recorded INIT is refused before the DH and takes no pending slot, so a flood of
	 * replays cannot push out the genuine pending session of a rekey. The answer does not
	 * depend on whether the channel has a session, so a replay cannot tell a prober
	 * whether the client is online.
	 */
	ts = handshake_init_timestamp(init);
	if (init_is_replay(p, ts, now_ms))
		return -EALREADY;
	err = index_add(p->ix, p, &idx);
	if (err)
		return err;
	err = handshake_respond(p->sec->psk, init, len, idx, resp, &keys);
	if (err) {
		index_remove(p->ix, idx);
		return err;
	}
	s = session_new(&keys, now_ms);
	sodium_memzero(&keys, sizeof(keys));
	if (!s) {
		index_remove(p->ix, idx);
		sodium_memzero(resp, MSG_RESPONSE_BYTES);
		return -ENOMEM;
	}
	/*
	 * A free slot, else the oldest pending session goes: anyone replaying INITs can
	 * cycle these slots, but that is all a replay can reach.
	 */
	for (size_t i = 0; i < HANDSHAKE_MAX_PENDING; i++) {
		if (!p->pending[i]) {
			slot = i;
			break;
		}
		/* Arrival order, not time: a burst within one millisecond is still FIFO. */
		if (p->pending_seq[i] < p->pending_seq[slot])
			slot = i;
	}
	session_drop(p, &p->pending[slot]);
	p->pending[slot] = s;
	p->pending_seq[slot] = p->pending_next++;
	p->pending_ts[slot] = ts;
	return 0;
}

/* ---- initiator ---- */

bool peer_wants_handshake(const struct peer *p, uint64_t now_ms)
{
	if (p->role != PEER_INITIATOR)
		return false;
	if (p->hs_active)
		return elapsed(now_ms, p->hs_started_ms) >= HANDSHAKE_RETRY_MS;
	return !p->current || p->rekey_requested || session_wants_rekey(p->current, now_ms);
}

void peer_request_handshake(struct peer *p)
{
	p->rekey_requested = true;
}

int peer_handshake_start(struct peer *p, uint8_t init[MSG_INIT_BYTES], uint64_t wall_ns,
			 uint64_t now_ms)
{
	uint64_t ts;
	uint32_t idx;
	int err;

	if (p->role != PEER_INITIATOR)
		return -EINVAL;
	/* The server refuses an INIT not newer than the last one it answered. */
	if (wall_ns > p->sent_ts)
		ts = wall_ns;
	else if (p->sent_ts == UINT64_MAX)
		return -EOVERFLOW;
	else
		ts = p->sent_ts + 1;
	handshake_drop(p);
	err = index_add(p->ix, p, &idx);
	if (err)
		return err;
	err = handshake_init_create(p->sec->k_init, idx, ts, p->sec->e_priv, p->sec->init);
	if (err) {
		index_remove(p->ix, idx);
		return err;
	}
	p->sent_ts = ts;
	memcpy(init, p->sec->init, MSG_INIT_BYTES);
	p->hs_active = true;
	p->hs_index = idx;
	p->hs_started_ms = now_ms;
	return 0;
}

int peer_handle_response(struct peer *p, const uint8_t *resp, size_t len, uint64_t now_ms)
{
	struct session_keys keys;
	struct session *s;
	int err;

	if (p->role != PEER_INITIATOR || !p->hs_active)
		return -ENOENT;
	err = handshake_response_verify(p->sec->psk, p->sec->init, p->sec->e_priv, resp, len,
					&keys);
	if (err) {
		sodium_memzero(&keys, sizeof(keys));
		return err;
	}
	s = session_new(&keys, now_ms);
	sodium_memzero(&keys, sizeof(keys));
	if (!s)
		return -ENOMEM;
	/* The handshake's index now belongs to the session: do not remove it. */
	sodium_memzero(p->sec->e_priv, sizeof(p->sec->e_priv));
	p->hs_active = false;
	p->hs_index = 0;
	p->rekey_requested = false;
	install(p, s, now_ms);
	return 0;
}

/* ---- both ---- */

int peer_seal(struct peer *p, uint8_t type, uint8_t *frame, size_t plaintext_len, uint64_t now_ms)
{
	uint8_t flags = 0;

	if (!p->current)
		return -ENOTCONN;
	/* The other side drops frames of a session this old: do not send them. */
	if (elapsed(now_ms, session_created_ms(p->current)) >= REJECT_AFTER_MS)
		return -ESTALE;
	/* Only the client initiates, so the server asks for a rekey in its frames. */
	if (p->role == PEER_RESPONDER && session_wants_rekey(p->current, now_ms))
		flags |= FRAME_FLAG_REKEY;
	return session_seal(p->current, type, flags, frame, plaintext_len);
}

static bool previous_alive(const struct peer *p, uint64_t now_ms)
{
	return p->previous && elapsed(now_ms, p->previous_since_ms) < PREVIOUS_SESSION_KEEP_MS;
}

int peer_open(struct peer *p, const struct frame_header *h, uint8_t *frame, struct span *plaintext,
	      uint64_t now_ms)
{
	uint32_t rx = h->receiver;
	int err;

	if (rx == 0)
		return -ENOENT;
	if (p->current && session_local_index(p->current) == rx) {
		err = session_open(p->current, h, frame, plaintext, now_ms);
		/* Only a frame of the current session speaks for the server's state. */
		if (err == 0 && p->role == PEER_INITIATOR && (h->flags & FRAME_FLAG_REKEY))
			p->rekey_requested = true;
		return err;
	}
	if (previous_alive(p, now_ms) && session_local_index(p->previous) == rx)
		return session_open(p->previous, h, frame, plaintext, now_ms);
	if (p->role != PEER_RESPONDER)
		return -ENOENT;
	for (size_t i = 0; i < HANDSHAKE_MAX_PENDING; i++) {
		struct session *s = p->pending[i];

		if (!pending_alive(s, now_ms) || session_local_index(s) != rx)
			continue;
		err = session_open(s, h, frame, plaintext, now_ms);
		if (err)
			return err;
		/*
		 * Sealing with K_c2s took e_c, which only the initiator of this INIT has:
		 * the session is confirmed (docs/PROTOCOL.md section 3, "Confirmation"). Only
		 * now may its INIT's timestamp hold older INITs back: a replayed INIT that
		 * nobody confirms cannot move it.
		 */
		if (!p->confirmed_ts_valid || p->pending_ts[i] > p->confirmed_ts)
			p->confirmed_ts = p->pending_ts[i];
		p->confirmed_ts_valid = true;
		p->pending[i] = NULL;
		install(p, s, now_ms);
		return 0;
	}
	return -ENOENT;
}

void peer_tick(struct peer *p, uint64_t now_ms)
{
	if (p->previous && !previous_alive(p, now_ms))
		session_drop(p, &p->previous);
	for (size_t i = 0; i < HANDSHAKE_MAX_PENDING; i++) {
		if (p->pending[i] && !pending_alive(p->pending[i], now_ms))
			session_drop(p, &p->pending[i]);
	}
	if (p->current && elapsed(now_ms, session_created_ms(p->current)) >= REJECT_AFTER_MS)
		session_drop(p, &p->current);
}

bool peer_has_session(const struct peer *p)
{
	return p->current != NULL;
}

uint32_t peer_current_index(const struct peer *p)
{
	return p->current ? session_local_index(p->current) : 0;
}

uint32_t peer_previous_index(const struct peer *p)
{
	return p->previous ? session_local_index(p->previous) : 0;
}

size_t peer_pending_count(const struct peer *p)
{
	size_t n = 0;

	for (size_t i = 0; i < HANDSHAKE_MAX_PENDING; i++)
		n += p->pending[i] != NULL;
	return n;
}

void peer_set_owner(struct peer *p, void *owner)
{
	p->owner = owner;
}

void *peer_owner(const struct peer *p)
{
	return p->owner;
}
