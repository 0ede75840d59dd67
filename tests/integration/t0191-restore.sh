#!/bin/bash
# skiff backup and skiff restore on the local stack (scripts/stack.sh): the
# stateful example service (examples/skiff-example-store.c) under a real
# runner and HAProxy. Data really comes back: keys written, backed up,
# changed and deleted, restored after an approval, read again. A stale
# backup and an altered one are refused before anything changes (exit 3,
# exit 4); a restore command that fails puts the data back and the target
# back into traffic, but only once it is healthy; every kill point of a
# restore resumes to the same end; --dry-run plans without writing; every
# change is audited.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/tests/integration/lib-stack.sh"
STORE="$STACK_BUILD/examples/skiff-example-store"
KEYS="$D/config/skiff/keys"
addr() { sk --format=json control show store | jq -r '.control.targets.s1.addr'; }
get() { curl -s "http://$(addr)/kv/$1"; }
put() { curl -sf -X PUT --data-binary "$2" "http://$(addr)/kv/$1"; }
del() { curl -sf -X DELETE "http://$(addr)/kv/$1"; }
drained() { sk --format=json control show store | jq -r '.control.targets.s1.drain // false'; }
data() { sk --format=json control show store | jq -r '.control.targets.s1.data // "none"'; }
weight() { sk --format=json traffic show store | jq -r '.servers.s1.weight'; }
newest() { sk --format=json op list --service store | jq -r '.operations[-1].id // empty'; }
# healthy: until s1's runner reports healthy (up to 30 s)
healthy() {
	local i
	for i in $(seq 1 150); do
		sk --format=json status store 2>/dev/null |
			jq -e '.targets[] | select(.target == "s1") | .report.state == "healthy"' \
				>/dev/null && return 0
		sleep 0.2
	done
	echo "s1 not healthy" >&2
	return 1
}
# approve_run ID: approve the cutover as "approver", run it to the end
approve_run() {
	sk --identity approver approve "$1" >/dev/null && sk --format=json resume "$1"
}
# spec MAX_AGE RESTORE-ARGS...: the store's spec with its commands
spec() {
	cat <<YAML
service: store
run:
  command: skiff-example-store
  env: {EXAMPLE_DATA: "$D/data/"}
  port: 8080
health: {path: /health, interval: 1s, timeout: 500ms, healthy_threshold: 1}
stateful: true
backup: {command: ["$STORE", "backup"], max_age: $1}
restore: {command: ["$STORE", "restore"], validate: ["$STORE", "validate"]}
YAML
}

test_expect_success 'a store service on one target with its data, and an approver' '
	mkdir -p "$D/pids" && STACK_DIR=$D &&
	for k in admin sci srunner approver; do sk keygen "$k" >/dev/null; done &&
	sk init "$D" >/dev/null &&
	sk trust add-key sci "$KEYS/sci.pub" --role release-signer --scope "refs/releases/store/*" >/dev/null &&
	sk trust add-key srunner "$KEYS/srunner.pub" --role runner --scope "refs/runners/store/*" >/dev/null &&
	sk trust add-key approver "$KEYS/approver.pub" --role approver >/dev/null &&
	spec 1h >store.yaml &&
	sk --identity sci release create store --spec store.yaml --version v1 \
		--artifact "skiff-example-store=$STORE" --sign >/dev/null &&
	p1=$(free_port) && p2=$(free_port $p1) &&
	sk target add store s1 --addr "127.0.0.1:$p1" >/dev/null &&
	sk traffic start store --listen "127.0.0.1:$p2" >/dev/null &&
	runner_start s1 store srunner &&
	{ sk deploy store --release v1 >/dev/null 2>&1 || true; } &&
	approve_run "$(newest)" >/dev/null && healthy &&
	put a one && put b two && put c three && test "$(get b)" = two
'

test_expect_success 'backup runs the command and records size, digest, target, release' '
	sk --format=json backup store >out && one_json_doc &&
	id=$(jq -r .backup.id out) && echo "$id" >"$TRASH/b1" &&
	json_is .backup.kind manual && json_is .backup.target s1 && json_is .backup.release v1 &&
	json_is .backup.service store && json_is .backup.op null &&
	loc=$(jq -r .backup.location out) && test "$loc" = "$D/.skiff/backups/store/$id/data" &&
	test "$(jq -r .backup.sha256 out)" = "$(sha256sum "$loc" | cut -d" " -f1)" &&
	test "$(jq -r .backup.size out)" = "$(stat -c %s "$loc")" &&
	test "$(stat -c %a "$(dirname "$loc")")" = 700 &&
	grep -q three "$loc" &&
	oid=$(sk rev-parse "refs/backups/store/$id") &&
	sk --format=json cat-object -p "$oid" >obj && json_is .type backup obj &&
	json_is .content.id "$id" obj
'

test_expect_success 'backup list: newest first, text and JSON; --dry-run writes nothing' '
	sleep 0.01 && sk backup store >/dev/null &&
	sk --format=json backup list store >out && one_json_doc &&
	json_is ".backups | length" 2 &&
	test "$(jq -r ".backups[1].id" out)" = "$(cat "$TRASH/b1")" &&
	test "$(jq -r ".backups[0].id" out)" \> "$(cat "$TRASH/b1")" &&
	sk backup list store >text && grep -q "^ID *KIND" text && grep -q "$(cat "$TRASH/b1") *manual *s1 *v1" text &&
	before=$(snapshot "$D/.skiff/refs") &&
	sk --format=json --dry-run backup store >out && json_is .dry_run true && json_is .risk low &&
	json_is .backup.target s1 && json_is ".command[1]" backup &&
	test "$(snapshot "$D/.skiff/refs")" = "$before" &&
	sk --format=json backup list nosuch >out && json_is ".backups | length" 0
'

test_expect_success 'restore: freshness, drain, approval, data back, validated, undrained' '
	b1=$(cat "$TRASH/b1") &&
	put b changed && del c && put d new && test "$(get c)" = "no such key" &&
	expect_exit 5 sk --format=json restore store --backup "$b1" &&
	id=$(newest) && echo "$id" >"$TRASH/op1" &&
	test "$(drained)" = true && test "$(get b)" = changed &&
	sk --format=json op show "$id" >show && json_is .operation.state awaiting-approval show &&
	json_is ".operation.steps[0].result.backup" "$b1" show &&
	json_is ".operation.steps[0].result.max_age_s" 3600 show &&
	expect_exit 4 sk approve "$id" &&
	approve_run "$id" >out && json_is .state succeeded &&
	test "$(get a)" = one && test "$(get b)" = two && test "$(get c)" = three &&
	test "$(get d)" = "no such key" &&
	test "$(drained)" = false && test "$(data)" = "$b1" && test "$(weight)" -gt 0 &&
	pre=$(sk --format=json op show "$id" | jq -r ".operation.steps[2].result.pre_restore") &&
	sk --format=json backup list store >list &&
	jq -e --arg p "$pre" --arg op "$id" ".backups[] | select(.id == \$p) | .kind == \"pre-restore\" and .op == \$op" list &&
	grep -q new "$D/.skiff/backups/store/$pre/data" || { cat out >&2; false; }
'

# handmade ID FILE TAKEN_AT: a backup object for FILE's bytes made by
# hand (hash-object, update-ref) as any operator could: restore must judge
# it by what it says
handmade() {
	local sha size oid
	sha=$(sha256sum "$2" | cut -d" " -f1) && size=$(stat -c %s "$2") &&
	jq -n --arg id "$1" --arg loc "$2" --arg sha "$sha" --argjson size "$size" \
		--argjson t "$3" '{id: $id, kind: "manual", location: $loc, op: null,
		release: "v1", service: "store", sha256: $sha, size: $size, taken_at: $t,
		target: "s1", v: 1}' >"$TRASH/b.json" &&
	oid=$(sk hash-object -w -t backup --canonicalize "$TRASH/b.json") &&
	sk update-ref "refs/backups/store/$1" "$oid" --create >/dev/null
}
state() { echo "$(sk rev-parse refs/services/store) $(drained) $(data) $(get a)$(get b)$(get c)"; }

test_expect_success 'a stale backup is refused before anything changes (exit 3, freshness facts)' '
	mkdir -p "$D/old" && cp "$D/.skiff/backups/store/$(cat "$TRASH/b1")/data" "$D/old/data" &&
	old=20200101T000000000Z-0000000000aa && taken=$(( $(date +%s) - 7200 )) &&
	handmade $old "$D/old/data" $taken &&
	before=$(state) &&
	expect_exit 3 sk --format=json --dry-run restore store --backup $old &&
	json_is .error.freshness.max_age_s 3600 &&
	expect_exit 3 sk --format=json restore store --backup $old && one_json_doc &&
	json_is .error.freshness.backup $old && json_is .error.freshness.taken_at $taken &&
	json_is .error.freshness.max_age_s 3600 && test "$(jq .error.freshness.age_s out)" -ge 7200 &&
	json_is .error.state compensated && json_is ".error.steps[1].state" skipped &&
	grep -q stale out && test "$(state)" = "$before"
'

test_expect_success 'a backup whose file changed is refused (exit 4), nothing changed' '
	sk --format=json backup store >out && id=$(jq -r .backup.id out) &&
	loc=$(jq -r .backup.location out) && cp "$loc" good &&
	echo "x" >>"$loc" && before=$(state) &&
	expect_exit 4 sk --format=json restore store --backup "$id" &&
	json_is .error.state compensated && jq -e ".error.freshness.found_sha256 != .error.freshness.sha256" out &&
	test "$(state)" = "$before" && cp good "$loc"
'

test_expect_success 'a failing restore command: data put back, target back in traffic' '
	printf "not a store file\n" >"$D/old/garbage" &&
	bad=$(date -u +%Y%m%dT%H%M%S)000Z-0000000000bb &&
	handmade $bad "$D/old/garbage" "$(date +%s)" &&
	before=$(state) &&
	expect_exit 5 sk restore store --backup $bad && id=$(newest) &&
	test "$(drained)" = true &&
	sk --identity approver approve "$id" >/dev/null &&
	expect_exit 1 sk --format=json resume "$id" &&
	sk --format=json op show "$id" >show && json_is .operation.state compensated show &&
	json_is ".operation.steps[2].state" failed show &&
	json_is ".operation.steps[2].result.rolled_back" true show &&
	json_is ".operation.steps[1].state" compensated show &&
	grep -q "does not parse" show &&
	test "$(state | cut -d" " -f2-)" = "$(echo "$before" | cut -d" " -f2-)" && test "$(weight)" -gt 0
'

test_expect_success '--dry-run: the plan with risk and reversibility, nothing written' '
	before=$(snapshot "$D/.skiff/refs") &&
	sk --format=json --dry-run restore store --backup "$(cat "$TRASH/b1")" >out && one_json_doc &&
	json_is .dry_run true && json_is .params.target s1 && json_is .freshness.max_age_s 3600 &&
	json_is "[.plan.steps[] | .name + \":\" + .risk + \":\" + (.reversible | tostring)] | join(\",\")" \
		"freshness:none:false,isolate:medium:true,cutover:high:true,validate:none:false,undrain:medium:true,record:none:false" &&
	json_is ".plan.steps[2].compensation" put-back &&
	sk --dry-run restore store --backup latest >text && grep -q "cutover *high" text &&
	grep -q "stale after 3600 s" text &&
	test "$(snapshot "$D/.skiff/refs")" = "$before"
'

test_expect_success 'backup and restore are audited' '
	sk --format=json audit --ref "refs/backups/**" >out &&
	jq -e "[.entries[] | select(.command == \"backup\")] | length >= 3" out &&
	jq -e "[.entries[] | select(.command == \"resume\" and (.ref | startswith(\"refs/backups/store/\")))] | length >= 1" out &&
	sk --format=json audit --service store >out &&
	jq -e "[.entries[] | select(.command == \"restore\" and .risk == \"high\")] | length >= 1" out
'

# Every kill point of a restore: SIGKILL there, then resume (approving
# when asked) to the end, which is always the same: the backed-up data,
# s1 in traffic, its data id recorded. Phase 1 kills before the approval,
# phase 2 the resume after it.
finish() {
	local i st
	for i in 1 2 3 4 5 6; do
		st=0 && sk resume "$1" >/dev/null 2>&1 || st=$?
		case $st in
		0) return 0 ;;
		5) sk --identity approver approve "$1" >/dev/null || return 1 ;;
		*) echo "resume $1: exit $st" >&2; return 1 ;;
		esac
	done
	return 1
}
end_ok() {
	test "$(get b)" = two && test "$(get d)" = "no such key" && test "$(drained)" = false &&
	test "$(data)" = "$1" && test "$(weight)" -gt 0 &&
	sk --format=json op show "$2" | jq -e ".operation.state == \"succeeded\"" >/dev/null
}
test_expect_success 'SIGKILL at every kill point of a restore, then resume: same end' '
	b1=$(cat "$TRASH/b1") && n=1 && kills=0 &&
	while [ $n -lt 80 ]; do
		put b changed && put d new && last=$(newest) && st=0 || exit 1
		SKIFF_OP_KILL=$n "$SKIFF_BIN" -C "$D" --format=json restore store --backup "$b1" >/dev/null 2>&1 || st=$?
		id=$(newest)
		if [ $st -eq 5 ]; then finish "$id" && end_ok "$b1" "$id" && break; fi
		[ $st -eq 137 ] || { echo "kill $n: exit $st" >&2; exit 1; }
		kills=$((kills + 1))
		if [ "$id" = "$last" ]; then
			test "$(get b)" = changed || { echo "kill $n: data changed without an operation" >&2; exit 1; }
		else
			finish "$id" && end_ok "$b1" "$id" || { echo "phase 1, kill point $n" >&2; exit 1; }
		fi
		n=$((n + 1))
	done &&
	m=1 &&
	while [ $m -lt 80 ]; do
		put b changed && put d new &&
		expect_exit 5 sk restore store --backup "$b1" && id=$(newest) &&
		sk --identity approver approve "$id" >/dev/null && st=0 &&
		SKIFF_OP_KILL=$m "$SKIFF_BIN" -C "$D" --format=json resume "$id" >/dev/null 2>&1 || st=$?
		if [ $st -eq 0 ]; then end_ok "$b1" "$id" && break; fi
		[ $st -eq 137 ] || { echo "resume kill $m: exit $st" >&2; exit 1; }
		kills=$((kills + 1))
		finish "$id" && end_ok "$b1" "$id" || { echo "phase 2, kill point $m" >&2; exit 1; }
		m=$((m + 1))
	done &&
	test $n -gt 10 && test $m -gt 10 && echo "$kills kill points ($n before approval, $m after)" >"${KILLS_OUT:-/dev/null}"
'

# A fault injector in place of the restore command (release v2): the
# first call fails; the next one (the roll back of the pre-restore data)
# restores, then stops the workload with SIGSTOP and waits (up to 30 s)
# until s1's runner reports it unhealthy; later calls (the put-back of the
# failed cutover) do nothing. The compensation must then keep s1 out of
# traffic; once the workload runs again, resume puts it back.
fault_restore() {
	cat <<SCRIPT
#!/bin/sh
n=\$(cat "$TRASH/fault-calls" 2>/dev/null || echo 0)
echo \$((n + 1)) >"$TRASH/fault-calls"
[ "\$n" -gt 0 ] || exit 1
[ "\$n" -eq 1 ] || exit 0
"$STORE" restore || exit 1
kill -STOP "\$(cat "$D/.skiff/run/store/s1/workload.pid")"
for i in \$(seq 1 150); do
	"$SKIFF_BIN" -C "$D" --format=json status store 2>/dev/null |
		jq -e '.targets[] | select(.target == "s1") | .report.state == "unhealthy"' \\
			>/dev/null && touch "$TRASH/fault-seen-unhealthy" && exit 0
	sleep 0.2
done
SCRIPT
}

test_expect_success 'a failing restore on a target left unhealthy: it stays out until healthy' '
	fault_restore >"$TRASH/fault-restore" &&
	chmod +x "$TRASH/fault-restore" &&
	spec 1h | sed "s|restore: {command: \[\"$STORE\", \"restore\"\]|restore: {command: [\"$TRASH/fault-restore\"]|" >v2.yaml &&
	grep -q fault-restore v2.yaml &&
	sk --identity sci release create store --spec v2.yaml --version v2 \
		--artifact "skiff-example-store=$STORE" --sign >/dev/null &&
	{ sk deploy store --release v2 >/dev/null 2>&1 || true; } &&
	approve_run "$(newest)" >/dev/null && healthy &&
	before=$(get b) &&
	expect_exit 5 sk restore store --backup "$(cat "$TRASH/b1")" && id=$(newest) &&
	sk --identity approver approve "$id" >/dev/null &&
	{ sk --format=json resume "$id" >out 2>&1; echo $? >"$TRASH/fault-st"; }
	sk --format=json op show "$id" >show
	out_then="$(drained) $(weight)"
	# the workload runs again before anything is asserted: a stopped
	# process must not outlive a failing test
	kill -CONT "$(cat "$D/.skiff/run/store/s1/workload.pid")" &&
	test -f "$TRASH/fault-seen-unhealthy" && test "$(cat "$TRASH/fault-st")" = 3 &&
	json_is .operation.state compensating show &&
	jq -r .error.message out | grep -q "s1 is not healthy: it stays out of traffic" &&
	json_is ".operation.steps[2].result.rolled_back" true show &&
	test "$out_then" = "true 0" && healthy &&
	for i in $(seq 1 50); do
		[ "$(sk --format=json traffic show store | jq -r .servers.s1.check_status)" = L7OK ] && break
		sleep 0.2
	done &&
	{ sk --format=json resume "$id" >/dev/null 2>&1 || true; } &&
	sk --format=json op show "$id" >show && json_is .operation.state compensated show &&
	test "$(drained)" = false && test "$(weight)" -gt 0 && test "$(get b)" = "$before"
'

test_done
