#!/bin/bash
# skiff logs: hand-made runner log files (current and rotated) of two
# targets merged by time, oldest rotated file first; filters by target,
# release and trace; -n; a last line still being written (no newline yet)
# waits; bad lines counted and skipped, never fatal;
# --follow prints appended lines and lines of a rotated-in file (JSON
# Lines); bad input is a typed error.
. "$(dirname "$0")/lib.sh"
# the follower of the --follow test, should that test fail half-way
test_cleanup 'kill "$(cat "$TRASH/follow.pid")"'
TR=0123456789abcdef0123456789abcdef

# line TARGET TIME_MS RELEASE STREAM TEXT [TRACE]
line() {
	jq -cn --arg t "$1" --argjson ms "$2" --arg r "$3" --arg s "$4" --arg l "$5" --arg tr "${6:-}" \
		'{line: $l, release: $r, stream: $s, target: $t, time_ms: $ms,
		  trace: (if $tr == "" then null else $tr end)}'
}

test_expect_success 'setup: service pay with targets t1 and t2 and their logs' '
	skiff keygen alice >/dev/null && skiff init . >/dev/null &&
	skiff target add pay t1 --addr 127.0.0.1:9001 >/dev/null &&
	skiff target add pay t2 --addr 127.0.0.1:9002 >/dev/null &&
	L1=.skiff/run/pay/t1/log && L2=.skiff/run/pay/t2/log && mkdir -p $L1 $L2 &&
	{ line t1 1000 v1 stdout "t1 oldest"; line t1 1500 v1 stdout "t1 old"; } >$L1/workload.jsonl.2 &&
	line t1 3000 v1 stderr "t1 middle" >$L1/workload.jsonl.1 &&
	{ line t1 5000 v2 stdout "t1 new" $TR; echo "not json"; echo "{\"line\":1}";
	  line t2 5500 v2 stdout "says it is t2"; line t1 6000 v2 stdout "t1 newest" $TR; } >$L1/workload.jsonl &&
	{ line t2 2000 v1 stdout "t2 early"; line t2 4000 v1 stdout "t2 late";
	  printf "%s" "$(line t2 7000 v1 stdout "t2 unfinished")"; } >$L2/workload.jsonl
'

test_expect_success 'merged by time across targets and rotated files; bad lines counted' '
	skiff --format=json logs pay >out && one_json_doc &&
	json_is "[.lines[].line] | join(\"|\")" \
		"t1 oldest|t1 old|t2 early|t1 middle|t2 late|t1 new|t1 newest" &&
	json_is .bad_lines 3 &&
	json_is "[.sources[] | select(.bad > 0) | \"\(.target)/\(.file)=\(.bad)\"] | join(\",\")" \
		"t1/workload.jsonl=3" &&
	json_is "[.sources[] | select(.target == \"t1\") | .file] | join(\",\")" \
		"workload.jsonl.2,workload.jsonl.1,workload.jsonl" &&
	skiff logs pay >text 2>err &&
	test "$(wc -l <text)" = 7 &&
	grep -q "^1970-01-01T00:00:01.000Z t1 v1 stdout t1 oldest$" text &&
	grep -q "^1970-01-01T00:00:03.000Z t1 v1 stderr t1 middle$" text &&
	grep -q "3 bad lines skipped" err
'

test_expect_success 'filters: --target, --release, --trace, -n' '
	skiff --format=json logs pay --target t2 >out &&
	json_is "[.lines[].line] | join(\"|\")" "t2 early|t2 late" &&
	skiff --format=json logs pay --release v2 >out &&
	json_is "[.lines[].line] | join(\"|\")" "t1 new|t1 newest" &&
	skiff --format=json logs pay --trace $TR >out && json_is ".lines | length" 2 &&
	json_is "[.lines[].trace] | unique | join(\",\")" $TR &&
	skiff --format=json logs pay -n 2 >out &&
	json_is "[.lines[].line] | join(\"|\")" "t1 new|t1 newest" &&
	skiff --format=json logs pay --release v9 >out && json_is ".lines | length" 0
'

test_expect_success '--follow: appended lines and a rotation, as JSON Lines' '
	L1=.skiff/run/pay/t1/log
	"$SKIFF_BIN" --format=json logs pay --target t1 -n 1 --follow >follow.out 2>follow.err &
	pid=$! && echo $pid >"$TRASH/follow.pid" &&
	i=0 && while [ ! -s follow.out ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i + 1)); done &&
	line t1 8000 v2 stdout "appended" >>$L1/workload.jsonl &&
	i=0 && while ! grep -q appended follow.out && [ $i -lt 300 ]; do sleep 0.05; i=$((i + 1)); done &&
	line t1 8500 v2 stdout "last before rotation" >>$L1/workload.jsonl &&
	mv $L1/workload.jsonl.2 $L1/workload.jsonl.3 && mv $L1/workload.jsonl.1 $L1/workload.jsonl.2 &&
	mv $L1/workload.jsonl $L1/workload.jsonl.1 &&
	line t1 9000 v3 stdout "after rotation" >$L1/workload.jsonl &&
	i=0 && while ! grep -q "after rotation" follow.out && [ $i -lt 300 ]; do sleep 0.05; i=$((i + 1)); done &&
	{ kill $pid; wait $pid; true; } &&
	jq -s -e "map(.line) == [\"t1 newest\", \"appended\", \"last before rotation\", \"after rotation\"]" follow.out
'

test_expect_success 'bad input: unknown service or target exits 7, bad flags exit 2' '
	expect_exit 7 skiff --format=json logs nope && one_json_doc && json_is .error.code not_found &&
	expect_exit 7 skiff logs pay --target t9 &&
	expect_exit 2 skiff --format=json logs pay --bogus && one_json_doc &&
	expect_exit 2 skiff logs &&
	expect_exit 2 skiff logs pay -n x &&
	expect_exit 2 skiff logs pay --trace NOTHEX &&
	expect_exit 2 skiff logs pay --target ../x &&
	expect_exit 2 skiff logs pay --release "a b"
'

test_done
