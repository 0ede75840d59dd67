#!/bin/bash
# skiff op events --follow: the events so far, then each new one as it
# lands (a test operation hung inside a step, released while followers
# watch), every event exactly once in seq order, and an exit when the
# operation is final or waits for a person. JSON mode is JSON Lines.
# Also: op list agrees with what is stored while operations move, and
# its index (.skiff/index/operations) is rebuilt when corrupt.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/tests/integration/lib-ops.sh"
export SKIFF_TEST_OPS=1

# wait_lines FILE N: until FILE has at least N lines (bounded).
wait_lines() {
	local i=0
	while [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -lt "$2" ] && [ $i -lt 1500 ]; do
		sleep 0.02; i=$((i + 1))
	done
	[ "$(wc -l <"$1")" -ge "$2" ]
}
# still_running PID: the process has not exited yet.
still_running() { kill -0 "$1" 2>/dev/null; }

test_expect_success 'setup' '
	skiff keygen alice >/dev/null && mkdir r && skiff init r >/dev/null
'

test_expect_success 'follow a running operation: every event once, in order, then exit 0' '
	{ skiff -C r op test-run --steps 3 --hang-at 2 --ledger "$TRASH/l1" >run.out 2>&1 & run=$!; } &&
	wait_for l1.hanging && id=$(newest_op r) && test -n "$id" &&
	{ skiff -C r --format=json op events --follow "$id" >fj 2>fj.err & fj=$!; } &&
	{ skiff -C r op events "$id" --follow >ft 2>ft.err & ft=$!; } &&
	# created, running, intent 1, result 1, intent 2: printed before the step ends
	wait_lines fj 5 && wait_lines ft 5 &&
	still_running $fj && still_running $ft &&
	test "$(wc -l <fj)" -eq 5 &&
	touch l1.release && wait $run &&
	st=0 && { wait $fj || st=$?; } && test $st -eq 0 &&
	st=0 && { wait $ft || st=$?; } && test $st -eq 0 &&
	skiff -C r --format=json op events "$id" >all &&
	n=$(jq ".events | length" all) && test "$n" -eq 9 &&
	# JSON Lines: each event exactly as op events gives it, then the end line
	test "$(wc -l <fj)" -eq $((n + 1)) &&
	jq -c ".events[]" all >want &&
	head -n "$n" fj | jq -c . >got && cmp want got &&
	tail -n 1 fj >end && json_is .op "$id" end && json_is .state succeeded end &&
	json_is "has(\"next\")" false end &&
	# text: one line per event, seq 1..n, then the final state
	test "$(head -n "$n" ft | awk "{print \$1}" | tr "\n" " ")" = "1 2 3 4 5 6 7 8 9 " &&
	test "$(tail -n 1 ft)" = "operation $id succeeded" &&
	test ! -s fj.err && test ! -s ft.err
'

test_expect_success 'follow a finished operation: prints all and exits at once' '
	id=$(newest_op r) &&
	skiff -C r --format=json op events --follow "$id" >fj &&
	skiff -C r --format=json op events "$id" | jq -c ".events[]" >want &&
	head -n -1 fj | jq -c . >got && cmp want got &&
	tail -n 1 fj >end && json_is .state succeeded end &&
	skiff -C r op events --follow "$id" >ft &&
	test "$(wc -l <ft)" -eq 10 && grep -q "^operation $id succeeded$" ft
'

test_expect_success 'follow stops where the operation waits for a person, with the next command' '
	expect_exit 5 skiff -C r op test-run --steps 2 --high-at 1 --ledger "$TRASH/l2" &&
	id=$(newest_op r) &&
	skiff -C r --format=json op events --follow "$id" >fj &&
	tail -n 1 fj >end && json_is .state awaiting-approval end &&
	json_is .next "skiff approve $id" end &&
	skiff -C r op events --follow "$id" >ft &&
	grep -q "^next: an approver runs skiff approve $id" ft
'

test_expect_success 'follow of a compensated operation ends compensated' '
	expect_exit 1 skiff -C r op test-run --steps 3 --fail-at 2 --ledger "$TRASH/l3" &&
	id=$(newest_op r) &&
	skiff -C r --format=json op events --follow "$id" >fj &&
	tail -n 1 fj >end && json_is .state compensated end &&
	test "$(head -n -1 fj | jq -s "[.[].seq] == [range(1; length + 1)]")" = true
'

test_expect_success 'bad ids and usage' '
	expect_exit 7 skiff -C r op events --follow 20000101T000000000Z-000000000000 &&
	expect_exit 7 skiff -C r --format=json op events --follow 20000101T000000000Z-000000000000 &&
	one_json_doc && json_is .error.code not_found &&
	expect_exit 1 skiff -C r op events --follow "../x" &&
	expect_exit 2 skiff -C r op events --follow &&
	expect_exit 2 skiff -C r op events a b &&
	expect_exit 2 skiff -C r op events --bogus x
'

test_expect_success 'a tampered event stops the follower (exit 4)' '
	mkdir r2 && skiff init r2 >/dev/null &&
	skiff -C r2 op test-run --steps 1 --ledger "$TRASH/l4" >/dev/null &&
	id=$(newest_op r2) &&
	ev=$(skiff -C r2 --format=json op show "$id" | jq -r .operation.event) &&
	f=r2/.skiff/objects/${ev:0:2}/${ev:2} && chmod u+w "$f" && printf x >>"$f" &&
	expect_exit 4 skiff -C r2 op events --follow "$id"
'

test_expect_success 'op list: the index follows moving operations and survives corruption' '
	mkdir r3 && skiff init r3 >/dev/null &&
	skiff -C r3 op test-run --steps 2 --service pay --ledger "$TRASH/l5" >/dev/null &&
	{ skiff -C r3 op test-run --steps 3 --hang-at 2 --service pay --ledger "$TRASH/l6" >/dev/null 2>&1 & run=$!; } &&
	wait_for l6.hanging &&
	skiff -C r3 --format=json op list >out && test -f r3/.skiff/index/operations &&
	json_is "[.operations[].state] | join(\",\")" "succeeded,running" &&
	json_is ".operations[1].done" 1 &&
	touch l6.release && wait $run &&
	skiff -C r3 --format=json op list --state running >out && json_is ".operations | length" 0 &&
	skiff -C r3 --format=json op list --service pay --state succeeded >out &&
	json_is ".operations | length" 2 && json_is ".operations[1].done" 3 &&
	printf "garbage" >r3/.skiff/index/operations &&
	skiff -C r3 --format=json op list >out && json_is ".operations | length" 2 &&
	head -c 16 r3/.skiff/index/operations | grep -q "^skiff-opindex 1" &&
	skiff -C r3 op list >txt && grep -q "^ID " txt && test "$(wc -l <txt)" -eq 3
'

test_done
