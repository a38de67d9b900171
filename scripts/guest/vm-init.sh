#!/bin/busybox sh
# shellcheck shell=dash
# /init of the real VM that scripts/guest/vm-boot.sh boots (QEMU + KVM inside
# the test kernel): a marker, the CPUs that came up (VM_CPUS from the kernel
# command line is how many there should be), power off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys
echo "VM-INIT uptime $(cut -d' ' -f1 /proc/uptime) s"
n=$(grep -c '^processor' /proc/cpuinfo)
echo "VM-CPUS online $(cat /sys/devices/system/cpu/online), $n processors, $VM_CPUS expected"
[ "$n" = "$VM_CPUS" ] && echo "VM-CPUS-OK"
poweroff -f
