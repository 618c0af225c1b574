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
#define ST_WHERE_BYTES 512

/* Hash buckets of the stream table (a power of two; client ids are sequential). */
#define L7_BUCKETS 256

enum st_state {
	ST_WAIT_SESSION, /* client: accepted, no session yet to send L7_OPEN on */
	ST_OPENING, /* client: L7_OPEN sent, waiting for the first L7_WINDOW */
	ST_RESOLVING, /* server: looking the host up */
	ST_CONNECTING, /* server: TCP connect to the checked address */
	ST_OPEN, /* data flows */
	ST_DEAD, /* out of the table; waits for its handle and lookup to finish */
};

struct fwd {
	uv_tcp_t tcp;
	struct l7_streams *ls;
	char bind[INET6_ADDRSTRLEN + 8]; /* for log lines */
	char host[CONFIG_HOST_MAX_BYTES + 1];
	uint16_t port;
};

struct st {
	struct l7_streams *ls;
	struct st *hnext; /* hash bucket */
	struct list_node link; /* in ls->streams while in the table, for the tick */
	uint32_t id;
	enum st_state state;
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
	struct st *buckets[L7_BUCKETS];
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

static void st_kill(struct st *st, uint8_t reason, bool rst);
static void st_read_start(struct st *st);

/* ---- table ---- */

static struct st *st_find(struct l7_streams *ls, uint32_t id)
{
	struct st *st = ls->buckets[id & (L7_BUCKETS - 1)];

	while (st && st->id != id)
		st = st->hnext;
	return st;
}

static struct st *st_new(struct l7_streams *ls, uint32_t id)
{
	struct st *st = calloc(1, sizeof(*st));
	struct st **b = &ls->buckets[id & (L7_BUCKETS - 1)];

	if (!st)
		return NULL;
	st->ls = ls;
	st->id = id;
	st->since_ms = clock_now_ms();
	stream_rx_init(&st->rx, ls->window_bytes);
	stream_tx_init(&st->tx);
	st->hnext = *b;
	*b = st;
	list_insert_head(&ls->streams, &st->link);
	ls->nstreams++;
	ls->nalive++;
	if (ls->budget)
		ls->budget->used++;
	return st;
}

static void st_unlink(struct st *st)
{
	struct l7_streams *ls = st->ls;
	struct st **pp = &ls->buckets[st->id & (L7_BUCKETS - 1)];

	while (*pp != st)
		pp = &(*pp)->hnext;
	*pp = st->hnext;
	list_remove(&st->link);
	ls->nstreams--;
}

static void ls_maybe_destroy(struct l7_streams *ls)
{
	if (!ls->freeing || ls->open_handles || ls->nalive)
		return;
	free(ls->fwds);
	free(ls->name);
	free(ls);
}

static void st_maybe_free(struct st *st)
{
	struct l7_streams *ls = st->ls;

	if (st->state != ST_DEAD || st->handle_live || st->gai_pending || st->writes)
		return;
	stream_rx_close(&st->rx);
	free(st->wbuf);
	free(st->pend);
	free(st);
	ls->nalive--;
	if (ls->budget)
		ls->budget->used--;
	ls_maybe_destroy(ls);
}

/* ---- records out ---- */

static struct batch *ctl_batch(struct l7_streams *ls, size_t body)
{
	struct batch *b;

	if (ls->freeing || !ls->ep)
		return NULL;
	b = tunnel_endpoint_batch(ls->ep, body, true);
	if (!b)
		log_warnx_rl("%s: L7: control record dropped (send queue over its hard cap, "
			     "or out of memory)",
			     ls->name);
	return b;
}

static void send_reset(struct l7_streams *ls, uint32_t id, uint8_t reason)
{
	struct batch *b = ctl_batch(ls, L7_RESET_BYTES);

	if (b && l7_add_reset(b, id, reason) == 0)
		ls->ep->dirty = true;
}

/*
 * A reset that answers a record of no stream (an unknown id, a refused open): nothing
 * here waits for it, so it is dropped (and counted) when the send queue is full rather
 * than let a peer that floods such records and never polls grow the queue.
 */
static void send_answer_reset(struct l7_streams *ls, uint32_t id, uint8_t reason)
{
	struct batch *b;

	if (ls->freeing || !ls->ep)
		return;
	b = tunnel_endpoint_batch(ls->ep, L7_RESET_BYTES, false);
	if (!b || l7_add_reset(b, id, reason) < 0) {
		ls->dropped_answers++;
		return;
	}
	ls->ep->dirty = true;
}

static void send_window(struct st *st)
{
	struct batch *b = ctl_batch(st->ls, L7_WINDOW_BYTES);

	if (b && l7_add_window(b, st->id, stream_rx_announce(&st->rx)) == 0)
		st->ls->ep->dirty = true;
}

/*
 * Client: L7_OPEN, then this side's receive window, in the same frame (PROTOCOL.md "L7
 * streams"): in separate frames the window could arrive first, for a stream the server
 * does not know yet, and the server would never learn how far it may send.
 */
static void send_open(struct st *st)
{
	size_t host_len = strlen(st->fwd->host);
	struct batch *b = ctl_batch(st->ls, L7_OPEN_FIXED_BYTES + host_len + RECORD_HEADER_BYTES +
						    L7_WINDOW_BYTES);

	if (!b || l7_add_open(b, st->id, st->fwd->port, st->fwd->host, host_len) < 0) {
		st_kill(st, 0, true);
		return;
	}
	st->ls->ep->dirty = true;
	st->state = ST_OPENING;
	/* Cannot fail with the room asked for; if it did, the server must forget the stream. */
	if (l7_add_window(b, st->id, stream_rx_announce(&st->rx)) < 0)
		st_kill(st, L7_RESET_RESOURCES, true);
}

/* An empty L7_DATA with FIN: the local socket's read side ended. */
static void send_fin(struct st *st)
{
	struct batch *b = ctl_batch(st->ls, L7_DATA_FIXED_BYTES);

	if (b && l7_add_data(b, st->id, L7_DATA_FIN, st->tx.next, NULL, 0) == 0)
		st->ls->ep->dirty = true;
	stream_tx_sent(&st->tx, 0, true);
}

/* ---- stream end ---- */

static void st_close_cb(uv_handle_t *h)
{
	struct st *st = h->data;

	st->handle_live = false;
	st_maybe_free(st);
}

/*
 * End the stream: out of the table at once (later records for it are ignored), its
 * socket closed (rst: with a TCP reset, the local application sees the stream fail),
 * reason nonzero: an L7_RESET tells the peer.
 */
static void st_kill(struct st *st, uint8_t reason, bool rst)
{
	if (st->state == ST_DEAD)
		return;
	if (reason)
		send_reset(st->ls, st->id, reason);
	if (st->reserved) {
		batch_cancel(&st->ls->ep->send.batch);
		st->reserved = false;
	}
	st_unlink(st);
	st->state = ST_DEAD;
	if (st->handle_live && !uv_is_closing((uv_handle_t *)&st->tcp)) {
		if (st->reading)
			uv_read_stop((uv_stream_t *)&st->tcp);
		st->reading = false;
		/* A reset is not allowed while a shutdown is pending: close plainly then. */
		if (!rst || st->shutting || uv_tcp_close_reset(&st->tcp, st_close_cb) < 0)
			uv_close((uv_handle_t *)&st->tcp, st_close_cb);
	}
	if (st->gai_pending)
		uv_cancel((uv_req_t *)&st->gai);
	st_maybe_free(st);
}

/* Both directions ended and every byte written: a clean close. */
static void st_maybe_done(struct st *st)
{
	if (st->state == ST_OPEN && st->tx.fin_sent && st->shut_done && !st->writes &&
	    !st->pend_len)
		st_kill(st, 0, false);
}

static const char *st_where(const struct st *st, char *buf, size_t len)
{
	if (st->fwd)
		snprintf(buf, len, "forward %s -> %s:%u, stream %u", st->fwd->bind, st->fwd->host,
			 st->fwd->port, st->id);
	else
		snprintf(buf, len, "stream %u to %s:%u", st->id, st->host, st->port);
	return buf;
}

/* ---- local socket to the tunnel ---- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct st *st = h->data;
	uint64_t room = stream_tx_room(&st->tx);
	struct batch *b;
	size_t n;
	uint8_t *p;

	(void)suggested;
	*buf = uv_buf_init(NULL, 0);
	if (st->state != ST_OPEN || !room)
		return;
	if (room > L7_READ_MAX_BYTES)
		room = L7_READ_MAX_BYTES;
	b = tunnel_endpoint_batch(
		st->ls->ep,
		L7_DATA_FIXED_BYTES + (room < L7_READ_MIN_BYTES ? room : L7_READ_MIN_BYTES), false);
	if (!b)
		return;
	n = l7_data_room(b);
	if (n > room)
		n = (size_t)room;
	p = l7_data_reserve(b, st->id, st->tx.next, n);
	if (!p)
		return;
	st->reserved = true;
	*buf = uv_buf_init((char *)p, (unsigned)n);
}

static void read_stop(struct st *st)
{
	if (st->reading)
		uv_read_stop((uv_stream_t *)&st->tcp);
	st->reading = false;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct st *st = s->data;
	struct l7_streams *ls = st->ls;
	struct batch *b = &ls->ep->send.batch;
	bool reserved = st->reserved;
	char where[ST_WHERE_BYTES];

	(void)buf;
	st->reserved = false;
	if (nread > 0) {
		if (!reserved || l7_data_commit(b, 0, (size_t)nread) < 0) {
			/* Bytes read and not sent: the stream has a hole now. Cannot happen. */
			st_kill(st, L7_RESET_PROTOCOL, true);
			return;
		}
		stream_tx_sent(&st->tx, (uint64_t)nread, false);
		ls->ep->dirty = true;
		if (!stream_tx_room(&st->tx))
			read_stop(st);
		return;
	}
	if (nread == UV_EOF) {
		read_stop(st);
		st->eof = true;
		if (reserved && l7_data_commit(b, L7_DATA_FIN, 0) == 0) {
			stream_tx_sent(&st->tx, 0, true);
			ls->ep->dirty = true;
		} else {
			send_fin(st);
		}
		st_maybe_done(st);
		return;
	}
	if (reserved)
		batch_cancel(b);
	if (nread == 0)
		return;
	if (nread == UV_ENOBUFS) {
		/* No window or no queue room: a window record or l7_resume restarts it. */
		read_stop(st);
		return;
	}
	log_debug("%s: %s: %s", ls->name, st_where(st, where, sizeof(where)),
		  uv_strerror((int)nread));
	st_kill(st, L7_RESET_CLOSED, true);
}

static void st_read_start(struct st *st)
{
	if (st->state != ST_OPEN || st->reading || st->eof || !stream_tx_room(&st->tx))
		return;
	if (frameq_full(&st->ls->ep->send)) {
		st->ls->ep->paused = true;
		return;
	}
	if (uv_read_start((uv_stream_t *)&st->tcp, alloc_cb, read_cb) == 0)
		st->reading = true;
}

static void l7_resume(void *ctx)
{
	struct l7_streams *ls = ctx;
	struct list_node *n, *next;

	list_for_each_safe(n, next, &ls->streams)
		st_read_start(list_entry(n, struct st, link));
}

/* ---- tunnel to the local socket ---- */

static void write_cb(uv_write_t *req, int status);
static void st_shutdown(struct st *st);

/* Write what is pending, if no write is in flight: swap the buffers, one uv_write. */
static void st_flush(struct st *st)
{
	uint8_t *tmp;
	size_t cap;
	uv_buf_t buf;

	if (st->writes || !st->pend_len || st->state == ST_DEAD)
		return;
	tmp = st->wbuf;
	cap = st->wbuf_cap;
	st->wbuf = st->pend;
	st->wbuf_cap = st->pend_cap;
	st->wlen = st->pend_len;
	st->pend = tmp;
	st->pend_cap = cap;
	st->pend_len = 0;
	st->wreq.data = st;
	buf = uv_buf_init((char *)st->wbuf, (unsigned)st->wlen);
	if (uv_write(&st->wreq, (uv_stream_t *)&st->tcp, &buf, 1, write_cb) < 0) {
		st->failed = true;
		return;
	}
	st->writes++;
}

static void write_cb(uv_write_t *req, int status)
{
	struct st *st = req->data;
	size_t len = st->wlen;

	st->writes--;
	st->wlen = 0;
	if (st->state == ST_DEAD) {
		st_maybe_free(st);
		return;
	}
	if (status < 0) {
		st_kill(st, L7_RESET_CLOSED, true);
		return;
	}
	if (stream_rx_consume(&st->rx, len))
		send_window(st);
	st_flush(st);
	if (st->failed) {
		st_kill(st, L7_RESET_RESOURCES, true);
		return;
	}
	if (st->fin_wait && !st->pend_len) {
		st->fin_wait = false;
		st_shutdown(st);
		return;
	}
	st_maybe_done(st);
}

static void deliver_cb(void *ctx, const uint8_t *data, size_t len)
{
	struct st *st = ctx;

	if (st->failed)
		return;
	if (st->pend_len + len > st->pend_cap) {
		size_t cap = st->pend_cap ? st->pend_cap : L7_READ_MIN_BYTES;
		uint8_t *p;

		while (cap < st->pend_len + len)
			cap *= 2;
		/* The window bounds what is pending: no need to round past it. */
		if (cap > st->ls->window_bytes && st->ls->window_bytes >= st->pend_len + len)
			cap = (size_t)st->ls->window_bytes;
		p = realloc(st->pend, cap);
		if (!p) {
			st->failed = true;
			return;
		}
		st->pend = p;
		st->pend_cap = cap;
	}
	memcpy(st->pend + st->pend_len, data, len);
	st->pend_len += len;
	st_flush(st);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
	struct st *st = req->data;

	st->shutting = false;
	if (st->state == ST_DEAD) {
		st_maybe_free(st);
		return;
	}
	if (status < 0) {
		st_kill(st, L7_RESET_CLOSED, true);
		return;
	}
	st->shut_done = true;
	st_maybe_done(st);
}

/* Half-close the local socket; libuv runs it after the write in flight. */
static void st_shutdown(struct st *st)
{
	st->shut.data = st;
	if (uv_shutdown(&st->shut, (uv_stream_t *)&st->tcp, shutdown_cb) < 0) {
		st_kill(st, L7_RESET_CLOSED, true);
		return;
	}
	st->shutting = true;
}

/* The peer's FIN, after every byte before it: half-close once those are written. */
static void st_peer_fin(struct st *st)
{
	if (st->pend_len)
		st->fin_wait = true;
	else
		st_shutdown(st);
}

static void on_data(struct l7_streams *ls, const struct l7_data *d)
{
	struct st *st = st_find(ls, d->stream);
	bool fin_now;
	char where[ST_WHERE_BYTES];
	int err;

	if (!st) {
		/* Late data of a stream that ended, or of a server that restarted: say so. */
		if (ls->server)
			send_answer_reset(ls, d->stream, L7_RESET_PROTOCOL);
		return;
	}
	/* The client sends data only after the server's first window (= connected). */
	if (ls->server && st->state != ST_OPEN) {
		st_kill(st, L7_RESET_PROTOCOL, true);
		return;
	}
	err = stream_rx_data(&st->rx, d->offset, d->data.p, d->data.len, d->flags & L7_DATA_FIN,
			     clock_now_ms(), deliver_cb, st, &fin_now);
	if (err || st->failed) {
		log_warnx_rl("%s: %s: %s; resetting it", ls->name,
			     st_where(st, where, sizeof(where)),
			     err == -EPROTO ? "data beyond the window or the end (protocol error)"
			     : err == -ENOBUFS ? "too many out-of-order pieces (L7_MAX_SEGMENTS)"
					       : "out of memory");
		st_kill(st, err == -EPROTO ? L7_RESET_PROTOCOL : L7_RESET_RESOURCES, true);
		return;
	}
	if (fin_now)
		st_peer_fin(st);
}

static void on_window(struct l7_streams *ls, const struct l7_window *w)
{
	struct st *st = st_find(ls, w->stream);
	char where[ST_WHERE_BYTES];

	if (!st)
		return;
	stream_tx_window(&st->tx, w->max_offset);
	if (!ls->server && st->state == ST_OPENING) {
		st->state = ST_OPEN;
		st->since_ms = clock_now_ms();
		log_debug("%s: %s: connected", ls->name, st_where(st, where, sizeof(where)));
	}
	st_read_start(st);
}

static void on_reset(struct l7_streams *ls, const struct l7_reset *r)
{
	struct st *st = st_find(ls, r->stream);
	char where[ST_WHERE_BYTES];

	if (!st)
		return;
	if (ls->server)
		log_debug("%s: %s: reset by the client: %s", ls->name,
			  st_where(st, where, sizeof(where)), l7_reset_reason_name(r->reason));
	else
		log_warnx_rl("%s: %s: reset by the server: %s", ls->name,
			     st_where(st, where, sizeof(where)), l7_reset_reason_name(r->reason));
	st_kill(st, 0, true);
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
static bool st_reached_self(struct st *st)
{
	struct sockaddr_storage local, peer;
	int llen = sizeof(local), plen = sizeof(peer);
	struct policy p = *st->ls->policy;
	struct cidr lc, pc;

	if (uv_tcp_getsockname(&st->tcp, (struct sockaddr *)&local, &llen) < 0 ||
	    uv_tcp_getpeername(&st->tcp, (struct sockaddr *)&peer, &plen) < 0 ||
	    cidr_from_sockaddr((const struct sockaddr *)&local, &lc) < 0 ||
	    cidr_from_sockaddr((const struct sockaddr *)&peer, &pc) < 0)
		return false;
	if (!cidr_equal(&lc, &pc))
		return false;
	p.own = &pc;
	p.n_own = 1;
	return policy_check(&p, (const struct sockaddr *)&peer, st->port) != POLICY_ALLOW;
}

static void connect_cb(uv_connect_t *req, int status)
{
	struct st *st = req->data;
	struct l7_streams *ls = st->ls;
	char where[ST_WHERE_BYTES], a[INET6_ADDRSTRLEN];

	if (st->state == ST_DEAD)
		return; /* closed meanwhile; the close callback frees it */
	if (status < 0) {
		log_warnx_rl("%s: %s (%s): connect: %s", ls->name,
			     st_where(st, where, sizeof(where)), addr_str(&st->addr, a, sizeof(a)),
			     uv_strerror(status));
		st_kill(st, reason_of(status), true);
		return;
	}
	if (ls->server && st_reached_self(st)) {
		log_warnx_rl("%s: %s (%s): denied: the connection reached this host itself "
			     "(an own address the policy did not know)",
			     ls->name, st_where(st, where, sizeof(where)),
			     addr_str(&st->addr, a, sizeof(a)));
		st_kill(st, L7_RESET_DENIED, true);
		return;
	}
	uv_tcp_nodelay(&st->tcp, 1);
	st->state = ST_OPEN;
	st->since_ms = clock_now_ms();
	log_debug("%s: %s (%s): connected", ls->name, st_where(st, where, sizeof(where)),
		  addr_str(&st->addr, a, sizeof(a)));
	send_window(st); /* the first window: connected */
	st_read_start(st);
}

/*
 * Check every address of the target against the policy; connect to the first allowed
 * one, the very sockaddr that was checked (no second lookup that could answer
 * differently).
 */
static void st_check_connect(struct st *st, const struct sockaddr *const *addrs, size_t n)
{
	struct l7_streams *ls = st->ls;
	enum policy_verdict deny = POLICY_DENY_NO_RULE;
	const struct sockaddr *chosen = NULL;
	char where[ST_WHERE_BYTES], a[INET6_ADDRSTRLEN] = "";
	int err;

	for (size_t i = 0; i < n; i++) {
		enum policy_verdict v = policy_check(ls->policy, addrs[i], st->port);

		if (v == POLICY_ALLOW && !chosen) {
			chosen = addrs[i];
		} else if (v != POLICY_ALLOW && deny == POLICY_DENY_NO_RULE) {
			deny = v;
			memcpy(&st->addr, addrs[i],
			       addrs[i]->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							       : sizeof(struct sockaddr_in));
			addr_str(&st->addr, a, sizeof(a));
		}
	}
	if (!chosen) {
		log_warnx_rl("%s: %s: denied (%s%s%s)", ls->name,
			     st_where(st, where, sizeof(where)), a, a[0] ? ": " : "",
			     policy_verdict_str(deny));
		st_kill(st, L7_RESET_DENIED, false);
		return;
	}
	memset(&st->addr, 0, sizeof(st->addr));
	memcpy(&st->addr, chosen,
	       chosen->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					     : sizeof(struct sockaddr_in));
	if (st->addr.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&st->addr)->sin6_port = htons(st->port);
	else
		((struct sockaddr_in *)&st->addr)->sin_port = htons(st->port);
	uv_tcp_init(ls->loop, &st->tcp);
	st->tcp.data = st;
	st->handle_live = true;
	st->conn.data = st;
	st->state = ST_CONNECTING;
	st->since_ms = clock_now_ms();
	err = uv_tcp_connect(&st->conn, &st->tcp, (const struct sockaddr *)&st->addr, connect_cb);
	if (err < 0) {
		log_warnx_rl("%s: %s (%s): connect: %s", ls->name,
			     st_where(st, where, sizeof(where)), addr_str(&st->addr, a, sizeof(a)),
			     uv_strerror(err));
		st_kill(st, reason_of(err), true);
	}
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct st *st = req->data;
	const struct sockaddr *addrs[L7_MAX_TARGET_ADDRESSES];
	char where[ST_WHERE_BYTES];
	size_t n = 0;

	st->gai_pending = false;
	if (st->state == ST_DEAD) {
		uv_freeaddrinfo(res);
		st_maybe_free(st);
		return;
	}
	if (status < 0) {
		log_warnx_rl("%s: %s: name lookup: %s", st->ls->name,
			     st_where(st, where, sizeof(where)), uv_strerror(status));
		st_kill(st, status == UV_EAI_MEMORY ? L7_RESET_RESOURCES : L7_RESET_NO_NAME, false);
		return;
	}
	for (struct addrinfo *ai = res; ai && n < L7_MAX_TARGET_ADDRESSES; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
			addrs[n++] = ai->ai_addr;
	}
	if (n)
		st_check_connect(st, addrs, n);
	else
		st_kill(st, L7_RESET_NO_NAME, false);
	uv_freeaddrinfo(res);
}

static void on_open(struct l7_streams *ls, const struct l7_open *o)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_protocol = IPPROTO_TCP };
	struct sockaddr_storage lit;
	const struct sockaddr *one = (const struct sockaddr *)&lit;
	char where[ST_WHERE_BYTES], port[8];
	struct st *st;
	int err;

	if (!ls->server) {
		ls->bad_records++;
		return;
	}
	st = st_find(ls, o->stream);
	if (st) {
		/*
		 * Ids are never reused within a client run: a broken peer, or a restarted client
		 * whose random ids met an old stream's. Neither stream can be trusted: end both.
		 */
		log_warnx_rl("%s: L7 stream id %u opened twice; resetting it", ls->name, o->stream);
		st_kill(st, L7_RESET_PROTOCOL, true);
		return;
	}
	if (!ls->policy || !ls->policy->n_rules) {
		log_warnx_rl("%s: L7 stream to %s:%u refused: no l7-allow rule on this channel",
			     ls->name, o->host, o->port);
		send_answer_reset(ls, o->stream, L7_RESET_DENIED);
		return;
	}
	/* nalive: streams that ended but still wait for a lookup or a close count too. */
	if (ls->nalive >= L7_MAX_STREAMS) {
		log_warnx_rl("%s: L7 stream to %s:%u refused: %u streams open and %u still "
			     "closing (L7_MAX_STREAMS %d)",
			     ls->name, o->host, o->port, ls->nstreams, ls->nalive - ls->nstreams,
			     L7_MAX_STREAMS);
		send_answer_reset(ls, o->stream, L7_RESET_RESOURCES);
		return;
	}
	/* Every channel's clients together must leave the HTTP server descriptors to accept. */
	if (ls->budget && ls->budget->used >= ls->budget->max) {
		ls->budget->refused++;
		log_warnx_rl("%s: L7 stream to %s:%u refused: %u streams open or closing on all "
			     "channels, the most the file descriptor limit allows (docs/L7.md "
			     "\"Limits\")",
			     ls->name, o->host, o->port, ls->budget->used);
		send_answer_reset(ls, o->stream, L7_RESET_RESOURCES);
		return;
	}
	st = st_new(ls, o->stream);
	if (!st) {
		log_warnx_rl("%s: L7 stream to %s:%u refused: out of memory", ls->name, o->host,
			     o->port);
		send_answer_reset(ls, o->stream, L7_RESET_RESOURCES);
		return;
	}
	st->port = o->port;
	memcpy(st->host, o->host, (size_t)o->host_len + 1);
	st->state = ST_RESOLVING;
	memset(&lit, 0, sizeof(lit));
	/* An IP literal is the address itself: no lookup. */
	if (uv_ip4_addr(st->host, st->port, (struct sockaddr_in *)&lit) == 0 ||
	    uv_ip6_addr(st->host, st->port, (struct sockaddr_in6 *)&lit) == 0) {
		st_check_connect(st, &one, 1);
		return;
	}
	snprintf(port, sizeof(port), "%u", st->port);
	hints.ai_flags = AI_NUMERICSERV;
	st->gai.data = st;
	err = uv_getaddrinfo(ls->loop, &st->gai, gai_cb, st->host, port, &hints);
	if (err < 0) {
		log_warnx_rl("%s: %s: name lookup: %s", ls->name,
			     st_where(st, where, sizeof(where)), uv_strerror(err));
		st_kill(st, L7_RESET_RESOURCES, false);
		return;
	}
	st->gai_pending = true;
}

/* ---- records in ---- */

static int l7_record(void *ctx, uint8_t type, struct span body)
{
	struct l7_streams *ls = ctx;
	union {
		struct l7_open o;
		struct l7_data d;
		struct l7_window w;
		struct l7_reset r;
	} u;
	int err = -EPROTO;

	if (ls->freeing)
		return 0;
	switch (type) {
	case REC_L7_OPEN:
		err = l7_open_decode(body, &u.o);
		if (!err)
			on_open(ls, &u.o);
		break;
	case REC_L7_DATA:
		err = l7_data_decode(body, &u.d);
		if (!err)
			on_data(ls, &u.d);
		break;
	case REC_L7_WINDOW:
		err = l7_window_decode(body, &u.w);
		if (!err)
			on_window(ls, &u.w);
		break;
	case REC_L7_RESET:
		err = l7_reset_decode(body, &u.r);
		if (!err)
			on_reset(ls, &u.r);
		break;
	default:
		break;
	}
	if (err) {
		ls->bad_records++;
		log_warnx_rl("%s: malformed L7 record (type 0x%02x): rest of the frame dropped",
			     ls->name, type);
		return -EPROTO;
	}
	return 0;
}

/* ---- client: accept ---- */

static void connection_cb(uv_stream_t *server, int status)
{
	struct fwd *f = server->data;
	struct l7_streams *ls = f->ls;
	const char *why;
	struct st *st;
	uv_tcp_t *tmp;

	if (status < 0) {
		log_warnx_rl("%s: forward %s: accept: %s", ls->name, f->bind, uv_strerror(status));
		return;
	}
	why = ls->nalive >= L7_MAX_STREAMS ? "L7_MAX_STREAMS streams open or closing"
	      : ls->next_id == UINT32_MAX  ? "stream ids used up (restart the client)"
	      : !ls->ep			   ? "no tunnel attached"
					   : NULL;
	if (why)
		goto refuse;
	st = st_new(ls, ++ls->next_id);
	why = "out of memory";
	if (!st)
		goto refuse;
	st->fwd = f;
	st->port = f->port;
	snprintf(st->host, sizeof(st->host), "%s", f->host);
	uv_tcp_init(ls->loop, &st->tcp);
	st->tcp.data = st;
	st->handle_live = true;
	if (uv_accept(server, (uv_stream_t *)&st->tcp) < 0) {
		st_kill(st, 0, false);
		return;
	}
	uv_tcp_nodelay(&st->tcp, 1);
	st->state = ST_WAIT_SESSION;
	if (peer_has_session(ls->ep->peer))
		send_open(st);
	return;
refuse:
	/* Take the connection off the backlog and reset it: no stream for it. */
	log_warnx_rl("%s: forward %s: connection refused: %s (%u streams open)", ls->name, f->bind,
		     why, ls->nstreams);
	tmp = malloc(sizeof(*tmp));
	if (!tmp)
		return;
	uv_tcp_init(ls->loop, tmp);
	if (uv_accept(server, (uv_stream_t *)tmp) < 0 ||
	    uv_tcp_close_reset(tmp, (uv_close_cb)free) < 0)
		uv_close((uv_handle_t *)tmp, (uv_close_cb)free);
}

/* ---- housekeeping ---- */

static void tick_cb(uv_timer_t *t)
{
	struct l7_streams *ls = t->data;
	uint64_t now = clock_now_ms();
	char where[ST_WHERE_BYTES];
	struct list_node *n, *next;

	list_for_each_safe(n, next, &ls->streams) {
		struct st *st = list_entry(n, struct st, link);
		uint64_t age = now - st->since_ms;

		if (st->state == ST_WAIT_SESSION && ls->ep && peer_has_session(ls->ep->peer)) {
			send_open(st);
		} else if ((st->state == ST_WAIT_SESSION || st->state == ST_OPENING) &&
			   age >= L7_OPEN_TIMEOUT_MS) {
			log_warnx_rl("%s: %s: no answer from the server in %d s; closing", ls->name,
				     st_where(st, where, sizeof(where)), L7_OPEN_TIMEOUT_MS / 1000);
			st_kill(st, st->state == ST_OPENING ? L7_RESET_TIMEOUT : 0, true);
		} else if ((st->state == ST_RESOLVING || st->state == ST_CONNECTING) &&
			   age >= L7_CONNECT_TIMEOUT_MS) {
			log_warnx_rl("%s: %s: %s timed out", ls->name,
				     st_where(st, where, sizeof(where)),
				     st->state == ST_RESOLVING ? "name lookup" : "connect");
			st_kill(st, L7_RESET_TIMEOUT, true);
		} else if (stream_rx_gap_expired(&st->rx, now, ls->gap_timeout_ms)) {
			log_warnx_rl("%s: %s: data lost in transit (a failed HTTP request?); "
				     "resetting the stream",
				     ls->name, st_where(st, where, sizeof(where)));
			st_kill(st, L7_RESET_PROTOCOL, true);
		} else if ((st->state == ST_OPEN || st->state == ST_OPENING) &&
			   stream_rx_window_lost(&st->rx, now, ls->gap_timeout_ms,
						 L7_WINDOW_REANNOUNCE_TRIES)) {
			log_debug("%s: %s: announcing the window again", ls->name,
				  st_where(st, where, sizeof(where)));
			send_window(st);
		}
	}
}

/* ---- life cycle ---- */

static void handle_close_cb(uv_handle_t *h)
{
	struct l7_streams *ls = h->data;

	ls->open_handles--;
	ls_maybe_destroy(ls);
}

static int fwd_listen(struct l7_streams *ls, struct fwd *f, const struct config_forward *cf,
		      char *err, size_t errlen)
{
	const struct sockaddr_storage *ss = &cf->bind;
	char a[INET6_ADDRSTRLEN];
	int ret;

	f->ls = ls;
	f->port = cf->port;
	snprintf(f->host, sizeof(f->host), "%s", cf->host);
	addr_str(ss, a, sizeof(a));
	if (ss->ss_family == AF_INET6)
		snprintf(f->bind, sizeof(f->bind), "[%s]:%u", a,
			 ntohs(((const struct sockaddr_in6 *)ss)->sin6_port));
	else
		snprintf(f->bind, sizeof(f->bind), "%s:%u", a,
			 ntohs(((const struct sockaddr_in *)ss)->sin_port));
	uv_tcp_init(ls->loop, &f->tcp);
	f->tcp.data = f;
	ls->open_handles++;
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
	struct l7_streams *ls = calloc(1, sizeof(*ls));
	int ret;

	if (!ls)
		goto nomem;
	ls->loop = loop;
	list_init(&ls->streams);
	ls->server = cfg->server;
	ls->policy = cfg->policy;
	ls->budget = cfg->budget;
	ls->window_bytes = cfg->window_bytes ? cfg->window_bytes : L7_WINDOW_BYTES_DEFAULT;
	ls->gap_timeout_ms = cfg->gap_timeout_ms ? cfg->gap_timeout_ms : L7_GAP_TIMEOUT_MS;
	/*
	 * Ids count up from a random start: a restarted client must not reuse the ids of
	 * streams the server may still hold from its previous run (their late windows would
	 * let a new connection's data into an old one). At least 2^31 ids stay available.
	 */
	ls->next_id = randombytes_uniform(UINT32_MAX / 2);
	ls->name = strdup(cfg->name);
	if (cfg->n_forwards)
		ls->fwds = calloc(cfg->n_forwards, sizeof(*ls->fwds));
	if (!ls->name || (cfg->n_forwards && !ls->fwds)) {
		free(ls->fwds);
		free(ls->name);
		free(ls);
		goto nomem;
	}
	uv_timer_init(loop, &ls->tick);
	ls->tick.data = ls;
	ls->open_handles = 1;
	uv_timer_start(&ls->tick, tick_cb, L7_TICK_MS, L7_TICK_MS);
	for (size_t i = 0; i < cfg->n_forwards; i++) {
		ls->nfwds++;
		ret = fwd_listen(ls, &ls->fwds[i], &cfg->forwards[i], err, errlen);
		if (ret < 0) {
			l7_streams_free(ls);
			return ret;
		}
		log_info("%s: forward %s -> %s:%u", ls->name, ls->fwds[i].bind, ls->fwds[i].host,
			 ls->fwds[i].port);
	}
	*out = ls;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

void l7_streams_session_lost(struct l7_streams *ls)
{
	unsigned n = ls->nstreams;

	if (!n || ls->freeing)
		return;
	/* No reset records: there is no session left to carry them. */
	while (!list_empty(&ls->streams))
		st_kill(list_first_entry(&ls->streams, struct st, link), 0, true);
	log_warnx("%s: session expired: closed its %u L7 stream%s", ls->name, n, n == 1 ? "" : "s");
}

static void l7_session_lost(void *ctx)
{
	l7_streams_session_lost(ctx);
}

void l7_streams_attach(struct l7_streams *ls, struct tunnel_endpoint *ep)
{
	ls->ep = ep;
	ep->io.l7_record = l7_record;
	ep->io.l7_resume = l7_resume;
	ep->io.l7_session_lost = l7_session_lost;
	ep->io.l7_ctx = ls;
}

void l7_streams_free(struct l7_streams *ls)
{
	while (!list_empty(&ls->streams))
		st_kill(list_first_entry(&ls->streams, struct st, link), 0, true);
	ls->freeing = true;
	if (ls->ep) {
		ls->ep->io.l7_record = NULL;
		ls->ep->io.l7_resume = NULL;
		ls->ep->io.l7_session_lost = NULL;
		ls->ep->io.l7_ctx = NULL;
	}
	ls->ep = NULL;
	uv_close((uv_handle_t *)&ls->tick, handle_close_cb);
	for (size_t i = 0; i < ls->nfwds; i++) {
		ls->fwds[i].tcp.data = ls;
		uv_close((uv_handle_t *)&ls->fwds[i].tcp, handle_close_cb);
	}
	ls_maybe_destroy(ls);
}

unsigned l7_streams_count(const struct l7_streams *ls)
{
	return ls->nstreams;
}

int l7_streams_forward_addr(const struct l7_streams *ls, size_t i, struct sockaddr_storage *out)
{
	int len = sizeof(*out);

	if (i >= ls->nfwds)
		return -EINVAL;
	return uv_tcp_getsockname(&ls->fwds[i].tcp, (struct sockaddr *)out, &len);
}
