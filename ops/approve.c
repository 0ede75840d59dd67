/*
 * Two-party approval (see engine.h): counting the approvals an operation
 * holds, gating its high-risk steps on them, and recording a new one.
 *
 * Counting re-checks everything each time (object hash, operation id,
 * plan digest, signature, role, requester, one per key) against the
 * trust policy in force now, so revoking an approver's key also revokes
 * the approvals it gave to operations that have not passed their gate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "objects/approval.h"
#include "objects/odb.h"
#include "objects/trust.h"
#include "ops/internal.h"
#include "refs/audit.h"
#include "refs/keys.h"
#include "refs/refs.h"

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Where key keyid's approval of op is stored (create-only, signed by
 * the approver): refs/approvals/<service>/<op>/<keyid>, or
 * refs/approvals/<op>/<keyid> for an operation without a service; an
 * approval of one step (step >= 0) ends in <keyid>.step<N>, so one key
 * approves each such step once. The service in the name lets a grant's
 * scope limit an approver to some services (a scope of
 * refs/approvals/payments-api and below); keyid NULL gives the pattern
 * of all of op's approvals. */
static void approval_ref(const json_t *doc, const char *keyid, int step, char *buf, size_t n)
{
	const char *svc = str(doc, "service");
	char suffix[24] = "";
	if (keyid && step >= 0)
		snprintf(suffix, sizeof(suffix), ".step%d", step);
	snprintf(buf, n, "refs/approvals/%s%s%s/%s%s", svc ? svc : "", svc ? "/" : "",
		 str(doc, "id"), keyid ? keyid : "*", suffix);
}

/* step: the step whose own approvals count, or -1: the operation's. */
struct tally {
	const json_t *doc;
	const struct sk_trust *policy;
	unsigned char plan[32];
	int step;
	json_t *list;
	size_t valid;
};

/* The step whose own approvals op's next gate counts (the one under the
 * cursor, when its type says it needs them), or -1. */
static int gate_step(const struct sk_op *op)
{
	struct sk_op_step_def defs[SK_OP_MAX_STEPS];
	size_t n = 0;
	struct sk_err ignore;
	long long cur = json_integer_value(json_object_get(op->doc, "cursor"));
	if (sk_op_type_plan(str(op->doc, "kind"), json_object_get(op->doc, "params"), defs, &n,
			    &ignore) != 0 ||
	    cur < 0 || (size_t)cur >= n || !defs[cur].approve_each)
		return -1;
	return (int)cur;
}

static int counted_signer(const struct tally *t, const char *signer)
{
	size_t i;
	json_t *a;
	json_array_foreach(t->list, i, a)
		if (json_is_true(json_object_get(a, "counts")) && strcmp(str(a, "signer"), signer) == 0)
			return 1;
	return 0;
}

/* Why approval a does not count for the tallied operation, or NULL. */
static const char *why_not(const struct tally *t, const struct sk_approval *a,
			   const struct sk_trust_key **key)
{
	struct sk_err ignore;
	*key = sk_trust_find_key(t->policy, a->signer);
	if (strcmp(a->op, str(t->doc, "id")) != 0)
		return "it approves another operation";
	if (memcmp(a->plan, t->plan, sizeof(t->plan)) != 0)
		return "it approves another plan (the operation changed since)";
	if (t->step >= 0 && (!a->has_step || a->step != t->step))
		return a->has_step ? "it approves another step" : "this step needs its own approval";
	if (t->step < 0 && a->has_step)
		return "it approves one step only";
	if (!*key)
		return "its signer is not in the trust policy";
	if (sk_approval_verify(a, (*key)->pub, &ignore) < 0)
		return "its signature does not verify";
	if (strcmp(a->signer, str(t->doc, "actor")) == 0)
		return "the requester cannot approve their own operation";
	char ref[SK_REF_MAX + 1];
	approval_ref(t->doc, a->signer, t->step, ref, sizeof(ref));
	if (!sk_refs_has_role(t->policy, a->signer, "approver", ref))
		return "its signer lacks the approver role for this operation";
	if (counted_signer(t, a->signer))
		return "this key's approval is already counted";
	return NULL;
}

static void tally_one(struct sk_repo *repo, struct tally *t, const char *hex)
{
	struct sk_err e;
	struct sk_oid oid;
	struct sk_approval a;
	const struct sk_trust_key *key = NULL;
	json_t *doc = NULL;
	const char *why = NULL;
	int rc = sk_oid_fromhex(&oid, hex, &e);
	if (!rc)
		rc = sk_odb_read_json(sk_repo_odb(repo), &oid, SK_OBJ_APPROVAL, SK_ODB_VERIFY, &doc, &e);
	if (!rc)
		rc = sk_approval_from_json(&a, doc, &e);
	json_decref(doc);
	json_t *item = json_pack("{s:s}", "id", hex);
	if (rc) {
		json_object_set_new(item, "counts", json_false());
		json_object_set_new(item, "why", json_string(e.message));
		json_array_append_new(t->list, item);
		return;
	}
	why = why_not(t, &a, &key);
	json_object_set_new(item, "signer", json_string(a.signer));
	json_object_set_new(item, "signer_name", key ? json_string(key->name) : json_null());
	json_object_set_new(item, "time", json_integer((json_int_t)a.time));
	json_object_set_new(item, "reason", a.has_reason ? json_string(a.reason) : json_null());
	json_object_set_new(item, "counts", json_boolean(!why));
	json_object_set_new(item, "why", why ? json_string(why) : json_null());
	json_array_append_new(t->list, item);
	if (a.has_step)
		json_object_set_new(item, "step", json_integer(a.step));
	if (!why)
		t->valid++;
}

static int listed(const json_t *list, const char *hex)
{
	size_t i;
	json_t *a;
	json_array_foreach(list, i, a)
		if (strcmp(str(a, "id"), hex) == 0)
			return 1;
	return 0;
}

/* The approvals the operation recorded, then those stored under its
 * approval refs and not recorded yet (each object once). */
static int tally(struct sk_repo *repo, const struct sk_op *op, const struct sk_trust *policy,
		 int step, struct tally *t, struct sk_err *err)
{
	memset(t, 0, sizeof(*t));
	t->doc = op->doc;
	t->policy = policy;
	t->step = step;
	int rc = sk_op_plan_digest(op->doc, t->plan, err);
	char pattern[SK_REF_MAX + 1], hex[SK_OID_HEXSZ + 1];
	struct sk_refrecord *recs = NULL;
	size_t n = 0, i;
	approval_ref(op->doc, NULL, -1, pattern, sizeof(pattern));
	if (!rc)
		rc = sk_refs_list(repo, pattern, 0, &recs, &n, err);
	if (rc)
		return rc;
	t->list = json_array();
	json_t *v;
	json_array_foreach(json_object_get(op->doc, "approvals"), i, v)
		if (!listed(t->list, json_string_value(v)))
			tally_one(repo, t, json_string_value(v));
	for (i = 0; i < n; i++)
		if (!listed(t->list, sk_oid_tohex(&recs[i].oid, hex)))
			tally_one(repo, t, hex);
	free(recs);
	return 0;
}

/* Records in the operation the counted approvals it has not recorded
 * yet (found under its approval refs), one "approved" event each, so the
 * operation shows what it passed its gate on. */
static int record_new(struct sk_repo *repo, const struct sk_key *key, struct sk_op *op,
		      const json_t *list, size_t step, struct sk_err *err)
{
	size_t i;
	json_t *a;
	json_array_foreach(list, i, a) {
		json_t *rec = json_object_get(op->doc, "approvals");
		int known = 0;
		size_t k;
		json_t *v;
		json_array_foreach(rec, k, v)
			known |= strcmp(json_string_value(v), str(a, "id")) == 0;
		if (known || !json_is_true(json_object_get(a, "counts")) ||
		    json_array_size(rec) >= SK_OP_MAX_APPROVALS)
			continue;
		json_array_append_new(rec, json_string(str(a, "id")));
		json_t *facts = json_pack("{s:s, s:s}", "approval", str(a, "id"), "signer",
					  str(a, "signer"));
		int rc = sk_op_transition(repo, key, op, "approved", (long)step, facts, err);
		if (rc)
			return rc;
	}
	return 0;
}

static json_t *tally_json(struct tally *t)
{
	char plan[65];
	sk_hex(t->plan, sizeof(t->plan), plan);
	json_t *r = json_pack("{s:s, s:I, s:I, s:o}", "plan", plan, "needed",
			      (json_int_t)t->policy->approval_threshold, "valid",
			      (json_int_t)t->valid, "approvals", t->list);
	if (t->step >= 0)
		json_object_set_new(r, "step", json_integer(t->step));
	return r;
}

/* The policy in force and op's tally under it for step (-1: the
 * operation's own approvals); *policy is the caller's to free on
 * success, NULL on failure. */
static int load_tally(struct sk_repo *repo, const struct sk_op *op, int step,
		      struct sk_trust **policy, struct tally *t, struct sk_err *err)
{
	int rc = sk_refs_load_trust(repo, policy, err);
	if (!rc)
		rc = tally(repo, op, *policy, step, t, err);
	if (rc) {
		sk_trust_free(*policy);
		*policy = NULL;
	}
	return rc;
}

int sk_op_approvals(struct sk_repo *repo, const struct sk_op *op, json_t **out,
		    struct sk_err *err)
{
	struct sk_trust *policy = NULL;
	struct tally t;
	int rc = load_tally(repo, op, gate_step(op), &policy, &t, err);
	if (!rc)
		*out = tally_json(&t);
	sk_trust_free(policy);
	return rc;
}

int sk_op_gate(struct sk_repo *repo, const struct sk_key *key, struct sk_op *op, size_t step,
	       int each, struct sk_err *err)
{
	struct sk_trust *policy = NULL;
	struct tally t;
	int rc = load_tally(repo, op, each ? (int)step : -1, &policy, &t, err);
	if (rc)
		return rc;
	long long needed = policy->approval_threshold;
	size_t valid = t.valid;
	sk_trust_free(policy);
	if ((long long)valid >= needed) {
		rc = record_new(repo, key, op, t.list, step, err);
		json_decref(t.list);
		return rc;
	}
	json_decref(t.list);
	const char *id = str(op->doc, "id");
	const char *step_name = str(json_array_get(json_object_get(op->doc, "steps"), step), "name");
	if (strcmp(str(op->doc, "state"), "awaiting-approval") != 0) {
		json_t *facts = json_pack("{s:s, s:s, s:I, s:I}", "from", str(op->doc, "state"), "to",
					  "awaiting-approval", "needed", (json_int_t)needed, "valid",
					  (json_int_t)valid);
		json_object_set_new(op->doc, "state", json_string("awaiting-approval"));
		if ((rc = sk_op_transition(repo, key, op, "state", (long)step, facts, err)))
			return rc;
	}
	return sk_err_set(err, SK_EAPPROVAL, NULL,
			  "operation %s waits for approval: step %s is high risk and needs %lld "
			  "approval(s) by approver keys other than the requester (valid: %zu)",
			  id, step_name, needed, valid);
}

/* May key approve op now? The requester, a key without the role, a key
 * that already approved, and an operation not waiting are refused. */
static int may_approve(const struct tally *t, const struct sk_key *key, struct sk_err *err)
{
	const char *id = str(t->doc, "id"), *kid = sk_key_id(key);
	if (strcmp(str(t->doc, "state"), "awaiting-approval") != 0)
		return sk_err_set(err, SK_ECONFLICT, "skiff op show ID shows its state",
				  "operation %s is %s, not awaiting approval", id, str(t->doc, "state"));
	if (strcmp(kid, str(t->doc, "actor")) == 0)
		return sk_err_set(err, SK_EROLE, "another approver must approve it",
				  "key %s requested operation %s: the requester cannot approve "
				  "their own operation",
				  kid, id);
	char ref[SK_REF_MAX + 1];
	approval_ref(t->doc, kid, t->step, ref, sizeof(ref));
	if (!sk_refs_has_role(t->policy, kid, "approver", ref))
		return sk_err_set(err, SK_EROLE,
				  "a root key holder can grant it: skiff trust add-key NAME PUBKEY "
				  "--role approver",
				  "key %s does not hold the approver role for %s", kid, ref);
	if (counted_signer(t, kid))
		return sk_err_set(err, SK_ECONFLICT, "skiff op show ID lists its approvals",
				  "key %s already approved operation %s", kid, id);
	return 0;
}

static int sign_and_store(struct sk_repo *repo, const struct sk_key *key, const struct tally *t,
			  const char *reason, struct sk_oid *oid, struct sk_err *err)
{
	struct sk_approval a;
	memset(&a, 0, sizeof(a));
	snprintf(a.op, sizeof(a.op), "%s", str(t->doc, "id"));
	memcpy(a.plan, t->plan, sizeof(a.plan));
	if (reason) {
		if (strlen(reason) > SK_APPROVAL_REASON_MAX)
			return sk_err_set(err, SK_EUSAGE, NULL, "--reason is longer than %d bytes",
					  SK_APPROVAL_REASON_MAX);
		strcpy(a.reason, reason);
		a.has_reason = 1;
	}
	snprintf(a.signer, sizeof(a.signer), "%s", sk_key_id(key));
	a.time = (int64_t)time(NULL);
	a.has_step = t->step >= 0;
	a.step = t->step;
	char *msg = NULL;
	size_t len = 0;
	int rc = sk_approval_message(&a, &msg, &len, err);
	if (rc)
		return rc;
	rc = sk_key_sign(key, SK_SIGN_DOMAIN_APPROVAL, msg, len, a.sig);
	free(msg);
	if (rc)
		return sk_err_set(err, SK_EFAIL, NULL, "signing the approval failed");
	a.has_sig = 1;
	json_t *doc = sk_approval_to_json(&a, 1);
	rc = doc ? sk_odb_write_json(sk_repo_odb(repo), SK_OBJ_APPROVAL, doc, oid, err)
		 : sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	json_decref(doc);
	return rc;
}

/* Creates key's approval ref for op, pointing at the approval object: a
 * second approval by the same key finds the ref there (exit 3). The
 * operation itself is not touched, so an approver needs no operator
 * role and takes no lease. */
static int store_ref(struct sk_repo *repo, const struct sk_key *key, const struct sk_op *op,
		     int step, const struct sk_oid *oid, struct sk_err *err)
{
	char ref[SK_REF_MAX + 1];
	approval_ref(op->doc, sk_key_id(key), step, ref, sizeof(ref));
	struct sk_ref_update up = { .ref = ref, .new_oid = *oid, .expect = SK_EXPECT_ABSENT,
				    .op = str(op->doc, "id") };
	/* the audit entry carries the operation's trace and service */
	struct sk_audit_ctx saved = *sk_repo_audit(repo), actx = saved;
	actx.trace = str(op->doc, "trace");
	actx.op_service = str(op->doc, "service");
	sk_repo_set_audit(repo, &actx);
	int rc = sk_refs_update(repo, key, &up, 1, NULL, err);
	sk_repo_set_audit(repo, &saved);
	if (rc == SK_ECONFLICT || rc == SK_EEXISTS)
		return sk_err_set(err, SK_ECONFLICT, "skiff op show ID lists its approvals",
				  "key %s already approved operation %s", sk_key_id(key),
				  str(op->doc, "id"));
	return rc;
}

int sk_op_approve(struct sk_repo *repo, const struct sk_key *key, struct sk_op *op,
		  const char *reason, int dry_run, json_t **out, struct sk_err *err)
{
	struct sk_trust *policy = NULL;
	struct tally t = { 0 };
	struct sk_oid oid;
	int step = gate_step(op);
	int rc = load_tally(repo, op, step, &policy, &t, err);
	if (!rc)
		rc = may_approve(&t, key, err);
	if (!rc && !dry_run)
		rc = sign_and_store(repo, key, &t, reason, &oid, err);
	json_decref(t.list);
	if (!rc && !dry_run)
		rc = store_ref(repo, key, op, step, &oid, err);
	if (!rc && out && !(rc = tally(repo, op, policy, step, &t, err)))
		*out = tally_json(&t);
	sk_trust_free(policy);
	return rc;
}
