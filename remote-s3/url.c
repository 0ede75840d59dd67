/*
 * s3:// URLs. Strict: anything not understood is refused with the form
 * in the hint, because a mistyped endpoint would otherwise send requests
 * (and signed credentials) to AWS or to the wrong server.
 */
#include "remote-s3/s3.h"

#include <stdlib.h>
#include <string.h>

#define URL_HINT "expected s3://BUCKET[/PREFIX][?endpoint=http://HOST:PORT][&region=REGION]"

void sk_s3_url_free(struct sk_s3_url *u)
{
	if (!u)
		return;
	free(u->bucket);
	free(u->prefix);
	free(u->endpoint);
	free(u->region);
	memset(u, 0, sizeof(*u));
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..n) into a malloc'd string; NULL on a bad escape,
 * a NUL or a control byte. */
static char *pct_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t o = 0;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
			int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				free(out);
				return NULL;
			}
			c = hi * 16 + lo;
			i += 2;
		}
		if (c < 0x20 || c == 0x7f) {
			free(out);
			return NULL;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}

static int bucket_ok(const char *b, size_t n)
{
	if (n < 3 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = b[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

/* "a/b" without empty, "." or ".." components or control bytes. */
static int prefix_ok(const char *p)
{
	if (strlen(p) > 512)
		return 0;
	const char *s = p;
	while (*s) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return 0;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '\\' || s[i] == '#')
				return 0;
		s += n;
		if (*s == '/')
			s++;
	}
	return 1;
}

/* http(s)://host[:port][/]: a hostname, IPv4 or [IPv6] and a port. */
static int endpoint_ok(const char *e)
{
	const char *h;
	if (strncmp(e, "http://", 7) == 0)
		h = e + 7;
	else if (strncmp(e, "https://", 8) == 0)
		h = e + 8;
	else
		return 0;
	const char *p = h;
	if (*p == '[') {
		p++;
		while (*p && *p != ']') {
			if (!(hexval(*p) >= 0 || *p == ':' || *p == '.'))
				return 0;
			p++;
		}
		if (*p++ != ']' || p - h < 4)
			return 0;
	} else {
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		       (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_')
			p++;
		if (p == h)
			return 0;
	}
	if (*p == ':') {
		long port = 0;
		const char *d = ++p;
		while (*p >= '0' && *p <= '9' && p - d < 6)
			port = port * 10 + (*p++ - '0');
		if (p == d || port < 1 || port > 65535)
			return 0;
	}
	return *p == '\0';
}

static int region_ok(const char *r)
{
	size_t n = strlen(r);
	if (n < 1 || n > 32)
		return 0;
	for (; *r; r++)
		if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') || *r == '-'))
			return 0;
	return 1;
}

/* The URL goes into the message only when it is plain printable ASCII
 * without userinfo: a message is never the way a secret or a broken
 * byte reaches a terminal or a JSON document. */
static int bad(struct sk_err *err, const char *what, const char *url)
{
	int show = strlen(url) <= 200 && !strchr(url, '@');
	for (const char *p = url; show && *p; p++)
		show = (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f;
	return sk_err_set(err, SK_EINVAL, URL_HINT, "bad S3 URL%s%s: %s", show ? " " : "",
			  show ? url : "", what);
}

static int parse_query(const char *q, struct sk_s3_url *out, const char *url, struct sk_err *err)
{
	while (*q) {
		const char *amp = strchr(q, '&');
		size_t n = amp ? (size_t)(amp - q) : strlen(q);
		const char *eq = memchr(q, '=', n);
		if (!eq)
			return bad(err, "a query parameter without a value", url);
		size_t kn = (size_t)(eq - q);
		char *val = pct_decode(eq + 1, n - kn - 1);
		if (!val)
			return bad(err, "a bad percent-escape or control byte in a value", url);
		char **slot = NULL;
		if (kn == 8 && memcmp(q, "endpoint", 8) == 0)
			slot = &out->endpoint;
		else if (kn == 6 && memcmp(q, "region", 6) == 0)
			slot = &out->region;
		if (!slot) {
			free(val);
			return sk_err_set(err, SK_EINVAL,
					  "the parameters are endpoint= and region=",
					  "bad S3 URL: unknown parameter (only endpoint and region)");
		}
		if (*slot) {
			free(val);
			return bad(err, "a parameter given twice", url);
		}
		*slot = val;
		q += n;
		if (*q == '&')
			q++;
	}
	return 0;
}

static int parse(const char *url, struct sk_s3_url *out, struct sk_err *err)
{
	if (strncmp(url, "s3://", 5) != 0)
		return bad(err, "not an s3:// URL", url);
	const char *s = url + 5;
	size_t plen = strcspn(s, "?");
	size_t blen = strcspn(s, "/?");
	if (!bucket_ok(s, blen))
		return bad(err, "the bucket must be 3..63 of [A-Za-z0-9._-]", url);
	if (!(out->bucket = strndup(s, blen)))
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	const char *p = s + blen;
	size_t rest = plen - blen;
	if (rest && *p == '/') {
		p++;
		rest--;
	}
	while (rest && p[rest - 1] == '/')
		rest--;
	if (!(out->prefix = strndup(p, rest)))
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	if (!prefix_ok(out->prefix))
		return bad(err, "the prefix has an empty, '.' or '..' component or a bad byte",
			   url);
	if (s[plen] == '?') {
		int rc = parse_query(s + plen + 1, out, url, err);
		if (rc)
			return rc;
	}
	if (out->endpoint) {
		size_t n = strlen(out->endpoint);
		if (n && out->endpoint[n - 1] == '/')
			out->endpoint[n - 1] = '\0';
		if (strchr(out->endpoint, '@'))
			return sk_err_set(err, SK_EINVAL,
					  "credentials come from AWS_ACCESS_KEY_ID and "
					  "AWS_SECRET_ACCESS_KEY, never from the URL",
					  "bad S3 URL: the endpoint holds credentials");
		if (!endpoint_ok(out->endpoint))
			return bad(err, "endpoint must be http(s)://HOST[:PORT] with no path", url);
	}
	if (!out->region) {
		const char *r = getenv("AWS_REGION");
		if (!r || !*r)
			r = getenv("AWS_DEFAULT_REGION");
		if (!(out->region = strdup(r && *r ? r : "us-east-1")))
			return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	}
	if (!region_ok(out->region))
		return bad(err, "region must be 1..32 of [a-z0-9-]", url);
	/* TLS to BUCKET.s3…amazonaws.com fails for a bucket with a dot */
	out->path_style = out->endpoint != NULL || strchr(out->bucket, '.') != NULL;
	return 0;
}

int sk_s3_url_parse(const char *url, struct sk_s3_url *out, struct sk_err *err)
{
	memset(out, 0, sizeof(*out));
	int rc = parse(url, out, err);
	if (rc)
		sk_s3_url_free(out);
	return rc;
}
