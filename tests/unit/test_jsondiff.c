/*
 * Semantic JSON diff: exact change lists for nested objects, growing and
 * shrinking arrays, changes of type, keys that need JSON-pointer escaping
 * and identical documents; and, for each case, the list applied in order
 * as a JSON Patch turns a into b (so removes of a shrinking array really
 * come from the end down).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "objects/jsondiff.h"
#include "tests/unit/helpers.h"

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
	if (!v)
		fail_msg("bad test JSON %s: %s", text, e.text);
	return v;
}

static json_t *diff_of(const char *a, const char *b)
{
	json_t *ja = parse(a), *jb = parse(b), *changes = json_array();
	struct sk_err err;
	th_must(sk_jsondiff(ja, jb, changes, &err), &err);
	/* the changes hold references into a and b: copy before dropping them */
	json_t *copy = json_deep_copy(changes);
	json_decref(changes);
	json_decref(ja);
	json_decref(jb);
	return copy;
}

/* Compares the change list with the expected one given as JSON text. */
static void expect_changes(const char *a, const char *b, const char *want)
{
	json_t *got = diff_of(a, b), *w = parse(want);
	if (!json_equal(got, w)) {
		char *g = json_dumps(got, JSON_COMPACT);
		fail_msg("diff %s -> %s\n  got  %s\n  want %s", a, b, g, want);
	}
	json_decref(got);
	json_decref(w);
}

/* Decodes one RFC 6901 reference token (tok..end) into buf. */
static void unescape(const char *tok, const char *end, char *buf)
{
	size_t n = 0;
	for (const char *p = tok; p < end; p++) {
		if (*p == '~') {
			assert_true(p + 1 < end && (p[1] == '0' || p[1] == '1'));
			buf[n++] = p[1] == '0' ? '~' : '/';
			p++;
		} else {
			buf[n++] = *p;
		}
	}
	buf[n] = '\0';
}

/* Applies one change to *doc as JSON Patch would (add at an array index
 * must be at its end here, which is all a tail add can be). */
static void apply_one(json_t **doc, const json_t *c)
{
	const char *path = json_string_value(json_object_get(c, "path"));
	const char *op = json_string_value(json_object_get(c, "op"));
	json_t *nv = json_object_get(c, "new");
	if (!*path) {
		assert_string_equal(op, "replace");
		json_decref(*doc);
		*doc = json_deep_copy(nv);
		return;
	}
	json_t *parent = *doc;
	char tok[256];
	const char *p = path;
	for (;;) {
		assert_int_equal(*p, '/');
		const char *end = strchr(p + 1, '/');
		if (!end)
			end = p + strlen(p);
		unescape(p + 1, end, tok);
		if (!*end)
			break;
		parent = json_is_array(parent) ? json_array_get(parent, strtoul(tok, NULL, 10))
					       : json_object_get(parent, tok);
		assert_non_null(parent);
		p = end;
	}
	if (json_is_object(parent)) {
		if (strcmp(op, "remove") == 0)
			assert_int_equal(json_object_del(parent, tok), 0);
		else
			json_object_set_new(parent, tok, json_deep_copy(nv));
		return;
	}
	size_t i = strtoul(tok, NULL, 10);
	if (strcmp(op, "add") == 0) {
		assert_int_equal(i, json_array_size(parent));
		json_array_append_new(parent, json_deep_copy(nv));
	} else if (strcmp(op, "remove") == 0) {
		assert_true(i < json_array_size(parent));
		json_array_remove(parent, i);
	} else {
		assert_true(i < json_array_size(parent));
		json_array_set_new(parent, i, json_deep_copy(nv));
	}
}

/* The change list applied in order to a gives b. */
static void expect_patch_works(const char *a, const char *b)
{
	json_t *changes = diff_of(a, b), *doc = parse(a), *want = parse(b), *c;
	size_t i;
	json_array_foreach(changes, i, c) apply_one(&doc, c);
	if (!json_equal(doc, want)) {
		char *g = json_dumps(doc, JSON_COMPACT);
		fail_msg("patch of %s -> %s gives %s", a, b, g);
	}
	json_decref(changes);
	json_decref(doc);
	json_decref(want);
}

static void test_identical(void **state)
{
	(void)state;
	expect_changes("{}", "{}", "[]");
	expect_changes("{\"a\":[1,{\"b\":null}],\"c\":\"x\",\"v\":1}",
		       "{\"c\":\"x\",\"a\":[1,{\"b\":null}],\"v\":1}", "[]");
	expect_changes("[true,false,\"\",0]", "[true,false,\"\",0]", "[]");
}

static void test_nested_objects(void **state)
{
	(void)state;
	const char *a = "{\"run\":{\"port\":8080,\"env\":{\"A\":\"1\",\"B\":\"2\"}},\"v\":1}";
	const char *b = "{\"run\":{\"port\":9090,\"env\":{\"B\":\"2\",\"C\":\"3\"}},\"v\":1}";
	expect_changes(a, b,
		       "[{\"path\":\"/run/env/A\",\"op\":\"remove\",\"old\":\"1\",\"new\":null},"
		       " {\"path\":\"/run/env/C\",\"op\":\"add\",\"old\":null,\"new\":\"3\"},"
		       " {\"path\":\"/run/port\",\"op\":\"replace\",\"old\":8080,\"new\":9090}]");
	expect_patch_works(a, b);
	/* a whole subtree added or removed is one change carrying the subtree */
	expect_changes("{\"v\":1}", "{\"canary\":{\"steps\":[{\"weight\":5}]},\"v\":1}",
		       "[{\"path\":\"/canary\",\"op\":\"add\",\"old\":null,"
		       "  \"new\":{\"steps\":[{\"weight\":5}]}}]");
	expect_changes("{\"canary\":{\"steps\":[]},\"v\":1}", "{\"v\":1}",
		       "[{\"path\":\"/canary\",\"op\":\"remove\",\"old\":{\"steps\":[]},\"new\":null}]");
}

static void test_key_order_is_bytewise(void **state)
{
	(void)state;
	expect_changes("{\"b\":1,\"ab\":1,\"a\":1,\"\xc3\xa9\":1,\"~\":1}", "{}",
		       "[{\"path\":\"/a\",\"op\":\"remove\",\"old\":1,\"new\":null},"
		       " {\"path\":\"/ab\",\"op\":\"remove\",\"old\":1,\"new\":null},"
		       " {\"path\":\"/b\",\"op\":\"remove\",\"old\":1,\"new\":null},"
		       " {\"path\":\"/~0\",\"op\":\"remove\",\"old\":1,\"new\":null},"
		       " {\"path\":\"/\xc3\xa9\",\"op\":\"remove\",\"old\":1,\"new\":null}]");
}

static void test_array_grows(void **state)
{
	(void)state;
	const char *a = "{\"args\":[\"x\",\"y\"]}";
	const char *b = "{\"args\":[\"x\",\"z\",\"p\",\"q\"]}";
	expect_changes(a, b,
		       "[{\"path\":\"/args/1\",\"op\":\"replace\",\"old\":\"y\",\"new\":\"z\"},"
		       " {\"path\":\"/args/2\",\"op\":\"add\",\"old\":null,\"new\":\"p\"},"
		       " {\"path\":\"/args/3\",\"op\":\"add\",\"old\":null,\"new\":\"q\"}]");
	expect_patch_works(a, b);
	expect_changes("[]", "[1]", "[{\"path\":\"/0\",\"op\":\"add\",\"old\":null,\"new\":1}]");
}

static void test_array_shrinks(void **state)
{
	(void)state;
	const char *a = "{\"args\":[\"x\",\"y\",\"p\",\"q\"]}";
	const char *b = "{\"args\":[\"w\"]}";
	expect_changes(a, b,
		       "[{\"path\":\"/args/0\",\"op\":\"replace\",\"old\":\"x\",\"new\":\"w\"},"
		       " {\"path\":\"/args/3\",\"op\":\"remove\",\"old\":\"q\",\"new\":null},"
		       " {\"path\":\"/args/2\",\"op\":\"remove\",\"old\":\"p\",\"new\":null},"
		       " {\"path\":\"/args/1\",\"op\":\"remove\",\"old\":\"y\",\"new\":null}]");
	expect_patch_works(a, b);
	expect_patch_works("[1,2,3]", "[]");
}

static void test_array_of_objects(void **state)
{
	(void)state;
	const char *a = "{\"steps\":[{\"bake\":60,\"weight\":5},{\"bake\":60,\"weight\":50}]}";
	const char *b = "{\"steps\":[{\"bake\":60,\"weight\":5},{\"bake\":120,\"weight\":50},"
			"{\"bake\":0,\"weight\":100}]}";
	expect_changes(a, b,
		       "[{\"path\":\"/steps/1/bake\",\"op\":\"replace\",\"old\":60,\"new\":120},"
		       " {\"path\":\"/steps/2\",\"op\":\"add\",\"old\":null,"
		       "  \"new\":{\"bake\":0,\"weight\":100}}]");
	expect_patch_works(a, b);
	expect_patch_works(b, a);
}

static void test_type_change(void **state)
{
	(void)state;
	expect_changes("{\"a\":1}", "{\"a\":\"1\"}",
		       "[{\"path\":\"/a\",\"op\":\"replace\",\"old\":1,\"new\":\"1\"}]");
	expect_changes("{\"a\":{\"x\":1}}", "{\"a\":[1]}",
		       "[{\"path\":\"/a\",\"op\":\"replace\",\"old\":{\"x\":1},\"new\":[1]}]");
	expect_changes("{\"a\":true}", "{\"a\":false}",
		       "[{\"path\":\"/a\",\"op\":\"replace\",\"old\":true,\"new\":false}]");
	expect_changes("{\"a\":null}", "{\"a\":0}",
		       "[{\"path\":\"/a\",\"op\":\"replace\",\"old\":null,\"new\":0}]");
	/* the whole document: the empty pointer */
	expect_changes("{\"a\":1}", "[1]",
		       "[{\"path\":\"\",\"op\":\"replace\",\"old\":{\"a\":1},\"new\":[1]}]");
	expect_patch_works("{\"a\":1}", "[1]");
	expect_changes("\"x\"", "\"y\"", "[{\"path\":\"\",\"op\":\"replace\",\"old\":\"x\",\"new\":\"y\"}]");
}

static void test_pointer_escaping(void **state)
{
	(void)state;
	expect_changes("{\"a/b\":1,\"m~n\":{\"~/\":1},\"~1\":1}",
		       "{\"a/b\":2,\"m~n\":{\"~/\":2},\"~1\":2}",
		       "[{\"path\":\"/a~1b\",\"op\":\"replace\",\"old\":1,\"new\":2},"
		       " {\"path\":\"/m~0n/~0~1\",\"op\":\"replace\",\"old\":1,\"new\":2},"
		       " {\"path\":\"/~01\",\"op\":\"replace\",\"old\":1,\"new\":2}]");
	expect_patch_works("{\"a/b\":1,\"m~n\":{\"~/\":1},\"~1\":1}",
			   "{\"a/b\":2,\"m~n\":{\"~/\":2},\"//\":3}");
	/* an empty key is the token "" (path "/") */
	expect_changes("{\"\":1}", "{\"\":2}",
		       "[{\"path\":\"/\",\"op\":\"replace\",\"old\":1,\"new\":2}]");
	/* long paths grow the buffer */
	char key[300];
	memset(key, '/', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	json_t *a = json_pack("{s:{s:i}}", key, key, 1), *b = json_pack("{s:{s:i}}", key, key, 2);
	json_t *changes = json_array();
	struct sk_err err;
	th_must(sk_jsondiff(a, b, changes, &err), &err);
	assert_int_equal(json_array_size(changes), 1);
	const char *p = json_string_value(json_object_get(json_array_get(changes, 0), "path"));
	assert_int_equal(strlen(p), 2 * (1 + 2 * (sizeof(key) - 1)));
	assert_memory_equal(p, "/~1~1~1", 7);
	json_decref(changes);
	json_decref(a);
	json_decref(b);
}

static void test_values_are_references(void **state)
{
	(void)state;
	json_t *a = parse("{\"x\":{\"deep\":[1,2]}}"), *b = parse("{}"), *changes = json_array();
	struct sk_err err;
	th_must(sk_jsondiff(a, b, changes, &err), &err);
	assert_ptr_equal(json_object_get(json_array_get(changes, 0), "old"),
			 json_object_get(a, "x"));
	json_decref(changes);
	json_decref(a);
	json_decref(b);
}

static void test_too_deep(void **state)
{
	(void)state;
	json_t *a = json_array(), *b = json_array();
	for (int i = 0; i < SK_JSONDIFF_MAX_DEPTH + 5; i++) {
		json_t *na = json_array(), *nb = json_array();
		json_array_append_new(na, a);
		json_array_append_new(nb, b);
		a = na;
		b = nb;
	}
	json_t *changes = json_array();
	struct sk_err err;
	assert_int_equal(sk_jsondiff(a, b, changes, &err), SK_EINVAL);
	assert_non_null(strstr(err.message, "deeper"));
	assert_int_equal(sk_jsondiff(NULL, b, changes, &err), SK_EINVAL);
	json_decref(changes);
	json_decref(a);
	json_decref(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identical),
		cmocka_unit_test(test_nested_objects),
		cmocka_unit_test(test_key_order_is_bytewise),
		cmocka_unit_test(test_array_grows),
		cmocka_unit_test(test_array_shrinks),
		cmocka_unit_test(test_array_of_objects),
		cmocka_unit_test(test_type_change),
		cmocka_unit_test(test_pointer_escaping),
		cmocka_unit_test(test_values_are_references),
		cmocka_unit_test(test_too_deep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
