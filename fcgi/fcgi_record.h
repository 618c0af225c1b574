/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * FastCGI 1.0 codec: records, BEGIN_REQUEST bodies, name-value pairs, the replies an
 * application sends, and the table of requests active on one connection. Pure: no I/O, no
 * libuv, no printing; every function returns a value the caller acts on and logs.
 * What httun implements of FastCGI and why: docs/FASTCGI.md.
 */
#ifndef HTTUN_FCGI_RECORD_H
#define HTTUN_FCGI_RECORD_H

#include "core/cursor.h"
#include "core/limits.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- wire constants (FastCGI 1.0 specification, section 8) ---- */

#define FCGI_VERSION_1 1
#define FCGI_HEADER_BYTES 8
/* Request id of management records. */
#define FCGI_NULL_REQUEST_ID 0
/* The 16-bit contentLength and 8-bit paddingLength fields bound every record. */
#define FCGI_MAX_CONTENT_BYTES 65535
#define FCGI_MAX_PADDING_BYTES 255
/*
 * The largest record the wire can express. A read buffer this big always holds a whole
 * record, so a peer cannot stall the reader with a record that never fits.
 */
#define FCGI_RECORD_MAX_BYTES (FCGI_HEADER_BYTES + FCGI_MAX_CONTENT_BYTES + FCGI_MAX_PADDING_BYTES)
/* STDOUT records carry at most this much: the largest multiple of 8 below 65536, so only
 * the last record of a body ever needs padding. */
#define FCGI_STDOUT_RECORD_BYTES 65528
/* Bodies of BEGIN_REQUEST, END_REQUEST and UNKNOWN_TYPE. */
#define FCGI_BEGIN_BODY_BYTES 8
#define FCGI_END_BODY_BYTES 8
#define FCGI_UNKNOWN_TYPE_BODY_BYTES 8

enum fcgi_type {
	FCGI_BEGIN_REQUEST = 1,
	FCGI_ABORT_REQUEST = 2,
	FCGI_END_REQUEST = 3,
	FCGI_PARAMS = 4,
	FCGI_STDIN = 5,
	FCGI_STDOUT = 6,
	FCGI_STDERR = 7,
	FCGI_DATA = 8,
	FCGI_GET_VALUES = 9,
	FCGI_GET_VALUES_RESULT = 10,
	FCGI_UNKNOWN_TYPE = 11,
};

enum fcgi_role {
	FCGI_RESPONDER = 1,
	FCGI_AUTHORIZER = 2,
	FCGI_FILTER = 3,
};

#define FCGI_KEEP_CONN 1

enum fcgi_protocol_status {
	FCGI_REQUEST_COMPLETE = 0,
	FCGI_CANT_MPX_CONN = 1,
	FCGI_OVERLOADED = 2,
	FCGI_UNKNOWN_ROLE = 3,
};

/* ---- reading records ---- */

/* One whole record; content borrows from the caller's buffer. */
struct fcgi_record {
	uint8_t type; /* any value: unknown types are returned, see fcgi_record_route */
	uint16_t request_id;
	uint8_t padding; /* padding bytes skipped after content */
	struct span content;
};

/*
 * Take the next record from a byte stream. Returns 1 with *r set and c advanced past the
 * record and its padding; 0 when c does not yet hold the whole record (nothing consumed:
 * append more bytes and call again); -EPROTO when the version is not 1 (nothing consumed;
 * the connection is beyond repair). Record types are not judged here.
 */
int fcgi_record_next(struct cursor *c, struct fcgi_record *r);

/* ---- BEGIN_REQUEST ---- */

struct fcgi_begin {
	uint16_t role;
	uint8_t flags;
};

/* Decode a BEGIN_REQUEST body: exactly 8 bytes, else -EPROTO. Any role decodes. */
int fcgi_begin_parse(struct span content, struct fcgi_begin *b);

/* ---- requests active on one connection ---- */

/*
 * Slots are stable while a request lives, so the glue can keep per-request state in an
 * array indexed by slot.
 */
struct fcgi_reqs {
	uint16_t id[FCGI_MAX_REQS_PER_CONN];
	bool used[FCGI_MAX_REQS_PER_CONN];
	bool keep_conn[FCGI_MAX_REQS_PER_CONN];
	unsigned n;
};

void fcgi_reqs_init(struct fcgi_reqs *t);
/* Slot of active request id, or -ENOENT (always for id 0). */
int fcgi_reqs_find(const struct fcgi_reqs *t, uint16_t id);
/*
 * Start the request a BEGIN_REQUEST record (of route FCGI_ROUTE_BEGIN) asks for.
 * Returns 0 with *slot set: the request is active. Returns a positive protocol status the
 * caller must answer with fcgi_write_end_request and then forget the request:
 * FCGI_UNKNOWN_ROLE (httun is only a responder) or FCGI_OVERLOADED (table full).
 * Returns -EPROTO for a body that is not 8 bytes, id 0, or an id already active.
 */
int fcgi_reqs_begin(struct fcgi_reqs *t, const struct fcgi_record *r, int *slot);
/*
 * Forget request id after its END_REQUEST was queued (or on ABORT_REQUEST, after answering
 * it). *close_conn says whether the application must now close the connection: the
 * request came without FCGI_KEEP_CONN. Returns 0 or -ENOENT.
 */
int fcgi_reqs_end(struct fcgi_reqs *t, uint16_t id, bool *close_conn);

/* What the application does with a record it read (FastCGI 1.0 sections 3.3, 4, 5). */
enum fcgi_route {
	/* Management GET_VALUES: answer with fcgi_write_get_values_result. */
	FCGI_ROUTE_GET_VALUES = 1,
	/* Management record of any other type: answer with fcgi_write_unknown_type. */
	FCGI_ROUTE_UNKNOWN_TYPE,
	/* BEGIN_REQUEST for an id that is not active: pass to fcgi_reqs_begin. */
	FCGI_ROUTE_BEGIN,
	/* ABORT_REQUEST, PARAMS, STDIN or DATA for an active request. */
	FCGI_ROUTE_REQUEST,
	/* Record for an id that is not active: the specification says to ignore it. */
	FCGI_ROUTE_IGNORE,
};

/*
 * Classify a record against the active requests. Returns an fcgi_route, or -EPROTO for a
 * BEGIN_REQUEST on an active id, a record type only an application sends, or an unknown
 * type on an active request.
 */
int fcgi_record_route(const struct fcgi_reqs *t, const struct fcgi_record *r);

/* ---- name-value pairs (PARAMS, GET_VALUES) ---- */

/*
 * Take the next name-value pair from c (the concatenated PARAMS stream, or one GET_VALUES
 * body). Lengths use the 1-byte form (< 128) or the 4-byte form (high bit set, 31 bits).
 * Returns 1 with name and value borrowing from c, 0 when c is empty, -EPROTO when a length
 * is cut short, exceeds FCGI_PARAMS_MAX_BYTES, or runs past the end of c (nothing consumed).
 */
int fcgi_params_next(struct cursor *c, struct span *name, struct span *value);

/* Collects one request's PARAMS records until the empty record that ends them. */
struct fcgi_params {
	size_t len;
	bool done;
	uint8_t buf[FCGI_PARAMS_MAX_BYTES];
};

void fcgi_params_init(struct fcgi_params *p);
/*
 * Append the content of one PARAMS record. Returns 0 when more records are expected, 1
 * when this was the empty record that ends the stream, -EMSGSIZE beyond
 * FCGI_PARAMS_MAX_BYTES, -EPROTO for a record after the end.
 */
int fcgi_params_add(struct fcgi_params *p, struct span content);

/* The CGI variables httun reads; p == NULL when the web server did not send one. */
struct fcgi_cgi {
	struct span request_method;
	struct span script_name;
	struct span path_info;
	struct span query_string;
	struct span request_uri;
	struct span content_length;
	struct span content_type;
};

/*
 * Walk a complete PARAMS stream and pick out the variables httun needs (names compared
 * case-sensitively, as CGI names them). Returns 0, or -EPROTO for a malformed stream or a
 * variable of interest sent twice (two differing answers to one question).
 */
int fcgi_params_lookup(const struct fcgi_params *p, struct fcgi_cgi *out);

/*
 * Parse a CONTENT_LENGTH value: decimal digits only, absent or empty meaning 0.
 * Returns 0, -EPROTO for anything else, -EMSGSIZE above max.
 */
int fcgi_content_length(struct span v, uint64_t max, uint64_t *out);

/* ---- writing ---- */

/* All writers return 0, -ENOBUFS when w lacks room (nothing written), or -EMSGSIZE. */
int fcgi_write_header(struct writer *w, uint8_t type, uint16_t request_id, uint16_t content_len,
		      uint8_t padding);
/* One record with content copied in, padded to a multiple of 8. len <= 65535. */
int fcgi_write_record(struct writer *w, uint8_t type, uint16_t request_id, const void *content,
		      size_t len);
/* One name-value pair, in the shortest length form. */
int fcgi_write_pair(struct writer *w, struct span name, struct span value);
int fcgi_write_end_request(struct writer *w, uint16_t request_id, uint32_t app_status,
			   uint8_t protocol_status);
int fcgi_write_unknown_type(struct writer *w, uint8_t type);
/*
 * Answer a GET_VALUES body: the values httun knows (FCGI_MAX_CONNS, FCGI_MAX_REQS,
 * FCGI_MPXS_CONNS) for the names asked, each once; other names are left out as the
 * specification says. -EPROTO for a malformed GET_VALUES body.
 */
int fcgi_write_get_values_result(struct writer *w, struct span get_values);

/* Spans per STDOUT record in fcgi_stdout_layout: header, slice, padding. */
#define FCGI_STDOUT_SPANS_PER_RECORD 3

/* STDOUT records needed for len body bytes (0 for an empty body). */
size_t fcgi_stdout_count(size_t len);
/*
 * Lay out body as STDOUT records of request_id without copying it. The 8-byte record
 * headers are written into hdrs (needs fcgi_stdout_count(len) * FCGI_HEADER_BYTES of room);
 * spans[0..*n) receives, record by record, its header (in hdrs), its slice of body and,
 * when pad is set and the last slice is not a multiple of 8, a span of zero bytes. The
 * caller hands spans to writev / uv_write in order; body and hdrs must outlive the write.
 * The empty STDOUT record that ends the stream is not included (fcgi_write_header).
 * Returns 0 or -ENOBUFS (hdrs or spans too small; nothing laid out).
 */
int fcgi_stdout_layout(uint16_t request_id, struct span body, bool pad, struct writer *hdrs,
		       struct span *spans, size_t spans_cap, size_t *n);
/*
 * The same for a body in nparts pieces (an HTTP head and the caller's buffers, say), laid
 * out as if they were one: a record's content may take the end of one piece and the start
 * of the next, and empty pieces leave no span. spans_cap of fcgi_stdout_spans(total,
 * nparts) is always enough, total being the pieces' length together.
 */
int fcgi_stdout_layoutv(uint16_t request_id, const struct span *parts, size_t nparts, bool pad,
			struct writer *hdrs, struct span *spans, size_t spans_cap, size_t *n);
/* Spans that fcgi_stdout_layoutv needs at the most for len bytes in nparts pieces. */
size_t fcgi_stdout_spans(size_t len, size_t nparts);

#endif
