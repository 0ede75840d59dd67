/*
 * Release specs: the example compiles; defaults, durations and rates
 * compile to exact integers; every rejection names the key path and the
 * line and column; JSON input works; a compiled spec passes the compiled
 * checker and a tampered one does not.
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
#include "objects/spec.h"
#include "tests/unit/helpers.h"

#define MIN_SPEC                                                                             \
	"service: api\n"                                                                     \
	"run:\n"                                                                             \
	"  command: /bin/api\n"                                                              \
	"  port: 8080\n"                                                                     \
	"health:\n"                                                                          \
	"  path: /healthz\n"

static json_t *compile_ok(const char *yaml)
{
	json_t *spec = NULL;
	struct sk_err err;
	sk_err_clear(&err);
	th_must(sk_spec_compile("spec.yaml", yaml, strlen(yaml), &spec, &err), &err);
	assert_non_null(spec);
	return spec;
}

/* Compiles yaml, expects SK_EINVAL and a message containing want. */
static void reject(const char *yaml, const char *want)
{
	json_t *spec = NULL;
	struct sk_err err;
	sk_err_clear(&err);
	int rc = sk_spec_compile("spec.yaml", yaml, strlen(yaml), &spec, &err);
	if (rc != SK_EINVAL || !strstr(err.message, want))
		fail_msg("rc %d, message \"%s\", wanted \"%s\"", rc, err.message, want);
	assert_null(spec);
}

static long long geti(const json_t *spec, const char *path)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	const json_t *v = spec;
	for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
		v = json_object_get(v, k);
	if (!json_is_integer(v))
		fail_msg("%s is not an integer", path);
	return json_integer_value(v);
}

static char *read_example(size_t *len)
{
	const char *dirs[] = { ".", getenv("SKIFF_SRCDIR"), NULL };
	for (size_t i = 0; i < 2; i++) {
		if (!dirs[i])
			continue;
		char p[512];
		snprintf(p, sizeof(p), "%s/examples/payments-api.yaml", dirs[i]);
		FILE *f = fopen(p, "rb");
		if (!f)
			continue;
		char *buf = calloc(1, SK_SPEC_MAX + 1);
		assert_non_null(buf);
		*len = fread(buf, 1, SK_SPEC_MAX, f);
		fclose(f);
		return buf;
	}
	fail_msg("examples/payments-api.yaml not found (run from the source tree)");
	return NULL;
}

static void test_example(void **state)
{
	size_t len = 0;
	char *buf = read_example(&len);
	json_t *spec = NULL;
	struct sk_err err;
	th_must(sk_spec_compile("payments-api.yaml", buf, len, &spec, &err), &err);
	free(buf);
	assert_string_equal(json_string_value(json_object_get(spec, "service")), "payments-api");
	assert_int_equal(geti(spec, "run.port"), 8080);
	assert_int_equal(geti(spec, "health.interval_ms"), 10000);
	assert_int_equal(geti(spec, "canary.gates.max_error_rate_bp"), 50);
	assert_int_equal(geti(spec, "canary.gates.max_latency_ms"), 250);
	assert_int_equal(geti(spec, "backup.max_age_s"), 86400);
	json_t *steps = json_object_get(json_object_get(spec, "canary"), "steps");
	assert_int_equal(json_array_size(steps), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(steps, 2), "bake_s")),
			 5400);
	assert_true(json_is_true(json_object_get(spec, "stateful")));
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(spec, "secrets"), "STRIPE_KEY")),
			    "file:/etc/skiff/secrets/stripe.key");
	/* the compiled form is canonical-ready and passes the compiled check */
	char *out = NULL;
	size_t olen = 0;
	th_must(sk_cjson_dump(spec, &out, &olen, &err), &err);
	free(out);
	th_must(sk_spec_check_compiled(spec, NULL, &err), &err);
	json_decref(spec);
}

static void test_defaults(void **state)
{
	json_t *spec = compile_ok(MIN_SPEC);
	char *out = NULL;
	size_t len = 0;
	struct sk_err err;
	th_must(sk_cjson_dump(spec, &out, &len, &err), &err);
	assert_string_equal(out,
			    "{\"health\":{\"healthy_threshold\":2,\"interval_ms\":10000,"
			    "\"path\":\"/healthz\",\"timeout_ms\":2000,\"unhealthy_threshold\":3},"
			    "\"permissions\":{\"network\":[],\"paths\":[]},"
			    "\"run\":{\"args\":[],\"command\":\"/bin/api\",\"env\":{},\"port\":8080},"
			    "\"secrets\":{},\"service\":\"api\",\"stateful\":false}");
	free(out);
	th_must(sk_spec_check_compiled(spec, NULL, &err), &err);
	json_decref(spec);
}

static long long bake(const char *dur)
{
	char y[512];
	snprintf(y, sizeof(y), MIN_SPEC "canary:\n  steps:\n    - weight: 100\n      bake: %s\n",
		 dur);
	json_t *spec = compile_ok(y);
	json_t *steps = json_object_get(json_object_get(spec, "canary"), "steps");
	long long v = json_integer_value(json_object_get(json_array_get(steps, 0), "bake_s"));
	json_decref(spec);
	return v;
}

static long long timeout_ms(const char *dur)
{
	char y[512];
	snprintf(y, sizeof(y), MIN_SPEC "  interval: 24h\n  timeout: %s\n", dur);
	json_t *spec = compile_ok(y);
	long long v = geti(spec, "health.timeout_ms");
	json_decref(spec);
	return v;
}

static long long rate_bp(const char *rate)
{
	char y[512];
	snprintf(y, sizeof(y), MIN_SPEC "canary:\n  steps: [{weight: 100, bake: 0}]\n"
		 "  gates: {max_error_rate: \"%s\"}\n", rate);
	json_t *spec = compile_ok(y);
	long long v = geti(spec, "canary.gates.max_error_rate_bp");
	json_decref(spec);
	return v;
}

static void test_units(void **state)
{
	assert_int_equal(bake("30s"), 30);
	assert_int_equal(bake("5m"), 300);
	assert_int_equal(bake("1h30m"), 5400);
	assert_int_equal(bake("1h30m15s"), 5415);
	assert_int_equal(bake("90"), 90);
	assert_int_equal(bake("0"), 0);
	assert_int_equal(bake("2000ms"), 2);
	assert_int_equal(bake("168h"), 7 * 86400);
	assert_int_equal(timeout_ms("250ms"), 250);
	assert_int_equal(timeout_ms("1s500ms"), 1500);
	assert_int_equal(timeout_ms("3"), 3000);
	assert_int_equal(timeout_ms("2m"), 120000);
	assert_int_equal(rate_bp("1%"), 100);
	assert_int_equal(rate_bp("0.5%"), 50);
	assert_int_equal(rate_bp("0.05%"), 5);
	assert_int_equal(rate_bp("12.25%"), 1225);
	assert_int_equal(rate_bp("100%"), 10000);
	assert_int_equal(rate_bp("0%"), 0);
}

static void test_bad_units(void **state)
{
	const char *durs[] = { "1d", "5", "m5", "30s5m", "1.5s", "-5", "1h1h", "s", "1500ms",
			       "99999999999s", "5 m", "169h", NULL };
	for (size_t i = 0; durs[i]; i++) {
		char y[512];
		snprintf(y, sizeof(y),
			 MIN_SPEC "canary:\n  steps:\n    - weight: 100\n      bake: \"%s\"\n",
			 durs[i]);
		if (strcmp(durs[i], "5") == 0) /* a quoted bare number is still seconds */
			continue;
		reject(y, "spec.yaml:10:14: canary.steps[0].bake: "); /* inside the quotes */
	}
	const char *rates[] = { "1", "1.%", "1.234%", ".5%", "%", "101%", "1e2%", "-1%", NULL };
	for (size_t i = 0; rates[i]; i++) {
		char y[512];
		snprintf(y, sizeof(y), MIN_SPEC "canary:\n  steps: [{weight: 100, bake: 0}]\n"
			 "  gates:\n    max_error_rate: \"%s\"\n", rates[i]);
		reject(y, "spec.yaml:10:22: canary.gates.max_error_rate: ");
	}
}

static void test_json_input(void **state)
{
	const char *j = "{\"service\": \"api\", \"run\": {\"command\": \"/bin/api\", \"port\": 80,"
			" \"env\": {\"A\": \"1\"}},\n \"health\": {\"path\": \"/h\", \"timeout\": \"1s\"},"
			" \"canary\": {\"steps\": [{\"weight\": 10, \"bake\": \"1m\"},"
			" {\"weight\": 100, \"bake\": 60}]}}";
	json_t *spec = compile_ok(j);
	assert_int_equal(geti(spec, "run.port"), 80);
	assert_int_equal(geti(spec, "health.timeout_ms"), 1000);
	assert_true(json_is_true(json_object_get(json_object_get(spec, "canary"), "auto_rollback")));
	json_decref(spec);
	reject("{\"service\": \"api\", \"service\": \"b\"}", "spec.yaml:1:21: duplicate key");
	reject("{\"service\": \"api\",\n \"run\": {\"command\": \"/bin/api\", \"port\": 80.5}}",
	       "spec.yaml:2:");
}

static void test_rejects(void **state)
{
	/* missing sections */
	reject("service: api\nhealth:\n  path: /h\n", "spec.yaml:1:1: missing required key \"run\"");
	reject("run:\n  command: x\n  port: 1\nhealth:\n  path: /h\n",
	       "missing required key \"service\"");
	reject("service: api\nrun:\n  command: x\n  port: 1\n", "missing required key \"health\"");
	reject("service: api\nrun:\n  port: 1\nhealth: {path: /h}\n",
	       "spec.yaml:3:3: run: missing required key \"command\"");
	/* unknown keys, anywhere */
	reject(MIN_SPEC "colour: blue\n", "spec.yaml:7:1: unknown key \"colour\"");
	reject(MIN_SPEC "  intervall: 5s\n", "spec.yaml:7:3: health: unknown key \"intervall\"");
	/* wrong types */
	reject("service: api\nrun:\n  command: /bin/api\n  port: \"8080\"\nhealth:\n  path: /h\n",
	       "spec.yaml:4:10: run.port: must be an integer, not a string");
	reject(MIN_SPEC "stateful: yes\n", "spec.yaml:7:11: stateful: must be true or false");
	reject(MIN_SPEC "secrets: [a]\n", "spec.yaml:7:11: secrets: must be a mapping, not a list");
	reject("service: api\nrun:\n  command: /bin/api\n  port: 80\n  env: {N: 4}\nhealth:\n"
	       "  path: /h\n", "spec.yaml:5:12: run.env.N: must be a string, not an integer");
	reject("service: api\nrun:\n  command: /bin/api\n  port: 70000\nhealth:\n  path: /h\n",
	       "run.port: must be at most 65535");
	reject("- a\n- b\n", "spec.yaml:1:3: must be a mapping, not a list");
	/* service names */
	reject("service: ../etc\n", "spec.yaml:1:10: service: service \"../etc\" must not start");
	reject("service: a/b\n", "service: service \"a/b\": character 0x2f");
	reject("service: \"a..b\"\n", "must not contain \"..\"");
	/* canary weights */
	reject(MIN_SPEC "canary:\n  steps:\n    - weight: 10\n      bake: 1m\n"
		"    - weight: 25\n      bake: 1m\n    - weight: 25\n      bake: 1m\n",
	       "spec.yaml:13:15: canary.steps[2].weight: must be greater than 25");
	reject(MIN_SPEC "canary:\n  steps:\n    - {weight: 50, bake: 1m}\n"
		"    - {weight: 20, bake: 1m}\n",
	       "spec.yaml:10:16: canary.steps[1].weight: must be greater than 50");
	reject(MIN_SPEC "canary:\n  steps:\n    - {weight: 101, bake: 1m}\n",
	       "spec.yaml:9:16: canary.steps[0].weight: must be at most 100");
	reject(MIN_SPEC "canary:\n  steps:\n    - {weight: 0, bake: 1m}\n",
	       "canary.steps[0].weight: must be at least 1");
	reject(MIN_SPEC "canary:\n  steps: []\n", "canary.steps: must have at least 1 item");
	reject(MIN_SPEC "canary:\n  steps:\n    - {weight: 5}\n",
	       "canary.steps[0]: missing required key \"bake\"");
	/* health timing */
	reject(MIN_SPEC "  interval: 5s\n  timeout: 6s\n",
	       "spec.yaml:8:12: health.timeout: must not be longer than the interval");
	/* secrets are references, never values */
	reject(MIN_SPEC "secrets:\n  DB: hunter2\n", "spec.yaml:8:7: secrets.DB: invalid secret");
	reject(MIN_SPEC "secrets:\n  DB: \"file:relative\"\n", "invalid secret reference");
	reject(MIN_SPEC "secrets:\n  1DB: env:X\n", "spec.yaml:8:3: secrets.1DB: invalid variable");
	reject("service: api\nrun:\n  command: /bin/api\n  port: 80\n  env: {DB: x}\n"
	       "health:\n  path: /h\nsecrets:\n  DB: env:DB\n",
	       "spec.yaml:9:3: secrets.DB: also set in run.env");
	/* permissions */
	reject(MIN_SPEC "permissions:\n  paths: [relative/path]\n",
	       "permissions.paths[0]: must be an absolute path");
	reject(MIN_SPEC "permissions:\n  paths: [/var/../etc]\n", "must be an absolute path");
	reject(MIN_SPEC "permissions:\n  network: [db.internal]\n",
	       "permissions.network[0]: \"db.internal\" is not HOST:PORT");
	reject(MIN_SPEC "permissions:\n  network: [\"db:0\"]\n", "port must be 1..65535");
	/* backup/restore */
	reject(MIN_SPEC "backup:\n  command: []\n  max_age: 1h\n",
	       "backup.command: must have at least 1 item");
	reject(MIN_SPEC "backup:\n  command: [/bin/b]\n  max_age: 10s\n",
	       "backup.max_age: must be at least 60 seconds");
	reject(MIN_SPEC "restore:\n  validate: [/bin/v]\n",
	       "restore: missing required key \"command\"");
	/* floats, null */
	reject(MIN_SPEC "canary:\n  steps: [{weight: 5.5, bake: 0}]\n",
	       "weight: must be an integer, not a number with a fraction");
	reject(MIN_SPEC "stateful:\n", "stateful: must be true or false, not null");
	/* user text in messages stays printable */
	reject("service: api\nrun:\n  command: /bin/api\n  port: 80\n  env: {\"\\e[31m\": x}\n"
	       "health:\n  path: /h\n", "run.env.?[31m: invalid variable name \"\\x1b[31m\"");
	reject(MIN_SPEC "run: {}\n", "spec.yaml:7:1: duplicate key \"run\"");
	reject("service: api\n\"a\\tb\": 1\n\"a\\tb\": 2\n", "duplicate key \"a\\x09b\"");
}

static void test_yaml_features(void **state)
{
	reject(MIN_SPEC "service: again\n", "spec.yaml:7:1: duplicate key");
	reject("a: &x 1\nb: *x\n", "spec.yaml:1:7: a: anchors are not allowed");
	reject(MIN_SPEC "canary:\n  steps:\n    - {weight: 5, weight: 6}\n",
	       "spec.yaml:9:19: canary.steps[0]: duplicate key \"weight\"");
	reject("service: !!str api\n", "tags are not allowed");
	reject(MIN_SPEC "---\nservice: other\n", "exactly one YAML document");
	reject("service: [unclosed\n", "spec.yaml:");
	reject("%YAML 1.2\n---\nservice: api\n", "spec.yaml:1:1: YAML directives");
	reject("service: api\n%+&\x86+&", "spec.yaml:2:1: YAML directives");
	reject("service: \"a\\0b\"\n", "NUL");
	json_t *spec = NULL;
	struct sk_err err;
	char nul[] = "service: a\0b\n";
	assert_int_equal(sk_spec_compile("s", nul, sizeof(nul) - 1, &spec, &err), SK_EINVAL);
	char *big = malloc(SK_SPEC_MAX + 2);
	assert_non_null(big);
	memset(big, '#', SK_SPEC_MAX + 1);
	assert_int_equal(sk_spec_compile("s", big, SK_SPEC_MAX + 1, &spec, &err), SK_EINVAL);
	assert_non_null(strstr(err.message, "over the limit"));
	free(big);
	assert_int_equal(sk_spec_compile("s", "", 0, &spec, &err), SK_EINVAL);
	/* deep nesting is refused before it costs anything */
	char deep[512] = "service: ";
	for (int i = 0; i < 40; i++)
		strcat(deep, "[");
	reject(deep, "spec.yaml:");
}

static void test_compiled_check(void **state)
{
	json_t *spec = compile_ok(MIN_SPEC "canary:\n  steps: [{weight: 100, bake: 1m}]\n");
	struct sk_err err;
	th_must(sk_spec_check_compiled(spec, NULL, &err), &err);
	/* human units are not compiled form */
	json_t *bad = json_deep_copy(spec);
	json_object_set_new(json_object_get(bad, "health"), "interval_ms", json_string("10s"));
	assert_int_equal(sk_spec_check_compiled(bad, NULL, &err), SK_EINVAL);
	assert_non_null(strstr(err.message, "health.interval_ms: must be an integer"));
	json_decref(bad);
	/* defaults must be present */
	bad = json_deep_copy(spec);
	json_object_del(json_object_get(bad, "canary"), "auto_rollback");
	assert_int_equal(sk_spec_check_compiled(bad, NULL, &err), SK_EINVAL);
	assert_non_null(strstr(err.message, "canary: missing required key \"auto_rollback\""));
	json_decref(bad);
	/* source names are not compiled names */
	bad = json_deep_copy(spec);
	json_object_set_new(json_object_get(bad, "health"), "interval", json_integer(5));
	assert_int_equal(sk_spec_check_compiled(bad, NULL, &err), SK_EINVAL);
	json_decref(bad);
	json_decref(spec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_bad_units),
		cmocka_unit_test(test_json_input),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_yaml_features),
		cmocka_unit_test(test_compiled_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
