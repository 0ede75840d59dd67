/*
 * The operation types "drain" and "undrain", and the drain primitives the
 * other runbooks use (see drain.h). The state commit comes first and
 * haproxy follows it, so an interruption between the two leaves control
 * saying what is wanted; a rerun applies it again (both are idempotent:
 * the commit happens only when control differs, haproxy is set from
 * control).
 */
#include "ops/drain.h"

#include <stdlib.h>
#include <string.h>

#include "cloud/traffic.h"
#include "objects/spec.h"
#include "objects/state.h"
#include "ops/svc.h"
#include "refs/reports.h"
#include "refs/service.h"

static const char *pstr(const json_t *params, const char *key)
{
	return json_string_value(json_object_get(params, key));
}

/* The control's target, or SK_ENOTFOUND. */
static int target_of(const struct sk_service_state *st, const char *target, json_t **out,
		     struct sk_err *err)
{
	*out = json_object_get(json_object_get(st->control, "targets"), target);
	if (!*out)
		return sk_err_set(err, SK_ENOTFOUND, "skiff target list SERVICE lists them",
				  "%s has no target %s", st->service, target);
	return 0;
}

/* Commits targets[target].drain = on (when it differs) and applies it to
 * haproxy: weights from control, then the server's state. */
static int set_drain(const struct sk_op_ctx *ctx, const char *service, const char *target, int on,
		     int *committed, json_t **traffic, struct sk_err *err)
{
	struct sk_service_state st;
	int rc = sk_service_load(ctx->repo, service, &st, err);
	if (rc)
		return rc;
	json_t *control = json_deep_copy(st.control), *tg = NULL;
	char msg[200];
	snprintf(msg, sizeof(msg), "%s %s: %s traffic", on ? "drain" : "undrain", target,
		 on ? "out of" : "back in");
	rc = target_of(&st, target, &tg, err);
	if (!rc) {
		tg = json_object_get(json_object_get(control, "targets"), target);
		if (on)
			json_object_set_new(tg, "drain", json_true());
		else
			json_object_del(tg, "drain");
		rc = sk_opsvc_commit(ctx, &st, control, msg, committed, err);
	}
	if (!rc)
		rc = sk_opsvc_apply_traffic(ctx, service, control, traffic, err);
	int started = !rc && !json_is_false(json_object_get(*traffic, "traffic_started"));
	if (started && json_object_get(tg, "addr"))
		rc = sk_traffic_set_state(ctx->repo, service, target, on ? "drain" : "ready", err);
	json_decref(control);
	sk_service_state_clear(&st);
	return rc;
}

/* Open sessions on target per haproxy; 0 when traffic was never started. */
static int open_sessions(struct sk_repo *repo, const char *service, const char *target,
			 long long *n, struct sk_err *err)
{
	json_t *sample = NULL;
	int rc = sk_traffic_sample(repo, service, &sample, err);
	*n = 0;
	if (rc == SK_ENOTFOUND)
		return 0;
	if (!rc)
		*n = json_integer_value(json_object_get(
			json_object_get(json_object_get(sample, "servers"), target), "sessions"));
	json_decref(sample);
	return rc;
}

static int wait_idle(const struct sk_op_ctx *ctx, const char *service, const char *target,
		     long long timeout_ms, long long *sessions, long long *waited,
		     struct sk_err *err)
{
	long long start = sk_opsvc_now_ms();
	for (;;) {
		int rc = open_sessions(ctx->repo, service, target, sessions, err);
		*waited = sk_opsvc_now_ms() - start;
		if (rc || *sessions == 0)
			return rc;
		if (*waited >= timeout_ms)
			return sk_err_set(err, SK_EPAUSED,
					  "skiff resume ID waits again; skiff cancel ID puts it back",
					  "%s still has %lld open connection%s after %lld ms", target,
					  *sessions, *sessions == 1 ? "" : "s", *waited);
		if ((rc = sk_op_lease_check(ctx, err)))
			return rc;
		sk_opsvc_sleep_ms(SK_OPSVC_POLL_MS);
	}
}

int sk_drain_target(const struct sk_op_ctx *ctx, const char *service, const char *target,
		    long long timeout_ms, json_t **facts, struct sk_err *err)
{
	int committed = 0;
	long long sessions = 0, waited = 0;
	json_t *traffic = NULL;
	int rc = set_drain(ctx, service, target, 1, &committed, &traffic, err);
	if (!rc)
		sk_op_killpoint("drained");
	if (!rc || rc == SK_EPAUSED)
		rc = rc ? rc : wait_idle(ctx, service, target, timeout_ms, &sessions, &waited, err);
	if (!rc || rc == SK_EPAUSED)
		*facts = json_pack("{s:s, s:b, s:O?, s:I, s:I}", "target", target, "committed",
				   committed, "traffic", traffic, "sessions", (json_int_t)sessions,
				   "waited_ms", (json_int_t)waited);
	json_decref(traffic);
	return rc;
}

int sk_drain_health(struct sk_repo *repo, const char *service, const char *target,
		    json_t **facts, struct sk_err *err)
{
	struct sk_report *r = NULL;
	struct sk_err rerr;
	json_t *report = json_null(), *sample = NULL;
	int ok = 1;
	if (sk_reports_load(repo, service, target, &r, &rerr) == 0) {
		report = json_pack("{s:s, s:s, s:s}", "state", r->state, "release", r->release,
				   "reason", r->reason);
		ok = strcmp(r->state, "healthy") == 0;
		sk_report_free(r);
	} else {
		ok = 0;
	}
	int rc = sk_traffic_sample(repo, service, &sample, err);
	const char *check = NULL;
	if (rc == 0) {
		const json_t *srv = json_object_get(json_object_get(sample, "servers"), target);
		check = json_string_value(json_object_get(srv, "check_status"));
		/* haproxy's own check: L7OK is an HTTP answer the check accepts */
		ok = ok && check && strncmp(check, "L7OK", 4) == 0;
	} else if (rc == SK_ENOTFOUND) {
		rc = 0;
	}
	if (!rc)
		*facts = json_pack("{s:o, s:s?, s:b}", "report", report, "check", check, "ok", ok);
	else
		json_decref(report);
	json_decref(sample);
	return rc;
}

int sk_drain_undo(const struct sk_op_ctx *ctx, const char *service, const char *target,
		  int require_healthy, json_t **facts, struct sk_err *err)
{
	json_t *health = NULL, *traffic = NULL;
	int committed = 0, rc = 0;
	if (require_healthy && !(rc = sk_drain_health(ctx->repo, service, target, &health, err)) &&
	    !json_is_true(json_object_get(health, "ok")))
		rc = sk_err_set(err, SK_ECONFLICT,
				"fix the target (skiff logs SERVICE --target T), then resume",
				"%s is not healthy: it stays out of traffic", target);
	if (!rc)
		rc = set_drain(ctx, service, target, 0, &committed, &traffic, err);
	if (!rc || health)
		*facts = json_pack("{s:s, s:b, s:o?, s:o?}", "target", target, "committed", committed,
				   "traffic", traffic, "health", health);
	else
		json_decref(traffic);
	return rc;
}

/* --- the operation types --------------------------------------------------- */

struct drain_params {
	const char *service, *target;
	long long timeout_ms;
	int force;
};

static int parse(const json_t *params, struct drain_params *p, struct sk_err *err)
{
	p->service = pstr(params, "service");
	p->target = pstr(params, "target");
	const char *force = pstr(params, "force"), *timeout = pstr(params, "timeout_s");
	int rc = sk_spec_component_check(p->service ? p->service : "", SK_SPEC_NAME_MAX, "service",
					 err);
	if (!rc)
		rc = sk_spec_component_check(p->target ? p->target : "", SK_SPEC_NAME_MAX, "target",
					     err);
	if (!rc && (!force || (strcmp(force, "true") != 0 && strcmp(force, "false") != 0)))
		rc = sk_err_set(err, SK_EINVAL, NULL, "param \"force\" must be \"true\" or \"false\"");
	char *end = NULL;
	long long t = timeout ? strtoll(timeout, &end, 10) : 0;
	if (!rc && timeout && (!*timeout || *end || t < 0 || t > 86400))
		rc = sk_err_set(err, SK_EINVAL, NULL, "param \"timeout_s\" must be 0..86400");
	p->force = !rc && strcmp(force, "true") == 0;
	p->timeout_ms = t * 1000;
	return rc;
}

/* Another target stays in traffic when target goes out: one with a
 * weight, not drained, not standing by. */
static int others_in_traffic(const json_t *control, const char *target)
{
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(control, "targets"), k, v)
		if (strcmp(k, target) != 0 && json_object_get(v, "addr") &&
		    sk_traffic_weight(control, k) > 0 && !sk_traffic_standby(control, k))
			return 1;
	return 0;
}

static int act_drain_check(const struct sk_op_ctx *ctx, json_t **facts, struct sk_err *err)
{
	struct drain_params p;
	struct sk_service_state st;
	json_t *tg;
	int rc = parse(ctx->params, &p, err);
	if (!rc && !(rc = sk_service_load(ctx->repo, p.service, &st, err))) {
		rc = target_of(&st, p.target, &tg, err);
		int drained = !rc && json_is_true(json_object_get(tg, "drain"));
		int others = !rc && others_in_traffic(st.control, p.target);
		if (!rc && !drained && !others && !p.force)
			rc = sk_err_set(err, SK_ECONFLICT,
					"add or undrain another target first, or --force",
					"%s is the last target of %s in traffic", p.target, p.service);
		if (!rc)
			*facts = json_pack("{s:s, s:b, s:b, s:i}", "target", p.target, "drained",
					   drained, "others_in_traffic", others, "weight",
					   sk_traffic_weight(st.control, p.target));
		sk_service_state_clear(&st);
	}
	return rc;
}

static int act_drain(const struct sk_op_ctx *ctx, json_t **facts, struct sk_err *err)
{
	struct drain_params p;
	int committed = 0, rc = parse(ctx->params, &p, err);
	json_t *traffic = NULL;
	if (!rc)
		rc = set_drain(ctx, p.service, p.target, 1, &committed, &traffic, err);
	if (!rc)
		*facts = json_pack("{s:s, s:b, s:o}", "target", p.target, "committed", committed,
				   "traffic", traffic);
	return rc;
}

static int act_wait_idle(const struct sk_op_ctx *ctx, json_t **facts, struct sk_err *err)
{
	struct drain_params p;
	long long sessions = 0, waited = 0;
	int rc = parse(ctx->params, &p, err);
	if (!rc)
		rc = wait_idle(ctx, p.service, p.target, p.timeout_ms, &sessions, &waited, err);
	if (!rc || rc == SK_EPAUSED)
		*facts = json_pack("{s:s, s:I, s:I, s:I}", "target", p.target, "sessions",
				   (json_int_t)sessions, "waited_ms", (json_int_t)waited,
				   "timeout_ms", (json_int_t)p.timeout_ms);
	return rc;
}

/* Back in without the health check: undrain's act (its check step
 * checked) and drain's compensation (back as before; haproxy's own checks
 * keep an unhealthy server out). */
static int act_undrain(const struct sk_op_ctx *ctx, json_t **facts, struct sk_err *err)
{
	struct drain_params p;
	int rc = parse(ctx->params, &p, err);
	return rc ? rc : sk_drain_undo(ctx, p.service, p.target, 0, facts, err);
}

static int act_undrain_check(const struct sk_op_ctx *ctx, json_t **facts, struct sk_err *err)
{
	struct drain_params p;
	struct sk_service_state st;
	json_t *tg, *health = NULL;
	int rc = parse(ctx->params, &p, err);
	if (rc || (rc = sk_service_load(ctx->repo, p.service, &st, err)))
		return rc;
	rc = target_of(&st, p.target, &tg, err);
	if (!rc && !json_is_true(json_object_get(tg, "drain")))
		rc = sk_err_set(err, SK_ECONFLICT, "skiff target list SERVICE shows drained targets",
				"%s is not drained", p.target);
	if (!rc)
		rc = sk_drain_health(ctx->repo, p.service, p.target, &health, err);
	if (!rc && !p.force && !json_is_true(json_object_get(health, "ok")))
		rc = sk_err_set(err, SK_ECONFLICT,
				"fix it first (skiff logs SERVICE --target T), or --force",
				"%s is not healthy: it stays out of traffic", p.target);
	if (health)
		*facts = json_pack("{s:s, s:o}", "target", p.target, "health", health);
	sk_service_state_clear(&st);
	return rc;
}

static int plan_drain(const json_t *params, struct sk_op_step_def *steps, size_t *n,
		      struct sk_err *err)
{
	struct drain_params p;
	int rc = parse(params, &p, err);
	if (rc)
		return rc;
	sk_opsvc_step(&steps[0], "check", "none", act_drain_check, NULL, NULL);
	sk_opsvc_step(&steps[1], "drain", "medium", act_drain, "undrain", act_undrain);
	sk_opsvc_step(&steps[2], "wait-idle", "none", act_wait_idle, NULL, NULL);
	*n = 3;
	return 0;
}

static int plan_undrain(const json_t *params, struct sk_op_step_def *steps, size_t *n,
			struct sk_err *err)
{
	struct drain_params p;
	int rc = parse(params, &p, err);
	if (rc)
		return rc;
	sk_opsvc_step(&steps[0], "check", "none", act_undrain_check, NULL, NULL);
	sk_opsvc_step(&steps[1], "undrain", "medium", act_undrain, "drain", act_drain);
	*n = 2;
	return 0;
}

const struct sk_op_type sk_op_type_drain = {
	.kind = SK_DRAINOP_KIND,
	.summary = "take a target out of traffic and wait for its open connections to finish",
	.plan = plan_drain,
};

const struct sk_op_type sk_op_type_undrain = {
	.kind = SK_UNDRAINOP_KIND,
	.summary = "put a drained target back into traffic once it is healthy",
	.plan = plan_undrain,
};
