/*
 * Secretrefs through refs (see secretrefs.h).
 */
#include "refs/secretrefs.h"

#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "objects/cjson.h"

int sk_secretrefs_read(struct sk_repo *repo, const struct sk_oid *oid, struct sk_secretref *out,
		       struct sk_err *err)
{
	json_t *doc = NULL;
	int rc = sk_odb_read_json(sk_repo_odb(repo), oid, SK_OBJ_SECRETREF, SK_ODB_VERIFY, &doc, err);
	if (!rc)
		rc = sk_secretref_from_json(out, doc, err);
	json_decref(doc);
	return rc;
}

/* The head record of ref, verified against the trust policy. */
static int verified_head(struct sk_repo *repo, const char *ref, struct sk_refrecord *rec,
			 struct sk_err *err)
{
	struct sk_trust *policy = NULL;
	int rc = sk_refs_read(repo, ref, rec, err);
	if (!rc)
		rc = sk_refs_load_trust(repo, &policy, err);
	if (!rc)
		rc = sk_refs_verify_record(policy, rec, err);
	sk_trust_free(policy);
	return rc;
}

/* The version rec points at, which must be the secret the ref names. */
static int read_named(struct sk_repo *repo, const struct sk_refrecord *rec, const char *service,
		      const char *name, struct sk_secretref *out, struct sk_err *err)
{
	int rc = sk_secretrefs_read(repo, &rec->oid, out, err);
	if (!rc && (strcmp(out->service, service) || strcmp(out->name, name))) {
		sk_secretref_clear(out);
		rc = sk_err_set(err, SK_EVERIFY, NULL, "%s points at secret %s of %s", rec->ref,
				out->name, out->service);
	}
	return rc;
}

int sk_secretrefs_head(struct sk_repo *repo, const char *service, const char *name, int *has,
		       struct sk_oid *oid, struct sk_secretref *out, struct sk_err *err)
{
	char ref[SK_REF_MAX + 1];
	struct sk_refrecord rec;
	*has = 0;
	int rc = sk_secretref_refname(ref, sizeof(ref), service, name, err);
	if (!rc && (rc = verified_head(repo, ref, &rec, err)) == SK_ENOTFOUND)
		return 0;
	if (!rc && !rec.has_oid)
		return 0;
	if (!rc)
		rc = read_named(repo, &rec, service, name, out, err);
	if (!rc) {
		*has = 1;
		*oid = rec.oid;
	}
	return rc;
}

int sk_secretrefs_write(struct sk_repo *repo, const struct sk_key *key,
			const struct sk_secretref *s, const struct sk_oid *expect, const char *op,
			int plan, struct sk_oid *out, struct sk_err *err)
{
	char ref[SK_REF_MAX + 1], *bytes = NULL;
	size_t len = 0;
	json_t *doc = sk_secretref_to_json(s);
	int rc = doc ? sk_secretref_refname(ref, sizeof(ref), s->service, s->name, err)
		     : sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	if (!rc)
		rc = sk_cjson_dump(doc, &bytes, &len, err);
	json_decref(doc);
	if (!rc)
		sk_oid_hash(out, SK_OBJ_SECRETREF, bytes, len);
	if (!rc && !plan)
		rc = sk_odb_write(sk_repo_odb(repo), SK_OBJ_SECRETREF, bytes, len, out, err);
	free(bytes);
	if (rc)
		return rc;
	struct sk_ref_update up = { .ref = ref, .new_oid = *out, .op = op, .pending = plan,
				    .expect = expect ? SK_EXPECT_OID : SK_EXPECT_ABSENT };
	if (expect)
		up.old_oid = *expect;
	struct sk_refrecord rec;
	return plan ? sk_refs_update_plan(repo, key, &up, 1, &rec, err)
		    : sk_refs_update(repo, key, &up, 1, NULL, err);
}

json_t *sk_secretrefs_summary(const struct sk_secretref *s, const struct sk_oid *oid)
{
	return json_pack("{s:I, s:o, s:s, s:s, s:I, s:s, s:b}", "version", (json_int_t)s->version,
			 "oid", sk_json_oid(oid), "provider", s->provider, "ref", s->ref, "created",
			 (json_int_t)s->created, "actor", s->actor, "hook", s->hook != NULL);
}

int sk_secretrefs_list(struct sk_repo *repo, const char *service, json_t **out,
		       struct sk_err *err)
{
	char pattern[SK_REF_MAX + 1];
	struct sk_refrecord *recs = NULL;
	size_t n = 0;
	*out = NULL;
	int rc = sk_secretref_refname(pattern, sizeof(pattern), service, "x", err);
	if (!rc) {
		strcpy(strrchr(pattern, '/') + 1, "*");
		rc = sk_refs_list(repo, pattern, 0, &recs, &n, err);
	}
	json_t *all = json_object();
	for (size_t i = 0; !rc && i < n; i++) {
		const char *name = strrchr(recs[i].ref, '/') + 1;
		struct sk_secretref s;
		struct sk_oid oid;
		int has = 0;
		rc = sk_secretrefs_head(repo, service, name, &has, &oid, &s, err);
		if (!rc && has) {
			json_object_set_new(all, name, sk_secretrefs_summary(&s, &oid));
			sk_secretref_clear(&s);
		}
	}
	free(recs);
	if (rc)
		json_decref(all);
	else
		*out = all;
	return rc;
}
