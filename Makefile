# Pollable KVM vCPUs: the series in patches/, applied to the base kernel,
# built, booted under emulation and tested.  Build output goes to build/.
.PHONY: run test test-debug test-kcsan tree export static clean help

help:
	@echo "make run     build the patched kernel, boot it, show vCPU fds being polled"
	@echo "make test    static checks + series tests + regression set; last line 'N passed, N failed'"
	@echo "make test-debug  series tests on a lockdep/KASAN/kmemleak kernel (FULL=1: + regression set)"
	@echo "make test-kcsan  series tests on a KCSAN kernel"
	@echo "make tree    materialize build/linux (base + patches/) to work on the series"
	@echo "make export  regenerate patches/ from build/linux's commits"

run:
	@scripts/test.sh run

test:
	@scripts/test.sh test

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
	rm -rf build/out build/out-bisect build/kst build/guest
