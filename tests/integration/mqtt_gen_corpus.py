#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Writes the seed corpus for tests/fuzz/fuzz_mqtt.c: real MQTT 3.1.1 packets
# built here from the spec (independently of agent/mqtt_codec.c), a few
# multi-packet streams, and some near-miss malformed packets.
# Usage: python3 tests/integration/mqtt_gen_corpus.py [outdir]
import os
import struct
import sys


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def s(x):
    if isinstance(x, str):
        x = x.encode()
    return struct.pack(">H", len(x)) + x


def pkt(first, body):
    return bytes([first]) + varint(len(body)) + body


def connect(cid, clean=True, keep=60, will=None, user=None, pw=None):
    flags = 0x02 if clean else 0
    payload = s(cid)
    if will:
        topic, msg, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        payload += s(topic) + s(msg)
    if user is not None:
        flags |= 0x80
        payload += s(user)
    if pw is not None:
        flags |= 0x40
        payload += s(pw)
    return pkt(0x10, s("MQTT") + bytes([4, flags]) + struct.pack(">H", keep) + payload)


def publish(topic, payload, qos=0, pid=0, retain=False, dup=False):
    first = 0x30 | (qos << 1) | (0x08 if dup else 0) | (0x01 if retain else 0)
    body = s(topic) + (struct.pack(">H", pid) if qos else b"") + payload
    return pkt(first, body)


def ack(t, pid, flags=0):
    return pkt((t << 4) | flags, struct.pack(">H", pid))


def subscribe(pid, topics):
    body = struct.pack(">H", pid)
    for f, q in topics:
        body += s(f) + bytes([q])
    return pkt(0x82, body)


def unsubscribe(pid, topics):
    return pkt(0xA2, struct.pack(">H", pid) + b"".join(s(f) for f in topics))


def suback(pid, codes):
    return pkt(0x90, struct.pack(">H", pid) + bytes(codes))


def connack(sp, rc):
    return pkt(0x20, bytes([sp, rc]))


seeds = {
    "connect_min": connect("a"),
    "connect_full": connect("node-1", clean=False, keep=30,
                            will=("farnode/v1/p/node-1/state", b"offline", 1, True),
                            user="user", pw=b"secret"),
    "connect_will_q0": connect("n", will=("w", b"", 0, False)),
    "connect_user_only": connect("", user="u"),
    "connack_ok": connack(0, 0),
    "connack_present": connack(1, 0),
    "connack_refused": connack(0, 5),
    "publish_q0": publish("a/b", b"hello"),
    "publish_q0_retain": publish("farnode/v1/p/policy", b"\x0a\x03abc", retain=True),
    "publish_q1": publish("farnode/v1/p/n/desired", b"x" * 40, qos=1, pid=7),
    "publish_q1_dup": publish("t", b"", qos=1, pid=65535, dup=True),
    "publish_q2": publish("t/u", b"two", qos=2, pid=2),
    "publish_utf8": publish("caf\u00e9/\u20ac/\U0001f600", b"\x00\xff"),
    "publish_200": publish("big", b"z" * 200, qos=1, pid=3),
    "puback": ack(4, 1),
    "pubrec": ack(5, 2),
    "pubrel": ack(6, 3, 2),
    "pubcomp": ack(7, 4),
    "unsuback": ack(11, 5),
    "subscribe": subscribe(10, [("farnode/v1/p/policy", 1), ("farnode/v1/p/+/desired", 1), ("#", 0)]),
    "subscribe_sys": subscribe(11, [("$SYS/#", 0)]),
    "unsubscribe": unsubscribe(12, ["a/+/c", "/#"]),
    "suback": suback(10, [1, 1, 0x80]),
    "pingreq": pkt(0xC0, b""),
    "pingresp": pkt(0xD0, b""),
    "disconnect": pkt(0xE0, b""),
    "nonminimal_len": bytes([0xD0, 0x80, 0x00]),
    # broker-side session: CONNACK then traffic
    "stream_session": connack(0, 0) + suback(1, [1]) + publish("a/b", b"p", qos=1, pid=9)
    + ack(4, 1) + ack(4, 2) + pkt(0xD0, b"") + publish("a/c", b"q", retain=True),
    "stream_refused_then_ok": connack(0, 2) + connack(0, 0) + ack(4, 1),
    "stream_client": connect("c") + subscribe(1, [("x/#", 1)]) + publish("x/y", b"m", qos=1, pid=1)
    + ack(4, 1) + pkt(0xC0, b"") + pkt(0xE0, b""),
    "stream_partial": connack(0, 0) + publish("a", b"12345")[:-2],
    # near misses
    "bad_5byte_len": bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),
    "bad_wildcard_topic": publish("a/+", b"x"),
    "bad_qos3": bytes([0x36]) + publish("a", b"", qos=1, pid=1)[1:],
    "bad_pid0": publish("a", b"x", qos=1, pid=0),
    "bad_flags_puback": ack(4, 1, 2),
    "bad_connect_level": pkt(0x10, s("MQTT") + bytes([3, 2, 0, 60]) + s("x")),
    "bad_surrogate": publish(b"\xed\xa0\x80", b""),
    "bad_sub_reserved": pkt(0x82, struct.pack(">H", 1) + s("a") + bytes([0x41])),
}

out = sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus/mqtt"
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {out}")
