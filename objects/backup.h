/*
 * The `backup` object: one copy of a service's data, taken by the
 * release's backup command from one target and kept at a location the
 * object names, with the digest that proves the copy is the one taken:
 *   {"id":ID,"kind":"manual"|"pre-restore","location":ABS-PATH,
 *    "op":OPID|null,"release":V,"service":S,"sha256":HEX64,"size":INT,
 *    "taken_at":INT,"target":T,"v":1}
 * id is time-prefixed and sorts by time (YYYYMMDDTHHMMSSmmmZ-12hex, a ref
 * component); kind "manual" is `skiff backup`, "pre-restore" the copy a
 * restore takes of the data it is about to replace (op names that
 * restore); taken_at is seconds since the epoch when the command
 * finished; size and sha256 are the file's at location.
 *
 * refs/backups/<svc>/<id> points at it (refs/backups.h). The reader is
 * strict: what restore trusts comes from a ref another machine may have
 * written.
 */
#ifndef SK_BACKUP_H
#define SK_BACKUP_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"
#include "objects/refrecord.h"

#define SK_BACKUP_ID_LEN 32
#define SK_BACKUP_LOCATION_MAX 1024
#define SK_BACKUP_KIND_MANUAL "manual"
#define SK_BACKUP_KIND_PRE_RESTORE "pre-restore"

struct sk_backup {
	char id[SK_BACKUP_ID_LEN + 1];
	char kind[16];
	char location[SK_BACKUP_LOCATION_MAX + 1];
	char op[SK_OPID_MAX + 1]; /* "" when null */
	char release[65];
	char service[65];
	char sha256[65];
	long long size;
	long long taken_at;
	char target[65];
};

/* A new backup id for now (id >= SK_BACKUP_ID_LEN + 1 bytes). */
void sk_backup_new_id(char *id, size_t n);
/* SK_EINVAL unless id has the form above. */
int sk_backup_id_check(const char *id, struct sk_err *err);
/* Strict: exact keys, types, v == 1, names, id, kind, absolute printable
 * location, lowercase hex digest, non-negative size and time. */
int sk_backup_from_json(struct sk_backup *out, const json_t *doc, struct sk_err *err);
/* The document for b (a new reference; NULL only on out of memory). */
json_t *sk_backup_to_json(const struct sk_backup *b);

#endif
