/*
 * A semantic diff of two JSON documents: the list of edits that turns a
 * into b, each {"path","op","old","new"}:
 *
 *   path  an RFC 6901 JSON pointer ("" is the whole document; in a key,
 *         '~' is written "~0" and '/' "~1"; array elements by index)
 *   op    "add" (old is null), "remove" (new is null) or "replace"
 *   old   the value at path in a (null for add)
 *   new   the value at path in b (null for remove)
 *
 * Objects are compared key by key (keys in bytewise order), arrays element
 * by element by index: common indices recursively, then b's extra tail
 * elements as adds in ascending order, or a's extra tail elements as
 * removes in descending order, so that the list applied in order (as a
 * JSON Patch would be) never refers to an index that has moved. Anything
 * else that differs, including a change of type, is one replace.
 * Identical documents give no changes.
 */
#ifndef SK_JSONDIFF_H
#define SK_JSONDIFF_H

#include <jansson.h>

#include "common/err.h"

/* Deepest nesting compared (a bound on recursion; canonical documents
 * are at most SK_CJSON_MAX_DEPTH deep). */
#define SK_JSONDIFF_MAX_DEPTH 1024

/* Appends the changes from a to b to the array changes. The "old" and
 * "new" values are references to the values inside a and b, not copies.
 * SK_ENOMEM, or SK_EINVAL when nesting exceeds SK_JSONDIFF_MAX_DEPTH;
 * changes may then hold part of the list. */
int sk_jsondiff(const json_t *a, const json_t *b, json_t *changes, struct sk_err *err);

#endif
