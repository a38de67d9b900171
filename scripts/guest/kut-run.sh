#!/bin/sh
# shellcheck shell=dash
# In the guest: run one kvm-unit-test under QEMU + KVM as its x86/run would
# (the settings of /vmm/qemu.conf, config/qemu-in-guest.conf on the host), and
# turn its exit status into the harness': 0 passed, 4 skipped, other failed.
#   kut-run.sh NAME FILE SMP TIMEOUT CHECK TEST_ARGS [QEMU_PARAMS...]
# CHECK: "PATH=VALUE ..." (unittests.cfg's check): the test is skipped unless
# every PATH holds VALUE.  The scripts of scripts/vmm-tests.sh call it.
# shellcheck source=../../config/qemu-in-guest.conf  # it is /vmm/qemu.conf in the guest
. /vmm/qemu.conf
name=$1 file=$2 smp=$3 t=$4 check=$5 args=$6; shift 6
for c in $check; do
	v=$(cat "${c%%=*}" 2>/dev/null)
	[ "$v" = "${c#*=}" ] || { echo "SKIP: ${c%%=*} is '${v:-missing}', $name needs '${c#*=}'"; exit 4; }
done
# shellcheck disable=SC2086  # the settings and QEMU_PARAMS: one word each
set -- $qemu $kut_args -smp "$smp" -kernel "/vmm/kut/$file" "$@" -append "$args"
echo "KUT-CMD timeout $t $*"
# QEMU's own errors exit 1 too, after a "qemu-system-x86_64: why" line (not
# its warnings)
log=/tmp/kut.$$
{ timeout -s KILL "$t" "$@" 2>&1; echo $? >"$log.rc"; } | tee "$log"  # KILL: QEMU exits 0 on timeout's TERM
rc=$(cat "$log.rc")
lib=$(grep -m1 'error while loading shared libraries' "$log")
err=$(grep "^${qemu##*/}: " "$log" | grep -v -m1 ': warning: ')
# a test that skips all says why on a SKIP line, or (vmx) on its last line
why=$(grep -q '^SKIP' "$log" || grep -v -e '^SUMMARY' -e '^[[:space:]]*$' "$log" | tail -n 1)
rm -f "$log" "$log.rc"
[ -z "$lib" ] || { echo "KUT-FAIL $name: QEMU did not start: $lib"; exit 1; }
case $rc in
1) [ -z "$err" ] || { echo "KUT-FAIL $name: QEMU failed: ${err#*: }"; exit 1; }
   exit 0 ;;                           # the test's exit(0): (0 << 1) | 1
77) [ -z "$why" ] || echo "SKIP: $why"
    exit 4 ;;                          # all skipped: 38 << 1 | 1
3) echo "KUT-FAIL $name: unexpected failures (see FAIL lines above)"; exit 1 ;;
137) echo "KUT-FAIL $name: timed out after $t s (killed)"; exit 1 ;;
0) echo "KUT-FAIL $name: QEMU exited 0: the test stopped without reporting (shutdown, triple fault)"; exit 1 ;;
*) echo "KUT-FAIL $name: exit status $rc (a test's exit(N) is (N << 1) | 1; 127: abort(), e.g. an unhandled exception)"; exit 1 ;;
esac
