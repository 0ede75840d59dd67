/*
 * The loose object store. Each object is a file objects/ab/<62 hex>, mode
 * 0444, holding one zstd frame (content size and checksum set) of
 * "<type> <len>\0" + payload, written through a temp file in objects/,
 * fsync, rename and directory fsync; an object is visible only once
 * complete, and a failed write leaves neither the object nor a temp file. Reads cap the decompressed size before and while
 * decompressing (a frame that lies about its size stops at the cap) and,
 * with SK_ODB_VERIFY, recompute the id. sk_odb_stream verifies or
 * copies out a blob of any size in bounded memory. JSON types are checked for
 * canonical form on every write and every verified read.
 *
 * The same encoded bytes travel to and from remotes: sk_obj_encode and
 * sk_obj_decode are the wire format too, and decode always verifies.
 */
#ifndef SK_ODB_H
#define SK_ODB_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "objects/oid.h"

/* Decompressed size cap for blobs (default 1 GiB; SKIFF_MAX_OBJECT_BYTES
 * overrides it for a process). JSON types are capped at SK_CJSON_MAX. */
#define SK_ODB_MAX_BLOB ((uint64_t)1 << 30)

enum {
	SK_ODB_VERIFY = 1 << 0, /* recompute the id and check canonical form */
};

struct sk_odb;

/* objects_dir is <repo>/.skiff/objects; it must exist. */
int sk_odb_open(struct sk_odb **out, const char *objects_dir, struct sk_err *err);
void sk_odb_free(struct sk_odb *odb);
uint64_t sk_odb_max_size(enum sk_otype t);

/* Stores a payload; JSON types must already be canonical (SK_EINVAL
 * otherwise). Writing an object that exists is a no-op. */
int sk_odb_write(struct sk_odb *odb, enum sk_otype t, const void *payload, size_t len,
		 struct sk_oid *out, struct sk_err *err);
/* Stores a canonical JSON document built with jansson. */
int sk_odb_write_json(struct sk_odb *odb, enum sk_otype t, const json_t *doc,
		      struct sk_oid *out, struct sk_err *err);
/* Streams exactly len bytes from fd's current position into a blob in one
 * pass (hash and compress, bounded memory); with write=0 only computes the
 * id (hash-object without -w). SK_EIO when fd ends before len bytes;
 * SK_ETOOBIG when writing more than the blob cap. */
int sk_odb_write_fd(struct sk_odb *odb, int fd, uint64_t len, int write,
		    struct sk_oid *out, struct sk_err *err);

int sk_odb_exists(struct sk_odb *odb, const struct sk_oid *oid);
/* sk_odb_exists that says why not: 0 when stored (or fetched by the miss
 * handler), else SK_ENOTFOUND or the miss handler's error (a corrupt or
 * unreachable remote under --direct). */
int sk_odb_have(struct sk_odb *odb, const struct sk_oid *oid, struct sk_err *err);
/* --direct: a handler asked for each object that is not stored; it fetches
 * the object from elsewhere, verifies it against oid and stores it (0),
 * or returns SK_ENOTFOUND or another error, which the read reports. */
typedef int (*sk_odb_miss_fn)(void *ctx, const struct sk_oid *oid, struct sk_err *err);
void sk_odb_set_miss(struct sk_odb *odb, sk_odb_miss_fn fn, void *ctx);
/* Reads type and size from the header only. */
int sk_odb_read_header(struct sk_odb *odb, const struct sk_oid *oid, enum sk_otype *type,
		       uint64_t *size, struct sk_err *err);
/* Reads a whole object; *payload is malloc'd (NUL-terminated for
 * convenience, not counted in *len). expect may be SK_OBJ_NONE. A type
 * other than expect is SK_EINVAL ("object X is a T, not a U"); a missing
 * object SK_ENOTFOUND. Format and size checks run on every read
 * (SK_ECORRUPT, SK_ETOOBIG); SK_ODB_VERIFY adds the id ("hash mismatch")
 * and canonical-JSON checks (SK_ECORRUPT). type, payload, len may be NULL. */
int sk_odb_read(struct sk_odb *odb, const struct sk_oid *oid, enum sk_otype expect,
		unsigned flags, enum sk_otype *type, unsigned char **payload, size_t *len,
		struct sk_err *err);
/* Verifies an object and hands its payload to sink in order, without
 * holding a blob in memory: blobs are decompressed in chunks of at most
 * 1 MiB (peak memory a few MiB whatever the size) while the id is
 * recomputed, and the same format, size-cap and trailing-bytes checks as
 * sk_odb_read run as the bytes go by. JSON types are read whole, verified
 * (id and canonical form) and only then handed over in one call. The id
 * is always checked: SK_ECORRUPT "hash mismatch" when it differs. expect,
 * type and size are as in sk_odb_read (type and size set on success).
 * sink may be NULL (verify only). A sink returning nonzero stops the read
 * and sk_odb_stream returns that value; the sink may fill err itself
 * (pass it through arg), or a generic message is set.
 *
 * A blob's sink may already have received every byte when a hash
 * mismatch, truncation or oversize frame is found: a caller printing to
 * a terminal gets the error after the bytes (as git does). A caller that
 * must not act on unverified bytes verifies first (sink NULL) and then
 * streams, or collects the bytes where it can discard them. */
int sk_odb_stream(struct sk_odb *odb, const struct sk_oid *oid, enum sk_otype expect,
		  int (*sink)(const void *buf, size_t len, void *arg), void *arg,
		  enum sk_otype *type, uint64_t *size, struct sk_err *err);
/* Reads and parses a JSON object of type expect (SK_OBJ_NONE: any JSON
 * type). The strict canonical parse always runs; SK_ODB_VERIFY adds the
 * id check. A stored payload that does not parse is SK_ECORRUPT. */
int sk_odb_read_json(struct sk_odb *odb, const struct sk_oid *oid, enum sk_otype expect,
		     unsigned flags, json_t **out, struct sk_err *err);

/* Resolves 8..64 hex digits to one object: SK_ENOTFOUND, SK_EAMBIGUOUS. */
int sk_odb_resolve_prefix(struct sk_odb *odb, const char *prefix, struct sk_oid *out,
			  struct sk_err *err);

/* Calls fn for every stored object id (unordered; names that are not 62
 * lowercase hex digits, such as temp files, are skipped); stops at and
 * returns fn's first nonzero value. */
int sk_odb_foreach(struct sk_odb *odb, int (*fn)(const struct sk_oid *, void *), void *arg,
		   struct sk_err *err);

/* Temporary files in the objects directory (incoming.tmp.*): a writer in
 * flight, or one that died before renaming. A JSON array of paths. */
int sk_odb_list_temp(struct sk_odb *odb, json_t **out, struct sk_err *err);

/* Path of an object's file (malloc'd). */
char *sk_odb_path(struct sk_odb *odb, const struct sk_oid *oid);

/* Wire form: the compressed bytes of an object as stored; *out malloc'd.
 * Checks what sk_odb_write checks (cap, canonical JSON). */
int sk_obj_encode(enum sk_otype t, const void *payload, size_t len, unsigned char **out,
		  size_t *outlen, struct sk_err *err);
/* Decodes and fully verifies wire bytes: one well-formed zstd frame,
 * size within the cap, header valid, JSON canonical, and (when expect is
 * not NULL) the id equal to expect. SK_ECORRUPT / SK_ETOOBIG otherwise.
 * type, payload, len may be NULL. */
int sk_obj_decode(const void *zbuf, size_t zlen, const struct sk_oid *expect,
		  enum sk_otype *type, unsigned char **payload, size_t *len, struct sk_err *err);
/* A reusable blob encoder for one thread at a time: sk_obj_encode of a
 * blob without a compression context and output buffer per call (both
 * are kept, so their memory is touched once). *out points into the
 * encoder and stays valid until its next use or free. */
struct sk_blob_enc;
struct sk_blob_enc *sk_blob_enc_new(void); /* aborts on out of memory */
void sk_blob_enc_free(struct sk_blob_enc *e);
int sk_blob_enc_run(struct sk_blob_enc *e, const void *payload, size_t len,
		    const unsigned char **out, size_t *outlen, struct sk_err *err);

/* Deferred durability, for the few small objects of one ref update: while
 * on, a new object skips its fsyncs (it is still complete or absent, as
 * it is renamed into place whole) and is durable only after the next
 * sk_odb_flush, one syncfs of the object store's file system, which the
 * ref transaction runs before any ref points at it. A crash in between
 * loses only objects nothing refers to yet. Returns the previous
 * setting. */
int sk_odb_defer(struct sk_odb *odb, int on);
/* syncfs of the file system holding the objects: every object written so
 * far, by any process, is durable when it returns 0. */
int sk_odb_flush(struct sk_odb *odb, struct sk_err *err);
/* How many objects this handle wrote deferred since its last successful
 * sk_odb_flush: not yet known durable. */
size_t sk_odb_pending(const struct sk_odb *odb);

/* A batch of new objects made durable together (chunked files): each is
 * written to a temp file without waiting for the disk; commit then makes
 * every temp file durable with one syncfs, renames them into place and
 * syncs again, so no object becomes visible before its bytes are durable
 * and the disk is waited on twice, not twice per object. claim and put
 * may be called from several threads at once. free removes the temp
 * files of a batch that was not committed (also after a failed commit:
 * objects already renamed stay; they are complete). */
struct sk_odb_batch;
struct sk_odb_batch *sk_odb_batch_new(struct sk_odb *odb); /* aborts on OOM */
/* 1 when the caller is to put oid: neither stored nor claimed before in
 * this batch; 0 otherwise. */
int sk_odb_batch_claim(struct sk_odb_batch *b, const struct sk_oid *oid);
/* Writes the wire bytes of a claimed object to a temp file. */
int sk_odb_batch_put(struct sk_odb_batch *b, const struct sk_oid *oid, const void *zbuf,
		     size_t zlen, struct sk_err *err);
int sk_odb_batch_commit(struct sk_odb_batch *b, struct sk_err *err);
void sk_odb_batch_free(struct sk_odb_batch *b);

/* Stores already-verified wire bytes as is (used by fetch after
 * sk_obj_decode with the expected id); no checks here. */
int sk_odb_write_raw(struct sk_odb *odb, const struct sk_oid *oid, const void *zbuf,
		     size_t zlen, struct sk_err *err);

#endif
