#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The systemd unit: `systemd-analyze verify` must accept it, and the
# security exposure is printed (not asserted). The notify protocol is tested
# against a local datagram socket standing in for systemd.
. "$(dirname "$0")/lib.sh"
UNIT=ports/linux/farnode.service

if command -v systemd-analyze >/dev/null 2>&1; then
	# verify needs ExecStart's binary to exist: point it at ours
	mkdir -p "$WORK/unit"
	sed "s|/usr/bin/farnode|$FARNODE|" "$UNIT" >"$WORK/unit/farnode.service"
	out=$(systemd-analyze verify "$WORK/unit/farnode.service" 2>&1)
	rc=$?
	bad=$(grep -v '^$' <<<"$out")
	if [ "$rc" -eq 0 ] && [ -z "$bad" ]; then ok "systemd-analyze verify accepts the unit"; else
		echo "$out" | sed 's/^/# /'; not_ok "systemd-analyze verify accepts the unit"; fi
	exposure=$(systemd-analyze security --offline=true "$WORK/unit/farnode.service" 2>/dev/null | tail -n 1)
	echo "# systemd-analyze security: ${exposure:-unavailable}"
	check "security exposure reported" test -n "$exposure"
else
	skip "systemd-analyze not installed"
	skip "security exposure"
fi
check "unit is Type=notify with a watchdog" \
	bash -c "grep -q '^Type=notify' $UNIT && grep -q '^WatchdogSec=' $UNIT"

# sd_notify: READY=1, WATCHDOG=1, STOPPING=1 reach NOTIFY_SOCKET
python3 - "$WORK/notify.sock" >"$WORK/notify.out" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); s.settimeout(15)
seen = []
try:
    while True:
        m = s.recv(4096).decode()
        seen.append(m); print(m, flush=True)
        if m == "STOPPING=1": break
except socket.timeout:
    pass
PY
LISTENER=$!
PIDS+=("$LISTENER")
wait_for 5 test -S "$WORK/notify.sock"
mkdir -p "$WORK/n"
printf '[gossip]\nenabled = false\n' >"$WORK/n.conf"
NOTIFY_SOCKET="$WORK/notify.sock" WATCHDOG_USEC=400000 \
	"$FARNODE" agent -c "$WORK/n.conf" --data-dir "$WORK/n" >"$WORK/n.log" 2>&1 &
AP=$!
PIDS+=("$AP")
check "READY=1 sent" wait_for 5 grep -qx "READY=1" "$WORK/notify.out"
check "WATCHDOG=1 pings sent" wait_for 5 grep -qx "WATCHDOG=1" "$WORK/notify.out"
kill -TERM "$AP"
wait "$AP"
check "agent exits 0 under notify" test $? -eq 0
wait "$LISTENER"
check "STOPPING=1 sent" grep -qx "STOPPING=1" "$WORK/notify.out"
# JOURNAL_STREAM: priority prefixes
JOURNAL_STREAM=1:1 "$FARNODE" agent -c "$WORK/n.conf" --data-dir "$WORK/n" >"$WORK/j.log" 2>&1 &
JP=$!
PIDS+=("$JP")
wait_for 5 "$FARNODE" status --data-dir "$WORK/n"
kill -TERM "$JP"
wait "$JP"
check "journald priority prefixes under JOURNAL_STREAM" grep -q '^<6>agent: ready' "$WORK/j.log"
plan_done
