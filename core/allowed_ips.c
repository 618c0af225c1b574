/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/allowed_ips.h"
#include "core/cursor.h"

#include <errno.h>
#include <string.h>

void allowed_ips_init(struct allowed_ips *a, const struct cidr *given, size_t n_given,
		      const struct cidr *tun, size_t n_tun)
{
	a->allow = n_given ? given : tun;
	a->n_allow = n_given ? n_given : n_tun;
	a->own = tun;
	a->n_own = n_tun;
}

/* src is one of the own addresses, whatever the prefix length they were given with. */
static bool is_own(const struct allowed_ips *a, const struct cidr *src)
{
	for (size_t i = 0; i < a->n_own; i++) {
		if (a->own[i].family == src->family &&
		    memcmp(a->own[i].addr, src->addr, cidr_addr_bytes(src)) == 0)
			return true;
	}
	return false;
}

bool allowed_ips_match(const struct allowed_ips *a, const struct cidr *src)
{
	/* The server's own address from outside is a spoof (Linux drops it as martian too). */
	if (is_own(a, src))
		return false;
	for (size_t i = 0; i < a->n_allow; i++)
		if (cidr_within(src, &a->allow[i]))
			return true;
	return false;
}

bool allowed_ips_none(const struct allowed_ips *a)
{
	for (size_t i = 0; i < a->n_allow; i++) {
		if (a->allow[i].prefix < cidr_max_prefix(&a->allow[i]) || !is_own(a, &a->allow[i]))
			return false;
	}
	return true;
}

int allowed_ips_source(const uint8_t *pkt, size_t len, struct cidr *src)
{
	struct cursor c = cursor_make(pkt, len);
	size_t before, after;
	struct span skip;
	uint8_t first;

	memset(src, 0, sizeof(*src));
	if (!cur_u8(&c, &first))
		return -EPROTO;
	switch (first >> 4) {
	case 4: /* RFC 791: source at byte 12, destination after it ends the fixed header */
		src->family = AF_INET;
		src->prefix = 32;
		before = 11;
		after = 4;
		break;
	case 6: /* RFC 8200: source at byte 8, then the 16-byte destination */
		src->family = AF_INET6;
		src->prefix = 128;
		before = 7;
		after = 16;
		break;
	default:
		return -EPROTO;
	}
	if (!cur_span(&c, before, &skip) || !cur_copy(&c, src->addr, cidr_addr_bytes(src)) ||
	    !cur_span(&c, after, &skip)) {
		memset(src, 0, sizeof(*src));
		return -EPROTO;
	}
	return 0;
}
