/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Relay listener: docs/PROTOCOL.md section 9 and docs/FASTCGI.md. One Unix stream per
 * `httun fcgi` process, many requests in flight on it, each matched by its id.
 */
#include "transport/relay_server.h"
#include "core/http_status.h"
#include "core/limits.h"
#include "core/list.h"
#include "core/log.h"
#include "core/relay.h"
#include "core/unixsock.h"
#include "net/conn.h"
#include "net/listen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct relay_conn;

/* A request from a relay. The http_request is first: handlers get a pointer to it. */
struct relay_req {
	struct http_request req;
	struct relay_conn *conn; /* NULL once the connection is gone (an orphan) */
	uint32_t id;
	http_cancel_cb cancel_cb;
	void *cancel_arg;
	struct list_node link; /* in conn->reqs while conn is set */
	uint8_t *body;
	char method[RELAY_METHOD_MAX_BYTES + 1];
	char url[]; /* NUL-terminated target */
};

/* A RESPONSE being written: header and fixed fields here, body in the caller's buffers. */
struct relay_write {
	struct net_write w;
	http_sent_cb sent_cb;
	void *sent_arg;
	uint8_t head[RELAY_HEADER_BYTES + RELAY_RESPONSE_FIXED_BYTES + RELAY_CTYPE_MAX_BYTES];
	uv_buf_t bufs[];
};

struct relay_conn {
	/*
	 * Socket, read buffer, answers queued (net.writes); reading pauses while
	 * RELAY_MAX_REQS answers or RELAY_MAX_QUEUED_BYTES wait for the relay to read them.
	 */
	struct net_conn net;
	struct relay_server *srv;
	struct list_node link; /* in srv->conns until closing */
	bool hello;
	uint64_t since_ms; /* accepted */
	uint64_t read_ms; /* last read */
	uint64_t write_ms; /* last write completed, or the first queued after none */
	uint64_t active_ms; /* last whole message read or answer written: idle since */
	struct list_node reqs; /* newest first */
	unsigned nreqs;
	uint8_t hello_out[RELAY_HEADER_BYTES + RELAY_HELLO_BYTES];
	struct net_write hello_w;
};

struct relay_server {
	uv_loop_t *loop;
	struct relay_server_config cfg;
	http_request_cb on_request;
	void *arg;
	uv_pipe_t listener;
	bool listening;
	uv_timer_t timer;
	uint64_t hello_timeout_ms, read_timeout_ms, write_timeout_ms, idle_timeout_ms;
	char *path;
	struct list_node conns; /* newest first */
	unsigned nconns;
	unsigned handles;
	bool freeing;
	struct relay_server_stats stats;
};

static const struct http_request_ops relay_req_ops;

static void server_maybe_free(struct relay_server *rs)
{
	if (rs->freeing && rs->handles == 0) {
		free(rs->path);
		free(rs);
	}
}

/* ---- requests ---- */

static void req_unlink(struct relay_req *r)
{
	struct relay_conn *c = r->conn;

	if (!c)
		return;
	list_remove(&r->link);
	c->nreqs--;
	r->conn = NULL;
}

static void req_free(struct relay_req *r)
{
	req_unlink(r);
	free(r->body);
	free(r);
}

static struct relay_req *req_find(struct relay_conn *c, uint32_t id)
{
	struct list_node *n;

	list_for_each(n, &c->reqs) {
		struct relay_req *r = list_entry(n, struct relay_req, link);

		if (r->id == id)
			return r;
	}
	return NULL;
}

static void conn_close(struct relay_conn *c);

/* Runs before the connection's closed callback, also when the close cancelled the write. */
static void write_cb(struct net_write *w, int status)
{
	struct relay_write *rw =
		(struct relay_write *)((char *)w - offsetof(struct relay_write, w));
	struct relay_conn *c = w->conn->owner;

	if (rw->sent_cb)
		rw->sent_cb(status < 0 ? status : 0, rw->sent_arg);
	free(rw);
	c->write_ms = c->active_ms = uv_now(c->srv->loop);
}

static int relay_req_sendv(struct http_request *req, int status, const char *content_type,
			   const struct iovec *iov, unsigned niov, http_sent_cb sent_cb, void *arg)
{
	struct relay_req *r = (struct relay_req *)req;
	struct relay_conn *c = r->conn;
	const char *ct = content_type ? content_type : "application/octet-stream";
	struct span ctype = { (const uint8_t *)ct, strlen(ct) };
	struct relay_write *rw;
	struct writer w;
	size_t len = 0;
	int err;

	for (unsigned i = 0; i < niov; i++)
		len += iov[i].iov_len;
	err = -ECANCELED;
	if (!c || c->net.closing)
		goto fail;
	err = -ENOMEM;
	rw = malloc(sizeof(*rw) + (niov + 1) * sizeof(uv_buf_t));
	if (!rw)
		goto fail_close;
	w = writer_make(rw->head, sizeof(rw->head));
	err = relay_write_response_head(&w, r->id, (uint16_t)status, ctype, len);
	if (err < 0) {
		free(rw);
		goto fail_close;
	}
	rw->bufs[0] = uv_buf_init((char *)rw->head, (unsigned)w.len);
	for (unsigned i = 0; i < niov; i++)
		rw->bufs[i + 1] = uv_buf_init(iov[i].iov_base, (unsigned)iov[i].iov_len);
	rw->sent_cb = sent_cb;
	rw->sent_arg = arg;
	err = net_conn_write(&c->net, &rw->w, rw->bufs, niov + 1, write_cb);
	if (err < 0) {
		free(rw);
		goto fail_close;
	}
	/* Counted until written: RELAY_MAX_REQS bounds answers the relay has not read, too. */
	if (c->net.writes == 1)
		c->write_ms = uv_now(c->srv->loop);
	req_free(r);
	return 0;

fail_close:
	log_warnx_rl("relay: cannot answer request %u: %s", r->id, strerror(-err));
	req_unlink(r); /* answered: not to be cancelled by the close */
	conn_close(c);
fail:
	req_free(r);
	if (sent_cb)
		sent_cb(err, arg);
	return err;
}

static int relay_req_send_error(struct http_request *req, int status, bool close)
{
	/*
	 * The body an ordinary web server sends: the reason phrase and a newline, as the HTTP
	 * server answers. Static strings: nothing to free once written.
	 */
	const char *reason = http_status_reason(status);
	struct iovec b[2] = { { (void *)(uintptr_t)reason, strlen(reason) },
			      { (void *)(uintptr_t) "\n", 1 } };

	(void)close; /* the web server owns the client's connection */
	return relay_req_sendv(req, status, "text/plain", b, 2, NULL, NULL);
}

static void relay_req_set_cancel(struct http_request *req, http_cancel_cb cb, void *arg)
{
	struct relay_req *r = (struct relay_req *)req;

	r->cancel_cb = cb;
	r->cancel_arg = arg;
}

static uint8_t *relay_req_take_body(struct http_request *req, size_t *len)
{
	struct relay_req *r = (struct relay_req *)req;
	uint8_t *b = r->body;

	*len = req->body_len;
	r->body = NULL;
	req->body = NULL;
	req->body_len = 0;
	return b;
}

static const struct http_request_ops relay_req_ops = {
	.sendv = relay_req_sendv,
	.send_error = relay_req_send_error,
	.set_cancel = relay_req_set_cancel,
	.take_body = relay_req_take_body,
	.header = NULL,
};

/* The request's client is gone: a parked request is dropped through its cancel callback. */
static void req_cancel(struct relay_req *r)
{
	struct relay_server *rs = r->conn ? r->conn->srv : NULL;

	if (!r->cancel_cb) {
		/* Not parked: the handler answers it soon; the answer goes nowhere. */
		req_unlink(r);
		return;
	}
	if (rs)
		rs->stats.cancelled++;
	req_unlink(r);
	r->cancel_cb(&r->req, r->cancel_arg);
	free(r->body);
	free(r);
}

/* ---- connections ---- */

static void conn_closed_cb(struct net_conn *n)
{
	struct relay_conn *c = n->owner;
	struct relay_server *rs = c->srv;

	free(c);
	rs->handles--;
	server_maybe_free(rs);
}

static void conn_close(struct relay_conn *c)
{
	struct relay_server *rs = c->srv;

	if (c->net.closing)
		return;
	net_conn_close(&c->net); /* c lives until conn_closed_cb */
	while (!list_empty(&c->reqs))
		req_cancel(list_first_entry(&c->reqs, struct relay_req, link));
	list_remove(&c->link);
	rs->nconns--;
}

static void conn_broken(struct relay_conn *c, const char *why, int err)
{
	c->srv->stats.broken++;
	log_warnx_rl("relay: closing a relay connection: %s%s%s", why, err ? ": " : "",
		     err ? strerror(-err) : "");
	conn_close(c);
}

static void hello_cb(struct net_write *w, int status)
{
	(void)w;
	(void)status; /* a failed write shows up as a read error */
}

static int conn_hello(struct relay_conn *c, const struct relay_msg *m)
{
	struct writer w = writer_make(c->hello_out, sizeof(c->hello_out));
	uv_buf_t b;
	uint16_t version;
	int err;

	if (m->type != RELAY_HELLO || relay_hello_parse(m->payload, &version) < 0)
		return -EPROTO;
	if (version != RELAY_VERSION) {
		log_warnx_rl("relay: httun fcgi speaks relay version %u, this server %u: "
			     "run the same httun version on both sides",
			     version, RELAY_VERSION);
		return -EPROTONOSUPPORT;
	}
	relay_write_hello(&w);
	b = uv_buf_init((char *)c->hello_out, (unsigned)w.len);
	c->hello = true;
	/* Into the socket buffer at once, as a rule: no write request, nothing counted. */
	err = net_conn_send(&c->net, &c->hello_w, &b, 1, hello_cb);
	return err < 0 ? err : 0;
}

static int conn_request(struct relay_conn *c, const struct relay_msg *m)
{
	struct relay_server *rs = c->srv;
	struct relay_request rq;
	struct relay_req *r;
	bool over;
	int err;

	err = relay_request_parse(m->payload, &rq);
	if (err < 0)
		return err;
	if (req_find(c, m->id))
		return -EPROTO; /* ids are unique while in flight: replies go by id */
	/* Checked before the body is copied: a refused request costs no body memory. */
	over = c->nreqs + c->net.writes >= RELAY_MAX_REQS;
	r = calloc(1, sizeof(*r) + rq.target.len + 1);
	if (!r)
		return -ENOMEM;
	if (rq.body.len && !over) {
		r->body = malloc(rq.body.len);
		if (!r->body) {
			free(r);
			return -ENOMEM;
		}
		memcpy(r->body, rq.body.p, rq.body.len);
	}
	memcpy(r->method, rq.method.p, rq.method.len);
	memcpy(r->url, rq.target.p, rq.target.len);
	r->id = m->id;
	r->conn = c;
	list_insert_head(&c->reqs, &r->link);
	c->nreqs++;
	r->req.ops = &relay_req_ops;
	r->req.method_name = r->method;
	r->req.method = http_method_of(r->method);
	r->req.url = r->url;
	r->req.url_len = rq.target.len;
	r->req.body = r->body;
	r->req.body_len = r->body ? rq.body.len : 0;
	if (over) {
		/* Answered, not dropped: the relay's request table stays in step. */
		log_warnx_rl("relay: more than %d requests in flight; answering 503",
			     RELAY_MAX_REQS);
		relay_req_send_error(&r->req, 503, false);
		return 0;
	}
	rs->stats.requests++;
	rs->on_request(&r->req, rs->arg);
	return 0;
}

/* Handles one message; returns 0, or a negative errno that ends the connection. */
static int conn_message(struct relay_conn *c, const struct relay_msg *m)
{
	struct relay_req *r;

	if (!c->hello)
		return conn_hello(c, m);
	switch (m->type) {
	case RELAY_REQUEST:
		return conn_request(c, m);
	case RELAY_CANCEL:
		if (relay_cancel_parse(m->payload) < 0)
			return -EPROTO;
		r = req_find(c, m->id);
		if (r) /* else already answered: the answer and the cancel crossed */
			req_cancel(r);
		return 0;
	default:
		return -EPROTO; /* HELLO twice, RESPONSE, or a type of a later version */
	}
}

/*
 * Handles the complete messages in the read buffer, up to congestion: too many answers
 * wait for the relay to read them, so its requests wait (net/conn.h pauses reading, and
 * calls this again once the answers drain).
 */
static void conn_process(struct relay_conn *c)
{
	struct cursor cur = readbuf_cursor(&c->net.rb);
	struct relay_msg m;
	size_t need = 0;
	int ret = 0;

	while (!c->net.closing && !c->net.paused && (ret = relay_msg_next(&cur, &m, &need)) == 1) {
		/* Whole messages only: trickling a message byte by byte is not activity. */
		c->active_ms = uv_now(c->srv->loop);
		ret = conn_message(c, &m);
		if (ret < 0) {
			conn_broken(c, "protocol error", ret == -EPROTO ? 0 : ret);
			return;
		}
		/* The rest stays in the buffer until the answers drain. */
		net_conn_pause_if_congested(&c->net);
	}
	if (c->net.closing)
		return;
	if (ret < 0) {
		conn_broken(c, "unframeable message", ret);
		return;
	}
	readbuf_keep(&c->net.rb, cur);
	if (c->net.paused)
		return;
	/* need is bounded by relay_msg_next: the largest message the protocol allows. */
	ret = readbuf_fit(&c->net.rb, need);
	if (ret < 0)
		conn_broken(c, "out of memory", ret);
}

static void conn_drained_cb(struct net_conn *n)
{
	conn_process(n->owner);
}

static void conn_read_cb(struct net_conn *n, ssize_t nread, char *direct)
{
	struct relay_conn *c = n->owner;

	(void)direct;
	if (nread < 0) {
		if (nread != UV_EOF)
			log_warnx_rl("relay: read: %s", uv_strerror((int)nread));
		else
			log_debug("relay: a relay disconnected");
		conn_close(c);
		return;
	}
	c->read_ms = uv_now(c->srv->loop);
	conn_process(c);
}

static const struct net_conn_events conn_events = {
	.read = conn_read_cb,
	.drained = conn_drained_cb,
	.closed = conn_closed_cb,
};

static const struct net_conn_config conn_net_config = {
	.kind = NET_PIPE,
	.rb_base = RELAY_READ_BUF_BYTES,
	.rb_max = RELAY_HEADER_BYTES + RELAY_MAX_PAYLOAD_BYTES,
	.rb_shrink_after = RELAY_SHRINK_AFTER_READS,
	.max_writes = RELAY_MAX_REQS,
	.max_queued_bytes = RELAY_MAX_QUEUED_BYTES,
};

/*
 * Root and the --fcgi-user's uid, nothing else: a process that merely has that user's
 * group (as its primary group or not) is another user's, and every relay slot it could
 * take is one the web server's own relays lack (docs/FASTCGI.md "Peer credentials").
 */
static bool peer_allowed(const struct relay_server *rs, int fd, struct ucred *cred)
{
	socklen_t len = sizeof(*cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) < 0 || len != sizeof(*cred))
		return false;
	return cred->uid == 0 || (rs->cfg.allow_uid != (uid_t)-1 && cred->uid == rs->cfg.allow_uid);
}

/*
 * Which of two connections goes first at the cap: one without HELLO before any with
 * (httun fcgi sends it at once), then the one idle longest. A relay whose requests the
 * server holds (a parked long-poll) is never chosen: it is in use.
 */
static bool conn_evict_before(const struct relay_conn *a, const struct relay_conn *b)
{
	if (a->hello != b->hello)
		return !a->hello;
	return a->hello ? a->active_ms < b->active_ms : a->since_ms < b->since_ms;
}

/*
 * At the connection cap: closes the connection (other than fresh) that is not in use and
 * has been idle longest, so that a process holding connections without using them cannot
 * lock the real relays out. A relay closed so reconnects like after a restart. False if
 * every connection is in use.
 */
static bool conn_evict(struct relay_server *rs, const struct relay_conn *fresh)
{
	struct relay_conn *victim = NULL;
	struct list_node *n;

	list_for_each(n, &rs->conns) {
		struct relay_conn *c = list_entry(n, struct relay_conn, link);

		/* Newest first: of two alike, the older one (later in the list) goes. */
		if (c != fresh && c->nreqs == 0 && (!victim || !conn_evict_before(victim, c)))
			victim = c;
	}
	if (!victim)
		return false;
	rs->stats.evicted++;
	log_warnx_rl("relay: %d relay connections; closing the one idle longest (%s)",
		     RELAY_MAX_CONNS, victim->hello ? "after HELLO" : "no HELLO");
	conn_close(victim);
	return true;
}

static void refused_close_cb(uv_handle_t *h)
{
	struct relay_server *rs = h->data;

	free(h);
	rs->handles--;
	server_maybe_free(rs);
}

static void listener_connection_cb(uv_stream_t *lst, int status)
{
	struct relay_server *rs = lst->data;
	struct relay_conn *c;
	struct ucred cred = { 0 };
	uv_os_fd_t fd;

	if (status < 0) {
		log_warnx_rl("relay: accept: %s", uv_strerror(status));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c || net_conn_init(&c->net, rs->loop, &conn_net_config, &conn_events, c) < 0) {
		free(c);
		/* Take the connection off the backlog and close it, or it would spin. */
		uv_pipe_t *p = malloc(sizeof(*p));

		if (p && uv_pipe_init(rs->loop, p, 0) == 0) {
			p->data = rs;
			rs->handles++;
			uv_accept(lst, (uv_stream_t *)p);
			uv_close((uv_handle_t *)p, refused_close_cb);
		} else {
			free(p);
		}
		return;
	}
	c->srv = rs;
	list_init(&c->reqs);
	c->since_ms = c->read_ms = c->active_ms = uv_now(rs->loop);
	rs->handles++;
	list_insert_head(&rs->conns, &c->link);
	rs->nconns++;
	if (net_conn_accept(&c->net, lst) < 0) {
		conn_close(c);
		return;
	}
	if (uv_fileno(&c->net.io.handle, &fd) < 0 || !peer_allowed(rs, fd, &cred)) {
		rs->stats.refused++;
		/* The operator sees who tried: a relay run as the wrong user is a config error. */
		log_warnx_rl("relay: refused a relay from uid %u gid %u pid %d: not root and not "
			     "the fcgi-user's uid",
			     (unsigned)cred.uid, (unsigned)cred.gid, (int)cred.pid);
		conn_close(c);
		return;
	}
	if (rs->nconns > RELAY_MAX_CONNS && !conn_evict(rs, c)) {
		rs->stats.refused++;
		log_warnx_rl("relay: %d relay connections, all in use; refusing one",
			     RELAY_MAX_CONNS);
		conn_close(c);
		return;
	}
	rs->stats.accepted++;
	log_info("relay: httun fcgi connected (pid %d, uid %u)", (int)cred.pid, (unsigned)cred.uid);
	if (net_conn_read_start(&c->net) < 0)
		conn_close(c);
}

/* ---- server ---- */

static void timer_cb(uv_timer_t *t)
{
	struct relay_server *rs = t->data;
	uint64_t now = uv_now(rs->loop);
	struct list_node *n, *next;

	list_for_each_safe(n, next, &rs->conns) {
		struct relay_conn *c = list_entry(n, struct relay_conn, link);
		const char *why = NULL;

		if (!c->hello && now - c->since_ms >= rs->hello_timeout_ms)
			why = "no HELLO in time";
		else if (c->net.writes && now - c->write_ms >= rs->write_timeout_ms)
			why = "the relay does not read its answers";
		else if (!c->net.paused && !readbuf_empty(&c->net.rb) &&
			 now - c->read_ms >= rs->read_timeout_ms)
			why = "a message stalled half-way";
		else if (c->hello && c->nreqs == 0 && c->net.writes == 0 &&
			 now - c->active_ms >= rs->idle_timeout_ms)
			why = "idle"; /* httun fcgi reconnects before this: FCGI_RELAY_IDLE_MS */
		if (why) {
			rs->stats.timed_out++;
			log_warnx_rl("relay: closing a relay connection: %s", why);
			conn_close(c);
		}
	}
}

struct relay_server *relay_server_new(uv_loop_t *loop, const struct relay_server_config *cfg,
				      http_request_cb on_request, void *arg)
{
	struct relay_server *rs = calloc(1, sizeof(*rs));

	if (!rs)
		return NULL;
	rs->loop = loop;
	list_init(&rs->conns);
	rs->cfg = *cfg;
	rs->on_request = on_request;
	rs->arg = arg;
	rs->hello_timeout_ms =
		cfg->hello_timeout_ms ? cfg->hello_timeout_ms : RELAY_HELLO_TIMEOUT_MS;
	rs->read_timeout_ms = cfg->read_timeout_ms ? cfg->read_timeout_ms : RELAY_READ_TIMEOUT_MS;
	rs->write_timeout_ms =
		cfg->write_timeout_ms ? cfg->write_timeout_ms : RELAY_WRITE_TIMEOUT_MS;
	rs->idle_timeout_ms = cfg->idle_timeout_ms ? cfg->idle_timeout_ms : RELAY_IDLE_TIMEOUT_MS;
	if (uv_timer_init(loop, &rs->timer) < 0) {
		free(rs);
		return NULL;
	}
	rs->timer.data = rs;
	rs->handles++;
	return rs;
}

static void server_handle_close_cb(uv_handle_t *h)
{
	struct relay_server *rs = h->data;

	rs->handles--;
	server_maybe_free(rs);
}

int relay_server_listen(struct relay_server *rs, const char *path)
{
	int err;

	if (rs->listening)
		return -EALREADY;
	if (path[0] != '/')
		return -EINVAL;
	err = unixsock_make_dir(path, rs->cfg.sock_gid);
	if (err < 0)
		return err;
	if (err == 1)
		log_info("relay: created the directory of %s (mode 0750)", path);
	err = uv_pipe_init(rs->loop, &rs->listener, 0);
	if (err < 0)
		return err;
	rs->listener.data = rs;
	rs->handles++;
	rs->listening = true;
	/*
	 * Group members may connect, nobody else; of those, the credential check on accept
	 * admits root and allow_uid only.
	 */
	err = net_listen_unix(&rs->listener, "relay socket", path, rs->cfg.sock_gid,
			      listener_connection_cb);
	if (err < 0)
		return err;
	rs->path = strdup(path);
	if (!rs->path)
		return -ENOMEM;
	return uv_timer_start(&rs->timer, timer_cb, RELAY_TICK_MS, RELAY_TICK_MS);
}

const struct relay_server_stats *relay_server_stats(const struct relay_server *rs)
{
	return &rs->stats;
}

void relay_server_free(struct relay_server *rs)
{
	if (!rs)
		return;
	rs->freeing = true;
	while (!list_empty(&rs->conns))
		conn_close(list_first_entry(&rs->conns, struct relay_conn, link));
	if (rs->listening) {
		if (rs->path)
			unlink(rs->path);
		uv_close((uv_handle_t *)&rs->listener, server_handle_close_cb);
	}
	uv_close((uv_handle_t *)&rs->timer, server_handle_close_cb);
	server_maybe_free(rs);
}
