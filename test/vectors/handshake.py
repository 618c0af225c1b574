#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Recompute the handshake golden vector of docs/PROTOCOL.md section 3 without libsodium.

Independent of the C code: BLAKE2b from hashlib (keyed, digest_size), X25519 from the
'cryptography' package (python3-cryptography). Prints the vector; with a directory
argument also writes the seed corpus of test/fuzz/handshake.c there. The DH value can be
cross-checked with openssl as well:

    pre=302e020100300506032b656e04220420   # PKCS#8 prefix of a raw X25519 key
    (echo $pre; seq 32 63 | xargs printf '%02x') | xxd -r -p > c.der
    (echo $pre; seq 64 95 | xargs printf '%02x') | xxd -r -p > s.der
    openssl pkey -inform DER -in s.der -pubout -out s.pem
    openssl pkeyutl -derive -keyform DER -inkey c.der -peerkey s.pem | xxd -p -c 64
"""
import hashlib
import os
import struct
import sys

from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey


def B(n, k, m):
    return hashlib.blake2b(m, key=k, digest_size=n).digest()


def raw(k):
    return k.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)


psk = bytes(range(0x00, 0x20))
e_c = bytes(range(0x20, 0x40))
e_s = bytes(range(0x40, 0x60))
ci, si = 0x11111111, 0x22222222
ts = 0x0102030405060708   # INIT timestamp, nanoseconds since the Unix epoch

kc, ks = X25519PrivateKey.from_private_bytes(e_c), X25519PrivateKey.from_private_bytes(e_s)
E_c, E_s = raw(kc), raw(ks)
k_init = B(32, psk, b"httun v1 init")


def make_init(e_pub, t):
    m = bytes([1, 1, 0, 0]) + struct.pack(">I", ci) + e_pub + struct.pack(">Q", t)
    return m + B(16, k_init, m)


init = make_init(E_c, ts)
assert len(init) == 64
dh = kc.exchange(ks.public_key())
assert dh == ks.exchange(kc.public_key())
resp = bytes([2, 1, 0, 0]) + struct.pack(">II", si, ci) + E_s
T = init + resp
assert len(T) == 108
keys = B(64, psk, b"httun v1 keys" + dh + T)
resp += B(16, psk, b"httun v1 resp" + dh + T)
assert len(resp) == 60

for name, v in [("K_init", k_init), ("E_c", E_c), ("E_s", E_s), ("dh", dh), ("INIT", init),
                ("RESPONSE", resp), ("K_c2s", keys[:32]), ("K_s2c", keys[32:])]:
    print(f"{name:8} {v.hex()}")

if len(sys.argv) > 1:
    d = sys.argv[1]

    def w(name, b):
        with open(os.path.join(d, name), "wb") as f:
            f.write(b)

    w("init-golden", init)
    w("response-golden", resp)
    w("init-response-golden", init + resp)
    w("init-older", make_init(E_c, ts - 1))
    w("init-newer", make_init(E_c, ts + 1))
    w("init-truncated", init[:48])
    w("response-truncated", resp[:44])
    w("init-low-order", make_init(bytes(32), ts + 2))
    w("response-low-order", resp[:12] + bytes(32) + resp[44:])
    w("init-version-2", bytes([1, 2]) + init[2:])
    w("garbage", bytes(range(256)) * 2)
    w("empty", b"")
