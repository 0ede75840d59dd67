/*
 * Trust decisions: who may sign which ref. The policy document itself is
 * parsed in objects/trust.c; this file decides with it.
 *
 * A record is accepted when (1) its signer is a key in the policy, (2) the
 * ed25519 signature over the record without "sig", in the refrecord
 * domain, verifies with that key, and (3) the first rule whose pattern
 * matches the ref lists a role the key holds through a grant whose scope
 * also matches the ref. A well-formed signature by a key without the role
 * is rejected: least privilege inside the repository.
 *
 * The policy in force is the head of refs/meta/trust. Each record of that
 * ref is checked against the policy its predecessor points at, so only a
 * root of the old policy can install a new one. The first record (seq 1)
 * has no predecessor and is checked against the policy it installs: that
 * is trust on first use, the same bootstrap as an ssh host key. A
 * repository is only as trustworthy as its origin; fetching from a remote
 * pins the remote's refs/meta/trust history from then on.
 */
#include "refs/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct sk_trust_rule *rule_for(const struct sk_trust *policy, const char *ref)
{
	for (size_t i = 0; i < policy->nrules; i++)
		if (sk_ref_pattern_match(policy->rules[i].pattern, ref))
			return &policy->rules[i];
	return NULL;
}

static int rule_has_role(const struct sk_trust_rule *rule, const char *role)
{
	for (size_t i = 0; i < rule->nroles; i++)
		if (strcmp(rule->roles[i], role) == 0)
			return 1;
	return 0;
}

static void roles_text(const struct sk_trust_rule *rule, char *buf, size_t n)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < rule->nroles && o < n; i++)
		o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? " or " : "", rule->roles[i]);
}

int sk_refs_check_role(const struct sk_trust *policy, const char *keyid, const char *ref,
		       struct sk_err *err)
{
	static const char *const hint = "a root key holder can grant the role in refs/meta/trust";
	const struct sk_trust_key *key = sk_trust_find_key(policy, keyid);
	if (!key)
		return sk_err_set(err, SK_EROLE, hint,
				  "key %s is not in the trust policy, so it may not sign %s", keyid, ref);
	const struct sk_trust_rule *rule = rule_for(policy, ref);
	if (!rule)
		return sk_err_set(err, SK_EROLE, "add a rule covering the ref to refs/meta/trust",
				  "no trust rule covers %s, so no key may sign it", ref);
	for (size_t i = 0; i < key->ngrants; i++)
		if (rule_has_role(rule, key->grants[i].role) &&
		    sk_ref_pattern_match(key->grants[i].scope, ref))
			return 0;
	char roles[256];
	roles_text(rule, roles, sizeof(roles));
	return sk_err_set(err, SK_EROLE, hint,
			  "key %s (%s) may not sign %s: it needs the role %s with a scope covering "
			  "the ref (rule %s)",
			  key->name, key->id, ref, roles, rule->pattern);
}

int sk_refs_has_role(const struct sk_trust *policy, const char *keyid, const char *role,
		     const char *ref)
{
	const struct sk_trust_key *key = sk_trust_find_key(policy, keyid);
	for (size_t i = 0; key && i < key->ngrants; i++)
		if (strcmp(key->grants[i].role, role) == 0 &&
		    sk_ref_pattern_match(key->grants[i].scope, ref))
			return 1;
	return 0;
}

int sk_refs_is_root(const struct sk_trust *policy, const char *keyid, const char *ref)
{
	return sk_refs_has_role(policy, keyid, "root", ref);
}

int sk_refs_verify_record(const struct sk_trust *policy, const struct sk_refrecord *r,
			  struct sk_err *err)
{
	const struct sk_trust_key *key = sk_trust_find_key(policy, r->signer);
	if (!key)
		return sk_err_set(err, SK_ESIGNATURE, NULL,
				  "record %llu of %s is signed by unknown key ID %s",
				  (unsigned long long)r->seq, r->ref, r->signer);
	if (!r->has_sig)
		return sk_err_set(err, SK_ESIGNATURE, NULL, "record %llu of %s is not signed",
				  (unsigned long long)r->seq, r->ref);
	char *body = NULL;
	size_t len = 0;
	int rc = sk_refrecord_dump(r, 0, &body, &len, err);
	if (rc < 0)
		return rc;
	rc = sk_sig_verify(key->pub, SK_SIGN_DOMAIN_REFRECORD, body, len, r->sig, NULL);
	free(body);
	if (rc < 0)
		return sk_err_set(err, SK_ESIGNATURE,
				  "the record was altered or forged; run `skiff fsck`",
				  "bad signature on record %llu of %s (signer %s, %s)",
				  (unsigned long long)r->seq, r->ref, key->name, key->id);
	return sk_refs_check_role(policy, r->signer, r->ref, err);
}

int sk_refs_load_policy_at(struct sk_repo *repo, const struct sk_oid *oid,
			   struct sk_trust **out, struct sk_err *err)
{
	json_t *doc = NULL;
	int rc = sk_odb_read_json(repo->odb, oid, SK_OBJ_TRUST, SK_ODB_VERIFY, &doc, err);
	if (rc < 0) {
		char hex[SK_OID_HEXSZ + 1];
		return sk_err_wrap(err, "loading trust policy %s", sk_oid_tohex(oid, hex));
	}
	rc = sk_trust_from_json(out, doc, err);
	json_decref(doc);
	return rc;
}

int sk_refs_read_record_object(struct sk_repo *repo, const struct sk_oid *id,
			       struct sk_refrecord *out, struct sk_err *err)
{
	unsigned char *payload = NULL;
	size_t len = 0;
	char hex[SK_OID_HEXSZ + 1];
	int rc = sk_odb_read(repo->odb, id, SK_OBJ_REFRECORD, SK_ODB_VERIFY, NULL, &payload, &len,
			     err);
	if (rc == SK_ENOTFOUND)
		return sk_err_set(err, SK_ECORRUPT, "run `skiff fsck`; `skiff fetch` can restore it",
				  "ref record %s is missing from the store", sk_oid_tohex(id, hex));
	if (rc < 0)
		return sk_err_wrap(err, "reading ref record %s", sk_oid_tohex(id, hex));
	rc = sk_refrecord_parse(out, payload, len, err);
	free(payload);
	if (rc < 0) {
		sk_err_wrap(err, "ref record %s is malformed", sk_oid_tohex(id, hex));
		if (err)
			err->code = SK_ECORRUPT;
		return SK_ECORRUPT;
	}
	return 0;
}

/* The policy the head record of refs/meta/trust must be checked against:
 * its predecessor's target, or (seq 1) its own. */
static int verifying_policy(struct sk_repo *repo, const struct sk_refrecord *head,
			    struct sk_trust **out, struct sk_err *err)
{
	*out = NULL;
	if (head->seq == 1)
		return 0; /* trust on first use: see the top of this file */
	struct sk_refrecord prev;
	int rc = sk_refs_read_record_object(repo, &head->prev, &prev, err);
	if (rc < 0)
		return rc;
	if (strcmp(prev.ref, head->ref) != 0 || prev.seq + 1 != head->seq || !prev.has_oid)
		return sk_err_set(err, SK_ECORRUPT, "run `skiff verify-ref --chain refs/meta/trust`",
				  "record %llu of %s does not follow its predecessor",
				  (unsigned long long)head->seq, head->ref);
	return sk_refs_load_policy_at(repo, &prev.oid, out, err);
}

int sk_refs_load_trust(struct sk_repo *repo, struct sk_trust **out, struct sk_err *err)
{
	struct sk_oid oid;
	return sk_refs_load_trust_at(repo, out, &oid, err);
}

int sk_refs_load_trust_at(struct sk_repo *repo, struct sk_trust **out, struct sk_oid *oid,
			  struct sk_err *err)
{
	*out = NULL;
	struct sk_refrecord head;
	int rc = sk_refs_read(repo, SK_REFS_TRUST_REF, &head, err);
	if (rc == SK_ENOTFOUND)
		return sk_err_set(err, SK_ECORRUPT, "the repository was not created by `skiff init`; "
				  "run `skiff fsck`",
				  "the repository has no trust policy (%s is missing)", SK_REFS_TRUST_REF);
	if (rc < 0)
		return rc;
	if (!head.has_oid)
		return sk_err_set(err, SK_ECORRUPT, NULL, "%s is deleted", SK_REFS_TRUST_REF);
	struct sk_trust *policy = NULL, *prev_policy = NULL;
	rc = sk_refs_load_policy_at(repo, &head.oid, &policy, err);
	if (rc == 0)
		rc = verifying_policy(repo, &head, &prev_policy, err);
	if (rc == 0)
		rc = sk_refs_verify_record(prev_policy ? prev_policy : policy, &head, err);
	sk_trust_free(prev_policy);
	if (rc < 0) {
		sk_trust_free(policy);
		return rc;
	}
	*out = policy;
	*oid = head.oid;
	return 0;
}

int sk_refs_set_trust(struct sk_repo *repo, const struct sk_key *key,
		      const struct sk_trust *policy, struct sk_err *err)
{
	struct sk_trust *cur = NULL;
	struct sk_oid cur_oid, new_oid;
	int rc = sk_refs_load_trust_at(repo, &cur, &cur_oid, err);
	if (rc == 0 && !sk_refs_is_root(cur, sk_key_id(key), SK_REFS_TRUST_REF))
		rc = sk_err_set(err, SK_EROLE, "ask a holder of a root key to make the change",
				"key %s (%s) is not root in the current trust policy; only root may "
				"change it",
				sk_key_name(key), sk_key_id(key));
	if (rc == 0) {
		json_t *doc = sk_trust_to_json(policy);
		rc = doc ? sk_odb_write_json(repo->odb, SK_OBJ_TRUST, doc, &new_oid, err)
			 : sk_err_set(err, SK_EINVAL, NULL, "cannot serialise the trust policy");
		json_decref(doc);
	}
	if (rc == 0) {
		struct sk_ref_update up = {
			.ref = SK_REFS_TRUST_REF,
			.new_oid = new_oid,
			.expect = SK_EXPECT_OID,
			.old_oid = cur_oid,
		};
		rc = sk_refs_update_with(repo, key, cur, &cur_oid, &up, 1, NULL, err);
	}
	sk_trust_free(cur);
	return rc;
}
