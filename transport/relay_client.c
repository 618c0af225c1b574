/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The relay's client end (transport/relay_client.h, docs/PROTOCOL.md section 9). Requests
 * wait in one list: those not yet written to the relay (id 0) until it is ready or their
 * RELAY_WAIT_MS is over, the written ones until their RESPONSE comes.
 */
#include "transport/relay_client.h"
#include "core/limits.h"
#include "core/list.h"
#include "core/log.h"
#include "core/relay.h"
#include "net/conn.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A request held here; req->user points back to it. */
struct rreq {
	struct http_request *req;
	struct relay_client *rc;
	uint32_t id; /* non-zero once written to the relay */
	uint64_t wait_until; /* unwritten: when it gets 503 */
	struct list_node link; /* in rc->pending */
};

/* A write to the relay: message head, plus the request body it owns. */
struct relay_write {
	struct net_write w;
	uint8_t *body;
	uint8_t head[RELAY_HEAD_MAX_BYTES];
};

struct relay_client {
	uv_loop_t *loop;
	char *server_socket;
	struct net_conn conn; /* made again for each connection */
	bool conn_open; /* conn set up, its closed callback not run yet */
	bool ready; /* HELLO answered */
	bool down_logged;
	bool recycled; /* closed for idle_ms: the reconnect is routine */
	bool started;
	bool freeing;
	uint64_t active_ms; /* last request relayed or answer read */
	uint64_t idle_ms; /* FCGI_RELAY_IDLE_MS unless set */
	uint64_t backoff_ms;
	uint64_t next_connect_ms;
	uint8_t hello_out[RELAY_HEADER_BYTES + RELAY_HELLO_BYTES];
	struct net_write hello_w;
	uv_timer_t timer;
	struct list_node pending; /* struct rreq, newest first */
	uint32_t next_id;
	unsigned handles;
	struct relay_client_stats stats;
};

static void client_maybe_free(struct relay_client *rc)
{
	if (rc->freeing && rc->handles == 0) {
		free(rc->server_socket);
		free(rc);
	}
}

static void handle_close_cb(uv_handle_t *h)
{
	struct relay_client *rc = h->data;

	rc->handles--;
	client_maybe_free(rc);
}

static void conn_closed_cb(struct net_conn *n)
{
	struct relay_client *rc = n->owner;

	rc->conn_open = false;
	rc->handles--;
	client_maybe_free(rc);
}

/* Open and not closing: the relay can be written to and read from. */
static bool conn_usable(const struct relay_client *rc)
{
	return rc->conn_open && !rc->conn.closing;
}

/* ---- requests ---- */

/* Forgets q; its request is the caller's to answer (or was cancelled). */
static struct http_request *rreq_end(struct rreq *q)
{
	struct http_request *req = q->req;

	list_remove(&q->link);
	free(q);
	return req;
}

/* Answers q's request with an error here, without the server. */
static void rreq_fail(struct rreq *q, int status)
{
	struct relay_client *rc = q->rc;

	if (status == 503)
		rc->stats.unavailable++;
	http_response_send_error(rreq_end(q), status, false);
}

/* The held request written with id, or NULL. */
static struct rreq *pending_find(struct relay_client *rc, uint32_t id)
{
	struct list_node *n;

	list_for_each(n, &rc->pending) {
		struct rreq *q = list_entry(n, struct rreq, link);

		if (q->id == id)
			return q;
	}
	return NULL;
}

/* The first held request that matches: written ones, or waiting ones. */
static struct rreq *pending_first(struct relay_client *rc, bool written)
{
	struct list_node *n;

	list_for_each(n, &rc->pending) {
		struct rreq *q = list_entry(n, struct rreq, link);

		if ((q->id != 0) == written)
			return q;
	}
	return NULL;
}

/* ---- writing to the relay ---- */

static void relay_write_cb(struct net_write *w, int status)
{
	struct relay_write *o = (struct relay_write *)((char *)w - offsetof(struct relay_write, w));

	(void)status; /* a failed write shows up as a read error */
	free(o->body);
	free(o);
}

/* Writes head[0..len) and, owned by the write from now on, body. */
static int relay_send(struct relay_client *rc, struct relay_write *o, size_t len, uint8_t *body,
		      size_t body_len)
{
	uv_buf_t b[2] = { uv_buf_init((char *)o->head, (unsigned)len),
			  uv_buf_init((char *)body, (unsigned)body_len) };
	int err;

	o->body = body;
	err = net_conn_write(&rc->conn, &o->w, b, body_len ? 2 : 1, relay_write_cb);
	if (err < 0) {
		free(o->body);
		free(o);
	}
	return err;
}

static void relay_cancel(struct relay_client *rc, uint32_t id)
{
	struct relay_write *o;
	struct writer w;

	if (!rc->ready || !(o = malloc(sizeof(*o))))
		return;
	w = writer_make(o->head, sizeof(o->head));
	relay_write_cancel(&w, id);
	relay_send(rc, o, w.len, NULL, 0); /* a failed write shows up as a read error */
}

static uint32_t relay_new_id(struct relay_client *rc)
{
	for (;;) {
		uint32_t id = ++rc->next_id;

		if (id != 0 && !pending_find(rc, id))
			return id;
	}
}

static void relay_lost(struct relay_client *rc, const char *why, int err);

static void rreq_send(struct rreq *q)
{
	struct relay_client *rc = q->rc;
	struct http_request *req = q->req;
	struct relay_write *o = malloc(sizeof(*o));
	uint32_t id = relay_new_id(rc);
	struct writer w;
	uint8_t *body;
	size_t body_len;
	int err;

	if (!o) {
		rreq_fail(q, 503);
		return;
	}
	w = writer_make(o->head, sizeof(o->head));
	err = relay_write_request_head(
		&w, id,
		(struct span){ (const uint8_t *)req->method_name, strlen(req->method_name) },
		(struct span){ (const uint8_t *)req->url, req->url_len }, req->body_len);
	if (err < 0) {
		free(o);
		rreq_fail(q, 400); /* a method or target the relay cannot carry */
		return;
	}
	q->id = id;
	rc->stats.requests++;
	rc->active_ms = uv_now(rc->loop);
	/* From here the relay write owns the body; the server reads its socket at once. */
	body = http_request_take_body(req, &body_len);
	err = relay_send(rc, o, w.len, body, body_len);
	if (err < 0)
		relay_lost(rc, "write", err);
}

/* ---- the connection ---- */

static void relay_lost(struct relay_client *rc, const char *why, int err)
{
	uint64_t now = uv_now(rc->loop);
	struct rreq *q;

	if (!rc->down_logged && !rc->freeing)
		log_warnx("relay: %s %s: %s; retrying", why, rc->server_socket,
			  err ? strerror(-err) : "closed by httun server");
	rc->down_logged = true;
	rc->ready = false;
	if (rc->conn_open)
		net_conn_close(&rc->conn);
	/* Requests the server had are gone with its state: 503, and the client repeats them. */
	while ((q = pending_first(rc, true)))
		rreq_fail(q, 503);
	rc->next_connect_ms = now + rc->backoff_ms;
	rc->backoff_ms *= 2;
	if (rc->backoff_ms > RELAY_RECONNECT_MAX_MS)
		rc->backoff_ms = RELAY_RECONNECT_MAX_MS;
}

static void relay_hello(struct relay_client *rc, const struct relay_msg *m)
{
	uint16_t version = 0;
	struct rreq *q;

	if (m->type != RELAY_HELLO || relay_hello_parse(m->payload, &version) < 0 ||
	    version != RELAY_VERSION) {
		log_warnx_rl("relay: httun server at %s speaks another relay version (%u, want "
			     "%u): run the same httun version on both sides",
			     rc->server_socket, version, RELAY_VERSION);
		relay_lost(rc, "refusing", -EPROTO);
		return;
	}
	rc->ready = true;
	rc->down_logged = false;
	rc->backoff_ms = RELAY_RECONNECT_MIN_MS;
	rc->active_ms = uv_now(rc->loop);
	rc->stats.connects++;
	if (rc->recycled)
		log_debug("relay: connected to httun server at %s again", rc->server_socket);
	else
		log_info("relay: connected to httun server at %s", rc->server_socket);
	rc->recycled = false;
	while (rc->ready && (q = pending_first(rc, false)))
		rreq_send(q);
}

static void free_sent_cb(int status, void *arg)
{
	(void)status;
	free(arg);
}

/*
 * The server's answer to q. Its body lies in the read buffer, which is read into again:
 * the answer takes a copy, freed once written.
 */
static void rreq_answer(struct rreq *q, const struct relay_response *rs)
{
	char ctype[RELAY_CTYPE_MAX_BYTES + 1];
	uint8_t *data = NULL;

	if (rs->body.len && !(data = malloc(rs->body.len))) {
		rreq_fail(q, 503);
		return;
	}
	if (rs->body.len)
		memcpy(data, rs->body.p, rs->body.len);
	memcpy(ctype, rs->ctype.p, rs->ctype.len); /* relay_response_parse bounds it */
	ctype[rs->ctype.len] = '\0';
	http_response_send(rreq_end(q), rs->status, rs->ctype.len ? ctype : NULL, data,
			   rs->body.len, data ? free_sent_cb : NULL, data);
}

static void relay_message(struct relay_client *rc, const struct relay_msg *m)
{
	struct relay_response rs;
	struct rreq *q;

	if (!rc->ready) {
		relay_hello(rc, m);
		return;
	}
	if (m->type != RELAY_RESPONSE || relay_response_parse(m->payload, &rs) < 0) {
		relay_lost(rc, "protocol error from", -EPROTO);
		return;
	}
	rc->active_ms = uv_now(rc->loop);
	q = pending_find(rc, m->id);
	if (q && q->id) /* else cancelled here while the answer was on its way */
		rreq_answer(q, &rs);
}

static void relay_read_cb(struct net_conn *n, ssize_t nread, char *direct)
{
	struct relay_client *rc = n->owner;
	struct cursor cur;
	struct relay_msg m;
	size_t need = 0;
	int ret = 0;

	(void)direct;
	if (nread < 0) {
		relay_lost(rc, "lost", nread == UV_EOF ? 0 : -EIO);
		return;
	}
	cur = readbuf_cursor(&n->rb);
	while (conn_usable(rc) && (ret = relay_msg_next(&cur, &m, &need)) == 1)
		relay_message(rc, &m);
	if (!conn_usable(rc))
		return;
	if (ret < 0) {
		relay_lost(rc, "unframeable message from", ret);
		return;
	}
	readbuf_keep(&n->rb, cur);
	ret = readbuf_fit(&n->rb, need); /* need is bounded by relay_msg_next */
	if (ret < 0)
		relay_lost(rc, "out of memory reading", ret);
}

static void hello_cb(struct net_write *w, int status)
{
	(void)w;
	(void)status; /* a failed write shows up as a read error */
}

static void relay_connected_cb(struct net_conn *n, int status)
{
	struct relay_client *rc = n->owner;
	struct writer w = writer_make(rc->hello_out, sizeof(rc->hello_out));
	uv_buf_t b;

	if (status < 0) {
		relay_lost(rc, "cannot reach httun server at",
			   status == UV_ENOENT ? -ENOENT : status);
		return;
	}
	relay_write_hello(&w);
	b = uv_buf_init((char *)rc->hello_out, (unsigned)w.len);
	if (net_conn_send(&rc->conn, &rc->hello_w, &b, 1, hello_cb) < 0)
		relay_lost(rc, "cannot talk to", -EIO);
}

static const struct net_conn_events conn_events = {
	.read = relay_read_cb,
	.connected = relay_connected_cb,
	.closed = conn_closed_cb,
};

static const struct net_conn_config conn_net_config = {
	.kind = NET_PIPE,
	.rb_base = RELAY_READ_BUF_BYTES,
	.rb_max = RELAY_HEADER_BYTES + RELAY_MAX_PAYLOAD_BYTES,
	.rb_shrink_after = RELAY_SHRINK_AFTER_READS,
};

static void relay_connect(struct relay_client *rc)
{
	/* Out of memory: the next tick tries again. */
	if (net_conn_init(&rc->conn, rc->loop, &conn_net_config, &conn_events, rc) < 0)
		return;
	rc->conn_open = true;
	rc->handles++;
	net_conn_connect(&rc->conn, NULL, rc->server_socket);
}

/*
 * The relay has carried nothing for idle_ms: close it and connect again at once, before
 * the server's RELAY_IDLE_TIMEOUT_MS closes it under a request on its way. Nothing is in
 * flight, so nothing is lost; a request meanwhile waits for the HELLO.
 */
static void relay_recycle(struct relay_client *rc, uint64_t now)
{
	log_debug("relay: idle for %llu ms; reconnecting",
		  (unsigned long long)(now - rc->active_ms));
	rc->ready = false;
	rc->recycled = true;
	net_conn_close(&rc->conn);
	rc->next_connect_ms = now;
}

static void timer_cb(uv_timer_t *t)
{
	struct relay_client *rc = t->data;
	uint64_t now = uv_now(rc->loop);
	bool again = true;

	if (rc->ready && now - rc->active_ms >= rc->idle_ms && !pending_first(rc, true))
		relay_recycle(rc, now);
	if (!rc->conn_open && now >= rc->next_connect_ms)
		relay_connect(rc);
	/*
	 * Waiting requests whose time is up: 503. The walk starts again after each answer:
	 * answering may close the source's connection, which cancels its other requests.
	 */
	while (again) {
		struct list_node *n;

		again = false;
		list_for_each(n, &rc->pending) {
			struct rreq *q = list_entry(n, struct rreq, link);

			if (q->id == 0 && now >= q->wait_until) {
				rreq_fail(q, 503);
				again = true;
				break;
			}
		}
	}
}

/* ---- the handler ---- */

static void rreq_cancel_cb(struct http_request *req, void *arg)
{
	struct rreq *q = arg;
	struct relay_client *rc = q->rc;

	(void)req;
	if (q->id) {
		rc->stats.cancelled++;
		relay_cancel(rc, q->id);
	}
	rreq_end(q);
}

void relay_client_on_request(struct http_request *req, void *arg)
{
	struct relay_client *rc = arg;
	struct rreq *q;

	if (rc->freeing || !(q = calloc(1, sizeof(*q)))) {
		rc->stats.unavailable++;
		http_response_send_error(req, 503, false);
		return;
	}
	q->req = req;
	q->rc = rc;
	req->user = q;
	list_insert_head(&rc->pending, &q->link);
	http_request_set_cancel(req, rreq_cancel_cb, q);
	if (rc->ready)
		rreq_send(q);
	else
		q->wait_until = uv_now(rc->loop) + RELAY_WAIT_MS;
}

/* ---- life ---- */

struct relay_client *relay_client_new(uv_loop_t *loop, const char *server_socket)
{
	struct relay_client *rc = calloc(1, sizeof(*rc));

	if (!rc)
		return NULL;
	rc->loop = loop;
	list_init(&rc->pending);
	if (!(rc->server_socket = strdup(server_socket)))
		goto err;
	if (uv_timer_init(loop, &rc->timer) < 0)
		goto err_socket;
	rc->timer.data = rc;
	rc->handles++;
	rc->backoff_ms = RELAY_RECONNECT_MIN_MS;
	rc->idle_ms = FCGI_RELAY_IDLE_MS;
	return rc;

err_socket:
	free(rc->server_socket);
err:
	free(rc);
	return NULL;
}

void relay_client_set_idle_ms(struct relay_client *rc, uint64_t ms)
{
	rc->idle_ms = ms;
}

void relay_client_start(struct relay_client *rc)
{
	if (rc->started)
		return;
	rc->started = true;
	relay_connect(rc);
	uv_timer_start(&rc->timer, timer_cb, FCGI_TICK_MS, FCGI_TICK_MS);
}

const struct relay_client_stats *relay_client_stats(const struct relay_client *rc)
{
	return &rc->stats;
}

void relay_client_free(struct relay_client *rc)
{
	if (!rc)
		return;
	rc->freeing = true;
	/*
	 * Requests of a source still running: forgotten unanswered (see the header), and
	 * their cancel callbacks taken back, so that the source cannot call into freed memory.
	 */
	while (!list_empty(&rc->pending)) {
		struct rreq *q = list_first_entry(&rc->pending, struct rreq, link);

		http_request_set_cancel(q->req, NULL, NULL);
		rreq_end(q);
	}
	if (rc->conn_open)
		net_conn_close(&rc->conn);
	uv_close((uv_handle_t *)&rc->timer, handle_close_cb);
	client_maybe_free(rc);
}
