/*
 * The trust policy document (see trust.h): parsing, building and the one
 * mutation (adding a grant). Decisions made with a policy live in
 * refs/trust.c.
 *
 * Invariants of a struct sk_trust that came from here: keys sorted by name
 * (so names are unique), no two keys with the same public key, each key id
 * equal to the first 16 hex digits of SHA-256(public key), grants sorted by
 * (role, scope) without duplicates, every role and pattern valid, rules in
 * document order (the first match decides), threshold >= 1. The document
 * is printed in that order, so a policy has exactly one canonical form.
 */
#include "objects/trust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objects/cjson.h"

#define THRESHOLD_MAX 1000
#define UNSCOPED "refs/**"

static const char *const roles[] = { "root", "release-signer", "operator", "approver",
				     "runner", NULL };

static const char *const policy_hint =
	"a policy is {\"approvals\":{\"threshold\":N},\"keys\":[…],\"rules\":[…],\"v\":1}; "
	"see skiff-objects(5)";

static const char *quote(const char *s, char *buf, size_t n)
{
	return sk_cjson_quote(s, strlen(s), buf, n);
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		abort();
	return p;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		abort();
	return p;
}

void sk_trust_key_id(const unsigned char pub[32], char out[SK_KEYID_HEXSZ + 1])
{
	unsigned char h[32];
	sk_sha256(pub, 32, h);
	sk_hex(h, SK_KEYID_HEXSZ / 2, out);
}

int sk_trust_role_valid(const char *role)
{
	for (size_t i = 0; role && roles[i]; i++)
		if (strcmp(role, roles[i]) == 0)
			return 1;
	return 0;
}

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

/* Key names follow refs/keys.h: 1..64 of [A-Za-z0-9._-], no leading '.'/'-'. */
static int key_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64 || s[0] == '.' || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!name_char(s[i]))
			return 0;
	return 1;
}

static const char *component_problem(const char *c, size_t len)
{
	if (len == 0)
		return "has an empty component";
	if (len == 2 && c[0] == '*' && c[1] == '*')
		return NULL;
	if (c[0] == '.' || c[0] == '-')
		return "has a component starting with '.' or '-'";
	for (size_t i = 0; i < len; i++) {
		if (c[i] == '*' && i + 1 < len && c[i + 1] == '*')
			return "uses '**' inside a component ('**' must be a whole component)";
		if (c[i] != '*' && !name_char(c[i]))
			return "contains a character outside [A-Za-z0-9._-*]";
	}
	return NULL;
}

static const char *pattern_problem(const char *p)
{
	if (strlen(p) > SK_REF_MAX)
		return "is longer than 255 bytes";
	if (strncmp(p, "refs/", 5) != 0)
		return "does not start with refs/";
	if (strstr(p, ".."))
		return "contains ..";
	for (const char *c = p + 5;;) {
		const char *slash = strchr(c, '/');
		size_t len = slash ? (size_t)(slash - c) : strlen(c);
		const char *why = component_problem(c, len);
		if (why || !slash)
			return why;
		c = slash + 1;
	}
}

int sk_trust_pattern_check(const char *pattern, struct sk_err *err)
{
	const char *why = pattern ? pattern_problem(pattern) : "is missing";
	if (!why)
		return 0;
	char q[96];
	return sk_err_set(err, SK_EINVAL,
			  "patterns are refs/ + components of [A-Za-z0-9._-] where '*' matches "
			  "within a component and a '**' component any number of them",
			  "invalid ref pattern \"%s\": it %s", quote(pattern ? pattern : "", q, sizeof(q)),
			  why);
}

/* --- freeing ------------------------------------------------------- */

static void key_clear(struct sk_trust_key *k)
{
	for (size_t i = 0; i < k->ngrants; i++) {
		free(k->grants[i].role);
		free(k->grants[i].scope);
	}
	free(k->grants);
	free(k->name);
}

void sk_trust_free(struct sk_trust *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nkeys; i++)
		key_clear(&t->keys[i]);
	for (size_t i = 0; i < t->nrules; i++) {
		for (size_t j = 0; j < t->rules[i].nroles; j++)
			free(t->rules[i].roles[j]);
		free(t->rules[i].roles);
		free(t->rules[i].pattern);
	}
	free(t->keys);
	free(t->rules);
	free(t);
}

/* --- parsing ------------------------------------------------------- */

static int grant_cmp(const struct sk_trust_grant *a, const struct sk_trust_grant *b)
{
	int c = strcmp(a->role, b->role);
	return c ? c : strcmp(a->scope, b->scope);
}

/* Reads a string field that must pass check (NULL: any string). */
static int get_checked(const json_t *o, const char *key, const char *what,
		       int (*check)(const char *), const char *bad, const char **out,
		       struct sk_err *err)
{
	int rc = sk_cjson_get_str(o, key, out, err);
	if (rc) {
		sk_err_wrap(err, "trust policy: %s", what);
		return rc;
	}
	char q[96];
	if (check && !check(*out))
		return sk_err_set(err, SK_EINVAL, policy_hint, "trust policy: %s: %s \"%s\"",
				  what, bad, quote(*out, q, sizeof(q)));
	return 0;
}

static int pattern_ok(const char *p)
{
	return pattern_problem(p) == NULL;
}

static int parse_grant(const json_t *g, const char *kname, struct sk_trust_grant *out,
		       struct sk_err *err)
{
	static const char *const keys[] = { "role", "scope", NULL };
	char what[96];
	snprintf(what, sizeof(what), "key %.64s: grant", kname);
	const char *role, *scope;
	int rc = sk_cjson_only_keys(g, keys, what, err);
	if (!rc)
		rc = get_checked(g, "role", what, sk_trust_role_valid, "unknown role", &role, err);
	if (!rc)
		rc = get_checked(g, "scope", what, pattern_ok, "invalid scope", &scope, err);
	if (rc)
		return rc;
	out->role = xstrdup(role);
	out->scope = xstrdup(scope);
	return 0;
}

static int parse_grants(const json_t *arr, struct sk_trust_key *k, struct sk_err *err)
{
	if (!json_is_array(arr))
		return sk_err_set(err, SK_EINVAL, policy_hint,
				  "trust policy: key %s: \"grants\" must be an array", k->name);
	k->grants = xcalloc(json_array_size(arr), sizeof(*k->grants));
	for (size_t i = 0; i < json_array_size(arr); i++) {
		int rc = parse_grant(json_array_get(arr, i), k->name, &k->grants[i], err);
		if (rc)
			return rc;
		k->ngrants++;
		if (i > 0 && grant_cmp(&k->grants[i - 1], &k->grants[i]) >= 0)
			return sk_err_set(err, SK_EINVAL, policy_hint,
					  "trust policy: key %s: grants must be sorted by role and "
					  "scope, without duplicates", k->name);
	}
	return 0;
}

static int parse_key(const json_t *o, struct sk_trust_key *k, struct sk_err *err)
{
	static const char *const keys[] = { "grants", "id", "name", "public", NULL };
	const char *name, *id, *pub;
	char q[48];
	int rc = sk_cjson_only_keys(o, keys, "trust policy key", err);
	if (!rc)
		rc = get_checked(o, "name", "key", key_name_ok, "invalid key name", &name, err);
	if (rc)
		return rc;
	k->name = xstrdup(name);
	rc = get_checked(o, "id", k->name, NULL, NULL, &id, err);
	if (!rc)
		rc = get_checked(o, "public", k->name, NULL, NULL, &pub, err);
	if (rc)
		return rc;
	if (sk_unhex(pub, k->pub, 32) < 0)
		return sk_err_set(err, SK_EINVAL, policy_hint,
				  "trust policy: key %s: \"public\" must be 64 lowercase hex digits",
				  k->name);
	sk_trust_key_id(k->pub, k->id);
	if (strcmp(id, k->id) != 0)
		return sk_err_set(err, SK_EINVAL, policy_hint,
				  "trust policy: key %s: id \"%s\" does not match its public key "
				  "(expected %s)", k->name, quote(id, q, sizeof(q)), k->id);
	return parse_grants(json_object_get(o, "grants"), k, err);
}

static int check_key_order(const struct sk_trust *t, size_t i, struct sk_err *err)
{
	for (size_t j = 0; j < i; j++)
		if (memcmp(t->keys[j].pub, t->keys[i].pub, 32) == 0)
			return sk_err_set(err, SK_EINVAL, policy_hint,
					  "trust policy: keys %s and %s have the same public key",
					  t->keys[j].name, t->keys[i].name);
	if (i > 0 && strcmp(t->keys[i - 1].name, t->keys[i].name) >= 0)
		return sk_err_set(err, SK_EINVAL, policy_hint,
				  "trust policy: keys must be sorted by name, without duplicates "
				  "(\"%s\" then \"%s\")", t->keys[i - 1].name, t->keys[i].name);
	return 0;
}

static int parse_keys(const json_t *arr, struct sk_trust *t, struct sk_err *err)
{
	if (!json_is_array(arr))
		return sk_err_set(err, SK_EINVAL, policy_hint,
				  "trust policy: \"keys\" must be an array");
	t->keys = xcalloc(json_array_size(arr), sizeof(*t->keys));
	for (size_t i = 0; i < json_array_size(arr); i++) {
		t->nkeys++;
		int rc = parse_key(json_array_get(arr, i), &t->keys[i], err);
		if (!rc)
			rc = check_key_order(t, i, err);
		if (rc)
			return rc;
	}
	return 0;
}

static int parse_roles(const json_t *arr, struct sk_trust_rule *r, struct sk_err *err)
{
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return sk_err_set(err, SK_EINVAL, policy_hint,
				  "trust policy: rule %s: \"roles\" must be a non-empty array",
				  r->pattern);
	r->roles = xcalloc(json_array_size(arr), sizeof(*r->roles));
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const char *role = json_string_value(json_array_get(arr, i));
		char q[48];
		if (!sk_trust_role_valid(role))
			return sk_err_set(err, SK_EINVAL, policy_hint,
					  "trust policy: rule %s: unknown role \"%s\"", r->pattern,
					  role ? quote(role, q, sizeof(q)) : "(not a string)");
		for (size_t j = 0; j < r->nroles; j++)
			if (strcmp(r->roles[j], role) == 0)
				return sk_err_set(err, SK_EINVAL, policy_hint,
						  "trust policy: rule %s: role %s listed twice",
						  r->pattern, role);
		r->roles[r->nroles++] = xstrdup(role);
	}
	return 0;
}

static int parse_rule(const json_t *o, struct sk_trust *t, struct sk_err *err)
{
	static const char *const keys[] = { "pattern", "roles", NULL };
	struct sk_trust_rule *r = &t->rules[t->nrules];
	const char *pattern;
	int rc = sk_cjson_only_keys(o, keys, "trust policy rule", err);
	if (!rc)
		rc = get_checked(o, "pattern", "rule", pattern_ok, "invalid pattern", &pattern, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < t->nrules; i++)
		if (strcmp(t->rules[i].pattern, pattern) == 0)
			return sk_err_set(err, SK_EINVAL, policy_hint,
					  "trust policy: two rules for pattern %s", pattern);
	r->pattern = xstrdup(pattern);
	t->nrules++;
	return parse_roles(json_object_get(o, "roles"), r, err);
}

static int parse_rules(const json_t *arr, struct sk_trust *t, struct sk_err *err)
{
	if (!json_is_array(arr))
		return sk_err_set(err, SK_EINVAL, policy_hint,
				  "trust policy: \"rules\" must be an array");
	t->rules = xcalloc(json_array_size(arr), sizeof(*t->rules));
	for (size_t i = 0; i < json_array_size(arr); i++) {
		int rc = parse_rule(json_array_get(arr, i), t, err);
		if (rc)
			return rc;
	}
	return 0;
}

static int parse_approvals(const json_t *o, struct sk_trust *t, struct sk_err *err)
{
	static const char *const keys[] = { "threshold", NULL };
	int rc = sk_cjson_only_keys(o, keys, "trust policy \"approvals\"", err);
	if (!rc)
		rc = sk_cjson_get_int(o, "threshold", &t->approval_threshold, err);
	if (rc) {
		sk_err_wrap(err, "trust policy: approvals");
		return rc;
	}
	if (t->approval_threshold < 1 || t->approval_threshold > THRESHOLD_MAX)
		return sk_err_set(err, SK_EINVAL, policy_hint,
				  "trust policy: approval threshold must be 1..%d", THRESHOLD_MAX);
	return 0;
}

int sk_trust_from_json(struct sk_trust **out, const json_t *doc, struct sk_err *err)
{
	static const char *const keys[] = { "approvals", "keys", "rules", "v", NULL };
	struct sk_trust *t = xcalloc(1, sizeof(*t));
	long long v = 0;
	int rc = sk_cjson_only_keys(doc, keys, "trust policy", err);
	if (!rc)
		rc = sk_cjson_get_int(doc, "v", &v, err);
	if (!rc && v != 1)
		rc = sk_err_set(err, SK_EINVAL, policy_hint, "trust policy: \"v\" must be 1");
	if (!rc)
		rc = parse_approvals(json_object_get(doc, "approvals"), t, err);
	if (!rc)
		rc = parse_keys(json_object_get(doc, "keys"), t, err);
	if (!rc)
		rc = parse_rules(json_object_get(doc, "rules"), t, err);
	if (rc) {
		sk_trust_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

/* --- printing ------------------------------------------------------ */

static int grant_ptr_cmp(const void *a, const void *b)
{
	return grant_cmp(*(const struct sk_trust_grant *const *)a,
			 *(const struct sk_trust_grant *const *)b);
}

static int key_ptr_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct sk_trust_key *const *)a)->name,
		      (*(const struct sk_trust_key *const *)b)->name);
}

static json_t *key_json(const struct sk_trust_key *k)
{
	/* Sorted here too, so a struct edited by hand still prints canonically. */
	const struct sk_trust_grant **gs = xcalloc(k->ngrants, sizeof(*gs));
	for (size_t i = 0; i < k->ngrants; i++)
		gs[i] = &k->grants[i];
	qsort(gs, k->ngrants, sizeof(*gs), grant_ptr_cmp);
	json_t *grants = json_array();
	for (size_t i = 0; i < k->ngrants; i++)
		json_array_append_new(grants, json_pack("{s:s,s:s}", "role", gs[i]->role, "scope",
							gs[i]->scope));
	free(gs);
	char pub[65];
	sk_hex(k->pub, 32, pub);
	return json_pack("{s:o,s:s,s:s,s:s}", "grants", grants, "id", k->id, "name", k->name,
			 "public", pub);
}

static json_t *rule_json(const struct sk_trust_rule *r)
{
	json_t *rs = json_array();
	for (size_t i = 0; i < r->nroles; i++)
		json_array_append_new(rs, json_string(r->roles[i]));
	return json_pack("{s:s,s:o}", "pattern", r->pattern, "roles", rs);
}

json_t *sk_trust_to_json(const struct sk_trust *t)
{
	const struct sk_trust_key **ks = xcalloc(t->nkeys, sizeof(*ks));
	for (size_t i = 0; i < t->nkeys; i++)
		ks[i] = &t->keys[i];
	qsort(ks, t->nkeys, sizeof(*ks), key_ptr_cmp);
	json_t *keys = json_array(), *rules = json_array();
	for (size_t i = 0; i < t->nkeys; i++)
		json_array_append_new(keys, key_json(ks[i]));
	free(ks);
	for (size_t i = 0; i < t->nrules; i++)
		json_array_append_new(rules, rule_json(&t->rules[i]));
	return json_pack("{s:{s:I},s:o,s:o,s:i}", "approvals", "threshold",
			 (json_int_t)t->approval_threshold, "keys", keys, "rules", rules, "v", 1);
}

/* --- building ------------------------------------------------------ */

static void add_rule(struct sk_trust *t, const char *pattern, const char *role)
{
	struct sk_trust_rule *r = &t->rules[t->nrules++];
	r->pattern = xstrdup(pattern);
	r->roles = xcalloc(1, sizeof(*r->roles));
	r->roles[0] = xstrdup(role);
	r->nroles = 1;
}

/* Inserts a grant keeping (role, scope) order; no-op when present. */
static void insert_grant(struct sk_trust_key *k, const char *role, const char *scope)
{
	struct sk_trust_grant g = { (char *)role, (char *)scope };
	size_t at = 0;
	while (at < k->ngrants && grant_cmp(&k->grants[at], &g) < 0)
		at++;
	if (at < k->ngrants && grant_cmp(&k->grants[at], &g) == 0)
		return;
	struct sk_trust_grant *ng = realloc(k->grants, (k->ngrants + 1) * sizeof(*ng));
	if (!ng)
		abort();
	memmove(ng + at + 1, ng + at, (k->ngrants - at) * sizeof(*ng));
	ng[at].role = xstrdup(role);
	ng[at].scope = xstrdup(scope);
	k->grants = ng;
	k->ngrants++;
}

/* Inserts a key without grants keeping name order; returns it. */
static struct sk_trust_key *insert_key(struct sk_trust *t, const char *name,
				       const unsigned char pub[32])
{
	size_t at = 0;
	while (at < t->nkeys && strcmp(t->keys[at].name, name) < 0)
		at++;
	struct sk_trust_key *nk = realloc(t->keys, (t->nkeys + 1) * sizeof(*nk));
	if (!nk)
		abort();
	memmove(nk + at + 1, nk + at, (t->nkeys - at) * sizeof(*nk));
	memset(&nk[at], 0, sizeof(nk[at]));
	nk[at].name = xstrdup(name);
	memcpy(nk[at].pub, pub, 32);
	sk_trust_key_id(pub, nk[at].id);
	t->keys = nk;
	t->nkeys++;
	return &nk[at];
}

struct sk_trust *sk_trust_new_initial(const char *keyid, const char *name,
				      const unsigned char pub[32])
{
	char id[SK_KEYID_HEXSZ + 1];
	sk_trust_key_id(pub, id);
	/* A key id that does not belong to pub would make the policy lie. */
	if (!name || !key_name_ok(name) || (keyid && strcmp(keyid, id) != 0))
		return NULL;
	struct sk_trust *t = xcalloc(1, sizeof(*t));
	t->approval_threshold = 1;
	struct sk_trust_key *k = insert_key(t, name, pub);
	insert_grant(k, "root", UNSCOPED);
	insert_grant(k, "operator", UNSCOPED);
	t->rules = xcalloc(9, sizeof(*t->rules));
	add_rule(t, "refs/meta/**", "root");
	add_rule(t, "refs/releases/*/*", "release-signer");
	add_rule(t, "refs/runners/*/*", "runner");
	add_rule(t, "refs/services/*", "operator");
	add_rule(t, "refs/operations/*", "operator");
	add_rule(t, "refs/approvals/**", "approver");
	add_rule(t, "refs/backups/**", "operator");
	add_rule(t, "refs/secrets/*", "operator");
	add_rule(t, "refs/**", "operator");
	return t;
}

int sk_trust_add_grant(struct sk_trust *t, const char *name, const unsigned char pub[32],
		       const char *role, const char *scope, struct sk_err *err)
{
	char q[96];
	if (!sk_trust_role_valid(role))
		return sk_err_set(err, SK_EINVAL,
				  "roles: root, release-signer, operator, approver, runner",
				  "unknown role \"%s\"", quote(role ? role : "", q, sizeof(q)));
	if (!scope)
		scope = UNSCOPED;
	int rc = sk_trust_pattern_check(scope, err);
	if (rc)
		return rc;
	if (!name || !key_name_ok(name))
		return sk_err_set(err, SK_EINVAL,
				  "key names are 1..64 of [A-Za-z0-9._-], not starting with '.' or '-'",
				  "invalid key name \"%s\"", quote(name ? name : "", q, sizeof(q)));
	for (size_t i = 0; i < t->nkeys; i++) {
		struct sk_trust_key *k = &t->keys[i];
		int same_pub = memcmp(k->pub, pub, 32) == 0;
		if (same_pub && strcmp(k->name, name) != 0)
			return sk_err_set(err, SK_EEXISTS, "grant the role to the existing name",
					  "this public key is already in the policy as \"%s\" (%s)",
					  k->name, k->id);
		if (!same_pub && strcmp(k->name, name) == 0)
			return sk_err_set(err, SK_EEXISTS,
					  "choose another name, or remove the old key first",
					  "the policy already has a different key named \"%s\" (%s)",
					  k->name, k->id);
		if (same_pub) {
			insert_grant(k, role, scope);
			return 0;
		}
	}
	insert_grant(insert_key(t, name, pub), role, scope);
	return 0;
}

const struct sk_trust_key *sk_trust_find_key(const struct sk_trust *t, const char *keyid)
{
	for (size_t i = 0; t && keyid && i < t->nkeys; i++)
		if (strcmp(t->keys[i].id, keyid) == 0)
			return &t->keys[i];
	return NULL;
}
