#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Install the Debian packages farnode needs to build and test, and nothing
# when they are all present. CROSS=aarch64|armhf adds the cross toolchain,
# the target's -dev packages and qemu-user. Prints what is missing and how to
# install it when not run as root.
set -eu

BUILD_PKGS="gcc make pkgconf libuv1-dev libprotobuf-c-dev protobuf-c-compiler
libmbedtls-dev libsqlite3-dev libinih-dev libyaml-dev libcmocka-dev zlib1g-dev"
TEST_PKGS="python3 mosquitto openssl sqlite3 procps"
TARGET_DEVS="libuv1-dev libprotobuf-c-dev libmbedtls-dev libsqlite3-dev
libinih-dev libyaml-dev libcmocka-dev libc6-dev zlib1g-dev"

want="$BUILD_PKGS $TEST_PKGS"
arch=""
case "${CROSS:-}" in
"") ;;
aarch64) arch=arm64; want="$want gcc-aarch64-linux-gnu qemu-user" ;;
armhf) arch=armhf; want="$want gcc-arm-linux-gnueabihf qemu-user" ;;
*) echo "deps: CROSS must be aarch64 or armhf" >&2; exit 2 ;;
esac
if [ -n "$arch" ]; then
	want="$want pkgconf:$arch"
	for p in $TARGET_DEVS; do want="$want $p:$arch"; done
fi

native=$(dpkg --print-architecture)
installed() {
	case "$1" in
	*:*) q="$1" ;;
	*) q="$1:$native" ;;
	esac
	st=$(dpkg-query -W -f='${db:Status-Status}' "$q" 2>/dev/null ||
		dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)
	[ "$st" = "installed" ]
}
missing=""
for p in $want; do
	installed "$p" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: run 'sudo make deps${CROSS:+ CROSS=$CROSS}' or install them with apt-get" >&2
	exit 1
fi
echo "deps: installing:$missing"
if [ -n "$arch" ] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
	dpkg --add-architecture "$arch"
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
