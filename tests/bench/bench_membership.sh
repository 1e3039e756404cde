#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Side by side with HashiCorp memberlist (DefaultLANConfig; built offline
# from Debian's Go packages, see tests/bench/peers/): N = 50, 100, 200
# processes on 127.0.0.1, one per node, joined through node 0. Prints time
# until every node sees N members, RSS per node, and UDP packets/bytes sent
# per node per second in steady state, with farnode/memberlist ratios.
# farnode runs unsealed here (memberlist has no encryption configured);
# one sealed row shows the cost of AES-GCM (30 bytes per datagram).
set -u
here=$(cd "$(dirname "$0")" && pwd)
STEADY=${STEADY:-10}
SIZES=${SIZES:-50 100 200}
if ! command -v go >/dev/null 2>&1 ||
	[ ! -d /usr/share/gocode/src/github.com/hashicorp/memberlist ]; then
	echo "memberlist peer: needs golang-go and golang-github-hashicorp-memberlist-dev (apt-get install); skipped"
	exit 0
fi
# memberlist carries no node state; to compare membership alone, farnode
# reads a frozen metrics tree so its node state does not change (one row
# at the end shows live state on this machine, where all agents share one
# busy /proc).
export FARNODE_METRICS_ROOT=${FARNODE_METRICS_ROOT:-$here/../unit/fixtures/metrics/x86_64}
printf '%-5s %-10s %10s %10s %12s %12s\n' N impl converge_s rss_kib pkts/node/s bytes/node/s
declare -A F M
port=20000
for n in $SIZES; do
	f=$(bash "$here/peers/run_farnode.sh" "$n" "$port" "$STEADY")
	port=$((port + n + 10))
	m=$(bash "$here/peers/run_memberlist.sh" "$n" "$port" "$STEADY")
	port=$((port + n + 10))
	for line in "$f" "$m"; do
		python3 - "$line" <<'PY'
import sys
parts = sys.argv[1].split()
kv = dict(p.split("=", 1) for p in parts[1:])
if "converge_s" not in kv:
    print(f"{kv.get('N','?'):<5} {parts[0]:<10} did not converge ({kv})")
else:
    print(f"{kv['N']:<5} {parts[0]:<10} {float(kv['converge_s']):>10.2f} {int(kv['rss_kib']):>10} {float(kv['pkts_per_node_s']):>12.2f} {int(kv['bytes_per_node_s']):>12}")
PY
	done
	python3 - "$f" "$m" <<'PY'
import sys
def kv(s):
    p = s.split()
    return dict(x.split("=", 1) for x in p[1:])
a, b = kv(sys.argv[1]), kv(sys.argv[2])
try:
    r = lambda k: float(a[k]) / float(b[k]) if float(b[k]) else float("nan")
    print(f"{a['N']:<5} {'ratio':<10} {r('converge_s'):>10.2f} {r('rss_kib'):>10.2f} {r('pkts_per_node_s'):>12.2f} {r('bytes_per_node_s'):>12.2f}   (farnode / memberlist)")
except (KeyError, ValueError):
    pass
PY
done
s=$(bash "$here/peers/run_farnode.sh" 50 "$port" "$STEADY" sealed)
echo "sealed, frozen state: $s"
port=$((port + 60))
s=$(FARNODE_METRICS_ROOT= bash "$here/peers/run_farnode.sh" 50 "$port" "$STEADY")
echo "unsealed, live node state: $s"
