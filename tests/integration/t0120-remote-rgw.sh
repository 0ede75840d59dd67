#!/bin/bash
# Remotes on a real S3 server: one throw-away Ceph cluster with radosgw
# (scripts/rgw.sh) for the whole script, stopped on exit. Operators share
# one trust root (cp -a copies of one repository made before any change).
#   - push/fetch round trip of control commits and a signed release with a
#     few MiB artifact; fsck and release verify on the receiver;
#   - the bucket turned against its readers: a tampered object, a record
#     rolled back to an older valid one, a record signed by a key without
#     the role (fetch exits 4 and keeps nothing of it);
#   - 4 writers racing compare-and-swap updates of one remote ref with
#     fetch-and-retry (4 x 100, see RACE_UPDATES): no update lost, the
#     chain complete;
#   - radosgw killed in the middle of a push: no ref ever reaches a missing
#     object, and the rerun completes;
#   - an unreachable endpoint and bad credentials: typed errors that never
#     show the secret;
#   - --direct reads with no local repository: verified, never listing the
#     bucket, 2 requests for a warm rev-parse, refusing to mutate.
# build/tools/s3-driver makes buckets and tampers with their contents.
. "$(dirname "$0")/lib.sh"
DRIVER=$(dirname "$SKIFF_BIN")/tools/s3-driver
KEYS="$XDG_CONFIG_HOME/skiff/keys"
SPEC="$TEST_SRC/examples/payments-api.yaml"
RGW="$TRASH/rgw"
test_cleanup '"$TEST_SRC/scripts/rgw.sh" stop "$RGW"'

# Writers and updates per writer of the compare-and-swap race: the issue's
# 4 x 100. On a loaded 2-core machine that alone takes about 141 s (the
# whole script 3 min 24 s): successes cannot overlap, since each needs a
# fetch, a commit and a push after the one before (about 0.3 s against
# RGW here), and a lost race costs another round (221 attempts per 100
# updates). SKIFF_RACE_UPDATES lowers it for a quick local run.
RACE_WRITERS=4
RACE_UPDATES=${SKIFF_RACE_UPDATES:-100}

test_expect_success 'setup: radosgw, a repository (alice: root, operator; ci: release-signer) and a copy' '
	{ "$TEST_SRC/scripts/rgw.sh" start "$RGW" 2>"$TRASH/rgw.log" ||
		{ cat "$TRASH/rgw.log" >&2; exit 1; }; } &&
	. "$RGW/env" && "$DRIVER" "s3://skiff-t0120?endpoint=$SKIFF_TEST_S3_ENDPOINT" mkbucket >out &&
	setup_repo && cd repo &&
	skiff keygen ci >/dev/null &&
	skiff --identity alice trust add-key ci "$KEYS/ci.pub" --role release-signer \
		--scope "refs/releases/payments-api/*" >/dev/null &&
	cd "$TRASH" && cp -a repo base
'
[ -f "$RGW/env" ] && . "$RGW/env"
EP=${SKIFF_TEST_S3_ENDPOINT:-http://127.0.0.1:1}
URL="s3://skiff-t0120/main?endpoint=$EP"    # the shared remote
SIDE="s3://skiff-t0120/side?endpoint=$EP"   # where an intruder pushes
RACE="s3://skiff-t0120/race?endpoint=$EP"   # the compare-and-swap race
MANY="s3://skiff-t0120/many?endpoint=$EP"   # a ref with many records

s3() { "$DRIVER" "$@"; }
# okey OID: the bucket key of an object.
okey() { echo "objects/${1:0:2}/${1:2}"; }
# local_obj OID: the object's path in the current repository.
local_obj() { echo ".skiff/objects/${1:0:2}/${1:2}"; }
# same_record REF [URL]: the bucket holds exactly the current repository's record of REF.
same_record() {
	s3 "${2:-$URL}" get "$1" "$TRASH/rec" >/dev/null && cmp "$TRASH/rec" ".skiff/${1}"
}
# chunks SERVICE VERSION: the chunk ids of the release's first artifact.
chunks() {
	local f
	f=$(skiff --format=json release show "$1" "$2" | jq -r ".document.artifacts[0].file") &&
		skiff --format=json cat-object -p "$f" | jq -r ".content.chunks[].oid"
}
# closed_port: a loopback port nothing listens on.
closed_port() {
	local port=$(((RANDOM % 20000) + 30000))
	while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
	echo "$port"
}

test_expect_success 'push: commits and a signed release go up, every object they reach with them' '
	cd repo && skiff remote add origin "$URL" >/dev/null &&
	skiff control set payments-api POOL=8 -m first >/dev/null &&
	skiff control set payments-api POOL=16 -m second >/dev/null &&
	head -c 3000000 /dev/urandom >app1 &&
	skiff --identity ci release create payments-api --spec "$SPEC" --version 1.0.0 \
		--artifact server=app1 --sign >/dev/null &&
	test "$(chunks payments-api 1.0.0 | wc -l)" -ge 2 &&
	skiff --format=json push >"$TRASH/out" && one_json_doc &&
	json_is "[.refs[] | select(.ref | startswith(\"refs/operations/\") | not) | .ref + \"=\" + .status] | join(\",\")" \
		"refs/meta/trust=created,refs/releases/payments-api/1.0.0=created,refs/services/payments-api=created" &&
	json_is ".bytes > 3000000" true && json_is ".requests > 0" true &&
	for r in refs/meta/trust refs/releases/payments-api/1.0.0 refs/services/payments-api; do
		same_record $r || exit 1
	done &&
	(cd .skiff && find objects -path "objects/??/*" -type f ! -name "*.tmp*" | sort) >"$TRASH/local" &&
	test "$(wc -l <"$TRASH/local")" -gt 10 &&
	s3 "$URL" list objects/ | jq -r ".keys[]" | sort >"$TRASH/remote" &&
	comm -23 "$TRASH/local" "$TRASH/remote" >"$TRASH/missing" && test ! -s "$TRASH/missing" &&
	skiff --format=json push >"$TRASH/out" && json_is .objects 0 && json_is .bytes 0 &&
	json_is "[.refs[].status] | unique | join(\",\")" up-to-date
'

test_expect_success 'fetch into a copy made before the changes: same state, fsck clean, release verifies' '
	cp -a base op2 && cd op2 && skiff remote add origin "$URL" >/dev/null &&
	skiff --format=json fetch >"$TRASH/out" && one_json_doc &&
	json_is "[.refs[] | select(.ref | startswith(\"refs/operations/\") | not) | .ref + \"=\" + .status] | join(\",\")" \
		"refs/meta/trust=up-to-date,refs/releases/payments-api/1.0.0=fast-forward,refs/services/payments-api=fast-forward" &&
	json_is ".bytes > 3000000" true &&
	for r in refs/releases/payments-api/1.0.0 refs/services/payments-api; do
		test "$(skiff rev-parse $r)" = "$(skiff -C "$TRASH/repo" rev-parse $r)" &&
		same_record $r || exit 1
	done &&
	skiff --format=json fsck >"$TRASH/out" && json_is .ok true && json_is ".problems | length" 0 &&
	skiff --format=json release verify payments-api 1.0.0 >"$TRASH/out" && json_is .verified true &&
	skiff release extract payments-api 1.0.0 server "$TRASH/got" >/dev/null &&
	cmp "$TRASH/got" "$TRASH/repo/app1" &&
	skiff verify-ref --chain refs/services/payments-api >/dev/null &&
	skiff --format=json control show payments-api | jq -e ".control.settings.POOL == \"16\"" >/dev/null &&
	skiff --format=json fetch >"$TRASH/out" && json_is .objects 0 &&
	json_is "[.refs[].status] | unique | join(\",\")" up-to-date
'

test_expect_success 'an object tampered in the bucket: fetch exits 4, nothing of it is stored' '
	cd repo && skiff control set payments-api POOL=17 -m tampered >/dev/null &&
	skiff control set payments-api POOL=18 >/dev/null && skiff push >/dev/null &&
	c=$(skiff --format=json log -n 2 refs/services/payments-api | jq -r ".commits[1].commit") &&
	p=$(skiff --format=json log -n 3 refs/services/payments-api | jq -r ".commits[2].commit") &&
	s3 "$URL" get "$(okey "$c")" "$TRASH/saved" >/dev/null &&
	cp "$(local_obj "$p")" "$TRASH/other" && # a valid object, but not this one
	s3 "$URL" put "$(okey "$c")" "$TRASH/other" >/dev/null &&
	cd "$TRASH/op2" && before=$(cat .skiff/refs/services/payments-api) &&
	expect_exit 4 skiff --format=json fetch && one_json_doc &&
	json_is .error.code corrupt_object && grep -q "$c" "$TRASH/out" &&
	test ! -e "$(local_obj "$c")" &&
	! find .skiff -name "*${c:2}*" | grep -q . &&
	test "$(cat .skiff/refs/services/payments-api)" = "$before" &&
	head -c 3000 /dev/urandom >"$TRASH/garbage" &&
	s3 "$URL" put "$(okey "$c")" "$TRASH/garbage" >/dev/null &&
	expect_exit 4 skiff --format=json fetch && json_is .error.code corrupt_object &&
	test ! -e "$(local_obj "$c")" &&
	s3 "$URL" put "$(okey "$c")" "$TRASH/saved" >/dev/null &&
	skiff --format=json fetch >"$TRASH/out" &&
	json_is ".refs[] | select(.ref == \"refs/services/payments-api\") | .status" fast-forward &&
	test -e "$(local_obj "$c")" &&
	skiff --format=json fsck >"$TRASH/out" && json_is .ok true &&
	skiff --format=json control show payments-api | jq -e ".control.settings.POOL == \"18\"" >/dev/null
'

test_expect_success 'a record replaced by an older valid one: rollback (exit 4) for who saw the newer' '
	cd repo && s3 "$URL" get refs/services/payments-api "$TRASH/old-record" >/dev/null &&
	skiff control set payments-api POOL=19 >/dev/null && skiff push >/dev/null &&
	cd "$TRASH/op2" && skiff fetch >/dev/null &&
	SKIFF_CACHE_DIR="$TRASH/cache-rb" skiff --direct --remote "$URL" \
		rev-parse refs/services/payments-api >/dev/null &&
	s3 "$URL" put refs/services/payments-api "$TRASH/old-record" >/dev/null &&
	before=$(snapshot .skiff) &&
	expect_exit 4 skiff --format=json fetch && one_json_doc &&
	json_is .error.code rollback && grep -q "refs/services/payments-api" "$TRASH/out" &&
	test "$(snapshot .skiff)" = "$before" &&
	SKIFF_CACHE_DIR="$TRASH/cache-rb" expect_exit 4 skiff --format=json --direct \
		--remote "$URL" rev-parse refs/services/payments-api &&
	json_is .error.code rollback &&
	cd "$TRASH/repo" && expect_exit 4 skiff --format=json fetch && json_is .error.code rollback &&
	s3 "$URL" put refs/services/payments-api .skiff/refs/services/payments-api >/dev/null &&
	cd "$TRASH/op2" && skiff fetch >/dev/null
'

test_expect_success 'a record signed by a key without the role: fetch exits 4, nothing kept' '
	cp -a repo evil && cd evil &&
	skiff --identity alice trust add-key ci "$KEYS/ci.pub" --role operator >/dev/null &&
	skiff --identity ci control set intruder X=1 >/dev/null &&
	skiff push "$SIDE" >/dev/null &&
	s3 "$SIDE" list objects/ | jq -r ".keys[]" | sort >"$TRASH/side" &&
	s3 "$URL" list objects/ | jq -r ".keys[]" | sort >"$TRASH/main" &&
	for k in $(comm -23 "$TRASH/side" "$TRASH/main"); do
		s3 "$SIDE" get "$k" "$TRASH/obj" >/dev/null && s3 "$URL" put "$k" "$TRASH/obj" >/dev/null ||
			exit 1
	done &&
	s3 "$SIDE" get refs/services/intruder "$TRASH/rec" >/dev/null &&
	s3 "$URL" put refs/services/intruder "$TRASH/rec" >/dev/null &&
	cd "$TRASH/op2" && before=$(snapshot .skiff) &&
	expect_exit 4 skiff --format=json fetch && one_json_doc &&
	case $(jq -r .error.code "$TRASH/out") in role_denied | bad_signature) ;; *) exit 1 ;; esac &&
	grep -q intruder "$TRASH/out" &&
	test "$(snapshot .skiff)" = "$before" &&
	expect_exit 7 skiff show-ref refs/services/intruder &&
	SKIFF_CACHE_DIR="$TRASH/cache-role" expect_exit 4 skiff --format=json --direct \
		--remote "$URL" rev-parse refs/services/intruder &&
	s3 "$URL" delete refs/services/intruder >/dev/null &&
	skiff --format=json fetch >"$TRASH/out"
'

test_expect_success 'an unreachable endpoint: unreachable (exit 1), the secret never shown' '
	port=$(closed_port) && dead="s3://skiff-t0120/main?endpoint=http://127.0.0.1:$port" &&
	cd op2 && before=$(snapshot .skiff) &&
	expect_exit 1 skiff --format=json fetch "$dead" && one_json_doc &&
	json_is .error.code unreachable && grep -q "127.0.0.1:$port" "$TRASH/out" &&
	! grep -qF "$AWS_SECRET_ACCESS_KEY" "$TRASH/out" "$TRASH/err" &&
	expect_exit 1 skiff --format=json push "$dead" && json_is .error.code unreachable &&
	expect_exit 1 skiff fetch "$dead" && test ! -s "$TRASH/out" &&
	grep -q "127.0.0.1:$port" "$TRASH/err" && ! grep -qF "$AWS_SECRET_ACCESS_KEY" "$TRASH/err" &&
	cd "$TRASH" && mkdir -p nowhere && cd nowhere &&
	SKIFF_CACHE_DIR="$TRASH/cache-dead" expect_exit 1 skiff --format=json --direct \
		--remote "$dead" rev-parse refs/services/payments-api &&
	json_is .error.code unreachable &&
	test "$(snapshot "$TRASH/op2/.skiff")" = "$before"
'

test_expect_success 'bad credentials: auth_failed (exit 1), the secret never shown' '
	cd op2 && before=$(snapshot .skiff) && secret=wrong-secret-Zq81x &&
	AWS_SECRET_ACCESS_KEY=$secret expect_exit 1 skiff --format=json fetch && one_json_doc &&
	json_is .error.code auth_failed && ! grep -qF "$secret" "$TRASH/out" "$TRASH/err" &&
	AWS_SECRET_ACCESS_KEY=$secret expect_exit 1 skiff --format=json push &&
	json_is .error.code auth_failed && ! grep -qF "$secret" "$TRASH/out" "$TRASH/err" &&
	jq -r .error.hint "$TRASH/out" | grep -qF "$EP" &&
	AWS_SECRET_ACCESS_KEY=$secret expect_exit 1 skiff fetch &&
	grep -q "access denied" "$TRASH/err" && grep -q "^hint: .*AWS_SECRET_ACCESS_KEY" "$TRASH/err" &&
	! grep -qF "$secret" "$TRASH/err" &&
	AWS_ACCESS_KEY_ID=NOSUCHKEY expect_exit 1 skiff --format=json fetch &&
	json_is .error.code auth_failed && ! grep -qF "$AWS_SECRET_ACCESS_KEY" "$TRASH/out" &&
	AWS_SECRET_ACCESS_KEY=$secret SKIFF_CACHE_DIR="$TRASH/cache-auth" expect_exit 1 \
		skiff --format=json --direct --remote "$URL" rev-parse refs/services/payments-api &&
	json_is .error.code auth_failed && ! grep -qF "$secret" "$TRASH/out" "$TRASH/err" &&
	test "$(snapshot .skiff)" = "$before"
'

# direct ARGS: a --direct read of the shared remote, JSON, from an empty
# directory (no repository anywhere above it: $TRASH has none).
direct() { (cd "$TRASH/empty" && skiff --format=json --direct --remote "$URL" "$@"); }

test_expect_success '--direct with no local repository: show-ref, rev-parse, cat-object, log, verify-ref, release verify' '
	mkdir empty && export SKIFF_CACHE_DIR="$TRASH/cache-d1" &&
	direct show-ref >"$TRASH/out" && one_json_doc &&
	json_is "[.refs[].ref | select(startswith(\"refs/operations/\") | not)] | join(\",\")" \
		"refs/meta/trust,refs/releases/payments-api/1.0.0,refs/services/payments-api" &&
	c=$(skiff -C repo rev-parse refs/services/payments-api) &&
	json_is ".refs[] | select(.ref == \"refs/services/payments-api\") | .oid" "$c" &&
	direct rev-parse refs/services/payments-api >"$TRASH/out" && json_is .oid "$c" &&
	direct cat-object -p "$c" >"$TRASH/out" && json_is .type commit &&
	skiff -C repo --format=json cat-object -p "$c" >"$TRASH/mine" &&
	test "$(jq -cS .content "$TRASH/out")" = "$(jq -cS .content "$TRASH/mine")" &&
	direct log refs/services/payments-api >"$TRASH/out" &&
	skiff -C repo --format=json log refs/services/payments-api >"$TRASH/mine" &&
	json_is "[.commits[].commit] | join(\",\")" "$(jq -r "[.commits[].commit] | join(\",\")" "$TRASH/mine")" &&
	json_is ".commits | length" 5 &&
	direct verify-ref --chain refs/services/payments-api >"$TRASH/out" &&
	json_is .verified true && json_is .records_checked 5 &&
	direct release verify payments-api 1.0.0 >"$TRASH/out" && json_is .verified true &&
	direct show "$c" >"$TRASH/out" && json_is .control.document.settings.POOL 19 &&
	test -z "$(ls -A empty)"
'

# Not asserted below, reported to the lead: `--direct cat-object ID` and
# `--direct show ID` of a tampered object exit 7 ("object … not found")
# instead of 4, because sk_plumbing_resolve (plumbing/rev-parse.c) checks a
# full id with sk_odb_exists (objects/odb.c), which drops the miss
# handler's corrupt_object. Reads through a ref (below) exit 4.
test_expect_success '--direct: a tampered chunk or commit in the bucket exits 4, nothing of it cached' '
	cd repo && chunk=$(chunks payments-api 1.0.0 | head -1) && k=$(okey "$chunk") &&
	s3 "$URL" get "$k" "$TRASH/saved" >/dev/null &&
	head -c 3000 /dev/urandom >"$TRASH/garbage" && s3 "$URL" put "$k" "$TRASH/garbage" >/dev/null &&
	export SKIFF_CACHE_DIR="$TRASH/cache-t1" &&
	expect_exit 4 direct release verify payments-api 1.0.0 && one_json_doc &&
	json_is .error.code corrupt_object && grep -q "$chunk" "$TRASH/out" &&
	json_is ".error.requests > 0" true &&
	test -z "$(find "$SKIFF_CACHE_DIR" -path "*/objects/*" -name "*${chunk:2}*")" &&
	s3 "$URL" put "$k" "$TRASH/saved" >/dev/null &&
	direct release verify payments-api 1.0.0 >"$TRASH/out" && json_is .verified true &&
	c=$(skiff rev-parse refs/services/payments-api) &&
	s3 "$URL" get "$(okey "$c")" "$TRASH/saved" >/dev/null &&
	s3 "$URL" put "$(okey "$c")" "$TRASH/garbage" >/dev/null &&
	export SKIFF_CACHE_DIR="$TRASH/cache-t2" &&
	for cmd in "log refs/services/payments-api" "rev-parse refs/services/payments-api" \
		"show refs/services/payments-api" "verify-ref refs/services/payments-api"; do
		expect_exit 4 direct $cmd && one_json_doc || exit 1
	done &&
	test -z "$(find "$SKIFF_CACHE_DIR" -path "*/objects/*" -name "*${c:2}*")" &&
	s3 "$URL" put "$(okey "$c")" "$TRASH/saved" >/dev/null &&
	direct log refs/services/payments-api >"$TRASH/out" && json_is ".commits | length" 5
'

test_expect_success '--direct refuses mutating commands (exit 2) and writes nothing to the bucket' '
	s3 "$URL" list "" | jq -r ".keys[]" >"$TRASH/keys-before" &&
	export SKIFF_CACHE_DIR="$TRASH/cache-d1" &&
	c=$(skiff -C repo rev-parse refs/services/payments-api) &&
	for cmd in "control set payments-api POOL=1" "update-ref refs/services/x $c" push fetch \
		"release sign payments-api 1.0.0" "trust add-key x $KEYS/ci.pub --role operator" \
		"remote add o $URL" init; do
		expect_exit 2 direct $cmd && one_json_doc && json_is .error.code usage || exit 1
	done &&
	s3 "$URL" list "" | jq -r ".keys[]" >"$TRASH/keys-after" &&
	cmp "$TRASH/keys-before" "$TRASH/keys-after"
'

test_expect_success '--direct rev-parse of a ref with 200 records: 2 requests on a warm cache, no listing' '
	cp -a base many && cd many &&
	for i in $(seq 1 200); do skiff control set busy "N=$i" >/dev/null || exit 1; done &&
	skiff push "$MANY" >/dev/null && c=$(skiff rev-parse refs/services/busy) &&
	cd "$TRASH/empty" && export SKIFF_CACHE_DIR="$TRASH/cache-many" &&
	skiff --format=json --direct --remote "$MANY" rev-parse refs/services/busy >"$TRASH/out" &&
	json_is .oid "$c" &&
	skiff --format=json --direct --remote "$MANY" rev-parse refs/services/busy >"$TRASH/out" &&
	json_is .oid "$c" && json_is ".requests <= 2" true &&
	skiff --format=json --direct --remote "$MANY" verify-ref refs/services/busy >"$TRASH/out" &&
	json_is .seq 200 && json_is ".requests <= 2" true &&
	cd "$TRASH/many" && skiff control set busy N=201 >/dev/null && skiff push "$MANY" >/dev/null &&
	c=$(skiff rev-parse refs/services/busy) && cd "$TRASH/empty" &&
	# the ref moved: its new target is read once (rev-parse checks the
	# target is present), never the chain
	skiff --format=json --direct --remote "$MANY" rev-parse refs/services/busy >"$TRASH/out" &&
	json_is .oid "$c" && json_is ".requests <= 3" true &&
	skiff --format=json --direct --remote "$MANY" rev-parse refs/services/busy >"$TRASH/out" &&
	json_is .oid "$c" && json_is ".requests <= 2" true
'

# One writer: RACE_UPDATES changes of refs/services/race (K_<w> counts
# them, each commit's message names it), each pushed (the service ref only:
# the race is about it, and each change's operation ref would make every
# later push and fetch longer); a lost race (exit 3)
# fetches --reset and makes the change again on the new head. A control
# holds at most 256 settings, so updates are not one setting each: the
# log's messages prove that none was lost.
race_writer() {
	local w=$1 i rc tries
	cd "$TRASH/w$w" || return 1
	for i in $(seq 1 $RACE_UPDATES); do
		tries=0
		skiff fetch origin >/dev/null 2>"$TRASH/w$w.err" || { cat "$TRASH/w$w.err" >&2; return 1; }
		while :; do
			tries=$((tries + 1))
			[ "$tries" -le 500 ] || { echo "writer $w: too many retries" >&2; return 1; }
			skiff control set race "K_$w=$i" -m "w$w-$i" >/dev/null || return 1
			rc=0
			skiff push origin refs/services/race >/dev/null 2>"$TRASH/w$w.err" || rc=$?
			[ "$rc" -eq 0 ] && break
			[ "$rc" -eq 3 ] || { cat "$TRASH/w$w.err" >&2; return 1; }
			skiff fetch --reset origin >/dev/null 2>"$TRASH/w$w.err" ||
				{ cat "$TRASH/w$w.err" >&2; return 1; }
		done
	done
}

test_expect_success "$RACE_WRITERS writers x $RACE_UPDATES compare-and-swap updates of one remote ref: none lost" '
	total=$((RACE_WRITERS * RACE_UPDATES)) &&
	for w in $(seq 1 $RACE_WRITERS); do
		cp -a base "w$w" && skiff -C "w$w" remote add origin "$RACE" >/dev/null || exit 1
	done &&
	pids="" &&
	for w in $(seq 1 $RACE_WRITERS); do race_writer $w & pids="$pids $!"; done &&
	failed=0 && for p in $pids; do wait $p || failed=1; done && test $failed = 0 &&
	cp -a base final && cd final && skiff remote add origin "$RACE" >/dev/null &&
	skiff fetch >/dev/null &&
	skiff --format=json control show race >"$TRASH/out" &&
	json_is ".control.settings | length" $RACE_WRITERS &&
	json_is "[.control.settings[]] | unique | join(\",\")" $RACE_UPDATES &&
	for w in $(seq 1 $RACE_WRITERS); do for i in $(seq 1 $RACE_UPDATES); do
		echo "w$w-$i"
	done; done | sort >"$TRASH/want" &&
	skiff --format=json log refs/services/race | jq -r ".commits[].message" | sort >"$TRASH/got" &&
	cmp "$TRASH/want" "$TRASH/got" &&
	skiff --format=json verify-ref --chain refs/services/race >"$TRASH/out" &&
	json_is .verified true && json_is .seq $total && json_is .records_checked $total &&
	skiff --format=json log refs/services/race | jq -e ".commits | length == $total" >/dev/null &&
	skiff --format=json fsck >"$TRASH/out" && json_is .ok true
'

# check_bucket URL: every ref in the bucket reaches only objects that are
# there and verify, read with --direct through a fresh cache: records
# (verify-ref --chain), releases (release verify: every chunk), service
# commits and their controls. Fails saying which read failed.
check_bucket() {
	local url=$1 cache ref v o
	cache=$(mktemp -d "$TRASH/cache-check.XXXXXX")
	# q ARGS: one --direct command; its output in $cache/out
	q() {
		SKIFF_CACHE_DIR="$cache" skiff --format=json --direct --remote "$url" "$@" \
			>"$cache/out" 2>&1 && return 0
		echo "$url: $* failed: $(cat "$cache/out")"
		return 1
	}
	s3 "$url" list refs/ >"$cache/refs" || { echo "cannot list $url"; return 1; }
	for ref in $(jq -r ".keys[]" "$cache/refs"); do
		q verify-ref --chain "$ref" || return 1
		case $ref in
		refs/releases/*/*)
			v=${ref#refs/releases/}
			q release verify "${v%%/*}" "${v#*/}" || return 1
			;;
		refs/services/*)
			q log "$ref" || return 1
			for o in $(jq -r ".commits[].control" "$cache/out"); do
				q cat-object -t "$o" || return 1
			done
			;;
		*)
			q cat-object -t "$(jq -r .oid "$cache/out")" || return 1
			;;
		esac
	done
	rm -rf "$cache"
}

# check_loop STOPFILE PID: check_bucket over and over until STOPFILE exists
# (or PID, the test, is gone). $TRASH/epoch says "N up" or "N down"; a
# check that began while radosgw was down or saw the epoch change proves
# nothing either way and is dropped. Each other check appends its status
# to $TRASH/checks and any failure to $TRASH/violations.
check_loop() {
	local e rc
	while [ ! -e "$1" ] && kill -0 "$2" 2>/dev/null; do
		e=$(cat "$TRASH/epoch")
		case $e in *up) ;; *) sleep 0.1 && continue ;; esac
		rc=0
		check_bucket "$URL" >"$TRASH/check.out" 2>&1 || rc=1
		[ "$(cat "$TRASH/epoch")" = "$e" ] || continue
		echo $rc >>"$TRASH/checks"
		cat "$TRASH/check.out" >>"$TRASH/violations"
	done
}

test_expect_success 'radosgw killed in the middle of a push: no ref ever reaches a missing object' '
	cd repo && head -c $((48 << 20)) /dev/urandom >app2 &&
	skiff --identity ci release create payments-api --spec "$SPEC" --version 2.0.0 \
		--artifact server=app2 --sign >/dev/null &&
	n=$(chunks payments-api 2.0.0 | wc -l) && test "$n" -ge 20 &&
	check_bucket "$URL" && : >"$TRASH/violations" && : >"$TRASH/checks" &&
	echo "0 up" >"$TRASH/epoch" &&
	base_count=$(s3 "$URL" list objects/ | jq ".keys | length") &&
	me=$BASHPID && { check_loop "$TRASH/stop" $me & checker=$!; } &&
	# one transfer at a time: the push lasts long enough to be cut short
	{ skiff --format=json push --jobs 1 >"$TRASH/push1" 2>&1 & pusher=$!; } &&
	# kill radosgw as soon as the push has stored its first new object
	while kill -0 $pusher 2>/dev/null; do
		now=$(s3 --attempts 1 "$URL" list objects/ | jq ".keys | length") || break
		[ "$now" -le "$base_count" ] || break
		sleep 0.05
	done &&
	echo "1 down" >"$TRASH/epoch" && "$TEST_SRC/scripts/rgw.sh" kill-rgw "$RGW" &&
	if kill -0 $pusher 2>/dev/null; then w=while; else w=after; fi &&
	echo "radosgw was killed $w the push ran" >"$TRASH/kill-note" &&
	# the push ends while radosgw is down (its retries give up), so the
	# bucket is left as a push cut short leaves it
	rc=0 && { wait $pusher || rc=$?; } && echo "that push exited $rc" >>"$TRASH/kill-note" &&
	{ test $rc = 0 || { test $rc = 1 && json_is .error.code unreachable "$TRASH/push1"; }; } &&
	"$TEST_SRC/scripts/rgw.sh" start-rgw "$RGW" && echo "2 up" >"$TRASH/epoch" &&
	check_bucket "$URL" &&
	skiff --format=json push >"$TRASH/out" &&
	if [ $rc = 0 ]; then want=up-to-date; else want=created; fi &&
	json_is ".refs[] | select(.ref == \"refs/releases/payments-api/2.0.0\") | .status" $want &&
	json_is "[.refs[] | select(.status == \"conflict\")] | length" 0 &&
	check_bucket "$URL" &&
	# one more conclusive check by the loop, then stop it (bounded: 2 min)
	n0=$(wc -l <"$TRASH/checks") && i=0 &&
	while [ "$(wc -l <"$TRASH/checks")" -le "$n0" ] && [ $i -lt 1200 ]; do
		sleep 0.1; i=$((i + 1))
	done &&
	touch "$TRASH/stop" && wait $checker &&
	echo "$(wc -l <"$TRASH/checks") conclusive checks ran beside it" >>"$TRASH/kill-note" &&
	{ test ! -s "$TRASH/violations" || { cat "$TRASH/violations" >&2 && false; }; } &&
	test "$(wc -l <"$TRASH/checks")" -gt "$n0" && ! grep -qv "^0$" "$TRASH/checks" &&
	SKIFF_CACHE_DIR="$TRASH/cache-k" direct release verify payments-api 2.0.0 >"$TRASH/out" &&
	json_is .verified true &&
	cd "$TRASH/op2" && skiff fetch >/dev/null &&
	skiff --format=json release verify payments-api 2.0.0 >"$TRASH/out" && json_is .verified true &&
	skiff release extract payments-api 2.0.0 server "$TRASH/got2" >/dev/null &&
	cmp "$TRASH/got2" "$TRASH/repo/app2" &&
	skiff --format=json fsck >"$TRASH/out" && json_is .ok true
'
# Where the kill landed depends on timing, never on correctness; say it.
[ -f "$TRASH/kill-note" ] && sed 's/^/# /' "$TRASH/kill-note"

test_done
