/*
 * The audit journal: TIME arguments, the strict line reader, entries
 * written by real ref updates (with the context that names command, risk
 * and remote), the --since/--until seek and -n, and the check of an entry
 * against its refrecord object.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fs.h"
#include "objects/cjson.h"
#include "refs/audit.h"
#include "refs/keys.h"
#include "refs/refs.h"
#include "tests/unit/helpers.h"

#define NOW 1796382000 /* 2026-12-04T11:00:00Z */

static int setup(void **state)
{
	struct th_repo *fx = calloc(1, sizeof(*fx));
	*state = fx;
	return th_setup_repo(fx, "audit", "alice");
}

static int teardown(void **state)
{
	th_teardown_repo(*state);
	free(*state);
	return 0;
}

/* --- TIME ------------------------------------------------------------ */

static int64_t t_ok(const char *s)
{
	int64_t v = -1;
	struct sk_err err;
	th_must(sk_audit_parse_time(s, NOW, &v, &err), &err);
	return v;
}

static void test_time_forms(void **state)
{
	(void)state;
	assert_int_equal(t_ok("2026-12-04T21:00:00Z"), 1796342400 + 21 * 3600);
}

static void test_time_units(void **state)
{
	(void)state;
	assert_int_equal(t_ok("1796382000"), 1796382000);
	assert_int_equal(t_ok("0"), 0);
	assert_int_equal(t_ok("30s"), NOW - 30);
	assert_int_equal(t_ok("10m"), NOW - 600);
	assert_int_equal(t_ok("2h"), NOW - 7200);
	assert_int_equal(t_ok("7d"), NOW - 7 * 86400);
	assert_int_equal(t_ok("2w"), NOW - 14 * 86400);
	assert_int_equal(t_ok("2026-12-04"), 1796342400);
	assert_int_equal(t_ok("2026-12-04T00:00:00Z"), 1796342400);
	assert_int_equal(t_ok("2026-12-04t00:00:01z"), 1796342401);
	assert_int_equal(t_ok("2024-02-29T12:00:00Z"), 1709208000);
	assert_int_equal(t_ok("1970-01-01T00:00:00Z"), 0);
}

static void test_time_rejects(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "-5", "10x", "s", "10 m", "2026-12-04T21:00:00", "2026-12-04T21:00:00+01:00",
		"2026-13-01", "2026-02-29", "2026-12-04T24:00:00Z", "2026-12-04T21:60:00Z",
		"2026-12-04 21:00:00Z", "26-12-04", "1969-12-31", "yesterday", "1e9",
		"99999999999999999999",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t v;
		struct sk_err err;
		if (sk_audit_parse_time(bad[i], NOW, &v, &err) != SK_EUSAGE)
			fail_msg("accepted '%s'", bad[i]);
		assert_non_null(strstr(err.hint, "RFC 3339"));
	}
}

/* --- lines ------------------------------------------------------------ */

#define HEX64(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
		 c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c

static json_t *sample(long long t, long long seq)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:n, s:s, s:s, s:n, s:s, s:I, s:n,"
			 " s:n, s:I, s:n, s:i}",
			 "action", "update", "command", "update-ref", "host", "h1", "key",
			 "0123456789abcdef", "name", "alice", "new", HEX64("a"), "old", "op",
			 "record", HEX64("b"), "ref", "refs/services/api", "remote", "risk", "low",
			 "seq", (json_int_t)seq, "service", "target", "time", (json_int_t)t, "trace",
			 "v", 1);
}

static char *line_of(json_t *e)
{
	char *s = NULL;
	size_t n = 0;
	struct sk_err err;
	th_must(sk_cjson_dump(e, &s, &n, &err), &err);
	json_decref(e);
	return s;
}

static int parse(const char *s)
{
	json_t *e = NULL;
	struct sk_err err;
	int rc = sk_audit_parse_line(s, strlen(s), &e, &err);
	if (rc == 0)
		json_decref(e);
	else
		assert_true(err.message[0] != '\0');
	return rc;
}

static void test_line_ok(void **state)
{
	(void)state;
	char *s = line_of(sample(NOW, 3));
	assert_int_equal(parse(s), 0);
	free(s);
}

/* Each mutation of a good entry must be rejected. */
static void test_line_rejects(void **state)
{
	(void)state;
	struct {
		const char *key;
		json_t *value; /* NULL: remove the key */
	} cases[] = {
		{ "seq", json_integer(0) },       { "seq", json_string("1") },
		{ "time", json_integer(-1) },     { "new", json_string("abc") },
		{ "record", json_null() },        { "key", json_string("0123") },
		{ "ref", json_string("refs/a/../b") }, { "risk", json_string("extreme") },
		{ "action", json_string("delete") }, { "v", json_integer(2) },
		{ "op", json_string("has space") }, { "host", json_integer(1) },
		{ "extra", json_string("x") },    { "trace", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *e = sample(NOW, 1);
		if (cases[i].value)
			json_object_set_new(e, cases[i].key, cases[i].value);
		else
			json_object_del(e, cases[i].key);
		char *s = line_of(e);
		if (parse(s) != SK_ECORRUPT)
			fail_msg("accepted a line with a bad %s", cases[i].key);
		free(s);
	}
	assert_int_equal(parse("{\"v\": 1}"), SK_ECORRUPT); /* not canonical */
	assert_int_equal(parse(""), SK_ECORRUPT);
	assert_int_equal(parse("garbage"), SK_ECORRUPT);
}

/* --- reading a journal ------------------------------------------------------ */

/* Writes a day file of n entries, times t0, t0+1, ...; bad_at >= 0 puts
 * a garbage line at that index. */
static char *write_journal(const char *root, long long t0, size_t n, long bad_at)
{
	char *dir = sk_path_join(root, "journal");
	struct sk_err err;
	th_must(sk_fs_mkdirs(dir, 0, &err), &err);
	char *path = sk_path_join(dir, "2026-12-04.jsonl");
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (size_t i = 0; i < n; i++) {
		if ((long)i == bad_at) {
			fputs("not an entry\n", f);
			continue;
		}
		char *s = line_of(sample(t0 + (long long)i, (long long)i + 1));
		fprintf(f, "%s\n", s);
		free(s);
	}
	fclose(f);
	free(path);
	return dir;
}

static json_t *query(const char *dir, const struct sk_audit_query *q)
{
	json_t *arr = NULL;
	struct sk_err err;
	th_must(sk_audit_query_dir(dir, q, &arr, &err), &err);
	return arr;
}

static long long time_at(const json_t *arr, size_t i)
{
	return (long long)json_integer_value(json_object_get(json_array_get(arr, i), "time"));
}

static void test_since_until_limit(void **state)
{
	(void)state;
	char root[64];
	assert_int_equal(th_tmpdir(root, sizeof(root), "audit-q"), 0);
	const long long t0 = 1796342400 + 3600;
	char *dir = write_journal(root, t0, 1000, -1);
	/* every --since over the file: exactly the tail from there */
	for (long long k = 0; k <= 1000; k += 37) {
		struct sk_audit_query q = { .has_since = 1, .since = t0 + k };
		json_t *arr = query(dir, &q);
		assert_int_equal(json_array_size(arr), 1000 - k);
		if (k < 1000)
			assert_int_equal(time_at(arr, 0), t0 + k);
		json_decref(arr);
	}
	struct sk_audit_query q = { .has_since = 1, .since = t0 + 100, .has_until = 1,
				    .until = t0 + 199 };
	json_t *arr = query(dir, &q);
	assert_int_equal(json_array_size(arr), 100);
	assert_int_equal(time_at(arr, 99), t0 + 199);
	json_decref(arr);
	struct sk_audit_query lim = { .limit = 5 };
	arr = query(dir, &lim);
	assert_int_equal(json_array_size(arr), 5);
	assert_int_equal(time_at(arr, 0), t0 + 995); /* the newest five, oldest first */
	json_decref(arr);
	struct sk_audit_query before = { .has_until = 1, .until = t0 - 1 };
	arr = query(dir, &before);
	assert_int_equal(json_array_size(arr), 0);
	json_decref(arr);
	free(dir);
	th_rmtree(root);
}

static void test_bad_line_reported(void **state)
{
	(void)state;
	char root[64];
	assert_int_equal(th_tmpdir(root, sizeof(root), "audit-bad"), 0);
	char *dir = write_journal(root, 1796342400, 50, 20);
	struct sk_audit_query q = { 0 };
	json_t *arr = NULL;
	struct sk_err err;
	assert_int_equal(sk_audit_query_dir(dir, &q, &arr, &err), SK_ECORRUPT);
	assert_null(arr);
	assert_non_null(strstr(err.message, "2026-12-04.jsonl at byte"));
	/* a --since past the bad line never reads it */
	struct sk_audit_query late = { .has_since = 1, .since = 1796342400 + 40 };
	arr = query(dir, &late);
	assert_int_equal(json_array_size(arr), 10);
	json_decref(arr);
	/* a torn last line (no newline) is reported too */
	char *path = sk_path_join(dir, "2026-12-04.jsonl");
	FILE *f = fopen(path, "a");
	fputs("{\"act", f);
	fclose(f);
	assert_int_equal(sk_audit_query_dir(dir, &late, &arr, &err), SK_ECORRUPT);
	free(path);
	free(dir);
	th_rmtree(root);
}

/* --- entries written by ref updates ----------------------------------------- */

static json_t *all_entries(struct sk_repo *repo)
{
	struct sk_audit_query q = { 0 };
	json_t *arr = NULL;
	struct sk_err err;
	th_must(sk_audit_query(repo, &q, &arr, &err), &err);
	return arr;
}

static const char *field(const json_t *arr, size_t i, const char *k)
{
	return json_string_value(json_object_get(json_array_get(arr, i), k));
}

static void test_updates_are_journaled(void **state)
{
	struct th_repo *fx = *state;
	struct sk_err err;
	struct sk_oid a = th_blob(fx->repo, "a"), b = th_blob(fx->repo, "b");
	struct sk_audit_ctx ctx = { .command = "update-ref", .risk = "low", .target = "vm1" };
	sk_repo_set_audit(fx->repo, &ctx);
	struct sk_ref_update ups[2] = {
		{ .ref = "refs/services/api", .new_oid = a, .expect = SK_EXPECT_ABSENT },
		{ .ref = "refs/backups/api/b0", .new_oid = b, .expect = SK_EXPECT_ABSENT },
	};
	th_must(sk_refs_update(fx->repo, fx->key, ups, 2, NULL, &err), &err);
	struct sk_ref_update up = { .ref = "refs/services/api", .new_oid = b,
				    .expect = SK_EXPECT_OID, .old_oid = a };
	th_must(sk_refs_update(fx->repo, fx->key, &up, 1, NULL, &err), &err);

	json_t *arr = all_entries(fx->repo);
	assert_int_equal(json_array_size(arr), 4); /* init's trust record, then three */
	assert_string_equal(field(arr, 0, "ref"), "refs/meta/trust");
	assert_string_equal(field(arr, 0, "command"), "init");
	char ha[SK_OID_HEXSZ + 1], hb[SK_OID_HEXSZ + 1];
	sk_oid_tohex(&a, ha);
	sk_oid_tohex(&b, hb);
	assert_string_equal(field(arr, 3, "ref"), "refs/services/api");
	assert_string_equal(field(arr, 3, "old"), ha);
	assert_string_equal(field(arr, 3, "new"), hb);
	assert_string_equal(field(arr, 3, "name"), "alice");
	assert_string_equal(field(arr, 3, "key"), sk_key_id(fx->key));
	assert_string_equal(field(arr, 3, "risk"), "low");
	assert_string_equal(field(arr, 3, "target"), "vm1");
	assert_string_equal(field(arr, 3, "service"), "api");
	assert_non_null(field(arr, 3, "host"));
	assert_true(json_is_null(json_object_get(json_array_get(arr, 1), "old")));
	for (size_t i = 0; i < json_array_size(arr); i++)
		th_must(sk_audit_verify_entry(fx->repo, json_array_get(arr, i), &err), &err);

	/* an entry that says another target, seq or signer than its record */
	static const char *const keys[] = { "new", "seq", "key", "ref" };
	for (size_t k = 0; k < 4; k++) {
		json_t *e = json_deep_copy(json_array_get(arr, 3));
		if (k == 0)
			json_object_set_new(e, "new", json_string(ha));
		else if (k == 1)
			json_object_set_new(e, "seq", json_integer(7));
		else if (k == 2)
			json_object_set_new(e, "key", json_string("0123456789abcdef"));
		else
			json_object_set_new(e, "ref", json_string("refs/services/web"));
		if (sk_audit_verify_entry(fx->repo, e, &err) != SK_EVERIFY)
			fail_msg("a changed %s passed", keys[k]);
		json_decref(e);
	}
	/* a record id that names no object */
	json_t *e = json_deep_copy(json_array_get(arr, 3));
	json_object_set_new(e, "record", json_string(HEX64("c")));
	assert_int_equal(sk_audit_verify_entry(fx->repo, e, &err), SK_EVERIFY);
	json_decref(e);
	json_decref(arr);
}

static void test_filters(void **state)
{
	struct th_repo *fx = *state;
	struct sk_err err;
	struct sk_oid a = th_blob(fx->repo, "a");
	static const char *const refs[] = { "refs/services/api", "refs/backups/api/b1",
					    "refs/services/web", "refs/backups/web/b1" };
	for (size_t i = 0; i < 4; i++) {
		struct sk_ref_update up = { .ref = refs[i], .new_oid = a, .expect = SK_EXPECT_ABSENT };
		th_must(sk_refs_update(fx->repo, fx->key, &up, 1, NULL, &err), &err);
	}
	struct sk_audit_query q = { .service = "api" };
	json_t *arr = NULL;
	th_must(sk_audit_query(fx->repo, &q, &arr, &err), &err);
	assert_int_equal(json_array_size(arr), 2);
	json_decref(arr);
	struct sk_audit_query r = { .ref_pattern = "refs/services/*" };
	th_must(sk_audit_query(fx->repo, &r, &arr, &err), &err);
	assert_int_equal(json_array_size(arr), 2);
	json_decref(arr);
	struct sk_audit_query by_name = { .actor = "alice" };
	th_must(sk_audit_query(fx->repo, &by_name, &arr, &err), &err);
	assert_int_equal(json_array_size(arr), 5);
	json_decref(arr);
	struct sk_audit_query by_id = { .actor = sk_key_id(fx->key) };
	th_must(sk_audit_query(fx->repo, &by_id, &arr, &err), &err);
	assert_int_equal(json_array_size(arr), 5);
	json_decref(arr);
	struct sk_audit_query nobody = { .actor = "bob" };
	th_must(sk_audit_query(fx->repo, &nobody, &arr, &err), &err);
	assert_int_equal(json_array_size(arr), 0);
	json_decref(arr);
}

/* A writer that died mid-line leaves a torn tail: the next writer cuts it
 * back to the last whole line instead of gluing its entry onto it. */
static void test_torn_tail_repaired(void **state)
{
	struct th_repo *fx = *state;
	struct sk_err err;
	char day[32], *dir = sk_path_join(fx->skiff, "audit");
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d.jsonl", &tm);
	char *path = sk_path_join(dir, day);
	FILE *f = fopen(path, "a");
	assert_non_null(f);
	fputs("{\"action\":\"upd", f);
	fclose(f);
	struct sk_oid a = th_blob(fx->repo, "a");
	struct sk_ref_update up = { .ref = "refs/services/api", .new_oid = a,
				    .expect = SK_EXPECT_ABSENT };
	th_must(sk_refs_update(fx->repo, fx->key, &up, 1, NULL, &err), &err);
	json_t *arr = all_entries(fx->repo);
	assert_int_equal(json_array_size(arr), 2);
	assert_string_equal(field(arr, 1, "ref"), "refs/services/api");
	json_decref(arr);
	free(path);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_forms),
		cmocka_unit_test(test_time_units),
		cmocka_unit_test(test_time_rejects),
		cmocka_unit_test(test_line_ok),
		cmocka_unit_test(test_line_rejects),
		cmocka_unit_test(test_since_until_limit),
		cmocka_unit_test(test_bad_line_reported),
		cmocka_unit_test_setup_teardown(test_updates_are_journaled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_repaired, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
