// SPDX-License-Identifier: GPL-2.0
/*
 * pollbench - benchmarks for pollable vCPU fds (KVM_CAP_VCPU_POLL).
 *
 *   pollbench wake [SAMPLES]                 wake-up latency, per method
 *   pollbench pingpong [ROUNDTRIPS] [REPS]   IPI ping-pong, VM never polls
 *   pollbench scale [SAMPLES] [K,K,...]      K vCPU fds in one epoll set
 *   pollbench rtt [PER_BLOCK] [QUADS] [off|armed|rearm|both|all]
 *                                            KVM_RUN round trip, polled/not
 *
 * Numbers only, no pass/fail on timings.  Besides readable tables, lines
 * starting with '@' carry the data for bench/run.sh.  Exit status: 0, 1 on
 * error, 2 on bad usage, 4 (kselftest skip) without /dev/kvm.  Methods
 * that need KVM_CAP_VCPU_POLL are reported as n/a where it is missing.
 *
 * A wake sample: the poller thread (pinned to CPU 0) arms its wait and
 * blocks; the injector (main thread, CPU 1) waits until the poller sleeps
 * (/proc/.../stat state S), takes t0, injects the event; the poller takes
 * t1 as soon as its wait returns.  Latency = t1 - t0 (CLOCK_MONOTONIC).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <linux/kvm.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench_abi.h"
#include "host.h"

#ifndef KVM_CAP_VCPU_POLL
#error "KVM_CAP_VCPU_POLL missing: build with HDR=<patched uapi headers>"
#endif

#define KSFT_SKIP	4

struct vm {
	int fd;
	uint8_t *mem;
	size_t mem_size;
};

struct vcpu {
	struct vm *vm;
	int id;
	int fd;
	struct kvm_run *run;
	struct bpage *page;
};

enum run_result { RUN_DONE, RUN_START, RUN_INTR };

extern const uint8_t guest_bin[], guest_bin_end[];	/* guest32/blob.S */

static int kvm_fd, run_size, nr_cpus;
static bool has_poll;

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint64_t rusage_thread_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p)
		die("out of memory");
	return p;
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (nr_cpus < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu % nr_cpus, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* ---- statistics */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

struct stats {
	size_t n;
	double p50, p90, p99, mean, min, max;	/* microseconds */
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted @v. */
static double pct_us(const uint64_t *v, size_t n, double p)
{
	size_t i = (size_t)ceil(p / 100.0 * n);

	if (i < 1)
		i = 1;
	return v[(i > n ? n : i) - 1] / 1e3;
}

/* Sorts @v. */
static struct stats stats_of(uint64_t *v, size_t n)
{
	struct stats s = { .n = n };
	double sum = 0;
	size_t i;

	if (!n)
		return s;
	qsort(v, n, sizeof(*v), cmp_u64);
	for (i = 0; i < n; i++)
		sum += v[i];
	s.p50 = pct_us(v, n, 50);
	s.p90 = pct_us(v, n, 90);
	s.p99 = pct_us(v, n, 99);
	s.mean = sum / n / 1e3;
	s.min = v[0] / 1e3;
	s.max = v[n - 1] / 1e3;
	return s;
}

/* The distribution for the plots: 1st..100th percentile, sorted @v. */
static void print_cdf(const char *bench, const char *what, const uint64_t *v, size_t n)
{
	int p;

	for (p = 1; p <= 100 && n; p++)
		printf("@cdf %s %s %d %.1f\n", bench, what, p, pct_us(v, n, p));
}

/* ---- KVM */

static void kvm_open(void)
{
	struct rlimit rl;
	int fd;

	nr_cpus = sysconf(_SC_NPROCESSORS_ONLN);
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0) {
		printf("SKIP: /dev/kvm: %s\n", strerror(errno));
		exit(KSFT_SKIP);
	}
	run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0)
		die_errno("KVM_GET_VCPU_MMAP_SIZE");
	fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (fd < 0)
		die_errno("KVM_CREATE_VM");
	has_poll = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_VCPU_POLL) > 0;
	close(fd);
	/* up to 1024 vCPU fds */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < 4096) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void vm_create(struct vm *vm, int nr_vcpus)
{
	struct kvm_userspace_memory_region region;

	if (nr_vcpus > BG_MAX_VCPUS)
		die("%d vCPUs in one VM: at most %d", nr_vcpus, BG_MAX_VCPUS);
	vm->fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		die_errno("KVM_CREATE_VM");
	if (ioctl(vm->fd, KVM_SET_TSS_ADDR, 0xfffbd000ul))
		die_errno("KVM_SET_TSS_ADDR");
	if (ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0))
		die_errno("KVM_CREATE_IRQCHIP");
	vm->mem_size = (BG_PCPU_BASE + (size_t)nr_vcpus * BG_PCPU_SIZE + 0xfffff) & ~0xfffffUL;
	vm->mem = mmap(NULL, vm->mem_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->mem == MAP_FAILED)
		die_errno("mmap guest memory");
	memcpy(vm->mem + GUEST_CODE_BASE, guest_bin, guest_bin_end - guest_bin);
	region = (struct kvm_userspace_memory_region) {
		.memory_size = vm->mem_size,
		.userspace_addr = (uintptr_t)vm->mem,
	};
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region))
		die_errno("KVM_SET_USER_MEMORY_REGION");
}

static void vm_destroy(struct vm *vm)
{
	close(vm->fd);
	munmap(vm->mem, vm->mem_size);
}

static void vcpu_create(struct vcpu *v, struct vm *vm, int id, int mode)
{
	uint32_t area = BG_PCPU_BASE + id * BG_PCPU_SIZE;

	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->fd, KVM_CREATE_VCPU, id);
	if (v->fd < 0)
		die("KVM_CREATE_VCPU %d: %s", id, strerror(errno));
	v->run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED)
		die_errno("mmap kvm_run");
	v->page = (struct bpage *)(vm->mem + area);
	v->page->id = id;
	v->page->mode = mode;

	guest32_vcpu_init(v->fd, id, area + BG_PCPU_SIZE - 16);
}

static void vcpu_destroy(struct vcpu *v)
{
	munmap(v->run, run_size);
	close(v->fd);
}

static void vcpu_poll_enable(struct vcpu *v)
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_VCPU_POLL };

	if (ioctl(v->fd, KVM_ENABLE_CAP, &cap))
		die_errno("KVM_ENABLE_CAP(KVM_CAP_VCPU_POLL)");
}

/* One KVM_RUN. */
static enum run_result vcpu_run(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint32_t val;

	if (ioctl(v->fd, KVM_RUN, 0) < 0) {
		if (errno == EINTR)
			return RUN_INTR;
		die("vCPU %d: KVM_RUN: %s", v->id, strerror(errno));
	}
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		memcpy(&val, (uint8_t *)run + run->io.data_offset, sizeof(val));
		if (run->io.port == PORT_DONE)
			return RUN_DONE;
		if (run->io.port == PORT_START)
			return RUN_START;
		if (run->io.port == PORT_PANIC)
			die("vCPU %d: guest exception %u at eip %#x", v->id, val, v->page->exc_eip);
		die("vCPU %d: write to port %#x", v->id, run->io.port);
	case KVM_EXIT_INTR:
		return RUN_INTR;
	default:
		die("vCPU %d: unexpected exit reason %u", v->id, run->exit_reason);
	}
}

/* KVM_RUN until the guest reports. */
static void vcpu_run_done(struct vcpu *v)
{
	while (vcpu_run(v) != RUN_DONE)
		;
}

/* Fixed-delivery, edge MSI to the vCPU's xAPIC ID (its vcpu_id). */
static void vcpu_msi(struct vcpu *v, int vec)
{
	struct kvm_msi msi = {
		.address_lo = APIC_BASE | (v->id << 12),
		.data = vec,
	};

	if (ioctl(v->vm->fd, KVM_SIGNAL_MSI, &msi) < 0)
		die_errno("KVM_SIGNAL_MSI");
}

/* Wait until thread @tid sleeps, then a little longer. */
static void wait_sleeping(pid_t tid)
{
	char path[64], buf[256], *p;
	struct timespec ts = { 0, 20000 };
	int fd, n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	for (;;) {
		fd = open(path, O_RDONLY);
		if (fd < 0)
			die_errno(path);
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			die("%s: short read", path);
		buf[n] = '\0';
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] == 'S')
			break;
		nanosleep(&ts, NULL);
	}
	ts.tv_nsec = 200000;
	nanosleep(&ts, NULL);
}

static unsigned int rnd(void)
{
	static uint32_t x = 2463534242u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

/* ---- a: wake latency */

struct wake_ctx;

struct method {
	const char *name;
	const char *what;	/* what t1 is */
	bool needs_poll;
	void (*arm)(struct wake_ctx *c);
	void (*wait)(struct wake_ctx *c);
	void (*inject)(struct wake_ctx *c);
	bool reset_runs;	/* reset = KVM_RUN until the guest handled it */
};

struct wake_ctx {
	const struct method **ms;
	int nr_m;
	struct vm vm;
	struct vcpu pv, hv;	/* polled vCPU (BG_WAIT), halting vCPU (BG_HALT) */
	int ep_vcpu, ep_event, evfd;
	struct io_uring ring;
	pthread_t poller;
	pid_t poller_tid;
	int n;
	atomic_int armed, done;
	uint64_t **t0, **t1, **t2;	/* [method][sample] */
};

static void arm_nothing(struct wake_ctx *c)
{
	(void)c;
}

static void wait_poll(struct wake_ctx *c)
{
	struct pollfd pfd = { .fd = c->pv.fd, .events = POLLIN };

	while (poll(&pfd, 1, -1) < 0)
		if (errno != EINTR)
			die_errno("poll");
	if (!(pfd.revents & POLLIN))
		die("poll: revents %#x", pfd.revents);
}

static void wait_epoll_fd(int ep)
{
	struct epoll_event ev;

	while (epoll_wait(ep, &ev, 1, -1) < 1)
		if (errno != EINTR)
			die_errno("epoll_wait");
	if (!(ev.events & EPOLLIN))
		die("epoll_wait: events %#x", ev.events);
}

static void wait_epoll(struct wake_ctx *c)
{
	wait_epoll_fd(c->ep_vcpu);
}

static void wait_eventfd(struct wake_ctx *c)
{
	eventfd_t val;

	wait_epoll_fd(c->ep_event);
	if (eventfd_read(c->evfd, &val))
		die_errno("eventfd_read");
}

static void arm_uring(struct wake_ctx *c)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);
	int ret;

	io_uring_prep_poll_add(sqe, c->pv.fd, POLLIN);
	ret = io_uring_submit(&c->ring);
	if (ret != 1)
		die("io_uring_submit: %d", ret);
}

static void wait_uring(struct wake_ctx *c)
{
	struct io_uring_cqe *cqe;
	int ret, res;

	do
		ret = io_uring_wait_cqe(&c->ring, &cqe);
	while (ret == -EINTR);
	if (ret < 0)
		die("io_uring_wait_cqe: %s", strerror(-ret));
	res = cqe->res;
	io_uring_cqe_seen(&c->ring, cqe);
	if (res < 0 || !(res & POLLIN))
		die("IORING_OP_POLL_ADD: res %d", res);
}

/* KVM_RUN on the halted vCPU returns once the guest handled the MSI. */
static void wait_halt_msi(struct wake_ctx *c)
{
	vcpu_run_done(&c->hv);
}

/* KVM_RUN on the halted vCPU returns -EINTR for the signal. */
static void wait_halt_signal(struct wake_ctx *c)
{
	enum run_result r = vcpu_run(&c->hv);

	if (r != RUN_INTR)
		die("pthread_kill: KVM_RUN returned %d, not EINTR", r);
}

static void inject_msi_polled(struct wake_ctx *c)
{
	vcpu_msi(&c->pv, VEC_WAKE);
}

static void inject_msi_halted(struct wake_ctx *c)
{
	vcpu_msi(&c->hv, VEC_WAKE);
}

static void inject_eventfd(struct wake_ctx *c)
{
	if (eventfd_write(c->evfd, 1))
		die_errno("eventfd_write");
}

static void inject_signal(struct wake_ctx *c)
{
	pthread_kill(c->poller, SIGUSR1);
}

static const struct method methods[] = {
	{ "eventfd", "eventfd_write -> epoll_wait() returns", false,
	  arm_nothing, wait_eventfd, inject_eventfd, false },
	{ "poll", "poll() returns", true,
	  arm_nothing, wait_poll, inject_msi_polled, true },
	{ "epoll", "epoll_wait() returns", true,
	  arm_nothing, wait_epoll, inject_msi_polled, true },
	{ "io_uring", "POLL_ADD completion reaped", true,
	  arm_uring, wait_uring, inject_msi_polled, true },
	{ "halt-kick", "MSI -> KVM_RUN (guest in HLT) returns, IRQ handled", false,
	  arm_nothing, wait_halt_msi, inject_msi_halted, false },
	{ "pthread_kill", "signal -> KVM_RUN (guest in HLT) returns -EINTR", false,
	  arm_nothing, wait_halt_signal, inject_signal, false },
};

/* Interleaved: sample i of every method, then sample i + 1. */
static void *wake_poller(void *arg)
{
	struct wake_ctx *c = arg;
	int i, j;

	pin(0);
	c->poller_tid = syscall(SYS_gettid);
	for (i = 0; i < c->n; i++) {
		for (j = 0; j < c->nr_m; j++) {
			const struct method *m = c->ms[j];
			uint64_t t1;

			m->arm(c);
			atomic_store(&c->armed, i * c->nr_m + j + 1);
			m->wait(c);
			t1 = now_ns();
			if (m->reset_runs) {
				uint32_t before = c->pv.page->nr_irq;

				vcpu_run_done(&c->pv);	/* guest entry: readiness clears */
				if (c->pv.page->nr_irq == before)
					die("%s: the guest took no interrupt", m->name);
			}
			c->t1[j][i] = t1;
			c->t2[j][i] = now_ns();
			atomic_store(&c->done, i * c->nr_m + j + 1);
		}
	}
	return NULL;
}

static void sigusr1(int sig)
{
	(void)sig;
}

static void wake_report(struct wake_ctx *c, int j, double eventfd_p50)
{
	const struct method *m = c->ms[j];
	uint64_t *lat = xcalloc(c->n, sizeof(*lat)), *hand = xcalloc(c->n, sizeof(*hand));
	struct stats s, h;
	int i;

	for (i = 0; i < c->n; i++) {
		lat[i] = c->t1[j][i] - c->t0[j][i];
		hand[i] = c->t2[j][i] - c->t0[j][i];
	}
	s = stats_of(lat, c->n);
	h = stats_of(hand, c->n);
	printf("%-13s %7zu %9.1f %9.1f %9.1f %9.1f %9.1f", m->name, s.n, s.p50, s.p90, s.p99,
	       s.mean, s.max);
	if (m->reset_runs)
		printf("  %9.1f %9.1f", h.p50, h.p99);
	else
		printf("  %9s %9s", "-", "-");
	printf("  %6.2f   %s\n", s.p50 / eventfd_p50, m->what);
	printf("@wake %s %zu %.1f %.1f %.1f %.1f %.1f %.1f", m->name, s.n, s.p50, s.p90, s.p99,
	       s.mean, s.min, s.max);
	if (m->reset_runs)
		printf(" %.1f %.1f\n", h.p50, h.p99);
	else
		printf(" - -\n");
	print_cdf("wake", m->name, lat, c->n);
	free(lat);
	free(hand);
}

static void bench_wake(int n)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct sigaction sa = { .sa_handler = sigusr1 };
	int nr = sizeof(methods) / sizeof(methods[0]);
	struct wake_ctx c = { .n = n };
	double eventfd_p50 = 0;
	uint64_t *tmp;
	int i, j, ret;

	sigaction(SIGUSR1, &sa, NULL);
	pin(1);				/* the injector */
	vm_create(&c.vm, 2);
	vcpu_create(&c.pv, &c.vm, 0, BG_WAIT);
	vcpu_create(&c.hv, &c.vm, 1, BG_HALT);
	vcpu_run_done(&c.pv);		/* guests set up their IDT and APIC */
	vcpu_run_done(&c.hv);
	if (has_poll) {
		vcpu_poll_enable(&c.pv);
		vcpu_run_done(&c.pv);	/* readable until the first entry */
		c.ep_vcpu = epoll_create1(EPOLL_CLOEXEC);
		if (epoll_ctl(c.ep_vcpu, EPOLL_CTL_ADD, c.pv.fd, &ev))
			die_errno("EPOLL_CTL_ADD vCPU fd");
		ret = io_uring_queue_init(8, &c.ring, 0);
		if (ret < 0)
			die("io_uring_queue_init: %s", strerror(-ret));
	}
	c.evfd = eventfd(0, EFD_CLOEXEC);
	c.ep_event = epoll_create1(EPOLL_CLOEXEC);
	if (epoll_ctl(c.ep_event, EPOLL_CTL_ADD, c.evfd, &ev))
		die_errno("EPOLL_CTL_ADD eventfd");

	c.ms = xcalloc(nr, sizeof(*c.ms));
	for (i = 0; i < nr; i++)
		if (!methods[i].needs_poll || has_poll)
			c.ms[c.nr_m++] = &methods[i];
	for (j = 0; j < 3; j++) {
		uint64_t ***t = j == 0 ? &c.t0 : j == 1 ? &c.t1 : &c.t2;

		*t = xcalloc(c.nr_m, sizeof(**t));
		for (i = 0; i < c.nr_m; i++)
			(*t)[i] = xcalloc(n, sizeof(uint64_t));
	}

	if (pthread_create(&c.poller, NULL, wake_poller, &c))
		die("pthread_create failed");
	for (i = 0; i < n; i++) {
		for (j = 0; j < c.nr_m; j++) {
			int seq = i * c.nr_m + j + 1;

			while (atomic_load(&c.armed) < seq)
				sched_yield();
			wait_sleeping(c.poller_tid);
			c.t0[j][i] = now_ns();
			c.ms[j]->inject(&c);
			while (atomic_load(&c.done) < seq)
				sched_yield();
		}
	}
	pthread_join(c.poller, NULL);

	/* eventfd's median, for the ratios */
	tmp = xcalloc(n, sizeof(*tmp));
	for (j = 0; j < c.nr_m; j++) {
		if (strcmp(c.ms[j]->name, "eventfd"))
			continue;
		for (i = 0; i < n; i++)
			tmp[i] = c.t1[j][i] - c.t0[j][i];
		eventfd_p50 = stats_of(tmp, n).p50;
	}
	free(tmp);

	printf("\n== a. wake latency: event injected -> waiter returns, %d samples per method "
	       "(interleaved), us\n", n);
	printf("   waiter thread on CPU 0, injector on CPU 1, which injects once the waiter sleeps;\n"
	       "   vCPU events are KVM_SIGNAL_MSI; hand.: until KVM_RUN returned after the guest\n"
	       "   took the interrupt (poll methods: wait + one KVM_RUN); /evfd: p50 / eventfd p50\n");
	printf("%-13s %7s %9s %9s %9s %9s %9s  %9s %9s  %6s   %s\n", "method", "n", "p50", "p90",
	       "p99", "mean", "max", "hand.p50", "hand.p99", "/evfd", "t1 is when");
	for (i = 0; i < nr; i++)
		if (methods[i].needs_poll && !has_poll) {
			printf("%-13s n/a (no KVM_CAP_VCPU_POLL)\n", methods[i].name);
			printf("@wake %s na\n", methods[i].name);
		}
	for (j = 0; j < c.nr_m; j++)
		wake_report(&c, j, eventfd_p50);

	if (has_poll)
		io_uring_queue_exit(&c.ring);
	vcpu_destroy(&c.pv);
	vcpu_destroy(&c.hv);
	vm_destroy(&c.vm);
}

/* ---- b: IPI ping-pong on a VM that never polls */

struct pp_thread {
	struct vcpu *v;
	int cpu;
	uint64_t t_start;
	volatile uint64_t t_end;
};

static void *pp_run(void *arg)
{
	struct pp_thread *t = arg;

	pin(t->cpu);
	for (;;) {
		enum run_result r = vcpu_run(t->v);

		if (r == RUN_START)
			t->t_start = now_ns();
		if (r == RUN_DONE)
			break;
	}
	t->t_end = now_ns();
	return NULL;
}

static void pp_dump(const char *who, const struct bpage *p)
{
	printf("  %s: ready %u nr_irq %u pong %u stop %u waits %u in_wait %u stalls %u"
	       " IRR[0x40-0x5f] %#x ISR %#x\n", who, p->ready, p->nr_irq, p->pong, p->stop,
	       p->waits, p->in_wait, p->stalls, p->stall_irr, p->stall_isr);
}

/* Give up, with the guests' view, if ping makes no progress for 20 s. */
static void pp_watch(struct vcpu *v, struct pp_thread *t)
{
	uint32_t last = v[0].page->nr_irq + v[1].page->nr_irq;
	int idle = 0;

	while (!t[0].t_end) {
		struct timespec ts = { 0, 100000000 };
		uint32_t now;

		nanosleep(&ts, NULL);
		now = v[0].page->nr_irq + v[1].page->nr_irq;
		idle = now == last ? idle + 1 : 0;
		last = now;
		if (idle < 200)
			continue;
		printf("ping-pong STALLED: no interrupt taken for 20 s (loop %s)\n",
		       t[0].t_start ? "started" : "not started");
		pp_dump("ping", v[0].page);
		pp_dump("pong", v[1].page);
		printf("@ppstuck\n");
		exit(1);
	}
}

static void bench_pingpong(int count, int reps, bool halt)
{
	double *us = xcalloc(reps, sizeof(*us)), sum = 0, var = 0, min = 1e30, max = 0;
	int r, i;

	printf("\n== b. kick hot path: IPI ping-pong between 2 vCPUs, %d round trips x %d runs, "
	       "VM never polls\n", count, reps);
	printf("   vCPUs wait for the IPI %s\n", halt ?
	       "in HLT (blocked in KVM_RUN), both vCPU threads on CPU 0" :
	       "spinning with IF=1 (in guest mode), vCPU threads on CPUs 0 and 1");
	for (r = 0; r < reps; r++) {
		struct vcpu v[2];
		struct pp_thread t[2];
		pthread_t th[2];
		struct vm vm;

		vm_create(&vm, 2);
		for (i = 0; i < 2; i++) {
			vcpu_create(&v[i], &vm, i, i ? BG_PONG : BG_PING);
			v[i].page->peer = !i;
			v[i].page->count = count;
			v[i].page->halt = halt;
			t[i] = (struct pp_thread) { .v = &v[i], .cpu = halt ? 0 : i };
		}
		for (i = 0; i < 2; i++)
			if (pthread_create(&th[i], NULL, pp_run, &t[i]))
				die("pthread_create failed");
		pp_watch(v, t);
		for (i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		printf("@ppstall %s %d %u %u\n", halt ? "halt" : "spin", r + 1, v[0].page->stalls,
		       v[1].page->stalls);
		if (v[0].page->stalls || v[1].page->stalls)
			printf("run %d: waits of 100 ms or more: ping %u, pong %u\n", r + 1,
			       v[0].page->stalls, v[1].page->stalls);
		if (v[0].page->nr_irq != (uint32_t)count || v[1].page->nr_irq != (uint32_t)count) {
			for (i = 0; i < 2; i++) {
				struct bpage *b = v[i].page;
				uint32_t n = b->nr_irq, k;

				printf("%s: %u interrupts: %u ping, %u pong, %u other; last:",
				       i ? "pong" : "ping", n, b->nr_ping, b->nr_pong,
				       b->nr_other);
				for (k = n > 8 ? n - 8 : 0; k < n; k++)
					printf(" #%u %#x", b->last_vec[k % 8] >> 8,
					       b->last_vec[k % 8] & 0xff);
				printf("\n");
			}
			die("ping-pong: %u/%u interrupts, expected %d", v[0].page->nr_irq,
			    v[1].page->nr_irq, count);
		}
		us[r] = (t[0].t_end - t[0].t_start) / 1e3 / count;
		printf("run %d: %.2f us per round trip (%.2f s)\n", r + 1, us[r],
		       (t[0].t_end - t[0].t_start) / 1e9);
		printf("@pingpong %s %d %.3f\n", halt ? "halt" : "spin", r + 1, us[r]);
		for (i = 0; i < 2; i++)
			vcpu_destroy(&v[i]);
		vm_destroy(&vm);
	}
	for (r = 0; r < reps; r++) {
		sum += us[r];
		min = us[r] < min ? us[r] : min;
		max = us[r] > max ? us[r] : max;
	}
	for (r = 0; r < reps; r++)
		var += (us[r] - sum / reps) * (us[r] - sum / reps);
	printf("mean %.2f us per round trip, stdev %.2f, min %.2f, max %.2f\n", sum / reps,
	       reps > 1 ? sqrt(var / (reps - 1)) : 0, min, max);
	free(us);
}

/* ---- c: K vCPU fds in one epoll set */

struct group {
	int k, nr_vms, ep;
	struct vm *vms;
	struct vcpu *vcpus;
	uint64_t *t0, *t1;
	int *target;
	uint64_t cpu_epoll_ns, cpu_rusage_ns;
	unsigned long spurious, drained;
	double setup_s;
};

struct scale_ctx {
	struct group *g;
	int nr_g, n;
	pid_t tid;
	atomic_int armed, done;
};

/* Interleaved: sample i of every K, then sample i + 1. */
static void *scale_poller(void *arg)
{
	struct scale_ctx *c = arg;
	struct epoll_event ev[16];
	int i, j, e, n;

	pin(0);
	c->tid = syscall(SYS_gettid);
	for (i = 0; i < c->n; i++) {
		for (j = 0; j < c->nr_g; j++) {
			struct group *g = &c->g[j];
			uint64_t ru0 = rusage_thread_ns();
			bool hit = false;

			atomic_store(&c->armed, i * c->nr_g + j + 1);
			while (!hit) {
				uint64_t cpu0 = thread_cpu_ns();

				n = epoll_wait(g->ep, ev, 16, -1);
				if (n < 0 && errno == EINTR)
					continue;
				if (n < 0)
					die_errno("epoll_wait");
				g->t1[i] = now_ns();
				g->cpu_epoll_ns += thread_cpu_ns() - cpu0;
				for (e = 0; e < n; e++) {
					struct vcpu *v = ev[e].data.ptr;

					if (v == &g->vcpus[g->target[i]])
						hit = true;
					else
						g->spurious++;
					vcpu_run_done(v);	/* clear its readiness */
				}
			}
			g->cpu_rusage_ns += rusage_thread_ns() - ru0;
			atomic_store(&c->done, i * c->nr_g + j + 1);
		}
	}
	return NULL;
}

/* Run every vCPU whose fd is readable until none is. */
static unsigned long drain(int ep)
{
	struct epoll_event ev[64];
	unsigned long ran = 0;
	int i, n;

	while ((n = epoll_wait(ep, ev, 64, 0)) > 0)
		for (i = 0; i < n; i++, ran++)
			vcpu_run_done(ev[i].data.ptr);
	return ran;
}

static void group_create(struct group *g, int k, int n, int per_vm)
{
	uint64_t t = now_ns();
	int i;

	g->k = k;
	g->nr_vms = (k + per_vm - 1) / per_vm;
	g->vms = xcalloc(g->nr_vms, sizeof(*g->vms));
	g->vcpus = xcalloc(k, sizeof(*g->vcpus));
	g->t0 = xcalloc(n, sizeof(*g->t0));
	g->t1 = xcalloc(n, sizeof(*g->t1));
	g->target = xcalloc(n, sizeof(*g->target));
	g->ep = epoll_create1(EPOLL_CLOEXEC);
	if (g->ep < 0)
		die_errno("epoll_create1");
	for (i = 0; i < g->nr_vms; i++)
		vm_create(&g->vms[i], i < g->nr_vms - 1 ? per_vm : k - per_vm * (g->nr_vms - 1));
	for (i = 0; i < k; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &g->vcpus[i] };

		vcpu_create(&g->vcpus[i], &g->vms[i / per_vm], i % per_vm, BG_WAIT);
		vcpu_run_done(&g->vcpus[i]);	/* set up */
		vcpu_poll_enable(&g->vcpus[i]);
		vcpu_run_done(&g->vcpus[i]);	/* readable until the first entry */
		if (epoll_ctl(g->ep, EPOLL_CTL_ADD, g->vcpus[i].fd, &ev))
			die_errno("EPOLL_CTL_ADD vCPU fd");
	}
	/* e.g. requests to all vCPUs of a VM when vCPUs are added */
	g->drained = drain(g->ep);
	for (i = 0; i < n; i++)
		g->target[i] = rnd() % k;
	g->setup_s = (now_ns() - t) / 1e9;
}

static void group_destroy(struct group *g)
{
	int i;

	close(g->ep);
	for (i = 0; i < g->k; i++)
		vcpu_destroy(&g->vcpus[i]);
	for (i = 0; i < g->nr_vms; i++)
		vm_destroy(&g->vms[i]);
	free(g->vms);
	free(g->vcpus);
	free(g->t0);
	free(g->t1);
	free(g->target);
}

static void group_report(struct group *g, int n)
{
	uint64_t *lat = xcalloc(n, sizeof(*lat));
	char what[16];
	struct stats s;
	int i;

	for (i = 0; i < n; i++)
		lat[i] = g->t1[i] - g->t0[i];
	s = stats_of(lat, n);
	printf("%5d %4d %6d %9.1f %9.1f %9.1f %9.1f %11.1f %11.1f %9lu %8.1f\n", g->k, g->nr_vms,
	       n, s.p50, s.p99, s.mean, s.max, g->cpu_rusage_ns / 1e3 / n,
	       g->cpu_epoll_ns / 1e3 / n, g->spurious, g->setup_s);
	printf("@scale %d %d %d %.1f %.1f %.1f %.1f %.1f %.1f %lu %.2f %lu\n", g->k, g->nr_vms, n,
	       s.p50, s.p99, s.mean, s.max, g->cpu_rusage_ns / 1e3 / n, g->cpu_epoll_ns / 1e3 / n,
	       g->spurious, g->setup_s, g->drained);
	snprintf(what, sizeof(what), "K=%d", g->k);
	print_cdf("scale", what, lat, n);
	free(lat);
}

static void bench_scale(int n, int nr_k, const int *ks)
{
	struct scale_ctx c = { .nr_g = nr_k, .n = n };
	int fd, max_vcpus, per_vm, i, j;
	unsigned long drained = 0;
	pthread_t th;

	if (!has_poll) {
		printf("\n== c. scaling: n/a (no KVM_CAP_VCPU_POLL)\n@scale na\n");
		return;
	}
	pin(1);				/* the injector */
	fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (fd < 0)
		die_errno("KVM_CREATE_VM");
	max_vcpus = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	close(fd);
	per_vm = max_vcpus > 0 && max_vcpus < BG_MAX_VCPUS ? max_vcpus : BG_MAX_VCPUS;

	c.g = xcalloc(nr_k, sizeof(*c.g));
	for (j = 0; j < nr_k; j++)
		group_create(&c.g[j], ks[j], n, per_vm);
	/* creating later groups may have made earlier ones readable */
	for (j = 0; j < nr_k; j++)
		drained += drain(c.g[j].ep);

	if (pthread_create(&th, NULL, scale_poller, &c))
		die("pthread_create failed");
	for (i = 0; i < n; i++) {
		for (j = 0; j < nr_k; j++) {
			struct group *g = &c.g[j];
			int seq = i * nr_k + j + 1;

			while (atomic_load(&c.armed) < seq)
				sched_yield();
			wait_sleeping(c.tid);
			g->t0[i] = now_ns();
			vcpu_msi(&g->vcpus[g->target[i]], VEC_WAKE);
			while (atomic_load(&c.done) < seq)
				sched_yield();
		}
	}
	pthread_join(th, NULL);

	printf("\n== c. scaling: K vCPU fds (EPOLLIN, level-triggered) in one epoll set per K, "
	       "MSI to a random one,\n   %d samples per K, interleaved across the K's (all sets "
	       "exist at once)\n", n);
	printf("   KVM_CAP_MAX_VCPUS %d; at most %d vCPUs per VM (8-bit xAPIC IDs for the MSI)\n",
	       max_vcpus, per_vm);
	printf("   cpu/wake: poller thread, getrusage(RUSAGE_THREAD) around the wait and the KVM_RUN\n"
	       "   that clears readiness; in epoll: CLOCK_THREAD_CPUTIME_ID around epoll_wait() only;\n"
	       "   spurious: other vCPUs reported readable meanwhile; setup: create, run once, add\n");
	printf("%5s %4s %6s %9s %9s %9s %9s %11s %11s %9s %8s\n", "K", "VMs", "n", "p50 us",
	       "p99 us", "mean us", "max us", "cpu/wake us", "in epoll us", "spurious", "setup s");
	printf("@scaleinfo %d %d %lu\n", max_vcpus, per_vm, drained);
	for (j = 0; j < nr_k; j++) {
		group_report(&c.g[j], n);
		group_destroy(&c.g[j]);
	}
	free(c.g);
}

/* ---- e: KVM_RUN round trip of a polled vCPU vs one that is not polled */

/* Timers of KVM's local APIC on an hrtimer right now, all vCPUs of all VMs. */
static int apic_hrtimers(void)
{
	char line[512];
	FILE *f = fopen("/proc/timer_list", "r");
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "apic_timer_fn"))
			n++;
	fclose(f);
	return n;
}

/* @n KVM_RUN round trips of @v, each timed on its own, into @ns. */
static void rtt_block(struct vcpu *v, int n, uint64_t *ns)
{
	int i;

	for (i = 0; i < n; i++) {
		uint64_t t0 = now_ns();
		enum run_result r = vcpu_run(v);

		ns[i] = now_ns() - t0;
		if (r != RUN_DONE)
			die("rtt: vCPU %d: KVM_RUN returned %d, not the port write", v->id, r);
	}
}

/*
 * One VM, two vCPUs running the same guest loop (out; sti; nop; cli), one
 * with KVM_CAP_VCPU_POLL enabled (A) and one without (B), both driven by
 * this thread.  Blocks of @per_block round trips in the order A B B A,
 * @quads times, after one warm-up block each; a linear drift in host speed
 * costs A and B alike within each quad.  @timer: RTT_OFF, the guest's APIC
 * timer stays disarmed; RTT_ARMED, it is armed far in the future (one-shot,
 * 10 s, re-armed when it fires); RTT_REARM, the guest also writes it again
 * before every exit to user space.
 */
enum rtt_timer { RTT_OFF, RTT_ARMED, RTT_REARM };

static void rtt_case(int per_block, int quads, enum rtt_timer timer)
{
	static const char *const names[] = { "off", "armed", "rearm" };
	const char *tname = names[timer];
	int nb = 2 * quads, n = nb * per_block, i, q, timers[2];
	uint64_t *ns[2], *blk[2], *tmp;
	double qr[quads], med[2];
	struct vcpu v[2];
	struct vm vm;
	struct stats s[2];

	vm_create(&vm, 2);
	for (i = 0; i < 2; i++) {
		vcpu_create(&v[i], &vm, i, BG_RTT);
		v[i].page->rtt_tmict = timer != RTT_OFF ? 2500000000u : 0;
		v[i].page->rtt_rearm = timer == RTT_REARM;
		vcpu_run_done(&v[i]);		/* set up, timer armed */
		ns[i] = xcalloc(n, sizeof(*ns[i]));
		blk[i] = xcalloc(nb, sizeof(*blk[i]));
	}
	vcpu_poll_enable(&v[0]);
	tmp = xcalloc(per_block, sizeof(*tmp));
	for (i = 0; i < 2; i++)			/* warm-up */
		rtt_block(&v[i], per_block, tmp);
	/* both vCPUs out of KVM_RUN: whose timer is an hrtimer now */
	timers[0] = apic_hrtimers();
	for (q = 0; q < quads; q++) {
		static const int order[4] = { 0, 1, 1, 0 };	/* A B B A */
		int k, b[2] = { 2 * q, 2 * q };
		double qs[2] = { 0, 0 };

		for (k = 0; k < 4; k++) {
			int w = order[k], j, bi = b[w]++;
			uint64_t *dst = ns[w] + (size_t)bi * per_block;

			rtt_block(&v[w], per_block, dst);
			for (j = 0; j < per_block; j++)
				blk[w][bi] += dst[j];
			qs[w] += blk[w][bi];
		}
		qr[q] = qs[0] / qs[1];
	}
	timers[1] = apic_hrtimers();

	for (i = 0; i < 2; i++) {
		s[i] = stats_of(ns[i], n);
	}
	qsort(qr, quads, sizeof(qr[0]), cmp_double);
	for (i = 0; i < 2; i++) {
		uint64_t *bm = xcalloc(nb, sizeof(*bm));

		for (q = 0; q < nb; q++)
			bm[q] = blk[i][q] / per_block;
		med[i] = stats_of(bm, nb).p50 * 1e3;	/* median of the block means, ns */
		free(bm);
	}

	printf("timer %s: %d blocks x %d round trips per vCPU; guest timer expiries: polled %u, "
	       "not polled %u; apic_timer_fn hrtimers with both vCPUs outside KVM_RUN: %d, %d\n",
	       tname, nb, per_block, v[0].page->rtt_fires, v[1].page->rtt_fires, timers[0],
	       timers[1]);
	printf("%-6s %-11s %8s %10s %10s %10s %10s %12s\n", "timer", "vCPU", "n", "mean ns",
	       "median ns", "p90 ns", "p99 ns", "blk med ns");
	for (i = 0; i < 2; i++) {
		const char *who = i ? "not-polled" : "polled";

		printf("%-6s %-11s %8zu %10.0f %10.0f %10.0f %10.0f %12.0f\n", tname, who, s[i].n,
		       s[i].mean * 1e3, s[i].p50 * 1e3, s[i].p90 * 1e3, s[i].p99 * 1e3, med[i]);
		printf("@rtt %s %s %zu %.0f %.0f %.0f %.0f %.0f\n", tname, who, s[i].n,
		       s[i].mean * 1e3, s[i].p50 * 1e3, s[i].p90 * 1e3, s[i].p99 * 1e3, med[i]);
	}
	printf("%-6s polled / not-polled: mean %.3f, median %.3f; per A-B-B-A quad (mean): "
	       "min %.3f, median %.3f, max %.3f\n", tname, s[0].mean / s[1].mean,
	       s[0].p50 / s[1].p50, qr[0], qr[quads / 2], qr[quads - 1]);
	printf("@rttratio %s %.4f %.4f %.4f %.4f %.4f\n", tname, s[0].mean / s[1].mean,
	       s[0].p50 / s[1].p50, qr[0], qr[quads / 2], qr[quads - 1]);
	printf("@rttinfo %s %d %d %u %u %d %d\n", tname, nb, per_block, v[0].page->rtt_fires,
	       v[1].page->rtt_fires, timers[0], timers[1]);

	free(tmp);
	for (i = 0; i < 2; i++) {
		free(ns[i]);
		free(blk[i]);
		vcpu_destroy(&v[i]);
	}
	vm_destroy(&vm);
}

static void bench_rtt(int per_block, int quads, const char *which)
{
	bool all = !strcmp(which, "all"), both = all || !strcmp(which, "both");

	printf("\n== e. KVM_RUN round trip (guest port write -> user space -> KVM_RUN again), "
	       "one VM, vCPU 0 polled\n   (KVM_CAP_VCPU_POLL), vCPU 1 not, same guest loop, "
	       "one thread; blocks A B B A; ns per round trip\n");
	if (!has_poll) {
		printf("n/a (no KVM_CAP_VCPU_POLL)\n@rtt na\n");
		return;
	}
	pin(0);
	if (both || !strcmp(which, "off"))
		rtt_case(per_block, quads, RTT_OFF);
	if (both || !strcmp(which, "armed"))
		rtt_case(per_block, quads, RTT_ARMED);
	if (all || !strcmp(which, "rearm"))
		rtt_case(per_block, quads, RTT_REARM);
}

/* ---- main */

static void usage(void)
{
	fprintf(stderr,
		"usage: pollbench wake [SAMPLES]\n"
		"       pollbench pingpong [ROUNDTRIPS] [REPEATS] [spin|halt]\n"
		"       pollbench scale [SAMPLES] [K...]   (default K: 1 64 256 1024)\n"
		"       pollbench rtt [PER_BLOCK] [QUADS] [off|armed|rearm|both|all]\n");
	exit(2);
}

static int arg_int(int argc, char **argv, int i, int def, int min, int max)
{
	char *end;
	long v;

	if (i >= argc)
		return def;
	v = strtol(argv[i], &end, 10);
	if (*end || end == argv[i] || v < min || v > max)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	struct utsname u;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "wake") && strcmp(argv[1], "pingpong") && strcmp(argv[1], "scale") &&
	    strcmp(argv[1], "rtt"))
		usage();
	kvm_open();
	uname(&u);
	printf("pollbench %s: kernel %s, %d CPUs, KVM_CAP_VCPU_POLL %s\n", argv[1], u.release,
	       nr_cpus, has_poll ? "yes" : "no");
	printf("@info %s %d %d\n", u.release, nr_cpus, has_poll);

	if (!strcmp(argv[1], "wake")) {
		if (argc > 3)
			usage();
		bench_wake(arg_int(argc, argv, 2, 2000, 10, 1000000));
	} else if (!strcmp(argv[1], "pingpong")) {
		if (argc > 5 || (argc == 5 && strcmp(argv[4], "spin") && strcmp(argv[4], "halt")))
			usage();
		bench_pingpong(arg_int(argc, argv, 2, 20000, 1, 100000000),
			       arg_int(argc, argv, 3, 5, 1, 1000), argc == 5 && !strcmp(argv[4], "halt"));
	} else if (!strcmp(argv[1], "rtt")) {
		const char *which = argc > 4 ? argv[4] : "both";

		if (argc > 5 || (strcmp(which, "off") && strcmp(which, "armed") &&
				 strcmp(which, "rearm") && strcmp(which, "both") &&
				 strcmp(which, "all")))
			usage();
		bench_rtt(arg_int(argc, argv, 2, 1000, 1, 10000000), arg_int(argc, argv, 3, 10, 1, 1000),
			  which);
	} else {
		static const int def_k[] = { 1, 64, 256, 1024 };
		int ks[16], nr_k = 0, i;

		if (argc > 3 + 16)
			usage();
		for (i = 3; i < argc; i++)
			ks[nr_k++] = arg_int(argc, argv, i, 0, 1, 4096);
		if (!nr_k)
			memcpy(ks, def_k, sizeof(def_k)), nr_k = 4;
		bench_scale(arg_int(argc, argv, 2, 1000, 10, 1000000), nr_k, ks);
	}
	return 0;
}
