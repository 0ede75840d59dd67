/*
 * The `release` object: an immutable, canonical JSON document saying what
 * to run (the compiled spec, see spec.h), which version it is, which
 * artifacts it needs and where it came from:
 *   {"artifacts":[{"file":OID,"name":…,"sha256":HEX,"size":N}],
 *    "backup":…,"canary":…,"health":…,"permissions":…,"restore":…,
 *    "run":…,"secrets":…,"service":…,
 *    "source":{"builder":…|null,"commit":HEX|null},
 *    "stateful":…,"v":1,"version":…}
 * (canary, backup and restore only when the spec has them.) `file` is the
 * id of the `file` object holding the artifact's chunks; sha256 is the
 * whole artifact's digest. Documents read from a remote or by a runner go
 * through sk_release_from_json, which accepts exactly what
 * sk_release_build produces.
 */
#ifndef SK_RELEASE_H
#define SK_RELEASE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "objects/oid.h"

#define SK_RELEASE_VERSION_MAX 64
#define SK_ARTIFACT_NAME_MAX 64
#define SK_RELEASE_MAX_ARTIFACTS 64
#define SK_RELEASE_BUILDER_MAX 256

struct sk_release_artifact {
	char name[SK_ARTIFACT_NAME_MAX + 1]; /* a ref component, unique in a release */
	uint64_t size;                       /* bytes, at most INT64_MAX */
	unsigned char sha256[32];            /* of the whole artifact */
	struct sk_oid file;                  /* the `file` object */
};

struct sk_release_source {
	const char *commit;  /* 40 or 64 lowercase hex digits, or NULL */
	const char *builder; /* free text (CI job URL, host), or NULL */
};

/* A validated release document. */
struct sk_release {
	char service[SK_RELEASE_VERSION_MAX + 1];
	char version[SK_RELEASE_VERSION_MAX + 1];
	size_t nartifacts;
	struct sk_release_artifact *artifacts; /* in document order */
	json_t *doc;                           /* the whole document (a reference) */
};

/* Checks a version: 1..64 of [A-Za-z0-9._-], no "..", not starting with
 * '.' or '-' (it becomes a ref component: refs/releases/<svc>/<version>). */
int sk_release_version_check(const char *version, struct sk_err *err);

/* Builds a release document (a new reference in *out) from a compiled
 * spec (sk_spec_compile), whose service must equal service; src may be
 * NULL. Everything is checked as sk_release_from_json would, so what this
 * returns always dumps canonically and validates. */
int sk_release_build(json_t **out, const char *service, const char *version, const json_t *spec,
		     const struct sk_release_artifact *arts, size_t n,
		     const struct sk_release_source *src, struct sk_err *err);

/* Strict validation of an untrusted release document: exact keys and
 * types everywhere, v == 1, version and artifact names valid, names
 * unique, hex fields of exact length, the spec parts in compiled form. */
int sk_release_from_json(struct sk_release **out, const json_t *doc, struct sk_err *err);
/* sk_cjson_parse + sk_release_from_json. */
int sk_release_parse(struct sk_release **out, const void *buf, size_t len, struct sk_err *err);
void sk_release_free(struct sk_release *r);

/* The artifact called name, or NULL. */
const struct sk_release_artifact *sk_release_artifact(const struct sk_release *r,
						      const char *name);

#endif
