/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Handshake message crypto (docs/PROTOCOL.md section 3): build and check INIT and
 * RESPONSE, derive the session keys. No state: the caller (core/peer.c) keeps the
 * ephemeral private key and decides what a verified message may change.
 *
 * Every function that takes a received message takes its length too and rejects any
 * length but the exact one, so a transport can pass what it got unchecked.
 * Errors: -EPROTO (wrong length, type, version, reserved field, zero index, all-zero DH),
 * -EBADMSG (MAC does not verify), -ENOENT (RESPONSE for another INIT's index).
 * Secrets on the stack are wiped before return; MACs are compared in constant time.
 */
#ifndef HTTUN_CORE_HANDSHAKE_H
#define HTTUN_CORE_HANDSHAKE_H

#include "core/frame.h"
#include "core/limits.h"
#include "core/session.h"

#include <stddef.h>
#include <stdint.h>

#define HANDSHAKE_VERSION 1
/* X25519 key sizes (crypto_scalarmult_BYTES / _SCALARBYTES). */
#define HANDSHAKE_PUBLIC_BYTES 32
#define HANDSHAKE_PRIVATE_BYTES 32
/* K_init = B(32, psk, "httun v1 init"). */
#define HANDSHAKE_INIT_KEY_BYTES 32
#define HANDSHAKE_MAC_BYTES 16

/* K_init for a channel, from its psk. */
void handshake_init_key(const uint8_t psk[PSK_BYTES], uint8_t k_init[HANDSHAKE_INIT_KEY_BYTES]);

/*
 * Client: make a fresh ephemeral key pair, write its private half to e_priv (the caller
 * keeps it in sodium_malloc'd memory until the RESPONSE) and the INIT to init.
 * sender_index is the client's index for the new session (nonzero); timestamp_ns goes
 * into the INIT as is (nanoseconds since the Unix epoch, strictly increasing per client:
 * core/peer.c makes it so). Returns 0 or -EINVAL.
 */
int handshake_init_create(const uint8_t k_init[HANDSHAKE_INIT_KEY_BYTES], uint32_t sender_index,
			  uint64_t timestamp_ns, uint8_t e_priv[HANDSHAKE_PRIVATE_BYTES],
			  uint8_t init[MSG_INIT_BYTES]);

/* The same with a given ephemeral private key: for golden vectors only. */
int handshake_init_create_with(const uint8_t k_init[HANDSHAKE_INIT_KEY_BYTES],
			       uint32_t sender_index, uint64_t timestamp_ns,
			       const uint8_t e_priv[HANDSHAKE_PRIVATE_BYTES],
			       uint8_t init[MSG_INIT_BYTES]);

/*
 * Server: does this INIT (len bytes) carry a valid header and a MAC under k_init?
 * Returns 0, -EPROTO or -EBADMSG. Cheap (one BLAKE2b), no DH.
 */
int handshake_init_verify(const uint8_t *init, size_t len,
			  const uint8_t k_init[HANDSHAKE_INIT_KEY_BYTES]);

/*
 * The timestamp field of an INIT of MSG_INIT_BYTES. Trust it only after
 * handshake_init_verify said 0: the MAC covers it.
 */
uint64_t handshake_init_timestamp(const uint8_t init[MSG_INIT_BYTES]);

/*
 * Server with several channels: the position in k_inits[0..n) of the first key the INIT
 * verifies under, or -EPROTO / -EBADMSG when none does. Every key is tried, so the time
 * taken does not tell which channel matched.
 */
int handshake_init_match(const uint8_t *init, size_t len,
			 const uint8_t (*k_inits)[HANDSHAKE_INIT_KEY_BYTES], size_t n);

/*
 * Server: verify the INIT under psk's K_init, make a fresh ephemeral, write the RESPONSE
 * with sender_index (the server's nonzero index for the new session) and fill *keys for
 * the server side (send = K_s2c, recv = K_c2s). On failure *keys and resp hold nothing
 * usable. Returns 0, -EPROTO, -EBADMSG or -EINVAL.
 */
int handshake_respond(const uint8_t psk[PSK_BYTES], const uint8_t *init, size_t len,
		      uint32_t sender_index, uint8_t resp[MSG_RESPONSE_BYTES],
		      struct session_keys *keys);

/* The same with a given ephemeral private key: for golden vectors only. */
int handshake_respond_with(const uint8_t psk[PSK_BYTES], const uint8_t *init, size_t len,
			   uint32_t sender_index, const uint8_t e_priv[HANDSHAKE_PRIVATE_BYTES],
			   uint8_t resp[MSG_RESPONSE_BYTES], struct session_keys *keys);

/*
 * Client: check a RESPONSE (len bytes) against the INIT we sent and our ephemeral private
 * key, and fill *keys for the client side (send = K_c2s, recv = K_s2c).
 * Returns 0, -EPROTO, -ENOENT (receiver index is not ours) or -EBADMSG.
 */
int handshake_response_verify(const uint8_t psk[PSK_BYTES], const uint8_t init[MSG_INIT_BYTES],
			      const uint8_t e_priv[HANDSHAKE_PRIVATE_BYTES], const uint8_t *resp,
			      size_t len, struct session_keys *keys);

#endif
