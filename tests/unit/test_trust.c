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

#include <ftw.h>
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

struct fx {
	char root[64];
	char *repo_dir, *skiff;
	struct sk_key *alice, *bob, *mallory;
	struct sk_repo *repo;
};

static int rm_entry(const char *p, const struct stat *st, int fl, struct FTW *f)
{
	(void)st;
	(void)fl;
	(void)f;
	return remove(p);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	snprintf(fx->root, sizeof(fx->root), "/tmp/skiff-trust-XXXXXX");
	if (!mkdtemp(fx->root))
		return -1;
	char *cfg = sk_path_join(fx->root, "config");
	setenv("XDG_CONFIG_HOME", cfg, 1);
	free(cfg);
	unsetenv("SKIFF_FAULT");
	fx->repo_dir = sk_path_join(fx->root, "repo");
	fx->skiff = sk_path_join(fx->repo_dir, ".skiff");
	struct sk_err err;
	if (sk_key_generate(&fx->alice, "alice", &err) < 0 ||
	    sk_key_generate(&fx->bob, "bob", &err) < 0 ||
	    sk_key_generate(&fx->mallory, "mallory", &err) < 0 ||
	    sk_repo_init(&fx->repo, fx->repo_dir, fx->alice, &err) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	sk_repo_free(fx->repo);
	sk_key_free(fx->alice);
	sk_key_free(fx->bob);
	sk_key_free(fx->mallory);
	nftw(fx->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx->repo_dir);
	free(fx->skiff);
	free(fx);
	return 0;
}

static void must(int rc, const struct sk_err *err)
{
	if (rc != 0)
		fail_msg("rc %d: %s (%s)", rc, err->message, err->hint);
}

static struct sk_oid blob(struct sk_repo *repo, const char *text)
{
	struct sk_oid oid;
	struct sk_err err;
	must(sk_odb_write(sk_repo_odb(repo), SK_OBJ_BLOB, text, strlen(text), &oid, &err), &err);
	return oid;
}

static int put(struct fx *fx, const struct sk_key *key, const char *ref, const struct sk_oid *to,
	       struct sk_err *err)
{
	struct sk_ref_update up = { .ref = ref, .new_oid = *to };
	return sk_refs_update(fx->repo, key, &up, 1, NULL, err);
}

/* alice (root) grants bob release-signer scoped to refs/releases/a/<version> */
static void grant_bob(struct fx *fx)
{
	struct sk_err err;
	struct sk_trust *t = NULL;
	must(sk_refs_load_trust(fx->repo, &t, &err), &err);
	must(sk_trust_add_grant(t, "bob", sk_key_public(fx->bob), "release-signer",
				"refs/releases/a/*", &err), &err);
	must(sk_refs_set_trust(fx->repo, fx->alice, t, &err), &err);
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
	char *path = sk_path_join(fx->skiff, ref), *bytes = NULL;
	size_t len = 0;
	r.seq = 1;
	if (sk_fs_read_file(path, 65536, &bytes, &len, &err) == 0) {
		must(sk_refrecord_parse(&cur, bytes, len, &err), &err);
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
	must(sk_refrecord_dump(&r, 0, &body, &len, &err), &err);
	assert_int_equal(sk_key_sign(key, SK_SIGN_DOMAIN_REFRECORD, body, len, r.sig), 0);
	free(body);
	r.has_sig = 1;
	if (corrupt_sig)
		r.sig[0] ^= 1;
	must(sk_refrecord_dump(&r, 1, &body, &len, &err), &err);
	struct sk_oid id;
	must(sk_odb_write(sk_repo_odb(fx->repo), SK_OBJ_REFRECORD, body, len, &id, &err), &err);
	must(sk_fs_mkdirs_for(path, &err), &err);
	must(sk_fs_write_atomic(path, body, len, 0644, &err), &err);
	free(body);
	free(path);
}

static void test_unknown_key_refused(void **state)
{
	struct fx *fx = *state;
	struct sk_err err;
	struct sk_oid a = blob(fx->repo, "a");
	assert_int_equal(put(fx, fx->bob, "refs/services/x", &a, &err), SK_EROLE);
	assert_non_null(strstr(err.message, sk_key_id(fx->bob)));
	struct sk_refrecord r;
	assert_int_equal(sk_refs_read(fx->repo, "refs/services/x", &r, &err), SK_ENOTFOUND);
	/* the owner may */
	must(put(fx, fx->alice, "refs/services/x", &a, &err), &err);
}

static void test_scoped_release_signer(void **state)
{
	struct fx *fx = *state;
	struct sk_err err;
	grant_bob(fx);
	struct sk_oid a = blob(fx->repo, "release");
	must(put(fx, fx->bob, "refs/releases/a/1", &a, &err), &err);
	must(sk_refs_verify(fx->repo, "refs/releases/a/1", 1, NULL, &err), &err);

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
	must(sk_refs_stale_locks(fx->repo, &locks, &err), &err);
	assert_int_equal(json_array_size(locks), 0);
	json_decref(locks);
	/* a transaction with one refused ref is refused whole */
	struct sk_ref_update ups[2] = {
		{ .ref = "refs/releases/a/2", .new_oid = a },
		{ .ref = "refs/releases/b/2", .new_oid = a },
	};
	assert_int_equal(sk_refs_update(fx->repo, fx->bob, ups, 2, NULL, &err), SK_EROLE);
	struct sk_refrecord r;
	assert_int_equal(sk_refs_read(fx->repo, "refs/releases/a/2", &r, &err), SK_ENOTFOUND);
}

static void test_hand_written_record_fails_verification(void **state)
{
	struct fx *fx = *state;
	struct sk_err err;
	grant_bob(fx);
	struct sk_oid a = blob(fx->repo, "a"), b = blob(fx->repo, "b");
	must(put(fx, fx->alice, "refs/services/pay", &a, &err), &err);
	must(sk_refs_verify(fx->repo, "refs/services/pay", 0, NULL, &err), &err);

	/* bob is in the policy, but not an operator */
	write_by_hand(fx, fx->bob, "refs/services/pay", &b, 0);
	assert_int_equal(sk_refs_verify(fx->repo, "refs/services/pay", 0, NULL, &err), SK_EROLE);
	assert_non_null(strstr(err.message, "bob"));
	assert_int_equal(sk_refs_verify(fx->repo, "refs/services/pay", 1, NULL, &err), SK_EROLE);

	/* mallory is unknown */
	write_by_hand(fx, fx->mallory, "refs/services/other", &b, 0);
	assert_int_equal(sk_refs_verify(fx->repo, "refs/services/other", 0, NULL, &err),
			 SK_ESIGNATURE);
	assert_non_null(strstr(err.message, "unknown key ID"));
	assert_non_null(strstr(err.message, sk_key_id(fx->mallory)));

	/* alice's key, but the signature does not match the bytes */
	write_by_hand(fx, fx->alice, "refs/services/third", &b, 1);
	assert_int_equal(sk_refs_verify(fx->repo, "refs/services/third", 0, NULL, &err),
			 SK_ESIGNATURE);
	/* a good one written the same way passes (the helper is sound) */
	write_by_hand(fx, fx->alice, "refs/services/fourth", &b, 0);
	must(sk_refs_verify(fx->repo, "refs/services/fourth", 1, NULL, &err), &err);
}

/* A bad record in the middle of a chain is caught by --chain even when
 * the head is fine. */
static void test_chain_catches_middle_role(void **state)
{
	struct fx *fx = *state;
	struct sk_err err;
	grant_bob(fx);
	struct sk_oid a = blob(fx->repo, "a"), b = blob(fx->repo, "b"), c = blob(fx->repo, "c");
	must(put(fx, fx->alice, "refs/services/s", &a, &err), &err);
	write_by_hand(fx, fx->bob, "refs/services/s", &b, 0);
	must(put(fx, fx->alice, "refs/services/s", &c, &err), &err);
	must(sk_refs_verify(fx->repo, "refs/services/s", 0, NULL, &err), &err);
	assert_int_equal(sk_refs_verify(fx->repo, "refs/services/s", 1, NULL, &err), SK_EROLE);
}

static void test_trust_update_root_only(void **state)
{
	struct fx *fx = *state;
	struct sk_err err;
	grant_bob(fx);
	struct sk_trust *t = NULL;
	must(sk_refs_load_trust(fx->repo, &t, &err), &err);
	must(sk_trust_add_grant(t, "bob", sk_key_public(fx->bob), "root", NULL, &err), &err);
	/* bob is not root: refused, policy unchanged */
	assert_int_equal(sk_refs_set_trust(fx->repo, fx->bob, t, &err), SK_EROLE);
	assert_non_null(strstr(err.message, "root"));
	struct sk_refrecord before;
	must(sk_refs_read(fx->repo, "refs/meta/trust", &before, &err), &err);
	assert_int_equal(before.seq, 2);
	/* nor through a raw update */
	struct sk_oid pol;
	json_t *doc = sk_trust_to_json(t);
	must(sk_odb_write_json(sk_repo_odb(fx->repo), SK_OBJ_TRUST, doc, &pol, &err), &err);
	json_decref(doc);
	struct sk_ref_update up = { .ref = "refs/meta/trust", .new_oid = pol };
	assert_int_equal(sk_refs_update(fx->repo, fx->bob, &up, 1, NULL, &err), SK_EROLE);

	/* written by hand, bob's self-promotion poisons the policy: every
	 * load refuses it, so nothing can be signed on its strength */
	char *path = sk_path_join(fx->skiff, "refs/meta/trust"), *saved = NULL;
	size_t saved_len = 0;
	must(sk_fs_read_file(path, 65536, &saved, &saved_len, &err), &err);
	write_by_hand(fx, fx->bob, "refs/meta/trust", &pol, 0);
	struct sk_trust *loaded = NULL;
	assert_int_equal(sk_refs_load_trust(fx->repo, &loaded, &err), SK_EROLE);
	struct sk_oid a = blob(fx->repo, "a");
	assert_int_equal(put(fx, fx->bob, "refs/services/x", &a, &err), SK_EROLE);
	assert_int_equal(sk_refs_verify(fx->repo, "refs/meta/trust", 0, NULL, &err), SK_EROLE);
	must(sk_fs_write_atomic(path, saved, saved_len, 0644, &err), &err);
	free(saved);
	free(path);

	/* alice (root) may make bob root; then bob may change the policy */
	must(sk_refs_set_trust(fx->repo, fx->alice, t, &err), &err);
	sk_trust_free(t);
	must(sk_refs_load_trust(fx->repo, &t, &err), &err);
	must(sk_trust_add_grant(t, "bob", sk_key_public(fx->bob), "operator", NULL, &err), &err);
	must(sk_refs_set_trust(fx->repo, fx->bob, t, &err), &err);
	sk_trust_free(t);
	must(put(fx, fx->bob, "refs/services/x", &a, &err), &err);

	json_t *info = NULL;
	must(sk_refs_verify(fx->repo, "refs/meta/trust", 1, &info, &err), &err);
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
	assert_int_equal(sk_refs_set_trust(fx->repo, fx->alice, t, &err), SK_EINVAL);
	assert_non_null(strstr(err.message, "root"));
	sk_trust_free(t);
	struct sk_refrecord r;
	must(sk_refs_read(fx->repo, "refs/meta/trust", &r, &err), &err);
	assert_int_equal(r.seq, 1);
}

static void test_verify_record_direct(void **state)
{
	struct fx *fx = *state;
	struct sk_err err;
	struct sk_trust *t = NULL;
	must(sk_refs_load_trust(fx->repo, &t, &err), &err);
	struct sk_oid a = blob(fx->repo, "a");
	struct sk_refrecord rec;
	struct sk_ref_update up = { .ref = "refs/runners/svc/t1", .new_oid = a };
	/* runner refs need the runner role, which alice lacks */
	assert_int_equal(sk_refs_update(fx->repo, fx->alice, &up, 1, NULL, &err), SK_EROLE);
	assert_non_null(strstr(err.message, "runner"));
	up.ref = "refs/services/svc";
	must(sk_refs_update(fx->repo, fx->alice, &up, 1, &rec, &err), &err);
	must(sk_refs_verify_record(t, &rec, &err), &err);
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
