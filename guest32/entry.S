/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Entry and interrupt stubs of the flat 32-bit guests.  The VMM sets flat
 * CS/DS/ES/SS/FS/GS through KVM_SET_SREGS, ESP to the top of the vCPU's
 * area and EDI to the vCPU id; the GDT loaded here is only what interrupt
 * delivery and IRET read CS from.
 */
#include "abi.h"	/* SEL_CODE, SEL_DATA: the GDT below must match */

	.code32
	.section .text.entry, "ax"
	.globl	_start
_start:
	lgdt	gdt_desc
	pushl	%edi
	call	guest_main
1:	jmp	1b

/*
 * 256 stubs, 16 bytes apart: push a zero error code where the CPU pushes
 * none, push the vector, and go to the common path, which hands a
 * struct irq_frame (rt.h) to isr_handler().
 */
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

isr_common:
	pushal
	cld
	pushl	%esp
	call	isr_handler
	addl	$4, %esp
	popal
	addl	$8, %esp
	iret

	.data
	.align	8
gdt:
	.quad	0
	.quad	0x00cf9a000000ffff	/* SEL_CODE: flat 32-bit code */
	.quad	0x00cf92000000ffff	/* SEL_DATA: flat 32-bit data */
gdt_desc:
	.word	gdt_desc - gdt - 1
	.long	gdt

	.section .note.GNU-stack, "", @progbits
