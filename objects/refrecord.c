/*
 * Ref records: the typed view of what a ref holds (see refrecord.h). Every
 * field is checked on the way in, so code holding a struct sk_refrecord
 * can trust its shape: a valid ref name, lowercase hex of exact lengths,
 * seq >= 1 with prev null exactly for seq 1, time >= 0, no unknown keys.
 * Signatures are only carried here; refs/ checks them.
 */
#include "objects/refrecord.h"

#include <stdlib.h>
#include <string.h>

#include "objects/cjson.h"
#include "refs/refs.h"

static const char *const record_keys[] = { "oid", "op", "prev", "ref", "seq", "sig",
					   "signer", "time", "v", NULL };

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

int sk_opid_check(const char *op, struct sk_err *err)
{
	static const char *const hint =
		"operation ids are 1..64 of [A-Za-z0-9._-], not starting with '.' or '-'";
	size_t n = op ? strlen(op) : 0;
	char q[80];
	if (n == 0 || n > SK_OPID_MAX || op[0] == '.' || op[0] == '-')
		return sk_err_set(err, SK_EINVAL, hint, "invalid operation id \"%s\"",
				  sk_cjson_quote(op ? op : "", n, q, sizeof(q)));
	for (size_t i = 0; i < n; i++)
		if (!name_char(op[i]))
			return sk_err_set(err, SK_EINVAL, hint,
					  "invalid operation id: character 0x%02x at %zu",
					  (unsigned char)op[i], i);
	return 0;
}

/* Adds context without losing rc when err is NULL. */
static int in_record(int rc, struct sk_err *err)
{
	if (rc)
		sk_err_wrap(err, "ref record");
	return rc;
}

static int get_hex(const json_t *doc, const char *key, int nullable, unsigned char *out,
		   size_t n, int *present, struct sk_err *err)
{
	return sk_cjson_get_hex(doc, key, nullable, out, n, present, "ref record", err);
}

static int get_ref(const json_t *doc, struct sk_refrecord *r, struct sk_err *err)
{
	const char *s;
	int rc = sk_cjson_get_str(doc, "ref", &s, err);
	if (!rc)
		rc = sk_ref_name_check(s, err);
	if (rc)
		return in_record(rc, err);
	memcpy(r->ref, s, strlen(s) + 1);
	return 0;
}

static int get_numbers(const json_t *doc, struct sk_refrecord *r, struct sk_err *err)
{
	long long seq = 0, t = 0;
	int rc = sk_cjson_get_int(doc, "seq", &seq, err);
	if (!rc)
		rc = sk_cjson_get_int(doc, "time", &t, err);
	if (rc)
		return in_record(rc, err);
	if (seq < 1)
		return sk_err_set(err, SK_EINVAL, NULL, "ref record: \"seq\" must be at least 1");
	if (t < 0)
		return sk_err_set(err, SK_EINVAL, NULL, "ref record: \"time\" must not be negative");
	r->seq = (uint64_t)seq;
	r->time = t;
	return 0;
}

static int get_signer_op(const json_t *doc, struct sk_refrecord *r, struct sk_err *err)
{
	const char *s;
	int rc = sk_cjson_get_str(doc, "signer", &s, err);
	if (rc)
		return in_record(rc, err);
	unsigned char raw[SK_KEYID_HEXSZ / 2];
	if (sk_unhex(s, raw, sizeof(raw)) < 0)
		return sk_err_set(err, SK_EINVAL, NULL,
				  "ref record: \"signer\" must be a key id of %d lowercase hex digits",
				  SK_KEYID_HEXSZ);
	memcpy(r->signer, s, SK_KEYID_HEXSZ + 1);
	rc = sk_cjson_get_str_or_null(doc, "op", &s, err);
	if (rc)
		return in_record(rc, err);
	r->op[0] = '\0';
	if (s) {
		rc = sk_opid_check(s, err);
		if (rc)
			return in_record(rc, err);
		memcpy(r->op, s, strlen(s) + 1);
	}
	return 0;
}

int sk_refrecord_from_json(struct sk_refrecord *out, const json_t *doc, struct sk_err *err)
{
	struct sk_refrecord r;
	memset(&r, 0, sizeof(r));
	int rc = sk_cjson_only_keys(doc, record_keys, "ref record", err);
	long long v = 0;
	if (!rc)
		rc = in_record(sk_cjson_get_int(doc, "v", &v, err), err);
	if (!rc && v != 1)
		rc = sk_err_set(err, SK_EINVAL, NULL, "ref record: \"v\" must be 1");
	if (!rc)
		rc = get_ref(doc, &r, err);
	if (!rc)
		rc = get_hex(doc, "oid", 1, r.oid.id, SK_OID_RAWSZ, &r.has_oid, err);
	if (!rc)
		rc = get_hex(doc, "prev", 1, r.prev.id, SK_OID_RAWSZ, &r.has_prev, err);
	if (!rc)
		rc = get_numbers(doc, &r, err);
	if (!rc)
		rc = get_signer_op(doc, &r, err);
	if (!rc && json_object_get(doc, "sig"))
		rc = get_hex(doc, "sig", 0, r.sig, SK_SIG_RAWSZ, &r.has_sig, err);
	if (!rc && r.has_prev != (r.seq > 1))
		rc = sk_err_set(err, SK_EINVAL, NULL,
				"ref record: \"prev\" must be null exactly when \"seq\" is 1 "
				"(seq %llu)", (unsigned long long)r.seq);
	if (rc)
		return rc;
	*out = r;
	return 0;
}

static json_t *hex_or_null(int present, const unsigned char *raw, size_t n)
{
	if (!present)
		return json_null();
	char hex[2 * SK_SIG_RAWSZ + 1];
	sk_hex(raw, n, hex);
	return json_string(hex);
}

json_t *sk_refrecord_to_json(const struct sk_refrecord *r, int with_sig)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	int bad = 0;
	bad |= json_object_set_new(o, "ref", json_string(r->ref));
	bad |= json_object_set_new(o, "oid", hex_or_null(r->has_oid, r->oid.id, SK_OID_RAWSZ));
	bad |= json_object_set_new(o, "prev", hex_or_null(r->has_prev, r->prev.id, SK_OID_RAWSZ));
	bad |= json_object_set_new(o, "seq", json_integer((json_int_t)r->seq));
	bad |= json_object_set_new(o, "time", json_integer((json_int_t)r->time));
	bad |= json_object_set_new(o, "signer", json_string(r->signer));
	bad |= json_object_set_new(o, "op", r->op[0] ? json_string(r->op) : json_null());
	bad |= json_object_set_new(o, "v", json_integer(1));
	if (with_sig && r->has_sig)
		bad |= json_object_set_new(o, "sig", hex_or_null(1, r->sig, SK_SIG_RAWSZ));
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int sk_refrecord_dump(const struct sk_refrecord *r, int with_sig, char **out, size_t *len,
		      struct sk_err *err)
{
	json_t *o = sk_refrecord_to_json(r, with_sig);
	if (!o)
		return sk_err_set(err, SK_EINVAL, NULL,
				  "ref record has a field that is not valid UTF-8");
	int rc = sk_cjson_dump(o, out, len, err);
	json_decref(o);
	return rc;
}

int sk_refrecord_parse(struct sk_refrecord *out, const void *buf, size_t len,
		       struct sk_err *err)
{
	json_t *doc = NULL;
	int rc = sk_cjson_parse(buf, len, &doc, err);
	if (rc)
		return in_record(rc, err);
	rc = sk_refrecord_from_json(out, doc, err);
	json_decref(doc);
	return rc;
}
