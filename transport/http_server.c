/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * HTTP/1.1 server: libuv for I/O, llhttp (strict, no lenient flags) for parsing.
 * docs/TRANSPORT.md describes the design: one loop, one request at a time per connection,
 * the parser paused while a request is with the handler.
 */
#include "transport/http_server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <llhttp.h>

#include "transport/http_conn.h"
#include "core/cursor.h"
#include "core/http_head.h"
#include "core/limits.h"
#include "core/list.h"
#include "core/log.h"
#include "net/conn.h"

enum conn_state {
	CONN_READING, /* parsing a request (or waiting for one) */
	CONN_PENDING, /* request with the handler; parser paused */
	CONN_WRITING, /* response queued; parser paused */
	CONN_CLOSING, /* last response written: shutdown, drain, close */
};

enum conn_phase {
	PHASE_IDLE, /* between requests */
	PHASE_HEADERS, /* request line and header */
	PHASE_BODY,
};

struct header_ref {
	size_t name_off;
	size_t value_off;
};

/*
 * Where a connection comes from, for max_unvouched_per_source: an IPv4 address, or the /64
 * of an IPv6 address (one host usually holds a whole /64). IPv4-mapped IPv6 counts as
 * IPv4.
 */
struct source {
	uint8_t b[9]; /* 4 or 6, then the address's first 4 or 8 bytes */
};

struct conn {
	struct net_conn net; /* socket, read buffer, deadline timer (net/conn.h) */
	struct net_write wr; /* the response being written */
	struct http_server *srv;
	struct list_node link; /* in srv->conns until closing */
	llhttp_t parser;
	enum conn_state state;
	enum conn_phase phase;
	bool keep_alive;
	bool close_after; /* this response ends the connection */
	bool dispatching; /* inside srv->on_request: the caller's conn_parse goes on */
	bool fast; /* this request's head came through core/http_head.c: llhttp never saw it */
	bool vouched; /* a request carried proof of a key (http_request_vouch) */
	struct source source;
	uint64_t last_active_ms; /* uv_now of the last byte read or response written */
	enum http_method method;
	const char *method_name;
	unsigned minor; /* HTTP/1.minor of the request */
	int err_status; /* status a callback wants sent for the parse error */

	/* URL at hbuf[0..], headers after hbuf[max_url_bytes + 1]. */
	char *hbuf;
	size_t url_len;
	size_t hlen; /* used bytes of the header area */
	size_t header_bytes;
	size_t name_off, value_off;
	struct header_ref *hdrs;
	unsigned hcount;

	uint8_t *body;
	size_t body_len, body_cap;
	/*
	 * Bytes of the body buffer that a body was ever written to: what it holds in memory
	 * (pages never written are not resident). These count in srv->body_bytes.
	 */
	size_t body_touched;
	uint64_t body_start_ms; /* uv_now at the end of the head, while in PHASE_BODY */
	bool body_used; /* a request had a body since the last http_server_trim */
	uint64_t requests; /* requests parsed on this connection */
	size_t body_want; /* Content-Length: direct reads never go past it */
	bool chunked;

	struct http_request req;
	http_cancel_cb cancel_cb;
	void *cancel_arg;
	http_sent_cb sent_cb;
	void *sent_arg;
	char resp_hdr[512];
};

struct listener {
	uv_tcp_t tcp;
	struct http_server *srv;
	struct listener *next;
};

struct http_server {
	uv_loop_t *loop;
	struct http_server_config cfg;
	http_request_cb on_request;
	void *arg;
	struct listener *listeners;
	unsigned nlisteners;
	struct list_node conns; /* newest first */
	unsigned nconns;
	size_t body_bytes; /* body_touched of all connections */
	unsigned handles; /* listeners + rejected sockets + connections not yet freed */
	bool freeing;
	int reserve_fd; /* held for server_shed; -1 when it could not be opened */
	struct http_server_stats stats;
	struct http_head_limits head_lim; /* cfg's, for the fast path */
	time_t date_sec; /* the second that date[] shows */
	char date[40]; /* "Mon, 07 Dec 2026 23:19:59 GMT" */
	llhttp_settings_t settings;
};

void http_server_config_default(struct http_server_config *cfg)
{
	cfg->max_url_bytes = HTTP_MAX_URL_BYTES;
	cfg->max_header_bytes = HTTP_MAX_HEADER_BYTES;
	cfg->max_header_count = HTTP_MAX_HEADER_COUNT;
	cfg->max_body_bytes = HTTP_MAX_BODY_BYTES;
	cfg->max_connections = HTTP_MAX_CONNECTIONS;
	cfg->max_unvouched_per_source = HTTP_MAX_UNVOUCHED_PER_SOURCE;
	cfg->max_body_bytes_total = HTTP_MAX_BODY_BYTES_TOTAL;
	cfg->header_timeout_ms = HTTP_HEADER_TIMEOUT_MS;
	cfg->idle_timeout_ms = HTTP_IDLE_TIMEOUT_MS;
	cfg->body_timeout_ms = HTTP_BODY_TIMEOUT_MS;
	cfg->body_deadline_ms = HTTP_BODY_DEADLINE_MS;
	cfg->write_timeout_ms = HTTP_WRITE_TIMEOUT_MS;
	cfg->linger_ms = HTTP_LINGER_MS;
}

static void server_maybe_free(struct http_server *srv)
{
	if (srv->freeing && srv->handles == 0) {
		if (srv->reserve_fd >= 0)
			close(srv->reserve_fd);
		free(srv);
	}
}

/* ---- body buffers ---- */

/*
 * Replace a connection's body buffer (contents not yet written: nothing is charged for it
 * until bytes arrive), keeping srv->body_bytes exact.
 */
static void conn_body_set(struct conn *c, uint8_t *body, size_t cap, size_t touched)
{
	c->srv->body_bytes -= c->body_touched;
	c->body = body;
	c->body_cap = cap;
	c->body_touched = touched;
	c->srv->body_bytes += touched;
}

static void conn_body_free(struct conn *c)
{
	free(c->body);
	conn_body_set(c, NULL, 0, 0);
}

/* ---- connection teardown ---- */

static struct conn *net_to_conn(struct net_conn *n)
{
	return n->owner;
}

static bool conn_closing(const struct conn *c)
{
	return c->net.closing;
}

/* The last handle is closed (net/conn.h): nothing refers to c any more. */
static void conn_closed_cb(struct net_conn *n)
{
	struct conn *c = net_to_conn(n);
	struct http_server *srv = c->srv;

	conn_body_free(c);
	free(c->hbuf);
	free(c->hdrs);
	free(c);
	srv->handles--;
	server_maybe_free(srv);
}

static void conn_close(struct conn *c)
{
	struct http_server *srv = c->srv;

	if (conn_closing(c))
		return;
	net_conn_close(&c->net); /* the handles close later: c lives until conn_closed_cb */
	list_remove(&c->link);
	srv->nconns--;

	if (c->state == CONN_PENDING) {
		/* The handler still holds req; this is its only notice. */
		c->state = CONN_CLOSING;
		srv->stats.cancelled++;
		if (c->cancel_cb)
			c->cancel_cb(&c->req, c->cancel_arg);
	}
	/*
	 * A closing connection's body is nobody's: out of the budget now, not when libuv has
	 * closed the handles. Not while an answer is being written: a handler may have
	 * answered with the request's own body.
	 */
	if (c->state != CONN_WRITING)
		conn_body_free(c);
	c->state = CONN_CLOSING;
}

/* ---- the body budget ---- */

static void conn_refuse(struct conn *c, int status, bool in_rbuf);

/* A body still arriving: the only kind that can be dropped to make room. */
static bool conn_receiving_body(const struct conn *c)
{
	return !conn_closing(c) && c->state == CONN_READING && c->phase == PHASE_BODY;
}

/*
 * Should a body give way before b's? The one that has gone longer without a byte first: a
 * burst followed by a stall holds its bytes as surely as a trickle does, and a newcomer
 * whose bytes are arriving now is the freshest of all. Between equally quiet ones, the
 * one with fewer bytes per millisecond since its head ended.
 */
static bool body_before(const struct conn *a, const struct conn *b, uint64_t now)
{
	if (a->last_active_ms != b->last_active_ms)
		return a->last_active_ms < b->last_active_ms;
	return (uint64_t)a->body_len * (now - b->body_start_ms + 1) <
	       (uint64_t)b->body_len * (now - a->body_start_ms + 1);
}

/*
 * The body to drop when the budget is full: among bodies arriving (those holding memory,
 * a reused buffer included), one on a connection no request has vouched for, and only
 * when there is none, one of the rest; body_before decides within each. spare (a body
 * complete now, about to go to the handler) is never chosen.
 */
static struct conn *body_victim(struct http_server *srv, const struct conn *spare)
{
	uint64_t now = uv_now(srv->loop);
	struct conn *victim = NULL;
	struct list_node *n;

	list_for_each(n, &srv->conns) {
		struct conn *c = list_entry(n, struct conn, link);

		if (c == spare || !conn_receiving_body(c) || c->body_touched == 0)
			continue;
		if (!victim || (victim->vouched && !c->vouched) ||
		    (victim->vouched == c->vouched && body_before(c, victim, now)))
			victim = c;
	}
	return victim;
}

/*
 * Body bytes arrived on c: charge the memory they newly touched. Over
 * max_body_bytes_total, make room: first the buffers idle connections keep for their
 * next request, then the slowest body still arriving. Bodies are unauthenticated until
 * the handler opens them, so a full budget must not turn away a newcomer (a 64-byte
 * handshake) while slow senders hold it; they are the ones that give way. Returns false
 * when c's own body was dropped: the caller refuses c's request with 503.
 */
static bool conn_body_charge(struct conn *c)
{
	struct http_server *srv = c->srv;
	struct list_node *n;

	if (c->body_len > c->body_touched) {
		srv->body_bytes += c->body_len - c->body_touched;
		c->body_touched = c->body_len;
	}
	if (srv->body_bytes <= srv->cfg.max_body_bytes_total)
		return true;
	list_for_each(n, &srv->conns) {
		struct conn *k = list_entry(n, struct conn, link);

		if (k->body && k->body_len == 0 && !conn_receiving_body(k))
			conn_body_free(k);
	}
	while (srv->body_bytes > srv->cfg.max_body_bytes_total) {
		bool complete = !c->chunked && c->body_len == c->body_want;
		struct conn *v = body_victim(srv, complete ? c : NULL);

		if (!v)
			break; /* the rest belongs to requests with the handler */
		srv->stats.bodies_dropped++;
		log_debug("http: body budget full: dropping the slowest body (%zu of %zu bytes)",
			  v->body_len, v->body_want);
		if (v == c)
			return false;
		conn_refuse(v, 503, true);
	}
	return true;
}

/* ---- reading ---- */

static void conn_read_start(struct conn *c)
{
	if (net_conn_read_start(&c->net) < 0)
		conn_close(c);
}

/*
 * The deadline moves several times per request (header, body, write, idle); net/conn.h
 * keeps that free of timer-heap work.
 */
static void conn_timer(struct conn *c, uint64_t ms)
{
	net_conn_deadline(&c->net, ms);
}

/*
 * While a body arrives: at most body_timeout_ms between two reads, and the whole body
 * within body_deadline_ms of the end of its head, however steadily it trickles.
 */
static void conn_body_timer(struct conn *c)
{
	const struct http_server_config *cfg = &c->srv->cfg;
	uint64_t now = uv_now(c->srv->loop), end = c->body_start_ms + cfg->body_deadline_ms;
	uint64_t ms = cfg->body_timeout_ms;

	if (end <= now)
		ms = 0;
	else if (end - now < ms)
		ms = end - now;
	conn_timer(c, ms);
}

/* The body can be read straight into its buffer: nothing else is waiting in rb. */
static bool conn_direct_body(const struct conn *c)
{
	return c->state == CONN_READING && c->phase == PHASE_BODY && !c->chunked &&
	       readbuf_empty(&c->net.rb) && c->body_len < c->body_want;
}

/* Where the next read goes: the body's buffer when it can, else the read buffer. */
static bool conn_alloc_cb(struct net_conn *n, uv_buf_t *buf)
{
	struct conn *c = net_to_conn(n);

	if (!conn_direct_body(c))
		return false;
	*buf = uv_buf_init((char *)c->body + c->body_len, (unsigned)(c->body_want - c->body_len));
	return true;
}

/* ---- responses ---- */

static void conn_resume(struct conn *c);
static const char *server_date(struct http_server *srv);

/* "\r\nDate: ..." after the status line, unless the clock could not be formatted. */
static bool wr_date(struct writer *w, struct http_server *srv)
{
	const char *d = server_date(srv);

	return !d[0] || (wr_str(w, "\r\nDate: ") && wr_str(w, d));
}

/*
 * The Date header's value (RFC 9110 5.6.7), formatted once per second: every ordinary
 * web server sends one, and an answer without it stands out.
 */
static const char *server_date(struct http_server *srv)
{
	time_t now = time(NULL);
	struct tm tm;

	if (now != srv->date_sec || !srv->date[0]) {
		srv->date_sec = now;
		char d[sizeof(srv->date)];

		/* On failure the last good value stays (or none, and the header is left out). */
		if (gmtime_r(&now, &tm) && strftime(d, sizeof(d), "%a, %d %b %Y %H:%M:%S GMT", &tm))
			memcpy(srv->date, d, sizeof(d));
	}
	return srv->date;
}

/*
 * The response is written (status 0) or failed: the sender's callback, then close or the
 * next request. Runs from conn_send itself when the socket took everything at once; the
 * pipelined request that may follow is then parsed by the conn_parse loop that dispatched
 * this one (conn_resume does not parse from inside a dispatch).
 */
static void conn_written(struct conn *c, int status)
{
	http_sent_cb cb = c->sent_cb;

	c->sent_cb = NULL;
	if (cb)
		cb(status, c->sent_arg);
	if (conn_closing(c))
		return;
	if (status < 0) {
		conn_close(c);
		return;
	}
	c->last_active_ms = uv_now(c->srv->loop);
	if (c->close_after) {
		/* Drain what the peer still sends, so close() does not become a RST. */
		c->state = CONN_CLOSING;
		c->body_len = 0;
		conn_body_free(c); /* no request will use it, the budget gets it back now */
		if (net_conn_shutdown(&c->net) < 0) {
			conn_close(c);
			return;
		}
		readbuf_clear(&c->net.rb);
		conn_timer(c, c->srv->cfg.linger_ms);
		conn_read_start(c);
		return;
	}
	conn_resume(c);
}

static void conn_write_cb(struct net_write *w, int status)
{
	conn_written(net_to_conn(w->conn), status);
}

static int conn_send(struct conn *c, int status, const char *ctype, const uv_buf_t *bufs,
		     unsigned nbufs, bool head, http_sent_cb sent_cb, void *arg)
{
	uv_buf_t small[17], *all = small;
	struct writer w = writer_make(c->resp_hdr, sizeof(c->resp_hdr));
	size_t total = 0;
	int err;

	for (unsigned i = 0; i < nbufs; i++)
		total += bufs[i].len;
	if (c->close_after || !c->keep_alive)
		c->close_after = true;
	/*
	 * No stdio: this runs per response, and its code path is most of the header's cost.
	 * Errors go without Cache-Control, as an ordinary server's do.
	 */
	if (status < 100 || status > 999 || !wr_str(&w, "HTTP/1.1 ") ||
	    !wr_dec(&w, (unsigned)status) || !wr_u8(&w, ' ') ||
	    !wr_str(&w, http_status_reason(status)) || !wr_date(&w, c->srv) ||
	    !wr_str(&w, "\r\nContent-Type: ") || !wr_str(&w, ctype) ||
	    !wr_str(&w, "\r\nContent-Length: ") || !wr_dec(&w, total) ||
	    !wr_str(&w, status < 400 ? "\r\nCache-Control: no-store\r\n" : "\r\n") ||
	    !wr_str(&w, c->close_after	? "Connection: close\r\n"
			: c->minor == 0 ? "Connection: keep-alive\r\n"
					: "") ||
	    !wr_str(&w, "\r\n")) {
		err = -EINVAL;
		goto fail;
	}
	if (head)
		nbufs = 0; /* HEAD: the header says how long the body would be */
	if (nbufs + 1 > sizeof(small) / sizeof(small[0])) {
		all = malloc((nbufs + 1) * sizeof(*all));
		if (!all) {
			err = -ENOMEM;
			goto fail;
		}
	}
	all[0] = uv_buf_init(c->resp_hdr, (unsigned)w.len);
	for (unsigned i = 0; i < nbufs; i++)
		all[i + 1] = bufs[i];
	c->state = CONN_WRITING;
	c->sent_cb = sent_cb;
	c->sent_arg = arg;
	/*
	 * Written at once, the response completes here (conn_written). Not when it answers a
	 * parked request while a pipelined one waits in rb: that one would be dispatched
	 * from inside whoever answered, so it waits for the write callback's loop turn.
	 */
	if (c->dispatching || readbuf_empty(&c->net.rb))
		err = net_conn_send(&c->net, &c->wr, all, nbufs + 1, conn_write_cb);
	else
		err = net_conn_write(&c->net, &c->wr, all, nbufs + 1, conn_write_cb);
	if (all != small)
		free(all); /* uv_write keeps its own copy of the array */
	if (err < 0) {
		c->sent_cb = NULL;
		goto fail;
	}
	if (err == 1) {
		conn_written(c, 0);
		return 0;
	}
	conn_timer(c, c->srv->cfg.write_timeout_ms);
	return 0;
fail:
	c->state = CONN_CLOSING;
	conn_close(c);
	if (sent_cb)
		sent_cb(err, arg);
	return err;
}

/* Bodies like an ordinary web server's: the reason phrase, nothing else. */
static const char *error_body(int status)
{
	switch (status) {
	case 400:
		return "Bad Request\n";
	case 404:
		return "Not Found\n";
	case 405:
		return "Method Not Allowed\n";
	case 413:
		return "Content Too Large\n";
	case 414:
		return "URI Too Long\n";
	case 431:
		return "Request Header Fields Too Large\n";
	case 503:
		return "Service Unavailable\n";
	default:
		return "Error\n";
	}
}

static int conn_send_error(struct conn *c, int status, bool close)
{
	const char *body = error_body(status);
	uv_buf_t b = uv_buf_init((char *)(uintptr_t)body, (unsigned)strlen(body));

	c->srv->stats.errors++;
	if (close)
		c->close_after = true;
	return conn_send(c, status, "text/plain", &b, 1, c->req.method == HTTP_METHOD_HEAD, NULL,
			 NULL);
}

/* libuv documents that on Unix a uv_buf_t may be cast to a struct iovec, and back. */
_Static_assert(sizeof(uv_buf_t) == sizeof(struct iovec) &&
		       offsetof(uv_buf_t, base) == offsetof(struct iovec, iov_base) &&
		       offsetof(uv_buf_t, len) == offsetof(struct iovec, iov_len),
	       "uv_buf_t is laid out as struct iovec");

static int conn_req_sendv(struct http_request *req, int status, const char *content_type,
			  const struct iovec *iov, unsigned niov, http_sent_cb sent_cb, void *arg)
{
	struct conn *c = (struct conn *)((char *)req - offsetof(struct conn, req));
	const uv_buf_t *bufs = (const uv_buf_t *)(const void *)iov;

	if (c->state != CONN_PENDING || conn_closing(c)) {
		if (sent_cb)
			sent_cb(-ECANCELED, arg);
		return -ECANCELED;
	}
	return conn_send(c, status, content_type ? content_type : "application/octet-stream", bufs,
			 niov, req->method == HTTP_METHOD_HEAD, sent_cb, arg);
}

static int conn_req_send_error(struct http_request *req, int status, bool close)
{
	struct conn *c = (struct conn *)((char *)req - offsetof(struct conn, req));

	if (c->state != CONN_PENDING || conn_closing(c))
		return -ECANCELED;
	return conn_send_error(c, status, close);
}

/* ---- request accessors ---- */

/*
 * Header names are ASCII tokens, compared without case (RFC 9110 5.1). Not strcasecmp:
 * glibc's goes through the locale's case table, data lines touched on every request.
 */
static bool header_name_eq(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char x = (unsigned char)*a, y = (unsigned char)*b;

		if ((unsigned)(x - 'A') < 26u)
			x += 'a' - 'A';
		if ((unsigned)(y - 'A') < 26u)
			y += 'a' - 'A';
		if (x != y)
			return false;
		if (!x)
			return true;
	}
}

static const char *conn_req_header(const struct http_request *req, const char *name)
{
	const struct conn *c =
		(const struct conn *)((const char *)req - offsetof(struct conn, req));
	const char *area = c->hbuf + c->srv->cfg.max_url_bytes + 1;

	for (unsigned i = 0; i < c->hcount; i++)
		if (header_name_eq(area + c->hdrs[i].name_off, name))
			return area + c->hdrs[i].value_off;
	return NULL;
}

static uint8_t *conn_req_take_body(struct http_request *req, size_t *len)
{
	struct conn *c = (struct conn *)((char *)req - offsetof(struct conn, req));
	uint8_t *b = req->body_len ? c->body : NULL;

	*len = req->body_len;
	if (b)
		conn_body_set(c, NULL, 0, 0); /* the caller's now, outside our accounting */
	req->body = NULL;
	req->body_len = 0;
	return b;
}

static void conn_req_set_cancel(struct http_request *req, http_cancel_cb cb, void *arg)
{
	struct conn *c = (struct conn *)((char *)req - offsetof(struct conn, req));

	c->cancel_cb = cb;
	c->cancel_arg = arg;
}

static void conn_req_vouch(struct http_request *req)
{
	struct conn *c = (struct conn *)((char *)req - offsetof(struct conn, req));

	c->vouched = true;
}

static const struct http_request_ops conn_req_ops = {
	.sendv = conn_req_sendv,
	.send_error = conn_req_send_error,
	.set_cancel = conn_req_set_cancel,
	.take_body = conn_req_take_body,
	.header = conn_req_header,
	.vouch = conn_req_vouch,
};

/* ---- parser callbacks; each returns -1 with err_status set to refuse the request ---- */

static struct conn *parser_conn(llhttp_t *p)
{
	return p->data;
}

static int refuse(struct conn *c, int status)
{
	c->err_status = status;
	return -1;
}

/* What a message's head fills in, empty; the phase and the timer are left alone. */
static void conn_head_reset(struct conn *c)
{
	c->url_len = 0;
	c->hlen = 0;
	c->header_bytes = 0;
	c->name_off = 0;
	c->hcount = 0;
	c->body_len = 0;
	c->body_want = 0;
	c->chunked = false;
	c->err_status = 0;
}

static void conn_message_begin(struct conn *c)
{
	conn_head_reset(c);
	c->phase = PHASE_HEADERS;
	conn_timer(c, c->srv->cfg.header_timeout_ms);
}

static int on_message_begin(llhttp_t *p)
{
	conn_message_begin(parser_conn(p));
	return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
	struct conn *c = parser_conn(p);

	if (len > c->srv->cfg.max_url_bytes - c->url_len)
		return refuse(c, 414);
	memcpy(c->hbuf + c->url_len, at, len);
	c->url_len += len;
	return 0;
}

static int header_append(struct conn *c, const char *at, size_t len)
{
	char *area = c->hbuf + c->srv->cfg.max_url_bytes + 1;

	if (len > c->srv->cfg.max_header_bytes - c->header_bytes)
		return refuse(c, 431);
	memcpy(area + c->hlen, at, len);
	c->hlen += len;
	c->header_bytes += len;
	return 0;
}

/* RFC 9110 tchar: the only bytes a header name may have. */
static bool token_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
	struct conn *c = parser_conn(p);

	/*
	 * llhttp 8.1 lets a space through inside a name ("Transfer Encoding: x"); a proxy
	 * in front may read such a line differently than we do, which is how request
	 * smuggling starts. Refuse it.
	 */
	for (size_t i = 0; i < len; i++)
		if (!token_char((unsigned char)at[i]))
			return refuse(c, 400);
	return header_append(c, at, len);
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
	return header_append(parser_conn(p), at, len);
}

static int on_header_field_complete(llhttp_t *p)
{
	struct conn *c = parser_conn(p);
	char *area = c->hbuf + c->srv->cfg.max_url_bytes + 1;

	/* The area has two NUL bytes reserved per header, so these never overflow. */
	if (c->hcount >= c->srv->cfg.max_header_count)
		return refuse(c, 431);
	area[c->hlen++] = '\0';
	c->value_off = c->hlen;
	return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
	struct conn *c = parser_conn(p);
	char *area = c->hbuf + c->srv->cfg.max_url_bytes + 1;

	area[c->hlen++] = '\0';
	c->hdrs[c->hcount].name_off = c->name_off;
	c->hdrs[c->hcount].value_off = c->value_off;
	c->hcount++;
	c->name_off = c->hlen;
	return 0;
}

/*
 * The head is read (by llhttp or the fast path): set up for the body. Returns 0, or the
 * status that refuses the request.
 */
static int conn_headers_done(struct conn *c, bool has_length, uint64_t length, bool chunked)
{
	const struct http_server_config *cfg = &c->srv->cfg;

	c->hbuf[c->url_len] = '\0';
	c->phase = PHASE_BODY;
	c->chunked = chunked;
	if (has_length && length > 0) {
		/* Refuse before reading a byte of it (and before allocating). */
		if (length > cfg->max_body_bytes)
			return 413;
		if (c->body_cap < length) {
			uint8_t *nb;

			/*
			 * Not realloc: the old contents are not needed, so do not copy them.
			 * Nothing is charged yet: pages not written are not resident, and the
			 * budget counts bytes as they arrive (conn_body_charge).
			 */
			conn_body_free(c);
			nb = malloc(length);
			if (!nb)
				return 503;
			conn_body_set(c, nb, length, 0);
		}
		c->body_want = length;
	}
	if (c->chunked || (has_length && length > 0)) {
		const char *expect = http_request_header(&c->req, "expect");

		c->body_used = true;

		/*
		 * curl and others wait up to a second for this before a large body; nothing is
		 * queued on the connection now, so the bytes go straight to the socket buffer.
		 */
		if (expect && strcasecmp(expect, "100-continue") == 0 && c->minor >= 1) {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
			uv_buf_t b = uv_buf_init((char *)(uintptr_t)cont, sizeof(cont) - 1);

			(void)net_conn_try_write(&c->net, &b, 1);
		}
		c->body_start_ms = uv_now(c->srv->loop);
		conn_body_timer(c);
	}
	return 0;
}

static int on_headers_complete(llhttp_t *p)
{
	struct conn *c = parser_conn(p);
	int status;

	if (p->upgrade)
		return refuse(c, 400); /* CONNECT, Upgrade: nothing here speaks them */
	switch (p->method) {
	case HTTP_GET:
		c->method = HTTP_METHOD_GET;
		break;
	case HTTP_POST:
		c->method = HTTP_METHOD_POST;
		break;
	case HTTP_HEAD:
		c->method = HTTP_METHOD_HEAD;
		break;
	default:
		c->method = HTTP_METHOD_OTHER;
	}
	c->method_name = llhttp_method_name(p->method);
	c->minor = p->http_minor;
	status = conn_headers_done(c, (p->flags & F_CONTENT_LENGTH) != 0, p->content_length,
				   (p->flags & F_CHUNKED) != 0);
	return status ? refuse(c, status) : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	struct conn *c = parser_conn(p);
	size_t max = c->srv->cfg.max_body_bytes;

	if ((const uint8_t *)at == c->body + c->body_len) {
		/* Read straight into the body buffer (conn_alloc_cb): nothing to copy. */
		c->body_len += len;
		return conn_body_charge(c) ? 0 : refuse(c, 503);
	}
	if (len > max - c->body_len)
		return refuse(c, 413);
	if (c->body_len + len > c->body_cap) {
		/* Chunked: grow geometrically up to the cap. */
		size_t cap = c->body_cap ? c->body_cap * 2 : 16 * 1024;
		uint8_t *nb;

		if (cap < c->body_len + len)
			cap = c->body_len + len;
		if (cap > max)
			cap = max;
		nb = realloc(c->body, cap);
		if (!nb)
			return refuse(c, 503);
		conn_body_set(c, nb, cap, c->body_touched);
	}
	memcpy(c->body + c->body_len, at, len);
	c->body_len += len;
	return conn_body_charge(c) ? 0 : refuse(c, 503);
}

static int on_message_complete(llhttp_t *p)
{
	struct conn *c = parser_conn(p);

	c->keep_alive = llhttp_should_keep_alive(p);
	/* One request at a time: stop here, dispatch, resume after the response. */
	return HPE_PAUSED;
}

/* ---- request dispatch and parsing ---- */

static void conn_dispatch(struct conn *c)
{
	struct http_server *srv = c->srv;
	struct http_request *req = &c->req;

	net_conn_deadline_clear(&c->net);
	c->state = CONN_PENDING;
	c->cancel_cb = NULL;
	c->cancel_arg = NULL;
	req->method = c->method;
	req->method_name = c->method_name;
	req->url = c->hbuf;
	req->url_len = c->url_len;
	req->body = c->body_len ? c->body : NULL;
	req->body_len = c->body_len;
	req->user = NULL;
	srv->stats.requests++;
	c->requests++;
	c->dispatching = true;
	srv->on_request(req, srv->arg);
	c->dispatching = false;
}

/*
 * The request is refused with status: an error answer, and nothing more is read. Its
 * body, if any, is nobody's: freed at once, so a refused body stops counting.
 */
static void conn_refuse(struct conn *c, int status, bool in_rbuf)
{
	if (in_rbuf)
		readbuf_clear(&c->net.rb);
	c->req.method = HTTP_METHOD_OTHER;
	c->fast = false;
	c->body_len = 0;
	c->body_want = 0;
	conn_body_free(c);
	conn_send_error(c, status, true);
}

/* Handles the result of llhttp_execute over [data, data+len). */
static void conn_after_execute(struct conn *c, llhttp_errno_t err, const char *data, size_t len,
			       bool in_rbuf)
{
	if (err == HPE_OK) {
		if (in_rbuf)
			readbuf_take(&c->net.rb, len);
		if (c->phase == PHASE_BODY && !conn_closing(c))
			conn_body_timer(c);
		return;
	}
	if (err == HPE_PAUSED) {
		const char *pos = llhttp_get_error_pos(&c->parser);

		if (in_rbuf)
			readbuf_take(&c->net.rb, (size_t)(pos - data));
		conn_dispatch(c);
		return;
	}
	/* Malformed or over a limit: an ordinary error answer, then close. */
	log_debug("http: %s (%s)", llhttp_errno_name(err), llhttp_get_error_reason(&c->parser));
	conn_refuse(c, c->err_status ? c->err_status : 400, in_rbuf);
}

/* Body bytes of a fast-path request at data (in place when it is the body's end). */
static void conn_fast_body(struct conn *c, const char *data, size_t len, bool in_rbuf)
{
	size_t take = http_body_take(c->body, &c->body_len, c->body_want, data, len);

	if (in_rbuf)
		readbuf_take(&c->net.rb, take);
	if (!conn_body_charge(c)) {
		conn_refuse(c, 503, in_rbuf);
		return;
	}
	if (c->body_len < c->body_want) {
		conn_body_timer(c);
		return;
	}
	c->fast = false;
	conn_dispatch(c);
}

static void conn_fast_field_cb(void *arg, const char *name, size_t name_len, const char *value,
			       size_t value_len)
{
	struct conn *c = arg;
	char *area = c->hbuf + c->srv->cfg.max_url_bytes + 1;

	/* http_head_request() checked count and bytes against the limits before this call. */
	c->hdrs[c->hcount].name_off = c->hlen;
	memcpy(area + c->hlen, name, name_len);
	c->hlen += name_len;
	area[c->hlen++] = '\0';
	c->hdrs[c->hcount].value_off = c->hlen;
	memcpy(area + c->hlen, value, value_len);
	c->hlen += value_len;
	area[c->hlen++] = '\0';
	c->hcount++;
}

/*
 * A request head whole at the start of [data, data+len) in the plain shape takes the
 * fast path (core/http_head.c, docs/TRANSPORT.md "Parsing"); false leaves everything
 * to llhttp, which has not seen these bytes.
 */
static bool conn_fast_head(struct conn *c, const char *data, size_t len)
{
	static const char *const names[] = { "", "GET", "POST", "HEAD" };
	struct http_head h;
	int status;

	/*
	 * The phase and the header timer change only once the head is taken: a declined one
	 * is llhttp's, which begins a message (on_message_begin) at its first byte that is
	 * not CR or LF and skips the empty lines before it, as RFC 9112 section 2.2 asks.
	 */
	conn_head_reset(c);
	if (!http_head_request(data, len, &c->srv->head_lim, &h, conn_fast_field_cb, c))
		return false;
	c->phase = PHASE_HEADERS;
	conn_timer(c, c->srv->cfg.header_timeout_ms);
	memcpy(c->hbuf, h.target, h.target_len);
	c->url_len = h.target_len;
	c->header_bytes = h.header_bytes;
	c->method = h.method;
	c->method_name = names[h.method];
	c->minor = h.minor;
	c->keep_alive = h.keep_alive;
	readbuf_take(&c->net.rb, h.len);
	status = conn_headers_done(c, h.has_length, h.length, false);
	if (status) {
		conn_refuse(c, status, true);
		return true;
	}
	c->fast = true;
	conn_fast_body(c, data + h.len, len - h.len, true);
	return true;
}

static void conn_parse(struct conn *c)
{
	while (!conn_closing(c) && c->state == CONN_READING && !readbuf_empty(&c->net.rb)) {
		struct cursor in = readbuf_cursor(&c->net.rb);
		const char *data = (const char *)in.p;
		size_t len = in.len;

		if (c->fast)
			conn_fast_body(c, data, len, true);
		else if (c->phase != PHASE_IDLE || !conn_fast_head(c, data, len))
			conn_after_execute(c, llhttp_execute(&c->parser, data, len), data, len,
					   true);
	}
}

/* After a keep-alive response: next request, from what is buffered first. */
static void conn_resume(struct conn *c)
{
	c->state = CONN_READING;
	c->phase = PHASE_IDLE;
	c->fast = false;
	c->close_after = false;
	c->req.body = NULL;
	c->req.body_len = 0;
	c->body_len = 0;
	if (c->body_cap > HTTP_BODY_KEEP_BYTES)
		conn_body_free(c);
	conn_timer(c, c->srv->cfg.idle_timeout_ms);
	llhttp_resume(&c->parser);
	if (!c->dispatching)
		conn_parse(c);
	if (!conn_closing(c) && (c->state == CONN_READING || !readbuf_full(&c->net.rb)))
		conn_read_start(c);
}

static void conn_read_cb(struct net_conn *n, ssize_t nread, char *direct)
{
	struct conn *c = net_to_conn(n);

	if (nread < 0) {
		/*
		 * EOF or error. A parked request loses its client here (conn_close calls the
		 * cancel callback); a response being written is abandoned.
		 */
		conn_close(c);
		return;
	}
	c->last_active_ms = uv_now(c->srv->loop);
	if (c->state == CONN_CLOSING) {
		readbuf_clear(&c->net.rb); /* draining before close */
		return;
	}
	if (direct) {
		/* Straight into the body buffer; on_body sees the bytes already in place. */
		if (c->fast)
			conn_fast_body(c, direct, (size_t)nread, false);
		else
			conn_after_execute(c, llhttp_execute(&c->parser, direct, (size_t)nread),
					   direct, (size_t)nread, false);
		if (c->state == CONN_READING)
			conn_parse(c); /* answered at once: whatever rb holds (nothing, today) */
		return;
	}
	if (c->state == CONN_READING)
		conn_parse(c);
	/*
	 * While a request is with the handler, reading goes on so that a client that closes
	 * is noticed (cancel callback), but only until the buffer is full: a pipelining
	 * client is held back, never buffered without bound.
	 */
	if (!conn_closing(c) && c->state != CONN_READING && readbuf_full(&c->net.rb))
		net_conn_read_stop(&c->net);
}

static void conn_timeout_cb(struct net_conn *n)
{
	struct conn *c = net_to_conn(n);

	if (c->state != CONN_CLOSING)
		c->srv->stats.timeouts++; /* a linger running out is the normal end */
	conn_close(c);
}

/* ---- accepting ---- */

static void reject_close_cb(uv_handle_t *h)
{
	struct http_server *srv = h->data;

	free(h);
	srv->handles--;
	server_maybe_free(srv);
}

/*
 * A refused connection: a 503 into the socket buffer, and the caller closes it at once.
 * The client fails fast instead of hanging in the listen backlog.
 */
static void reject_write(struct http_server *srv, uv_stream_t *t)
{
	char resp[256];
	struct writer w = writer_make(resp, sizeof(resp));
	uv_buf_t b;

	srv->stats.rejected++;
	if (!wr_str(&w, "HTTP/1.1 503 Service Unavailable") || !wr_date(&w, srv) ||
	    !wr_str(&w, "\r\nContent-Type: text/plain\r\nContent-Length: ") ||
	    !wr_dec(&w, strlen(error_body(503))) || !wr_str(&w, "\r\nConnection: close\r\n\r\n") ||
	    !wr_str(&w, error_body(503)))
		return;
	b = uv_buf_init(resp, (unsigned)w.len);
	(void)uv_try_write(t, &b, 1);
}

/* Out of memory for a connection: refused without any per-connection state. */
static void server_reject(struct http_server *srv, uv_stream_t *lst)
{
	uv_tcp_t *t = malloc(sizeof(*t));

	if (!t || uv_tcp_init(srv->loop, t) < 0) {
		free(t);
		return;
	}
	t->data = srv;
	srv->handles++;
	if (uv_accept(lst, (uv_stream_t *)t) == 0)
		reject_write(srv, (uv_stream_t *)t);
	uv_close((uv_handle_t *)t, reject_close_cb);
}

static const struct net_conn_events conn_events = {
	.alloc = conn_alloc_cb,
	.read = conn_read_cb,
	.timeout = conn_timeout_cb,
	.closed = conn_closed_cb,
};

/* A connection with its handles set up on srv's loop, or NULL when out of memory. */
static struct conn *conn_new(struct http_server *srv)
{
	const struct http_server_config *cfg = &srv->cfg;
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->hbuf = malloc(cfg->max_url_bytes + 1 + cfg->max_header_bytes +
			 2 * (size_t)cfg->max_header_count);
	c->hdrs = calloc(cfg->max_header_count ? cfg->max_header_count : 1, sizeof(*c->hdrs));
	if (!c->hbuf || !c->hdrs ||
	    net_conn_init(&c->net, srv->loop, &http_conn_config, &conn_events, c) < 0) {
		free(c->hbuf);
		free(c->hdrs);
		free(c);
		return NULL;
	}
	c->srv = srv;
	c->req.ops = &conn_req_ops;
	llhttp_init(&c->parser, HTTP_REQUEST, &srv->settings);
	c->parser.data = c;
	return c;
}

static void source_of(const struct sockaddr_storage *ss, struct source *out)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(out, 0, sizeof(*out));
	if (ss->ss_family == AF_INET) {
		out->b[0] = 4;
		memcpy(out->b + 1, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;

		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			out->b[0] = 4;
			memcpy(out->b + 1, a + 12, 4);
		} else {
			out->b[0] = 6;
			memcpy(out->b + 1, a, 8);
		}
	}
}

/*
 * May c be closed to make room? Only while no request has vouched for it (a connection
 * that carried an authenticated frame or poll belongs to a live tunnel) and no request of
 * it is with the handler. Whatever else it is doing (reading, writing an answer the peer
 * does not read, lingering after Connection: close) it may be doing to hold a place.
 */
static bool conn_evictable(const struct conn *c)
{
	return !c->vouched && !conn_closing(c) && c->state != CONN_PENDING;
}

/*
 * The evictable connection (from src, or from anywhere when src is NULL) that has been
 * quiet longest: idle keep-alives of an unauthenticated flood go first, a newcomer that is
 * sending its first request right now goes last. A linear walk: it runs only at a cap,
 * over at most max_connections entries.
 */
static struct conn *oldest_evictable(struct http_server *srv, const struct source *src)
{
	struct conn *victim = NULL;
	struct list_node *n;

	list_for_each(n, &srv->conns) {
		struct conn *c = list_entry(n, struct conn, link);

		if (!conn_evictable(c) || (src && memcmp(&c->source, src, sizeof(*src)) != 0))
			continue;
		if (!victim || c->last_active_ms <= victim->last_active_ms)
			victim = c;
	}
	return victim;
}

static unsigned unvouched_from(struct http_server *srv, const struct source *src)
{
	unsigned n = 0;
	struct list_node *l;

	list_for_each(l, &srv->conns) {
		const struct conn *c = list_entry(l, struct conn, link);

		n += !c->vouched && memcmp(&c->source, src, sizeof(*src)) == 0;
	}
	return n;
}

/*
 * Room for a connection from src. At the per-source cap, src's own quietest unvouched
 * connection gives way: one host cannot push out anybody else's. At the server's cap, the
 * quietest unvouched connection of any source does. Returns false when nothing may give
 * way: the newcomer is refused.
 */
static bool server_make_room(struct http_server *srv, const struct source *src)
{
	unsigned cap = srv->cfg.max_unvouched_per_source;
	struct conn *victim;

	if (cap && unvouched_from(srv, src) >= cap) {
		victim = oldest_evictable(srv, src);
		if (!victim)
			return false;
		srv->stats.evicted_source++;
		conn_close(victim);
	}
	if (srv->nconns < srv->cfg.max_connections)
		return true;
	victim = oldest_evictable(srv, NULL);
	if (!victim)
		return false;
	srv->stats.evicted++;
	conn_close(victim);
	return true;
}

/*
 * accept() failed for want of a descriptor, and libuv's own reserve (its EMFILE trick)
 * could not help: libuv calls back again at once for as long as accept() fails, and
 * Linux fails it with EMFILE before it looks at the backlog, so returning would spin the
 * loop for good, with nothing in the process running to free a descriptor. Give up our
 * reserve, take every waiting connection off the backlog and close it (its peer sees the
 * connection end and retries), and leave the descriptor free: libuv's next accept() then
 * finds the backlog empty and returns to the loop. The reserve comes back with the next
 * connection taken on. Without a reserve, close the quietest connection no key vouched
 * for (oldest_evictable), which frees a descriptor the same way.
 */
static void server_shed(struct http_server *srv, uv_stream_t *lst)
{
	uv_os_fd_t lfd;
	int fd;

	if (srv->reserve_fd < 0 || uv_fileno((uv_handle_t *)lst, &lfd) < 0) {
		struct conn *victim = oldest_evictable(srv, NULL);

		if (!victim) {
			log_warnx_rl("http: accept: no descriptor to free: every connection "
				     "belongs to a live tunnel");
			return;
		}
		srv->stats.evicted++;
		conn_close(victim);
		return;
	}
	close(srv->reserve_fd);
	srv->reserve_fd = -1;
	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0 || errno == EINTR) {
		if (fd >= 0) {
			close(fd);
			srv->stats.shed++;
		}
	}
}

static void server_connection_cb(uv_stream_t *lst, int status)
{
	struct listener *l = lst->data;
	struct http_server *srv = l->srv;
	struct sockaddr_storage peer = { 0 };
	int peer_len = sizeof(peer);
	struct conn *c;
	bool room;

	if (status == UV_EMFILE || status == UV_ENFILE) {
		log_warnx_rl("http: accept: %s: closing waiting connections unserved (raise the "
			     "file descriptor limit: docs/TRANSPORT.md)",
			     uv_strerror(status));
		server_shed(srv, lst);
		return;
	}
	if (status < 0 || srv->freeing) {
		log_warnx_rl("http: accept: %s", uv_strerror(status));
		return;
	}
	if (srv->reserve_fd < 0)
		srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	c = conn_new(srv);
	if (!c) {
		server_reject(srv, lst);
		return;
	}
	srv->handles++;
	if (net_conn_accept(&c->net, lst) < 0) {
		list_insert_head(&srv->conns, &c->link);
		srv->nconns++;
		conn_close(c);
		return;
	}
	/* Who it is decides who makes room, so the caps are applied after accept. */
	(void)uv_tcp_getpeername(&c->net.io.tcp, (struct sockaddr *)&peer, &peer_len);
	source_of(&peer, &c->source);
	room = server_make_room(srv, &c->source);
	list_insert_head(&srv->conns, &c->link);
	srv->nconns++;
	if (!room) {
		reject_write(srv, &c->net.io.stream);
		conn_close(c);
		return;
	}
	srv->stats.accepted++;
	c->last_active_ms = uv_now(srv->loop);
	c->state = CONN_READING;
	c->phase = PHASE_IDLE;
	/* A fresh connection that sends nothing is a slowloris too. */
	conn_timer(c, srv->cfg.header_timeout_ms);
	conn_read_start(c);
}

/* ---- server ---- */

struct http_server *http_server_new(uv_loop_t *loop, const struct http_server_config *cfg,
				    http_request_cb on_request, void *arg)
{
	struct http_server *srv = calloc(1, sizeof(*srv));

	if (!srv)
		return NULL;
	srv->loop = loop;
	list_init(&srv->conns);
	/* A descriptor to give up when accept() finds none (server_shed); best effort. */
	srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (cfg)
		srv->cfg = *cfg;
	else
		http_server_config_default(&srv->cfg);
	srv->on_request = on_request;
	srv->arg = arg;
	llhttp_settings_init(&srv->settings);
	srv->head_lim.max_target_bytes = srv->cfg.max_url_bytes;
	srv->head_lim.max_header_bytes = srv->cfg.max_header_bytes;
	srv->head_lim.max_header_count = srv->cfg.max_header_count;
	srv->settings.on_message_begin = on_message_begin;
	srv->settings.on_url = on_url;
	srv->settings.on_header_field = on_header_field;
	srv->settings.on_header_value = on_header_value;
	srv->settings.on_header_field_complete = on_header_field_complete;
	srv->settings.on_header_value_complete = on_header_value_complete;
	srv->settings.on_headers_complete = on_headers_complete;
	srv->settings.on_body = on_body;
	srv->settings.on_message_complete = on_message_complete;
	return srv;
}

static void listener_close_cb(uv_handle_t *h)
{
	struct listener *l = h->data;
	struct http_server *srv = l->srv;

	free(l);
	srv->handles--;
	server_maybe_free(srv);
}

int http_server_listen(struct http_server *srv, const struct sockaddr *addr)
{
	struct listener *l = calloc(1, sizeof(*l)), **tail;
	int err;

	if (!l)
		return -ENOMEM;
	err = uv_tcp_init(srv->loop, &l->tcp);
	if (err < 0) {
		free(l);
		return err;
	}
	l->srv = srv;
	l->tcp.data = l;
	srv->handles++;
	err = uv_tcp_bind(&l->tcp, addr, addr->sa_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
	if (err == 0)
		err = uv_listen((uv_stream_t *)&l->tcp, SOMAXCONN, server_connection_cb);
	if (err < 0) {
		uv_close((uv_handle_t *)&l->tcp, listener_close_cb);
		return err;
	}
	for (tail = &srv->listeners; *tail; tail = &(*tail)->next)
		;
	*tail = l;
	srv->nlisteners++;
	return 0;
}

int http_server_sockname(const struct http_server *srv, unsigned idx, struct sockaddr_storage *out)
{
	const struct listener *l = srv->listeners;
	int len = sizeof(*out);

	while (l && idx--)
		l = l->next;
	if (!l)
		return -ENOENT;
	return uv_tcp_getsockname(&l->tcp, (struct sockaddr *)out, &len);
}

const struct http_server_stats *http_server_stats(const struct http_server *srv)
{
	/* A gauge among counters: const to callers, kept current here. */
	((struct http_server *)(uintptr_t)srv)->stats.body_bytes = srv->body_bytes;
	return &srv->stats;
}

size_t http_server_trim(struct http_server *srv)
{
	size_t freed = 0;

	struct list_node *n;

	list_for_each(n, &srv->conns) {
		struct conn *c = list_entry(n, struct conn, link);

		/*
		 * Not while a body is being read (reads go straight into the buffer), nor
		 * while a request holds a body (body_len > 0).
		 */
		bool reading_body = c->state == CONN_READING && c->phase == PHASE_BODY;

		if (c->body && !c->body_used && c->body_len == 0 && !reading_body) {
			freed += c->body_touched;
			conn_body_free(c);
		}
		c->body_used = false;
	}
	return freed;
}

void http_server_free(struct http_server *srv)
{
	struct listener *l, *ln;

	if (!srv)
		return;
	srv->freeing = true;
	for (l = srv->listeners; l; l = ln) {
		ln = l->next;
		uv_close((uv_handle_t *)&l->tcp, listener_close_cb);
	}
	srv->listeners = NULL;
	while (!list_empty(&srv->conns))
		conn_close(list_first_entry(&srv->conns, struct conn, link));
	server_maybe_free(srv);
}
