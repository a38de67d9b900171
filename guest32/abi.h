/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every flat 32-bit guest of vmm/ and bench/ shares with its VMM:
 * protected mode without paging, one memory slot at 0, the guest binary
 * loaded at GUEST_CODE_BASE (guest32/guest.ld), flat segments in the GDT
 * of guest32/entry.S, the xAPIC at its default address.
 */
#ifndef GUEST32_ABI_H
#define GUEST32_ABI_H

#define GUEST_CODE_BASE	0x10000u
#define SEL_CODE	0x08
#define SEL_DATA	0x10
#define APIC_BASE	0xfee00000u

#endif
