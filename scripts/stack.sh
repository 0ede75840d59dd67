# The local stack the demo and the deploy tests run on, sourced:
#   stack_up DIR BUILD   a repository in DIR with keys admin (root and
#                        operator), ci (release-signer for hello) and
#                        runner (runner for hello); signed releases v1, v2
#                        (examples/hello.yaml) and v3 (hello-bad.yaml: 30%
#                        errors); targets t1..t4; HAProxy in front of them;
#                        a runner per target
#   load_start [ARGS]    wrk against HAProxy in the background
#   load_stop            stops it
#   runner_start T [SVC [KEY]]  (re)starts target T's runner (of hello,
#                        key runner); runner_stop T [SIG]
#   stack_down           stops everything started here, by pid
# Every process is started by these functions and stopped by its pid,
# kept in DIR/pids/ (so a subshell may start what the caller stops); ports
# come from free_port (scripts/ports.sh). Set in the caller's shell:
#   STACK_DIR, STACK_BUILD, STACK_LISTEN (HOST:PORT of HAProxy),
#   XDG_CONFIG_HOME (DIR/config) and SKIFF_IDENTITY=admin.
STACK_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$STACK_SRC/scripts/ports.sh"

_sk() { "$STACK_BUILD/skiff" -C "$STACK_DIR" "$@"; }

stack_up() {
	STACK_DIR=$1 STACK_BUILD=$2
	export XDG_CONFIG_HOME="$STACK_DIR/config" SKIFF_IDENTITY=admin
	local keys="$XDG_CONFIG_HOME/skiff/keys" spec="$STACK_SRC/examples" v i port
	local bin="$STACK_BUILD/examples/skiff-example-httpd"
	mkdir -p "$STACK_DIR/pids" || return 1
	for k in admin ci runner; do _sk keygen "$k" >/dev/null || return 1; done
	_sk init "$STACK_DIR" >/dev/null &&
	_sk trust add-key ci "$keys/ci.pub" --role release-signer \
		--scope 'refs/releases/hello/*' >/dev/null &&
	_sk trust add-key runner "$keys/runner.pub" --role runner \
		--scope 'refs/runners/hello/*' >/dev/null || return 1
	for v in v1 v2 v3; do
		local s="$spec/hello.yaml"
		[ "$v" = v3 ] && s="$spec/hello-bad.yaml"
		_sk --identity ci release create hello --spec "$s" --version "$v" \
			--artifact "skiff-example-httpd=$bin" --sign >/dev/null || return 1
	done
	local taken=""
	for i in 1 2 3 4; do
		port=$(free_port $taken) || return 1
		taken="$taken $port"
		_sk target add hello "t$i" --addr "127.0.0.1:$port" >/dev/null || return 1
	done
	port=$(free_port $taken) || return 1
	STACK_LISTEN="127.0.0.1:$port"
	_sk traffic start hello --listen "$STACK_LISTEN" >/dev/null || return 1
	for i in 1 2 3 4; do runner_start "t$i" || return 1; done
}

# _stop NAME [SIG]: signals the process DIR/pids/NAME names and waits
# until it is gone (it may not be this shell's child).
_stop() {
	local f="$STACK_DIR/pids/$1" pid i
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	rm -f "$f"
	kill "-${2:-TERM}" "$pid" 2>/dev/null || return 0
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		# gone but not reaped (its parent was a subshell that exited)
		[ "$(cut -d" " -f3 "/proc/$pid/stat" 2>/dev/null)" = Z ] && return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
}

runner_start() {
	"$STACK_BUILD/skiff-runner" --service "${2:-hello}" --target "$1" --repo "$STACK_DIR" \
		--identity "${3:-runner}" --health-interval 200ms --poll 100ms \
		>>"$STACK_DIR/runner-$1.out" 2>&1 </dev/null &
	echo $! >"$STACK_DIR/pids/runner-$1"
}

runner_stop() { _stop "runner-$1" "${2:-TERM}"; }

load_start() {
	load_stop
	wrk -t1 -c4 -d1h "$@" "http://$STACK_LISTEN/" >"$STACK_DIR/wrk.out" 2>&1 </dev/null &
	echo $! >"$STACK_DIR/pids/wrk"
}

load_stop() { _stop wrk; }

# A workload left behind by a runner killed with SIGKILL: the pid its
# last report names, if that process still runs the example program.
_orphans() {
	local t pid oid
	for t in t1 t2 t3 t4; do
		oid=$(_sk rev-parse "refs/runners/hello/$t" 2>/dev/null) || continue
		pid=$(_sk --format=json cat-object -p "$oid" 2>/dev/null | jq -r '.content.pid // empty')
		[ -n "$pid" ] || continue
		case $(readlink "/proc/$pid/exe" 2>/dev/null) in
		*/skiff-example-httpd) kill -TERM "$pid" 2>/dev/null ;;
		esac
	done
	return 0
}

stack_down() {
	local f
	[ -n "${STACK_DIR:-}" ] && [ -d "$STACK_DIR/pids" ] || return 0
	load_stop
	for f in "$STACK_DIR"/pids/runner-*; do
		[ -e "$f" ] && runner_stop "${f##*/runner-}"
	done
	_orphans
	_sk traffic stop >/dev/null 2>&1
	return 0
}
