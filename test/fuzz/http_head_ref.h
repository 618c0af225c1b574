/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The fast path of core/http_head.c held to llhttp's reading: whatever the fast path
 * takes, llhttp (strict, as transport/ sets it up) must take too, end the head at the
 * same byte and read the same method, target, version, status, fields, length and
 * keep-alive. Shared by test/unit/transport/http_head_llhttp.c and the fuzzer
 * test/fuzz/transport_http_head.c. head_ref_check() returns NULL when they agree, or
 * what differs.
 */
#ifndef HTTUN_TEST_HTTP_HEAD_REF_H
#define HTTUN_TEST_HTTP_HEAD_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <llhttp.h>

#include "core/http_head.h"

#define REF_TEXT_BYTES (16 * 1024)

/* llhttp's reading: spans appended, each field as name NUL value NUL. */
struct head_ref {
	bool complete; /* on_headers_complete ran */
	char target[REF_TEXT_BYTES];
	size_t target_len;
	char fields[REF_TEXT_BYTES];
	size_t fields_len;
	bool overflow;
	unsigned count;
	size_t bytes;
	bool keep_alive;
	llhttp_t parser;
};

/* The fast path's fields, in the same shape. */
struct head_fast_fields {
	char text[REF_TEXT_BYTES];
	size_t len;
	bool overflow;
};

static void ref_append(char *buf, size_t *len, bool *overflow, const char *at, size_t n)
{
	if (n > REF_TEXT_BYTES - *len) {
		*overflow = true;
		return;
	}
	memcpy(buf + *len, at, n);
	*len += n;
}

static struct head_ref *ref_of(llhttp_t *p)
{
	return (struct head_ref *)((char *)p - offsetof(struct head_ref, parser));
}

static int ref_on_url(llhttp_t *p, const char *at, size_t n)
{
	struct head_ref *r = ref_of(p);

	ref_append(r->target, &r->target_len, &r->overflow, at, n);
	return 0;
}

static int ref_on_field(llhttp_t *p, const char *at, size_t n)
{
	struct head_ref *r = ref_of(p);

	r->bytes += n;
	ref_append(r->fields, &r->fields_len, &r->overflow, at, n);
	return 0;
}

static int ref_on_field_end(llhttp_t *p)
{
	struct head_ref *r = ref_of(p);

	ref_append(r->fields, &r->fields_len, &r->overflow, "", 1);
	return 0;
}

static int ref_on_value_end(llhttp_t *p)
{
	struct head_ref *r = ref_of(p);

	r->count++;
	ref_append(r->fields, &r->fields_len, &r->overflow, "", 1);
	return 0;
}

static int ref_on_headers_complete(llhttp_t *p)
{
	struct head_ref *r = ref_of(p);

	r->complete = true;
	r->keep_alive = llhttp_should_keep_alive(p);
	return HPE_PAUSED;
}

/* llhttp over [data, data+n); true when it ended a head without an error. */
static bool head_ref_run(struct head_ref *r, llhttp_type_t type, const char *data, size_t n)
{
	llhttp_settings_t s;
	llhttp_errno_t e;

	memset(r, 0, offsetof(struct head_ref, parser));
	llhttp_settings_init(&s);
	s.on_url = ref_on_url;
	s.on_header_field = ref_on_field;
	s.on_header_value = ref_on_field;
	s.on_header_field_complete = ref_on_field_end;
	s.on_header_value_complete = ref_on_value_end;
	s.on_headers_complete = ref_on_headers_complete;
	llhttp_init(&r->parser, type, &s);
	e = llhttp_execute(&r->parser, data, n);
	return r->complete && (e == HPE_OK || e == HPE_PAUSED);
}

static void head_fast_field_cb(void *arg, const char *name, size_t name_len, const char *value,
			       size_t value_len)
{
	struct head_fast_fields *f = arg;

	ref_append(f->text, &f->len, &f->overflow, name, name_len);
	ref_append(f->text, &f->len, &f->overflow, "", 1);
	ref_append(f->text, &f->len, &f->overflow, value, value_len);
	ref_append(f->text, &f->len, &f->overflow, "", 1);
}

static enum http_method ref_method(const llhttp_t *p)
{
	switch (p->method) {
	case HTTP_GET:
		return HTTP_METHOD_GET;
	case HTTP_POST:
		return HTTP_METHOD_POST;
	case HTTP_HEAD:
		return HTTP_METHOD_HEAD;
	default:
		return HTTP_METHOD_OTHER;
	}
}

/*
 * The fast path accepted [data, data+n) as *h, its fields as f, under lim. NULL when llhttp agrees in every respect; else the difference.
 */
static const char *head_ref_check(bool request, const char *data, size_t n,
				  const struct http_head_limits *lim, const struct http_head *h,
				  const struct head_fast_fields *f, struct head_ref *r)
{
	llhttp_type_t type = request ? HTTP_REQUEST : HTTP_RESPONSE;
	const llhttp_t *p = &r->parser;

	if (h->len == 0 || h->len > n)
		return "head length outside the input";
	if (h->len > 1 && head_ref_run(r, type, data, h->len - 1))
		return "llhttp ends the head earlier";
	if (!head_ref_run(r, type, data, h->len))
		return "llhttp does not take the head";
	if (r->overflow || f->overflow)
		return "test buffers too small";
	if (p->http_major != 1 || p->http_minor != h->minor)
		return "version";
	if (r->keep_alive != h->keep_alive)
		return "keep-alive";
	if (((p->flags & F_CONTENT_LENGTH) != 0) != h->has_length)
		return "has Content-Length";
	if (h->has_length && p->content_length != h->length)
		return "Content-Length value";
	if (p->flags & (F_CHUNKED | F_TRANSFER_ENCODING) || p->upgrade)
		return "chunked, Transfer-Encoding or upgrade taken";
	if (r->count != h->header_count || r->bytes != h->header_bytes)
		return "field count or bytes";
	if (f->len != r->fields_len || memcmp(f->text, r->fields, f->len))
		return "fields";
	if (r->count > lim->max_header_count || r->bytes > lim->max_header_bytes)
		return "over a limit";
	if (request) {
		if (ref_method(p) != h->method || h->method == HTTP_METHOD_OTHER)
			return "method";
		if (r->target_len != h->target_len || memcmp(r->target, h->target, h->target_len) ||
		    h->target_len > lim->max_target_bytes)
			return "target";
	} else {
		if (p->status_code != h->status)
			return "status";
		if (llhttp_message_needs_eof(p))
			return "llhttp reads the body to the close";
	}
	return NULL;
}

#endif
