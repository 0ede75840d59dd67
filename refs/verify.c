/*
 * Verifying refs and walking their record chains.
 *
 * Without --chain a verification costs the same for a ref with ten or ten
 * thousand records: the head record, the trust policy, one signature and
 * role check, and the target object's presence. With the chain every
 * record back to seq 1 is read from the store with hash verification and
 * checked for linkage (same ref, seq down by exactly one, prev null only at
 * seq 1), signature and role. A record altered anywhere in the middle
 * changes its id, so its successor's prev no longer matches the bytes:
 * SK_ECORRUPT; a record re-signed by a key without the role: SK_EROLE.
 * Ordinary refs are checked against the current policy; records of
 * refs/meta/trust against the policy their predecessor installed.
 */
#include "refs/internal.h"

#include <string.h>

typedef int (*walk_fn)(const struct sk_refrecord *, const struct sk_oid *, void *);

static int link_error(const struct sk_refrecord *newer, const struct sk_refrecord *older,
		      const char *name, struct sk_err *err)
{
	if (strcmp(older->ref, name) != 0)
		return sk_err_set(err, SK_ECORRUPT, NULL,
				  "record %llu of %s points back at a record of %s",
				  (unsigned long long)newer->seq, name, older->ref);
	return sk_err_set(err, SK_ECORRUPT, NULL,
			  "record %llu of %s points back at a record with seq %llu",
			  (unsigned long long)newer->seq, name, (unsigned long long)older->seq);
}

/* Calls fn from the head back; fn's negative result stops with an error,
 * a positive one stops quietly. *count receives the records visited. */
static int walk(struct sk_repo *repo, const char *name, size_t max, walk_fn fn, void *arg,
		size_t *count, struct sk_err *err)
{
	struct sk_refrecord rec, older;
	struct sk_oid id;
	char buf[SK_REF_MAX + 1];
	*count = 0;
	int rc = sk_refs_read_head(repo, name, &rec, &id, NULL, err);
	name = sk_refs_record_name(name, buf, sizeof(buf));
	if (rc < 0)
		return rc;
	for (;;) {
		rc = fn(&rec, &id, arg);
		(*count)++;
		if (rc != 0)
			return rc < 0 ? rc : 0;
		if ((max > 0 && *count >= max) || !rec.has_prev)
			return 0;
		id = rec.prev;
		rc = sk_refs_read_record_object(repo, &id, &older, err);
		if (rc < 0)
			return rc;
		if (strcmp(older.ref, name) != 0 || older.seq + 1 != rec.seq)
			return link_error(&rec, &older, name, err);
		rec = older;
	}
}

int sk_refs_walk(struct sk_repo *repo, const char *name, size_t max,
		 int (*fn)(const struct sk_refrecord *, const struct sk_oid *record_oid, void *),
		 void *arg, struct sk_err *err)
{
	size_t count;
	return walk(repo, name, max, fn, arg, &count, err);
}

/* --- chain verification ----------------------------------------------- */

struct chain_ctx {
	struct sk_repo *repo;
	const struct sk_trust *policy; /* ordinary refs: the current policy */
	int is_trust;
	int have_pending;
	struct sk_refrecord pending; /* trust ref: the newer record, not yet checked */
	struct sk_err *err;
};

static int check_against_target(struct chain_ctx *c, const struct sk_refrecord *r,
				const struct sk_oid *policy_oid)
{
	struct sk_trust *p = NULL;
	int rc = sk_refs_load_policy_at(c->repo, policy_oid, &p, c->err);
	if (rc == 0)
		rc = sk_refs_verify_record(p, r, c->err);
	sk_trust_free(p);
	return rc;
}

static int chain_step(const struct sk_refrecord *r, const struct sk_oid *id, void *arg)
{
	struct chain_ctx *c = arg;
	(void)id;
	if (!c->is_trust)
		return sk_refs_verify_record(c->policy, r, c->err);
	if (!r->has_oid)
		return sk_err_set(c->err, SK_ECORRUPT, NULL, "record %llu of %s is a deletion",
				  (unsigned long long)r->seq, r->ref);
	int rc = 0;
	if (c->have_pending)
		rc = check_against_target(c, &c->pending, &r->oid);
	c->pending = *r;
	c->have_pending = 1;
	/* seq 1 installs the first policy and is checked against it (TOFU). */
	if (rc == 0 && r->seq == 1)
		rc = check_against_target(c, r, &r->oid);
	return rc;
}

/* The head file must be the stored object of the same id. */
static int check_head_object(struct sk_repo *repo, const char *name, struct sk_err *err)
{
	struct sk_refrecord head, stored;
	struct sk_oid id;
	int rc = sk_refs_read_head(repo, name, &head, &id, NULL, err);
	if (rc < 0)
		return rc;
	return sk_refs_read_record_object(repo, &id, &stored, err);
}

static int check_target(struct sk_repo *repo, const struct sk_refrecord *head,
			struct sk_err *err)
{
	char hex[SK_OID_HEXSZ + 1];
	if (head->has_oid && !sk_odb_exists(repo->odb, &head->oid))
		return sk_err_set(err, SK_ECORRUPT, "run `skiff fetch` to restore the object",
				  "%s points at %s, which is not in the store (dangling ref)", head->ref,
				  sk_oid_tohex(&head->oid, hex));
	return 0;
}

static json_t *verify_info(const struct sk_refrecord *head, const struct sk_trust *policy,
			   size_t checked)
{
	char hex[SK_OID_HEXSZ + 1];
	const struct sk_trust_key *k = policy ? sk_trust_find_key(policy, head->signer) : NULL;
	return json_pack("{s:s, s:o, s:I, s:s, s:o, s:I}", "ref", head->ref, "oid",
			 head->has_oid ? json_string(sk_oid_tohex(&head->oid, hex)) : json_null(),
			 "seq", (json_int_t)head->seq, "signer", head->signer, "signer_name",
			 k ? json_string(k->name) : json_null(), "records_checked",
			 (json_int_t)checked);
}

int sk_refs_verify(struct sk_repo *repo, const char *name, int chain, json_t **info,
		   struct sk_err *err)
{
	if (info)
		*info = NULL;
	struct sk_refrecord head;
	int rc = sk_refs_read(repo, name, &head, err);
	if (rc < 0)
		return rc;
	struct sk_trust *policy = NULL;
	int is_trust = strcmp(name, SK_REFS_TRUST_REF) == 0;
	/* For refs/meta/trust, loading the policy verifies the head record
	 * against its predecessor's policy. */
	rc = sk_refs_load_trust(repo, &policy, err);
	if (rc == 0 && !is_trust)
		rc = sk_refs_verify_record(policy, &head, err);
	if (rc == 0)
		rc = check_target(repo, &head, err);
	size_t checked = 1;
	if (rc == 0 && chain) {
		struct chain_ctx c;
		memset(&c, 0, sizeof(c));
		c.repo = repo;
		c.policy = policy;
		c.is_trust = is_trust;
		c.err = err;
		rc = check_head_object(repo, name, err);
		if (rc == 0)
			rc = walk(repo, name, 0, chain_step, &c, &checked, err);
	}
	if (rc == 0 && info)
		*info = verify_info(&head, policy, checked);
	sk_trust_free(policy);
	return rc;
}
