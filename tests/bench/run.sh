#!/bin/bash
# Benchmarks skiff against anchors measured side by side in the same run
# (hyperfine medians), prints a table and writes tests/bench/out/results.json.
#   BUILD=build tests/bench/run.sh        (`make bench` does this)
# Environment: BUILD (build directory, default build), BENCH_DIR (scratch
# directory on the disk to measure, default $TMPDIR or /tmp), BIG_RECORDS
# (records on the long ref, default 10000), XG_COMMITS (state commits exported by
# export-git, default 10000). Takes 3-8 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SKIFF=$(cd "$BUILD" 2>/dev/null && pwd)/skiff
OUT=$PWD/tests/bench/out
BIG_RECORDS=${BIG_RECORDS:-10000}
[ -x "$SKIFF" ] || { echo "bench: $SKIFF not built (make)" >&2; exit 1; }
for t in hyperfine openssl git jq restic; do
	command -v $t >/dev/null || { echo "bench: $t is missing (scripts/deps.sh)" >&2; exit 1; }
done
mkdir -p "$OUT"
W=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/skiff-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
export HOME=$W/home XDG_CONFIG_HOME=$W/home/.config
unset SKIFF_DIR SKIFF_FORMAT SKIFF_IDENTITY SKIFF_FAULT SKIFF_MAX_OBJECT_BYTES
mkdir -p "$HOME"
LOG=$OUT/hyperfine.log
: >"$LOG"
ROWS=$W/rows.jsonl
: >"$ROWS"

sk() { "$SKIFF" "$@"; }
note() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

# row JSON NAME TARGET I: a result row comparing hyperfine result 0 (skiff)
# with result I (an anchor); TARGET "-" marks an informational row.
row() {
	jq -c --arg name "$2" --arg target "$3" --argjson i "$4" '
		.results as $r | ($r[0].median / $r[$i].median) as $ratio |
		{name: $name, skiff_cmd: $r[0].command, anchor_cmd: $r[$i].command,
		 skiff_median_s: $r[0].median, anchor_median_s: $r[$i].median,
		 skiff_stddev_s: $r[0].stddev, anchor_stddev_s: $r[$i].stddev,
		 runs: ($r[0].times | length), ratio: $ratio,
		 target: (if $target == "-" then null else ($target | tonumber) end),
		 result: (if $target == "-" then "info"
			  elif $ratio <= ($target | tonumber) then "pass" else "miss" end)}' \
		"$1" >>"$ROWS"
}

# bench NAME TARGET HYPERFINE-OPTIONS... -- SKIFF-CMD ANCHOR-CMD [NAME2 ANCHOR2-CMD [TARGET2]]
# Runs the commands side by side in one hyperfine run and records the
# medians and the ratio skiff / anchor (and, given, skiff / anchor2 as row
# NAME2, informational unless TARGET2 is given).
bench() {
	local name=$1 target=$2 json
	shift 2
	local opts=()
	while [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	json=$W/hf.$(wc -l <"$ROWS").json
	note "$name"
	echo "=== $name" >>"$LOG"
	local cmds=(-n skiff "$1" -n anchor "$2")
	[ $# -ge 4 ] && cmds+=(-n anchor2 "$4")
	hyperfine --style basic "${opts[@]}" --export-json "$json" "${cmds[@]}" >>"$LOG" 2>&1 ||
		{ echo "bench: hyperfine failed, see $LOG" >&2; exit 1; }
	row "$json" "$name" "$target" 1
	[ $# -lt 4 ] || row "$json" "$3" "${5:--}" 2
}

sk keygen bench >/dev/null
LOAD_BEFORE=$(cut -d" " -f1-3 /proc/loadavg)

# --- 1. hash-object -w of 256 MiB vs openssl dgst -sha256 -----------------
note "making 256 MiB input files"
head -c 268435456 /dev/urandom >"$W/random.bin"
# base64 text: compressible to about 3/4, like logs or JSON dumps.
# (head closes the pipe early on purpose: no pipefail here.)
(set +o pipefail; head -c 201326592 /dev/urandom | base64 -w 76 | head -c 268435456 >"$W/text.bin")
[ "$(stat -c %s "$W/text.bin")" -eq 268435456 ]
sk init "$W/hrepo" >/dev/null
for f in random text; do
	oid=$(sk hash-object "$W/$f.bin")
	obj=$W/hrepo/.skiff/objects/${oid:0:2}/${oid:2}
	# The object is removed before every run, or the write would be
	# skipped as already present.
	bench "hash-object -w 256 MiB $f" 1.3 --warmup 1 --runs 5 --prepare "rm -f $obj" -- \
		"$SKIFF -C $W/hrepo hash-object -w $W/$f.bin" "openssl dgst -sha256 $W/$f.bin"
done
bench "hash-object (no -w) 256 MiB random" - -N --warmup 1 --runs 5 -- \
	"$SKIFF hash-object $W/random.bin" "openssl dgst -sha256 $W/random.bin"
rm -rf "$W/random.bin" "$W/text.bin" "$W/hrepo"

# --- 2. 1,000 sequential signed update-ref vs git update-ref --------------
note "setting up update-ref repositories"
sk init "$W/urepo" >/dev/null
printf 'a\n' >"$W/a"
printf 'b\n' >"$W/b"
A=$(sk -C "$W/urepo" hash-object -w "$W/a")
B=$(sk -C "$W/urepo" hash-object -w "$W/b")
sk -C "$W/urepo" update-ref refs/services/bench "$A" --create >/dev/null
git init -q "$W/grepo"
GT=$(git -C "$W/grepo" hash-object -t tree -w /dev/null)
GA=$(git -C "$W/grepo" -c user.name=b -c user.email=b@x commit-tree -m a "$GT")
GB=$(git -C "$W/grepo" -c user.name=b -c user.email=b@x commit-tree -m b "$GT")
git -C "$W/grepo" update-ref refs/heads/bench "$GA"
# Each loop makes 1,000 updates A->B->A..., so it ends where it started.
cat >"$W/skiff-loop" <<EOF
for ((i = 0; i < 500; i++)); do
	"$SKIFF" -C "$W/urepo" update-ref refs/services/bench $B --old $A >/dev/null || exit 1
	"$SKIFF" -C "$W/urepo" update-ref refs/services/bench $A --old $B >/dev/null || exit 1
done
EOF
make_git_loop() { # make_git_loop FILE GIT-OPTIONS
	cat >"$1" <<EOF
for ((i = 0; i < 500; i++)); do
	git -C "$W/grepo" $2 update-ref refs/heads/bench $GB $GA || exit 1
	git -C "$W/grepo" $2 update-ref refs/heads/bench $GA $GB || exit 1
done
EOF
}
make_git_loop "$W/git-loop" ""
# git does not fsync refs by default (core.fsync leaves out "reference");
# skiff always does. This row shows git paying for the same durability.
make_git_loop "$W/git-fsync-loop" "-c core.fsync=reference"
bench "1000 x update-ref --old (signed)" 1.2 --warmup 1 --runs 3 -- \
	"bash $W/skiff-loop" "bash $W/git-loop" \
	"1000 x update-ref vs git core.fsync=reference" "bash $W/git-fsync-loop"

# --- 3. cat-object -p of a small object vs git cat-file -p ---------------
GBLOB=$(git -C "$W/grepo" hash-object -w "$W/a")
bench "cat-object -p small object" 1.0 -N --warmup 50 --runs 500 -- \
	"$SKIFF -C $W/urepo cat-object -p $A" "git -C $W/grepo cat-file -p $GBLOB"
bench "process start-up: --version" - -N --warmup 50 --runs 500 -- \
	"$SKIFF --version" "git --version"

# --- 4. rev-parse and verify-ref: 10 records vs BIG_RECORDS --------------
note "building a ref with $BIG_RECORDS records (a loop of update-ref calls)"
sk init "$W/vrepo" >/dev/null
VA=$(sk -C "$W/vrepo" hash-object -w "$W/a")
VB=$(sk -C "$W/vrepo" hash-object -w "$W/b")
grow() { # grow REF N: N records, alternating A and B
	local ref=$1 n=$2 i cur=$VA nxt
	sk -C "$W/vrepo" update-ref "$ref" "$VA" --create >/dev/null
	for ((i = 1; i < n; i++)); do
		[ "$cur" = "$VA" ] && nxt=$VB || nxt=$VA
		sk -C "$W/vrepo" update-ref "$ref" "$nxt" --old "$cur" >/dev/null
		cur=$nxt
	done
}
grow refs/services/short 10
grow refs/services/long "$BIG_RECORDS"
[ "$(sk -C "$W/vrepo" --format=json verify-ref refs/services/long | jq .seq)" -eq "$BIG_RECORDS" ]
bench "rev-parse: $BIG_RECORDS records vs 10" 1.1 -N --warmup 20 --runs 300 -- \
	"$SKIFF -C $W/vrepo rev-parse refs/services/long" "$SKIFF -C $W/vrepo rev-parse refs/services/short"
bench "verify-ref: $BIG_RECORDS records vs 10" 1.1 -N --warmup 20 --runs 300 -- \
	"$SKIFF -C $W/vrepo verify-ref refs/services/long" "$SKIFF -C $W/vrepo verify-ref refs/services/short"
bench "verify-ref --chain: $BIG_RECORDS records vs 10" - -N --warmup 1 --runs 3 -- \
	"$SKIFF -C $W/vrepo verify-ref --chain refs/services/long" \
	"$SKIFF -C $W/vrepo verify-ref --chain refs/services/short"

# --- 5. diff of two releases: under 50 ms (issue 3) -------------------------
# The anchor is the budget itself, `sleep 0.05`, measured as a process like
# skiff; the info row compares with --format=json, which needs no libgit2.
note "diff: two releases"
sk init "$W/drepo" >/dev/null
head -c 1048576 /dev/urandom >"$W/d-app.bin"
printf 'listen: 8080\n' >"$W/d-app.conf"
DA=$(sk -C "$W/drepo" --format=json release create payments-api --spec examples/payments-api.yaml \
	--version 1.0.0 --artifact app="$W/d-app.bin" --artifact conf="$W/d-app.conf" | jq -r .release)
sed 's/port: 8080 /port: 9090 /; s/weight: 25/weight: 30/' examples/payments-api.yaml >"$W/d-spec2.yaml"
printf 'listen: 9090\n' >"$W/d-app.conf"
DB=$(sk -C "$W/drepo" --format=json release create payments-api --spec "$W/d-spec2.yaml" \
	--version 1.0.1 --artifact app="$W/d-app.bin" --artifact conf="$W/d-app.conf" | jq -r .release)
[ "$(sk -C "$W/drepo" --format=json diff "$DA" "$DB" | jq '.changes | length')" -ge 3 ]
bench "diff of two releases (text) vs 50 ms budget" 1.0 -N --warmup 10 --runs 100 -- \
	"$SKIFF -C $W/drepo diff $DA $DB" "sleep 0.05" \
	"diff of two releases: text vs --format=json" "$SKIFF -C $W/drepo --format=json diff $DA $DB"

# --- 6. export-git: 10,000 state commits under 30 s, nothing new under 0.5 s --
# Absolute budgets (issue 3), recorded as rows whose anchor is the budget
# (row_budget); the info rows put them beside git itself importing the same
# history (git fast-import of `git fast-export` of the export) and beside
# the floor of any run, verifying the service's head record.
# row_budget JSON NAME SECONDS: hyperfine result 0 against a fixed budget.
row_budget() {
	jq -c --arg name "$2" --argjson b "$3" '
		.results[0] as $s |
		{name: $name, skiff_cmd: $s.command, anchor_cmd: "budget \($b) s",
		 skiff_median_s: $s.median, anchor_median_s: $b, skiff_stddev_s: $s.stddev,
		 anchor_stddev_s: 0, runs: ($s.times | length), ratio: ($s.median / $b), target: 1.0,
		 result: (if $s.median <= $b then "pass" else "miss" end)}' "$1" >>"$ROWS"
}
XG_COMMITS=${XG_COMMITS:-10000}
note "export-git: building $XG_COMMITS state commits (tests/bench/mkcommits.c)"
cc -std=c11 -D_GNU_SOURCE -O2 -I. -o "$W/mkcommits" tests/bench/mkcommits.c "$BUILD/libskiff.a" \
	$(pkg-config --libs libsodium openssl jansson libzstd libfyaml) -lpthread
sk init "$W/xrepo" >/dev/null
"$W/mkcommits" "$W/xrepo" bench api "$XG_COMMITS"
sk -C "$W/xrepo" export-git "$W/xgit-ref" >/dev/null
[ "$(git -C "$W/xgit-ref" rev-list --count main)" -eq "$XG_COMMITS" ]
git -C "$W/xgit-ref" fast-export main >"$W/x.fi"
note "export-git: first run"
echo "=== export-git first run" >>"$LOG"
hyperfine --style basic --runs 3 --prepare "rm -rf $W/xgit" \
	--prepare "rm -rf $W/xfi && git init -q --bare $W/xfi" \
	--export-json "$W/hf.xg1.json" -n skiff "$SKIFF -C $W/xrepo export-git $W/xgit" \
	-n anchor "git -C $W/xfi fast-import --quiet <$W/x.fi" >>"$LOG" 2>&1 ||
	{ echo "bench: hyperfine failed, see $LOG" >&2; exit 1; }
row_budget "$W/hf.xg1.json" "export-git: $XG_COMMITS commits, first run vs 30 s" 30
row "$W/hf.xg1.json" "export-git first run vs git fast-import" - 1
[ "$(git -C "$W/xgit" rev-parse main)" = "$(git -C "$W/xgit-ref" rev-parse main)" ]
note "export-git: nothing new"
echo "=== export-git nothing new" >>"$LOG"
hyperfine --style basic -N --warmup 3 --runs 30 --export-json "$W/hf.xg2.json" \
	-n skiff "$SKIFF -C $W/xrepo export-git $W/xgit" \
	-n anchor "$SKIFF -C $W/xrepo verify-ref refs/services/api" >>"$LOG" 2>&1 ||
	{ echo "bench: hyperfine failed, see $LOG" >&2; exit 1; }
row_budget "$W/hf.xg2.json" "export-git: nothing new vs 0.5 s" 0.5
row "$W/hf.xg2.json" "export-git nothing new vs verify-ref" - 1
[ "$(sk -C "$W/xrepo" --format=json export-git "$W/xgit" | jq .commits)" -eq 0 ]
rm -rf "$W/xrepo" "$W/xgit" "$W/xgit-ref" "$W/xfi" "$W/x.fi"

# --- 7. release create of 512 MiB vs restic backup and openssl dgst ---------
# Two inputs: random bytes (incompressible) and a tar of the system's
# programs and libraries (a realistic artifact; zstd -1 stores it at about
# half its size). Every run stores into fresh repositories: the prepare
# step moves the last ones aside rather than deleting them (ext4 would
# skip the just-freed inodes when allocating new ones, and the freed
# blocks' discards would run, both inside the next timed run), then syncs
# so that no run starts with another's dirty pages. restic 0.14 makes
# format-2 repositories: content-defined chunks, SHA-256, zstd, encryption.
REL_BYTES=$((${REL_MIB:-512} << 20))
note "release create: making $((REL_BYTES >> 20)) MiB inputs"
head -c "$REL_BYTES" /dev/urandom >"$W/rel-random.bin"
(set +o pipefail; tar -cf - /usr/lib /usr/bin 2>/dev/null | head -c "$REL_BYTES" >"$W/rel-tar.bin")
[ "$(stat -c %s "$W/rel-tar.bin")" -eq "$REL_BYTES" ]
cat >"$W/spec.yaml" <<'EOF'
service: bench
run:
  command: /usr/bin/true
  port: 8080
health:
  path: /healthz
EOF
export RESTIC_PASSWORD=skiff-bench RESTIC_CACHE_DIR=$W/restic-cache
mkdir -p "$W/old"
cat >"$W/rel-prepare" <<EOF
for d in crepo rrepo; do [ ! -e "$W/\$d" ] || mv "$W/\$d" "$W/old/\$d.\$(date +%s%N)"; done
"$SKIFF" init "$W/crepo" >/dev/null && restic init -q --repo "$W/rrepo" >/dev/null && sync
EOF
for f in random tar; do
	bench "release create $((REL_BYTES >> 20)) MiB $f vs restic backup" 1.0 --warmup 1 --runs 5 \
		--prepare "bash $W/rel-prepare" -- \
		"$SKIFF -C $W/crepo release create bench --spec $W/spec.yaml --version 1 --artifact app=$W/rel-$f.bin" \
		"restic -q --repo $W/rrepo backup $W/rel-$f.bin" \
		"release create $((REL_BYTES >> 20)) MiB $f vs openssl dgst" "openssl dgst -sha256 $W/rel-$f.bin" 2.5
	rm -rf "$W/old" "$W/crepo" "$W/rrepo" "$W/restic-cache"
	mkdir -p "$W/old"
done
rm -f "$W/rel-random.bin" "$W/rel-tar.bin"

# --- 8. new chunk data after 1 MiB of a 256 MiB artifact changes ----------
# Bytes a release create stores after 1 MiB in the middle of a 256 MiB
# random artifact is overwritten (issue 3: at most 4 MiB). The chunk
# boundaries decide it, so the figure is a draw over where they fall around
# the edit: the target row is the issue's case (the middle of one random
# file); the info rows give the distribution over DEDUP_TRIALS random
# offsets in the middle half, overwritten and inserted. Each trial runs in
# a copy of the repository holding only the first version (hard links:
# objects are never rewritten in place).
DEDUP_TRIALS=${DEDUP_TRIALS:-30}
note "dedup: 1 MiB changed in 256 MiB ($DEDUP_TRIALS offsets, overwrite and insert)"
head -c 268435456 /dev/urandom >"$W/dd.bin"
sk init "$W/ddrepo" >/dev/null
sk -C "$W/ddrepo" release create bench --spec "$W/spec.yaml" --version 1 --artifact app="$W/dd.bin" >/dev/null
# changed_bytes OFFSET overwrite|insert: bytes newly stored by the next release.
changed_bytes() {
	rm -rf "$W/ddtry"
	cp -al "$W/ddrepo" "$W/ddtry"
	head -c 1048576 /dev/urandom >"$W/dd.patch"
	if [ "$2" = overwrite ]; then
		cp "$W/dd.bin" "$W/dd2.bin"
		dd if="$W/dd.patch" of="$W/dd2.bin" bs=1M seek="$1" oflag=seek_bytes conv=notrunc status=none
	else
		{ head -c "$1" "$W/dd.bin"; cat "$W/dd.patch"; tail -c +$(($1 + 1)) "$W/dd.bin"; } >"$W/dd2.bin"
	fi
	sk -C "$W/ddtry" --format=json release create bench --spec "$W/spec.yaml" --version 2 \
		--artifact app="$W/dd2.bin" | jq .bytes_new
}
# row_bytes NAME BYTES TARGET-BYTES|- [DETAIL-JSON]: a row of bytes stored.
row_bytes() {
	jq -nc --arg name "$1" --argjson b "$2" --arg t "$3" --argjson d "${4:-null}" '
		{name: $name, unit: "bytes", skiff_bytes: $b,
		 anchor_bytes: (if $t == "-" then null else ($t | tonumber) end),
		 ratio: (if $t == "-" then null else $b / ($t | tonumber) end),
		 target: (if $t == "-" then null else 1.0 end), detail: $d,
		 result: (if $t == "-" then "info" elif $b <= ($t | tonumber) then "pass" else "miss" end)}' >>"$ROWS"
}
row_bytes "new data: 1 MiB overwritten mid 256 MiB" "$(changed_bytes 134217728 overwrite)" 4194304
RANDOM=3 # the same offsets every run (the artifact's bytes still differ)
for mode in overwrite insert; do
	label=${mode/overwrite/overwritten}
	label=${label/insert/inserted}
	: >"$W/dd.$mode"
	for ((i = 0; i < DEDUP_TRIALS; i++)); do
		changed_bytes $(((1 << 26) + (RANDOM * 32768 + RANDOM) % (1 << 27))) $mode >>"$W/dd.$mode"
	done
	stats=$(sort -n "$W/dd.$mode" | jq -sc '{trials: length, median: .[length / 2 | floor],
		max: .[-1], mean: (add / length | floor), over_4mib: map(select(. > 4194304)) | length}')
	row_bytes "new data: $DEDUP_TRIALS offsets $label, median" "$(jq .median <<<"$stats")" - "$stats"
	row_bytes "new data: $DEDUP_TRIALS offsets $label, max ($(jq .over_4mib <<<"$stats") > 4 MiB)" \
		"$(jq .max <<<"$stats")" - "$stats"
done
rm -rf "$W/ddrepo" "$W/ddtry" "$W"/dd.* "$W/dd2.bin"

# --- report ------------------------------------------------------------------
jq -s --arg date "$(date -u +%FT%TZ)" --arg cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
	--arg nproc "$(nproc)" --arg mem "$(free -h | awk '/^Mem:/ { print $2 }')" \
	--arg load "$LOAD_BEFORE / $(cut -d" " -f1-3 /proc/loadavg)" \
	--arg fs "$(findmnt -n -o SOURCE,FSTYPE -T "$W" | tr -s ' ')" \
	--arg skiff "$("$SKIFF" --format=json --version 2>/dev/null | jq -r .version)" --arg git "$(git --version)" \
	--arg openssl "$(openssl version)" --arg hyperfine "$(hyperfine --version)" \
	'{date: $date, machine: {cpu: $cpu, nproc: ($nproc | tonumber), memory: $mem, filesystem: $fs,
		   loadavg_before_after: $load},
	  versions: {skiff: $skiff, git: $git, openssl: $openssl, hyperfine: $hyperfine},
	  benchmarks: .}' "$ROWS" >"$OUT/results.json"

fmt() { awk -v s="$1" 'BEGIN { if (s < 1) printf "%.2f ms", s * 1000; else printf "%.3f s", s }'; }
fmt_mib() { awk -v b="$1" 'BEGIN { if (b == "null") print "-"; else printf "%.2f MiB", b / 1048576 }'; }
printf '\n%-48s %12s %12s %7s %7s  %s\n' benchmark "skiff" "anchor" ratio target result
while IFS= read -r row; do
	if [ "$(jq -r '.unit // "s"' <<<"$row")" = bytes ]; then
		a=$(fmt_mib "$(jq -r .skiff_bytes <<<"$row")")
		b=$(fmt_mib "$(jq -r .anchor_bytes <<<"$row")")
	else
		a=$(fmt "$(jq -r .skiff_median_s <<<"$row")")
		b=$(fmt "$(jq -r .anchor_median_s <<<"$row")")
	fi
	printf '%-48s %12s %12s %7s %7s  %s\n' "$(jq -r .name <<<"$row")" "$a" "$b" \
		"$(awk -v r="$(jq -r .ratio <<<"$row")" 'BEGIN { if (r == "null") print "-"; else printf "%.2f", r }')" \
		"$(jq -r '.target // "-"' <<<"$row")" "$(jq -r .result <<<"$row")"
done <"$ROWS"
echo
echo "anchors: openssl dgst -sha256; bash loop of git update-ref; git cat-file -p; the same skiff"
echo "command on a 10-record ref; restic backup into a fresh repository; the issue's 4 MiB of new"
echo "chunk data. Medians; details in $OUT/results.json and $LOG."
