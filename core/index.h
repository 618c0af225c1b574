/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Session indexes of one process (docs/PROTOCOL.md section 3): allocates random nonzero
 * 32-bit indexes, unique across every channel, and maps an incoming frame's receiver
 * index to the peer that owns the session in O(1), without trial decryption.
 *
 * An open-addressing hash table of INDEX_TABLE_SLOTS slots with linear probing, holding
 * at most INDEX_MAX_ENTRIES entries. The table borrows the owner pointers; whoever adds
 * an index removes it before the owner goes away (core/peer.c does this for its
 * sessions). Not thread-safe: one loop owns it.
 */
#ifndef HTTUN_CORE_INDEX_H
#define HTTUN_CORE_INDEX_H

#include "core/limits.h"

#include <stddef.h>
#include <stdint.h>

struct index_table;

/* Returns NULL on allocation failure. */
struct index_table *index_new(void);
/* Entries still present are dropped; their owners are not touched. */
void index_free(struct index_table *t);

/*
 * Allocate a random nonzero index not in use, map it to owner (non-NULL) and write it to
 * *out. Returns 0, -EINVAL for a NULL owner, -ENOSPC when INDEX_MAX_ENTRIES are in use,
 * or -EAGAIN if no free index came out of many random draws (broken randomness).
 */
int index_add(struct index_table *t, void *owner, uint32_t *out);

/* Test hook: add a chosen index. Returns 0, -EINVAL (0 or NULL), -EEXIST or -ENOSPC. */
int index_add_fixed(struct index_table *t, void *owner, uint32_t idx);

/* Forget idx; unknown indexes (and 0) are ignored. */
void index_remove(struct index_table *t, uint32_t idx);

/* The owner of idx, or NULL (always NULL for 0). */
void *index_lookup(const struct index_table *t, uint32_t idx);

size_t index_count(const struct index_table *t);

#endif
