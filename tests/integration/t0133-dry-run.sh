#!/bin/bash
# --dry-run on every mutating porcelain command that is not an operation:
# init, keygen, trust add-key | set-threshold, release create | sign,
# remote add | remove, push, fetch. Each prints its plan (kind, steps with
# risk and reversibility, what would change), changes nothing at all (the
# repository, the keys directory and a file:// remote are byte-identical,
# no lock or directory left), consumes nothing (the real command then
# works and does what the plan said), and a dry run that would fail fails
# as the real command does (same exit code and error code). Every command
# `help` marks as mutating accepts --dry-run.
. "$(dirname "$0")/lib.sh"
KEYS="$XDG_CONFIG_HOME/skiff/keys"
SPEC="$TEST_SRC/examples/payments-api.yaml"
BUCKET="$TRASH/bucket"
URL="file://$BUCKET"

# world: every path and every file's hash in the repository of the current
# directory, the keys directory and the bucket.
world() {
	local d
	for d in "$PWD/.skiff" "$KEYS" "$BUCKET"; do
		echo "== $d"
		[ -e "$d" ] || continue
		(cd "$d" && find . | sort && find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
	done
}

# dry KIND ARGS...: `skiff --format=json ARGS --dry-run` succeeds with one
# plan of KIND whose steps all carry a name, a risk and reversibility, and
# the world is as it was. The result is left in $TRASH/out.
dry() {
	local kind=$1 before
	shift
	before=$(world)
	skiff --format=json "$@" --dry-run >"$TRASH/out" || { cat "$TRASH/out" >&2; return 1; }
	one_json_doc && json_is .dry_run true && json_is .plan.kind "$kind" &&
	json_is '[.plan.steps[] | (.name | type == "string") and
		(.risk | test("^(none|low|medium|high)$")) and (.reversible | type == "boolean") and
		has("compensation")] | all' true || return 1
	if [ "$(world)" != "$before" ]; then
		echo "the dry run of $* changed something:" >&2
		diff <(echo "$before") <(world) >&2
		return 1
	fi
}

# same_failure ARGS...: the dry run fails, changing nothing, and the real
# command then fails the same way (exit code and error code).
same_failure() {
	local before want=0 got=0
	before=$(world)
	skiff --format=json "$@" --dry-run >"$TRASH/dry.out" || want=$?
	[ "$want" -ne 0 ] || { echo "dry run of $* succeeded" >&2; return 1; }
	one_json_doc "$TRASH/dry.out" &&
	[ "$(world)" = "$before" ] || { echo "failed dry run of $* changed something" >&2; return 1; }
	skiff --format=json "$@" >"$TRASH/out" || got=$?
	[ "$got" -eq "$want" ] || { echo "$*: dry run exit $want, real exit $got" >&2; return 1; }
	[ "$(jq -r .error.code "$TRASH/dry.out")" = "$(jq -r .error.code "$TRASH/out")" ]
}

# step NAME FIELD: a field of the plan step named NAME in $TRASH/out.
step() { jq -r --arg n "$1" ".plan.steps[] | select(.name == \$n) | $2" "$TRASH/out"; }

test_expect_success 'keygen --dry-run: where the key would go; no key, no directory' '
	dry keygen keygen alice &&
	json_is .name alice && json_is .path "$KEYS/alice.key" &&
	json_is .public_path "$KEYS/alice.pub" &&
	test "$(step create-key .risk)" = none && test ! -e "$XDG_CONFIG_HOME/skiff" &&
	skiff keygen alice >/dev/null && test -f "$KEYS/alice.key" &&
	same_failure keygen alice && json_is .error.code already_exists &&
	expect_exit 2 skiff keygen --dry-run
'

test_expect_success 'init --dry-run: the path and the policy it would start with; nothing created' '
	dry init init "$TRASH/repo" &&
	test ! -e "$TRASH/repo" &&
	json_is .path "$TRASH/repo/.skiff" && json_is .identity.name alice &&
	test "$(step create-repository .risk)" = low &&
	test "$(step "sign-policy refs/meta/trust" .reversible)" = false &&
	trust=$(jq -r .trust "$TRASH/out") &&
	skiff init "$TRASH/repo" >/dev/null && cd "$TRASH/repo" &&
	test "$(skiff rev-parse refs/meta/trust)" = "$trust" &&
	same_failure init . && json_is .error.code already_exists &&
	echo x >"$TRASH/afile" && same_failure init "$TRASH/afile/sub"
'

test_expect_success 'trust add-key --dry-run: sign-policy (high, irreversible), the grant, the policy id' '
	cd repo && skiff keygen ci >/dev/null &&
	dry "trust add-key" trust add-key ci "$KEYS/ci.pub" --role release-signer \
		--scope "refs/releases/payments-api/*" &&
	test "$(step "sign-policy refs/meta/trust" .risk)" = high &&
	test "$(step "sign-policy refs/meta/trust" .reversible)" = false &&
	test "$(step "sign-policy refs/meta/trust" .old)" = "$(skiff rev-parse refs/meta/trust)" &&
	json_is .key.name ci && json_is ".key.grants[0].role" release-signer &&
	json_is ".key.grants[0].scope" "refs/releases/payments-api/*" && json_is .seq 2 &&
	planned=$(jq -r .trust "$TRASH/out") &&
	skiff --format=json trust add-key ci "$KEYS/ci.pub" --role release-signer \
		--scope "refs/releases/payments-api/*" >"$TRASH/out" &&
	json_is .trust "$planned" && json_is .seq 2
'

test_expect_success 'trust: a key without root fails the dry run as the real change (exit 4)' '
	cd repo && skiff keygen ops >/dev/null &&
	same_failure --identity ci trust add-key ops "$KEYS/ops.pub" --role operator &&
	test "$(jq -r .error.exit "$TRASH/out")" = 4 &&
	same_failure --identity ci trust set-threshold 2 &&
	same_failure trust add-key ci "$KEYS/ci.pub" --role nosuch
'

test_expect_success 'trust set-threshold --dry-run: old and new threshold; then the real change' '
	cd repo &&
	dry "trust set-threshold" trust set-threshold 2 &&
	json_is .threshold 2 && json_is .threshold_was 1 && json_is .seq 3 &&
	test "$(step "sign-policy refs/meta/trust" .risk)" = high &&
	planned=$(jq -r .trust "$TRASH/out") &&
	skiff --format=json trust set-threshold 2 >"$TRASH/out" && json_is .trust "$planned"
'

test_expect_success 'release create --dry-run: digests, release id, new vs deduplicated; nothing stored' '
	cd repo && head -c 3000000 /dev/urandom >app.bin && printf "listen: 1\n" >app.conf &&
	dry "release create" release create payments-api --spec "$SPEC" --version 1.0.0 \
		--artifact app=app.bin --artifact conf=app.conf &&
	json_is ".artifacts[0].sha256" "$(sha256sum app.bin | cut -d" " -f1)" &&
	json_is ".artifacts[1].sha256" "$(sha256sum app.conf | cut -d" " -f1)" &&
	json_is .bytes_new 3000010 && json_is .bytes_deduplicated 0 &&
	json_is "[.plan.steps[].name] | join(\",\")" store-objects,record-pending &&
	cp "$TRASH/out" "$TRASH/plan.json" &&
	skiff --format=json release create payments-api --spec "$SPEC" --version 1.0.0 \
		--artifact app=app.bin --artifact conf=app.conf >"$TRASH/out" &&
	json_is .release "$(jq -r .release "$TRASH/plan.json")" &&
	json_is ".artifacts[0].file" "$(jq -r ".artifacts[0].file" "$TRASH/plan.json")" &&
	json_is .bytes_new 3000010 &&
	dry "release create" release create payments-api --spec "$SPEC" --version 1.0.1 \
		--artifact app=app.bin --artifact conf=app.conf &&
	json_is .bytes_new 0 && json_is .bytes_deduplicated 3000010
'

test_expect_success 'release create --sign --dry-run plans the release ref; bad input fails alike' '
	cd repo &&
	dry "release create" --identity ci release create payments-api --spec "$SPEC" \
		--version 1.0.9 --artifact app=app.bin --sign &&
	test "$(step "create-ref refs/releases/payments-api/1.0.9" .risk)" = medium &&
	test "$(step "create-ref refs/releases/payments-api/1.0.9" .reversible)" = false &&
	same_failure release create payments-api --spec "$SPEC" --version 1.0.2 \
		--artifact app=nosuch.bin &&
	echo "service: [" >bad.yaml &&
	same_failure release create payments-api --spec bad.yaml --version 1.0.2 &&
	same_failure --identity alice release create payments-api --spec "$SPEC" --version 1.0.2 \
		--artifact app=app.bin --sign &&
	test "$(jq -r .error.exit "$TRASH/out")" = 4
'

test_expect_success 'release sign --dry-run: create-ref (medium, irreversible); twice fails alike' '
	cd repo &&
	same_failure --identity alice release sign payments-api 1.0.0 &&
	dry "release sign" --identity ci release sign payments-api 1.0.0 &&
	test "$(step "create-ref refs/releases/payments-api/1.0.0" .risk)" = medium &&
	test "$(step "create-ref refs/releases/payments-api/1.0.0" .reversible)" = false &&
	json_is .release "$(jq -r .release "$TRASH/plan.json")" && json_is .signer_name ci &&
	expect_exit 7 skiff rev-parse refs/releases/payments-api/1.0.0 &&
	skiff --identity ci release sign payments-api 1.0.0 >/dev/null &&
	skiff release verify payments-api 1.0.0 >/dev/null &&
	same_failure --identity ci release sign payments-api 1.0.0 &&
	json_is .error.code already_exists && test "$(jq -r .error.exit "$TRASH/out")" = 3
'

test_expect_success 'remote add --dry-run: nothing recorded; a taken name fails alike' '
	cd repo &&
	dry "remote add" remote add origin "$URL" &&
	json_is .name origin && json_is .url "$URL" &&
	test "$(step add-remote .compensation)" = "skiff remote remove origin" &&
	skiff --format=json remote list >"$TRASH/out" && json_is ".remotes | length" 0 &&
	same_failure remote add "a b" "$URL" && same_failure remote add other http://x/y &&
	skiff remote add origin "$URL" >/dev/null &&
	same_failure remote add origin "$URL" && json_is .error.code already_exists
'

test_expect_success 'push --dry-run: upload-objects, then move-ref per ref old -> new; the bucket untouched' '
	cd repo &&
	dry push push &&
	test "$(step upload-objects .risk)" = low && test "$(step upload-objects .reversible)" = false &&
	test "$(step "move-ref refs/meta/trust" .new)" = "$(skiff rev-parse refs/meta/trust)" &&
	test "$(step "move-ref refs/meta/trust" .old)" = null &&
	rel=$(skiff rev-parse refs/releases/payments-api/1.0.0) &&
	test "$(step "move-ref refs/releases/payments-api/1.0.0" .new)" = "$rel" &&
	test "$(step "move-ref refs/releases/payments-api/1.0.0" .risk)" = medium &&
	json_is "[.refs[].status] | unique | join(\",\")" create &&
	test ! -e "$BUCKET" &&
	cp "$TRASH/out" "$TRASH/plan.json" &&
	skiff --format=json push >"$TRASH/out" &&
	json_is .objects "$(jq .objects "$TRASH/plan.json")" &&
	json_is .bytes "$(jq .bytes "$TRASH/plan.json")" &&
	dry push push && json_is ".plan.steps | length" 0 && json_is .objects 0 &&
	skiff push --dry-run >"$TRASH/text" && grep -q "nothing to do" "$TRASH/text" &&
	grep -q "^(dry run: nothing changed)$" "$TRASH/text" &&
	same_failure push refs/nosuch/* && json_is .error.code not_found &&
	cd "$TRASH" && cp -a repo other && cp -a repo third
'

test_expect_success 'fetch --dry-run: refs that would move, objects to download, verified; nothing kept' '
	cd repo && head -c 500000 /dev/urandom >>app.bin &&
	skiff --identity ci release create payments-api --spec "$SPEC" --version 2.0.0 \
		--artifact app=app.bin --sign >/dev/null && skiff push >/dev/null &&
	sig=$(skiff rev-parse refs/releases/payments-api/2.0.0) &&
	cd "$TRASH/other" &&
	dry fetch fetch &&
	test "$(step "move-ref refs/releases/payments-api/2.0.0" .new)" = "$sig" &&
	test "$(step "move-ref refs/remotes/origin/releases/payments-api/2.0.0" .new)" = "$sig" &&
	test "$(step "move-ref refs/releases/payments-api/2.0.0" .old)" = null &&
	test "$(step download-objects .risk)" = low &&
	json_is ".chunks >= 1" true && json_is ".chunk_bytes > 0" true &&
	json_is ".refs[] | select(.ref == \"refs/releases/payments-api/2.0.0\") | .status" fast-forward &&
	cp "$TRASH/out" "$TRASH/plan.json" &&
	expect_exit 7 skiff rev-parse refs/releases/payments-api/2.0.0 &&
	skiff --format=json fetch >"$TRASH/out" &&
	json_is .objects "$(jq .objects "$TRASH/plan.json")" &&
	test "$(skiff rev-parse refs/releases/payments-api/2.0.0)" = "$sig" &&
	skiff release verify payments-api 2.0.0 >/dev/null &&
	dry fetch fetch && json_is ".moves | length" 0 && json_is .objects 0
'

test_expect_success 'fetch --dry-run verifies: a tampered object fails it as it fails fetch (exit 4)' '
	cd repo &&
	skiff --identity ci release create payments-api --spec "$SPEC" --version 2.0.1 \
		--artifact conf=app.conf --sign >/dev/null && skiff push >/dev/null &&
	s=$(skiff rev-parse refs/releases/payments-api/2.0.1) &&
	o="$BUCKET/objects/${s:0:2}/${s:2}" && cp "$o" "$TRASH/saved" && chmod u+w "$o" &&
	printf "\\377" | dd of="$o" bs=1 seek=12 conv=notrunc 2>/dev/null &&
	cd "$TRASH/other" &&
	same_failure fetch && json_is .error.code corrupt_object &&
	test "$(jq -r .error.exit "$TRASH/out")" = 4 &&
	cp "$TRASH/saved" "$o" && dry fetch fetch &&
	skiff fetch >/dev/null && test "$(skiff rev-parse refs/releases/payments-api/2.0.1)" = "$s"
'

test_expect_success 'push --dry-run with a conflicting remote ref fails as push does (exit 3)' '
	cd third && skiff trust set-threshold 3 >/dev/null &&
	cd "$TRASH/repo" && skiff trust set-threshold 4 >/dev/null && skiff push >/dev/null &&
	cd "$TRASH/third" &&
	same_failure push && json_is .error.code cas_conflict &&
	jq -e ".error.refs | index(\"refs/meta/trust\")" "$TRASH/dry.out" >/dev/null &&
	jq -e ".error.plan.kind == \"push\" and .error.dry_run" "$TRASH/dry.out" >/dev/null
'

test_expect_success 'remote remove --dry-run: the remote and its tracking refs stay; then removed' '
	cd other &&
	dry "remote remove" remote remove origin &&
	json_is .url "$URL" && json_is ".tracking_refs | length > 0" true &&
	json_is ".tracking_refs | index(\"refs/remotes/origin/meta/trust\") != null" true &&
	skiff rev-parse refs/remotes/origin/meta/trust >/dev/null &&
	skiff remote remove origin >/dev/null &&
	expect_exit 7 skiff rev-parse refs/remotes/origin/meta/trust &&
	same_failure remote remove origin && json_is .error.code not_found
'

test_expect_success 'text mode: the plan, what would change, and the dry-run line' '
	cd repo &&
	skiff trust set-threshold 5 --dry-run >"$TRASH/text" &&
	grep -q "^plan  *trust set-threshold" "$TRASH/text" &&
	grep -q "sign-policy refs/meta/trust  *high  *no" "$TRASH/text" &&
	grep -q "approval threshold 4 → 5" "$TRASH/text" &&
	grep -q "^(dry run: nothing changed)$" "$TRASH/text" &&
	skiff --dry-run keygen bob | grep -q "^(dry run: nothing changed)$" &&
	test ! -e "$KEYS/bob.key"
'

test_expect_success 'help marks every command as mutating or not, and every mutating one takes --dry-run' '
	cd repo &&
	skiff --format=json help >"$TRASH/help.json" &&
	json_is "[.commands[] | (.mutates | type) == \"boolean\" and (.dry_run | type) == \"boolean\"] | all" \
		true "$TRASH/help.json" &&
	json_is "[.commands[] | select(.mutates and (.dry_run | not)) | .command] | join(\",\")" \
		"op test-run" "$TRASH/help.json" &&
	json_is "[.commands[] | select(.command == \"log\") | .mutates] | .[0]" false "$TRASH/help.json" &&
	before=$(world) &&
	jq -r ".commands[] | select(.mutates and .dry_run) | .command" "$TRASH/help.json" >"$TRASH/cmds" &&
	test "$(wc -l <"$TRASH/cmds")" -ge 15 &&
	while read -r cmd; do
		# no arguments: a usage error or a plan, never a refusal of --dry-run
		skiff --format=json --dry-run $cmd >"$TRASH/out" 2>/dev/null || true
		one_json_doc || exit 1
		if grep -q "does not support --dry-run" "$TRASH/out"; then
			echo "$cmd refuses --dry-run" >&2
			exit 1
		fi
	done <"$TRASH/cmds" &&
	test "$(world)" = "$before" &&
	expect_exit 2 skiff --format=json --dry-run op test-run &&
	grep -q "does not support --dry-run" "$TRASH/out"
'

test_expect_success 'the man page of every command that takes --dry-run documents it' '
	skiff --format=json help >"$TRASH/help.json" &&
	for c in $(jq -r ".commands[] | select(.dry_run) | .command | split(\" \")[0]" \
		"$TRASH/help.json" | sort -u); do
		grep -qF "\\-\\-dry\\-run" "$TEST_SRC/man/skiff-$c.1" ||
			{ echo "man/skiff-$c.1 lacks --dry-run"; exit 1; }
	done &&
	grep -q "Every mutating command supports it" "$TEST_SRC/man/skiff.1"
'

test_done
