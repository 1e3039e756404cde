#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Start N memberlist peers (one process each) on 127.0.0.1, node 0 first,
# the rest joining node 0, and print one summary line:
#   memberlist N=<n> converge_s=<s> rss_kib=<avg> pkts_per_node_s=<p> bytes_per_node_s=<b>
# Usage: run_memberlist.sh N BASE_PORT [STEADY_S]
set -u
n=$1
base=$2
steady=${3:-10}
here=$(cd "$(dirname "$0")" && pwd)
bin=${MLPEER_BIN:-$here/../../../build/bench/mlpeer}
if [ ! -x "$bin" ]; then
	mkdir -p "$(dirname "$bin")"
	(cd "$here/memberlist" && GO111MODULE=off GOPROXY=off \
		GOPATH="$(dirname "$bin")/gopath:/usr/share/gocode" \
		go build -o "$bin" main.go) || { echo "memberlist N=$n build failed"; exit 1; }
fi
tmp=$(mktemp -d)
t0=$(date +%s%3N)
"$bin" -port "$base" -n "$n" -name n0 -steady "${steady}s" >"$tmp/0.json" 2>"$tmp/0.err" &
sleep 0.2
for ((i = 1; i < n; i++)); do
	"$bin" -port $((base + i)) -join "127.0.0.1:$base" -n "$n" -name "n$i" \
		-steady "${steady}s" >"$tmp/$i.json" 2>"$tmp/$i.err" &
done
wait
python3 - "$tmp" "$n" "$t0" <<'PY'
import json, os, sys
d, n, t0 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = []
for i in range(n):
    try:
        rows.append(json.loads(open(os.path.join(d, f"{i}.json")).read()))
    except Exception:
        pass
ok = [r for r in rows if r.get("converged")]
if len(ok) < n:
    print(f"memberlist N={n} converged={len(ok)}/{n}")
    sys.exit(1)
conv = (max(r["converged_unix_ms"] for r in ok) - t0) / 1000.0
rss = sum(r["rss_kib"] for r in ok) / n
pk = sum(r["pkts_per_s"] for r in ok) / n
by = sum(r["bytes_per_s"] for r in ok) / n
print(f"memberlist N={n} converge_s={conv:.2f} rss_kib={rss:.0f} pkts_per_node_s={pk:.2f} bytes_per_node_s={by:.0f}")
PY
rc=$?
rm -rf "$tmp"
exit $rc
