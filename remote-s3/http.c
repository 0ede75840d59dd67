/*
 * The request engine: the client object, SigV4-signed requests on
 * libcurl's multi interface, retries with backoff, batches.
 *
 * One multi handle per client holds the connection cache, so every batch
 * (and every single request, which is a batch of one) reuses kept-alive
 * connections. A batch keeps at most `jobs` transfers in flight; a
 * finished attempt is either final (the request's done callback runs) or
 * parked with a not-before time for its retry. Everything runs on the
 * caller's thread inside sk_s3_batch_run.
 */
#include "remote-s3/s3_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <sodium.h>

#include "objects/oid.h"

#define ERROR_BODY_MAX ((size_t)64 << 10) /* an error document is small */
#define POOL_MAX 64

enum phase {
	PH_MAIN = 0, /* the request as asked */
	PH_PROBE,    /* HEAD after a 412 on If-Match: which ETag form? */
	PH_REPUT,    /* the PUT again with the other If-Match form */
};

struct xfer {
	struct sk_s3_req *req;
	struct sk_s3_batch *batch;
	size_t index;            /* order of adding */
	enum phase phase;
	enum sk_s3_method method; /* of the current attempt */
	char *path;              /* raw path, signed and (encoded) sent */
	char *query;             /* encoded query, "" when none */
	char *label;             /* "GET s3://b/k" for messages */
	char payload_hash[65];
	CURL *easy;
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE];
	size_t up_off;
	/* the response of the current attempt */
	unsigned char *body;
	size_t blen, bcap;
	int too_big;
	char etag[SK_S3_ETAG_MAX];
	uint64_t clen;
	int has_clen;
	uint64_t not_before;     /* monotonic ms of a parked retry */
	struct xfer *next;
};

struct sk_s3_batch {
	struct sk_s3 *c;
	unsigned jobs;
	struct xfer *queue, *queue_tail; /* not started */
	struct xfer *parked;             /* waiting to retry */
	struct xfer *active;             /* in the multi handle */
	size_t nactive;
	size_t added;
	int stop_rc;
	struct sk_err stop_err;
	int fail_rc;
	size_t fail_index;
	struct sk_err fail_err;
};

/* ---- the client ---------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void curl_init_once(void)
{
	curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* xorshift64*: the jitter needs spread, not secrecy */
static double rng_next(struct sk_s3 *c)
{
	uint64_t x = c->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	c->rng = x;
	return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static char *env_dup(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? strdup(v) : NULL;
}

static int make_origin(struct sk_s3 *c, struct sk_err *err)
{
	char buf[512];
	const struct sk_s3_url *u = &c->url;
	if (u->endpoint) {
		const char *auth = strstr(u->endpoint, "://") + 3;
		c->origin = strdup(u->endpoint);
		c->host = strdup(auth);
	} else {
		if (u->path_style)
			snprintf(buf, sizeof(buf), "s3.%s.amazonaws.com", u->region);
		else
			snprintf(buf, sizeof(buf), "%s.s3.%s.amazonaws.com", u->bucket, u->region);
		c->host = strdup(buf);
		snprintf(buf, sizeof(buf), "https://%s", c->host ? c->host : "");
		c->origin = strdup(buf);
	}
	if (!c->origin || !c->host)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	return 0;
}

int sk_s3_new(struct sk_s3 **out, const char *url, const struct sk_s3_opts *opts,
	      struct sk_err *err)
{
	*out = NULL;
	int rc0 = sk_curllib_load(err);
	if (rc0)
		return rc0;
	pthread_once(&curl_once, curl_init_once);
	if (!curl_ok)
		return sk_err_set(err, SK_EFAIL, NULL, "libcurl failed to initialise");
	struct sk_s3 *c = calloc(1, sizeof(*c));
	if (!c)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	int rc = sk_s3_url_parse(url, &c->url, err);
	if (rc) {
		free(c);
		return rc;
	}
	if (opts)
		c->opts = *opts;
	struct sk_s3_opts *o = &c->opts;
	if (!o->jobs)
		o->jobs = 16;
	if (!o->max_attempts)
		o->max_attempts = 5;
	if (!o->backoff_ms)
		o->backoff_ms = 200;
	if (!o->backoff_max_ms)
		o->backoff_max_ms = 5000;
	if (!o->connect_timeout_ms)
		o->connect_timeout_ms = 5000;
	if (!o->low_speed_secs)
		o->low_speed_secs = 30;
	if (!o->low_speed_bytes)
		o->low_speed_bytes = 1;
	if (o->if_match_form == SK_S3_ETAG_AUTO)
		c->etag_form = c->url.endpoint ? SK_S3_ETAG_UNQUOTED : SK_S3_ETAG_QUOTED;
	else
		c->etag_form = o->if_match_form;
	c->access_key = env_dup("AWS_ACCESS_KEY_ID");
	c->secret_key = env_dup("AWS_SECRET_ACCESS_KEY");
	c->session_token = env_dup("AWS_SESSION_TOKEN");
	if (!c->access_key || !c->secret_key) {
		sk_s3_free(c);
		return sk_err_set(err, SK_EAUTH,
				  "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
				  "(and AWS_SESSION_TOKEN for temporary credentials)",
				  "no S3 credentials: AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY is unset");
	}
	if ((rc = make_origin(c, err)) != 0) {
		sk_s3_free(c);
		return rc;
	}
	c->multi = curl_multi_init();
	if (!c->multi) {
		sk_s3_free(c);
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	}
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 64L);
	c->rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)c ^
		 now_ms();
	if (!c->rng)
		c->rng = 88172645463325252ULL;
	*out = c;
	return 0;
}

static void wipe_free(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

void sk_s3_free(struct sk_s3 *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->npool; i++)
		curl_easy_cleanup(c->pool[i]);
	free(c->pool);
	if (c->multi)
		curl_multi_cleanup(c->multi); /* closes the connections: on_close_socket */
	free(c->socks);
	sk_s3_url_free(&c->url);
	free(c->access_key);
	wipe_free(c->secret_key);
	wipe_free(c->session_token);
	free(c->origin);
	free(c->host);
	free(c);
}

const struct sk_s3_url *sk_s3_url(const struct sk_s3 *c) { return &c->url; }
unsigned long sk_s3_requests(const struct sk_s3 *c) { return c->requests; }

const char *sk_s3_describe(struct sk_s3 *c, const char *key)
{
	const struct sk_s3_url *u = &c->url;
	snprintf(c->desc, sizeof(c->desc), "s3://%s%s%s%s%s", u->bucket,
		 u->prefix[0] || (key && key[0]) ? "/" : "", u->prefix,
		 u->prefix[0] && key && key[0] ? "/" : "", key ? key : "");
	return c->desc;
}

int sk_s3__check_key(const char *key, struct sk_err *err)
{
	size_t n = key ? strlen(key) : 0;
	if (n == 0 || n > SK_S3_KEY_MAX || key[0] == '/')
		return sk_err_set(err, SK_EINVAL, NULL, "bad S3 key: empty, too long or absolute");
	for (const char *p = key; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return sk_err_set(err, SK_EINVAL, NULL, "bad S3 key: a control byte");
	return 0;
}

/* ---- retry policy and error mapping --------------------------------- */

int sk_s3_retryable(int curl_code, long status)
{
	switch (curl_code) {
	case CURLE_OK:
		return status == 429 || (status >= 500 && status <= 599 && status != 501);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

unsigned sk_s3_backoff_ms(unsigned attempt, unsigned backoff_ms, unsigned max_ms, double r)
{
	uint64_t d = backoff_ms;
	for (unsigned i = 2; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	if (r < 0)
		r = 0;
	if (r >= 1)
		r = 0.999999;
	/* "equal jitter": never less than half, so retries do spread out
	 * in time even when the random draw is small */
	return (unsigned)(d / 2 + (uint64_t)((double)(d - d / 2) * r));
}

static int is_auth_code(const char *code)
{
	static const char *const auth[] = {
		"AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "ExpiredToken",
		"InvalidToken", "TokenRefreshRequired", "RequestTimeTooSkewed",
		"InvalidSecurity", "AccountProblem", "AllAccessDisabled", "NotSignedUp",
	};
	for (size_t i = 0; i < sizeof(auth) / sizeof(auth[0]); i++)
		if (strcmp(code, auth[i]) == 0)
			return 1;
	return 0;
}

int sk_s3_http_error(long status, const void *body, size_t len, const char *what,
		     const char *endpoint, struct sk_err *err)
{
	struct sk_s3_xml_error x;
	if (!body || sk_s3_xml_error_parse(body, len, &x) != 0)
		memset(&x, 0, sizeof(x));
	char detail[SK_S3_CODE_MAX + SK_S3_MESSAGE_MAX + 48];
	snprintf(detail, sizeof(detail), "HTTP %ld%s%s%s%s", status, x.code[0] ? " " : "", x.code,
		 x.message[0] ? ": " : "", x.message);
	char hint[SK_ERR_HINT];
	if (strcmp(x.code, "NoSuchBucket") == 0) {
		snprintf(hint, sizeof(hint), "create the bucket or fix the remote URL");
		return sk_err_set(err, SK_ENOTFOUND, hint, "%s: no such bucket (%s)", what, detail);
	}
	if (status == 404 || strcmp(x.code, "NoSuchKey") == 0)
		return sk_err_set(err, SK_ENOTFOUND, NULL, "%s: not found (%s)", what, detail);
	if (status == 412 || strcmp(x.code, "PreconditionFailed") == 0)
		return sk_err_set(err, SK_ECONFLICT,
				  "the object changed since it was read: fetch, then retry",
				  "%s: precondition failed (%s)", what, detail);
	if (strcmp(x.code, "RequestTimeTooSkewed") == 0)
		return sk_err_set(err, SK_EAUTH, "the local clock is off: synchronise it (NTP)",
				  "%s: request refused (%s)", what, detail);
	if (strcmp(x.code, "AuthorizationHeaderMalformed") == 0 ||
	    strcmp(x.code, "PermanentRedirect") == 0 || status == 301 || status == 307) {
		return sk_err_set(err, SK_EFAIL,
				  "the bucket may be in another region: set ?region= in the remote URL",
				  "%s: refused (%s)", what, detail);
	}
	if (status == 401 || status == 403 || is_auth_code(x.code)) {
		snprintf(hint, sizeof(hint),
			 "check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) "
			 "and the bucket's permissions for %s",
			 endpoint);
		return sk_err_set(err, SK_EAUTH, hint, "%s: access denied (%s)", what, detail);
	}
	if (status == 409 && (strcmp(x.code, "ConditionalRequestConflict") == 0 ||
			      strcmp(x.code, "OperationAborted") == 0))
		return sk_err_set(err, SK_ECONFLICT, "a concurrent write won: fetch, then retry",
				  "%s: conflict (%s)", what, detail);
	if (status == 429 || status >= 500) {
		snprintf(hint, sizeof(hint), "the S3 service at %s is failing or throttling; retry later",
			 endpoint);
		return sk_err_set(err, SK_EIO, hint, "%s: server error (%s)", what, detail);
	}
	return sk_err_set(err, SK_EFAIL, NULL, "%s: refused (%s)", what, detail);
}

static int transport_error(struct xfer *x, int cc)
{
	struct sk_s3 *c = x->batch->c;
	const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror((CURLcode)cc);
	char hint[SK_ERR_HINT];
	if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE)
		snprintf(hint, sizeof(hint), "the TLS certificate of %s did not verify", c->origin);
	else
		snprintf(hint, sizeof(hint),
			 "check that the S3 endpoint %s is up and reachable (the remote URL's "
			 "endpoint=)",
			 c->origin);
	return sk_err_set(&x->req->err, SK_EUNREACHABLE, hint, "%s: cannot reach %s: %s (%u attempt%s)",
			  x->label, c->origin, why, x->req->attempts, x->req->attempts == 1 ? "" : "s");
}

/* ---- curl callbacks ------------------------------------------------- */

static long response_code(struct xfer *x)
{
	long st = 0;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &st);
	return st;
}

static size_t body_limit(struct xfer *x)
{
	size_t m = x->req->max_bytes ? x->req->max_bytes : SK_S3_DEFAULT_MAX_BODY;
	return m;
}

/* Acknowledges at once what the client's sockets received. A server
 * that writes the headers and then the body in two sends without
 * TCP_NODELAY (RGW's beast frontend by default) holds the body back, by
 * Nagle's algorithm, until the headers are acknowledged; on a kept-alive
 * connection Linux delays that acknowledgement by 40 ms (request-response
 * traffic puts a socket in "ping-pong" mode), which every response with a
 * body then waits. TCP_QUICKACK sends a pending acknowledgement now and
 * does not stick, so it is asked for whenever a header block ends; libcurl
 * does not tell which socket a transfer uses while it runs, so every
 * socket of the client gets it (a few at most; an idle one just acks). */
static void ack_all(struct sk_s3 *c)
{
#ifdef TCP_QUICKACK
	int one = 1;
	for (size_t i = 0; i < c->nsocks; i++)
		(void)setsockopt(c->socks[i], IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
#else
	(void)c;
#endif
}

/* libcurl made a socket: remember it for ack_all. */
static int on_sockopt(void *ud, curl_socket_t fd, curlsocktype purpose)
{
	struct sk_s3 *c = ud;
	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKOPT_OK;
	if (c->nsocks == c->socks_cap) {
		size_t cap = c->socks_cap ? c->socks_cap * 2 : 16;
		curl_socket_t *ns = realloc(c->socks, cap * sizeof(*ns));
		if (!ns)
			return CURL_SOCKOPT_OK; /* only slower */
		c->socks = ns;
		c->socks_cap = cap;
	}
	c->socks[c->nsocks++] = fd;
	return CURL_SOCKOPT_OK;
}

static int on_close_socket(void *ud, curl_socket_t fd)
{
	struct sk_s3 *c = ud;
	for (size_t i = 0; i < c->nsocks; i++)
		if (c->socks[i] == fd) {
			c->socks[i] = c->socks[--c->nsocks];
			break;
		}
	return close(fd);
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * nitems;
	if ((len == 2 || len == 1) && (buf[0] == '\r' || buf[0] == '\n'))
		ack_all(x->batch->c); /* the headers end: a body (an error page too) may wait */
	if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue, say) starts afresh */
		x->etag[0] = '\0';
		x->has_clen = 0;
		return len;
	}
	if (len > 5 && strncasecmp(buf, "etag:", 5) == 0) {
		if (sk_s3_etag_clean(buf + 5, len - 5, x->etag) != 0)
			x->etag[0] = '\0';
	} else if (len > 15 && strncasecmp(buf, "content-length:", 15) == 0) {
		uint64_t v = 0;
		size_t i = 15, digits = 0;
		while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
			i++;
		for (; i < len && buf[i] >= '0' && buf[i] <= '9' && digits < 19; i++, digits++)
			v = v * 10 + (uint64_t)(buf[i] - '0');
		if (digits) {
			x->clen = v;
			x->has_clen = 1;
			long st = response_code(x);
			if (x->method == SK_S3_GET && st >= 200 && st < 300 && v > body_limit(x)) {
				x->too_big = 1;
				return 0; /* aborts the transfer */
			}
		}
	}
	return len;
}

static int grow(struct xfer *x, size_t need)
{
	if (need <= x->bcap)
		return 0;
	size_t cap = x->bcap ? x->bcap : (need < 16384 ? need : 16384);
	while (cap < need)
		cap *= 2;
	unsigned char *nb = realloc(x->body, cap);
	if (!nb)
		return -1;
	x->body = nb;
	x->bcap = cap;
	return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * nmemb;
	long st = response_code(x);
	int ok = st >= 200 && st < 300;
	size_t limit = ok ? body_limit(x) : ERROR_BODY_MAX;
	if (x->blen + len > limit) {
		if (ok) {
			x->too_big = 1;
			return 0;
		}
		len = limit - x->blen; /* keep the head of an error page, drop the rest */
		if (len == 0)
			return size * nmemb;
	}
	/* one allocation when the length is announced */
	size_t want = x->blen + len + 1;
	if (ok && x->has_clen && x->clen < limit && x->clen + 1 > want)
		want = (size_t)x->clen + 1;
	if (grow(x, want) != 0)
		return 0;
	memcpy(x->body + x->blen, data, len);
	x->blen += len;
	return size * nmemb;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
	struct xfer *x = ud;
	size_t room = size * nitems, left = x->req->body_len - x->up_off;
	size_t n = left < room ? left : room;
	if (n)
		memcpy(buf, (const unsigned char *)x->req->body + x->up_off, n);
	x->up_off += n;
	return n;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
	struct xfer *x = ud;
	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > x->req->body_len)
		return CURL_SEEKFUNC_FAIL;
	x->up_off = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* ---- one attempt ---------------------------------------------------- */

static const char *method_name(enum sk_s3_method m)
{
	switch (m) {
	case SK_S3_HEAD:
		return "HEAD";
	case SK_S3_PUT:
		return "PUT";
	case SK_S3_DELETE:
		return "DELETE";
	default:
		return "GET";
	}
}

static struct curl_slist *add_header(struct curl_slist *l, int *bad, const char *name,
				     const char *value)
{
	char line[SK_S3_TOKEN_MAX];
	if (snprintf(line, sizeof(line), "%s: %s", name, value) >= (int)sizeof(line)) {
		*bad = 1;
		return l;
	}
	struct curl_slist *n = curl_slist_append(l, line);
	if (!n)
		*bad = 1;
	return n ? n : l;
}

/* Signs and builds the header list of the current attempt. */
static int build_headers(struct xfer *x, struct sk_err *err)
{
	struct sk_s3 *c = x->batch->c;
	char amz_date[32];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm);
	const char *hash = x->method == SK_S3_PUT ? x->payload_hash : SK_SIGV4_EMPTY_SHA256;
	char cond[SK_S3_ETAG_MAX + 4] = "";
	const char *cond_name = NULL;
	if (x->method == SK_S3_PUT && x->req->cond == SK_S3_IF_ABSENT) {
		cond_name = "If-None-Match";
		strcpy(cond, "*");
	} else if (x->method == SK_S3_PUT && x->req->cond == SK_S3_IF_MATCH) {
		cond_name = "If-Match";
		snprintf(cond, sizeof(cond), c->etag_form == SK_S3_ETAG_QUOTED ? "\"%s\"" : "%s",
			 x->req->etag);
	}
	struct sk_sigv4_pair h[6];
	size_t nh = 0;
	h[nh++] = (struct sk_sigv4_pair){ "Host", c->host };
	h[nh++] = (struct sk_sigv4_pair){ "x-amz-content-sha256", hash };
	h[nh++] = (struct sk_sigv4_pair){ "x-amz-date", amz_date };
	if (c->session_token)
		h[nh++] = (struct sk_sigv4_pair){ "x-amz-security-token", c->session_token };
	if (cond_name)
		h[nh++] = (struct sk_sigv4_pair){ cond_name, cond };
	struct sk_sigv4_req sreq = {
		.method = method_name(x->method),
		.path = x->path,
		.canonical_query = x->query,
		.headers = h,
		.nheaders = nh,
		.payload_hash = hash,
	};
	struct sk_sigv4_cred cred = { c->access_key, c->secret_key, c->url.region, "s3" };
	char *auth = NULL;
	int rc = sk_sigv4_authorization(&sreq, &cred, amz_date, &auth, err);
	if (rc)
		return rc;
	int bad = 0;
	struct curl_slist *l = NULL;
	for (size_t i = 0; i < nh; i++)
		l = add_header(l, &bad, h[i].name, h[i].value);
	l = add_header(l, &bad, "Authorization", auth);
	free(auth);
	/* no "Expect: 100-continue" round trip before each upload */
	l = add_header(l, &bad, "Expect", "");
	if (x->method == SK_S3_PUT)
		l = add_header(l, &bad, "Content-Type", "application/octet-stream");
	if (bad) {
		curl_slist_free_all(l);
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory building a request");
	}
	x->hdrs = l;
	return 0;
}

static CURL *take_easy(struct sk_s3 *c)
{
	if (c->npool) {
		CURL *e = c->pool[--c->npool];
		curl_easy_reset(e);
		return e;
	}
	return curl_easy_init();
}

static void give_easy(struct sk_s3 *c, CURL *e)
{
	if (c->npool < POOL_MAX) {
		if (!c->pool) {
			c->pool = calloc(POOL_MAX, sizeof(*c->pool));
			if (!c->pool) {
				curl_easy_cleanup(e);
				return;
			}
		}
		c->pool[c->npool++] = e;
	} else {
		curl_easy_cleanup(e);
	}
}

static int start_attempt(struct xfer *x, struct sk_err *err)
{
	struct sk_s3 *c = x->batch->c;
	x->blen = 0;
	x->too_big = 0;
	x->etag[0] = '\0';
	x->has_clen = 0;
	x->clen = 0;
	x->up_off = 0;
	x->errbuf[0] = '\0';
	int rc = build_headers(x, err);
	if (rc)
		return rc;
	size_t plen = strlen(x->path) * 3 + 1;
	size_t ulen = strlen(c->origin) + plen + strlen(x->query) + 2;
	char *url = malloc(ulen), *epath = malloc(plen);
	if (!url || !epath || !(x->easy = take_easy(c))) {
		free(url);
		free(epath);
		curl_slist_free_all(x->hdrs);
		x->hdrs = NULL;
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory starting a request");
	}
	sk_sigv4_uri_encode(x->path, 1, epath, plen);
	snprintf(url, ulen, "%s%s%s%s", c->origin, epath, x->query[0] ? "?" : "", x->query);
	free(epath);
	CURL *e = x->easy;
	curl_easy_setopt(e, CURLOPT_URL, url);
	free(url); /* libcurl keeps its own copy */
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->opts.connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, c->opts.low_speed_secs);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, c->opts.low_speed_bytes);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "skiff");
	curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
	curl_easy_setopt(e, CURLOPT_SOCKOPTDATA, c);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, c);
	switch (x->method) {
	case SK_S3_HEAD:
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
		break;
	case SK_S3_PUT:
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(e, CURLOPT_READDATA, x);
		curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(e, CURLOPT_SEEKDATA, x);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->req->body_len);
		break;
	case SK_S3_DELETE:
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
		break;
	default:
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	}
	if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
		curl_slist_free_all(x->hdrs);
		x->hdrs = NULL;
		give_easy(c, e);
		x->easy = NULL;
		return sk_err_set(err, SK_EFAIL, NULL, "libcurl refused a transfer");
	}
	c->requests++;
	x->req->attempts++;
	x->next = x->batch->active;
	x->batch->active = x;
	x->batch->nactive++;
	return 0;
}

/* Takes x out of the multi handle and the active list. */
static void detach(struct xfer *x)
{
	struct sk_s3_batch *b = x->batch;
	for (struct xfer **p = &b->active; *p; p = &(*p)->next)
		if (*p == x) {
			*p = x->next;
			b->nactive--;
			break;
		}
	x->next = NULL;
	if (x->easy) {
		curl_multi_remove_handle(b->c->multi, x->easy);
		give_easy(b->c, x->easy);
		x->easy = NULL;
	}
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
}

/* ---- the batch ------------------------------------------------------ */

struct sk_s3_batch *sk_s3_batch_new(struct sk_s3 *c, unsigned jobs)
{
	struct sk_s3_batch *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->c = c;
	b->jobs = jobs ? jobs : c->opts.jobs;
	return b;
}

static void xfer_free(struct xfer *x)
{
	if (!x)
		return;
	free(x->path);
	free(x->query);
	free(x->label);
	free(x->body);
	free(x);
}

static void free_list(struct xfer *x)
{
	while (x) {
		struct xfer *n = x->next;
		xfer_free(x);
		x = n;
	}
}

void sk_s3_batch_free(struct sk_s3_batch *b)
{
	if (!b)
		return;
	while (b->active) {
		struct xfer *x = b->active;
		detach(x);
		xfer_free(x);
	}
	free_list(b->queue);
	free_list(b->parked);
	free(b);
}

static void enqueue(struct sk_s3_batch *b, struct xfer *x)
{
	x->next = NULL;
	if (b->queue_tail)
		b->queue_tail->next = x;
	else
		b->queue = x;
	b->queue_tail = x;
}

/* Remembers the failure that comes first in adding order. */
static void note_failure(struct sk_s3_batch *b, size_t index, int rc, const struct sk_err *e)
{
	if (!b->fail_rc || index < b->fail_index) {
		b->fail_rc = rc;
		b->fail_index = index;
		b->fail_err = *e;
	}
}

/* "/bucket/prefix/key" (path style) or "/prefix/key"; key NULL: the
 * bucket itself. */
static char *object_path(struct sk_s3 *c, const char *key)
{
	const struct sk_s3_url *u = &c->url;
	size_t n = strlen(u->bucket) + strlen(u->prefix) + (key ? strlen(key) : 0) + 4;
	char *p = malloc(n);
	if (!p)
		return NULL;
	const char *b = u->path_style ? u->bucket : "";
	if (!key)
		snprintf(p, n, "/%s", b);
	else
		snprintf(p, n, "%s%s/%s%s%s", u->path_style ? "/" : "", b, u->prefix,
			 u->prefix[0] ? "/" : "", key);
	return p;
}

int sk_s3__add(struct sk_s3_batch *b, struct sk_s3_req *req, const struct sk_sigv4_pair *query,
	       size_t nquery, const char *label, struct sk_err *err)
{
	struct sk_s3 *c = b->c;
	req->rc = 0;
	sk_err_clear(&req->err);
	req->status = 0;
	req->s3_code[0] = '\0';
	req->attempts = 0;
	memset(&req->meta, 0, sizeof(req->meta));
	req->data = NULL;
	req->len = 0;
	int rc = 0;
	char clean[SK_S3_ETAG_MAX];
	if (req->key && (rc = sk_s3__check_key(req->key, &req->err)) != 0)
		goto refuse;
	if (req->method == SK_S3_PUT && req->cond == SK_S3_IF_MATCH &&
	    (!req->etag || req->etag[0] == '"' ||
	     sk_s3_etag_clean(req->etag, strlen(req->etag), clean) != 0 ||
	     strcmp(clean, req->etag) != 0)) {
		rc = sk_err_set(&req->err, SK_EINVAL, NULL,
				"If-Match needs the ETag as returned here (unquoted)");
		goto refuse;
	}
	struct xfer *x = calloc(1, sizeof(*x));
	if (!x) {
		rc = sk_err_set(&req->err, SK_ENOMEM, NULL, "out of memory");
		goto refuse;
	}
	x->req = req;
	x->batch = b;
	x->index = b->added++;
	x->method = req->method;
	x->path = object_path(c, req->key);
	char lbuf[SK_S3_KEY_MAX * 2 + 300];
	if (!label) {
		snprintf(lbuf, sizeof(lbuf), "%s %s", method_name(req->method),
			 sk_s3_describe(c, req->key));
		label = lbuf;
	}
	x->label = strdup(label);
	if ((rc = sk_sigv4_query(query, nquery, &x->query, &req->err)) != 0 || !x->path ||
	    !x->label) {
		xfer_free(x);
		rc = rc ? rc : sk_err_set(&req->err, SK_ENOMEM, NULL, "out of memory");
		goto refuse;
	}
	if (req->method == SK_S3_PUT) {
		unsigned char d[32];
		sk_sha256(req->body, req->body_len, d);
		sk_hex(d, 32, x->payload_hash);
	}
	enqueue(b, x);
	return 0;
refuse:
	req->rc = rc;
	note_failure(b, b->added++, rc, &req->err);
	if (err)
		*err = req->err;
	return rc;
}

int sk_s3_batch_add(struct sk_s3_batch *b, struct sk_s3_req *req, struct sk_err *err)
{
	if (!req->key)
		return sk_err_set(err, SK_EINVAL, NULL, "a request without a key");
	return sk_s3__add(b, req, NULL, 0, NULL, err);
}

/* The request is over: publish the result, run the callback, free x. */
static void finish(struct xfer *x, int rc)
{
	struct sk_s3_batch *b = x->batch;
	struct sk_s3_req *r = x->req;
	r->rc = rc;
	if (rc == 0) {
		sk_err_clear(&r->err);
		if (r->method == SK_S3_GET) {
			if (grow(x, x->blen + 1) != 0) {
				r->rc = sk_err_set(&r->err, SK_ENOMEM, NULL, "out of memory");
			} else {
				x->body[x->blen] = '\0';
				r->data = x->body;
				r->len = x->blen;
				x->body = NULL;
			}
		}
	}
	if (r->rc)
		note_failure(b, x->index, r->rc, &r->err);
	xfer_free(x);
	if (r->done && !b->stop_rc) {
		struct sk_err cerr;
		sk_err_clear(&cerr);
		int crc = r->done(r, r->ctx, &cerr);
		if (crc) {
			b->stop_rc = crc;
			b->stop_err = cerr;
			if (!cerr.message[0])
				sk_err_set(&b->stop_err, crc, NULL, "stopped by a request callback");
		}
	}
}

static void park(struct xfer *x)
{
	struct sk_s3 *c = x->batch->c;
	unsigned d = sk_s3_backoff_ms(x->req->attempts + 1, c->opts.backoff_ms,
				      c->opts.backoff_max_ms, rng_next(c));
	x->not_before = now_ms() + d;
	x->next = x->batch->parked;
	x->batch->parked = x;
}

static void restart_now(struct xfer *x)
{
	struct sk_err e;
	int rc = start_attempt(x, &e);
	if (rc) {
		x->req->err = e;
		finish(x, rc);
	}
}

/* Decides what a finished attempt means. */
static void attempt_done(struct xfer *x, int cc)
{
	struct sk_s3 *c = x->batch->c;
	struct sk_s3_req *r = x->req;
	long st = 0;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &st);
	detach(x);
	r->status = st;
	if (x->too_big) {
		finish(x, sk_err_set(&r->err, SK_ETOOBIG, NULL,
				     "%s: the object is larger than the cap of %zu bytes", x->label,
				     body_limit(x)));
		return;
	}
	int more = r->attempts < c->opts.max_attempts;
	if (cc != CURLE_OK) {
		if (more && sk_s3_retryable(cc, 0)) {
			park(x);
			return;
		}
		finish(x, transport_error(x, cc));
		return;
	}
	if (st >= 200 && st < 300) {
		if (x->phase == PH_PROBE) {
			/* the object still has the ETag we expected, so the 412 was
			 * the server's reading of the quotes: switch and repeat */
			if (strcmp(x->etag, r->etag) != 0) {
				finish(x, sk_err_set(&r->err, SK_ECONFLICT,
						     "the object changed since it was read: fetch, then retry",
						     "%s: precondition failed (HTTP 412)", x->label));
				return;
			}
			c->etag_form = c->etag_form == SK_S3_ETAG_QUOTED ? SK_S3_ETAG_UNQUOTED
									 : SK_S3_ETAG_QUOTED;
			c->etag_known = 1;
			x->phase = PH_REPUT;
			x->method = SK_S3_PUT;
			restart_now(x);
			return;
		}
		if (r->method == SK_S3_PUT && r->cond == SK_S3_IF_MATCH)
			c->etag_known = 1;
		memcpy(r->meta.etag, x->etag, sizeof(r->meta.etag));
		if (r->method == SK_S3_GET)
			r->meta.size = x->blen;
		else if (r->method == SK_S3_HEAD)
			r->meta.size = x->has_clen ? x->clen : 0;
		finish(x, 0);
		return;
	}
	if (x->phase == PH_MAIN && st == 412 && r->method == SK_S3_PUT &&
	    r->cond == SK_S3_IF_MATCH && !c->etag_known) {
		x->phase = PH_PROBE;
		x->method = SK_S3_HEAD;
		restart_now(x);
		return;
	}
	if (more && sk_s3_retryable(CURLE_OK, st)) {
		park(x);
		return;
	}
	if (x->phase == PH_PROBE && st == 404) {
		finish(x, sk_err_set(&r->err, SK_ECONFLICT,
				     "the object was deleted since it was read: fetch, then retry",
				     "%s: precondition failed (HTTP 412)", x->label));
		return;
	}
	struct sk_s3_xml_error xe;
	if (sk_s3_xml_error_parse(x->body, x->blen, &xe) == 0)
		memcpy(r->s3_code, xe.code, sizeof(r->s3_code));
	int rc = sk_s3_http_error(st, x->body, x->blen, x->label, c->origin, &r->err);
	size_t ml = strlen(r->err.message);
	if (r->attempts > 1 && rc == SK_EIO && ml < sizeof(r->err.message))
		snprintf(r->err.message + ml, sizeof(r->err.message) - ml, " after %u attempts",
			 r->attempts);
	finish(x, rc);
}

/* Starts queued and due parked transfers while there is room. */
static void fill(struct sk_s3_batch *b)
{
	uint64_t now = now_ms();
	while (b->nactive < b->jobs && !b->stop_rc) {
		struct xfer *x = NULL;
		for (struct xfer **p = &b->parked; *p; p = &(*p)->next)
			if ((*p)->not_before <= now) {
				x = *p;
				*p = x->next;
				break;
			}
		if (!x && b->queue) {
			x = b->queue;
			b->queue = x->next;
			if (!b->queue)
				b->queue_tail = NULL;
		}
		if (!x)
			break;
		restart_now(x);
	}
}

static long poll_timeout(struct sk_s3_batch *b)
{
	if (!b->parked || b->nactive >= b->jobs)
		return 1000;
	uint64_t now = now_ms(), soonest = UINT64_MAX;
	for (struct xfer *x = b->parked; x; x = x->next)
		if (x->not_before < soonest)
			soonest = x->not_before;
	if (soonest <= now)
		return 0;
	return soonest - now > 1000 ? 1000 : (long)(soonest - now);
}

/* Ends everything not finished with the stop code. */
static void stop_all(struct sk_s3_batch *b)
{
	struct xfer *lists[2] = { b->queue, b->parked };
	b->queue = b->queue_tail = b->parked = NULL;
	while (b->active) {
		struct xfer *x = b->active;
		detach(x);
		x->next = lists[0];
		lists[0] = x;
	}
	for (int i = 0; i < 2; i++) {
		struct xfer *x = lists[i];
		while (x) {
			struct xfer *n = x->next;
			x->req->rc = b->stop_rc;
			x->req->err = b->stop_err;
			xfer_free(x);
			x = n;
		}
	}
}

int sk_s3_batch_run(struct sk_s3_batch *b, struct sk_err *err)
{
	struct sk_s3 *c = b->c;
	/* a done callback that ran requests of its own on this client would
	 * drive the outer batch's transfers from the inner loop */
	if (c->running)
		return sk_err_set(err, SK_EFAIL, "add the request to the running batch instead",
				  "S3 requests started from inside a running batch");
	c->running = 1;
	for (;;) {
		fill(b);
		if (b->stop_rc)
			break;
		if (!b->nactive && !b->queue && !b->parked)
			break;
		int running = 0;
		if (curl_multi_perform(c->multi, &running) != CURLM_OK) {
			b->stop_rc = sk_err_set(&b->stop_err, SK_EFAIL, NULL, "libcurl failed");
			break;
		}
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
			if (m->msg != CURLMSG_DONE)
				continue;
			struct xfer *x = NULL;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			if (x)
				attempt_done(x, m->data.result);
		}
		if (b->stop_rc)
			break;
		fill(b);
		if (!b->nactive && !b->queue && !b->parked)
			break;
		if (b->nactive)
			curl_multi_poll(c->multi, NULL, 0, (int)poll_timeout(b), NULL);
		else if (b->parked) {
			long ms = poll_timeout(b);
			if (ms > 0) {
				struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
				nanosleep(&ts, NULL);
			}
		}
	}
	c->running = 0;
	if (b->stop_rc) {
		stop_all(b);
		if (err)
			*err = b->stop_err;
		return b->stop_rc;
	}
	if (b->fail_rc && err)
		*err = b->fail_err;
	return b->fail_rc;
}

int sk_s3_run(struct sk_s3 *c, struct sk_s3_req *reqs, size_t n, unsigned jobs,
	      struct sk_err *err)
{
	struct sk_s3_batch *b = sk_s3_batch_new(c, jobs);
	if (!b)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	for (size_t i = 0; i < n; i++)
		sk_s3_batch_add(b, &reqs[i], NULL); /* a refusal is in reqs[i].rc */
	int rc = sk_s3_batch_run(b, err);
	sk_s3_batch_free(b);
	return rc;
}
