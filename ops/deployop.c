/*
 * The operation type "deploy" (see deployop.h).
 */
#include "ops/deployop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cloud/traffic.h"
#include "common/cli.h"
#include "common/fs.h"
#include "objects/spec.h"
#include "objects/state.h"
#include "ops/canary.h"
#include "ops/engine.h"
#include "ops/svc.h"
#include "refs/release_verify.h"
#include "refs/reports.h"
#include "refs/service.h"

/* The fixed steps before the canary steps: verify, preflight, assign,
 * wait-healthy. */
#define FIRST_WEIGHT_STEP 4

/* --- params ------------------------------------------------------------- */

struct deploy {
	const char *service, *release, *from, *parent;
	json_t *canary; /* array of target names (owned) */
	size_t nsteps;
	int weight[SK_DEPLOY_MAX_STEPS];
	long bake_s[SK_DEPLOY_MAX_STEPS];
	int auto_rollback, stateful;
	long wait_s;
};

static const char *pstr(const json_t *params, const char *key)
{
	return json_string_value(json_object_get(params, key));
}

static void deploy_clear(struct deploy *d)
{
	json_decref(d->canary);
	d->canary = NULL;
}

static int parse_canary(struct deploy *d, const char *s, struct sk_err *err)
{
	d->canary = json_array();
	char buf[SK_OP_PARAM_MAX + 1];
	snprintf(buf, sizeof(buf), "%s", s);
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int rc = sk_spec_component_check(t, SK_SPEC_NAME_MAX, "canary target", err);
		if (rc)
			return rc;
		json_array_append_new(d->canary, json_string(t));
	}
	if (json_array_size(d->canary) == 0)
		return sk_err_set(err, SK_EINVAL, NULL, "deploy: no canary target");
	return 0;
}

static int bad_steps(const char *near, struct sk_err *err)
{
	return sk_err_set(err, SK_EINVAL, "steps are WEIGHT:BAKE_SECONDS pairs, e.g. 5:60,25:60,100:60",
			  "bad canary steps near \"%.40s\" (weights 1..100, increasing; bakes "
			  "0..604800 s; at most %d steps)",
			  near, SK_DEPLOY_MAX_STEPS);
}

int sk_deployop_parse_steps(const char *s, int *weight, long *bake_s, size_t *n,
			    struct sk_err *err)
{
	*n = 0;
	for (const char *p = s; *p;) {
		char *end;
		long w = strtol(p, &end, 10);
		if (end == p || *end != ':' || *n >= SK_DEPLOY_MAX_STEPS)
			return bad_steps(p, err);
		const char *q = end + 1;
		long b = strtol(q, &end, 10);
		if (end == q || (*end && *end != ',') || w < 1 || w > 100 || b < 0 ||
		    b > 7 * 86400 || (*n > 0 && w <= weight[*n - 1]) || (*end && !end[1]))
			return bad_steps(p, err);
		weight[*n] = (int)w;
		bake_s[(*n)++] = b;
		p = *end ? end + 1 : end;
	}
	return 0;
}

static int parse(const json_t *params, struct deploy *d, struct sk_err *err)
{
	memset(d, 0, sizeof(*d));
	d->service = pstr(params, "service");
	d->release = pstr(params, "release");
	d->from = pstr(params, "from");
	d->parent = pstr(params, "parent");
	const char *canary = pstr(params, "canary"), *steps = pstr(params, "steps");
	const char *ar = pstr(params, "auto_rollback"), *wait = pstr(params, "wait_s");
	const char *sf = pstr(params, "stateful");
	if (!d->service || !d->release || !d->from || !d->parent || !canary || !steps || !ar ||
	    !wait || !sf || json_object_size(params) != 9 ||
	    (strcmp(sf, "true") != 0 && strcmp(sf, "false") != 0))
		return sk_err_set(err, SK_EINVAL, NULL,
				  "deploy needs exactly service, release, from, parent, canary, "
				  "steps, auto_rollback, stateful (true|false) and wait_s");
	d->stateful = strcmp(sf, "true") == 0;
	struct sk_oid oid;
	int rc = sk_spec_component_check(d->service, SK_SPEC_NAME_MAX, "service", err);
	if (!rc)
		rc = sk_spec_component_check(d->release, SK_SPEC_NAME_MAX, "release", err);
	if (!rc && *d->from)
		rc = sk_spec_component_check(d->from, SK_SPEC_NAME_MAX, "from", err);
	if (!rc && *d->parent)
		rc = sk_oid_fromhex(&oid, d->parent, err);
	if (!rc)
		rc = parse_canary(d, canary, err);
	if (!rc)
		rc = sk_deployop_parse_steps(steps, d->weight, d->bake_s, &d->nsteps, err);
	char *end;
	d->wait_s = strtol(wait, &end, 10);
	d->auto_rollback = strcmp(ar, "true") == 0;
	if (!rc && (*end || d->wait_s < 1 || d->wait_s > 86400 ||
		    (!d->auto_rollback && strcmp(ar, "false") != 0)))
		rc = sk_err_set(err, SK_EINVAL, NULL, "deploy: bad wait_s or auto_rollback");
	if (rc)
		deploy_clear(d);
	return rc;
}

static int is_canary(const struct deploy *d, const char *target)
{
	size_t i;
	json_t *t;
	json_array_foreach(d->canary, i, t)
		if (strcmp(json_string_value(t), target) == 0)
			return 1;
	return 0;
}

/* --- small helpers -------------------------------------------------------- */

/* A pause: SK_EPAUSED with hint (the facts go with it as the step's result). */
static int pause_with(struct sk_err *err, const char *hint, const char *why)
{
	return sk_err_set(err, SK_EPAUSED, hint, "%s", why);
}

/* The targets of control in two arrays: canary and stable. */
static void split_targets(const struct deploy *d, const json_t *control, json_t **canary,
			  json_t **stable)
{
	*canary = json_array();
	*stable = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(control, "targets"), k, v)
		json_array_append_new(is_canary(d, k) ? *canary : *stable, json_string(k));
}

/* --- reports ------------------------------------------------------------- */

/* Waits until every target in targets reports the release healthy.
 * Fails on a refusal or a runner that gave up; pauses when wait_s passes. */
static int wait_healthy(const struct sk_op_ctx *ctx, const struct deploy *d,
			const json_t *targets, json_t **facts, struct sk_err *err)
{
	return sk_opsvc_wait_reports(ctx, d->service, targets, d->wait_s * 1000, sk_opsvc_healthy,
				     d->release, facts, err);
}

/* Waits for targets to report the release healthy, then reads the
 * service again (a person or another step may have committed meanwhile):
 * *control becomes a fresh copy of its control. */
static int wait_and_reload(const struct sk_op_ctx *ctx, const struct deploy *d,
			   struct sk_service_state *st, const json_t *targets, json_t **waited,
			   json_t **control, struct sk_err *err)
{
	int rc = wait_healthy(ctx, d, targets, waited, err);
	if (rc)
		return rc;
	sk_service_state_clear(st);
	if ((rc = sk_service_load(ctx->repo, d->service, st, err)))
		return rc;
	json_decref(*control);
	*control = json_deep_copy(st->control);
	return 0;
}

/* --- the steps ------------------------------------------------------------ */

static int with_deploy(const struct sk_op_ctx *ctx, struct deploy *d, struct sk_service_state *st,
		       struct sk_err *err)
{
	int rc = parse(ctx->params, d, err);
	if (rc)
		return rc;
	if ((rc = sk_service_load(ctx->repo, d->service, st, err)))
		deploy_clear(d);
	return rc;
}

/* The signed release: its ref, signature and signer's role, the
 * document, and every artifact chunk by chunk. */
static int act_verify(const struct sk_op_ctx *ctx, json_t **facts, struct sk_err *err)
{
	struct sk_rel_signed sig;
	struct sk_release *rel = NULL;
	int rc = sk_rel_load_signed(ctx->repo, pstr(ctx->params, "service"),
				    pstr(ctx->params, "release"), &sig, &rel, err);
	size_t chunks = 0;
	for (size_t i = 0; !rc && i < rel->nartifacts; i++) {
		size_t n = 0;
		rc = sk_rel_verify_artifact(sk_repo_odb(ctx->repo), &rel->artifacts[i], &n, err);
		chunks += n;
	}
	if (!rc)
		*facts = json_pack("{s:o, s:s, s:s, s:I, s:I}", "release_oid",
				   sk_json_oid(&sig.sig.release), "signer", sig.sig.signer,
				   "signer_name", sig.signer_name, "artifacts",
				   (json_int_t)rel->nartifacts, "chunks", (json_int_t)chunks);
	sk_release_free(rel);
	return rc;
}

/* No other unfinished operation on the service; every stable target's
 * runner reports the stable release healthy. */
static int preflight_step(const struct sk_op_ctx *ctx, struct deploy *d, struct sk_service_state *st,
			json_t **facts, struct sk_err *err)
{
	json_t *canary = NULL, *stable = NULL, *seen = json_object();
	int rc = sk_opsvc_alone(ctx->repo, d->service, ctx->id, NULL, err);
	size_t i;
	json_t *o;
	split_targets(d, st->control, &canary, &stable);
	json_array_foreach(canary, i, o) {
		json_t *t = json_object_get(json_object_get(st->control, "targets"), json_string_value(o));
		if (!rc && !json_object_get(t, "addr"))
			rc = sk_err_set(err, SK_EINVAL, "skiff target add SERVICE T --addr HOST:PORT",
					"canary target %s has no address", json_string_value(o));
	}
	/* every member of a stateful service must be healthy before one moves */
	json_array_foreach(d->stateful ? d->canary : stable, i, o) {
		const char *name = json_string_value(o);
		struct sk_report *r = NULL;
		if (rc || !*d->from)
			break;
		if ((rc = sk_reports_load(ctx->repo, d->service, name, &r, err)) != 0)
			break;
		json_object_set_new(seen, name, json_pack("{s:s, s:s}", "state", r->state, "release",
							  r->release));
		if (strcmp(r->state, "healthy") != 0 || strcmp(r->release, d->from) != 0)
			rc = sk_err_set(err, SK_ECONFLICT,
					"skiff status SERVICE shows the targets; fix the stable ones first",
					"stable target %s is not healthy on %s (its runner reports %s %s)",
					name, d->from, r->state, *r->release ? r->release : "nothing");
		sk_report_free(r);
	}
	*facts = json_pack("{s:o, s:O}", "stable", seen, "canary", canary);
	json_decref(canary);
	json_decref(stable);
	return rc;
}

/* The canary targets run the release, at weight 0 while they start. */
static int assign_step(const struct sk_op_ctx *ctx, struct deploy *d, struct sk_service_state *st,
			json_t **facts, struct sk_err *err)
{
	int rc = 0;
	json_t *control = json_deep_copy(st->control);
	json_t *targets = json_object_get(control, "targets");
	size_t i;
	json_t *t;
	json_array_foreach(d->canary, i, t) {
		json_t *tg = json_object_get(targets, json_string_value(t));
		if (!tg) {
			rc = sk_err_set(err, SK_ENOTFOUND, "skiff target list SERVICE lists them",
					"%s has no target %s", d->service, json_string_value(t));
			break;
		}
		json_object_set_new(tg, "release", json_string(d->release));
		json_object_set_new(tg, "weight", json_integer(0));
	}
	char msg[200];
	snprintf(msg, sizeof(msg), "deploy %s: canary targets run it, no traffic yet", d->release);
	int changed = 0;
	json_t *traffic = NULL;
	if (!rc)
		rc = sk_opsvc_commit(ctx, st, control, msg, &changed, err);
	if (!rc)
		rc = sk_opsvc_apply_traffic(ctx, d->service, control, &traffic, err);
	if (!rc)
		*facts = json_pack("{s:O, s:b, s:o}", "targets", d->canary, "committed", changed,
				   "traffic", traffic);
	json_decref(control);
	return rc;
}

static int act_wait(const struct sk_op_ctx *ctx, json_t **facts, struct sk_err *err)
{
	struct deploy d;
	int rc = parse(ctx->params, &d, err);
	if (!rc)
		rc = wait_healthy(ctx, &d, d.canary, facts, err);
	deploy_clear(&d);
	return rc;
}

/* What a verdict means for the step: advance (0), pause (SK_EPAUSED),
 * or rollback: a failed step (compensation follows) when the release
 * says so, else a pause that recommends it. */
static int judge(const struct deploy *d, const char *decision, const json_t *reasons,
		 struct sk_err *err)
{
	const char *first = json_string_value(json_array_get(reasons, 0));
	char hint[200];
	snprintf(hint, sizeof(hint), "skiff rollback %s (or skiff resume ID to bake again)",
		 d->service);
	if (strcmp(decision, "advance") == 0)
		return 0;
	if (strcmp(decision, "pause") == 0)
		return pause_with(err, "skiff resume ID bakes again; skiff rollback SERVICE undoes it",
				  first ? first : "ambiguous signals");
	if (!d->auto_rollback)
		return pause_with(err, hint, first ? first : "a gate failed");
	return sk_err_set(err, SK_EFAIL, "skiff status SERVICE shows the signals",
			  "canary of %s failed its gates: %s; rolling back", d->release,
			  first ? first : "unsafe");
}

/* The live signals of a bake, for a terminal's progress view: written
 * to a temp file and renamed, best effort (a view, never truth); NULL
 * removes them when the bake ends. */
static void live_write(const struct sk_op_ctx *ctx, const json_t *live)
{
	char dir[4096], path[4200], tmp[4300];
	snprintf(dir, sizeof(dir), "%s/ops-live", sk_repo_path(ctx->repo));
	snprintf(path, sizeof(path), "%s/%s.json", dir, ctx->id);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!live) { /* the bake is over */
		unlink(path);
		return;
	}
	mkdir(dir, 0755);
	if (json_dump_file(live, tmp, JSON_COMPACT) == 0 && rename(tmp, path) != 0)
		unlink(tmp);
}

/* Bakes for bake_s seconds, keeping the lease and refreshing the live
 * view each second; SK_ECONFLICT when the operation was taken over
 * (a pause, a rollback). */
static int bake(const struct sk_op_ctx *ctx, const char *service, long bake_s, int weight,
		const json_t *canary, const json_t *before, struct sk_err *err)
{
	long long end = sk_opsvc_now_ms() + bake_s * 1000, next_live = 0;
	while (sk_opsvc_now_ms() < end) {
		int rc = sk_op_lease_check(ctx, err);
		if (rc)
			return rc;
		if (sk_opsvc_now_ms() >= next_live) {
			json_t *now = NULL;
			struct sk_err serr;
			if (sk_traffic_sample(ctx->repo, service, &now, &serr) == 0) {
				json_t *w = sk_canary_window(before, now, canary);
				json_t *live = json_pack("{s:s, s:i, s:I, s:o}", "step", ctx->step_name,
							 "weight", weight, "left_ms",
							 (json_int_t)(end - sk_opsvc_now_ms()), "canary", w);
				live_write(ctx, live);
				json_decref(live);
			}
			json_decref(now);
			next_live = sk_opsvc_now_ms() + 1000;
		}
		long long left = end - sk_opsvc_now_ms();
		sk_opsvc_sleep_ms(left < SK_OPSVC_POLL_MS ? (left > 0 ? (long)left : 0) : SK_OPSVC_POLL_MS);
	}
	live_write(ctx, NULL);
	return 0;
}

/* Canary runners that are not healthy on the release, as "T: why". */
static json_t *unhealthy_canaries(const struct deploy *d, const json_t *reports)
{
	json_t *out = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(d->canary, i, t) {
		const json_t *r = json_object_get(reports, json_string_value(t));
		const char *st = pstr(r, "state"), *rel = pstr(r, "release");
		if (!r)
			json_array_append_new(out, json_sprintf("%s: no runner report",
								json_string_value(t)));
		else if (strcmp(st, "healthy") != 0 || !rel || strcmp(rel, d->release) != 0)
			json_array_append_new(out, json_sprintf("%s: runner reports %s %s",
								json_string_value(t), st, rel ? rel : ""));
	}
	return out;
}

/* The weights for this step, committed and applied. */
static int set_weights(const struct sk_op_ctx *ctx, const struct deploy *d,
		       struct sk_service_state *st, int pct, json_t **traffic, struct sk_err *err)
{
	json_t *control = json_deep_copy(st->control), *canary, *stable;
	split_targets(d, control, &canary, &stable);
	int wc, ws;
	sk_canary_weights(pct, json_array_size(canary), json_array_size(stable), &wc, &ws);
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(control, "targets"), k, v)
		json_object_set_new(v, "weight", json_integer(is_canary(d, k) ? wc : ws));
	char msg[200];
	snprintf(msg, sizeof(msg), "deploy %s: %d%% of traffic on the canary", d->release, pct);
	int changed = 0;
	int rc = sk_opsvc_commit(ctx, st, control, msg, &changed, err);
	if (!rc)
		rc = sk_traffic_apply(ctx->repo, d->service, control, traffic, err);
	if (!rc)
		json_object_set_new(*traffic, "committed", json_boolean(changed));
	json_decref(control);
	json_decref(canary);
	json_decref(stable);
	return rc;
}

/* The release's gates (verified again: the step may run long after
 * verify, in another process). */
static int release_gates(struct sk_repo *repo, const struct deploy *d, json_t **gates,
			 struct sk_err *err)
{
	struct sk_rel_signed sig;
	struct sk_release *rel = NULL;
	*gates = NULL;
	int rc = sk_rel_load_signed(repo, d->service, d->release, &sig, &rel, err);
	if (rc)
		return rc;
	json_t *g = json_object_get(json_object_get(rel->doc, "canary"), "gates");
	*gates = g ? json_incref(g) : NULL;
	sk_release_free(rel);
	return 0;
}

/* One canary step: weights, bake, verdict. */
static int weight_step(const struct sk_op_ctx *ctx, struct deploy *d, struct sk_service_state *st,
		       json_t **facts, struct sk_err *err)
{
	size_t k = ctx->step - FIRST_WEIGHT_STEP;
	int pct = d->weight[k];
	json_t *traffic = NULL, *before = NULL, *after = NULL, *rb = NULL, *ra = NULL, *gates = NULL;
	json_t *canary, *stable;
	split_targets(d, st->control, &canary, &stable);
	int rc = set_weights(ctx, d, st, pct, &traffic, err);
	if (!rc)
		sk_op_killpoint("weights-applied");
	if (!rc)
		rc = sk_traffic_sample(ctx->repo, d->service, &before, err);
	if (!rc)
		rc = sk_reports_list(ctx->repo, d->service, &rb, err);
	if (!rc)
		rc = bake(ctx, d->service, d->bake_s[k], pct, canary, before, err);
	if (!rc)
		rc = sk_traffic_sample(ctx->repo, d->service, &after, err);
	if (!rc)
		rc = sk_reports_list(ctx->repo, d->service, &ra, err);
	if (rc == SK_ENOTFOUND || rc == SK_EUNREACHABLE) {
		*facts = json_pack("{s:i, s:s, s:[s]}", "weight", pct, "decision", "pause", "reasons",
				   err->message);
		rc = pause_with(err, "start the traffic provider (skiff traffic start SERVICE "
				"--listen HOST:PORT), then skiff resume ID",
				"the traffic provider did not answer: nothing can be judged");
	}
	if (!rc)
		rc = release_gates(ctx->repo, d, &gates, err);
	if (!rc) {
		json_t *wc = sk_canary_window(before, after, canary);
		json_t *wsd = json_array_size(stable) ? sk_canary_window(before, after, stable) : NULL;
		json_t *pats = sk_canary_patterns(rb, ra, canary, d->release);
		json_t *unh = unhealthy_canaries(d, ra);
		json_t *verdict = sk_canary_verdict(gates, wc, wsd, pats, unh);
		json_object_set_new(wc, "patterns", pats);
		*facts = json_pack("{s:i, s:O, s:O, s:o, s:o?, s:o, s:o}", "weight", pct, "decision",
				   json_object_get(verdict, "decision"), "reasons",
				   json_object_get(verdict, "reasons"), "canary", wc, "stable", wsd,
				   "traffic", traffic, "unhealthy", unh);
		traffic = NULL;
		rc = judge(d, pstr(verdict, "decision"), json_object_get(verdict, "reasons"), err);
		json_decref(verdict);
	}
	json_decref(traffic);
	json_decref(before);
	json_decref(after);
	json_decref(rb);
	json_decref(ra);
	json_decref(gates);
	json_decref(canary);
	json_decref(stable);
	return rc;
}


/* Every target runs the release; once each reports it healthy, it is the
 * stable release and every target takes an equal share. */
static int promote_step(const struct sk_op_ctx *ctx, struct deploy *d, struct sk_service_state *st,
			json_t **facts, struct sk_err *err)
{
	int rc = 0;
	json_t *control = json_deep_copy(st->control), *all = json_array(), *waited = NULL;
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(control, "targets"), k, v) {
		json_object_set_new(v, "release", json_string(d->release));
		json_array_append_new(all, json_string(k));
	}
	char msg[200];
	snprintf(msg, sizeof(msg), "deploy %s: every target runs it", d->release);
	int c1 = 0, c2 = 0;
	rc = sk_opsvc_commit(ctx, st, control, msg, &c1, err);
	if (!rc)
		rc = wait_and_reload(ctx, d, st, all, &waited, &control, err);
	json_t *traffic = NULL;
	if (!rc) {
		json_object_set_new(control, "release", json_string(d->release));
		json_object_foreach(json_object_get(control, "targets"), k, v)
			json_object_set_new(v, "weight", json_integer(SK_CONTROL_WEIGHT_MAX));
		snprintf(msg, sizeof(msg), "deploy %s: promoted (retires %s)", d->release,
			 *d->from ? d->from : "nothing");
		rc = sk_opsvc_commit(ctx, st, control, msg, &c2, err);
	}
	if (!rc)
		rc = sk_opsvc_apply_traffic(ctx, d->service, control, &traffic, err);
	if (!rc || rc == SK_EPAUSED)
		*facts = json_pack("{s:s, s:s?, s:b, s:O?, s:o?}", "stable", d->release, "retired",
				   *d->from ? d->from : NULL, "committed", c1 || c2, "runners", waited,
				   "traffic", traffic);
	json_decref(waited);
	json_decref(all);
	json_decref(control);
	return rc;
}

/* One member of a stateful service (a high-risk step, approved on its
 * own): out of traffic, onto the release, healthy, back into traffic at
 * the weight it had. Members go one at a time, in the order planned. */
static int member_step(const struct sk_op_ctx *ctx, struct deploy *d, struct sk_service_state *st,
			json_t **facts, struct sk_err *err)
{
	int rc = 0;
	const char *member = json_string_value(json_array_get(d->canary, ctx->step - 2));
	json_t *control = json_deep_copy(st->control), *waited = NULL, *t1 = NULL, *t2 = NULL;
	json_t *tg = json_object_get(json_object_get(control, "targets"), member);
	json_t *one = json_pack("[s]", member ? member : "");
	char msg[200];
	int c1 = 0, c2 = 0;
	if (!tg)
		rc = sk_err_set(err, SK_ENOTFOUND, "skiff target list SERVICE lists them",
				"%s has no member %s", d->service, member ? member : "?");
	/* back at the weight it had, or full weight when it had none (or 0:
	 * this step may have set that before an interruption) */
	json_t *w = tg ? json_object_get(tg, "weight") : NULL;
	int back = w && json_integer_value(w) > 0 ? (int)json_integer_value(w)
						  : SK_CONTROL_WEIGHT_MAX;
	const char *cur = tg ? json_string_value(json_object_get(tg, "release")) : NULL;
	if (!rc && (!cur || strcmp(cur, d->release) != 0)) {
		json_object_set_new(tg, "release", json_string(d->release));
		json_object_set_new(tg, "weight", json_integer(0));
		snprintf(msg, sizeof(msg), "deploy %s: member %s out of traffic, onto it", d->release,
			 member);
		if (!(rc = sk_opsvc_commit(ctx, st, control, msg, &c1, err)))
			rc = sk_opsvc_apply_traffic(ctx, d->service, control, &t1, err);
	}
	if (!rc)
		rc = wait_and_reload(ctx, d, st, one, &waited, &control, err);
	if (!rc) {
		tg = json_object_get(json_object_get(control, "targets"), member);
		json_object_set_new(tg, "weight", json_integer(back));
		snprintf(msg, sizeof(msg), "deploy %s: member %s healthy, back in traffic", d->release,
			 member);
		if (!(rc = sk_opsvc_commit(ctx, st, control, msg, &c2, err)))
			rc = sk_opsvc_apply_traffic(ctx, d->service, control, &t2, err);
	}
	if (!rc || rc == SK_EPAUSED)
		*facts = json_pack("{s:s?, s:b, s:O?, s:o?}", "member", member, "committed", c1 || c2,
				   "runners", waited, "traffic", t2 ? t2 : t1);
	if (t2)
		json_decref(t1);
	json_decref(waited);
	json_decref(one);
	json_decref(control);
	return rc;
}

/* restore: the releases, weights and stable release of the commit the
 * deploy was planned against go back; targets added since keep theirs
 * only if the parent did not know them (they get no release, weight 0). */
static int restore_step(const struct sk_op_ctx *ctx, struct deploy *d, struct sk_service_state *st,
			json_t **facts, struct sk_err *err)
{
	int rc = 0;
	json_t *before = NULL;
	if (*d->parent) {
		struct sk_oid oid;
		struct sk_commit c;
		rc = sk_oid_fromhex(&oid, d->parent, err);
		if (!rc)
			rc = sk_service_read_commit(ctx->repo, &oid, &c, &before, err);
	} else {
		before = sk_control_new(d->service);
	}
	json_t *control = rc ? NULL : json_deep_copy(st->control), *traffic = NULL;
	if (!rc) {
		json_t *rel = json_object_get(before, "release");
		json_object_set_new(control, "release", rel ? json_incref(rel) : json_null());
		if (!rel)
			json_object_del(control, "release");
		const json_t *bt = json_object_get(before, "targets");
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(control, "targets"), k, v) {
			const json_t *old = json_object_get(bt, k);
			json_t *orel = json_object_get(old, "release"), *ow = json_object_get(old, "weight");
			json_object_set_new(v, "release", orel ? json_incref(orel) : json_null());
			if (ow)
				json_object_set(v, "weight", ow);
			else if (old)
				json_object_del(v, "weight");
			else
				json_object_set_new(v, "weight", json_integer(0));
		}
	}
	char msg[200];
	snprintf(msg, sizeof(msg), "deploy %s rolled back: %s is stable again", d->release,
		 *d->from ? d->from : "nothing");
	int changed = 0;
	if (!rc)
		rc = sk_opsvc_commit(ctx, st, control, msg, &changed, err);
	if (!rc)
		rc = sk_opsvc_apply_traffic(ctx, d->service, control, &traffic, err);
	if (!rc)
		*facts = json_pack("{s:s?, s:b, s:o}", "stable", *d->from ? d->from : NULL, "committed",
				   changed, "traffic", traffic);
	json_decref(before);
	json_decref(control);
	return rc;
}

/* The steps that work on the service's state get it loaded, with the
 * params, and released after. */
typedef int (*deploy_step_fn)(const struct sk_op_ctx *ctx, struct deploy *d,
			      struct sk_service_state *st, json_t **facts, struct sk_err *err);

static int with_state(const struct sk_op_ctx *ctx, deploy_step_fn fn, json_t **facts,
		      struct sk_err *err)
{
	struct deploy d;
	struct sk_service_state st;
	int rc = with_deploy(ctx, &d, &st, err);
	if (rc)
		return rc;
	rc = fn(ctx, &d, &st, facts, err);
	sk_service_state_clear(&st);
	deploy_clear(&d);
	return rc;
}

#define DEPLOY_ACT(name)                                                                    \
	static int act_##name(const struct sk_op_ctx *ctx, json_t **facts, struct sk_err *err) \
	{                                                                                   \
		return with_state(ctx, name##_step, facts, err);                            \
	}
DEPLOY_ACT(preflight)
DEPLOY_ACT(assign)
DEPLOY_ACT(weight)
DEPLOY_ACT(promote)
DEPLOY_ACT(member)
DEPLOY_ACT(restore)

static void def(struct sk_op_step_def *s, const char *name, const char *risk, sk_op_act_fn act,
		int reversible)
{
	sk_opsvc_step(s, name, risk, act, reversible ? "restore" : NULL,
		      reversible ? act_restore : NULL);
}

static int plan(const json_t *params, struct sk_op_step_def *steps, size_t *n, struct sk_err *err)
{
	struct deploy d;
	int rc = parse(params, &d, err);
	if (rc)
		return rc;
	def(&steps[0], "verify", "none", act_verify, 0);
	def(&steps[1], "preflight", "none", act_preflight, 0);
	if (d.stateful) {
		*n = 2;
		for (size_t i = 0; i < json_array_size(d.canary) && *n < SK_OP_MAX_STEPS - 1; i++) {
			char name[32];
			snprintf(name, sizeof(name), "member-%zu", i + 1);
			def(&steps[*n], name, "high", act_member, 1);
			steps[(*n)++].approve_each = 1;
		}
		def(&steps[(*n)++], "promote", "medium", act_promote, 1);
		deploy_clear(&d);
		return 0;
	}
	def(&steps[2], "assign", "low", act_assign, 1);
	def(&steps[3], "wait-healthy", "none", act_wait, 0);
	*n = FIRST_WEIGHT_STEP;
	for (size_t i = 0; i < d.nsteps; i++) {
		char name[32];
		snprintf(name, sizeof(name), "weight-%d", d.weight[i]);
		def(&steps[(*n)++], name, "medium", act_weight, 1);
	}
	def(&steps[(*n)++], "promote", "medium", act_promote, 1);
	deploy_clear(&d);
	return 0;
}

const struct sk_op_type sk_op_type_deploy = {
	.kind = SK_DEPLOYOP_KIND,
	.summary = "ship a signed release: canary steps gated by live signals, then promote",
	.plan = plan,
};
