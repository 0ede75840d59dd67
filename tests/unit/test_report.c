/*
 * Runner reports: the document (a full round trip through
 * sk_report_to_json, every rejection rule) and refs/reports.c (absent,
 * write and load, prev chaining by CAS, a stale prev refused, a report
 * signed by a key without the runner role refused on load, a tampered
 * report object found, list of a service's runners).
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
#include "objects/report.h"
#include "objects/trust.h"
#include "refs/keys.h"
#include "refs/reports.h"
#include "tests/unit/helpers.h"

#define OID_A "8aec4e4876f854f688d0ebfc8f37598f38e5fd6903cccc850ca36591175aeb60"
#define TRACE "0123456789abcdef0123456789abcdef"

static const char *full_doc =
	"{\"addr\":\"127.0.0.1:8080\",\"health\":{\"fails\":0,\"last_ms\":3,\"passes\":2},"
	"\"logs\":{\"lines\":10,\"patterns\":[{\"count\":1,\"pattern\":\"panic:\"}]},"
	"\"pid\":1234,\"prev\":null,\"reason\":\"\",\"release\":\"1.0\",\"release_oid\":\"" OID_A
	"\",\"restarts\":0,\"service\":\"api\",\"state\":\"healthy\",\"target\":\"t1\","
	"\"time_ms\":1700000000000,\"trace\":\"" TRACE "\",\"v\":1}";

static json_t *parse(const char *text)
{
	json_t *doc = json_loads(text, 0, NULL);
	assert_non_null(doc);
	return doc;
}

static char *dump(const json_t *doc)
{
	char *out = NULL;
	size_t len = 0;
	struct sk_err err;
	th_must(sk_cjson_dump(doc, &out, &len, &err), &err);
	return out;
}

static void test_roundtrip(void **state)
{
	(void)state;
	struct sk_err err;
	struct sk_report *r = NULL;
	json_t *doc = parse(full_doc);
	th_must(sk_report_from_json(&r, doc, &err), &err);
	assert_string_equal(r->state, "healthy");
	assert_string_equal(r->release, "1.0");
	assert_string_equal(r->trace, TRACE);
	assert_int_equal(r->pid, 1234);
	assert_int_equal(r->health_last_ms, 3);
	assert_int_equal(r->log_lines, 10);
	assert_true(r->has_release_oid);
	assert_false(r->has_prev);
	json_t *back = sk_report_to_json(r);
	char *s = dump(back);
	assert_string_equal(s, full_doc);
	free(s);
	json_decref(back);
	json_decref(doc);
	sk_report_free(r);
}

static void test_nulls(void **state)
{
	(void)state;
	struct sk_err err;
	struct sk_report r0;
	memset(&r0, 0, sizeof(r0));
	strcpy(r0.service, "api");
	strcpy(r0.target, "t1");
	strcpy(r0.state, "refused-unverified");
	strcpy(r0.reason, "bad chunk");
	r0.pid = r0.health_last_ms = -1;
	json_t *doc = sk_report_to_json(&r0);
	struct sk_report *r = NULL;
	th_must(sk_report_from_json(&r, doc, &err), &err);
	assert_int_equal(r->pid, -1);
	assert_int_equal(r->health_last_ms, -1);
	assert_string_equal(r->release, "");
	assert_string_equal(r->trace, "");
	assert_string_equal(r->addr, "");
	assert_true(json_is_array(r->patterns));
	json_decref(doc);
	sk_report_free(r);
}

/* full_doc with one key's value replaced by raw JSON (or removed: NULL). */
static void rejects(const char *key, const char *value, const char *needle)
{
	struct sk_err err;
	memset(&err, 0, sizeof(err));
	json_t *doc = parse(full_doc);
	if (value)
		json_object_set_new(doc, key, json_loads(value, JSON_DECODE_ANY, NULL));
	else
		json_object_del(doc, key);
	struct sk_report *r = NULL;
	int rc = sk_report_from_json(&r, doc, &err);
	json_decref(doc);
	assert_null(r);
	if (rc != SK_EINVAL || !strstr(err.message, needle))
		fail_msg("%s=%s: rc %d, message '%s' (wanted '%s')", key, value ? value : "(none)",
			 rc, err.message, needle);
}

static void test_rejects(void **state)
{
	(void)state;
	rejects("v", "2", "\"v\"");
	rejects("extra", "1", "extra");
	rejects("state", "\"running\"", "state");
	rejects("state", NULL, "state");
	rejects("service", "\"../x\"", "service");
	rejects("target", "\"a/b\"", "target");
	rejects("release", "\"..\"", "version");
	rejects("addr", "\"127.0.0.1\"", "addr");
	rejects("addr", "\"h:99999\"", "addr");
	rejects("reason", "\"line\\nbreak\"", "reason");
	rejects("pid", "0", "pid");
	rejects("pid", "-3", "pid");
	rejects("restarts", "-1", "restarts");
	rejects("time_ms", "\"now\"", "time_ms");
	rejects("trace", "\"abc\"", "trace");
	rejects("prev", "\"" OID_A "0\"", "prev");
	rejects("release_oid", "7", "release_oid");
	rejects("health", "{\"fails\":0,\"passes\":0}", "last_ms");
	rejects("health", "{\"fails\":0,\"last_ms\":null,\"passes\":0,\"x\":1}", "x");
	rejects("logs", "{\"lines\":0}", "patterns");
	rejects("logs", "{\"lines\":0,\"patterns\":[{\"count\":1,\"pattern\":\"\"}]}", "pattern");
	rejects("logs", "{\"lines\":0,\"patterns\":[{\"count\":-1,\"pattern\":\"a\"}]}", "count");
	rejects("logs", "{\"lines\":0,\"patterns\":[7]}", "patterns");
	char big[600];
	memset(big, 'a', sizeof(big));
	big[0] = '"';
	strcpy(big + 520, "\"");
	rejects("reason", big, "reason");
	assert_true(sk_report_state_valid("refused-unverified"));
	assert_false(sk_report_state_valid("Healthy"));
}

/* --- refs/reports.c ---------------------------------------------------- */

struct fix {
	struct th_repo t;
	struct sk_key *runner; /* role runner, scoped to refs/runners/api/t1 */
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct sk_err err;
	if (!f || th_setup_repo(&f->t, "report", "owner") < 0 ||
	    sk_key_generate(&f->runner, "runner1", &err) < 0)
		return -1;
	struct sk_trust *p = NULL;
	if (sk_refs_load_trust(f->t.repo, &p, &err) < 0 ||
	    sk_trust_add_grant(p, "runner1", sk_key_public(f->runner), "runner",
			       "refs/runners/api/t1", &err) < 0 ||
	    sk_refs_set_trust(f->t.repo, f->t.key, p, &err) < 0)
		return -1;
	sk_trust_free(p);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	sk_key_free(f->runner);
	th_teardown_repo(&f->t);
	free(f);
	return 0;
}

static json_t *report_doc(const char *target, const char *st, const struct sk_oid *prev)
{
	struct sk_report r;
	memset(&r, 0, sizeof(r));
	strcpy(r.service, "api");
	snprintf(r.target, sizeof(r.target), "%s", target);
	strcpy(r.state, st);
	strcpy(r.addr, "127.0.0.1:9000");
	r.pid = r.health_last_ms = -1;
	r.time_ms = 1;
	if (prev) {
		r.has_prev = 1;
		r.prev = *prev;
	}
	return sk_report_to_json(&r);
}

static void test_write_load_chain(void **state)
{
	struct fix *f = *state;
	struct sk_err err;
	struct sk_report *r = NULL;
	struct sk_oid h1, h2;
	int has = 1;
	assert_int_equal(sk_reports_load(f->t.repo, "api", "t1", &r, &err), SK_ENOTFOUND);
	th_must(sk_reports_head(f->t.repo, "api", "t1", &has, &h1, &err), &err);
	assert_false(has);
	json_t *d1 = report_doc("t1", "verifying", NULL);
	th_must(sk_reports_write(f->t.repo, f->runner, d1, &err), &err);
	th_must(sk_reports_head(f->t.repo, "api", "t1", &has, &h1, &err), &err);
	assert_true(has);
	/* a second first report (prev null) lost the race: conflict */
	assert_int_equal(sk_reports_write(f->t.repo, f->runner, d1, &err), SK_ECONFLICT);
	json_t *d2 = report_doc("t1", "healthy", &h1);
	th_must(sk_reports_write(f->t.repo, f->runner, d2, &err), &err);
	th_must(sk_reports_head(f->t.repo, "api", "t1", &has, &h2, &err), &err);
	assert_int_equal(sk_reports_write(f->t.repo, f->runner, d2, &err), SK_ECONFLICT);
	th_must(sk_reports_load(f->t.repo, "api", "t1", &r, &err), &err);
	assert_string_equal(r->state, "healthy");
	assert_true(r->has_prev);
	assert_memory_equal(r->prev.id, h1.id, SK_OID_RAWSZ);
	sk_report_free(r);
	/* the runner key's scope is t1 only */
	json_t *d3 = report_doc("t2", "verifying", NULL);
	assert_int_equal(sk_reports_write(f->t.repo, f->runner, d3, &err), SK_EROLE);
	json_decref(d1);
	json_decref(d2);
	json_decref(d3);
}

static void test_owner_report_refused(void **state)
{
	/* the owner is root and operator: the default rule lets only runners
	 * sign refs/runners, so the write itself is refused */
	struct fix *f = *state;
	struct sk_err err;
	json_t *d = report_doc("t1", "verifying", NULL);
	assert_int_equal(sk_reports_write(f->t.repo, f->t.key, d, &err), SK_EROLE);
	json_decref(d);
}

static void test_tampered_and_list(void **state)
{
	struct fix *f = *state;
	struct sk_err err;
	json_t *all = NULL;
	th_must(sk_reports_list(f->t.repo, "api", &all, &err), &err);
	assert_int_equal(json_object_size(all), 0);
	json_decref(all);
	json_t *d = report_doc("t1", "starting", NULL);
	th_must(sk_reports_write(f->t.repo, f->runner, d, &err), &err);
	th_must(sk_reports_list(f->t.repo, "api", &all, &err), &err);
	assert_int_equal(json_object_size(all), 1);
	assert_true(json_equal(json_object_get(all, "t1"), d));
	json_decref(all);
	/* swap the report object's file for another object's bytes */
	struct sk_oid head, other = th_blob(f->t.repo, "not a report");
	int has = 0;
	th_must(sk_reports_head(f->t.repo, "api", "t1", &has, &head, &err), &err);
	char *hp = sk_odb_path(sk_repo_odb(f->t.repo), &head);
	char *op = sk_odb_path(sk_repo_odb(f->t.repo), &other);
	chmod(hp, 0644);
	assert_int_equal(rename(op, hp), 0);
	struct sk_report *r = NULL;
	assert_int_equal(sk_reports_load(f->t.repo, "api", "t1", &r, &err), SK_ECORRUPT);
	assert_null(r);
	assert_int_equal(sk_reports_list(f->t.repo, "api", &all, &err), SK_ECORRUPT);
	assert_null(all);
	free(hp);
	free(op);
	json_decref(d);
	assert_int_equal(sk_reports_load(f->t.repo, "api", "../x", &r, &err), SK_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_nulls),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test_setup_teardown(test_write_load_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_report_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered_and_list, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
