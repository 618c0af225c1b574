/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Every limit and default of httun, named, with the reason for its value.
 * docs/PROTOCOL.md refers to these by name.
 */
#ifndef HTTUN_CORE_LIMITS_H
#define HTTUN_CORE_LIMITS_H

/* ---- keys ---- */

/* Pre-shared channel key: 256 bits, the AES-256 and BLAKE2b key size. */
#define PSK_BYTES 32
/* A key file holds one base64 line; anything longer is not a key file. */
#define KEY_FILE_MAX_BYTES 4096

/* ---- sealed frames (docs/PROTOCOL.md "Frames") ---- */

/* Clear header authenticated as associated data. */
#define FRAME_HEADER_BYTES 20
/* AES-256-GCM tag. */
#define FRAME_TAG_BYTES 16
#define FRAME_OVERHEAD_BYTES (FRAME_HEADER_BYTES + FRAME_TAG_BYTES)
/*
 * Largest plaintext one frame may carry. Big enough for a 64 KiB IP packet with its
 * record header plus room to batch, small enough that a receiver can hold one frame
 * per connection without caring.
 */
#define FRAME_MAX_PLAINTEXT_BYTES (256 * 1024)

/*
 * Replay window (RFC 6479 bitmap). 8192 bits like WireGuard: frames from several HTTP
 * connections arrive out of order, so the window must cover everything that can be in
 * flight at once; the requirement is at least 2048.
 */
#define REPLAY_WINDOW_BITS 8192

/*
 * Rekeying. Nonces are a 64-bit counter, so they cannot repeat, but a key should not seal
 * anywhere near 2^32 frames (the classic AES-GCM usage bound). The client starts a new
 * handshake after REKEY_AFTER_FRAMES or REKEY_AFTER_MS, whichever comes first; no key ever
 * seals more than REJECT_AFTER_FRAMES, and a receiver drops frames of a session older
 * than REJECT_AFTER_MS.
 */
#define REKEY_AFTER_FRAMES (1ULL << 30)
#define REJECT_AFTER_FRAMES (1ULL << 31)
#define REKEY_AFTER_MS (120 * 1000)
#define REJECT_AFTER_MS (180 * 1000)
/*
 * After a new session is confirmed, the replaced one still opens frames that were in
 * flight when the switch happened, for this long.
 */
#define PREVIOUS_SESSION_KEEP_MS (10 * 1000)

/* ---- handshake (docs/PROTOCOL.md "Handshake") ---- */

/*
 * Unconfirmed responder sessions kept per channel. A replayed init (only possible while
 * the channel has no current session: the timestamp refuses it otherwise) can only cycle
 * these slots; it never touches the confirmed session.
 */
#define HANDSHAKE_MAX_PENDING 4
/* An unconfirmed responder session is forgotten after this long. */
#define HANDSHAKE_PENDING_MS (15 * 1000)

/* ---- logging ---- */

/* Log lines that a peer can trigger: at most this many per interval, then a summary. */
#define LOG_RATELIMIT_BURST 10
#define LOG_RATELIMIT_INTERVAL_MS (5 * 1000)

/* ---- configuration ---- */

/* One config line; longer lines are an error, never silently cut. */
#define CONFIG_MAX_LINE_BYTES 4096
/* A config file; anything larger is not a config file. */
#define CONFIG_MAX_FILE_BYTES (1024 * 1024)
/* Channels one server serves; the init MAC is tried against each channel's key. */
#define CONFIG_MAX_CHANNELS 64
/* Channel names appear in logs and config sections. */
#define CHANNEL_NAME_MAX_BYTES 64

/* ---- batch / l7 codec (docs/PROTOCOL.md section 5) ---- */

/*
 * Host name in L7_OPEN. A DNS name is at most 253 characters and an IPv6 literal with a
 * zone far less; 255 keeps the length in one byte's range and the decoded copy on the
 * stack.
 */
#define L7_HOST_MAX_BYTES 255

/* ---- replay window, sealed-frame core (core/replay.c, core/session.c) ---- */

/*
 * Counters the replay window actually guarantees to judge: the newest accepted counter
 * and the REPLAY_WINDOW_FRAMES - 1 before it. One 64-bit word of the REPLAY_WINDOW_BITS
 * bitmap is always the partly filled word of the newest counter, so the guaranteed span
 * is one word short of the bitmap (as in RFC 6479 and WireGuard). Anything older is
 * rejected as a replay.
 */
#define REPLAY_WINDOW_FRAMES (REPLAY_WINDOW_BITS - 64)

/* ---- handshake, per-channel sessions, index table (handshake.c, peer.c, index.c) ---- */

/*
 * A client whose INIT got no verified RESPONSE within this long sends a fresh INIT (new
 * ephemeral, new index). Long enough for one HTTP round trip over a slow path, short
 * enough that a lost handshake costs seconds, as in WireGuard (REKEY_TIMEOUT 5 s).
 */
#define HANDSHAKE_RETRY_MS (5 * 1000)
/*
 * Sessions one peer holds at once: current, previous and the pending ones. Each has an
 * index in the index table.
 */
#define PEER_MAX_SESSIONS (2 + HANDSHAKE_MAX_PENDING)
/*
 * Sessions one process holds at once, over all channels; one more per channel on the
 * client side for the index of a handshake in progress. Bounds the index table.
 */
#define INDEX_MAX_ENTRIES (CONFIG_MAX_CHANNELS * (PEER_MAX_SESSIONS + 1))
/*
 * Slots of the open-addressing index table: a power of two at least twice
 * INDEX_MAX_ENTRIES, so linear probing stays short (load factor <= 0.5).
 */
#define INDEX_TABLE_SLOTS 1024

/* ---- tun (docs/TUN.md) ---- */

/* Kernel picks the first free httun0, httun1, ... when no name is given. */
#define TUN_DEFAULT_NAME "httun%d"
/*
 * Default device MTU. The carrier is TCP, so inner packets never fragment on the outer
 * path; the MTU only matters to hosts beyond the tunnel. With offload, 1500 matches every
 * Ethernet while the kernel still hands over 64 KiB TCP segments; without it, per-packet
 * cost dominates, so the largest MTU the driver allows is the fast choice, and TCP's MSS
 * exchange keeps it harmless for hosts behind 1500-byte links (docs/TUN.md "MTU").
 */
#define TUN_DEFAULT_MTU 1500
#define TUN_DEFAULT_MTU_NO_OFFLOAD 65535
/* RFC 791: every IPv4 host must handle 68-byte packets. */
#define TUN_MIN_MTU 68
/* RFC 8200: IPv6 needs 1280; below it the kernel disables IPv6 on the device. */
#define TUN_MIN_MTU_IPV6 1280
/* The tun driver's max_mtu, also the IPv4 total-length ceiling. */
#define TUN_MAX_MTU 65535
/* Largest packet read with offload: a TSO segment is at most 64 KiB of IP packet. */
#define TUN_MAX_GSO_PACKET_BYTES 65535
/*
 * Smallest gso_size taken from the peer: RFC 879/1122's default MSS, which every host
 * accepts. A smaller one would let one record of 64 KiB become tens of thousands of
 * packets in the receiving kernel (gso_size 1: ~65,000); at 536 it is at most 122, what
 * the peer could send as plain packets anyway (docs/TUN.md "Offloads").
 */
#define VNET_MIN_GSO_BYTES 536
/*
 * Addresses and routes on one device: flags and config lines, not a routing table. As
 * many as a channel's config may list (CONFIG_MAX_TUN_ADDRESSES, CONFIG_MAX_ROUTES).
 */
#define TUN_MAX_ADDRESSES 16
#define TUN_MAX_ROUTES 256
/*
 * Packets read per readable event before yielding to the loop, so a flood from the
 * device cannot starve the HTTP side (same idea as NAPI's budget of 64).
 */
#define TUN_READ_BUDGET_PACKETS 64
/*
 * A quiet endpoint's first packet leaves alone (tunnel_endpoint_packet), but not within
 * this long of packets delivered to its TUN: what the kernel answers to a burst (the ACKs
 * of downstream data) is a batch, read whole. An idle ping's last delivery is 10 ms old.
 */
#define TUNNEL_QUIET_AFTER_RX_MS 2

/* ---- frame queues (core/frameq.c, docs/DESIGN.md) ---- */

/*
 * Free frame buffers a queue keeps for reuse while busy: as many as the sealed queue
 * holds full frames (TUNNEL_QUEUE_MAX_BYTES / TUNNEL_FRAME_PLAINTEXT_BYTES). iperf3 TCP
 * had up to 22 buffers out at once (queue, open frame, bodies being written); with a
 * smaller pool (it was 8) buffers were malloc'd and freed per frame under load.
 * frameq_trim() gives back what is not needed once the load drops, so this bounds only
 * what a busy queue keeps: 4 MiB. A flood of small packets has hundreds of small frames
 * queued, each in its own buffer; those come from malloc (only touched pages resident).
 */
#define FRAMEQ_MAX_POOLED 32
/*
 * Pooled buffers frameq_trim() keeps even when the last interval needed none: zero, so an
 * idle channel holds only its open frame. The first frame after a pause costs one malloc.
 */
#define FRAMEQ_IDLE_POOLED 0
/*
 * Memory of the frames a queue holds, as a multiple of its byte bound
 * (TUNNEL_QUEUE_MAX_BYTES): each sealed frame keeps a whole buffer however little it
 * holds, and a flood of small packets is sealed a few packets per loop turn, so the byte
 * bound alone let the sender of a 1 Gbit/s UDP flood behind lighttpd reach 46 MiB (bench,
 * client peak). Twice the bound: full TCP frames (64 KiB segments) never reach it.
 */
#define FRAMEQ_BUFFERS_OVER_QUEUE_FACTOR 2

/* ---- config and L7 policy (core/config.c, core/policy.c; docs/CONFIGURATION.md) ---- */

/* listen lines of [server]: one per address family and port is the usual case. */
#define CONFIG_MAX_LISTENS 16
/* tun-address lines per channel: an IPv4 and an IPv6 address, with room to spare. */
#define CONFIG_MAX_TUN_ADDRESSES TUN_MAX_ADDRESSES
/* route lines per channel: split tunnels list networks one by one. */
#define CONFIG_MAX_ROUTES TUN_MAX_ROUTES
/*
 * allowed-ips lines per channel: every packet from a client is matched against each in
 * turn (core/allowed_ips.h, a linear scan), so a site's networks, not a routing table.
 */
#define CONFIG_MAX_ALLOWED_IPS 64
/* forward lines of [client]: each is a listening socket on the client. */
#define CONFIG_MAX_FORWARDS 64
/* l7-allow rules per channel; policy_check() walks them all for every connection. */
#define POLICY_MAX_RULES 256
/* The server's own addresses the policy protects (one per interface address). */
#define POLICY_MAX_OWN_ADDRESSES 256
/* Forward target host: the L7_OPEN host field holds 1..255 bytes (docs/PROTOCOL.md). */
#define CONFIG_HOST_MAX_BYTES 255
/* URL of the server, as the client is given it; longer ones are mistakes. */
#define CONFIG_URL_MAX_BYTES 2048
/* URL path prefix served (server path, client URL path); leaves room in a request line. */
#define CONFIG_PATH_MAX_BYTES 512
/* Linux interface names: IFNAMSIZ (16) including the NUL. */
#define CONFIG_TUN_NAME_MAX_BYTES 16
/* Unix socket path: sizeof(sun_path) (108) including the NUL. */
#define CONFIG_SOCKET_PATH_MAX_BYTES 108
/* User name for --user; useradd allows 32 characters. */
#define CONFIG_USER_MAX_BYTES 32
/*
 * TUN MTU. 576 is the datagram size every IPv4 host must accept (RFC 791); 65535 is the
 * largest the IP total length field can express; a channel with an IPv6 address needs
 * 1280 (RFC 8200). The default is Ethernet's, so packets that leave the server's TUN for
 * an ordinary network fit without relying on path MTU discovery.
 */
#define CONFIG_MTU_MIN 576
#define CONFIG_MTU_MAX 65535
#define CONFIG_MTU_IPV6_MIN 1280
#define CONFIG_MTU_DEFAULT 1500
/*
 * Client busy polling (docs/PERFORMANCE.md "Busy polling"): after each pass of the event
 * loop, poll for more work without sleeping for up to this many microseconds. 0, the
 * default, is off: it only pays where the server is a LAN away, and costs up to the
 * window in CPU time per wakeup. 1000 us covers
 * a LAN's round trip with room to spare; a longer window would only spend CPU.
 */
#define CONFIG_BUSY_POLL_MAX_US 1000
/* Config text quoted in an error message: enough to recognise, short enough for a line. */
#define CONFIG_QUOTE_MAX_BYTES 100

/* ---- the tunnel over HTTP (transport/tunnel*.c, docs/DESIGN.md) ---- */

/*
 * How long the server holds a long-poll GET with nothing to send before it answers 200
 * with an empty body. Below every common proxy and FastCGI read timeout (nginx 60 s,
 * Apache mod_fcgid 40 s), long enough that an idle tunnel costs a request per 20 s.
 */
#define POLL_HOLD_MS (20 * 1000)
/* Polls one channel may have parked; a further poll answers the oldest at once. */
#define POLL_MAX_PARKED 8
/* Polls the client keeps outstanding, so one is always parked at the server. */
#define CLIENT_POLLS 2
/* Upstream POSTs the client keeps in flight at once. */
#define CLIENT_POSTS 2
/*
 * Plaintext of one frame built by the tunnel: room for a whole 64 KiB offloaded segment
 * and more; a frame is sealed as soon as a read burst ends, so this only bounds batches.
 */
#define TUNNEL_FRAME_PLAINTEXT_BYTES (128 * 1024)
/*
 * Sealed frames queued per channel and direction before the TUN is paused (the kernel
 * then drops and counts): about 30 ms at 1 Gbit/s, enough to cover a poll round trip.
 */
#define TUNNEL_QUEUE_MAX_BYTES (4 * 1024 * 1024)
/* One HTTP body of frames, at most; below HTTP_MAX_BODY_BYTES so it is always accepted. */
#define TUNNEL_BODY_MAX_BYTES (1024 * 1024)
#define TUNNEL_BODY_MAX_FRAMES 64
/* Client housekeeping tick: handshake retries, rekeys, session expiry. */
#define CLIENT_TICK_MS 100
/* Retry delays after a failed request: doubling from MIN up to MAX. */
#define CLIENT_BACKOFF_MIN_MS 100
#define CLIENT_BACKOFF_MAX_MS (5 * 1000)
/* A poll may legitimately take POLL_HOLD_MS; the rest is slack for slow paths. */
#define CLIENT_POLL_TIMEOUT_MS (POLL_HOLD_MS + 15 * 1000)
/*
 * After a handshake, a 404 that says the server lost the new session again waits this
 * long before the next handshake, so a server that keeps forgetting sessions (a load
 * balancer spreading requests over several servers) is not hammered.
 */
#define CLIENT_REHANDSHAKE_MIN_MS 1000
/* Command-line options one invocation may give (repeatable ones included). */
#define CMD_MAX_FLAGS 512
/* Server housekeeping tick: session and handshake expiry. */
#define SERVER_TICK_MS 1000
#define CLIENT_POST_TIMEOUT_MS (15 * 1000)

/* ---- transport: HTTP/1.1 server and client (docs/TRANSPORT.md) ---- */

/*
 * Request target. httun URLs are PREFIX plus a 48-character token; 2 KiB leaves room for
 * any sane prefix and is below what proxies accept, so a longer URL is never ours.
 */
#define HTTP_MAX_URL_BYTES 2048
/*
 * Header names plus values of one message. Proxies add Via, X-Forwarded-For and cookies
 * of the site; 8 KiB is the common web-server default and bounds per-connection memory.
 */
#define HTTP_MAX_HEADER_BYTES (8 * 1024)
/* Header lines of one message; same reasoning as HTTP_MAX_HEADER_BYTES. */
#define HTTP_MAX_HEADER_COUNT 64
/*
 * Request body (a batch of sealed frames). Room for several maximum-size frames
 * (FRAME_MAX_PLAINTEXT_BYTES) per POST; the buffer is allocated from Content-Length
 * before the body arrives.
 */
#define HTTP_MAX_BODY_BYTES (2 * 1024 * 1024)
/*
 * Body bytes received and held by all connections together, charged as they arrive (a
 * buffer's pages are resident only once written). Bodies arrive before anything in them
 * is authenticated, so without this a few hundred connections sending big bodies pin
 * HTTP_MAX_BODY_BYTES * HTTP_MAX_CONNECTIONS (512 MiB). 32 MiB still carries 16 clients
 * each with two full POSTs in flight. When it is full, a body still arriving gives way
 * with a 503 (on a connection no request vouched for, first; the one longest without a
 * byte, first), never a body that is complete now, such as a newcomer's handshake.
 */
#define HTTP_MAX_BODY_BYTES_TOTAL (32 * 1024 * 1024)
/*
 * Open server connections. Each client keeps a few (two parked polls plus POSTs in
 * flight). At the cap a new connection pushes out the quietest connection that no
 * request has vouched for (http_request_vouch: a frame or poll that opened), so a flood
 * of idle, slow or silent connections only displaces itself; when every connection
 * belongs to a live tunnel, the new one gets a 503 and is closed at once.
 */
#define HTTP_MAX_CONNECTIONS 256
/*
 * Connections from one source (an IPv4 address, an IPv6 /64) that have not yet carried an
 * authenticated request. A live tunnel's connections are vouched for by their first frame
 * or poll and do not count, so many clients behind one NAT or one reverse proxy are not
 * limited by it; only their fresh connections (about four each after a server restart)
 * do, and at the cap the source's own quietest one gives way rather than the newcomer.
 * A quarter of HTTP_MAX_CONNECTIONS: one attacking host alone can hold at most this
 * many, not fill the server. --max-unauth-per-source changes it.
 */
#define HTTP_MAX_UNVOUCHED_PER_SOURCE 64
/*
 * From the end of a request's head to the end of its body. httun's client gives up a
 * POST after CLIENT_POST_TIMEOUT_MS, so a body still arriving after twice that is
 * nobody's; without a deadline a sender trickling a byte per HTTP_BODY_TIMEOUT_MS held
 * its body (and its share of the budget) for hours.
 */
#define HTTP_BODY_DEADLINE_MS (2 * CLIENT_POST_TIMEOUT_MS)
/*
 * From the first byte of a request (or from accept) to the end of its header. Stops
 * slowloris: a peer trickling header bytes holds a connection for at most this long.
 */
#define HTTP_HEADER_TIMEOUT_MS (10 * 1000)
/*
 * Keep-alive connection with no request. Clients keep polls outstanding, so a healthy
 * connection is never idle this long; proxies' upstream idle timeouts are about 60 s.
 */
#define HTTP_IDLE_TIMEOUT_MS (60 * 1000)
/*
 * Longest pause between two reads of a request body. A gap, not a deadline: a large
 * body on a slow link is fine as long as it keeps moving.
 */
#define HTTP_BODY_TIMEOUT_MS (10 * 1000)
/* A response the peer does not read for this long: the peer is gone or hostile. */
#define HTTP_WRITE_TIMEOUT_MS (30 * 1000)
/*
 * After the last response of a closing connection: how long to keep reading and
 * discarding, so that unread input does not turn close() into a RST that destroys the
 * response still in flight to the peer.
 */
#define HTTP_LINGER_MS (2 * 1000)
/*
 * Per-connection read buffer for headers and small bodies, reused for every request.
 * Bodies with Content-Length are read straight into their own buffer, not through this.
 */
#define HTTP_READ_BUF_BYTES (64 * 1024)
/*
 * A connection keeps its body buffer for the next request up to this size, so steady
 * traffic of normal-size batches needs no malloc per request; larger ones are freed.
 */
#define HTTP_BODY_KEEP_BYTES (512 * 1024)
/* Response body the client accepts (a poll answer is a batch of frames). */
#define HTTP_CLIENT_MAX_BODY_BYTES HTTP_MAX_BODY_BYTES
/* TCP connect to the server, per attempt. */
#define HTTP_CLIENT_CONNECT_TIMEOUT_MS (10 * 1000)
/* Keep-alive connections a client opens to its one origin by default. */
#define HTTP_CLIENT_POOL_DEFAULT 4
/* Idle request structures a client keeps for reuse instead of freeing them. */
#define HTTP_CLIENT_FREE_REQS 16

/* ---- TLS engine (transport/tls.h, docs/TRANSPORT.md "TLS engine") ---- */

/*
 * Ciphertext one TLS connection holds before tls_conn_write() takes no more plaintext.
 * A peer that does not read then stalls the writer instead of growing the queue; four
 * times the HTTP read buffer keeps a fast socket busy between two writes.
 */
#define TLS_OUT_MAX_BYTES (256 * 1024)
/*
 * Ciphertext is queued in blocks of this size, freed as they are written: four full TLS
 * records (16 KiB each plus their overhead) per allocation, and an idle connection holds
 * none.
 */
#define TLS_OUT_CHUNK_BYTES (64 * 1024)
/*
 * A PEM certificate chain or CA file (--ca-file may name a whole bundle: Debian's is
 * about 220 KB). Read whole into memory once, at start and at reload.
 */
#define TLS_PEM_FILE_MAX_BYTES (4 * 1024 * 1024)
/* A PEM private key: an 8192-bit RSA key is under 7 KB. */
#define TLS_KEY_FILE_MAX_BYTES (16 * 1024)

/* ---- fcgi (fcgi/fcgi_record.h, docs/FASTCGI.md) ---- */

/*
 * One request's PARAMS, all records together. Web servers pass every HTTP header as an
 * HTTP_* param; typical requests need 1-2 KiB, and 32 KiB covers the largest header block
 * that nginx, Apache and lighttpd accept by default. More is refused, never cut.
 */
#define FCGI_PARAMS_MAX_BYTES (32 * 1024)
/*
 * Requests multiplexed on one FastCGI connection (advertised as FCGI_MAX_REQS). The common
 * web servers never multiplex; a small table is enough and bounds per-connection state.
 */
#define FCGI_MAX_REQS_PER_CONN 16
/*
 * Connections the FastCGI app serves at once (advertised as FCGI_MAX_CONNS): every pending
 * long-poll holds one, so this bounds the polls one web server can park.
 */
#define FCGI_MAX_CONNS 64

/* ---- L7 streams (core/stream.c, transport/l7.c; docs/PROTOCOL.md "L7 streams") ---- */

/*
 * Receive window per stream and direction: the data one stream may have in flight and
 * everything the receiver holds for it (reassembly plus socket writes not yet done). At
 * a tunnel round trip of 1-2 ms it allows well over 1 Gbit/s for one stream; times
 * L7_MAX_STREAMS it is the worst-case memory of a channel's streams (64 MiB).
 */
#define L7_WINDOW_BYTES_DEFAULT (256 * 1024)
/*
 * Streams one channel carries at once. Each holds a socket and up to a window of memory;
 * further connections are refused (reset, "out of resources") rather than queued.
 */
#define L7_MAX_STREAMS 256
/*
 * Streams of all the server's channels together, at most (one socket each): 16 channels
 * at their full L7_MAX_STREAMS. Lowered at start to the file descriptor limit minus
 * FD_RESERVE, so that however many channels' clients open streams, the HTTP server can
 * still accept (a client's reconnect among them). Past it, opens are refused like past
 * L7_MAX_STREAMS (docs/L7.md "Limits").
 */
#define L7_MAX_STREAMS_TOTAL 4096
/*
 * Descriptors the server keeps for what is not an L7 stream, besides FD_SLACK: every HTTP
 * connection and the one a 503 holds for a moment, the relay and FastCGI connections
 * (each cap plus the one its refusal holds), one TUN device per channel, the listeners.
 */
#define FD_RESERVE                                                                                 \
	(HTTP_MAX_CONNECTIONS + 1 + RELAY_MAX_CONNS + 1 + FCGI_MAX_CONNS + 1 +                     \
	 CONFIG_MAX_CHANNELS + CONFIG_MAX_LISTENS + 2 + FD_SLACK)
/*
 * The rest: stdio, epoll, libuv's signal and async pipes and its accept() reserve,
 * rtnetlink, name lookups in flight in the thread pool (4 threads), the key and config
 * files while read; 64 is several times what these take.
 */
#define FD_SLACK 64
/*
 * A gap in a stream (later data arrived, earlier data did not) that stays open this long
 * means the frame was lost with a failed POST or poll; there is no retransmission, so the
 * stream is reset. Above CLIENT_POST_TIMEOUT_MS would wait for a POST that is merely slow;
 * 10 s is far beyond any reordering between requests in flight together.
 */
#define L7_GAP_TIMEOUT_MS (10 * 1000)
/*
 * A window announcement that was lost (with a failed HTTP request) would leave the sender
 * waiting forever: a stream standing still at its previous window edge for
 * L7_GAP_TIMEOUT_MS announces its window again, at most this many times per position.
 */
#define L7_WINDOW_REANNOUNCE_TRIES 3
/*
 * The server's name lookup of a target, and then its TCP connect, each. A lookup that
 * outlasts it is abandoned (the stream is reset, "timed out"), though the resolver
 * thread itself runs until the resolver gives up.
 */
#define L7_CONNECT_TIMEOUT_MS (10 * 1000)
/*
 * Client: from L7_OPEN to the server's answer. Covers the server's name lookup (the
 * resolver's own retries take up to ~10 s) and its connect timeout.
 */
#define L7_OPEN_TIMEOUT_MS (30 * 1000)
/* Housekeeping of streams: the timeouts above are checked this often. */
#define L7_TICK_MS 250
/* Addresses of one resolved target that the server tries, in resolver order. */
#define L7_MAX_TARGET_ADDRESSES 8
/*
 * Smallest socket read worth starting a record for: below this the open frame is sealed
 * and the read goes into a fresh one, so records stay large.
 */
#define L7_READ_MIN_BYTES 2048
/* Largest socket read into one L7_DATA record (the record length field is 16 bits). */
#define L7_READ_MAX_BYTES (RECORD_MAX_BODY_BYTES - L7_DATA_FIXED_BYTES)
/* ---- relay (core/relay.h, docs/PROTOCOL.md section 9) ---- */

/* Request method on the relay: the longest standard method name is 7 bytes. */
#define RELAY_METHOD_MAX_BYTES 16
/*
 * A response's Content-Type, from any request source (core/request.h): httun sends only
 * short fixed types, and the relay carries the length in one byte.
 */
#define REQUEST_CTYPE_MAX_BYTES 64
/* Response Content-Type on the relay: what any source may answer. */
#define RELAY_CTYPE_MAX_BYTES REQUEST_CTYPE_MAX_BYTES
/* A request body relayed: what httun server accepts over HTTP directly. */
#define RELAY_MAX_BODY_BYTES HTTP_MAX_BODY_BYTES
/*
 * Largest payload of one relay message (a REQUEST with the longest method, URL and body).
 * A peer announcing more is broken or hostile: the connection is closed, never read on.
 */
#define RELAY_MAX_PAYLOAD_BYTES                                                                    \
	(1 + RELAY_METHOD_MAX_BYTES + 2 + HTTP_MAX_URL_BYTES + RELAY_MAX_BODY_BYTES)
/* Read buffer a relay connection starts with; it grows to the message size announced. */
#define RELAY_READ_BUF_BYTES (64 * 1024)
/* A grown relay read buffer shrinks back after this many reads without a large message. */
#define RELAY_SHRINK_AFTER_READS 256
/*
 * Relay connections httun server takes on: one per `httun fcgi` process (mod_fcgid
 * runs up to one per request in flight). At the cap the connection idle longest makes room,
 * so a process that holds connections without using them cannot lock the relays out.
 */
#define RELAY_MAX_CONNS 64
/* Requests in flight on one relay connection: FastCGI connections times their requests. */
#define RELAY_MAX_REQS (FCGI_MAX_CONNS * 4)
/* httun fcgi reconnects to a restarted server after this long, doubling up to the max. */
#define RELAY_RECONNECT_MIN_MS 100
#define RELAY_RECONNECT_MAX_MS (2 * 1000)
/*
 * A request that arrives while the server is unreachable waits this long for the relay to
 * come back, then gets 503: the client retries anyway, and a short wait hides a restart.
 */
#define RELAY_WAIT_MS (5 * 1000)
/*
 * Answer bytes httun server queues on one relay connection before it stops reading that
 * relay's requests (and resumes once the relay reads again). A relay that never reads its
 * answers would otherwise grow server memory without bound; 4 MiB holds two maximum-size
 * answers, and a healthy relay on a local socket drains far faster than it is filled.
 */
#define RELAY_MAX_QUEUED_BYTES (4 * 1024 * 1024)
/* An answer the relay does not read for this long: it is hung or hostile; closed. */
#define RELAY_WRITE_TIMEOUT_MS (30 * 1000)
/*
 * From accept to the relay's HELLO. httun fcgi sends it at once; a connection that stays
 * silent only holds one of the RELAY_MAX_CONNS places and is closed.
 */
#define RELAY_HELLO_TIMEOUT_MS (5 * 1000)
/*
 * A relay past HELLO with no request in flight and no message for this long is closed:
 * its slot goes back to the pool. Minutes, as a real relay may see no client for hours
 * and reconnecting costs it nothing; httun fcgi reconnects on its own before this
 * (FCGI_RELAY_IDLE_MS), so the server's close never races one of its requests.
 */
#define RELAY_IDLE_TIMEOUT_MS (5 * 60 * 1000)
/*
 * Longest pause in the middle of a relay message (a gap between reads, not a deadline):
 * httun fcgi writes a whole message at once over a local socket.
 */
#define RELAY_READ_TIMEOUT_MS (10 * 1000)
/* The relay server checks the timeouts above this often. */
#define RELAY_TICK_MS 250
/*
 * How often httun fcgi looks at requests waiting for the relay (RELAY_WAIT_MS) and at its
 * reconnect backoff: a tenth of RELAY_RECONNECT_MIN_MS would be needlessly busy; 100 ms
 * keeps both within a tick of their target.
 */
#define FCGI_TICK_MS 100
/*
 * httun fcgi closes its relay connection after this long with nothing relayed or
 * answered and connects again at once: well inside RELAY_IDLE_TIMEOUT_MS, so the server
 * never closes an idle relay of ours while a request is on its way to it.
 */
#define FCGI_RELAY_IDLE_MS (RELAY_IDLE_TIMEOUT_MS / 2)
/*
 * Output bytes httun fcgi queues on one FastCGI connection before it stops reading that
 * connection (and resumes once the web server reads again). Without it a peer flooding
 * GET_VALUES and never reading grows the app's memory without bound; 4 MiB holds two
 * maximum-size answers.
 */
#define FCGI_MAX_QUEUED_BYTES (4 * 1024 * 1024)
/* STDIN bytes httun fcgi accepts for one request: the relayed body limit. */
#define FCGI_STDIN_MAX_BYTES RELAY_MAX_BODY_BYTES

/* ---- L7 hardening (core/stream.c, transport/l7_streams.c) ---- */
/*
 * Out-of-order pieces one stream's receiver holds at most. Each piece is its own
 * allocation in a sorted list; a peer sending 1-byte records out of order would otherwise
 * make 100k+ allocations per window and an O(n) insert each (seconds of CPU blocking the
 * loop). A well-behaved sender's frames are KB-sized and reorder by a few HTTP requests:
 * 256 pieces is far more than the windows (256 KiB) hold of those. Beyond it the stream
 * is reset (out of resources). Their bookkeeping (STREAM_SEG_OVERHEAD each, ~12 KiB per
 * stream at most) comes on top of the window, not out of it.
 */
#define L7_MAX_SEGMENTS 256
/*
 * Control records (window updates, resets) a channel may queue beyond the frame queue's
 * bound, in sealed bytes: the bound again. Past it even control records are dropped
 * (and counted), so a peer that never polls cannot grow the server's memory without
 * bound; answers to unknown streams or denied opens are dropped already at the bound.
 */
#define L7_CONTROL_OVER_QUEUE_FACTOR 2

/* ---- memory housekeeping (core/mem.c, cmd/common.c; docs/DESIGN.md) ---- */
/*
 * How often server and client give back buffers the last interval did not need (frame
 * pools, kept HTTP bodies) and, if any were freed, ask malloc to return free memory to
 * the kernel. One second: a busy channel's working set survives short gaps between
 * bursts, and an idle process is back at its idle size within about two seconds.
 */
#define MEM_TRIM_INTERVAL_MS 1000
/*
 * Free heap memory above which the housekeeping tick asks malloc to return it (besides
 * after freeing idle buffers): frees outside the pools (large bodies, closed
 * connections) otherwise stay with the process. malloc_trim costs about the size of its
 * free lists, so it is not worth calling for less.
 */
#define MEM_TRIM_FREE_BYTES (256 * 1024)

/* ---- httun fcgi: request bodies held at once ---- */
/*
 * Request bodies `httun fcgi` holds at once over all its connections. A body grows as its
 * STDIN arrives (up to CONTENT_LENGTH, at most FCGI_STDIN_MAX_BYTES) and its size counts
 * until it is complete and passed to the server: without a budget, senders behind the web
 * server could make it hold FCGI_MAX_CONNS x FCGI_MAX_REQS_PER_CONN of them. A body that
 * would pass it makes the slowest incomplete body go (503). The standalone server's
 * budget, for the same reason.
 */
#define FCGI_BODY_BYTES_TOTAL HTTP_MAX_BODY_BYTES_TOTAL
/* A request body that gets no STDIN for this long is answered 408 and dropped. */
#define FCGI_BODY_IDLE_MS HTTP_BODY_TIMEOUT_MS
/*
 * A request body not complete this long after its PARAMS ended is answered 408 and
 * dropped, however steadily it trickles: a deadline, where FCGI_BODY_IDLE_MS is a gap.
 * A full 2 MiB body in 30 s needs 70 KB/s from its client, and the web servers that
 * collect a body before passing it on (nginx, Apache) do so at local socket speed.
 */
#define FCGI_BODY_DEADLINE_MS HTTP_BODY_DEADLINE_MS

#endif
