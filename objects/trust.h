/*
 * The trust policy document (`trust` object, the target of
 * refs/meta/trust):
 *   {"approvals":{"threshold":N},
 *    "keys":[{"grants":[{"role":R,"scope":PATTERN},…],"id":KEYID,"name":NAME,"public":HEX64},…],
 *    "rules":[{"pattern":PATTERN,"roles":[R,…]},…],
 *    "v":1}
 * Roles: root, release-signer, operator, approver, runner. Patterns are ref
 * globs: '*' matches within one component, '**' any number of components.
 * This file parses and builds the document; the decisions made with it
 * (who may sign which ref) live in refs/trust.c.
 */
#ifndef SK_TRUST_DOC_H
#define SK_TRUST_DOC_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"
#include "objects/refrecord.h"

struct sk_trust_grant {
	char *role;
	char *scope; /* ref pattern the grant is limited to; every ref when unscoped */
};

struct sk_trust_key {
	char id[SK_KEYID_HEXSZ + 1];
	char *name;
	unsigned char pub[32];
	struct sk_trust_grant *grants;
	size_t ngrants;
};

struct sk_trust_rule {
	char *pattern;
	char **roles;
	size_t nroles;
};

struct sk_trust {
	struct sk_trust_key *keys;
	size_t nkeys;
	struct sk_trust_rule *rules; /* first matching rule decides */
	size_t nrules;
	long long approval_threshold;
};

int sk_trust_role_valid(const char *role);
/* Validates a ref pattern: refs/ + components of [A-Za-z0-9._-] or '*'/'**'. */
int sk_trust_pattern_check(const char *pattern, struct sk_err *err);

/* Strict: no unknown keys; keys sorted by name (names unique), each id
 * the first 16 hex digits of SHA-256(public), no public key twice; grants
 * sorted by (role, scope) without duplicates; rules keep their order, no
 * pattern twice, roles non-empty and unique; threshold 1..1000. SK_EINVAL
 * naming the offending key or rule otherwise. */
int sk_trust_from_json(struct sk_trust **out, const json_t *doc, struct sk_err *err);
/* Prints keys sorted by name and grants sorted, whatever the struct's
 * order, so the result is canonical. New reference. */
json_t *sk_trust_to_json(const struct sk_trust *t);
void sk_trust_free(struct sk_trust *t);

/* The initial policy: one key holding root and operator, the default
 * rules listed in skiff-refs(5) (meta refs: root; releases: release-signer;
 * runners: runner; approvals: approver; services, operations, backups,
 * secrets and any other ref: operator), approval threshold 1. NULL when keyid (may be NULL) is
 * not pub's id or name is not a valid key name. */
struct sk_trust *sk_trust_new_initial(const char *keyid, const char *name,
				      const unsigned char pub[32]);
/* Adds a key (or a grant to an existing key with the same public key);
 * scope NULL means every ref; a grant already held is a no-op. A second
 * key with the same name and another public key, or the same public key
 * under another name, is SK_EEXISTS; a bad role, scope or name SK_EINVAL.
 * Keys and grants stay sorted. */
int sk_trust_add_grant(struct sk_trust *t, const char *name, const unsigned char pub[32],
		       const char *role, const char *scope, struct sk_err *err);
/* Key id: the first 16 hex digits of SHA-256(public key). */
void sk_trust_key_id(const unsigned char pub[32], char out[SK_KEYID_HEXSZ + 1]);
const struct sk_trust_key *sk_trust_find_key(const struct sk_trust *t, const char *keyid);

#endif
