/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * httun client: one channel's TUN device carried to the server at URL.
 */
#include "cmd/cmd.h"
#include "cmd/common.h"
#include "core/log.h"
#include "core/session.h"
#include "transport/l7_streams.h"
#include "transport/tunnel_client.h"

#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void client_usage(FILE *f)
{
	fprintf(f,
		"Usage: httun client [OPTIONS] URL\n"
		"\n"
		"Connect to an httun server at URL (http://HOST[:PORT]/PATH, PATH being the\n"
		"server's --path) and carry IP packets through a TUN device, local TCP ports\n"
		"(-L), or both. The tunnel is encrypted and authenticated with the channel key,\n"
		"so plain http:// is fine; https:// is not supported in this version. --tun\n"
		"needs root (CAP_NET_ADMIN) to set up the device; --user drops it after;\n"
		"-L alone needs no root.\n"
		"\n"
		"  -c, --config FILE       INI config with [client] and [channel NAME] sections\n"
		"      --channel NAME      which [channel NAME] of the config to use\n"
		"      --key-file FILE     the channel key, the same file as the server's;\n"
		"                          must be mode 600 (no group/other access)\n"
		"      --tun               carry IP packets through a TUN device\n"
		"      --tun-name NAME     device name (default: the first free httun0, httun1..)\n"
		"      --tun-address CIDR  assign this address and bring the device up;\n"
		"                          repeatable, IPv4 and IPv6: 198.18.1.2/24\n"
		"      --mtu N             device MTU (default %d, right for almost\n"
		"                          every network: docs/IP-TUNNEL.md)\n"
		"      --route CIDR        route this network into the tunnel, e.g.\n"
		"                          198.19.0.0/16; repeatable; removed on exit\n"
		"      --busy-poll USEC    after each burst of work, poll for up to USEC\n"
		"                          microseconds without sleeping (0..%d, default\n"
		"                          0: off); cuts latency only where the server is\n"
		"                          a LAN away (round trips under a millisecond);\n"
		"                          costs up to USEC of CPU per wakeup:\n"
		"                          docs/PERFORMANCE.md \"Busy polling\"\n"
		"      --user USER         switch to USER once the device, routes and\n"
		"                          forwards are set up\n"
		"  -L, --forward [BIND:]PORT:HOST:PORT\n"
		"                          listen on BIND:PORT (BIND default 127.0.0.1, [v6] ok);\n"
		"                          the server connects each connection to HOST:PORT if\n"
		"                          its --l7-allow rules allow it; repeatable\n"
		"  -v, --verbose           one log level more (info, the default, to debug);\n"
		"                          or set HTTUN_LOG=debug|info|warn|error\n"
		"  -h, --help              this text\n"
		"\n"
		"Example:\n"
		"  httun client --key-file k --tun --tun-address 198.18.1.2/24 \\\n"
		"      http://server:8080/\n"
		"  httun client --key-file k -L 8022:198.18.0.10:22 http://server:8080/\n"
		"\n"
		"Reconnects by itself when the server restarts or the network fails. Runs in the\n"
		"foreground and logs to stderr; SIGINT or SIGTERM remove the device and routes\n"
		"and stop it. Routes, NAT, systemd units: docs/IP-TUNNEL.md; forwards: docs/L7.md.\n"
		"Exit status: 0 stopped by a signal, 1 runtime failure, 2 usage or config error.\n",
		CONFIG_MTU_DEFAULT, CONFIG_BUSY_POLL_MAX_US);
}

struct client {
	uv_loop_t *loop;
	struct config *cfg;
	struct tunnel_client *tunnel;
	struct cmd_tun tun;
	struct l7_streams *l7;
	struct cmd_mem mem;
};

static void client_stop(void *arg)
{
	struct client *c = arg;

	cmd_mem_stop(&c->mem);
	cmd_tun_close(&c->tun);
	/* Before the tunnel: streams write records into its endpoint. */
	if (c->l7)
		l7_streams_free(c->l7);
	c->l7 = NULL;
	if (c->tunnel)
		tunnel_client_free(c->tunnel);
	c->tunnel = NULL;
}

static int client_parse(int argc, char **argv, struct cmd_flags *f)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "channel", required_argument, NULL, CMD_OPT_VALUE },
		{ "key-file", required_argument, NULL, CMD_OPT_VALUE },
		{ "tun", no_argument, NULL, CMD_OPT_BOOL },
		{ "tun-name", required_argument, NULL, CMD_OPT_VALUE },
		{ "tun-address", required_argument, NULL, CMD_OPT_VALUE },
		{ "mtu", required_argument, NULL, CMD_OPT_VALUE },
		{ "route", required_argument, NULL, CMD_OPT_VALUE },
		{ "forward", required_argument, NULL, CMD_OPT_FORWARD },
		{ "busy-poll", required_argument, NULL, CMD_OPT_VALUE },
		{ "user", required_argument, NULL, CMD_OPT_VALUE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	return cmd_parse_flags(argc, argv, opts, "c:L:vh", client_usage, true, f);
}

static size_t client_trim(void *arg)
{
	struct client *c = arg;

	return tunnel_client_trim(c->tunnel);
}

/* config_check_client, and a --user this system knows. */
static int client_check(struct config *cfg, char *err, size_t errlen)
{
	int ret = config_check_client(cfg, err, errlen);

	return ret < 0 ? ret : cmd_user_check(cfg->client.user, err, errlen);
}

static int client_run(void *arg, uv_loop_t *loop)
{
	struct client *c = arg;
	const struct config_channel *ch = config_client_channel(c->cfg);
	struct tunnel_client_config tcfg = { 0 };
	char err[CONFIG_ERR_BYTES], url[CONFIG_URL_STR_BYTES];
	uint8_t *psk;
	int ret;

	c->loop = loop;
	/* Streams are bounded per channel (L7_MAX_STREAMS); the raise only gives room. */
	cmd_nofile_raise();
	psk = sodium_malloc(PSK_BYTES);
	if (!psk)
		fatalx("out of memory");
	ret = config_load_key(c->cfg, ch, psk, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "httun client: %s\n", err);
		sodium_free(psk);
		return EXIT_USAGE;
	}
	config_url_format(&c->cfg->client.url, url);
	tcfg.url = &c->cfg->client.url;
	tcfg.psk = psk;
	if (ch->tun)
		tcfg.io = cmd_tun_io(&c->tun);
	ret = tunnel_client_new(&c->tunnel, c->loop, &tcfg, err, sizeof(err));
	sodium_free(psk);
	if (ret < 0) {
		fprintf(stderr, "httun client: %s\n", err);
		return ret == -EPROTONOSUPPORT ? EXIT_USAGE : EXIT_RUNTIME;
	}
	if (c->cfg->client.n_forwards) {
		struct l7_streams_config lcfg = {
			.name = url,
			.forwards = c->cfg->client.forwards,
			.n_forwards = c->cfg->client.n_forwards,
		};

		if (l7_streams_new(&c->l7, c->loop, &lcfg, err, sizeof(err)) < 0) {
			fprintf(stderr, "httun client: %s\n", err);
			return EXIT_RUNTIME;
		}
		l7_streams_attach(c->l7, tunnel_client_endpoint(c->tunnel));
	}
	if (ch->tun) {
		if (cmd_tun_open(&c->tun, c->loop, ch, true) < 0)
			return EXIT_RUNTIME;
		cmd_tun_start(&c->tun, tunnel_client_endpoint(c->tunnel));
	}
	/* Nothing after this needs root: reconnects add no routes, the device goes on exit. */
	if ((ret = cmd_privdrop("client", c->cfg->client.user)) != EXIT_OK)
		return ret;
	log_info("tunnel to %s", url);
	cmd_mem_start(&c->mem, c->loop, client_trim, c);
	cmd_signals_init(c->loop, client_stop, c);
	if (c->cfg->client.busy_poll_us)
		log_info("busy polling for %u us after each pass", c->cfg->client.busy_poll_us);
	cmd_loop_run(c->loop, c->cfg->client.busy_poll_us);
	return EXIT_OK;
}

int cmd_client(int argc, char **argv)
{
	struct cmd_flags flags = { 0 };
	struct client c = { 0 };
	int ret;

	ret = client_parse(argc, argv, &flags);
	if (ret)
		return ret > 0 ? EXIT_OK : EXIT_USAGE;
	cmd_log_setup("httun client", flags.verbose);
	c.cfg = cmd_config("client", &flags, client_check);
	if (!c.cfg)
		return EXIT_USAGE;
	ret = cmd_run(client_run, client_stop, &c);
	config_free(c.cfg);
	return ret;
}
