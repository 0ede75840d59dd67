/*
 * Traffic for a repository's services through the local HAProxy
 * (cloud/haproxy.h). Runtime directory <repo>/.skiff/traffic/:
 *   haproxy.cfg, haproxy.pid, admin.sock, haproxy.log, lock,
 *   services/<svc>.json  {"check_ms":N,"health_path":"/p","listen":"HOST:PORT"}
 * A service takes part once `skiff traffic start SVC --listen` recorded
 * it; the config is generated from every recorded service's control:
 * backend SVC, one server per target that has an "addr", frontend fe_SVC.
 * A target's weight is targets[T].weight when present, else 256 when the
 * target runs control.release (the stable one), else 0 (a canary gets
 * traffic only when a weight says so).
 *
 * Errors: SK_ENOTFOUND when traffic was never started for the service,
 * SK_EUNREACHABLE when haproxy is down (killed, crashed) or mute.
 */
#ifndef SK_TRAFFIC_H
#define SK_TRAFFIC_H

#include <jansson.h>

#include "common/err.h"

struct sk_repo;

#define SK_TRAFFIC_DEFAULT_HEALTH "/health"
#define SK_TRAFFIC_DEFAULT_CHECK_MS 1000

/* The runtime directory, malloc'd. */
char *sk_traffic_dir(struct sk_repo *repo);

/* The weight control gives target (0..256), per the rule above; a
 * drained target ("drain": true) has 0. */
int sk_traffic_weight(const json_t *control, const char *target);
/* Nonzero when target stands by: control names an "active_group" and
 * the target is not in it. Its server is a haproxy backup server, which
 * takes traffic only when no server of the active group is up. */
int sk_traffic_standby(const json_t *control, const char *target);

/* Records service's listen address (and health check) and starts haproxy,
 * or reloads it when it runs. health_path NULL: "/health"; check_ms 0:
 * 1000. With plan, nothing is written or started: *facts tells what
 * would happen, with the config text. *facts: {"service","listen",
 * "action":"start"|"reload","pid","servers":N[,"config"]}. A failure
 * leaves the previous record in place. */
int sk_traffic_start(struct sk_repo *repo, const char *service, const char *listen,
		     const char *health_path, long long check_ms, int plan, json_t **facts,
		     struct sk_err *err);

/* Stops traffic for service (reloading haproxy without it; stopping
 * haproxy when it was the last), or with service NULL for every service.
 * *facts: {"stopped":[svc...],"haproxy":"stopped"|"reloaded"|"not running"}.
 * With plan, nothing changes. Stopping what is not started is no error. */
int sk_traffic_stop(struct sk_repo *repo, const char *service, int plan, json_t **facts,
		    struct sk_err *err);

/* Makes haproxy's runtime weights equal control's (reading the current
 * weights first, setting only those that differ); reloads the config when
 * the server set or an address differs. *facts: {"changed":[{"target",
 * "from" (null: new server),"to"}],"unchanged":N,"reloaded":bool,
 * "removed":[T...]}. */
int sk_traffic_apply(struct sk_repo *repo, const char *service, const json_t *control,
		     json_t **facts, struct sk_err *err);
/* The same facts without changing anything (--dry-run). */
int sk_traffic_apply_plan(struct sk_repo *repo, const char *service, const json_t *control,
			  json_t **facts, struct sk_err *err);

/* {"time_ms":…, "listen":…, "servers": {T: {"requests","hrsp_2xx","hrsp_5xx",
 *  "rtime_ms","weight","sessions","backup","status","check_status","addr"}}}
 * (sessions: connections open now, what a drain waits for; backup: a
 * standby server) */
int sk_traffic_sample(struct sk_repo *repo, const char *service, json_t **out,
		      struct sk_err *err);

/* state: ready, drain or maint. */
int sk_traffic_set_state(struct sk_repo *repo, const char *service, const char *target,
			 const char *state, struct sk_err *err);

#endif
