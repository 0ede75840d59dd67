/*
 * The `signature` object: a release signed by a key, the target of
 * refs/releases/<svc>/<version>. Canonical JSON
 *   {"release":OID,"sig":HEX128,"signer":KEYID,"time":INT,"v":1}
 * sig is an ed25519 signature by key `signer` over
 * SK_SIGN_DOMAIN_SIGNATURE "\0" + the canonical document without "sig".
 * Whether the signer may sign a release is the trust policy's decision
 * (refs/), not this file's: here the public key is an input.
 */
#ifndef SK_SIGNATURE_H
#define SK_SIGNATURE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "objects/oid.h"
#include "objects/refrecord.h"

#define SK_SIGN_DOMAIN_SIGNATURE "skiff-release-signature-v1"

struct sk_signature {
	struct sk_oid release;
	char signer[SK_KEYID_HEXSZ + 1];
	int64_t time; /* seconds since the epoch, UTC, >= 0 */
	int has_sig;
	unsigned char sig[SK_SIG_RAWSZ];
};

/* New reference; "sig" only when with_sig and s->has_sig. */
json_t *sk_signature_to_json(const struct sk_signature *s, int with_sig);
/* The signed message: canonical bytes without "sig" (*out malloc'd). */
int sk_signature_message(const struct sk_signature *s, char **out, size_t *len,
			 struct sk_err *err);
/* Strict: exact keys, v == 1, hex of exact lengths, time >= 0, sig
 * present. SK_EINVAL naming the field otherwise. */
int sk_signature_from_json(struct sk_signature *out, const json_t *doc, struct sk_err *err);
/* sk_cjson_parse + sk_signature_from_json. */
int sk_signature_parse(struct sk_signature *out, const void *buf, size_t len,
		       struct sk_err *err);
/* 0, or SK_ESIGNATURE when sig is not pub's signature over the message. */
int sk_signature_verify(const struct sk_signature *s, const unsigned char pub[32],
			struct sk_err *err);

#endif
