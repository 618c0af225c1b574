/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Every limit and default of httun, named, with the reason for its value.
 * docs/PROTOCOL.md refers to these by name.
 */
#ifndef HTTUN_CORE_LIMITS_H
#define HTTUN_CORE_LIMITS_H

/* ---- keys ---- */

/* Pre-shared channel key: 256 bits, the AES-256 and BLAKE2b key size. */
#define PSK_BYTES 32
/* A key file holds one base64 line; anything longer is not a key file. */
#define KEY_FILE_MAX_BYTES 4096

/* ---- sealed frames (docs/PROTOCOL.md "Frames") ---- */

/* Clear header authenticated as associated data. */
#define FRAME_HEADER_BYTES 20
/* AES-256-GCM tag. */
#define FRAME_TAG_BYTES 16
#define FRAME_OVERHEAD_BYTES (FRAME_HEADER_BYTES + FRAME_TAG_BYTES)
/*
 * Largest plaintext one frame may carry. Big enough for a 64 KiB IP packet with its
 * record header plus room to batch, small enough that a receiver can hold one frame
 * per connection without caring.
 */
#define FRAME_MAX_PLAINTEXT_BYTES (256 * 1024)

/*
 * Replay window (RFC 6479 bitmap). 8192 bits like WireGuard: frames from several HTTP
 * connections arrive out of order, so the window must cover everything that can be in
 * flight at once; the requirement is at least 2048.
 */
#define REPLAY_WINDOW_BITS 8192

/*
 * Rekeying. Nonces are a 64-bit counter, so they cannot repeat, but a key should not seal
 * anywhere near 2^32 frames (the classic AES-GCM usage bound). The client starts a new
 * handshake after REKEY_AFTER_FRAMES or REKEY_AFTER_MS, whichever comes first; no key ever
 * seals more than REJECT_AFTER_FRAMES, and a receiver drops frames of a session older
 * than REJECT_AFTER_MS.
 */
#define REKEY_AFTER_FRAMES (1ULL << 30)
#define REJECT_AFTER_FRAMES (1ULL << 31)
#define REKEY_AFTER_MS (120 * 1000)
#define REJECT_AFTER_MS (180 * 1000)
/*
 * After a new session is confirmed, the replaced one still opens frames that were in
 * flight when the switch happened, for this long.
 */
#define PREVIOUS_SESSION_KEEP_MS (10 * 1000)

/* ---- handshake (docs/PROTOCOL.md "Handshake") ---- */

/*
 * Unconfirmed responder sessions kept per channel. A replayed init can only cycle these
 * slots; it never touches the confirmed session.
 */
#define HANDSHAKE_MAX_PENDING 4
/* An unconfirmed responder session is forgotten after this long. */
#define HANDSHAKE_PENDING_MS (15 * 1000)

/* ---- logging ---- */

/* Log lines that a peer can trigger: at most this many per interval, then a summary. */
#define LOG_RATELIMIT_BURST 10
#define LOG_RATELIMIT_INTERVAL_MS (5 * 1000)

/* ---- configuration ---- */

/* One config line; longer lines are an error, never silently cut. */
#define CONFIG_MAX_LINE_BYTES 4096
/* A config file; anything larger is not a config file. */
#define CONFIG_MAX_FILE_BYTES (1024 * 1024)
/* Channels one server serves; the init MAC is tried against each channel's key. */
#define CONFIG_MAX_CHANNELS 64
/* Channel names appear in logs and config sections. */
#define CHANNEL_NAME_MAX_BYTES 64

/* ---- fcgi (fcgi/fcgi_record.h, docs/FASTCGI.md) ---- */

/*
 * One request's PARAMS, all records together. Web servers pass every HTTP header as an
 * HTTP_* param; typical requests need 1-2 KiB, and 32 KiB covers the largest header block
 * that nginx, Apache and lighttpd accept by default. More is refused, never cut.
 */
#define FCGI_PARAMS_MAX_BYTES (32 * 1024)
/*
 * Requests multiplexed on one FastCGI connection (advertised as FCGI_MAX_REQS). The common
 * web servers never multiplex; a small table is enough and bounds per-connection state.
 */
#define FCGI_MAX_REQS_PER_CONN 16
/*
 * Connections the FastCGI app serves at once (advertised as FCGI_MAX_CONNS): every pending
 * long-poll holds one, so this bounds the polls one web server can park.
 */
#define FCGI_MAX_CONNS 64

#endif
