/*
 * What the files of ops/ share and nobody else calls.
 */
#ifndef SK_OPS_INTERNAL_H
#define SK_OPS_INTERNAL_H

#include "ops/engine.h"

/* One durable transition of op (its document already changed by the
 * caller): event kind/step/facts (consumed), operation object, CAS. */
int sk_op_transition(struct sk_repo *repo, const struct sk_key *key, struct sk_op *op,
		     const char *kind, long step, json_t *facts, struct sk_err *err);

/* Before high-risk step i: 0 when op holds enough valid approvals (with
 * each set: approvals of step i itself); otherwise op is moved to
 * awaiting-approval (unless it is there) and the result is SK_EAPPROVAL. */
int sk_op_gate(struct sk_repo *repo, const struct sk_key *key, struct sk_op *op, size_t step,
	       int each, struct sk_err *err);

#endif
