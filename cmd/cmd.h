/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#ifndef HTTUN_CMD_CMD_H
#define HTTUN_CMD_CMD_H

/* Exit codes, the contract scripts rely on (README "Exit status"). */
#define EXIT_OK 0
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

/* Each subcommand gets argv with argv[0] = its own name. */
int cmd_genkey(int argc, char **argv);
int cmd_server(int argc, char **argv);
int cmd_client(int argc, char **argv);
int cmd_fcgi(int argc, char **argv);

/* Shared by subcommands: HTTUN_LOG, then each -v raises the level by one. */
void cmd_log_setup(const char *name, int verbose);

#endif
