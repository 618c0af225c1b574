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

/* ---- transport: HTTP/1.1 server and client (docs/TRANSPORT.md) ---- */

/*
 * Request target. httun URLs are PREFIX plus a 48-character token; 2 KiB leaves room for
 * any sane prefix and is below what proxies accept, so a longer URL is never ours.
 */
#define HTTP_MAX_URL_BYTES 2048
/*
 * Header names plus values of one message. Proxies add Via, X-Forwarded-For and cookies
 * of the site; 8 KiB is the common web-server default and bounds per-connection memory.
 */
#define HTTP_MAX_HEADER_BYTES (8 * 1024)
/* Header lines of one message; same reasoning as HTTP_MAX_HEADER_BYTES. */
#define HTTP_MAX_HEADER_COUNT 64
/*
 * Request body (a batch of sealed frames). Room for several maximum-size frames
 * (FRAME_MAX_PLAINTEXT_BYTES) per POST; the buffer is allocated from Content-Length
 * before the body arrives, so this times HTTP_MAX_CONNECTIONS is the worst-case memory.
 */
#define HTTP_MAX_BODY_BYTES (2 * 1024 * 1024)
/*
 * Open server connections. Each client keeps a few (two parked polls plus POSTs in
 * flight); beyond this a new connection gets a 503 and is closed at once, so a flood
 * costs no memory and clients fail fast instead of hanging in the listen backlog.
 */
#define HTTP_MAX_CONNECTIONS 256
/*
 * From the first byte of a request (or from accept) to the end of its header. Stops
 * slowloris: a peer trickling header bytes holds a connection for at most this long.
 */
#define HTTP_HEADER_TIMEOUT_MS (10 * 1000)
/*
 * Keep-alive connection with no request. Clients keep polls outstanding, so a healthy
 * connection is never idle this long; proxies' upstream idle timeouts are about 60 s.
 */
#define HTTP_IDLE_TIMEOUT_MS (60 * 1000)
/*
 * Longest pause between two reads of a request body. A gap, not a deadline: a large
 * body on a slow link is fine as long as it keeps moving.
 */
#define HTTP_BODY_TIMEOUT_MS (10 * 1000)
/* A response the peer does not read for this long: the peer is gone or hostile. */
#define HTTP_WRITE_TIMEOUT_MS (30 * 1000)
/*
 * After the last response of a closing connection: how long to keep reading and
 * discarding, so that unread input does not turn close() into a RST that destroys the
 * response still in flight to the peer.
 */
#define HTTP_LINGER_MS (2 * 1000)
/*
 * Per-connection read buffer for headers and small bodies, reused for every request.
 * Bodies with Content-Length are read straight into their own buffer, not through this.
 */
#define HTTP_READ_BUF_BYTES (64 * 1024)
/*
 * A connection keeps its body buffer for the next request up to this size, so steady
 * traffic of normal-size batches needs no malloc per request; larger ones are freed.
 */
#define HTTP_BODY_KEEP_BYTES (512 * 1024)
/* Response body the client accepts (a poll answer is a batch of frames). */
#define HTTP_CLIENT_MAX_BODY_BYTES HTTP_MAX_BODY_BYTES
/* TCP connect to the server, per attempt. */
#define HTTP_CLIENT_CONNECT_TIMEOUT_MS (10 * 1000)
/* Keep-alive connections a client opens to its one origin by default. */
#define HTTP_CLIENT_POOL_DEFAULT 4
/* Idle request structures a client keeps for reuse instead of freeing them. */
#define HTTP_CLIENT_FREE_REQS 16

#endif
