#!/bin/bash
# Boot BZIMAGE under QEMU or Bochs with a busybox initramfs holding the listed
# test executables, run them one by one in the guest, report TAP lines.
#   run-guest.sh [--emulator qemu|bochs|qemu-arm64] [--bochs-cpu MODEL] [--verbose]
#                [--timeout-each SEC] [--timeout-all SEC] [--name LABEL]
#                [--kconfig DOTCONFIG] [--overlay DIR] [--retry FILE]
#                BZIMAGE TESTDIR OUTDIR TEST[@ARG,ARG...]...
# The steps, one file each under scripts/guest/ (as kunit_tool's config,
# build, boot, parse): initramfs.sh (busybox, init.sh as /init, the tests and
# their libraries), boot.sh (the settings of config/emulators/EMU.conf,
# echoed before the boot; progress per test), parse.sh (console -> TAP).
# LABEL (default EMU-{cpu}) names the TAP lines; {cpu} becomes what the guest
# saw: svm (QEMU TCG -cpu max: nested SVM, kvm_amd), vmx (Bochs, or QEMU with
# KVM on an Intel host: kvm_intel) or none.  --verbose streams each test's
# console output.  --kconfig: see parse.sh (debug facilities, kmemleak).
# --overlay: a tree copied into the initramfs' root (see initramfs.sh).
# --retry: a file naming the tests (one per line, as listed) that run once
# more in the same boot if they fail; parse.sh reports both attempts.
# OUTDIR gets initramfs.cpio.gz (cached), console.log, results.tap (the TAP
# lines) and counts ("passed failed skipped"); for bochs also boot.iso,
# bochsrc and bochs.log.  Exit 0 if nothing failed, 1 otherwise, 2 on bad
# usage.  RG_ACCEL=tcg|kvm forces QEMU's accelerator; RG_BOCHS_IPS,
# RG_BOCHS_SYNC override Bochs' "cpu: ips=" and "clock: sync="; RG_APPEND
# adds to the guest kernel's command line.
set -euo pipefail
die() { echo "error: $*" >&2; exit 2; }
usage() { sed -n '4,7s/^# *//p' "$0" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)

emu=qemu each='' all='' label='' cpu='' boot=() kconfig=() overlay=() retry=()
while [ $# -gt 0 ]; do
	case $1 in --emulator|--bochs-cpu|--timeout-each|--timeout-all|--name|--kconfig|--overlay|--retry) [ $# -ge 2 ] || die "$1 needs a value" ;; esac
	case $1 in
	--emulator) emu=$2 ;;
	--bochs-cpu) cpu=$2; boot+=(--bochs-cpu "$2") ;;
	--timeout-each) each=$2 ;;
	--timeout-all) all=$2 ;;
	--name) label=$2 ;;
	--kconfig) kconfig=(--kconfig "$2") ;;
	--overlay) overlay=(--overlay "$2") ;;
	--retry) retry=(--retry "$2") ;;
	--verbose) boot+=(--verbose); shift; continue ;;
	-h|--help) usage ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
	shift 2
done
conf=$here/../config/emulators/$emu.conf
[ -f "$conf" ] || die "unsupported emulator '$emu' (qemu, bochs or qemu-arm64)"
# shellcheck source=../config/emulators/qemu.conf
. "$conf"
: "${each:=$timeout_each}" "${label:=$emu-{cpu\}}"
[[ $each =~ ^[0-9]+$ && $all =~ ^[0-9]*$ ]] || die "timeouts must be whole seconds"
[ -z "$cpu" ] || [[ $cpu =~ ^[a-z0-9_]+$ ]] || die "bad Bochs CPU model '$cpu' (see: bochs -help cpu)"
[ $# -ge 4 ] || usage
kernel=$1 testdir=$2 out=$3; shift 3
tests=("$@")
[ -f "$kernel" ] || die "bzImage not found: $kernel"
[ -d "$testdir" ] || die "test directory not found: $testdir"
for t in "${tests[@]}"; do
	case $t in *[[:space:]]*) die "test name must not contain spaces: '$t'" ;; esac
	if ! [ -f "$testdir/${t%%@*}" ] || ! [ -x "$testdir/${t%%@*}" ]; then
		die "test not found or not executable: $testdir/${t%%@*}"
	fi
done
: "${all:=$((timeout_boot + ${#tests[@]} * each))}"
mkdir -p "$out"
tag=${label//-\{cpu\}/}; tag=${tag//\{cpu\}/}  # progress lines: before the guest says

bb=(); [ -z "${busybox:-}" ] || bb=(--busybox "$busybox")  # a foreign guest's
"$here/guest/initramfs.sh" "${overlay[@]}" "${retry[@]}" "${bb[@]}" "$out/initramfs.cpio.gz" "$testdir" "${tests[@]}"
"$here/guest/boot.sh" "${boot[@]}" "$emu" "$tag" "$kernel" "$out/initramfs.cpio.gz" "$out" "$each" "$all"
rc=0
"$here/guest/parse.sh" --label "$label" --emu "$emu" --rc "$(cat "$out/emulator.rc")" --each "$each" --all "$all" \
	"${kconfig[@]}" "$out/console.log" "${tests[@]}" >"$out/results.tap" || rc=$?
cat "$out/results.tap"
echo "# TAP lines saved in $out/results.tap, console in $out/console.log"
awk '/^ok .* # SKIP/ { s++; next } /^ok / { p++ } /^not ok / { f++ } END { print p + 0, f + 0, s + 0 }' \
	"$out/results.tap" >"$out/counts"
exit "$rc"
