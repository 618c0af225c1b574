/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * httun fcgi: the FastCGI application a web server spawns (or nginx connects to). It
 * relays every request to `httun server --fcgi-socket` (docs/FASTCGI.md).
 */
#include "cmd/cmd.h"
#include "cmd/common.h"
#include "core/log.h"
#include "core/relay.h"
#include "fcgi/fcgi_app.h"
#include "transport/relay_client.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* FastCGI 1.0 section 2.2: the listening socket a web server hands its application. */
#define FCGI_LISTENSOCK_FILENO 0

static void fcgi_usage(FILE *f)
{
	fprintf(f,
		"Usage: httun fcgi [OPTIONS]\n"
		"\n"
		"FastCGI application in front of `httun server --fcgi-socket`: it relays each\n"
		"request the web server hands it to the server, which owns the tunnels.\n"
		"Spawned by the web server, it accepts on the socket it gets as stdin\n"
		"(lighttpd bin-path, Apache mod_fcgid). For web servers that do not spawn\n"
		"(nginx), run it as a service with --listen.\n"
		"\n"
		"      --server-socket PATH  the server's relay socket (default %s)\n"
		"      --listen unix:PATH    accept FastCGI here instead of on stdin (nginx)\n"
		"  -v, --verbose             more log output (repeat for debug)\n"
		"  -h, --help                this text\n"
		"\n"
		"Examples (docs/FASTCGI.md has complete web server configurations):\n"
		"  lighttpd: \"bin-path\" => \"/usr/local/bin/httun fcgi\"\n"
		"  nginx:    httun fcgi --listen unix:/run/httun-fcgi/fcgi.sock  (as www-data)\n"
		"            location /httun/ { fastcgi_pass unix:/run/httun-fcgi/fcgi.sock; ...}\n"
		"\n"
		"Logs to stderr (the web server's error log). SIGINT or SIGTERM stop it.\n"
		"Exit status: 0 stopped by a signal, 1 runtime failure, 2 usage error.\n",
		RELAY_DEFAULT_SOCKET);
}

/* `httun fcgi`: the FastCGI source, with the relay client as its handler. */
struct fcgi_cmd {
	struct fcgi_app *app;
	struct relay_client *relay;
};

static void fcgi_stop(void *arg)
{
	struct fcgi_cmd *f = arg;

	/* The source first: its requests are cancelled into the relay client. */
	fcgi_app_free(f->app);
	f->app = NULL;
	relay_client_free(f->relay);
	f->relay = NULL;
}

int cmd_fcgi(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server-socket", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *server_socket = RELAY_DEFAULT_SOCKET, *listen = NULL;
	struct fcgi_cmd f = { 0 };
	int c, verbose = 0, ret;
	pid_t parent = getppid(); /* before anything: the web server that spawned us */
	uv_loop_t loop;

	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			server_socket = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			fcgi_usage(stdout);
			return EXIT_OK;
		default:
			fprintf(stderr, "Try 'httun fcgi --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "httun fcgi: unexpected argument '%s'\nTry 'httun fcgi --help'.\n",
			argv[optind]);
		return EXIT_USAGE;
	}
	if (server_socket[0] != '/' || strlen(server_socket) >= CONFIG_SOCKET_PATH_MAX_BYTES) {
		fprintf(stderr,
			"httun fcgi: --server-socket %s: must be an absolute path of at most %d "
			"bytes\n",
			server_socket, CONFIG_SOCKET_PATH_MAX_BYTES - 1);
		return EXIT_USAGE;
	}
	if (listen && (strncmp(listen, "unix:", 5) != 0 || listen[5] != '/' ||
		       strlen(listen + 5) >= CONFIG_SOCKET_PATH_MAX_BYTES)) {
		fprintf(stderr, "httun fcgi: --listen %s: give unix:/absolute/path\n", listen);
		return EXIT_USAGE;
	}
	cmd_log_setup("httun fcgi", verbose);
	cmd_nofile_raise();
	uv_loop_init(&loop);
	f.relay = relay_client_new(&loop, server_socket);
	f.app = f.relay ? fcgi_app_new(&loop, relay_client_on_request, f.relay) : NULL;
	if (!f.app)
		fatalx("out of memory");
	if (listen) {
		ret = fcgi_app_listen_path(f.app, listen + 5, (gid_t)-1);
		if (ret < 0) {
			fprintf(stderr, "httun fcgi: listen %s: %s\n", listen, strerror(-ret));
			ret = EXIT_RUNTIME;
			goto out;
		}
		log_info("accepting FastCGI on %s", listen);
	} else {
		ret = fcgi_app_listen_fd(f.app, FCGI_LISTENSOCK_FILENO);
		if (ret < 0) {
			fprintf(stderr,
				"httun fcgi: stdin is not a listening socket (%s): a web server "
				"spawns httun fcgi with one; run by hand, give --listen "
				"unix:PATH\nTry 'httun fcgi --help'.\n",
				strerror(-ret));
			ret = EXIT_USAGE;
			goto out;
		}
		/*
		 * Spawned: end with the web server that spawned us, not outlive it. If it died
		 * before the prctl, we were reparented already and no signal comes: leave.
		 */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent) {
			log_warnx("the web server that spawned httun fcgi is gone; exiting");
			ret = EXIT_OK;
			goto out;
		}
	}
	relay_client_start(f.relay);
	fcgi_app_start(f.app);
	cmd_signals_init(&loop, fcgi_stop, &f);
	uv_run(&loop, UV_RUN_DEFAULT);
	ret = EXIT_OK;
out:
	if (f.app || f.relay) {
		fcgi_stop(&f);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	if (uv_loop_close(&loop) != 0)
		log_debug("event loop closed with handles still open");
	return ret;
}
