/*
 * Service state on top of refs: refs/services/<svc> points at the newest
 * `commit` (objects/state.h); its `control` is what the service should be.
 * Reading verifies the head record first, as every ref reader does;
 * writing stores control and commit, then moves the ref by CAS from the
 * commit the change was based on, so two concurrent changes cannot both
 * land (the loser gets SK_ECONFLICT and re-reads).
 */
#ifndef SK_SERVICE_H
#define SK_SERVICE_H

#include <jansson.h>

#include "common/err.h"
#include "objects/state.h"
#include "refs/refs.h"

struct sk_service_state {
	char service[65];
	int has_head;            /* 0: the service has no commit yet */
	struct sk_oid head;      /* the commit refs/services/<svc> points at */
	struct sk_commit commit; /* valid when has_head */
	json_t *control;         /* owned; an empty control when !has_head */
};

/* Loads a service's current state (an empty one when the ref does not
 * exist). The head record is verified, commit and control are read with
 * hash verification and checked. Release with sk_service_state_clear. */
int sk_service_load(struct sk_repo *repo, const char *service, struct sk_service_state *out,
		    struct sk_err *err);
void sk_service_state_clear(struct sk_service_state *st);

/* Reads and checks one commit (SK_OBJ_COMMIT) and, when control is not
 * NULL, its control (a new reference). */
int sk_service_read_commit(struct sk_repo *repo, const struct sk_oid *oid, struct sk_commit *out,
			   json_t **control, struct sk_err *err);

/* Records control as the next commit of base's service, signed by key:
 * stores the control and the commit, then moves refs/services/<svc> from
 * base's head (or from absent). message may be empty; op may be NULL.
 * With plan set, nothing is written: every check runs (names, trust,
 * the expectation against the current ref) and *out receives the commit
 * id it would write. */
int sk_service_commit(struct sk_repo *repo, const struct sk_key *key,
		      const struct sk_service_state *base, const json_t *control,
		      const char *message, const char *op, int plan, struct sk_oid *out,
		      struct sk_err *err);

#endif
