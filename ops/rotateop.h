/*
 * The operation type "rotate": a service's secret moves to a new
 * reference through the canary path, and the old reference is revoked
 * only once every consumer confirmed the new one.
 *
 *   stage    low     a new secretref version (prev = the old one) and
 *                    refs/secrets/<svc>/<NAME> moves to it; no pin moves,
 *                    so nobody loads it yet          (undo: ref back)
 *   canary   medium  the canary targets pin it (control.targets[T].secrets);
 *                    their runners restart the workload with it
 *                                                    (undo: pins back)
 *   canary-confirm none  the canary runners report it loaded and healthy
 *   roll     medium  the service pins it (control.secrets), per-target pins
 *                    of the name go                  (undo: pins back)
 *   confirm  none    every target's report names the new version and is
 *                    healthy; otherwise the operation pauses with the facts
 *   revoke   high    the provider revokes the old reference (its revoke
 *                    hook); needs an approval; irreversible
 *   record   none    the rotation's summary
 *
 * Pins and waits are separate steps, so a wait that does not see its
 * reports in time pauses after the pins it waits on are recorded as done
 * (resume waits again; cancel compensates them: the pins go back). A runner that cannot load the new
 * version keeps its workload on the old one and says why in its report,
 * which the pause's facts carry. Every step observes before it acts, so
 * a resume after a crash at any point neither stages twice nor skips.
 *
 * params (strings): service, name, from (the version rotated away from, a
 * full object id), to ("provider:ref"), canary ("T,T,..."), wait_s.
 */
#ifndef SK_OPS_ROTATEOP_H
#define SK_OPS_ROTATEOP_H

#include "common/err.h"

struct sk_repo;

#define SK_ROTATEOP_KIND "rotate"

/* SK_ECONFLICT (naming it) when a rotation of service is unfinished:
 * a second rotation or a secret set would race its pins. */
int sk_rotateop_check_idle(struct sk_repo *repo, const char *service, struct sk_err *err);

#endif
