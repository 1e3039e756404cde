#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Offline autonomy end to end, three nodes of one partition and a real
# Mosquitto. The hub gives a policy and desired workloads, then the nodes
# lose the hub (their broker listener goes away; the operator's stays).
# For the whole outage every node keeps running its workloads under the
# last policy: a long-running one keeps its process, a failing one keeps
# being restarted, a node restarted during the outage comes back with the
# same policy and workloads (processes adopted), and a workload started
# locally runs. Meanwhile the hub publishes policy 2. When the hub returns,
# every node reconciles to policy 2 and reports everything that happened
# while it was away: per node, every event id arrives, in order, flagged
# historical. (Gossip between the three is not part of this test.)
import json
import os
import shutil
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "test_uplink"))
import hubenv as H  # noqa: E402

T = H.Tap()

APP = """apiVersion: codeco.he-codeco.eu/v1alpha1
kind: CodecoApp
metadata:
  name: line
spec:
  appName: line
  qosClass: Gold
  codecoapp-msspec:
  - serviceName: sensor
    podspec:
      restartPolicy: Always
      containers:
      - name: sensor
        command: ["/bin/sleep"]
        args: ["600"]
  - serviceName: flaky
    podspec:
      restartPolicy: OnFailure
      containers:
      - name: flaky
        command: ["/bin/sh"]
        args: ["-c", "sleep 1; exit 3"]
"""


def ps(agent):
    p = agent.cli("ps", "--json")
    if p.returncode != 0:
        return {}
    return {w["id"]: w for w in json.loads(p.stdout)["workloads"]}


def alive_members(n):
    """Alive members this node sees (itself included), 0 on error."""
    p = n.cli("members", "--json")
    if p.returncode != 0:
        return 0
    try:
        ms = json.loads(p.stdout)["members"]
    except (ValueError, KeyError):
        return 0
    return sum(1 for m in ms if m["state"] == "alive")


def main():
    missing = H.tools_missing()
    if missing:
        print(f"1..0 # SKIP {missing} not installed")
        return 0
    d = H.workdir("farnode-offline.")
    broker = watcher = None
    nodes = []
    try:
        H.make_certs(d)
        broker = H.Broker(d, op_port=H.free_port())
        T.ok(broker.start(), "hub broker up (node and operator listeners)")
        hub = H.Hub(d, broker)
        hub.keygen()
        watcher = H.Watcher(d, hub.conf, client_id="offline-watch")
        watcher.start()
        gport = [H.free_port() for _ in range(3)]
        for i in range(3):
            g = f"bind = 127.0.0.1:{gport[i]}\n"
            if i > 0:
                g += f"join = 127.0.0.1:{gport[0]}\n"
            # placement is not under test here: no exploration, so every
            # node runs its own workloads (greedy on a cold table is
            # "here"), whichever of policy and desired set arrives first
            n = H.Agent(d, f"n{i + 1}", broker, hub.pubkey(),
                        extra="backoff_max_s = 2", gossip=g,
                        sections="[sched]\nepsilon = 0\nepsilon_min = 0")
            n.start()
            nodes.append(n)
        T.ok(H.wait_until(lambda: all(alive_members(n) == 3
                                      for n in nodes), 20),
             "the three nodes gossip as one partition")
        T.ok(H.wait_until(lambda: all(n.hub_status()["connected"]
                                      for n in nodes), 20),
             "three nodes of partition plant-a connected")
        ids = [n.node_id() for n in nodes]
        pol = hub.policy_file("policy.ini", "[hyper]\nalpha = 0.2\n"
                              "epsilon = 0\nepsilon_min = 0\n"
                              "[mask]\ngold = offload,defer\n")
        hub("publish-policy", "-f", pol, "--version", "1")
        appf = os.path.join(d, "line.yaml")
        with open(appf, "w") as f:
            f.write(APP)
        for n, nid in zip(nodes, ids):
            hub("publish-desired", "--node", nid, "-f", appf, "--version",
                "1")
        T.ok(H.wait_until(lambda: all(
            n.hub_status()["policy_version"] == 1 and
            ps(n).get("line-sensor", {}).get("phase") == "running"
            for n in nodes), 20), "policy 1 and desired workloads running "
            "on every node")
        sensor_pid = {n.name: ps(n)["line-sensor"]["pid"] for n in nodes}
        flaky0 = {n.name: ps(n)["line-flaky"]["restarts"] for n in nodes}

        # -- the hub goes away for the nodes ---------------------------
        broker.stop()
        broker.write_conf(nodes=False)
        T.ok(broker.start(), "hub lost: the nodes' listener is gone")
        watcher.ensure()
        T.ok(H.wait_until(lambda: not any(n.hub_status()["connected"]
                                          for n in nodes), 20),
             "every node is offline")
        t_out = time.monotonic()
        hub("publish-policy", "-f", pol, "--version", "2")

        time.sleep(4)
        n2 = nodes[1]
        n2.stop()
        n2.start()
        T.ok(n2.hub_status()["policy_version"] == 1 and
             n2.hub_status()["desired_version"] == 1,
             "n2 restarted offline: policy 1 and desired 1 from its store")
        T.ok(ps(n2)["line-sensor"]["pid"] == sensor_pid["n2"],
             "n2 adopted its running sensor process after the restart")
        n3 = nodes[2]
        p = n3.cli("run", "--name", "local-fix", "--qos", "gold", "--",
                   "/bin/sleep", "600")
        T.ok(p.returncode == 0, "n3 starts a local workload while offline")
        time.sleep(8)
        steady = True
        for n in nodes:
            w = ps(n)
            steady &= (w["line-sensor"]["phase"] == "running" and
                       w["line-sensor"]["pid"] == sensor_pid[n.name])
        T.ok(steady, "sensors kept running (same process) on every node "
             "through the outage")
        T.ok(H.wait_until(lambda: all(alive_members(n) == 3
                                      for n in nodes), 15),
             "the partition stayed whole without the hub (n2 rejoined "
             "after its restart)")
        T.ok(all(ps(n)["line-flaky"]["restarts"] > flaky0[n.name] + 1
                 for n in nodes),
             "failing workloads kept being restarted (restart policy "
             "under the last policy)")
        T.ok(all(n.hub_status()["policy_version"] == 1 for n in nodes),
             "policy 1 stayed in force offline")
        queued = {n.name: n.hub_status()["outbox_queued"] for n in nodes}
        T.ok(all(q > 0 for q in queued.values()),
             f"events queued while offline: {queued}")
        T.diag(f"outage lasted {time.monotonic() - t_out:.0f} s")

        # -- the hub returns ------------------------------------------
        broker.stop()
        broker.write_conf(nodes=True)
        T.ok(broker.start(), "hub back")
        watcher.ensure()
        T.ok(H.wait_until(lambda: all(
            n.hub_status()["policy_version"] == 2 for n in nodes), 30),
            "every node reconciled to policy 2 published during the "
            "outage")
        T.ok(H.wait_until(lambda: all(
            n.hub_status()["outbox_queued"] == 0 for n in nodes), 30),
            "every outbox drained")
        time.sleep(1)
        all_ok = True
        for n, nid in zip(nodes, ids):
            ev = watcher.events(nid)
            eids = [e[0] for e in ev]
            uniq = []
            for e in eids:
                if e not in uniq:
                    uniq.append(e)
            s = set(eids)
            contiguous = bool(s) and s == set(range(min(s), max(s) + 1))
            ordered = uniq == sorted(uniq)
            hist = [e for e in ev if e[2]]
            flaky = [e for e in hist if "line-flaky" in e[3]]
            T.diag(f"{n.name}: {len(s)} events, {len(hist)} historical, "
                   f"{len(flaky)} flaky restarts reported")
            all_ok &= contiguous and ordered and len(flaky) > 0
        T.ok(all_ok, "each node reported everything that happened: every "
             "event id, in order, outage events historical")
        T.ok(any("local-fix" in e[3] and e[2]
                 for e in watcher.events(ids[2])),
             "n3's local workload is in its report")
        def births_policy2():
            births = [ln for ln in watcher.lines()
                      if ln.startswith("birth") and "policy=2" in ln]
            return len({ln.split()[2] for ln in births}) == 3
        T.ok(H.wait_until(births_policy2, 15),
             "births announce policy 2 for all three nodes")
        for n in nodes:
            for wid in ("line-sensor", "line-flaky", "local-fix"):
                n.cli("stop", wid)
    except Exception as e:
        T.ok(False, f"unexpected: {e!r}")
    finally:
        for n in nodes:
            n.stop()
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
