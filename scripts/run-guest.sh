#!/bin/bash
# Boot BZIMAGE under QEMU or Bochs with a busybox initramfs holding the listed
# test executables, run them one by one in the guest, report KTAP-like lines.
#   run-guest.sh [--emulator qemu|bochs] [--bochs-cpu MODEL] [--verbose]
#                [--timeout-each SEC] [--timeout-all SEC] [--name LABEL]
#                [--kconfig DOTCONFIG]
#                BZIMAGE TESTDIR OUTDIR TEST[@ARG,ARG...]...
# qemu (label qemu-svm): TCG, -cpu max, nested SVM, so the guest uses kvm_amd.
# bochs (label bochs-vmx): Bochs' VMX emulation, CPU model broadwell_ult by
# default, so kvm_intel with the VMX preemption timer; boots an isolinux ISO.
# --verbose streams each test's console output as "# " lines while it runs.
# --kconfig names the kernel's .config: every debug facility it enables
# (PROVE_LOCKING: lockdep, KASAN, KCSAN, DEBUG_KMEMLEAK) must still be on at
# the end of the run (LABEL:FACILITY-active), and kmemleak's scan after the
# tests must find no leak (LABEL:kmemleak-clean).
# A test's own TAP result lines (kselftest harness) become subtest lines
# LABEL:TEST:NAME right after the test's line.  OUTDIR gets initramfs.cpio.gz
# (cached), console.log and counts ("passed failed skipped"); for bochs also
# boot.iso, bochsrc and bochs.log.  Exit 0 if nothing failed, 1 otherwise, 2
# on bad usage.  RG_ACCEL=tcg|kvm overrides QEMU's accelerator choice;
# RG_BOCHS_IPS and RG_BOCHS_SYNC override Bochs' "cpu: ips=" and "clock: sync=".
# RG_APPEND adds to the guest kernel's command line.
set -euo pipefail
die() { echo "error: $*" >&2; exit 2; }
usage() { sed -n '4,6s/^# *//p' "$0" >&2; exit 2; }

emu=qemu each='' all='' label='' cpu=broadwell_ult verbose=0 kconfig=''
while [ $# -gt 0 ]; do
	case $1 in --emulator|--bochs-cpu|--timeout-each|--timeout-all|--name|--kconfig) [ $# -ge 2 ] || die "$1 needs a value" ;; esac
	case $1 in
	--emulator) emu=$2 ;;
	--bochs-cpu) cpu=$2 ;;
	--timeout-each) each=$2 ;;
	--timeout-all) all=$2 ;;
	--name) label=$2 ;;
	--kconfig) kconfig=$2 ;;
	--verbose) verbose=1; shift; continue ;;
	-h|--help) usage ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
	shift 2
done
case $emu in  # boot: seconds allowed for booting and the dmesg dump
qemu) : "${each:=120}" "${label:=qemu-svm}"; boot=60 ;;
bochs) : "${each:=600}" "${label:=bochs-vmx}"; boot=300 ;;
*) die "unsupported emulator '$emu' (qemu or bochs)" ;;
esac
[[ $each =~ ^[0-9]+$ && $all =~ ^[0-9]*$ ]] || die "timeouts must be whole seconds"
expect=''  # the debug facilities the kernel was built with
if [ -n "$kconfig" ]; then
	[ -f "$kconfig" ] || die "kernel config not found: $kconfig"
	expect=$(awk -F= '$2 == "y" { sub(/^CONFIG_/, "", $1); print $1 }' "$kconfig" | awk '
		$1 == "PROVE_LOCKING" { print "lockdep" } $1 == "KASAN" { print "kasan" }
		$1 == "KCSAN" { print "kcsan" } $1 == "DEBUG_KMEMLEAK" { print "kmemleak" }')
fi
[[ $cpu =~ ^[a-z0-9_]+$ ]] || die "bad Bochs CPU model '$cpu' (see: bochs -help cpu)"
[ $# -ge 4 ] || usage
kernel=$1 testdir=$2 out=$3; shift 3
tests=("$@")
qemu=qemu-system-x86_64 bb=/bin/busybox
isolinux=/usr/lib/ISOLINUX/isolinux.bin ldlinux=/usr/lib/syslinux/modules/bios/ldlinux.c32
rom=/usr/share/bochs/BIOS-bochs-latest vgarom=/usr/share/vgabios/vgabios.bin
if [ "$emu" = qemu ]; then
	command -v $qemu >/dev/null || die "$qemu not found: apt-get install qemu-system-x86"
else
	command -v bochs >/dev/null || die "bochs not found: apt-get install bochs bochsbios vgabios"
	command -v xorriso >/dev/null || die "xorriso not found: apt-get install xorriso"
	for f in $isolinux $ldlinux $rom $vgarom; do
		[ -f "$f" ] || die "$f not found: apt-get install isolinux syslinux-common bochsbios vgabios"
	done
fi
[ -x $bb ] || die "$bb not found: apt-get install busybox-static"
[ -f "$kernel" ] || die "bzImage not found: $kernel"
[ -d "$testdir" ] || die "test directory not found: $testdir"
for t in "${tests[@]}"; do
	case $t in *[[:space:]]*) die "test name must not contain spaces: '$t'" ;; esac
	[ -f "$testdir/${t%%@*}" ] && [ -x "$testdir/${t%%@*}" ] || die "test not found or not executable: $testdir/${t%%@*}"
done
: "${all:=$((boot + ${#tests[@]} * each))}"
mkdir -p "$out"
initrd=$out/initramfs.cpio.gz log=$out/console.log

# --- initramfs: busybox, the listed tests and the shared libraries they need
bins=("$bb"); for t in "${tests[@]}"; do bins+=("$testdir/${t%%@*}"); done
for f in "${bins[@]}"; do
	if ldd "$f" 2>/dev/null | grep -q 'not found'; then die "$f: missing shared library: $(ldd "$f" | grep 'not found' | head -1)"; fi
done
libs=$(for f in "${bins[@]}"; do ldd "$f" 2>/dev/null | grep -o '/[^ ]*' || true; done | sort -u)
for d in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu; do  # dlopen()ed by pthread_cancel
	[ -f $d/libgcc_s.so.1 ] && { libs+=$'\n'$d/libgcc_s.so.1; break; }
done
key=$({ printf '%s\n' "${tests[@]}"; stat -L -c '%n %s %Y' "${bins[@]}" $libs "$0"; } | sha256sum | cut -c1-16)
if [ ! -f "$initrd" ] || [ "$(cat "$out/initramfs.key" 2>/dev/null)" != "$key" ]; then
	echo "# [guest $label] building initramfs (${#tests[@]} tests)"
	root=$out/initramfs.d
	rm -rf "$root"; mkdir -p "$root"/{bin,dev,proc,sys,tmp}
	install -m755 $bb "$root/bin/busybox"
	for l in $libs; do install -D -m755 "$l" "$root$l"; done
	for t in "${tests[@]}"; do  # debug info is useless without addr2line in the guest
		install -D -m755 "$testdir/${t%%@*}" "$root/tests/${t%%@*}"
		strip --strip-debug "$root/tests/${t%%@*}" 2>/dev/null || true
	done
	printf '%s\n' "${tests[@]}" >"$root/tests.list"
	cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs dev /dev
mount -t debugfs debugfs /sys/kernel/debug; mount -t tmpfs tmpfs /tmp
up() { cut -d' ' -f1 /proc/uptime; }
drain() {  # RG_DRAIN=1: wait until the (slow) serial port sent what it was given,
	# so that a test which stalls the console or the poweroff loses no lines
	[ -n "${RG_DRAIN:-}" ] || return 0
	local a b=''  # the UART's tx counter in $ser
	while a=$(cat "$ser" 2>/dev/null); [ "$a" != "$b" ]; do b=$a; sleep 1; done
	[ -n "$a" ] || sleep 3
}
ser=$(ls -d /proc/tty/driver/serial* 2>/dev/null | head -n 1)
echo "BOOTED $(up)"
for m in svm:kvm_amd vmx:kvm_intel; do  # built-in: params exist even if the CPU lacks the feature
	grep -qw "${m%:*}" /proc/cpuinfo || continue
	for f in /sys/module/${m#*:}/parameters/*; do [ -f "$f" ] && echo "PARAM ${m#*:}.${f##*/}=$(cat "$f")"; done
done
set -f  # no globbing of test arguments
if [ -c /dev/kvm ]; then
	while read -r t; do
		p=${t%%@*} a=''
		case $t in *@*) a=$(echo "${t#*@}" | tr , ' ') ;; esac
		echo "RUN $t"; drain; s=$(up)
		(cd "/tests/${p%/*}" 2>/dev/null || cd /tests; exec timeout -k 10 "$RG_TIMEOUT" "/tests/$p" $a) </dev/null 2>&1
		rc=$?
		echo "RESULT $t $rc $(awk -v s="$s" -v e="$(up)" 'BEGIN { printf "%.2f", e - s }')"
		drain
	done </tests.list
else
	echo "HARNESS-ERROR: /dev/kvm missing in guest"
fi
# Debug facilities: still on after the tests? (lockdep turns itself off after
# its first report), and kmemleak's findings: it reports objects older than
# 5 s that two scans in a row found unreferenced.
[ -r /proc/lockdep_stats ] && echo "FACILITY lockdep $(awk '$1 == "debug_locks:" { print $2 }' /proc/lockdep_stats)"
[ -r /sys/kernel/debug/kcsan ] && echo "FACILITY kcsan $(awk '$1 == "enabled:" { print $2 }' /sys/kernel/debug/kcsan)"
dmesg | grep -q 'KernelAddressSanitizer initialized' && echo "FACILITY kasan 1"
if [ -e /sys/kernel/debug/kmemleak ]; then
	sleep 6
	if echo scan >/sys/kernel/debug/kmemleak && sleep 1 && echo scan >/sys/kernel/debug/kmemleak; then
		echo "FACILITY kmemleak 1"; echo KMEMLEAK-BEGIN; cat /sys/kernel/debug/kmemleak; echo KMEMLEAK-END
	else
		echo "FACILITY kmemleak 0"
	fi
fi
echo DMESG-BEGIN; dmesg; echo DMESG-END
echo ALL-DONE
drain
sync; poweroff -f; sleep 5; reboot -f
EOF
	chmod 755 "$root/init"
	(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -6) >"$initrd.tmp"
	mv "$initrd.tmp" "$initrd"; echo "$key" >"$out/initramfs.key"; rm -rf "$root"
fi

# --- boot
args="console=ttyS0 panic=-1 RG_TIMEOUT=$each${RG_APPEND:+ $RG_APPEND}"
# The guest kernel refines its TSC frequency after KVM (built in) recorded it;
# when the two differ by more than KVM's 250 ppm tolerance and there is no TSC
# scaling, KVM leaves the vCPUs' TSC ratio at 0 and TSC-deadline timers fire
# at once (an upstream issue, seen under TCG).  Start the guest at the right
# frequency: the host's TSC rate under QEMU TCG, Bochs' instruction rate.
tsc_khz() {
	local bin=$out/host-tsc-khz
	[ -x "$bin" ] || gcc -O2 -o "$bin" "$(dirname "$0")/host-tsc-khz.c" || die "cannot build host-tsc-khz"
	"$bin"
}
: >"$log"
if [ "$emu" = qemu ]; then  # KVM only helps if the host CPU exposes SVM/VMX for nesting
	accel=${RG_ACCEL:-tcg}
	if [ -z "${RG_ACCEL:-}" ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'svm|vmx' /proc/cpuinfo; then accel=kvm; fi
	bios=(); [ -f /usr/share/qemu/qboot.rom ] && bios=(-bios /usr/share/qemu/qboot.rom)
	what="accel=$accel" sink=$log
	run=(timeout -k 5 "$all" "$qemu" -machine q35 -accel "$accel" -cpu max -smp 2 -m 2G "${bios[@]}"
		-kernel "$kernel" -initrd "$initrd" -append "$args loglevel=4 tsc_early_khz=$(tsc_khz) tsc=reliable"
		-display none -monitor none -serial stdio -no-reboot)
else  # no direct kernel boot: an isolinux CD.  Reboots become triple faults,
	# which end Bochs like QEMU's -no-reboot; so does the guest's poweroff.
	# The guest's TSC/APIC/HPET count emulated instructions at "ips" per
	# second; sync=slowdown keeps them from running ahead of the host clock
	# (sync=realtime let idle time fast-forward them ~8x), so guest time
	# tracks host time while Bochs keeps up with ips (50M: ~50% of a core).
	# clearcpuid=ht: Bochs' CPUID claims HT with one thread per package,
	# which trips a topology WARN at boot.  Known: Bochs 2.7 starves the
	# host kernel while a nested guest spins with IF=0 (pending interrupts
	# cause no VM exit), so vmx_preemption_timer_test hangs the guest.
	iso=$out/iso.d ips=${RG_BOCHS_IPS:-50000000} sync=${RG_BOCHS_SYNC:-slowdown}
	rm -rf "$iso"; mkdir -p "$iso/isolinux"
	cp "$isolinux" "$ldlinux" "$iso/isolinux/"; cp "$kernel" "$iso/bzimage"; cp "$initrd" "$iso/initrd.gz"
	printf '%s\n' 'DEFAULT linux' 'PROMPT 0' 'TIMEOUT 0' 'LABEL linux' '  KERNEL /bzimage' '  INITRD /initrd.gz' \
		"  APPEND $args loglevel=1 reboot=t clearcpuid=ht RG_DRAIN=1 tsc_early_khz=$((ips / 1000)) tsc=reliable" >"$iso/isolinux/isolinux.cfg"
	xorriso -as mkisofs -R -J -o "$out/boot.iso" -b isolinux/isolinux.bin -c isolinux/boot.cat \
		-no-emul-boot -boot-load-size 4 -boot-info-table "$iso" >"$out/xorriso.log" 2>&1 ||
		die "xorriso failed, see $out/xorriso.log"
	rm -rf "$iso"
	cat >"$out/bochsrc" <<-EOF
	cpu: model=$cpu, count=1, ips=$ips, reset_on_triple_fault=0, ignore_bad_msrs=1
	clock: sync=$sync, time0=local
	megs: 1024
	romimage: file="$rom"
	vgaromimage: file="$vgarom"
	ata0-master: type=cdrom, path="$out/boot.iso", status=inserted
	boot: cdrom
	com1: enabled=1, mode=file, dev="$log"
	display_library: rfb, options="timeout=0"
	speaker: enabled=0
	sound: driver=dummy
	log: -
	panic: action=fatal
	error: action=report, cpu0=ignore
	info: action=report
	debug: action=ignore
	EOF
	echo c >"$out/bochs.rc"  # Debian's Bochs starts in its debugger: continue
	# The VNC display listens on all addresses: hide it in a private network
	# namespace when possible (that also avoids port clashes).
	netns=(); if unshare -n true 2>/dev/null; then netns=(unshare -n); fi
	what="cpu=$cpu, ips=$ips, clock=$sync" sink=$out/bochs.log
	run=(timeout -k 5 "$all" "${netns[@]}" bochs -q -f "$out/bochsrc" -rc "$out/bochs.rc")
fi
echo "# [guest $label] booting ${kernel#"$PWD/"} under $emu ($what, ${#tests[@]} tests, timeout ${each}s each, ${all}s all)"
t0=${EPOCHREALTIME/./}
el() { local d=$(( ${EPOCHREALTIME/./} - t0 )); printf '%d.%d' $((d / 1000000)) $((d / 100000 % 10)); }
"${run[@]}" </dev/null >"$sink" 2>&1 &
qpid=$!
trap 'kill $qpid 2>/dev/null || true' EXIT
tail -n +1 -F --pid=$qpid "$log" 2>/dev/null | while IFS= read -r l; do
	l=${l%$'\r'}
	case $l in
	"BOOTED "*) echo "# [guest $label] /init reached after $(el) s (guest uptime ${l#BOOTED } s)" ;;
	"RUN "*) echo "# [guest $label] running ${l#RUN } ($(el) s)"; intest=1 ;;
	"RESULT "*) read -r _ t rc secs <<<"$l"; intest=''
		echo "# [guest $label] $t: exit $rc after $secs s guest time ($(el) s)" ;;
	ALL-DONE)  # the guest powers off now; stop the emulator if it lingers
		echo "# [guest $label] all done ($(el) s)"
		( for _ in {1..30}; do kill -0 $qpid || exit 0; sleep 1; done; kill $qpid ) >/dev/null 2>&1 & ;;
	*) if [ "$verbose" = 1 ] && [ -n "${intest:-}" ] && ! [[ $l =~ ^\[\ *[0-9]+\.[0-9]+\] ]]; then
		echo "# $l"; fi ;;
	esac
done
qrc=0; { wait $qpid; } 2>/dev/null || qrc=$?  # quiet "Aborted" job notices
trap - EXIT
echo "# [guest $label] boot+run took $(el) s"

# --- results
clean=$(mktemp); trap 'rm -f "$clean"' EXIT
awk '{ gsub(/\r/, ""); print }' "$log" >"$clean"  # also ends a cut-off last line
params=$(sed -n 's/^PARAM //p' "$clean" | tr '\n' ' ')
[ -z "$params" ] || echo "# [guest $label] params: $params"
n=0 pass=0 fail=0 skip=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n $label:$1${2:+ # $2}"; }
nok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n $label:$1${2:+ # $2}"; }
skp() { n=$((n + 1)); skip=$((skip + 1)); echo "ok $n $label:$1 # SKIP${2:+ $2}"; }
output() {  # console lines between RUN and RESULT of test $1
	awk -v t="$1" '$1 == "RUN" && $2 == t { on = 1; next }
		on && (($1 == "RESULT" && $2 == t) || /^DMESG-BEGIN$/) { exit } on' "$clean"
}
showtail() { sed "s/^/# /"; }
showfail() {  # failed kselftest subcases, then the tail of the output
	local f; f=$(output "$1" | sed -n 's/^not ok [0-9]* //p' | tr '\n' ' ')
	[ -z "$f" ] || echo "# failed subtests: $f"
	output "$1" | tail -n 40 | showtail
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
for t in "${tests[@]}"; do
	rc='' secs='' show=''
	read -r rc secs < <(awk -v t="$t" '$1 == "RESULT" && $2 == t { print $3, $4; exit }' "$clean") || true
	if [ -n "$nokvm" ]; then nok "$t" "${nokvm#HARNESS-ERROR: }"; continue; fi
	case $rc in
	0) if output "$t" | grep -qE '^# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:[1-9]'; then
		skp "$t" "all subtests skipped: $(skipwhy "$t")"  # harness tests exit 0 then
	   else ok "$t" "${secs}s"; fi ;;
	4) skp "$t" "$(skipwhy "$t")" ;;
	'') if grep -qxF "RUN $t" "$clean"; then nok "$t" "no RESULT (guest crashed or hung)"; show=1
	    else nok "$t" "not run (guest stopped, or its console stalled, before it)"; fi ;;
	124|137|143) nok "$t" "exit=$rc (timeout ${each}s, ran ${secs}s)"; show=1 ;;
	*) nok "$t" "exit=$rc (${secs}s)"; show=1 ;;
	esac
	subtests "$t"
	[ -z "$show" ] || showfail "$t"
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
for f in $(printf '%s\n' $expect $(awk '$1 == "FACILITY" { print $2 }' "$clean") | sort -u); do
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
echo "$pass $fail $skip" >"$out/counts"
echo "# $label: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
