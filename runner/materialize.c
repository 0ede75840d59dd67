/*
 * Verify and materialize a release (see materialize.h).
 */
#include "runner/materialize.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "objects/file.h"
#include "refs/release_verify.h"
#include "runner/extract.h"

static char *fmt_path(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 2;
	char *p = malloc(n);
	if (!p)
		abort();
	snprintf(p, n, "%s/%s%s", a, b, c);
	return p;
}

static char *concat(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 1;
	char *p = malloc(n);
	if (!p)
		abort();
	snprintf(p, n, "%s%s", a, b);
	return p;
}

static int is_tar(const char *name)
{
	size_t n = strlen(name);
	return n > 4 && strcmp(name + n - 4, ".tar") == 0;
}

/* The archive is reassembled (and verified) beside the tree, unpacked,
 * and removed. */
static int put_tar(struct sk_odb *odb, const struct sk_release_artifact *ra, const char *tmp,
		   struct sk_err *err)
{
	char *file = concat(tmp, ".archive");
	int rc = sk_file_extract_nosync(odb, &ra->file, file, err);
	if (rc == 0)
		rc = sk_runner_untar(file, tmp, err);
	unlink(file);
	free(file);
	if (rc < 0)
		sk_err_wrap(err, "artifact %s", ra->name);
	return rc;
}

static int put_file(struct sk_odb *odb, const struct sk_release_artifact *ra, const char *tmp,
		    struct sk_err *err)
{
	char *file = fmt_path(tmp, ra->name, "");
	int rc = sk_file_extract_nosync(odb, &ra->file, file, err);
	if (rc == 0 && chmod(file, 0755) < 0)
		rc = sk_err_errno(err, errno, "cannot chmod", file);
	free(file);
	if (rc < 0)
		sk_err_wrap(err, "artifact %s", ra->name);
	return rc;
}

static int put_artifacts(struct sk_odb *odb, const struct sk_release *rel, const char *tmp,
			 struct sk_err *err)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < rel->nartifacts; i++) {
		const struct sk_release_artifact *ra = &rel->artifacts[i];
		rc = sk_rel_check_file(odb, ra, err);
		if (rc == 0)
			rc = is_tar(ra->name) ? put_tar(odb, ra, tmp, err) : put_file(odb, ra, tmp, err);
		/* a chunk the signed release names that is missing or wrong
		 * is damage, whatever the reader's code said */
		if (rc == SK_ENOTFOUND || rc == SK_EINVAL)
			rc = err->code = SK_ECORRUPT;
	}
	return rc;
}

static int place(const char *tmp, const char *dest, struct sk_err *err)
{
	sk_runner_rmtree(dest);
	if (rename(tmp, dest) < 0)
		return sk_err_errno(err, errno, "cannot rename into", dest);
	return sk_fs_fsync_parent(dest, err);
}

int sk_runner_materialize(struct sk_repo *repo, const char *service, const char *version,
			  const char *releases_dir, struct sk_runner_rel *out, struct sk_err *err)
{
	struct sk_rel_signed sig;
	char pid[32];
	memset(out, 0, sizeof(*out));
	int rc = sk_rel_load_signed(repo, service, version, &sig, &out->rel, err);
	if (rc < 0)
		return rc;
	out->oid = sig.sig.release;
	snprintf(pid, sizeof(pid), ".%ld", (long)getpid());
	char *tmp = fmt_path(releases_dir, ".tmp-", version);
	char *tmp2 = concat(tmp, pid);
	free(tmp);
	sk_runner_rmtree(tmp2);
	rc = sk_fs_mkdirs(releases_dir, 0, err);
	if (rc == 0 && mkdir(tmp2, 0755) < 0)
		rc = sk_err_errno(err, errno, "cannot create", tmp2);
	if (rc == 0)
		rc = put_artifacts(sk_repo_odb(repo), out->rel, tmp2, err);
	out->tree = fmt_path(releases_dir, version, "");
	if (rc == 0)
		rc = place(tmp2, out->tree, err);
	sk_runner_rmtree(tmp2);
	free(tmp2);
	if (rc < 0)
		sk_runner_rel_clear(out);
	return rc;
}

void sk_runner_rel_clear(struct sk_runner_rel *r)
{
	sk_release_free(r->rel);
	free(r->tree);
	memset(r, 0, sizeof(*r));
}
