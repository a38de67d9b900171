/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the benchmark guest (guest.c, 32-bit) and pollbench.c agree on.
 * Flat 32-bit protected mode without paging, one memory slot at 0.
 */
#ifndef BENCH_ABI_H
#define BENCH_ABI_H

#include "abi.h"	/* guest32/: GUEST_CODE_BASE, SEL_CODE, SEL_DATA, APIC_BASE */

#define BG_PCPU_BASE	0x100000u	/* per-vCPU areas: bpage, IDT, stack */
#define BG_PCPU_SIZE	0x4000u
#define BG_IDT_OFF	0x800u
#define BG_MAX_VCPUS	255		/* 8-bit xAPIC IDs */
#define BG_MEM_SIZE	(BG_PCPU_BASE + BG_MAX_VCPUS * BG_PCPU_SIZE)

#define VEC_WAKE	0x40		/* the event of the wake benchmarks */
#define VEC_PING	0x41		/* ping -> pong */
#define VEC_PONG	0x42		/* pong -> ping */
#define VEC_STOP	0x43		/* ping -> pong: done */
#define VEC_TICK	0x44		/* ping-pong: 100 ms periodic APIC timer */
#define VEC_RTT_TIMER	0x45		/* rtt: the armed one-shot APIC timer */
#define VEC_SPURIOUS	0xff

#define PORT_DONE	0x10		/* value: interrupts taken so far */
#define PORT_PANIC	0x11		/* value: exception vector */
#define PORT_START	0x12		/* ping-pong: loop starts */

#ifndef __ASSEMBLER__
#include <stdint.h>

enum bg_mode {
	BG_WAIT = 1,	/* loop: out DONE; sti; nop; cli (never halts) */
	BG_HALT,	/* loop: out DONE; sti; hlt; cli */
	BG_PING,	/* ping-pong sender, see guest.c */
	BG_PONG,
	BG_RTT,		/* BG_WAIT, with the APIC timer armed if rtt_tmict */
};

/* At BG_PCPU_BASE + id * BG_PCPU_SIZE; the VMM fills in the first fields. */
struct bpage {
	uint32_t id;
	uint32_t mode;
	uint32_t peer;		/* ping-pong partner */
	uint32_t count;		/* ping-pong round trips */
	uint32_t halt;		/* ping-pong: wait in HLT, else spin */
	volatile uint32_t nr_irq;
	volatile uint32_t pong;	/* ping: reply received */
	volatile uint32_t stop;	/* pong: ping is done */
	volatile uint32_t ready;	/* pong: APIC enabled, IF=1 */
	/* ping-pong stall detection, see bguest.c */
	volatile uint32_t waits, in_wait, tick_waits, stalls;	/* tick_waits: progress */
	volatile uint32_t stall_irr, stall_isr;	/* IRR/ISR bits of vectors 0x40-0x5f */
	uint32_t exc_eip;
	/* rtt: one-shot APIC timer, divide by 4 (4 ns a count), re-armed on expiry */
	uint32_t rtt_tmict;		/* 0: timer left disarmed */
	uint32_t rtt_rearm;		/* write rtt_tmict again before every exit */
	volatile uint32_t rtt_fires;	/* expiries, not counted in nr_irq */
	/* ping-pong: the counted interrupts by vector, and the last 8 of them */
	volatile uint32_t nr_ping, nr_pong, nr_other;
	volatile uint32_t last_vec[8];	/* vector | count << 8, oldest first */
};
#endif

#endif
