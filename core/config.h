/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * httun configuration: the data model that both the config file and the command-line
 * flags fill, the INI parser for the file, and the validators both share.
 * docs/CONFIGURATION.md is the user's reference; keep the two in step.
 *
 * File syntax (line-oriented, parsed from a memory buffer so the fuzzer can drive it):
 *   - lines end with "\n" or "\r\n"; a line holds at most CONFIG_MAX_LINE_BYTES bytes
 *     (not counting the line end); NUL and other control bytes except tab are errors;
 *     a UTF-8 byte order mark at the very start is skipped;
 *   - spaces and tabs around a line, a key and a value are trimmed;
 *   - blank lines, and lines whose first non-blank byte is '#' or ';', are comments;
 *   - "[server]", "[client]" and "[channel NAME]" start a section, each at most once;
 *   - "key = value" inside a section. Keys are the long flag names ("tun-address"). The
 *     value is the rest of the line, verbatim after trimming: no quoting, no escapes, no
 *     comments after a value (a blank followed by '#' or ';' in a value is an error).
 *
 * The module never prints; every error comes back as one message in err that names the
 * file and line (or the flag) and quotes the offending text. Callers exit 2 on them.
 */
#ifndef HTTUN_CORE_CONFIG_H
#define HTTUN_CORE_CONFIG_H

#include "core/cidr.h"
#include "core/limits.h"
#include "core/policy.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Name of the channel that command-line flags describe. */
#define CONFIG_DEFAULT_CHANNEL "default"

/* Room for any message config_* writes; shorter buffers get a truncated message. */
#define CONFIG_ERR_BYTES 512

/* Every key; the index into the set_line arrays below. */
enum config_key {
	CONFIG_KEY_LISTEN,
	CONFIG_KEY_PATH,
	CONFIG_KEY_FCGI_SOCKET,
	CONFIG_KEY_USER,
	CONFIG_KEY_URL,
	CONFIG_KEY_CHANNEL,
	CONFIG_KEY_FORWARD,
	CONFIG_KEY_KEY_FILE,
	CONFIG_KEY_TUN,
	CONFIG_KEY_TUN_NAME,
	CONFIG_KEY_TUN_ADDRESS,
	CONFIG_KEY_MTU,
	CONFIG_KEY_ROUTE,
	CONFIG_KEY_L7_ALLOW,
	CONFIG_KEY_FCGI_USER,
	CONFIG_KEY_FCGI_LISTEN,
	CONFIG_KEY_BUSY_POLL,
	CONFIG_KEY_MAX_UNAUTH_PER_SOURCE,
	CONFIG_KEY_ALLOWED_IPS,
	CONFIG_KEY_COUNT,
};

/*
 * Where a key was set: 0 not at all, CONFIG_LINE_FLAG by a command-line flag, otherwise
 * the line of the file (the first line, for repeatable keys).
 */
#define CONFIG_LINE_FLAG UINT32_MAX

/* A server URL: http[s]://HOST[:PORT][/PATH]. */
/* config_url_format()'s longest output, NUL included: "https://[" HOST "]:65535" PATH. */
#define CONFIG_URL_STR_BYTES (CONFIG_HOST_MAX_BYTES + CONFIG_PATH_MAX_BYTES + 17)
struct config_url {
	bool https;
	char host[CONFIG_HOST_MAX_BYTES + 1]; /* name or IP literal; IPv6 without brackets */
	bool host_is_ipv6; /* write it as [host] in a Host header */
	uint16_t port; /* 80 or 443 unless given */
	char path[CONFIG_PATH_MAX_BYTES + 1]; /* starts and ends with '/' */
};

/* One -L/forward: listen on bind (port included), connect the server to host:port. */
struct config_forward {
	struct sockaddr_storage bind;
	char host[CONFIG_HOST_MAX_BYTES + 1]; /* DNS name or IP literal, IPv6 unbracketed */
	uint16_t port;
};

struct config_channel {
	char name[CHANNEL_NAME_MAX_BYTES]; /* [A-Za-z0-9._-], 1..CHANNEL_NAME_MAX_BYTES-1 */
	uint32_t line; /* of the [channel NAME] header; CONFIG_LINE_FLAG from flags */
	char *key_file; /* relative paths in a file are relative to the file's directory */
	bool tun;
	char tun_name[CONFIG_TUN_NAME_MAX_BYTES]; /* "" unless set */
	struct cidr *tun_addresses; /* host bits kept: 198.18.1.1/24 */
	size_t n_tun_addresses;
	uint32_t mtu; /* CONFIG_MTU_DEFAULT unless set */
	struct cidr *routes; /* client only; host bits zero */
	size_t n_routes;
	struct cidr *allowed_ips; /* server only; host bits zero; none: tun-address networks */
	size_t n_allowed_ips;
	struct policy l7; /* server only: l7-allow rules */
	uint32_t set_line[CONFIG_KEY_COUNT];
};

struct config_server {
	uint32_t line; /* of [server]; 0 if there is none */
	struct sockaddr_storage *listens;
	size_t n_listens;
	char path[CONFIG_PATH_MAX_BYTES + 1]; /* "/" unless set; starts and ends with '/' */
	char *fcgi_socket;
	char *fcgi_listen; /* FastCGI served here directly, for a web server to connect to */
	char *user; /* switch to this user once devices and sockets are open */
	char *fcgi_user; /* relays run as this user (or its group) are accepted, besides root */
	/* HTTP connections per source not yet authenticated; 0 no limit */
	uint32_t max_unauth_per_source;
	uint32_t set_line[CONFIG_KEY_COUNT];
};

struct config_client {
	uint32_t line; /* of [client]; 0 if there is none */
	bool has_url;
	struct config_url url;
	char *channel; /* NULL: the only channel there is */
	struct config_forward *forwards;
	size_t n_forwards;
	size_t selected; /* index into channels, set by config_check_client() */
	uint32_t busy_poll_us; /* 0 (off) unless set; at most CONFIG_BUSY_POLL_MAX_US */
	char *user; /* switch to this user once the TUN device and routes are set up */
	uint32_t set_line[CONFIG_KEY_COUNT];
};

struct config {
	char *name; /* the file, for messages; NULL when only flags filled it */
	struct config_server server;
	struct config_client client;
	struct config_channel *channels;
	size_t n_channels;
};

/* An empty configuration (no channels, defaults everywhere); NULL without memory. */
struct config *config_new(void);
void config_free(struct config *cfg);

/*
 * Parse text[0..len) into cfg (from config_new(), not yet filled); name is the file name
 * for messages and the base of relative key-file paths. Checks each line, then each
 * channel on its own (tun settings need tun = yes, mtu against IPv6 addresses). Returns
 * 0, -EINVAL (syntax or value; message in err), -E2BIG (too large, too many) or -ENOMEM.
 * On error cfg holds what was parsed so far; config_free() it.
 */
int config_parse(struct config *cfg, const char *name, const char *text, size_t len, char *err,
		 size_t errlen);

/* Read path (at most CONFIG_MAX_FILE_BYTES) and config_parse() it. */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen);

/*
 * Apply one command-line flag, named by its long name without "--" ("tun-address",
 * "tun" with value "yes"). [server]/[client] keys go to those; channel keys go to the
 * channel CONFIG_DEFAULT_CHANNEL, created on first use. A single-valued flag overrides
 * what a config file set, and is an error when given twice; repeatable flags append.
 * Messages read "--mtu '70000': must be 576..65535" (for the url: "URL '...': ...").
 */
int config_flag(struct config *cfg, const char *key, const char *value, char *err, size_t errlen);

/*
 * Whole-configuration checks for each role, after file and flags are in.
 * Server: at least one channel, at least one listen, fcgi-socket or fcgi-listen, every channel has a
 * key-file (all different) and no route, tun-names differ, a tun channel allows its
 * client some source address (core/allowed_ips.h), every channel carries something
 * (tun or l7-allow rules).
 * Client: a url; the channel named by channel (or the only one) exists, has a key-file
 * and no l7-allow or allowed-ips, and carries something (tun or forwards); sets
 * cfg->client.selected. Also re-runs the per-channel checks.
 */
int config_check_server(struct config *cfg, char *err, size_t errlen);
int config_check_client(struct config *cfg, char *err, size_t errlen);

/*
 * Load a channel's key file with keyfile_load() (permissions checked); messages add the
 * config file line and channel: "h.conf:9: [channel office]: key file ...". key should be
 * sodium_malloc'd. Returns what keyfile_load() returns, or -EINVAL without a key-file.
 */
int config_load_key(const struct config *cfg, const struct config_channel *ch,
		    uint8_t key[PSK_BYTES], char *err, size_t errlen);

/* The client's channel, after config_check_client() succeeded. */
const struct config_channel *config_client_channel(const struct config *cfg);
/* A channel by name, or NULL. */
struct config_channel *config_find_channel(struct config *cfg, const char *name);

/*
 * Validators shared by the file parser and the flags. Each takes a NUL-terminated value,
 * returns 0 or -EINVAL, and on error writes the reason (without the value) to why.
 */
/* yes/no, true/false, on/off, 1/0, any case. */
int config_parse_bool(const char *text, bool *out, char *why, size_t whylen);
/* Decimal digits only, min..max. */
int config_parse_uint(const char *text, unsigned long min, unsigned long max, unsigned long *out,
		      char *why, size_t whylen);
/*
 * CIDR as for tun-address (network true: host bits must be zero, as for route). A bare
 * address is /32 or /128. Refuses unspecified and multicast addresses for tun-address.
 */
int config_parse_cidr(const char *text, bool network, struct cidr *out, char *why, size_t whylen);
/* IPv4:PORT or [IPv6]:PORT, numeric, port 1..65535 (a listen address). */
int config_parse_hostport(const char *text, struct sockaddr_storage *out, char *why, size_t whylen);
/* [BIND:]PORT:HOST:PORT, ssh -L syntax; BIND numeric, default 127.0.0.1. */
int config_parse_forward(const char *text, struct config_forward *out, char *why, size_t whylen);
/* http[s]://HOST[:PORT][/PATH], no user info, query or fragment. */
int config_parse_url(const char *text, struct config_url *out, char *why, size_t whylen);
/* u as http[s]://HOST:PORT/PATH/ ([HOST] for IPv6, the port always), for messages and logs. */
void config_url_format(const struct config_url *u, char out[CONFIG_URL_STR_BYTES]);
/* URL path prefix: starts with '/', normalised to end with '/'; out[CONFIG_PATH_MAX_BYTES+1]. */
int config_parse_path(const char *text, char *out, char *why, size_t whylen);
/* Channel name: 1..CHANNEL_NAME_MAX_BYTES-1 of [A-Za-z0-9._-]. */
int config_parse_channel_name(const char *text, char *why, size_t whylen);

#endif
