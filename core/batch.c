/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/batch.h"

#include <errno.h>

int body_next(struct cursor *c, struct body_msg *m)
{
	size_t need;
	int err;

	if (c->len == 0)
		return 0;
	m->type = c->p[0];
	switch (m->type) {
	case MSG_INIT:
		need = MSG_INIT_BYTES;
		break;
	case MSG_RESPONSE:
		need = MSG_RESPONSE_BYTES;
		break;
	case MSG_DATA:
	case MSG_POLL:
		/* Bounds the header, the length field against FRAME_MAX_PLAINTEXT_BYTES and
		 * the whole frame against what is left of the body. */
		err = frame_header_parse(c->p, c->len, &m->hdr);
		if (err)
			return err;
		need = FRAME_HEADER_BYTES + (size_t)m->hdr.length + FRAME_TAG_BYTES;
		break;
	default:
		return -EPROTO;
	}
	if (!cur_span(c, need, &m->whole))
		return -EPROTO;
	return 1;
}

static bool record_type_known(uint8_t type)
{
	switch (type) {
	case REC_IP:
	case REC_IP_GSO:
	case REC_L7_OPEN:
	case REC_L7_DATA:
	case REC_L7_WINDOW:
	case REC_L7_RESET:
		return true;
	default:
		return false;
	}
}

/* Body bytes that the length field does not count (IP_GSO's virtio_net_hdr). */
static size_t record_extra_bytes(uint8_t type)
{
	return type == REC_IP_GSO ? RECORD_GSO_HDR_BYTES : 0;
}

/* Smallest body: IP records carry at least one byte of packet. */
static size_t record_min_body(uint8_t type)
{
	return type == REC_IP ? 1 : type == REC_IP_GSO ? RECORD_GSO_HDR_BYTES + 1 : 0;
}

int record_next(struct cursor *c, struct record *r)
{
	struct cursor t = *c;
	uint16_t len;

	if (!cur_u8(&t, &r->type))
		return 0;
	if (r->type == REC_PAD) {
		/* Padding hides the size of what the frame carries; its bytes mean nothing. */
		c->p += c->len;
		c->len = 0;
		return 0;
	}
	if (!record_type_known(r->type))
		return -EPROTO;
	if (!cur_u16(&t, &len))
		return -EPROTO;
	if ((r->type == REC_IP || r->type == REC_IP_GSO) && len == 0)
		return -EPROTO;
	if (!cur_span(&t, record_extra_bytes(r->type) + len, &r->body))
		return -EPROTO;
	*c = t;
	return 1;
}

int batch_init(struct batch *b, uint8_t *buf, size_t cap)
{
	if (cap < FRAME_OVERHEAD_BYTES)
		return -EMSGSIZE;
	b->frame = buf;
	b->max_plain = cap - FRAME_OVERHEAD_BYTES;
	if (b->max_plain > FRAME_MAX_PLAINTEXT_BYTES)
		b->max_plain = FRAME_MAX_PLAINTEXT_BYTES;
	b->len = 0;
	b->open_max = 0;
	b->open_type = REC_PAD;
	b->padded = false;
	return 0;
}

static bool batch_busy(const struct batch *b)
{
	return b->open_type != REC_PAD || b->padded;
}

static size_t batch_room_type(const struct batch *b, uint8_t type)
{
	size_t left = b->max_plain - b->len;
	size_t max = record_extra_bytes(type) + RECORD_MAX_BODY_BYTES;

	if (batch_busy(b) || left < RECORD_HEADER_BYTES + record_min_body(type))
		return 0;
	left -= RECORD_HEADER_BYTES;
	return left > max ? max : left;
}

size_t batch_room(const struct batch *b)
{
	size_t left = b->max_plain - b->len;

	if (batch_busy(b) || left < RECORD_HEADER_BYTES)
		return 0;
	left -= RECORD_HEADER_BYTES;
	return left > RECORD_MAX_BODY_BYTES ? RECORD_MAX_BODY_BYTES : left;
}

size_t batch_room_gso(const struct batch *b)
{
	return batch_room_type(b, REC_IP_GSO);
}

/* Checks shared by batch_add and batch_reserve; len is the body length. */
static int batch_check(const struct batch *b, uint8_t type, size_t len)
{
	if (!record_type_known(type) || len > record_extra_bytes(type) + RECORD_MAX_BODY_BYTES)
		return -EINVAL;
	if (len < record_min_body(type))
		return -EINVAL;
	if (batch_busy(b))
		return -EBUSY;
	if (len > batch_room_type(b, type) || b->max_plain - b->len < RECORD_HEADER_BYTES)
		return -ENOSPC;
	return 0;
}

static void batch_put_header(struct batch *b, uint8_t type, size_t len)
{
	uint8_t *p = batch_plaintext(b) + b->len;

	p[0] = type;
	store_be16(p + 1, (uint16_t)(len - record_extra_bytes(type)));
}

int batch_add(struct batch *b, uint8_t type, const uint8_t *body, size_t len)
{
	int err = batch_check(b, type, len);

	if (err)
		return err;
	batch_put_header(b, type, len);
	if (len)
		memcpy(batch_plaintext(b) + b->len + RECORD_HEADER_BYTES, body, len);
	b->len += RECORD_HEADER_BYTES + len;
	return 0;
}

int batch_add_ip(struct batch *b, const uint8_t *pkt, size_t len)
{
	return batch_add(b, REC_IP, pkt, len);
}

uint8_t *batch_reserve(struct batch *b, uint8_t type, size_t max_len)
{
	if (batch_check(b, type, max_len))
		return NULL;
	b->open_type = type;
	b->open_max = max_len;
	return batch_plaintext(b) + b->len + RECORD_HEADER_BYTES;
}

int batch_commit(struct batch *b, size_t len)
{
	uint8_t type = b->open_type;
	size_t max = b->open_max;

	batch_cancel(b);
	if (type == REC_PAD || len > max || len < record_min_body(type))
		return -EINVAL;
	batch_put_header(b, type, len);
	b->len += RECORD_HEADER_BYTES + len;
	return 0;
}

void batch_cancel(struct batch *b)
{
	b->open_type = REC_PAD;
	b->open_max = 0;
}

int batch_pad(struct batch *b, size_t plaintext_len)
{
	if (b->open_type != REC_PAD)
		return -EBUSY;
	if (plaintext_len == b->len)
		return 0;
	if (plaintext_len < b->len)
		return -EINVAL;
	if (plaintext_len > b->max_plain)
		return -ENOSPC;
	if (b->padded)
		return -EBUSY;
	batch_plaintext(b)[b->len] = REC_PAD;
	memset(batch_plaintext(b) + b->len + 1, 0, plaintext_len - b->len - 1);
	b->len = plaintext_len;
	b->padded = true;
	return 0;
}

void body_builder_init(struct body_builder *bb, uint8_t *buf, size_t cap)
{
	bb->buf = buf;
	bb->cap = cap;
	bb->len = 0;
}

int body_frame_begin(struct body_builder *bb, struct batch *b)
{
	if (batch_init(b, bb->buf + bb->len, bb->cap - bb->len))
		return -ENOSPC;
	return 0;
}

int body_frame_end(struct body_builder *bb, const struct batch *b)
{
	if (b->frame != bb->buf + bb->len || b->open_type != REC_PAD ||
	    batch_frame_len(b) > bb->cap - bb->len)
		return -EINVAL;
	bb->len += batch_frame_len(b);
	return 0;
}
