#!/bin/bash
# skiff-runner: follows control, verifies and materializes the release,
# starts and probes the workload, captures its log, and writes signed
# reports (verifying -> starting -> healthy); refuses a tampered artifact
# or an unsafe tar and never starts it (the old release keeps running);
# gives up after repeated crashes; stops gracefully on SIGTERM; --once
# exit codes. Reports are read back with skiff log / cat-object.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/tests/integration/lib-runner.sh"
RUN=.skiff/run/hello/t1
start_runner() {
	"$RUNNER" --service hello --target t1 --repo . --identity runner1 --poll 100ms \
		--health-interval 100ms --report-interval 100ms --max-restarts 3 "$@" \
		>>"$TRASH/runner.log" 2>&1 &
	echo $! >"$TRASH/runner.pid"
}
stop_runner() { kill "$(cat "$TRASH/runner.pid")" 2>/dev/null; wait "$(cat "$TRASH/runner.pid")" 2>/dev/null; }
# A runner left by a failed test: SIGTERM stops its workload's group too.
test_cleanup 'r=$(cat "$TRASH/runner.pid"); kill "$r"; sleep 1; kill -9 "$r"'

test_expect_success 'setup: keys, a runner key scoped to hello/t1, releases, a target' '
	skiff keygen alice >/dev/null && skiff keygen runner1 >/dev/null &&
	mkdir repo && skiff init repo >/dev/null && cd repo &&
	pub() { skiff --format=json key list | jq -r ".keys[] | select(.name==\"$1\") | .public"; } &&
	skiff --yes trust add-key alice "$(pub alice)" --role release-signer >/dev/null &&
	skiff --yes trust add-key runner1 "$(pub runner1)" --role runner --scope refs/runners/hello/t1 >/dev/null &&
	skiff release create hello --spec "$TEST_SRC/examples/hello.yaml" --version v1 \
		--artifact skiff-example-httpd="$HTTPD" --sign >/dev/null &&
	cp "$HTTPD" v2-httpd && printf "v2 trailer" >>v2-httpd &&
	skiff --format=json release create hello --spec "$TEST_SRC/examples/hello.yaml" --version v2 \
		--artifact skiff-example-httpd=v2-httpd --sign >"$TRASH/v2.json" &&
	sed "s/EXAMPLE_LATENCY_MS: \"0\"/EXAMPLE_CRASH_AT_START: \"1\"/" \
		"$TEST_SRC/examples/hello.yaml" >crash.yaml && grep -q CRASH crash.yaml &&
	skiff release create hello --spec crash.yaml --version vcrash \
		--artifact skiff-example-httpd="$HTTPD" --sign >/dev/null &&
	python3 -c "
import io, tarfile
t = tarfile.open(\"evil.tar\", \"w\")
for name in (\"ok.txt\", \"../escaped.txt\"):
    i = tarfile.TarInfo(name); i.size = 2; t.addfile(i, io.BytesIO(b\"hi\"))
t.close()" &&
	skiff release create hello --spec "$TEST_SRC/examples/hello.yaml" --version vtar \
		--artifact evil.tar=evil.tar --sign >/dev/null &&
	skiff target add hello t1 --addr 127.0.0.1:$PORT >/dev/null &&
	"$EDIT" . alice hello t1.release=v1 >/dev/null
'

test_expect_success 'the runner refuses to run without its runner key' '
	cd repo &&
	expect_exit 1 env -u SKIFF_IDENTITY "$RUNNER" --service hello --target t1 --repo . --once &&
	grep -q "runner key" "$TRASH/err" &&
	expect_exit 2 "$RUNNER" --service hello --repo .
'

test_expect_success 'runner: verifying -> starting -> healthy, signed by the runner key' '
	cd repo && start_runner &&
	until_last .state healthy &&
	test "$(states | uniq | tr "\n" " ")" = "verifying:v1 starting:v1 healthy:v1 " &&
	test "$(last .release)" = v1 && test "$(last .addr)" = 127.0.0.1:$PORT &&
	test "$(last .restarts)" = 0 &&
	skiff --format=json log refs/runners/hello/t1 >"$TRASH/out" &&
	json_is "[.records[].signer_name] | unique | join(\",\")" runner1 &&
	curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null &&
	test -d $RUN/releases/v1 && test -x $RUN/releases/v1/skiff-example-httpd &&
	test "$(cat $RUN/runner.pid)" = "$(cat "$TRASH/runner.pid")"
'

test_expect_success 'the workload log is captured as JSON lines and counted' '
	cd repo &&
	until_last ".logs.lines >= 1" true &&
	head -1 $RUN/log/workload.jsonl >"$TRASH/out" &&
	json_is .release v1 && json_is .stream stdout && json_is .target t1 &&
	json_is ".line | test(\"listening\")" true &&
	test "$(last ".logs.patterns[0].pattern")" = "error: injected failure"
'

test_expect_success 'a tampered artifact is refused and never started; v1 keeps running' '
	cd repo &&
	pid1=$(last .pid) && kill -0 "$pid1" &&
	file=$(jq -r ".artifacts[0].file" "$TRASH/v2.json") &&
	skiff --format=json cat-object -p "$file" | jq -r ".content.chunks[-1].oid" >"$TRASH/chunk" &&
	chunk=$(cat "$TRASH/chunk") &&
	p=.skiff/objects/${chunk:0:2}/${chunk:2} && chmod u+w "$p" &&
	v1file=$(skiff --format=json cat-object -p "$(skiff rev-parse refs/releases/hello/v1)" | jq -r .content.release) &&
	other=$(skiff --format=json cat-object -p "$v1file" | jq -r .content.artifacts[0].file) &&
	cp ".skiff/objects/${other:0:2}/${other:2}" "$p" &&
	"$EDIT" . alice hello t1.release=v2 >/dev/null &&
	until_last .state refused-unverified &&
	test "$(last .release)" = v2 && last .reason | grep -q "hash mismatch\|chunk\|artifact" &&
	test ! -e $RUN/releases/v2 && ! ls -a $RUN/releases | grep -q "^\.tmp" &&
	kill -0 "$pid1" && curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null &&
	test "$(states | grep ":v2$" | uniq | tr "\n" " ")" = "verifying:v2 refused-unverified:v2 "
'

test_expect_success 'an unsafe tar is refused as a whole and nothing is written outside' '
	cd repo &&
	"$EDIT" . alice hello t1.release=vtar >/dev/null &&
	until_last .release vtar && until_last .state refused-unverified &&
	last .reason | grep -q "leaves the tree" &&
	test ! -e $RUN/releases/vtar && test ! -e $RUN/releases/escaped.txt &&
	test ! -e $RUN/escaped.txt
'

test_expect_success 'a crashing release: crashed, restarts with backoff, gives up after 3' '
	cd repo &&
	"$EDIT" . alice hello t1.release=vcrash >/dev/null &&
	until_last .reason "gave up after 3 crashes (last: exited with status 1)" &&
	test "$(last .state)" = crashed && test "$(last .restarts)" = 2 &&
	test "$(last .pid)" = null
'

test_expect_success 'SIGTERM: the workload is stopped, "stopped" reported, exit 0' '
	cd repo &&
	old=$(cat "$TRASH/runner.pid") && kill "$old" &&
	i=0 && while kill -0 "$old" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done &&
	"$EDIT" . alice hello t1.release=v1 >/dev/null &&
	start_runner && runner=$(cat "$TRASH/runner.pid") &&
	until_last .release v1 && until_last .state healthy &&
	wpid=$(last .pid) && kill -0 "$wpid" &&
	kill -TERM "$runner" && rc=0 && { wait "$runner" || rc=$?; } &&
	test "$rc" = 0 &&
	test "$(last .state)" = stopped && test "$(last .pid)" = null &&
	! kill -0 "$wpid" 2>/dev/null && test ! -e $RUN/runner.pid &&
	! curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1
'

test_expect_success '--once: 0 when healthy (and stopped after), 4 when refused' '
	cd repo &&
	expect_exit 0 "$RUNNER" --service hello --target t1 --repo . --identity runner1 --once \
		--health-interval 100ms &&
	test "$(last .state)" = stopped &&
	! curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 &&
	"$EDIT" . alice hello t1.release=v2 >/dev/null &&
	expect_exit 4 "$RUNNER" --service hello --target t1 --repo . --identity runner1 --once &&
	test "$(last .state)" = refused-unverified
'

test_expect_success '--verify-only prints the timing; a tampered release exits 4' '
	cd repo &&
	"$RUNNER" --service hello --target t1 --repo . --identity runner1 --verify-only \
		--release v1 >"$TRASH/out" &&
	json_is .verified true && json_is ".ms >= 0" true &&
	expect_exit 4 "$RUNNER" --service hello --target t1 --repo . --identity runner1 \
		--verify-only --release v2
'

test_done
