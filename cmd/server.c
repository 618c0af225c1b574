/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * httun server: the channels of the config (or the default channel of the flags), each
 * with its TUN device, answering the tunnel's HTTP requests on --listen addresses.
 */
#include "cmd/cmd.h"
#include "cmd/common.h"
#include "core/allowed_ips.h"
#include "core/log.h"
#include "core/session.h"
#include "core/unixsock.h"
#include "fcgi/fcgi_app.h"
#include "transport/http_server.h"
#include "transport/l7_streams.h"
#include "transport/relay_server.h"
#include "transport/tunnel_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void server_usage(FILE *f)
{
	fprintf(f,
		"Usage: httun server [OPTIONS]\n"
		"\n"
		"Serve httun tunnels (IP and L7) over HTTP/1.1. The flags describe one channel\n"
		"(named \"default\"); a config file (-c) can describe many (docs/CONFIGURATION.md).\n"
		"Needs root (CAP_NET_ADMIN) to set up the TUN device; --user drops it after.\n"
		"\n"
		"  -c, --config FILE       INI config with [server] and [channel NAME] sections\n"
		"      --listen ADDR:PORT  serve HTTP here, numeric address; repeatable:\n"
		"                          0.0.0.0:8080, [::]:80\n"
		"      --path PREFIX       URL path the tunnel lives under (default /)\n"
		"      --key-file FILE     the channel key (httun genkey), the same file as the\n"
		"                          client's; must be mode 600 (no group/other access)\n"
		"      --tun               carry IP packets through a TUN device\n"
		"      --tun-name NAME     device name (default: the first free httun0, httun1..)\n"
		"      --tun-address CIDR  assign this address and bring the device up;\n"
		"                          repeatable, IPv4 and IPv6: 198.18.1.1/24\n"
		"      --mtu N             device MTU (default %d, right for almost\n"
		"                          every network: docs/IP-TUNNEL.md)\n"
		"      --allowed-ips CIDR  source addresses the client may use; repeatable;\n"
		"                          default: the --tun-address networks (without the\n"
		"                          server's own address); other packets are dropped\n"
		"      --user USER         switch to USER once devices and sockets are open;\n"
		"                          without it the server stays root (and warns)\n"
		"      --fcgi-listen PATH  serve behind a web server that connects to FastCGI\n"
		"                          on this Unix socket (lighttpd \"socket\", nginx\n"
		"                          fastcgi_pass unix:PATH): /run/httun/web.sock;\n"
		"                          no `httun fcgi` needed (docs/FASTCGI.md)\n"
		"      --fcgi-socket PATH  serve behind a web server that spawns `httun fcgi`:\n"
		"                          the Unix socket where those relays connect\n"
		"                          (/run/httun/fcgi.sock)\n"
		"      --fcgi-user USER    the web server's user may connect to both sockets\n"
		"                          (to --fcgi-socket: its uid only); root always may\n"
		"                          (Debian's web servers: www-data)\n"
		"      --l7-allow RULE     let clients' -L forwards connect to targets in RULE,\n"
		"                          CIDR[:PORT[-PORT]] (198.18.0.0/15:22, [fd00::/8]:80-443);\n"
		"                          repeatable; without any rule every L7 stream is refused;\n"
		"                          loopback, link-local, multicast and this host's own\n"
		"                          addresses only when a rule names them\n"
		"      --max-unauth-per-source N\n"
		"                          HTTP connections one address (IPv6: one /64) may hold\n"
		"                          before any request on them is authenticated (default\n"
		"                          %d, 0 no limit); at the limit its own quietest one\n"
		"                          is closed. Raise it behind a reverse proxy with many\n"
		"                          clients (docs/TRANSPORT.md)\n"
		"  -v, --verbose           one log level more (info, the default, to debug);\n"
		"                          or set HTTUN_LOG=debug|info|warn|error\n"
		"  -h, --help              this text\n"
		"\n"
		"Example:\n"
		"  httun genkey > k && chmod 600 k     # copy k to the client too\n"
		"  httun server --listen 0.0.0.0:8080 --key-file k \\\n"
		"      --tun --tun-address 198.18.1.1/24\n"
		"\n"
		"Forwarding and NAT beyond the tunnel are the admin's (sysctl, nftables):\n"
		"docs/IP-TUNNEL.md shows how. Runs in the foreground and logs to stderr;\n"
		"SIGINT or SIGTERM remove the devices and stop it.\n"
		"Exit status: 0 stopped by a signal, 1 runtime failure, 2 usage or config error.\n",
		CONFIG_MTU_DEFAULT, HTTP_MAX_UNVOUCHED_PER_SOURCE);
}

struct server {
	uv_loop_t *loop;
	struct config *cfg;
	struct http_server *http;
	struct relay_server *relay;
	struct fcgi_app *fcgi;
	struct tunnel_server *tunnel;
	struct cmd_tun tuns[CONFIG_MAX_CHANNELS];
	size_t ntuns;
	struct l7_streams *l7[CONFIG_MAX_CHANNELS];
	size_t nl7;
	struct allowed_ips sources[CONFIG_MAX_CHANNELS]; /* each tun channel's, for its endpoint */
	struct l7_budget l7_budget; /* all channels' streams together */
	struct cmd_mem mem;
};

static void server_stop(void *arg)
{
	struct server *s = arg;

	cmd_mem_stop(&s->mem);
	if (s->http)
		http_server_free(s->http);
	s->http = NULL;
	if (s->relay)
		relay_server_free(s->relay);
	s->relay = NULL;
	/* Parked requests from the web server are cancelled into the tunnel: before it goes. */
	if (s->fcgi)
		fcgi_app_free(s->fcgi);
	s->fcgi = NULL;
	for (size_t i = 0; i < s->ntuns; i++)
		cmd_tun_close(&s->tuns[i]);
	/* Before the tunnel: streams write records into its endpoints. */
	for (size_t i = 0; i < s->nl7; i++)
		l7_streams_free(s->l7[i]);
	s->nl7 = 0;
	if (s->tunnel)
		tunnel_server_free(s->tunnel);
	s->tunnel = NULL;
}

static int server_parse(int argc, char **argv, struct cmd_flags *f)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, CMD_OPT_VALUE },
		{ "path", required_argument, NULL, CMD_OPT_VALUE },
		{ "fcgi-socket", required_argument, NULL, CMD_OPT_VALUE },
		{ "fcgi-listen", required_argument, NULL, CMD_OPT_VALUE },
		{ "fcgi-user", required_argument, NULL, CMD_OPT_VALUE },
		{ "key-file", required_argument, NULL, CMD_OPT_VALUE },
		{ "tun", no_argument, NULL, CMD_OPT_BOOL },
		{ "tun-name", required_argument, NULL, CMD_OPT_VALUE },
		{ "tun-address", required_argument, NULL, CMD_OPT_VALUE },
		{ "mtu", required_argument, NULL, CMD_OPT_VALUE },
		{ "allowed-ips", required_argument, NULL, CMD_OPT_VALUE },
		{ "l7-allow", required_argument, NULL, CMD_OPT_VALUE },
		{ "user", required_argument, NULL, CMD_OPT_VALUE },
		{ "max-unauth-per-source", required_argument, NULL, CMD_OPT_VALUE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	return cmd_parse_flags(argc, argv, opts, "c:vh", server_usage, false, f);
}

/* config_check_server, and a --user this system knows. */
static int server_check(struct config *cfg, char *err, size_t errlen)
{
	int ret = config_check_server(cfg, err, errlen);

	return ret < 0 ? ret : cmd_user_check(cfg->server.user, err, errlen);
}

static const char *sockaddr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
		snprintf(buf, len, "%s:%u", host, port);
	}
	return buf;
}

/*
 * The server's own interface addresses: the L7 policy keeps them denied unless a rule
 * names them (docs/CONFIGURATION.md "L7 policy"). Read once, after every channel's TUN
 * device has its addresses (read earlier, a TUN address would be unprotected). When a
 * channel has L7 rules, not knowing them is fatal: the policy fails closed.
 */
static void server_set_own(struct config *cfg)
{
	struct sockaddr_storage *own = NULL;
	struct ifaddrs *ifa, *i;
	bool l7 = false;
	size_t n = 0;

	for (size_t c = 0; c < cfg->n_channels; c++)
		l7 = l7 || cfg->channels[c].l7.n_rules;
	if (!l7)
		return;
	if (getifaddrs(&ifa) < 0)
		fatal("getifaddrs: cannot read this host's own addresses, which the L7 policy "
		      "must protect");
	own = calloc(POLICY_MAX_OWN_ADDRESSES, sizeof(*own));
	if (!own)
		fatalx("out of memory");
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr ||
		    (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
			continue;
		if (n == POLICY_MAX_OWN_ADDRESSES)
			fatalx("this host has more than %d interface addresses: the L7 policy "
			       "cannot protect them all (POLICY_MAX_OWN_ADDRESSES)",
			       POLICY_MAX_OWN_ADDRESSES);
		memcpy(&own[n++], i->ifa_addr,
		       i->ifa_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
							 : sizeof(struct sockaddr_in6));
	}
	freeifaddrs(ifa);
	for (size_t c = 0; c < cfg->n_channels; c++) {
		if (cfg->channels[c].l7.n_rules && policy_set_own(&cfg->channels[c].l7, own, n) < 0)
			fatalx("out of memory");
	}
	log_debug("L7 policy: %zu own addresses protected", n);
	free(own);
}

/* The source addresses a tun channel's client may use (cryptokey routing), logged. */
static const struct allowed_ips *server_sources(struct allowed_ips *a,
						const struct config_channel *ch)
{
	char buf[CIDR_STR_BYTES];

	allowed_ips_init(a, ch->allowed_ips, ch->n_allowed_ips, ch->tun_addresses,
			 ch->n_tun_addresses);
	for (size_t i = 0; i < a->n_allow; i++) {
		struct cidr net = a->allow[i];

		cidr_mask(&net);
		log_info("channel %s: client sources %s%s", ch->name,
			 cidr_format(&net, buf, sizeof(buf)),
			 ch->n_allowed_ips ? "" : " (tun-address network)");
	}
	return a;
}

/*
 * The streams of all channels together get the descriptors FD_RESERVE leaves, at most
 * L7_MAX_STREAMS_TOTAL: several channels' clients cannot take the ones the HTTP server
 * needs to accept. Said at start when the limit is what bounds them.
 */
static void server_l7_budget(struct server *s, unsigned long nofile)
{
	unsigned long room = nofile > FD_RESERVE ? nofile - FD_RESERVE : 0;
	bool l7 = false;

	s->l7_budget.max = room < L7_MAX_STREAMS_TOTAL ? (unsigned)room : L7_MAX_STREAMS_TOTAL;
	for (size_t c = 0; c < s->cfg->n_channels; c++)
		l7 = l7 || s->cfg->channels[c].l7.n_rules;
	if (l7 && s->l7_budget.max < L7_MAX_STREAMS_TOTAL)
		log_warnx("file descriptor limit %lu: at most %u L7 streams on all channels "
			  "together; %d need a limit of %d (ulimit -n, LimitNOFILE=)",
			  nofile, s->l7_budget.max, L7_MAX_STREAMS_TOTAL,
			  L7_MAX_STREAMS_TOTAL + FD_RESERVE);
}

/* The --fcgi-user USER: its uid and primary gid, or -1 each without one. */
static int server_fcgi_user(const struct server *s, uid_t *uid, gid_t *gid)
{
	const char *user = s->cfg->server.fcgi_user;
	struct passwd *pw;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (!user)
		return EXIT_OK;
	errno = 0;
	pw = getpwnam(user);
	if (!pw) {
		fprintf(stderr, "httun server: fcgi-user %s: %s\n", user,
			errno ? strerror(errno) : "no such user");
		return EXIT_USAGE;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return EXIT_OK;
}

/* The relay socket for `httun fcgi` (docs/FASTCGI.md), opened before dropping root. */
static int server_relay(struct server *s, uid_t uid, gid_t gid)
{
	struct relay_server_config rcfg = { .allow_uid = uid, .sock_gid = gid };
	const char *path = s->cfg->server.fcgi_socket;
	const char *user = s->cfg->server.fcgi_user;
	int ret;

	s->relay = relay_server_new(s->loop, &rcfg, tunnel_server_on_request, s->tunnel);
	if (!s->relay)
		fatalx("out of memory");
	ret = relay_server_listen(s->relay, path);
	if (ret < 0) {
		fprintf(stderr, "httun server: fcgi-socket %s: %s\n", path, strerror(-ret));
		return EXIT_RUNTIME;
	}
	log_info("accepting httun fcgi relays on %s from root%s%s; tunnel path %s", path,
		 user ? " and " : "", user ? user : "", s->cfg->server.path);
	if (!user)
		log_info("only relays running as root may connect; a web server's user "
			 "(Debian: www-data) needs --fcgi-user");
	return EXIT_OK;
}

/*
 * FastCGI from the web server itself (docs/FASTCGI.md "Straight to the server"), opened
 * before dropping root. Who may connect is the socket file's business (0660, group of
 * --fcgi-user): a FastCGI connection can do no more than an HTTP one to --listen.
 */
static int server_fcgi(struct server *s, gid_t gid)
{
	const char *path = s->cfg->server.fcgi_listen;
	const char *user = s->cfg->server.fcgi_user;
	int ret;

	s->fcgi = fcgi_app_new(s->loop, tunnel_server_on_request, s->tunnel);
	if (!s->fcgi)
		fatalx("out of memory");
	ret = unixsock_make_dir(path, gid);
	if (ret == 1)
		log_info("fcgi-listen: created the directory of %s (mode 0750)", path);
	if (ret >= 0)
		ret = fcgi_app_listen_path(s->fcgi, path, gid);
	if (ret < 0) {
		fprintf(stderr, "httun server: fcgi-listen %s: %s\n", path, strerror(-ret));
		return EXIT_RUNTIME;
	}
	fcgi_app_start(s->fcgi);
	log_info("serving FastCGI on %s to root%s%s; tunnel path %s", path, user ? " and " : "",
		 user ? user : "", s->cfg->server.path);
	if (!user)
		log_info("only root may connect to %s; a web server's user (Debian: www-data) "
			 "needs --fcgi-user",
			 path);
	return EXIT_OK;
}

static size_t server_trim(void *arg)
{
	struct server *s = arg;

	return tunnel_server_trim(s->tunnel) + (s->http ? http_server_trim(s->http) : 0);
}

static int server_run(void *arg, uv_loop_t *loop)
{
	struct server *s = arg;
	struct tunnel_server_config tcfg = { .path = s->cfg->server.path };
	struct http_server_config hcfg;
	char err[CONFIG_ERR_BYTES], addr[64];
	uid_t fuid;
	gid_t fgid;
	uint8_t *psk;
	int ret;

	s->loop = loop;
	server_l7_budget(s, cmd_nofile_raise());
	psk = sodium_malloc(PSK_BYTES);
	if (!psk)
		fatalx("out of memory");
	s->tunnel = tunnel_server_new(s->loop, &tcfg);
	if (!s->tunnel)
		fatalx("out of memory");
	for (size_t i = 0; i < s->cfg->n_channels; i++) {
		const struct config_channel *ch = &s->cfg->channels[i];
		struct l7_streams_config lcfg = {
			.name = ch->name, .server = true, .policy = &ch->l7, .budget = &s->l7_budget
		};
		struct cmd_tun *t = &s->tuns[s->ntuns];
		struct tunnel_channel *tch;
		struct tunnel_io io = { 0 };

		ret = config_load_key(s->cfg, ch, psk, err, sizeof(err));
		if (ret < 0) {
			fprintf(stderr, "httun server: %s\n", err);
			ret = EXIT_USAGE;
			goto err_psk;
		}
		if (ch->tun) {
			if (cmd_tun_open(t, s->loop, ch, false) < 0) {
				ret = EXIT_RUNTIME;
				goto err_psk;
			}
			s->ntuns++;
			io = cmd_tun_io(t);
			io.sources = server_sources(&s->sources[i], ch);
		}
		tch = tunnel_server_add_channel(s->tunnel, ch->name, psk, &io);
		if (!tch)
			fatalx("out of memory");
		if (ch->tun)
			cmd_tun_start(t, tunnel_channel_endpoint(tch));
		/* Every channel answers L7_OPEN; without rules the answer is a reset (denied). */
		if (l7_streams_new(&s->l7[s->nl7], s->loop, &lcfg, err, sizeof(err)) < 0)
			fatalx("channel %s: %s", ch->name, err);
		l7_streams_attach(s->l7[s->nl7++], tunnel_channel_endpoint(tch));
		for (size_t r = 0; r < ch->l7.n_rules; r++) {
			char rule[POLICY_RULE_STR_BYTES];

			policy_rule_format(&ch->l7.rules[r], rule, sizeof(rule));
			log_info("channel %s: l7-allow %s", ch->name, rule);
		}
	}
	sodium_free(psk);
	/* After the loop: every TUN device has its addresses now; no stream runs yet. */
	server_set_own(s->cfg);

	http_server_config_default(&hcfg);
	hcfg.max_unvouched_per_source = s->cfg->server.max_unauth_per_source;
	s->http = http_server_new(s->loop, &hcfg, tunnel_server_on_request, s->tunnel);
	if (!s->http)
		fatalx("out of memory");
	for (size_t i = 0; i < s->cfg->server.n_listens; i++) {
		const struct sockaddr_storage *ss = &s->cfg->server.listens[i];

		ret = http_server_listen(s->http, (const struct sockaddr *)ss);
		if (ret < 0) {
			fprintf(stderr, "httun server: listen %s: %s\n",
				sockaddr_str(ss, addr, sizeof(addr)), uv_strerror(ret));
			return EXIT_RUNTIME;
		}
		log_info("listening on http://%s%s", sockaddr_str(ss, addr, sizeof(addr)),
			 s->cfg->server.path);
	}
	if ((ret = server_fcgi_user(s, &fuid, &fgid)) != EXIT_OK)
		return ret;
	if (s->cfg->server.fcgi_socket && (ret = server_relay(s, fuid, fgid)) != EXIT_OK)
		return ret;
	if (s->cfg->server.fcgi_listen && (ret = server_fcgi(s, fgid)) != EXIT_OK)
		return ret;
	if ((ret = cmd_privdrop("server", s->cfg->server.user)) != EXIT_OK)
		return ret;
	cmd_mem_start(&s->mem, s->loop, server_trim, s);
	cmd_signals_init(s->loop, server_stop, s);
	uv_run(s->loop, UV_RUN_DEFAULT);
	return EXIT_OK;

err_psk:
	sodium_free(psk);
	return ret;
}

int cmd_server(int argc, char **argv)
{
	struct cmd_flags flags = { 0 };
	struct server s = { 0 };
	int ret;

	ret = server_parse(argc, argv, &flags);
	if (ret)
		return ret > 0 ? EXIT_OK : EXIT_USAGE;
	cmd_log_setup("httun server", flags.verbose);
	s.cfg = cmd_config("server", &flags, server_check);
	if (!s.cfg)
		return EXIT_USAGE;
	ret = cmd_run(server_run, server_stop, &s);
	config_free(s.cfg);
	return ret;
}
