#!/bin/bash
# skiff status [SERVICE] and skiff doctor SERVICE over real state: targets
# from `skiff target add`, releases and weights in control (a state
# commit through sk_service_commit, tests/tools/control-edit), signed
# runner reports (sk_reports_write with a runner key,
# tests/tools/report-write), a runner.pid of a dead process, an operation
# in flight (the test operation type) and a paused one (a forged but
# validly signed event chain). Asserts the JSON context packet's shape,
# its findings and next commands, doctor's facts/hypotheses split, and
# typed errors for bad input.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/tests/integration/lib-ops.sh"
export SKIFF_TEST_OPS=1
TOOLS=$(dirname "$SKIFF_BIN")/tools
KEYS="$XDG_CONFIG_HOME/skiff/keys"

# report TARGET STATE RELEASE [RESTARTS [REASON [PATTERN-COUNT]]]: t's runner reports.
report() {
	local rel=null
	[ "$3" = - ] || rel="\"$3\""
	jq -n --arg t "$1" --arg s "$2" --argjson rel "$rel" --argjson r "${4:-0}" \
		--arg why "${5:-}" --argjson pc "${6:-0}" --argjson now "$(($(date +%s) * 1000))" '
		{addr: "127.0.0.1:9001", health: {fails: 0, last_ms: 3, passes: 5},
		 logs: {lines: 10, patterns: [{count: $pc, pattern: "panic"}]}, pid: 4242,
		 reason: $why, release: $rel, release_oid: null, restarts: $r, service: "pay",
		 state: $s, target: $t, time_ms: $now, trace: null, v: 1}' |
	"$TOOLS/report-write" "$TRASH/repo" runner1
}

# control EDIT...: the service's control edited (tests/tools/control-edit), committed.
control() { "$TOOLS/control-edit" "$TRASH/repo" alice pay "$@" >/dev/null; }

test_expect_success 'setup: four targets, v1 stable on three, v2 canary on t4, a runner key' '
	skiff keygen alice >/dev/null && skiff keygen runner1 >/dev/null &&
	mkdir repo && skiff --identity alice init repo >/dev/null && cd repo &&
	skiff --identity alice trust add-key runner1 "$KEYS/runner1.pub" --role runner \
		--scope "refs/runners/pay/*" >/dev/null &&
	for i in 1 2 3 4; do skiff --identity alice target add pay t$i --addr 127.0.0.1:900$i >/dev/null; done &&
	control release=v1 t1.release=v1 t1.weight=100 t2.release=v1 t2.weight=100 \
		t3.release=v1 t3.weight=95 t4.release=v2 t4.weight=5
'

test_expect_success 'status without a service: a line per service' '
	cd repo && skiff --identity alice target add other o1 --addr 127.0.0.1:9100 >/dev/null &&
	skiff --format=json status >"$TRASH/out" && one_json_doc &&
	json_is "[.services[].service] | join(\",\")" "other,pay" &&
	json_is ".services[1].stable" v1 && json_is ".services[1].canary" v2 &&
	json_is ".services[1].targets" 4 && json_is ".services[1].healthy" 0 &&
	skiff status >text && grep -q "^pay  *v1  *v2  *0/4" text
'

test_expect_success 'status SERVICE: the context packet before any runner reported' '
	cd repo && skiff --format=json status pay >"$TRASH/out" && one_json_doc &&
	jq -e "keys == [\"events\",\"findings\",\"head\",\"last_operation\",\"next\",\"operation\",
		\"release\",\"repo\",\"service\",\"targets\",\"time_ms\",\"traffic\"]" "$TRASH/out" >/dev/null &&
	json_is .release.stable v1 && json_is .release.canary v2 &&
	json_is ".release.canary_targets | join(\",\")" t4 &&
	json_is "[.targets[].target] | join(\",\")" "t1,t2,t3,t4" &&
	json_is ".targets[3].canary" true && json_is ".targets[0].canary" false &&
	json_is ".traffic.control.total" 300 &&
	json_is "[.traffic.control.split[] | \"\(.release)=\(.percent)\"] | sort | join(\",\")" "v1=98,v2=2" &&
	json_is "[.findings[].code] | map(select(. == \"target-no-report\")) | length" 4 &&
	json_is "[.findings[] | select(.code == \"canary\") | .text] | .[0]" "canary runs v2 on t4 at 2%" &&
	json_is ".next[0].command" "skiff-runner --service pay --target t1 --repo $TRASH/repo" &&
	jq -e ".next | all(has(\"command\") and has(\"risk\") and has(\"reversible\") and has(\"approval\"))" "$TRASH/out" &&
	json_is .operation null && json_is ".events | length" 0
'

test_expect_success 'reports: per-target health, age, restarts, reason; unhealthy and mismatch findings' '
	cd repo && report t1 healthy v1 && report t2 healthy v1 &&
	report t3 unhealthy v1 2 "health probe: connection refused" && report t4 healthy v2 &&
	skiff --format=json status pay >"$TRASH/out" &&
	json_is ".targets[0].report.state" healthy && json_is ".targets[2].report.state" unhealthy &&
	json_is ".targets[2].report.restarts" 2 &&
	json_is ".targets[2].report.reason" "health probe: connection refused" &&
	jq -e ".targets[0].report.age_s >= 0 and .targets[0].report.age_s < 120" "$TRASH/out" >/dev/null &&
	jq -e "[.findings[] | select(.code == \"target-unhealthy\" and .subject == \"t3\")] | length == 1" "$TRASH/out" &&
	jq -e "[.findings[].text] | any(startswith(\"target t3 unhealthy since \"))" "$TRASH/out" &&
	jq -e "[.findings[].code] | index(\"target-no-report\") == null" "$TRASH/out" &&
	json_is ".next[0].command" "skiff promote pay" && json_is ".next[0].risk" medium &&
	json_is ".next[1].command" "skiff rollback pay" &&
	skiff status pay >text &&
	grep -q "^  t3  *unhealthy  *v1  *[0-9]*s  *2 " text && grep -q "^  t4  *healthy  *v2\*" text &&
	grep -q "target t3 unhealthy since" text && grep -q "skiff promote pay .*(medium risk, reversible)" text &&
	report t2 starting v0 && skiff --format=json status pay >"$TRASH/out" &&
	json_is "[.findings[] | select(.code == \"target-release-mismatch\") | .text] | .[0]" \
		"target t2 runs v0, control assigns v1 (starting)" &&
	report t2 healthy v1
'

test_expect_success 'a report signed by a key without the runner role is not believed' '
	cd repo && skiff keygen mallory >/dev/null &&
	skiff --identity alice trust add-key mallory "$KEYS/mallory.pub" --role operator >/dev/null &&
	! jq -n "{}" | "$TOOLS/report-write" "$TRASH/repo" mallory 2>/dev/null &&
	skiff --format=json status pay >"$TRASH/out" && json_is ".targets[0].report.state" healthy
'

test_expect_success 'a runner whose pid file names a dead process is down (status and doctor)' '
	cd repo && mkdir -p .skiff/run/pay/t1/log &&
	{ sleep 0.01 & } && dead=$! && wait $dead &&
	echo $dead >.skiff/run/pay/t1/runner.pid &&
	skiff --format=json status pay >"$TRASH/out" && json_is ".targets[0].runner" not-running &&
	json_is "[.findings[] | select(.code == \"runner-down\") | .subject] | join(\",\")" t1 &&
	skiff --format=json doctor pay >"$TRASH/out" && one_json_doc &&
	jq -e "keys == [\"facts\",\"hypotheses\",\"recommendations\",\"service\"]" "$TRASH/out" >/dev/null &&
	h=$(jq -r ".hypotheses[] | select(.text | startswith(\"the runner for t1 is down\")) | .id" "$TRASH/out") &&
	test -n "$h" &&
	for f in $(jq -r --arg h "$h" ".hypotheses[] | select(.id == \$h) | .rests_on[]" "$TRASH/out"); do
		jq -e --arg f "$f" ".facts[] | select(.id == \$f) | .source | IN(\"report\", \"runner\")" "$TRASH/out" >/dev/null || exit 1
	done &&
	jq -e --arg h "$h" ".recommendations[] | select(.addresses | index(\$h)) |
		.command == \"skiff-runner --service pay --target t1 --repo $TRASH/repo\" and .risk == \"low\"
		and .reversible == true and .approval == false" "$TRASH/out" &&
	echo $$ >.skiff/run/pay/t1/runner.pid &&
	skiff --format=json status pay >"$TRASH/out" && json_is ".targets[0].runner" running
'

test_expect_success 'doctor: a crashing canary with log pattern hits points at the release' '
	cd repo && report t4 crashed v2 3 "exit status 1" 7 &&
	skiff --format=json doctor pay >"$TRASH/out" &&
	jq -e ".facts | all(has(\"id\") and has(\"source\") and has(\"text\"))" "$TRASH/out" >/dev/null &&
	jq -e ".hypotheses | all(has(\"id\") and has(\"confidence\") and has(\"rests_on\"))" "$TRASH/out" >/dev/null &&
	h=$(jq -r ".hypotheses[] | select(.text | startswith(\"release v2 is bad\")) | .id" "$TRASH/out") &&
	json_is ".hypotheses[] | select(.id == \"$h\") | .confidence" high &&
	json_is ".recommendations[] | select(.addresses | index(\"$h\")) | .command" "skiff rollback pay" &&
	json_is ".recommendations[] | select(.command == \"skiff rollback pay\") | .risk" medium &&
	skiff doctor pay >text && grep -q "^observed" text && grep -q "^inferred" text &&
	grep -q "^recommended" text && grep -q "skiff rollback pay .*medium risk, reversible" text &&
	report t4 healthy v2
'

test_expect_success 'an operation in flight: its step, trace and last events' '
	cd repo && (skiff --identity alice op test-run --steps 3 --hang-at 2 --service pay \
		--ledger "$TRASH/ledger" >/dev/null 2>&1 &) &&
	wait_for "$TRASH/ledger.hanging" &&
	id=$(newest_op .) && skiff --format=json status pay >"$TRASH/out" &&
	json_is .operation.id "$id" && json_is .operation.kind test && json_is .operation.state running &&
	json_is .operation.step.index 1 && json_is .operation.step.state running &&
	json_is .operation.trace "$(skiff --format=json op show "$id" | jq -r .operation.trace)" &&
	jq -e ".events | length > 0 and length <= 5" "$TRASH/out" >/dev/null &&
	json_is ".events[-1].seq" "$(skiff --format=json op show "$id" | jq -r .operation.events)" &&
	json_is "[.findings[] | select(.code == \"operation-active\") | .subject] | join(\",\")" "$id" &&
	json_is ".next[0].command" "skiff op events $id --follow" &&
	touch "$TRASH/ledger.release" && i=0 &&
	while [ "$(skiff --format=json op show "$id" | jq -r .operation.state)" != succeeded ] && [ $i -lt 300 ]; do
		sleep 0.05; i=$((i + 1)); done &&
	skiff --format=json status pay >"$TRASH/out" && json_is .operation null &&
	json_is .last_operation.id "$id" && json_is .last_operation.state succeeded
'

# pause_op ID REASON: a signed "paused" event (with recommendations) and the
# operation in state paused pointing at it, as the deploy writes them.
pause_op() {
	local old doc ev n trace
	old=$(skiff rev-parse "refs/operations/$1") &&
	skiff cat-object -p "$old" >"$TRASH/op.json" &&
	n=$(jq .events "$TRASH/op.json") && trace=$(jq -r .trace "$TRASH/op.json") &&
	jq -cS -n --arg op "$1" --arg prev "$(jq -r .event "$TRASH/op.json")" --arg t "$trace" \
		--argjson seq $((n + 1)) --arg reason "$2" --arg actor "$(jq -r .actor "$TRASH/op.json")" '
		{actor: $actor, facts: {decision: "pause", reasons: [$reason],
		 recommend: [{command: "skiff rollback pay", risk: "medium", reversible: true, approval: false}]},
		 kind: "paused", op: $op, prev: $prev, seq: $seq, step: 1, time: 1700000000,
		 trace: $t, v: 1}' >"$TRASH/ev.json" &&
	ev=$(skiff hash-object -w -t event --canonicalize "$TRASH/ev.json") &&
	jq -cS --arg ev "$ev" ".state = \"paused\" | .event = \$ev | .events += 1 | .cursor = 1 |
		.steps[1].state = \"running\"" "$TRASH/op.json" >"$TRASH/op2.json" &&
	doc=$(skiff hash-object -w -t operation --canonicalize "$TRASH/op2.json") &&
	skiff --identity alice update-ref "refs/operations/$1" "$doc" --old "$old" >/dev/null
}

test_expect_success 'a paused operation: the finding says why; next is resume (and what it recommended)' '
	cd repo && expect_exit 5 skiff --identity alice --format=json op test-run --steps 3 --high-at 2 \
		--service pay --ledger "$TRASH/ledger2" &&
	id=$(jq -r .error.op "$TRASH/out") && pause_op "$id" "too few requests (12 < 100)" &&
	skiff --format=json status pay >"$TRASH/out" &&
	json_is .operation.state paused && json_is ".events[-1].kind" paused &&
	json_is "[.findings[] | select(.code == \"operation-paused\") | .text] | .[0]" \
		"operation paused: test $id at step-2: too few requests (12 < 100)" &&
	json_is ".next[0].command" "skiff rollback pay" &&
	json_is ".next[1].command" "skiff resume $id" && json_is ".next[1].risk" medium &&
	json_is ".next[2].command" "skiff cancel $id" &&
	skiff --format=json status >"$TRASH/out" && json_is ".services[1].operation.state" paused &&
	skiff --format=json doctor pay >"$TRASH/out" &&
	h=$(jq -r ".hypotheses[] | select(.text | startswith(\"too little traffic\")) | .id" "$TRASH/out") &&
	test -n "$h" &&
	jq -e --arg h "$h" "[.recommendations[] | select(.addresses | index(\$h)) | .command] |
		index(\"skiff resume $id\") != null" "$TRASH/out" &&
	skiff status pay >text && grep -q "operation paused: test $id" text &&
	grep -q "^trace " text
'

test_expect_success 'bad input: unknown service exits 7, bad flags and names exit 2 (one JSON document)' '
	cd repo &&
	expect_exit 7 skiff --format=json status nope && one_json_doc && json_is .error.code not_found &&
	expect_exit 7 skiff --format=json doctor nope && one_json_doc &&
	expect_exit 2 skiff --format=json status --bogus && one_json_doc && json_is .error.code usage &&
	expect_exit 2 skiff status pay extra &&
	expect_exit 2 skiff status "../x" &&
	expect_exit 2 skiff doctor &&
	expect_exit 2 skiff doctor pay --bogus &&
	skiff status --help | grep -q "usage: skiff status" &&
	skiff doctor --help | grep -q "usage: skiff doctor"
'

test_done
