/*
 * Release documents: build -> canonical dump -> sk_cjson_parse ->
 * from_json round trip; versions, artifact names, hex fields, unknown
 * keys and spec parts are each rejected when wrong.
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
#include "objects/release.h"
#include "objects/spec.h"
#include "tests/unit/helpers.h"

static const char spec_yaml[] =
	"service: payments-api\n"
	"run: {command: /bin/pay, port: 8080, env: {A: b}}\n"
	"health: {path: /healthz}\n"
	"canary:\n"
	"  steps: [{weight: 10, bake: 5m}, {weight: 100, bake: 1h}]\n"
	"secrets: {DB: \"aws-sm:prod/db\"}\n";

#define COMMIT "0123456789abcdef0123456789abcdef01234567"

static json_t *spec(void)
{
	json_t *s = NULL;
	struct sk_err err;
	th_must(sk_spec_compile("spec.yaml", spec_yaml, strlen(spec_yaml), &s, &err), &err);
	return s;
}

static void artifacts(struct sk_release_artifact a[2])
{
	memset(a, 0, 2 * sizeof(*a));
	strcpy(a[0].name, "server");
	a[0].size = 123456789;
	sk_sha256("server", 6, a[0].sha256);
	sk_oid_hash(&a[0].file, SK_OBJ_FILE, "x", 1);
	strcpy(a[1].name, "migrations.tar");
	a[1].size = 0;
	sk_sha256("", 0, a[1].sha256);
	sk_oid_hash(&a[1].file, SK_OBJ_FILE, "y", 1);
}

static json_t *build(const char *version)
{
	struct sk_release_artifact a[2];
	artifacts(a);
	struct sk_release_source src = { COMMIT, "ci.example.com/job/7" };
	json_t *s = spec(), *doc = NULL;
	struct sk_err err;
	th_must(sk_release_build(&doc, "payments-api", version, s, a, 2, &src, &err), &err);
	json_decref(s);
	return doc;
}

static void test_round_trip(void **state)
{
	json_t *doc = build("1.4.2");
	char *bytes = NULL;
	size_t len = 0;
	struct sk_err err;
	th_must(sk_cjson_dump(doc, &bytes, &len, &err), &err);
	json_t *back = NULL;
	th_must(sk_cjson_parse(bytes, len, &back, &err), &err);
	struct sk_release *r = NULL;
	th_must(sk_release_from_json(&r, back, &err), &err);
	assert_string_equal(r->service, "payments-api");
	assert_string_equal(r->version, "1.4.2");
	assert_int_equal(r->nartifacts, 2);
	struct sk_release_artifact a[2];
	artifacts(a);
	for (int i = 0; i < 2; i++) {
		assert_string_equal(r->artifacts[i].name, a[i].name);
		assert_int_equal(r->artifacts[i].size, a[i].size);
		assert_memory_equal(r->artifacts[i].sha256, a[i].sha256, 32);
		assert_memory_equal(r->artifacts[i].file.id, a[i].file.id, 32);
	}
	assert_ptr_equal(sk_release_artifact(r, "migrations.tar"), &r->artifacts[1]);
	assert_null(sk_release_artifact(r, "nope"));
	assert_true(json_equal(r->doc, doc));
	sk_release_free(r);
	/* parse is the same path from bytes */
	th_must(sk_release_parse(&r, bytes, len, &err), &err);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(r->doc, "source"), "commit")), COMMIT);
	sk_release_free(r);
	/* the id is stable: same inputs, same bytes */
	json_t *again = build("1.4.2");
	char *b2 = NULL;
	size_t l2 = 0;
	th_must(sk_cjson_dump(again, &b2, &l2, &err), &err);
	assert_int_equal(len, l2);
	assert_memory_equal(bytes, b2, len);
	free(b2);
	json_decref(again);
	free(bytes);
	json_decref(back);
	json_decref(doc);
}

static void test_bad_versions(void **state)
{
	char long_v[66];
	memset(long_v, 'a', 65);
	long_v[65] = '\0';
	const char *bad[] = { "1/2", "a b", "..", ".x", "-x", "", "1..2", "v1\n", long_v, NULL };
	json_t *s = spec();
	for (size_t i = 0; bad[i]; i++) {
		json_t *doc = NULL;
		struct sk_err err;
		assert_int_equal(sk_release_build(&doc, "payments-api", bad[i], s, NULL, 0, NULL,
						  &err), SK_EINVAL);
		assert_null(doc);
		assert_non_null(strstr(err.message, "version"));
	}
	char ok_v[65];
	memset(ok_v, '7', 64);
	ok_v[64] = '\0';
	json_t *doc = NULL;
	struct sk_err err;
	th_must(sk_release_build(&doc, "payments-api", ok_v, s, NULL, 0, NULL, &err), &err);
	/* no source given: both fields null */
	assert_true(json_is_null(json_object_get(json_object_get(doc, "source"), "commit")));
	json_decref(doc);
	/* the spec must be for the service named */
	assert_int_equal(sk_release_build(&doc, "billing", "1", s, NULL, 0, NULL, &err),
			 SK_EINVAL);
	assert_non_null(strstr(err.message, "payments-api"));
	json_decref(s);
}

static void test_bad_artifacts(void **state)
{
	struct sk_release_artifact a[2];
	json_t *s = spec(), *doc = NULL;
	struct sk_err err;
	artifacts(a);
	strcpy(a[1].name, "server");
	assert_int_equal(sk_release_build(&doc, "payments-api", "1", s, a, 2, NULL, &err),
			 SK_EINVAL);
	assert_non_null(strstr(err.message, "duplicate name"));
	artifacts(a);
	strcpy(a[1].name, "../x");
	assert_int_equal(sk_release_build(&doc, "payments-api", "1", s, a, 2, NULL, &err),
			 SK_EINVAL);
	artifacts(a);
	a[0].size = (uint64_t)INT64_MAX + 1;
	assert_int_equal(sk_release_build(&doc, "payments-api", "1", s, a, 2, NULL, &err),
			 SK_EINVAL);
	struct sk_release_source src = { "abc", NULL };
	artifacts(a);
	assert_int_equal(sk_release_build(&doc, "payments-api", "1", s, a, 2, &src, &err),
			 SK_EINVAL);
	assert_non_null(strstr(err.message, "source.commit"));
	src.commit = NULL;
	src.builder = "line\nbreak";
	assert_int_equal(sk_release_build(&doc, "payments-api", "1", s, a, 2, &src, &err),
			 SK_EINVAL);
	assert_null(doc);
	json_decref(s);
}

/* Applies one change to a good document and expects from_json to refuse. */
static void expect_reject(void (*mutate)(json_t *), const char *want)
{
	json_t *doc = build("2.0.0");
	mutate(doc);
	struct sk_release *r = NULL;
	struct sk_err err;
	sk_err_clear(&err);
	int rc = sk_release_from_json(&r, doc, &err);
	if (rc != SK_EINVAL || !strstr(err.message, want))
		fail_msg("rc %d message \"%s\", wanted \"%s\"", rc, err.message, want);
	assert_null(r);
	json_decref(doc);
}

static json_t *art0(json_t *d)
{
	return json_array_get(json_object_get(d, "artifacts"), 0);
}

static void m_unknown(json_t *d) { json_object_set_new(d, "extra", json_true()); }
static void m_art_unknown(json_t *d) { json_object_set_new(art0(d), "mode", json_integer(1)); }
static void m_v2(json_t *d) { json_object_set_new(d, "v", json_integer(2)); }
static void m_version(json_t *d) { json_object_set_new(d, "version", json_string("a/b")); }
static void m_version_type(json_t *d) { json_object_set_new(d, "version", json_integer(2)); }
static void m_sha_upper(json_t *d)
{
	char hex[65];
	snprintf(hex, sizeof(hex), "%s", json_string_value(json_object_get(art0(d), "sha256")));
	hex[0] = 'A';
	json_object_set_new(art0(d), "sha256", json_string(hex));
}
static void m_file_short(json_t *d) { json_object_set_new(art0(d), "file", json_string("abcd")); }
static void m_size_neg(json_t *d) { json_object_set_new(art0(d), "size", json_integer(-1)); }
static void m_no_source(json_t *d) { json_object_del(d, "source"); }
static void m_source_extra(json_t *d)
{
	json_object_set_new(json_object_get(d, "source"), "by", json_null());
}
static void m_dup_name(json_t *d)
{
	json_object_set_new(json_array_get(json_object_get(d, "artifacts"), 1), "name",
			    json_string("server"));
}
static void m_weight(json_t *d)
{
	json_t *steps = json_object_get(json_object_get(d, "canary"), "steps");
	json_object_set_new(json_array_get(steps, 1), "weight", json_integer(5));
}
static void m_secret_value(json_t *d)
{
	json_object_set_new(json_object_get(d, "secrets"), "DB", json_string("hunter2"));
}
static void m_no_health(json_t *d) { json_object_del(d, "health"); }
static void m_service(json_t *d) { json_object_set_new(d, "service", json_string("a b")); }

static void test_from_json_rejects(void **state)
{
	expect_reject(m_unknown, "unknown key \"extra\"");
	expect_reject(m_art_unknown, "artifacts[0]");
	expect_reject(m_v2, "\"v\" must be 1");
	expect_reject(m_version, "version \"a/b\"");
	expect_reject(m_version_type, "version");
	expect_reject(m_sha_upper, "\"sha256\" must be 64 lowercase hex digits");
	expect_reject(m_file_short, "\"file\" must be 64 lowercase hex digits");
	expect_reject(m_size_neg, "size");
	expect_reject(m_no_source, "source");
	expect_reject(m_source_extra, "source");
	expect_reject(m_dup_name, "duplicate name \"server\"");
	expect_reject(m_weight, "canary.steps[1].weight: must be greater than 10");
	expect_reject(m_secret_value, "secrets.DB: invalid secret reference");
	expect_reject(m_no_health, "missing required key \"health\"");
	expect_reject(m_service, "service");
	struct sk_release *r = NULL;
	struct sk_err err;
	json_t *arr = json_array();
	assert_int_equal(sk_release_from_json(&r, arr, &err), SK_EINVAL);
	json_decref(arr);
	assert_int_equal(sk_release_parse(&r, "{\"v\":1}", 7, &err), SK_EINVAL);
	assert_int_equal(sk_release_parse(&r, "{ \"v\":1}", 8, &err), SK_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_bad_versions),
		cmocka_unit_test(test_bad_artifacts),
		cmocka_unit_test(test_from_json_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
