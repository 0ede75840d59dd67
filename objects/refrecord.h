/*
 * The ref record: what a ref holds, locally and on a remote, and the
 * payload of a `refrecord` object. Canonical JSON
 *   {"oid":…,"op":…,"prev":…,"ref":…,"seq":…,"sig":…,"signer":…,"time":…,"v":1}
 * oid null marks a deletion (a tombstone keeps the chain and seq going, so
 * a deleted ref cannot be silently recreated at a lower seq). prev is the
 * id of the previous record's refrecord object, null for seq 1. sig is
 * 128 hex digits of an ed25519 signature by key `signer` (16 hex digits)
 * over the record without "sig" (see refs/sign.h for the domain).
 */
#ifndef SK_REFRECORD_H
#define SK_REFRECORD_H

#include <jansson.h>
#include <stdint.h>

#include "common/err.h"
#include "objects/oid.h"

#define SK_KEYID_HEXSZ 16
#define SK_SIG_RAWSZ 64
#define SK_REF_MAX 255
#define SK_OPID_MAX 64

struct sk_refrecord {
	char ref[SK_REF_MAX + 1];
	int has_oid; /* 0: deletion tombstone */
	struct sk_oid oid;
	int has_prev;
	struct sk_oid prev;
	uint64_t seq;
	int64_t time; /* seconds since the epoch, UTC */
	char signer[SK_KEYID_HEXSZ + 1];
	char op[SK_OPID_MAX + 1]; /* "" when null */
	int has_sig;
	unsigned char sig[SK_SIG_RAWSZ];
};

/* Validates every field (ref name, hex forms, seq >= 1, prev null iff
 * seq == 1, time >= 0, no unknown keys). */
int sk_refrecord_from_json(struct sk_refrecord *out, const json_t *doc, struct sk_err *err);
/* New reference; "sig" included only when with_sig and r->has_sig. */
json_t *sk_refrecord_to_json(const struct sk_refrecord *r, int with_sig);
/* Canonical bytes (with sig when present); *out malloc'd. */
int sk_refrecord_dump(const struct sk_refrecord *r, int with_sig, char **out, size_t *len,
		      struct sk_err *err);
/* Parses canonical bytes (sk_cjson_parse + from_json). */
int sk_refrecord_parse(struct sk_refrecord *out, const void *buf, size_t len,
		       struct sk_err *err);
/* Operation ids: 1..64 of [A-Za-z0-9._-], not starting with '.' or '-'. */
int sk_opid_check(const char *op, struct sk_err *err);

#endif
