/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* A socket address from a numeric literal; the port inside must be ignored. */
static struct sockaddr_storage sa(const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(9);
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(9);
		assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	}
	return ss;
}

static void add_rules(struct policy *p, const char *const *rules)
{
	for (; *rules; rules++) {
		struct policy_rule r;
		char why[256];

		if (policy_rule_parse(*rules, &r, why, sizeof(why)) != 0)
			fail_msg("rule %s: %s", *rules, why);
		assert_int_equal(policy_add(p, &r), 0);
	}
}

static enum policy_verdict check(const struct policy *p, const char *ip, uint16_t port)
{
	struct sockaddr_storage ss = sa(ip);

	return policy_check(p, (const struct sockaddr *)&ss, port);
}

static void test_rule_parse_valid(void **state)
{
	static const struct {
		const char *text;
		const char *formatted;
		uint16_t lo, hi;
	} cases[] = {
		{ "198.18.0.0/15", "198.18.0.0/15", 1, 65535 },
		{ "198.18.0.5", "198.18.0.5/32", 1, 65535 },
		{ "198.18.0.5:22", "198.18.0.5/32:22", 22, 22 },
		{ "198.18.0.0/15:80-443", "198.18.0.0/15:80-443", 80, 443 },
		{ "0.0.0.0/0", "0.0.0.0/0", 1, 65535 },
		{ "0.0.0.0/0:1-65535", "0.0.0.0/0", 1, 65535 },
		{ "10.0.0.0/8:65535", "10.0.0.0/8:65535", 65535, 65535 },
		{ "[fd00::/8]", "[fd00::/8]", 1, 65535 },
		{ "[fd00::/8]:22", "[fd00::/8]:22", 22, 22 },
		{ "[fd00::1]:22-23", "[fd00::1/128]:22-23", 22, 23 },
		{ "[::/0]", "[::/0]", 1, 65535 },
		/* IPv4-mapped rules are stored as the IPv4 rule they stand for. */
		{ "[::ffff:198.18.0.0/111]:7", "198.18.0.0/15:7", 7, 7 },
		{ "[::ffff:127.0.0.1]", "127.0.0.1/32", 1, 65535 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy_rule r;
		char why[256] = "", out[POLICY_RULE_STR_BYTES];

		if (policy_rule_parse(cases[i].text, &r, why, sizeof(why)) != 0)
			fail_msg("%s: %s", cases[i].text, why);
		assert_int_equal(r.port_min, cases[i].lo);
		assert_int_equal(r.port_max, cases[i].hi);
		policy_rule_format(&r, out, sizeof(out));
		assert_string_equal(out, cases[i].formatted);
	}
}

static void test_rule_parse_invalid(void **state)
{
	static const struct {
		const char *text;
		const char *why;
	} cases[] = {
		{ "", "no address" },
		{ "198.18.0.0/15:", "ports must be PORT or PORT-PORT, each 1..65535" },
		{ "198.18.0.0/15:0", "ports must be PORT or PORT-PORT, each 1..65535" },
		{ "198.18.0.0/15:65536", "ports must be PORT or PORT-PORT, each 1..65535" },
		{ "198.18.0.0/15:022", "ports must be PORT or PORT-PORT, each 1..65535" },
		{ "198.18.0.0/15:22-", "ports must be PORT or PORT-PORT, each 1..65535" },
		{ "198.18.0.0/15:-22", "ports must be PORT or PORT-PORT, each 1..65535" },
		{ "198.18.0.0/15:2-3-4", "ports must be PORT or PORT-PORT, each 1..65535" },
		{ "198.18.0.0/15:+22", "ports must be PORT or PORT-PORT, each 1..65535" },
		{ "198.18.0.0/15:443-80",
		  "port range 443-80 is empty: the first port must not be above the second" },
		{ "198.18.1.5/24",
		  "host bits are set; write the network 198.18.1.0/24, or the single address "
		  "without a prefix length" },
		{ "198.18.0.0/33", "IPv4 prefix length must be 0..32" },
		{ "198.18.0.0/08", "prefix length must be a decimal number" },
		{ "198.18.0.0/", "prefix length must be a decimal number" },
		{ "198.18.0.0/1x", "prefix length must be a decimal number" },
		{ "198.18.0", "not an IPv4 or IPv6 address" },
		{ "198.018.0.1", "not an IPv4 or IPv6 address" },
		{ "example.com:80", "not an IPv4 or IPv6 address" },
		{ "fd00::/8",
		  "IPv6 prefixes must be in brackets, as in [fd00::/8] or [fd00::/8]:22" },
		{ "fd00::1:22",
		  "IPv6 prefixes must be in brackets, as in [fd00::/8] or [fd00::/8]:22" },
		{ "[fd00::/8", "missing ']' after the IPv6 prefix" },
		{ "[fd00::/8]22", "expected ':PORT' or nothing after ']'" },
		{ "[fd00::/8]]", "expected ':PORT' or nothing after ']'" },
		{ "[fd00::/129]", "IPv6 prefix length must be 0..128" },
		{ "[198.18.0.0/15]:22", "brackets are for IPv6 prefixes; write IPv4 without them" },
		{ "[fd00::1/8]",
		  "host bits are set; write the network fd00::/8, or the single address without "
		  "a prefix length" },
		{ "[fe80::1%eth0]", "not an IPv4 or IPv6 address" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy_rule r;
		char why[256] = "";

		if (policy_rule_parse(cases[i].text, &r, why, sizeof(why)) != -EINVAL)
			fail_msg("accepted: %s", cases[i].text);
		if (strcmp(why, cases[i].why) != 0)
			fail_msg("%s: got '%s', want '%s'", cases[i].text, why, cases[i].why);
	}
}

static void test_empty_policy_denies(void **state)
{
	struct policy p;

	(void)state;
	policy_init(&p);
	assert_int_equal(check(&p, "198.18.0.1", 80), POLICY_DENY_NO_RULE);
	assert_int_equal(check(&p, "fd00::1", 80), POLICY_DENY_NO_RULE);
	assert_int_equal(check(&p, "127.0.0.1", 80), POLICY_DENY_LOOPBACK);
	policy_close(&p);
}

struct check_case {
	const char *ip;
	uint16_t port;
	enum policy_verdict want;
};

/* The cases against the rules, with the server's own addresses own[] (NULL-terminated). */
static void run_cases_own(const char *const *rules, const char *const *own,
			  const struct check_case *cases, size_t n)
{
	struct sockaddr_storage addrs[4];
	struct policy p;
	size_t nown = 0;

	policy_init(&p);
	add_rules(&p, rules);
	for (; own && own[nown]; nown++) {
		assert_true(nown < sizeof(addrs) / sizeof(addrs[0]));
		addrs[nown] = sa(own[nown]);
	}
	assert_int_equal(policy_set_own(&p, addrs, nown), 0);
	for (size_t i = 0; i < n; i++) {
		enum policy_verdict got = check(&p, cases[i].ip, cases[i].port);

		if (got != cases[i].want)
			fail_msg("%s port %u: got %s, want %s", cases[i].ip, cases[i].port,
				 policy_verdict_str(got), policy_verdict_str(cases[i].want));
	}
	policy_close(&p);
}

static void run_cases(const char *const *rules, const struct check_case *cases, size_t n)
{
	run_cases_own(rules, NULL, cases, n);
}

static void test_everything_rule_keeps_protected_ranges(void **state)
{
	static const char *const rules[] = { "0.0.0.0/0", "[::/0]", NULL };
	static const struct check_case cases[] = {
		{ "198.18.0.5", 80, POLICY_ALLOW },
		{ "8.8.8.8", 53, POLICY_ALLOW },
		{ "fd00::5", 22, POLICY_ALLOW },
		{ "127.0.0.1", 22, POLICY_DENY_LOOPBACK },
		{ "127.255.255.254", 22, POLICY_DENY_LOOPBACK },
		{ "::1", 22, POLICY_DENY_LOOPBACK },
		{ "169.254.169.254", 80, POLICY_DENY_LINK_LOCAL }, /* cloud metadata */
		{ "169.254.0.0", 80, POLICY_DENY_LINK_LOCAL },
		{ "fe80::1", 80, POLICY_DENY_LINK_LOCAL },
		{ "febf:ffff::1", 80, POLICY_DENY_LINK_LOCAL },
		{ "fec0::1", 80, POLICY_ALLOW }, /* just past fe80::/10 */
		{ "224.0.0.1", 80, POLICY_DENY_MULTICAST },
		{ "239.255.255.255", 80, POLICY_DENY_MULTICAST },
		{ "223.255.255.255", 80, POLICY_ALLOW },
		{ "240.0.0.1", 80, POLICY_ALLOW },
		{ "ff02::1", 80, POLICY_DENY_MULTICAST },
		{ "0.0.0.0", 80, POLICY_DENY_UNSPECIFIED },
		{ "0.1.2.3", 80, POLICY_DENY_UNSPECIFIED },
		{ "1.0.0.0", 80, POLICY_ALLOW },
		{ "::", 80, POLICY_DENY_UNSPECIFIED },
		{ "::2", 80, POLICY_DENY_UNSPECIFIED }, /* IPv4-compatible 0.0.0.2 */
		{ "::1:0:2", 80, POLICY_ALLOW },
		{ "255.255.255.255", 80, POLICY_DENY_BROADCAST },
		{ "255.255.255.254", 80, POLICY_ALLOW },
		/* IPv4-mapped addresses are the IPv4 address they stand for. */
		{ "::ffff:127.0.0.1", 22, POLICY_DENY_LOOPBACK },
		{ "::ffff:169.254.169.254", 80, POLICY_DENY_LINK_LOCAL },
		{ "::ffff:198.18.0.5", 80, POLICY_ALLOW },
		{ "198.18.0.5", 0, POLICY_DENY_NO_RULE },
	};

	(void)state;
	run_cases(rules, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_rules_that_name_protected_ranges(void **state)
{
	static const char *const rules[] = { "127.0.0.1:8080",	   "[::1]:8080",
					     "169.254.169.254:80", "224.0.0.0/4:5353",
					     "127.0.0.0/8:9000",   NULL };
	static const struct check_case cases[] = {
		{ "127.0.0.1", 8080, POLICY_ALLOW },
		{ "127.0.0.1", 8081, POLICY_DENY_LOOPBACK },
		{ "127.0.0.2", 8080, POLICY_DENY_LOOPBACK },
		{ "127.0.0.2", 9000, POLICY_ALLOW },
		{ "::ffff:127.0.0.1", 8080, POLICY_ALLOW },
		{ "::1", 8080, POLICY_ALLOW },
		{ "169.254.169.254", 80, POLICY_ALLOW },
		{ "169.254.169.253", 80, POLICY_DENY_LINK_LOCAL },
		{ "239.1.2.3", 5353, POLICY_ALLOW },
		{ "198.18.0.1", 8080, POLICY_DENY_NO_RULE },
	};

	(void)state;
	run_cases(rules, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_prefix_wider_than_protected_range(void **state)
{
	/* 96.0.0.0/3 covers 127/8 but is not inside it: it must not open loopback. */
	static const char *const rules[] = { "96.0.0.0/3", "[fe00::/9]", "126.0.0.0/7", NULL };
	static const struct check_case cases[] = {
		{ "127.0.0.1", 80, POLICY_DENY_LOOPBACK },
		{ "126.0.0.1", 80, POLICY_ALLOW },
		{ "fe80::1", 80, POLICY_DENY_LINK_LOCAL },
		{ "fe00::1", 80, POLICY_ALLOW },
	};

	(void)state;
	run_cases(rules, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_ports_edges(void **state)
{
	static const char *const rules[] = { "198.18.0.0/15:1000-2000", "198.18.0.7:22",
					     "[fd00::/8]:65535", "10.0.0.0/8:1", NULL };
	static const struct check_case cases[] = {
		{ "198.18.0.1", 999, POLICY_DENY_NO_RULE },
		{ "198.18.0.1", 1000, POLICY_ALLOW },
		{ "198.18.0.1", 1001, POLICY_ALLOW },
		{ "198.18.0.1", 1999, POLICY_ALLOW },
		{ "198.18.0.1", 2000, POLICY_ALLOW },
		{ "198.18.0.1", 2001, POLICY_DENY_NO_RULE },
		{ "198.18.0.7", 21, POLICY_DENY_NO_RULE },
		{ "198.18.0.7", 22, POLICY_ALLOW },
		{ "198.18.0.7", 23, POLICY_DENY_NO_RULE },
		{ "fd00::1", 65534, POLICY_DENY_NO_RULE },
		{ "fd00::1", 65535, POLICY_ALLOW },
		{ "10.0.0.1", 0, POLICY_DENY_NO_RULE },
		{ "10.0.0.1", 1, POLICY_ALLOW },
		{ "10.0.0.1", 2, POLICY_DENY_NO_RULE },
		/* prefix edges: 198.18.0.0/15 is 198.18.0.0 .. 198.19.255.255 */
		{ "198.17.255.255", 1000, POLICY_DENY_NO_RULE },
		{ "198.18.0.0", 1000, POLICY_ALLOW },
		{ "198.19.255.255", 1000, POLICY_ALLOW },
		{ "198.20.0.0", 1000, POLICY_DENY_NO_RULE },
		{ "::ffff:198.19.255.255", 1000, POLICY_ALLOW },
		{ "fcff:ffff::1", 65535, POLICY_DENY_NO_RULE },
		{ "fe00::", 65535, POLICY_DENY_NO_RULE },
	};

	(void)state;
	run_cases(rules, cases, sizeof(cases) / sizeof(cases[0]));
}

/*
 * IPv6 forms that embed an IPv4 address (NAT64 64:ff9b::/96, 6to4 2002::/16, IPv4-compatible
 * ::/96) are protected as the IPv4 address they carry, even under [::/0]. Edges: ±1 around
 * each IPv6 prefix (with a protected IPv4 address where the embedding would carry it) and
 * around the protected IPv4 ranges inside it.
 */
static void test_embedded_ipv4_protected(void **state)
{
	static const char *const rules[] = { "0.0.0.0/0", "[::/0]", NULL };
	static const char *const own[] = { "203.0.113.5", NULL };
	static const struct check_case cases[] = {
		/* NAT64, 64:ff9b::a.b.c.d */
		{ "64:ff9b::7f00:1", 80, POLICY_DENY_LOOPBACK },
		{ "64:ff9b::7eff:ffff", 80, POLICY_ALLOW }, /* 126.255.255.255 */
		{ "64:ff9b::7f00:0", 80, POLICY_DENY_LOOPBACK },
		{ "64:ff9b::7fff:ffff", 80, POLICY_DENY_LOOPBACK },
		{ "64:ff9b::8000:0", 80, POLICY_ALLOW }, /* 128.0.0.0 */
		{ "64:ff9b::a9fe:a9fe", 80, POLICY_DENY_LINK_LOCAL }, /* cloud metadata */
		{ "64:ff9b::e000:1", 80, POLICY_DENY_MULTICAST },
		{ "64:ff9b::", 80, POLICY_DENY_UNSPECIFIED }, /* first of the prefix: 0.0.0.0 */
		{ "64:ff9b::ffff:ffff", 80, POLICY_DENY_BROADCAST }, /* last of the prefix */
		{ "64:ff9b::cb00:7105", 80, POLICY_DENY_OWN_ADDRESS },
		{ "64:ff9b::cb00:7104", 80, POLICY_ALLOW },
		{ "64:ff9b::cb00:7106", 80, POLICY_ALLOW },
		{ "64:ff9b::808:808", 53, POLICY_ALLOW },
		{ "64:ff9a:ffff:ffff:ffff:ffff:7f00:1", 80, POLICY_ALLOW }, /* before the prefix */
		{ "64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", 80, POLICY_ALLOW },
		{ "64:ff9b::1:7f00:1", 80, POLICY_ALLOW }, /* after the prefix */
		{ "64:ff9b::1:0:0", 80, POLICY_ALLOW },
		/* 6to4, 2002:AABB:CCDD::/48 for a.b.c.d = AA.BB.CC.DD: the whole /48 */
		{ "2002:7f00:1::1", 80, POLICY_DENY_LOOPBACK },
		{ "2002:7f00:1::", 80, POLICY_DENY_LOOPBACK },
		{ "2002:7eff:ffff:ffff:ffff:ffff:ffff:ffff", 80, POLICY_ALLOW },
		{ "2002:7f00::", 80, POLICY_DENY_LOOPBACK },
		{ "2002:7fff:ffff:ffff:ffff:ffff:ffff:ffff", 80, POLICY_DENY_LOOPBACK },
		{ "2002:8000::", 80, POLICY_ALLOW },
		{ "2002:a9fe:a9fe:1::1", 80, POLICY_DENY_LINK_LOCAL },
		{ "2002:e000:1::1", 80, POLICY_DENY_MULTICAST },
		{ "2002::", 80, POLICY_DENY_UNSPECIFIED }, /* first of the prefix */
		{ "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 80, POLICY_DENY_BROADCAST }, /* last */
		{ "2002:cb00:7105::1", 80, POLICY_DENY_OWN_ADDRESS },
		{ "2002:cb00:7105:ffff:ffff:ffff:ffff:ffff", 80, POLICY_DENY_OWN_ADDRESS },
		{ "2002:cb00:7104:ffff:ffff:ffff:ffff:ffff", 80, POLICY_ALLOW },
		{ "2002:cb00:7106::", 80, POLICY_ALLOW },
		{ "2002:808:808::1", 53, POLICY_ALLOW },
		{ "2001:7f00:1::1", 80, POLICY_ALLOW }, /* before the prefix */
		{ "2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 80, POLICY_ALLOW },
		{ "2003:7f00:1::1", 80, POLICY_ALLOW }, /* after the prefix */
		{ "2003::", 80, POLICY_ALLOW },
		/* IPv4-compatible, ::a.b.c.d (::1 and :: are IPv6's own loopback, unspecified) */
		{ "::7f00:1", 80, POLICY_DENY_LOOPBACK },
		{ "::7eff:ffff", 80, POLICY_ALLOW },
		{ "::8000:0", 80, POLICY_ALLOW },
		{ "::a9fe:a9fe", 80, POLICY_DENY_LINK_LOCAL },
		{ "::e000:1", 80, POLICY_DENY_MULTICAST },
		{ "::1", 80, POLICY_DENY_LOOPBACK },
		{ "::", 80, POLICY_DENY_UNSPECIFIED },
		{ "::ffff:ffff", 80, POLICY_DENY_BROADCAST }, /* last of the prefix */
		{ "::cb00:7105", 80, POLICY_DENY_OWN_ADDRESS },
		{ "::808:808", 53, POLICY_ALLOW },
		{ "::1:7f00:1", 80, POLICY_ALLOW }, /* after the prefix */
		{ "::1:0:0", 80, POLICY_ALLOW },
		/* IPv4-mapped: the IPv4 address itself, as before */
		{ "::ffff:7f00:1", 80, POLICY_DENY_LOOPBACK },
		{ "::ffff:cb00:7105", 80, POLICY_DENY_OWN_ADDRESS },
	};

	(void)state;
	run_cases_own(rules, own, cases, sizeof(cases) / sizeof(cases[0]));
}

/*
 * A protected embedded address opens only to a rule that names it in its IPv6 form: the
 * IPv4 rule does not reach through a translator, nor does a rule for the whole prefix.
 */
static void test_rules_that_name_embedded_ipv4(void **state)
{
	static const char *const rules[] = {
		"[64:ff9b::7f00:1]:8080", "[64:ff9b::/96]", "[2002:a9fe:a9fe::/48]:80",
		"[::7f00:0/104]:22",	  "127.0.0.1",	    NULL
	};
	static const char *const own[] = { "203.0.113.5", NULL };
	static const struct check_case cases[] = {
		{ "64:ff9b::7f00:1", 8080, POLICY_ALLOW },
		{ "64:ff9b::7f00:1", 8081, POLICY_DENY_LOOPBACK },
		{ "64:ff9b::7f00:2", 8080, POLICY_DENY_LOOPBACK },
		{ "64:ff9b::808:808", 443, POLICY_ALLOW },
		{ "64:ff9b::cb00:7105", 443, POLICY_DENY_OWN_ADDRESS },
		{ "127.0.0.1", 80, POLICY_ALLOW },
		{ "64:ff9b::7f00:1", 80, POLICY_DENY_LOOPBACK },
		{ "2002:a9fe:a9fe:ffff::1", 80, POLICY_ALLOW },
		{ "2002:a9fe:a9fe::1", 81, POLICY_DENY_LINK_LOCAL },
		{ "2002:a9fe:a9fd::1", 80, POLICY_DENY_LINK_LOCAL },
		{ "::7f00:0", 22, POLICY_ALLOW },
		{ "::7fff:ffff", 22, POLICY_ALLOW },
		{ "::7f00:1", 23, POLICY_DENY_LOOPBACK },
		{ "::8000:0", 22, POLICY_DENY_NO_RULE },
	};

	(void)state;
	run_cases_own(rules, own, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_mapped_rule_matches_ipv4(void **state)
{
	static const char *const rules[] = { "198.18.0.0/15", NULL };
	static const struct check_case cases[] = {
		{ "::ffff:198.18.0.5", 443, POLICY_ALLOW },
		{ "::ffff:198.20.0.5", 443, POLICY_DENY_NO_RULE },
		/* IPv4-compatible (deprecated) is not mapped: the IPv4 rule does not match it. */
		{ "::198.18.0.5", 443, POLICY_DENY_NO_RULE },
	};

	(void)state;
	run_cases(rules, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_own_addresses(void **state)
{
	static const char *const rules[] = { "198.18.0.0/15", "[fd00::/8]", "198.18.0.1:443",
					     NULL };
	struct sockaddr_storage own[4] = { sa("198.18.0.1"), sa("fd00::1"), sa("127.0.0.1") };
	struct policy p;

	(void)state;
	own[3].ss_family = AF_UNIX; /* skipped */
	policy_init(&p);
	add_rules(&p, rules);
	assert_int_equal(policy_set_own(&p, own, 4), 0);
	assert_int_equal(p.n_own, 3);
	assert_int_equal(check(&p, "198.18.0.1", 22), POLICY_DENY_OWN_ADDRESS);
	assert_int_equal(check(&p, "198.18.0.1", 443), POLICY_ALLOW); /* named exactly */
	assert_int_equal(check(&p, "::ffff:198.18.0.1", 22), POLICY_DENY_OWN_ADDRESS);
	assert_int_equal(check(&p, "198.18.0.2", 22), POLICY_ALLOW);
	assert_int_equal(check(&p, "fd00::1", 22), POLICY_DENY_OWN_ADDRESS);
	assert_int_equal(check(&p, "fd00::2", 22), POLICY_ALLOW);
	/* Loopback stays loopback even when listed as an own address. */
	assert_int_equal(check(&p, "127.0.0.1", 22), POLICY_DENY_LOOPBACK);

	/* Replacing the list forgets the old one. */
	assert_int_equal(policy_set_own(&p, own + 1, 1), 0);
	assert_int_equal(check(&p, "198.18.0.1", 22), POLICY_ALLOW);
	assert_int_equal(check(&p, "fd00::1", 22), POLICY_DENY_OWN_ADDRESS);
	assert_int_equal(policy_set_own(&p, NULL, 0), 0);
	assert_int_equal(check(&p, "fd00::1", 22), POLICY_ALLOW);
	policy_close(&p);
}

static void test_bounds(void **state)
{
	struct policy p;
	struct policy_rule r;
	struct sockaddr_storage *many;
	struct sockaddr_storage unix_sa = { .ss_family = AF_UNIX };
	char why[64];

	(void)state;
	policy_init(&p);
	assert_int_equal(policy_rule_parse("198.18.0.0/15", &r, why, sizeof(why)), 0);
	for (int i = 0; i < POLICY_MAX_RULES; i++)
		assert_int_equal(policy_add(&p, &r), 0);
	assert_int_equal(policy_add(&p, &r), -E2BIG);
	assert_int_equal(p.n_rules, POLICY_MAX_RULES);

	many = calloc(POLICY_MAX_OWN_ADDRESSES + 1, sizeof(*many));
	assert_non_null(many);
	assert_int_equal(policy_set_own(&p, many, POLICY_MAX_OWN_ADDRESSES + 1), -E2BIG);
	assert_int_equal(policy_set_own(&p, many, POLICY_MAX_OWN_ADDRESSES), 0);
	assert_int_equal(p.n_own, 0); /* all AF_UNSPEC, skipped */
	free(many);

	assert_int_equal(policy_check(&p, (const struct sockaddr *)&unix_sa, 80),
			 POLICY_DENY_FAMILY);
	policy_close(&p);
}

static void test_verdict_strings(void **state)
{
	(void)state;
	for (int v = POLICY_ALLOW; v <= POLICY_DENY_FAMILY; v++)
		assert_string_not_equal(policy_verdict_str((enum policy_verdict)v),
					"unknown verdict");
	assert_string_equal(policy_verdict_str(POLICY_DENY_LINK_LOCAL),
			    "link-local address, denied unless a rule names it");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule_parse_valid),
		cmocka_unit_test(test_rule_parse_invalid),
		cmocka_unit_test(test_empty_policy_denies),
		cmocka_unit_test(test_everything_rule_keeps_protected_ranges),
		cmocka_unit_test(test_rules_that_name_protected_ranges),
		cmocka_unit_test(test_prefix_wider_than_protected_range),
		cmocka_unit_test(test_ports_edges),
		cmocka_unit_test(test_embedded_ipv4_protected),
		cmocka_unit_test(test_rules_that_name_embedded_ipv4),
		cmocka_unit_test(test_mapped_rule_matches_ipv4),
		cmocka_unit_test(test_own_addresses),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_verdict_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
