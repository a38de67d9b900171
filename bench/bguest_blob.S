/* SPDX-License-Identifier: GPL-2.0 */
/* The benchmark guest's flat binary, linked into pollbench. */
	.section .rodata
	.globl	bguest_bin, bguest_bin_end
	.balign	16
bguest_bin:
	.incbin	"bguest.bin"
bguest_bin_end:
	.section .note.GNU-stack, "", @progbits
