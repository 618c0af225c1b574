/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Fuzz the handshake decoders: the input as an INIT for a server channel (MAC check,
 * DH, pending-slot bookkeeping) and as a RESPONSE for a client whose handshake in
 * progress is the golden one of docs/PROTOCOL.md section 3, so a seed built from the
 * golden vector reaches the DH and MAC code. Inputs of INIT + RESPONSE length are split.
 * psk = 00..1f, e_c = 20..3f, client index 0x11111111.
 */
#include "core/handshake.h"
#include "core/index.h"
#include "core/peer.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t psk[PSK_BYTES];
static uint8_t k_init[HANDSHAKE_INIT_KEY_BYTES];
static uint8_t e_c[HANDSHAKE_PRIVATE_BYTES];
static uint8_t golden_init[MSG_INIT_BYTES];
static struct index_table *ix;
static struct peer *srv, *cli;
static uint64_t now_ms;

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
	if (handshake_init_create_with(k_init, 0x11111111, e_c, golden_init) != 0)
		abort();
	ix = index_new();
	srv = peer_new(PEER_RESPONDER, psk, ix);
	cli = peer_new(PEER_INITIATOR, psk, ix);
	if (!ix || !srv || !cli)
		abort();
	if (peer_handshake_start(cli, init, 0) != 0)
		abort();
}

static void as_init(const uint8_t *p, size_t len)
{
	uint8_t resp[MSG_RESPONSE_BYTES];
	struct session_keys keys;
	int err;

	err = handshake_init_verify(p, len, k_init);
	if (handshake_init_match(p, len, &k_init, 1) != (err == 0 ? 0 : err))
		abort();
	if (handshake_respond(psk, p, len, 0x22222222, resp, &keys) == 0 && err != 0)
		abort(); /* answered an INIT that does not verify */
	err = peer_handle_init(srv, p, len, resp, now_ms);
	if (err == 0 && peer_pending_count(srv) == 0)
		abort();
	if (peer_pending_count(srv) > HANDSHAKE_MAX_PENDING)
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
	as_init(data, size);
	as_response(data, size);
	if (size == MSG_INIT_BYTES + MSG_RESPONSE_BYTES) {
		as_init(data, MSG_INIT_BYTES);
		as_response(data + MSG_INIT_BYTES, MSG_RESPONSE_BYTES);
	}
	if (index_count(ix) > 1 + HANDSHAKE_MAX_PENDING)
		abort();
	return 0;
}
