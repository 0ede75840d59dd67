#!/bin/bash
# Compare-and-swap under contention: 8 processes race to move one ref,
# each until it has made 250 updates of its own. A lost race is exit 3
# (cas_conflict or locked) and is retried; anything else is a failure.
# Every success must be exactly one record: the chain ends at seq
# 1 + 8 * 250 and verifies link by link.
. "$(dirname "$0")/lib.sh"

RACERS=8
PER_RACER=250
REF=refs/services/race
PIDS=$TRASH/racer.pids
: >"$PIDS"
# Racers are killed by pid if a test dies before waiting for them.
test_cleanup "kill \$(cat '$PIDS') 2>/dev/null"

test_expect_success 'setup: three objects and a fresh ref (seq 1)' '
	setup_repo && cd repo &&
	for x in one two three; do printf $x >$x; skiff hash-object -w $x >>"$TRASH/oids"; done &&
	test $(sort -u "$TRASH/oids" | wc -l) -eq 3 &&
	skiff update-ref $REF $(head -1 "$TRASH/oids") --create >/dev/null &&
	test "$(skiff --format=json log --records $REF | jq ".records | length")" -eq 1
'
mapfile -t OIDS <"$TRASH/oids"

test_expect_success 'setup: time one read-and-update cycle (on another ref)' '
	cd repo &&
	skiff update-ref refs/services/warmup ${OIDS[0]} --create >/dev/null &&
	start=$(date +%s%N) &&
	for i in 1 2 3 4 5 6; do
		cur=$(skiff rev-parse refs/services/warmup) &&
		skiff update-ref refs/services/warmup ${OIDS[$((i % 3))]} --old $cur >/dev/null
	done &&
	echo $((($(date +%s%N) - start) / 6000000 + 1)) >"$TRASH/unit_ms"
'
UNIT_MS=$(cat "$TRASH/unit_ms" 2>/dev/null || echo 10)

# racer ID: PER_RACER successful CAS updates of REF, each from the oid it
# just read to the next of the three objects. Writes its retry count to
# racer.ID.retries; exits 1 with the reason on any unexpected result.
# After a lost race it backs off for a random time, exponential in the
# number of races it lost in a row and scaled by how long one update takes
# on this build (a sanitizer build is several times slower), so eight busy
# losers do not starve the winner of the CPUs. The sleep is a read timing
# out on a fifo nobody writes: no process per sleep.
racer() {
	local id=$1 done=0 retries=0 conflicts=0 locked=0 streak=0 cur new rc i fd delay doc
	cd "$TRASH/repo" || exit 1
	mkfifo "$TRASH/racer.$id.fifo" && exec {fd}<>"$TRASH/racer.$id.fifo" || exit 1
	while [ $done -lt $PER_RACER ]; do
		cur=$("$SKIFF_BIN" rev-parse $REF) ||
			{ echo "racer $id: rev-parse failed" >&2; exit 1; }
		new=${OIDS[0]}
		for i in 0 1 2; do
			[ "$cur" = "${OIDS[$i]}" ] && new=${OIDS[$(((i + 1) % 3))]}
		done
		rc=0
		"$SKIFF_BIN" --format=json update-ref $REF $new --old $cur >"$TRASH/racer.$id.out" \
			2>"$TRASH/racer.$id.err" || rc=$?
		case $rc in
		0) done=$((done + 1)) streak=0 ;;
		3)
			IFS= read -r -d "" doc <"$TRASH/racer.$id.out" || true
			case $doc in
			*'"code":"cas_conflict"'*) conflicts=$((conflicts + 1)) ;;
			*'"code":"locked"'*) locked=$((locked + 1)) ;;
			*)
				echo "racer $id: exit 3 but not cas_conflict or locked: $doc" >&2
				exit 1 ;;
			esac
			retries=$((retries + 1)) streak=$((streak < 6 ? streak + 1 : 6))
			delay=$((RANDOM % (UNIT_MS * (1 << streak) / 2 + 1)))
			read -r -t "$((delay / 1000)).$(printf %03d $((delay % 1000)))" -u $fd || true ;;
		*)
			echo "racer $id: update-ref exited $rc:" >&2
			cat "$TRASH/racer.$id.out" "$TRASH/racer.$id.err" >&2
			exit 1 ;;
		esac
	done
	echo $retries $conflicts $locked >"$TRASH/racer.$id.retries"
}

test_expect_success "$RACERS racers, $PER_RACER successful updates each" '
	start=$(date +%s.%N) &&
	pids= &&
	for id in $(seq 1 $RACERS); do
		racer $id >/dev/null 2>"$TRASH/racer.$id.log" &
		pids="$pids $!"
		echo $! >>"$PIDS"
	done &&
	failed=0 &&
	for p in $pids; do wait $p || failed=$((failed + 1)); done &&
	end=$(date +%s.%N) &&
	: >"$PIDS" &&
	cat "$TRASH"/racer.*.log &&
	test $failed -eq 0 &&
	retries=$(cat "$TRASH"/racer.*.retries |
		awk "{ r += \$1; c += \$2; l += \$3 } END { print r \" retries (\" c \" cas_conflict, \" l \" locked)\" }") &&
	wall=$(awk "BEGIN { printf \"%.1f\", $end - $start }") &&
	echo "# $RACERS racers x $PER_RACER updates: $wall s wall, $retries; one read-and-update ~${UNIT_MS} ms alone" >"$TRASH/timing"
'
cat "$TRASH/timing" 2>/dev/null

SEQ=$((1 + RACERS * PER_RACER))

test_expect_success "the head record has seq $SEQ and verifies" '
	cd repo &&
	skiff --format=json verify-ref $REF >"$TRASH/out" &&
	json_is .seq $SEQ && json_is .verified true &&
	skiff --format=json show-ref $REF >"$TRASH/out" &&
	json_is ".refs[0].seq" $SEQ
'

test_expect_success "verify-ref --chain checks all $SEQ records" '
	cd repo &&
	skiff --format=json verify-ref --chain $REF >"$TRASH/out" &&
	json_is .chain true && json_is .records_checked $SEQ
'

test_expect_success "log has $SEQ records, seq $SEQ down to 1, each linked to the next" '
	cd repo &&
	skiff --format=json log --records $REF >"$TRASH/out" &&
	json_is ".records | length" $SEQ &&
	json_is "[.records[].seq] == [range($SEQ; 0; -1)]" true &&
	json_is "[.records as \$r | range(0; \$r | length - 1) | \$r[.].prev == \$r[. + 1].record] | all" true &&
	json_is ".records[-1].prev" null &&
	json_is "[.records[].oid] | unique | length" 3
'

test_expect_success 'no lock or temp file is left; fsck is clean' '
	cd repo &&
	test -z "$(find .skiff -name "*.lock" -o -name "*.tmp*")" &&
	skiff --format=json fsck >"$TRASH/out" &&
	json_is .ok true && json_is ".problems | length" 0 && json_is ".warnings | length" 0
'

test_done
