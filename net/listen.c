/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "net/listen.h"
#include "core/log.h"
#include "core/unixsock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int net_listen_unix(uv_pipe_t *pipe, const char *what, const char *path, gid_t gid,
		    uv_connection_cb cb)
{
	mode_t old;
	int err;

	if (path[0] != '/')
		return -EINVAL;
	err = unixsock_dir_check(path);
	if (err == -EPERM)
		log_warnx("%s %s: its directory must be owned by root or by this user and not "
			  "writable by group or others; refusing to create the socket there",
			  what, path);
	if (err < 0)
		return err;
	err = unixsock_clear_stale(path);
	if (err < 0)
		return err;
	old = umask(0117);
	err = uv_pipe_bind(pipe, path);
	umask(old);
	if (err < 0)
		return err;
	if (gid != (gid_t)-1 && fchownat(AT_FDCWD, path, (uid_t)-1, gid, AT_SYMLINK_NOFOLLOW) < 0)
		err = -errno;
	else
		err = uv_listen((uv_stream_t *)pipe, SOMAXCONN, cb);
	if (err < 0)
		unlink(path); /* the file this call made: nothing is left behind on failure */
	return err;
}
