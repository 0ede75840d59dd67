/*
 * The documents behind operations (sagas): `operation` and `event`.
 *
 * An operation is the whole stored progress of one saga, rewritten as a
 * new object on every transition; refs/operations/<id> points at the
 * newest one:
 *   {"actor":KEYID,"approvals":[],"created":INT,"cursor":INT,
 *    "event":EVENT-OID|null,"events":INT,"id":OPID,"kind":NAME,
 *    "params":{NAME:STRING,...},"service":NAME|null,"state":STATE,
 *    "steps":[STEP,...],"trace":32HEX,"v":1}
 *   STEP = {"compensation":NAME|null,"ended":INT|null,"name":NAME,
 *           "result":{...}|null,"reversible":BOOL,"risk":RISK,
 *           "started":INT|null,"state":STEP-STATE}
 * "event" is the head of the operation's event chain and "events" its
 * length, so the chain is found from the operation alone and an event and
 * the operation that names it land with one CAS.
 *
 * An event is one link of that chain:
 *   {"actor":KEYID,"facts":{...},"kind":KIND,"op":OPID,
 *    "prev":EVENT-OID|null,"seq":INT,"step":INT|null,"time":INT,
 *    "trace":32HEX,"v":1}
 * prev is null exactly for seq 1.
 *
 * Both readers are strict (exact keys, v 1, enums, sizes): a document that
 * passes is one the engine could have written.
 */
#ifndef SK_OPDOC_H
#define SK_OPDOC_H

#include <jansson.h>

#include "common/err.h"

#define SK_OP_MAX_STEPS 64
#define SK_OP_MAX_PARAMS 64
#define SK_OP_PARAM_MAX 1024
#define SK_OP_NAME_MAX 64
#define SK_OP_MAX_APPROVALS 16
#define SK_TRACE_HEXSZ 32

/* Operation states; the strings are the stored form. */
extern const char *const sk_op_states[];      /* NULL-terminated */
extern const char *const sk_op_step_states[]; /* NULL-terminated */
extern const char *const sk_op_event_kinds[]; /* NULL-terminated */
extern const char *const sk_op_risks[];       /* none low medium high, NULL */

/* 1 when s is in the NULL-terminated list. */
int sk_op_enum_has(const char *const *list, const char *s);
/* 1 for succeeded, compensated, cancelled: nothing left to run. */
int sk_op_state_final(const char *state);

/* The plan part of each step of a checked operation document, a new
 * array of {"compensation","name","reversible","risk"}. */
json_t *sk_op_plan_steps(const json_t *doc);
/* The digest an approval binds: SHA-256 of the canonical JSON
 *   {"id","kind","params","service","steps":[{"compensation","name",
 *    "reversible","risk"},...],"v":1}
 * taken from a checked operation document: what the operation will do,
 * not how far it got. */
int sk_op_plan_digest(const json_t *doc, unsigned char out[32], struct sk_err *err);

/* Checks an operation document (untrusted): exact keys, v 1, ids, enums,
 * cursor within the steps, "event" null exactly when "events" is 0. */
int sk_operation_check(const json_t *doc, struct sk_err *err);
/* Checks an event document (untrusted). */
int sk_event_check(const json_t *doc, struct sk_err *err);

#endif
