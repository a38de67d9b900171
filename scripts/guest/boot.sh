#!/bin/bash
# Boot a kernel and initramfs under QEMU or Bochs with the settings of
# config/emulators/EMU.conf (echoed first), the serial console going to
# OUTDIR/console.log; print a progress line per test while it runs.  Writes
# OUTDIR/emulator.rc (the emulator's exit code; 124/137: timed out).
#   boot.sh [--verbose] [--bochs-cpu MODEL] EMU TAG KERNEL INITRD OUTDIR TIMEOUT_EACH TIMEOUT_ALL
# --verbose streams each test's console output as "# " lines.
set -euo pipefail
die() { echo "error: $*" >&2; exit 2; }
verbose=0 cpu=''
while [ $# -gt 0 ]; do
	case $1 in
	--verbose) verbose=1; shift ;;
	--bochs-cpu) cpu=$2; shift 2 ;;
	*) break ;;
	esac
done
[ $# -eq 7 ] || { sed -n '6s/^# *//p' "$0" >&2; exit 2; }
emu=$1 tag=$2 kernel=$3 initrd=$4 out=$5 each=$6 all=$7
top=$(cd "$(dirname "$0")/../.." && pwd)
conf=$top/config/emulators/$emu.conf
[ -f "$conf" ] || die "unsupported emulator '$emu' (no $conf)"
# shellcheck source=../../config/emulators/qemu.conf
. "$conf"
log=$out/console.log
cmdline="console=${console:-ttyS0} panic=-1 RG_TIMEOUT=$each $append${RG_APPEND:+ $RG_APPEND}"
# The guest kernel refines its TSC frequency after KVM (built in) recorded it;
# when the two differ by more than KVM's 250 ppm tolerance and there is no TSC
# scaling, KVM leaves the vCPUs' TSC ratio at 0 and TSC-deadline timers fire
# at once (an upstream issue, seen under TCG).  Start the guest at the right
# frequency: the host's TSC rate under QEMU TCG, Bochs' instruction rate.
tsc_khz() {
	local bin=$out/host-tsc-khz
	[ "$bin" -nt "$top/scripts/host-tsc-khz.c" ] || gcc -O2 -o "$bin" "$top/scripts/host-tsc-khz.c" ||
		die "cannot build host-tsc-khz"
	"$bin"
}
say() { echo "# [guest $tag] $*"; }
: >"$log"
# shellcheck disable=SC2154  # isolinux ldlinux rom vgarom ips: from bochs.conf
if [[ $emu = qemu* ]]; then
	command -v "$binary" >/dev/null || die "$binary not found: scripts/deps.sh installs it"
	tsc=()  # x86 guests only
	[ "$binary" != qemu-system-x86_64 ] || tsc=("tsc_early_khz=$(tsc_khz)" tsc=reliable)
	if [ -n "${accel:-}" ]; then why="config/emulators/$emu.conf"  # the only one for this guest
	elif [ -n "${RG_ACCEL:-}" ]; then accel=$RG_ACCEL why="RG_ACCEL"
	elif ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then accel=tcg why="no usable /dev/kvm"
	elif ! grep -qwE 'svm|vmx' /proc/cpuinfo; then accel=tcg why="/dev/kvm, but the host CPU has no svm/vmx to nest"
	else accel=kvm why="/dev/kvm and $(grep -m1 -owE 'svm|vmx' /proc/cpuinfo) on the host"; fi
	run=("$binary" -accel "$accel" "${args[@]}" -kernel "$kernel" -initrd "$initrd"
	     -append "$cmdline${tsc[*]:+ ${tsc[*]}}")
	sink=$log
	say "accelerator: $accel ($why)"
	say "command: ${run[*]}"
else
	for f in "$isolinux" "$ldlinux" "$rom" "$vgarom"; do [ -f "$f" ] || die "$f not found: scripts/deps.sh installs it"; done
	cpu_model=${cpu:-$cpu_model}
	[[ $cpu_model =~ ^[a-z0-9_]+$ ]] || die "bad Bochs CPU model '$cpu_model' (see: bochs -help cpu)"
	iso=$out/iso.d
	rm -rf "$iso"; mkdir -p "$iso/isolinux"
	cp "$isolinux" "$ldlinux" "$iso/isolinux/"; cp "$kernel" "$iso/bzimage"; cp "$initrd" "$iso/initrd.gz"
	printf '%s\n' 'DEFAULT linux' 'PROMPT 0' 'TIMEOUT 0' 'LABEL linux' '  KERNEL /bzimage' '  INITRD /initrd.gz' \
		"  APPEND $cmdline tsc_early_khz=$((ips / 1000)) tsc=reliable" >"$iso/isolinux/isolinux.cfg"
	xorriso -as mkisofs -R -J -o "$out/boot.iso" -b isolinux/isolinux.bin -c isolinux/boot.cat \
		-no-emul-boot -boot-load-size 4 -boot-info-table "$iso" >"$out/xorriso.log" 2>&1 ||
		die "xorriso failed, see $out/xorriso.log"
	rm -rf "$iso"
	bochsrc "$out/boot.iso" "$log" >"$out/bochsrc"
	echo c >"$out/bochs.rc"  # Debian's Bochs starts in its debugger: continue
	# The VNC display listens on all addresses: hide it in a private network
	# namespace when possible (that also avoids port clashes).
	netns=(); if unshare -n true 2>/dev/null; then netns=(unshare -n); fi
	run=("${netns[@]}" "$binary" -q -f "$out/bochsrc" -rc "$out/bochs.rc")
	sink=$out/bochs.log
	say "kernel command line: $cmdline tsc_early_khz=$((ips / 1000)) tsc=reliable"
	sed 's/^/# [bochsrc] /' "$out/bochsrc"
fi
say "booting ${kernel#"$PWD/"} under $emu (timeout ${each}s per test, ${all}s in all); console: $log"
t0=${EPOCHREALTIME/./}
el() { local d=$(( ${EPOCHREALTIME/./} - t0 )); printf '%d.%d' $((d / 1000000)) $((d / 100000 % 10)); }
timeout -k 5 "$all" "${run[@]}" </dev/null >"$sink" 2>&1 &
qpid=$!
trap 'kill $qpid 2>/dev/null || true' EXIT
intest=''
tail -n +1 -F --pid=$qpid "$log" 2>/dev/null | while IFS= read -r l; do
	l=${l%$'\r'}
	case $l in
	"BOOTED "*) say "/init reached after $(el) s (guest uptime ${l#BOOTED } s)" ;;
	"GUEST-CPU "*) say "the guest sees: ${l#GUEST-CPU }" ;;
	"RUN "*) say "running ${l#RUN } ($(el) s)"; intest=1 ;;
	"RETRY "*) say "${l#RETRY } failed, it may run once more (config/tests.conf): retrying" ;;
	"RESULT "*) read -r _ t rc secs <<<"$l"; intest=''
		say "$t: exit $rc after $secs s guest time ($(el) s)" ;;
	ALL-DONE)  # the guest powers off now; stop the emulator if it lingers
		say "all done ($(el) s)"
		( for _ in {1..30}; do kill -0 $qpid || exit 0; sleep 1; done; kill $qpid ) >/dev/null 2>&1 & ;;
	*) if [ "$verbose" = 1 ] && [ -n "$intest" ] && ! [[ $l =~ ^\[\ *[0-9]+\.[0-9]+\] ]]; then
		echo "# $l"; fi ;;
	esac
done
rc=0; { wait $qpid; } 2>/dev/null || rc=$?  # quiet "Aborted" job notices
trap - EXIT
echo "$rc" >"$out/emulator.rc"
if [ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$rc" != 137 ] && [ "$sink" != "$log" ]; then
	say "$emu exited with $rc; last lines of $sink:"; tail -n 15 "$sink" | sed 's/^/# | /'
fi
say "boot+run took $(el) s"
