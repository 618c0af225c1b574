/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/cursor.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static void test_dec_values(void **state)
{
	static const uint64_t values[] = { 0,	1,     9,	10,	     99,
					   100, 65535, 1048576, 4294967295u, UINT64_MAX };
	char buf[32], want[32];

	(void)state;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct writer w = writer_make(buf, sizeof(buf));

		assert_true(wr_dec(&w, values[i]));
		snprintf(want, sizeof(want), "%llu", (unsigned long long)values[i]);
		assert_int_equal(w.len, strlen(want));
		assert_memory_equal(buf, want, w.len);
	}
}

/* Exactly enough room succeeds; one byte less writes nothing and leaves len alone. */
static void test_dec_room(void **state)
{
	char buf[8];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	struct writer w = writer_make(buf, 5);
	assert_true(wr_u8(&w, '#'));
	assert_false(wr_dec(&w, 12345));
	assert_int_equal(w.len, 1);
	assert_int_equal(buf[1], 'x');
	assert_true(wr_dec(&w, 1234));
	assert_int_equal(w.len, 5);
	assert_memory_equal(buf, "#1234", 5);
	assert_int_equal(buf[5], 'x');
}

static void test_str(void **state)
{
	char buf[16];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	struct writer w = writer_make(buf, 10);
	assert_true(wr_str(&w, "POST "));
	assert_true(wr_str(&w, ""));
	assert_false(wr_str(&w, "/abcdef"));
	assert_int_equal(w.len, 5);
	assert_true(wr_str(&w, "/abcd"));
	assert_int_equal(w.len, 10);
	assert_memory_equal(buf, "POST /abcd", 10);
	assert_int_equal(buf[10], 'x');
	assert_false(wr_str(&w, "e"));
	assert_int_equal(w.len, 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dec_values),
		cmocka_unit_test(test_dec_room),
		cmocka_unit_test(test_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
