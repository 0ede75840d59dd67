/*
 * Runbook commands: plan or run one operation and report its outcome
 * (see runbook.h). The outcome is read back from the operation's ref
 * after the run, never from memory: another executor (a resume, a
 * pause, a cancel) may have moved it meanwhile.
 */
#include "porcelain/runbook.h"

#include <string.h>

#include "objects/refrecord.h"
#include "ops/plan.h"
#include "porcelain/progress.h"

json_t *sk_runbook_result(const struct sk_op *op)
{
	const json_t *d = op->doc;
	json_t *steps = json_array();
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(d, "steps"), i, s)
		json_array_append_new(steps, json_pack("{s:O, s:O, s:O?}", "name",
						       json_object_get(s, "name"), "state",
						       json_object_get(s, "state"), "result",
						       json_object_get(s, "result")));
	return json_pack("{s:O, s:O, s:O?, s:O, s:O, s:O, s:o}", "op", json_object_get(d, "id"),
			 "kind", json_object_get(d, "kind"), "service",
			 json_object_get(d, "service"), "state", json_object_get(d, "state"),
			 "trace", json_object_get(d, "trace"), "params",
			 json_object_get(d, "params"), "steps", steps);
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

void sk_runbook_text(FILE *out, const json_t *r)
{
	fprintf(out, "%s %s: %s (operation %s)\n", jstr(r, "kind"), jstr(r, "service"),
		jstr(r, "state"), jstr(r, "op"));
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(r, "steps"), i, s)
		fprintf(out, "  %-16s %s\n", jstr(s, "name"), jstr(s, "state"));
	if (*jstr(r, "service"))
		fprintf(out, "next: skiff status %s\n", jstr(r, "service"));
}

/* The hint of a paused operation: how to go on, how to undo. */
static void paused_hint(const struct sk_runbook *rb, const char *id, const char *service,
			struct sk_err *err)
{
	char undo[SK_ERR_HINT / 2];
	if (rb->undo && service)
		snprintf(undo, sizeof(undo), rb->undo, service);
	else
		snprintf(undo, sizeof(undo), "skiff cancel %s", id);
	snprintf(err->hint, sizeof(err->hint), "skiff resume %s continues; %s undoes it", id, undo);
}

int sk_runbook_run(struct sk_cli *cli, const struct sk_runbook *rb, struct sk_op *op,
		   struct sk_err *err)
{
	json_t *(*result)(const struct sk_op *) = rb->result ? rb->result : sk_runbook_result;
	int rc = sk_progress_run(cli, op, err);
	char id[SK_OPID_MAX + 1];
	snprintf(id, sizeof(id), "%s", jstr(op->doc, "id"));
	const char *service = json_string_value(json_object_get(op->doc, "service"));
	struct sk_err lerr;
	struct sk_op *now = NULL;
	if (sk_op_load(cli->repo, id, &now, &lerr) == 0) {
		const char *st = jstr(now->doc, "state");
		if (rc == SK_ECONFLICT && strcmp(st, "paused") == 0)
			rc = sk_err_set(err, SK_EPAUSED, NULL, "%s %s was paused by another command",
					rb->kind, id);
		/* a failed step's own class: a digest that does not verify exits 4 */
		if (rc == SK_EFAIL)
			err->code = rc = sk_op_failed_code(now->doc);
		json_decref(cli->error_details);
		cli->error_details = result(now);
		if (rc == 0)
			sk_cli_result(cli, result(now), rb->text ? rb->text : sk_runbook_text);
		sk_op_free(now);
	}
	if (rc == SK_EPAUSED)
		paused_hint(rb, id, service, err);
	return rc;
}

int sk_runbook_start(struct sk_cli *cli, const struct sk_runbook *rb, const char *service,
		     const json_t *params, struct sk_err *err)
{
	json_t *plan = NULL;
	struct sk_op *op = NULL;
	int rc;
	if (cli->dry_run) {
		if (!(rc = sk_op_plan(rb->kind, service, params, &plan, err)))
			sk_cli_result(cli, json_pack("{s:b, s:O, s:o}", "dry_run", 1, "params", params,
						     "plan", plan),
				      NULL);
		return rc;
	}
	if (!(rc = sk_op_create(cli->repo, cli->key, rb->kind, service, params, &op, err)))
		rc = sk_runbook_run(cli, rb, op, err);
	sk_op_free(op);
	return rc;
}
