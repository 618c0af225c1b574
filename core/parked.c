/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/parked.h"

#include <stddef.h>
#include <string.h>

void parked_init(struct parked_list *l, uint64_t hold_ms)
{
	memset(l, 0, sizeof(*l));
	list_init(&l->head);
	l->hold_ms = hold_ms;
}

struct parked *parked_add(struct parked_list *l, struct http_request *req, uint64_t now_ms)
{
	struct parked *p = NULL;

	for (size_t i = 0; i < sizeof(l->slots) / sizeof(l->slots[0]) && !p; i++)
		if (!l->slots[i].req)
			p = &l->slots[i];
	if (!p)
		return NULL;
	p->req = req;
	p->list = l;
	/* Every poll waits hold_ms: one listed later is due later, the list stays sorted. */
	p->deadline_ms = now_ms + l->hold_ms;
	list_insert_tail(&l->head, &p->link);
	l->n++;
	return p;
}

void parked_remove(struct parked *p)
{
	list_remove(&p->link);
	p->list->n--;
	p->req = NULL;
}

bool parked_over(const struct parked_list *l)
{
	return l->n > POLL_MAX_PARKED;
}

struct http_request *parked_take_oldest(struct parked_list *l)
{
	struct parked *p = list_first_entry(&l->head, struct parked, link);
	struct http_request *req;

	if (!p)
		return NULL;
	req = p->req;
	parked_remove(p);
	return req;
}

struct http_request *parked_take_due(struct parked_list *l, uint64_t now_ms)
{
	uint64_t deadline;

	if (!parked_next_deadline(l, &deadline) || deadline > now_ms)
		return NULL;
	return parked_take_oldest(l);
}

bool parked_next_deadline(const struct parked_list *l, uint64_t *deadline_ms)
{
	const struct parked *p = list_first_entry(&l->head, struct parked, link);

	if (!p)
		return false;
	*deadline_ms = p->deadline_ms;
	return true;
}
