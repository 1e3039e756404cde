#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Real farnode agents on 127.0.0.1 (one process per node, LAN profile, one
# gossip key) started together and joined through node 0: seconds until
# every agent has logged all N-1 others as joined (from the agents' own log
# timestamps), and RSS per agent after convergence. N from
# SWIM_AGENT_NODES (default "50 100"). Prints numbers, asserts nothing.
# Comparable to the memberlist figures in PLATFORM-NOTES (N instances
# joined through node 0 on loopback).
set -u
BUILD=${FARNODE_BUILD:-build}
exec python3 - "$BUILD/farnode" ${SWIM_AGENT_NODES:-50 100} <<'EOF'
import os, shutil, signal, socket, subprocess, sys, tempfile, time
from datetime import datetime

src, sizes = sys.argv[1], [int(x) for x in sys.argv[2:]]
work = tempfile.mkdtemp(prefix="farnode-swim-bench.")
binp = os.path.join(work, "farnode")
shutil.copy(src, binp)
key = subprocess.run([binp, "keygen", "gossip"], capture_output=True,
                     text=True, check=True).stdout.strip()


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


def stamp(line):
    try:
        return datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f").timestamp()
    except ValueError:
        return None


for n in sizes:
    procs, logs = [], []
    ports = [free_port() for _ in range(n)]
    t0 = time.time()
    for i in range(n):
        d = os.path.join(work, f"{n}-{i}")
        os.makedirs(d)
        conf = os.path.join(d, "farnode.conf")
        with open(conf, "w") as f:
            f.write(f"[node]\nname = n{i}\ndata_dir = {d}\nlog_level = info\n"
                    f"[gossip]\nbind = 127.0.0.1:{ports[i]}\n"
                    f"join = 127.0.0.1:{ports[0]}\nkey = {key}\n")
        log = os.path.join(d, "log")
        logs.append(log)
        procs.append(subprocess.Popen([binp, "agent", "-c", conf],
                                      stdout=open(log, "w"),
                                      stderr=subprocess.STDOUT))
    deadline = time.time() + 120
    done = {}
    while time.time() < deadline and len(done) < n:
        time.sleep(1)
        for i, log in enumerate(logs):
            if i in done:
                continue
            joined = [stamp(l) for l in open(log) if " joined" in l and
                      "member " in l]
            joined = [t for t in joined if t]
            if len(joined) >= n - 1:
                done[i] = max(joined)
    rss = []
    for p in procs:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                for l in f:
                    if l.startswith("VmRSS:"):
                        rss.append(int(l.split()[1]) / 1024)
        except OSError:
            pass
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    rss.sort()
    up = []
    for log in logs:
        up += [stamp(l) for l in open(log) if "gossip: gossip on" in l]
    up = [t for t in up if t]
    if len(done) == n:
        last_up = max(up) if up else t0
        print(f"agents={n}: every agent saw all {n} "
              f"{max(done.values()) - last_up:.2f} s after the last one "
              f"came up ({max(done.values()) - t0:.2f} s after the first "
              f"process start); "
              f"RSS per agent median {rss[len(rss)//2]:.1f} MiB, "
              f"max {rss[-1]:.1f} MiB")
    else:
        seen = sorted(len([l for l in open(log) if " joined" in l and
                           "member " in l]) for log in logs)
        print(f"agents={n}: only {len(done)} of {n} saw everyone within "
              f"120 s (members seen: min {seen[0]}, median "
              f"{seen[len(seen)//2]}; logs in {work})")
        work_keep = True
    sys.stdout.flush()
if not globals().get("work_keep"):
    shutil.rmtree(work, ignore_errors=True)
EOF
