/*
 * Release specs (see spec.h and skiff-spec(5)). The YAML is read with
 * libfyaml into a jansson tree typed by the YAML 1.2 core schema (plain
 * scalars become null, booleans, integers or floats; quoted ones are
 * always strings), remembering where each key and value stood. One
 * table-driven walker then checks that tree against the schema below and
 * builds the compiled form; the same walker, keyed by the compiled names,
 * checks a compiled spec read back from a release document, so the two
 * can never disagree about what is valid.
 *
 * Refused on purpose: anchors, aliases and tags (a reviewer must see in
 * the file exactly what is compiled, and aliases invite expansion bombs),
 * several documents, duplicate keys, NUL bytes, files over SK_SPEC_MAX,
 * and unknown keys anywhere (a typo must not silently mean a default).
 * Never does I/O; never keeps the caller's buffer.
 */
#include "objects/spec.h"

#include <errno.h>
#include <libfyaml.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objects/cjson.h"

#define MAX_DEPTH 16
#define MAX_TEXT 4096
#define DAY_MS (86400LL * 1000)

struct mark {
	int line, col; /* 1-based; 0 when unknown */
};

/* Where the key and value of parent[key] (or parent[idx]) stood. */
struct mark_ent {
	const json_t *parent;
	char *key; /* NULL for list items */
	size_t idx;
	struct mark k, v;
};

struct ctx {
	const char *name; /* file name; NULL when checking a compiled spec */
	struct mark_ent *marks;
	size_t nmarks, cap;
	struct mark here; /* the container being walked */
	char path[256];
	size_t plen;
	struct sk_err *err;
};

static int vfail(struct ctx *c, const struct mark *m, const char *hint, const char *fmt,
		 va_list ap)
{
	char msg[SK_ERR_MSG];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	const char *sep = c->plen ? ": " : "";
	const char *path = c->plen ? c->path : "";
	if (!c->name)
		return sk_err_set(c->err, SK_EINVAL, hint, "%s%s%s", path, sep, msg);
	if (!m || m->line == 0)
		m = &c->here;
	return sk_err_set(c->err, SK_EINVAL, hint ? hint : "see skiff-spec(5)", "%s:%d:%d: %s%s%s",
			  c->name, m->line, m->col, path, sep, msg);
}

static int fail(struct ctx *c, const struct mark *m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct ctx *c, const struct mark *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = vfail(c, m, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

static int fail_hint(struct ctx *c, const struct mark *m, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail_hint(struct ctx *c, const struct mark *m, const char *hint, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = vfail(c, m, hint, fmt, ap);
	va_end(ap);
	return rc;
}

static size_t append(struct ctx *c, const char *piece)
{
	size_t old = c->plen, n = strlen(piece);
	if (n > sizeof(c->path) - 1 - old)
		n = sizeof(c->path) - 1 - old;
	/* keys come from the file: keep messages printable ASCII */
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)piece[i];
		c->path[old + i] = ch < 0x20 || ch >= 0x7f ? '?' : (char)ch;
	}
	c->plen = old + n;
	c->path[c->plen] = '\0';
	return old;
}

static size_t push_key(struct ctx *c, const char *key)
{
	size_t old = c->plen;
	if (old)
		append(c, ".");
	append(c, key);
	return old;
}

static size_t push_idx(struct ctx *c, size_t i)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "[%zu]", i);
	return append(c, buf);
}

static void pop(struct ctx *c, size_t old)
{
	c->plen = old;
	c->path[old] = '\0';
}

static const struct mark_ent *lookup(const struct ctx *c, const json_t *parent, const char *key,
				     size_t idx)
{
	for (size_t i = 0; i < c->nmarks; i++) {
		const struct mark_ent *e = &c->marks[i];
		if (e->parent == parent &&
		    (key ? e->key && strcmp(e->key, key) == 0 : !e->key && e->idx == idx))
			return e;
	}
	return NULL;
}

static struct mark val_mark(const struct ctx *c, const json_t *parent, const char *key,
			    size_t idx)
{
	const struct mark_ent *e = lookup(c, parent, key, idx);
	return e ? e->v : c->here;
}

static struct mark key_mark(const struct ctx *c, const json_t *parent, const char *key)
{
	const struct mark_ent *e = lookup(c, parent, key, 0);
	return e ? e->k : c->here;
}

static void ctx_free(struct ctx *c)
{
	for (size_t i = 0; i < c->nmarks; i++)
		free(c->marks[i].key);
	free(c->marks);
}

/* ---- YAML to a typed jansson tree ---------------------------------- */

static struct mark token_mark(struct fy_token *t, struct mark dflt)
{
	const struct fy_mark *fm = t ? fy_token_start_mark(t) : NULL;
	if (!fm)
		return dflt;
	return (struct mark){ fm->line + 1, fm->column + 1 };
}

static int note(struct ctx *c, const json_t *parent, const char *key, size_t idx, struct mark k,
		struct mark v)
{
	if (c->nmarks == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct mark_ent *m = realloc(c->marks, cap * sizeof(*m));
		if (!m)
			return sk_err_set(c->err, SK_ENOMEM, NULL, "out of memory reading the spec");
		c->marks = m;
		c->cap = cap;
	}
	char *kd = key ? strdup(key) : NULL;
	if (key && !kd)
		return sk_err_set(c->err, SK_ENOMEM, NULL, "out of memory reading the spec");
	c->marks[c->nmarks++] = (struct mark_ent){ parent, kd, idx, k, v };
	return 0;
}

static int is_one_of(const char *s, size_t n, const char *const *words)
{
	for (; *words; words++)
		if (strlen(*words) == n && memcmp(*words, s, n) == 0)
			return 1;
	return 0;
}

static int all_digits(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* YAML 1.2 core schema float: [-+]?(.[0-9]+|[0-9]+(.[0-9]*)?)([eE][-+]?[0-9]+)? or .inf/.nan */
static int looks_float(const char *s, size_t n)
{
	static const char *const special[] = { ".inf", ".Inf", ".INF", "-.inf", "-.Inf", "-.INF",
					       "+.inf", "+.Inf", "+.INF", ".nan", ".NaN", ".NAN",
					       NULL };
	if (is_one_of(s, n, special))
		return 1;
	size_t i = 0, d = 0;
	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++, d++;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, d++;
	}
	if (d == 0)
		return 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		if (!all_digits(s + i, n - i))
			return 0;
		i = n;
	}
	return i == n;
}

static int plain_scalar(struct ctx *c, const char *s, size_t n, struct mark m, json_t **out)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
	static const char *const trues[] = { "true", "True", "TRUE", NULL };
	static const char *const falses[] = { "false", "False", "FALSE", NULL };
	if (is_one_of(s, n, nulls))
		*out = json_null();
	else if (is_one_of(s, n, trues))
		*out = json_true();
	else if (is_one_of(s, n, falses))
		*out = json_false();
	else if (all_digits(s + (n && (s[0] == '-' || s[0] == '+')), n - (n && (s[0] == '-' || s[0] == '+')))) {
		char buf[32];
		if (n >= sizeof(buf))
			return fail(c, &m, "integer out of range");
		memcpy(buf, s, n);
		buf[n] = '\0';
		errno = 0;
		long long v = strtoll(buf, NULL, 10);
		if (errno)
			return fail(c, &m, "integer out of range");
		*out = json_integer(v);
	} else if (looks_float(s, n))
		*out = json_real(0.5); /* only its type matters: floats are never accepted */
	else
		*out = json_stringn(s, n);
	return 0;
}

static int conv(struct ctx *c, struct fy_node *n, struct mark at, int depth, json_t **out);

static int node_mark(struct fy_node *n, struct mark dflt, struct mark *out);

static int conv_scalar(struct ctx *c, struct fy_node *n, struct mark m, json_t **out)
{
	size_t len = 0;
	const char *s = fy_node_get_scalar(n, &len);
	if (!s)
		s = "", len = 0;
	if (memchr(s, '\0', len))
		return fail(c, &m, "NUL characters are not allowed");
	if (fy_node_get_style(n) == FYNS_PLAIN) {
		int rc = plain_scalar(c, s, len, m, out);
		if (rc)
			return rc;
	} else {
		*out = json_stringn(s, len);
	}
	if (!*out)
		return fail(c, &m, "not valid UTF-8");
	return 0;
}

static int conv_mapping(struct ctx *c, struct fy_node *n, struct mark at, int depth,
			json_t **out)
{
	json_t *o = json_object();
	if (!o)
		return sk_err_set(c->err, SK_ENOMEM, NULL, "out of memory reading the spec");
	void *it = NULL;
	struct fy_node_pair *p;
	int rc = 0;
	while (!rc && (p = fy_node_mapping_iterate(n, &it)) != NULL) {
		struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
		struct mark km = at, vm;
		rc = node_mark(k, at, &km);
		if (rc || !k || fy_node_get_type(k) != FYNT_SCALAR || fy_node_is_alias(k)) {
			rc = fail(c, &km, "keys must be plain strings");
			break;
		}
		if (fy_node_get_tag(k, NULL) || fy_node_get_anchor(k)) {
			rc = fail(c, &km, "tags and anchors are not allowed");
			break;
		}
		size_t klen = 0;
		const char *ks = fy_node_get_scalar(k, &klen);
		char key[128];
		if (!ks || klen == 0 || klen >= sizeof(key) || memchr(ks, '\0', klen)) {
			rc = fail(c, &km, "keys must be 1..127 bytes without NUL");
			break;
		}
		memcpy(key, ks, klen);
		key[klen] = '\0';
		char q[80];
		sk_cjson_quote(key, klen, q, sizeof(q));
		if (json_object_get(o, key)) {
			rc = fail(c, &km, "duplicate key \"%s\"", q);
			break;
		}
		rc = node_mark(v, km, &vm);
		json_t *jv = NULL;
		size_t old = push_key(c, key);
		if (!rc)
			rc = conv(c, v, vm, depth + 1, &jv);
		if (!rc)
			pop(c, old);
		if (!rc && json_object_set_new(o, key, jv))
			rc = fail(c, &km, "key \"%s\" is not valid UTF-8", q);
		if (!rc)
			rc = note(c, o, key, 0, km, vm);
	}
	if (rc) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

static int conv_sequence(struct ctx *c, struct fy_node *n, struct mark at, int depth,
			 json_t **out)
{
	json_t *a = json_array();
	if (!a)
		return sk_err_set(c->err, SK_ENOMEM, NULL, "out of memory reading the spec");
	void *it = NULL;
	struct fy_node *v;
	int rc = 0;
	size_t i = 0;
	while (!rc && (v = fy_node_sequence_iterate(n, &it)) != NULL) {
		struct mark vm;
		json_t *jv = NULL;
		rc = node_mark(v, at, &vm);
		size_t old = push_idx(c, i);
		if (!rc)
			rc = conv(c, v, vm, depth + 1, &jv);
		if (!rc)
			pop(c, old);
		if (!rc && json_array_append_new(a, jv))
			rc = sk_err_set(c->err, SK_ENOMEM, NULL, "out of memory reading the spec");
		if (!rc)
			rc = note(c, a, NULL, i++, vm, vm);
	}
	if (rc) {
		json_decref(a);
		return rc;
	}
	*out = a;
	return 0;
}

/* A collection has no token of its own here: its first scalar stands in. */
static int node_mark(struct fy_node *n, struct mark dflt, struct mark *out)
{
	*out = dflt;
	for (int guard = 0; n && guard < 64; guard++) {
		if (fy_node_get_type(n) == FYNT_SCALAR) {
			*out = token_mark(fy_node_get_scalar_token(n), dflt);
			return 0;
		}
		void *it = NULL;
		if (fy_node_get_type(n) == FYNT_MAPPING) {
			struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
			n = p ? fy_node_pair_key(p) : NULL;
		} else {
			n = fy_node_sequence_iterate(n, &it);
		}
	}
	return 0;
}

static int conv(struct ctx *c, struct fy_node *n, struct mark at, int depth, json_t **out)
{
	*out = NULL;
	if (depth > MAX_DEPTH)
		return fail(c, &at, "nested more than %d levels deep", MAX_DEPTH);
	if (!n) {
		*out = json_null();
		return 0;
	}
	if (fy_node_is_alias(n))
		return fail_hint(c, &at, "write the value out in full",
				 "aliases are not allowed in a spec");
	if (fy_node_get_anchor(n))
		return fail_hint(c, &at, "remove the &anchor", "anchors are not allowed in a spec");
	if (fy_node_get_tag(n, NULL))
		return fail_hint(c, &at, "remove the !tag; quote a value to make it a string",
				 "tags are not allowed in a spec");
	switch (fy_node_get_type(n)) {
	case FYNT_MAPPING:
		return conv_mapping(c, n, at, depth, out);
	case FYNT_SEQUENCE:
		return conv_sequence(c, n, at, depth, out);
	default:
		return conv_scalar(c, n, at, out);
	}
}

static void silent(struct fy_diag *d, void *user, const char *buf, size_t len)
{
}

/* The first error libfyaml collected, as "NAME:L:C: message". */
static int yaml_error(struct ctx *c, struct fy_diag *diag, const char *fallback)
{
	void *it = NULL;
	struct fy_diag_error *e = diag ? fy_diag_errors_iterate(diag, &it) : NULL;
	char q[200];
	if (!e || !e->msg)
		return sk_err_set(c->err, SK_EINVAL, "check the YAML syntax", "%s: %s", c->name,
				  fallback);
	sk_cjson_quote(e->msg, strlen(e->msg), q, sizeof(q));
	/* collected diagnostics are already 1-based, unlike fy_mark */
	return sk_err_set(c->err, SK_EINVAL, "check the YAML syntax", "%s:%d:%d: %s", c->name,
			  e->line, e->column, q);
}

static int load_yaml(struct ctx *c, const char *buf, size_t len, json_t **root)
{
	struct fy_diag_cfg dcfg;
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = silent;
	dcfg.colorize = false;
	struct fy_diag *diag = fy_diag_create(&dcfg);
	if (!diag)
		return sk_err_set(c->err, SK_ENOMEM, NULL, "out of memory reading the spec");
	fy_diag_set_collect_errors(diag, true);
	struct fy_parse_cfg cfg = { .flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 |
					     FYPCF_JSON_NONE | FYPCF_DISABLE_MMAP_OPT |
					     /* conv_mapping refuses them, naming key and path */
					     FYPCF_ALLOW_DUPLICATE_KEYS,
				    .diag = diag };
	struct fy_parser *fyp = fy_parser_create(&cfg);
	int rc = 0;
	if (!fyp || fy_parser_set_string(fyp, buf, len) != 0) {
		rc = sk_err_set(c->err, SK_ENOMEM, NULL, "cannot start the YAML parser");
		goto out;
	}
	struct fy_document *fyd = fy_parse_load_document(fyp);
	if (!fyd || fy_diag_got_error(diag)) {
		rc = yaml_error(c, diag, fyd ? "invalid YAML" : "no YAML document");
		fy_parse_document_destroy(fyp, fyd);
		goto out;
	}
	struct fy_document *second = fy_parse_load_document(fyp);
	if (second || fy_diag_got_error(diag)) {
		const struct fy_mark *m = second ? fy_document_state_start_mark(
							   fy_document_get_document_state(second))
						 : NULL;
		struct mark sm = { m ? m->line + 1 : 0, m ? m->column + 1 : 0 };
		if (second)
			rc = fail_hint(c, &sm, "keep one spec per file",
				       "a spec holds exactly one YAML document");
		else
			rc = yaml_error(c, diag, "invalid YAML");
		fy_parse_document_destroy(fyp, second);
		fy_parse_document_destroy(fyp, fyd);
		goto out;
	}
	c->here = (struct mark){ 1, 1 };
	struct fy_node *top = fy_document_root(fyd);
	node_mark(top, c->here, &c->here);
	rc = conv(c, top, c->here, 1, root);
	fy_parse_document_destroy(fyp, fyd);
out:
	if (fyp)
		fy_parser_destroy(fyp);
	fy_diag_destroy(diag);
	return rc;
}

/* ---- Units ---------------------------------------------------------- */

/* "30s", "5m", "1h30m", "250ms", "2h": units in decreasing order, each at
 * most once; a bare number is seconds. Result in milliseconds, <= 30 days. */
static int parse_duration(const char *s, size_t n, long long *ms)
{
	static const struct {
		const char *unit;
		long long ms;
	} units[] = { { "h", 3600000 }, { "m", 60000 }, { "s", 1000 }, { "ms", 1 } };
	if (all_digits(s, n) && n <= 9) {
		*ms = strtoll(s, NULL, 10) * 1000;
		return *ms <= 30 * DAY_MS ? 0 : -1;
	}
	long long total = 0;
	size_t i = 0, next = 0;
	if (n == 0)
		return -1;
	while (i < n) {
		long long v = 0;
		size_t d = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9' && d < 10)
			v = v * 10 + (s[i++] - '0'), d++;
		if (d == 0 || d == 10)
			return -1;
		size_t u = next;
		while (u < 4) {
			size_t ul = strlen(units[u].unit);
			/* "m" must not swallow the "m" of "ms" */
			if (i + ul <= n && memcmp(s + i, units[u].unit, ul) == 0 &&
			    !(ul == 1 && s[i] == 'm' && i + 1 < n && s[i + 1] == 's'))
				break;
			u++;
		}
		if (u == 4)
			return -1;
		total += v * units[u].ms;
		if (total > 30 * DAY_MS)
			return -1;
		i += strlen(units[u].unit);
		next = u + 1;
	}
	*ms = total;
	return 0;
}

/* "1%", "0.5%", "12.25%": at most two decimals; result in basis points. */
static int parse_rate(const char *s, size_t n, long long *bp)
{
	if (n < 2 || s[n - 1] != '%')
		return -1;
	n--;
	size_t dot = n;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '.') {
			dot = i;
			break;
		}
	if (dot == 0 || dot > 3 || !all_digits(s, dot))
		return -1;
	long long v = strtoll(s, NULL, 10) * 100;
	if (dot < n) {
		size_t fd = n - dot - 1;
		if (fd < 1 || fd > 2 || !all_digits(s + dot + 1, fd))
			return -1;
		long long f = (s[dot + 1] - '0') * 10 + (fd == 2 ? s[dot + 2] - '0' : 0);
		v += f;
	}
	*bp = v;
	return 0;
}

/* ---- String checks ---------------------------------------------------- */

typedef int (*strcheck_fn)(struct ctx *, const char *, size_t, const struct mark *);

static int no_controls(struct ctx *c, const char *s, size_t n, size_t max,
		       const struct mark *m)
{
	if (n > max)
		return fail(c, m, "longer than %zu bytes", max);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return fail(c, m, "control character 0x%02x at byte %zu", (unsigned char)s[i],
				    i);
	return 0;
}

static int check_text(struct ctx *c, const char *s, size_t n, const struct mark *m)
{
	if (n == 0)
		return fail(c, m, "must not be empty");
	return no_controls(c, s, n, MAX_TEXT, m);
}

static int check_arg(struct ctx *c, const char *s, size_t n, const struct mark *m)
{
	return no_controls(c, s, n, MAX_TEXT, m);
}

static int check_pattern(struct ctx *c, const char *s, size_t n, const struct mark *m)
{
	if (n == 0)
		return fail(c, m, "must not be empty");
	return no_controls(c, s, n, 256, m);
}

static int check_service(struct ctx *c, const char *s, size_t n, const struct mark *m)
{
	struct sk_err e;
	if (sk_spec_component_check(s, SK_SPEC_NAME_MAX, "service", &e) == 0)
		return 0;
	return fail_hint(c, m, e.hint, "%s", e.message);
}

static int env_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > 64 || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

int sk_spec_env_name_check(const char *s, const char *what, struct sk_err *err)
{
	if (env_name_ok(s, strlen(s)))
		return 0;
	return sk_err_set(err, SK_EINVAL,
			  "names are 1..64 of [A-Za-z0-9_], not starting with a digit",
			  "invalid %s \"%.64s\"", what, s);
}

static int check_env_name(struct ctx *c, const char *s, size_t n, const struct mark *m)
{
	char q[80];
	if (env_name_ok(s, n))
		return 0;
	return fail_hint(c, m, "names are 1..64 of [A-Za-z0-9_], not starting with a digit",
			 "invalid variable name \"%s\"", sk_cjson_quote(s, n, q, sizeof(q)));
}

static int printable_nospace(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

static int check_secret_ref(struct ctx *c, const char *s, size_t n, const struct mark *m)
{
	static const char *const hint =
		"a secret is a reference, never a value: file:/abs/path, env:NAME or aws-sm:ID";
	char q[80];
	sk_cjson_quote(s, n, q, sizeof(q));
	if (n > 512 || !printable_nospace(s, n))
		return fail_hint(c, m, hint, "invalid secret reference \"%s\"", q);
	if (n > 5 && memcmp(s, "file:", 5) == 0 && s[5] == '/' && !strstr(s, "/../"))
		return 0;
	if (n > 4 && memcmp(s, "env:", 4) == 0 && env_name_ok(s + 4, n - 4))
		return 0;
	if (n > 7 && memcmp(s, "aws-sm:", 7) == 0)
		return 0;
	return fail_hint(c, m, hint, "invalid secret reference \"%s\"", q);
}

static int check_http_path(struct ctx *c, const char *s, size_t n, const struct mark *m)
{
	if (n == 0 || s[0] != '/' || n > 1024 || !printable_nospace(s, n))
		return fail_hint(c, m, "for example /healthz",
				 "must be an absolute URL path of printable characters");
	return 0;
}

static int check_abs_path(struct ctx *c, const char *s, size_t n, const struct mark *m)
{
	int rc = check_text(c, s, n, m);
	if (rc)
		return rc;
	int dotdot = (n >= 3 && memcmp(s + n - 3, "/..", 3) == 0) || memmem(s, n, "/../", 4);
	if (s[0] != '/' || dotdot)
		return fail(c, m, "must be an absolute path without \"..\"");
	return 0;
}

static int check_network(struct ctx *c, const char *s, size_t n, const struct mark *m)
{
	static const char *const hint = "for example db.internal:5432, 10.0.0.0/8:443 or *:53";
	const char *colon = n ? memrchr(s, ':', n) : NULL;
	char q[80];
	sk_cjson_quote(s, n, q, sizeof(q));
	if (!colon || colon == s || n > 260)
		return fail_hint(c, m, hint, "\"%s\" is not HOST:PORT", q);
	for (const char *p = s; p < colon; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr(".-_*/:[]", *p)))
			return fail_hint(c, m, hint, "\"%s\": bad character in host", q);
	const char *port = colon + 1;
	size_t pl = n - (size_t)(port - s);
	if (pl == 1 && port[0] == '*')
		return 0;
	if (!all_digits(port, pl) || pl > 5 || strtol(port, NULL, 10) < 1 ||
	    strtol(port, NULL, 10) > 65535)
		return fail_hint(c, m, hint, "\"%s\": port must be 1..65535 or *", q);
	return 0;
}

/* ---- The schema walker -------------------------------------------------- */

enum kind { K_STR, K_INT, K_BOOL, K_DUR_S, K_DUR_MS, K_RATE_BP, K_OBJ, K_LIST_STR, K_LIST_OBJ,
	    K_MAP_STR };

#define F_REQ 1
#define F_DEF 2 /* absent: the default is compiled in (so a compiled spec has it) */

struct field;
typedef int (*sub_fn)(struct ctx *, const json_t *, json_t **);

struct field {
	const char *name, *cname;
	enum kind kind;
	int flags;
	long long min, max, dflt; /* range in compiled units; list/map: item counts */
	strcheck_fn check;        /* strings; map values */
	strcheck_fn keycheck;     /* map keys */
	sub_fn sub;               /* objects; list items */
};

static const char *what(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "a mapping";
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction or exponent";
	case JSON_TRUE:
	case JSON_FALSE:
		return "true or false";
	default:
		return "null";
	}
}

static int type_error(struct ctx *c, const struct mark *m, const char *want, const json_t *v)
{
	return fail(c, m, "must be %s, not %s", want, what(v));
}

static int range(struct ctx *c, const struct mark *m, long long v, const struct field *f,
		 const char *unit)
{
	if (v < f->min)
		return fail(c, m, "must be at least %lld%s", f->min, unit);
	if (v > f->max)
		return fail(c, m, "must be at most %lld%s", f->max, unit);
	return 0;
}

static int do_string(struct ctx *c, const json_t *v, const struct mark *m, strcheck_fn check,
		     json_t **out)
{
	if (!json_is_string(v))
		return type_error(c, m, "a string", v);
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	int rc = check ? check(c, s, n, m) : 0;
	if (!rc)
		*out = json_stringn(s, n);
	return rc;
}

static int do_duration(struct ctx *c, const struct field *f, const json_t *v,
		       const struct mark *m, json_t **out)
{
	int secs = f->kind == K_DUR_S;
	const char *unit = secs ? " seconds" : " milliseconds";
	long long val;
	if (!c->name || json_is_integer(v)) {
		if (!json_is_integer(v))
			return type_error(c, m, "an integer", v);
		val = json_integer_value(v);
		if (c->name) { /* a bare number in a spec is seconds */
			if (val < 0 || val > 30 * 86400)
				return fail(c, m, "duration out of range");
			val = secs ? val : val * 1000;
		}
	} else if (json_is_string(v)) {
		long long ms;
		char q[64];
		const char *s = json_string_value(v);
		if (parse_duration(s, json_string_length(v), &ms) < 0)
			return fail_hint(c, m, "write durations like 30s, 5m, 1h30m, 250ms or a "
					 "number of seconds; at most 30 days",
					 "bad duration \"%s\"", sk_cjson_quote(s, json_string_length(v), q, sizeof(q)));
		if (secs && ms % 1000)
			return fail(c, m, "must be a whole number of seconds");
		val = secs ? ms / 1000 : ms;
	} else {
		return type_error(c, m, "a duration", v);
	}
	int rc = range(c, m, val, f, unit);
	if (!rc)
		*out = json_integer(val);
	return rc;
}

static int do_rate(struct ctx *c, const struct field *f, const json_t *v, const struct mark *m,
		   json_t **out)
{
	long long bp;
	if (!c->name) {
		if (!json_is_integer(v))
			return type_error(c, m, "an integer", v);
		bp = json_integer_value(v);
	} else {
		char q[64];
		if (!json_is_string(v))
			return type_error(c, m, "a percentage such as \"1%\"", v);
		const char *s = json_string_value(v);
		if (parse_rate(s, json_string_length(v), &bp) < 0)
			return fail_hint(c, m, "write rates as a percentage with at most two "
					 "decimals, e.g. 1% or 0.25%",
					 "bad rate \"%s\"", sk_cjson_quote(s, json_string_length(v), q, sizeof(q)));
	}
	int rc = range(c, m, bp, f, " basis points");
	if (!rc)
		*out = json_integer(bp);
	return rc;
}

static int do_sub(struct ctx *c, const struct field *f, const json_t *v, const struct mark *m,
		  json_t **out)
{
	if (!json_is_object(v))
		return type_error(c, m, "a mapping", v);
	struct mark saved = c->here;
	c->here = *m;
	int rc = f->sub(c, v, out);
	c->here = saved;
	return rc;
}

static int do_list(struct ctx *c, const struct field *f, const json_t *v, const struct mark *m,
		   json_t **out)
{
	if (!json_is_array(v))
		return type_error(c, m, "a list", v);
	size_t n = json_array_size(v);
	if ((long long)n < f->min)
		return fail(c, m, "must have at least %lld item%s", f->min, f->min == 1 ? "" : "s");
	if ((long long)n > f->max)
		return fail(c, m, "must have at most %lld items", f->max);
	json_t *a = json_array();
	int rc = a ? 0 : sk_err_set(c->err, SK_ENOMEM, NULL, "out of memory");
	for (size_t i = 0; !rc && i < n; i++) {
		size_t old = push_idx(c, i);
		struct mark im = val_mark(c, v, NULL, i);
		json_t *item = NULL;
		if (f->kind == K_LIST_STR)
			rc = do_string(c, json_array_get(v, i), &im, f->check, &item);
		else
			rc = do_sub(c, f, json_array_get(v, i), &im, &item);
		if (!rc && json_array_append_new(a, item))
			rc = sk_err_set(c->err, SK_ENOMEM, NULL, "out of memory");
		pop(c, old);
	}
	if (rc) {
		json_decref(a);
		return rc;
	}
	*out = a;
	return 0;
}

static int do_map(struct ctx *c, const struct field *f, const json_t *v, const struct mark *m,
		  json_t **out)
{
	if (!json_is_object(v))
		return type_error(c, m, "a mapping", v);
	if ((long long)json_object_size(v) > f->max)
		return fail(c, m, "must have at most %lld entries", f->max);
	json_t *o = json_object();
	int rc = o ? 0 : sk_err_set(c->err, SK_ENOMEM, NULL, "out of memory");
	const char *k;
	json_t *item;
	json_object_foreach((json_t *)v, k, item) {
		if (rc)
			break;
		size_t old = push_key(c, k);
		struct mark km = key_mark(c, v, k), vm = val_mark(c, v, k, 0);
		json_t *s = NULL;
		rc = f->keycheck(c, k, strlen(k), &km);
		if (!rc)
			rc = do_string(c, item, &vm, f->check, &s);
		if (!rc && json_object_set_new(o, k, s))
			rc = sk_err_set(c->err, SK_ENOMEM, NULL, "out of memory");
		pop(c, old);
	}
	if (rc) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

static int do_value(struct ctx *c, const struct field *f, const json_t *v, const struct mark *m,
		    json_t **out)
{
	switch (f->kind) {
	case K_STR:
		return do_string(c, v, m, f->check, out);
	case K_INT:
		if (!json_is_integer(v))
			return type_error(c, m, "an integer", v);
		*out = json_integer(json_integer_value(v));
		return range(c, m, json_integer_value(v), f, "");
	case K_BOOL:
		if (!json_is_boolean(v))
			return type_error(c, m, "true or false", v);
		*out = json_boolean(json_is_true(v));
		return 0;
	case K_DUR_S:
	case K_DUR_MS:
		return do_duration(c, f, v, m, out);
	case K_RATE_BP:
		return do_rate(c, f, v, m, out);
	case K_OBJ:
		return do_sub(c, f, v, m, out);
	case K_LIST_STR:
	case K_LIST_OBJ:
		return do_list(c, f, v, m, out);
	default:
		return do_map(c, f, v, m, out);
	}
}

static json_t *default_value(struct ctx *c, const struct field *f, int *rc)
{
	json_t *empty = NULL, *out = NULL;
	switch (f->kind) {
	case K_BOOL:
		return json_boolean(f->dflt);
	case K_OBJ:
		empty = json_object();
		*rc = empty ? f->sub(c, empty, &out) : SK_ENOMEM;
		json_decref(empty);
		return out;
	case K_LIST_STR:
	case K_LIST_OBJ:
		return json_array();
	case K_MAP_STR:
		return json_object();
	default:
		return json_integer(f->dflt);
	}
}

static const char *key_of(const struct ctx *c, const struct field *f)
{
	return c->name ? f->name : f->cname;
}

static int unknown_keys(struct ctx *c, const json_t *in, const struct field *fields,
			const char *const *extra)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)in, k, v) {
		int ok = 0;
		for (const struct field *f = fields; f->name && !ok; f++)
			ok = strcmp(k, key_of(c, f)) == 0;
		for (const char *const *e = extra; e && *e && !ok; e++)
			ok = strcmp(k, *e) == 0;
		if (ok)
			continue;
		char hint[SK_ERR_HINT] = "allowed here:", q[80];
		for (const struct field *f = fields; f->name; f++) {
			size_t l = strlen(hint);
			snprintf(hint + l, sizeof(hint) - l, " %s", key_of(c, f));
		}
		struct mark km = key_mark(c, in, k);
		return fail_hint(c, &km, hint, "unknown key \"%s\"",
				 sk_cjson_quote(k, strlen(k), q, sizeof(q)));
	}
	return 0;
}

static int walk(struct ctx *c, const json_t *in, const struct field *fields,
		const char *const *extra, json_t **out)
{
	int rc = unknown_keys(c, in, fields, extra);
	json_t *o = rc ? NULL : json_object();
	if (!rc && !o)
		rc = sk_err_set(c->err, SK_ENOMEM, NULL, "out of memory");
	for (const struct field *f = fields; !rc && f->name; f++) {
		const char *key = key_of(c, f);
		const json_t *v = json_object_get(in, key);
		json_t *val = NULL;
		size_t old = push_key(c, key);
		if (!v && ((f->flags & F_REQ) || (!c->name && (f->flags & F_DEF)))) {
			pop(c, old);
			rc = fail(c, &c->here, "missing required key \"%s\"", key);
			break;
		}
		if (v) {
			struct mark vm = val_mark(c, in, key, 0);
			rc = do_value(c, f, v, &vm, &val);
		} else if (f->flags & F_DEF) {
			val = default_value(c, f, &rc);
		} else {
			pop(c, old);
			continue;
		}
		pop(c, old);
		if (!rc && (!val || json_object_set_new(o, f->cname, val)))
			rc = sk_err_set(c->err, SK_ENOMEM, NULL, "out of memory");
		else if (rc)
			json_decref(val);
	}
	if (rc) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

/* ---- The schema ------------------------------------------------------------ */

#define STR(n, fl, chk) { n, n, K_STR, fl, 0, 0, 0, chk, NULL, NULL }
#define INT(n, fl, lo, hi, d) { n, n, K_INT, fl, lo, hi, d, NULL, NULL, NULL }
#define END { NULL, NULL, K_STR, 0, 0, 0, 0, NULL, NULL, NULL }

static int sub_run(struct ctx *c, const json_t *in, json_t **out)
{
	static const struct field f[] = {
		STR("command", F_REQ, check_text),
		{ "args", "args", K_LIST_STR, F_DEF, 0, 256, 0, check_arg, NULL, NULL },
		{ "env", "env", K_MAP_STR, F_DEF, 0, 256, 0, check_arg, check_env_name, NULL },
		INT("port", F_REQ, 1, 65535, 0),
		END,
	};
	return walk(c, in, f, NULL, out);
}

static int sub_health(struct ctx *c, const json_t *in, json_t **out)
{
	static const struct field f[] = {
		STR("path", F_REQ, check_http_path),
		{ "interval", "interval_ms", K_DUR_MS, F_DEF, 1000, DAY_MS, 10000, NULL, NULL, NULL },
		{ "timeout", "timeout_ms", K_DUR_MS, F_DEF, 1, 3600000, 2000, NULL, NULL, NULL },
		INT("healthy_threshold", F_DEF, 1, 100, 2),
		INT("unhealthy_threshold", F_DEF, 1, 100, 3),
		END,
	};
	int rc = walk(c, in, f, NULL, out);
	if (rc)
		return rc;
	json_int_t iv = json_integer_value(json_object_get(*out, "interval_ms"));
	json_int_t tv = json_integer_value(json_object_get(*out, "timeout_ms"));
	if (tv > iv) {
		const char *key = c->name ? "timeout" : "timeout_ms";
		struct mark m = val_mark(c, in, key, 0);
		size_t old = push_key(c, key);
		rc = fail(c, &m, "must not be longer than the interval (%lld ms)", (long long)iv);
		pop(c, old);
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

static int sub_step(struct ctx *c, const json_t *in, json_t **out)
{
	static const struct field f[] = {
		INT("weight", F_REQ, 1, 100, 0),
		{ "bake", "bake_s", K_DUR_S, F_REQ, 0, 7 * 86400, 0, NULL, NULL, NULL },
		END,
	};
	return walk(c, in, f, NULL, out);
}

static int sub_log_pattern(struct ctx *c, const json_t *in, json_t **out)
{
	static const struct field f[] = {
		STR("pattern", F_REQ, check_pattern),
		INT("max", F_DEF, 0, 1000000000, 0),
		END,
	};
	return walk(c, in, f, NULL, out);
}

static int sub_gates(struct ctx *c, const json_t *in, json_t **out)
{
	static const struct field f[] = {
		{ "max_error_rate", "max_error_rate_bp", K_RATE_BP, F_DEF, 0, 10000, 100, NULL, NULL,
		  NULL },
		{ "max_latency", "max_latency_ms", K_DUR_MS, 0, 1, 600000, 0, NULL, NULL, NULL },
		INT("min_requests", F_DEF, 0, 1000000000, 100),
		{ "log_patterns", "log_patterns", K_LIST_OBJ, F_DEF, 0, 32, 0, NULL, NULL,
		  sub_log_pattern },
		END,
	};
	return walk(c, in, f, NULL, out);
}

/* Weights only ever grow: a step that sends less traffic than the one
 * before it is almost certainly a typo, and would confuse the rollout. */
static int check_weights(struct ctx *c, const json_t *in, const json_t *steps)
{
	const json_t *in_steps = json_object_get(in, "steps");
	long long prev = 0;
	for (size_t i = 0; i < json_array_size(steps); i++) {
		long long w = json_integer_value(json_object_get(json_array_get(steps, i), "weight"));
		if (w > prev) {
			prev = w;
			continue;
		}
		size_t old = push_key(c, "steps");
		push_idx(c, i);
		push_key(c, "weight");
		struct mark m = val_mark(c, json_array_get(in_steps, i), "weight", 0);
		int rc = fail_hint(c, &m, "canary weights must grow strictly from step to step",
				   "must be greater than %lld", prev);
		pop(c, old);
		return rc;
	}
	return 0;
}

static int sub_canary(struct ctx *c, const json_t *in, json_t **out)
{
	static const struct field f[] = {
		{ "steps", "steps", K_LIST_OBJ, F_REQ, 1, 20, 0, NULL, NULL, sub_step },
		{ "gates", "gates", K_OBJ, F_DEF, 0, 0, 0, NULL, NULL, sub_gates },
		{ "auto_rollback", "auto_rollback", K_BOOL, F_DEF, 0, 0, 1, NULL, NULL, NULL },
		END,
	};
	int rc = walk(c, in, f, NULL, out);
	if (!rc && (rc = check_weights(c, in, json_object_get(*out, "steps"))) != 0) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

static int sub_permissions(struct ctx *c, const json_t *in, json_t **out)
{
	static const struct field f[] = {
		{ "network", "network", K_LIST_STR, F_DEF, 0, 64, 0, check_network, NULL, NULL },
		{ "paths", "paths", K_LIST_STR, F_DEF, 0, 64, 0, check_abs_path, NULL, NULL },
		END,
	};
	return walk(c, in, f, NULL, out);
}

static int sub_backup(struct ctx *c, const json_t *in, json_t **out)
{
	static const struct field f[] = {
		{ "command", "command", K_LIST_STR, F_REQ, 1, 64, 0, check_arg, NULL, NULL },
		{ "max_age", "max_age_s", K_DUR_S, F_REQ, 60, 30 * 86400, 0, NULL, NULL, NULL },
		END,
	};
	return walk(c, in, f, NULL, out);
}

static int sub_restore(struct ctx *c, const json_t *in, json_t **out)
{
	static const struct field f[] = {
		{ "command", "command", K_LIST_STR, F_REQ, 1, 64, 0, check_arg, NULL, NULL },
		{ "validate", "validate", K_LIST_STR, 0, 1, 64, 0, check_arg, NULL, NULL },
		END,
	};
	return walk(c, in, f, NULL, out);
}

static const struct field top_fields[] = {
	STR("service", F_REQ, check_service),
	{ "run", "run", K_OBJ, F_REQ, 0, 0, 0, NULL, NULL, sub_run },
	{ "health", "health", K_OBJ, F_REQ, 0, 0, 0, NULL, NULL, sub_health },
	{ "canary", "canary", K_OBJ, 0, 0, 0, 0, NULL, NULL, sub_canary },
	{ "secrets", "secrets", K_MAP_STR, F_DEF, 0, 64, 0, check_secret_ref, check_env_name,
	  NULL },
	{ "permissions", "permissions", K_OBJ, F_DEF, 0, 0, 0, NULL, NULL, sub_permissions },
	{ "stateful", "stateful", K_BOOL, F_DEF, 0, 0, 0, NULL, NULL, NULL },
	{ "backup", "backup", K_OBJ, 0, 0, 0, 0, NULL, NULL, sub_backup },
	{ "restore", "restore", K_OBJ, 0, 0, 0, 0, NULL, NULL, sub_restore },
	END,
};

/* Secrets reach the workload as environment variables too: one name must
 * not mean two things. */
static int check_env_secrets(struct ctx *c, const json_t *in, const json_t *spec)
{
	const json_t *env = json_object_get(json_object_get(spec, "run"), "env");
	const json_t *sec = json_object_get(spec, "secrets");
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)sec, k, v) {
		if (!json_object_get(env, k))
			continue;
		struct mark m = key_mark(c, json_object_get(in, "secrets"), k);
		size_t old = push_key(c, "secrets");
		push_key(c, k);
		int rc = fail_hint(c, &m, "rename the secret or the run.env entry",
				   "also set in run.env");
		pop(c, old);
		return rc;
	}
	return 0;
}

static int check_top(struct ctx *c, const json_t *in, const char *const *extra, json_t **out)
{
	if (!json_is_object(in))
		return type_error(c, &c->here, "a mapping", in);
	int rc = walk(c, in, top_fields, extra, out);
	if (!rc && (rc = check_env_secrets(c, in, *out)) != 0) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

/* YAML directives (%YAML, %TAG) are refused before libfyaml sees them:
 * %TAG only serves tags, which a spec may not use, and libfyaml 0.7.12
 * loops forever scanning some malformed directives (the fuzz corpus keeps
 * one: tests/fuzz/corpus/fuzz_spec/hang-directive). So no line may start
 * with '%'; quote or indent such text. */
static int no_directives(struct ctx *c, const char *buf, size_t len)
{
	int line = 1;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '%' && (i == 0 || buf[i - 1] == '\n' || buf[i - 1] == '\r')) {
			struct mark m = { line, 1 };
			return fail_hint(c, &m, "remove the directive, or indent or quote the text",
					 "YAML directives (lines starting with '%%') are not allowed");
		}
		if (buf[i] == '\n')
			line++;
	}
	return 0;
}

/* A spec is UTF-8 text, checked whole before libfyaml sees it: libfyaml's
 * own handling of malformed bytes is less well trodden (the fuzzer found
 * it leaking scanner buffers on invalid UTF-8 inside long quoted runs), and
 * an error here can say so plainly. jansson's string check is the project's
 * one UTF-8 validator. */
static int whole_utf8(struct ctx *c, const char *buf, size_t len)
{
	json_t *t = json_stringn(buf, len);
	if (t) {
		json_decref(t);
		return 0;
	}
	struct mark m = { 1, 1 };
	return fail_hint(c, &m, "save the spec as UTF-8", "the spec is not valid UTF-8 text");
}

int sk_spec_compile(const char *name, const void *buf, size_t len, json_t **spec,
		    struct sk_err *err)
{
	struct ctx c;
	memset(&c, 0, sizeof(c));
	c.name = name && *name ? name : "spec";
	c.err = err;
	*spec = NULL;
	if (len > SK_SPEC_MAX)
		return sk_err_set(err, SK_EINVAL, "a spec is a short file; keep it under 64 KiB",
				  "%s: %zu bytes is over the limit of %u", c.name, len, SK_SPEC_MAX);
	if (memchr(buf, '\0', len))
		return sk_err_set(err, SK_EINVAL, NULL, "%s: contains a NUL byte", c.name);
	int rc = no_directives(&c, buf, len);
	if (rc == 0)
		rc = whole_utf8(&c, buf, len);
	json_t *root = NULL;
	if (!rc)
		rc = load_yaml(&c, buf, len, &root);
	if (!rc)
		rc = check_top(&c, root, NULL, spec);
	json_decref(root);
	ctx_free(&c);
	return rc;
}

int sk_spec_check_compiled(const json_t *doc, const char *const *extra, struct sk_err *err)
{
	struct ctx c;
	memset(&c, 0, sizeof(c));
	c.err = err;
	json_t *out = NULL;
	int rc = check_top(&c, doc, extra, &out);
	if (rc)
		return rc;
	/* Reject anything the compiler would not have printed (e.g. an
	 * integer where a default sits, but also any normalisation we do). */
	json_t *strip = json_deep_copy(doc);
	for (const char *const *e = extra; strip && e && *e; e++)
		json_object_del(strip, *e);
	int same = strip && json_equal(strip, out);
	json_decref(strip);
	json_decref(out);
	if (!same)
		return sk_err_set(err, SK_EINVAL, NULL, "not in compiled form");
	return 0;
}

static int ref_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '-';
}

int sk_spec_component_check(const char *s, size_t max, const char *what_, struct sk_err *err)
{
	static const char *const hint =
		"use 1..64 of [A-Za-z0-9._-], not starting with '.' or '-', without \"..\"";
	size_t n = s ? strlen(s) : 0;
	char q[80];
	sk_cjson_quote(s ? s : "", n, q, sizeof(q));
	if (n == 0)
		return sk_err_set(err, SK_EINVAL, hint, "%s must not be empty", what_);
	if (n > max)
		return sk_err_set(err, SK_EINVAL, hint, "%s \"%s\" is longer than %zu bytes", what_,
				  q, max);
	if (s[0] == '.' || s[0] == '-')
		return sk_err_set(err, SK_EINVAL, hint, "%s \"%s\" must not start with '%c'", what_,
				  q, s[0]);
	if (strstr(s, ".."))
		return sk_err_set(err, SK_EINVAL, hint, "%s \"%s\" must not contain \"..\"", what_,
				  q);
	for (size_t i = 0; i < n; i++)
		if (!ref_char(s[i]))
			return sk_err_set(err, SK_EINVAL, hint,
					  "%s \"%s\": character 0x%02x is not allowed", what_, q,
					  (unsigned char)s[i]);
	return 0;
}

int sk_spec_duration_ms(const char *s, long long *ms, struct sk_err *err)
{
	if (parse_duration(s, strlen(s), ms) < 0)
		return sk_err_set(err, SK_EINVAL, "write durations like 30s, 5m, 1h30m, 250ms",
				  "bad duration \"%.64s\"", s);
	return 0;
}
