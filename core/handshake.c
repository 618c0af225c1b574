/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Handshake message crypto; docs/PROTOCOL.md section 3 gives every byte used here. */
#include "core/handshake.h"

#include "core/cursor.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

/* Offsets inside INIT and RESPONSE (docs/PROTOCOL.md section 3). */
#define INIT_EPHEMERAL_OFF 8
#define INIT_TIMESTAMP_OFF 40
#define INIT_MAC_OFF 48
#define RESP_MAC_OFF 44
#define RESP_EPHEMERAL_OFF 12
#define KEYS_BYTES 64

static const char label_init[] = "httun v1 init";
static const char label_keys[] = "httun v1 keys";
static const char label_resp[] = "httun v1 resp";

/* The bytes of a label, without its NUL (docs/PROTOCOL.md section 1). */
#define LABEL(s) (const unsigned char *)(s), sizeof(s) - 1

void handshake_init_key(const uint8_t psk[PSK_BYTES], uint8_t k_init[HANDSHAKE_INIT_KEY_BYTES])
{
	crypto_generichash(k_init, HANDSHAKE_INIT_KEY_BYTES, LABEL(label_init), psk, PSK_BYTES);
}

static void init_mac(const uint8_t k_init[HANDSHAKE_INIT_KEY_BYTES], const uint8_t *init,
		     uint8_t mac[HANDSHAKE_MAC_BYTES])
{
	crypto_generichash(mac, HANDSHAKE_MAC_BYTES, init, INIT_MAC_OFF, k_init,
			   HANDSHAKE_INIT_KEY_BYTES);
}

int handshake_init_create_with(const uint8_t k_init[HANDSHAKE_INIT_KEY_BYTES],
			       uint32_t sender_index, uint64_t timestamp_ns,
			       const uint8_t e_priv[HANDSHAKE_PRIVATE_BYTES],
			       uint8_t init[MSG_INIT_BYTES])
{
	uint8_t e_pub[HANDSHAKE_PUBLIC_BYTES];
	struct writer w = writer_make(init, MSG_INIT_BYTES);

	if (sender_index == 0)
		return -EINVAL;
	if (crypto_scalarmult_base(e_pub, e_priv) != 0)
		return -EINVAL;
	wr_u8(&w, MSG_INIT);
	wr_u8(&w, HANDSHAKE_VERSION);
	wr_u16(&w, 0);
	wr_u32(&w, sender_index);
	wr_bytes(&w, e_pub, sizeof(e_pub));
	wr_u64(&w, timestamp_ns);
	init_mac(k_init, init, init + INIT_MAC_OFF);
	return 0;
}

int handshake_init_create(const uint8_t k_init[HANDSHAKE_INIT_KEY_BYTES], uint32_t sender_index,
			  uint64_t timestamp_ns, uint8_t e_priv[HANDSHAKE_PRIVATE_BYTES],
			  uint8_t init[MSG_INIT_BYTES])
{
	int err;

	randombytes_buf(e_priv, HANDSHAKE_PRIVATE_BYTES);
	err = handshake_init_create_with(k_init, sender_index, timestamp_ns, e_priv, init);
	if (err)
		sodium_memzero(e_priv, HANDSHAKE_PRIVATE_BYTES);
	return err;
}

/* Type, version, reserved and a nonzero sender index: the clear part of INIT/RESPONSE. */
static int check_header(struct cursor *c, uint8_t want_type, uint32_t *sender)
{
	uint8_t type, version;
	uint16_t reserved;

	if (!cur_u8(c, &type) || !cur_u8(c, &version) || !cur_u16(c, &reserved) ||
	    !cur_u32(c, sender))
		return -EPROTO;
	if (type != want_type || version != HANDSHAKE_VERSION || reserved != 0 || *sender == 0)
		return -EPROTO;
	return 0;
}

int handshake_init_verify(const uint8_t *init, size_t len,
			  const uint8_t k_init[HANDSHAKE_INIT_KEY_BYTES])
{
	struct cursor c = cursor_make(init, len);
	uint8_t mac[HANDSHAKE_MAC_BYTES];
	uint32_t sender;
	int err;

	if (len != MSG_INIT_BYTES)
		return -EPROTO;
	err = check_header(&c, MSG_INIT, &sender);
	if (err)
		return err;
	init_mac(k_init, init, mac);
	err = sodium_memcmp(mac, init + INIT_MAC_OFF, HANDSHAKE_MAC_BYTES) == 0 ? 0 : -EBADMSG;
	sodium_memzero(mac, sizeof(mac));
	return err;
}

uint64_t handshake_init_timestamp(const uint8_t init[MSG_INIT_BYTES])
{
	return load_be64(init + INIT_TIMESTAMP_OFF);
}

int handshake_init_match(const uint8_t *init, size_t len,
			 const uint8_t (*k_inits)[HANDSHAKE_INIT_KEY_BYTES], size_t n)
{
	int found = -EBADMSG;

	if (len != MSG_INIT_BYTES)
		return -EPROTO;
	for (size_t i = 0; i < n; i++) {
		int err = handshake_init_verify(init, len, k_inits[i]);

		if (err == -EPROTO)
			return err; /* header is independent of the key */
		if (err == 0 && found < 0)
			found = (int)i;
	}
	return found;
}

/*
 * keys = B(64, psk, "httun v1 keys" || dh || T), mac = B(16, psk, "httun v1 resp" || dh || T)
 * with T = init[0..64) || resp[0..44).
 */
static void derive(const uint8_t psk[PSK_BYTES], const uint8_t dh[crypto_scalarmult_BYTES],
		   const uint8_t *init, const uint8_t *resp, uint8_t keys[KEYS_BYTES],
		   uint8_t mac[HANDSHAKE_MAC_BYTES])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, psk, PSK_BYTES, KEYS_BYTES);
	crypto_generichash_update(&st, LABEL(label_keys));
	crypto_generichash_update(&st, dh, crypto_scalarmult_BYTES);
	crypto_generichash_update(&st, init, MSG_INIT_BYTES);
	crypto_generichash_update(&st, resp, RESP_MAC_OFF);
	crypto_generichash_final(&st, keys, KEYS_BYTES);

	crypto_generichash_init(&st, psk, PSK_BYTES, HANDSHAKE_MAC_BYTES);
	crypto_generichash_update(&st, LABEL(label_resp));
	crypto_generichash_update(&st, dh, crypto_scalarmult_BYTES);
	crypto_generichash_update(&st, init, MSG_INIT_BYTES);
	crypto_generichash_update(&st, resp, RESP_MAC_OFF);
	crypto_generichash_final(&st, mac, HANDSHAKE_MAC_BYTES);
	sodium_memzero(&st, sizeof(st));
}

int handshake_respond_with(const uint8_t psk[PSK_BYTES], const uint8_t *init, size_t len,
			   uint32_t sender_index, const uint8_t e_priv[HANDSHAKE_PRIVATE_BYTES],
			   uint8_t resp[MSG_RESPONSE_BYTES], struct session_keys *keys)
{
	uint8_t k_init[HANDSHAKE_INIT_KEY_BYTES];
	uint8_t e_pub[HANDSHAKE_PUBLIC_BYTES];
	uint8_t dh[crypto_scalarmult_BYTES];
	uint8_t k[KEYS_BYTES];
	struct writer w = writer_make(resp, MSG_RESPONSE_BYTES);
	int err;

	if (sender_index == 0)
		return -EINVAL;
	handshake_init_key(psk, k_init);
	err = handshake_init_verify(init, len, k_init);
	sodium_memzero(k_init, sizeof(k_init));
	if (err)
		return err;
	if (crypto_scalarmult_base(e_pub, e_priv) != 0)
		return -EINVAL;
	/*
	 * A low-order E_c would make dh all zero whatever our e_s: the keys would then
	 * depend on public values only. libsodium refuses that result.
	 */
	if (crypto_scalarmult(dh, e_priv, init + INIT_EPHEMERAL_OFF) != 0) {
		sodium_memzero(dh, sizeof(dh));
		return -EPROTO;
	}
	wr_u8(&w, MSG_RESPONSE);
	wr_u8(&w, HANDSHAKE_VERSION);
	wr_u16(&w, 0);
	wr_u32(&w, sender_index);
	wr_bytes(&w, init + 4, 4); /* receiver index: the client's, copied from INIT */
	wr_bytes(&w, e_pub, sizeof(e_pub));
	derive(psk, dh, init, resp, k, resp + RESP_MAC_OFF);

	memcpy(keys->recv, k, 32); /* K_c2s */
	memcpy(keys->send, k + 32, 32); /* K_s2c */
	keys->local_index = sender_index;
	keys->remote_index = load_be32(init + 4);
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(k, sizeof(k));
	return 0;
}

int handshake_respond(const uint8_t psk[PSK_BYTES], const uint8_t *init, size_t len,
		      uint32_t sender_index, uint8_t resp[MSG_RESPONSE_BYTES],
		      struct session_keys *keys)
{
	uint8_t e_priv[HANDSHAKE_PRIVATE_BYTES];
	int err;

	randombytes_buf(e_priv, sizeof(e_priv));
	err = handshake_respond_with(psk, init, len, sender_index, e_priv, resp, keys);
	sodium_memzero(e_priv, sizeof(e_priv));
	return err;
}

int handshake_response_verify(const uint8_t psk[PSK_BYTES], const uint8_t init[MSG_INIT_BYTES],
			      const uint8_t e_priv[HANDSHAKE_PRIVATE_BYTES], const uint8_t *resp,
			      size_t len, struct session_keys *keys)
{
	struct cursor c = cursor_make(resp, len);
	uint8_t dh[crypto_scalarmult_BYTES];
	uint8_t k[KEYS_BYTES];
	uint8_t mac[HANDSHAKE_MAC_BYTES];
	uint32_t sender, receiver;
	int err;

	if (len != MSG_RESPONSE_BYTES)
		return -EPROTO;
	err = check_header(&c, MSG_RESPONSE, &sender);
	if (err)
		return err;
	if (!cur_u32(&c, &receiver))
		return -EPROTO;
	if (receiver != load_be32(init + 4))
		return -ENOENT;
	if (crypto_scalarmult(dh, e_priv, resp + RESP_EPHEMERAL_OFF) != 0) {
		sodium_memzero(dh, sizeof(dh));
		return -EPROTO;
	}
	derive(psk, dh, init, resp, k, mac);
	sodium_memzero(dh, sizeof(dh));
	if (sodium_memcmp(mac, resp + RESP_MAC_OFF, HANDSHAKE_MAC_BYTES) != 0) {
		err = -EBADMSG;
		goto out;
	}
	memcpy(keys->send, k, 32); /* K_c2s */
	memcpy(keys->recv, k + 32, 32); /* K_s2c */
	keys->local_index = receiver;
	keys->remote_index = sender;
out:
	sodium_memzero(k, sizeof(k));
	sodium_memzero(mac, sizeof(mac));
	return err;
}
