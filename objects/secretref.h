/*
 * The `secretref` object: one version of a service's secret, as a
 * REFERENCE to where the value lives, never the value. Canonical JSON
 *   {"actor":KEYID,"created":INT,"name":NAME,"prev":OID|null,
 *    "provider":"file"|"env"|"aws-sm","ref":TEXT,"revoke_hook":[ARG,...]|null,
 *    "service":S,"v":1,"version":N}
 * name is the variable the workload gets (sk_spec_env_name_check); ref is
 * what the provider resolves: an absolute path for "file", a variable of
 * the runner's environment for "env", a secret id for "aws-sm" (reserved:
 * the format accepts it so a later provider fits, this build resolves
 * none). version counts from 1 and prev links the version before it
 * (null exactly for version 1), so a secret's history is a hash chain.
 * revoke_hook is the command (argv, no shell) a rotation runs to revoke
 * this reference once nothing uses it; null when none.
 *
 * refs/secrets/<svc>/<NAME> points at the newest version; the versions a
 * service's workloads load are pinned by object id in its control
 * ("secrets", objects/state.h). The reader is strict: exact keys, v 1,
 * names, sizes, a ref of the provider's shape.
 */
#ifndef SK_SECRETREF_H
#define SK_SECRETREF_H

#include <jansson.h>
#include <stdint.h>

#include "common/err.h"
#include "objects/oid.h"
#include "objects/refrecord.h"

#define SK_SECRETREF_REF_MAX 512
#define SK_SECRETREF_HOOK_MAX 32      /* arguments */
#define SK_SECRETREF_HOOK_ARG_MAX 512 /* bytes per argument */
#define SK_SECRET_NAME_MAX 64

struct sk_secretref {
	char service[65];
	char name[SK_SECRET_NAME_MAX + 1];
	char provider[8];
	char ref[SK_SECRETREF_REF_MAX + 1];
	long long version;
	int has_prev;
	struct sk_oid prev;
	char actor[SK_KEYID_HEXSZ + 1];
	int64_t created;
	json_t *hook; /* owned: array of strings, or NULL */
};

/* Splits "PROVIDER:REF" and checks REF's shape for PROVIDER: SK_EUSAGE
 * for an unknown provider, SK_EINVAL for a ref of the wrong shape.
 * provider >= 8 bytes, ref >= SK_SECRETREF_REF_MAX+1. */
int sk_secretref_parse_spec(const char *spec, char *provider, char *ref, struct sk_err *err);
/* Checks ref's shape for provider (see sk_secretref_parse_spec). */
int sk_secretref_check_ref(const char *provider, const char *ref, struct sk_err *err);
/* Checks a revoke hook: an array of 1..32 strings of 1..512 bytes, no NUL,
 * the first an absolute path. */
int sk_secretref_check_hook(const json_t *hook, struct sk_err *err);

/* New reference, or NULL on no memory. */
json_t *sk_secretref_to_json(const struct sk_secretref *s);
/* Strict reader of an untrusted document. *out filled; release with
 * sk_secretref_clear. */
int sk_secretref_from_json(struct sk_secretref *out, const json_t *doc, struct sk_err *err);
void sk_secretref_clear(struct sk_secretref *s);

/* refs/secrets/<service>/<name> into buf (n >= SK_REF_MAX+1), names checked. */
int sk_secretref_refname(char *buf, size_t n, const char *service, const char *name,
			 struct sk_err *err);

#endif
