/*
 * A remote: where a repository's objects and ref records are shared. Two
 * kinds speak one interface with the same semantics:
 *
 *   s3://bucket/prefix?endpoint=…&region=…   an S3 bucket (remote-s3/s3.h)
 *   file:///absolute/path                    a directory on this machine
 *
 * Layout (both kinds):
 *   objects/ab/<62 hex>   the object's stored bytes (zstd frame), as in
 *                         .skiff/objects; create-only
 *   refs/<name>           the ref's current record (canonical JSON, signed);
 *                         moved only by compare-and-swap
 *
 * Compare-and-swap. Each stored ref carries a tag: the S3 ETag, or for a
 * file remote the record's object id. sk_remote_ref_put names the tag it
 * expects (or NULL: the ref must be absent) and fails with SK_ECONFLICT when
 * the remote holds anything else -- If-Match / If-None-Match: * on S3, a
 * lock file and a compare under it on a file remote.
 *
 * Nothing here trusts what it reads: callers verify every record
 * (signature, role, seq) and every object (its id) before using it.
 * Object transfers run in parallel (S3: the curl multi interface with
 * kept-alive connections, --jobs).
 */
#ifndef SK_REMOTE_H
#define SK_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "objects/oid.h"

#define SK_REMOTE_TAG_MAX 130
/* A ref record is small; anything larger is not one. */
#define SK_REMOTE_RECORD_MAX 65536

struct sk_remote;

struct sk_remote_opts {
	unsigned jobs; /* parallel transfers; 0: 16 */
};

/* Opens url (s3:// or file://); SK_EINVAL with a hint for anything else.
 * No network traffic yet. */
int sk_remote_open(struct sk_remote **out, const char *url, const struct sk_remote_opts *o,
		   struct sk_err *err);
void sk_remote_free(struct sk_remote *r);
/* Checks a URL's syntax (and, for s3://, its parameters) without opening. */
int sk_remote_url_check(const char *url, struct sk_err *err);

const char *sk_remote_url(const struct sk_remote *r);
/* A stable name for this remote's URL ("u" + 16 hex digits of its
 * SHA-256), under which rollback memory and caches are kept. */
const char *sk_remote_key(const struct sk_remote *r);
/* Requests made so far (HTTP attempts for S3; file operations count 1). */
unsigned long sk_remote_requests(const struct sk_remote *r);

/* --- refs ----------------------------------------------------------- */

/* The record bytes of ref (*bytes malloc'd) and its tag. SK_ENOTFOUND when
 * the remote has no such ref. */
int sk_remote_ref_get(struct sk_remote *r, const char *ref, char **bytes, size_t *len,
		      char tag[SK_REMOTE_TAG_MAX], struct sk_err *err);
/* Stores bytes as ref's record if the remote still holds expect_tag
 * (NULL: if the ref is absent). SK_ECONFLICT otherwise (SK_ELOCKED when
 * a file remote's lock is held). new_tag (may be NULL) receives the tag. */
int sk_remote_ref_put(struct sk_remote *r, const char *ref, const void *bytes, size_t len,
		      const char *expect_tag, char new_tag[SK_REMOTE_TAG_MAX], struct sk_err *err);
/* Every ref name on the remote, sorted (*names: malloc'd array of malloc'd
 * strings; free with sk_remote_names_free). Lists: fetch uses it, direct
 * reads never do. Names that are not valid ref names are skipped. */
int sk_remote_ref_list(struct sk_remote *r, char ***names, size_t *n, struct sk_err *err);
void sk_remote_names_free(char **names, size_t n);

/* --- objects (parallel) --------------------------------------------- */

struct sk_remote_obj {
	struct sk_oid oid;
	/* put: the stored bytes (caller's); get: filled (malloc'd, free()) */
	unsigned char *z;
	size_t zlen;
	/* out */
	int present; /* exists, put: 1 when the remote has it (had it, for put) */
	int rc;      /* per object: 0, SK_ENOTFOUND, … */
};

/* Sets present for each object (HEAD requests, or stat). */
int sk_remote_objects_exist(struct sk_remote *r, struct sk_remote_obj *objs, size_t n,
			    struct sk_err *err);
/* Uploads each object create-only; one already there is success. */
int sk_remote_objects_put(struct sk_remote *r, struct sk_remote_obj *objs, size_t n,
			  struct sk_err *err);
/* Downloads each object's bytes (at most max bytes each). An absent
 * object sets its rc to SK_ENOTFOUND and does not fail the call; other
 * failures do. The bytes are NOT verified here. Objects prefetched (below)
 * are handed out from memory, each once. */
int sk_remote_objects_get(struct sk_remote *r, struct sk_remote_obj *objs, size_t n,
			  size_t max, struct sk_err *err);

/* --- prefetch ------------------------------------------------------- */

/* For a reader about to walk a long chain of small objects (ref records,
 * commits), which costs one round trip per link: lists the remote's
 * objects and downloads, in parallel, every small one (at most
 * SK_REMOTE_PREFETCH_OBJECT_MAX stored bytes, SK_REMOTE_PREFETCH_MAX in
 * all) for which have(oid, arg) is 0; sk_remote_objects_get then serves
 * them without a request. Nothing is verified here either. It lists the
 * bucket (16 listings in parallel on S3, one per first hex digit), so
 * --direct never calls it; a remote kind that cannot list (file://, where
 * reads cost no round trip) does nothing. Runs once per remote. */
#define SK_REMOTE_PREFETCH_OBJECT_MAX ((size_t)64 << 10)
#define SK_REMOTE_PREFETCH_MAX ((uint64_t)128 << 20)
int sk_remote_prefetch(struct sk_remote *r, int (*have)(const struct sk_oid *oid, void *arg),
		       void *arg, struct sk_err *err);

#endif
