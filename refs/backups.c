/*
 * Backups (see backups.h): one verified read path, one create-only write.
 */
#include "refs/backups.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objects/cjson.h"
#include "objects/spec.h"

#define BACKUPS_PREFIX "refs/backups/"

int sk_backups_ref(char *ref, size_t n, const char *service, const char *id,
		   struct sk_err *err)
{
	int rc = sk_spec_component_check(service, SK_SPEC_NAME_MAX, "service", err);
	if (!rc)
		rc = sk_backup_id_check(id, err);
	if (!rc)
		snprintf(ref, n, BACKUPS_PREFIX "%s/%s", service, id);
	return rc;
}

int sk_backups_write(struct sk_repo *repo, const struct sk_key *key, const struct sk_backup *b,
		     const char *op, int plan, struct sk_oid *oid, struct sk_err *err)
{
	char ref[SK_REF_MAX + 1], *bytes = NULL;
	size_t len = 0;
	struct sk_backup check;
	json_t *doc = sk_backup_to_json(b);
	int rc = doc ? sk_backup_from_json(&check, doc, err)
		     : sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	if (!rc)
		rc = sk_backups_ref(ref, sizeof(ref), b->service, b->id, err);
	if (!rc)
		rc = sk_cjson_dump(doc, &bytes, &len, err);
	json_decref(doc);
	struct sk_ref_update up;
	memset(&up, 0, sizeof(up));
	up.ref = ref;
	up.expect = SK_EXPECT_ABSENT;
	up.op = op;
	if (!rc)
		sk_oid_hash(&up.new_oid, SK_OBJ_BACKUP, bytes, len);
	/* the plan refuses (role, an existing ref) before anything is stored */
	up.pending = 1;
	if (!rc)
		rc = sk_refs_update_plan(repo, key, &up, 1, NULL, err);
	up.pending = 0;
	if (!rc && !plan)
		rc = sk_odb_write(sk_repo_odb(repo), SK_OBJ_BACKUP, bytes, len, NULL, err);
	if (!rc && !plan)
		rc = sk_refs_update(repo, key, &up, 1, NULL, err);
	if (!rc && oid)
		*oid = up.new_oid;
	free(bytes);
	return rc;
}

/* After a verified record names it, a bad backup object is damage. */
static int read_backup(struct sk_repo *repo, const struct sk_trust *policy,
		       const struct sk_refrecord *rec, const char *service, const char *id,
		       struct sk_backup *out, struct sk_err *err)
{
	char hex[SK_OID_HEXSZ + 1];
	json_t *doc = NULL;
	int rc = sk_refs_verify_record(policy, rec, err);
	if (rc)
		return rc;
	rc = sk_odb_read_json(sk_repo_odb(repo), &rec->oid, SK_OBJ_BACKUP, SK_ODB_VERIFY, &doc,
			      err);
	if (!rc)
		rc = sk_backup_from_json(out, doc, err);
	json_decref(doc);
	if (!rc && (strcmp(out->service, service) != 0 || strcmp(out->id, id) != 0))
		rc = sk_err_set(err, SK_ECORRUPT, NULL, "the backup is %s/%s", out->service, out->id);
	if (rc < 0 && rc != SK_ECORRUPT && (rc == SK_ENOTFOUND || rc == SK_EINVAL))
		rc = err->code = SK_ECORRUPT;
	if (rc < 0)
		sk_err_wrap(err, "%s: backup %s", rec->ref, sk_oid_tohex(&rec->oid, hex));
	return rc;
}

int sk_backups_load(struct sk_repo *repo, const char *service, const char *id,
		    struct sk_backup *out, struct sk_err *err)
{
	char ref[SK_REF_MAX + 1];
	struct sk_refrecord rec;
	struct sk_trust *policy = NULL;
	int rc = sk_backups_ref(ref, sizeof(ref), service, id, err);
	if (!rc && (rc = sk_refs_read(repo, ref, &rec, err)) == SK_ENOTFOUND)
		return sk_err_set(err, SK_ENOTFOUND, "skiff backup list SERVICE lists them",
				  "%s has no backup %s", service, id);
	if (!rc && !rec.has_oid)
		return sk_err_set(err, SK_ENOTFOUND, "skiff backup list SERVICE lists them",
				  "backup %s of %s was deleted", id, service);
	if (!rc)
		rc = sk_refs_load_trust(repo, &policy, err);
	if (!rc)
		rc = read_backup(repo, policy, &rec, service, id, out, err);
	sk_trust_free(policy);
	return rc;
}

int sk_backups_list(struct sk_repo *repo, const char *service, json_t **out,
		    struct sk_err *err)
{
	char pattern[SK_REF_MAX + 1];
	struct sk_refrecord *recs = NULL;
	struct sk_trust *policy = NULL;
	size_t n = 0;
	*out = NULL;
	int rc = sk_spec_component_check(service, SK_SPEC_NAME_MAX, "service", err);
	if (rc)
		return rc;
	snprintf(pattern, sizeof(pattern), BACKUPS_PREFIX "%s/*", service);
	rc = sk_refs_list(repo, pattern, 0, &recs, &n, err);
	if (!rc && n > 0)
		rc = sk_refs_load_trust(repo, &policy, err);
	json_t *all = json_array();
	if (!all)
		abort();
	/* ids sort by time and the list by name: walk it backwards */
	for (size_t i = n; !rc && i-- > 0;) {
		const char *id = recs[i].ref + strlen(pattern) - 1;
		struct sk_backup b;
		if (!recs[i].has_oid)
			continue;
		if (!(rc = sk_backup_id_check(id, err)) &&
		    !(rc = read_backup(repo, policy, &recs[i], service, id, &b, err)))
			json_array_append_new(all, sk_backup_to_json(&b));
	}
	free(recs);
	sk_trust_free(policy);
	if (rc < 0) {
		json_decref(all);
		return rc;
	}
	*out = all;
	return 0;
}
