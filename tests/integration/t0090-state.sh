#!/bin/bash
# Service state: control set | show and log of refs/services/<svc> as state
# commits (actor, time, message, operation), CAS between concurrent writers,
# --dry-run, roles, bad input, and verification of what log and show read.
# control set as an operation (kill points, resume, cancel) is t0132.
. "$(dirname "$0")/lib.sh"
KEYS="$XDG_CONFIG_HOME/skiff/keys"

count_objects() { find .skiff/objects -type f | wc -l; }

test_expect_success 'setup: a repository and a release-signer without the operator role' '
	setup_repo && cd repo &&
	skiff keygen ci >/dev/null &&
	skiff --identity alice trust add-key ci "$KEYS/ci.pub" --role release-signer >/dev/null
'

test_expect_success 'control show of a service without commits: empty control, no commit' '
	cd repo &&
	skiff --format=json control show payments >"$TRASH/out" && one_json_doc &&
	json_is .commit null && json_is ".control.settings | tojson" "{}" && json_is .control.service payments
'

test_expect_success 'control set records a commit: control object, parent null, ref moved' '
	cd repo &&
	skiff --format=json control set payments POOL=8 LOG_LEVEL=info -m "first settings" >"$TRASH/out" &&
	one_json_doc && json_is .parent null && json_is .dry_run false &&
	c1=$(jq -r .commit "$TRASH/out") && echo $c1 >"$TRASH/c1" &&
	test "$(skiff rev-parse refs/services/payments)" = $c1 &&
	test "$(skiff cat-object -t $c1)" = commit &&
	skiff --format=json cat-object -p $c1 >"$TRASH/out" &&
	json_is .content.message "first settings" &&
	json_is .content.actor "$(skiff --format=json key list | jq -r ".keys[] | select(.name==\"alice\") | .id")" &&
	ctl=$(jq -r .content.control "$TRASH/out") &&
	test "$(skiff cat-object -t $ctl)" = control &&
	skiff --format=json cat-object -p $ctl >"$TRASH/out" &&
	json_is .content.settings.POOL 8 && json_is .content.settings.LOG_LEVEL info
'

test_expect_success 'a second change: parent is the first commit; --unset removes a key' '
	cd repo &&
	skiff --format=json control set payments --unset LOG_LEVEL POOL=16 >"$TRASH/out" &&
	json_is .parent "$(cat "$TRASH/c1")" &&
	json_is ".control.settings | tojson" "{\"POOL\":\"16\"}" &&
	skiff control show payments >"$TRASH/text" &&
	grep -q "^setting  POOL=16$" "$TRASH/text" && ! grep -q LOG_LEVEL "$TRASH/text"
'

test_expect_success 'log refs/services/X shows commits newest first: actor, time, message' '
	cd repo &&
	skiff --format=json log refs/services/payments >"$TRASH/out" && one_json_doc &&
	json_is ".commits | length" 2 &&
	json_is ".commits[1].message" "first settings" &&
	json_is ".commits[0].parent == .commits[1].commit" true &&
	json_is ".commits[0].actor_name" alice &&
	json_is ".commits[0].op" "$(skiff --format=json op list | jq -r ".operations[-1].id")" &&
	json_is ".commits[0].time | type" number &&
	skiff log refs/services/payments >"$TRASH/text" &&
	grep -q "^Actor:  alice" "$TRASH/text" && grep -q "first settings" "$TRASH/text" &&
	grep -q "(no message)" "$TRASH/text" &&
	skiff --format=json log -n 1 refs/services/payments | jq -e ".commits | length == 1" >/dev/null &&
	skiff --format=json log --records refs/services/payments | jq -e ".records | length == 2" >/dev/null
'

test_expect_success 'setting a value it already has: exit 3, nothing written' '
	cd repo && before=$(snapshot .skiff) &&
	expect_exit 3 skiff --format=json control set payments POOL=16 &&
	json_is .error.code cas_conflict &&
	test "$(snapshot .skiff)" = "$before"
'

test_expect_success '--dry-run (before or after the command) plans and writes nothing' '
	cd repo && before=$(snapshot .skiff) &&
	skiff --format=json control set payments POOL=32 --dry-run >"$TRASH/out" &&
	json_is .dry_run true && json_is .control.settings.POOL 32 &&
	json_is .commit null && json_is .op null &&
	json_is .parent "$(skiff rev-parse refs/services/payments)" &&
	json_is ".plan.steps[0].name" commit-control &&
	skiff --format=json --dry-run control set payments POOL=32 >"$TRASH/out" &&
	json_is .dry_run true &&
	test "$(snapshot .skiff)" = "$before"
'

test_expect_success 'bad input: key syntax, not KEY=VALUE, unknown --unset, bad service' '
	cd repo && before=$(snapshot .skiff) &&
	expect_exit 1 skiff --format=json control set payments "bad key=1" &&
	json_is .error.code invalid_input &&
	expect_exit 2 skiff --format=json control set payments NOEQUALS &&
	expect_exit 7 skiff --format=json control set payments --unset NOPE &&
	expect_exit 1 skiff control set ../x A=1 &&
	expect_exit 2 skiff control set payments &&
	expect_exit 1 skiff control set payments "A=$(printf "\377")" &&
	test "$(snapshot .skiff)" = "$before"
'

test_expect_success 'a key without the operator role is refused (exit 4), nothing stored' '
	cd repo && before=$(snapshot .skiff) &&
	expect_exit 4 skiff --identity ci --format=json control set payments POOL=1 &&
	json_is .error.code role_denied &&
	test "$(snapshot .skiff)" = "$before"
'

test_expect_success 'four writers, ten changes each, retrying on conflict: no lost update' '
	cd repo &&
	for w in 1 2 3 4; do
		(for i in 1 2 3 4 5 6 7 8 9 10; do
			n=0
			until skiff control set race W${w}_$i=$i >/dev/null 2>"$TRASH/err.$w"; do
				st=$?; [ $st -eq 3 ] || exit $st
				n=$((n + 1)); [ $n -lt 200 ] || exit 9
			done
		done) &
	done
	fail=0; for j in 1 2 3 4; do wait -n || fail=1; done; [ $fail -eq 0 ] &&
	skiff --format=json control show race >"$TRASH/out" &&
	json_is ".control.settings | length" 40 &&
	skiff --format=json log refs/services/race | jq -e ".commits | length == 40" >/dev/null &&
	skiff verify-ref --chain refs/services/race >/dev/null
'

test_expect_success 'a tampered commit is found by log and show (exit 4)' '
	cd repo &&
	c=$(skiff rev-parse refs/services/payments) &&
	f=.skiff/objects/${c:0:2}/${c:2} && chmod u+w $f &&
	printf "\x28\xb5\x2f\xfd\x20\x05\x29\x00\x00blob 0" >$f &&
	expect_exit 4 skiff log refs/services/payments &&
	expect_exit 4 skiff control show payments
'

test_done
