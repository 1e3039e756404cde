#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Boot the firmware image under qemu-system-aarch64 (cortex-a53, 512 MiB)
# and check that the agent started, answered `status`, and exited 0.
# Usage: cross/firmware/boot-test.sh IMAGEDIR   (prints TAP)
set -uo pipefail
dir=${1:?usage: boot-test.sh IMAGEDIR}
log="$dir/console.log"
t0=$(date +%s.%N)
timeout 180 qemu-system-aarch64 -M virt -cpu cortex-a53 -m 512 -nographic \
	-no-reboot -kernel "$dir/vmlinuz" -initrd "$dir/initramfs.cpio.gz" \
	-append "console=ttyAMA0 panic=-1 quiet" >"$log" 2>&1
rc=$?
t1=$(date +%s.%N)
echo "# boot-to-poweroff: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s (qemu exit $rc)"
n=0
fail=0
t() {
	n=$((n + 1))
	if grep -q "$2" "$log"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1; fi
}
t "firmware boots to init" "farnode-firmware: booted"
t "agent answers status inside the image" "farnode-firmware: STATUS-OK"
t "agent exits 0 on SIGTERM inside the image" "farnode-firmware: AGENT-EXIT 0"
t "agent logs offline autonomous mode" "offline autonomous mode"
echo "1..$n"
if [ "$fail" -ne 0 ]; then sed 's/^/# /' "$log" | tail -n 40; fi
exit $fail
