/*
 * Fuzz target for the S3 XML parsers (remote-s3/xml.c): every response
 * body from an S3 server is untrusted. Each input is parsed both as an
 * error document and as a ListObjectsV2 page, and its head as an ETag.
 * Invariants: accepted documents satisfy the caps and shapes promised in
 * remote-s3/xml.h; refused ones leave nothing allocated and a message
 * that is valid for JSON; server text comes out printable ASCII.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "remote-s3/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void printable_or_abort(const char *s, size_t cap)
{
	size_t n = strlen(s);
	if (n >= cap)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			abort();
}

static void check_etag(const char *e)
{
	printable_or_abort(e, SK_S3_ETAG_MAX);
	if (strchr(e, '"') || strchr(e, ' ') || strchr(e, ','))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1 << 20))
		return 0;
	struct sk_s3_xml_error e;
	if (sk_s3_xml_error_parse(data, size, &e) == 0) {
		if (!e.code[0])
			abort();
		printable_or_abort(e.code, SK_S3_CODE_MAX);
		printable_or_abort(e.message, SK_S3_MESSAGE_MAX);
	} else if (e.code[0] || e.message[0]) {
		abort();
	}
	struct sk_s3_page pg;
	struct sk_err err;
	if (sk_s3_xml_list_parse(data, size, &pg, &err) == 0) {
		if (pg.n > SK_S3_PAGE_MAX || (pg.n && !pg.entries) || (pg.truncated && !pg.next_token))
			abort();
		for (size_t i = 0; i < pg.n; i++) {
			size_t kl = pg.entries[i].key ? strlen(pg.entries[i].key) : 0;
			if (kl == 0 || kl > SK_S3_KEY_MAX)
				abort();
			check_etag(pg.entries[i].etag);
		}
		if (pg.next_token && (!pg.next_token[0] || strlen(pg.next_token) > SK_S3_TOKEN_MAX))
			abort();
		sk_s3_page_free(&pg);
	} else {
		json_t *s = json_string(err.message);
		if (!s || !err.message[0] || pg.entries || pg.n || pg.next_token)
			abort();
		json_decref(s);
	}
	char etag[SK_S3_ETAG_MAX];
	if (sk_s3_etag_clean((const char *)data, size < 200 ? size : 200, etag) == 0) {
		if (!etag[0])
			abort();
		check_etag(etag);
	}
	return 0;
}
