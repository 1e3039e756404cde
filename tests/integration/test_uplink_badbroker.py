#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Bad input from the broker side. A scripted MQTT broker (Python ssl, the
# same certificates and required client certificates as the real tests)
# accepts the agent and then misbehaves, one connection per case: a
# PUBLISH whose topic length overruns the packet, a packet announcing
# 200 MB, a reserved packet type, a SUBACK for an id never used followed
# by silence (keepalive timeout). Each time the agent drops the session,
# counts the packet, backs off and reconnects; the events waiting in its
# outbox are never acknowledged by these sessions and stay stored; a last,
# well-behaved session acknowledges them and the outbox drains.
import os
import shutil
import socket
import ssl
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "test_uplink"))
import hubenv as H  # noqa: E402

T = H.Tap()


def read_packet(s):
    h = s.recv(1)
    if not h:
        return None, None
    mult, length = 1, 0
    while True:
        b = s.recv(1)
        if not b:
            return None, None
        length += (b[0] & 0x7F) * mult
        mult *= 128
        if not b[0] & 0x80:
            break
    body = b""
    while len(body) < length:
        chunk = s.recv(length - len(body))
        if not chunk:
            return None, None
        body += chunk
    return h[0], body


class FakeBroker:
    CASES = ["overrun", "huge", "reserved", "silent", "good"]

    def __init__(self, d):
        self.port = H.free_port()
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(f"{d}/server.pem", f"{d}/server.key")
        self.ctx.load_verify_locations(f"{d}/ca.pem")
        self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(8)
        self.sessions = []   # case per accepted MQTT session
        self.acked = 0
        self.stop = False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        case_i = 0
        while not self.stop:
            self.sock.settimeout(0.5)
            try:
                raw, _ = self.sock.accept()
            except OSError:
                continue
            try:
                conn = self.ctx.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError):
                raw.close()
                continue
            case = self.CASES[min(case_i, len(self.CASES) - 1)]
            case_i += 1
            try:
                self.session(conn, case)
            except (OSError, ssl.SSLError):
                pass
            finally:
                try:
                    conn.close()
                except OSError:
                    pass

    def session(self, c, case):
        c.settimeout(30)
        t, _ = read_packet(c)
        if t is None or t >> 4 != 1:
            return
        self.sessions.append(case)
        c.sendall(bytes([0x20, 2, 0, 0]))  # CONNACK accepted
        if case == "overrun":
            # PUBLISH QoS 0, topic length 5 but only 2 bytes follow
            c.sendall(bytes([0x30, 2, 0, 5]))
        elif case == "huge":
            c.sendall(bytes([0x30, 0xFF, 0xFF, 0xFF, 0x7F]))
        elif case == "reserved":
            c.sendall(bytes([0xF0, 0]))
        elif case == "silent":
            c.sendall(bytes([0x90, 3, 0x12, 0x34, 0]))  # SUBACK, no such id
            # then answer nothing: keepalive must notice
            c.settimeout(20)
            while read_packet(c)[0] is not None:
                pass
            return
        # drain what the agent sends until it closes; "good" answers
        while True:
            t, body = read_packet(c)
            if t is None:
                return
            kind = t >> 4
            if case != "good":
                continue
            if kind == 8:  # SUBSCRIBE
                pid = body[:2]
                c.sendall(bytes([0x90, 4]) + pid + bytes([1, 1]))
            elif kind == 3 and (t >> 1) & 3 == 1:  # PUBLISH QoS 1
                tl = body[0] << 8 | body[1]
                pid = body[2 + tl:4 + tl]
                if b"/events" in body[2:2 + tl]:
                    self.acked += 1
                c.sendall(bytes([0x40, 2]) + pid)
            elif kind == 12:  # PINGREQ
                c.sendall(bytes([0xD0, 0]))

    def close(self):
        self.stop = True
        self.sock.close()


def main():
    if shutil.which("openssl") is None:
        print("1..0 # SKIP openssl not installed")
        return 0
    d = H.workdir("farnode-badbroker.")
    fake = None
    a = None
    try:
        H.make_certs(d)
        hub = H.Hub.__new__(H.Hub)  # only for the signing key dir
        hub.keydir = os.path.join(d, "hubkey")
        os.makedirs(hub.keydir)
        H.run([H.FARNODE, "hub", "keygen", "--dir", hub.keydir])

        class B:  # the agent helper only needs url()
            def url(self_inner):
                return f"mqtts://127.0.0.1:{port}"
        port = H.free_port()
        # queue events first, offline (no hub configured)
        a = H.Agent(d, "n1", B(), os.path.join(hub.keydir, "signing.pub"),
                    extra="keepalive_s = 5\nbackoff_max_s = 2", url="")
        a.start()
        for i in range(3):
            a.cli("run", "--name", f"e{i}", "--", "/bin/true")
        H.wait_until(lambda: a.hub_status()["outbox_queued"] >= 3, 10)
        a.stop()
        fake = FakeBroker(d)
        port = fake.port
        a = H.Agent(d, "n1", B(), os.path.join(hub.keydir, "signing.pub"),
                    extra="keepalive_s = 5\nbackoff_max_s = 2")
        a.start()
        q0 = a.hub_status()["outbox_queued"]
        T.ok(q0 >= 3, f"{q0} events waiting in the outbox")
        T.ok(H.wait_until(lambda: "silent" in fake.sessions, 30),
             "agent reconnected after overrun, huge and reserved packets")
        st = a.hub_status()
        T.ok(st["broker_malformed"] >= 3,
             f"bad packets counted ({st['broker_malformed']})")
        log = a.logtext()
        T.ok(log.count("bad packet from the broker") >= 3,
             "each drop logged with its reason")
        T.ok(st["outbox_queued"] == q0,
             "nothing acknowledged by the bad sessions left the store")
        T.ok(H.wait_until(lambda: "good" in fake.sessions, 40),
             "the silent broker was given up (keepalive) and replaced")
        T.ok("stopped answering" in a.logtext() or
             "no answer" in a.logtext(), "keepalive timeout logged")
        T.ok(H.wait_until(lambda: a.hub_status()["outbox_queued"] == 0, 20),
             "a well-behaved session drains the outbox")
        T.ok(fake.acked >= q0, f"all {q0} events were delivered "
             f"({fake.acked} acknowledged)")
    except Exception as e:
        T.ok(False, f"unexpected: {e!r}")
    finally:
        if a:
            a.stop()
        if fake:
            fake.close()
        if T.failed:
            print(f"# work dir kept: {d}")
        else:
            shutil.rmtree(d, ignore_errors=True)
    return T.done()


if __name__ == "__main__":
    sys.exit(main())
