/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * httun: the subcommand table, in the shape of wg(8). Each subcommand parses its own
 * options with getopt_long.
 */
#include "cmd/cmd.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} subcommands[] = {
	{ "server", cmd_server, "Serve tunnels over HTTP, standalone or behind a web server" },
	{ "client", cmd_client, "Connect to a server: an IP tunnel (--tun) or port forwards (-L)" },
	{ "fcgi", cmd_fcgi, "FastCGI relay that a web server spawns in front of httun server" },
	{ "genkey", cmd_genkey, "Print a new random channel key (base64) to stdout" },
};

static void show_usage(FILE *f)
{
	fprintf(f, "Usage: httun <command> [<args>]\n\n"
		   "httun carries IP packets or TCP connections inside ordinary HTTP requests,\n"
		   "always encrypted and authenticated with a pre-shared channel key.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-8s %s\n", subcommands[i].name, subcommands[i].help);
	fprintf(f, "\n"
		   "Run 'httun <command> --help' for a command's options.\n"
		   "Options: -h, --help  this text;  -V, --version  print the version.\n"
		   "Environment: HTTUN_LOG=debug|info|warn|error sets verbosity (default info).\n"
		   "Exit status: 0 success, 1 runtime failure, 2 usage or configuration error.\n");
}

void cmd_log_setup(const char *name, int verbose)
{
	enum log_level level = LOG_LEVEL_INFO;
	const char *env = getenv("HTTUN_LOG");

	if (env && *env && log_level_parse(env, &level) < 0)
		fprintf(stderr,
			"httun: warning: HTTUN_LOG=%s is not debug, info, warn or error; "
			"using info\n",
			env);
	while (verbose-- > 0 && level < LOG_LEVEL_DEBUG)
		level++;
	log_init(name, level);
}

int main(int argc, char **argv)
{
	cmd_log_setup("httun", 0);
	if (argc < 2) {
		show_usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		show_usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version") ||
	    !strcmp(argv[1], "version")) {
		printf("httun %s\n", HTTUN_VERSION);
		return EXIT_OK;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "httun: error: libsodium failed to initialise\n");
		return EXIT_RUNTIME;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "httun: '%s' is not a command\n\n", argv[1]);
	show_usage(stderr);
	return EXIT_USAGE;
}
