# shellcheck shell=bash disable=SC2034  # the variables are used by the callers
# Sourced by the harness scripts: the paths they share and how a step that
# writes a log reports progress and failure.
#   BUILD  where everything generated goes (default: build/ in the project)
#   KSRC   the kernel tree to use (default: $BUILD/linux, made by tree.sh)
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${BUILD:-$top/build}
K=${KSRC:-$B/linux}
LOG_TAIL=30
# Kernel builds compile with make CC="$KCC": through ccache when it is
# installed, the cache in $B/ccache (kept by make clean).
export CCACHE_DIR=${CCACHE_DIR:-$B/ccache} CCACHE_BASEDIR=$B CCACHE_NOHASHDIR=1
KCC=gcc; command -v ccache >/dev/null && KCC="ccache gcc"

# failed_log LOG WHAT: a failed step's real error: the tail of its log, and
# the log's path ("# " lines: they pass through the TAP stream as comments).
failed_log() {
	echo "error: $2 failed; last $LOG_TAIL lines of $1:"
	tail -n "$LOG_TAIL" "$1" | cut -c1-300 | sed 's/^/# | /'
	echo "# full log: $1"
}

# run_logged TAG LOG WHAT CMD...: run CMD with its output in LOG; a progress
# line every minute (elapsed time and the log's last line); on failure the
# tail of LOG (failed_log) and CMD's exit code.
run_logged() {
	local tag=$1 log=$2 what=$3 pid t0 n=0 rc=0 last
	shift 3
	mkdir -p "$(dirname "$log")"
	t0=$(date +%s)
	"$@" >"$log" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 2; n=$((n + 1))
		[ $((n % 30)) = 0 ] || continue
		last=$(tail -n 1 "$log" | cut -c1-100)
		echo "# [$tag] $what: $(($(date +%s) - t0)) s${last:+ (at: ${last#"${last%%[! ]*}"})}"
	done
	wait "$pid" || rc=$?
	[ "$rc" = 0 ] || failed_log "$log" "$what" >&2
	return "$rc"
}
