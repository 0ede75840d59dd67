/*
 * SHA-256 through libcrypto loaded on demand, or libsodium (sha256.h).
 * The entries carry <openssl/evp.h>'s own prototypes; nothing of
 * libcrypto is linked.
 */
#include "common/sha256.h"

#include <dlfcn.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define SK_CRYPTO_SONAME "libcrypto.so.3"

#define SK_CRYPTO_FUNCS(X)                                                                  \
	X(EVP_MD_CTX_new) X(EVP_MD_CTX_free) X(EVP_sha256) X(EVP_DigestInit_ex)             \
	X(EVP_DigestUpdate) X(EVP_DigestFinal_ex)

static struct {
#define SK_CRYPTO_MEMBER(name) __typeof__(name) *name;
	SK_CRYPTO_FUNCS(SK_CRYPTO_MEMBER)
#undef SK_CRYPTO_MEMBER
} lib;
static int have_lib;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void)
{
	void *h = dlopen(SK_CRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return;
	int ok = 1;
	/* dlsym returns void *; memcpy converts it to the function pointer. */
#define SK_CRYPTO_LOAD(name)                                                              \
	{                                                                                 \
		void *sym = dlsym(h, #name);                                              \
		ok &= sym != NULL;                                                        \
		memcpy(&lib.name, &sym, sizeof(sym));                                     \
	}
	SK_CRYPTO_FUNCS(SK_CRYPTO_LOAD)
#undef SK_CRYPTO_LOAD
	have_lib = ok;
}

int sk_sha256_fast(void)
{
	pthread_once(&load_once, load);
	return have_lib;
}

struct sk_sha256 {
	EVP_MD_CTX *ctx; /* NULL: libsodium's state below */
	crypto_hash_sha256_state small;
};

struct sk_sha256 *sk_sha256_new(void)
{
	struct sk_sha256 *s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	if (sk_sha256_fast() && !(s->ctx = lib.EVP_MD_CTX_new()))
		abort();
	sk_sha256_init(s);
	return s;
}

void sk_sha256_init(struct sk_sha256 *s)
{
	if (!s->ctx)
		crypto_hash_sha256_init(&s->small);
	else if (lib.EVP_DigestInit_ex(s->ctx, lib.EVP_sha256(), NULL) != 1)
		abort();
}

void sk_sha256_update(struct sk_sha256 *s, const void *data, size_t len)
{
	if (len == 0)
		return;
	if (!s->ctx)
		crypto_hash_sha256_update(&s->small, data, len);
	else if (lib.EVP_DigestUpdate(s->ctx, data, len) != 1)
		abort();
}

void sk_sha256_final(struct sk_sha256 *s, unsigned char out[32])
{
	unsigned int n = 0;
	if (!s->ctx)
		crypto_hash_sha256_final(&s->small, out);
	else if (lib.EVP_DigestFinal_ex(s->ctx, out, &n) != 1 || n != 32)
		abort();
}

void sk_sha256_free(struct sk_sha256 *s)
{
	if (!s)
		return;
	if (s->ctx)
		lib.EVP_MD_CTX_free(s->ctx);
	free(s);
}
