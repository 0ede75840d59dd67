/*
 * Unified diffs through libgit2, loaded on use by common/gitlib.c (see
 * there for why it is not linked). The hunks and lines of libgit2's patch
 * are printed here, so the headers and colours are ours.
 */
#include "common/textdiff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gitlib.h"

#define C_BOLD "\033[1m"
#define C_CYAN "\033[36m"
#define C_RED "\033[31m"
#define C_GREEN "\033[32m"
#define C_RESET "\033[m"

static int utf8_seq(const unsigned char *s, size_t n, size_t i, size_t *len)
{
	unsigned char c = s[i];
	size_t k = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	if (c < 0xc2 || c > 0xf4 || i + k > n)
		return 0;
	for (size_t j = 1; j < k; j++)
		if ((s[i + j] & 0xc0) != 0x80)
			return 0;
	/* overlong forms, surrogates, beyond U+10FFFF, and C1 controls */
	if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] > 0x9f) ||
	    (c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] > 0x8f) ||
	    (c == 0xc2 && s[i + 1] < 0xa0))
		return 0;
	*len = k;
	return 1;
}

int sk_text_is_printable(const void *buf, size_t len)
{
	const unsigned char *s = buf;
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		if (c < 0x80) {
			if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
				return 0;
			i++;
			continue;
		}
		size_t k;
		if (!utf8_seq(s, len, i, &k))
			return 0;
		i += k;
	}
	return 1;
}

static void put_colored(FILE *f, int color, const char *c, const char *prefix, const char *s,
			size_t n)
{
	/* colour stops before the newline, as git does */
	int nl = n > 0 && s[n - 1] == '\n';
	fputs(color ? c : "", f);
	fputs(prefix, f);
	fwrite(s, 1, n - (size_t)nl, f);
	fputs(color ? C_RESET : "", f);
	if (nl)
		fputc('\n', f);
}

static int print_line(FILE *f, const git_diff_line *l, int color)
{
	switch (l->origin) {
	case GIT_DIFF_LINE_CONTEXT:
		put_colored(f, 0, "", " ", l->content, l->content_len);
		break;
	case GIT_DIFF_LINE_ADDITION:
		put_colored(f, color, C_GREEN, "+", l->content, l->content_len);
		break;
	case GIT_DIFF_LINE_DELETION:
		put_colored(f, color, C_RED, "-", l->content, l->content_len);
		break;
	default:
		/* the *_EOFNL lines: "\n\\ No newline at end of file\n" */
		fwrite(l->content, 1, l->content_len, f);
	}
	return 0;
}

static int print_patch(const struct sk_gitlib *g, git_patch *p, FILE *f, const char *old_label,
		       const char *new_label, int color, struct sk_err *err)
{
	size_t nh = g->patch_num_hunks(p);
	if (nh == 0)
		return 0;
	fprintf(f, "%s--- %s%s\n%s+++ %s%s\n", color ? C_BOLD : "", old_label,
		color ? C_RESET : "", color ? C_BOLD : "", new_label, color ? C_RESET : "");
	for (size_t h = 0; h < nh; h++) {
		const git_diff_hunk *hunk;
		size_t nl;
		if (g->patch_get_hunk(&hunk, &nl, p, h) < 0)
			return sk_gitlib_err(g, err, SK_EFAIL, "libgit2: reading a hunk");
		put_colored(f, color, C_CYAN, "", hunk->header, hunk->header_len);
		for (size_t i = 0; i < nl; i++) {
			const git_diff_line *l;
			if (g->patch_get_line_in_hunk(&l, p, h, i) < 0)
				return sk_gitlib_err(g, err, SK_EFAIL, "libgit2: reading a line");
			print_line(f, l, color);
		}
	}
	return 0;
}

int sk_textdiff_unified(const char *old, size_t oldlen, const char *new, size_t newlen,
			const char *old_label, const char *new_label, int color, char **out,
			struct sk_err *err)
{
	struct sk_gitlib *g = NULL;
	*out = NULL;
	int rc = sk_gitlib_open(&g, err);
	if (rc < 0)
		return rc;
	git_diff_options opts;
	git_patch *p = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = NULL;
	if (g->diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION) < 0)
		rc = sk_gitlib_err(g, err, SK_EFAIL, "libgit2: diff options");
	/* the caller decided these are texts; libgit2 must not guess */
	opts.flags |= GIT_DIFF_FORCE_TEXT;
	if (rc == 0 &&
	    g->patch_from_buffers(&p, old, oldlen, old_label, new, newlen, new_label, &opts) < 0)
		rc = sk_gitlib_err(g, err, SK_EFAIL, "libgit2: diff");
	if (rc == 0 && !(f = open_memstream(&buf, &len)))
		rc = sk_err_set(err, SK_ENOMEM, NULL, "out of memory for the diff");
	if (rc == 0)
		rc = print_patch(g, p, f, old_label, new_label, color, err);
	if (f && fclose(f) != 0 && rc == 0)
		rc = sk_err_set(err, SK_ENOMEM, NULL, "out of memory for the diff");
	g->patch_free(p);
	sk_gitlib_close(g);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	return 0;
}
