/*
 * skiff doctor's reasoning over a service's context packet (status.h):
 * what was observed, kept apart from what is inferred from it.
 *
 *   {"service":S,
 *    "facts":[{"id":"F1","source":"control"|"report"|"runner"|"traffic"|"operation",
 *              "subject":T|V|ID|null,"text":TEXT,"data":{…}}…],
 *    "hypotheses":[{"id":"H1","text":TEXT,"confidence":"high"|"medium"|"low",
 *                   "rests_on":["F1",…]}…],
 *    "recommendations":[{"command","risk","reversible","approval","why",
 *                        "addresses":["H1",…]}…]}
 *
 * A fact is something a source said (a verified runner report, a HAProxy
 * sample, an operation's event, the control); a hypothesis names the
 * facts it rests on and how sure it is; a recommendation names the
 * hypotheses it answers, its risk and whether it needs approval (high
 * risk does). Pure: reads nothing but the packet.
 */
#ifndef SK_OBSERVE_DOCTOR_H
#define SK_OBSERVE_DOCTOR_H

#include <jansson.h>

/* A canary whose 5xx rate is at least this (basis points) and this much
 * above stable's is called failing. */
#define SK_DOCTOR_ERROR_BP 100
/* Fewer requests than this say nothing about an error rate. */
#define SK_DOCTOR_MIN_REQUESTS 20

/* The diagnosis of ctx (a new object). */
json_t *sk_doctor_diagnose(const json_t *ctx);

#endif
