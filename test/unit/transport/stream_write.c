/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * stream_write over a socketpair: a message that fits the socket buffer is written at
 * once (1, no callback); one that does not is written in part and queued (0, the
 * callback runs once), and the peer reads every byte in order either way.
 */
#include "transport/stream_write.h"

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
	uv_pipe_t pipe;
	int peer; /* the other end, read with plain read(2) */
	int callbacks;
	int status;
};

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
	assert_int_equal(uv_pipe_init(&p->loop, &p->pipe, 0), 0);
	assert_int_equal(uv_pipe_open(&p->pipe, sv[0]), 0);
	p->peer = sv[1];
	p->status = 1;
}

static void pair_close(struct pair *p)
{
	uv_close((uv_handle_t *)&p->pipe, NULL);
	assert_int_equal(uv_run(&p->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&p->loop), 0);
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

static void write_cb(uv_write_t *w, int status)
{
	struct pair *p = w->data;

	p->callbacks++;
	p->status = status;
}

static void test_small_at_once(void **state)
{
	struct pair p;
	uv_write_t w;
	char a[] = "GET / HTTP/1.1\r\n", b[] = "Host: x\r\n\r\n";
	uv_buf_t bufs[2] = { uv_buf_init(a, sizeof(a) - 1), uv_buf_init(b, sizeof(b) - 1) };
	uint8_t out[64];
	size_t got = 0;

	(void)state;
	pair_open(&p, 0);
	w.data = &p;
	assert_int_equal(stream_write(&w, (uv_stream_t *)&p.pipe, bufs, 2, write_cb), 1);
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
	uv_write_t w;
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
	w.data = &p;
	assert_int_equal(stream_write(&w, (uv_stream_t *)&p.pipe, bufs, 3, write_cb), 0);
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
	uv_write_t w1, w2;
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
	w1.data = w2.data = &p;
	assert_int_equal(stream_write(&w1, (uv_stream_t *)&p.pipe, &b1, 1, write_cb), 0);
	assert_int_equal(stream_write(&w2, (uv_stream_t *)&p.pipe, &b2, 1, write_cb), 0);
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
	uv_write_t w;
	char a[] = "x";
	uv_buf_t b = uv_buf_init(a, 1);
	int ret;

	(void)state;
	pair_open(&p, 0);
	close(p.peer);
	p.peer = -1;
	w.data = &p;
	ret = stream_write(&w, (uv_stream_t *)&p.pipe, &b, 1, write_cb);
	assert_true(ret == UV_EPIPE || ret == UV_ECONNRESET);
	assert_int_equal(uv_run(&p.loop, UV_RUN_NOWAIT), 0);
	assert_int_equal(p.callbacks, 0);
	uv_close((uv_handle_t *)&p.pipe, NULL);
	assert_int_equal(uv_run(&p.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&p.loop), 0);
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
