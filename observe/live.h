/*
 * The live parts of a service's picture, read for status and doctor:
 * runner reports (refs/runners/<svc>/<target>, verified) and the load
 * balancer's sample. One seam, so status and doctor read them the same
 * way and treat their absence the same way.
 */
#ifndef SK_OBSERVE_LIVE_H
#define SK_OBSERVE_LIVE_H

#include <jansson.h>

#include "common/err.h"

struct sk_repo;

/* The verified report document of service/target (a new reference).
 * SK_ENOTFOUND when that runner never reported; verification failures
 * as the report reader returns them. */
int sk_live_report(struct sk_repo *repo, const char *service, const char *target, json_t **out,
		   struct sk_err *err);

/* A sample of HAProxy's counters for service (cloud/traffic.h):
 * SK_ENOTFOUND when traffic was never started for it, SK_EUNREACHABLE
 * when haproxy is down. */
int sk_live_traffic(struct sk_repo *repo, const char *service, json_t **out, struct sk_err *err);

/* The listen address traffic was started with ("HOST:PORT" from
 * .skiff/traffic/services/<svc>.json), or JSON null. */
json_t *sk_live_listen(struct sk_repo *repo, const char *service);

#endif
