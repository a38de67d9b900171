# SPDX-License-Identifier: GPL-2.0
# Build rules shared by vmm/ and bench/: a VMM program PROG (PROG.c) with a
# flat 32-bit guest (guest.c + guest32/entry.S, linked at GUEST_CODE_BASE)
# embedded as guest_bin[].  The including Makefile sets PROG and ABI (its
# header shared by guest and VMM), and may add to LDLIBS.
#   make -C DIR HDR=/path/to/patched/uapi/include
# The guest is built with the host gcc in -m32 -ffreestanding mode: it only
# needs gcc's own <stdint.h>, so gcc-multilib is not required.
G32	:= $(dir $(lastword $(MAKEFILE_LIST)))
HDR	?= $(abspath $(G32)../build/hdr/include)
CC	?= gcc
CFLAGS	?= -O2 -g
CFLAGS	+= -Wall -Wextra -std=gnu11 -pthread -isystem $(HDR) -I$(G32)
LDLIBS	+= -pthread -luring

GUEST_CFLAGS := -m32 -march=i686 -O2 -Wall -Wextra -std=gnu11 -ffreestanding \
	-fno-builtin -fno-pic -fno-pie -fno-stack-protector -mgeneral-regs-only \
	-fno-asynchronous-unwind-tables -fcf-protection=none -I$(G32)

all: $(PROG)

guest_entry.o: $(G32)entry.S $(G32)abi.h
	$(CC) -m32 -I$(G32) -c -o $@ $<

guest.o: guest.c $(ABI) $(G32)rt.h $(G32)abi.h
	$(CC) $(GUEST_CFLAGS) -c -o $@ $<

guest.elf: guest_entry.o guest.o $(G32)guest.ld
	ld -m elf_i386 --no-warn-rwx-segments -T $(G32)guest.ld -o $@ guest_entry.o guest.o

guest.bin: guest.elf
	objcopy -O binary $< $@

guest_blob.o: $(G32)blob.S guest.bin
	$(CC) -c -o $@ $<

$(PROG).o: $(PROG).c $(ABI) $(G32)host.h $(G32)abi.h $(HDR)/linux/kvm.h

$(PROG): $(PROG).o guest_blob.o
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

clean:
	rm -f $(PROG) *.o guest.elf guest.bin

.PHONY: all clean
