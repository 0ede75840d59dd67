/*
 * S3 XML responses through expat, with every field captured into a
 * bounded buffer. The parser knows the few paths it reads and ignores
 * every other element, so new fields from a server change nothing.
 */
#include "remote-s3/xml.h"

#include <expat.h>
#include <stdlib.h>
#include <string.h>

#define DEPTH_MAX 32

enum field {
	F_NONE = 0,
	F_CODE,
	F_MESSAGE,
	F_TRUNCATED,
	F_TOKEN,
	F_KEY,
	F_SIZE,
	F_ETAG,
};

enum doc { DOC_ERROR, DOC_LIST };

struct px {
	XML_Parser p;
	enum doc doc;
	int depth;
	int root_ok;
	const char *why; /* first failure, a static string */
	/* the field being captured */
	enum field field;
	int field_depth;
	char text[SK_S3_TOKEN_MAX + 1];
	size_t tlen;
	size_t tcap;
	int truncate_ok; /* a message may be cut; anything else over its cap fails */
	/* error document */
	struct sk_s3_xml_error *error;
	/* list document */
	struct sk_s3_page *page;
	size_t cap;
	int in_contents;
	int seen_truncated, seen_token;
	struct sk_s3_entry cur;
	int cur_has_key, cur_has_size, cur_has_etag;
};

static void fail(struct px *x, const char *why)
{
	if (!x->why)
		x->why = why;
	XML_StopParser(x->p, XML_FALSE);
}

static void begin(struct px *x, enum field f, size_t cap, int truncate_ok)
{
	x->field = f;
	x->field_depth = x->depth;
	x->tlen = 0;
	x->tcap = cap;
	x->truncate_ok = truncate_ok;
}

static void start_list(struct px *x, const char *name)
{
	if (x->depth == 2) {
		if (strcmp(name, "Contents") == 0) {
			x->in_contents = 1;
			free(x->cur.key);
			memset(&x->cur, 0, sizeof(x->cur));
			x->cur_has_key = x->cur_has_size = x->cur_has_etag = 0;
		} else if (strcmp(name, "IsTruncated") == 0) {
			if (x->seen_truncated++)
				fail(x, "IsTruncated appears twice");
			begin(x, F_TRUNCATED, 8, 0);
		} else if (strcmp(name, "NextContinuationToken") == 0) {
			if (x->seen_token++)
				fail(x, "NextContinuationToken appears twice");
			begin(x, F_TOKEN, SK_S3_TOKEN_MAX, 0);
		}
	} else if (x->depth == 3 && x->in_contents) {
		if (strcmp(name, "Key") == 0) {
			if (x->cur_has_key++)
				fail(x, "a Contents entry has two Keys");
			begin(x, F_KEY, SK_S3_KEY_MAX, 0);
		} else if (strcmp(name, "Size") == 0) {
			if (x->cur_has_size++)
				fail(x, "a Contents entry has two Sizes");
			begin(x, F_SIZE, 20, 0);
		} else if (strcmp(name, "ETag") == 0) {
			if (x->cur_has_etag++)
				fail(x, "a Contents entry has two ETags");
			begin(x, F_ETAG, SK_S3_ETAG_MAX + 8, 0);
		}
	}
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	(void)attrs;
	struct px *x = ud;
	if (x->field != F_NONE) {
		fail(x, "unexpected element inside a text field");
		return;
	}
	if (++x->depth > DEPTH_MAX) {
		fail(x, "nested too deeply");
		return;
	}
	if (x->depth == 1) {
		const char *root = x->doc == DOC_LIST ? "ListBucketResult" : "Error";
		if (strcmp(name, root) != 0) {
			fail(x, x->doc == DOC_LIST ? "not a ListBucketResult document"
						   : "not an Error document");
			return;
		}
		x->root_ok = 1;
		return;
	}
	if (x->doc == DOC_LIST) {
		start_list(x, name);
	} else if (x->depth == 2) {
		if (strcmp(name, "Code") == 0)
			begin(x, F_CODE, SK_S3_CODE_MAX - 1, 0);
		else if (strcmp(name, "Message") == 0)
			begin(x, F_MESSAGE, SK_S3_MESSAGE_MAX - 1, 1);
	}
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	struct px *x = ud;
	if (x->field == F_NONE || len <= 0)
		return;
	size_t n = (size_t)len;
	if (x->tlen + n > x->tcap) {
		if (!x->truncate_ok) {
			fail(x, "a field is longer than its cap");
			return;
		}
		n = x->tcap - x->tlen;
	}
	memcpy(x->text + x->tlen, s, n);
	x->tlen += n;
}

/* Replaces everything but printable ASCII, so a server's text can go into
 * messages and JSON whatever it holds (and a cut UTF-8 sequence too). */
static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int sk_s3_etag_clean(const char *in, size_t len, char out[SK_S3_ETAG_MAX])
{
	out[0] = '\0';
	while (len && (*in == ' ' || *in == '\t')) {
		in++;
		len--;
	}
	while (len && (in[len - 1] == ' ' || in[len - 1] == '\t' || in[len - 1] == '\r' ||
		       in[len - 1] == '\n'))
		len--;
	if (len >= 2 && in[0] == 'W' && in[1] == '/') {
		in += 2;
		len -= 2;
	}
	if (len >= 2 && in[0] == '"' && in[len - 1] == '"') {
		in++;
		len -= 2;
	}
	if (len == 0 || len >= SK_S3_ETAG_MAX)
		return -1;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)in[i] <= 0x20 || (unsigned char)in[i] > 0x7e || in[i] == '"' ||
		    in[i] == ',')
			return -1;
	memcpy(out, in, len);
	out[len] = '\0';
	return 0;
}

static void end_field(struct px *x)
{
	x->text[x->tlen] = '\0';
	enum field f = x->field;
	x->field = F_NONE;
	switch (f) {
	case F_CODE:
		printable(x->text);
		memcpy(x->error->code, x->text, x->tlen + 1);
		break;
	case F_MESSAGE:
		printable(x->text);
		memcpy(x->error->message, x->text, x->tlen + 1);
		break;
	case F_TRUNCATED:
		if (strcmp(x->text, "true") == 0)
			x->page->truncated = 1;
		else if (strcmp(x->text, "false") == 0)
			x->page->truncated = 0;
		else
			fail(x, "IsTruncated is neither true nor false");
		break;
	case F_TOKEN:
		if (x->tlen == 0 || memchr(x->text, '\0', x->tlen)) {
			fail(x, "empty continuation token");
			break;
		}
		free(x->page->next_token);
		if (!(x->page->next_token = strdup(x->text)))
			fail(x, "out of memory");
		break;
	case F_KEY:
		if (x->tlen == 0 || strlen(x->text) != x->tlen) {
			fail(x, "empty key");
			break;
		}
		if (!(x->cur.key = strdup(x->text)))
			fail(x, "out of memory");
		break;
	case F_SIZE:
		if (parse_u64(x->text, &x->cur.size) != 0)
			fail(x, "Size is not a number");
		break;
	case F_ETAG:
		/* an ETag we cannot use is only absent, not an error */
		if (sk_s3_etag_clean(x->text, x->tlen, x->cur.etag) != 0)
			x->cur.etag[0] = '\0';
		break;
	case F_NONE:
		break;
	}
}

static void end_contents(struct px *x)
{
	x->in_contents = 0;
	if (!x->cur.key) {
		fail(x, "a Contents entry has no Key");
		return;
	}
	struct sk_s3_page *pg = x->page;
	if (pg->n == SK_S3_PAGE_MAX) {
		fail(x, "too many entries in one page");
		return;
	}
	if (pg->n == x->cap) {
		size_t ncap = x->cap ? x->cap * 2 : 64;
		struct sk_s3_entry *ne = realloc(pg->entries, ncap * sizeof(*ne));
		if (!ne) {
			fail(x, "out of memory");
			return;
		}
		pg->entries = ne;
		x->cap = ncap;
	}
	pg->entries[pg->n++] = x->cur;
	memset(&x->cur, 0, sizeof(x->cur));
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	struct px *x = ud;
	if (x->field != F_NONE && x->depth == x->field_depth)
		end_field(x);
	if (x->doc == DOC_LIST && x->depth == 2 && x->in_contents && strcmp(name, "Contents") == 0)
		end_contents(x);
	x->depth--;
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
			       const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	fail(ud, "a document type declaration");
}

static int run(struct px *x, const void *body, size_t len)
{
	if (len > (size_t)0x7fffffff)
		return -1;
	x->p = XML_ParserCreate(NULL);
	if (!x->p) {
		x->why = "out of memory";
		return -1;
	}
	XML_SetUserData(x->p, x);
	XML_SetElementHandler(x->p, on_start, on_end);
	XML_SetCharacterDataHandler(x->p, on_text);
	XML_SetStartDoctypeDeclHandler(x->p, on_doctype);
	enum XML_Status st = XML_Parse(x->p, body, (int)len, 1);
	if (st != XML_STATUS_OK && !x->why)
		x->why = "not well-formed XML";
	XML_ParserFree(x->p);
	x->p = NULL;
	if (!x->why && !x->root_ok)
		x->why = "no document element";
	return x->why ? -1 : 0;
}

int sk_s3_xml_error_parse(const void *body, size_t len, struct sk_s3_xml_error *out)
{
	memset(out, 0, sizeof(*out));
	struct px *x = calloc(1, sizeof(*x));
	if (!x)
		return -1;
	x->doc = DOC_ERROR;
	x->error = out;
	int rc = run(x, body, len);
	free(x);
	if (rc != 0 || !out->code[0]) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

void sk_s3_page_free(struct sk_s3_page *page)
{
	if (!page)
		return;
	for (size_t i = 0; i < page->n; i++)
		free(page->entries[i].key);
	free(page->entries);
	free(page->next_token);
	memset(page, 0, sizeof(*page));
}

int sk_s3_xml_list_parse(const void *body, size_t len, struct sk_s3_page *out,
			 struct sk_err *err)
{
	memset(out, 0, sizeof(*out));
	struct px *x = calloc(1, sizeof(*x));
	if (!x)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory parsing a listing");
	x->doc = DOC_LIST;
	x->page = out;
	int rc = run(x, body, len);
	free(x->cur.key);
	if (rc == 0 && out->truncated && !out->next_token)
		x->why = "a truncated listing without a continuation token";
	const char *why = x->why;
	free(x);
	if (why) {
		sk_s3_page_free(out);
		return sk_err_set(err, SK_EINVAL, "the S3 endpoint sent a malformed listing",
				  "malformed ListObjectsV2 response: %s", why);
	}
	return 0;
}
