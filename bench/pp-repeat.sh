#!/bin/bash
# Repeat the IPI ping-pong (pollbench pingpong ROUNDTRIPS 1 halt) over many
# boots of the patched and the base kernel in ABBA order (patched base base
# patched, repeated), each run in its own pollbench process, so that an off
# interrupt count or a stall ends only that run, not the boot's other runs
# (issue 16).  Prints per boot and per kernel: runs, round trips done, off
# counts (with the vectors pollbench prints), stalls (no interrupt for 20 s,
# with the guests' state), other failures.
#   bench/pp-repeat.sh [--summary] [BOOTS [RUNS [ROUNDTRIPS]]]  (4 25 20000)
# --summary: only summarise the output of the last run again.
# Environment: PATCHED, BASE (the bzImages; build/out, build/out-base), HDR
# (uAPI headers for pollbench; build/hdr/include), TIMEOUT_RUN (120 s per
# run), RUN_GUEST (scripts/run-guest.sh).  Output in build/bench/pp-repeat/
# (summary.txt; runs.txt: one line per run).
set -euo pipefail
# shellcheck source=../scripts/lib.sh
. "$(dirname "$0")/../scripts/lib.sh"
only_summary=0; [ "${1:-}" != --summary ] || { only_summary=1; shift; }
[ $# -le 3 ] || { sed -n '2,14s/^# \{0,1\}//p' "$0" >&2; exit 2; }
boots=${1:-4} runs=${2:-25} rt=${3:-20000}
for n in "$boots" "$runs" "$rt"; do
	case $n in ''|*[!0-9]*|0) echo "error: BOOTS, RUNS, ROUNDTRIPS must be numbers >= 1" >&2; exit 2 ;; esac
done
: "${PATCHED:=$B/out/arch/x86/boot/bzImage}" "${BASE:=$B/out-base/arch/x86/boot/bzImage}"
: "${HDR:=$B/hdr/include}" "${TIMEOUT_RUN:=120}" "${RUN_GUEST:=$top/scripts/run-guest.sh}"
declare -A kernel=([patched]=$PATCHED [base]=$BASE)
for k in patched base; do [ -f "${kernel[$k]}" ] || { echo "error: ${kernel[$k]} missing" >&2; exit 1; }; done
out=$B/bench/pp-repeat
say() { echo "# [pp-repeat] $*"; }

abba=(patched base base patched)
if [ $only_summary = 0 ]; then
	make -s -C "$top/bench" HDR="$HDR"
	rm -rf "$out"; mkdir -p "$out/tests"
	cp "$top/bench/pollbench" "$out/tests/"
	# The guest side: RUNS pollbench processes, one after the other.
	cat >"$out/tests/pp-loop" <<-EOF
		#!/bin/sh
		i=0
		while [ \$i -lt "\$1" ]; do
			i=\$((i + 1))
			echo "PPRUN \$i"
			timeout -k 10 $TIMEOUT_RUN /tests/pollbench pingpong "\$2" 1 halt
			echo "PPEND \$i \$?"
		done
	EOF
	chmod +x "$out/tests/pp-loop"

	for ((i = 1; i <= boots; i++)); do
		k=${abba[(i - 1) % 4]}
		say "boot $i/$boots: $k, $runs x $rt round trips; load average $(cut -d' ' -f1-3 /proc/loadavg)," \
			"other emulators $(pgrep -c -f '^(qemu-system|bochs)' || true)"
		# pollbench@...: only puts pollbench (and its libraries) into the initramfs
		"$RUN_GUEST" --name "pp$i-$k" --timeout-each $((runs * TIMEOUT_RUN)) "${kernel[$k]}" "$out/tests" \
			"$out/$i-$k" pollbench@pingpong,100,1,halt "pp-loop@$runs,$rt" >"$out/$i-$k.log" 2>&1 || true
		grep -E '^(ok|not ok) |boot\+run took' "$out/$i-$k.log" | sed 's/^/#   /'
	done
fi

# Per run: BOOT KERNEL RUN STATUS US ROUNDTRIPS rc=EXIT [| lines], STATUS
# ok, off (count off: pollbench's lines, vectors), stall (no interrupt for
# 20 s: the guests' state), fail (other exit), cut (no end: the boot ended),
# missing; ROUNDTRIPS: those done (ping's interrupts).
for ((i = 1; i <= boots; i++)); do
	k=${abba[(i - 1) % 4]}
	awk -v b="$i" -v k="$k" -v runs="$runs" -v rt="$rt" '{ gsub(/\r/, "") }
		function line(what, end) {
			printf "%d %s %d %s %s %s %s%s\n", b, k, r, what, us == "" ? "-" : us,
				what == "ok" ? rt : done == "" ? "-" : done, end, detail
			seen++; on = 0
		}
		$1 == "PPRUN" { r = $2; on = 1; us = ""; what = ""; detail = ""; done = ""; next }
		on && $1 == "PPEND" { line(what != "" ? what : $3 == 0 && us != "" ? "ok" : "fail", "rc=" $3); next }
		!on { next }
		$1 == "@pingpong" { us = $4 }
		/interrupts, expected/ { what = "off"; split($0, f, /[ \/]+/); for (j in f) if (f[j] == "ping-pong:") done = f[j + 1] }
		/STALLED/ { what = "stall" }
		/^  ping: ready/ { for (j = 1; j < NF; j++) if ($j == "nr_irq") done = $(j + 1) }
		/^(ping|pong):|STALLED|interrupts, expected|waits of 100 ms|^  (ping|pong): |pollbench:/ { detail = detail " | " $0 }
		END { if (on) line("cut", "-"); for (r = seen + 1; r <= runs; r++) printf "%d %s %d missing - - -\n", b, k, r }' \
		"$out/$i-$k/console.log"
done >"$out/runs.txt"

{
	echo "pp-repeat: $boots boots (ABBA), $runs runs x $rt round trips per boot, $(date -u '+%Y-%m-%d %H:%M UTC')"
	awk '{ n[$1]++; c[$1, $4]++; k[$1] = $2; d[$1] += $6; if ($4 == "ok") { s[$1] += $5 } }
		END { for (b = 1; b in n; b++)
			printf "boot %d %-7s runs %d: ok %d, off %d, stall %d, fail %d, cut %d, missing %d;" \
				" round trips %d; mean of ok runs %.2f us\n", b, k[b], n[b], c[b, "ok"], c[b, "off"],
				c[b, "stall"], c[b, "fail"], c[b, "cut"], c[b, "missing"], d[b],
				c[b, "ok"] ? s[b] / c[b, "ok"] : 0 }' "$out/runs.txt"
	awk '{ n[$2]++; c[$2, $4]++; d[$2] += $6 }
		END { for (k in n)
			printf "%-7s runs %d: ok %d, off %d, stall %d, fail %d, cut %d, missing %d; round trips %d\n",
				k, n[k], c[k, "ok"], c[k, "off"], c[k, "stall"], c[k, "fail"], c[k, "cut"],
				c[k, "missing"], d[k] }' "$out/runs.txt" | sort -r
	echo "runs that were not ok, or had waits of 100 ms or more:"
	grep -vE '^[0-9]+ [a-z]+ [0-9]+ ok [0-9.]+ [0-9]+ rc=0$' "$out/runs.txt" || echo "  none"
} | tee "$out/summary.txt"
