/*
 * Identities: ed25519 keys (libsodium). Files live in
 * $XDG_CONFIG_HOME/skiff/keys (default ~/.config/skiff/keys):
 *   NAME.key  "skiff-secret-key-v1 <64 hex: 32-byte seed>\n", mode 0600
 *   NAME.pub  "skiff-ed25519 <64 hex: public key>\n"
 * A key id is the first 16 hex digits of SHA-256(public key). A private key
 * readable by group or others is refused, as ssh does. Signatures are
 * domain-separated: the signed message is DOMAIN "\0" MESSAGE.
 */
#ifndef SK_KEYS_H
#define SK_KEYS_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"
#include "objects/refrecord.h"
#include "objects/sig.h" /* sk_sig_verify */

#define SK_KEY_NAME_MAX 64

struct sk_key; /* opaque; secret bytes wiped on free */

/* Key names: 1..64 of [A-Za-z0-9._-], not starting with '.' or '-'. */
int sk_key_name_check(const char *name, struct sk_err *err);
/* The keys directory (malloc'd). */
char *sk_key_dir(void);

/* Creates NAME.key (0600, exclusive: never overwrites) and NAME.pub. */
int sk_key_generate(struct sk_key **out, const char *name, struct sk_err *err);
/* Loads a private key by name (in the keys dir) or by path (contains '/'
 * or ends in .key). Refuses group/other-readable files (SK_EKEYPERM). */
int sk_key_load(struct sk_key **out, const char *name_or_path, struct sk_err *err);
void sk_key_free(struct sk_key *k);

const char *sk_key_name(const struct sk_key *k);
const char *sk_key_id(const struct sk_key *k);
const unsigned char *sk_key_public(const struct sk_key *k);
/* "skiff-ed25519 <hex>" (malloc'd). */
char *sk_key_public_string(const struct sk_key *k);
char *sk_key_path(const struct sk_key *k);

/* Lists keys in the keys dir: array of {name, id, public, path}. */
int sk_key_list(json_t **out, struct sk_err *err);

/* Parses "skiff-ed25519 <hex>", a bare 64-hex public key, or the path of a
 * .pub file. */
int sk_key_parse_public(const char *s, unsigned char pub[32], struct sk_err *err);
void sk_key_id_of(const unsigned char pub[32], char out[SK_KEYID_HEXSZ + 1]);

int sk_key_sign(const struct sk_key *k, const char *domain, const void *msg, size_t len,
		unsigned char sig[64]);

#endif
