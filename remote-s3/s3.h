/*
 * The S3 client: one object per remote, bound to a bucket and a key
 * prefix, speaking SigV4-signed HTTP through libcurl's multi interface.
 * It is the transport under push, fetch and --direct; it knows nothing of
 * objects or refs.
 *
 *   struct sk_s3 *s3;
 *   if (sk_s3_new(&s3, "s3://bucket/prefix?endpoint=http://127.0.0.1:7480",
 *                 NULL, &err) != 0) ...
 *   sk_s3_put(s3, "refs/services/api", rec, len, SK_S3_IF_MATCH, etag, &meta, &err);
 *   ...
 *   printf("%lu requests\n", sk_s3_requests(s3));
 *   sk_s3_free(s3);
 *
 * Keys. Every key argument is relative to the URL's prefix: with
 * s3://b/team/prod, key "objects/ab/cd…" is "team/prod/objects/ab/cd…" in
 * bucket b, and listings return keys relative to the prefix again. A key
 * must be 1..1024 bytes, not start with '/', and hold no control byte.
 *
 * Errors (return 0 or a negative SK_E… code, details in struct sk_err):
 *   SK_ENOTFOUND     404, NoSuchKey / NoSuchBucket                exit 7
 *   SK_ECONFLICT     412 (If-Match / If-None-Match failed), 409   exit 3
 *   SK_EAUTH         missing credentials, 403 AccessDenied,
 *                    SignatureDoesNotMatch, InvalidAccessKeyId…   exit 1
 *   SK_EUNREACHABLE  connection refused/reset/timed out, DNS, TLS,
 *                    after the retries; the hint names the endpoint exit 1
 *   SK_EIO           5xx / 429 after the retries                  exit 1
 *   SK_ETOOBIG       a body over the caller's cap                 exit 4
 *   SK_EINVAL        a bad URL or key, a malformed server reply   exit 1
 *   SK_EFAIL         any other 4xx or a redirect (message carries the
 *                    status and S3 code; a region hint for redirects) exit 1
 * Messages name the method, s3://bucket/key, the status and S3's error
 * code; they never hold a credential. Server text is reduced to printable
 * ASCII and capped.
 *
 * Retries. Each request retries on connection failures, 5xx (but 501) and
 * 429 with exponential backoff and jitter, up to opts.max_attempts
 * attempts in all; never on 412 or any other 4xx. Every attempt counts in
 * sk_s3_requests(). A conditional PUT retried after a lost response can
 * report SK_ECONFLICT for its own earlier success (req.attempts > 1 tells);
 * a caller that must know reads the object back and compares.
 *
 * If-Match and ETags. ETags are handled without their quotes everywhere
 * in this API. RGW compares If-Match with the unquoted ETag while AWS
 * documents the quoted form; the client sends the unquoted form when an
 * endpoint is given and the quoted one for AWS (opts.if_match_form), and
 * until one If-Match PUT has succeeded, a 412 makes it HEAD the object:
 * if the ETag there is the expected one, the server wanted the other
 * form, so the PUT is repeated once with it and the client keeps that
 * form. A real conflict thus costs one HEAD more on a client's first
 * If-Match PUT.
 *
 * Transport: connections are kept alive in the client between requests
 * and batches; connect timeout and a low-speed abort (opts) bound every
 * attempt; redirects are never followed; libcurl's usual proxy variables
 * (https_proxy, no_proxy…) apply.
 *
 * Threads: a client and its batches belong to one thread at a time.
 */
#ifndef SK_S3_H
#define SK_S3_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "remote-s3/xml.h"

/* ---- URLs ---------------------------------------------------------- */

/* s3://BUCKET[/PREFIX][?endpoint=URL][&region=REGION]
 * endpoint: http(s)://host[:port] of an S3-compatible server (path-style
 * addressing: ENDPOINT/BUCKET/KEY); without it, AWS virtual-host style
 * (https://BUCKET.s3.REGION.amazonaws.com/KEY). region: default
 * AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1. Query values may be
 * percent-encoded; unknown parameters are refused, so a typo never
 * silently talks to AWS. */
struct sk_s3_url {
	char *bucket;    /* [A-Za-z0-9._-], 3..63 bytes */
	char *prefix;    /* "" or "a/b" (no leading, trailing or double '/') */
	char *endpoint;  /* "http://127.0.0.1:7480" (no trailing '/'), NULL for AWS */
	char *region;
	int path_style;  /* 1 when endpoint is set (or the bucket has a '.') */
};

/* Parses url into out (free with sk_s3_url_free); SK_EINVAL with a hint. */
int sk_s3_url_parse(const char *url, struct sk_s3_url *out, struct sk_err *err);
void sk_s3_url_free(struct sk_s3_url *u);

/* ---- the client ---------------------------------------------------- */

struct sk_s3_opts {
	unsigned jobs;             /* requests in flight in a batch; 0: 16 */
	unsigned max_attempts;     /* attempts per request incl. the first; 0: 5 */
	unsigned backoff_ms;       /* first retry delay (before jitter); 0: 200 */
	unsigned backoff_max_ms;   /* cap of one delay; 0: 5000 */
	long connect_timeout_ms;   /* 0: 5000 */
	/* a transfer slower than low_speed_bytes per second for
	 * low_speed_secs is aborted (and retried) */
	long low_speed_secs;       /* 0: 30 */
	long low_speed_bytes;      /* 0: 1 */
	/* the If-Match form tried first: SK_S3_ETAG_AUTO (0: unquoted with an
	 * endpoint, quoted for AWS), _QUOTED or _UNQUOTED; the client
	 * switches when a 412 proves the server reads the other form */
	int if_match_form;
};

enum { SK_S3_ETAG_AUTO = 0, SK_S3_ETAG_QUOTED = 1, SK_S3_ETAG_UNQUOTED = 2 };

struct sk_s3;

/* Parses url and reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN. opts may be NULL (defaults). Missing credentials:
 * SK_EAUTH with a hint. No network traffic happens here. */
int sk_s3_new(struct sk_s3 **out, const char *url, const struct sk_s3_opts *opts,
	      struct sk_err *err);
/* Wipes the secret and closes kept-alive connections; NULL is fine. */
void sk_s3_free(struct sk_s3 *c);

const struct sk_s3_url *sk_s3_url(const struct sk_s3 *c);
/* HTTP requests sent so far, every attempt counted (for "requests": N). */
unsigned long sk_s3_requests(const struct sk_s3 *c);
/* "s3://bucket/prefix/KEY" for messages (static buffer per client). */
const char *sk_s3_describe(struct sk_s3 *c, const char *key);

/* ---- single requests ----------------------------------------------- */

struct sk_s3_meta {
	char etag[SK_S3_ETAG_MAX]; /* without quotes; "" when the server sent none */
	uint64_t size;             /* Content-Length of the object (GET, HEAD) */
};

enum sk_s3_cond {
	SK_S3_ALWAYS = 0,    /* unconditional PUT */
	SK_S3_IF_ABSENT,     /* If-None-Match: *  (create-only) */
	SK_S3_IF_MATCH,      /* If-Match: etag    (compare-and-swap) */
};

/* Default cap on a GET body when the caller passes max_bytes 0. */
#define SK_S3_DEFAULT_MAX_BODY ((size_t)64 << 20)

/* GET the whole object into *data (malloc'd, len bytes, plus a NUL byte
 * after the end for convenience; free()). A body over max_bytes (0: the
 * default) is SK_ETOOBIG, checked on Content-Length and while reading.
 * meta may be NULL. */
int sk_s3_get(struct sk_s3 *c, const char *key, size_t max_bytes, unsigned char **data,
	      size_t *len, struct sk_s3_meta *meta, struct sk_err *err);
/* HEAD: SK_ENOTFOUND when absent, else etag and size in meta. */
int sk_s3_head(struct sk_s3 *c, const char *key, struct sk_s3_meta *meta, struct sk_err *err);
/* PUT len bytes, under cond (etag: the expected ETag for SK_S3_IF_MATCH,
 * unquoted, else ignored). A failed condition is SK_ECONFLICT. On success
 * meta (may be NULL) holds the new ETag. */
int sk_s3_put(struct sk_s3 *c, const char *key, const void *data, size_t len,
	      enum sk_s3_cond cond, const char *etag, struct sk_s3_meta *meta,
	      struct sk_err *err);
/* DELETE; deleting an absent key succeeds (S3 semantics). */
int sk_s3_delete(struct sk_s3 *c, const char *key, struct sk_err *err);

/* Creates the URL's bucket; one that this account already owns is
 * success, one owned by someone else SK_EEXISTS. For tests and setup. */
int sk_s3_bucket_create(struct sk_s3 *c, struct sk_err *err);

/* ---- listing ------------------------------------------------------- */

/* Entries of a listing: keys relative to the URL's prefix, in S3 order
 * (bytewise ascending). */
struct sk_s3_list {
	struct sk_s3_entry *entries;
	size_t n;
};

/* Lists every key under prefix (relative to the URL's prefix; "" for
 * all) with ListObjectsV2, following continuation tokens. page_size is
 * max-keys per request (0: 1000). More than max_entries keys (0: one
 * million) is SK_ETOOBIG. A page whose keys fall outside the prefix or
 * whose token repeats is refused (SK_EINVAL): a hostile server cannot
 * make this loop forever. */
int sk_s3_list(struct sk_s3 *c, const char *prefix, unsigned page_size, size_t max_entries,
	       struct sk_s3_list *out, struct sk_err *err);
/* n listings at once, each as sk_s3_list into outs[i] (max_entries each):
 * every round asks for the next page of each listing not finished, all
 * in one batch (a bucket split by key prefix lists in parallel). On
 * failure every outs[i] is empty. */
int sk_s3_list_many(struct sk_s3 *c, const char *const *prefixes, size_t n, unsigned page_size,
		    size_t max_entries, struct sk_s3_list *outs, struct sk_err *err);
void sk_s3_list_free(struct sk_s3_list *l);

/* ---- parallel requests --------------------------------------------- */

enum sk_s3_method { SK_S3_GET = 0, SK_S3_HEAD, SK_S3_PUT, SK_S3_DELETE };

/* One request of a batch. Fill the inputs (zero the rest, e.g. with a
 * designated initializer), add it, run. The request, its key and its body
 * must stay valid until its done callback has returned (or until
 * sk_s3_batch_run returns, without a callback). */
struct sk_s3_req {
	/* in */
	enum sk_s3_method method;
	const char *key;           /* relative to the URL's prefix */
	const void *body;          /* PUT */
	size_t body_len;
	enum sk_s3_cond cond;      /* PUT */
	const char *etag;          /* PUT with SK_S3_IF_MATCH */
	size_t max_bytes;          /* GET cap; 0: SK_S3_DEFAULT_MAX_BODY */
	/* Called once when the request is finished (success or final
	 * failure), on the thread running the batch. It may add more
	 * requests to the batch, but not run requests of its own on the
	 * same client (those fail with SK_EFAIL). A non-zero return (a negative SK_E… code,
	 * with err filled) stops the batch: requests not yet finished end with
	 * that code (their callbacks are not called) and sk_s3_batch_run
	 * returns it. May be NULL. */
	int (*done)(struct sk_s3_req *req, void *ctx, struct sk_err *err);
	void *ctx;
	/* out, valid once finished */
	int rc;                    /* 0 or SK_E… */
	struct sk_err err;         /* when rc != 0 */
	long status;               /* last HTTP status, 0 when none came */
	char s3_code[SK_S3_CODE_MAX]; /* S3's error code ("NoSuchKey"), "" if none */
	unsigned attempts;         /* HTTP attempts made */
	struct sk_s3_meta meta;    /* etag (GET, HEAD, PUT), size (GET, HEAD) */
	unsigned char *data;       /* GET body, NUL-terminated, yours to free() */
	size_t len;
};

struct sk_s3_batch;

/* A batch runs its requests with at most jobs (0: opts.jobs) in flight
 * over the client's kept-alive connections, each with its own retries. */
struct sk_s3_batch *sk_s3_batch_new(struct sk_s3 *c, unsigned jobs);
/* Queues req (also from inside a done callback). SK_ENOMEM or SK_EINVAL
 * (a bad key, also stored in req->rc). */
int sk_s3_batch_add(struct sk_s3_batch *b, struct sk_s3_req *req, struct sk_err *err);
/* Runs until every queued request has finished. Returns 0 when all
 * succeeded; else the code of a stopping callback, or of the first failed
 * request in the order they were added (its error copied to err). Every
 * request's own rc tells the rest: a batch of GETs of which some are
 * SK_ENOTFOUND is a normal outcome to inspect. */
int sk_s3_batch_run(struct sk_s3_batch *b, struct sk_err *err);
void sk_s3_batch_free(struct sk_s3_batch *b);

/* The same for an array: add all n, run with at most jobs in flight. */
int sk_s3_run(struct sk_s3 *c, struct sk_s3_req *reqs, size_t n, unsigned jobs,
	      struct sk_err *err);

/* ---- exposed for unit tests ---------------------------------------- */

/* Whether an attempt that ended with this libcurl code (0: a response
 * came) and HTTP status should be retried: 1 or 0. */
int sk_s3_retryable(int curl_code, long status);
/* The delay before attempt number `attempt` (2 = the first retry):
 * backoff·2^(attempt-2) capped at max, then scaled into [1/2, 1] of that by
 * the jitter value r in [0, 1). */
unsigned sk_s3_backoff_ms(unsigned attempt, unsigned backoff_ms, unsigned max_ms, double r);
/* The error for a finished HTTP response: status, body (an S3 error
 * XML document or anything else) → code, message and hint. what is
 * "GET s3://b/k" for the message; endpoint is named in hints. */
int sk_s3_http_error(long status, const void *body, size_t len, const char *what,
		     const char *endpoint, struct sk_err *err);

#endif
