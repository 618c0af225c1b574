/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "cmd/common.h"
#include "cmd/cmd.h"
#include "cmd/privdrop.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/session.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

bool cmd_flags_add(struct cmd_flags *f, const char *key, const char *value)
{
	if (f->n >= sizeof(f->v) / sizeof(f->v[0]))
		return false;
	f->v[f->n].key = key;
	f->v[f->n].value = value;
	f->n++;
	return true;
}

int cmd_parse_flags(int argc, char **argv, const struct option *opts, const char *shortopts,
		    void (*usage)(FILE *f), bool url_arg, struct cmd_flags *f)
{
	const char *cmd = argv[0];
	const char *key, *value;
	int c, idx = 0;

	while ((c = getopt_long(argc, argv, shortopts, opts, &idx)) != -1) {
		switch (c) {
		case 'c':
			f->config_path = optarg;
			continue;
		case 'v':
			f->verbose++;
			continue;
		case 'h':
			usage(stdout);
			return 1;
		case CMD_OPT_FORWARD:
			key = "forward";
			value = optarg;
			break;
		case CMD_OPT_VALUE:
		case CMD_OPT_BOOL:
			key = opts[idx].name;
			value = c == CMD_OPT_BOOL ? "yes" : optarg;
			break;
		default:
			fprintf(stderr, "Try 'httun %s --help'.\n", cmd);
			return -1;
		}
		if (!cmd_flags_add(f, key, value))
			goto too_many;
	}
	if (url_arg && optind < argc && !cmd_flags_add(f, "url", argv[optind++]))
		goto too_many;
	if (optind != argc) {
		fprintf(stderr, "httun %s: unexpected argument '%s'\nTry 'httun %s --help'.\n", cmd,
			argv[optind], cmd);
		return -1;
	}
	return 0;
too_many:
	fprintf(stderr, "httun %s: too many options (at most %d)\n", cmd, CMD_MAX_FLAGS);
	return -1;
}

struct config *cmd_config(const char *cmd, const struct cmd_flags *f,
			  int (*check)(struct config *cfg, char *err, size_t errlen))
{
	char err[CONFIG_ERR_BYTES];
	struct config *cfg = config_new();

	if (!cfg) {
		fprintf(stderr, "httun %s: out of memory\n", cmd);
		return NULL;
	}
	if (f->config_path && config_load(cfg, f->config_path, err, sizeof(err)) < 0)
		goto fail;
	for (unsigned i = 0; i < f->n; i++) {
		if (config_flag(cfg, f->v[i].key, f->v[i].value, err, sizeof(err)) < 0)
			goto fail;
	}
	if (check(cfg, err, sizeof(err)) < 0)
		goto fail;
	return cfg;
fail:
	fprintf(stderr, "httun %s: %s\n", cmd, err);
	config_free(cfg);
	return NULL;
}

void cmd_loop_run(uv_loop_t *loop, uint32_t busy_poll_us)
{
	/* libuv's epoll descriptor polls readable while any watcher in it is ready. */
	struct pollfd pfd = { .fd = uv_backend_fd(loop), .events = POLLIN };
	uint64_t window = (uint64_t)busy_poll_us * 1000, seen = 0;

	if (busy_poll_us == 0) {
		uv_run(loop, UV_RUN_DEFAULT);
		return;
	}
	/*
	 * Sleeping stays libuv's own (UV_RUN_ONCE). The NOWAIT pass after it adds the
	 * watchers the last pass started to the epoll set, so the spin sees their events,
	 * and runs what is already due. What only libuv knows about (a pending callback, a
	 * timer due, a handle closing: uv_backend_timeout() 0) ends the spin at once, and a
	 * timer due within the window ends it then. The window counts from when the spin
	 * last saw work, so a burst and its handling share one window.
	 */
	while (uv_run(loop, UV_RUN_ONCE) && uv_run(loop, UV_RUN_NOWAIT)) {
		uint64_t now = uv_hrtime(), end = (seen ? seen : now) + window;
		int timeout = uv_backend_timeout(loop), ready = 0;

		if (timeout >= 0 && now + (uint64_t)timeout * 1000000 < end)
			end = now + (uint64_t)timeout * 1000000;
		while (uv_hrtime() < end && (ready = poll(&pfd, 1, 0)) == 0)
			;
		seen = ready > 0 ? uv_hrtime() : 0;
	}
}

int cmd_run(int (*run)(void *arg, uv_loop_t *loop), void (*stop)(void *arg), void *arg)
{
	uv_loop_t loop;
	int ret;

	if (session_crypto_init() < 0)
		fatalx("this CPU has no AES-NI/PCLMUL: httun's AES-256-GCM needs them");
	uv_loop_init(&loop);
	ret = run(arg, &loop);
	if (ret != EXIT_OK) {
		/* Setup failed part way: undo what was opened, let libuv close it. */
		stop(arg);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	if (uv_loop_close(&loop) != 0)
		log_debug("event loop closed with handles still open");
	return ret;
}

unsigned long cmd_nofile_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		fatal("getrlimit(RLIMIT_NOFILE)");
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t soft = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			log_warn("raising the file descriptor limit from %llu to %llu",
				 (unsigned long long)soft, (unsigned long long)rl.rlim_max);
			rl.rlim_cur = soft;
		}
	}
	log_debug("file descriptor limit: %llu", (unsigned long long)rl.rlim_cur);
	return rl.rlim_cur > ULONG_MAX ? ULONG_MAX : (unsigned long)rl.rlim_cur;
}

int cmd_user_check(const char *user, char *err, size_t errlen)
{
	if (!user)
		return 0;
	errno = 0;
	if (getpwnam(user))
		return 0;
	snprintf(err, errlen, "user %s: %s", user,
		 errno ? strerror(errno) : "no such user on this system");
	return -ENOENT;
}

int cmd_privdrop(const char *cmd, const char *user)
{
	char err[CONFIG_ERR_BYTES];

	if (!user) {
		/* Whoever takes over the process after setup would have the whole host. */
		if (geteuid() == 0)
			log_warnx("running as root: nothing here needs it once the devices are "
				  "set up; give --user USER (user = in [%s]) to drop it",
				  cmd);
		return EXIT_OK;
	}
	if (privdrop(user, err, sizeof(err)) < 0) {
		fprintf(stderr, "httun %s: %s\n", cmd, err);
		return EXIT_RUNTIME;
	}
	log_info("running as user %s", user);
	return EXIT_OK;
}

static void tun_deliver(void *ctx, uint8_t *pkt, size_t len)
{
	struct cmd_tun *t = ctx;

	tun_write(&t->tun, pkt, len);
}

static void tun_resume(void *ctx)
{
	struct cmd_tun *t = ctx;

	if (t->open)
		tun_read_start(&t->tun, tunnel_endpoint_get_buf, tunnel_endpoint_packet, t->ep);
}

static void tun_read_now(void *ctx, unsigned max_packets)
{
	struct cmd_tun *t = ctx;

	if (t->open)
		tun_read_pending(&t->tun, max_packets);
}

struct tunnel_io cmd_tun_io(struct cmd_tun *t)
{
	struct tunnel_io io = {
		.deliver = tun_deliver,
		.resume = tun_resume,
		.read_now = tun_read_now,
		.ctx = t,
		.read_bytes = TUN_VNET_HDR_BYTES + TUN_MAX_GSO_PACKET_BYTES,
	};
	return io;
}

int cmd_tun_open(struct cmd_tun *t, uv_loop_t *loop, const struct config_channel *ch,
		 bool with_routes)
{
	struct tun_config tc = { 0 };
	char err[256], buf[CIDR_STR_BYTES];
	int ret;

	if (ch->n_tun_addresses > TUN_MAX_ADDRESSES || ch->n_routes > TUN_MAX_ROUTES) {
		fprintf(stderr, "httun: channel %s: at most %d addresses and %d routes\n", ch->name,
			TUN_MAX_ADDRESSES, TUN_MAX_ROUTES);
		return -E2BIG;
	}
	tc.name = ch->tun_name[0] ? ch->tun_name : NULL;
	tc.mtu = ch->mtu;
	tc.addrs = ch->tun_addresses;
	tc.n_addrs = ch->n_tun_addresses;
	tc.routes = ch->routes;
	tc.n_routes = with_routes ? ch->n_routes : 0;
	/* Offloads carry 64 KiB TCP segments whole (docs/TUN.md, PROTOCOL.md IP_GSO). */
	tc.offload = true;
	ret = tun_open(&t->tun, loop, &tc, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "httun: channel %s: %s\n", ch->name, err);
		return ret;
	}
	t->open = true;
	log_info("channel %s: device %s, mtu %u", ch->name, t->tun.name, t->tun.mtu);
	for (size_t i = 0; i < tc.n_addrs; i++)
		log_info("channel %s: address %s", ch->name,
			 cidr_format(&tc.addrs[i], buf, sizeof(buf)));
	for (size_t i = 0; i < tc.n_routes; i++)
		log_info("channel %s: route %s", ch->name,
			 cidr_format(&tc.routes[i], buf, sizeof(buf)));
	return 0;
}

void cmd_tun_start(struct cmd_tun *t, struct tunnel_endpoint *ep)
{
	t->ep = ep;
	tun_read_start(&t->tun, tunnel_endpoint_get_buf, tunnel_endpoint_packet, ep);
}

void cmd_tun_close(struct cmd_tun *t)
{
	if (!t->open)
		return;
	t->open = false;
	tun_close(&t->tun, NULL);
}

struct signals {
	uv_signal_t sig[2];
	void (*stop)(void *arg);
	void *arg;
};

static struct signals signals;

static void signal_cb(uv_signal_t *h, int signum)
{
	(void)h;
	log_info("signal %d: shutting down", signum);
	signals.stop(signals.arg);
	/* Closing restores the default action: a second signal ends the process at once. */
	for (int i = 0; i < 2; i++)
		uv_close((uv_handle_t *)&signals.sig[i], NULL);
}

void cmd_signals_init(uv_loop_t *loop, void (*stop)(void *arg), void *arg)
{
	static const int nums[2] = { SIGINT, SIGTERM };

	signals.stop = stop;
	signals.arg = arg;
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < 2; i++) {
		uv_signal_init(loop, &signals.sig[i]);
		uv_signal_start(&signals.sig[i], signal_cb, nums[i]);
	}
}

static void mem_timer_cb(uv_timer_t *t)
{
	struct cmd_mem *m = t->data;
	size_t freed = m->trim(m->arg);
	size_t heap_free = mem_trim(freed > 0);

	if (freed)
		log_debug("memory: %zu KiB of idle buffers freed, %zu KiB free in the heap",
			  freed / 1024, heap_free / 1024);
}

void cmd_mem_start(struct cmd_mem *m, uv_loop_t *loop, size_t (*trim)(void *arg), void *arg)
{
	m->trim = trim;
	m->arg = arg;
	uv_timer_init(loop, &m->timer);
	m->timer.data = m;
	uv_timer_start(&m->timer, mem_timer_cb, MEM_TRIM_INTERVAL_MS, MEM_TRIM_INTERVAL_MS);
	m->started = true;
}

void cmd_mem_stop(struct cmd_mem *m)
{
	if (m->started)
		uv_close((uv_handle_t *)&m->timer, NULL);
	m->started = false;
}
