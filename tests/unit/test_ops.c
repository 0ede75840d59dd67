/*
 * Operations: the operation and event documents (what the readers accept
 * and every rejection rule) and the engine (ops/engine.c) on a real
 * repository: ids, a run's transitions and event chain, a failing step
 * compensated in reverse, the CAS lease between two executors, cancel,
 * and the test-only type refused when not enabled.
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
#include "objects/refrecord.h"
#include "ops/engine.h"
#include "refs/refs.h"
#include "tests/unit/helpers.h"

#define OID_A "8aec4e4876f854f688d0ebfc8f37598f38e5fd6903cccc850ca36591175aeb60"
#define ACTOR "630dcd2966c43366"
#define TRACE "0123456789abcdef0123456789abcdef"

static json_t *good_op(void)
{
	return json_pack("{s:s, s:[], s:i, s:i, s:s, s:i, s:s, s:s, s:{s:s}, s:s, s:s,"
			 " s:[{s:s, s:n, s:s, s:n, s:b, s:s, s:n, s:s}], s:s, s:i}",
			 "actor", ACTOR, "approvals", "created", 100, "cursor", 0, "event", OID_A,
			 "events", 1, "id", "20250101T000000000Z-abc", "kind", "test", "params",
			 "steps", "1", "service", "pay", "state", "planned", "steps", "compensation",
			 "undo", "ended", "name", "step-1", "result", "reversible", 1, "risk", "low",
			 "started", "state", "pending", "trace", TRACE, "v", 1);
}

static json_t *good_event(void)
{
	return json_pack("{s:s, s:{}, s:s, s:s, s:n, s:i, s:n, s:i, s:s, s:i}", "actor", ACTOR,
			 "facts", "kind", "created", "op", "20250101T000000000Z-abc", "prev", "seq",
			 1, "step", "time", 5, "trace", TRACE, "v", 1);
}

static void expect_op_rejected(json_t *doc)
{
	struct sk_err err;
	assert_int_equal(sk_operation_check(doc, &err), SK_EINVAL);
	assert_non_null(strstr(err.message, "operation"));
	json_decref(doc);
}

static void test_operation_doc(void **state)
{
	(void)state;
	struct sk_err err;
	json_t *d = good_op();
	th_must(sk_operation_check(d, &err), &err);
	json_decref(d);

	d = good_op(); json_object_set_new(d, "extra", json_true()); expect_op_rejected(d);
	d = good_op(); json_object_set_new(d, "v", json_integer(2)); expect_op_rejected(d);
	d = good_op(); json_object_del(d, "trace"); expect_op_rejected(d);
	d = good_op(); json_object_set_new(d, "state", json_string("done")); expect_op_rejected(d);
	d = good_op(); json_object_set_new(d, "id", json_string("../x")); expect_op_rejected(d);
	d = good_op(); json_object_set_new(d, "trace", json_string("0123")); expect_op_rejected(d);
	d = good_op(); json_object_set_new(d, "cursor", json_integer(2)); expect_op_rejected(d);
	d = good_op(); json_object_set_new(d, "cursor", json_integer(-1)); expect_op_rejected(d);
	d = good_op(); json_object_set_new(d, "events", json_integer(0)); expect_op_rejected(d);
	d = good_op(); json_object_set_new(d, "event", json_null()); expect_op_rejected(d);
	d = good_op(); json_object_set_new(d, "steps", json_array()); expect_op_rejected(d);
	d = good_op(); json_object_set_new(d, "params", json_pack("{s:i}", "n", 1));
	expect_op_rejected(d);
	d = good_op(); json_object_set_new(d, "approvals", json_pack("[s]", "nope"));
	expect_op_rejected(d);
	d = good_op();
	json_object_set_new(json_array_get(json_object_get(d, "steps"), 0), "risk",
			    json_string("extreme"));
	expect_op_rejected(d);
	d = good_op();
	json_object_set_new(json_array_get(json_object_get(d, "steps"), 0), "reversible",
			    json_integer(1));
	expect_op_rejected(d);
	d = good_op();
	json_object_set_new(json_array_get(json_object_get(d, "steps"), 0), "started",
			    json_integer(-5));
	expect_op_rejected(d);
	d = good_op();
	json_object_set_new(json_array_get(json_object_get(d, "steps"), 0), "x", json_null());
	expect_op_rejected(d);
}

static void expect_event_rejected(json_t *doc)
{
	struct sk_err err;
	assert_int_equal(sk_event_check(doc, &err), SK_EINVAL);
	json_decref(doc);
}

static void test_event_doc(void **state)
{
	(void)state;
	struct sk_err err;
	json_t *e = good_event();
	th_must(sk_event_check(e, &err), &err);
	json_object_set_new(e, "seq", json_integer(2));
	expect_event_rejected(e); /* seq 2 needs a prev */
	e = good_event();
	json_object_set_new(e, "seq", json_integer(2));
	json_object_set_new(e, "prev", json_string(OID_A));
	json_object_set_new(e, "step", json_integer(0));
	th_must(sk_event_check(e, &err), &err);
	json_decref(e);
	e = good_event(); json_object_set_new(e, "prev", json_string(OID_A)); expect_event_rejected(e);
	e = good_event(); json_object_set_new(e, "seq", json_integer(0)); expect_event_rejected(e);
	e = good_event(); json_object_set_new(e, "kind", json_string("x")); expect_event_rejected(e);
	e = good_event(); json_object_set_new(e, "facts", json_null()); expect_event_rejected(e);
	e = good_event(); json_object_set_new(e, "step", json_integer(-1)); expect_event_rejected(e);
	e = good_event(); json_object_del(e, "actor"); expect_event_rejected(e);
	e = good_event(); json_object_set_new(e, "v", json_integer(0)); expect_event_rejected(e);
}

static void test_ids(void **state)
{
	(void)state;
	char a[SK_OPID_MAX + 1], b[SK_OPID_MAX + 1], ta[SK_TRACE_HEXSZ + 1], tb[SK_TRACE_HEXSZ + 1];
	struct sk_err err;
	sk_op_new_ids(a, sizeof(a), ta, sizeof(ta));
	sk_op_new_ids(b, sizeof(b), tb, sizeof(tb));
	th_must(sk_opid_check(a, &err), &err);
	assert_int_equal(strlen(ta), SK_TRACE_HEXSZ);
	assert_string_not_equal(a, b);
	assert_string_not_equal(ta, tb);
	/* time first: same-length ids sort by creation time to the ms */
	assert_int_equal(strlen(a), strlen(b));
	assert_true(strncmp(a, b, 18) <= 0);
}

struct fx {
	struct th_repo t;
	char ledger[128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f || th_setup_repo(&f->t, "ops", "alice") != 0)
		return -1;
	setenv("SKIFF_TEST_OPS", "1", 1);
	snprintf(f->ledger, sizeof(f->ledger), "%s/ledger", f->t.root);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	unsetenv("SKIFF_TEST_OPS");
	th_teardown_repo(&f->t);
	free(f);
	return 0;
}

static struct sk_op *create(struct fx *f, const char *steps, const char *fail)
{
	struct sk_err err;
	struct sk_op *op = NULL;
	json_t *p = json_pack("{s:s, s:s}", "steps", steps, "ledger", f->ledger);
	if (fail)
		json_object_set_new(p, "fail_at", json_string(fail));
	th_must(sk_op_create(f->t.repo, f->t.key, "test", "pay", p, &op, &err), &err);
	json_decref(p);
	return op;
}

static const char *state_of(const struct sk_op *op)
{
	return json_string_value(json_object_get(op->doc, "state"));
}

static char *read_ledger(struct fx *f)
{
	FILE *fp = fopen(f->ledger, "r");
	static char verbs[1024];
	char line[512], verb[16], op[80], step[32];
	verbs[0] = '\0';
	while (fp && fgets(line, sizeof(line), fp) &&
	       sscanf(line, "%15s %79s %31s", verb, op, step) == 3)
		snprintf(verbs + strlen(verbs), sizeof(verbs) - strlen(verbs), "%s %s,", verb, step);
	if (fp)
		fclose(fp);
	return verbs;
}

static void test_run_and_events(void **state)
{
	struct fx *f = *state;
	struct sk_err err;
	struct sk_op *op = create(f, "2", NULL);
	assert_string_equal(state_of(op), "planned");
	th_must(sk_op_run(f->t.repo, f->t.key, op, &err), &err);
	assert_string_equal(state_of(op), "succeeded");
	assert_string_equal(read_ledger(f), "do step-1,do step-2,");
	assert_string_equal(getenv("SKIFF_TRACE_ID"),
			    json_string_value(json_object_get(op->doc, "trace")));
	json_t *ev = NULL;
	th_must(sk_op_events(f->t.repo, op, &ev, &err), &err);
	/* created, running, 2 x (intent, result), succeeded */
	assert_int_equal(json_array_size(ev), 7);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 2), "kind")),
			    "intent");
	json_decref(ev);
	/* A reload sees what the run left, and resume of a final one is a no-op. */
	struct sk_op *again = NULL;
	th_must(sk_op_load(f->t.repo, json_string_value(json_object_get(op->doc, "id")), &again,
			   &err), &err);
	assert_true(json_equal(again->doc, op->doc));
	th_must(sk_op_run(f->t.repo, f->t.key, again, &err), &err);
	assert_int_equal(json_integer_value(json_object_get(again->doc, "events")), 7);
	json_t *list = NULL;
	th_must(sk_op_list(f->t.repo, "pay", "succeeded", &list, &err), &err);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	th_must(sk_op_list(f->t.repo, "other", NULL, &list, &err), &err);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	sk_op_free(again);
	sk_op_free(op);
}

static void test_failure_compensates_in_reverse(void **state)
{
	struct fx *f = *state;
	struct sk_err err;
	struct sk_op *op = create(f, "4", "3");
	assert_int_equal(sk_op_run(f->t.repo, f->t.key, op, &err), SK_EFAIL);
	assert_string_equal(state_of(op), "compensated");
	assert_string_equal(read_ledger(f), "do step-1,do step-2,undo step-2,undo step-1,");
	const json_t *steps = json_object_get(op->doc, "steps");
	const char *want[] = { "compensated", "compensated", "failed", "skipped" };
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(json_string_value(json_object_get(json_array_get(steps, i),
								      "state")),
				    want[i]);
	sk_op_free(op);
}

static void test_lease_conflict(void **state)
{
	struct fx *f = *state;
	struct sk_err err;
	struct sk_op *a = create(f, "2", NULL), *b = NULL;
	th_must(sk_op_load(f->t.repo, json_string_value(json_object_get(a->doc, "id")), &b, &err),
		&err);
	th_must(sk_op_run(f->t.repo, f->t.key, a, &err), &err);
	/* b still holds the planned operation: its first transition loses. */
	assert_int_equal(sk_op_run(f->t.repo, f->t.key, b, &err), SK_ECONFLICT);
	assert_string_equal(read_ledger(f), "do step-1,do step-2,");
	sk_op_free(a);
	sk_op_free(b);
}

static void test_cancel(void **state)
{
	struct fx *f = *state;
	struct sk_err err;
	struct sk_op *op = create(f, "2", NULL);
	th_must(sk_op_cancel(f->t.repo, f->t.key, op, &err), &err);
	assert_string_equal(state_of(op), "cancelled");
	assert_string_equal(read_ledger(f), "");
	assert_int_equal(sk_op_cancel(f->t.repo, f->t.key, op, &err), SK_ECONFLICT);
	sk_op_free(op);
}

static void test_test_type_needs_enabling(void **state)
{
	struct fx *f = *state;
	struct sk_err err;
	struct sk_op *op = NULL;
	unsetenv("SKIFF_TEST_OPS");
	json_t *p = json_pack("{s:s, s:s}", "steps", "1", "ledger", f->ledger);
	assert_int_equal(sk_op_create(f->t.repo, f->t.key, "test", NULL, p, &op, &err), SK_EINVAL);
	assert_int_equal(sk_op_create(f->t.repo, f->t.key, "nope", NULL, p, &op, &err), SK_EINVAL);
	setenv("SKIFF_TEST_OPS", "1", 1);
	json_object_set_new(p, "steps", json_string("0"));
	assert_int_equal(sk_op_create(f->t.repo, f->t.key, "test", NULL, p, &op, &err), SK_EINVAL);
	json_decref(p);
	assert_null(op);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_operation_doc),
		cmocka_unit_test(test_event_doc),
		cmocka_unit_test(test_ids),
		cmocka_unit_test_setup_teardown(test_run_and_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_compensates_in_reverse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_test_type_needs_enabling, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
