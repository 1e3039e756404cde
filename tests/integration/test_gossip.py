#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Gossip with real agents on 127.0.0.1: five agents sharing a key join
# through one seed; a SIGKILLed one is marked dead by the others within the
# suspicion bound; restarted, it rejoins at a higher incarnation; an agent
# with the wrong key cannot join and the receivers log it rate-limited;
# `farnode leave` makes the others see "left" and stops the agent.
# Prints TAP. Needs FARNODE_BIN.
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

WORK = tempfile.mkdtemp(prefix="farnode-gossip-it.")
# a private copy: the build may replace the binary while agents run
BIN = os.path.join(WORK, "farnode")
shutil.copy(os.environ.get("FARNODE_BIN", "build/farnode"), BIN)
N = 5
n_test = 0
failed = 0
procs = {}


def ok(cond, name, detail=""):
    global n_test, failed
    n_test += 1
    print(f"{'ok' if cond else 'not ok'} {n_test} - {name}")
    if not cond:
        failed += 1
        for line in str(detail).splitlines()[-15:]:
            print(f"#   {line}")
    sys.stdout.flush()
    return cond


def free_port(_next=[None]):
    # below the ephemeral range: outgoing push-pull connections must not
    # take a port an agent has yet to bind
    import random
    if _next[0] is None:
        _next[0] = random.randrange(20000, 28000)
    while True:
        p = _next[0]
        _next[0] += 1
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            u.bind(("127.0.0.1", p))
            t.bind(("127.0.0.1", p))
            return p
        except OSError:
            pass
        finally:
            t.close()
            u.close()


def keygen():
    return subprocess.run([BIN, "keygen", "gossip"], capture_output=True,
                          text=True, check=True).stdout.strip()


def ddir(i):
    return os.path.join(WORK, f"n{i}")


def start(i, port, seed_port, key):
    os.makedirs(ddir(i), exist_ok=True)
    conf = os.path.join(WORK, f"n{i}.conf")
    with open(conf, "w") as f:
        f.write(f"[node]\nname = n{i}\ndata_dir = {ddir(i)}\n"
                f"[gossip]\nbind = 127.0.0.1:{port}\n"
                f"join = 127.0.0.1:{seed_port}\nkey = {key}\n")
    log = open(os.path.join(WORK, f"n{i}.log"), "a")
    procs[i] = subprocess.Popen([BIN, "agent", "-c", conf], stdout=log,
                                stderr=subprocess.STDOUT)


def members(i):
    p = subprocess.run([BIN, "members", "--json", "--data-dir", ddir(i)],
                       capture_output=True, text=True, timeout=10)
    if p.returncode != 0:
        return None
    return json.loads(p.stdout)


def view(i):
    """name -> (state, incarnation) as node i sees it."""
    m = members(i)
    if m is None:
        return {}
    return {x["name"]: (x["state"], x["incarnation"]) for x in m["members"]}


def wait_for(pred, timeout):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred():
            return time.time() - t0
        time.sleep(0.2)
    return None


def stop(i, sig=signal.SIGTERM):
    p = procs.get(i)
    if p is not None and p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main():
    key = keygen()
    ports = [free_port() for _ in range(N + 1)]
    for i in range(N):
        start(i, ports[i], ports[0], key)
        if i == 0:
            time.sleep(0.3)
    names = {f"n{i}" for i in range(N)}

    def all_alive(live):
        def pred():
            for i in live:
                v = view(i)
                # converged membership: suspects are members too (a busy
                # machine can delay an ack past the probe timeout)
                if {n for n, (s, _) in v.items()
                        if s in ("alive", "suspect")} != \
                        {f"n{j}" for j in live}:
                    return False
            return True
        return pred

    t = wait_for(all_alive(range(N)), 30)
    ok(t is not None, f"{N} agents with one key see each other alive"
       f" ({t if t is None else round(t, 2)} s)",
       [view(i) for i in range(N)])
    time.sleep(3)  # a few probe rounds for RTTs
    m0 = members(0) or {"members": []}
    self_rows = [x for x in m0["members"] if x["self"]]
    ok(len(self_rows) == 1 and self_rows[0]["name"] == "n0" and
       any(x["rtt_ms"] >= 0 for x in m0["members"] if not x["self"]),
       "members lists self once and measured RTTs", m0)

    # SIGKILL n4: the others mark it dead within the suspicion bound
    # (n=5: min 4 s, max 24 s) plus a probe round
    inc_before = view(0).get("n4", ("?", 0))[1]
    stop(4, signal.SIGKILL)
    t = wait_for(lambda: all(view(i).get("n4", ("", 0))[0] == "dead"
                             for i in range(4)), 40)
    ok(t is not None, f"SIGKILLed agent marked dead by all 4 others"
       f" ({t if t is None else round(t, 1)} s)", [view(i) for i in range(4)])

    # restart: rejoins with a higher incarnation (generation)
    start(4, ports[4], ports[0], key)
    t = wait_for(all_alive(range(N)), 30)
    inc_after = view(0).get("n4", ("", 0))[1]
    ok(t is not None and inc_after > inc_before,
       f"restarted agent rejoins at incarnation {inc_after} >"
       f" {inc_before}", view(0))

    # wrong key: cannot join, receivers log it rate-limited
    start(N, ports[N], ports[0], keygen())
    time.sleep(6)
    seen = any("n5" in view(i) for i in range(N))
    v5 = view(N)
    ok(not seen and set(v5) <= {"n5"},
       "agent with the wrong key is not admitted", (v5, view(0)))
    with open(os.path.join(WORK, "n0.log")) as f:
        drops = [l for l in f if "dropped datagram from" in l or
                 ("push-pull with" in l and "key" in l)]
    ok(1 <= len(drops) <= 10,
       f"seed logged the wrong-key attempts rate-limited ({len(drops)}"
       f" lines in 6 s)", "".join(drops[-5:]))
    stop(N)

    # graceful leave: others see "left", the agent exits 0
    p = subprocess.run([BIN, "leave", "--data-dir", ddir(1)],
                       capture_output=True, text=True, timeout=20)
    try:
        rc = procs[1].wait(timeout=15)
    except subprocess.TimeoutExpired:
        rc = None
    t = wait_for(lambda: all(view(i).get("n1", ("", 0))[0] == "left"
                             for i in (0, 2, 3, 4)), 15)
    ok(p.returncode == 0 and rc == 0 and t is not None,
       "farnode leave: others see left, agent exited 0",
       (p.stdout, p.stderr, rc, view(0)))

    # members are persisted for a seedless rejoin
    import sqlite3
    db = sqlite3.connect(os.path.join(ddir(2), "farnode.db"))
    rows = db.execute("SELECT name FROM members").fetchall()
    db.close()
    ok({r[0] for r in rows} >= names - {"n2"},
       f"members table holds the partition ({len(rows)} rows)", rows)


try:
    main()
finally:
    for i in list(procs):
        stop(i)
    print(f"1..{n_test}")
    if failed == 0:
        shutil.rmtree(WORK, ignore_errors=True)
    else:
        print(f"# work dir kept: {WORK}")
sys.exit(1 if failed else 0)
