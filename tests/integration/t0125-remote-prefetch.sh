#!/bin/bash
# fetch of a long history from S3 (radosgw, scripts/rgw.sh). A record
# chain comes one round trip per link; past 16 links fetch lists the
# bucket once (16 listings side by side, one per first hex digit of the
# ids) and takes the small objects it lacks in parallel. Checked on
# radosgw's own request log: the listings happen; every object is
# downloaded once, but for the at most 15 records read one by one before
# the listing (held in memory, not stored yet, so listed as missing); what
# arrives this way is verified like anything else (a tampered commit or
# record deep in the chain exits 4 and is not stored); --direct never
# lists. Also sk_s3_list_many, the listings side by side, page by page
# (s3-driver list P1 P2 ...).
. "$(dirname "$0")/lib.sh"
DRIVER=$(dirname "$SKIFF_BIN")/tools/s3-driver
KEYS="$XDG_CONFIG_HOME/skiff/keys"
SPEC="$TEST_SRC/examples/payments-api.yaml"
RGW="$TRASH/rgw"
LOG="$RGW/log/client.rgw.a.log"
COMMITS=40
test_cleanup '"$TEST_SRC/scripts/rgw.sh" stop "$RGW"'

test_expect_success 'setup: radosgw; a repository with 40 commits and a signed release, pushed' '
	{ "$TEST_SRC/scripts/rgw.sh" start "$RGW" 2>"$TRASH/rgw.log" ||
		{ cat "$TRASH/rgw.log" >&2; exit 1; }; } &&
	. "$RGW/env" && "$DRIVER" "s3://skiff-t0125?endpoint=$SKIFF_TEST_S3_ENDPOINT" mkbucket >out &&
	setup_repo && cd repo && skiff keygen ci >/dev/null &&
	skiff --identity alice trust add-key ci "$KEYS/ci.pub" --role release-signer \
		--scope "refs/releases/payments-api/*" >/dev/null &&
	cd "$TRASH" && cp -a repo base && cd repo &&
	for i in $(seq 1 $COMMITS); do skiff control set busy "N=$i" >/dev/null || exit 1; done &&
	head -c 3000000 /dev/urandom >app.bin &&
	skiff --identity ci release create payments-api --spec "$SPEC" --version 1.0.0 \
		--artifact server=app.bin --sign >/dev/null &&
	skiff push "s3://skiff-t0125/main?endpoint=$SKIFF_TEST_S3_ENDPOINT" >/dev/null
'
[ -f "$RGW/env" ] && . "$RGW/env"
EP=${SKIFF_TEST_S3_ENDPOINT:-http://127.0.0.1:1}
URL="s3://skiff-t0125/main?endpoint=$EP"

s3() { "$DRIVER" "$@"; }
okey() { echo "objects/${1:0:2}/${1:2}"; }
local_obj() { echo ".skiff/objects/${1:0:2}/${1:2}"; }
# log_mark: where radosgw's log ends now.
log_mark() { wc -l <"$LOG"; }
# settle: waits until radosgw has logged every request answered so far (a
# request of its own, logged after them, shows up).
settle() {
	local key i
	key="settle-$RANDOM$RANDOM"
	s3 "$URL" head "$key" >/dev/null 2>&1 || true
	for i in $(seq 1 100); do
		grep -q "$key" "$LOG" && return 0
		sleep 0.1
	done
	echo "radosgw never logged $key" >&2
	return 1
}
# requests_since MARK REGEX: the requests logged after MARK matching REGEX.
requests_since() { tail -n +$(($1 + 1)) "$LOG" | grep " beast: " | grep -E "$2" || true; }
# object_files DIR: the object ids stored in a repository.
object_files() { (cd "$1/.skiff/objects" && find . -type f ! -name "*.tmp*" | sed "s|^\./||; s|/||" | sort); }

test_expect_success 's3-driver list P1 P2 P3: each listing apart, in order, page by page side by side' '
	s3 "$URL" fill lm/a/ 5 >out && s3 "$URL" fill lm/b/ 3 >out &&
	s3 --page 2 "$URL" list lm/a/ lm/b/ lm/c/ >out && one_json_doc &&
	json_is "[.lists[] | length] | join(\",\")" 5,3,0 &&
	json_is ".lists[0] | join(\",\")" lm/a/00000,lm/a/00001,lm/a/00002,lm/a/00003,lm/a/00004 &&
	json_is ".lists[1] | join(\",\")" lm/b/00000,lm/b/00001,lm/b/00002 &&
	json_is .requests 6 &&
	s3 --page 2 "$URL" list lm/ >out && json_is ".keys | length" 8 && json_is .requests 4
'

test_expect_success "fetch of $COMMITS records: 16 listings of objects/, each object downloaded once" '
	cp -a base op && cd op && mark=$(log_mark) &&
	skiff --format=json fetch "$URL" >"$TRASH/out" && one_json_doc && settle &&
	for r in refs/services/busy refs/releases/payments-api/1.0.0; do
		test "$(skiff rev-parse $r)" = "$(skiff -C "$TRASH/repo" rev-parse $r)" || exit 1
	done &&
	skiff --format=json fsck >"$TRASH/out" && json_is .ok true &&
	skiff --format=json release verify payments-api 1.0.0 >"$TRASH/out" && json_is .verified true &&
	test "$(object_files .)" = "$(object_files "$TRASH/repo")" &&
	requests_since $mark "list-type=2[^ ]*prefix=main%2Fobjects%2F[0-9a-f] " >"$TRASH/lists" &&
	test "$(wc -l <"$TRASH/lists")" -eq 16 &&
	requests_since $mark "\"GET /skiff-t0125/main/objects/" >"$TRASH/gets" &&
	sed "s|.*\"GET /skiff-t0125/main/objects/\([^ ]*\) .*|\1|" "$TRASH/gets" | sort >"$TRASH/keys" &&
	uniq -d "$TRASH/keys" >"$TRASH/keys.dup" && test "$(wc -l <"$TRASH/keys.dup")" -le 15 &&
	while read -r k; do
		test "$(skiff cat-object -t "${k%%/*}${k#*/}")" = refrecord || exit 1
	done <"$TRASH/keys.dup" &&
	# what fetch stored = what it downloaded + the head records (read from
	# refs/; the listing may have taken a copy too, the bucket holds them)
	comm -13 <(object_files "$TRASH/base") <(object_files .) >"$TRASH/new" &&
	{ uniq "$TRASH/keys" | tr -d /; for r in refs/services/busy refs/releases/payments-api/1.0.0 \
			$(skiff --format=json show-ref "refs/operations/*" | jq -r ".refs[].ref"); do
		skiff --format=json log --records -n 1 $r | jq -r ".records[0].record" || exit 1
	done; } | sort -u >"$TRASH/got" &&
	test "$(cat "$TRASH/got")" = "$(cat "$TRASH/new")"
'

test_expect_success 'a commit tampered deep in the chain (prefetched): fetch exits 4, nothing of it stored' '
	cd repo &&
	c=$(skiff --format=json log -n 30 refs/services/busy | jq -r ".commits[29].commit") &&
	p=$(skiff --format=json log -n 31 refs/services/busy | jq -r ".commits[30].commit") &&
	s3 "$URL" get "$(okey "$c")" "$TRASH/saved" >/dev/null &&
	s3 "$URL" put "$(okey "$c")" "$(local_obj "$p")" >/dev/null &&
	cd "$TRASH" && rm -rf op3 && cp -a base op3 && cd op3 &&
	expect_exit 4 skiff --format=json fetch "$URL" && one_json_doc &&
	json_is .error.code corrupt_object && grep -q "$c" "$TRASH/out" &&
	test ! -e "$(local_obj "$c")" && expect_exit 7 skiff rev-parse refs/services/busy &&
	s3 "$URL" put "$(okey "$c")" "$TRASH/saved" >/dev/null &&
	skiff fetch "$URL" >/dev/null && test -e "$(local_obj "$c")"
'

test_expect_success 'a record tampered deep in the chain (prefetched): fetch exits 4, nothing of it stored' '
	cd repo &&
	skiff --format=json log --records -n 31 refs/services/busy >"$TRASH/recs" &&
	rec=$(jq -r ".records[29].record" "$TRASH/recs") &&
	other=$(jq -r ".records[30].record" "$TRASH/recs") &&
	s3 "$URL" get "$(okey "$rec")" "$TRASH/saved" >/dev/null &&
	s3 "$URL" put "$(okey "$rec")" "$(local_obj "$other")" >/dev/null &&
	cd "$TRASH" && rm -rf op4 && cp -a base op4 && cd op4 &&
	expect_exit 4 skiff --format=json fetch "$URL" && one_json_doc &&
	json_is .error.code corrupt_object && grep -q "$rec" "$TRASH/out" &&
	test ! -e "$(local_obj "$rec")" && expect_exit 7 skiff rev-parse refs/services/busy &&
	s3 "$URL" put "$(okey "$rec")" "$TRASH/saved" >/dev/null &&
	skiff fetch "$URL" >/dev/null && test -e "$(local_obj "$rec")"
'

test_expect_success 'a fetch with a short chain to walk lists nothing; --direct never lists' '
	cd repo && skiff control set busy N=done >/dev/null && skiff push "$URL" >/dev/null &&
	cd "$TRASH/op" && mark=$(log_mark) && skiff fetch "$URL" >/dev/null &&
	mkdir -p "$TRASH/empty" && cd "$TRASH/empty" && export SKIFF_CACHE_DIR="$TRASH/cache" &&
	skiff --direct --remote "$URL" rev-parse refs/services/busy >/dev/null &&
	skiff --direct --remote "$URL" log refs/services/busy >/dev/null &&
	skiff --direct --remote "$URL" verify-ref --chain refs/services/busy >/dev/null &&
	settle && requests_since $mark "list-type=2[^ ]*prefix=main%2Fobjects" >"$TRASH/lists" &&
	test ! -s "$TRASH/lists"
'

test_done
