/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Fuzz the handshake decoders: the input as an INIT for a server channel (MAC check,
 * DH, pending-slot bookkeeping) and as a RESPONSE for a client whose handshake in
 * progress is the golden one of docs/PROTOCOL.md section 3, so a seed built from the
 * golden vector reaches the DH and MAC code. Inputs of INIT + RESPONSE length are split.
 * psk = 00..1f, e_c = 20..3f, client index 0x11111111, timestamp 0x0102030405060708.
 *
 * The server channel always holds a live current session (a helper client confirms a
 * new one whenever it expired). The harness keeps a model of the INIT timestamp rule (the
 * newest confirmed timestamp, the pending sessions' timestamps oldest first) and checks
 * that a verified INIT is refused with -EALREADY exactly when the rule says it is a
 * replay, and that a refusal changes nothing.
 */
#include "core/handshake.h"
#include "core/index.h"
#include "core/peer.h"

#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t psk[PSK_BYTES];
static uint8_t k_init[HANDSHAKE_INIT_KEY_BYTES];
static uint8_t e_c[HANDSHAKE_PRIVATE_BYTES];
static uint8_t golden_init[MSG_INIT_BYTES];
static struct index_table *ix, *helper_ix;
static struct peer *srv, *cli, *helper;
static uint64_t now_ms;

/* What srv should hold (docs/PROTOCOL.md section 3, "Confirmation"). */
static uint64_t confirmed_ts; /* newest confirmed INIT timestamp, once confirmed */
static bool confirmed;
static struct {
	uint64_t ts, made_ms;
} pend[HANDSHAKE_MAX_PENDING]; /* pending sessions' INIT timestamps, oldest first */
static size_t npend;

#define GOLDEN_TS 0x0102030405060708u

static void model_remove(size_t i)
{
	memmove(&pend[i], &pend[i + 1], (npend - i - 1) * sizeof(pend[0]));
	npend--;
}

static void model_expire(void)
{
	for (size_t i = npend; i-- > 0;)
		if (now_ms - pend[i].made_ms >= HANDSHAKE_PENDING_MS)
			model_remove(i);
}

static bool model_is_replay(uint64_t ts)
{
	if (confirmed && ts <= confirmed_ts)
		return true;
	for (size_t i = 0; i < npend; i++)
		if (pend[i].ts == ts)
			return true;
	return false;
}

/* An INIT answered: a pending session, evicting the oldest when all slots are taken. */
static void model_add(uint64_t ts)
{
	if (npend == HANDSHAKE_MAX_PENDING)
		model_remove(0);
	pend[npend].ts = ts;
	pend[npend].made_ms = now_ms;
	npend++;
}

static void model_confirm(uint64_t ts)
{
	for (size_t i = 0; i < npend; i++)
		if (pend[i].ts == ts)
			model_remove(i--);
	if (!confirmed || ts > confirmed_ts)
		confirmed_ts = ts;
	confirmed = true;
}

/* Give srv a confirmed current session, made by the helper client. */
static void confirm_session(void)
{
	uint8_t init[MSG_INIT_BYTES], resp[MSG_RESPONSE_BYTES];
	uint8_t frame[FRAME_OVERHEAD_BYTES];
	struct frame_header h;
	struct span pt;
	int err, tries = 0;

	/*
	 * Just below the golden seed's timestamp, so that seed is answered once. The helper's
	 * timestamps go up from there and may meet a pending seed's: then it tries again.
	 */
	do {
		if (peer_handshake_start(helper, init, GOLDEN_TS - 1, now_ms) != 0 ||
		    tries++ > HANDSHAKE_MAX_PENDING)
			abort();
		err = peer_handle_init(srv, init, sizeof(init), resp, now_ms);
		if ((err == -EALREADY) != model_is_replay(handshake_init_timestamp(init)))
			abort();
	} while (err == -EALREADY);
	if (err != 0 || peer_handle_response(helper, resp, sizeof(resp), now_ms) != 0 ||
	    peer_seal(helper, MSG_POLL, frame, 0, now_ms) != 0 ||
	    frame_header_parse(frame, sizeof(frame), &h) != 0 ||
	    peer_open(srv, &h, frame, &pt, now_ms) != 0 || !peer_has_session(srv))
		abort();
	model_add(handshake_init_timestamp(init));
	model_confirm(handshake_init_timestamp(init));
}

static void setup(void)
{
	uint8_t init[MSG_INIT_BYTES];

	if (sodium_init() < 0)
		abort();
	for (size_t i = 0; i < sizeof(psk); i++)
		psk[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(e_c); i++)
		e_c[i] = (uint8_t)(0x20 + i);
	handshake_init_key(psk, k_init);
	if (handshake_init_create_with(k_init, 0x11111111, GOLDEN_TS, e_c, golden_init) != 0)
		abort();
	ix = index_new();
	helper_ix = index_new();
	if (!ix || !helper_ix)
		abort();
	srv = peer_new(PEER_RESPONDER, psk, ix);
	cli = peer_new(PEER_INITIATOR, psk, ix);
	helper = peer_new(PEER_INITIATOR, psk, helper_ix);
	if (!srv || !cli || !helper)
		abort();
	if (peer_handshake_start(cli, init, GOLDEN_TS, 0) != 0)
		abort();
}

static void as_init(const uint8_t *p, size_t len)
{
	uint8_t resp[MSG_RESPONSE_BYTES];
	struct session_keys keys;
	size_t pending = peer_pending_count(srv), indexes = index_count(ix);
	uint32_t cur = peer_current_index(srv);
	bool valid, stale;
	int err;

	err = handshake_init_verify(p, len, k_init);
	if (handshake_init_match(p, len, &k_init, 1) != (err == 0 ? 0 : err))
		abort();
	if (handshake_respond(psk, p, len, 0x22222222, resp, &keys) == 0 && err != 0)
		abort(); /* answered an INIT that does not verify */
	valid = err == 0;
	stale = valid && model_is_replay(handshake_init_timestamp(p));
	err = peer_handle_init(srv, p, len, resp, now_ms);
	if ((err == -EALREADY) != stale)
		abort(); /* refused exactly the INITs the rule calls replays */
	if (err == 0 && (!valid || peer_pending_count(srv) == 0))
		abort();
	if (err == 0)
		model_add(handshake_init_timestamp(p));
	if (peer_pending_count(srv) != npend)
		abort();
	if (err != 0 && (peer_pending_count(srv) != pending || index_count(ix) != indexes))
		abort(); /* a refused INIT takes no slot and no index */
	if (peer_current_index(srv) != cur || peer_pending_count(srv) > HANDSHAKE_MAX_PENDING)
		abort();
}

static void as_response(const uint8_t *p, size_t len)
{
	struct session_keys keys;
	uint32_t cur = peer_current_index(cli);

	(void)handshake_response_verify(psk, golden_init, e_c, p, len, &keys);
	/* The client's real handshake has a random ephemeral: nothing may change it. */
	if (peer_handle_response(cli, p, len, now_ms) == 0 || peer_current_index(cli) != cur)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ix)
		setup();
	now_ms += 1000;
	peer_tick(srv, now_ms);
	peer_tick(helper, now_ms);
	model_expire();
	if (!peer_has_session(srv))
		confirm_session();
	as_init(data, size);
	as_response(data, size);
	if (size == MSG_INIT_BYTES + MSG_RESPONSE_BYTES) {
		as_init(data, MSG_INIT_BYTES);
		as_response(data + MSG_INIT_BYTES, MSG_RESPONSE_BYTES);
	}
	/* The client's handshake, srv's current, previous and pending sessions. */
	if (index_count(ix) > 1 + 2 + HANDSHAKE_MAX_PENDING)
		abort();
	return 0;
}
