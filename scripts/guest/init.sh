#!/bin/busybox sh
# shellcheck shell=dash
# The guest's /init (run-guest.sh puts it into the initramfs): run the tests
# of /tests.list one by one, each under `timeout RG_TIMEOUT` (kernel command
# line), and print markers the parser (parse.sh) reads on the serial console:
#   BOOTED UPTIME; GUEST-CPU svm|vmx|none MODEL; PARAM MODULE.PARAM=VALUE;
#   RUN TEST ... RESULT TEST EXIT SECONDS; RETRY TEST; HARNESS-ERROR: ...;
#   FACILITY NAME 0|1; KMEMLEAK-BEGIN..END; DMESG-BEGIN..END; ALL-DONE
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
ser=$(find /proc/tty/driver -name 'serial*' 2>/dev/null | head -n 1)
echo "BOOTED $(up)"
virt=$(grep -m1 -owE 'svm|vmx' /proc/cpuinfo)
echo "GUEST-CPU ${virt:-none} $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2-)"
for m in svm:kvm_amd vmx:kvm_intel; do  # built-in: params exist even if the CPU lacks the feature
	grep -qw "${m%:*}" /proc/cpuinfo || continue
	for f in /sys/module/"${m#*:}"/parameters/*; do [ -f "$f" ] && echo "PARAM ${m#*:}.${f##*/}=$(cat "$f")"; done
done
set -f  # no globbing of test arguments
if [ -c /dev/kvm ]; then
	while read -r t; do
		p=${t%%@*} a=''
		case $t in *@*) a=$(echo "${t#*@}" | tr , ' ') ;; esac
		n=1
		while :; do
			echo "RUN $t"; drain; s=$(up)
			# shellcheck disable=SC2086  # $a: the test's arguments, one word each
			(cd "/tests/${p%/*}" 2>/dev/null || cd /tests || exit; exec timeout -k 10 "$RG_TIMEOUT" "/tests/$p" $a) </dev/null 2>&1
			rc=$?
			echo "RESULT $t $rc $(awk -v s="$s" -v e="$(up)" 'BEGIN { printf "%.2f", e - s }')"
			drain
			# a test of /retry.list that failed runs once more (run-guest.sh --retry)
			case $rc in 0|4) break ;; esac
			if [ $n != 1 ] || ! grep -qxF "$t" /retry.list 2>/dev/null; then break; fi
			n=2; echo "RETRY $t"
		done
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
