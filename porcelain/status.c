/*
 * skiff status [SERVICE]: without SERVICE a line per service; with it the
 * service's context packet (observe/status.h): releases, traffic split,
 * per-target health from runner reports, the operation in flight with
 * its last events, findings and the next safe commands. --format=json
 * prints the packet itself, one document an agent can act on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objects/spec.h"
#include "observe/status.h"
#include "porcelain/porcelain.h"

/* A target's report object, or NULL (never reported, or not verified). */
static const json_t *report_of(const json_t *t)
{
	const json_t *r = json_object_get(t, "report");
	return json_is_object(r) ? r : NULL;
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

static long long jint(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void services_text(FILE *out, const json_t *r)
{
	const json_t *rows = json_object_get(r, "services");
	if (json_array_size(rows) == 0) {
		fprintf(out, "no services\n");
		return;
	}
	fprintf(out, "%-24s %-12s %-12s %-8s %s\n", "SERVICE", "STABLE", "CANARY", "HEALTHY",
		"OPERATION");
	size_t i;
	json_t *s;
	json_array_foreach(rows, i, s) {
		char health[32], op[160] = "-";
		snprintf(health, sizeof(health), "%lld/%lld", jint(s, "healthy"), jint(s, "targets"));
		const json_t *o = json_object_get(s, "operation");
		if (json_is_object(o))
			snprintf(op, sizeof(op), "%s %s %s", jstr(o, "kind"), jstr(o, "state"),
				 jstr(o, "id"));
		if (json_object_get(s, "error"))
			snprintf(op, sizeof(op), "error: %s", jstr(s, "error"));
		fprintf(out, "%-24s %-12s %-12s %-8s %s\n", jstr(s, "service"), jstr(s, "stable"),
			jstr(s, "canary"), health, op);
	}
}

static void split_text(FILE *out, const json_t *split)
{
	size_t i;
	json_t *s;
	if (json_array_size(split) == 0)
		fprintf(out, " none");
	json_array_foreach(split, i, s)
		fprintf(out, " %s %lld%%", jstr(s, "release"), jint(s, "percent"));
}

static void traffic_text(FILE *out, const json_t *tr)
{
	const json_t *live = json_object_get(tr, "live");
	fprintf(out, "traffic    control:");
	split_text(out, json_object_get(json_object_get(tr, "control"), "split"));
	const char *st = jstr(live, "state");
	if (strcmp(st, "ok") == 0) {
		fprintf(out, "   haproxy:");
		split_text(out, json_object_get(live, "split"));
	} else if (strcmp(st, "unavailable") != 0) {
		fprintf(out, "   haproxy: %s", st);
	}
	fputc('\n', out);
}

static void targets_text(FILE *out, const json_t *targets)
{
	if (json_array_size(targets) == 0)
		return;
	fprintf(out, "\n  %-16s %-18s %-10s %-8s %-8s %-11s %s\n", "TARGET", "STATE", "RELEASE",
		"AGE", "RESTARTS", "RUNNER", "REASON");
	size_t i;
	json_t *t;
	json_array_foreach(targets, i, t) {
		const json_t *r = report_of(t);
		char age[32] = "-", restarts[24] = "-";
		if (r) {
			snprintf(age, sizeof(age), "%llds", jint(r, "age_s"));
			snprintf(restarts, sizeof(restarts), "%lld", jint(r, "restarts"));
		}
		char rel[80];
		snprintf(rel, sizeof(rel), "%s%s%s%s", r ? jstr(r, "release") : jstr(t, "release"),
			 json_is_true(json_object_get(t, "canary")) ? "*" : "",
			 json_is_true(json_object_get(t, "drain")) ? " (drained)" : "",
			 json_is_true(json_object_get(t, "standby")) ? " (standby)" : "");
		fprintf(out, "  %-16s %-18s %-10s %-8s %-8s %-11s %s\n", jstr(t, "target"),
			r ? jstr(r, "state")
			  : json_is_string(json_object_get(t, "report_error")) ? "report-invalid"
									     : "no-report",
			rel, age, restarts, jstr(t, "runner"), r ? jstr(r, "reason") : "");
	}
}

static void operation_text(FILE *out, const json_t *r)
{
	const json_t *op = json_object_get(r, "operation");
	if (!json_is_object(op)) {
		const json_t *last = json_object_get(r, "last_operation");
		if (json_is_object(last))
			fprintf(out, "\noperation  none running (last: %s %s %s)\n", jstr(last, "kind"),
				jstr(last, "id"), jstr(last, "state"));
		return;
	}
	const json_t *step = json_object_get(op, "step");
	fprintf(out, "\noperation  %s %s %s, step %lld/%lld %s (%s)\ntrace      %s\n",
		jstr(op, "kind"), jstr(op, "id"), jstr(op, "state"), jint(step, "index") + 1,
		jint(op, "steps"), jstr(step, "name"), jstr(step, "state"), jstr(op, "trace"));
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(r, "events"), i, e) {
		char t[32];
		char *facts = json_dumps(json_object_get(e, "facts"), JSON_COMPACT | JSON_SORT_KEYS);
		fprintf(out, "  %4lld  %s  %-16s %-14s %.100s\n", jint(e, "seq"),
			sk_out_time(jint(e, "time"), t, sizeof(t)), jstr(e, "kind"),
			jstr(e, "step_name"), facts ? facts : "");
		free(facts);
	}
}

static void status_text(FILE *out, const json_t *r)
{
	if (json_object_get(r, "services")) {
		services_text(out, r);
		return;
	}
	const json_t *rel = json_object_get(r, "release");
	const json_t *head = json_object_get(r, "head");
	char t[32];
	fprintf(out, "service    %s (commit %.12s, %s)\n", jstr(r, "service"), jstr(head, "commit"),
		sk_out_time(jint(head, "time"), t, sizeof(t)));
	fprintf(out, "release    stable %s", jstr(rel, "stable"));
	if (json_is_string(json_object_get(rel, "canary")))
		fprintf(out, ", canary %s", jstr(rel, "canary"));
	size_t i;
	json_t *s;
	fprintf(out, "\nsigned    ");
	if (json_array_size(json_object_get(rel, "signed")) == 0)
		fprintf(out, " none");
	json_array_foreach(json_object_get(rel, "signed"), i, s)
		fprintf(out, " %s", jstr(s, "version"));
	fputc('\n', out);
	traffic_text(out, json_object_get(r, "traffic"));
	targets_text(out, json_object_get(r, "targets"));
	operation_text(out, r);
	if (json_array_size(json_object_get(r, "findings")))
		fprintf(out, "\nfindings\n");
	json_array_foreach(json_object_get(r, "findings"), i, s) {
		const char *sev = jstr(s, "severity");
		fprintf(out, "  %s %s\n", strcmp(sev, "error") == 0 ? "!!" :
					  strcmp(sev, "warning") == 0 ? "! " : "- ",
			jstr(s, "text"));
	}
	fprintf(out, "\nnext\n");
	json_array_foreach(json_object_get(r, "next"), i, s)
		fprintf(out, "  %-56s (%s risk%s%s)\n", jstr(s, "command"), jstr(s, "risk"),
			json_is_true(json_object_get(s, "reversible")) ? ", reversible" : "",
			json_is_true(json_object_get(s, "approval")) ? ", needs approval" : "");
}

int cmd_status(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		return sk_cli_usage(cli, err, "status takes at most a SERVICE");
	json_t *r = NULL;
	int rc;
	if (argc == 1) {
		json_t *rows = NULL;
		if ((rc = sk_status_services(cli->repo, &rows, err)) == 0)
			r = json_pack("{s:o}", "services", rows);
	} else if ((rc = sk_spec_component_check(argv[1], SK_SPEC_NAME_MAX, "service", err)) == 0) {
		rc = sk_status_collect(cli->repo, argv[1], &r, err);
	}
	if (rc == SK_EINVAL)
		return sk_cli_usage(cli, err, "%s", err->message);
	if (!rc)
		sk_cli_result(cli, r, status_text);
	return rc;
}
