/*
 * The operation type "control-set": one change of a service's settings,
 * recorded as a state commit on refs/services/<svc> that names the
 * operation ("op" in the commit).
 *
 * Params (strings, as every operation's):
 *   "service"   the service
 *   "parent"    the commit the change was planned against ("" when the
 *               service had none); the step moves the ref by CAS from
 *               exactly this commit, so a change made in between fails
 *               the step instead of being overwritten
 *   "message"   the commit message (at most SK_OP_PARAM_MAX bytes)
 *   "set.KEY"   VALUE to set, "unset.KEY" "" to remove (at least one;
 *               KEY at most 60 bytes for set., 58 for unset., since a
 *               param name is at most SK_OP_NAME_MAX bytes)
 *
 * One step, "commit-control" (low risk, reversible): observe looks for a
 * commit of this operation between the service's head and the planned
 * parent. Its compensation "revert-control" records a new commit that
 * puts every key the change touched back to its value before the change,
 * provided each still holds the value the change gave it (someone may
 * have committed on top since: their other changes are kept; a touched
 * key changed by them is a conflict, and nothing is reverted).
 */
#ifndef SK_OPS_CONTROLOP_H
#define SK_OPS_CONTROLOP_H

#include <jansson.h>

#include "common/err.h"

#define SK_CONTROLOP_KIND "control-set"

/* Adds the change "set KEY to value" (value NULL: remove KEY) to params;
 * SK_EINVAL when the key cannot be a param name or the params are full. */
int sk_controlop_param(json_t *params, const char *key, const char *value, struct sk_err *err);

/* Applies the changes in params to control, in place: every set, then
 * every unset (SK_ENOTFOUND for a key the control does not have). */
int sk_controlop_apply(json_t *control, const json_t *params, struct sk_err *err);

#endif
