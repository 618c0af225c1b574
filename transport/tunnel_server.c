/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "transport/tunnel_server.h"
#include "core/carrier.h"
#include "core/handshake.h"
#include "core/limits.h"
#include "core/list.h"
#include "core/log.h"
#include "core/parked.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One response body of frames being written; owns the frame buffers until sent. */
struct tx {
	struct tunnel_channel *ch;
	struct fbuf *list;
	struct iovec bufs[TUNNEL_BODY_MAX_FRAMES];
};

struct tunnel_channel {
	/* First member: the peer's owner pointer and the endpoint are the channel. */
	struct tunnel_endpoint ep;
	struct tunnel_server *srv;
	char name[CHANNEL_NAME_MAX_BYTES + 1];
	/* Long-poll GETs held until frames are ready or their hold time passes. */
	struct parked_list polls;
	/* Runs while a poll is parked, due at or before the oldest one's deadline. */
	uv_timer_t hold;
	uint32_t current_index; /* to notice a newly confirmed session */
	/*
	 * The buffer list of the last answer whose write completed, kept for the next one:
	 * an answer does not malloc (struct tx is 1 KiB, past glibc's per-thread cache) on
	 * an idle ping's path. One per channel, freed with the channel.
	 */
	struct tx *spare_tx;
};

struct tunnel_server {
	uv_loop_t *loop;
	uv_check_t flush; /* seals and sends what a loop turn produced */
	uv_timer_t tick; /* session expiry */
	unsigned open_handles;
	unsigned outstanding; /* response bodies of frames not yet given back */
	bool freeing;
	char *path;
	uint64_t hold_ms;
	struct index_table *ix;
	struct tunnel_channel *channels[CONFIG_MAX_CHANNELS];
	/* K_init of channels[i], for handshake_init_match (sodium_malloc'd: a secret). */
	uint8_t (*k_inits)[HANDSHAKE_INIT_KEY_BYTES];
	unsigned nchannels;
};

static void respond_frames(struct tunnel_channel *ch, struct http_request *req);
static void server_maybe_destroy(struct tunnel_server *srv);

static void tx_sent_cb(int status, void *arg)
{
	struct tx *tx = arg;
	struct tunnel_channel *ch = tx->ch;
	struct tunnel_server *srv = ch->srv;

	(void)status; /* frames of a failed write are lost: the tunnel is a lossy link */
	frameq_release(&ch->ep.send, tx->list);
	if (!ch->spare_tx)
		ch->spare_tx = tx;
	else
		free(tx);
	srv->outstanding--;
	if (srv->freeing) {
		/* Writes cancelled by closing connections may come after our handles closed. */
		server_maybe_destroy(srv);
		return;
	}
	tunnel_endpoint_unpause(&ch->ep);
}

static void respond_frames(struct tunnel_channel *ch, struct http_request *req)
{
	struct fbuf *list, *b;
	struct tx *tx;
	size_t bytes;
	unsigned n, i = 0;

	list = frameq_take(&ch->ep.send, TUNNEL_BODY_MAX_BYTES, TUNNEL_BODY_MAX_FRAMES, &bytes, &n);
	if (!list) {
		http_response_send(req, 200, NULL, NULL, 0, NULL, NULL);
		return;
	}
	tx = ch->spare_tx ? ch->spare_tx : malloc(sizeof(*tx));
	ch->spare_tx = NULL;
	if (!tx) {
		frameq_release(&ch->ep.send, list);
		http_response_send_error(req, 503, false);
		return;
	}
	tx->ch = ch;
	tx->list = list;
	for (b = list; b; b = b->next)
		tx->bufs[i++] = (struct iovec){ b->data, b->len };
	ch->srv->outstanding++;
	http_response_sendv(req, 200, NULL, tx->bufs, n, tx_sent_cb, tx);
}

/* The hold timer runs while a poll is parked, and only then. */
static void hold_stop_if_idle(struct tunnel_channel *ch)
{
	if (parked_empty(&ch->polls))
		uv_timer_stop(&ch->hold);
}

static void answer_oldest_parked(struct tunnel_channel *ch)
{
	struct http_request *req = parked_take_oldest(&ch->polls);

	hold_stop_if_idle(ch);
	respond_frames(ch, req);
}

/* Answer the polls whose hold time is over (empty, or with what is queued by now). */
static void hold_cb(uv_timer_t *t)
{
	struct tunnel_channel *ch = t->data;
	uint64_t now = uv_now(ch->srv->loop), next;
	struct http_request *req;

	while ((req = parked_take_due(&ch->polls, now))) {
		hold_stop_if_idle(ch);
		respond_frames(ch, req);
	}
	if (parked_next_deadline(&ch->polls, &next))
		uv_timer_start(&ch->hold, hold_cb, next - now, 0);
}

static void parked_cancel_cb(struct http_request *req, void *arg)
{
	struct parked *p = arg;
	struct tunnel_channel *ch = list_entry(p->list, struct tunnel_channel, polls);

	(void)req;
	parked_remove(p);
	hold_stop_if_idle(ch);
}

/*
 * The new poll is listed, with its cancel callback, before a full channel answers its
 * oldest: that answer can fail and close a relay connection, cancelling its other
 * requests, this one included, which must then leave the list rather than stay orphaned.
 */
static void park(struct tunnel_channel *ch, struct http_request *req)
{
	struct parked *p = parked_add(&ch->polls, req, uv_now(ch->srv->loop));

	if (!p) { /* not while the oldest is answered whenever the list is over */
		respond_frames(ch, req);
		return;
	}
	http_request_set_cancel(req, parked_cancel_cb, p);
	/* A later poll expires later: only the first one parked arms the timer. */
	if (ch->polls.n == 1)
		uv_timer_start(&ch->hold, hold_cb, ch->polls.hold_ms, 0);
	if (parked_over(&ch->polls))
		answer_oldest_parked(ch);
}

/*
 * Log session changes. When the session is gone (expired: the client went away), the
 * frames queued for it can never be opened: drop them, which also resumes the TUN, and
 * end the channel's L7 streams, whose client is gone.
 */
static void note_session(struct tunnel_channel *ch)
{
	uint32_t idx = peer_current_index(ch->ep.peer);

	if (idx == ch->current_index)
		return;
	ch->current_index = idx;
	if (idx) {
		log_info("channel %s: session established", ch->name);
		return;
	}
	log_info("channel %s: session expired", ch->name);
	/* Nobody is left to read the streams' data: close them (they count against limits). */
	if (ch->ep.io.l7_session_lost)
		ch->ep.io.l7_session_lost(ch->ep.io.l7_ctx);
	frameq_clear(&ch->ep.send);
	tunnel_endpoint_unpause(&ch->ep);
}

static void free_sent_cb(int status, void *arg)
{
	(void)status;
	free(arg);
}

/*
 * An INIT the server refuses (a replay, a low-order key) gets the very answer of an INIT
 * of no channel, so a prober holding a recorded INIT learns nothing from it
 * (docs/PROTOCOL.md section 3).
 */
static void refuse_init(struct http_request *req)
{
	http_response_send_error(req, 404, false);
}

static void handle_init(struct tunnel_server *srv, struct http_request *req)
{
	struct tunnel_channel *ch;
	uint8_t *resp;
	int i, err;

	/* Every channel's key is tried: the time taken does not tell which one matched. */
	i = handshake_init_match(req->body, req->body_len,
				 (const uint8_t(*)[HANDSHAKE_INIT_KEY_BYTES])srv->k_inits,
				 srv->nchannels);
	if (i < 0) {
		log_warnx_rl("handshake for no channel of this server (wrong key?)");
		refuse_init(req);
		return;
	}
	ch = srv->channels[i];
	resp = malloc(MSG_RESPONSE_BYTES);
	if (!resp) {
		http_response_send_error(req, 503, false);
		return;
	}
	err = peer_handle_init(ch->ep.peer, req->body, req->body_len, resp, clock_now_ms());
	if (err) {
		free(resp);
		if (err == -EALREADY) /* docs/PROTOCOL.md section 3: replay or clock stepped back */
			log_warnx_rl(
				"channel %s: handshake refused: INIT not newer than the last one",
				ch->name);
		else
			log_warnx_rl("channel %s: handshake refused: %s", ch->name, strerror(-err));
		/* Out of memory or indexes is the server's trouble, not the INIT's. */
		if (err == -ENOMEM || err == -ENOSPC)
			http_response_send_error(req, 503, false);
		else
			refuse_init(req);
		return;
	}
	log_debug("channel %s: handshake answered", ch->name);
	http_response_send(req, 200, NULL, resp, MSG_RESPONSE_BYTES, free_sent_cb, resp);
}

/*
 * What the kernel answered at once to the packets a POST delivered (a ping's echo, an
 * ACK) is on the TUN already: read and seal it now, so it rides on the POST's answer.
 */
static void read_replies(struct tunnel_server *srv)
{
	for (unsigned i = 0; i < srv->nchannels; i++) {
		struct tunnel_endpoint *ep = &srv->channels[i]->ep;
		unsigned n = ep->delivered;

		if (n == 0)
			continue;
		ep->delivered = 0;
		if (!ep->io.read_now)
			continue;
		/* As many as were delivered: a ping's echo is read without a read that finds none. */
		ep->io.read_now(ep->io.ctx, n);
		if (ep->dirty)
			tunnel_endpoint_seal(ep, clock_now_ms());
	}
}

static void handle_post(struct tunnel_server *srv, struct http_request *req)
{
	struct tunnel_channel *ch;
	struct tunnel_rx rx;

	/*
	 * Whatever a party without the key sends to a tunnel URL gets the 404 of any unknown
	 * path: an empty or malformed body must not tell a prober that the URL is httun's
	 * (docs/PROTOCOL.md "What an observer sees").
	 */
	if (req->body_len == 0) {
		http_response_send_error(req, 404, false);
		return;
	}
	if (req->body[0] == MSG_INIT) {
		handle_init(srv, req);
		return;
	}
	tunnel_receive_body(srv->ix, req->body, req->body_len, clock_now_ms(), &rx);
	if (!rx.opened) {
		/* 404 for frames of a session we do not have: the client handshakes again. */
		http_response_send_error(req, 404, false);
		return;
	}
	/* Only a key holder seals a frame that opens (a replay fails the window). */
	http_request_vouch(req);
	ch = (struct tunnel_channel *)rx.ep;
	note_session(ch);
	read_replies(srv);
	respond_frames(ch, req);
}

static void handle_poll(struct tunnel_server *srv, struct http_request *req,
			uint8_t poll[MSG_POLL_BYTES])
{
	struct tunnel_channel *ch;
	struct frame_header h;
	struct span pt;
	struct peer *p;

	if (frame_header_parse(poll, MSG_POLL_BYTES, &h) < 0 || h.type != MSG_POLL) {
		http_response_send_error(req, 404, false);
		return;
	}
	p = index_lookup(srv->ix, h.receiver);
	/* Authenticated and replay-checked like any frame: a recorded poll drains nothing. */
	if (!p || peer_open(p, &h, poll, &pt, clock_now_ms()) < 0) {
		http_response_send_error(req, 404, false);
		return;
	}
	http_request_vouch(req);
	ch = peer_owner(p);
	note_session(ch);
	if (!frameq_empty(&ch->ep.send))
		respond_frames(ch, req);
	else
		park(ch, req);
}

void tunnel_server_on_request(struct http_request *req, void *arg)
{
	struct tunnel_server *srv = arg;
	uint8_t poll[MSG_POLL_BYTES];
	int kind = carrier_parse_target(req->url, req->url_len, srv->path, poll);

	if (kind == CARRIER_TOKEN_RANDOM && req->method == HTTP_METHOD_POST)
		handle_post(srv, req);
	else if (kind == CARRIER_TOKEN_POLL && req->method == HTTP_METHOD_GET)
		handle_poll(srv, req, poll);
	else
		http_response_send_error(req, 404, false);
}

static void flush_cb(uv_check_t *h)
{
	struct tunnel_server *srv = h->data;
	uint64_t now = clock_now_ms();

	for (unsigned i = 0; i < srv->nchannels; i++) {
		struct tunnel_channel *ch = srv->channels[i];

		if (ch->ep.dirty)
			tunnel_endpoint_seal(&ch->ep, now);
		while (!frameq_empty(&ch->ep.send) && !parked_empty(&ch->polls))
			answer_oldest_parked(ch);
		tunnel_endpoint_unpause(&ch->ep);
	}
}

static void tick_cb(uv_timer_t *t)
{
	struct tunnel_server *srv = t->data;
	uint64_t now = clock_now_ms();

	for (unsigned i = 0; i < srv->nchannels; i++) {
		peer_tick(srv->channels[i]->ep.peer, now);
		note_session(srv->channels[i]);
	}
}

struct tunnel_server *tunnel_server_new(uv_loop_t *loop, const struct tunnel_server_config *cfg)
{
	struct tunnel_server *srv = calloc(1, sizeof(*srv));

	if (!srv)
		return NULL;
	srv->loop = loop;
	srv->path = strdup(cfg->path);
	srv->ix = index_new();
	srv->k_inits = sodium_allocarray(CONFIG_MAX_CHANNELS, sizeof(*srv->k_inits));
	if (!srv->path || !srv->ix || !srv->k_inits) {
		free(srv->path);
		index_free(srv->ix);
		sodium_free(srv->k_inits);
		free(srv);
		return NULL;
	}
	srv->hold_ms = cfg->poll_hold_ms ? cfg->poll_hold_ms : POLL_HOLD_MS;
	uv_check_init(loop, &srv->flush);
	srv->flush.data = srv;
	uv_check_start(&srv->flush, flush_cb);
	uv_timer_init(loop, &srv->tick);
	srv->tick.data = srv;
	uv_timer_start(&srv->tick, tick_cb, SERVER_TICK_MS, SERVER_TICK_MS);
	srv->open_handles = 2;
	return srv;
}

struct tunnel_channel *tunnel_server_add_channel(struct tunnel_server *srv, const char *name,
						 const uint8_t psk[PSK_BYTES],
						 const struct tunnel_io *io)
{
	struct tunnel_channel *ch;

	if (srv->nchannels >= CONFIG_MAX_CHANNELS)
		return NULL;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return NULL;
	ch->srv = srv;
	parked_init(&ch->polls, srv->hold_ms);
	snprintf(ch->name, sizeof(ch->name), "%s", name);
	if (tunnel_endpoint_init(&ch->ep, ch->name, PEER_RESPONDER, psk, srv->ix, io) < 0) {
		free(ch);
		return NULL;
	}
	uv_timer_init(srv->loop, &ch->hold);
	ch->hold.data = ch;
	handshake_init_key(psk, srv->k_inits[srv->nchannels]);
	srv->channels[srv->nchannels++] = ch;
	return ch;
}

struct tunnel_endpoint *tunnel_channel_endpoint(struct tunnel_channel *ch)
{
	return &ch->ep;
}

/* The last of the handles and response bodies to finish frees the server. */
static void server_maybe_destroy(struct tunnel_server *srv)
{
	if (!srv->freeing || srv->open_handles || srv->outstanding)
		return;
	for (unsigned i = 0; i < srv->nchannels; i++) {
		struct tunnel_channel *ch = srv->channels[i];

		while (parked_take_oldest(&ch->polls))
			;
		tunnel_endpoint_close(&ch->ep);
		free(ch->spare_tx);
		free(ch);
	}
	index_free(srv->ix);
	sodium_free(srv->k_inits); /* wipes */
	free(srv->path);
	free(srv);
}

static void server_close_cb(uv_handle_t *h)
{
	struct tunnel_server *srv = h->data;

	srv->open_handles--;
	server_maybe_destroy(srv);
}

void tunnel_server_free(struct tunnel_server *srv)
{
	srv->freeing = true;
	uv_close((uv_handle_t *)&srv->flush, server_close_cb);
	uv_close((uv_handle_t *)&srv->tick, server_close_cb);
	for (unsigned i = 0; i < srv->nchannels; i++) {
		srv->channels[i]->hold.data = srv;
		srv->open_handles++;
		uv_close((uv_handle_t *)&srv->channels[i]->hold, server_close_cb);
	}
}

size_t tunnel_server_trim(struct tunnel_server *srv)
{
	size_t freed = 0;

	for (unsigned i = 0; i < srv->nchannels; i++)
		freed += tunnel_endpoint_trim(&srv->channels[i]->ep);
	return freed;
}
