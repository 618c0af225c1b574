/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The HTTP/1.1 fast path (core/http_head.h). Why it exists: an idle ping is two HTTP
 * messages, run with cold caches, and llhttp's state machine touched 75-88 code lines per
 * message on that path (docs/PERFORMANCE.md). This scanner is a few tight loops.
 *
 * What it takes, and nothing else (every "no" returns false and llhttp decides):
 * - request line "GET|POST|HEAD SP origin-form SP HTTP/1.0|1.1 CRLF", the target made of
 *   RFC 3986 unreserved, sub-delims, ":@/?%" only; status line "HTTP/1.0|1.1 SP 3DIGIT
 *   SP reason CRLF" with a status of 200-599 but 204 and 304 (no 1xx interim answers, no
 *   bodiless statuses);
 * - fields "token ':' OWS value CRLF" with a value of visible ASCII and inner spaces:
 *   no obs-fold, no obs-text, no control bytes, no bare LF, no whitespace after the
 *   value (llhttp hands it on as part of the value: declined, so that a value taken
 *   here never ends in it);
 * - at most one Content-Length, digits only (18 at most); no Transfer-Encoding, Upgrade
 *   or Proxy-Connection at all; Connection only as exactly "close" or "keep-alive".
 * So a head that could be read two ways (the start of request smuggling) never passes
 * here: the fields that decide where a message ends are taken only in their one plain
 * form.
 */
#include "core/http_head.h"

#include <string.h>

/* Bitmaps of the bytes below 128 in a class, as immediates: no table to load. */
#define TCHAR_LO 0x03ff6cfa00000000ull /* RFC 9110 tchar */
#define TCHAR_HI 0x57ffffffc7fffffeull
#define URL_LO 0xaffffff200000000ull /* unreserved, sub-delims, ":@/?%" */
#define URL_HI 0x47fffffe87ffffffull

static bool in_set(unsigned char ch, uint64_t lo, uint64_t hi)
{
	if (ch < 64)
		return (lo >> ch) & 1;
	if (ch < 128)
		return (hi >> (ch - 64)) & 1;
	return false;
}

static bool is_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Visible ASCII (RFC 9110 field-vchar without obs-text). */
static bool is_vchar(char ch)
{
	unsigned char c = (unsigned char)ch;

	return c >= 0x21 && c <= 0x7e;
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* A field name against a lower-case name of letters and '-'; names are tokens. */
static bool name_is(const char *name, size_t len, const char *lower, size_t lower_len)
{
	if (len != lower_len)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((name[i] | 0x20) != lower[i])
			return false;
	return true;
}

#define NAME_IS(n, len, lit) name_is((n), (len), lit, sizeof(lit) - 1)

static bool parse_length(const char *v, size_t len, uint64_t *out)
{
	uint64_t x = 0;

	if (len == 0 || len > 18)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(v[i]))
			return false;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*out = x;
	return true;
}

/* "HTTP/1.0" or "HTTP/1.1" at p (8 bytes there); sets the minor version. */
static bool parse_version(const char *p, unsigned *minor)
{
	if (memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1'))
		return false;
	*minor = (unsigned)(p[7] - '0');
	return true;
}

/*
 * The field lines from p through the blank line; returns what follows it, or NULL.
 * Counts as the llhttp callbacks do, with the value's bytes up to the CR, so the
 * limits here are never looser than theirs.
 */
static const char *scan_fields(const char *p, const char *end, const struct http_head_limits *lim,
			       struct http_head *h, http_head_field_cb cb, void *arg)
{
	bool close = false, keep = false;

	h->has_length = false;
	h->length = 0;
	h->header_count = 0;
	h->header_bytes = 0;
	for (;;) {
		const char *name = p, *value;
		size_t name_len, value_len;

		if (end - p < 2)
			return NULL;
		if (p[0] == '\r')
			break;
		while (p < end && in_set((unsigned char)*p, TCHAR_LO, TCHAR_HI))
			p++;
		if (p == end || *p != ':' || p == name)
			return NULL;
		name_len = (size_t)(p - name);
		p++;
		while (p < end && is_ows(*p))
			p++;
		value = p;
		while (p < end && (is_vchar(*p) || is_ows(*p)))
			p++;
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
			return NULL;
		value_len = (size_t)(p - value);
		if (value_len && is_ows(value[value_len - 1]))
			return NULL;
		p += 2;
		if (++h->header_count > lim->max_header_count ||
		    name_len + value_len > lim->max_header_bytes - h->header_bytes)
			return NULL;
		h->header_bytes += name_len + value_len;

		if (NAME_IS(name, name_len, "content-length")) {
			if (h->has_length || !parse_length(value, value_len, &h->length))
				return NULL;
			h->has_length = true;
		} else if (NAME_IS(name, name_len, "connection")) {
			if (NAME_IS(value, value_len, "close"))
				close = true;
			else if (NAME_IS(value, value_len, "keep-alive"))
				keep = true;
			else
				return NULL;
		} else if (NAME_IS(name, name_len, "transfer-encoding") ||
			   NAME_IS(name, name_len, "upgrade") ||
			   NAME_IS(name, name_len, "proxy-connection")) {
			return NULL;
		}
		if (cb)
			cb(arg, name, name_len, value, value_len);
	}
	if (p[1] != '\n')
		return NULL;
	/* llhttp_should_keep_alive(): 1.1 unless "close", 1.0 only with "keep-alive". */
	h->keep_alive = h->minor ? !close : keep;
	return p + 2;
}

bool http_head_request(const char *p, size_t n, const struct http_head_limits *lim,
		       struct http_head *h, http_head_field_cb field_cb, void *arg)
{
	const char *start = p, *end = p + n;

	if (n >= 4 && memcmp(p, "GET ", 4) == 0) {
		h->method = HTTP_METHOD_GET;
		p += 4;
	} else if (n >= 5 && memcmp(p, "POST ", 5) == 0) {
		h->method = HTTP_METHOD_POST;
		p += 5;
	} else if (n >= 5 && memcmp(p, "HEAD ", 5) == 0) {
		h->method = HTTP_METHOD_HEAD;
		p += 5;
	} else {
		return false;
	}
	h->target = p;
	if (p == end || *p != '/')
		return false; /* origin-form only: no proxy or asterisk form */
	while (p < end && in_set((unsigned char)*p, URL_LO, URL_HI))
		p++;
	h->target_len = (size_t)(p - h->target);
	if (h->target_len > lim->max_target_bytes || end - p < 11 || *p != ' ' ||
	    !parse_version(p + 1, &h->minor) || p[9] != '\r' || p[10] != '\n')
		return false;
	p = scan_fields(p + 11, end, lim, h, field_cb, arg);
	if (!p)
		return false;
	h->status = 0;
	h->len = (size_t)(p - start);
	return true;
}

bool http_head_response(const char *p, size_t n, const struct http_head_limits *lim,
			struct http_head *h, http_head_field_cb field_cb, void *arg)
{
	const char *start = p, *end = p + n;
	unsigned status = 0;

	if (n < 13 || !parse_version(p, &h->minor) || p[8] != ' ' || p[12] != ' ')
		return false;
	for (int i = 9; i < 12; i++) {
		if (!is_digit(p[i]))
			return false;
		status = status * 10 + (unsigned)(p[i] - '0');
	}
	if (status < 200 || status > 599 || status == 204 || status == 304)
		return false;
	p += 13;
	while (p < end && (is_vchar(*p) || *p == ' '))
		p++;
	if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
		return false;
	p = scan_fields(p + 2, end, lim, h, field_cb, arg);
	if (!p || !h->has_length)
		return false; /* no length: a body up to the close, llhttp's to read */
	h->method = HTTP_METHOD_OTHER;
	h->target = NULL;
	h->target_len = 0;
	h->status = status;
	h->len = (size_t)(p - start);
	return true;
}

size_t http_body_take(uint8_t *body, size_t *have, size_t want, const char *data, size_t len)
{
	size_t take = want - *have;

	if (take > len)
		take = len;
	if (take == 0)
		return 0; /* body may be NULL then: no length, or 0 */
	if ((const uint8_t *)data != body + *have)
		memcpy(body + *have, data, take);
	*have += take;
	return take;
}
