#!/bin/bash
# Remotes without a server (file:///dir, the same contract as s3://):
# remote add | list | remove; push and fetch round trips between operators
# that share one trust root (cp -a copies of one repository); conflicts
# (exit 3, the refs named in JSON, the remote unchanged); a tampered
# object, a rolled-back record, a record signed without the role and a
# record from another trust root (exit 4, nothing kept); releases never
# move; fetch --reset; 4 writers x 25 compare-and-swap updates of one
# remote ref with fetch-and-retry, and no update lost.
. "$(dirname "$0")/lib.sh"
KEYS="$XDG_CONFIG_HOME/skiff/keys"
SPEC="$TEST_SRC/examples/payments-api.yaml"
BUCKET="$TRASH/bucket"
URL="file://$BUCKET"

# object_files DIR: the object paths (ab/<62 hex>) under DIR, sorted.
object_files() { (cd "$1" && find . -path './??/*' -type f ! -name '*.tmp.*' | sort); }
# remote_record REF: the record the bucket holds for REF.
remote_record() { cat "$BUCKET/$1"; }

test_expect_success 'setup: a repository (alice: root, operator; ci: release-signer) and copies' '
	setup_repo && cd repo &&
	skiff keygen ci >/dev/null &&
	skiff --identity alice trust add-key ci "$KEYS/ci.pub" --role release-signer \
		--scope "refs/releases/payments-api/*" >/dev/null &&
	cd "$TRASH" && cp -a repo base
'

test_expect_success 'remote add | list | remove, JSON and text' '
	cd repo &&
	skiff --format=json remote add origin "$URL" >"$TRASH/out" && one_json_doc &&
	json_is .name origin && json_is .url "$URL" &&
	skiff remote add backup file:///nowhere/backup | grep -q "^added remote backup" &&
	skiff --format=json remote list >"$TRASH/out" && one_json_doc &&
	json_is "[.remotes[].name] | join(\",\")" backup,origin &&
	json_is ".remotes[1].url" "$URL" &&
	skiff remote list | grep -q "^origin  *$URL$" &&
	skiff --format=json remote remove backup >"$TRASH/out" && json_is .name backup &&
	skiff --format=json remote list >"$TRASH/out" && json_is ".remotes | length" 1
'

test_expect_success 'bad names and URLs exit 1 (invalid_input); a taken name exits 3' '
	cd repo && before=$(snapshot .skiff) &&
	for name in -x .x "a/b" "" "$(printf "%065d" 0)" "a b"; do
		expect_exit 1 skiff --format=json remote add "$name" "$URL" &&
		json_is .error.code invalid_input || exit 1
	done &&
	for url in http://x/y file://relative/dir "file:///a/../b" "file:///a//b" file:/// s3:// \
		"s3://ab" ftp://host/x /abs/path; do
		expect_exit 1 skiff --format=json remote add other "$url" &&
		json_is .error.code invalid_input || exit 1
	done &&
	expect_exit 3 skiff --format=json remote add origin file:///elsewhere &&
	json_is .error.code already_exists &&
	expect_exit 7 skiff --format=json remote remove nosuch && json_is .error.code not_found &&
	expect_exit 2 skiff remote add origin &&
	expect_exit 2 skiff remote remove &&
	test "$(snapshot .skiff)" = "$before"
'

test_expect_success 'push and fetch name a remote that exists; bad arguments are usage errors' '
	cd repo &&
	expect_exit 7 skiff --format=json push nosuch && json_is .error.code not_found &&
	expect_exit 7 skiff --format=json fetch nosuch && json_is .error.code not_found &&
	expect_exit 7 skiff --format=json fetch "file://$TRASH/no-such-dir" &&
	expect_exit 2 skiff push --jobs 0 && expect_exit 2 skiff fetch --jobs x &&
	expect_exit 2 skiff fetch origin extra && expect_exit 2 skiff push --bogus
'

test_expect_success 'push: trust and a service history arrive as objects, then records' '
	cd repo &&
	skiff control set payments-api POOL=8 -m first >/dev/null &&
	skiff control set payments-api POOL=16 -m second >/dev/null &&
	skiff --format=json push >"$TRASH/out" && one_json_doc &&
	json_is .remote "$URL" &&
	json_is "[.refs[] | select(.ref | startswith(\"refs/operations/\") | not) | .ref + \"=\" + .status] | join(\",\")" \
		"refs/meta/trust=created,refs/services/payments-api=created" &&
	json_is "[.refs[] | select(.ref | startswith(\"refs/operations/\"))] | length" 2 &&
	json_is ".refs[-1].seq" 2 && json_is ".objects > 0" true &&
	json_is ".bytes > 0" true && json_is ".requests > 0" true &&
	test "$(remote_record refs/services/payments-api)" = "$(cat .skiff/refs/services/payments-api)" &&
	test "$(remote_record refs/meta/trust)" = "$(cat .skiff/refs/meta/trust)" &&
	object_files .skiff/objects >"$TRASH/local" && object_files "$BUCKET/objects" >"$TRASH/remote" &&
	comm -13 "$TRASH/local" "$TRASH/remote" >"$TRASH/extra" && test ! -s "$TRASH/extra" &&
	c=$(skiff rev-parse refs/services/payments-api) &&
	grep -q "${c:2}" "$TRASH/remote"
'

test_expect_success 'a second push sends nothing (0 objects, every ref up-to-date)' '
	cd repo && before=$(snapshot "$BUCKET") &&
	skiff --format=json push origin >"$TRASH/out" &&
	json_is .objects 0 && json_is .bytes 0 &&
	json_is "[.refs[].status] | unique | join(\",\")" up-to-date &&
	test "$(snapshot "$BUCKET")" = "$before" &&
	skiff push | grep -q "^0 objects, 0 bytes"
'

test_expect_success 'fetch into a copy made before any change: objects verify, state equal' '
	cp -a base op2 && cd op2 &&
	skiff remote add origin "$URL" >/dev/null &&
	skiff --format=json fetch >"$TRASH/out" && one_json_doc &&
	json_is "[.refs[] | select(.ref | startswith(\"refs/operations/\") | not) | .ref + \"=\" + .status] | join(\",\")" \
		"refs/meta/trust=up-to-date,refs/services/payments-api=fast-forward" &&
	json_is ".objects > 0" true &&
	test "$(skiff rev-parse refs/services/payments-api)" = \
		"$(skiff -C "$TRASH/repo" rev-parse refs/services/payments-api)" &&
	test "$(cat .skiff/refs/remotes/origin/services/payments-api)" = \
		"$(remote_record refs/services/payments-api)" &&
	object_files "$BUCKET/objects" >"$TRASH/remote" && object_files .skiff/objects >"$TRASH/local" &&
	comm -23 "$TRASH/remote" "$TRASH/local" >"$TRASH/missing" && test ! -s "$TRASH/missing" &&
	skiff --format=json fsck >"$TRASH/out" && json_is .ok true && json_is ".problems | length" 0 &&
	skiff verify-ref --chain refs/services/payments-api >/dev/null &&
	skiff --format=json control show payments-api >"$TRASH/mine" &&
	skiff -C "$TRASH/repo" --format=json control show payments-api >"$TRASH/theirs" &&
	cmp "$TRASH/mine" "$TRASH/theirs" &&
	skiff --format=json log refs/services/payments-api | jq -e ".commits | length == 2" >/dev/null
'

test_expect_success 'a second fetch is up-to-date and stores nothing' '
	cd op2 && before=$(snapshot .skiff) &&
	skiff --format=json fetch origin >"$TRASH/out" && json_is .objects 0 &&
	json_is "[.refs[].status] | unique | join(\",\")" up-to-date &&
	test "$(snapshot .skiff)" = "$before"
'

test_expect_success 'fetch by URL (no name): tracking refs under the remote key' '
	cp -a base byurl && cd byurl &&
	skiff --format=json fetch "$URL" >"$TRASH/out" &&
	json_is ".refs[1].status" fast-forward &&
	ls .skiff/refs/remotes | grep -q "^u[0-9a-f]\{16\}$" &&
	test "$(skiff rev-parse refs/services/payments-api)" = \
		"$(skiff -C "$TRASH/repo" rev-parse refs/services/payments-api)"
'

test_expect_success 'a conflicting push exits 3, names the ref, and the remote is unchanged' '
	cd repo && skiff control set payments-api POOL=32 -m "from repo" >/dev/null &&
	cd "$TRASH/op2" && skiff control set payments-api POOL=64 -m "from op2" >/dev/null &&
	cd "$TRASH/repo" && skiff push >/dev/null &&
	cd "$TRASH/op2" && before=$(snapshot "$BUCKET/refs/services") &&
	mine=$(skiff rev-parse refs/services/payments-api) &&
	expect_exit 3 skiff --format=json push && one_json_doc &&
	json_is .error.code cas_conflict && json_is .error.retryable true &&
	json_is ".error.refs | join(\",\")" refs/services/payments-api &&
	json_is ".error.report.refs[] | select(.ref == \"refs/services/payments-api\") | .status" conflict &&
	test "$(snapshot "$BUCKET/refs/services")" = "$before" &&
	test ! -e "$BUCKET/objects/${mine:0:2}/${mine:2}" &&
	test "$(remote_record refs/services/payments-api)" = \
		"$(cat "$TRASH/repo/.skiff/refs/services/payments-api")" &&
	expect_exit 3 skiff push && grep -q "fetch, then push again" "$TRASH/err"
'

test_expect_success 'fetch of a diverged ref leaves it; --reset takes the remote; push then works' '
	cd op2 && mine=$(skiff rev-parse refs/services/payments-api) &&
	skiff --format=json fetch >"$TRASH/out" &&
	json_is ".refs[] | select(.ref == \"refs/services/payments-api\") | .status" diverged &&
	test "$(skiff rev-parse refs/services/payments-api)" = "$mine" &&
	test "$(cat .skiff/refs/remotes/origin/services/payments-api)" = \
		"$(remote_record refs/services/payments-api)" &&
	skiff --format=json fetch --reset >"$TRASH/out" &&
	json_is ".refs[] | select(.ref == \"refs/services/payments-api\") | .status" reset &&
	skiff --format=json control show payments-api | jq -e ".control.settings.POOL == \"32\"" >/dev/null &&
	skiff control set payments-api POOL=64 -m "again from op2" >/dev/null &&
	skiff --format=json push >"$TRASH/out" &&
	json_is ".refs[] | select(.ref == \"refs/services/payments-api\") | .status" updated &&
	cd "$TRASH/repo" && skiff --format=json fetch >"$TRASH/out" &&
	json_is ".refs[] | select(.ref == \"refs/services/payments-api\") | .status" fast-forward &&
	skiff --format=json control show payments-api | jq -e ".control.settings.POOL == \"64\"" >/dev/null &&
	skiff --format=json fetch >"$TRASH/out" &&
	json_is ".refs[] | select(.ref == \"refs/services/payments-api\") | .status" up-to-date
'

test_expect_success 'a local ref ahead of the remote stays; fetch says so' '
	cd repo && skiff control set payments-api POOL=65 >/dev/null &&
	mine=$(skiff rev-parse refs/services/payments-api) &&
	skiff --format=json fetch >"$TRASH/out" &&
	json_is ".refs[] | select(.ref == \"refs/services/payments-api\") | .status" ahead &&
	test "$(skiff rev-parse refs/services/payments-api)" = "$mine" &&
	skiff push >/dev/null
'

test_expect_success 'a lock left on a remote ref: push exits 3 (locked), nothing lost; then it goes' '
	cd repo && skiff control set payments-api POOL=99 >/dev/null &&
	: >"$BUCKET/refs/services/payments-api.lock" &&
	before=$(remote_record refs/services/payments-api) &&
	expect_exit 3 skiff --format=json push && json_is .error.code cas_conflict &&
	json_is ".error.refs | join(\",\")" refs/services/payments-api &&
	json_is ".error.report.refs[] | select(.ref == \"refs/services/payments-api\") | .reason | test(\"locked\")" true &&
	test "$(remote_record refs/services/payments-api)" = "$before" &&
	skiff --format=json fetch >"$TRASH/out" &&
	json_is ".refs[] | select(.ref == \"refs/services/payments-api\") | .status" ahead &&
	rm "$BUCKET/refs/services/payments-api.lock" &&
	skiff --format=json push >"$TRASH/out" &&
	json_is ".refs[] | select(.ref == \"refs/services/payments-api\") | .status" updated
'

test_expect_success 'a tampered object: fetch exits 4 and keeps nothing of it; a rerun completes' '
	cd repo && skiff control set payments-api POOL=66 -m tampered >/dev/null &&
	skiff control set payments-api POOL=67 >/dev/null && skiff push >/dev/null &&
	c=$(skiff --format=json log -n 2 refs/services/payments-api | jq -r ".commits[1].commit") &&
	o="$BUCKET/objects/${c:0:2}/${c:2}" && cp "$o" "$TRASH/saved" && chmod u+w "$o" &&
	printf "\\377" | dd of="$o" bs=1 seek=12 conv=notrunc 2>/dev/null && ! cmp -s "$o" "$TRASH/saved" &&
	cd "$TRASH/op2" && before=$(cat .skiff/refs/services/payments-api) &&
	expect_exit 4 skiff --format=json fetch && one_json_doc &&
	json_is .error.code corrupt_object && grep -q "$c" "$TRASH/out" &&
	test ! -e ".skiff/objects/${c:0:2}/${c:2}" &&
	! ls .skiff/objects/${c:0:2}/ | grep -q "${c:2}" &&
	test "$(cat .skiff/refs/services/payments-api)" = "$before" &&
	cp "$TRASH/saved" "$o" &&
	skiff --format=json fetch >"$TRASH/out" &&
	json_is ".refs[] | select(.ref == \"refs/services/payments-api\") | .status" fast-forward &&
	test -e ".skiff/objects/${c:0:2}/${c:2}" &&
	skiff --format=json fsck >"$TRASH/out" && json_is .ok true &&
	skiff --format=json control show payments-api | jq -e ".control.settings.POOL == \"67\"" >/dev/null &&
	skiff --format=json log refs/services/payments-api >/dev/null
'

test_expect_success 'a fetch cut short leaves nothing a rerun would skip (control of a new commit)' '
	cd repo && skiff control set payments-api POOL=68 >/dev/null &&
	skiff control set payments-api POOL=69 >/dev/null && skiff push >/dev/null &&
	ctl=$(skiff --format=json control show payments-api | jq -r .commit) &&
	ctl=$(skiff --format=json cat-object -p "$ctl" | jq -r .content.control) &&
	o="$BUCKET/objects/${ctl:0:2}/${ctl:2}" && mv "$o" "$TRASH/saved" &&
	cd "$TRASH/op2" && expect_exit 4 skiff --format=json fetch &&
	json_is .error.code corrupt_object && grep -q "lacks object $ctl" "$TRASH/out" &&
	mv "$TRASH/saved" "$o" &&
	skiff fetch >/dev/null && skiff --format=json fsck >"$TRASH/out" && json_is .ok true &&
	skiff --format=json control show payments-api | jq -e ".control.settings.POOL == \"69\"" >/dev/null
'

test_expect_success 'a record replaced by an older valid one is a rollback (exit 4)' '
	cd repo && cp "$BUCKET/refs/services/payments-api" "$TRASH/old-record" &&
	skiff control set payments-api POOL=70 >/dev/null && skiff push >/dev/null &&
	cd "$TRASH/op2" && skiff fetch >/dev/null &&
	cp "$TRASH/old-record" "$BUCKET/refs/services/payments-api" &&
	before=$(snapshot .skiff) &&
	expect_exit 4 skiff --format=json fetch && one_json_doc &&
	json_is .error.code rollback && grep -q "refs/services/payments-api" "$TRASH/out" &&
	test "$(snapshot .skiff)" = "$before" &&
	cd "$TRASH/repo" && expect_exit 4 skiff --format=json fetch && json_is .error.code rollback &&
	cp .skiff/refs/services/payments-api "$BUCKET/refs/services/payments-api" &&
	cd "$TRASH/op2" && skiff fetch >/dev/null
'

test_expect_success 'a record signed by a key without the role is refused (exit 4)' '
	mkdir other && skiff --identity ci init other >/dev/null && cd other &&
	skiff --identity ci control set intruder X=1 >/dev/null &&
	skiff push "file://$TRASH/bucket2" >/dev/null &&
	mkdir -p "$BUCKET/refs/services" &&
	cp "$TRASH/bucket2/refs/services/intruder" "$BUCKET/refs/services/intruder" &&
	cp -rn "$TRASH/bucket2/objects/." "$BUCKET/objects/" &&
	cd "$TRASH/op2" && before=$(snapshot .skiff) &&
	expect_exit 4 skiff --format=json fetch && one_json_doc &&
	json_is .error.code role_denied && grep -q intruder "$TRASH/out" &&
	test "$(snapshot .skiff)" = "$before" &&
	expect_exit 7 skiff show-ref refs/services/intruder &&
	rm "$BUCKET/refs/services/intruder"
'

test_expect_success 'a record signed by a key outside the trust policy is refused (exit 4)' '
	skiff keygen mallory >/dev/null && mkdir evil && skiff --identity mallory init evil >/dev/null &&
	cd evil && skiff --identity mallory control set intruder X=1 >/dev/null &&
	skiff push "file://$TRASH/bucket3" >/dev/null &&
	cp "$TRASH/bucket3/refs/services/intruder" "$BUCKET/refs/services/intruder" &&
	cd "$TRASH/op2" && before=$(snapshot .skiff) &&
	expect_exit 4 skiff --format=json fetch && one_json_doc &&
	json_is .error.code bad_signature && grep -q "unknown key" "$TRASH/out" &&
	test "$(snapshot .skiff)" = "$before" &&
	rm "$BUCKET/refs/services/intruder" &&
	cd "$TRASH/evil" && expect_exit 4 skiff --format=json fetch "$URL" &&
	json_is .error.code verification_failed
'

test_expect_success 'a release is pushed once; another release under its version never replaces it' '
	cd repo && head -c 300000 /dev/urandom >app1 &&
	skiff --identity ci release create payments-api --spec "$SPEC" --version 1.0.0 \
		--artifact server=app1 --sign >/dev/null &&
	skiff push origin "refs/releases/*/*" >"$TRASH/text" &&
	grep -q "^created *refs/releases/payments-api/1.0.0" "$TRASH/text" &&
	! grep -q refs/services "$TRASH/text" &&
	cd "$TRASH/op2" && head -c 300000 /dev/urandom >app2 &&
	skiff --identity ci release create payments-api --spec "$SPEC" --version 1.0.0 \
		--artifact server=app2 --sign >/dev/null &&
	before=$(remote_record refs/releases/payments-api/1.0.0) &&
	expect_exit 3 skiff --format=json push && json_is .error.code cas_conflict &&
	json_is ".error.refs | join(\",\")" refs/releases/payments-api/1.0.0 &&
	json_is ".error.report.refs[] | select(.ref == \"refs/releases/payments-api/1.0.0\") | .reason | test(\"never moves\")" true &&
	test "$(remote_record refs/releases/payments-api/1.0.0)" = "$before" &&
	cp -a "$TRASH/base" rel && cd rel && skiff remote add origin "$URL" >/dev/null &&
	skiff fetch >/dev/null &&
	skiff --format=json release verify payments-api 1.0.0 >/dev/null &&
	skiff release extract payments-api 1.0.0 server "$TRASH/got" >/dev/null &&
	cmp "$TRASH/got" "$TRASH/repo/app1"
'

test_expect_success 'remote remove drops the remote-tracking refs too' '
	cd byurl && skiff remote add gone "$URL" >/dev/null && skiff fetch gone >/dev/null &&
	test -d .skiff/refs/remotes/gone &&
	skiff remote remove gone >/dev/null && test ! -e .skiff/refs/remotes/gone &&
	expect_exit 7 skiff fetch gone
'

# One writer: 25 changes of refs/services/race, each pushed; a lost race
# (exit 3) fetches --reset and makes the change again on the new head. A
# push that met another writer's lock on the remote ref lost nothing: the
# fetch finds the local ref ahead, and it is pushed again as it is.
race_writer() {
	local w=$1 i rc tries
	cd "$TRASH/w$w" || return 1
	for i in $(seq 1 25); do
		tries=0
		skiff fetch origin >/dev/null || return 1
		while :; do
			tries=$((tries + 1))
			[ "$tries" -le 500 ] || { echo "writer $w: too many retries" >&2; return 1; }
			skiff --format=json control show race |
				jq -e ".control.settings.K_${w}_$i" >/dev/null ||
				skiff control set race "K_${w}_$i=v" >/dev/null || return 1
			rc=0
			skiff push origin >/dev/null 2>"$TRASH/w$w.err" || rc=$?
			[ "$rc" -eq 0 ] && break
			[ "$rc" -eq 3 ] || { cat "$TRASH/w$w.err" >&2; return 1; }
			skiff fetch --reset origin >/dev/null || return 1
		done
	done
}

test_expect_success '4 writers x 25 compare-and-swap updates of one remote ref: none lost' '
	for w in 1 2 3 4; do
		cp -a base "w$w" && skiff -C "w$w" remote add origin "$URL" >/dev/null || exit 1
	done &&
	pids="" &&
	for w in 1 2 3 4; do race_writer $w & pids="$pids $!"; done &&
	failed=0 && for p in $pids; do wait $p || failed=1; done && test $failed = 0 &&
	cp -a base final && cd final && skiff remote add origin "$URL" >/dev/null &&
	skiff fetch >/dev/null &&
	skiff --format=json control show race >"$TRASH/out" &&
	json_is ".control.settings | length" 100 &&
	for w in 1 2 3 4; do for i in $(seq 1 25); do
		jq -e ".control.settings.K_${w}_$i == \"v\"" "$TRASH/out" >/dev/null || exit 1
	done; done &&
	skiff --format=json verify-ref --chain refs/services/race >"$TRASH/out" &&
	json_is .verified true && json_is .seq 100 && json_is .records_checked 100 &&
	skiff --format=json log refs/services/race | jq -e ".commits | length == 100" >/dev/null &&
	skiff --format=json fsck >"$TRASH/out" && json_is .ok true &&
	test -z "$(find "$BUCKET/refs" -name "*.lock")"
'

test_done
