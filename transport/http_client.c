/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * HTTP/1.1 client for one origin: libuv for I/O, llhttp (strict) for responses.
 * docs/TRANSPORT.md describes the design.
 */
#include "transport/http_client.h"

#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <llhttp.h>

#include "transport/http_conn.h"
#include "core/cursor.h"
#include "core/http_head.h"
#include "core/limits.h"
#include "core/list.h"
#include "core/log.h"
#include "net/conn.h"

/* Longest Content-Type a request may name. */
#define CTYPE_MAX 128
/* The Host header's value, NUL included: [HOST]:PORT. */
#define AUTHORITY_BYTES (CONFIG_HOST_MAX_BYTES + sizeof("[]:65535"))
/* Body buffers a request keeps inline before it needs a heap array. */
#define REQ_INLINE_BUFS 8

/* ---- client state ---- */

struct client_request {
	struct client_request *next; /* queue or free list */
	struct http_client *cli;
	struct client_conn *conn; /* while on a connection */
	enum http_method method;
	bool retried;
	bool finished; /* outcome known; waiting for the write to let go of the bufs */
	int err;
	int status;
	uint64_t deadline_ms;
	http_client_cb cb;
	void *arg;
	uv_buf_t *bufs;
	unsigned nbufs;
	size_t body_len;
	uv_buf_t inline_bufs[REQ_INLINE_BUFS];
	char ctype[CTYPE_MAX];
	char path[HTTP_MAX_URL_BYTES + 1];
};

enum conn_state {
	CONN_CONNECTING,
	CONN_IDLE,
	CONN_BUSY,
};

/* Who reads the current response (docs/TRANSPORT.md, "Parsing"). */
enum conn_parser {
	PARSE_START, /* no byte of it yet: the fast path may take the head */
	PARSE_FAST, /* core/http_head.c took the head; the body is counted here */
	PARSE_LLHTTP, /* llhttp has its bytes */
};

struct client_conn {
	struct net_conn net; /* socket, read buffer, deadline timer (net/conn.h) */
	struct net_write wr; /* the request being written */
	struct http_client *cli;
	struct list_node link; /* in cli->conns until closing */
	llhttp_t parser;
	enum conn_state state;
	bool reused; /* a response has completed on it before */
	bool got_bytes; /* response bytes arrived for the current request */
	bool in_body;
	bool chunked;
	bool msg_done; /* on_message_complete ran for the current request */
	bool keep_alive; /* the response allows another request on the connection */
	enum conn_parser parse;
	unsigned status;
	int err; /* set by a parser callback that refuses the response */
	int dead_err; /* failed while sending; closed from the timer */
	uint64_t connect_deadline_ms; /* 0 once connected */
	struct client_request *req;
	uint8_t *body;
	size_t body_len, body_cap;
	bool body_used; /* a response had a body since the last http_client_trim */
	size_t body_want; /* Content-Length: direct reads never go past it */
	size_t header_bytes;
	unsigned hcount;
	char hdr[HTTP_MAX_URL_BYTES + AUTHORITY_BYTES + CTYPE_MAX + 128];
};

struct http_client {
	uv_loop_t *loop;
	struct http_client_config cfg;
	char authority[AUTHORITY_BYTES]; /* the Host header */
	struct sockaddr_storage addr;
	uv_timer_t timer; /* queued requests' deadlines; connections have their own */
	uint64_t timer_due_ms; /* 0: not armed */
	struct list_node conns; /* newest first */
	unsigned nconns;
	struct client_request *queue_head, *queue_tail;
	struct client_request *free_reqs;
	unsigned nfree;
	unsigned handles;
	bool freeing;
	struct http_client_stats stats;
	struct http_head_limits head_lim; /* cfg's, for the fast path */
	llhttp_settings_t settings;
};

void http_client_config_default(struct http_client_config *cfg)
{
	cfg->pool_size = HTTP_CLIENT_POOL_DEFAULT;
	cfg->connect_timeout_ms = HTTP_CLIENT_CONNECT_TIMEOUT_MS;
	cfg->max_body_bytes = HTTP_CLIENT_MAX_BODY_BYTES;
	cfg->max_header_bytes = HTTP_MAX_HEADER_BYTES;
	cfg->max_header_count = HTTP_MAX_HEADER_COUNT;
}

const struct http_client_stats *http_client_stats(const struct http_client *cli)
{
	return &cli->stats;
}

static void client_maybe_free(struct http_client *cli)
{
	struct client_request *r;

	if (!cli->freeing || cli->handles)
		return;
	while ((r = cli->free_reqs)) {
		cli->free_reqs = r->next;
		free(r);
	}
	free(cli);
}

/* ---- requests ---- */

static void req_release(struct http_client *cli, struct client_request *r)
{
	if (r->bufs != r->inline_bufs)
		free(r->bufs);
	if (cli->nfree < HTTP_CLIENT_FREE_REQS && !cli->freeing) {
		r->next = cli->free_reqs;
		cli->free_reqs = r;
		cli->nfree++;
	} else {
		free(r);
	}
}

/* Runs the user callback; the body is the connection's, if the request got one. */
static void req_complete(struct client_request *r)
{
	struct http_client *cli = r->cli;
	struct client_conn *c = r->conn;
	struct http_response resp = { .err = r->err, .status = r->status };
	bool offered = false;

	if (c) {
		c->req = NULL;
		if (r->err == 0 && c->body_len) {
			resp.body = c->body;
			resp.body_len = c->body_len;
			offered = true;
		}
	}
	r->cb(&resp, r->arg);
	if (offered && resp.body == NULL) {
		/* Taken by the callback. */
		c->body = NULL;
		c->body_cap = 0;
	}
	if (c) {
		c->body_len = 0;
		if (c->body_cap > HTTP_BODY_KEEP_BYTES) {
			free(c->body);
			c->body = NULL;
			c->body_cap = 0;
		}
	}
	req_release(cli, r);
}

/* The outcome is known; deliver it once the write no longer uses the caller's bufs. */
static void req_finish(struct client_request *r, int err, int status)
{
	r->finished = true;
	r->err = err;
	r->status = status;
	if (!r->conn || !r->conn->net.writes)
		req_complete(r);
}

static void client_arm(struct http_client *cli, uint64_t due_ms);

/* Queued: the client's timer watches its deadline until a connection takes it. */
static void queue_push(struct http_client *cli, struct client_request *r, bool front)
{
	client_arm(cli, r->deadline_ms);
	r->next = NULL;
	if (!cli->queue_head) {
		cli->queue_head = cli->queue_tail = r;
	} else if (front) {
		r->next = cli->queue_head;
		cli->queue_head = r;
	} else {
		cli->queue_tail->next = r;
		cli->queue_tail = r;
	}
}

static struct client_request *queue_pop(struct http_client *cli)
{
	struct client_request *r = cli->queue_head;

	if (r) {
		cli->queue_head = r->next;
		if (!cli->queue_head)
			cli->queue_tail = NULL;
		r->next = NULL;
	}
	return r;
}

/* ---- timer: one for the queue, due at the earliest deadline ---- */

static void client_timer_cb(uv_timer_t *t);

static void client_arm(struct http_client *cli, uint64_t due_ms)
{
	uint64_t now = uv_now(cli->loop);

	if (cli->freeing)
		return;
	if (cli->timer_due_ms && cli->timer_due_ms <= due_ms)
		return;
	cli->timer_due_ms = due_ms;
	uv_timer_start(&cli->timer, client_timer_cb, due_ms > now ? due_ms - now : 0, 0);
}

/* ---- connections ---- */

static void conn_close(struct client_conn *c, int err);
static void client_pump(struct http_client *cli);

static struct client_conn *net_to_conn(struct net_conn *n)
{
	return n->owner;
}

static void conn_closed_cb(struct net_conn *n)
{
	struct client_conn *c = net_to_conn(n);
	struct http_client *cli = c->cli;

	free(c->body);
	free(c);
	cli->handles--;
	client_maybe_free(cli);
}

/*
 * Ends a connection. Its request fails with err, or, when the connection was reused and
 * died before a byte of the answer (the server closed an idle keep-alive connection just
 * as the request went out), is sent once more on another connection.
 */
static void conn_close(struct client_conn *c, int err)
{
	struct http_client *cli = c->cli;
	struct client_request *r = c->req;

	if (c->net.closing)
		return;
	net_conn_close(&c->net); /* c lives until conn_closed_cb */
	list_remove(&c->link);
	cli->nconns--;
	if (r && !r->finished) {
		if (c->reused && !c->got_bytes && !r->retried && !cli->freeing &&
		    (err == UV_EOF || err == UV_ECONNRESET || err == UV_EPIPE)) {
			r->retried = true;
			r->conn = NULL;
			c->req = NULL;
			cli->stats.retries++;
			queue_push(cli, r, true);
		} else {
			req_finish(r, err == UV_EOF ? -ECONNRESET : err, 0);
		}
	}
	if (!cli->freeing)
		client_pump(cli);
}

/* A body of known length is read straight into its buffer when nothing else is waiting. */
static bool conn_alloc_cb(struct net_conn *n, uv_buf_t *buf)
{
	struct client_conn *c = net_to_conn(n);

	if (!c->in_body || c->chunked || !readbuf_empty(&c->net.rb) || c->body_len >= c->body_want)
		return false;
	*buf = uv_buf_init((char *)c->body + c->body_len, (unsigned)(c->body_want - c->body_len));
	return true;
}

static void conn_response_done(struct client_conn *c)
{
	struct client_request *r = c->req;
	bool keep = c->keep_alive && readbuf_empty(&c->net.rb);

	c->in_body = false;
	c->reused = true;
	c->got_bytes = false;
	c->parse = PARSE_START;
	llhttp_resume(&c->parser);
	req_finish(r, 0, (int)c->status);
	if (c->net.closing)
		return;
	if (!keep) {
		/* Connection: close, or bytes nobody asked for: this connection is done. */
		conn_close(c, 0);
		return;
	}
	if (c->req == NULL) {
		c->state = CONN_IDLE;
		client_pump(c->cli);
	}
}

static void conn_execute(struct client_conn *c, const char *data, size_t len, bool in_rbuf)
{
	llhttp_errno_t e = llhttp_execute(&c->parser, data, len);

	if (e == HPE_OK) {
		if (in_rbuf)
			readbuf_take(&c->net.rb, len);
		return;
	}
	if (e == HPE_PAUSED) {
		if (in_rbuf)
			readbuf_take(&c->net.rb, (size_t)(llhttp_get_error_pos(&c->parser) - data));
		conn_response_done(c);
		return;
	}
	conn_close(c, c->err ? c->err : -EPROTO);
}

static int conn_headers_done(struct client_conn *c, bool has_length, uint64_t length, bool chunked);

/* Body bytes of a fast-path response at data (in place when it is the body's end). */
static void conn_fast_body(struct client_conn *c, const char *data, size_t len, bool in_rbuf)
{
	size_t take = http_body_take(c->body, &c->body_len, c->body_want, data, len);

	if (take)
		c->body_used = true;
	if (in_rbuf)
		readbuf_take(&c->net.rb, take);
	if (c->body_len < c->body_want)
		return;
	c->msg_done = true;
	c->in_body = false;
	conn_response_done(c);
}

/*
 * A response head whole at the start of [data, data+len) in the plain shape takes the
 * fast path (core/http_head.c); false leaves everything to llhttp, which has not seen
 * these bytes. Not for HEAD, whose answer has a length but no body.
 */
static bool conn_fast_head(struct client_conn *c, const char *data, size_t len)
{
	struct http_head h;
	int err;

	/*
	 * The llhttp path counts the reason phrase against max_header_bytes too; the whole
	 * head within it is never looser than that.
	 */
	if (c->req->method == HTTP_METHOD_HEAD ||
	    !http_head_response(data, len, &c->cli->head_lim, &h, NULL, NULL) ||
	    h.len > c->cli->cfg.max_header_bytes)
		return false;
	c->header_bytes = h.header_bytes;
	c->hcount = h.header_count;
	c->body_len = 0;
	c->status = h.status;
	c->keep_alive = h.keep_alive;
	readbuf_take(&c->net.rb, h.len);
	err = conn_headers_done(c, h.has_length, h.length, false);
	if (err < 0) {
		conn_close(c, err);
		return true;
	}
	c->parse = PARSE_FAST;
	conn_fast_body(c, data + h.len, len - h.len, true);
	return true;
}

/* What the read buffer holds, to whichever parser reads the current response. */
static void conn_input(struct client_conn *c)
{
	struct cursor in = readbuf_cursor(&c->net.rb);
	const char *data = (const char *)in.p;
	size_t len = in.len;

	if (c->net.closing || len == 0)
		return;
	if (c->parse == PARSE_FAST) {
		conn_fast_body(c, data, len, true);
		return;
	}
	if (c->parse == PARSE_START && conn_fast_head(c, data, len))
		return;
	c->parse = PARSE_LLHTTP;
	conn_execute(c, data, len, true);
}

static void conn_read_cb(struct net_conn *n, ssize_t nread, char *direct)
{
	struct client_conn *c = net_to_conn(n);

	if (nread == UV_EOF && c->state == CONN_BUSY && c->req && !c->req->finished &&
	    c->got_bytes && c->parse == PARSE_LLHTTP && llhttp_message_needs_eof(&c->parser)) {
		/* Body delimited by the end of the connection (no length, not chunked). */
		(void)llhttp_finish(&c->parser);
		if (c->msg_done)
			req_finish(c->req, 0, c->parser.status_code);
		conn_close(c, -ECONNRESET);
		return;
	}
	if (nread < 0) {
		conn_close(c, (int)nread);
		return;
	}
	if (c->state != CONN_BUSY || !c->req || c->req->finished) {
		conn_close(c, -EPROTO); /* nothing was asked */
		return;
	}
	c->got_bytes = true;
	if (direct) {
		/* Straight into the body buffer (conn_alloc_cb). */
		if (c->parse == PARSE_FAST)
			conn_fast_body(c, direct, (size_t)nread, false);
		else
			conn_execute(c, direct, (size_t)nread, false);
		return;
	}
	conn_input(c);
}

static void conn_write_cb(struct net_write *w, int status)
{
	struct client_conn *c = net_to_conn(w->conn);
	struct client_request *r = c->req;

	if (r && r->finished) {
		req_complete(r);
		if (!c->net.closing && c->state == CONN_BUSY && !c->req) {
			c->state = CONN_IDLE;
			client_pump(c->cli);
		}
		return;
	}
	if (status < 0 && !c->net.closing)
		conn_close(c, status);
}

/*
 * A write that fails at once is reported from the timer, not from here: conn_send runs
 * inside http_client_request(), whose callback must not run before it returns.
 */
static void conn_fail_later(struct client_conn *c, int err)
{
	c->dead_err = err;
	net_conn_deadline_at(&c->net, uv_now(c->cli->loop));
}

/* The deadline of what c is doing: connecting, or its request. */
static void conn_arm(struct client_conn *c)
{
	uint64_t due = c->connect_deadline_ms;

	if (c->req && !c->req->finished && (!due || c->req->deadline_ms < due))
		due = c->req->deadline_ms;
	if (due)
		net_conn_deadline_at(&c->net, due);
	else
		net_conn_deadline_clear(&c->net);
}

static void conn_timeout_cb(struct net_conn *n)
{
	struct client_conn *c = net_to_conn(n);
	uint64_t now = uv_now(c->cli->loop);

	if (c->dead_err)
		conn_close(c, c->dead_err);
	else if ((c->req && !c->req->finished && c->req->deadline_ms <= now) ||
		 (c->connect_deadline_ms && c->connect_deadline_ms <= now))
		conn_close(c, -ETIMEDOUT);
	else
		conn_arm(c);
}

static void conn_send(struct client_conn *c, struct client_request *r)
{
	struct http_client *cli = c->cli;
	uv_buf_t small[REQ_INLINE_BUFS + 1], *all = small;
	bool with_len = r->nbufs > 0 || r->method == HTTP_METHOD_POST;
	const char *m = r->method == HTTP_METHOD_GET	? "GET"
			: r->method == HTTP_METHOD_POST ? "POST"
							: "HEAD";
	struct writer w = writer_make(c->hdr, sizeof(c->hdr));
	bool ok;
	int err;

	c->req = r;
	r->conn = c;
	c->state = CONN_BUSY;
	c->got_bytes = false;
	c->msg_done = false;
	c->parse = PARSE_START;
	c->err = 0;
	c->body_len = 0;
	c->body_want = 0;
	/* No stdio: this runs per request, and its code path is most of the header's cost. */
	ok = wr_str(&w, m) && wr_u8(&w, ' ') && wr_str(&w, r->path) &&
	     wr_str(&w, " HTTP/1.1\r\nHost: ") && wr_str(&w, cli->authority) && wr_str(&w, "\r\n");
	if (with_len)
		ok = ok && wr_str(&w, "Content-Type: ") && wr_str(&w, r->ctype) &&
		     wr_str(&w, "\r\nContent-Length: ") && wr_dec(&w, r->body_len) &&
		     wr_str(&w, "\r\n");
	if (!ok || !wr_str(&w, "\r\n")) {
		conn_fail_later(c, -EINVAL); /* hdr is sized for the longest URL and type */
		return;
	}
	if (r->nbufs + 1 > sizeof(small) / sizeof(small[0])) {
		all = malloc((r->nbufs + 1) * sizeof(*all));
		if (!all) {
			conn_fail_later(c, -ENOMEM);
			return;
		}
	}
	all[0] = uv_buf_init(c->hdr, (unsigned)w.len);
	memcpy(all + 1, r->bufs, r->nbufs * sizeof(*all));
	cli->stats.requests++; /* also when the write fails at once, as it may fail later */
	/* One that fits the socket buffer needs no write request (net_conn_send). */
	err = net_conn_send(&c->net, &c->wr, all, r->nbufs + 1, conn_write_cb);
	if (all != small)
		free(all);
	if (err < 0)
		conn_fail_later(c, err);
	else
		conn_arm(c);
}

static int on_message_begin(llhttp_t *p)
{
	struct client_conn *c = p->data;

	c->header_bytes = 0;
	c->hcount = 0;
	c->body_len = 0;
	return 0;
}

static int on_header_data(llhttp_t *p, const char *at, size_t len)
{
	struct client_conn *c = p->data;

	(void)at;
	if (len > c->cli->cfg.max_header_bytes - c->header_bytes) {
		c->err = -EMSGSIZE;
		return -1;
	}
	c->header_bytes += len;
	return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
	struct client_conn *c = p->data;

	if (++c->hcount > c->cli->cfg.max_header_count) {
		c->err = -EMSGSIZE;
		return -1;
	}
	return 0;
}

/* The head is read (by llhttp or the fast path): set up for the body. 0 or -errno. */
static int conn_headers_done(struct client_conn *c, bool has_length, uint64_t length, bool chunked)
{
	c->chunked = chunked;
	c->in_body = c->req->method != HTTP_METHOD_HEAD;
	c->body_want = 0;
	if (has_length && length > 0 && c->req->method != HTTP_METHOD_HEAD) {
		if (length > c->cli->cfg.max_body_bytes)
			return -EMSGSIZE;
		if (c->body_cap < length) {
			free(c->body);
			c->body_cap = 0;
			c->body = malloc(length);
			if (!c->body)
				return -ENOMEM;
			c->body_cap = length;
		}
		c->body_want = length;
	}
	return 0;
}

static int on_headers_complete(llhttp_t *p)
{
	struct client_conn *c = p->data;

	if (p->upgrade) {
		c->err = -EPROTO;
		return -1;
	}
	c->status = p->status_code;
	c->err = conn_headers_done(c, (p->flags & F_CONTENT_LENGTH) != 0, p->content_length,
				   (p->flags & F_CHUNKED) != 0);
	if (c->err < 0)
		return -1;
	/* A HEAD answer has no body whatever its Content-Length says. */
	return c->req->method == HTTP_METHOD_HEAD ? 1 : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	struct client_conn *c = p->data;
	size_t max = c->cli->cfg.max_body_bytes;

	c->body_used = true;
	if ((const uint8_t *)at == c->body + c->body_len) {
		c->body_len += len; /* read in place */
		return 0;
	}
	if (len > max - c->body_len) {
		c->err = -EMSGSIZE;
		return -1;
	}
	if (c->body_len + len > c->body_cap) {
		size_t cap = c->body_cap ? c->body_cap * 2 : 16 * 1024;
		uint8_t *nb;

		if (cap < c->body_len + len)
			cap = c->body_len + len;
		if (cap > max)
			cap = max;
		nb = realloc(c->body, cap);
		if (!nb) {
			c->err = -ENOMEM;
			return -1;
		}
		c->body = nb;
		c->body_cap = cap;
	}
	memcpy(c->body + c->body_len, at, len);
	c->body_len += len;
	return 0;
}

static int on_message_complete(llhttp_t *p)
{
	struct client_conn *c = p->data;

	c->msg_done = true;
	c->in_body = false;
	c->keep_alive = llhttp_should_keep_alive(p);
	return HPE_PAUSED;
}

static void conn_connected_cb(struct net_conn *n, int status)
{
	struct client_conn *c = net_to_conn(n);

	if (status < 0) {
		conn_close(c, status);
		return;
	}
	c->connect_deadline_ms = 0;
	if (c->req)
		conn_send(c, c->req);
	else
		c->state = CONN_IDLE;
}

static const struct net_conn_events conn_events = {
	.alloc = conn_alloc_cb,
	.read = conn_read_cb,
	.connected = conn_connected_cb,
	.timeout = conn_timeout_cb,
	.closed = conn_closed_cb,
};

static int conn_open(struct http_client *cli, struct client_request *r)
{
	struct client_conn *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	err = net_conn_init(&c->net, cli->loop, &http_conn_config, &conn_events, c);
	if (err < 0) {
		free(c);
		return err;
	}
	c->cli = cli;
	llhttp_init(&c->parser, HTTP_RESPONSE, &cli->settings);
	c->parser.data = c;
	c->state = CONN_CONNECTING;
	c->req = r;
	r->conn = c;
	list_insert_head(&cli->conns, &c->link);
	cli->nconns++;
	cli->handles++;
	cli->stats.connects++;
	err = net_conn_connect(&c->net, (const struct sockaddr *)&cli->addr, NULL);
	if (err < 0) {
		c->req = NULL;
		r->conn = NULL;
		conn_close(c, err);
		return err;
	}
	c->connect_deadline_ms = uv_now(cli->loop) + cli->cfg.connect_timeout_ms;
	conn_arm(c);
	return 0;
}

/* The newest connection that can take a request now, or NULL. */
static struct client_conn *conn_idle(struct http_client *cli)
{
	struct list_node *n;

	list_for_each(n, &cli->conns) {
		struct client_conn *c = list_entry(n, struct client_conn, link);

		if (c->state == CONN_IDLE && !c->net.closing && !c->req)
			return c;
	}
	return NULL;
}

/* Gives queued requests to idle connections, opening new ones up to the pool size. */
static void client_pump(struct http_client *cli)
{
	while (cli->queue_head) {
		struct client_conn *c = conn_idle(cli);

		if (c) {
			conn_send(c, queue_pop(cli));
			continue;
		}
		if (cli->nconns >= cli->cfg.pool_size)
			return;
		struct client_request *r = queue_pop(cli);
		int err = conn_open(cli, r);

		if (err < 0)
			req_finish(r, err, 0);
	}
}

static void client_timer_cb(uv_timer_t *t)
{
	struct http_client *cli = t->data;
	uint64_t now = uv_now(cli->loop), next = 0;
	struct client_request **pp, *r;

	cli->timer_due_ms = 0;
	/* Queued requests past their deadline. */
	for (pp = &cli->queue_head; (r = *pp);) {
		if (r->deadline_ms <= now) {
			*pp = r->next;
			req_finish(r, -ETIMEDOUT, 0);
			continue;
		}
		if (!next || r->deadline_ms < next)
			next = r->deadline_ms;
		pp = &r->next;
	}
	cli->queue_tail = NULL;
	for (r = cli->queue_head; r; r = r->next)
		cli->queue_tail = r;
	if (next)
		client_arm(cli, next);
}

int http_client_request(struct http_client *cli, enum http_method method, const char *path,
			const char *content_type, const uv_buf_t *bufs, unsigned nbufs,
			uint64_t timeout_ms, http_client_cb cb, void *arg)
{
	struct client_request *r;
	size_t plen = strlen(path);

	if (cli->freeing || !cb || plen == 0 || plen > HTTP_MAX_URL_BYTES || path[0] != '/')
		return -EINVAL;
	if (method != HTTP_METHOD_GET && method != HTTP_METHOD_POST && method != HTTP_METHOD_HEAD)
		return -EINVAL;
	for (size_t i = 0; i < plen; i++)
		if ((unsigned char)path[i] <= 0x20 || (unsigned char)path[i] >= 0x7f)
			return -EINVAL; /* would break the request line */
	if (!content_type)
		content_type = "application/octet-stream";
	if (strlen(content_type) >= CTYPE_MAX || strpbrk(content_type, "\r\n"))
		return -EINVAL;
	if ((r = cli->free_reqs)) {
		cli->free_reqs = r->next;
		cli->nfree--;
	} else if (!(r = malloc(sizeof(*r)))) {
		return -ENOMEM;
	}
	memset(r, 0, offsetof(struct client_request, inline_bufs));
	r->bufs = r->inline_bufs;
	if (nbufs > REQ_INLINE_BUFS) {
		r->bufs = malloc(nbufs * sizeof(*bufs));
		if (!r->bufs) {
			r->bufs = r->inline_bufs;
			req_release(cli, r);
			return -ENOMEM;
		}
	}
	for (unsigned i = 0; i < nbufs; i++) {
		r->bufs[i] = bufs[i];
		r->body_len += bufs[i].len;
	}
	r->nbufs = nbufs;
	r->cli = cli;
	r->method = method;
	r->cb = cb;
	r->arg = arg;
	r->deadline_ms = uv_now(cli->loop) + timeout_ms;
	memcpy(r->path, path, plen + 1);
	memcpy(r->ctype, content_type, strlen(content_type) + 1);

	struct client_conn *c = conn_idle(cli);

	if (c) {
		conn_send(c, r);
	} else if (cli->nconns < cli->cfg.pool_size) {
		int err = conn_open(cli, r);

		if (err < 0) {
			r->conn = NULL;
			req_release(cli, r);
			return err;
		}
	} else {
		queue_push(cli, r, false);
	}
	return 0;
}

/* ---- client ---- */

static int resolve(const struct config_url *u, struct sockaddr_storage *out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG }, *res;
	char port[8];

	snprintf(port, sizeof(port), "%u", u->port);
	if (getaddrinfo(u->host, port, &hints, &res) != 0 || !res)
		return -EHOSTUNREACH;
	memcpy(out, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

int http_client_new(struct http_client **out, uv_loop_t *loop, const struct config_url *url,
		    const struct http_client_config *cfg)
{
	struct http_client *cli;
	int err;

	*out = NULL;
	if (url->https)
		return -EPROTONOSUPPORT;
	cli = calloc(1, sizeof(*cli));
	if (!cli)
		return -ENOMEM;
	err = resolve(url, &cli->addr);
	if (err < 0) {
		free(cli);
		return err;
	}
	snprintf(cli->authority, sizeof(cli->authority), "%s%s%s:%u", url->host_is_ipv6 ? "[" : "",
		 url->host, url->host_is_ipv6 ? "]" : "", url->port);
	cli->loop = loop;
	list_init(&cli->conns);
	if (cfg)
		cli->cfg = *cfg;
	else
		http_client_config_default(&cli->cfg);
	if (cli->cfg.pool_size == 0)
		cli->cfg.pool_size = 1;
	cli->head_lim.max_target_bytes = 0; /* responses have none */
	cli->head_lim.max_header_bytes = cli->cfg.max_header_bytes;
	cli->head_lim.max_header_count = cli->cfg.max_header_count;
	llhttp_settings_init(&cli->settings);
	cli->settings.on_message_begin = on_message_begin;
	cli->settings.on_status = on_header_data;
	cli->settings.on_header_field = on_header_data;
	cli->settings.on_header_value = on_header_data;
	cli->settings.on_header_value_complete = on_header_value_complete;
	cli->settings.on_headers_complete = on_headers_complete;
	cli->settings.on_body = on_body;
	cli->settings.on_message_complete = on_message_complete;
	uv_timer_init(loop, &cli->timer);
	/* Requests in flight hold their connections' handles; the timer alone keeps no loop. */
	uv_unref((uv_handle_t *)&cli->timer);
	cli->timer.data = cli;
	cli->handles = 1;
	*out = cli;
	return 0;
}

static void client_timer_close_cb(uv_handle_t *h)
{
	struct http_client *cli = h->data;

	cli->handles--;
	client_maybe_free(cli);
}

size_t http_client_trim(struct http_client *cli)
{
	size_t freed = 0;

	struct list_node *n;

	list_for_each(n, &cli->conns) {
		struct client_conn *c = list_entry(n, struct client_conn, link);

		/* body_len 0 outside a body: no response points into the buffer. */
		if (c->body && !c->body_used && c->body_len == 0 && !c->in_body) {
			freed += c->body_cap;
			free(c->body);
			c->body = NULL;
			c->body_cap = 0;
		}
		c->body_used = false;
	}
	return freed;
}

void http_client_free(struct http_client *cli)
{
	struct client_request *r;

	if (!cli)
		return;
	cli->freeing = true;
	while ((r = queue_pop(cli)))
		req_finish(r, -ECANCELED, 0);
	while (!list_empty(&cli->conns))
		conn_close(list_first_entry(&cli->conns, struct client_conn, link), -ECANCELED);
	uv_close((uv_handle_t *)&cli->timer, client_timer_close_cb);
}
