/*
 * Inside the S3 client: the client object shared by url.c, http.c (the
 * request engine) and s3.c (the operations). Nothing outside remote-s3/
 * includes this.
 */
#ifndef SK_S3_INT_H
#define SK_S3_INT_H

#include "remote-s3/curllib.h"

#include "remote-s3/s3.h"
#include "remote-s3/sigv4.h"

struct sk_s3 {
	struct sk_s3_url url;
	struct sk_s3_opts opts;
	char *access_key;
	char *secret_key;   /* wiped in sk_s3_free; never printed */
	char *session_token;
	char *origin;       /* scheme://authority that requests go to */
	char *host;         /* the Host header, signed */
	CURLM *multi;       /* owns the kept-alive connections */
	CURL **pool;        /* idle easy handles for reuse */
	size_t npool;
	curl_socket_t *socks; /* the connections' sockets (http.c: ack_all) */
	size_t nsocks, socks_cap;
	unsigned long requests;
	int running;        /* a batch runs: no nested runs on one multi handle */
	uint64_t rng;
	int etag_form;      /* SK_S3_ETAG_QUOTED or _UNQUOTED: what If-Match sends */
	int etag_known;     /* the form is confirmed by a success or a probe */
	char desc[SK_S3_KEY_MAX * 2 + 256];
};

/* Queues req against the bucket itself (key NULL: listings, bucket
 * creation) or a key, with extra query parameters (copied). label names
 * the request in messages ("LIST s3://b/p/refs/"); NULL: METHOD s3://b/key. */
int sk_s3__add(struct sk_s3_batch *b, struct sk_s3_req *req, const struct sk_sigv4_pair *query,
	       size_t nquery, const char *label, struct sk_err *err);

/* Checks a key (relative, 1..1024 bytes, no control byte, no leading
 * '/'); SK_EINVAL. */
int sk_s3__check_key(const char *key, struct sk_err *err);

#endif
