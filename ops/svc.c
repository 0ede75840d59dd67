/*
 * Shared steps of the operations on a live service (see svc.h). Nothing
 * here decides: the operation types say what to commit and what to wait
 * for; this file makes each of those effects durable, idempotent and
 * leased.
 */
#include "ops/svc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cloud/traffic.h"
#include "ops/opdoc.h"
#include "refs/reports.h"

long long sk_opsvc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sk_opsvc_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int sk_opsvc_commit(const struct sk_op_ctx *ctx, struct sk_service_state *st,
		    const json_t *control, const char *message, int *changed, struct sk_err *err)
{
	*changed = 0;
	if (json_equal(st->control, control))
		return 0;
	int rc = sk_op_lease_check(ctx, err);
	struct sk_oid commit;
	if (!rc)
		rc = sk_service_commit(ctx->repo, ctx->key, st, control, message, ctx->id, 0, &commit,
				       err);
	*changed = rc == 0;
	return rc;
}

int sk_opsvc_apply_traffic(const struct sk_op_ctx *ctx, const char *service,
			   const json_t *control, json_t **facts, struct sk_err *err)
{
	int rc = sk_traffic_apply(ctx->repo, service, control, facts, err);
	if (rc == SK_ENOTFOUND) {
		*facts = json_pack("{s:b}", "traffic_started", 0);
		return 0;
	}
	return rc;
}

int sk_opsvc_healthy(const struct sk_report *r, const void *arg, struct sk_err *err)
{
	const char *release = arg;
	if (release && strcmp(r->release, release) != 0)
		return 0;
	if (strcmp(r->state, "healthy") == 0)
		return 1;
	if (strcmp(r->state, "refused-unverified") == 0 ||
	    (strcmp(r->state, "crashed") == 0 && strstr(r->reason, "gave up")))
		return sk_err_set(err, SK_EFAIL, "skiff logs SERVICE --target T shows why",
				  "the runner of %s reports %s %s: %s", r->target, r->release,
				  r->state, r->reason);
	return 0;
}

/* One pass over targets: *ok counts the accepted reports; *seen gets
 * what each said. */
static int reports_pass(const struct sk_op_ctx *ctx, const char *service, const json_t *targets,
			sk_opsvc_report_fn accept, const void *arg, json_t *seen, size_t *ok,
			struct sk_err *err)
{
	size_t i;
	json_t *t;
	int rc = 0;
	*ok = 0;
	json_array_foreach(targets, i, t) {
		const char *name = json_string_value(t);
		struct sk_report *r = NULL;
		struct sk_err rerr;
		if (sk_reports_load(ctx->repo, service, name, &r, &rerr) != 0) {
			json_object_set_new(seen, name, json_string(rerr.message));
			continue;
		}
		json_object_set_new(seen, name,
				    json_pack("{s:s, s:s, s:s}", "state", r->state, "release",
					      r->release, "reason", r->reason));
		int a = rc ? 0 : accept(r, arg, err);
		if (a < 0)
			rc = a;
		*ok += a > 0;
		sk_report_free(r);
	}
	return rc;
}

int sk_opsvc_wait_reports(const struct sk_op_ctx *ctx, const char *service,
			  const json_t *targets, long long wait_ms, sk_opsvc_report_fn accept,
			  const void *arg, json_t **facts, struct sk_err *err)
{
	long long start = sk_opsvc_now_ms(), deadline = start + wait_ms;
	for (;;) {
		json_t *seen = json_object();
		size_t ok;
		int rc = reports_pass(ctx, service, targets, accept, arg, seen, &ok, err);
		int late = !rc && ok < json_array_size(targets) && sk_opsvc_now_ms() >= deadline;
		/* waited_ms: the time workloads took (a benchmark of an
		 * operation's own overhead leaves it out) */
		if (rc || ok == json_array_size(targets) || late) {
			*facts = json_pack("{s:o, s:I}", "targets", seen, "waited_ms",
					   (json_int_t)(sk_opsvc_now_ms() - start));
			if (late)
				rc = sk_err_set(err, SK_EPAUSED,
						"start or fix the runners, then skiff resume ID",
						"runners have not reported what the step waits for in time");
			return rc;
		}
		json_decref(seen);
		if ((rc = sk_op_lease_check(ctx, err)))
			return rc;
		sk_opsvc_sleep_ms(SK_OPSVC_POLL_MS);
	}
}

int sk_opsvc_observe_rerun(const struct sk_op_ctx *ctx, int *done, json_t **facts,
			   struct sk_err *err)
{
	*done = 0;
	return 0;
}

void sk_opsvc_step(struct sk_op_step_def *s, const char *name, const char *risk,
		   sk_op_act_fn act, const char *compensation, sk_op_act_fn compensate)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->risk = risk;
	s->act = act;
	s->observe = sk_opsvc_observe_rerun;
	s->reversible = compensate != NULL;
	s->compensation = compensation;
	s->compensate = compensate;
}

int sk_opsvc_alone(struct sk_repo *repo, const char *service, const char *self, const char *kind,
		   struct sk_err *err)
{
	json_t *ops = NULL;
	int rc = sk_op_list(repo, service, NULL, &ops, err);
	size_t i;
	json_t *o;
	json_array_foreach(ops, i, o) {
		const char *id = json_string_value(json_object_get(o, "id"));
		const char *k = json_string_value(json_object_get(o, "kind"));
		const char *state = json_string_value(json_object_get(o, "state"));
		if (rc || (self && strcmp(id, self) == 0) || (kind && strcmp(k, kind) != 0) ||
		    sk_op_state_final(state))
			continue;
		rc = sk_err_set(err, SK_ECONFLICT, "finish it first: skiff resume ID, or skiff cancel ID",
				"operation %s (%s) is %s on %s", id, k, state, service);
	}
	json_decref(ops);
	return rc;
}
