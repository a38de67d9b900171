// SPDX-License-Identifier: GPL-2.0
/*
 * Demo guest, one copy per vCPU, 32-bit protected mode without paging.
 *
 * Loop: take pending interrupts in a short sti window; for each interrupt
 * taken (plus deferred work), do a bit of work and then either arm the
 * one-shot APIC timer (1-20 ms) or send an IPI to another vCPU; report the
 * interrupts taken and the actions done with one port write (PORT_IDLE),
 * which is where the VMM parks the vCPU until its fd is readable.  The
 * guest never executes HLT, and runs with interrupts disabled except in
 * the sti window, so every wake-up is taken right after the VMM resumes it.
 *
 * One action per interrupt taken keeps the number of pending wake sources
 * (armed timers, IPIs not yet taken, deferred actions) constant, so the
 * vCPUs never all end up parked with nothing to wake them.  An action is
 * deferred only while the vCPU's timer is armed (it will wake the vCPU), or
 * when acts[] is full (p->more: the VMM resumes the vCPU at once).
 */
#include "guest_abi.h"
#include "rt.h"

#define TIMER_MIN_NS	1000000u
#define TIMER_MAX_NS	20000000u

static struct ipi_map *const ipi_map = (struct ipi_map *)GUEST_IPI_MAP;

/* The stack lives in the vCPU's area, which starts with its vcpu_page. */
static inline struct vcpu_page *this_page(void)
{
	u32 esp;

	asm volatile("mov %%esp, %0" : "=r"(esp));
	return (struct vcpu_page *)(esp & ~(GUEST_PCPU_SIZE - 1));
}

static u32 next_rand(struct vcpu_page *p)
{
	u32 x = p->seed;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return p->seed = x;
}

void isr_handler(struct irq_frame *f)
{
	struct vcpu_page *p = this_page();
	u32 v = f->vector;

	if (v < 32) {			/* exception: report it, forever */
		p->exc_eip = f->eip;
		p->exc_err = f->err;
		for (;;)
			outl(PORT_PANIC, v);
	}
	if (v == VEC_SPURIOUS)		/* no EOI for the spurious vector */
		return;
	if (v == VEC_TIMER)
		p->timer_armed = 0;
	if (p->nr_woke < MAX_WOKE)
		p->woke[p->nr_woke] = v;
	p->nr_woke++;
	apic_write(APIC_EOI, 0);
}

/* guest_main() leaves room for one more record before calling act(). */
static void record(struct vcpu_page *p, u32 kind, u32 arg)
{
	p->acts[p->nr_acts].kind = kind;
	p->acts[p->nr_acts].arg = arg;
	p->nr_acts++;
}

static void arm_timer(struct vcpu_page *p)
{
	u32 ns = TIMER_MIN_NS + next_rand(p) % (TIMER_MAX_NS - TIMER_MIN_NS + 1);

	p->timer_armed = 1;
	apic_write(APIC_TMICT, ns);	/* TDCR /1, 1 GHz APIC bus: 1 count = 1 ns */
	record(p, ACT_TIMER, ns);
}

/* One IPI per target and report, so that the VMM can tell them apart. */
static int sent_this_cycle(struct vcpu_page *p, u32 t)
{
	u32 i;

	for (i = 0; i < p->nr_acts; i++)
		if (p->acts[i].kind == ACT_IPI && p->acts[i].arg == t)
			return 1;
	return 0;
}

/*
 * Send an IPI to a vCPU whose report of our previous IPI the VMM has seen
 * (struct ipi_map); 0 if there is none.
 */
static int send_ipi(struct vcpu_page *p, u32 r)
{
	u32 n = p->nr_vcpus, bit = 1u << (p->id % 32), i;

	for (i = 0; n > 1 && i < n - 1; i++) {
		u32 t = (p->id + 1 + (r + i) % (n - 1)) % n;
		u32 *w = &ipi_map->pending[t][p->id / 32];

		if (sent_this_cycle(p, t))
			continue;
		if (__atomic_fetch_or(w, bit, __ATOMIC_SEQ_CST) & bit)
			continue;
		apic_write(APIC_ICR_HI, t << 24);
		/* fixed delivery, physical destination, edge */
		apic_write(APIC_ICR_LO, VEC_IPI_BASE + p->id);
		record(p, ACT_IPI, t);
		return 1;
	}
	return 0;
}

static void act(struct vcpu_page *p)
{
	u32 r = next_rand(p);

	if (!p->timer_armed && (r & 3)) {	/* 3 in 4: the timer */
		arm_timer(p);
		return;
	}
	if (send_ipi(p, r >> 1))
		return;
	if (!p->timer_armed) {
		arm_timer(p);
		return;
	}
	p->debt++;			/* the armed timer will wake us */
}

static void work(struct vcpu_page *p)
{
	u32 n = next_rand(p) % p->work + 1, i;
	volatile u32 x = 0;

	for (i = 0; i < n; i++)
		x += i * i;
}

void guest_main(u32 id)
{
	struct vcpu_page *p = this_page();

	(void)id;
	idt_load((u32 *)((u32)p + GUEST_IDT_OFF));
	apic_write(APIC_SVR, 0x100 | VEC_SPURIOUS);	/* software-enable */
	apic_write(APIC_TDCR, 0xb);			/* divide by 1 */
	apic_write(APIC_LVTT, VEC_TIMER);		/* one-shot, unmasked */
	p->debt = 1;

	for (;;) {
		u32 n;

		asm volatile("sti; nop; cli" : : : "memory");
		n = p->nr_woke + p->debt;
		p->debt = 0;
		for (; n; n--) {
			if (p->nr_acts == MAX_ACTS) {	/* report, then go on */
				p->debt += n;
				p->more = 1;
				break;
			}
			work(p);
			act(p);
		}
		outl(PORT_IDLE, p->nr_acts);	/* parked here until woken */
		p->nr_woke = 0;
		p->nr_acts = 0;
		p->more = 0;
	}
}
