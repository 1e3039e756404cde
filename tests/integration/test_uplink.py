#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# The uplink against a real Mosquitto (TLS, required client certificates,
# persistence) started here on 127.0.0.1: an agent connects, shows up with
# a retained birth and applies a signed policy; tampered, unsigned,
# replayed-older, expired and other-partition bundles are rejected with
# their reasons; the broker is stopped while workloads change, the events
# are queued (historical) and all arrive in order once it is back; an agent
# SIGKILLed in the middle of a slow flush loses nothing (duplicates carry
# the same event id); a wrong CA and an expired client certificate give
# clear errors and back off, and SIGHUP picks up fixed credentials.
import os
import shutil
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "test_uplink"))
import hubenv as H  # noqa: E402

T = H.Tap()


def contiguous(ids):
    """Every id from min to max present (duplicates allowed)."""
    s = set(ids)
    return bool(s) and s == set(range(min(s), max(s) + 1))


def first_arrival_order(ids):
    seen, order = set(), []
    for i in ids:
        if i not in seen:
            seen.add(i)
            order.append(i)
    return order


def main():
    missing = H.tools_missing()
    if missing:
        print(f"1..0 # SKIP {missing} not installed")
        return 0
    d = H.workdir("farnode-uplink.")
    broker = watcher = None
    agents = []
    try:
        H.make_certs(d, expired=True, foreign=True)
        broker = H.Broker(d)
        if not T.ok(broker.start(), "mosquitto up with TLS and required "
                    "client certificates"):
            return T.done()
        hub = H.Hub(d, broker)
        T.ok(hub.keygen().returncode == 0, "farnode hub keygen")
        watcher = H.Watcher(d, hub.conf)
        T.ok(watcher.start(), "farnode hub watch subscribed")

        # -- connect, birth, policy ------------------------------------
        n1 = H.Agent(d, "n1", broker, hub.pubkey())
        agents.append(n1)
        T.ok(n1.start(), "agent n1 started")
        T.ok(H.wait_until(lambda: n1.hub_status()["connected"], 15),
             "n1 connects to the hub")
        nid = n1.node_id()
        T.ok(n1.status()["hub_state"] == "connected",
             "farnode status shows hub: connected")
        T.ok(H.wait_until(lambda: any(
            ln.startswith("birth") and nid in ln for ln in watcher.lines()),
            10), "watch sees n1's retained birth")

        pol = hub.policy_file("policy.ini", "[hyper]\nalpha = 0.3\n"
                              "[mask]\ngold = defer,reject\n")
        p = hub("publish-policy", "-f", pol, "--version", "5")
        T.ok(p.returncode == 0 and "published" in p.stdout,
             "hub publish-policy version 5")
        T.ok(H.wait_until(lambda: n1.hub_status()["policy_version"] == 5,
                          10), "n1 applies policy version 5")
        T.ok(H.wait_until(lambda: any(
            "policy=5" in ln and nid in ln for ln in watcher.lines()), 10),
            "birth re-published with policy=5")

        # -- rejections ------------------------------------------------
        def rejected(reason, n_before):
            ok = H.wait_until(lambda: n1.hub_status()["bundles_rejected"]
                              > n_before, 10)
            st = n1.hub_status()
            return (ok and st["policy_version"] == 5 and
                    f"({reason})" in n1.logtext())

        def nrej():
            return n1.hub_status()["bundles_rejected"]

        bundle = os.path.join(d, "v6.bundle")
        p = hub("publish-policy", "-f", pol, "--version", "6", "--out",
                bundle, "--url", "")
        T.ok(p.returncode == 0 and os.path.getsize(bundle) > 40,
             "policy 6 signed offline (--out, no url)")
        with open(bundle, "rb") as f:
            data = bytearray(f.read())
        data[30] ^= 0x01
        tampered = os.path.join(d, "v6-tampered.bundle")
        with open(tampered, "wb") as f:
            f.write(data)
        n = nrej()
        hub("publish-bundle", "-f", tampered, "--kind", "policy")
        T.ok(rejected("bad-signature", n), "tampered bundle rejected "
             "(bad-signature), policy 5 stays")
        n = nrej()
        hub("publish-policy", "-f", pol, "--version", "7", "--unsigned")
        T.ok(rejected("unsigned", n), "unsigned policy rejected")
        n = nrej()
        hub("publish-policy", "-f", pol, "--version", "4")
        T.ok(rejected("stale", n), "replayed older version 4 rejected "
             "(stale)")
        expired = hub.policy_file("expired.ini",
                                  "[policy]\nexpires_ms = 1000\n")
        n = nrej()
        hub("publish-policy", "-f", expired, "--version", "8")
        T.ok(rejected("expired", n), "expired policy rejected")
        other = os.path.join(d, "other.bundle")
        hub("publish-policy", "-f", pol, "--version", "9", "--partition",
            "plant-b", "--out", other, "--url", "")
        n = nrej()
        hub("publish-bundle", "-f", other)
        T.ok(rejected("other-partition", n),
             "bundle for partition plant-b replayed on plant-a rejected")
        T.ok(H.wait_until(lambda: sum(
            1 for e in watcher.events(nid) if e[1] == "policy" and
            "rejected" in e[3]) >= 5, 10),
            "the five rejections reached the hub as policy events")
        n = nrej()
        hub("publish-bundle", "-f", bundle)
        T.ok(H.wait_until(lambda: n1.hub_status()["policy_version"] == 6,
                          10), "the untampered policy 6 is then accepted")

        # -- store and forward -----------------------------------------
        T.ok(H.wait_until(lambda: n1.hub_status()["outbox_queued"] == 0,
                          10), "outbox empty before the outage")
        broker.stop()
        T.ok(H.wait_until(lambda: not n1.hub_status()["connected"], 15),
             "broker stopped: n1 offline")
        for i in range(5):
            n1.cli("run", "--name", f"sf{i}", "--", "/bin/sh", "-c",
                   "sleep 0.3")
        time.sleep(2.5)
        for i in range(5):
            n1.cli("rm", f"sf{i}")
        time.sleep(1.5)
        queued = n1.hub_status()["outbox_queued"]
        T.ok(queued >= 5, f"events queued while offline ({queued})")
        st = n1.status()["hub_state"]
        T.ok(st.startswith("offline ("), f"status while offline: {st}")
        T.ok(broker.start(), "broker back")
        watcher.ensure()
        T.ok(H.wait_until(lambda: n1.hub_status()["outbox_queued"] == 0,
                          30), "outbox drained after the reconnect")
        time.sleep(1)
        ev = watcher.events(nid)
        ids = [e[0] for e in ev]
        T.ok(contiguous(ids), f"every event id 1..{max(ids or [0])} "
             "delivered, none lost")
        order = first_arrival_order(ids)
        T.ok(order == sorted(order), "delivered in order")
        hist = [e for e in ev if e[2]]
        T.ok(len(hist) >= queued, f"{len(hist)} events flagged historical")
        T.ok(any(e[1] == "workload" and "sf0" in e[3] for e in hist),
             "workload changes during the outage are among them")

        # -- SIGKILL in the middle of a slow flush ---------------------
        n2 = H.Agent(d, "n2", broker, hub.pubkey(),
                     extra="outbox_rate = 3")
        agents.append(n2)
        n2.start()
        T.ok(H.wait_until(lambda: n2.hub_status()["connected"], 15),
             "n2 (outbox_rate 3/s) connected")
        id2 = n2.node_id()
        H.wait_until(lambda: n2.hub_status()["outbox_queued"] == 0, 10)
        broker.stop()
        H.wait_until(lambda: not n2.hub_status()["connected"], 15)
        for i in range(4):
            n2.cli("run", "--name", f"flap{i}", "--restart", "always",
                   "--", "/bin/sh", "-c", "exit 1")
        time.sleep(3)
        for i in range(4):
            n2.cli("stop", f"flap{i}")
        time.sleep(1.5)
        q2 = n2.hub_status()["outbox_queued"]
        T.ok(q2 >= 12, f"{q2} events queued on n2 while offline")
        broker.start()
        watcher.ensure()
        H.wait_until(lambda: n2.hub_status()["events_acked"] >= 3, 20)
        acked = n2.hub_status()["events_acked"]
        n2.kill()
        T.ok(H.wait_until(lambda: any(
            ln.startswith("death") and id2 in ln for ln in watcher.lines()),
            10), "the broker published n2's Will: watch prints its death")
        left = q2 - acked
        T.ok(0 < acked < q2, f"SIGKILL after {acked} of {q2} events "
             "were acknowledged")
        n2.start()
        T.ok(H.wait_until(lambda: n2.hub_status()["outbox_queued"] == 0,
                          60), f"restarted n2 drained the remaining ~{left}")
        time.sleep(1)
        ids2 = [e[0] for e in watcher.events(id2)]
        dups = len(ids2) - len(set(ids2))
        T.ok(contiguous(ids2), f"all {len(set(ids2))} event ids of n2 "
             f"delivered ({dups} duplicates, same ids)")
        T.diag(f"n2 events: {len(ids2)} received, {len(set(ids2))} unique")

        # -- wrong CA, expired client certificate ----------------------
        n3 = H.Agent(d, "n3", broker, hub.pubkey(), ca="other-ca")
        agents.append(n3)
        n3.start()
        T.ok(H.wait_until(lambda: "attempt 3" in n3.logtext(), 20),
             "wrong CA: n3 keeps retrying with backoff")
        st = n3.status()["hub_state"]
        T.diag(f"n3: {st}")
        T.ok(st.startswith("offline (") and "retry in" in st,
             "wrong CA: status says offline with the reason and the "
             "next retry")
        T.ok("trusted" in n3.logtext() or "CA" in st,
             "wrong CA: the log names the untrusted certificate")
        n3.stop()

        shutil.copy(os.path.join(d, "client-expired.pem"),
                    os.path.join(d, "n4.pem"))
        shutil.copy(os.path.join(d, "client-expired.key"),
                    os.path.join(d, "n4.key"))
        n4 = H.Agent(d, "n4", broker, hub.pubkey(), cert="n4")
        agents.append(n4)
        n4.start()
        T.ok(H.wait_until(lambda: "attempt 2" in n4.logtext(), 20),
             "expired client certificate: n4 retries with backoff")
        st = n4.status()["hub_state"]
        T.diag(f"n4: {st}")
        T.ok(st.startswith("offline (") and len(st) > 20,
             "expired client certificate: status shows the reason")
        shutil.copy(os.path.join(d, "client.pem"), os.path.join(d, "n4.pem"))
        shutil.copy(os.path.join(d, "client.key"), os.path.join(d, "n4.key"))
        n4.proc.send_signal(1)  # SIGHUP
        T.ok(H.wait_until(lambda: n4.hub_status()["connected"], 15),
             "SIGHUP reloads the fixed certificate: n4 connects")

        # a config pointing at other files: SIGHUP makes a new TLS client
        n5 = H.Agent(d, "n5", broker, hub.pubkey(), ca="other-ca")
        agents.append(n5)
        n5.start()
        T.ok(H.wait_until(lambda: "attempt 1" in n5.logtext(), 15),
             "n5 with the wrong CA file fails")
        with open(n5.conf) as f:
            conf = f.read()
        with open(n5.conf, "w") as f:
            f.write(conf.replace("/other-ca.pem", "/ca.pem"))
        n5.proc.send_signal(1)
        T.ok(H.wait_until(lambda: n5.hub_status()["connected"], 15),
             "[hub] ca changed to the right file + SIGHUP: n5 connects")
    except Exception as e:  # report, then clean up
        T.ok(False, f"unexpected: {e!r}")
    finally:
        for a in agents:
            a.stop()
        if watcher:
            watcher.stop()
        if broker:
            broker.stop()
        if T.failed:
            print(f"# work dir kept: {d}")
        else:
            shutil.rmtree(d, ignore_errors=True)
    return T.done()


if __name__ == "__main__":
    sys.exit(main())
