/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The parked-poll list without a loop: deadlines, order, removal from the head and the
 * middle, the one slot over POLL_MAX_PARKED, slot reuse. Time is whatever the test says.
 * The requests are stand-in addresses: the list never looks at them.
 */
#include "core/parked.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define HOLD_MS 100

static char reqs[2 * POLL_MAX_PARKED + 4];

static struct http_request *req(int i)
{
	return (struct http_request *)(void *)&reqs[i];
}

/* Oldest first, deadlines never falling, links agree both ways, n counts them, free slots
 * are the rest. */
static void check_list(const struct parked_list *l)
{
	const struct list_node *back = &l->head;
	const struct parked *prev = NULL;
	struct list_node *node;
	unsigned n = 0, used = 0;

	list_for_each(node, &l->head) {
		const struct parked *p = list_entry(node, struct parked, link);

		assert_ptr_equal(node->prev, back);
		assert_non_null(p->req);
		assert_ptr_equal(p->list, l);
		if (prev)
			assert_true(prev->deadline_ms <= p->deadline_ms);
		prev = p;
		back = node;
		n++;
	}
	assert_ptr_equal(l->head.prev, back);
	assert_int_equal(n, l->n);
	for (size_t i = 0; i < sizeof(l->slots) / sizeof(l->slots[0]); i++)
		used += l->slots[i].req != NULL;
	assert_int_equal(used, n);
	assert_int_equal(parked_empty(l), n == 0);
}

static void test_empty(void **state)
{
	struct parked_list l;
	uint64_t d = 7;

	(void)state;
	parked_init(&l, HOLD_MS);
	check_list(&l);
	assert_null(parked_take_oldest(&l));
	assert_null(parked_take_due(&l, UINT64_MAX));
	assert_false(parked_next_deadline(&l, &d));
	assert_int_equal(d, 7);
	assert_false(parked_over(&l));
}

/* Each poll is due hold_ms after it was parked, not when the first one is: edges +-1. */
static void test_deadlines(void **state)
{
	struct parked_list l;
	uint64_t d;

	(void)state;
	parked_init(&l, HOLD_MS);
	for (int i = 0; i < 3; i++) {
		assert_non_null(parked_add(&l, req(i), 1000 + 30 * (uint64_t)i));
		check_list(&l);
	}
	assert_true(parked_next_deadline(&l, &d));
	assert_int_equal(d, 1000 + HOLD_MS);
	assert_null(parked_take_due(&l, 1000 + HOLD_MS - 1));
	assert_ptr_equal(parked_take_due(&l, 1000 + HOLD_MS), req(0));
	check_list(&l);
	assert_true(parked_next_deadline(&l, &d));
	assert_int_equal(d, 1030 + HOLD_MS);
	assert_null(parked_take_due(&l, 1030 + HOLD_MS - 1));
	/* Late: everything due comes out, oldest first, then nothing. */
	assert_ptr_equal(parked_take_due(&l, 5000), req(1));
	assert_ptr_equal(parked_take_due(&l, 5000), req(2));
	assert_null(parked_take_due(&l, 5000));
	check_list(&l);
	assert_true(parked_empty(&l));
}

/* A cancelled poll leaves from the head or the middle; the next deadline moves on. */
static void test_remove(void **state)
{
	struct parked *p[4];
	struct parked_list l;
	uint64_t d;

	(void)state;
	parked_init(&l, HOLD_MS);
	for (int i = 0; i < 4; i++)
		p[i] = parked_add(&l, req(i), (uint64_t)i);
	parked_remove(p[2]);
	check_list(&l);
	parked_remove(p[0]);
	check_list(&l);
	assert_int_equal(l.n, 2);
	assert_true(parked_next_deadline(&l, &d));
	assert_int_equal(d, 1 + HOLD_MS);
	assert_ptr_equal(parked_take_oldest(&l), req(1));
	assert_ptr_equal(parked_take_oldest(&l), req(3));
	assert_null(parked_take_oldest(&l));
	check_list(&l);
}

/*
 * POLL_MAX_PARKED stay; one more is listed (parked_over) until the owner takes the oldest;
 * past that there is no slot. Freed slots are used again and the order is kept.
 */
static void test_over(void **state)
{
	struct parked_list l;
	struct parked *p;
	int i;

	(void)state;
	parked_init(&l, HOLD_MS);
	for (i = 0; i < POLL_MAX_PARKED; i++)
		assert_non_null(parked_add(&l, req(i), 0));
	assert_false(parked_over(&l));
	assert_non_null(parked_add(&l, req(i++), 0));
	check_list(&l);
	assert_true(parked_over(&l));
	assert_null(parked_add(&l, req(i), 0));
	check_list(&l);
	assert_ptr_equal(parked_take_oldest(&l), req(0));
	assert_false(parked_over(&l));
	p = parked_add(&l, req(i), 10);
	assert_non_null(p);
	assert_true(p >= l.slots && p < l.slots + POLL_MAX_PARKED + 1);
	check_list(&l);
	assert_true(parked_over(&l));
	for (int k = 1; k <= i; k++)
		assert_ptr_equal(parked_take_oldest(&l), req(k));
	check_list(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_deadlines),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_over),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
