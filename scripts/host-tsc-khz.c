// SPDX-License-Identifier: GPL-2.0
/*
 * Print this machine's TSC frequency in kHz, measured against
 * CLOCK_MONOTONIC_RAW over 500 ms.  Under QEMU TCG the guest's TSC runs at
 * the host's rate; run-guest.sh passes the value as tsc_early_khz= so that
 * the guest kernel's later TSC refinement stays within KVM's tolerance of the
 * rate KVM recorded at init (see README, "TSC under TCG").
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
	struct timespec d = { 0, 500000000 };
	double t0 = now();
	uint64_t c0 = __rdtsc();
	double t1;
	uint64_t c1;

	nanosleep(&d, NULL);
	t1 = now();
	c1 = __rdtsc();
	printf("%.0f\n", (c1 - c0) / (t1 - t0) / 1000);
	return 0;
}
