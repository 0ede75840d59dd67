#!/bin/bash
# skiff target add | remove | list: signed state commits that record
# where each target's workload listens; bad addresses never get in.
. "$(dirname "$0")/lib.sh"

test_expect_success 'set up' '
	skiff keygen me >/dev/null && skiff init . >/dev/null
'

test_expect_success 'add records the address as a signed state commit' '
	skiff target add svc t1 --addr 127.0.0.1:9001 >/dev/null &&
	skiff --format=json target add svc t2 --addr 127.0.0.1:9002 >out &&
	jq -e ".action == \"add\" and .target == \"t2\"" out &&
	skiff --format=json target list svc >out &&
	jq -e "[.targets[] | .target + \"=\" + .addr] == [\"t1=127.0.0.1:9001\", \"t2=127.0.0.1:9002\"]" out &&
	jq -e ".targets | all(.release == null)" out &&
	skiff verify-ref refs/services/svc --chain >/dev/null &&
	skiff --format=json log refs/services/svc >out && test "$(jq length out)" = 2
'

test_expect_success 'dry run writes nothing' '
	before=$(skiff rev-parse refs/services/svc) &&
	skiff --format=json --dry-run target add svc t3 --addr 127.0.0.1:9003 >out &&
	jq -e ".dry_run == true and .plan.steps[0].name == \"commit-control\"" out &&
	test "$(skiff rev-parse refs/services/svc)" = "$before" &&
	skiff --format=json target list svc >out && test "$(jq ".targets | length" out)" = 2
'

test_expect_success 'a changed address keeps the target; the same one is a conflict' '
	skiff target add svc t2 --addr 127.0.0.1:9012 >/dev/null &&
	skiff --format=json target list svc >out &&
	jq -e ".targets[1].addr == \"127.0.0.1:9012\"" out &&
	expect_exit 3 skiff target add svc t2 --addr 127.0.0.1:9012
'

test_expect_success 'bad addresses and names are typed errors and change nothing' '
	before=$(skiff rev-parse refs/services/svc) &&
	for a in 127.0.0.1 127.0.0.1:0 127.0.0.1:70000 "a b:80" ":80" "x
bind :81:80"; do
		expect_exit 1 skiff --format=json target add svc t9 --addr "$a" &&
		jq -e ".error.code == \"invalid_input\"" out || exit 1
	done &&
	expect_exit 1 skiff target add svc ../t --addr 127.0.0.1:1 &&
	expect_exit 2 skiff target add svc t9 &&
	expect_exit 2 skiff target add svc --addr 127.0.0.1:1 &&
	test "$(skiff rev-parse refs/services/svc)" = "$before"
'

test_expect_success 'target groups: add --group, set --group, set --no-group' '
	skiff target add svc g1 --addr 127.0.0.1:9101 --group blue >/dev/null &&
	skiff --format=json target set svc t2 --group green >out && jq -e ".action == \"set\"" out &&
	skiff --format=json target list svc >out &&
	jq -e ".active_group == null and ([.targets[] | .target + \"=\" + (.group // \"-\")] |
		join(\",\")) == \"g1=blue,t1=-,t2=green\" and ([.targets[].standby] | any | not)" out &&
	expect_exit 3 skiff target set svc t2 --group green &&
	expect_exit 7 skiff target set svc nope --group green &&
	expect_exit 2 skiff target set svc t2 &&
	expect_exit 1 skiff target set svc t2 --group "a b" &&
	skiff target set svc t2 --no-group >/dev/null &&
	expect_exit 3 skiff target set svc t2 --no-group &&
	skiff target add svc g1 --addr 127.0.0.1:9101 --group green >/dev/null &&
	skiff --format=json target list svc >out &&
	jq -e "[.targets[] | .group // \"-\"] | join(\",\") == \"green,-,-\"" out &&
	skiff target remove svc g1 >/dev/null
'

test_expect_success 'remove forgets a target; an unknown one is not found' '
	skiff target remove svc t1 >/dev/null &&
	skiff --format=json target list svc >out &&
	jq -e "[.targets[].target] == [\"t2\"]" out &&
	expect_exit 7 skiff target remove svc t1
'

test_done
