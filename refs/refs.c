/*
 * Reading refs: one file per ref under .skiff/refs/, holding the canonical
 * bytes of its current record. A ref file is only ever replaced by
 * rename(2), never rewritten in place and never removed (a deletion is a
 * tombstone record), so a reader always sees one whole record and needs no
 * lock. Reading checks the record's form and that it names the ref whose
 * file it sits in, so a record copied to another ref's path is caught.
 * Signatures and roles are checked by refs/verify.c, not on every read.
 * Writing (locks, transactions, crash recovery, and why recovery is safe
 * beside a live writer) is refs/txn.c.
 */
#include "refs/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"

char *sk_refs_file(const struct sk_repo *repo, const char *name)
{
	return sk_path_join(repo->path, name);
}

static int read_fd(int fd, size_t max, char **out, size_t *len)
{
	size_t cap = 1024, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		abort();
	for (;;) {
		if (n > max) {
			free(buf);
			errno = EFBIG;
			return -1;
		}
		if (n + 1 == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* Opens a ref file for reading; SK_ENOTFOUND (with *is_dir) or an error. */
static int open_ref(const char *path, const char *name, int *is_dir, struct sk_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return sk_err_set(err, SK_ENOTFOUND, NULL, "ref %s does not exist", name);
		if (errno == ELOOP)
			return sk_err_set(err, SK_ECORRUPT, NULL, "ref file %s is a symbolic link", path);
		return sk_err_errno(err, errno, "cannot open ref", path);
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return sk_err_errno(err, e, "cannot stat ref", path);
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		if (is_dir)
			*is_dir = 1;
		return sk_err_set(err, SK_ENOTFOUND, NULL,
				  "ref %s does not exist (it is a directory holding other refs)", name);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return sk_err_set(err, SK_ECORRUPT, NULL, "ref file %s is not a regular file", path);
	}
	return fd;
}

static int parse_ref_bytes(const char *path, const char *name, const char *buf, size_t len,
			   struct sk_refrecord *out, struct sk_err *err)
{
	int rc = sk_refrecord_parse(out, buf, len, err);
	if (rc < 0) {
		sk_err_wrap(err, "ref file %s is corrupt", path);
		if (err)
			err->code = SK_ECORRUPT;
		return SK_ECORRUPT;
	}
	char rname[SK_REF_MAX + 1];
	if (strcmp(out->ref, sk_refs_record_name(name, rname, sizeof(rname))) != 0)
		return sk_err_set(err, SK_ECORRUPT,
				  "run `skiff fsck`; restore the ref from a remote with `skiff fetch`",
				  "ref file %s holds a record for %s, not %s", path, out->ref, name);
	if (!out->has_sig)
		return sk_err_set(err, SK_ECORRUPT, NULL, "ref file %s holds an unsigned record",
				  path);
	return 0;
}

int sk_refs_read_raw(struct sk_repo *repo, const char *name, struct sk_refrecord *out,
		     char **bytes, size_t *len, int *is_dir, struct sk_err *err)
{
	if (is_dir)
		*is_dir = 0;
	int rc = sk_ref_name_check(name, err);
	if (rc < 0)
		return rc;
	if (repo->source.ref && (rc = repo->source.ref(repo->source.ctx, repo, name, err)) < 0)
		return rc;
	char *path = sk_refs_file(repo, name);
	int fd = open_ref(path, name, is_dir, err);
	if (fd < 0) {
		free(path);
		return fd;
	}
	char *buf = NULL;
	size_t n = 0;
	if (read_fd(fd, SK_REFS_RECORD_MAX, &buf, &n) < 0) {
		rc = errno == EFBIG
			? sk_err_set(err, SK_ECORRUPT, NULL, "ref file %s is too large", path)
			: sk_err_errno(err, errno, "cannot read ref", path);
	}
	close(fd);
	if (rc == 0)
		rc = parse_ref_bytes(path, name, buf, n, out, err);
	free(path);
	if (rc == 0 && bytes) {
		*bytes = buf;
		*len = n;
	} else {
		free(buf);
	}
	return rc;
}

int sk_refs_read_head(struct sk_repo *repo, const char *name, struct sk_refrecord *out,
		      struct sk_oid *id, int *is_dir, struct sk_err *err)
{
	char *bytes = NULL;
	size_t len = 0;
	int rc = sk_refs_read_raw(repo, name, out, &bytes, &len, is_dir, err);
	if (rc == 0)
		sk_oid_hash(id, SK_OBJ_REFRECORD, bytes, len);
	free(bytes);
	return rc;
}

void sk_repo_set_source(struct sk_repo *repo, const struct sk_repo_source *src)
{
	repo->source = *src;
}

int sk_refs_read_record(struct sk_repo *repo, const char *name, struct sk_refrecord *out,
			struct sk_oid *id, char **bytes, size_t *len, struct sk_err *err)
{
	char *b = NULL;
	size_t n = 0;
	int rc = sk_refs_read_raw(repo, name, out, &b, &n, NULL, err);
	if (rc)
		return rc;
	sk_oid_hash(id, SK_OBJ_REFRECORD, b, n);
	if (bytes) {
		*bytes = b;
		*len = n;
	} else {
		free(b);
	}
	return 0;
}

int sk_refs_read(struct sk_repo *repo, const char *name, struct sk_refrecord *out,
		 struct sk_err *err)
{
	return sk_refs_read_raw(repo, name, out, NULL, NULL, NULL, err);
}

int sk_refs_resolve(struct sk_repo *repo, const char *name, struct sk_oid *out,
		    struct sk_err *err)
{
	struct sk_refrecord r;
	int rc = sk_refs_read(repo, name, &r, err);
	if (rc < 0)
		return rc;
	if (!r.has_oid)
		return sk_err_set(err, SK_ENOTFOUND, NULL, "ref %s is deleted (seq %llu)", name,
				  (unsigned long long)r.seq);
	*out = r.oid;
	return 0;
}

/* --- walking the refs directory ------------------------------------- */

struct name_list {
	char **v;
	size_t n, cap;
};

static void names_push(struct name_list *l, const char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (!l->v)
			abort();
	}
	l->v[l->n] = strdup(s);
	if (!l->v[l->n])
		abort();
	l->n++;
}

static void names_free(struct name_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Temp files are "<name>.tmp.<pid>.<8 hex>" (sk_fs_temp_name). */
static int is_temp_name(const char *s)
{
	const char *t = strstr(s, ".tmp.");
	while (t) {
		const char *p = t + 5;
		size_t digits = strspn(p, "0123456789");
		if (digits > 0 && p[digits] == '.' && strlen(p + digits + 1) == 8 &&
		    strspn(p + digits + 1, "0123456789abcdef") == 8)
			return 1;
		t = strstr(t + 1, ".tmp.");
	}
	return 0;
}

/* Collects, under refs/<rel>, ref names (locks == 0) or the ref names of
 * lock files (locks == 1). */
static int walk_dir(const char *base, const char *rel, int locks, struct name_list *out,
		    struct sk_err *err)
{
	char *dirpath = sk_path_join(base, rel);
	DIR *d = opendir(dirpath);
	if (!d) {
		int rc = errno == ENOENT ? 0 : sk_err_errno(err, errno, "cannot read", dirpath);
		free(dirpath);
		return rc;
	}
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char *child = sk_path_join(rel, de->d_name);
		char *full = sk_path_join(base, child);
		struct stat st;
		if (lstat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
			rc = walk_dir(base, child, locks, out, err);
		} else if (locks && ends_with(child, ".lock")) {
			child[strlen(child) - 5] = '\0';
			names_push(out, child);
		} else if (!locks && !is_temp_name(de->d_name) && sk_ref_name_check(child, NULL) == 0) {
			names_push(out, child);
		}
		free(child);
		free(full);
	}
	closedir(d);
	free(dirpath);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int collect(struct sk_repo *repo, int locks, struct name_list *l, struct sk_err *err)
{
	memset(l, 0, sizeof(*l));
	int rc = walk_dir(repo->path, "refs", locks, l, err);
	if (rc < 0) {
		names_free(l);
		return rc;
	}
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_str);
	return 0;
}

int sk_refs_list(struct sk_repo *repo, const char *pattern, int with_deleted,
		 struct sk_refrecord **out, size_t *n, struct sk_err *err)
{
	*out = NULL;
	*n = 0;
	struct name_list l;
	int rc = collect(repo, 0, &l, err);
	if (rc < 0)
		return rc;
	struct sk_refrecord *recs = calloc(l.n ? l.n : 1, sizeof(*recs));
	if (!recs)
		abort();
	size_t k = 0;
	/* Remote-tracking refs hold records named for the remote's refs; a
	 * listing of this repository's refs leaves them out unless asked. */
	int remotes = pattern && strncmp(pattern, SK_REFS_REMOTES, strlen(SK_REFS_REMOTES)) == 0;
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		if (pattern && !sk_ref_pattern_match(pattern, l.v[i]))
			continue;
		if (!remotes && strncmp(l.v[i], SK_REFS_REMOTES, strlen(SK_REFS_REMOTES)) == 0)
			continue;
		rc = sk_refs_read(repo, l.v[i], &recs[k], err);
		if (rc == SK_ENOTFOUND) /* a directory or a racing rename: not a ref */
			rc = 0;
		else if (rc == 0 && (recs[k].has_oid || with_deleted))
			k++;
	}
	names_free(&l);
	if (rc < 0) {
		free(recs);
		return rc;
	}
	*out = recs;
	*n = k;
	return 0;
}

int sk_refs_stale_locks(struct sk_repo *repo, json_t **out, struct sk_err *err)
{
	*out = NULL;
	struct name_list l;
	int rc = collect(repo, 1, &l, err);
	if (rc < 0)
		return rc;
	json_t *arr = json_array();
	for (size_t i = 0; i < l.n; i++)
		json_array_append_new(arr, json_string(l.v[i]));
	names_free(&l);
	*out = arr;
	return 0;
}
