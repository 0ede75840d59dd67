# Helpers of the deploy tests (t018x), sourced after lib.sh: the local
# stack of scripts/stack.sh in $TRASH/stack ($D), stopped when the test
# ends, and sk: skiff on its repository.
. "$TEST_SRC/tests/integration/lib-ops.sh"
. "$TEST_SRC/scripts/stack.sh"
STACK_BUILD=$(dirname "$SKIFF_BIN")
D="$TRASH/stack"
test_cleanup 'stack_down'

sk() { skiff -C "$D" "$@"; }
