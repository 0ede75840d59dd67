/*
 * Large artifacts as `file` objects: the bytes are cut into
 * content-defined chunks (objects/chunker.h), each stored as a blob, and
 * one canonical JSON document lists them in order with the SHA-256 of the
 * whole artifact:
 *
 *   {"chunks":[{"oid":HEX64,"size":N},...],"sha256":HEX64,"size":N,"v":1}
 *
 * Every chunk is 1..SK_CDC_MAX bytes and every chunk but the last at least
 * SK_CDC_MIN; the sizes add up to "size"; at most SK_FILE_MAX_CHUNKS
 * chunks. An empty artifact is a file with no chunks, size 0 and the
 * SHA-256 of nothing. Chunk blobs are durable before the file object that
 * names them is written.
 */
#ifndef SK_FILE_H
#define SK_FILE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "objects/odb.h"
#include "objects/oid.h"

/* 2^17 chunks: the largest document (about 90 bytes a chunk, 11.5 MiB)
 * stays under SK_CJSON_MAX, and files up to 128 GiB fit even at the
 * smallest chunk size (512 GiB at the largest). */
#define SK_FILE_MAX_CHUNKS ((size_t)1 << 17)

struct sk_file_chunk {
	struct sk_oid oid;
	uint64_t size;
};

struct sk_file {
	struct sk_file_chunk *chunks; /* nchunks entries, in file order */
	size_t nchunks;
	uint64_t size;
	unsigned char sha256[32];
};

struct sk_file_stats {
	uint64_t bytes;       /* artifact size */
	uint64_t new_bytes;   /* chunk bytes written as new blobs */
	uint64_t dedup_bytes; /* chunk bytes already present */
	uint64_t chunks;      /* chunks in the file */
	uint64_t new_chunks;  /* of which newly stored */
};

/* Strict validation of a parsed document (keys, types, hex, sizes, the
 * sum, the chunk limit): SK_EINVAL naming the field and chunk index. *out
 * is the caller's (sk_file_free). */
int sk_file_from_json(struct sk_file **out, const json_t *doc, struct sk_err *err);
/* The document for f (new reference); NULL only on out of memory. */
json_t *sk_file_to_json(const struct sk_file *f);
void sk_file_free(struct sk_file *f);
/* Reads, id-checks and validates the file object oid (SK_ECORRUPT when
 * the stored document is not a valid file). */
int sk_file_read(struct sk_odb *odb, const struct sk_oid *oid, struct sk_file **out,
		 struct sk_err *err);

/* Reads fd to its end in bounded memory (about 80 MiB), stores every new
 * chunk as a blob (one already present is counted as deduplicated and not
 * rewritten), then the file object. The new chunks become visible
 * together, once durable, just before the file object is written
 * (sk_odb_batch). sha256 (may be NULL) gets the whole-artifact digest,
 * stats (may be NULL) the counts. When fd is a regular file that changes
 * while it is read (size or mtime, or a short read) the result is
 * SK_ECONFLICT; on this and any other failure no file object is written
 * and no new chunk becomes visible (one whose sync or rename had already
 * succeeded when a later one failed stays: complete and harmless). */
int sk_file_store(struct sk_odb *odb, int fd, struct sk_file_stats *stats,
		  struct sk_oid *file_oid, unsigned char sha256[32], struct sk_err *err);
/* sk_file_store for --dry-run: the same reading, chunking and hashing,
 * and the same ids, digest and counts (a chunk not stored yet counts as
 * new), but nothing is compressed or written. */
int sk_file_plan(struct sk_odb *odb, int fd, struct sk_file_stats *stats,
		 struct sk_oid *file_oid, unsigned char sha256[32], struct sk_err *err);

/* Every chunk present, a blob, hashing to its id and of its declared
 * size, and the whole-artifact digest right. A missing or bad chunk is
 * SK_ECORRUPT naming the chunk's index and id. */
int sk_file_verify(struct sk_odb *odb, const struct sk_oid *file_oid, struct sk_err *err);

/* Reassembles the artifact at dest (mode 0666 & ~umask), checking every
 * chunk and the whole digest while writing into a temp file beside dest,
 * then fsync and link into place. dest is never overwritten (SK_EEXISTS);
 * on any failure nothing is at dest and no temp file remains. */
int sk_file_extract(struct sk_odb *odb, const struct sk_oid *file_oid, const char *dest,
		    struct sk_err *err);
/* The same without the fsyncs, for a reader that rebuilds what it wrote
 * after a crash anyway (a runner re-materializes its release on every
 * start): the bytes are still checked before they are linked into place. */
int sk_file_extract_nosync(struct sk_odb *odb, const struct sk_oid *file_oid, const char *dest,
			   struct sk_err *err);

#endif
