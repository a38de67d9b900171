/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the demo guest (guest.c, 32-bit) and the VMM (pollvmm.c, 64-bit)
 * agree on: memory layout, I/O ports, interrupt vectors and the per-vCPU
 * page through which the guest reports what it did.  Fixed-width fields
 * only, so both compilers lay the structures out identically.
 */
#ifndef GUEST_ABI_H
#define GUEST_ABI_H

#ifndef __ASSEMBLER__
#include <stdint.h>
#endif
#include "abi.h"	/* guest32/: GUEST_CODE_BASE, SEL_CODE, SEL_DATA, APIC_BASE */

/* Guest physical memory: one slot at 0, flat 32-bit protected mode. */
#define GUEST_MEM_SIZE		0x400000u	/* 4 MiB */
#define GUEST_IPI_MAP		0x0f000u	/* struct ipi_map */
#define GUEST_PCPU_BASE		0x100000u	/* per-vCPU areas */
#define GUEST_PCPU_SIZE		0x4000u		/* vcpu_page, IDT, stack */
#define GUEST_IDT_OFF		0x800u
#define GUEST_MAX_VCPUS		128

/* Vectors: exceptions 0-31, APIC timer, one IPI vector per sender. */
#define VEC_TIMER		0x30
#define VEC_IPI_BASE		0x50		/* IPI from vCPU k: 0x50 + k */
#define VEC_SPURIOUS		0xff

/* Port writes (out %eax, %dx); the value is in kvm_run's I/O data. */
#define PORT_IDLE		0x10		/* value: actions in vcpu_page */
#define PORT_PANIC		0x11		/* value: exception vector */

#ifndef __ASSEMBLER__
enum act_kind {
	ACT_NONE,
	ACT_TIMER,				/* arg: one-shot delay in ns */
	ACT_IPI,				/* arg: target vCPU */
};

#define MAX_WOKE		(GUEST_MAX_VCPUS + 2)	/* every vector is taken once at most */
#define MAX_ACTS		16

struct guest_act {
	uint32_t kind;
	uint32_t arg;
};

/* At GUEST_PCPU_BASE + id * GUEST_PCPU_SIZE. */
struct vcpu_page {
	/* written by the VMM before the first run */
	uint32_t id;
	uint32_t nr_vcpus;
	uint32_t seed;
	uint32_t work;				/* max work loop iterations */
	/* vectors taken since the last PORT_IDLE report */
	uint32_t nr_woke;
	uint32_t woke[MAX_WOKE];
	/* what the guest did before this PORT_IDLE report */
	uint32_t nr_acts;
	struct guest_act acts[MAX_ACTS];
	uint32_t debt;				/* actions deferred */
	uint32_t more;				/* deferred for lack of room in acts[] */
	uint32_t timer_armed;
	uint32_t exc_eip;			/* for PORT_PANIC */
	uint32_t exc_err;
};

/*
 * Outstanding IPIs: bit s of pending[t] is set by sender s before it sends
 * to t, and cleared by the VMM when it sees t's report of having taken it.
 * A sender never sends to a target that has not taken its previous IPI, so
 * IPIs never coalesce in the IRR and no wake-up is lost (see guest.c), and
 * the VMM sees each IPI's send and take before the next one is sent.
 */
struct ipi_map {
	uint32_t pending[GUEST_MAX_VCPUS][GUEST_MAX_VCPUS / 32];
};

#endif /* __ASSEMBLER__ */

#endif
