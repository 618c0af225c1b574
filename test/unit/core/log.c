/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/limits.h"
#include "core/log.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

/* LOG_RATELIMIT_BURST lines per interval, then silence, then a count of what was dropped. */
static void test_ratelimit(void **state)
{
	struct ratelimit rl = { 0 };
	uint32_t supp = 99;
	uint64_t t0 = 1000000;

	(void)state;
	for (int i = 0; i < LOG_RATELIMIT_BURST; i++) {
		assert_true(ratelimit_allow(&rl, t0 + (uint64_t)i, &supp));
		assert_int_equal(supp, 0);
	}
	for (int i = 0; i < 25; i++)
		assert_false(ratelimit_allow(&rl, t0 + LOG_RATELIMIT_INTERVAL_MS - 1, &supp));
	assert_true(ratelimit_allow(&rl, t0 + LOG_RATELIMIT_INTERVAL_MS, &supp));
	assert_int_equal(supp, 25);
	/* The count is reported once. */
	assert_true(ratelimit_allow(&rl, t0 + LOG_RATELIMIT_INTERVAL_MS + 1, &supp));
	assert_int_equal(supp, 0);
}

/* A clock at 0 (a fresh boot) still starts a window. */
static void test_ratelimit_time_zero(void **state)
{
	struct ratelimit rl = { 0 };
	uint32_t supp;
	int allowed = 0;

	(void)state;
	for (int i = 0; i < 3 * LOG_RATELIMIT_BURST; i++)
		allowed += ratelimit_allow(&rl, 0, &supp);
	assert_int_equal(allowed, LOG_RATELIMIT_BURST);
}

static void test_level_parse(void **state)
{
	enum log_level l = LOG_LEVEL_ERROR;

	(void)state;
	assert_int_equal(log_level_parse("debug", &l), 0);
	assert_int_equal(l, LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_parse("WARN", &l), 0);
	assert_int_equal(l, LOG_LEVEL_WARN);
	assert_int_equal(log_level_parse("info", &l), 0);
	assert_int_equal(l, LOG_LEVEL_INFO);
	assert_int_equal(log_level_parse("error", &l), 0);
	assert_int_equal(l, LOG_LEVEL_ERROR);
	assert_int_equal(log_level_parse("verbose", &l), -EINVAL);
	assert_int_equal(log_level_parse("", &l), -EINVAL);
	assert_int_equal(l, LOG_LEVEL_ERROR);
}

/* Logging keeps errno, so a caller can log and still return -errno. */
static void test_errno_preserved(void **state)
{
	(void)state;
	log_init("test", LOG_LEVEL_DEBUG);
	errno = ENOSPC;
	log_warn("disk %s", "full");
	assert_int_equal(errno, ENOSPC);
	log_debug("x");
	log_warnx("y");
	assert_int_equal(errno, ENOSPC);
}

/*
 * The INIT timestamp clock: the wall clock in nanoseconds, not the monotonic one. time()
 * may read a coarser clock, hence a second of slack on both sides.
 */
static void test_clock_realtime_ns(void **state)
{
	uint64_t before = (uint64_t)time(NULL), ns = clock_realtime_ns(),
		 after = (uint64_t)time(NULL);

	(void)state;
	assert_true(ns / 1000000000u + 1 >= before);
	assert_true(ns / 1000000000u <= after + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ratelimit),
		cmocka_unit_test(test_ratelimit_time_zero),
		cmocka_unit_test(test_level_parse),
		cmocka_unit_test(test_errno_preserved),
		cmocka_unit_test(test_clock_realtime_ns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
