/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

static const char full_config[] = "# httun: both sides in one file, to test everything at once\n"
				  "[server]\n"
				  "listen = 0.0.0.0:8080\n"
				  "listen = [::]:8080\n"
				  "path = /tunnel\n"
				  "fcgi-socket = /run/httun/fcgi.sock\n"
				  "user = httun\n"
				  "\n"
				  "[client]\n"
				  "url = https://example.com:8443/tunnel/\n"
				  "channel = office\n"
				  "forward = 8022:server.example:22\n"
				  "forward = [::1]:8443:[fd00::5]:443\n"
				  "forward = 198.18.0.1:5353:198.18.0.53:53\n"
				  "\n"
				  "[channel office]\n"
				  "key-file = office.key\n"
				  "tun = yes\n"
				  "tun-name = httun-office\n"
				  "tun-address = 198.18.1.1/24\n"
				  "tun-address = fd00:1::1/64\n"
				  "mtu = 1400\n"
				  "route = 198.18.0.0/15\n"
				  "route = fd00::/8\n"
				  "\n"
				  "  [ channel   lab ]  \n"
				  "\tkey-file = /etc/httun/lab.key   \n"
				  "; a comment\n"
				  "   # an indented comment\n"
				  "l7-allow=198.18.5.0/24\n"
				  "l7-allow = [fd00::/8]:80-443\n"
				  "tun = off";

static struct config *parse_ok(const char *name, const char *text, size_t len)
{
	struct config *cfg = config_new();
	char err[CONFIG_ERR_BYTES] = "";

	assert_non_null(cfg);
	if (config_parse(cfg, name, text, len, err, sizeof(err)) != 0)
		fail_msg("unexpected error: %s", err);
	return cfg;
}

static void assert_sockaddr(const struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	char buf[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;

		assert_non_null(inet_ntop(AF_INET, &s->sin_addr, buf, sizeof(buf)));
		assert_int_equal(ntohs(s->sin_port), port);
	} else {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;

		assert_int_equal(ss->ss_family, AF_INET6);
		assert_non_null(inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof(buf)));
		assert_int_equal(ntohs(s->sin6_port), port);
	}
	assert_string_equal(buf, ip);
}

static void assert_cidr(const struct cidr *c, const char *want)
{
	char buf[CIDR_STR_BYTES];

	cidr_format(c, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void assert_rule(const struct policy_rule *r, const char *want)
{
	char buf[POLICY_RULE_STR_BYTES];

	policy_rule_format(r, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_full_config(void **state)
{
	struct config *cfg;
	const struct config_channel *ch;
	char err[CONFIG_ERR_BYTES];

	(void)state;
	cfg = parse_ok("/etc/httun/httun.conf", full_config, strlen(full_config));
	assert_string_equal(cfg->name, "/etc/httun/httun.conf");

	assert_int_equal(cfg->server.line, 2);
	assert_int_equal(cfg->server.n_listens, 2);
	assert_sockaddr(&cfg->server.listens[0], "0.0.0.0", 8080);
	assert_sockaddr(&cfg->server.listens[1], "::", 8080);
	assert_string_equal(cfg->server.path, "/tunnel/");
	assert_string_equal(cfg->server.fcgi_socket, "/run/httun/fcgi.sock");
	assert_string_equal(cfg->server.user, "httun");
	assert_null(cfg->server.fcgi_user);

	assert_int_equal(cfg->client.line, 9);
	assert_true(cfg->client.has_url);
	assert_true(cfg->client.url.https);
	assert_string_equal(cfg->client.url.host, "example.com");
	assert_false(cfg->client.url.host_is_ipv6);
	assert_int_equal(cfg->client.url.port, 8443);
	assert_string_equal(cfg->client.url.path, "/tunnel/");
	assert_string_equal(cfg->client.channel, "office");
	assert_int_equal(cfg->client.n_forwards, 3);
	assert_sockaddr(&cfg->client.forwards[0].bind, "127.0.0.1", 8022);
	assert_string_equal(cfg->client.forwards[0].host, "server.example");
	assert_int_equal(cfg->client.forwards[0].port, 22);
	assert_sockaddr(&cfg->client.forwards[1].bind, "::1", 8443);
	assert_string_equal(cfg->client.forwards[1].host, "fd00::5");
	assert_int_equal(cfg->client.forwards[1].port, 443);
	assert_sockaddr(&cfg->client.forwards[2].bind, "198.18.0.1", 5353);
	assert_string_equal(cfg->client.forwards[2].host, "198.18.0.53");
	assert_int_equal(cfg->client.forwards[2].port, 53);
	assert_int_equal(cfg->client.busy_poll_us, 0);

	assert_int_equal(cfg->n_channels, 2);
	ch = &cfg->channels[0];
	assert_string_equal(ch->name, "office");
	assert_int_equal(ch->line, 16);
	assert_string_equal(ch->key_file, "/etc/httun/office.key");
	assert_true(ch->tun);
	assert_string_equal(ch->tun_name, "httun-office");
	assert_int_equal(ch->n_tun_addresses, 2);
	assert_cidr(&ch->tun_addresses[0], "198.18.1.1/24");
	assert_cidr(&ch->tun_addresses[1], "fd00:1::1/64");
	assert_int_equal(ch->mtu, 1400);
	assert_int_equal(ch->n_routes, 2);
	assert_cidr(&ch->routes[0], "198.18.0.0/15");
	assert_cidr(&ch->routes[1], "fd00::/8");
	assert_int_equal(ch->l7.n_rules, 0);
	assert_int_equal(ch->set_line[CONFIG_KEY_MTU], 22);
	assert_int_equal(ch->set_line[CONFIG_KEY_ROUTE], 23);
	assert_int_equal(ch->set_line[CONFIG_KEY_L7_ALLOW], 0);

	ch = &cfg->channels[1];
	assert_string_equal(ch->name, "lab");
	assert_int_equal(ch->line, 26);
	assert_string_equal(ch->key_file, "/etc/httun/lab.key");
	assert_false(ch->tun);
	assert_string_equal(ch->tun_name, "");
	assert_int_equal(ch->n_tun_addresses, 0);
	assert_int_equal(ch->mtu, CONFIG_MTU_DEFAULT);
	assert_int_equal(ch->n_routes, 0);
	assert_int_equal(ch->l7.n_rules, 2);
	assert_rule(&ch->l7.rules[0], "198.18.5.0/24");
	assert_rule(&ch->l7.rules[1], "[fd00::/8]:80-443");

	/* As a client it uses [channel office], which has no l7-allow. */
	assert_int_equal(config_check_client(cfg, err, sizeof(err)), 0);
	assert_ptr_equal(config_client_channel(cfg), &cfg->channels[0]);
	/* As a server, office's route is refused. */
	assert_int_equal(config_check_server(cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err,
			    "/etc/httun/httun.conf:23: route in [channel office] is a "
			    "client setting; on the server, routing is the admin's (ip route)");
	config_free(cfg);
}

/* allowed-ips in a file and as flags: parsed in order, flags appended, stored as written. */
static void test_allowed_ips(void **state)
{
	static const char text[] = "[server]\nlisten = 0.0.0.0:80\n[channel a]\nkey-file = a\n"
				   "tun = yes\ntun-address = 198.18.1.1/24\n"
				   "allowed-ips = 198.18.1.2\nallowed-ips = 198.19.20.0/24\n"
				   "allowed-ips = fd00:5::/48\n[client]\nurl = http://x/\n";
	struct config *cfg = parse_ok("s.conf", text, sizeof(text) - 1);
	const struct config_channel *ch = &cfg->channels[0];
	char err[CONFIG_ERR_BYTES];

	(void)state;
	assert_int_equal(ch->n_allowed_ips, 3);
	assert_cidr(&ch->allowed_ips[0], "198.18.1.2/32");
	assert_cidr(&ch->allowed_ips[1], "198.19.20.0/24");
	assert_cidr(&ch->allowed_ips[2], "fd00:5::/48");
	assert_int_equal(ch->set_line[CONFIG_KEY_ALLOWED_IPS], 7);
	assert_int_equal(config_check_server(cfg, err, sizeof(err)), 0);
	/* Not a client setting: the client takes what the server sends. */
	assert_int_equal(config_check_client(cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "s.conf:7: allowed-ips in [channel a] is a server setting");
	config_free(cfg);

	/* Flags: the channel of the command line, repeatable, same validator. */
	cfg = config_new();
	assert_non_null(cfg);
	assert_int_equal(config_flag(cfg, "listen", "0.0.0.0:80", err, sizeof(err)), 0);
	assert_int_equal(config_flag(cfg, "key-file", "k", err, sizeof(err)), 0);
	assert_int_equal(config_flag(cfg, "allowed-ips", "198.18.9.0/24", err, sizeof(err)), 0);
	assert_int_equal(config_flag(cfg, "allowed-ips", "fd00::/8", err, sizeof(err)), 0);
	assert_int_equal(cfg->channels[0].n_allowed_ips, 2);
	assert_int_equal(cfg->channels[0].set_line[CONFIG_KEY_ALLOWED_IPS], CONFIG_LINE_FLAG);
	assert_int_equal(config_flag(cfg, "allowed-ips", "198.18.9.1/24", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "--allowed-ips '198.18.9.1/24': host bits are set; the network "
				 "is 198.18.9.0/24");
	assert_int_equal(config_flag(cfg, "allowed-ips", "fd00::/8", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--allowed-ips 'fd00::/8': listed twice");
	assert_int_equal(config_check_server(cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--allowed-ips needs --tun");
	assert_int_equal(config_flag(cfg, "tun", NULL, err, sizeof(err)), 0);
	assert_int_equal(config_check_server(cfg, err, sizeof(err)), 0);
	config_free(cfg);

	/* --tun alone: nothing would get through, and the message names the flags. */
	cfg = config_new();
	assert_non_null(cfg);
	assert_int_equal(config_flag(cfg, "listen", "0.0.0.0:80", err, sizeof(err)), 0);
	assert_int_equal(config_flag(cfg, "key-file", "k", err, sizeof(err)), 0);
	assert_int_equal(config_flag(cfg, "tun", NULL, err, sizeof(err)), 0);
	assert_int_equal(config_check_server(cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "the channel of the command line allows its client no source "
				 "address and would drop every packet: give --tun-address a "
				 "network (198.18.1.1/24, not a host address) or list the "
				 "client's addresses with --allowed-ips");
	config_free(cfg);
}

static void test_busy_poll(void **state)
{
	static const char text[] = "[client]\nurl = http://198.18.0.1/\nbusy-poll = 50\n";
	struct config *cfg = parse_ok("httun.conf", text, sizeof(text) - 1);

	(void)state;
	assert_int_equal(cfg->client.busy_poll_us, 50);
	assert_int_equal(cfg->client.set_line[CONFIG_KEY_BUSY_POLL], 3);
	config_free(cfg);

	/* Both ends of the range are accepted: 0 (off, the default) and the limit. */
	static const char lo[] = "[client]\nbusy-poll = 0\n";
	static const char hi[] = "[client]\nbusy-poll = 1000\n";

	cfg = parse_ok("httun.conf", lo, sizeof(lo) - 1);
	assert_int_equal(cfg->client.busy_poll_us, 0);
	assert_int_equal(cfg->client.set_line[CONFIG_KEY_BUSY_POLL], 2);
	config_free(cfg);
	cfg = parse_ok("httun.conf", hi, sizeof(hi) - 1);
	assert_int_equal(cfg->client.busy_poll_us, CONFIG_BUSY_POLL_MAX_US);
	config_free(cfg);
}

/* The per-source cap of unauthenticated connections: a default, 0 (off), the maximum. */
static void test_max_unauth_per_source(void **state)
{
	static const char off[] = "[server]\nmax-unauth-per-source = 0\n";
	static const char hi[] = "[server]\nmax-unauth-per-source = 256\n";
	struct config *cfg = config_new();

	(void)state;
	assert_int_equal(cfg->server.max_unauth_per_source, HTTP_MAX_UNVOUCHED_PER_SOURCE);
	config_free(cfg);
	cfg = parse_ok("httun.conf", off, sizeof(off) - 1);
	assert_int_equal(cfg->server.max_unauth_per_source, 0);
	config_free(cfg);
	cfg = parse_ok("httun.conf", hi, sizeof(hi) - 1);
	assert_int_equal(cfg->server.max_unauth_per_source, HTTP_MAX_CONNECTIONS);
	config_free(cfg);
}

static void test_crlf_and_bom(void **state)
{
	static const char text[] = "\xef\xbb\xbf[channel a]\r\n"
				   "key-file = k\r\n"
				   "tun = yes\r\n"
				   "tun-address = 198.18.1.1/24\r\n";
	struct config *cfg;

	(void)state;
	cfg = parse_ok("c.conf", text, strlen(text));
	assert_int_equal(cfg->n_channels, 1);
	assert_string_equal(cfg->channels[0].key_file, "k"); /* no directory in the name */
	assert_true(cfg->channels[0].tun);
	assert_cidr(&cfg->channels[0].tun_addresses[0], "198.18.1.1/24");
	config_free(cfg);
}

struct error_case {
	const char *text;
	int ret;
	const char *msg;
};

static const struct error_case error_cases[] = {
	{ "key-file = k\n", -EINVAL,
	  "httun.conf:1: 'key-file' outside any section; start with [server], [client] or "
	  "[channel NAME]" },
	{ "[channel office]\ntun_adress = 198.18.1.1/24\n", -EINVAL,
	  "httun.conf:2: unknown key 'tun_adress' in [channel office]" },
	{ "[server]\nlisten = 0.0.0.0:80\nmtu = 1400\n", -EINVAL,
	  "httun.conf:3: 'mtu' belongs in a [channel NAME] section, not in [server]" },
	{ "[channel a]\nlisten = 0.0.0.0:80\n", -EINVAL,
	  "httun.conf:2: 'listen' belongs in [server], not in [channel a]" },
	{ "[server]\nurl = http://x/\n", -EINVAL,
	  "httun.conf:2: 'url' belongs in [client], not in [server]" },
	{ "[server]\nbusy-poll = 50\n", -EINVAL,
	  "httun.conf:2: 'busy-poll' belongs in [client], not in [server]" },
	{ "[client]\nbusy-poll = 1001\n", -EINVAL,
	  "httun.conf:2: invalid busy-poll '1001' in [client]: must be 0..1000" },
	{ "[client]\nbusy-poll = -1\n", -EINVAL,
	  "httun.conf:2: invalid busy-poll '-1' in [client]: expected a decimal number 0..1000" },
	{ "[server]\nmax-unauth-per-source = 257\n", -EINVAL,
	  "httun.conf:2: invalid max-unauth-per-source '257' in [server]: must be 0..256" },
	{ "[client]\nmax-unauth-per-source = 8\n", -EINVAL,
	  "httun.conf:2: 'max-unauth-per-source' belongs in [server], not in [client]" },
	{ "[client]\nbusy-poll = 50\nbusy-poll = 60\n", -EINVAL,
	  "httun.conf:3: duplicate key 'busy-poll' in [client] (first set at line 2)" },
	{ "[servers]\n", -EINVAL,
	  "httun.conf:1: unknown section '[servers]'; expected [server], [client] or "
	  "[channel NAME]" },
	{ "[channelx]\n", -EINVAL,
	  "httun.conf:1: unknown section '[channelx]'; expected [server], [client] or "
	  "[channel NAME]" },
	{ "[channel]\n", -EINVAL, "httun.conf:1: [channel] needs a name, as in [channel office]" },
	{ "[channel a b]\n", -EINVAL,
	  "httun.conf:1: invalid channel name 'a b': channel names use only letters, digits, "
	  "'-', '.', '_'" },
	{ "[server\n", -EINVAL, "httun.conf:1: section header '[server' does not end with ']'" },
	{ "[channel a]\nkey-file = a\n\n[channel a]\n", -EINVAL,
	  "httun.conf:4: duplicate channel 'a' (first defined at line 1)" },
	{ "[server]\n[client]\n[server]\n", -EINVAL,
	  "httun.conf:3: duplicate section [server] (first at line 1)" },
	{ "[channel a]\nmtu = 1400\ntun = yes\nmtu = 1300\n", -EINVAL,
	  "httun.conf:4: duplicate key 'mtu' in [channel a] (first set at line 2)" },
	{ "[server]\npath = /a\npath = /b\n", -EINVAL,
	  "httun.conf:3: duplicate key 'path' in [server] (first set at line 2)" },
	{ "[channel a]\ntun = yes\nmtu = 70000\n", -EINVAL,
	  "httun.conf:3: invalid mtu '70000' in [channel a]: must be 576..65535" },
	{ "[channel a]\nmtu = 575\n", -EINVAL,
	  "httun.conf:2: invalid mtu '575' in [channel a]: must be 576..65535" },
	{ "[channel a]\nmtu = 99999999999999999999999\n", -EINVAL,
	  "httun.conf:2: invalid mtu '99999999999999999999999' in [channel a]: must be "
	  "576..65535" },
	{ "[channel a]\nmtu = 1400 # small\n", -EINVAL,
	  "httun.conf:2: comment after the value of 'mtu' in [channel a]: comments go on a "
	  "line of their own" },
	{ "[channel a]\nmtu =\n", -EINVAL,
	  "httun.conf:2: invalid mtu '' in [channel a]: expected a decimal number 576..65535" },
	{ "[channel a]\ntun = maybe\n", -EINVAL,
	  "httun.conf:2: invalid tun 'maybe' in [channel a]: expected yes or no (true/false, "
	  "on/off, 1/0)" },
	{ "[channel a]\ntun = yes\ntun-address = 198.18.1.300/24\n", -EINVAL,
	  "httun.conf:3: invalid tun-address '198.18.1.300/24' in [channel a]: not an IPv4 or "
	  "IPv6 address" },
	{ "[channel a]\ntun-address = 224.0.0.1/4\n", -EINVAL,
	  "httun.conf:2: invalid tun-address '224.0.0.1/4' in [channel a]: not a unicast "
	  "address" },
	{ "[channel a]\ntun-address = 198.18.1.1/24\ntun-address = 198.18.1.1/16\n", -EINVAL,
	  "httun.conf:3: invalid tun-address '198.18.1.1/16' in [channel a]: listed twice" },
	{ "[channel a]\nroute = 198.18.1.1/24\n", -EINVAL,
	  "httun.conf:2: invalid route '198.18.1.1/24' in [channel a]: host bits are set; the "
	  "network is 198.18.1.0/24" },
	{ "[channel a]\nl7-allow = fd00::/8\n", -EINVAL,
	  "httun.conf:2: invalid l7-allow 'fd00::/8' in [channel a]: IPv6 prefixes must be in "
	  "brackets, as in [fd00::/8] or [fd00::/8]:22" },
	{ "[server]\nlisten = ::1:80\n", -EINVAL,
	  "httun.conf:2: invalid listen '::1:80' in [server]: IPv6 addresses need brackets, as "
	  "in [::]:80" },
	{ "[server]\nlisten = localhost:80\n", -EINVAL,
	  "httun.conf:2: invalid listen 'localhost:80' in [server]: not an IPv4 address (names "
	  "are not resolved; IPv6 goes in brackets)" },
	{ "[server]\nlisten = 0.0.0.0:80\nlisten = 0.0.0.0:80\n", -EINVAL,
	  "httun.conf:3: invalid listen '0.0.0.0:80' in [server]: listed twice" },
	{ "[server]\npath = tunnel\n", -EINVAL,
	  "httun.conf:2: invalid path 'tunnel' in [server]: must start with '/'" },
	{ "[server]\nfcgi-socket = fcgi.sock\n", -EINVAL,
	  "httun.conf:2: invalid fcgi-socket 'fcgi.sock' in [server]: must be an absolute path "
	  "of at most 107 bytes" },
	{ "[server]\nuser = -root\n", -EINVAL,
	  "httun.conf:2: invalid user '-root' in [server]: user names are 1..32 letters, "
	  "digits, '-', '.', '_'" },
	{ "[client]\nuser = -root\n", -EINVAL,
	  "httun.conf:2: invalid user '-root' in [client]: user names are 1..32 letters, "
	  "digits, '-', '.', '_'" },
	{ "[client]\nuser = a\nuser = b\n", -EINVAL,
	  "httun.conf:3: duplicate key 'user' in [client] (first set at line 2)" },
	{ "[channel a]\nuser = httun\n", -EINVAL,
	  "httun.conf:2: 'user' belongs in [server] or [client], not in [channel a]" },
	{ "[server]\nfcgi-listen = web.sock\n", -EINVAL,
	  "httun.conf:2: invalid fcgi-listen 'web.sock' in [server]: must be an absolute path "
	  "of at most 107 bytes" },
	{ "[server]\nfcgi-user = www data\n", -EINVAL,
	  "httun.conf:2: invalid fcgi-user 'www data' in [server]: user names are 1..32 "
	  "letters, digits, '-', '.', '_'" },
	{ "[server]\nfcgi-user = a\nfcgi-user = b\n", -EINVAL,
	  "httun.conf:3: duplicate key 'fcgi-user' in [server] (first set at line 2)" },
	{ "[channel a]\nfcgi-user = www-data\n", -EINVAL,
	  "httun.conf:2: 'fcgi-user' belongs in [server], not in [channel a]" },
	{ "[client]\nurl = ftp://x/\n", -EINVAL,
	  "httun.conf:2: invalid url 'ftp://x/' in [client]: must start with http:// or "
	  "https://" },
	{ "[client]\nforward = 8022:server\n", -EINVAL,
	  "httun.conf:2: invalid forward '8022:server' in [client]: expected "
	  "[BIND:]PORT:HOST:PORT, as in 8022:server:22" },
	{ "[client]\nchannel = a/b\n", -EINVAL,
	  "httun.conf:2: invalid channel 'a/b' in [client]: channel names use only letters, "
	  "digits, '-', '.', '_'" },
	{ "[channel a]\ntun-name = much-too-long-name\n", -EINVAL,
	  "httun.conf:2: invalid tun-name 'much-too-long-name' in [channel a]: interface names "
	  "are 1..15 characters" },
	{ "[channel a]\nkey-file = k\nbogus line\n", -EINVAL,
	  "httun.conf:3: expected 'key = value', a [section] or a comment, not 'bogus line'" },
	{ "[channel a]\n= 5\n", -EINVAL, "httun.conf:2: missing key before '='" },
	{ "[channel a]\n\x1b[31m = 1\n", -EINVAL, "httun.conf:2: control character 0x1b in line" },
	{ "[channel a]\nkey-file = a\rb\n", -EINVAL,
	  "httun.conf:2: control character 0x0d in line" },
	{ "[client]\nurl = http://\xff\xfe/\n", -EINVAL,
	  "httun.conf:2: invalid url 'http://\\xff\\xfe/' in [client]: host must be a name, an "
	  "IPv4 address or [IPv6]" },
	{ "[channel x'y]\n", -EINVAL,
	  "httun.conf:1: invalid channel name 'x\\x27y': channel names use only letters, digits, "
	  "'-', '.', '_'" },
	/* Checks of a whole channel, at the end of the file, at the line of the key. */
	{ "[channel a]\nkey-file = k\ntun-address = 198.18.1.1/24\n", -EINVAL,
	  "httun.conf:3: tun-address in [channel a] needs tun = yes" },
	{ "[channel a]\nroute = 198.18.0.0/15\ntun = no\n", -EINVAL,
	  "httun.conf:2: route in [channel a] needs tun = yes" },
	{ "[channel a]\nkey-file = k\nallowed-ips = 198.18.0.0/15\n", -EINVAL,
	  "httun.conf:3: allowed-ips in [channel a] needs tun = yes" },
	{ "[channel a]\ntun = yes\nallowed-ips = 198.18.1.5/24\n", -EINVAL,
	  "httun.conf:3: invalid allowed-ips '198.18.1.5/24' in [channel a]: host bits are set; "
	  "the network is 198.18.1.0/24" },
	{ "[channel a]\ntun = yes\nallowed-ips = fd00::/8\nallowed-ips = fd00::/8\n", -EINVAL,
	  "httun.conf:4: invalid allowed-ips 'fd00::/8' in [channel a]: listed twice" },
	{ "[channel a]\ntun = yes\nallowed-ips = ::ffff:198.18.0.0/112\n", -EINVAL,
	  "httun.conf:3: invalid allowed-ips '::ffff:198.18.0.0/112' in [channel a]: IPv4-mapped "
	  "IPv6 addresses are not interface addresses or routes; write the IPv4 form" },
	{ "[server]\nallowed-ips = 198.18.0.0/15\n", -EINVAL,
	  "httun.conf:2: 'allowed-ips' belongs in a [channel NAME] section, not in [server]" },
	{ "[channel a]\ntun = yes\nmtu = 1000\ntun-address = 198.18.1.1/24\n"
	  "tun-address = fd00::1/64\n",
	  -EINVAL,
	  "httun.conf:3: mtu 1000 in [channel a] is below 1280, the IPv6 minimum, and the "
	  "channel has the IPv6 address fd00::1/64" },
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		const struct error_case *c = &error_cases[i];
		struct config *cfg = config_new();
		char err[CONFIG_ERR_BYTES] = "";
		int ret;

		assert_non_null(cfg);
		ret = config_parse(cfg, "httun.conf", c->text, strlen(c->text), err, sizeof(err));
		if (ret != c->ret || strcmp(err, c->msg) != 0)
			fail_msg("case %zu: got %d '%s'\nwant %d '%s'", i, ret, err, c->ret,
				 c->msg);
		config_free(cfg);
	}
}

static void test_nul_byte(void **state)
{
	static const char text[] = "[channel a]\nkey-file = a\0b\ntun = yes\n";
	struct config *cfg = config_new();
	char err[CONFIG_ERR_BYTES];

	(void)state;
	assert_int_equal(config_parse(cfg, "n.conf", text, sizeof(text) - 1, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "n.conf:2: NUL byte in line");
	config_free(cfg);
}

static void test_long_lines(void **state)
{
	size_t head = strlen("[channel a]\nkey-file = ");
	size_t n = head + CONFIG_MAX_LINE_BYTES + 8;
	char *text = malloc(n);
	char err[CONFIG_ERR_BYTES];
	struct config *cfg;
	size_t klen;

	(void)state;
	assert_non_null(text);
	/* A line of exactly CONFIG_MAX_LINE_BYTES bytes (plus "\r\n") is fine. */
	memcpy(text, "[channel a]\nkey-file = ", head);
	klen = CONFIG_MAX_LINE_BYTES - strlen("key-file = ");
	memset(text + head, 'k', klen);
	memcpy(text + head + klen, "\r\n", 2);
	cfg = parse_ok("l.conf", text, head + klen + 2);
	assert_int_equal(strlen(cfg->channels[0].key_file), klen);
	config_free(cfg);

	/* One byte more is an error, with or without a line end after it. */
	memset(text + head, 'k', klen + 1);
	for (int with_nl = 0; with_nl < 2; with_nl++) {
		size_t len = head + klen + 1;

		if (with_nl)
			text[len++] = '\n';
		cfg = config_new();
		assert_int_equal(config_parse(cfg, "l.conf", text, len, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, "l.conf:2: line longer than 4096 bytes");
		config_free(cfg);
	}
	free(text);
}

static void test_long_value_quoted_short(void **state)
{
	char text[600];
	char err[CONFIG_ERR_BYTES];
	struct config *cfg = config_new();

	(void)state;
	snprintf(text, sizeof(text), "[server]\npath = /%0300d?\n", 0);
	assert_int_equal(config_parse(cfg, "q.conf", text, strlen(text), err, sizeof(err)),
			 -EINVAL);
	/* The quote stops after 100 bytes of the value and says so. */
	assert_non_null(strstr(err, "invalid path '/000"));
	assert_non_null(strstr(err, "0...' in [server]: only letters"));
	config_free(cfg);
}

static void test_file_too_large(void **state)
{
	struct config *cfg = config_new();
	char err[CONFIG_ERR_BYTES];
	char *big = calloc(1, CONFIG_MAX_FILE_BYTES + 1);

	(void)state;
	assert_non_null(big);
	memset(big, '\n', CONFIG_MAX_FILE_BYTES + 1);
	assert_int_equal(
		config_parse(cfg, "big.conf", big, CONFIG_MAX_FILE_BYTES + 1, err, sizeof(err)),
		-E2BIG);
	assert_string_equal(err, "big.conf: larger than 1048576 bytes, not a config file");
	config_free(cfg);
	cfg = parse_ok("big.conf", big, CONFIG_MAX_FILE_BYTES);
	assert_int_equal(cfg->n_channels, 0);
	config_free(cfg);
	free(big);
}

static void test_limits(void **state)
{
	char *text = malloc(64 * 1024);
	char err[CONFIG_ERR_BYTES];
	struct config *cfg;
	size_t n = 0;

	(void)state;
	assert_non_null(text);
	for (int i = 0; i <= CONFIG_MAX_CHANNELS; i++)
		n += (size_t)sprintf(text + n, "[channel c%d]\n", i);
	cfg = config_new();
	assert_int_equal(config_parse(cfg, "m.conf", text, n, err, sizeof(err)), -E2BIG);
	assert_string_equal(err, "m.conf:65: too many channels: at most 64");
	assert_int_equal(cfg->n_channels, CONFIG_MAX_CHANNELS);
	config_free(cfg);

	n = (size_t)sprintf(text, "[channel a]\ntun = yes\n");
	for (int i = 0; i <= CONFIG_MAX_ROUTES; i++)
		n += (size_t)sprintf(text + n, "route = 10.%d.%d.0/24\n", i / 256, i % 256);
	cfg = config_new();
	assert_int_equal(config_parse(cfg, "m.conf", text, n, err, sizeof(err)), -E2BIG);
	assert_string_equal(err, "m.conf:259: too many 'route' lines in [channel a]: at most 256");
	config_free(cfg);

	n = (size_t)sprintf(text, "[channel a]\ntun = yes\n");
	for (int i = 0; i <= CONFIG_MAX_ALLOWED_IPS; i++)
		n += (size_t)sprintf(text + n, "allowed-ips = 10.%d.0.0/16\n", i);
	cfg = config_new();
	assert_int_equal(config_parse(cfg, "m.conf", text, n, err, sizeof(err)), -E2BIG);
	assert_string_equal(err,
			    "m.conf:67: too many 'allowed-ips' lines in [channel a]: at most 64");
	assert_int_equal(cfg->channels[0].n_allowed_ips, CONFIG_MAX_ALLOWED_IPS);
	config_free(cfg);

	n = (size_t)sprintf(text, "[channel a]\n");
	for (int i = 0; i <= POLICY_MAX_RULES; i++)
		n += (size_t)sprintf(text + n, "l7-allow = 10.0.0.0/8:%d\n", i + 1);
	cfg = config_new();
	assert_int_equal(config_parse(cfg, "m.conf", text, n, err, sizeof(err)), -E2BIG);
	assert_string_equal(err,
			    "m.conf:258: too many 'l7-allow' lines in [channel a]: at most 256");
	config_free(cfg);

	n = (size_t)sprintf(text, "[client]\n");
	for (int i = 0; i <= CONFIG_MAX_FORWARDS; i++)
		n += (size_t)sprintf(text + n, "forward = %d:h:22\n", 2000 + i);
	cfg = config_new();
	assert_int_equal(config_parse(cfg, "m.conf", text, n, err, sizeof(err)), -E2BIG);
	assert_string_equal(err, "m.conf:66: too many 'forward' lines in [client]: at most 64");
	config_free(cfg);

	n = (size_t)sprintf(text, "[server]\n");
	for (int i = 0; i <= CONFIG_MAX_LISTENS; i++)
		n += (size_t)sprintf(text + n, "listen = 0.0.0.0:%d\n", 2000 + i);
	cfg = config_new();
	assert_int_equal(config_parse(cfg, "m.conf", text, n, err, sizeof(err)), -E2BIG);
	assert_string_equal(err, "m.conf:18: too many 'listen' lines in [server]: at most 16");
	config_free(cfg);

	n = (size_t)sprintf(text, "[channel a]\ntun = yes\n");
	for (int i = 0; i <= CONFIG_MAX_TUN_ADDRESSES; i++)
		n += (size_t)sprintf(text + n, "tun-address = 198.18.0.%d/24\n", i + 1);
	cfg = config_new();
	assert_int_equal(config_parse(cfg, "m.conf", text, n, err, sizeof(err)), -E2BIG);
	assert_string_equal(err,
			    "m.conf:19: too many 'tun-address' lines in [channel a]: at most 16");
	config_free(cfg);
	free(text);
}

/* Every prefix of a valid config parses or fails cleanly (run under ASan for leaks). */
static void test_every_truncation(void **state)
{
	size_t len = strlen(full_config);
	size_t ok = 0;

	(void)state;
	for (size_t cut = 0; cut <= len; cut++) {
		struct config *cfg = config_new();
		char err[CONFIG_ERR_BYTES] = "";
		int ret;

		assert_non_null(cfg);
		ret = config_parse(cfg, "t.conf", full_config, cut, err, sizeof(err));
		if (ret == 0) {
			ok++;
		} else {
			assert_int_equal(ret, -EINVAL);
			if (strncmp(err, "t.conf:", 7) != 0)
				fail_msg("cut %zu: message without location: %s", cut, err);
		}
		config_free(cfg);
	}
	/* Cuts at line ends parse; cuts inside values mostly do not. */
	assert_true(ok > 20);
	assert_true(ok < len);
}

static void test_flags(void **state)
{
	struct config *cfg = config_new();
	char err[CONFIG_ERR_BYTES];
	const struct config_channel *ch;

	(void)state;
	assert_int_equal(config_flag(cfg, "listen", "0.0.0.0:8080", err, sizeof(err)), 0);
	assert_int_equal(config_flag(cfg, "key-file", "k", err, sizeof(err)), 0);
	assert_int_equal(config_flag(cfg, "tun", NULL, err, sizeof(err)), 0);
	assert_int_equal(config_flag(cfg, "tun-address", "198.18.1.1/24", err, sizeof(err)), 0);
	assert_int_equal(config_flag(cfg, "tun-address", "fd00::1/64", err, sizeof(err)), 0);
	assert_int_equal(config_flag(cfg, "l7-allow", "198.18.0.0/15:22", err, sizeof(err)), 0);
	assert_int_equal(config_check_server(cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->n_channels, 1);
	ch = &cfg->channels[0];
	assert_string_equal(ch->name, CONFIG_DEFAULT_CHANNEL);
	assert_int_equal(ch->line, CONFIG_LINE_FLAG);
	assert_string_equal(ch->key_file, "k");
	assert_true(ch->tun);
	assert_int_equal(ch->n_tun_addresses, 2);
	assert_int_equal(ch->l7.n_rules, 1);
	assert_int_equal(ch->set_line[CONFIG_KEY_TUN], CONFIG_LINE_FLAG);

	assert_int_equal(config_flag(cfg, "mtu", "70000", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--mtu '70000': must be 576..65535");
	assert_int_equal(config_flag(cfg, "key-file", "k2", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--key-file given twice");
	assert_int_equal(config_flag(cfg, "tun-adress", "x", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown option --tun-adress");
	assert_int_equal(config_flag(cfg, "l7-allow", "fd00::/8", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--l7-allow 'fd00::/8': IPv6 prefixes must be in brackets, as "
				 "in [fd00::/8] or [fd00::/8]:22");

	assert_int_equal(config_flag(cfg, "busy-poll", "1001", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--busy-poll '1001': must be 0..1000");
	assert_int_equal(config_flag(cfg, "busy-poll", "50", err, sizeof(err)), 0);
	assert_int_equal(cfg->client.busy_poll_us, 50);
	assert_int_equal(cfg->client.set_line[CONFIG_KEY_BUSY_POLL], CONFIG_LINE_FLAG);

	assert_int_equal(config_flag(cfg, "url", "ftp://h/", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "URL 'ftp://h/': must start with http:// or https://");

	assert_int_equal(config_flag(cfg, "mtu", "1000", err, sizeof(err)), 0);
	assert_int_equal(config_check_server(cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--mtu 1000 is below 1280, the IPv6 minimum, and the channel "
				 "has the IPv6 address fd00::1/64");
	config_free(cfg);

	cfg = config_new();
	assert_int_equal(config_flag(cfg, "key-file", "k", err, sizeof(err)), 0);
	assert_int_equal(config_flag(cfg, "route", "198.18.0.0/15", err, sizeof(err)), 0);
	assert_int_equal(config_flag(cfg, "url", "http://[fd00::1]:8080/t", err, sizeof(err)), 0);
	assert_int_equal(config_check_client(cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--route needs --tun");
	assert_int_equal(config_flag(cfg, "tun", "yes", err, sizeof(err)), 0);
	assert_int_equal(config_check_client(cfg, err, sizeof(err)), 0);
	assert_true(cfg->client.url.host_is_ipv6);
	assert_string_equal(cfg->client.url.host, "fd00::1");
	assert_int_equal(cfg->client.url.port, 8080);
	assert_string_equal(cfg->client.url.path, "/t/");
	assert_ptr_equal(config_client_channel(cfg), &cfg->channels[0]);
	assert_int_equal(config_check_server(cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "nothing to serve on: give --listen ADDR:PORT, --fcgi-listen PATH "
				 "or --fcgi-socket PATH");
	config_free(cfg);
}

static void test_flags_override_file(void **state)
{
	static const char text[] =
		"[server]\npath = /a\nlisten = 0.0.0.0:80\n"
		"[channel default]\nkey-file = k\ntun = no\nl7-allow = 198.18.0.0/15\n";
	struct config *cfg = parse_ok("/etc/h.conf", text, strlen(text));
	char err[CONFIG_ERR_BYTES];

	(void)state;
	/* single-valued: the flag wins, once */
	assert_int_equal(config_flag(cfg, "path", "/b", err, sizeof(err)), 0);
	assert_string_equal(cfg->server.path, "/b/");
	assert_int_equal(config_flag(cfg, "path", "/c", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--path given twice");
	assert_int_equal(config_flag(cfg, "key-file", "k2", err, sizeof(err)), 0);
	assert_string_equal(cfg->channels[0].key_file, "k2"); /* flags: relative to cwd */
	/* repeatable: appended */
	assert_int_equal(config_flag(cfg, "listen", "[::]:80", err, sizeof(err)), 0);
	assert_int_equal(cfg->server.n_listens, 2);
	assert_int_equal(cfg->server.set_line[CONFIG_KEY_LISTEN], 3);
	/* tun = no from the file, mtu from a flag: the message names the flag */
	assert_int_equal(config_check_server(cfg, err, sizeof(err)), 0);
	assert_int_equal(config_flag(cfg, "mtu", "1400", err, sizeof(err)), 0);
	assert_int_equal(config_check_server(cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--mtu in [channel default] needs --tun");
	config_free(cfg);
}

static void test_check_server(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{ "[server]\nlisten = 0.0.0.0:80\n",
		  "s.conf: no [channel NAME] section, and no --key-file" },
		{ "[channel a]\nkey-file = k\n",
		  "s.conf: nothing to serve on: give --listen ADDR:PORT, --fcgi-listen PATH or "
		  "--fcgi-socket PATH (or listen / fcgi-listen / fcgi-socket in [server])" },
		{ "[server]\nfcgi-socket = /run/f.sock\n[channel a]\ntun = yes\n",
		  "s.conf:3: [channel a] has no key-file" },
		{ "[server]\nfcgi-listen = /run/f.sock\n[channel a]\ntun = yes\n",
		  "s.conf:3: [channel a] has no key-file" },
		{ "[server]\nfcgi-listen = /run/f.sock\nfcgi-socket = /run/f.sock\n[channel a]\n"
		  "key-file = k\n",
		  "s.conf: fcgi-listen and fcgi-socket are both /run/f.sock: the web server's "
		  "FastCGI socket and the relay socket of httun fcgi need a path each" },
		{ "[server]\nlisten = 0.0.0.0:80\n[channel a]\nkey-file = k\n[channel b]\n"
		  "key-file = /etc/../k\nkey-file2 = x\n",
		  NULL },
		{ "[server]\nlisten = 0.0.0.0:80\n[channel a]\nkey-file = k\n[channel b]\n"
		  "key-file = k\n",
		  "s.conf:6: [channel b] uses the key-file of [channel a]; every channel needs its "
		  "own key" },
		{ "[server]\nlisten = 0.0.0.0:80\n[channel a]\nkey-file = a\ntun = yes\n"
		  "tun-name = t0\ntun-address = 198.18.1.1/24\n[channel b]\nkey-file = b\n"
		  "tun = yes\ntun-name = t0\ntun-address = 198.18.2.1/24\n",
		  "s.conf:11: [channel b] uses tun-name 't0' like [channel a]" },
		/* A tun channel must let its client use some source address. */
		{ "[server]\nlisten = 0.0.0.0:80\n[channel a]\nkey-file = a\ntun = yes\n",
		  "s.conf:5: [channel a] allows its client no source address and would drop every "
		  "packet: give tun-address a network (198.18.1.1/24, not a host address) or list "
		  "the client's addresses with allowed-ips" },
		{ "[server]\nlisten = 0.0.0.0:80\n[channel a]\nkey-file = a\ntun-address = "
		  "198.18.1.1/32\ntun-address = fd00::1\ntun = yes\n",
		  "s.conf:7: [channel a] allows its client no source address and would drop every "
		  "packet: give tun-address a network (198.18.1.1/24, not a host address) or list "
		  "the client's addresses with allowed-ips" },
		{ "[server]\nlisten = 0.0.0.0:80\n[channel a]\nkey-file = a\ntun = yes\n"
		  "tun-address = 198.18.1.1/32\nallowed-ips = 198.18.1.2\n",
		  "" },
		{ "[server]\nlisten = 0.0.0.0:80\n[channel a]\nkey-file = a\ntun = yes\n"
		  "tun-address = 198.18.1.1/31\n",
		  "" },
		{ "[server]\nlisten = 0.0.0.0:80\n[channel a]\nkey-file = a\nl7-allow = 0.0.0.0/0\n"
		  "[client]\nurl = http://x/\n",
		  "" },
		/* Every channel must carry something: IP packets or L7 streams. */
		{ "[server]\nlisten = 0.0.0.0:80\n[channel a]\nkey-file = a\nl7-allow = 0.0.0.0/0\n"
		  "[channel b]\nkey-file = b\ntun = no\n",
		  "channel b carries nothing: set tun = yes (--tun) or l7-allow rules (--l7-allow)" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *cfg = config_new();
		char err[CONFIG_ERR_BYTES] = "";
		int ret;

		ret = config_parse(cfg, "s.conf", cases[i].text, strlen(cases[i].text), err,
				   sizeof(err));
		if (!cases[i].msg) {
			/* a parse error, not a check error */
			assert_int_equal(ret, -EINVAL);
			assert_string_equal(err,
					    "s.conf:7: unknown key 'key-file2' in [channel b]");
			config_free(cfg);
			continue;
		}
		assert_int_equal(ret, 0);
		ret = config_check_server(cfg, err, sizeof(err));
		if (!cases[i].msg[0])
			assert_int_equal(ret, 0);
		else if (ret != -EINVAL || strcmp(err, cases[i].msg) != 0)
			fail_msg("case %zu: got %d '%s', want '%s'", i, ret, err, cases[i].msg);
		config_free(cfg);
	}
}

static void test_check_client(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
		const char *selected;
	} cases[] = {
		{ "[channel a]\nkey-file = k\n",
		  "c.conf: no server URL: give it as the argument or as url in [client]", NULL },
		{ "[client]\nurl = http://x/\n",
		  "c.conf: no [channel NAME] section, and no --key-file", NULL },
		{ "[client]\nurl = http://x/\n[channel a]\nkey-file = a\n[channel b]\nkey-file = b\n",
		  "c.conf: 2 channels; choose one with channel = NAME in [client] or --channel NAME",
		  NULL },
		{ "[client]\nurl = http://x/\nchannel = c\n[channel a]\nkey-file = a\n",
		  "c.conf:3: channel 'c': no such channel in c.conf", NULL },
		{ "[client]\nurl = http://x/\nchannel = b\n[channel a]\nkey-file = a\n[channel b]\n"
		  "key-file = b\ntun = yes\n",
		  "", "b" },
		/* A channel must carry something: IP packets or forwards. */
		{ "[client]\nurl = http://x/\n[channel b]\nkey-file = b\n",
		  "channel b carries nothing: set tun = yes (--tun) or forwards (-L)", NULL },
		{ "[client]\nurl = http://x/\nforward = 8022:h:22\n[channel b]\nkey-file = b\n", "",
		  "b" },
		{ "[client]\nurl = http://x/\n[channel b]\ntun = yes\n",
		  "c.conf:3: [channel b] has no key-file", NULL },
		{ "[client]\nurl = http://x/\n[channel b]\nkey-file = b\nl7-allow = 198.18.0.0/15\n",
		  "c.conf:5: l7-allow in [channel b] is a server setting", NULL },
		{ "[client]\nurl = http://x/\n[channel b]\nkey-file = b\ntun = yes\n"
		  "allowed-ips = 198.18.0.0/15\n",
		  "c.conf:6: allowed-ips in [channel b] is a server setting", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *cfg = config_new();
		char err[CONFIG_ERR_BYTES] = "";
		int ret;

		assert_int_equal(config_parse(cfg, "c.conf", cases[i].text, strlen(cases[i].text),
					      err, sizeof(err)),
				 0);
		ret = config_check_client(cfg, err, sizeof(err));
		if (!cases[i].msg[0]) {
			assert_int_equal(ret, 0);
			assert_string_equal(config_client_channel(cfg)->name, cases[i].selected);
		} else if (ret != -EINVAL || strcmp(err, cases[i].msg) != 0) {
			fail_msg("case %zu: got %d '%s', want '%s'", i, ret, err, cases[i].msg);
		} else {
			assert_null(config_client_channel(cfg));
		}
		config_free(cfg);
	}
}

static void test_load(void **state)
{
	char dir[] = "/tmp/httun-config-test-XXXXXX";
	char path[64], err[CONFIG_ERR_BYTES];
	static const char text[] = "[channel a]\nkey-file = sub/a.key\n";
	struct config *cfg;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/h.conf", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);

	cfg = config_new();
	assert_int_equal(config_load(cfg, path, err, sizeof(err)), 0);
	assert_string_equal(cfg->name, path);
	char want[96];
	snprintf(want, sizeof(want), "%s/sub/a.key", dir);
	assert_string_equal(cfg->channels[0].key_file, want);
	config_free(cfg);

	cfg = config_new();
	assert_int_equal(config_load(cfg, dir, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: not a regular file", dir);
	assert_string_equal(err, want);
	config_free(cfg);

	assert_int_equal(unlink(path), 0);
	cfg = config_new();
	assert_int_equal(config_load(cfg, path, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(err, want);
	config_free(cfg);
	assert_int_equal(rmdir(dir), 0);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_load_key(void **state)
{
	char dir[] = "/tmp/httun-config-key-XXXXXX";
	char path[96], err[CONFIG_ERR_BYTES], want[CONFIG_ERR_BYTES];
	static const char text[] = "[channel a]\nkey-file = a.key\n[channel b]\n\n"
				   "key-file = b.key\n[channel c]\ntun = no\n";
	uint8_t key[PSK_BYTES];
	struct config *cfg;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a.key", dir);
	write_file(path, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", 0600);
	snprintf(path, sizeof(path), "%s/b.key", dir);
	write_file(path, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", 0644);
	snprintf(path, sizeof(path), "%s/h.conf", dir);
	cfg = parse_ok(path, text, strlen(text));

	assert_int_equal(config_load_key(cfg, &cfg->channels[0], key, err, sizeof(err)), 0);
	for (int i = 0; i < PSK_BYTES; i++)
		assert_int_equal(key[i], i);
	assert_int_equal(config_load_key(cfg, &cfg->channels[1], key, err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want),
		 "%s/h.conf:5: [channel b]: key file %s/b.key: permissions 0644 let group or "
		 "others access it; fix with: chmod 600 %s/b.key",
		 dir, dir, dir);
	assert_string_equal(err, want);
	assert_int_equal(config_load_key(cfg, &cfg->channels[2], key, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s/h.conf:6: [channel c] has no key-file", dir);
	assert_string_equal(err, want);
	config_free(cfg);

	snprintf(path, sizeof(path), "%s/a.key", dir);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/b.key", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_parse_helpers(void **state)
{
	struct sockaddr_storage ss;
	struct config_forward fw;
	struct config_url url;
	struct cidr c;
	unsigned long ul;
	char why[256], path[CONFIG_PATH_MAX_BYTES + 1], text[CONFIG_URL_STR_BYTES];
	bool b;

	(void)state;
	assert_int_equal(config_parse_bool("On", &b, why, sizeof(why)), 0);
	assert_true(b);
	assert_int_equal(config_parse_bool("0", &b, why, sizeof(why)), 0);
	assert_false(b);
	assert_int_equal(config_parse_bool("", &b, why, sizeof(why)), -EINVAL);
	assert_int_equal(config_parse_bool("yes ", &b, why, sizeof(why)), -EINVAL);

	assert_int_equal(config_parse_uint("576", 576, 65535, &ul, why, sizeof(why)), 0);
	assert_int_equal(ul, 576);
	assert_int_equal(config_parse_uint("65535", 576, 65535, &ul, why, sizeof(why)), 0);
	assert_int_equal(config_parse_uint("65536", 576, 65535, &ul, why, sizeof(why)), -EINVAL);
	assert_int_equal(config_parse_uint("575", 576, 65535, &ul, why, sizeof(why)), -EINVAL);
	assert_int_equal(config_parse_uint("-1", 0, 65535, &ul, why, sizeof(why)), -EINVAL);
	assert_int_equal(config_parse_uint("+1", 0, 65535, &ul, why, sizeof(why)), -EINVAL);
	assert_int_equal(config_parse_uint("18446744073709551616", 0, (unsigned long)-1, &ul, why,
					   sizeof(why)),
			 -EINVAL);
	assert_int_equal(config_parse_uint("18446744073709551615", 0, (unsigned long)-1, &ul, why,
					   sizeof(why)),
			 0);
	assert_true(ul == (unsigned long)-1);

	assert_int_equal(config_parse_cidr("198.18.1.1", false, &c, why, sizeof(why)), 0);
	assert_cidr(&c, "198.18.1.1/32");
	assert_int_equal(config_parse_cidr("0.0.0.0/0", true, &c, why, sizeof(why)), 0);
	assert_int_equal(config_parse_cidr("0.0.0.0/8", false, &c, why, sizeof(why)), -EINVAL);
	assert_int_equal(config_parse_cidr("198.18.1.1/0", false, &c, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "prefix length 0 is not an interface address");
	assert_int_equal(config_parse_cidr("::ffff:1.2.3.4/128", false, &c, why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(config_parse_cidr("fd00::/8", true, &c, why, sizeof(why)), 0);
	assert_int_equal(config_parse_cidr("fd00::1/129", false, &c, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "IPv6 prefix length must be 0..128");

	assert_int_equal(config_parse_hostport("[::1]:65535", &ss, why, sizeof(why)), 0);
	assert_sockaddr(&ss, "::1", 65535);
	assert_int_equal(config_parse_hostport("198.18.0.1:1", &ss, why, sizeof(why)), 0);
	assert_sockaddr(&ss, "198.18.0.1", 1);
	static const char *const bad_hostport[] = {
		"198.18.0.1:0", "198.18.0.1:65536", "198.18.0.1",   "198.18.0.1:",    "[::1]",
		"[::1]80",	"[::1:80",	    "[1.2.3.4]:80", "198.18.0.1:80x", ":80"
	};
	for (size_t i = 0; i < sizeof(bad_hostport) / sizeof(bad_hostport[0]); i++)
		if (config_parse_hostport(bad_hostport[i], &ss, why, sizeof(why)) != -EINVAL)
			fail_msg("accepted %s", bad_hostport[i]);

	assert_int_equal(
		config_parse_forward("localhost:1:h_1.example:65535", &fw, why, sizeof(why)), 0);
	assert_sockaddr(&fw.bind, "127.0.0.1", 1);
	assert_string_equal(fw.host, "h_1.example");
	assert_int_equal(fw.port, 65535);
	assert_int_equal(config_parse_forward("0.0.0.0:80:[::1]:80", &fw, why, sizeof(why)), 0);
	assert_sockaddr(&fw.bind, "0.0.0.0", 80);
	assert_string_equal(fw.host, "::1");
	static const char *const bad_forward[] = { "80:h:0",
						   "0:h:80",
						   "80:h:",
						   "80::80",
						   "80:-h:80",
						   "1:2:3:4:5",
						   "[::1:80:h:80",
						   "[::1]x:80:h:80",
						   "x:80:h:80",
						   "80:[h]:80",
						   "[1.2.3.4]:80:h:80",
						   "80:h h:80",
						   "80:h:80:" };
	for (size_t i = 0; i < sizeof(bad_forward) / sizeof(bad_forward[0]); i++)
		if (config_parse_forward(bad_forward[i], &fw, why, sizeof(why)) != -EINVAL)
			fail_msg("accepted %s", bad_forward[i]);

	assert_int_equal(config_parse_url("HTTP://198.18.0.1", &url, why, sizeof(why)), 0);
	assert_false(url.https);
	assert_string_equal(url.host, "198.18.0.1");
	assert_int_equal(url.port, 80);
	assert_string_equal(url.path, "/");
	assert_int_equal(config_parse_url("https://h/", &url, why, sizeof(why)), 0);
	assert_int_equal(url.port, 443);
	assert_int_equal(config_parse_url("http://[::]:65535/p", &url, why, sizeof(why)), 0);
	assert_true(url.host_is_ipv6);
	assert_string_equal(url.host, "::");
	assert_int_equal(url.port, 65535);
	assert_string_equal(url.path, "/p/");
	config_url_format(&url, text);
	assert_string_equal(text, "http://[::]:65535/p/");
	assert_int_equal(config_parse_url("HTTPS://a.b", &url, why, sizeof(why)), 0);
	config_url_format(&url, text);
	assert_string_equal(text, "https://a.b:443/");
	static const char *const bad_url[] = {
		"http:/h/",	     "http://",	       "http://h:0/",	  "http://h:/",
		"http://u@h/",	     "http://h/?q",    "http://h/#f",	  "http://[::1/",
		"http://[h]/",	     "http://h/a//b",  "http://h/a/../b", "http://h/%41",
		"http://h:80x/",     "http://h/a b",   "ftp://h/",	  "h",
		"http:///x",	     "http://:80/",    "http://h:65536/", "http://h:123456/",
		"http://h/\r\nX: y", "http://[zz::1]/"
	};
	for (size_t i = 0; i < sizeof(bad_url) / sizeof(bad_url[0]); i++)
		if (config_parse_url(bad_url[i], &url, why, sizeof(why)) != -EINVAL)
			fail_msg("accepted %s", bad_url[i]);

	assert_int_equal(config_parse_path("/", path, why, sizeof(why)), 0);
	assert_string_equal(path, "/");
	assert_int_equal(config_parse_path("/a/b", path, why, sizeof(why)), 0);
	assert_string_equal(path, "/a/b/");
	assert_int_equal(config_parse_path("/a/.", path, why, sizeof(why)), -EINVAL);
	assert_int_equal(config_parse_path("/a/..", path, why, sizeof(why)), -EINVAL);
	assert_int_equal(config_parse_path("/a/..b/", path, why, sizeof(why)), 0);
	/* longest path that still fits with the '/' added */
	char longp[CONFIG_PATH_MAX_BYTES + 2];
	memset(longp, 'a', sizeof(longp));
	longp[0] = '/';
	longp[CONFIG_PATH_MAX_BYTES - 1] = '\0';
	assert_int_equal(config_parse_path(longp, path, why, sizeof(why)), 0);
	assert_int_equal(strlen(path), CONFIG_PATH_MAX_BYTES);
	longp[CONFIG_PATH_MAX_BYTES - 1] = 'a';
	longp[CONFIG_PATH_MAX_BYTES] = '\0';
	assert_int_equal(config_parse_path(longp, path, why, sizeof(why)), -EINVAL);

	char name[CHANNEL_NAME_MAX_BYTES + 1];
	memset(name, 'n', sizeof(name));
	name[CHANNEL_NAME_MAX_BYTES - 1] = '\0';
	assert_int_equal(config_parse_channel_name(name, why, sizeof(why)), 0);
	name[CHANNEL_NAME_MAX_BYTES - 1] = 'n';
	name[CHANNEL_NAME_MAX_BYTES] = '\0';
	assert_int_equal(config_parse_channel_name(name, why, sizeof(why)), -EINVAL);
}

static void test_fcgi_user(void **state)
{
	static const char text[] = "[server]\nfcgi-socket = /run/httun/fcgi.sock\n"
				   "fcgi-user = www-data\n";
	struct config *cfg = parse_ok("f.conf", text, strlen(text));

	(void)state;
	assert_string_equal(cfg->server.fcgi_socket, "/run/httun/fcgi.sock");
	assert_string_equal(cfg->server.fcgi_user, "www-data");
	assert_int_equal(cfg->server.set_line[CONFIG_KEY_FCGI_USER], 3);
	assert_null(cfg->server.fcgi_listen);
	config_free(cfg);
}

/* user: in [server] and in [client], each its own; --user sets both (the role reads its own). */
static void test_user(void **state)
{
	static const char text[] = "[server]\nuser = httun\n[client]\nuser = httun-c\n";
	struct config *cfg = parse_ok("f.conf", text, strlen(text));
	char err[CONFIG_ERR_BYTES];

	(void)state;
	assert_string_equal(cfg->server.user, "httun");
	assert_string_equal(cfg->client.user, "httun-c");
	assert_int_equal(cfg->client.set_line[CONFIG_KEY_USER], 4);
	assert_int_equal(config_flag(cfg, "user", "nobody", err, sizeof(err)), 0);
	assert_string_equal(cfg->server.user, "nobody");
	assert_string_equal(cfg->client.user, "nobody");
	assert_int_equal(config_flag(cfg, "user", "x", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--user given twice");
	config_free(cfg);

	cfg = config_new();
	assert_non_null(cfg);
	assert_int_equal(config_flag(cfg, "user", "-x", err, sizeof(err)), -EINVAL);
	assert_string_equal(err,
			    "--user '-x': user names are 1..32 letters, digits, '-', '.', '_'");
	assert_null(cfg->client.user);
	config_free(cfg);
}

/* fcgi-listen: an absolute path like fcgi-socket, kept apart from it. */
static void test_fcgi_listen(void **state)
{
	static const char text[] = "[server]\nfcgi-listen = /run/httun/web.sock\n"
				   "fcgi-user = www-data\n";
	struct config *cfg = parse_ok("f.conf", text, strlen(text));
	char err[CONFIG_ERR_BYTES];

	(void)state;
	assert_string_equal(cfg->server.fcgi_listen, "/run/httun/web.sock");
	assert_null(cfg->server.fcgi_socket);
	assert_int_equal(cfg->server.set_line[CONFIG_KEY_FCGI_LISTEN], 2);
	assert_int_equal(config_flag(cfg, "fcgi-listen", "/run/x.sock", err, sizeof(err)), 0);
	assert_string_equal(cfg->server.fcgi_listen, "/run/x.sock");
	assert_int_equal(config_flag(cfg, "fcgi-listen", "/run/y.sock", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--fcgi-listen given twice");
	config_free(cfg);
}

/* The examples of docs/CONFIGURATION.md, verbatim: they must keep working. */
static const char doc_server[] =
	"[server]\n"
	"listen = 0.0.0.0:8080\n"
	"listen = [::]:8080\n"
	"path = /httun\n"
	"user = httun\n"
	"\n"
	"# IP tunnel for the office; key next to this file\n"
	"[channel office]\n"
	"key-file = office.key\n"
	"tun = yes\n"
	"tun-name = httun-office\n"
	"tun-address = 198.18.1.1/24\n"
	"tun-address = fd00:1::1/64\n"
	"mtu = 1400\n"
	"\n"
	"# L7 only: ssh and web servers of the lab network, plus one local service\n"
	"[channel lab]\n"
	"key-file = /etc/httun/lab.key\n"
	"l7-allow = 198.18.0.0/15:22\n"
	"l7-allow = [fd00::/8]:80-443\n"
	"l7-allow = 127.0.0.1:8080\n";

static const char doc_client[] = "[client]\n"
				 "url = http://example.com:8080/httun/\n"
				 "channel = lab\n"
				 "forward = 8022:198.18.0.10:22\n"
				 "forward = [::1]:8443:[fd00::5]:443\n"
				 "\n"
				 "[channel office]\n"
				 "key-file = office.key\n"
				 "tun = yes\n"
				 "tun-address = 198.18.1.2/24\n"
				 "route = 198.18.0.0/15\n"
				 "\n"
				 "[channel lab]\n"
				 "key-file = lab.key\n";

static void test_doc_examples(void **state)
{
	char err[CONFIG_ERR_BYTES];
	struct config *cfg;
	struct sockaddr_in sin = { .sin_family = AF_INET };

	(void)state;
	cfg = parse_ok("/etc/httun/server.conf", doc_server, strlen(doc_server));
	if (config_check_server(cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg->n_channels, 2);
	assert_string_equal(cfg->channels[0].key_file, "/etc/httun/office.key");
	sin.sin_addr.s_addr = htonl(0x7f000001);
	assert_int_equal(policy_check(&cfg->channels[1].l7, (struct sockaddr *)&sin, 8080),
			 POLICY_ALLOW);
	assert_int_equal(policy_check(&cfg->channels[1].l7, (struct sockaddr *)&sin, 22),
			 POLICY_DENY_LOOPBACK);
	config_free(cfg);

	cfg = parse_ok("client.conf", doc_client, strlen(doc_client));
	if (config_check_client(cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(config_client_channel(cfg)->name, "lab");
	assert_int_equal(config_flag(cfg, "channel", "office", err, sizeof(err)), 0);
	if (config_check_client(cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(config_client_channel(cfg)->name, "office");
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_fcgi_user),
		cmocka_unit_test(test_user),
		cmocka_unit_test(test_fcgi_listen),
		cmocka_unit_test(test_crlf_and_bom),
		cmocka_unit_test(test_busy_poll),
		cmocka_unit_test(test_max_unauth_per_source),
		cmocka_unit_test(test_allowed_ips),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_long_value_quoted_short),
		cmocka_unit_test(test_file_too_large),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_flags_override_file),
		cmocka_unit_test(test_check_server),
		cmocka_unit_test(test_check_client),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_load_key),
		cmocka_unit_test(test_parse_helpers),
		cmocka_unit_test(test_doc_examples),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
