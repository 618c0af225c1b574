/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "transport/tunnel_client.h"
#include "transport/http_client.h"
#include "core/carrier.h"
#include "core/limits.h"
#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tunnel_client {
	/* First member: the peer's owner pointer and the endpoint are the client. */
	struct tunnel_endpoint ep;
	uv_loop_t *loop;
	struct http_client *http;
	struct index_table *ix;
	char *url; /* for log lines */
	char *prefix; /* URL path, ends with '/' */
	size_t prefix_len;
	uv_check_t flush;
	uv_timer_t tick;
	unsigned open_handles;
	unsigned outstanding; /* HTTP requests whose callback has not run */
	bool freeing;

	uint8_t init[MSG_INIT_BYTES];
	bool hs_inflight;
	bool hs_failed; /* the last attempt failed: retry after the backoff */
	bool session_lost; /* the server answered 404: no polls until a new session */
	bool connected; /* as last logged */
	unsigned polls, posts;
	uint64_t backoff_ms;
	uint64_t retry_at_ms; /* no new request before this, after a failure */
};

/* One POST of upstream frames; owns the buffers until its callback. */
struct post_tx {
	struct tunnel_client *cli;
	struct fbuf *list;
	uv_buf_t bufs[TUNNEL_BODY_MAX_FRAMES];
};

static void client_kick(struct tunnel_client *cli);
static void maybe_destroy(struct tunnel_client *cli);

static void make_path(const struct tunnel_client *cli, const char *token, char *out, size_t len)
{
	snprintf(out, len, "%s%s", cli->prefix, token);
}

static void request_failed(struct tunnel_client *cli, const char *what,
			   const struct http_response *r)
{
	uint64_t now = clock_now_ms();

	if (r->err)
		log_warnx_rl("%s: %s: %s", cli->url, what, strerror(-r->err));
	else
		log_warnx_rl("%s: %s: HTTP status %d", cli->url, what, r->status);
	cli->backoff_ms = cli->backoff_ms ? cli->backoff_ms * 2 : CLIENT_BACKOFF_MIN_MS;
	if (cli->backoff_ms > CLIENT_BACKOFF_MAX_MS)
		cli->backoff_ms = CLIENT_BACKOFF_MAX_MS;
	cli->retry_at_ms = now + cli->backoff_ms;
}

static void session_gone(struct tunnel_client *cli)
{
	if (!cli->session_lost)
		log_info("%s: the server does not know our session (restarted?); handshaking again",
			 cli->url);
	cli->session_lost = true;
	peer_request_handshake(cli->ep.peer);
}

/* A 200 body from the server: frames of any kind of request. */
static void take_frames(struct tunnel_client *cli, struct http_response *r)
{
	struct tunnel_rx rx;

	if (!r->body_len)
		return;
	tunnel_receive_body(cli->ix, r->body, r->body_len, clock_now_ms(), &rx);
	if (rx.malformed)
		log_warnx_rl("%s: malformed body from the server", cli->url);
}

static bool response_ok(struct tunnel_client *cli, const char *what, struct http_response *r)
{
	if (!r->err && r->status == 200) {
		cli->backoff_ms = 0;
		return true;
	}
	if (!r->err && r->status == 404)
		session_gone(cli);
	else
		request_failed(cli, what, r);
	return false;
}

static void hs_cb(struct http_response *r, void *arg)
{
	struct tunnel_client *cli = arg;
	int err;

	cli->outstanding--;
	cli->hs_inflight = false;
	if (cli->freeing) {
		maybe_destroy(cli);
		return;
	}
	if (r->err || r->status != 200) {
		cli->hs_failed = true;
		request_failed(cli, "handshake", r);
		return;
	}
	err = peer_handle_response(cli->ep.peer, r->body, r->body_len, clock_now_ms());
	if (err) {
		cli->hs_failed = true;
		log_warnx_rl("%s: handshake response refused: %s", cli->url, strerror(-err));
		cli->retry_at_ms = clock_now_ms() + CLIENT_BACKOFF_MAX_MS;
		return;
	}
	cli->backoff_ms = 0;
	cli->session_lost = false;
	if (!cli->connected)
		log_info("%s: connected", cli->url);
	cli->connected = true;
	client_kick(cli);
}

static void maybe_handshake(struct tunnel_client *cli, uint64_t now)
{
	char tok[CARRIER_RANDOM_CHARS + 1], path[HTTP_MAX_URL_BYTES];
	uv_buf_t buf;

	if (cli->hs_inflight || now < cli->retry_at_ms)
		return;
	if (!cli->hs_failed && !cli->session_lost && !peer_wants_handshake(cli->ep.peer, now))
		return;
	if (peer_handshake_start(cli->ep.peer, cli->init, clock_realtime_ns(), now) < 0)
		return;
	cli->hs_failed = false;
	carrier_random_token(tok);
	make_path(cli, tok, path, sizeof(path));
	buf = uv_buf_init((char *)cli->init, MSG_INIT_BYTES);
	if (http_client_request(cli->http, HTTP_METHOD_POST, path, NULL, &buf, 1,
				CLIENT_POST_TIMEOUT_MS, hs_cb, cli) == 0) {
		cli->hs_inflight = true;
		cli->outstanding++;
	}
}

static void poll_cb(struct http_response *r, void *arg)
{
	struct tunnel_client *cli = arg;

	cli->outstanding--;
	cli->polls--;
	if (cli->freeing) {
		maybe_destroy(cli);
		return;
	}
	if (response_ok(cli, "poll", r))
		take_frames(cli, r);
	client_kick(cli);
}

static void ensure_polls(struct tunnel_client *cli, uint64_t now)
{
	char tok[CARRIER_POLL_CHARS + 1], path[HTTP_MAX_URL_BYTES];
	uint8_t frame[MSG_POLL_BYTES];

	while (cli->polls < CLIENT_POLLS && !cli->session_lost && now >= cli->retry_at_ms) {
		if (peer_seal(cli->ep.peer, MSG_POLL, frame, 0, now) < 0)
			return;
		carrier_poll_token(frame, tok);
		make_path(cli, tok, path, sizeof(path));
		if (http_client_request(cli->http, HTTP_METHOD_GET, path, NULL, NULL, 0,
					CLIENT_POLL_TIMEOUT_MS, poll_cb, cli) < 0)
			return;
		cli->polls++;
		cli->outstanding++;
	}
}

static void post_cb(struct http_response *r, void *arg)
{
	struct post_tx *tx = arg;
	struct tunnel_client *cli = tx->cli;

	cli->outstanding--;
	cli->posts--;
	frameq_release(&cli->ep.send, tx->list);
	free(tx);
	if (cli->freeing) {
		maybe_destroy(cli);
		return;
	}
	/* Frames of a failed POST are lost, like packets on a lossy link. */
	if (response_ok(cli, "sending", r))
		take_frames(cli, r);
	tunnel_endpoint_unpause(&cli->ep);
	client_kick(cli);
}

static void send_posts(struct tunnel_client *cli, uint64_t now)
{
	char tok[CARRIER_RANDOM_CHARS + 1], path[HTTP_MAX_URL_BYTES];

	while (cli->posts < CLIENT_POSTS && !frameq_empty(&cli->ep.send) &&
	       now >= cli->retry_at_ms) {
		struct post_tx *tx = malloc(sizeof(*tx));
		struct fbuf *b;
		size_t bytes;
		unsigned n, i = 0;

		if (!tx)
			return;
		tx->cli = cli;
		tx->list = frameq_take(&cli->ep.send, TUNNEL_BODY_MAX_BYTES, TUNNEL_BODY_MAX_FRAMES,
				       &bytes, &n);
		for (b = tx->list; b; b = b->next)
			tx->bufs[i++] = uv_buf_init((char *)b->data, (unsigned)b->len);
		carrier_random_token(tok);
		make_path(cli, tok, path, sizeof(path));
		if (http_client_request(cli->http, HTTP_METHOD_POST, path, NULL, tx->bufs, n,
					CLIENT_POST_TIMEOUT_MS, post_cb, tx) < 0) {
			frameq_release(&cli->ep.send, tx->list);
			free(tx);
			return;
		}
		cli->posts++;
		cli->outstanding++;
	}
}

/* Everything that may be due: handshake, polls, posts. */
static void client_kick(struct tunnel_client *cli)
{
	uint64_t now = clock_now_ms();

	maybe_handshake(cli, now);
	ensure_polls(cli, now);
	send_posts(cli, now);
}

static void flush_cb(uv_check_t *h)
{
	struct tunnel_client *cli = h->data;

	if (cli->ep.dirty) {
		tunnel_endpoint_seal(&cli->ep, clock_now_ms());
		send_posts(cli, clock_now_ms());
	}
	tunnel_endpoint_unpause(&cli->ep);
}

static void tick_cb(uv_timer_t *t)
{
	struct tunnel_client *cli = t->data;
	uint64_t now = clock_now_ms();

	peer_tick(cli->ep.peer, now);
	if (cli->connected && !peer_has_session(cli->ep.peer)) {
		log_info("%s: disconnected", cli->url);
		cli->connected = false;
	}
	client_kick(cli);
}

int tunnel_client_new(struct tunnel_client **out, uv_loop_t *loop,
		      const struct tunnel_client_config *cfg, char *err, size_t errlen)
{
	struct tunnel_client *cli;
	struct http_client_config hcfg;
	struct http_url u;
	size_t plen;
	int ret;

	ret = http_url_parse(cfg->url, &u);
	if (ret < 0) {
		snprintf(err, errlen, "%s: %s", cfg->url,
			 ret == -EPROTONOSUPPORT
				 ? "https is not supported; use http:// (the tunnel "
				   "is encrypted either way) or a TLS proxy"
				 : "not a valid http:// URL");
		return ret;
	}
	cli = calloc(1, sizeof(*cli));
	if (!cli)
		goto err_nomem;
	cli->loop = loop;
	cli->url = strdup(cfg->url);
	plen = strlen(u.path);
	cli->prefix = malloc(plen + 2);
	cli->ix = index_new();
	if (!cli->url || !cli->prefix || !cli->ix)
		goto err_free;
	memcpy(cli->prefix, u.path, plen + 1);
	if (plen == 0 || cli->prefix[plen - 1] != '/')
		strcat(cli->prefix, "/");
	cli->prefix_len = strlen(cli->prefix);
	if (tunnel_endpoint_init(&cli->ep, cli->url, PEER_INITIATOR, cfg->psk, cli->ix, &cfg->io) <
	    0)
		goto err_free;
	http_client_config_default(&hcfg);
	hcfg.pool_size = CLIENT_POLLS + CLIENT_POSTS + 1;
	ret = http_client_new(&cli->http, loop, cfg->url, &hcfg);
	if (ret < 0) {
		snprintf(err, errlen, "%s: %s", cfg->url,
			 ret == -EHOSTUNREACH ? "host name does not resolve" : strerror(-ret));
		goto err_endpoint;
	}
	uv_check_init(loop, &cli->flush);
	cli->flush.data = cli;
	uv_check_start(&cli->flush, flush_cb);
	uv_timer_init(loop, &cli->tick);
	cli->tick.data = cli;
	uv_timer_start(&cli->tick, tick_cb, 0, CLIENT_TICK_MS);
	cli->open_handles = 2;
	*out = cli;
	return 0;

err_endpoint:
	tunnel_endpoint_close(&cli->ep);
	index_free(cli->ix);
	free(cli->prefix);
	free(cli->url);
	free(cli);
	return ret;
err_free:
	index_free(cli->ix);
	free(cli->prefix);
	free(cli->url);
	free(cli);
err_nomem:
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

/* The last of the handles and request callbacks to finish frees the client. */
static void maybe_destroy(struct tunnel_client *cli)
{
	if (!cli->freeing || cli->open_handles || cli->outstanding)
		return;
	tunnel_endpoint_close(&cli->ep);
	index_free(cli->ix);
	free(cli->prefix);
	free(cli->url);
	free(cli);
}

static void client_close_cb(uv_handle_t *h)
{
	struct tunnel_client *cli = h->data;

	cli->open_handles--;
	maybe_destroy(cli);
}

void tunnel_client_free(struct tunnel_client *cli)
{
	cli->freeing = true;
	/* Outstanding requests fail with -ECANCELED; their callbacks give buffers back. */
	http_client_free(cli->http);
	uv_close((uv_handle_t *)&cli->flush, client_close_cb);
	uv_close((uv_handle_t *)&cli->tick, client_close_cb);
}

struct tunnel_endpoint *tunnel_client_endpoint(struct tunnel_client *cli)
{
	return &cli->ep;
}

bool tunnel_client_connected(const struct tunnel_client *cli)
{
	return cli->connected;
}
