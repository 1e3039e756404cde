#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# The runtime with the real binary and real processes: run/ps/logs/stop/rm
# over the CLI; a SIGKILLed agent re-adopts its workloads (same pids, none
# duplicated) and still tracks their exits; agent and workloads killed →
# policies bring them back; a simulated reboot (another boot id) brings
# every desired workload back; CodecoApp apply (idempotent, file:line
# errors); 200 short workloads churn without leaking fds, zombies or rows.
# Prints TAP. Needs FARNODE_BIN.
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("FARNODE_BIN", "build/farnode")
WORK = tempfile.mkdtemp(prefix="farnode-rt-it.")
DATA = os.path.join(WORK, "data")
CONF = os.path.join(WORK, "a.conf")
n_test = 0
failed = 0
agent = None


def ok(cond, name, detail=""):
    global n_test, failed
    n_test += 1
    if cond:
        print(f"ok {n_test} - {name}")
    else:
        failed += 1
        print(f"not ok {n_test} - {name}")
        if detail:
            for line in str(detail).splitlines()[-15:]:
                print(f"#   {line}")
    sys.stdout.flush()
    return cond


def skip(name, reason):
    global n_test
    n_test += 1
    print(f"ok {n_test} - {name} # SKIP {reason}")
    sys.stdout.flush()


def cli(*args, check=False, stdin=None):
    p = subprocess.run([BIN, args[0], "--data-dir", DATA, *args[1:]],
                       capture_output=True,
                       text=True, input=stdin, timeout=60)
    if check and p.returncode != 0:
        raise RuntimeError(f"farnode {' '.join(args)}: {p.stderr}")
    return p


def cgroup_root():
    """A private directory on the cgroup2 mount, or 'none'."""
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                if " - cgroup2 " in line:
                    mnt = line.split()[4]
                    path = os.path.join(mnt, f"farnode-it-{os.getpid()}")
                    return path
    except OSError:
        pass
    return "none"


CGROUP = cgroup_root()


def start_agent(env_extra=None):
    global agent
    env = dict(os.environ)
    env.update(env_extra or {})
    log = open(os.path.join(WORK, "agent.log"), "a")
    agent = subprocess.Popen([BIN, "agent", "-c", CONF, "--data-dir", DATA],
                             stdout=log, stderr=log, env=env,
                             start_new_session=True)
    for _ in range(100):
        if cli("status").returncode == 0:
            return True
        if agent.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def kill_agent(sig=signal.SIGKILL):
    agent.send_signal(sig)
    return agent.wait(timeout=20)


def ps(wid=None):
    args = ["ps", "--json"] + ([wid] if wid else [])
    p = cli(*args)
    if p.returncode != 0:
        return None
    d = json.loads(p.stdout)
    return {w["id"]: w for w in d["workloads"]}


def wait_phase(wid, phases, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        w = (ps(wid) or {}).get(wid)
        if w and w["phase"] in phases:
            return w
        time.sleep(0.05)
    return (ps(wid) or {}).get(wid)


def procs_of(wid):
    """Live processes carrying FARNODE_WORKLOAD_ID=wid (set by the agent)."""
    found = []
    key = f"FARNODE_WORKLOAD_ID={wid}".encode()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{d}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if key in env and state != "Z":
            found.append(int(d))
    return found


def agent_fds():
    return len(os.listdir(f"/proc/{agent.pid}/fd"))


def agent_zombies():
    n = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if rest[0] == "Z" and int(rest[1]) == agent.pid:
            n += 1
    return n


def rows():
    db = sqlite3.connect(os.path.join(DATA, "farnode.db"), timeout=5)
    try:
        return db.execute("SELECT count(*) FROM workloads").fetchone()[0]
    finally:
        db.close()


def main():
    with open(CONF, "w") as f:
        f.write("[node]\nname = rt-it\n[gossip]\nenabled = false\n"
                f"[runtime]\ncgroup_root = {CGROUP}\nmax_workloads = 300\n"
                "restart_backoff_max_s = 1\n"
                "[metrics]\nsample_interval_s = 1\n")
    os.makedirs(DATA)
    if not ok(start_agent(), "agent starts with the runtime"):
        print(open(os.path.join(WORK, "agent.log")).read())
        return
    st = json.loads(cli("status", "--json").stdout)
    mode = cli("ps", "--json")
    limits = json.loads(mode.stdout)["limits"]
    print(f"# limits: {limits}")
    ok(limits.startswith("cgroup v2 (") or
       any("no workload limits" in n for n in st["notes"]),
       "status says when workloads run without limits", st["notes"])

    # ---- limits: a memory hog dies at memory.max ----
    if limits.startswith("cgroup v2 ("):
        cli("run", "--name", "hog", "--mem", "32Mi", "--", "sh", "-c",
            "x=$(head -c 268435456 /dev/zero | tr '\\0' x); echo survived",
            check=True)
        w = wait_phase("hog", {"failed", "exited"}, 30)
        ok(w and w["phase"] == "failed" and "memory.max" in w["reason"],
           "a memory hog is killed at memory.max", w)
        cli("rm", "hog")
    else:
        skip("a memory hog is killed at memory.max", limits)

    # ---- start, logs, stop, rm ----
    p = cli("run", "--name", "hello", "--cpu", "100m", "--mem", "32Mi",
            "--", "sh", "-c", "echo hello-out; echo hello-err >&2; "
            "exec sleep 300")
    ok(p.returncode == 0 and "running" in p.stdout, "run starts a workload",
       p.stdout + p.stderr)
    w = wait_phase("hello", {"running"})
    ok(w and w["pid"] > 0 and procs_of("hello") == [w["pid"]],
       "ps shows the running pid; exactly one process", w)
    time.sleep(0.2)
    logs = cli("logs", "hello").stdout
    ok("hello-out" in logs and "hello-err" in logs,
       "logs has stdout and stderr", logs)
    p = cli("rm", "hello")
    ok(p.returncode == 1 and "stop it first" in p.stderr,
       "rm of a running workload is refused", p.stderr)
    p = cli("stop", "hello")
    ok(p.returncode == 0 and "stopped" in p.stdout and not procs_of("hello"),
       "stop ends it", p.stdout + p.stderr)
    p = cli("rm", "hello")
    ok(p.returncode == 0 and ps("hello") is None, "rm removes it")
    p = cli("run", "--", "/nonexistent/prog")
    ok(p.returncode == 1 and "executable not found" in p.stdout,
       "missing executable: failed with a reason", p.stdout + p.stderr)
    p = cli("run", "--cpu", "lots", "--", "true")
    ok(p.returncode == 2 and "--cpu" in p.stderr, "bad --cpu is a usage error")
    p = cli("stop", "no-such-id")
    ok(p.returncode == 1 and "no workload" in p.stderr, "unknown id: clear error")

    # ---- adoption after SIGKILL of the agent ----
    for wid, pol in (("keep-never", "never"), ("keep-onf", "on-failure"),
                     ("keep-always", "always")):
        cli("run", "--name", wid, "--restart", pol, "--", "sleep", "300",
            check=True)
    before = {wid: wait_phase(wid, {"running"})["pid"]
              for wid in ("keep-never", "keep-onf", "keep-always")}
    kill_agent(signal.SIGKILL)
    ok(all(procs_of(w) == [p] for w, p in before.items()),
       "workloads survive the agent's SIGKILL")
    ok(start_agent(), "agent restarts on the same data dir")
    now = ps()
    ok(all(now[w]["phase"] == "running" and now[w]["pid"] == p
           for w, p in before.items()),
       "running workloads are adopted (same pids)", now)
    time.sleep(0.5)
    ok(all(procs_of(w) == [p] for w, p in before.items()),
       "none started twice")
    os.kill(before["keep-onf"], signal.SIGKILL)
    w = wait_phase("keep-onf", {"running"}, 10)
    time.sleep(0.3)
    w = ps("keep-onf")["keep-onf"]
    ok(w["phase"] == "running" and w["pid"] != before["keep-onf"] and
       w["restarts"] == 1 and len(procs_of("keep-onf")) == 1,
       "an adopted workload's exit is seen and on-failure restarts it", w)
    os.kill(before["keep-never"], signal.SIGKILL)
    w = wait_phase("keep-never", {"failed"}, 10)
    ok(w and "unknown" in w["reason"],
       "an adopted workload's exit is recorded (status unknown)", w)

    # ---- agent and workloads killed: policies bring them back ----
    pids = {w: ps(w)[w]["pid"] for w in ("keep-onf", "keep-always")}
    kill_agent(signal.SIGKILL)
    for p in pids.values():
        os.kill(p, signal.SIGKILL)
    time.sleep(0.2)
    ok(start_agent(), "agent restarts after its workloads were killed")
    back = {w: wait_phase(w, {"running"}, 10) for w in pids}
    time.sleep(0.3)
    ok(all(back[w] and back[w]["phase"] == "running" and
           back[w]["pid"] != pids[w] and len(procs_of(w)) == 1
           for w in pids),
       "on-failure and always workloads are running again, once", back)

    # ---- reboot: every desired workload comes back ----
    cli("run", "--name", "boot-never", "--restart", "never", "--", "sleep",
        "300", check=True)
    wait_phase("boot-never", {"running"})
    cli("run", "--name", "boot-done", "--", "true", check=True)
    wait_phase("boot-done", {"exited"})
    running = {w: ps(w)[w]["pid"]
               for w in ("boot-never", "keep-onf", "keep-always")}
    kill_agent(signal.SIGKILL)
    for p in running.values():
        os.kill(p, signal.SIGKILL)
    time.sleep(0.2)
    ok(start_agent({"FARNODE_BOOT_ID": "simulated-next-boot"}),
       "agent starts after a (simulated) reboot")
    back = {w: wait_phase(w, {"running"}, 10) for w in running}
    ok(all(back[w] and back[w]["phase"] == "running" and
           len(procs_of(w)) == 1 for w in running),
       "after a reboot every desired workload runs again (restart=never "
       "too), from the store alone", back)
    ok(ps("boot-done")["boot-done"]["phase"] == "exited",
       "a finished workload stays finished after a reboot")
    for w in ("boot-never", "keep-onf", "keep-always", "keep-never",
              "boot-done"):
        cli("stop", w)
        cli("rm", w)

    # ---- apply a CodecoApp manifest ----
    man = os.path.join(WORK, "app.yaml")
    with open(man, "w") as f:
        f.write("""apiVersion: codeco.he-codeco.eu/v1alpha1
kind: CodecoApp
metadata:
  name: demo
  annotations:
    farnode.io/command.front: "sh -c 'echo front-up; exec sleep 300'"
spec:
  appName: demo
  qosClass: Gold
  performanceProfile: Latency
  codecoapp-msspec:
  - serviceName: back
    podspec:
      restartPolicy: OnFailure
      containers:
      - name: back
        image: example/back:1
        command: ["sleep", "300"]
        resources:
          limits: {cpu: 200m, memory: 64Mi}
    serviceChannels:
    - channelName: to-front
      otherService: {appName: demo, serviceName: front, port: 8080}
      advancedChannelSettings: {maxDelay: "0.15", minBandwidth: 5M}
  - serviceName: front
    podspec:
      containers:
      - name: front
        image: example/front:1
""")
    p = cli("apply", "-f", man)
    ok(p.returncode == 0 and "demo-back" in p.stdout and
       "demo-front" in p.stdout, "apply creates one workload per service",
       p.stdout + p.stderr)
    d = json.loads(cli("ps", "--json").stdout)
    ws = {w["id"]: w for w in d["workloads"]}
    b = ws.get("demo-back", {})
    ok(b.get("qos") == "gold" and b.get("cpu_milli") == 200 and
       b.get("mem_bytes") == 64 << 20 and b.get("max_delay_ms") == 150 and
       b.get("restart") == "on-failure" and b.get("phase") == "running",
       "manifest fields are mapped", b)
    p = cli("apply", "-f", man)
    ok(p.returncode == 0 and p.stdout.count("unchanged") == 2 and
       len(procs_of("demo-back")) == 1,
       "applying again changes nothing", p.stdout)
    bad = os.path.join(WORK, "bad.yaml")
    with open(bad, "w") as f:
        f.write(open(man).read().replace("memory: 64Mi", "memroy: 64Mi"))
    p = cli("apply", "-f", bad)
    ok(p.returncode == 2 and f"{bad}:20:" in p.stderr and
       "memroy" in p.stderr, "a bad manifest fails with file:line",
       p.stderr)
    for w in ("demo-back", "demo-front"):
        cli("stop", w)
        cli("rm", w)

    # ---- churn: 200 short workloads ----
    time.sleep(0.3)
    fds0 = agent_fds()
    rows0 = rows()
    t0 = time.time()
    for i in range(200):
        cli("run", "--name", f"churn-{i}", "--", "true", check=True)
        if i % 20 == 19:
            for k in range(i - 19, i + 1):
                wait_phase(f"churn-{k}", {"exited", "failed"}, 10)
                cli("rm", f"churn-{k}", check=True)
    took = time.time() - t0
    time.sleep(1.2)  # a check tick
    print(f"# churn of 200 workloads via the CLI took {took:.1f} s")
    ok(rows() == rows0, "no rows left after the churn", f"{rows0} -> {rows()}")
    ok(agent_fds() == fds0, "agent holds no extra fds after the churn",
       f"{fds0} -> {agent_fds()}")
    ok(agent_zombies() == 0, "no zombies after the churn")
    logs_left = os.listdir(os.path.join(DATA, "logs"))
    ok(logs_left == [], "no log files left after the churn", logs_left)

    # ---- graceful stop keeps workloads running ----
    cli("run", "--name", "outlive", "--", "sleep", "300", check=True)
    pid = wait_phase("outlive", {"running"})["pid"]
    rc = kill_agent(signal.SIGTERM)
    ok(rc == 0 and procs_of("outlive") == [pid],
       "SIGTERM stops the agent (exit 0); workloads keep running")
    os.kill(pid, signal.SIGKILL)


try:
    main()
except Exception as e:  # a crash is a failure, with the reason
    ok(False, "test ran to the end", repr(e))
finally:
    if agent is not None and agent.poll() is None:
        agent.kill()
        agent.wait()
    # nothing of ours may outlive the test (ids are unique to this data
    # dir's workloads: match them with the data dir in the log path)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read()
            fds = os.listdir(f"/proc/{d}/fd")
            ours = b"FARNODE_WORKLOAD_ID=" in env and any(
                os.readlink(f"/proc/{d}/fd/{fd}").startswith(DATA)
                for fd in fds)
        except OSError:
            continue
        if ours:
            try:
                os.kill(int(d), signal.SIGKILL)
            except OSError:
                pass
    if CGROUP != "none" and os.path.isdir(CGROUP):
        for leaf in os.listdir(CGROUP):
            p = os.path.join(CGROUP, leaf)
            if os.path.isdir(p):
                try:
                    with open(os.path.join(p, "cgroup.kill"), "w") as f:
                        f.write("1")
                except OSError:
                    pass
        time.sleep(0.2)
        for leaf in os.listdir(CGROUP):
            p = os.path.join(CGROUP, leaf)
            if os.path.isdir(p):
                try:
                    os.rmdir(p)
                except OSError:
                    pass
        try:
            os.rmdir(CGROUP)
        except OSError as e:
            print(f"# could not remove {CGROUP}: {e}")
    shutil.rmtree(WORK, ignore_errors=True)
    print(f"1..{n_test}")
    sys.exit(1 if failed else 0)
