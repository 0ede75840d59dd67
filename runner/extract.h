/*
 * Safe unpacking of a release's tar artifact (libarchive) into a fresh
 * directory. Every entry is checked before anything is written for it,
 * and one bad entry refuses the whole archive (SK_EVERIFY naming the
 * entry), never skips it: a release that is not exactly what was signed
 * must not run half-extracted. Refused: absolute paths, ".." components,
 * symbolic links whose target is absolute or climbs above the tree
 * (leading ".." only, at most as many as the link's depth; no ".." after
 * a name, since a name may itself be a link), hard links to paths that
 * are not plain paths inside the tree, devices, fifos, sockets, sparse
 * entries. setuid and setgid bits are cleared; ownership is not restored.
 * Writing never follows a symbolic link (ARCHIVE_EXTRACT_SECURE_SYMLINKS).
 */
#ifndef SK_RUNNER_EXTRACT_H
#define SK_RUNNER_EXTRACT_H

#include "common/err.h"

/* Unpacks the tar file at tar into dest, an existing empty directory with
 * no symbolic link in its path. On failure dest may hold a part of the
 * tree: the caller removes it (sk_runner_rmtree). */
int sk_runner_untar(const char *tar, const char *dest, struct sk_err *err);

/* 0 when an entry path is a plain relative path (no "..", not absolute,
 * not empty); *depth receives its number of directories above the name. */
int sk_runner_entry_path_ok(const char *path, int *depth);
/* 0 when a symbolic link at entry path link may point at target. */
int sk_runner_symlink_ok(const char *link, const char *target);

/* Removes dir and everything below it without following links, making
 * read-only directories writable first. Best effort. */
void sk_runner_rmtree(const char *dir);

#endif
