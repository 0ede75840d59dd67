#!/bin/bash
# Benchmarks skiff against anchors measured side by side in the same run
# (hyperfine medians), prints a table and writes tests/bench/out/results.json.
#   BUILD=build tests/bench/run.sh        (`make bench` does this)
# Environment: BUILD (build directory, default build), BENCH_DIR (scratch
# directory on the disk to measure, default $TMPDIR or /tmp), BIG_RECORDS
# (records on the long ref, default 10000), XG_COMMITS (state commits exported by
# export-git, default 10000), REL_MIB (release create artifact size, default
# 512), DEDUP_TRIALS (edit offsets for the new-chunk-data spread, default 30),
# AWS_CLI (the awscli to compare with, default Debian's /usr/bin/aws), OPS_N
# (operations op list reads in section 10, default 10000), AUDIT_EVENTS
# (journal entries for section 11, default 100000).
# STATUS_COMMITS (state commits of the service section 12's status reads, default 10000),
# RUN_MIB (the runner's artifact in section 13, default 100), DEPLOY_N (deploys timed in
# section 14, default 7).
# BENCH_ONLY="N M" runs only those sections (3 needs 2, 9 needs 4).
# Section 9 starts its own RGW (scripts/rgw.sh).
# Takes 13-20 minutes on 2 cores (section 9 about 6).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SKIFF=$(cd "$BUILD" 2>/dev/null && pwd)/skiff
OUT=$PWD/tests/bench/out
BIG_RECORDS=${BIG_RECORDS:-10000}
[ -x "$SKIFF" ] || { echo "bench: $SKIFF not built (make)" >&2; exit 1; }
AWS_CLI=${AWS_CLI:-/usr/bin/aws}
for t in hyperfine openssl git jq restic "$AWS_CLI" radosgw-admin; do
	command -v "$t" >/dev/null || { echo "bench: $t is missing (scripts/deps.sh)" >&2; exit 1; }
done
mkdir -p "$OUT"
W=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/skiff-bench.XXXXXX")
RGW= # section 9's Ceph RGW, stopped on exit
cleanup() {
	[ -z "$RGW" ] || scripts/rgw.sh stop "$RGW" >/dev/null 2>&1
	rm -rf "$W" ${RGW:+"$RGW"}
}
trap cleanup EXIT
export HOME=$W/home XDG_CONFIG_HOME=$W/home/.config
unset SKIFF_DIR SKIFF_FORMAT SKIFF_IDENTITY SKIFF_FAULT SKIFF_MAX_OBJECT_BYTES
mkdir -p "$HOME"
LOG=$OUT/hyperfine.log
: >"$LOG"
ROWS=$W/rows.jsonl
: >"$ROWS"

sk() { "$SKIFF" "$@"; }
# want N: section N runs (BENCH_ONLY="4 9" runs only those; section 9
# reads section 4's long ref, so name both).
want() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }
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
if want 1; then
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
fi

# --- 2. 1,000 sequential signed update-ref vs git update-ref --------------
if want 2; then
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
# Rounds in turn (skiff, git, git with ref fsync; one run each, a warm-up
# round first): a loop takes seconds and this disk's speed drifts over
# minutes, so runs side by side in time keep the ratio honest where
# hyperfine's all-of-one-then-all-of-the-other would not. The row takes
# the medians over the rounds.
note "1000 x update-ref --old (signed), 11 rounds in turn"
echo "=== 1000 x update-ref, rounds in turn" >>"$LOG"
for r in $(seq 0 11); do
	hyperfine --style basic --runs 1 --export-json "$W/hf.ur.$r.json" -n skiff "bash $W/skiff-loop" \
		-n anchor "bash $W/git-loop" -n anchor2 "bash $W/git-fsync-loop" >>"$LOG" 2>&1 ||
		{ echo "bench: hyperfine failed, see $LOG" >&2; exit 1; }
done
jq -s '{results: [range(0; 3) as $i | {command: .[0].results[$i].command,
	times: [.[1:][] | .results[$i].times[0]]} | .median = (.times | sort | .[5]) |
	.stddev = 0]}' $(seq -f "$W/hf.ur.%g.json" 0 11) >"$W/hf.ur.json"
row "$W/hf.ur.json" "1000 x update-ref --old (signed), 11 rounds in turn" 1.2 1
row "$W/hf.ur.json" "1000 x update-ref vs git core.fsync=reference" - 2
fi

# --- 3. cat-object -p of a small object vs git cat-file -p ---------------
if want 3; then
GBLOB=$(git -C "$W/grepo" hash-object -w "$W/a")
bench "cat-object -p small object" 1.0 -N --warmup 50 --runs 500 -- \
	"$SKIFF -C $W/urepo cat-object -p $A" "git -C $W/grepo cat-file -p $GBLOB"
bench "process start-up: --version" - -N --warmup 50 --runs 500 -- \
	"$SKIFF --version" "git --version"
fi

# --- 4. rev-parse and verify-ref: 10 records vs BIG_RECORDS --------------
if want 4; then
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
fi

# --- 5. diff of two releases: under 50 ms (issue 3) -------------------------
if want 5; then
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
fi

# --- 6. export-git: 10,000 state commits under 30 s, nothing new under 0.5 s --
if want 6; then
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
fi

# --- 7. release create of 512 MiB vs restic backup and openssl dgst ---------
if want 7; then
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
fi

# --- 8. new chunk data after 1 MiB of a 256 MiB artifact changes ----------
if want 8; then
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
fi

# --- 9. the S3 remote (issue 4): push, fetch, --direct on a local RGW --------
if want 9; then
# scripts/rgw.sh starts a throw-away Ceph RGW (memstore) on loopback for this
# section; it stops on exit. Anchors run against the same RGW: Debian's awscli
# (`aws s3 cp` / `aws s3 sync` with their defaults: 10 concurrent requests,
# 8 MiB multipart parts) and restic's s3 backend. Every timed run starts
# from an empty bucket: the prepare step removes the bucket with its objects
# (radosgw-admin, past RGW's deferred garbage collection, so that the 4 GiB
# memstore never fills) and makes it again.
note "S3: starting a local RGW (scripts/rgw.sh)"
RGW=$(mktemp -d /tmp/skiff-bench-rgw.XXXXXX) # Ceph's admin sockets want a short path
scripts/rgw.sh start "$RGW" 2>"$W/rgw.log" || { cat "$W/rgw.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$RGW/env" # the endpoint and throw-away credentials (skiff, aws and restic read them)
E=$SKIFF_TEST_S3_ENDPOINT
S3D=$(cd "$BUILD" && pwd)/tools/s3-driver
export AWS_CONFIG_FILE=$W/aws-config AWS_SHARED_CREDENTIALS_FILE=$W/aws-credentials AWS_PAGER= \
	AWS_EC2_METADATA_DISABLED=true RESTIC_PASSWORD=skiff-bench RESTIC_CACHE_DIR=$W/restic-s3-cache
AWS="$AWS_CLI --endpoint-url $E"
cat >"$W/s3-reset" <<EOS
# s3-reset BUCKET: the bucket, empty (removed with its objects, made again)
radosgw-admin -c "$RGW/ceph.conf" bucket rm --bucket="\$1" --purge-objects --bypass-gc >/dev/null 2>&1
"$S3D" "s3://\$1?endpoint=$E" mkbucket >/dev/null
EOS
s3url() { printf 's3://%s/skiff?endpoint=%s' "$1" "$E"; }

# 9a. push of a signed release with a 256 MiB random artifact.
note "S3: a release with a 256 MiB random artifact"
head -c 268435456 /dev/urandom >"$W/p.bin"
sk init "$W/prepo" >/dev/null
sk -C "$W/prepo" trust add-key bench "$XDG_CONFIG_HOME/skiff/keys/bench.pub" --role release-signer \
	--scope "refs/releases/payments-api/*" >/dev/null
sk -C "$W/prepo" release create payments-api --spec examples/payments-api.yaml --version 1.0.0 \
	--artifact app="$W/p.bin" --sign >/dev/null
P_URL=$(s3url bench-push)
cat >"$W/push-prepare" <<EOS
bash "$W/s3-reset" bench-push && rm -rf "$RESTIC_CACHE_DIR" &&
	restic -q -r "s3:$E/bench-push/restic" init >/dev/null && sync
EOS
bench "push: release, 256 MiB random vs aws s3 cp" 1.0 --warmup 1 --runs 5 \
	--prepare "bash $W/push-prepare" -- \
	"$SKIFF -C $W/prepo push '$P_URL'" "$AWS s3 cp --only-show-errors $W/p.bin s3://bench-push/aws/p.bin" \
	"push: release, 256 MiB random vs restic backup" "restic -q -r s3:$E/bench-push/restic backup $W/p.bin" 1.0

# 9b. 1 MiB changed in the middle of the artifact: what the next push sends
# ("bytes" in push's JSON: the stored bytes of the objects uploaded); the
# info row inserts 1 MiB instead (every later chunk boundary moves).
note "S3: push after 1 MiB changed in 256 MiB"
bash "$W/s3-reset" bench-push
sk -C "$W/prepo" push "$P_URL" >/dev/null
head -c 1048576 /dev/urandom >"$W/p.patch"
cp "$W/p.bin" "$W/p1.bin"
dd if="$W/p.patch" of="$W/p1.bin" bs=1M seek=128 conv=notrunc status=none
{ head -c 100663296 "$W/p1.bin"; cat "$W/p.patch"; tail -c +100663297 "$W/p1.bin"; } >"$W/p2.bin"
for v in 1 2; do # 1.0.1: overwritten; 1.0.2: 1.0.1 with an insertion
	sk -C "$W/prepo" release create payments-api --spec examples/payments-api.yaml --version 1.0.$v \
		--artifact app="$W/p$v.bin" --sign >/dev/null
	sk -C "$W/prepo" --format=json push "$P_URL" >"$W/push$v.json"
done
row_bytes "push after 1 MiB overwritten mid 256 MiB: sent" "$(jq .bytes "$W/push1.json")" 5242880 \
	"$(jq -c '{objects, requests}' "$W/push1.json")"
row_bytes "push after 1 MiB inserted at 96 MiB: sent" "$(jq .bytes "$W/push2.json")" - \
	"$(jq -c '{objects, requests}' "$W/push2.json")"
rm -rf "$W/prepo" "$W"/p.bin "$W"/p[12].bin "$W/p.patch" "$RESTIC_CACHE_DIR"
bash "$W/s3-reset" bench-push

# 9c. 2,000 small objects: state commits (a control, a commit and a ref
# record each; tests/bench/mkcommits.c from section 6), pushed to an empty
# bucket and fetched into a copy of the repository made before them. The
# anchor moves the same stored bytes as files (a copy of .skiff/objects).
note "S3: 2,000 small objects"
sk init "$W/sbase" >/dev/null
cp -a "$W/sbase" "$W/srepo"
"$W/mkcommits" "$W/srepo" bench api $(((2000 - $(find "$W/sbase/.skiff/objects" -type f | wc -l)) / 3))
cp -a "$W/srepo/.skiff/objects" "$W/sfiles"
NSMALL=$(find "$W/sfiles" -type f | wc -l)
S_URL=$(s3url bench-small)
bench "push: $NSMALL small objects vs aws s3 sync up" 0.5 --warmup 1 --runs 5 \
	--prepare "bash $W/s3-reset bench-small" -- \
	"$SKIFF -C $W/srepo push '$S_URL'" "$AWS s3 sync --only-show-errors $W/sfiles s3://bench-small/aws"
bash "$W/s3-reset" bench-small
[ "$(sk -C "$W/srepo" --format=json push "$S_URL" | jq .objects)" -eq "$NSMALL" ]
$AWS s3 sync --only-show-errors "$W/sfiles" s3://bench-small/aws
bench "fetch: $NSMALL small objects vs aws s3 sync down" 0.5 --warmup 1 --runs 5 \
	--prepare "rm -rf $W/sfetch $W/sdown && cp -a $W/sbase $W/sfetch && sync" -- \
	"$SKIFF -C $W/sfetch fetch '$S_URL'" "$AWS s3 sync --only-show-errors s3://bench-small/aws $W/sdown"
# The prepare step ran after the last timed fetch: fetch once more to check.
rm -rf "$W/sfetch" && cp -a "$W/sbase" "$W/sfetch"
sk -C "$W/sfetch" fetch "$S_URL" >/dev/null
[ "$(cd "$W/sfetch/.skiff/objects" && find . -type f | sort)" = "$(cd "$W/sfiles" && find . -type f | sort)" ]
[ "$(sk -C "$W/sfetch" rev-parse refs/services/api)" = "$(sk -C "$W/srepo" rev-parse refs/services/api)" ]
[ "$(find "$W/sdown" -type f | wc -l)" -eq "$NSMALL" ]
rm -rf "$W/sbase" "$W/srepo" "$W/sfiles" "$W/sfetch" "$W/sdown"

# 9d. --direct rev-parse of a ref with BIG_RECORDS records (section 4's
# repository, pushed): requests with a warm cache, and wall time beside a
# 10-record ref and beside aws reading the same record.
note "S3: --direct rev-parse, pushing $BIG_RECORDS records"
D_URL=$(s3url bench-direct)
bash "$W/s3-reset" bench-direct
sk -C "$W/vrepo" push "$D_URL" >/dev/null
direct_requests() { sk --direct --remote "$D_URL" --format=json rev-parse "$1" | jq .requests; }
row_count() { # row_count NAME COUNT TARGET|-: a row of requests made
	jq -nc --arg name "$1" --argjson n "$2" --arg t "$3" '
		{name: $name, unit: "requests", skiff_count: $n,
		 anchor_count: (if $t == "-" then null else ($t | tonumber) end),
		 ratio: (if $t == "-" then null else $n / ($t | tonumber) end),
		 target: (if $t == "-" then null else 1.0 end),
		 result: (if $t == "-" then "info" elif $n <= ($t | tonumber) then "pass" else "miss" end)}' >>"$ROWS"
}
row_count "--direct rev-parse $BIG_RECORDS records: requests, cold" "$(direct_requests refs/services/long)" -
row_count "--direct rev-parse $BIG_RECORDS records: requests, warm" "$(direct_requests refs/services/long)" 2
direct_requests refs/services/short >/dev/null
bench "--direct rev-parse: $BIG_RECORDS records vs 10 (warm)" - -N --warmup 5 --runs 50 -- \
	"$SKIFF --direct --remote $D_URL rev-parse refs/services/long" \
	"$SKIFF --direct --remote $D_URL rev-parse refs/services/short" \
	"--direct rev-parse vs aws s3 cp of the record" "$AWS s3 cp s3://bench-direct/skiff/refs/services/long -"
scripts/rgw.sh stop "$RGW" >/dev/null 2>&1
rm -rf "$RGW"
RGW=
fi

# --- 10. the saga engine (issue 5): a step transition; op list of 10,000 -----
if want 10; then
# 10a. Engine overhead per transition: event object, operation object and the
# CAS of refs/operations/<id>, each durable. tests/tools/op-bench.c times 1,000
# transitions one by one with clock_gettime in one process (a create is one
# transition; a cancel of a planned operation is two, counted as two halves;
# neither runs a step action). The target is the issue's absolute 2 ms
# (row_abs); the info row puts it beside one `git update-ref` with
# core.fsync=reference per ref move (a loop of 200 moves, per move: process
# start included, as git has no in-process API).
# row_abs NAME SECONDS BUDGET-SECONDS|- ANCHOR-NAME [DETAIL-JSON]: a row of a
# figure measured outside hyperfine, against a fixed budget or as info.
row_abs() {
	jq -nc --arg name "$1" --argjson s "$2" --arg b "$3" --arg an "$4" --argjson d "${5:-null}" '
		{name: $name, skiff_cmd: "tests/tools/op-bench", anchor_cmd: $an, skiff_median_s: $s,
		 anchor_median_s: (if $b == "-" then null else ($b | tonumber) end),
		 ratio: (if $b == "-" then null else $s / ($b | tonumber) end),
		 target: (if $b == "-" then null else 1.0 end), detail: $d,
		 result: (if $b == "-" then "info" elif $s <= ($b | tonumber) then "pass" else "miss" end)}' >>"$ROWS"
}
OPB=$(cd "$BUILD" && pwd)/tools/op-bench
[ -x "$OPB" ] || { echo "bench: $OPB not built (make)" >&2; exit 1; }
note "engine: 1,000 transitions (tests/tools/op-bench)"
sk init "$W/orepo" >/dev/null
"$OPB" transitions "$W/orepo" bench 1000 >"$W/op-tr.json"
TR_S=$(jq '.median_ms / 1000' "$W/op-tr.json")
row_abs "engine: transition, median of $(jq .n "$W/op-tr.json") vs 2 ms" "$TR_S" 0.002 \
	"budget 2 ms" "$(jq -c . "$W/op-tr.json")"
[ -d "$W/grepo" ] || { git init -q "$W/grepo" &&
	GT=$(git -C "$W/grepo" hash-object -t tree -w /dev/null) &&
	GA=$(git -C "$W/grepo" -c user.name=b -c user.email=b@x commit-tree -m a "$GT") &&
	GB=$(git -C "$W/grepo" -c user.name=b -c user.email=b@x commit-tree -m b "$GT") &&
	git -C "$W/grepo" update-ref refs/heads/bench "$GA"; }
cat >"$W/git-move-loop" <<EOS
for ((i = 0; i < 100; i++)); do
	git -C "$W/grepo" -c core.fsync=reference update-ref refs/heads/bench $GB $GA || exit 1
	git -C "$W/grepo" -c core.fsync=reference update-ref refs/heads/bench $GA $GB || exit 1
done
EOS
echo "=== git update-ref x 200 (core.fsync=reference)" >>"$LOG"
hyperfine --style basic --warmup 1 --runs 5 --export-json "$W/hf.gitmove.json" \
	-n anchor "bash $W/git-move-loop" >>"$LOG" 2>&1 ||
	{ echo "bench: hyperfine failed, see $LOG" >&2; exit 1; }
GIT_MOVE_S=$(jq '.results[0].median / 200' "$W/hf.gitmove.json")
jq -nc --arg name "engine: transition vs git update-ref (fsync ref) per move" --argjson s "$TR_S" \
	--argjson g "$GIT_MOVE_S" '{name: $name, skiff_cmd: "tests/tools/op-bench",
	anchor_cmd: "git -c core.fsync=reference update-ref (x200, per move)", skiff_median_s: $s,
	anchor_median_s: $g, ratio: ($s / $g), target: null, result: "info"}' >>"$ROWS"
rm -rf "$W/orepo"

# 10b. op list over OPS_N (default 10,000) operations made by op-bench
# (services svc-0..9, every tenth cancelled). Warm: the index is built and
# settled (its racy window passed), so a listing reads the index and stats
# only refs/operations/ itself. Target: the issue's 100 ms, as `sleep 0.1`.
# Info rows: `ls -f` of the refs directory; a listing after the directory
# changed (a stat of every ref file, the index rewritten); the first
# listing, which reads every operation and builds the index.
OPS_N=${OPS_N:-10000}
note "op list: creating $OPS_N operations (tests/tools/op-bench)"
sk init "$W/lrepo" >/dev/null
"$OPB" populate "$W/lrepo" bench "$OPS_N" >/dev/null
L="$SKIFF -C $W/lrepo"
IDX=$W/lrepo/.skiff/index/operations
[ "$($L --format=json op list | jq '.operations | length')" -eq "$OPS_N" ]
[ "$($L --format=json op list --state cancelled | jq '.operations | length')" -eq $((OPS_N / 10)) ]
sleep 3 # past the racy margin: the next listing settles the index
$L op list >/dev/null
bench "op list: $OPS_N operations, JSON (warm) vs 100 ms" 1.0 -N --warmup 5 --runs 50 -- \
	"$L --format=json op list" "sleep 0.1" \
	"op list: $OPS_N operations, JSON vs ls -f of the refs" "ls -f $W/lrepo/.skiff/refs/operations"
bench "op list --state cancelled: $OPS_N operations (warm) vs 100 ms" 1.0 -N --warmup 5 --runs 50 -- \
	"$L op list --state cancelled" "sleep 0.1"
bench "op list: $OPS_N operations, directory changed vs 100 ms" - -N --warmup 2 --runs 30 \
	--prepare "touch $W/lrepo/.skiff/refs/operations" -- "$L --format=json op list" "sleep 0.1"
bench "op list: $OPS_N operations, first run (index build) vs 100 ms" - -N --runs 5 \
	--prepare "rm -f $IDX" -- "$L --format=json op list" "sleep 0.1"
rm -rf "$W/lrepo"
fi

# --- 11. audit --since over 100,000 events scales with what it prints (issue 5) --
if want 11; then
# Two journals of real signed ref moves (tests/tools/audit-fill.c: sk_refs_update
# in one process, 10 refs per transaction, every entry verifiable against its
# refrecord object): AUDIT_EVENTS (default 100,000) and 1,000. Each ends with
# 100 moves made after a mark at least a second after the rest, so the same
# `audit --since MARK` prints 100 entries, each checked against its record.
# Anchor: the 1,000-event journal; target 1.5x. Info: `audit -n 100` on the big
# journal, which reads the whole history (what --since avoids).
AUDIT_EVENTS=${AUDIT_EVENTS:-100000}
[ -x "$BUILD/tools/audit-fill" ] || { echo "bench: $BUILD/tools/audit-fill not built (make)" >&2; exit 1; }
audit_journal() { # audit_journal DIR EVENTS: prints the mark
	sk init "$1" >/dev/null
	"$BUILD/tools/audit-fill" "$1" bench $(($2 - 101)) 10 # + init's entry + 100 below
	sleep 2
	local mark
	mark=$(date -u +%s)
	sleep 1
	"$BUILD/tools/audit-fill" "$1" bench 100 10
	echo "$mark"
}
note "audit: $AUDIT_EVENTS real signed ref moves (tests/tools/audit-fill.c)"
AM_BIG=$(audit_journal "$W/abig" "$AUDIT_EVENTS")
AM_SMALL=$(audit_journal "$W/asmall" 1000)
[ "$(cat "$W"/abig/.skiff/audit/*.jsonl | wc -l)" -eq "$AUDIT_EVENTS" ]
[ "$(sk -C "$W/abig" --format=json audit --since "$AM_BIG" | jq '.entries | length')" -eq 100 ]
[ "$(sk -C "$W/asmall" --format=json audit --since "$AM_SMALL" | jq '.entries | length')" -eq 100 ]
bench "audit --since (100 printed): $AUDIT_EVENTS events vs 1,000" 1.5 -N --warmup 5 --runs 100 -- \
	"$SKIFF -C $W/abig audit --since $AM_BIG" "$SKIFF -C $W/asmall audit --since $AM_SMALL" \
	"audit -n 100 (whole history read) vs --since" "$SKIFF -C $W/abig audit -n 100"
fi

# --- 12. status on a service with 10,000 history commits and 4 targets (issue 6) --
if want 12; then
# refs/services/api: 4 targets (skiff target add), then STATUS_COMMITS (default
# 10,000) state commits (tests/bench/mkcommits.c), a signed report per target
# (tests/tools/report-write, a runner key) and one finished operation. status
# reads heads only (head commit and control, release records, 4 report heads,
# the op index), so history does not count. Target: the issue's 20 ms, as
# `sleep 0.02`; info: the same on a 10-commit service.
STATUS_COMMITS=${STATUS_COMMITS:-10000}
[ -x "$BUILD/tools/report-write" ] || { echo "bench: $BUILD/tools/report-write not built (make)" >&2; exit 1; }
[ -x "$W/mkcommits" ] || cc -std=c11 -D_GNU_SOURCE -O2 -I. -o "$W/mkcommits" tests/bench/mkcommits.c \
	"$BUILD/libskiff.a" $(pkg-config --libs libsodium openssl jansson libzstd libfyaml expat) -ldl -lpthread
export SKIFF_IDENTITY=bench # a runner key joins the keys below
status_repo() { # status_repo DIR COMMITS
	sk init "$1" >/dev/null
	for t in t1 t2 t3 t4; do sk -C "$1" target add api $t --addr 127.0.0.1:$((9000 + ${t#t})) >/dev/null; done
	"$W/mkcommits" "$1" bench api "$2"
	[ -f "$HOME/.config/skiff/keys/brunner.key" ] || sk keygen brunner >/dev/null
	sk -C "$1" trust add-key brunner "$HOME/.config/skiff/keys/brunner.pub" --role runner \
		--scope "refs/runners/api/*" >/dev/null
	for t in t1 t2 t3 t4; do
		jq -n --arg t $t --argjson now "$(($(date +%s) * 1000))" '{addr: "127.0.0.1:9001",
			health: {fails: 0, last_ms: 2, passes: 9}, logs: {lines: 0, patterns: []}, pid: 1,
			reason: "", release: "v1", release_oid: null, restarts: 0, service: "api",
			state: "healthy", target: $t, time_ms: $now, trace: null, v: 1}' |
		"$BUILD/tools/report-write" "$1" brunner
	done
	sk -C "$1" control set api POOL=4 >/dev/null # one finished operation
}
note "status: $STATUS_COMMITS state commits x 4 targets"
status_repo "$W/strepo" "$STATUS_COMMITS"
status_repo "$W/stsmall" 10
[ "$(sk -C "$W/strepo" --format=json status api | jq '.targets | length')" -eq 4 ]
[ "$(sk -C "$W/strepo" --format=json status api | jq '[.targets[].report.state] | unique | join(",")')" = '"healthy"' ]
bench "status: $STATUS_COMMITS commits x 4 targets, JSON vs 20 ms" 1.0 -N --warmup 5 --runs 100 -- \
	"$SKIFF -C $W/strepo --format=json status api" "sleep 0.02" \
	"status: $STATUS_COMMITS commits vs 10 commits" "$SKIFF -C $W/stsmall --format=json status api"
rm -rf "$W/strepo" "$W/stsmall"
fi

if want 13; then
# skiff-runner --verify-only: the signed release (ref record, signature,
# signer role, document), every chunk hashed as it is read, the whole
# artifact's SHA-256, and the file written into a fresh release tree
# (removed before each run). Anchor: openssl dgst -sha256 of the same
# file (page cache warm for both); target 2x.
RUN_MIB=${RUN_MIB:-100}
note "runner: a ${RUN_MIB} MiB release"
RR=$W/runrepo
sk init "$RR" >/dev/null
sk -C "$RR" trust add-key bench "$XDG_CONFIG_HOME/skiff/keys/bench.pub" --role release-signer \
	--scope "refs/releases/big/*" >/dev/null
head -c $((RUN_MIB << 20)) /dev/urandom >"$W/art.bin"
printf 'service: big\nrun:\n  command: app\n  port: 8080\nhealth:\n  path: /health\n' >"$W/big.yaml"
sk -C "$RR" release create big --spec "$W/big.yaml" --version v1 --artifact app="$W/art.bin" \
	--sign >/dev/null
RUNNER=$(dirname "$SKIFF")/skiff-runner
"$RUNNER" --service big --target t1 --repo "$RR" --verify-only --release v1 | jq -e .verified >/dev/null
cmp "$W/art.bin" "$RR/.skiff/run/big/t1/releases/v1/app"
bench "runner verify + extract ${RUN_MIB} MiB vs openssl dgst" 2.0 --warmup 1 --runs 10 \
	--prepare "rm -rf $RR/.skiff/run/big/t1/releases" -- \
	"$RUNNER --service big --target t1 --repo $RR --verify-only --release v1" \
	"openssl dgst -sha256 $W/art.bin"
rm -rf "$RR" "$W/art.bin"
fi

if want 14; then
# The control plane's own time in a 4-step canary with zero bake on the
# local stack (scripts/stack.sh: four runners, HAProxy): the wall time of
# `skiff deploy --steps 5,25,50,100 --bake 0` minus the time its steps
# spent waiting for workloads to start (wait-healthy's and promote's
# waited_ms facts). Releases b1/b2 are the demo service with
# min_requests 0, so an unloaded zero-length bake can advance. DEPLOY_N
# deploys alternate b2, b1, ...; the row is their median against the
# issue's 2 s.
DEPLOY_N=${DEPLOY_N:-7}
note "deploy: 4-step canary, zero bake, $DEPLOY_N deploys"
(
	. scripts/stack.sh
	trap stack_down EXIT
	stack_up "$W/dstack" "$(dirname "$SKIFF")" >/dev/null
	sed 's/min_requests: 50/min_requests: 0/' examples/hello.yaml >"$W/b.yaml"
	for v in b1 b2; do
		"$SKIFF" -C "$W/dstack" --identity ci release create hello --spec "$W/b.yaml" \
			--version $v --artifact "skiff-example-httpd=$(dirname "$SKIFF")/examples/skiff-example-httpd" \
			--sign >/dev/null
	done
	"$SKIFF" -C "$W/dstack" deploy hello --release b1 --wait 30s >/dev/null
	for i in $(seq 1 "$DEPLOY_N"); do
		v=b$((1 + i % 2))
		t0=$(date +%s%N)
		"$SKIFF" -C "$W/dstack" --format=json deploy hello --release $v --steps 5,25,50,100 \
			--bake 0 --wait 30s >"$W/d.json"
		t1=$(date +%s%N)
		jq -e '.state == "succeeded"' "$W/d.json" >/dev/null
		jq --argjson wall $(((t1 - t0) / 1000000)) \
			'$wall - ([.steps[] | (.result.waited_ms // 0) + (.result.runners.waited_ms // 0)] | add)' \
			"$W/d.json"
	done >"$W/overhead_ms"
)
jq -c -s --arg n "$DEPLOY_N" 'sort as $s | ($s[$s | length / 2 | floor] / 1000) as $m |
	{name: "deploy: 4-step canary, zero bake, overhead vs 2 s", skiff_cmd:
	 "skiff deploy hello --steps 5,25,50,100 --bake 0 (wall minus waited_ms)",
	 anchor_cmd: "the issue'"'"'s 2 s", skiff_median_s: $m, anchor_median_s: 2,
	 skiff_stddev_s: null, anchor_stddev_s: null, runs: ($n | tonumber), ratio: ($m / 2),
	 target: 1.0, result: (if $m <= 2 then "pass" else "miss" end),
	 samples_ms: $s}' "$W/overhead_ms" >>"$ROWS"
fi

# --- report ------------------------------------------------------------------
jq -s --arg date "$(date -u +%FT%TZ)" --arg cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
	--arg nproc "$(nproc)" --arg mem "$(free -h | awk '/^Mem:/ { print $2 }')" \
	--arg load "$LOAD_BEFORE / $(cut -d" " -f1-3 /proc/loadavg)" \
	--arg fs "$(findmnt -n -o SOURCE,FSTYPE -T "$W" | tr -s ' ')" \
	--arg skiff "$("$SKIFF" --format=json --version 2>/dev/null | jq -r .version)" --arg git "$(git --version)" \
	--arg openssl "$(openssl version)" --arg hyperfine "$(hyperfine --version)" \
	--arg restic "$(restic version)" --arg aws "$("$AWS_CLI" --version 2>&1)" \
	--arg radosgw "$(radosgw --version 2>/dev/null)" \
	'{date: $date, machine: {cpu: $cpu, nproc: ($nproc | tonumber), memory: $mem, filesystem: $fs,
		   loadavg_before_after: $load},
	  versions: {skiff: $skiff, git: $git, openssl: $openssl, hyperfine: $hyperfine, restic: $restic,
		     awscli: $aws, radosgw: $radosgw},
	  benchmarks: .}' "$ROWS" >"$OUT/results.json"

fmt() { awk -v s="$1" 'BEGIN { if (s < 1) printf "%.2f ms", s * 1000; else printf "%.3f s", s }'; }
fmt_mib() { awk -v b="$1" 'BEGIN { if (b == "null") print "-"; else printf "%.2f MiB", b / 1048576 }'; }
printf '\n%-48s %12s %12s %7s %7s  %s\n' benchmark "skiff" "anchor" ratio target result
while IFS= read -r row; do
	if [ "$(jq -r '.unit // "s"' <<<"$row")" = bytes ]; then
		a=$(fmt_mib "$(jq -r .skiff_bytes <<<"$row")")
		b=$(fmt_mib "$(jq -r .anchor_bytes <<<"$row")")
	elif [ "$(jq -r '.unit // "s"' <<<"$row")" = requests ]; then
		a="$(jq -r .skiff_count <<<"$row") req"
		b=$(jq -r 'if .anchor_count then "\(.anchor_count) req" else "-" end' <<<"$row")
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
echo "chunk data; aws s3 cp / sync and restic backup to the same local RGW; the issue's 5 MiB and"
echo "2 requests. Medians; details in $OUT/results.json and $LOG."
