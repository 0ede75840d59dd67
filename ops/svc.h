/*
 * What the operation types that act on a live service share (deploy,
 * drain, restore, rotate, failover): a state commit made by the
 * operation, the traffic provider brought in line with a control, and
 * waiting for the service's runners to report what a step expects.
 * Every function is safe to call again after an interruption: a commit
 * happens only when control differs, traffic is applied from control
 * (setting only what differs), and a wait re-reads the reports.
 */
#ifndef SK_OPS_SVC_H
#define SK_OPS_SVC_H

#include <jansson.h>

#include "common/err.h"
#include "objects/report.h"
#include "ops/engine.h"
#include "refs/service.h"

/* How often waits re-read reports and haproxy. */
#define SK_OPSVC_POLL_MS 200

long long sk_opsvc_now_ms(void);
void sk_opsvc_sleep_ms(long ms);

/* Commits control as the operation's change of st's service when it
 * differs from st's control (the lease checked right before); *changed
 * says whether it did. st is not reloaded. */
int sk_opsvc_commit(const struct sk_op_ctx *ctx, struct sk_service_state *st,
		    const json_t *control, const char *message, int *changed, struct sk_err *err);

/* Applies control to the traffic provider (cloud/traffic.h). A service
 * whose traffic was never started has nothing to apply: 0, and *facts
 * {"traffic_started":false}. */
int sk_opsvc_apply_traffic(const struct sk_op_ctx *ctx, const char *service,
			   const json_t *control, json_t **facts, struct sk_err *err);

/* What a wait expects of one report: 1 when it is there, 0 not yet,
 * negative (with err set) when it can no longer come (a refusal, a runner
 * that gave up). */
typedef int (*sk_opsvc_report_fn)(const struct sk_report *r, const void *arg, struct sk_err *err);

/* Waits until every target in targets (a JSON array of names) has a
 * report that accept takes, re-reading every SK_OPSVC_POLL_MS and
 * checking the lease. *facts {"targets":{T: {state, release, reason} or
 * the load error}, "waited_ms"}. Past wait_ms: SK_EPAUSED (hint says to
 * fix the runners and resume), facts set. */
int sk_opsvc_wait_reports(const struct sk_op_ctx *ctx, const char *service,
			  const json_t *targets, long long wait_ms, sk_opsvc_report_fn accept,
			  const void *arg, json_t **facts, struct sk_err *err);

/* The common expectation: release (NULL: whichever) healthy; refused or
 * given up fails. arg is the release (const char *) or NULL. */
int sk_opsvc_healthy(const struct sk_report *r, const void *arg, struct sk_err *err);

/* SK_ECONFLICT naming it when an operation other than self (an id, or
 * NULL) is unfinished on service; kind (NULL: any) narrows which count. */
int sk_opsvc_alone(struct sk_repo *repo, const char *service, const char *self, const char *kind,
		   struct sk_err *err);

/* observe for steps whose action does only what is not done yet: an
 * interrupted step simply runs again (*done = 0). */
int sk_opsvc_observe_rerun(const struct sk_op_ctx *ctx, int *done, json_t **facts,
			   struct sk_err *err);

/* Fills one step definition: reversible exactly when compensate is set;
 * observe is sk_opsvc_observe_rerun. */
void sk_opsvc_step(struct sk_op_step_def *s, const char *name, const char *risk,
		   sk_op_act_fn act, const char *compensation, sk_op_act_fn compensate);

#endif
