/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "fcgi/fcgi_record.h"

#include <errno.h>
#include <string.h>

_Static_assert(FCGI_STDOUT_RECORD_BYTES % 8 == 0 &&
		       FCGI_STDOUT_RECORD_BYTES <= FCGI_MAX_CONTENT_BYTES,
	       "STDOUT records must stay aligned and fit the length field");
_Static_assert(FCGI_PARAMS_MAX_BYTES < 0x7fffffff, "params bound must fit the 4-byte form");
_Static_assert(FCGI_MAX_REQS_PER_CONN < 65535, "request ids are 16 bits");

/* Padding comes from here, so a padded STDOUT record never copies the body. */
static const uint8_t fcgi_zeros[8];

int fcgi_record_next(struct cursor *c, struct fcgi_record *r)
{
	struct cursor t = *c;
	uint8_t version, type, padding, reserved;
	uint16_t id, clen;
	struct span content, pad;

	if (t.len < FCGI_HEADER_BYTES)
		return 0;
	cur_u8(&t, &version);
	cur_u8(&t, &type);
	cur_u16(&t, &id);
	cur_u16(&t, &clen);
	cur_u8(&t, &padding);
	cur_u8(&t, &reserved);
	/* A wrong version means we are not reading FastCGI: nothing after it can be framed. */
	if (version != FCGI_VERSION_1)
		return -EPROTO;
	/* The whole record, padding included, before anything of it is used. */
	if (!cur_span(&t, clen, &content) || !cur_span(&t, padding, &pad))
		return 0;
	r->type = type;
	r->request_id = id;
	r->padding = padding;
	r->content = content;
	*c = t;
	return 1;
}

int fcgi_begin_parse(struct span content, struct fcgi_begin *b)
{
	struct cursor c = cursor_make(content.p, content.len);

	if (content.len != FCGI_BEGIN_BODY_BYTES)
		return -EPROTO;
	cur_u16(&c, &b->role);
	cur_u8(&c, &b->flags);
	/* five reserved bytes: ignored, as the specification reserves them for later use */
	return 0;
}

void fcgi_reqs_init(struct fcgi_reqs *t)
{
	memset(t, 0, sizeof(*t));
}

int fcgi_reqs_find(const struct fcgi_reqs *t, uint16_t id)
{
	if (id == FCGI_NULL_REQUEST_ID)
		return -ENOENT;
	for (int i = 0; i < FCGI_MAX_REQS_PER_CONN; i++)
		if (t->used[i] && t->id[i] == id)
			return i;
	return -ENOENT;
}

int fcgi_reqs_begin(struct fcgi_reqs *t, const struct fcgi_record *r, int *slot)
{
	struct fcgi_begin b;

	if (r->type != FCGI_BEGIN_REQUEST || r->request_id == FCGI_NULL_REQUEST_ID)
		return -EPROTO;
	if (fcgi_begin_parse(r->content, &b) < 0)
		return -EPROTO;
	if (fcgi_reqs_find(t, r->request_id) >= 0)
		return -EPROTO;
	if (b.role != FCGI_RESPONDER)
		return FCGI_UNKNOWN_ROLE;
	for (int i = 0; i < FCGI_MAX_REQS_PER_CONN; i++) {
		if (t->used[i])
			continue;
		t->used[i] = true;
		t->id[i] = r->request_id;
		t->keep_conn[i] = (b.flags & FCGI_KEEP_CONN) != 0;
		t->n++;
		*slot = i;
		return 0;
	}
	return FCGI_OVERLOADED;
}

int fcgi_reqs_end(struct fcgi_reqs *t, uint16_t id, bool *close_conn)
{
	int i = fcgi_reqs_find(t, id);

	if (i < 0)
		return i;
	*close_conn = !t->keep_conn[i];
	t->used[i] = false;
	t->keep_conn[i] = false;
	t->id[i] = 0;
	t->n--;
	return 0;
}

int fcgi_record_route(const struct fcgi_reqs *t, const struct fcgi_record *r)
{
	if (r->request_id == FCGI_NULL_REQUEST_ID)
		return r->type == FCGI_GET_VALUES ? FCGI_ROUTE_GET_VALUES : FCGI_ROUTE_UNKNOWN_TYPE;
	if (fcgi_reqs_find(t, r->request_id) < 0)
		return r->type == FCGI_BEGIN_REQUEST ? FCGI_ROUTE_BEGIN : FCGI_ROUTE_IGNORE;
	switch (r->type) {
	case FCGI_ABORT_REQUEST:
	case FCGI_PARAMS:
	case FCGI_STDIN:
	case FCGI_DATA:
		return FCGI_ROUTE_REQUEST;
	default:
		/* BEGIN_REQUEST twice, or a type only an application sends: the peer is confused. */
		return -EPROTO;
	}
}

/* A 1-byte length (< 128) or a 4-byte one with the high bit set; 31 bits remain. */
static bool params_len(struct cursor *c, uint32_t *len)
{
	uint8_t b;

	if (c->len < 1)
		return false;
	if (!(c->p[0] & 0x80)) {
		cur_u8(c, &b);
		*len = b;
		return true;
	}
	if (!cur_u32(c, len))
		return false;
	*len &= 0x7fffffff;
	return true;
}

int fcgi_params_next(struct cursor *c, struct span *name, struct span *value)
{
	struct cursor t = *c;
	uint32_t nlen, vlen;

	if (t.len == 0)
		return 0;
	if (!params_len(&t, &nlen) || !params_len(&t, &vlen))
		return -EPROTO;
	/* Each length is checked on its own, so 0x7fffffff + 0x7fffffff cannot wrap a sum. */
	if (nlen > FCGI_PARAMS_MAX_BYTES || vlen > FCGI_PARAMS_MAX_BYTES)
		return -EPROTO;
	if (!cur_span(&t, nlen, name) || !cur_span(&t, vlen, value))
		return -EPROTO;
	*c = t;
	return 1;
}

void fcgi_params_init(struct fcgi_params *p)
{
	p->len = 0;
	p->done = false;
}

int fcgi_params_add(struct fcgi_params *p, struct span content)
{
	if (p->done)
		return -EPROTO;
	if (content.len == 0) {
		p->done = true;
		return 1;
	}
	if (content.len > sizeof(p->buf) - p->len)
		return -EMSGSIZE;
	memcpy(p->buf + p->len, content.p, content.len);
	p->len += content.len;
	return 0;
}

static bool span_is(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && memcmp(s.p, lit, n) == 0;
}

int fcgi_params_lookup(const struct fcgi_params *p, struct fcgi_cgi *out)
{
	struct cursor c = cursor_make(p->buf, p->len);
	struct span name, value;
	int rc;

	memset(out, 0, sizeof(*out));
	while ((rc = fcgi_params_next(&c, &name, &value)) == 1) {
		struct span *slot = NULL;

		if (span_is(name, "REQUEST_METHOD"))
			slot = &out->request_method;
		else if (span_is(name, "SCRIPT_NAME"))
			slot = &out->script_name;
		else if (span_is(name, "PATH_INFO"))
			slot = &out->path_info;
		else if (span_is(name, "QUERY_STRING"))
			slot = &out->query_string;
		else if (span_is(name, "REQUEST_URI"))
			slot = &out->request_uri;
		else if (span_is(name, "CONTENT_LENGTH"))
			slot = &out->content_length;
		else if (span_is(name, "CONTENT_TYPE"))
			slot = &out->content_type;
		if (!slot)
			continue;
		/* Two answers to one question: refuse rather than guess which one the server meant. */
		if (slot->p)
			return -EPROTO;
		*slot = value;
		/* An empty value lies inside buf too, so p != NULL still marks "sent". */
	}
	return rc;
}

int fcgi_content_length(struct span v, uint64_t max, uint64_t *out)
{
	uint64_t n = 0;

	for (size_t i = 0; i < v.len; i++) {
		uint64_t d = (uint64_t)v.p[i] - '0';

		if (v.p[i] < '0' || v.p[i] > '9')
			return -EPROTO;
		if (n > (UINT64_MAX - d) / 10)
			return -EMSGSIZE;
		n = n * 10 + d;
	}
	if (n > max)
		return -EMSGSIZE;
	*out = n;
	return 0;
}

int fcgi_write_header(struct writer *w, uint8_t type, uint16_t request_id, uint16_t content_len,
		      uint8_t padding)
{
	if (!wr_room(w, FCGI_HEADER_BYTES))
		return -ENOBUFS;
	wr_u8(w, FCGI_VERSION_1);
	wr_u8(w, type);
	wr_u16(w, request_id);
	wr_u16(w, content_len);
	wr_u8(w, padding);
	wr_u8(w, 0);
	return 0;
}

static uint8_t pad_for(size_t len)
{
	return (uint8_t)((8 - len % 8) % 8);
}

int fcgi_write_record(struct writer *w, uint8_t type, uint16_t request_id, const void *content,
		      size_t len)
{
	uint8_t pad = pad_for(len);

	if (len > FCGI_MAX_CONTENT_BYTES)
		return -EMSGSIZE;
	if (!wr_room(w, FCGI_HEADER_BYTES + len + pad))
		return -ENOBUFS;
	fcgi_write_header(w, type, request_id, (uint16_t)len, pad);
	wr_bytes(w, content, len);
	wr_bytes(w, fcgi_zeros, pad);
	return 0;
}

static size_t pair_len_bytes(size_t len)
{
	return len < 128 ? 1 : 4;
}

static void pair_len(struct writer *w, size_t len)
{
	if (len < 128)
		wr_u8(w, (uint8_t)len);
	else
		wr_u32(w, (uint32_t)len | 0x80000000u);
}

int fcgi_write_pair(struct writer *w, struct span name, struct span value)
{
	size_t hdr, room;

	if (name.len > 0x7fffffff || value.len > 0x7fffffff)
		return -EMSGSIZE;
	hdr = pair_len_bytes(name.len) + pair_len_bytes(value.len);
	room = w->cap - w->len;
	if (hdr > room || name.len > room - hdr || value.len > room - hdr - name.len)
		return -ENOBUFS;
	pair_len(w, name.len);
	pair_len(w, value.len);
	wr_bytes(w, name.p, name.len);
	wr_bytes(w, value.p, value.len);
	return 0;
}

int fcgi_write_end_request(struct writer *w, uint16_t request_id, uint32_t app_status,
			   uint8_t protocol_status)
{
	uint8_t body[FCGI_END_BODY_BYTES] = { 0 };

	store_be32(body, app_status);
	body[4] = protocol_status;
	return fcgi_write_record(w, FCGI_END_REQUEST, request_id, body, sizeof(body));
}

int fcgi_write_unknown_type(struct writer *w, uint8_t type)
{
	uint8_t body[FCGI_UNKNOWN_TYPE_BODY_BYTES] = { 0 };

	body[0] = type;
	return fcgi_write_record(w, FCGI_UNKNOWN_TYPE, FCGI_NULL_REQUEST_ID, body, sizeof(body));
}

static struct span span_str(const char *s)
{
	struct span sp = { (const uint8_t *)s, strlen(s) };
	return sp;
}

/* Decimal digits of v and a NUL into out (12 bytes hold any uint32_t). */
static void u32_decimal(char out[12], uint32_t v)
{
	char tmp[10];
	size_t n = 0, i = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		out[i++] = tmp[--n];
	out[i] = 0;
}

int fcgi_write_get_values_result(struct writer *w, struct span get_values)
{
	static const char *const names[] = { "FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS" };
	char values[3][12];
	/* Three short pairs: well under one record, and under 128 bytes of content. */
	uint8_t content[3 * (2 + 16 + 12)];
	struct writer cw = writer_make(content, sizeof(content));
	struct cursor c = cursor_make(get_values.p, get_values.len);
	struct span name, value;
	unsigned answered = 0;
	int rc;

	u32_decimal(values[0], FCGI_MAX_CONNS);
	u32_decimal(values[1], FCGI_MAX_REQS_PER_CONN);
	u32_decimal(values[2], 1); /* FCGI_MPXS_CONNS: requests may share a connection */
	while ((rc = fcgi_params_next(&c, &name, &value)) == 1) {
		for (unsigned i = 0; i < 3; i++) {
			if (!span_is(name, names[i]) || (answered & (1u << i)))
				continue;
			answered |= 1u << i;
			if (fcgi_write_pair(&cw, span_str(names[i]), span_str(values[i])) < 0)
				return -EMSGSIZE; /* cannot happen: content is sized for all three */
		}
	}
	if (rc < 0)
		return rc;
	return fcgi_write_record(w, FCGI_GET_VALUES_RESULT, FCGI_NULL_REQUEST_ID, content, cw.len);
}

size_t fcgi_stdout_count(size_t len)
{
	return (len + FCGI_STDOUT_RECORD_BYTES - 1) / FCGI_STDOUT_RECORD_BYTES;
}

size_t fcgi_stdout_spans(size_t len, size_t nparts)
{
	return 2 * fcgi_stdout_count(len) + nparts;
}

int fcgi_stdout_layoutv(uint16_t request_id, const struct span *parts, size_t nparts, bool pad,
			struct writer *hdrs, struct span *spans, size_t spans_cap, size_t *n)
{
	size_t total = 0, records, k = 0, part = 0, off = 0, mark = hdrs->len;

	for (size_t i = 0; i < nparts; i++) {
		if (parts[i].len > SIZE_MAX - total)
			return -ENOBUFS;
		total += parts[i].len;
	}
	records = fcgi_stdout_count(total);
	if (records > SIZE_MAX / FCGI_HEADER_BYTES || !wr_room(hdrs, records * FCGI_HEADER_BYTES))
		return -ENOBUFS;
	for (size_t i = 0; i < records; i++) {
		size_t len = total - i * FCGI_STDOUT_RECORD_BYTES, left;
		uint8_t p = pad && i == records - 1 ? pad_for(total) : 0;

		if (len > FCGI_STDOUT_RECORD_BYTES)
			len = FCGI_STDOUT_RECORD_BYTES;
		if (k == spans_cap)
			goto nobufs;
		spans[k].p = hdrs->p + hdrs->len;
		spans[k++].len = FCGI_HEADER_BYTES;
		fcgi_write_header(hdrs, FCGI_STDOUT, request_id, (uint16_t)len, p);
		/* The record's content: the rest of the current part, then the next ones. */
		for (left = len; left;) {
			size_t take = parts[part].len - off;

			if (take == 0) {
				part++;
				off = 0;
				continue;
			}
			if (take > left)
				take = left;
			if (k == spans_cap)
				goto nobufs;
			spans[k].p = parts[part].p + off;
			spans[k++].len = take;
			off += take;
			left -= take;
		}
		if (p) {
			if (k == spans_cap)
				goto nobufs;
			spans[k].p = fcgi_zeros;
			spans[k++].len = p;
		}
	}
	*n = k;
	return 0;
nobufs:
	hdrs->len = mark; /* nothing laid out */
	return -ENOBUFS;
}

int fcgi_stdout_layout(uint16_t request_id, struct span body, bool pad, struct writer *hdrs,
		       struct span *spans, size_t spans_cap, size_t *n)
{
	return fcgi_stdout_layoutv(request_id, &body, 1, pad, hdrs, spans, spans_cap, n);
}
