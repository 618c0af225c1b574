/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * transport/http_client.c: requests against a scripted raw server on
 * 127.0.0.1 (ephemeral port) that answers with exact bytes, well-formed or not.
 * Every loop test counts callbacks and ends with uv_loop_close() == 0.
 */
#include "transport/http_client.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* A client for the URL text, parsed as the config parses it. */
static int client_new(struct http_client **out, uv_loop_t *loop, const char *text,
		      const struct http_client_config *cfg)
{
	struct config_url u;
	char why[CONFIG_ERR_BYTES];

	if (config_parse_url(text, &u, why, sizeof(why)) < 0)
		fail_msg("%s: %s", text, why);
	return http_client_new(out, loop, &u, cfg);
}

/* ---- scripted raw server ---- */

struct rsrv;

struct rconn {
	uv_tcp_t tcp;
	uv_write_t wr[4];
	int nwr;
	struct rsrv *s;
	char in[8192];
	size_t in_len;
	int requests; /* complete request heads seen on this connection */
};

/* Called for each complete request head: write what the test wants. */
typedef void (*rsrv_script)(struct rsrv *s, struct rconn *c, int n);

struct rsrv {
	uv_loop_t loop;
	uv_tcp_t lst;
	struct sockaddr_in addr;
	rsrv_script script;
	int accepted;
	int requests;
	int closed;
	struct rconn *conns[8];
	struct http_client *cli;
	int done;
	int results[8];
	int statuses[8];
	char bodies[8][256];
	size_t body_lens[8];
	char last_request[2048];
};

static void rconn_close_cb(uv_handle_t *h)
{
	struct rconn *c = h->data;

	c->s->closed++;
	free(c);
}

static void rconn_close(struct rconn *c)
{
	if (!uv_is_closing((uv_handle_t *)&c->tcp))
		uv_close((uv_handle_t *)&c->tcp, rconn_close_cb);
}

static void rconn_write(struct rconn *c, const char *bytes)
{
	uv_buf_t b = uv_buf_init((char *)(uintptr_t)bytes, (unsigned)strlen(bytes));

	assert_true(c->nwr < 4);
	assert_int_equal(uv_write(&c->wr[c->nwr++], (uv_stream_t *)&c->tcp, &b, 1, NULL), 0);
}

static void rconn_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct rconn *c = h->data;

	(void)hint;
	*buf = uv_buf_init(c->in + c->in_len, (unsigned)(sizeof(c->in) - c->in_len - 1));
}

static void rconn_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct rconn *c = st->data;
	char *end;

	(void)buf;
	if (nread < 0) {
		rconn_close(c);
		return;
	}
	c->in_len += (size_t)nread;
	c->in[c->in_len] = '\0';
	/* Requests here have no body: a head ends at the blank line. */
	while ((end = strstr(c->in, "\r\n\r\n"))) {
		size_t n = (size_t)(end + 4 - c->in);

		if (n < sizeof(c->s->last_request)) {
			memcpy(c->s->last_request, c->in, n);
			c->s->last_request[n] = '\0';
		}
		memmove(c->in, c->in + n, c->in_len - n + 1);
		c->in_len -= n;
		c->s->requests++;
		c->s->script(c->s, c, c->requests++);
		if (uv_is_closing((uv_handle_t *)&c->tcp))
			return;
	}
}

static void rsrv_connection_cb(uv_stream_t *lst, int status)
{
	struct rsrv *s = lst->data;
	struct rconn *c = calloc(1, sizeof(*c));

	assert_int_equal(status, 0);
	assert_non_null(c);
	c->s = s;
	uv_tcp_init(&s->loop, &c->tcp);
	c->tcp.data = c;
	assert_int_equal(uv_accept(lst, (uv_stream_t *)&c->tcp), 0);
	if (s->accepted < 8)
		s->conns[s->accepted] = c;
	s->accepted++;
	uv_read_start((uv_stream_t *)&c->tcp, rconn_alloc_cb, rconn_read_cb);
}

static void rsrv_start(struct rsrv *s, rsrv_script script, const struct http_client_config *cc)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char url[64];

	memset(s, 0, sizeof(*s));
	s->script = script;
	assert_int_equal(uv_loop_init(&s->loop), 0);
	uv_tcp_init(&s->loop, &s->lst);
	s->lst.data = s;
	assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &s->addr), 0);
	assert_int_equal(uv_tcp_bind(&s->lst, (const struct sockaddr *)&s->addr, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&s->lst, 16, rsrv_connection_cb), 0);
	assert_int_equal(uv_tcp_getsockname(&s->lst, (struct sockaddr *)&ss, &len), 0);
	memcpy(&s->addr, &ss, sizeof(s->addr));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/base", ntohs(s->addr.sin_port));
	assert_int_equal(client_new(&s->cli, &s->loop, url, cc), 0);
}

static void rsrv_end(struct rsrv *s)
{
	http_client_free(s->cli);
	uv_close((uv_handle_t *)&s->lst, NULL);
	/* Client connections closed: the raw side sees EOF and closes its ends. */
	assert_int_equal(uv_run(&s->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(s->closed, s->accepted);
	assert_int_equal(uv_loop_close(&s->loop), 0);
}

struct slot {
	struct rsrv *s;
	int idx;
};

static void result_cb(struct http_response *resp, void *arg)
{
	struct slot *sl = arg;
	struct rsrv *s = sl->s;

	s->results[sl->idx] = resp->err;
	s->statuses[sl->idx] = resp->status;
	assert_true(resp->body_len < sizeof(s->bodies[0]));
	if (resp->body_len)
		memcpy(s->bodies[sl->idx], resp->body, resp->body_len);
	s->body_lens[sl->idx] = resp->body_len;
	s->done++;
}

static void rsrv_run(struct rsrv *s, int n)
{
	while (s->done < n)
		assert_int_not_equal(uv_run(&s->loop, UV_RUN_ONCE), 0);
}

static struct slot slots[8];

static void get(struct rsrv *s, int idx, const char *path, uint64_t timeout_ms)
{
	slots[idx] = (struct slot){ s, idx };
	assert_int_equal(http_client_request(s->cli, HTTP_METHOD_GET, path, NULL, NULL, 0,
					     timeout_ms, result_cb, &slots[idx]),
			 0);
}

/* ---- scripts ---- */

static void script_ok(struct rsrv *s, struct rconn *c, int n)
{
	(void)s;
	(void)n;
	rconn_write(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
}

static void script_chunked(struct rsrv *s, struct rconn *c, int n)
{
	(void)s;
	(void)n;
	/* Split over two writes, the way a proxy might rechunk. */
	rconn_write(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
	rconn_write(c, "4;x=y\r\ndefg\r\n0\r\n\r\n");
}

/*
 * Answers the fast path takes (the first with its body in a second write) and a chunked
 * one for llhttp between them; four writes, what an rconn holds.
 */
static void script_mixed(struct rsrv *s, struct rconn *c, int n)
{
	(void)s;
	if (n == 0) {
		rconn_write(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe");
		rconn_write(c, "llo");
	} else if (n == 1) {
		rconn_write(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			       "5\r\nhello\r\n0\r\n\r\n");
	} else {
		rconn_write(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
	}
}

static void script_close(struct rsrv *s, struct rconn *c, int n)
{
	(void)s;
	(void)n;
	rconn_write(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
	rconn_close(c);
}

static void script_eof_body(struct rsrv *s, struct rconn *c, int n)
{
	(void)s;
	(void)n;
	rconn_write(c, "HTTP/1.1 200 OK\r\n\r\nuntil the end");
	rconn_close(c);
}

static void script_garbage(struct rsrv *s, struct rconn *c, int n)
{
	(void)s;
	(void)n;
	rconn_write(c, "HTTP/1.1 2x0 OK\r\n\r\n");
}

static void script_big(struct rsrv *s, struct rconn *c, int n)
{
	(void)s;
	(void)n;
	rconn_write(c, "HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n");
}

static void script_silent(struct rsrv *s, struct rconn *c, int n)
{
	(void)s;
	(void)c;
	(void)n;
}

static void script_reset_first(struct rsrv *s, struct rconn *c, int n)
{
	(void)s;
	(void)n;
	rconn_close(c); /* no answer: the client sees the connection die */
}

/* First connection: answers once, then dies on the second request (a stale keep-alive). */
static void script_stale(struct rsrv *s, struct rconn *c, int n)
{
	if (c == s->conns[0] && n == 1) {
		rconn_close(c);
		return;
	}
	script_ok(s, c, n);
}

/* ---- tests ---- */

static void test_content_length_and_reuse(void **state)
{
	struct rsrv s;
	char want[128];

	(void)state;
	rsrv_start(&s, script_ok, NULL);
	get(&s, 0, "/a", 1000);
	rsrv_run(&s, 1);
	get(&s, 1, "/b", 1000);
	rsrv_run(&s, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(s.results[i], 0);
		assert_int_equal(s.statuses[i], 200);
		assert_int_equal(s.body_lens[i], 5);
		assert_memory_equal(s.bodies[i], "hello", 5);
	}
	assert_int_equal(s.accepted, 1);
	assert_int_equal(http_client_stats(s.cli)->connects, 1);
	snprintf(want, sizeof(want), "GET /b HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n\r\n",
		 ntohs(s.addr.sin_port));
	assert_string_equal(s.last_request, want);
	rsrv_end(&s);
}

/* Fast-path and llhttp answers by turns on one keep-alive connection. */
static void test_mixed_responses(void **state)
{
	struct rsrv s;

	(void)state;
	rsrv_start(&s, script_mixed, NULL);
	for (int i = 0; i < 3; i++) {
		get(&s, i, "/m", 1000);
		rsrv_run(&s, i + 1);
		assert_int_equal(s.results[i], 0);
		assert_int_equal(s.statuses[i], 200);
		assert_int_equal(s.body_lens[i], 5);
		assert_memory_equal(s.bodies[i], "hello", 5);
	}
	assert_int_equal(s.accepted, 1);
	assert_int_equal(http_client_stats(s.cli)->connects, 1);
	rsrv_end(&s);
}

static void test_chunked_response(void **state)
{
	struct rsrv s;

	(void)state;
	rsrv_start(&s, script_chunked, NULL);
	get(&s, 0, "/c", 1000);
	rsrv_run(&s, 1);
	assert_int_equal(s.results[0], 0);
	assert_int_equal(s.body_lens[0], 7);
	assert_memory_equal(s.bodies[0], "abcdefg", 7);
	rsrv_end(&s);
}

static void test_connection_close(void **state)
{
	struct rsrv s;

	(void)state;
	rsrv_start(&s, script_close, NULL);
	get(&s, 0, "/1", 1000);
	rsrv_run(&s, 1);
	get(&s, 1, "/2", 1000);
	rsrv_run(&s, 2);
	assert_int_equal(s.results[0], 0);
	assert_int_equal(s.results[1], 0);
	assert_memory_equal(s.bodies[1], "ok", 2);
	assert_int_equal(s.accepted, 2);
	assert_int_equal(http_client_stats(s.cli)->connects, 2);
	assert_int_equal(http_client_stats(s.cli)->retries, 0);
	rsrv_end(&s);
}

static void test_eof_delimited(void **state)
{
	struct rsrv s;

	(void)state;
	rsrv_start(&s, script_eof_body, NULL);
	get(&s, 0, "/e", 1000);
	rsrv_run(&s, 1);
	assert_int_equal(s.results[0], 0);
	assert_int_equal(s.body_lens[0], 13);
	assert_memory_equal(s.bodies[0], "until the end", 13);
	rsrv_end(&s);
}

static void test_malformed(void **state)
{
	struct rsrv s;

	(void)state;
	rsrv_start(&s, script_garbage, NULL);
	get(&s, 0, "/g", 1000);
	rsrv_run(&s, 1);
	assert_int_equal(s.results[0], -EPROTO);
	rsrv_end(&s);
}

static void test_too_large(void **state)
{
	struct rsrv s;
	struct http_client_config cc;

	(void)state;
	http_client_config_default(&cc);
	cc.max_body_bytes = 100;
	rsrv_start(&s, script_big, &cc);
	get(&s, 0, "/big", 1000);
	rsrv_run(&s, 1);
	assert_int_equal(s.results[0], -EMSGSIZE);
	rsrv_end(&s);
}

static void test_timeout(void **state)
{
	struct rsrv s;
	uint64_t t0;

	(void)state;
	rsrv_start(&s, script_silent, NULL);
	t0 = uv_now(&s.loop);
	get(&s, 0, "/slow", 30);
	get(&s, 1, "/slower", 60);
	rsrv_run(&s, 2);
	assert_int_equal(s.results[0], -ETIMEDOUT);
	assert_int_equal(s.results[1], -ETIMEDOUT);
	uv_update_time(&s.loop);
	assert_true(uv_now(&s.loop) - t0 >= 60);
	rsrv_end(&s);
}

static void test_queue_timeout(void **state)
{
	struct rsrv s;
	struct http_client_config cc;

	(void)state;
	http_client_config_default(&cc);
	cc.pool_size = 1;
	rsrv_start(&s, script_silent, &cc);
	get(&s, 0, "/parked", 200);
	get(&s, 1, "/queued", 20); /* never gets the one connection */
	rsrv_run(&s, 1);
	assert_int_equal(s.results[1], -ETIMEDOUT);
	assert_int_equal(s.requests, 1);
	rsrv_run(&s, 2);
	assert_int_equal(s.results[0], -ETIMEDOUT);
	rsrv_end(&s);
}

static void test_refused(void **state)
{
	struct rsrv s;
	uv_tcp_t t;
	struct sockaddr_in a;
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char url[64];
	struct http_client *cli;

	(void)state;
	rsrv_start(&s, script_ok, NULL);
	/* A bound port with no listener refuses connections. */
	uv_tcp_init(&s.loop, &t);
	uv_ip4_addr("127.0.0.1", 0, &a);
	assert_int_equal(uv_tcp_bind(&t, (const struct sockaddr *)&a, 0), 0);
	assert_int_equal(uv_tcp_getsockname(&t, (struct sockaddr *)&ss, &len), 0);
	memcpy(&a, &ss, sizeof(a));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", ntohs(a.sin_port));
	cli = s.cli;
	assert_int_equal(client_new(&s.cli, &s.loop, url, NULL), 0);
	get(&s, 0, "/", 1000);
	get(&s, 1, "/", 1000);
	rsrv_run(&s, 2);
	assert_int_equal(s.results[0], -ECONNREFUSED);
	assert_int_equal(s.results[1], -ECONNREFUSED);
	http_client_free(s.cli);
	s.cli = cli;
	uv_close((uv_handle_t *)&t, NULL);
	rsrv_end(&s);
}

static void test_reset(void **state)
{
	struct rsrv s;

	(void)state;
	rsrv_start(&s, script_reset_first, NULL);
	get(&s, 0, "/r", 1000);
	rsrv_run(&s, 1);
	/* A fresh connection that dies is an error, not retried. */
	assert_int_equal(s.results[0], -ECONNRESET);
	assert_int_equal(http_client_stats(s.cli)->retries, 0);
	rsrv_end(&s);
}

static void test_stale_keepalive_retried(void **state)
{
	struct rsrv s;

	(void)state;
	rsrv_start(&s, script_stale, NULL);
	get(&s, 0, "/1", 1000);
	rsrv_run(&s, 1);
	get(&s, 1, "/2", 1000);
	rsrv_run(&s, 2);
	assert_int_equal(s.results[0], 0);
	assert_int_equal(s.results[1], 0);
	assert_int_equal(s.requests, 3);
	assert_int_equal(s.accepted, 2);
	assert_int_equal(http_client_stats(s.cli)->retries, 1);
	rsrv_end(&s);
}

static void cancel_result_cb(struct http_response *resp, void *arg)
{
	int *n = arg;

	assert_int_equal(resp->err, -ECANCELED);
	(*n)++;
}

static void test_free_cancels(void **state)
{
	struct rsrv s;
	struct http_client_config cc;
	int cancelled = 0;

	(void)state;
	http_client_config_default(&cc);
	cc.pool_size = 1;
	rsrv_start(&s, script_silent, &cc);
	for (int i = 0; i < 3; i++)
		assert_int_equal(http_client_request(s.cli, HTTP_METHOD_GET, "/x", NULL, NULL, 0,
						     10000, cancel_result_cb, &cancelled),
				 0);
	while (s.requests == 0)
		uv_run(&s.loop, UV_RUN_ONCE);
	rsrv_end(&s);
	assert_int_equal(cancelled, 3);
}

static void test_bad_args(void **state)
{
	struct rsrv s;
	struct http_client *cli;
	uv_loop_t loop;

	(void)state;
	rsrv_start(&s, script_ok, NULL);
	assert_int_equal(http_client_request(s.cli, HTTP_METHOD_GET, "x", NULL, NULL, 0, 10,
					     result_cb, &slots[0]),
			 -EINVAL);
	assert_int_equal(http_client_request(s.cli, HTTP_METHOD_GET, "/a b", NULL, NULL, 0, 10,
					     result_cb, &slots[0]),
			 -EINVAL);
	assert_int_equal(http_client_request(s.cli, HTTP_METHOD_POST, "/", "a\r\nb", NULL, 0, 10,
					     result_cb, &slots[0]),
			 -EINVAL);
	assert_int_equal(http_client_request(s.cli, HTTP_METHOD_OTHER, "/", NULL, NULL, 0, 10,
					     result_cb, &slots[0]),
			 -EINVAL);
	rsrv_end(&s);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(client_new(&cli, &loop, "https://127.0.0.1/", NULL), -EPROTONOSUPPORT);
	assert_null(cli);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- a sink that starts reading a POST late ---- */

#define SINK_BUFS 20
#define SINK_BUF_BYTES (1024 * 1024)

struct sink {
	uv_loop_t loop;
	uv_tcp_t lst, conn;
	uv_timer_t late;
	uv_write_t wr;
	char head[2048];
	size_t head_len, body_want, body_got;
	bool in_body;
	uint32_t hash; /* FNV-1a over the body as it arrives */
	char rbuf[65536];
	int done, status;
};

static uint32_t fnv1a(uint32_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void sink_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct sink *k = h->data;

	(void)hint;
	*buf = uv_buf_init(k->rbuf, sizeof(k->rbuf));
}

static void sink_body(struct sink *k, const char *p, size_t n)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	uv_buf_t b = uv_buf_init((char *)(uintptr_t)ok, sizeof(ok) - 1);

	assert_true(k->body_got + n <= k->body_want);
	k->hash = fnv1a(k->hash, (const uint8_t *)p, n);
	k->body_got += n;
	if (k->body_got == k->body_want)
		assert_int_equal(uv_write(&k->wr, (uv_stream_t *)&k->conn, &b, 1, NULL), 0);
}

static void sink_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct sink *k = st->data;
	const char *end, *cl;
	size_t n, take;

	if (nread <= 0)
		return;
	if (k->in_body) {
		sink_body(k, buf->base, (size_t)nread);
		return;
	}
	take = (size_t)nread;
	if (take > sizeof(k->head) - 1 - k->head_len)
		take = sizeof(k->head) - 1 - k->head_len;
	memcpy(k->head + k->head_len, buf->base, take);
	k->head_len += take;
	k->head[k->head_len] = '\0';
	end = strstr(k->head, "\r\n\r\n");
	assert_non_null(end);
	cl = strstr(k->head, "Content-Length: ");
	assert_non_null(cl);
	k->body_want = strtoul(cl + 16, NULL, 10);
	k->in_body = true;
	n = (size_t)(end + 4 - k->head);
	sink_body(k, buf->base + n, (size_t)nread - n);
}

static void sink_late_cb(uv_timer_t *t)
{
	struct sink *k = t->data;

	assert_int_equal(uv_read_start((uv_stream_t *)&k->conn, sink_alloc_cb, sink_read_cb), 0);
}

static void sink_connection_cb(uv_stream_t *lst, int status)
{
	struct sink *k = lst->data;

	assert_int_equal(status, 0);
	uv_tcp_init(&k->loop, &k->conn);
	k->conn.data = k;
	assert_int_equal(uv_accept(lst, (uv_stream_t *)&k->conn), 0);
	uv_timer_start(&k->late, sink_late_cb, 100, 0);
}

static void sink_result_cb(struct http_response *resp, void *arg)
{
	struct sink *k = arg;

	assert_int_equal(resp->err, 0);
	k->status = resp->status;
	k->done++;
}

/*
 * A POST far larger than the socket buffers, to a peer that reads nothing for 100 ms: the
 * first write takes only part of it and the rest is queued from the middle of a buffer.
 * Every byte must arrive once, in order.
 */
static void test_large_post_partial_write(void **state)
{
	static uint8_t data[SINK_BUFS][SINK_BUF_BYTES];
	struct sink *k = calloc(1, sizeof(*k));
	struct http_client *cli;
	struct sockaddr_storage ss;
	struct sockaddr_in sin;
	uv_buf_t bufs[SINK_BUFS];
	int len = sizeof(ss);
	uint32_t want = 2166136261u;
	size_t total = 0;
	char url[64];

	(void)state;
	assert_non_null(k);
	k->hash = 2166136261u;
	for (int i = 0; i < SINK_BUFS; i++) {
		size_t n = SINK_BUF_BYTES - (size_t)i * 4099; /* odd sizes: cuts land anywhere */

		for (size_t j = 0; j < n; j++)
			data[i][j] = (uint8_t)(j * 31 + (size_t)i * 7 + (j >> 9));
		bufs[i] = uv_buf_init((char *)data[i], (unsigned)n);
		want = fnv1a(want, data[i], n);
		total += n;
	}
	assert_int_equal(uv_loop_init(&k->loop), 0);
	uv_timer_init(&k->loop, &k->late);
	k->late.data = k;
	uv_tcp_init(&k->loop, &k->lst);
	k->lst.data = k;
	assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &sin), 0);
	assert_int_equal(uv_tcp_bind(&k->lst, (const struct sockaddr *)&sin, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&k->lst, 4, sink_connection_cb), 0);
	assert_int_equal(uv_tcp_getsockname(&k->lst, (struct sockaddr *)&ss, &len), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/",
		 ntohs(((struct sockaddr_in *)&ss)->sin_port));
	assert_int_equal(client_new(&cli, &k->loop, url, NULL), 0);
	assert_int_equal(http_client_request(cli, HTTP_METHOD_POST, "/sink", NULL, bufs, SINK_BUFS,
					     10000, sink_result_cb, k),
			 0);
	while (k->done == 0)
		assert_int_not_equal(uv_run(&k->loop, UV_RUN_ONCE), 0);
	assert_int_equal(k->status, 200);
	assert_int_equal(k->body_want, total);
	assert_int_equal(k->body_got, total);
	assert_int_equal(k->hash, want);
	assert_int_equal(http_client_stats(cli)->requests, 1);
	http_client_free(cli);
	uv_close((uv_handle_t *)&k->conn, NULL);
	uv_close((uv_handle_t *)&k->lst, NULL);
	uv_close((uv_handle_t *)&k->late, NULL);
	assert_int_equal(uv_run(&k->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&k->loop), 0);
	free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_length_and_reuse),
		cmocka_unit_test(test_chunked_response),
		cmocka_unit_test(test_mixed_responses),
		cmocka_unit_test(test_connection_close),
		cmocka_unit_test(test_eof_delimited),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_queue_timeout),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_stale_keepalive_retried),
		cmocka_unit_test(test_free_cancels),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_large_post_partial_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
