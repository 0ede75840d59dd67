# Helpers of the operation tests (t013x), sourced after lib.sh.

# newest_op DIR: the id of the newest operation in repository DIR ("" if none).
newest_op() { skiff -C "$1" --format=json op list | jq -r '.operations[-1].id // empty'; }

# check_chain DIR ID: events are seq 1..n, each prev is the previous id,
# n is what the operation records, every event carries the op's trace.
check_chain() {
	local n trace
	skiff -C "$1" --format=json op events "$2" >"$TRASH/ev" &&
	skiff -C "$1" --format=json op show "$2" >"$TRASH/show" &&
	n=$(jq -r .operation.events "$TRASH/show") &&
	trace=$(jq -r .operation.trace "$TRASH/show") &&
	test "$(jq '.events | length' "$TRASH/ev")" = "$n" &&
	jq -e --arg t "$trace" '.events as $e | [range(0; $e|length)] | all(. as $i |
		$e[$i].seq == $i + 1 and $e[$i].trace == $t and
		(if $i == 0 then $e[0].prev == null else $e[$i].prev == $e[$i-1].id end))' \
		"$TRASH/ev" >/dev/null &&
	test "$(jq -r '.events[-1].id' "$TRASH/ev")" = "$(jq -r .operation.event "$TRASH/show")"
}

# wait_for FILE: polls for FILE for up to 30 s.
wait_for() { local i=0; while [ ! -e "$1" ] && [ $i -lt 1500 ]; do sleep 0.02; i=$((i + 1)); done; test -e "$1"; }
