# SPDX-License-Identifier: Apache-2.0
# Shared by the uplink integration tests (test_uplink*.py, test_hub*.py,
# test_offline*.py): TAP output, certificates made with openssl (EC P-256:
# a CA, a broker certificate for 127.0.0.1, client certificates valid and
# expired, and a foreign CA), a Mosquitto broker run in the foreground on a
# free port with required client certificates and on-disk persistence, and
# farnode agents / `farnode hub` commands driven as subprocesses.
# Python 3 standard library only.
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

FARNODE = os.environ.get("FARNODE_BIN", os.path.abspath("build/farnode"))


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name):
        self.n += 1
        if not cond:
            self.failed += 1
        print(f"{'ok' if cond else 'not ok'} {self.n} - {name}", flush=True)
        return cond

    def skip(self, name):
        self.n += 1
        print(f"ok {self.n} - # SKIP {name}", flush=True)

    def diag(self, text):
        for line in str(text).splitlines():
            print(f"# {line}", flush=True)

    def done(self):
        print(f"1..{self.n}", flush=True)
        return 1 if self.failed else 0


def run(cmd, cwd=None, check=True, timeout=60, env=None):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                       timeout=timeout, env=env)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {p.stderr.strip()}")
    return p


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(fn, timeout, step=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            v = fn()
            if v:
                return v
        except Exception:
            pass
        time.sleep(step)
    return None


# ---- certificates -------------------------------------------------------

CLIENT_EXT = "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n"
SERVER_EXT = ("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
              "subjectAltName=DNS:localhost,DNS:127.0.0.1,IP:127.0.0.1\n")


def _key(d, name):
    run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
         "-out", f"{name}.key"], d)


def _ca(d, name, cn):
    _key(d, name)
    run(["openssl", "req", "-x509", "-new", "-key", f"{name}.key", "-sha256",
         "-days", "30", "-subj", f"/CN={cn}", "-out", f"{name}.pem"], d)


def _cert(d, name, cn, ca, ext):
    _key(d, name)
    run(["openssl", "req", "-new", "-key", f"{name}.key", "-subj", f"/CN={cn}",
         "-out", f"{name}.csr"], d)
    with open(os.path.join(d, f"{name}.ext"), "w") as f:
        f.write(ext)
    run(["openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem",
         "-CAkey", f"{ca}.key", "-CAcreateserial", "-days", "30", "-sha256",
         "-extfile", f"{name}.ext", "-out", f"{name}.pem"], d)


def _dated(d, name, cn, ext, start, end):
    _key(d, name)
    run(["openssl", "req", "-new", "-key", f"{name}.key", "-subj", f"/CN={cn}",
         "-out", f"{name}.csr"], d)
    os.makedirs(os.path.join(d, "newcerts"), exist_ok=True)
    if not os.path.exists(os.path.join(d, "index.txt")):
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("1000\n")
    with open(os.path.join(d, f"{name}.cnf"), "w") as f:
        f.write(f"""[ca]
default_ca = ca_default
[ca_default]
database = {d}/index.txt
new_certs_dir = {d}/newcerts
serial = {d}/serial
default_md = sha256
policy = policy_any
unique_subject = no
x509_extensions = ext
[policy_any]
commonName = supplied
[ext]
{ext}""")
    run(["openssl", "ca", "-batch", "-config", f"{name}.cnf", "-cert",
         "ca.pem", "-keyfile", "ca.key", "-in", f"{name}.csr", "-out",
         f"{name}.pem", "-notext", "-startdate", start, "-enddate", end], d)


def make_certs(d, expired=False, foreign=False):
    """ca, server (127.0.0.1), client, operator; optional expired client
    and a client + CA from a foreign authority."""
    _ca(d, "ca", "farnode test CA")
    _cert(d, "server", "127.0.0.1", "ca", SERVER_EXT)
    _cert(d, "client", "farnode-node", "ca", CLIENT_EXT)
    _cert(d, "operator", "farnode-operator", "ca", CLIENT_EXT)
    if expired:
        _dated(d, "client-expired", "farnode-expired", CLIENT_EXT,
               "20200101000000Z", "20200601000000Z")
    if foreign:
        _ca(d, "other-ca", "some other CA")


# ---- broker -------------------------------------------------------------

class Broker:
    """mosquitto -c conf in the foreground; persistence in d/mosq so
    durable sessions survive a restart."""

    def __init__(self, d, port=None, op_port=None):
        self.d = d
        self.port = port or free_port()
        # optional second listener for the operator, so the nodes' one can
        # be taken away while the hub side stays reachable
        self.op_port = op_port
        self.proc = None
        self.conf = os.path.join(d, "mosquitto.conf")
        os.makedirs(os.path.join(d, "mosq"), exist_ok=True)
        self.write_conf(True)

    def _listener(self, port):
        d = self.d
        return f"""listener {port} 127.0.0.1
allow_anonymous false
cafile {d}/ca.pem
certfile {d}/server.pem
keyfile {d}/server.key
require_certificate true
use_identity_as_username true
tls_version tlsv1.2
"""

    def write_conf(self, nodes):
        """nodes False: only the operator listener (nodes cut off)."""
        d = self.d
        text = f"""per_listener_settings true
persistence true
persistence_location {d}/mosq/
autosave_interval 1
user root
log_dest stderr
log_type error
log_type warning
log_type notice
max_queued_messages 100000
"""
        if nodes:
            text += self._listener(self.port)
        if self.op_port:
            text += self._listener(self.op_port)
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self, timeout=10):
        log = open(os.path.join(self.d, "mosquitto.log"), "a")
        self.proc = subprocess.Popen(["mosquitto", "-c", self.conf],
                                     stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(
                        ("127.0.0.1", self.op_port or self.port),
                        timeout=0.2):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def url(self):
        return f"mqtts://127.0.0.1:{self.port}"

    def op_url(self):
        return f"mqtts://127.0.0.1:{self.op_port or self.port}"


# ---- agents and the hub CLI ---------------------------------------------

class Agent:
    def __init__(self, d, name, broker, pubkey, cert="client", ca="ca",
                 extra="", partition="plant-a", url=None, gossip=None,
                 sections=""):
        self.dir = os.path.join(d, name)
        os.makedirs(self.dir, exist_ok=True)
        self.name = name
        self.proc = None
        self.log = os.path.join(d, f"{name}.log")
        self.conf = os.path.join(d, f"{name}.conf")
        hub_url = url if url is not None else broker.url()
        with open(self.conf, "w") as f:
            f.write(f"""[node]
name = {name}
data_dir = {self.dir}
log_level = info
[gossip]
{gossip if gossip is not None else "enabled = false"}
[runtime]
cgroup_root = none
[hub]
url = {hub_url}
ca = {d}/{ca}.pem
cert = {d}/{cert}.pem
key = {d}/{cert}.key
hub_pubkey = {pubkey}
partition = {partition}
keepalive_s = 5
backoff_min_s = 1
backoff_max_s = 4
{extra}
{sections}
""")

    def start(self, wait=True):
        logf = open(self.log, "a")
        self.proc = subprocess.Popen([FARNODE, "agent", "-c", self.conf],
                                     stdout=logf, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        if wait:
            return wait_until(lambda: self.status() is not None, 15)
        return True

    def cli(self, *args, timeout=20):
        """farnode CMD [SUB] --data-dir DIR REST (before any "--")."""
        n = 2 if args[0] == "hub" else 1
        return run([FARNODE, *args[:n], "--data-dir", self.dir, *args[n:]],
                   check=False, timeout=timeout)

    def status(self):
        p = self.cli("status", "--json")
        return json.loads(p.stdout) if p.returncode == 0 else None

    def hub_status(self):
        p = self.cli("hub", "status", "--json")
        return json.loads(p.stdout) if p.returncode == 0 else None

    def node_id(self):
        return self.status()["node_id"]

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def logtext(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""


class Hub:
    """`farnode hub ...` with the operator identity."""

    def __init__(self, d, broker, partition="plant-a"):
        self.d = d
        self.conf = os.path.join(d, "hub.conf")
        with open(self.conf, "w") as f:
            f.write(f"""[hub]
url = {broker.op_url()}
ca = {d}/ca.pem
cert = {d}/operator.pem
key = {d}/operator.key
partition = {partition}
""")
        self.keydir = os.path.join(d, "hubkey")
        os.makedirs(self.keydir, exist_ok=True)

    def __call__(self, *args, timeout=30):
        return run([FARNODE, "hub", *args, "-c", self.conf, "--signing-key",
                    os.path.join(self.keydir, "signing.key")], check=False,
                   timeout=timeout, cwd=self.d)

    def keygen(self):
        return run([FARNODE, "hub", "keygen", "--dir", self.keydir],
                   check=False)

    def pubkey(self):
        return os.path.join(self.keydir, "signing.pub")

    def policy_file(self, name, text):
        path = os.path.join(self.d, name)
        with open(path, "w") as f:
            f.write(text)
        return path


class Watcher:
    """`farnode hub watch` with a durable session, restarted when it
    exits (broker restarts), appending to one file."""

    def __init__(self, d, hub_conf, client_id="farnode-test-watch",
                 partition=None):
        self.d = d
        self.out = os.path.join(d, f"{client_id}.out")
        self.err = os.path.join(d, f"{client_id}.err")
        self.args = [FARNODE, "hub", "watch", "-c", hub_conf, "--durable",
                     "--client-id", client_id]
        if partition:
            self.args += ["--partition", partition]
        self.proc = None
        self.stopped = False

    def start(self):
        self.starts = getattr(self, "starts", 0) + 1
        self.proc = subprocess.Popen(self.args, stdout=open(self.out, "a"),
                                     stderr=open(self.err, "a"),
                                     start_new_session=True)
        return wait_until(lambda: self.err_text().count("watching") >=
                          self.starts, 10)

    def ensure(self):
        """Restart if it exited (after a broker restart)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.start()
        return True

    def err_text(self):
        try:
            with open(self.err) as f:
                return f.read()
        except OSError:
            return ""

    def lines(self):
        try:
            with open(self.out) as f:
                return f.read().splitlines()
        except OSError:
            return []

    def events(self, node=None):
        """[(event_id, kind, historical, text)] in arrival order."""
        out = []
        for ln in self.lines():
            if not ln.startswith("event "):
                continue
            head, _, text = ln.partition(": ")
            kv = dict(p.split("=", 1) for p in head.split()[1:] if "=" in p)
            if node and kv.get("node") != node:
                continue
            out.append((int(kv.get("id", "0")), kv.get("kind"),
                        kv.get("historical") == "1", text))
        return out

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def tools_missing():
    for tool in ("mosquitto", "openssl"):
        if not shutil.which(tool):
            return tool
    return None


def workdir(prefix):
    return tempfile.mkdtemp(prefix=prefix)
