#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench_runtime.sh: the agent's RSS idle and with 100 running proc
# workloads (sleep), and the time to start those 100 through the CLI.
# Prints numbers only. Needs FARNODE_BIN.
set -u
BIN=${FARNODE_BIN:-build/farnode}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/farnode-bench-rt.XXXXXX")
DATA=$WORK/data
mkdir -p "$DATA"
printf '[gossip]\nenabled = false\n[runtime]\ncgroup_root = none\nmax_workloads = 200\n' >"$WORK/a.conf"
"$BIN" agent -c "$WORK/a.conf" --data-dir "$DATA" >"$WORK/agent.log" 2>&1 &
AGENT=$!
cleanup() {
	for id in $(seq 1 100); do
		"$BIN" stop --no-wait --data-dir "$DATA" "w$id" >/dev/null 2>&1
	done
	sleep 0.5
	kill -TERM "$AGENT" 2>/dev/null
	wait "$AGENT" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 100); do
	"$BIN" status --data-dir "$DATA" >/dev/null 2>&1 && break
	sleep 0.05
done
rss() { awk '/^VmRSS/ {print $2}' "/proc/$AGENT/status"; }
sleep 1
idle=$(rss)
t0=$(date +%s%N)
for id in $(seq 1 100); do
	"$BIN" run --data-dir "$DATA" --name "w$id" -- sleep 300 >/dev/null || echo "run w$id failed"
done
t1=$(date +%s%N)
sleep 2
running=$("$BIN" ps --data-dir "$DATA" --json | python3 -c 'import json,sys; print(sum(w["phase"]=="running" for w in json.load(sys.stdin)["workloads"]))')
loaded=$(rss)
printf 'agent RSS idle:                   %6d KiB\n' "$idle"
printf 'agent RSS with %3d workloads:     %6d KiB  (+%d KiB, %.1f KiB per workload)\n' \
	"$running" "$loaded" $((loaded - idle)) "$(echo "($loaded - $idle) / $running" | bc -l)"
printf '100 x "farnode run" (CLI round trip + start): %.2f s (%.1f ms each)\n' \
	"$(echo "($t1 - $t0) / 1000000000" | bc -l)" "$(echo "($t1 - $t0) / 100000000" | bc -l)"
