#!/bin/bash
# release create --sign, release sign without --release (the pending
# index), release show, release list, release extract SERVICE VERSION,
# and the example spec. Every refusal leaves the repository as it was.
. "$(dirname "$0")/lib.sh"
SPEC="$TEST_SRC/examples/payments-api.yaml"
KEYS="$XDG_CONFIG_HOME/skiff/keys"

count_objects() { find .skiff/objects -type f ! -name 'incoming.tmp.*' | wc -l; }

# unchanged CMD...: CMD must leave .skiff exactly as it was (objects,
# refs and the pending index); its exit status is CMD's.
unchanged() {
	local before rc=0
	before=$(snapshot .skiff)
	"$@" || rc=$?
	if [ "$(snapshot .skiff)" != "$before" ]; then
		echo "unchanged: $* changed .skiff" >&2
		return 99
	fi
	return $rc
}

# The chunk ids of artifact $2 of the release printed in JSON file $1.
last_chunk() {
	skiff --format=json cat-object -p "$(jq -r ".artifacts[$2].file" "$1")" |
		jq -r ".content.chunks | last | .oid"
}

test_expect_success 'setup: ci signs payments-api, other signs other, ops operates' '
	setup_repo && cd repo &&
	head -c 3000000 /dev/urandom >app.bin &&
	printf "listen: 8080\n" >app.conf &&
	sed "s/^service: payments-api/service: other/" "$SPEC" >other.yaml &&
	skiff keygen ci >/dev/null && skiff keygen other >/dev/null && skiff keygen ops >/dev/null &&
	skiff --identity alice trust add-key ci "$KEYS/ci.pub" \
		--role release-signer --scope "refs/releases/payments-api/*" >/dev/null &&
	skiff --identity alice trust add-key other "$KEYS/other.pub" \
		--role release-signer --scope "refs/releases/other/*" >/dev/null &&
	skiff --identity alice trust add-key ops "$KEYS/ops.pub" --role operator >/dev/null
'

# --- release create --sign ------------------------------------------------

test_expect_success 'create --sign creates and signs in one command' '
	cd repo &&
	skiff --identity ci --format=json release create payments-api --spec "$SPEC" \
		--version 1.0.0 --artifact app=app.bin --artifact conf=app.conf --sign >"$TRASH/out" &&
	one_json_doc && cp "$TRASH/out" "$TRASH/r100.json" &&
	json_is .signed true && json_is .signature.signer_name ci &&
	json_is .signature.ref refs/releases/payments-api/1.0.0 &&
	json_is ".signature.time > 0" true &&
	sig=$(jq -r .signature.oid "$TRASH/out") &&
	test "$(skiff rev-parse refs/releases/payments-api/1.0.0)" = $sig &&
	skiff --format=json release verify payments-api 1.0.0 >"$TRASH/out" &&
	json_is .release "$(jq -r .release "$TRASH/r100.json")" && json_is .signer_name ci &&
	test ! -e .skiff/pending/releases/payments-api/1.0.0
'

test_expect_success 'create --sign text names the signer and the next step' '
	cd repo &&
	skiff --identity ci release create payments-api --spec "$SPEC" --version 1.0.0-t \
		--artifact conf=app.conf --sign >"$TRASH/out" &&
	grep -q "^signed    by ci (" "$TRASH/out" &&
	grep -q "^ref       refs/releases/payments-api/1.0.0-t$" "$TRASH/out" &&
	tail -1 "$TRASH/out" | grep -q "^next: skiff release verify payments-api 1.0.0-t$"
'

test_expect_success 'create of an existing version is a conflict (exit 3); nothing stored' '
	cd repo &&
	head -c 100000 /dev/urandom >fresh.bin &&
	unchanged expect_exit 3 skiff --identity ci --format=json release create payments-api \
		--spec "$SPEC" --version 1.0.0 --artifact app=fresh.bin --sign &&
	json_is .error.code already_exists &&
	json_is ".error.message | test(\"refs/releases/payments-api/1.0.0\")" true &&
	unchanged expect_exit 3 skiff release create payments-api \
		--spec "$SPEC" --version 1.0.0 --artifact app=fresh.bin
'

test_expect_success 'create --sign by a release-signer of another service: exit 4, nothing stored' '
	cd repo &&
	unchanged expect_exit 4 skiff --identity other --format=json release create payments-api \
		--spec "$SPEC" --version 1.1.0 --artifact app=fresh.bin --sign &&
	json_is .error.code role_denied &&
	unchanged expect_exit 4 skiff --identity ops release create payments-api \
		--spec "$SPEC" --version 1.1.0 --artifact app=fresh.bin --sign &&
	expect_exit 7 skiff show-ref refs/releases/payments-api/1.1.0
'

test_expect_success 'create --sign that fails to sign leaves a pending release sign can finish' '
	cd repo &&
	head -c 5000 /dev/urandom >tiny.bin &&
	found= &&
	for n in 1 2 3 4 5 6 7 8 9 10; do
		rc=0 &&
		SKIFF_FAULT=rename:$n skiff --identity ci --format=json release create payments-api \
			--spec "$SPEC" --version 1.3.$n --artifact app=tiny.bin --sign >"$TRASH/out" || rc=$? &&
		if [ $rc -ne 0 ] && jq -e ".error.message | test(\"stored but not signed\")" \
			"$TRASH/out" >/dev/null; then
			found=$n && break
		fi
	done &&
	test -n "$found" &&
	expect_exit 7 skiff show-ref refs/releases/payments-api/1.3.$found &&
	skiff --format=json release show payments-api 1.3.$found >"$TRASH/out" &&
	json_is .signed false &&
	skiff --identity ci release sign payments-api 1.3.$found >/dev/null &&
	skiff release verify payments-api 1.3.$found >/dev/null &&
	: the listings below do not want it &&
	skiff --identity ci update-ref --delete refs/releases/payments-api/1.3.$found \
		--old "$(skiff rev-parse refs/releases/payments-api/1.3.$found)" >/dev/null
'

test_expect_success 'an identity is needed only with --sign' '
	cd repo &&
	unchanged expect_exit 7 env SKIFF_IDENTITY=nobody "$SKIFF_BIN" --format=json release create \
		payments-api --spec "$SPEC" --version 1.2.0 --artifact app=fresh.bin --sign &&
	json_is ".error.message | test(\"nobody\")" true &&
	SKIFF_IDENTITY=nobody skiff --format=json release create payments-api --spec "$SPEC" \
		--version 1.2.0 --artifact app=fresh.bin >"$TRASH/out" &&
	json_is .signed false && json_is .signature null && json_is .pending 1
'

test_expect_success 'bad versions are refused by every release command; nothing stored' '
	cd repo &&
	rel=$(jq -r .release "$TRASH/r100.json") &&
	for v in "1/2" "a b" ".." "1..2" "v/../x"; do
		unchanged expect_exit 1 skiff --identity ci --format=json release create payments-api \
			--spec "$SPEC" --version "$v" --artifact app=fresh.bin --sign &&
		json_is .error.code invalid_input &&
		unchanged expect_exit 1 skiff --identity ci --format=json release sign payments-api "$v" &&
		json_is .error.code invalid_input &&
		unchanged expect_exit 1 skiff --identity ci release sign payments-api "$v" --release $rel &&
		expect_exit 1 skiff release verify payments-api "$v" &&
		expect_exit 1 skiff release show payments-api "$v" &&
		unchanged expect_exit 1 skiff release extract payments-api "$v" app "$TRASH/nope" &&
		test ! -e "$TRASH/nope" || exit 1
	done &&
	expect_exit 1 skiff release list "a/b" &&
	expect_exit 1 skiff release list ".."
'

# --- release sign SERVICE VERSION (the pending index) -----------------------

test_expect_success 'sign without --release signs what release create stored' '
	cd repo &&
	skiff --format=json release create payments-api --spec "$SPEC" --version 2.0.0 \
		--artifact app=app.bin >"$TRASH/r200.json" &&
	json_is .pending 1 "$TRASH/r200.json" &&
	skiff release create payments-api --spec "$SPEC" --version 2.0.0-x \
		--artifact app=app.bin | tail -1 | grep -q "^next: skiff release sign payments-api 2.0.0-x$" &&
	skiff --identity ci --format=json release sign payments-api 2.0.0 >"$TRASH/out" &&
	json_is .release "$(jq -r .release "$TRASH/r200.json")" &&
	json_is .ref refs/releases/payments-api/2.0.0 &&
	skiff release verify payments-api 2.0.0 >/dev/null &&
	test ! -e .skiff/pending/releases/payments-api/2.0.0 &&
	unchanged expect_exit 3 skiff --identity ci --format=json release sign payments-api 2.0.0 &&
	json_is .error.code already_exists
'

test_expect_success 'sign of a version nobody created: exit 7 with a hint to pass --release' '
	cd repo &&
	unchanged expect_exit 7 skiff --identity ci --format=json release sign payments-api 8.8.8 &&
	json_is .error.code not_found &&
	json_is ".error.hint | test(\"--release\")" true
'

test_expect_success 'two unsigned releases of one version: ambiguous (exit 2), --release picks' '
	cd repo &&
	skiff --format=json release create payments-api --spec "$SPEC" --version 3.0.0 \
		--artifact app=app.bin >"$TRASH/a.json" &&
	skiff --format=json release create payments-api --spec "$SPEC" --version 3.0.0 \
		--artifact app=app.conf >"$TRASH/b.json" &&
	json_is .pending 2 "$TRASH/b.json" &&
	a=$(jq -r .release "$TRASH/a.json") && b=$(jq -r .release "$TRASH/b.json") &&
	skiff release create payments-api --spec "$SPEC" --version 3.0.0 --artifact app=app.conf |
		tail -1 | grep -q "^next: skiff release sign payments-api 3.0.0 --release $b$" &&
	unchanged expect_exit 2 skiff --identity ci --format=json release sign payments-api 3.0.0 &&
	json_is .error.code ambiguous &&
	json_is ".error.hint | test(\"--release\")" true &&
	json_is ".error.candidates | sort | join(\",\")" "$(printf "%s\n" $a $b | sort | paste -sd,)" &&
	expect_exit 2 skiff --format=json release show payments-api 3.0.0 &&
	json_is .error.code ambiguous &&
	skiff --identity ci --format=json release sign payments-api 3.0.0 --release ${b:0:10} \
		>"$TRASH/out" &&
	json_is .release $b &&
	test ! -e .skiff/pending/releases/payments-api/3.0.0 &&
	skiff --format=json release show payments-api 3.0.0 >"$TRASH/out" &&
	json_is .release $b && json_is .signed true
'

test_expect_success 'sign without --release by another service signer: exit 4, nothing stored' '
	cd repo &&
	skiff release create payments-api --spec "$SPEC" --version 4.0.0 --artifact app=app.bin \
		>/dev/null &&
	unchanged expect_exit 4 skiff --identity other --format=json release sign payments-api 4.0.0 &&
	json_is .error.code role_denied &&
	unchanged expect_exit 4 skiff --identity ops release sign payments-api 4.0.0 &&
	test -e .skiff/pending/releases/payments-api/4.0.0 &&
	skiff --identity ci release sign payments-api 4.0.0 >/dev/null
'

test_expect_success 'a pending entry naming a release of another version is refused' '
	cd repo &&
	rel=$(jq -r .release "$TRASH/r200.json") &&
	mkdir -p .skiff/pending/releases/payments-api/5.0.0 &&
	echo $rel >.skiff/pending/releases/payments-api/5.0.0/$rel &&
	unchanged expect_exit 1 skiff --identity ci --format=json release sign payments-api 5.0.0 &&
	json_is ".error.message | test(\"payments-api 2.0.0, not payments-api 5.0.0\")" true &&
	rm -r .skiff/pending/releases/payments-api/5.0.0
'

# --- release show ------------------------------------------------------------

test_expect_success 'show SERVICE VERSION: the document, its artifacts and signer (JSON)' '
	cd repo &&
	skiff --format=json release show payments-api 1.0.0 >"$TRASH/out" &&
	one_json_doc &&
	rel=$(jq -r .release "$TRASH/r100.json") &&
	json_is .release $rel && json_is .service payments-api && json_is .version 1.0.0 &&
	json_is .signed true && json_is .signature.signer_name ci &&
	json_is .signature.signer "$(skiff --format=json key list | jq -r ".keys[] | select(.name==\"ci\") | .id")" &&
	json_is .signature.oid "$(skiff rev-parse refs/releases/payments-api/1.0.0)" &&
	json_is ".document.artifacts[0].sha256" "$(sha256sum app.bin | cut -d" " -f1)" &&
	json_is ".document.artifacts[1].size" 13 &&
	json_is .document.run.port 8080 && json_is ".document.canary.steps | length" 3 &&
	skiff --format=json cat-object -p $rel >"$TRASH/cat.json" &&
	test "$(jq -S .document "$TRASH/out")" = "$(jq -S .content "$TRASH/cat.json")"
'

test_expect_success 'show text: service, artifacts, run, health, canary, signer' '
	cd repo &&
	skiff release show payments-api 1.0.0 >"$TRASH/out" &&
	grep -q "^release  *$(jq -r .release "$TRASH/r100.json")$" "$TRASH/out" &&
	grep -q "^service  *payments-api$" "$TRASH/out" &&
	grep -q "^version  *1.0.0$" "$TRASH/out" &&
	grep -q "^signed  *by ci (.*) at 20[0-9-]*T" "$TRASH/out" &&
	grep -q "^artifacts  *app  2.9 MiB (3000000 bytes)$" "$TRASH/out" &&
	grep -q "sha256 $(sha256sum app.bin | cut -d" " -f1)$" "$TRASH/out" &&
	grep -q "^ *conf  13 B (13 bytes)$" "$TRASH/out" &&
	grep -q "^run  *.*/payments-api --listen 127.0.0.1:8080 --log-format=json$" "$TRASH/out" &&
	grep -q "^  port  *8080$" "$TRASH/out" &&
	grep -q "^health  *GET /healthz every 10s, timeout 2s$" "$TRASH/out" &&
	grep -q "^canary  *5% for 5m, 25% for 10m, 100% for 1h30m$" "$TRASH/out" &&
	grep -q "error rate at most 0.50%, p99 latency at most 250ms" "$TRASH/out" &&
	grep -q "^secrets  *DATABASE_URL from aws-sm:" "$TRASH/out" &&
	grep -q "^ *stale after 24h$" "$TRASH/out"
'

test_expect_success 'show of an unsigned release: by version (pending) and by id' '
	cd repo &&
	rel=$(jq -r .release "$TRASH/a.json") &&
	skiff release create payments-api --spec "$SPEC" --version 6.0.0 --artifact app=app.conf \
		--source-commit 0123456789abcdef0123456789abcdef01234567 >/dev/null &&
	skiff --format=json release show payments-api 6.0.0 >"$TRASH/out" &&
	json_is .signed false && json_is .signature null &&
	json_is .document.source.commit 0123456789abcdef0123456789abcdef01234567 &&
	skiff release show payments-api 6.0.0 | grep -q "^signed  *no: skiff release sign payments-api 6.0.0" &&
	skiff --format=json release show ${rel:0:12} >"$TRASH/out" &&
	json_is .release $rel && json_is .version 3.0.0 && json_is .signed false &&
	b=$(jq -r .release "$TRASH/b.json") &&
	skiff --format=json release show $b >"$TRASH/out" &&
	json_is .signed true && json_is .signature.ref refs/releases/payments-api/3.0.0
'

test_expect_success 'show refuses what is not a release, and unknown versions' '
	cd repo &&
	expect_exit 7 skiff --format=json release show payments-api 9.9.9 &&
	json_is .error.code not_found &&
	f=$(jq -r ".artifacts[0].file" "$TRASH/r100.json") &&
	expect_exit 1 skiff release show $f &&
	expect_exit 1 skiff release show not-an-id &&
	expect_exit 2 skiff release show &&
	expect_exit 2 skiff release show a b c
'

# --- release list ------------------------------------------------------------

test_expect_success 'list: signed releases, newest first per service (JSON)' '
	cd repo &&
	skiff --identity other release create other --spec other.yaml --version 0.9 \
		--artifact app=app.conf --sign >/dev/null &&
	sleep 1 &&
	skiff --identity ci release create payments-api --spec "$SPEC" --version 0.1.0 \
		--artifact app=app.conf --sign >/dev/null &&
	skiff --format=json release list >"$TRASH/out" && one_json_doc &&
	json_is "[.releases[] | \"\(.service) \(.version)\"] | join(\",\")" \
		"other 0.9,payments-api 0.1.0,payments-api 4.0.0,payments-api 3.0.0,payments-api 2.0.0,payments-api 1.0.0-t,payments-api 1.0.0" &&
	json_is "[.releases[] | select(.service == \"payments-api\") | .signer_name] | unique | join(\",\")" ci &&
	json_is ".releases[0].signer_name" other &&
	json_is ".releases[] | select(.version == \"1.0.0\") | .release" "$(jq -r .release "$TRASH/r100.json")" &&
	json_is ".releases[] | select(.version == \"1.0.0\") | .signature" \
		"$(skiff rev-parse refs/releases/payments-api/1.0.0)" &&
	json_is "[.releases[] | .time > 0 and (.signer | test(\"^[0-9a-f]{16}$\"))] | all" true
'

test_expect_success 'list SERVICE filters; text is one line per release' '
	cd repo &&
	skiff --format=json release list other >"$TRASH/out" &&
	json_is ".releases | length" 1 && json_is ".releases[0].version" 0.9 &&
	skiff release list payments-api >"$TRASH/out" &&
	test "$(wc -l <"$TRASH/out")" -eq 6 &&
	head -1 "$TRASH/out" | grep -q "^payments-api 0.1.0  *20[0-9-]*T.*  ci (" &&
	skiff --format=json release list nothing-here >"$TRASH/out" &&
	json_is ".releases | length" 0 &&
	skiff release list nothing-here | grep -q "^no signed releases$" &&
	expect_exit 2 skiff release list a b
'

# --- release extract SERVICE VERSION NAME DEST --------------------------------

test_expect_success 'extract SERVICE VERSION writes the signed artifact byte for byte' '
	cd repo &&
	mkdir -p "$TRASH/x" &&
	skiff --format=json release extract payments-api 1.0.0 app "$TRASH/x/app" >"$TRASH/out" &&
	json_is .signed true && json_is .signer_name ci &&
	json_is .release "$(jq -r .release "$TRASH/r100.json")" &&
	cmp app.bin "$TRASH/x/app" &&
	skiff release extract payments-api 1.0.0 conf "$TRASH/x/conf" >"$TRASH/out" &&
	grep -q "^extracted conf" "$TRASH/out" && grep -q "signed by ci" "$TRASH/out" &&
	cmp app.conf "$TRASH/x/conf"
'

test_expect_success 'extract refuses unsigned versions, unknown names and an existing dest' '
	cd repo &&
	expect_exit 7 skiff --format=json release extract payments-api 6.0.0 app "$TRASH/x/n" &&
	json_is .error.code not_found &&
	expect_exit 7 skiff --format=json release extract payments-api 1.0.0 nope "$TRASH/x/n" &&
	json_is ".error.artifacts | join(\",\")" app,conf &&
	printf keep >"$TRASH/x/keep" &&
	expect_exit 3 skiff --format=json release extract payments-api 1.0.0 app "$TRASH/x/keep" &&
	json_is .error.code already_exists &&
	test "$(cat "$TRASH/x/keep")" = keep &&
	expect_exit 1 skiff --format=json release extract payments-api 1.0.0 app &&
	json_is ".error.hint | test(\"SERVICE VERSION NAME DEST\")" true &&
	expect_exit 2 skiff release extract payments-api 1.0.0 app "$TRASH/x/n" extra &&
	test ! -e "$TRASH/x/n" &&
	test "$(ls "$TRASH/x" | sort | paste -sd,)" = app,conf,keep
'

test_expect_success 'extract into an unwritable directory fails and leaves nothing' '
	cd repo &&
	if [ "$(id -u)" -eq 0 ]; then echo "# skipped as root"; exit 0; fi &&
	mkdir -p "$TRASH/ro" && chmod 555 "$TRASH/ro" &&
	expect_exit 1 skiff --format=json release extract payments-api 1.0.0 app "$TRASH/ro/app" &&
	json_is .error.code read_only &&
	chmod 755 "$TRASH/ro" && test -z "$(ls -A "$TRASH/ro")" &&
	expect_exit 7 skiff release extract payments-api 1.0.0 app "$TRASH/no/such/dir/app" &&
	test ! -e "$TRASH/no"
'

test_expect_success 'a missing chunk: verify and extract exit 4 naming it, nothing left' '
	cd repo &&
	c=$(last_chunk "$TRASH/r100.json" 0) &&
	mv .skiff/objects/${c:0:2}/${c:2} "$TRASH/chunk.saved" &&
	expect_exit 4 skiff --format=json release verify payments-api 1.0.0 &&
	json_is .error.code corrupt_object && json_is ".error.message | test(\"$c\")" true &&
	mkdir -p "$TRASH/y" &&
	expect_exit 4 skiff --format=json release extract payments-api 1.0.0 app "$TRASH/y/app" &&
	json_is .error.code corrupt_object && json_is ".error.message | test(\"$c\")" true &&
	test -z "$(ls -A "$TRASH/y")" &&
	mv "$TRASH/chunk.saved" .skiff/objects/${c:0:2}/${c:2} &&
	skiff release extract payments-api 1.0.0 app "$TRASH/y/app" >/dev/null &&
	cmp app.bin "$TRASH/y/app"
'

test_expect_success 'a missing file object makes verify and extract exit 4' '
	cd repo &&
	f=$(jq -r ".artifacts[1].file" "$TRASH/r100.json") &&
	mv .skiff/objects/${f:0:2}/${f:2} "$TRASH/file.saved" &&
	expect_exit 4 skiff --format=json release verify payments-api 1.0.0 &&
	json_is ".error.message | test(\"conf\")" true &&
	expect_exit 4 skiff --format=json release extract payments-api 1.0.0 conf "$TRASH/y/conf" &&
	json_is ".error.message | test(\"$f\")" true &&
	test ! -e "$TRASH/y/conf" &&
	mv "$TRASH/file.saved" .skiff/objects/${f:0:2}/${f:2}
'

test_expect_success 'a ref to another service signer'"'"'s signature: exit 4 everywhere' '
	cd repo &&
	osig=$(skiff rev-parse refs/releases/other/0.9) &&
	skiff --identity ci update-ref refs/releases/payments-api/7.0.0 $osig --create >/dev/null &&
	expect_exit 4 skiff --format=json release verify payments-api 7.0.0 &&
	json_is .error.code role_denied &&
	expect_exit 4 skiff --format=json release extract payments-api 7.0.0 app "$TRASH/y/o" &&
	json_is .error.code role_denied && test ! -e "$TRASH/y/o" &&
	expect_exit 4 skiff --format=json release show payments-api 7.0.0 &&
	json_is .error.code role_denied &&
	expect_exit 4 skiff --format=json release list payments-api &&
	json_is ".error.message | test(\"refs/releases/payments-api/7.0.0\")" true &&
	skiff --format=json release list other >"$TRASH/out" &&
	json_is ".releases | length" 1
'

test_expect_success 'a tampered signature object: show and list exit 4' '
	cd repo &&
	sig=$(skiff rev-parse refs/releases/other/0.9) &&
	p=.skiff/objects/${sig:0:2}/${sig:2} &&
	cp $p "$TRASH/sig.saved" && chmod u+w $p &&
	cp .skiff/objects/$(echo $(jq -r .release "$TRASH/r100.json") | sed "s|^\(..\)|\1/|") $p &&
	expect_exit 4 skiff release show other 0.9 &&
	expect_exit 4 skiff --format=json release list other &&
	json_is .error.code corrupt_object &&
	cp "$TRASH/sig.saved" $p &&
	skiff release list other >/dev/null
'

test_expect_success 'a deleted release ref: never signed or created again, not listed' '
	cd repo &&
	rel=$(skiff --format=json release show payments-api 4.0.0 | jq -r .release) &&
	sig=$(skiff rev-parse refs/releases/payments-api/4.0.0) &&
	skiff --identity ci update-ref --delete refs/releases/payments-api/4.0.0 --old $sig >/dev/null &&
	unchanged expect_exit 3 skiff --identity ci --format=json release sign payments-api 4.0.0 \
		--release $rel &&
	json_is .error.code already_exists &&
	unchanged expect_exit 3 skiff --identity ci release sign payments-api 4.0.0 &&
	unchanged expect_exit 3 skiff --identity ci release create payments-api --spec "$SPEC" \
		--version 4.0.0 --artifact app=app.bin --sign &&
	expect_exit 7 skiff --format=json release show payments-api 4.0.0 &&
	json_is ".error.message | test(\"deleted\")" true &&
	expect_exit 7 skiff release extract payments-api 4.0.0 app "$TRASH/y/del" &&
	skiff --format=json release list other >"$TRASH/out" &&
	skiff --identity ci update-ref --delete refs/releases/payments-api/7.0.0 \
		--old "$(skiff rev-parse refs/releases/payments-api/7.0.0)" >/dev/null &&
	skiff --format=json release list payments-api >"$TRASH/out" &&
	json_is "[.releases[].version] | index(\"4.0.0\")" null &&
	json_is ".releases | length" 5
'

# --- the example spec ------------------------------------------------------------

test_expect_success 'the example spec uses every optional section and field' '
	cd repo &&
	skiff --format=json release show payments-api 1.0.0 >"$TRASH/out" &&
	json_is ".document | has(\"canary\") and has(\"backup\") and has(\"restore\")" true &&
	json_is ".document.canary.gates | has(\"max_latency_ms\")" true &&
	json_is ".document.restore | has(\"validate\")" true &&
	json_is ".document.canary.gates.log_patterns | length" 2 &&
	json_is "[.document.run.env, .document.secrets, .document.permissions.network,
		.document.permissions.paths, .document.run.args] | map(length > 0) | all" true
'

test_expect_success 'every field in skiff-spec(5) is in the example with a comment' '
	fields=$(sed -n "/^\.SH FIELDS/,/^\.SH COMPILED/p" "$TEST_SRC/man/skiff-spec.5" |
		sed -n -e "s/^\.B \([a-z_]*\)$/\1/p" -e "s/^\.SS \([a-z]*\) .*/\1/p" \
			-e "s/^\.SS \([a-z]*\)$/\1/p" | sort -u) &&
	test "$(echo "$fields" | wc -l)" -ge 30 &&
	for f in $fields; do
		awk -v f="$f" "
			\$0 ~ \"^ *(- )?\" f \":\" && (index(\$0, \"#\") || prev ~ /^ *#/) { ok = 1 }
			{ prev = \$0 }
			END { exit !ok }" "$SPEC" || { echo "field $f lacks a commented line"; exit 1; }
	done
'

test_done
