#!/bin/bash
# update-ref: signed records, compare-and-swap, deletes, transactions,
# roles, locks, the one durability barrier of a lone update; show-ref,
# rev-parse, log and verify-ref on the results.
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup' '
	setup_repo && cd repo &&
	printf one >one && printf two >two && printf three >three &&
	skiff hash-object -w one >"$TRASH/o1" && skiff hash-object -w two >"$TRASH/o2" &&
	skiff hash-object -w three >"$TRASH/o3"
'
O1=$(cat "$TRASH/o1" 2>/dev/null); O2=$(cat "$TRASH/o2" 2>/dev/null); O3=$(cat "$TRASH/o3" 2>/dev/null)
cd "$TRASH"

test_expect_success 'create a ref: seq 1, a signed record stored as an object' '
	cd repo &&
	skiff --format=json update-ref refs/services/api $O1 --create >"$TRASH/out" &&
	one_json_doc &&
	json_is ".updates[0].seq" 1 && json_is ".updates[0].oid" $O1 &&
	rec=$(jq -r ".updates[0].record" "$TRASH/out") &&
	test "$(skiff cat-object -t $rec)" = refrecord &&
	skiff --format=json cat-object -p $rec >"$TRASH/out" &&
	json_is .content.ref refs/services/api && json_is .content.prev null &&
	json_is ".content.sig | test(\"^[0-9a-f]{128}$\")" true
'

test_expect_success 'the ref file holds exactly the record object bytes' '
	cd repo &&
	rec=$(skiff --format=json log --records refs/services/api | jq -r ".records[0].record") &&
	printf "refrecord %s\0" $(stat -c %s .skiff/refs/services/api) | cat - .skiff/refs/services/api | sha256sum | grep -q "^$rec "
'

test_expect_success 'create on an existing ref is a conflict (exit 3); ref unchanged' '
	cd repo &&
	expect_exit 3 skiff --format=json update-ref refs/services/api $O2 --create &&
	json_is .error.retryable true &&
	test "$(skiff rev-parse refs/services/api)" = $O1
'

test_expect_success 'CAS with the right --old moves the ref; seq and prev chain' '
	cd repo &&
	skiff --format=json update-ref refs/services/api $O2 --old $O1 >"$TRASH/out" &&
	json_is ".updates[0].seq" 2 && json_is ".updates[0].old" $O1 &&
	skiff --format=json log --records refs/services/api >"$TRASH/out" &&
	json_is ".records | length" 2 &&
	json_is ".records[0].prev == .records[1].record" true
'

test_expect_success 'CAS against a ref that moved: cas_conflict, exit 3, unchanged' '
	cd repo &&
	expect_exit 3 skiff --format=json update-ref refs/services/api $O3 --old $O1 &&
	json_is .error.code cas_conflict &&
	json_is ".error.message | test(\"refs/services/api\")" true &&
	test "$(skiff rev-parse refs/services/api)" = $O2
'

test_expect_success 'a prefix of at least 8 hex digits works for NEWOID and --old' '
	cd repo &&
	skiff update-ref refs/services/api ${O3:0:10} --old ${O2:0:8} >/dev/null &&
	test "$(skiff rev-parse refs/services/api)" = $O3
'

test_expect_success 'a new oid that is not in the store is not_found (exit 7)' '
	cd repo &&
	expect_exit 7 skiff --format=json update-ref refs/services/web 1111111111111111111111111111111111111111111111111111111111111111 --create &&
	json_is .error.code not_found &&
	expect_exit 7 skiff rev-parse refs/services/web
'

test_expect_success 'invalid ref names are rejected before touching the file system' '
	cd repo &&
	before=$(snapshot .skiff) &&
	long=refs/$(head -c 300 /dev/zero | tr "\0" a) &&
	for r in "refs/../x" "refs/a//b" "refs/a.lock" "refs/x/y.lock" "$long" "refs/café" "refs/.x" "refs/-x" "heads/x" "refs/a b"; do
		expect_exit 1 skiff --format=json update-ref "$r" $O1 --create &&
		json_is .error.code invalid_input || exit 1
	done &&
	test "$(snapshot .skiff)" = "$before"
'

test_expect_success 'delete writes a signed tombstone; the chain continues' '
	cd repo &&
	skiff update-ref refs/services/tmp $O1 --create >/dev/null &&
	expect_exit 3 skiff update-ref --delete refs/services/tmp --old $O2 &&
	skiff --format=json update-ref --delete refs/services/tmp --old $O1 >"$TRASH/out" &&
	json_is ".updates[0].deleted" true && json_is ".updates[0].seq" 2 &&
	expect_exit 7 skiff rev-parse refs/services/tmp &&
	expect_exit 7 skiff show-ref refs/services/tmp &&
	skiff verify-ref --chain refs/services/tmp &&
	skiff --format=json update-ref refs/services/tmp $O2 --create >"$TRASH/out" &&
	json_is ".updates[0].seq" 3
'

test_expect_success '--stdin applies a transaction' '
	cd repo &&
	printf "%s\n" "{\"ref\":\"refs/services/a\",\"new\":\"$O1\",\"old\":null}" \
		"{\"ref\":\"refs/services/b\",\"new\":\"$O2\",\"old\":null,\"op\":\"op-1\"}" |
		skiff --format=json update-ref --stdin >"$TRASH/out" &&
	json_is ".updates | length" 2 &&
	test "$(skiff rev-parse refs/services/a)" = $O1 &&
	skiff --format=json log --records refs/services/b >"$TRASH/out" &&
	json_is ".records[0].op" op-1
'

test_expect_success '--stdin is all-or-nothing: one stale expectation changes nothing' '
	cd repo &&
	before=$(snapshot .skiff/refs) &&
	printf "%s\n" "{\"ref\":\"refs/services/a\",\"new\":\"$O3\",\"old\":\"$O1\"}" \
		"{\"ref\":\"refs/services/b\",\"new\":\"$O3\",\"old\":\"$O1\"}" |
		expect_exit 3 skiff --format=json update-ref --stdin &&
	json_is .error.code cas_conflict &&
	test "$(snapshot .skiff/refs)" = "$before"
'

test_expect_success '--stdin rejects malformed lines with the line number' '
	cd repo &&
	printf "%s\n" "{\"ref\":\"refs/services/a\",\"new\":\"$O3\"}" "not json" |
		expect_exit 1 skiff --format=json update-ref --stdin &&
	json_is ".error.message | test(\"line 2\")" true &&
	test "$(skiff rev-parse refs/services/a)" = $O1 &&
	printf "%s\n" "{\"ref\":\"refs/services/a\",\"new\":null}" |
		expect_exit 1 skiff update-ref --stdin
'

test_expect_success 'a leftover lock file: locked, exit 3, with a hint; ref unchanged' '
	cd repo &&
	touch .skiff/refs/services/a.lock &&
	expect_exit 3 skiff --format=json update-ref refs/services/a $O2 --old $O1 &&
	json_is .error.code locked &&
	json_is ".error.hint | test(\"a.lock\")" true &&
	skiff --format=json fsck >"$TRASH/out" &&
	json_is ".warnings[0].kind" stale_lock &&
	rm .skiff/refs/services/a.lock &&
	test "$(skiff rev-parse refs/services/a)" = $O1
'

test_expect_success 'a temporary object left by a dead writer is a fsck warning, not a problem' '
	cd repo &&
	printf junk >.skiff/objects/incoming.tmp.999999.deadbeef &&
	skiff --format=json fsck >"$TRASH/out" &&
	json_is .ok true &&
	json_is "[.warnings[] | select(.kind == \"stale_temp\")] | length" 1 &&
	rm .skiff/objects/incoming.tmp.999999.deadbeef
'

test_expect_success 'show-ref lists live refs; patterns; no match is exit 7' '
	cd repo &&
	skiff --format=json show-ref >"$TRASH/out" &&
	json_is "[.refs[].ref] | index(\"refs/meta/trust\") != null" true &&
	skiff --format=json show-ref "refs/services/*" >"$TRASH/out" &&
	json_is "[.refs[].ref] | join(\",\")" "refs/services/a,refs/services/api,refs/services/b,refs/services/tmp" &&
	skiff show-ref refs/services | grep -q "^$O1 refs/services/a$" &&
	expect_exit 7 skiff show-ref "refs/nothing/*"
'

test_expect_success 'rev-parse: ref, short name, full id, prefix' '
	cd repo &&
	test "$(skiff rev-parse refs/services/a)" = $O1 &&
	test "$(skiff rev-parse services/a)" = $O1 &&
	test "$(skiff rev-parse $O2)" = $O2 &&
	test "$(skiff rev-parse ${O2:0:12})" = $O2 &&
	skiff --format=json rev-parse services/a >"$TRASH/out" &&
	json_is .ref refs/services/a
'

test_expect_success 'an ambiguous prefix is exit 2' '
	cd repo &&
	d=.skiff/objects/${O1:0:2} &&
	cp $d/${O1:2} $d/${O1:2:8}ffffffffffffffffffffffffffffffffffffffffffffffffffffff &&
	expect_exit 2 skiff --format=json rev-parse ${O1:0:10} &&
	json_is .error.code ambiguous &&
	rm $d/${O1:2:8}ffffffffffffffffffffffffffffffffffffffffffffffffffffff
'

test_expect_success 'a key without a role for the ref is refused (role_denied, exit 4)' '
	cd repo &&
	skiff keygen runner1 >/dev/null &&
	skiff --identity alice trust add-key runner1 "$XDG_CONFIG_HOME/skiff/keys/runner1.pub" --role runner >/dev/null &&
	skiff --identity runner1 update-ref refs/runners/api/t1 $O1 --create >/dev/null &&
	expect_exit 4 skiff --identity runner1 --format=json update-ref refs/services/api $O1 &&
	json_is .error.code role_denied &&
	skiff keygen stranger >/dev/null &&
	expect_exit 4 skiff --identity stranger update-ref refs/services/zz $O1 --create &&
	expect_exit 7 skiff rev-parse refs/services/zz
'

test_expect_success 'verify-ref: head and chain' '
	cd repo &&
	skiff --format=json verify-ref refs/services/api >"$TRASH/out" &&
	json_is .verified true && json_is .seq 3 && json_is .signer_name alice &&
	skiff --format=json verify-ref --chain refs/services/api >"$TRASH/out" &&
	json_is .records_checked 3 &&
	expect_exit 7 skiff verify-ref refs/services/none
'

test_expect_success 'log: newest first, -n limits, text has seq and signer' '
	cd repo &&
	skiff --format=json log --records -n 2 refs/services/api >"$TRASH/out" &&
	json_is "[.records[].seq] | join(\",\")" "3,2" &&
	skiff log --records refs/services/api | head -1 | grep -q "alice"
'

test_expect_success '--dry-run checks everything and changes nothing' '
	cd repo &&
	before=$(snapshot .skiff) &&
	cur=$(skiff rev-parse refs/services/api) &&
	skiff --format=json --dry-run update-ref refs/services/api $O1 --old $cur >"$TRASH/out" &&
	json_is .dry_run true && json_is ".updates[0].seq" 4 && json_is ".updates[0].record" null &&
	expect_exit 3 skiff --format=json --dry-run update-ref refs/services/api $O1 --old $O1 &&
	json_is .error.code cas_conflict &&
	expect_exit 4 skiff --identity runner1 --dry-run update-ref refs/services/api $O1 &&
	test "$(snapshot .skiff)" = "$before"
'

# The durability protocol, seen from the system calls: one barrier (a
# syncfs) per lone update, after the lock gets its journal name (a hard
# link in .skiff/txn) and before the rename of the lock over the ref;
# nothing synced after it (recovery has the journal).
test_expect_success 'a lone update makes one barrier: journal link, syncfs, then the rename' '
	cd repo &&
	skiff update-ref refs/services/durable $O1 --create >/dev/null &&
	# (LeakSanitizer cannot run under ptrace: off for this one call)
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -o "$TRASH/trace" \
		-e trace=fsync,fdatasync,syncfs,sync,rename,renameat,renameat2,link,linkat \
		"$SKIFF_BIN" update-ref refs/services/durable $O2 --old $O1 >/dev/null &&
	test "$(skiff rev-parse refs/services/durable)" = $O2 &&
	test "$(grep -cE "(fsync|fdatasync|syncfs|sync)\(" "$TRASH/trace")" = 1 &&
	s=$(grep -nE "syncfs\(" "$TRASH/trace" | cut -d: -f1) &&
	j=$(grep -nE "link(at)?\(.*durable\.lock.*/txn/[0-9a-f]{16}\.ref" "$TRASH/trace" | cut -d: -f1) &&
	r=$(grep -nE "rename.*durable\.lock" "$TRASH/trace" | cut -d: -f1) &&
	test -n "$j" && test -n "$r" && test "$j" -lt "$s" && test "$s" -lt "$r" &&
	test -z "$(ls .skiff/txn)"
'

test_expect_success 'fsck is clean' '
	cd repo &&
	skiff --format=json fsck >"$TRASH/out" &&
	json_is .ok true && json_is ".problems | length" 0
'

test_done
