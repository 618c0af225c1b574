/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The server's parked polls, white box: the source is included to reach park(), the slot
 * list and the hold timer, driven with fake requests (their ops record the answer and
 * hold the cancel callback the way http_server.c does).
 */
#include "transport/tunnel_server.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sodium.h>

struct fake_req {
	struct http_request req; /* first: the ops get this pointer */
	http_cancel_cb cancel;
	void *cancel_arg;
	int answers;
	uint64_t answered_at;
};

static uv_loop_t loop;
/* Set: answering it cancels this request too (a relay connection that failed). */
static struct fake_req *cancel_on_answer;

static void fake_cancel(struct fake_req *f)
{
	http_cancel_cb cb = f->cancel;

	assert_non_null(cb);
	f->cancel = NULL;
	cb(&f->req, f->cancel_arg);
}

static int fake_sendv(struct http_request *req, int status, const char *ctype, const uv_buf_t *bufs,
		      unsigned nbufs, http_sent_cb sent_cb, void *arg)
{
	struct fake_req *f = (struct fake_req *)req;

	(void)ctype;
	(void)bufs;
	(void)nbufs;
	assert_int_equal(status, 200);
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
	(void)req;
	(void)status;
	(void)close;
	fail_msg("a poll got an error answer");
	return 0;
}

static void fake_set_cancel(struct http_request *req, http_cancel_cb cb, void *arg)
{
	struct fake_req *f = (struct fake_req *)req;

	f->cancel = cb;
	f->cancel_arg = arg;
}

static const struct http_request_ops fake_ops = {
	.sendv = fake_sendv,
	.send_error = fake_send_error,
	.set_cancel = fake_set_cancel,
};

/* The list runs oldest first, its links agree both ways, and it counts nparked polls. */
static void check_list(const struct tunnel_channel *ch)
{
	const struct parked *prev = NULL;
	const struct list_node *back = &ch->parked;
	struct list_node *node;
	unsigned n = 0;

	list_for_each(node, &ch->parked) {
		const struct parked *p = list_entry(node, struct parked, link);

		assert_ptr_equal(node->prev, back);
		assert_non_null(p->req);
		if (prev)
			assert_true(prev->deadline_ms <= p->deadline_ms);
		prev = p;
		back = node;
		n++;
	}
	assert_ptr_equal(ch->parked.prev, back);
	assert_int_equal(n, ch->nparked);
	assert_int_equal(uv_is_active((const uv_handle_t *)&ch->hold), n > 0);
}

static struct fake_req reqs[2 * POLL_MAX_PARKED + 4];

static struct tunnel_server *setup(uint64_t hold_ms, struct tunnel_channel **ch)
{
	static const uint8_t psk[PSK_BYTES] = { 1 };
	struct tunnel_server_config cfg = { .path = "/t/", .poll_hold_ms = hold_ms };
	struct tunnel_io io = { 0 };
	struct tunnel_server *srv;

	memset(reqs, 0, sizeof(reqs));
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
		reqs[i].req.ops = &fake_ops;
	cancel_on_answer = NULL;
	assert_int_equal(uv_loop_init(&loop), 0);
	srv = tunnel_server_new(&loop, &cfg);
	assert_non_null(srv);
	*ch = tunnel_server_add_channel(srv, "test", psk, &io);
	assert_non_null(*ch);
	return srv;
}

static void teardown(struct tunnel_server *srv)
{
	tunnel_server_free(srv);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void wait_ms(uint64_t ms)
{
	uv_sleep((unsigned)ms);
	uv_update_time(&loop);
}

/* Each poll is answered (empty) when its own hold time is over, not the first one's. */
static void test_hold_times(void **state)
{
	struct tunnel_channel *ch;
	struct tunnel_server *srv = setup(100, &ch);
	uint64_t t0 = uv_now(&loop);

	(void)state;
	for (int i = 0; i < 3; i++) {
		park(ch, &reqs[i].req);
		check_list(ch);
		wait_ms(30);
	}
	while (!reqs[2].answers)
		uv_run(&loop, UV_RUN_ONCE);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(reqs[i].answers, 1);
		/* Parked at t0 + 30 i (plus scheduling), answered at its deadline, not before. */
		assert_true(reqs[i].answered_at >= t0 + 30 * (uint64_t)i + 100);
	}
	assert_true(reqs[0].answered_at < reqs[2].answered_at);
	check_list(ch);
	teardown(srv);
}

/* Cancelled polls leave the list (head and middle); the timer moves on to the next. */
static void test_cancel(void **state)
{
	struct tunnel_channel *ch;
	struct tunnel_server *srv = setup(100, &ch);

	(void)state;
	for (int i = 0; i < 4; i++)
		park(ch, &reqs[i].req);
	fake_cancel(&reqs[2]);
	check_list(ch);
	fake_cancel(&reqs[0]);
	check_list(ch);
	assert_int_equal(ch->nparked, 2);
	/* The timer was due for reqs[0]: it fires, finds reqs[1] due too, answers both. */
	while (ch->nparked)
		uv_run(&loop, UV_RUN_ONCE);
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
	for (int i = 0; i < POLL_MAX_PARKED + 3; i++) {
		park(ch, &reqs[i].req);
		check_list(ch);
	}
	assert_int_equal(ch->nparked, POLL_MAX_PARKED);
	for (int i = 0; i < POLL_MAX_PARKED + 3; i++)
		assert_int_equal(reqs[i].answers, i < 3 ? 1 : 0);
	assert_ptr_equal(oldest_parked(ch)->req, &reqs[3].req);
	fake_cancel(&reqs[5]);
	park(ch, &reqs[POLL_MAX_PARKED + 3].req);
	check_list(ch);
	assert_int_equal(ch->nparked, POLL_MAX_PARKED);
	assert_int_equal(reqs[3].answers, 0);
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
		park(ch, &reqs[i].req);
	cancel_on_answer = &reqs[POLL_MAX_PARKED];
	park(ch, &reqs[POLL_MAX_PARKED].req);
	check_list(ch);
	assert_int_equal(reqs[0].answers, 1);
	assert_int_equal(ch->nparked, POLL_MAX_PARKED - 1);
	struct list_node *node;

	list_for_each(node, &ch->parked)
		assert_ptr_not_equal(list_entry(node, struct parked, link)->req,
				     &reqs[POLL_MAX_PARKED].req);
	teardown(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hold_times),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_overflow_answer_cancels_new),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
