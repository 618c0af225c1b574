/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "transport/stream_write.h"

#include <stddef.h>

int stream_write(uv_write_t *req, uv_stream_t *s, uv_buf_t *bufs, unsigned nbufs, uv_write_cb cb)
{
	int sent = uv_try_write(s, bufs, nbufs);
	size_t skip = sent > 0 ? (size_t)sent : 0;
	int err;

	if (sent < 0 && sent != UV_EAGAIN)
		return sent;
	while (nbufs > 0 && skip >= bufs->len) {
		skip -= bufs->len;
		bufs++;
		nbufs--;
	}
	if (nbufs == 0)
		return 1;
	bufs->base += skip;
	bufs->len -= skip;
	err = uv_write(req, s, bufs, nbufs, cb);
	return err < 0 ? err : 0;
}
