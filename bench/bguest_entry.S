/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Benchmark guest entry and interrupt stubs (32-bit protected mode).  The
 * VMM sets flat segments, ESP and EDI (vCPU id); the GDT is only what
 * interrupt delivery and IRET load CS from.  Each of the 256 stubs (16
 * bytes apart) pushes its vector and calls bg_irq(vector, eip).
 */
#include "bench_abi.h"

	.code32
	.section .text.entry, "ax"
	.globl	_start
_start:
	lgdt	gdt_desc
	call	bg_main
1:	jmp	1b

	.text
	.align	16
	.globl	isr_stubs
isr_stubs:
	.set	vec, 0
	.rept	256
	.align	16
	.if	!(vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30)
	pushl	$0
	.endif
	pushl	$vec
	jmp	isr_common
	.set	vec, vec + 1
	.endr

isr_common:			/* stack: vector, error code, eip, cs, eflags */
	pushal
	cld
	pushl	40(%esp)	/* eip */
	pushl	36(%esp)	/* vector (was 32(%esp) before the push) */
	call	bg_irq
	addl	$8, %esp
	popal
	addl	$8, %esp
	iret

	.data
	.align	8
gdt:
	.quad	0
	.quad	0x00cf9a000000ffff	/* SEL_CODE */
	.quad	0x00cf92000000ffff	/* SEL_DATA */
gdt_desc:
	.word	gdt_desc - gdt - 1
	.long	gdt

	.section .note.GNU-stack, "", @progbits
