#!/bin/bash
# The README's commands.
#   test.sh test    static checks, build, boot, run config/tests.conf; TAP
#                   lines and, last, "N passed, N failed, N skipped"
#   test.sh run     build, boot, and show vCPU fds being polled (the main job)
#   test.sh static  static checks only
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
mode=${1:-test}
cd "$top"

# Number the TAP lines of all steps and count them; the final line is ours.
tally() {
	awk '
	/^(not )?ok( [0-9]+)?( -)?( |$)/ {
		bad = ($1 == "not"); sub(/^(not )?ok( [0-9]+)?( -)? ?/, "")
		n++; skip = !bad && / # SKIP/
		if (bad) f++; else if (skip) s++; else p++
		printf "%sok %d - %s\n", bad ? "not " : "", n, $0; fflush(); next
	}
	{ print; fflush() }
	END {
		printf "1..%d\n", n
		printf "%d passed, %d failed, %d skipped\n", p, f, s
		exit (f > 0 || n == 0)
	}'
}

step() {  # step NAME CMD...: a setup step; its failure is one failed test
	local name=$1; shift
	if "$@"; then return 0; fi
	echo "not ok - $name"
	return 1
}

# Tests of config/tests.conf for one emulator.
tests_for() { awk -v e="$1" '$1 == e { print $2 }' config/tests.conf; }

main() {
	local t0=$(date +%s)
	echo "TAP version 13"
	step "install dependencies" scripts/deps.sh || return
	step "base kernel fetched, verified and patched" scripts/tree.sh apply || return
	[ "$mode" = run ] || scripts/static-checks.sh
	[ "$mode" = static ] && return
	step "kernel build" scripts/kbuild.sh "$B/out" || return
	local all=$(awk '!/^#/ && NF { print $2 }' config/tests.conf | sort -u)
	[ "$mode" = run ] && all=x86/vcpu_poll_test
	step "KVM selftests build" scripts/kselftests.sh "$B/kst" $all || return
	if [ "$mode" = run ]; then
		scripts/run-guest.sh --name demo --verbose "$B/out/arch/x86/boot/bzImage" "$B/kst" "$B/guest/demo" \
			x86/vcpu_poll_test
		return
	fi
	scripts/run-guest.sh --name qemu-svm "$B/out/arch/x86/boot/bzImage" "$B/kst" "$B/guest/qemu" \
		$(tests_for qemu)
	echo "# total time $(( $(date +%s) - t0 )) s"
}

main 2>&1 | tally
