/*
 * Content-defined chunking (FastCDC-style: gear rolling hash, normalized
 * chunking, cut-point skipping). Chunk boundaries depend only on the bytes
 * around them, so inserting or removing bytes in the middle of an artifact
 * changes only the chunks near the edit and the rest deduplicate against
 * the previous version.
 *
 * The boundaries are part of the storage format in effect: changing the
 * gear table, the masks or the sizes below would make every new version of
 * every artifact share nothing with the old ones. They are fixed forever;
 * tests/unit/test_chunker.c pins boundaries of a fixed input to catch it.
 */
#ifndef SK_CHUNKER_H
#define SK_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#define SK_CDC_MIN ((size_t)256 << 10) /* 256 KiB: no cut before this */
#define SK_CDC_AVG ((size_t)1 << 20)   /* 1 MiB: the mean chunk size */
#define SK_CDC_NORMAL ((size_t)640 << 10) /* the cut mask eases from here */
#define SK_CDC_MAX ((size_t)4 << 20)   /* 4 MiB: a cut is forced here */

/* Length of the chunk that starts at p, given the n bytes available
 * there: a content-defined cut, SK_CDC_MAX, or with eof set the rest
 * (min(n, SK_CDC_MAX) when no cut is found). 0 when more bytes are needed
 * (n < SK_CDC_MAX, eof not set, no cut found) and when n is 0. Pure and
 * thread-safe. */
size_t sk_cdc_cut(const unsigned char *p, size_t n, int eof);

/* Entry i of the gear table (splitmix64 from seed SK_CDC_GEAR_SEED). */
#define SK_CDC_GEAR_SEED UINT64_C(0x736b6966662d6364) /* "skiff-cd" */
uint64_t sk_cdc_gear(unsigned i);

#endif
