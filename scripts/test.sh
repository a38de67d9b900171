#!/bin/bash
# The README's commands.  Every mode prints TAP lines and, last,
# "N passed, N failed, N skipped"; the stream is saved in build/MODE.tap,
# each step's log where its "full log:" line says (docs/logs.md).
#   test.sh test    static checks, build, boot, run config/tests.conf, then
#                   the series' tests on the debug kernel
#   test.sh run     build, boot, and show vCPU fds being polled (the main job)
#   test.sh static  static checks only
#   test.sh debug   the series' tests (and, with FULL=1, the regression set)
#                   on a lockdep/KASAN/kmemleak kernel (config/debug.config)
#   test.sh kcsan   the same on a KCSAN kernel (config/kcsan.config)
#   test.sh one     T=TEST[@ARG,...] on EMU=qemu|bochs (default qemu): build
#                   the kernel and that selftest, boot, run it
#   test.sh base    build the unpatched base kernel (tag base) into
#                   build/out-base, for bench/run.sh and regression baselines
#   test.sh kut     QEMU as the VMM inside the booted kernel: kvm-unit-tests
#                   and a real Linux VM (config/tests.conf sets kut and vm);
#                   builds the kernel, or KERNEL=BZIMAGE boots that one
#   test.sh arm64   the arm64 part: build every kernel patch on its own for
#                   arm64 (static-checks.sh --arm64), cross-build the patched
#                   arm64 kernel and config/tests.conf's qemu-arm64 tests,
#                   boot it under qemu-system-aarch64 at EL2, VHE and then
#                   nVHE, run them
#   test.sh kut-base  every kvm-unit-test and the real VM on the unpatched
#                   base (build/out-base): the baseline of docs/kut-base.md,
#                   its table in build/kut-base.md; KERNEL=BZIMAGE: on that
#                   kernel (build/kut-all.md), to compare
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
mode=${1:-test}
cd "$top" || exit 2

# Number the TAP lines of all steps and count them; the final line is ours.
tally() {
	# mawk reads pipes in blocks unless told otherwise: progress must show
	local awk=(awk); awk -W version 2>&1 | grep -q mawk && awk=(awk -W interactive)
	# shellcheck disable=SC2016  # an awk program
	"${awk[@]}" '
	/^(not )?ok( [0-9]+)?( -)?( |$)/ {
		bad = ($1 == "not"); sub(/^(not )?ok( [0-9]+)?( -)? ?/, "")
		n++; skip = !bad && / # SKIP/
		if (bad) f++; else if (skip) s++; else p++
		if (!bad && / passed on its retry;/) r++
		printf "%sok %d - %s\n", bad ? "not " : "", n, $0; fflush(); next
	}
	{ print; fflush() }
	END {
		if (r) printf "# %d passed only on their retry (config/tests.conf, docs/emulator-faults.md)\n", r
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

# guest ARGS...: run-guest.sh; a run that could not start (exit 2: bad
# setup, reported above) is a failed test too.  The tests of config/tests.conf
# that may be run once more if they fail: every set but series.
guest() {
	local rc=0
	awk '!/^#/ && NF && $2 != "series" { print $3 }' config/tests.conf | sort -u >"$B/retry.list"
	scripts/run-guest.sh --retry "$B/retry.list" "$@" || rc=$?
	[ "$rc" != 2 ] || echo "not ok - guest run $* # could not start"
	return "$rc"
}

# Tests of config/tests.conf for one emulator: tests_for EMULATOR [SET...];
# no SET: the KVM selftests (every set but kut and vm)
tests_for() {
	awk -v e="$1" -v sets="${*:2}" 'BEGIN { n = split(sets, a); for (i = 1; i <= n; i++) want[a[i]] = 1 }
		!/^#/ && $1 == e && ((n == 0 && $2 != "kut" && $2 != "vm") || $2 in want) { print $3 }' config/tests.conf
}

# vmm_guest [--all-pass] [--emulator bochs] BZIMAGE OUTDIR LABEL TEST...:
# boot BZIMAGE under QEMU (or Bochs) and run the tests that use QEMU + KVM
# inside it (kut/NAME, vm/linux-smpN: scripts/vmm-tests.sh).  Without a
# kvm-unit-tests source the kut tests are skipped, with the reason.
# --all-pass: the kut tests pass on the base (config/tests.conf), so one
# that skips is a failure too (LABEL:kut-none-skipped).
vmm_guest() {
	local all='' emu=qemu ts=() t why rc=0 max lab skipped
	[ "$1" != --all-pass ] || { all=1; shift; }
	[ "$1" != --emulator ] || { emu=$2; shift 2; }
	local bz=$1 out=$2 label=$3; shift 3
	if [[ " $* " = *" kut/"* ]]; then
		why=$(scripts/kut.sh "$B/kut") || rc=$?
		grep '^# ' <<<"$why"
		why=$(grep -v '^# ' <<<"$why" || true)
		case $rc in
		0) ;;
		4) for t in "$@"; do [[ $t != kut/* ]] || echo "ok - ${label//-\{cpu\}/}:$t # SKIP $why"; done ;;
		*) echo "$why"; echo "not ok - kvm-unit-tests build" ;;
		esac
	fi
	for t in "$@"; do [[ $t = kut/* && $rc != 0 ]] || ts+=("$t"); done
	[ ${#ts[@]} -gt 0 ] || return "$rc"
	max=$(scripts/vmm-tests.sh "$B/kut" "$bz" "$out" "${ts[@]}") || { echo "not ok - QEMU-in-guest tests prepared"; return 1; }
	guest --emulator "$emu" --name "$label" --timeout-each $((max + 30)) --overlay "$out/root" "$bz" "$out/tests" "$out/guest" "${ts[@]}" || rc=$?
	[ -n "$all" ] && [ -f "$out/guest/results.tap" ] && [[ " ${ts[*]} " = *" kut/"* ]] || return "$rc"
	lab=$(sed -n 's/^ok [0-9]* \([^ ]*\):guest-completed.*/\1/p' "$out/guest/results.tap")
	skipped=$(awk '$3 ~ /:kut\// && / # SKIP/ { sub(/^[^:]*:/, "", $3); print $3 }' "$out/guest/results.tap" | paste -sd' ')
	if [ -n "$skipped" ]; then
		echo "not ok - ${lab:-qemu}:kut-none-skipped # they pass on the base (docs/kut-base.md): $skipped"; rc=1
	else
		echo "ok - ${lab:-qemu}:kut-none-skipped"
	fi
	return "$rc"
}

# debug_kernel KIND SET...: build the debug kernel KIND (config/KIND.config:
# debug = lockdep, KASAN, kmemleak...; kcsan = KCSAN) and run the listed sets
# of config/tests.conf's QEMU tests on it; the facilities must stay on.
debug_kernel() {
	local kind=$1; shift
	step "$kind kernel build" scripts/kbuild.sh "$B/out-$kind" "config/$kind.config" || return
	mapfile -t ts < <(tests_for qemu "$@")
	guest --name "qemu-{cpu}-$kind" --timeout-each 900 --kconfig "$B/out-$kind/.config" \
		"$B/out-$kind/arch/x86/boot/bzImage" "$B/kst" "$B/guest/$kind" "${ts[@]}"
}

# vmm_guests BZIMAGE: config/tests.conf's sets kut and vm, on each emulator
vmm_guests() {
	local e ts
	for e in qemu bochs; do
		mapfile -t ts < <(tests_for "$e" kut vm)
		[ ${#ts[@]} = 0 ] || vmm_guest --all-pass --emulator "$e" "$1" "$B/guest/vmm-$e" "$e-{cpu}-vmm" "${ts[@]}"
	done
}

# arm64: config/tests.conf's qemu-arm64 tests on the patched arm64 kernel,
# booted in VHE and in nVHE mode
test_arm64() {
	local img=$B/arm64/out/arch/arm64/boot/Image ts
	step "install dependencies (arm64)" scripts/deps.sh --arm64 || return
	step "base kernel fetched, verified and patched" scripts/tree.sh apply || return
	scripts/static-checks.sh --arm64
	step "arm64 kernel build" scripts/kbuild.sh --arm64 "$B/arm64/out" || return
	mapfile -t ts < <(tests_for qemu-arm64)
	step "arm64 KVM selftests build" scripts/kselftests.sh --arm64 "$B/arm64/kst" "${ts[@]}" || return
	guest --emulator qemu-arm64 --name qemu-arm64-vhe "$img" "$B/arm64/kst" "$B/guest/arm64-vhe" "${ts[@]}"
	RG_APPEND=kvm-arm.mode=nvhe guest --emulator qemu-arm64 --name qemu-arm64-nvhe \
		"$img" "$B/arm64/kst" "$B/guest/arm64-nvhe" "${ts[@]}"
}

main() {
	local t0 ts
	t0=$(date +%s)
	echo "TAP version 13"
	echo "# [test] make $mode: TAP stream saved in $B/$mode.tap"
	step "install dependencies" scripts/deps.sh || return
	case $mode in
	arm64)
		test_arm64
		echo "# total time $(($(date +%s) - t0)) s"
		return ;;
	kut-base)  # KERNEL=: the same on another kernel (e.g. the patched one, to compare)
		local bz=${KERNEL:-$B/out-base/arch/x86/boot/bzImage} n=kut-base
		[ -z "${KERNEL:-}" ] || n=kut-all
		[ -f "$bz" ] || { echo "not ok - base kernel $bz: run make base first"; return; }
		mapfile -t ts < <(scripts/kut.sh "$B/kut" >/dev/null && scripts/vmm-tests.sh --list "$B/kut")
		mapfile -t -O ${#ts[@]} ts < <(tests_for qemu vm)
		vmm_guest "$bz" "$B/guest/$n" "qemu-{cpu}-vmm-${n#kut-}" "${ts[@]}"
		scripts/kut-table.sh "$B/guest/$n/guest" >"$B/$n.md" &&
			echo "# [test] per-test table (for docs/kut-base.md): $B/$n.md"
		echo "# total time $(($(date +%s) - t0)) s"
		return ;;
	kut)
		if [ -n "${KERNEL:-}" ]; then
			vmm_guests "$KERNEL"
			echo "# total time $(($(date +%s) - t0)) s"
			return
		fi ;;
	esac
	if [ "$mode" = base ]; then  # only tag base is needed: leave the tree's HEAD alone
		step "base kernel fetched and verified" scripts/tree.sh check || return
	else
		step "base kernel fetched, verified and patched" scripts/tree.sh apply || return
	fi
	case $mode in
	test|static) scripts/static-checks.sh ;;
	debug|kcsan)  # FULL=1: the regression set too
		local sets=(series ${FULL:+regression})
		mapfile -t ts < <(tests_for qemu "${sets[@]}")
		step "KVM selftests build" scripts/kselftests.sh "$B/kst" "${ts[@]}" || return
		debug_kernel "$mode" "${sets[@]}"
		echo "# total time $(($(date +%s) - t0)) s"
		return ;;
	base)
		g() { git -C "$K" "$@"; }
		g worktree prune
		[ -d "$B/base-src" ] || step "worktree of tag base" g worktree add -q --detach "$B/base-src" base || return
		KSRC=$B/base-src step "base kernel build" scripts/kbuild.sh "$B/out-base" &&
			echo "ok - base kernel (tag base, unpatched) built: $B/out-base/arch/x86/boot/bzImage"
		return ;;
	esac
	[ "$mode" = static ] && return
	step "kernel build" scripts/kbuild.sh "$B/out" || return
	local bz=$B/out/arch/x86/boot/bzImage
	case $mode in
	one)
		[ -n "${T:-}" ] || { echo "not ok - make one needs T=TEST[@ARG,...] (a line of config/tests.conf)"; return; }
		step "KVM selftests build" scripts/kselftests.sh "$B/kst" "$T" || return
		guest --emulator "${EMU:-qemu}" --verbose "$bz" "$B/kst" "$B/guest/one-${EMU:-qemu}" "$T"
		return ;;
	esac
	case $mode in
	kut)
		vmm_guests "$bz"
		echo "# total time $(($(date +%s) - t0)) s"
		return ;;
	esac
	mapfile -t ts < <(tests_for qemu; tests_for bochs)
	mapfile -t ts < <(printf '%s\n' "${ts[@]}" | sort -u)
	step "KVM selftests build" scripts/kselftests.sh "$B/kst" "${ts[@]}" || return
	case $mode in
	run)
		step "demo VMM build" make -s -C vmm HDR="$B/hdr/include" || return
		# --cpu 0: QEMU's nested SVM corrupts guests kicked from the
		# other CPU (docs/emulator-faults.md)
		guest --name demo --verbose "$bz" vmm "$B/guest/demo" \
			pollvmm@--vcpus,8,--threads,2,--seconds,5,--cpu,0 \
			pollvmm@--vcpus,8,--threads,2,--seconds,5,--io-uring,--cpu,0 ;;
	test)
		mapfile -t ts < <(tests_for qemu)
		guest "$bz" "$B/kst" "$B/guest/qemu" "${ts[@]}"
		# QEMU + KVM inside the booted kernel: kvm-unit-tests, a real VM
		vmm_guests "$bz"
		mapfile -t ts < <(tests_for bochs)
		[ ${#ts[@]} = 0 ] || guest --emulator bochs "$bz" "$B/kst" "$B/guest/bochs" "${ts[@]}"
		# the series' tests on the lockdep/KASAN/kmemleak kernel
		debug_kernel debug series ;;
	esac
	echo "# total time $(($(date +%s) - t0)) s"
}

mkdir -p "$B"
main 2>&1 | tally | tee "$B/$mode.tap"
