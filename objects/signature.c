/*
 * Signature documents (see signature.h): built, checked field by field on
 * the way in, and verified against a public key the caller chose. A
 * struct sk_signature that came through from_json has a valid shape; only
 * sk_signature_verify says it is genuine.
 */
#include "objects/signature.h"
#include "objects/sig.h"

#include <stdlib.h>
#include <string.h>

#include "objects/cjson.h"

static const char *const sig_keys[] = { "release", "sig", "signer", "time", "v", NULL };

json_t *sk_signature_to_json(const struct sk_signature *s, int with_sig)
{
	char oid[SK_OID_HEXSZ + 1], sig[2 * SK_SIG_RAWSZ + 1];
	json_t *doc = json_pack("{s:s, s:s, s:I, s:i}", "release", sk_oid_tohex(&s->release, oid),
				"signer", s->signer, "time", (json_int_t)s->time, "v", 1);
	if (doc && with_sig && s->has_sig) {
		sk_hex(s->sig, SK_SIG_RAWSZ, sig);
		json_object_set_new(doc, "sig", json_string(sig));
	}
	return doc;
}

int sk_signature_message(const struct sk_signature *s, char **out, size_t *len,
			 struct sk_err *err)
{
	json_t *doc = sk_signature_to_json(s, 0);
	if (!doc)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	int rc = sk_cjson_dump(doc, out, len, err);
	json_decref(doc);
	return rc;
}

static int bad(struct sk_err *err, const char *field, const char *what)
{
	return sk_err_set(err, SK_EINVAL, NULL, "signature: \"%s\" must be %s", field, what);
}

static int get_hex(const json_t *doc, const char *key, unsigned char *out, size_t n,
		   struct sk_err *err)
{
	return sk_cjson_get_hex(doc, key, 0, out, n, NULL, "signature", err);
}

int sk_signature_from_json(struct sk_signature *out, const json_t *doc, struct sk_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!json_is_object(doc))
		return sk_err_set(err, SK_EINVAL, NULL, "signature: not a JSON object");
	int rc = sk_cjson_only_keys(doc, sig_keys, "signature", err);
	long long v = 0, t = 0;
	unsigned char id[SK_KEYID_HEXSZ / 2];
	if (rc == 0 && (rc = sk_cjson_get_int(doc, "v", &v, err)) == 0 && v != 1)
		rc = bad(err, "v", "1");
	if (rc == 0 && (rc = sk_cjson_get_int(doc, "time", &t, err)) == 0 && t < 0)
		rc = bad(err, "time", "a non-negative integer");
	if (rc == 0)
		rc = get_hex(doc, "release", out->release.id, SK_OID_RAWSZ, err);
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

int sk_signature_parse(struct sk_signature *out, const void *buf, size_t len,
		       struct sk_err *err)
{
	json_t *doc = NULL;
	int rc = sk_cjson_parse(buf, len, &doc, err);
	if (rc == 0)
		rc = sk_signature_from_json(out, doc, err);
	json_decref(doc);
	return rc;
}

int sk_signature_verify(const struct sk_signature *s, const unsigned char pub[32],
			struct sk_err *err)
{
	if (!s->has_sig)
		return sk_err_set(err, SK_ESIGNATURE, NULL, "signature object has no sig");
	char *msg = NULL;
	size_t len = 0;
	int rc = sk_signature_message(s, &msg, &len, err);
	if (rc < 0)
		return rc;
	rc = sk_sig_verify(pub, SK_SIGN_DOMAIN_SIGNATURE, msg, len, s->sig, NULL);
	free(msg);
	if (rc < 0)
		return sk_err_set(err, SK_ESIGNATURE, NULL,
				  "release signature by key %s does not verify", s->signer);
	return 0;
}
