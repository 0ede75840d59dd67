#!/bin/bash
# Builds the libFuzzer targets (make fuzz) and runs each for a short while
# on a scratch copy of its seed corpus: a smoke run for CI, not a campaign.
#   tests/fuzz/run.sh [SECONDS]      (default 10 per target)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
# A fixed seed makes the CI run reproducible: a failure seen in CI can be
# replayed here. FUZZ_SEED=0 lets libFuzzer pick one (exploration).
seed=${FUZZ_SEED:-1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp}
BUILD=${BUILD:-build}
scripts/deps.sh # clang and its fuzzer runtime are not needed by make check
make --no-print-directory -j2 fuzz BUILD="$BUILD" >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/skiff-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=0
passed=0
for t in tests/fuzz/fuzz_*.c; do
	name=$(basename "$t" .c)
	mkdir -p "$work/$name"
	cp tests/fuzz/corpus/"$name"/* "$work/$name/" 2>/dev/null || true
	if "$BUILD-fuzz/$name" -max_total_time="$secs" -seed="$seed" -rss_limit_mb=2048 \
		-artifact_prefix="$work/$name-" "$work/$name" >"$work/$name.log" 2>&1; then
		runs=$(grep -o 'Done [0-9]* runs' "$work/$name.log" | tail -1)
		echo "fuzz   $name: ${runs:-done}, no crash"
		passed=$((passed + 1))
	else
		echo "fuzz   $name: FAILED"
		tail -40 "$work/$name.log"
		ls "$work"/"$name"-* 2>/dev/null | while read -r a; do echo "crashing input: $(od -An -c "$a" | head -5)"; done
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
