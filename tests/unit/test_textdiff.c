/*
 * Unified text diffs through the lazily loaded libgit2: exact output for
 * a change, nothing for equal texts, colours only when asked, the marker
 * for a missing final newline; and the printable-text test that decides
 * what skiff shows and diffs as text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/textdiff.h"
#include "tests/unit/helpers.h"

static char *udiff(const char *a, const char *b, int color)
{
	char *out = NULL;
	struct sk_err err;
	th_must(sk_textdiff_unified(a, strlen(a), b, strlen(b), "a/old", "b/new", color, &out,
				    &err),
		&err);
	assert_non_null(out);
	return out;
}

static void test_change(void **state)
{
	(void)state;
	char *d = udiff("{\n  \"a\": 1,\n  \"b\": 2,\n  \"v\": 1\n}\n",
			"{\n  \"a\": 1,\n  \"b\": 3,\n  \"c\": 4,\n  \"v\": 1\n}\n", 0);
	assert_string_equal(d, "--- a/old\n"
			       "+++ b/new\n"
			       "@@ -1,5 +1,6 @@\n"
			       " {\n"
			       "   \"a\": 1,\n"
			       "-  \"b\": 2,\n"
			       "+  \"b\": 3,\n"
			       "+  \"c\": 4,\n"
			       "   \"v\": 1\n"
			       " }\n");
	free(d);
}

static void test_equal_is_empty(void **state)
{
	(void)state;
	char *d = udiff("same\ntext\n", "same\ntext\n", 1);
	assert_string_equal(d, "");
	free(d);
	d = udiff("", "", 0);
	assert_string_equal(d, "");
	free(d);
}

static void test_hunks_keep_three_lines_of_context(void **state)
{
	(void)state;
	char a[256] = "", b[256] = "";
	for (int i = 1; i <= 20; i++) {
		char line[16];
		snprintf(line, sizeof(line), "%d\n", i);
		strcat(a, line);
		strcat(b, i == 2 || i == 18 ? "x\n" : line);
	}
	char *d = udiff(a, b, 0);
	assert_string_equal(d, "--- a/old\n+++ b/new\n"
			       "@@ -1,5 +1,5 @@\n 1\n-2\n+x\n 3\n 4\n 5\n"
			       "@@ -15,6 +15,6 @@\n 15\n 16\n 17\n-18\n+x\n 19\n 20\n");
	free(d);
}

static void test_colour(void **state)
{
	(void)state;
	char *d = udiff("a\nb\n", "a\nc\n", 1);
	assert_string_equal(d, "\033[1m--- a/old\033[m\n"
			       "\033[1m+++ b/new\033[m\n"
			       "\033[36m@@ -1,2 +1,2 @@\033[m\n"
			       " a\n"
			       "\033[31m-b\033[m\n"
			       "\033[32m+c\033[m\n");
	free(d);
	d = udiff("a\nb\n", "a\nc\n", 0);
	assert_null(strchr(d, '\033'));
	free(d);
}

static void test_no_newline_at_end(void **state)
{
	(void)state;
	char *d = udiff("x\ny", "x\nz", 0);
	assert_string_equal(d, "--- a/old\n+++ b/new\n@@ -1,2 +1,2 @@\n x\n"
			       "-y\n\\ No newline at end of file\n"
			       "+z\n\\ No newline at end of file\n");
	free(d);
}

static void test_printable(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		size_t n;
		int ok;
	} cases[] = {
		{ "", 0, 1 },
		{ "hello\n\tworld\r\n", 14, 1 },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\xa2", 14, 1 }, /* é € 🚢 */
		{ "\xc2\xa0", 2, 1 },                                   /* U+00A0 */
		{ "a\0b", 3, 0 },
		{ "\033[31m", 5, 0 },      /* ESC */
		{ "\x7f", 1, 0 },          /* DEL */
		{ "\xc2\x9b", 2, 0 },      /* U+009B CSI, a C1 control */
		{ "\xc3", 1, 0 },          /* truncated */
		{ "\xc0\xaf", 2, 0 },      /* overlong '/' */
		{ "\xed\xa0\x80", 3, 0 },  /* surrogate */
		{ "\xf4\x90\x80\x80", 4, 0 }, /* above U+10FFFF */
		{ "\xff", 1, 0 },
		{ "\x80", 1, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (sk_text_is_printable(cases[i].s, cases[i].n) != cases[i].ok)
			fail_msg("case %zu: expected %d", i, cases[i].ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_change),
		cmocka_unit_test(test_equal_is_empty),
		cmocka_unit_test(test_hunks_keep_three_lines_of_context),
		cmocka_unit_test(test_colour),
		cmocka_unit_test(test_no_newline_at_end),
		cmocka_unit_test(test_printable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
