/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* A byte stream's life: net/conn.h, docs/DESIGN.md "Connections". */
#include "net/conn.h"

#include <errno.h>
#include <string.h>

/* ---- the plain transport: libuv's stream calls as they are ---- */

static void plain_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)hint;
	net_conn_alloc(h->data, buf);
}

static void plain_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	net_conn_deliver(s->data, nread, buf);
}

static int plain_read_start(struct net_conn *c)
{
	return uv_read_start(&c->io.stream, plain_alloc_cb, plain_read_cb);
}

static void plain_read_stop(struct net_conn *c)
{
	uv_read_stop(&c->io.stream);
}

static void plain_write_cb(uv_write_t *req, int status)
{
	net_conn_write_done(req->data, status);
}

static int plain_write(struct net_conn *c, struct net_write *w, const uv_buf_t *bufs,
		       unsigned nbufs)
{
	w->req.data = w;
	return uv_write(&w->req, &c->io.stream, bufs, nbufs, plain_write_cb);
}

static int plain_try_write(struct net_conn *c, const uv_buf_t *bufs, unsigned nbufs)
{
	return uv_try_write(&c->io.stream, bufs, nbufs);
}

static int plain_shutdown(struct net_conn *c)
{
	return uv_shutdown(&c->shutdown_req, &c->io.stream, NULL);
}

static size_t plain_queued_bytes(const struct net_conn *c)
{
	return c->io.stream.write_queue_size;
}

static void plain_close_cb(uv_handle_t *h)
{
	net_conn_handle_closed(h->data);
}

static void plain_close(struct net_conn *c)
{
	uv_close(&c->io.handle, plain_close_cb);
}

const struct net_transport net_transport_plain = {
	.read_start = plain_read_start,
	.read_stop = plain_read_stop,
	.write = plain_write,
	.try_write = plain_try_write,
	.shutdown = plain_shutdown,
	.queued_bytes = plain_queued_bytes,
	.close = plain_close,
};

/* ---- life ---- */

int net_conn_init(struct net_conn *c, uv_loop_t *loop, const struct net_conn_config *cfg,
		  const struct net_conn_events *ev, void *owner)
{
	int err;

	memset(c, 0, sizeof(*c));
	err = readbuf_init(&c->rb, cfg->rb_base, cfg->rb_max, cfg->rb_shrink_after);
	if (err < 0)
		return err;
	c->tcp = cfg->kind == NET_TCP;
	err = c->tcp ? uv_tcp_init(loop, &c->io.tcp) : uv_pipe_init(loop, &c->io.pipe, 0);
	if (err < 0) {
		readbuf_close(&c->rb);
		return err;
	}
	c->io.handle.data = c;
	c->handles = 1;
	if (cfg->timer) {
		uv_timer_init(loop, &c->timer); /* cannot fail */
		c->timer.data = c;
		c->handles++;
		c->has_timer = true;
	}
	c->tr = &net_transport_plain;
	c->ev = ev;
	c->owner = owner;
	c->nodelay = cfg->nodelay;
	c->max_queued_bytes = cfg->max_queued_bytes;
	c->max_writes = cfg->max_writes;
	return 0;
}

static void conn_handle_close_cb(uv_handle_t *h)
{
	net_conn_handle_closed(h->data);
}

void net_conn_handle_closed(struct net_conn *c)
{
	if (--c->handles > 0)
		return;
	readbuf_close(&c->rb);
	c->ev->closed(c);
}

void net_conn_close(struct net_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	c->reading = false;
	c->tr->close(c);
	if (c->has_timer)
		uv_close((uv_handle_t *)&c->timer, conn_handle_close_cb);
}

int net_conn_accept(struct net_conn *c, uv_stream_t *listener)
{
	int err = uv_accept(listener, &c->io.stream);

	if (err == 0 && c->tcp && c->nodelay)
		uv_tcp_nodelay(&c->io.tcp, 1);
	return err;
}

int net_conn_open_fd(struct net_conn *c, int fd)
{
	return c->tcp ? uv_tcp_open(&c->io.tcp, fd) : uv_pipe_open(&c->io.pipe, fd);
}

static void conn_connect_cb(uv_connect_t *req, int status)
{
	struct net_conn *c = req->data;

	if (c->closing)
		return; /* closed while connecting: the owner knows */
	if (status == 0) {
		if (c->tcp && c->nodelay)
			uv_tcp_nodelay(&c->io.tcp, 1);
		status = net_conn_read_start(c);
	}
	c->ev->connected(c, status);
}

int net_conn_connect(struct net_conn *c, const struct sockaddr *addr, const char *path)
{
	c->connect_req.data = c;
	if (c->tcp)
		return uv_tcp_connect(&c->connect_req, &c->io.tcp, addr, conn_connect_cb);
	uv_pipe_connect(&c->connect_req, &c->io.pipe, path, conn_connect_cb);
	return 0;
}

/* ---- reading ---- */

int net_conn_read_start(struct net_conn *c)
{
	int err;

	if (c->reading || c->closing)
		return 0;
	err = c->tr->read_start(c);
	if (err == 0)
		c->reading = true;
	return err;
}

void net_conn_read_stop(struct net_conn *c)
{
	if (!c->reading)
		return;
	c->tr->read_stop(c);
	c->reading = false;
}

void net_conn_alloc(struct net_conn *c, uv_buf_t *buf)
{
	struct readbuf *rb = &c->rb;

	if (c->ev->alloc && c->ev->alloc(c, buf))
		return;
	readbuf_compact(rb);
	*buf = uv_buf_init((char *)rb->p + rb->len, (unsigned)(rb->cap - rb->len));
}

void net_conn_deliver(struct net_conn *c, ssize_t nread, const uv_buf_t *buf)
{
	struct readbuf *rb = &c->rb;

	if (c->closing || nread == 0)
		return;
	if (nread > 0 && (uint8_t *)buf->base == rb->p + rb->len) {
		rb->len += (size_t)nread;
		c->ev->read(c, nread, NULL);
		return;
	}
	c->ev->read(c, nread, nread > 0 ? buf->base : NULL);
}

/* ---- writing ---- */

int net_conn_write(struct net_conn *c, struct net_write *w, const uv_buf_t *bufs, unsigned nbufs,
		   net_write_cb cb)
{
	int err;

	w->conn = c;
	w->cb = cb;
	err = c->tr->write(c, w, bufs, nbufs);
	if (err == 0)
		c->writes++;
	return err;
}

/*
 * A message that fits the socket buffer (every small one) is then done without a write
 * request: no completion runs on a later loop turn, and libuv has no POLLOUT interest to
 * drop with an epoll_ctl(2) afterwards. Both sat on an idle ping's path
 * (docs/PERFORMANCE.md).
 */
int net_conn_send(struct net_conn *c, struct net_write *w, uv_buf_t *bufs, unsigned nbufs,
		  net_write_cb cb)
{
	int sent = c->tr->try_write(c, bufs, nbufs);
	size_t skip = sent > 0 ? (size_t)sent : 0;
	int err;

	if (sent < 0 && sent != UV_EAGAIN)
		return sent;
	while (nbufs > 0 && skip >= bufs->len) {
		skip -= bufs->len;
		bufs++;
		nbufs--;
	}
	if (nbufs == 0)
		return 1;
	bufs->base += skip;
	bufs->len -= skip;
	err = net_conn_write(c, w, bufs, nbufs, cb);
	return err < 0 ? err : 0;
}

int net_conn_try_write(struct net_conn *c, const uv_buf_t *bufs, unsigned nbufs)
{
	return c->tr->try_write(c, bufs, nbufs);
}

int net_conn_shutdown(struct net_conn *c)
{
	return c->tr->shutdown(c);
}

size_t net_conn_queued_bytes(const struct net_conn *c)
{
	return c->tr->queued_bytes(c);
}

bool net_conn_congested(const struct net_conn *c)
{
	return (c->max_writes && c->writes >= c->max_writes) ||
	       (c->max_queued_bytes && net_conn_queued_bytes(c) > c->max_queued_bytes);
}

bool net_conn_pause_if_congested(struct net_conn *c)
{
	if (!c->paused && !c->closing && net_conn_congested(c)) {
		c->paused = true;
		net_conn_read_stop(c);
	}
	return c->paused;
}

/*
 * Runs before the connection's last close callback even when the close cancelled the
 * write (libuv flushes the write queue first), so w->conn is still there.
 */
void net_conn_write_done(struct net_write *w, int status)
{
	struct net_conn *c = w->conn;
	int err;

	c->writes--;
	w->cb(w, status);
	if (!c->paused || c->closing || net_conn_congested(c))
		return;
	c->paused = false;
	if (c->ev->drained)
		c->ev->drained(c);
	if (c->closing || c->paused)
		return;
	err = net_conn_read_start(c);
	if (err < 0)
		c->ev->read(c, err, NULL);
}

/* ---- the deadline ---- */

static void conn_timer_cb(uv_timer_t *t)
{
	struct net_conn *c = t->data;
	uint64_t now = uv_now(c->timer.loop);

	if (c->deadline_ms == 0)
		return;
	if (now < c->deadline_ms) {
		uv_timer_start(&c->timer, conn_timer_cb, c->deadline_ms - now, 0);
		c->timer_due_ms = c->deadline_ms;
		return;
	}
	c->deadline_ms = 0;
	c->ev->timeout(c);
}

void net_conn_deadline_at(struct net_conn *c, uint64_t due_ms)
{
	uint64_t now = uv_now(c->timer.loop);

	c->deadline_ms = due_ms;
	if (!uv_is_active((uv_handle_t *)&c->timer) || due_ms < c->timer_due_ms) {
		uv_timer_start(&c->timer, conn_timer_cb, due_ms > now ? due_ms - now : 0, 0);
		c->timer_due_ms = due_ms;
	}
}

void net_conn_deadline(struct net_conn *c, uint64_t ms)
{
	net_conn_deadline_at(c, uv_now(c->timer.loop) + ms);
}

void net_conn_deadline_clear(struct net_conn *c)
{
	c->deadline_ms = 0;
}
