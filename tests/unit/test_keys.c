/*
 * Keys: generation, on-disk modes, refusal of readable keys, signatures and
 * their domain separation. Every test runs with XDG_CONFIG_HOME in a fresh
 * temp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fs.h"
#include "refs/keys.h"
#include "tests/unit/helpers.h"

struct fx {
	char dir[64];
	char *keys;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	if (th_tmpdir(fx->dir, sizeof(fx->dir), "keys") < 0)
		return -1;
	th_isolate_env(fx->dir);
	fx->keys = sk_key_dir();
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	th_rmtree(fx->dir);
	free(fx->keys);
	free(fx);
	return 0;
}

static char *file_in(const char *dir, const char *name)
{
	return sk_path_join(dir, name);
}

static void test_key_dir(void **state)
{
	struct fx *fx = *state;
	char want[128];
	snprintf(want, sizeof(want), "%s/skiff/keys", fx->dir);
	assert_string_equal(fx->keys, want);
	char *xdg = strdup(getenv("XDG_CONFIG_HOME"));
	unsetenv("XDG_CONFIG_HOME");
	setenv("HOME", "/home/someone", 1);
	char *d = sk_key_dir();
	assert_string_equal(d, "/home/someone/.config/skiff/keys");
	free(d);
	setenv("XDG_CONFIG_HOME", xdg, 1);
	free(xdg);
}

static void test_generate_and_modes(void **state)
{
	struct fx *fx = *state;
	struct sk_key *k = NULL;
	struct sk_err err;
	assert_int_equal(sk_key_generate(&k, "alice", &err), 0);
	assert_non_null(k);
	assert_string_equal(sk_key_name(k), "alice");

	struct stat st;
	assert_int_equal(stat(fx->keys, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	char *key = file_in(fx->keys, "alice.key"), *pub = file_in(fx->keys, "alice.pub");
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(pub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);

	/* key id: first 16 hex digits of SHA-256(public key) */
	unsigned char h[32];
	char hex[65];
	crypto_hash_sha256(h, sk_key_public(k), 32);
	sodium_bin2hex(hex, sizeof(hex), h, 32);
	hex[16] = '\0';
	assert_string_equal(sk_key_id(k), hex);

	/* the .pub file holds "skiff-ed25519 <hex>\n" */
	char *data = NULL, *ps = sk_key_public_string(k);
	assert_int_equal(sk_fs_read_file(pub, 4096, &data, NULL, &err), 0);
	assert_int_equal(strncmp(data, "skiff-ed25519 ", 14), 0);
	assert_int_equal(strlen(ps), 14 + 64);
	assert_int_equal(strncmp(data, ps, strlen(ps)), 0);
	assert_string_equal(data + strlen(ps), "\n");
	free(data);

	/* the .key file: "skiff-secret-key-v1 <64 hex>\n" */
	assert_int_equal(sk_fs_read_file(key, 4096, &data, NULL, &err), 0);
	assert_int_equal(strncmp(data, "skiff-secret-key-v1 ", 20), 0);
	assert_int_equal(strlen(data), 20 + 64 + 1);
	free(data);

	char *kp = sk_key_path(k);
	assert_string_equal(kp, key);
	free(kp);
	free(ps);
	free(key);
	free(pub);
	sk_key_free(k);
}

static void test_never_overwrites(void **state)
{
	struct fx *fx = *state;
	struct sk_key *a = NULL, *b = NULL;
	struct sk_err err;
	assert_int_equal(sk_key_generate(&a, "ci", &err), 0);
	char *key = file_in(fx->keys, "ci.key"), *before = NULL, *after = NULL;
	assert_int_equal(sk_fs_read_file(key, 4096, &before, NULL, &err), 0);
	assert_int_equal(sk_key_generate(&b, "ci", &err), SK_EEXISTS);
	assert_null(b);
	assert_true(strlen(err.hint) > 0);
	assert_non_null(strstr(err.message, "ci"));
	assert_int_equal(sk_fs_read_file(key, 4096, &after, NULL, &err), 0);
	assert_string_equal(before, after);
	/* the original key still loads and is the same key */
	assert_int_equal(sk_key_load(&b, "ci", &err), 0);
	assert_string_equal(sk_key_id(a), sk_key_id(b));
	free(before);
	free(after);
	free(key);
	sk_key_free(a);
	sk_key_free(b);
}

static void test_load_refuses_readable(void **state)
{
	struct fx *fx = *state;
	struct sk_key *k = NULL, *l = NULL;
	struct sk_err err;
	assert_int_equal(sk_key_generate(&k, "ops", &err), 0);
	char *key = file_in(fx->keys, "ops.key");
	assert_int_equal(chmod(key, 0644), 0);
	assert_int_equal(sk_key_load(&l, "ops", &err), SK_EKEYPERM);
	assert_null(l);
	char want[512];
	snprintf(want, sizeof(want), "chmod 600 %s", key);
	assert_string_equal(err.hint, want);
	assert_int_equal(chmod(key, 0640), 0);
	assert_int_equal(sk_key_load(&l, "ops", &err), SK_EKEYPERM);
	assert_int_equal(chmod(key, 0604), 0);
	assert_int_equal(sk_key_load(&l, key, &err), SK_EKEYPERM);
	assert_int_equal(chmod(key, 0600), 0);
	assert_int_equal(sk_key_load(&l, "ops", &err), 0);
	assert_string_equal(sk_key_id(k), sk_key_id(l));
	assert_memory_equal(sk_key_public(k), sk_key_public(l), 32);
	sk_key_free(l);
	/* 0400 is fine too */
	assert_int_equal(chmod(key, 0400), 0);
	assert_int_equal(sk_key_load(&l, key, &err), 0);
	assert_string_equal(sk_key_name(l), "ops");
	sk_key_free(l);
	free(key);
	sk_key_free(k);
}

static void test_load_errors(void **state)
{
	struct fx *fx = *state;
	struct sk_key *k = NULL;
	struct sk_err err;
	assert_int_equal(sk_key_load(&k, "nobody", &err), SK_ENOTFOUND);
	assert_non_null(strstr(err.hint, "skiff keygen"));
	assert_int_equal(sk_key_load(&k, "", &err), SK_EIDENTITY);
	assert_int_equal(sk_key_load(&k, "bad name", &err), SK_EINVAL);
	assert_int_equal(sk_key_generate(&k, "../evil", &err), SK_EINVAL);
	assert_int_equal(sk_key_generate(&k, "-x", &err), SK_EINVAL);
	assert_int_equal(sk_key_generate(&k, ".x", &err), SK_EINVAL);

	/* a malformed key file */
	assert_int_equal(sk_fs_mkdirs(fx->keys, 1, &err), 0);
	char *bad = file_in(fx->keys, "bad.key");
	assert_int_equal(sk_fs_write_new(bad, "not a key\n", 10, 0600, &err), 0);
	assert_int_equal(sk_key_load(&k, "bad", &err), SK_EINVAL);
	assert_null(k);
	free(bad);
}

static void test_sign_verify(void **state)
{
	(void)state;
	struct sk_key *k = NULL, *other = NULL;
	struct sk_err err;
	assert_int_equal(sk_key_generate(&k, "signer", &err), 0);
	assert_int_equal(sk_key_generate(&other, "other", &err), 0);
	const char msg[] = "{\"ref\":\"refs/a\",\"v\":1}";
	unsigned char sig[64];
	assert_int_equal(sk_key_sign(k, "skiff-test-v1", msg, strlen(msg), sig), 0);
	assert_int_equal(sk_sig_verify(sk_key_public(k), "skiff-test-v1", msg, strlen(msg), sig,
				       &err), 0);
	/* another domain */
	assert_int_equal(sk_sig_verify(sk_key_public(k), "skiff-other-v1", msg, strlen(msg), sig,
				       &err), SK_ESIGNATURE);
	/* domain and message boundary cannot be shifted */
	assert_int_equal(sk_sig_verify(sk_key_public(k), "skiff-test-v", msg, strlen(msg), sig,
				       &err), SK_ESIGNATURE);
	/* tampered message */
	char bad[sizeof(msg)];
	memcpy(bad, msg, sizeof(msg));
	bad[10] ^= 1;
	assert_int_equal(sk_sig_verify(sk_key_public(k), "skiff-test-v1", bad, strlen(bad), sig,
				       &err), SK_ESIGNATURE);
	/* tampered signature, wrong key */
	sig[5] ^= 0x40;
	assert_int_equal(sk_sig_verify(sk_key_public(k), "skiff-test-v1", msg, strlen(msg), sig,
				       &err), SK_ESIGNATURE);
	sig[5] ^= 0x40;
	assert_int_equal(sk_sig_verify(sk_key_public(other), "skiff-test-v1", msg, strlen(msg),
				       sig, &err), SK_ESIGNATURE);
	/* the signature is over DOMAIN "\0" MESSAGE */
	char buf[64];
	size_t dl = strlen("skiff-test-v1");
	memcpy(buf, "skiff-test-v1", dl + 1);
	memcpy(buf + dl + 1, msg, strlen(msg));
	assert_int_equal(crypto_sign_verify_detached(sig, (unsigned char *)buf,
						     dl + 1 + strlen(msg), sk_key_public(k)), 0);
	/* empty message */
	assert_int_equal(sk_key_sign(k, "d", "", 0, sig), 0);
	assert_int_equal(sk_sig_verify(sk_key_public(k), "d", "", 0, sig, &err), 0);
	sk_key_free(k);
	sk_key_free(other);
}

static void test_parse_public_and_list(void **state)
{
	struct fx *fx = *state;
	struct sk_key *k = NULL, *j = NULL;
	struct sk_err err;
	assert_int_equal(sk_key_generate(&k, "zed", &err), 0);
	assert_int_equal(sk_key_generate(&j, "amy", &err), 0);
	unsigned char pub[32];
	char *ps = sk_key_public_string(k);
	assert_int_equal(sk_key_parse_public(ps, pub, &err), 0);
	assert_memory_equal(pub, sk_key_public(k), 32);
	memset(pub, 0, 32);
	assert_int_equal(sk_key_parse_public(ps + 14, pub, &err), 0);
	assert_memory_equal(pub, sk_key_public(k), 32);
	char *pubfile = file_in(fx->keys, "zed.pub");
	memset(pub, 0, 32);
	assert_int_equal(sk_key_parse_public(pubfile, pub, &err), 0);
	assert_memory_equal(pub, sk_key_public(k), 32);
	assert_int_equal(sk_key_parse_public("skiff-ed25519 abcd", pub, &err), SK_EINVAL);
	ps[20] = 'G';
	assert_int_equal(sk_key_parse_public(ps, pub, &err), SK_EINVAL);
	free(ps);
	free(pubfile);

	char id[SK_KEYID_HEXSZ + 1];
	sk_key_id_of(sk_key_public(k), id);
	assert_string_equal(id, sk_key_id(k));

	json_t *list = NULL;
	assert_int_equal(sk_key_list(&list, &err), 0);
	assert_int_equal(json_array_size(list), 2);
	json_t *first = json_array_get(list, 0), *second = json_array_get(list, 1);
	assert_string_equal(json_string_value(json_object_get(first, "name")), "amy");
	assert_string_equal(json_string_value(json_object_get(second, "name")), "zed");
	assert_string_equal(json_string_value(json_object_get(second, "id")), sk_key_id(k));
	assert_non_null(json_object_get(second, "public"));
	assert_non_null(json_object_get(second, "path"));
	json_decref(list);
	sk_key_free(k);
	sk_key_free(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_key_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_generate_and_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_never_overwrites, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_refuses_readable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_public_and_list, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
