#!/bin/bash
# A throw-away single-node Ceph cluster with radosgw on loopback, the real
# S3 server the tests run against (DESIGN: "Real parts").
#
#   scripts/rgw.sh start DIR [PORT]   install what is missing, start, wait
#                                     until S3 answers; writes DIR/env
#   scripts/rgw.sh stop DIR           stop every daemon by its pid file
#   scripts/rgw.sh kill-rgw DIR       SIGKILL radosgw only (crash tests)
#   scripts/rgw.sh start-rgw DIR      start radosgw again and wait for it
#
# DIR/env is sourceable: SKIFF_TEST_S3_ENDPOINT, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION. The keys are random per run,
# valid only for this cluster, and never leave DIR (mode 0600).
#
# The recipe is the one that works on Debian 12's Ceph 16 in about 11 s;
# each choice below avoids a measured stall:
#   - memstore and pool size 1: no disks, one OSD is a healthy cluster;
#   - the monitor as v1:127.0.0.1:PORT in `mon host` AND `monmaptool
#     --addv`: a plain address leaves the OSD waiting five minutes;
#   - the S3 user made with radosgw-admin before radosgw starts:
#     afterwards the command stalls about 20 s.
# Every step has a timeout; a failure prints the step and its log tail.
set -u

STEP_TIMEOUT=${RGW_STEP_TIMEOUT:-60}
PKGS="ceph-mon ceph-osd radosgw ceph-common"

die() {
	echo "rgw.sh: $*" >&2
	exit 1
}

# show_log [FILE]: the last lines of FILE (the failed step's own output),
# then a few of each daemon log, so a failure explains itself.
show_log() {
	local f
	if [ -n "${1:-}" ] && [ -s "$1" ]; then
		echo "---- last lines of $1" >&2
		tail -n 25 "$1" >&2
	fi
	for f in "$DIR"/log/*.log; do
		[ -s "$f" ] && [ "$f" != "${1:-}" ] || continue
		echo "---- last lines of $f" >&2
		tail -n 6 "$f" >&2
	done
}

fail() { # fail MESSAGE [LOG]: print, show logs, stop what started, exit 1
	echo "rgw.sh: $1" >&2
	show_log "${2:-}"
	stop_all
	exit 1
}

install_missing() {
	local missing="" p
	for p in $PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "rgw.sh: installing Debian packages:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	# apt-get update only when the install fails on stale lists: most
	# machines have current lists and update costs seconds.
	# shellcheck disable=SC2086
	timeout 600 $sudo apt-get install -y -qq --no-install-recommends $missing >"$DIR/apt.log" 2>&1 || {
		timeout 300 $sudo apt-get update -qq >>"$DIR/apt.log" 2>&1
		# shellcheck disable=SC2086
		timeout 600 $sudo apt-get install -y -qq --no-install-recommends $missing \
			>>"$DIR/apt.log" 2>&1
	} || fail "installing$missing failed" "$DIR/apt.log"
}

# port_used, free_port
. "$(dirname "$0")/ports.sh"

# run_step NAME LOG CMD...: runs CMD with the step timeout, output to LOG.
run_step() {
	local name=$1 log=$2 rc=0
	shift 2
	timeout "$STEP_TIMEOUT" "$@" >>"$log" 2>&1 || rc=$?
	if [ $rc -ne 0 ]; then
		[ $rc -eq 124 ] && fail "$name timed out after ${STEP_TIMEOUT}s" "$log"
		fail "$name failed (exit $rc)" "$log"
	fi
}


# wait_for NAME SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
wait_for() {
	local name=$1 secs=$2
	shift 2
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $deadline ] && fail "timed out after ${secs}s waiting for $name"
		sleep 0.1
	done
}

# s3_serves: radosgw answers an HTTP request (any status). bash's
# /dev/tcp keeps curl's command-line tool out of the dependencies.
s3_serves() {
	timeout 2 bash -c '
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" >&3
		read -r line <&3
		case $line in HTTP/1.1\ *) exit 0 ;; *) exit 1 ;; esac' _ "$RGW_PORT"
}

osd_up() { timeout 10 ceph -c "$CONF" osd dump 2>/dev/null | grep -q "^osd\.$OSD_ID up"; }

# running PID: the process exists and is not a zombie waiting for init.
running() {
	local st
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# daemon_pid NAME: the pid in DIR/run/NAME.pid when that process is still
# a daemon of this cluster (its command line names our ceph.conf), so a
# reused pid is never signalled.
daemon_pid() {
	local pid
	pid=$(cat "$DIR/run/$1.pid" 2>/dev/null) || return 1
	case $pid in '' | *[!0-9]*) return 1 ;; esac
	running "$pid" && grep -qs -- "$CONF" "/proc/$pid/cmdline" || return 1
	echo "$pid"
}

# stop_daemon NAME SIGNAL: signals the daemon and waits up to 5 s for it to
# exit, then kills it.
stop_daemon() {
	local pid i
	pid=$(daemon_pid "$1") || { rm -f "$DIR/run/$1.pid"; return 0; }
	kill "-$2" "$pid" 2>/dev/null
	for i in $(seq 1 50); do
		running "$pid" || break
		sleep 0.1
	done
	running "$pid" && kill -KILL "$pid" 2>/dev/null
	rm -f "$DIR/run/$1.pid"
}

# stop_all: radosgw, then the OSDs while the monitor still runs (an OSD
# whose monitor is gone waits 5 s to report itself down), then the monitor.
stop_all() {
	local f n
	stop_daemon client.rgw.a TERM
	for f in "$DIR"/run/osd.*.pid; do
		[ -f "$f" ] || continue
		n=${f##*/}
		stop_daemon "${n%.pid}" TERM
	done
	stop_daemon mon.a TERM
}

# rgw_serves_or_gone: 0 once radosgw answers; 1 while it starts; 2 when
# it has exited (a frontend that cannot bind makes radosgw exit).
rgw_serves_or_gone() {
	s3_serves && return 0
	daemon_pid client.rgw.a >/dev/null && return 1
	sleep 0.3 # the pid file may not be written yet
	daemon_pid client.rgw.a >/dev/null && return 1
	s3_serves && return 0
	return 2
}

# start_rgw_once: 0 when radosgw serves, 2 when it exited while starting.
start_rgw_once() {
	daemon_pid client.rgw.a >/dev/null && die "radosgw already runs in $DIR"
	run_step "radosgw start" "$DIR/log/client.rgw.a.log" radosgw -c "$CONF" -n client.rgw.a
	local deadline=$((SECONDS + STEP_TIMEOUT)) rc
	while :; do
		rc=0
		rgw_serves_or_gone || rc=$?
		[ $rc -ne 1 ] && return $rc
		[ $SECONDS -ge $deadline ] &&
			fail "timed out after ${STEP_TIMEOUT}s waiting for radosgw on 127.0.0.1:$RGW_PORT"
		sleep 0.1
	done
}

# start_rgw [any]: starts radosgw on the configured port. With "any", a
# port taken by another process between free_port and the bind (the log
# says "failed to bind") is replaced by a new one, up to three times.
start_rgw() {
	local try rc
	for try in 1 2 3; do
		rc=0
		start_rgw_once || rc=$?
		[ $rc -eq 0 ] && return 0
		[ "${1:-}" = any ] && grep -qs "failed to bind address 127.0.0.1:$RGW_PORT" \
			"$DIR/log/client.rgw.a.log" || break
		RGW_PORT=$(free_port) || die "no free port for radosgw"
		sed -i "s/^rgw frontends = beast endpoint=127.0.0.1:[0-9]*$/rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT/" "$CONF"
		echo "rgw.sh: port taken while starting; retrying on $RGW_PORT" >>"$DIR/log/setup.log"
	done
	fail "radosgw exited while starting on 127.0.0.1:$RGW_PORT" "$DIR/log/client.rgw.a.log"
}

random_chars() { # random_chars N CLASS: N random characters from tr CLASS
	LC_ALL=C tr -dc "$2" </dev/urandom | head -c "$1"
}

start() {
	[ -e "$CONF" ] && die "$DIR already holds a cluster; run: scripts/rgw.sh stop $DIR"
	mkdir -p "$DIR" || die "cannot create $DIR"
	install_missing
	mkdir -p "$DIR/mon" "$DIR/osd" "$DIR/run" "$DIR/log" "$DIR/rgw" || die "cannot create $DIR"
	# a unix socket path is limited to 108 bytes
	[ ${#DIR} -le 60 ] || die "DIR is too long for Ceph's admin sockets (max 60 bytes): $DIR"
	local mon_port fsid any=
	mon_port=$(free_port) || die "no free port for the monitor"
	if [ -z "$RGW_PORT" ]; then
		RGW_PORT=$(free_port) || die "no free port for radosgw"
		any=any
	fi
	port_used "$RGW_PORT" && die "port $RGW_PORT is in use"
	fsid=$(cat /proc/sys/kernel/random/uuid)
	cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$mon_port
mon initial members = a
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms bind msgr2 = false
keyring = $DIR/keyring
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
log to stderr = false
err to stderr = false
osd objectstore = memstore
memstore device bytes = 4294967296
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon allow pool delete = true
paxos propose interval = 0.05
paxos min wait = 0.01
mon warn on pool no redundancy = false
osd class update on start = false
osd crush update on start = false
osd data = $DIR/osd
mon data = $DIR/mon
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $DIR/rgw
rgw dns name = 127.0.0.1
EOF
	: >"$DIR/keyring"
	local log="$DIR/log/setup.log"
	run_step "monmaptool" "$log" monmaptool --create --fsid "$fsid" \
		--addv a "[v1:127.0.0.1:$mon_port]" "$DIR/monmap"
	run_step "ceph-mon --mkfs" "$log" ceph-mon -c "$CONF" -i a --mkfs --monmap "$DIR/monmap"
	run_step "ceph-mon start" "$log" ceph-mon -c "$CONF" -i a
	local osd_uuid
	osd_uuid=$(cat /proc/sys/kernel/random/uuid)
	OSD_ID=$(timeout "$STEP_TIMEOUT" ceph -c "$CONF" osd new "$osd_uuid" 2>>"$log") ||
		fail "ceph osd new failed or timed out" "$log"
	case $OSD_ID in '' | *[!0-9]*) fail "ceph osd new printed no id: $OSD_ID" "$log" ;; esac
	run_step "ceph-osd --mkfs" "$log" ceph-osd -c "$CONF" -i "$OSD_ID" --mkfs --osd-uuid "$osd_uuid"
	run_step "ceph osd crush add" "$log" ceph -c "$CONF" osd crush add "osd.$OSD_ID" 1.0 host=localhost root=default
	run_step "ceph-osd start" "$log" ceph-osd -c "$CONF" -i "$OSD_ID"
	wait_for "osd.$OSD_ID up" "$STEP_TIMEOUT" osd_up
	local ak sk
	ak=$(random_chars 20 'A-Z0-9')
	sk=$(random_chars 40 'A-Za-z0-9')
	# --no-mon-config and the empty keyring keep the admin tool on this
	# cluster; the user must exist before radosgw starts (see above)
	# the command prints the secret: keep it out of the log
	local out rc=0
	out=$(timeout "$STEP_TIMEOUT" radosgw-admin -c "$CONF" -n client.rgw.a user create \
		--uid=skiff-test --display-name=skiff-test --access-key="$ak" --secret="$sk" 2>&1) || rc=$?
	printf '%s\n' "$out" | grep -v -e '"secret_key"' -e "$sk" >>"$log"
	[ $rc -eq 0 ] || fail "radosgw-admin user create failed (exit $rc)" "$log"
	start_rgw $any
	(
		umask 077
		cat >"$DIR/env" <<EOF
# throw-away credentials for the test cluster in $DIR
export SKIFF_TEST_S3_ENDPOINT=http://127.0.0.1:$RGW_PORT
export AWS_ACCESS_KEY_ID=$ak
export AWS_SECRET_ACCESS_KEY=$sk
export AWS_DEFAULT_REGION=us-east-1
EOF
	)
	echo "rgw.sh: S3 at http://127.0.0.1:$RGW_PORT (source $DIR/env)" >&2
}

cmd=${1:-}
[ $# -ge 2 ] || die "usage: scripts/rgw.sh start DIR [PORT] | stop DIR | kill-rgw DIR | start-rgw DIR"
case $2 in /*) DIR=$2 ;; *) DIR=$PWD/$2 ;; esac
DIR=${DIR%/}
CONF=$DIR/ceph.conf
RGW_PORT=${3:-}
OSD_ID=0
case $cmd in
start) start ;;
kill-rgw) stop_daemon client.rgw.a KILL ;;
start-rgw)
	[ -f "$CONF" ] || die "no cluster in $DIR"
	RGW_PORT=$(sed -n 's/^rgw frontends = beast endpoint=127.0.0.1:\([0-9]*\)$/\1/p' "$CONF")
	start_rgw
	;;
stop)
	stop_all
	rm -f "$CONF"
	;;
*) die "usage: scripts/rgw.sh start DIR [PORT] | stop DIR | kill-rgw DIR | start-rgw DIR" ;;
esac
