/*
 * The content-defined chunker: size bounds, the average, the incremental
 * contract (0 means "more bytes, please"), boundaries independent of how
 * much input is visible, and pinned boundaries and gear entries: these
 * decide deduplication across versions, so any change must fail here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "objects/chunker.h"
#include "tests/unit/helpers.h"

#define MIB ((size_t)1 << 20)

static void test_pinned_gear(void **state)
{
	(void)state;
	assert_int_equal(sk_cdc_gear(0), UINT64_C(0x3b63d33f5763317a));
	assert_int_equal(sk_cdc_gear(255), UINT64_C(0x838d9e9b5ee4b95c));
}

static void test_pinned_boundaries(void **state)
{
	(void)state;
	static const size_t want[] = { 989909, 491905, 1235629, 640506,
				       785998, 813031, 520461, 1183865 };
	size_t n = 16 * MIB, off = 0;
	unsigned char *p = th_random_bytes(n, 42);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		size_t len = sk_cdc_cut(p + off, n - off, 1);
		assert_int_equal(len, want[i]);
		off += len;
	}
	free(p);
}

static void test_bounds_and_average(void **state)
{
	(void)state;
	size_t n = 64 * MIB, off = 0, count = 0;
	unsigned char *p = th_random_bytes(n, 7);
	while (off < n) {
		size_t len = sk_cdc_cut(p + off, n - off, 1);
		assert_true(len > 0 && len <= SK_CDC_MAX);
		if (off + len < n)
			assert_true(len >= SK_CDC_MIN);
		off += len;
		count++;
	}
	assert_int_equal(off, n);
	size_t avg = n / count;
	print_message("64 MiB: %zu chunks, average %zu bytes\n", count, avg);
	assert_true(avg >= 3 * MIB / 4 && avg <= 5 * MIB / 4);
	free(p);
}

/* Constant input never matches the mask: every chunk is cut at the max. */
static void test_forced_max(void **state)
{
	(void)state;
	size_t n = 10 * MIB;
	unsigned char *p = calloc(1, n);
	assert_non_null(p);
	assert_int_equal(sk_cdc_cut(p, n, 0), SK_CDC_MAX);
	assert_int_equal(sk_cdc_cut(p, SK_CDC_MAX, 0), SK_CDC_MAX);
	assert_int_equal(sk_cdc_cut(p, 2 * MIB, 0), 0);
	assert_int_equal(sk_cdc_cut(p, 2 * MIB, 1), 2 * MIB);
	free(p);
}

static void test_incremental_contract(void **state)
{
	(void)state;
	unsigned char *p = th_random_bytes(8 * MIB, 3);
	assert_int_equal(sk_cdc_cut(p, 0, 0), 0);
	assert_int_equal(sk_cdc_cut(p, 0, 1), 0);
	assert_int_equal(sk_cdc_cut(p, 1, 0), 0);
	assert_int_equal(sk_cdc_cut(p, 1, 1), 1);
	assert_int_equal(sk_cdc_cut(p, SK_CDC_MIN, 0), 0);
	assert_int_equal(sk_cdc_cut(p, SK_CDC_MIN, 1), SK_CDC_MIN);
	/* The cut never depends on how many bytes past it are visible. */
	size_t full = sk_cdc_cut(p, 8 * MIB, 0);
	assert_true(full >= SK_CDC_MIN && full <= SK_CDC_MAX);
	for (size_t n = SK_CDC_MIN + 1; n < 8 * MIB; n += 97 * 1024) {
		size_t got = sk_cdc_cut(p, n, 0);
		if (n < full)
			assert_int_equal(got, 0);
		else
			assert_int_equal(got, full);
		size_t eof = sk_cdc_cut(p, n, 1);
		assert_int_equal(eof, n < full ? n : full);
	}
	free(p);
}

/* The rule as chunker.c documents it, one byte at a time: the fast scan
 * must cut exactly where this does. */
static size_t ref_cut(const unsigned char *p, size_t n, int eof)
{
	size_t limit = n < SK_CDC_MAX ? n : SK_CDC_MAX;
	if (n == 0)
		return 0;
	if (limit <= SK_CDC_MIN)
		return eof ? limit : 0;
	uint64_t h = 0;
	for (size_t i = SK_CDC_MIN; i < limit; i++) {
		h = (h << 1) + sk_cdc_gear(p[i]);
		int bits = i < SK_CDC_NORMAL ? 21 : 19;
		if ((h >> (64 - bits)) == 0)
			return i + 1;
	}
	return limit == SK_CDC_MAX || eof ? limit : 0;
}

/* Random bytes and bytes from a small alphabet (many more cuts near the
 * minimum), cut at every offset of a walk and at odd lengths. */
static void test_matches_reference(void **state)
{
	(void)state;
	size_t n = 24 * MIB;
	unsigned char *p = th_random_bytes(n, 77);
	unsigned char *q = th_random_bytes(n, 78);
	for (size_t i = 0; i < n; i++)
		q[i] &= 0x03;
	const unsigned char *inputs[] = { p, q };
	for (size_t k = 0; k < 2; k++) {
		size_t off = 0, cuts = 0;
		while (off < n) {
			size_t len = sk_cdc_cut(inputs[k] + off, n - off, 1);
			assert_int_equal(len, ref_cut(inputs[k] + off, n - off, 1));
			off += len;
			cuts++;
		}
		for (size_t m = SK_CDC_MIN - 3; m < n; m = m * 3 / 2 + 7) {
			assert_int_equal(sk_cdc_cut(inputs[k] + 5, m, 0), ref_cut(inputs[k] + 5, m, 0));
			assert_int_equal(sk_cdc_cut(inputs[k] + 9, m, 1), ref_cut(inputs[k] + 9, m, 1));
		}
		print_message("input %zu: %zu chunks agree\n", k, cuts);
	}
	free(p);
	free(q);
}

/* Boundaries resynchronise after an edit: most chunk ends line up. */
static void test_shift_resync(void **state)
{
	(void)state;
	size_t n = 32 * MIB, ins = 1000;
	unsigned char *a = th_random_bytes(n, 11);
	unsigned char *b = malloc(n + ins);
	assert_non_null(b);
	memcpy(b, a, n / 2);
	memset(b + n / 2, 0x5a, ins);
	memcpy(b + n / 2 + ins, a + n / 2, n - n / 2);
	size_t ends_a[128], na = 0, off = 0, common = 0;
	while (off < n && na < 128) {
		off += sk_cdc_cut(a + off, n - off, 1);
		ends_a[na++] = off;
	}
	off = 0;
	while (off < n + ins) {
		off += sk_cdc_cut(b + off, n + ins - off, 1);
		size_t orig = off <= n / 2 ? off : off - ins;
		for (size_t i = 0; i < na; i++)
			common += ends_a[i] == orig && (off <= n / 2 || off >= n / 2 + ins);
	}
	/* At most two chunks around the edit differ. */
	assert_true(common + 2 >= na);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pinned_gear),
		cmocka_unit_test(test_pinned_boundaries),
		cmocka_unit_test(test_bounds_and_average),
		cmocka_unit_test(test_forced_max),
		cmocka_unit_test(test_matches_reference),
		cmocka_unit_test(test_incremental_contract),
		cmocka_unit_test(test_shift_resync),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
