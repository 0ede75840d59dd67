#!/bin/bash
# The S3 client (remote-s3/) against a real radosgw started by
# scripts/rgw.sh: object round trips, conditional writes (If-None-Match: *,
# If-Match with RGW's unquoted ETags and the fallback from the quoted
# form), paged listings, parallel batches over kept-alive connections,
# typed errors for bad credentials and an unreachable endpoint, retries
# across a radosgw restart. Driven through build/tools/s3-driver, which
# prints one JSON document with "requests" and exits with the code's status.
. "$(dirname "$0")/lib.sh"
DRIVER=$(dirname "$SKIFF_BIN")/tools/s3-driver
RGW="$TRASH/rgw"
test_cleanup '"$TEST_SRC/scripts/rgw.sh" stop "$RGW"'

s3() { "$DRIVER" "$@"; }

test_expect_success 'radosgw starts and writes a sourceable env file' '
	{ "$TEST_SRC/scripts/rgw.sh" start "$RGW" 2>"$TRASH/rgw.log" ||
		{ cat "$TRASH/rgw.log" >&2; exit 1; }; } &&
	test "$(stat -c %a "$RGW/env")" = 600 &&
	. "$RGW/env" && test -n "$SKIFF_TEST_S3_ENDPOINT" && test -n "$AWS_ACCESS_KEY_ID"
'
[ -f "$RGW/env" ] && . "$RGW/env"
URL="s3://skiff-test/team/prod?endpoint=${SKIFF_TEST_S3_ENDPOINT:-http://127.0.0.1:1}"
ROOT="s3://skiff-test?endpoint=${SKIFF_TEST_S3_ENDPOINT:-http://127.0.0.1:1}"

test_expect_success 'the secret is in no log of the cluster' '
	! grep -rqF "$AWS_SECRET_ACCESS_KEY" "$RGW/log" "$TRASH/rgw.log"
'

test_expect_success 'bucket creation, twice (the second is a no-op)' '
	s3 "$URL" mkbucket >out && json_is .requests 1 &&
	s3 "$URL" mkbucket >out
'

test_expect_success 'put, get, head and delete round trip binary bytes' '
	head -c 100000 /dev/urandom >blob &&
	s3 "$URL" put objects/ab/cd blob >out && one_json_doc &&
	etag=$(jq -r .etag out) && test "$etag" = "$(md5sum <blob | cut -d" " -f1)" &&
	s3 "$URL" get objects/ab/cd got >out && cmp blob got &&
	json_is .etag "$etag" && json_is .size 100000 && json_is .requests 1 &&
	s3 "$URL" head objects/ab/cd >out && json_is .etag "$etag" && json_is .size 100000 &&
	s3 "$URL" delete objects/ab/cd >out &&
	expect_exit 7 s3 "$URL" get objects/ab/cd got && json_is .error.code not_found &&
	expect_exit 7 s3 "$URL" head objects/ab/cd && json_is .error.code not_found &&
	s3 "$URL" delete objects/ab/cd >out
'

test_expect_success 'keys live under the URL prefix' '
	echo hi >hi && s3 "$URL" put where/am-i hi >out &&
	s3 "$ROOT" get team/prod/where/am-i got >out && cmp hi got
'

test_expect_success 'a GET over the size cap is too_large (exit 4)' '
	head -c 5000 /dev/zero >five && s3 "$URL" put five five >out &&
	expect_exit 4 s3 --max 4999 "$URL" get five got && json_is .error.code too_large &&
	s3 --max 5000 "$URL" get five got >out
'

test_expect_success 'If-None-Match: * creates once, then conflicts (exit 3)' '
	echo one >one && echo two >two &&
	s3 "$URL" put refs/releases/api/1.0 one --if-absent >out &&
	expect_exit 3 s3 "$URL" put refs/releases/api/1.0 two --if-absent &&
	json_is .error.code cas_conflict && json_is .requests 1 &&
	s3 "$URL" get refs/releases/api/1.0 got >out && cmp one got
'

test_expect_success 'If-Match moves a ref from the etag read, a stale etag conflicts' '
	e1=$(s3 "$URL" put refs/services/api one | jq -r .etag) &&
	s3 "$URL" put refs/services/api two --if-match "$e1" >out && json_is .requests 1 &&
	e2=$(jq -r .etag out) && test "$e2" != "$e1" &&
	expect_exit 3 s3 "$URL" put refs/services/api one --if-match "$e1" &&
	json_is .error.code cas_conflict &&
	s3 "$URL" get refs/services/api got >out && cmp two got &&
	expect_exit 3 s3 "$URL" put refs/services/absent one --if-match "$e1"
'

test_expect_success 'a client that starts with the quoted If-Match form switches for RGW' '
	e=$(s3 "$URL" put refs/services/q one | jq -r .etag) &&
	s3 --etag-form quoted "$URL" put refs/services/q two --if-match "$e" >out &&
	json_is .requests 3 &&
	s3 "$URL" get refs/services/q got >out && cmp two got &&
	expect_exit 3 s3 --etag-form quoted "$URL" put refs/services/q one --if-match "$e" &&
	json_is .error.code cas_conflict
'

test_expect_success 'listing follows continuation tokens (small pages)' '
	s3 "$URL" fill page/ 25 >out && json_is .ok 25 &&
	s3 --page 7 "$URL" list page/ >out &&
	json_is ".keys | length" 25 && json_is .requests 4 &&
	json_is ".keys[0]" page/00000 && json_is ".keys[24]" page/00024 &&
	json_is ".keys == (.keys | sort)" true &&
	s3 "$URL" list page/0001 >out && json_is ".keys | length" 10 &&
	s3 "$URL" list nothing-here/ >out && json_is ".keys | length" 0
'

test_expect_success 'listing more than 1000 keys takes two pages' '
	s3 --jobs 32 "$URL" fill many/ 1100 >out && json_is .ok 1100 &&
	s3 "$URL" list many/ >out && json_is ".keys | length" 1100 && json_is .requests 2
'

test_expect_success '100 parallel puts and gets, one request each' '
	s3 --jobs 16 "$URL" fill par/ 100 >out && json_is .ok 100 && json_is .requests 100 &&
	s3 --jobs 16 "$URL" check par/ 100 >out && json_is .ok 100 && json_is .requests 100 &&
	s3 --jobs 1 "$URL" check par/ 10 >out && json_is .ok 10
'

test_expect_success 'a wrong secret is auth_failed (exit 1), and the secret is not shown' '
	AWS_SECRET_ACCESS_KEY=wrong-secret-123 expect_exit 1 s3 "$URL" get par/00001 got &&
	one_json_doc && json_is .error.code auth_failed &&
	grep -q SignatureDoesNotMatch out && json_is .requests 1 &&
	jq -r .error.hint out | grep -q "$SKIFF_TEST_S3_ENDPOINT" &&
	! grep -q wrong-secret-123 out err
'

test_expect_success 'an unknown access key is auth_failed, missing ones name the variables' '
	AWS_ACCESS_KEY_ID=NOSUCHKEY expect_exit 1 s3 "$URL" get par/00001 got &&
	json_is .error.code auth_failed && grep -q InvalidAccessKeyId out &&
	(unset AWS_ACCESS_KEY_ID; expect_exit 1 s3 "$URL" head par/00001) &&
	json_is .error.code auth_failed && json_is .requests 0 &&
	jq -r .error.hint out | grep -q AWS_ACCESS_KEY_ID
'

test_expect_success 'an unreachable endpoint is unreachable (exit 1) after bounded retries' '
	port=$(( (RANDOM % 20000) + 30000 )) &&
	while (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$((port + 1)); done &&
	expect_exit 1 s3 --attempts 3 --backoff 10 "s3://b-k?endpoint=http://127.0.0.1:$port" \
		get k got &&
	json_is .error.code unreachable && json_is .requests 3 &&
	jq -r .error.hint out | grep -q "http://127.0.0.1:$port"
'

test_expect_success 'a bad URL is refused before any request' '
	expect_exit 1 s3 "s3://skiff-test?endpont=http://x" head k &&
	json_is .error.code invalid_input && json_is .requests 0
'

test_expect_success 'requests retry across a radosgw restart' '
	"$TEST_SRC/scripts/rgw.sh" kill-rgw "$RGW" &&
	expect_exit 1 s3 --attempts 2 --backoff 10 "$URL" check par/ 4 &&
	json_is .error.code unreachable &&
	{ s3 --attempts 40 --backoff 200 "$URL" check par/ 20 >out 2>err & pid=$!; } &&
	sleep 1 && # not an assertion: lets the driver fail a few attempts first
	"$TEST_SRC/scripts/rgw.sh" start-rgw "$RGW" &&
	wait $pid && json_is .ok 20 && json_is ".requests > 20" true
'

test_expect_success 'stop leaves no daemon of the cluster running' '
	"$TEST_SRC/scripts/rgw.sh" stop "$RGW" &&
	! grep -qs -- "$RGW/ceph[.]conf" /proc/[0-9]*/cmdline
'

test_done
