#!/bin/bash
# Two-party approval: a high-risk step leaves the operation in
# awaiting-approval and exits 5 with the approve command in its JSON; an
# approval is a signed object bound to the operation id and its plan
# digest, by an approver who is not the requester; the threshold comes
# from the trust policy; an approval for another operation or for an
# altered plan does not count.
. "$(dirname "$0")/lib.sh"
export SKIFF_TEST_OPS=1
KEYS="$XDG_CONFIG_HOME/skiff/keys"

# run_high LEDGER: alice starts a 3-step test operation whose step 2 is
# high risk; prints nothing, leaves its JSON error in $TRASH/out.
run_high() {
	expect_exit 5 skiff --identity alice --format=json op test-run --steps 3 --high-at 2 \
		--service payments-api --ledger "$1"
}
op_of_out() { jq -r .error.op "$TRASH/out"; }
steps_done() { awk '$1 == "do" { print $3 }' "$1" | tr '\n' ' '; }

# forge ID JQ: points refs/operations/ID (signed by alice, an operator) at
# a copy of the operation document changed by the jq program JQ.
forge() {
	local old new
	old=$(skiff rev-parse "refs/operations/$1") &&
	skiff cat-object -p "$old" | jq -cS "$2" >"$TRASH/forged.json" &&
	new=$(skiff hash-object -w -t operation --canonicalize "$TRASH/forged.json") &&
	skiff --identity alice update-ref "refs/operations/$1" "$new" --old "$old" >/dev/null
}

test_expect_success 'setup: alice (root, operator), approvers bob and carol, mallory (operator)' '
	skiff keygen alice >/dev/null && skiff keygen bob >/dev/null &&
	skiff keygen carol >/dev/null && skiff keygen mallory >/dev/null &&
	mkdir repo && skiff --identity alice init repo >/dev/null && cd repo &&
	skiff --identity alice trust add-key bob "$KEYS/bob.pub" --role approver >/dev/null &&
	skiff --identity alice trust add-key carol "$KEYS/carol.pub" --role approver \
		--scope "refs/approvals/payments-api/**" >/dev/null &&
	skiff --identity alice trust add-key mallory "$KEYS/mallory.pub" --role operator >/dev/null &&
	cd .. && cp -a repo base
'

test_expect_success 'a high-risk step waits: exit 5, the approve command in JSON, nothing of it done' '
	cd repo && run_high "$TRASH/l1" &&
	id=$(op_of_out) && echo "$id" >"$TRASH/id1" &&
	json_is .error.code approval_required &&
	json_is .error.state awaiting-approval &&
	json_is .error.approve "skiff approve $id" &&
	test "$(steps_done "$TRASH/l1")" = "step-1 " &&
	skiff --format=json op show "$id" >"$TRASH/show" &&
	json_is .operation.state awaiting-approval "$TRASH/show" &&
	json_is .approval.valid 0 "$TRASH/show" && json_is .approval.needed 1 "$TRASH/show" &&
	skiff --format=json op events "$id" | jq -e ".events[-1].facts.to == \"awaiting-approval\"" >/dev/null
'

test_expect_success 'resume without an approval stays waiting (exit 5) and does nothing' '
	cd repo && id=$(cat "$TRASH/id1") &&
	expect_exit 5 skiff --identity alice --format=json resume "$id" &&
	json_is .error.approve "skiff approve $id" &&
	test "$(steps_done "$TRASH/l1")" = "step-1 "
'

test_expect_success 'the requester and a key without the approver role are refused (exit 4), nothing stored' '
	cd repo && id=$(cat "$TRASH/id1") &&
	before=$(skiff rev-parse "refs/operations/$id") &&
	expect_exit 4 skiff --identity alice --format=json approve "$id" &&
	grep -q "requester cannot approve" "$TRASH/out" &&
	expect_exit 4 skiff --identity mallory --format=json approve "$id" &&
	grep -q "approver role" "$TRASH/out" &&
	test "$(skiff rev-parse "refs/operations/$id")" = "$before" &&
	test "$(skiff --format=json show-ref "refs/approvals/**" | jq ".refs | length")" = 0 &&
	skiff --format=json op show "$id" | jq -e ".approval.approvals == []" >/dev/null
'

test_expect_success 'bad input: a malformed or unknown id, a bad threshold: typed errors, nothing changed' '
	cd repo && before=$(find .skiff/refs -type f | sort | xargs cat | sha256sum) &&
	expect_exit 2 skiff --identity bob --format=json approve &&
	json_is .error.code usage &&
	expect_exit 2 skiff --identity bob --format=json approve a b &&
	expect_exit 7 skiff --identity bob --format=json approve 20261204T000000000Z-000000000000 &&
	json_is .error.code not_found &&
	expect_exit 1 skiff --identity bob --format=json approve "../etc" &&
	json_is .error.code invalid_input &&
	expect_exit 2 skiff --identity alice --format=json trust set-threshold 0 &&
	expect_exit 2 skiff --identity alice trust set-threshold x &&
	expect_exit 2 skiff --identity alice trust set-threshold 1001 &&
	expect_exit 4 skiff --identity bob --format=json trust set-threshold 2 &&
	test "$(find .skiff/refs -type f | sort | xargs cat | sha256sum)" = "$before"
'

test_expect_success 'approve --dry-run shows the plan and changes nothing' '
	cd repo && id=$(cat "$TRASH/id1") &&
	before=$(skiff rev-parse "refs/operations/$id") &&
	skiff --identity bob --format=json approve --dry-run "$id" >"$TRASH/dry" &&
	json_is .dry_run true "$TRASH/dry" &&
	jq -e ".steps[1].risk == \"high\" and .steps[1].name == \"step-2\"" "$TRASH/dry" >/dev/null &&
	test "$(skiff rev-parse "refs/operations/$id")" = "$before"
'

test_expect_success 'bob approves (signed approval object bound to id and plan); resume completes' '
	cd repo && id=$(cat "$TRASH/id1") &&
	skiff --identity bob --format=json approve "$id" --reason "change ticket 42" >"$TRASH/ap" &&
	json_is .approvals.valid 1 "$TRASH/ap" &&
	aid=$(jq -r ".approvals.approvals[0].id" "$TRASH/ap") &&
	skiff cat-object -p "$aid" >"$TRASH/aobj" &&
	json_is .op "$id" "$TRASH/aobj" &&
	json_is .plan "$(jq -r .approvals.plan "$TRASH/ap")" "$TRASH/aobj" &&
	json_is .reason "change ticket 42" "$TRASH/aobj" &&
	test "$(jq -r .sig "$TRASH/aobj" | wc -c)" = 129 &&
	test "$(skiff cat-object -t "$aid")" = approval &&
	skiff --format=json audit --ref "refs/approvals/**" >"$TRASH/au" &&
	json_is ".entries[-1].trace" "$(skiff --format=json op show "$id" | jq -r .operation.trace)" \
		"$TRASH/au" &&
	json_is ".entries[-1].name" bob "$TRASH/au" && json_is ".entries[-1].op" "$id" "$TRASH/au" &&
	expect_exit 3 skiff --identity bob approve "$id" &&
	grep -q "not awaiting approval\|already approved" "$TRASH/err" &&
	skiff --identity alice --format=json resume "$id" >"$TRASH/res" &&
	json_is .state succeeded "$TRASH/res" &&
	test "$(steps_done "$TRASH/l1")" = "step-1 step-2 step-3 " &&
	skiff --format=json op events "$id" | jq -e "[.events[].kind] | index(\"approved\") != null" >/dev/null
'

test_expect_success 'the threshold comes from the trust policy: two distinct approvers' '
	cd repo && skiff --identity alice trust set-threshold 2 >/dev/null &&
	run_high "$TRASH/l2" && id=$(op_of_out) &&
	skiff --identity bob approve "$id" >/dev/null &&
	expect_exit 3 skiff --identity bob approve "$id" &&
	grep -q "already approved" "$TRASH/err" &&
	expect_exit 5 skiff --identity alice resume "$id" &&
	test "$(steps_done "$TRASH/l2")" = "step-1 " &&
	skiff --identity carol approve "$id" >/dev/null &&
	skiff --identity alice resume "$id" >/dev/null &&
	test "$(steps_done "$TRASH/l2")" = "step-1 step-2 step-3 " &&
	skiff --identity alice trust set-threshold 1 >/dev/null
'

test_expect_success 'a scoped approver counts only for the services in scope' '
	cd repo && expect_exit 5 skiff --identity alice --format=json op test-run --steps 2 --high-at 1 \
		--service billing --ledger "$TRASH/l3" &&
	id=$(op_of_out) &&
	expect_exit 4 skiff --identity carol approve "$id" &&
	grep -q "approver role" "$TRASH/err" &&
	skiff --identity bob approve "$id" >/dev/null &&
	skiff --identity alice resume "$id" >/dev/null
'

test_expect_success 'an approval for another operation does not count' '
	cd repo && run_high "$TRASH/l4a" && a=$(op_of_out) &&
	skiff --identity bob --format=json approve "$a" >"$TRASH/ap" &&
	aid=$(jq -r ".approvals.approvals[0].id" "$TRASH/ap") &&
	run_high "$TRASH/l4b" && b=$(op_of_out) &&
	forge "$b" ".approvals = [\"$aid\"]" &&
	expect_exit 5 skiff --identity alice resume "$b" &&
	test "$(steps_done "$TRASH/l4b")" = "step-1 " &&
	skiff --format=json op show "$b" >"$TRASH/show" &&
	json_is .approval.valid 0 "$TRASH/show" &&
	json_is ".approval.approvals[0].why" "it approves another operation" "$TRASH/show"
'

test_expect_success 'an approval of a plan altered afterwards does not count' '
	cd repo && run_high "$TRASH/l5" && id=$(op_of_out) &&
	skiff --identity bob approve "$id" >/dev/null &&
	forge "$id" ".params.ledger = \"$TRASH/l5-other\"" &&
	expect_exit 5 skiff --identity alice resume "$id" &&
	test ! -e "$TRASH/l5-other" &&
	skiff --format=json op show "$id" >"$TRASH/show" &&
	json_is .approval.valid 0 "$TRASH/show" &&
	json_is ".approval.approvals[0].why" "it approves another plan (the operation changed since)" "$TRASH/show"
'

test_expect_success 'a forged step risk (high to low) is refused as corrupt, nothing runs' '
	cd repo && run_high "$TRASH/l6" && id=$(op_of_out) &&
	forge "$id" ".steps[1].risk = \"low\" | .state = \"running\"" &&
	expect_exit 4 skiff --identity alice resume "$id" &&
	grep -q "differs from the plan" "$TRASH/err" &&
	test "$(steps_done "$TRASH/l6")" = "step-1 "
'

test_expect_success 'cancel of an operation awaiting approval compensates what ran' '
	cd repo && run_high "$TRASH/l7" && id=$(op_of_out) &&
	skiff --identity alice --format=json cancel "$id" >"$TRASH/c" &&
	json_is .state cancelled "$TRASH/c" &&
	awk "{print \$1, \$3}" "$TRASH/l7" | tr "\n" " " | grep -qx "do step-1 undo step-1 "
'

test_expect_success 'SIGKILL at every kill point of the approval path, then resume: each effect once' '
	cd repo && n=1 && kills=0 &&
	while [ $n -lt 100 ]; do
		rm -f "$TRASH/lk" && run_high "$TRASH/lk" && id=$(op_of_out) &&
		skiff --identity bob approve "$id" >/dev/null &&
		st=0 && SKIFF_OP_KILL=$n skiff --identity alice resume "$id" >/dev/null 2>&1 || st=$?
		[ $st -ne 137 ] && break
		kills=$((kills + 1))
		skiff --identity alice --format=json resume "$id" >"$TRASH/res" ||
			{ echo "kill $n: resume failed" >&2; cat "$TRASH/res" >&2; exit 1; }
		test "$(steps_done "$TRASH/lk")" = "step-1 step-2 step-3 " ||
			{ echo "kill $n: ledger $(steps_done "$TRASH/lk")" >&2; exit 1; }
		skiff --format=json op events "$id" >"$TRASH/ev" &&
		test "$(jq "[.events[] | select(.kind == \"approved\")] | length" "$TRASH/ev")" = 1 ||
			{ echo "kill $n: approved events" >&2; exit 1; }
		n=$((n + 1))
	done &&
	test $st -eq 0 && test $kills -ge 8 && echo "$kills kill points" >&2
'

test_expect_success 'push and fetch carry operations whole: event chain and approvals' '
	cd repo && skiff remote add origin "file://$TRASH/bucket" >/dev/null &&
	skiff --identity alice push origin >/dev/null &&
	cd ../base && skiff remote add origin "file://$TRASH/bucket" >/dev/null &&
	skiff fetch origin >/dev/null &&
	id=$(cat "$TRASH/id1") &&
	oid=$(skiff rev-parse "refs/remotes/origin/operations/$id") &&
	skiff cat-object -p "$oid" >"$TRASH/op" &&
	test "$(jq ".approvals | length" "$TRASH/op")" = 1 &&
	test "$(skiff cat-object -t "$(jq -r ".approvals[0]" "$TRASH/op")")" = approval &&
	ev=$(jq -r .event "$TRASH/op") && n=0 &&
	while [ "$ev" != null ]; do
		skiff cat-object -p "$ev" >"$TRASH/ev" && n=$((n + 1)) && ev=$(jq -r .prev "$TRASH/ev")
	done &&
	test "$n" = "$(jq .events "$TRASH/op")" &&
	signer=$(skiff cat-object -p "$(jq -r ".approvals[0]" "$TRASH/op")" | jq -r .signer) &&
	skiff rev-parse "refs/remotes/origin/approvals/payments-api/$id/$signer" >/dev/null
'

test_done
