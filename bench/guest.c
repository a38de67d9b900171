// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark guest, one copy per vCPU; what it does depends on bpage->mode
 * (see enum bg_mode).  32-bit protected mode, no paging, xAPIC via MMIO.
 */
#include "bench_abi.h"
#include "rt.h"

static inline struct bpage *page_of(u32 id)
{
	return (struct bpage *)(BG_PCPU_BASE + id * BG_PCPU_SIZE);
}

/* The stack lives in the vCPU's area, which starts with its bpage. */
static inline struct bpage *this_page(void)
{
	u32 esp;

	asm volatile("mov %%esp, %0" : "=r"(esp));
	return (struct bpage *)(esp & ~(BG_PCPU_SIZE - 1));
}

static void send_ipi(u32 dest, u32 vec)
{
	apic_write(APIC_ICR_HI, dest << 24);
	apic_write(APIC_ICR_LO, vec);	/* fixed, physical, edge */
}

void isr_handler(struct irq_frame *f)
{
	struct bpage *p = this_page();
	u32 vec = f->vector, eip = f->eip;

	if (vec < 32) {
		p->exc_eip = eip;
		for (;;)
			outl(PORT_PANIC, vec);
	}
	if (vec == VEC_SPURIOUS)
		return;
	if (vec == VEC_RTT_TIMER) {	/* not counted: re-arm, far ahead again */
		p->rtt_fires++;
		apic_write(APIC_TMICT, p->rtt_tmict);
		apic_write(APIC_EOI, 0);
		return;
	}
	if (vec == VEC_STOP) {		/* not counted */
		apic_write(APIC_EOI, 0);
		return;
	}
	if (vec == VEC_TICK) {		/* not counted */
		/* no progress since the last tick: no wake-up for >= 100 ms */
		u32 progress = p->waits + p->nr_irq;

		if (p->in_wait && progress == p->tick_waits) {
			p->stalls++;
			p->stall_irr = apic_read(APIC_IRR2);
			p->stall_isr = apic_read(APIC_ISR2);
		}
		p->tick_waits = progress;
		apic_write(APIC_EOI, 0);
		return;
	}
	if (vec == VEC_PING) {
		send_ipi(p->peer, VEC_PONG);
		p->nr_ping++;
	} else if (vec == VEC_PONG) {
		p->pong = 1;
		p->nr_pong++;
	} else {
		p->nr_other++;
	}
	p->last_vec[p->nr_irq % 8] = vec | p->nr_irq << 8;
	p->nr_irq++;
	apic_write(APIC_EOI, 0);
}

/*
 * Wait with IF=1 until *flag is set by an interrupt handler: spinning, or
 * halting (sti; hlt is atomic: the sti shadow covers the hlt).
 */
static void wait_flag(struct bpage *p, volatile u32 *flag)
{
	p->waits++;
	p->in_wait = 1;
	if (!p->halt) {
		asm volatile("sti");
		while (!*flag)
			asm volatile("pause");
	} else {
		asm volatile("cli");
		while (!*flag)
			asm volatile("sti; hlt; cli" : : : "memory");
		asm volatile("sti");
	}
	p->in_wait = 0;
}

/* A periodic tick that notices waits of 100 ms or more, see isr_handler(). */
static void start_tick(void)
{
	apic_write(APIC_TDCR, 0xb);			/* divide by 1: 1 ns */
	apic_write(APIC_LVTT, (1 << 17) | VEC_TICK);	/* periodic */
	apic_write(APIC_TMICT, 100000000);
}

static void __attribute__((noreturn)) ping(struct bpage *p)
{
	struct bpage *peer = page_of(p->peer);
	u32 i;

	start_tick();
	asm volatile("sti");
	while (!peer->ready)		/* else the first IPI is dropped */
		asm volatile("pause");
	outl(PORT_START, 0);
	for (i = 0; i < p->count; i++) {
		p->pong = 0;
		send_ipi(p->peer, VEC_PING);
		wait_flag(p, &p->pong);
	}
	peer->stop = 1;
	send_ipi(p->peer, VEC_STOP);
	asm volatile("cli");
	apic_write(APIC_TMICT, 0);
	for (;;)
		outl(PORT_DONE, p->nr_irq);
}

static void __attribute__((noreturn)) pong(struct bpage *p)
{
	start_tick();
	asm volatile("sti");
	p->ready = 1;
	wait_flag(p, &p->stop);		/* replies from the handler */
	asm volatile("cli");
	apic_write(APIC_TMICT, 0);
	for (;;)
		outl(PORT_DONE, p->nr_irq);
}

void guest_main(u32 id)
{
	struct bpage *p = this_page();

	(void)id;
	idt_load((u32 *)((u32)p + BG_IDT_OFF));
	apic_write(APIC_SVR, 0x100 | VEC_SPURIOUS);

	/* The first report of BG_WAIT and BG_HALT: set up, APIC enabled. */
	switch (p->mode) {
	case BG_WAIT:
		for (;;) {
			outl(PORT_DONE, p->nr_irq);
			asm volatile("sti; nop; cli" : : : "memory");
		}
	case BG_HALT:
		for (;;) {
			outl(PORT_DONE, p->nr_irq);
			asm volatile("sti; hlt; cli" : : : "memory");
		}
	case BG_RTT:
		/*
		 * One-shot, far in the future: the timer stays armed while the
		 * loop below exits to user space (KVM_RUN round trips).  With
		 * the VMX preemption timer, KVM runs it on the hv timer while
		 * the vCPU is in KVM_RUN.
		 */
		if (p->rtt_tmict) {
			apic_write(APIC_TDCR, 0x1);		/* divide by 4 */
			apic_write(APIC_LVTT, VEC_RTT_TIMER);	/* one-shot */
			apic_write(APIC_TMICT, p->rtt_tmict);
		}
		for (;;) {
			if (p->rtt_rearm)	/* the guest reprograms the timer */
				apic_write(APIC_TMICT, p->rtt_tmict);
			outl(PORT_DONE, p->nr_irq);
			asm volatile("sti; nop; cli" : : : "memory");
		}
	case BG_PING:
		ping(p);
	case BG_PONG:
		pong(p);
	}
	for (;;)
		outl(PORT_PANIC, 0xffff);
}
