#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build a minimal aarch64 firmware image: Debian's cloud-arm64 kernel and an
# initramfs holding busybox, the static farnode agent and an /init that
# brings the system up, starts the agent on its embedded defaults, checks it
# over the control socket, stops it cleanly and powers off.
#
# Usage: cross/firmware/mkimage.sh OUTDIR
# Needs: apt-get (to download, not install, the kernel and busybox-static
# packages for arm64), dpkg-deb, cpio, gzip, and a static aarch64 farnode
# (built here with `make CROSS=aarch64 STATIC=1`).
set -euo pipefail
out=${1:?usage: mkimage.sh OUTDIR}
top=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
cache="$out/cache"
mkdir -p "$cache"

env -u MAKEFLAGS -u MFLAGS -u SANITIZE -u BUILD make -j"$(nproc)" -C "$top" --no-print-directory CROSS=aarch64 STATIC=1 SANITIZE= build/aarch64-static/farnode >/dev/null

# Kernel and busybox from Debian (downloaded once into the cache).
kver=$(apt-cache depends linux-image-cloud-arm64:arm64 2>/dev/null |
	awk '/Depends: linux-image-[0-9]/ { sub(":arm64", "", $2); print $2; exit }')
[ -n "$kver" ] || { echo "mkimage: cannot resolve linux-image-cloud-arm64:arm64 (apt-get update?)" >&2; exit 1; }
if [ ! -f "$cache/vmlinuz" ]; then
	(cd "$cache" && apt-get download "$kver:arm64" >/dev/null)
	dpkg-deb -x "$cache"/linux-image-*.deb "$cache/kernel"
	cp "$cache"/kernel/boot/vmlinuz-* "$cache/vmlinuz"
	rm -rf "$cache/kernel" "$cache"/linux-image-*.deb
fi
if [ ! -x "$cache/busybox" ]; then
	(cd "$cache" && apt-get download busybox-static:arm64 >/dev/null)
	dpkg-deb -x "$cache"/busybox-static_*.deb "$cache/bb"
	cp "$cache/bb/bin/busybox" "$cache/busybox"
	rm -rf "$cache/bb" "$cache"/busybox-static_*.deb
fi

root="$out/root"
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,etc/farnode,var/lib/farnode,usr/bin}
cp "$cache/busybox" "$root/bin/busybox"
for app in sh mount ip sleep cat echo poweroff kill mkdir ls grep; do
	ln -s busybox "$root/bin/$app"
done
aarch64-linux-gnu-strip -o "$root/usr/bin/farnode" "$top/build/aarch64-static/farnode"
cat >"$root/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp
ip link set lo up
echo "farnode-firmware: booted $(cat /proc/version | cut -d' ' -f1-3)"
/usr/bin/farnode version
/usr/bin/farnode agent --data-dir /var/lib/farnode &
pid=$!
i=0
while [ $i -lt 100 ]; do
	/usr/bin/farnode status --data-dir /var/lib/farnode >/tmp/status 2>&1 && break
	sleep 0.1
	i=$((i + 1))
done
cat /tmp/status
if grep -q "generation:  1" /tmp/status; then
	echo "farnode-firmware: STATUS-OK"
fi
kill -TERM $pid
wait $pid
echo "farnode-firmware: AGENT-EXIT $?"
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) >"$out/initramfs.cpio.gz"
cp "$cache/vmlinuz" "$out/vmlinuz"
echo "image: $out/vmlinuz + $out/initramfs.cpio.gz ($(stat -c %s "$out/initramfs.cpio.gz") bytes initramfs; kernel $kver)"
