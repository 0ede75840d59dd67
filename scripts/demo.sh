#!/bin/bash
# `make demo`: ship a release end to end on this machine with real parts.
# A repository and keys, signed releases v1, v2 (healthy) and v3 (30% 5xx
# under load), four runners, HAProxy and wrk; then deploy v1, canary v2
# (it must be promoted) and canary v3 (it must be paused or rolled back),
# printing each decision with the signals behind it. Leaves nothing
# running; exits 0 only when every outcome was the right one.
#
#   scripts/demo.sh [BUILD]     (BUILD: the build directory, default build)
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd) || exit 1
. "$SRC/scripts/stack.sh"
DIR=$(mktemp -d "${TMPDIR:-/tmp}/skiff-demo.XXXXXX") || exit 1
ok=0
finish() {
	stack_down
	if [ "$ok" = 1 ]; then
		rm -rf "$DIR"
	else
		echo "demo: FAILED; logs kept in $DIR" >&2
	fi
}
trap finish EXIT
trap 'exit 130' INT TERM

say() { printf '\n== %s\n' "$*"; }
sk() { "$BUILD/skiff" -C "$DIR" "$@"; }
stable() { sk --format=json target list hello | jq -r '.release // "none"'; }
fail() { echo "demo: $*" >&2; exit 1; }

say "a repository, keys (admin, ci, runner), releases v1 v2 v3, four targets, HAProxy, runners"
stack_up "$DIR" "$BUILD" || fail "could not set up the stack"
sk release list hello
sk target list hello
echo "HAProxy listens on $STACK_LISTEN"

say "load: wrk, 4 connections against HAProxy"
load_start

say "deploy v1 (first deploy: every target)"
sk deploy hello --release v1 --wait 30s || fail "deploy v1 did not succeed"
[ "$(stable)" = v1 ] || fail "v1 is not the stable release"

say "canary v2: healthy, so each step advances and v2 is promoted"
sk deploy hello --release v2 --canary
rc=$?
[ $rc -eq 0 ] && [ "$(stable)" = v2 ] || fail "v2 was not promoted (exit $rc)"

say "canary v3: 30% 5xx under load, so the gate must stop it"
sk deploy hello --release v3 --canary
rc=$?
case $rc in
1) echo "v3 rolled back (exit 1)" ;;
6) echo "v3 paused (exit 6); rolling it back"; sk rollback hello || fail "rollback failed" ;;
*) fail "v3 was not stopped (exit $rc)" ;;
esac
[ "$(stable)" = v2 ] || fail "v2 is not the stable release after v3"
sk --format=json target list hello |
	jq -e '[.targets[] | select(.release != "v2" or .weight != 256)] | length == 0' >/dev/null ||
	fail "not every target is back on v2 with full weight"

say "where things stand"
sk status hello
sk traffic show hello
ok=1
say "demo passed: v1 deployed, v2 promoted, v3 stopped by its gates"
