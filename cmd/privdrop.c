/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "cmd/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int privdrop(const char *user, char *err, size_t errlen)
{
	struct passwd *pw;
	int ret;

	errno = 0;
	pw = getpwnam(user);
	if (!pw) {
		ret = errno ? -errno : -ENOENT;
		snprintf(err, errlen, "--user %s: no such user", user);
		return ret;
	}
	/* Order matters: groups and gid need privilege, so they go before the uid. */
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		ret = -errno;
		snprintf(err, errlen, "--user %s: dropping privileges: %s", user, strerror(errno));
		return ret;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		ret = -errno;
		snprintf(err, errlen, "--user %s: PR_SET_NO_NEW_PRIVS: %s", user, strerror(errno));
		return ret;
	}
	/* If root can be regained, the drop did not happen: refuse to go on. */
	if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		snprintf(err, errlen, "--user %s: could regain root after dropping privileges",
			 user);
		return -EPERM;
	}
	return 0;
}
