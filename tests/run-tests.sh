#!/bin/bash
# Runs the test suites against the binaries in $BUILD (default build):
#   tests/run-tests.sh [unit|fuzz|integration]...   (no argument: all three)
# Prints each suite's results and, last, one line "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export SKIFF_BIN="$PWD/$BUILD/skiff"
suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(unit fuzz integration)
passed=0
failed=0
failures=()

count() { # count NAME STATUS PASSED FAILED
	passed=$((passed + $3))
	failed=$((failed + $4))
	if [ "$2" -ne 0 ] || [ "$4" -ne 0 ]; then
		failures+=("$1")
		[ "$4" -eq 0 ] && failed=$((failed + 1))
	fi
}

run_unit() {
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		out=$("$t" 2>&1)
		st=$?
		p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
		f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
		p=${p:-0}
		f=${f:-0}
		[ $st -ne 0 ] && printf '%s\n' "$out" | grep -E 'FAIL|ERROR|error|Assert|Sanitizer|runtime error' | head -40
		printf 'unit   %-28s %3d passed, %d failed\n' "$(basename "$t")" "$p" "$f"
		count "unit/$(basename "$t")" $st "$p" "$f"
	done
}

run_fuzz() {
	for t in "$BUILD"/tests/replay_fuzz_*; do
		[ -x "$t" ] || continue
		name=${t##*/replay_}
		out=$("$t" "tests/fuzz/corpus/$name" 2>&1)
		st=$?
		[ $st -ne 0 ] && printf '%s\n' "$out" | tail -20
		printf 'fuzz   %-28s %s\n' "$name" "$(printf '%s\n' "$out" | tail -1)"
		count "fuzz/$name" $st $((st == 0)) 0
	done
}

run_integration() {
	for t in tests/integration/t[0-9]*.sh; do
		[ -f "$t" ] || continue
		out=$(bash "$t" 2>&1)
		st=$?
		p=$(printf '%s\n' "$out" | sed -n 's/^# passed \([0-9]*\).*/\1/p' | tail -1)
		f=$(printf '%s\n' "$out" | sed -n 's/^# passed [0-9]*, failed \([0-9]*\).*/\1/p' | tail -1)
		p=${p:-0}
		f=${f:-0}
		[ $st -ne 0 ] && printf '%s\n' "$out" | grep -v '^ok ' | tail -60
		printf 'integ  %-28s %3d passed, %d failed\n' "$(basename "$t" .sh)" "$p" "$f"
		count "integration/$(basename "$t")" $st "$p" "$f"
	done
}

for s in "${suites[@]}"; do
	case $s in
	unit) run_unit ;;
	fuzz) run_fuzz ;;
	integration) run_integration ;;
	*) echo "unknown suite $s" >&2; exit 2 ;;
	esac
done
if [ ${#failures[@]} -gt 0 ]; then
	echo "failing: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#failures[@]} -eq 0 ]
