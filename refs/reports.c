/*
 * Runner reports (see reports.h): one verified read path, one write path
 * that stores the report before it moves the ref.
 */
#include "refs/reports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objects/cjson.h"
#include "objects/spec.h"

#define RUNNERS_PREFIX "refs/runners/"

int sk_reports_ref(char *ref, size_t n, const char *service, const char *target,
		   struct sk_err *err)
{
	int rc = sk_spec_component_check(service, SK_SPEC_NAME_MAX, "service", err);
	if (!rc)
		rc = sk_spec_component_check(target, SK_SPEC_NAME_MAX, "target", err);
	if (!rc)
		snprintf(ref, n, RUNNERS_PREFIX "%s/%s", service, target);
	return rc;
}

static int never_reported(const char *ref, struct sk_err *err)
{
	return sk_err_set(err, SK_ENOTFOUND, "start the target's skiff-runner",
			  "no runner has reported on %s", ref);
}

/* The record's signature and the runner role: the rules may let other
 * roles sign runner refs, but only a runner's word is a report. */
static int check_record(const struct sk_trust *policy, const struct sk_refrecord *rec,
			struct sk_err *err)
{
	int rc = sk_refs_verify_record(policy, rec, err);
	if (rc == 0 && !sk_refs_has_role(policy, rec->signer, "runner", rec->ref))
		rc = sk_err_set(err, SK_EROLE, "skiff trust add-key NAME PUB --role runner",
				"%s is signed by key %s, which is not a runner for it", rec->ref,
				rec->signer);
	return rc;
}

/* After a verified record names it, a bad report object is damage. */
static int read_report(struct sk_repo *repo, const struct sk_refrecord *rec, const char *service,
		       const char *target, struct sk_report **out, struct sk_err *err)
{
	char hex[SK_OID_HEXSZ + 1];
	json_t *doc = NULL;
	int rc = sk_odb_read_json(sk_repo_odb(repo), &rec->oid, SK_OBJ_REPORT, SK_ODB_VERIFY, &doc,
				  err);
	if (rc == 0)
		rc = sk_report_from_json(out, doc, err);
	json_decref(doc);
	if (rc == 0 && (strcmp((*out)->service, service) || strcmp((*out)->target, target))) {
		rc = sk_err_set(err, SK_ECORRUPT, NULL, "the report is about %s/%s",
				(*out)->service, (*out)->target);
		sk_report_free(*out);
		*out = NULL;
	}
	if (rc < 0) {
		if (rc == SK_ENOTFOUND || rc == SK_EINVAL)
			rc = err->code = SK_ECORRUPT;
		sk_err_wrap(err, "%s: report %s", rec->ref, sk_oid_tohex(&rec->oid, hex));
	}
	return rc;
}

static int load_with(struct sk_repo *repo, const struct sk_trust *policy,
		     const struct sk_refrecord *rec, const char *service, const char *target,
		     struct sk_report **out, struct sk_err *err)
{
	if (!rec->has_oid)
		return never_reported(rec->ref, err);
	int rc = check_record(policy, rec, err);
	if (rc == 0)
		rc = read_report(repo, rec, service, target, out, err);
	return rc;
}

int sk_reports_load(struct sk_repo *repo, const char *service, const char *target,
		    struct sk_report **out, struct sk_err *err)
{
	char ref[SK_REF_MAX + 1];
	struct sk_refrecord rec;
	struct sk_trust *policy = NULL;
	*out = NULL;
	int rc = sk_reports_ref(ref, sizeof(ref), service, target, err);
	if (rc == 0 && (rc = sk_refs_read(repo, ref, &rec, err)) == SK_ENOTFOUND)
		return never_reported(ref, err);
	if (rc == 0)
		rc = sk_refs_load_trust(repo, &policy, err);
	if (rc == 0)
		rc = load_with(repo, policy, &rec, service, target, out, err);
	sk_trust_free(policy);
	return rc;
}

/* One listed record: the target is the ref's last component. */
static int list_one(struct sk_repo *repo, const struct sk_trust *policy,
		    const struct sk_refrecord *rec, const char *service, json_t *out,
		    struct sk_err *err)
{
	const char *target = rec->ref + strlen(RUNNERS_PREFIX) + strlen(service) + 1;
	struct sk_report *r = NULL;
	if (!rec->has_oid)
		return 0;
	int rc = load_with(repo, policy, rec, service, target, &r, err);
	if (rc == 0)
		json_object_set(out, target, r->doc);
	sk_report_free(r);
	return rc;
}

int sk_reports_list(struct sk_repo *repo, const char *service, json_t **out, struct sk_err *err)
{
	char pattern[SK_REF_MAX + 1];
	struct sk_refrecord *recs = NULL;
	struct sk_trust *policy = NULL;
	size_t n = 0;
	*out = NULL;
	int rc = sk_reports_ref(pattern, sizeof(pattern), service, "x", err);
	if (rc < 0)
		return rc;
	snprintf(pattern, sizeof(pattern), RUNNERS_PREFIX "%s/*", service);
	rc = sk_refs_list(repo, pattern, 0, &recs, &n, err);
	if (rc == 0 && n > 0)
		rc = sk_refs_load_trust(repo, &policy, err);
	json_t *all = json_object();
	if (!all)
		abort();
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = list_one(repo, policy, &recs[i], service, all, err);
	free(recs);
	sk_trust_free(policy);
	if (rc < 0) {
		json_decref(all);
		return rc;
	}
	*out = all;
	return 0;
}

int sk_reports_head(struct sk_repo *repo, const char *service, const char *target, int *has,
		    struct sk_oid *oid, struct sk_err *err)
{
	char ref[SK_REF_MAX + 1];
	struct sk_refrecord rec;
	*has = 0;
	int rc = sk_reports_ref(ref, sizeof(ref), service, target, err);
	if (rc == 0 && (rc = sk_refs_read(repo, ref, &rec, err)) == SK_ENOTFOUND) {
		sk_err_clear(err);
		return 0;
	}
	if (rc == 0 && rec.has_oid) {
		*has = 1;
		*oid = rec.oid;
	}
	return rc;
}

/* The update doc asks for: its id, from what its "prev" names. */
static int plan_update(const json_t *doc, char *ref, size_t n, struct sk_ref_update *up,
		       char **bytes, size_t *len, struct sk_err *err)
{
	struct sk_report *r = NULL;
	int rc = sk_report_from_json(&r, doc, err);
	if (rc < 0)
		return rc;
	memset(up, 0, sizeof(*up));
	up->ref = ref;
	up->expect = r->has_prev ? SK_EXPECT_OID : SK_EXPECT_ABSENT;
	up->old_oid = r->prev;
	rc = sk_reports_ref(ref, n, r->service, r->target, err);
	sk_report_free(r);
	if (rc == 0)
		rc = sk_cjson_dump(doc, bytes, len, err);
	if (rc == 0)
		sk_oid_hash(&up->new_oid, SK_OBJ_REPORT, *bytes, *len);
	return rc;
}

int sk_reports_write(struct sk_repo *repo, const struct sk_key *key, const json_t *doc,
		     struct sk_err *err)
{
	char ref[SK_REF_MAX + 1];
	struct sk_ref_update up;
	char *bytes = NULL;
	size_t len = 0;
	int rc = plan_update(doc, ref, sizeof(ref), &up, &bytes, &len, err);
	/* the plan refuses (role, a moved ref, a lock) before anything is
	 * stored, so a refused report leaves no object behind */
	up.pending = 1;
	if (rc == 0)
		rc = sk_refs_update_plan(repo, key, &up, 1, NULL, err);
	up.pending = 0;
	if (rc == 0)
		rc = sk_odb_write(sk_repo_odb(repo), SK_OBJ_REPORT, bytes, len, NULL, err);
	if (rc == 0)
		rc = sk_refs_update(repo, key, &up, 1, NULL, err);
	free(bytes);
	return rc;
}
