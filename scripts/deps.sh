#!/bin/sh
# Installs the Debian packages Skiff builds and tests with. Idempotent and
# quiet when everything is present: `scripts/deps.sh --ensure` returns at
# once when pkg-config finds every library and the tools are on PATH.
set -eu

# ceph-mon ceph-osd radosgw ceph-common: the single-node Ceph whose radosgw is
# the integration tests' S3 server (scripts/rgw.sh, which installs them too);
# hyperfine, restic, awscli: `make bench` and its anchors; haproxy: the local
# traffic provider (cloud/haproxy.c); wrk: load for `make demo` and the deploy tests;
# strace: t0030 checks the system calls of a ref update (one barrier)
PKGS="pkg-config strace libarchive-dev libsodium-dev libssl-dev libjansson-dev libzstd-dev libcurl4-openssl-dev
libgit2-dev libcmocka-dev libexpat1-dev libfyaml-dev jq git openssl zstd hyperfine restic awscli clang libclang-rt-14-dev groff-base time
haproxy wrk
ceph-mon ceph-osd radosgw ceph-common"
PCS="libsodium openssl jansson libzstd libcurl libgit2 cmocka expat libfyaml libarchive"
TOOLS="jq git openssl zstd pkg-config groff strace ceph-mon ceph-osd radosgw radosgw-admin haproxy wrk"

present() {
	command -v pkg-config >/dev/null 2>&1 || return 1
	pkg-config --exists $PCS || return 1
	for t in $TOOLS; do command -v "$t" >/dev/null 2>&1 || return 1; done
	[ -x /usr/bin/time ] || return 1
	return 0
}

if [ "${1:-}" = "--ensure" ] && present; then
	exit 0
fi

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
echo "skiff: installing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
present || { echo "skiff: dependencies still missing after install" >&2; exit 1; }
