/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * core/readbuf.c: growth to the framer's figure, the hard cap, keeping the unconsumed tail
 * at the front with its bytes intact, and shrinking back only after exactly shrink_after
 * calls in a row that base would have served (never with shrink_after 0, never while the
 * buffered bytes or the next message need the larger size).
 */
#include "core/readbuf.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

/* Append n bytes counting up from first, as a read would. */
static void fill(struct readbuf *b, size_t n, uint8_t first)
{
	assert_true(n <= b->cap - b->len);
	for (size_t i = 0; i < n; i++)
		b->p[b->len + i] = (uint8_t)(first + i);
	b->len += n;
}

static void test_init_close(void **state)
{
	struct readbuf b;

	(void)state;
	assert_int_equal(readbuf_init(&b, 16, 64, 3), 0);
	assert_non_null(b.p);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 16);
	assert_int_equal(b.base, 16);
	assert_int_equal(b.max, 64);
	readbuf_close(&b);
	assert_null(b.p);
	assert_int_equal(b.cap, 0);
	readbuf_close(&b); /* twice is harmless */
}

static void test_keep(void **state)
{
	struct readbuf b;
	struct cursor cur;

	(void)state;
	assert_int_equal(readbuf_init(&b, 16, 16, 0), 0);
	fill(&b, 10, 0);
	cur = readbuf_cursor(&b);
	assert_ptr_equal(cur.p, b.p);
	assert_int_equal(cur.len, 10);

	/* The framer took 7 of the 10 bytes: 7, 8, 9 move to the front. */
	cur.p += 7;
	cur.len -= 7;
	readbuf_keep(&b, cur);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.p, "\x07\x08\x09", 3);
	fill(&b, 13, 10); /* the whole room again */
	for (size_t i = 0; i < 16; i++)
		assert_int_equal(b.p[i], 7 + i);

	/* Nothing taken: nothing moves. */
	readbuf_keep(&b, readbuf_cursor(&b));
	assert_int_equal(b.len, 16);
	for (size_t i = 0; i < 16; i++)
		assert_int_equal(b.p[i], 7 + i);

	/* Everything taken. */
	cur = readbuf_cursor(&b);
	cur.p += cur.len;
	cur.len = 0;
	readbuf_keep(&b, cur);
	assert_int_equal(b.len, 0);
	readbuf_close(&b);
}

static void test_grow_and_cap(void **state)
{
	struct readbuf b;

	(void)state;
	assert_int_equal(readbuf_init(&b, 16, 100, 0), 0);
	fill(&b, 12, 1);
	/* Within the capacity: nothing changes. */
	assert_int_equal(readbuf_fit(&b, 0), 0);
	assert_int_equal(readbuf_fit(&b, 16), 0);
	assert_int_equal(b.cap, 16);
	/* Growth keeps the buffered bytes and leaves room for exactly the message. */
	assert_int_equal(readbuf_fit(&b, 17), 0);
	assert_int_equal(b.cap, 17);
	assert_int_equal(readbuf_fit(&b, 99), 0);
	assert_int_equal(b.cap, 99);
	assert_int_equal(b.len, 12);
	for (size_t i = 0; i < 12; i++)
		assert_int_equal(b.p[i], 1 + i);
	fill(&b, 87, 13);
	/* The cap itself is allowed; one byte over is refused and changes nothing. */
	assert_int_equal(readbuf_fit(&b, 100), 0);
	assert_int_equal(b.cap, 100);
	assert_int_equal(readbuf_fit(&b, 101), -EMSGSIZE);
	assert_int_equal(readbuf_fit(&b, SIZE_MAX), -EMSGSIZE);
	assert_int_equal(b.cap, 100);
	assert_int_equal(b.len, 99);
	for (size_t i = 0; i < 99; i++)
		assert_int_equal(b.p[i], (uint8_t)(1 + i));
	/* Without shrink_after a grown buffer stays grown. */
	b.len = 0;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(readbuf_fit(&b, 12), 0);
	assert_int_equal(b.cap, 100);
	readbuf_close(&b);
}

static void test_shrink(void **state)
{
	struct readbuf b;

	(void)state;
	assert_int_equal(readbuf_init(&b, 16, 100, 4), 0);
	/* At base nothing shrinks, however often it fits. */
	for (int i = 0; i < 10; i++)
		assert_int_equal(readbuf_fit(&b, 12), 0);
	assert_int_equal(b.cap, 16);

	assert_int_equal(readbuf_fit(&b, 50), 0);
	assert_int_equal(b.cap, 50);
	/* A message over base, or buffered bytes over base, do not count, and do not reset. */
	fill(&b, 17, 0);
	assert_int_equal(readbuf_fit(&b, 12), 0);
	b.len = 5;
	assert_int_equal(readbuf_fit(&b, 17), 0);
	assert_int_equal(readbuf_fit(&b, 16), 0);
	assert_int_equal(readbuf_fit(&b, 16), 0);
	assert_int_equal(readbuf_fit(&b, 16), 0);
	assert_int_equal(b.cap, 50);
	assert_int_equal(readbuf_fit(&b, 17), 0);
	assert_int_equal(b.cap, 50);
	/* The fourth in a row that base serves: back to base, buffered bytes kept. */
	assert_int_equal(readbuf_fit(&b, 16), 0);
	assert_int_equal(b.cap, 16);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(b.p[i], i);

	/* Growing starts the count again. */
	assert_int_equal(readbuf_fit(&b, 40), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(readbuf_fit(&b, 1), 0);
	assert_int_equal(b.cap, 40);
	assert_int_equal(readbuf_fit(&b, 41), 0);
	assert_int_equal(b.cap, 41);
	for (int i = 0; i < 3; i++)
		assert_int_equal(readbuf_fit(&b, 1), 0);
	assert_int_equal(b.cap, 41);
	assert_int_equal(readbuf_fit(&b, 1), 0);
	assert_int_equal(b.cap, 16);
	readbuf_close(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_close),
		cmocka_unit_test(test_keep),
		cmocka_unit_test(test_grow_and_cap),
		cmocka_unit_test(test_shrink),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
