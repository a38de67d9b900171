// SPDX-License-Identifier: GPL-2.0
/*
 * Print this machine's TSC frequency in kHz, measured against
 * CLOCK_MONOTONIC_RAW over 500 ms.  Under QEMU TCG the guest's TSC runs at
 * the host's rate; run-guest.sh passes the value as tsc_early_khz= so that
 * the guest kernel's later TSC refinement stays within KVM's tolerance of the
 * rate KVM recorded at init (250 ppm, see README, "TSC under TCG").
 *
 * Each end of the interval is a clock read bracketed by two TSC reads, the
 * tightest bracket of many tries: a preemption between a clock read and a
 * TSC read (a loaded host) would otherwise skew the result by its length,
 * 150 us being 300 ppm of 500 ms.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>

struct sample {
	double t;	/* CLOCK_MONOTONIC_RAW, seconds */
	double tsc;	/* the TSC at that time: the middle of the bracket */
};

static struct sample sample(void)
{
	struct sample best = { 0, 0 };
	uint64_t width = UINT64_MAX;
	struct timespec ts;
	int i;

	for (i = 0; i < 1000; i++) {
		uint64_t a = __rdtsc(), b;

		clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
		b = __rdtsc();
		if (b - a < width) {
			width = b - a;
			best.t = ts.tv_sec + ts.tv_nsec / 1e9;
			best.tsc = a + (b - a) / 2.0;
		}
	}
	return best;
}

int main(void)
{
	struct timespec d = { 0, 500000000 };
	struct sample s0, s1;

	s0 = sample();
	nanosleep(&d, NULL);
	s1 = sample();
	printf("%.0f\n", (s1.tsc - s0.tsc) / (s1.t - s0.t) / 1000);
	return 0;
}
