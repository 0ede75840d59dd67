/*
 * skiff deploy: ship a signed release as a "deploy" operation
 * (ops/deployop.h). The command plans the operation from the service's
 * control and the release's canary section, then runs it through the
 * saga engine. On a terminal in text mode the engine runs in a child
 * process while this one follows the operation's events and the live
 * signals of each bake (porcelain/progress.c); otherwise it prints one
 * line per event, or in JSON mode one document at the end.
 *
 * skiff rollback | promote | pause act on the service's newest deploy:
 * rollback cancels it (its compensation restores the releases, weights
 * and stable release of before), promote skips its remaining canary
 * steps, pause stops its executor at the next check.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "objects/spec.h"
#include "ops/deployop.h"
#include "ops/engine.h"
#include "ops/plan.h"
#include "porcelain/porcelain.h"
#include "porcelain/runbook.h"
#include "refs/release_verify.h"
#include "refs/service.h"

struct deploy_args {
	const char *service, *release, *steps, *bake, *targets, *wait;
	int canary;
};

/* The newest signed release of service: the ref made last (a tie in
 * the same second goes to the later name). */
static int newest_release(struct sk_cli *cli, const char *service, char *out, size_t n,
			  struct sk_err *err)
{
	char pattern[SK_REF_MAX + 1];
	snprintf(pattern, sizeof(pattern), "refs/releases/%s/*", service);
	struct sk_refrecord *recs = NULL;
	size_t nrec = 0;
	int rc = sk_refs_list(cli->repo, pattern, 0, &recs, &nrec, err);
	long long best = -1;
	for (size_t i = 0; !rc && i < nrec; i++)
		if ((long long)recs[i].time >= best) {
			best = (long long)recs[i].time;
			snprintf(out, n, "%s", strrchr(recs[i].ref, '/') + 1);
		}
	free(recs);
	if (!rc && best < 0)
		rc = sk_err_set(err, SK_ENOTFOUND,
				"create and sign one: skiff release create SERVICE ... --sign",
				"%s has no signed release", service);
	return rc;
}

/* The canary steps as "W:B,…": --steps weights with --bake, or the
 * release's own steps, or none (no --canary: all at once after the
 * first target is healthy). */
static int steps_param(const struct deploy_args *a, const struct sk_release *rel, char *out,
		       size_t n, struct sk_err *err)
{
	out[0] = '\0';
	long long bake = 60000;
	if (a->bake && sk_spec_duration_ms(a->bake, &bake, err))
		return sk_err_wrap(err, "--bake");
	bake /= 1000;
	const json_t *rsteps = json_object_get(json_object_get(rel->doc, "canary"), "steps");
	size_t len = 0;
	if (a->steps) {
		char buf[256];
		snprintf(buf, sizeof(buf), "%s", a->steps);
		char *save = NULL;
		for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save))
			len += (size_t)snprintf(out + len, n - len, "%s%s:%lld", len ? "," : "", w,
						bake);
	} else if (a->canary && rsteps) {
		size_t i;
		json_t *s;
		json_array_foreach(rsteps, i, s)
			len += (size_t)snprintf(
				out + len, n - len, "%s%lld:%lld", len ? "," : "",
				(long long)json_integer_value(json_object_get(s, "weight")),
				a->bake ? bake : (long long)json_integer_value(json_object_get(s, "bake_s")));
	} else if (a->canary) {
		snprintf(out, n, "5:%lld,25:%lld,50:%lld,100:%lld", bake, bake, bake, bake);
	}
	int w[SK_DEPLOY_MAX_STEPS];
	long b[SK_DEPLOY_MAX_STEPS];
	size_t k;
	return sk_deployop_parse_steps(out, w, b, &k, err);
}

/* --canary-targets, or every target for a first deploy, or the last
 * target in name order. */
static int canary_param(const struct deploy_args *a, const struct sk_service_state *st,
			const char *from, char *out, size_t n, struct sk_err *err)
{
	const json_t *targets = json_object_get(st->control, "targets");
	if (json_object_size(targets) == 0)
		return sk_err_set(err, SK_ENOTFOUND, "skiff target add SERVICE T --addr HOST:PORT",
				  "%s has no targets to deploy to", st->service);
	if (a->targets) {
		snprintf(out, n, "%s", a->targets);
		return 0;
	}
	size_t len = 0;
	const char *k, *last = NULL;
	json_t *v;
	json_object_foreach((json_t *)targets, k, v) {
		if (!*from)
			len += (size_t)snprintf(out + len, n - len, "%s%s", len ? "," : "", k);
		if (!last || strcmp(k, last) > 0)
			last = k;
	}
	if (*from)
		snprintf(out, n, "%s", last);
	return 0;
}

static int build_params(struct sk_cli *cli, const struct deploy_args *a,
			const struct sk_service_state *st, json_t **out, struct sk_err *err)
{
	char release[SK_SPEC_NAME_MAX + 1], steps[1024] = "", canary[1024],
		parent[SK_OID_HEXSZ + 1] = "";
	int rc = 0;
	if (a->release)
		snprintf(release, sizeof(release), "%s", a->release);
	else
		rc = newest_release(cli, st->service, release, sizeof(release), err);
	struct sk_rel_signed sig;
	struct sk_release *rel = NULL;
	if (!rc)
		rc = sk_rel_load_signed(cli->repo, st->service, release, &sig, &rel, err);
	const char *from = json_string_value(json_object_get(st->control, "release"));
	if (!from)
		from = "";
	if (!rc && strcmp(from, release) == 0)
		rc = sk_err_set(err, SK_ECONFLICT, "skiff status SERVICE shows what runs",
				"%s %s is already the stable release", st->service, release);
	int stateful = !rc && json_is_true(json_object_get(rel->doc, "stateful"));
	if (!rc && !stateful)
		rc = steps_param(a, rel, steps, sizeof(steps), err);
	if (!rc)
		rc = canary_param(a, st, stateful ? "" : from, canary, sizeof(canary), err);
	long long wait = 120000;
	if (!rc && a->wait && sk_spec_duration_ms(a->wait, &wait, err))
		rc = sk_err_wrap(err, "--wait");
	wait /= 1000;
	if (!rc) {
		const json_t *ar = json_object_get(json_object_get(rel->doc, "canary"), "auto_rollback");
		if (st->has_head)
			sk_oid_tohex(&st->head, parent);
		*out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "service", st->service,
				 "release", release, "from", from, "parent", parent, "canary", canary,
				 "steps", *from && !stateful ? steps : "", "auto_rollback",
				 ar && !json_is_true(ar) ? "false" : "true");
		json_object_set_new(*out, "stateful", json_string(stateful ? "true" : "false"));
		json_object_set_new(*out, "wait_s", json_sprintf("%lld", wait < 1 ? 1 : wait));
	}
	sk_release_free(rel);
	return rc;
}

static json_t *deploy_result(const struct sk_op *op)
{
	const json_t *p = json_object_get(op->doc, "params");
	json_t *r = sk_runbook_result(op);
	json_object_set(r, "release", json_object_get(p, "release"));
	json_object_set(r, "from", json_object_get(p, "from"));
	return r;
}

static void deploy_text(FILE *out, const json_t *r)
{
	const char *state = json_string_value(json_object_get(r, "state"));
	const char *svc = json_string_value(json_object_get(r, "service"));
	fprintf(out, "deploy %s %s: %s (operation %s)\n", svc,
		json_string_value(json_object_get(r, "release")), state,
		json_string_value(json_object_get(r, "op")));
	if (strcmp(state, "succeeded") == 0)
		fprintf(out, "next: skiff status %s\n", svc);
}

static const struct sk_runbook deploy_runbook = {
	.kind = SK_DEPLOYOP_KIND,
	.result = deploy_result,
	.text = deploy_text,
	.undo = "skiff rollback %s",
};

int cmd_deploy(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	static const struct option opts[] = {
		{ "release", required_argument, NULL, 'r' }, { "canary", no_argument, NULL, 'c' },
		{ "steps", required_argument, NULL, 's' },   { "bake", required_argument, NULL, 'b' },
		{ "canary-targets", required_argument, NULL, 't' },
		{ "wait", required_argument, NULL, 'w' },    { NULL, 0, NULL, 0 }
	};
	struct deploy_args a;
	memset(&a, 0, sizeof(a));
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r': a.release = optarg; break;
		case 'c': a.canary = 1; break;
		case 's': a.steps = optarg; a.canary = 1; break;
		case 'b': a.bake = optarg; break;
		case 't': a.targets = optarg; break;
		case 'w': a.wait = optarg; break;
		default: return sk_cli_usage(cli, err, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return sk_cli_usage(cli, err, "deploy takes one SERVICE");
	struct sk_service_state st;
	int rc = sk_service_load(cli->repo, argv[optind], &st, err);
	if (rc)
		return rc;
	json_t *params = NULL;
	rc = build_params(cli, &a, &st, &params, err);
	if (!rc)
		rc = sk_runbook_start(cli, &deploy_runbook, st.service, params, err);
	json_decref(params);
	sk_service_state_clear(&st);
	return rc;
}

/* --- rollback | promote | pause --------------------------------------- */

/* The service's newest deploy operation; with unfinished set, only an
 * unfinished one. */
static int newest_deploy(struct sk_cli *cli, const char *service, int unfinished,
			 struct sk_op **out, struct sk_err *err)
{
	json_t *ops = NULL;
	int rc = sk_op_list(cli->repo, service, NULL, &ops, err);
	const char *id = NULL;
	size_t i;
	json_t *o;
	json_array_foreach(ops, i, o) {
		const char *st = json_string_value(json_object_get(o, "state"));
		if (strcmp(json_string_value(json_object_get(o, "kind")), SK_DEPLOYOP_KIND) == 0 &&
		    (!unfinished || !sk_op_state_final(st)))
			id = json_string_value(json_object_get(o, "id"));
	}
	if (!rc && !id)
		rc = sk_err_set(err, SK_ENOTFOUND, "skiff op list --service SERVICE lists operations",
				"%s has no %sdeploy", service, unfinished ? "unfinished " : "");
	if (!rc)
		rc = sk_op_load(cli->repo, id, out, err);
	json_decref(ops);
	return rc;
}

static int one_service(struct sk_cli *cli, int argc, char **argv, const char *what,
		       struct sk_err *err)
{
	if (argc != 2 || argv[1][0] == '-')
		return sk_cli_usage(cli, err, "%s takes one SERVICE", what);
	return sk_spec_component_check(argv[1], SK_SPEC_NAME_MAX, "service", err);
}

static void after_text(FILE *out, const json_t *r)
{
	fprintf(out, "%s %s: deploy %s of %s is %s\n", json_string_value(json_object_get(r, "action")),
		json_string_value(json_object_get(r, "service")),
		json_string_value(json_object_get(r, "op")),
		json_string_value(json_object_get(r, "release")),
		json_string_value(json_object_get(r, "state")));
	fprintf(out, "next: skiff status %s\n", json_string_value(json_object_get(r, "service")));
}

static void after_result(struct sk_cli *cli, const char *action, const struct sk_op *op)
{
	json_t *r = deploy_result(op);
	json_object_set_new(r, "action", json_string(action));
	sk_cli_result(cli, r, after_text);
}

int cmd_rollback(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	struct sk_op *op = NULL;
	json_t *plan = NULL;
	int rc = one_service(cli, argc, argv, "rollback", err);
	if (!rc)
		rc = newest_deploy(cli, argv[1], 0, &op, err);
	if (!rc && cli->dry_run && !(rc = sk_op_plan_cancel(op, &plan, err)))
		sk_cli_result(cli, json_pack("{s:b, s:o}", "dry_run", 1, "plan", plan), NULL);
	if (!rc && !cli->dry_run && !(rc = sk_op_cancel(cli->repo, cli->key, op, err)))
		after_result(cli, "rolled back", op);
	sk_op_free(op);
	return rc;
}

/* The index of the deploy's "promote" step. */
static size_t promote_index(const struct sk_op *op)
{
	const json_t *steps = json_object_get(op->doc, "steps");
	return json_array_size(steps) - 1;
}

int cmd_promote(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	struct sk_op *op = NULL;
	json_t *plan = NULL;
	int rc = one_service(cli, argc, argv, "promote", err);
	if (!rc)
		rc = newest_deploy(cli, argv[1], 1, &op, err);
	if (!rc && cli->dry_run && !(rc = sk_op_plan_resume(op, &plan, err)))
		sk_cli_result(cli, json_pack("{s:b, s:o}", "dry_run", 1, "plan", plan), NULL);
	if (!rc && !cli->dry_run)
		rc = sk_op_skip_to(cli->repo, cli->key, op, promote_index(op),
				   "promoted by an operator: remaining canary steps skipped", err);
	if (!rc && !cli->dry_run)
		rc = sk_runbook_run(cli, &deploy_runbook, op, err);
	sk_op_free(op);
	return rc;
}

int cmd_pause(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	struct sk_op *op = NULL;
	int rc = one_service(cli, argc, argv, "pause", err);
	if (!rc)
		rc = newest_deploy(cli, argv[1], 1, &op, err);
	if (!rc && cli->dry_run) {
		json_t *plan = NULL;
		if (!(rc = sk_op_plan_resume(op, &plan, err)))
			sk_cli_result(cli, json_pack("{s:b, s:o}", "dry_run", 1, "plan", plan), NULL);
	} else if (!rc && !(rc = sk_op_pause(cli->repo, cli->key, op, "paused by an operator", err))) {
		after_result(cli, "paused", op);
	}
	sk_op_free(op);
	return rc;
}
