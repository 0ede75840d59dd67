/*
 * skiff restore SERVICE [--backup ID|latest] [--target T] [--wait DURATION]
 * [--drain-timeout DURATION]: the "restore" operation (ops/restoreop.h)
 * as a runbook (porcelain/runbook.h). latest is the newest backup of kind
 * manual (a pre-restore copy is named by its id); the target defaults to
 * the one the backup was taken from. --dry-run prints the plan with each
 * step's risk and reversibility and the backup's freshness, refusing a
 * stale or altered backup exactly as the operation would.
 */
#include <getopt.h>
#include <string.h>
#include <time.h>

#include "objects/spec.h"
#include "ops/backupjob.h"
#include "ops/plan.h"
#include "ops/restoreop.h"
#include "porcelain/porcelain.h"
#include "porcelain/runbook.h"
#include "refs/backups.h"
#include "refs/service.h"

struct restore_args {
	const char *service, *backup, *target, *wait, *drain;
};

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* The newest manual backup of service. */
static int latest(struct sk_cli *cli, const char *service, struct sk_backup *out,
		  struct sk_err *err)
{
	json_t *all = NULL;
	int rc = sk_backups_list(cli->repo, service, &all, err), found = 0;
	size_t i;
	json_t *d;
	json_array_foreach(all, i, d) {
		if (!rc && !found && strcmp(jstr(d, "kind"), SK_BACKUP_KIND_MANUAL) == 0) {
			rc = sk_backup_from_json(out, d, err);
			found = 1;
		}
	}
	json_decref(all);
	if (!rc && !found)
		rc = sk_err_set(err, SK_ENOTFOUND, "take one: skiff backup SERVICE",
				"%s has no backup", service);
	return rc;
}

static int build_params(struct sk_cli *cli, const struct restore_args *a, struct sk_backup *b,
			json_t **out, struct sk_err *err)
{
	long long wait = 60000, drain = 30000;
	int rc = 0;
	if (a->wait && sk_spec_duration_ms(a->wait, &wait, err))
		return sk_err_wrap(err, "--wait");
	if (a->drain && sk_spec_duration_ms(a->drain, &drain, err))
		return sk_err_wrap(err, "--drain-timeout");
	if (!a->backup || strcmp(a->backup, "latest") == 0)
		rc = latest(cli, a->service, b, err);
	else
		rc = sk_backups_load(cli->repo, a->service, a->backup, b, err);
	const char *target = a->target ? a->target : b->target;
	struct sk_service_state st;
	if (!rc)
		rc = sk_service_load(cli->repo, a->service, &st, err);
	if (rc)
		return rc;
	const json_t *tg = json_object_get(json_object_get(st.control, "targets"), target);
	if (!tg)
		rc = sk_err_set(err, SK_ENOTFOUND, "name one with --target T (skiff target list SERVICE)",
				"%s has no target %s", a->service, target);
	if (!rc)
		*out = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "service", a->service, "target",
				 target, "backup", b->id, "prev_data", jstr(tg, "data"), "wait_s",
				 json_sprintf("%lld", wait / 1000 < 1 ? 1 : wait / 1000),
				 "drain_timeout_s", json_sprintf("%lld", drain / 1000));
	sk_service_state_clear(&st);
	return rc;
}

static json_t *restore_result(const struct sk_op *op)
{
	json_t *r = sk_runbook_result(op);
	const json_t *p = json_object_get(op->doc, "params");
	const json_t *fresh = json_object_get(json_array_get(json_object_get(r, "steps"), 0), "result");
	json_object_set(r, "backup", json_object_get(p, "backup"));
	json_object_set(r, "target", json_object_get(p, "target"));
	json_object_set_new(r, "freshness", fresh ? json_deep_copy(fresh) : json_null());
	return r;
}

static void restore_text(FILE *out, const json_t *r)
{
	fprintf(out, "restore %s on %s from backup %s: %s (operation %s)\n", jstr(r, "service"),
		jstr(r, "target"), jstr(r, "backup"), jstr(r, "state"), jstr(r, "op"));
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(r, "steps"), i, s)
		fprintf(out, "  %-10s %s\n", jstr(s, "name"), jstr(s, "state"));
	fprintf(out, "next: skiff status %s\n", jstr(r, "service"));
}

static void plan_text(FILE *out, const json_t *r)
{
	const json_t *f = json_object_get(r, "freshness");
	const json_t *max = json_object_get(f, "max_age_s");
	fprintf(out, "restore %s on %s from backup %s (taken %lld s ago; stale after ",
		jstr(json_object_get(r, "params"), "service"),
		jstr(json_object_get(r, "params"), "target"), jstr(f, "backup"),
		(long long)json_integer_value(json_object_get(f, "age_s")));
	if (json_is_integer(max))
		fprintf(out, "%lld s)\n", (long long)json_integer_value(max));
	else
		fprintf(out, "no limit)\n");
	sk_op_plan_text(out, json_object_get(r, "plan"));
}

/* --dry-run: the plan, and the freshness check the first step makes. */
static int dry_run(struct sk_cli *cli, const struct restore_args *a, const json_t *params,
		   const struct sk_backup *b, struct sk_err *err)
{
	struct sk_backupjob j;
	json_t *plan = NULL, *fresh = NULL;
	int rc = sk_backupjob_load(cli->repo, a->service, jstr(params, "target"), &j, err);
	if (!rc) {
		const json_t *max = json_object_get(j.backup, "max_age_s");
		rc = sk_backupjob_freshness(b, max ? (long long)json_integer_value(max) : 0,
					    (long long)time(NULL), &fresh, err);
	}
	if (rc && fresh) {
		json_decref(cli->error_details);
		cli->error_details = json_pack("{s:O}", "freshness", fresh);
	}
	if (!rc)
		rc = sk_op_plan(SK_RESTOREOP_KIND, a->service, params, &plan, err);
	if (!rc)
		sk_cli_result(cli,
			      json_pack("{s:b, s:O, s:O, s:o}", "dry_run", 1, "params", params,
					"freshness", fresh, "plan", plan),
			      plan_text);
	json_decref(fresh);
	sk_backupjob_clear(&j);
	return rc;
}

int cmd_restore(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	static const struct option opts[] = { { "backup", required_argument, NULL, 'b' },
					      { "target", required_argument, NULL, 't' },
					      { "wait", required_argument, NULL, 'w' },
					      { "drain-timeout", required_argument, NULL, 'd' },
					      { NULL, 0, NULL, 0 } };
	static const struct sk_runbook rb = { .kind = SK_RESTOREOP_KIND,
					      .result = restore_result,
					      .text = restore_text };
	struct restore_args a;
	memset(&a, 0, sizeof(a));
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b': a.backup = optarg; break;
		case 't': a.target = optarg; break;
		case 'w': a.wait = optarg; break;
		case 'd': a.drain = optarg; break;
		default: return sk_cli_usage(cli, err, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return sk_cli_usage(cli, err, "restore takes one SERVICE");
	a.service = argv[optind];
	int rc = sk_spec_component_check(a.service, SK_SPEC_NAME_MAX, "service", err);
	if (!rc && a.target)
		rc = sk_spec_component_check(a.target, SK_SPEC_NAME_MAX, "target", err);
	struct sk_backup b;
	json_t *params = NULL;
	if (!rc)
		rc = build_params(cli, &a, &b, &params, err);
	if (!rc && cli->dry_run)
		rc = dry_run(cli, &a, params, &b, err);
	else if (!rc)
		rc = sk_runbook_start(cli, &rb, a.service, params, err);
	json_decref(params);
	return rc;
}
