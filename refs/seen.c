/*
 * Rollback memory: the highest seq seen per ref per remote, one small file
 * .skiff/seen/<remote>/<ref> holding a decimal number. A remote that later
 * serves a lower seq is replaying an old (validly signed) record -- a
 * rollback -- and is refused. The value only ever grows: the read-compare-
 * write runs under an flock on the remote's directory, so two fetches
 * cannot interleave and lower it, and each write is atomic.
 */
#include "refs/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/fs.h"

#define SEEN_MAX_FILE 64

static int check_args(const char *remote, const char *ref, struct sk_err *err)
{
	struct sk_err tmp;
	if (sk_key_name_check(remote, &tmp) < 0)
		return sk_err_set(err, SK_EINVAL,
				  "remote names are 1-64 characters of [A-Za-z0-9._-], not starting "
				  "with '.' or '-'",
				  "invalid remote name");
	return sk_ref_name_check(ref, err);
}

/* Checks remote and ref; *dir receives the remote's directory and *path
 * ref's file in it (both malloc'd, NULL on error). */
static int seen_paths(struct sk_repo *repo, const char *remote, const char *ref, char **dir,
		      char **path, struct sk_err *err)
{
	*dir = *path = NULL;
	int rc = check_args(remote, ref, err);
	if (rc < 0)
		return rc;
	char *seen = sk_path_join(repo->path, "seen");
	*dir = sk_path_join(seen, remote);
	free(seen);
	*path = sk_path_join(*dir, ref);
	return 0;
}

static int parse_seq(const char *s, const char *path, uint64_t *out, struct sk_err *err)
{
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || errno || (*end != '\0' && strcmp(end, "\n") != 0))
		return sk_err_set(err, SK_ECORRUPT, "remove the file; the next fetch records it again",
				  "%s does not hold a sequence number", path);
	*out = (uint64_t)v;
	return 0;
}

static int read_seen(const char *path, uint64_t *seq, struct sk_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	*seq = 0;
	int rc = sk_fs_read_file(path, SEEN_MAX_FILE, &buf, &len, err);
	if (rc == SK_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	rc = parse_seq(buf, path, seq, err);
	free(buf);
	return rc;
}

int sk_refs_seen_get(struct sk_repo *repo, const char *remote, const char *ref, uint64_t *seq,
		     struct sk_err *err)
{
	*seq = 0;
	char *dir, *path;
	int rc = seen_paths(repo, remote, ref, &dir, &path, err);
	if (rc == 0)
		rc = read_seen(path, seq, err);
	free(path);
	free(dir);
	return rc;
}

static int note_locked(const char *path, const char *remote, const char *ref, uint64_t seq,
		       struct sk_err *err)
{
	uint64_t seen = 0;
	int rc = read_seen(path, &seen, err);
	if (rc < 0)
		return rc;
	if (seq < seen)
		return sk_err_set(err, SK_EROLLBACK,
				  "the remote is serving an older record than it did before; do not "
				  "trust it until the cause is known",
				  "rollback: %s on %s has seq %" PRIu64 ", but seq %" PRIu64
				  " was seen before",
				  ref, remote, seq, seen);
	if (seq == seen)
		return 0;
	char num[32];
	int n = snprintf(num, sizeof(num), "%" PRIu64 "\n", seq);
	rc = sk_fs_mkdirs_for(path, err);
	if (rc == 0)
		rc = sk_fs_write_atomic(path, num, (size_t)n, 0644, err);
	return rc;
}

int sk_refs_seen_note(struct sk_repo *repo, const char *remote, const char *ref, uint64_t seq,
		      struct sk_err *err)
{
	char *dir, *path;
	int rc = seen_paths(repo, remote, ref, &dir, &path, err);
	if (rc < 0)
		return rc;
	rc = sk_fs_mkdirs(dir, 0, err);
	int fd = rc == 0 ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (rc == 0 && fd < 0)
		rc = sk_err_errno(err, errno, "cannot open", dir);
	if (rc == 0 && flock(fd, LOCK_EX) < 0)
		rc = sk_err_errno(err, errno, "cannot lock", dir);
	if (rc == 0)
		rc = note_locked(path, remote, ref, seq, err);
	if (fd >= 0)
		close(fd);
	free(path);
	free(dir);
	return rc;
}
