/*
 * File system helpers shared by the object store, refs and keys. Every
 * durable write goes through sk_fs_write_atomic (temp file, fsync, rename,
 * directory fsync) so a crash leaves either the old or the new file, never
 * a torn one.
 *
 * The fault injector: when SKIFF_FAULT is set to "OP:N[:ERRNO]" (OP one of
 * write, fsync, rename, open, link; N counting from 1; ERRNO a name such as
 * ENOSPC, EROFS, EIO or EXDEV, ENOSPC by default), the Nth call of that operation
 * in this process fails with that errno. Tests use it to prove that a
 * failure at any point leaves nothing half-written. It is off unless the
 * variable is set.
 */
#ifndef SK_FS_H
#define SK_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"

/* Fault-injecting wrappers; return 0 or -1 with errno set. */
int sk_fs_open(const char *path, int flags, mode_t mode);
int sk_fs_write_all(int fd, const void *buf, size_t len);
int sk_fs_fsync(int fd);
/* syncfs(2): every file and name of fd's file system durable (Linux
 * reports writeback errors here since 5.8). Counts as an fsync for the
 * fault injector. */
int sk_fs_syncfs(int fd);
int sk_fs_rename(const char *from, const char *to);
/* link(2): a second name for a file, on the same file system. */
int sk_fs_link(const char *from, const char *to);

/* mkdir -p with mode 0777 & ~umask (0700 when private). */
int sk_fs_mkdirs(const char *path, int private_dir, struct sk_err *err);
/* mkdir -p of the directory part of path. */
int sk_fs_mkdirs_for(const char *path, struct sk_err *err);
int sk_fs_fsync_dir(const char *dir, struct sk_err *err);
/* The entries of dir that keep turns into a malloc'd name (NULL: left
 * out), sorted bytewise; a missing dir lists nothing. *out and each name
 * are the caller's to free. */
int sk_fs_list_names(const char *dir, char *(*keep)(const char *entry), char ***out, size_t *n,
		     struct sk_err *err);
int sk_fs_fsync_parent(const char *path, struct sk_err *err);

/* Writes data to path atomically: a temp file beside it (O_EXCL), fsync,
 * rename over path, fsync of the directory. mode applies to the new file.
 * On failure nothing is left behind and path is unchanged. */
int sk_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		       struct sk_err *err);
/* Creates path exclusively (fails with SK_EEXISTS when present), same
 * durability as sk_fs_write_atomic. Used for keys: never overwrite. */
int sk_fs_write_new(const char *path, const void *data, size_t len, mode_t mode,
		    struct sk_err *err);

/* Reads a whole file (max bytes; SK_ETOOBIG beyond). *out is NUL-terminated,
 * free() it. SK_ENOTFOUND when absent. */
int sk_fs_read_file(const char *path, size_t max, char **out, size_t *len, struct sk_err *err);

int sk_fs_exists(const char *path);
int sk_fs_is_dir(const char *path);

/* Heap-allocated path join of up to several parts with '/'; abort on OOM. */
char *sk_path_join(const char *a, const char *b);

/* Temp file name beside path: "<path>.tmp.<pid>.<random>"; free() it. */
char *sk_fs_temp_name(const char *path);

#endif
