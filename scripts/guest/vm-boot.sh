#!/bin/sh
# shellcheck shell=dash
# In the guest: a real VM.  QEMU with KVM (/vmm/qemu.conf's vm_args) boots
# /vmm/bzImage, the test kernel itself, with /vmm/vm-initrd.gz, whose /init
# (scripts/guest/vm-init.sh) prints VM-INIT, checks that all CPUs came up
# (VM-CPUS-OK) and powers off.  Prints the boot time as seen from here
# (QEMU started -> VM-INIT, and -> QEMU exited) on a "NOTE:" line, which
# parse.sh copies into the TAP stream.
#   vm-boot.sh SMP
# shellcheck source=../../config/qemu-in-guest.conf  # it is /vmm/qemu.conf in the guest
. /vmm/qemu.conf
smp=$1 res=/tmp/vm-boot.$$
up() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v s="$1" -v e="$(up)" 'BEGIN { printf "%.2f", e - s }'; }
# shellcheck disable=SC2086  # the settings: one word each
set -- $qemu $vm_args -smp "$smp" -kernel /vmm/bzImage -initrd /vmm/vm-initrd.gz -append "$vm_append VM_CPUS=$smp"
echo "VM-CMD timeout $vm_timeout $*"
s=$(up)
{ timeout -s KILL "$vm_timeout" "$@" 2>&1; echo "VM-QEMU-EXIT $?"; } | while IFS= read -r l; do
	l=${l%"$(printf '\r')"}
	echo "$l"
	case $l in
	VM-INIT*) echo "init $(since "$s")" >>"$res" ;;
	VM-CPUS-OK*) echo cpus >>"$res" ;;
	VM-QEMU-EXIT*) echo "exit $(since "$s")" >>"$res"; echo "rc ${l#VM-QEMU-EXIT }" >>"$res" ;;
	esac
done
r=$(cat "$res" 2>/dev/null); rm -f "$res"
rc=$(echo "$r" | sed -n 's/^rc //p')
echo "NOTE: QEMU -smp $smp: the VM's /init ran $(echo "$r" | sed -n 's/^init //p') s after QEMU started, QEMU exited after $(echo "$r" | sed -n 's/^exit //p') s (exit ${rc:-?})"
[ "$rc" != 127 ] || { echo "VM-FAIL QEMU did not start (exit 127; the loader's message above names a missing library)"; exit 1; }
case $r in *init*) ;; *) echo "VM-FAIL the VM's /init did not run (QEMU exit ${rc:-?})"; exit 1 ;; esac
case $r in *cpus*) ;; *) echo "VM-FAIL not all $smp CPUs came up in the VM"; exit 1 ;; esac
[ "$rc" = 0 ] || { echo "VM-FAIL QEMU exit status $rc (137: killed after $vm_timeout s)"; exit 1; }
echo "VM-OK booted on $smp CPUs and powered off"
