/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * relay: the benchmark's bare userspace tunnel, the floor of what any userspace IP tunnel
 * can do on this machine. One process per side: it reads IP packets from a TUN device,
 * seals each one with AES-256-GCM (libsodium, key schedule precomputed once) and sends it
 * in one UDP datagram to the peer; datagrams from the peer are opened and written to the
 * TUN device. No handshake, no replay window, no batching: it exists only to be measured
 * (bench/run.sh), never to carry real traffic.
 *
 * Datagram: nonce (12 bytes: 4-byte sender id, 8-byte big-endian counter) || ciphertext ||
 * tag (16 bytes). Both sides share one key; the sender id keeps their nonces apart.
 *
 * Usage: relay TUN_NAME KEY_HEX SENDER_ID LOCAL_IPV4 PORT PEER_IPV4 PORT
 * The TUN device must exist (ip tuntap add ... mode tun); relay attaches to it. It runs
 * until SIGTERM or SIGINT and then prints its counters to stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* TUN MTU 1500 plus slack: a datagram is at most nonce + 1500 + tag. */
#define RELAY_PACKET_MAX 2048
#define RELAY_NONCE_LEN crypto_aead_aes256gcm_NPUBBYTES
#define RELAY_TAG_LEN crypto_aead_aes256gcm_ABYTES
/* Socket buffers large enough that a burst of TCP segments is not dropped at the carrier. */
#define RELAY_SOCKBUF (4 * 1024 * 1024)
/* Packets moved per wakeup before poll() is asked again, so neither direction starves. */
#define RELAY_BURST 64

static volatile sig_atomic_t relay_stop;

static void relay_signal(int sig)
{
	(void)sig;
	relay_stop = 1;
}

struct relay_stats {
	unsigned long long sealed, opened, bad, send_err, tun_err;
};

static int relay_tun_open(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	if (strlen(name) >= sizeof(ifr.ifr_name)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	memcpy(ifr.ifr_name, name, strlen(name) + 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

static int relay_addr_parse(const char *ip, const char *port, struct sockaddr_in *sa)
{
	char *end;
	unsigned long p = strtoul(port, &end, 10);

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (*port == '\0' || *end != '\0' || p == 0 || p > 65535)
		return -EINVAL;
	sa->sin_port = htons((uint16_t)p);
	if (inet_pton(AF_INET, ip, &sa->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

static int relay_udp_open(const struct sockaddr_in *local, const struct sockaddr_in *peer)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int sz = RELAY_SOCKBUF;

	if (fd < 0)
		return -errno;
	/* FORCE variants need CAP_NET_ADMIN (the bench runs as root); fall back quietly. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (bind(fd, (const struct sockaddr *)local, sizeof(*local)) < 0 ||
	    connect(fd, (const struct sockaddr *)peer, sizeof(*peer)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

static int relay_key_parse(const char *hex, unsigned char key[crypto_aead_aes256gcm_KEYBYTES])
{
	size_t len = 0;

	if (sodium_hex2bin(key, crypto_aead_aes256gcm_KEYBYTES, hex, strlen(hex), NULL, &len,
			   NULL) != 0 ||
	    len != crypto_aead_aes256gcm_KEYBYTES)
		return -EINVAL;
	return 0;
}

/* TUN -> UDP: up to RELAY_BURST packets. */
static void relay_seal_burst(int tun, int udp, crypto_aead_aes256gcm_state *st, uint32_t sender,
			     uint64_t *counter, struct relay_stats *s)
{
	unsigned char in[RELAY_PACKET_MAX];
	unsigned char out[RELAY_PACKET_MAX + RELAY_NONCE_LEN + RELAY_TAG_LEN];

	for (int i = 0; i < RELAY_BURST; i++) {
		ssize_t n = read(tun, in, sizeof(in));
		unsigned long long clen = 0;

		if (n <= 0)
			return;
		out[0] = (unsigned char)(sender >> 24);
		out[1] = (unsigned char)(sender >> 16);
		out[2] = (unsigned char)(sender >> 8);
		out[3] = (unsigned char)sender;
		for (int b = 0; b < 8; b++)
			out[4 + b] = (unsigned char)(*counter >> (56 - 8 * b));
		(*counter)++;
		crypto_aead_aes256gcm_encrypt_afternm(out + RELAY_NONCE_LEN, &clen, in,
						      (unsigned long long)n, NULL, 0, NULL, out,
						      st);
		if (send(udp, out, RELAY_NONCE_LEN + (size_t)clen, 0) < 0)
			s->send_err++;
		else
			s->sealed++;
	}
}

/* UDP -> TUN: up to RELAY_BURST datagrams. */
static void relay_open_burst(int tun, int udp, crypto_aead_aes256gcm_state *st,
			     struct relay_stats *s)
{
	unsigned char in[RELAY_PACKET_MAX + RELAY_NONCE_LEN + RELAY_TAG_LEN];
	unsigned char out[RELAY_PACKET_MAX];

	for (int i = 0; i < RELAY_BURST; i++) {
		ssize_t n = recv(udp, in, sizeof(in), MSG_DONTWAIT);
		unsigned long long plen = 0;

		if (n < 0)
			return;
		if ((size_t)n < RELAY_NONCE_LEN + RELAY_TAG_LEN ||
		    crypto_aead_aes256gcm_decrypt_afternm(out, &plen, NULL, in + RELAY_NONCE_LEN,
							  (unsigned long long)n - RELAY_NONCE_LEN,
							  NULL, 0, in, st) != 0) {
			s->bad++;
			continue;
		}
		if (write(tun, out, (size_t)plen) < 0)
			s->tun_err++;
		else
			s->opened++;
	}
}

int main(int argc, char **argv)
{
	unsigned char key[crypto_aead_aes256gcm_KEYBYTES];
	crypto_aead_aes256gcm_state *st;
	struct sockaddr_in local, peer;
	struct relay_stats stats = { 0 };
	struct sigaction sa;
	uint64_t counter = 0;
	unsigned long sender;
	int tun, udp;

	if (argc != 8) {
		fprintf(stderr, "usage: relay TUN_NAME KEY_HEX SENDER_ID LOCAL_IPV4 PORT "
				"PEER_IPV4 PORT\n");
		return 2;
	}
	if (sodium_init() < 0 || !crypto_aead_aes256gcm_is_available()) {
		fprintf(stderr, "relay: AES-256-GCM is not available on this CPU\n");
		return 1;
	}
	sender = strtoul(argv[3], NULL, 10);
	if (relay_key_parse(argv[2], key) < 0 || relay_addr_parse(argv[4], argv[5], &local) < 0 ||
	    relay_addr_parse(argv[6], argv[7], &peer) < 0) {
		fprintf(stderr, "relay: bad key (64 hex digits) or address\n");
		return 2;
	}
	st = sodium_malloc(sizeof(*st));
	if (!st) {
		fprintf(stderr, "relay: out of memory\n");
		return 1;
	}
	crypto_aead_aes256gcm_beforenm(st, key);
	sodium_memzero(key, sizeof(key));

	tun = relay_tun_open(argv[1]);
	if (tun < 0) {
		fprintf(stderr, "relay: TUN %s: %s\n", argv[1], strerror(-tun));
		return 1;
	}
	udp = relay_udp_open(&local, &peer);
	if (udp < 0) {
		fprintf(stderr, "relay: UDP %s:%s: %s\n", argv[4], argv[5], strerror(-udp));
		return 1;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = relay_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	while (!relay_stop) {
		struct pollfd pfd[2] = { { .fd = tun, .events = POLLIN },
					 { .fd = udp, .events = POLLIN } };

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("relay: poll");
			return 1;
		}
		if (pfd[0].revents & POLLIN)
			relay_seal_burst(tun, udp, st, (uint32_t)sender, &counter, &stats);
		if (pfd[1].revents & POLLIN)
			relay_open_burst(tun, udp, st, &stats);
	}
	fprintf(stderr, "relay %s: sealed %llu opened %llu bad %llu send_err %llu tun_err %llu\n",
		argv[1], stats.sealed, stats.opened, stats.bad, stats.send_err, stats.tun_err);
	sodium_free(st);
	close(udp);
	close(tun);
	return 0;
}
