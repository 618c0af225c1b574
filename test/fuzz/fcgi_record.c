/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Drives the FastCGI codec as the app glue will: records from a byte stream, routed
 * against the request table, BEGIN_REQUEST, PARAMS accumulated and looked up, GET_VALUES
 * answered, STDIN echoed through the STDOUT layout. The first input byte sets the size of
 * the pieces the stream arrives in; reading in pieces must give the same records as
 * reading it whole.
 */
#include "fcgi/fcgi_record.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECORDS 4096

struct seen {
	uint8_t type;
	uint16_t id;
	size_t off; /* of the content, in the stream */
	size_t len;
};

static struct seen whole[MAX_RECORDS];
static struct fcgi_params params[FCGI_MAX_REQS_PER_CONN];
static uint8_t out[FCGI_RECORD_MAX_BYTES];

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

/*
 * The same content in three pieces, cut where its first bytes say: laid out as the same
 * bytes as in one piece (spans of the one-piece layout in want[0..nwant)).
 */
static void check_layoutv(const struct fcgi_record *r, const struct span *want, size_t nwant)
{
	static uint8_t joined_one[2 * FCGI_RECORD_MAX_BYTES],
		joined_three[2 * FCGI_RECORD_MAX_BYTES];
	uint8_t hdrs[4 * FCGI_HEADER_BYTES];
	struct writer w = writer_make(hdrs, sizeof(hdrs));
	struct span parts[3], spans[16];
	size_t len = r->content.len, a = 0, b = 0, n = 0, l1 = 0, l3 = 0;

	if (len >= 2) {
		a = r->content.p[0] % (len + 1);
		b = a + r->content.p[1] % (len - a + 1);
	}
	parts[0] = (struct span){ r->content.p, a };
	parts[1] = (struct span){ r->content.p + a, b - a };
	parts[2] = (struct span){ r->content.p + b, len - b };
	CHECK(fcgi_stdout_spans(len, 3) <= 16);
	CHECK(fcgi_stdout_layoutv(r->request_id, parts, 3, r->padding & 1, &w, spans,
				  fcgi_stdout_spans(len, 3), &n) == 0);
	for (size_t i = 0; i < nwant; i++) {
		memcpy(joined_one + l1, want[i].p, want[i].len);
		l1 += want[i].len;
	}
	for (size_t i = 0; i < n; i++) {
		CHECK(spans[i].len > 0);
		memcpy(joined_three + l3, spans[i].p, spans[i].len);
		l3 += spans[i].len;
	}
	CHECK(l1 == l3 && memcmp(joined_one, joined_three, l1) == 0);
}

static void handle(struct fcgi_reqs *t, const struct fcgi_record *r)
{
	struct writer w = writer_make(out, sizeof(out));
	struct fcgi_cgi cgi;
	bool close_conn;
	uint64_t len;
	int route = fcgi_record_route(t, r), slot, rc;

	switch (route) {
	case FCGI_ROUTE_GET_VALUES:
		rc = fcgi_write_get_values_result(&w, r->content);
		CHECK(rc == 0 || rc == -EPROTO);
		break;
	case FCGI_ROUTE_UNKNOWN_TYPE:
		CHECK(fcgi_write_unknown_type(&w, r->type) == 0);
		break;
	case FCGI_ROUTE_BEGIN:
		rc = fcgi_reqs_begin(t, r, &slot);
		if (rc == 0) {
			CHECK(slot >= 0 && slot < FCGI_MAX_REQS_PER_CONN);
			CHECK(fcgi_reqs_find(t, r->request_id) == slot);
			fcgi_params_init(&params[slot]);
		} else if (rc > 0) {
			CHECK(rc == FCGI_UNKNOWN_ROLE || rc == FCGI_OVERLOADED);
			CHECK(fcgi_write_end_request(&w, r->request_id, 0, (uint8_t)rc) == 0);
		}
		break;
	case FCGI_ROUTE_REQUEST:
		slot = fcgi_reqs_find(t, r->request_id);
		CHECK(slot >= 0);
		if (r->type == FCGI_ABORT_REQUEST) {
			CHECK(fcgi_reqs_end(t, r->request_id, &close_conn) == 0);
			CHECK(fcgi_reqs_find(t, r->request_id) == -ENOENT);
		} else if (r->type == FCGI_PARAMS) {
			rc = fcgi_params_add(&params[slot], r->content);
			if (rc == 1 && fcgi_params_lookup(&params[slot], &cgi) == 0)
				(void)fcgi_content_length(cgi.content_length, 1 << 20, &len);
		} else if (r->type == FCGI_STDIN) {
			struct span spans[2 * FCGI_STDOUT_SPANS_PER_RECORD];
			size_t n = 0, total = 0;

			CHECK(fcgi_stdout_layout(r->request_id, r->content, r->padding & 1, &w,
						 spans, 2 * FCGI_STDOUT_SPANS_PER_RECORD, &n) == 0);
			for (size_t i = 0; i < n; i++)
				total += spans[i].len;
			CHECK(total >= r->content.len + 8 * fcgi_stdout_count(r->content.len));
			check_layoutv(r, spans, n);
		}
		break;
	case FCGI_ROUTE_IGNORE:
		CHECK(fcgi_reqs_find(t, r->request_id) == -ENOENT);
		break;
	default:
		CHECK(route == -EPROTO);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fcgi_reqs t;
	struct fcgi_record r;
	struct cursor c, pc;
	struct span name, value;
	size_t n = 0, piece, have, used, m;
	int rc;

	if (size < 1)
		return 0;
	piece = (size_t)data[0] + 1;
	data++;
	size--;

	/* The input as a raw name-value stream. */
	pc = cursor_make(data, size);
	while ((rc = fcgi_params_next(&pc, &name, &value)) == 1)
		CHECK(name.p >= data && value.p + value.len <= data + size);
	CHECK(rc == 0 || rc == -EPROTO);

	/* The input as a record stream, all at once. */
	fcgi_reqs_init(&t);
	c = cursor_make(data, size);
	while (n < MAX_RECORDS && (rc = fcgi_record_next(&c, &r)) == 1) {
		CHECK(r.content.p >= data &&
		      r.content.p + r.content.len + r.padding <= data + size);
		whole[n].type = r.type;
		whole[n].id = r.request_id;
		whole[n].off = (size_t)(r.content.p - data);
		whole[n].len = r.content.len;
		n++;
		handle(&t, &r);
	}
	CHECK(t.n <= FCGI_MAX_REQS_PER_CONN);

	/* The same stream arriving in pieces: the same records, in the same places. */
	have = used = m = 0;
	while (m < n) {
		have = have + piece < size ? have + piece : size;
		c = cursor_make(data + used, have - used);
		while (m < n && (rc = fcgi_record_next(&c, &r)) == 1) {
			CHECK(r.type == whole[m].type && r.request_id == whole[m].id);
			CHECK((size_t)(r.content.p - data) == whole[m].off);
			CHECK(r.content.len == whole[m].len);
			m++;
		}
		CHECK(rc >= 0 || have == size);
		used = (size_t)(c.p - data);
		if (have == size)
			break;
	}
	CHECK(m == n);
	return 0;
}
