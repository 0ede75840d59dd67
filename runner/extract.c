/*
 * Safe tar extraction (see extract.h). The checks are done on the entry
 * headers by this file; libarchive's write-to-disk does the writing with
 * its own secure flags as a second line.
 */
#include "runner/extract.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "objects/cjson.h"

/* Walks the '/'-separated components of s into *lead (leading "..")
 * and *names (the others; "." and empty components, as in a//b or a
 * trailing '/', do not count). -1 for an empty path, a leading '/', or a
 * ".." that is not allowed: any ".." unless dotdot_lead, and with it any
 * ".." after a name. */
static int components(const char *s, int dotdot_lead, int *lead, int *names)
{
	*lead = *names = 0;
	if (!s || !*s || s[0] == '/')
		return -1;
	while (*s) {
		size_t len = strcspn(s, "/");
		if (len == 2 && s[0] == '.' && s[1] == '.') {
			if (!dotdot_lead || *names > 0)
				return -1;
			(*lead)++;
		} else if (len > 0 && !(len == 1 && s[0] == '.')) {
			(*names)++;
		}
		s += len;
		while (*s == '/')
			s++;
	}
	return *names > 0 || *lead > 0 ? 0 : -1;
}

int sk_runner_entry_path_ok(const char *path, int *depth)
{
	int lead = 0, names = 0;
	*depth = 0;
	if (components(path, 0, &lead, &names) < 0)
		return -1;
	*depth = names - 1; /* directories above the name */
	return 0;
}

int sk_runner_symlink_ok(const char *link, const char *target)
{
	int depth = 0, lead = 0, names = 0;
	if (sk_runner_entry_path_ok(link, &depth) < 0)
		return -1;
	/* leading ".." climb real directories (writing never follows links,
	 * so the link's parents are directories); a ".." after a name could
	 * climb out of wherever that name, itself a link, points */
	if (components(target, 1, &lead, &names) < 0)
		return -1;
	return lead <= depth ? 0 : -1;
}

static int refuse(struct sk_err *err, const char *path, const char *why)
{
	char q[160];
	return sk_err_set(err, SK_EVERIFY, "the artifact must be rebuilt without it",
			  "archive entry '%s': %s", sk_cjson_quote(path, strlen(path), q, sizeof(q)),
			  why);
}

static int check_type(struct archive_entry *e, const char *path, struct sk_err *err)
{
	mode_t type = archive_entry_filetype(e);
	if (archive_entry_hardlink(e) && type != AE_IFDIR)
		type = AE_IFREG; /* tar readers report hard links without a type */
	if (archive_entry_sparse_count(e) > 0)
		return refuse(err, path, "sparse entries are not allowed");
	if (type == AE_IFCHR || type == AE_IFBLK)
		return refuse(err, path, "device nodes are not allowed");
	if (type == AE_IFIFO)
		return refuse(err, path, "fifos are not allowed");
	if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
		return refuse(err, path, "only files, directories and links are allowed");
	return 0;
}

static int check_links(struct archive_entry *e, const char *path, struct sk_err *err)
{
	int depth = 0;
	const char *hl = archive_entry_hardlink(e);
	if (hl && sk_runner_entry_path_ok(hl, &depth) < 0)
		return refuse(err, path, "hard link to a path outside the tree");
	if (archive_entry_filetype(e) == AE_IFLNK &&
	    sk_runner_symlink_ok(path, archive_entry_symlink(e)) < 0)
		return refuse(err, path, "symbolic link leaving the tree");
	return 0;
}

static char *under(const char *dest, const char *rel)
{
	size_t n = strlen(dest) + strlen(rel) + 2;
	char *p = malloc(n);
	if (!p)
		abort();
	snprintf(p, n, "%s/%s", dest, rel);
	return p;
}

/* Checks the entry and points it into dest; 1 to skip (the root). */
static int prepare(struct archive_entry *e, const char *dest, struct sk_err *err)
{
	const char *path = archive_entry_pathname(e);
	if (!path)
		return refuse(err, "?", "unreadable name");
	int lead = 0, names = 0;
	if (!strcmp(path, ".") || !strcmp(path, "./"))
		return 1;
	if (components(path, 0, &lead, &names) < 0)
		return refuse(err, path, path[0] == '/' ? "absolute path" : "path leaves the tree");
	int rc = check_links(e, path, err);
	if (!rc)
		rc = check_type(e, path, err);
	if (rc)
		return rc;
	archive_entry_set_perm(e, archive_entry_perm(e) & 01777);
	archive_entry_set_uid(e, getuid());
	archive_entry_set_gid(e, getgid());
	char *full = under(dest, path);
	archive_entry_copy_pathname(e, full);
	free(full);
	if (archive_entry_hardlink(e)) {
		full = under(dest, archive_entry_hardlink(e));
		archive_entry_copy_hardlink(e, full);
		free(full);
	}
	return 0;
}

static int ar_fail(struct archive *a, const char *what, struct sk_err *err)
{
	return sk_err_set(err, SK_EVERIFY, "the artifact must be a plain tar file",
			  "%s: %s", what, archive_error_string(a) ? archive_error_string(a) : "error");
}

static int copy_data(struct archive *in, struct archive *out, struct sk_err *err)
{
	const void *buf;
	size_t len;
	la_int64_t off;
	for (;;) {
		int r = archive_read_data_block(in, &buf, &len, &off);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			return ar_fail(in, "reading the archive", err);
		if (archive_write_data_block(out, buf, len, off) < ARCHIVE_WARN)
			return sk_err_set(err, SK_EIO, NULL, "writing the tree: %s",
					  archive_error_string(out));
	}
}

static int one_entry(struct archive *in, struct archive *out, struct archive_entry *e,
		     const char *dest, struct sk_err *err)
{
	int rc = prepare(e, dest, err);
	if (rc)
		return rc > 0 ? 0 : rc;
	if (archive_write_header(out, e) < ARCHIVE_WARN)
		return sk_err_set(err, SK_EVERIFY, "the artifact must be rebuilt", "writing %s: %s",
				  archive_entry_pathname(e), archive_error_string(out));
	if (archive_entry_size(e) > 0 && (rc = copy_data(in, out, err)) < 0)
		return rc;
	if (archive_write_finish_entry(out) < ARCHIVE_WARN)
		return sk_err_set(err, SK_EIO, NULL, "writing %s: %s", archive_entry_pathname(e),
				  archive_error_string(out));
	return 0;
}

static struct archive *open_writer(void)
{
	struct archive *out = archive_write_disk_new();
	if (!out)
		abort();
	archive_write_disk_set_options(out, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
						    ARCHIVE_EXTRACT_SECURE_SYMLINKS |
						    ARCHIVE_EXTRACT_SECURE_NODOTDOT);
	return out;
}

int sk_runner_untar(const char *tar, const char *dest, struct sk_err *err)
{
	struct archive *in = archive_read_new(), *out = open_writer();
	if (!in)
		abort();
	archive_read_support_format_tar(in);
	int rc = 0;
	if (archive_read_open_filename(in, tar, 1 << 16) != ARCHIVE_OK)
		rc = ar_fail(in, "opening the archive", err);
	struct archive_entry *e;
	while (rc == 0) {
		int r = archive_read_next_header(in, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			rc = ar_fail(in, "reading the archive", err);
		else
			rc = one_entry(in, out, e, dest, err);
	}
	if (archive_write_close(out) != ARCHIVE_OK && rc == 0)
		rc = sk_err_set(err, SK_EIO, NULL, "finishing the tree: %s",
				archive_error_string(out));
	archive_write_free(out);
	archive_read_free(in);
	return rc;
}

void sk_runner_rmtree(const char *dir)
{
	struct stat st;
	if (lstat(dir, &st) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(dir);
		return;
	}
	chmod(dir, 0700);
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *p = under(dir, de->d_name);
		sk_runner_rmtree(p);
		free(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}
