#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Baseline: binary sizes (native dynamic; aarch64 and armhf static, all
# stripped) and the agent's RSS after IDLE_S seconds idle (default 10), as a
# table. Cross binaries are built here if the toolchains are installed.
set -u
IDLE_S=${IDLE_S:-10}
FARNODE=${FARNODE_BIN:-build/farnode}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

size_of() { # stripped size in bytes of $2 using strip $1
	"$1" -o "$tmp/s" "$2" 2>/dev/null && stat -c %s "$tmp/s"
}
fmt_kib() { awk -v b="$1" 'BEGIN { printf "%.0f KiB", b / 1024 }'; }

printf '%-34s %s\n' "what" "value"
printf '%-34s %s\n' "----" "-----"
printf '%-34s %s\n' "native dynamic, stripped" "$(fmt_kib "$(size_of strip "$FARNODE")")"
for arch in aarch64 armhf; do
	case $arch in
	aarch64) strip_bin=aarch64-linux-gnu-strip ;;
	armhf) strip_bin=arm-linux-gnueabihf-strip ;;
	esac
	if command -v "$strip_bin" >/dev/null 2>&1 &&
		make --no-print-directory CROSS=$arch STATIC=1 "build/$arch-static/farnode" >"$tmp/build.log" 2>&1; then
		printf '%-34s %s\n' "$arch static, stripped" \
			"$(fmt_kib "$(size_of "$strip_bin" "build/$arch-static/farnode")")"
	else
		printf '%-34s %s\n' "$arch static, stripped" "(cross toolchain missing or build failed)"
	fi
done

# Idle memory with the embedded defaults (gossip on a free loopback port),
# for the dynamic binary and the static one (what firmware images ship).
# RSS counts every resident page of the shared libraries (libc, SQLite, ...)
# although other processes share them; PSS divides shared pages among their
# users, so it is what one more agent costs the device.
idle() { # idle LABEL BINARY
	local label=$1 bin=$2 port pid
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	printf '[gossip]\nbind = 127.0.0.1:%s\n' "$port" >"$tmp/idle.conf"
	rm -rf "$tmp/data"
	"$bin" agent -c "$tmp/idle.conf" --data-dir "$tmp/data" >"$tmp/agent.log" 2>&1 &
	pid=$!
	sleep "$IDLE_S"
	if kill -0 "$pid" 2>/dev/null; then
		local rss hwm pss anon
		rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
		hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
		anon=$(awk '/^RssAnon/ { print $2 }' "/proc/$pid/status")
		pss=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null)
		printf '%-34s %s KiB (peak %s, anon %s, PSS %s KiB)\n' \
			"$label RSS after ${IDLE_S}s idle" "$rss" "$hwm" "$anon" "${pss:-?}"
		kill -TERM "$pid"
		wait "$pid"
	else
		printf '%-34s %s\n' "$label RSS after ${IDLE_S}s idle" "(agent exited; see log)"
		tail -n 5 "$tmp/agent.log"
	fi
}
idle "dynamic:" "$FARNODE"
if make --no-print-directory STATIC=1 build/static/farnode >"$tmp/build.log" 2>&1; then
	idle "static:" build/static/farnode
else
	printf '%-34s %s\n' "static: RSS" "(static build failed; see make STATIC=1)"
fi
echo "targets: idle RSS < 4096 KiB (the static binary is what devices run); native stripped dynamic binary < 300 KiB (foundation stage)"
