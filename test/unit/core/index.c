/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/index.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

static int owners[4];

static void test_add_lookup_remove(void **state)
{
	struct index_table *t = index_new();
	uint32_t a, b;

	(void)state;
	assert_non_null(t);
	assert_int_equal(index_add(t, &owners[0], &a), 0);
	assert_int_equal(index_add(t, &owners[1], &b), 0);
	assert_int_not_equal(a, 0);
	assert_int_not_equal(b, 0);
	assert_int_not_equal(a, b);
	assert_ptr_equal(index_lookup(t, a), &owners[0]);
	assert_ptr_equal(index_lookup(t, b), &owners[1]);
	assert_null(index_lookup(t, 0));
	assert_null(index_lookup(t, a ^ 1));
	assert_int_equal(index_count(t), 2);
	index_remove(t, a);
	assert_null(index_lookup(t, a));
	assert_ptr_equal(index_lookup(t, b), &owners[1]);
	index_remove(t, a); /* twice: ignored */
	index_remove(t, 0);
	assert_int_equal(index_count(t), 1);
	assert_int_equal(index_add(t, NULL, &a), -EINVAL);
	assert_int_equal(index_add_fixed(t, &owners[2], 0), -EINVAL);
	assert_int_equal(index_add_fixed(t, &owners[2], b), -EEXIST);
	assert_ptr_equal(index_lookup(t, b), &owners[1]);
	index_free(t);
}

static void test_capacity(void **state)
{
	struct index_table *t = index_new();
	static uint32_t got[INDEX_MAX_ENTRIES];
	uint32_t extra;

	(void)state;
	for (size_t i = 0; i < INDEX_MAX_ENTRIES; i++)
		assert_int_equal(index_add(t, &owners[i % 4], &got[i]), 0);
	assert_int_equal(index_count(t), INDEX_MAX_ENTRIES);
	assert_int_equal(index_add(t, &owners[0], &extra), -ENOSPC);
	assert_int_equal(index_add_fixed(t, &owners[0], 12345), -ENOSPC);
	for (size_t i = 0; i < INDEX_MAX_ENTRIES; i++)
		assert_ptr_equal(index_lookup(t, got[i]), &owners[i % 4]);
	index_remove(t, got[7]);
	assert_int_equal(index_add(t, &owners[3], &extra), 0);
	assert_ptr_equal(index_lookup(t, extra), &owners[3]);
	index_free(t);
}

/*
 * Random adds and removes against a plain array: backward-shift deletion must keep every
 * remaining entry reachable. Small index values and a nearly full table make long
 * clusters.
 */
static void test_against_reference(void **state)
{
	struct index_table *t = index_new();
	static void *ref[4096];
	size_t count = 0;

	(void)state;
	for (int op = 0; op < 200000; op++) {
		uint32_t idx = 1 + randombytes_uniform(4095);
		void *owner = &owners[idx % 4];

		if (ref[idx]) {
			index_remove(t, idx);
			ref[idx] = NULL;
			count--;
		} else if (count < INDEX_MAX_ENTRIES) {
			assert_int_equal(index_add_fixed(t, owner, idx), 0);
			ref[idx] = owner;
			count++;
		} else {
			assert_int_equal(index_add_fixed(t, owner, idx), -ENOSPC);
		}
		if (op % 1000 == 0) {
			for (uint32_t i = 1; i < 4096; i++)
				assert_ptr_equal(index_lookup(t, i), ref[i]);
		}
	}
	assert_int_equal(index_count(t), count);
	for (uint32_t i = 1; i < 4096; i++)
		assert_ptr_equal(index_lookup(t, i), ref[i]);
	index_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_lookup_remove),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_against_reference),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
