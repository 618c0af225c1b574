/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * What the server and client subcommands share: collecting flags into the config, the
 * TUN device of a channel wired to its tunnel endpoint, and shutdown on signals.
 */
#ifndef HTTUN_CMD_COMMON_H
#define HTTUN_CMD_COMMON_H

#include "core/config.h"
#include "transport/tunnel.h"
#include "tun/tun.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <uv.h>

/* Flags in command-line order; applied to the config after the file is loaded. */
struct cmd_flags {
	const char *config_path;
	int verbose;
	struct {
		const char *key;
		const char *value;
	} v[CMD_MAX_FLAGS];
	unsigned n;
};

/* getopt_long values cmd_parse_flags understands (besides 'c', 'v', 'h'). */
#define CMD_OPT_VALUE 1 /* a config key with an argument, named by the long option */
#define CMD_OPT_BOOL 2 /* a config key set to "yes" */
#define CMD_OPT_FORWARD 'L' /* the config key "forward" */

/*
 * Parse a subcommand's options: -c FILE, -v, -h (prints usage to stdout) and the config
 * keys above, in order, into f; with url_arg, one positional argument becomes the key
 * "url". Returns 0, 1 after --help, or -1 after printing a usage error.
 */
int cmd_parse_flags(int argc, char **argv, const struct option *opts, const char *shortopts,
		    void (*usage)(FILE *f), bool url_arg, struct cmd_flags *f);

/* Record one config flag; returns false (usage error) when there are too many. */
bool cmd_flags_add(struct cmd_flags *f, const char *key, const char *value);
/*
 * Load the config file (if any), apply the flags on top and check the result with check
 * (config_check_server or _client, plus what the subcommand refuses). Prints the error
 * and returns NULL on failure (exit 2).
 */
struct config *cmd_config(const char *cmd, const struct cmd_flags *f,
			  int (*check)(struct config *cfg, char *err, size_t errlen));

/*
 * A tunnel end's event loop, once the config is good: refuse a CPU without the session
 * cipher, then run(arg, loop) sets everything up and runs the loop until a signal stops
 * it. When run fails part way (a status other than EXIT_OK), stop(arg) undoes what was
 * opened and libuv closes it. Returns run's exit status.
 */
int cmd_run(int (*run)(void *arg, uv_loop_t *loop), void (*stop)(void *arg), void *arg);

/*
 * uv_run(loop, UV_RUN_DEFAULT), and with busy_poll_us > 0 (the client's busy-poll) each
 * pass of the loop is followed by up to busy_poll_us of polling without sleeping, which
 * ends as soon as something is ready: an answer that comes back within the window is
 * handled without the process going to sleep and being woken for it. It returns when no
 * handle is left; unlike UV_RUN_DEFAULT it does not return on uv_stop(), which httun
 * never calls.
 */
void cmd_loop_run(uv_loop_t *loop, uint32_t busy_poll_us);

/*
 * The user of --user (user in [server] or [client]) must exist: checked with the config,
 * before any device is made. Returns 0, or -ENOENT with the message in err.
 */
int cmd_user_check(const char *user, char *err, size_t errlen);
/*
 * Once devices, routes and sockets are set up: become user for good (privdrop), or
 * without one, warn when the process keeps root. Returns EXIT_OK, or EXIT_RUNTIME after
 * printing why the drop failed.
 */
int cmd_privdrop(const char *cmd, const char *user);

/*
 * Raise the soft RLIMIT_NOFILE to the hard limit (libuv uses epoll, so a high descriptor
 * number costs nothing) and return the soft limit in force: a long-running subcommand
 * calls it at start, so the limit the admin set (ulimit -n, LimitNOFILE=) is the one used.
 */
unsigned long cmd_nofile_raise(void);

/* A channel's TUN device feeding a tunnel endpoint. */
struct cmd_tun {
	struct tun tun;
	struct tunnel_endpoint *ep;
	bool open;
};

/* The tunnel_io that delivers into t (ep is set later with cmd_tun_start). */
struct tunnel_io cmd_tun_io(struct cmd_tun *t);
/*
 * Open the channel's TUN device (offloads on, addresses, routes when with_routes) and
 * log what was set up. Returns 0, or prints the error and returns a negative errno.
 */
int cmd_tun_open(struct cmd_tun *t, uv_loop_t *loop, const struct config_channel *ch,
		 bool with_routes);
/* Start moving packets from the device into ep. */
void cmd_tun_start(struct cmd_tun *t, struct tunnel_endpoint *ep);
void cmd_tun_close(struct cmd_tun *t);

/*
 * SIGINT and SIGTERM call stop(arg) once, then the signal handles close themselves, so a
 * second signal while stopping ends the process at once. SIGPIPE is ignored.
 */
void cmd_signals_init(uv_loop_t *loop, void (*stop)(void *arg), void *arg);

/*
 * Memory housekeeping: every MEM_TRIM_INTERVAL_MS calls trim(arg), which frees what the
 * last interval did not need and returns the bytes it freed; then free heap pages go
 * back to the kernel (mem_trim). So a process that carried traffic returns to its idle
 * size once idle.
 */
struct cmd_mem {
	uv_timer_t timer;
	size_t (*trim)(void *arg);
	void *arg;
	bool started;
};

void cmd_mem_start(struct cmd_mem *m, uv_loop_t *loop, size_t (*trim)(void *arg), void *arg);
/* Closes the timer; harmless when never started. */
void cmd_mem_stop(struct cmd_mem *m);

#endif
