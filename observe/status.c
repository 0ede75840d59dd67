/*
 * Collecting a service's context packet (status.h): heads only.
 */
#include "observe/status.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cloud/traffic.h"
#include "common/cli.h"
#include "objects/odb.h"
#include "runner/workload.h"
#include "objects/report.h"
#include "objects/state.h"
#include "observe/live.h"
#include "ops/engine.h"
#include "ops/opindex.h"
#include "refs/refs.h"
#include "refs/service.h"

static void *must(void *p)
{
	if (!p)
		abort();
	return p;
}

long long sk_status_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

json_t *sk_status_next(const char *command, const char *risk, int reversible, const char *why)
{
	return must(json_pack("{s:s, s:s, s:b, s:b, s:s}", "command", command, "risk", risk,
			      "reversible", reversible, "approval", strcmp(risk, "high") == 0,
			      "why", why ? why : ""));
}

/* A new reference to v, or null when absent. */
static json_t *opt(const json_t *v)
{
	return v ? json_incref((json_t *)v) : json_null();
}

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* --- releases ---------------------------------------------------------- */

/* Newest first: record time, then version order (1.10 after 1.9). */
static int rec_cmp(const void *a, const void *b)
{
	const struct sk_refrecord *x = a, *y = b;
	if (x->time != y->time)
		return x->time > y->time ? -1 : 1;
	return -strverscmp(x->ref, y->ref);
}

/* The newest signed releases: their ref records, each verified against
 * the trust policy (signature, release-signer role for that ref). The
 * signature objects are not re-read: `skiff release verify` does that. */
static int collect_releases(struct sk_repo *repo, const char *service, json_t *rel,
			    struct sk_err *err)
{
	char pattern[SK_REF_MAX + 1];
	snprintf(pattern, sizeof(pattern), "refs/releases/%s/*", service);
	struct sk_refrecord *recs = NULL;
	size_t n = 0;
	struct sk_trust *policy = NULL;
	int rc = sk_refs_list(repo, pattern, 0, &recs, &n, err);
	if (!rc && n)
		rc = sk_refs_load_trust(repo, &policy, err);
	if (rc) {
		free(recs);
		return rc;
	}
	qsort(recs, n, sizeof(*recs), rec_cmp);
	json_t *signed_ = json_array();
	size_t prefix = strlen(pattern) - 1;
	for (size_t i = 0; i < n && json_array_size(signed_) < SK_STATUS_RELEASES; i++) {
		struct sk_err ignore;
		if (sk_refs_verify_record(policy, &recs[i], &ignore) < 0)
			continue; /* not signed by a release signer: not a release */
		json_array_append_new(signed_,
				      must(json_pack("{s:s, s:o, s:s, s:I}", "version",
						     recs[i].ref + prefix, "signature",
						     sk_json_oid(&recs[i].oid), "signer",
						     recs[i].signer, "time", (json_int_t)recs[i].time)));
	}
	json_object_set_new(rel, "newest",
			    json_array_size(signed_)
				    ? json_incref(json_object_get(json_array_get(signed_, 0),
								  "version"))
				    : json_null());
	json_object_set_new(rel, "signed", signed_);
	free(recs);
	sk_trust_free(policy);
	return 0;
}

/* --- targets and reports ----------------------------------------------- */

/* Is the local runner of service/target alive? Its runner.pid exists while
 * it runs (and stays behind when it was killed). "unknown": no local run
 * directory, so the runner lives elsewhere. */
static const char *runner_liveness(struct sk_repo *repo, const char *service, const char *target)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/run/%s/%s", sk_repo_path(repo), service, target);
	if (access(path, F_OK) != 0)
		return "unknown";
	snprintf(path, sizeof(path), "%s/run/%s/%s/runner.pid", sk_repo_path(repo), service,
		 target);
	FILE *f = fopen(path, "r");
	if (!f)
		return "not-running";
	long long pid = 0;
	int ok = fscanf(f, "%lld", &pid) == 1;
	fclose(f);
	if (!ok || pid <= 0 || pid > 0x7fffffff)
		return "not-running";
	if (kill((pid_t)pid, 0) != 0 && errno == EPERM)
		return "running"; /* another user's: alive */
	/* a zombie (killed, with nobody to reap it) runs nothing */
	return sk_runner_pid_gone((pid_t)pid) ? "not-running" : "running";
}

static json_t *report_json(const json_t *doc, long long now_ms)
{
	long long t = (long long)json_integer_value(json_object_get(doc, "time_ms"));
	long long age = now_ms > t ? (now_ms - t) / 1000 : 0;
	return must(json_pack("{s:O, s:O, s:I, s:I, s:O, s:O, s:O, s:O, s:O, s:O}", "state",
			      json_object_get(doc, "state"), "release",
			      json_object_get(doc, "release"), "time_ms", (json_int_t)t, "age_s",
			      (json_int_t)age, "restarts", json_object_get(doc, "restarts"),
			      "reason", json_object_get(doc, "reason"), "pid",
			      json_object_get(doc, "pid"), "trace", json_object_get(doc, "trace"),
			      "health", json_object_get(doc, "health"), "logs",
			      json_object_get(doc, "logs")));
}

/* What the runbooks keep on a target: drained, its group and whether it
 * stands by (failover), the data a restore put there, pinned secrets. */
static void runbook_fields(json_t *o, const json_t *control, const char *name, const json_t *t)
{
	const json_t *pins = json_object_get(t, "secrets");
	json_object_set_new(o, "drain", json_boolean(json_is_true(json_object_get(t, "drain"))));
	json_object_set_new(o, "group", opt(json_object_get(t, "group")));
	json_object_set_new(o, "standby", json_boolean(sk_traffic_standby(control, name)));
	json_object_set_new(o, "data", opt(json_object_get(t, "data")));
	json_object_set_new(o, "secrets", pins ? json_deep_copy(pins) : json_object());
}

static json_t *target_json(struct sk_repo *repo, const char *service, const char *name,
			   const json_t *control, const json_t *t, const json_t *stable,
			   long long now_ms)
{
	const json_t *rel = json_object_get(t, "release");
	int canary = json_is_string(rel) && !json_equal((json_t *)rel, (json_t *)stable);
	json_t *o = must(json_pack("{s:s, s:o, s:o, s:o, s:b, s:s}", "target", name, "addr",
				   opt(json_object_get(t, "addr")),
				   "release", json_is_string(rel) ? json_incref((json_t *)rel)
								  : json_null(),
				   "weight",
				   opt(json_object_get(t, "weight")),
				   "canary", canary, "runner",
				   runner_liveness(repo, service, name)));
	runbook_fields(o, control, name, t);
	json_t *doc = NULL;
	struct sk_err rerr;
	sk_err_clear(&rerr);
	int rc = sk_live_report(repo, service, name, &doc, &rerr);
	json_object_set_new(o, "report", rc == 0 ? report_json(doc, now_ms) : json_null());
	json_object_set_new(o, "report_error",
			    rc == 0 || rc == SK_ENOTFOUND ? json_null() : sk_json_str(rerr.message));
	json_decref(doc);
	return o;
}

/* --- traffic ----------------------------------------------------------- */

/* Percent of total per release, largest remainder so they sum to 100. */
static json_t *split_of(json_t *by_release, long long total)
{
	json_t *arr = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(by_release, k, v) {
		long long w = (long long)json_integer_value(json_object_get(v, "weight"));
		json_object_set_new(v, "release", strcmp(k, "") ? sk_json_str(k) : json_null());
		json_object_set_new(v, "percent", sk_json_int(total ? (w * 100 + total / 2) / total
								      : 0));
		json_array_append(arr, v);
	}
	json_decref(by_release);
	return arr;
}

static void split_add(json_t *by_release, const char *release, const char *target, long long w)
{
	const char *key = release ? release : "";
	json_t *e = json_object_get(by_release, key);
	if (!e) {
		e = must(json_pack("{s:I, s:[]}", "weight", (json_int_t)0, "targets"));
		json_object_set_new(by_release, key, e);
	}
	json_object_set_new(e, "weight",
			    sk_json_int(json_integer_value(json_object_get(e, "weight")) + w));
	json_array_append_new(json_object_get(e, "targets"), sk_json_str(target));
}

/* Control's weights: what traffic should be. A target without a weight
 * gets HAProxy's default, 1; a target without a release serves nothing. */
static json_t *control_split(const json_t *targets)
{
	json_t *by = json_object();
	long long total = 0;
	size_t i;
	json_t *t;
	json_array_foreach(targets, i, t) {
		const char *rel = jstr(t, "release");
		if (!rel)
			continue;
		const json_t *w = json_object_get(t, "weight");
		long long weight = json_is_integer(w) ? (long long)json_integer_value(w) : 1;
		/* drained or standing by: no share while others serve */
		if (json_is_true(json_object_get(t, "drain")) ||
		    json_is_true(json_object_get(t, "standby")))
			continue;
		split_add(by, rel, jstr(t, "target"), weight);
		total += weight;
	}
	return must(json_pack("{s:I, s:o}", "total", (json_int_t)total, "split",
			      split_of(by, total)));
}

/* What a target actually runs: its report's release, else control's. */
static const char *running_release(const json_t *targets, const char *name)
{
	size_t i;
	json_t *t;
	json_array_foreach(targets, i, t) {
		if (strcmp(jstr(t, "target"), name) != 0)
			continue;
		const char *r = jstr(json_object_get(t, "report"), "release");
		return r ? r : jstr(t, "release");
	}
	return NULL;
}

static int serving(const char *status)
{
	return status && (strncmp(status, "UP", 2) == 0 || strcmp(status, "no check") == 0);
}

/* HAProxy's view: the weights of servers that take traffic. */
static json_t *live_split(const json_t *servers, const json_t *targets)
{
	json_t *by = json_object();
	long long total = 0;
	const char *name;
	json_t *s;
	json_object_foreach((json_t *)servers, name, s) {
		long long w = (long long)json_integer_value(json_object_get(s, "weight"));
		if (!serving(jstr(s, "status")) || w <= 0)
			continue;
		split_add(by, running_release(targets, name), name, w);
		total += w;
	}
	return split_of(by, total);
}

static json_t *live_traffic(struct sk_repo *repo, const char *service, const json_t *targets)
{
	json_t *sample = NULL;
	struct sk_err terr;
	sk_err_clear(&terr);
	int rc = sk_live_traffic(repo, service, &sample, &terr);
	const char *state = rc == 0 ? "ok"
			    : rc == SK_ENOTFOUND ? "not-started"
			    : rc == SK_EUNREACHABLE ? "unreachable"
			    : rc == SK_EUSAGE ? "unavailable" : "error";
	json_t *o = must(json_pack("{s:s, s:o, s:o, s:o, s:o}", "state", state, "message",
				   rc ? sk_json_str(terr.message) : json_null(), "split",
				   json_null(), "servers", json_null(), "listen",
				   sk_live_listen(repo, service)));
	if (rc == 0) {
		const json_t *servers = json_object_get(sample, "servers");
		json_object_set_new(o, "split", live_split(servers, targets));
		json_object_set(o, "servers", (json_t *)servers);
		json_object_set(o, "time_ms", json_object_get(sample, "time_ms"));
	}
	json_decref(sample);
	return o;
}

/* --- operation --------------------------------------------------------- */

/* The last SK_STATUS_EVENTS events of op, oldest first: walked back from
 * the chain head, each read with its id checked and its format, op, trace
 * and seq verified. */
static int last_events(struct sk_repo *repo, const json_t *doc, json_t **out, struct sk_err *err)
{
	json_t *arr = json_array();
	long long n = (long long)json_integer_value(json_object_get(doc, "events"));
	struct sk_oid cur;
	int rc = n > 0 ? sk_oid_fromhex(&cur, jstr(doc, "event"), err) : 0;
	for (long long seq = n; !rc && seq > 0 && seq > n - SK_STATUS_EVENTS; seq--) {
		json_t *e = NULL;
		rc = sk_odb_read_json(sk_repo_odb(repo), &cur, SK_OBJ_EVENT, SK_ODB_VERIFY, &e, err);
		if (!rc)
			rc = sk_event_check(e, err);
		if (!rc && (strcmp(jstr(e, "op"), jstr(doc, "id")) ||
			    strcmp(jstr(e, "trace"), jstr(doc, "trace")) ||
			    json_integer_value(json_object_get(e, "seq")) != seq))
			rc = sk_err_set(err, SK_ECORRUPT, "run skiff fsck",
					"event %lld of operation %s does not belong in its chain",
					seq, jstr(doc, "id"));
		if (!rc && seq > 1)
			rc = sk_oid_fromhex(&cur, jstr(e, "prev"), err);
		if (!rc) {
			const json_t *step = json_object_get(e, "step");
			const json_t *sd = json_is_integer(step)
						   ? json_array_get(json_object_get(doc, "steps"),
								    (size_t)json_integer_value(step))
						   : NULL;
			json_array_insert_new(
				arr, 0,
				must(json_pack("{s:O, s:O, s:O, s:O, s:o, s:O}", "seq",
					       json_object_get(e, "seq"), "time",
					       json_object_get(e, "time"), "kind",
					       json_object_get(e, "kind"), "step", step, "step_name",
					       sd ? json_incref(json_object_get(sd, "name"))
						  : json_null(),
					       "facts", json_object_get(e, "facts"))));
		}
		json_decref(e);
	}
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

static json_t *operation_json(const json_t *doc)
{
	const json_t *steps = json_object_get(doc, "steps");
	size_t cursor = (size_t)json_integer_value(json_object_get(doc, "cursor"));
	const json_t *s = json_array_get(steps, cursor);
	size_t done = 0, i;
	json_t *st;
	json_array_foreach(steps, i, st)
		done += strcmp(jstr(st, "state"), "succeeded") == 0 ||
			strcmp(jstr(st, "state"), "skipped") == 0;
	json_t *step = s ? must(json_pack("{s:I, s:O, s:O, s:O, s:O}", "index", (json_int_t)cursor,
					  "name", json_object_get(s, "name"), "state",
					  json_object_get(s, "state"), "risk",
					  json_object_get(s, "risk"), "reversible",
					  json_object_get(s, "reversible")))
			 : json_null();
	return must(json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:I, s:I, s:o}", "id",
			      json_object_get(doc, "id"), "kind", json_object_get(doc, "kind"),
			      "state", json_object_get(doc, "state"), "created",
			      json_object_get(doc, "created"), "trace",
			      json_object_get(doc, "trace"), "params",
			      json_object_get(doc, "params"), "steps",
			      (json_int_t)json_array_size(steps), "done", (json_int_t)done, "step",
			      step));
}

/* The newest unfinished operation of service (the op index filters by
 * service without reading every operation), else a note of the newest
 * finished one. */
static int collect_operation(struct sk_repo *repo, const char *service, json_t *ctx,
			     struct sk_err *err)
{
	json_t *ops = NULL;
	int rc = sk_opindex_list(repo, service, NULL, 0, &ops, NULL, err);
	if (rc)
		return rc;
	const json_t *active = NULL, *last = json_array_get(ops, json_array_size(ops) - 1);
	for (size_t i = json_array_size(ops); i-- > 0 && !active;)
		if (!sk_op_state_final(jstr(json_array_get(ops, i), "state")))
			active = json_array_get(ops, i);
	json_object_set_new(ctx, "operation", json_null());
	json_object_set_new(ctx, "events", json_array());
	json_object_set_new(ctx, "last_operation",
			    last && !active ? must(json_pack("{s:O, s:O, s:O}", "id",
							     json_object_get(last, "id"), "kind",
							     json_object_get(last, "kind"), "state",
							     json_object_get(last, "state")))
					    : json_null());
	struct sk_op *op = NULL;
	json_t *events = NULL;
	/* the release a finished deploy shipped (or failed to): what to say next */
	json_t *lo = json_object_get(ctx, "last_operation");
	if (json_is_object(lo) && strcmp(jstr(lo, "kind"), "deploy") == 0 &&
	    !(rc = sk_op_load(repo, jstr(lo, "id"), &op, err))) {
		json_object_set(lo, "release",
				json_object_get(json_object_get(op->doc, "params"), "release"));
		size_t i;
		json_t *st;
		json_array_foreach(json_object_get(op->doc, "steps"), i, st)
			if (strcmp(jstr(st, "state"), "failed") == 0 && !json_object_get(lo, "failed"))
				json_object_set_new(lo, "failed",
						    must(json_pack("{s:O, s:O}", "step",
								   json_object_get(st, "name"),
								   "result",
								   json_object_get(st, "result"))));
		sk_op_free(op);
		op = NULL;
	}
	if (!rc && active && !(rc = sk_op_load(repo, jstr(active, "id"), &op, err)) &&
	    !(rc = last_events(repo, op->doc, &events, err))) {
		json_object_set_new(ctx, "operation", operation_json(op->doc));
		json_object_set_new(ctx, "events", events);
	}
	sk_op_free(op);
	json_decref(ops);
	return rc;
}

/* --- the packet -------------------------------------------------------- */

static json_t *head_json(const struct sk_service_state *st)
{
	if (!st->has_head)
		return json_null();
	return must(json_pack("{s:o, s:I, s:s, s:o, s:s}", "commit", sk_json_oid(&st->head), "time",
			      (json_int_t)st->commit.time, "actor", st->commit.actor, "op",
			      st->commit.op[0] ? sk_json_str(st->commit.op) : json_null(),
			      "message", st->commit.message));
}

/* release.stable, .canary (the first canary release by target name) and
 * .canary_targets from control. */
static json_t *release_json(const json_t *control, const json_t *targets)
{
	const json_t *stable = json_object_get(control, "release");
	json_t *canary = json_null(), *ct = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(targets, i, t) {
		if (!json_is_true(json_object_get(t, "canary")))
			continue;
		if (json_is_null(canary)) {
			json_decref(canary);
			canary = json_incref(json_object_get(t, "release"));
		}
		json_array_append(ct, json_object_get(t, "target"));
	}
	return must(json_pack("{s:o, s:o, s:o}", "stable",
			      json_is_string(stable) ? json_incref((json_t *)stable) : json_null(),
			      "canary", canary, "canary_targets", ct));
}

int sk_status_collect(struct sk_repo *repo, const char *service, json_t **out,
		      struct sk_err *err)
{
	*out = NULL;
	struct sk_service_state st;
	int rc = sk_service_load(repo, service, &st, err);
	if (rc)
		return rc;
	if (!st.has_head) {
		sk_service_state_clear(&st);
		return sk_err_set(err, SK_ENOTFOUND, "skiff status lists the services there are",
				  "no service '%s' (refs/services/%s does not exist)", service,
				  service);
	}
	long long now = sk_status_now_ms();
	json_t *targets = json_array();
	const char *name;
	json_t *t;
	const json_t *stable = json_object_get(st.control, "release");
	/* json objects iterate in insertion order; control is canonical, so
	 * this is name order */
	json_object_foreach(json_object_get(st.control, "targets"), name, t)
		json_array_append_new(targets,
				      target_json(repo, service, name, st.control, t, stable, now));
	/* the working directory of the repository, for commands that name it */
	char root[4096];
	snprintf(root, sizeof(root), "%s", sk_repo_path(repo));
	char *slash = strrchr(root, '/');
	if (slash && slash != root)
		*slash = '\0';
	json_t *ctx = must(json_pack("{s:s, s:s, s:I, s:o}", "service", service, "repo", root,
				     "time_ms", (json_int_t)now, "head", head_json(&st)));
	json_t *rel = release_json(st.control, targets);
	json_object_set_new(ctx, "release", rel);
	rc = collect_releases(repo, service, rel, err);
	if (!rc) {
		json_object_set_new(ctx, "traffic",
				    must(json_pack("{s:o, s:o}", "control", control_split(targets),
						   "live", live_traffic(repo, service, targets))));
		json_object_set_new(ctx, "targets", targets);
		targets = NULL;
		rc = collect_operation(repo, service, ctx, err);
	}
	json_decref(targets);
	sk_service_state_clear(&st);
	if (rc) {
		json_decref(ctx);
		return rc;
	}
	sk_status_analyse(ctx, now);
	*out = ctx;
	return 0;
}

/* --- every service ------------------------------------------------------ */

static json_t *service_summary(struct sk_repo *repo, const char *service, const json_t *ops,
			       struct sk_err *err)
{
	struct sk_service_state st;
	if (sk_service_load(repo, service, &st, err) < 0)
		return must(json_pack("{s:s, s:s}", "service", service, "error", err->message));
	const json_t *stable = json_object_get(st.control, "release");
	json_t *canary = json_null();
	long long n = 0, healthy = 0;
	const char *name;
	json_t *t;
	json_object_foreach(json_object_get(st.control, "targets"), name, t) {
		n++;
		const json_t *rel = json_object_get(t, "release");
		if (json_is_string(rel) && !json_equal((json_t *)rel, (json_t *)stable) &&
		    json_is_null(canary)) {
			json_decref(canary);
			canary = json_incref((json_t *)rel);
		}
		json_t *doc = NULL;
		struct sk_err ignore;
		if (sk_live_report(repo, service, name, &doc, &ignore) == 0 &&
		    strcmp(jstr(doc, "state"), "healthy") == 0)
			healthy++;
		json_decref(doc);
	}
	json_t *op = json_null();
	size_t i;
	json_t *o;
	json_array_foreach(ops, i, o)
		if (jstr(o, "service") && strcmp(jstr(o, "service"), service) == 0 &&
		    !sk_op_state_final(jstr(o, "state"))) {
			json_decref(op);
			op = must(json_pack("{s:O, s:O, s:O}", "id", json_object_get(o, "id"), "kind",
					    json_object_get(o, "kind"), "state",
					    json_object_get(o, "state")));
		}
	json_t *row = must(json_pack("{s:s, s:o, s:o, s:I, s:I, s:o}", "service", service, "stable",
				     json_is_string(stable) ? json_incref((json_t *)stable)
							    : json_null(),
				     "canary", canary, "targets", (json_int_t)n, "healthy",
				     (json_int_t)healthy, "operation", op));
	sk_service_state_clear(&st);
	return row;
}

int sk_status_services(struct sk_repo *repo, json_t **out, struct sk_err *err)
{
	struct sk_refrecord *recs = NULL;
	size_t n = 0;
	json_t *ops = NULL;
	int rc = sk_refs_list(repo, "refs/services/*", 0, &recs, &n, err);
	if (!rc && n)
		rc = sk_opindex_list(repo, NULL, NULL, 0, &ops, NULL, err);
	if (rc) {
		free(recs);
		return rc;
	}
	json_t *rows = json_array();
	for (size_t i = 0; i < n; i++) {
		struct sk_err one;
		sk_err_clear(&one);
		json_array_append_new(rows, service_summary(repo, recs[i].ref + strlen("refs/services/"),
							   ops, &one));
	}
	free(recs);
	json_decref(ops);
	*out = rows;
	return 0;
}

const json_t *sk_status_report_of(const json_t *target)
{
	const json_t *r = json_object_get(target, "report");
	return json_is_object(r) ? r : NULL;
}
