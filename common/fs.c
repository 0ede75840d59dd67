/*
 * Durable file writes and the fault injector (see fs.h). The injector's
 * counters are the only process-global mutable state outside option
 * parsing; they exist for tests and do nothing unless SKIFF_FAULT is set.
 */
#include "common/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

enum fault_op { F_OPEN, F_WRITE, F_FSYNC, F_RENAME, F_LINK, F_NOPS };
static const char *const fault_names[F_NOPS] = { "open", "write", "fsync", "rename", "link" };
static _Atomic unsigned long fault_count[F_NOPS]; /* writers may be threads */

static int errno_by_name(const char *s)
{
	static const struct { const char *n; int e; } t[] = {
		{ "ENOSPC", ENOSPC }, { "EROFS", EROFS }, { "EIO", EIO },
		{ "EACCES", EACCES }, { "EDQUOT", EDQUOT }, { "EXDEV", EXDEV },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(s, t[i].n) == 0)
			return t[i].e;
	return ENOSPC;
}

/* Returns the errno to inject for this call of op, or 0. */
static int fault_hit(enum fault_op op)
{
	const char *spec = getenv("SKIFF_FAULT");
	if (!spec || !*spec)
		return 0;
	unsigned long call = ++fault_count[op];
	size_t n = strlen(fault_names[op]);
	if (strncmp(spec, fault_names[op], n) != 0 || spec[n] != ':')
		return 0;
	char *end;
	unsigned long at = strtoul(spec + n + 1, &end, 10);
	if (at != call)
		return 0;
	return *end == ':' ? errno_by_name(end + 1) : ENOSPC;
}

int sk_fs_open(const char *path, int flags, mode_t mode)
{
	int e = (flags & (O_WRONLY | O_RDWR | O_CREAT)) ? fault_hit(F_OPEN) : 0;
	if (e) {
		errno = e;
		return -1;
	}
	int fd;
	do
		fd = open(path, flags | O_CLOEXEC, mode);
	while (fd < 0 && errno == EINTR);
	return fd;
}

int sk_fs_write_all(int fd, const void *buf, size_t len)
{
	int e = fault_hit(F_WRITE);
	if (e) {
		errno = e;
		return -1;
	}
	const char *p = buf;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int sk_fs_fsync(int fd)
{
	int e = fault_hit(F_FSYNC);
	if (e) {
		errno = e;
		return -1;
	}
	return fsync(fd);
}

int sk_fs_syncfs(int fd)
{
	int e = fault_hit(F_FSYNC);
	if (e) {
		errno = e;
		return -1;
	}
	return syncfs(fd);
}

int sk_fs_rename(const char *from, const char *to)
{
	int e = fault_hit(F_RENAME);
	if (e) {
		errno = e;
		return -1;
	}
	return rename(from, to);
}

int sk_fs_link(const char *from, const char *to)
{
	int e = fault_hit(F_LINK);
	if (e) {
		errno = e;
		return -1;
	}
	return link(from, to);
}

char *sk_path_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p = malloc(la + lb + 2);
	if (!p)
		abort();
	memcpy(p, a, la);
	size_t off = la;
	if (la && a[la - 1] != '/')
		p[off++] = '/';
	memcpy(p + off, b, lb + 1);
	return p;
}

int sk_fs_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

int sk_fs_is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int sk_fs_mkdirs(const char *path, int private_dir, struct sk_err *err)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);
	if (len == 0 || len >= sizeof(buf))
		return sk_err_set(err, SK_EINVAL, NULL, "path too long: %.64s…", path);
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0; /* the common case, in one call */
	memcpy(buf, path, len + 1);
	mode_t mode = private_dir ? 0700 : 0777;
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, mode) < 0 && errno != EEXIST)
				return sk_err_errno(err, errno, "cannot create directory", buf);
			if (c == '\0')
				break;
			*p = c;
		}
	}
	return 0;
}

/* The directory part of path into buf: "" when path has no slash, "/"
 * for a file in the root. */
static int parent_of(const char *path, char *buf, size_t n, struct sk_err *err)
{
	size_t len = strlen(path);
	if (len >= n)
		return sk_err_set(err, SK_EINVAL, NULL, "path too long");
	memcpy(buf, path, len + 1);
	char *slash = strrchr(buf, '/');
	if (!slash)
		buf[0] = '\0';
	else if (slash == buf)
		slash[1] = '\0';
	else
		*slash = '\0';
	return 0;
}

int sk_fs_mkdirs_for(const char *path, struct sk_err *err)
{
	char buf[PATH_MAX];
	int rc = parent_of(path, buf, sizeof(buf), err);
	if (rc < 0 || buf[0] == '\0' || strcmp(buf, "/") == 0)
		return rc;
	return sk_fs_mkdirs(buf, 0, err);
}

int sk_fs_fsync_dir(const char *dir, struct sk_err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sk_err_errno(err, errno, "cannot open directory", dir);
	if (sk_fs_fsync(fd) < 0) {
		int e = errno;
		close(fd);
		return sk_err_errno(err, e, "cannot fsync directory", dir);
	}
	close(fd);
	return 0;
}

int sk_fs_fsync_parent(const char *path, struct sk_err *err)
{
	char buf[PATH_MAX];
	int rc = parent_of(path, buf, sizeof(buf), err);
	if (rc < 0)
		return rc;
	return sk_fs_fsync_dir(buf[0] ? buf : ".", err);
}

char *sk_fs_temp_name(const char *path)
{
	unsigned int r = 0;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (unsigned int)rand();
	size_t n = strlen(path) + 48;
	char *p = malloc(n);
	if (!p)
		abort();
	snprintf(p, n, "%s.tmp.%ld.%08x", path, (long)getpid(), r);
	return p;
}

static int write_temp(const char *tmp, const void *data, size_t len, mode_t mode,
		      struct sk_err *err)
{
	int fd = sk_fs_open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
	if (fd < 0)
		return sk_err_errno(err, errno, "cannot create", tmp);
	if (fchmod(fd, mode) < 0 || sk_fs_write_all(fd, data, len) < 0 || sk_fs_fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return sk_err_errno(err, e, "cannot write", tmp);
	}
	if (close(fd) < 0) {
		int e = errno;
		unlink(tmp);
		return sk_err_errno(err, e, "cannot write", tmp);
	}
	return 0;
}

int sk_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		       struct sk_err *err)
{
	char *tmp = sk_fs_temp_name(path);
	int rc = write_temp(tmp, data, len, mode, err);
	if (rc == 0 && sk_fs_rename(tmp, path) < 0) {
		rc = sk_err_errno(err, errno, "cannot rename into place", path);
		unlink(tmp);
	}
	free(tmp);
	if (rc == 0)
		rc = sk_fs_fsync_parent(path, err);
	return rc;
}

int sk_fs_write_new(const char *path, const void *data, size_t len, mode_t mode,
		    struct sk_err *err)
{
	char *tmp = sk_fs_temp_name(path);
	int rc = write_temp(tmp, data, len, mode, err);
	if (rc == 0 && link(tmp, path) < 0) {
		if (errno == EEXIST)
			rc = sk_err_set(err, SK_EEXISTS, "choose another name; existing files are never overwritten",
					"%s already exists", path);
		else
			rc = sk_err_errno(err, errno, "cannot create", path);
	}
	unlink(tmp);
	free(tmp);
	if (rc == 0)
		rc = sk_fs_fsync_parent(path, err);
	return rc;
}

int sk_fs_read_file(const char *path, size_t max, char **out, size_t *len, struct sk_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sk_err_errno(err, errno, "cannot open", path);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return sk_err_errno(err, e, "cannot stat", path);
	}
	if ((size_t)st.st_size > max) {
		close(fd);
		return sk_err_set(err, SK_ETOOBIG, NULL, "%s is larger than %zu bytes", path, max);
	}
	size_t cap = (size_t)st.st_size + 1, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		abort();
	for (;;) {
		if (n + 1 >= cap) {
			if (cap > max + 1) {
				free(buf);
				close(fd);
				return sk_err_set(err, SK_ETOOBIG, NULL, "%s is larger than %zu bytes", path, max);
			}
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(buf);
			close(fd);
			return sk_err_errno(err, e, "cannot read", path);
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > max) {
		free(buf);
		return sk_err_set(err, SK_ETOOBIG, NULL, "%s is larger than %zu bytes", path, max);
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int sk_fs_list_names(const char *dir, char *(*keep)(const char *entry), char ***out, size_t *n,
		     struct sk_err *err)
{
	*out = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : sk_err_errno(err, errno, "cannot read", dir);
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char *name = keep(de->d_name);
		if (!name)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*out = realloc(*out, cap * sizeof(**out));
			if (!*out)
				abort();
		}
		(*out)[(*n)++] = name;
	}
	closedir(d);
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), name_cmp);
	return 0;
}
