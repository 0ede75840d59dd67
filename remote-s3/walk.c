/*
 * Object children (walk.h) and a set of ids. Membership is a linear scan:
 * the sets hold what one push or fetch moves, and the scan is cheap next
 * to the I/O for each member.
 */
#include "remote-s3/walk.h"

#include <stdlib.h>
#include <string.h>

#include "objects/cjson.h"
#include "objects/file.h"
#include "objects/release.h"
#include "objects/signature.h"
#include "objects/state.h"
#include "ops/opdoc.h"

int sk_oidset_add(struct sk_oidset *s, const struct sk_oid *oid, struct sk_err *err)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 64;
		struct sk_oid *nv = realloc(s->v, nc * sizeof(*nv));
		if (!nv)
			return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
		s->v = nv;
		s->cap = nc;
	}
	s->v[s->n++] = *oid;
	return 0;
}

int sk_oidset_has(const struct sk_oidset *s, const struct sk_oid *oid)
{
	for (size_t i = 0; i < s->n; i++)
		if (sk_oid_cmp(&s->v[i], oid) == 0)
			return 1;
	return 0;
}

void sk_oidset_free(struct sk_oidset *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int commit_kids(const json_t *doc, struct sk_oidset *kids, struct sk_err *err)
{
	struct sk_commit c;
	int rc = sk_commit_from_json(&c, doc, err);
	if (!rc)
		rc = sk_oidset_add(kids, &c.control, err);
	if (!rc && c.has_parent)
		rc = sk_oidset_add(kids, &c.parent, err);
	return rc;
}

static int release_kids(const void *payload, size_t len, struct sk_oidset *kids,
			struct sk_err *err)
{
	struct sk_release *r = NULL;
	int rc = sk_release_parse(&r, payload, len, err);
	for (size_t i = 0; !rc && i < r->nartifacts; i++)
		rc = sk_oidset_add(kids, &r->artifacts[i].file, err);
	sk_release_free(r);
	return rc;
}

static int file_kids(const json_t *doc, struct sk_oidset *kids, struct sk_err *err)
{
	struct sk_file *f = NULL;
	int rc = sk_file_from_json(&f, doc, err);
	for (size_t i = 0; !rc && i < f->nchunks; i++)
		rc = sk_oidset_add(kids, &f->chunks[i].oid, err);
	sk_file_free(f);
	return rc;
}

static int add_hex(struct sk_oidset *kids, const json_t *v, struct sk_err *err)
{
	struct sk_oid oid;
	if (!json_is_string(v))
		return 0; /* null: the end of a chain */
	int rc = sk_oid_fromhex(&oid, json_string_value(v), err);
	return rc ? rc : sk_oidset_add(kids, &oid, err);
}

/* operation -> its event chain's head and the approvals it recorded */
static int operation_kids(const json_t *doc, struct sk_oidset *kids, struct sk_err *err)
{
	int rc = sk_operation_check(doc, err);
	if (!rc)
		rc = add_hex(kids, json_object_get(doc, "event"), err);
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(doc, "approvals"), i, v)
		if (!rc)
			rc = add_hex(kids, v, err);
	return rc;
}

static int event_kids(const json_t *doc, struct sk_oidset *kids, struct sk_err *err)
{
	int rc = sk_event_check(doc, err);
	return rc ? rc : add_hex(kids, json_object_get(doc, "prev"), err);
}

int sk_walk_children(enum sk_otype t, const void *payload, size_t len, struct sk_oidset *kids,
		     struct sk_err *err)
{
	if (t != SK_OBJ_COMMIT && t != SK_OBJ_SIGNATURE && t != SK_OBJ_RELEASE && t != SK_OBJ_FILE &&
	    t != SK_OBJ_OPERATION && t != SK_OBJ_EVENT)
		return 0;
	if (t == SK_OBJ_RELEASE)
		return release_kids(payload, len, kids, err);
	json_t *doc = NULL;
	int rc = sk_cjson_parse(payload, len, &doc, err);
	if (!rc && t == SK_OBJ_COMMIT)
		rc = commit_kids(doc, kids, err);
	else if (!rc && t == SK_OBJ_FILE)
		rc = file_kids(doc, kids, err);
	else if (!rc && t == SK_OBJ_OPERATION)
		rc = operation_kids(doc, kids, err);
	else if (!rc && t == SK_OBJ_EVENT)
		rc = event_kids(doc, kids, err);
	else if (!rc) {
		struct sk_signature s;
		if ((rc = sk_signature_from_json(&s, doc, err)) == 0)
			rc = sk_oidset_add(kids, &s.release, err);
	}
	json_decref(doc);
	return rc;
}
