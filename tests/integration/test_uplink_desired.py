#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Desired workloads from the hub against a real Mosquitto: `farnode hub
# publish-desired` with a CodecoApp manifest makes workloads appear on the
# node, a changed manifest replaces the changed one, adds the new one and
# removes the one that is gone, --none removes everything the hub asked
# for (a workload the operator started locally is left alone), a desired
# state signed for another node is refused, and after an agent restart
# without the broker the stored desired state is still what runs.
import json
import os
import shutil
import struct
import sys
import time
import zlib

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "test_uplink"))
import hubenv as H  # noqa: E402

T = H.Tap()

APP = """apiVersion: codeco.he-codeco.eu/v1alpha1
kind: CodecoApp
metadata:
  name: demo
spec:
  appName: demo
  qosClass: Silver
  codecoapp-msspec:
{services}"""

SERVICE = """  - serviceName: {name}
    podspec:
      containers:
      - name: {name}
        command: ["/bin/sleep"]
        args: ["{secs}"]
"""


def app(d, fname, services):
    text = APP.format(services="".join(
        SERVICE.format(name=n, secs=s) for n, s in services))
    path = os.path.join(d, fname)
    with open(path, "w") as f:
        f.write(text)
    return path


def workloads(agent):
    p = agent.cli("ps", "--json")
    if p.returncode != 0:
        return {}
    return {w["id"]: w for w in json.loads(p.stdout)["workloads"]}


def running(agent, expect):
    """expect: {id: argv[-1]} — exactly these hub workloads running."""
    ws = workloads(agent)
    hub = {k: v for k, v in ws.items() if k.startswith("demo-")}
    if set(hub) != set(expect):
        return False
    return all(hub[k]["phase"] == "running" and hub[k]["argv"][-1] == v
               for k, v in expect.items())


def main():
    missing = H.tools_missing()
    if missing:
        print(f"1..0 # SKIP {missing} not installed")
        return 0
    d = H.workdir("farnode-desired.")
    broker = watcher = None
    agents = []
    try:
        H.make_certs(d)
        broker = H.Broker(d)
        T.ok(broker.start(), "mosquitto up")
        hub = H.Hub(d, broker)
        hub.keygen()
        watcher = H.Watcher(d, hub.conf)
        watcher.start()
        n1 = H.Agent(d, "n1", broker, hub.pubkey(),
                     extra="learning_interval_s = 1")
        agents.append(n1)
        n1.start()
        T.ok(H.wait_until(lambda: n1.hub_status()["connected"], 15),
             "agent connected")
        nid = n1.node_id()
        n1.cli("run", "--name", "local-job", "--", "/bin/sleep", "300")

        a1 = app(d, "app1.yaml", [("web", 300), ("worker", 300)])
        p = hub("publish-desired", "--node", nid, "-f", a1, "--version",
                "1")
        T.ok(p.returncode == 0, "hub publish-desired (2 services)")
        T.ok(H.wait_until(lambda: running(n1, {"demo-web": "300",
                                               "demo-worker": "300"}), 15),
             "both workloads appear and run")
        T.ok(n1.hub_status()["desired_version"] == 1, "desired version 1")

        a2 = app(d, "app2.yaml", [("web", 301), ("cache", 300)])
        hub("publish-desired", "--node", nid, "-f", a2, "--version", "2")
        T.ok(H.wait_until(lambda: running(n1, {"demo-web": "301",
                                               "demo-cache": "300"}), 20),
             "changed web replaced, worker removed, cache added")

        other = os.path.join(d, "other.bundle")
        hub("publish-desired", "--node", "00000000-0000-4000-8000-"
            "000000000001", "-f", a1, "--version", "3", "--out", other,
            "--url", "")
        n = n1.hub_status()["bundles_rejected"]
        hub("publish-bundle", "-f", other, "--node", nid)
        T.ok(H.wait_until(lambda: n1.hub_status()["bundles_rejected"] > n,
                          10) and "(other-node)" in n1.logtext(),
             "desired state signed for another node refused")
        T.ok(running(n1, {"demo-web": "301", "demo-cache": "300"}),
             "and nothing changed")

        # restart without the broker: the stored desired state still runs
        n1.stop()
        broker.stop()
        n1.start()
        time.sleep(2)
        T.ok(running(n1, {"demo-web": "301", "demo-cache": "300"}),
             "after an agent restart without the hub, desired workloads "
             "still run")
        T.ok(n1.hub_status()["desired_version"] == 2,
             "stored desired version 2 in force offline")
        broker.start()
        watcher.ensure()
        T.ok(H.wait_until(lambda: n1.hub_status()["connected"], 20),
             "reconnected")

        hub("publish-desired", "--node", nid, "--none", "--version", "4")
        T.ok(H.wait_until(lambda: running(n1, {}), 20),
             "--none removes every hub workload")
        ws = workloads(n1)
        T.ok("local-job" in ws and ws["local-job"]["phase"] == "running",
             "the locally started workload is untouched")
        n1.cli("stop", "local-job")

        # learning summary: import a Q-table with visits, see it upstream
        empty = os.path.join(d, "empty.fnqt")
        T.ok(n1.cli("qtable", "export", empty).returncode == 0,
             "qtable export (shape header)")
        with open(empty, "rb") as f:
            hdr = bytearray(f.read()[:24])
        entries = b"".join(struct.pack("<IHHId", st, 0, 0, 5, 0.5)
                           for st in (3, 7, 11))
        hdr[20:24] = struct.pack("<I", 3)
        body = bytes(hdr) + entries
        prior = os.path.join(d, "prior.fnqt")
        with open(prior, "wb") as f:
            f.write(body + struct.pack("<I", zlib.crc32(body)))
        p = n1.cli("qtable", "import", prior)
        T.ok(p.returncode == 0, "qtable import of 3 visited cells")
        T.ok(H.wait_until(lambda: any(
            e[1] == "learning" for e in watcher.events(nid)), 15),
            "a learning summary reaches the hub on .../learning")
        n = sum(1 for e in watcher.events(nid) if e[1] == "learning")
        time.sleep(2.5)
        T.ok(sum(1 for e in watcher.events(nid) if e[1] == "learning") == n,
             "no new summary while the table does not change")
    except Exception as e:
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
