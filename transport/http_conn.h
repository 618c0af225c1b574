/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * What the HTTP server's and the HTTP client's connections have in common on the
 * connection helper (net/conn.h): TCP with TCP_NODELAY (requests and responses are
 * written whole, so Nagle only adds latency), a deadline timer, and a fixed read buffer
 * of HTTP_READ_BUF_BYTES for heads and small bodies.
 */
#ifndef HTTUN_TRANSPORT_HTTP_CONN_H
#define HTTUN_TRANSPORT_HTTP_CONN_H

#include "net/conn.h"

extern const struct net_conn_config http_conn_config;

#endif
