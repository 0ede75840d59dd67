#!/bin/bash
# release sign | verify: a signature object and the create-only ref
# refs/releases/<svc>/<version>; only a release-signer for that service
# may sign, and a refused signer stores nothing; verify checks the
# signature, the signer's role, the release and every chunk.
. "$(dirname "$0")/lib.sh"
SPEC="$TEST_SRC/examples/payments-api.yaml"
KEYS="$XDG_CONFIG_HOME/skiff/keys"

count_objects() { find .skiff/objects -type f ! -name 'incoming.tmp.*' | wc -l; }

test_expect_success 'setup: a release, a ci release-signer, another service signer, an operator' '
	setup_repo && cd repo &&
	head -c 3000000 /dev/urandom >app.bin &&
	skiff --format=json release create payments-api --spec "$SPEC" --version 2.0.0 \
		--artifact app=app.bin >"$TRASH/r2.json" &&
	skiff keygen ci >/dev/null && skiff keygen other >/dev/null && skiff keygen ops >/dev/null &&
	skiff --identity alice trust add-key ci "$KEYS/ci.pub" \
		--role release-signer --scope "refs/releases/payments-api/*" >/dev/null &&
	skiff --identity alice trust add-key other "$KEYS/other.pub" \
		--role release-signer --scope "refs/releases/other/*" >/dev/null &&
	skiff --identity alice trust add-key ops "$KEYS/ops.pub" --role operator >/dev/null
'

test_expect_success 'a release-signer of another service is refused (exit 4), nothing stored' '
	cd repo &&
	rel=$(jq -r .release "$TRASH/r2.json") &&
	before=$(snapshot .skiff) &&
	expect_exit 4 skiff --identity other --format=json release sign payments-api 2.0.0 --release $rel &&
	json_is .error.code role_denied &&
	test "$(snapshot .skiff)" = "$before"
'

test_expect_success 'an operator-only key is refused (exit 4), nothing stored' '
	cd repo &&
	rel=$(jq -r .release "$TRASH/r2.json") &&
	before=$(snapshot .skiff) &&
	expect_exit 4 skiff --identity ops release sign payments-api 2.0.0 --release $rel &&
	test "$(snapshot .skiff)" = "$before" &&
	expect_exit 7 skiff release verify payments-api 2.0.0
'

test_expect_success 'a release is signed only under its own service and version' '
	cd repo &&
	rel=$(jq -r .release "$TRASH/r2.json") &&
	expect_exit 1 skiff --identity ci release sign payments-api 9.9.9 --release $rel &&
	expect_exit 2 skiff --identity ci release sign payments-api --release $rel &&
	expect_exit 7 skiff show-ref "refs/releases/payments-api/9.9.9"
'

test_expect_success 'ci signs: a signature object and the release ref' '
	cd repo &&
	rel=$(jq -r .release "$TRASH/r2.json") &&
	skiff --identity ci --format=json release sign payments-api 2.0.0 --release ${rel:0:12} \
		>"$TRASH/out" &&
	one_json_doc && json_is .release $rel && json_is .signer_name ci &&
	json_is .ref refs/releases/payments-api/2.0.0 &&
	sig=$(jq -r .signature "$TRASH/out") &&
	test "$(skiff rev-parse refs/releases/payments-api/2.0.0)" = $sig &&
	test "$(skiff cat-object -t $sig)" = signature &&
	skiff --format=json cat-object -p $sig >"$TRASH/out" &&
	json_is .content.release $rel && json_is ".content.sig | test(\"^[0-9a-f]{128}$\")" true &&
	json_is ".content | keys | join(\",\")" release,sig,signer,time,v &&
	echo $sig >"$TRASH/sig"
'

test_expect_success 'verify passes and reports the signer and artifacts' '
	cd repo &&
	skiff --format=json release verify payments-api 2.0.0 >"$TRASH/out" &&
	json_is .verified true && json_is .signer_name ci &&
	json_is .release "$(jq -r .release "$TRASH/r2.json")" &&
	json_is ".artifacts[0].name" app &&
	json_is ".artifacts[0].sha256" "$(sha256sum app.bin | cut -d" " -f1)" &&
	json_is ".artifacts[0].size" 3000000 &&
	json_is ".artifacts[0].chunks >= 1" true &&
	skiff release verify payments-api 2.0.0 | grep -q "^verified  payments-api 2.0.0"
'

test_expect_success 'signing the same version twice is a conflict (exit 3)' '
	cd repo &&
	rel=$(jq -r .release "$TRASH/r2.json") &&
	expect_exit 3 skiff --identity ci --format=json release sign payments-api 2.0.0 --release $rel &&
	json_is .error.code already_exists &&
	test "$(skiff rev-parse refs/releases/payments-api/2.0.0)" = "$(cat "$TRASH/sig")"
'

test_expect_success 'verify of a release that is not signed exits 7' '
	cd repo &&
	expect_exit 7 skiff release verify payments-api 7.7.7
'

test_expect_success 'a missing chunk makes verify exit 4 naming the chunk' '
	cd repo &&
	f=$(jq -r ".artifacts[0].file" "$TRASH/r2.json") &&
	skiff --format=json cat-object -p $f >"$TRASH/file.json" &&
	c=$(jq -r ".content.chunks | last | .oid" "$TRASH/file.json") &&
	mv .skiff/objects/${c:0:2}/${c:2} "$TRASH/chunk.saved" &&
	expect_exit 4 skiff --format=json release verify payments-api 2.0.0 &&
	json_is ".error.message | test(\"$c\")" true &&
	mv "$TRASH/chunk.saved" .skiff/objects/${c:0:2}/${c:2} &&
	skiff release verify payments-api 2.0.0 >/dev/null
'

test_expect_success 'a tampered signature object makes verify exit 4' '
	cd repo &&
	sig=$(cat "$TRASH/sig") && rel=$(jq -r .release "$TRASH/r2.json") &&
	p=.skiff/objects/${sig:0:2}/${sig:2} &&
	cp $p "$TRASH/sig.saved" && chmod u+w $p &&
	cp .skiff/objects/${rel:0:2}/${rel:2} $p &&
	expect_exit 4 skiff --format=json release verify payments-api 2.0.0 &&
	json_is ".error.message | test(\"signature\")" true &&
	cp "$TRASH/sig.saved" $p &&
	skiff release verify payments-api 2.0.0 >/dev/null
'

test_expect_success 'a ref pointing at something other than a signature fails verify (exit 4)' '
	cd repo &&
	rel=$(jq -r .release "$TRASH/r2.json") &&
	skiff --identity ci update-ref refs/releases/payments-api/2.0.1 $rel --create >/dev/null &&
	expect_exit 4 skiff --format=json release verify payments-api 2.0.1 &&
	json_is ".error.message | test(\"not a signature\")" true
'

test_done
