# Helpers of the runner tests (t015x), sourced after lib.sh. One runner,
# of target hello/t1, on a free port; its log in $TRASH/runner.log.
# With URL set (a remote runner), reports are read from the repository
# after `skiff fetch origin`, or with DIRECT=1 straight from the remote
# (skiff --direct), e.g. while the remote's service record is rolled back.
. "$TEST_SRC/scripts/ports.sh"
BIN=$(dirname "$SKIFF_BIN")
RUNNER=$BIN/skiff-runner
HTTPD=$BIN/examples/skiff-example-httpd
EDIT=$BIN/tools/control-edit
PORT=$(free_port) || { echo "no free port"; exit 1; }
export SKIFF_IDENTITY=alice

sync_reports() { [ -z "${URL:-}" ] || [ -n "${DIRECT:-}" ] || skiff fetch origin >/dev/null; }
rd() { if [ -n "${DIRECT:-}" ]; then skiff --remote "$URL" --direct "$@"; else skiff "$@"; fi; }
# states: STATE:RELEASE of the target's reports, oldest first, one a line
# (a report repeats its state when only counters changed).
states() {
	rd --format=json log refs/runners/hello/t1 | jq -r '.records[].oid' |
		while read -r o; do
			rd --format=json cat-object -p "$o" | jq -r '.content | "\(.state):\(.release)"'
		done | tac
}
# last FILTER: FILTER applied to the newest report.
last() { rd --format=json cat-object -p "$(rd rev-parse refs/runners/hello/t1)" | jq -c -r ".content | $1"; }
# until_last FILTER VALUE: polls (up to 60 s) until the newest report matches.
until_last() {
	local i=0
	while [ $i -lt 300 ]; do
		sync_reports 2>/dev/null && [ "$(last "$1" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.2
		i=$((i + 1))
	done
	echo "never saw $1 = $2; last report: $(last . 2>&1)" >&2
	tail -5 "$TRASH/runner.log" >&2
	return 1
}

# The remote runner tests (t0151, t0152): one runner of hello/t1 reading
# $URL through the cache $CACHE, its pid in $TRASH/runner.pid.
remote_runner_start() {
	"$RUNNER" --service hello --target t1 --remote "$URL" \
		--cache "$CACHE" --identity runner1 --poll 100ms --health-interval 100ms \
		--report-interval 300ms "$@" >>"$TRASH/runner.log" 2>&1 &
	echo $! >"$TRASH/runner.pid"
}
remote_runner_stop() {
	local r
	r=$(cat "$TRASH/runner.pid")
	kill "$r" 2>/dev/null
	while kill -0 "$r" 2>/dev/null; do sleep 0.1; done
}
# remote_set_release V: control assigns V to t1, pushed to the remote.
remote_set_release() {
	"$EDIT" . alice hello "t1.release=$1" >/dev/null &&
	skiff push origin refs/services/hello "refs/operations/*" >/dev/null
}
