#!/bin/bash
# Every command has a man page, every page renders without warnings, and
# every command's --help names its page.
. "$(dirname "$0")/lib.sh"
MAN="$TEST_SRC/man"

test_expect_success 'every command in the table has a man page' '
	skiff --format=json help >out &&
	for c in $(jq -r ".commands[].command | split(\" \")[0]" out | sort -u); do
		test -f "$MAN/skiff-$c.1" || { echo "missing man/skiff-$c.1"; exit 1; }
	done
'

test_expect_success 'the format pages exist' '
	test -f "$MAN/skiff.1" && test -f "$MAN/skiff-objects.5" && test -f "$MAN/skiff-refs.5"
'

test_expect_success 'every page renders without groff warnings' '
	for p in "$MAN"/*.[15]; do
		w=$(groff -man -Tutf8 -ww -z "$p" 2>&1) &&
		test -z "$w" || { echo "$p: $w"; exit 1; }
	done
'

test_expect_success 'skiff(1) documents every exit code and JSON error code' '
	for code in cas_conflict not_found role_denied bad_signature locked already_exists \
		invalid_input corrupt_object too_large ambiguous rollback insecure_key no_space read_only \
		auth_failed unreachable; do
		grep -q "$code" "$MAN/skiff.1" || { echo "skiff.1 lacks $code"; exit 1; }
	done
'

test_done
