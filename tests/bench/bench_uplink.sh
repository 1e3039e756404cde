#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Uplink benchmark against a local Mosquitto (TLS, client certificates):
#  1. outbox flush rate: N events stored in the agent's outbox while it is
#     stopped, then the time from connect to an empty outbox (events/s),
#     with the rate limit off and at the default [hub] outbox_rate;
#  2. uplink bytes per node per minute in steady state (connected, no
#     changes, default keepalive 60 s): MQTT bytes counted by the agent and
#     bytes on the wire (TLS + TCP payload) from `ss -ti`;
#  3. reconnect time after the broker returns (backoff 1..4 s).
# Prints numbers only; BENCH_QUICK=1 shortens the steady-state window.
set -u
here=$(cd "$(dirname "$0")" && pwd)
export PYTHONPATH="$here/../integration/test_uplink${PYTHONPATH:+:$PYTHONPATH}"
for tool in mosquitto openssl python3; do
	if ! command -v "$tool" >/dev/null; then
		echo "bench_uplink: $tool not installed; skipped"
		exit 0
	fi
done
exec python3 -B - "$@" <<'EOF'
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import time

import hubenv as H

QUICK = os.environ.get("BENCH_QUICK") == "1"


def wire_bytes(port):
    """(bytes_sent, bytes_received) of the client side of connections to
    port, from ss -ti (kernel TCP counters)."""
    p = subprocess.run(["ss", "-tinH", "dst", f"127.0.0.1:{port}"],
                       capture_output=True, text=True)
    sent = recv = 0
    for m in re.finditer(r"bytes_sent:(\d+)", p.stdout):
        sent += int(m.group(1))
    for m in re.finditer(r"bytes_received:(\d+)", p.stdout):
        recv += int(m.group(1))
    return sent, recv


def fill_outbox(db, n, payload_len=60):
    con = sqlite3.connect(db)
    now = int(time.time() * 1000)
    payload = bytes(range(payload_len % 256)) * (payload_len // 256 + 1)
    con.executemany(
        "INSERT INTO outbox(kind, priority, created_ms, historical, dropped,"
        " payload) VALUES (1, 5, ?, 1, 0, ?)",
        ((now + i, payload[:payload_len]) for i in range(n)))
    con.commit()
    con.close()


def flush_rate(d, broker, hub, name, n, rate):
    a = H.Agent(d, name, broker, hub.pubkey(),
                extra=f"outbox_rate = {rate}\noutbox_max_bytes = 67108864",
                url="")
    a.start()
    a.stop()
    fill_outbox(os.path.join(a.dir, "farnode.db"), n)
    b = H.Agent(d, name, broker, hub.pubkey(),
                extra=f"outbox_rate = {rate}\noutbox_max_bytes = 67108864")
    b.start()
    t_conn = H.wait_until(lambda: b.hub_status()["connected"] and
                          time.monotonic(), 20, step=0.01)
    t_done = H.wait_until(lambda: b.hub_status()["outbox_queued"] == 0 and
                          time.monotonic(), 600, step=0.02)
    st = b.hub_status()
    b.stop()
    if not t_conn or not t_done:
        print(f"outbox flush ({name}): did not finish")
        return
    secs = t_done - t_conn
    print(f"outbox flush: {n} events of 60 B in {secs:.2f} s = "
          f"{n / secs:,.0f} events/s (outbox_rate {rate}/s, in-flight "
          f"window 32; {st['bytes_tx'] / n:.0f} MQTT bytes per event)")


def steady_state(d, broker, hub):
    a = H.Agent(d, "steady", broker, hub.pubkey(),
                extra="keepalive_s = 60")
    # keepalive_s is set above; the helper's default (5) is overridden by
    # the later key
    a.start()
    H.wait_until(lambda: a.hub_status()["connected"], 20)
    time.sleep(3)  # birth, subscriptions, retained messages settle
    s0 = a.hub_status()
    w0 = wire_bytes(broker.port)
    window = 20 if QUICK else 125
    time.sleep(window)
    s1 = a.hub_status()
    w1 = wire_bytes(broker.port)
    a.stop()
    mqtt = (s1["bytes_tx"] - s0["bytes_tx"] + s1["bytes_rx"] -
            s0["bytes_rx"]) * 60.0 / window
    wire = (w1[0] - w0[0] + w1[1] - w0[1]) * 60.0 / window
    print(f"steady state (keepalive 60 s, {window} s window): "
          f"{mqtt:.1f} MQTT bytes/min, {wire:.1f} wire bytes/min "
          f"(TLS+TCP payload, both directions) = "
          f"{wire * 8 / 60 / 1000:.4f} kbit/s per node")


def reconnect(d, broker, hub, runs):
    a = H.Agent(d, "recon", broker, hub.pubkey())
    a.start()
    H.wait_until(lambda: a.hub_status()["connected"], 20)
    times = []
    for _ in range(runs):
        broker.stop()
        H.wait_until(lambda: not a.hub_status()["connected"], 20)
        time.sleep(3)  # a few failed attempts: backoff grows to its cap
        broker.start()
        t0 = time.monotonic()
        t1 = H.wait_until(lambda: a.hub_status()["connected"] and
                          time.monotonic(), 30, step=0.02)
        if t1:
            times.append((t1 - t0) * 1000)
    a.stop()
    if times:
        print(f"reconnect after the broker returns (backoff 1..4 s, full "
              f"jitter): median {statistics.median(times):.0f} ms, max "
              f"{max(times):.0f} ms over {len(times)} runs "
              f"({', '.join(f'{t:.0f}' for t in times)})")


def main():
    d = H.workdir("farnode-bench-uplink.")
    broker = H.Broker(d)
    try:
        H.make_certs(d)
        if not broker.start():
            print("bench_uplink: mosquitto did not start")
            return 1
        hub = H.Hub(d, broker)
        hub.keygen()
        n = 5000 if QUICK else 20000
        flush_rate(d, broker, hub, "flush-fast", n, 100000)
        flush_rate(d, broker, hub, "flush-default", 2000, 500)
        reconnect(d, broker, hub, 3 if QUICK else 5)
        steady_state(d, broker, hub)
    finally:
        broker.stop()
        subprocess.run(["rm", "-rf", d])
    return 0


sys.exit(main())
EOF
