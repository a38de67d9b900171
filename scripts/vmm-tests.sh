#!/bin/bash
# The tests that run QEMU as the VMM inside the booted kernel (config/tests.conf,
# sets kut and vm; QEMU's settings: config/qemu-in-guest.conf), made ready
# for run-guest.sh: a test directory of small sh scripts, one per test, and
# the tree that run-guest.sh --overlay copies into the initramfs (QEMU, its
# firmware, the guest-side runners, the .flat files, the real VM's kernel
# and initramfs).
#   vmm-tests.sh KUTDIR BZIMAGE OUTDIR TEST...
#   vmm-tests.sh --list KUTDIR      every x86-64 test of x86/unittests.cfg that
#                                   run_tests.sh runs by default, as kut/NAME
# TEST: kut/NAME, NAME a section of KUTDIR/src/x86/unittests.cfg (KUTDIR as
# scripts/kut.sh DIR made it); vm/linux-smpN: QEMU -smp N boots BZIMAGE.
# Writes OUTDIR/tests/TEST and OUTDIR/root (files that did not change keep
# their time: initramfs.sh then reuses its cached initramfs); prints the
# longest timeout a test sets for itself (seconds).
set -euo pipefail
die() { echo "error: $*" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../config/qemu-in-guest.conf
. "$here/../config/qemu-in-guest.conf"

# cfg KUTDIR: x86/unittests.cfg as "name|file|smp|timeout|check|accel|arch|groups|test_args|qemu_params" lines
cfg() {
	awk '
	function out() { if (n != "") print n "|" v["file"] "|" v["smp"] "|" v["timeout"] "|" v["check"] "|" v["accel"] "|" v["arch"] "|" v["groups"] "|" v["test_args"] "|" v["qemu_params"] }
	/^[ \t]*#/ || /^[ \t]*$/ { next }
	/^\[.*\]/ { out(); n = substr($0, 2, index($0, "]") - 2); delete v; next }
	{ k = $0; sub(/[ \t]*=.*/, "", k); val = $0; sub(/^[^=]*=[ \t]*/, "", val); sub(/[ \t]+$/, "", val)
	  if (val ~ /^".*"$/ || val ~ /^'\''.*'\''$/) val = substr(val, 2, length(val) - 2)
	  v[k] = val }
	END { out() }' "$1/src/x86/unittests.cfg"
}

if [ "${1:-}" = --list ]; then
	[ $# = 2 ] || die "usage: $0 --list KUTDIR"
	cfg "$2" | awk -F'|' '($7 == "" || $7 == "x86_64") && $8 !~ /nodefault/ { print "kut/" $1 }'
	exit 0
fi
[ $# -ge 4 ] || { sed -n '7,9s/^# *//p' "$0" >&2; exit 2; }
kut=$1 bz=$2 out=$3; shift 3
[ -f "$bz" ] || die "bzImage not found: $bz"
[ -x "$qemu" ] || die "$qemu not found: scripts/deps.sh installs it"
stage=$out/stage tests=$out/stage/tests root=$out/stage/root
rm -rf "$stage"; mkdir -p "$tests/kut" "$tests/vm" "$root/vmm/kut" "$root${qemu%/*}"
cp "$qemu" "$root$qemu"
for f in $firmware; do
	[ -f "$f" ] || die "$f not found: scripts/deps.sh installs it"
	install -D -m644 "$f" "$root$f"
done
install -m644 "$here/../config/qemu-in-guest.conf" "$root/vmm/qemu.conf"
max=0
for t in "$@"; do
	case $t in
	kut/*)
		name=${t#kut/}
		[ -f "$kut/src/x86/unittests.cfg" ] || die "no kvm-unit-tests build in $kut (scripts/kut.sh)"
		line=$(cfg "$kut" | awk -F'|' -v n="$name" '$1 == n') || true
		[ -n "$line" ] || die "$name: no such test in $kut/src/x86/unittests.cfg"
		IFS='|' read -r _ file smp timeout check accel arch _ args params <<<"$line"
		[ -z "$arch" ] || [ "$arch" = x86_64 ] || die "$name: a test for $arch"
		[ -f "$kut/src/x86/$file" ] || die "$name: $file was not built"
		cp "$kut/src/x86/$file" "$root/vmm/kut/"
		timeout=${timeout%s}; timeout=${timeout:-$kut_timeout}
		[ "$timeout" -le "$max" ] || max=$timeout
		{ echo '#!/bin/sh'
		  echo "# kvm-unit-tests $name: [$name] of x86/unittests.cfg (${accel:+accel = $accel; }run by scripts/guest/kut-run.sh)"
		  # test_args in double quotes: the shell runs its \`date +%s\` as run_tests.sh does
		  printf 'exec /vmm/kut-run.sh %s %s %s %s '\''%s'\'' "%s" %s\n' \
			"$name" "$file" "${smp:-1}" "$timeout" "$check" "$args" "$params"
		} >"$tests/$t" ;;
	vm/linux-smp[0-9]*)
		smp=${t#vm/linux-smp}
		printf '#!/bin/sh\n# A real VM: QEMU -smp %s boots the test kernel (scripts/guest/vm-boot.sh)\nexec /vmm/vm-boot.sh %s\n' \
			"$smp" "$smp" >"$tests/$t"
		[ "$vm_timeout" -le "$max" ] || max=$vm_timeout ;;
	*) die "unknown test $t (kut/NAME or vm/linux-smpN)" ;;
	esac
	chmod 755 "$tests/$t"
done
install -m755 "$here/guest/kut-run.sh" "$here/guest/vm-boot.sh" "$root/vmm/"
if [ -n "$(ls "$tests/vm")" ]; then
	cp "$bz" "$root/vmm/bzImage"
	vr=$out/vm-initrd.d
	rm -rf "$vr"; mkdir -p "$vr"/{bin,dev,proc,sys}
	install -m755 /bin/busybox "$vr/bin/busybox"
	install -m755 "$here/guest/vm-init.sh" "$vr/init"
	find "$vr" -exec touch -h -d @0 {} +  # the same bytes every time
	(cd "$vr" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet | gzip -6 -n) >"$root/vmm/vm-initrd.gz"
	rm -rf "$vr"
fi
for d in tests root; do rsync -r -p -c --delete "$stage/$d/" "$out/$d/"; done
rm -rf "$stage"
echo "$max"
