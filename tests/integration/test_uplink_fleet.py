#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# 50 agents started at once against a real Mosquitto all connect; the
# broker is restarted after a few seconds down and every agent comes back.
# Reconnect times are printed (spread by full jitter; backoff 1..8 s): the
# test asserts that all return, never how fast.
import os
import shutil
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "test_uplink"))
import hubenv as H  # noqa: E402

T = H.Tap()
N = int(os.environ.get("FARNODE_FLEET_N", "50"))


def births(watcher, after_ms):
    """{node: first birth time_ms >= after_ms}"""
    out = {}
    for ln in watcher.lines():
        if not ln.startswith("birth "):
            continue
        kv = dict(p.split("=", 1) for p in ln.split()[1:] if "=" in p)
        t = int(kv.get("time", "0"))
        if t >= after_ms and kv["node"] not in out:
            out[kv["node"]] = t
    return out


def main():
    missing = H.tools_missing()
    if missing:
        print(f"1..0 # SKIP {missing} not installed")
        return 0
    d = H.workdir("farnode-fleet.")
    broker = watcher = None
    agents = []
    try:
        H.make_certs(d)
        broker = H.Broker(d)
        T.ok(broker.start(), "mosquitto up")
        hub = H.Hub(d, broker)
        hub.keygen()
        watcher = H.Watcher(d, hub.conf, client_id="fleet-watch")
        T.ok(watcher.start(), "watch subscribed")
        t_start = int(time.time() * 1000)
        for i in range(N):
            a = H.Agent(d, f"f{i:02d}", broker, hub.pubkey(),
                        extra="backoff_max_s = 8\nkeepalive_s = 30")
            a.start(wait=False)
            agents.append(a)
        up = H.wait_until(lambda: len(births(watcher, t_start)) >= N, 60,
                          step=0.5)
        T.ok(up, f"{N} agents started at once all connected")
        if not up:
            T.diag(f"only {len(births(watcher, t_start))} births")
            return T.done()

        broker.stop()
        time.sleep(4)
        t_back = int(time.time() * 1000)
        T.ok(broker.start(), "broker restarted after 4 s down")
        watcher.ensure()
        back = H.wait_until(lambda: len(births(watcher, t_back)) >= N, 60,
                            step=0.5)
        b = births(watcher, t_back)
        T.ok(back, f"all {N} agents reconnected ({len(b)} births)")
        if b:
            delays = sorted((t - t_back) / 1000.0 for t in b.values())
            T.diag(f"reconnect after the broker returned: first "
                   f"{delays[0]:.2f} s, median {delays[len(delays) // 2]:.2f}"
                   f" s, last {delays[-1]:.2f} s, spread "
                   f"{delays[-1] - delays[0]:.2f} s")
            hist = {}
            for x in delays:
                hist[int(x)] = hist.get(int(x), 0) + 1
            T.diag("per second: " + " ".join(
                f"{k}s:{v}" for k, v in sorted(hist.items())))
    except Exception as e:
        T.ok(False, f"unexpected: {e!r}")
    finally:
        for a in agents:
            if a.proc is not None:
                a.proc.terminate()
        for a in agents:
            try:
                a.proc.wait(timeout=10)
            except Exception:
                a.kill()
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
