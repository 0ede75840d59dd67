/*
 * The trust policy document: the initial policy exactly, canonical round
 * trips, grant rules, pattern syntax, and rejection of every malformed or
 * out-of-order document.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "objects/cjson.h"
#include "objects/trust.h"

/* SHA-256 of bytes 0..31 starts with 630dcd2966c43366 (python hashlib). */
#define KEYID0 "630dcd2966c43366"

static void pub_of(unsigned char pub[32], int seed)
{
	for (int i = 0; i < 32; i++)
		pub[i] = (unsigned char)(i + seed);
}

static struct sk_trust *initial(void)
{
	unsigned char pub[32];
	pub_of(pub, 0);
	struct sk_trust *t = sk_trust_new_initial(KEYID0, "alice", pub);
	assert_non_null(t);
	return t;
}

static char *dump(const struct sk_trust *t)
{
	json_t *j = sk_trust_to_json(t);
	assert_non_null(j);
	char *out;
	size_t len;
	struct sk_err err;
	assert_int_equal(sk_cjson_dump(j, &out, &len, &err), 0);
	json_decref(j);
	return out;
}

/* The canonical bytes out parse back to a policy that dumps to out again. */
static void assert_round_trips(const char *out)
{
	json_t *j;
	struct sk_err err;
	assert_int_equal(sk_cjson_parse(out, strlen(out), &j, &err), 0);
	struct sk_trust *back;
	assert_int_equal(sk_trust_from_json(&back, j, &err), 0);
	json_decref(j);
	char *again = dump(back);
	assert_string_equal(again, out);
	free(again);
	sk_trust_free(back);
}

static void test_initial_policy(void **state)
{
	(void)state;
	struct sk_trust *t = initial();
	assert_int_equal(t->nkeys, 1);
	assert_string_equal(t->keys[0].id, KEYID0);
	assert_string_equal(t->keys[0].name, "alice");
	assert_int_equal(t->keys[0].ngrants, 2);
	assert_string_equal(t->keys[0].grants[0].role, "operator");
	assert_string_equal(t->keys[0].grants[0].scope, "refs/**");
	assert_string_equal(t->keys[0].grants[1].role, "root");
	assert_string_equal(t->keys[0].grants[1].scope, "refs/**");
	assert_int_equal(t->approval_threshold, 1);
	static const char *const rules[][2] = {
		{ "refs/meta/**", "root" },         { "refs/releases/*/*", "release-signer" },
		{ "refs/runners/*/*", "runner" },   { "refs/services/*", "operator" },
		{ "refs/operations/*", "operator" }, { "refs/approvals/**", "approver" },
		{ "refs/backups/**", "operator" },
		{ "refs/secrets/*", "operator" },    { "refs/**", "operator" },
	};
	assert_int_equal(t->nrules, 9);
	for (size_t i = 0; i < 9; i++) {
		assert_string_equal(t->rules[i].pattern, rules[i][0]);
		assert_int_equal(t->rules[i].nroles, 1);
		assert_string_equal(t->rules[i].roles[0], rules[i][1]);
	}
	char *out = dump(t);
	const char *want =
		"{\"approvals\":{\"threshold\":1},\"keys\":[{\"grants\":["
		"{\"role\":\"operator\",\"scope\":\"refs/**\"},{\"role\":\"root\",\"scope\":\"refs/**\"}],"
		"\"id\":\"630dcd2966c43366\",\"name\":\"alice\",\"public\":"
		"\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"}],"
		"\"rules\":[{\"pattern\":\"refs/meta/**\",\"roles\":[\"root\"]},"
		"{\"pattern\":\"refs/releases/*/*\",\"roles\":[\"release-signer\"]},"
		"{\"pattern\":\"refs/runners/*/*\",\"roles\":[\"runner\"]},"
		"{\"pattern\":\"refs/services/*\",\"roles\":[\"operator\"]},"
		"{\"pattern\":\"refs/operations/*\",\"roles\":[\"operator\"]},"
		"{\"pattern\":\"refs/approvals/**\",\"roles\":[\"approver\"]},"
		"{\"pattern\":\"refs/backups/**\",\"roles\":[\"operator\"]},"
		"{\"pattern\":\"refs/secrets/*\",\"roles\":[\"operator\"]},"
		"{\"pattern\":\"refs/**\",\"roles\":[\"operator\"]}],\"v\":1}";
	assert_string_equal(out, want);
	assert_round_trips(out);
	free(out);
	sk_trust_free(t);

	unsigned char pub[32];
	pub_of(pub, 0);
	assert_null(sk_trust_new_initial("0000000000000000", "alice", pub));
	assert_null(sk_trust_new_initial(KEYID0, "-alice", pub));
	assert_null(sk_trust_new_initial(KEYID0, NULL, pub));
	t = sk_trust_new_initial(NULL, "alice", pub);
	assert_non_null(t);
	sk_trust_free(t);
}

static void test_add_grant(void **state)
{
	(void)state;
	struct sk_trust *t = initial();
	struct sk_err err;
	unsigned char alice[32], bob[32];
	pub_of(alice, 0);
	pub_of(bob, 1);
	/* existing key gains a scoped grant, sorted in */
	assert_int_equal(sk_trust_add_grant(t, "alice", alice, "release-signer",
					    "refs/releases/payments-api/*", &err), 0);
	assert_int_equal(t->keys[0].ngrants, 3);
	assert_string_equal(t->keys[0].grants[1].role, "release-signer");
	assert_string_equal(t->keys[0].grants[1].scope, "refs/releases/payments-api/*");
	/* the same grant again changes nothing; an unscoped grant covers every ref */
	assert_int_equal(sk_trust_add_grant(t, "alice", alice, "root", NULL, &err), 0);
	assert_int_equal(t->keys[0].ngrants, 3);
	assert_int_equal(sk_trust_add_grant(t, "alice", alice, "approver", NULL, &err), 0);
	assert_int_equal(t->keys[0].ngrants, 4);
	assert_string_equal(t->keys[0].grants[0].role, "approver");
	assert_string_equal(t->keys[0].grants[0].scope, "refs/**");

	/* a new key, sorted by name ("Zed" < "alice" < "bob" bytewise) */
	assert_int_equal(sk_trust_add_grant(t, "bob", bob, "runner", "refs/runners/api/*", &err), 0);
	unsigned char zed[32];
	pub_of(zed, 2);
	assert_int_equal(sk_trust_add_grant(t, "Zed", zed, "approver", NULL, &err), 0);
	assert_int_equal(t->nkeys, 3);
	assert_string_equal(t->keys[0].name, "Zed");
	assert_string_equal(t->keys[1].name, "alice");
	assert_string_equal(t->keys[2].name, "bob");
	const struct sk_trust_key *k = sk_trust_find_key(t, t->keys[2].id);
	assert_non_null(k);
	assert_string_equal(k->name, "bob");
	assert_memory_equal(k->pub, bob, 32);
	assert_string_equal(sk_trust_find_key(t, KEYID0)->name, "alice");
	assert_null(sk_trust_find_key(t, "ffffffffffffffff"));
	assert_null(sk_trust_find_key(t, NULL));

	/* conflicts and bad input change nothing */
	unsigned char other[32];
	pub_of(other, 9);
	assert_int_equal(sk_trust_add_grant(t, "bob", other, "runner", NULL, &err), SK_EEXISTS);
	assert_non_null(strstr(err.message, "different key named \"bob\""));
	assert_int_equal(sk_trust_add_grant(t, "robert", bob, "runner", NULL, &err), SK_EEXISTS);
	assert_int_equal(sk_trust_add_grant(t, "bob", bob, "admin", NULL, &err), SK_EINVAL);
	assert_non_null(strstr(err.message, "unknown role"));
	assert_int_equal(sk_trust_add_grant(t, "bob", bob, NULL, NULL, &err), SK_EINVAL);
	assert_int_equal(sk_trust_add_grant(t, "bob", bob, "runner", "heads/x", &err), SK_EINVAL);
	assert_int_equal(sk_trust_add_grant(t, ".bob", other, "runner", NULL, &err), SK_EINVAL);
	assert_int_equal(t->nkeys, 3);
	assert_int_equal(t->keys[2].ngrants, 1);

	char *out = dump(t);
	assert_round_trips(out);
	free(out);
	sk_trust_free(t);
}

static void test_to_json_sorts(void **state)
{
	(void)state;
	struct sk_trust *t = initial();
	struct sk_err err;
	unsigned char bob[32];
	pub_of(bob, 1);
	assert_int_equal(sk_trust_add_grant(t, "bob", bob, "runner", NULL, &err), 0);
	char *sorted = dump(t);
	/* a caller that reorders the arrays by hand still gets canonical order */
	struct sk_trust_key tmp = t->keys[0];
	t->keys[0] = t->keys[1];
	t->keys[1] = tmp;
	struct sk_trust_grant g = t->keys[1].grants[0];
	t->keys[1].grants[0] = t->keys[1].grants[1];
	t->keys[1].grants[1] = g;
	char *again = dump(t);
	assert_string_equal(sorted, again);
	free(sorted);
	free(again);
	sk_trust_free(t);
}

static void test_patterns(void **state)
{
	(void)state;
	struct sk_err err;
	const char *good[] = { "refs/**", "refs/releases/*/*", "refs/releases/payments-api/*",
			       "refs/services/pay*", "refs/a/**/b", "refs/*", "refs/x_y.z-1" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(sk_trust_pattern_check(good[i], &err), 0);
	const char *bad[] = { "refs/", "refs", "refs//x", "refs/.x", "refs/-x", "refs/a..b",
			      "heads/x", "refs/a b", "refs/a**", "refs/***", "refs/x/",
			      "/refs/x", "refs/\xc3\xa9", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (sk_trust_pattern_check(bad[i], &err) != SK_EINVAL)
			print_error("accepted %s\n", bad[i]);
		assert_int_equal(sk_trust_pattern_check(bad[i], &err), SK_EINVAL);
		assert_non_null(strstr(err.message, "invalid ref pattern"));
	}
	assert_int_equal(sk_trust_pattern_check(NULL, &err), SK_EINVAL);
	char longp[300];
	memset(longp, 'a', sizeof(longp));
	memcpy(longp, "refs/", 5);
	longp[256] = '\0';
	assert_int_equal(sk_trust_pattern_check(longp, &err), SK_EINVAL);
	longp[255] = '\0';
	assert_int_equal(sk_trust_pattern_check(longp, &err), 0);

	const char *roles[] = { "root", "release-signer", "operator", "approver", "runner" };
	for (size_t i = 0; i < 5; i++)
		assert_true(sk_trust_role_valid(roles[i]));
	assert_false(sk_trust_role_valid("Root"));
	assert_false(sk_trust_role_valid(""));
	assert_false(sk_trust_role_valid(NULL));
}

/* Parses the initial policy's JSON after edit() changes it; expects failure. */
static void reject(void (*edit)(json_t *), const char *needle)
{
	struct sk_trust *t = initial();
	json_t *j = sk_trust_to_json(t);
	sk_trust_free(t);
	edit(j);
	struct sk_err err;
	sk_err_clear(&err);
	struct sk_trust *out = NULL;
	int rc = sk_trust_from_json(&out, j, &err);
	if (rc != SK_EINVAL || !strstr(err.message, needle))
		print_error("rc %d \"%s\", want \"%s\"\n", rc, err.message, needle);
	assert_int_equal(rc, SK_EINVAL);
	assert_null(out);
	assert_non_null(strstr(err.message, needle));
	json_decref(j);
}

static json_t *key0(json_t *j)
{
	return json_array_get(json_object_get(j, "keys"), 0);
}

static json_t *second_key(int seed, const char *name)
{
	unsigned char pub[32];
	pub_of(pub, seed);
	struct sk_trust *t = sk_trust_new_initial(NULL, name, pub);
	json_t *j = sk_trust_to_json(t);
	sk_trust_free(t);
	json_t *k = json_incref(key0(j));
	json_decref(j);
	return k;
}

static void e_unknown_top(json_t *j) { json_object_set_new(j, "extra", json_true()); }
static void e_version(json_t *j) { json_object_set_new(j, "v", json_integer(2)); }
static void e_no_keys(json_t *j) { json_object_del(j, "keys"); }
static void e_no_approvals(json_t *j) { json_object_del(j, "approvals"); }
static void e_threshold0(json_t *j)
{
	json_object_set_new(json_object_get(j, "approvals"), "threshold", json_integer(0));
}
static void e_threshold_str(json_t *j)
{
	json_object_set_new(json_object_get(j, "approvals"), "threshold", json_string("1"));
}
static void e_approvals_extra(json_t *j)
{
	json_object_set_new(json_object_get(j, "approvals"), "x", json_integer(0));
}
static void e_keys_unsorted(json_t *j)
{
	json_array_append_new(json_object_get(j, "keys"), second_key(5, "Aaron"));
}
static void e_keys_dup_name(json_t *j)
{
	json_array_append_new(json_object_get(j, "keys"), second_key(5, "alice"));
}
static void e_keys_dup_pub(json_t *j)
{
	json_t *k = second_key(0, "bob");
	json_array_append_new(json_object_get(j, "keys"), k);
}
static void e_key_extra(json_t *j) { json_object_set_new(key0(j), "x", json_null()); }
static void e_key_id(json_t *j)
{
	json_object_set_new(key0(j), "id", json_string("0000000000000000"));
}
static void e_key_public(json_t *j)
{
	json_object_set_new(key0(j), "public", json_string("00AB"));
}
static void e_key_name(json_t *j) { json_object_set_new(key0(j), "name", json_string("a b")); }
static void e_grants_type(json_t *j) { json_object_set_new(key0(j), "grants", json_object()); }
static void e_grant_role(json_t *j)
{
	json_t *g = json_array_get(json_object_get(key0(j), "grants"), 0);
	json_object_set_new(g, "role", json_string("admin"));
}
static void e_grant_scope(json_t *j)
{
	json_t *g = json_array_get(json_object_get(key0(j), "grants"), 0);
	json_object_set_new(g, "scope", json_string("refs/../x"));
}
static void e_grant_extra(json_t *j)
{
	json_t *g = json_array_get(json_object_get(key0(j), "grants"), 0);
	json_object_set_new(g, "until", json_integer(5));
}
static void e_grants_unsorted(json_t *j)
{
	json_t *gs = json_object_get(key0(j), "grants");
	json_t *first = json_incref(json_array_get(gs, 0));
	json_array_remove(gs, 0);
	json_array_append_new(gs, first);
}
static void e_grants_dup(json_t *j)
{
	json_t *gs = json_object_get(key0(j), "grants");
	json_array_append(gs, json_array_get(gs, 1));
}
static json_t *rule0(json_t *j)
{
	return json_array_get(json_object_get(j, "rules"), 0);
}
static void e_rule_pattern(json_t *j) { json_object_set_new(rule0(j), "pattern", json_string("refs/")); }
static void e_rule_roles_empty(json_t *j) { json_object_set_new(rule0(j), "roles", json_array()); }
static void e_rule_role(json_t *j)
{
	json_array_append_new(json_object_get(rule0(j), "roles"), json_string("god"));
}
static void e_rule_role_dup(json_t *j)
{
	json_array_append_new(json_object_get(rule0(j), "roles"), json_string("root"));
}
static void e_rule_role_int(json_t *j)
{
	json_array_append_new(json_object_get(rule0(j), "roles"), json_integer(1));
}
static void e_rule_dup_pattern(json_t *j)
{
	json_array_append(json_object_get(j, "rules"), rule0(j));
}
static void e_rule_extra(json_t *j) { json_object_set_new(rule0(j), "x", json_null()); }
static void e_rules_type(json_t *j) { json_object_set_new(j, "rules", json_string("all")); }

static void test_rejects(void **state)
{
	(void)state;
	reject(e_unknown_top, "unknown key \"extra\"");
	reject(e_version, "\"v\" must be 1");
	reject(e_no_keys, "\"keys\" must be an array");
	reject(e_no_approvals, "approvals");
	reject(e_threshold0, "threshold must be 1..");
	reject(e_threshold_str, "\"threshold\" must be an integer");
	reject(e_approvals_extra, "unknown key \"x\"");
	reject(e_keys_unsorted, "sorted by name");
	reject(e_keys_dup_name, "sorted by name, without duplicates");
	reject(e_keys_dup_pub, "same public key");
	reject(e_key_extra, "unknown key \"x\"");
	reject(e_key_id, "does not match its public key");
	reject(e_key_public, "\"public\" must be 64 lowercase hex");
	reject(e_key_name, "invalid key name");
	reject(e_grants_type, "\"grants\" must be an array");
	reject(e_grant_role, "unknown role \"admin\"");
	reject(e_grant_scope, "invalid scope");
	reject(e_grant_extra, "unknown key \"until\"");
	reject(e_grants_unsorted, "grants must be sorted");
	reject(e_grants_dup, "grants must be sorted");
	reject(e_rule_pattern, "invalid pattern");
	reject(e_rule_roles_empty, "non-empty array");
	reject(e_rule_role, "unknown role \"god\"");
	reject(e_rule_role_dup, "listed twice");
	reject(e_rule_role_int, "not a string");
	reject(e_rule_dup_pattern, "two rules for pattern refs/meta/**");
	reject(e_rule_extra, "unknown key \"x\"");
	reject(e_rules_type, "\"rules\" must be an array");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initial_policy),
		cmocka_unit_test(test_add_grant),
		cmocka_unit_test(test_to_json_sorts),
		cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
