# Helpers of the deploy tests (t018x), sourced after lib.sh: the local
# stack of scripts/stack.sh in $TRASH/stack ($D), stopped when the test
# ends, and sk: skiff on its repository.
. "$TEST_SRC/tests/integration/lib-ops.sh"
. "$TEST_SRC/scripts/stack.sh"
STACK_BUILD=$(dirname "$SKIFF_BIN")
D="$TRASH/stack"
# stack_up runs inside a test's subshell: what stack_down and the tests
# need is set here, in the script's own shell, too
STACK_DIR=$D
export XDG_CONFIG_HOME="$D/config" SKIFF_IDENTITY=admin
test_cleanup 'stack_down'

sk() { skiff -C "$D" "$@"; }

# all_healthy REL: waits (up to 30 s) until every target's runner reports
# REL healthy, e.g. after a rollback restarted some of them.
all_healthy() {
	local i
	for i in $(seq 1 150); do
		sk --format=json status hello 2>/dev/null | jq -e --arg r "$1" \
			'[.targets[] | select(.report.state != "healthy" or .report.release != $r)] | length == 0' \
			>/dev/null && return 0
		sleep 0.2
	done
	echo "targets not all healthy on $1" >&2
	return 1
}
