#!/bin/bash
# skiff drain / undrain on the local stack (scripts/stack.sh): real
# runners, the example workload and HAProxy. A drain waits for the open
# requests of its target and cuts none short; new requests go elsewhere;
# a drain past its timeout pauses and resumes; the last target in
# traffic is refused; undrain puts back only a healthy target; the mark
# survives a re-apply of traffic; every kill point of a drain or an
# undrain resumes to the same end.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/tests/integration/lib-stack.sh"
srv() { sk --format=json traffic show hello | jq -r --arg t "$1" ".servers[\$t].$2"; }
drained() { sk --format=json control show hello | jq -r --arg t "$1" '.control.targets[$t].drain // false'; }
# slow N MS: N requests through HAProxy, each held MS ms by a workload,
# in the background; their status codes land in $TRASH/slow.N
slow() {
	local i
	rm -f "$TRASH"/slow.*
	for i in $(seq 1 "$1"); do
		curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 \
			"http://$STACK_LISTEN/slow?ms=$2" >"$TRASH/slow.$i" &
	done
}
# until_open T: until HAProxy counts an open session on T
until_open() {
	local i
	for i in $(seq 1 100); do
		[ "$(srv "$1" sessions)" -gt 0 ] 2>/dev/null && return 0
		sleep 0.1
	done
	echo "no open session on $1" >&2
	return 1
}
ncommits() { sk --format=json log refs/services/hello | jq '.commits | length'; }
# checked T: until HAProxy's own check of T passes (up to 20 s). undrain
# requires it, and a reload of HAProxy starts every check over.
checked() {
	local i
	for i in $(seq 1 100); do
		[ "$(srv "$1" check_status)" = L7OK ] && return 0
		sleep 0.2
	done
	echo "HAProxy never checked $1 OK" >&2
	return 1
}

test_expect_success 'the stack with v1 on every target' '
	stack_up "$D" "$STACK_BUILD" &&
	sk deploy hello --release v1 --wait 30s >/dev/null && all_healthy v1
'
STACK_LISTEN=$(jq -r .listen "$D/.skiff/traffic/services/hello.json" 2>/dev/null)

test_expect_success '--dry-run plans check, drain, wait-idle with risk and reversibility; nothing moves' '
	before=$(sk rev-parse refs/services/hello) &&
	sk --format=json --dry-run drain hello --target t2 >out &&
	json_is "[.plan.steps[].name] | join(\",\")" "check,drain,wait-idle" &&
	json_is "[.plan.steps[].risk] | join(\",\")" "none,medium,none" &&
	json_is "[.plan.steps[].reversible] | map(tostring) | join(\",\")" "false,true,false" &&
	test "$(sk rev-parse refs/services/hello)" = "$before" && test "$(drained t2)" = false &&
	test "$(srv t2 weight)" = 256
'

test_expect_success 'drain waits for the open requests of its target and cuts none short' '
	slow 8 2500 && until_open t2 &&
	sk --format=json drain hello --target t2 --timeout 20s >out &&
	json_is .state succeeded &&
	jq -e ".steps[] | select(.name == \"wait-idle\") | .result.sessions == 0 and .result.waited_ms > 0" out &&
	jq -e ".steps[] | select(.name == \"drain\") | .result.committed" out &&
	test "$(srv t2 sessions)" = 0 && test "$(srv t2 weight)" = 0 && test "$(srv t2 status)" = DRAIN &&
	test "$(drained t2)" = true &&
	wait && cat "$TRASH"/slow.* >codes && test "$(sort -u codes)" = 200 && test "$(wc -l <codes)" = 8
'

test_expect_success 'new requests go to the other targets only' '
	before=$(srv t2 requests) && others=$(sk --format=json traffic show hello | jq "[.servers[].requests] | add") &&
	for i in $(seq 1 20); do curl -sf "http://$STACK_LISTEN/" >/dev/null || exit 1; done &&
	test "$(srv t2 requests)" = "$before" &&
	test "$(sk --format=json traffic show hello | jq "[.servers[].requests] | add")" -ge $((others + 20))
'

test_expect_success 'the mark is in control: re-applying traffic keeps the target out' '
	sk traffic apply hello >/dev/null && test "$(srv t2 weight)" = 0 &&
	sk --format=json status hello >out &&
	jq -e ".targets[] | select(.target == \"t2\") | .drain" out &&
	jq -e "[.traffic.control.split[].targets[]] | index(\"t2\") | not" out &&
	sk status hello | grep -q "(drained)" &&
	sk --format=json op list --service hello >ops &&
	jq -e "[.operations[] | select(.kind == \"drain\")] | length == 1" ops
'

test_expect_success 'past its timeout a drain pauses (exit 6) with the open count; resume finishes it' '
	slow 6 4000 && until_open t3 &&
	expect_exit 6 sk --format=json drain hello --target t3 --timeout 1s &&
	json_is .error.code paused &&
	jq -e ".error.steps[] | select(.name == \"wait-idle\") | .result.sessions > 0" out &&
	id=$(jq -r .error.op out) && test "$(drained t3)" = true &&
	wait && test "$(sort -u "$TRASH"/slow.*)" = 200 &&
	sk --format=json resume "$id" >out && json_is .state succeeded
'

test_expect_success 'the last target in traffic is refused (exit 3) and nothing moves' '
	sk drain hello --target t1 --timeout 5s >/dev/null &&
	before=$(sk rev-parse refs/services/hello) &&
	expect_exit 3 sk --format=json drain hello --target t4 &&
	grep -q "last target" out &&
	test "$(sk rev-parse refs/services/hello)" = "$before" && test "$(srv t4 weight)" = 256
'

test_expect_success 'undrain puts a healthy target back; a target not drained is refused' '
	sk --format=json undrain hello --target t1 >out && json_is .state succeeded &&
	test "$(drained t1)" = false && test "$(srv t1 weight)" = 256 && test "$(srv t1 status)" = UP &&
	expect_exit 3 sk --format=json undrain hello --target t1 && grep -q "not drained" out
'

test_expect_success 'an unhealthy target stays out (exit 3) until it is healthy again' '
	runner_stop t3 &&
	expect_exit 3 sk --format=json undrain hello --target t3 &&
	grep -q "not healthy" out && test "$(drained t3)" = true && test "$(srv t3 weight)" = 0 &&
	runner_start t3 && all_healthy v1 &&
	checked t3 &&
	sk --format=json undrain hello --target t3 >out && json_is .state succeeded &&
	test "$(srv t3 weight)" = 256
'

# For N = 1, 2, ...: a drain of t3 killed at its N-th kill point, a resume
# killed at its 2nd, then a resume to the end: t3 drained, one commit by
# the operation; then undrain for the next round. Ends at the first N
# that does not kill.
test_expect_success 'SIGKILL at every kill point of a drain, then resume: drained, one commit' '
	n=1 && kills=0 && old=$(newest_op "$D") &&
	while [ $n -lt 60 ]; do
		st=0 && base=$(ncommits)
		SKIFF_OP_KILL=$n "$SKIFF_BIN" -C "$D" --format=json drain hello --target t3 >kill.out 2>&1 || st=$?
		[ $st -eq 137 ] || { echo "kill point $n: exit $st" >&2; cat kill.out >&2; break; }
		kills=$((kills + 1)) && id=$(newest_op "$D") &&
		if [ "$id" = "$old" ]; then
			test "$(ncommits)" = "$base" || { echo "kill $n: a commit without an operation" >&2; exit 1; }
		else
			{ SKIFF_OP_KILL=2 "$SKIFF_BIN" -C "$D" resume "$id" >/dev/null 2>&1 || true; } &&
			sk --format=json resume "$id" >out && json_is .state succeeded &&
			test "$(ncommits)" = $((base + 1)) &&
			sk --format=json log -n 1 refs/services/hello >out && json_is ".commits[0].op" "$id" &&
			test "$(drained t3)" = true && test "$(srv t3 weight)" = 0 &&
			checked t3 && sk undrain hello --target t3 >/dev/null ||
			{ echo "after kill point $n" >&2; cat out >&2; sk --format=json op show "$id" >&2; exit 1; }
		fi
		old=$(newest_op "$D") && n=$((n + 1))
	done &&
	test $st -eq 0 && test $kills -ge 8 && echo "$kills kill points" >&2 &&
	checked t3 && sk undrain hello --target t3 >/dev/null
'

# The same for undrain: t3 drained first, an undrain killed at its N-th
# kill point, a resume killed at its 2nd, a resume to the end: t3 back in
# traffic with its weight, one commit by the operation.
test_expect_success 'SIGKILL at every kill point of an undrain, then resume: in traffic, one commit' '
	n=1 && kills=0 &&
	while [ $n -lt 60 ]; do
		sk drain hello --target t3 >/dev/null && old=$(newest_op "$D") && base=$(ncommits) &&
		checked t3 && st=0 || { echo "round $n: drain failed" >&2; exit 1; }
		SKIFF_OP_KILL=$n "$SKIFF_BIN" -C "$D" --format=json undrain hello --target t3 >kill.out 2>&1 || st=$?
		[ $st -eq 137 ] || { [ $st -eq 0 ] || { echo "kill point $n: exit $st" >&2; cat kill.out >&2; }; break; }
		kills=$((kills + 1)) && id=$(newest_op "$D") &&
		if [ "$id" = "$old" ]; then
			test "$(ncommits)" = "$base" || { echo "kill $n: a commit without an operation" >&2; exit 1; }
			checked t3 && sk undrain hello --target t3 >/dev/null || exit 1
		else
			{ SKIFF_OP_KILL=2 "$SKIFF_BIN" -C "$D" resume "$id" >/dev/null 2>&1 || true; } &&
			checked t3 && sk --format=json resume "$id" >out && json_is .state succeeded &&
			test "$(ncommits)" = $((base + 1)) &&
			sk --format=json log -n 1 refs/services/hello >out && json_is ".commits[0].op" "$id" &&
			test "$(drained t3)" = false && test "$(srv t3 weight)" = 256 ||
			{ echo "after kill point $n" >&2; cat out >&2; sk --format=json op show "$id" >&2; exit 1; }
		fi || break
		n=$((n + 1))
	done &&
	test $st -eq 0 && test $kills -ge 3 && echo "$kills kill points" >&2 &&
	test "$(drained t3)" = false && test "$(srv t3 weight)" = 256
'

test_expect_success 'audit names each drain and undrain; bad input is typed' '
	sk --format=json audit >out &&
	jq -e "[.entries[] | select(.command == \"drain\")] | length >= 3" out &&
	jq -e "[.entries[] | select(.command == \"undrain\")] | length >= 2" out &&
	expect_exit 2 sk --format=json drain hello &&
	expect_exit 2 sk --format=json undrain hello --target t1 --timeout 3s &&
	expect_exit 7 sk --format=json drain hello --target nope &&
	expect_exit 1 sk --format=json drain hello --target t1 --timeout forever &&
	expect_exit 1 sk --format=json drain "bad/name" --target t1
'

test_done
