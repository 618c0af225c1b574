/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The relay protocol between `httun fcgi` and `httun server` over a local Unix stream
 * socket (docs/PROTOCOL.md section 9): length-prefixed messages, each with a request id,
 * so that replies are matched by id and never by position. Pure codec: no I/O, no
 * printing; bounded cursors throughout.
 */
#ifndef HTTUN_CORE_RELAY_H
#define HTTUN_CORE_RELAY_H

#include "core/cursor.h"
#include "core/limits.h"

#include <stddef.h>
#include <stdint.h>

#define RELAY_VERSION 1
/* Where `httun fcgi` looks for the server when not told (docs/FASTCGI.md). */
#define RELAY_DEFAULT_SOCKET "/run/httun/fcgi.sock"
#define RELAY_HEADER_BYTES 12
#define RELAY_HELLO_BYTES 4
/* The fixed part of a RESPONSE payload before the content type: status, type length. */
#define RELAY_RESPONSE_FIXED_BYTES 3
/* Room for the header and fixed fields of any REQUEST or RESPONSE (not the body). */
#define RELAY_HEAD_MAX_BYTES                                                                       \
	(RELAY_HEADER_BYTES + 1 + RELAY_METHOD_MAX_BYTES + 2 + HTTP_MAX_URL_BYTES)

enum relay_type {
	RELAY_HELLO = 1, /* both ways, id 0: version; the relay speaks first */
	RELAY_REQUEST = 2, /* relay to server: method, target, body */
	RELAY_RESPONSE = 3, /* server to relay: status, content type, body */
	RELAY_CANCEL = 4, /* relay to server: the request's client went away */
};

/* One whole message; payload borrows from the caller's buffer. */
struct relay_msg {
	uint8_t type; /* any value: the caller judges types and direction */
	uint32_t id;
	struct span payload;
};

/*
 * Take the next message from a byte stream. Returns 1 with *m set and c advanced; 0 when c
 * does not hold the whole message yet (nothing consumed; *need, when not NULL, is set to
 * the bytes the whole message takes once its header is buffered, else to the header size);
 * -EPROTO for non-zero reserved bytes, -EMSGSIZE for a payload over RELAY_MAX_PAYLOAD_BYTES
 * (nothing consumed: the stream cannot be framed any more).
 */
int relay_msg_next(struct cursor *c, struct relay_msg *m, size_t *need);

struct relay_request {
	struct span method; /* 1..RELAY_METHOD_MAX_BYTES token characters */
	struct span target; /* 1..HTTP_MAX_URL_BYTES bytes, starts with '/', no NUL/CR/LF */
	struct span body; /* up to RELAY_MAX_BODY_BYTES */
};

struct relay_response {
	uint16_t status; /* 100..599 */
	struct span ctype; /* 0..RELAY_CTYPE_MAX_BYTES printable ASCII; empty: none */
	struct span body;
};

/* Each parser returns 0 or -EPROTO (-EMSGSIZE for a body over the limit). */
int relay_hello_parse(struct span payload, uint16_t *version);
int relay_request_parse(struct span payload, struct relay_request *r);
int relay_response_parse(struct span payload, struct relay_response *r);
/* CANCEL has an empty payload. */
int relay_cancel_parse(struct span payload);

/*
 * Writers. The *_head writers write the message header and fixed fields of a message
 * whose body_len bytes of body the caller sends right after them (uv_write with the body's
 * own buffers, never copied). Each returns 0, -ENOBUFS when w lacks room (nothing written:
 * RELAY_HEAD_MAX_BYTES is always enough), or -EINVAL / -EMSGSIZE for out-of-range fields.
 */
int relay_write_hello(struct writer *w);
int relay_write_request_head(struct writer *w, uint32_t id, struct span method, struct span target,
			     size_t body_len);
int relay_write_response_head(struct writer *w, uint32_t id, uint16_t status, struct span ctype,
			      size_t body_len);
int relay_write_cancel(struct writer *w, uint32_t id);

#endif
