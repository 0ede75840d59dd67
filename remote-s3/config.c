/*
 * Remote names and URLs in .skiff/remotes (see config.h).
 */
#include "remote-s3/config.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "objects/cjson.h"
#include "refs/keys.h"
#include "refs/refs.h"
#include "remote-s3/remote.h"

#define CONFIG_MAX 8192

static int name_check(const char *name, struct sk_err *err)
{
	struct sk_err tmp;
	if (sk_key_name_check(name, &tmp) < 0)
		return sk_err_set(err, SK_EINVAL,
				  "remote names are 1-64 characters of [A-Za-z0-9._-], not starting "
				  "with '.' or '-'",
				  "invalid remote name '%.64s'", name);
	return 0;
}

static char *remote_file(struct sk_repo *repo, const char *name)
{
	char *dir = sk_path_join(sk_repo_path(repo), "remotes");
	char *path = sk_path_join(dir, name);
	free(dir);
	return path;
}

static int taken(const char *name, struct sk_err *err)
{
	return sk_err_set(err, SK_EEXISTS, "remove it first with: skiff remote remove NAME",
			  "remote %s already exists", name);
}

int sk_remote_config_add_check(struct sk_repo *repo, const char *name, const char *url,
			       struct sk_err *err)
{
	int rc = name_check(name, err);
	if (!rc)
		rc = sk_remote_url_check(url, err);
	char *path = rc ? NULL : remote_file(repo, name);
	if (!rc && sk_fs_exists(path))
		rc = taken(name, err);
	free(path);
	return rc;
}

int sk_remote_config_add(struct sk_repo *repo, const char *name, const char *url,
			 struct sk_err *err)
{
	int rc = name_check(name, err);
	if (!rc)
		rc = sk_remote_url_check(url, err);
	if (rc)
		return rc;
	json_t *doc = json_pack("{s:s, s:i}", "url", url, "v", 1);
	char *bytes = NULL, *path = remote_file(repo, name);
	size_t len = 0;
	rc = doc ? sk_cjson_dump(doc, &bytes, &len, err) : sk_err_set(err, SK_ENOMEM, NULL, "oom");
	if (!rc)
		rc = sk_fs_mkdirs_for(path, err);
	if (!rc)
		rc = sk_fs_write_new(path, bytes, len, 0644, err);
	if (rc == SK_EEXISTS)
		taken(name, err);
	free(bytes);
	free(path);
	json_decref(doc);
	return rc;
}

static int read_url(struct sk_repo *repo, const char *name, char **url, struct sk_err *err)
{
	char *path = remote_file(repo, name), *buf = NULL;
	size_t len = 0;
	json_t *doc = NULL;
	const char *u;
	int rc = sk_fs_read_file(path, CONFIG_MAX, &buf, &len, err);
	if (rc == SK_ENOTFOUND)
		rc = sk_err_set(err, SK_ENOTFOUND, "skiff remote list shows them; add one with: skiff "
						   "remote add NAME URL",
				"no remote named %s", name);
	if (!rc && (rc = sk_cjson_parse(buf, len, &doc, err)) == 0 &&
	    (rc = sk_cjson_get_str(doc, "url", &u, err)) == 0 && !(*url = strdup(u)))
		rc = sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	if (rc && rc != SK_ENOTFOUND)
		sk_err_wrap(err, "remote config %s", path);
	json_decref(doc);
	free(buf);
	free(path);
	return rc;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int sk_remote_config_remove_check(struct sk_repo *repo, const char *name, char **url,
				  struct sk_err *err)
{
	*url = NULL;
	int rc = name_check(name, err);
	if (!rc)
		rc = read_url(repo, name, url, err);
	return rc;
}

int sk_remote_config_remove(struct sk_repo *repo, const char *name, struct sk_err *err)
{
	char *url = NULL;
	int rc = name_check(name, err);
	if (!rc)
		rc = read_url(repo, name, &url, err);
	free(url);
	if (rc)
		return rc;
	char *refs = sk_path_join(sk_repo_path(repo), "refs/remotes");
	char *dir = sk_path_join(refs, name);
	/* The tracking refs go first: a remote whose config is gone but whose
	 * refs stay would be a name nobody can remove. */
	if (sk_fs_is_dir(dir) && nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		rc = sk_err_errno(err, errno, "remove", dir);
	free(refs);
	free(dir);
	char *path = remote_file(repo, name);
	if (!rc && unlink(path) != 0)
		rc = sk_err_errno(err, errno, "remove", path);
	free(path);
	return rc;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
		      json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

int sk_remote_config_list(struct sk_repo *repo, json_t **out, struct sk_err *err)
{
	char *dir = sk_path_join(sk_repo_path(repo), "remotes");
	DIR *d = opendir(dir);
	json_t *items[1024];
	size_t n = 0;
	int rc = 0;
	struct dirent *e;
	while (d && rc == 0 && n < 1024 && (e = readdir(d)) != NULL) {
		struct sk_err ignore;
		char *url = NULL;
		if (sk_key_name_check(e->d_name, &ignore) < 0 || strstr(e->d_name, ".tmp."))
			continue;
		if ((rc = read_url(repo, e->d_name, &url, err)) == 0)
			items[n++] = json_pack("{s:s, s:s}", "name", e->d_name, "url", url);
		free(url);
	}
	if (d)
		closedir(d);
	free(dir);
	qsort(items, n, sizeof(items[0]), cmp_name);
	*out = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(*out, items[i]);
	return rc;
}

static int pick_default(struct sk_repo *repo, char **name, struct sk_err *err)
{
	json_t *all = NULL;
	int rc = sk_remote_config_list(repo, &all, err);
	size_t i;
	json_t *e;
	const char *pick = NULL;
	json_array_foreach(all, i, e) if (strcmp(json_string_value(json_object_get(e, "name")),
						 "origin") == 0) pick = "origin";
	if (!rc && !pick && json_array_size(all) == 1)
		pick = json_string_value(json_object_get(json_array_get(all, 0), "name"));
	if (!rc && !pick)
		rc = sk_err_set(err, SK_EUSAGE, "name one, or add one called origin",
				json_array_size(all) ? "several remotes and none is called origin"
						     : "no remote configured: skiff remote add NAME URL");
	if (!rc && !(*name = strdup(pick)))
		rc = sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	json_decref(all);
	return rc;
}

int sk_remote_config_resolve(struct sk_repo *repo, const char *what, char **url, char **name,
			     struct sk_err *err)
{
	*url = *name = NULL;
	if (what && strstr(what, "://")) {
		int rc = sk_remote_url_check(what, err);
		if (!rc && !(*url = strdup(what)))
			rc = sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
		return rc;
	}
	if (!repo)
		return sk_err_set(err, SK_EUSAGE, "give a URL: --remote s3://… or file:///…",
				  "without a repository a remote must be given as a URL");
	int rc = what ? name_check(what, err) : pick_default(repo, name, err);
	if (!rc && what && !(*name = strdup(what)))
		rc = sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	if (!rc)
		rc = read_url(repo, *name, url, err);
	if (rc) {
		free(*name);
		*name = NULL;
	}
	return rc;
}
