/*
 * What an object points at, for push and fetch: the objects a reader of
 * it will need. commit -> control, parent; signature -> release;
 * release -> each artifact's file; file -> its chunk blobs; operation ->
 * its newest event and its approvals; event -> the event before. Other types
 * point at nothing that travels with them (a refrecord's prev is walked
 * as a chain by the callers).
 */
#ifndef SK_REMOTE_WALK_H
#define SK_REMOTE_WALK_H

#include <stddef.h>

#include "common/err.h"
#include "objects/oid.h"

struct sk_oidset {
	struct sk_oid *v;
	size_t n, cap;
};

int sk_oidset_add(struct sk_oidset *s, const struct sk_oid *oid, struct sk_err *err);
int sk_oidset_has(const struct sk_oidset *s, const struct sk_oid *oid);
void sk_oidset_free(struct sk_oidset *s);

/* Appends the children of an object (type t, payload) to kids. The
 * payload is parsed with the strict readers: a malformed document is
 * SK_EINVAL/SK_ECORRUPT. */
int sk_walk_children(enum sk_otype t, const void *payload, size_t len, struct sk_oidset *kids,
		     struct sk_err *err);

#endif
