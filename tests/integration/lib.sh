# Helper library for the shell integration tests (tests/integration/tNNNN-*.sh),
# in the manner of git's t/test-lib.sh. Each script gets a fresh trash
# directory with its own HOME and XDG_CONFIG_HOME; each test_expect_success
# body runs in a subshell with `set -e` inside the trash directory.
#
#   . "$(dirname "$0")/lib.sh"
#   test_expect_success 'what it checks' '
#       skiff ... &&
#       expect_exit 3 skiff update-ref ...
#   '
#   test_done

set -u
TEST_NAME=$(basename "$0" .sh)
TEST_SRC=$(cd "$(dirname "$0")/../.." && pwd)
SKIFF_BIN=${SKIFF_BIN:-$TEST_SRC/build/skiff}
TRASH=$(mktemp -d "${TMPDIR:-/tmp}/skiff-$TEST_NAME.XXXXXX")
export HOME="$TRASH/home" XDG_CONFIG_HOME="$TRASH/home/.config"
unset SKIFF_DIR SKIFF_FORMAT SKIFF_IDENTITY SKIFF_FAULT SKIFF_MAX_OBJECT_BYTES
mkdir -p "$HOME"
cd "$TRASH" || exit 1
test_count=0
test_failed=0
_cleanups=()

skiff() { "$SKIFF_BIN" "$@"; }

# Registers a command run by test_done (and on exit), e.g. stopping a server.
test_cleanup() { _cleanups+=("$1"); }

_run_cleanups() {
	local c
	for c in "${_cleanups[@]+"${_cleanups[@]}"}"; do eval "$c" >/dev/null 2>&1 || true; done
	_cleanups=()
}
trap '_run_cleanups; rm -rf "$TRASH"' EXIT

test_expect_success() {
	local desc=$1 body=$2
	test_count=$((test_count + 1))
	local out
	if out=$(cd "$TRASH" && (set -e; eval "$body") 2>&1); then
		echo "ok $test_count - $desc"
	else
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $desc"
		printf '%s\n' "$out" | tail -30 | sed 's/^/#   /'
	fi
}

test_done() {
	_run_cleanups
	echo "# passed $((test_count - test_failed)), failed $test_failed"
	[ "$test_failed" -eq 0 ]
	exit $?
}

# expect_exit CODE CMD...: runs CMD, fails unless it exits with CODE.
# Its stdout is kept in $TRASH/out, its stderr in $TRASH/err.
expect_exit() {
	local want=$1 got=0
	shift
	"$@" >"$TRASH/out" 2>"$TRASH/err" || got=$?
	if [ "$got" -ne "$want" ]; then
		echo "expected exit $want, got $got: $*" >&2
		sed 's/^/  stdout: /' "$TRASH/out" >&2
		sed 's/^/  stderr: /' "$TRASH/err" >&2
		return 1
	fi
}

# json_is FILTER VALUE [FILE]: jq -r FILTER of FILE (default $TRASH/out) equals VALUE.
json_is() {
	local got
	got=$(jq -r "$1" "${3:-$TRASH/out}") || { echo "jq failed on ${3:-$TRASH/out}" >&2; return 1; }
	if [ "$got" != "$2" ]; then
		echo "json_is: $1: expected '$2', got '$got'" >&2
		return 1
	fi
}

# one_json_doc [FILE]: the file holds exactly one JSON document.
one_json_doc() {
	local n
	n=$(jq -s 'length' "${1:-$TRASH/out}") || return 1
	[ "$n" -eq 1 ] || { echo "expected one JSON document, found $n" >&2; return 1; }
}

# snapshot DIR: a listing of every file with its hash, to prove nothing changed.
snapshot() {
	(cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

# A repository with key "alice" as root and operator, in $TRASH/repo.
setup_repo() {
	skiff keygen alice >/dev/null &&
	mkdir -p "$TRASH/repo" &&
	skiff init "$TRASH/repo" >/dev/null
}
