/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "transport/tunnel_client.h"
#include "transport/http_client.h"
#include "core/carrier.h"
#include "core/cursor.h"
#include "core/limits.h"
#include "core/log.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Retry delay for one kind of request: doubles per round of failures, up to a cap. */
struct backoff {
	uint64_t delay_ms;
	uint64_t until_ms; /* no new request of this kind before this */
};

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
	bool session_lost; /* a 404 for our current session: no polls until a new one */
	bool connected; /* as last logged */
	uint64_t hs_ok_ms; /* when the last handshake completed */
	struct backoff hs_backoff, poll_backoff, post_backoff;
	unsigned polls;
	struct post_tx {
		struct tunnel_client *cli;
		struct fbuf *list; /* NULL: slot free */
		uv_buf_t bufs[TUNNEL_BODY_MAX_FRAMES];
	} posts[CLIENT_POSTS];
	unsigned nposts;
};

/* One long-poll; the session index it was sealed with tells what a 404 means. */
struct poll_tx {
	struct tunnel_client *cli;
	uint32_t index;
};

static void client_kick(struct tunnel_client *cli);
static void maybe_destroy(struct tunnel_client *cli);

static void make_path(const struct tunnel_client *cli, const char *token, char *out, size_t len)
{
	struct writer w = writer_make(out, len - 1);
	bool fits = wr_str(&w, cli->prefix) && wr_str(&w, token);

	/* tunnel_client_new refused prefixes too long for this. */
	assert(fits);
	(void)fits;
	out[w.len] = '\0';
}

/*
 * A failed request of one kind delays the next of that kind only. Failures of requests
 * that were in flight together count once: the delay doubles only when the previous one
 * had run out.
 */
static void backoff_fail(struct backoff *b, uint64_t now)
{
	if (now < b->until_ms)
		return;
	b->delay_ms = b->delay_ms ? b->delay_ms * 2 : CLIENT_BACKOFF_MIN_MS;
	if (b->delay_ms > CLIENT_BACKOFF_MAX_MS)
		b->delay_ms = CLIENT_BACKOFF_MAX_MS;
	b->until_ms = now + b->delay_ms;
}

static void backoff_ok(struct backoff *b)
{
	b->delay_ms = 0;
	b->until_ms = 0;
}

static void log_failure(const struct tunnel_client *cli, const char *what,
			const struct http_response *r)
{
	if (r->err)
		log_warnx_rl("%s: %s: %s", cli->url, what, strerror(-r->err));
	else
		log_warnx_rl("%s: %s: HTTP status %d", cli->url, what, r->status);
}

/*
 * A 404 for a frame of our current session: the server does not have it (it restarted).
 * A 404 for an older session says nothing about the current one and is ignored. Frames
 * still queued were sealed with the lost session and are dropped.
 */
static void session_gone(struct tunnel_client *cli, uint32_t index)
{
	if (index == 0 || index != peer_current_index(cli->ep.peer) || cli->session_lost)
		return;
	log_info("%s: the server does not know our session (restarted?); handshaking again",
		 cli->url);
	cli->session_lost = true;
	frameq_clear(&cli->ep.send);
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

/* 200: frames. 404: session_gone for index. Anything else: failure with backoff. */
static void handle_response(struct tunnel_client *cli, const char *what, struct http_response *r,
			    struct backoff *b, uint32_t index)
{
	if (!r->err && r->status == 200) {
		backoff_ok(b);
		take_frames(cli, r);
	} else if (!r->err && r->status == 404) {
		session_gone(cli, index);
	} else {
		log_failure(cli, what, r);
		backoff_fail(b, clock_now_ms());
	}
}

/*
 * Each request callback calls this once it has given back what the request held. True:
 * the client is being freed (and may be gone now); the callback must return at once.
 */
static bool request_ended(struct tunnel_client *cli)
{
	cli->outstanding--;
	if (!cli->freeing)
		return false;
	maybe_destroy(cli);
	return true;
}

static void hs_cb(struct http_response *r, void *arg)
{
	struct tunnel_client *cli = arg;
	uint64_t now;
	int err;

	cli->hs_inflight = false;
	if (request_ended(cli))
		return;
	now = clock_now_ms();
	if (r->err || r->status != 200) {
		cli->hs_failed = true;
		log_failure(cli, "handshake", r);
		backoff_fail(&cli->hs_backoff, now);
		return;
	}
	err = peer_handle_response(cli->ep.peer, r->body, r->body_len, now);
	if (err) {
		cli->hs_failed = true;
		log_warnx_rl("%s: handshake response refused: %s", cli->url, strerror(-err));
		backoff_fail(&cli->hs_backoff, now);
		return;
	}
	backoff_ok(&cli->hs_backoff);
	cli->hs_ok_ms = now;
	cli->session_lost = false;
	if (!cli->connected)
		log_info("%s: connected", cli->url);
	cli->connected = true;
	/*
	 * Confirm the new session at once with a keepalive: the server promotes it only when
	 * one of its frames arrives, and until then it is a pending session that can expire
	 * or be pushed out (docs/PROTOCOL.md section 3).
	 */
	tunnel_endpoint_keepalive(&cli->ep, now);
	client_kick(cli);
}

static void maybe_handshake(struct tunnel_client *cli, uint64_t now)
{
	char tok[CARRIER_RANDOM_CHARS + 1], path[HTTP_MAX_URL_BYTES];
	uv_buf_t buf;

	if (cli->hs_inflight || now < cli->hs_backoff.until_ms)
		return;
	if (!cli->hs_failed && !cli->session_lost && !peer_wants_handshake(cli->ep.peer, now))
		return;
	/* A server that keeps forgetting sessions (no sticky load balancing?) is not hammered. */
	if (cli->session_lost && cli->hs_ok_ms && now - cli->hs_ok_ms < CLIENT_REHANDSHAKE_MIN_MS)
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
	struct poll_tx *p = arg;
	struct tunnel_client *cli = p->cli;
	uint32_t index = p->index;

	free(p);
	cli->polls--;
	if (request_ended(cli))
		return;
	handle_response(cli, "poll", r, &cli->poll_backoff, index);
	client_kick(cli);
}

static void ensure_polls(struct tunnel_client *cli, uint64_t now)
{
	char tok[CARRIER_POLL_CHARS + 1], path[HTTP_MAX_URL_BYTES];
	uint8_t frame[MSG_POLL_BYTES];

	while (cli->polls < CLIENT_POLLS && !cli->session_lost &&
	       now >= cli->poll_backoff.until_ms) {
		struct poll_tx *p = malloc(sizeof(*p));

		if (!p)
			return;
		p->cli = cli;
		p->index = peer_current_index(cli->ep.peer);
		if (peer_seal(cli->ep.peer, MSG_POLL, frame, 0, now) < 0) {
			free(p);
			return;
		}
		carrier_poll_token(frame, tok);
		make_path(cli, tok, path, sizeof(path));
		if (http_client_request(cli->http, HTTP_METHOD_GET, path, NULL, NULL, 0,
					CLIENT_POLL_TIMEOUT_MS, poll_cb, p) < 0) {
			free(p);
			return;
		}
		cli->polls++;
		cli->outstanding++;
	}
}

static void post_cb(struct http_response *r, void *arg)
{
	struct post_tx *tx = arg;
	struct tunnel_client *cli = tx->cli;
	uint32_t current = peer_current_index(cli->ep.peer), index = 0;
	struct fbuf *b;

	/* The 404 concerns the current session only if the POST carried one of its frames. */
	for (b = tx->list; b; b = b->next) {
		if (b->tag == current)
			index = current;
	}
	frameq_release(&cli->ep.send, tx->list);
	tx->list = NULL;
	cli->nposts--;
	cli->ep.quiet = cli->nposts == 0;
	if (request_ended(cli))
		return;
	/* Frames of a failed POST are lost, like packets on a lossy link. */
	handle_response(cli, "sending", r, &cli->post_backoff, index);
	tunnel_endpoint_unpause(&cli->ep);
	client_kick(cli);
}

static void send_posts(struct tunnel_client *cli, uint64_t now)
{
	char tok[CARRIER_RANDOM_CHARS + 1], path[HTTP_MAX_URL_BYTES];

	for (unsigned slot = 0; slot < CLIENT_POSTS; slot++) {
		struct post_tx *tx = &cli->posts[slot];
		struct fbuf *b;
		size_t bytes;
		unsigned n, i = 0;

		if (frameq_empty(&cli->ep.send) || now < cli->post_backoff.until_ms)
			return;
		if (tx->list)
			continue;
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
			tx->list = NULL;
			return;
		}
		cli->nposts++;
		cli->ep.quiet = false;
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
	uint64_t now = clock_now_ms();

	if (cli->ep.dirty)
		tunnel_endpoint_seal(&cli->ep, now);
	/* Frames sealed early (a full frame in get_buf) are queued without dirty set. */
	if (!frameq_empty(&cli->ep.send))
		send_posts(cli, now);
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

/* Every request target is the URL path and a token: it fits whatever path the config takes. */
_Static_assert(CONFIG_PATH_MAX_BYTES + 1 + CARRIER_TOKEN_MAX_CHARS < HTTP_MAX_URL_BYTES,
	       "a URL path with a token must fit a request line");

int tunnel_client_new(struct tunnel_client **out, uv_loop_t *loop,
		      const struct tunnel_client_config *cfg, char *err, size_t errlen)
{
	struct tunnel_client *cli;
	struct http_client_config hcfg;
	char name[CONFIG_URL_STR_BYTES];
	int ret;

	config_url_format(cfg->url, name);
	if (cfg->url->https) {
		snprintf(err, errlen,
			 "%s: https is not supported; use http:// (the tunnel is encrypted "
			 "either way) or a TLS proxy",
			 name);
		return -EPROTONOSUPPORT;
	}
	cli = calloc(1, sizeof(*cli));
	if (!cli)
		goto err_nomem;
	cli->loop = loop;
	cli->url = strdup(name);
	cli->prefix = strdup(cfg->url->path); /* ends with '/' */
	cli->ix = index_new();
	if (!cli->url || !cli->prefix || !cli->ix)
		goto err_free;
	cli->prefix_len = strlen(cli->prefix);
	if (tunnel_endpoint_init(&cli->ep, cli->url, PEER_INITIATOR, cfg->psk, cli->ix, &cfg->io) <
	    0)
		goto err_free;
	http_client_config_default(&hcfg);
	hcfg.pool_size = CLIENT_POLLS + CLIENT_POSTS + 1;
	ret = http_client_new(&cli->http, loop, cfg->url, &hcfg);
	if (ret < 0) {
		snprintf(err, errlen, "%s: %s", name,
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

size_t tunnel_client_trim(struct tunnel_client *cli)
{
	return tunnel_endpoint_trim(&cli->ep) + http_client_trim(cli->http);
}
