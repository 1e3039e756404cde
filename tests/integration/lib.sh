# SPDX-License-Identifier: Apache-2.0
# Shared helpers for shell integration tests: TAP output, temp dirs, agent
# start/stop, waiting. Source it; then call `plan_done` at the end.
set -u
FARNODE=${FARNODE_BIN:-$PWD/build/farnode}
TAP_N=0
TAP_FAIL=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/farnode-it.XXXXXX")
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "$TAP_FAIL" -eq 0 ]; then
		rm -rf "$WORK"
	else
		echo "# work dir kept: $WORK"
	fi
}
trap cleanup EXIT

ok() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $*"; }
not_ok() { TAP_N=$((TAP_N + 1)); TAP_FAIL=$((TAP_FAIL + 1)); echo "not ok $TAP_N - $*"; }
# check "description" command...: ok if the command succeeds
check() {
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
skip() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - # SKIP $*"; }

# wait_for SECONDS command...: poll until the command succeeds
wait_for() {
	local t=$1
	shift
	local end=$((SECONDS + t))
	while [ $SECONDS -le $end ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# start_agent NAME [args...]: data dir $WORK/NAME, log $WORK/NAME.log;
# sets AGENT_PID.
start_agent() {
	local name=$1
	shift
	mkdir -p "$WORK/$name"
	"$FARNODE" agent --data-dir "$WORK/$name" "$@" >>"$WORK/$name.log" 2>&1 &
	AGENT_PID=$!
	PIDS+=("$AGENT_PID")
	wait_for 10 "$FARNODE" status --data-dir "$WORK/$name"
}

plan_done() {
	echo "1..$TAP_N"
	[ "$TAP_FAIL" -eq 0 ]
}
