/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Relay codec: docs/PROTOCOL.md section 9. */
#include "core/relay.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

int relay_msg_next(struct cursor *c, struct relay_msg *m, size_t *need)
{
	struct cursor h = *c;
	uint8_t type = 0, reserved8 = 0;
	uint16_t reserved16 = 0;
	uint32_t id = 0, len = 0;

	if (need)
		*need = RELAY_HEADER_BYTES;
	if (c->len < RELAY_HEADER_BYTES)
		return 0;
	cur_u8(&h, &type);
	cur_u8(&h, &reserved8);
	cur_u16(&h, &reserved16);
	cur_u32(&h, &id);
	cur_u32(&h, &len);
	/* Reserved bytes are zero in version 1: anything else is a peer we cannot frame. */
	if (reserved8 || reserved16)
		return -EPROTO;
	if (len > RELAY_MAX_PAYLOAD_BYTES)
		return -EMSGSIZE;
	/* id 0 belongs to HELLO alone, so a reply can never be taken for the greeting. */
	if ((type == RELAY_HELLO) != (id == 0) && (type == RELAY_HELLO || type == RELAY_REQUEST ||
						   type == RELAY_RESPONSE || type == RELAY_CANCEL))
		return -EPROTO;
	if (need)
		*need = RELAY_HEADER_BYTES + (size_t)len;
	if (h.len < len)
		return 0;
	m->type = type;
	m->id = id;
	cur_span(&h, len, &m->payload);
	*c = h;
	return 1;
}

int relay_hello_parse(struct span payload, uint16_t *version)
{
	struct cursor c = cursor_make(payload.p, payload.len);
	uint16_t reserved = 0;

	if (payload.len != RELAY_HELLO_BYTES)
		return -EPROTO;
	cur_u16(&c, version);
	cur_u16(&c, &reserved);
	return reserved ? -EPROTO : 0;
}

static bool token_char(uint8_t ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool method_ok(struct span m)
{
	if (m.len < 1 || m.len > RELAY_METHOD_MAX_BYTES)
		return false;
	for (size_t i = 0; i < m.len; i++)
		if (!token_char(m.p[i]))
			return false;
	return true;
}

/* Printable ASCII without space: a request target as HTTP/1.1 carries it. */
static bool target_ok(struct span t)
{
	if (t.len < 1 || t.len > HTTP_MAX_URL_BYTES || t.p[0] != '/')
		return false;
	for (size_t i = 0; i < t.len; i++)
		if (t.p[i] <= 0x20 || t.p[i] >= 0x7f)
			return false;
	return true;
}

/* Printable ASCII, space included: it becomes a header value on the web server. */
static bool ctype_ok(struct span t)
{
	if (t.len > RELAY_CTYPE_MAX_BYTES)
		return false;
	for (size_t i = 0; i < t.len; i++)
		if (t.p[i] < 0x20 || t.p[i] >= 0x7f)
			return false;
	return true;
}

int relay_request_parse(struct span payload, struct relay_request *r)
{
	struct cursor c = cursor_make(payload.p, payload.len);
	uint8_t mlen;
	uint16_t tlen;

	if (!cur_u8(&c, &mlen) || !cur_span(&c, mlen, &r->method) || !method_ok(r->method))
		return -EPROTO;
	if (!cur_u16(&c, &tlen) || !cur_span(&c, tlen, &r->target) || !target_ok(r->target))
		return -EPROTO;
	if (c.len > RELAY_MAX_BODY_BYTES)
		return -EMSGSIZE;
	cur_span(&c, c.len, &r->body);
	return 0;
}

int relay_response_parse(struct span payload, struct relay_response *r)
{
	struct cursor c = cursor_make(payload.p, payload.len);
	uint8_t clen;

	if (!cur_u16(&c, &r->status) || r->status < 100 || r->status > 599)
		return -EPROTO;
	if (!cur_u8(&c, &clen) || !cur_span(&c, clen, &r->ctype) || !ctype_ok(r->ctype))
		return -EPROTO;
	if (c.len > RELAY_MAX_BODY_BYTES)
		return -EMSGSIZE;
	cur_span(&c, c.len, &r->body);
	return 0;
}

int relay_cancel_parse(struct span payload)
{
	return payload.len ? -EPROTO : 0;
}

static bool write_header(struct writer *w, uint8_t type, uint32_t id, size_t len)
{
	return wr_u8(w, type) && wr_u8(w, 0) && wr_u16(w, 0) && wr_u32(w, id) &&
	       wr_u32(w, (uint32_t)len);
}

int relay_write_hello(struct writer *w)
{
	if (!wr_room(w, RELAY_HEADER_BYTES + RELAY_HELLO_BYTES))
		return -ENOBUFS;
	write_header(w, RELAY_HELLO, 0, RELAY_HELLO_BYTES);
	wr_u16(w, RELAY_VERSION);
	wr_u16(w, 0);
	return 0;
}

int relay_write_request_head(struct writer *w, uint32_t id, struct span method, struct span target,
			     size_t body_len)
{
	size_t head = 1 + method.len + 2 + target.len;

	if (id == 0 || !method_ok(method) || !target_ok(target))
		return -EINVAL;
	if (body_len > RELAY_MAX_BODY_BYTES)
		return -EMSGSIZE;
	if (!wr_room(w, RELAY_HEADER_BYTES + head))
		return -ENOBUFS;
	write_header(w, RELAY_REQUEST, id, head + body_len);
	wr_u8(w, (uint8_t)method.len);
	wr_bytes(w, method.p, method.len);
	wr_u16(w, (uint16_t)target.len);
	wr_bytes(w, target.p, target.len);
	return 0;
}

int relay_write_response_head(struct writer *w, uint32_t id, uint16_t status, struct span ctype,
			      size_t body_len)
{
	size_t head = RELAY_RESPONSE_FIXED_BYTES + ctype.len;

	if (id == 0 || status < 100 || status > 599 || !ctype_ok(ctype))
		return -EINVAL;
	if (body_len > RELAY_MAX_BODY_BYTES)
		return -EMSGSIZE;
	if (!wr_room(w, RELAY_HEADER_BYTES + head))
		return -ENOBUFS;
	write_header(w, RELAY_RESPONSE, id, head + body_len);
	wr_u16(w, status);
	wr_u8(w, (uint8_t)ctype.len);
	wr_bytes(w, ctype.p, ctype.len);
	return 0;
}

int relay_write_cancel(struct writer *w, uint32_t id)
{
	if (id == 0)
		return -EINVAL;
	if (!wr_room(w, RELAY_HEADER_BYTES))
		return -ENOBUFS;
	write_header(w, RELAY_CANCEL, id, 0);
	return 0;
}
