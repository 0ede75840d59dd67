/*
 * The test-only operation type "test" (enabled only with SKIFF_TEST_OPS=1):
 * params {steps: "N", ledger: PATH, fail_at: "K"?, high_at: "K"?}; step
 * high_at is high risk (two-party approval), the others low. Step K appends the
 * line "do <op> step-K <trace>" to the ledger unless it is there already
 * (observe-then-act), its compensation "undo <op> step-K <trace>"; step
 * fail_at fails before doing anything. With SKIFF_TEST_OP_HANG=K in the
 * environment, step K creates LEDGER.hanging and waits until
 * LEDGER.release exists, so a test can kill or race an executor inside a
 * step. Before appending, a step checks it still holds the operation
 * (sk_op_lease_check). Tests count the ledger lines to prove no effect happened twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cli.h"
#include "ops/engine.h"

static int enabled(void)
{
	const char *v = getenv("SKIFF_TEST_OPS");
	return v && strcmp(v, "1") == 0;
}

static long param_num(const json_t *params, const char *key)
{
	const char *s = json_string_value(json_object_get(params, key));
	char *end;
	if (!s || !*s)
		return -1;
	long v = strtol(s, &end, 10);
	return *end ? -1 : v;
}

/* Is the line "<verb> <op> step-K " in the ledger? */
static int ledger_has(const char *ledger, const char *prefix, int *has, struct sk_err *err)
{
	*has = 0;
	FILE *f = fopen(ledger, "r");
	if (!f)
		return errno == ENOENT ? 0 : sk_err_errno(err, errno, "open", ledger);
	char line[512];
	size_t n = strlen(prefix);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, prefix, n) == 0)
			*has = 1;
	fclose(f);
	return 0;
}

static int ledger_append(const char *ledger, const char *line, struct sk_err *err)
{
	int fd = open(ledger, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return sk_err_errno(err, errno, "open", ledger);
	size_t n = strlen(line);
	int ok = write(fd, line, n) == (ssize_t)n && fsync(fd) == 0;
	close(fd);
	return ok ? 0 : sk_err_errno(err, errno, "write", ledger);
}

static void prefix_for(const struct sk_op_ctx *ctx, const char *verb, char *buf, size_t n)
{
	snprintf(buf, n, "%s %s %s ", verb, ctx->id, ctx->step_name);
}

void sk_op_test_hang(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s.hanging", path);
	int fd = open(buf, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	snprintf(buf, sizeof(buf), "%s.release", path);
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	while (access(buf, F_OK) != 0)
		nanosleep(&ts, NULL);
}

static void maybe_hang(const struct sk_op_ctx *ctx, const char *ledger)
{
	const char *h = getenv("SKIFF_TEST_OP_HANG");
	if (h && atol(h) == (long)ctx->step + 1)
		sk_op_test_hang(ledger);
}

/* Appends "<verb> <op> <step> <trace>" once; the kill point sits after
 * the effect and before the engine records it. */
static int once(const struct sk_op_ctx *ctx, const char *verb, json_t **facts,
		struct sk_err *err)
{
	const char *ledger = json_string_value(json_object_get(ctx->params, "ledger"));
	char prefix[256], line[320];
	int has = 0;
	prefix_for(ctx, verb, prefix, sizeof(prefix));
	int rc = ledger_has(ledger, prefix, &has, err);
	if (rc)
		return rc;
	const char *trace = getenv("SKIFF_TRACE_ID");
	snprintf(line, sizeof(line), "%s%s\n", prefix, trace ? trace : "-");
	if (!has && ((rc = sk_op_lease_check(ctx, err)) || (rc = ledger_append(ledger, line, err))))
		return rc;
	sk_op_killpoint(verb);
	*facts = json_pack("{s:s, s:b}", "ledger", verb, "already", has);
	return 0;
}

static int act(const struct sk_op_ctx *ctx, json_t **facts, struct sk_err *err)
{
	maybe_hang(ctx, json_string_value(json_object_get(ctx->params, "ledger")));
	if (param_num(ctx->params, "fail_at") == (long)ctx->step + 1)
		return sk_err_set(err, SK_EFAIL, NULL, "%s fails as the test asked", ctx->step_name);
	return once(ctx, "do", facts, err);
}

static int compensate(const struct sk_op_ctx *ctx, json_t **facts, struct sk_err *err)
{
	return once(ctx, "undo", facts, err);
}

static int observe(const struct sk_op_ctx *ctx, int *done, json_t **facts, struct sk_err *err)
{
	char prefix[256];
	prefix_for(ctx, "do", prefix, sizeof(prefix));
	return ledger_has(json_string_value(json_object_get(ctx->params, "ledger")), prefix, done,
			  err);
}

static int plan(const json_t *params, struct sk_op_step_def *steps, size_t *n, struct sk_err *err)
{
	long count = param_num(params, "steps");
	const char *ledger = json_string_value(json_object_get(params, "ledger"));
	if (count < 1 || count > SK_OP_MAX_STEPS)
		return sk_err_set(err, SK_EINVAL, NULL, "the test operation needs 1..%d steps",
				  SK_OP_MAX_STEPS);
	if (!ledger || ledger[0] != '/' || strlen(ledger) > 3000)
		return sk_err_set(err, SK_EINVAL, NULL, "the test operation needs an absolute ledger path");
	for (long i = 0; i < count; i++) {
		struct sk_op_step_def *s = &steps[i];
		memset(s, 0, sizeof(*s));
		snprintf(s->name, sizeof(s->name), "step-%ld", i + 1);
		s->risk = param_num(params, "high_at") == i + 1 ? "high" : "low";
		s->reversible = 1;
		s->compensation = "undo";
		s->act = act;
		s->compensate = compensate;
		s->observe = observe;
	}
	*n = (size_t)count;
	return 0;
}

const struct sk_op_type sk_op_type_test = {
	.kind = "test",
	.summary = "test-only: steps append to a ledger file, fail or hang where asked",
	.plan = plan,
	.enabled = enabled,
};
