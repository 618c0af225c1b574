/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * A read buffer for a framed byte stream: reads append at the end, the framer takes whole
 * messages from the front, and what is left of a partial message moves to the front (at
 * once with readbuf_keep, or only when the buffer is full with readbuf_take, which moves
 * no bytes while a reader keeps up). It
 * grows to the size of the message being read, never past a hard cap, and gives the memory
 * back once large messages have stopped coming. No I/O here: the libuv alloc callback hands
 * out p[len..cap) and adds what was read to len.
 */
#ifndef HTTUN_CORE_READBUF_H
#define HTTUN_CORE_READBUF_H

#include "core/cursor.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct readbuf {
	uint8_t *p; /* data in p[start..len), room for the next read in p[len..cap) */
	size_t start, len, cap;
	size_t base; /* what it starts with and shrinks back to */
	size_t max; /* hard cap on cap */
	unsigned shrink_after; /* readbuf_fit calls in a row that fit in base; 0: never */
	unsigned small; /* such calls so far */
};

/*
 * Allocate base bytes (0 < base <= max). shrink_after as above. Returns 0 or -ENOMEM
 * (then *b needs no readbuf_close).
 */
int readbuf_init(struct readbuf *b, size_t base, size_t max, unsigned shrink_after);
void readbuf_close(struct readbuf *b);

/* The buffered bytes, for the framer to take messages from. */
static inline struct cursor readbuf_cursor(const struct readbuf *b)
{
	return cursor_make(b->p + b->start, b->len - b->start);
}

static inline bool readbuf_empty(const struct readbuf *b)
{
	return b->start == b->len;
}

/* No room left for a read. */
static inline bool readbuf_full(const struct readbuf *b)
{
	return b->len == b->cap;
}

/* The framer took n bytes from the front; all taken, the buffer starts over. */
static inline void readbuf_take(struct readbuf *b, size_t n)
{
	b->start += n;
	if (b->start == b->len)
		b->start = b->len = 0;
}

/* Forget what is buffered (a connection that drains before it closes). */
static inline void readbuf_clear(struct readbuf *b)
{
	b->start = b->len = 0;
}

/* Before a read: when the buffer is full, move what is left to the front. */
void readbuf_compact(struct readbuf *b);

/*
 * After the framer: keep only rest (the tail of readbuf_cursor's bytes it did not take),
 * moved to the front.
 */
void readbuf_keep(struct readbuf *b, struct cursor rest);

/*
 * Make room for a message of need bytes in all (the framer's figure, header included):
 * grow to need, or, after shrink_after calls in a row where base would have done, shrink
 * back to base. Returns 0, -EMSGSIZE when need is over max (nothing changes), or -ENOMEM.
 */
int readbuf_fit(struct readbuf *b, size_t need);

#endif
