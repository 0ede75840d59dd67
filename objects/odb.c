/*
 * The loose object store: objects/ab/<62 hex>, each file one zstd frame
 * of "<type> <len>\0" + payload (content size in the frame header, and a
 * zstd checksum so bit rot is caught even on unverified reads).
 *
 * Invariants:
 *  - An object file is complete or absent. It is written to a temp file
 *    in the objects directory (same file system), fsynced, renamed into
 *    ab/, and ab/ (plus the objects directory when ab/ is new) fsynced.
 *    Any failure removes the temp file and leaves no object behind.
 *    Under sk_odb_defer the fsyncs are skipped and the ref transaction's
 *    syncfs (sk_odb_flush) makes the object durable before anything can
 *    point at it. A
 *    batch (chunked files) does the same for many objects with two
 *    syncfs calls in place of their fsyncs: all temp files durable, then
 *    every rename, then the names durable.
 *  - Existing objects are never rewritten; their files are mode 0444.
 *  - Reads never trust a size they have not checked: the frame's content
 *    size and the header's length are checked against the type's cap
 *    before any payload memory is allocated, and decompression stops the
 *    moment output would pass what the header declared. A reader that
 *    asks for SK_ODB_VERIFY also gets the id recomputed and JSON checked
 *    for canonical form; the cheap format checks run on every read.
 *  - sk_odb_stream holds at most two STREAM_CHUNK buffers of a blob (plus
 *    the compressed input buffer and zstd's window, itself capped by
 *    WINDOW_LOG_MAX), so verifying or printing a blob needs a few MiB
 *    whatever its size. JSON types are small (SK_CJSON_MAX) and are read
 *    whole, since their canonical check needs the whole document.
 *
 * Temp files never sit in ab/ directories, and sk_odb_foreach only
 * reports names of exactly 62 lowercase hex digits, so a crash mid-write
 * is invisible to readers.
 */
#include "objects/odb.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "common/fs.h"
#include "common/worker.h"
#include "objects/cjson.h"

#define HDR_MAX 32                     /* "<9-letter type> <20 digits>\0" = 31 */
#define LEVEL_BLOB 1                   /* blobs: speed over ratio */
#define LEVEL_JSON 3
#define MT_THRESHOLD ((uint64_t)4 << 20) /* compress in worker threads above this */
#define MT_WORKERS 2
#define STREAM_IN ((size_t)4 << 20)    /* read size for sk_odb_write_fd */
#define STREAM_OUT ((size_t)1 << 20)   /* compressed bytes buffered before write */
#define READ_BUF_MAX ((size_t)1 << 20) /* compressed input buffer for reads */
#define STREAM_CHUNK ((size_t)1 << 20) /* decompressed bytes per streamed chunk */
/* A streamed blob at least this big is hashed on a thread of its own in
 * pieces of STREAM_PIECE, so hashing one piece overlaps decompressing
 * the next (an artifact's ~1 MiB chunks are read this way). */
#define STREAM_MT_THRESHOLD ((uint64_t)256 << 10)
#define STREAM_PIECE ((size_t)256 << 10)
#define WINDOW_LOG_MAX 23              /* 8 MiB: above what levels 1..19 use */
#define WRITEBACK_STEP ((uint64_t)8 << 20)
#define DIRECT_ALIGN ((size_t)4096)    /* O_DIRECT buffer, offset and length */
#define DIRECT_MIN ((size_t)64 << 10)  /* smaller objects are not worth it */

struct sk_odb {
	char *dir;
	sk_odb_miss_fn miss; /* --direct: fetches a missing object */
	void *miss_ctx;
	int defer; /* sk_odb_defer: new objects skip their fsyncs */
	size_t pending; /* objects written deferred since the last sk_odb_flush */
};

static const char *const fsck_hint = "run `skiff fsck`; fetch the object again from a remote";

int sk_odb_open(struct sk_odb **out, const char *objects_dir, struct sk_err *err)
{
	if (!sk_fs_is_dir(objects_dir))
		return sk_err_set(err, SK_ENOTFOUND, "is this a skiff repository? try `skiff init`",
				  "objects directory %s does not exist", objects_dir);
	struct sk_odb *odb = calloc(1, sizeof(*odb));
	if (!odb || !(odb->dir = strdup(objects_dir))) {
		free(odb);
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	}
	*out = odb;
	return 0;
}

void sk_odb_free(struct sk_odb *odb)
{
	if (!odb)
		return;
	free(odb->dir);
	free(odb);
}

static uint64_t blob_cap(void)
{
	const char *s = getenv("SKIFF_MAX_OBJECT_BYTES");
	if (!s || *s < '0' || *s > '9')
		return SK_ODB_MAX_BLOB;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v == 0)
		return SK_ODB_MAX_BLOB;
	return v;
}

uint64_t sk_odb_max_size(enum sk_otype t)
{
	if (t == SK_OBJ_BLOB)
		return blob_cap();
	if (sk_otype_is_json(t))
		return SK_CJSON_MAX;
	return 0;
}

static uint64_t largest_cap(void)
{
	uint64_t b = blob_cap();
	return b > SK_CJSON_MAX ? b : SK_CJSON_MAX;
}

char *sk_odb_path(struct sk_odb *odb, const struct sk_oid *oid)
{
	char hex[SK_OID_HEXSZ + 1];
	sk_oid_tohex(oid, hex);
	size_t n = strlen(odb->dir) + SK_OID_HEXSZ + 3;
	char *p = malloc(n);
	if (!p)
		abort();
	snprintf(p, n, "%s/%.2s/%s", odb->dir, hex, hex + 2);
	return p;
}

void sk_odb_set_miss(struct sk_odb *odb, sk_odb_miss_fn fn, void *ctx)
{
	odb->miss = fn;
	odb->miss_ctx = ctx;
}

static int stored(struct sk_odb *odb, const struct sk_oid *oid)
{
	char *p = sk_odb_path(odb, oid);
	struct stat st;
	int ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);
	free(p);
	return ok;
}

/* Asks the miss handler for an object that is not stored: 0 when it is
 * stored now, else the handler's code (SK_ENOTFOUND: nowhere). */
static int fill_miss(struct sk_odb *odb, const struct sk_oid *oid, struct sk_err *err)
{
	if (!odb->miss)
		return SK_ENOTFOUND;
	int rc = odb->miss(odb->miss_ctx, oid, err);
	return rc ? rc : stored(odb, oid) ? 0 : SK_ENOTFOUND;
}

int sk_odb_have(struct sk_odb *odb, const struct sk_oid *oid, struct sk_err *err)
{
	char hex[SK_OID_HEXSZ + 1];
	if (stored(odb, oid))
		return 0;
	int rc = fill_miss(odb, oid, err);
	if (rc == SK_ENOTFOUND)
		return sk_err_set(err, SK_ENOTFOUND, NULL, "object %s not found",
				  sk_oid_tohex(oid, hex));
	return rc;
}

int sk_odb_exists(struct sk_odb *odb, const struct sk_oid *oid)
{
	struct sk_err ignore;
	return stored(odb, oid) || (odb->miss && fill_miss(odb, oid, &ignore) == 0);
}

/* --- writing: temp file, fsync, rename, directory fsync ------------ */

struct tmpobj {
	char *path;
	int fd;
	uint64_t written, flushed; /* bytes written; bytes handed to writeback */
};

static int tmp_open(struct sk_odb *odb, struct tmpobj *t, struct sk_err *err)
{
	char *base = sk_path_join(odb->dir, "incoming");
	t->path = sk_fs_temp_name(base);
	t->written = t->flushed = 0;
	free(base);
	t->fd = sk_fs_open(t->path, O_WRONLY | O_CREAT | O_EXCL, 0444);
	if (t->fd < 0) {
		int rc = sk_err_errno(err, errno, "cannot create temporary object", t->path);
		free(t->path);
		t->path = NULL;
		return rc;
	}
	return 0;
}

static void tmp_discard(struct tmpobj *t)
{
	if (!t->path)
		return;
	if (t->fd >= 0)
		close(t->fd);
	unlink(t->path);
	free(t->path);
	t->path = NULL;
	t->fd = -1;
}

static int tmp_write(struct tmpobj *t, const void *data, size_t len, struct sk_err *err)
{
	if (len && sk_fs_write_all(t->fd, data, len) < 0)
		return sk_err_errno(err, errno, "cannot write temporary object", t->path);
	t->written += len;
	/* Start writeback of large objects as they stream, so the final fsync
	 * does not wait for the whole file; errors surface at that fsync. */
	if (t->written - t->flushed >= WRITEBACK_STEP) {
		sync_file_range(t->fd, (off_t)t->flushed, (off_t)(t->written - t->flushed),
				SYNC_FILE_RANGE_WRITE);
		t->flushed = t->written;
	}
	return 0;
}

/* Makes the object's ab/ directory; *created tells whether it is new. */
static int make_fanout(const char *dir, int *created, struct sk_err *err)
{
	*created = 0;
	if (mkdir(dir, 0777) == 0) {
		*created = 1;
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	return sk_err_errno(err, errno, "cannot create directory", dir);
}

/* Publishes the temp file as oid's object, or removes every trace. */
static int tmp_commit(struct sk_odb *odb, struct tmpobj *t, const struct sk_oid *oid,
		      struct sk_err *err)
{
	int rc = 0;
	if ((!odb->defer && sk_fs_fsync(t->fd) < 0) || fchmod(t->fd, 0444) < 0)
		rc = sk_err_errno(err, errno, "cannot sync temporary object", t->path);
	/* close() can report a deferred write error (NFS), so it counts. */
	if (close(t->fd) < 0 && !rc)
		rc = sk_err_errno(err, errno, "cannot write temporary object", t->path);
	t->fd = -1;
	if (rc) {
		tmp_discard(t);
		return rc;
	}
	char *path = sk_odb_path(odb, oid);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	int created = 0;
	rc = make_fanout(path, &created, err);
	*slash = '/';
	if (!rc && sk_fs_rename(t->path, path) < 0)
		rc = sk_err_errno(err, errno, "cannot move object into place", path);
	if (rc) {
		tmp_discard(t);
		free(path);
		return rc;
	}
	free(t->path);
	t->path = NULL;
	odb->pending += odb->defer != 0;
	*slash = '\0';
	if (!odb->defer)
		rc = sk_fs_fsync_dir(path, err);
	if (!rc && created && !odb->defer)
		rc = sk_fs_fsync_dir(odb->dir, err);
	*slash = '/';
	/* The rename happened but may not be durable. The object is complete
	 * and named by its hash, so it stays: another writer of the same
	 * object may already have found it and pointed a ref at it, and
	 * removing it would leave that ref dangling. The caller still fails,
	 * so no ref of ours moves to it. */
	free(path);
	return rc;
}

static int intact(struct sk_odb *odb, const struct sk_oid *oid)
{
	unsigned char *payload = NULL;
	size_t len = 0;
	enum sk_otype type;
	int rc = sk_odb_read(odb, oid, SK_OBJ_NONE, SK_ODB_VERIFY, &type, &payload, &len, NULL);
	free(payload);
	return rc == 0;
}

static int store_file(struct sk_odb *odb, const struct sk_oid *oid, const void *data,
		      size_t len, struct sk_err *err)
{
	/* A deferred object found in place may be one a power cut tore after
	 * its rename and before its syncfs: deferred writes (small objects)
	 * trust it only after reading it whole, and replace it otherwise. */
	if (stored(odb, oid) && (!odb->defer || intact(odb, oid)))
		return 0;
	struct tmpobj t;
	int rc = tmp_open(odb, &t, err);
	if (rc)
		return rc;
	rc = tmp_write(&t, data, len, err);
	if (rc) {
		tmp_discard(&t);
		return rc;
	}
	return tmp_commit(odb, &t, oid, err);
}

/* --- compression --------------------------------------------------- */

static int zstd_fail(struct sk_err *err, size_t code, const char *what)
{
	return sk_err_set(err, SK_EFAIL, NULL, "zstd: %s: %s", what, ZSTD_getErrorName(code));
}

static ZSTD_CCtx *cctx_new(int level, uint64_t total, int workers)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	if (!c)
		abort();
	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	/* Fails harmlessly on a single-threaded libzstd. */
	if (workers)
		ZSTD_CCtx_setParameter(c, ZSTD_c_nbWorkers, workers);
	ZSTD_CCtx_setPledgedSrcSize(c, total);
	return c;
}

static int feed(ZSTD_CCtx *c, ZSTD_outBuffer *o, const void *src, size_t len,
		ZSTD_EndDirective mode, struct sk_err *err)
{
	ZSTD_inBuffer in = { src, len, 0 };
	for (;;) {
		size_t r = ZSTD_compressStream2(c, o, &in, mode);
		if (ZSTD_isError(r))
			return zstd_fail(err, r, "compress");
		if (mode == ZSTD_e_end ? r == 0 : in.pos == in.size)
			return 0;
		if (o->pos == o->size)
			return sk_err_set(err, SK_EFAIL, NULL, "zstd: output buffer too small");
	}
}

/* Encodes header + payload into one frame, no checks. */
static int encode(enum sk_otype t, const void *payload, size_t len, unsigned char **out,
		  size_t *outlen, struct sk_err *err)
{
	char hdr[HDR_MAX];
	size_t hlen = sk_oid_header(hdr, t, len);
	size_t cap = ZSTD_compressBound(hlen + len);
	unsigned char *buf = malloc(cap);
	if (!buf)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory compressing %zu bytes", len);
	ZSTD_CCtx *c = cctx_new(t == SK_OBJ_BLOB ? LEVEL_BLOB : LEVEL_JSON, hlen + len, 0);
	ZSTD_outBuffer o = { buf, cap, 0 };
	int rc = feed(c, &o, hdr, hlen, ZSTD_e_continue, err);
	if (!rc)
		rc = feed(c, &o, payload, len, ZSTD_e_end, err);
	ZSTD_freeCCtx(c);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*outlen = o.pos;
	return 0;
}

static int check_payload(enum sk_otype t, const void *payload, size_t len, struct sk_err *err)
{
	if (t <= SK_OBJ_NONE || t >= SK_OBJ__COUNT)
		return sk_err_set(err, SK_EINVAL, NULL, "invalid object type %d", (int)t);
	uint64_t cap = sk_odb_max_size(t);
	if (len > cap)
		return sk_err_set(err, SK_ETOOBIG,
				  t == SK_OBJ_BLOB ? "raise SKIFF_MAX_OBJECT_BYTES or store it as a "
						     "chunked file" : NULL,
				  "%s of %zu bytes is above the %" PRIu64 "-byte limit",
				  sk_otype_name(t), len, cap);
	if (!sk_otype_is_json(t))
		return 0;
	json_t *doc = NULL;
	int rc = sk_cjson_parse(payload, len, &doc, err);
	json_decref(doc);
	if (rc)
		sk_err_wrap(err, "%s object is not canonical JSON", sk_otype_name(t));
	return rc;
}

int sk_obj_encode(enum sk_otype t, const void *payload, size_t len, unsigned char **out,
		  size_t *outlen, struct sk_err *err)
{
	int rc = check_payload(t, payload, len, err);
	return rc ? rc : encode(t, payload, len, out, outlen, err);
}

int sk_odb_write(struct sk_odb *odb, enum sk_otype t, const void *payload, size_t len,
		 struct sk_oid *out, struct sk_err *err)
{
	int rc = check_payload(t, payload, len, err);
	if (rc)
		return rc;
	struct sk_oid oid;
	sk_oid_hash(&oid, t, payload, len);
	if (out)
		*out = oid;
	if (!odb->defer && stored(odb, &oid)) /* deferred: store_file checks it */
		return 0;
	unsigned char *z;
	size_t zlen;
	rc = encode(t, payload, len, &z, &zlen, err);
	if (rc)
		return rc;
	rc = store_file(odb, &oid, z, zlen, err);
	free(z);
	return rc;
}

int sk_odb_write_json(struct sk_odb *odb, enum sk_otype t, const json_t *doc,
		      struct sk_oid *out, struct sk_err *err)
{
	if (!sk_otype_is_json(t))
		return sk_err_set(err, SK_EINVAL, NULL, "%s is not a JSON object type",
				  sk_otype_name(t));
	char *buf;
	size_t len;
	int rc = sk_cjson_dump(doc, &buf, &len, err);
	if (rc)
		return rc;
	rc = sk_odb_write(odb, t, buf, len, out, err);
	free(buf);
	return rc;
}

int sk_odb_write_raw(struct sk_odb *odb, const struct sk_oid *oid, const void *zbuf,
		     size_t zlen, struct sk_err *err)
{
	return store_file(odb, oid, zbuf, zlen, err);
}

/* --- reusable blob encoder ----------------------------------------- */

/* The header and payload are copied into one buffer and compressed in
 * one call: zstd's streaming path would copy the payload into its own
 * window buffer anyway, and then run its slower match finder for input
 * split over two buffers. (Random input needs no special case: zstd's
 * level 1 stores it in raw blocks at over 3 GB/s, and a hand-made frame
 * of raw blocks measured only about 10% faster.) */
struct sk_blob_enc {
	ZSTD_CCtx *c;
	unsigned char *in, *out;
	size_t in_cap, out_cap;
};

struct sk_blob_enc *sk_blob_enc_new(void)
{
	struct sk_blob_enc *e = calloc(1, sizeof(*e));
	if (!e)
		abort();
	e->c = cctx_new(LEVEL_BLOB, 0, 0);
	return e;
}

void sk_blob_enc_free(struct sk_blob_enc *e)
{
	if (!e)
		return;
	ZSTD_freeCCtx(e->c);
	free(e->in);
	free(e->out);
	free(e);
}

/* Makes *buf hold at least need bytes, page-aligned (so that
 * sk_odb_batch_put can write the output directly). */
static int enc_reserve(unsigned char **buf, size_t *cap, size_t need, struct sk_err *err)
{
	if (need <= *cap)
		return 0;
	void *p = NULL;
	free(*buf);
	*buf = posix_memalign(&p, DIRECT_ALIGN, need) == 0 ? p : NULL;
	*cap = *buf ? need : 0;
	return *buf ? 0 : sk_err_set(err, SK_ENOMEM, NULL, "out of memory compressing %zu bytes",
				     need);
}

int sk_blob_enc_run(struct sk_blob_enc *e, const void *payload, size_t len,
		    const unsigned char **out, size_t *outlen, struct sk_err *err)
{
	int rc = check_payload(SK_OBJ_BLOB, payload, len, err);
	if (rc)
		return rc;
	char hdr[HDR_MAX];
	size_t hlen = sk_oid_header(hdr, SK_OBJ_BLOB, len);
	if ((rc = enc_reserve(&e->in, &e->in_cap, hlen + len, err)) ||
	    (rc = enc_reserve(&e->out, &e->out_cap, ZSTD_compressBound(hlen + len), err)))
		return rc;
	memcpy(e->in, hdr, hlen);
	memcpy(e->in + hlen, payload, len);
	/* A new frame with the kept parameters (level, checksum; the content
	 * size is set from the input): the frame encode() makes. */
	size_t r = ZSTD_compress2(e->c, e->out, e->out_cap, e->in, hlen + len);
	if (ZSTD_isError(r))
		return zstd_fail(err, r, "compress");
	*out = e->out;
	*outlen = r;
	return 0;
}

/* --- batches: many new objects, two waits on the disk --------------- */

struct staged {
	struct sk_oid oid;
	char *tmp; /* the temp file once put; NULL once renamed or removed */
};

struct sk_odb_batch {
	struct sk_odb *odb;
	pthread_mutex_t mu;
	struct staged *v; /* claimed objects */
	size_t n, cap;
	size_t *set; /* open addressing by oid: index + 1 into v, 0 empty */
	size_t nset; /* a power of two, at least twice n */
};

struct sk_odb_batch *sk_odb_batch_new(struct sk_odb *odb)
{
	struct sk_odb_batch *b = calloc(1, sizeof(*b));
	if (!b)
		abort();
	b->odb = odb;
	pthread_mutex_init(&b->mu, NULL);
	return b;
}

/* Slot of oid in the set: where it is, or the empty slot it would take. */
static size_t set_slot(const struct sk_odb_batch *b, const struct sk_oid *oid)
{
	uint64_t h;
	memcpy(&h, oid->id, sizeof(h)); /* ids are SHA-256: already uniform */
	size_t i = (size_t)h & (b->nset - 1);
	while (b->set[i] && sk_oid_cmp(&b->v[b->set[i] - 1].oid, oid) != 0)
		i = (i + 1) & (b->nset - 1);
	return i;
}

/* Room for one more claim; called with mu held. */
static void batch_grow(struct sk_odb_batch *b)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 64;
		b->v = realloc(b->v, b->cap * sizeof(*b->v));
		if (!b->v)
			abort();
	}
	if (2 * (b->n + 1) <= b->nset)
		return;
	free(b->set);
	b->nset = b->nset ? 2 * b->nset : 128;
	b->set = calloc(b->nset, sizeof(*b->set));
	if (!b->set)
		abort();
	for (size_t i = 0; i < b->n; i++)
		b->set[set_slot(b, &b->v[i].oid)] = i + 1;
}

int sk_odb_batch_claim(struct sk_odb_batch *b, const struct sk_oid *oid)
{
	if (stored(b->odb, oid))
		return 0;
	pthread_mutex_lock(&b->mu);
	batch_grow(b);
	size_t i = set_slot(b, oid);
	int mine = b->set[i] == 0;
	if (mine) {
		b->v[b->n] = (struct staged){ *oid, NULL };
		b->set[i] = ++b->n;
	}
	pthread_mutex_unlock(&b->mu);
	return mine;
}

/* Writes the aligned head of a new object with O_DIRECT: the bytes go
 * from buf to the disk without a copy in the page cache, which costs
 * more than compressing them (the artifact's chunks are not read back
 * soon). 0 when written, -1 with errno on a write error, 1 when the file
 * system declines direct I/O (nothing written: the caller writes as
 * usual). */
static int write_direct(struct tmpobj *t, const void *buf, size_t len)
{
	int fl = fcntl(t->fd, F_GETFL);
	if (fl < 0 || (uintptr_t)buf % DIRECT_ALIGN || fcntl(t->fd, F_SETFL, fl | O_DIRECT) < 0)
		return 1;
	int rc = sk_fs_write_all(t->fd, buf, len);
	int e = errno;
	if (rc < 0 && e == EINVAL && lseek(t->fd, 0, SEEK_CUR) == 0)
		rc = 1; /* alignment refused before anything was written */
	if (fcntl(t->fd, F_SETFL, fl) < 0 && rc == 0) {
		rc = -1;
		e = errno;
	}
	errno = e;
	if (rc == 0)
		t->written = t->flushed = len;
	return rc;
}

int sk_odb_batch_put(struct sk_odb_batch *b, const struct sk_oid *oid, const void *zbuf,
		     size_t zlen, struct sk_err *err)
{
	struct tmpobj t;
	size_t head = zlen / DIRECT_MIN * DIRECT_MIN;
	int rc = tmp_open(b->odb, &t, err);
	int direct = rc || !head ? 1 : write_direct(&t, zbuf, head);
	if (direct < 0)
		rc = sk_err_errno(err, errno, "cannot write temporary object", t.path);
	else if (!rc)
		rc = direct ? tmp_write(&t, zbuf, zlen, err)
			    : tmp_write(&t, (const char *)zbuf + head, zlen - head, err);
	/* Start writing back what went through the page cache now, so the
	 * commit's syncfs finds little left to write; errors surface there. */
	if (!rc)
		sync_file_range(t.fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	if (!rc && close(t.fd) < 0)
		rc = sk_err_errno(err, errno, "cannot write temporary object", t.path);
	if (!rc)
		t.fd = -1;
	if (rc) {
		tmp_discard(&t);
		return rc;
	}
	pthread_mutex_lock(&b->mu);
	size_t i = b->set ? set_slot(b, oid) : 0;
	if (b->set && b->set[i])
		b->v[b->set[i] - 1].tmp = t.path;
	else
		rc = -1;
	pthread_mutex_unlock(&b->mu);
	if (rc) { /* not claimed: a caller bug; leave nothing behind */
		t.fd = -1;
		tmp_discard(&t);
		return sk_err_set(err, SK_EFAIL, NULL, "object was not claimed in its batch");
	}
	return 0;
}

static int batch_sync(int dfd, const char *dir, struct sk_err *err)
{
	if (sk_fs_syncfs(dfd) < 0)
		return sk_err_errno(err, errno, "cannot sync new objects", dir);
	return 0;
}

/* Renames every put object into place. */
static int batch_publish(struct sk_odb_batch *b, struct sk_err *err)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < b->n; i++) {
		struct staged *e = &b->v[i];
		if (!e->tmp)
			continue;
		char *path = sk_odb_path(b->odb, &e->oid);
		char *slash = strrchr(path, '/');
		int created;
		*slash = '\0';
		rc = make_fanout(path, &created, err);
		*slash = '/';
		if (!rc && sk_fs_rename(e->tmp, path) < 0)
			rc = sk_err_errno(err, errno, "cannot move object into place", path);
		if (!rc) {
			free(e->tmp);
			e->tmp = NULL;
		}
		free(path);
	}
	return rc;
}

int sk_odb_batch_commit(struct sk_odb_batch *b, struct sk_err *err)
{
	if (b->n == 0)
		return 0;
	int dfd = open(b->odb->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return sk_err_errno(err, errno, "cannot open", b->odb->dir);
	/* The temp files' bytes durable before any gets its name, then the
	 * names (and new fanout directories) durable before the caller
	 * writes anything that refers to them. */
	int rc = batch_sync(dfd, b->odb->dir, err);
	if (!rc)
		rc = batch_publish(b, err);
	if (!rc)
		rc = batch_sync(dfd, b->odb->dir, err);
	close(dfd);
	return rc;
}

void sk_odb_batch_free(struct sk_odb_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++) {
		if (b->v[i].tmp)
			unlink(b->v[i].tmp);
		free(b->v[i].tmp);
	}
	pthread_mutex_destroy(&b->mu);
	free(b->v);
	free(b->set);
	free(b);
}

/* --- streaming blobs from a file descriptor ------------------------ */

/* The hash worker's job: large blobs are hashed on a second thread
 * beside compression (writing) or decompression (reading). */
static void hash_job(void *hasher, const void *p, size_t n)
{
	sk_hasher_update(hasher, p, n);
}

struct blobw {
	struct sk_hasher *h;
	struct sk_worker *ht; /* large blobs: hashing beside compression */
	ZSTD_CCtx *c;      /* NULL when only hashing */
	struct tmpobj t;
	unsigned char *out;
	ZSTD_outBuffer o;
};

/* Compresses src, writing output to the temp file whenever the buffer
 * fills; with mode ZSTD_e_end, until the frame is complete. */
static int blobw_compress(struct blobw *w, const void *src, size_t len, ZSTD_EndDirective mode,
			  struct sk_err *err)
{
	ZSTD_inBuffer in = { src, len, 0 };
	for (;;) {
		size_t r = ZSTD_compressStream2(w->c, &w->o, &in, mode);
		if (ZSTD_isError(r))
			return zstd_fail(err, r, "compress");
		int done = mode == ZSTD_e_end ? r == 0 : in.pos == in.size;
		if (w->o.pos == w->o.size || (done && mode == ZSTD_e_end)) {
			int rc = tmp_write(&w->t, w->out, w->o.pos, err);
			if (rc)
				return rc;
			w->o.pos = 0;
		}
		if (done)
			return 0;
	}
}

static int blobw_chunk(struct blobw *w, const unsigned char *p, size_t n, struct sk_err *err)
{
	/* The hash thread (when there is one) hashes p while this thread
	 * compresses and writes it. */
	if (w->ht)
		sk_worker_give(w->ht, p, n);
	else
		sk_hasher_update(w->h, p, n);
	return w->c ? blobw_compress(w, p, n, ZSTD_e_continue, err) : 0;
}

static int blobw_start(struct sk_odb *odb, struct blobw *w, uint64_t len, int write,
		       struct sk_err *err)
{
	memset(w, 0, sizeof(*w));
	w->t.fd = -1;
	w->h = sk_hasher_new(SK_OBJ_BLOB, len);
	if (!write)
		return 0;
	int rc = tmp_open(odb, &w->t, err);
	if (rc)
		return rc;
	char hdr[HDR_MAX];
	size_t hlen = sk_oid_header(hdr, SK_OBJ_BLOB, len);
	w->c = cctx_new(LEVEL_BLOB, hlen + len, len > MT_THRESHOLD ? MT_WORKERS : 0);
	w->out = malloc(STREAM_OUT);
	if (!w->out)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	w->o = (ZSTD_outBuffer){ w->out, STREAM_OUT, 0 };
	return blobw_compress(w, hdr, hlen, ZSTD_e_continue, err);
}

static void blobw_free(struct blobw *w)
{
	tmp_discard(&w->t);
	sk_hasher_free(w->h);
	ZSTD_freeCCtx(w->c);
	free(w->out);
}

static int read_some(int fd, unsigned char *buf, size_t want, size_t *got, struct sk_err *err)
{
	ssize_t r;
	*got = 0;
	do
		r = read(fd, buf, want);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return sk_err_errno(err, errno, "cannot read input", NULL);
	*got = (size_t)r;
	return 0;
}

/* Reads into two buffers in turn, so the hash thread can hash one while
 * the next is read (see common/worker.c). */
static int blobw_pump(struct blobw *w, int fd, uint64_t len, struct sk_err *err)
{
	size_t cap = len < STREAM_IN ? (size_t)len + 1 : STREAM_IN;
	unsigned char *bufs = malloc(2 * cap);
	if (!bufs)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	if (w->c && len > MT_THRESHOLD)
		w->ht = sk_worker_start(hash_job, w->h);
	uint64_t done = 0;
	int rc = 0, which = 0;
	while (!rc && done < len) {
		unsigned char *buf = bufs + (which ^= 1) * cap;
		size_t want = len - done < cap ? (size_t)(len - done) : cap, got;
		rc = read_some(fd, buf, want, &got, err);
		if (!rc && got == 0)
			rc = sk_err_set(err, SK_EIO, "was the file changed while it was read?",
					"input ended after %" PRIu64 " of %" PRIu64 " bytes", done,
					len);
		if (!rc)
			rc = blobw_chunk(w, buf, got, err);
		done += rc ? 0 : got;
	}
	sk_worker_stop(w->ht); /* all of the input is hashed from here on */
	w->ht = NULL;
	free(bufs);
	return rc;
}

int sk_odb_write_fd(struct sk_odb *odb, int fd, uint64_t len, int write, struct sk_oid *out,
		    struct sk_err *err)
{
	uint64_t cap = sk_odb_max_size(SK_OBJ_BLOB);
	if (write && len > cap)
		return sk_err_set(err, SK_ETOOBIG,
				  "raise SKIFF_MAX_OBJECT_BYTES or store it as a chunked file",
				  "blob of %" PRIu64 " bytes is above the %" PRIu64 "-byte limit", len,
				  cap);
	struct blobw w;
	int rc = blobw_start(odb, &w, len, write, err);
	if (!rc)
		rc = blobw_pump(&w, fd, len, err);
	if (!rc && w.c)
		rc = blobw_compress(&w, NULL, 0, ZSTD_e_end, err);
	struct sk_oid oid;
	if (!rc) {
		sk_hasher_final(w.h, &oid);
		if (out)
			*out = oid;
	}
	if (!rc && w.c && !stored(odb, &oid))
		rc = tmp_commit(odb, &w.t, &oid, err);
	blobw_free(&w);
	return rc;
}

/* --- reading ------------------------------------------------------- */

/* Compressed input: a file read in pieces, or a buffer in memory. */
struct zsrc {
	int fd; /* -1 for memory */
	unsigned char *buf;
	size_t cap;
	ZSTD_inBuffer in;
	int eof;
};

struct zdec {
	ZSTD_DCtx *d;
	struct zsrc src;
	unsigned long long fcs; /* frame content size or ZSTD_CONTENTSIZE_UNKNOWN */
	int done;               /* the frame has ended */
	char name[SK_OID_HEXSZ + 16];
};

static int src_fill(struct zsrc *s, struct sk_err *err)
{
	if (s->in.pos < s->in.size || s->eof)
		return 0;
	if (s->fd < 0) {
		s->eof = 1;
		return 0;
	}
	size_t got;
	int rc = read_some(s->fd, s->buf, s->cap, &got, err);
	if (rc)
		return rc;
	s->in = (ZSTD_inBuffer){ s->buf, got, 0 };
	s->eof = got == 0;
	return 0;
}

static int corrupt(const struct zdec *z, struct sk_err *err, const char *why)
{
	return sk_err_set(err, SK_ECORRUPT, fsck_hint, "object %s is corrupt: %s", z->name, why);
}

static int too_long(const struct zdec *z, uint64_t declared, struct sk_err *err)
{
	return sk_err_set(err, SK_ETOOBIG, fsck_hint,
			  "object %s holds more than the %" PRIu64 " bytes its header declares",
			  z->name, declared);
}

static void dec_init(struct zdec *z, const char *name)
{
	memset(z, 0, sizeof(*z));
	z->src.fd = -1;
	snprintf(z->name, sizeof(z->name), "%s", name);
}

static void dec_free(struct zdec *z)
{
	ZSTD_freeDCtx(z->d);
	free(z->src.buf);
	if (z->src.fd >= 0)
		close(z->src.fd);
}

/* Checks the frame header before anything is decompressed. */
static int dec_begin(struct zdec *z, struct sk_err *err)
{
	int rc = src_fill(&z->src, err);
	if (rc)
		return rc;
	const unsigned char *p = (const unsigned char *)z->src.in.src + z->src.in.pos;
	size_t avail = z->src.in.size - z->src.in.pos;
	if (avail < 4 || p[0] != 0x28 || p[1] != 0xb5 || p[2] != 0x2f || p[3] != 0xfd)
		return corrupt(z, err, "not a zstd frame");
	z->fcs = ZSTD_getFrameContentSize(p, avail);
	if (z->fcs == ZSTD_CONTENTSIZE_ERROR)
		return corrupt(z, err, "bad zstd frame header");
	if (z->fcs != ZSTD_CONTENTSIZE_UNKNOWN && z->fcs > HDR_MAX + largest_cap())
		return sk_err_set(err, SK_ETOOBIG, fsck_hint,
				  "object %s claims %llu bytes, above every size limit", z->name,
				  z->fcs);
	z->d = ZSTD_createDCtx();
	if (!z->d)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	ZSTD_DCtx_setParameter(z->d, ZSTD_d_windowLogMax, WINDOW_LOG_MAX);
	return 0;
}

/* Decompresses into dst until it is full or the frame ends. */
static int dec_read(struct zdec *z, void *dst, size_t cap, size_t *got, struct sk_err *err)
{
	ZSTD_outBuffer o = { dst, cap, 0 };
	while (o.pos < o.size && !z->done) {
		int rc = src_fill(&z->src, err);
		if (rc)
			return rc;
		size_t in0 = z->src.in.pos, out0 = o.pos;
		size_t r = ZSTD_decompressStream(z->d, &o, &z->src.in);
		if (ZSTD_isError(r)) {
			char why[128];
			snprintf(why, sizeof(why), "zstd: %s", ZSTD_getErrorName(r));
			return corrupt(z, err, why);
		}
		if (r == 0)
			z->done = 1;
		else if (z->src.in.pos == in0 && o.pos == out0 &&
			 (z->src.eof || z->src.in.pos < z->src.in.size))
			return corrupt(z, err, "truncated zstd frame");
	}
	*got = o.pos;
	return 0;
}

/* The frame must end exactly here, with nothing after it. */
static int dec_finish(struct zdec *z, uint64_t declared, struct sk_err *err)
{
	unsigned char extra;
	size_t got = 0;
	while (!z->done) {
		int rc = dec_read(z, &extra, 1, &got, err);
		if (rc)
			return rc;
		if (got)
			return too_long(z, declared, err);
	}
	if (z->src.in.pos == z->src.in.size && !z->src.eof) {
		int rc = src_fill(&z->src, err);
		if (rc)
			return rc;
	}
	if (z->src.in.pos < z->src.in.size)
		return corrupt(z, err, "trailing bytes after the zstd frame");
	return 0;
}

static int parse_len(const char *s, uint64_t *out)
{
	size_t n = strlen(s);
	if (n == 0 || n > 20 || (s[0] == '0' && n > 1))
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

struct objhdr {
	enum sk_otype type;
	uint64_t len;
	size_t hlen;
};

static int parse_header(const struct zdec *z, const char *b, size_t n, struct objhdr *h,
			struct sk_err *err)
{
	const char *nul = memchr(b, '\0', n < HDR_MAX ? n : HDR_MAX);
	if (!nul)
		return corrupt(z, err, "no object header");
	const char *sp = memchr(b, ' ', (size_t)(nul - b));
	if (!sp)
		return corrupt(z, err, "malformed object header");
	char tname[HDR_MAX];
	memcpy(tname, b, (size_t)(sp - b));
	tname[sp - b] = '\0';
	h->type = sk_otype_parse(tname);
	if (h->type == SK_OBJ_NONE)
		return corrupt(z, err, "unknown object type in header");
	if (parse_len(sp + 1, &h->len) < 0)
		return corrupt(z, err, "malformed length in object header");
	h->hlen = (size_t)(nul - b) + 1;
	uint64_t cap = sk_odb_max_size(h->type);
	if (h->len > cap)
		return sk_err_set(err, SK_ETOOBIG,
				  h->type == SK_OBJ_BLOB ? "raise SKIFF_MAX_OBJECT_BYTES to read it"
							 : fsck_hint,
				  "object %s declares a %s of %" PRIu64
				  " bytes, above the %" PRIu64 "-byte limit",
				  z->name, sk_otype_name(h->type), h->len, cap);
	uint64_t total = h->hlen + h->len;
	if (z->fcs != ZSTD_CONTENTSIZE_UNKNOWN && z->fcs > total)
		return sk_err_set(err, SK_ETOOBIG, fsck_hint,
				  "object %s: frame holds %llu bytes, header declares %" PRIu64,
				  z->name, z->fcs, total);
	if (z->fcs != ZSTD_CONTENTSIZE_UNKNOWN && z->fcs < total)
		return corrupt(z, err, "frame is shorter than its header declares");
	return 0;
}

/* Decompresses and checks the header; hdr/got receive the first bytes. */
static int dec_header(struct zdec *z, char hdr[HDR_MAX], size_t *got, struct objhdr *h,
		      struct sk_err *err)
{
	int rc = dec_begin(z, err);
	if (!rc)
		rc = dec_read(z, hdr, HDR_MAX, got, err);
	if (!rc)
		rc = parse_header(z, hdr, *got, h, err);
	return rc;
}

static int check_type(const struct zdec *z, enum sk_otype got, enum sk_otype expect,
		      struct sk_err *err)
{
	if (expect == SK_OBJ_NONE || got == expect)
		return 0;
	return sk_err_set(err, SK_EINVAL, NULL, "object %s is a %s, not a %s", z->name,
			  sk_otype_name(got), sk_otype_name(expect));
}

/* Payload bytes that came with the header read: at most what it declares. */
static int hdr_rest(const struct zdec *z, const struct objhdr *h, size_t got, size_t *have,
		    struct sk_err *err)
{
	*have = got - h->hlen;
	return *have > h->len ? too_long(z, h->len, err) : 0;
}

/* Reads the rest of the payload into a buffer that grows only as real
 * output arrives, unless the frame has already vouched for the size. */
static int dec_payload(struct zdec *z, const struct objhdr *h, const char *hdr, size_t got,
		       unsigned char **out, struct sk_err *err)
{
	size_t have;
	int rc = hdr_rest(z, h, got, &have, err);
	if (rc)
		return rc;
	size_t len = (size_t)h->len;
	size_t cap = z->fcs != ZSTD_CONTENTSIZE_UNKNOWN || len < (1u << 20) ? len : (1u << 20);
	unsigned char *buf = malloc(cap + 1);
	if (!buf)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory reading %zu bytes", len);
	memcpy(buf, hdr + h->hlen, have);
	while (have < len && !z->done) {
		if (have == cap) {
			cap = cap > len / 2 ? len : cap * 2;
			unsigned char *nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
			}
			buf = nb;
		}
		size_t n;
		rc = dec_read(z, buf + have, cap - have, &n, err);
		if (rc) {
			free(buf);
			return rc;
		}
		have += n;
	}
	if (have < len) {
		free(buf);
		return corrupt(z, err, "payload shorter than its header declares");
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
}

struct readopts {
	enum sk_otype expect;
	const struct sk_oid *want; /* recompute and compare the id */
	int check_json;            /* JSON types must be canonical */
};

/* A stored JSON payload that fails the canonical check is corrupt, not
 * merely invalid input: keep the parser's message, change the code. */
static int as_corrupt(struct sk_err *err, const char *name)
{
	if (err)
		err->code = SK_ECORRUPT;
	sk_err_wrap(err, "object %s is corrupt: JSON payload", name);
	if (err)
		snprintf(err->hint, sizeof(err->hint), "%s", fsck_hint);
	return SK_ECORRUPT;
}

static int check_id(const struct zdec *z, const struct sk_oid *want, const struct sk_oid *got,
		    struct sk_err *err)
{
	if (sk_oid_cmp(got, want) == 0)
		return 0;
	char hex[SK_OID_HEXSZ + 1];
	return sk_err_set(err, SK_ECORRUPT, fsck_hint,
			  "hash mismatch: object %s holds the content of %s", z->name,
			  sk_oid_tohex(got, hex));
}

static int verify_payload(const struct zdec *z, const struct readopts *o, enum sk_otype t,
			  const unsigned char *p, size_t len, struct sk_err *err)
{
	if (o->want) {
		struct sk_oid id;
		sk_oid_hash(&id, t, p, len);
		int rc = check_id(z, o->want, &id, err);
		if (rc)
			return rc;
	}
	if (o->check_json && sk_otype_is_json(t)) {
		json_t *doc = NULL;
		int rc = sk_cjson_parse(p, len, &doc, err);
		json_decref(doc);
		if (rc)
			return as_corrupt(err, z->name);
	}
	return 0;
}

/* What every read does before the payload: frame and header checks,
 * then the type the caller expects. */
static int dec_start(struct zdec *z, enum sk_otype expect, char hdr[HDR_MAX], size_t *got,
		     struct objhdr *h, struct sk_err *err)
{
	int rc = dec_header(z, hdr, got, h, err);
	return rc ? rc : check_type(z, h->type, expect, err);
}

/* The rest of a whole read: payload into memory, frame end, checks. */
static int dec_whole(struct zdec *z, const struct readopts *o, const struct objhdr *h,
		     const char *hdr, size_t got, unsigned char **out, struct sk_err *err)
{
	unsigned char *buf = NULL;
	int rc = dec_payload(z, h, hdr, got, &buf, err);
	if (!rc)
		rc = dec_finish(z, h->len, err);
	if (!rc)
		rc = verify_payload(z, o, h->type, buf, (size_t)h->len, err);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	return 0;
}

static int dec_object(struct zdec *z, const struct readopts *o, enum sk_otype *type,
		      unsigned char **payload, size_t *len, struct sk_err *err)
{
	char hdr[HDR_MAX];
	size_t got = 0;
	struct objhdr h;
	unsigned char *buf = NULL;
	int rc = dec_start(z, o->expect, hdr, &got, &h, err);
	if (!rc)
		rc = dec_whole(z, o, &h, hdr, got, &buf, err);
	if (rc)
		return rc;
	if (type)
		*type = h.type;
	if (len)
		*len = (size_t)h.len;
	if (payload)
		*payload = buf;
	else
		free(buf);
	return 0;
}

static int dec_open_file(struct sk_odb *odb, struct zdec *z, const struct sk_oid *oid,
			 struct sk_err *err)
{
	char hex[SK_OID_HEXSZ + 1];
	dec_init(z, sk_oid_tohex(oid, hex));
	char *path = sk_odb_path(odb, oid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && odb->miss) {
		int rc = fill_miss(odb, oid, err);
		if (rc && rc != SK_ENOTFOUND) {
			free(path);
			return rc;
		}
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		int rc = errno == ENOENT
			? sk_err_set(err, SK_ENOTFOUND,
				     "fetch it from a remote, or check the id with `skiff rev-parse`",
				     "object %s not found", hex)
			: sk_err_errno(err, errno, "cannot open object", path);
		free(path);
		return rc;
	}
	free(path);
	z->src.fd = fd;
	struct stat st;
	size_t cap = READ_BUF_MAX;
	if (fstat(fd, &st) == 0 && st.st_size >= 0 && (uint64_t)st.st_size < cap)
		cap = (size_t)st.st_size + 1;
	z->src.buf = malloc(cap);
	if (!z->src.buf)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	z->src.cap = cap;
	return 0;
}

int sk_odb_read_header(struct sk_odb *odb, const struct sk_oid *oid, enum sk_otype *type,
		       uint64_t *size, struct sk_err *err)
{
	struct zdec z;
	int rc = dec_open_file(odb, &z, oid, err);
	char hdr[HDR_MAX];
	size_t got = 0;
	struct objhdr h;
	if (!rc)
		rc = dec_header(&z, hdr, &got, &h, err);
	dec_free(&z);
	if (rc)
		return rc;
	if (type)
		*type = h.type;
	if (size)
		*size = h.len;
	return 0;
}

static int read_with(struct sk_odb *odb, const struct sk_oid *oid, const struct readopts *o,
		     enum sk_otype *type, unsigned char **payload, size_t *len,
		     struct sk_err *err)
{
	struct zdec z;
	int rc = dec_open_file(odb, &z, oid, err);
	if (!rc)
		rc = dec_object(&z, o, type, payload, len, err);
	dec_free(&z);
	return rc;
}

int sk_odb_read(struct sk_odb *odb, const struct sk_oid *oid, enum sk_otype expect,
		unsigned flags, enum sk_otype *type, unsigned char **payload, size_t *len,
		struct sk_err *err)
{
	int verify = (flags & SK_ODB_VERIFY) != 0;
	struct readopts o = { expect, verify ? oid : NULL, verify };
	return read_with(odb, oid, &o, type, payload, len, err);
}

int sk_odb_read_json(struct sk_odb *odb, const struct sk_oid *oid, enum sk_otype expect,
		     unsigned flags, json_t **out, struct sk_err *err)
{
	if (expect != SK_OBJ_NONE && !sk_otype_is_json(expect))
		return sk_err_set(err, SK_EINVAL, NULL, "%s is not a JSON object type",
				  sk_otype_name(expect));
	/* The parse below is the canonical-form check, so skip it in read. */
	struct readopts o = { expect, (flags & SK_ODB_VERIFY) ? oid : NULL, 0 };
	enum sk_otype t;
	unsigned char *p;
	size_t len;
	int rc = read_with(odb, oid, &o, &t, &p, &len, err);
	if (rc)
		return rc;
	char hex[SK_OID_HEXSZ + 1];
	sk_oid_tohex(oid, hex);
	if (!sk_otype_is_json(t))
		rc = sk_err_set(err, SK_EINVAL, NULL, "object %s is a %s, not a JSON object", hex,
				sk_otype_name(t));
	else if (sk_cjson_parse(p, len, out, err) != 0)
		rc = as_corrupt(err, hex);
	free(p);
	return rc;
}

/* --- streaming reads ----------------------------------------------- */

/* A blob on its way out: where its bytes go and how its id is rebuilt. */
struct zstream {
	int (*sink)(const void *buf, size_t len, void *arg);
	void *arg;
	struct sk_hasher *h;
	struct sk_worker *ht; /* large blobs: hashing beside decompression */
};

/* Hands bytes to the sink. A sink that stops without filling err (it
 * may, through its arg) gets a generic message, so a failure always
 * comes with one. */
static int stream_sink(const struct zdec *z, const struct zstream *s, const void *p, size_t n,
		       struct sk_err *err)
{
	if (!s->sink || n == 0)
		return 0;
	if (err)
		err->code = 0;
	int rc = s->sink(p, n, s->arg);
	if (rc && err && err->code == 0)
		sk_err_set(err, rc, NULL, "reading object %s: the output stopped", z->name);
	return rc;
}

static int stream_chunk(const struct zdec *z, struct zstream *s, const void *p, size_t n,
			struct sk_err *err)
{
	/* The hash thread (when there is one) hashes p while the sink reads
	 * it; neither writes to it. */
	if (s->ht)
		sk_worker_give(s->ht, p, n);
	else
		sk_hasher_update(s->h, p, n);
	return stream_sink(z, s, p, n, err);
}

/* Decompresses the payload in chunks of at most STREAM_CHUNK into two
 * buffers in turn, so the hash thread hashes one while the next fills.
 * Like dec_payload it never asks for more than the header declares;
 * dec_finish then checks that the frame ends there. */
static int stream_payload(struct zdec *z, const struct objhdr *h, const char *hdr, size_t got,
			  struct zstream *s, struct sk_err *err)
{
	size_t have;
	int rc = hdr_rest(z, h, got, &have, err);
	if (!rc)
		rc = stream_chunk(z, s, hdr + h->hlen, have, err); /* hashed inline */
	uint64_t done = have;
	if (rc || done == h->len)
		return rc;
	size_t piece = h->len > STREAM_MT_THRESHOLD ? STREAM_PIECE : STREAM_CHUNK;
	size_t cap = h->len - done < piece ? (size_t)(h->len - done) : piece;
	unsigned char *bufs = malloc(2 * cap);
	if (!bufs)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	if (h->len > STREAM_MT_THRESHOLD)
		s->ht = sk_worker_start(hash_job, s->h);
	int which = 0;
	while (!rc && done < h->len && !z->done) {
		unsigned char *buf = bufs + (which ^= 1) * cap;
		uint64_t left = h->len - done;
		size_t n = 0;
		rc = dec_read(z, buf, left < cap ? (size_t)left : cap, &n, err);
		if (!rc)
			rc = stream_chunk(z, s, buf, n, err);
		done += n;
	}
	sk_worker_stop(s->ht); /* all of the payload is hashed from here on */
	s->ht = NULL;
	free(bufs);
	if (!rc && done < h->len)
		rc = corrupt(z, err, "payload shorter than its header declares");
	return rc;
}

static int stream_blob(struct zdec *z, const struct sk_oid *want, const struct objhdr *h,
		       const char *hdr, size_t got, struct zstream *s, struct sk_err *err)
{
	s->h = sk_hasher_new(h->type, h->len);
	int rc = stream_payload(z, h, hdr, got, s, err);
	if (!rc)
		rc = dec_finish(z, h->len, err);
	if (!rc) {
		struct sk_oid id;
		sk_hasher_final(s->h, &id);
		rc = check_id(z, want, &id, err);
	}
	sk_hasher_free(s->h);
	s->h = NULL;
	return rc;
}

static int dec_stream(struct zdec *z, const struct sk_oid *oid, enum sk_otype expect,
		      struct zstream *s, enum sk_otype *type, uint64_t *size, struct sk_err *err)
{
	char hdr[HDR_MAX];
	size_t got = 0;
	struct objhdr h;
	int rc = dec_start(z, expect, hdr, &got, &h, err);
	if (rc)
		return rc;
	if (sk_otype_is_json(h.type)) {
		/* Capped at SK_CJSON_MAX, and the canonical check needs the
		 * whole document: read it whole, verify, then hand it over. */
		struct readopts o = { expect, oid, 1 };
		unsigned char *buf = NULL;
		rc = dec_whole(z, &o, &h, hdr, got, &buf, err);
		if (!rc)
			rc = stream_sink(z, s, buf, (size_t)h.len, err);
		free(buf);
	} else {
		rc = stream_blob(z, oid, &h, hdr, got, s, err);
	}
	if (rc)
		return rc;
	if (type)
		*type = h.type;
	if (size)
		*size = h.len;
	return 0;
}

int sk_odb_stream(struct sk_odb *odb, const struct sk_oid *oid, enum sk_otype expect,
		  int (*sink)(const void *buf, size_t len, void *arg), void *arg,
		  enum sk_otype *type, uint64_t *size, struct sk_err *err)
{
	struct zdec z;
	struct zstream s = { sink, arg, NULL, NULL };
	int rc = dec_open_file(odb, &z, oid, err);
	if (!rc)
		rc = dec_stream(&z, oid, expect, &s, type, size, err);
	dec_free(&z);
	return rc;
}

int sk_obj_decode(const void *zbuf, size_t zlen, const struct sk_oid *expect,
		  enum sk_otype *type, unsigned char **payload, size_t *len, struct sk_err *err)
{
	struct zdec z;
	char hex[SK_OID_HEXSZ + 1];
	dec_init(&z, expect ? sk_oid_tohex(expect, hex) : "from the wire");
	z.src.in = (ZSTD_inBuffer){ zbuf, zlen, 0 };
	z.src.eof = 1;
	struct readopts o = { SK_OBJ_NONE, expect, 1 };
	int rc = dec_object(&z, &o, type, payload, len, err);
	dec_free(&z);
	return rc;
}

/* --- listing ------------------------------------------------------- */

/* True for a file name in ab/ that can be an object: 62 lowercase hex. */
static int object_name(const char *name)
{
	size_t i = 0;
	for (; name[i]; i++)
		if (i >= SK_OID_HEXSZ - 2 || !((name[i] >= '0' && name[i] <= '9') ||
					       (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return i == SK_OID_HEXSZ - 2;
}

/* Calls fn for each object in fanout directory ab (0..255). */
static int scan_fanout(struct sk_odb *odb, unsigned ab, const char *rest_prefix,
		       int (*fn)(const struct sk_oid *, void *), void *arg, struct sk_err *err)
{
	char sub[4], hex[SK_OID_HEXSZ + 1];
	snprintf(sub, sizeof(sub), "%02x", ab);
	char *dir = sk_path_join(odb->dir, sub);
	DIR *d = opendir(dir);
	if (!d) {
		int rc = errno == ENOENT ? 0 : sk_err_errno(err, errno, "cannot list", dir);
		free(dir);
		return rc;
	}
	size_t plen = strlen(rest_prefix);
	int rc = 0;
	struct dirent *e;
	while (!rc && (e = readdir(d)) != NULL) {
		if (!object_name(e->d_name) || strncmp(e->d_name, rest_prefix, plen) != 0)
			continue;
		memcpy(hex, sub, 2);
		memcpy(hex + 2, e->d_name, SK_OID_HEXSZ - 2 + 1);
		struct sk_oid oid;
		sk_oid_fromhex(&oid, hex, NULL);
		rc = fn(&oid, arg);
	}
	closedir(d);
	free(dir);
	return rc;
}

int sk_odb_list_temp(struct sk_odb *odb, json_t **out, struct sk_err *err)
{
	DIR *d = opendir(odb->dir);
	if (!d)
		return sk_err_errno(err, errno, "cannot read", odb->dir);
	json_t *list = json_array();
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "incoming.tmp.", 13) != 0)
			continue;
		char *p = sk_path_join(odb->dir, e->d_name);
		json_array_append_new(list, json_string(p));
		free(p);
	}
	closedir(d);
	*out = list;
	return 0;
}

int sk_odb_foreach(struct sk_odb *odb, int (*fn)(const struct sk_oid *, void *), void *arg,
		   struct sk_err *err)
{
	for (unsigned ab = 0; ab < 256; ab++) {
		int rc = scan_fanout(odb, ab, "", fn, arg, err);
		if (rc)
			return rc;
	}
	return 0;
}

struct prefix_match {
	size_t n;
	struct sk_oid first, second;
};

static int note_match(const struct sk_oid *oid, void *arg)
{
	struct prefix_match *m = arg;
	if (m->n == 0)
		m->first = *oid;
	else if (m->n == 1)
		m->second = *oid;
	m->n++;
	return 0;
}

int sk_odb_resolve_prefix(struct sk_odb *odb, const char *prefix, struct sk_oid *out,
			  struct sk_err *err)
{
	char q[96];
	if (!sk_oid_is_prefix(prefix))
		return sk_err_set(err, SK_EINVAL, "give at least 8 lowercase hex digits",
				  "\"%s\" is not an object id or prefix",
				  sk_cjson_quote(prefix ? prefix : "", prefix ? strlen(prefix) : 0, q,
						 sizeof(q)));
	struct prefix_match m = { 0 };
	unsigned char ab;
	char first[3] = { prefix[0], prefix[1], '\0' };
	sk_unhex(first, &ab, 1);
	int rc = scan_fanout(odb, ab, prefix + 2, note_match, &m, err);
	if (rc)
		return rc;
	if (m.n == 0)
		return sk_err_set(err, SK_ENOTFOUND, "fetch from a remote, or check the id",
				  "no object matches %s", prefix);
	if (m.n > 1) {
		char a[SK_OID_HEXSZ + 1], b[SK_OID_HEXSZ + 1];
		return sk_err_set(err, SK_EAMBIGUOUS, "give more hex digits",
				  "prefix %s is ambiguous: %zu objects match (%s, %s%s)", prefix,
				  m.n, sk_oid_tohex(&m.first, a), sk_oid_tohex(&m.second, b),
				  m.n > 2 ? ", …" : "");
	}
	*out = m.first;
	return 0;
}

int sk_odb_defer(struct sk_odb *odb, int on)
{
	int was = odb->defer;
	odb->defer = on;
	return was;
}

int sk_odb_flush(struct sk_odb *odb, struct sk_err *err)
{
	int fd = sk_fs_open(odb->dir, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return sk_err_errno(err, errno, "cannot open", odb->dir);
	int rc = sk_fs_syncfs(fd) < 0 ? sk_err_errno(err, errno, "cannot sync", odb->dir) : 0;
	close(fd);
	if (rc == 0)
		odb->pending = 0;
	return rc;
}

size_t sk_odb_pending(const struct sk_odb *odb)
{
	return odb->pending;
}
