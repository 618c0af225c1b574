/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * IPv4 and IPv6 prefixes: "198.18.0.0/15", "fd00::/8", or a bare address meaning /32 or
 * /128. Numeric only (inet_pton): no names, no scope ids, no IPv4 shorthand like "10.1".
 * Shared by config (tun-address, route) and policy (l7-allow).
 */
#ifndef HTTUN_CORE_CIDR_H
#define HTTUN_CORE_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Longest text cidr_format() writes, NUL included: an IPv6 address, '/', "128". */
#define CIDR_STR_BYTES 51

struct cidr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t prefix; /* 0..32 or 0..128 */
	uint8_t addr[16]; /* network byte order; IPv4 uses the first 4 bytes, rest zero */
};

/*
 * Parse text[0..len) as ADDR or ADDR/PREFIX. Host bits are kept as written (an interface
 * address like 198.18.1.1/24 needs them); see cidr_host_bits_set(). Returns 0, or -EINVAL
 * with a reason for the user in *why.
 */
int cidr_parse(const char *text, size_t len, struct cidr *out, const char **why);

/* Address length in bytes (4 or 16) and in bits (32 or 128). */
size_t cidr_addr_bytes(const struct cidr *c);
unsigned cidr_max_prefix(const struct cidr *c);

/* True if bits past the prefix are not all zero. */
bool cidr_host_bits_set(const struct cidr *c);
/* Clear the bits past the prefix. */
void cidr_mask(struct cidr *c);

/*
 * True if every address of inner is in outer: same family, inner->prefix >=
 * outer->prefix, and the first outer->prefix bits agree. A bare address is a /32 or /128.
 */
bool cidr_within(const struct cidr *inner, const struct cidr *outer);

/* Two prefixes are the same: family, prefix and every address bit (host bits too). */
bool cidr_equal(const struct cidr *a, const struct cidr *b);

/*
 * An IPv4-mapped IPv6 prefix (::ffff:a.b.c.d with prefix >= 96) becomes the IPv4 prefix
 * it stands for; anything else is left alone. The kernel sends a connect() to a mapped
 * address to the IPv4 address, so that is what it must be checked as.
 */
void cidr_unmap(struct cidr *c);

/*
 * The full-length prefix (/32, /128) of a socket address, unmapped. Returns 0, or
 * -EAFNOSUPPORT for anything but AF_INET and AF_INET6.
 */
int cidr_from_sockaddr(const struct sockaddr *sa, struct cidr *out);

/*
 * "ADDR/PREFIX" into buf[len]; len >= CIDR_STR_BYTES always fits. Returns buf, so the
 * call can stand as a printf argument.
 */
const char *cidr_format(const struct cidr *c, char *buf, size_t len);

#endif
