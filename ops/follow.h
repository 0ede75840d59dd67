/*
 * Following an operation's event chain as it grows (skiff op events
 * --follow): the events after the last one a reader has seen, found by
 * walking back from the operation's "event" head to that one, and
 * verified link by link as sk_op_events verifies the whole chain.
 */
#ifndef SK_OPS_FOLLOW_H
#define SK_OPS_FOLLOW_H

#include <jansson.h>

#include "common/err.h"
#include "objects/oid.h"
#include "ops/engine.h"

struct sk_repo;

/* The events of op after event after (whose seq is after_seq; a zero oid
 * and 0 for none: the whole chain), oldest first, each with its "id".
 * Each is read with hash verification and checked: its format, the same
 * op and trace, seq one below the next, prev naming the one before, and
 * the walk ends exactly at after (SK_ECORRUPT otherwise: the chain the
 * reader saw is not a prefix of this one). */
int sk_op_events_after(struct sk_repo *repo, const struct sk_op *op, const struct sk_oid *after,
		       long long after_seq, json_t **out, struct sk_err *err);

#endif
