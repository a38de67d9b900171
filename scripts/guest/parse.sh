#!/bin/bash
# The results parser: turn a guest's console log (the markers of init.sh) into
# TAP lines, one per test, one per kselftest subtest (LABEL:TEST:NAME), then
# dmesg-clean, the debug facilities and guest-completed.  A test's output
# lines "NOTE: TEXT" become comments "# LABEL:TEST: TEXT" after its line.
# A test that init.sh ran twice (RETRY: it failed and run-guest.sh --retry
# allows one more run) is judged by its second run; the first run's failure
# is shown either way, and "passed on its retry" is in the line.
#   parse.sh [--label LABEL] [--emu NAME] [--rc EXIT] [--each SEC] [--all SEC]
#            [--kconfig DOTCONFIG] CONSOLE TEST...
#   parse.sh --output TEST CONSOLE     print TEST's output (also for bench/run.sh)
# LABEL may hold {cpu}: replaced by what the guest saw (svm, vmx or none).
# EXIT is the emulator's exit code (124/137: timed out).  --kconfig: every
# debug facility the kernel was built with (PROVE_LOCKING: lockdep, KASAN,
# KCSAN, DEBUG_KMEMLEAK) must still be on at the end (LABEL:FACILITY-active),
# and kmemleak's scan must find no leak (LABEL:kmemleak-clean).
# Prints "# LABEL: P passed, F failed, S skipped" last; exit 1 if any failed.
set -euo pipefail
die() { echo "error: $*" >&2; exit 2; }
clean=$(mktemp); trap 'rm -f "$clean"' EXIT
cleanlog() { awk '{ gsub(/\r/, ""); print }' "$1" >"$clean"; }  # also ends a cut-off last line
output() {  # console lines between RUN and RESULT of test $1, run $2 (default: the last)
	awk -v t="$1" -v k="${2:-0}" '
		$1 == "RUN" && $2 == t { a++; on = (k == 0 || a == k); if (on) buf = ""; next }
		on && (($1 == "RESULT" && $2 == t) || /^DMESG-BEGIN$/) { on = 0; if (k || /^DMESG/) exit; next }
		on { buf = buf $0 "\n" }
		END { printf "%s", buf }' "$clean"
}
if [ "${1:-}" = --output ]; then
	[ $# -eq 3 ] || die "usage: $0 --output TEST CONSOLE"
	cleanlog "$3"; output "$2"; exit 0
fi

label=guest emu=emulator qrc=0 each='?' all='?' kconfig=''
while [ $# -gt 0 ]; do
	case $1 in
	--label) label=$2 ;; --emu) emu=$2 ;; --rc) qrc=$2 ;; --each) each=$2 ;; --all) all=$2 ;;
	--kconfig) kconfig=$2 ;;
	*) break ;;
	esac
	shift 2
done
[ $# -ge 1 ] || { sed -n '6,8s/^# *//p' "$0" >&2; exit 2; }
[ -f "$1" ] || die "console log not found: $1"
cleanlog "$1"; shift
tests=("$@")
expect=()  # the debug facilities the kernel was built with
if [ -n "$kconfig" ]; then
	[ -f "$kconfig" ] || die "kernel config not found: $kconfig"
	mapfile -t expect < <(awk -F= '$2 == "y" { sub(/^CONFIG_/, "", $1); print $1 }' "$kconfig" | awk '
		$1 == "PROVE_LOCKING" { print "lockdep" } $1 == "KASAN" { print "kasan" }
		$1 == "KCSAN" { print "kcsan" } $1 == "DEBUG_KMEMLEAK" { print "kmemleak" }')
fi
cpu=$(awk '$1 == "GUEST-CPU" { print $2; exit }' "$clean")
label=${label//\{cpu\}/${cpu:-unknown}}
params=$(sed -n 's/^PARAM //p' "$clean" | tr '\n' ' ')
[ -z "$params" ] || echo "# [guest $label] params: $params"

n=0 pass=0 fail=0 skip=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n $label:$1${2:+ # $2}"; }
nok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n $label:$1${2:+ # $2}"; }
skp() { n=$((n + 1)); skip=$((skip + 1)); echo "ok $n $label:$1 # SKIP${2:+ $2}"; }
showtail() { sed "s/^/# /"; }
showfail() {  # failed kselftest subcases, then the tail of the output (of run $2)
	local f; f=$(output "$1" "${2:-}" | sed -n 's/^not ok [0-9]* //p' | tr '\n' ' ')
	[ -z "$f" ] || echo "# failed subtests${2:+ (run $2)}: $f"
	output "$1" "${2:-}" | tail -n 40 | showtail
}
skipwhy() { output "$1" | grep -m1 -o 'SKIP.*' | sed 's/^SKIP:* *//' || true; }
nokvm=$(grep -m1 '^HARNESS-ERROR' "$clean" || true)
[ -z "$nokvm" ] || grep -E '^kvm(_amd|_intel)?:' "$clean" | sort -u | showtail
subtests() {  # the test's own TAP result lines, as LABEL:TEST:NAME
	local l r name dir
	while IFS= read -r l; do
		[[ $l =~ ^(not )?ok\ [0-9]+\ (.+)$ ]] || continue
		r=${BASH_REMATCH[2]} dir=''
		name=${r%% # *}; [ "$name" = "$r" ] || dir=${r#* # }
		if [ -n "${BASH_REMATCH[1]}" ]; then nok "$1:$name" "$dir"
		elif [[ $dir =~ ^SKIP\ *(.*) ]]; then skp "$1:$name" "${BASH_REMATCH[1]}"
		else ok "$1:$name" "$dir"; fi
	done < <(output "$1")
}
why() {  # why run $1 of test $2 failed, from its RESULT line ($3 $4: exit, seconds)
	case $3 in
	'') if [ "$(grep -cxF "RUN $2" "$clean")" -ge "$1" ]; then echo "no RESULT (guest crashed or hung)"
	    else echo "not run (guest stopped, or its console stalled, before it)"; fi ;;
	124|137|143) echo "exit=$3 (timeout ${each}s, ran ${4}s)" ;;
	*) echo "exit=$3 (${4}s)" ;;
	esac
}
retried=()
for t in "${tests[@]}"; do
	rc='' secs='' rc1='' secs1='' show='' again=''
	{ read -r rc1 secs1; read -r rc secs; } < <(awk -v t="$t" '$1 == "RESULT" && $2 == t { print $3, $4 }' "$clean") || true
	if grep -qxF "RETRY $t" "$clean"; then
		again="the first run failed: $(why 1 "$t" "$rc1" "$secs1")"
	else
		rc=$rc1 secs=$secs1
	fi
	if [ -n "$nokvm" ]; then nok "$t" "${nokvm#HARNESS-ERROR: }"; continue; fi
	case $rc in
	0) if output "$t" | grep -qE '^# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:[1-9]'; then
		skp "$t" "all subtests skipped: $(skipwhy "$t")"  # harness tests exit 0 then
	   elif [ -n "$again" ]; then ok "$t" "${secs}s, passed on its retry; $again"; retried+=("$t")
	   else ok "$t" "${secs}s"; fi ;;
	4) if [ -n "$again" ]; then nok "$t" "skipped on its retry; $again"; show=1
	   else skp "$t" "$(skipwhy "$t")"; fi ;;
	*) nok "$t" "$(why "$((${again:+1} + 1))" "$t" "$rc" "$secs")${again:+, on its retry too; $again}"; show=1 ;;
	esac
	subtests "$t"
	output "$t" | awk -v p="# $label:$t: " 'sub(/^NOTE: /, "") { print p $0 }'  # the test's notes
	[ -z "$again" ] || { echo "# $label:$t: the first run's output (it failed, the test was run again):"; showfail "$t" 1; }
	[ -z "$show" ] || { [ -z "$again" ] || echo "# $label:$t: its retry's output:"; showfail "$t"; }
done

# dmesg scan; if the guest never dumped dmesg, scan the console (matches only:
# the console tail is shown below anyway)
# KASAN, KCSAN and most lockdep reports start with "BUG:" or "WARNING:"; hung
# tasks, RCU stalls and "lockdep is turned off" with "INFO: ".  (Matching
# "KCSAN" or "lockdep" alone would hit boot notices.)
pat='WARNING:|BUG:|Oops|general protection|Call Trace|possible circular|UBSAN|kmemleak|panic|INFO: |suspicious RCU'
dm=$(awk '/^DMESG-BEGIN$/ { on = 1; next } /^DMESG-END$/ { exit } on' "$clean") ctx=20
grep -q '^DMESG-BEGIN$' "$clean" || dm=$(cat "$clean") ctx=0
# not reports: the command line contains "panic=-1"; kmemleak's info lines
dm=$(grep -vE '[Cc]ommand line:|kmemleak: (Kernel memory leak detector initialized|Automatic memory scanning)' <<<"$dm" || true)
if grep -qE "$pat" <<<"$dm"; then
	nok dmesg-clean "$(grep -cE "$pat" <<<"$dm") suspicious line(s)"
	grep -E -C $ctx --no-group-separator "$pat" <<<"$dm" | head -n 200 | showtail
else
	ok dmesg-clean
fi
# debug facilities: on until the end, and kmemleak's last scan
for f in $( { printf '%s\n' "${expect[@]}"; awk '$1 == "FACILITY" { print $2 }' "$clean"; } | sed '/^$/d' | sort -u); do
	v=$(awk -v f="$f" '$1 == "FACILITY" && $2 == f { print $3; exit }' "$clean")
	case $v in
	1) ok "$f-active" ;;
	'') nok "$f-active" "not in the guest kernel (or the guest did not finish)" ;;
	*) nok "$f-active" "turned off during the run (after a report, or disabled: see dmesg)" ;;
	esac
done
if grep -q '^KMEMLEAK-BEGIN$' "$clean"; then
	leaks=$(awk '/^KMEMLEAK-BEGIN$/ { on = 1; next } /^KMEMLEAK-END$/ { exit } on' "$clean")
	if [ -z "$leaks" ]; then ok kmemleak-clean
	else nok kmemleak-clean "$(grep -c '^unreferenced object' <<<"$leaks") unreferenced object(s)"
		head -n 100 <<<"$leaks" | showtail; fi
fi
if grep -q '^ALL-DONE$' "$clean"; then
	ok guest-completed
else
	if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then nok guest-completed "guest timed out after ${all}s"
	else nok guest-completed "guest stopped without ALL-DONE ($emu exit $qrc)"; fi
	tail -n 30 "$clean" | showtail
fi
[ ${#retried[@]} = 0 ] || echo "# $label: ${#retried[@]} passed only on their retry (docs/emulator-faults.md): ${retried[*]}"
echo "# $label: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
