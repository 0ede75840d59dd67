/*
 * Canonical JSON: the one byte form of a document, so that one document
 * has exactly one object id. It is exactly what jansson 2.14 prints with
 * JSON_COMPACT|JSON_SORT_KEYS for a tree that passes the checks below
 * (verified by experiment and pinned by tests/unit/test_cjson.c):
 *
 *  - Top level: an object carrying "v":1; at most SK_CJSON_MAX bytes; no
 *    byte order mark, no whitespace before or after, no trailing newline.
 *  - Structure: no whitespace anywhere outside strings; separators ',' and
 *    ':'; arrays in their given order; at most SK_CJSON_MAX_DEPTH nested
 *    arrays/objects (the top-level object counts as 1).
 *  - Object keys: unique, sorted bytewise by their UTF-8 bytes as unsigned
 *    values, a key that is a prefix of another first ("a" < "ab" < "b" <
 *    "~" < "é").
 *  - Strings (keys too): valid UTF-8 (no overlong forms, no surrogates,
 *    nothing above U+10FFFF); U+0000 is not allowed at all. Escaped are
 *    only '"' as \" and '\' as \\, U+0008 \b, U+0009 \t, U+000A \n,
 *    U+000C \f, U+000D \r, and the other U+0001..U+001F as \u00XX with
 *    UPPERCASE hex (\u001B, not \u001b). Everything else is raw UTF-8:
 *    '/' is not escaped, DEL (0x7F), U+2028/U+2029, U+FEFF and all
 *    non-ASCII characters appear as their raw bytes, so "\u00e9", "\/"
 *    and surrogate-pair escapes are all non-canonical.
 *  - Numbers: integers in the int64 range in shortest decimal form: no
 *    '+', no leading zeros, no "-0", no fraction, no exponent ("1E3" and
 *    "1.0" are floats and rejected). Literals true, false, null.
 *
 * Bytes that are not exactly the canonical form of what they parse to are
 * rejected, with a message naming the kind of problem and the byte.
 */
#ifndef SK_CJSON_H
#define SK_CJSON_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"

/* Largest canonical JSON payload accepted anywhere (16 MiB). */
#define SK_CJSON_MAX (16u << 20)
/* Deepest nesting of arrays and objects accepted (top level = 1). */
#define SK_CJSON_MAX_DEPTH 64

/* Serialises v canonically (sorted keys, compact). Fails with SK_EINVAL on
 * reals, NUL in keys or strings, invalid UTF-8, nesting deeper than
 * SK_CJSON_MAX_DEPTH or a non-object top level, and SK_ETOOBIG beyond
 * SK_CJSON_MAX bytes. *out is malloc'd and NUL-terminated. Does not
 * require "v". */
int sk_cjson_dump(const json_t *v, char **out, size_t *len, struct sk_err *err);

/* Parses and checks bytes: valid UTF-8, no duplicate keys, no floats, the
 * canonical form byte for byte, a top-level object with "v": 1. On success
 * *out is a new reference. SK_EINVAL with a precise message otherwise
 * (SK_ETOOBIG above SK_CJSON_MAX bytes). */
int sk_cjson_parse(const void *buf, size_t len, json_t **out, struct sk_err *err);

/* Parses human-written JSON (any whitespace, key order or escaping, still
 * no duplicates, floats, NUL or invalid UTF-8; still a top-level object
 * with "v": 1, so the result always passes sk_cjson_parse) and returns its
 * canonical bytes (*out malloc'd, NUL-terminated).
 * Used by hash-object to accept a pretty-printed document only when asked
 * (it rejects by default). */
int sk_cjson_canonicalize(const void *buf, size_t len, char **out, size_t *outlen,
			  struct sk_err *err);

/* Copies len bytes of s into buf (n bytes) for an error message: printable
 * ASCII stays, every other byte becomes \xNN, and a cut is marked "...".
 * Messages that quote untrusted input thus stay valid UTF-8 (they end up
 * in JSON error documents) and safe for a terminal. Returns buf. */
const char *sk_cjson_quote(const char *s, size_t len, char *buf, size_t n);

/* Small accessors that fail with SK_EINVAL naming the field. */
int sk_cjson_get_str(const json_t *obj, const char *key, const char **out, struct sk_err *err);
/* Like get_str but JSON null gives *out = NULL. */
int sk_cjson_get_str_or_null(const json_t *obj, const char *key, const char **out,
			     struct sk_err *err);
int sk_cjson_get_int(const json_t *obj, const char *key, long long *out, struct sk_err *err);
/* Reads key as exactly n bytes in lowercase hex (or, when nullable, JSON
 * null: *present = 0). what names the document in messages. */
int sk_cjson_get_hex(const json_t *obj, const char *key, int nullable, unsigned char *out,
		     size_t n, int *present, const char *what, struct sk_err *err);
/* Fails when obj has a key outside the NULL-terminated allowed list. */
int sk_cjson_only_keys(const json_t *obj, const char *const *allowed, const char *what,
		       struct sk_err *err);

#endif
