/*
 * Release documents (see release.h). One validator, sk_release_from_json,
 * decides what a release is; sk_release_build assembles a document and
 * runs it through that same validator, so a built release can never be
 * one a runner would refuse. The spec parts are checked by spec.c in
 * compiled form. Nothing here reads or writes the object store.
 */
#include "objects/release.h"

#include <stdlib.h>
#include <string.h>

#include "objects/cjson.h"
#include "objects/spec.h"

static const char *const own_keys[] = { "artifacts", "source", "v", "version", NULL };
static const char *const artifact_keys[] = { "file", "name", "sha256", "size", NULL };
static const char *const source_keys[] = { "builder", "commit", NULL };

static int in_release(int rc, struct sk_err *err)
{
	if (rc)
		sk_err_wrap(err, "release");
	return rc;
}

int sk_release_version_check(const char *version, struct sk_err *err)
{
	return sk_spec_component_check(version, SK_RELEASE_VERSION_MAX, "version", err);
}

static int get_hex(const json_t *o, const char *key, unsigned char *out, size_t n,
		   const char *what, struct sk_err *err)
{
	const char *s;
	int rc = sk_cjson_get_str(o, key, &s, err);
	if (rc)
		return rc;
	if (sk_unhex(s, out, n) < 0)
		return sk_err_set(err, SK_EINVAL, NULL, "%s: \"%s\" must be %zu lowercase hex digits",
				  what, key, 2 * n);
	return 0;
}

static int artifact_from_json(struct sk_release_artifact *a, const json_t *o, size_t i,
			      struct sk_err *err)
{
	char what[48];
	snprintf(what, sizeof(what), "artifacts[%zu]", i);
	if (!json_is_object(o))
		return sk_err_set(err, SK_EINVAL, NULL, "%s must be an object", what);
	int rc = sk_cjson_only_keys(o, artifact_keys, what, err);
	const char *name = NULL;
	long long size = 0;
	if (!rc)
		rc = sk_cjson_get_str(o, "name", &name, err);
	if (!rc)
		rc = sk_spec_component_check(name, SK_ARTIFACT_NAME_MAX, "artifact name", err);
	if (!rc)
		rc = sk_cjson_get_int(o, "size", &size, err);
	if (!rc && size < 0)
		rc = sk_err_set(err, SK_EINVAL, NULL, "%s: \"size\" must not be negative", what);
	if (!rc)
		rc = get_hex(o, "sha256", a->sha256, 32, what, err);
	if (!rc)
		rc = get_hex(o, "file", a->file.id, SK_OID_RAWSZ, what, err);
	if (rc)
		return rc;
	memcpy(a->name, name, strlen(name) + 1);
	a->size = (uint64_t)size;
	return 0;
}

static int artifacts_from_json(struct sk_release *r, const json_t *arr, struct sk_err *err)
{
	if (!json_is_array(arr))
		return sk_err_set(err, SK_EINVAL, NULL, "\"artifacts\" must be a list");
	size_t n = json_array_size(arr);
	if (n > SK_RELEASE_MAX_ARTIFACTS)
		return sk_err_set(err, SK_EINVAL, NULL, "more than %d artifacts",
				  SK_RELEASE_MAX_ARTIFACTS);
	r->artifacts = calloc(n ? n : 1, sizeof(*r->artifacts));
	if (!r->artifacts)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	for (size_t i = 0; i < n; i++) {
		int rc = artifact_from_json(&r->artifacts[i], json_array_get(arr, i), i, err);
		if (rc)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (strcmp(r->artifacts[j].name, r->artifacts[i].name) == 0)
				return sk_err_set(err, SK_EINVAL, "artifact names must be unique",
						  "artifacts[%zu]: duplicate name \"%s\"", i,
						  r->artifacts[i].name);
		r->nartifacts = i + 1;
	}
	return 0;
}

static int commit_ok(const char *s)
{
	size_t n = strlen(s);
	unsigned char raw[32];
	return (n == 40 || n == 64) && sk_unhex(s, raw, n / 2) == 0;
}

static int builder_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > SK_RELEASE_BUILDER_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int source_from_json(const json_t *o, struct sk_err *err)
{
	if (!json_is_object(o))
		return sk_err_set(err, SK_EINVAL, NULL, "\"source\" must be an object");
	const char *commit, *builder;
	int rc = sk_cjson_only_keys(o, source_keys, "source", err);
	if (!rc)
		rc = sk_cjson_get_str_or_null(o, "commit", &commit, err);
	if (!rc)
		rc = sk_cjson_get_str_or_null(o, "builder", &builder, err);
	if (rc)
		return rc;
	if (commit && !commit_ok(commit))
		return sk_err_set(err, SK_EINVAL, NULL,
				  "source.commit must be 40 or 64 lowercase hex digits");
	if (builder && !builder_ok(builder))
		return sk_err_set(err, SK_EINVAL, NULL,
				  "source.builder must be 1..%d bytes without control characters",
				  SK_RELEASE_BUILDER_MAX);
	return 0;
}

static int names_from_json(struct sk_release *r, const json_t *doc, struct sk_err *err)
{
	long long v = 0;
	const char *service, *version;
	int rc = sk_cjson_get_int(doc, "v", &v, err);
	if (!rc && v != 1)
		rc = sk_err_set(err, SK_EINVAL, NULL, "\"v\" must be 1");
	if (!rc)
		rc = sk_cjson_get_str(doc, "service", &service, err);
	if (!rc)
		rc = sk_cjson_get_str(doc, "version", &version, err);
	if (!rc)
		rc = sk_release_version_check(version, err);
	if (rc)
		return rc;
	/* service was checked with the spec parts: at most SK_SPEC_NAME_MAX */
	snprintf(r->service, sizeof(r->service), "%s", service);
	memcpy(r->version, version, strlen(version) + 1);
	return 0;
}

int sk_release_from_json(struct sk_release **out, const json_t *doc, struct sk_err *err)
{
	*out = NULL;
	if (!json_is_object(doc))
		return sk_err_set(err, SK_EINVAL, NULL, "release: must be a JSON object");
	struct sk_release *r = calloc(1, sizeof(*r));
	if (!r)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	int rc = sk_spec_check_compiled(doc, own_keys, err);
	if (!rc)
		rc = names_from_json(r, doc, err);
	if (!rc)
		rc = artifacts_from_json(r, json_object_get(doc, "artifacts"), err);
	if (!rc)
		rc = source_from_json(json_object_get(doc, "source"), err);
	if (!rc && !json_object_get(doc, "source"))
		rc = sk_err_set(err, SK_EINVAL, NULL, "missing \"source\"");
	if (rc) {
		sk_release_free(r);
		return in_release(rc, err);
	}
	r->doc = json_incref((json_t *)doc);
	*out = r;
	return 0;
}

int sk_release_parse(struct sk_release **out, const void *buf, size_t len, struct sk_err *err)
{
	json_t *doc = NULL;
	*out = NULL;
	int rc = sk_cjson_parse(buf, len, &doc, err);
	if (rc)
		return in_release(rc, err);
	rc = sk_release_from_json(out, doc, err);
	json_decref(doc);
	return rc;
}

void sk_release_free(struct sk_release *r)
{
	if (!r)
		return;
	free(r->artifacts);
	json_decref(r->doc);
	free(r);
}

const struct sk_release_artifact *sk_release_artifact(const struct sk_release *r,
						      const char *name)
{
	for (size_t i = 0; r && name && i < r->nartifacts; i++)
		if (strcmp(r->artifacts[i].name, name) == 0)
			return &r->artifacts[i];
	return NULL;
}

static json_t *hex_json(const unsigned char *raw, size_t n)
{
	char hex[2 * SK_OID_RAWSZ + 1];
	sk_hex(raw, n, hex);
	return json_string(hex);
}

static json_t *artifact_json(const struct sk_release_artifact *a)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	int bad = a->size > (uint64_t)INT64_MAX;
	bad |= json_object_set_new(o, "name",
				   json_stringn(a->name, strnlen(a->name, sizeof(a->name))));
	bad |= json_object_set_new(o, "size", json_integer((json_int_t)a->size));
	bad |= json_object_set_new(o, "sha256", hex_json(a->sha256, 32));
	bad |= json_object_set_new(o, "file", hex_json(a->file.id, SK_OID_RAWSZ));
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *source_json(const struct sk_release_source *src)
{
	json_t *o = json_object();
	const char *c = src ? src->commit : NULL, *b = src ? src->builder : NULL;
	if (o && (json_object_set_new(o, "commit", c ? json_string(c) : json_null()) ||
		  json_object_set_new(o, "builder", b ? json_string(b) : json_null()))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int add_parts(json_t *doc, const char *version, const struct sk_release_artifact *arts,
		     size_t n, const struct sk_release_source *src)
{
	json_t *a = json_array();
	int bad = !a || json_object_set_new(doc, "artifacts", a);
	for (size_t i = 0; !bad && i < n; i++)
		bad = json_array_append_new(a, artifact_json(&arts[i]));
	bad |= json_object_set_new(doc, "source", source_json(src));
	bad |= json_object_set_new(doc, "version", json_string(version));
	bad |= json_object_set_new(doc, "v", json_integer(1));
	return bad;
}

int sk_release_build(json_t **out, const char *service, const char *version, const json_t *spec,
		     const struct sk_release_artifact *arts, size_t n,
		     const struct sk_release_source *src, struct sk_err *err)
{
	*out = NULL;
	const char *svc = json_string_value(json_object_get(spec, "service"));
	int rc = sk_release_version_check(version, err);
	if (rc)
		return rc;
	if (!svc || !service || strcmp(svc, service) != 0)
		return sk_err_set(err, SK_EINVAL, "the spec's service must match the service named",
				  "the spec is for service \"%s\", not \"%s\"", svc ? svc : "",
				  service ? service : "");
	if (n > SK_RELEASE_MAX_ARTIFACTS)
		return sk_err_set(err, SK_EINVAL, NULL, "more than %d artifacts",
				  SK_RELEASE_MAX_ARTIFACTS);
	json_t *doc = json_deep_copy(spec);
	if (!doc || !json_is_object(doc) || add_parts(doc, version, arts, n, src)) {
		json_decref(doc);
		return sk_err_set(err, SK_EINVAL, NULL,
				  "release: a field is not valid UTF-8 or memory ran out");
	}
	struct sk_release *r = NULL;
	rc = sk_release_from_json(&r, doc, err);
	sk_release_free(r);
	if (rc) {
		json_decref(doc);
		return rc;
	}
	*out = doc;
	return 0;
}
