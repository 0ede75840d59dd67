/*
 * Shared between the files of refs/ only; nothing outside refs/ includes
 * this. The public door is refs/refs.h.
 */
#ifndef SK_REFS_INTERNAL_H
#define SK_REFS_INTERNAL_H

#include <stddef.h>

#include "refs/audit.h"
#include "refs/refs.h"

#define SK_REFS_TRUST_REF "refs/meta/trust"
/* A ref file holds one record; anything larger is not one. */
#define SK_REFS_RECORD_MAX 65536

struct sk_repo {
	char *path;     /* the .skiff directory */
	char *identity; /* from config, "" when none */
	struct sk_odb *odb;
	struct sk_repo_source source; /* --direct: where refs come from */
	struct sk_audit_ctx audit;    /* recorded with every move (refs/audit.c) */
	int fs_known;                 /* refs_elsewhere is set (refs/txn.c barrier) */
	int refs_elsewhere;           /* refs/ is on another file system than objects/ */
};

/* Path of ref name's file (malloc'd); name must be checked. */
char *sk_refs_file(const struct sk_repo *repo, const char *name);

/* Reads and parses ref name's file. *bytes (may be NULL) receives the
 * canonical bytes, malloc'd. SK_ENOTFOUND when absent; *is_dir (may be
 * NULL) is set when the path is a directory holding other refs. */
int sk_refs_read_raw(struct sk_repo *repo, const char *name, struct sk_refrecord *out,
		     char **bytes, size_t *len, int *is_dir, struct sk_err *err);

/* sk_refs_read_raw that gives the record's object id (the hash of the ref
 * file's bytes) instead of the bytes. */
int sk_refs_read_head(struct sk_repo *repo, const char *name, struct sk_refrecord *out,
		      struct sk_oid *id, int *is_dir, struct sk_err *err);

/* Reads a refrecord object (hash verified) and parses it. */
int sk_refs_read_record_object(struct sk_repo *repo, const struct sk_oid *id,
			       struct sk_refrecord *out, struct sk_err *err);

/* Loads and parses the trust object oid (hash verified). */
int sk_refs_load_policy_at(struct sk_repo *repo, const struct sk_oid *oid,
			   struct sk_trust **out, struct sk_err *err);

/* True when keyid holds role root with a scope covering ref. */
int sk_refs_is_root(const struct sk_trust *policy, const char *keyid, const char *ref);

/* sk_refs_load_trust that also gives the id of the trust object the
 * policy came from (the head of refs/meta/trust when it was read). */
int sk_refs_load_trust_at(struct sk_repo *repo, struct sk_trust **out, struct sk_oid *oid,
			  struct sk_err *err);

/* The update algorithm with the policy given (init passes the initial
 * policy, which the seq-1 trust record bootstraps). policy_oid is the
 * trust object policy was loaded from, or NULL when there is none yet; a
 * transaction that moves refs/meta/trust is refused (SK_ECONFLICT) when,
 * under its lock, the ref no longer points there, so a policy can only be
 * replaced by a signer the policy being replaced allows. */
int sk_refs_update_with(struct sk_repo *repo, const struct sk_key *key,
			const struct sk_trust *policy, const struct sk_oid *policy_oid,
			const struct sk_ref_update *ups, size_t n, struct sk_refrecord *records,
			struct sk_err *err);

/* Rolls committed transactions forward (see refs.c). */
int sk_refs_recover(struct sk_repo *repo, struct sk_err *err);

#endif
