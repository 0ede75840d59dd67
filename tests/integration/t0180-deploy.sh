#!/bin/bash
# skiff deploy on the local stack (scripts/stack.sh): real runners, the
# example workload, HAProxy and wrk. A first deploy, a healthy canary
# promoted, a bad one rolled back by its gate, too few requests (pause,
# never promote), the executor killed right after a traffic change
# (resume does not repeat it), HAProxy killed during a bake (pause with
# the finding), a runner gone while the deploy waits for it, pause /
# promote / rollback by an operator, progress on a terminal, and a
# release that does not verify.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/tests/integration/lib-stack.sh"
stable() { sk --format=json target list hello | jq -r '.release // "none"'; }
# every target on release $1 at full weight
all_on() {
	sk --format=json target list hello >"$TRASH/tl" &&
	jq -e --arg r "$1" '[.targets[] | select(.release != $r or .weight != 256)] | length == 0' \
		"$TRASH/tl" >/dev/null
}
op_of() { jq -r '.op // .error.op' "$1"; }
# wait_step ID STEP: until the operation has recorded the step's intent
wait_step() {
	local i
	for i in $(seq 1 300); do
		sk --format=json op events "$1" 2>/dev/null |
			jq -e --arg s "$2" --argjson k "$(step_index "$1" "$2")" \
				'[.events[] | select(.kind == "intent" and .step == $k)] | length > 0' \
				>/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
step_index() {
	sk --format=json op show "$1" | jq --arg s "$2" '[.operation.steps[].name] | index($s)'
}
# the newest deploy's id, once one exists
newest_deploy() {
	local i id
	for i in $(seq 1 100); do
		id=$(sk --format=json op list --service hello 2>/dev/null |
			jq -r '[.operations[] | select(.kind == "deploy")][-1].id // empty')
		[ -n "$id" ] && [ "$id" != "${1:-}" ] && { echo "$id"; return 0; }
		sleep 0.1
	done
	return 1
}

test_expect_success 'the stack comes up: releases, targets, haproxy, four runners' '
	stack_up "$D" "$STACK_BUILD" &&
	sk --format=json release list hello >out &&
	test "$(jq "[.. | objects | select(has(\"version\")) | .version] | unique | length" out)" = 3 &&
	sk --format=json target list hello >out && test "$(jq ".targets | length" out)" = 4
'
# the stack is set up inside a subshell: keep its facts for the rest
STACK_LISTEN=$(jq -r .listen "$D/.skiff/traffic/services/hello.json" 2>/dev/null)

test_expect_success 'a first deploy puts v1 on every target and makes it stable' '
	sk deploy hello --release v1 --wait 30s >text &&
	for s in verify preflight assign wait-healthy promote; do
		grep -q -- "-> $s " text && grep -q "ok $s" text || { cat text; exit 1; }
	done &&
	grep -q "operation running -> succeeded" text &&
	grep -q "^deploy hello v1: succeeded" text &&
	id=$(newest_deploy) && sk --format=json op show "$id" >out &&
	json_is .operation.state succeeded &&
	json_is "[.operation.steps[].name] | join(\",\")" "verify,preflight,assign,wait-healthy,promote" &&
	test "$(stable)" = v1 && all_on v1 &&
	sk --format=json op events "$id" >ev &&
	jq -e "[.events[] | select(.kind == \"result\")] | length == 5" ev
'

test_expect_success 'a healthy canary advances at each step under load and is promoted' '
	load_start &&
	sk --format=json deploy hello --release v2 --steps 25,100 --bake 1s >out &&
	load_stop &&
	json_is .state succeeded && json_is .from v1 &&
	jq -e "[.steps[] | select(.name | startswith(\"weight-\")) | .result.decision] == [\"advance\",\"advance\"]" out &&
	jq -e ".steps[] | select(.name == \"weight-25\") | .result.canary.requests > 0 and .result.canary.errors == 0" out &&
	jq -e ".steps[] | select(.name == \"preflight\") | .result.canary == [\"t4\"]" out &&
	test "$(stable)" = v2 && all_on v2
'

test_expect_success 'a canary with 5xx under load fails its gate and is rolled back' '
	load_start &&
	expect_exit 1 sk --format=json deploy hello --release v3 --steps 25,100 --bake 1s &&
	load_stop &&
	json_is .error.state compensated &&
	jq -e ".error.steps[] | select(.name == \"weight-25\") | .state == \"failed\" and .result.decision == \"rollback\" and (.result.reasons[0] | test(\"error rate\"))" out &&
	jq -e ".error.steps[] | select(.name == \"assign\") | .state == \"compensated\"" out &&
	test "$(stable)" = v2 && all_on v2 &&
	sk --format=json status hello >st &&
	jq -e "[.findings[].code] | index(\"release-rolled-back\")" st &&
	jq -e "[.next[].command | select(test(\"deploy\"))] | length == 0" st &&
	sk --format=json doctor hello >dr &&
	jq -e "[.facts[] | select(.source == \"operation\" and (.text | test(\"v3 failed at weight-25\")))] | length == 1" dr &&
	jq -e "[.hypotheses[] | select(.text | test(\"release v3 is bad: canary error rate\"))] | length == 1" dr &&
	jq -e "[.recommendations[] | select(.command | test(\"logs hello --release v3\"))] | length == 1" dr
'

test_expect_success 'too few requests pause the deploy (exit 6) and never promote' '
	expect_exit 6 sk --format=json deploy hello --release v1 --steps 50,100 --bake 1s &&
	json_is .error.code paused && json_is .error.state paused &&
	jq -e ".error.steps[] | select(.name == \"weight-50\") | .state == \"pending\" and (.result.reasons[0] | test(\"too few requests\"))" out &&
	jq -e ".error.steps[] | select(.name == \"promote\") | .state == \"pending\"" out &&
	test "$(stable)" = v2 &&
	id=$(op_of out) && sk --format=json op show "$id" >show &&
	json_is .operation.state paused show
'

test_expect_success 'rollback undoes the paused deploy: every target back on v2' '
	sk --format=json rollback hello >out &&
	json_is .state cancelled &&
	jq -e ".steps[] | select(.name == \"assign\") | .state == \"compensated\"" out &&
	test "$(stable)" = v2 && all_on v2
'

test_expect_success 'killed right after a traffic change, resume does not repeat it' '
	load_start &&
	expect_exit 137 env SKIFF_OP_KILL_AT=weights-applied "$SKIFF_BIN" -C "$D" --format=json \
		deploy hello --release v1 --steps 25,100 --bake 1s &&
	id=$(newest_deploy) &&
	sk --format=json op show "$id" >show && json_is .operation.state running show &&
	sk --format=json resume "$id" >out &&
	load_stop &&
	sk --format=json op show "$id" >show && json_is .operation.state succeeded show &&
	k=$(step_index "$id" weight-25) &&
	sk --format=json op events "$id" >ev &&
	jq -e --argjson k $k "[.events[] | select(.kind == \"result\" and .step == \$k)][0].facts.traffic | .committed == false and (.changed | length) == 0" ev &&
	test "$(sk --format=json log refs/services/hello | jq "[.[] | select(.message? // \"\" | test(\"v1: 25%\"))] | length")" -le 1 &&
	test "$(stable)" = v1 && all_on v1
'

test_expect_success 'haproxy killed during a bake pauses the deploy with a clear finding' '
	prev=$(newest_deploy)
	load_start
	( sk --format=json deploy hello --release v2 --steps 50,100 --bake 5s >"$TRASH/bg.json" 2>&1;
	  echo $? >"$TRASH/bg.rc" ) &
	id=$(newest_deploy "$prev") && wait_step "$id" weight-50 &&
	sleep 1 &&
	kill -KILL "$(cat "$D/.skiff/traffic/haproxy.pid")" &&
	wait_for "$TRASH/bg.rc" && test "$(cat "$TRASH/bg.rc")" = 6 &&
	jq -e ".error.steps[] | select(.name == \"weight-50\") | .result.reason | test(\"traffic provider\")" "$TRASH/bg.json" &&
	sk traffic start hello --listen "$STACK_LISTEN" >/dev/null &&
	sk --format=json resume "$id" >out &&
	load_stop &&
	sk --format=json op show "$id" >show && json_is .operation.state succeeded show &&
	test "$(stable)" = v2
'

test_expect_success 'a runner killed while the deploy waits: it waits, and goes on when it is back' '
	prev=$(newest_deploy)
	runner_stop t4 KILL
	( sk --format=json deploy hello --release v1 --wait 60s >"$TRASH/bg2.json" 2>&1;
	  echo $? >"$TRASH/bg2.rc" ) &
	id=$(newest_deploy "$prev") && wait_step "$id" wait-healthy &&
	sleep 1 && test ! -e "$TRASH/bg2.rc" &&
	runner_start t4 &&
	wait_for "$TRASH/bg2.rc" &&
	{ test "$(cat "$TRASH/bg2.rc")" = 0 || { tail -5 "$D/runner-t4.out"; jq -c ".error.steps" "$TRASH/bg2.json"; exit 1; }; } &&
	test "$(stable)" = v1 && all_on v1 &&
	n=0 && for p in $(pgrep -f skiff-example-httpd); do
		case $(readlink /proc/$p/cwd) in "$D"/.skiff/run/hello/t4/*) n=$((n + 1)) ;; esac
	done && { test $n = 1 || { echo "$n workloads on t4"; cat "$TRASH/bg2.json"; exit 1; }; }
'

test_expect_success 'pause stops a running deploy (exit 6); promote skips the rest and promotes' '
	prev=$(newest_deploy)
	load_start
	( sk --format=json deploy hello --release v2 --steps 5,50,100 --bake 30s >"$TRASH/bg3.json" 2>&1;
	  echo $? >"$TRASH/bg3.rc" ) &
	id=$(newest_deploy "$prev") && wait_step "$id" weight-5 &&
	sk --format=json pause hello >out && json_is .state paused &&
	wait_for "$TRASH/bg3.rc" && test "$(cat "$TRASH/bg3.rc")" = 6 &&
	sk --format=json promote hello >out &&
	load_stop &&
	json_is .state succeeded &&
	jq -e "[.steps[] | select(.state == \"skipped\") | .name] == [\"weight-5\",\"weight-50\",\"weight-100\"]" out &&
	test "$(stable)" = v2 && all_on v2
'

test_expect_success 'rollback of a finished deploy puts the release before it back' '
	sk --format=json rollback hello >out &&
	json_is .state cancelled &&
	test "$(stable)" = v1 && all_on v1
'

test_expect_success 'on a terminal a deploy shows the step, the split and the live signals' '
	all_healthy v1 &&
	load_start &&
	{ script -qefc "$SKIFF_BIN -C $D deploy hello --release v2 --steps 50,100 --bake 3s" /dev/null \
		>tty.out </dev/null || { echo "script: exit $?"; cat -v tty.out | tail -5; exit 1; }; } &&
	load_stop &&
	{ grep -q "baking weight-50: 50% on the canary" tty.out &&
	  grep -Eq "baking weight-50: .*[|] [0-9]+ req, [0-9]+ 5xx" tty.out &&
	  grep -q "ok weight-50" tty.out || { cat -v tty.out | tail -15; exit 1; }; } &&
	test "$(stable)" = v2
'

test_expect_success 'a release whose artifact does not verify is refused before anything moves' '
	head -c 100000 /dev/urandom >junk.bin &&
	sk --identity ci --format=json release create hello --spec "$TEST_SRC/examples/hello.yaml" \
		--version v9 --artifact skiff-example-httpd=junk.bin --sign >rel.json &&
	file=$(sk --format=json release show hello v9 | jq -r ".document.artifacts[0].file") &&
	chunk=$(sk --format=json cat-object -p "$file" | jq -r ".content.chunks[0].oid") &&
	obj="$D/.skiff/objects/${chunk:0:2}/${chunk:2}" && test -f "$obj" &&
	chmod u+w "$obj" && printf garbage >"$obj" &&
	before=$(sk rev-parse refs/services/hello) &&
	expect_exit 4 sk --format=json deploy hello --release v9 &&
	test "$(sk rev-parse refs/services/hello)" = "$before"
'

test_expect_success 'bad input: typed errors, nothing moves' '
	before=$(sk rev-parse refs/services/hello) &&
	expect_exit 7 sk --format=json deploy hello --release nope &&
	expect_exit 1 sk --format=json deploy hello --release v3 --steps 50,25 &&
	json_is .error.code invalid_input &&
	expect_exit 1 sk --format=json deploy hello --release v3 --bake forever &&
	expect_exit 3 sk --format=json deploy hello --release v2 &&
	expect_exit 2 sk deploy &&
	expect_exit 7 sk --format=json deploy nosuch &&
	expect_exit 7 sk --format=json promote hello &&
	test "$(sk rev-parse refs/services/hello)" = "$before"
'

test_done
