/*
 * file:// remotes: the bucket layout in a directory, with the same
 * semantics as S3 -- objects create-only, refs by compare-and-swap. A
 * ref's tag is its record's object id; a CAS takes an O_EXCL lock file
 * beside the ref, compares the current record's tag under it, writes the
 * new record into the lock, fsyncs and renames it into place. A writer
 * that dies holding the lock leaves it behind: later writers get
 * SK_ELOCKED until someone removes it (as with local refs).
 */
#include "remote-s3/remote_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "refs/refs.h"

struct file_remote {
	char *root;
};

static char *root_of(struct sk_remote *r) { return ((struct file_remote *)r->impl)->root; }

static void record_tag(const void *bytes, size_t len, char *tag)
{
	struct sk_oid id;
	sk_oid_hash(&id, SK_OBJ_REFRECORD, bytes, len);
	sk_oid_tohex(&id, tag);
}

static int f_ref_get(struct sk_remote *r, const char *ref, char **bytes, size_t *len,
		     char *tag, struct sk_err *err)
{
	char *path = sk_path_join(root_of(r), ref);
	r->requests++;
	int rc = sk_fs_read_file(path, SK_REMOTE_RECORD_MAX, bytes, len, err);
	free(path);
	if (rc == SK_ENOTFOUND)
		return sk_err_set(err, SK_ENOTFOUND, NULL, "%s has no ref %s", r->url, ref);
	if (rc == 0)
		record_tag(*bytes, *len, tag);
	return rc;
}

/* Under the lock: the ref's current tag is expect (or it is absent). */
static int check_expect(const char *path, const char *ref, const char *expect,
			struct sk_err *err)
{
	char *cur = NULL, tag[SK_REMOTE_TAG_MAX];
	size_t len = 0;
	int rc = sk_fs_read_file(path, SK_REMOTE_RECORD_MAX, &cur, &len, err);
	if (rc == SK_ENOTFOUND) {
		sk_err_clear(err);
		return expect ? sk_err_set(err, SK_ECONFLICT, "fetch, then push again",
					   "remote ref %s was deleted or never existed", ref)
			      : 0;
	}
	if (rc)
		return rc;
	record_tag(cur, len, tag);
	free(cur);
	if (!expect)
		return sk_err_set(err, SK_ECONFLICT, "fetch, then push again",
				  "remote ref %s already exists", ref);
	if (strcmp(tag, expect) != 0)
		return sk_err_set(err, SK_ECONFLICT, "fetch, then push again",
				  "remote ref %s moved since it was read", ref);
	return 0;
}

static int write_lock(int fd, const char *lock, const void *bytes, size_t len,
		      struct sk_err *err)
{
	if (sk_fs_write_all(fd, bytes, len) != 0 || sk_fs_fsync(fd) != 0)
		return sk_err_errno(err, errno, "write", lock);
	return 0;
}

static int f_ref_put(struct sk_remote *r, const char *ref, const void *bytes, size_t len,
		     const char *expect, char *new_tag, struct sk_err *err)
{
	char *path = sk_path_join(root_of(r), ref);
	size_t n = strlen(path) + 6;
	char *lock = malloc(n);
	int rc = lock ? sk_fs_mkdirs_for(path, err) : sk_err_set(err, SK_ENOMEM, NULL, "oom");
	r->requests++;
	int fd = -1;
	if (!rc) {
		snprintf(lock, n, "%s.lock", path);
		fd = sk_fs_open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			rc = errno == EEXIST
				     ? sk_err_set(err, SK_ELOCKED,
						  "another push holds it; if none runs, remove the stale "
						  "lock file",
						  "remote ref %s is locked (%s)", ref, lock)
				     : sk_err_errno(err, errno, "create", lock);
	}
	if (fd >= 0) {
		rc = check_expect(path, ref, expect, err);
		if (!rc)
			rc = write_lock(fd, lock, bytes, len, err);
		close(fd);
		if (!rc && sk_fs_rename(lock, path) != 0)
			rc = sk_err_errno(err, errno, "rename", lock);
		if (rc)
			unlink(lock);
		else
			rc = sk_fs_fsync_parent(path, err);
	}
	if (!rc)
		record_tag(bytes, len, new_tag);
	free(lock);
	free(path);
	return rc;
}

struct list_ctx {
	char ***names;
	size_t *n, cap;
	struct sk_err *err;
};

static int walk_refs(const char *dir, const char *name, struct list_ctx *c)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : sk_err_errno(c->err, errno, "open", dir);
	int rc = 0;
	struct dirent *e;
	while (!rc && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char *sub = sk_path_join(dir, e->d_name), *subname = sk_path_join(name, e->d_name);
		struct stat st;
		struct sk_err ignore;
		if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			rc = walk_refs(sub, subname, c);
		else if (S_ISREG(st.st_mode) && sk_ref_name_check(subname, &ignore) == 0)
			rc = sk_remote_names_add(c->names, c->n, &c->cap, subname, c->err);
		free(sub);
		free(subname);
	}
	closedir(d);
	return rc;
}

static int f_ref_list(struct sk_remote *r, char ***names, size_t *n, struct sk_err *err)
{
	struct list_ctx c = { names, n, 0, err };
	char *dir = sk_path_join(root_of(r), "refs");
	r->requests++;
	/* A missing directory is a typo, not an empty remote (push makes it). */
	int rc = sk_fs_is_dir(root_of(r))
			 ? walk_refs(dir, "refs", &c)
			 : sk_err_set(err, SK_ENOTFOUND, "check the path, or push to it first",
				      "%s: no such directory", r->url);
	free(dir);
	return rc;
}

static char *object_path(struct sk_remote *r, const struct sk_oid *oid)
{
	char key[80];
	sk_remote_object_key(oid, key);
	return sk_path_join(root_of(r), key);
}

static int f_objects_exist(struct sk_remote *r, struct sk_remote_obj *objs, size_t n,
			   struct sk_err *err)
{
	for (size_t i = 0; i < n; i++) {
		char *p = object_path(r, &objs[i].oid);
		objs[i].present = sk_fs_exists(p);
		objs[i].rc = 0;
		r->requests++;
		free(p);
	}
	return 0;
}

static int f_objects_put(struct sk_remote *r, struct sk_remote_obj *objs, size_t n,
			 struct sk_err *err)
{
	for (size_t i = 0; i < n; i++) {
		char *p = object_path(r, &objs[i].oid);
		int rc = sk_fs_mkdirs_for(p, err);
		r->requests++;
		objs[i].present = sk_fs_exists(p);
		if (!rc && !objs[i].present &&
		    (rc = sk_fs_write_new(p, objs[i].z, objs[i].zlen, 0444, err)) == SK_EEXISTS) {
			sk_err_clear(err);
			objs[i].present = 1;
			rc = 0;
		}
		free(p);
		if ((objs[i].rc = rc) != 0)
			return rc;
	}
	return 0;
}

static int f_objects_get(struct sk_remote *r, struct sk_remote_obj *objs, size_t n, size_t max,
			 struct sk_err *err)
{
	for (size_t i = 0; i < n; i++) {
		char *p = object_path(r, &objs[i].oid), *buf = NULL;
		size_t len = 0;
		struct sk_err e;
		r->requests++;
		int rc = sk_fs_read_file(p, max, &buf, &len, &e);
		free(p);
		objs[i].rc = rc;
		if (rc == SK_ENOTFOUND)
			continue;
		if (rc) {
			if (err)
				*err = e;
			return rc;
		}
		objs[i].z = (unsigned char *)buf;
		objs[i].zlen = len;
	}
	return 0;
}

static void f_free(struct sk_remote *r)
{
	struct file_remote *f = r->impl;
	if (f)
		free(f->root);
	free(f);
}

static const struct sk_remote_ops file_ops = {
	f_ref_get, f_ref_put, f_ref_list, f_objects_exist, f_objects_put, f_objects_get, NULL,
	f_free, NULL, /* no listing: reading the directory costs no round trip */
};

int sk_remote_file_open(struct sk_remote *r, const char *path, struct sk_err *err)
{
	struct file_remote *f = calloc(1, sizeof(*f));
	if (!f || !(f->root = strdup(path))) {
		free(f);
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	}
	r->impl = f;
	r->ops = &file_ops;
	return 0;
}
