#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# MQTT over TLS against a real Mosquitto. Generates with openssl (EC P-256)
# a CA, server certificates for localhost/127.0.0.1 (valid, expired, not yet
# valid), client certificates (valid, expired) and a CA plus client from a
# second, untrusted authority; starts `mosquitto -c conf` in the foreground
# with one TLS listener per server certificate on 127.0.0.1 and free ports,
# each with required client certificates, identity as user name and TLS 1.2
# only; then runs the broker group of the TLS test program
# ($FARNODE_BUILD/tests/test_tls with FARNODE_TLS_TEST_DIR and _PORT*),
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


def free_ports(n):
    """n distinct ports that were free a moment ago."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


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


SERVER_EXT = ("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
              "subjectAltName=DNS:localhost,IP:127.0.0.1\n")


def make_dated(d, name, cn, ext, start, end):
    """A certificate from the test CA valid only from start to end."""
    ec_key(d, name)
    run(["openssl", "req", "-new", "-key", f"{name}.key", "-subj",
         f"/CN={cn}", "-out", f"{name}.csr"], d)
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


def make_certs(d):
    make_ca(d, "ca", "farnode test CA")
    make_cert(d, "server", "localhost", "ca", SERVER_EXT)
    make_cert(d, "client", "farnode-probe", "ca", CLIENT_EXT)
    make_dated(d, "client-expired", "farnode-expired", CLIENT_EXT,
               "20200101000000Z", "20200601000000Z")
    make_dated(d, "server-expired", "localhost", SERVER_EXT,
               "20200101000000Z", "20200601000000Z")
    make_dated(d, "server-future", "localhost", SERVER_EXT,
               "20900101000000Z", "20910101000000Z")
    make_ca(d, "other-ca", "some other CA")
    make_cert(d, "other-client", "farnode-stranger", "other-ca", CLIENT_EXT)


def start_broker(d, port, port_expired, port_future):
    """One TLS listener per server certificate: valid, expired, future."""
    conf = os.path.join(d, "mosquitto.conf")
    listeners = ""
    for p, cert in ((port, "server"), (port_expired, "server-expired"),
                    (port_future, "server-future")):
        listeners += f"""
listener {p} 127.0.0.1
allow_anonymous false
cafile {d}/ca.pem
certfile {d}/{cert}.pem
keyfile {d}/{cert}.key
require_certificate true
use_identity_as_username true
tls_version tlsv1.2
"""
    with open(conf, "w") as f:
        f.write("per_listener_settings true\npersistence false\n"
                "user root\nlog_dest stderr\nlog_type all\n" + listeners)
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
            tap(True, "openssl made CA, server (valid, expired, future), "
                "client (valid, expired, foreign CA) certificates")
        except RuntimeError as e:
            tap(False, f"certificate generation: {e}")
            return 1
        port, port_expired, port_future = free_ports(3)
        proc = start_broker(d, port, port_expired, port_future)
        up = proc.poll() is None
        tap(up, f"mosquitto listening with TLS on 127.0.0.1:{port}")
        if not up:
            print("# " + broker_log(d).replace("\n", "\n# "))
            return 1

        env = dict(os.environ, FARNODE_TLS_TEST_DIR=d,
                   FARNODE_TLS_TEST_PORT=str(port),
                   FARNODE_TLS_TEST_PORT_EXPIRED=str(port_expired),
                   FARNODE_TLS_TEST_PORT_FUTURE=str(port_future),
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
        tap(rc == 0 and seen == 11, f"test program passed all 11 broker "
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
