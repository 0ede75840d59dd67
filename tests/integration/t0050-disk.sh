#!/bin/bash
# Bad environments: a full disk, a read-only repository, and a fault
# injected at every open, write, fsync, rename and link. Each must end in a typed
# error (exit 1, JSON code no_space / read_only / io_error) and leave the
# repository as it was: same files, no temp files, no locks, fsck clean.
. "$(dirname "$0")/lib.sh"

FULL=$TRASH/full
RO=$TRASH/ro/repo
NOTES=$TRASH/notes
: >"$NOTES"
# Mounts made inside a test body outlive its subshell, so the cleanups are
# registered here, where test_done sees them.
test_cleanup "umount '$FULL' || umount -l '$FULL'"
test_cleanup "umount '$RO' || umount -l '$RO'"
test_cleanup "chmod -R u+w '$TRASH'"

is_root() { [ "$(id -u)" -eq 0 ]; }

# no_debris DIR: no temp file, lock file or journal under DIR/.skiff.
no_debris() {
	local left
	left=$(find "$1/.skiff/objects" "$1/.skiff/refs" "$1/.skiff/txn" \
		\( -name "*.tmp*" -o -name "*.lock" -o -type f -path "*/txn/*" \) 2>/dev/null || true)
	[ -z "$left" ] || { echo "left behind in $1: $left" >&2; return 1; }
}

# fsck_clean DIR: fsck reports no problem and no stale lock.
fsck_clean() {
	local o
	o=$(skiff -C "$1" --format=json fsck) || { echo "fsck failed: $o" >&2; return 1; }
	[ "$(jq -r '.ok' <<<"$o")" = true ] &&
	[ "$(jq -r '(.problems | length) + (.warnings | length)' <<<"$o")" = 0 ] ||
		{ echo "fsck: $o" >&2; return 1; }
}

# no_sanitizer_report FILE: ASan/UBSan said nothing (they may keep exit 1).
no_sanitizer_report() {
	! grep -Eq 'Sanitizer|runtime error' "$1" || { cat "$1" >&2; return 1; }
}

# typed_error CODE: $TRASH/out is one JSON error with that code and exit 1.
typed_error() {
	one_json_doc && json_is .error.code "$1" && json_is .error.exit 1 &&
	json_is '.error.message | length > 0' true && no_sanitizer_report "$TRASH/err"
}

test_expect_success 'setup: a key and input files' '
	skiff keygen alice >/dev/null &&
	mkdir in &&
	printf one >in/one && printf two >in/two && printf three >in/three &&
	head -c 1048576 /dev/urandom >in/big &&
	head -c 307200 /dev/urandom >in/blob &&
	for f in one two three; do skiff hash-object in/$f >in/$f.oid; done
'
O1=$(cat "$TRASH/in/one.oid" 2>/dev/null)
O2=$(cat "$TRASH/in/two.oid" 2>/dev/null)
O3=$(cat "$TRASH/in/three.oid" 2>/dev/null)

# --- a full disk --------------------------------------------------------

test_expect_success 'setup: a repository on a small tmpfs (needs root)' '
	is_root || { echo "mounting a tmpfs needs root; cannot produce a full disk"; exit 1; }
	mkdir -p "$FULL" &&
	mount -t tmpfs -o size=8m,mode=0755 skiff-full "$FULL" &&
	skiff init "$FULL" >/dev/null &&
	for f in one two three; do skiff -C "$FULL" hash-object -w in/$f >/dev/null; done &&
	skiff -C "$FULL" update-ref refs/services/api $O1 --create >/dev/null &&
	skiff -C "$FULL" update-ref refs/services/web $O1 --create >/dev/null
'

test_expect_success 'full disk: hash-object -w fails with no_space; no object, no temp file' '
	cd "$FULL" &&
	avail=$(df --output=avail -B1 . | tail -1) &&
	head -c $((avail - 65536)) /dev/zero >filler &&
	before=$(snapshot .skiff) &&
	big=$(skiff hash-object "$TRASH/in/big") &&
	expect_exit 1 skiff --format=json hash-object -w "$TRASH/in/big" &&
	typed_error no_space && json_is .error.retryable true &&
	test ! -e .skiff/objects/${big:0:2}/${big:2} &&
	expect_exit 7 skiff cat-object -t $big &&
	test "$(snapshot .skiff)" = "$before" &&
	no_debris . && fsck_clean .
'

test_expect_success 'full disk: update-ref cannot write its record: no_space, ref unchanged' '
	cd "$FULL" &&
	{ head -c 8388608 /dev/zero >filler2 2>/dev/null || true; } &&
	test "$(df --output=avail -B1 . | tail -1)" -lt 4096 &&
	before=$(snapshot .skiff) &&
	expect_exit 1 skiff --format=json update-ref refs/services/api $O2 --old $O1 &&
	typed_error no_space &&
	test "$(skiff rev-parse refs/services/api)" = $O1 &&
	test "$(snapshot .skiff)" = "$before" &&
	no_debris . && fsck_clean .
'

test_expect_success 'full disk: a transaction fails whole with no_space' '
	cd "$FULL" &&
	before=$(snapshot .skiff) &&
	printf "%s\n" "{\"ref\":\"refs/services/api\",\"new\":\"$O2\",\"old\":\"$O1\"}" \
		"{\"ref\":\"refs/services/web\",\"new\":\"$O3\",\"old\":\"$O1\"}" >"$TRASH/txn-full" &&
	expect_exit 1 skiff --format=json update-ref --stdin <"$TRASH/txn-full" &&
	typed_error no_space &&
	test "$(skiff rev-parse refs/services/api)" = $O1 &&
	test "$(skiff rev-parse refs/services/web)" = $O1 &&
	test "$(snapshot .skiff)" = "$before" &&
	no_debris . && fsck_clean .
'

test_expect_success 'full disk: once space is freed the same commands succeed' '
	cd "$FULL" &&
	rm -f filler filler2 &&
	skiff hash-object -w "$TRASH/in/big" >/dev/null &&
	skiff update-ref refs/services/api $O2 --old $O1 >/dev/null &&
	expect_exit 3 skiff update-ref --stdin <"$TRASH/txn-full" &&
	test "$(skiff rev-parse refs/services/api)" = $O2 &&
	skiff verify-ref --chain refs/services/api >/dev/null &&
	no_debris . && fsck_clean .
'

test_expect_success 'unmount the tmpfs' '
	umount "$FULL"
'

# --- a read-only repository ---------------------------------------------

test_expect_success 'setup: a repository with history, then made read-only' '
	mkdir -p "$RO" &&
	skiff init "$RO" >/dev/null &&
	for f in one two; do skiff -C "$RO" hash-object -w in/$f >/dev/null; done &&
	skiff -C "$RO" update-ref refs/services/api $O1 --create >/dev/null &&
	skiff -C "$RO" update-ref refs/services/api $O2 --old $O1 >/dev/null &&
	snapshot "$RO/.skiff" >"$TRASH/ro.before" &&
	writable() { touch "$RO/.skiff/probe" 2>/dev/null && rm -f "$RO/.skiff/probe"; } &&
	if is_root; then
		{ mount --bind "$RO" "$RO" && mount -o remount,ro,bind "$RO"; } ||
			echo "read-only bind mount failed; trying chmod"
	fi &&
	if writable; then chmod -R a-w "$RO"; fi &&
	if writable; then
		echo "could not make $RO read-only (neither a read-only bind mount nor chmod took)"
		exit 1
	fi
'

test_expect_success 'read-only: update-ref fails with read_only (exit 1); ref unchanged' '
	expect_exit 1 skiff -C "$RO" --format=json update-ref refs/services/api $O1 --old $O2 &&
	typed_error read_only &&
	expect_exit 1 skiff -C "$RO" --format=json update-ref refs/services/new $O1 --create &&
	typed_error read_only &&
	printf "%s\n" "{\"ref\":\"refs/services/api\",\"new\":\"$O1\",\"old\":\"$O2\"}" \
		"{\"ref\":\"refs/services/b\",\"new\":\"$O1\",\"old\":null}" |
		expect_exit 1 skiff -C "$RO" --format=json update-ref --stdin &&
	typed_error read_only &&
	test "$(skiff -C "$RO" rev-parse refs/services/api)" = $O2
'

test_expect_success 'read-only: hash-object -w of new content fails with read_only' '
	expect_exit 1 skiff -C "$RO" --format=json hash-object -w in/three &&
	typed_error read_only &&
	expect_exit 7 skiff -C "$RO" cat-object -t $O3
'

test_expect_success 'read-only: reads still work' '
	test "$(skiff -C "$RO" rev-parse refs/services/api)" = $O2 &&
	skiff -C "$RO" show-ref | grep -q "^$O2 refs/services/api$" &&
	skiff -C "$RO" --format=json verify-ref refs/services/api >"$TRASH/out" &&
	json_is .verified true && json_is .seq 2 &&
	skiff -C "$RO" --format=json verify-ref --chain refs/services/api >"$TRASH/out" &&
	json_is .records_checked 2 &&
	skiff -C "$RO" --format=json log --records refs/services/api >"$TRASH/out" &&
	json_is ".records | length" 2 &&
	test "$(skiff -C "$RO" cat-object -p $O1)" = one &&
	test "$(skiff -C "$RO" cat-object -p refs/services/api)" = two &&
	fsck_clean "$RO"
'

test_expect_success 'read-only: the repository is exactly as it was' '
	snapshot "$RO/.skiff" | cmp - "$TRASH/ro.before" &&
	if mountpoint -q "$RO"; then umount "$RO"; fi && chmod -R u+w "$RO"
'

# --- the fault injector -----------------------------------------------------
#
# Each attempt runs on a fresh copy of a template repository with
# SKIFF_FAULT="OP:N[:ERRNO]" for N = 1, 2, … until the command succeeds.
# A failed attempt must exit 1 with the typed code for the errno and leave
# the refs all old -- or, when the fault hit after the commit point (the
# last directory fsync, or a transaction's renames after its journal is
# durable), all new, with an error that says so instead of "nothing was
# changed". The next command (which recovers journals) sees one of the two
# states; fsck is clean; no temp, lock or journal file remains.

test_expect_success 'setup: the template repository' '
	skiff init tmpl >/dev/null &&
	for f in one two three; do skiff -C tmpl hash-object -w in/$f >/dev/null; done &&
	skiff -C tmpl update-ref refs/services/single $O1 --create >/dev/null &&
	printf "%s\n" "{\"ref\":\"refs/services/a\",\"new\":\"$O1\",\"old\":null}" \
		"{\"ref\":\"refs/services/b\",\"new\":\"$O1\",\"old\":null}" |
		skiff -C tmpl update-ref --stdin >/dev/null &&
	printf "%s\n" "{\"ref\":\"refs/services/a\",\"new\":\"$O2\",\"old\":\"$O1\"}" \
		"{\"ref\":\"refs/services/b\",\"new\":null,\"old\":\"$O1\"}" \
		"{\"ref\":\"refs/services/c\",\"new\":\"$O3\",\"old\":null}" >in/txn &&
	skiff hash-object in/blob >in/blob.oid &&
	no_debris tmpl && fsck_clean tmpl
'
BLOB=$(cat "$TRASH/in/blob.oid" 2>/dev/null)

# run_CMD DIR SPEC: the command under test, with SKIFF_FAULT=SPEC.
run_hash() { SKIFF_FAULT=$2 "$SKIFF_BIN" -C "$1" --format=json hash-object -w "$TRASH/in/blob"; }
run_single() {
	SKIFF_FAULT=$2 "$SKIFF_BIN" -C "$1" --format=json update-ref refs/services/single $O2 --old $O1
}
run_txn() { SKIFF_FAULT=$2 "$SKIFF_BIN" -C "$1" --format=json update-ref --stdin <"$TRASH/in/txn"; }

# state DIR: every live ref with oid and seq, and whether BLOB is stored.
# Being a skiff command, it also rolls forward a committed journal.
state() {
	local refs
	refs=$(skiff -C "$1" --format=json show-ref | jq -r '[.refs[] | "\(.ref)=\(.oid)@\(.seq)"] | join(" ")') ||
		return 1
	if [ -e "$1/.skiff/objects/${BLOB:0:2}/${BLOB:2}" ]; then
		echo "$refs blob"
	else
		echo "$refs -"
	fi
}

# fault_loop CMD OP [ERRNO CODE]
fault_loop() {
	local cmd=$1 op=$2 eno=${3:-} code=${4:-no_space} n=0 rc old new st spec fwd=0
	old=$(state tmpl) &&
	rm -rf w && cp -a tmpl w && run_$cmd w "" >/dev/null && new=$(state w) || return 1
	[ "$old" != "$new" ] || { echo "$cmd changes nothing?" >&2; return 1; }
	while :; do
		n=$((n + 1))
		[ $n -le 400 ] || { echo "$cmd still failing with $op:$n" >&2; return 1; }
		spec=$op:$n${eno:+:$eno}
		rm -rf w && cp -a tmpl w || return 1
		rc=0
		run_$cmd w "$spec" >"$TRASH/out" 2>"$TRASH/err" || rc=$?
		if [ $rc -eq 0 ]; then
			[ $n -gt 1 ] || { echo "$cmd: $spec did not fail: the fault never hit" >&2; return 1; }
			st=$(state w) && [ "$st" = "$new" ] ||
				{ echo "$cmd $spec succeeded but state is $st, want $new" >&2; return 1; }
			no_debris w && fsck_clean w || return 1
			break
		fi
		if [ $rc -ne 1 ] || ! typed_error "$code"; then
			echo "$cmd with SKIFF_FAULT=$spec: exit $rc" >&2
			cat "$TRASH/out" "$TRASH/err" >&2
			return 1
		fi
		st=$(state w) || { echo "$cmd $spec: show-ref failed afterwards" >&2; return 1; }
		if [ "$st" = "$new" ]; then
			fwd=$((fwd + 1))
			if [ $cmd != hash ] && { ! jq -r '.error.message + " " + .error.hint' "$TRASH/out" |
				grep -Eq "updated|committed" ||
				jq -r .error.hint "$TRASH/out" | grep -q "nothing was changed"; }; then
				echo "$cmd $spec: the change happened, but the error does not say so or its hint says nothing was changed:" >&2
				cat "$TRASH/out" >&2
				return 1
			fi
		elif [ "$st" != "$old" ]; then
			echo "$cmd $spec: state neither old nor new:" >&2
			printf "  old: %s\n  new: %s\n  got: %s\n" "$old" "$new" "$st" >&2
			return 1
		fi
		no_debris w && fsck_clean w ||
			{ echo "after $cmd with SKIFF_FAULT=$spec" >&2; return 1; }
	done
	echo "# $cmd $spec: $((n - 1)) failed attempts, $fwd of them after the commit point" >>"$NOTES"
}

for cmd in hash single txn; do
	ops="open write fsync rename"
	# a lone ref update links its lock into .skiff/txn (skiff-refs(5))
	[ $cmd = single ] && ops="$ops link"
	for op in $ops; do
		test_expect_success "fault injector: $cmd, $op:N until it succeeds" "
			fault_loop $cmd $op
		"
	done
	test_expect_success "fault injector: $cmd, write:N:EIO and fsync:N:EIO (io_error)" "
		fault_loop $cmd write EIO io_error && fault_loop $cmd fsync EIO io_error
	"
	test_expect_success "fault injector: $cmd, open:N:EROFS (read_only)" "
		fault_loop $cmd open EROFS read_only
	"
done
sed 's/^# /# (summary) /' "$NOTES"

test_done
