#!/bin/bash
# skiff-runner --remote against a real S3 server (scripts/rgw.sh: radosgw
# on loopback, started and stopped by this script): the runner reads
# control, the release and its chunks from the bucket and pushes its
# signed reports there; a release change is followed; a chunk altered in
# the bucket is refused and never started; a service record rolled back
# in the bucket is refused; the S3 secret (AWS_* from the environment)
# never reaches the workload, the log or the cache. The file:// twin of
# this script is t0151-runner-remote.sh.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/tests/integration/lib-runner.sh"
DRIVER=$BIN/tools/s3-driver
RGW="$TRASH/rgw"
CACHE="$TRASH/cache"
export SKIFF_IDENTITY=alice
test_cleanup '"$TEST_SRC/scripts/rgw.sh" stop "$RGW"'

test_expect_success 'setup: radosgw, a bucket' '
	{ "$TEST_SRC/scripts/rgw.sh" start "$RGW" 2>"$TRASH/rgw.log" ||
		{ cat "$TRASH/rgw.log" >&2; exit 1; }; } &&
	. "$RGW/env" && "$DRIVER" "s3://skiff-t0152?endpoint=$SKIFF_TEST_S3_ENDPOINT" mkbucket >out
'
[ -f "$RGW/env" ] && . "$RGW/env"
URL="s3://skiff-t0152/main?endpoint=${SKIFF_TEST_S3_ENDPOINT:-http://127.0.0.1:1}"
s3() { "$DRIVER" "$URL" "$@"; }

start_runner() { remote_runner_start "$@"; }
stop_runner() { remote_runner_stop; }
set_release() { remote_set_release "$1"; }
test_cleanup 'r=$(cat "$TRASH/runner.pid"); kill "$r"; sleep 1; kill -9 "$r"'

test_expect_success 'setup: a repository pushed to the bucket: trust, releases, control' '
	skiff keygen alice >/dev/null && skiff keygen runner1 >/dev/null &&
	mkdir repo && skiff init repo >/dev/null && cd repo &&
	pub() { skiff --format=json key list | jq -r ".keys[] | select(.name==\"$1\") | .public"; } &&
	skiff --yes trust add-key alice "$(pub alice)" --role release-signer >/dev/null &&
	skiff --yes trust add-key runner1 "$(pub runner1)" --role runner --scope refs/runners/hello/t1 >/dev/null &&
	for v in v1 v2 v3; do
		cp "$HTTPD" $v-httpd && printf "$v trailer" >>$v-httpd &&
		skiff --format=json release create hello --spec "$TEST_SRC/examples/hello.yaml" \
			--version $v --artifact skiff-example-httpd=$v-httpd --sign >"$TRASH/$v.json" ||
			exit 1
	done &&
	skiff target add hello t1 --addr 127.0.0.1:$PORT >/dev/null &&
	"$EDIT" . alice hello t1.release=v1 >/dev/null &&
	skiff remote add origin "$URL" >/dev/null && skiff push origin >/dev/null
'

test_expect_success 'runner --remote s3://: healthy, reports in the bucket; the secret stays out' '
	cd repo && start_runner &&
	until_last .state healthy &&
	test "$(states | uniq | tr "\n" " ")" = "verifying:v1 starting:v1 healthy:v1 " &&
	skiff --format=json log refs/runners/hello/t1 >"$TRASH/out" &&
	json_is "[.records[].signer_name] | unique | join(\",\")" runner1 &&
	skiff verify-ref refs/runners/hello/t1 >/dev/null &&
	test -x "$CACHE/releases/v1/skiff-example-httpd" && test ! -e .skiff/run &&
	wpid=$(last .pid) && tr "\0" "\n" </proc/$wpid/environ >"$TRASH/env" &&
	grep -q "^PORT=$PORT$" "$TRASH/env" && ! grep -q "AWS_" "$TRASH/env" &&
	test -n "$AWS_SECRET_ACCESS_KEY" &&
	! grep -rqF "$AWS_SECRET_ACCESS_KEY" "$CACHE" "$TRASH/runner.log"
'

test_expect_success 'a release change pushed to the bucket is followed' '
	cd repo && set_release v2 && s3 get refs/services/hello "$TRASH/record-v2" >/dev/null &&
	until_last .release v2 && until_last .state healthy &&
	test "$(states | grep ":v2$" | uniq | tr "\n" " ")" = "verifying:v2 starting:v2 healthy:v2 "
'

test_expect_success 'a chunk altered in the bucket is refused and never started' '
	cd repo && pid2=$(last .pid) &&
	file=$(jq -r ".artifacts[0].file" "$TRASH/v3.json") &&
	chunk=$(skiff --format=json cat-object -p "$file" | jq -r ".content.chunks[-1].oid") &&
	printf "not the chunk" >"$TRASH/garbage" &&
	s3 put "objects/${chunk:0:2}/${chunk:2}" "$TRASH/garbage" >/dev/null &&
	set_release v3 &&
	until_last .state refused-unverified &&
	test "$(last .release)" = v3 && last .reason | grep -q "does not verify" &&
	test ! -e "$CACHE/releases/v3" && kill -0 "$pid2" &&
	curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null
'

test_expect_success 'a service record rolled back in the bucket is refused; v1 keeps running' '
	cd repo && set_release v1 &&
	until_last .release v1 && until_last .state healthy && pid1=$(last .pid) &&
	s3 put refs/services/hello "$TRASH/record-v2" >/dev/null && export DIRECT=1 &&
	until_last .state refused-unverified &&
	last .reason | grep -q "control of hello: .*seq" && test "$(last .release)" = v1 &&
	kill -0 "$pid1" && stop_runner && until_last .state stopped
'

test_done
