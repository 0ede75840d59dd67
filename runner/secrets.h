/*
 * Secret providers: what turns a secretref's reference into a value, and
 * revokes a reference nobody uses any more. The interface is
 * provider-shaped so aws-sm: fits later as one more entry:
 *   check_ref  the reference's shape (no I/O)
 *   resolve    the value, into a buffer the caller wipes (sk_secret_wipe)
 *   revoke     the provider's revocation of a reference
 * file: is an absolute path to a regular file owned by the runner's user
 * and not readable by group or others (refused otherwise, as ssh refuses a
 * key), at most SK_SECRET_VALUE_MAX bytes, no NUL; one trailing newline is
 * dropped. env: is a variable of the runner's own environment. For both,
 * revoke runs the reference's revoke hook (argv, no shell, stdin/stdout/
 * stderr on /dev/null so nothing it prints can leak, SKIFF_SECRET_REF set
 * to the old "provider:ref"), or, without a hook, only records that the
 * reference is revoked.
 *
 * A value never leaves these functions except into the buffer the caller
 * owns; messages name the secret, the provider and the reference only.
 */
#ifndef SK_RUNNER_SECRETS_H
#define SK_RUNNER_SECRETS_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"
#include "objects/secretref.h"
#include "refs/refs.h"

#define SK_SECRET_VALUE_MAX (64 * 1024)
#define SK_SECRET_MAX 64 /* secrets per workload (SK_CONTROL_MAX_SECRETS) */

struct sk_secret_value {
	char *buf; /* NUL-terminated, len bytes before it */
	size_t len;
};

struct sk_secret_provider {
	const char *name;
	int (*check_ref)(const char *ref, struct sk_err *err);
	int (*resolve)(const char *ref, struct sk_secret_value *out, struct sk_err *err);
	/* facts: {"hook":BOOL, "exit":N (with a hook), "revoked":REF} */
	int (*revoke)(const struct sk_secretref *s, json_t **facts, struct sk_err *err);
};

/* The provider called name, or NULL (aws-sm: not in this build). */
const struct sk_secret_provider *sk_secret_provider_find(const char *name);
/* Zeroes and frees v's buffer. */
void sk_secret_wipe(struct sk_secret_value *v);

/* What one workload gets: a variable per secret, and for the report the
 * versions pinned ({NAME:{"oid","version"}}; a secret the release names
 * that no control pins is resolved from the release's own reference and
 * is not listed). */
struct sk_secret_env {
	size_t n;
	char name[SK_SECRET_MAX][SK_SECRET_NAME_MAX + 1];
	struct sk_secret_value value[SK_SECRET_MAX];
	json_t *loaded;
};

/* Loads every secret of a workload: the names pinned in pins ({NAME:OID},
 * the target's pins over the service's) and the names of release_secrets
 * (the release's {NAME:"provider:ref"}). A pinned secretref is read by its
 * id with the hash verified and must be that service's secret of that
 * name. Any secret that cannot be loaded fails the whole (SK_EVERIFY for a
 * pin that does not check out, else SK_EFAIL), naming the secret. */
int sk_secrets_load(struct sk_repo *repo, const char *service, const json_t *pins,
		    const json_t *release_secrets, struct sk_secret_env *out, struct sk_err *err);
void sk_secrets_env_clear(struct sk_secret_env *e);

/* A service's effective pins for target from its control: top-level
 * "secrets", then the target's own over them. A new object. */
json_t *sk_secrets_pins(const json_t *control, const char *target);

#endif
