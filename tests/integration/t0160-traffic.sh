#!/bin/bash
# skiff traffic with a real haproxy in front of two real example servers
# (build/examples/skiff-example-httpd; b answers 500 to every second
# request): start, weights from control split requests, apply sets only
# the weights that differ, drain, a new or removed target reloads
# haproxy, a killed haproxy is a typed "unreachable" error, and stop
# leaves no process behind. Counts come from haproxy's own counters after
# a known number of sequential requests; no assertion depends on timing.
. "$(dirname "$0")/lib.sh"
HTTPD=$(dirname "$SKIFF_BIN")/examples/skiff-example-httpd
CTL=$(dirname "$SKIFF_BIN")/tools/control-edit

# port_used, free_port [TAKEN...]
. "$TEST_SRC/scripts/ports.sh"
LP=$(free_port) && PA=$(free_port "$LP") && PB=$(free_port "$LP" "$PA") && PC=$(free_port "$LP" "$PA" "$PB") || {
	echo "no free ports"
	exit 1
}
TDIR="$TRASH/repo/.skiff/traffic"

# alive PID: a running process that is not a zombie (this container's
# init may not reap haproxy's daemon).
alive() {
	local st
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# Every process this script starts is stopped by pid: the two servers
# and whatever haproxy the pid file names at the end.
PORT=$PA EXAMPLE_NAME=a "$HTTPD" >"$TRASH/a.log" 2>&1 &
echo $! >"$TRASH/a.pid"
test_cleanup 'kill $(cat "$TRASH/a.pid")'
PORT=$PB EXAMPLE_NAME=b EXAMPLE_ERROR_PERCENT=50 "$HTTPD" >"$TRASH/b.log" 2>&1 &
echo $! >"$TRASH/b.pid"
test_cleanup 'kill $(cat "$TRASH/b.pid")'
test_cleanup 'p=$(cat "$TDIR/haproxy.pid") && alive $p && grep -q haproxy /proc/$p/comm && kill $p'

# wait_until SECONDS CMD...: polls CMD every 0.1 s (a wait, not a timed assertion).
wait_until() {
	local n=$(($1 * 10))
	shift
	while ! "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		[ $n -gt 0 ] || { echo "gave up waiting for: $*" >&2; return 1; }
		sleep 0.1
	done
}
both_up() {
	skiff --format=json traffic show hello >"$TRASH/show.json" &&
	jq -e '[.servers[] | .status == "UP"] | all and length == 2' "$TRASH/show.json"
}
# requests N PATH: N sequential requests through haproxy.
requests() {
	local i urls=()
	for i in $(seq "$1"); do urls+=("http://127.0.0.1:$LP$2"); done
	curl -s -o /dev/null "${urls[@]}"
}
# count T FIELD: haproxy's counter FIELD of server T.
count() {
	skiff --format=json traffic show hello | jq -r ".servers.$1.$2"
}

test_expect_success 'setup: a repository with targets a and b, both servers answering' '
	setup_repo && cd repo &&
	skiff target add hello a --addr 127.0.0.1:$PA >/dev/null &&
	skiff target add hello b --addr 127.0.0.1:$PB >/dev/null &&
	wait_until 10 curl -sf http://127.0.0.1:$PA/health &&
	wait_until 10 curl -sf http://127.0.0.1:$PB/health
'

test_expect_success 'before start: show, apply and set-state say "not started" (exit 7)' '
	cd repo &&
	expect_exit 7 skiff --format=json traffic show hello && json_is .error.code not_found &&
	grep -q "never started" "$TRASH/out" &&
	expect_exit 7 skiff traffic apply hello &&
	grep -q "skiff traffic start hello --listen" "$TRASH/err" &&
	expect_exit 7 skiff traffic set-state hello a drain
'

test_expect_success 'usage: start needs --listen and a HOST:PORT; set-state a known state' '
	cd repo &&
	expect_exit 2 skiff traffic start hello &&
	expect_exit 1 skiff --format=json traffic start hello --listen nowhere &&
	json_is .error.code invalid_input &&
	expect_exit 2 skiff traffic set-state hello a sideways &&
	test ! -e "$TDIR/services/hello.json"
'

test_expect_success 'start --dry-run prints the config and changes nothing' '
	cd repo &&
	before=$(snapshot .skiff) &&
	skiff --format=json traffic start hello --listen 127.0.0.1:$LP --dry-run >"$TRASH/out" &&
	json_is .dry_run true && json_is .action start && json_is .plan.kind "traffic start" &&
	jq -r .config "$TRASH/out" >"$TRASH/cfg" &&
	grep -q "^frontend fe_hello$" "$TRASH/cfg" &&
	grep -q "^    bind 127.0.0.1:$LP$" "$TRASH/cfg" &&
	grep -q "^    server a 127.0.0.1:$PA weight 256 check" "$TRASH/cfg" &&
	grep -q "^    option httpchk GET /health$" "$TRASH/cfg" &&
	test "$(snapshot .skiff)" = "$before" &&
	test ! -e "$TDIR/haproxy.pid"
'

test_expect_success 'start: haproxy runs with one server per target, both pass checks' '
	cd repo &&
	skiff --format=json traffic start hello --listen 127.0.0.1:$LP >"$TRASH/out" &&
	json_is .action start && json_is .servers 2 &&
	pid=$(jq -r .pid "$TRASH/out") && alive $pid &&
	test "$(cat "$TDIR/haproxy.pid")" = "$pid" &&
	test "$(stat -c %a "$TDIR/admin.sock")" = 600 &&
	json_is .listen 127.0.0.1:$LP "$TDIR/services/hello.json" &&
	wait_until 15 both_up &&
	skiff traffic show hello >"$TRASH/out" &&
	grep -q "^  a  *256  UP  *L7OK" "$TRASH/out"
'

test_expect_success 'weights from control split requests; b counts its 500s' '
	cd repo &&
	"$CTL" "$TRASH/repo" alice hello a.weight=192 b.weight=64 >/dev/null &&
	skiff --format=json traffic apply hello >"$TRASH/out" &&
	json_is "[.changed[] | \"\(.target):\(.from)->\(.to)\"] | join(\",\")" "a:256->192,b:256->64" &&
	json_is .unchanged 0 && json_is .reloaded false &&
	a0=$(count a requests) && b0=$(count b requests) &&
	requests 400 /x &&
	a1=$(count a requests) && b1=$(count b requests) &&
	da=$((a1 - a0)) && db=$((b1 - b0)) &&
	echo "a $da b $db" &&
	test $((da + db)) -eq 400 &&
	test $db -ge 80 && test $da -ge $((2 * db)) &&
	test "$(count a weight)" = 192 && test "$(count b weight)" = 64 &&
	test "$(count a hrsp_5xx)" = 0 &&
	b5=$(count b hrsp_5xx) && test $((b1 / 2)) -eq $b5 &&
	grep -q "error: injected failure" "$TRASH/b.log"
'

test_expect_success 'apply sets only the weights that differ; again, none' '
	cd repo &&
	"$CTL" "$TRASH/repo" alice hello b.weight=32 >/dev/null &&
	skiff --format=json traffic apply hello >"$TRASH/out" &&
	json_is "[.changed[] | \"\(.target):\(.from)->\(.to)\"] | join(\",\")" "b:64->32" &&
	json_is .unchanged 1 &&
	skiff --format=json traffic apply hello >"$TRASH/out" &&
	json_is ".changed | length" 0 && json_is .unchanged 2 && json_is .reloaded false &&
	test "$(count b weight)" = 32
'

test_expect_success 'apply --dry-run reports the change and sets nothing' '
	cd repo &&
	"$CTL" "$TRASH/repo" alice hello b.weight=0 >/dev/null &&
	skiff --format=json traffic apply hello --dry-run >"$TRASH/out" &&
	json_is .dry_run true &&
	json_is "[.changed[] | \"\(.target):\(.from)->\(.to)\"] | join(\",\")" "b:32->0" &&
	test "$(count b weight)" = 32 &&
	skiff traffic apply hello >"$TRASH/out" &&
	grep -q "^weight b  *32 -> 0$" "$TRASH/out" &&
	test "$(count b weight)" = 0
'

test_expect_success 'without weights, the stable release decides: 256 for it, 0 for a canary' '
	cd repo &&
	"$CTL" "$TRASH/repo" alice hello a.weight=- b.weight=- release=v1 a.release=v1 b.release=v2 >/dev/null &&
	skiff --format=json traffic apply hello --dry-run >"$TRASH/out" &&
	json_is "[.changed[] | \"\(.target):\(.from)->\(.to)\"] | join(\",\")" "a:192->256" &&
	skiff traffic apply hello >/dev/null &&
	test "$(count a weight)" = 256 && test "$(count b weight)" = 0 &&
	"$CTL" "$TRASH/repo" alice hello b.weight=256 >/dev/null &&
	skiff traffic apply hello >/dev/null && test "$(count b weight)" = 256
'

test_expect_success 'drain: a drained server gets no new requests; ready brings it back' '
	cd repo &&
	skiff --format=json traffic set-state hello a drain >"$TRASH/out" && json_is .state drain &&
	test "$(count a status)" = DRAIN &&
	a0=$(count a requests) && b0=$(count b requests) &&
	requests 20 /x &&
	test "$(count a requests)" = $a0 && test "$(count b requests)" = $((b0 + 20)) &&
	skiff traffic set-state hello a ready >/dev/null &&
	test "$(count a status)" = UP &&
	requests 20 /x && test "$(count a requests)" -gt $a0
'

test_expect_success 'a new target reloads haproxy with it; a removed one goes away' '
	cd repo &&
	old=$(cat "$TDIR/haproxy.pid") &&
	skiff target add hello c --addr 127.0.0.1:$PC >/dev/null &&
	"$CTL" "$TRASH/repo" alice hello c.weight=0 >/dev/null &&
	skiff --format=json traffic apply hello >"$TRASH/out" &&
	json_is .reloaded true &&
	json_is "[.changed[] | \"\(.target):\(.from)->\(.to)\"] | join(\",\")" "c:null->0" &&
	new=$(cat "$TDIR/haproxy.pid") && test "$new" != "$old" && alive $new &&
	wait_until 10 eval "! alive $old" &&
	test "$(count c weight)" = 0 &&
	skiff target remove hello c >/dev/null &&
	skiff --format=json traffic apply hello >"$TRASH/out" &&
	json_is .reloaded true && json_is ".removed | join(\",\")" c &&
	test "$(count c weight)" = null
'

test_expect_success 'haproxy killed: apply and show fail as unreachable (exit 1) and say so' '
	cd repo &&
	pid=$(cat "$TDIR/haproxy.pid") && kill -9 $pid &&
	wait_until 10 eval "! alive $pid" &&
	expect_exit 1 skiff --format=json traffic apply hello &&
	json_is .error.code unreachable && json_is .error.retryable true &&
	grep -q "haproxy (pid $pid) is not running" "$TRASH/out" &&
	expect_exit 1 skiff traffic show hello &&
	grep -q "killed or crashed" "$TRASH/err" &&
	grep -q "hint: skiff traffic start" "$TRASH/err" &&
	expect_exit 1 skiff traffic set-state hello a drain
'

test_expect_success 'start again after the kill; stop leaves no process, socket or record' '
	cd repo &&
	skiff --format=json traffic start hello --listen 127.0.0.1:$LP >"$TRASH/out" &&
	json_is .action start && pid=$(jq -r .pid "$TRASH/out") &&
	wait_until 15 both_up &&
	skiff --format=json traffic stop --dry-run >"$TRASH/out" && json_is .dry_run true &&
	alive $pid &&
	skiff --format=json traffic stop >"$TRASH/out" &&
	json_is .haproxy stopped && json_is ".stopped | join(\",\")" hello &&
	! alive $pid &&
	test ! -e "$TDIR/admin.sock" && test ! -e "$TDIR/haproxy.pid" &&
	test ! -e "$TDIR/services/hello.json" &&
	! curl -s -o /dev/null http://127.0.0.1:$LP/ &&
	expect_exit 7 skiff traffic apply hello &&
	skiff --format=json traffic stop >"$TRASH/out" && json_is .haproxy "not running"
'

test_done
