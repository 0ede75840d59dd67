/*
 * The failover operation type (ops/failoverop.h) without a live stack:
 * its steps and their risk, the params it refuses, the group checks the
 * command runs before creating an operation; and the frontend probe
 * (cloud/probe.h) against addresses nothing answers on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cloud/probe.h"
#include "ops/engine.h"
#include "ops/failoverop.h"
#include "tests/unit/helpers.h"

static json_t *control(const char *active)
{
	json_t *c = json_pack("{s:s, s:{s:{s:s, s:s, s:n}, s:{s:s, s:s, s:n}, s:{s:s, s:n}, "
			      "s:{s:s, s:n}}, s:{}, s:i}",
			      "service", "svc", "targets", "t1", "addr", "127.0.0.1:1", "group",
			      "blue", "release", "t2", "addr", "127.0.0.1:2", "group", "green",
			      "release", "t3", "group", "red", "release", "t4", "addr",
			      "127.0.0.1:4", "release", "settings", "v", 1);
	if (active)
		json_object_set_new(c, "active_group", json_string(active));
	return c;
}

static json_t *params(const char *group, const char *from, const char *wait)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "service", "svc", "group", group, "from", from,
			 "wait_s", wait);
}

static void test_plan(void **state)
{
	(void)state;
	struct sk_op_step_def defs[SK_OP_MAX_STEPS];
	size_t n = 0;
	struct sk_err err;
	json_t *p = params("green", "blue", "30");
	assert_int_equal(sk_op_type_plan(SK_FAILOVEROP_KIND, p, defs, &n, &err), 0);
	assert_int_equal(n, 4);
	const char *names[] = { "plan", "route", "validate", "record" };
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(defs[i].name, names[i]);
		assert_string_equal(defs[i].risk, i == 1 ? "high" : "none");
		assert_int_equal(defs[i].reversible, i == 1);
		assert_non_null(defs[i].observe);
	}
	assert_string_equal(defs[1].compensation, "route-back");
	assert_non_null(defs[1].compensate);
	json_decref(p);
}

static void test_bad_params(void **state)
{
	(void)state;
	struct sk_op_step_def defs[SK_OP_MAX_STEPS];
	size_t n = 0;
	struct sk_err err;
	json_t *bad[] = { params("green", "green", "30"), params("../x", "", "30"),
			  params("green", "", "0"),       params("green", "", "86401"),
			  params("green", "", "3x"),      params("green", "a b", "30") };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sk_op_type_plan(SK_FAILOVEROP_KIND, bad[i], defs, &n, &err),
				 SK_EINVAL);
		json_decref(bad[i]);
	}
	json_t *extra = params("green", "", "30");
	json_object_set_new(extra, "more", json_string("x"));
	assert_int_equal(sk_op_type_plan(SK_FAILOVEROP_KIND, extra, defs, &n, &err), SK_EINVAL);
	json_decref(extra);
}

static void test_check(void **state)
{
	(void)state;
	struct sk_err err;
	json_t *none = control(NULL), *blue = control("blue");
	assert_int_equal(sk_failover_check(none, "blue", &err), 0);
	assert_int_equal(sk_failover_check(blue, "green", &err), 0);
	assert_int_equal(sk_failover_check(blue, "blue", &err), SK_ECONFLICT);
	assert_int_equal(sk_failover_check(none, "purple", &err), SK_ENOTFOUND);
	/* red's only target has no address: no server to route to */
	assert_int_equal(sk_failover_check(none, "red", &err), SK_ENOTFOUND);
	json_t *g = sk_failover_groups(none);
	assert_int_equal(json_object_size(g), 3);
	assert_string_equal(json_string_value(json_array_get(json_object_get(g, "blue"), 0)), "t1");
	assert_null(json_object_get(g, "t4"));
	json_decref(g);
	json_decref(none);
	json_decref(blue);
}

static void test_probe_refused(void **state)
{
	(void)state;
	/* port 1 on loopback: nothing listens, the probe says so at once */
	assert_int_equal(sk_probe_http("127.0.0.1:1", "/", 500, NULL), -1);
	assert_int_equal(sk_probe_http("0.0.0.0:1", "/", 500, NULL), -1);
	assert_int_equal(sk_probe_http("no-port", "/", 500, NULL), -1);
	assert_int_equal(sk_probe_http("127.0.0.1:", "/", 500, NULL), -1);
}

/* The status line a peer sends is untrusted: only "HTTP/1.x NNN" with
 * three digits, 100..599, ending there, gives a code. */
static void test_probe_status_line(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		int code;
	} cases[] = {
		{ "HTTP/1.1 200 OK\r\n", 200 },   { "HTTP/1.0 503 Service Unavailable\r\n", 503 },
		{ "HTTP/1.1 404\r\n", 404 },      { "HTTP/1.1 204\n", 204 },
		{ "HTTP/2 200 OK\r\n", -1 },      { "HTTP/1.1 20 OK\r\n", -1 },
		{ "HTTP/1.1 2000 OK\r\n", -1 },   { "HTTP/1.1  200 OK\r\n", -1 },
		{ "HTTP/1.1 099 x\r\n", -1 },     { "HTTP/1.1 600 x\r\n", -1 },
		{ "http/1.1 200 OK\r\n", -1 },    { "HTTP/1.1 2a0 OK\r\n", -1 },
		{ "HTTP/1.1 200", -1 },             { "", -1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(sk_probe_status_line(cases[i].line, strlen(cases[i].line)),
				 cases[i].code);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_probe_status_line),
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_probe_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
