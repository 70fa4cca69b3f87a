/*
 * Reference for the csum tests: x86-64 csum_partial() semantics computed the way the hardware
 * does it (64-bit little-endian words added with end-around carry, tail zero-padded, the total
 * folded to 32 bits as (t + ror64(t, 32)) >> 32). Reads lines "SUM HEXBYTES" on stdin and
 * prints the 32-bit result of each in hex.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint32_t csum_partial_ref(const uint8_t *buf, size_t len, uint32_t sum)
{
	uint64_t acc = sum;
	size_t i = 0;

	for (; i < len; i += 8) {
		uint64_t w = 0;
		size_t n = len - i < 8 ? len - i : 8;

		memcpy(&w, buf + i, n);
		unsigned __int128 t = (unsigned __int128)acc + w;
		acc = (uint64_t)t + (uint64_t)(t >> 64);
	}
	uint64_t r = (acc >> 32) | (acc << 32);
	return (uint32_t)((acc + r) >> 32);
}

static uint8_t buf[1 << 20];
static char line[(1 << 21) + 64];

int main(void)
{
	while (fgets(line, sizeof(line), stdin)) {
		unsigned long sum;
		char *p = line;
		size_t len = 0;

		if (sscanf(p, "%lx", &sum) != 1)
			return 1;
		p = strchr(p, ' ');
		if (p)
			for (p++; p[0] && p[1] && p[0] != '\n'; p += 2) {
				unsigned v;
				sscanf(p, "%2x", &v);
				buf[len++] = (uint8_t)v;
			}
		printf("%08x\n", csum_partial_ref(buf, len, (uint32_t)sum));
	}
	return 0;
}
