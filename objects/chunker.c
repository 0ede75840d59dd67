/*
 * FastCDC-style chunker (Xia et al., "FastCDC", USENIX ATC 2016). Owns the
 * chunk boundary rule and nothing else: no I/O, no allocation.
 *
 * Rule, fixed forever (see chunker.h): the gear hash h = (h << 1) + G[b]
 * runs from byte SK_CDC_MIN of the chunk (earlier bytes cannot cut, so
 * they are skipped); a cut falls after the byte where the top bits of h
 * are all zero: 21 bits (hard) before SK_CDC_NORMAL, 19 bits (easy) from
 * there, which pulls chunk sizes towards the mean (normalized chunking).
 * Level 1 normalization and the 640 KiB switch were chosen by simulation
 * (random 64 MiB inputs, 1 MiB inserted or overwritten at random places):
 * mean chunk 1.00 MiB, mean new data after the edit 2.5 MiB, about 6% of
 * edits above 4 MiB. Stronger normalization (22/18, 23/17) resyncs worse
 * after an edit: an old cut found with the easy mask needs the hard one
 * when the new chunk starts closer to it, so 3.2 and 5.2 MiB on average. The
 * top bits of h depend on the last 64 bytes only, so boundaries resync
 * within a few bytes of an edit. G is 256 splitmix64 outputs from a fixed
 * seed, generated once into a table.
 */
#include "objects/chunker.h"

#include <pthread.h>

#define MASK_HARD (~UINT64_C(0) << (64 - 21))
#define MASK_EASY (~UINT64_C(0) << (64 - 19))

static uint64_t gear[256];
static pthread_once_t gear_once = PTHREAD_ONCE_INIT;

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void gear_init(void)
{
	uint64_t s = SK_CDC_GEAR_SEED;
	for (unsigned i = 0; i < 256; i++)
		gear[i] = splitmix64(&s);
}

uint64_t sk_cdc_gear(unsigned i)
{
	pthread_once(&gear_once, gear_init);
	return gear[i & 255];
}

/* Length up to and including the first byte in [from, to) after which
 * (h & mask) == 0; 0 when there is none. */
static size_t scan(const unsigned char *p, size_t from, size_t to, uint64_t mask, uint64_t *h)
{
	uint64_t x = *h;
	for (size_t i = from; i < to; i++) {
		x = (x << 1) + gear[p[i]];
		if (!(x & mask))
			return i + 1;
	}
	*h = x;
	return 0;
}

size_t sk_cdc_cut(const unsigned char *p, size_t n, int eof)
{
	pthread_once(&gear_once, gear_init);
	if (n == 0)
		return 0;
	size_t limit = n < SK_CDC_MAX ? n : SK_CDC_MAX;
	if (limit <= SK_CDC_MIN)
		return eof ? limit : 0;
	uint64_t h = 0;
	size_t mid = limit < SK_CDC_NORMAL ? limit : SK_CDC_NORMAL;
	size_t cut = scan(p, SK_CDC_MIN, mid, MASK_HARD, &h);
	if (!cut)
		cut = scan(p, mid, limit, MASK_EASY, &h);
	if (cut)
		return cut;
	/* No cut yet: more bytes could still hold one, unless none can come
	 * or the chunk is at its maximum. */
	return limit == SK_CDC_MAX || eof ? limit : 0;
}
