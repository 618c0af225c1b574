/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/readbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int readbuf_init(struct readbuf *b, size_t base, size_t max, unsigned shrink_after)
{
	memset(b, 0, sizeof(*b));
	b->p = malloc(base);
	if (!b->p)
		return -ENOMEM;
	b->cap = b->base = base;
	b->max = max;
	b->shrink_after = shrink_after;
	return 0;
}

void readbuf_close(struct readbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void readbuf_keep(struct readbuf *b, struct cursor rest)
{
	memmove(b->p, rest.p, rest.len);
	b->start = 0;
	b->len = rest.len;
}

void readbuf_compact(struct readbuf *b)
{
	if (b->len == b->cap && b->start > 0) {
		memmove(b->p, b->p + b->start, b->len - b->start);
		b->len -= b->start;
		b->start = 0;
	}
}

int readbuf_fit(struct readbuf *b, size_t need)
{
	uint8_t *np;

	if (need > b->max)
		return -EMSGSIZE;
	if (need > b->cap) {
		np = realloc(b->p, need);
		if (!np)
			return -ENOMEM;
		b->p = np;
		b->cap = need;
		b->small = 0;
		return 0;
	}
	/*
	 * Give back what large messages needed once they stopped coming; not after each
	 * one, which under load would re-fault the pages for every large message.
	 */
	if (b->shrink_after && b->cap > b->base && b->len <= b->base && need <= b->base &&
	    ++b->small >= b->shrink_after) {
		np = realloc(b->p, b->base);
		if (np) { /* else keep the larger buffer: nothing is lost */
			b->p = np;
			b->cap = b->base;
		}
	}
	return 0;
}
