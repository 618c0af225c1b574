/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/list.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

/* The node is not the first field: list_entry must subtract its offset. */
struct item {
	uint64_t pad;
	int value;
	struct list_node link;
};

/* Writes the values head to tail into out and checks the prev links back to front. */
static size_t collect(struct list_node *head, int *out, size_t max)
{
	struct list_node *n, *back = head;
	size_t k = 0;

	list_for_each(n, head) {
		assert_ptr_equal(n->prev, back);
		assert_true(k < max);
		out[k++] = list_entry(n, struct item, link)->value;
		back = n;
	}
	assert_ptr_equal(head->prev, back);
	return k;
}

static void assert_values(struct list_node *head, const int *want, size_t nwant)
{
	int got[16];
	size_t k = collect(head, got, 16);

	assert_int_equal(k, nwant);
	for (size_t i = 0; i < nwant; i++)
		assert_int_equal(got[i], want[i]);
	assert_int_equal(list_empty(head), nwant == 0);
}

static void test_empty(void **state)
{
	struct list_node head;
	struct item zeroed;

	(void)state;
	list_init(&head);
	assert_true(list_empty(&head));
	assert_null(list_first(&head));
	assert_null(list_first_entry(&head, struct item, link));
	assert_values(&head, NULL, 0);
	memset(&zeroed, 0, sizeof(zeroed));
	assert_false(list_linked(&zeroed.link));
}

static void test_entry(void **state)
{
	struct item it = { .value = 7 };

	(void)state;
	assert_ptr_equal(list_entry(&it.link, struct item, link), &it);
	assert_int_not_equal(offsetof(struct item, link), 0);
}

static void test_insert_order(void **state)
{
	struct list_node head;
	struct item it[4] = { { .value = 1 }, { .value = 2 }, { .value = 3 }, { .value = 4 } };
	const int want[] = { 3, 1, 2, 4 };

	(void)state;
	list_init(&head);
	list_insert_tail(&head, &it[0].link);
	list_insert_tail(&head, &it[1].link);
	list_insert_head(&head, &it[2].link);
	list_insert_tail(&head, &it[3].link);
	assert_values(&head, want, 4);
	assert_ptr_equal(list_first(&head), &it[2].link);
	assert_ptr_equal(list_first_entry(&head, struct item, link), &it[2]);
	for (int i = 0; i < 4; i++)
		assert_true(list_linked(&it[i].link));
}

/* Removing each position of a three-element list, and the only element. */
static void test_remove_each_position(void **state)
{
	(void)state;
	for (int pos = 0; pos < 3; pos++) {
		struct list_node head;
		struct item it[3] = { { .value = 10 }, { .value = 11 }, { .value = 12 } };
		int want[2], k = 0;

		list_init(&head);
		for (int i = 0; i < 3; i++)
			list_insert_tail(&head, &it[i].link);
		list_remove(&it[pos].link);
		assert_false(list_linked(&it[pos].link));
		assert_null(it[pos].link.next);
		assert_null(it[pos].link.prev);
		for (int i = 0; i < 3; i++)
			if (i != pos)
				want[k++] = 10 + i;
		assert_values(&head, want, 2);
		/* A removed node can go back in. */
		list_insert_head(&head, &it[pos].link);
		assert_true(list_linked(&it[pos].link));
		assert_ptr_equal(list_first(&head), &it[pos].link);
	}

	struct list_node head;
	struct item one = { .value = 5 };

	list_init(&head);
	list_insert_head(&head, &one.link);
	assert_false(list_empty(&head));
	list_remove(&one.link);
	assert_true(list_empty(&head));
	assert_ptr_equal(head.next, &head);
	assert_ptr_equal(head.prev, &head);
}

/* The safe walk survives removing the node it stands on, every other one or all. */
static void test_remove_while_walking(void **state)
{
	struct list_node head, *n, *tmp;
	struct item it[6];
	const int odd[] = { 1, 3, 5 };
	unsigned visited = 0;

	(void)state;
	list_init(&head);
	for (int i = 0; i < 6; i++) {
		it[i] = (struct item){ .value = i };
		list_insert_tail(&head, &it[i].link);
	}
	list_for_each_safe(n, tmp, &head) {
		visited++;
		if (list_entry(n, struct item, link)->value % 2 == 0)
			list_remove(n);
	}
	assert_int_equal(visited, 6);
	assert_values(&head, odd, 3);
	visited = 0;
	list_for_each_safe(n, tmp, &head) {
		visited++;
		list_remove(n);
	}
	assert_int_equal(visited, 3);
	assert_true(list_empty(&head));
	for (int i = 0; i < 6; i++)
		assert_false(list_linked(&it[i].link));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_entry),
		cmocka_unit_test(test_insert_order),
		cmocka_unit_test(test_remove_each_position),
		cmocka_unit_test(test_remove_while_walking),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
