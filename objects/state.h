/*
 * Service state: `control` and `commit` objects, the documents behind
 * refs/services/<svc>.
 *
 * A control is what an operator wants a service to be, as one canonical
 * document:
 *   {"release":V|null,"service":S,"settings":{KEY:VALUE,…},
 *    "targets":{T:{"addr":"HOST:PORT","release":V|null,"weight":W},…},"v":1}
 * settings are operator key/values (`skiff control set`); "release" (optional)
 * is the stable release, the one a deploy promoted last; each target names
 * the release its runner should run (deploys fill them in), where its
 * workload listens ("addr", optional; `skiff target add`) and its traffic
 * weight (0..256, optional; absent means the provider's default). A
 * target whose release differs from the stable one is a canary.
 *
 * The runbooks keep their state here too, every member optional: a target
 * may carry "drain":true (out of traffic: skiff drain), "group":G (target
 * groups; "active_group":G at the top level is the one in traffic: skiff
 * failover), "data":BACKUP-ID (the data a restore put there) and
 * "secrets":{NAME:OID} (the secretref versions pinned for that target, which
 * win over the top-level "secrets" pins during a rotation).
 *
 * A commit records one change of a service's control:
 *   {"actor":KEYID,"control":OID,"message":TEXT,"op":OPID|null,
 *    "parent":OID|null,"service":S,"time":INT,"v":1}
 * The ref record that moves refs/services/<svc> to a commit is signed by
 * the actor, so the history is a signed hash chain twice over: records
 * link to records, commits to their parents.
 *
 * Both readers accept exactly what the builders produce; every document
 * from a remote or a store goes through them.
 */
#ifndef SK_STATE_H
#define SK_STATE_H

#include <jansson.h>
#include <stdint.h>

#include "common/err.h"
#include "objects/oid.h"
#include "objects/refrecord.h"

#define SK_SETTING_KEY_MAX 64
#define SK_SETTING_VALUE_MAX 1024
#define SK_CONTROL_MAX_SETTINGS 256
#define SK_CONTROL_MAX_TARGETS 256
#define SK_CONTROL_MAX_SECRETS 64
#define SK_COMMIT_MESSAGE_MAX 4096
#define SK_CONTROL_WEIGHT_MAX 256

/* An empty control for service (a new reference), or NULL on no memory. */
json_t *sk_control_new(const char *service);
/* Checks a control document (untrusted): exact keys, names, sizes. */
int sk_control_check(const json_t *doc, struct sk_err *err);
/* Checks "HOST:PORT" (a target's addr). */
int sk_control_addr_check(const char *addr, struct sk_err *err);
/* Sets (value != NULL) or removes (value == NULL) one setting in place,
 * checking the key and the value. Removing an absent key is SK_ENOTFOUND. */
int sk_control_set(json_t *doc, const char *key, const char *value, struct sk_err *err);

struct sk_commit {
	char service[65];
	int has_parent;
	struct sk_oid parent;
	struct sk_oid control;
	char op[SK_OPID_MAX + 1]; /* "" when null */
	char actor[SK_KEYID_HEXSZ + 1];
	int64_t time;
	char message[SK_COMMIT_MESSAGE_MAX + 1];
};

/* New reference, or NULL on no memory. */
json_t *sk_commit_to_json(const struct sk_commit *c);
/* Strict: exact keys, v == 1, hex of exact lengths, names checked. */
int sk_commit_from_json(struct sk_commit *out, const json_t *doc, struct sk_err *err);

#endif
