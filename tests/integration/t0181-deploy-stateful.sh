#!/bin/bash
# A stateful service (stateful: true in its spec) deploys one member at a
# time, and each member is a high-risk step with an approval of its own:
# an approval of one member does not count for the next, the requester
# cannot approve, one key approves a member once. On the local stack
# (scripts/stack.sh): real runners and HAProxy.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/tests/integration/lib-stack.sh"
on() { sk --format=json target list hello | jq -r "[.targets[] | .target + \"=\" + (.release // \"-\")] | join(\",\")"; }

test_expect_success 'the stack, a stateful release s1, an approver' '
	stack_up "$D" "$STACK_BUILD" &&
	{ cat "$TEST_SRC/examples/hello.yaml"; echo "stateful: true"; } >stateful.yaml &&
	sk --identity ci release create hello --spec stateful.yaml --version s1 \
		--artifact "skiff-example-httpd=$STACK_BUILD/examples/skiff-example-httpd" --sign >/dev/null &&
	sk keygen approver >/dev/null &&
	sk trust add-key approver "$D/config/skiff/keys/approver.pub" --role approver >/dev/null
'

test_expect_success 'the deploy plans one high-risk member step per target, then promote' '
	sk --format=json --dry-run deploy hello --release s1 >out &&
	json_is "[.plan.steps[].name] | join(\",\")" "verify,preflight,member-1,member-2,member-3,member-4,promote" &&
	json_is "[.plan.steps[] | select(.name | startswith(\"member\")) | .risk] | unique | join(\",\")" high
'

test_expect_success 'member 1 waits for its approval (exit 5); the requester cannot give it' '
	expect_exit 5 sk --format=json deploy hello --release s1 &&
	id=$(jq -r ".error.op // empty" out) &&
	{ [ -n "$id" ] || id=$(newest_op "$D"); } &&
	echo "$id" >"$TRASH/id" &&
	sk --format=json op show "$id" >show && json_is .operation.state awaiting-approval show &&
	json_is .operation.cursor 2 show &&
	test "$(on)" = "t1=-,t2=-,t3=-,t4=-" &&
	expect_exit 4 sk --format=json approve "$id"
'

test_expect_success 'each member goes alone, each on its own approval' '
	id=$(cat "$TRASH/id") &&
	for m in 1 2 3; do
		sk --identity approver --format=json approve "$id" >out &&
		json_is .approvals.step $((m + 1)) &&
		expect_exit 3 sk --identity approver approve "$id" &&
		expect_exit 5 sk --format=json resume "$id" &&
		sk --format=json op show "$id" >show &&
		json_is .operation.cursor $((m + 2)) show &&
		json_is ".approval.valid" 0 show || exit 1
	done &&
	test "$(on)" = "t1=s1,t2=s1,t3=s1,t4=-" &&
	sk --identity approver approve "$id" >/dev/null &&
	sk --format=json resume "$id" >out &&
	sk --format=json op show "$id" >show && json_is .operation.state succeeded show &&
	test "$(on)" = "t1=s1,t2=s1,t3=s1,t4=s1" &&
	test "$(sk --format=json target list hello | jq -r .release)" = s1 &&
	jq -e "[.operation.approvals[]] | length == 4" show
'

test_expect_success 'the four approvals are distinct objects, each bound to its member step' '
	id=$(cat "$TRASH/id") &&
	sk --format=json op show "$id" >show &&
	for a in $(jq -r ".operation.approvals[]" show); do
		sk --format=json cat-object -p "$a" | jq -r .content.step
	done | sort | tr "\n" " " >steps &&
	test "$(cat steps)" = "2 3 4 5 "
'

test_done
