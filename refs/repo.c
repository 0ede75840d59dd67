/*
 * The repository: finding, creating and opening DIR/.skiff.
 *
 * Layout:
 *   DIR/.skiff/config            canonical JSON {"identity":NAME,"v":1}
 *   DIR/.skiff/objects/          the object store (objects/odb.h)
 *   DIR/.skiff/refs/<...>        one file per ref: its current record's
 *                                canonical bytes
 *   DIR/.skiff/refs/<...>.lock   O_EXCL lock; holds the new record while a
 *                                write is in flight
 *   DIR/.skiff/txn/<random>      journal of a committed multi-ref
 *                                transaction not yet fully applied
 *   DIR/.skiff/txn/<random>.ref  a lone ref update's journal: a second
 *                                name of its lock (refs/txn.c)
 *   DIR/.skiff/seen/<remote>/<ref>  highest seq seen from that remote
 *
 * Init builds everything -- directories, config, the initial trust policy
 * with the key as root and operator, and the signed seq-1 record of
 * refs/meta/trust -- in DIR/.skiff.tmp.<pid>.<rand> and renames it to
 * DIR/.skiff last, so a repository either exists whole or not at all.
 * Open rolls forward transactions whose writer died after committing
 * (refs/txn.c); a read-only repository is opened as is.
 */
#include "refs/internal.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "objects/cjson.h"

#define CONFIG_MAX 65536

static const char *const repo_dirs[] = { "objects", "refs", "refs/meta", "txn", "seen" };

struct sk_odb *sk_repo_odb(struct sk_repo *repo) { return repo->odb; }
const char *sk_repo_path(const struct sk_repo *repo) { return repo->path; }
const char *sk_repo_identity(const struct sk_repo *repo) { return repo->identity; }

void sk_repo_free(struct sk_repo *repo)
{
	if (!repo)
		return;
	sk_odb_free(repo->odb);
	free(repo->path);
	free(repo->identity);
	free(repo);
}

/* --- opening -------------------------------------------------------- */

static int read_config(const char *skiff, char **identity, struct sk_err *err)
{
	char *path = sk_path_join(skiff, "config"), *buf = NULL;
	size_t len = 0;
	json_t *doc = NULL;
	const char *id = NULL;
	int rc = sk_fs_read_file(path, CONFIG_MAX, &buf, &len, err);
	if (rc == SK_ENOTFOUND)
		rc = sk_err_set(err, SK_ECORRUPT, NULL, "%s is missing", path);
	if (rc == 0)
		rc = sk_cjson_parse(buf, len, &doc, err);
	if (rc == 0 && json_object_get(doc, "identity") &&
	    !json_is_null(json_object_get(doc, "identity")))
		rc = sk_cjson_get_str(doc, "identity", &id, err);
	if (rc == 0) {
		*identity = strdup(id ? id : "");
		if (!*identity)
			abort();
	} else {
		sk_err_wrap(err, "reading %s", path);
	}
	json_decref(doc);
	free(buf);
	free(path);
	return rc;
}

/* Opens the repository whose .skiff directory is skiff. */
static int open_at(struct sk_repo **out, const char *skiff, struct sk_err *err)
{
	struct sk_repo *r = calloc(1, sizeof(*r));
	if (!r)
		abort();
	r->path = strdup(skiff);
	if (!r->path)
		abort();
	int rc = read_config(skiff, &r->identity, err);
	if (rc == 0) {
		char *objects = sk_path_join(skiff, "objects");
		rc = sk_odb_open(&r->odb, objects, err);
		free(objects);
	}
	if (rc == 0)
		rc = sk_refs_recover(r, err);
	if (rc < 0) {
		sk_repo_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

static int no_repo(struct sk_err *err, const char *where)
{
	return sk_err_set(err, SK_ENOREPO,
			  "run `skiff init` to create one, or pass -C DIR / set SKIFF_DIR",
			  "no skiff repository %s", where);
}

static char *skiff_in(const char *dir)
{
	char *p = sk_path_join(dir, ".skiff");
	if (sk_fs_is_dir(p))
		return p;
	free(p);
	return NULL;
}

/* $SKIFF_DIR: a directory containing .skiff, or a .skiff directory. */
static char *from_env(const char *env)
{
	char *p = skiff_in(env);
	if (p)
		return p;
	char *config = sk_path_join(env, "config"), *refs = sk_path_join(env, "refs");
	int is_skiff = sk_fs_exists(config) && sk_fs_is_dir(refs);
	free(config);
	free(refs);
	if (!is_skiff)
		return NULL;
	p = strdup(env);
	if (!p)
		abort();
	return p;
}

static char *search_up(void)
{
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	for (;;) {
		char *p = skiff_in(cwd);
		if (p)
			return p;
		char *slash = strrchr(cwd, '/');
		if (!slash || cwd[1] == '\0')
			return NULL;
		if (slash == cwd)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
}

int sk_repo_open(struct sk_repo **out, const char *dir, struct sk_err *err)
{
	*out = NULL;
	char *skiff = NULL;
	const char *env = getenv("SKIFF_DIR");
	char where[PATH_MAX + 16];
	if (dir) {
		skiff = skiff_in(dir);
		snprintf(where, sizeof(where), "in %s", dir);
	} else if (env && *env) {
		skiff = from_env(env);
		snprintf(where, sizeof(where), "at SKIFF_DIR=%s", env);
	} else {
		skiff = search_up();
		snprintf(where, sizeof(where), "here or in any parent directory");
	}
	if (!skiff)
		return no_repo(err, where);
	int rc = open_at(out, skiff, err);
	free(skiff);
	return rc;
}

/* --- init ------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

static void remove_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int write_config(const char *tmp, const struct sk_key *key, struct sk_err *err)
{
	json_t *doc = json_pack("{s:s, s:i}", "identity", key ? sk_key_name(key) : "", "v", 1);
	char *body = NULL, *path = sk_path_join(tmp, "config");
	size_t len = 0;
	int rc = sk_cjson_dump(doc, &body, &len, err);
	if (rc == 0)
		rc = sk_fs_write_atomic(path, body, len, 0644, err);
	json_decref(doc);
	free(body);
	free(path);
	return rc;
}

/* Stores the initial policy and the seq-1 record of refs/meta/trust,
 * signed by key and checked against the policy it installs (the bootstrap
 * described in refs/trust.c). */
static int write_initial_trust(struct sk_repo *r, const struct sk_key *key, struct sk_err *err)
{
	struct sk_trust *t = sk_trust_new_initial(sk_key_id(key), sk_key_name(key),
						  sk_key_public(key));
	if (!t)
		return sk_err_set(err, SK_EFAIL, NULL, "cannot build the initial trust policy");
	json_t *doc = sk_trust_to_json(t);
	struct sk_ref_update up = { .ref = SK_REFS_TRUST_REF, .expect = SK_EXPECT_ABSENT };
	int rc = doc ? sk_odb_write_json(r->odb, SK_OBJ_TRUST, doc, &up.new_oid, err)
		     : sk_err_set(err, SK_EFAIL, NULL, "cannot serialise the initial trust policy");
	if (rc == 0)
		rc = sk_refs_update_with(r, key, t, NULL, &up, 1, NULL, err);
	json_decref(doc);
	sk_trust_free(t);
	return rc;
}

static int build_tmp(const char *tmp, const struct sk_key *key, struct sk_err *err)
{
	int rc = sk_fs_mkdirs(tmp, 0, err);
	for (size_t i = 0; rc == 0 && i < sizeof(repo_dirs) / sizeof(repo_dirs[0]); i++) {
		char *d = sk_path_join(tmp, repo_dirs[i]);
		rc = sk_fs_mkdirs(d, 0, err);
		free(d);
	}
	if (rc == 0)
		rc = write_config(tmp, key, err);
	struct sk_repo r = { 0 };
	r.path = (char *)tmp;
	r.audit.command = "init"; /* the seq-1 trust record is journaled too */
	if (rc == 0) {
		char *objects = sk_path_join(tmp, "objects");
		rc = sk_odb_open(&r.odb, objects, err);
		free(objects);
	}
	if (rc == 0 && key)
		rc = write_initial_trust(&r, key, err);
	sk_odb_free(r.odb);
	for (size_t i = 0; rc == 0 && i < sizeof(repo_dirs) / sizeof(repo_dirs[0]); i++) {
		char *d = sk_path_join(tmp, repo_dirs[i]);
		rc = sk_fs_fsync_dir(d, err);
		free(d);
	}
	if (rc == 0)
		rc = sk_fs_fsync_dir(tmp, err);
	return rc;
}

static int exists_error(const char *skiff, struct sk_err *err)
{
	return sk_err_set(err, SK_EEXISTS, "use the existing repository, or choose another directory",
			  "a skiff repository already exists at %s", skiff);
}

int sk_repo_init(struct sk_repo **out, const char *dir, const struct sk_key *key,
		 struct sk_err *err)
{
	*out = NULL;
	int rc = sk_fs_mkdirs(dir, 0, err);
	if (rc < 0)
		return rc;
	char *skiff = sk_path_join(dir, ".skiff");
	if (sk_fs_exists(skiff)) {
		rc = exists_error(skiff, err);
		free(skiff);
		return rc;
	}
	char *tmp = sk_fs_temp_name(skiff);
	rc = build_tmp(tmp, key, err);
	if (rc == 0 && sk_fs_exists(skiff))
		rc = exists_error(skiff, err);
	if (rc == 0 && sk_fs_rename(tmp, skiff) < 0)
		rc = errno == EEXIST || errno == ENOTEMPTY
			? exists_error(skiff, err)
			: sk_err_errno(err, errno, "cannot create", skiff);
	if (rc < 0)
		remove_tree(tmp);
	if (rc == 0)
		rc = sk_fs_fsync_dir(dir, err);
	if (rc == 0)
		rc = open_at(out, skiff, err);
	free(tmp);
	free(skiff);
	return rc;
}
