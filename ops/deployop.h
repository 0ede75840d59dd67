/*
 * The operation type "deploy": ship one signed release of a service to
 * its targets, moving traffic only as live signals allow.
 *
 * Params (strings, as every operation's):
 *   "service"         the service
 *   "release"         the version to ship (refs/releases/<svc>/<release>)
 *   "from"            the stable release when planned ("" for none: a
 *                     first deploy puts the release on every target)
 *   "parent"          the service's commit when planned ("" for none):
 *                     the compensation puts the releases and weights of
 *                     this commit's control back
 *   "canary"          the canary targets, comma-separated
 *   "steps"           the canary steps "WEIGHT:BAKE_S,…" ("" for none);
 *                     weights in percent, strictly increasing
 *   "auto_rollback"   "true" or "false": a failed gate rolls back at once,
 *                     or pauses with `skiff rollback SERVICE` recommended
 *   "stateful"        "true" or "false" (the release's own flag)
 *   "wait_s"          how long to wait for runners to report healthy
 *
 * Steps, each observe-then-act (a resumed step does again only what is
 * not done, so no traffic change is repeated):
 *   verify        none    the signed release: signature, signer role,
 *                         every chunk and digest
 *   preflight     none    no other unfinished operation on the service;
 *                         the stable targets' runners report healthy
 *   assign        low     state commit: the canary targets run the
 *                         release at weight 0
 *   wait-healthy  none    their runners report it healthy (refused or
 *                         given up: the step fails; too slow: pause)
 *   weight-N      medium  state commit of the weights that put N% of
 *                         traffic on the canary, applied to the traffic
 *                         provider; bake; the verdict (ops/canary.h):
 *                         advance, pause (exit 6), or rollback (the step
 *                         fails and compensation runs, or with
 *                         auto_rollback false a pause recommending it)
 *   promote       medium  every target runs the release; once all report
 *                         healthy, the release becomes the stable one and
 *                         every target takes an equal share
 * A stateful release has no canary steps: after verify and preflight
 * (every member healthy on the stable release), "canary" lists every
 * member and each is a step member-N of risk high that needs an approval
 * of its own (approve_each): out of traffic, onto the release, healthy,
 * back in; then promote.
 *
 * The reversible steps share one compensation, "restore": the releases,
 * weights and stable release of "parent" go back (a state commit) and
 * into the traffic provider.
 *
 * The live signals of the current bake (written each second while it
 * lasts, for `skiff deploy` on a terminal) are in
 * <repo>/ops-live/<op-id>.json; they are a view, never a source of truth.
 */
#ifndef SK_OPS_DEPLOYOP_H
#define SK_OPS_DEPLOYOP_H

#include <stddef.h>

#include "common/err.h"

#define SK_DEPLOYOP_KIND "deploy"
#define SK_DEPLOY_MAX_STEPS 20

/* Parses "WEIGHT:BAKE_S,…" (weights 1..100 strictly increasing, bakes
 * 0..7 days, at most SK_DEPLOY_MAX_STEPS; "" is no step) into weight[] and
 * bake_s[] (SK_DEPLOY_MAX_STEPS each). SK_EINVAL naming the bad part. */
int sk_deployop_parse_steps(const char *s, int *weight, long *bake_s, size_t *n,
			    struct sk_err *err);

#endif
