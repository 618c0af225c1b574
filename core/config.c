/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/config.h"

#include "core/allowed_ips.h"
#include "core/file.h"
#include "core/keyfile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Quoted text: CONFIG_QUOTE_MAX_BYTES of the original, each maybe \xNN, then "...". */
#define QUOTE_BUF_BYTES (CONFIG_QUOTE_MAX_BYTES * 4 + 4)

/* Bits: a key may belong to more than one kind of section (user: [server] and [client]). */
enum section {
	SEC_NONE = 0,
	SEC_SERVER = 1,
	SEC_CLIENT = 2,
	SEC_CHANNEL = 4,
};

static const struct {
	const char *name;
	enum section sec;
	bool repeatable;
} keys[CONFIG_KEY_COUNT] = {
	[CONFIG_KEY_LISTEN] = { "listen", SEC_SERVER, true },
	[CONFIG_KEY_PATH] = { "path", SEC_SERVER, false },
	[CONFIG_KEY_FCGI_SOCKET] = { "fcgi-socket", SEC_SERVER, false },
	[CONFIG_KEY_USER] = { "user", SEC_SERVER | SEC_CLIENT, false },
	[CONFIG_KEY_URL] = { "url", SEC_CLIENT, false },
	[CONFIG_KEY_CHANNEL] = { "channel", SEC_CLIENT, false },
	[CONFIG_KEY_FORWARD] = { "forward", SEC_CLIENT, true },
	[CONFIG_KEY_KEY_FILE] = { "key-file", SEC_CHANNEL, false },
	[CONFIG_KEY_TUN] = { "tun", SEC_CHANNEL, false },
	[CONFIG_KEY_TUN_NAME] = { "tun-name", SEC_CHANNEL, false },
	[CONFIG_KEY_TUN_ADDRESS] = { "tun-address", SEC_CHANNEL, true },
	[CONFIG_KEY_MTU] = { "mtu", SEC_CHANNEL, false },
	[CONFIG_KEY_ROUTE] = { "route", SEC_CHANNEL, true },
	[CONFIG_KEY_L7_ALLOW] = { "l7-allow", SEC_CHANNEL, true },
	[CONFIG_KEY_FCGI_USER] = { "fcgi-user", SEC_SERVER, false },
	[CONFIG_KEY_FCGI_LISTEN] = { "fcgi-listen", SEC_SERVER, false },
	[CONFIG_KEY_BUSY_POLL] = { "busy-poll", SEC_CLIENT, false },
	[CONFIG_KEY_MAX_UNAUTH_PER_SOURCE] = { "max-unauth-per-source", SEC_SERVER, false },
	[CONFIG_KEY_ALLOWED_IPS] = { "allowed-ips", SEC_CHANNEL, true },
};

static int key_lookup(const char *name)
{
	for (int k = 0; k < CONFIG_KEY_COUNT; k++)
		if (strcmp(keys[k].name, name) == 0)
			return k;
	return -1;
}

/*
 * Copy s[0..len) for a message, escaping everything but printable ASCII: the text came
 * from a file an attacker may have written, and must not drive the user's terminal.
 */
static const char *quote(char dst[QUOTE_BUF_BYTES], const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < len && i < CONFIG_QUOTE_MAX_BYTES; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	if (len > CONFIG_QUOTE_MAX_BYTES) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}

static const char *quotes(char dst[QUOTE_BUF_BYTES], const char *s)
{
	return quote(dst, s, strlen(s));
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Trim blanks in place; returns the start. */
static char *trim(char *s)
{
	size_t n;

	while (is_blank(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_blank(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* ---- validators ---- */

int config_parse_bool(const char *text, bool *out, char *why, size_t whylen)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	snprintf(why, whylen, "expected yes or no (true/false, on/off, 1/0)");
	return -EINVAL;
}

int config_parse_uint(const char *text, unsigned long min, unsigned long max, unsigned long *out,
		      char *why, size_t whylen)
{
	unsigned long v = 0;
	bool over = false;

	if (!*text)
		goto bad;
	for (const char *p = text; *p; p++) {
		if (!is_digit(*p))
			goto bad;
		if (v > (max - (unsigned long)(*p - '0')) / 10)
			over = true;
		else
			v = v * 10 + (unsigned long)(*p - '0');
	}
	if (over || v < min || v > max) {
		snprintf(why, whylen, "must be %lu..%lu", min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
bad:
	snprintf(why, whylen, "expected a decimal number %lu..%lu", min, max);
	return -EINVAL;
}

/* Port 1..65535 from s[0..len), decimal digits only. */
static int port_parse(const char *s, size_t len, uint16_t *out)
{
	unsigned v = 0;

	if (len == 0 || len > 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int config_parse_cidr(const char *text, bool network, struct cidr *out, char *why, size_t whylen)
{
	const char *cwhy = NULL;
	struct cidr zero = { 0 };

	if (cidr_parse(text, strlen(text), out, &cwhy) < 0) {
		snprintf(why, whylen, "%s", cwhy);
		return -EINVAL;
	}
	if (out->family == AF_INET6 && memcmp(out->addr, v4mapped_prefix, 12) == 0 &&
	    out->prefix >= 96) {
		snprintf(why, whylen,
			 "IPv4-mapped IPv6 addresses are not interface addresses "
			 "or routes; write the IPv4 form");
		return -EINVAL;
	}
	if (network && cidr_host_bits_set(out)) {
		struct cidr masked = *out;
		char a[CIDR_STR_BYTES];

		cidr_mask(&masked);
		cidr_format(&masked, a, sizeof(a));
		snprintf(why, whylen, "host bits are set; the network is %s", a);
		return -EINVAL;
	}
	if (!network) {
		zero.family = out->family;
		if (memcmp(out->addr, zero.addr, sizeof(zero.addr)) == 0 ||
		    (out->family == AF_INET && out->addr[0] >= 224 && out->addr[0] < 240) ||
		    (out->family == AF_INET6 && out->addr[0] == 0xff)) {
			snprintf(why, whylen, "not a unicast address");
			return -EINVAL;
		}
		if (out->prefix == 0) {
			snprintf(why, whylen, "prefix length 0 is not an interface address");
			return -EINVAL;
		}
	}
	return 0;
}

/* inet_pton of s[0..len) into a sockaddr with port. */
static int ip_parse(const char *s, size_t len, int family, uint16_t port,
		    struct sockaddr_storage *out)
{
	char buf[INET6_ADDRSTRLEN];

	memset(out, 0, sizeof(*out));
	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (family == AF_INET) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };

		if (inet_pton(AF_INET, buf, &sin.sin_addr) != 1)
			return -EINVAL;
		memcpy(out, &sin, sizeof(sin));
	} else {
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };

		if (inet_pton(AF_INET6, buf, &sin6.sin6_addr) != 1)
			return -EINVAL;
		memcpy(out, &sin6, sizeof(sin6));
	}
	return 0;
}

int config_parse_hostport(const char *text, struct sockaddr_storage *out, char *why, size_t whylen)
{
	const char *colon, *addr = text;
	size_t alen;
	int family = AF_INET;
	uint16_t port;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close) {
			snprintf(why, whylen, "missing ']' after the IPv6 address");
			return -EINVAL;
		}
		addr = text + 1;
		alen = (size_t)(close - addr);
		family = AF_INET6;
		if (close[1] != ':') {
			snprintf(why, whylen, "expected [IPv6]:PORT, as in [::]:80");
			return -EINVAL;
		}
		colon = close + 1;
	} else {
		colon = strchr(text, ':');
		if (colon && strchr(colon + 1, ':')) {
			snprintf(why, whylen, "IPv6 addresses need brackets, as in [::]:80");
			return -EINVAL;
		}
		if (!colon) {
			snprintf(why, whylen, "expected ADDR:PORT, as in 0.0.0.0:80 or [::]:80");
			return -EINVAL;
		}
		alen = (size_t)(colon - text);
	}
	if (port_parse(colon + 1, strlen(colon + 1), &port) < 0) {
		snprintf(why, whylen, "port must be 1..65535");
		return -EINVAL;
	}
	if (ip_parse(addr, alen, family, port, out) < 0) {
		snprintf(why, whylen,
			 family == AF_INET ? "not an IPv4 address (names are not resolved; "
					     "IPv6 goes in brackets)"
					   : "not an IPv6 address");
		return -EINVAL;
	}
	return 0;
}

/* A DNS name or IPv4 literal: letters, digits, '-', '.', '_'; no leading '-' or '.'. */
static bool host_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > CONFIG_HOST_MAX_BYTES || s[0] == '-' || s[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '.' && s[i] != '_')
			return false;
	return true;
}

int config_parse_forward(const char *text, struct config_forward *out, char *why, size_t whylen)
{
	const char *tok[4];
	size_t toklen[4], n = 0;
	const char *p = text;
	uint16_t lport;

	memset(out, 0, sizeof(*out));
	/* Split at ':' outside brackets, so IPv6 literals can be [bracketed]. */
	for (;;) {
		const char *start = p;

		if (n == 4)
			goto syntax;
		if (*p == '[') {
			p = strchr(p, ']');
			if (!p)
				goto syntax;
			p++;
			if (*p != ':' && *p != '\0')
				goto syntax;
		} else {
			while (*p && *p != ':')
				p++;
		}
		tok[n] = start;
		toklen[n++] = (size_t)(p - start);
		if (*p == '\0')
			break;
		p++;
	}
	if (n < 3)
		goto syntax;
	if (port_parse(tok[n - 3], toklen[n - 3], &lport) < 0 ||
	    port_parse(tok[n - 1], toklen[n - 1], &out->port) < 0) {
		snprintf(why, whylen, "ports must be 1..65535");
		return -EINVAL;
	}
	if (n == 3) {
		ip_parse("127.0.0.1", 9, AF_INET, lport, &out->bind);
	} else if (toklen[0] >= 2 && tok[0][0] == '[') {
		if (ip_parse(tok[0] + 1, toklen[0] - 2, AF_INET6, lport, &out->bind) < 0) {
			snprintf(why, whylen, "bind address is not an IPv6 address");
			return -EINVAL;
		}
	} else if (toklen[0] == 9 && memcmp(tok[0], "localhost", 9) == 0) {
		ip_parse("127.0.0.1", 9, AF_INET, lport, &out->bind);
	} else if (ip_parse(tok[0], toklen[0], AF_INET, lport, &out->bind) < 0) {
		snprintf(why, whylen, "bind address must be an IPv4 address, [IPv6] or localhost");
		return -EINVAL;
	}
	const char *h = tok[n - 2];
	size_t hlen = toklen[n - 2];

	if (hlen >= 2 && h[0] == '[') {
		struct sockaddr_storage ss;

		if (ip_parse(h + 1, hlen - 2, AF_INET6, 0, &ss) < 0) {
			snprintf(why, whylen, "target in brackets is not an IPv6 address");
			return -EINVAL;
		}
		h++;
		hlen -= 2;
	} else if (!host_name_ok(h, hlen)) {
		snprintf(why, whylen, "target host must be a name, an IPv4 address or [IPv6]");
		return -EINVAL;
	}
	memcpy(out->host, h, hlen);
	out->host[hlen] = '\0';
	return 0;
syntax:
	snprintf(why, whylen, "expected [BIND:]PORT:HOST:PORT, as in 8022:server:22");
	return -EINVAL;
}

/* RFC 3986 pchar and '/', without '%': no percent-encoding to compare two ways. */
static bool path_char_ok(char c)
{
	return is_alnum(c) || (c && strchr("-._~!$&'()*+,;=:@/", c));
}

int config_parse_path(const char *text, char *out, char *why, size_t whylen)
{
	size_t len = strlen(text);

	if (text[0] != '/') {
		snprintf(why, whylen, "must start with '/'");
		return -EINVAL;
	}
	if (len + 1 > CONFIG_PATH_MAX_BYTES) {
		snprintf(why, whylen, "longer than %d bytes", CONFIG_PATH_MAX_BYTES - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if (!path_char_ok(text[i])) {
			snprintf(why, whylen,
				 "only letters, digits and -._~!$&'()*+,;=:@/ are allowed "
				 "(no %%-escapes, query or fragment)");
			return -EINVAL;
		}
	}
	/* Web servers collapse these before the application sees them, so they can't match. */
	if (strstr(text, "//") || strstr(text, "/./") || strstr(text, "/../") ||
	    (len >= 2 && strcmp(text + len - 2, "/.") == 0) ||
	    (len >= 3 && strcmp(text + len - 3, "/..") == 0)) {
		snprintf(why, whylen, "empty, '.' and '..' path segments are not allowed");
		return -EINVAL;
	}
	memcpy(out, text, len);
	if (text[len - 1] != '/')
		out[len++] = '/';
	out[len] = '\0';
	return 0;
}

int config_parse_url(const char *text, struct config_url *out, char *why, size_t whylen)
{
	const char *p, *host, *hend, *path;
	size_t hlen;

	memset(out, 0, sizeof(*out));
	if (strlen(text) > CONFIG_URL_MAX_BYTES) {
		snprintf(why, whylen, "longer than %d bytes", CONFIG_URL_MAX_BYTES);
		return -EINVAL;
	}
	if (strncasecmp(text, "http://", 7) == 0) {
		p = text + 7;
		out->port = 80;
	} else if (strncasecmp(text, "https://", 8) == 0) {
		p = text + 8;
		out->https = true;
		out->port = 443;
	} else {
		snprintf(why, whylen, "must start with http:// or https://");
		return -EINVAL;
	}
	if (strpbrk(text, "?#")) {
		snprintf(why, whylen, "a query or fragment is not allowed");
		return -EINVAL;
	}
	path = strchr(p, '/');
	if (!path)
		path = p + strlen(p);
	if (memchr(p, '@', (size_t)(path - p))) {
		snprintf(why, whylen,
			 "user info (user@host) is not allowed; the key authenticates");
		return -EINVAL;
	}
	host = p;
	if (*p == '[') {
		struct sockaddr_storage ss;

		hend = memchr(p, ']', (size_t)(path - p));
		if (!hend || ip_parse(p + 1, (size_t)(hend - p - 1), AF_INET6, 0, &ss) < 0) {
			snprintf(why, whylen, "host in brackets is not an IPv6 address");
			return -EINVAL;
		}
		host = p + 1;
		hlen = (size_t)(hend - host);
		out->host_is_ipv6 = true;
		p = hend + 1;
	} else {
		hend = p;
		while (hend < path && *hend != ':')
			hend++;
		hlen = (size_t)(hend - host);
		if (!host_name_ok(host, hlen)) {
			snprintf(why, whylen, "host must be a name, an IPv4 address or [IPv6]");
			return -EINVAL;
		}
		p = hend;
	}
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	if (p < path) {
		if (*p != ':' || port_parse(p + 1, (size_t)(path - p - 1), &out->port) < 0) {
			snprintf(why, whylen, "port must be 1..65535");
			return -EINVAL;
		}
	}
	if (*path == '\0') {
		strcpy(out->path, "/");
		return 0;
	}
	if (config_parse_path(path, out->path, why, whylen) < 0)
		return -EINVAL;
	return 0;
}

void config_url_format(const struct config_url *u, char out[CONFIG_URL_STR_BYTES])
{
	snprintf(out, CONFIG_URL_STR_BYTES, "%s://%s%s%s:%u%s", u->https ? "https" : "http",
		 u->host_is_ipv6 ? "[" : "", u->host, u->host_is_ipv6 ? "]" : "", u->port, u->path);
}

int config_parse_channel_name(const char *text, char *why, size_t whylen)
{
	size_t len = strlen(text);

	if (len == 0 || len >= CHANNEL_NAME_MAX_BYTES) {
		snprintf(why, whylen, "channel names are 1..%d characters",
			 CHANNEL_NAME_MAX_BYTES - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if (!is_alnum(text[i]) && text[i] != '-' && text[i] != '.' && text[i] != '_') {
			snprintf(why, whylen,
				 "channel names use only letters, digits, '-', '.', '_'");
			return -EINVAL;
		}
	}
	return 0;
}

static int tun_name_parse(const char *text, char *out, char *why, size_t whylen)
{
	size_t len = strlen(text);

	if (len == 0 || len >= CONFIG_TUN_NAME_MAX_BYTES) {
		snprintf(why, whylen, "interface names are 1..%d characters",
			 CONFIG_TUN_NAME_MAX_BYTES - 1);
		return -EINVAL;
	}
	if (strcmp(text, ".") == 0 || strcmp(text, "..") == 0)
		goto bad;
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(text[i]) && text[i] != '-' && text[i] != '.' && text[i] != '_')
			goto bad;
	memcpy(out, text, len + 1);
	return 0;
bad:
	snprintf(why, whylen, "interface names use only letters, digits, '-', '.', '_'");
	return -EINVAL;
}

static int user_parse(const char *text, char *why, size_t whylen)
{
	size_t len = strlen(text);

	if (len == 0 || len > CONFIG_USER_MAX_BYTES || text[0] == '-')
		goto bad;
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(text[i]) && text[i] != '-' && text[i] != '.' && text[i] != '_')
			goto bad;
	return 0;
bad:
	snprintf(why, whylen, "user names are 1..%d letters, digits, '-', '.', '_'",
		 CONFIG_USER_MAX_BYTES);
	return -EINVAL;
}

/* ---- the model ---- */

struct config *config_new(void)
{
	struct config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return NULL;
	strcpy(cfg->server.path, "/");
	cfg->server.max_unauth_per_source = HTTP_MAX_UNVOUCHED_PER_SOURCE;
	cfg->client.selected = SIZE_MAX;
	return cfg;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_channels; i++) {
		struct config_channel *ch = &cfg->channels[i];

		free(ch->key_file);
		free(ch->tun_addresses);
		free(ch->routes);
		free(ch->allowed_ips);
		policy_close(&ch->l7);
	}
	free(cfg->channels);
	free(cfg->server.listens);
	free(cfg->server.fcgi_socket);
	free(cfg->server.fcgi_listen);
	free(cfg->server.user);
	free(cfg->server.fcgi_user);
	free(cfg->client.channel);
	free(cfg->client.forwards);
	free(cfg->client.user);
	free(cfg->name);
	free(cfg);
}

struct config_channel *config_find_channel(struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_channels; i++)
		if (strcmp(cfg->channels[i].name, name) == 0)
			return &cfg->channels[i];
	return NULL;
}

/* name has been validated. */
static int channel_add(struct config *cfg, const char *name, uint32_t line, size_t *idx)
{
	struct config_channel *chs, *ch;

	if (cfg->n_channels >= CONFIG_MAX_CHANNELS)
		return -E2BIG;
	chs = realloc(cfg->channels, (cfg->n_channels + 1) * sizeof(*chs));
	if (!chs)
		return -ENOMEM;
	cfg->channels = chs;
	ch = &chs[cfg->n_channels];
	memset(ch, 0, sizeof(*ch));
	snprintf(ch->name, sizeof(ch->name), "%s", name);
	ch->line = line;
	ch->mtu = CONFIG_MTU_DEFAULT;
	policy_init(&ch->l7);
	*idx = cfg->n_channels++;
	return 0;
}

static int set_string(char **dst, const char *value)
{
	char *s = strdup(value);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

/* Relative key-file paths in a file are relative to the file's directory. */
static int set_key_file(char **dst, const char *value, const char *cfgname)
{
	const char *slash = cfgname ? strrchr(cfgname, '/') : NULL;
	size_t dirlen, vlen = strlen(value);
	char *s;

	if (value[0] == '/' || !slash)
		return set_string(dst, value);
	dirlen = (size_t)(slash - cfgname) + 1;
	s = malloc(dirlen + vlen + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s, cfgname, dirlen);
	memcpy(s + dirlen, value, vlen + 1);
	free(*dst);
	*dst = s;
	return 0;
}

static int too_many(char *why, size_t whylen, int max)
{
	snprintf(why, whylen, "at most %d", max);
	return -E2BIG;
}

/*
 * Append value to a list of prefixes: interface addresses (network false) or networks,
 * host bits zero (route, allowed-ips). Returns 0, -EINVAL or -E2BIG with why, or -ENOMEM.
 */
static int cidr_list_add(struct cidr **arr, size_t *n, size_t max, bool network, const char *value,
			 char *why, size_t whylen)
{
	struct cidr c, *cs;
	int ret;

	if ((ret = config_parse_cidr(value, network, &c, why, whylen)) < 0)
		return ret;
	for (size_t i = 0; i < *n; i++) {
		/* An address is one per device, whatever its prefix length. */
		if (network ? cidr_equal(&(*arr)[i], &c)
			    : (*arr)[i].family == c.family &&
				      memcmp((*arr)[i].addr, c.addr, 16) == 0) {
			snprintf(why, whylen, "listed twice");
			return -EINVAL;
		}
	}
	if (*n >= max)
		return too_many(why, whylen, (int)max);
	cs = realloc(*arr, (*n + 1) * sizeof(*cs));
	if (!cs)
		return -ENOMEM;
	*arr = cs;
	cs[(*n)++] = c;
	return 0;
}

/*
 * Validate value for key and store it in the section sec (ch for channel keys); base is
 * the config file that relative key-file paths are relative to (NULL: the working
 * directory). Returns 0, -EINVAL or -E2BIG with why, or -ENOMEM.
 */
static int apply(struct config *cfg, struct config_channel *ch, enum section sec, enum config_key k,
		 const char *value, const char *base, char *why, size_t whylen)
{
	struct config_server *srv = &cfg->server;
	struct config_client *cli = &cfg->client;
	struct sockaddr_storage ss;
	struct config_forward fw;
	struct policy_rule rule;
	unsigned long ul;
	int ret;

	switch (k) {
	case CONFIG_KEY_LISTEN: {
		struct sockaddr_storage *a;

		if ((ret = config_parse_hostport(value, &ss, why, whylen)) < 0)
			return ret;
		for (size_t i = 0; i < srv->n_listens; i++) {
			if (memcmp(&srv->listens[i], &ss, sizeof(ss)) == 0) {
				snprintf(why, whylen, "listed twice");
				return -EINVAL;
			}
		}
		if (srv->n_listens >= CONFIG_MAX_LISTENS)
			return too_many(why, whylen, CONFIG_MAX_LISTENS);
		a = realloc(srv->listens, (srv->n_listens + 1) * sizeof(*a));
		if (!a)
			return -ENOMEM;
		srv->listens = a;
		a[srv->n_listens++] = ss;
		return 0;
	}
	case CONFIG_KEY_PATH:
		return config_parse_path(value, srv->path, why, whylen);
	case CONFIG_KEY_FCGI_SOCKET:
	case CONFIG_KEY_FCGI_LISTEN:
		if (value[0] != '/' || strlen(value) >= CONFIG_SOCKET_PATH_MAX_BYTES) {
			snprintf(why, whylen, "must be an absolute path of at most %d bytes",
				 CONFIG_SOCKET_PATH_MAX_BYTES - 1);
			return -EINVAL;
		}
		return set_string(
			k == CONFIG_KEY_FCGI_SOCKET ? &srv->fcgi_socket : &srv->fcgi_listen, value);
	case CONFIG_KEY_USER:
		if ((ret = user_parse(value, why, whylen)) < 0)
			return ret;
		return set_string(sec == SEC_CLIENT ? &cli->user : &srv->user, value);
	case CONFIG_KEY_FCGI_USER:
		if ((ret = user_parse(value, why, whylen)) < 0)
			return ret;
		return set_string(&srv->fcgi_user, value);
	case CONFIG_KEY_URL:
		if ((ret = config_parse_url(value, &cli->url, why, whylen)) < 0)
			return ret;
		cli->has_url = true;
		return 0;
	case CONFIG_KEY_CHANNEL:
		if ((ret = config_parse_channel_name(value, why, whylen)) < 0)
			return ret;
		return set_string(&cli->channel, value);
	case CONFIG_KEY_MAX_UNAUTH_PER_SOURCE:
		ret = config_parse_uint(value, 0, HTTP_MAX_CONNECTIONS, &ul, why, whylen);
		if (ret < 0)
			return ret;
		srv->max_unauth_per_source = (uint32_t)ul;
		return 0;
	case CONFIG_KEY_BUSY_POLL:
		ret = config_parse_uint(value, 0, CONFIG_BUSY_POLL_MAX_US, &ul, why, whylen);
		if (ret < 0)
			return ret;
		cli->busy_poll_us = (uint32_t)ul;
		return 0;
	case CONFIG_KEY_FORWARD: {
		struct config_forward *f;

		if ((ret = config_parse_forward(value, &fw, why, whylen)) < 0)
			return ret;
		for (size_t i = 0; i < cli->n_forwards; i++) {
			if (memcmp(&cli->forwards[i].bind, &fw.bind, sizeof(fw.bind)) == 0) {
				snprintf(why, whylen,
					 "another forward listens on the same address");
				return -EINVAL;
			}
		}
		if (cli->n_forwards >= CONFIG_MAX_FORWARDS)
			return too_many(why, whylen, CONFIG_MAX_FORWARDS);
		f = realloc(cli->forwards, (cli->n_forwards + 1) * sizeof(*f));
		if (!f)
			return -ENOMEM;
		cli->forwards = f;
		f[cli->n_forwards++] = fw;
		return 0;
	}
	case CONFIG_KEY_KEY_FILE:
		if (!*value) {
			snprintf(why, whylen, "empty path");
			return -EINVAL;
		}
		return set_key_file(&ch->key_file, value, base);
	case CONFIG_KEY_TUN:
		return config_parse_bool(value, &ch->tun, why, whylen);
	case CONFIG_KEY_TUN_NAME:
		return tun_name_parse(value, ch->tun_name, why, whylen);
	case CONFIG_KEY_TUN_ADDRESS:
		return cidr_list_add(&ch->tun_addresses, &ch->n_tun_addresses,
				     CONFIG_MAX_TUN_ADDRESSES, false, value, why, whylen);
	case CONFIG_KEY_ROUTE:
		return cidr_list_add(&ch->routes, &ch->n_routes, CONFIG_MAX_ROUTES, true, value,
				     why, whylen);
	case CONFIG_KEY_ALLOWED_IPS:
		return cidr_list_add(&ch->allowed_ips, &ch->n_allowed_ips, CONFIG_MAX_ALLOWED_IPS,
				     true, value, why, whylen);
	case CONFIG_KEY_MTU:
		if ((ret = config_parse_uint(value, CONFIG_MTU_MIN, CONFIG_MTU_MAX, &ul, why,
					     whylen)) < 0)
			return ret;
		ch->mtu = (uint32_t)ul;
		return 0;
	case CONFIG_KEY_L7_ALLOW:
		if ((ret = policy_rule_parse(value, &rule, why, whylen)) < 0)
			return ret;
		ret = policy_add(&ch->l7, &rule);
		if (ret == -E2BIG)
			return too_many(why, whylen, POLICY_MAX_RULES);
		return ret;
	case CONFIG_KEY_COUNT:
		break;
	}
	snprintf(why, whylen, "unknown key");
	return -EINVAL;
}

/* ---- messages about settings, for whichever origin they have ---- */

/* "NAME:LINE: " for a file line; "" for flags. */
static const char *where(const struct config *cfg, uint32_t line, char *buf, size_t len)
{
	if (!cfg->name || line == 0 || line == CONFIG_LINE_FLAG)
		return "";
	snprintf(buf, len, "%s:%u: ", cfg->name, line);
	return buf;
}

/* "--mtu" for a flag, "mtu" in a file. */
static const char *keyref(enum config_key k, uint32_t line, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", line == CONFIG_LINE_FLAG ? "--" : "", keys[k].name);
	return buf;
}

/* " in [channel NAME]" for a file channel, "" for the channel of the flags. */
static const char *in_chan(const struct config_channel *ch, char *buf, size_t len)
{
	if (ch->line == CONFIG_LINE_FLAG)
		return "";
	snprintf(buf, len, " in [channel %s]", ch->name);
	return buf;
}

static int check_channel(const struct config *cfg, const struct config_channel *ch, char *err,
			 size_t errlen)
{
	static const enum config_key needs_tun[] = { CONFIG_KEY_TUN_NAME, CONFIG_KEY_TUN_ADDRESS,
						     CONFIG_KEY_MTU, CONFIG_KEY_ROUTE,
						     CONFIG_KEY_ALLOWED_IPS };
	char w[CONFIG_ERR_BYTES], kr[32], ic[CHANNEL_NAME_MAX_BYTES + 16];

	for (size_t i = 0; !ch->tun && i < sizeof(needs_tun) / sizeof(needs_tun[0]); i++) {
		uint32_t line = ch->set_line[needs_tun[i]];

		if (!line)
			continue;
		snprintf(err, errlen, "%s%s%s needs %s", where(cfg, line, w, sizeof(w)),
			 keyref(needs_tun[i], line, kr, sizeof(kr)), in_chan(ch, ic, sizeof(ic)),
			 line == CONFIG_LINE_FLAG ? "--tun" : "tun = yes");
		return -EINVAL;
	}
	if (ch->mtu >= CONFIG_MTU_IPV6_MIN)
		return 0;
	for (size_t i = 0; i < ch->n_tun_addresses; i++) {
		uint32_t line = ch->set_line[CONFIG_KEY_MTU];
		char a[CIDR_STR_BYTES];

		if (ch->tun_addresses[i].family != AF_INET6)
			continue;
		cidr_format(&ch->tun_addresses[i], a, sizeof(a));
		snprintf(err, errlen,
			 "%s%s %u%s is below %d, the IPv6 minimum, and the channel has the IPv6 "
			 "address %s",
			 where(cfg, line, w, sizeof(w)),
			 keyref(CONFIG_KEY_MTU, line, kr, sizeof(kr)), ch->mtu,
			 in_chan(ch, ic, sizeof(ic)), CONFIG_MTU_IPV6_MIN, a);
		return -EINVAL;
	}
	return 0;
}

/* ---- the file parser ---- */

struct parser {
	struct config *cfg;
	uint32_t line;
	enum section sec;
	size_t chan; /* index of the current channel, for SEC_CHANNEL */
	char *err;
	size_t errlen;
};

static int perr(struct parser *p, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "NAME:LINE: message". */
static int perr(struct parser *p, int ret, const char *fmt, ...)
{
	size_t n;
	va_list ap;
	int w;

	w = snprintf(p->err, p->errlen, "%s:%u: ", p->cfg->name, p->line);
	n = w < 0 ? 0 : (size_t)w;
	if (n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - n, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* "server", "client" or "channel NAME", for messages. */
static const char *sec_name(const struct parser *p, char *buf, size_t len)
{
	switch (p->sec) {
	case SEC_SERVER:
		return "server";
	case SEC_CLIENT:
		return "client";
	case SEC_CHANNEL:
		snprintf(buf, len, "channel %s", p->cfg->channels[p->chan].name);
		return buf;
	case SEC_NONE:
		break;
	}
	return "";
}

static int parse_section(struct parser *p, char *s)
{
	struct config *cfg = p->cfg;
	size_t len = strlen(s);
	char q[QUOTE_BUF_BYTES], why[CONFIG_ERR_BYTES];
	char *inner, *name;
	uint32_t *first;
	int ret;

	if (s[len - 1] != ']')
		return perr(p, -EINVAL, "section header '%s' does not end with ']'", quotes(q, s));
	s[len - 1] = '\0';
	inner = trim(s + 1);
	if (strcmp(inner, "server") == 0 || strcmp(inner, "client") == 0) {
		p->sec = inner[1] == 'e' ? SEC_SERVER : SEC_CLIENT;
		first = p->sec == SEC_SERVER ? &cfg->server.line : &cfg->client.line;
		if (*first)
			return perr(p, -EINVAL, "duplicate section [%s] (first at line %u)", inner,
				    *first);
		*first = p->line;
		return 0;
	}
	if (strncmp(inner, "channel", 7) != 0 || (inner[7] && !is_blank(inner[7])))
		return perr(p, -EINVAL,
			    "unknown section '[%s]'; expected [server], [client] or [channel NAME]",
			    quotes(q, inner));
	name = trim(inner + 7);
	if (!*name)
		return perr(p, -EINVAL, "[channel] needs a name, as in [channel office]");
	if (config_parse_channel_name(name, why, sizeof(why)) < 0)
		return perr(p, -EINVAL, "invalid channel name '%s': %s", quotes(q, name), why);
	const struct config_channel *dup = config_find_channel(cfg, name);
	if (dup)
		return perr(p, -EINVAL, "duplicate channel '%s' (first defined at line %u)", name,
			    dup->line);
	ret = channel_add(cfg, name, p->line, &p->chan);
	if (ret == -E2BIG)
		return perr(p, ret, "too many channels: at most %d", CONFIG_MAX_CHANNELS);
	if (ret < 0)
		return perr(p, ret, "%s", strerror(-ret));
	p->sec = SEC_CHANNEL;
	return 0;
}

static int parse_setting(struct parser *p, char *s)
{
	struct config *cfg = p->cfg;
	char q[QUOTE_BUF_BYTES], q2[QUOTE_BUF_BYTES], why[CONFIG_ERR_BYTES];
	char sn[CHANNEL_NAME_MAX_BYTES + 16];
	struct config_channel *ch = NULL;
	char *eq = strchr(s, '='), *key, *value;
	uint32_t *set_line;
	int k, ret;

	if (!eq)
		return perr(p, -EINVAL,
			    "expected 'key = value', a [section] or a comment, not '%s'",
			    quotes(q, s));
	*eq = '\0';
	key = trim(s);
	value = trim(eq + 1);
	if (!*key)
		return perr(p, -EINVAL, "missing key before '='");
	if (p->sec == SEC_NONE)
		return perr(p, -EINVAL,
			    "'%s' outside any section; start with [server], [client] or "
			    "[channel NAME]",
			    quotes(q, key));
	k = key_lookup(key);
	if (k < 0)
		return perr(p, -EINVAL, "unknown key '%s' in [%s]", quotes(q, key),
			    sec_name(p, sn, sizeof(sn)));
	if (!(keys[k].sec & p->sec))
		return perr(p, -EINVAL, "'%s' belongs in %s, not in [%s]", key,
			    keys[k].sec == SEC_SERVER	 ? "[server]"
			    : keys[k].sec == SEC_CLIENT	 ? "[client]"
			    : keys[k].sec == SEC_CHANNEL ? "a [channel NAME] section"
							 : "[server] or [client]",
			    sec_name(p, sn, sizeof(sn)));
	if (p->sec == SEC_CHANNEL) {
		ch = &cfg->channels[p->chan];
		set_line = ch->set_line;
	} else {
		set_line = p->sec == SEC_SERVER ? cfg->server.set_line : cfg->client.set_line;
	}
	if (!keys[k].repeatable && set_line[k])
		return perr(p, -EINVAL, "duplicate key '%s' in [%s] (first set at line %u)", key,
			    sec_name(p, sn, sizeof(sn)), set_line[k]);
	/* "mtu = 1400 # small" must not turn into a path or a rule with a comment in it. */
	for (const char *c = value; *c; c++) {
		if (is_blank(c[0]) && (c[1] == '#' || c[1] == ';'))
			return perr(
				p, -EINVAL,
				"comment after the value of '%s' in [%s]: comments go on a line "
				"of their own",
				key, sec_name(p, sn, sizeof(sn)));
	}
	ret = apply(cfg, ch, p->sec, (enum config_key)k, value, cfg->name, why, sizeof(why));
	if (ret == -E2BIG)
		return perr(p, ret, "too many '%s' lines in [%s]: %s", key,
			    sec_name(p, sn, sizeof(sn)), why);
	if (ret == -ENOMEM)
		return perr(p, ret, "%s", strerror(ENOMEM));
	if (ret < 0)
		return perr(p, ret, "invalid %s '%s' in [%s]: %s", key, quotes(q2, value),
			    sec_name(p, sn, sizeof(sn)), why);
	if (!set_line[k])
		set_line[k] = p->line;
	return 0;
}

static int parse_line(struct parser *p, const char *raw, size_t len)
{
	char buf[CONFIG_MAX_LINE_BYTES + 1];
	char *s;

	if (len > 0 && raw[len - 1] == '\r')
		len--;
	if (len > CONFIG_MAX_LINE_BYTES)
		return perr(p, -EINVAL, "line longer than %d bytes", CONFIG_MAX_LINE_BYTES);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)raw[i];

		if (c == 0)
			return perr(p, -EINVAL, "NUL byte in line");
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return perr(p, -EINVAL, "control character 0x%02x in line", c);
	}
	memcpy(buf, raw, len);
	buf[len] = '\0';
	s = trim(buf);
	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[')
		return parse_section(p, s);
	return parse_setting(p, s);
}

int config_parse(struct config *cfg, const char *name, const char *text, size_t len, char *err,
		 size_t errlen)
{
	struct parser p = { .cfg = cfg, .err = err, .errlen = errlen };
	size_t pos = 0;
	int ret;

	if (set_string(&cfg->name, name) < 0) {
		snprintf(err, errlen, "%s: %s", name, strerror(ENOMEM));
		return -ENOMEM;
	}
	if (len > CONFIG_MAX_FILE_BYTES) {
		snprintf(err, errlen, "%s: larger than %d bytes, not a config file", name,
			 CONFIG_MAX_FILE_BYTES);
		return -E2BIG;
	}
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;

		p.line++;
		ret = parse_line(&p, text + pos, end - pos);
		if (ret < 0)
			return ret;
		pos = end + 1;
	}
	for (size_t i = 0; i < cfg->n_channels; i++) {
		ret = check_channel(cfg, &cfg->channels[i], err, errlen);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	size_t len = 0;
	char *buf;
	int ret;

	/* One byte more than allowed, to tell "exactly the limit" from "too large". */
	buf = malloc(CONFIG_MAX_FILE_BYTES + 1);
	if (!buf) {
		snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
		return -ENOMEM;
	}
	ret = file_read_regular(path, buf, CONFIG_MAX_FILE_BYTES + 1, &len, NULL);
	if (ret < 0)
		snprintf(err, errlen, "%s: %s", path, file_strerror(ret));
	else
		ret = config_parse(cfg, path, buf, len, err, errlen);
	free(buf);
	return ret;
}

/* ---- flags ---- */

int config_flag(struct config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
	char q[QUOTE_BUF_BYTES], why[CONFIG_ERR_BYTES], flag[32];
	struct config_channel *ch = NULL;
	uint32_t *set_line;
	enum section sec;
	int k = key_lookup(key), ret;

	if (k < 0) {
		snprintf(err, errlen, "unknown option --%s", quotes(q, key));
		return -EINVAL;
	}
	if (!value)
		value = "yes";
	/* The URL is the client's argument, not a flag. */
	snprintf(flag, sizeof(flag), "%s%s", k == CONFIG_KEY_URL ? "" : "--",
		 k == CONFIG_KEY_URL ? "URL" : keys[k].name);
	if (keys[k].sec == SEC_CHANNEL) {
		ch = config_find_channel(cfg, CONFIG_DEFAULT_CHANNEL);
		if (!ch) {
			size_t idx;

			ret = channel_add(cfg, CONFIG_DEFAULT_CHANNEL, CONFIG_LINE_FLAG, &idx);
			if (ret == -E2BIG) {
				snprintf(err, errlen, "%s: too many channels: at most %d", flag,
					 CONFIG_MAX_CHANNELS);
				return ret;
			}
			if (ret < 0) {
				snprintf(err, errlen, "%s: %s", flag, strerror(-ret));
				return ret;
			}
			ch = &cfg->channels[idx];
		}
		set_line = ch->set_line;
		sec = SEC_CHANNEL;
	} else {
		sec = keys[k].sec & SEC_SERVER ? SEC_SERVER : SEC_CLIENT;
		set_line = sec == SEC_SERVER ? cfg->server.set_line : cfg->client.set_line;
	}
	if (!keys[k].repeatable && set_line[k] == CONFIG_LINE_FLAG) {
		snprintf(err, errlen, "%s given twice", flag);
		return -EINVAL;
	}
	ret = apply(cfg, ch, sec, (enum config_key)k, value, NULL, why, sizeof(why));
	/* A flag of both roles (--user) sets both: the subcommand reads its own. */
	if (ret == 0 && keys[k].sec == (SEC_SERVER | SEC_CLIENT)) {
		ret = apply(cfg, NULL, SEC_CLIENT, (enum config_key)k, value, NULL, why,
			    sizeof(why));
		cfg->client.set_line[k] = CONFIG_LINE_FLAG;
	}
	if (ret == -E2BIG) {
		snprintf(err, errlen, "too many %s: %s", flag, why);
		return ret;
	}
	if (ret == -ENOMEM) {
		snprintf(err, errlen, "%s: %s", flag, strerror(ENOMEM));
		return ret;
	}
	if (ret < 0) {
		snprintf(err, errlen, "%s '%s': %s", flag, quotes(q, value), why);
		return ret;
	}
	if (!keys[k].repeatable || !set_line[k])
		set_line[k] = CONFIG_LINE_FLAG;
	return 0;
}

/* ---- whole-configuration checks ---- */

/* "[channel NAME]" or "the command-line channel". */
static const char *chan_ref(const struct config_channel *ch, char *buf, size_t len)
{
	if (ch->line == CONFIG_LINE_FLAG)
		return "the channel of the command line";
	snprintf(buf, len, "[channel %s]", ch->name);
	return buf;
}

static int no_channel(const struct config *cfg, char *err, size_t errlen)
{
	if (cfg->name)
		snprintf(err, errlen, "%s: no [channel NAME] section, and no --key-file",
			 cfg->name);
	else
		snprintf(err, errlen, "no channel: give --key-file, or a config file with -c");
	return -EINVAL;
}

static int need_key_file(const struct config *cfg, const struct config_channel *ch, char *err,
			 size_t errlen)
{
	char w[CONFIG_ERR_BYTES], cr[CHANNEL_NAME_MAX_BYTES + 16];

	if (ch->key_file)
		return 0;
	if (ch->line == CONFIG_LINE_FLAG)
		snprintf(err, errlen, "no --key-file");
	else
		snprintf(err, errlen, "%s%s has no key-file", where(cfg, ch->line, w, sizeof(w)),
			 chan_ref(ch, cr, sizeof(cr)));
	return -EINVAL;
}

/*
 * A server channel with tun = yes must let its client use some source address: with none
 * (no tun-address network, no allowed-ips) every packet would be dropped as a spoof.
 */
static int check_sources(const struct config *cfg, const struct config_channel *ch, char *err,
			 size_t errlen)
{
	char w[CONFIG_ERR_BYTES], cr[CHANNEL_NAME_MAX_BYTES + 16], ta[32], ai[32];
	uint32_t line = ch->set_line[CONFIG_KEY_TUN];
	struct allowed_ips a;

	allowed_ips_init(&a, ch->allowed_ips, ch->n_allowed_ips, ch->tun_addresses,
			 ch->n_tun_addresses);
	if (!ch->tun || !allowed_ips_none(&a))
		return 0;
	snprintf(err, errlen,
		 "%s%s allows its client no source address and would drop every packet: give "
		 "%s a network (198.18.1.1/24, not a host address) or list the client's "
		 "addresses with %s",
		 where(cfg, line, w, sizeof(w)), chan_ref(ch, cr, sizeof(cr)),
		 keyref(CONFIG_KEY_TUN_ADDRESS, line, ta, sizeof(ta)),
		 keyref(CONFIG_KEY_ALLOWED_IPS, line, ai, sizeof(ai)));
	return -EINVAL;
}

int config_check_server(struct config *cfg, char *err, size_t errlen)
{
	char w[CONFIG_ERR_BYTES], kr[32], cr[CHANNEL_NAME_MAX_BYTES + 16];
	char cr2[CHANNEL_NAME_MAX_BYTES + 16];
	int ret;

	if (cfg->n_channels == 0)
		return no_channel(cfg, err, errlen);
	if (cfg->server.n_listens == 0 && !cfg->server.fcgi_socket && !cfg->server.fcgi_listen) {
		snprintf(err, errlen,
			 "%s%snothing to serve on: give --listen ADDR:PORT, --fcgi-listen PATH "
			 "or --fcgi-socket PATH%s",
			 cfg->name ? cfg->name : "", cfg->name ? ": " : "",
			 cfg->name ? " (or listen / fcgi-listen / fcgi-socket in [server])" : "");
		return -EINVAL;
	}
	if (cfg->server.fcgi_socket && cfg->server.fcgi_listen &&
	    !strcmp(cfg->server.fcgi_socket, cfg->server.fcgi_listen)) {
		snprintf(err, errlen,
			 "%s%sfcgi-listen and fcgi-socket are both %s: the web server's FastCGI "
			 "socket and the relay socket of httun fcgi need a path each",
			 cfg->name ? cfg->name : "", cfg->name ? ": " : "",
			 cfg->server.fcgi_listen);
		return -EINVAL;
	}
	for (size_t i = 0; i < cfg->n_channels; i++) {
		const struct config_channel *ch = &cfg->channels[i];
		uint32_t line = ch->set_line[CONFIG_KEY_ROUTE];

		if ((ret = check_channel(cfg, ch, err, errlen)) < 0)
			return ret;
		if ((ret = need_key_file(cfg, ch, err, errlen)) < 0)
			return ret;
		if (line) {
			snprintf(err, errlen,
				 "%s%s in %s is a client setting; on the server, routing is the "
				 "admin's (ip route)",
				 where(cfg, line, w, sizeof(w)),
				 keyref(CONFIG_KEY_ROUTE, line, kr, sizeof(kr)),
				 chan_ref(ch, cr, sizeof(cr)));
			return -EINVAL;
		}
		if ((ret = check_sources(cfg, ch, err, errlen)) < 0)
			return ret;
		for (size_t j = 0; j < i; j++) {
			const struct config_channel *o = &cfg->channels[j];

			/* The server finds a frame's channel by its key: keys must differ. */
			if (strcmp(o->key_file, ch->key_file) == 0) {
				line = ch->set_line[CONFIG_KEY_KEY_FILE];
				snprintf(
					err, errlen,
					"%s%s uses the key-file of %s; every channel needs its own "
					"key",
					where(cfg, line, w, sizeof(w)),
					chan_ref(ch, cr, sizeof(cr)),
					chan_ref(o, cr2, sizeof(cr2)));
				return -EINVAL;
			}
			if (ch->tun && o->tun && ch->tun_name[0] &&
			    strcmp(o->tun_name, ch->tun_name) == 0) {
				line = ch->set_line[CONFIG_KEY_TUN_NAME];
				snprintf(err, errlen, "%s%s uses tun-name '%s' like %s",
					 where(cfg, line, w, sizeof(w)),
					 chan_ref(ch, cr, sizeof(cr)), ch->tun_name,
					 chan_ref(o, cr2, sizeof(cr2)));
				return -EINVAL;
			}
		}
	}
	for (size_t i = 0; i < cfg->n_channels; i++) {
		const struct config_channel *ch = &cfg->channels[i];

		if (!ch->tun && !ch->l7.n_rules) {
			snprintf(err, errlen,
				 "channel %s carries nothing: set tun = yes (--tun) or l7-allow "
				 "rules (--l7-allow)",
				 ch->name);
			return -EINVAL;
		}
	}
	return 0;
}

int config_check_client(struct config *cfg, char *err, size_t errlen)
{
	char w[CONFIG_ERR_BYTES], kr[32], cr[CHANNEL_NAME_MAX_BYTES + 16];
	struct config_client *cli = &cfg->client;
	const struct config_channel *ch;
	uint32_t line;
	int ret;

	if (!cli->has_url) {
		if (cfg->name)
			snprintf(err, errlen,
				 "%s: no server URL: give it as the argument or as url "
				 "in [client]",
				 cfg->name);
		else
			snprintf(err, errlen, "no server URL: give it as the argument");
		return -EINVAL;
	}
	if (cfg->n_channels == 0)
		return no_channel(cfg, err, errlen);
	if (cli->channel) {
		ch = config_find_channel(cfg, cli->channel);
		if (!ch) {
			line = cli->set_line[CONFIG_KEY_CHANNEL];
			snprintf(err, errlen, "%s%s '%s': no such channel%s%s",
				 where(cfg, line, w, sizeof(w)),
				 keyref(CONFIG_KEY_CHANNEL, line, kr, sizeof(kr)), cli->channel,
				 cfg->name ? " in " : "", cfg->name ? cfg->name : "");
			return -EINVAL;
		}
	} else if (cfg->n_channels > 1) {
		snprintf(err, errlen,
			 "%s: %zu channels; choose one with channel = NAME in [client] or "
			 "--channel NAME",
			 cfg->name ? cfg->name : "config", cfg->n_channels);
		return -EINVAL;
	} else {
		ch = &cfg->channels[0];
	}
	if ((ret = check_channel(cfg, ch, err, errlen)) < 0)
		return ret;
	if ((ret = need_key_file(cfg, ch, err, errlen)) < 0)
		return ret;
	/* The client takes what the server sends: docs/IP-TUNNEL.md "Source addresses". */
	static const enum config_key server_only[] = { CONFIG_KEY_L7_ALLOW,
						       CONFIG_KEY_ALLOWED_IPS };
	for (size_t i = 0; i < sizeof(server_only) / sizeof(server_only[0]); i++) {
		line = ch->set_line[server_only[i]];
		if (!line)
			continue;
		snprintf(err, errlen, "%s%s in %s is a server setting",
			 where(cfg, line, w, sizeof(w)),
			 keyref(server_only[i], line, kr, sizeof(kr)),
			 chan_ref(ch, cr, sizeof(cr)));
		return -EINVAL;
	}
	if (!ch->tun && !cli->n_forwards) {
		snprintf(err, errlen,
			 "channel %s carries nothing: set tun = yes (--tun) or forwards (-L)",
			 ch->name);
		return -EINVAL;
	}
	cli->selected = (size_t)(ch - cfg->channels);
	return 0;
}

const struct config_channel *config_client_channel(const struct config *cfg)
{
	if (cfg->client.selected >= cfg->n_channels)
		return NULL;
	return &cfg->channels[cfg->client.selected];
}

int config_load_key(const struct config *cfg, const struct config_channel *ch,
		    uint8_t key[PSK_BYTES], char *err, size_t errlen)
{
	char msg[CONFIG_ERR_BYTES], w[CONFIG_ERR_BYTES], cr[CHANNEL_NAME_MAX_BYTES + 16];
	int ret;

	if (!ch->key_file)
		return need_key_file(cfg, ch, err, errlen);
	ret = keyfile_load(ch->key_file, key, msg, sizeof(msg));
	if (ret < 0) {
		if (ch->line == CONFIG_LINE_FLAG)
			snprintf(err, errlen, "%s", msg);
		else
			snprintf(err, errlen, "%s%s: %s",
				 where(cfg, ch->set_line[CONFIG_KEY_KEY_FILE], w, sizeof(w)),
				 chan_ref(ch, cr, sizeof(cr)), msg);
	}
	return ret;
}
