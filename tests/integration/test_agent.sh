#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The agent's lifecycle with the real binary: start, status, SIGHUP reload,
# SIGTERM → exit 0 with a clean database; a second agent on the same data
# dir is refused; bad input gives one clear line and the right exit code.
. "$(dirname "$0")/lib.sh"

cat >"$WORK/a.conf" <<CONF
[node]
name = it-node
log_level = info
[gossip]
enabled = false
CONF

check "agent starts and answers status" start_agent a -c "$WORK/a.conf"
PID_A=$AGENT_PID
out=$("$FARNODE" status --data-dir "$WORK/a" 2>&1)
check "status shows node id and generation 1" \
	grep -qE 'generation: +1$' <<<"$out"
json=$("$FARNODE" status --data-dir "$WORK/a" --json)
check "status --json is valid JSON with the node id" \
	python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert len(d["node_id"])==36 and d["generation"]==1 and d["hub_state"]=="disabled"' "$json"
check "offline autonomous mode is logged" grep -q "offline autonomous mode" "$WORK/a.log"
check "control socket has mode 0660" \
	test "$(stat -c %a "$WORK/a/farnode.sock")" = 660

# second instance on the same data dir
"$FARNODE" agent --data-dir "$WORK/a" >"$WORK/second.out" 2>&1
rc=$?
check "second agent on the same data dir exits 1" test "$rc" -eq 1
check "second agent names the running pid" \
	grep -q "another agent (pid $PID_A) is already using data directory" "$WORK/second.out"

# SIGHUP: a live key and a restart-only key
sed -i 's/log_level = info/log_level = debug/' "$WORK/a.conf"
printf '[control]\nsocket = %s/other.sock\n' "$WORK" >>"$WORK/a.conf"
kill -HUP "$PID_A"
check "SIGHUP applies live keys" wait_for 5 grep -q "reload: node.log_level changed (applied)" "$WORK/a.log"
check "SIGHUP reports keys that need a restart" \
	grep -q "reload: control.socket changed but needs a restart" "$WORK/a.log"
check "agent still serves after reload" bash -c "'$FARNODE' status --data-dir '$WORK/a' >/dev/null"
# a broken file on reload keeps the running config
echo "garbage line" >>"$WORK/a.conf"
kill -HUP "$PID_A"
check "bad config on SIGHUP is refused, agent keeps running" \
	wait_for 5 grep -q "reload failed, keeping the running configuration" "$WORK/a.log"
check "agent still serves after a failed reload" bash -c "'$FARNODE' status --data-dir '$WORK/a' >/dev/null"

kill -TERM "$PID_A"
wait "$PID_A"
rc=$?
check "SIGTERM exits 0" test "$rc" -eq 0
check "socket removed on exit" test ! -e "$WORK/a/farnode.sock"
check "database passes integrity_check" \
	test "$(sqlite3 "$WORK/a/farnode.db" 'PRAGMA integrity_check')" = ok
out=$("$FARNODE" status --data-dir "$WORK/a" 2>&1)
rc=$?
check "status with no agent exits 1" test "$rc" -eq 1
check "status with no agent says so" grep -q "no agent running" <<<"$out"

# restart: generation increments, identity stays
id1=$(sqlite3 "$WORK/a/farnode.db" "SELECT hex(v) FROM node WHERE k='id'")
start_agent a >/dev/null
out=$("$FARNODE" status --data-dir "$WORK/a" --json)
check "restart keeps the id and bumps the generation" \
	python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["generation"]==2 and d["node_id"].replace("-","").upper()==sys.argv[2]' "$out" "$id1"
kill -INT "$AGENT_PID"
wait "$AGENT_PID"
check "SIGINT exits 0" test $? -eq 0

# bad input: one clear line, exit code 2 (config) or 1 (runtime)
printf '[gossip]\nprobe_interval_ms = fast\n' >"$WORK/bad.conf"
out=$("$FARNODE" agent -c "$WORK/bad.conf" 2>&1)
rc=$?
check "bad value: exit 2" test "$rc" -eq 2
check "bad value: FILE:LINE: key: what (allowed: ...)" \
	grep -qF "$WORK/bad.conf:2: probe_interval_ms: 'fast' is not an integer (allowed: 0..600000)" <<<"$out"
printf '[node]\nname = x\n' >"$WORK/good.conf"
check "--check-config: good file exit 0" bash -c "'$FARNODE' agent -c '$WORK/good.conf' --check-config >/dev/null"
"$FARNODE" agent -c "$WORK/bad.conf" --check-config >/dev/null 2>&1
check "--check-config: bad file exit 2" test $? -eq 2
"$FARNODE" agent -c "$WORK/missing.conf" >/dev/null 2>&1
check "missing config: exit 2" test $? -eq 2
"$FARNODE" agent --no-such-flag >/dev/null 2>&1
check "unknown flag: exit 2" test $? -eq 2
"$FARNODE" frobnicate >/dev/null 2>&1
check "unknown command: exit 2" test $? -eq 2
touch "$WORK/notadir"
out=$("$FARNODE" agent --data-dir "$WORK/notadir/x" 2>&1)
check "unusable data dir: exit 1 with the path" \
	bash -c "test $? -eq 1 && grep -q 'cannot create data directory' <<<'$out'"
mkdir -p "$WORK/newer"
sqlite3 "$WORK/newer/farnode.db" "CREATE TABLE t(x); PRAGMA user_version=42;"
sum1=$(sha256sum "$WORK/newer/farnode.db")
out=$("$FARNODE" agent --data-dir "$WORK/newer" 2>&1)
rc=$?
check "newer database refused with exit 1" test "$rc" -eq 1
check "newer database: clear message" grep -q "schema version 42 is newer" <<<"$out"
check "newer database left unmodified" test "$sum1" = "$(sha256sum "$WORK/newer/farnode.db")"
# full disk at start: a tiny tmpfs (needs root; skipped otherwise)
mkdir -p "$WORK/full"
if mount -t tmpfs -o size=16k tmpfs "$WORK/full" 2>/dev/null; then
	dd if=/dev/zero of="$WORK/full/filler" bs=4k count=3 2>/dev/null
	out=$("$FARNODE" agent --data-dir "$WORK/full" 2>&1)
	rc=$?
	check "full disk at start: exit 1" test "$rc" -eq 1
	check "full disk at start: clear message" grep -qiE "disk|full|space" <<<"$out"
	umount "$WORK/full"
else
	skip "full disk at start (cannot mount a tmpfs here)"
	skip "full disk at start: message"
fi
check "farnode --help lists commands" bash -c "'$FARNODE' --help | grep -q 'status'"
for c in agent status reload config version; do
	check "farnode $c --help exits 0" bash -c "'$FARNODE' $c --help >/dev/null"
done
check "farnode version prints library versions" bash -c "'$FARNODE' version | grep -q sqlite"
"$FARNODE" config --markdown >"$WORK/table.md"
check "README configuration table is current (farnode config --markdown)" \
	python3 -c 'import sys; t=open(sys.argv[1]).read(); r=open(sys.argv[2]).read(); sys.exit(0 if t in r else 1)' "$WORK/table.md" README.md
plan_done
