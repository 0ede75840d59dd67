/*
 * Service state: control and commit documents (exact bytes, round trips,
 * every rejection rule) and refs/service.c (load of an absent service,
 * commits chaining by parent, CAS from a stale base refused, a plan that
 * writes nothing, a tampered control found on load).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "objects/cjson.h"
#include "objects/state.h"
#include "refs/keys.h"
#include "refs/service.h"
#include "tests/unit/helpers.h"

#define OID_A "8aec4e4876f854f688d0ebfc8f37598f38e5fd6903cccc850ca36591175aeb60"
#define OID_B "1111111111111111111111111111111111111111111111111111111111111111"
#define ACTOR "630dcd2966c43366"

static char *dump(const json_t *doc)
{
	char *out = NULL;
	size_t len = 0;
	struct sk_err err;
	th_must(sk_cjson_dump(doc, &out, &len, &err), &err);
	return out;
}

static void test_control_new_and_set(void **state)
{
	(void)state;
	struct sk_err err;
	json_t *c = sk_control_new("payments-api");
	char *s = dump(c);
	assert_string_equal(s, "{\"service\":\"payments-api\",\"settings\":{},\"targets\":{},\"v\":1}");
	free(s);
	th_must(sk_control_check(c, &err), &err);
	th_must(sk_control_set(c, "LOG_LEVEL", "debug", &err), &err);
	th_must(sk_control_set(c, "pool.size", "", &err), &err);
	th_must(sk_control_check(c, &err), &err);
	assert_int_equal(sk_control_set(c, "bad key", "x", &err), SK_EINVAL);
	assert_int_equal(sk_control_set(c, "../x", "x", &err), SK_EINVAL);
	assert_int_equal(sk_control_set(c, "k", "\xff", &err), SK_EINVAL);
	char big[SK_SETTING_VALUE_MAX + 2];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(sk_control_set(c, "k", big, &err), SK_EINVAL);
	th_must(sk_control_set(c, "LOG_LEVEL", NULL, &err), &err);
	assert_int_equal(sk_control_set(c, "LOG_LEVEL", NULL, &err), SK_ENOTFOUND);
	s = dump(c);
	assert_string_equal(s, "{\"service\":\"payments-api\",\"settings\":{\"pool.size\":\"\"},"
			       "\"targets\":{},\"v\":1}");
	free(s);
	json_decref(c);
}

static void control_rejects(const char *text, const char *needle)
{
	struct sk_err err;
	memset(&err, 0, sizeof(err));
	json_t *doc = json_loads(text, 0, NULL);
	assert_non_null(doc);
	int rc = sk_control_check(doc, &err);
	json_decref(doc);
	if (rc != SK_EINVAL || !strstr(err.message, needle))
		fail_msg("%s: rc %d, message '%s' (wanted '%s')", text, rc, err.message, needle);
}

static void test_control_rejects(void **state)
{
	(void)state;
	control_rejects("{\"service\":\"s\",\"settings\":{},\"targets\":{},\"v\":2}", "\"v\"");
	control_rejects("{\"service\":\"s/x\",\"settings\":{},\"targets\":{},\"v\":1}", "service");
	control_rejects("{\"settings\":{},\"targets\":{},\"v\":1}", "service");
	control_rejects("{\"service\":\"s\",\"settings\":[],\"targets\":{},\"v\":1}", "settings");
	control_rejects("{\"service\":\"s\",\"settings\":{\"a\":1},\"targets\":{},\"v\":1}", "\"a\"");
	control_rejects("{\"service\":\"s\",\"settings\":{\"a b\":\"1\"},\"targets\":{},\"v\":1}",
			"setting key");
	control_rejects("{\"service\":\"s\",\"settings\":{},\"targets\":{\"t1\":{\"x\":1}},\"v\":1}",
			"t1");
	control_rejects("{\"service\":\"s\",\"settings\":{},\"targets\":{\"t1\":{\"release\":\"..\"}},"
			"\"v\":1}",
			"t1");
	control_rejects("{\"service\":\"s\",\"settings\":{},\"targets\":{\".t\":{\"release\":null}},"
			"\"v\":1}",
			"target");
	control_rejects("{\"extra\":1,\"service\":\"s\",\"settings\":{},\"targets\":{},\"v\":1}",
			"extra");
	struct sk_err err;
	json_t *ok = json_loads("{\"service\":\"s\",\"settings\":{},\"targets\":{\"t1\":{\"release\":"
				"\"1.2.3\"},\"t2\":{\"release\":null}},\"v\":1}",
				0, NULL);
	th_must(sk_control_check(ok, &err), &err);
	json_decref(ok);
}

#define TGT(x) "{\"service\":\"s\",\"settings\":{},\"targets\":{\"t1\":" x "},\"v\":1}"

/* The stable release, a target's address and weight: what deploys and
 * the traffic provider read. An address lands in a load balancer's
 * configuration, so only HOST:PORT gets through. */
static void test_control_traffic_fields(void **state)
{
	(void)state;
	const char *good[] = {
		TGT("{\"addr\":\"127.0.0.1:9001\",\"release\":\"v1\",\"weight\":256}"),
		TGT("{\"addr\":\"db-1.internal:80\",\"release\":null,\"weight\":0}"),
		TGT("{\"addr\":\"[::1]:9001\",\"release\":null}"),
		"{\"release\":\"v1\",\"service\":\"s\",\"settings\":{},\"targets\":{},\"v\":1}",
		"{\"release\":null,\"service\":\"s\",\"settings\":{},\"targets\":{},\"v\":1}",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct sk_err err;
		json_t *doc = json_loads(good[i], 0, NULL);
		assert_non_null(doc);
		th_must(sk_control_check(doc, &err), &err);
		json_decref(doc);
	}
	control_rejects(TGT("{\"release\":null,\"weight\":257}"), "weight");
	control_rejects(TGT("{\"release\":null,\"weight\":-1}"), "weight");
	control_rejects(TGT("{\"release\":null,\"weight\":\"5\"}"), "weight");
	control_rejects(TGT("{\"addr\":\"127.0.0.1\",\"release\":null}"), "HOST:PORT");
	control_rejects(TGT("{\"addr\":\"127.0.0.1:0\",\"release\":null}"), "HOST:PORT");
	control_rejects(TGT("{\"addr\":\"127.0.0.1:65536\",\"release\":null}"), "HOST:PORT");
	control_rejects(TGT("{\"addr\":\"a b:80\",\"release\":null}"), "HOST:PORT");
	control_rejects(TGT("{\"addr\":\"x\\nbind :81:80\",\"release\":null}"), "HOST:PORT");
	control_rejects(TGT("{\"addr\":\":80\",\"release\":null}"), "HOST:PORT");
	control_rejects(TGT("{\"addr\":7,\"release\":null}"), "addr");
	control_rejects("{\"release\":\"../x\",\"service\":\"s\",\"settings\":{},\"targets\":{},"
			"\"v\":1}",
			"release");
}

#define PIN "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\""
#define TOP(x) "{" x "\"service\":\"s\",\"settings\":{},\"targets\":{},\"v\":1}"

/* What the runbooks keep in control: a drained target, target groups and
 * the active one (failover), the data version a restore put back, and
 * the pinned version of each secret (rotation). */
static void test_control_runbook_fields(void **state)
{
	(void)state;
	const char *good[] = {
		TGT("{\"drain\":true,\"release\":null}"),
		TGT("{\"data\":\"20261205T034500Z-0a1b2c3d\",\"group\":\"east\",\"release\":null}"),
		TGT("{\"release\":null,\"secrets\":{\"DB_PASSWORD\":" PIN "}}"),
		TOP("\"active_group\":\"east\",\"secrets\":{\"API_KEY\":" PIN "},"),
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct sk_err err;
		json_t *doc = json_loads(good[i], 0, NULL);
		assert_non_null(doc);
		th_must(sk_control_check(doc, &err), &err);
		json_decref(doc);
	}
	control_rejects(TGT("{\"drain\":false,\"release\":null}"), "drain");
	control_rejects(TGT("{\"drain\":1,\"release\":null}"), "drain");
	control_rejects(TGT("{\"group\":\"a/b\",\"release\":null}"), "group");
	control_rejects(TGT("{\"data\":\"..\",\"release\":null}"), "data");
	control_rejects(TGT("{\"release\":null,\"secrets\":{\"1X\":" PIN "}}"), "secret name");
	control_rejects(TGT("{\"release\":null,\"secrets\":{\"X\":\"abc\"}}"), "secret \"X\"");
	control_rejects(TGT("{\"release\":null,\"secrets\":[]}"), "secrets");
	control_rejects(TOP("\"active_group\":\"\","), "group");
	control_rejects(TOP("\"secrets\":{\"A\":7},"), "secret \"A\"");
}

static void sample(struct sk_commit *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->service, "payments-api");
	sk_oid_fromhex(&c->control, OID_A, NULL);
	strcpy(c->actor, ACTOR);
	c->time = 1700000000;
	strcpy(c->message, "raise the pool");
}

static void test_commit_roundtrip(void **state)
{
	(void)state;
	struct sk_commit c, back;
	struct sk_err err;
	sample(&c);
	json_t *doc = sk_commit_to_json(&c);
	char *s = dump(doc);
	assert_string_equal(s, "{\"actor\":\"" ACTOR "\",\"control\":\"" OID_A
			       "\",\"message\":\"raise the pool\",\"op\":null,\"parent\":null,"
			       "\"service\":\"payments-api\",\"time\":1700000000,\"v\":1}");
	free(s);
	th_must(sk_commit_from_json(&back, doc, &err), &err);
	json_decref(doc);
	assert_memory_equal(&back, &c, sizeof(c));
	c.has_parent = 1;
	sk_oid_fromhex(&c.parent, OID_B, NULL);
	strcpy(c.op, "op-20261204-abc");
	doc = sk_commit_to_json(&c);
	th_must(sk_commit_from_json(&back, doc, &err), &err);
	json_decref(doc);
	assert_memory_equal(&back, &c, sizeof(c));
}

static void commit_rejects(const char *text, const char *needle)
{
	struct sk_commit c;
	struct sk_err err;
	memset(&err, 0, sizeof(err));
	json_t *doc = json_loads(text, 0, NULL);
	assert_non_null(doc);
	int rc = sk_commit_from_json(&c, doc, &err);
	json_decref(doc);
	if (rc != SK_EINVAL || !strstr(err.message, needle))
		fail_msg("%s: rc %d, message '%s' (wanted '%s')", text, rc, err.message, needle);
}

#define CDOC(actor, control, msg, op, parent, svc, time, v)                                 \
	"{\"actor\":" actor ",\"control\":" control ",\"message\":" msg ",\"op\":" op          \
	",\"parent\":" parent ",\"service\":" svc ",\"time\":" time ",\"v\":" v "}"
#define A "\"" ACTOR "\""
#define C "\"" OID_A "\""

static void test_commit_rejects(void **state)
{
	(void)state;
	commit_rejects(CDOC(A, C, "\"m\"", "null", "null", "\"s\"", "1", "2"), "\"v\"");
	commit_rejects(CDOC(A, C, "\"m\"", "null", "null", "\"s\"", "-1", "1"), "\"time\"");
	commit_rejects(CDOC("\"ABCD\"", C, "\"m\"", "null", "null", "\"s\"", "1", "1"), "\"actor\"");
	commit_rejects(CDOC(A, "null", "\"m\"", "null", "null", "\"s\"", "1", "1"), "\"control\"");
	commit_rejects(CDOC(A, C, "\"m\"", "null", "\"abc\"", "\"s\"", "1", "1"), "\"parent\"");
	commit_rejects(CDOC(A, C, "\"m\"", "\"../op\"", "null", "\"s\"", "1", "1"), "op");
	commit_rejects(CDOC(A, C, "\"m\"", "null", "null", "\"a/b\"", "1", "1"), "service");
	commit_rejects(CDOC(A, C, "1", "null", "null", "\"s\"", "1", "1"), "\"message\"");
	commit_rejects("{\"actor\":" A ",\"v\":1}", "commit");
}

/* --- refs/service.c on a real repository ----------------------------- */

static int setup(void **state)
{
	struct th_repo *t = calloc(1, sizeof(*t));
	if (!t || th_setup_repo(t, "state", "alice") != 0)
		return -1;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	th_teardown_repo(*state);
	free(*state);
	return 0;
}

static void commit_setting(struct th_repo *t, const char *key, const char *value,
			   struct sk_oid *out)
{
	struct sk_service_state st;
	struct sk_err err;
	th_must(sk_service_load(t->repo, "api", &st, &err), &err);
	th_must(sk_control_set(st.control, key, value, &err), &err);
	th_must(sk_service_commit(t->repo, t->key, &st, st.control, "msg", NULL, 0, out, &err),
		&err);
	sk_service_state_clear(&st);
}

static void test_service_history(void **state)
{
	struct th_repo *t = *state;
	struct sk_service_state st;
	struct sk_err err;
	th_must(sk_service_load(t->repo, "api", &st, &err), &err);
	assert_int_equal(st.has_head, 0);
	sk_service_state_clear(&st);
	struct sk_oid c1, c2;
	commit_setting(t, "A", "1", &c1);
	commit_setting(t, "B", "2", &c2);
	th_must(sk_service_load(t->repo, "api", &st, &err), &err);
	assert_int_equal(st.has_head, 1);
	assert_memory_equal(&st.head, &c2, sizeof(c2));
	assert_int_equal(st.commit.has_parent, 1);
	assert_memory_equal(&st.commit.parent, &c1, sizeof(c1));
	assert_string_equal(st.commit.actor, sk_key_id(t->key));
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(st.control, "settings"), "A")),
			    "1");
	sk_service_state_clear(&st);
}

static void test_service_stale_base_conflicts(void **state)
{
	struct th_repo *t = *state;
	struct sk_service_state a, b;
	struct sk_err err;
	struct sk_oid out;
	th_must(sk_service_load(t->repo, "api", &a, &err), &err);
	th_must(sk_service_load(t->repo, "api", &b, &err), &err);
	th_must(sk_control_set(a.control, "X", "a", &err), &err);
	th_must(sk_control_set(b.control, "X", "b", &err), &err);
	th_must(sk_service_commit(t->repo, t->key, &a, a.control, "", NULL, 0, &out, &err), &err);
	assert_int_equal(sk_service_commit(t->repo, t->key, &b, b.control, "", NULL, 0, &out, &err),
			 SK_ECONFLICT);
	sk_service_state_clear(&a);
	sk_service_state_clear(&b);
	th_must(sk_service_load(t->repo, "api", &a, &err), &err);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(a.control, "settings"), "X")),
			    "a");
	sk_service_state_clear(&a);
}

static void test_service_plan_writes_nothing(void **state)
{
	struct th_repo *t = *state;
	struct sk_service_state st;
	struct sk_err err;
	struct sk_oid planned;
	th_must(sk_service_load(t->repo, "api", &st, &err), &err);
	th_must(sk_control_set(st.control, "P", "1", &err), &err);
	th_must(sk_service_commit(t->repo, t->key, &st, st.control, "", NULL, 1, &planned, &err),
		&err);
	assert_int_equal(sk_odb_exists(sk_repo_odb(t->repo), &planned), 0);
	sk_service_state_clear(&st);
	th_must(sk_service_load(t->repo, "api", &st, &err), &err);
	assert_int_equal(st.has_head, 0);
	/* A pending target is refused by a real update. */
	struct sk_ref_update up = { .ref = "refs/services/api", .new_oid = planned,
				    .expect = SK_EXPECT_ABSENT, .pending = 1 };
	assert_int_equal(sk_refs_update(t->repo, t->key, &up, 1, NULL, &err), SK_EINVAL);
	sk_service_state_clear(&st);
}

static void test_service_tampered_control(void **state)
{
	struct th_repo *t = *state;
	struct sk_service_state st;
	struct sk_err err;
	struct sk_oid c1;
	commit_setting(t, "A", "1", &c1);
	th_must(sk_service_load(t->repo, "api", &st, &err), &err);
	char *path = sk_odb_path(sk_repo_odb(t->repo), &st.commit.control);
	sk_service_state_clear(&st);
	/* Replace the control object's bytes with another valid object's. */
	struct sk_oid other = th_blob(t->repo, "not a control");
	char *opath = sk_odb_path(sk_repo_odb(t->repo), &other);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(rename(opath, path), 0);
	int rc = sk_service_load(t->repo, "api", &st, &err);
	assert_true(rc == SK_ECORRUPT || rc == SK_EINVAL);
	free(path);
	free(opath);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_new_and_set),
		cmocka_unit_test(test_control_rejects),
		cmocka_unit_test(test_control_traffic_fields),
		cmocka_unit_test(test_control_runbook_fields),
		cmocka_unit_test(test_commit_roundtrip),
		cmocka_unit_test(test_commit_rejects),
		cmocka_unit_test_setup_teardown(test_service_history, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_stale_base_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_plan_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_tampered_control, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
