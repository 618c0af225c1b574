/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "transport/http_conn.h"
#include "core/limits.h"

const struct net_conn_config http_conn_config = {
	.kind = NET_TCP,
	.timer = true,
	.nodelay = true,
	.rb_base = HTTP_READ_BUF_BYTES,
	.rb_max = HTTP_READ_BUF_BYTES,
};
