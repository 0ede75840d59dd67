/*
 * The operation type "failover" (see failoverop.h).
 */
#include "ops/failoverop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cloud/probe.h"
#include "cloud/traffic.h"
#include "objects/spec.h"
#include "objects/state.h"
#include "ops/engine.h"
#include "ops/svc.h"
#include "refs/reports.h"
#include "refs/service.h"

#define POLL_MS 200
#define PROBE_TIMEOUT_MS 2000

/* --- params ------------------------------------------------------------- */

struct failover {
	const char *service, *group, *from;
	long wait_s;
};

static const char *pstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int parse(const json_t *params, struct failover *f, struct sk_err *err)
{
	memset(f, 0, sizeof(*f));
	f->service = pstr(params, "service");
	f->group = pstr(params, "group");
	f->from = pstr(params, "from");
	const char *wait = pstr(params, "wait_s");
	if (!f->service || !f->group || !f->from || !wait || json_object_size(params) != 4)
		return sk_err_set(err, SK_EINVAL, NULL,
				  "failover needs exactly service, group, from and wait_s");
	int rc = sk_spec_component_check(f->service, SK_SPEC_NAME_MAX, "service", err);
	if (!rc)
		rc = sk_spec_component_check(f->group, SK_SPEC_NAME_MAX, "target group", err);
	if (!rc && *f->from)
		rc = sk_spec_component_check(f->from, SK_SPEC_NAME_MAX, "from", err);
	char *end;
	f->wait_s = strtol(wait, &end, 10);
	if (!rc && (*end || end == wait || f->wait_s < 1 || f->wait_s > 86400))
		rc = sk_err_set(err, SK_EINVAL, NULL, "failover: wait_s is not 1..86400");
	if (!rc && strcmp(f->group, f->from) == 0)
		rc = sk_err_set(err, SK_EINVAL, NULL, "failover: group and from are the same");
	return rc;
}

/* --- small helpers -------------------------------------------------------- */

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static const char *active_of(const json_t *control)
{
	const char *a = pstr(control, "active_group");
	return a ? a : "";
}

static const char *group_of(const json_t *target)
{
	return pstr(target, "group");
}

/* control with active_group set to group ("" removes it), a new copy. */
static json_t *with_active(const json_t *control, const char *group)
{
	json_t *c = json_deep_copy(control);
	if (*group)
		json_object_set_new(c, "active_group", json_string(group));
	else
		json_object_del(c, "active_group");
	return c;
}

/* The targets of group that have an address: the servers it brings. */
static json_t *group_servers(const json_t *control, const char *group)
{
	json_t *out = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(control, "targets"), k, v) {
		const char *g = group_of(v);
		if (g && strcmp(g, group) == 0 && json_object_get(v, "addr"))
			json_array_append_new(out, json_string(k));
	}
	return out;
}

/* --- shared with the command ---------------------------------------------- */

json_t *sk_failover_groups(const json_t *control)
{
	json_t *out = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(control, "targets"), k, v) {
		const char *g = group_of(v);
		if (!g)
			continue;
		json_t *arr = json_object_get(out, g);
		if (!arr) {
			arr = json_array();
			json_object_set_new(out, g, arr);
		}
		json_array_append_new(arr, json_string(k));
	}
	return out;
}

int sk_failover_check(const json_t *control, const char *group, struct sk_err *err)
{
	json_t *servers = group_servers(control, group);
	size_t n = json_array_size(servers);
	json_decref(servers);
	if (n == 0)
		return sk_err_set(err, SK_ENOTFOUND,
				  "skiff target set SERVICE T --group G puts a target in a group; "
				  "skiff target list SERVICE shows them",
				  "no target with an address is in group %s", group);
	if (strcmp(active_of(control), group) == 0)
		return sk_err_set(err, SK_ECONFLICT, "skiff target list SERVICE shows the groups",
				  "group %s is already the active group", group);
	return 0;
}

int sk_failover_facts(struct sk_repo *repo, const char *service, const json_t *control,
		      const char *group, json_t **facts, struct sk_err *err)
{
	json_t *sample = NULL, *reports = NULL;
	*facts = NULL;
	int rc = sk_traffic_sample(repo, service, &sample, err);
	if (!rc)
		rc = sk_reports_list(repo, service, &reports, err);
	if (rc) {
		json_decref(sample);
		return rc;
	}
	json_t *groups = json_object(), *ungrouped = json_array();
	const json_t *servers = json_object_get(sample, "servers");
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(control, "targets"), k, v) {
		const char *g = group_of(v);
		if (!g) {
			json_array_append_new(ungrouped, json_string(k));
			continue;
		}
		json_t *gobj = json_object_get(groups, g);
		if (!gobj) {
			gobj = json_object();
			json_object_set_new(groups, g, gobj);
		}
		const json_t *r = json_object_get(reports, k), *s = json_object_get(servers, k);
		json_t *report = r ? json_pack("{s:O?, s:O?}", "state", json_object_get(r, "state"),
					       "release", json_object_get(r, "release"))
				   : json_null();
		json_t *hap = s ? json_pack("{s:O?, s:O?, s:O?}", "status", json_object_get(s, "status"),
					    "check_status", json_object_get(s, "check_status"),
					    "backup", json_object_get(s, "backup"))
				: json_null();
		json_object_set_new(gobj, k,
				    json_pack("{s:O?, s:b, s:o, s:o}", "addr", json_object_get(v, "addr"),
					      "standby", sk_traffic_standby(control, k), "report",
					      report, "haproxy", hap));
	}
	const char *active = active_of(control);
	*facts = json_pack("{s:s, s:s?, s:s, s:o, s:o}", "service", service, "active",
			   *active ? active : NULL, "to", group, "groups", groups, "ungrouped",
			   ungrouped);
	json_decref(sample);
	json_decref(reports);
	return 0;
}

/* --- the steps ------------------------------------------------------------ */

typedef int (*failover_step_fn)(const struct sk_op_ctx *ctx, const struct failover *f,
				struct sk_service_state *st, json_t **facts, struct sk_err *err);

static int with_state(const struct sk_op_ctx *ctx, failover_step_fn fn, json_t **facts,
		      struct sk_err *err)
{
	struct failover f;
	struct sk_service_state st;
	int rc = parse(ctx->params, &f, err);
	if (rc || (rc = sk_service_load(ctx->repo, f.service, &st, err)))
		return rc;
	rc = fn(ctx, &f, &st, facts, err);
	sk_service_state_clear(&st);
	return rc;
}

static int plan_step(const struct sk_op_ctx *ctx, const struct failover *f,
		     struct sk_service_state *st, json_t **facts, struct sk_err *err)
{
	const char *active = active_of(st->control);
	int rc = 0;
	if (strcmp(active, f->from) != 0)
		rc = sk_err_set(err, SK_ECONFLICT, "plan the failover again: skiff failover SERVICE --to G",
				"the active group of %s is %s now, not %s as planned", f->service,
				*active ? active : "(none)", *f->from ? f->from : "(none)");
	if (!rc)
		rc = sk_failover_check(st->control, f->group, err);
	if (!rc)
		rc = sk_opsvc_alone(ctx->repo, f->service, ctx->id, NULL, err);
	if (!rc)
		rc = sk_failover_facts(ctx->repo, f->service, st->control, f->group, facts, err);
	return rc;
}

/* Commits control with active_group = to, when it is not so already. */
static int commit_active(const struct sk_op_ctx *ctx, struct sk_service_state *st, const char *to,
			 const char *message, int *changed, struct sk_err *err)
{
	*changed = 0;
	if (strcmp(active_of(st->control), to) == 0)
		return 0;
	json_t *control = with_active(st->control, to);
	struct sk_oid commit;
	int rc = sk_control_check(control, err);
	if (!rc)
		rc = sk_op_lease_check(ctx, err);
	if (!rc)
		rc = sk_service_commit(ctx->repo, ctx->key, st, control, message, ctx->id, 0, &commit,
				       err);
	json_decref(control);
	*changed = rc == 0;
	return rc;
}

/* Reads the service again (after a commit) and applies its control. */
static int reload_apply(const struct sk_op_ctx *ctx, const char *service,
			struct sk_service_state *st, json_t **traffic, struct sk_err *err)
{
	sk_service_state_clear(st);
	int rc = sk_service_load(ctx->repo, service, st, err);
	return rc ? rc : sk_traffic_apply(ctx->repo, service, st->control, traffic, err);
}

/* Puts from back as the active group, when the active one is group (or
 * from already); a group someone else made active is left alone. */
static int route_to(const struct sk_op_ctx *ctx, const struct failover *f,
		    struct sk_service_state *st, const char *from, const char *to, json_t **facts,
		    struct sk_err *err)
{
	const char *active = active_of(st->control);
	if (strcmp(active, from) != 0 && strcmp(active, to) != 0)
		return sk_err_set(err, SK_ECONFLICT, "skiff target list SERVICE shows the groups",
				  "the active group of %s is %s now (expected %s or %s): someone "
				  "else routed it; leaving it",
				  f->service, *active ? active : "(none)", *from ? from : "(none)",
				  *to ? to : "(none)");
	char msg[200];
	snprintf(msg, sizeof(msg), "failover %s: %s active (was %s)", f->service,
		 *to ? to : "every target", *from ? from : "every target");
	int changed = 0;
	json_t *traffic = NULL;
	int rc = commit_active(ctx, st, to, msg, &changed, err);
	if (!rc && changed)
		sk_op_killpoint("routed");
	if (!rc)
		rc = reload_apply(ctx, f->service, st, &traffic, err);
	json_t *standby = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(st->control, "targets"), k, v)
		if (sk_traffic_standby(st->control, k))
			json_array_append_new(standby, json_string(k));
	*facts = json_pack("{s:s?, s:s?, s:b, s:o, s:o?}", "from", *from ? from : NULL, "active",
			   *to ? to : NULL, "committed", changed, "standby", standby, "traffic",
			   traffic);
	return rc;
}

/* The route; when haproxy refuses it after the commit, the commit is
 * undone here (a failed step gets no compensation). */
static int route_step(const struct sk_op_ctx *ctx, const struct failover *f,
		      struct sk_service_state *st, json_t **facts, struct sk_err *err)
{
	int rc = route_to(ctx, f, st, f->from, f->group, facts, err);
	if (rc && rc != SK_ECONFLICT) {
		struct sk_err berr;
		json_t *back = NULL;
		int brc = route_to(ctx, f, st, f->group, f->from, &back, &berr);
		json_object_set_new(*facts, "routed_back", json_boolean(brc == 0));
		if (brc)
			json_object_set_new(*facts, "route_back_error", json_string(berr.message));
		json_decref(back);
	}
	return rc;
}

static int route_back_step(const struct sk_op_ctx *ctx, const struct failover *f,
			   struct sk_service_state *st, json_t **facts, struct sk_err *err)
{
	return route_to(ctx, f, st, f->group, f->from, facts, err);
}

/* Why each server of group is not serving yet (empty: all are): haproxy's
 * check and the runner's report. */
static json_t *not_ready(const json_t *control, const json_t *servers, const json_t *sample,
			 const json_t *reports)
{
	json_t *why = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(servers, i, t) {
		const char *name = json_string_value(t);
		const json_t *s = json_object_get(json_object_get(sample, "servers"), name);
		const json_t *r = json_object_get(reports, name);
		const char *status = pstr(s, "status"), *check = pstr(s, "check_status");
		if (!s)
			json_array_append_new(why, json_sprintf("%s: no haproxy server", name));
		else if (!status || strcmp(status, "UP") != 0 || !check || strcmp(check, "L7OK") != 0 ||
			 json_is_true(json_object_get(s, "backup")))
			json_array_append_new(
				why, json_sprintf("%s: haproxy %s (%s)%s", name, status ? status : "?",
						  check ? check : "?",
						  json_is_true(json_object_get(s, "backup")) ? ", backup"
											      : ""));
		const char *want = pstr(json_object_get(json_object_get(control, "targets"), name),
					"release");
		const char *state = pstr(r, "state"), *rel = pstr(r, "release");
		if (!r)
			json_array_append_new(why, json_sprintf("%s: no runner report", name));
		else if (!state || strcmp(state, "healthy") != 0 ||
			 (want && (!rel || strcmp(rel, want) != 0)))
			json_array_append_new(why, json_sprintf("%s: runner reports %s %s", name,
								state ? state : "?", rel ? rel : ""));
	}
	return why;
}

static long long group_requests(const json_t *sample, const json_t *servers)
{
	long long n = 0;
	size_t i;
	json_t *t;
	json_array_foreach(servers, i, t)
		n += json_integer_value(json_object_get(
			json_object_get(json_object_get(sample, "servers"), json_string_value(t)),
			"requests"));
	return n;
}

/* Requests through the frontend: *answered of SK_FAILOVER_PROBES got an
 * HTTP answer, *counted of them show on the group's servers. */
static int probe_group(const struct sk_op_ctx *ctx, const char *service, const json_t *servers,
		       int *answered, long long *counted, struct sk_err *err)
{
	json_t *before = NULL, *after = NULL;
	*answered = 0;
	*counted = 0;
	int rc = sk_traffic_sample(ctx->repo, service, &before, err);
	const char *listen = pstr(before, "listen");
	for (int i = 0; !rc && listen && i < SK_FAILOVER_PROBES; i++)
		if (sk_probe_http(listen, "/", PROBE_TIMEOUT_MS, NULL) > 0)
			(*answered)++;
	if (!rc)
		rc = sk_traffic_sample(ctx->repo, service, &after, err);
	if (!rc)
		*counted = group_requests(after, servers) - group_requests(before, servers);
	json_decref(before);
	json_decref(after);
	return rc;
}

/* The group serves: every server passes its check, every runner reports
 * healthy, and requests through the frontend land on the group. */
static int validate_step(const struct sk_op_ctx *ctx, const struct failover *f,
			 struct sk_service_state *st, json_t **facts, struct sk_err *err)
{
	json_t *applied = NULL;
	const char *active = active_of(st->control);
	if (strcmp(active, f->group) != 0)
		return sk_err_set(err, SK_ECONFLICT, "skiff target list SERVICE shows the groups",
				  "the active group of %s is %s, not %s: someone else routed it",
				  f->service, *active ? active : "(none)", f->group);
	int rc = sk_traffic_apply(ctx->repo, f->service, st->control, &applied, err);
	if (rc)
		return rc;
	json_t *servers = group_servers(st->control, f->group), *why = NULL;
	long long start = now_ms(), deadline = start + f->wait_s * 1000, counted = 0;
	int answered = 0, ok = 0;
	while (!rc && !ok) {
		json_t *sample = NULL, *reports = NULL;
		json_decref(why);
		why = NULL;
		rc = sk_traffic_sample(ctx->repo, f->service, &sample, err);
		if (!rc)
			rc = sk_reports_list(ctx->repo, f->service, &reports, err);
		if (!rc)
			why = not_ready(st->control, servers, sample, reports);
		if (!rc && json_array_size(why) == 0 &&
		    !(rc = probe_group(ctx, f->service, servers, &answered, &counted, err))) {
			ok = answered == SK_FAILOVER_PROBES && counted >= answered;
			if (!ok)
				json_array_append_new(
					why, json_sprintf("%d of %d requests answered, %lld counted on "
							  "group %s",
							  answered, SK_FAILOVER_PROBES, counted, f->group));
		}
		json_decref(sample);
		json_decref(reports);
		if (rc || ok)
			break;
		if (now_ms() >= deadline) {
			rc = sk_err_set(err, SK_EFAIL,
					"skiff status SERVICE shows the targets; fix the group, then "
					"failover again",
					"group %s is not serving after %lds: %s", f->group, f->wait_s,
					json_string_value(json_array_get(why, 0)));
			break;
		}
		if (!(rc = sk_op_lease_check(ctx, err)))
			sleep_ms(POLL_MS);
	}
	*facts = json_pack("{s:s, s:O, s:o, s:o?, s:i, s:I, s:I}", "group", f->group, "servers",
			   servers, "applied", applied, "not_ready", ok ? NULL : why, "answered",
			   answered, "counted", (json_int_t)counted, "waited_ms",
			   (json_int_t)(now_ms() - start));
	if (ok)
		json_decref(why);
	json_decref(servers);
	return rc;
}

static int record_step(const struct sk_op_ctx *ctx, const struct failover *f,
		       struct sk_service_state *st, json_t **facts, struct sk_err *err)
{
	json_t *serving = json_array(), *standby = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(st->control, "targets"), k, v)
		json_array_append_new(sk_traffic_standby(st->control, k) ? standby : serving,
				      json_string(k));
	const char *active = active_of(st->control);
	*facts = json_pack("{s:s, s:s?, s:s?, s:o, s:o}", "service", f->service, "from",
			   *f->from ? f->from : NULL, "active", *active ? active : NULL, "serving",
			   serving, "standby", standby);
	return 0;
}

#define FAILOVER_ACT(name)                                                                  \
	static int act_##name(const struct sk_op_ctx *ctx, json_t **facts, struct sk_err *err) \
	{                                                                                   \
		return with_state(ctx, name##_step, facts, err);                            \
	}
FAILOVER_ACT(plan)
FAILOVER_ACT(route)
FAILOVER_ACT(route_back)
FAILOVER_ACT(validate)
FAILOVER_ACT(record)

/* The route is done once its commit is there: a cancel then routes back,
 * a resume goes on to validate, which applies the control first. */
static int observe_route(const struct sk_op_ctx *ctx, int *done, json_t **facts,
			 struct sk_err *err)
{
	struct failover f;
	struct sk_service_state st;
	int rc = parse(ctx->params, &f, err);
	if (rc || (rc = sk_service_load(ctx->repo, f.service, &st, err)))
		return rc;
	const char *active = active_of(st.control);
	*done = strcmp(active, f.group) == 0;
	*facts = json_pack("{s:s?}", "active", *active ? active : NULL);
	sk_service_state_clear(&st);
	return 0;
}

static int plan(const json_t *params, struct sk_op_step_def *steps, size_t *n, struct sk_err *err)
{
	struct failover f;
	int rc = parse(params, &f, err);
	if (rc)
		return rc;
	sk_opsvc_step(&steps[0], "plan", "none", act_plan, NULL, NULL);
	sk_opsvc_step(&steps[1], "route", "high", act_route, "route-back", act_route_back);
	steps[1].observe = observe_route;
	sk_opsvc_step(&steps[2], "validate", "none", act_validate, NULL, NULL);
	sk_opsvc_step(&steps[3], "record", "none", act_record, NULL, NULL);
	*n = 4;
	return 0;
}

const struct sk_op_type sk_op_type_failover = {
	.kind = SK_FAILOVEROP_KIND,
	.summary = "move a service's traffic to one target group; the others stand by",
	.plan = plan,
};
