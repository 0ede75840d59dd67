/*
 * Secretrefs on top of refs: refs/secrets/<svc>/<NAME> points at the
 * newest `secretref` version of a service's secret (objects/secretref.h).
 * Reading verifies the head record (signature, role) and the object's
 * hash and format; writing stores the version and moves the ref by CAS
 * from the version it was based on, so two changes cannot both land.
 */
#ifndef SK_REFS_SECRETREFS_H
#define SK_REFS_SECRETREFS_H

#include "common/err.h"
#include "objects/secretref.h"
#include "refs/refs.h"

/* Reads one version by id (hash verified, strictly checked). */
int sk_secretrefs_read(struct sk_repo *repo, const struct sk_oid *oid, struct sk_secretref *out,
		       struct sk_err *err);
/* The newest version of service's secret name: *has 0 when there is
 * none yet (out untouched), else *oid and *out (sk_secretref_clear it). */
int sk_secretrefs_head(struct sk_repo *repo, const char *service, const char *name, int *has,
		       struct sk_oid *oid, struct sk_secretref *out, struct sk_err *err);
/* Stores s and moves its ref from expect (NULL: must be absent) to it,
 * signed by key, naming op (may be NULL). With plan set, only checks
 * (names, trust, the expectation) and writes nothing. *out: s's id. */
int sk_secretrefs_write(struct sk_repo *repo, const struct sk_key *key,
			const struct sk_secretref *s, const struct sk_oid *expect, const char *op,
			int plan, struct sk_oid *out, struct sk_err *err);
/* Every secret of service, by name: {NAME:{"oid","version","provider",
 * "ref","created","actor","hook"}} (a new object). */
int sk_secretrefs_list(struct sk_repo *repo, const char *service, json_t **out,
		       struct sk_err *err);
/* {"version","oid","provider","ref","created","actor","hook"} of s. */
json_t *sk_secretrefs_summary(const struct sk_secretref *s, const struct sk_oid *oid);

#endif
