/*
 * Facts, hypotheses and recommendations (doctor.h).
 */
#include "observe/doctor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "observe/status.h"

struct dx {
	const json_t *ctx;
	const char *service, *repo;
	json_t *facts, *hyps, *recs;
};

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static long long jint(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void *must(void *p)
{
	if (!p)
		abort();
	return p;
}

/* Records a fact and returns its id (valid while dx lives). data is taken. */
__attribute__((format(printf, 5, 6))) static const char *
fact(struct dx *d, const char *source, const char *subject, json_t *data, const char *fmt, ...)
{
	char text[768], id[16];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	snprintf(id, sizeof(id), "F%zu", json_array_size(d->facts) + 1);
	json_t *f = must(json_pack("{s:s, s:s, s:o, s:s, s:o}", "id", id, "source", source,
				   "subject", sk_json_str(subject), "text", text, "data",
				   data ? data : json_object()));
	json_array_append_new(d->facts, f);
	return jstr(f, "id");
}

/* rests_on: a new array of fact ids (taken). Returns the hypothesis id. */
__attribute__((format(printf, 4, 5))) static const char *
hypo(struct dx *d, const char *confidence, json_t *rests_on, const char *fmt, ...)
{
	char text[768], id[16];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	snprintf(id, sizeof(id), "H%zu", json_array_size(d->hyps) + 1);
	json_t *h = must(json_pack("{s:s, s:s, s:s, s:o}", "id", id, "text", text, "confidence",
				   confidence, "rests_on", rests_on));
	json_array_append_new(d->hyps, h);
	return jstr(h, "id");
}

/* A recommendation for hypothesis h; the same command twice gains h. */
__attribute__((format(printf, 6, 7))) static void rec(struct dx *d, const char *h,
						      const char *risk, int reversible,
						      const char *why, const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	size_t i;
	json_t *r;
	json_array_foreach(d->recs, i, r)
		if (strcmp(jstr(r, "command"), cmd) == 0) {
			json_array_append_new(json_object_get(r, "addresses"), sk_json_str(h));
			return;
		}
	r = sk_status_next(cmd, risk, reversible, why);
	json_object_set_new(r, "addresses", must(json_pack("[s]", h)));
	json_array_append_new(d->recs, r);
}

static json_t *ids(const char *first, ...)
{
	json_t *a = json_array();
	va_list ap;
	va_start(ap, first);
	for (const char *s = first; s; s = va_arg(ap, const char *))
		json_array_append_new(a, sk_json_str(s));
	va_end(ap);
	return a;
}

/* --- observed ------------------------------------------------------------ */

/* Error counts of a group of servers (canary or stable) in a sample. */
struct rate {
	long long requests, errors;
	json_t *from; /* fact ids */
};

static long long bp(const struct rate *r)
{
	return r->requests ? r->errors * 10000 / r->requests : 0;
}

static void traffic_facts(struct dx *d, struct rate *canary, struct rate *stable,
			  const char **unreachable)
{
	const json_t *live = json_object_get(json_object_get(d->ctx, "traffic"), "live");
	const char *state = jstr(live, "state");
	if (!state || strcmp(state, "unavailable") == 0)
		return;
	if (strcmp(state, "ok") != 0) {
		const char *f = fact(d, "traffic", NULL, must(json_pack("{s:s}", "state", state)),
				     "haproxy for %s: %s%s%s", d->service, state,
				     jstr(live, "message") ? ": " : "",
				     jstr(live, "message") ? jstr(live, "message") : "");
		if (strcmp(state, "not-started") != 0)
			*unreachable = f;
		return;
	}
	const json_t *servers = json_object_get(live, "servers");
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(d->ctx, "targets"), i, t) {
		const json_t *s = json_object_get(servers, jstr(t, "target"));
		if (!s || !jstr(t, "release"))
			continue;
		long long req = jint(s, "requests"), e5 = jint(s, "hrsp_5xx");
		const char *f = fact(d, "traffic", jstr(t, "target"),
				     must(json_pack("{s:I, s:I, s:I, s:O}", "requests", (json_int_t)req,
						    "hrsp_5xx", (json_int_t)e5, "weight",
						    (json_int_t)jint(s, "weight"), "status",
						    json_object_get(s, "status"))),
				     "haproxy: %s (%s) served %lld requests, %lld 5xx, weight %lld, %s",
				     jstr(t, "target"), jstr(t, "release"), req, e5, jint(s, "weight"),
				     jstr(s, "status") ? jstr(s, "status") : "?");
		struct rate *r = json_is_true(json_object_get(t, "canary")) ? canary : stable;
		r->requests += req;
		r->errors += e5;
		json_array_append_new(r->from, sk_json_str(f));
	}
}

/* The newest analysed window a deploy recorded (a weight step's facts
 * with canary and stable counts), as facts. */
static void window_facts(struct dx *d, struct rate *canary, struct rate *stable,
			 const char **decision_fact, const char **decision)
{
	const json_t *events = json_object_get(d->ctx, "events");
	for (size_t i = json_array_size(events); i-- > 0;) {
		const json_t *e = json_array_get(events, i);
		const json_t *facts = json_object_get(e, "facts");
		const json_t *c = json_object_get(facts, "canary"), *s = json_object_get(facts, "stable");
		if (!json_is_object(c) || !json_is_object(s))
			continue;
		const char *f = fact(d, "operation", jstr(e, "step_name"), json_deep_copy(facts),
				     "step %s: canary %lld requests, %lld errors (%lld bp); stable "
				     "%lld requests, %lld errors (%lld bp); decision %s",
				     jstr(e, "step_name") ? jstr(e, "step_name") : "?",
				     jint(c, "requests"), jint(c, "errors"), jint(c, "error_rate_bp"),
				     jint(s, "requests"), jint(s, "errors"), jint(s, "error_rate_bp"),
				     jstr(facts, "decision") ? jstr(facts, "decision") : "-");
		/* a window replaces the cumulative counters: it is what the
		 * deploy judged */
		*canary = (struct rate){ jint(c, "requests"), jint(c, "errors"), canary->from };
		*stable = (struct rate){ jint(s, "requests"), jint(s, "errors"), stable->from };
		json_array_clear(canary->from);
		json_array_clear(stable->from);
		json_array_append_new(canary->from, sk_json_str(f));
		json_array_append_new(stable->from, sk_json_str(f));
		if (jstr(facts, "decision")) {
			*decision_fact = f;
			*decision = jstr(facts, "decision");
		}
		return;
	}
}

/* --- inferred ------------------------------------------------------------ */

static void canary_health(struct dx *d, const char *canary, json_t *against, int *bad_targets)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(d->ctx, "targets"), i, t) {
		const json_t *r = sk_status_report_of(t);
		if (!json_is_true(json_object_get(t, "canary")) || !r)
			continue;
		const char *st = jstr(r, "state");
		long long pattern_hits = 0;
		size_t k;
		json_t *p;
		json_array_foreach(json_object_get(json_object_get(r, "logs"), "patterns"), k, p)
			pattern_hits += jint(p, "count");
		if (strcmp(st, "crashed") == 0 || strcmp(st, "unhealthy") == 0 ||
		    jint(r, "restarts") > 0) {
			json_array_append_new(
				against, sk_json_str(fact(d, "report", jstr(t, "target"),
							  json_deep_copy(r),
							  "canary %s runs %s: %s, %lld restarts%s%s",
							  jstr(t, "target"), canary, st,
							  jint(r, "restarts"),
							  *jstr(r, "reason") ? ": " : "",
							  jstr(r, "reason"))));
			(*bad_targets)++;
		}
		if (pattern_hits > 0)
			json_array_append_new(
				against,
				sk_json_str(fact(d, "report", jstr(t, "target"),
						 json_deep_copy(json_object_get(r, "logs")),
						 "canary %s logged %lld lines matching the spec's "
						 "log patterns",
						 jstr(t, "target"), pattern_hits)));
	}
}

static void bad_release(struct dx *d, struct rate *canary, struct rate *stable,
			const char *decision_fact, const char *decision)
{
	const json_t *rel = json_object_get(d->ctx, "release");
	const char *cv = jstr(rel, "canary");
	if (!cv)
		return;
	json_t *against = json_array();
	int bad_targets = 0;
	if (canary->requests >= SK_DOCTOR_MIN_REQUESTS && bp(canary) >= SK_DOCTOR_ERROR_BP &&
	    bp(canary) >= bp(stable) + SK_DOCTOR_ERROR_BP)
		json_array_extend(against, canary->from);
	canary_health(d, cv, against, &bad_targets);
	if (decision && strcmp(decision, "rollback") == 0)
		json_array_append_new(against, sk_json_str(decision_fact));
	if (json_array_size(against) == 0) {
		json_decref(against);
		return;
	}
	const char *conf = json_array_size(against) >= 2 ? "high" : "medium";
	const char *h = hypo(d, conf, against,
			     "release %s is bad: its canary fails where stable %s does not "
			     "(5xx %lld bp vs %lld bp)",
			     cv, jstr(rel, "stable") ? jstr(rel, "stable") : "(none)", bp(canary),
			     bp(stable));
	rec(d, h, "medium", 1, "take the canary back to the stable release", "skiff rollback %s",
	    d->service);
}

static void runners(struct dx *d)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(d->ctx, "targets"), i, t) {
		const char *name = jstr(t, "target");
		const json_t *r = sk_status_report_of(t);
		const char *rn = jstr(t, "runner");
		if (!r && !jstr(t, "report_error")) {
			const char *f = fact(d, "report", name, NULL,
					     "no runner ever reported for %s", name);
			const char *h = hypo(d, "high", ids(f, NULL),
					     "the runner for %s was never started", name);
			rec(d, h, "low", 1, "start it", "skiff-runner --service %s --target %s --repo %s",
			    d->service, name, d->repo);
			continue;
		}
		if (!r) {
			const char *f = fact(d, "report", name, NULL,
					     "the report of %s does not verify: %s", name,
					     jstr(t, "report_error"));
			const char *h = hypo(d, "medium", ids(f, NULL),
					     "refs/runners/%s/%s was written by a key without the "
					     "runner role, or damaged",
					     d->service, name);
			rec(d, h, "none", 1, "see who signed what", "skiff verify-ref "
			    "refs/runners/%s/%s --chain", d->service, name);
			continue;
		}
		const char *st = jstr(r, "state");
		const char *f = fact(d, "report", name, json_deep_copy(r),
				     "%s reported %s running %s, %lld s ago%s%s", name, st,
				     jstr(r, "release") ? jstr(r, "release") : "nothing", jint(r, "age_s"),
				     *jstr(r, "reason") ? ": " : "", jstr(r, "reason"));
		if (rn && strcmp(rn, "not-running") == 0 && strcmp(st, "stopped") != 0) {
			const char *g = fact(d, "runner", name, NULL,
					     "no live process holds %s's runner.pid", name);
			const char *h = hypo(d, "high", ids(f, g, NULL),
					     "the runner for %s is down (its last report is not a stop)",
					     name);
			rec(d, h, "low", 1, "restart it",
			    "skiff-runner --service %s --target %s --repo %s", d->service, name, d->repo);
		} else if (rn && strcmp(rn, "unknown") == 0 && jint(r, "age_s") > SK_STATUS_STALE_S) {
			const char *h = hypo(d, "low", ids(f, NULL),
					     "the runner for %s may be down (no report for %lld s)",
					     name, jint(r, "age_s"));
			rec(d, h, "none", 1, "look at the runner's host", "skiff status %s",
			    d->service);
		}
		if (strcmp(st, "refused-unverified") == 0) {
			const char *want = jstr(t, "release") ? jstr(t, "release") : "?";
			const char *h = hypo(d, "high", ids(f, NULL),
					     "release %s does not verify on %s: a tampered artifact or "
					     "a signer without the role",
					     want, name);
			rec(d, h, "none", 1, "see exactly what fails", "skiff release verify %s %s",
			    d->service, want);
		}
	}
}

static void stable_down(struct dx *d)
{
	json_t *on = json_array();
	long long stable_n = 0;
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(d->ctx, "targets"), i, t) {
		const json_t *r = sk_status_report_of(t);
		if (json_is_true(json_object_get(t, "canary")) || !jstr(t, "release"))
			continue;
		stable_n++;
		if (r && (strcmp(jstr(r, "state"), "unhealthy") == 0 ||
			  strcmp(jstr(r, "state"), "crashed") == 0))
			json_array_append_new(
				on, sk_json_str(fact(d, "report", jstr(t, "target"), NULL,
						     "stable target %s is %s", jstr(t, "target"),
						     jstr(r, "state"))));
	}
	if (json_array_size(on) == 0) {
		json_decref(on);
		return;
	}
	const char *h = hypo(d, (long long)json_array_size(on) == stable_n ? "medium" : "low", on,
			     "something outside the release fails (the stable release fails too): "
			     "a dependency, the host, or the configuration");
	rec(d, h, "none", 1, "read what the workloads say", "skiff logs %s -n 100", d->service);
}

static void paused(struct dx *d)
{
	const json_t *op = json_object_get(d->ctx, "operation");
	if (!json_is_object(op))
		return;
	const char *id = jstr(op, "id"), *state = jstr(op, "state");
	const json_t *step = json_object_get(op, "step");
	const char *f = fact(d, "operation", id,
			     must(json_pack("{s:O, s:O, s:O}", "kind", json_object_get(op, "kind"),
					    "state", json_object_get(op, "state"), "step",
					    json_object_get(step, "name"))),
			     "operation %s %s is %s at step %s", jstr(op, "kind"), id, state,
			     jstr(step, "name") ? jstr(step, "name") : "-");
	if (strcmp(state, "awaiting-approval") == 0) {
		const char *h = hypo(d, "high", ids(f, NULL),
				     "operation %s waits for a second person's approval", id);
		rec(d, h, "none", 1, "an approver (not the requester) approves", "skiff approve %s",
		    id);
		return;
	}
	if (strcmp(state, "paused") != 0) {
		if (strcmp(state, "failed") == 0 || strcmp(state, "compensating") == 0) {
			const char *h = hypo(d, "high", ids(f, NULL),
					     "operation %s stopped half-way and was not compensated",
					     id);
			rec(d, h, "medium", 1, "finish its compensation", "skiff resume %s", id);
		}
		return;
	}
	const json_t *events = json_object_get(d->ctx, "events");
	const json_t *facts = NULL;
	for (size_t i = json_array_size(events); i-- > 0 && !facts;)
		if (strcmp(jstr(json_array_get(events, i), "kind"), "paused") == 0)
			facts = json_object_get(json_array_get(events, i), "facts");
	char reasons[512] = "";
	size_t off = 0, i;
	json_t *r;
	int few = 0;
	json_array_foreach(json_object_get(facts, "reasons"), i, r) {
		const char *s = json_string_value(r);
		if (!s)
			continue;
		if (off < sizeof(reasons))
			off += (size_t)snprintf(reasons + off, sizeof(reasons) - off, "%s%s",
						i ? "; " : "", s);
		few |= strstr(s, "request") != NULL;
	}
	const char *g = facts ? fact(d, "operation", id, json_deep_copy(facts),
				     "the operation paused: %s", *reasons ? reasons : "no reason given")
			      : f;
	const char *h;
	if (few) {
		const char *listen = jstr(json_object_get(json_object_get(d->ctx, "traffic"), "live"),
					  "listen");
		h = hypo(d, "high", g != f ? ids(f, g, NULL) : ids(f, NULL),
			 "too little traffic reached the canary to judge it%s%s",
			 listen ? "; send load to " : "", listen ? listen : "");
	} else {
		h = hypo(d, "medium", g != f ? ids(f, g, NULL) : ids(f, NULL),
			 "the canary's signals were ambiguous: a person decides");
	}
	json_array_foreach(json_object_get(facts, "recommend"), i, r)
		if (jstr(r, "command") && jstr(r, "risk") && strlen(jstr(r, "command")) < 400)
			rec(d, h, jstr(r, "risk"), json_is_true(json_object_get(r, "reversible")),
			    "what the operation recommended", "%s", jstr(r, "command"));
	rec(d, h, "medium", 1, "continue once the signals are good", "skiff resume %s", id);
	rec(d, h, "medium", 1, "or give it up, undoing what it did", "skiff cancel %s", id);
}

/* The last deploy failed a step and was rolled back: what the step saw is
 * a fact, and the release it shipped the first suspect. */
static void rolled_back(struct dx *d)
{
	const json_t *lo = json_object_get(d->ctx, "last_operation");
	const json_t *failed = json_object_get(lo, "failed");
	const char *id = jstr(lo, "id"), *rel = jstr(lo, "release");
	if (!failed || !id || !rel || strcmp(jstr(lo, "kind"), "deploy") != 0)
		return;
	const json_t *res = json_object_get(failed, "result");
	const char *why = json_string_value(json_array_get(json_object_get(res, "reasons"), 0));
	if (!why)
		why = jstr(res, "error") ? jstr(res, "error") : "unknown";
	const char *f = fact(d, "operation", id, json_deep_copy(res),
			     "deploy %s of %s failed at %s (%s) and is %s", id, rel,
			     jstr(failed, "step"), why, jstr(lo, "state"));
	const char *h = hypo(d, "high", ids(f, NULL), "release %s is bad: %s", rel, why);
	rec(d, h, "none", 1, "every decision with the signals behind it", "skiff op events %s", id);
	rec(d, h, "none", 1, "what the release wrote while it ran", "skiff logs %s --release %s -n 50",
	    d->service, rel);
}

json_t *sk_doctor_diagnose(const json_t *ctx)
{
	struct dx d = { .ctx = ctx, .service = jstr(ctx, "service"),
			.repo = jstr(ctx, "repo") ? jstr(ctx, "repo") : ".", .facts = json_array(),
			.hyps = json_array(), .recs = json_array() };
	if (!d.service || !d.facts || !d.hyps || !d.recs)
		abort();
	const json_t *rel = json_object_get(ctx, "release");
	fact(&d, "control", NULL, json_deep_copy(rel), "stable release %s, canary %s%s",
	     jstr(rel, "stable") ? jstr(rel, "stable") : "none",
	     jstr(rel, "canary") ? jstr(rel, "canary") : "none",
	     json_array_size(json_object_get(ctx, "targets")) ? "" : ", no targets");
	struct rate canary = { 0, 0, json_array() }, stable = { 0, 0, json_array() };
	const char *unreachable = NULL, *decision_fact = NULL, *decision = NULL;
	paused(&d);
	runners(&d);
	traffic_facts(&d, &canary, &stable, &unreachable);
	window_facts(&d, &canary, &stable, &decision_fact, &decision);
	bad_release(&d, &canary, &stable, decision_fact, decision);
	rolled_back(&d);
	stable_down(&d);
	if (unreachable) {
		const char *listen = jstr(json_object_get(json_object_get(ctx, "traffic"), "live"),
					  "listen");
		const char *h = hypo(&d, "high", ids(unreachable, NULL),
				     "haproxy for %s is down: no traffic reaches any target",
				     d.service);
		rec(&d, h, "low", 1, "start it again from the recorded configuration",
		    "skiff traffic start %s --listen %s", d.service, listen ? listen : "HOST:PORT");
	}
	json_decref(canary.from);
	json_decref(stable.from);
	if (json_array_size(d.hyps) == 0) {
		json_t *all = json_array();
		size_t i;
		json_t *f;
		json_array_foreach(d.facts, i, f)
			json_array_append(all, json_object_get(f, "id"));
		rec(&d, hypo(&d, "medium", all, "nothing looks wrong"), "none", 1,
		    "the whole picture", "skiff status %s", d.service);
	}
	return must(json_pack("{s:s, s:o, s:o, s:o}", "service", d.service, "facts", d.facts,
			      "hypotheses", d.hyps, "recommendations", d.recs));
}
