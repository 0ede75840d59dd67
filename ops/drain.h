/*
 * Drain: a target out of traffic without cutting a request short, and
 * back in. The operation types "drain" and "undrain" (skiff drain,
 * skiff undrain) and the isolate/undrain steps of other runbooks
 * (restore) all go through the two functions here, so a drained target
 * means one thing everywhere:
 *   control: targets[T].drain = true (a state commit by the operation),
 *   haproxy: weight 0 and server state "drain" (no new connections;
 *            open ones finish), and after a reload the same again.
 *
 * Params of "drain" (strings): service, target, timeout_s (how long to
 * wait for open connections), force ("true": drain even the last target
 * in traffic). Steps:
 *   check      none    T exists with an address; unless force, another
 *                      target stays in traffic
 *   drain      medium  the state commit, applied to haproxy
 *                      (compensation "undrain")
 *   wait-idle  none    haproxy counts no open session on T; past the
 *                      timeout the operation pauses with the count
 * Params of "undrain": service, target, force ("true": without the
 * health check). Steps:
 *   check      none    T is drained; unless force, its runner reports
 *                      healthy and haproxy's check passes
 *   undrain    medium  the state commit, applied (compensation "drain")
 */
#ifndef SK_OPS_DRAIN_H
#define SK_OPS_DRAIN_H

#include <jansson.h>

#include "common/err.h"
#include "ops/engine.h"

#define SK_DRAINOP_KIND "drain"
#define SK_UNDRAINOP_KIND "undrain"

/* Takes target out of traffic (the state commit when control does not
 * say so yet, then haproxy), and waits up to timeout_ms until haproxy
 * counts no open session on it. *facts {"target","committed","traffic",
 * "sessions","waited_ms"}. Past the timeout: SK_EPAUSED, facts set. A
 * service whose traffic was never started has nothing to wait for. */
int sk_drain_target(const struct sk_op_ctx *ctx, const char *service, const char *target,
		    long long timeout_ms, json_t **facts, struct sk_err *err);

/* Puts target back into traffic. With require_healthy, first checks its
 * runner reports healthy and haproxy's check passes: SK_ECONFLICT
 * otherwise, the target left drained and *facts saying what was seen.
 * *facts {"target","committed","traffic","health"}. */
int sk_drain_undo(const struct sk_op_ctx *ctx, const char *service, const char *target,
		  int require_healthy, json_t **facts, struct sk_err *err);

/* The health facts sk_drain_undo checks: {"report":{state,release}|null,
 * "check":"L7OK"|…|null,"ok":bool}. */
int sk_drain_health(struct sk_repo *repo, const char *service, const char *target,
		    json_t **facts, struct sk_err *err);

#endif
