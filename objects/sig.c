/*
 * Verifying domain-separated ed25519 signatures (see sig.h).
 */
#include "objects/sig.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

unsigned char *sk_sig_message(const char *domain, const void *msg, size_t len, size_t *n)
{
	size_t dlen = strlen(domain);
	unsigned char *buf = malloc(dlen + 1 + len);
	if (!buf)
		return NULL;
	memcpy(buf, domain, dlen);
	buf[dlen] = '\0';
	if (len)
		memcpy(buf + dlen + 1, msg, len);
	*n = dlen + 1 + len;
	return buf;
}

int sk_sig_verify(const unsigned char pub[32], const char *domain, const void *msg, size_t len,
		  const unsigned char sig[64], struct sk_err *err)
{
	if (sodium_init() < 0)
		return sk_err_set(err, SK_EFAIL, NULL, "libsodium failed to initialise");
	size_t n;
	unsigned char *buf = sk_sig_message(domain, msg, len, &n);
	if (!buf)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	int bad = crypto_sign_verify_detached(sig, buf, n, pub);
	free(buf);
	if (bad)
		return sk_err_set(err, SK_ESIGNATURE, NULL, "bad %s signature", domain);
	return 0;
}
