/*
 * Backups and restores of a stateful service's data, shared by skiff
 * backup (porcelain/backup.c) and the restore operation (ops/restoreop.c).
 *
 * The commands come from the target's signed release (backup.command,
 * restore.command, restore.validate: objects/spec.h). They run where skiff
 * runs, without a shell (a command without '/' is looked up in PATH),
 * stdin /dev/null, with the caller's environment plus
 *   SKIFF_SERVICE, SKIFF_TARGET, SKIFF_TARGET_ADDR (the target's "addr"),
 *   SKIFF_RELEASE (the target's release), SKIFF_BACKUP_PATH (the file a
 *   backup command writes, or a restore command reads).
 * Their output is kept (the last bytes, for the error of a failure) and
 * never printed. A command that runs longer than its timeout is killed.
 *
 * Backup data lives at DIR/<svc>/<id>/data, DIR the repository's
 * .skiff/backups by default, each directory mode 0700.
 */
#ifndef SK_OPS_BACKUPJOB_H
#define SK_OPS_BACKUPJOB_H

#include <jansson.h>

#include "common/err.h"
#include "objects/backup.h"

struct sk_repo;
struct sk_key;

#define SK_BACKUPJOB_TIMEOUT_MS (30LL * 60 * 1000)

/* What a backup or restore of one target works with. */
struct sk_backupjob {
	char service[65];
	char target[65];
	char addr[301];
	char release[65];
	json_t *backup;  /* the release's "backup" section, or NULL */
	json_t *restore; /* the release's "restore" section, or NULL */
};

/* Loads service's state and the signed release target runs. target NULL:
 * the first target in name order that runs the stable release (or, with
 * no stable release, the first that runs one). SK_ENOTFOUND when there is
 * none; SK_EINVAL when it has no address. */
int sk_backupjob_load(struct sk_repo *repo, const char *service, const char *target,
		      struct sk_backupjob *out, struct sk_err *err);
void sk_backupjob_clear(struct sk_backupjob *j);

/* The directory backups of j's service go to (dir NULL: the default),
 * malloc'd, absolute. */
char *sk_backupjob_dir(struct sk_repo *repo, const char *dir, const char *service);

/* Runs the release's backup command into <dir>/<id>/data and records the
 * backup (kind, op may be NULL) as refs/backups/<svc>/<id>, signed by key.
 * A command that fails or writes nothing is SK_EFAIL and records nothing.
 * out receives the recorded backup, *facts {"command","exit","ms"}. */
int sk_backupjob_take(struct sk_repo *repo, const struct sk_key *key,
		      const struct sk_backupjob *j, const char *dir, const char *kind,
		      const char *op, struct sk_backup *out, json_t **facts, struct sk_err *err);

/* SHA-256 (hex) and size of the file at path. */
int sk_backupjob_hash(const char *path, char hex[65], long long *size, struct sk_err *err);

/* Freshness of b for a release whose backup.max_age_s is max_age_s (<= 0:
 * no limit): *facts {"backup","taken_at","age_s","max_age_s","sha256",
 * "size"}. SK_ECONFLICT when older than max_age_s; SK_EVERIFY when the
 * file at b's location is missing or its size or digest differ. */
int sk_backupjob_freshness(const struct sk_backup *b, long long max_age_s, long long now,
			   json_t **facts, struct sk_err *err);

/* Runs argv (a JSON array of strings) for j with SKIFF_BACKUP_PATH=path
 * (may be NULL). SK_EFAIL naming the exit status and the output's end;
 * *facts {"command","exit","ms"}. */
int sk_backupjob_run(const struct sk_backupjob *j, const json_t *argv, const char *path,
		     long long timeout_ms, json_t **facts, struct sk_err *err);

#endif
