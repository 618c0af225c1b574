/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/policy.h"

#include "core/limits.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void policy_init(struct policy *p)
{
	memset(p, 0, sizeof(*p));
}

void policy_close(struct policy *p)
{
	free(p->rules);
	free(p->own);
	memset(p, 0, sizeof(*p));
}

/* Decimal 1..65535, digits only, no leading zero. */
static int parse_port(const char *s, size_t len, uint16_t *out)
{
	unsigned v = 0;

	if (len == 0 || len > 5 || s[0] == '0')
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

static int parse_ports(const char *s, struct policy_rule *out, char *why, size_t whylen)
{
	const char *dash = strchr(s, '-');
	size_t len = strlen(s);

	if (!dash) {
		if (parse_port(s, len, &out->port_min) < 0)
			goto bad;
		out->port_max = out->port_min;
		return 0;
	}
	if (parse_port(s, (size_t)(dash - s), &out->port_min) < 0 ||
	    parse_port(dash + 1, len - (size_t)(dash - s) - 1, &out->port_max) < 0)
		goto bad;
	if (out->port_min > out->port_max) {
		snprintf(why, whylen,
			 "port range %u-%u is empty: the first port must not be above "
			 "the second",
			 out->port_min, out->port_max);
		return -EINVAL;
	}
	return 0;
bad:
	snprintf(why, whylen, "ports must be PORT or PORT-PORT, each 1..65535");
	return -EINVAL;
}

int policy_rule_parse(const char *text, struct policy_rule *out, char *why, size_t whylen)
{
	const char *net = text, *ports = NULL, *cwhy = NULL;
	size_t netlen;
	int ret;

	memset(out, 0, sizeof(*out));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close) {
			snprintf(why, whylen, "missing ']' after the IPv6 prefix");
			return -EINVAL;
		}
		net = text + 1;
		netlen = (size_t)(close - net);
		if (close[1] == ':') {
			ports = close + 2;
		} else if (close[1] != '\0') {
			snprintf(why, whylen, "expected ':PORT' or nothing after ']'");
			return -EINVAL;
		}
	} else {
		const char *colon = strchr(text, ':');

		/*
		 * "fd00::1:22" could be an address or an address and a port; brackets make
		 * IPv6 rules unambiguous, so they are required.
		 */
		if (colon && strchr(colon + 1, ':')) {
			snprintf(
				why, whylen,
				"IPv6 prefixes must be in brackets, as in [fd00::/8] or [fd00::/8]:22");
			return -EINVAL;
		}
		netlen = colon ? (size_t)(colon - text) : strlen(text);
		if (colon)
			ports = colon + 1;
	}
	ret = cidr_parse(net, netlen, &out->net, &cwhy);
	if (ret < 0) {
		snprintf(why, whylen, "%s", cwhy);
		return ret;
	}
	if (text[0] == '[' && out->net.family != AF_INET6) {
		snprintf(why, whylen, "brackets are for IPv6 prefixes; write IPv4 without them");
		return -EINVAL;
	}
	if (cidr_host_bits_set(&out->net)) {
		struct cidr masked = out->net;
		char a[CIDR_STR_BYTES];

		cidr_mask(&masked);
		cidr_format(&masked, a, sizeof(a));
		snprintf(why, whylen,
			 "host bits are set; write the network %s, or the single address without "
			 "a prefix length",
			 a);
		return -EINVAL;
	}
	cidr_unmap(&out->net);
	if (!ports) {
		out->port_min = 1;
		out->port_max = 65535;
		return 0;
	}
	return parse_ports(ports, out, why, whylen);
}

int policy_add(struct policy *p, const struct policy_rule *rule)
{
	struct policy_rule *r;

	if (p->n_rules >= POLICY_MAX_RULES)
		return -E2BIG;
	r = realloc(p->rules, (p->n_rules + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	p->rules = r;
	p->rules[p->n_rules++] = *rule;
	return 0;
}

int policy_set_own(struct policy *p, const struct sockaddr_storage *addrs, size_t n)
{
	struct cidr *own = NULL;
	size_t k = 0;

	if (n > POLICY_MAX_OWN_ADDRESSES)
		return -E2BIG;
	if (n) {
		own = calloc(n, sizeof(*own));
		if (!own)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (cidr_from_sockaddr((const struct sockaddr *)&addrs[i], &own[k]) == 0)
			k++;
	free(p->own);
	p->own = own;
	p->n_own = k;
	return 0;
}

/* Ranges that reach the server itself or its links, most likely reason first. */
static const struct {
	struct cidr net;
	enum policy_verdict verdict;
} protected_ranges[] = {
	{ { AF_INET, 8, { 127 } }, POLICY_DENY_LOOPBACK },
	{ { AF_INET6, 128, { [15] = 1 } }, POLICY_DENY_LOOPBACK },
	/* 169.254.169.254 is the metadata service (credentials) of most clouds. */
	{ { AF_INET, 16, { 169, 254 } }, POLICY_DENY_LINK_LOCAL },
	{ { AF_INET6, 10, { 0xfe, 0x80 } }, POLICY_DENY_LINK_LOCAL },
	{ { AF_INET, 4, { 224 } }, POLICY_DENY_MULTICAST },
	{ { AF_INET6, 8, { 0xff } }, POLICY_DENY_MULTICAST },
	/* Linux connects 0.0.0.0 and :: to the local host; 0/8 is never a destination. */
	{ { AF_INET, 8, { 0 } }, POLICY_DENY_UNSPECIFIED },
	{ { AF_INET6, 128, { 0 } }, POLICY_DENY_UNSPECIFIED },
	{ { AF_INET, 32, { 255, 255, 255, 255 } }, POLICY_DENY_BROADCAST },
};

/*
 * IPv6 prefixes that carry an IPv4 address at bit v4_bit. Translators and tunnels send
 * these to the embedded address: a NAT64 gateway (possibly on the server itself), the
 * kernel's sit device for 6to4 and for IPv4-compatible addresses (::a.b.c.d).
 */
static const struct {
	struct cidr net;
	unsigned v4_byte;
} embedding[] = {
	{ { AF_INET6, 96, { 0, 0x64, 0xff, 0x9b } }, 12 }, /* NAT64 well-known, RFC 6052 */
	{ { AF_INET6, 16, { 0x20, 0x02 } }, 2 }, /* 6to4 2002:AABB:CCDD::/48, RFC 3056 */
	{ { AF_INET6, 96, { 0 } }, 12 }, /* IPv4-compatible, deprecated (RFC 4291 2.5.5.1) */
};

/*
 * The protected range a (an address) falls in, first in table order, then the server's
 * own addresses: its verdict, and the range in *guard. POLICY_DENY_NO_RULE if none.
 */
static enum policy_verdict protected_range(const struct policy *p, const struct cidr *a,
					   struct cidr *guard)
{
	for (size_t i = 0; i < sizeof(protected_ranges) / sizeof(protected_ranges[0]); i++) {
		if (cidr_within(a, &protected_ranges[i].net)) {
			*guard = protected_ranges[i].net;
			return protected_ranges[i].verdict;
		}
	}
	for (size_t i = 0; i < p->n_own; i++) {
		if (cidr_equal(a, &p->own[i])) {
			*guard = p->own[i];
			return POLICY_DENY_OWN_ADDRESS;
		}
	}
	return POLICY_DENY_NO_RULE;
}

/*
 * An IPv6 address that embeds an IPv4 one is protected when the IPv4 address is; the
 * guard is then the protected IPv4 range written in the IPv6 form, so only a rule inside
 * it (such as [64:ff9b::7f00:1]) opens the address.
 */
static enum policy_verdict protected_embedded(const struct policy *p, const struct cidr *a,
					      struct cidr *guard)
{
	for (size_t i = 0; i < sizeof(embedding) / sizeof(embedding[0]); i++) {
		unsigned off = embedding[i].v4_byte;
		struct cidr a4 = { AF_INET, 32, { 0 } }, g4;
		enum policy_verdict v;

		if (!cidr_within(a, &embedding[i].net))
			continue;
		memcpy(a4.addr, a->addr + off, 4);
		v = protected_range(p, &a4, &g4);
		if (v == POLICY_DENY_NO_RULE)
			return v;
		*guard = embedding[i].net;
		memcpy(guard->addr + off, g4.addr, 4);
		guard->prefix = (uint8_t)(8 * off + g4.prefix);
		return v;
	}
	return POLICY_DENY_NO_RULE;
}

enum policy_verdict policy_check(const struct policy *p, const struct sockaddr *addr, uint16_t port)
{
	enum policy_verdict deny;
	struct cidr a, guard;

	if (cidr_from_sockaddr(addr, &a) < 0)
		return POLICY_DENY_FAMILY;
	deny = protected_range(p, &a, &guard);
	if (deny == POLICY_DENY_NO_RULE)
		deny = protected_embedded(p, &a, &guard);
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct policy_rule *r = &p->rules[i];

		if (port < r->port_min || port > r->port_max || !cidr_within(&a, &r->net))
			continue;
		/* A protected address needs a rule that names it, not one that sweeps it up. */
		if (deny != POLICY_DENY_NO_RULE && !cidr_within(&r->net, &guard))
			continue;
		return POLICY_ALLOW;
	}
	return deny;
}

const char *policy_verdict_str(enum policy_verdict v)
{
	switch (v) {
	case POLICY_ALLOW:
		return "allowed";
	case POLICY_DENY_NO_RULE:
		return "no l7-allow rule matches";
	case POLICY_DENY_LOOPBACK:
		return "loopback address, denied unless a rule names it";
	case POLICY_DENY_LINK_LOCAL:
		return "link-local address, denied unless a rule names it";
	case POLICY_DENY_MULTICAST:
		return "multicast address, denied unless a rule names it";
	case POLICY_DENY_UNSPECIFIED:
		return "unspecified address, denied unless a rule names it";
	case POLICY_DENY_BROADCAST:
		return "broadcast address, denied unless a rule names it";
	case POLICY_DENY_OWN_ADDRESS:
		return "the server's own address, denied unless a rule names it";
	case POLICY_DENY_FAMILY:
		return "not an IPv4 or IPv6 address";
	}
	return "unknown verdict";
}

void policy_rule_format(const struct policy_rule *rule, char *buf, size_t len)
{
	char net[CIDR_STR_BYTES];
	const char *open = rule->net.family == AF_INET6 ? "[" : "";
	const char *close = rule->net.family == AF_INET6 ? "]" : "";

	cidr_format(&rule->net, net, sizeof(net));
	if (rule->port_min == 1 && rule->port_max == 65535)
		snprintf(buf, len, "%s%s%s", open, net, close);
	else if (rule->port_min == rule->port_max)
		snprintf(buf, len, "%s%s%s:%u", open, net, close, rule->port_min);
	else
		snprintf(buf, len, "%s%s%s:%u-%u", open, net, close, rule->port_min,
			 rule->port_max);
}
