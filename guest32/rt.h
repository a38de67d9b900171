/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest side runtime of the flat 32-bit guests: entry.S calls
 * guest_main(vcpu_id) on the stack the VMM set up, and hands every interrupt
 * and exception to isr_handler(); the guest provides both.
 */
#ifndef GUEST32_RT_H
#define GUEST32_RT_H

#include <stdint.h>

#include "abi.h"

typedef uint32_t u32;

#define APIC_EOI	0x0b0
#define APIC_SVR	0x0f0
#define APIC_ISR2	0x120		/* ISR and IRR bits of vectors 0x40-0x5f */
#define APIC_IRR2	0x220
#define APIC_ICR_LO	0x300
#define APIC_ICR_HI	0x310
#define APIC_LVTT	0x320
#define APIC_TMICT	0x380
#define APIC_TDCR	0x3e0

/* What isr_common in entry.S pushes: pushal, vector, error code, iret frame. */
struct irq_frame {
	u32 edi, esi, ebp, esp, ebx, edx, ecx, eax;
	u32 vector, err;
	u32 eip, cs, eflags;
};

extern const char isr_stubs[];
void guest_main(u32 id);
void isr_handler(struct irq_frame *f);

static inline void apic_write(u32 reg, u32 val)
{
	*(volatile u32 *)(APIC_BASE + reg) = val;
}

static inline u32 apic_read(u32 reg)
{
	return *(volatile u32 *)(APIC_BASE + reg);
}

static inline void outl(uint16_t port, u32 val)
{
	asm volatile("outl %0, %w1" : : "a"(val), "Nd"(port) : "memory");
}

/* Point all 256 vectors at entry.S's stubs, in the 2 KiB table at @idt. */
static inline void idt_load(u32 *idt)
{
	struct {
		uint16_t limit;
		u32 base;
	} __attribute__((packed)) desc = { 256 * 8 - 1, (u32)idt };
	u32 i;

	for (i = 0; i < 256; i++) {
		u32 h = (u32)isr_stubs + 16 * i;

		idt[2 * i] = (SEL_CODE << 16) | (h & 0xffff);
		idt[2 * i + 1] = (h & 0xffff0000) | 0x8e00;	/* P, DPL 0, 32-bit interrupt gate */
	}
	asm volatile("lidt %0" : : "m"(desc));
}

#endif
