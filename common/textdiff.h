/*
 * Unified diffs of two texts for people (skiff diff), made by libgit2's
 * diff engine rather than by a diff algorithm of our own. libgit2 is
 * loaded only when a diff is made (common/gitlib.h): linked, it and the
 * 15 libraries it pulls in would load at every start of every command
 * (`skiff --version` went from 1.0 ms to 3.1 ms when linked, hyperfine).
 */
#ifndef SK_TEXTDIFF_H
#define SK_TEXTDIFF_H

#include <stddef.h>

#include "common/err.h"

/* True when buf is valid UTF-8 without control characters other than
 * tab, newline and carriage return (no other C0, no DEL, no C1): text that
 * is safe to print on a terminal as it is. */
int sk_text_is_printable(const void *buf, size_t len);

/* A unified diff of old and new with three lines of context: the headers
 * "--- OLD_LABEL" and "+++ NEW_LABEL", then the hunks ("@@ -a,b +c,d @@",
 * lines prefixed ' ', '-', '+', and "\ No newline at end of file" where a
 * text ends without one). Equal texts give "" (no headers). With color,
 * headers are bold, hunk headers cyan, removed lines red and added lines
 * green (ANSI, as git colours them). The texts are compared as text
 * whatever they hold. *out is malloc'd and NUL-terminated. SK_EFAIL when
 * libgit2 cannot be loaded or fails; SK_ENOMEM. */
int sk_textdiff_unified(const char *old, size_t oldlen, const char *new, size_t newlen,
			const char *old_label, const char *new_label, int color, char **out,
			struct sk_err *err);

#endif
