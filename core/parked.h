/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * A channel's parked polls (docs/DESIGN.md): long-poll GETs held until frames are ready or
 * their hold time passes. Up to POLL_MAX_PARKED stay listed, oldest first, in slots kept
 * in place (parking never allocates). All share one hold time, so the oldest expires first
 * and the owner needs one timer, due at parked_next_deadline().
 *
 * The requests are borrowed and never touched here: the owner answers what the take
 * functions hand back, and takes a cancelled request off with parked_remove(). Nothing
 * reads the clock (now is passed in, in the owner's time base).
 */
#ifndef HTTUN_CORE_PARKED_H
#define HTTUN_CORE_PARKED_H

#include "core/limits.h"
#include "core/list.h"

#include <stdbool.h>
#include <stdint.h>

struct http_request;
struct parked_list;

struct parked {
	struct http_request *req; /* NULL: the slot is free */
	struct parked_list *list;
	uint64_t deadline_ms;
	struct list_node link; /* in list->head while req is set */
};

struct parked_list {
	/* One more than may stay: a new poll is listed before the oldest is taken to answer. */
	struct parked slots[POLL_MAX_PARKED + 1];
	struct list_node head; /* oldest first */
	unsigned n;
	uint64_t hold_ms;
};

void parked_init(struct parked_list *l, uint64_t hold_ms);
/*
 * List req (not NULL), due at now_ms + hold_ms; returns its slot, for the request's cancel
 * callback to hand to parked_remove. NULL when every slot is taken, which an owner that
 * takes the oldest whenever parked_over() holds never sees.
 */
struct parked *parked_add(struct parked_list *l, struct http_request *req, uint64_t now_ms);
/* Takes a listed poll off its list (its request was cancelled) and frees its slot. */
void parked_remove(struct parked *p);
/* More are listed than may stay: the owner takes the oldest and answers it. */
bool parked_over(const struct parked_list *l);
/* The oldest request, taken off the list; NULL when none is listed. */
struct http_request *parked_take_oldest(struct parked_list *l);
/* The same, only when its deadline is at or before now_ms; else NULL. */
struct http_request *parked_take_due(struct parked_list *l, uint64_t now_ms);
/* The oldest one's deadline in *deadline_ms; false (nothing set) when none is listed. */
bool parked_next_deadline(const struct parked_list *l, uint64_t *deadline_ms);

static inline bool parked_empty(const struct parked_list *l)
{
	return l->n == 0;
}

#endif
