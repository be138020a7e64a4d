//go:build ignore

// cref: the C reference of `shmring bench`. One producer process and one
// consumer process (fork, MAP_SHARED|MAP_ANONYMOUS, each pinned with
// sched_setaffinity) move N messages, or ping-pong N round trips, over:
//
//   spsc        the ring package's SPSC algorithm and slot layout, per message
//   spsc-batch  the same, tail and released published once per batch
//   vyukov      Dmitry Vyukov's bounded MPMC queue (CAS on the enqueue and
//               dequeue positions, a sequence word per slot), one producer and
//               one consumer
//   rtt         ping-pong over two spinning spsc rings (8-byte messages)
//
// usage: cref MODE SIZE N CPU_P CPU_C [CAPACITY [BATCH]]   (CPU -1: not pinned)
// prints: MODE SIZE N ELAPSED_NS                 (spsc, spsc-batch, vyukov)
//         rtt N P50 P99 P999 MIN MAX             (nanoseconds)
// and exits 1 if a message arrived torn, out of order or not at all.
//
// Build: cc -O2 -std=c11 -o cref cref.c   (shmring bench does this itself).
// The "//go:build ignore" line above keeps the Go tool from treating this
// directory's C file as cgo source.

#define _GNU_SOURCE
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// Layout of ring/layout.go, version 1: the words this program touches.
#define LINE 128
#define OFF_TAIL (2 * LINE)          // SPSC: producer position; Vyukov: enqueue position
#define OFF_HEAD (3 * LINE)          // SPSC: consumer position; Vyukov: dequeue position
#define OFF_NOT_EMPTY_WAIT (5 * LINE) // consumers asleep (never, here: loaded, as Go does)
#define OFF_NOT_FULL_WAIT (7 * LINE)  // producers asleep (idem)
#define OFF_RELEASED (8 * LINE)      // SPSC: consumer position as released to the producer
#define OFF_READY (9 * LINE)         // cref only: the consumer is ready
#define OFF_RESULT (10 * LINE)       // cref only: the consumer's end time, count, errors
#define DATA_OFFSET 4096
#define SPSC_SLOT_HEADER 8  // seq (u32), length (u32)
#define MPMC_SLOT_HEADER 16 // seq (u64), length (u32), reserved (u32)

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static uint64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// forked_child makes the forked peer die with its parent: a peer left
// alone would spin for ever waiting for messages that never come.
static void forked_child(pid_t parent) {
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(3);
}

static void pin(int cpu) {
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0) {
		perror("cref: sched_setaffinity");
		exit(2);
	}
}

struct ring {
	char *base, *data;
	uint64_t cap, mask, stride;
	size_t size, hdr, lenoff; // slot header (payload offset) and length offset
};

static _Atomic uint64_t *u64at(struct ring *r, size_t off) { return (_Atomic uint64_t *)(r->base + off); }
static _Atomic uint32_t *u32at(struct ring *r, size_t off) { return (_Atomic uint32_t *)(r->base + off); }
static char *slot(struct ring *r, uint64_t pos) { return r->data + (pos & r->mask) * r->stride; }
static _Atomic uint64_t *slot_seq(char *s) { return (_Atomic uint64_t *)s; }   // Vyukov
static _Atomic uint32_t *slot_seq32(char *s) { return (_Atomic uint32_t *)s; } // SPSC
static uint32_t *slot_len(struct ring *r, char *s) { return (uint32_t *)(s + r->lenoff); }

// spsc_slot_layout is slotLayout of ring/layout.go for SPSC slots: compact
// (header, then payload, the stride a power of two) when they fit in a cache
// line; else the header alone in the first line and the payload from the
// second.
static void spsc_slot_layout(size_t msg_size, uint64_t *stride, size_t *hdr) {
	size_t compact = SPSC_SLOT_HEADER + ((msg_size + 7) & ~(size_t)7);
	if (compact <= 64) {
		size_t p = 16;
		while (p < compact)
			p *= 2;
		*stride = p;
		*hdr = SPSC_SLOT_HEADER;
		return;
	}
	*stride = 64 + ((msg_size + 63) & ~(size_t)63);
	*hdr = 64;
}

// ring_init lays out a ring of cap slots of msg_size bytes at base.
static void ring_init(struct ring *r, char *base, uint64_t cap, size_t msg_size, int vyukov) {
	r->base = base;
	r->data = base + DATA_OFFSET;
	r->cap = cap;
	r->mask = cap - 1;
	r->hdr = vyukov ? MPMC_SLOT_HEADER : SPSC_SLOT_HEADER;
	r->lenoff = vyukov ? 8 : 4;
	r->stride = r->hdr + ((msg_size + 7) & ~(size_t)7);
	if (!vyukov)
		spsc_slot_layout(msg_size, &r->stride, &r->hdr);
	r->size = DATA_OFFSET + cap * r->stride;
	for (uint64_t i = 0; i < cap; i++) {
		if (vyukov)
			atomic_store_explicit(slot_seq(slot(r, i)), i, memory_order_relaxed);
		else
			atomic_store_explicit(slot_seq32(slot(r, i)), 0, memory_order_relaxed);
	}
}

static size_t ring_bytes(uint64_t cap, size_t msg_size, int vyukov) {
	size_t stride = MPMC_SLOT_HEADER + ((msg_size + 7) & ~(size_t)7), hdr;
	if (!vyukov)
		spsc_slot_layout(msg_size, &stride, &hdr);
	return DATA_OFFSET + cap * stride;
}

// Messages carry their sequence number in their first 8 bytes, and in their
// last 8 when there is room, as the Go bench's do.
static void stamp(char *msg, size_t size, uint64_t v) {
	memcpy(msg, &v, 8);
	if (size >= 16)
		memcpy(msg + size - 8, &v, 8);
}

static int bad(const char *msg, size_t size, uint64_t want) {
	uint64_t a, b = want;
	memcpy(&a, msg, 8);
	if (size >= 16)
		memcpy(&b, msg + size - 8, 8);
	return a != want || b != want;
}

// ---- SPSC, as ring/spsc.go ----

struct prod {
	struct ring *r;
	uint64_t pos, head; // next position; cached released
	uint64_t wakes;     // waiter words found non-zero (never, here)
};

struct cons {
	struct ring *r;
	uint64_t pos, released, every;
	uint64_t wakes;
};

// prod_put waits for room (reloading released only when the cached copy
// says full), writes payload and length, and publishes the slot.
static inline void prod_put(struct prod *p, const char *msg, size_t size) {
	struct ring *r = p->r;
	while (p->pos + 1 - p->head > r->cap) {
		p->head = atomic_load_explicit(u64at(r, OFF_RELEASED), memory_order_acquire);
		if (p->pos + 1 - p->head > r->cap)
			cpu_relax();
	}
	char *s = slot(r, p->pos);
	memcpy(s + r->hdr, msg, size);
	*slot_len(r, s) = (uint32_t)size;
	atomic_store_explicit(slot_seq32(s), (uint32_t)p->pos + 1, memory_order_release); // publishes the message
	p->pos++;
}

// prod_publish looks for sleeping consumers and stores tail, as Go does
// after each message (tail only every `every` messages) or each batch.
static uint64_t release_every(uint64_t cap) {
	uint64_t every = cap / 4;
	return every < 1 ? 1 : every > 32 ? 32 : every;
}

static inline void prod_publish(struct prod *p, uint64_t every) {
	if ((p->pos & (every - 1)) == 0)
		atomic_store_explicit(u64at(p->r, OFF_TAIL), p->pos, memory_order_release);
	if (atomic_load_explicit(u32at(p->r, OFF_NOT_EMPTY_WAIT), memory_order_relaxed) != 0)
		p->wakes++;
}

static inline void cons_release(struct cons *c) {
	if (c->released == c->pos)
		return;
	c->released = c->pos;
	atomic_store_explicit(u64at(c->r, OFF_RELEASED), c->pos, memory_order_release); // after the copies out
	if (atomic_load_explicit(u32at(c->r, OFF_NOT_FULL_WAIT), memory_order_relaxed) != 0)
		c->wakes++;
}

// cons_get copies the next message into buf and returns its length, or -1
// when the ring is empty (after releasing every slot read, as Go does).
static inline long cons_get(struct cons *c, char *buf) {
	char *s = slot(c->r, c->pos);
	if (atomic_load_explicit(slot_seq32(s), memory_order_acquire) != (uint32_t)c->pos + 1) {
		cons_release(c);
		return -1;
	}
	uint32_t n = *slot_len(c->r, s);
	memcpy(buf, s + c->r->hdr, n);
	c->pos++;
	return n;
}

// cons_done stores head and releases lazily: after a message (per message)
// or a batch (batch: always).
static inline void cons_done(struct cons *c, int batch) {
	atomic_store_explicit(u64at(c->r, OFF_HEAD), c->pos, memory_order_release);
	if (batch || c->pos - c->released >= c->every)
		cons_release(c);
}

static void cons_init(struct cons *c, struct ring *r) {
	c->r = r;
	c->pos = c->released = c->wakes = 0;
	c->every = release_every(r->cap);
}

// ---- Vyukov's bounded MPMC queue ----

static inline int vy_enqueue(struct ring *r, const char *msg, size_t size) {
	_Atomic uint64_t *enq = u64at(r, OFF_TAIL);
	uint64_t pos = atomic_load_explicit(enq, memory_order_relaxed);
	char *s;
	for (;;) {
		s = slot(r, pos);
		uint64_t seq = atomic_load_explicit(slot_seq(s), memory_order_acquire);
		int64_t dif = (int64_t)(seq - pos);
		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(enq, &pos, pos + 1, memory_order_relaxed, memory_order_relaxed))
				break;
		} else if (dif < 0) {
			return 0; // full
		} else {
			pos = atomic_load_explicit(enq, memory_order_relaxed);
		}
	}
	memcpy(s + r->hdr, msg, size);
	*slot_len(r, s) = (uint32_t)size;
	atomic_store_explicit(slot_seq(s), pos + 1, memory_order_release);
	return 1;
}

static inline long vy_dequeue(struct ring *r, char *buf) {
	_Atomic uint64_t *deq = u64at(r, OFF_HEAD);
	uint64_t pos = atomic_load_explicit(deq, memory_order_relaxed);
	char *s;
	for (;;) {
		s = slot(r, pos);
		uint64_t seq = atomic_load_explicit(slot_seq(s), memory_order_acquire);
		int64_t dif = (int64_t)(seq - (pos + 1));
		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(deq, &pos, pos + 1, memory_order_relaxed, memory_order_relaxed))
				break;
		} else if (dif < 0) {
			return -1; // empty
		} else {
			pos = atomic_load_explicit(deq, memory_order_relaxed);
		}
	}
	uint32_t n = *slot_len(r, s);
	memcpy(buf, s + r->hdr, n);
	atomic_store_explicit(slot_seq(s), pos + r->mask + 1, memory_order_release);
	return n;
}

// ---- the runs ----

enum mode { SPSC, SPSC_BATCH, VYUKOV, RTT };

struct result { // in shared memory, written by the consumer
	_Atomic uint64_t end, count, errors;
};

// produce sends n messages. In batched mode, as with the Go API
// (PushBatch takes a slice of messages), a batch is that many distinct
// messages in memory: msg holds batch of them.
static void produce(enum mode m, struct ring *r, size_t size, uint64_t n, uint64_t batch, char *msgs) {
	struct prod p = {.r = r};
	for (uint64_t i = 0; i < n;) {
		uint64_t k = m == SPSC_BATCH ? (n - i < batch ? n - i : batch) : 1;
		if (m == SPSC_BATCH)
			for (uint64_t j = 0; j < k; j++)
				stamp(msgs + j * size, size, i + j);
		for (uint64_t j = 0; j < k; j++) {
			char *msg = m == SPSC_BATCH ? msgs + j * size : msgs;
			if (m != SPSC_BATCH)
				stamp(msg, size, i + j);
			if (m == VYUKOV) {
				while (!vy_enqueue(r, msg, size))
					cpu_relax();
			} else {
				prod_put(&p, msg, size);
				if (m == SPSC)
					prod_publish(&p, release_every(r->cap));
			}
		}
		if (m == SPSC_BATCH)
			prod_publish(&p, 1);
		i += k;
	}
	if (p.wakes)
		fprintf(stderr, "cref: unexpected waiters\n");
}

static void consume(enum mode m, struct ring *r, size_t size, uint64_t n, uint64_t batch, char *buf, struct result *res) {
	struct cons c;
	cons_init(&c, r);
	uint64_t got = 0, errors = 0;
	while (got < n) {
		if (m == VYUKOV) {
			long len = vy_dequeue(r, buf);
			if (len < 0) {
				cpu_relax();
				continue;
			}
			errors += (size_t)len != size || bad(buf, size, got);
			got++;
			continue;
		}
		uint64_t k = 0, max = m == SPSC_BATCH ? batch : 1;
		while (k < max) {
			long len = cons_get(&c, buf);
			if (len < 0)
				break;
			errors += (size_t)len != size || bad(buf, size, got);
			got++;
			k++;
		}
		if (k == 0) {
			cpu_relax();
			continue;
		}
		cons_done(&c, m == SPSC_BATCH);
	}
	atomic_store(&res->end, now_ns());
	atomic_store(&res->count, got);
	atomic_store(&res->errors, errors);
}

static int cmp64(const void *a, const void *b) {
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int64_t pct(const int64_t *sorted, uint64_t n, double p) {
	double r = p / 100 * (double)n - 1e-9; // 99.9% of 1000 is rank 999, not a hair above
	uint64_t rank = (uint64_t)r;
	if ((double)rank < r)
		rank++;
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

// rtt: the parent pings over ring a, the child pongs over ring b.
static int rtt(struct ring *a, struct ring *b, uint64_t n, int cpu_p, int cpu_c, _Atomic uint32_t *ready) {
	pid_t parent = getpid(), pid = fork();
	if (pid < 0) {
		perror("cref: fork");
		return 2;
	}
	char msg[8] = {0}, buf[8];
	if (pid == 0) {
		forked_child(parent);
		pin(cpu_c);
		struct cons c;
		cons_init(&c, a);
		struct prod p = {.r = b};
		atomic_store(ready, 1);
		for (uint64_t i = 0; i < n; i++) {
			while (cons_get(&c, buf) < 0)
				cpu_relax();
			cons_done(&c, 0);
			prod_put(&p, buf, 8);
			prod_publish(&p, release_every(b->cap));
		}
		_exit(0);
	}
	pin(cpu_p);
	int64_t *samples = malloc(n * sizeof *samples);
	if (!samples)
		return 2;
	struct cons c;
	cons_init(&c, b);
	struct prod p = {.r = a};
	while (!atomic_load(ready))
		cpu_relax();
	uint64_t errors = 0;
	for (uint64_t i = 0; i < n; i++) {
		stamp(msg, 8, i);
		uint64_t t = now_ns();
		prod_put(&p, msg, 8);
		prod_publish(&p, release_every(a->cap));
		while (cons_get(&c, buf) < 0)
			cpu_relax();
		cons_done(&c, 0);
		samples[i] = (int64_t)(now_ns() - t);
		errors += bad(buf, 8, i);
	}
	int status;
	waitpid(pid, &status, 0);
	if (errors || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "cref: rtt: %llu bad echoes\n", (unsigned long long)errors);
		return 1;
	}
	qsort(samples, n, sizeof *samples, cmp64);
	printf("rtt %llu %lld %lld %lld %lld %lld\n", (unsigned long long)n, (long long)pct(samples, n, 50),
	       (long long)pct(samples, n, 99), (long long)pct(samples, n, 99.9), (long long)samples[0],
	       (long long)samples[n - 1]);
	free(samples);
	return 0;
}

int main(int argc, char **argv) {
	if (argc < 6) {
		fprintf(stderr, "usage: cref spsc|spsc-batch|vyukov|rtt SIZE N CPU_P CPU_C [CAPACITY [BATCH]]\n");
		return 2;
	}
	enum mode m;
	if (!strcmp(argv[1], "spsc"))
		m = SPSC;
	else if (!strcmp(argv[1], "spsc-batch"))
		m = SPSC_BATCH;
	else if (!strcmp(argv[1], "vyukov"))
		m = VYUKOV;
	else if (!strcmp(argv[1], "rtt"))
		m = RTT;
	else {
		fprintf(stderr, "cref: unknown mode %s\n", argv[1]);
		return 2;
	}
	size_t size = strtoull(argv[2], 0, 10);
	uint64_t n = strtoull(argv[3], 0, 10);
	int cpu_p = atoi(argv[4]), cpu_c = atoi(argv[5]);
	uint64_t cap = argc > 6 ? strtoull(argv[6], 0, 10) : 4096;
	uint64_t batch = argc > 7 ? strtoull(argv[7], 0, 10) : 32;
	if (size < 8 || n < 1 || cap < 2 || (cap & (cap - 1)) || batch < 1 || (m == RTT && size != 8)) {
		fprintf(stderr, "cref: bad arguments (size >= 8, n >= 1, capacity a power of two, batch >= 1; rtt: size 8)\n");
		return 2;
	}

	size_t one = ring_bytes(cap, size, m == VYUKOV);
	size_t total = (m == RTT ? 2 : 1) * one;
	char *mem = mmap(0, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("cref: mmap");
		return 2;
	}
	memset(mem, 0, total); // every page present before anything is timed
	struct ring a, b;
	ring_init(&a, mem, cap, size, m == VYUKOV);
	_Atomic uint32_t *ready = u32at(&a, OFF_READY);
	if (m == RTT) {
		ring_init(&b, mem + one, cap, size, 0);
		return rtt(&a, &b, n, cpu_p, cpu_c, ready);
	}
	struct result *res = (struct result *)(mem + OFF_RESULT);
	char *msg = calloc(batch, size), *buf = calloc(1, size);
	if (!msg || !buf)
		return 2;

	pid_t parent = getpid(), pid = fork();
	if (pid < 0) {
		perror("cref: fork");
		return 2;
	}
	if (pid == 0) {
		forked_child(parent);
		pin(cpu_c);
		volatile char sink = 0;
		for (size_t off = 0; off < a.size; off += 4096) // map every page here too
			sink += mem[off];
		(void)sink;
		atomic_store(ready, 1);
		consume(m, &a, size, n, batch, buf, res);
		_exit(0);
	}
	pin(cpu_p);
	while (!atomic_load(ready))
		cpu_relax();
	uint64_t t0 = now_ns();
	produce(m, &a, size, n, batch, msg);
	int status;
	waitpid(pid, &status, 0);
	uint64_t count = atomic_load(&res->count), errors = atomic_load(&res->errors);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || count != n || errors != 0) {
		fprintf(stderr, "cref: %s: received %llu of %llu messages, %llu bad\n", argv[1], (unsigned long long)count,
		        (unsigned long long)n, (unsigned long long)errors);
		return 1;
	}
	printf("%s %zu %llu %llu\n", argv[1], size, (unsigned long long)n, (unsigned long long)(atomic_load(&res->end) - t0));
	return 0;
}
