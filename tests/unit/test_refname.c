/*
 * Ref names and ref patterns: what reaches the file system and what the
 * trust rules match.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/err.h"
#include "refs/refs.h"

static void test_valid_names(void **state)
{
	(void)state;
	static const char *const valid[] = {
		"refs/services/payments-api", "refs/releases/a/1.2.3", "refs/meta/trust",
		"refs/a_b-c.d", "refs/x", "refs/A/B9/c_", "refs/operations/op-2024.01",
		"refs/a.b.c", "refs/a-", "refs/lock", "refs/a.locks", "refs/x.lockx/y",
	};
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		struct sk_err err;
		sk_err_clear(&err);
		int rc = sk_ref_name_check(valid[i], &err);
		if (rc != 0)
			fail_msg("%s rejected: %s", valid[i], err.message);
	}
	char longest[SK_REF_MAX + 1];
	memset(longest, 'a', SK_REF_MAX);
	memcpy(longest, "refs/", 5);
	longest[SK_REF_MAX] = '\0';
	assert_int_equal(sk_ref_name_check(longest, NULL), 0);
}

static void test_invalid_names(void **state)
{
	(void)state;
	char big[301];
	memset(big, 'a', 300);
	memcpy(big, "refs/", 5);
	big[300] = '\0';
	char just_over[SK_REF_MAX + 2];
	memset(just_over, 'a', SK_REF_MAX + 1);
	memcpy(just_over, "refs/", 5);
	just_over[SK_REF_MAX + 1] = '\0';
	const char *const invalid[] = {
		"refs/../x", "refs/a//b", "refs/a.lock", "refs/a.lock/b", "refs/x/y.lock", big,
		just_over, "refs/caf\xc3\xa9", "refs/", "refs", "heads/x", "refs/.hidden",
		"refs/-x", "refs/a/", "/refs/a", "refs/a b", "refs/a\\b", "refs/a\n", "refs/*",
		"refs/**", "", "refs/a..b", "refs/a/..", "refs/a/.", "refs/.lock", "Refs/a",
		"refs/a\tb", "refs/a:b", "refs/a~1", "refs/a^", "refs/a?", "refs/a[1]",
		"refs/a/-b", "./refs/a", "refs//a",
	};
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		struct sk_err err;
		sk_err_clear(&err);
		int rc = sk_ref_name_check(invalid[i], &err);
		if (rc != SK_EINVAL)
			fail_msg("invalid name #%zu \"%s\" accepted (rc %d)", i, invalid[i], rc);
		assert_int_equal(err.code, SK_EINVAL);
		assert_true(strlen(err.message) > 0);
		assert_true(strlen(err.hint) > 0);
	}
	assert_int_equal(sk_ref_name_check(NULL, NULL), SK_EINVAL);
}

/* Error messages escape hostile bytes, so they stay printable ASCII. */
static void test_message_escapes(void **state)
{
	(void)state;
	struct sk_err err;
	assert_int_equal(sk_ref_name_check("refs/caf\xc3\xa9\n\x1b[31m", &err), SK_EINVAL);
	for (const char *p = err.message; *p; p++)
		assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
	assert_non_null(strstr(err.message, "\\xc3\\xa9"));
	assert_non_null(strstr(err.message, "outside"));
	assert_int_equal(sk_ref_name_check("refs/x/y.lock", &err), SK_EINVAL);
	assert_non_null(strstr(err.message, ".lock"));
}

struct pm {
	const char *pattern, *name;
	int want;
};

static void test_pattern_match(void **state)
{
	(void)state;
	static const struct pm cases[] = {
		{ "refs/**", "refs/a", 1 },
		{ "refs/**", "refs/a/b/c", 1 },
		{ "refs/meta/**", "refs/meta/trust", 1 },
		{ "refs/meta/**", "refs/metadata", 0 },
		{ "refs/**/trust", "refs/trust", 1 },
		{ "refs/**/trust", "refs/meta/trust", 1 },
		{ "refs/**/trust", "refs/a/b/trust", 1 },
		{ "refs/**/trust", "refs/a/b/trusty", 0 },
		{ "refs/releases/a/*", "refs/releases/a/1.2.3", 1 },
		{ "refs/releases/a/*", "refs/releases/b/1", 0 },
		{ "refs/releases/a/*", "refs/releases/a", 0 },
		{ "refs/releases/a/*", "refs/releases/a/1/2", 0 },
		{ "refs/releases/*/*", "refs/releases/a/1", 1 },
		{ "refs/releases/*/*", "refs/releases/a", 0 },
		{ "refs/services/*", "refs/services/payments-api", 1 },
		{ "refs/services/*", "refs/services/a/b", 0 },
		{ "refs/services/pay*", "refs/services/payments-api", 1 },
		{ "refs/services/*-api", "refs/services/payments-api", 1 },
		{ "refs/services/*-api", "refs/services/payments-apix", 0 },
		{ "refs/services/p*s*i", "refs/services/payments-api", 1 },
		{ "refs/meta/trust", "refs/meta/trust", 1 },
		{ "refs/meta/trust", "refs/meta/trus", 0 },
		{ "refs/meta/trust", "refs/meta/trust/x", 0 },
		{ "refs/*", "refs/a", 1 },
		{ "refs/*", "refs/a/b", 0 },
		{ "refs/**/x/**", "refs/x", 1 },
		{ "refs/**/x/**", "refs/a/x/b/c", 1 },
		{ "refs/**/x/**", "refs/a/y/b", 0 },
		{ "refs/**/**", "refs/a", 1 },
		{ "refs/a", "refs/b", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = sk_ref_pattern_match(cases[i].pattern, cases[i].name);
		if (got != cases[i].want)
			fail_msg("%s ~ %s: got %d want %d", cases[i].pattern, cases[i].name, got,
				 cases[i].want);
	}
	assert_int_equal(sk_ref_pattern_match(NULL, "refs/a"), 0);
	assert_int_equal(sk_ref_pattern_match("refs/**", NULL), 0);
}

/* Many '*' against a long near-miss must not blow up. */
static void test_pattern_hostile(void **state)
{
	(void)state;
	char name[256];
	memset(name, 'a', sizeof(name) - 1);
	memcpy(name, "refs/", 5);
	name[254] = 'b';
	name[255] = '\0';
	assert_int_equal(sk_ref_pattern_match("refs/*a*a*a*a*a*a*a*a*a*a*a*c", name), 0);
	assert_int_equal(sk_ref_pattern_match("refs/*a*a*a*a*a*a*a*a*a*a*a*b", name), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_names),
		cmocka_unit_test(test_invalid_names),
		cmocka_unit_test(test_message_escapes),
		cmocka_unit_test(test_pattern_match),
		cmocka_unit_test(test_pattern_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
