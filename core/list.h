/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Intrusive doubly-linked list: a struct list_node embedded in the element, a circular
 * list through one more node, the head, embedded in the owner.
 *
 * Why not <sys/queue.h>: its TAILQ_REMOVE needs the head, so every "take me off my
 * owner's list" site would have to find its owner first (the unlink helpers here run on
 * the element alone: a cancelled poll, a closing connection), and glibc's copy has no
 * _FOREACH_SAFE to walk a list while removing. The circular head makes insert and remove
 * branch-free, which is what the hand-written copies of this idiom kept getting subtly
 * different (head pointer, tail pointer, prev of the first).
 *
 * Rules: list_init() the head before use (a zeroed head is not an empty list); a zeroed
 * node, and a node after list_remove(), is unlinked (list_linked() false). The _safe walk
 * allows removing the node it stands on, not others.
 */
#ifndef HTTUN_CORE_LIST_H
#define HTTUN_CORE_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list_node {
	struct list_node *prev, *next;
};

/* The element of type that holds node n in its field member. */
#define list_entry(n, type, member) ((type *)(void *)((char *)(n)-offsetof(type, member)))

/* n walks every node, head to tail; the body must not remove n. */
#define list_for_each(n, head) for ((n) = (head)->next; (n) != (head); (n) = (n)->next)

/* The same, and the body may remove n (tmp holds the next one). */
#define list_for_each_safe(n, tmp, head)                                                           \
	for ((n) = (head)->next, (tmp) = (n)->next; (n) != (head); (n) = (tmp), (tmp) = (n)->next)

static inline void list_init(struct list_node *head)
{
	head->prev = head->next = head;
}

static inline bool list_empty(const struct list_node *head)
{
	return head->next == head;
}

/* Whether n is on a list: false for a zeroed node and after list_remove(). */
static inline bool list_linked(const struct list_node *n)
{
	return n->next != NULL;
}

static inline void list_insert_between(struct list_node *n, struct list_node *prev,
				       struct list_node *next)
{
	n->prev = prev;
	n->next = next;
	prev->next = n;
	next->prev = n;
}

static inline void list_insert_head(struct list_node *head, struct list_node *n)
{
	list_insert_between(n, head, head->next);
}

static inline void list_insert_tail(struct list_node *head, struct list_node *n)
{
	list_insert_between(n, head->prev, head);
}

/* Takes n off its list; n must be linked. */
static inline void list_remove(struct list_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = NULL;
}

/* The first node, or NULL when the list is empty. */
static inline struct list_node *list_first(const struct list_node *head)
{
	return list_empty(head) ? NULL : head->next;
}

/* The first element, or NULL when the list is empty (head is evaluated twice). */
#define list_first_entry(head, type, member)                                                       \
	(list_empty(head) ? NULL : list_entry((head)->next, type, member))

#endif
