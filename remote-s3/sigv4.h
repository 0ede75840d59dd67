/*
 * AWS Signature Version 4 (header-based), done with libsodium's HMAC and
 * SHA-256 so every byte that is signed is visible here and checked
 * against AWS's published examples (tests/unit/test_s3_sigv4.c).
 *
 * The caller passes the raw request parts; this module encodes the path
 * and the query exactly the way the request goes on the wire (S3 rules:
 * every byte but A-Z a-z 0-9 - . _ ~ percent-encoded once, '/' kept in the
 * path), so what is signed and what is sent cannot drift apart.
 */
#ifndef SK_S3_SIGV4_H
#define SK_S3_SIGV4_H

#include <stddef.h>

#include "common/err.h"

/* SHA-256 of the empty string, the payload hash of bodiless requests. */
#define SK_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct sk_sigv4_pair {
	const char *name;
	const char *value;
};

struct sk_sigv4_req {
	const char *method;  /* "GET", "PUT", … */
	const char *path;    /* raw (unencoded) absolute path, e.g. "/bucket/a b" */
	const struct sk_sigv4_pair *query; /* raw names and values, any order */
	size_t nquery;
	/* or the query already in canonical form (sk_sigv4_query's output,
	 * the bytes sent); used instead of query when non-NULL */
	const char *canonical_query;
	/* every header to sign, any case and order; must include host and
	 * x-amz-date (and, for S3, x-amz-content-sha256) */
	const struct sk_sigv4_pair *headers;
	size_t nheaders;
	const char *payload_hash; /* lowercase hex SHA-256 of the body */
};

struct sk_sigv4_cred {
	const char *access_key;
	const char *secret_key;
	const char *region;
	const char *service; /* "s3" */
};

/* Appends the S3 URI encoding of s to out (size bytes, NUL-terminated);
 * keep_slash leaves '/' as is (paths). Returns the encoded length, or
 * (size_t)-1 when out is too small. */
size_t sk_sigv4_uri_encode(const char *s, int keep_slash, char *out, size_t size);

/* The canonical request (step 1 of the algorithm), for tests and
 * debugging; *out is malloc'd. */
int sk_sigv4_canonical(const struct sk_sigv4_req *req, char **out, char **signed_headers,
		       struct sk_err *err);

/* The encoded, sorted query string ("a=1&b=2", "" when none), as sent
 * on the wire and signed; *out is malloc'd. */
int sk_sigv4_query(const struct sk_sigv4_pair *query, size_t n, char **out, struct sk_err *err);

/* The signing key for a date (YYYYMMDD): HMAC chain over region, service
 * and "aws4_request". */
void sk_sigv4_signing_key(const char *secret, const char *date, const char *region,
			  const char *service, unsigned char key[32]);

/* The Authorization header value for req, signed at amz_date
 * ("YYYYMMDDTHHMMSSZ", the same value as the x-amz-date header):
 *   AWS4-HMAC-SHA256 Credential=AK/date/region/service/aws4_request,
 *   SignedHeaders=…, Signature=<64 hex>
 * *out is malloc'd. The secret never appears in any output or error. */
int sk_sigv4_authorization(const struct sk_sigv4_req *req, const struct sk_sigv4_cred *cred,
			   const char *amz_date, char **out, struct sk_err *err);

#endif
