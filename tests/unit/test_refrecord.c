/*
 * Ref records: exact canonical bytes, round trips, and a rejection for
 * every field rule in objects/refrecord.h.
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
#include "objects/refrecord.h"

#define OID_A "8aec4e4876f854f688d0ebfc8f37598f38e5fd6903cccc850ca36591175aeb60"
#define OID_B "473a0f4c3be8a93681a267e3b1e9a7dcda1185436fe141f7749120a303721813"
#define SIGNER "630dcd2966c43366"

static void sample(struct sk_refrecord *r)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->ref, "refs/services/payments-api");
	r->has_oid = 1;
	sk_oid_fromhex(&r->oid, OID_A, NULL);
	r->has_prev = 1;
	sk_oid_fromhex(&r->prev, OID_B, NULL);
	r->seq = 2;
	r->time = 1700000000;
	strcpy(r->signer, SIGNER);
	strcpy(r->op, "op-20240101.1");
	r->has_sig = 1;
	for (int i = 0; i < SK_SIG_RAWSZ; i++)
		r->sig[i] = (unsigned char)i;
}

static const char sig_hex[] =
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";

static void assert_same(const struct sk_refrecord *a, const struct sk_refrecord *b)
{
	assert_string_equal(a->ref, b->ref);
	assert_int_equal(a->has_oid, b->has_oid);
	if (a->has_oid)
		assert_int_equal(sk_oid_cmp(&a->oid, &b->oid), 0);
	assert_int_equal(a->has_prev, b->has_prev);
	if (a->has_prev)
		assert_int_equal(sk_oid_cmp(&a->prev, &b->prev), 0);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->time, b->time);
	assert_string_equal(a->signer, b->signer);
	assert_string_equal(a->op, b->op);
	assert_int_equal(a->has_sig, b->has_sig);
	if (a->has_sig)
		assert_memory_equal(a->sig, b->sig, SK_SIG_RAWSZ);
}

static void test_dump_exact(void **state)
{
	(void)state;
	struct sk_refrecord r;
	sample(&r);
	char *out;
	size_t len;
	struct sk_err err;
	char want[1024];
	snprintf(want, sizeof(want),
		 "{\"oid\":\"%s\",\"op\":\"op-20240101.1\",\"prev\":\"%s\","
		 "\"ref\":\"refs/services/payments-api\",\"seq\":2,\"sig\":\"%s\","
		 "\"signer\":\"%s\",\"time\":1700000000,\"v\":1}",
		 OID_A, OID_B, sig_hex, SIGNER);
	assert_int_equal(sk_refrecord_dump(&r, 1, &out, &len, &err), 0);
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
	struct sk_refrecord back;
	assert_int_equal(sk_refrecord_parse(&back, out, len, &err), 0);
	assert_same(&r, &back);
	free(out);

	/* without sig: the signed body */
	assert_int_equal(sk_refrecord_dump(&r, 0, &out, &len, &err), 0);
	assert_null(strstr(out, "\"sig\""));
	assert_int_equal(sk_refrecord_parse(&back, out, len, &err), 0);
	assert_false(back.has_sig);
	free(out);
}

static void test_first_and_tombstone(void **state)
{
	(void)state;
	struct sk_refrecord r, back;
	struct sk_err err;
	sample(&r);
	r.seq = 1;
	r.has_prev = 0;
	r.op[0] = '\0';
	r.has_oid = 0;
	r.time = 0;
	char *out;
	size_t len;
	assert_int_equal(sk_refrecord_dump(&r, 1, &out, &len, &err), 0);
	assert_non_null(strstr(out, "\"oid\":null,\"op\":null,\"prev\":null,"));
	assert_int_equal(sk_refrecord_parse(&back, out, len, &err), 0);
	assert_same(&r, &back);
	free(out);
	json_t *j = sk_refrecord_to_json(&r, 0);
	assert_true(json_is_null(json_object_get(j, "oid")));
	assert_null(json_object_get(j, "sig"));
	json_decref(j);
}

/* Replaces one field of the sample record and expects rejection. */
static void reject_field(const char *key, json_t *value, const char *needle)
{
	struct sk_refrecord r, out;
	sample(&r);
	json_t *j = sk_refrecord_to_json(&r, 1);
	if (value)
		json_object_set_new(j, key, value);
	else
		json_object_del(j, key);
	struct sk_err err;
	sk_err_clear(&err);
	int rc = sk_refrecord_from_json(&out, j, &err);
	if (rc != SK_EINVAL || !strstr(err.message, needle))
		print_error("field %s: rc %d \"%s\" (want \"%s\")\n", key, rc, err.message, needle);
	assert_int_equal(rc, SK_EINVAL);
	assert_non_null(strstr(err.message, needle));
	json_decref(j);
}

static void test_rejects(void **state)
{
	(void)state;
	reject_field("extra", json_integer(1), "unknown key \"extra\"");
	const char *required[] = { "oid", "op", "prev", "ref", "seq", "signer", "time", "v" };
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		reject_field(required[i], NULL, "missing");
	reject_field("v", json_integer(2), "\"v\" must be 1");
	reject_field("ref", json_string("heads/main"), "invalid ref name");
	reject_field("ref", json_string("refs/a/../b"), "invalid ref name");
	reject_field("ref", json_string("refs/a/.hidden"), "invalid ref name");
	reject_field("ref", json_string("refs/a//b"), "invalid ref name");
	reject_field("ref", json_string("refs/a.lock"), "invalid ref name");
	reject_field("ref", json_integer(1), "\"ref\" must be a string");
	reject_field("oid", json_string("8AEC4E4876F854F688D0EBFC8F37598F38E5FD6903CCCC850CA36591175AEB60"),
		     "64 lowercase hex");
	reject_field("oid", json_string("8aec4e48"), "64 lowercase hex");
	reject_field("oid", json_string(OID_A "00"), "64 lowercase hex");
	reject_field("prev", json_string("zz"), "64 lowercase hex");
	reject_field("prev", json_null(), "\"prev\" must be null exactly when \"seq\" is 1");
	reject_field("seq", json_integer(0), "at least 1");
	reject_field("seq", json_integer(-3), "at least 1");
	reject_field("seq", json_integer(1), "\"prev\" must be null exactly when");
	reject_field("seq", json_string("2"), "\"seq\" must be an integer");
	reject_field("time", json_integer(-1), "\"time\" must not be negative");
	reject_field("signer", json_string("630dcd2966c4336"), "signer");
	reject_field("signer", json_string("630DCD2966C43366"), "signer");
	reject_field("signer", json_null(), "\"signer\" must be a string");
	reject_field("op", json_string(""), "invalid operation id");
	reject_field("op", json_string("-x"), "invalid operation id");
	reject_field("op", json_string("a/b"), "invalid operation id");
	reject_field("op", json_integer(5), "\"op\" must be a string or null");
	reject_field("sig", json_string("00"), "\"sig\" must be 128 lowercase hex");
	reject_field("sig", json_null(), "\"sig\" must be a string");
}

static void test_parse_rejects_noncanonical(void **state)
{
	(void)state;
	struct sk_refrecord r;
	struct sk_err err;
	const char *pretty = "{\"v\": 1}";
	assert_int_equal(sk_refrecord_parse(&r, pretty, strlen(pretty), &err), SK_EINVAL);
	assert_non_null(strstr(err.message, "ref record"));
	assert_int_equal(sk_refrecord_parse(&r, "", 0, &err), SK_EINVAL);
	json_t *arr = json_pack("[i]", 1);
	assert_int_equal(sk_refrecord_from_json(&r, arr, &err), SK_EINVAL);
	json_decref(arr);
}

static void test_opid(void **state)
{
	(void)state;
	struct sk_err err;
	char max[SK_OPID_MAX + 2];
	memset(max, 'a', sizeof(max));
	max[SK_OPID_MAX] = '\0';
	assert_int_equal(sk_opid_check(max, &err), 0);
	max[SK_OPID_MAX] = 'a';
	max[SK_OPID_MAX + 1] = '\0';
	assert_int_equal(sk_opid_check(max, &err), SK_EINVAL);
	assert_int_equal(sk_opid_check("deploy_1.A-b", &err), 0);
	assert_int_equal(sk_opid_check("", &err), SK_EINVAL);
	assert_int_equal(sk_opid_check(NULL, &err), SK_EINVAL);
	assert_int_equal(sk_opid_check(".x", &err), SK_EINVAL);
	assert_int_equal(sk_opid_check("-x", &err), SK_EINVAL);
	assert_int_equal(sk_opid_check("a b", &err), SK_EINVAL);
	assert_int_equal(sk_opid_check("a\x01", &err), SK_EINVAL);
	assert_int_equal(sk_opid_check("\xc3\xa9", &err), SK_EINVAL);
	/* a hostile id is quoted, so the message stays printable ASCII */
	assert_int_equal(sk_opid_check("-\x1b[31m\xff", &err), SK_EINVAL);
	for (const char *p = err.message; *p; p++)
		assert_true(*p >= 0x20 && *p < 0x7f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dump_exact),
		cmocka_unit_test(test_first_and_tombstone),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_parse_rejects_noncanonical),
		cmocka_unit_test(test_opid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
