#!/bin/bash
# Writers killed with SIGKILL at random points. Each round starts one
# writer -- a 3-ref `update-ref --stdin` transaction or a single-ref
# update -- sleeps a random few milliseconds and kills it. The next skiff
# command must see every ref at its old or its new value (a transaction:
# all old or all new; a journal left by the writer means it committed, and
# the command rolls it forward to all new); chains verify and fsck is
# clean. A killed writer's lock files and temp files are removed between
# rounds (it is confirmed dead by then) and counted.
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-60} # per kind of writer
TXN_REFS="refs/services/t1 refs/services/t2 refs/services/t3"
ONE_REF=refs/services/s
WPID=$TRASH/writer.pid
test_cleanup "kill -9 \$(cat '$WPID') 2>/dev/null"

test_expect_success 'setup: objects, three transaction refs and one single ref' '
	setup_repo && cd repo &&
	for x in one two three; do printf $x >$x; skiff hash-object -w $x >>"$TRASH/oids"; done &&
	o1=$(head -1 "$TRASH/oids") &&
	for r in $TXN_REFS $ONE_REF; do
		printf "{\"ref\":\"%s\",\"new\":\"%s\",\"old\":null}\n" $r $o1
	done | skiff update-ref --stdin >/dev/null
'
mapfile -t OIDS <"$TRASH/oids"

# next OID: the object after OID in the cycle of three.
next() {
	local i
	for i in 0 1 2; do
		[ "$1" = "${OIDS[$i]}" ] && { echo "${OIDS[$(((i + 1) % 3))]}"; return; }
	done
	echo "unknown oid $1" >&2
	return 1
}

refs_of() { if [ $1 = txn ]; then echo $TXN_REFS; else echo $ONE_REF; fi; }

# state REFS...: "ref=oid@seq" for each, in name order. As a skiff command
# it also rolls forward a journal a killed writer left.
state() {
	skiff --format=json show-ref | jq -r --arg want "$*" \
		'($want | split(" ")) as $w | [.refs[] | select(.ref as $x | $w | index([$x]))
		 | "\(.ref)=\(.oid)@\(.seq)"] | join(" ")'
}

# plan KIND: the old state, the new one (each ref at its next oid, seq + 1)
# and the writer's stdin (txn) or arguments (one) for that move.
plan() {
	local e r oid seq new_state=""
	state $(refs_of $1) >"$TRASH/old" || return 1
	: >"$TRASH/stdin"
	for e in $(cat "$TRASH/old"); do
		r=${e%%=*} oid=${e#*=} seq=${e#*@}
		oid=${oid%@*}
		printf "{\"ref\":\"%s\",\"new\":\"%s\",\"old\":\"%s\"}\n" $r $(next $oid) $oid \
			>>"$TRASH/stdin" &&
		echo "$r $(next $oid) $oid" >"$TRASH/args" &&
		new_state="$new_state $r=$(next $oid)@$((seq + 1))" || return 1
	done
	echo "${new_state# }" >"$TRASH/new"
}

# start KIND: the writer in the background; its pid in $WPID.
start() {
	if [ $1 = txn ]; then
		"$SKIFF_BIN" update-ref --stdin <"$TRASH/stdin" >/dev/null 2>"$TRASH/werr" &
	else
		set -- $(cat "$TRASH/args")
		"$SKIFF_BIN" update-ref $1 $2 --old $3 >/dev/null 2>"$TRASH/werr" &
	fi
	echo $! >"$WPID"
}

# A sleep of $1 milliseconds without a process: a read timing out on a fifo
# nobody writes, so the delay is not swamped by fork and exec.
mkfifo "$TRASH/fifo" && exec {SLEEP_FD}<>"$TRASH/fifo"
msleep() { read -r -t "$(($1 / 1000)).$(printf %03d $(($1 % 1000)))" -u $SLEEP_FD || true; }

# The fastest of 8 runs: one slow first run would stretch the delays past
# most writers, and too few rounds would be killed mid-write.
test_expect_success 'setup: time an unhindered writer of each kind' '
	cd repo &&
	fastest=0 &&
	for i in 1 2 3 4; do
		for kind in txn one; do
			plan $kind && t0=$(date +%s%N) && start $kind && wait $(cat "$WPID") &&
			took=$(($(date +%s%N) - t0)) &&
			{ [ $fastest -ne 0 ] && [ $fastest -le $took ] || fastest=$took; } &&
			test "$(state $(refs_of $kind))" = "$(cat "$TRASH/new")" || exit 1
		done
	done &&
	echo $((fastest / 1000000 + 1)) >"$TRASH/writer_ms"
'
WRITER_MS=$(cat "$TRASH/writer_ms" 2>/dev/null || echo 10)
# 0-15 ms as a base; a slower build (sanitizers) stretches the range to
# 1.5 times a writer's run time so some writers still finish.
DELAY_MAX=$((3 * WRITER_MS / 2 > 15 ? 3 * WRITER_MS / 2 : 15))

# round KIND: one writer killed (or not) at a random point, then checked.
round() {
	local kind=$1 st=0 got old new journals locks temps refs
	refs=$(refs_of $kind)
	plan $kind || return 1
	old=$(cat "$TRASH/old") new=$(cat "$TRASH/new")
	start $kind
	msleep $((RANDOM % (DELAY_MAX + 1)))
	kill -9 $(cat "$WPID") 2>/dev/null
	wait $(cat "$WPID") || st=$?
	case $st in
	0) finished=$((finished + 1)) ;;
	137) killed=$((killed + 1)) ;;
	*) echo "$kind writer exited $st:" >&2; cat "$TRASH/werr" >&2; return 1 ;;
	esac
	# What the dead writer left, before any skiff command recovers it.
	journals=$(find .skiff/txn -type f ! -name "*.tmp*" 2>/dev/null | wc -l)
	if [ $journals -gt 0 ] && [ -n "$(find .skiff/refs -name "*.lock")" ]; then
		half_done=$((half_done + 1)) # committed, not all renamed: recovery's work
	fi
	got=$(state $refs) || return 1
	if [ "$got" = "$new" ]; then
		ended_new=$((ended_new + 1))
	elif [ "$got" = "$old" ]; then
		if [ $st -eq 0 ] || [ $journals -gt 0 ]; then
			echo "$kind: writer finished (exit $st) or left a committed journal ($journals)," \
				"yet the refs are old: $got" >&2
			return 1
		fi
		ended_old=$((ended_old + 1))
	else
		printf "%s round: neither all old nor all new\n  old: %s\n  new: %s\n  got: %s\n" \
			$kind "$old" "$new" "$got" >&2
		return 1
	fi
	[ -z "$(find .skiff/txn -type f ! -name "*.tmp*" 2>/dev/null)" ] ||
		{ echo "a journal survived recovery" >&2; return 1; }
	rolled=$((rolled + journals))
	locks=$(find .skiff/refs -name "*.lock" | wc -l)
	temps=$(find .skiff -name "*.tmp*" | wc -l)
	stale_locks=$((stale_locks + locks)) stale_temps=$((stale_temps + temps))
	[ $((locks + temps + journals)) -eq 0 ] || mid_write=$((mid_write + 1))
	find .skiff/refs -name "*.lock" -delete && find .skiff -name "*.tmp*" -delete
	for r in $refs; do
		skiff verify-ref --chain $r >/dev/null || { echo "chain of $r fails" >&2; return 1; }
	done
	skiff --format=json fsck >"$TRASH/fsck" &&
	jq -e ".ok and (.problems | length) == 0 and (.warnings | length) == 0" "$TRASH/fsck" >/dev/null ||
		{ echo "fsck after a $kind round:" >&2; cat "$TRASH/fsck" >&2; return 1; }
}

test_expect_success "$ROUNDS killed transactions and $ROUNDS killed single updates" '
	cd repo &&
	killed=0 finished=0 ended_new=0 ended_old=0 rolled=0 half_done=0 stale_locks=0 stale_temps=0 mid_write=0 &&
	# ROUNDS pairs, then more (up to 4 times as many) until the random
	# delays have killed a writer mid-write and let one finish
	i=0 &&
	while [ $i -lt $ROUNDS ] || { [ $i -lt $((4 * ROUNDS)) ] &&
		{ [ $killed -eq 0 ] || [ $finished -eq 0 ] || [ $mid_write -eq 0 ]; }; }; do
		i=$((i + 1))
		round txn && round one || { echo "in round $i" >&2; exit 1; }
	done &&
	echo "# delays 0-$DELAY_MAX ms (a writer takes ~$WRITER_MS ms): $killed killed, $finished finished;" \
		"$ended_new ended new, $ended_old old; $rolled journals found ($half_done with renames left to recovery);" \
		"$mid_write rounds left debris: $stale_locks stale locks, $stale_temps temp files" >"$TRASH/summary" &&
	test $killed -gt 0 && test $finished -gt 0 && test $mid_write -gt 0
'
cat "$TRASH/summary" 2>/dev/null

test_expect_success 'afterwards every ref moves normally; chains verify; fsck is clean' '
	cd repo &&
	for r in $TXN_REFS $ONE_REF; do
		cur=$(skiff rev-parse $r) &&
		skiff update-ref $r $(next $cur) --old $cur >/dev/null &&
		skiff verify-ref --chain $r >/dev/null || exit 1
	done &&
	skiff --format=json fsck >"$TRASH/out" &&
	json_is .ok true && json_is ".problems | length" 0 && json_is ".warnings | length" 0
'

test_done
