/*
 * Canonical JSON (see cjson.h for the exact byte form). The canonical form
 * is defined as "what jansson 2.14 prints with JSON_COMPACT|JSON_SORT_KEYS"
 * for a document that passed our own checks (integers only, no NUL, depth
 * limit). Parsing therefore loads the bytes, checks the tree, prints it
 * again and demands the same bytes back; anything jansson would print
 * differently (whitespace, key order, escapes, "-0") is rejected. The
 * byte-equality test is the invariant; the tree walk exists to give
 * precise messages and to reject what jansson would accept but we do not.
 */
#include "objects/cjson.h"
#include "objects/oid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS)
#define PATH_MAX_LEN 200

static const char *const canon_hint =
	"canonical JSON is compact, keys sorted bytewise, integers only, with \"v\":1; "
	"use `skiff hash-object --canonicalize` to convert a document";

/* What the tree walk found; the first key-order problem is remembered
 * rather than reported at once, so it can be paired with a byte offset. */
struct walk {
	int check_order;
	int order_bad;
	char order_path[PATH_MAX_LEN + 1];
	char order_prev[64], order_key[64];
	char path[PATH_MAX_LEN + 1];
	size_t pathlen;
};

static size_t path_push(struct walk *w, const char *seg, size_t seglen)
{
	size_t old = w->pathlen;
	if (w->pathlen + 1 + seglen > PATH_MAX_LEN)
		return old; /* path too long for messages: keep the prefix */
	w->path[w->pathlen++] = '/';
	memcpy(w->path + w->pathlen, seg, seglen);
	w->pathlen += seglen;
	w->path[w->pathlen] = '\0';
	return old;
}

static void path_pop(struct walk *w, size_t old)
{
	w->pathlen = old;
	w->path[old] = '\0';
}

static const char *path_or_root(const struct walk *w)
{
	return w->pathlen ? w->path : "/";
}

const char *sk_cjson_quote(const char *s, size_t len, char *buf, size_t n)
{
	size_t o = 0, i = 0;
	for (; i < len && o + 5 < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f)
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
	}
	if (i < len && o + 4 <= n) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/* Bytewise order with a prefix first: the order JSON_SORT_KEYS uses. */
static int key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int walk_value(struct walk *w, const json_t *v, int depth, struct sk_err *err);

static int walk_object(struct walk *w, const json_t *v, int depth, struct sk_err *err)
{
	const char *prev = NULL;
	size_t prevlen = 0;
	for (void *it = json_object_iter((json_t *)v); it;
	     it = json_object_iter_next((json_t *)v, it)) {
		const char *key = json_object_iter_key(it);
		size_t klen = json_object_iter_key_len(it);
		if (strlen(key) != klen)
			return sk_err_set(err, SK_EINVAL, canon_hint,
					  "NUL (\\u0000) in an object key at %s", path_or_root(w));
		/* jansson keeps insertion order, i.e. the order in the input. */
		if (w->check_order && !w->order_bad && prev &&
		    key_cmp(prev, prevlen, key, klen) >= 0) {
			w->order_bad = 1;
			snprintf(w->order_path, sizeof(w->order_path), "%s", path_or_root(w));
			sk_cjson_quote(prev, prevlen, w->order_prev, sizeof(w->order_prev));
			sk_cjson_quote(key, klen, w->order_key, sizeof(w->order_key));
		}
		prev = key;
		prevlen = klen;
		char seg[64];
		sk_cjson_quote(key, klen, seg, sizeof(seg));
		size_t old = path_push(w, seg, strlen(seg));
		int rc = walk_value(w, json_object_iter_value(it), depth + 1, err);
		path_pop(w, old);
		if (rc)
			return rc;
	}
	return 0;
}

static int walk_array(struct walk *w, const json_t *v, int depth, struct sk_err *err)
{
	for (size_t i = 0; i < json_array_size(v); i++) {
		char idx[24];
		int n = snprintf(idx, sizeof(idx), "%zu", i);
		size_t old = path_push(w, idx, (size_t)n);
		int rc = walk_value(w, json_array_get(v, i), depth + 1, err);
		path_pop(w, old);
		if (rc)
			return rc;
	}
	return 0;
}

static int walk_value(struct walk *w, const json_t *v, int depth, struct sk_err *err)
{
	if ((json_is_object(v) || json_is_array(v)) && depth > SK_CJSON_MAX_DEPTH)
		return sk_err_set(err, SK_EINVAL, canon_hint,
				  "nesting too deep at %s (more than %d levels)", path_or_root(w),
				  SK_CJSON_MAX_DEPTH);
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return walk_object(w, v, depth, err);
	case JSON_ARRAY:
		return walk_array(w, v, depth, err);
	case JSON_REAL:
		return sk_err_set(err, SK_EINVAL, canon_hint,
				  "float at %s: only integers are allowed (store a decimal "
				  "as a string or scaled integer)", path_or_root(w));
	case JSON_STRING:
		if (strlen(json_string_value(v)) != json_string_length(v))
			return sk_err_set(err, SK_EINVAL, canon_hint,
					  "NUL (\\u0000) in a string at %s", path_or_root(w));
		return 0;
	default:
		return 0;
	}
}

static int check_tree(const json_t *v, int check_order, struct walk *w, struct sk_err *err)
{
	memset(w, 0, sizeof(*w));
	w->check_order = check_order;
	if (!json_is_object(v))
		return sk_err_set(err, SK_EINVAL, canon_hint,
				  "the top level of a document must be an object");
	return walk_value(w, v, 1, err);
}

static int check_version(const json_t *v, struct sk_err *err)
{
	const json_t *ver = json_object_get(v, "v");
	if (!ver)
		return sk_err_set(err, SK_EINVAL, canon_hint,
				  "missing \"v\": every document carries \"v\":1");
	if (!json_is_integer(ver) || json_integer_value(ver) != 1)
		return sk_err_set(err, SK_EINVAL,
				  "this build reads format version 1 only; upgrade skiff if the "
				  "document is newer",
				  "\"v\" must be the integer 1");
	return 0;
}

/* --- dumping ------------------------------------------------------- */

struct growbuf {
	char *p;
	size_t len, cap;
	int too_big;
};

static int grow_cb(const char *buf, size_t size, void *data)
{
	struct growbuf *g = data;
	if (g->len + size > SK_CJSON_MAX) {
		g->too_big = 1;
		return -1;
	}
	if (g->len + size + 1 > g->cap) {
		size_t cap = g->cap ? g->cap : 256;
		while (cap < g->len + size + 1)
			cap *= 2;
		char *np = realloc(g->p, cap);
		if (!np)
			return -1;
		g->p = np;
		g->cap = cap;
	}
	memcpy(g->p + g->len, buf, size);
	g->len += size;
	g->p[g->len] = '\0';
	return 0;
}

/* Prints an already checked tree. */
static int dump_checked(const json_t *v, char **out, size_t *len, struct sk_err *err)
{
	struct growbuf g = { 0 };
	if (json_dump_callback(v, grow_cb, &g, DUMP_FLAGS) != 0 || !g.p) {
		free(g.p);
		if (g.too_big)
			return sk_err_set(err, SK_ETOOBIG, NULL,
					  "canonical document larger than %u bytes",
					  (unsigned)SK_CJSON_MAX);
		return sk_err_set(err, SK_EINVAL, NULL,
				  "cannot serialise document (invalid UTF-8 in a string?)");
	}
	*out = g.p;
	if (len)
		*len = g.len;
	return 0;
}

int sk_cjson_dump(const json_t *v, char **out, size_t *len, struct sk_err *err)
{
	struct walk w;
	int rc = check_tree(v, 0, &w, err);
	if (rc)
		return rc;
	return dump_checked(v, out, len, err);
}

/* --- parsing ------------------------------------------------------- */

static int load_error(const json_error_t *je, struct sk_err *err)
{
	/* jansson quotes input bytes in its text; keep messages printable. */
	json_error_t copy = *je, *e = &copy;
	sk_cjson_quote(je->text, strnlen(je->text, sizeof(je->text)), copy.text,
		       sizeof(copy.text) - 1);
	int pos = je->position;
	switch (json_error_code(je)) {
	case json_error_invalid_utf8:
		return sk_err_set(err, SK_EINVAL, "documents must be valid UTF-8",
				  "invalid UTF-8 near byte %d", pos);
	case json_error_duplicate_key:
		return sk_err_set(err, SK_EINVAL, canon_hint, "duplicate key at byte %d (%s)",
				  pos, e->text);
	case json_error_null_character:
	case json_error_null_byte_in_key:
		return sk_err_set(err, SK_EINVAL, canon_hint,
				  "NUL (\\u0000) in a string or key at byte %d", pos);
	case json_error_numeric_overflow:
		return sk_err_set(err, SK_EINVAL, canon_hint,
				  "number out of range at byte %d: integers must fit in 64 bits "
				  "(%s)", pos, e->text);
	case json_error_stack_overflow:
		return sk_err_set(err, SK_EINVAL, canon_hint,
				  "nesting too deep (more than %d levels)", SK_CJSON_MAX_DEPTH);
	case json_error_end_of_input_expected:
		return sk_err_set(err, SK_EINVAL, canon_hint,
				  "trailing bytes after the document at byte %d", pos);
	case json_error_premature_end_of_input:
		return sk_err_set(err, SK_EINVAL, NULL, "truncated document (%s)", e->text);
	case json_error_out_of_memory:
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory parsing JSON");
	default:
		return sk_err_set(err, SK_EINVAL, canon_hint, "invalid JSON at byte %d: %s", pos,
				  e->text);
	}
}

static int precheck(const unsigned char *b, size_t len, struct sk_err *err)
{
	if (len == 0)
		return sk_err_set(err, SK_EINVAL, canon_hint, "empty document");
	if (len > SK_CJSON_MAX)
		return sk_err_set(err, SK_ETOOBIG, NULL,
				  "document of %zu bytes is larger than the %u-byte limit", len,
				  (unsigned)SK_CJSON_MAX);
	if (len >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf)
		return sk_err_set(err, SK_EINVAL, canon_hint, "byte order mark (BOM) not allowed");
	return 0;
}

static int load(const void *buf, size_t len, json_t **out, struct sk_err *err)
{
	int rc = precheck(buf, len, err);
	if (rc)
		return rc;
	json_error_t e;
	json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
	if (!v)
		return load_error(&e, err);
	*out = v;
	return 0;
}

static int is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* True when byte n of s lies inside a "\uXXXX" escape or starts one. */
static int in_escape(const char *s, size_t slen, size_t n)
{
	if (n < slen && s[n] == '\\')
		return 1;
	for (size_t back = 1; back <= 5 && back <= n; back++)
		if (s[n - back] == '\\')
			return 1;
	return 0;
}

/* Explains why in differs from its canonical form canon. */
static int explain_mismatch(const char *in, size_t inlen, const char *canon, size_t clen,
			    const struct walk *w, struct sk_err *err)
{
	size_t n = 0;
	while (n < inlen && n < clen && in[n] == canon[n])
		n++;
	int ic = n < inlen ? (unsigned char)in[n] : -1;
	int cc = n < clen ? (unsigned char)canon[n] : -1;
	if (w->order_bad)
		return sk_err_set(err, SK_EINVAL, canon_hint,
				  "not canonical: key order at byte %zu (\"%s\" after \"%s\" in %s)",
				  n, w->order_key, w->order_prev, w->order_path);
	if (is_ws(ic))
		return sk_err_set(err, SK_EINVAL, canon_hint,
				  "not canonical: whitespace at byte %zu", n);
	if (in_escape(in, inlen, n) || in_escape(canon, clen, n) || (is_hex(ic) && is_hex(cc)))
		return sk_err_set(err, SK_EINVAL, canon_hint,
				  "not canonical: string escaping at byte %zu (escape only '\"', "
				  "'\\\\' and control characters, \\u00XX in uppercase hex)", n);
	if (ic == '-' || (ic >= '0' && ic <= '9'))
		return sk_err_set(err, SK_EINVAL, canon_hint,
				  "not canonical: number form at byte %zu (no \"-0\", no leading "
				  "zeros)", n);
	return sk_err_set(err, SK_EINVAL, canon_hint, "not canonical at byte %zu", n);
}

/* Parses buf and checks the tree (key order only when check_order) and
 * the version; w receives what the walk found. *out is set on success. */
static int load_checked(const void *buf, size_t len, int check_order, json_t **out,
			struct walk *w, struct sk_err *err)
{
	json_t *v = NULL;
	int rc = load(buf, len, &v, err);
	if (rc)
		return rc;
	rc = check_tree(v, check_order, w, err);
	if (!rc)
		rc = check_version(v, err);
	if (rc) {
		json_decref(v);
		return rc;
	}
	*out = v;
	return 0;
}

int sk_cjson_parse(const void *buf, size_t len, json_t **out, struct sk_err *err)
{
	json_t *v = NULL;
	struct walk w;
	int rc = load_checked(buf, len, 1, &v, &w, err);
	if (rc)
		return rc;
	char *canon = NULL;
	size_t clen = 0;
	rc = dump_checked(v, &canon, &clen, err);
	if (!rc && (clen != len || memcmp(canon, buf, len) != 0))
		rc = explain_mismatch(buf, len, canon, clen, &w, err);
	free(canon);
	if (rc) {
		json_decref(v);
		return rc;
	}
	*out = v;
	return 0;
}

int sk_cjson_canonicalize(const void *buf, size_t len, char **out, size_t *outlen,
			  struct sk_err *err)
{
	json_t *v = NULL;
	struct walk w;
	int rc = load_checked(buf, len, 0, &v, &w, err);
	if (rc)
		return rc;
	rc = dump_checked(v, out, outlen, err);
	json_decref(v);
	return rc;
}

/* --- accessors ----------------------------------------------------- */

static int get_field(const json_t *obj, const char *key, const json_t **out, struct sk_err *err)
{
	if (!json_is_object(obj))
		return sk_err_set(err, SK_EINVAL, NULL, "expected an object holding \"%s\"", key);
	*out = json_object_get(obj, key);
	if (!*out)
		return sk_err_set(err, SK_EINVAL, NULL, "missing \"%s\"", key);
	return 0;
}

int sk_cjson_get_str(const json_t *obj, const char *key, const char **out, struct sk_err *err)
{
	const json_t *v;
	int rc = get_field(obj, key, &v, err);
	if (rc)
		return rc;
	if (!json_is_string(v))
		return sk_err_set(err, SK_EINVAL, NULL, "\"%s\" must be a string", key);
	*out = json_string_value(v);
	return 0;
}

int sk_cjson_get_str_or_null(const json_t *obj, const char *key, const char **out,
			     struct sk_err *err)
{
	const json_t *v;
	int rc = get_field(obj, key, &v, err);
	if (rc)
		return rc;
	if (json_is_null(v)) {
		*out = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return sk_err_set(err, SK_EINVAL, NULL, "\"%s\" must be a string or null", key);
	*out = json_string_value(v);
	return 0;
}

int sk_cjson_get_int(const json_t *obj, const char *key, long long *out, struct sk_err *err)
{
	const json_t *v;
	int rc = get_field(obj, key, &v, err);
	if (rc)
		return rc;
	if (!json_is_integer(v))
		return sk_err_set(err, SK_EINVAL, NULL, "\"%s\" must be an integer", key);
	*out = json_integer_value(v);
	return 0;
}

int sk_cjson_get_hex(const json_t *obj, const char *key, int nullable, unsigned char *out,
		     size_t n, int *present, const char *what, struct sk_err *err)
{
	const char *s;
	int rc = nullable ? sk_cjson_get_str_or_null(obj, key, &s, err)
			  : sk_cjson_get_str(obj, key, &s, err);
	if (rc)
		return sk_err_wrap(err, "%s", what);
	if (present)
		*present = s != NULL;
	if (s && (strlen(s) != 2 * n || sk_unhex(s, out, n) < 0))
		return sk_err_set(err, SK_EINVAL, NULL, "%s: \"%s\" must be %zu lowercase hex digits",
				  what, key, 2 * n);
	return 0;
}

int sk_cjson_only_keys(const json_t *obj, const char *const *allowed, const char *what,
		       struct sk_err *err)
{
	if (!json_is_object(obj))
		return sk_err_set(err, SK_EINVAL, NULL, "%s must be an object", what);
	for (void *it = json_object_iter((json_t *)obj); it;
	     it = json_object_iter_next((json_t *)obj, it)) {
		const char *key = json_object_iter_key(it);
		int ok = 0;
		for (size_t i = 0; allowed[i] && !ok; i++)
			ok = strlen(key) == json_object_iter_key_len(it) &&
			     strcmp(key, allowed[i]) == 0;
		char q[80];
		if (!ok)
			return sk_err_set(err, SK_EINVAL,
					  "a newer skiff may have written it; upgrade to read it",
					  "unknown key \"%s\" in %s",
					  sk_cjson_quote(key, json_object_iter_key_len(it), q, sizeof(q)),
					  what);
	}
	return 0;
}
