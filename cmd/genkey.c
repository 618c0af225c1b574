/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "cmd/cmd.h"
#include "core/keyfile.h"
#include "core/limits.h"

#include <getopt.h>
#include <stdio.h>
#include <sodium.h>

static void genkey_usage(FILE *f)
{
	fprintf(f,
		"Usage: httun genkey\n\n"
		"Print a new channel key: %d random bytes from the system's CSPRNG, standard\n"
		"base64, one line, to stdout. Keep it private; both ends of a channel use the\n"
		"same key. Typical use:\n\n"
		"    umask 077; httun genkey > /etc/httun/key\n",
		PSK_BYTES);
}

int cmd_genkey(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned char key[PSK_BYTES];
	char line[KEY_BASE64_BYTES];
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			genkey_usage(stdout);
			return EXIT_OK;
		}
		genkey_usage(stderr);
		return EXIT_USAGE;
	}
	if (optind != argc) {
		fprintf(stderr, "httun genkey: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	randombytes_buf(key, sizeof(key));
	keyfile_encode(key, line);
	sodium_memzero(key, sizeof(key));
	if (printf("%s\n", line) < 0 || fflush(stdout) != 0) {
		sodium_memzero(line, sizeof(line));
		perror("httun genkey: stdout");
		return EXIT_RUNTIME;
	}
	sodium_memzero(line, sizeof(line));
	return EXIT_OK;
}
