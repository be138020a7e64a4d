//go:build ignore

// cref: the C references of `shmring bench`. One producer process and one
// consumer process (fork, MAP_SHARED|MAP_ANONYMOUS, each pinned with
// sched_setaffinity) move N messages, or ping-pong N round trips, over:
//
//   index        the index ring, the best-known cross-process SPSC queue:
//                head and tail on their own 128-byte strides, slots of
//                payload only, each side caching the other's index; each
//                side publishes its position with a release store after
//                every message
//   index-batch  the same, each side publishing once per batch of BATCH
//                messages (the consumer: per batch of up to BATCH)
//   vyukov       Dmitry Vyukov's bounded MPMC queue (CAS on the enqueue and
//                dequeue positions, a sequence word per slot), one producer
//                and one consumer
//   v1           shmring v1's SPSC protocol in C (ring/layout.go version 1,
//                ring/spsc.go before v2): a sequence word in each slot that
//                the consumer polls, kept to explain what that protocol costs
//   rtt          ping-pong of 8-byte messages over two index rings, both
//                sides spinning, each round trip timed
//
// usage: cref MODE SIZE N CPU_P CPU_C [CAPACITY [BATCH]]   (CPU -1: not pinned)
// prints: MODE SIZE N ELAPSED_NS                 (index, index-batch, vyukov, v1)
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

// Every queue here lives in one region: a control page of words, each on
// its own 128-byte stride (two cache lines, so that the adjacent-line
// prefetcher does not pair them either), then the slots from DATA_OFFSET.
#define LINE 128
#define OFF_TAIL (0 * LINE)  // index: producer position; Vyukov: enqueue position
#define OFF_HEAD (1 * LINE)  // index: consumer position; Vyukov: dequeue position
#define OFF_READY (9 * LINE) // the consumer is ready
#define OFF_RESULT (10 * LINE) // the consumer's end time, count, errors
#define DATA_OFFSET 4096

// shmring v1 (ring/layout.go, layout version 1): the words the v1 mode
// touches, at their v1 offsets, and its SPSC slot header.
#define V1_OFF_TAIL (2 * LINE)           // producer position
#define V1_OFF_HEAD (3 * LINE)           // consumer position
#define V1_OFF_NOT_EMPTY_WAIT (5 * LINE) // consumers asleep (never, here: loaded, as Go does)
#define V1_OFF_NOT_FULL_WAIT (7 * LINE)  // producers asleep (idem)
#define V1_OFF_RELEASED (8 * LINE)       // consumer position as released to the producer
#define V1_SLOT_HEADER 8                 // seq (u32), length (u32)

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

static _Atomic uint64_t *u64at(char *base, size_t off) { return (_Atomic uint64_t *)(base + off); }
static _Atomic uint32_t *u32at(char *base, size_t off) { return (_Atomic uint32_t *)(base + off); }

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

// ---- the index ring ----
//
// Invariants: head <= tail <= head + cap. Slots of positions [head, tail)
// hold messages and belong to the consumer; the others belong to the
// producer. Only the producer writes tail and only the consumer head; each
// side keeps a copy of the other's index and reloads it only when that copy
// says the ring is full (producer) or empty (consumer), so in the steady
// state each index line crosses between the cores once per publication.

struct ix {
	_Atomic uint64_t *tail; // producer writes, consumer reads: messages before tail are written
	_Atomic uint64_t *head; // consumer writes, producer reads: messages before head are read
	char *data;             // cap slots of size bytes: payload only, no header
	uint64_t cap, mask;
	size_t size;
};

static void ix_init(struct ix *q, char *base, uint64_t cap, size_t size) {
	q->tail = u64at(base, OFF_TAIL);
	q->head = u64at(base, OFF_HEAD);
	q->data = base + DATA_OFFSET;
	q->cap = cap;
	q->mask = cap - 1;
	q->size = size;
}

static size_t ix_bytes(uint64_t cap, size_t size) { return DATA_OFFSET + cap * size; }

static char *ix_slot(struct ix *q, uint64_t pos) { return q->data + (pos & q->mask) * q->size; }

struct ixprod {
	struct ix *q;
	uint64_t pos;  // next position to write (tail as published, or ahead of it)
	uint64_t head; // cached copy of the consumer's head
};

struct ixcons {
	struct ix *q;
	uint64_t pos;  // next position to read (head as published, or ahead of it)
	uint64_t tail; // cached copy of the producer's tail
};

// ix_room waits until k slots are free, reloading head only when the
// cached copy says they are not.
static inline void ix_room(struct ixprod *p, uint64_t k) {
	while (p->pos + k - p->head > p->q->cap) {
		p->head = atomic_load_explicit(p->q->head, memory_order_acquire); // slots before head are free again
		if (p->pos + k - p->head > p->q->cap)
			cpu_relax();
	}
}

static inline void ix_write(struct ixprod *p, const char *msg) {
	memcpy(ix_slot(p->q, p->pos), msg, p->q->size);
	p->pos++;
}

static inline void ix_publish(struct ixprod *p) {
	atomic_store_explicit(p->q->tail, p->pos, memory_order_release); // publishes the messages written before pos
}

// ix_avail returns how many messages are ready to read, reloading tail
// only when the cached copy says none are.
static inline uint64_t ix_avail(struct ixcons *c) {
	if (c->pos == c->tail)
		c->tail = atomic_load_explicit(c->q->tail, memory_order_acquire); // messages before tail are written
	return c->tail - c->pos;
}

static inline void ix_read(struct ixcons *c, char *buf) {
	memcpy(buf, ix_slot(c->q, c->pos), c->q->size);
	c->pos++;
}

static inline void ix_release(struct ixcons *c) {
	atomic_store_explicit(c->q->head, c->pos, memory_order_release); // after the copies out: frees their slots
}

// ---- Vyukov's bounded MPMC queue ----
//
// Its own cells, as Vyukov wrote it: a 64-bit sequence word, then the
// payload (rounded up to 8 bytes so that the next cell's word is aligned).
// Not the slots of ring/layout.go, whose MPMC header has 24 bytes (sequence,
// claim, length, reserved): the claim word is shmring's crash recovery, and
// the length its variable-size messages, neither of which this queue has.

struct vy {
	_Atomic uint64_t *enq, *deq;
	char *data;
	uint64_t cap, mask, stride;
	size_t size;
};

static uint64_t vy_stride(size_t size) { return 8 + ((size + 7) & ~(size_t)7); }
static size_t vy_bytes(uint64_t cap, size_t size) { return DATA_OFFSET + cap * vy_stride(size); }
static char *vy_cell(struct vy *q, uint64_t pos) { return q->data + (pos & q->mask) * q->stride; }
static _Atomic uint64_t *vy_seq(char *cell) { return (_Atomic uint64_t *)cell; }

static void vy_init(struct vy *q, char *base, uint64_t cap, size_t size) {
	q->enq = u64at(base, OFF_TAIL);
	q->deq = u64at(base, OFF_HEAD);
	q->data = base + DATA_OFFSET;
	q->cap = cap;
	q->mask = cap - 1;
	q->stride = vy_stride(size);
	q->size = size;
	for (uint64_t i = 0; i < cap; i++)
		atomic_store_explicit(vy_seq(vy_cell(q, i)), i, memory_order_relaxed);
}

static inline int vy_enqueue(struct vy *q, const char *msg) {
	uint64_t pos = atomic_load_explicit(q->enq, memory_order_relaxed);
	char *cell;
	for (;;) {
		cell = vy_cell(q, pos);
		uint64_t seq = atomic_load_explicit(vy_seq(cell), memory_order_acquire); // the cell's last reader is done
		int64_t dif = (int64_t)(seq - pos);
		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(q->enq, &pos, pos + 1, memory_order_relaxed, memory_order_relaxed))
				break;
		} else if (dif < 0) {
			return 0; // full
		} else {
			pos = atomic_load_explicit(q->enq, memory_order_relaxed);
		}
	}
	memcpy(cell + 8, msg, q->size);
	atomic_store_explicit(vy_seq(cell), pos + 1, memory_order_release); // publishes the message
	return 1;
}

static inline int vy_dequeue(struct vy *q, char *buf) {
	uint64_t pos = atomic_load_explicit(q->deq, memory_order_relaxed);
	char *cell;
	for (;;) {
		cell = vy_cell(q, pos);
		uint64_t seq = atomic_load_explicit(vy_seq(cell), memory_order_acquire); // the message is written
		int64_t dif = (int64_t)(seq - (pos + 1));
		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(q->deq, &pos, pos + 1, memory_order_relaxed, memory_order_relaxed))
				break;
		} else if (dif < 0) {
			return 0; // empty
		} else {
			pos = atomic_load_explicit(q->deq, memory_order_relaxed);
		}
	}
	memcpy(buf, cell + 8, q->size);
	atomic_store_explicit(vy_seq(cell), pos + q->mask + 1, memory_order_release); // frees the cell for lap+1
	return 1;
}

// ---- shmring v1's SPSC protocol, as ring/spsc.go had it ----
//
// An 8-byte slot header (a 32-bit sequence word holding position+1,
// published with a release store after the payload and the 32-bit length);
// slots compact and a power of two wide when they fit in a cache line, else
// with the header alone in the first line. The producer stores tail every
// min(capacity/4, 32) messages and reads the consumer's released word only
// when its cached copy says full; the consumer acquire-loads the slot word,
// copies out, stores head per message and released every min(capacity/4,
// 32) messages and whenever it finds the ring empty; each side loads the
// other's waiter word after each publication, as the Go code did.

struct v1 {
	char *base, *data;
	uint64_t cap, mask, stride, every;
	size_t hdr; // payload offset in a slot
};

static void v1_layout(size_t size, uint64_t *stride, size_t *hdr) {
	size_t compact = V1_SLOT_HEADER + ((size + 7) & ~(size_t)7);
	if (compact <= 64) {
		size_t p = 16;
		while (p < compact)
			p *= 2;
		*stride = p;
		*hdr = V1_SLOT_HEADER;
		return;
	}
	*stride = 64 + ((size + 63) & ~(size_t)63);
	*hdr = 64;
}

static size_t v1_bytes(uint64_t cap, size_t size) {
	uint64_t stride;
	size_t hdr;
	v1_layout(size, &stride, &hdr);
	return DATA_OFFSET + cap * stride;
}

static void v1_init(struct v1 *r, char *base, uint64_t cap, size_t size) {
	r->base = base;
	r->data = base + DATA_OFFSET;
	r->cap = cap;
	r->mask = cap - 1;
	v1_layout(size, &r->stride, &r->hdr);
	r->every = cap / 4 < 1 ? 1 : cap / 4 > 32 ? 32 : cap / 4;
}

static char *v1_slot(struct v1 *r, uint64_t pos) { return r->data + (pos & r->mask) * r->stride; }
static _Atomic uint32_t *v1_seq(char *s) { return (_Atomic uint32_t *)s; }
static uint32_t *v1_len(char *s) { return (uint32_t *)(s + 4); }

struct v1prod {
	struct v1 *r;
	uint64_t pos, released; // next position; cached released
	uint64_t wakes;         // waiter words found non-zero (never, here)
};

struct v1cons {
	struct v1 *r;
	uint64_t pos, released;
	uint64_t wakes;
};

static inline void v1_put(struct v1prod *p, const char *msg, size_t size) {
	struct v1 *r = p->r;
	while (p->pos + 1 - p->released > r->cap) {
		p->released = atomic_load_explicit(u64at(r->base, V1_OFF_RELEASED), memory_order_acquire);
		if (p->pos + 1 - p->released > r->cap)
			cpu_relax();
	}
	char *s = v1_slot(r, p->pos);
	memcpy(s + r->hdr, msg, size);
	*v1_len(s) = (uint32_t)size;
	atomic_store_explicit(v1_seq(s), (uint32_t)p->pos + 1, memory_order_release); // publishes the message
	p->pos++;
	if ((p->pos & (r->every - 1)) == 0)
		atomic_store_explicit(u64at(r->base, V1_OFF_TAIL), p->pos, memory_order_release);
	if (atomic_load_explicit(u32at(r->base, V1_OFF_NOT_EMPTY_WAIT), memory_order_relaxed) != 0)
		p->wakes++;
}

static inline void v1_release(struct v1cons *c) {
	if (c->released == c->pos)
		return;
	c->released = c->pos;
	atomic_store_explicit(u64at(c->r->base, V1_OFF_RELEASED), c->pos, memory_order_release); // after the copies out
	if (atomic_load_explicit(u32at(c->r->base, V1_OFF_NOT_FULL_WAIT), memory_order_relaxed) != 0)
		c->wakes++;
}

// v1_get copies the next message into buf and returns its length, or -1
// when the ring is empty (after releasing every slot read, as Go did).
static inline long v1_get(struct v1cons *c, char *buf) {
	char *s = v1_slot(c->r, c->pos);
	if (atomic_load_explicit(v1_seq(s), memory_order_acquire) != (uint32_t)c->pos + 1) {
		v1_release(c);
		return -1;
	}
	uint32_t n = *v1_len(s);
	memcpy(buf, s + c->r->hdr, n);
	c->pos++;
	atomic_store_explicit(u64at(c->r->base, V1_OFF_HEAD), c->pos, memory_order_release);
	if (c->pos - c->released >= c->r->every)
		v1_release(c);
	return n;
}

// ---- the runs ----

enum mode { INDEX, INDEX_BATCH, VYUKOV, V1, RTT };

static const char *const mode_names[] = {"index", "index-batch", "vyukov", "v1", "rtt"};

struct result { // in shared memory, written by the consumer
	_Atomic uint64_t end, count, errors;
};

union queue {
	struct ix ix;
	struct vy vy;
	struct v1 v1;
};

// produce sends n messages. In batched mode, as with the Go API
// (PushBatch takes a slice of messages), a batch is that many distinct
// messages in memory: msgs holds batch of them.
static void produce(enum mode m, union queue *q, size_t size, uint64_t n, uint64_t batch, char *msgs) {
	switch (m) {
	case INDEX: {
		struct ixprod p = {.q = &q->ix};
		for (uint64_t i = 0; i < n; i++) {
			stamp(msgs, size, i);
			ix_room(&p, 1);
			ix_write(&p, msgs);
			ix_publish(&p);
		}
		break;
	}
	case INDEX_BATCH: {
		struct ixprod p = {.q = &q->ix};
		for (uint64_t i = 0; i < n;) {
			uint64_t k = n - i < batch ? n - i : batch;
			for (uint64_t j = 0; j < k; j++)
				stamp(msgs + j * size, size, i + j);
			ix_room(&p, k);
			for (uint64_t j = 0; j < k; j++)
				ix_write(&p, msgs + j * size);
			ix_publish(&p);
			i += k;
		}
		break;
	}
	case VYUKOV:
		for (uint64_t i = 0; i < n; i++) {
			stamp(msgs, size, i);
			while (!vy_enqueue(&q->vy, msgs))
				cpu_relax();
		}
		break;
	case V1: {
		struct v1prod p = {.r = &q->v1};
		for (uint64_t i = 0; i < n; i++) {
			stamp(msgs, size, i);
			v1_put(&p, msgs, size);
		}
		if (p.wakes)
			fprintf(stderr, "cref: unexpected waiters\n");
		break;
	}
	case RTT:
		break;
	}
}

static void consume(enum mode m, union queue *q, size_t size, uint64_t n, uint64_t batch, char *buf, struct result *res) {
	uint64_t got = 0, errors = 0;
	switch (m) {
	case INDEX:
	case INDEX_BATCH: {
		struct ixcons c = {.q = &q->ix};
		uint64_t most = m == INDEX ? 1 : batch;
		while (got < n) {
			uint64_t k = ix_avail(&c);
			if (k == 0) {
				cpu_relax();
				continue;
			}
			if (k > most)
				k = most;
			for (uint64_t j = 0; j < k; j++) {
				ix_read(&c, buf);
				errors += bad(buf, size, got);
				got++;
			}
			ix_release(&c);
		}
		break;
	}
	case VYUKOV:
		while (got < n) {
			if (!vy_dequeue(&q->vy, buf)) {
				cpu_relax();
				continue;
			}
			errors += bad(buf, size, got);
			got++;
		}
		break;
	case V1: {
		struct v1cons c = {.r = &q->v1};
		while (got < n) {
			long len = v1_get(&c, buf);
			if (len < 0) {
				cpu_relax();
				continue;
			}
			errors += (size_t)len != size || bad(buf, size, got);
			got++;
		}
		break;
	}
	case RTT:
		break;
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

// ix_send and ix_recv move one 8-byte message over an index ring,
// publishing it at once; both spin.
static void ix_send(struct ixprod *p, const char *msg) {
	ix_room(p, 1);
	ix_write(p, msg);
	ix_publish(p);
}

static void ix_recv(struct ixcons *c, char *buf) {
	while (ix_avail(c) == 0)
		cpu_relax();
	ix_read(c, buf);
	ix_release(c);
}

// rtt: the parent pings over ring a, the child pongs over ring b.
static int rtt(struct ix *a, struct ix *b, uint64_t n, int cpu_p, int cpu_c, _Atomic uint32_t *ready) {
	pid_t parent = getpid(), pid = fork();
	if (pid < 0) {
		perror("cref: fork");
		return 2;
	}
	char msg[8] = {0}, buf[8];
	if (pid == 0) {
		forked_child(parent);
		pin(cpu_c);
		struct ixcons c = {.q = a};
		struct ixprod p = {.q = b};
		atomic_store(ready, 1);
		for (uint64_t i = 0; i < n; i++) {
			ix_recv(&c, buf);
			ix_send(&p, buf);
		}
		_exit(0);
	}
	pin(cpu_p);
	int64_t *samples = malloc(n * sizeof *samples);
	if (!samples)
		return 2;
	struct ixcons c = {.q = b};
	struct ixprod p = {.q = a};
	while (!atomic_load(ready))
		cpu_relax();
	uint64_t errors = 0;
	for (uint64_t i = 0; i < n; i++) {
		stamp(msg, 8, i);
		uint64_t t = now_ns();
		ix_send(&p, msg);
		ix_recv(&c, buf);
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

static const char usage[] = "usage: cref index|index-batch|vyukov|v1|rtt SIZE N CPU_P CPU_C [CAPACITY [BATCH]]\n";

int main(int argc, char **argv) {
	if (argc < 6) {
		fputs(usage, stderr);
		return 2;
	}
	int m = -1;
	for (int i = 0; i < (int)(sizeof mode_names / sizeof *mode_names); i++)
		if (!strcmp(argv[1], mode_names[i]))
			m = i;
	if (m < 0) {
		fprintf(stderr, "cref: unknown mode %s\n%s", argv[1], usage);
		return 2;
	}
	size_t size = strtoull(argv[2], 0, 10);
	uint64_t n = strtoull(argv[3], 0, 10);
	int cpu_p = atoi(argv[4]), cpu_c = atoi(argv[5]);
	uint64_t cap = argc > 6 ? strtoull(argv[6], 0, 10) : 4096;
	uint64_t batch = argc > 7 ? strtoull(argv[7], 0, 10) : 32;
	if (size < 8 || size > 1u << 30 || n < 1 || cap < 2 || cap > 1ull << 32 || (cap & (cap - 1)) || batch < 1 ||
	    (m == RTT && size != 8)) {
		fprintf(stderr, "cref: bad arguments (size 8 to 2^30, n >= 1, capacity a power of two from 2 to 2^32, "
		                "batch >= 1; rtt: size 8)\n");
		return 2;
	}
	if (batch > cap)
		batch = cap; // a batch never waits for more room than the ring has

	size_t one = m == VYUKOV ? vy_bytes(cap, size) : m == V1 ? v1_bytes(cap, size) : ix_bytes(cap, size);
	size_t total = (m == RTT ? 2 : 1) * one;
	char *mem = mmap(0, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("cref: mmap");
		return 2;
	}
	memset(mem, 0, total); // every page present before anything is timed
	_Atomic uint32_t *ready = u32at(mem, OFF_READY);
	union queue q;
	if (m == RTT) {
		struct ix b;
		ix_init(&q.ix, mem, cap, size);
		ix_init(&b, mem + one, cap, size);
		return rtt(&q.ix, &b, n, cpu_p, cpu_c, ready);
	}
	if (m == VYUKOV)
		vy_init(&q.vy, mem, cap, size);
	else if (m == V1)
		v1_init(&q.v1, mem, cap, size);
	else
		ix_init(&q.ix, mem, cap, size);
	struct result *res = (struct result *)(mem + OFF_RESULT);
	char *msgs = calloc(batch, size), *buf = calloc(1, size);
	if (!msgs || !buf)
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
		for (size_t off = 0; off < one; off += 4096) // map every page here too
			sink += mem[off];
		(void)sink;
		atomic_store(ready, 1);
		consume(m, &q, size, n, batch, buf, res);
		_exit(0);
	}
	pin(cpu_p);
	while (!atomic_load(ready))
		cpu_relax();
	uint64_t t0 = now_ns();
	produce(m, &q, size, n, batch, msgs);
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
