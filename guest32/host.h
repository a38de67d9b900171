/* SPDX-License-Identifier: GPL-2.0 */
/*
 * VMM side helpers shared by vmm/pollvmm.c and bench/pollbench.c: error
 * exits, a monotonic clock, and the register state that starts a vCPU in
 * a flat 32-bit guest (abi.h, entry.S).
 */
#ifndef GUEST32_HOST_H
#define GUEST32_HOST_H

#include <errno.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "abi.h"

extern char *program_invocation_short_name;

static void __attribute__((noreturn, format(printf, 1, 2), unused))
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", program_invocation_short_name);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

#define die_errno(what)	die("%s: %s", what, strerror(errno))

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static inline void set_flat_seg(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	*s = (struct kvm_segment) {
		.limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .db = 1, .s = 1, .g = 1,
	};
}

/*
 * Start vCPU @fd at entry.S's _start in flat 32-bit protected mode, without
 * paging, with its stack below @stack_top and its id in EDI, runnable (with
 * an in-kernel irqchip, APs would otherwise wait for INIT/SIPI).
 */
static inline void guest32_vcpu_init(int fd, uint32_t id, uint32_t stack_top)
{
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(fd, KVM_GET_SREGS, &sregs))
		die_errno("KVM_GET_SREGS");
	set_flat_seg(&sregs.cs, SEL_CODE, 0xb);	/* code, execute/read, accessed */
	set_flat_seg(&sregs.ds, SEL_DATA, 0x3);	/* data, read/write, accessed */
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.cr0 = 0x11;			/* PE | ET: protected mode, no paging */
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (ioctl(fd, KVM_SET_SREGS, &sregs))
		die_errno("KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = GUEST_CODE_BASE;
	regs.rsp = stack_top;
	regs.rdi = id;
	regs.rflags = 0x2;
	if (ioctl(fd, KVM_SET_REGS, &regs))
		die_errno("KVM_SET_REGS");
	if (ioctl(fd, KVM_SET_MP_STATE, &mp))
		die_errno("KVM_SET_MP_STATE");
}

#endif
