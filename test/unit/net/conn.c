/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * net_conn_send over a socketpair: a message that fits the socket buffer is written at
 * once (1, no callback); one that does not is written in part and queued (0, the
 * callback runs once), and the peer reads every byte in order either way. The connection
 * is freed through its closed callback, after the write callbacks.
 */
#include "net/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

struct pair {
	uv_loop_t loop;
	struct net_conn conn;
	int peer; /* the other end, read with plain read(2) */
	int callbacks;
	int status;
	int closed;
};

static void read_cb(struct net_conn *c, ssize_t nread, char *direct)
{
	(void)c;
	(void)nread;
	(void)direct;
	fail(); /* nothing here reads */
}

static void closed_cb(struct net_conn *c)
{
	struct pair *p = c->owner;

	p->closed++;
}

static const struct net_conn_events events = { .read = read_cb, .closed = closed_cb };
static const struct net_conn_config pipe_config = { .kind = NET_PIPE, .rb_base = 64, .rb_max = 64 };

static void pair_open(struct pair *p, int sndbuf)
{
	int sv[2];

	memset(p, 0, sizeof(*p));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	if (sndbuf > 0)
		assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)),
				 0);
	assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(uv_loop_init(&p->loop), 0);
	assert_int_equal(net_conn_init(&p->conn, &p->loop, &pipe_config, &events, p), 0);
	assert_int_equal(net_conn_open_fd(&p->conn, sv[0]), 0);
	p->peer = sv[1];
	p->status = 1;
}

static void pair_close(struct pair *p)
{
	net_conn_close(&p->conn);
	net_conn_close(&p->conn); /* once only */
	assert_int_equal(uv_run(&p->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(p->closed, 1);
	assert_int_equal(uv_loop_close(&p->loop), 0);
	if (p->peer >= 0)
		close(p->peer);
}

/* Read what the peer has now into out + *got, up to cap. */
static void peer_drain(struct pair *p, uint8_t *out, size_t *got, size_t cap)
{
	ssize_t n;

	while (*got < cap && (n = read(p->peer, out + *got, cap - *got)) > 0)
		*got += (size_t)n;
	assert_true(*got == cap || errno == EAGAIN);
}

static void write_cb(struct net_write *w, int status)
{
	struct pair *p = w->conn->owner;

	p->callbacks++;
	p->status = status;
}

static void test_small_at_once(void **state)
{
	struct pair p;
	struct net_write w;
	char a[] = "GET / HTTP/1.1\r\n", b[] = "Host: x\r\n\r\n";
	uv_buf_t bufs[2] = { uv_buf_init(a, sizeof(a) - 1), uv_buf_init(b, sizeof(b) - 1) };
	uint8_t out[64];
	size_t got = 0;

	(void)state;
	pair_open(&p, 0);
	assert_int_equal(net_conn_send(&p.conn, &w, bufs, 2, write_cb), 1);
	peer_drain(&p, out, &got, sizeof(a) + sizeof(b) - 2);
	assert_int_equal(got, sizeof(a) + sizeof(b) - 2);
	assert_memory_equal(out, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", got);
	assert_int_equal(uv_run(&p.loop, UV_RUN_NOWAIT), 0);
	assert_int_equal(p.callbacks, 0);
	pair_close(&p);
}

/* Three buffers, far more than a small send buffer takes: the rest is queued. */
static void test_large_queued_in_order(void **state)
{
	enum {
		PART = 256 * 1024,
		TOTAL = 3 * PART
	};
	struct pair p;
	struct net_write w;
	uint8_t *src = malloc(TOTAL), *out = malloc(TOTAL);
	uv_buf_t bufs[3];
	size_t got = 0;

	(void)state;
	assert_non_null(src);
	assert_non_null(out);
	for (size_t i = 0; i < TOTAL; i++)
		src[i] = (uint8_t)(i * 7 + i / 251);
	for (int i = 0; i < 3; i++)
		bufs[i] = uv_buf_init((char *)src + i * PART, PART);
	pair_open(&p, 4096);
	assert_int_equal(net_conn_send(&p.conn, &w, bufs, 3, write_cb), 0);
	while (got < TOTAL) {
		peer_drain(&p, out, &got, TOTAL);
		uv_run(&p.loop, UV_RUN_NOWAIT);
	}
	while (p.callbacks == 0)
		assert_int_not_equal(uv_run(&p.loop, UV_RUN_ONCE), 0);
	assert_int_equal(p.callbacks, 1);
	assert_int_equal(p.status, 0);
	assert_memory_equal(out, src, TOTAL);
	pair_close(&p);
	free(src);
	free(out);
}

/* Once something is queued, a later message must not overtake it. */
static void test_no_overtaking(void **state)
{
	enum {
		BIG = 512 * 1024
	};
	struct pair p;
	struct net_write w1, w2;
	uint8_t *src = malloc(BIG), *out = malloc(BIG + 4);
	char tail[] = "tail";
	uv_buf_t b1, b2 = uv_buf_init(tail, 4);
	size_t got = 0;

	(void)state;
	assert_non_null(src);
	assert_non_null(out);
	memset(src, 'x', BIG);
	b1 = uv_buf_init((char *)src, BIG);
	pair_open(&p, 4096);
	assert_int_equal(net_conn_send(&p.conn, &w1, &b1, 1, write_cb), 0);
	assert_int_equal(net_conn_send(&p.conn, &w2, &b2, 1, write_cb), 0);
	while (got < BIG + 4) {
		peer_drain(&p, out, &got, BIG + 4);
		uv_run(&p.loop, UV_RUN_NOWAIT);
	}
	while (p.callbacks < 2)
		assert_int_not_equal(uv_run(&p.loop, UV_RUN_ONCE), 0);
	assert_memory_equal(out, src, BIG);
	assert_memory_equal(out + BIG, "tail", 4);
	pair_close(&p);
	free(src);
	free(out);
}

/* A peer that has gone: the error comes back, nothing is queued, no callback. */
static void test_error_returned(void **state)
{
	struct pair p;
	struct net_write w;
	char a[] = "x";
	uv_buf_t b = uv_buf_init(a, 1);
	int ret;

	(void)state;
	pair_open(&p, 0);
	close(p.peer);
	p.peer = -1;
	ret = net_conn_send(&p.conn, &w, &b, 1, write_cb);
	assert_true(ret == UV_EPIPE || ret == UV_ECONNRESET);
	assert_int_equal(uv_run(&p.loop, UV_RUN_NOWAIT), 0);
	assert_int_equal(p.callbacks, 0);
	assert_int_equal(p.conn.writes, 0);
	pair_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_at_once),
		cmocka_unit_test(test_large_queued_in_order),
		cmocka_unit_test(test_no_overtaking),
		cmocka_unit_test(test_error_returned),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
