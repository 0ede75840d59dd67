#!/bin/bash
# Operations (sagas): the test-only operation type writes a ledger. An
# executor killed at every kill point (every transition's before/after
# CAS and inside every step) is completed by `skiff resume` with no
# ledger effect twice and a complete, linked event chain; two executors
# on one operation: one advances, the other exits 3; a failing step
# compensates in reverse order; cancel compensates; list/show/events.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/tests/integration/lib-ops.sh"
export SKIFF_TEST_OPS=1

# ledger_is FILE LINE...: FILE holds exactly these "verb step" lines in order.
ledger_is() {
	local f=$1 got want
	shift
	got=$(awk '{print $1, $3}' "$f" 2>/dev/null | tr '\n' ' ')
	want="$* "
	[ "$*" = "" ] && want=""
	[ "$got" = "$want" ] || { echo "ledger $f: got '$got', want '$want'" >&2; return 1; }
}

test_expect_success 'setup' '
	skiff keygen alice >/dev/null
'

test_expect_success 'test-run is refused unless SKIFF_TEST_OPS=1' '
	mkdir r0 && skiff init r0 >/dev/null &&
	SKIFF_TEST_OPS= expect_exit 1 skiff -C r0 op test-run --steps 2 --ledger "$TRASH/l0" &&
	grep -q SKIFF_TEST_OPS "$TRASH/err" && test ! -e "$TRASH/l0"
'

test_expect_success 'a run: steps in order, list, show and events agree' '
	mkdir r1 && skiff init r1 >/dev/null &&
	skiff -C r1 --format=json op test-run --steps 3 --ledger "$TRASH/l1" --service pay >out &&
	one_json_doc && json_is .state succeeded && id=$(jq -r .op out) &&
	ledger_is l1 "do step-1" "do step-2" "do step-3" &&
	trace=$(jq -r .trace out) && test "$(awk "{print \$4}" l1 | sort -u)" = "$trace" &&
	skiff -C r1 --format=json op list --service pay --state succeeded >out &&
	json_is ".operations | length" 1 && json_is ".operations[0].id" "$id" &&
	json_is ".operations[0].done" 3 &&
	skiff -C r1 --format=json op list --state failed >out && json_is ".operations | length" 0 &&
	skiff -C r1 --format=json op list --service other >out && json_is ".operations | length" 0 &&
	skiff -C r1 --format=json op show "$id" >out &&
	json_is .operation.state succeeded && json_is ".operation.steps[1].risk" low &&
	json_is ".operation.steps[1].reversible" true && json_is ".operation.cursor" 3 &&
	test "$(skiff -C r1 rev-parse refs/operations/$id)" = "$(jq -r .object out)" &&
	check_chain r1 "$id" &&
	jq -r ".events[].kind" "$TRASH/ev" | tr "\n" " " >kinds &&
	test "$(cat kinds)" = "created state intent result intent result intent result state " &&
	skiff -C r1 op show "$id" | grep -q "step-2" &&
	skiff -C r1 op events "$id" | grep -q intent &&
	expect_exit 2 skiff -C r1 op list --state bogus &&
	expect_exit 7 skiff -C r1 op show 20000101T000000000Z-000000000000 &&
	expect_exit 1 skiff -C r1 op show "../x"
'

# crash_loop STEPS FAIL_AT WANT_EXIT WANT_LEDGER...: for N = 1, 2, ... runs
# test-run with SKIFF_OP_KILL=N in a fresh repository until a run is not
# killed; after each kill, one resume that is itself killed at its 2nd kill
# point, then a resume to the end; checks ledger, state and chain.
crash_loop() {
	local steps=$1 fail=$2 want=$3 state=$4
	shift 4
	local n=1 st kills=0
	while [ $n -lt 200 ]; do
		rm -rf rk lk && mkdir rk && skiff init rk >/dev/null
		st=0
		SKIFF_OP_KILL=$n skiff -C rk op test-run --steps $steps $fail --ledger "$TRASH/lk" \
			>/dev/null 2>&1 || st=$?
		[ $st -ne 137 ] && break
		kills=$((kills + 1))
		id=$(newest_op rk)
		if [ -z "$id" ]; then
			test ! -e lk || { echo "kill $n: effect without an operation" >&2; return 1; }
		else
			SKIFF_OP_KILL=2 skiff -C rk resume "$id" >/dev/null 2>&1 || true
			st=0
			skiff -C rk --format=json resume "$id" >out 2>&1 || st=$?
			[ $st -eq "$want" ] || { echo "kill $n: resume exit $st" >&2; cat out >&2; return 1; }
			skiff -C rk --format=json op show "$id" >out &&
			json_is .operation.state "$state" &&
			ledger_is lk "$@" && check_chain rk "$id" ||
				{ echo "after kill point $n" >&2; return 1; }
		fi
		n=$((n + 1))
	done
	[ $st -eq "$want" ] && ledger_is lk "$@" && [ $kills -ge 10 ] ||
		{ echo "final run exit $st after $kills kills" >&2; return 1; }
	echo "$kills kill points" >&2
}

test_expect_success 'SIGKILL at every kill point, then resume: each effect once, chain complete' '
	crash_loop 3 "" 0 succeeded "do step-1" "do step-2" "do step-3"
'

test_expect_success 'SIGKILL at every kill point of a failing run: compensation completes once, in reverse' '
	crash_loop 3 "--fail-at 3" 1 compensated "do step-1" "do step-2" "undo step-2" "undo step-1"
'

test_expect_success 'SIGKILL from outside inside a step, then resume' '
	mkdir r2 && skiff init r2 >/dev/null &&
	{ "$SKIFF_BIN" -C r2 op test-run --steps 3 --hang-at 2 --ledger "$TRASH/l2" >/dev/null 2>&1 &
	  pid=$!; } &&
	wait_for l2.hanging && kill -9 $pid && { wait $pid || true; } && ! kill -0 $pid 2>/dev/null &&
	id=$(newest_op r2) &&
	skiff -C r2 --format=json op show "$id" >out &&
	json_is ".operation.steps[1].state" running && json_is .operation.state running &&
	skiff -C r2 resume "$id" >/dev/null &&
	ledger_is l2 "do step-1" "do step-2" "do step-3" && check_chain r2 "$id" &&
	jq -e "[.events[] | select(.kind == \"observed\" and .step == 1 and .facts.done == false)] | length == 1" \
		"$TRASH/ev" >/dev/null
'

test_expect_success 'two executors on one operation: one advances, the other exits 3' '
	mkdir r3 && skiff init r3 >/dev/null &&
	{ skiff -C r3 --format=json op test-run --steps 3 --hang-at 2 --ledger "$TRASH/l3" >a.out 2>&1 & pid=$!; } &&
	wait_for l3.hanging && id=$(newest_op r3) &&
	skiff -C r3 --format=json resume "$id" >out && json_is .state succeeded &&
	touch l3.release && st=0 && { wait $pid || st=$?; } &&
	test $st -eq 3 && json_is .error.code cas_conflict a.out && json_is .error.op "$id" a.out &&
	ledger_is l3 "do step-1" "do step-2" "do step-3" && check_chain r3 "$id" &&
	expect_exit 0 skiff -C r3 resume "$id"
'

test_expect_success 'cancel compensates done steps in reverse; the hung executor exits 3' '
	mkdir r4 && skiff init r4 >/dev/null &&
	{ skiff -C r4 op test-run --steps 4 --hang-at 3 --ledger "$TRASH/l4" >/dev/null 2>&1 & pid=$!; } &&
	wait_for l4.hanging && id=$(newest_op r4) &&
	skiff -C r4 --format=json cancel "$id" >out && json_is .state cancelled &&
	touch l4.release && st=0 && { wait $pid || st=$?; } && test $st -eq 3 &&
	ledger_is l4 "do step-1" "do step-2" "undo step-2" "undo step-1" &&
	skiff -C r4 --format=json op show "$id" >out &&
	json_is "[.operation.steps[].state] | join(\",\")" "compensated,compensated,skipped,skipped" &&
	check_chain r4 "$id" &&
	expect_exit 3 skiff -C r4 cancel "$id" &&
	expect_exit 0 skiff -C r4 resume "$id" && ledger_is l4 "do step-1" "do step-2" "undo step-2" "undo step-1"
'

test_expect_success 'a failing step compensates in reverse order and exits 1' '
	mkdir r5 && skiff init r5 >/dev/null &&
	expect_exit 1 skiff -C r5 --format=json op test-run --steps 4 --fail-at 3 --ledger "$TRASH/l5" &&
	json_is .error.state compensated out &&
	ledger_is l5 "do step-1" "do step-2" "undo step-2" "undo step-1" &&
	id=$(newest_op r5) && skiff -C r5 --format=json op show "$id" >out &&
	json_is "[.operation.steps[].state] | join(\",\")" "compensated,compensated,failed,skipped" &&
	json_is ".operation.steps[2].result.error" "step-3 fails as the test asked" &&
	skiff -C r5 --format=json op list --state compensated >out && json_is ".operations | length" 1
'

test_expect_success 'a tampered event breaks op events (exit 4)' '
	id=$(newest_op r5) &&
	ev=$(skiff -C r5 --format=json op show "$id" | jq -r .operation.event) &&
	f=r5/.skiff/objects/${ev:0:2}/${ev:2} && chmod u+w "$f" &&
	printf x >>"$f" && expect_exit 4 skiff -C r5 op events "$id"
'

test_done
