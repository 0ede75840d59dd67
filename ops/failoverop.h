/*
 * The operation type "failover": move a service's traffic to one target
 * group. Targets carry "group":G in the service's control; "active_group"
 * names the group in traffic, and every other target stands by as a
 * haproxy backup server (cloud/traffic.h: sk_traffic_standby). No
 * active_group means every target is active.
 *
 * Params (strings, as every operation's):
 *   "service"  the service
 *   "group"    the group to route to
 *   "from"     the active group when planned ("" for none); the route
 *              step moves from exactly this one, and the compensation
 *              puts it back
 *   "wait_s"   how long validation waits for the group to be healthy
 *
 * Steps:
 *   plan      none  facts: the active group, each group's targets with
 *                   their runner reports and haproxy checks; refuses an
 *                   unknown or empty group (SK_ENOTFOUND), the group
 *                   already active or the active one changed since
 *                   planning, another unfinished operation on the service
 *                   (SK_ECONFLICT), traffic never started (SK_ENOTFOUND)
 *   route     high  reversible: state commit "active_group":G, applied
 *                   to haproxy (the other groups' servers become backup:
 *                   a reload). Observe: the commit is there (done); the
 *                   next step makes haproxy agree if an executor died
 *                   between the commit and the reload. Compensation
 *                   "route-back": the "from" group (or no active group)
 *                   committed and applied again.
 *   validate  none  haproxy applied; then, within wait_s, every server of
 *                   the group passes its check (status UP, L7OK), every
 *                   runner of the group reports healthy, and requests
 *                   made through the frontend are counted on the group's
 *                   servers. Otherwise the step fails: route-back runs.
 *   record    none  summary facts: active group, servers in traffic and
 *                   standing by.
 */
#ifndef SK_OPS_FAILOVEROP_H
#define SK_OPS_FAILOVEROP_H

#include <jansson.h>

#include "common/err.h"

struct sk_repo;

#define SK_FAILOVEROP_KIND "failover"
/* requests validation sends through the frontend */
#define SK_FAILOVER_PROBES 4

/* {G: [T,...]} of control's targets that have a group, each group's
 * targets in name order (a new object). */
json_t *sk_failover_groups(const json_t *control);

/* Checks that group can be made active in control: it has a target with
 * an address (SK_ENOTFOUND otherwise) and is not the active one already
 * (SK_ECONFLICT). */
int sk_failover_check(const json_t *control, const char *group, struct sk_err *err);

/* What the plan step sees, read-only: {"service","active" (null: every
 * target),"to","groups":{G:{T:{"addr","standby","report":{state,release}
 * |null,"haproxy":{status,check_status,backup}|null}}},"ungrouped":[T]}.
 * SK_ENOTFOUND when traffic was never started for service. */
int sk_failover_facts(struct sk_repo *repo, const char *service, const json_t *control,
		      const char *group, json_t **facts, struct sk_err *err);

#endif
