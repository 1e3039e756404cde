#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Start N farnode agents (one process each, own data dir) on 127.0.0.1 with
# the LAN profile, node 0 first and the rest joining node 0, and print one
# summary line comparable to run_memberlist.sh:
#   farnode N=<n> converge_s=<s> rss_kib=<avg> pkts_per_node_s=<p> bytes_per_node_s=<b>
# Convergence: the time of each node's (N-1)th "joined" log line.
# Usage: run_farnode.sh N BASE_PORT [STEADY_S] [sealed]
set -u
n=$1
base=$2
steady=${3:-10}
sealed=${4:-}
bin=${FARNODE_BIN:-build/farnode}
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
key=""
[ -n "$sealed" ] && key=$("$bin" keygen gossip)
for ((i = 0; i < n; i++)); do
	mkdir -p "$tmp/$i"
	{
		printf '[node]\nname = n%d\n[gossip]\nbind = 127.0.0.1:%d\n' "$i" $((base + i))
		[ "$i" -gt 0 ] && printf 'join = 127.0.0.1:%d\n' "$base"
		[ -n "$key" ] && printf 'key = %s\n' "$key"
		printf '[metrics]\nsample_interval_s = 60\n'
	} >"$tmp/$i.conf"
done
t0=$(date +%s%3N)
for ((i = 0; i < n; i++)); do
	"$bin" agent -c "$tmp/$i.conf" --data-dir "$tmp/$i" >"$tmp/$i.log" 2>&1 &
	pids+=($!)
	[ "$i" -eq 0 ] && sleep 0.2
done
# wait for convergence (every log has N-1 joins) or 120 s
deadline=$((SECONDS + 120))
while [ $SECONDS -lt $deadline ]; do
	done_n=0
	for ((i = 0; i < n; i++)); do
		c=$(grep -c ' joined$' "$tmp/$i.log" 2>/dev/null)
		[ "${c:-0}" -ge $((n - 1)) ] && done_n=$((done_n + 1))
	done
	[ "$done_n" -eq "$n" ] && break
	sleep 0.2
done
snap() { # snap FILE: "packets bytes" per node
	for ((i = 0; i < n; i++)); do
		"$bin" members --data-dir "$tmp/$i" --json 2>/dev/null |
			python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["udp_sent_packets"], d["udp_sent_bytes"])' 2>/dev/null ||
			echo "0 0"
	done >"$1"
}
snap "$tmp/s0"
sleep "$steady"
snap "$tmp/s1"
rss=0
for p in "${pids[@]}"; do
	r=$(awk '/^VmRSS/ { print $2 }' "/proc/$p/status" 2>/dev/null)
	rss=$((rss + ${r:-0}))
done
python3 - "$tmp" "$n" "$t0" "$steady" "$rss" "$done_n" <<'PY'
import datetime, os, sys
d, n, t0, steady, rss, done_n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
if done_n < n:
    print(f"farnode N={n} converged={done_n}/{n}")
    sys.exit(1)
last = 0
for i in range(n):
    joins = [l for l in open(os.path.join(d, f"{i}.log")) if l.rstrip().endswith(" joined")]
    ts = joins[n - 2].split()[0]
    t = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    last = max(last, t.timestamp() * 1000)
a = [tuple(map(int, l.split())) for l in open(os.path.join(d, "s0"))]
b = [tuple(map(int, l.split())) for l in open(os.path.join(d, "s1"))]
pk = sum(y[0] - x[0] for x, y in zip(a, b)) / n / steady
by = sum(y[1] - x[1] for x, y in zip(a, b)) / n / steady
print(f"farnode N={n} converge_s={(last - t0) / 1000:.2f} rss_kib={rss / n:.0f} pkts_per_node_s={pk:.2f} bytes_per_node_s={by:.0f}")
PY
