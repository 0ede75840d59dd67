/*
 * Object ids and type names. An id is SHA-256 over "<type> <len>\0" +
 * payload; every other module hashes through here so the header form is
 * written once. Hex is lowercase only: an uppercase id is rejected rather
 * than folded, so one object has exactly one printed name.
 *
 * Two SHA-256 implementations, one result: inputs of at least
 * SHA256_LARGE bytes go through OpenSSL's EVP interface (it picks SHA-NI or
 * AVX2 code at run time, several times faster on big artifacts), smaller
 * ones through libsodium, because OpenSSL's first digest loads its
 * providers and configuration, which costs more than a small object's whole
 * read. Allocation failure inside OpenSSL aborts: a hasher that silently
 * produced a wrong id would be worse than a crash.
 */
#include "objects/oid.h"

#include <assert.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sha256.h"

static const char *const type_names[SK_OBJ__COUNT] = {
	[SK_OBJ_NONE] = NULL,
	[SK_OBJ_BLOB] = "blob",
	[SK_OBJ_FILE] = "file",
	[SK_OBJ_RELEASE] = "release",
	[SK_OBJ_SIGNATURE] = "signature",
	[SK_OBJ_COMMIT] = "commit",
	[SK_OBJ_CONTROL] = "control",
	[SK_OBJ_OPERATION] = "operation",
	[SK_OBJ_EVENT] = "event",
	[SK_OBJ_APPROVAL] = "approval",
	[SK_OBJ_REFRECORD] = "refrecord",
	[SK_OBJ_TRUST] = "trust",
	[SK_OBJ_REPORT] = "report",
	[SK_OBJ_BACKUP] = "backup",
	[SK_OBJ_SECRETREF] = "secretref",
};

static int type_valid(enum sk_otype t)
{
	return t > SK_OBJ_NONE && t < SK_OBJ__COUNT;
}

const char *sk_otype_name(enum sk_otype t)
{
	/* Never NULL, so a caller can print any value safely. */
	if (t == SK_OBJ_NONE)
		return "none";
	return type_valid(t) ? type_names[t] : "unknown";
}

enum sk_otype sk_otype_parse(const char *name)
{
	if (!name)
		return SK_OBJ_NONE;
	for (int t = SK_OBJ_NONE + 1; t < SK_OBJ__COUNT; t++)
		if (strcmp(name, type_names[t]) == 0)
			return (enum sk_otype)t;
	return SK_OBJ_NONE;
}

int sk_otype_is_json(enum sk_otype t)
{
	return type_valid(t) && t != SK_OBJ_BLOB;
}

static const char hexdigits[] = "0123456789abcdef";

void sk_hex(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdigits[in[i] >> 4];
		out[2 * i + 1] = hexdigits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int sk_unhex(const char *hex, unsigned char *out, size_t n)
{
	if (!hex)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(hex[2 * i]);
		if (hi < 0)
			return -1;
		int lo = hexval(hex[2 * i + 1]);
		if (lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return hex[2 * n] == '\0' ? 0 : -1;
}

char *sk_oid_tohex(const struct sk_oid *oid, char *buf)
{
	sk_hex(oid->id, SK_OID_RAWSZ, buf);
	return buf;
}

int sk_oid_fromhex(struct sk_oid *out, const char *hex, struct sk_err *err)
{
	struct sk_oid tmp;
	if (!hex || sk_unhex(hex, tmp.id, SK_OID_RAWSZ) < 0)
		return sk_err_set(err, SK_EINVAL, "an object id is 64 lowercase hex digits",
				  "invalid object id '%.80s'", hex ? hex : "(null)");
	*out = tmp;
	return 0;
}

int sk_oid_is_prefix(const char *s)
{
	if (!s)
		return 0;
	size_t n = 0;
	for (; s[n]; n++)
		if (n >= SK_OID_HEXSZ || hexval(s[n]) < 0)
			return 0;
	return n >= SK_OID_MIN_PREFIX;
}

int sk_oid_cmp(const struct sk_oid *a, const struct sk_oid *b)
{
	return memcmp(a->id, b->id, SK_OID_RAWSZ);
}

int sk_oid_is_zero(const struct sk_oid *oid)
{
	for (size_t i = 0; i < SK_OID_RAWSZ; i++)
		if (oid->id[i])
			return 0;
	return 1;
}

size_t sk_oid_header(char *buf, enum sk_otype t, uint64_t len)
{
	/* Longest: 9-letter name, space, 20 digits, NUL = 31 bytes. */
	int n = snprintf(buf, 32, "%s %" PRIu64, sk_otype_name(t), len);
	assert(n > 0 && n < 32);
	return (size_t)n + 1;
}

/* Chunks of a large artifact (256 KiB and up) take the fast code; the
 * documents every command reads stay far below it. */
#define SHA256_LARGE (64u << 10)

struct sk_hasher {
	struct sk_sha256 *ctx; /* large inputs; NULL when small is used */
	crypto_hash_sha256_state small;
	uint64_t want, seen;
};

static struct sk_hasher *hasher_for(uint64_t len)
{
	struct sk_hasher *h = calloc(1, sizeof(*h));
	if (!h)
		abort();
	if (len >= SHA256_LARGE)
		h->ctx = sk_sha256_new();
	else
		crypto_hash_sha256_init(&h->small);
	h->want = len;
	return h;
}

static void hasher_update(struct sk_hasher *h, const void *data, size_t len)
{
	if (len == 0)
		return;
	if (!h->ctx)
		crypto_hash_sha256_update(&h->small, data, len);
	else
		sk_sha256_update(h->ctx, data, len);
}

static void hasher_final(struct sk_hasher *h, unsigned char out[32])
{
	if (!h->ctx)
		crypto_hash_sha256_final(&h->small, out);
	else
		sk_sha256_final(h->ctx, out);
}

struct sk_hasher *sk_hasher_new(enum sk_otype t, uint64_t len)
{
	struct sk_hasher *h = hasher_for(len);
	char hdr[32];
	hasher_update(h, hdr, sk_oid_header(hdr, t, len));
	return h;
}

void sk_hasher_update(struct sk_hasher *h, const void *data, size_t len)
{
	h->seen += len;
	hasher_update(h, data, len);
}

void sk_hasher_final(struct sk_hasher *h, struct sk_oid *out)
{
	/* The header already committed to want bytes; any other count is a
	 * caller bug that would name the object wrongly. */
	assert(h->seen == h->want);
	hasher_final(h, out->id);
}

void sk_hasher_free(struct sk_hasher *h)
{
	if (!h)
		return;
	sk_sha256_free(h->ctx);
	free(h);
}

void sk_oid_hash(struct sk_oid *out, enum sk_otype t, const void *payload, size_t len)
{
	struct sk_hasher *h = sk_hasher_new(t, len);
	sk_hasher_update(h, payload, len);
	sk_hasher_final(h, out);
	sk_hasher_free(h);
}

void sk_sha256(const void *data, size_t len, unsigned char out[32])
{
	struct sk_hasher *h = hasher_for(len);
	hasher_update(h, data, len);
	hasher_final(h, out);
	sk_hasher_free(h);
}
