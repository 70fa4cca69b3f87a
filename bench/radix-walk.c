/*
 * The reference for the `tracker.walk` bench: the KHO radix-tree walk in plain C, on the same
 * tree. The keys are bench/kho-radix.bench.ts's (2^24 order-0 pages drawn with mulberry32 from
 * seed 0x6b686f, below 2^28 pages), filed in a tree of 4 KiB nodes linked by pointers and
 * walked the way kernel/liveupdate/kexec_handover.c walks it: recursion over the 512-entry
 * tables from level 5 down, each leaf's set bits in ascending order, the key decoded with fls64
 * and one callback per block through a function pointer. gcc -O2 propagates the constant
 * pointer and inlines count_block() into a clone of walk_level() (objdump shows no indirect
 * call), as TurboFan inlines the JS bench's callback. Built with `gcc -O2` and run only by the
 * bench; prints one line per walk, `WALL CPU` in seconds (CPU time of this process, less
 * disturbed on a shared machine), then as many walks with an empty callback (`empty WALL CPU`),
 * then `blocks=N`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TABLE_LOG2 9
#define BITMAP_LOG2 15
#define ORDER_0_LOG2 52
#define LEVELS 5 /* table levels above the leaves */

struct node {
	uint64_t table[512];
};

typedef int (*walk_cb_t)(uint64_t phys, unsigned int order, void *data);

static struct node *zeroed_page(void)
{
	struct node *n = aligned_alloc(4096, 4096);

	if (!n) {
		perror("aligned_alloc");
		exit(1);
	}
	memset(n, 0, 4096);
	return n;
}

static uint64_t encode_key(uint64_t pfn, unsigned int order)
{
	return (1ULL << (ORDER_0_LOG2 - order)) | (pfn >> order);
}

static void add_page(struct node *root, uint64_t pfn, unsigned int order)
{
	uint64_t key = encode_key(pfn, order);
	struct node *n = root;

	for (int level = LEVELS; level > 0; level--) {
		unsigned int idx = (key >> ((level - 1) * TABLE_LOG2 + BITMAP_LOG2)) & 511;

		if (!n->table[idx])
			n->table[idx] = (uint64_t)(uintptr_t)zeroed_page();
		n = (struct node *)(uintptr_t)n->table[idx];
	}
	unsigned int bit = key & ((1U << BITMAP_LOG2) - 1);
	n->table[bit / 64] |= 1ULL << (bit % 64);
}

static int walk_leaf(const uint64_t *bitmap, uint64_t key, walk_cb_t cb, void *data)
{
	for (unsigned int w = 0; w < 512; w++) {
		uint64_t x = bitmap[w];

		while (x) {
			uint64_t k = key | ((uint64_t)w << 6) | (uint64_t)__builtin_ctzll(x);
			unsigned int order = ORDER_0_LOG2 - (64 - __builtin_clzll(k)) + 1;
			int err = cb(k << (12 + order), order, data);

			if (err)
				return err;
			x &= x - 1;
		}
	}
	return 0;
}

static int walk_level(const struct node *n, int level, uint64_t start, walk_cb_t cb, void *data)
{
	for (uint64_t i = 0; i < 512; i++) {
		if (!n->table[i])
			continue;
		uint64_t key = start | (i << ((level - 1) * TABLE_LOG2 + BITMAP_LOG2));
		const struct node *child = (const struct node *)(uintptr_t)n->table[i];
		int err = level == 1 ? walk_leaf(child->table, key, cb, data)
				     : walk_level(child, level - 1, key, cb, data);

		if (err)
			return err;
	}
	return 0;
}

struct counts {
	uint64_t count;
	uint64_t sum;
};

static int count_block(uint64_t phys, unsigned int order, void *data)
{
	struct counts *c = data;

	c->count++;
	c->sum += order;
	return phys == UINT64_MAX;
}

/* The same walk with nothing counted: what the walk costs without its callback's work. */
static int empty_block(uint64_t phys, unsigned int order, void *data)
{
	return phys == UINT64_MAX;
}

static uint32_t mulberry32(uint32_t *a)
{
	uint32_t t;

	*a += 0x6d2b79f5;
	t = *a;
	t = (t ^ (t >> 15)) * (t | 1);
	t ^= t + (t ^ (t >> 7)) * (t | 61);
	return t ^ (t >> 14);
}

static double now(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 5;
	uint32_t seed = 0x6b686f;
	struct node *root = zeroed_page();

	for (uint32_t i = 0; i < (1U << 24); i++)
		add_page(root, mulberry32(&seed) % (1U << 28), 0);
	struct counts c = { 0, 0 };

	for (int r = 0; r < runs; r++) {
		c.count = c.sum = 0;
		double t0 = now(CLOCK_MONOTONIC);
		double c0 = now(CLOCK_PROCESS_CPUTIME_ID);
		int err = walk_level(root, LEVELS, 0, count_block, &c);
		double c1 = now(CLOCK_PROCESS_CPUTIME_ID);
		double t1 = now(CLOCK_MONOTONIC);

		if (err || c.sum != 0)
			return 1;
		printf("%.6f %.6f\n", t1 - t0, c1 - c0);
	}
	for (int r = 0; r < runs; r++) {
		double t0 = now(CLOCK_MONOTONIC);
		double c0 = now(CLOCK_PROCESS_CPUTIME_ID);
		int err = walk_level(root, LEVELS, 0, empty_block, NULL);
		double c1 = now(CLOCK_PROCESS_CPUTIME_ID);
		double t1 = now(CLOCK_MONOTONIC);

		if (err)
			return 1;
		printf("empty %.6f %.6f\n", t1 - t0, c1 - c0);
	}
	printf("blocks=%llu\n", (unsigned long long)c.count);
	return 0;
}
