/*
 * AWS Signature Version 4. The four steps of the published algorithm:
 * canonical request, string to sign, signing key, signature.
 */
#include "remote-s3/sigv4.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "objects/oid.h"

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

size_t sk_sigv4_uri_encode(const char *s, int keep_slash, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		size_t need = (unreserved(*p) || (keep_slash && *p == '/')) ? 1 : 3;
		if (n + need >= size)
			return (size_t)-1;
		if (need == 1) {
			out[n++] = (char)*p;
		} else {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	if (n >= size)
		return (size_t)-1;
	out[n] = '\0';
	return n;
}

/* A malloc'd encoding of s (3 bytes per input byte at most). */
static char *encode_dup(const char *s, int keep_slash)
{
	size_t size = strlen(s) * 3 + 1;
	char *out = malloc(size);
	if (out && sk_sigv4_uri_encode(s, keep_slash, out, size) == (size_t)-1) {
		free(out);
		out = NULL;
	}
	return out;
}

struct kv {
	char *k;
	char *v;
};

static int kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->k, y->k);
	return c ? c : strcmp(x->v, y->v);
}

static void kv_free(struct kv *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].k);
		free(v[i].v);
	}
	free(v);
}

int sk_sigv4_query(const struct sk_sigv4_pair *query, size_t n, char **out, struct sk_err *err)
{
	*out = NULL;
	struct kv *v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory signing a request");
	size_t len = 1;
	for (size_t i = 0; i < n; i++) {
		v[i].k = encode_dup(query[i].name, 0);
		v[i].v = encode_dup(query[i].value ? query[i].value : "", 0);
		if (!v[i].k || !v[i].v) {
			kv_free(v, n);
			return sk_err_set(err, SK_ENOMEM, NULL, "out of memory signing a request");
		}
		len += strlen(v[i].k) + strlen(v[i].v) + 2;
	}
	qsort(v, n, sizeof(*v), kv_cmp);
	char *s = malloc(len);
	if (!s) {
		kv_free(v, n);
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory signing a request");
	}
	size_t off = 0;
	s[0] = '\0';
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(s + off, len - off, "%s%s=%s", i ? "&" : "", v[i].k, v[i].v);
	kv_free(v, n);
	*out = s;
	return 0;
}

/* Header name lowercased; value trimmed, inner runs of blanks as one space. */
static int canon_header(const struct sk_sigv4_pair *h, struct kv *out)
{
	out->k = strdup(h->name);
	out->v = malloc(strlen(h->value ? h->value : "") + 1);
	if (!out->k || !out->v)
		return -1;
	for (char *p = out->k; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	const char *s = h->value ? h->value : "";
	size_t n = 0;
	int blank = 0;
	while (*s == ' ' || *s == '\t')
		s++;
	for (; *s; s++) {
		if (*s == ' ' || *s == '\t') {
			blank = 1;
			continue;
		}
		if (blank && n)
			out->v[n++] = ' ';
		blank = 0;
		out->v[n++] = *s;
	}
	out->v[n] = '\0';
	return 0;
}

static int header_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kv *)a)->k, ((const struct kv *)b)->k);
}

int sk_sigv4_canonical(const struct sk_sigv4_req *req, char **out, char **signed_headers,
		       struct sk_err *err)
{
	*out = NULL;
	if (signed_headers)
		*signed_headers = NULL;
	char *path = encode_dup(req->path && req->path[0] ? req->path : "/", 1);
	char *query = NULL;
	struct kv *h = calloc(req->nheaders ? req->nheaders : 1, sizeof(*h));
	int rc = SK_ENOMEM;
	if (!path || !h)
		goto done;
	if (req->canonical_query)
		query = strdup(req->canonical_query);
	else if ((rc = sk_sigv4_query(req->query, req->nquery, &query, err)) != 0)
		goto done;
	if (!query)
		goto done;
	rc = SK_ENOMEM;
	for (size_t i = 0; i < req->nheaders; i++)
		if (canon_header(&req->headers[i], &h[i]) != 0)
			goto done;
	/* stable order for equal names keeps their values in request order */
	for (size_t i = 1; i < req->nheaders; i++)
		for (size_t j = i; j > 0 && header_name_cmp(&h[j - 1], &h[j]) > 0; j--) {
			struct kv t = h[j];
			h[j] = h[j - 1];
			h[j - 1] = t;
		}
	char *buf = NULL, *names = NULL;
	size_t blen = 0, nlen = 0;
	FILE *f = open_memstream(&buf, &blen);
	FILE *g = open_memstream(&names, &nlen);
	if (!f || !g) {
		if (f)
			fclose(f);
		if (g)
			fclose(g);
		free(buf);
		free(names);
		goto done;
	}
	fprintf(f, "%s\n%s\n%s\n", req->method, path, query);
	for (size_t i = 0; i < req->nheaders; i++) {
		int same = i > 0 && strcmp(h[i].k, h[i - 1].k) == 0;
		if (same) {
			fprintf(f, ",%s", h[i].v); /* repeated names: one line, values joined */
			continue;
		}
		fprintf(f, "%s%s:%s", i ? "\n" : "", h[i].k, h[i].v);
		fprintf(g, "%s%s", i ? ";" : "", h[i].k);
	}
	fclose(g);
	fprintf(f, "%s\n%s\n%s", req->nheaders ? "\n" : "", names, req->payload_hash);
	if (fclose(f) != 0 || !buf) {
		free(buf);
		free(names);
		goto done;
	}
	*out = buf;
	if (signed_headers)
		*signed_headers = names;
	else
		free(names);
	rc = 0;
done:
	if (rc == SK_ENOMEM)
		sk_err_set(err, SK_ENOMEM, NULL, "out of memory signing a request");
	free(path);
	free(query);
	kv_free(h, req->nheaders);
	return rc;
}

static void hmac(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, klen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, strlen(msg));
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

void sk_sigv4_signing_key(const char *secret, const char *date, const char *region,
			  const char *service, unsigned char key[32])
{
	size_t slen = strlen(secret);
	char *k = malloc(slen + 5);
	unsigned char t[32];
	if (!k) { /* the signature then fails at the server; never a crash */
		memset(key, 0, 32);
		return;
	}
	memcpy(k, "AWS4", 4);
	memcpy(k + 4, secret, slen + 1);
	hmac(k, slen + 4, date, t);
	sodium_memzero(k, slen + 4);
	free(k);
	hmac(t, 32, region, key);
	hmac(key, 32, service, t);
	hmac(t, 32, "aws4_request", key);
	sodium_memzero(t, sizeof(t));
}

int sk_sigv4_authorization(const struct sk_sigv4_req *req, const struct sk_sigv4_cred *cred,
			   const char *amz_date, char **out, struct sk_err *err)
{
	*out = NULL;
	if (strlen(amz_date) != 16 || amz_date[8] != 'T' || amz_date[15] != 'Z')
		return sk_err_set(err, SK_EINVAL, NULL, "bad x-amz-date %.32s", amz_date);
	char date[9];
	memcpy(date, amz_date, 8);
	date[8] = '\0';
	char *canon = NULL, *names = NULL;
	int rc = sk_sigv4_canonical(req, &canon, &names, err);
	if (rc != 0)
		return rc;
	unsigned char digest[32];
	char hex[65];
	sk_sha256(canon, strlen(canon), digest);
	sk_hex(digest, 32, hex);
	free(canon);
	char scope[256];
	snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date, cred->region, cred->service);
	char sts[512];
	snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, hex);
	unsigned char key[32], sig[32];
	sk_sigv4_signing_key(cred->secret_key, date, cred->region, cred->service, key);
	hmac(key, 32, sts, sig);
	sodium_memzero(key, sizeof(key));
	sk_hex(sig, 32, hex);
	size_t len = strlen(cred->access_key) + strlen(scope) + strlen(names) + 128;
	*out = malloc(len);
	if (!*out) {
		free(names);
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory signing a request");
	}
	snprintf(*out, len, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		 cred->access_key, scope, names, hex);
	free(names);
	return 0;
}
