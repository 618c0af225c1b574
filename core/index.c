/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/index.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>

_Static_assert((INDEX_TABLE_SLOTS & (INDEX_TABLE_SLOTS - 1)) == 0,
	       "INDEX_TABLE_SLOTS must be a power of two");
_Static_assert(INDEX_TABLE_SLOTS >= 2 * INDEX_MAX_ENTRIES,
	       "index table load factor must stay at or below 0.5");

#define SLOT_MASK (INDEX_TABLE_SLOTS - 1u)
/*
 * Random index draws before giving up. With the table at most 448 entries full out of
 * 2^32 values, a collision is rare; hitting this many in a row means randomness broke.
 */
#define INDEX_ADD_TRIES 64

struct index_slot {
	uint32_t idx; /* 0: empty */
	void *owner;
};

struct index_table {
	size_t count;
	struct index_slot slots[INDEX_TABLE_SLOTS];
};

/*
 * Our indexes are random, but lookups use whatever a peer puts in a frame; mixing the
 * bits (Fibonacci hashing) keeps chosen indexes from landing in one cluster cheaply, and
 * the load factor bounds the probe length anyway.
 */
static uint32_t slot_of(uint32_t idx)
{
	return (uint32_t)(idx * 2654435761u) & SLOT_MASK;
}

struct index_table *index_new(void)
{
	return calloc(1, sizeof(struct index_table));
}

void index_free(struct index_table *t)
{
	free(t);
}

/* The slot holding idx, or the empty slot where it would go. */
static uint32_t find(const struct index_table *t, uint32_t idx)
{
	uint32_t i = slot_of(idx);

	while (t->slots[i].idx != 0 && t->slots[i].idx != idx)
		i = (i + 1) & SLOT_MASK;
	return i;
}

int index_add_fixed(struct index_table *t, void *owner, uint32_t idx)
{
	uint32_t i;

	if (idx == 0 || !owner)
		return -EINVAL;
	if (t->count >= INDEX_MAX_ENTRIES)
		return -ENOSPC;
	i = find(t, idx);
	if (t->slots[i].idx == idx)
		return -EEXIST;
	t->slots[i].idx = idx;
	t->slots[i].owner = owner;
	t->count++;
	return 0;
}

int index_add(struct index_table *t, void *owner, uint32_t *out)
{
	if (!owner)
		return -EINVAL;
	if (t->count >= INDEX_MAX_ENTRIES)
		return -ENOSPC;
	for (int tries = 0; tries < INDEX_ADD_TRIES; tries++) {
		uint32_t idx = randombytes_random();

		if (idx != 0 && index_add_fixed(t, owner, idx) == 0) {
			*out = idx;
			return 0;
		}
	}
	return -EAGAIN;
}

void index_remove(struct index_table *t, uint32_t idx)
{
	uint32_t hole, i;

	if (idx == 0)
		return;
	hole = find(t, idx);
	if (t->slots[hole].idx == 0)
		return;
	t->count--;
	/*
	 * Backward-shift deletion: move later members of the cluster into the hole when
	 * their home slot does not lie cyclically in (hole, i], so every entry stays
	 * reachable from its home slot without tombstones.
	 */
	i = hole;
	for (;;) {
		uint32_t home;

		i = (i + 1) & SLOT_MASK;
		if (t->slots[i].idx == 0)
			break;
		home = slot_of(t->slots[i].idx);
		if (((i - home) & SLOT_MASK) >= ((i - hole) & SLOT_MASK)) {
			t->slots[hole] = t->slots[i];
			hole = i;
		}
	}
	t->slots[hole].idx = 0;
	t->slots[hole].owner = NULL;
}

void *index_lookup(const struct index_table *t, uint32_t idx)
{
	uint32_t i;

	if (idx == 0)
		return NULL;
	i = find(t, idx);
	return t->slots[i].idx == idx ? t->slots[i].owner : NULL;
}

size_t index_count(const struct index_table *t)
{
	return t->count;
}
