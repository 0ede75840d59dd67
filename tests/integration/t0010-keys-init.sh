#!/bin/bash
# Keys and repository creation: keygen, key list, init, trust show/add-key.
. "$(dirname "$0")/lib.sh"
KEYS="$XDG_CONFIG_HOME/skiff/keys"

test_expect_success 'keygen writes a 0600 private key and a public key' '
	skiff --format=json keygen alice >out &&
	one_json_doc &&
	json_is .name alice &&
	json_is ".id | test(\"^[0-9a-f]{16}$\")" true &&
	json_is ".public | test(\"^skiff-ed25519 [0-9a-f]{64}$\")" true &&
	test "$(stat -c %a "$KEYS/alice.key")" = 600 &&
	test "$(stat -c %a "$KEYS")" = 700 &&
	test -f "$KEYS/alice.pub"
'

test_expect_success 'key id is the first 16 hex digits of SHA-256(public key)' '
	skiff --format=json key list >out &&
	pub=$(jq -r ".keys[0].public" out | cut -d" " -f2) &&
	want=$(printf "$(printf %s "$pub" | sed "s/../\\\\x&/g")" | sha256sum | cut -c1-16) &&
	json_is ".keys[0].id" "$want"
'

test_expect_success 'keygen never overwrites (exit 3) and leaves the key as it was' '
	before=$(sha256sum "$KEYS/alice.key") &&
	expect_exit 3 skiff --format=json keygen alice &&
	json_is .error.code already_exists &&
	test "$(sha256sum "$KEYS/alice.key")" = "$before"
'

test_expect_success 'invalid key names are rejected' '
	expect_exit 1 skiff keygen ../evil &&
	expect_exit 1 skiff keygen .hidden &&
	test ! -e "$XDG_CONFIG_HOME/skiff/evil.key"
'

test_expect_success 'init creates a repository whose trust policy makes the key root and operator' '
	mkdir repo &&
	skiff --format=json init repo >out &&
	json_is .identity.name alice &&
	test -d repo/.skiff/objects &&
	skiff -C repo --format=json trust show >out &&
	json_is ".keys[0].name" alice &&
	json_is "[.keys[0].grants[].role] | sort | join(\",\")" "operator,root" &&
	json_is .seq 1 &&
	json_is ".rules[0].pattern" "refs/meta/**"
'

test_expect_success 'init again is a conflict and changes nothing' '
	before=$(snapshot repo/.skiff) &&
	expect_exit 3 skiff --format=json init repo &&
	json_is .error.code already_exists &&
	test "$(snapshot repo/.skiff)" = "$before"
'

test_expect_success 'a private key readable by others is refused (insecure_key)' '
	chmod 644 "$KEYS/alice.key" &&
	expect_exit 1 skiff -C repo --format=json update-ref refs/x/y 0000000000000000000000000000000000000000000000000000000000000000 &&
	json_is .error.code insecure_key &&
	json_is ".error.hint | test(\"chmod 600\")" true &&
	chmod 600 "$KEYS/alice.key"
'

test_expect_success 'trust add-key grants a scoped role, signed by root' '
	skiff --format=json keygen ci >out &&
	pub=$(jq -r .public out) &&
	skiff -C repo --identity alice --format=json trust add-key ci "$pub" --role release-signer --scope "refs/releases/api/*" >out &&
	json_is .seq 2 &&
	json_is ".key.grants[0].scope" "refs/releases/api/*" &&
	skiff -C repo verify-ref refs/meta/trust --chain
'

test_expect_success 'a key that is not root cannot change the trust policy' '
	skiff keygen mallory >/dev/null &&
	before=$(skiff -C repo rev-parse refs/meta/trust) &&
	expect_exit 4 skiff -C repo --identity ci --format=json trust add-key mallory "$KEYS/mallory.pub" --role root &&
	json_is .error.code role_denied &&
	test "$(skiff -C repo rev-parse refs/meta/trust)" = "$before"
'

test_expect_success 'unknown roles and bad scopes are usage/input errors' '
	expect_exit 2 skiff -C repo --identity alice trust add-key ci "$KEYS/ci.pub" --role god &&
	expect_exit 1 skiff -C repo --identity alice trust add-key ci "$KEYS/ci.pub" --role operator --scope "refs/../x"
'

test_expect_success 'with several keys and none chosen, a signing command says how to choose' '
	mkdir repo2 &&
	expect_exit 1 skiff --format=json init repo2 &&
	json_is .error.code no_identity &&
	test ! -e repo2/.skiff
'

test_done
