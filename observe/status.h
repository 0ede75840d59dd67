/*
 * What an operator (or an agent) needs to know about a service, in one
 * document: the service's context packet. `skiff status` prints it and
 * `skiff doctor` reasons over it; both read the same facts.
 *
 * Collecting reads heads only, never history: the service ref's head
 * commit and control, the release refs' records, each runner's report
 * head, a live HAProxy sample when traffic runs, and the newest unfinished
 * operation of the service (through the op index) with its last events.
 * Every ref read is verified as usual (signature and role of the head
 * record); a damaged report or a down load balancer is a finding in the
 * packet, not an error of the command.
 *
 * The packet:
 *   {"service":S, "time_ms":NOW,
 *    "head":{"commit","time","actor","op","message"}|null,
 *    "release":{"stable":V|null,"canary":V|null,"canary_targets":[T…],
 *               "newest":V|null,"signed":[{"version","release","signer","time"}…]},
 *    "traffic":{"control":{"total":W,"split":[{"release","weight","percent","targets"}…]},
 *               "live":{"state":"ok"|"not-started"|"unreachable"|"error"|"unavailable",
 *                       "message":TEXT|null,"split":[…]|null,"servers":{T:{…}}|null}},
 *    "targets":[{"target","addr","release","weight","canary",
 *                "runner":"running"|"not-running"|"unknown",
 *                "report":{"state","release","time_ms","age_s","restarts","reason",
 *                          "pid","trace","health":{…},"logs":{…}}|null,
 *                "report_error":TEXT|null}…],
 *    "operation":{"id","kind","state","created","trace","params","steps","done",
 *                 "step":{"index","name","state","risk","reversible"}|null}|null,
 *    "last_operation":{"id","kind","state"}|null,
 *    "events":[{"seq","time","kind","step","step_name","facts"}…],   (oldest first, at most 5)
 *    "findings":[{"code","severity","subject","text"}…],
 *    "next":[{"command","risk","reversible","approval","why"}…]}
 */
#ifndef SK_OBSERVE_STATUS_H
#define SK_OBSERVE_STATUS_H

#include <jansson.h>

#include "common/err.h"

struct sk_repo;

/* How many events of the active operation the packet carries. */
#define SK_STATUS_EVENTS 5
/* How many signed releases it lists. */
#define SK_STATUS_RELEASES 5
/* A report older than this, from a runner whose liveness cannot be seen
 * locally, is called stale (seconds). */
#define SK_STATUS_STALE_S 300

/* The context packet of service (above). SK_ENOTFOUND when the service
 * has no state (refs/services/<svc> absent). */
int sk_status_collect(struct sk_repo *repo, const char *service, json_t **out,
		      struct sk_err *err);

/* Fills ctx's "findings" and "next" from the rest of it (replacing any),
 * judging ages against now_ms. Pure: reads nothing but ctx. */
void sk_status_analyse(json_t *ctx, long long now_ms);

/* One summary per service under refs/services/, sorted by name:
 * [{"service","stable","canary","targets","healthy","operation":{"id","kind","state"}|null}]. */
int sk_status_services(struct sk_repo *repo, json_t **out, struct sk_err *err);

/* A "next" entry: {"command","risk","reversible","approval","why"};
 * approval is true exactly for high risk. */
json_t *sk_status_next(const char *command, const char *risk, int reversible, const char *why);

/* The current time in unix milliseconds. */
long long sk_status_now_ms(void);

/* A target entry's report object in a status packet, or NULL (never
 * reported, or not verified). */
const json_t *sk_status_report_of(const json_t *target);

#endif
