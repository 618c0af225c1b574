/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The server's parked polls and its answers to INITs, through its request handler, driven
 * with fake requests (their ops record the answer and hold the cancel callback the way
 * http_server.c does) and a client peer that handshakes and seals real polls. The list
 * itself is tested in test/unit/core/parked.c; here, the hold timer and the answers.
 */
#include "transport/tunnel_server.h"
#include "core/carrier.h"
#include "core/handshake.h"
#include "core/index.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/peer.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

struct fake_req {
	struct http_request req; /* first: the ops get this pointer */
	http_cancel_cb cancel;
	void *cancel_arg;
	int answers;
	uint64_t answered_at;
	/* The last answer: error or not, status, close, and the body of a 200. */
	bool error;
	int status;
	bool close;
	uint8_t body[MSG_RESPONSE_BYTES];
	size_t body_len;
	char url[4 + CARRIER_TOKEN_MAX_CHARS];
};

static uv_loop_t loop;
/* Set: answering it cancels this request too (a relay connection that failed). */
static struct fake_req *cancel_on_answer;
/* Polls never get an error answer; INITs may. */
static bool errors_expected;

static void fake_cancel(struct fake_req *f)
{
	http_cancel_cb cb = f->cancel;

	assert_non_null(cb);
	f->cancel = NULL;
	cb(&f->req, f->cancel_arg);
}

static int fake_sendv(struct http_request *req, int status, const char *ctype,
		      const struct iovec *bufs, unsigned nbufs, http_sent_cb sent_cb, void *arg)
{
	struct fake_req *f = (struct fake_req *)req;

	(void)ctype;
	assert_int_equal(status, 200);
	f->error = false;
	f->status = status;
	f->body_len = 0;
	for (unsigned i = 0; i < nbufs; i++) {
		assert_true(f->body_len + bufs[i].iov_len <= sizeof(f->body));
		memcpy(f->body + f->body_len, bufs[i].iov_base, bufs[i].iov_len);
		f->body_len += bufs[i].iov_len;
	}
	f->answers++;
	f->answered_at = uv_now(&loop);
	f->cancel = NULL; /* answered: never cancelled (http_server.c, relay_server.c) */
	if (cancel_on_answer) {
		struct fake_req *c = cancel_on_answer;

		cancel_on_answer = NULL;
		fake_cancel(c);
	}
	if (sent_cb)
		sent_cb(0, arg);
	return 0;
}

static int fake_send_error(struct http_request *req, int status, bool close)
{
	struct fake_req *f = (struct fake_req *)req;

	if (!errors_expected)
		fail_msg("a poll got an error answer");
	f->error = true;
	f->status = status;
	f->close = close;
	f->body_len = 0;
	f->answers++;
	return 0;
}

static void fake_set_cancel(struct http_request *req, http_cancel_cb cb, void *arg)
{
	struct fake_req *f = (struct fake_req *)req;

	f->cancel = cb;
	f->cancel_arg = arg;
}

static void fake_vouch(struct http_request *req)
{
	(void)req;
}

static const struct http_request_ops fake_ops = {
	.sendv = fake_sendv,
	.send_error = fake_send_error,
	.set_cancel = fake_set_cancel,
	.vouch = fake_vouch,
};

static struct fake_req reqs[2 * POLL_MAX_PARKED + 4];
/* setup()'s client of its channel, with a session the server has confirmed. */
static struct index_table *client_ix;
static struct peer *client;

static void post_init(struct tunnel_server *srv, struct fake_req *f,
		      const uint8_t init[MSG_INIT_BYTES]);
static struct peer *client_with_init(struct index_table *ix, int i, uint8_t init[MSG_INIT_BYTES]);

/* GET a poll of setup()'s client, the way the client does. */
static void send_poll(struct tunnel_server *srv, struct fake_req *f)
{
	uint8_t poll[MSG_POLL_BYTES];
	char tok[CARRIER_POLL_CHARS + 1];

	assert_int_equal(peer_seal(client, MSG_POLL, poll, 0, clock_now_ms()), 0);
	carrier_poll_token(poll, tok);
	snprintf(f->url, sizeof(f->url), "/t/%s", tok);
	f->req.method = HTTP_METHOD_GET;
	f->req.url = f->url;
	f->req.url_len = strlen(f->url);
	tunnel_server_on_request(&f->req, srv);
}

static struct tunnel_server *setup(uint64_t hold_ms, struct tunnel_channel **ch)
{
	static const uint8_t psk[PSK_BYTES] = { 1 };
	struct tunnel_server_config cfg = { .path = "/t/", .poll_hold_ms = hold_ms };
	struct tunnel_io io = { 0 };
	uint8_t init[MSG_INIT_BYTES];
	struct tunnel_server *srv;
	struct fake_req f;

	memset(reqs, 0, sizeof(reqs));
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
		reqs[i].req.ops = &fake_ops;
	cancel_on_answer = NULL;
	errors_expected = false;
	assert_int_equal(uv_loop_init(&loop), 0);
	srv = tunnel_server_new(&loop, &cfg);
	assert_non_null(srv);
	*ch = tunnel_server_add_channel(srv, "test", psk, &io);
	assert_non_null(*ch);
	/* A client handshakes; the server confirms its session with the first poll. */
	client_ix = index_new();
	assert_non_null(client_ix);
	client = client_with_init(client_ix, 0, init);
	post_init(srv, &f, init);
	assert_false(f.error);
	assert_int_equal(peer_handle_response(client, f.body, f.body_len, clock_now_ms()), 0);
	return srv;
}

static void teardown(struct tunnel_server *srv)
{
	tunnel_server_free(srv);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	peer_free(client);
	index_free(client_ix);
}

static void wait_ms(uint64_t ms)
{
	uv_sleep((unsigned)ms);
	uv_update_time(&loop);
}

/* Run the loop until every listed request has its first answer (failing, not hanging). */
static void run_until_answered(const int *which, int n)
{
	uint64_t give_up = uv_now(&loop) + 10 * 1000;

	for (int i = 0; i < n; i++)
		while (!reqs[which[i]].answers) {
			assert_true(uv_now(&loop) < give_up);
			assert_int_not_equal(uv_run(&loop, UV_RUN_ONCE), 0);
		}
}

/* Each poll is answered (empty) when its own hold time is over, not the first one's. */
static void test_hold_times(void **state)
{
	struct tunnel_channel *ch;
	struct tunnel_server *srv = setup(100, &ch);
	uint64_t t0 = uv_now(&loop);

	(void)state;
	for (int i = 0; i < 3; i++) {
		send_poll(srv, &reqs[i]);
		assert_int_equal(reqs[i].answers, 0); /* parked */
		wait_ms(30);
	}
	run_until_answered((const int[]){ 2 }, 1);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(reqs[i].answers, 1);
		assert_int_equal(reqs[i].body_len, 0);
		/* Parked at t0 + 30 i (plus scheduling), answered at its deadline, not before. */
		assert_true(reqs[i].answered_at >= t0 + 30 * (uint64_t)i + 100);
	}
	assert_true(reqs[0].answered_at < reqs[2].answered_at);
	/* Nothing parked: the hold timer stopped, the loop has only the server's own handles. */
	teardown(srv);
}

/* Cancelled polls leave the list (head and middle); the timer moves on to the next. */
static void test_cancel(void **state)
{
	struct tunnel_channel *ch;
	struct tunnel_server *srv = setup(100, &ch);

	(void)state;
	for (int i = 0; i < 4; i++)
		send_poll(srv, &reqs[i]);
	fake_cancel(&reqs[2]);
	fake_cancel(&reqs[0]);
	/* The timer was due for reqs[0]: it fires, finds reqs[1] due too, answers both. */
	run_until_answered((const int[]){ 1, 3 }, 2);
	assert_int_equal(reqs[0].answers + reqs[2].answers, 0);
	assert_int_equal(reqs[1].answers, 1);
	assert_int_equal(reqs[3].answers, 1);
	teardown(srv);
}

/* More than POLL_MAX_PARKED: the oldest are answered at once, slots are reused. */
static void test_overflow(void **state)
{
	struct tunnel_channel *ch;
	struct tunnel_server *srv = setup(60000, &ch);

	(void)state;
	for (int i = 0; i < POLL_MAX_PARKED + 3; i++)
		send_poll(srv, &reqs[i]);
	for (int i = 0; i < POLL_MAX_PARKED + 3; i++)
		assert_int_equal(reqs[i].answers, i < 3 ? 1 : 0);
	/* A cancelled one frees its slot: the next poll takes it and the oldest stays. */
	fake_cancel(&reqs[5]);
	send_poll(srv, &reqs[POLL_MAX_PARKED + 3]);
	assert_int_equal(reqs[3].answers, 0);
	/* Full again: one more answers the oldest, reqs[3], and only it. */
	send_poll(srv, &reqs[POLL_MAX_PARKED + 4]);
	assert_int_equal(reqs[3].answers, 1);
	assert_int_equal(reqs[4].answers, 0);
	/* Shutdown with polls parked: the loop closes with nothing left on it. */
	teardown(srv);
}

/*
 * Answering the oldest to make room fails and takes the new poll's connection with it:
 * the new poll had its cancel callback already, so it leaves the list instead of staying
 * parked without a connection.
 */
static void test_overflow_answer_cancels_new(void **state)
{
	struct tunnel_channel *ch;
	struct tunnel_server *srv = setup(60000, &ch);

	(void)state;
	for (int i = 0; i < POLL_MAX_PARKED; i++)
		send_poll(srv, &reqs[i]);
	cancel_on_answer = &reqs[POLL_MAX_PARKED];
	send_poll(srv, &reqs[POLL_MAX_PARKED]);
	assert_int_equal(reqs[0].answers, 1);
	assert_null(cancel_on_answer);
	assert_int_equal(reqs[POLL_MAX_PARKED].answers, 0);
	/* POLL_MAX_PARKED - 1 are left: one more fits, the second answers the oldest. */
	send_poll(srv, &reqs[POLL_MAX_PARKED + 1]);
	assert_int_equal(reqs[1].answers, 0);
	send_poll(srv, &reqs[POLL_MAX_PARKED + 2]);
	assert_int_equal(reqs[1].answers, 1);
	assert_int_equal(reqs[2].answers, 0);
	assert_int_equal(reqs[POLL_MAX_PARKED].answers, 0);
	teardown(srv);
}

/* ---- INITs ---- */

int __real_crypto_generichash(unsigned char *out, size_t outlen, const unsigned char *in,
			      unsigned long long inlen, const unsigned char *key, size_t keylen);
int __wrap_crypto_generichash(unsigned char *out, size_t outlen, const unsigned char *in,
			      unsigned long long inlen, const unsigned char *key, size_t keylen);

/* BLAKE2b calls (a MAC each), counted through the linker's --wrap (test/CMakeLists.txt). */
static unsigned blake2b_calls;

int __wrap_crypto_generichash(unsigned char *out, size_t outlen, const unsigned char *in,
			      unsigned long long inlen, const unsigned char *key, size_t keylen)
{
	blake2b_calls++;
	return __real_crypto_generichash(out, outlen, in, inlen, key, keylen);
}

#define NCHANNELS 4

/* The psk of channel i of setup_channels(); -1: of no channel. */
static void channel_psk(int i, uint8_t psk[PSK_BYTES])
{
	memset(psk, i < 0 ? 0x77 : i + 1, PSK_BYTES);
	if (i == 0) { /* setup()'s */
		memset(psk, 0, PSK_BYTES);
		psk[0] = 1;
	}
}

static struct tunnel_server *setup_channels(struct tunnel_channel *ch[NCHANNELS])
{
	struct tunnel_io io = { 0 };
	struct tunnel_server *srv = setup(100, &ch[0]);

	for (int i = 1; i < NCHANNELS; i++) {
		uint8_t psk[PSK_BYTES];

		channel_psk(i, psk);
		ch[i] = tunnel_server_add_channel(srv, "test", psk, &io);
		assert_non_null(ch[i]);
	}
	errors_expected = true;
	return srv;
}

/* A client of channel i (-1: of none) with an INIT made. */
static struct peer *client_with_init(struct index_table *ix, int i, uint8_t init[MSG_INIT_BYTES])
{
	uint8_t psk[PSK_BYTES];
	struct peer *p;

	channel_psk(i, psk);
	p = peer_new(PEER_INITIATOR, psk, ix);
	assert_non_null(p);
	assert_int_equal(peer_handshake_start(p, init, clock_realtime_ns(), clock_now_ms()), 0);
	return p;
}

/* POST init to the server the way a client does; the answer lands in *f. */
static void post_init(struct tunnel_server *srv, struct fake_req *f,
		      const uint8_t init[MSG_INIT_BYTES])
{
	static uint8_t body[MSG_INIT_BYTES];
	static char url[8 + CARRIER_RANDOM_CHARS];
	char tok[CARRIER_RANDOM_CHARS + 1];

	carrier_random_token(tok);
	snprintf(url, sizeof(url), "/t/%s", tok);
	memcpy(body, init, MSG_INIT_BYTES);
	memset(f, 0, sizeof(*f));
	f->req.ops = &fake_ops;
	f->req.method = HTTP_METHOD_POST;
	f->req.url = url;
	f->req.url_len = strlen(url);
	f->req.body = body;
	f->req.body_len = MSG_INIT_BYTES;
	tunnel_server_on_request(&f->req, srv);
	assert_int_equal(f->answers, 1);
}

static void assert_same_answer(const struct fake_req *a, const struct fake_req *b)
{
	assert_int_equal(a->error, b->error);
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->close, b->close);
	assert_int_equal(a->body_len, b->body_len);
	assert_memory_equal(a->body, b->body, a->body_len);
}

/*
 * A replayed INIT gets the answer of an INIT of no channel, whether its client is online
 * (the replay is not newer than its session's INIT) or gone (the session expired), so a
 * prober holding a recorded INIT cannot tell which.
 */
static void test_refused_init_answered_as_unknown(void **state)
{
	struct tunnel_channel *ch[NCHANNELS];
	struct tunnel_server *srv = setup_channels(ch);
	struct index_table *cix = index_new();
	uint8_t init[MSG_INIT_BYTES], stray[MSG_INIT_BYTES], poll[MSG_POLL_BYTES];
	struct peer *cli, *stranger;
	struct fake_req none, first, online, offline;
	struct peer *sp = tunnel_channel_endpoint(ch[NCHANNELS - 1])->peer;
	struct frame_header h;
	struct span pt;

	(void)state;
	assert_non_null(cix);
	stranger = client_with_init(cix, -1, stray);
	post_init(srv, &none, stray);
	assert_true(none.error);

	cli = client_with_init(cix, NCHANNELS - 1, init);
	post_init(srv, &first, init);
	assert_false(first.error);
	assert_int_equal(first.body_len, MSG_RESPONSE_BYTES);
	assert_int_equal(peer_handle_response(cli, first.body, first.body_len, clock_now_ms()), 0);
	/* The client's first poll confirms the session. */
	assert_int_equal(peer_seal(cli, MSG_POLL, poll, 0, clock_now_ms()), 0);
	assert_int_equal(frame_header_parse(poll, sizeof(poll), &h), 0);
	assert_int_equal(peer_open(sp, &h, poll, &pt, clock_now_ms()), 0);
	assert_true(peer_has_session(sp));

	post_init(srv, &online, init);
	assert_same_answer(&online, &none);
	/* The client is gone and its session expired. */
	peer_tick(sp, clock_now_ms() + REJECT_AFTER_MS);
	assert_false(peer_has_session(sp));
	post_init(srv, &offline, init);
	assert_same_answer(&offline, &none);
	assert_int_equal(peer_pending_count(sp), 0);

	peer_free(cli);
	peer_free(stranger);
	index_free(cix);
	teardown(srv);
}

/*
 * Every channel's key is tried whichever matches: an INIT of the first channel costs the
 * server as many MACs as one of the last, so the time taken does not tell the channel.
 */
static void test_init_tries_every_channel(void **state)
{
	struct tunnel_channel *ch[NCHANNELS];
	struct tunnel_server *srv = setup_channels(ch);
	struct index_table *cix = index_new();
	uint8_t init[MSG_INIT_BYTES];
	unsigned calls[2];
	struct fake_req f;
	struct peer *cli;

	(void)state;
	assert_non_null(cix);
	for (int k = 0; k < 2; k++) {
		cli = client_with_init(cix, k ? NCHANNELS - 1 : 0, init);
		blake2b_calls = 0;
		post_init(srv, &f, init);
		calls[k] = blake2b_calls;
		assert_false(f.error);
		peer_free(cli);
	}
	assert_int_equal(calls[0], calls[1]);
	cli = client_with_init(cix, -1, init);
	blake2b_calls = 0;
	post_init(srv, &f, init);
	assert_true(f.error);
	assert_int_equal(blake2b_calls, NCHANNELS);
	peer_free(cli);
	index_free(cix);
	teardown(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hold_times),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_overflow_answer_cancels_new),
		cmocka_unit_test(test_refused_init_answered_as_unknown),
		cmocka_unit_test(test_init_tries_every_channel),
	};

	if (sodium_init() < 0)
		return 1;
	log_init("test", LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
