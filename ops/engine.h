/*
 * The saga engine. An operation type declares ordered steps (name, risk,
 * reversibility, action, compensation, observe); an executor drives one
 * operation through them, and every transition is durable before the
 * next thing happens:
 *
 *   write the event object (prev = the operation's current chain head),
 *   write the new operation object (naming that event as its head),
 *   CAS refs/operations/<id> from the operation it read.
 *
 * The CAS is the lease: an executor that lost it (another one moved the
 * ref: a resume, a cancel) gets SK_ECONFLICT at its next transition and
 * stops. The step protocol is record intent (step "running") -> act ->
 * record result ("succeeded"); a step found "running" on resume was
 * interrupted between the two, so observe re-checks the world first and
 * the action runs only when its effect is absent. Actions and
 * compensations must therefore be idempotent or observe-then-act.
 *
 * A failing step fails the operation; the steps that succeeded before it
 * are then compensated in reverse order (failed -> compensating ->
 * compensated). Cancel compensates the same way and ends "cancelled".
 *
 * Each operation has a trace id, carried by every event and exported as
 * SKIFF_TRACE_ID to the executor's children.
 *
 * Test hook: SKIFF_OP_KILL=N makes the process SIGKILL itself at the
 * N-th kill point (before and after every CAS, and wherever an action
 * calls sk_op_killpoint), so tests can crash an executor at every point.
 * SKIFF_OP_KILL_AT=WHERE kills it at the first kill point named WHERE
 * (e.g. a deploy's "weights-applied"), for one precise crash.
 */
#ifndef SK_OPS_ENGINE_H
#define SK_OPS_ENGINE_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"
#include "objects/oid.h"
#include "ops/opdoc.h"

struct sk_repo;
struct sk_key;

/* What an action sees. */
struct sk_op_ctx {
	struct sk_repo *repo;
	const struct sk_key *key; /* the executor's: what an action signs with */
	const char *id;
	const char *trace;
	const json_t *params;
	size_t step;
	const char *step_name;
	struct sk_oid head; /* the operation object this executor last wrote */
};

/* SK_ECONFLICT when refs/operations/<id> no longer points at ctx->head:
 * another executor (a resume, a cancel) took the operation over. Actions
 * call it right before an effect; it narrows the window in which a
 * stale executor acts, it cannot close it (hence observe-then-act). */
int sk_op_lease_check(const struct sk_op_ctx *ctx, struct sk_err *err);

/* act / compensate: 0 and *facts (a new object, may stay NULL) or an
 * error (facts, when set, are kept with the failure). An act returning
 * SK_EPAUSED pauses the operation at this step (a gate it cannot decide):
 * the step goes back to pending with facts and the reason as its result,
 * and resume runs it again. observe: *done = 1 when the step's effect is
 * already there. */
typedef int (*sk_op_act_fn)(const struct sk_op_ctx *ctx, json_t **facts, struct sk_err *err);
typedef int (*sk_op_observe_fn)(const struct sk_op_ctx *ctx, int *done, json_t **facts,
				struct sk_err *err);

struct sk_op_step_def {
	char name[SK_OP_NAME_MAX + 1];
	const char *risk; /* none|low|medium|high */
	int reversible;
	const char *compensation; /* name of the compensation, NULL when none */
	/* high risk only: this step needs approvals of its own (bound to its
	 * index), not the operation's; each member of a stateful deploy */
	int approve_each;
	sk_op_act_fn act;
	sk_op_act_fn compensate; /* NULL when !reversible */
	sk_op_observe_fn observe;
};

struct sk_op_type {
	const char *kind;
	const char *summary;
	/* Fills up to SK_OP_MAX_STEPS steps for params; SK_EINVAL on bad params. */
	int (*plan)(const json_t *params, struct sk_op_step_def *steps, size_t *n,
		    struct sk_err *err);
	/* Nonzero when the type may run in this process (test-only types). */
	int (*enabled)(void);
};

/* The registry: NULL when kind is unknown. */
const struct sk_op_type *sk_op_type_find(const char *kind);
/* The steps of kind for params: SK_EINVAL for an unknown kind, a
 * test-only kind not enabled, or params the type refuses. */
int sk_op_type_plan(const char *kind, const json_t *params, struct sk_op_step_def *defs,
		    size_t *n, struct sk_err *err);

/* One loaded operation: its document and the object the ref points at. */
struct sk_op {
	json_t *doc;
	struct sk_oid head;
};

/* A new time-prefixed operation id (sortable, a valid ref component) and
 * trace id. id >= SK_OPID_MAX+1 bytes, trace >= SK_TRACE_HEXSZ+1. */
void sk_op_new_ids(char *id, size_t idn, char *trace, size_t tracen);

/* Plans and stores a new operation (state "planned", event "created"),
 * creating refs/operations/<id>. service may be NULL. */
int sk_op_create(struct sk_repo *repo, const struct sk_key *key, const char *kind,
		 const char *service, const json_t *params, struct sk_op **out, struct sk_err *err);
/* Loads refs/operations/<id> (head record verified, document checked). */
int sk_op_load(struct sk_repo *repo, const char *id, struct sk_op **out, struct sk_err *err);
void sk_op_free(struct sk_op *op);

/* Drives op to a final state (or to the first error). 0 when it
 * succeeded; SK_EFAIL when a step failed and compensation finished
 * (state "compensated"); SK_ECONFLICT when another executor moved it. */
int sk_op_run(struct sk_repo *repo, const struct sk_key *key, struct sk_op *op,
	      struct sk_err *err);
/* Cancels: compensates what succeeded (and an interrupted step whose
 * effect observe finds), in reverse order, then "cancelled"; a succeeded
 * operation is undone the same way. A compensated or cancelled one is
 * SK_ECONFLICT. */
int sk_op_cancel(struct sk_repo *repo, const struct sk_key *key, struct sk_op *op,
		 struct sk_err *err);

/* Pauses op from outside its executor (`skiff pause`): state "paused",
 * an interrupted step back to pending (it runs again on resume), event
 * "paused" naming reason and key. The executor loses its lease and stops
 * at its next check. SK_ECONFLICT unless op is planned or running. */
int sk_op_pause(struct sk_repo *repo, const struct sk_key *key, struct sk_op *op,
		const char *reason, struct sk_err *err);
/* Skips the steps from the cursor up to step `to` (marked "skipped"; the
 * cursor moves to `to`), e.g. a deploy's remaining canary steps when an
 * operator promotes. A running operation is left paused (its executor
 * loses the lease); sk_op_run then goes on from `to`. SK_ECONFLICT for a
 * final, failed or compensating operation or a step behind the cursor. */
int sk_op_skip_to(struct sk_repo *repo, const struct sk_key *key, struct sk_op *op, size_t to,
		  const char *reason, struct sk_err *err);

/* The error code the failed step of an operation document recorded
 * (its "code"), so a command exits as the step's error says: a conflict
 * class code is SK_ECONFLICT; SK_EFAIL when no step failed or the code
 * is unknown. */
int sk_op_failed_code(const json_t *doc);

/* The events of op, oldest first, each verified (hash, format, same op
 * and trace, seq consecutive, prev linked) back to seq 1. */
int sk_op_events(struct sk_repo *repo, const struct sk_op *op, json_t **out, struct sk_err *err);

/* Summaries {id, kind, service, state, created, cursor, steps} of every
 * operation, oldest first; service/state filter when not NULL. */
int sk_op_list(struct sk_repo *repo, const char *service, const char *state, json_t **out,
	       struct sk_err *err);

/* --- two-party approval (ops/approve.c) ---------------------------
 * A high-risk step waits in awaiting-approval until the operation holds
 * as many valid approvals as the trust policy's threshold. Valid: a
 * stored `approval` object for this operation id and its current plan
 * digest, signed by a key of the policy that holds "approver" with a
 * scope covering refs/services/<service> (refs/operations/<id> for an
 * operation without a service), that is not the requester (the
 * operation's actor), one per key. */

/* {"plan":HEX,"needed":N,"valid":M,"approvals":[{"id","signer",
 * "signer_name","time","reason","counts","why"}]} for op. */
int sk_op_approvals(struct sk_repo *repo, const struct sk_op *op, json_t **out,
		    struct sk_err *err);
/* Signs and stores key's approval of op (which must be awaiting
 * approval) and records it in the operation: SK_EROLE for the requester
 * or a key without the approver role, SK_ECONFLICT when op is not
 * waiting or key already approved it. dry_run checks without writing.
 * out (may be NULL) receives sk_op_approvals' result after the change. */
int sk_op_approve(struct sk_repo *repo, const struct sk_key *key, struct sk_op *op,
		  const char *reason, int dry_run, json_t **out, struct sk_err *err);

/* Test hook shared by the test-only paths of operation types: creates
 * PATH.hanging and waits until PATH.release exists (ops/testop.c). */
void sk_op_test_hang(const char *path);

/* A kill point (see above), named by where. */
void sk_op_killpoint(const char *where);

#endif
