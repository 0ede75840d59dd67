/*
 * Approvals: the `approval` document (strict reader, signature bound to
 * every field) and the engine's count of them on a real repository: an
 * approval stored by the requester -- even one holding the approver
 * role -- never counts, and the approve call refuses it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "objects/approval.h"
#include "objects/cjson.h"
#include "objects/odb.h"
#include "objects/trust.h"
#include "ops/engine.h"
#include "refs/keys.h"
#include "refs/refs.h"
#include "tests/unit/helpers.h"

#define OPID "20250101T000000000Z-abc"

static void sign(struct sk_approval *a, const struct sk_key *k)
{
	char *msg = NULL;
	size_t len = 0;
	struct sk_err err;
	th_must(sk_approval_message(a, &msg, &len, &err), &err);
	assert_int_equal(sk_key_sign(k, SK_SIGN_DOMAIN_APPROVAL, msg, len, a->sig), 0);
	a->has_sig = 1;
	free(msg);
}

static void fill(struct sk_approval *a, const struct sk_key *k)
{
	memset(a, 0, sizeof(*a));
	strcpy(a->op, OPID);
	memset(a->plan, 0xab, sizeof(a->plan));
	strcpy(a->reason, "ticket 7");
	a->has_reason = 1;
	strcpy(a->signer, sk_key_id(k));
	a->time = 1700000000;
	sign(a, k);
}

static void expect_rejected(json_t *doc, const char *field)
{
	struct sk_approval a;
	struct sk_err err;
	assert_int_equal(sk_approval_from_json(&a, doc, &err), SK_EINVAL);
	assert_non_null(strstr(err.message, field));
	json_decref(doc);
}

static void test_document(void **state)
{
	(void)state;
	char dir[64];
	struct sk_key *k = NULL;
	struct sk_err err;
	assert_int_equal(th_tmpdir(dir, sizeof(dir), "approval"), 0);
	th_isolate_env(dir);
	th_must(sk_key_generate(&k, "bob", &err), &err);
	struct sk_approval a, b;
	fill(&a, k);
	json_t *doc = sk_approval_to_json(&a, 1);
	th_must(sk_approval_from_json(&b, doc, &err), &err);
	th_must(sk_approval_verify(&b, sk_key_public(k), &err), &err);
	assert_string_equal(b.reason, "ticket 7");

	/* every field is bound by the signature */
	b.plan[0] ^= 1;
	assert_int_equal(sk_approval_verify(&b, sk_key_public(k), &err), SK_ESIGNATURE);
	th_must(sk_approval_from_json(&b, doc, &err), &err);
	strcpy(b.op, "20250101T000000000Z-abd");
	assert_int_equal(sk_approval_verify(&b, sk_key_public(k), &err), SK_ESIGNATURE);
	th_must(sk_approval_from_json(&b, doc, &err), &err);
	b.has_reason = 0;
	assert_int_equal(sk_approval_verify(&b, sk_key_public(k), &err), SK_ESIGNATURE);

	/* the strict reader */
	json_t *d = json_deep_copy(doc);
	json_object_set_new(d, "extra", json_true());
	expect_rejected(d, "extra");
	d = json_deep_copy(doc);
	json_object_set_new(d, "v", json_integer(2));
	expect_rejected(d, "\"v\"");
	d = json_deep_copy(doc);
	json_object_set_new(d, "plan", json_string("abcd"));
	expect_rejected(d, "plan");
	d = json_deep_copy(doc);
	json_object_del(d, "sig");
	expect_rejected(d, "sig");
	char *longr = calloc(1, SK_APPROVAL_REASON_MAX + 2);
	memset(longr, 'x', SK_APPROVAL_REASON_MAX + 1);
	d = json_deep_copy(doc);
	json_object_set_new(d, "reason", json_string(longr));
	expect_rejected(d, "reason");
	free(longr);
	d = json_deep_copy(doc);
	json_object_set_new(d, "reason", json_null());
	th_must(sk_approval_from_json(&b, d, &err), &err);
	assert_false(b.has_reason);
	json_decref(d);
	d = json_deep_copy(doc);
	json_object_set_new(d, "op", json_string("../x"));
	assert_true(sk_approval_from_json(&b, d, &err) < 0);
	json_decref(d);

	/* an approval of one step: the step is read back and signed over */
	a.has_step = 1;
	a.step = 3;
	sign(&a, k);
	json_t *sdoc = sk_approval_to_json(&a, 1);
	th_must(sk_approval_from_json(&b, sdoc, &err), &err);
	assert_true(b.has_step);
	assert_int_equal(b.step, 3);
	th_must(sk_approval_verify(&b, sk_key_public(k), &err), &err);
	b.step = 4;
	assert_int_equal(sk_approval_verify(&b, sk_key_public(k), &err), SK_ESIGNATURE);
	b.step = 3;
	b.has_step = 0; /* dropping the step is another document */
	assert_int_equal(sk_approval_verify(&b, sk_key_public(k), &err), SK_ESIGNATURE);
	d = json_deep_copy(sdoc);
	json_object_set_new(d, "step", json_integer(64));
	expect_rejected(d, "step");
	d = json_deep_copy(sdoc);
	json_object_set_new(d, "step", json_integer(-1));
	expect_rejected(d, "step");
	d = json_deep_copy(sdoc);
	json_object_set_new(d, "step", json_string("3"));
	expect_rejected(d, "step");
	json_decref(sdoc);
	json_decref(doc);
	sk_key_free(k);
	th_rmtree(dir);
}

/* The requester holds the approver role too and stores an approval of
 * their own operation under its approval ref: it does not count, and
 * sk_op_approve refuses the requester outright. */
static void test_requester_never_counts(void **state)
{
	(void)state;
	struct th_repo t;
	struct sk_err err;
	struct sk_trust *policy = NULL;
	assert_int_equal(th_setup_repo(&t, "approval-op", "alice"), 0);
	setenv("SKIFF_TEST_OPS", "1", 1);
	th_must(sk_refs_load_trust(t.repo, &policy, &err), &err);
	th_must(sk_trust_add_grant(policy, "alice", sk_key_public(t.key), "approver", NULL, &err),
		&err);
	th_must(sk_refs_set_trust(t.repo, t.key, policy, &err), &err);

	char ledger[128];
	snprintf(ledger, sizeof(ledger), "%s/ledger", t.root);
	json_t *p = json_pack("{s:s, s:s, s:s}", "steps", "1", "ledger", ledger, "high_at", "1");
	struct sk_op *op = NULL;
	th_must(sk_op_create(t.repo, t.key, "test", NULL, p, &op, &err), &err);
	json_decref(p);
	assert_int_equal(sk_op_run(t.repo, t.key, op, &err), SK_EAPPROVAL);
	assert_string_equal(json_string_value(json_object_get(op->doc, "state")),
			    "awaiting-approval");
	assert_int_equal(sk_op_approve(t.repo, t.key, op, NULL, 0, NULL, &err), SK_EROLE);

	struct sk_approval a;
	memset(&a, 0, sizeof(a));
	snprintf(a.op, sizeof(a.op), "%s", json_string_value(json_object_get(op->doc, "id")));
	th_must(sk_op_plan_digest(op->doc, a.plan, &err), &err);
	strcpy(a.signer, sk_key_id(t.key));
	sign(&a, t.key);
	json_t *doc = sk_approval_to_json(&a, 1);
	struct sk_ref_update up = { .expect = SK_EXPECT_ABSENT };
	char ref[256];
	snprintf(ref, sizeof(ref), "refs/approvals/%s/%s", a.op, a.signer);
	up.ref = ref;
	th_must(sk_odb_write_json(sk_repo_odb(t.repo), SK_OBJ_APPROVAL, doc, &up.new_oid, &err), &err);
	json_decref(doc);
	th_must(sk_refs_update(t.repo, t.key, &up, 1, NULL, &err), &err);

	json_t *info = NULL;
	th_must(sk_op_approvals(t.repo, op, &info, &err), &err);
	assert_int_equal(json_integer_value(json_object_get(info, "valid")), 0);
	json_t *first = json_array_get(json_object_get(info, "approvals"), 0);
	assert_false(json_is_true(json_object_get(first, "counts")));
	assert_non_null(strstr(json_string_value(json_object_get(first, "why")), "requester"));
	json_decref(info);
	assert_int_equal(sk_op_run(t.repo, t.key, op, &err), SK_EAPPROVAL);

	sk_op_free(op);
	sk_trust_free(policy);
	unsetenv("SKIFF_TEST_OPS");
	th_teardown_repo(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_document),
		cmocka_unit_test(test_requester_never_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
