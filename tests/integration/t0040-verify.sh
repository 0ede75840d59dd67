#!/bin/bash
# Verification: tampered records, records signed by a key without the role,
# broken chains, dangling refs. Each fails with exit 4 and a typed code;
# verify-ref without --chain checks the head only, fsck finds everything.
. "$(dirname "$0")/lib.sh"
KEYS="$XDG_CONFIG_HOME/skiff/keys"

test_expect_success 'setup: a ref with five records' '
	setup_repo && cd repo &&
	for i in 1 2 3 4 5; do printf "v$i" >v$i; skiff hash-object -w v$i >"$TRASH/o$i"; done &&
	skiff update-ref refs/services/api $(cat "$TRASH/o1") --create >/dev/null &&
	for i in 2 3 4 5; do
		skiff update-ref refs/services/api $(cat "$TRASH/o$i") --old $(cat "$TRASH/o$((i-1))") >/dev/null || exit 1
	done &&
	skiff verify-ref --chain refs/services/api
'

test_expect_success 'a tampered record in the middle of the chain: --chain and fsck fail (exit 4)' '
	cp -a repo tampered && cd tampered &&
	rec=$(skiff --format=json log --records refs/services/api | jq -r ".records[2].record") &&
	p=.skiff/objects/${rec:0:2}/${rec:2} && chmod u+w $p &&
	zstd -dc $p | sed "s/\"seq\":3/\"seq\":9/" | zstd -q -c >$p.new && mv $p.new $p &&
	skiff verify-ref refs/services/api &&
	expect_exit 4 skiff --format=json verify-ref --chain refs/services/api &&
	json_is .error.exit 4 &&
	expect_exit 4 skiff --format=json fsck &&
	json_is ".error.problems | length > 0" true
'

test_expect_success 'a record replaced wholesale by a valid object breaks the prev link' '
	cp -a repo relinked && cd relinked &&
	a=$(skiff --format=json log --records refs/services/api | jq -r ".records[2].record") &&
	b=$(skiff --format=json log --records refs/services/api | jq -r ".records[3].record") &&
	pa=.skiff/objects/${a:0:2}/${a:2} && chmod u+w $pa &&
	cp .skiff/objects/${b:0:2}/${b:2} $pa &&
	expect_exit 4 skiff --format=json verify-ref --chain refs/services/api
'

test_expect_success 'an edited ref file fails its signature (exit 4)' '
	cp -a repo edited && cd edited &&
	o1=$(cat "$TRASH/o1") && o5=$(cat "$TRASH/o5") &&
	sed -i "s/$o5/$o1/" .skiff/refs/services/api &&
	expect_exit 4 skiff --format=json verify-ref refs/services/api &&
	json_is .error.code bad_signature &&
	expect_exit 4 skiff fsck
'

test_expect_success 'every reader verifies: rev-parse, show-ref, log, cat-object of a forged ref fail (exit 4)' '
	cd edited &&
	expect_exit 4 skiff --format=json rev-parse refs/services/api &&
	json_is .error.code bad_signature &&
	expect_exit 4 skiff rev-parse services/api &&
	expect_exit 4 skiff --format=json show-ref &&
	json_is ".error.hint | test(\"verify-ref refs/services/api\")" true &&
	expect_exit 4 skiff log --records refs/services/api &&
	expect_exit 4 skiff cat-object -p refs/services/api &&
	test "$(skiff rev-parse refs/meta/trust)" = "$(cd ../repo && skiff rev-parse refs/meta/trust)"
'

test_expect_success 'a non-canonical ref file is rejected' '
	cp -a repo noncanon && cd noncanon &&
	jq . .skiff/refs/services/api >x && mv x .skiff/refs/services/api &&
	expect_exit 4 skiff --format=json verify-ref refs/services/api
'

test_expect_success 'a record signed by a key without the role for that ref fails (role_denied)' '
	skiff keygen bob >/dev/null &&
	mkdir other && skiff --identity bob init other >/dev/null &&
	cd other &&
	printf x >x && oid=$(skiff hash-object -w x) &&
	skiff --identity bob update-ref refs/services/api $oid --create >/dev/null &&
	cd "$TRASH" && cp -a repo foreign && cd foreign &&
	skiff --identity alice trust add-key bob "$KEYS/bob.pub" --role runner >/dev/null &&
	cp -a ../other/.skiff/objects/. .skiff/objects/ &&
	mkdir -p .skiff/refs/services && cp ../other/.skiff/refs/services/api .skiff/refs/services/web &&
	sed -i "s#refs/services/api#refs/services/web#" .skiff/refs/services/web &&
	expect_exit 4 skiff verify-ref refs/services/web &&
	cp ../other/.skiff/refs/services/api .skiff/refs/services/api &&
	expect_exit 4 skiff --format=json verify-ref refs/services/api &&
	json_is .error.code role_denied &&
	expect_exit 4 skiff --format=json rev-parse refs/services/api &&
	json_is .error.code role_denied
'

test_expect_success 'a record by a key unknown to the policy fails (exit 4)' '
	skiff keygen carol >/dev/null &&
	mkdir third && skiff --identity carol init third >/dev/null &&
	cd third && printf y >y && oid=$(skiff hash-object -w y) &&
	skiff --identity carol update-ref refs/services/api $oid --create >/dev/null &&
	cd "$TRASH" && cp -a repo unknown && cd unknown &&
	cp -a ../third/.skiff/objects/. .skiff/objects/ &&
	cp ../third/.skiff/refs/services/api .skiff/refs/services/api &&
	expect_exit 4 skiff --format=json verify-ref refs/services/api &&
	json_is .error.code bad_signature
'

test_expect_success 'a dangling ref (target object missing) fails verification' '
	cp -a repo dangling && cd dangling &&
	o5=$(cat "$TRASH/o5") && rm -f .skiff/objects/${o5:0:2}/${o5:2} &&
	expect_exit 4 skiff verify-ref refs/services/api &&
	expect_exit 4 skiff fsck
'

test_expect_success 'a trust policy changed by hand (not root-signed) is rejected' '
	cp -a repo forged && cd forged &&
	skiff --format=json trust show >"$TRASH/out" &&
	expect_exit 0 true &&
	rec=.skiff/refs/meta/trust &&
	sed -i "s/\"seq\":1/\"seq\":2/" $rec &&
	expect_exit 4 skiff verify-ref refs/meta/trust &&
	expect_exit 4 skiff --format=json update-ref refs/services/api $(cat "$TRASH/o1")
'

test_expect_success 'the untouched repository is still clean' '
	cd repo && skiff --format=json fsck >"$TRASH/out" && json_is .ok true
'

test_done
