/*
 * Plans for --dry-run (see plan.h). They follow the walks of the engine
 * (sk_op_run, sk_op_cancel, the compensation in reverse order) from the
 * stored document alone, so a dry run reads nothing else and writes
 * nothing; a change to those walks belongs here too.
 */
#include "ops/plan.h"

#include <string.h>

#include "ops/engine.h"

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static json_t *step_json(const char *name, const char *risk, int reversible,
			 const char *compensation)
{
	return json_pack("{s:s, s:s, s:b, s:s?}", "name", name, "risk", risk, "reversible",
			 reversible, "compensation", compensation);
}

int sk_op_plan(const char *kind, const char *service, const json_t *params, json_t **plan,
	       struct sk_err *err)
{
	struct sk_op_step_def defs[SK_OP_MAX_STEPS];
	size_t n = 0;
	*plan = NULL;
	int rc = sk_op_type_plan(kind, params, defs, &n, err);
	if (rc)
		return rc;
	json_t *steps = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(steps, step_json(defs[i].name, defs[i].risk, defs[i].reversible,
						       defs[i].compensation));
	*plan = json_pack("{s:s, s:s?, s:o}", "kind", kind, "service", service, "steps", steps);
	return *plan ? 0 : sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
}

/* Step i of the stored document as a plan entry with its action. */
static json_t *planned_step(const json_t *s, size_t i, const char *action)
{
	json_t *j = step_json(str(s, "name"), str(s, "risk"),
			      json_is_true(json_object_get(s, "reversible")), str(s, "compensation"));
	json_object_set_new(j, "index", json_integer((json_int_t)i + 1));
	json_object_set_new(j, "state", json_string(str(s, "state")));
	json_object_set_new(j, "action", json_string(action));
	return j;
}

static int has_failed_step(const json_t *steps)
{
	size_t i;
	json_t *s;
	json_array_foreach(steps, i, s)
		if (strcmp(str(s, "state"), "failed") == 0)
			return 1;
	return 0;
}

/* The compensation walk, newest step first: what it would undo, and what
 * it would have to leave in place. */
static json_t *compensation_steps(const json_t *steps)
{
	json_t *out = json_array();
	for (size_t k = json_array_size(steps); k-- > 0;) {
		const json_t *s = json_array_get(steps, k);
		const char *st = str(s, "state");
		int undoable = json_is_true(json_object_get(s, "reversible")) && str(s, "compensation");
		const char *action = NULL;
		if (strcmp(st, "running") == 0)
			action = undoable ? "observe-then-compensate" : "keep";
		else if (strcmp(st, "compensating") == 0)
			action = "compensate";
		else if (strcmp(st, "succeeded") == 0)
			action = undoable ? "compensate" : "keep";
		if (action)
			json_array_append_new(out, planned_step(s, k, action));
	}
	return out;
}

static json_t *plan_of(const json_t *doc, const char *outcome, json_t *steps)
{
	return json_pack("{s:s, s:O, s:s, s:s, s:s?, s:o}", "kind", str(doc, "kind"), "service",
			 json_object_get(doc, "service"), "op", str(doc, "id"), "state",
			 str(doc, "state"), "outcome", outcome, "steps", steps);
}

int sk_op_plan_resume(const struct sk_op *op, json_t **plan, struct sk_err *err)
{
	const json_t *doc = op->doc, *steps = json_object_get(doc, "steps");
	const char *st = str(doc, "state");
	if (sk_op_state_final(st))
		*plan = plan_of(doc, st, json_array());
	else if (strcmp(st, "failed") == 0 || strcmp(st, "compensating") == 0)
		*plan = plan_of(doc, has_failed_step(steps) ? "compensated" : "cancelled",
				compensation_steps(steps));
	else {
		json_t *todo = json_array();
		size_t n = json_array_size(steps);
		for (size_t i = (size_t)json_integer_value(json_object_get(doc, "cursor")); i < n; i++) {
			const json_t *s = json_array_get(steps, i);
			json_array_append_new(todo, planned_step(s, i,
								 strcmp(str(s, "state"), "running") == 0
									 ? "observe-then-run"
									 : "run"));
		}
		*plan = plan_of(doc, "succeeded", todo);
	}
	return *plan ? 0 : sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
}

int sk_op_plan_cancel(const struct sk_op *op, json_t **plan, struct sk_err *err)
{
	const json_t *doc = op->doc, *steps = json_object_get(doc, "steps");
	const char *st = str(doc, "state");
	*plan = NULL;
	if (sk_op_state_final(st) && strcmp(st, "succeeded") != 0)
		return sk_err_set(err, SK_ECONFLICT, "skiff op show ID shows it",
				  "operation %s is already %s", str(doc, "id"), st);
	*plan = plan_of(doc, has_failed_step(steps) ? "compensated" : "cancelled",
			compensation_steps(steps));
	return *plan ? 0 : sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
}

void sk_op_plan_text(FILE *out, const json_t *plan)
{
	const char *op = str(plan, "op"), *service = str(plan, "service");
	const json_t *steps = json_object_get(plan, "steps");
	fprintf(out, "plan       %s%s%s\n", str(plan, "kind"), service ? " for " : "",
		service ? service : "");
	if (op)
		fprintf(out, "operation  %s (%s), would end %s\n", op, str(plan, "state"),
			str(plan, "outcome"));
	if (json_array_size(steps) == 0) {
		fprintf(out, "  nothing to do\n");
		return;
	}
	fprintf(out, "  %-3s %-20s %-7s %-10s %s%s\n", "#", "STEP", "RISK", "REVERSIBLE",
		op ? "COMPENSATION     " : "COMPENSATION", op ? "ACTION" : "");
	size_t i;
	json_t *s;
	json_array_foreach(steps, i, s) {
		const json_t *idx = json_object_get(s, "index");
		const char *comp = str(s, "compensation"), *action = str(s, "action");
		fprintf(out, "  %-3lld %-20s %-7s %-10s %-*s%s%s\n",
			idx ? (long long)json_integer_value(idx) : (long long)i + 1, str(s, "name"),
			str(s, "risk"), json_is_true(json_object_get(s, "reversible")) ? "yes" : "no",
			action ? 16 : 0, comp ? comp : "-", action ? " " : "", action ? action : "");
	}
}
