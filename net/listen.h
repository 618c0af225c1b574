/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Listening on a Unix socket file that httun creates itself (the relay socket of `httun
 * server`, the FastCGI socket of `httun fcgi --listen` and `httun server --fcgi-listen`):
 * the same checks and the same way of making the file for each.
 */
#ifndef HTTUN_NET_LISTEN_H
#define HTTUN_NET_LISTEN_H

#include <sys/types.h>
#include <uv.h>

/*
 * Binds pipe (uv_pipe_init'ed by the caller, who closes it whatever this returns) to
 * path, absolute, and listens on it with cb:
 * - the directory that holds path must be owned by root or by this user and writable by
 *   neither group nor others (-EPERM otherwise, and a warning naming what, e.g. "relay
 *   socket"), since whoever may write it could put a symlink in the socket's place;
 * - a socket left there by a killed process is replaced; a live one (-EADDRINUSE) or
 *   anything that is not a socket (-EEXIST) is not ours;
 * - the file is created mode 0660 by the umask at bind, never by a chmod of the path,
 *   and gets group gid unless (gid_t)-1, through fchownat without following a symlink.
 * Returns 0 (the caller removes the file when it stops listening) or a negative errno
 * (then no file of this call is left).
 */
int net_listen_unix(uv_pipe_t *pipe, const char *what, const char *path, gid_t gid,
		    uv_connection_cb cb);

#endif
