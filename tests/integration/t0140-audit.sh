#!/bin/bash
# skiff audit: every ref move is journaled -- update-ref, control set,
# release sign, trust add-key, an operation's transitions (op id, trace,
# the step's risk), push and fetch to a file:// remote (remote named) --
# and each printed entry is checked against its signed record. Filters
# --since/--until/--service/--actor/--ref/-n narrow; an edited line exits
# 4 (verification_failed); a garbage line exits 4 (corrupt_object); JSON
# mode prints one document.
. "$(dirname "$0")/lib.sh"
export SKIFF_TEST_OPS=1
KEYS="$XDG_CONFIG_HOME/skiff/keys"
SPEC="$TEST_SRC/examples/payments-api.yaml"
URL="file://$TRASH/bucket"

# audit_json ARGS...: skiff audit --format=json ARGS into $TRASH/out, one document.
audit_json() { skiff --format=json audit "$@" >"$TRASH/out" && one_json_doc; }
# journal: the journal lines, all days.
journal() { cat "$TRASH"/repo/.skiff/audit/*.jsonl; }

test_expect_success 'setup: alice (root, operator), ci (release-signer); init is journaled' '
	setup_repo && cd repo &&
	audit_json && json_is ".entries | length" 1 &&
	json_is ".entries[0].ref" refs/meta/trust && json_is ".entries[0].command" init &&
	json_is ".entries[0].name" alice && json_is ".entries[0].seq" 1 &&
	skiff keygen ci >/dev/null &&
	skiff --identity alice trust add-key ci "$KEYS/ci.pub" --role release-signer \
		--scope "refs/releases/payments-api/*" >/dev/null &&
	audit_json && json_is ".entries | length" 2 &&
	json_is ".entries[1].command" "trust add-key" && json_is ".entries[1].risk" high &&
	json_is ".entries[1].ref" refs/meta/trust && json_is ".entries[1].seq" 2 &&
	json_is ".entries[1].old" "$(jq -r .entries[0].new "$TRASH/out")"
'

test_expect_success 'update-ref: who, what, where' '
	cd repo &&
	blob=$(echo hello | skiff hash-object -w --stdin) &&
	skiff update-ref refs/services/web $blob --create >/dev/null &&
	audit_json -n 1 && json_is ".entries | length" 1 &&
	e=".entries[0]" &&
	json_is "$e.command" update-ref && json_is "$e.risk" low && json_is "$e.action" update &&
	json_is "$e.ref" refs/services/web && json_is "$e.old" null && json_is "$e.new" $blob &&
	json_is "$e.key" "$(skiff --format=json key list | jq -r ".keys[] | select(.name==\"alice\") | .id")" &&
	json_is "$e.name" alice && json_is "$e.host" "$(hostname)" && json_is "$e.service" web &&
	json_is "$e.seq" 1 &&
	rec=$(jq -r "$e.record" "$TRASH/out") &&
	skiff --format=json log refs/services/web --records >"$TRASH/log" &&
	test "$(jq -r ".records[0].id // .records[0].record" "$TRASH/log")" = "$rec"
'

test_expect_success 'control set and release sign' '
	cd repo &&
	skiff control set payments-api POOL=8 >/dev/null &&
	audit_json --ref refs/services/payments-api &&
	json_is "[.entries[] | select(.action == \"update\")] | length >= 1" true &&
	json_is ".entries[-1].command" "control set" &&
	json_is ".entries[-1].service" payments-api &&
	printf app >app.bin &&
	skiff --format=json release create payments-api --spec "$SPEC" --version 1.0.0 \
		--artifact app=app.bin >"$TRASH/rel" &&
	skiff --identity ci release sign payments-api 1.0.0 >/dev/null &&
	audit_json --ref "refs/releases/**" && json_is ".entries | length" 1 &&
	json_is ".entries[0].command" "release sign" && json_is ".entries[0].risk" medium &&
	json_is ".entries[0].name" ci && json_is ".entries[0].ref" refs/releases/payments-api/1.0.0
'

test_expect_success 'an operation: op id, trace, and each transition the risk of its step' '
	cd repo &&
	skiff --format=json op test-run --steps 2 --ledger "$TRASH/l1" --service pay >"$TRASH/op" &&
	id=$(jq -r .op "$TRASH/op") && trace=$(jq -r .trace "$TRASH/op") &&
	audit_json --ref "refs/operations/$id" &&
	n=$(jq ".entries | length" "$TRASH/out") && test "$n" -ge 4 &&
	json_is "[.entries[].op] | unique | join(\",\")" "$id" &&
	json_is "[.entries[].trace] | unique | join(\",\")" "$trace" &&
	json_is "[.entries[].service] | unique | join(\",\")" pay &&
	json_is "[.entries[].command] | unique | join(\",\")" "op test-run" &&
	json_is "[.entries[].risk] | unique | join(\",\")" low,none &&
	audit_json --service pay && json_is ".entries | length" "$n"
'

test_expect_success 'push and fetch to a file:// remote: the remote named' '
	cd repo &&
	skiff remote add origin "$URL" >/dev/null &&
	skiff push origin >/dev/null &&
	audit_json && jq -e "[.entries[] | select(.action == \"push\")] | length > 0 and
		all(.remote == \"origin\" and .command == \"push\")" "$TRASH/out" >/dev/null &&
	json_is "[.entries[] | select(.action == \"push\" and .ref == \"refs/services/web\")] | length" 1 &&
	cd "$TRASH" && cp -a repo other && cd other &&
	blob=$(echo again | skiff hash-object -w --stdin) &&
	old=$(skiff rev-parse refs/services/web) &&
	skiff update-ref refs/services/web $blob --old $old >/dev/null &&
	skiff push origin refs/services/web >/dev/null &&
	cd "$TRASH/repo" && skiff fetch origin >/dev/null &&
	audit_json --ref "refs/remotes/origin/services/web" && json_is ".entries | length" 1 &&
	json_is ".entries[0].action" fetch && json_is ".entries[0].remote" origin &&
	json_is ".entries[0].new" $blob && json_is ".entries[0].old" null &&
	audit_json --ref refs/services/web &&
	json_is ".entries[-1].action" fetch && json_is ".entries[-1].old" $old &&
	json_is ".entries[-1].new" $blob && json_is ".entries[-1].seq" 2
'

test_expect_success 'filters narrow: --service, --actor (name and id), --ref, -n' '
	cd repo &&
	audit_json && all=$(jq ".entries | length" "$TRASH/out") &&
	audit_json --service payments-api &&
	json_is "[.entries[].service] | unique | join(\",\")" payments-api &&
	json_is "[.entries[].ref | select(startswith(\"refs/operations/\"))] | length > 0" true &&
	json_is "[.entries[].ref | select(startswith(\"refs/releases/payments-api/\"))] | length" 2 &&
	audit_json --actor ci && json_is "[.entries[].name] | unique | join(\",\")" ci &&
	json_is "[.entries[] | select(.action == \"update\")] | length" 1 &&
	nci=$(jq ".entries | length" "$TRASH/out") &&
	ci=$(skiff --format=json key list | jq -r ".keys[] | select(.name==\"ci\") | .id") &&
	audit_json --actor "$ci" && json_is ".entries | length" "$nci" &&
	audit_json --actor alice && test "$(jq ".entries | length" "$TRASH/out")" -lt "$all" &&
	audit_json --actor nobody && json_is ".entries | length" 0 &&
	audit_json --ref refs/meta/trust && json_is "[.entries[].action] | join(\",\")" update,update,push &&
	audit_json -n 3 && json_is ".entries | length" 3 &&
	test "$(jq -c ".entries[-1]" "$TRASH/out")" = "$(skiff --format=json audit | jq -c ".entries[-1]")"
'

test_expect_success '--since and --until: RFC 3339, unix seconds, ages' '
	cd repo &&
	audit_json --since 1h && all=$(jq ".entries | length" "$TRASH/out") && test "$all" -gt 5 &&
	sleep 2 && mark=$(date -u +%s) &&
	blob=$(echo later | skiff hash-object -w --stdin) &&
	skiff update-ref refs/services/late $blob --create >/dev/null &&
	audit_json --since "$mark" && json_is ".entries | length" 1 &&
	json_is ".entries[0].ref" refs/services/late &&
	audit_json --since "$(date -u -d @$mark +%Y-%m-%dT%H:%M:%SZ)" && json_is ".entries | length" 1 &&
	audit_json --until "$((mark - 1))" && json_is ".entries | length" "$all" &&
	audit_json --since "$((mark - 1))" --until "$((mark - 1))" && json_is ".entries | length" 0 &&
	audit_json --since 10m --ref refs/services/late && json_is ".entries | length" 1 &&
	audit_json --until 7d && json_is ".entries | length" 0 &&
	expect_exit 2 skiff --format=json audit --since yesterday && json_is .error.code usage &&
	expect_exit 2 skiff audit -n 0
'

test_expect_success 'text mode: aligned columns with actor, risk, ref, short ids, op' '
	cd repo &&
	skiff audit --ref "refs/releases/**" >"$TRASH/text" &&
	head -1 "$TRASH/text" | grep -q "^TIME  *ACTOR  *RISK  *REF  *OLD -> NEW  *OP$" &&
	new=$(skiff --format=json audit --ref "refs/releases/**" | jq -r ".entries[0].new") &&
	grep -q "  ci  *medium  *refs/releases/payments-api/1.0.0  *-  *-> ${new:0:8}  *-$" "$TRASH/text"
'

test_expect_success 'an edited entry fails verification (exit 4); nothing is printed' '
	cd "$TRASH" && cp -a repo tampered && cd tampered &&
	f=$(ls .skiff/audit/*.jsonl | tail -1) &&
	other=$(echo forged | skiff hash-object -w --stdin) &&
	line=$(grep -n "\"ref\":\"refs/services/web\"" "$f" | head -1 | cut -d: -f1) &&
	sed -i "${line}s/\"new\":\"[0-9a-f]*\"/\"new\":\"$other\"/" "$f" &&
	expect_exit 4 skiff --format=json audit && one_json_doc &&
	json_is .error.code verification_failed &&
	json_is ".error.entry.ref" refs/services/web &&
	expect_exit 4 skiff audit && test ! -s "$TRASH/out" &&
	audit_json --ref refs/meta/trust && json_is "[.entries[] | select(.action == \"update\")] | length" 2
'

test_expect_success 'a garbage line is a typed error (corrupt_object), never skipped' '
	cd "$TRASH" && cp -a repo garbage && cd garbage &&
	f=$(ls .skiff/audit/*.jsonl | tail -1) &&
	sed -i "2s/.*/this is not an entry/" "$f" &&
	expect_exit 4 skiff --format=json audit && one_json_doc &&
	json_is .error.code corrupt_object &&
	json_is ".error.message | test(\"jsonl at byte [0-9]+\")" true
'

test_expect_success 'the journal holds no secret: no private key bytes, only its fields' '
	cd repo &&
	for k in "$KEYS"/*.key; do
		secret=$(cut -d" " -f2 "$k") && ! grep -q "$secret" .skiff/audit/*.jsonl || exit 1
	done &&
	journal | jq -e -s "all(keys == [\"action\",\"command\",\"host\",\"key\",\"name\",\"new\",
		\"old\",\"op\",\"record\",\"ref\",\"remote\",\"risk\",\"seq\",\"service\",\"target\",
		\"time\",\"trace\",\"v\"])" >/dev/null
'

test_expect_success 'a read-only command writes no entry; --help names the page' '
	cd repo && before=$(journal | wc -l) &&
	skiff show-ref >/dev/null && skiff verify-ref refs/services/web >/dev/null &&
	test "$(journal | wc -l)" = "$before" &&
	skiff audit --help | grep -q "skiff-audit(1)"
'

test_done
