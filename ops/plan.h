/*
 * Plans for --dry-run: what an operation would do, step by step, with each
 * step's risk, reversibility and compensation, computed without running
 * anything and without writing anything (no engine transition, no object,
 * no ref). A plan is
 *   {"kind":K,"service":S|null,"steps":[{"name","risk","reversible",
 *    "compensation"},...]}
 * and the plans of resume and cancel add "op", "state" (where the
 * operation stands), "outcome" (the state it would end in when every step
 * goes as planned) and per step its current "state" and the "action" the
 * executor would take: run | observe-then-run (an interrupted step: its
 * effect is looked for first) | compensate | observe-then-compensate |
 * keep (done and irreversible: cancel cannot undo it).
 */
#ifndef SK_OPS_PLAN_H
#define SK_OPS_PLAN_H

#include <jansson.h>
#include <stdio.h>

#include "common/err.h"

struct sk_op;

/* The plan a new operation of kind with params would run (service may be
 * NULL). Test-only kinds follow their enabled() like sk_op_create. */
int sk_op_plan(const char *kind, const char *service, const json_t *params, json_t **plan,
	       struct sk_err *err);
/* What `skiff resume` would do with op, as sk_op_run would. */
int sk_op_plan_resume(const struct sk_op *op, json_t **plan, struct sk_err *err);
/* What `skiff cancel` would do with op, as sk_op_cancel would
 * (SK_ECONFLICT for an operation compensated or cancelled already, as
 * cancel itself; a succeeded one is undone). */
int sk_op_plan_cancel(const struct sk_op *op, json_t **plan, struct sk_err *err);

/* The plan for people: one aligned line per step. */
void sk_op_plan_text(FILE *out, const json_t *plan);

#endif
