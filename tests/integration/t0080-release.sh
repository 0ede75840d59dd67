#!/bin/bash
# release create: spec compiled into a `release` object, artifacts stored
# as chunked `file` objects with deduplication, conflicts on an existing
# release ref, and bad input that stores nothing at all.
. "$(dirname "$0")/lib.sh"
SPEC="$TEST_SRC/examples/payments-api.yaml"
# Large enough that one small edit touches a few chunks of many (chunks
# are 256 KiB..4 MiB, so an edit rewrites at most two: 8 MiB).
BIG=$((16 << 20))

# Objects in the store: bad input must not add any (not even chunk blobs).
count_objects() { find .skiff/objects -type f ! -name 'incoming.tmp.*' | wc -l; }

test_expect_success 'setup' '
	setup_repo && cd repo &&
	head -c $BIG /dev/urandom >app.bin &&
	printf "listen: 8080\n" >app.conf
'

test_expect_success 'create: JSON names the release, each artifact and the bytes stored' '
	cd repo &&
	refs_before=$(snapshot .skiff/refs) &&
	skiff --format=json release create payments-api --spec "$SPEC" --version 1.0.0 \
		--artifact app=app.bin --artifact conf=app.conf >"$TRASH/out" &&
	one_json_doc &&
	json_is ".release | test(\"^[0-9a-f]{64}$\")" true &&
	json_is .service payments-api && json_is .version 1.0.0 &&
	json_is "[.artifacts[].name] | join(\",\")" app,conf &&
	json_is ".artifacts[0].size" $BIG &&
	json_is ".artifacts[0].sha256" "$(sha256sum app.bin | cut -d" " -f1)" &&
	json_is ".artifacts[1].sha256" "$(sha256sum app.conf | cut -d" " -f1)" &&
	json_is ".artifacts[0].chunks >= 1" true &&
	json_is "[.artifacts[] | .bytes_new + .bytes_deduplicated == .size] | all" true &&
	json_is ".bytes_new + .bytes_deduplicated" $((BIG + 13)) &&
	json_is ".bytes_new" $((BIG + 13)) &&
	test "$(snapshot .skiff/refs)" = "$refs_before" &&
	cp "$TRASH/out" "$TRASH/r1.json"
'

test_expect_success 'the release object is a release naming the artifacts and file ids' '
	cd repo &&
	rel=$(jq -r .release "$TRASH/r1.json") &&
	test "$(skiff cat-object -t $rel)" = release &&
	skiff --format=json cat-object -p $rel >"$TRASH/out" &&
	json_is .content.service payments-api && json_is .content.version 1.0.0 &&
	json_is .content.run.port 8080 && json_is .content.health.interval_ms 10000 &&
	json_is "[.content.artifacts[].name] | join(\",\")" app,conf &&
	json_is ".content.artifacts[0].file" "$(jq -r ".artifacts[0].file" "$TRASH/r1.json")" &&
	json_is ".content.artifacts[1].file" "$(jq -r ".artifacts[1].file" "$TRASH/r1.json")" &&
	json_is ".content.source.commit" null
'

test_expect_success 'each file object lists its chunks and the whole digest' '
	cd repo &&
	for i in 0 1; do
		f=$(jq -r ".artifacts[$i].file" "$TRASH/r1.json") &&
		test "$(skiff cat-object -t $f)" = file &&
		skiff --format=json cat-object -p $f >"$TRASH/out" &&
		json_is .content.sha256 "$(jq -r ".artifacts[$i].sha256" "$TRASH/r1.json")" &&
		json_is .content.size "$(jq -r ".artifacts[$i].size" "$TRASH/r1.json")" &&
		json_is "[.content.chunks[].size] | add" "$(jq -r ".artifacts[$i].size" "$TRASH/r1.json")" &&
		json_is ".content.chunks | length" "$(jq -r ".artifacts[$i].chunks" "$TRASH/r1.json")" &&
		c=$(jq -r ".content.chunks[0].oid" "$TRASH/out") &&
		test "$(skiff cat-object -t $c)" = blob || exit 1
	done
'

test_expect_success 'create writes no ref' '
	cd repo &&
	expect_exit 7 skiff show-ref "refs/releases/**"
'

test_expect_success 'text output: aligned lines ending with the next step' '
	cd repo &&
	skiff release create payments-api --spec "$SPEC" --version 1.0.0-text \
		--artifact conf=app.conf >"$TRASH/out" &&
	grep -q "^release   [0-9a-f]\{64\}$" "$TRASH/out" &&
	grep -q "^artifact  conf" "$TRASH/out" &&
	tail -1 "$TRASH/out" | grep -q "^next: skiff release sign payments-api 1.0.0-text"
'

test_expect_success 'a slightly changed artifact is mostly deduplicated' '
	cd repo &&
	cp app.bin app2.bin &&
	printf "changed in the middle" | dd of=app2.bin bs=1 seek=$((BIG / 2)) conv=notrunc 2>/dev/null &&
	skiff --format=json release create payments-api --spec "$SPEC" --version 1.0.1 \
		--artifact app=app2.bin --artifact conf=app.conf \
		--source-commit 0123456789abcdef0123456789abcdef01234567 >"$TRASH/out" &&
	json_is ".artifacts[0].sha256" "$(sha256sum app2.bin | cut -d" " -f1)" &&
	json_is ".artifacts[0].bytes_deduplicated > 0" true &&
	json_is ".artifacts[0].bytes_new <= 8388608" true &&
	json_is ".artifacts[0].bytes_deduplicated >= $BIG - 8388608" true &&
	json_is ".artifacts[1].bytes_new" 0 &&
		rel=$(jq -r .release "$TRASH/out") &&
	skiff --format=json cat-object -p $rel >"$TRASH/out" &&
	json_is .content.source.commit 0123456789abcdef0123456789abcdef01234567
'

# bad_input EXIT ARGS...: fails unless `release create ARGS` exits EXIT
# and neither a ref nor any object (release, file or chunk) appears.
bad_input() {
	local want=$1 refs objs
	shift
	refs=$(snapshot .skiff/refs) && objs=$(count_objects) &&
	expect_exit "$want" skiff --format=json release create "$@" &&
	one_json_doc &&
	test "$(snapshot .skiff/refs)" = "$refs" &&
	test "$(count_objects)" = "$objs" ||
	{ echo "bad_input $want $*: objects $objs -> $(count_objects)" >&2; return 1; }
}

test_expect_success 'a spec error names the file, line and key path; nothing stored' '
	cd repo &&
	sed "s/^  port: 8080/  prot: 8080/" "$SPEC" >bad.yaml &&
	head -c 100000 /dev/urandom >fresh.bin &&
	bad_input 1 payments-api --spec bad.yaml --version 2.0.0 --artifact app=fresh.bin &&
	json_is .error.code invalid_input &&
	line=$(grep -n "^  prot:" bad.yaml | cut -d: -f1) &&
	json_is ".error.message | test(\"^bad.yaml:$line:[0-9]+: run\")" true &&
	json_is ".error.message | test(\"prot\")" true &&
	printf "service: payments-api\nrun: {command: /bin/x, port: 99999}\nhealth: {path: /h}\n" >bad2.yaml &&
	bad_input 1 payments-api --spec bad2.yaml --version 2.0.0 --artifact app=fresh.bin &&
	json_is ".error.message | test(\"bad2.yaml:2:.*run.port\")" true
'

test_expect_success 'bad versions, names and sources are refused before storing anything' '
	cd repo &&
	for v in "1/2" "a b" ".." "-x" ".hidden" ""; do
		bad_input 1 payments-api --spec "$SPEC" --version "$v" --artifact app=fresh.bin &&
		json_is .error.code invalid_input || exit 1
	done &&
	bad_input 1 payments-api --spec "$SPEC" --version 2.0.0 \
		--artifact app=fresh.bin --artifact app=app.conf &&
	json_is ".error.message | test(\"twice\")" true &&
	bad_input 1 payments-api --spec "$SPEC" --version 2.0.0 --artifact "a/b=fresh.bin" &&
	bad_input 1 other-svc --spec "$SPEC" --version 2.0.0 --artifact app=fresh.bin &&
	json_is ".error.message | test(\"payments-api\")" true &&
	bad_input 1 payments-api --spec "$SPEC" --version 2.0.0 --artifact app=fresh.bin \
		--source-commit XYZ &&
	bad_input 1 payments-api --spec "$SPEC" --version 2.0.0 --artifact app=fresh.bin \
		--source-commit 0123456789ABCDEF0123456789ABCDEF01234567
'

test_expect_success 'usage errors exit 2' '
	cd repo &&
	bad_input 2 payments-api --spec "$SPEC" --version 2.0.0 --artifact fresh.bin &&
	json_is .error.code usage &&
	bad_input 2 payments-api --spec "$SPEC" --version 2.0.0 --artifact app= &&
	bad_input 2 payments-api --version 2.0.0 --artifact app=fresh.bin &&
	bad_input 2 payments-api --spec "$SPEC" --artifact app=fresh.bin &&
	bad_input 2 --spec "$SPEC" --version 2.0.0 &&
	bad_input 2 payments-api extra --spec "$SPEC" --version 2.0.0 &&
	bad_input 2 payments-api --spec "$SPEC" --version 2.0.0 --bogus
'

test_expect_success 'missing, directory and unreadable artifacts are named; nothing stored' '
	cd repo &&
	bad_input 7 payments-api --spec "$SPEC" --version 2.0.0 \
		--artifact app=fresh.bin --artifact conf=nope.conf &&
	json_is .error.code not_found &&
	json_is ".error.message | test(\"conf.*nope.conf\")" true &&
	mkdir -p somedir &&
	bad_input 1 payments-api --spec "$SPEC" --version 2.0.0 \
		--artifact app=fresh.bin --artifact dir=somedir &&
	json_is ".error.message | test(\"somedir is a directory\")" true &&
	bad_input 7 payments-api --spec nope.yaml --version 2.0.0 --artifact app=fresh.bin &&
	json_is ".error.message | test(\"nope.yaml\")" true &&
	bad_input 1 payments-api --spec somedir --version 2.0.0 --artifact app=fresh.bin &&
	head -c 70000 /dev/zero | tr "\0" "#" >huge.yaml &&
	bad_input 1 payments-api --spec huge.yaml --version 2.0.0 --artifact app=fresh.bin &&
	if [ "$(id -u)" -ne 0 ]; then
		cp fresh.bin locked.bin && chmod 000 locked.bin &&
		bad_input 1 payments-api --spec "$SPEC" --version 2.0.0 \
			--artifact app=fresh.bin --artifact locked=locked.bin &&
		json_is ".error.message | test(\"locked.bin\")" true
	fi
'

test_expect_success 'a version that already has a release ref is a conflict (exit 3)' '
	cd repo &&
	skiff keygen ci >/dev/null &&
	skiff --identity alice trust add-key ci "$XDG_CONFIG_HOME/skiff/keys/ci.pub" \
		--role release-signer --scope "refs/releases/payments-api/*" >/dev/null &&
	rel=$(jq -r .release "$TRASH/r1.json") &&
	skiff --identity ci update-ref refs/releases/payments-api/1.0.0 $rel --create >/dev/null &&
	bad_input 3 payments-api --spec "$SPEC" --version 1.0.0 --artifact app=fresh.bin &&
	json_is .error.code already_exists &&
	json_is ".error.message | test(\"refs/releases/payments-api/1.0.0\")" true
'

test_expect_success 'extract by release id writes the artifact byte for byte' '
	cd repo &&
	rel=$(jq -r .release "$TRASH/r1.json") &&
	mkdir -p "$TRASH/x" &&
	skiff --format=json release extract ${rel:0:12} app "$TRASH/x/app.out" >"$TRASH/out" &&
	json_is .release $rel && json_is .name app && json_is .size $BIG &&
	json_is .sha256 "$(sha256sum app.bin | cut -d" " -f1)" &&
	cmp app.bin "$TRASH/x/app.out" &&
	skiff release extract $rel conf "$TRASH/x/app.conf" | grep -q "^extracted conf" &&
	cmp app.conf "$TRASH/x/app.conf"
'

test_expect_success 'extract never overwrites; unknown names and non-releases are refused' '
	cd repo &&
	rel=$(jq -r .release "$TRASH/r1.json") &&
	f=$(jq -r ".artifacts[1].file" "$TRASH/r1.json") &&
	printf keep >"$TRASH/x/keep" &&
	expect_exit 3 skiff --format=json release extract $rel app "$TRASH/x/keep" &&
	json_is .error.code already_exists &&
	test "$(cat "$TRASH/x/keep")" = keep &&
	expect_exit 7 skiff --format=json release extract $rel nope "$TRASH/x/nope" &&
	json_is ".error.artifacts | join(\",\")" app,conf &&
	expect_exit 1 skiff release extract $f conf "$TRASH/x/nope" &&
	expect_exit 1 skiff release extract refs/releases/payments-api/1.0.0 app "$TRASH/x/nope" &&
	expect_exit 2 skiff release extract $rel app &&
	test ! -e "$TRASH/x/nope"
'

test_expect_success 'extract with a missing chunk fails (exit 4) and leaves nothing behind' '
	cd repo &&
	head -c 3000000 /dev/urandom >solo.bin &&
	skiff --format=json release create payments-api --spec "$SPEC" --version 3.0.0 \
		--artifact solo=solo.bin >"$TRASH/out" &&
	rel=$(jq -r .release "$TRASH/out") && f=$(jq -r ".artifacts[0].file" "$TRASH/out") &&
	skiff --format=json cat-object -p $f >"$TRASH/out" &&
	c=$(jq -r ".content.chunks | last | .oid" "$TRASH/out") &&
	mv .skiff/objects/${c:0:2}/${c:2} "$TRASH/chunk.saved" &&
	mkdir -p "$TRASH/y" &&
	expect_exit 4 skiff --format=json release extract $rel solo "$TRASH/y/solo.out" &&
	json_is ".error.message | test(\"$c\")" true &&
	test -z "$(ls -A "$TRASH/y")" &&
	mv "$TRASH/chunk.saved" .skiff/objects/${c:0:2}/${c:2} &&
	skiff release extract $rel solo "$TRASH/y/solo.out" >/dev/null &&
	cmp solo.bin "$TRASH/y/solo.out"
'

test_expect_success 'fsck is clean' '
	cd repo &&
	skiff --format=json fsck >"$TRASH/out" &&
	json_is .ok true
'

test_done
