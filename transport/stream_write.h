/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#ifndef HTTUN_TRANSPORT_STREAM_WRITE_H
#define HTTUN_TRANSPORT_STREAM_WRITE_H

#include <uv.h>

/*
 * Writes what the socket takes now (uv_try_write), then queues the rest with uv_write.
 * A message that fits the socket buffer (every small one) is then done without a write
 * request: no completion runs on a later loop turn, and libuv has no POLLOUT interest to
 * drop with an epoll_ctl(2) afterwards. Both sat on an idle ping's path
 * (docs/PERFORMANCE.md). Returns 1 when everything was written (cb will not run), 0 when
 * the rest is queued on req (cb runs), or a negative errno (nothing queued, cb will not
 * run; part of the message may have been written). bufs is modified.
 */
int stream_write(uv_write_t *req, uv_stream_t *s, uv_buf_t *bufs, unsigned nbufs, uv_write_cb cb);

#endif
