// SPDX-License-Identifier: GPL-2.0
/*
 * pollvmm - a demo VMM that serves N vCPUs with M < N worker threads by
 * polling vCPU file descriptors (KVM_CAP_VCPU_POLL).
 *
 * Every vCPU runs the guest in guest.c: it arms its APIC timer or sends an
 * IPI to another vCPU, then reports that it is idle with a port write.  The
 * worker that ran it then parks it: its fd goes into an epoll set with
 * EPOLLIN | EPOLLONESHOT (or, with --io-uring, an IORING_OP_POLL_ADD is
 * queued), and the worker takes another vCPU whose fd became readable.
 * Workers never block in KVM_RUN: the guest never halts.
 *
 * Before parking, the VMM looks at the vCPU's IRR (KVM_GET_LAPIC): an
 * interrupt that became pending while the guest ran with interrupts
 * disabled, before its last guest entry, does not make the fd readable
 * (api.rst, KVM_CAP_VCPU_POLL), so such a vCPU is resumed at once.
 *
 * Wake latency: for a timer, the time the fd was reported readable minus
 * the timer's due time (the guest's idle exit plus the programmed delay;
 * the guest writes TMICT just before that exit); for an IPI, readable time
 * minus the time the sender's idle exit (which follows its ICR write)
 * reached user space.
 *
 * Exit status: 0 ok, 1 error, 2 bad usage, 4 KVM_CAP_VCPU_POLL (or KVM)
 * missing, i.e. the kselftest "skip" code.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <liburing.h>
#include <linux/kvm.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
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
#include <time.h>
#include <unistd.h>

#include "guest_abi.h"
#include "host.h"

#ifndef KVM_CAP_VCPU_POLL
#error "KVM_CAP_VCPU_POLL missing: build with HDR=<patched uapi headers>"
#endif

_Static_assert(sizeof(struct vcpu_page) <= GUEST_IDT_OFF, "vcpu_page overlaps the IDT");

#define KSFT_SKIP	4
#define NR_DETAILED	20	/* events printed in full before summaries */
#define WORK_ITERS	500	/* max guest work loop iterations per action */

enum src { SRC_TIMER, SRC_IPI, NR_SRC };
static const char *const src_name[NR_SRC] = { "timer", "IPI" };

struct samples {
	int64_t *v;
	size_t n, cap;
};

struct vcpu {
	int id;
	int fd;
	struct kvm_run *run;
	struct vcpu_page *page;
	/*
	 * Owned by the worker that currently runs the vCPU; ownership moves
	 * with the epoll / io_uring readiness event, which orders accesses.
	 */
	bool parked;		/* this run follows a park */
	bool polled;		/* already in the epoll set */
	uint64_t t_ready;	/* fd reported readable */
	uint64_t timer_due;	/* 0: no timer armed */
	uint64_t workers;	/* bitmap of workers that ran it */
};

struct worker {
	int idx;
	pthread_t thread;
	unsigned long runs;	/* KVM_RUN calls */
	uint64_t idle_ns;	/* waiting for a readable vCPU fd */
	uint64_t cpu_ns;	/* thread CPU time */
};

struct backend {
	const char *name;
	void (*init)(void);
	void (*park)(struct vcpu *v);
	/* a vCPU whose fd is readable; NULL: stop (blocking) or none */
	struct vcpu *(*wait)(bool block);
	void (*stop)(void);
};

static struct {
	int nr_vcpus, nr_threads;
	double seconds;
	bool io_uring, quiet;
	int cpu;	/* -1: any */
} opt = { 8, 2, 5.0, false, false, -1 };

extern const uint8_t guest_bin[], guest_bin_end[];	/* guest32/blob.S */

static int kvm_fd, vm_fd;
static uint8_t *mem;
static struct ipi_map *ipi_map;		/* in guest memory */
static struct vcpu *vcpus;
static struct worker *workers;
static const struct backend *be;
static uint64_t t_start;
static atomic_bool stopping;
static atomic_uint next_initial;
static atomic_uint nr_events;
/* ipi_sent[target * n + sender]: 0 empty, 1 taken before stored, else time */
static _Atomic uint64_t *ipi_sent;

/* Statistics, under stats_lock. */
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct samples lat[NR_SRC];
static struct {
	unsigned long reports, parks, caught, wakes[NR_SRC], spurious, late_sender;
} st;

static double ms(int64_t ns)
{
	return ns / 1e6;
}

static void samples_add(struct samples *s, int64_t v)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			die("out of memory");
	}
	s->v[s->n++] = v;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static int64_t pct(const int64_t *v, size_t n, double p)
{
	size_t i = (size_t)(p / 100.0 * n + 0.999999);

	if (i < 1)
		i = 1;
	return v[(i > n ? n : i) - 1];
}

/* ---- backends: where parked vCPUs wait for their fd to become readable */

static int ep_fd, stop_fd;

static void ep_init(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	ep_fd = epoll_create1(EPOLL_CLOEXEC);
	stop_fd = eventfd(0, EFD_CLOEXEC);
	if (ep_fd < 0 || stop_fd < 0)
		die_errno("epoll_create1/eventfd");
	/* level-triggered: wakes every worker */
	if (epoll_ctl(ep_fd, EPOLL_CTL_ADD, stop_fd, &ev))
		die_errno("EPOLL_CTL_ADD eventfd");
}

static void ep_park(struct vcpu *v)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.ptr = v };
	int op = v->polled ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	v->polled = true;
	if (epoll_ctl(ep_fd, op, v->fd, &ev))
		die_errno("epoll_ctl vCPU fd");
}

static struct vcpu *ep_wait(bool block)
{
	struct epoll_event ev;
	int n;

	do
		n = epoll_wait(ep_fd, &ev, 1, block ? -1 : 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		die_errno("epoll_wait");
	if (!n)
		return NULL;
	if (ev.events & EPOLLERR)
		die("vCPU fd reports EPOLLERR (polling not enabled?)");
	return ev.data.ptr;
}

static void stop_write(void)
{
	if (eventfd_write(stop_fd, 1))
		die_errno("eventfd_write");
}

static const struct backend epoll_backend = {
	"epoll", ep_init, ep_park, ep_wait, stop_write,
};

/*
 * One ring shared by all workers: submissions under sq_lock, and one worker
 * at a time waits for completions under cq_lock.  POLL_ADD is one-shot.
 */
static struct io_uring ring;
static pthread_mutex_t sq_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cq_lock = PTHREAD_MUTEX_INITIALIZER;
static bool ring_stopped;	/* under cq_lock */

static void uring_poll(int fd, void *data)
{
	struct io_uring_sqe *sqe;
	int ret;

	pthread_mutex_lock(&sq_lock);
	sqe = io_uring_get_sqe(&ring);
	if (!sqe)
		die("io_uring: submission queue full");
	io_uring_prep_poll_add(sqe, fd, POLLIN);
	io_uring_sqe_set_data(sqe, data);
	do
		ret = io_uring_submit(&ring);
	while (ret == -EINTR);
	if (ret < 0)
		die("io_uring_submit: %s", strerror(-ret));
	pthread_mutex_unlock(&sq_lock);
}

static void ur_init(void)
{
	int ret = io_uring_queue_init(2 * opt.nr_vcpus + 8, &ring, 0);

	if (ret < 0)
		die("io_uring_queue_init: %s", strerror(-ret));
	stop_fd = eventfd(0, EFD_CLOEXEC);
	if (stop_fd < 0)
		die_errno("eventfd");
	uring_poll(stop_fd, NULL);
}

static void ur_park(struct vcpu *v)
{
	uring_poll(v->fd, v);
}

static struct vcpu *ur_wait(bool block)
{
	struct io_uring_cqe *cqe;
	struct vcpu *v = NULL;
	int ret, res;

	if (!block) {
		if (pthread_mutex_trylock(&cq_lock))
			return NULL;	/* another worker is waiting */
	} else {
		pthread_mutex_lock(&cq_lock);
	}
	if (!ring_stopped) {
		do
			ret = block ? io_uring_wait_cqe(&ring, &cqe) : io_uring_peek_cqe(&ring, &cqe);
		while (ret == -EINTR);
		if (ret == -EAGAIN && !block) {
			pthread_mutex_unlock(&cq_lock);
			return NULL;
		}
		if (ret < 0)
			die("io_uring_wait_cqe: %s", strerror(-ret));
		v = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
		if (res < 0)
			die("IORING_OP_POLL_ADD: %s", strerror(-res));
		if (res & POLLERR)
			die("vCPU fd reports POLLERR (polling not enabled?)");
		if (!v)
			ring_stopped = true;
	}
	pthread_mutex_unlock(&cq_lock);
	return v;
}

static const struct backend uring_backend = {
	"io_uring", ur_init, ur_park, ur_wait, stop_write,
};

/*
 * vCPUs that have work without waiting (an interrupt already in the IRR):
 * a worker takes them when no parked vCPU's fd is readable, so that two
 * vCPUs sending IPIs to each other cannot keep the workers from the rest.
 */
static struct {
	pthread_mutex_t lock;
	struct vcpu **q;
	unsigned int head, len;
} runq = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void runq_push(struct vcpu *v)
{
	pthread_mutex_lock(&runq.lock);
	runq.q[(runq.head + runq.len++) % opt.nr_vcpus] = v;
	pthread_mutex_unlock(&runq.lock);
}

static struct vcpu *runq_pop(void)
{
	struct vcpu *v = NULL;

	pthread_mutex_lock(&runq.lock);
	if (runq.len) {
		v = runq.q[runq.head];
		runq.head = (runq.head + 1) % opt.nr_vcpus;
		runq.len--;
	}
	pthread_mutex_unlock(&runq.lock);
	return v;
}

/* ---- reporting */

static bool detailed(void)
{
	return !opt.quiet && atomic_fetch_add(&nr_events, 1) < NR_DETAILED;
}

/* Append to a line buffer. */
#define addf(buf, len, ...)						\
	do {								\
		if ((len) < sizeof(buf))				\
			(len) += snprintf((buf) + (len), sizeof(buf) - (len), __VA_ARGS__); \
	} while (0)

#define TAKEN	(1ull << 63)

/*
 * IPI send times, one slot per (target, sender): 0, or the time the
 * sender's idle exit reached user space, or TAKEN when the target took the
 * IPI before that exit was processed (TAKEN | t: and the sender is to record
 * the latency sample, the target having become readable at t).  A sender
 * sends to a target again only after the target took its previous IPI and
 * the sender ran again, so a slot holds at most one IPI.
 */
static _Atomic uint64_t *ipi_slot(int t, int s)
{
	return &ipi_sent[t * opt.nr_vcpus + s];
}

/* Target side: the send time, or 0 after marking the slot TAKEN. */
static uint64_t ipi_take(int t, int s)
{
	uint64_t old = 0;

	if (atomic_compare_exchange_strong(ipi_slot(t, s), &old, TAKEN))
		return 0;
	if (old & TAKEN)	/* cannot happen, see struct ipi_map */
		die("vCPU %d: stale IPI mark for sender %d", t, s);
	atomic_store(ipi_slot(t, s), 0);
	return old;
}

/* Sender side, at its idle exit. */
static void ipi_put(int t, int s, uint64_t now)
{
	uint64_t old = 0;

	if (atomic_compare_exchange_strong(ipi_slot(t, s), &old, now))
		return;
	old = atomic_exchange(ipi_slot(t, s), 0);
	if (old & ~TAKEN) {
		pthread_mutex_lock(&stats_lock);
		samples_add(&lat[SRC_IPI], (int64_t)((old & ~TAKEN) - now));
		st.late_sender++;
		pthread_mutex_unlock(&stats_lock);
	}
}

/* The guest's PORT_IDLE report: what woke it, what it did. */
static void handle_report(struct worker *w, struct vcpu *v, uint64_t now)
{
	struct vcpu_page *p = v->page;
	unsigned int nr_woke = p->nr_woke < MAX_WOKE ? p->nr_woke : MAX_WOKE;
	unsigned int nr_acts = p->nr_acts < MAX_ACTS ? p->nr_acts : MAX_ACTS;
	int cause = -1, from = -1, unknown = -1;
	uint64_t first = UINT64_MAX;
	bool show = false;
	char line[512];
	size_t len = 0;
	unsigned int i;

	/* The wake sources taken; the earliest known one woke the vCPU. */
	for (i = 0; i < nr_woke; i++) {
		uint32_t vec = p->woke[i];
		uint64_t t = 0;
		int src = -1, s = -1;

		if (vec == VEC_TIMER) {
			t = v->timer_due;
			v->timer_due = 0;
			src = SRC_TIMER;
		} else if (vec >= VEC_IPI_BASE && vec < VEC_IPI_BASE + (unsigned int)opt.nr_vcpus) {
			s = vec - VEC_IPI_BASE;
			t = ipi_take(v->id, s);
			src = SRC_IPI;
			if (!t && unknown < 0)
				unknown = s;
		}
		if (src >= 0 && t && t < first) {
			first = t;
			cause = src;
			from = s;
		}
	}
	/*
	 * An IPI whose sender has not been seen exiting yet was sent before
	 * the readiness if no known source was: the sender records its sample.
	 */
	if (v->parked && unknown >= 0 && (cause < 0 || first > v->t_ready)) {
		uint64_t mark = TAKEN;

		cause = SRC_IPI;
		from = unknown;
		first = 0;
		atomic_compare_exchange_strong(ipi_slot(v->id, unknown), &mark,
					       TAKEN | v->t_ready);
	}

	/* Let the senders send to this vCPU again (struct ipi_map). */
	for (i = 0; i < nr_woke; i++) {
		uint32_t vec = p->woke[i], s = vec - VEC_IPI_BASE;

		if (vec >= VEC_IPI_BASE && s < (unsigned int)opt.nr_vcpus)
			__atomic_fetch_and(&ipi_map->pending[v->id][s / 32], ~(1u << (s % 32)),
					   __ATOMIC_SEQ_CST);
	}

	pthread_mutex_lock(&stats_lock);
	st.reports++;
	if (v->parked) {
		if (!p->nr_woke)
			st.spurious++;
		else if (cause >= 0)
			st.wakes[cause]++;
		if (cause >= 0 && first)
			samples_add(&lat[cause], (int64_t)(v->t_ready - first));
	}
	pthread_mutex_unlock(&stats_lock);

	show = detailed();
	if (show) {
		addf(line, len, "%9.3f ms  vCPU %-3d [T%d] ", ms(now - t_start), v->id, w->idx);
		if (!v->parked)
			addf(line, len, "ran without parking (%s)",
			     p->nr_woke ? "interrupt was pending" : "first run");
		else if (!p->nr_woke)
			addf(line, len, "spurious wake (nothing pending)");
		else if (cause == SRC_TIMER)
			addf(line, len, "woken by its timer, %.3f ms after due", ms(v->t_ready - first));
		else if (cause == SRC_IPI && first)
			addf(line, len, "woken by IPI from vCPU %d, %.3f ms after sender's exit",
			     from, ms(v->t_ready - first));
		else if (cause == SRC_IPI)
			addf(line, len, "woken by IPI from vCPU %d, before its exit was seen", from);
		else
			addf(line, len, "woken by vector %#x", p->woke[0]);
		if (p->nr_woke > 1)
			addf(line, len, " (+%u more)", p->nr_woke - 1);
		addf(line, len, ";");
	}

	/* The actions: record when the wake sources were created. */
	for (i = 0; i < nr_acts; i++) {
		struct guest_act *a = &p->acts[i];

		if (a->kind == ACT_TIMER) {
			v->timer_due = now + a->arg;
			if (show)
				addf(line, len, " timer %.2f ms", a->arg / 1e6);
		} else if (a->kind == ACT_IPI && a->arg < (unsigned int)opt.nr_vcpus) {
			ipi_put(a->arg, v->id, now);
			if (show)
				addf(line, len, " IPI->%u", a->arg);
		}
	}
	if (show) {
		if (p->debt)
			addf(line, len, " (%u deferred)", p->debt);
		printf("%s\n", line);
	}
}

/* Did an interrupt become pending before the last guest entry? */
static bool irr_pending(struct vcpu *v)
{
	struct kvm_lapic_state lapic;
	int i;

	if (ioctl(v->fd, KVM_GET_LAPIC, &lapic))
		die_errno("KVM_GET_LAPIC");
	for (i = 0; i < 8; i++) {
		uint32_t irr;

		memcpy(&irr, &lapic.regs[0x200 + 0x10 * i], sizeof(irr));
		if (irr)
			return true;
	}
	return false;
}

static void guest_panic(struct vcpu *v, uint32_t vec)
{
	die("vCPU %d: guest exception %u at eip %#x, error code %#x",
	    v->id, vec, v->page->exc_eip, v->page->exc_err);
}

/* Run @v until its next idle report (or the VMM stops). */
static void run_vcpu(struct worker *w, struct vcpu *v)
{
	struct kvm_run *run = v->run;

	v->workers |= 1ull << w->idx;
	for (;;) {
		uint64_t now;
		uint32_t val;

		w->runs++;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("vCPU %d: KVM_RUN: %s", v->id, strerror(errno));
		}
		now = now_ns();

		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			if (run->io.direction != KVM_EXIT_IO_OUT || run->io.size != 4)
				die("vCPU %d: unexpected I/O at port %#x", v->id, run->io.port);
			memcpy(&val, (uint8_t *)run + run->io.data_offset, sizeof(val));
			if (run->io.port == PORT_PANIC)
				guest_panic(v, val);
			if (run->io.port != PORT_IDLE)
				die("vCPU %d: write to unknown port %#x", v->id, run->io.port);
			handle_report(w, v, now);
			if (atomic_load(&stopping))
				return;
			if (v->page->more || irr_pending(v)) {
				pthread_mutex_lock(&stats_lock);
				st.caught++;
				pthread_mutex_unlock(&stats_lock);
				v->parked = false;
				runq_push(v);
				return;
			}
			pthread_mutex_lock(&stats_lock);
			st.parks++;
			pthread_mutex_unlock(&stats_lock);
			v->parked = true;
			be->park(v);	/* another worker may own @v from here on */
			return;
		case KVM_EXIT_INTR:
			continue;
		case KVM_EXIT_SHUTDOWN:
			die("vCPU %d: guest shutdown (triple fault)", v->id);
		case KVM_EXIT_FAIL_ENTRY:
			die("vCPU %d: entry failed, reason %#llx", v->id,
			    (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		case KVM_EXIT_INTERNAL_ERROR:
			die("vCPU %d: KVM internal error, suberror %u", v->id, run->internal.suberror);
		case KVM_EXIT_MMIO:
			die("vCPU %d: MMIO at %#llx outside the APIC", v->id,
			    (unsigned long long)run->mmio.phys_addr);
		default:
			die("vCPU %d: unexpected exit reason %u", v->id, run->exit_reason);
		}
	}
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct timespec ts;

	while (!atomic_load(&stopping)) {
		unsigned int i = atomic_fetch_add(&next_initial, 1);
		struct vcpu *v;

		/* first, every vCPU runs once; then readable fds, then the runq */
		v = i < (unsigned int)opt.nr_vcpus ? &vcpus[i] : be->wait(false);
		if (!v)
			v = runq_pop();
		if (!v) {
			uint64_t t0 = now_ns();

			v = be->wait(true);
			w->idle_ns += now_ns() - t0;
			if (!v)
				break;
		}
		if (atomic_load(&stopping))
			break;
		if (v->parked)
			v->t_ready = now_ns();
		run_vcpu(w, v);
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	w->cpu_ns = ts.tv_sec * 1000000000ull + ts.tv_nsec;
	return NULL;
}

/* ---- VM setup */

static void setup_vcpu(struct vcpu *v, int id, int mmap_size)
{
	uint32_t area = GUEST_PCPU_BASE + id * GUEST_PCPU_SIZE;
	struct kvm_enable_cap cap = { .cap = KVM_CAP_VCPU_POLL };

	v->id = id;
	v->fd = ioctl(vm_fd, KVM_CREATE_VCPU, id);
	if (v->fd < 0)
		die("KVM_CREATE_VCPU %d: %s", id, strerror(errno));
	v->run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED)
		die_errno("mmap kvm_run");
	v->page = (struct vcpu_page *)(mem + area);
	v->page->id = id;
	v->page->nr_vcpus = opt.nr_vcpus;
	v->page->seed = 0x9e3779b9u * (id + 1) | 1;
	v->page->work = WORK_ITERS;

	guest32_vcpu_init(v->fd, id, area + GUEST_PCPU_SIZE - 16);
	if (ioctl(v->fd, KVM_ENABLE_CAP, &cap))
		die_errno("KVM_ENABLE_CAP(KVM_CAP_VCPU_POLL)");
}

static void setup_vm(void)
{
	size_t bin_size = guest_bin_end - guest_bin;
	struct kvm_userspace_memory_region region;
	int mmap_size, max_vcpus, i;

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0) {
		printf("SKIP: /dev/kvm: %s\n", strerror(errno));
		exit(KSFT_SKIP);
	}
	if (ioctl(kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		die("unexpected KVM API version");
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0)
		die_errno("KVM_CREATE_VM");
	if (ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_VCPU_POLL) <= 0) {
		printf("SKIP: this kernel does not support pollable vCPU fds "
		       "(KVM_CHECK_EXTENSION(KVM_CAP_VCPU_POLL = %d) returned 0)\n",
		       KVM_CAP_VCPU_POLL);
		exit(KSFT_SKIP);
	}
	max_vcpus = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max_vcpus > 0 && opt.nr_vcpus > max_vcpus)
		die("--vcpus %d: KVM allows %d vCPUs per VM", opt.nr_vcpus, max_vcpus);

	if (ioctl(vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul))
		die_errno("KVM_SET_TSS_ADDR");
	if (ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0))
		die_errno("KVM_CREATE_IRQCHIP");

	mem = mmap(NULL, GUEST_MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		die_errno("mmap guest memory");
	if (bin_size > GUEST_PCPU_BASE - GUEST_CODE_BASE)
		die("guest binary too large");
	memcpy(mem + GUEST_CODE_BASE, guest_bin, bin_size);
	ipi_map = (struct ipi_map *)(mem + GUEST_IPI_MAP);
	region = (struct kvm_userspace_memory_region) {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = GUEST_MEM_SIZE,
		.userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region))
		die_errno("KVM_SET_USER_MEMORY_REGION");

	mmap_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size <= 0)
		die_errno("KVM_GET_VCPU_MMAP_SIZE");
	vcpus = calloc(opt.nr_vcpus, sizeof(*vcpus));
	runq.q = calloc(opt.nr_vcpus, sizeof(*runq.q));
	ipi_sent = calloc((size_t)opt.nr_vcpus * opt.nr_vcpus, sizeof(*ipi_sent));
	if (!vcpus || !ipi_sent || !runq.q)
		die("out of memory");
	for (i = 0; i < opt.nr_vcpus; i++)
		setup_vcpu(&vcpus[i], i, mmap_size);
}

/* ---- summaries */

static void print_lat(const char *what, const char *def, int64_t *v, size_t n)
{
	if (!n) {
		printf("  %-6s latency (%s): no samples\n", what, def);
		return;
	}
	qsort(v, n, sizeof(*v), cmp_i64);
	printf("  %-6s latency (%s): n=%zu p50 %.3f ms  p99 %.3f ms  min %.3f  max %.3f ms\n",
	       what, def, n, ms(pct(v, n, 50)), ms(pct(v, n, 99)), ms(v[0]), ms(v[n - 1]));
}

/* One line per second: the counts and latencies of that second. */
static void tick(double t)
{
	static size_t seen[NR_SRC];
	static unsigned long last_wakes[NR_SRC], last_spurious, last_parks;
	char line[512];
	size_t len = 0;
	int s;

	pthread_mutex_lock(&stats_lock);
	addf(line, len, "[%5.1f s] parks %lu, wakes: timer %lu, IPI %lu, spurious %lu;",
	     t, st.parks - last_parks, st.wakes[SRC_TIMER] - last_wakes[SRC_TIMER],
	     st.wakes[SRC_IPI] - last_wakes[SRC_IPI], st.spurious - last_spurious);
	last_parks = st.parks;
	last_spurious = st.spurious;
	for (s = 0; s < NR_SRC; s++) {
		size_t n = lat[s].n - seen[s];
		int64_t *tmp;

		last_wakes[s] = st.wakes[s];
		if (!n)
			continue;
		tmp = malloc(n * sizeof(*tmp));
		if (!tmp)
			die("out of memory");
		memcpy(tmp, lat[s].v + seen[s], n * sizeof(*tmp));
		seen[s] = lat[s].n;
		qsort(tmp, n, sizeof(*tmp), cmp_i64);
		addf(line, len, " %s p50 %.2f ms p99 %.2f ms;", src_name[s],
		     ms(pct(tmp, n, 50)), ms(pct(tmp, n, 99)));
		free(tmp);
	}
	pthread_mutex_unlock(&stats_lock);
	line[len - 1] = '\0';	/* drop the last ';' */
	printf("%s\n", line);
}

static void summary(double elapsed)
{
	unsigned long wakes = st.wakes[SRC_TIMER] + st.wakes[SRC_IPI] + st.spurious;
	unsigned long runs = 0;
	int i, shared = 0;
	struct rusage ru;
	double cpu;

	getrusage(RUSAGE_SELF, &ru);
	cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	      ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	for (i = 0; i < opt.nr_vcpus; i++)
		shared += __builtin_popcountll(vcpus[i].workers) > 1;

	printf("\n=== pollvmm summary: %s, %d vCPUs served by %d worker threads, %.2f s\n",
	       be->name, opt.nr_vcpus, opt.nr_threads, elapsed);
	printf("  wakes: %lu (%.1f/s): timer %lu, IPI %lu, spurious %lu\n", wakes,
	       wakes / elapsed, st.wakes[SRC_TIMER], st.wakes[SRC_IPI], st.spurious);
	printf("  idle reports %lu: parked %lu, resumed at once (interrupt already in IRR, "
	       "or actions left) %lu\n",
	       st.reports, st.parks, st.caught);
	if (st.late_sender)
		printf("  IPI wakes whose target was readable before the sender's exit was seen: %lu "
		       "(negative samples)\n", st.late_sender);
	print_lat("timer", "fd readable - timer due", lat[SRC_TIMER].v, lat[SRC_TIMER].n);
	print_lat("IPI", "fd readable - sender's exit", lat[SRC_IPI].v, lat[SRC_IPI].n);
	for (i = 0; i < opt.nr_threads; i++) {
		printf("  worker %d: %lu KVM_RUN calls, %.2f s in %s waits (incl. wake-up), CPU time %.2f s\n",
		       i, workers[i].runs, workers[i].idle_ns / 1e9, be->name,
		       workers[i].cpu_ns / 1e9);
		runs += workers[i].runs;
	}
	printf("  pCPU threads: %d workers served %d vCPUs on %ld online CPUs "
	       "(%d vCPUs ran on more than one worker); %lu KVM_RUN calls\n", opt.nr_threads,
	       opt.nr_vcpus, sysconf(_SC_NPROCESSORS_ONLN), shared, runs);
	printf("  CPU time: %.2f s user+sys (%.0f%% of one CPU), %.1f us per wake\n",
	       cpu, 100.0 * cpu / elapsed, wakes ? 1e6 * cpu / wakes : 0.0);
}

/* ---- main */

static void usage(void)
{
	fprintf(stderr,
		"usage: pollvmm [--vcpus N] [--threads M] [--seconds S] [--io-uring] [--cpu C] [--quiet]\n"
		"  --vcpus N     vCPUs, 2..%d (default 8)\n"
		"  --threads M   worker threads, 1..N-1 (default 2)\n"
		"  --seconds S   run time (default 5)\n"
		"  --io-uring    wait with IORING_OP_POLL_ADD instead of epoll\n"
		"  --cpu C       keep every thread on CPU C (default: any CPU)\n"
		"  --quiet       only the closing summary\n"
		"exit: 0 ok, 1 error, 2 usage, 4 KVM_CAP_VCPU_POLL unsupported (skip)\n",
		GUEST_MAX_VCPUS);
	exit(2);
}

static long parse_int(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "vcpus", required_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 't' },
		{ "seconds", required_argument, NULL, 's' },
		{ "io-uring", no_argument, NULL, 'u' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	uint64_t deadline, next;
	char *end;
	int c, i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			opt.nr_vcpus = parse_int(optarg, 2, GUEST_MAX_VCPUS);
			break;
		case 't':
			opt.nr_threads = parse_int(optarg, 1, 63);
			break;
		case 's':
			errno = 0;
			opt.seconds = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(opt.seconds > 0 && opt.seconds <= 3600))
				usage();
			break;
		case 'u':
			opt.io_uring = true;
			break;
		case 'q':
			opt.quiet = true;
			break;
		case 'c':
			opt.cpu = parse_int(optarg, 0, CPU_SETSIZE - 1);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || opt.nr_threads >= opt.nr_vcpus)
		usage();

	if (opt.cpu >= 0) {
		cpu_set_t set;

		/* The workers inherit it. */
		CPU_ZERO(&set);
		CPU_SET(opt.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			die_errno("sched_setaffinity");
	}
	setup_vm();
	be = opt.io_uring ? &uring_backend : &epoll_backend;
	be->init();
	printf("pollvmm: %d vCPUs, %d worker threads, %s, %.1f s%s\n",
	       opt.nr_vcpus, opt.nr_threads, be->name, opt.seconds,
	       opt.cpu >= 0 ? ", all threads on one CPU" : "");
	if (!opt.quiet)
		printf("first %d idle reports in full (time, vCPU, [worker], what woke it; "
		       "what it did before parking), then one line per second\n", NR_DETAILED);

	workers = calloc(opt.nr_threads, sizeof(*workers));
	if (!workers)
		die("out of memory");
	t_start = now_ns();
	for (i = 0; i < opt.nr_threads; i++) {
		workers[i].idx = i;
		if (pthread_create(&workers[i].thread, NULL, worker_fn, &workers[i]))
			die("pthread_create failed");
	}

	deadline = t_start + (uint64_t)(opt.seconds * 1e9);
	for (next = t_start + 1000000000ull; ; next += 1000000000ull) {
		uint64_t until = next < deadline ? next : deadline;
		struct timespec ts = { until / 1000000000ull, until % 1000000000ull };

		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		if (until == deadline)
			break;
		if (!opt.quiet)
			tick((until - t_start) / 1e9);
	}
	atomic_store(&stopping, true);
	be->stop();
	for (i = 0; i < opt.nr_threads; i++)
		pthread_join(workers[i].thread, NULL);
	summary((now_ns() - t_start) / 1e9);
	return 0;
}
