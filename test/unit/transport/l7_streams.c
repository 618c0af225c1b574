/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * L7 streams over two real tunnel endpoints with a real session, without HTTP: a pump
 * (uv_idle) seals each endpoint's frames and hands them to the other side, and can
 * reorder or drop them. The applications are libuv TCP sockets on loopback: test clients
 * that connect to the client's forward, and an echo target behind the server.
 */
#include "transport/l7_streams.h"
#include "core/log.h"
#include "core/session.h"

#include "core/l7.h"

#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define MAX_APPS 16

static uint8_t pattern_byte(unsigned seed, size_t i)
{
	return (uint8_t)(i * 7 + seed * 13 + (i >> 9));
}

/* ---- the pump: frames from one endpoint to the other ---- */

struct held {
	uint8_t *p;
	size_t len;
};

struct pump {
	uv_idle_t idle;
	struct tunnel_endpoint *ep[2]; /* 0 client, 1 server */
	struct index_table *ix[2];
	unsigned frames[2];
	unsigned turns;
	bool reorder;
	bool drop_big_c2s; /* drop one large client-to-server frame (data) */
	bool drop_first_s2c; /* drop the server's first frame (its first L7_WINDOW) */
	unsigned dropped;
	struct held held[2];
};

static void pump_give(struct pump *pm, int d, uint8_t *p, size_t len)
{
	struct tunnel_rx rx;

	tunnel_receive_body(pm->ix[1 - d], p, len, clock_now_ms(), &rx);
	assert_int_equal(rx.opened, 1);
	free(p);
}

static void pump_idle_cb(uv_idle_t *h)
{
	struct pump *pm = h->data;

	pm->turns++;
	for (int d = 0; d < 2; d++) {
		struct tunnel_endpoint *ep = pm->ep[d];
		struct held now[TUNNEL_BODY_MAX_FRAMES];
		unsigned n = 0, nb;
		struct fbuf *list, *b;
		size_t bytes;

		if (ep->dirty)
			tunnel_endpoint_seal(ep, clock_now_ms());
		list = frameq_take(&ep->send, SIZE_MAX, TUNNEL_BODY_MAX_FRAMES, &bytes, &nb);
		for (b = list; b; b = b->next) {
			uint8_t *copy = malloc(b->len);

			assert_non_null(copy);
			memcpy(copy, b->data, b->len);
			pm->frames[d]++;
			if (d == 0 && pm->drop_big_c2s && !pm->dropped && pm->frames[0] > 3 &&
			    b->len > 20000) {
				pm->dropped++;
				free(copy);
				continue;
			}
			if (d == 1 && pm->drop_first_s2c && pm->frames[1] == 1) {
				pm->dropped++;
				free(copy);
				continue;
			}
			now[n].p = copy;
			now[n++].len = b->len;
		}
		if (list)
			frameq_release(&ep->send, list);
		if (pm->reorder) {
			/* Backwards within a turn, and every other turn one frame waits a turn. */
			unsigned first = 0;

			if (n && !pm->held[d].p && pm->turns % 2 == 0) {
				pm->held[d] = now[n - 1];
				n--;
				first = 0;
			} else if (pm->held[d].p) {
				pump_give(pm, d, pm->held[d].p, pm->held[d].len);
				pm->held[d].p = NULL;
			}
			for (unsigned i = n; i > first; i--)
				pump_give(pm, d, now[i - 1].p, now[i - 1].len);
		} else {
			for (unsigned i = 0; i < n; i++)
				pump_give(pm, d, now[i].p, now[i].len);
		}
		tunnel_endpoint_unpause(ep);
	}
}

/* ---- the echo target behind the server ---- */

struct target {
	uv_tcp_t listener;
	unsigned accepts;
	uint16_t port;
};

struct echo {
	uv_tcp_t tcp;
	uv_shutdown_t sh;
	unsigned writes;
	bool eof;
};

struct echo_w {
	uv_write_t req;
	struct echo *e;
	char data[];
};

static void echo_close_cb(uv_handle_t *h)
{
	free(h->data);
}

static void echo_shut_cb(uv_shutdown_t *req, int status)
{
	struct echo *e = req->data;

	(void)status;
	uv_close((uv_handle_t *)&e->tcp, echo_close_cb);
}

static void echo_alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
	(void)h;
	buf->base = malloc(sz);
	buf->len = buf->base ? sz : 0;
}

static void echo_write_cb(uv_write_t *req, int status)
{
	(void)status;
	free(req->data);
}

static void echo_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct echo *e = s->data;

	if (nread > 0) {
		struct echo_w *w = malloc(sizeof(*w) + (size_t)nread);
		uv_buf_t b;

		assert_non_null(w);
		memcpy(w->data, buf->base, (size_t)nread);
		w->req.data = w;
		w->e = e;
		b = uv_buf_init(w->data, (unsigned)nread);
		uv_write(&w->req, s, &b, 1, echo_write_cb);
	} else if (nread == UV_EOF) {
		e->sh.data = e;
		if (uv_shutdown(&e->sh, s, echo_shut_cb) < 0)
			uv_close((uv_handle_t *)s, echo_close_cb);
	} else if (nread < 0) {
		uv_close((uv_handle_t *)s, echo_close_cb);
	}
	free(buf->base);
}

static void target_conn_cb(uv_stream_t *l, int status)
{
	struct target *t = l->data;
	struct echo *e = calloc(1, sizeof(*e));

	assert_int_equal(status, 0);
	assert_non_null(e);
	uv_tcp_init(l->loop, &e->tcp);
	e->tcp.data = e;
	assert_int_equal(uv_accept(l, (uv_stream_t *)&e->tcp), 0);
	t->accepts++;
	uv_read_start((uv_stream_t *)&e->tcp, echo_alloc_cb, echo_read_cb);
}

static void target_start(uv_loop_t *loop, struct target *t)
{
	struct sockaddr_in a;
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	memset(t, 0, sizeof(*t));
	uv_ip4_addr("127.0.0.1", 0, &a);
	uv_tcp_init(loop, &t->listener);
	t->listener.data = t;
	assert_int_equal(uv_tcp_bind(&t->listener, (struct sockaddr *)&a, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&t->listener, 64, target_conn_cb), 0);
	uv_tcp_getsockname(&t->listener, (struct sockaddr *)&ss, &len);
	t->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* ---- the applications on the client side ---- */

struct app {
	uv_tcp_t tcp;
	uv_connect_t conn;
	uv_write_t w;
	uv_shutdown_t sh;
	unsigned seed;
	size_t size;
	uint8_t *out, *in;
	size_t got;
	int err; /* first error seen */
	bool eof, closed, mismatch;
};

static void app_close_cb(uv_handle_t *h)
{
	struct app *a = h->data;

	a->closed = true;
}

static void app_finish(struct app *a, int err)
{
	if (err && !a->err)
		a->err = err;
	if (!uv_is_closing((uv_handle_t *)&a->tcp))
		uv_close((uv_handle_t *)&a->tcp, app_close_cb);
}

static void app_alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
	struct app *a = h->data;

	(void)sz;
	static char extra[64]; /* bytes beyond what was sent land here and count as extra */

	if (a->got < a->size)
		*buf = uv_buf_init((char *)a->in + a->got, (unsigned)(a->size - a->got));
	else
		*buf = uv_buf_init(extra, sizeof(extra));
}

static void app_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct app *a = s->data;

	if (nread > 0) {
		if (buf->base < (char *)a->in || buf->base >= (char *)a->in + a->size)
			a->mismatch = true;
		a->got += (size_t)nread;
		return;
	}
	if (nread == UV_EOF) {
		a->eof = true;
		a->mismatch =
			a->mismatch || a->got != a->size || memcmp(a->in, a->out, a->size) != 0;
		app_finish(a, 0);
	} else if (nread < 0) {
		app_finish(a, (int)nread);
	}
}

static void app_shut_cb(uv_shutdown_t *req, int status)
{
	struct app *a = req->data;

	if (status < 0)
		app_finish(a, status);
}

static void app_write_cb(uv_write_t *req, int status)
{
	struct app *a = req->data;

	if (status < 0) {
		app_finish(a, status);
		return;
	}
	a->sh.data = a;
	uv_shutdown(&a->sh, (uv_stream_t *)&a->tcp, app_shut_cb);
}

static void app_connect_cb(uv_connect_t *req, int status)
{
	struct app *a = req->data;
	uv_buf_t b = uv_buf_init((char *)a->out, (unsigned)a->size);

	if (status < 0) {
		app_finish(a, status);
		return;
	}
	uv_read_start((uv_stream_t *)&a->tcp, app_alloc_cb, app_read_cb);
	a->w.data = a;
	if (uv_write(&a->w, (uv_stream_t *)&a->tcp, &b, 1, app_write_cb) < 0)
		app_finish(a, UV_EIO);
}

static void app_start(uv_loop_t *loop, struct app *a, unsigned seed, size_t size,
		      const struct sockaddr_storage *fwd)
{
	memset(a, 0, sizeof(*a));
	a->seed = seed;
	a->size = size;
	a->out = malloc(size);
	a->in = malloc(size);
	assert_non_null(a->out);
	assert_non_null(a->in);
	for (size_t i = 0; i < size; i++)
		a->out[i] = pattern_byte(seed, i);
	uv_tcp_init(loop, &a->tcp);
	a->tcp.data = a;
	a->conn.data = a;
	assert_int_equal(
		uv_tcp_connect(&a->conn, &a->tcp, (const struct sockaddr *)fwd, app_connect_cb), 0);
}

/* ---- one scenario ---- */

struct world {
	uv_loop_t loop;
	struct index_table *ix[2];
	struct tunnel_endpoint ep[2];
	struct l7_streams *ls[2];
	struct policy policy;
	struct pump pump;
	struct target target;
	struct app apps[MAX_APPS];
	unsigned napps;
	uv_timer_t check;
	uint64_t deadline_ms;
	bool timed_out;
};

static void world_check_cb(uv_timer_t *t)
{
	struct world *w = t->data;
	bool all = true;

	for (unsigned i = 0; i < w->napps; i++)
		all = all && w->apps[i].closed;
	if (all && l7_streams_count(w->ls[0]) == 0 && l7_streams_count(w->ls[1]) == 0) {
		uv_stop(&w->loop);
		return;
	}
	if (clock_now_ms() > w->deadline_ms) {
		w->timed_out = true;
		uv_stop(&w->loop);
	}
}

static void world_init(struct world *w, const char *rule_net, bool target_port_rule,
		       uint64_t window)
{
	static const uint8_t psk[PSK_BYTES] = { 1, 2, 3 };
	struct tunnel_io io = { 0 };
	struct config_forward fwd = { 0 };
	struct l7_streams_config sc = { .name = "server", .server = true, .gap_timeout_ms = 300 };
	struct l7_streams_config cc = { .name = "client", .forwards = &fwd, .n_forwards = 1 };
	struct policy_rule rule;
	uint8_t init[MSG_INIT_BYTES], resp[MSG_RESPONSE_BYTES];
	char err[256], text[64];
	uint64_t now = clock_now_ms();

	memset(w, 0, sizeof(*w));
	assert_int_equal(uv_loop_init(&w->loop), 0);
	target_start(&w->loop, &w->target);
	for (int i = 0; i < 2; i++) {
		w->ix[i] = index_new();
		assert_non_null(w->ix[i]);
		assert_int_equal(tunnel_endpoint_init(&w->ep[i], i ? "server" : "client",
						      i ? PEER_RESPONDER : PEER_INITIATOR, psk,
						      w->ix[i], &io),
				 0);
	}
	assert_int_equal(peer_handshake_start(w->ep[0].peer, init, clock_realtime_ns(), now), 0);
	assert_int_equal(peer_handle_init(w->ep[1].peer, init, sizeof(init), resp, now), 0);
	assert_int_equal(peer_handle_response(w->ep[0].peer, resp, sizeof(resp), now), 0);

	policy_init(&w->policy);
	snprintf(text, sizeof(text), "%s:%u", rule_net,
		 target_port_rule ? w->target.port : (unsigned)(w->target.port ^ 1));
	assert_int_equal(policy_rule_parse(text, &rule, err, sizeof(err)), 0);
	assert_int_equal(policy_add(&w->policy, &rule), 0);
	sc.policy = &w->policy;
	sc.window_bytes = window;
	assert_int_equal(l7_streams_new(&w->ls[1], &w->loop, &sc, err, sizeof(err)), 0);
	l7_streams_attach(w->ls[1], &w->ep[1]);

	uv_ip4_addr("127.0.0.1", 0, (struct sockaddr_in *)&fwd.bind);
	snprintf(fwd.host, sizeof(fwd.host), "127.0.0.1");
	fwd.port = w->target.port;
	cc.gap_timeout_ms = 300;
	cc.window_bytes = window;
	sc.window_bytes = window;
	assert_int_equal(l7_streams_new(&w->ls[0], &w->loop, &cc, err, sizeof(err)), 0);
	l7_streams_attach(w->ls[0], &w->ep[0]);

	w->pump.ep[0] = &w->ep[0];
	w->pump.ep[1] = &w->ep[1];
	w->pump.ix[0] = w->ix[0];
	w->pump.ix[1] = w->ix[1];
	uv_idle_init(&w->loop, &w->pump.idle);
	w->pump.idle.data = &w->pump;
	uv_idle_start(&w->pump.idle, pump_idle_cb);
	uv_timer_init(&w->loop, &w->check);
	w->check.data = w;
	uv_timer_start(&w->check, world_check_cb, 20, 20);
}

static void world_run(struct world *w, unsigned napps, size_t size)
{
	struct sockaddr_storage fwd;

	assert_int_equal(l7_streams_forward_addr(w->ls[0], 0, &fwd), 0);
	w->napps = napps;
	for (unsigned i = 0; i < napps; i++)
		app_start(&w->loop, &w->apps[i], i + 1, size, &fwd);
	w->deadline_ms = clock_now_ms() + 30000;
	uv_run(&w->loop, UV_RUN_DEFAULT);
	assert_false(w->timed_out);
}

static void world_close(struct world *w)
{
	for (unsigned i = 0; i < w->napps; i++) {
		free(w->apps[i].out);
		free(w->apps[i].in);
	}
	for (int d = 0; d < 2; d++)
		free(w->pump.held[d].p);
	l7_streams_free(w->ls[0]);
	l7_streams_free(w->ls[1]);
	uv_close((uv_handle_t *)&w->pump.idle, NULL);
	uv_close((uv_handle_t *)&w->check, NULL);
	uv_close((uv_handle_t *)&w->target.listener, NULL);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&w->loop), 0);
	for (int i = 0; i < 2; i++) {
		tunnel_endpoint_close(&w->ep[i]);
		index_free(w->ix[i]);
	}
	policy_close(&w->policy);
}

static void assert_all_intact(const struct world *w)
{
	for (unsigned i = 0; i < w->napps; i++) {
		const struct app *a = &w->apps[i];

		assert_int_equal(a->err, 0);
		assert_true(a->eof);
		assert_int_equal(a->got, a->size);
		assert_false(a->mismatch);
	}
}

static int setup(void **state)
{
	(void)state;
	if (session_crypto_init() < 0) {
		print_message("no AES-NI: skipped\n");
		exit(77);
	}
	return 0;
}

/*
 * ---- a server alone, fed records by hand ----
 * A hostile client in a test: records go straight into the server's l7 hook, without
 * frames; the target behind the server accepts and never reads, with a small receive
 * buffer, so the server's writes to it stall soon.
 */
struct raw {
	uv_loop_t loop;
	struct index_table *ix[2];
	struct tunnel_endpoint ep[2];
	struct l7_streams *ls;
	struct policy policy;
	uv_tcp_t listener, sink;
	unsigned accepts;
	uint16_t port;
	ssize_t sink_status; /* what the sink's read saw last */
};

static void raw_conn_cb(uv_stream_t *l, int status)
{
	struct raw *r = l->data;

	assert_int_equal(status, 0);
	assert_int_equal(r->accepts, 0);
	uv_tcp_init(l->loop, &r->sink);
	r->sink.data = r;
	assert_int_equal(uv_accept(l, (uv_stream_t *)&r->sink), 0);
	r->accepts++; /* never read */
}

/* A server channel's streams, sharing budget (NULL: none) with other channels. */
static void raw_init_budget(struct raw *r, uint64_t window, struct l7_budget *budget)
{
	static const uint8_t psk[PSK_BYTES] = { 9, 8, 7 };
	struct l7_streams_config sc = { .name = "raw", .server = true, .budget = budget };
	uint8_t init[MSG_INIT_BYTES], resp[MSG_RESPONSE_BYTES];
	struct tunnel_io io = { 0 };
	struct sockaddr_storage ss;
	struct sockaddr_in a;
	struct policy_rule rule;
	char err[128];
	int len = sizeof(ss), small = 4096;
	uint64_t now = clock_now_ms();
	uv_os_fd_t fd;

	memset(r, 0, sizeof(*r));
	assert_int_equal(uv_loop_init(&r->loop), 0);
	uv_ip4_addr("127.0.0.1", 0, &a);
	uv_tcp_init(&r->loop, &r->listener);
	r->listener.data = r;
	assert_int_equal(uv_tcp_bind(&r->listener, (struct sockaddr *)&a, 0), 0);
	assert_int_equal(uv_fileno((uv_handle_t *)&r->listener, &fd), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	assert_int_equal(uv_listen((uv_stream_t *)&r->listener, 8, raw_conn_cb), 0);
	uv_tcp_getsockname(&r->listener, (struct sockaddr *)&ss, &len);
	r->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	for (int i = 0; i < 2; i++) {
		r->ix[i] = index_new();
		assert_non_null(r->ix[i]);
		assert_int_equal(tunnel_endpoint_init(&r->ep[i], i ? "server" : "client",
						      i ? PEER_RESPONDER : PEER_INITIATOR, psk,
						      r->ix[i], &io),
				 0);
	}
	assert_int_equal(peer_handshake_start(r->ep[0].peer, init, clock_realtime_ns(), now), 0);
	assert_int_equal(peer_handle_init(r->ep[1].peer, init, sizeof(init), resp, now), 0);
	assert_int_equal(peer_handle_response(r->ep[0].peer, resp, sizeof(resp), now), 0);
	/* The client's first frame confirms the session: the server may send from now. */
	{
		struct fbuf *list;
		struct tunnel_rx rx;
		size_t bytes;
		unsigned nb;

		assert_int_equal(tunnel_endpoint_keepalive(&r->ep[0], now), 0);
		list = frameq_take(&r->ep[0].send, SIZE_MAX, 1, &bytes, &nb);
		assert_non_null(list);
		tunnel_receive_body(r->ix[1], list->data, list->len, now, &rx);
		assert_int_equal(rx.opened, 1);
		frameq_release(&r->ep[0].send, list);
	}
	policy_init(&r->policy);
	assert_int_equal(policy_rule_parse("127.0.0.1", &rule, err, sizeof(err)), 0);
	assert_int_equal(policy_add(&r->policy, &rule), 0);
	sc.policy = &r->policy;
	sc.window_bytes = window;
	assert_int_equal(l7_streams_new(&r->ls, &r->loop, &sc, err, sizeof(err)), 0);
	l7_streams_attach(r->ls, &r->ep[1]);
}

static void raw_init(struct raw *r, uint64_t window)
{
	raw_init_budget(r, window, NULL);
}

static void raw_record(struct raw *r, uint8_t type, const uint8_t *body, size_t len)
{
	(void)r->ep[1].io.l7_record(r->ep[1].io.l7_ctx, type, (struct span){ body, len });
}

static void raw_spin(struct raw *r, unsigned turns)
{
	for (unsigned i = 0; i < turns; i++)
		uv_run(&r->loop, UV_RUN_NOWAIT);
}

/* L7_OPEN id to 127.0.0.1:port, no waiting. */
static void raw_open_to(struct raw *r, uint32_t id, uint16_t port)
{
	uint8_t b[6 + 9];

	store_be32(b, id);
	store_be16(b + 4, port);
	memcpy(b + 6, "127.0.0.1", 9);
	raw_record(r, REC_L7_OPEN, b, sizeof(b));
}

/* L7_OPEN id to the sink; returns once the server is connected. */
static void raw_open(struct raw *r, uint32_t id)
{
	uint64_t t0 = clock_now_ms();

	raw_open_to(r, id, r->port);
	while (!r->accepts && clock_now_ms() - t0 < 5000)
		uv_run(&r->loop, UV_RUN_ONCE);
	raw_spin(r, 20);
	assert_int_equal(r->accepts, 1);
	assert_int_equal(l7_streams_count(r->ls), 1);
}

static void raw_data(struct raw *r, uint32_t id, uint64_t off, const void *data, size_t len)
{
	uint8_t b[13 + 64];

	assert_true(len <= 64);
	store_be32(b, id);
	b[4] = 0;
	store_be64(b + 5, off);
	memcpy(b + 13, data, len);
	raw_record(r, REC_L7_DATA, b, 13 + len);
}

static void raw_close(struct raw *r)
{
	l7_streams_free(r->ls);
	if (r->accepts)
		uv_close((uv_handle_t *)&r->sink, NULL);
	uv_close((uv_handle_t *)&r->listener, NULL);
	uv_run(&r->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&r->loop), 0);
	for (int i = 0; i < 2; i++) {
		tunnel_endpoint_close(&r->ep[i]);
		index_free(r->ix[i]);
	}
	policy_close(&r->policy);
}

/*
 * 1-byte records to a target that does not read, after enough data to fill the kernel's
 * socket buffers: the server holds about the bytes it has not written (one pending buffer
 * and one write), not a write request per record (that was ~224 bytes of heap per byte).
 */
static void test_small_records_bounded(void **state)
{
	const uint64_t big = 12 << 20, small = 256 << 10;
	static const uint8_t chunk[64];
	struct raw r;
	size_t before, after;
	uint64_t off = 0;

	(void)state;
	raw_init(&r, 32 << 20);
	raw_open(&r, 77);
	before = mallinfo2().uordblks;
	for (; off < big; off += sizeof(chunk)) {
		raw_data(&r, 77, off, chunk, sizeof(chunk));
		if (off % (1 << 20) == 0)
			raw_spin(&r, 5);
	}
	for (; off < big + small; off++) {
		raw_data(&r, 77, off, "x", 1);
		if (off % 4096 == 0)
			raw_spin(&r, 1);
	}
	raw_spin(&r, 50);
	after = mallinfo2().uordblks;
	assert_int_equal(l7_streams_count(r.ls), 1);
	print_message("heap for %llu bytes in 64- and 1-byte records: %zu bytes\n",
		      (unsigned long long)off, after - before);
	/* Under AddressSanitizer malloc is not glibc's: mallinfo2 sees nothing there. */
	assert_true(after - before < 2 * off + (1 << 20));
	raw_close(&r);
}

/*
 * A client that floods records for streams the server does not know and never polls:
 * the resets that answer them stop at the send queue's bound (dropped, counted), and
 * even control records stop at the hard cap beyond it.
 */
static void test_answer_flood_bounded(void **state)
{
	struct raw r;
	struct frameq *q;
	uint8_t b[13 + 1] = { 0 };
	size_t cap;
	unsigned n;

	(void)state;
	raw_init(&r, 0);
	q = &r.ep[1].send;
	cap = q->max_queued_bytes;
	/* 8 bytes of reset each: this many would queue twice the bound without it. */
	n = (unsigned)(2 * cap / L7_RESET_BYTES + 1000);
	for (unsigned i = 1; i <= n; i++) {
		store_be32(b, i);
		raw_record(&r, REC_L7_DATA, b, sizeof(b));
	}
	print_message("queued after %u unknown-stream records: %zu bytes (bound %zu)\n", n,
		      q->queued_bytes, cap);
	assert_true(q->queued_bytes + q->buf_cap <= cap + TUNNEL_FRAME_PLAINTEXT_BYTES * 2);
	/* Control records: past the queue bound, up to the hard cap, then refused. */
	for (n = 0; n < 10 * 1000 * 1000; n++) {
		struct batch *bt = tunnel_endpoint_batch(&r.ep[1], L7_RESET_BYTES, true);

		if (!bt)
			break;
		assert_int_equal(l7_add_reset(bt, 1, L7_RESET_PROTOCOL), 0);
	}
	assert_true(n < 10 * 1000 * 1000);
	assert_true(r.ep[1].stats.tx_control_dropped >= 1);
	assert_true(q->queued_bytes > cap);
	assert_true(q->queued_bytes <= cap * L7_CONTROL_OVER_QUEUE_FACTOR);
	raw_close(&r);
}

static void sink_alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
	static char b[256];

	(void)h;
	(void)sz;
	*buf = uv_buf_init(b, sizeof(b));
}

static void sink_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct raw *r = s->data;

	(void)buf;
	if (nread < 0)
		r->sink_status = nread;
}

/*
 * The server's session expired (a client killed with -9 leaves nothing else behind):
 * the hook the tunnel calls through the endpoint closes every stream with a TCP reset,
 * and the channel's stream count is back to 0.
 */
static void test_session_lost_reaps(void **state)
{
	struct raw r;
	uint64_t t0;

	(void)state;
	raw_init(&r, 0);
	raw_open(&r, 5);
	assert_int_equal(uv_read_start((uv_stream_t *)&r.sink, sink_alloc_cb, sink_read_cb), 0);
	assert_non_null(r.ep[1].io.l7_session_lost);
	r.ep[1].io.l7_session_lost(r.ep[1].io.l7_ctx);
	assert_int_equal(l7_streams_count(r.ls), 0);
	t0 = clock_now_ms();
	while (!r.sink_status && clock_now_ms() - t0 < 5000)
		uv_run(&r.loop, UV_RUN_ONCE);
	assert_int_equal(r.sink_status, UV_ECONNRESET);
	/* Nothing left to reap: a second call is harmless. */
	l7_streams_session_lost(r.ls);
	assert_int_equal(l7_streams_count(r.ls), 0);
	raw_close(&r);
}

static int reset_capture(void *ctx, uint8_t type, struct span body)
{
	struct l7_reset *last = ctx;

	if (type == REC_L7_RESET)
		assert_int_equal(l7_reset_decode(body, last), 0);
	return 0;
}

/* The last L7_RESET the server sent to the client since the previous call (zero: none). */
static struct l7_reset raw_last_reset(struct raw *r)
{
	struct l7_reset last = { 0 };
	struct fbuf *list;
	struct tunnel_rx rx;
	size_t bytes;
	unsigned nb;

	r->ep[0].io.l7_record = reset_capture;
	r->ep[0].io.l7_ctx = &last;
	assert_int_equal(tunnel_endpoint_seal(&r->ep[1], clock_now_ms()), 0);
	while ((list = frameq_take(&r->ep[1].send, SIZE_MAX, 1, &bytes, &nb))) {
		tunnel_receive_body(r->ix[0], list->data, list->len, clock_now_ms(), &rx);
		frameq_release(&r->ep[1].send, list);
	}
	r->ep[0].io.l7_record = NULL;
	r->ep[0].io.l7_ctx = NULL;
	return last;
}

/*
 * Two channels share one budget of 2 streams (the file descriptor limit's share): with a
 * stream open on each, a third open on either channel is refused (reset, counted) though
 * neither is near L7_MAX_STREAMS, and once a stream has gone its place serves again.
 */
static void test_budget_across_channels(void **state)
{
	struct l7_budget budget = { .max = 2 };
	uint8_t reset[L7_RESET_BYTES];
	struct l7_reset last;
	struct raw a, b;
	uint64_t t0;

	(void)state;
	raw_init_budget(&a, 0, &budget);
	raw_init_budget(&b, 0, &budget);
	raw_open(&a, 1);
	raw_open(&b, 1);
	assert_int_equal(budget.used, 2);

	for (int i = 0; i < 2; i++) {
		struct raw *r = i ? &b : &a;

		(void)raw_last_reset(r);
		raw_open_to(r, 2, r->port);
		raw_spin(r, 20);
		assert_int_equal(l7_streams_count(r->ls), 1);
		assert_int_equal(budget.refused, i + 1);
		last = raw_last_reset(r);
		assert_int_equal(last.stream, 2);
		assert_int_equal(last.reason, L7_RESET_RESOURCES);
	}
	assert_int_equal(a.accepts + b.accepts, 2);

	/* The client ends a's stream: once its socket is closed, the place is free. */
	store_be32(reset, 1);
	reset[4] = L7_RESET_CLOSED;
	raw_record(&a, REC_L7_RESET, reset, sizeof(reset));
	t0 = clock_now_ms();
	while (budget.used > 1 && clock_now_ms() - t0 < 5000)
		uv_run(&a.loop, UV_RUN_ONCE);
	assert_int_equal(budget.used, 1);
	/* Port 1 is closed: the connect fails later, but the open is taken, not refused. */
	raw_open_to(&a, 3, 1);
	assert_int_equal(l7_streams_count(a.ls), 1);
	assert_int_equal(budget.refused, 2);
	raw_close(&a);
	raw_close(&b);
	assert_int_equal(budget.used, 0);
}

/*
 * PROTOCOL.md section 5: a malformed L7 record ends decoding of its frame. A frame with
 * an L7_WINDOW one byte short, then a valid L7_OPEN: the open is not acted on, the frame
 * counts as malformed.
 */
static void test_malformed_record_ends_frame(void **state)
{
	uint8_t win[L7_WINDOW_BYTES - 1] = { 0, 0, 0, 9 }, open[6 + 9];
	struct raw r;
	struct batch *b;
	struct fbuf *list;
	struct tunnel_rx rx;
	size_t bytes;
	unsigned nb;

	(void)state;
	raw_init(&r, 0);
	store_be32(open, 10);
	store_be16(open + 4, r.port);
	memcpy(open + 6, "127.0.0.1", 9);
	b = tunnel_endpoint_batch(&r.ep[0], 64, true);
	assert_non_null(b);
	assert_int_equal(batch_add(b, REC_L7_WINDOW, win, sizeof(win)), 0);
	assert_int_equal(batch_add(b, REC_L7_OPEN, open, sizeof(open)), 0);
	assert_int_equal(tunnel_endpoint_seal(&r.ep[0], clock_now_ms()), 0);
	list = frameq_take(&r.ep[0].send, SIZE_MAX, 1, &bytes, &nb);
	assert_non_null(list);
	tunnel_receive_body(r.ix[1], list->data, list->len, clock_now_ms(), &rx);
	frameq_release(&r.ep[0].send, list);
	assert_int_equal(rx.opened, 1);
	assert_int_equal(r.ep[1].stats.rx_malformed, 1);
	raw_spin(&r, 20);
	assert_int_equal(l7_streams_count(r.ls), 0);
	assert_int_equal(r.accepts, 0);
	raw_close(&r);
}

/* Many streams at once, both ways, FIN each way, every frame reordered. */
static void test_echo_reordered(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, "127.0.0.1", true, 0);
	w.pump.reorder = true;
	world_run(&w, 8, 700 * 1000);
	assert_all_intact(&w);
	assert_int_equal(w.target.accepts, 8);
	assert_true(w.pump.frames[0] > 8 && w.pump.frames[1] > 8);
	world_close(&w);
}

/* A window smaller than one socket read: flow control still delivers every byte. */
static void test_echo_in_order(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, "127.0.0.1", true, 1500);
	world_run(&w, 3, 300 * 1000);
	assert_all_intact(&w);
	assert_int_equal(w.target.accepts, 3);
	world_close(&w);
}

/* Not allowed: the application's connection fails, the target never sees one. */
static void test_denied(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, "127.0.0.1", false, 0);
	world_run(&w, 2, 1000);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(w.apps[i].got, 0);
		assert_true(w.apps[i].err != 0 || w.apps[i].eof);
	}
	assert_int_equal(w.target.accepts, 0);
	world_close(&w);
}

/* Loopback swept up by a broad rule is still denied. */
static void test_loopback_needs_naming(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, "0.0.0.0/0", true, 0);
	world_run(&w, 1, 1000);
	assert_int_equal(w.apps[0].got, 0);
	assert_int_equal(w.target.accepts, 0);
	world_close(&w);
}

/* A lost data frame leaves a gap: the stream is reset, not delivered corrupt. */
static void test_lost_frame_resets(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, "127.0.0.1", true, 0);
	w.pump.drop_big_c2s = true;
	world_run(&w, 1, 3 * 1000 * 1000);
	assert_int_equal(w.pump.dropped, 1);
	assert_true(w.apps[0].err != 0);
	assert_true(w.apps[0].got < w.apps[0].size);
	world_close(&w);
}

/* The server's first window is lost: it announces it again, the stream goes on intact. */
static void test_lost_window_announced_again(void **state)
{
	struct world w;
	uint64_t t0;

	(void)state;
	world_init(&w, "127.0.0.1", true, 0);
	w.pump.drop_first_s2c = true;
	t0 = clock_now_ms();
	world_run(&w, 1, 100 * 1000);
	assert_int_equal(w.pump.dropped, 1);
	assert_all_intact(&w);
	/* It took a re-announcement (gap timeout 300 ms, tick 250 ms), not the open timeout. */
	assert_true(clock_now_ms() - t0 >= 300);
	world_close(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo_reordered),
		cmocka_unit_test(test_echo_in_order),
		cmocka_unit_test(test_denied),
		cmocka_unit_test(test_loopback_needs_naming),
		cmocka_unit_test(test_lost_frame_resets),
		cmocka_unit_test(test_lost_window_announced_again),
		cmocka_unit_test(test_small_records_bounded),
		cmocka_unit_test(test_answer_flood_bounded),
		cmocka_unit_test(test_session_lost_reaps),
		cmocka_unit_test(test_budget_across_channels),
		cmocka_unit_test(test_malformed_record_ends_frame),
	};

	log_init("test", LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, setup, NULL);
}
