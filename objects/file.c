/*
 * File objects: chunked storage of large artifacts (see objects/file.h
 * for the document). Owns the document's validation, the store pipeline,
 * and verification and reassembly.
 *
 * Invariants: no chunk blob becomes visible before its bytes are durable,
 * and the file object naming them is written only after every one is
 * (sk_odb_batch: temp files, one syncfs, renames, one more syncfs); a
 * store holds three 16 MiB read slabs plus, per writer, a chunk's
 * encoder buffers (about 80 MiB in all), whatever the artifact's size;
 * extract never leaves a partial file at its destination.
 *
 * Speed: every byte is SHA-256'd twice (the chunk's id, the whole-artifact
 * digest), so the work is spread over threads sharing the read slabs
 * without copies: this thread reads and cuts; a digest thread hashes each
 * block in read order; WRITERS chunk writers take chunks from a queue,
 * hash each one's id and, when it is new, compress it and write it to a
 * temp file without waiting for the disk. A slab is read into again only
 * once no queued or running job points into it, so nothing waits for all
 * threads to be idle. Chunk ids are hashed with common/sha256.h directly
 * (header form from sk_oid_header), so the digest code is chosen once
 * per store. Reading back: see struct walk.
 */
#include "objects/file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/sha256.h"
#include "common/worker.h"
#include "objects/chunker.h"
#include "objects/cjson.h"

#define SLAB ((size_t)16 << 20)       /* one read slab */
#define SLABS 3
#define READ_BLOCK ((size_t)2 << 20) /* bytes per read() */
/* Queue lengths: more than three slabs can hold (chunks are at least
 * SK_CDC_MIN but for the last; a read may be short, so blocks wait). */
#define CHUNK_Q 256
#define BLOCK_Q 64
/* Chunk writers: hashing and compressing a chunk costs about as much as
 * the digest and the cutting together, so two keep both cores busy; a
 * third covers a writer waiting in write(). */
#define WRITERS 3

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

static void chunk_id(struct sk_sha256 *ctx, const unsigned char *p, size_t n, struct sk_oid *out)
{
	char hdr[32];
	sk_sha256_init(ctx);
	sk_sha256_update(ctx, hdr, sk_oid_header(hdr, SK_OBJ_BLOB, n));
	sk_sha256_update(ctx, p, n);
	sk_sha256_final(ctx, out->id);
}

/* --- storing ------------------------------------------------------- */

/* A piece of a slab handed to a thread: a block read (for the digest) or
 * a chunk (for a writer, idx its place in the file). */
struct job {
	const unsigned char *p;
	size_t n, idx;
	unsigned slab;
};

/* What one chunk writer keeps between chunks. */
struct writer {
	struct sk_sha256 *ctx;
	struct sk_blob_enc *enc;
};

struct store {
	struct sk_odb *odb;
	struct sk_odb_batch *batch;
	int fd;
	int dry; /* sk_file_plan: name and count chunks, write nothing */
	int eof;
	uint64_t read_total;
	struct stat st0; /* fstat before reading; st_mode 0 when not regular */
	struct sk_sha256 *digest;

	/* Everything below is shared with the threads and guarded by mu.
	 * Each kind of waiter has its own condition, so a finished chunk
	 * wakes the reader alone: writers wait on work, the digest thread
	 * on blocks_cv, this thread on done (queue room, a free slab). */
	pthread_mutex_t mu;
	pthread_cond_t work, blocks_cv, done;
	unsigned char *slab[SLABS];
	unsigned refs[SLABS]; /* queued or running jobs in each slab */
	unsigned cur;         /* the slab being read into */
	size_t start, end;    /* its unconsumed bytes: [start, end) */
	struct job blocks[BLOCK_Q], jobs[CHUNK_Q]; /* FIFO rings */
	size_t bhead, btail, jhead, jtail;
	int closing; /* no more jobs: threads exit once their queue is empty */
	int rc;      /* the first error of any thread */
	struct sk_err err;
	struct sk_file f;
	unsigned char *fresh; /* per chunk: written by this store */
	size_t cap;

	pthread_t digest_th, writer_th[WRITERS];
	int digest_threaded;
	unsigned nwriters; /* threads running; 0: chunks are written inline */
	struct writer inline_w;
};

static int changed(struct sk_err *err, const char *why)
{
	return sk_err_set(err, SK_ECONFLICT, "retry once the file is stable",
			  "the artifact changed while it was read (%s)", why);
}

static void writer_init(struct writer *w)
{
	w->ctx = sk_sha256_new();
	w->enc = sk_blob_enc_new();
}

static void writer_fini(struct writer *w)
{
	sk_sha256_free(w->ctx);
	sk_blob_enc_free(w->enc);
}

/* Names one chunk and, unless it is stored already or by another writer
 * of this store, compresses it into a temp file of the batch. */
static int write_chunk(struct store *s, struct writer *w, const struct job *j,
		       struct sk_oid *oid, unsigned char *fresh, struct sk_err *err)
{
	const unsigned char *z;
	size_t zlen;
	chunk_id(w->ctx, j->p, j->n, oid);
	*fresh = 0;
	if (!sk_odb_batch_claim(s->batch, oid))
		return 0;
	if (s->dry) {
		*fresh = 1;
		return 0;
	}
	int rc = sk_blob_enc_run(w->enc, j->p, j->n, &z, &zlen, err);
	if (!rc)
		rc = sk_odb_batch_put(s->batch, oid, z, zlen, err);
	*fresh = !rc;
	return rc;
}

/* Records a finished chunk job; called with mu held. */
static void chunk_done(struct store *s, const struct job *j, const struct sk_oid *oid,
		       unsigned char fresh, int rc, const struct sk_err *err)
{
	s->f.chunks[j->idx].oid = *oid;
	s->fresh[j->idx] = fresh;
	if (rc && !s->rc) {
		s->rc = rc;
		s->err = *err;
	}
}

static void *writer_main(void *arg)
{
	struct store *s = arg;
	struct writer w;
	writer_init(&w);
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (s->jhead == s->jtail && !s->closing)
			pthread_cond_wait(&s->work, &s->mu);
		if (s->jhead == s->jtail)
			break;
		struct job j = s->jobs[s->jhead++ % CHUNK_Q];
		int skip = s->rc != 0; /* the store has failed: only drain */
		pthread_mutex_unlock(&s->mu);
		struct sk_oid oid = { { 0 } };
		unsigned char fresh = 0;
		struct sk_err err;
		int rc = skip ? 0 : write_chunk(s, &w, &j, &oid, &fresh, &err);
		pthread_mutex_lock(&s->mu);
		chunk_done(s, &j, &oid, fresh, rc, &err);
		s->refs[j.slab]--;
		pthread_cond_signal(&s->done);
	}
	pthread_mutex_unlock(&s->mu);
	writer_fini(&w);
	return NULL;
}

/* The whole-artifact digest: blocks in the order they were read. */
static void *digest_main(void *arg)
{
	struct store *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (s->bhead == s->btail && !s->closing)
			pthread_cond_wait(&s->blocks_cv, &s->mu);
		if (s->bhead == s->btail)
			break;
		struct job b = s->blocks[s->bhead % BLOCK_Q];
		pthread_mutex_unlock(&s->mu);
		sk_sha256_update(s->digest, b.p, b.n);
		pthread_mutex_lock(&s->mu);
		s->bhead++;
		s->refs[b.slab]--;
		pthread_cond_signal(&s->done);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Queues a job on ring q (cap slots, tail *tail, head *head), waiting
 * while it is full, and wakes one thread waiting on wake; the job holds
 * its slab until a thread is done. */
static void enqueue(struct store *s, struct job *q, size_t cap, size_t *head, size_t *tail,
		    const struct job *j, pthread_cond_t *wake)
{
	pthread_mutex_lock(&s->mu);
	while (*tail - *head == cap)
		pthread_cond_wait(&s->done, &s->mu);
	s->refs[j->slab]++;
	q[(*tail)++ % cap] = *j;
	pthread_cond_signal(wake);
	pthread_mutex_unlock(&s->mu);
}

/* Continues reading in the next slab once no job uses it any more; the
 * unconsumed bytes move along (up to SK_CDC_MAX + READ_BLOCK). */
static void next_slab(struct store *s)
{
	unsigned next = (s->cur + 1) % SLABS;
	pthread_mutex_lock(&s->mu);
	while (s->refs[next])
		pthread_cond_wait(&s->done, &s->mu);
	pthread_mutex_unlock(&s->mu);
	memcpy(s->slab[next], s->slab[s->cur] + s->start, s->end - s->start);
	s->end -= s->start;
	s->start = 0;
	s->cur = next;
}

static int read_block(struct store *s, struct sk_err *err)
{
	if (SLAB - s->end < READ_BLOCK)
		next_slab(s);
	ssize_t r;
	unsigned char *p = s->slab[s->cur] + s->end;
	do
		r = read(s->fd, p, READ_BLOCK);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return sk_err_errno(err, errno, "cannot read the artifact", NULL);
	if (r == 0) {
		s->eof = 1;
		return 0;
	}
	s->end += (size_t)r;
	s->read_total += (uint64_t)r;
	if (s->st0.st_mode && s->read_total > (uint64_t)s->st0.st_size)
		return changed(err, "it grew");
	struct job b = { p, (size_t)r, 0, s->cur };
	if (s->digest_threaded)
		enqueue(s, s->blocks, BLOCK_Q, &s->bhead, &s->btail, &b, &s->blocks_cv);
	else
		sk_sha256_update(s->digest, p, (size_t)r);
	return 0;
}

static int grow_chunks(struct store *s, struct sk_err *err)
{
	size_t cap = s->cap ? 2 * s->cap : 64;
	int rc = 0;
	pthread_mutex_lock(&s->mu); /* writers record into the arrays */
	void *c = realloc(s->f.chunks, cap * sizeof(*s->f.chunks));
	if (c)
		s->f.chunks = c;
	void *f = c ? realloc(s->fresh, cap) : NULL;
	if (f) {
		s->fresh = f;
		s->cap = cap;
	} else {
		rc = sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* The first error of a thread, if any. */
static int failed(struct store *s, struct sk_err *err)
{
	pthread_mutex_lock(&s->mu);
	int rc = s->rc;
	if (rc && err)
		*err = s->err;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* Hands the chunk [start, start + n) of the current slab to a writer. */
static int add_chunk(struct store *s, size_t n, struct sk_err *err)
{
	if (s->f.nchunks == SK_FILE_MAX_CHUNKS)
		return sk_err_set(err, SK_ETOOBIG, NULL,
				  "artifact needs more than %zu chunks (at %" PRIu64 " bytes)",
				  SK_FILE_MAX_CHUNKS, s->f.size);
	int rc = s->f.nchunks == s->cap ? grow_chunks(s, err) : 0;
	if (rc)
		return rc;
	size_t i = s->f.nchunks++;
	s->f.chunks[i].size = n;
	s->fresh[i] = 0;
	s->f.size += n;
	struct job j = { s->slab[s->cur] + s->start, n, i, s->cur };
	if (s->nwriters) {
		enqueue(s, s->jobs, CHUNK_Q, &s->jhead, &s->jtail, &j, &s->work);
		return 0;
	}
	struct sk_oid oid;
	unsigned char fresh;
	rc = write_chunk(s, &s->inline_w, &j, &oid, &fresh, err);
	s->f.chunks[i].oid = oid;
	s->fresh[i] = fresh;
	return rc;
}

static int fresh_cmp(const void *a, const void *b)
{
	return sk_oid_cmp(&((const struct sk_file_chunk *)a)->oid,
			  &((const struct sk_file_chunk *)b)->oid);
}

/* New bytes are those of distinct chunks this store wrote: a chunk that
 * repeats inside the artifact is claimed by one writer only. */
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

/* Reads and hands out chunks until the end of the input or an error. */
static int store_chunks(struct store *s, struct sk_err *err)
{
	for (;;) {
		int rc = failed(s, err);
		while (!rc && !s->eof && s->end - s->start < SK_CDC_MAX)
			rc = read_block(s, err);
		if (rc)
			return rc;
		size_t n = sk_cdc_cut(s->slab[s->cur] + s->start, s->end - s->start, s->eof);
		if (n == 0)
			return 0; /* eof and nothing left */
		rc = add_chunk(s, n, err);
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

/* Starts the digest thread and the writers; a thread that cannot be
 * made leaves its work to this one. */
static void start_threads(struct store *s)
{
	s->digest_threaded = pthread_create(&s->digest_th, NULL, digest_main, s) == 0;
	for (unsigned i = 0; i < WRITERS; i++) {
		if (pthread_create(&s->writer_th[s->nwriters], NULL, writer_main, s) != 0)
			break;
		s->nwriters++;
	}
	if (!s->nwriters)
		writer_init(&s->inline_w);
}

/* Lets the threads finish what is queued and joins them. */
static void stop_threads(struct store *s)
{
	pthread_mutex_lock(&s->mu);
	s->closing = 1;
	pthread_cond_broadcast(&s->work);
	pthread_cond_broadcast(&s->blocks_cv);
	pthread_mutex_unlock(&s->mu);
	if (s->digest_threaded)
		pthread_join(s->digest_th, NULL);
	for (unsigned i = 0; i < s->nwriters; i++)
		pthread_join(s->writer_th[i], NULL);
	if (!s->nwriters)
		writer_fini(&s->inline_w);
}

static int store_begin(struct store *s, struct sk_odb *odb, int fd, int dry, struct sk_err *err)
{
	memset(s, 0, sizeof(*s));
	s->odb = odb;
	s->fd = fd;
	s->dry = dry;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->blocks_cv, NULL);
	pthread_cond_init(&s->done, NULL);
	if (fstat(fd, &s->st0) < 0)
		return sk_err_errno(err, errno, "cannot stat the artifact", NULL);
	if (S_ISDIR(s->st0.st_mode))
		return sk_err_set(err, SK_EINVAL, NULL, "the artifact is a directory");
	if (!S_ISREG(s->st0.st_mode))
		s->st0.st_mode = 0;
	else /* read once, front to back: a larger readahead when uncached */
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (unsigned i = 0; i < SLABS; i++)
		if (!(s->slab[i] = malloc(SLAB)))
			return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	s->batch = sk_odb_batch_new(odb);
	s->digest = sk_sha256_new();
	start_threads(s);
	return 0;
}

static void store_end(struct store *s)
{
	for (unsigned i = 0; i < SLABS; i++)
		free(s->slab[i]);
	sk_odb_batch_free(s->batch); /* removes what was not committed */
	sk_sha256_free(s->digest);
	free(s->f.chunks);
	free(s->fresh);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->blocks_cv);
	pthread_cond_destroy(&s->done);
}

/* Waits for every chunk, then makes them durable and visible: the file
 * object that names them is written only after this. */
static int store_finish(struct store *s, int rc, struct sk_err *err)
{
	if (s->digest) {
		stop_threads(s);
		sk_sha256_final(s->digest, s->f.sha256);
	}
	if (!rc)
		rc = failed(s, err);
	if (!rc)
		rc = check_stable(s, err);
	if (!rc && !s->dry)
		rc = sk_odb_batch_commit(s->batch, err);
	return rc;
}

/* The id the file object doc would have, without storing it. */
static int doc_oid(const json_t *doc, struct sk_oid *out, struct sk_err *err)
{
	char *bytes = NULL;
	size_t len = 0;
	int rc = sk_cjson_dump(doc, &bytes, &len, err);
	if (!rc)
		sk_oid_hash(out, SK_OBJ_FILE, bytes, len);
	free(bytes);
	return rc;
}

static int file_store(struct sk_odb *odb, int fd, int dry, struct sk_file_stats *stats,
		      struct sk_oid *file_oid, unsigned char sha256[32], struct sk_err *err)
{
	struct store s;
	int rc = store_begin(&s, odb, fd, dry, err);
	if (!rc)
		rc = store_chunks(&s, err);
	rc = store_finish(&s, rc, err);
	json_t *doc = NULL;
	if (!rc && !(doc = sk_file_to_json(&s.f)))
		rc = sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	if (!rc)
		rc = dry ? doc_oid(doc, file_oid, err)
			 : sk_odb_write_json(odb, SK_OBJ_FILE, doc, file_oid, err);
	json_decref(doc);
	if (!rc && sha256)
		memcpy(sha256, s.f.sha256, 32);
	if (!rc && stats)
		tally(&s, stats);
	store_end(&s);
	return rc;
}

int sk_file_store(struct sk_odb *odb, int fd, struct sk_file_stats *stats,
		  struct sk_oid *file_oid, unsigned char sha256[32], struct sk_err *err)
{
	return file_store(odb, fd, 0, stats, file_oid, sha256, err);
}

int sk_file_plan(struct sk_odb *odb, int fd, struct sk_file_stats *stats,
		 struct sk_oid *file_oid, unsigned char sha256[32], struct sk_err *err)
{
	return file_store(odb, fd, 1, stats, file_oid, sha256, err);
}

/* --- reading back: verify and extract ------------------------------ */

/* Reading back spreads the two digests over threads as storing does: the
 * object store hashes each chunk's id on its own thread while this one
 * decompresses, and a sink thread takes each decompressed block for the
 * whole-artifact digest and the write. The store's block is valid only
 * during the callback, so it is copied into one of two buffers in turn:
 * a buffer is filled again only after the job that read it is done
 * (sk_worker_give waits for the previous job). */
struct walk {
	struct sk_sha256 *ctx;
	int fd; /* -1: verify only */
	const char *path;
	int sink_failed;
	int write_errno; /* set by the sink thread */
	struct sk_worker *sink;
	unsigned char *buf[2];
	size_t cap[2];
	int which;
	struct sk_err *err;
};

static void sink_job(void *arg, const void *buf, size_t len)
{
	struct walk *w = arg;
	sk_sha256_update(w->ctx, buf, len);
	if (w->fd >= 0 && !w->write_errno && sk_fs_write_all(w->fd, buf, len) < 0)
		w->write_errno = errno ? errno : EIO;
}

static int write_failed(struct walk *w)
{
	w->sink_failed = 1;
	return sk_err_errno(w->err, w->write_errno, "cannot write", w->path);
}

static int walk_sink(const void *buf, size_t len, void *arg)
{
	struct walk *w = arg;
	if (w->write_errno)
		return write_failed(w);
	int k = w->which ^= 1;
	if (w->cap[k] < len) {
		free(w->buf[k]);
		if (!(w->buf[k] = malloc(len)))
			abort();
		w->cap[k] = len;
	}
	memcpy(w->buf[k], buf, len);
	sk_worker_give(w->sink, w->buf[k], len);
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
		/* What the bytes say is corruption; a store or a remote that cannot
		 * be read (disk, memory, network, credentials) stays what it is. */
		int keep = rc == SK_EIO || rc == SK_ENOMEM || rc == SK_EUNREACHABLE ||
			   rc == SK_EAUTH || rc == SK_EFAIL;
		if (!keep)
			err->code = SK_ECORRUPT;
		sk_err_wrap(err, "chunk %zu (%s)", i, hex);
		return keep ? rc : SK_ECORRUPT;
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
	struct walk w = { .ctx = sk_sha256_new(), .fd = fd, .path = path, .err = err };
	w.sink = sk_worker_start(sink_job, &w);
	for (size_t i = 0; !rc && i < f->nchunks; i++)
		rc = walk_chunk(odb, &f->chunks[i], i, &w, err);
	sk_worker_stop(w.sink);
	if (!rc && w.write_errno)
		rc = write_failed(&w);
	free(w.buf[0]);
	free(w.buf[1]);
	unsigned char got[32];
	sk_sha256_final(w.ctx, got);
	sk_sha256_free(w.ctx);
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
static int publish(const char *tmp, const char *dest, int sync, struct sk_err *err)
{
	if (link(tmp, dest) < 0)
		return errno == EEXIST ? exists_err(err, dest)
				       : sk_err_errno(err, errno, "cannot create", dest);
	int rc = sync ? sk_fs_fsync_parent(dest, err) : 0;
	if (rc)
		unlink(dest);
	return rc;
}

static int extract(struct sk_odb *odb, const struct sk_oid *file_oid, const char *dest, int sync,
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
	if (!rc && sync && sk_fs_fsync(fd) < 0)
		rc = sk_err_errno(err, errno, "cannot sync", tmp);
	if (close(fd) < 0 && !rc)
		rc = sk_err_errno(err, errno, "cannot write", tmp);
	if (!rc)
		rc = publish(tmp, dest, sync, err);
	unlink(tmp);
	free(tmp);
	return rc;
}

int sk_file_extract(struct sk_odb *odb, const struct sk_oid *file_oid, const char *dest,
		    struct sk_err *err)
{
	return extract(odb, file_oid, dest, 1, err);
}

int sk_file_extract_nosync(struct sk_odb *odb, const struct sk_oid *file_oid, const char *dest,
			   struct sk_err *err)
{
	return extract(odb, file_oid, dest, 0, err);
}
