/*
 * Approval documents (see approval.h): built, checked field by field on
 * the way in, verified against a public key the caller chose.
 */
#include "objects/approval.h"

#include <stdlib.h>
#include <string.h>

#include "objects/cjson.h"
#include "objects/sig.h"

static const char *const approval_keys[] = { "op",   "plan", "reason", "sig", "signer",
					     "step", "time", "v",      NULL };

json_t *sk_approval_to_json(const struct sk_approval *a, int with_sig)
{
	char plan[65], sig[2 * SK_SIG_RAWSZ + 1];
	sk_hex(a->plan, sizeof(a->plan), plan);
	json_t *doc = json_pack("{s:s, s:s, s:s?, s:s, s:I, s:i}", "op", a->op, "plan", plan,
				"reason", a->has_reason ? a->reason : NULL, "signer", a->signer,
				"time", (json_int_t)a->time, "v", 1);
	if (doc && a->has_step)
		json_object_set_new(doc, "step", json_integer(a->step));
	if (doc && with_sig && a->has_sig) {
		sk_hex(a->sig, SK_SIG_RAWSZ, sig);
		json_object_set_new(doc, "sig", json_string(sig));
	}
	return doc;
}

int sk_approval_message(const struct sk_approval *a, char **out, size_t *len,
			struct sk_err *err)
{
	json_t *doc = sk_approval_to_json(a, 0);
	if (!doc)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	int rc = sk_cjson_dump(doc, out, len, err);
	json_decref(doc);
	return rc;
}

static int bad(struct sk_err *err, const char *field, const char *what)
{
	return sk_err_set(err, SK_EINVAL, NULL, "approval: \"%s\" must be %s", field, what);
}

static int get_hex(const json_t *doc, const char *key, unsigned char *out, size_t n,
		   struct sk_err *err)
{
	return sk_cjson_get_hex(doc, key, 0, out, n, NULL, "approval", err);
}

static int get_reason(const json_t *doc, struct sk_approval *out, struct sk_err *err)
{
	const char *r = NULL;
	int rc = sk_cjson_get_str_or_null(doc, "reason", &r, err);
	if (rc || !r)
		return rc;
	if (strlen(r) > SK_APPROVAL_REASON_MAX)
		return bad(err, "reason", "at most 1024 bytes");
	strcpy(out->reason, r);
	out->has_reason = 1;
	return 0;
}

static int get_op(const json_t *doc, struct sk_approval *out, struct sk_err *err)
{
	const char *op = NULL;
	int rc = sk_cjson_get_str(doc, "op", &op, err);
	if (!rc && (rc = sk_opid_check(op, err)) == 0)
		strcpy(out->op, op);
	return rc;
}

int sk_approval_from_json(struct sk_approval *out, const json_t *doc, struct sk_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!json_is_object(doc))
		return sk_err_set(err, SK_EINVAL, NULL, "approval: not a JSON object");
	int rc = sk_cjson_only_keys(doc, approval_keys, "approval", err);
	long long v = 0, t = 0;
	unsigned char id[SK_KEYID_HEXSZ / 2];
	if (rc == 0 && (rc = sk_cjson_get_int(doc, "v", &v, err)) == 0 && v != 1)
		rc = bad(err, "v", "1");
	if (rc == 0 && (rc = sk_cjson_get_int(doc, "time", &t, err)) == 0 && t < 0)
		rc = bad(err, "time", "a non-negative integer");
	if (rc == 0)
		rc = get_op(doc, out, err);
	if (rc == 0)
		rc = get_hex(doc, "plan", out->plan, sizeof(out->plan), err);
	if (rc == 0)
		rc = get_reason(doc, out, err);
	if (rc == 0 && json_object_get(doc, "step")) {
		long long st = -1;
		if ((rc = sk_cjson_get_int(doc, "step", &st, err)) == 0 &&
		    (st < 0 || st >= SK_APPROVAL_STEP_MAX))
			rc = bad(err, "step", "a step index 0..63");
		out->has_step = 1;
		out->step = (int)st;
	}
	if (rc == 0)
		rc = get_hex(doc, "signer", id, sizeof(id), err);
	if (rc == 0)
		rc = get_hex(doc, "sig", out->sig, SK_SIG_RAWSZ, err);
	if (rc < 0)
		return rc;
	sk_hex(id, sizeof(id), out->signer);
	out->time = (int64_t)t;
	out->has_sig = 1;
	return 0;
}

int sk_approval_verify(const struct sk_approval *a, const unsigned char pub[32],
		       struct sk_err *err)
{
	if (!a->has_sig)
		return sk_err_set(err, SK_ESIGNATURE, NULL, "approval has no sig");
	char *msg = NULL;
	size_t len = 0;
	int rc = sk_approval_message(a, &msg, &len, err);
	if (rc < 0)
		return rc;
	rc = sk_sig_verify(pub, SK_SIGN_DOMAIN_APPROVAL, msg, len, a->sig, NULL);
	free(msg);
	if (rc < 0)
		return sk_err_set(err, SK_ESIGNATURE, NULL,
				  "approval of %s by key %s does not verify", a->op, a->signer);
	return 0;
}
