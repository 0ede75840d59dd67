/*
 * Streaming SHA-256 for large inputs (artifacts, big blobs). OpenSSL's
 * implementation uses the CPU's SHA extensions (~1.6 GB/s here, about four
 * times libsodium's portable code), but linking libcrypto into every
 * skiff process costs its start-up ~16,000 relocations, paid even by the
 * commands that never hash much. So libcrypto is loaded with dlopen the
 * first time a large input is hashed; when it cannot be loaded, the same
 * digest comes from libsodium. Small inputs use libsodium directly.
 */
#ifndef SK_SHA256_H
#define SK_SHA256_H

#include <stddef.h>

struct sk_sha256;

/* A new, initialised context; aborts on out of memory. */
struct sk_sha256 *sk_sha256_new(void);
/* Starts a new digest in s. */
void sk_sha256_init(struct sk_sha256 *s);
void sk_sha256_update(struct sk_sha256 *s, const void *data, size_t len);
/* The digest of everything since the last init; s must be init'ed again
 * before reuse. */
void sk_sha256_final(struct sk_sha256 *s, unsigned char out[32]);
void sk_sha256_free(struct sk_sha256 *s);
/* 1 when OpenSSL's code is in use (tests and benchmarks ask). */
int sk_sha256_fast(void);

#endif
