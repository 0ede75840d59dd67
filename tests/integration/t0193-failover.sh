#!/bin/bash
# Target groups and skiff failover on the local stack (scripts/stack.sh):
# t1,t2 in group blue, t3,t4 in green. A failover plans, waits for a
# second person's approval (exit 5), routes (the other group's servers
# become haproxy backup servers), validates that the group serves
# (checks, runner reports, requests through the frontend) and records.
# An unknown group (exit 7), the active group again (exit 3), --dry-run,
# a group whose runners are stopped (refused at validation, exit 1,
# routes restored), the audit journal, and SIGKILL at every kill point
# followed by resume.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/tests/integration/lib-stack.sh"
active() { sk --format=json target list hello | jq -r '.active_group // "none"'; }
# backups: the targets haproxy runs as backup servers, "t3,t4"
backups() {
	sk --format=json traffic show hello |
		jq -r '[.servers | to_entries[] | select(.value.backup) | .key] | sort | join(",")'
}
# cfg_backups: the same, read from the written haproxy.cfg
cfg_backups() {
	awk '$1 == "server" && / backup / { print $2 }' "$D/.skiff/traffic/haproxy.cfg" | sort |
		paste -sd, -
}
# requests T...: the sum of haproxy's request counters of the targets
requests() {
	sk --format=json traffic show hello >"$TRASH/ts" &&
	jq -r --arg t "$*" '[.servers | to_entries[] | select(.key as $k | $t | split(" ") |
		index($k)) | .value.requests] | add' "$TRASH/ts"
}
newest_failover() {
	sk --format=json op list --service hello |
		jq -r '[.operations[] | select(.kind == "failover")][-1].id // empty'
}
# commits_of ID: the service commits that name operation ID
commits_of() {
	sk --format=json log refs/services/hello -n 200 | jq --arg id "$1" '[.commits[] | select(.op == $id)] | length'
}
approve() { sk --identity approver approve "$1" >/dev/null; }

test_expect_success 'the stack on v1, an approver, groups blue and green' '
	stack_up "$D" "$STACK_BUILD" &&
	sk deploy hello --release v1 --wait 30s >/dev/null &&
	sk keygen approver >/dev/null &&
	sk trust add-key approver "$D/config/skiff/keys/approver.pub" --role approver >/dev/null &&
	sk target set hello t1 --group blue >/dev/null &&
	sk --format=json target set hello t2 --group blue >out && json_is .action set &&
	sk target set hello t3 --group green >/dev/null &&
	sk target add hello t4 --addr "$(sk --format=json target list hello |
		jq -r ".targets[] | select(.target == \"t4\") | .addr")" --group green >/dev/null &&
	sk --format=json target list hello >out &&
	json_is "[.targets[] | .target + \"=\" + .group] | join(\",\")" "t1=blue,t2=blue,t3=green,t4=green" &&
	json_is .active_group null && json_is "[.targets[].standby] | any" false &&
	expect_exit 3 sk target set hello t1 --group blue &&
	expect_exit 7 sk target set hello t9 --group blue &&
	expect_exit 2 sk target set hello t1 &&
	expect_exit 2 sk target set hello t1 --group blue --no-group &&
	expect_exit 1 sk target set hello t1 --group "../x" &&
	all_healthy v1
'
STACK_LISTEN=$(jq -r .listen "$D/.skiff/traffic/services/hello.json" 2>/dev/null)

test_expect_success '--dry-run shows the plan with risk and reversibility, and writes nothing' '
	head=$(sk rev-parse refs/services/hello) &&
	nops=$(sk --format=json op list | jq ".operations | length") &&
	sk --format=json --dry-run failover hello --to blue >out && one_json_doc &&
	json_is .dry_run true &&
	json_is "[.plan.steps[] | [.name, .risk, (.reversible | tostring), (.compensation // \"-\")] | join(\":\")] | join(\",\")" \
		"plan:none:false:-,route:high:true:route-back,validate:none:false:-,record:none:false:-" &&
	json_is .facts.active null && json_is .facts.to blue &&
	json_is "[.facts.groups.green | keys[]] | join(\",\")" "t3,t4" &&
	json_is .facts.groups.blue.t1.report.state healthy &&
	sk failover hello --to green --dry-run >text &&
	grep -q "route *high *yes *route-back" text && grep -q "(dry run: nothing changed)" text &&
	test "$(sk rev-parse refs/services/hello)" = "$head" &&
	test "$(sk --format=json op list | jq ".operations | length")" = "$nops"
'

test_expect_success 'an unknown group is not found (exit 7); no operation is created' '
	nops=$(sk --format=json op list | jq ".operations | length") &&
	expect_exit 7 sk --format=json failover hello --to purple &&
	json_is .error.code not_found &&
	expect_exit 2 sk failover hello &&
	expect_exit 2 sk failover hello --to blue --bogus &&
	test "$(sk --format=json op list | jq ".operations | length")" = "$nops" &&
	test "$(active)" = none
'

test_expect_success 'failover to blue waits for approval (exit 5); the requester cannot approve' '
	expect_exit 5 sk --format=json failover hello --to blue &&
	json_is .error.code approval_required && json_is .error.state awaiting-approval &&
	id=$(jq -r .error.op out) && echo "$id" >"$TRASH/id" &&
	json_is ".error.steps[0].result.groups.green.t3.report.state" healthy &&
	test "$(active)" = none && test -z "$(backups)" &&
	expect_exit 4 sk approve "$id"
'

test_expect_success 'approved, it routes to blue: green servers are backup, requests reach blue' '
	id=$(cat "$TRASH/id") &&
	approve "$id" &&
	sk --format=json resume "$id" >out &&
	sk --format=json op show "$id" >show && json_is .operation.state succeeded show &&
	json_is "[.operation.steps[].state] | unique | join(\",\")" succeeded show &&
	json_is ".operation.steps[2].result.answered" 4 show &&
	json_is ".operation.steps[3].result.standby | join(\",\")" "t3,t4" show &&
	test "$(active)" = blue && test "$(backups)" = "t3,t4" && test "$(cfg_backups)" = "t3,t4" &&
	sk --format=json target list hello >tl &&
	json_is "[.targets[] | select(.standby) | .target] | join(\",\")" "t3,t4" tl &&
	test "$(commits_of "$id")" = 1 &&
	b0=$(requests t1 t2) && g0=$(requests t3 t4) &&
	for i in 1 2 3 4 5 6; do curl -fsS "http://$STACK_LISTEN/" >/dev/null || exit 1; done &&
	test $(( $(requests t1 t2) - b0 )) -ge 6 && test "$(requests t3 t4)" = "$g0"
'

test_expect_success 'the active group again is a conflict (exit 3); so is leaving it' '
	expect_exit 3 sk --format=json failover hello --to blue &&
	json_is .error.code cas_conflict &&
	head=$(sk rev-parse refs/services/hello) &&
	expect_exit 3 sk target set hello t1 --group green &&
	expect_exit 3 sk target set hello t2 --no-group &&
	addr=$(sk --format=json target list hello | jq -r ".targets[0].addr") &&
	expect_exit 3 sk target add hello t1 --addr "$addr" --group green &&
	test "$(sk rev-parse refs/services/hello)" = "$head"
'

test_expect_success 'the audit journal names the failover, its operation and the route risk' '
	id=$(cat "$TRASH/id") &&
	sk --format=json audit --ref refs/services/hello >out &&
	jq -e --arg id "$id" "[.entries[] | select(.op == \$id)] | length == 1" out >/dev/null &&
	sk --format=json audit --ref "refs/operations/$id" >out &&
	jq -e "[.entries[].command] | index(\"failover\") and index(\"resume\")" out >/dev/null &&
	jq -e "[.entries[].risk] | index(\"high\")" out >/dev/null
'

test_expect_success 'to a group whose runners are stopped: refused at validation, routed back' '
	runner_stop t3 && runner_stop t4 &&
	expect_exit 5 sk --format=json failover hello --to green --wait 3s &&
	id=$(jq -r .error.op out) && approve "$id" &&
	expect_exit 1 sk --format=json resume "$id" &&
	sk --format=json op show "$id" >show &&
	json_is .operation.state compensated show &&
	json_is ".operation.steps[1].state" compensated show &&
	json_is ".operation.steps[2].state" failed show &&
	jq -e ".operation.steps[2].result.not_ready | length > 0" show >/dev/null &&
	jq -e ".operation.steps[2].result.error | test(\"group green is not serving\")" show >/dev/null &&
	test "$(active)" = blue && test "$(backups)" = "t3,t4" && test "$(cfg_backups)" = "t3,t4" &&
	test "$(commits_of "$id")" = 2 &&
	b0=$(requests t1 t2) &&
	curl -fsS "http://$STACK_LISTEN/" >/dev/null && test "$(requests t1 t2)" -gt "$b0"
'

test_expect_success 'green back up' '
	runner_start t3 && runner_start t4 && all_healthy v1
'

# round_ok ID TO: operation ID succeeded, TO is active, the other group
# stands by in haproxy (its config and its stat), one route commit
round_ok() {
	local want
	want=$([ "$2" = green ] && echo t1,t2 || echo t3,t4)
	sk --format=json op show "$1" | jq -e ".operation.state == \"succeeded\"" >/dev/null &&
	test "$(active)" = "$2" && test "$(cfg_backups)" = "$want" && test "$(backups)" = "$want" &&
	test "$(commits_of "$1")" = 1 ||
		{ echo "op $1 to $2: active $(active), backups $(cfg_backups) / $(backups)" >&2; return 1; }
}
flip() { [ "$1" = green ] && echo blue || echo green; }

# Before the approval: a failover killed at its N-th kill point, for
# N = 1, 2, ... until one reaches the approval; each killed one is resumed
# (to the approval), approved and resumed to the end. Each round moves
# traffic to the other group. (set -e does not reach into a test body:
# every step in the loops fails the test explicitly.)
test_expect_success 'SIGKILL at every kill point before the approval, then resume' '
	to=green && n=1 && kills=0 && st=0 &&
	while [ $n -lt 40 ]; do
		before=$(newest_failover) && st=0
		SKIFF_OP_KILL=$n "$SKIFF_BIN" -C "$D" --format=json failover hello --to $to >/dev/null 2>&1 || st=$?
		id=$(newest_failover)
		[ $st -eq 137 ] || [ $st -eq 5 ] || { echo "kill $n: exit $st" >&2; exit 1; }
		if [ $st -eq 137 ]; then
			kills=$((kills + 1))
			if [ "$id" = "$before" ]; then
				test "$(active)" != $to || { echo "kill $n: routed without an operation" >&2; exit 1; }
				n=$((n + 1)) && continue
			fi
			expect_exit 5 sk resume "$id" || exit 1
		fi
		{ approve "$id" && sk resume "$id" >/dev/null && round_ok "$id" $to; } ||
			{ echo "kill $n" >&2; exit 1; }
		to=$(flip $to) && echo $to >"$TRASH/to"
		[ $st -eq 5 ] && break
		n=$((n + 1))
	done &&
	test $st -eq 5 && test $kills -ge 8 && echo "$kills kill points" >&2
'

# After the approval: a resume killed at its N-th kill point, then resumed
# to the end, until one runs clean.
test_expect_success 'SIGKILL at every kill point after the approval, then resume' '
	to=$(cat "$TRASH/to") && n=1 && kills=0 && st=1 &&
	while [ $n -lt 60 ]; do
		{ expect_exit 5 sk --format=json failover hello --to $to && id=$(jq -r .error.op out) &&
		  approve "$id"; } || exit 1
		st=0
		SKIFF_OP_KILL=$n "$SKIFF_BIN" -C "$D" --format=json resume "$id" >/dev/null 2>&1 || st=$?
		[ $st -eq 137 ] || [ $st -eq 0 ] || { echo "kill $n: exit $st" >&2; exit 1; }
		if [ $st -eq 137 ]; then
			kills=$((kills + 1))
			sk resume "$id" >/dev/null || { echo "kill $n: resume failed" >&2; exit 1; }
		fi
		round_ok "$id" $to || { echo "kill $n" >&2; exit 1; }
		to=$(flip $to)
		[ $st -eq 0 ] && break
		n=$((n + 1))
	done &&
	test $st -eq 0 && test $kills -ge 15 && echo "$kills kill points" >&2
'

test_expect_success 'cancel of a succeeded failover routes back' '
	id=$(newest_failover) && now=$(active) &&
	from=$(sk --format=json op show "$id" | jq -r ".operation.params.from") &&
	test "$now" != "$from" &&
	sk --format=json cancel "$id" >out &&
	sk --format=json op show "$id" >show && json_is .operation.state cancelled show &&
	json_is ".operation.steps[1].state" compensated show &&
	test "$(active)" = "$from" &&
	want=$([ "$from" = green ] && echo t1,t2 || echo t3,t4) &&
	test "$(cfg_backups)" = "$want" && test "$(backups)" = "$want"
'

test_done
