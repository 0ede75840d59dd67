/*
 * The S3 operations on top of the request engine (http.c): single
 * requests are batches of one; listings page through ListObjectsV2.
 */
#include "remote-s3/s3_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs one request; its error goes to err. */
static int run_one(struct sk_s3 *c, struct sk_s3_req *r, const struct sk_sigv4_pair *query,
		   size_t nquery, const char *label, struct sk_err *err)
{
	struct sk_s3_batch *b = sk_s3_batch_new(c, 1);
	if (!b)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	int rc = sk_s3__add(b, r, query, nquery, label, err);
	if (rc == 0)
		rc = sk_s3_batch_run(b, err);
	sk_s3_batch_free(b);
	return rc;
}

int sk_s3_get(struct sk_s3 *c, const char *key, size_t max_bytes, unsigned char **data,
	      size_t *len, struct sk_s3_meta *meta, struct sk_err *err)
{
	*data = NULL;
	*len = 0;
	struct sk_s3_req r = { .method = SK_S3_GET, .key = key, .max_bytes = max_bytes };
	if (!key)
		return sk_err_set(err, SK_EINVAL, NULL, "a request without a key");
	int rc = run_one(c, &r, NULL, 0, NULL, err);
	if (rc)
		return rc;
	*data = r.data;
	*len = r.len;
	if (meta)
		*meta = r.meta;
	return 0;
}

int sk_s3_head(struct sk_s3 *c, const char *key, struct sk_s3_meta *meta, struct sk_err *err)
{
	struct sk_s3_req r = { .method = SK_S3_HEAD, .key = key };
	if (!key)
		return sk_err_set(err, SK_EINVAL, NULL, "a request without a key");
	int rc = run_one(c, &r, NULL, 0, NULL, err);
	if (rc == 0 && meta)
		*meta = r.meta;
	return rc;
}

int sk_s3_put(struct sk_s3 *c, const char *key, const void *data, size_t len,
	      enum sk_s3_cond cond, const char *etag, struct sk_s3_meta *meta,
	      struct sk_err *err)
{
	struct sk_s3_req r = {
		.method = SK_S3_PUT, .key = key, .body = data, .body_len = len,
		.cond = cond, .etag = etag,
	};
	if (!key)
		return sk_err_set(err, SK_EINVAL, NULL, "a request without a key");
	int rc = run_one(c, &r, NULL, 0, NULL, err);
	if (rc == 0 && meta)
		*meta = r.meta;
	return rc;
}

int sk_s3_delete(struct sk_s3 *c, const char *key, struct sk_err *err)
{
	struct sk_s3_req r = { .method = SK_S3_DELETE, .key = key };
	if (!key)
		return sk_err_set(err, SK_EINVAL, NULL, "a request without a key");
	int rc = run_one(c, &r, NULL, 0, NULL, err);
	/* S3 answers 204 for an absent key; a server that says 404 agrees */
	if (rc == SK_ENOTFOUND && strcmp(r.s3_code, "NoSuchBucket") != 0) {
		sk_err_clear(err);
		rc = 0;
	}
	return rc;
}

int sk_s3_bucket_create(struct sk_s3 *c, struct sk_err *err)
{
	const struct sk_s3_url *u = &c->url;
	char body[256] = "";
	/* AWS wants the region spelled out anywhere but us-east-1 */
	if (!u->endpoint && strcmp(u->region, "us-east-1") != 0)
		snprintf(body, sizeof(body),
			 "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
			 "<LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>",
			 u->region);
	struct sk_s3_req r = { .method = SK_S3_PUT, .body = body, .body_len = strlen(body) };
	char label[128];
	snprintf(label, sizeof(label), "create bucket s3://%s", u->bucket);
	int rc = run_one(c, &r, NULL, 0, label, err);
	if (rc && strcmp(r.s3_code, "BucketAlreadyOwnedByYou") == 0) {
		sk_err_clear(err);
		return 0;
	}
	if (rc && strcmp(r.s3_code, "BucketAlreadyExists") == 0)
		return sk_err_set(err, SK_EEXISTS, "choose another bucket name",
				  "bucket %s exists and belongs to another account", u->bucket);
	return rc;
}

void sk_s3_list_free(struct sk_s3_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->entries[i].key);
	free(l->entries);
	memset(l, 0, sizeof(*l));
}

/* The listing prefix in the bucket: "<url prefix>/<prefix>". */
static char *full_prefix(const struct sk_s3 *c, const char *prefix)
{
	const char *up = c->url.prefix;
	size_t n = strlen(up) + strlen(prefix) + 2;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s%s%s", up, up[0] ? "/" : "", prefix);
	return s;
}

/* Moves the page's entries (checked) into out, keys made relative. */
static int take_page(struct sk_s3 *c, struct sk_s3_page *pg, const char *fp, size_t max_entries,
		     struct sk_s3_list *out, size_t *cap, const char *label, struct sk_err *err)
{
	size_t fpl = strlen(fp), strip = c->url.prefix[0] ? strlen(c->url.prefix) + 1 : 0;
	for (size_t i = 0; i < pg->n; i++) {
		struct sk_s3_entry *e = &pg->entries[i];
		if (strncmp(e->key, fp, fpl) != 0 || strlen(e->key) <= strip)
			return sk_err_set(err, SK_EINVAL, "the S3 endpoint sent a malformed listing",
					  "%s: the server listed a key outside the prefix", label);
		/* S3 lists in ascending order; insisting on it also means
		 * a hostile server cannot replay pages to keep us looping */
		const char *prev = out->n ? out->entries[out->n - 1].key : NULL;
		if (prev && strcmp(prev, e->key + strip) >= 0)
			return sk_err_set(err, SK_EINVAL, "the S3 endpoint sent a malformed listing",
					  "%s: the server listed keys out of order", label);
		if (out->n >= max_entries)
			return sk_err_set(err, SK_ETOOBIG, NULL,
					  "%s: more than %zu keys", label, max_entries);
		if (out->n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 256;
			struct sk_s3_entry *ne = realloc(out->entries, ncap * sizeof(*ne));
			if (!ne)
				return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
			out->entries = ne;
			*cap = ncap;
		}
		struct sk_s3_entry *d = &out->entries[out->n];
		*d = *e;
		if (strip)
			memmove(d->key, d->key + strip, strlen(d->key + strip) + 1);
		e->key = NULL;
		out->n++;
	}
	return 0;
}

/* One listing of sk_s3_list_many: its full prefix and where it stands. */
struct listing {
	char *fp;
	char label[SK_S3_KEY_MAX * 2 + 300];
	char *token;
	size_t cap;
	unsigned empty_pages;
	int more;
	struct sk_s3_list *out;
};

/* Takes one ListObjectsV2 response of l: its keys into l->out (checked),
 * and whether another page follows. */
static int list_page(struct sk_s3 *c, struct listing *l, struct sk_s3_req *r, size_t max_entries,
		     struct sk_err *err)
{
	struct sk_s3_page pg;
	int rc = sk_s3_xml_list_parse(r->data, r->len, &pg, err);
	free(r->data);
	r->data = NULL;
	if (rc)
		return sk_err_wrap(err, "%s", l->label);
	rc = take_page(c, &pg, l->fp, max_entries, l->out, &l->cap, l->label, err);
	l->more = pg.truncated;
	if (rc == 0 && l->more) {
		if (l->token && strcmp(l->token, pg.next_token) == 0)
			rc = sk_err_set(err, SK_EINVAL, "the S3 endpoint sent a malformed listing",
					"%s: the server repeated a continuation token", l->label);
		else if (pg.n == 0 && ++l->empty_pages > 100)
			rc = sk_err_set(err, SK_EINVAL, "the S3 endpoint sent a malformed listing",
					"%s: too many empty pages", l->label);
		if (pg.n)
			l->empty_pages = 0;
		free(l->token);
		l->token = pg.next_token;
		pg.next_token = NULL;
	}
	sk_s3_page_free(&pg);
	return rc;
}

/* One round: the next page of every listing not finished, in parallel. */
static int list_round(struct sk_s3 *c, struct listing *ls, size_t n, const char *maxkeys,
		      size_t max_entries, int *any, struct sk_err *err)
{
	struct sk_s3_req *reqs = calloc(n, sizeof(*reqs));
	struct sk_s3_batch *b = sk_s3_batch_new(c, 0);
	int rc = reqs && b ? 0 : sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	*any = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		if (!ls[i].more)
			continue;
		struct sk_sigv4_pair q[4] = {
			{ "list-type", "2" }, { "max-keys", maxkeys }, { "prefix", ls[i].fp },
			{ "continuation-token", ls[i].token },
		};
		/* a page is small: 1000 keys of at most 1 KiB, XML-escaped */
		reqs[i] = (struct sk_s3_req){ .method = SK_S3_GET, .max_bytes = (size_t)16 << 20 };
		rc = sk_s3__add(b, &reqs[i], q, ls[i].token ? 4 : 3, ls[i].label, err);
		*any = 1;
	}
	if (!rc && *any)
		rc = sk_s3_batch_run(b, err);
	for (size_t i = 0; reqs && i < n; i++) {
		if (!rc && ls[i].more)
			rc = list_page(c, &ls[i], &reqs[i], max_entries, err);
		free(reqs[i].data);
	}
	sk_s3_batch_free(b);
	free(reqs);
	return rc;
}

int sk_s3_list_many(struct sk_s3 *c, const char *const *prefixes, size_t n, unsigned page_size,
		    size_t max_entries, struct sk_s3_list *outs, struct sk_err *err)
{
	for (size_t i = 0; i < n; i++)
		memset(&outs[i], 0, sizeof(outs[i]));
	for (size_t i = 0; i < n; i++)
		if (strlen(prefixes[i] ? prefixes[i] : "") > SK_S3_KEY_MAX)
			return sk_err_set(err, SK_EINVAL, NULL, "listing prefix too long");
	if (!page_size || page_size > 1000)
		page_size = 1000;
	if (!max_entries)
		max_entries = 1000000;
	char maxkeys[16];
	snprintf(maxkeys, sizeof(maxkeys), "%u", page_size);
	struct listing *ls = calloc(n ? n : 1, sizeof(*ls));
	int rc = ls ? 0 : sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	for (size_t i = 0; !rc && i < n; i++) {
		const char *prefix = prefixes[i] ? prefixes[i] : "";
		ls[i].out = &outs[i];
		ls[i].more = 1;
		snprintf(ls[i].label, sizeof(ls[i].label), "LIST %s", sk_s3_describe(c, prefix));
		if (!(ls[i].fp = full_prefix(c, prefix)))
			rc = sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	}
	for (int any = 1; !rc && any;)
		rc = list_round(c, ls, n, maxkeys, max_entries, &any, err);
	for (size_t i = 0; ls && i < n; i++) {
		free(ls[i].token);
		free(ls[i].fp);
		if (rc)
			sk_s3_list_free(&outs[i]);
	}
	free(ls);
	return rc;
}

int sk_s3_list(struct sk_s3 *c, const char *prefix, unsigned page_size, size_t max_entries,
	       struct sk_s3_list *out, struct sk_err *err)
{
	return sk_s3_list_many(c, &prefix, 1, page_size, max_entries, out, err);
}
