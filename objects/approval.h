/*
 * The `approval` object: one approver's signed consent to one operation's
 * plan. Canonical JSON
 *   {"op":OPID,"plan":HEX64,"reason":STRING|null,"sig":HEX128,
 *    "signer":KEYID,"step":INT (optional),"time":INT,"v":1}
 * plan is the operation's plan digest (sk_op_plan_digest: SHA-256 of its
 * id, kind, service, params and steps), so an approval binds exactly the
 * plan the approver saw: for another operation, or after the plan
 * changed, it no longer counts. An optional "step":N (0-based) binds it
 * to one step of the plan: a step that needs its own approval (each
 * member of a stateful deploy) counts only those, and an approval of one
 * step counts for no other. sig is an ed25519 signature by `signer`
 * over SK_SIGN_DOMAIN_APPROVAL "\0" + the canonical document without
 * "sig". Whether the signer is an approver, and not the requester, is
 * decided by the engine with the trust policy; here the key is an input.
 */
#ifndef SK_APPROVAL_H
#define SK_APPROVAL_H

#include <jansson.h>
#include <stdint.h>

#include "common/err.h"
#include "objects/refrecord.h"

#define SK_SIGN_DOMAIN_APPROVAL "skiff-approval-v1"
#define SK_APPROVAL_REASON_MAX 1024
#define SK_APPROVAL_STEP_MAX 64 /* SK_OP_MAX_STEPS */

struct sk_approval {
	char op[SK_OPID_MAX + 1];
	unsigned char plan[32];
	char reason[SK_APPROVAL_REASON_MAX + 1];
	int has_reason;
	int has_step;
	int step; /* 0..SK_APPROVAL_STEP_MAX-1 when has_step */
	char signer[SK_KEYID_HEXSZ + 1];
	int64_t time; /* seconds since the epoch, UTC, >= 0 */
	int has_sig;
	unsigned char sig[SK_SIG_RAWSZ];
};

/* New reference; "sig" only when with_sig and a->has_sig. */
json_t *sk_approval_to_json(const struct sk_approval *a, int with_sig);
/* The signed message: canonical bytes without "sig" (*out malloc'd). */
int sk_approval_message(const struct sk_approval *a, char **out, size_t *len,
			struct sk_err *err);
/* Strict: exact keys, v == 1, a valid operation id, hex of exact
 * lengths, reason a string of at most SK_APPROVAL_REASON_MAX bytes or
 * null, time >= 0, sig present. SK_EINVAL naming the field otherwise. */
int sk_approval_from_json(struct sk_approval *out, const json_t *doc, struct sk_err *err);
/* 0, or SK_ESIGNATURE when sig is not pub's signature over the message. */
int sk_approval_verify(const struct sk_approval *a, const unsigned char pub[32],
		       struct sk_err *err);

#endif
