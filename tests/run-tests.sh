#!/bin/bash
# Runs the test suites against the binaries in $BUILD (default build):
#   tests/run-tests.sh [unit|fuzz|integration]...   (no argument: all three)
# Prints each suite's results and, last, one line "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export SKIFF_BIN="$PWD/$BUILD/skiff"
# only read by sanitizer builds: known leaks inside third-party libraries
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp}
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

# run_one KIND NAME PASS_SED FAIL_SED SHOW_FILTER CMD...: runs CMD, reads its
# pass and fail counts from its output with the two sed patterns, prints a
# line and adds to the totals; on failure shows the output lines that
# SHOW_FILTER (an egrep pattern, "-v PATTERN" to exclude) keeps.
run_one() {
	local kind=$1 name=$2 psed=$3 fsed=$4 show=$5 out st p f
	shift 5
	out=$("$@" 2>&1)
	st=$?
	p=$(printf '%s\n' "$out" | sed -n "$psed" | tail -1)
	f=$(printf '%s\n' "$out" | sed -n "$fsed" | tail -1)
	p=${p:-0}
	f=${f:-0}
	if [ $st -ne 0 ]; then
		case $show in
		-v\ *) printf '%s\n' "$out" | grep -Ev "${show#-v }" | tail -60 ;;
		*) printf '%s\n' "$out" | grep -E "$show" | tail -60 ;;
		esac
	fi
	printf '%-6s %-28s %3d passed, %d failed\n' "$kind" "$name" "$p" "$f"
	count "$kind/$name" $st "$p" "$f"
}

run_unit() {
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		run_one unit "$(basename "$t")" 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' \
			's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' \
			'FAIL|ERROR|error|Assert|Sanitizer|runtime error' "$t"
	done
}

run_fuzz() {
	for t in "$BUILD"/tests/replay_fuzz_*; do
		[ -x "$t" ] || continue
		name=${t##*/replay_}
		run_one fuzz "$name" 's/^replayed [0-9]* inputs.*/1/p' 's/^\(no\)match$//p' \
			'.' "$t" "tests/fuzz/corpus/$name"
	done
}

run_integration() {
	for t in tests/integration/t[0-9]*.sh; do
		[ -f "$t" ] || continue
		run_one integ "$(basename "$t" .sh)" 's/^# passed \([0-9]*\).*/\1/p' \
			's/^# passed [0-9]*, failed \([0-9]*\).*/\1/p' '-v ^ok' bash "$t"
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
