#!/bin/bash
# Soak the poll path on the debug kernel: boot it again and again, each time
# running the stress and chaos cases of x86/vcpu_poll_test (new seeds each
# run), with the lockdep/KASAN/kmemleak checks of run-guest.sh, until
# SOAK_SECONDS (default 720) have passed.  Needs `make test-debug` first (the
# debug kernel and the selftests).  Prints a line per run and, last, the
# totals; exit 1 if any run failed.
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
bz=$B/out-debug/arch/x86/boot/bzImage
if ! [ -f "$bz" ] || ! [ -x "$B/kst/x86/vcpu_poll_test" ]; then echo "error: run 'make test-debug' first" >&2; exit 2; fi
end=$(( $(date +%s) + ${SOAK_SECONDS:-720} )) runs=0 bad=0 events=0 churn=0
while [ "$(date +%s)" -lt "$end" ]; do
	runs=$((runs + 1))
	res=$("$top/scripts/run-guest.sh" --name "soak$runs" --timeout-each 600 --kconfig "$B/out-debug/.config" \
		"$bz" "$B/kst" "$B/guest/soak" x86/vcpu_poll_test@-f,stress 2>&1)
	log=$(tr -d '\r' <"$B/guest/soak/console.log")
	n=$(awk '/^# [0-9]+ events in/ { s += $2 } END { print s + 0 }' <<<"$log")
	c=$(awk '/epoll churn/ { s += $(NF - 3) } END { print s + 0 }' <<<"$log")
	events=$((events + n)) churn=$((churn + c))
	if grep -q '^not ok' <<<"$res"; then
		bad=$((bad + 1)); grep '^not ok' <<<"$res"
	fi
	echo "# run $runs: $(grep -o 'soak[0-9]*: .*' <<<"$res" | tail -n 1); $n events, $c epoll churn operations; seeds $(grep -o 'VCPU_POLL_SEED=[0-9]*' <<<"$log" | cut -d= -f2 | tr '\n' ' ')"
done
echo "# soak: $runs runs, $bad failed, $events events, $churn epoll churn operations"
[ "$bad" = 0 ]
