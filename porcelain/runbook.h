/*
 * The shape every runbook command shares (deploy, drain, undrain,
 * restore, rotate, failover): plan an operation from its params, print
 * the plan under --dry-run, or create it and run it with progress
 * (porcelain/progress.h), then report where it ended with one result and
 * the exit code the outcome calls for:
 *   succeeded 0 · awaiting approval 5 · paused 6 (by a gate or a person;
 *   the hint names resume and the undo command) · compensated after a
 *   failed step: that step's own error class (4 for a verification,
 *   3 for a precondition, else 1).
 */
#ifndef SK_PORCELAIN_RUNBOOK_H
#define SK_PORCELAIN_RUNBOOK_H

#include <stdio.h>

#include <jansson.h>

#include "common/cli.h"
#include "ops/engine.h"

struct sk_runbook {
	const char *kind;
	/* the result document for an operation (NULL: sk_runbook_result) */
	json_t *(*result)(const struct sk_op *op);
	/* its text rendering (NULL: sk_runbook_text) */
	void (*text)(FILE *out, const json_t *result);
	/* how a paused operation is undone, "%s" the service, e.g.
	 * "skiff rollback %s" (NULL: "skiff cancel ID") */
	const char *undo;
};

/* {"op","kind","service","state","trace","params","steps":[{name,state,result}]} */
json_t *sk_runbook_result(const struct sk_op *op);
/* "KIND SERVICE: STATE (operation ID)", each step's state, the next command. */
void sk_runbook_text(FILE *out, const json_t *result);

/* --dry-run: prints {"dry_run":true,"params","plan"}; otherwise creates
 * the operation and runs it (sk_runbook_run). service may be NULL. */
int sk_runbook_start(struct sk_cli *cli, const struct sk_runbook *rb, const char *service,
		     const json_t *params, struct sk_err *err);
/* Runs op (created or resumed) and reports its outcome as above. */
int sk_runbook_run(struct sk_cli *cli, const struct sk_runbook *rb, struct sk_op *op,
		   struct sk_err *err);

#endif
