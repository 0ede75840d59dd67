/*
 * skiff failover SERVICE --to GROUP: move a service's traffic to one
 * target group as a "failover" operation (ops/failoverop.h): plan ->
 * approval (the route is high risk) -> route -> validate -> record, and
 * "route back" when validation fails. An unknown or empty group (exit 7)
 * and the group already active (exit 3) are refused before any operation
 * is created; --dry-run prints the plan with each step's risk and
 * reversibility and what the plan step sees, and writes nothing.
 */
#include <getopt.h>
#include <string.h>

#include "objects/spec.h"
#include "ops/engine.h"
#include "ops/failoverop.h"
#include "ops/plan.h"
#include "porcelain/porcelain.h"
#include "porcelain/runbook.h"
#include "refs/service.h"

#define DEFAULT_WAIT_MS 60000

static json_t *failover_result(const struct sk_op *op)
{
	const json_t *p = json_object_get(op->doc, "params");
	const char *from = json_string_value(json_object_get(p, "from"));
	json_t *r = sk_runbook_result(op);
	json_object_set(r, "group", json_object_get(p, "group"));
	json_object_set_new(r, "from", from && *from ? json_string(from) : json_null());
	return r;
}

static void failover_text(FILE *out, const json_t *r)
{
	const char *state = json_string_value(json_object_get(r, "state"));
	const char *svc = json_string_value(json_object_get(r, "service"));
	fprintf(out, "failover %s to %s: %s (operation %s)\n", svc,
		json_string_value(json_object_get(r, "group")), state,
		json_string_value(json_object_get(r, "op")));
	if (strcmp(state, "succeeded") == 0)
		fprintf(out, "next: skiff target list %s\n", svc);
}

static void dry_text(FILE *out, const json_t *r)
{
	const json_t *facts = json_object_get(r, "facts");
	const char *active = json_string_value(json_object_get(facts, "active"));
	sk_op_plan_text(out, json_object_get(r, "plan"));
	fprintf(out, "active group: %s -> %s\n", active ? active : "(none: every target)",
		json_string_value(json_object_get(facts, "to")));
	const char *g, *t;
	json_t *members, *m;
	json_object_foreach(json_object_get(facts, "groups"), g, members) {
		json_object_foreach(members, t, m) {
			const json_t *rep = json_object_get(m, "report"), *hap = json_object_get(m, "haproxy");
			const char *st = json_string_value(json_object_get(rep, "state"));
			const char *hs = json_string_value(json_object_get(hap, "status"));
			const char *hc = json_string_value(json_object_get(hap, "check_status"));
			fprintf(out, "  %-12s %-12s runner %-10s haproxy %s %s\n", g, t, st ? st : "-",
				hs ? hs : "-", hc ? hc : "");
		}
	}
	fprintf(out, "(dry run: nothing changed)\n");
}

static const struct sk_runbook failover_runbook = {
	.kind = SK_FAILOVEROP_KIND,
	.result = failover_result,
	.text = failover_text,
};

static int build_params(const struct sk_service_state *st, const char *group, const char *wait,
			json_t **out, struct sk_err *err)
{
	long long wait_ms = DEFAULT_WAIT_MS;
	int rc = sk_spec_component_check(group, SK_SPEC_NAME_MAX, "target group", err);
	if (!rc && wait && sk_spec_duration_ms(wait, &wait_ms, err))
		rc = sk_err_wrap(err, "--wait");
	if (!rc && (wait_ms < 1000 || wait_ms > 86400000LL))
		rc = sk_err_set(err, SK_EINVAL, NULL, "--wait must be 1s..24h");
	if (!rc)
		rc = sk_failover_check(st->control, group, err);
	if (rc)
		return rc;
	const char *from = json_string_value(json_object_get(st->control, "active_group"));
	*out = json_pack("{s:s, s:s, s:s}", "service", st->service, "group", group, "from",
			 from ? from : "");
	json_object_set_new(*out, "wait_s", json_sprintf("%lld", wait_ms / 1000));
	return 0;
}

static int dry_run(struct sk_cli *cli, const struct sk_service_state *st, const json_t *params,
		   struct sk_err *err)
{
	json_t *plan = NULL, *facts = NULL;
	const char *group = json_string_value(json_object_get(params, "group"));
	int rc = sk_op_plan(SK_FAILOVEROP_KIND, st->service, params, &plan, err);
	if (!rc)
		rc = sk_failover_facts(cli->repo, st->service, st->control, group, &facts, err);
	if (!rc)
		sk_cli_result(cli,
			      json_pack("{s:b, s:O, s:o, s:o}", "dry_run", 1, "params", params, "plan",
					plan, "facts", facts),
			      dry_text);
	else
		json_decref(plan);
	return rc;
}

int cmd_failover(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	static const struct option opts[] = { { "to", required_argument, NULL, 't' },
					      { "wait", required_argument, NULL, 'w' },
					      { NULL, 0, NULL, 0 } };
	const char *group = NULL, *wait = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': group = optarg; break;
		case 'w': wait = optarg; break;
		default: return sk_cli_usage(cli, err, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1 || !group)
		return sk_cli_usage(cli, err, "failover takes SERVICE --to GROUP");
	struct sk_service_state st;
	int rc = sk_service_load(cli->repo, argv[optind], &st, err);
	if (rc)
		return rc;
	json_t *params = NULL;
	rc = build_params(&st, group, wait, &params, err);
	if (!rc && cli->dry_run)
		rc = dry_run(cli, &st, params, err);
	else if (!rc)
		rc = sk_runbook_start(cli, &failover_runbook, st.service, params, err);
	json_decref(params);
	sk_service_state_clear(&st);
	return rc;
}
