#!/bin/bash
# The README's commands.
#   test.sh test    static checks, build, boot, run config/tests.conf, then
#                   the series' tests on the debug kernel; TAP lines and,
#                   last, "N passed, N failed, N skipped"
#   test.sh run     build, boot, and show vCPU fds being polled (the main job)
#   test.sh static  static checks only
#   test.sh debug   the series' tests (and, with FULL=1, the regression set)
#                   on a lockdep/KASAN/kmemleak kernel (config/debug.config)
#   test.sh kcsan   the same on a KCSAN kernel (config/kcsan.config)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
mode=${1:-test}
cd "$top"

# Number the TAP lines of all steps and count them; the final line is ours.
tally() {
	# mawk reads pipes in blocks unless told otherwise: progress must show
	local awk=(awk); awk -W version 2>&1 | grep -q mawk && awk=(awk -W interactive)
	"${awk[@]}" '
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

# Tests of config/tests.conf for one emulator: tests_for EMULATOR [SET...]
tests_for() {
	awk -v e="$1" -v sets="${*:2}" 'BEGIN { n = split(sets, a); for (i = 1; i <= n; i++) want[a[i]] = 1 }
		!/^#/ && $1 == e && (n == 0 || $2 in want) { print $3 }' config/tests.conf
}

# debug_kernel KIND SET...: build the debug kernel KIND (config/KIND.config:
# debug = lockdep, KASAN, kmemleak...; kcsan = KCSAN) and run the listed sets
# of config/tests.conf's QEMU tests on it; the facilities must stay on.
debug_kernel() {
	local kind=$1; shift
	step "$kind kernel build" scripts/kbuild.sh "$B/out-$kind" "config/$kind.config" || return
	scripts/run-guest.sh --name "qemu-svm-$kind" --timeout-each 900 --kconfig "$B/out-$kind/.config" \
		"$B/out-$kind/arch/x86/boot/bzImage" "$B/kst" "$B/guest/$kind" $(tests_for qemu "$@")
}

main() {
	local t0=$(date +%s)
	echo "TAP version 13"
	step "install dependencies" scripts/deps.sh || return
	step "base kernel fetched, verified and patched" scripts/tree.sh apply || return
	case $mode in
	test|static) scripts/static-checks.sh ;;
	debug|kcsan)  # FULL=1: the regression set too
		local sets=(series ${FULL:+regression})
		step "KVM selftests build" scripts/kselftests.sh "$B/kst" $(tests_for qemu "${sets[@]}") || return
		debug_kernel "$mode" "${sets[@]}"
		echo "# total time $(( $(date +%s) - t0 )) s"
		return ;;
	esac
	[ "$mode" = static ] && return
	step "kernel build" scripts/kbuild.sh "$B/out" || return
	local bz=$B/out/arch/x86/boot/bzImage
	step "KVM selftests build" scripts/kselftests.sh "$B/kst" \
		$(awk '!/^#/ && NF { print $3 }' config/tests.conf | sort -u) || return
	case $mode in
	run)
		step "demo VMM build" make -s -C vmm HDR="$B/hdr/include" || return
		scripts/run-guest.sh --name demo --verbose "$bz" vmm "$B/guest/demo" \
			pollvmm@--vcpus,8,--threads,2,--seconds,5 \
			pollvmm@--vcpus,8,--threads,2,--seconds,5,--io-uring ;;
	test)
		scripts/run-guest.sh --name qemu-svm "$bz" "$B/kst" "$B/guest/qemu" $(tests_for qemu)
		[ -z "$(tests_for bochs)" ] ||
			scripts/run-guest.sh --emulator bochs --name bochs-vmx "$bz" "$B/kst" "$B/guest/bochs" \
				$(tests_for bochs)
		# the series' tests on the lockdep/KASAN/kmemleak kernel (~15 min cold)
		debug_kernel debug series ;;
	esac
	echo "# total time $(( $(date +%s) - t0 )) s"
}

main 2>&1 | tally
