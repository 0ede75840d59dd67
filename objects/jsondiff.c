/*
 * Semantic JSON diff (see jsondiff.h). One walk over both trees with the
 * current JSON pointer kept in a growing buffer: a key or index is
 * appended on the way down and cut off on the way back, so each change
 * costs one string copy of its path.
 */
#include "objects/jsondiff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct walk {
	json_t *changes;
	char *path;
	size_t len, cap;
	struct sk_err *err;
};

struct key {
	const char *s;
	size_t len;
};

static int oom(struct walk *w)
{
	return sk_err_set(w->err, SK_ENOMEM, NULL, "out of memory while comparing documents");
}

static int put(struct walk *w, const char *s, size_t n)
{
	if (w->len + n + 1 > w->cap) {
		size_t cap = w->cap ? w->cap : 64;
		while (cap < w->len + n + 1)
			cap *= 2;
		char *p = realloc(w->path, cap);
		if (!p)
			return oom(w);
		w->path = p;
		w->cap = cap;
	}
	memcpy(w->path + w->len, s, n);
	w->len += n;
	return 0;
}

/* "/" + the key as one reference token: '~' -> "~0", '/' -> "~1". */
static int push_key(struct walk *w, const struct key *k)
{
	int rc = put(w, "/", 1);
	size_t run = 0;
	for (size_t i = 0; rc == 0 && i < k->len; i++) {
		if (k->s[i] != '~' && k->s[i] != '/')
			continue;
		rc = put(w, k->s + run, i - run);
		if (rc == 0)
			rc = put(w, k->s[i] == '~' ? "~0" : "~1", 2);
		run = i + 1;
	}
	return rc ? rc : put(w, k->s + run, k->len - run);
}

static int push_index(struct walk *w, size_t i)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "/%zu", i);
	return put(w, buf, (size_t)n);
}

static int emit(struct walk *w, const char *op, const json_t *old, const json_t *new)
{
	json_t *c = json_pack("{s:s%, s:s, s:O, s:O}", "path", w->path ? w->path : "", w->len,
			      "op", op, "old", old ? old : json_null(), "new",
			      new ? new : json_null());
	if (!c || json_array_append_new(w->changes, c) != 0)
		return oom(w);
	return 0;
}

static int key_cmp(const void *x, const void *y)
{
	const struct key *a = x, *b = y;
	int c = memcmp(a->s, b->s, a->len < b->len ? a->len : b->len);
	if (c)
		return c;
	return (a->len > b->len) - (a->len < b->len);
}

/* The keys of o in bytewise order (*out malloc'd; NULL when o is empty). */
static int sorted_keys(struct walk *w, const json_t *o, struct key **out, size_t *n)
{
	const char *k;
	size_t klen, i = 0;
	json_t *v;
	*n = json_object_size(o);
	*out = NULL;
	if (*n == 0)
		return 0;
	if (!(*out = malloc(*n * sizeof(**out))))
		return oom(w);
	json_object_keylen_foreach((json_t *)o, k, klen, v) {
		(*out)[i].s = k;
		(*out)[i++].len = klen;
	}
	qsort(*out, *n, sizeof(**out), key_cmp);
	return 0;
}

static int diff_value(struct walk *w, const json_t *a, const json_t *b, int depth);

/* Recurses into (or adds/removes) one key, restoring the path after. */
static int diff_member(struct walk *w, const struct key *k, const json_t *a, const json_t *b,
		       int depth)
{
	size_t keep = w->len;
	int rc = push_key(w, k);
	if (rc == 0)
		rc = !a ? emit(w, "add", NULL, b)
			: !b ? emit(w, "remove", a, NULL) : diff_value(w, a, b, depth + 1);
	w->len = keep;
	return rc;
}

static int diff_object(struct walk *w, const json_t *a, const json_t *b, int depth)
{
	struct key *ka = NULL, *kb = NULL;
	size_t na = 0, nb = 0, i = 0, j = 0;
	int rc = sorted_keys(w, a, &ka, &na);
	if (rc == 0)
		rc = sorted_keys(w, b, &kb, &nb);
	while (rc == 0 && (i < na || j < nb)) {
		int c = i == na ? 1 : j == nb ? -1 : key_cmp(&ka[i], &kb[j]);
		if (c < 0) {
			rc = diff_member(w, &ka[i], json_object_getn(a, ka[i].s, ka[i].len), NULL,
					 depth);
			i++;
		} else if (c > 0) {
			rc = diff_member(w, &kb[j], NULL, json_object_getn(b, kb[j].s, kb[j].len),
					 depth);
			j++;
		} else {
			rc = diff_member(w, &ka[i], json_object_getn(a, ka[i].s, ka[i].len),
					 json_object_getn(b, kb[j].s, kb[j].len), depth);
			i++;
			j++;
		}
	}
	free(ka);
	free(kb);
	return rc;
}

static int diff_element(struct walk *w, size_t i, const json_t *a, const json_t *b, int depth)
{
	size_t keep = w->len;
	int rc = push_index(w, i);
	if (rc == 0)
		rc = !a ? emit(w, "add", NULL, b)
			: !b ? emit(w, "remove", a, NULL) : diff_value(w, a, b, depth + 1);
	w->len = keep;
	return rc;
}

static int diff_array(struct walk *w, const json_t *a, const json_t *b, int depth)
{
	size_t na = json_array_size(a), nb = json_array_size(b);
	size_t common = na < nb ? na : nb;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < common; i++)
		rc = diff_element(w, i, json_array_get(a, i), json_array_get(b, i), depth);
	for (size_t i = common; rc == 0 && i < nb; i++)
		rc = diff_element(w, i, NULL, json_array_get(b, i), depth);
	for (size_t i = na; rc == 0 && i > common; i--)
		rc = diff_element(w, i - 1, json_array_get(a, i - 1), NULL, depth);
	return rc;
}

static int same_scalar(const json_t *a, const json_t *b)
{
	if (json_is_string(a))
		return json_string_length(a) == json_string_length(b) &&
		       memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
	if (json_is_integer(a))
		return json_integer_value(a) == json_integer_value(b);
	return json_equal((json_t *)a, (json_t *)b); /* reals, true, false, null */
}

static int diff_value(struct walk *w, const json_t *a, const json_t *b, int depth)
{
	if (depth > SK_JSONDIFF_MAX_DEPTH)
		return sk_err_set(w->err, SK_EINVAL, NULL,
				  "documents nest deeper than %d levels", SK_JSONDIFF_MAX_DEPTH);
	if (a == b)
		return 0;
	if (json_typeof(a) != json_typeof(b))
		return emit(w, "replace", a, b);
	if (json_is_object(a))
		return diff_object(w, a, b, depth);
	if (json_is_array(a))
		return diff_array(w, a, b, depth);
	return same_scalar(a, b) ? 0 : emit(w, "replace", a, b);
}

int sk_jsondiff(const json_t *a, const json_t *b, json_t *changes, struct sk_err *err)
{
	struct walk w = { changes, NULL, 0, 0, err };
	if (!a || !b || !json_is_array(changes))
		return sk_err_set(err, SK_EINVAL, NULL, "sk_jsondiff needs two documents and an array");
	int rc = diff_value(&w, a, b, 1);
	free(w.path);
	return rc;
}
