#!/bin/bash
# skiff-runner --remote URL (a file:// remote: the same contract as s3://,
# no server): the runner reads its service's control, the release and its
# chunks straight from the remote (each record and object verified as it
# arrives; every poll re-reads the remote's records), keeps its state in
# --cache DIR (or under $XDG_CACHE_HOME), and pushes its signed reports to
# the remote, where the operator fetches them. A release change pushed to
# the remote is followed; an object altered on the remote is refused and
# never started; a service record rolled back on the remote is refused
# (reported, exit 4 with --once); AWS_* never reach the workload; a
# runner whose cache fell behind chains its report onto the remote's head;
# --verify-only works on the remote; --cache never takes a repository.
. "$(dirname "$0")/lib.sh"
BUCKET="$TRASH/bucket"
URL="file://$BUCKET"
CACHE="$TRASH/cache"
SECRET=sekrit-not-for-workloads-0451
. "$TEST_SRC/tests/integration/lib-runner.sh"
start_runner() { AWS_SECRET_ACCESS_KEY=$SECRET remote_runner_start "$@"; }
stop_runner() { remote_runner_stop; }
set_release() { remote_set_release "$1"; }
test_cleanup 'r=$(cat "$TRASH/runner.pid"); kill "$r"; sleep 1; kill -9 "$r"'

test_expect_success 'setup: a repository pushed to a file:// remote: trust, releases, control' '
	skiff keygen alice >/dev/null && skiff keygen runner1 >/dev/null &&
	mkdir repo && skiff init repo >/dev/null && cd repo &&
	pub() { skiff --format=json key list | jq -r ".keys[] | select(.name==\"$1\") | .public"; } &&
	skiff --yes trust add-key alice "$(pub alice)" --role release-signer >/dev/null &&
	skiff --yes trust add-key runner1 "$(pub runner1)" --role runner --scope refs/runners/hello/t1 >/dev/null &&
	skiff release create hello --spec "$TEST_SRC/examples/hello.yaml" --version v1 \
		--artifact skiff-example-httpd="$HTTPD" --sign >/dev/null &&
	cp "$HTTPD" v2-httpd && printf "v2 trailer" >>v2-httpd &&
	skiff release create hello --spec "$TEST_SRC/examples/hello.yaml" --version v2 \
		--artifact skiff-example-httpd=v2-httpd --sign >/dev/null &&
	cp "$HTTPD" v3-httpd && printf "v3 trailer" >>v3-httpd &&
	skiff --format=json release create hello --spec "$TEST_SRC/examples/hello.yaml" --version v3 \
		--artifact skiff-example-httpd=v3-httpd --sign >"$TRASH/v3.json" &&
	skiff target add hello t1 --addr 127.0.0.1:$PORT >/dev/null &&
	"$EDIT" . alice hello t1.release=v1 >/dev/null &&
	skiff remote add origin "$URL" >/dev/null && skiff push origin >/dev/null &&
	test -e "$BUCKET/refs/services/hello" && test -e "$BUCKET/refs/releases/hello/v3"
'

test_expect_success 'usage: exactly one of --repo and --remote; --cache needs --remote' '
	expect_exit 2 "$RUNNER" --service hello --target t1 --repo repo --remote "$URL" &&
	expect_exit 2 "$RUNNER" --service hello --target t1 --repo repo --cache "$CACHE" &&
	expect_exit 2 "$RUNNER" --service hello --target t1 &&
	expect_exit 1 "$RUNNER" --service hello --target t1 --remote http://x/y --identity runner1 &&
	expect_exit 1 "$RUNNER" --service ../x --target t1 --remote "$URL" --identity runner1 &&
	test ! -e "$CACHE"
'

test_expect_success 'runner --remote: verifying -> starting -> healthy, reports pushed to the remote' '
	cd repo && start_runner &&
	until_last .state healthy &&
	test "$(states | uniq | tr "\n" " ")" = "verifying:v1 starting:v1 healthy:v1 " &&
	test "$(last .addr)" = 127.0.0.1:$PORT &&
	skiff --format=json log refs/runners/hello/t1 >"$TRASH/out" &&
	json_is "[.records[].signer_name] | unique | join(\",\")" runner1 &&
	skiff verify-ref refs/runners/hello/t1 >/dev/null &&
	test -e "$BUCKET/refs/runners/hello/t1" &&
	curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null
'

test_expect_success 'local state is in --cache only; no credentials reach the workload or disk' '
	test -x "$CACHE/releases/v1/skiff-example-httpd" && test -d "$CACHE/.skiff" &&
	test "$(cat "$CACHE/runner.pid")" = "$(cat "$TRASH/runner.pid")" &&
	test -s "$CACHE/log/workload.jsonl" && test ! -e repo/.skiff/run &&
	cd repo && wpid=$(last .pid) && kill -0 "$wpid" &&
	tr "\0" "\n" </proc/$wpid/environ >"$TRASH/env" && grep -q "^PORT=$PORT$" "$TRASH/env" &&
	! grep -q "AWS_\|$SECRET" "$TRASH/env" &&
	! grep -rq "$SECRET" "$CACHE" "$BUCKET" "$TRASH/runner.log"
'

test_expect_success 'a release change pushed to the remote is followed' '
	cd repo && set_release v2 &&
	cp "$BUCKET/refs/services/hello" "$TRASH/record-v2" &&
	until_last .release v2 && until_last .state healthy &&
	test "$(states | grep ":v2$" | uniq | tr "\n" " ")" = "verifying:v2 starting:v2 healthy:v2 " &&
	test -x "$CACHE/releases/v2/skiff-example-httpd" &&
	skiff --format=json log refs/runners/hello/t1 >"$TRASH/out" &&
	json_is "[.records[].signer_name] | unique | join(\",\")" runner1
'

test_expect_success 'an object altered on the remote is refused and never started; v2 keeps running' '
	cd repo && pid2=$(last .pid) && kill -0 "$pid2" &&
	file=$(jq -r ".artifacts[0].file" "$TRASH/v3.json") &&
	chunk=$(skiff --format=json cat-object -p "$file" | jq -r ".content.chunks[-1].oid") &&
	p="$BUCKET/objects/${chunk:0:2}/${chunk:2}" && test -e "$p" && chmod u+w "$p" &&
	printf "not the chunk" >"$p" &&
	set_release v3 &&
	until_last .state refused-unverified &&
	test "$(last .release)" = v3 && last .reason | grep -q "does not verify" &&
	test ! -e "$CACHE/releases/v3" && test ! -e "$CACHE/.skiff/objects/${chunk:0:2}/${chunk:2}" &&
	kill -0 "$pid2" && curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null &&
	test "$(states | grep ":v3$" | uniq | tr "\n" " ")" = "verifying:v3 refused-unverified:v3 "
'

test_expect_success 'a service record rolled back on the remote is refused; v1 keeps running' '
	cd repo && set_release v1 &&
	until_last .release v1 && until_last .state healthy && pid1=$(last .pid) &&
	cp "$TRASH/record-v2" "$BUCKET/refs/services/hello" && export DIRECT=1 &&
	expect_exit 4 skiff fetch origin && grep -qi "seq" "$TRASH/err" &&
	until_last .state refused-unverified &&
	last .reason | grep -q "control of hello: .*seq" && test "$(last .release)" = v1 &&
	sleep 1 && sync_reports && test "$(last .state)" = refused-unverified &&
	test "$(last .release)" = v1 && kill -0 "$pid1" &&
	test -z "$(states | sed -n "/^refused-unverified:v1$/,\$p" | grep -v ":v1$")"
'

test_expect_success 'SIGTERM: stopped reported; --once on the same cache exits 4 (rollback remembered)' '
	cd repo && export DIRECT=1 && stop_runner &&
	until_last .state stopped && test ! -e "$CACHE/runner.pid" &&
	expect_exit 4 "$RUNNER" --service hello --target t1 --remote "$URL" --cache "$CACHE" \
		--identity runner1 --once &&
	grep -q "seq" "$TRASH/err"
'

test_expect_success 'remote restored by a push: --once with the default cache dir runs v1' '
	cd repo && skiff push origin refs/services/hello >/dev/null &&
	XDG_CACHE_HOME="$TRASH/xdg" expect_exit 0 "$RUNNER" --service hello --target t1 \
		--remote "$URL" --identity runner1 --once --health-interval 100ms &&
	ls -d "$TRASH"/xdg/skiff-runner/u*/hello/t1/releases/v1 &&
	"$RUNNER" --service hello --target t1 --remote "$URL" --cache "$TRASH/vo" --verify-only \
		--release v2 >"$TRASH/out" && json_is .verified true &&
	test -x "$TRASH/vo/releases/v2/skiff-example-httpd" &&
	expect_exit 4 "$RUNNER" --service hello --target t1 --remote "$URL" --cache "$TRASH/vo" \
		--verify-only --release v3 &&
	expect_exit 1 "$RUNNER" --service hello --target t1 --remote "$URL" --cache . \
		--identity runner1 --once && grep -q "not a runner" "$TRASH/err" && test ! -e .skiff/run &&
	sync_reports && test "$(last .state)" = stopped && test "$(last .release)" = v1 &&
	! curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1
'

test_expect_success 'a runner whose cache is behind the remote chains onto the remote head' '
	cd repo && before=$(skiff rev-parse refs/runners/hello/t1) &&
	had=$(states | wc -l) &&
	expect_exit 0 "$RUNNER" --service hello --target t1 --remote "$URL" --cache "$CACHE" \
		--identity runner1 --once --health-interval 100ms &&
	sync_reports && test "$(last .state)" = stopped &&
	test "$(states | sed "1,${had}d" | tr "\n" " ")" = "verifying:v1 starting:v1 healthy:v1 stopped:v1 " &&
	skiff --format=json log refs/runners/hello/t1 | jq -r ".records[].oid" >"$TRASH/oids" &&
	grep -qx "$before" "$TRASH/oids" &&
	n=$(wc -l <"$TRASH/oids") && i=1 &&
	while [ $i -lt "$n" ]; do
		o=$(sed -n "${i}p" "$TRASH/oids") && older=$(sed -n "$((i + 1))p" "$TRASH/oids") &&
		test "$(skiff --format=json cat-object -p "$o" | jq -r .content.prev)" = "$older" ||
			exit 1
		i=$((i + 1))
	done
'

test_done
