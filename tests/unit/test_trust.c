/*
 * Trust: who may sign which ref, on write and on verification; trust
 * updates by root only; records written around the API (as an attacker
 * with file access would) fail verification.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fs.h"
#include "objects/odb.h"
#include "refs/keys.h"
#include "refs/refs.h"
#include "tests/unit/helpers.h"

/* alice is r.key (borrowed): the owner, root of the initial policy. bob and
 * mallory hold no role until a test grants one. */
struct fx {
	struct th_repo r;
	struct sk_key *alice, *bob, *mallory;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	*state = fx;
	struct sk_err err;
	if (th_setup_repo(&fx->r, "trust", "alice") < 0 ||
	    sk_key_generate(&fx->bob, "bob", &err) < 0 ||
	    sk_key_generate(&fx->mallory, "mallory", &err) < 0)
		return -1;
	fx->alice = fx->r.key;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	sk_key_free(fx->bob);
	sk_key_free(fx->mallory);
	th_teardown_repo(&fx->r);
	free(fx);
	return 0;
}

static int put(struct fx *fx, const struct sk_key *key, const char *ref, const struct sk_oid *to,
	       struct sk_err *err)
{
	struct sk_ref_update up = { .ref = ref, .new_oid = *to };
	return sk_refs_update(fx->r.repo, key, &up, 1, NULL, err);
}

/* alice (root) grants bob release-signer scoped to refs/releases/a/<version> */
static void grant_bob(struct fx *fx)
{
	struct sk_err err;
	struct sk_trust *t = NULL;
	th_must(sk_refs_load_trust(fx->r.repo, &t, &err), &err);
	th_must(sk_trust_add_grant(t, "bob", sk_key_public(fx->bob), "release-signer",
				   "refs/releases/a/*", &err), &err);
	th_must(sk_refs_set_trust(fx->r.repo, fx->alice, t, &err), &err);
	sk_trust_free(t);
}

/* Writes a record for ref signed by key straight into the repository,
 * bypassing every check sk_refs_update makes. */
static void write_by_hand(struct fx *fx, const struct sk_key *key, const char *ref,
			  const struct sk_oid *to, int corrupt_sig)
{
	struct sk_err err;
	struct sk_refrecord cur, r;
	memset(&r, 0, sizeof(r));
	char *path = sk_path_join(fx->r.skiff, ref), *bytes = NULL;
	size_t len = 0;
	r.seq = 1;
	if (sk_fs_read_file(path, 65536, &bytes, &len, &err) == 0) {
		th_must(sk_refrecord_parse(&cur, bytes, len, &err), &err);
		r.has_prev = 1;
		sk_oid_hash(&r.prev, SK_OBJ_REFRECORD, bytes, len);
		r.seq = cur.seq + 1;
		free(bytes);
	}
	snprintf(r.ref, sizeof(r.ref), "%s", ref);
	r.has_oid = 1;
	r.oid = *to;
	r.time = (int64_t)time(NULL);
	snprintf(r.signer, sizeof(r.signer), "%s", sk_key_id(key));
	char *body = NULL;
	th_must(sk_refrecord_dump(&r, 0, &body, &len, &err), &err);
	assert_int_equal(sk_key_sign(key, SK_SIGN_DOMAIN_REFRECORD, body, len, r.sig), 0);
	free(body);
	r.has_sig = 1;
	if (corrupt_sig)
		r.sig[0] ^= 1;
	th_must(sk_refrecord_dump(&r, 1, &body, &len, &err), &err);
	struct sk_oid id;
	th_must(sk_odb_write(sk_repo_odb(fx->r.repo), SK_OBJ_REFRECORD, body, len, &id, &err),
		&err);
	th_must(sk_fs_mkdirs_for(path, &err), &err);
	th_must(sk_fs_write_atomic(path, body, len, 0644, &err), &err);
	free(body);
	free(path);
}

static void test_unknown_key_refused(void **state)
{
	struct fx *fx = *state;
	struct sk_err err;
	struct sk_oid a = th_blob(fx->r.repo, "a");
	assert_int_equal(put(fx, fx->bob, "refs/services/x", &a, &err), SK_EROLE);
	assert_non_null(strstr(err.message, sk_key_id(fx->bob)));
	struct sk_refrecord r;
	assert_int_equal(sk_refs_read(fx->r.repo, "refs/services/x", &r, &err), SK_ENOTFOUND);
	/* the owner may */
	th_must(put(fx, fx->alice, "refs/services/x", &a, &err), &err);
}

static void test_scoped_release_signer(void **state)
{
	struct fx *fx = *state;
	struct sk_err err;
	grant_bob(fx);
	struct sk_oid a = th_blob(fx->r.repo, "release");
	th_must(put(fx, fx->bob, "refs/releases/a/1", &a, &err), &err);
	th_must(sk_refs_verify(fx->r.repo, "refs/releases/a/1", 1, NULL, &err), &err);

	assert_int_equal(put(fx, fx->bob, "refs/releases/b/1", &a, &err), SK_EROLE);
	assert_non_null(strstr(err.message, "bob"));
	assert_non_null(strstr(err.message, sk_key_id(fx->bob)));
	assert_non_null(strstr(err.message, "refs/releases/b/1"));
	assert_non_null(strstr(err.message, "release-signer"));
	assert_int_equal(sk_err_exit_code(err.code), 4);
	/* a role for another namespace does not carry over */
	assert_int_equal(put(fx, fx->bob, "refs/services/a", &a, &err), SK_EROLE);
	assert_non_null(strstr(err.message, "operator"));
	/* and nothing is left behind */
	json_t *locks = NULL;
	th_must(sk_refs_stale_locks(fx->r.repo, &locks, &err), &err);
	assert_int_equal(json_array_size(locks), 0);
	json_decref(locks);
	/* a transaction with one refused ref is refused whole */
	struct sk_ref_update ups[2] = {
		{ .ref = "refs/releases/a/2", .new_oid = a },
		{ .ref = "refs/releases/b/2", .new_oid = a },
	};
	assert_int_equal(sk_refs_update(fx->r.repo, fx->bob, ups, 2, NULL, &err), SK_EROLE);
	struct sk_refrecord r;
	assert_int_equal(sk_refs_read(fx->r.repo, "refs/releases/a/2", &r, &err), SK_ENOTFOUND);
}

static void test_hand_written_record_fails_verification(void **state)
{
	struct fx *fx = *state;
	struct sk_err err;
	grant_bob(fx);
	struct sk_oid a = th_blob(fx->r.repo, "a"), b = th_blob(fx->r.repo, "b");
	th_must(put(fx, fx->alice, "refs/services/pay", &a, &err), &err);
	th_must(sk_refs_verify(fx->r.repo, "refs/services/pay", 0, NULL, &err), &err);

	/* bob is in the policy, but not an operator */
	write_by_hand(fx, fx->bob, "refs/services/pay", &b, 0);
	assert_int_equal(sk_refs_verify(fx->r.repo, "refs/services/pay", 0, NULL, &err), SK_EROLE);
	assert_non_null(strstr(err.message, "bob"));
	assert_int_equal(sk_refs_verify(fx->r.repo, "refs/services/pay", 1, NULL, &err), SK_EROLE);

	/* mallory is unknown */
	write_by_hand(fx, fx->mallory, "refs/services/other", &b, 0);
	assert_int_equal(sk_refs_verify(fx->r.repo, "refs/services/other", 0, NULL, &err),
			 SK_ESIGNATURE);
	assert_non_null(strstr(err.message, "unknown key ID"));
	assert_non_null(strstr(err.message, sk_key_id(fx->mallory)));

	/* alice's key, but the signature does not match the bytes */
	write_by_hand(fx, fx->alice, "refs/services/third", &b, 1);
	assert_int_equal(sk_refs_verify(fx->r.repo, "refs/services/third", 0, NULL, &err),
			 SK_ESIGNATURE);
	/* a good one written the same way passes (the helper is sound) */
	write_by_hand(fx, fx->alice, "refs/services/fourth", &b, 0);
	th_must(sk_refs_verify(fx->r.repo, "refs/services/fourth", 1, NULL, &err), &err);
}

/* A bad record in the middle of a chain is caught by --chain even when
 * the head is fine. */
static void test_chain_catches_middle_role(void **state)
{
	struct fx *fx = *state;
	struct sk_err err;
	grant_bob(fx);
	struct sk_oid a = th_blob(fx->r.repo, "a"), b = th_blob(fx->r.repo, "b");
	struct sk_oid c = th_blob(fx->r.repo, "c");
	th_must(put(fx, fx->alice, "refs/services/s", &a, &err), &err);
	write_by_hand(fx, fx->bob, "refs/services/s", &b, 0);
	th_must(put(fx, fx->alice, "refs/services/s", &c, &err), &err);
	th_must(sk_refs_verify(fx->r.repo, "refs/services/s", 0, NULL, &err), &err);
	assert_int_equal(sk_refs_verify(fx->r.repo, "refs/services/s", 1, NULL, &err), SK_EROLE);
}

static void test_trust_update_root_only(void **state)
{
	struct fx *fx = *state;
	struct sk_err err;
	grant_bob(fx);
	struct sk_trust *t = NULL;
	th_must(sk_refs_load_trust(fx->r.repo, &t, &err), &err);
	th_must(sk_trust_add_grant(t, "bob", sk_key_public(fx->bob), "root", NULL, &err), &err);
	/* bob is not root: refused, policy unchanged */
	assert_int_equal(sk_refs_set_trust(fx->r.repo, fx->bob, t, &err), SK_EROLE);
	assert_non_null(strstr(err.message, "root"));
	struct sk_refrecord before;
	th_must(sk_refs_read(fx->r.repo, "refs/meta/trust", &before, &err), &err);
	assert_int_equal(before.seq, 2);
	/* nor through a raw update */
	struct sk_oid pol;
	json_t *doc = sk_trust_to_json(t);
	th_must(sk_odb_write_json(sk_repo_odb(fx->r.repo), SK_OBJ_TRUST, doc, &pol, &err), &err);
	json_decref(doc);
	struct sk_ref_update up = { .ref = "refs/meta/trust", .new_oid = pol };
	assert_int_equal(sk_refs_update(fx->r.repo, fx->bob, &up, 1, NULL, &err), SK_EROLE);

	/* written by hand, bob's self-promotion poisons the policy: every
	 * load refuses it, so nothing can be signed on its strength */
	char *path = sk_path_join(fx->r.skiff, "refs/meta/trust"), *saved = NULL;
	size_t saved_len = 0;
	th_must(sk_fs_read_file(path, 65536, &saved, &saved_len, &err), &err);
	write_by_hand(fx, fx->bob, "refs/meta/trust", &pol, 0);
	struct sk_trust *loaded = NULL;
	assert_int_equal(sk_refs_load_trust(fx->r.repo, &loaded, &err), SK_EROLE);
	struct sk_oid a = th_blob(fx->r.repo, "a");
	assert_int_equal(put(fx, fx->bob, "refs/services/x", &a, &err), SK_EROLE);
	assert_int_equal(sk_refs_verify(fx->r.repo, "refs/meta/trust", 0, NULL, &err), SK_EROLE);
	th_must(sk_fs_write_atomic(path, saved, saved_len, 0644, &err), &err);
	free(saved);
	free(path);

	/* alice (root) may make bob root; then bob may change the policy */
	th_must(sk_refs_set_trust(fx->r.repo, fx->alice, t, &err), &err);
	sk_trust_free(t);
	th_must(sk_refs_load_trust(fx->r.repo, &t, &err), &err);
	th_must(sk_trust_add_grant(t, "bob", sk_key_public(fx->bob), "operator", NULL, &err), &err);
	th_must(sk_refs_set_trust(fx->r.repo, fx->bob, t, &err), &err);
	sk_trust_free(t);
	th_must(put(fx, fx->bob, "refs/services/x", &a, &err), &err);

	json_t *info = NULL;
	th_must(sk_refs_verify(fx->r.repo, "refs/meta/trust", 1, &info, &err), &err);
	assert_int_equal(json_integer_value(json_object_get(info, "records_checked")), 4);
	assert_string_equal(json_string_value(json_object_get(info, "signer_name")), "bob");
	json_decref(info);
}

/* A policy without any root key would freeze refs/meta/trust forever. */
static void test_policy_needs_root(void **state)
{
	struct fx *fx = *state;
	struct sk_err err;
	struct sk_trust *t = sk_trust_new_initial(sk_key_id(fx->bob), "bob", sk_key_public(fx->bob));
	/* strip root from bob's grants */
	struct sk_trust_key *k = &t->keys[0];
	size_t w = 0;
	for (size_t i = 0; i < k->ngrants; i++) {
		if (strcmp(k->grants[i].role, "root") == 0) {
			free(k->grants[i].role);
			free(k->grants[i].scope);
		} else {
			k->grants[w++] = k->grants[i];
		}
	}
	k->ngrants = w;
	assert_int_equal(sk_refs_set_trust(fx->r.repo, fx->alice, t, &err), SK_EINVAL);
	assert_non_null(strstr(err.message, "root"));
	sk_trust_free(t);
	struct sk_refrecord r;
	th_must(sk_refs_read(fx->r.repo, "refs/meta/trust", &r, &err), &err);
	assert_int_equal(r.seq, 1);
}

static void test_verify_record_direct(void **state)
{
	struct fx *fx = *state;
	struct sk_err err;
	struct sk_trust *t = NULL;
	th_must(sk_refs_load_trust(fx->r.repo, &t, &err), &err);
	struct sk_oid a = th_blob(fx->r.repo, "a");
	struct sk_refrecord rec;
	struct sk_ref_update up = { .ref = "refs/runners/svc/t1", .new_oid = a };
	/* runner refs need the runner role, which alice lacks */
	assert_int_equal(sk_refs_update(fx->r.repo, fx->alice, &up, 1, NULL, &err), SK_EROLE);
	assert_non_null(strstr(err.message, "runner"));
	up.ref = "refs/services/svc";
	th_must(sk_refs_update(fx->r.repo, fx->alice, &up, 1, &rec, &err), &err);
	th_must(sk_refs_verify_record(t, &rec, &err), &err);
	/* any change to a signed field breaks the signature */
	struct sk_refrecord bad = rec;
	bad.seq++;
	assert_int_equal(sk_refs_verify_record(t, &bad, &err), SK_ESIGNATURE);
	bad = rec;
	snprintf(bad.op, sizeof(bad.op), "sneaky");
	assert_int_equal(sk_refs_verify_record(t, &bad, &err), SK_ESIGNATURE);
	bad = rec;
	bad.has_sig = 0;
	assert_int_equal(sk_refs_verify_record(t, &bad, &err), SK_ESIGNATURE);
	/* the same record moved to another ref is not valid there */
	bad = rec;
	snprintf(bad.ref, sizeof(bad.ref), "refs/services/other");
	assert_int_equal(sk_refs_verify_record(t, &bad, &err), SK_ESIGNATURE);
	sk_trust_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unknown_key_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scoped_release_signer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hand_written_record_fails_verification, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_chain_catches_middle_role, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trust_update_root_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_needs_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_record_direct, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
