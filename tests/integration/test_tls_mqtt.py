#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# MQTT over TLS against a real Mosquitto. Generates with openssl (EC P-256)
# a CA, a server certificate for localhost/127.0.0.1, a client certificate,
# an expired client certificate and a CA plus client from a second,
# untrusted authority; starts `mosquitto -c conf` in the foreground on
# 127.0.0.1 and a free port with required client certificates, identity as
# user name and TLS 1.2 only; then runs the broker group of the TLS test
# program ($FARNODE_BUILD/tests/test_tls with FARNODE_TLS_TEST_DIR/PORT),
# which drives agent/tls.c and the MQTT codec/session. Its TAP lines are
# passed through; the broker's own log is checked too. Mosquitto is stopped
# on every exit path.
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

results = []


def tap(ok, name):
    results.append((ok, name))
    print(f"{'ok' if ok else 'not ok'} {len(results)} - {name}", flush=True)


def run(cmd, cwd):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {p.stderr.strip()}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ec_key(d, name):
    run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
         "-out", f"{name}.key"], d)


def make_ca(d, name, cn):
    ec_key(d, name)
    run(["openssl", "req", "-x509", "-new", "-key", f"{name}.key",
         "-sha256", "-days", "30", "-subj", f"/CN={cn}",
         "-out", f"{name}.pem"], d)


def make_cert(d, name, cn, ca, ext):
    ec_key(d, name)
    run(["openssl", "req", "-new", "-key", f"{name}.key", "-subj",
         f"/CN={cn}", "-out", f"{name}.csr"], d)
    with open(os.path.join(d, f"{name}.ext"), "w") as f:
        f.write(ext)
    run(["openssl", "x509", "-req", "-in", f"{name}.csr", "-CA",
         f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial", "-days",
         "30", "-sha256", "-extfile", f"{name}.ext", "-out",
         f"{name}.pem"], d)


CLIENT_EXT = "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n"


def make_expired(d):
    """A client certificate valid only in the first half of 2020."""
    ec_key(d, "client-expired")
    run(["openssl", "req", "-new", "-key", "client-expired.key", "-subj",
         "/CN=farnode-expired", "-out", "client-expired.csr"], d)
    os.makedirs(os.path.join(d, "newcerts"), exist_ok=True)
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("1000\n")
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write(f"""[ca]
default_ca = ca_default
[ca_default]
database = {d}/index.txt
new_certs_dir = {d}/newcerts
serial = {d}/serial
default_md = sha256
policy = policy_any
x509_extensions = client_ext
[policy_any]
commonName = supplied
[client_ext]
{CLIENT_EXT}""")
    run(["openssl", "ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem",
         "-keyfile", "ca.key", "-in", "client-expired.csr", "-out",
         "client-expired.pem", "-notext", "-startdate", "20200101000000Z",
         "-enddate", "20200601000000Z"], d)


def make_certs(d):
    make_ca(d, "ca", "farnode test CA")
    make_cert(d, "server", "localhost", "ca",
              "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
              "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    make_cert(d, "client", "farnode-probe", "ca", CLIENT_EXT)
    make_expired(d)
    make_ca(d, "other-ca", "some other CA")
    make_cert(d, "other-client", "farnode-stranger", "other-ca", CLIENT_EXT)


def start_broker(d, port):
    conf = os.path.join(d, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(f"""per_listener_settings false
allow_anonymous false
persistence false
user root
log_dest stderr
log_type all
listener {port} 127.0.0.1
cafile {d}/ca.pem
certfile {d}/server.pem
keyfile {d}/server.key
require_certificate true
use_identity_as_username true
tls_version tlsv1.2
""")
    log = open(os.path.join(d, "mosquitto.log"), "w")
    proc = subprocess.Popen(["mosquitto", "-c", conf], stdout=log,
                            stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    return proc


def stop_broker(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def broker_log(d):
    try:
        with open(os.path.join(d, "mosquitto.log")) as f:
            return f.read()
    except OSError:
        return ""


def main():
    build = os.environ.get("FARNODE_BUILD", "build")
    program = os.path.join(build, "tests", "test_tls")
    for tool in ("mosquitto", "openssl"):
        if not shutil.which(tool):
            print(f"1..0 # SKIP {tool} not installed")
            return 0
    if not os.access(program, os.X_OK):
        tap(False, f"{program} is built (make {program})")
        return 1

    d = tempfile.mkdtemp(prefix="farnode-tls-mqtt.")
    proc = None

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        try:
            make_certs(d)
            tap(True, "openssl made CA, server, client, expired and "
                "foreign certificates")
        except RuntimeError as e:
            tap(False, f"certificate generation: {e}")
            return 1
        port = free_port()
        proc = start_broker(d, port)
        up = proc.poll() is None
        tap(up, f"mosquitto listening with TLS on 127.0.0.1:{port}")
        if not up:
            print("# " + broker_log(d).replace("\n", "\n# "))
            return 1

        env = dict(os.environ, FARNODE_TLS_TEST_DIR=d,
                   FARNODE_TLS_TEST_PORT=str(port),
                   CMOCKA_MESSAGE_OUTPUT="TAP")
        try:
            p = subprocess.run([program], env=env, capture_output=True,
                               text=True, timeout=120)
            out, rc = p.stdout + p.stderr, p.returncode
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode() if isinstance(
                e.stdout, bytes) else (e.stdout or "")
            rc = -1
        seen = 0
        for line in out.splitlines():
            if line.startswith("ok ") or line.startswith("not ok "):
                ok = line.startswith("ok ")
                name = line.split(" - ", 1)[-1]
                tap(ok, f"broker: {name}")
                seen += 1
            elif line.strip():
                print(f"# {line}")
        tap(rc == 0 and seen == 8, f"test program passed all 8 broker "
            f"cases (exit {rc}, {seen} reported)")

        log = broker_log(d)
        tap("as probe-round-trip" in log and "u'farnode-probe'" in log,
            "broker took the client certificate's CN as user name")
        refused = log.count("certificate verify failed")
        tap(refused >= 3 and "u'farnode-expired'" not in log
            and "u'farnode-stranger'" not in log,
            f"broker refused the expired and foreign certificates "
            f"({refused} verify failures logged)")
    finally:
        stop_broker(proc)
        alive = proc is not None and proc.poll() is None
        if proc is not None:
            tap(not alive, "mosquitto stopped")
        if os.environ.get("FARNODE_KEEP_TMP"):
            print(f"# kept {d}")
        else:
            shutil.rmtree(d, ignore_errors=True)
    return 0 if all(ok for ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
