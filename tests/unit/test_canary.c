/*
 * Canary arithmetic (ops/canary.h) and the deploy's step list parser:
 * the weights that give a split, the signals of a bake window, and the
 * verdict of the gates — advance, pause when ambiguous, rollback when
 * unsafe.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ops/canary.h"
#include "ops/deployop.h"
#include "tests/unit/helpers.h"

/* The share the weights give, in hundredths of a percent. */
static long share_bp(int wc, int ws, size_t nc, size_t ns)
{
	long c = (long)wc * (long)nc, t = c + (long)ws * (long)ns;
	return t ? c * 10000 / t : 0;
}

static void test_weights(void **state)
{
	(void)state;
	int pcts[] = { 1, 5, 10, 25, 33, 50, 75, 90, 99 };
	size_t shapes[][2] = { { 1, 3 }, { 1, 1 }, { 2, 2 }, { 1, 9 }, { 3, 1 } };
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
		for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
			int wc, ws;
			size_t nc = shapes[s][0], ns = shapes[s][1];
			sk_canary_weights(pcts[i], nc, ns, &wc, &ws);
			assert_true(wc >= 1 && wc <= 256 && ws >= 1 && ws <= 256);
			long got = share_bp(wc, ws, nc, ns), want = pcts[i] * 100L;
			/* within half a percent of the best weights 1..256 can do */
			long best = 10000;
			for (int c = 1; c <= 256; c++)
				for (int t = 1; t <= 256; t++) {
					long d = labs(share_bp(c, t, nc, ns) - want);
					best = d < best ? d : best;
				}
			if (labs(got - want) > best + 50)
				fail_msg("%d%% on %zu+%zu: weights %d/%d give %ld bp (best %ld off)",
					 pcts[i], nc, ns, wc, ws, got, best);
		}
	int wc, ws;
	sk_canary_weights(100, 1, 3, &wc, &ws);
	assert_int_equal(wc, 256);
	assert_int_equal(ws, 0);
	sk_canary_weights(0, 1, 3, &wc, &ws);
	assert_int_equal(wc, 0);
	assert_int_equal(ws, 256);
	sk_canary_weights(40, 4, 0, &wc, &ws); /* nothing stable: all on the canary */
	assert_int_equal(wc, 256);
	assert_int_equal(ws, 0);
	sk_canary_weights(25, 1, 3, &wc, &ws);
	assert_int_equal(wc, 256);
	assert_int_equal(ws, 256);
}

static json_t *sample(long long r1, long long e1, long long r2, long long e2, const char *st2)
{
	return json_pack("{s:I, s:{s:{s:I, s:I, s:I, s:s}, s:{s:I, s:I, s:I, s:s}}}", "time_ms",
			 (json_int_t)1, "servers", "t1", "requests", (json_int_t)r1, "hrsp_5xx",
			 (json_int_t)e1, "rtime_ms", (json_int_t)10, "status", "UP", "t2", "requests",
			 (json_int_t)r2, "hrsp_5xx", (json_int_t)e2, "rtime_ms", (json_int_t)40,
			 "status", st2);
}

static void test_window(void **state)
{
	(void)state;
	json_t *b = sample(100, 1, 50, 0, "UP"), *a = sample(300, 3, 150, 10, "DOWN 1/3");
	json_t *t2 = json_pack("[s]", "t2"), *both = json_pack("[s, s]", "t1", "t2");
	json_t *w = sk_canary_window(b, a, t2);
	assert_int_equal(json_integer_value(json_object_get(w, "requests")), 100);
	assert_int_equal(json_integer_value(json_object_get(w, "errors")), 10);
	assert_int_equal(json_integer_value(json_object_get(w, "error_rate_bp")), 1000);
	assert_int_equal(json_integer_value(json_object_get(w, "rtime_ms")), 40);
	assert_int_equal(json_array_size(json_object_get(w, "servers_down")), 1);
	json_decref(w);
	w = sk_canary_window(b, a, both);
	assert_int_equal(json_integer_value(json_object_get(w, "requests")), 300);
	json_decref(w);
	/* haproxy restarted between the samples: its counters start at zero */
	json_t *restarted = sample(20, 0, 5, 0, "UP");
	w = sk_canary_window(a, restarted, t2);
	assert_int_equal(json_integer_value(json_object_get(w, "requests")), 5);
	json_decref(w);
	json_decref(restarted);
	json_decref(a);
	json_decref(b);
	json_decref(t2);
	json_decref(both);
}

static json_t *win(long long req, long long err, long long rtime)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:[]}", "requests", (json_int_t)req, "errors",
			 (json_int_t)err, "error_rate_bp", (json_int_t)(req ? err * 10000 / req : 0),
			 "rtime_ms", (json_int_t)rtime, "servers_down");
}

static void expect(const json_t *gates, json_t *canary, json_t *stable, json_t *patterns,
		   json_t *unhealthy, const char *decision, const char *needle)
{
	json_t *v = sk_canary_verdict(gates, canary, stable, patterns, unhealthy);
	const char *d = json_string_value(json_object_get(v, "decision"));
	char *dump = json_dumps(v, JSON_COMPACT);
	if (strcmp(d, decision) != 0 || !strstr(dump, needle))
		fail_msg("wanted %s mentioning '%s', got %s", decision, needle, dump);
	free(dump);
	json_decref(v);
	json_decref(canary);
	json_decref(stable);
	json_decref(patterns);
	json_decref(unhealthy);
}

static void test_verdict(void **state)
{
	(void)state;
	json_t *gates = json_pack("{s:i, s:i, s:i, s:[{s:s, s:i}]}", "max_error_rate_bp", 100,
				  "max_latency_ms", 250, "min_requests", 50, "log_patterns",
				  "pattern", "panic:", "max", 0);
	expect(gates, win(500, 0, 20), win(1500, 0, 20), json_object(), json_array(), "advance",
	       "every gate holds");
	expect(gates, win(20, 0, 20), win(1500, 0, 20), json_object(), json_array(), "pause",
	       "too few requests");
	expect(gates, win(500, 50, 20), win(1500, 0, 20), json_object(), json_array(), "rollback",
	       "error rate");
	expect(gates, win(500, 0, 900), win(1500, 0, 20), json_object(), json_array(), "rollback",
	       "latency");
	/* 0.9%: under the gate but close to it and worse than stable */
	expect(gates, win(1000, 9, 20), win(1500, 0, 20), json_object(), json_array(), "pause",
	       "close to its gate");
	/* ...yet not when stable is as bad: the release did not make it worse */
	expect(gates, win(1000, 9, 20), win(1000, 9, 20), json_object(), json_array(), "advance",
	       "every gate");
	expect(gates, win(500, 0, 20), win(1500, 0, 20), json_pack("{s:i}", "panic:", 1),
	       json_array(), "rollback", "panic:");
	expect(gates, win(500, 0, 20), NULL, json_object(), json_pack("[s]", "t4: crashed"),
	       "rollback", "t4: crashed");
	/* unsafe wins over too few requests */
	expect(gates, win(10, 5, 20), NULL, json_object(), json_array(), "rollback", "error rate");
	/* default gates: 1% and 100 requests */
	expect(NULL, win(99, 0, 20), NULL, json_object(), json_array(), "pause", "100");
	json_decref(gates);
}

static void test_steps(void **state)
{
	(void)state;
	int w[SK_DEPLOY_MAX_STEPS];
	long b[SK_DEPLOY_MAX_STEPS];
	size_t n;
	struct sk_err err;
	th_must(sk_deployop_parse_steps("5:60,25:0,100:30", w, b, &n, &err), &err);
	assert_int_equal(n, 3);
	assert_int_equal(w[1], 25);
	assert_int_equal(b[2], 30);
	th_must(sk_deployop_parse_steps("", w, b, &n, &err), &err);
	assert_int_equal(n, 0);
	const char *bad[] = { "5", "5:", ":5", "5:1,", "25:1,5:1", "5:1,5:1", "0:1", "101:1",
			      "5:-1", "5:1;25:1", "5:700000", "x:1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sk_deployop_parse_steps(bad[i], w, b, &n, &err) != SK_EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_weights),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_verdict),
		cmocka_unit_test(test_steps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
