/*
 * Domain-separated ed25519 signatures: the signed message is DOMAIN, one
 * NUL byte, then MESSAGE, so a signature made for one kind of document
 * (a ref record, a release signature) never verifies as another. Signing
 * needs a private key and lives in refs/keys.c; verifying needs only the
 * public key and lives here, so objects/ can check documents too.
 */
#ifndef SK_SIG_H
#define SK_SIG_H

#include <stddef.h>

#include "common/err.h"

/* DOMAIN NUL MESSAGE (malloc'd; NULL on out of memory). */
unsigned char *sk_sig_message(const char *domain, const void *msg, size_t len, size_t *n);
/* 0, or SK_ESIGNATURE when sig is not pub's signature of msg in domain. */
int sk_sig_verify(const unsigned char pub[32], const char *domain, const void *msg, size_t len,
		  const unsigned char sig[64], struct sk_err *err);

#endif
