/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#ifndef HTTUN_CMD_PRIVDROP_H
#define HTTUN_CMD_PRIVDROP_H

#include <stddef.h>

/*
 * Become USER for good: supplementary groups of USER, its primary group, its uid, and
 * PR_SET_NO_NEW_PRIVS so nothing can regain privileges through exec. Called once devices
 * and sockets are open. Returns 0, or a negative errno with a message in err.
 */
int privdrop(const char *user, char *err, size_t errlen);

#endif
