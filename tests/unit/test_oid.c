/*
 * Object ids: hard-coded vectors computed with sha256sum, e.g.
 *   printf 'blob 5\0hello' | sha256sum
 * so a change in the header form or the hash breaks these tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/sha256.h"

#include "objects/oid.h"
#include "tests/unit/helpers.h"

static void hex_of(enum sk_otype t, const char *payload, size_t len, char *hex)
{
	struct sk_oid oid;
	sk_oid_hash(&oid, t, payload, len);
	sk_oid_tohex(&oid, hex);
}

static void test_vectors(void **state)
{
	(void)state;
	char hex[SK_OID_HEXSZ + 1];
	hex_of(SK_OBJ_BLOB, "hello", 5, hex);
	assert_string_equal(hex, "8aec4e4876f854f688d0ebfc8f37598f38e5fd6903cccc850ca36591175aeb60");
	hex_of(SK_OBJ_BLOB, "", 0, hex);
	assert_string_equal(hex, "473a0f4c3be8a93681a267e3b1e9a7dcda1185436fe141f7749120a303721813");
	hex_of(SK_OBJ_TRUST, "{\"v\":1}", 7, hex);
	assert_string_equal(hex, "7a1508c208a4c8375fb31c05cd323b7793d841249f1cb3161da2e710cd75cc24");
	hex_of(SK_OBJ_SECRETREF, "{\"v\":1}", 7, hex);
	assert_string_equal(hex, "31cd70d81ae9f938ab9fb072baf9f11248d1a3c7def47c0baa51e7c14a044c9d");
}

static void test_streaming_matches(void **state)
{
	(void)state;
	size_t n = 1000000;
	char *buf = malloc(n);
	assert_non_null(buf);
	memset(buf, 'a', n);
	struct sk_hasher *h = sk_hasher_new(SK_OBJ_BLOB, n);
	for (size_t off = 0; off < n; off += 4096)
		sk_hasher_update(h, buf + off, n - off < 4096 ? n - off : 4096);
	struct sk_oid a, b;
	sk_hasher_final(h, &a);
	sk_hasher_free(h);
	sk_oid_hash(&b, SK_OBJ_BLOB, buf, n);
	free(buf);
	assert_int_equal(sk_oid_cmp(&a, &b), 0);
	char hex[SK_OID_HEXSZ + 1];
	assert_string_equal(sk_oid_tohex(&a, hex),
			    "58c1b77092d2e48b2c6cbd0b91bcbd882f3c129f5f2633527afc7c23dd75ec56");
}

static void test_sha256(void **state)
{
	(void)state;
	unsigned char d[32];
	char hex[65];
	sk_sha256("abc", 3, d);
	sk_hex(d, 32, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sk_sha256("", 0, d);
	sk_hex(d, 32, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_header(void **state)
{
	(void)state;
	char buf[32];
	size_t n = sk_oid_header(buf, SK_OBJ_BLOB, 5);
	assert_int_equal(n, 7);
	assert_memory_equal(buf, "blob 5\0", 7);
	n = sk_oid_header(buf, SK_OBJ_SECRETREF, UINT64_MAX);
	assert_int_equal(n, strlen("secretref 18446744073709551615") + 1);
	assert_string_equal(buf, "secretref 18446744073709551615");
}

static void test_type_names(void **state)
{
	(void)state;
	static const char *const names[] = { "blob", "file", "release", "signature", "commit",
					     "control", "operation", "event", "approval",
					     "refrecord", "trust", "report", "backup", "secretref" };
	assert_int_equal(sizeof(names) / sizeof(names[0]), SK_OBJ__COUNT - 1);
	for (int t = 1; t < SK_OBJ__COUNT; t++) {
		assert_string_equal(sk_otype_name((enum sk_otype)t), names[t - 1]);
		assert_int_equal(sk_otype_parse(names[t - 1]), t);
		assert_int_equal(sk_otype_is_json((enum sk_otype)t), t != SK_OBJ_BLOB);
	}
	assert_int_equal(sk_otype_parse("Blob"), SK_OBJ_NONE);
	assert_int_equal(sk_otype_parse("none"), SK_OBJ_NONE);
	assert_int_equal(sk_otype_parse(""), SK_OBJ_NONE);
	assert_int_equal(sk_otype_parse(NULL), SK_OBJ_NONE);
	assert_false(sk_otype_is_json(SK_OBJ_NONE));
	assert_non_null(sk_otype_name(SK_OBJ__COUNT));
}

static void test_hex_parsing(void **state)
{
	(void)state;
	const char *good = "8aec4e4876f854f688d0ebfc8f37598f38e5fd6903cccc850ca36591175aeb60";
	struct sk_oid oid;
	struct sk_err err;
	char hex[SK_OID_HEXSZ + 1];
	assert_int_equal(sk_oid_fromhex(&oid, good, &err), 0);
	assert_string_equal(sk_oid_tohex(&oid, hex), good);
	assert_false(sk_oid_is_zero(&oid));
	char upper[65];
	strcpy(upper, good);
	upper[0] = 'A';
	upper[1] = 'E';
	assert_int_equal(sk_oid_fromhex(&oid, upper, &err), SK_EINVAL);
	assert_int_equal(sk_oid_fromhex(&oid, "8aec", &err), SK_EINVAL);
	char longer[70];
	snprintf(longer, sizeof(longer), "%s0", good);
	assert_int_equal(sk_oid_fromhex(&oid, longer, &err), SK_EINVAL);
	assert_int_equal(sk_oid_fromhex(&oid, NULL, &err), SK_EINVAL);

	unsigned char raw[2];
	assert_int_equal(sk_unhex("0aff", raw, 2), 0);
	assert_int_equal(raw[0], 0x0a);
	assert_int_equal(raw[1], 0xff);
	assert_int_equal(sk_unhex("0AFF", raw, 2), -1);
	assert_int_equal(sk_unhex("0af", raw, 2), -1);
	assert_int_equal(sk_unhex("0aff0", raw, 2), -1);
	assert_int_equal(sk_unhex("0ag0", raw, 2), -1);
}

static void test_prefix(void **state)
{
	(void)state;
	assert_true(sk_oid_is_prefix("8aec4e48"));
	assert_true(sk_oid_is_prefix(
		"8aec4e4876f854f688d0ebfc8f37598f38e5fd6903cccc850ca36591175aeb60"));
	assert_false(sk_oid_is_prefix("8aec4e4"));
	assert_false(sk_oid_is_prefix("8AEC4E48"));
	assert_false(sk_oid_is_prefix("8aec4e4g"));
	assert_false(sk_oid_is_prefix(
		"8aec4e4876f854f688d0ebfc8f37598f38e5fd6903cccc850ca36591175aeb600"));
	assert_false(sk_oid_is_prefix(""));
	assert_false(sk_oid_is_prefix(NULL));
	struct sk_oid z = { { 0 } }, one = { { 0 } };
	one.id[31] = 1;
	assert_true(sk_oid_is_zero(&z));
	assert_true(sk_oid_cmp(&z, &one) < 0);
	assert_true(sk_oid_cmp(&one, &z) > 0);
}

/* Large inputs go through libcrypto, loaded on demand; it is there on
 * every machine make deps set up, and it agrees with libsodium to the
 * bit, in one piece and in uneven pieces, after a restart too. */
static void test_sha256_large(void **state)
{
	(void)state;
	size_t n = 3 * 1024 * 1024 + 17;
	unsigned char *data = th_random_bytes(n, 7), a[32], b[32];
	assert_true(sk_sha256_fast());
	crypto_hash_sha256(a, data, n);
	struct sk_sha256 *s = sk_sha256_new();
	sk_sha256_update(s, "junk", 4);
	sk_sha256_init(s);
	for (size_t off = 0, step = 1; off < n; off += step, step = step * 3 + 1)
		sk_sha256_update(s, data + off, off + step > n ? n - off : step);
	sk_sha256_final(s, b);
	assert_memory_equal(a, b, 32);
	sk_sha256_free(s);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),     cmocka_unit_test(test_streaming_matches),
		cmocka_unit_test(test_sha256),      cmocka_unit_test(test_header),
		cmocka_unit_test(test_type_names),  cmocka_unit_test(test_hex_parsing),
		cmocka_unit_test(test_prefix),      cmocka_unit_test(test_sha256_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
