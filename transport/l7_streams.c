/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "transport/l7_streams.h"
#include "core/l7.h"
#include "core/limits.h"
#include "core/list.h"
#include "core/log.h"
#include "core/stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A stream named in a log line: forward, target host (up to 255 bytes), id. */
#define STREAM_WHERE_BYTES 512

/* Hash buckets of the stream table (a power of two; client ids are sequential). */
#define L7_BUCKETS 256

enum stream_state {
	ST_WAIT_SESSION, /* client: accepted, no session yet to send L7_OPEN on */
	ST_OPENING, /* client: L7_OPEN sent, waiting for the first L7_WINDOW */
	ST_RESOLVING, /* server: looking the host up */
	ST_CONNECTING, /* server: TCP connect to the checked address */
	ST_OPEN, /* data flows */
	ST_DEAD, /* out of the table; waits for its handle and lookup to finish */
};

struct fwd {
	uv_tcp_t tcp;
	struct l7_streams *l7;
	char bind[INET6_ADDRSTRLEN + 8]; /* for log lines */
	char host[CONFIG_HOST_MAX_BYTES + 1];
	uint16_t port;
};

struct l7_stream {
	struct l7_streams *l7;
	struct l7_stream *hnext; /* hash bucket */
	struct list_node link; /* in l7->streams while in the table, for the tick */
	uint32_t id;
	enum stream_state state;
	const struct fwd *fwd; /* client */
	uv_tcp_t tcp;
	bool handle_live; /* tcp initialised and its close callback not yet run */
	bool gai_pending;
	bool reading;
	bool reserved; /* an L7_DATA reservation from alloc_cb waits for read_cb */
	bool eof; /* the local socket's read side ended: FIN sent */
	bool shutting; /* the peer's FIN is being passed on with a shutdown */
	bool shut_done;
	bool failed; /* a write could not be queued: reset after the current record */
	bool fin_wait; /* the peer's FIN waits for the pending bytes to be written */
	unsigned writes; /* uv_write requests in flight: 0 or 1 */
	/*
	 * Received bytes for the local socket: at most one write in flight (wbuf); what
	 * arrives meanwhile is appended to pend and written when that write completes. One
	 * request per stream, not per record: 1-byte records cost a byte, not a request.
	 * Both hold only bytes inside the announced window.
	 */
	uv_write_t wreq;
	uint8_t *wbuf, *pend;
	size_t wlen, pend_len, pend_cap, wbuf_cap;
	uint64_t since_ms; /* when the current state began, for timeouts */
	uv_getaddrinfo_t gai;
	uv_connect_t conn;
	uv_shutdown_t shut;
	struct stream_rx rx;
	struct stream_tx tx;
	struct sockaddr_storage addr; /* server: the address checked and connected to */
	uint16_t port;
	char host[L7_HOST_MAX_BYTES + 1];
};

struct l7_streams {
	uv_loop_t *loop;
	struct tunnel_endpoint *ep;
	char *name;
	bool server;
	bool freeing;
	const struct policy *policy;
	struct l7_budget *budget;
	uint64_t window_bytes;
	uint64_t gap_timeout_ms;
	struct l7_stream *buckets[L7_BUCKETS];
	struct list_node streams; /* newest first */
	unsigned nstreams; /* in the table */
	unsigned nalive; /* allocated, table or not */
	uint32_t next_id;
	uv_timer_t tick;
	struct fwd *fwds;
	size_t nfwds;
	unsigned open_handles; /* tick and listeners */
	uint64_t bad_records;
	uint64_t dropped_answers; /* resets to unknown ids / refused opens, queue full */
};

static void stream_kill(struct l7_stream *stream, uint8_t reason, bool rst);
static void stream_read_start(struct l7_stream *stream);

/* ---- table ---- */

static struct l7_stream *stream_find(struct l7_streams *l7, uint32_t id)
{
	struct l7_stream *stream = l7->buckets[id & (L7_BUCKETS - 1)];

	while (stream && stream->id != id)
		stream = stream->hnext;
	return stream;
}

static struct l7_stream *stream_new(struct l7_streams *l7, uint32_t id)
{
	struct l7_stream *stream = calloc(1, sizeof(*stream));
	struct l7_stream **b = &l7->buckets[id & (L7_BUCKETS - 1)];

	if (!stream)
		return NULL;
	stream->l7 = l7;
	stream->id = id;
	stream->since_ms = clock_now_ms();
	stream_rx_init(&stream->rx, l7->window_bytes);
	stream_tx_init(&stream->tx);
	stream->hnext = *b;
	*b = stream;
	list_insert_head(&l7->streams, &stream->link);
	l7->nstreams++;
	l7->nalive++;
	if (l7->budget)
		l7->budget->used++;
	return stream;
}

static void stream_unlink(struct l7_stream *stream)
{
	struct l7_streams *l7 = stream->l7;
	struct l7_stream **pp = &l7->buckets[stream->id & (L7_BUCKETS - 1)];

	while (*pp != stream)
		pp = &(*pp)->hnext;
	*pp = stream->hnext;
	list_remove(&stream->link);
	l7->nstreams--;
}

static void ls_maybe_destroy(struct l7_streams *l7)
{
	if (!l7->freeing || l7->open_handles || l7->nalive)
		return;
	free(l7->fwds);
	free(l7->name);
	free(l7);
}

static void stream_maybe_free(struct l7_stream *stream)
{
	struct l7_streams *l7 = stream->l7;

	if (stream->state != ST_DEAD || stream->handle_live || stream->gai_pending ||
	    stream->writes)
		return;
	stream_rx_close(&stream->rx);
	free(stream->wbuf);
	free(stream->pend);
	free(stream);
	l7->nalive--;
	if (l7->budget)
		l7->budget->used--;
	ls_maybe_destroy(l7);
}

/* ---- records out ---- */

static struct batch *ctl_batch(struct l7_streams *l7, size_t body)
{
	struct batch *b;

	if (l7->freeing || !l7->ep)
		return NULL;
	b = tunnel_endpoint_batch(l7->ep, body, true);
	if (!b)
		log_warnx_rl("%s: L7: control record dropped (send queue over its hard cap, "
			     "or out of memory)",
			     l7->name);
	return b;
}

static void send_reset(struct l7_streams *l7, uint32_t id, uint8_t reason)
{
	struct batch *b = ctl_batch(l7, L7_RESET_BYTES);

	if (b && l7_add_reset(b, id, reason) == 0)
		l7->ep->dirty = true;
}

/*
 * A reset that answers a record of no stream (an unknown id, a refused open): nothing
 * here waits for it, so it is dropped (and counted) when the send queue is full rather
 * than let a peer that floods such records and never polls grow the queue.
 */
static void send_answer_reset(struct l7_streams *l7, uint32_t id, uint8_t reason)
{
	struct batch *b;

	if (l7->freeing || !l7->ep)
		return;
	b = tunnel_endpoint_batch(l7->ep, L7_RESET_BYTES, false);
	if (!b || l7_add_reset(b, id, reason) < 0) {
		l7->dropped_answers++;
		return;
	}
	l7->ep->dirty = true;
}

static void send_window(struct l7_stream *stream)
{
	struct batch *b = ctl_batch(stream->l7, L7_WINDOW_BYTES);

	if (b && l7_add_window(b, stream->id, stream_rx_announce(&stream->rx)) == 0)
		stream->l7->ep->dirty = true;
}

/*
 * Client: L7_OPEN, then this side's receive window, in the same frame (PROTOCOL.md "L7
 * streams"): in separate frames the window could arrive first, for a stream the server
 * does not know yet, and the server would never learn how far it may send.
 */
static void send_open(struct l7_stream *stream)
{
	size_t host_len = strlen(stream->fwd->host);
	struct batch *b = ctl_batch(stream->l7, L7_OPEN_FIXED_BYTES + host_len +
							RECORD_HEADER_BYTES + L7_WINDOW_BYTES);

	if (!b || l7_add_open(b, stream->id, stream->fwd->port, stream->fwd->host, host_len) < 0) {
		stream_kill(stream, 0, true);
		return;
	}
	stream->l7->ep->dirty = true;
	stream->state = ST_OPENING;
	/* Cannot fail with the room asked for; if it did, the server must forget the stream. */
	if (l7_add_window(b, stream->id, stream_rx_announce(&stream->rx)) < 0)
		stream_kill(stream, L7_RESET_RESOURCES, true);
}

/* An empty L7_DATA with FIN: the local socket's read side ended. */
static void send_fin(struct l7_stream *stream)
{
	struct batch *b = ctl_batch(stream->l7, L7_DATA_FIXED_BYTES);

	if (b && l7_add_data(b, stream->id, L7_DATA_FIN, stream->tx.next, NULL, 0) == 0)
		stream->l7->ep->dirty = true;
	stream_tx_sent(&stream->tx, 0, true);
}

/* ---- stream end ---- */

static void stream_close_cb(uv_handle_t *h)
{
	struct l7_stream *stream = h->data;

	stream->handle_live = false;
	stream_maybe_free(stream);
}

/*
 * End the stream: out of the table at once (later records for it are ignored), its
 * socket closed (rst: with a TCP reset, the local application sees the stream fail),
 * reason nonzero: an L7_RESET tells the peer.
 */
static void stream_kill(struct l7_stream *stream, uint8_t reason, bool rst)
{
	if (stream->state == ST_DEAD)
		return;
	if (reason)
		send_reset(stream->l7, stream->id, reason);
	if (stream->reserved) {
		batch_cancel(&stream->l7->ep->send.batch);
		stream->reserved = false;
	}
	stream_unlink(stream);
	stream->state = ST_DEAD;
	if (stream->handle_live && !uv_is_closing((uv_handle_t *)&stream->tcp)) {
		if (stream->reading)
			uv_read_stop((uv_stream_t *)&stream->tcp);
		stream->reading = false;
		/* A reset is not allowed while a shutdown is pending: close plainly then. */
		if (!rst || stream->shutting ||
		    uv_tcp_close_reset(&stream->tcp, stream_close_cb) < 0)
			uv_close((uv_handle_t *)&stream->tcp, stream_close_cb);
	}
	if (stream->gai_pending)
		uv_cancel((uv_req_t *)&stream->gai);
	stream_maybe_free(stream);
}

/* Both directions ended and every byte written: a clean close. */
static void stream_maybe_done(struct l7_stream *stream)
{
	if (stream->state == ST_OPEN && stream->tx.fin_sent && stream->shut_done &&
	    !stream->writes && !stream->pend_len)
		stream_kill(stream, 0, false);
}

static const char *stream_where(const struct l7_stream *stream, char *buf, size_t len)
{
	if (stream->fwd)
		snprintf(buf, len, "forward %s -> %s:%u, stream %u", stream->fwd->bind,
			 stream->fwd->host, stream->fwd->port, stream->id);
	else
		snprintf(buf, len, "stream %u to %s:%u", stream->id, stream->host, stream->port);
	return buf;
}

/* ---- local socket to the tunnel ---- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct l7_stream *stream = h->data;
	uint64_t room = stream_tx_room(&stream->tx);
	struct batch *b;
	size_t n;
	uint8_t *p;

	(void)suggested;
	*buf = uv_buf_init(NULL, 0);
	if (stream->state != ST_OPEN || !room)
		return;
	if (room > L7_READ_MAX_BYTES)
		room = L7_READ_MAX_BYTES;
	b = tunnel_endpoint_batch(
		stream->l7->ep,
		L7_DATA_FIXED_BYTES + (room < L7_READ_MIN_BYTES ? room : L7_READ_MIN_BYTES), false);
	if (!b)
		return;
	n = l7_data_room(b);
	if (n > room)
		n = (size_t)room;
	p = l7_data_reserve(b, stream->id, stream->tx.next, n);
	if (!p)
		return;
	stream->reserved = true;
	*buf = uv_buf_init((char *)p, (unsigned)n);
}

static void read_stop(struct l7_stream *stream)
{
	if (stream->reading)
		uv_read_stop((uv_stream_t *)&stream->tcp);
	stream->reading = false;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct l7_stream *stream = s->data;
	struct l7_streams *l7 = stream->l7;
	struct batch *b = &l7->ep->send.batch;
	bool reserved = stream->reserved;
	char where[STREAM_WHERE_BYTES];

	(void)buf;
	stream->reserved = false;
	if (nread > 0) {
		if (!reserved || l7_data_commit(b, 0, (size_t)nread) < 0) {
			/* Bytes read and not sent: the stream has a hole now. Cannot happen. */
			stream_kill(stream, L7_RESET_PROTOCOL, true);
			return;
		}
		stream_tx_sent(&stream->tx, (uint64_t)nread, false);
		l7->ep->dirty = true;
		if (!stream_tx_room(&stream->tx))
			read_stop(stream);
		return;
	}
	if (nread == UV_EOF) {
		read_stop(stream);
		stream->eof = true;
		if (reserved && l7_data_commit(b, L7_DATA_FIN, 0) == 0) {
			stream_tx_sent(&stream->tx, 0, true);
			l7->ep->dirty = true;
		} else {
			send_fin(stream);
		}
		stream_maybe_done(stream);
		return;
	}
	if (reserved)
		batch_cancel(b);
	if (nread == 0)
		return;
	if (nread == UV_ENOBUFS) {
		/* No window or no queue room: a window record or l7_resume restarts it. */
		read_stop(stream);
		return;
	}
	log_debug("%s: %s: %s", l7->name, stream_where(stream, where, sizeof(where)),
		  uv_strerror((int)nread));
	stream_kill(stream, L7_RESET_CLOSED, true);
}

static void stream_read_start(struct l7_stream *stream)
{
	if (stream->state != ST_OPEN || stream->reading || stream->eof ||
	    !stream_tx_room(&stream->tx))
		return;
	if (frameq_full(&stream->l7->ep->send)) {
		stream->l7->ep->paused = true;
		return;
	}
	if (uv_read_start((uv_stream_t *)&stream->tcp, alloc_cb, read_cb) == 0)
		stream->reading = true;
}

static void l7_resume(void *ctx)
{
	struct l7_streams *l7 = ctx;
	struct list_node *n, *next;

	list_for_each_safe(n, next, &l7->streams)
		stream_read_start(list_entry(n, struct l7_stream, link));
}

/* ---- tunnel to the local socket ---- */

static void write_cb(uv_write_t *req, int status);
static void stream_shutdown(struct l7_stream *stream);

/* Write what is pending, if no write is in flight: swap the buffers, one uv_write. */
static void stream_flush(struct l7_stream *stream)
{
	uint8_t *tmp;
	size_t cap;
	uv_buf_t buf;

	if (stream->writes || !stream->pend_len || stream->state == ST_DEAD)
		return;
	tmp = stream->wbuf;
	cap = stream->wbuf_cap;
	stream->wbuf = stream->pend;
	stream->wbuf_cap = stream->pend_cap;
	stream->wlen = stream->pend_len;
	stream->pend = tmp;
	stream->pend_cap = cap;
	stream->pend_len = 0;
	stream->wreq.data = stream;
	buf = uv_buf_init((char *)stream->wbuf, (unsigned)stream->wlen);
	if (uv_write(&stream->wreq, (uv_stream_t *)&stream->tcp, &buf, 1, write_cb) < 0) {
		stream->failed = true;
		return;
	}
	stream->writes++;
}

static void write_cb(uv_write_t *req, int status)
{
	struct l7_stream *stream = req->data;
	size_t len = stream->wlen;

	stream->writes--;
	stream->wlen = 0;
	if (stream->state == ST_DEAD) {
		stream_maybe_free(stream);
		return;
	}
	if (status < 0) {
		stream_kill(stream, L7_RESET_CLOSED, true);
		return;
	}
	if (stream_rx_consume(&stream->rx, len))
		send_window(stream);
	stream_flush(stream);
	if (stream->failed) {
		stream_kill(stream, L7_RESET_RESOURCES, true);
		return;
	}
	if (stream->fin_wait && !stream->pend_len) {
		stream->fin_wait = false;
		stream_shutdown(stream);
		return;
	}
	stream_maybe_done(stream);
}

static void deliver_cb(void *ctx, const uint8_t *data, size_t len)
{
	struct l7_stream *stream = ctx;

	if (stream->failed)
		return;
	if (stream->pend_len + len > stream->pend_cap) {
		size_t cap = stream->pend_cap ? stream->pend_cap : L7_READ_MIN_BYTES;
		uint8_t *p;

		while (cap < stream->pend_len + len)
			cap *= 2;
		/* The window bounds what is pending: no need to round past it. */
		if (cap > stream->l7->window_bytes &&
		    stream->l7->window_bytes >= stream->pend_len + len)
			cap = (size_t)stream->l7->window_bytes;
		p = realloc(stream->pend, cap);
		if (!p) {
			stream->failed = true;
			return;
		}
		stream->pend = p;
		stream->pend_cap = cap;
	}
	memcpy(stream->pend + stream->pend_len, data, len);
	stream->pend_len += len;
	stream_flush(stream);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
	struct l7_stream *stream = req->data;

	stream->shutting = false;
	if (stream->state == ST_DEAD) {
		stream_maybe_free(stream);
		return;
	}
	if (status < 0) {
		stream_kill(stream, L7_RESET_CLOSED, true);
		return;
	}
	stream->shut_done = true;
	stream_maybe_done(stream);
}

/* Half-close the local socket; libuv runs it after the write in flight. */
static void stream_shutdown(struct l7_stream *stream)
{
	stream->shut.data = stream;
	if (uv_shutdown(&stream->shut, (uv_stream_t *)&stream->tcp, shutdown_cb) < 0) {
		stream_kill(stream, L7_RESET_CLOSED, true);
		return;
	}
	stream->shutting = true;
}

/* The peer's FIN, after every byte before it: half-close once those are written. */
static void stream_peer_fin(struct l7_stream *stream)
{
	if (stream->pend_len)
		stream->fin_wait = true;
	else
		stream_shutdown(stream);
}

static void on_data(struct l7_streams *l7, const struct l7_data *d)
{
	struct l7_stream *stream = stream_find(l7, d->stream);
	bool fin_now;
	char where[STREAM_WHERE_BYTES];
	int err;

	if (!stream) {
		/* Late data of a stream that ended, or of a server that restarted: say so. */
		if (l7->server)
			send_answer_reset(l7, d->stream, L7_RESET_PROTOCOL);
		return;
	}
	/* The client sends data only after the server's first window (= connected). */
	if (l7->server && stream->state != ST_OPEN) {
		stream_kill(stream, L7_RESET_PROTOCOL, true);
		return;
	}
	err = stream_rx_data(&stream->rx, d->offset, d->data.p, d->data.len, d->flags & L7_DATA_FIN,
			     clock_now_ms(), deliver_cb, stream, &fin_now);
	if (err || stream->failed) {
		log_warnx_rl("%s: %s: %s; resetting it", l7->name,
			     stream_where(stream, where, sizeof(where)),
			     err == -EPROTO ? "data beyond the window or the end (protocol error)"
			     : err == -ENOBUFS ? "too many out-of-order pieces (L7_MAX_SEGMENTS)"
					       : "out of memory");
		stream_kill(stream, err == -EPROTO ? L7_RESET_PROTOCOL : L7_RESET_RESOURCES, true);
		return;
	}
	if (fin_now)
		stream_peer_fin(stream);
}

static void on_window(struct l7_streams *l7, const struct l7_window *w)
{
	struct l7_stream *stream = stream_find(l7, w->stream);
	char where[STREAM_WHERE_BYTES];

	if (!stream)
		return;
	stream_tx_window(&stream->tx, w->max_offset);
	if (!l7->server && stream->state == ST_OPENING) {
		stream->state = ST_OPEN;
		stream->since_ms = clock_now_ms();
		log_debug("%s: %s: connected", l7->name,
			  stream_where(stream, where, sizeof(where)));
	}
	stream_read_start(stream);
}

static void on_reset(struct l7_streams *l7, const struct l7_reset *r)
{
	struct l7_stream *stream = stream_find(l7, r->stream);
	char where[STREAM_WHERE_BYTES];

	if (!stream)
		return;
	if (l7->server)
		log_debug("%s: %s: reset by the client: %s", l7->name,
			  stream_where(stream, where, sizeof(where)),
			  l7_reset_reason_name(r->reason));
	else
		log_warnx_rl("%s: %s: reset by the server: %s", l7->name,
			     stream_where(stream, where, sizeof(where)),
			     l7_reset_reason_name(r->reason));
	stream_kill(stream, 0, true);
}

/* ---- server: open, resolve, check, connect ---- */

static uint8_t reason_of(int uverr)
{
	switch (uverr) {
	case UV_ECONNREFUSED:
		return L7_RESET_REFUSED;
	case UV_ETIMEDOUT:
		return L7_RESET_TIMEOUT;
	case UV_ENOMEM:
	case UV_EMFILE:
	case UV_ENFILE:
	case UV_ENOBUFS:
		return L7_RESET_RESOURCES;
	default:
		return L7_RESET_UNREACHABLE;
	}
}

static const char *addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void *a = ss->ss_family == AF_INET6
				? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
				: (const void *)&((const struct sockaddr_in *)ss)->sin_addr;

	if (!inet_ntop(ss->ss_family, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

/*
 * Backstop for the own-address check: a connection whose local address equals its peer's
 * address went to this host itself (an address added after the server read its own, or
 * one it could not know). Checked again as an own address: allowed only if a rule names
 * that single address (or the range that protects it, loopback). A socket without a
 * peer any more (reset at once) carries nothing and fails on its own.
 */
static bool stream_reached_self(struct l7_stream *stream)
{
	struct sockaddr_storage local, peer;
	int llen = sizeof(local), plen = sizeof(peer);
	struct policy p = *stream->l7->policy;
	struct cidr lc, pc;

	if (uv_tcp_getsockname(&stream->tcp, (struct sockaddr *)&local, &llen) < 0 ||
	    uv_tcp_getpeername(&stream->tcp, (struct sockaddr *)&peer, &plen) < 0 ||
	    cidr_from_sockaddr((const struct sockaddr *)&local, &lc) < 0 ||
	    cidr_from_sockaddr((const struct sockaddr *)&peer, &pc) < 0)
		return false;
	if (!cidr_equal(&lc, &pc))
		return false;
	p.own = &pc;
	p.n_own = 1;
	return policy_check(&p, (const struct sockaddr *)&peer, stream->port) != POLICY_ALLOW;
}

static void connect_cb(uv_connect_t *req, int status)
{
	struct l7_stream *stream = req->data;
	struct l7_streams *l7 = stream->l7;
	char where[STREAM_WHERE_BYTES], a[INET6_ADDRSTRLEN];

	if (stream->state == ST_DEAD)
		return; /* closed meanwhile; the close callback frees it */
	if (status < 0) {
		log_warnx_rl("%s: %s (%s): connect: %s", l7->name,
			     stream_where(stream, where, sizeof(where)),
			     addr_str(&stream->addr, a, sizeof(a)), uv_strerror(status));
		stream_kill(stream, reason_of(status), true);
		return;
	}
	if (l7->server && stream_reached_self(stream)) {
		log_warnx_rl("%s: %s (%s): denied: the connection reached this host itself "
			     "(an own address the policy did not know)",
			     l7->name, stream_where(stream, where, sizeof(where)),
			     addr_str(&stream->addr, a, sizeof(a)));
		stream_kill(stream, L7_RESET_DENIED, true);
		return;
	}
	uv_tcp_nodelay(&stream->tcp, 1);
	stream->state = ST_OPEN;
	stream->since_ms = clock_now_ms();
	log_debug("%s: %s (%s): connected", l7->name, stream_where(stream, where, sizeof(where)),
		  addr_str(&stream->addr, a, sizeof(a)));
	send_window(stream); /* the first window: connected */
	stream_read_start(stream);
}

/*
 * Check every address of the target against the policy; connect to the first allowed
 * one, the very sockaddr that was checked (no second lookup that could answer
 * differently).
 */
static void stream_check_connect(struct l7_stream *stream, const struct sockaddr *const *addrs,
				 size_t n)
{
	struct l7_streams *l7 = stream->l7;
	enum policy_verdict deny = POLICY_DENY_NO_RULE;
	const struct sockaddr *chosen = NULL;
	char where[STREAM_WHERE_BYTES], a[INET6_ADDRSTRLEN] = "";
	int err;

	for (size_t i = 0; i < n; i++) {
		enum policy_verdict v = policy_check(l7->policy, addrs[i], stream->port);

		if (v == POLICY_ALLOW && !chosen) {
			chosen = addrs[i];
		} else if (v != POLICY_ALLOW && deny == POLICY_DENY_NO_RULE) {
			deny = v;
			memcpy(&stream->addr, addrs[i],
			       addrs[i]->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							       : sizeof(struct sockaddr_in));
			addr_str(&stream->addr, a, sizeof(a));
		}
	}
	if (!chosen) {
		log_warnx_rl("%s: %s: denied (%s%s%s)", l7->name,
			     stream_where(stream, where, sizeof(where)), a, a[0] ? ": " : "",
			     policy_verdict_str(deny));
		stream_kill(stream, L7_RESET_DENIED, false);
		return;
	}
	memset(&stream->addr, 0, sizeof(stream->addr));
	memcpy(&stream->addr, chosen,
	       chosen->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					     : sizeof(struct sockaddr_in));
	if (stream->addr.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&stream->addr)->sin6_port = htons(stream->port);
	else
		((struct sockaddr_in *)&stream->addr)->sin_port = htons(stream->port);
	uv_tcp_init(l7->loop, &stream->tcp);
	stream->tcp.data = stream;
	stream->handle_live = true;
	stream->conn.data = stream;
	stream->state = ST_CONNECTING;
	stream->since_ms = clock_now_ms();
	err = uv_tcp_connect(&stream->conn, &stream->tcp, (const struct sockaddr *)&stream->addr,
			     connect_cb);
	if (err < 0) {
		log_warnx_rl("%s: %s (%s): connect: %s", l7->name,
			     stream_where(stream, where, sizeof(where)),
			     addr_str(&stream->addr, a, sizeof(a)), uv_strerror(err));
		stream_kill(stream, reason_of(err), true);
	}
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct l7_stream *stream = req->data;
	const struct sockaddr *addrs[L7_MAX_TARGET_ADDRESSES];
	char where[STREAM_WHERE_BYTES];
	size_t n = 0;

	stream->gai_pending = false;
	if (stream->state == ST_DEAD) {
		uv_freeaddrinfo(res);
		stream_maybe_free(stream);
		return;
	}
	if (status < 0) {
		log_warnx_rl("%s: %s: name lookup: %s", stream->l7->name,
			     stream_where(stream, where, sizeof(where)), uv_strerror(status));
		stream_kill(stream, status == UV_EAI_MEMORY ? L7_RESET_RESOURCES : L7_RESET_NO_NAME,
			    false);
		return;
	}
	for (struct addrinfo *ai = res; ai && n < L7_MAX_TARGET_ADDRESSES; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
			addrs[n++] = ai->ai_addr;
	}
	if (n)
		stream_check_connect(stream, addrs, n);
	else
		stream_kill(stream, L7_RESET_NO_NAME, false);
	uv_freeaddrinfo(res);
}

static void on_open(struct l7_streams *l7, const struct l7_open *o)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_protocol = IPPROTO_TCP };
	struct sockaddr_storage lit;
	const struct sockaddr *one = (const struct sockaddr *)&lit;
	char where[STREAM_WHERE_BYTES], port[8];
	struct l7_stream *stream;
	int err;

	if (!l7->server) {
		l7->bad_records++;
		return;
	}
	stream = stream_find(l7, o->stream);
	if (stream) {
		/*
		 * Ids are never reused within a client run: a broken peer, or a restarted client
		 * whose random ids met an old stream's. Neither stream can be trusted: end both.
		 */
		log_warnx_rl("%s: L7 stream id %u opened twice; resetting it", l7->name, o->stream);
		stream_kill(stream, L7_RESET_PROTOCOL, true);
		return;
	}
	if (!l7->policy || !l7->policy->n_rules) {
		log_warnx_rl("%s: L7 stream to %s:%u refused: no l7-allow rule on this channel",
			     l7->name, o->host, o->port);
		send_answer_reset(l7, o->stream, L7_RESET_DENIED);
		return;
	}
	/* nalive: streams that ended but still wait for a lookup or a close count too. */
	if (l7->nalive >= L7_MAX_STREAMS) {
		log_warnx_rl("%s: L7 stream to %s:%u refused: %u streams open and %u still "
			     "closing (L7_MAX_STREAMS %d)",
			     l7->name, o->host, o->port, l7->nstreams, l7->nalive - l7->nstreams,
			     L7_MAX_STREAMS);
		send_answer_reset(l7, o->stream, L7_RESET_RESOURCES);
		return;
	}
	/* Every channel's clients together must leave the HTTP server descriptors to accept. */
	if (l7->budget && l7->budget->used >= l7->budget->max) {
		l7->budget->refused++;
		log_warnx_rl("%s: L7 stream to %s:%u refused: %u streams open or closing on all "
			     "channels, the most the file descriptor limit allows (docs/L7.md "
			     "\"Limits\")",
			     l7->name, o->host, o->port, l7->budget->used);
		send_answer_reset(l7, o->stream, L7_RESET_RESOURCES);
		return;
	}
	stream = stream_new(l7, o->stream);
	if (!stream) {
		log_warnx_rl("%s: L7 stream to %s:%u refused: out of memory", l7->name, o->host,
			     o->port);
		send_answer_reset(l7, o->stream, L7_RESET_RESOURCES);
		return;
	}
	stream->port = o->port;
	memcpy(stream->host, o->host, (size_t)o->host_len + 1);
	stream->state = ST_RESOLVING;
	memset(&lit, 0, sizeof(lit));
	/* An IP literal is the address itself: no lookup. */
	if (uv_ip4_addr(stream->host, stream->port, (struct sockaddr_in *)&lit) == 0 ||
	    uv_ip6_addr(stream->host, stream->port, (struct sockaddr_in6 *)&lit) == 0) {
		stream_check_connect(stream, &one, 1);
		return;
	}
	snprintf(port, sizeof(port), "%u", stream->port);
	hints.ai_flags = AI_NUMERICSERV;
	stream->gai.data = stream;
	err = uv_getaddrinfo(l7->loop, &stream->gai, gai_cb, stream->host, port, &hints);
	if (err < 0) {
		log_warnx_rl("%s: %s: name lookup: %s", l7->name,
			     stream_where(stream, where, sizeof(where)), uv_strerror(err));
		stream_kill(stream, L7_RESET_RESOURCES, false);
		return;
	}
	stream->gai_pending = true;
}

/* ---- records in ---- */

static int l7_record(void *ctx, uint8_t type, struct span body)
{
	struct l7_streams *l7 = ctx;
	union {
		struct l7_open o;
		struct l7_data d;
		struct l7_window w;
		struct l7_reset r;
	} u;
	int err = -EPROTO;

	if (l7->freeing)
		return 0;
	switch (type) {
	case REC_L7_OPEN:
		err = l7_open_decode(body, &u.o);
		if (!err)
			on_open(l7, &u.o);
		break;
	case REC_L7_DATA:
		err = l7_data_decode(body, &u.d);
		if (!err)
			on_data(l7, &u.d);
		break;
	case REC_L7_WINDOW:
		err = l7_window_decode(body, &u.w);
		if (!err)
			on_window(l7, &u.w);
		break;
	case REC_L7_RESET:
		err = l7_reset_decode(body, &u.r);
		if (!err)
			on_reset(l7, &u.r);
		break;
	default:
		break;
	}
	if (err) {
		l7->bad_records++;
		log_warnx_rl("%s: malformed L7 record (type 0x%02x): rest of the frame dropped",
			     l7->name, type);
		return -EPROTO;
	}
	return 0;
}

/* ---- client: accept ---- */

static void connection_cb(uv_stream_t *server, int status)
{
	struct fwd *f = server->data;
	struct l7_streams *l7 = f->l7;
	const char *why;
	struct l7_stream *stream;
	uv_tcp_t *tmp;

	if (status < 0) {
		log_warnx_rl("%s: forward %s: accept: %s", l7->name, f->bind, uv_strerror(status));
		return;
	}
	why = l7->nalive >= L7_MAX_STREAMS ? "L7_MAX_STREAMS streams open or closing"
	      : l7->next_id == UINT32_MAX  ? "stream ids used up (restart the client)"
	      : !l7->ep			   ? "no tunnel attached"
					   : NULL;
	if (why)
		goto refuse;
	stream = stream_new(l7, ++l7->next_id);
	why = "out of memory";
	if (!stream)
		goto refuse;
	stream->fwd = f;
	stream->port = f->port;
	snprintf(stream->host, sizeof(stream->host), "%s", f->host);
	uv_tcp_init(l7->loop, &stream->tcp);
	stream->tcp.data = stream;
	stream->handle_live = true;
	if (uv_accept(server, (uv_stream_t *)&stream->tcp) < 0) {
		stream_kill(stream, 0, false);
		return;
	}
	uv_tcp_nodelay(&stream->tcp, 1);
	stream->state = ST_WAIT_SESSION;
	if (peer_has_session(l7->ep->peer))
		send_open(stream);
	return;
refuse:
	/* Take the connection off the backlog and reset it: no stream for it. */
	log_warnx_rl("%s: forward %s: connection refused: %s (%u streams open)", l7->name, f->bind,
		     why, l7->nstreams);
	tmp = malloc(sizeof(*tmp));
	if (!tmp)
		return;
	uv_tcp_init(l7->loop, tmp);
	if (uv_accept(server, (uv_stream_t *)tmp) < 0 ||
	    uv_tcp_close_reset(tmp, (uv_close_cb)free) < 0)
		uv_close((uv_handle_t *)tmp, (uv_close_cb)free);
}

/* ---- housekeeping ---- */

static void tick_cb(uv_timer_t *t)
{
	struct l7_streams *l7 = t->data;
	uint64_t now = clock_now_ms();
	char where[STREAM_WHERE_BYTES];
	struct list_node *n, *next;

	list_for_each_safe(n, next, &l7->streams) {
		struct l7_stream *stream = list_entry(n, struct l7_stream, link);
		uint64_t age = now - stream->since_ms;

		if (stream->state == ST_WAIT_SESSION && l7->ep && peer_has_session(l7->ep->peer)) {
			send_open(stream);
		} else if ((stream->state == ST_WAIT_SESSION || stream->state == ST_OPENING) &&
			   age >= L7_OPEN_TIMEOUT_MS) {
			log_warnx_rl("%s: %s: no answer from the server in %d s; closing", l7->name,
				     stream_where(stream, where, sizeof(where)),
				     L7_OPEN_TIMEOUT_MS / 1000);
			stream_kill(stream, stream->state == ST_OPENING ? L7_RESET_TIMEOUT : 0,
				    true);
		} else if ((stream->state == ST_RESOLVING || stream->state == ST_CONNECTING) &&
			   age >= L7_CONNECT_TIMEOUT_MS) {
			log_warnx_rl("%s: %s: %s timed out", l7->name,
				     stream_where(stream, where, sizeof(where)),
				     stream->state == ST_RESOLVING ? "name lookup" : "connect");
			stream_kill(stream, L7_RESET_TIMEOUT, true);
		} else if (stream_rx_gap_expired(&stream->rx, now, l7->gap_timeout_ms)) {
			log_warnx_rl("%s: %s: data lost in transit (a failed HTTP request?); "
				     "resetting the stream",
				     l7->name, stream_where(stream, where, sizeof(where)));
			stream_kill(stream, L7_RESET_PROTOCOL, true);
		} else if ((stream->state == ST_OPEN || stream->state == ST_OPENING) &&
			   stream_rx_window_lost(&stream->rx, now, l7->gap_timeout_ms,
						 L7_WINDOW_REANNOUNCE_TRIES)) {
			log_debug("%s: %s: announcing the window again", l7->name,
				  stream_where(stream, where, sizeof(where)));
			send_window(stream);
		}
	}
}

/* ---- life cycle ---- */

static void handle_close_cb(uv_handle_t *h)
{
	struct l7_streams *l7 = h->data;

	l7->open_handles--;
	ls_maybe_destroy(l7);
}

static int fwd_listen(struct l7_streams *l7, struct fwd *f, const struct config_forward *cf,
		      char *err, size_t errlen)
{
	const struct sockaddr_storage *ss = &cf->bind;
	char a[INET6_ADDRSTRLEN];
	int ret;

	f->l7 = l7;
	f->port = cf->port;
	snprintf(f->host, sizeof(f->host), "%s", cf->host);
	addr_str(ss, a, sizeof(a));
	if (ss->ss_family == AF_INET6)
		snprintf(f->bind, sizeof(f->bind), "[%s]:%u", a,
			 ntohs(((const struct sockaddr_in6 *)ss)->sin6_port));
	else
		snprintf(f->bind, sizeof(f->bind), "%s:%u", a,
			 ntohs(((const struct sockaddr_in *)ss)->sin_port));
	uv_tcp_init(l7->loop, &f->tcp);
	f->tcp.data = f;
	l7->open_handles++;
	ret = uv_tcp_bind(&f->tcp, (const struct sockaddr *)ss,
			  ss->ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
	if (ret == 0)
		ret = uv_listen((uv_stream_t *)&f->tcp, SOMAXCONN, connection_cb);
	if (ret < 0) {
		snprintf(err, errlen, "forward %s: listen: %s", f->bind, uv_strerror(ret));
		return ret;
	}
	return 0;
}

int l7_streams_new(struct l7_streams **out, uv_loop_t *loop, const struct l7_streams_config *cfg,
		   char *err, size_t errlen)
{
	struct l7_streams *l7 = calloc(1, sizeof(*l7));
	int ret;

	if (!l7)
		goto nomem;
	l7->loop = loop;
	list_init(&l7->streams);
	l7->server = cfg->server;
	l7->policy = cfg->policy;
	l7->budget = cfg->budget;
	l7->window_bytes = cfg->window_bytes ? cfg->window_bytes : L7_WINDOW_BYTES_DEFAULT;
	l7->gap_timeout_ms = cfg->gap_timeout_ms ? cfg->gap_timeout_ms : L7_GAP_TIMEOUT_MS;
	/*
	 * Ids count up from a random start: a restarted client must not reuse the ids of
	 * streams the server may still hold from its previous run (their late windows would
	 * let a new connection's data into an old one). At least 2^31 ids stay available.
	 */
	l7->next_id = randombytes_uniform(UINT32_MAX / 2);
	l7->name = strdup(cfg->name);
	if (cfg->n_forwards)
		l7->fwds = calloc(cfg->n_forwards, sizeof(*l7->fwds));
	if (!l7->name || (cfg->n_forwards && !l7->fwds)) {
		free(l7->fwds);
		free(l7->name);
		free(l7);
		goto nomem;
	}
	uv_timer_init(loop, &l7->tick);
	l7->tick.data = l7;
	l7->open_handles = 1;
	uv_timer_start(&l7->tick, tick_cb, L7_TICK_MS, L7_TICK_MS);
	for (size_t i = 0; i < cfg->n_forwards; i++) {
		l7->nfwds++;
		ret = fwd_listen(l7, &l7->fwds[i], &cfg->forwards[i], err, errlen);
		if (ret < 0) {
			l7_streams_free(l7);
			return ret;
		}
		log_info("%s: forward %s -> %s:%u", l7->name, l7->fwds[i].bind, l7->fwds[i].host,
			 l7->fwds[i].port);
	}
	*out = l7;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

void l7_streams_session_lost(struct l7_streams *l7)
{
	unsigned n = l7->nstreams;

	if (!n || l7->freeing)
		return;
	/* No reset records: there is no session left to carry them. */
	while (!list_empty(&l7->streams))
		stream_kill(list_first_entry(&l7->streams, struct l7_stream, link), 0, true);
	log_warnx("%s: session expired: closed its %u L7 stream%s", l7->name, n, n == 1 ? "" : "s");
}

static void l7_session_lost(void *ctx)
{
	l7_streams_session_lost(ctx);
}

void l7_streams_attach(struct l7_streams *l7, struct tunnel_endpoint *ep)
{
	l7->ep = ep;
	ep->io.l7_record = l7_record;
	ep->io.l7_resume = l7_resume;
	ep->io.l7_session_lost = l7_session_lost;
	ep->io.l7_ctx = l7;
}

void l7_streams_free(struct l7_streams *l7)
{
	while (!list_empty(&l7->streams))
		stream_kill(list_first_entry(&l7->streams, struct l7_stream, link), 0, true);
	l7->freeing = true;
	if (l7->ep) {
		l7->ep->io.l7_record = NULL;
		l7->ep->io.l7_resume = NULL;
		l7->ep->io.l7_session_lost = NULL;
		l7->ep->io.l7_ctx = NULL;
	}
	l7->ep = NULL;
	uv_close((uv_handle_t *)&l7->tick, handle_close_cb);
	for (size_t i = 0; i < l7->nfwds; i++) {
		l7->fwds[i].tcp.data = l7;
		uv_close((uv_handle_t *)&l7->fwds[i].tcp, handle_close_cb);
	}
	ls_maybe_destroy(l7);
}

unsigned l7_streams_count(const struct l7_streams *l7)
{
	return l7->nstreams;
}

int l7_streams_forward_addr(const struct l7_streams *l7, size_t i, struct sockaddr_storage *out)
{
	int len = sizeof(*out);

	if (i >= l7->nfwds)
		return -EINVAL;
	return uv_tcp_getsockname(&l7->fwds[i].tcp, (struct sockaddr *)out, &len);
}
