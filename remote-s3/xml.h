/*
 * The two S3 XML documents the client reads, parsed with expat: the error
 * body (<Error><Code/><Message/></Error>) and a ListObjectsV2 page
 * (<ListBucketResult>). Every byte is untrusted: documents with a DOCTYPE
 * are refused (no entity expansion at all), field lengths, nesting and
 * the number of entries are capped, and numbers are parsed strictly.
 * Fuzzed by tests/fuzz/fuzz_s3xml.c.
 */
#ifndef SK_S3_XML_H
#define SK_S3_XML_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define SK_S3_CODE_MAX 64        /* an S3 error code, e.g. "NoSuchKey" */
#define SK_S3_MESSAGE_MAX 256    /* the server's message, control bytes replaced */
#define SK_S3_KEY_MAX 1024       /* S3's own limit on key length */
#define SK_S3_TOKEN_MAX 4096     /* continuation token */
#define SK_S3_ETAG_MAX 128       /* an ETag without its quotes */
#define SK_S3_PAGE_MAX 10000     /* entries in one page (S3 sends at most 1000) */

struct sk_s3_xml_error {
	char code[SK_S3_CODE_MAX];
	char message[SK_S3_MESSAGE_MAX];
};

/* Parses an S3 error body. 0 when it is an <Error> document with a
 * non-empty Code; -1 otherwise (out is then empty strings). */
int sk_s3_xml_error_parse(const void *body, size_t len, struct sk_s3_xml_error *out);

struct sk_s3_entry {
	char *key;                   /* full key as listed (NUL-terminated) */
	uint64_t size;
	char etag[SK_S3_ETAG_MAX];   /* without quotes; may be "" */
};

struct sk_s3_page {
	struct sk_s3_entry *entries;
	size_t n;
	int truncated;               /* IsTruncated was "true" */
	char *next_token;            /* NextContinuationToken, NULL when absent */
};

/* Parses one ListObjectsV2 response. Refuses (SK_EINVAL) anything but a
 * well-formed <ListBucketResult> within the caps, a truncated page without
 * a continuation token, and a Contents without a Key. */
int sk_s3_xml_list_parse(const void *body, size_t len, struct sk_s3_page *out,
			 struct sk_err *err);
void sk_s3_page_free(struct sk_s3_page *page);

/* Strips the surrounding quotes of an ETag (and a weak "W/" prefix) into
 * out; -1 when it is empty, too long or holds bytes outside printable
 * ASCII, so a hostile header never reaches a request or a message. */
int sk_s3_etag_clean(const char *in, size_t len, char out[SK_S3_ETAG_MAX]);

#endif
