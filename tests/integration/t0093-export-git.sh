#!/bin/bash
# export-git: service histories and signed releases mirrored into a git
# repository, checked with the real git CLI: one commit per state commit
# and per release with the actor's key name, time, message and trailers;
# files at HEAD and at an older commit; git fsck --strict; incremental
# reruns (nothing new adds nothing, one new commit adds one); the same
# state gives the same git ids; --ref; a tampered object (exit 4) leaves
# the git repository as it was; a directory that is not ours is refused.
. "$(dirname "$0")/lib.sh"
SPEC="$TEST_SRC/examples/payments-api.yaml"
KEYS="$XDG_CONFIG_HOME/skiff/keys"

command -v git >/dev/null || { echo "1..0 # skip: git not installed"; exit 0; }

# The git commit whose Skiff-Commit (or Skiff-Signature) trailer is $2, in repo $1.
git_commit_for() {
	git -C "$1" log --format=%H --grep="^Skiff-[A-Za-z]*: $2\$" main
}

test_expect_success 'setup: two services, an operator, two signed releases' '
	setup_repo && cd repo &&
	skiff keygen ci >/dev/null && skiff keygen ops >/dev/null &&
	skiff --identity alice trust add-key ci "$KEYS/ci.pub" \
		--role release-signer --scope "refs/releases/payments-api/*" >/dev/null &&
	skiff --identity alice trust add-key ops "$KEYS/ops.pub" --role operator >/dev/null &&
	skiff --identity alice --format=json control set -m "first" payments-api replicas=2 \
		>"$TRASH/c1.json" &&
	skiff --identity alice control set -m "web: blue" web color=blue >/dev/null &&
	skiff --identity alice control set -m "scale up" payments-api replicas=3 >/dev/null &&
	skiff --identity ops control set -m "web: green" web color=green >/dev/null &&
	head -c 5000 /dev/urandom >app.bin &&
	for v in 1.0.0 1.1.0; do
		skiff --identity ci release create payments-api --spec "$SPEC" --version $v \
			--artifact app=app.bin --sign >/dev/null || exit 1
	done
'

test_expect_success 'export: one git commit per state commit and release, in a fresh DIR' '
	cd repo &&
	skiff --format=json export-git "$TRASH/exp" >"$TRASH/out.json" &&
	one_json_doc "$TRASH/out.json" &&
	json_is .commits 4 "$TRASH/out.json" && json_is .releases 2 "$TRASH/out.json" &&
	json_is .branch refs/heads/main "$TRASH/out.json" &&
	json_is .previous_head null "$TRASH/out.json" &&
	json_is .head "$(git -C "$TRASH/exp" rev-parse HEAD)" "$TRASH/out.json" &&
	json_is "[.refs[].ref] | sort | join(\",\")" \
		refs/releases/payments-api/1.0.0,refs/releases/payments-api/1.1.0,refs/services/payments-api,refs/services/web \
		"$TRASH/out.json" &&
	test "$(git -C "$TRASH/exp" rev-list --count HEAD)" = 6 &&
	test "$(git -C "$TRASH/exp" symbolic-ref HEAD)" = refs/heads/main &&
	cp "$TRASH/out.json" "$TRASH/first.json"
'

test_expect_success 'authors are the key names, commits carry messages and trailers' '
	cd "$TRASH/exp" &&
	git log --format="%an %ae" main >"$TRASH/authors" &&
	test "$(grep -c "^alice [0-9a-f]\{16\}@skiff$" "$TRASH/authors")" = 3 &&
	test "$(grep -c "^ops [0-9a-f]\{16\}@skiff$" "$TRASH/authors")" = 1 &&
	test "$(grep -c "^ci [0-9a-f]\{16\}@skiff$" "$TRASH/authors")" = 2 &&
	git log --format=%s main >"$TRASH/subjects" &&
	grep -qx "scale up" "$TRASH/subjects" && grep -qx "web: green" "$TRASH/subjects" &&
	grep -qx "release payments-api 1.1.0" "$TRASH/subjects" &&
	c1=$(jq -r .commit "$TRASH/c1.json") &&
	first=$(git_commit_for . $c1) && test -n "$first" &&
	git log -1 --format=%B $first >"$TRASH/msg" &&
	grep -qx "Skiff-Ref: refs/services/payments-api" "$TRASH/msg" &&
	grep -qx "Skiff-Control: $(skiff -C "$TRASH/repo" --format=json cat-object -p $c1 | jq -r .content.control)" "$TRASH/msg" &&
	test "$(git log -1 --format=%at $first)" = \
		"$(skiff -C "$TRASH/repo" --format=json cat-object -p $c1 | jq -r .content.time)"
'

test_expect_success 'state commits appear in parent order, each one a git commit' '
	cd repo &&
	skiff --format=json log refs/services/payments-api | jq -r ".commits[].commit" >"$TRASH/skiff-ids" &&
	git -C "$TRASH/exp" log --format=%B main | sed -n "s/^Skiff-Commit: //p" >"$TRASH/git-ids" &&
	grep -xFf "$TRASH/skiff-ids" "$TRASH/git-ids" >"$TRASH/common" &&
	cmp "$TRASH/skiff-ids" "$TRASH/common"
'

test_expect_success 'files at HEAD and at an older commit; releases as their documents' '
	cd "$TRASH/exp" &&
	git show HEAD:services/web/control.json | jq -e ".settings.color == \"green\"" >/dev/null &&
	git show HEAD:services/payments-api/control.json | jq -e ".settings.replicas == \"3\"" >/dev/null &&
	first=$(git_commit_for . $(jq -r .commit "$TRASH/c1.json")) &&
	git show $first:services/payments-api/control.json | jq -e ".settings.replicas == \"2\"" >/dev/null &&
	expect_exit 128 git show $first:services/web/control.json &&
	git show HEAD:services/web/control.json >"$TRASH/pretty" &&
	test "$(tail -c 1 "$TRASH/pretty" | od -An -c | tr -d " ")" = "\n" &&
	jq -S . "$TRASH/pretty" | cmp - "$TRASH/pretty" &&
	sig=$(skiff -C "$TRASH/repo" rev-parse refs/releases/payments-api/1.1.0) &&
	rel=$(skiff -C "$TRASH/repo" --format=json cat-object -p $sig | jq -r .content.release) &&
	skiff -C "$TRASH/repo" --format=json cat-object -p $rel | jq -S .content >"$TRASH/want" &&
	jq -S . releases/payments-api/1.1.0.json | cmp - "$TRASH/want" &&
	git log -1 --format=%B $(git_commit_for . $sig) | grep -qx "Skiff-Release: $rel"
'

test_expect_success 'git fsck --strict passes; the work tree is clean; git log -p shows each change' '
	cd "$TRASH/exp" &&
	git fsck --strict --no-progress &&
	test -z "$(git status --porcelain)" &&
	git log -p main >"$TRASH/log" &&
	grep -q "^-    \"replicas\": \"2\"" "$TRASH/log" && grep -q "^+    \"replicas\": \"3\"" "$TRASH/log" &&
	grep -q "^+    \"color\": \"green\"" "$TRASH/log" &&
	grep -q "^+++ b/releases/payments-api/1.0.0.json" "$TRASH/log" &&
	test "$(grep -c "^diff --git" "$TRASH/log")" = 6
'

test_expect_success 'a rerun with nothing new adds nothing: same head, no new git object' '
	cd repo &&
	before=$(snapshot "$TRASH/exp/.git/objects") &&
	skiff --format=json export-git "$TRASH/exp" >"$TRASH/out" &&
	json_is .commits 0 && json_is .releases 0 && json_is ".refs | length" 0 &&
	json_is .head "$(jq -r .head "$TRASH/first.json")" &&
	json_is .previous_head "$(jq -r .head "$TRASH/first.json")" &&
	test "$(snapshot "$TRASH/exp/.git/objects")" = "$before" &&
	skiff export-git "$TRASH/exp" | grep -q "^up to date"
'

test_expect_success 'the same state exported into another directory gives the same git ids' '
	cd repo &&
	skiff --format=json export-git "$TRASH/again" >"$TRASH/out" &&
	json_is .head "$(jq -r .head "$TRASH/first.json")"
'

test_expect_success 'a new state commit: the rerun adds exactly one commit on top' '
	cd repo &&
	old=$(git -C "$TRASH/exp" rev-parse HEAD) &&
	skiff --identity alice --format=json control set -m "scale more" payments-api replicas=5 \
		>"$TRASH/c5.json" &&
	skiff --format=json export-git "$TRASH/exp" >"$TRASH/out" &&
	json_is .commits 1 && json_is .releases 0 && json_is .previous_head $old &&
	json_is ".refs[0].ref" refs/services/payments-api && json_is ".refs[0].new" 1 &&
	test "$(git -C "$TRASH/exp" rev-list --count HEAD)" = 7 &&
	test "$(git -C "$TRASH/exp" rev-parse HEAD^)" = $old &&
	git -C "$TRASH/exp" log -1 --format=%B | grep -qx "Skiff-Commit: $(jq -r .commit "$TRASH/c5.json")" &&
	jq -e ".settings.replicas == \"5\"" "$TRASH/exp/services/payments-api/control.json" >/dev/null &&
	test -z "$(git -C "$TRASH/exp" status --porcelain)" &&
	git -C "$TRASH/exp" fsck --strict --no-progress
'

test_expect_success 'without the state file, what was exported is read back from the trailers' '
	cd repo &&
	head=$(git -C "$TRASH/exp" rev-parse HEAD) &&
	rm "$TRASH/exp/.git/skiff-export.json" &&
	skiff --format=json export-git "$TRASH/exp" >"$TRASH/out" &&
	json_is .commits 0 && json_is .head $head &&
	test -f "$TRASH/exp/.git/skiff-export.json" &&
	echo "{not json" >"$TRASH/exp/.git/skiff-export.json" &&
	skiff --format=json export-git "$TRASH/exp" >"$TRASH/out" &&
	json_is .commits 0 && json_is .head $head
'

test_expect_success '--ref exports only the matching refs; a later run adds the rest' '
	cd repo &&
	skiff --format=json export-git "$TRASH/web" --ref "refs/services/web" >"$TRASH/out" &&
	json_is .commits 2 && json_is .releases 0 &&
	test "$(git -C "$TRASH/web" log --format=%s | sort | tr "\n" ,)" = "web: blue,web: green," &&
	test ! -e "$TRASH/web/services/payments-api" &&
	skiff --format=json export-git "$TRASH/web" --ref "refs/releases/**" >"$TRASH/out" &&
	json_is .commits 0 && json_is .releases 2 &&
	skiff --format=json export-git "$TRASH/web" >"$TRASH/out" &&
	json_is .commits 3 && json_is .releases 0 &&
	test "$(git -C "$TRASH/web" rev-list --count HEAD)" = 7 &&
	git -C "$TRASH/web" fsck --strict --no-progress
'

test_expect_success '--ref that matches nothing is not found (exit 7); a bad pattern is usage (exit 2)' '
	cd repo &&
	expect_exit 7 skiff --format=json export-git "$TRASH/none" --ref "refs/services/nope" &&
	one_json_doc && json_is .error.code not_found &&
	test ! -e "$TRASH/none" &&
	expect_exit 2 skiff export-git "$TRASH/none" --ref "services/web" &&
	expect_exit 2 skiff export-git &&
	test ! -e "$TRASH/none"
'

test_expect_success 'a tampered state commit: exit 4, and the git repository is unchanged' '
	cd repo &&
	skiff --identity alice --format=json control set -m "blue again" web color=blue >"$TRASH/cw.json" &&
	c=$(jq -r .commit "$TRASH/cw.json") && p=.skiff/objects/${c:0:2}/${c:2} &&
	cp $p "$TRASH/saved" && chmod u+w $p &&
	c1=$(jq -r .commit "$TRASH/c1.json") && cp .skiff/objects/${c1:0:2}/${c1:2} $p &&
	before=$(snapshot "$TRASH/exp") &&
	expect_exit 4 skiff --format=json export-git "$TRASH/exp" &&
	one_json_doc && json_is .error.code corrupt_object &&
	test "$(snapshot "$TRASH/exp")" = "$before" &&
	expect_exit 4 skiff export-git "$TRASH/fresh" && test ! -e "$TRASH/fresh" &&
	cp "$TRASH/saved" $p &&
	skiff --format=json export-git "$TRASH/exp" >"$TRASH/out" && json_is .commits 1
'

test_expect_success 'a tampered release signature: exit 4, and the git repository is unchanged' '
	cd repo &&
	skiff --identity ci release create payments-api --spec "$SPEC" --version 1.2.0 \
		--artifact app=app.bin --sign >/dev/null &&
	sig=$(skiff rev-parse refs/releases/payments-api/1.2.0) && p=.skiff/objects/${sig:0:2}/${sig:2} &&
	cp $p "$TRASH/saved" && chmod u+w $p &&
	other=$(skiff rev-parse refs/releases/payments-api/1.0.0) &&
	cp .skiff/objects/${other:0:2}/${other:2} $p &&
	before=$(snapshot "$TRASH/exp") &&
	expect_exit 4 skiff export-git "$TRASH/exp" &&
	test "$(snapshot "$TRASH/exp")" = "$before" &&
	cp "$TRASH/saved" $p &&
	skiff --format=json export-git "$TRASH/exp" >"$TRASH/out" && json_is .releases 1 &&
	test -f "$TRASH/exp/releases/payments-api/1.2.0.json"
'

test_expect_success 'a hand-edited work tree file is left alone; the history still moves' '
	cd repo &&
	echo "local edit" >>"$TRASH/exp/services/web/control.json" &&
	skiff --identity alice control set -m "web: red" web color=red >/dev/null &&
	skiff --format=json export-git "$TRASH/exp" >"$TRASH/out" &&
	json_is .commits 1 && json_is ".worktree | startswith(\"not updated\")" true &&
	tail -1 "$TRASH/exp/services/web/control.json" | grep -qx "local edit" &&
	git -C "$TRASH/exp" show HEAD:services/web/control.json | jq -e ".settings.color == \"red\"" >/dev/null &&
	git -C "$TRASH/exp" checkout -q -f main &&
	test -z "$(git -C "$TRASH/exp" status --porcelain)"
'

test_expect_success 'a non-empty directory that is not a git repository is refused (exit 3)' '
	cd repo &&
	mkdir "$TRASH/occupied" && echo keep >"$TRASH/occupied/notes.txt" &&
	expect_exit 3 skiff --format=json export-git "$TRASH/occupied" &&
	one_json_doc && json_is .error.code already_exists &&
	json_is ".error.message | test(\"not empty and not a git repository\")" true &&
	test "$(ls -A "$TRASH/occupied")" = notes.txt &&
	expect_exit 3 skiff export-git "$TRASH/occupied/notes.txt" &&
	grep -q "not a directory" "$TRASH/err"
'

test_expect_success 'a git repository export-git did not write is refused (exit 3)' '
	cd repo &&
	git init -q "$TRASH/theirs" &&
	git -C "$TRASH/theirs" -c user.name=x -c user.email=x@example.com commit -q --allow-empty -m x &&
	before=$(snapshot "$TRASH/theirs") &&
	expect_exit 3 skiff export-git "$TRASH/theirs" &&
	grep -q "export-git did not write" "$TRASH/err" &&
	test "$(snapshot "$TRASH/theirs")" = "$before"
'

test_expect_success 'an empty directory and a fresh git init are fine; HEAD becomes main' '
	cd repo &&
	mkdir "$TRASH/empty" && skiff export-git "$TRASH/empty" >/dev/null &&
	git init -q -b trunk "$TRASH/inited" && skiff export-git "$TRASH/inited" >"$TRASH/out" &&
	grep -q "^exported  7 commits, 3 releases" "$TRASH/out" &&
	test "$(git -C "$TRASH/inited" symbolic-ref HEAD)" = refs/heads/main &&
	test "$(git -C "$TRASH/inited" rev-parse HEAD)" = "$(git -C "$TRASH/empty" rev-parse HEAD)" &&
	test -z "$(git -C "$TRASH/inited" status --porcelain)"
'

test_done
