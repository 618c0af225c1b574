/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * FastCGI responder: a request source (core/request.h). Each complete request goes to
 * the handler: the tunnel in `httun server --fcgi-listen`, the relay client in `httun
 * fcgi`. docs/FASTCGI.md describes the request flow.
 */
#include "fcgi/fcgi_app.h"
#include "core/http_status.h"
#include "core/limits.h"
#include "core/list.h"
#include "core/log.h"
#include "fcgi/fcgi_record.h"
#include "net/conn.h"
#include "net/listen.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct fcgi_conn;

/*
 * One FastCGI request, from BEGIN_REQUEST to END_REQUEST. The http_request is what the
 * handler gets (first, so the handler's pointer is the request's).
 */
struct fcgi_request {
	struct http_request hreq;
	struct fcgi_app *app;
	/* NULL once the web server gave up on a request the handler still holds (an orphan). */
	struct fcgi_conn *conn;
	uint16_t id;
	bool handed; /* given to the handler, not answered yet */
	http_cancel_cb cancel_cb; /* set by a handler that parks the request */
	void *cancel_arg;
	bool params_done;
	bool stdin_done;
	uint64_t want; /* CONTENT_LENGTH */
	uint8_t *body;
	size_t body_len;
	size_t body_charged; /* of app->body_bytes: body's size, while body is ours */
	uint64_t body_start_ms; /* PARAMS end: the body's deadline and rate count from here */
	uint64_t body_seen_ms; /* last STDIN (or PARAMS end) while the body is incomplete */
	char method[RELAY_METHOD_MAX_BYTES + 1];
	char target[HTTP_MAX_URL_BYTES + 1];
	size_t target_len;
	struct fcgi_params params;
};

struct fcgi_conn {
	/*
	 * Socket, read buffer (one record at the most: FCGI_RECORD_MAX_BYTES), writes;
	 * reading pauses while FCGI_MAX_QUEUED_BYTES of output are not yet written.
	 */
	struct net_conn net;
	struct fcgi_app *app;
	struct list_node link; /* in app->conns until closing */
	bool close_after_writes;
	struct fcgi_reqs reqs;
	struct fcgi_request *slot[FCGI_MAX_REQS_PER_CONN];
};

/*
 * A write to a FastCGI connection; the records' headers live in it, the data it owns
 * (freed when written) or borrows from a handler (sent_cb when written).
 */
struct conn_write {
	struct net_write w;
	unsigned nbufs;
	uv_buf_t *bufs;
	uint8_t *data;
	uint8_t *hdrs;
	http_sent_cb sent_cb;
	void *sent_arg;
};

/* "Status: ... Content-Length: ...\r\n\r\n" of an answer (ctype at most 64 bytes). */
#define ANSWER_HEAD_MAX_BYTES 256

struct fcgi_app {
	uv_loop_t *loop;
	http_request_cb on_request;
	void *on_request_arg;
	union uv_any_stream lst;
	bool listening;
	bool lst_tcp;
	char *lst_path; /* bound by fcgi_app_listen_path: removed when freed */
	struct list_node conns; /* newest first */
	unsigned nconns;

	uv_timer_t timer;
	bool started;

	uint64_t body_bytes; /* request bodies held, FCGI_BODY_BYTES_TOTAL at most */
	uint64_t body_idle_ms; /* FCGI_BODY_IDLE_MS unless set */
	uint64_t body_deadline_ms; /* FCGI_BODY_DEADLINE_MS unless set */
	unsigned handles;
	bool freeing;
	struct fcgi_app_stats stats;
};

static void app_maybe_free(struct fcgi_app *app)
{
	if (app->freeing && app->handles == 0) {
		free(app->lst_path);
		free(app);
	}
}

static void handle_close_cb(uv_handle_t *h)
{
	struct fcgi_app *app = h->data;

	app->handles--;
	app_maybe_free(app);
}

/* ---- requests ---- */

static void conn_close(struct fcgi_conn *c);

static void conn_write_cb(struct net_write *w, int status)
{
	struct conn_write *o = (struct conn_write *)((char *)w - offsetof(struct conn_write, w));
	struct fcgi_conn *c = w->conn->owner;

	/* Otherwise a failed write shows up as a read error. */
	if (o->sent_cb)
		o->sent_cb(status < 0 ? status : 0, o->sent_arg);
	free(o->data);
	free(o);
	/* Else, once the web server reads again, net/conn.h takes its records again. */
	if (c->net.writes == 0 && c->close_after_writes)
		conn_close(c);
}

/* r's body is freed or handed on: it no longer counts against FCGI_BODY_BYTES_TOTAL. */
static void request_body_release(struct fcgi_app *app, struct fcgi_request *r)
{
	app->body_bytes -= r->body_charged;
	r->body_charged = 0;
}

static void request_free(struct fcgi_request *r)
{
	request_body_release(r->app, r);
	free(r->body);
	free(r);
}

/*
 * Takes r off its connection once its END_REQUEST is queued (or the web server aborted
 * it): its id is free again. Returns whether the connection is to close now.
 */
static bool request_unbind(struct fcgi_request *r)
{
	struct fcgi_conn *c = r->conn;
	bool close_conn = false;
	int slot = fcgi_reqs_find(&c->reqs, r->id);

	if (slot >= 0)
		c->slot[slot] = NULL;
	fcgi_reqs_end(&c->reqs, r->id, &close_conn);
	if (close_conn)
		c->close_after_writes = true;
	request_body_release(r->app, r);
	r->conn = NULL;
	return c->close_after_writes && c->net.writes == 0;
}

/* Forgets request r of c after its END_REQUEST is queued. */
static void request_end(struct fcgi_request *r)
{
	struct fcgi_conn *c = r->conn;

	if (request_unbind(r))
		conn_close(c);
	request_free(r);
}

/*
 * Queues head (copied) and bufs as the STDOUT stream of request id, then the empty STDOUT
 * record and END_REQUEST; an empty head and no bufs end a request with no output. The
 * write owns data (may be NULL), which it frees, and calls sent_cb (may be NULL) once bufs
 * are no longer referenced: when written, or at once when this fails.
 */
static int conn_write_answer(struct fcgi_conn *c, uint16_t id, struct span head,
			     const struct iovec *bufs, unsigned nbufs, uint8_t *data,
			     http_sent_cb sent_cb, void *arg)
{
	size_t len = head.len, nparts = (size_t)nbufs + 1, nspans, hdr_bytes;
	struct span *parts, *spans;
	struct writer hw;
	struct conn_write *o;
	size_t n = 0;
	int err = -ENOMEM;

	for (unsigned i = 0; i < nbufs; i++)
		len += bufs[i].iov_len;
	nspans = fcgi_stdout_spans(len, nparts) + 1;
	hdr_bytes = fcgi_stdout_count(len) * FCGI_HEADER_BYTES + FCGI_HEADER_BYTES +
		    FCGI_HEADER_BYTES + FCGI_END_BODY_BYTES + head.len;
	/* One block: uv_bufs, the parts and spans they are made from, then header bytes. */
	o = malloc(sizeof(*o) + nspans * sizeof(uv_buf_t) +
		   (nparts + nspans) * sizeof(struct span) + hdr_bytes);
	if (!o)
		goto fail;
	o->bufs = (uv_buf_t *)(o + 1);
	parts = (struct span *)(o->bufs + nspans);
	spans = parts + nparts;
	o->hdrs = (uint8_t *)(spans + nspans);
	o->data = data;
	o->sent_cb = sent_cb;
	o->sent_arg = arg;
	/* The head goes last in the block, so the record headers before it stay contiguous. */
	parts[0].p = o->hdrs + hdr_bytes - head.len;
	parts[0].len = head.len;
	if (head.len)
		memcpy(o->hdrs + hdr_bytes - head.len, head.p, head.len);
	for (unsigned i = 0; i < nbufs; i++)
		parts[i + 1] = (struct span){ (const uint8_t *)bufs[i].iov_base, bufs[i].iov_len };
	hw = writer_make(o->hdrs, hdr_bytes - head.len);
	err = fcgi_stdout_layoutv(id, parts, nparts, true, &hw, spans, nspans - 1, &n);
	if (err < 0)
		goto fail;
	spans[n].p = o->hdrs + hw.len;
	fcgi_write_header(&hw, FCGI_STDOUT, id, 0, 0);
	fcgi_write_end_request(&hw, id, 0, FCGI_REQUEST_COMPLETE);
	spans[n].len = o->hdrs + hw.len - spans[n].p;
	n++;
	for (size_t i = 0; i < n; i++)
		o->bufs[i] = uv_buf_init((char *)(uintptr_t)spans[i].p, (unsigned)spans[i].len);
	o->nbufs = (unsigned)n;
	err = net_conn_write(&c->net, &o->w, o->bufs, o->nbufs, conn_write_cb);
	if (err < 0)
		goto fail;
	return 0;
fail:
	free(o);
	free(data);
	if (sent_cb)
		sent_cb(err, arg);
	return err;
}

/*
 * The CGI response head (docs/FASTCGI.md "Answers") into buf[ANSWER_HEAD_MAX_BYTES].
 * no-store: nothing may cache a tunnel answer. X-Accel-Buffering: nginx passes a long-poll
 * answer on as it comes instead of collecting it in its buffers. Neither on a 4xx: a probe
 * must see what any web server's error page looks like.
 */
static struct span answer_head(uint8_t *buf, unsigned status, struct span ctype, size_t body_len)
{
	struct writer w = writer_make(buf, ANSWER_HEAD_MAX_BYTES);
	bool plain_error = status >= 400 && status < 500;

	wr_str(&w, "Status: ");
	wr_dec(&w, status);
	wr_str(&w, " ");
	wr_str(&w, http_status_reason((int)status));
	wr_str(&w, "\r\nContent-Type: ");
	wr_bytes(&w, ctype.p, ctype.len);
	wr_str(&w, "\r\nContent-Length: ");
	wr_dec(&w, body_len);
	wr_str(&w, "\r\n");
	if (!plain_error)
		wr_str(&w, "Cache-Control: no-store\r\nX-Accel-Buffering: no\r\n");
	/* Cannot fail: ctype is at most RELAY_CTYPE_MAX_BYTES, reasons are short. */
	if (!wr_str(&w, "\r\n"))
		return (struct span){ NULL, 0 };
	return (struct span){ buf, w.len };
}

#define SPAN_STR(s) ((struct span){ (const uint8_t *)(s), strlen(s) })

/* Answers r with an HTTP response through the web server, then ends it. */
static void request_answer(struct fcgi_request *r, unsigned status, struct span ctype,
			   struct span body)
{
	struct fcgi_conn *c = r->conn;
	uint8_t head[ANSWER_HEAD_MAX_BYTES];
	uint8_t *data = NULL;
	struct iovec b;

	if (c->net.closing) {
		request_end(r); /* the web server is gone: nobody to answer */
		return;
	}
	/* The body lives in a buffer that is read into again: the write takes a copy. */
	if (body.len && !(data = malloc(body.len))) {
		/* The request still ends (END_REQUEST alone: the web server says 502). */
		c->close_after_writes = true;
		conn_write_answer(c, r->id, (struct span){ NULL, 0 }, NULL, 0, NULL, NULL, NULL);
		request_end(r);
		return;
	}
	if (body.len)
		memcpy(data, body.p, body.len);
	b = (struct iovec){ data, body.len };
	if (conn_write_answer(c, r->id, answer_head(head, status, ctype, body.len), &b,
			      body.len ? 1 : 0, data, NULL, NULL) < 0)
		c->close_after_writes = true;
	request_end(r);
}

/* Like the HTTP server's error bodies: the reason phrase and a newline. */
static void request_answer_reason(struct fcgi_request *r, unsigned status)
{
	char body[64];

	snprintf(body, sizeof(body), "%s\n", http_status_reason((int)status));
	request_answer(r, status, SPAN_STR("text/plain"), SPAN_STR(body));
}

static void request_error(struct fcgi_request *r, unsigned status)
{
	r->app->stats.local_errors++;
	request_answer_reason(r, status);
}

/* ---- requests for the handler ---- */

static int local_sendv(struct http_request *req, int status, const char *content_type,
		       const struct iovec *bufs, unsigned nbufs, http_sent_cb sent_cb, void *arg)
{
	struct fcgi_request *r = (struct fcgi_request *)req;
	struct fcgi_conn *c = r->conn;
	const char *ct = content_type ? content_type : "application/octet-stream";
	uint8_t head[ANSWER_HEAD_MAX_BYTES];
	size_t len = 0;
	int err;

	if (!c) {
		/* The web server gave up on it meanwhile: the answer goes nowhere. */
		request_free(r);
		if (sent_cb)
			sent_cb(-ECANCELED, arg);
		return -ECANCELED;
	}
	for (unsigned i = 0; i < nbufs; i++)
		len += bufs[i].iov_len;
	r->handed = false;
	err = conn_write_answer(c, r->id, answer_head(head, (unsigned)status, SPAN_STR(ct), len),
				bufs, nbufs, NULL, sent_cb, arg);
	if (err < 0)
		c->close_after_writes = true;
	request_end(r);
	return err;
}

static int local_send_error(struct http_request *req, int status, bool close)
{
	struct fcgi_request *r = (struct fcgi_request *)req;

	(void)close; /* the web server owns the client's connection */
	if (!r->conn) {
		request_free(r);
		return -ECANCELED;
	}
	r->handed = false;
	request_answer_reason(r, (unsigned)status);
	return 0;
}

static void local_set_cancel(struct http_request *req, http_cancel_cb cb, void *arg)
{
	struct fcgi_request *r = (struct fcgi_request *)req;

	r->cancel_cb = cb;
	r->cancel_arg = arg;
}

static uint8_t *local_take_body(struct http_request *req, size_t *len)
{
	struct fcgi_request *r = (struct fcgi_request *)req;
	uint8_t *b = r->body;

	*len = r->body_len;
	request_body_release(r->app, r); /* the handler's now */
	r->body = NULL;
	r->body_len = 0;
	req->body = NULL;
	req->body_len = 0;
	return b;
}

static const struct http_request_ops local_req_ops = {
	.sendv = local_sendv,
	.send_error = local_send_error,
	.set_cancel = local_set_cancel,
	.take_body = local_take_body,
	.header = NULL, /* the relay carries no headers either: the tunnel needs none */
	.vouch = NULL, /* the web server owns the connections */
};

static void local_hand(struct fcgi_app *app, struct fcgi_request *r)
{
	struct http_request *q = &r->hreq;

	r->target[r->target_len] = '\0';
	q->ops = &local_req_ops;
	q->method_name = r->method;
	q->method = http_method_of(r->method);
	q->url = r->target;
	q->url_len = r->target_len;
	q->body = r->body;
	q->body_len = r->body_len;
	r->handed = true;
	app->stats.requests++;
	app->on_request(q, app->on_request_arg);
}

/*
 * The web server gave up on r, which the handler holds: a parked request is dropped
 * through its cancel callback and freed; one the handler is about to answer becomes an
 * orphan (conn NULL) that its answer frees. Call with r off its connection.
 */
static void local_abandon(struct fcgi_request *r)
{
	if (r->cancel_cb) {
		r->cancel_cb(&r->hreq, r->cancel_arg);
		request_free(r);
	}
}

static void timer_cb(uv_timer_t *t)
{
	struct fcgi_app *app = t->data;
	uint64_t now = uv_now(app->loop);
	struct list_node *n;
	bool again = true;

	/*
	 * Bodies that stopped coming for FCGI_BODY_IDLE_MS, or are not complete after
	 * FCGI_BODY_DEADLINE_MS: 408, which frees the body. The walk restarts after each, as
	 * an answer may close its connection.
	 */
	while (again) {
		again = false;
		list_for_each(n, &app->conns) {
			struct fcgi_conn *c = list_entry(n, struct fcgi_conn, link);

			for (unsigned i = 0; i < FCGI_MAX_REQS_PER_CONN && !again; i++) {
				struct fcgi_request *r = c->slot[i];

				if (r && r->params_done && !r->stdin_done &&
				    (now - r->body_seen_ms >= app->body_idle_ms ||
				     now - r->body_start_ms >= app->body_deadline_ms)) {
					request_error(r, 408);
					again = true;
				}
			}
			if (again)
				break;
		}
	}
}

/* ---- FastCGI connections ---- */

static void conn_closed_cb(struct net_conn *n)
{
	struct fcgi_conn *c = n->owner;
	struct fcgi_app *app = c->app;

	free(c);
	app->handles--;
	app_maybe_free(app);
}

static void conn_close(struct fcgi_conn *c)
{
	struct fcgi_app *app = c->app;

	if (c->net.closing)
		return;
	net_conn_close(&c->net); /* c lives until conn_closed_cb */
	for (unsigned i = 0; i < FCGI_MAX_REQS_PER_CONN; i++) {
		struct fcgi_request *r = c->slot[i];

		if (!r)
			continue;
		request_unbind(r);
		/* The web server gave up on the request (its client went away, or a timeout). */
		if (r->handed) {
			app->stats.aborted++;
			local_abandon(r);
			continue;
		}
		request_free(r);
	}
	list_remove(&c->link);
	app->nconns--;
}

/* Queues a management or END_REQUEST record written by the codec. */
static void conn_write_raw(struct fcgi_conn *c, const uint8_t *p, size_t len)
{
	struct conn_write *o = malloc(sizeof(*o) + sizeof(uv_buf_t) + len);

	if (!o) {
		conn_close(c);
		return;
	}
	o->bufs = (uv_buf_t *)(o + 1);
	o->hdrs = (uint8_t *)(o->bufs + 1);
	o->data = NULL;
	o->sent_cb = NULL;
	memcpy(o->hdrs, p, len);
	o->bufs[0] = uv_buf_init((char *)o->hdrs, (unsigned)len);
	o->nbufs = 1;
	if (net_conn_write(&c->net, &o->w, o->bufs, 1, conn_write_cb) < 0) {
		free(o);
		conn_close(c);
	}
}

static bool span_append(char *dst, size_t cap, size_t *len, struct span s)
{
	if (s.len > cap - *len)
		return false;
	if (s.len) /* an absent variable is a NULL span */
		memcpy(dst + *len, s.p, s.len);
	*len += s.len;
	return true;
}

/* PARAMS complete: pick out the request line. Returns an HTTP status to refuse, or 0. */
static unsigned request_params_done(struct fcgi_request *r)
{
	struct fcgi_cgi cgi;
	size_t cap = HTTP_MAX_URL_BYTES;

	if (fcgi_params_lookup(&r->params, &cgi) < 0)
		return 400;
	if (!cgi.request_method.p || cgi.request_method.len > RELAY_METHOD_MAX_BYTES)
		return 405;
	memcpy(r->method, cgi.request_method.p, cgi.request_method.len);
	r->method[cgi.request_method.len] = '\0';
	if (fcgi_content_length(cgi.content_length, FCGI_STDIN_MAX_BYTES, &r->want) < 0)
		return 413;
	/*
	 * The path the web server mapped to us, as the server's --path sees it: SCRIPT_NAME
	 * (the mount point, or the whole path for nginx) and PATH_INFO (the rest).
	 */
	r->target_len = 0;
	if (cgi.script_name.len || cgi.path_info.len) {
		if (!span_append(r->target, cap, &r->target_len, cgi.script_name) ||
		    !span_append(r->target, cap, &r->target_len, cgi.path_info))
			return 414;
		if (cgi.query_string.len &&
		    (!span_append(r->target, cap, &r->target_len, SPAN_STR("?")) ||
		     !span_append(r->target, cap, &r->target_len, cgi.query_string)))
			return 414;
	} else if (!span_append(r->target, cap, &r->target_len, cgi.request_uri)) {
		return 414;
	}
	/* Nothing is reserved for the body yet: it is charged as its bytes come. */
	r->body_start_ms = r->body_seen_ms = uv_now(r->app->loop);
	return 0;
}

/* Whether body a, a_len bytes by now, arrives more slowly than b (bytes per ms) at now. */
static bool body_slower(const struct fcgi_request *a, size_t a_len, const struct fcgi_request *b,
			size_t b_len, uint64_t now)
{
	/* At most 2^21 bytes times an age in ms: no overflow for thousands of years. */
	uint64_t ra = (uint64_t)a_len * (now - b->body_start_ms + 1);
	uint64_t rb = (uint64_t)b_len * (now - a->body_start_ms + 1);

	return ra < rb || (ra == rb && a->body_start_ms < b->body_start_ms);
}

/*
 * The body to drop when the budget is full and r is to grow to r_len bytes: the slowest
 * incomplete body, r included unless these bytes complete it (then it is passed on at
 * once). A body that trickles is slower than any that is being sent, so trickling cannot
 * hold the budget against new requests (a 64-byte handshake POST completes at once).
 */
static struct fcgi_request *body_victim(struct fcgi_app *app, struct fcgi_request *r, size_t r_len)
{
	uint64_t now = uv_now(app->loop);
	struct fcgi_request *victim = r_len < r->want ? r : NULL;
	size_t victim_len = r_len;
	struct list_node *n;

	list_for_each(n, &app->conns) {
		struct fcgi_conn *c = list_entry(n, struct fcgi_conn, link);

		for (unsigned i = 0; i < FCGI_MAX_REQS_PER_CONN; i++) {
			struct fcgi_request *q = c->slot[i];

			if (!q || q == r || !q->body_charged || q->stdin_done)
				continue;
			if (!victim || body_slower(q, q->body_len, victim, victim_len, now)) {
				victim = q;
				victim_len = q->body_len;
			}
		}
	}
	return victim;
}

/*
 * Makes room in r's body for need bytes, growing it as STDIN arrives (doubling, up to
 * CONTENT_LENGTH) and charging its size to FCGI_BODY_BYTES_TOTAL. When the budget lacks
 * room, the slowest body goes first (503). Returns 0; -ENOBUFS when r is the slowest
 * itself; -ENOMEM; -ECONNRESET when an answer closed r's connection (r is gone).
 */
static int request_body_grow(struct fcgi_conn *c, struct fcgi_request *r, size_t need)
{
	struct fcgi_app *app = r->app;
	size_t cap = r->body_charged, room;
	uint8_t *p;

	if (need <= cap)
		return 0;
	cap = 2 * cap >= need ? 2 * cap : need; /* cap is at most 2 MiB: no overflow */
	if (cap > r->want)
		cap = (size_t)r->want;
	while (app->body_bytes - r->body_charged + need > FCGI_BODY_BYTES_TOTAL) {
		struct fcgi_request *v = body_victim(app, r, need);

		log_warnx_rl("fcgi: %llu bytes of request bodies held; dropping the slowest",
			     (unsigned long long)app->body_bytes);
		if (!v || v == r)
			return -ENOBUFS;
		request_error(v, 503);
		if (c->net.closing)
			return -ECONNRESET;
	}
	/* Under pressure no more than the bytes that came: the budget is for those. */
	room = FCGI_BODY_BYTES_TOTAL - (size_t)(app->body_bytes - r->body_charged);
	if (cap > room)
		cap = room;
	p = realloc(r->body, cap);
	if (!p)
		return -ENOMEM;
	r->body = p;
	app->body_bytes += cap - r->body_charged;
	r->body_charged = cap;
	return 0;
}

/* One record of an active request. Returns -EPROTO to close the connection. */
static int conn_request_record(struct fcgi_conn *c, struct fcgi_request *r,
			       const struct fcgi_record *rec)
{
	uint8_t out[FCGI_HEADER_BYTES + FCGI_END_BODY_BYTES];
	struct writer w = writer_make(out, sizeof(out));
	unsigned status;
	int ret;

	switch (rec->type) {
	case FCGI_ABORT_REQUEST:
		c->app->stats.aborted++;
		fcgi_write_end_request(&w, r->id, 0, FCGI_REQUEST_COMPLETE);
		conn_write_raw(c, out, w.len);
		if (c->net.closing)
			return 0;
		if (r->handed) {
			if (request_unbind(r))
				conn_close(c);
			local_abandon(r);
			return 0;
		}
		request_end(r);
		return 0;
	case FCGI_PARAMS:
		ret = fcgi_params_add(&r->params, rec->content);
		if (ret == -EPROTO)
			return ret;
		if (ret < 0) {
			request_error(r, 431);
			return 0;
		}
		if (ret == 1) {
			r->params_done = true;
			status = request_params_done(r);
			if (status)
				request_error(r, status);
		}
		return 0;
	case FCGI_STDIN:
		if (!r->params_done || r->stdin_done)
			return -EPROTO;
		if (rec->content.len == 0) {
			r->stdin_done = true;
			if (r->body_len != r->want)
				request_error(r, 400);
			else
				local_hand(c->app, r);
			return 0;
		}
		if (rec->content.len > r->want - r->body_len) {
			request_error(r, 400); /* more than CONTENT_LENGTH said */
			return 0;
		}
		ret = request_body_grow(c, r, r->body_len + rec->content.len);
		if (ret == -ECONNRESET)
			return 0;
		if (ret < 0) {
			request_error(r, 503);
			return 0;
		}
		memcpy(r->body + r->body_len, rec->content.p, rec->content.len);
		r->body_len += rec->content.len;
		r->body_seen_ms = uv_now(c->app->loop);
		return 0;
	default:
		return 0; /* DATA: only for the filter role */
	}
}

static int conn_record(struct fcgi_conn *c, const struct fcgi_record *rec)
{
	uint8_t out[512];
	struct writer w = writer_make(out, sizeof(out));
	struct fcgi_request *r;
	int route = fcgi_record_route(&c->reqs, rec);
	int ret, slot;

	switch (route) {
	case FCGI_ROUTE_GET_VALUES:
		if (fcgi_write_get_values_result(&w, rec->content) < 0)
			return -EPROTO;
		conn_write_raw(c, out, w.len);
		return 0;
	case FCGI_ROUTE_UNKNOWN_TYPE:
		fcgi_write_unknown_type(&w, rec->type);
		conn_write_raw(c, out, w.len);
		return 0;
	case FCGI_ROUTE_BEGIN:
		ret = fcgi_reqs_begin(&c->reqs, rec, &slot);
		if (ret < 0)
			return ret;
		if (ret > 0) {
			fcgi_write_end_request(&w, rec->request_id, 0, (uint8_t)ret);
			conn_write_raw(c, out, w.len);
			return 0;
		}
		r = calloc(1, sizeof(*r));
		if (!r) {
			bool close_conn;

			fcgi_reqs_end(&c->reqs, rec->request_id, &close_conn);
			fcgi_write_end_request(&w, rec->request_id, 0, FCGI_OVERLOADED);
			conn_write_raw(c, out, w.len);
			return 0;
		}
		r->app = c->app;
		r->conn = c;
		r->id = rec->request_id;
		fcgi_params_init(&r->params);
		c->slot[slot] = r;
		return 0;
	case FCGI_ROUTE_REQUEST:
		slot = fcgi_reqs_find(&c->reqs, rec->request_id);
		if (slot < 0 || !c->slot[slot])
			return 0;
		return conn_request_record(c, c->slot[slot], rec);
	case FCGI_ROUTE_IGNORE:
		return 0;
	default:
		return -EPROTO;
	}
}

static void conn_read_cb(struct net_conn *n, ssize_t nread, char *direct)
{
	struct fcgi_conn *c = n->owner;
	struct fcgi_record rec;
	struct cursor cur;
	int ret = 0;

	(void)direct;
	if (nread < 0) {
		conn_close(c);
		return;
	}
	cur = readbuf_cursor(&n->rb);
	while (!n->closing && (ret = fcgi_record_next(&cur, &rec)) == 1) {
		ret = conn_record(c, &rec);
		if (ret < 0)
			break;
	}
	if (n->closing)
		return;
	if (ret < 0) {
		log_warnx_rl("fcgi: closing a FastCGI connection: protocol error");
		conn_close(c);
		return;
	}
	readbuf_keep(&n->rb, cur);
	/* A peer that does not read what it asked for gets no more of our memory. */
	net_conn_pause_if_congested(n);
}

static const struct net_conn_events conn_events = {
	.read = conn_read_cb,
	.closed = conn_closed_cb,
};

static void lst_connection_cb(uv_stream_t *s, int status)
{
	struct fcgi_app *app = s->data;
	struct net_conn_config cfg = {
		.kind = app->lst_tcp ? NET_TCP : NET_PIPE,
		.rb_base = FCGI_RECORD_MAX_BYTES,
		.rb_max = FCGI_RECORD_MAX_BYTES,
		.max_queued_bytes = FCGI_MAX_QUEUED_BYTES,
	};
	struct fcgi_conn *c;

	if (status < 0) {
		log_warnx_rl("fcgi: accept: %s", uv_strerror(status));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c || net_conn_init(&c->net, app->loop, &cfg, &conn_events, c) < 0) {
		free(c);
		return; /* the web server retries; its connect times out otherwise */
	}
	c->app = app;
	app->handles++;
	list_insert_head(&app->conns, &c->link);
	app->nconns++;
	fcgi_reqs_init(&c->reqs);
	if (net_conn_accept(&c->net, s) < 0) {
		conn_close(c);
		return;
	}
	/* FCGI_MAX_CONNS is advertised; past it, the web server gets a closed connection. */
	if (app->nconns > FCGI_MAX_CONNS) {
		log_warnx_rl("fcgi: more than %d FastCGI connections; closing one", FCGI_MAX_CONNS);
		conn_close(c);
		return;
	}
	app->stats.connections++;
	if (net_conn_read_start(&c->net) < 0)
		conn_close(c);
}

/* ---- the app ---- */

void fcgi_app_set_body_idle_ms(struct fcgi_app *app, uint64_t ms)
{
	app->body_idle_ms = ms;
}

void fcgi_app_set_body_deadline_ms(struct fcgi_app *app, uint64_t ms)
{
	app->body_deadline_ms = ms;
}

struct fcgi_app *fcgi_app_new(uv_loop_t *loop, http_request_cb on_request, void *arg)
{
	struct fcgi_app *app = calloc(1, sizeof(*app));

	if (!app)
		return NULL;
	app->loop = loop;
	list_init(&app->conns);
	app->on_request = on_request;
	app->on_request_arg = arg;
	app->body_idle_ms = FCGI_BODY_IDLE_MS;
	app->body_deadline_ms = FCGI_BODY_DEADLINE_MS;
	if (uv_timer_init(loop, &app->timer) < 0) {
		free(app);
		return NULL;
	}
	app->timer.data = app;
	app->handles++;
	return app;
}

int fcgi_app_listen_fd(struct fcgi_app *app, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(int), slen = sizeof(ss);
	int type = 0, acc = 0, err;

	if (app->listening)
		return -EALREADY;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
		return -ENOTSOCK;
	len = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0 || !acc)
		return -ENOTSOCK;
	if (getsockname(fd, (struct sockaddr *)&ss, &slen) < 0)
		return -errno;
	app->lst_tcp = ss.ss_family != AF_UNIX;
	if (app->lst_tcp) {
		err = uv_tcp_init(app->loop, &app->lst.tcp);
		if (err == 0)
			err = uv_tcp_open(&app->lst.tcp, fd);
	} else {
		err = uv_pipe_init(app->loop, &app->lst.pipe, 0);
		if (err == 0)
			err = uv_pipe_open(&app->lst.pipe, fd);
	}
	if (err < 0)
		return err;
	app->lst.handle.data = app;
	app->listening = true;
	app->handles++;
	return uv_listen(&app->lst.stream, SOMAXCONN, lst_connection_cb);
}

int fcgi_app_listen_path(struct fcgi_app *app, const char *path, gid_t gid)
{
	int err;

	if (app->listening)
		return -EALREADY;
	if (path[0] != '/')
		return -EINVAL;
	err = uv_pipe_init(app->loop, &app->lst.pipe, 0);
	if (err < 0)
		return err;
	app->lst.handle.data = app;
	app->listening = true;
	app->handles++;
	err = net_listen_unix(&app->lst.pipe, "FastCGI socket", path, gid, lst_connection_cb);
	if (err < 0)
		return err;
	app->lst_path = strdup(path);
	return app->lst_path ? 0 : -ENOMEM;
}

const struct fcgi_app_stats *fcgi_app_stats(const struct fcgi_app *app)
{
	return &app->stats;
}

void fcgi_app_start(struct fcgi_app *app)
{
	if (app->started)
		return;
	app->started = true;
	uv_timer_start(&app->timer, timer_cb, FCGI_TICK_MS, FCGI_TICK_MS);
}

void fcgi_app_free(struct fcgi_app *app)
{
	if (!app)
		return;
	app->freeing = true;
	while (!list_empty(&app->conns))
		conn_close(list_first_entry(&app->conns, struct fcgi_conn, link));
	if (app->listening) {
		if (app->lst_path)
			unlink(app->lst_path);
		uv_close(&app->lst.handle, handle_close_cb);
	}
	app->listening = false;
	uv_close((uv_handle_t *)&app->timer, handle_close_cb);
	app_maybe_free(app);
}
