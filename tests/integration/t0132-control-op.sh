#!/bin/bash
# control set as an operation (type "control-set"): the operation and the
# state commit name each other; --dry-run prints the plan and changes
# nothing; an executor killed at every kill point is completed by resume
# with exactly one new commit; a change between plan and step is a
# conflict that overwrites nothing; cancel reverts with a new commit;
# resume/cancel --dry-run print what they would do.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/tests/integration/lib-ops.sh"

ncommits() { skiff -C "$1" --format=json log refs/services/pay | jq '.commits | length'; }

test_expect_success 'setup: a repository where pay has one commit (POOL=8)' '
	setup_repo && skiff -C repo control set pay POOL=8 -m first >/dev/null
'

test_expect_success 'control set is an operation: op and commit name each other' '
	skiff -C repo --format=json control set pay POOL=16 LOG=info -m "more" >out &&
	one_json_doc && json_is .state succeeded && json_is .dry_run false &&
	id=$(jq -r .op out) && c=$(jq -r .commit out) &&
	json_is .parent "$(skiff -C repo --format=json log refs/services/pay | jq -r ".commits[1].commit")" &&
	json_is .control.settings.POOL 16 && json_is .changes.LOG.old null &&
	test "$(skiff -C repo rev-parse refs/services/pay)" = "$c" &&
	skiff -C repo --format=json op list --service pay --state succeeded >out &&
	json_is ".operations[-1].id" "$id" && json_is ".operations[-1].kind" control-set &&
	skiff -C repo --format=json op show "$id" >out &&
	json_is .operation.actor "$(skiff --format=json key list | jq -r ".keys[0].id")" &&
	json_is .operation.params.service pay && json_is ".operation.params[\"set.POOL\"]" 16 &&
	json_is ".operation.steps[0].name" commit-control && json_is ".operation.steps[0].risk" low &&
	json_is ".operation.steps[0].reversible" true &&
	json_is ".operation.steps[0].compensation" revert-control &&
	json_is ".operation.steps[0].result.commit" "$c" &&
	skiff -C repo --format=json log -n 1 refs/services/pay >out &&
	json_is ".commits[0].op" "$id" && json_is ".commits[0].message" more &&
	check_chain repo "$id" &&
	skiff -C repo control set pay POOL=17 >text && grep -q "^operation .* succeeded$" text
'

test_expect_success '--dry-run prints the plan and changes nothing (no object, no operation)' '
	before=$(snapshot repo/.skiff) && head=$(skiff -C repo rev-parse refs/services/pay) &&
	skiff -C repo --format=json control set pay POOL=32 --unset LOG --dry-run >out &&
	one_json_doc && json_is .dry_run true && json_is .op null && json_is .commit null &&
	json_is .parent "$head" && json_is .control.settings.POOL 32 &&
	json_is ".control.settings.LOG" null && json_is .changes.LOG.old info &&
	json_is .plan.kind control-set && json_is .plan.service pay &&
	json_is ".plan.steps | length" 1 &&
	json_is ".plan.steps[0] | [.name, .risk, .reversible, .compensation] | join(\",\")" \
		"commit-control,low,true,revert-control" &&
	skiff -C repo --dry-run control set pay POOL=32 >text &&
	grep -q "commit-control *low *yes *revert-control" text && grep -q "POOL: 17 -> 32" text &&
	test "$(snapshot repo/.skiff)" = "$before" &&
	skiff keygen ci >/dev/null &&
	expect_exit 4 skiff -C repo --format=json --identity ci control set pay A=1 --dry-run &&
	json_is .error.code role_denied &&
	expect_exit 3 skiff -C repo --format=json control set pay POOL=17 --dry-run &&
	test "$(snapshot repo/.skiff)" = "$before"
'

# For N = 1, 2, ...: a control set killed at its N-th kill point, then a
# resume killed at its 2nd, then a resume to the end: exactly one new
# commit, carrying the operation id; the operation succeeded; the chain
# is complete. Ends at the first N that does not kill.
test_expect_success 'SIGKILL at every kill point of control set, then resume: one commit each time' '
	rm -rf base && cp -a repo base && base=$(ncommits base) && old=$(newest_op base) &&
	n=1 && kills=0 &&
	while [ $n -lt 100 ]; do
		rm -rf rk && cp -a base rk && st=0
		SKIFF_OP_KILL=$n skiff -C rk control set pay POOL=99 >/dev/null 2>&1 || st=$?
		[ $st -eq 137 ] || break
		kills=$((kills + 1)) && id=$(newest_op rk) &&
		if [ "$id" = "$old" ]; then
			test "$(ncommits rk)" = "$base" || { echo "kill $n: a commit without an operation" >&2; exit 1; }
		else
			{ SKIFF_OP_KILL=2 skiff -C rk resume "$id" >/dev/null 2>&1 || true; } &&
			skiff -C rk --format=json resume "$id" >out &&
			json_is .state succeeded &&
			test "$(ncommits rk)" = $((base + 1)) &&
			skiff -C rk --format=json log -n 1 refs/services/pay >out &&
			json_is ".commits[0].op" "$id" &&
			skiff -C rk --format=json control show pay >out && json_is .control.settings.POOL 99 &&
			check_chain rk "$id" || { echo "after kill point $n" >&2; exit 1; }
		fi
		n=$((n + 1))
	done &&
	test $st -eq 0 && test "$(ncommits rk)" = $((base + 1)) && test $kills -ge 11 &&
	echo "$kills kill points" >&2
'

test_expect_success 'a change between plan and step: conflict (exit 3), nothing overwritten' '
	rm -rf rc && cp -a base rc &&
	{ SKIFF_TEST_OPS=1 SKIFF_TEST_CONTROL_HANG="$TRASH/h" skiff -C rc --format=json \
		control set pay POOL=1 >a.out 2>&1 & pid=$!; } &&
	wait_for h.hanging && id=$(newest_op rc) &&
	skiff -C rc --format=json control set pay OTHER=2 >out && other=$(jq -r .commit out) &&
	touch h.release && st=0 && { wait $pid || st=$?; } &&
	test $st -eq 3 && json_is .error.code cas_conflict a.out && json_is .error.op "$id" a.out &&
	json_is .error.state compensated a.out &&
	test "$(skiff -C rc rev-parse refs/services/pay)" = "$other" &&
	skiff -C rc --format=json control show pay >out &&
	json_is .control.settings.POOL 17 && json_is .control.settings.OTHER 2 &&
	test "$(skiff -C rc --format=json log refs/services/pay | jq --arg id "$id" "[.commits[] | select(.op == \$id)] | length")" = 0 &&
	skiff -C rc --format=json op show "$id" >out &&
	json_is ".operation.steps[0].state" failed && check_chain rc "$id"
'

test_expect_success 'resume --dry-run and cancel --dry-run of an interrupted control set change nothing' '
	rm -rf rd && cp -a base rd && base=$(ncommits base) &&
	{ SKIFF_OP_KILL=6 skiff -C rd control set pay POOL=5 >/dev/null 2>&1 || true; } &&
	id=$(newest_op rd) && before=$(snapshot rd/.skiff) &&
	skiff -C rd --format=json op show "$id" >out && json_is ".operation.steps[0].state" running &&
	skiff -C rd --format=json resume "$id" --dry-run >out && one_json_doc &&
	json_is .dry_run true && json_is .op "$id" && json_is .plan.kind control-set &&
	json_is .plan.outcome succeeded &&
	json_is ".plan.steps[0] | [.name, .risk, .reversible, .compensation, .action] | join(\",\")" \
		"commit-control,low,true,revert-control,observe-then-run" &&
	skiff -C rd --format=json --dry-run cancel "$id" >out &&
	json_is .plan.outcome cancelled && json_is ".plan.steps[0].action" observe-then-compensate &&
	skiff -C rd resume "$id" --dry-run >text && grep -q "observe-then-run" text &&
	test "$(snapshot rd/.skiff)" = "$before" &&
	skiff -C rd --format=json resume "$id" >out && json_is .state succeeded &&
	skiff -C rd --format=json resume "$id" --dry-run >out && json_is ".plan.steps | length" 0 &&
	skiff -C rd --format=json cancel --dry-run "$id" >out &&
	json_is ".plan.steps[0].action" compensate && json_is ".plan.steps[0].state" succeeded &&
	test "$(ncommits rd)" = $((base + 1))
'

test_expect_success 'cancel after success reverts: the old values back, as a new commit of the operation' '
	rm -rf rx && cp -a base rx && base=$(ncommits base) &&
	skiff -C rx --format=json control set pay POOL=64 NEW=1 --unset LOG -m bump >out &&
	id=$(jq -r .op out) && fwd=$(jq -r .commit out) &&
	skiff -C rx --format=json cancel "$id" >out && json_is .state cancelled &&
	test "$(ncommits rx)" = $((base + 2)) &&
	skiff -C rx --format=json log -n 2 refs/services/pay >out &&
	json_is ".commits[0].op" "$id" && json_is ".commits[0].parent" "$fwd" &&
	json_is ".commits[0].message" "revert operation $id: bump" &&
	skiff -C rx --format=json control show pay >out &&
	json_is ".control.settings | tojson" "{\"LOG\":\"info\",\"POOL\":\"17\"}" &&
	skiff -C rx --format=json op show "$id" >out &&
	json_is ".operation.steps[0].state" compensated && check_chain rx "$id" &&
	expect_exit 3 skiff -C rx cancel "$id" && expect_exit 3 skiff -C rx cancel --dry-run "$id"
'

test_expect_success 'revert keeps later changes to other keys, refuses when a touched key changed' '
	rm -rf ry && cp -a base ry &&
	skiff -C ry --format=json control set pay POOL=64 >out && id=$(jq -r .op out) &&
	skiff -C ry control set pay OTHER=3 >/dev/null &&
	skiff -C ry --format=json cancel "$id" >out && json_is .state cancelled &&
	skiff -C ry --format=json control show pay >out &&
	json_is .control.settings.POOL 17 && json_is .control.settings.OTHER 3 &&
	skiff -C ry --format=json control set pay POOL=65 >out && id=$(jq -r .op out) &&
	skiff -C ry control set pay POOL=66 >/dev/null && head=$(skiff -C ry rev-parse refs/services/pay) &&
	expect_exit 3 skiff -C ry --format=json cancel "$id" &&
	test "$(skiff -C ry rev-parse refs/services/pay)" = "$head" &&
	skiff -C ry --format=json op show "$id" >out && json_is .operation.state compensating
'

test_expect_success 'SIGKILL at every kill point of a cancel, then resume: exactly one revert commit' '
	n=1 && kills=0 && rm -rf cb && cp -a base cb &&
	skiff -C cb --format=json control set pay POOL=70 >out && id=$(jq -r .op out) &&
	want=$(($(ncommits cb) + 1)) &&
	while [ $n -lt 100 ]; do
		rm -rf ck && cp -a cb ck && st=0
		SKIFF_OP_KILL=$n skiff -C ck cancel "$id" >/dev/null 2>&1 || st=$?
		[ $st -eq 137 ] || break
		kills=$((kills + 1)) &&
		if [ "$(skiff -C ck --format=json op show "$id" | jq -r .operation.state)" = succeeded ]; then
			skiff -C ck --format=json cancel "$id" >out
		else
			skiff -C ck --format=json resume "$id" >out
		fi && json_is .state cancelled &&
		test "$(ncommits ck)" = "$want" &&
		skiff -C ck --format=json control show pay >out && json_is .control.settings.POOL 17 &&
		check_chain ck "$id" || { echo "after kill point $n" >&2; exit 1; }
		n=$((n + 1))
	done &&
	test $st -eq 0 && test "$(ncommits ck)" = "$want" && test $kills -ge 7
'

test_done
