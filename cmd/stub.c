/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Subcommands whose issue has not landed yet. They say so and exit 2, so that scripts
 * never mistake them for working commands. Each moves to its own file when it lands.
 */
#include "cmd/cmd.h"

#include <stdio.h>
#include <string.h>

static int not_yet(int argc, char **argv, const char *what)
{
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("Usage: httun %s ...\n\n%s\n\nNot implemented in this version of httun.\n",
		       argv[0], what);
		return EXIT_OK;
	}
	fprintf(stderr, "httun %s: not implemented in this version of httun\n", argv[0]);
	return EXIT_USAGE;
}

int cmd_fcgi(int argc, char **argv)
{
	return not_yet(argc, argv, "FastCGI relay spawned by a web server.");
}
