/*
 * Signature documents: exact canonical bytes, a round trip, a signature
 * made over the domain-separated message verifying (and failing once
 * anything signed changes or another key is used), and a rejection for
 * every field rule in objects/signature.h.
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

#include "objects/cjson.h"
#include "objects/signature.h"
#include "tests/unit/helpers.h"

#define OID_A "8aec4e4876f854f688d0ebfc8f37598f38e5fd6903cccc850ca36591175aeb60"
#define SIGNER "630dcd2966c43366"

static void sample(struct sk_signature *s)
{
	memset(s, 0, sizeof(*s));
	sk_oid_fromhex(&s->release, OID_A, NULL);
	strcpy(s->signer, SIGNER);
	s->time = 1700000000;
}

/* Signs s the way release sign does: domain, NUL, message. */
static void sign_with(struct sk_signature *s, const unsigned char *sk)
{
	char *msg = NULL;
	size_t len = 0;
	struct sk_err err;
	th_must(sk_signature_message(s, &msg, &len, &err), &err);
	size_t dlen = strlen(SK_SIGN_DOMAIN_SIGNATURE) + 1;
	unsigned char *buf = malloc(dlen + len);
	assert_non_null(buf);
	memcpy(buf, SK_SIGN_DOMAIN_SIGNATURE, dlen);
	memcpy(buf + dlen, msg, len);
	crypto_sign_detached(s->sig, NULL, buf, dlen + len, sk);
	s->has_sig = 1;
	free(buf);
	free(msg);
}

static void test_message_bytes(void **state)
{
	(void)state;
	struct sk_signature s;
	sample(&s);
	char *msg = NULL;
	size_t len = 0;
	struct sk_err err;
	th_must(sk_signature_message(&s, &msg, &len, &err), &err);
	assert_string_equal(msg, "{\"release\":\"" OID_A "\",\"signer\":\"" SIGNER
				 "\",\"time\":1700000000,\"v\":1}");
	free(msg);
}

static void test_sign_verify_roundtrip(void **state)
{
	(void)state;
	unsigned char pk[32], sk[64], pk2[32], sk2[64];
	assert_int_equal(sodium_init() >= 0, 1);
	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(pk2, sk2);
	struct sk_signature s, back;
	sample(&s);
	sign_with(&s, sk);
	json_t *doc = sk_signature_to_json(&s, 1);
	char *bytes = NULL;
	size_t len = 0;
	struct sk_err err;
	th_must(sk_cjson_dump(doc, &bytes, &len, &err), &err);
	json_decref(doc);
	th_must(sk_signature_parse(&back, bytes, len, &err), &err);
	free(bytes);
	assert_memory_equal(&back.release, &s.release, sizeof(s.release));
	assert_string_equal(back.signer, SIGNER);
	assert_int_equal(back.time, 1700000000);
	assert_memory_equal(back.sig, s.sig, 64);
	th_must(sk_signature_verify(&back, pk, &err), &err);
	assert_int_equal(sk_signature_verify(&back, pk2, &err), SK_ESIGNATURE);
	back.time++;
	assert_int_equal(sk_signature_verify(&back, pk, &err), SK_ESIGNATURE);
	back.time--;
	back.release.id[0] ^= 1;
	assert_int_equal(sk_signature_verify(&back, pk, &err), SK_ESIGNATURE);
	back.release.id[0] ^= 1;
	back.has_sig = 0;
	assert_int_equal(sk_signature_verify(&back, pk, &err), SK_ESIGNATURE);
}

static void reject(const char *text, const char *needle)
{
	struct sk_signature s;
	struct sk_err err;
	memset(&err, 0, sizeof(err));
	json_t *doc = json_loads(text, 0, NULL);
	assert_non_null(doc);
	int rc = sk_signature_from_json(&s, doc, &err);
	json_decref(doc);
	if (rc != SK_EINVAL || !strstr(err.message, needle))
		fail_msg("%s: rc %d, message '%s' (wanted '%s')", text, rc, err.message, needle);
}

#define SIG128 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff" \
	       "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define DOC(rel, sig, signer, time, v)                                                     \
	"{\"release\":" rel ",\"sig\":" sig ",\"signer\":" signer ",\"time\":" time ",\"v\":" v "}"

static void test_rejects(void **state)
{
	(void)state;
	reject(DOC("\"" OID_A "\"", "\"" SIG128 "\"", "\"" SIGNER "\"", "1", "2"), "\"v\"");
	reject(DOC("\"" OID_A "\"", "\"" SIG128 "\"", "\"" SIGNER "\"", "-1", "1"), "\"time\"");
	reject(DOC("\"" OID_A "\"", "\"" SIG128 "\"", "\"" SIGNER "\"", "\"1\"", "1"), "\"time\"");
	reject(DOC("\"8aec\"", "\"" SIG128 "\"", "\"" SIGNER "\"", "1", "1"), "\"release\"");
	reject(DOC("\"" OID_A "\"", "\"" SIG128 "\"", "\"630DCD2966C43366\"", "1", "1"), "\"signer\"");
	reject(DOC("\"" OID_A "\"", "\"00\"", "\"" SIGNER "\"", "1", "1"), "\"sig\"");
	reject(DOC("\"" OID_A "\"", "null", "\"" SIGNER "\"", "1", "1"), "\"sig\"");
	reject("{\"release\":\"" OID_A "\",\"signer\":\"" SIGNER "\",\"time\":1,\"v\":1}", "\"sig\"");
	reject("{\"extra\":1,\"release\":\"" OID_A "\",\"sig\":\"" SIG128 "\",\"signer\":\"" SIGNER
	       "\",\"time\":1,\"v\":1}",
	       "extra");
	struct sk_signature s;
	struct sk_err err;
	json_t *ok = json_loads(DOC("\"" OID_A "\"", "\"" SIG128 "\"", "\"" SIGNER "\"", "1", "1"),
				0, NULL);
	th_must(sk_signature_from_json(&s, ok, &err), &err);
	json_decref(ok);
	assert_int_equal(s.has_sig, 1);
	/* Non-canonical bytes are refused by parse. */
	const char *loose = "{ \"v\":1 }";
	assert_int_not_equal(sk_signature_parse(&s, loose, strlen(loose), &err), 0);
}

int main(void)
{
	th_isolate_env(NULL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_bytes),
		cmocka_unit_test(test_sign_verify_roundtrip),
		cmocka_unit_test(test_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
