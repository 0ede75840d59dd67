/*
 * Secretref documents (see secretref.h). The reader is strict: a document
 * that passes it is one `skiff secret set` or a rotation could have
 * written, because runners read it from a control another machine wrote.
 */
#include "objects/secretref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objects/cjson.h"
#include "objects/spec.h"

static const char *const keys[] = { "actor",	   "created", "name",	 "prev", "provider",
				    "ref",	   "revoke_hook", "service", "v",    "version",
				    NULL };
static const char *const providers[] = { "file", "env", "aws-sm", NULL };

static int one_of(const char *const *list, const char *s)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

static int bad(struct sk_err *err, const char *field, const char *what)
{
	return sk_err_set(err, SK_EINVAL, NULL, "secretref: \"%s\" must be %s", field, what);
}

/* Printable ASCII without spaces: a ref lands in messages and reports. */
static int printable_nospace(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/* An absolute path without "." or ".." components or empty ones. */
static int clean_abs_path(const char *p)
{
	if (p[0] != '/' || p[1] == '\0')
		return 0;
	for (const char *c = p + 1;;) {
		const char *e = strchr(c, '/');
		size_t n = e ? (size_t)(e - c) : strlen(c);
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		if (!e)
			return 1;
		c = e + 1;
	}
}

int sk_secretref_check_ref(const char *provider, const char *ref, struct sk_err *err)
{
	static const char *const hint =
		"a secret is a reference, never a value: file:/abs/path, env:NAME (aws-sm:ID later)";
	char q[80];
	size_t n = strlen(ref);
	sk_cjson_quote(ref, n, q, sizeof(q));
	if (n == 0 || n > SK_SECRETREF_REF_MAX || !printable_nospace(ref))
		return sk_err_set(err, SK_EINVAL, hint, "invalid %s reference \"%s\"", provider, q);
	if (strcmp(provider, "file") == 0 && !clean_abs_path(ref))
		return sk_err_set(err, SK_EINVAL, hint,
				  "a file: reference is an absolute path without . or .. (got \"%s\")",
				  q);
	int rc = strcmp(provider, "env") == 0 ? sk_spec_env_name_check(ref, "env: reference", err)
					      : 0;
	if (rc)
		return rc;
	if (strcmp(provider, "file") && strcmp(provider, "env") && strcmp(provider, "aws-sm"))
		return sk_err_set(err, SK_EUSAGE, hint, "unknown secret provider \"%.16s\"",
				  provider);
	return 0;
}

int sk_secretref_parse_spec(const char *spec, char *provider, char *ref, struct sk_err *err)
{
	const char *colon = strchr(spec, ':');
	char q[40];
	if (!colon || colon == spec || (size_t)(colon - spec) > 7) {
		sk_cjson_quote(spec, colon ? (size_t)(colon - spec) : strlen(spec), q, sizeof(q));
		return sk_err_set(err, SK_EUSAGE, "providers: file:/abs/path, env:NAME",
				  "unknown secret provider \"%s\" (give PROVIDER:REF)", q);
	}
	memcpy(provider, spec, (size_t)(colon - spec));
	provider[colon - spec] = '\0';
	if (!one_of(providers, provider)) {
		sk_cjson_quote(provider, strlen(provider), q, sizeof(q));
		return sk_err_set(err, SK_EUSAGE, "providers: file:/abs/path, env:NAME",
				  "unknown secret provider \"%s\"", q);
	}
	if (strlen(colon + 1) > SK_SECRETREF_REF_MAX)
		return sk_err_set(err, SK_EINVAL, NULL, "a secret reference is at most %d bytes",
				  SK_SECRETREF_REF_MAX);
	strcpy(ref, colon + 1);
	return sk_secretref_check_ref(provider, ref, err);
}

int sk_secretref_check_hook(const json_t *hook, struct sk_err *err)
{
	if (!json_is_array(hook) || json_array_size(hook) < 1 ||
	    json_array_size(hook) > SK_SECRETREF_HOOK_MAX)
		return bad(err, "revoke_hook", "null or an array of 1..32 arguments");
	for (size_t i = 0; i < json_array_size(hook); i++) {
		const json_t *a = json_array_get(hook, i);
		if (!json_is_string(a) || json_string_length(a) < 1 ||
		    json_string_length(a) > SK_SECRETREF_HOOK_ARG_MAX ||
		    strlen(json_string_value(a)) != json_string_length(a))
			return bad(err, "revoke_hook", "arguments of 1..512 bytes without NUL");
	}
	if (json_string_value(json_array_get(hook, 0))[0] != '/')
		return bad(err, "revoke_hook", "a command given by absolute path");
	return 0;
}

json_t *sk_secretref_to_json(const struct sk_secretref *s)
{
	char prev[SK_OID_HEXSZ + 1];
	return json_pack("{s:s, s:I, s:s, s:s?, s:s, s:s, s:O?, s:s, s:i, s:I}", "actor", s->actor,
			 "created", (json_int_t)s->created, "name", s->name, "prev",
			 s->has_prev ? sk_oid_tohex(&s->prev, prev) : NULL, "provider", s->provider,
			 "ref", s->ref, "revoke_hook", s->hook, "service", s->service, "v", 1,
			 "version", (json_int_t)s->version);
}

static int get_strings(struct sk_secretref *out, const json_t *doc, struct sk_err *err)
{
	const char *svc, *name, *prov, *ref;
	int rc = sk_cjson_get_str(doc, "service", &svc, err);
	if (!rc)
		rc = sk_spec_component_check(svc, SK_SPEC_NAME_MAX, "service", err);
	if (!rc && !(rc = sk_cjson_get_str(doc, "name", &name, err)))
		rc = sk_spec_env_name_check(name, "secret name", err);
	if (!rc && !(rc = sk_cjson_get_str(doc, "provider", &prov, err)) &&
	    !one_of(providers, prov))
		rc = bad(err, "provider", "file, env or aws-sm");
	if (!rc && !(rc = sk_cjson_get_str(doc, "ref", &ref, err)) &&
	    strlen(ref) != json_string_length(json_object_get(doc, "ref")))
		rc = bad(err, "ref", "text without NUL");
	if (!rc)
		rc = sk_secretref_check_ref(prov, ref, err);
	if (rc)
		return rc;
	snprintf(out->service, sizeof(out->service), "%s", svc);
	snprintf(out->name, sizeof(out->name), "%s", name);
	snprintf(out->provider, sizeof(out->provider), "%s", prov);
	snprintf(out->ref, sizeof(out->ref), "%s", ref);
	return 0;
}

static int get_numbers(struct sk_secretref *out, const json_t *doc, struct sk_err *err)
{
	long long v = 0, t = 0, ver = 0;
	unsigned char actor[SK_KEYID_HEXSZ / 2];
	int rc = sk_cjson_get_int(doc, "v", &v, err);
	if (!rc && v != 1)
		rc = bad(err, "v", "1");
	if (!rc && !(rc = sk_cjson_get_int(doc, "created", &t, err)) && t < 0)
		rc = bad(err, "created", "a non-negative integer");
	if (!rc && !(rc = sk_cjson_get_int(doc, "version", &ver, err)) &&
	    (ver < 1 || ver > 1000000000LL))
		rc = bad(err, "version", "1..1000000000");
	if (!rc)
		rc = sk_cjson_get_hex(doc, "actor", 0, actor, sizeof(actor), NULL, "secretref", err);
	if (!rc)
		rc = sk_cjson_get_hex(doc, "prev", 1, out->prev.id, SK_OID_RAWSZ, &out->has_prev,
				      "secretref", err);
	/* the chain starts at version 1 and only there */
	if (!rc && out->has_prev != (ver > 1))
		rc = bad(err, "prev", "null exactly for version 1");
	if (rc)
		return rc;
	sk_hex(actor, sizeof(actor), out->actor);
	out->created = t;
	out->version = ver;
	return 0;
}

int sk_secretref_from_json(struct sk_secretref *out, const json_t *doc, struct sk_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!json_is_object(doc))
		return sk_err_set(err, SK_EINVAL, NULL, "secretref: not a JSON object");
	int rc = sk_cjson_only_keys(doc, keys, "secretref", err);
	for (size_t i = 0; !rc && keys[i]; i++)
		if (!json_object_get(doc, keys[i]))
			rc = bad(err, keys[i], "present");
	if (!rc)
		rc = get_numbers(out, doc, err);
	if (!rc)
		rc = get_strings(out, doc, err);
	const json_t *hook = json_object_get(doc, "revoke_hook");
	if (!rc && !json_is_null(hook) && !(rc = sk_secretref_check_hook(hook, err)))
		out->hook = json_deep_copy(hook);
	if (rc)
		sk_secretref_clear(out);
	return rc;
}

void sk_secretref_clear(struct sk_secretref *s)
{
	json_decref(s->hook);
	s->hook = NULL;
}

int sk_secretref_refname(char *buf, size_t n, const char *service, const char *name,
			 struct sk_err *err)
{
	int rc = sk_spec_component_check(service, SK_SPEC_NAME_MAX, "service", err);
	if (!rc)
		rc = sk_spec_env_name_check(name, "secret name", err);
	if (!rc && (size_t)snprintf(buf, n, "refs/secrets/%s/%s", service, name) >= n)
		rc = sk_err_set(err, SK_EINVAL, NULL, "secret ref name too long");
	return rc;
}
