#!/bin/bash
# hash-object and cat-object: ids, canonical JSON, typed errors, hash
# verification, the decompression cap, bounded memory for large blobs.
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup' '
	setup_repo && cd repo &&
	printf hello >hello.txt
'

test_expect_success 'hash-object computes SHA-256 over "blob 5\0hello" without a repository' '
	want=$(printf "blob 5\0hello" | sha256sum | cut -d" " -f1) &&
	cd / && test "$(skiff hash-object "$TRASH/repo/hello.txt")" = "$want"
'

test_expect_success 'hash-object -w stores; cat-object reads it back' '
	cd repo &&
	oid=$(skiff hash-object -w hello.txt) &&
	test -f ".skiff/objects/${oid:0:2}/${oid:2}" &&
	test "$(skiff cat-object -t "$oid")" = blob &&
	test "$(skiff cat-object -s "$oid")" = 5 &&
	test "$(skiff cat-object blob "$oid")" = hello &&
	test "$(skiff cat-object -p "${oid:0:8}")" = hello
'

test_expect_success 'stored objects are zstd frames of header and payload' '
	cd repo &&
	oid=$(skiff hash-object hello.txt) &&
	zstd -dc ".skiff/objects/${oid:0:2}/${oid:2}" | cmp - <(printf "blob 5\0hello")
'

test_expect_success 'hash-object --stdin and JSON output' '
	cd repo &&
	printf hello | skiff --format=json hash-object -w --stdin >"$TRASH/out" &&
	one_json_doc &&
	json_is .type blob && json_is .size 5 && json_is .written true
'

test_expect_success 'canonical JSON objects are accepted, non-canonical rejected (exit 1)' '
	cd repo &&
	printf "{\"a\":1,\"v\":1}" >canon.json &&
	printf "{\"v\":1, \"a\":1}" >pretty.json &&
	printf "{\"v\":1,\"a\":1}" >unsorted.json &&
	printf "{\"a\":1.5,\"v\":1}" >float.json &&
	printf "{\"a\":1,\"a\":2,\"v\":1}" >dup.json &&
	printf "{\"a\":\"\xff\",\"v\":1}" >utf8.json &&
	printf "{\"a\":1}" >nov.json &&
	skiff hash-object -w -t control canon.json >/dev/null &&
	for f in pretty unsorted float dup utf8 nov; do
		expect_exit 1 skiff --format=json hash-object -w -t control $f.json &&
		json_is .error.code invalid_input || exit 1
	done
'

test_expect_success '--canonicalize stores the canonical form of human JSON' '
	cd repo &&
	a=$(skiff hash-object -t control canon.json) &&
	b=$(skiff hash-object -w -t control --canonicalize pretty.json) &&
	test "$a" = "$b" &&
	expect_exit 1 skiff hash-object -t control --canonicalize float.json
'

test_expect_success 'cat-object -p pretty-prints JSON; JSON mode embeds the document' '
	cd repo &&
	oid=$(skiff hash-object -w -t control canon.json) &&
	skiff cat-object -p $oid | jq -e ".a == 1" >/dev/null &&
	skiff --format=json cat-object -p $oid >"$TRASH/out" &&
	json_is .content.a 1 && json_is .type control
'

test_expect_success 'blob content in JSON is base64' '
	cd repo &&
	oid=$(skiff hash-object -w hello.txt) &&
	skiff --format=json cat-object -p $oid >"$TRASH/out" &&
	json_is .encoding base64 && json_is .content aGVsbG8=
'

test_expect_success 'a wrong type is invalid_input; unknown type a usage error' '
	cd repo &&
	oid=$(skiff hash-object -w hello.txt) &&
	expect_exit 1 skiff --format=json cat-object control $oid &&
	json_is .error.code invalid_input &&
	expect_exit 2 skiff cat-object frob $oid &&
	expect_exit 2 skiff hash-object -t frob hello.txt
'

test_expect_success 'missing objects: not_found (7); short prefixes are not ids' '
	cd repo &&
	expect_exit 7 skiff --format=json cat-object -p 0000000000000000000000000000000000000000000000000000000000000000 &&
	json_is .error.code not_found &&
	expect_exit 7 skiff cat-object -p 0000000 &&
	expect_exit 7 skiff cat-object -p deadbeefdeadbeef
'

test_expect_success 'a corrupted object fails verification (exit 4)' '
	cd repo &&
	printf "other" >other.txt &&
	a=$(skiff hash-object -w hello.txt) && b=$(skiff hash-object -w other.txt) &&
	pa=.skiff/objects/${a:0:2}/${a:2} && pb=.skiff/objects/${b:0:2}/${b:2} &&
	chmod u+w "$pa" && cp "$pb" "$pa" &&
	expect_exit 4 skiff --format=json cat-object -p $a &&
	json_is .error.code corrupt_object &&
	expect_exit 4 skiff fsck
'

test_expect_success 'a truncated object fails verification (exit 4)' '
	mkdir t && cd t && skiff init >/dev/null &&
	head -c 300000 /dev/urandom >big && oid=$(skiff hash-object -w big) &&
	p=.skiff/objects/${oid:0:2}/${oid:2} && chmod u+w $p &&
	truncate -s 1000 $p &&
	expect_exit 4 skiff --format=json cat-object -p $oid &&
	json_is .error.code corrupt_object
'

test_expect_success 'a decompression bomb hits the cap (exit 4) without eating memory' '
	mkdir bomb && cd bomb && skiff init >/dev/null &&
	head -c 64 /dev/zero >small && oid=$(skiff hash-object -w small) &&
	p=.skiff/objects/${oid:0:2}/${oid:2} && chmod u+w $p &&
	{ printf "blob 64\0"; head -c 200000000 /dev/zero; } | zstd -q -19 --no-check -c >$p &&
	expect_exit 4 /usr/bin/time -o "$TRASH/rss" -f %M "$SKIFF_BIN" --format=json cat-object -p $oid &&
	json_is .error.code too_large &&
	rss_kb=$(tail -1 "$TRASH/rss") &&
	echo "peak RSS ${rss_kb} KiB" &&
	test "$rss_kb" -lt 150000
'

test_expect_success 'a 100 MiB blob is printed and checked in bounded memory' '
	mkdir huge && cd huge && skiff init >/dev/null &&
	head -c 104857600 /dev/urandom >big && oid=$(skiff hash-object -w big) &&
	/usr/bin/time -o "$TRASH/rss" -f %M "$SKIFF_BIN" cat-object blob $oid >out &&
	cmp big out &&
	rss_kb=$(tail -1 "$TRASH/rss") &&
	echo "cat-object peak RSS ${rss_kb} KiB" &&
	test "$rss_kb" -lt 60000 &&
	/usr/bin/time -o "$TRASH/rss" -f %M "$SKIFF_BIN" fsck >/dev/null &&
	rss_kb=$(tail -1 "$TRASH/rss") &&
	echo "fsck peak RSS ${rss_kb} KiB" &&
	test "$rss_kb" -lt 60000 &&
	printf other >other && b=$(skiff hash-object -w other) &&
	p=.skiff/objects/${oid:0:2}/${oid:2} && chmod u+w $p &&
	cp .skiff/objects/${b:0:2}/${b:2} $p &&
	expect_exit 4 skiff cat-object blob $oid &&
	grep -q "hash mismatch" "$TRASH/err" &&
	cd .. && rm -rf huge
'

test_expect_success 'SKIFF_MAX_OBJECT_BYTES lowers the blob cap' '
	cd repo &&
	head -c 2000 /dev/urandom >two-k && oid=$(skiff hash-object -w two-k) &&
	SKIFF_MAX_OBJECT_BYTES=1000 expect_exit 4 skiff --format=json cat-object -p $oid &&
	json_is .error.code too_large
'

test_done
