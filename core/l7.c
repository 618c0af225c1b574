/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/l7.h"

#include <errno.h>

/*
 * Host bytes: printable ASCII without space. Stops NUL truncation (the host goes to
 * getaddrinfo as a C string) and control characters or spaces reaching log lines.
 */
static bool l7_host_valid(const uint8_t *p, size_t len)
{
	if (len == 0 || len > L7_HOST_MAX_BYTES)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < 0x21 || p[i] > 0x7e)
			return false;
	}
	return true;
}

/* offset + len must stay within 64 bits: the FIN end offset is offset + len. */
static bool l7_data_valid(uint8_t flags, uint64_t offset, size_t len)
{
	if (flags & ~L7_DATA_FLAGS_KNOWN)
		return false;
	if (len == 0 && !(flags & L7_DATA_FIN))
		return false;
	return (uint64_t)len <= UINT64_MAX - offset;
}

int l7_open_decode(struct span body, struct l7_open *o)
{
	struct cursor c = cursor_make(body.p, body.len);

	if (!cur_u32(&c, &o->stream) || !cur_u16(&c, &o->port))
		return -EPROTO;
	if (o->stream == 0 || o->port == 0 || !l7_host_valid(c.p, c.len))
		return -EPROTO;
	o->host_len = (uint8_t)c.len;
	memcpy(o->host, c.p, c.len);
	o->host[c.len] = '\0';
	return 0;
}

int l7_data_decode(struct span body, struct l7_data *d)
{
	struct cursor c = cursor_make(body.p, body.len);

	if (!cur_u32(&c, &d->stream) || !cur_u8(&c, &d->flags) || !cur_u64(&c, &d->offset))
		return -EPROTO;
	if (d->stream == 0 || !l7_data_valid(d->flags, d->offset, c.len))
		return -EPROTO;
	d->data.p = c.p;
	d->data.len = c.len;
	return 0;
}

int l7_window_decode(struct span body, struct l7_window *w)
{
	struct cursor c = cursor_make(body.p, body.len);

	if (body.len != L7_WINDOW_BYTES || !cur_u32(&c, &w->stream) || !cur_u64(&c, &w->max_offset))
		return -EPROTO;
	return w->stream ? 0 : -EPROTO;
}

int l7_reset_decode(struct span body, struct l7_reset *r)
{
	struct cursor c = cursor_make(body.p, body.len);

	if (body.len != L7_RESET_BYTES || !cur_u32(&c, &r->stream) || !cur_u8(&c, &r->reason))
		return -EPROTO;
	if (r->stream == 0 || r->reason == 0 || r->reason > L7_RESET_MAX)
		return -EPROTO;
	return 0;
}

int l7_add_open(struct batch *b, uint32_t stream, uint16_t port, const char *host, size_t host_len)
{
	uint8_t body[L7_OPEN_FIXED_BYTES + L7_HOST_MAX_BYTES];
	struct writer w = writer_make(body, sizeof(body));

	if (stream == 0 || port == 0 || !l7_host_valid((const uint8_t *)host, host_len))
		return -EINVAL;
	wr_u32(&w, stream);
	wr_u16(&w, port);
	wr_bytes(&w, host, host_len);
	return batch_add(b, REC_L7_OPEN, body, w.len);
}

int l7_add_data(struct batch *b, uint32_t stream, uint8_t flags, uint64_t offset,
		const uint8_t *data, size_t len)
{
	uint8_t *p;

	if (stream == 0 || !l7_data_valid(flags, offset, len) ||
	    len > RECORD_MAX_BODY_BYTES - L7_DATA_FIXED_BYTES)
		return -EINVAL;
	if (b->open_type != REC_PAD || b->padded)
		return -EBUSY;
	if (len > l7_data_room(b))
		return -ENOSPC;
	p = l7_data_reserve(b, stream, offset, len);
	if (!p)
		return -ENOSPC;
	if (len)
		memcpy(p, data, len);
	return l7_data_commit(b, flags, len);
}

int l7_add_window(struct batch *b, uint32_t stream, uint64_t max_offset)
{
	uint8_t body[L7_WINDOW_BYTES];

	if (stream == 0)
		return -EINVAL;
	store_be32(body, stream);
	store_be64(body + 4, max_offset);
	return batch_add(b, REC_L7_WINDOW, body, sizeof(body));
}

int l7_add_reset(struct batch *b, uint32_t stream, uint8_t reason)
{
	uint8_t body[L7_RESET_BYTES];

	if (stream == 0 || reason == 0 || reason > L7_RESET_MAX)
		return -EINVAL;
	store_be32(body, stream);
	body[4] = reason;
	return batch_add(b, REC_L7_RESET, body, sizeof(body));
}

size_t l7_data_room(const struct batch *b)
{
	size_t room = batch_room(b);

	return room > L7_DATA_FIXED_BYTES ? room - L7_DATA_FIXED_BYTES : 0;
}

uint8_t *l7_data_reserve(struct batch *b, uint32_t stream, uint64_t offset, size_t max_len)
{
	uint8_t *p;

	if (stream == 0 || max_len > RECORD_MAX_BODY_BYTES - L7_DATA_FIXED_BYTES ||
	    (uint64_t)max_len > UINT64_MAX - offset)
		return NULL;
	p = batch_reserve(b, REC_L7_DATA, L7_DATA_FIXED_BYTES + max_len);
	if (!p)
		return NULL;
	store_be32(p, stream);
	p[4] = 0; /* flags: written by l7_data_commit */
	store_be64(p + 5, offset);
	return p + L7_DATA_FIXED_BYTES;
}

int l7_data_commit(struct batch *b, uint8_t flags, size_t len)
{
	uint8_t *body = batch_plaintext(b) + b->len + RECORD_HEADER_BYTES;

	if (b->open_type != REC_L7_DATA || b->open_max < L7_DATA_FIXED_BYTES ||
	    len > b->open_max - L7_DATA_FIXED_BYTES ||
	    !l7_data_valid(flags, load_be64(body + 5), len)) {
		batch_cancel(b);
		return -EINVAL;
	}
	body[4] = flags;
	return batch_commit(b, L7_DATA_FIXED_BYTES + len);
}

const char *l7_reset_reason_name(uint8_t reason)
{
	switch (reason) {
	case L7_RESET_DENIED:
		return "denied by policy";
	case L7_RESET_REFUSED:
		return "connection refused";
	case L7_RESET_TIMEOUT:
		return "timed out";
	case L7_RESET_UNREACHABLE:
		return "unreachable";
	case L7_RESET_NO_NAME:
		return "name did not resolve";
	case L7_RESET_CLOSED:
		return "closed by peer application";
	case L7_RESET_PROTOCOL:
		return "protocol error";
	case L7_RESET_RESOURCES:
		return "out of resources";
	default:
		return "unknown";
	}
}
