/*
 * Object ids: SHA-256 over "<type> <payload-length>\0" + payload, printed
 * as 64 lowercase hex digits. Object types and their names live here too.
 */
#ifndef SK_OID_H
#define SK_OID_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define SK_OID_RAWSZ 32
#define SK_OID_HEXSZ 64
#define SK_OID_MIN_PREFIX 8

struct sk_oid {
	unsigned char id[SK_OID_RAWSZ];
};

enum sk_otype {
	SK_OBJ_NONE = 0,
	SK_OBJ_BLOB,
	SK_OBJ_FILE,
	SK_OBJ_RELEASE,
	SK_OBJ_SIGNATURE,
	SK_OBJ_COMMIT,
	SK_OBJ_CONTROL,
	SK_OBJ_OPERATION,
	SK_OBJ_EVENT,
	SK_OBJ_APPROVAL,
	SK_OBJ_REFRECORD,
	SK_OBJ_TRUST,
	SK_OBJ_REPORT,
	SK_OBJ_BACKUP,
	SK_OBJ_SECRETREF,
	SK_OBJ__COUNT
};

const char *sk_otype_name(enum sk_otype t);
/* SK_OBJ_NONE for an unknown name. */
enum sk_otype sk_otype_parse(const char *name);
/* Every type but blob is canonical JSON. */
int sk_otype_is_json(enum sk_otype t);

/* buf must hold SK_OID_HEXSZ + 1 bytes; returns buf. */
char *sk_oid_tohex(const struct sk_oid *oid, char *buf);
/* Parses exactly 64 lowercase hex digits; SK_EINVAL otherwise. */
int sk_oid_fromhex(struct sk_oid *out, const char *hex, struct sk_err *err);
/* True when s is 8..64 lowercase hex digits. */
int sk_oid_is_prefix(const char *s);
int sk_oid_cmp(const struct sk_oid *a, const struct sk_oid *b);
int sk_oid_is_zero(const struct sk_oid *oid);

/* Id of an object of type t with the given payload. */
void sk_oid_hash(struct sk_oid *out, enum sk_otype t, const void *payload, size_t len);

/* The "<type> <len>\0" header; returns its length (buf >= 32 bytes). */
size_t sk_oid_header(char *buf, enum sk_otype t, uint64_t len);

/* Incremental hashing for streamed payloads (length known in advance). */
struct sk_hasher;
struct sk_hasher *sk_hasher_new(enum sk_otype t, uint64_t len);
void sk_hasher_update(struct sk_hasher *h, const void *data, size_t len);
void sk_hasher_final(struct sk_hasher *h, struct sk_oid *out);
void sk_hasher_free(struct sk_hasher *h);

/* Plain SHA-256 (whole-artifact digests, key ids). */
void sk_sha256(const void *data, size_t len, unsigned char out[32]);
/* Lowercase hex of n bytes into out (2n+1 bytes). */
void sk_hex(const unsigned char *in, size_t n, char *out);
/* Parses exactly 2n lowercase hex digits; -1 otherwise. */
int sk_unhex(const char *hex, unsigned char *out, size_t n);

#endif
