/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Bounded readers and writers for wire bytes. The bound lives inside the reader: every
 * cur_* call returns false, and consumes nothing, when too few bytes remain. Fields are
 * big-endian and decoded byte by byte; no struct is ever cast onto wire bytes.
 */
#ifndef HTTUN_CORE_CURSOR_H
#define HTTUN_CORE_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Borrowed bytes: whoever hands out a span keeps ownership. */
struct span {
	const uint8_t *p;
	size_t len;
};

struct cursor {
	const uint8_t *p;
	size_t len; /* bytes left */
};

static inline struct cursor cursor_make(const void *p, size_t len)
{
	struct cursor c = { (const uint8_t *)p, len };
	return c;
}

static inline uint16_t load_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t load_be64(const uint8_t *p)
{
	return (uint64_t)load_be32(p) << 32 | load_be32(p + 4);
}

static inline void store_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void store_be64(uint8_t *p, uint64_t v)
{
	store_be32(p, (uint32_t)(v >> 32));
	store_be32(p + 4, (uint32_t)v);
}

static inline bool cur_u8(struct cursor *c, uint8_t *v)
{
	if (c->len < 1)
		return false;
	*v = c->p[0];
	c->p += 1;
	c->len -= 1;
	return true;
}

static inline bool cur_u16(struct cursor *c, uint16_t *v)
{
	if (c->len < 2)
		return false;
	*v = load_be16(c->p);
	c->p += 2;
	c->len -= 2;
	return true;
}

static inline bool cur_u32(struct cursor *c, uint32_t *v)
{
	if (c->len < 4)
		return false;
	*v = load_be32(c->p);
	c->p += 4;
	c->len -= 4;
	return true;
}

static inline bool cur_u64(struct cursor *c, uint64_t *v)
{
	if (c->len < 8)
		return false;
	*v = load_be64(c->p);
	c->p += 8;
	c->len -= 8;
	return true;
}

/* Borrow the next n bytes. */
static inline bool cur_span(struct cursor *c, size_t n, struct span *out)
{
	if (c->len < n)
		return false;
	out->p = c->p;
	out->len = n;
	c->p += n;
	c->len -= n;
	return true;
}

static inline bool cur_copy(struct cursor *c, void *dst, size_t n)
{
	if (c->len < n)
		return false;
	memcpy(dst, c->p, n);
	c->p += n;
	c->len -= n;
	return true;
}

/* Writer into a caller-owned buffer; every wr_* returns false and writes nothing on overflow. */
struct writer {
	uint8_t *p;
	size_t len; /* bytes written */
	size_t cap;
};

static inline struct writer writer_make(void *p, size_t cap)
{
	struct writer w = { (uint8_t *)p, 0, cap };
	return w;
}

static inline bool wr_room(const struct writer *w, size_t n)
{
	return w->cap - w->len >= n;
}

static inline bool wr_u8(struct writer *w, uint8_t v)
{
	if (!wr_room(w, 1))
		return false;
	w->p[w->len++] = v;
	return true;
}

static inline bool wr_u16(struct writer *w, uint16_t v)
{
	if (!wr_room(w, 2))
		return false;
	store_be16(w->p + w->len, v);
	w->len += 2;
	return true;
}

static inline bool wr_u32(struct writer *w, uint32_t v)
{
	if (!wr_room(w, 4))
		return false;
	store_be32(w->p + w->len, v);
	w->len += 4;
	return true;
}

static inline bool wr_u64(struct writer *w, uint64_t v)
{
	if (!wr_room(w, 8))
		return false;
	store_be64(w->p + w->len, v);
	w->len += 8;
	return true;
}

static inline bool wr_bytes(struct writer *w, const void *src, size_t n)
{
	if (!wr_room(w, n))
		return false;
	if (n)
		memcpy(w->p + w->len, src, n);
	w->len += n;
	return true;
}

/* Text: a NUL-terminated string without its NUL. */
static inline bool wr_str(struct writer *w, const char *s)
{
	return wr_bytes(w, s, strlen(s));
}

/* Text: v in decimal ASCII, no sign, no padding. */
static inline bool wr_dec(struct writer *w, uint64_t v)
{
	char digits[20];
	size_t n = 0;

	do {
		digits[sizeof(digits) - ++n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return wr_bytes(w, digits + sizeof(digits) - n, n);
}

#endif
