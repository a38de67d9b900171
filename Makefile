# Pollable KVM vCPUs: the series in patches/, applied to the base kernel,
# built, booted under emulation and tested.  Build output goes to build/
# (or $BUILD); KSRC names another kernel tree to use (README, "Day to day").
.PHONY: run test test-arm64 test-debug test-kcsan one kut kut-base base tree export static clean help
B := $(or $(BUILD),build)

help:
	@echo "make run     build the patched kernel, boot it, show vCPU fds being polled"
	@echo "make test    static checks + series tests + regression set; last line 'N passed, N failed, N skipped'"
	@echo "make test-arm64  the series' arm64 kernel under qemu-system-aarch64 (VHE, nVHE): config/tests.conf's qemu-arm64 tests"
	@echo "make one T=TEST[@ARG,...] [EMU=qemu|bochs]  one test (e.g. T=x86/vcpu_poll_test@-t,ipi) on one emulator"
	@echo "make kut     kvm-unit-tests and a real VM, QEMU+KVM inside the booted kernel (KERNEL=bzImage: that one, no build)"
	@echo "make kut-base  the same, every kvm-unit-test, on the unpatched base (docs/kut-base.md)"
	@echo "make static  static checks only (apply, checkpatch, docs, per-patch and knob builds, W=1, shellcheck)"
	@echo "make test-debug  series tests on a lockdep/KASAN/kmemleak kernel (FULL=1: + regression set)"
	@echo "make test-kcsan  series tests on a KCSAN kernel"
	@echo "make base    build the unpatched base kernel into $(B)/out-base (bench, baselines)"
	@echo "make tree    materialize $(B)/linux (base + patches/) to work on the series"
	@echo "make export  regenerate patches/ from $(B)/linux's commits"
	@echo "make clean   remove build results; keeps the download, the kernel tree and ccache"

run:
	@scripts/test.sh run

test:
	@scripts/test.sh test

test-arm64:
	@scripts/test.sh arm64

one:
	@scripts/test.sh one

kut:
	@scripts/test.sh kut

kut-base:
	@scripts/test.sh kut-base

base:
	@scripts/test.sh base

tree:
	@scripts/deps.sh && scripts/tree.sh apply

export:
	@scripts/tree.sh export

static:
	@scripts/test.sh static

test-debug:
	@scripts/test.sh debug

test-kcsan:
	@scripts/test.sh kcsan

clean:
	rm -rf $(B)/out $(B)/out-* $(B)/arm64/out $(B)/arm64/kst $(B)/arm64/hdr* $(B)/kst $(B)/kst-bisect $(B)/hdr $(B)/hdr-* $(B)/guest $(B)/bench $(B)/*.log $(B)/*.tap
