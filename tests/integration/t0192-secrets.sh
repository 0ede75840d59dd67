#!/bin/bash
# Secrets are references (skiff secret set | list | show) and a rotation
# is an operation (skiff rotate): stage, canary, roll, confirm, revoke
# (approved), record. On the local stack (scripts/stack.sh): real runners
# load the references (file: mode 0600, env:) into their workloads'
# environments and report the version each loaded. The values used here
# are distinctive, and the last test searches every object, event, log
# and captured output for them.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/tests/integration/lib-stack.sh"

SUFFIX=$(od -An -N6 -tx1 /dev/urandom | tr -d " \n")
VAL_A="alpha-Z7q-$SUFFIX" VAL_B="bravo-K4w-$SUFFIX" VAL_T="tango-P2m-$SUFFIX"
# the runners' own environment holds the env: secret
export T192_TOKEN="$VAL_T"
S="$TRASH/secrets"
# report T: target T's newest runner report (the whole document)
report() { sk cat-object -p "$(sk rev-parse "refs/runners/hello/$1")"; }
# versions: each target's "state:version" of DB_PASSWORD
versions() {
	local t
	for t in t1 t2 t3 t4; do report $t; done |
		jq -sr '[.[] | "\(.state):\(.secrets.DB_PASSWORD.version // 0)"] | join(",")'
}
# all_on N: every target reports DB_PASSWORD version N, healthy (30 s)
all_on() {
	local i want="healthy:$1,healthy:$1,healthy:$1,healthy:$1"
	for i in $(seq 1 150); do [ "$(versions)" = "$want" ] && return 0; sleep 0.2; done
	echo "not all on $1: $(versions)" >&2
	return 1
}
# environ_has T VALUE: target T's workload has VALUE in its environment
environ_has() {
	local pid
	pid=$(report "$1" | jq -r .pid)
	tr "\0" "\n" <"/proc/$pid/environ" | grep -qx "$2"
}
secret_file() { mkdir -p "$S" && printf "%s\n" "$2" >"$S/$1" && chmod 600 "$S/$1"; }

test_expect_success 'the stack on v1, an approver' '
	stack_up "$D" "$STACK_BUILD" &&
	sk deploy hello --release v1 >/dev/null && all_healthy v1 &&
	sk keygen approver >/dev/null &&
	sk trust add-key approver "$D/config/skiff/keys/approver.pub" --role approver >/dev/null
'

test_expect_success 'secret set: file: (0600) and env: references, loaded by every workload' '
	secret_file a "$VAL_A" &&
	sk --format=json secret set hello DB_PASSWORD --ref "file:$S/a" \
		--revoke-hook /bin/sh -c "echo \"\$SKIFF_SECRET_REF\" >>\"\$0\"" "$TRASH/revoked" >set.out &&
	json_is .version 1 set.out && json_is .committed true set.out &&
	sk --format=json secret set hello API_TOKEN --ref env:T192_TOKEN >set2.out &&
	all_on 1 &&
	environ_has t1 "DB_PASSWORD=$VAL_A" && environ_has t4 "DB_PASSWORD=$VAL_A" &&
	environ_has t2 "API_TOKEN=$VAL_T" &&
	for t in t1 t2 t3 t4; do report $t; done >reports.out &&
	jq -se "[.[].secrets.API_TOKEN.version] | unique == [1]" reports.out >/dev/null &&
	sk --format=json secret list hello >list.out &&
	json_is .secrets.DB_PASSWORD.ref "$S/a" list.out &&
	json_is ".secrets.API_TOKEN.pinned_on | length" 4 list.out &&
	sk --format=json secret set hello API_TOKEN --ref env:T192_TOKEN >same.out &&
	json_is .written false same.out && json_is .committed false same.out
'

test_expect_success 'an unknown provider or a bad reference is a usage error (exit 2)' '
	expect_exit 2 sk --format=json secret set hello X --ref vault:abc &&
	json_is .error.code usage && cp out bad1.out &&
	expect_exit 2 sk secret set hello X --ref aws-sm:prod/x &&
	expect_exit 2 sk secret set hello X --ref file:relative/path &&
	expect_exit 2 sk secret set hello 9BAD --ref env:X &&
	expect_exit 2 sk secret set hello X --ref env:X --revoke-hook relative/cmd &&
	expect_exit 7 sk secret show hello X &&
	expect_exit 2 sk --format=json rotate hello DB_PASSWORD --to vault:x &&
	expect_exit 7 sk rotate hello NOPE --to env:X &&
	expect_exit 3 sk rotate hello DB_PASSWORD --to "file:$S/a"
'

test_expect_success 'rotate --dry-run: the plan with risk and reversibility, nothing written' '
	before=$(sk rev-parse refs/secrets/hello/DB_PASSWORD) && ops=$(sk --format=json op list | jq ".operations | length") &&
	sk --format=json --dry-run rotate hello DB_PASSWORD --to "file:$S/b" >plan.out &&
	json_is "[.plan.steps[] | [.name, .risk, .reversible] | join(\":\")] | join(\",\")" \
		"stage:low:true,canary:medium:true,canary-confirm:none:false,roll:medium:true,confirm:none:false,revoke:high:false,record:none:false" plan.out &&
	json_is .params.canary t4 plan.out &&
	test "$(sk rev-parse refs/secrets/hello/DB_PASSWORD)" = "$before" &&
	test "$(sk --format=json op list | jq ".operations | length")" = "$ops"
'

test_expect_success 'a new file readable by others: the canary cannot load it, the rotation pauses (exit 6), nothing revoked; cancel puts the pins back' '
	secret_file bad "$VAL_B" && chmod 644 "$S/bad" &&
	expect_exit 6 sk --format=json rotate hello DB_PASSWORD --to "file:$S/bad" --wait 3s &&
	cp out paused.out && id=$(newest_op "$D") &&
	sk --format=json op show "$id" >show.out && json_is .operation.state paused show.out &&
	json_is ".operation.steps[2].result.targets.t4.reason | test(\"readable by group or others\")" true show.out &&
	test ! -e "$TRASH/revoked" && all_on 1 && environ_has t4 "DB_PASSWORD=$VAL_A" &&
	expect_exit 3 sk secret set hello DB_PASSWORD --ref "file:$S/b" &&
	expect_exit 3 sk rotate hello DB_PASSWORD --to "file:$S/b" &&
	sk --format=json cancel "$id" >cancel.out &&
	sk --format=json op show "$id" >show.out && json_is .operation.state cancelled show.out &&
	sk --format=json secret show hello DB_PASSWORD >hist.out &&
	json_is ".versions[0].version" 1 hist.out &&
	sk --format=json control show hello >ctl.out &&
	json_is ".control.secrets.DB_PASSWORD" "$(jq -r .versions[0].oid hist.out)" ctl.out &&
	jq -e "[.control.targets[] | .secrets // {} | has(\"DB_PASSWORD\")] | any | not" ctl.out >/dev/null &&
	all_on 1
'

test_expect_success 'rotate end to end: every consumer confirms v2, revoke waits for an approval, the hook revokes the old reference' '
	secret_file b "$VAL_B" &&
	expect_exit 5 sk --format=json rotate hello DB_PASSWORD --to "file:$S/b" --wait 30s &&
	cp out rot.out && id=$(newest_op "$D") && all_on 2 &&
	environ_has t1 "DB_PASSWORD=$VAL_B" && environ_has t4 "DB_PASSWORD=$VAL_B" &&
	test ! -e "$TRASH/revoked" &&
	expect_exit 4 sk approve "$id" &&
	sk --identity approver approve "$id" >/dev/null &&
	sk --format=json resume "$id" >resume.out &&
	sk --format=json op show "$id" >show.out && json_is .operation.state succeeded show.out &&
	test "$(cat "$TRASH/revoked")" = "file:$S/a" &&
	json_is ".operation.steps[5].result.provider.hook" true show.out &&
	json_is ".operation.steps[6].result.to_version" 2 show.out &&
	sk --format=json secret show hello DB_PASSWORD >hist.out &&
	json_is "[.versions[].version] | join(\",\")" "2,1" hist.out &&
	json_is ".versions[1].revoked_by" "$id" hist.out && json_is ".versions[0].revoked_by" null hist.out &&
	json_is ".versions[0].pinned_on | length" 4 hist.out &&
	sk --format=json audit >audit.out &&
	jq -e "[.. | strings | select(test(\"^rotate\"))] | length > 0" audit.out >/dev/null &&
	jq -e "[.. | strings | select(test(\"^secret set\"))] | length > 0" audit.out >/dev/null
'

# finish ID: approve (when waiting) and resume a rotation to its end
finish() {
	local st=0
	sk resume "$1" >/dev/null 2>&1 || st=$?
	[ $st -eq 5 ] || return 0
	sk --identity approver approve "$1" >/dev/null && sk resume "$1" >/dev/null
}
# rotated_to V ID: ID succeeded, the head is file k$V, pinned, loaded by
# every target, and the version before was revoked (its hook ran: twice
# when a crash came between the hook and its record, hooks being
# idempotent; never for another reference)
rotated_to() {
	sk --format=json op show "$2" >show.out &&
	json_is .operation.state succeeded show.out &&
	test "$(sort -u "$TRASH/revoked")" = "file:$S/k$(($1 - 1))" &&
	sk --format=json secret show hello DB_PASSWORD >hist.out &&
	json_is ".versions[0].ref" "$S/k$1" hist.out &&
	sk --format=json control show hello >ctl.out &&
	json_is ".control.secrets.DB_PASSWORD" "$(jq -r .versions[0].oid hist.out)" ctl.out &&
	all_on "$(jq -r .versions[0].version hist.out)" &&
	check_chain "$D" "$2"
}

# Phase 1 kills the rotation at its N-th kill point up to the approval
# wait; phase 2 kills the resume after the approval at its N-th. Each
# crash is resumed (approved when it waits) and must end rotated.
test_expect_success 'SIGKILL at every kill point of a rotation, then resume: every consumer on the new version, the old one revoked' '
	secret_file k2 "$VAL_B" && sk secret set hello DB_PASSWORD --ref "file:$S/k2" \
		--revoke-hook /bin/sh -c "echo \"\$SKIFF_SECRET_REF\" >>\"\$0\"" "$TRASH/revoked" >/dev/null &&
	all_on 3 && n=1 && kills=0 && v=2 && phase=1 &&
	while [ $n -lt 80 ]; do
		v=$((v + 1)) && secret_file "k$v" "$VAL_B" && rm -f "$TRASH/revoked" &&
		old=$(newest_op "$D") && st=0
		if [ $phase = 1 ]; then
			SKIFF_OP_KILL=$n sk --format=json rotate hello DB_PASSWORD --to "file:$S/k$v" >/dev/null 2>&1 || st=$?
			id=$(newest_op "$D")
			[ $st -eq 5 ] || [ $st -eq 137 ] || { echo "kill $n: exit $st" >&2; exit 1; }
			if [ "$id" = "$old" ]; then # killed before the operation existed
				v=$((v - 1)) && n=$((n + 1)) && kills=$((kills + 1)) &&
				sk --format=json secret show hello DB_PASSWORD >hist.out &&
				json_is ".versions[0].ref" "$S/k$v" hist.out && continue
				exit 1
			fi
			finish "$id" && rotated_to $v "$id" || { echo "after kill point $n" >&2; exit 1; }
			if [ $st -eq 5 ]; then phase=2 && n=1; else kills=$((kills + 1)) && n=$((n + 1)); fi
		else
			expect_exit 5 sk rotate hello DB_PASSWORD --to "file:$S/k$v" && id=$(newest_op "$D") &&
			sk --identity approver approve "$id" >/dev/null &&
			{ SKIFF_OP_KILL=$n sk --format=json resume "$id" >/dev/null 2>&1 || st=$?; } &&
			{ [ $st -eq 0 ] || [ $st -eq 137 ] || { echo "resume kill $n: exit $st" >&2; exit 1; }; } &&
			finish "$id" && rotated_to $v "$id" || { echo "after resume kill point $n" >&2; cat revoked >&2; jq -c ".operation | [.state, [.steps[] | [.name, .state, .result]]]" show.out >&2; exit 1; }
			[ $st -eq 137 ] || break
			kills=$((kills + 1)) && n=$((n + 1))
		fi
	done &&
	echo "$kills kill points" >&2 && test $kills -ge 15
'

test_expect_success 'no secret value in any object, event, log, report or captured output' '
	for f in "$D"/.skiff/objects/*/*; do zstd -dcq "$f" 2>/dev/null; done | grep -aqF "$S/a" &&
	for v in "$VAL_A" "$VAL_B" "$VAL_T"; do
		for f in "$D"/.skiff/objects/*/*; do zstd -dcq "$f" 2>/dev/null; done | grep -aqF "$v" &&
			{ echo "a value in an object" >&2; exit 1; }
		grep -raF --exclude-dir=objects "$v" "$D" && { echo "a value under the stack" >&2; exit 1; }
		grep -aF "$v" "$TRASH"/*.out "$TRASH/out" "$TRASH/err" && { echo "a value in output" >&2; exit 1; }
		for id in $(sk --format=json op list | jq -r ".operations[].id"); do
			sk --format=json op events "$id"
		done | grep -aqF "$v" && { echo "a value in an event" >&2; exit 1; }
		true
	done &&
	! grep -lE "AddressSanitizer|runtime error" "$D"/runner-*.out
'

test_done
