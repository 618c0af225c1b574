/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

size_t cidr_addr_bytes(const struct cidr *c)
{
	return c->family == AF_INET ? 4 : 16;
}

unsigned cidr_max_prefix(const struct cidr *c)
{
	return c->family == AF_INET ? 32 : 128;
}

int cidr_parse(const char *text, size_t len, struct cidr *out, const char **why)
{
	char buf[INET6_ADDRSTRLEN];
	const char *slash = memchr(text, '/', len);
	size_t alen = slash ? (size_t)(slash - text) : len;
	unsigned prefix = 0, max;

	memset(out, 0, sizeof(*out));
	if (alen == 0) {
		*why = "no address";
		return -EINVAL;
	}
	/* inet_pton needs a NUL; anything longer than the longest address is not one. */
	if (alen >= sizeof(buf)) {
		*why = "not an IPv4 or IPv6 address";
		return -EINVAL;
	}
	memcpy(buf, text, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = AF_INET;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = AF_INET6;
	} else {
		*why = "not an IPv4 or IPv6 address";
		return -EINVAL;
	}
	max = cidr_max_prefix(out);
	if (!slash) {
		out->prefix = (uint8_t)max;
		return 0;
	}
	const char *p = slash + 1, *end = text + len;
	/* Decimal digits only, no sign, no leading zero: "/08" is a typo, not 8. */
	if (p == end || (end - p > 1 && *p == '0')) {
		*why = "prefix length must be a decimal number";
		return -EINVAL;
	}
	for (; p < end; p++) {
		if (*p < '0' || *p > '9') {
			*why = "prefix length must be a decimal number";
			return -EINVAL;
		}
		prefix = prefix * 10 + (unsigned)(*p - '0');
		if (prefix > max)
			break;
	}
	if (prefix > max) {
		*why = out->family == AF_INET ? "IPv4 prefix length must be 0..32"
					      : "IPv6 prefix length must be 0..128";
		return -EINVAL;
	}
	out->prefix = (uint8_t)prefix;
	return 0;
}

/* Mask for byte i of a prefix of length prefix. */
static uint8_t byte_mask(unsigned prefix, size_t i)
{
	if (prefix >= (i + 1) * 8)
		return 0xff;
	if (prefix <= i * 8)
		return 0;
	return (uint8_t)(0xff << (8 - (prefix - i * 8)));
}

bool cidr_host_bits_set(const struct cidr *c)
{
	for (size_t i = 0; i < cidr_addr_bytes(c); i++)
		if (c->addr[i] & (uint8_t)~byte_mask(c->prefix, i))
			return true;
	return false;
}

void cidr_mask(struct cidr *c)
{
	for (size_t i = 0; i < sizeof(c->addr); i++)
		c->addr[i] &= byte_mask(i < cidr_addr_bytes(c) ? c->prefix : 0, i);
}

bool cidr_within(const struct cidr *inner, const struct cidr *outer)
{
	if (inner->family != outer->family || inner->prefix < outer->prefix)
		return false;
	for (size_t i = 0; i < cidr_addr_bytes(outer); i++) {
		uint8_t m = byte_mask(outer->prefix, i);

		if ((inner->addr[i] & m) != (outer->addr[i] & m))
			return false;
	}
	return true;
}

bool cidr_equal(const struct cidr *a, const struct cidr *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       memcmp(a->addr, b->addr, cidr_addr_bytes(a)) == 0;
}

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

void cidr_unmap(struct cidr *c)
{
	if (c->family != AF_INET6 || c->prefix < 96 || memcmp(c->addr, v4mapped, 12) != 0)
		return;
	memmove(c->addr, c->addr + 12, 4);
	memset(c->addr + 4, 0, 12);
	c->family = AF_INET;
	c->prefix = (uint8_t)(c->prefix - 96);
}

int cidr_from_sockaddr(const struct sockaddr *sa, struct cidr *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in sin;

		memcpy(&sin, sa, sizeof(sin));
		out->family = AF_INET;
		out->prefix = 32;
		memcpy(out->addr, &sin.sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 sin6;

		memcpy(&sin6, sa, sizeof(sin6));
		out->family = AF_INET6;
		out->prefix = 128;
		memcpy(out->addr, &sin6.sin6_addr, 16);
		cidr_unmap(out);
		return 0;
	}
	return -EAFNOSUPPORT;
}

const char *cidr_format(const struct cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(c->family == AF_INET ? AF_INET : AF_INET6, c->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, "%s/%u", a, c->prefix);
	return buf;
}
