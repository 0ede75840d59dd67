/*
 * Findings and next safe commands from a context packet (status.h). Pure:
 * it reads the packet and nothing else, so tests feed it any situation.
 * Each finding has a stable code for agents and a sentence for people;
 * "next" lists commands in the order to try them, each with its risk.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "observe/status.h"

struct an {
	json_t *ctx;
	json_t *findings, *next;
	const char *service, *repo;
	long long now_ms;
};

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static long long jint(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

__attribute__((format(printf, 5, 6))) static void find(struct an *a, const char *code,
							const char *severity, const char *subject,
							const char *fmt, ...)
{
	char text[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	json_t *f = json_pack("{s:s, s:s, s:o, s:s}", "code", code, "severity", severity, "subject",
			      sk_json_str(subject), "text", text);
	if (!f)
		abort();
	json_array_append_new(a->findings, f);
}

/* Adds a next command unless the same command is already there. */
__attribute__((format(printf, 5, 6))) static void next(struct an *a, const char *risk,
							int reversible, const char *why,
							const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	size_t i;
	json_t *n;
	json_array_foreach(a->next, i, n)
		if (strcmp(jstr(n, "command"), cmd) == 0)
			return;
	json_array_append_new(a->next, sk_status_next(cmd, risk, reversible, why));
}

static void when(long long ms, char *buf, size_t n)
{
	sk_out_time(ms / 1000, buf, n);
}

/* --- targets ------------------------------------------------------------ */

static void target_report(struct an *a, const json_t *t)
{
	const char *name = jstr(t, "target");
	const json_t *r = sk_status_report_of(t);
	const char *runner = jstr(t, "runner");
	char ts[32];
	if (!r) {
		if (jstr(t, "report_error")) {
			find(a, "report-invalid", "error", name,
			     "target %s: its runner's report does not verify: %s", name,
			     jstr(t, "report_error"));
			next(a, "none", 1, "check the runner ref's records", "skiff verify-ref "
			     "refs/runners/%s/%s --chain", a->service, name);
			return;
		}
		find(a, "target-no-report", "warning", name,
		     "target %s has no runner report: its runner never started", name);
		next(a, "low", 1, "start the target's runner",
		     "skiff-runner --service %s --target %s --repo %s", a->service, name, a->repo);
		return;
	}
	const char *state = jstr(r, "state");
	const char *reason = jstr(r, "reason");
	const char *rel = jstr(r, "release");
	when(jint(r, "time_ms"), ts, sizeof(ts));
	int bad = strcmp(state, "unhealthy") == 0 || strcmp(state, "crashed") == 0;
	if (bad)
		find(a, "target-unhealthy", "error", name, "target %s %s since %s (release %s%s%s)",
		     name, state, ts, rel ? rel : "none", reason && *reason ? "): " : "",
		     reason && *reason ? reason : "");
	else if (strcmp(state, "refused-unverified") == 0)
		find(a, "target-refused", "error", name,
		     "target %s refused release %s: it could not be verified%s%s", name,
		     jstr(t, "release") ? jstr(t, "release") : "?", reason && *reason ? ": " : "",
		     reason && *reason ? reason : "");
	else if (strcmp(state, "stopped") == 0 && jstr(t, "release"))
		find(a, "target-stopped", "warning", name, "target %s is stopped since %s", name, ts);
	if (strcmp(state, "refused-unverified") == 0 && jstr(t, "release"))
		next(a, "none", 1, "see why the release does not verify",
		     "skiff release verify %s %s", a->service, jstr(t, "release"));
	if (jint(r, "restarts") > 0 && !bad)
		find(a, "target-restarts", "info", name, "target %s restarted %lld times", name,
		     jint(r, "restarts"));
	const char *want = jstr(t, "release");
	if (want && (!rel || strcmp(rel, want) != 0) && strcmp(state, "refused-unverified") != 0)
		find(a, "target-release-mismatch", "warning", name,
		     "target %s runs %s, control assigns %s (%s)", name, rel ? rel : "nothing", want,
		     state);
	if (strcmp(runner, "not-running") == 0 && strcmp(state, "stopped") != 0) {
		find(a, "runner-down", "error", name,
		     "the runner for %s is down (last report %s: %s)", name, ts, state);
		next(a, "low", 1, "restart the target's runner",
		     "skiff-runner --service %s --target %s --repo %s", a->service, name, a->repo);
	} else if (strcmp(runner, "unknown") == 0 && jint(r, "age_s") > SK_STATUS_STALE_S) {
		find(a, "report-stale", "warning", name,
		     "target %s last reported %lld s ago (%s): is its runner alive?", name,
		     jint(r, "age_s"), ts);
	}
}

static void targets(struct an *a)
{
	const json_t *ts = json_object_get(a->ctx, "targets");
	if (json_array_size(ts) == 0) {
		find(a, "no-targets", "warning", NULL, "service %s has no targets", a->service);
		next(a, "low", 1, "give the service a target",
		     "skiff target add %s TARGET --addr HOST:PORT", a->service);
		return;
	}
	size_t i;
	json_t *t;
	json_array_foreach(ts, i, t)
		target_report(a, t);
}

/* --- releases and traffic ------------------------------------------------- */

static long long percent_of(const json_t *split, const char *release)
{
	size_t i;
	json_t *s;
	json_array_foreach(split, i, s)
		if (jstr(s, "release") && release && strcmp(jstr(s, "release"), release) == 0)
			return jint(s, "percent");
	return 0;
}

static void releases(struct an *a)
{
	const json_t *rel = json_object_get(a->ctx, "release");
	const char *stable = jstr(rel, "stable"), *canary = jstr(rel, "canary");
	const char *newest = jstr(rel, "newest");
	const json_t *tr = json_object_get(a->ctx, "traffic");
	const json_t *split = json_object_get(json_object_get(tr, "control"), "split");
	if (canary) {
		char names[256] = "";
		size_t i, off = 0;
		json_t *t;
		json_array_foreach(json_object_get(rel, "canary_targets"), i, t)
			off += (size_t)snprintf(names + off, off < sizeof(names) ? sizeof(names) - off : 0,
						"%s%s", i ? "," : "", json_string_value(t));
		find(a, "canary", "info", canary, "canary runs %s on %s at %lld%%", canary, names,
		     percent_of(split, canary));
	}
	if (!stable && json_array_size(json_object_get(a->ctx, "targets")))
		find(a, "no-stable-release", "info", NULL, "service %s has no stable release yet",
		     a->service);
	if (!newest)
		find(a, "no-signed-release", "info", NULL, "service %s has no signed release",
		     a->service);
}

static void traffic(struct an *a)
{
	const json_t *live = json_object_get(json_object_get(a->ctx, "traffic"), "live");
	const char *state = jstr(live, "state");
	const char *listen = jstr(live, "listen");
	if (!state || strcmp(state, "unavailable") == 0)
		return;
	if (strcmp(state, "not-started") == 0) {
		find(a, "traffic-not-started", "info", NULL,
		     "no load balancer runs for %s (traffic was never started)", a->service);
		return;
	}
	if (strcmp(state, "ok") != 0) {
		find(a, "traffic-unreachable", "error", NULL, "haproxy for %s is %s: %s", a->service,
		     strcmp(state, "unreachable") == 0 ? "unreachable" : "failing",
		     jstr(live, "message") ? jstr(live, "message") : "");
		next(a, "low", 1, "start the load balancer again", "skiff traffic start %s --listen %s",
		     a->service, listen ? listen : "HOST:PORT");
		return;
	}
	const json_t *servers = json_object_get(live, "servers");
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(a->ctx, "targets"), i, t) {
		const char *name = jstr(t, "target");
		const json_t *s = json_object_get(servers, name);
		if (!s) {
			find(a, "server-missing", "warning", name,
			     "haproxy has no server for target %s", name);
			continue;
		}
		const char *st = jstr(s, "status");
		const char *rs = jstr(json_object_get(t, "report"), "state");
		if (st && strncmp(st, "DOWN", 4) == 0 && jstr(t, "release"))
			find(a, "server-down", rs && strcmp(rs, "healthy") == 0 ? "warning" : "error",
			     name, "haproxy marks %s DOWN (check: %s)", name,
			     jstr(s, "check_status") ? jstr(s, "check_status") : "-");
		const json_t *w = json_object_get(t, "weight");
		if (json_is_integer(w) && json_integer_value(w) != json_integer_value(
						   json_object_get(s, "weight")))
			find(a, "weight-drift", "warning", name,
			     "haproxy weight of %s is %lld, control says %lld", name,
			     jint(s, "weight"), (long long)json_integer_value(w));
	}
}

/* --- the operation ------------------------------------------------------- */

/* The newest event of kind, or NULL. */
static const json_t *last_event(const json_t *events, const char *kind)
{
	for (size_t i = json_array_size(events); i-- > 0;)
		if (strcmp(jstr(json_array_get(events, i), "kind"), kind) == 0)
			return json_array_get(events, i);
	return NULL;
}

static void reasons_text(const json_t *facts, char *buf, size_t n)
{
	size_t off = 0, i;
	json_t *r;
	buf[0] = '\0';
	json_array_foreach(json_object_get(facts, "reasons"), i, r)
		if (json_is_string(r) && off < n)
			off += (size_t)snprintf(buf + off, n - off, "%s%s", i ? "; " : "",
						json_string_value(r));
}

/* The recommendations a paused deploy recorded, as next commands. */
static void recommended(struct an *a, const json_t *facts)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(facts, "recommend"), i, r) {
		const char *cmd = jstr(r, "command"), *risk = jstr(r, "risk");
		if (cmd && risk && strlen(cmd) < 400)
			next(a, risk, json_is_true(json_object_get(r, "reversible")),
			     "recommended by the operation when it paused", "%s", cmd);
	}
}

static void operation(struct an *a)
{
	const json_t *op = json_object_get(a->ctx, "operation");
	if (!op || json_is_null(op))
		return;
	const char *id = jstr(op, "id"), *state = jstr(op, "state"), *kind = jstr(op, "kind");
	const json_t *step = json_object_get(op, "step");
	const char *sname = jstr(step, "name") ? jstr(step, "name") : "-";
	const json_t *events = json_object_get(a->ctx, "events");
	char why[512];
	if (strcmp(state, "paused") == 0) {
		const json_t *p = last_event(events, "paused");
		const json_t *facts = p ? json_object_get(p, "facts") : NULL;
		reasons_text(facts, why, sizeof(why));
		find(a, "operation-paused", "warning", id, "operation paused: %s %s at %s%s%s", kind,
		     id, sname, *why ? ": " : "", why);
		recommended(a, facts);
		next(a, "medium", 1, "continue the operation once its signals are good",
		     "skiff resume %s", id);
		next(a, "medium", 1, "or give it up, undoing what it did", "skiff cancel %s", id);
	} else if (strcmp(state, "awaiting-approval") == 0) {
		find(a, "operation-awaiting-approval", "warning", id,
		     "operation %s %s waits for approval at %s (risk %s)", kind, id, sname,
		     jstr(step, "risk") ? jstr(step, "risk") : "high");
		next(a, "none", 1, "an approver (not the requester) approves the plan",
		     "skiff approve %s", id);
		next(a, "medium", 1, "then continue it", "skiff resume %s", id);
	} else if (strcmp(state, "failed") == 0 || strcmp(state, "compensating") == 0) {
		find(a, "operation-failed", "error", id, "operation %s %s %s at %s", kind, id, state,
		     sname);
		next(a, "medium", 1, "finish compensating it", "skiff resume %s", id);
	} else {
		find(a, "operation-active", "info", id, "operation %s %s is %s, step %lld/%lld %s",
		     kind, id, state, jint(step, "index") + 1, jint(op, "steps"), sname);
		next(a, "none", 1, "watch it", "skiff op events %s --follow", id);
	}
}

/* The service's last operation was a deploy of release that ended
 * compensated or cancelled: not a release to recommend again. */
static int rolled_back(const struct an *a, const char *release)
{
	const json_t *lo = json_object_get(a->ctx, "last_operation");
	const char *st = jstr(lo, "state"), *rel = jstr(lo, "release");
	return st && rel && strcmp(rel, release) == 0 &&
	       (strcmp(st, "compensated") == 0 || strcmp(st, "cancelled") == 0);
}

static void quiet_next(struct an *a)
{
	const json_t *rel = json_object_get(a->ctx, "release");
	const char *stable = jstr(rel, "stable"), *newest = jstr(rel, "newest");
	const json_t *op = json_object_get(a->ctx, "operation");
	if (op && !json_is_null(op))
		return;
	if (jstr(rel, "canary")) {
		next(a, "medium", 1, "move all traffic to the canary release", "skiff promote %s",
		     a->service);
		next(a, "medium", 1, "or take the canary back", "skiff rollback %s", a->service);
	} else if (newest && rolled_back(a, newest)) {
		const char *id = jstr(json_object_get(a->ctx, "last_operation"), "id");
		find(a, "release-rolled-back", "warning", newest,
		     "the deploy of %s was rolled back (operation %s)", newest, id);
		next(a, "none", 1, "see the signals that stopped it", "skiff op events %s", id);
		next(a, "none", 1, "or ask for a diagnosis", "skiff doctor %s", a->service);
	} else if (newest && (!stable || strcmp(newest, stable) != 0) &&
		   json_array_size(json_object_get(a->ctx, "targets"))) {
		find(a, "newer-release", "info", newest, "release %s is signed and not deployed",
		     newest);
		next(a, "medium", 1, "deploy it as a canary", "skiff deploy %s --release %s --canary",
		     a->service, newest);
	}
}

void sk_status_analyse(json_t *ctx, long long now_ms)
{
	struct an a = { .ctx = ctx, .findings = json_array(), .next = json_array(),
			.service = jstr(ctx, "service"),
			.repo = jstr(ctx, "repo") ? jstr(ctx, "repo") : ".", .now_ms = now_ms };
	if (!a.findings || !a.next || !a.service)
		abort();
	operation(&a); /* first: an operation in flight decides what is safe next */
	targets(&a);
	releases(&a);
	traffic(&a);
	quiet_next(&a);
	if (json_array_size(a.next) == 0)
		next(&a, "none", 1, "read the workload's logs", "skiff logs %s -n 50", a.service);
	json_object_set_new(ctx, "findings", a.findings);
	json_object_set_new(ctx, "next", a.next);
}
