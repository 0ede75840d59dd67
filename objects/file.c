/*
 * File objects: chunked storage of large artifacts (see objects/file.h
 * for the document). Owns the document's validation, the store pipeline,
 * and verification and reassembly.
 *
 * Invariants: chunk blobs are complete before the file object naming them
 * is written; a store holds a 16 MiB read window plus one compressed
 * chunk per writer, whatever the artifact's size; extract never leaves a
 * partial file at its destination.
 *
 * Speed: every byte is SHA-256'd twice (the chunk's id, the whole-artifact
 * digest), so the work is spread over threads sharing one read buffer
 * without copies: this thread reads and cuts; a digest worker hashes each
 * block as it is read; WRITERS chunk writers, in turn, hash a chunk's id
 * and, when it is new, compress and store it (several, so that one
 * object's fsyncs do not stall the rest). A buffer region handed to a
 * worker is not moved (compaction) until every worker is idle. Chunk ids
 * are hashed with OpenSSL EVP directly (header form from sk_oid_header):
 * sk_oid_hash uses libsodium below 1 MiB, several times slower than
 * SHA-NI, and many chunks are that small.
 */
#include "objects/file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/worker.h"
#include "objects/chunker.h"
#include "objects/cjson.h"

#define READ_BLOCK SK_CDC_MAX                    /* bytes per read() */
#define BUF_CAP (2 * SK_CDC_MAX + 2 * READ_BLOCK) /* 16 MiB window */
/* Chunk writers: each new blob ends in fsyncs that wait on the disk, so
 * several in flight keep the device busy while this thread cuts. */
#define WRITERS 4

/* --- the document -------------------------------------------------- */

void sk_file_free(struct sk_file *f)
{
	if (!f)
		return;
	free(f->chunks);
	free(f);
}

static int bad(struct sk_err *err, const char *fmt, const char *detail, size_t i)
{
	char msg[256];
	snprintf(msg, sizeof(msg), fmt, i);
	return sk_err_set(err, SK_EINVAL, NULL, "invalid file object: %s%s", msg, detail);
}

static int chunk_from_json(struct sk_file_chunk *c, const json_t *j, size_t i, int last,
			   struct sk_err *err)
{
	static const char *const keys[] = { "oid", "size", NULL };
	const char *hex;
	long long size;
	struct sk_err e;
	if (!json_is_object(j))
		return bad(err, "chunk %zu is not an object", "", i);
	if (sk_cjson_only_keys(j, keys, "chunk", &e) || sk_cjson_get_str(j, "oid", &hex, &e) ||
	    sk_cjson_get_int(j, "size", &size, &e) || sk_oid_fromhex(&c->oid, hex, &e))
		return bad(err, "chunk %zu: ", e.message, i);
	long long lo = last ? 1 : (long long)SK_CDC_MIN;
	if (size < lo || size > (long long)SK_CDC_MAX)
		return bad(err, "chunk %zu: size out of range", last ? " (1..4194304)" :
			   " (262144..4194304 for all but the last chunk)", i);
	c->size = (uint64_t)size;
	return 0;
}

static int chunks_from_json(struct sk_file *f, const json_t *arr, struct sk_err *err)
{
	if (!json_is_array(arr))
		return bad(err, "\"chunks\" is not an array", "", 0);
	size_t n = json_array_size(arr);
	if (n > SK_FILE_MAX_CHUNKS)
		return bad(err, "more than %zu chunks", "", SK_FILE_MAX_CHUNKS);
	f->chunks = calloc(n ? n : 1, sizeof(*f->chunks));
	if (!f->chunks)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	f->nchunks = n;
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		int rc = chunk_from_json(&f->chunks[i], json_array_get(arr, i), i, i + 1 == n, err);
		if (rc)
			return rc;
		sum += f->chunks[i].size;
	}
	if (sum != f->size)
		return sk_err_set(err, SK_EINVAL, NULL,
				  "invalid file object: chunk sizes add up to %" PRIu64
				  ", not the declared size %" PRIu64, sum, f->size);
	return 0;
}

static int head_from_json(struct sk_file *f, const json_t *doc, struct sk_err *err)
{
	static const char *const keys[] = { "chunks", "sha256", "size", "v", NULL };
	const char *hex;
	long long v, size;
	struct sk_err e;
	if (!json_is_object(doc))
		return bad(err, "not a JSON object", "", 0);
	if (sk_cjson_only_keys(doc, keys, "file", &e) || sk_cjson_get_int(doc, "v", &v, &e) ||
	    sk_cjson_get_int(doc, "size", &size, &e) || sk_cjson_get_str(doc, "sha256", &hex, &e))
		return bad(err, "%.0zu", e.message, 0);
	if (v != 1)
		return bad(err, "unsupported version \"v\": %zu", "", (size_t)v);
	if (size < 0)
		return bad(err, "negative \"size\"", "", 0);
	if (strlen(hex) != 64 || sk_unhex(hex, f->sha256, 32) != 0)
		return bad(err, "\"sha256\" is not 64 lowercase hex digits", "", 0);
	f->size = (uint64_t)size;
	return 0;
}

int sk_file_from_json(struct sk_file **out, const json_t *doc, struct sk_err *err)
{
	*out = NULL;
	struct sk_file *f = calloc(1, sizeof(*f));
	if (!f)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	int rc = head_from_json(f, doc, err);
	if (!rc)
		rc = chunks_from_json(f, json_object_get(doc, "chunks"), err);
	if (rc) {
		sk_file_free(f);
		return rc;
	}
	*out = f;
	return 0;
}

json_t *sk_file_to_json(const struct sk_file *f)
{
	char hex[SK_OID_HEXSZ + 1];
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < f->nchunks; i++) {
		json_t *c = json_pack("{s:s,s:I}", "oid", sk_oid_tohex(&f->chunks[i].oid, hex),
				      "size", (json_int_t)f->chunks[i].size);
		if (!c || json_array_append_new(arr, c)) {
			json_decref(arr);
			return NULL;
		}
	}
	if (!arr)
		return NULL;
	sk_hex(f->sha256, 32, hex);
	return json_pack("{s:o,s:s,s:I,s:i}", "chunks", arr, "sha256", hex, "size",
			 (json_int_t)f->size, "v", 1);
}

int sk_file_read(struct sk_odb *odb, const struct sk_oid *oid, struct sk_file **out,
		 struct sk_err *err)
{
	json_t *doc = NULL;
	int rc = sk_odb_read_json(odb, oid, SK_OBJ_FILE, SK_ODB_VERIFY, &doc, err);
	if (!rc) {
		rc = sk_file_from_json(out, doc, err);
		if (rc == SK_EINVAL)
			rc = SK_ECORRUPT;
		if (rc)
			err->code = rc;
	}
	json_decref(doc);
	if (rc) {
		char hex[SK_OID_HEXSZ + 1];
		sk_err_wrap(err, "file %s", sk_oid_tohex(oid, hex));
	}
	return rc;
}

static EVP_MD_CTX *sha256_new(void)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		abort();
	return ctx;
}

static void sha256_update(EVP_MD_CTX *ctx, const void *p, size_t n)
{
	if (n && EVP_DigestUpdate(ctx, p, n) != 1)
		abort();
}

static void sha256_final(EVP_MD_CTX *ctx, unsigned char out[32])
{
	unsigned int n = 0;
	if (EVP_DigestFinal_ex(ctx, out, &n) != 1 || n != 32)
		abort();
}

/* The whole-artifact digest, computed on a worker (common/worker.h). */
struct digest {
	struct sk_worker *w;
	EVP_MD_CTX *ctx;
};

static void digest_job(void *arg, const void *p, size_t n)
{
	sha256_update(((struct digest *)arg)->ctx, p, n);
}

static void chunk_id(EVP_MD_CTX *ctx, const unsigned char *p, size_t n, struct sk_oid *out)
{
	char hdr[32];
	unsigned int len = 0;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		abort();
	sha256_update(ctx, hdr, sk_oid_header(hdr, SK_OBJ_BLOB, n));
	sha256_update(ctx, p, n);
	if (EVP_DigestFinal_ex(ctx, out->id, &len) != 1 || len != 32)
		abort();
}

/* Hashes one chunk and, when it is not stored yet, compresses and writes
 * it; the first error sticks. chunk and fresh point into the store's
 * arrays, which only move while every writer is idle. */
struct writer {
	struct sk_worker *w;
	struct sk_odb *odb;
	EVP_MD_CTX *ctx;
	struct sk_file_chunk *chunk;
	unsigned char *fresh; /* set to 1 when this job wrote the blob */
	int rc;
	struct sk_err err;
};

static void writer_job(void *arg, const void *p, size_t n)
{
	struct writer *wr = arg;
	unsigned char *z;
	size_t zlen;
	if (wr->rc)
		return;
	chunk_id(wr->ctx, p, n, &wr->chunk->oid);
	if (sk_odb_exists(wr->odb, &wr->chunk->oid))
		return;
	wr->rc = sk_obj_encode(SK_OBJ_BLOB, p, n, &z, &zlen, &wr->err);
	if (wr->rc)
		return;
	wr->rc = sk_odb_write_raw(wr->odb, &wr->chunk->oid, z, zlen, &wr->err);
	free(z);
	*wr->fresh = !wr->rc;
}

/* Waits for the writer; its error, if any, becomes the caller's. */
static int writer_sync(struct writer *wr, struct sk_err *err)
{
	sk_worker_wait(wr->w);
	if (wr->rc && err)
		*err = wr->err;
	return wr->rc;
}

/* --- storing ------------------------------------------------------- */

struct store {
	struct sk_odb *odb;
	int fd;
	unsigned char *buf;
	size_t start, end; /* unconsumed bytes are buf[start..end) */
	int eof;
	uint64_t read_total;
	struct stat st0; /* fstat before reading; st_mode 0 when not regular */
	int started; /* the workers run */
	struct digest dg;
	struct writer wr[WRITERS]; /* used in turn */
	unsigned next_wr;
	struct sk_file f;
	unsigned char *fresh; /* per chunk: written by this store */
	size_t cap;
};

static int changed(struct sk_err *err, const char *why)
{
	return sk_err_set(err, SK_ECONFLICT, "retry once the file is stable",
			  "the artifact changed while it was read (%s)", why);
}

static int all_idle(struct store *s, struct sk_err *err)
{
	sk_worker_wait(s->dg.w);
	for (unsigned i = 0; i < WRITERS; i++) {
		int rc = writer_sync(&s->wr[i], err);
		if (rc)
			return rc;
	}
	return 0;
}

static int read_block(struct store *s, struct sk_err *err)
{
	if (BUF_CAP - s->end < READ_BLOCK) {
		int rc = all_idle(s, err); /* they may still read what moves */
		if (rc)
			return rc;
		memmove(s->buf, s->buf + s->start, s->end - s->start);
		s->end -= s->start;
		s->start = 0;
	}
	ssize_t r;
	do
		r = read(s->fd, s->buf + s->end, READ_BLOCK);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return sk_err_errno(err, errno, "cannot read the artifact", NULL);
	if (r == 0) {
		s->eof = 1;
		return 0;
	}
	sk_worker_give(s->dg.w, s->buf + s->end, (size_t)r);
	s->end += (size_t)r;
	s->read_total += (uint64_t)r;
	if (s->st0.st_mode && s->read_total > (uint64_t)s->st0.st_size)
		return changed(err, "it grew");
	return 0;
}

static int grow_chunks(struct store *s, struct sk_err *err)
{
	int rc = all_idle(s, err); /* writers point into the arrays */
	if (rc)
		return rc;
	size_t cap = s->cap ? 2 * s->cap : 64;
	void *c = realloc(s->f.chunks, cap * sizeof(*s->f.chunks));
	if (c)
		s->f.chunks = c;
	void *f = c ? realloc(s->fresh, cap) : NULL;
	if (!f)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	s->fresh = f;
	s->cap = cap;
	return 0;
}

/* Hands the chunk at p to the next writer; p stays put until the next
 * compaction, which waits for every writer. */
static int add_chunk(struct store *s, const unsigned char *p, size_t n, struct sk_err *err)
{
	if (s->f.nchunks == SK_FILE_MAX_CHUNKS)
		return sk_err_set(err, SK_ETOOBIG, NULL,
				  "artifact needs more than %zu chunks (at %" PRIu64 " bytes)",
				  SK_FILE_MAX_CHUNKS, s->f.size);
	int rc = s->f.nchunks == s->cap ? grow_chunks(s, err) : 0;
	struct writer *wr = &s->wr[s->next_wr++ % WRITERS];
	if (!rc)
		rc = writer_sync(wr, err);
	if (rc)
		return rc;
	size_t i = s->f.nchunks++;
	s->f.chunks[i].size = n;
	s->fresh[i] = 0;
	s->f.size += n;
	wr->chunk = &s->f.chunks[i];
	wr->fresh = &s->fresh[i];
	sk_worker_give(wr->w, p, n);
	return 0;
}

static int fresh_cmp(const void *a, const void *b)
{
	return sk_oid_cmp(&((const struct sk_file_chunk *)a)->oid,
			  &((const struct sk_file_chunk *)b)->oid);
}

/* New bytes are those of distinct chunks this store wrote: a chunk that
 * repeats inside the artifact may have been written twice at once. */
static void tally(const struct store *s, struct sk_file_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->bytes = s->f.size;
	st->chunks = s->f.nchunks;
	struct sk_file_chunk *w = malloc((s->f.nchunks ? s->f.nchunks : 1) * sizeof(*w));
	size_t n = 0;
	for (size_t i = 0; w && i < s->f.nchunks; i++)
		if (s->fresh[i])
			w[n++] = s->f.chunks[i];
	if (w)
		qsort(w, n, sizeof(*w), fresh_cmp);
	for (size_t i = 0; w && i < n; i++) {
		if (i && !fresh_cmp(&w[i - 1], &w[i]))
			continue;
		st->new_chunks++;
		st->new_bytes += w[i].size;
	}
	free(w);
	st->dedup_bytes = st->bytes - st->new_bytes;
}

/* Reads and stores chunks until the end of the input. */
static int store_chunks(struct store *s, struct sk_err *err)
{
	for (;;) {
		while (!s->eof && s->end - s->start < SK_CDC_MAX) {
			int rc = read_block(s, err);
			if (rc)
				return rc;
		}
		size_t n = sk_cdc_cut(s->buf + s->start, s->end - s->start, s->eof);
		if (n == 0)
			return 0; /* eof and nothing left */
		int rc = add_chunk(s, s->buf + s->start, n, err);
		if (rc)
			return rc;
		s->start += n;
	}
}

static int check_stable(struct store *s, struct sk_err *err)
{
	struct stat st;
	if (!s->st0.st_mode)
		return 0;
	if (fstat(s->fd, &st) < 0)
		return sk_err_errno(err, errno, "cannot stat the artifact", NULL);
	if (st.st_size != s->st0.st_size || s->read_total != (uint64_t)st.st_size)
		return changed(err, "its size changed");
	if (st.st_mtim.tv_sec != s->st0.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != s->st0.st_mtim.tv_nsec)
		return changed(err, "its modification time changed");
	return 0;
}

static int store_begin(struct store *s, struct sk_odb *odb, int fd, struct sk_err *err)
{
	memset(s, 0, sizeof(*s));
	s->odb = odb;
	s->fd = fd;
	if (fstat(fd, &s->st0) < 0)
		return sk_err_errno(err, errno, "cannot stat the artifact", NULL);
	if (S_ISDIR(s->st0.st_mode))
		return sk_err_set(err, SK_EINVAL, NULL, "the artifact is a directory");
	if (!S_ISREG(s->st0.st_mode))
		s->st0.st_mode = 0;
	s->buf = malloc(BUF_CAP);
	if (!s->buf)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	s->started = 1;
	s->dg.ctx = sha256_new();
	s->dg.w = sk_worker_start(digest_job, &s->dg);
	for (unsigned i = 0; i < WRITERS; i++) {
		s->wr[i].odb = odb;
		s->wr[i].ctx = sha256_new();
		s->wr[i].w = sk_worker_start(writer_job, &s->wr[i]);
	}
	return 0;
}

int sk_file_store(struct sk_odb *odb, int fd, struct sk_file_stats *stats,
		  struct sk_oid *file_oid, unsigned char sha256[32], struct sk_err *err)
{
	struct store s;
	int rc = store_begin(&s, odb, fd, err);
	if (!rc)
		rc = store_chunks(&s, err);
	if (s.started) {
		/* Every chunk blob is complete before the file object. */
		for (unsigned i = 0; i < WRITERS; i++) {
			sk_worker_stop(s.wr[i].w);
			EVP_MD_CTX_free(s.wr[i].ctx);
			if (!rc && s.wr[i].rc) {
				*err = s.wr[i].err;
				rc = s.wr[i].rc;
			}
		}
		sk_worker_stop(s.dg.w);
		sha256_final(s.dg.ctx, s.f.sha256);
		EVP_MD_CTX_free(s.dg.ctx);
	}
	if (!rc)
		rc = check_stable(&s, err);
	json_t *doc = NULL;
	if (!rc && !(doc = sk_file_to_json(&s.f)))
		rc = sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	if (!rc)
		rc = sk_odb_write_json(odb, SK_OBJ_FILE, doc, file_oid, err);
	json_decref(doc);
	if (!rc && sha256)
		memcpy(sha256, s.f.sha256, 32);
	if (!rc && stats)
		tally(&s, stats);
	free(s.buf);
	free(s.f.chunks);
	free(s.fresh);
	return rc;
}

/* --- reading back: verify and extract ------------------------------ */

struct walk {
	EVP_MD_CTX *ctx;
	int fd; /* -1: verify only */
	const char *path;
	int sink_failed;
	struct sk_err *err;
};

static int walk_sink(const void *buf, size_t len, void *arg)
{
	struct walk *w = arg;
	sha256_update(w->ctx, buf, len);
	if (w->fd >= 0 && sk_fs_write_all(w->fd, buf, len) < 0) {
		w->sink_failed = 1;
		return sk_err_errno(w->err, errno, "cannot write", w->path);
	}
	return 0;
}

static int walk_chunk(struct sk_odb *odb, const struct sk_file_chunk *c, size_t i,
		      struct walk *w, struct sk_err *err)
{
	char hex[SK_OID_HEXSZ + 1];
	uint64_t size = 0;
	int rc = sk_odb_stream(odb, &c->oid, SK_OBJ_BLOB, walk_sink, w, NULL, &size, err);
	if (rc && w->sink_failed)
		return rc;
	sk_oid_tohex(&c->oid, hex);
	if (rc == SK_ENOTFOUND)
		return sk_err_set(err, SK_ECORRUPT, "fetch the release again from a remote",
				  "chunk %zu (%s) is missing", i, hex);
	if (rc) {
		err->code = SK_ECORRUPT;
		sk_err_wrap(err, "chunk %zu (%s)", i, hex);
		return SK_ECORRUPT;
	}
	if (size != c->size)
		return sk_err_set(err, SK_ECORRUPT, NULL,
				  "chunk %zu (%s) is %" PRIu64 " bytes, the file says %" PRIu64, i,
				  hex, size, c->size);
	return 0;
}

static int walk_file(struct sk_odb *odb, const struct sk_oid *oid, int fd, const char *path,
		     struct sk_err *err)
{
	struct sk_file *f = NULL;
	int rc = sk_file_read(odb, oid, &f, err);
	if (rc)
		return rc;
	struct walk w = { sha256_new(), fd, path, 0, err };
	for (size_t i = 0; !rc && i < f->nchunks; i++)
		rc = walk_chunk(odb, &f->chunks[i], i, &w, err);
	unsigned char got[32];
	sha256_final(w.ctx, got);
	EVP_MD_CTX_free(w.ctx);
	if (!rc && memcmp(got, f->sha256, 32) != 0)
		rc = sk_err_set(err, SK_ECORRUPT, NULL,
				"the artifact's SHA-256 differs from the one its file records");
	sk_file_free(f);
	if (rc && !w.sink_failed) {
		char hex[SK_OID_HEXSZ + 1];
		sk_err_wrap(err, "file %s", sk_oid_tohex(oid, hex));
	}
	return rc;
}

int sk_file_verify(struct sk_odb *odb, const struct sk_oid *file_oid, struct sk_err *err)
{
	return walk_file(odb, file_oid, -1, NULL, err);
}

static int exists_err(struct sk_err *err, const char *dest)
{
	return sk_err_set(err, SK_EEXISTS, "choose another destination or remove it first",
			  "%s already exists", dest);
}

/* Publishes the finished temp file at dest without replacing anything. */
static int publish(const char *tmp, const char *dest, struct sk_err *err)
{
	if (link(tmp, dest) < 0)
		return errno == EEXIST ? exists_err(err, dest)
				       : sk_err_errno(err, errno, "cannot create", dest);
	int rc = sk_fs_fsync_parent(dest, err);
	if (rc)
		unlink(dest);
	return rc;
}

int sk_file_extract(struct sk_odb *odb, const struct sk_oid *file_oid, const char *dest,
		    struct sk_err *err)
{
	struct stat st;
	if (lstat(dest, &st) == 0)
		return exists_err(err, dest);
	char *tmp = sk_fs_temp_name(dest);
	int fd = sk_fs_open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0) {
		int rc = sk_err_errno(err, errno, "cannot create", tmp);
		free(tmp);
		return rc;
	}
	int rc = walk_file(odb, file_oid, fd, tmp, err);
	if (!rc && sk_fs_fsync(fd) < 0)
		rc = sk_err_errno(err, errno, "cannot sync", tmp);
	if (close(fd) < 0 && !rc)
		rc = sk_err_errno(err, errno, "cannot write", tmp);
	if (!rc)
		rc = publish(tmp, dest, err);
	unlink(tmp);
	free(tmp);
	return rc;
}
