#!/bin/bash
# The CLI contract: help, version, usage errors, one JSON document per run,
# typed errors with documented exit codes.
. "$(dirname "$0")/lib.sh"

test_expect_success 'help lists commands and exits 0' '
	skiff --help >out &&
	grep -q update-ref out &&
	grep -q "trust add-key" out
'

test_expect_success 'command --help shows usage and the man page' '
	skiff update-ref --help >out &&
	grep -q "usage: skiff update-ref REF NEWOID" out &&
	grep -q "skiff-update-ref(1)" out
'

test_expect_success 'help in JSON is one document' '
	skiff --format=json help >out &&
	one_json_doc &&
	json_is ".commands | map(.command) | index(\"fsck\") != null" true
'

test_expect_success 'version' '
	skiff --format=json --version >out &&
	json_is ".version | test(\"^[0-9]+\\\\.[0-9]+\\\\.[0-9]+$\")" true
'

test_expect_success 'no command is a usage error (exit 2)' '
	expect_exit 2 skiff &&
	grep -q "no command given" err
'

test_expect_success 'unknown command: exit 2, JSON error on stdout' '
	expect_exit 2 skiff --format=json frobnicate &&
	one_json_doc &&
	json_is .error.code usage &&
	json_is .error.exit 2 &&
	json_is ".error.message | test(\"frobnicate\")" true
'

test_expect_success 'unknown format is a usage error' '
	expect_exit 2 skiff --format=yaml show-ref
'

test_expect_success 'SKIFF_FORMAT=json selects JSON' '
	SKIFF_FORMAT=json expect_exit 2 skiff nope &&
	json_is .error.code usage
'

test_expect_success 'a group word alone needs a subcommand' '
	expect_exit 2 skiff trust &&
	grep -q "needs a subcommand" err
'

test_expect_success 'outside a repository: no_repository, exit 1' '
	mkdir -p empty && cd empty &&
	expect_exit 1 skiff --format=json show-ref &&
	json_is .error.code no_repository &&
	json_is ".error.hint | test(\"skiff init\")" true
'

test_expect_success '--direct is refused by commands that cannot honour it' '
	expect_exit 2 skiff --format=json --direct fsck &&
	json_is .error.code usage
'

test_expect_success '--dry-run is refused by a mutating command without it' '
	expect_exit 2 skiff --format=json --dry-run op test-run --steps 1 --ledger "$TRASH/ledger" &&
	json_is ".error.message | test(\"nothing was changed\")" true &&
	test ! -e "$TRASH/ledger"
'

test_done
