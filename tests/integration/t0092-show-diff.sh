#!/bin/bash
# show and diff: every object type shown for people (text) and for agents
# (JSON); diffs of commits (their controls), releases, other documents and
# blobs, as JSON-pointer changes and as libgit2 unified diffs; type
# mismatches, unknown names and tampered objects refused with their codes.
. "$(dirname "$0")/lib.sh"
SPEC="$TEST_SRC/examples/payments-api.yaml"
KEYS="$XDG_CONFIG_HOME/skiff/keys"

test_expect_success 'setup: three commits, two releases (one signed), blobs' '
	setup_repo && cd repo &&
	skiff control set api replicas=3 image=v1 -m "first settings" >/dev/null &&
	skiff control set api replicas=4 mode=fast -m "scale up" >/dev/null &&
	skiff control set api image=v2 -m "roll v2" >/dev/null &&
	skiff --format=json log refs/services/api >"$TRASH/log" &&
	for i in 0 1 2; do jq -r ".commits[$i].commit" "$TRASH/log" >"$TRASH/c$((3 - i))"; done &&
	printf "listen: 8080\n" >app.conf && head -c 300000 /dev/urandom >app.bin &&
	skiff --format=json release create payments-api --spec "$SPEC" --version 1.0.0 \
		--artifact app=app.bin --artifact conf=app.conf >"$TRASH/r1.json" &&
	sed "s/port: 8080 /port: 9090 /" "$SPEC" >spec2.yaml &&
	! cmp -s "$SPEC" spec2.yaml &&
	printf "listen: 9090\n" >app.conf &&
	skiff --format=json release create payments-api --spec spec2.yaml --version 1.0.1 \
		--artifact app=app.bin --artifact conf=app.conf >"$TRASH/r2.json" &&
	skiff keygen ci >/dev/null &&
	skiff --identity alice trust add-key ci "$KEYS/ci.pub" --role release-signer \
		--scope "refs/releases/payments-api/*" >/dev/null &&
	skiff --identity ci release sign payments-api 1.0.0 \
		--release "$(jq -r .release "$TRASH/r1.json")" >/dev/null &&
	printf "hello\nworld\n" >t1.txt && printf "hello\nthere\nworld\n" >t2.txt &&
	printf "a\0b" >bin.dat &&
	for f in t1.txt t2.txt bin.dat; do skiff hash-object -w $f >"$TRASH/$f.oid" || exit 1; done
'

c() { cat "$TRASH/c$1"; }
rel() { jq -r .release "$TRASH/r$1.json"; }

test_expect_success 'show a commit: header lines, message, then its control' '
	cd repo &&
	skiff show $(c 2) >"$TRASH/out" &&
	head -1 "$TRASH/out" | grep -qx "commit $(c 2)" &&
	grep -qx "parent   $(c 1)" "$TRASH/out" &&
	grep -q "^actor    alice ([0-9a-f]\{16\})$" "$TRASH/out" &&
	grep -q "^date     20[0-9-]*T[0-9:]*Z$" "$TRASH/out" &&
	grep -qx "    scale up" "$TRASH/out" &&
	grep -q "^control [0-9a-f]\{64\}$" "$TRASH/out" &&
	grep -qx "setting  replicas=4" "$TRASH/out" && grep -qx "setting  mode=fast" "$TRASH/out" &&
	skiff show $(c 1) | grep -qx "parent   (none: the first commit)"
'

test_expect_success 'show a commit as JSON: oid, type, size, document, actor name, control' '
	cd repo &&
	skiff --format=json show $(c 2) >"$TRASH/out" && one_json_doc &&
	json_is .oid $(c 2) && json_is .type commit &&
	json_is .size "$(skiff cat-object -s $(c 2))" &&
	json_is .document.message "scale up" && json_is .document.parent $(c 1) &&
	json_is .actor_name alice &&
	json_is .control.oid "$(jq -r .document.control "$TRASH/out")" &&
	json_is .control.document.settings.replicas 4 &&
	json_is ".control.document.settings | keys | join(\",\")" image,mode,replicas
'

test_expect_success 'show by ref name and by id prefix resolves as rev-parse does' '
	cd repo &&
	skiff --format=json show refs/services/api >"$TRASH/out" && json_is .oid $(c 3) &&
	skiff --format=json show services/api >"$TRASH/out" && json_is .oid $(c 3) &&
	p=$(c 3) && skiff --format=json show ${p:0:10} >"$TRASH/out" && json_is .oid $(c 3)
'

test_expect_success 'show a control' '
	cd repo &&
	ctl=$(skiff --format=json cat-object -p $(c 3) | jq -r .content.control) &&
	skiff show $ctl >"$TRASH/out" &&
	head -1 "$TRASH/out" | grep -qx "control $ctl" &&
	grep -qx "service  api" "$TRASH/out" && grep -qx "setting  image=v2" "$TRASH/out" &&
	skiff --format=json show $ctl >"$TRASH/out" &&
	json_is .type control && json_is .document.settings.image v2 && json_is .document.service api
'

test_expect_success 'show a release: service, version, artifacts, then the compiled spec' '
	cd repo &&
	skiff show $(rel 1) >"$TRASH/out" &&
	head -1 "$TRASH/out" | grep -qx "release $(rel 1)" &&
	grep -qx "service  payments-api" "$TRASH/out" && grep -qx "version  1.0.0" "$TRASH/out" &&
	grep -qx "artifact app (300000 bytes)" "$TRASH/out" &&
	grep -qx "         sha256 $(sha256sum app.bin | cut -d" " -f1)" "$TRASH/out" &&
	grep -qx "run:" "$TRASH/out" && grep -qx "  port: 8080" "$TRASH/out" &&
	grep -qx "    WORKERS: \"4\"" "$TRASH/out" &&
	skiff --format=json show $(rel 1) >"$TRASH/out" && one_json_doc &&
	json_is .type release && json_is .document.version 1.0.0 && json_is .document.run.port 8080 &&
	json_is ".document.artifacts | length" 2
'

test_expect_success 'show a signature: the signer by name from the trust policy' '
	cd repo &&
	sig=$(skiff rev-parse refs/releases/payments-api/1.0.0) &&
	skiff show refs/releases/payments-api/1.0.0 >"$TRASH/out" &&
	head -1 "$TRASH/out" | grep -qx "signature $sig" &&
	grep -qx "release  $(rel 1)" "$TRASH/out" &&
	grep -q "^signer   ci ([0-9a-f]\{16\})$" "$TRASH/out" &&
	grep -q "^sig      ed25519 [0-9a-f]\{128\}$" "$TRASH/out" &&
	skiff --format=json show $sig >"$TRASH/out" &&
	json_is .type signature && json_is .signer_name ci && json_is .document.release $(rel 1)
'

test_expect_success 'show a ref record and the trust policy' '
	cd repo &&
	rec=$(skiff --format=json log --records refs/services/api | jq -r ".records[0].record") &&
	skiff show $rec >"$TRASH/out" &&
	head -1 "$TRASH/out" | grep -qx "refrecord $rec" &&
	grep -qx "ref      refs/services/api" "$TRASH/out" && grep -qx "seq      3" "$TRASH/out" &&
	grep -qx "oid      $(c 3)" "$TRASH/out" && grep -q "^signer   alice (" "$TRASH/out" &&
	skiff --format=json show $rec >"$TRASH/out" &&
	json_is .type refrecord && json_is .signer_name alice && json_is .document.seq 3 &&
	skiff show refs/meta/trust >"$TRASH/out" &&
	grep -q "^  alice  .*root" "$TRASH/out" &&
	grep -q "^  ci .*release-signer\[refs/releases/payments-api/\*\]" "$TRASH/out" &&
	grep -qx "approval threshold: 1" "$TRASH/out" &&
	skiff --format=json show refs/meta/trust >"$TRASH/out" &&
	json_is .type trust && json_is "[.document.keys[].name] | join(\",\")" alice,ci
'

test_expect_success 'show a file: size, digest, chunk count' '
	cd repo &&
	f=$(jq -r ".artifacts[0].file" "$TRASH/r1.json") &&
	n=$(skiff --format=json cat-object -p $f | jq ".content.chunks | length") &&
	skiff show $f >"$TRASH/out" &&
	head -1 "$TRASH/out" | grep -qx "file $f" &&
	grep -qx "size     300000 bytes" "$TRASH/out" &&
	grep -qx "sha256   $(sha256sum app.bin | cut -d" " -f1)" "$TRASH/out" &&
	grep -qx "chunks   $n" "$TRASH/out" &&
	skiff --format=json show $f >"$TRASH/out" &&
	json_is .type file && json_is .document.size 300000 && json_is ".document.chunks | length" $n
'

test_expect_success 'show a blob: printable text shown, anything else a note; JSON has only its size' '
	cd repo &&
	t=$(cat "$TRASH/t1.txt.oid") && b=$(cat "$TRASH/bin.dat.oid") &&
	skiff show $t >"$TRASH/out" &&
	printf "blob %s\nsize     12 bytes\n\nhello\nworld\n" $t | cmp - "$TRASH/out" &&
	skiff show $b >"$TRASH/out" &&
	grep -q "^(not printable text: skiff cat-object blob $b writes the bytes)$" "$TRASH/out" &&
	! grep -q "a.b" "$TRASH/out" &&
	skiff --format=json show $t >"$TRASH/out" && one_json_doc &&
	json_is "keys | join(\",\")" oid,size,type && json_is .size 12 && json_is .type blob
'

test_expect_success 'show escapes control characters from documents' '
	cd repo &&
	skiff control set esc x=1 -m "$(printf "evil \033[31mred\nline\ttwo")" >/dev/null &&
	skiff show refs/services/esc >"$TRASH/out" &&
	! grep -q "$(printf "\033")" "$TRASH/out" &&
	grep -qF "    evil \\x1b[31mred" "$TRASH/out" &&
	grep -qx "    line	two" "$TRASH/out"
'

test_expect_success 'diff of two commits compares their controls: exact JSON changes' '
	cd repo &&
	skiff --format=json diff $(c 1) $(c 2) >"$TRASH/out" && one_json_doc &&
	json_is .type commit && json_is .a $(c 1) && json_is .b $(c 2) && json_is .identical false &&
	json_is .a_control "$(skiff --format=json cat-object -p $(c 1) | jq -r .content.control)" &&
	json_is .b_control "$(skiff --format=json cat-object -p $(c 2) | jq -r .content.control)" &&
	test "$(jq -cS .changes "$TRASH/out")" = \
	"$(jq -cnS "[{path:\"/settings/mode\",op:\"add\",old:null,new:\"fast\"},{path:\"/settings/replicas\",op:\"replace\",old:\"3\",new:\"4\"}]")" &&
	skiff --format=json diff $(c 3) $(c 1) >"$TRASH/out" &&
	test "$(jq -cS .changes "$TRASH/out")" = \
	"$(jq -cnS "[{path:\"/settings/image\",op:\"replace\",old:\"v2\",new:\"v1\"},{path:\"/settings/mode\",op:\"remove\",old:\"fast\",new:null},{path:\"/settings/replicas\",op:\"replace\",old:\"4\",new:\"3\"}]")"
'

test_expect_success 'diff of two commits as text: a unified diff of the pretty-printed controls' '
	cd repo &&
	skiff diff $(c 1) services/api >"$TRASH/out" &&
	a=$(c 1) && b=$(c 3) &&
	head -2 "$TRASH/out" | tr "\n" " " | grep -qx -- "--- a/${a:0:12} +++ b/${b:0:12} " &&
	grep -q "^@@ -[0-9,]* +[0-9,]* @@" "$TRASH/out" &&
	grep -qx -- "-    \"image\": \"v1\"," "$TRASH/out" &&
	grep -qx -- "+    \"image\": \"v2\"," "$TRASH/out" &&
	grep -qx -- "+    \"mode\": \"fast\"," "$TRASH/out" &&
	grep -qx -- "-    \"replicas\": \"3\"" "$TRASH/out" &&
	grep -qx -- "+    \"replicas\": \"4\"" "$TRASH/out" &&
	grep -qx -- "   \"service\": \"api\"," "$TRASH/out" &&
	! grep -q "$(printf "\033")" "$TRASH/out"
'

test_expect_success 'colour only on a terminal' '
	cd repo &&
	command -v script >/dev/null || { echo "no script(1): skipped"; exit 0; }
	script -qec "$SKIFF_BIN diff $(c 1) $(c 2)" /dev/null >"$TRASH/out" &&
	grep -q "$(printf "\033\\[31m-    \"replicas\"")" "$TRASH/out" &&
	grep -q "$(printf "\033\\[32m+    \"replicas\"")" "$TRASH/out"
'

test_expect_success 'diff of two releases: JSON changes and the text diff' '
	cd repo &&
	skiff --format=json diff $(rel 1) $(rel 2) >"$TRASH/out" && one_json_doc &&
	json_is .type release &&
	json_is "[.changes[] | .path + \" \" + .op] | join(\",\")" \
		"/artifacts/1/file replace,/artifacts/1/sha256 replace,/run/port replace,/version replace" &&
	json_is ".changes[] | select(.path == \"/run/port\") | \"\(.old) \(.new)\"" "8080 9090" &&
	json_is ".changes[] | select(.path == \"/version\") | .new" 1.0.1 &&
	skiff diff $(rel 1) $(rel 2) >"$TRASH/out" &&
	grep -qx -- "-    \"port\": 8080" "$TRASH/out" && grep -qx -- "+    \"port\": 9090" "$TRASH/out" &&
	grep -qx -- "-  \"version\": \"1.0.0\"" "$TRASH/out" &&
	grep -qx -- "+  \"version\": \"1.0.1\"" "$TRASH/out"
'

test_expect_success 'identical objects: no changes, no output, exit 0' '
	cd repo &&
	skiff --format=json diff $(rel 1) $(rel 1) >"$TRASH/out" &&
	json_is ".changes | length" 0 && json_is .identical true &&
	skiff diff $(rel 1) $(rel 1) >"$TRASH/out" && test ! -s "$TRASH/out" &&
	skiff --format=json diff $(c 3) refs/services/api >"$TRASH/out" && json_is .identical true
'

test_expect_success 'keys with ~ and / become escaped JSON-pointer tokens' '
	cd repo &&
	printf "{\"a/b\":1,\"m~n\":{\"x\":[1,2]},\"v\":1}" >o1.json &&
	printf "{\"a/b\":2,\"m~n\":{\"x\":[1]},\"v\":1}" >o2.json &&
	o1=$(skiff hash-object -w -t operation o1.json) && o2=$(skiff hash-object -w -t operation o2.json) &&
	skiff --format=json diff $o1 $o2 >"$TRASH/out" &&
	json_is "[.changes[] | .path + \" \" + .op] | join(\",\")" "/a~1b replace,/m~0n/x/1 remove"
'

test_expect_success 'blobs: text diffed as text, anything else "Binary files ... differ"' '
	cd repo &&
	t1=$(cat "$TRASH/t1.txt.oid") && t2=$(cat "$TRASH/t2.txt.oid") && b=$(cat "$TRASH/bin.dat.oid") &&
	skiff diff $t1 $t2 >"$TRASH/out" &&
	printf -- "--- a/%s\n+++ b/%s\n@@ -1,2 +1,3 @@\n hello\n+there\n world\n" ${t1:0:12} ${t2:0:12} |
		cmp - "$TRASH/out" &&
	skiff diff $t1 $b >"$TRASH/out" &&
	grep -qx "Binary files a/${t1:0:12} and b/${b:0:12} differ" "$TRASH/out" &&
	skiff --format=json diff $t1 $b >"$TRASH/out" &&
	json_is .text false && json_is .identical false && json_is ".changes[0].path" "" &&
	json_is ".changes[0].old.size" 12 && json_is ".changes[0].new.size" 3
'

test_expect_success 'objects of two types: usage error (exit 2) naming both types' '
	cd repo &&
	expect_exit 2 skiff --format=json diff $(rel 1) $(c 1) && one_json_doc &&
	json_is .error.code usage &&
	json_is ".error.message | test(\"is a release and .* is a commit\")" true &&
	expect_exit 2 skiff diff $(c 1) "$(cat "$TRASH/t1.txt.oid")"
'

test_expect_success 'usage errors exit 2' '
	cd repo &&
	expect_exit 2 skiff show &&
	expect_exit 2 skiff show $(c 1) $(c 2) &&
	expect_exit 2 skiff --format=json diff $(c 1) && json_is .error.code usage &&
	expect_exit 2 skiff diff $(c 1) $(c 2) $(c 3) &&
	expect_exit 2 skiff diff --bogus $(c 1)
'

test_expect_success 'unknown objects and refs: not_found (exit 7)' '
	cd repo &&
	expect_exit 7 skiff --format=json show 0000000000000000000000000000000000000000000000000000000000000000 &&
	json_is .error.code not_found &&
	expect_exit 7 skiff show deadbeefdeadbeef &&
	expect_exit 7 skiff show refs/services/nope &&
	expect_exit 7 skiff --format=json diff $(c 1) deadbeefdeadbeef && json_is .error.code not_found
'

test_expect_success 'a tampered object: show and diff fail verification (exit 4)' '
	cp -a repo flipped && cd flipped &&
	r=$(rel 2) && p=.skiff/objects/${r:0:2}/${r:2} && chmod u+w $p &&
	printf "\377\377\377\377" | dd of=$p bs=1 seek=20 conv=notrunc 2>/dev/null &&
	expect_exit 4 skiff --format=json show $r && json_is .error.code corrupt_object &&
	expect_exit 4 skiff --format=json diff $(rel 1) $r && json_is .error.code corrupt_object &&
	cd .. && cp -a repo edited && cd edited &&
	p=.skiff/objects/${r:0:2}/${r:2} && chmod u+w $p &&
	zstd -dc $p | sed "s/\"port\":9090/\"port\":9091/" | zstd -q -c >$p.new && mv $p.new $p &&
	expect_exit 4 skiff --format=json show $r && json_is .error.code corrupt_object &&
	json_is ".error.message | test(\"hash mismatch\")" true &&
	expect_exit 4 skiff diff $(rel 1) $r &&
	t=$(cat "$TRASH/t1.txt.oid") && p=.skiff/objects/${t:0:2}/${t:2} && chmod u+w $p &&
	printf "blob 12\0hello\nWORLD\n" | zstd -q -c >$p &&
	expect_exit 4 skiff --format=json show $t && json_is .error.code corrupt_object &&
	expect_exit 4 skiff diff $t "$(cat "$TRASH/t2.txt.oid")"
'

test_expect_success 'a commit whose control was tampered with fails show and diff (exit 4)' '
	cp -a repo badctl && cd badctl &&
	ctl=$(skiff --format=json cat-object -p $(c 2) | jq -r .content.control) &&
	p=.skiff/objects/${ctl:0:2}/${ctl:2} && chmod u+w $p &&
	zstd -dc $p | sed "s/\"replicas\":\"4\"/\"replicas\":\"9\"/" | zstd -q -c >$p.new && mv $p.new $p &&
	expect_exit 4 skiff show $(c 2) &&
	expect_exit 4 skiff --format=json diff $(c 1) $(c 2) && json_is .error.code corrupt_object
'

test_done
