#!/bin/bash
# The per-test table of a run of the QEMU-in-guest tests (scripts/vmm-tests.sh)
# for docs/kut-base.md: result, test, guest seconds, and why for a skip or a
# failure (its first FAIL/SKIP line and the runner's verdict).
#   kut-table.sh OUTDIR     OUTDIR: run-guest.sh's (results.tap, console.log)
set -euo pipefail
[ $# = 1 ] || { sed -n '5s/^# *//p' "$0" >&2; exit 2; }
out=$1 here=$(dirname "$0")
echo "| result | test | seconds | why |"
echo "|---|---|---|---|"
grep -E '^(not )?ok [0-9]+ [^ ]*:(kut|vm)/' "$out/results.tap" | while IFS= read -r l; do
	t=${l#* ok }; [ "$l" = "${l#not }" ] && t=${l#ok }
	t=${t#* }; t=${t%% *}; t=${t#*:}
	secs=$(awk -v t="$t" '$1 == "RESULT" && $2 == t { print $4; exit }' "$out/console.log" | tr -d '\r')
	case $l in
	"not ok "*) r=FAIL why=$("$here/guest/parse.sh" --output "$t" "$out/console.log" |
		grep -E '^(FAIL: |KUT-FAIL |VM-FAIL )' | head -n 2 | sed 's/^KUT-FAIL [^ ]*: //' | paste -sd';' | sed 's/|/\\|/g') ;;
	*"# SKIP"*) r=skip why=${l#*# SKIP}; why=${why# }; why=${why//|/\\|} ;;
	*) r=pass why='' ;;
	esac
	echo "| $r | $t | $secs | $why |"
done
