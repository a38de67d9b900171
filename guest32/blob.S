/* SPDX-License-Identifier: GPL-2.0 */
/* The guest's flat binary (guest.bin of the including directory), linked into the VMM. */
	.section .rodata
	.globl	guest_bin, guest_bin_end
	.balign	16
guest_bin:
	.incbin	"guest.bin"
guest_bin_end:
	.section .note.GNU-stack, "", @progbits
