/*
 * Canonical JSON: accepted forms round-trip byte for byte, and each kind
 * of non-canonical or invalid input is rejected with a message naming the
 * problem. The escaping cases pin what jansson's dumper really does; if a
 * jansson upgrade changes it, these tests say so before ids change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "objects/cjson.h"

static void accept(const char *doc, size_t len)
{
	struct sk_err err;
	sk_err_clear(&err);
	json_t *v = NULL;
	int rc = sk_cjson_parse(doc, len, &v, &err);
	if (rc)
		print_error("rejected %s: %s\n", doc, err.message);
	assert_int_equal(rc, 0);
	assert_non_null(v);
	char *out = NULL;
	size_t outlen = 0;
	assert_int_equal(sk_cjson_dump(v, &out, &outlen, &err), 0);
	assert_int_equal(outlen, len);
	assert_memory_equal(out, doc, len);
	free(out);
	/* canonicalize is the identity on canonical input */
	assert_int_equal(sk_cjson_canonicalize(doc, len, &out, &outlen, &err), 0);
	assert_int_equal(outlen, len);
	assert_memory_equal(out, doc, len);
	free(out);
	json_decref(v);
}

#define ACCEPT(s) accept(s, sizeof(s) - 1)

static void reject_n(const char *doc, size_t len, int code, const char *needle)
{
	struct sk_err err;
	sk_err_clear(&err);
	json_t *v = NULL;
	int rc = sk_cjson_parse(doc, len, &v, &err);
	if (rc != code || !strstr(err.message, needle))
		print_error("input %.60s: rc %d, message \"%s\", wanted %d \"%s\"\n", doc, rc,
			    err.message, code, needle);
	assert_int_equal(rc, code);
	assert_null(v);
	assert_int_equal(err.code, code);
	assert_non_null(strstr(err.message, needle));
}

#define REJECT(s, needle) reject_n(s, sizeof(s) - 1, SK_EINVAL, needle)

static void test_accepts_canonical(void **state)
{
	(void)state;
	ACCEPT("{\"v\":1}");
	ACCEPT("{\"a\":\"x/y\",\"b\":[1,-2,0,true,false,null],\"c\":{},\"d\":[],\"v\":1}");
	/* bytewise key order, a prefix first; é (0xc3) after ~ (0x7e) */
	ACCEPT("{\"A\":1,\"a\":2,\"ab\":3,\"b\":4,\"v\":1,\"~\":5,\"\xc3\xa9\":6}");
	ACCEPT("{\"i\":9223372036854775807,\"j\":-9223372036854775808,\"v\":1}");
	/* the escapes jansson prints, and nothing else */
	ACCEPT("{\"s\":\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u000B\\u001B\\u001F\",\"v\":1}");
	/* raw: DEL, U+2028, U+FEFF inside a string, U+FFFF, 4-byte UTF-8 */
	ACCEPT("{\"s\":\"\x7f \xe2\x80\xa8 \xef\xbb\xbf \xef\xbf\xbf \xf0\x9f\x98\x80\",\"v\":1}");
	ACCEPT("{\"v\":1,\"\xe2\x80\xa8\":\"/\"}");
}

static void test_round_trip_built(void **state)
{
	(void)state;
	json_t *o = json_pack("{s:i,s:s,s:[i,i],s:{s:n,s:b}}", "v", 1, "name", "é\n",
			      "list", 2, 1, "obj", "z", "a", 1);
	char *out;
	size_t len;
	struct sk_err err;
	assert_int_equal(sk_cjson_dump(o, &out, &len, &err), 0);
	assert_string_equal(out, "{\"list\":[2,1],\"name\":\"\xc3\xa9\\n\",\"obj\":{\"a\":true,"
				 "\"z\":null},\"v\":1}");
	json_t *back;
	assert_int_equal(sk_cjson_parse(out, len, &back, &err), 0);
	assert_true(json_equal(o, back));
	json_decref(back);
	json_decref(o);
	free(out);
}

static void test_duplicates_and_floats(void **state)
{
	(void)state;
	REJECT("{\"a\":1,\"a\":1,\"v\":1}", "duplicate key");
	REJECT("{\"a\":{\"x\":1,\"x\":2},\"v\":1}", "duplicate key");
	REJECT("{\"a\":1.0,\"v\":1}", "float at /a");
	REJECT("{\"a\":1E3,\"v\":1}", "float");
	REJECT("{\"a\":1e3,\"v\":1}", "float");
	REJECT("{\"a\":[{\"b\":1e-400}],\"v\":1}", "float at /a/0/b");
	REJECT("{\"a\":-0.0,\"v\":1}", "float");
	REJECT("{\"v\":1.0}", "float");
}

static void test_integer_edges(void **state)
{
	(void)state;
	REJECT("{\"a\":-0,\"v\":1}", "not canonical: number form at byte 5");
	REJECT("{\"a\":01,\"v\":1}", "invalid JSON");
	REJECT("{\"a\":+1,\"v\":1}", "invalid JSON");
	REJECT("{\"a\":9223372036854775808,\"v\":1}", "out of range");
	REJECT("{\"a\":-9223372036854775809,\"v\":1}", "out of range");
	REJECT("{\"a\":1E400,\"v\":1}", "out of range");
}

static void test_utf8(void **state)
{
	(void)state;
	REJECT("{\"a\":\"\xc0\xaf\",\"v\":1}", "invalid UTF-8");     /* overlong '/' */
	REJECT("{\"a\":\"\xe0\x80\xaf\",\"v\":1}", "invalid UTF-8"); /* overlong, 3 bytes */
	REJECT("{\"a\":\"\xed\xa0\x80\",\"v\":1}", "invalid UTF-8"); /* raw surrogate */
	REJECT("{\"a\":\"\xf4\x90\x80\x80\",\"v\":1}", "invalid UTF-8"); /* > U+10FFFF */
	REJECT("{\"a\":\"\x80\",\"v\":1}", "invalid UTF-8");
	REJECT("{\"\xff\":1,\"v\":1}", "invalid UTF-8");
	REJECT("{\"a\":\"\\ud800\",\"v\":1}", "invalid Unicode"); /* lone high surrogate */
	REJECT("{\"a\":\"\\udc00\",\"v\":1}", "invalid Unicode"); /* lone low surrogate */
	REJECT("\xef\xbb\xbf{\"v\":1}", "byte order mark");
}

static void test_escaping(void **state)
{
	(void)state;
	REJECT("{\"a\":\"\\/\",\"v\":1}", "not canonical: string escaping at byte 6");
	REJECT("{\"a\":\"\\u00e9\",\"v\":1}", "string escaping");
	REJECT("{\"a\":\"\\u00E9\",\"v\":1}", "string escaping");
	REJECT("{\"a\":\"\\u001b\",\"v\":1}", "string escaping"); /* lowercase hex */
	REJECT("{\"a\":\"\\u0008\",\"v\":1}", "string escaping"); /* \b is shorter */
	REJECT("{\"a\":\"\\u007f\",\"v\":1}", "string escaping"); /* DEL is raw */
	REJECT("{\"a\":\"\\u2028\",\"v\":1}", "string escaping");
	REJECT("{\"a\":\"\\ud83d\\ude00\",\"v\":1}", "string escaping"); /* pair */
	REJECT("{\"\\u0061\":1,\"v\":1}", "string escaping");
	REJECT("{\"a\":\"\t\",\"v\":1}", "invalid JSON"); /* raw control character */
	REJECT("{\"a\":\"\\u0000\",\"v\":1}", "NUL");
	REJECT("{\"\\u0000\":1,\"v\":1}", "NUL");
	reject_n("{\"a\":\"\0\",\"v\":1}", 14, SK_EINVAL, "invalid JSON");
}

static void test_whitespace_and_order(void **state)
{
	(void)state;
	REJECT("{\"v\": 1}", "not canonical: whitespace at byte 5");
	REJECT(" {\"v\":1}", "whitespace at byte 0");
	REJECT("{\"v\":1}\n", "whitespace at byte 7");
	REJECT("{\"v\":1,\"a\":1}", "not canonical: key order at byte 2");
	REJECT("{\"a\":{\"c\":1,\"b\":2},\"v\":1}", "key order at byte 7 (\"b\" after \"c\" in /a)");
	REJECT("{\"b\":1,\"ab\":2,\"v\":1}", "key order");
	REJECT("{\"\xc3\xa9\":1,\"v\":1}", "key order"); /* é sorts after v */
	REJECT("{\"v\":1}x", "trailing bytes");
	REJECT("{\"v\":1}{}", "trailing bytes");
}

static void test_structure(void **state)
{
	(void)state;
	reject_n("", 0, SK_EINVAL, "empty document");
	REJECT("{\"v\":1", "truncated");
	REJECT("{\"a\":1}", "missing \"v\"");
	REJECT("{}", "missing \"v\"");
	REJECT("{\"v\":2}", "\"v\" must be the integer 1");
	REJECT("{\"v\":\"1\"}", "\"v\" must be the integer 1");
	REJECT("{\"v\":true}", "\"v\" must be the integer 1");
	REJECT("[{\"v\":1}]", "top level");
	REJECT("1", "top level");
	REJECT("\"v\"", "top level");
	REJECT("null", "top level");
}

static char *nested(int depth, size_t *len)
{
	/* {"a":{"a":...{"v":1}...},"v":1} with depth objects */
	size_t cap = (size_t)depth * 16 + 16;
	char *b = malloc(cap);
	size_t n = 0;
	for (int i = 1; i < depth; i++)
		n += (size_t)snprintf(b + n, cap - n, "{\"a\":");
	n += (size_t)snprintf(b + n, cap - n, "{\"v\":1}");
	for (int i = 1; i < depth; i++)
		n += (size_t)snprintf(b + n, cap - n, ",\"v\":1}");
	*len = n;
	return b;
}

static void test_depth(void **state)
{
	(void)state;
	size_t len;
	char *b = nested(SK_CJSON_MAX_DEPTH, &len);
	accept(b, len);
	free(b);
	b = nested(SK_CJSON_MAX_DEPTH + 1, &len);
	reject_n(b, len, SK_EINVAL, "nesting too deep");
	free(b);
	/* deeper than jansson's own limit: its error maps to the same words */
	len = 6000;
	b = malloc(len + 1);
	memset(b, '[', 3000);
	memset(b + 3000, ']', 3000);
	reject_n(b, len, SK_EINVAL, "nesting too deep");
	free(b);
}

static void test_size_cap(void **state)
{
	(void)state;
	size_t len = (size_t)SK_CJSON_MAX + 1;
	char *b = malloc(len);
	memset(b, ' ', len);
	memcpy(b, "{\"v\":1}", 7);
	reject_n(b, len, SK_ETOOBIG, "limit");
	free(b);
}

static void test_dump_rejects(void **state)
{
	(void)state;
	struct sk_err err;
	char *out = NULL;
	size_t len;
	json_t *o = json_pack("{s:i,s:f}", "v", 1, "x", 1.5);
	assert_int_equal(sk_cjson_dump(o, &out, &len, &err), SK_EINVAL);
	assert_non_null(strstr(err.message, "float at /x"));
	json_decref(o);

	o = json_pack("{s:i,s:o}", "v", 1, "s", json_stringn("a\0b", 3));
	assert_int_equal(sk_cjson_dump(o, &out, &len, &err), SK_EINVAL);
	assert_non_null(strstr(err.message, "NUL"));
	json_decref(o);

	o = json_object();
	json_object_setn_new(o, "a\0b", 3, json_integer(1));
	assert_int_equal(sk_cjson_dump(o, &out, &len, &err), SK_EINVAL);
	assert_non_null(strstr(err.message, "NUL"));
	json_decref(o);

	o = json_pack("[i]", 1);
	assert_int_equal(sk_cjson_dump(o, &out, &len, &err), SK_EINVAL);
	json_decref(o);

	/* dump does not require "v" */
	o = json_pack("{s:i,s:i}", "b", 1, "a", 2);
	assert_int_equal(sk_cjson_dump(o, &out, &len, &err), 0);
	assert_string_equal(out, "{\"a\":2,\"b\":1}");
	assert_int_equal(len, 13);
	free(out);
	json_decref(o);
}

static void test_canonicalize(void **state)
{
	(void)state;
	const char *pretty = "{\n  \"v\": 1,\n  \"b\": \"\\u00e9\\/\",\n  \"a\": [ 1, 2 ]\n}\n";
	char *out;
	size_t len;
	struct sk_err err;
	assert_int_equal(sk_cjson_canonicalize(pretty, strlen(pretty), &out, &len, &err), 0);
	assert_string_equal(out, "{\"a\":[1,2],\"b\":\"\xc3\xa9/\",\"v\":1}");
	json_t *v;
	assert_int_equal(sk_cjson_parse(out, len, &v, &err), 0);
	json_decref(v);
	free(out);

	const char *bad[] = { "{\"v\":1,\"v\":1}", "{\"v\":1,\"x\":2.5}", "{\"x\":1}",
			      "{\"v\":1", "[1]", "\xef\xbb\xbf{\"v\":1}" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sk_cjson_canonicalize(bad[i], strlen(bad[i]), &out, &len, &err),
				 SK_EINVAL);
}

static void test_accessors(void **state)
{
	(void)state;
	struct sk_err err;
	json_t *o = json_pack("{s:s,s:n,s:I,s:i,s:b}", "s", "x", "n", "i",
			      (json_int_t)-5, "v", 1, "b", 1);
	const char *s;
	long long i;
	assert_int_equal(sk_cjson_get_str(o, "s", &s, &err), 0);
	assert_string_equal(s, "x");
	assert_int_equal(sk_cjson_get_str(o, "n", &s, &err), SK_EINVAL);
	assert_non_null(strstr(err.message, "\"n\" must be a string"));
	assert_int_equal(sk_cjson_get_str(o, "missing", &s, &err), SK_EINVAL);
	assert_non_null(strstr(err.message, "missing \"missing\""));
	assert_int_equal(sk_cjson_get_str_or_null(o, "n", &s, &err), 0);
	assert_null(s);
	assert_int_equal(sk_cjson_get_str_or_null(o, "s", &s, &err), 0);
	assert_string_equal(s, "x");
	assert_int_equal(sk_cjson_get_str_or_null(o, "i", &s, &err), SK_EINVAL);
	assert_int_equal(sk_cjson_get_int(o, "i", &i, &err), 0);
	assert_int_equal(i, -5);
	assert_int_equal(sk_cjson_get_int(o, "s", &i, &err), SK_EINVAL);
	assert_int_equal(sk_cjson_get_int(o, "b", &i, &err), SK_EINVAL);
	static const char *const all[] = { "s", "n", "i", "v", "b", NULL };
	static const char *const some[] = { "s", "n", "i", "v", NULL };
	assert_int_equal(sk_cjson_only_keys(o, all, "test doc", &err), 0);
	assert_int_equal(sk_cjson_only_keys(o, some, "test doc", &err), SK_EINVAL);
	assert_non_null(strstr(err.message, "unknown key \"b\" in test doc"));
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_canonical),
		cmocka_unit_test(test_round_trip_built),
		cmocka_unit_test(test_duplicates_and_floats),
		cmocka_unit_test(test_integer_edges),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_whitespace_and_order),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_dump_rejects),
		cmocka_unit_test(test_canonicalize),
		cmocka_unit_test(test_accessors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
