/*
 * Backups on top of refs: refs/backups/<svc>/<id> points at a `backup`
 * object (objects/backup.h). A backup ref is created once and never
 * moves. Readers verify the head record (signature, and a role the trust
 * rules allow for the ref: operator by default) and read the object with
 * hash verification; a document that does not parse, or names another
 * service or id than its ref, is damage (SK_ECORRUPT).
 */
#ifndef SK_BACKUPS_H
#define SK_BACKUPS_H

#include <jansson.h>

#include "common/err.h"
#include "objects/backup.h"
#include "refs/refs.h"

/* refs/backups/<service>/<id> into ref (>= SK_REF_MAX + 1 bytes), after
 * checking both (SK_EINVAL). */
int sk_backups_ref(char *ref, size_t n, const char *service, const char *id,
		   struct sk_err *err);
/* Stores b as a `backup` object and creates its ref, signed by key, with
 * op (may be NULL) in the record. SK_EEXISTS/SK_ECONFLICT when the ref
 * exists; SK_EROLE when key may not sign it. oid (may be NULL) receives
 * the object id. With plan set, nothing is written: every check runs. */
int sk_backups_write(struct sk_repo *repo, const struct sk_key *key, const struct sk_backup *b,
		     const char *op, int plan, struct sk_oid *oid, struct sk_err *err);
/* One backup: SK_ENOTFOUND (hint: skiff backup list) when no such ref. */
int sk_backups_load(struct sk_repo *repo, const char *service, const char *id,
		    struct sk_backup *out, struct sk_err *err);
/* Every backup of service, newest first, as documents (a new array;
 * [] when none), each verified as by sk_backups_load. */
int sk_backups_list(struct sk_repo *repo, const char *service, json_t **out,
		    struct sk_err *err);

#endif
